//! The resource-server SDK (`portcullis-guard`) against tokens from the real server: a
//! realm-per-tenant API accepts `tenant-*` realms with the right audience and nothing else.

use serde_json::json;

use crate::support::*;

fn tenant(name: &str) -> serde_json::Value {
    json!({
        "realm": name,
        "clients": [{
            "clientId": "orders", "secret": "orders-secret", "serviceAccountsEnabled": true,
            "protocolMappers": [{"name": "aud", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                                 "config": {"included.custom.audience": "orders-api", "access.token.claim": "true"}}]
        }, {
            "clientId": "no-aud", "secret": "no-aud-secret", "serviceAccountsEnabled": true
        }]
    })
}

async fn token(server: &TestServer, realm: &str, client: &str, secret: &str) -> String {
    let url = server.url(&format!("/realms/{realm}/protocol/openid-connect/token"));
    let (status, body, _) = post_form(
        &url,
        Some((client, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn guard_validates_real_tokens_per_tenant() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(
        &data,
        &[tenant("tenant-a"), tenant("tenant-b"), tenant("other")],
    )
    .await;
    let validator = portcullis_guard::Validator::builder()
        .issuer(format!("{}/realms/tenant-*", server.base))
        .audience("orders-api")
        .build()
        .unwrap();

    let a = validator
        .validate(&token(&server, "tenant-a", "orders", "orders-secret").await)
        .await
        .unwrap();
    assert_eq!(a.tenant.as_deref(), Some("tenant-a"));
    assert_eq!(a.azp.as_deref(), Some("orders"));
    assert!(!a.sub.is_empty());
    let b = validator
        .validate(&token(&server, "tenant-b", "orders", "orders-secret").await)
        .await
        .unwrap();
    assert_eq!(b.tenant.as_deref(), Some("tenant-b"));
    assert_ne!(a.sub, b.sub);

    // Not a tenant realm, the wrong audience, a forged payload: refused.
    assert!(validator
        .validate(&token(&server, "other", "orders", "orders-secret").await)
        .await
        .is_err());
    assert!(validator
        .validate(&token(&server, "tenant-a", "no-aud", "no-aud-secret").await)
        .await
        .is_err());
    let good = token(&server, "tenant-a", "orders", "orders-secret").await;
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[1] = b64url(br#"{"iss":"x","sub":"admin"}"#);
    assert!(validator.validate(&parts.join(".")).await.is_err());
}
