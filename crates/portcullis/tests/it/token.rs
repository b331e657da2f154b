//! The token endpoint (client credentials, password, refresh), userinfo, introspection,
//! revocation and logout, over HTTP. Tokens are verified with an independent JOSE library.

use serde_json::{json, Value};

use crate::support::*;

fn token_realm() -> Value {
    json!({
        "realm": "tok",
        "revokeRefreshToken": true,
        "refreshTokenMaxReuse": 0,
        "roles": {"realm": [{"name": "reader"}, {"name": "auditor"}], "client": {"backend": [{"name": "read"}]}},
        "clients": [
            {"clientId": "backend", "secret": "backend-secret", "serviceAccountsEnabled": true, "standardFlowEnabled": false},
            {"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": true,
             "defaultClientScopes": ["web-origins", "acr", "profile", "roles", "basic", "email"], "optionalClientScopes": ["offline_access", "address"],
             "protocolMappers": [{"name": "tier", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                                  "config": {"claim.name": "tier", "claim.value": "gold", "jsonType.label": "String", "access.token.claim": "true", "id.token.claim": "true", "userinfo.token.claim": "true"}}]},
            {"clientId": "off", "secret": "off-secret", "enabled": false, "directAccessGrantsEnabled": true},
            {"clientId": "mapped", "publicClient": true, "directAccessGrantsEnabled": true, "protocolMappers": [
                {"name": "audit", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "auditor"}},
                {"name": "rename", "protocol": "openid-connect", "protocolMapper": "oidc-role-name-mapper", "config": {"role": "backend.read", "new.role.name": "fetch"}}]}
        ],
        "users": [
            {"username": "alice", "email": "alice@example.com", "firstName": "Alice", "lastName": "Liddell", "enabled": true, "emailVerified": true,
             "credentials": [{"type": "password", "value": "alice-pw"}], "realmRoles": ["reader", "default-roles-tok"], "clientRoles": {"backend": ["read"]}},
            {"username": "bob", "firstName": "Bob", "lastName": "Tester", "email": "bob@example.com", "enabled": false, "credentials": [{"type": "password", "value": "bob-pw"}]},
            {"username": "carol", "firstName": "Carol", "lastName": "Tester", "email": "carol@example.com", "enabled": true, "credentials": [{"type": "password", "value": "carol-pw", "temporary": true}]},
            {"username": "migrated", "firstName": "Migrated", "lastName": "Tester", "email": "migrated@example.com", "enabled": true, "credentials": [{"type": "password",
              "secretData": "{\"value\":\"DwglDeBTZiPtwZ0w4xuG/UqwCV9565zjKyE6F/X9tg9jofKE/WCjbvIAifPyb7a3CSdVjcxaRtopSq1sIO+nZw==\",\"salt\":\"c2FsdHNhbHRzYWx0c2FsdA==\",\"additionalParameters\":{}}",
              "credentialData": "{\"hashIterations\":27500,\"algorithm\":\"pbkdf2-sha256\",\"additionalParameters\":{}}"}]}
        ]
    })
}

fn ep(server: &TestServer, p: &str) -> String {
    server.url(&format!("/realms/tok/protocol/openid-connect/{p}"))
}

/// A server with the `tok` realm.
async fn tok() -> (Data, TestServer) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[token_realm()]).await;
    (data, server)
}

/// Alice's password grant at the confidential client `web`, asking for `openid address`.
async fn web_login(server: &TestServer) -> Value {
    let (status, body) = password_grant(
        server,
        "tok",
        "web",
        Some("web-secret"),
        "Alice",
        "alice-pw",
        &[("scope", "openid address")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn discovery_names_the_token_endpoint_and_the_grant_types() {
    let (_data, server) = tok().await;
    let (_, doc) = get_json(&server.url("/realms/tok/.well-known/openid-configuration")).await;
    assert_eq!(doc["token_endpoint"], ep(&server, "token"));
    assert_eq!(
        doc["grant_types_supported"],
        json!([
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:uma-ticket",
            "urn:openid:params:grant-type:ciba"
        ])
    );
}

/// client_credentials: service-account token, no session, no refresh token.
#[tokio::test]
async fn client_credentials_give_a_service_account_token_without_a_session() {
    let (_data, server) = tok().await;
    let (status, body, headers) = post_form(
        &ep(&server, "token"),
        Some(("backend", "backend-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none());
    let at = verify_with_jwks(&server, "tok", body["access_token"].as_str().unwrap(), None).await;
    assert_eq!(at["typ"], "Bearer");
    assert_eq!(at["azp"], "backend");
    assert_eq!(at["preferred_username"], "service-account-backend");
    assert_eq!(at["client_id"], "backend");
    // The service_account scope's session-note mappers: the caller's address.
    assert_eq!(at["clientAddress"], "127.0.0.1");
    assert_eq!(at["clientHost"], "127.0.0.1");
    assert!(at.get("sid").is_none());
    assert!(
        at["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "offline_access"),
        "default role composites: {at}"
    );
}

/// password grant (confidential client, openid): Keycloak's access, ID and refresh tokens.
#[tokio::test]
async fn password_grant_gives_keycloaks_access_id_and_refresh_tokens() {
    let (_data, server) = tok().await;
    let body = web_login(&server).await;
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let at = verify_with_jwks(&server, "tok", &access, Some("backend")).await;
    assert_eq!(at["typ"], "Bearer");
    assert_eq!(at["azp"], "web");
    assert_eq!(at["sid"], body["session_state"]);
    assert_eq!(at["preferred_username"], "alice");
    assert_eq!(at["email"], "alice@example.com");
    assert_eq!(at["email_verified"], true);
    assert_eq!(at["name"], "Alice Liddell");
    assert_eq!(at["tier"], "gold");
    assert!(at["realm_access"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "reader"));
    assert_eq!(at["resource_access"]["backend"]["roles"], json!(["read"]));
    assert!(at["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "openid"));
    assert!(at["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "address"));
    assert!(at["sub"].is_string());
    let id = verify_with_jwks(
        &server,
        "tok",
        body["id_token"].as_str().unwrap(),
        Some("web"),
    )
    .await;
    assert_eq!(id["typ"], "ID");
    assert_eq!(id["sub"], at["sub"]);
    assert_eq!(id["sid"], at["sid"]);
    assert_eq!(id["at_hash"], half_sha256(&access));
    let rt = payload(&refresh);
    assert_eq!(rt["typ"], "Refresh");
    assert_eq!(
        jsonwebtoken::decode_header(&refresh).unwrap().alg,
        jsonwebtoken::Algorithm::HS512
    );
}

#[tokio::test]
async fn userinfo_and_introspection_of_a_password_grant_token() {
    let (_data, server) = tok().await;
    let body = web_login(&server).await;
    let access = body["access_token"].as_str().unwrap().to_string();
    let at = verify_with_jwks(&server, "tok", &access, Some("backend")).await;

    // userinfo
    let r = client()
        .get(ep(&server, "userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ui: Value = r.json().await.unwrap();
    assert_eq!(ui["sub"], at["sub"]);
    assert_eq!(ui["preferred_username"], "alice");
    assert_eq!(ui["tier"], "gold");

    // introspection (authenticated client)
    let (status, intro, _) = post_form(
        &ep(&server, "token/introspect"),
        Some(("backend", "backend-secret")),
        &[("token", &access)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], "web");
    assert_eq!(intro["username"], "alice");
    let (status, _, _) = post_form(
        &ep(&server, "token/introspect"),
        None,
        &[("token", &access)],
    )
    .await;
    assert_eq!(status, 401, "introspection needs client authentication");
}

/// Refresh, then rotation: the old refresh token may not be used again, and its reuse ends
/// the session.
#[tokio::test]
async fn refresh_rotates_and_reuse_ends_the_session() {
    let (_data, server) = tok().await;
    let body = web_login(&server).await;
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let (status, body2, _) = post_form(
        &ep(&server, "token"),
        Some(("web", "web-secret")),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "{body2}");
    let refresh2 = body2["refresh_token"].as_str().unwrap().to_string();
    assert!(
        body2["id_token"].is_string(),
        "openid kept from the refresh token's scope"
    );
    let (status, err, _) = post_form(
        &ep(&server, "token"),
        Some(("web", "web-secret")),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "{err}"
    );
    // Reuse ended the session: the newer token is dead too, and so is the access token.
    let (status, err, _) = post_form(
        &ep(&server, "token"),
        Some(("web", "web-secret")),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh2),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error_description"].as_str()),
        (400, Some("Session not active")),
        "{err}"
    );
    let (_, intro, _) = post_form(
        &ep(&server, "token/introspect"),
        Some(("backend", "backend-secret")),
        &[("token", &access)],
    )
    .await;
    assert_eq!(intro, json!({"active": false}));
}

/// Logout ends the session on the server.
#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let (_data, server) = tok().await;
    let (_, body, _) = post_form(
        &ep(&server, "token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "cli"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ],
    )
    .await;
    let (access, refresh) = (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    );
    let (status, _, _) = post_form(
        &ep(&server, "logout"),
        None,
        &[("client_id", "cli"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 204);
    let (status, err, _) = post_form(
        &ep(&server, "token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "cli"),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error_description"].as_str()),
        (400, Some("Session not active"))
    );
    let r = client()
        .get(ep(&server, "userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn a_revoked_access_token_is_inactive() {
    let (_data, server) = tok().await;
    let (_, body, _) = post_form(
        &ep(&server, "token"),
        Some(("web", "web-secret")),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ],
    )
    .await;
    let access = body["access_token"].as_str().unwrap().to_string();
    let (status, _, _) = post_form(
        &ep(&server, "revoke"),
        Some(("web", "web-secret")),
        &[("token", &access)],
    )
    .await;
    assert_eq!(status, 200);
    let (_, intro, _) = post_form(
        &ep(&server, "token/introspect"),
        Some(("web", "web-secret")),
        &[("token", &access)],
    )
    .await;
    assert_eq!(intro["active"], false);
}

/// Role mappers: a hard-coded role is added, a client role renamed in its client.
#[tokio::test]
async fn role_mappers_add_a_role_and_rename_a_client_role() {
    let (_data, server) = tok().await;
    let (_, body, _) = post_form(
        &ep(&server, "token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "mapped"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ],
    )
    .await;
    let at = payload(body["access_token"].as_str().unwrap());
    assert!(
        at["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "auditor"),
        "{at}"
    );
    assert_eq!(at["resource_access"]["backend"]["roles"], json!(["fetch"]));
}

/// A migrated pbkdf2-sha256 hash verifies, and is replaced by an Argon2id hash.
#[tokio::test]
async fn a_migrated_pbkdf2_hash_verifies_and_is_rehashed_with_argon2id() {
    let (data, server) = tok().await;
    let (status, body, _) = post_form(
        &ep(&server, "token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "cli"),
            ("username", "migrated"),
            ("password", "old-pw"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // ... and is replaced by an Argon2id hash, which verifies the same password.
    let exported = data.export("tok");
    let migrated = exported["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "migrated")
        .unwrap();
    assert!(
        migrated["credentials"][0]["credentialData"]
            .as_str()
            .unwrap()
            .contains("\"argon2\""),
        "{migrated}"
    );
    let (status, _, _) = post_form(
        &ep(&server, "token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "cli"),
            ("username", "migrated"),
            ("password", "old-pw"),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_token_requests_get_keycloak_errors_and_no_tokens() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let other: Value = serde_json::from_str(
        &token_realm()
            .to_string()
            .replace("\"tok\"", "\"other\"")
            .replace("default-roles-tok", "default-roles-other"),
    )
    .unwrap();
    let server = start_with(&data, &[token_realm(), other]).await;
    type Case<'a> = (
        Option<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        u16,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            Some(("web", "web-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "nope"),
            ],
            401,
            "invalid_grant",
            "Invalid user credentials",
        ),
        (
            Some(("web", "web-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", "x"),
            ],
            400,
            "invalid_grant",
            "Invalid user credentials",
        ),
        (
            Some(("web", "web-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", "bob-pw"),
            ],
            400,
            "invalid_grant",
            "Account disabled",
        ),
        // Refused before the password is checked (Keycloak's `ValidateUsername`): a wrong
        // password gets the same answer.
        (
            Some(("web", "web-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", "not-bobs"),
            ],
            400,
            "invalid_grant",
            "Account disabled",
        ),
        (
            Some(("web", "web-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "carol"),
                ("password", "carol-pw"),
            ],
            400,
            "invalid_grant",
            "Account is not fully set up",
        ),
        (
            Some(("web", "wrong")),
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
            ],
            401,
            "unauthorized_client",
            "Invalid client or Invalid client credentials",
        ),
        (
            Some(("web", "backend-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
            ],
            401,
            "unauthorized_client",
            "Invalid client or Invalid client credentials",
        ),
        (
            None,
            vec![
                ("grant_type", "password"),
                ("client_id", "web"),
                ("username", "alice"),
                ("password", "alice-pw"),
            ],
            401,
            "unauthorized_client",
            "Client secret not provided in request",
        ),
        (
            Some(("off", "off-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
            ],
            401,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        ),
        (
            Some(("ghost", "x")),
            vec![("grant_type", "client_credentials")],
            401,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        ),
        (
            Some(("backend", "backend-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
            ],
            400,
            "unauthorized_client",
            "Client not allowed for direct access grants",
        ),
        (
            None,
            vec![("grant_type", "client_credentials"), ("client_id", "cli")],
            400,
            "unauthorized_client",
            "Public client not allowed to retrieve service account",
        ),
        (
            Some(("web", "web-secret")),
            vec![("grant_type", "client_credentials")],
            400,
            "unauthorized_client",
            "Client not enabled to retrieve service account",
        ),
        (
            Some(("web", "web-secret")),
            vec![("grant_type", "urn:nope")],
            400,
            "unsupported_grant_type",
            "Unsupported grant_type",
        ),
        (
            Some(("web", "web-secret")),
            vec![],
            400,
            "invalid_request",
            "Missing form parameter: grant_type",
        ),
        (
            Some(("web", "web-secret")),
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
                ("scope", "openid nosuch"),
            ],
            400,
            "invalid_scope",
            "Invalid scopes: nosuch",
        ),
        (
            Some(("web", "web-secret")),
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "not.a.token"),
            ],
            400,
            "invalid_grant",
            "Invalid refresh token",
        ),
    ];
    for (auth, form, status, error, description) in cases {
        let (s, body, headers) = post_form(&ep(&server, "token"), auth, &form).await;
        assert_eq!(
            (
                s,
                body["error"].as_str(),
                body["error_description"].as_str()
            ),
            (status, Some(error), Some(description)),
            "{form:?}: {body}"
        );
        assert!(body.get("access_token").is_none());
        assert_eq!(headers["cache-control"], "no-store");
    }
    // Duplicate parameters (RFC 6749 §3.1) and oversized bodies.
    let r = client()
        .post(ep(&server, "token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&grant_type=client_credentials&client_id=cli")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let big = format!(
        "grant_type=password&client_id=cli&username={}",
        "a".repeat(100_000)
    );
    let r = client()
        .post(ep(&server, "token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A refresh token of another client.
    let (_, body, _) = post_form(
        &ep(&server, "token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "cli"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ],
    )
    .await;
    let refresh = body["refresh_token"].as_str().unwrap();
    let access = body["access_token"].as_str().unwrap();
    let (s, err, _) = post_form(
        &ep(&server, "token"),
        Some(("web", "web-secret")),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!((s, err["error"].as_str()), (400, Some("invalid_grant")));
    // A token from realm `tok` presented to realm `other`.
    let other_ep = |p: &str| server.url(&format!("/realms/other/protocol/openid-connect/{p}"));
    let (_, intro, _) = post_form(
        &other_ep("token/introspect"),
        Some(("web", "web-secret")),
        &[("token", access)],
    )
    .await;
    assert_eq!(intro, json!({"active": false}));
    let r = client()
        .get(other_ep("userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, _, _) = post_form(
        &other_ep("token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "cli"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(s, 400);
}

/// Two server processes on one PostgreSQL behave as one: a session made at one is refreshed
/// at the other, and a logout at one ends refresh at the other.
#[tokio::test]
async fn two_nodes_share_sessions_on_postgres() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    let a = start_with(&data, &[token_realm()]).await;
    let b = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let (_, body, _) = post_form(
        &ep(&a, "token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "cli"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ],
    )
    .await;
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    // Tokens carry each node's own issuer (dev mode, base URL from the request), so refresh at
    // the node that issued the token, and end the session at the other.
    let (s, body, _) = post_form(
        &ep(&a, "token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "cli"),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let access = body["access_token"].as_str().unwrap().to_string();
    let (s, intro, _) = post_form(
        &ep(&a, "token/introspect"),
        None,
        &[("client_id", "cli"), ("token", &access)],
    )
    .await;
    assert_eq!((s, intro["active"].as_bool()), (200, Some(true)));
    drop(a);
    let a = TestServer::start(&data, "start-dev", &["--hostname", &b.base], &[]).unwrap();
    let b2 = TestServer::start(&data, "start-dev", &["--hostname", &b.base], &[]).unwrap();
    // Same public hostname on both nodes: a session from one is used at the other.
    let (_, body, _) = post_form(
        &ep(&a, "token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "cli"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ],
    )
    .await;
    let refresh_a = body["refresh_token"].as_str().unwrap().to_string();
    let (s, body, _) = post_form(
        &ep(&b2, "token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "cli"),
            ("refresh_token", &refresh_a),
        ],
    )
    .await;
    assert_eq!(s, 200, "refresh at the other node: {body}");
    let refresh_b = body["refresh_token"].as_str().unwrap().to_string();
    let (s, _, _) = post_form(
        &ep(&b2, "logout"),
        None,
        &[("client_id", "cli"), ("refresh_token", &refresh_b)],
    )
    .await;
    assert_eq!(s, 204);
    let (s, err, _) = post_form(
        &ep(&a, "token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "cli"),
            ("refresh_token", &refresh_b),
        ],
    )
    .await;
    assert_eq!(
        (s, err["error_description"].as_str()),
        (400, Some("Session not active")),
        "logout at one node ends refresh at the other"
    );
    let _ = refresh;
    drop((a, b, b2));
    data.cleanup().await;
}

/// The refresh token a browser login's code gives: with `revokeRefreshToken` it is the current
/// one (used once, then refused); in a realm that turns the setting on after the login, the
/// first refresh token presented becomes current, as Keycloak's reuse check makes a client
/// session's first refresh token current.
#[tokio::test]
async fn a_codes_refresh_token_is_current_with_rotation_and_after_rotation_is_turned_on() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let realm = |name: &str, revoke: bool| {
        json!({
            "realm": name, "enabled": true, "revokeRefreshToken": revoke, "refreshTokenMaxReuse": 0,
            "clients": [{"clientId": "app", "secret": "app-secret", "redirectUris": ["http://localhost/cb"]}],
            "users": [{"username": "ann", "enabled": true, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee",
                       "credentials": [{"type": "password", "value": "ann-pw"}]}]
        })
    };
    let server = start_with(&data, &[realm("on", true), realm("later", false)]).await;
    let login = |realm: &'static str| {
        let server = &server;
        async move {
            let b = browser();
            let auth = server.url(&format!(
                "/realms/{realm}/protocol/openid-connect/auth?client_id=app&response_type=code&scope=openid&state=s&redirect_uri=http://localhost/cb"
            ));
            let (status, location, q) = login(&b, server, &auth, "ann", "ann-pw").await;
            assert_eq!(status, 302, "{location}");
            let (status, body, _) = post_form(
                &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
                Some(("app", "app-secret")),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &q["code"]),
                    ("redirect_uri", "http://localhost/cb"),
                ],
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body["refresh_token"].as_str().unwrap().to_string()
        }
    };
    let refresh = |realm: &'static str, token: String| {
        let server = &server;
        async move {
            let (status, body, _) = post_form(
                &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
                Some(("app", "app-secret")),
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await;
            (status, body)
        }
    };

    let rt = login("on").await;
    let (status, body) = refresh("on", rt.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = refresh("on", rt).await;
    assert_eq!(status, 400, "a second use: {body}");
    assert_eq!(
        body["error_description"],
        "Maximum allowed refresh token reuse exceeded"
    );

    let rt = login("later").await;
    let admin = admin_token(&server).await;
    let (status, body, _) = call(
        &server,
        "PUT",
        "/admin/realms/later",
        Some(&admin),
        Some(json!({"revokeRefreshToken": true, "refreshTokenMaxReuse": 0})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = refresh("later", rt.clone()).await;
    assert_eq!(
        status, 200,
        "the first token presented becomes current: {body}"
    );
    let (status, body) = refresh("later", rt).await;
    assert_eq!(status, 400, "and is then used up: {body}");
}
