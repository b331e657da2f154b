//! Login through an OpenID Connect identity provider (brokering). The provider is a second
//! real server: its realm `upstream` has the confidential client `broker-client`, whose
//! redirect URI is the broker endpoint of the downstream realm; the realm `downstream` has the
//! provider `up` (`oidc`, signature checked with the upstream's JWK Set). A cookie-keeping
//! browser follows the redirects between the two.

use serde_json::{json, Value};

use crate::support::*;

pub(crate) const CALLBACK: &str = "http://localhost:3000/cb";

fn upstream_realm() -> Value {
    json!({
        "realm": "upstream",
        "enabled": true,
        // erin has no last name: the upstream lets her log in as she is.
        "requiredActions": [{"alias": "VERIFY_PROFILE", "name": "Verify Profile", "providerId": "VERIFY_PROFILE",
                             "enabled": false, "defaultAction": false, "priority": 90, "config": {}}],
        "clients": [{
            "clientId": "broker-client", "secret": "broker-secret",
            "redirectUris": ["http://placeholder.invalid/*"]
        }],
        "users": [
            {"username": "alice", "email": "alice@up.example", "firstName": "Alice", "lastName": "Upstream",
             "emailVerified": true, "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}]},
            {"username": "dave", "email": "taken@example.com", "firstName": "Dave", "lastName": "Upstream",
             "emailVerified": true, "enabled": true, "credentials": [{"type": "password", "value": "dave-pw"}]},
            {"username": "erin", "email": "erin@up.example", "firstName": "Erin",
             "emailVerified": true, "enabled": true, "credentials": [{"type": "password", "value": "erin-pw"}]},
            {"id": "frank-at-upstream", "username": "frank", "email": "frank@up.example", "firstName": "Frank", "lastName": "Upstream",
             "emailVerified": true, "enabled": true, "credentials": [{"type": "password", "value": "frank-pw"}]}
        ]
    })
}

fn downstream_realm(up: &TestServer) -> Value {
    let oidc = |p: &str| up.url(&format!("/realms/upstream/protocol/openid-connect/{p}"));
    json!({
        "realm": "downstream",
        "enabled": true,
        "eventsEnabled": true,
        "clients": [{"clientId": "app", "publicClient": true, "redirectUris": [CALLBACK]}],
        "users": [
            {"username": "local-dave", "email": "taken@example.com", "firstName": "Local", "lastName": "Dave", "enabled": true,
             "credentials": [{"type": "password", "value": "local-pw"}]}
        ],
        "identityProviders": [
            {"alias": "up", "providerId": "oidc", "enabled": true, "config": {
                "clientId": "broker-client", "clientSecret": "broker-secret",
                "authorizationUrl": oidc("auth"), "tokenUrl": oidc("token"),
                "userInfoUrl": oidc("userinfo"), "jwksUrl": oidc("certs"),
                "issuer": up.url("/realms/upstream"),
                "validateSignature": "true", "useJwksUrl": "true",
                "pkceEnabled": "true", "pkceMethod": "S256",
                "clientAuthMethod": "client_secret_post",
                "defaultScope": "openid profile email"
            }},
            {"alias": "hidden", "providerId": "oidc", "enabled": true, "hideOnLogin": true, "config": {
                "clientId": "x", "authorizationUrl": oidc("auth"), "tokenUrl": oidc("token")
            }},
            {"alias": "off", "providerId": "oidc", "enabled": false, "config": {
                "clientId": "x", "authorizationUrl": oidc("auth"), "tokenUrl": oidc("token")
            }}
        ]
    })
}

pub(crate) struct Pair {
    pub(crate) up: TestServer,
    pub(crate) down: TestServer,
    _data: (Data, Data),
}

/// The two servers; `None` when the backend is unavailable.
async fn start(backend: Backend) -> Option<Pair> {
    start_custom(backend, |_| {}).await
}

/// The two servers, the downstream realm changed by `edit` first; `None` when the backend is
/// unavailable.
pub(crate) async fn start_custom(backend: Backend, edit: impl FnOnce(&mut Value)) -> Option<Pair> {
    let down_data = Data::new(backend).await?;
    let up_data = Data::new(Backend::Sqlite).await.unwrap();
    let up = start_with(&up_data, &[upstream_realm()]).await;
    let mut realm = downstream_realm(&up);
    edit(&mut realm);
    let down = start_with(&down_data, &[realm]).await;
    // The upstream client's redirect URI: the downstream broker endpoint.
    let token = admin_token(&up).await;
    let (s, clients, _) = call(
        &up,
        "GET",
        "/admin/realms/upstream/clients?clientId=broker-client",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{clients}");
    let mut client = clients[0].clone();
    let id = client["id"].as_str().unwrap().to_string();
    client["redirectUris"] = json!([down.url("/realms/downstream/broker/up/endpoint")]);
    let (s, body, _) = call(
        &up,
        "PUT",
        &format!("/admin/realms/upstream/clients/{id}"),
        Some(&token),
        Some(client),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    Some(Pair {
        up,
        down,
        _data: (up_data, down_data),
    })
}

/// The downstream authorization URL of `app` (PKCE), with `extra` parameters.
pub(crate) fn auth_url(down: &TestServer, challenge: &str, extra: &str) -> String {
    format!(
        "{}?client_id=app&response_type=code&scope=openid&state=client-state&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256{extra}",
        down.url("/realms/downstream/protocol/openid-connect/auth"),
        url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    )
}

pub(crate) async fn location(b: &reqwest::Client, url: &str) -> (u16, String, String) {
    let r = b.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, loc, r.text().await.unwrap())
}

/// The login page's link to the provider `alias`.
pub(crate) fn provider_link(html: &str, alias: &str) -> Option<String> {
    let needle = format!("id=\"social-{alias}\" class=\"kc-social-item\" href=\"");
    let start = html.find(&needle)? + needle.len();
    Some(html[start..start + html[start..].find('"')?].replace("&amp;", "&"))
}

/// From the downstream login page to the upstream authorization request (through the
/// page's link): the upstream URL.
pub(crate) async fn to_provider(p: &Pair, b: &reqwest::Client, auth: &str) -> String {
    let (s, html) = get_page(b, auth).await;
    assert_eq!(s, 200, "{html}");
    let link = provider_link(&html, "up").expect("a link to the provider");
    let (s, loc, body) = location(b, &p.down.url(&link)).await;
    assert_eq!(s, 302, "{body}");
    assert!(
        loc.starts_with(&p.up.url("/realms/upstream/protocol/openid-connect/auth?")),
        "{loc}"
    );
    loc
}

/// Logs in at the upstream page of `upstream_auth`: the upstream redirect to the broker
/// endpoint.
pub(crate) async fn upstream_login(
    p: &Pair,
    b: &reqwest::Client,
    upstream_auth: &str,
    user: &str,
    pw: &str,
) -> String {
    let (s, html) = get_page(b, upstream_auth).await;
    assert_eq!(s, 200, "{html}");
    let (s, loc) = post_page(b, &p.up, &html, &[("username", user), ("password", pw)]).await;
    assert_eq!(s, 302, "{loc}");
    assert!(
        loc.starts_with(&p.down.url("/realms/downstream/broker/up/endpoint?")),
        "{loc}"
    );
    loc
}

/// Redeems the client's code: the token response.
pub(crate) async fn redeem(p: &Pair, code: &str, verifier: &str) -> Value {
    let (s, tokens, _) = post_form(
        &p.down
            .url("/realms/downstream/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    tokens
}

/// A whole login through the provider in a fresh browser: the client's tokens.
async fn broker_login(p: &Pair, user: &str, pw: &str) -> Value {
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(p, &b, &upstream, user, pw).await;
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!(s, 302, "{body}");
    assert!(loc.starts_with(&format!("{CALLBACK}?")), "{loc}");
    let q = query_of(&loc);
    assert_eq!(q["state"], "client-state");
    redeem(p, &q["code"], &verifier).await
}

pub(crate) async fn users_named(p: &Pair, token: &str, username: &str) -> Vec<Value> {
    let (s, users, _) = call(
        &p.down,
        "GET",
        &format!("/admin/realms/downstream/users?username={username}&exact=true"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{users}");
    users.as_array().unwrap().clone()
}

async fn first_login_creates_links_and_finds_the_link(backend: Backend) {
    let Some(p) = start(backend).await else {
        return;
    };
    let tokens = broker_login(&p, "alice", "alice-pw").await;
    let claims = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["iss"], p.down.url("/realms/downstream"));
    let id_token = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["email"], "alice@up.example");
    assert_eq!(id_token["given_name"], "Alice");

    // The created user: the provider's names and e-mail (not verified: trustEmail is off),
    // linked to the provider's subject.
    let admin = admin_token(&p.down).await;
    let users = users_named(&p, &admin, "alice").await;
    assert_eq!(users.len(), 1, "{users:?}");
    let user = &users[0];
    assert_eq!(user["id"], claims["sub"]);
    assert_eq!(user["email"], "alice@up.example");
    assert_eq!(user["firstName"], "Alice");
    assert_eq!(user["lastName"], "Upstream");
    assert_eq!(user["emailVerified"], false);
    let up_admin = admin_token(&p.up).await;
    let (_, up_users, _) = call(
        &p.up,
        "GET",
        "/admin/realms/upstream/users?username=alice&exact=true",
        Some(&up_admin),
        None,
    )
    .await;
    let upstream_id = up_users[0]["id"].as_str().unwrap().to_string();
    let (s, links, _) = call(
        &p.down,
        "GET",
        &format!(
            "/admin/realms/downstream/users/{}/federated-identity",
            user["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{links}");
    assert_eq!(
        links,
        json!([{"identityProvider": "up", "userId": upstream_id, "userName": "alice"}])
    );

    // Keycloak's events: the first broker login, the registration, the login.
    let events = "/admin/realms/downstream/events";
    let first = events_at_least(
        &p.down,
        &admin,
        events,
        "?type=IDENTITY_PROVIDER_FIRST_LOGIN",
        1,
    )
    .await;
    assert_eq!(first[0]["details"]["identity_provider"], "up");
    assert_eq!(first[0]["details"]["identity_provider_identity"], "alice");
    let register = events_at_least(&p.down, &admin, events, "?type=REGISTER", 1).await;
    assert_eq!(register[0]["userId"], user["id"]);
    assert_eq!(register[0]["details"]["identity_provider"], "up");
    assert_eq!(register[0]["details"]["register_method"], "broker");
    let login = events_at_least(&p.down, &admin, events, "?type=LOGIN", 1).await;
    assert_eq!(login[0]["userId"], user["id"]);
    assert_eq!(login[0]["clientId"], "app");
    assert_eq!(login[0]["details"]["identity_provider"], "up");
    assert_eq!(login[0]["details"]["identity_provider_identity"], "alice");

    // A second login finds the link: the same user, no second one, no second registration.
    let again = broker_login(&p, "alice", "alice-pw").await;
    assert_eq!(
        payload(again["access_token"].as_str().unwrap())["sub"],
        claims["sub"]
    );
    assert_eq!(users_named(&p, &admin, "alice").await.len(), 1);
    let logins = events_at_least(&p.down, &admin, events, "?type=LOGIN", 2).await;
    assert_eq!(logins.len(), 2);
    let (_, register, _) = call(
        &p.down,
        "GET",
        &format!("{events}?type=REGISTER"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(register.as_array().unwrap().len(), 1, "{register}");
    let (_, first, _) = call(
        &p.down,
        "GET",
        &format!("{events}?type=IDENTITY_PROVIDER_FIRST_LOGIN"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(first.as_array().unwrap().len(), 1, "{first}");
}

#[tokio::test]
async fn first_login_creates_and_links_the_user_and_the_second_finds_the_link() {
    first_login_creates_links_and_finds_the_link(Backend::Sqlite).await;
}

#[tokio::test]
async fn first_login_creates_and_links_the_user_on_postgres() {
    first_login_creates_links_and_finds_the_link(Backend::Postgres).await;
}

#[tokio::test]
async fn login_page_links_and_the_authorization_request_to_the_provider() {
    let p = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (_, challenge) = pkce();
    let (s, html) = get_page(&b, &auth_url(&p.down, &challenge, "&login_hint=alice")).await;
    assert_eq!(s, 200);
    assert!(provider_link(&html, "up").is_some(), "{html}");
    assert!(provider_link(&html, "hidden").is_none(), "hideOnLogin");
    assert!(provider_link(&html, "off").is_none(), "disabled");
    let upstream = {
        let link = provider_link(&html, "up").unwrap();
        let (s, loc, _) = location(&b, &p.down.url(&link)).await;
        assert_eq!(s, 302);
        loc
    };
    let q = query_of(&upstream);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "broker-client");
    assert_eq!(
        q["redirect_uri"],
        p.down.url("/realms/downstream/broker/up/endpoint")
    );
    assert_eq!(q["scope"], "openid profile email");
    assert_eq!(q["login_hint"], "alice");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].len() >= 40 && q["nonce"].len() >= 40);
    assert!(!upstream.contains("broker-secret"));

    // Unknown and disabled providers: Keycloak's error page.
    for alias in ["nope", "off"] {
        let link = provider_link(&html, "up")
            .unwrap()
            .replace("/broker/up/", &format!("/broker/{alias}/"));
        let (s, loc, body) = location(&b, &p.down.url(&link)).await;
        assert_eq!((s, loc.as_str()), (404, ""), "{body}");
        assert!(body.contains("Could not find an identity provider with the identifier."));
    }
    // The link works only from the browser of the login.
    let link = provider_link(&html, "up").unwrap();
    let (s, loc, _) = location(&browser(), &p.down.url(&link)).await;
    assert_eq!((s, loc.as_str()), (400, ""));
}

#[tokio::test]
async fn kc_idp_hint_skips_the_login_page() {
    let p = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (verifier, challenge) = pkce();
    let (s, upstream, body) = location(&b, &auth_url(&p.down, &challenge, "&kc_idp_hint=up")).await;
    assert_eq!(s, 302, "{body}");
    assert!(
        upstream.starts_with(&p.up.url("/realms/upstream/protocol/openid-connect/auth?")),
        "{upstream}"
    );
    let back = upstream_login(&p, &b, &upstream, "alice", "alice-pw").await;
    let (s, loc, _) = location(&b, &back).await;
    assert_eq!(s, 302);
    let q = query_of(&loc);
    let tokens = redeem(&p, &q["code"], &verifier).await;
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["preferred_username"],
        "alice"
    );

    // An empty hint, an unknown and a disabled provider: the login page.
    for hint in ["", "nope", "off"] {
        let (s, loc, html) = location(
            &browser(),
            &auth_url(&p.down, &challenge, &format!("&kc_idp_hint={hint}")),
        )
        .await;
        assert_eq!((s, loc.as_str()), (200, ""), "{hint}");
        assert!(html.contains("kc-form-login"), "{hint}");
    }
}

#[tokio::test]
async fn forged_and_replayed_state_are_refused() {
    let p = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "alice", "alice-pw").await;
    let state = query_of(&back)["state"].clone();

    // A forged state, a missing one: error pages, never a redirect to the client.
    for forged in [
        back.replace(&state, "forged-state"),
        back.replace(&format!("state={state}"), "state="),
    ] {
        let (s, loc, body) = location(&b, &forged).await;
        assert_eq!((s, loc.as_str()), (400, ""), "{body}");
    }
    // The right state from another browser (no pending login there).
    let (s, loc, _) = location(&browser(), &back).await;
    assert_eq!((s, loc.as_str()), (400, ""));

    // The real answer logs in once.
    let (s, loc, _) = location(&b, &back).await;
    assert_eq!(s, 302);
    assert!(loc.starts_with(CALLBACK));
    redeem(&p, &query_of(&loc)["code"], &verifier).await;
    // Replayed: refused.
    let (s, loc, body) = location(&b, &back).await;
    assert_eq!((s, loc.as_str()), (400, ""), "{body}");
}

#[tokio::test]
async fn provider_error_returns_to_the_login_page() {
    let p = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (verifier, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let state = query_of(&upstream)["state"].clone();
    let denied = p.down.url(&format!(
        "/realms/downstream/broker/up/endpoint?error=access_denied&state={state}"
    ));
    let (s, loc, html) = location(&b, &denied).await;
    assert_eq!((s, loc.as_str()), (200, ""), "{html}");
    assert!(html.contains("kc-form-login"), "{html}");
    assert!(
        html.contains("Access denied when authenticating with up."),
        "{html}"
    );
    // Nobody was created or logged in.
    let admin = admin_token(&p.down).await;
    assert!(users_named(&p, &admin, "alice").await.is_empty());
    // The state is spent; the login page still works for a local user.
    let (s, _, _) = location(&b, &denied).await;
    assert_eq!(s, 400);
    let (s, loc) = post_page(
        &b,
        &p.down,
        &html,
        &[("username", "local-dave"), ("password", "local-pw")],
    )
    .await;
    assert_eq!(s, 302, "{loc}");
    redeem(&p, &query_of(&loc)["code"], &verifier).await;
}

#[tokio::test]
async fn an_existing_user_with_the_same_email_is_not_linked_silently() {
    let p = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (_, challenge) = pkce();
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "")).await;
    let back = upstream_login(&p, &b, &upstream, "dave", "dave-pw").await;
    // The default first broker login flow asks (`idp-confirm-link`).
    let (s, loc, html) = location(&b, &back).await;
    assert_eq!((s, loc.as_str()), (200, ""), "{html}");
    assert!(html.contains("Account already exists"), "{html}");
    assert!(
        html.contains(
            "User with email taken@example.com already exists. How do you want to continue?"
        ),
        "{html}"
    );
    let admin = admin_token(&p.down).await;
    assert!(
        users_named(&p, &admin, "dave").await.is_empty(),
        "no user created"
    );
    let local = users_named(&p, &admin, "local-dave").await;
    let (_, links, _) = call(
        &p.down,
        "GET",
        &format!(
            "/admin/realms/downstream/users/{}/federated-identity",
            local[0]["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(links, json!([]), "not linked");
}

#[tokio::test]
async fn a_reauthentication_continues_only_with_the_sessions_user() {
    let p = start(Backend::Sqlite).await.unwrap();
    let b = browser();
    let (_, challenge) = pkce();
    let (s, loc, _) = login(
        &b,
        &p.down,
        &auth_url(&p.down, &challenge, ""),
        "local-dave",
        "local-pw",
    )
    .await;
    assert_eq!(s, 302, "{loc}");
    // `prompt=login` re-authenticates local-dave; the provider's alice is someone else.
    let upstream = to_provider(&p, &b, &auth_url(&p.down, &challenge, "&prompt=login")).await;
    let back = upstream_login(&p, &b, &upstream, "alice", "alice-pw").await;
    let (s, loc, html) = location(&b, &back).await;
    assert_eq!((s, loc.as_str()), (400, ""), "{html}");
    assert!(
        html.contains("already authenticated as different user"),
        "{html}"
    );
    let admin = admin_token(&p.down).await;
    assert!(users_named(&p, &admin, "alice").await.is_empty());
}
