//! Lightweight access tokens (Keycloak 25+): a client with
//! `client.use.lightweight.access.token.enabled` gets access tokens with only the claims of
//! mappers marked `lightweight.claim`; userinfo and introspection still answer the full
//! claims. Keycloak's `admin-cli` has it, so the administrator's token does not grow with the
//! number of realms, and the Admin API (which reads permissions live) works with it.

use serde_json::{json, Value};

use crate::support::*;

fn realm() -> Value {
    json!({
        "realm": "lite",
        "clients": [
            {"clientId": "lite", "secret": "lite-secret", "directAccessGrantsEnabled": true,
             "attributes": {"client.use.lightweight.access.token.enabled": "true"},
             "protocolMappers": [
                {"name": "tier", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                 "config": {"claim.name": "tier", "claim.value": "gold", "jsonType.label": "String",
                            "access.token.claim": "true", "introspection.token.claim": "true", "lightweight.claim": "true"}},
                {"name": "team", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
                 "config": {"claim.name": "team", "claim.value": "blue", "jsonType.label": "String",
                            "access.token.claim": "true", "introspection.token.claim": "true"}}
             ]},
            {"clientId": "full", "secret": "full-secret", "directAccessGrantsEnabled": true}
        ],
        "roles": {"realm": [{"name": "reader"}]},
        "users": [{"username": "amy", "email": "amy@example.com", "firstName": "Amy", "lastName": "Pond",
                   "enabled": true, "realmRoles": ["reader", "default-roles-lite"],
                   "credentials": [{"type": "password", "value": "amy-pw"}]}]
    })
}

async fn password_token(
    s: &TestServer,
    realm: &str,
    (client_id, secret): (&str, &str),
    (user, password): (&str, &str),
) -> Value {
    let (status, body) = password_grant(
        s,
        realm,
        client_id,
        Some(secret),
        user,
        password,
        &[("scope", "openid")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_admin_token_stays_small_and_works() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[]).await;
    let first = admin_token(&s).await;
    let claims = payload(&first);
    assert_eq!(claims["azp"], "admin-cli");
    for absent in [
        "realm_access",
        "resource_access",
        "aud",
        "preferred_username",
        "sub",
        "email",
    ] {
        assert!(claims.get(absent).is_none(), "{absent} in {claims}");
    }
    assert!(claims["sid"].is_string(), "{claims}");
    // Realms added: the master realm gets a `<realm>-realm` client each, whose roles the
    // administrator holds; the token does not carry them.
    for i in 0..40 {
        // A fresh token each time: the master realm's tokens live 60 seconds, and creating
        // realms on a loaded machine can take longer than that.
        let token = admin_token(&s).await;
        let (status, body, _) = call(
            &s,
            "POST",
            "/admin/realms",
            Some(&token),
            Some(json!({"realm": format!("tenant-{i}"), "enabled": true})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let later = admin_token(&s).await;
    assert!(
        later.len() <= first.len() + 16,
        "{} bytes, then {} bytes after 40 realms",
        first.len(),
        later.len()
    );
    let (status, realms, _) = call(&s, "GET", "/admin/realms", Some(&later), None).await;
    assert_eq!(status, 200, "{realms}");
    assert_eq!(realms.as_array().unwrap().len(), 41);
    let (status, users, _) = call(
        &s,
        "GET",
        "/admin/realms/tenant-39/users",
        Some(&later),
        None,
    )
    .await;
    assert_eq!(status, 200, "{users}");
    // Userinfo knows the user from the token's session.
    let r = client()
        .get(s.url("/realms/master/protocol/openid-connect/userinfo"))
        .bearer_auth(&later)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["preferred_username"], "admin");
    assert!(info["sub"].is_string());
    data.cleanup().await;
}

#[tokio::test]
async fn only_lightweight_claims_are_in_the_token_and_introspection_has_all() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[realm()]).await;
    let lite = password_token(&s, "lite", ("lite", "lite-secret"), ("amy", "amy-pw")).await;
    let at = lite["access_token"].as_str().unwrap();
    let claims = payload(at);
    assert_eq!(claims["tier"], "gold", "a lightweight claim: {claims}");
    for absent in ["team", "realm_access", "preferred_username", "email", "sub"] {
        assert!(claims.get(absent).is_none(), "{absent} in {claims}");
    }
    // The ID token is not lightweight.
    assert_eq!(
        payload(lite["id_token"].as_str().unwrap())["preferred_username"],
        "amy"
    );
    // Introspection by the client recomputes what its mappers give.
    let (status, intro, _) = post_form(
        &s.url("/realms/lite/protocol/openid-connect/token/introspect"),
        Some(("lite", "lite-secret")),
        &[("token", at)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(intro["active"], true, "{intro}");
    assert_eq!(intro["team"], "blue", "{intro}");
    assert_eq!(intro["tier"], "gold", "{intro}");
    assert_eq!(intro["username"], "amy", "{intro}");
    assert!(
        intro["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("reader")),
        "{intro}"
    );
    // Userinfo too.
    let r = client()
        .get(s.url("/realms/lite/protocol/openid-connect/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["email"], "amy@example.com");
    // Another client of the realm still gets the full token.
    let full = password_token(&s, "lite", ("full", "full-secret"), ("amy", "amy-pw")).await;
    let claims = payload(full["access_token"].as_str().unwrap());
    assert_eq!(claims["preferred_username"], "amy");
    assert!(claims["sub"].is_string());
    data.cleanup().await;
}
