//! Security defects found by testing as a new user would (issue 18, points 6–10), each shown
//! through HTTP: tokens of a disabled user or client, redirect URIs that leave a wildcard's
//! prefix once decoded, introspection by a client outside the token's audience, a replayed
//! authorization code, and the bearer-token size limit.

use serde_json::{json, Value};

use crate::support::*;

/// The old bearer-token limit, which tokens the server issued went past.
const OLD_LIMIT: usize = 16 * 1024;
/// The one token size limit (`crypto::jws::MAX_TOKEN_LEN`).
const LIMIT: usize = 256 * 1024;

fn audience_mapper(to: &str) -> Value {
    json!({"name": format!("aud-{to}"), "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
           "config": {"included.client.audience": to, "access.token.claim": "true", "id.token.claim": "false"}})
}

fn realm() -> Value {
    json!({
        "realm": "sec",
        "clients": [
            {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": true,
             "redirectUris": ["https://web.example/cb"], "protocolMappers": [audience_mapper("api")]},
            {"clientId": "app2", "secret": "app2-secret", "redirectUris": ["https://app2.example/cb"]},
            {"clientId": "api", "secret": "api-secret", "standardFlowEnabled": false},
            {"clientId": "other", "secret": "other-secret", "standardFlowEnabled": false},
            {"clientId": "wild", "publicClient": true, "redirectUris": ["https://app.example/app/*"]}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}],
             "realmRoles": ["default-roles-sec"]},
            {"username": "bob", "firstName": "Bob", "lastName": "Tester", "email": "bob@example.com", "enabled": true, "credentials": [{"type": "password", "value": "bob-pw"}],
             "realmRoles": ["default-roles-sec"]}
        ]
    })
}

fn ep(server: &TestServer, p: &str) -> String {
    server.url(&format!("/realms/sec/protocol/openid-connect/{p}"))
}

/// A password grant at `web`: access and refresh token.
async fn web_tokens(server: &TestServer, user: &str, pw: &str) -> (String, String) {
    let (s, body) = password_grant(
        server,
        "sec",
        "web",
        Some("web-secret"),
        user,
        pw,
        &[("scope", "openid")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn introspect(server: &TestServer, caller: (&str, &str), token: &str) -> Value {
    let (s, body, _) = post_form(
        &ep(server, "token/introspect"),
        Some(caller),
        &[("token", token)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body
}

/// Userinfo with a bearer token: status and `error_description`.
async fn userinfo(server: &TestServer, token: &str) -> (u16, Value) {
    let (s, body, _) = call(
        server,
        "GET",
        "/realms/sec/protocol/openid-connect/userinfo",
        Some(token),
        None,
    )
    .await;
    (s, body)
}

async fn refresh(server: &TestServer, client: (&str, &str), token: &str) -> (u16, Value) {
    let (s, body, _) = post_form(
        &ep(server, "token"),
        Some(client),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await;
    (s, body)
}

/// The id of the only result of an Admin API search.
async fn admin_id(server: &TestServer, admin: &str, path: &str) -> String {
    let (s, body, _) = call(server, "GET", path, Some(admin), None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    body[0]["id"].as_str().unwrap().to_string()
}

/// Point 6 on two servers sharing a store (`a` and `b` are the same server on SQLite): the
/// user and the client are disabled through the Admin API of `b`, their tokens checked at `a`.
async fn disabled_holders(a: &TestServer, b: &TestServer) {
    let admin = admin_token(b).await;
    let (access, refresh_token) = web_tokens(a, "alice", "alice-pw").await;
    assert_eq!(
        introspect(a, ("api", "api-secret"), &access).await["active"],
        true
    );
    assert_eq!(userinfo(a, &access).await.0, 200);

    // The user is disabled: introspection, refresh and userinfo refuse at once, on every node.
    let alice = admin_id(
        b,
        &admin,
        "/admin/realms/sec/users?username=alice&exact=true",
    )
    .await;
    let user_path = format!("/admin/realms/sec/users/{alice}");
    let (s, body, _) = call(
        b,
        "PUT",
        &user_path,
        Some(&admin),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(
        introspect(a, ("api", "api-secret"), &access).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(a, ("web", "web-secret"), &refresh_token).await,
        json!({"active": false}),
        "the refresh token too"
    );
    let (s, body) = userinfo(a, &access).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    assert_eq!(body["error_description"], "User disabled");
    let (s, body) = refresh(a, ("web", "web-secret"), &refresh_token).await;
    assert_eq!(
        (
            s,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (400, Some("invalid_grant"), Some("User disabled")),
        "{body}"
    );
    // Enabled again: the session was kept, so its tokens work again (read live, not cached).
    let (s, _, _) = call(
        b,
        "PUT",
        &user_path,
        Some(&admin),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        introspect(a, ("api", "api-secret"), &access).await["active"],
        true
    );

    // The client is disabled: its tokens are inactive, userinfo refuses, refresh fails.
    let (bob_access, bob_refresh) = web_tokens(a, "bob", "bob-pw").await;
    assert_eq!(
        introspect(a, ("api", "api-secret"), &bob_access).await["active"],
        true
    );
    let web = admin_id(b, &admin, "/admin/realms/sec/clients?clientId=web").await;
    let client_path = format!("/admin/realms/sec/clients/{web}");
    let (s, body, _) = call(
        b,
        "PUT",
        &client_path,
        Some(&admin),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    // Realm configuration reaches the other nodes through the store's realm versions: wait
    // until `a` has it (one poll on SQLite, where `a` is `b`).
    let admin_a = admin_token(a).await;
    let mut seen = false;
    for _ in 0..200 {
        let (_, c, _) = call(a, "GET", &client_path, Some(&admin_a), None).await;
        if c["enabled"] == false {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "the client change never reached the other node");
    assert_eq!(
        introspect(a, ("api", "api-secret"), &bob_access).await,
        json!({"active": false})
    );
    let (s, body) = userinfo(a, &bob_access).await;
    assert_eq!(
        (s, body["error_description"].as_str()),
        (401, Some("Client disabled")),
        "{body}"
    );
    let (s, body) = refresh(a, ("web", "web-secret"), &bob_refresh).await;
    assert_eq!(s, 401, "a disabled client cannot refresh: {body}");
    let (s, _, _) = call(
        b,
        "PUT",
        &client_path,
        Some(&admin),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn tokens_of_a_disabled_user_or_client_stop_working() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    disabled_holders(&server, &server).await;
}

/// Two nodes on one PostgreSQL: a user disabled at one node is refused at once at the other
/// (user state is read from the store, never from a node's cache).
#[tokio::test]
async fn tokens_of_a_disabled_user_stop_working_on_every_postgres_node() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    // `b` takes `a`'s address as its public hostname, so tokens of one are valid at the other.
    let a = start_with(&data, &[realm()]).await;
    let b = TestServer::start(&data, "start-dev", &["--hostname", &a.base], &[]).unwrap();
    disabled_holders(&a, &b).await;
    drop((a, b));
    data.cleanup().await;
}

#[tokio::test]
async fn redirect_uris_that_leave_a_wildcard_once_decoded_get_the_error_page() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let b = browser();
    let auth = |redirect: &str| {
        format!(
            "{}?client_id=wild&response_type=code&redirect_uri={}",
            ep(&server, "auth"),
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        )
    };
    let (s, html) = get_page(&b, &auth("https://app.example/app/cb")).await;
    assert_eq!(s, 200, "a URI under the wildcard gets the login page");
    assert!(html.contains("session_code"));
    for bad in [
        "https://app.example/app/%2e%2e/admin",
        "https://app.example/app/%252e%252e/admin",
        "https://app.example/app/..;/admin",
        "https://app.example/app/cb?code=attacker&state=attacker",
    ] {
        let r = b.get(auth(bad)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(
            r.headers().get("location").is_none(),
            "{bad}: never a redirect"
        );
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Invalid parameter: redirect_uri"),
            "{bad}: {page}"
        );
    }
}

#[tokio::test]
async fn introspection_answers_only_the_audience_and_the_tokens_client() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let (access, refresh_token) = web_tokens(&server, "alice", "alice-pw").await;
    // `api` is in the token's audience, `web` is its client: both read the claims.
    for caller in [("api", "api-secret"), ("web", "web-secret")] {
        let body = introspect(&server, caller, &access).await;
        assert_eq!(body["active"], true, "{caller:?}: {body}");
        assert_eq!(body["preferred_username"], "alice");
    }
    // Any other authenticated client learns nothing, not even that the token is valid.
    assert_eq!(
        introspect(&server, ("other", "other-secret"), &access).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&server, ("other", "other-secret"), &refresh_token).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&server, ("web", "web-secret"), &refresh_token).await["active"],
        true
    );
}

/// A browser login at `client` (SSO when the browser already has a session): its tokens.
async fn code_tokens(
    b: &reqwest::Client,
    server: &TestServer,
    client: (&str, &str),
    redirect: &str,
) -> (String, Value) {
    let auth = format!(
        "{}?client_id={}&response_type=code&scope=openid&redirect_uri={}",
        ep(server, "auth"),
        client.0,
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let r = b.get(&auth).send().await.unwrap();
    let q = if r.status() == 302 {
        query_of(r.headers()["location"].to_str().unwrap())
    } else {
        let (s, location, q) = login(b, server, &auth, "alice", "alice-pw").await;
        assert_eq!(s, 302, "{location}");
        q
    };
    let code = q["code"].clone();
    let (s, tokens, _) = post_form(
        &ep(server, "token"),
        Some(client),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    (code, tokens)
}

/// Point 9 on two servers sharing a store: a code replayed at `b` detaches its client from the
/// session; at `a` that client's tokens stop working, the other client's keep working, and the
/// SSO cookie still logs in.
async fn replayed_code(a: &TestServer, b: &TestServer) {
    let web = ("web", "web-secret");
    let app2 = ("app2", "app2-secret");
    let browser = browser();
    let (code, web_tokens) = code_tokens(&browser, a, web, "https://web.example/cb").await;
    let (_, app2_tokens) = code_tokens(&browser, a, app2, "https://app2.example/cb").await;
    let tok = |t: &Value, k: &str| t[k].as_str().unwrap().to_string();
    let (web_access, web_refresh) = (
        tok(&web_tokens, "access_token"),
        tok(&web_tokens, "refresh_token"),
    );
    let (app2_access, app2_refresh) = (
        tok(&app2_tokens, "access_token"),
        tok(&app2_tokens, "refresh_token"),
    );
    assert_eq!(
        web_tokens["session_state"], app2_tokens["session_state"],
        "one SSO session"
    );

    let (s, err, _) = post_form(
        &ep(b, "token"),
        Some(web),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://web.example/cb"),
        ],
    )
    .await;
    assert_eq!(
        (s, err["error"].as_str(), err["error_description"].as_str()),
        (400, Some("invalid_grant"), Some("Code not valid"))
    );

    // The replayed code's tokens stop working.
    assert_eq!(
        introspect(a, web, &web_access).await,
        json!({"active": false})
    );
    let (s, body) = userinfo(a, &web_access).await;
    assert_eq!(s, 401, "{body}");
    let (s, body) = refresh(a, web, &web_refresh).await;
    assert_eq!(
        (s, body["error_description"].as_str()),
        (400, Some("Session doesn't have required client")),
        "{body}"
    );
    // The other client's tokens of the same session keep working.
    assert_eq!(introspect(a, app2, &app2_access).await["active"], true);
    assert_eq!(userinfo(a, &app2_access).await.0, 200);
    let (s, body) = refresh(a, app2, &app2_refresh).await;
    assert_eq!(s, 200, "{body}");
    // The SSO cookie still logs in at the detached client, without a login page; its new
    // tokens work, the old ones stay refused.
    advance_clock(a, 2).await;
    if !std::ptr::eq(a, b) {
        advance_clock(b, 2).await;
    }
    let auth = format!(
        "{}?client_id=web&response_type=code&scope=openid&prompt=none&redirect_uri=https%3A%2F%2Fweb.example%2Fcb",
        ep(a, "auth")
    );
    let r = browser.get(&auth).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert!(q.contains_key("code"), "SSO still logged in: {q:?}");
    let (s, fresh, _) = post_form(
        &ep(a, "token"),
        Some(web),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "https://web.example/cb"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{fresh}");
    assert_eq!(fresh["session_state"], web_tokens["session_state"]);
    assert_eq!(
        introspect(a, web, &tok(&fresh, "access_token")).await["active"],
        true
    );
    assert_eq!(
        introspect(a, web, &web_access).await,
        json!({"active": false})
    );
    let (s, body) = refresh(a, web, &web_refresh).await;
    assert_eq!(
        (s, body["error_description"].as_str()),
        (
            400,
            Some("Refresh toked issued before the client session started")
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_replayed_code_ends_only_its_clients_part_of_the_session() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with_clock(&data, &[realm()]).await;
    replayed_code(&server, &server).await;
}

#[tokio::test]
async fn a_replayed_code_ends_its_clients_part_on_every_postgres_node() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    let a = start_with_clock(&data, &[realm()]).await;
    let b = TestServer::start(
        &data,
        "start-dev",
        &["--hostname", &a.base, "--testing-clock", "true"],
        &[],
    )
    .unwrap();
    replayed_code(&a, &b).await;
    drop((a, b));
    data.cleanup().await;
}

/// A realm whose user `many` holds 700 long-named realm roles (and `realm-admin`), so that the
/// access token the server issues is past the old 16 KB limit; and a client whose hard-coded
/// claim would make a token past the new one.
fn big_realm() -> Value {
    let roles: Vec<String> = (0..700)
        .map(|i| format!("a-role-with-a-rather-long-name-{i:04}"))
        .collect();
    json!({
        "realm": "big",
        "roles": {"realm": roles.iter().map(|r| json!({"name": r})).collect::<Vec<_>>()},
        "clients": [
            {"clientId": "fat", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "huge", "publicClient": true, "directAccessGrantsEnabled": true,
             "protocolMappers": [{"name": "blob", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                                  "config": {"claim.name": "blob", "claim.value": "x".repeat(LIMIT), "jsonType.label": "String",
                                             "access.token.claim": "true"}}]}
        ],
        "users": [
            {"username": "many", "firstName": "Many", "lastName": "Tester", "email": "many@example.com", "enabled": true, "credentials": [{"type": "password", "value": "many-pw"}],
             "realmRoles": roles, "clientRoles": {"realm-management": ["realm-admin"]}}
        ]
    })
}

#[tokio::test]
async fn tokens_the_server_issues_pass_its_own_size_limit() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[big_realm()]).await;
    let (s, body, _) = post_form(
        &server.url("/realms/big/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "fat"),
            ("username", "many"),
            ("password", "many-pw"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert!(access.len() > OLD_LIMIT, "{} bytes", access.len());

    // The resource-server SDK's default limit is the same: it accepts the token too.
    let guard = portcullis_guard::Validator::builder()
        .issuer(server.url("/realms/big"))
        .audience("fat")
        .accept_azp_as_audience(true)
        .build()
        .unwrap();
    let actor = guard.validate(access).await.unwrap();
    assert_eq!(actor.azp.as_deref(), Some("fat"));

    // Accepted as a bearer header (Admin API, userinfo) and as a form parameter.
    let (s, users, _) = call(
        &server,
        "GET",
        "/admin/realms/big/users?username=many",
        Some(access),
        None,
    )
    .await;
    assert_eq!(s, 200, "{users}");
    assert_eq!(users[0]["username"], "many");
    let (s, info, _) = call(
        &server,
        "GET",
        "/realms/big/protocol/openid-connect/userinfo",
        Some(access),
        None,
    )
    .await;
    assert_eq!(s, 200, "{info}");
    let (s, intro, _) = post_form(
        &server.url("/realms/big/protocol/openid-connect/token/introspect"),
        None,
        &[("client_id", "fat"), ("token", access)],
    )
    .await;
    assert_eq!((s, intro["active"].as_bool()), (200, Some(true)), "{intro}");
    let (s, body, _) = post_form(
        &server.url("/realms/big/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "fat"),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Past the limit: a clear error naming it, as a header (431) and as a parameter (400).
    let oversized = "x".repeat(LIMIT + 1);
    for path in [
        "/admin/realms/big/users",
        "/realms/big/protocol/openid-connect/userinfo",
    ] {
        let (s, body, _) = call(&server, "GET", path, Some(&oversized), None).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (431, Some("invalid_request")),
            "{path}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(&LIMIT.to_string()),
            "{body}"
        );
    }
    let (s, body, _) = post_form(
        &server.url("/realms/big/protocol/openid-connect/token/introspect"),
        None,
        &[("client_id", "fat"), ("token", &oversized)],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{body}"
    );

    // The server never issues a token it would refuse.
    let (s, body, _) = post_form(
        &server.url("/realms/big/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "huge"),
            ("username", "many"),
            ("password", "many-pw"),
        ],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (500, Some("server_error")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("above the limit"),
        "{body}"
    );
}
