//! Discovery, JWKS, realm info and health over HTTP, on both stores.

use serde_json::{json, Value};

use crate::support::*;

async fn discovery_jwks_and_realm_info(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    std::fs::copy(
        fixtures_dir().join("kc26.2.5-authz-policy-enforcer.json"),
        data.import_dir().join("realm.json"),
    )
    .unwrap();
    let fixture: Value = serde_json::from_slice(
        &std::fs::read(fixtures_dir().join("kc26.2.5-authz-policy-enforcer.json")).unwrap(),
    )
    .unwrap();
    let realm = fixture["realm"].as_str().unwrap().to_string();
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--health-enabled",
            "true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap();

    // Discovery: issuer from the request in dev mode.
    let (status, doc) =
        get_json(&server.url(&format!("/realms/{realm}/.well-known/openid-configuration"))).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], format!("{}/realms/{realm}", server.base));
    assert_eq!(
        doc["jwks_uri"],
        format!(
            "{}/realms/{realm}/protocol/openid-connect/certs",
            server.base
        )
    );
    assert!(doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&Value::from("RS256")));
    assert!(doc["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&Value::from("openid")));
    // Every advertised endpoint is served; nothing is advertised that is not served yet.
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!(
            "{}/realms/{realm}/protocol/openid-connect/auth/device",
            server.base
        )
    );
    // What Keycloak always lists but Portcullis does not serve is listed as not served:
    // no mTLS endpoint aliases nor bound tokens, no request objects, no encryption.
    assert_eq!(doc["mtls_endpoint_aliases"], json!({}));
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], false);
    assert_eq!(doc["request_parameter_supported"], false);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    for field in [
        "request_object_signing_alg_values_supported",
        "id_token_encryption_alg_values_supported",
        "userinfo_encryption_alg_values_supported",
        "authorization_signing_alg_values_supported",
    ] {
        assert_eq!(doc[field], json!([]), "{field}");
    }
    for (field, value) in doc.as_object().unwrap() {
        if field.ends_with("_endpoint") || field == "jwks_uri" {
            let url = value.as_str().unwrap();
            let get = client().get(url).send().await.unwrap().status().as_u16();
            let post = client()
                .post(url)
                .form(&[("x", "y")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert!(
                get != 404 && post != 404 && (get != 405 || post != 405),
                "{field} {url}: GET {get}, POST {post}"
            );
        }
    }

    // JWKS: the imported key is served unchanged (same certificate), with Keycloak's fields.
    let r = client()
        .get(server.url(&format!("/realms/{realm}/protocol/openid-connect/certs")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/jwk-set+json");
    let jwks: Value = r.json().await.unwrap();
    let cert = fixture["components"]["org.keycloak.keys.KeyProvider"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["providerId"] == "rsa-generated")
        .unwrap()["config"]["certificate"][0]
        .clone();
    let sig = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["use"] == "sig" && k["alg"] == "RS256")
        .unwrap();
    assert_eq!(
        sig["x5c"][0], cert,
        "the imported RSA key is the one published"
    );
    for field in ["kid", "kty", "n", "e", "x5t", "x5t#S256"] {
        assert!(sig[field].is_string(), "{field}");
    }
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["use"] == "enc" && k["alg"] == "RSA-OAEP"));
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("d").is_none() && k.get("p").is_none()),
        "no private parts"
    );

    // Realm info.
    let (status, info) = get_json(&server.url(&format!("/realms/{realm}"))).await;
    assert_eq!(status, 200);
    assert_eq!(info["realm"], realm.as_str());
    assert!(info["public_key"].as_str().unwrap().starts_with("MIIB"));
    assert_eq!(
        info["token-service"],
        format!("{}/realms/{realm}/protocol/openid-connect", server.base)
    );
    assert_eq!(info["tokens-not-before"], 0);

    // Unknown realm: Keycloak's 404 body.
    let (status, body) =
        get_json(&server.url("/realms/does-not-exist/protocol/openid-connect/certs")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "Realm does not exist");

    // Health on the main port and on the management port.
    for base in [server.base.clone(), server.management.clone().unwrap()] {
        let (status, body) = get_json(&format!("{base}/health/ready")).await;
        assert_eq!(status, 200, "{base}");
        assert_eq!(body["status"], "UP");
        let (status, _) = get_json(&format!("{base}/health/live")).await;
        assert_eq!(status, 200);
    }
    drop(server);
    data.cleanup().await;
}

#[tokio::test]
async fn discovery_jwks_and_realm_info_sqlite() {
    discovery_jwks_and_realm_info(Backend::Sqlite).await;
}

#[tokio::test]
async fn discovery_jwks_and_realm_info_postgres() {
    discovery_jwks_and_realm_info(Backend::Postgres).await;
}

#[tokio::test]
async fn disabled_realm_is_404_and_health_is_off_by_default() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    std::fs::write(
        data.import_dir().join("off.json"),
        r#"{"realm": "off", "enabled": false}"#,
    )
    .unwrap();
    let server = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    let (status, body) =
        get_json(&server.url("/realms/off/.well-known/openid-configuration")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "Realm does not exist");
    let (status, _) = get_json(&server.url("/health/ready")).await;
    assert_eq!(
        status, 404,
        "health is served only with --health-enabled, as in Keycloak"
    );
    assert!(server.management.is_none());
}

#[tokio::test]
async fn fixed_hostname_sets_the_issuer_and_proxy_headers_are_trusted_only_when_configured() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(
        &data,
        "start-dev",
        &["--hostname", "https://sso.example.com/auth"],
        &[],
    )
    .unwrap();
    let r = client()
        .get(server.url("/realms/master/.well-known/openid-configuration"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["issuer"], "https://sso.example.com/auth/realms/master");
    drop(server);

    let server = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let doc: Value = client()
        .get(server.url("/realms/master/.well-known/openid-configuration"))
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !doc["issuer"].as_str().unwrap().contains("evil"),
        "untrusted X-Forwarded-Host ignored"
    );
    drop(server);

    let server =
        TestServer::start(&data, "start-dev", &["--proxy-headers", "xforwarded"], &[]).unwrap();
    let doc: Value = client()
        .get(server.url("/realms/master/.well-known/openid-configuration"))
        .header("x-forwarded-host", "id.example.org")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], "https://id.example.org/realms/master");
}

#[tokio::test]
async fn metrics_on_the_management_port_count_requests_by_route() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(
        &data,
        "start-dev",
        &["--metrics-enabled=true", "--http-management-port", "0"],
        &[],
    )
    .unwrap();
    for _ in 0..3 {
        get_json(&server.url("/realms/master/.well-known/openid-configuration")).await;
    }
    get_json(&server.url("/realms/nope/protocol/openid-connect/certs")).await;
    let mgmt = server.management.clone().unwrap();
    let r = client()
        .get(format!("{mgmt}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains("http_server_requests_seconds_count{method=\"GET\",outcome=\"SUCCESS\",status=\"200\",uri=\"/realms/{realm}/.well-known/openid-configuration\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("status=\"404\",uri=\"/realms/{realm}/protocol/openid-connect/certs\"} 1"),
        "{text}"
    );
    assert!(text.contains("portcullis_realms 1"));
    let (status, _) = get_json(&server.url("/metrics")).await;
    assert_eq!(
        status, 404,
        "metrics are on the management port only, as in Keycloak"
    );
}

/// Every answer carries a request id: a well-formed `X-Request-Id` from the caller is kept,
/// anything else is replaced by a fresh UUID, and each request without one gets its own.
#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[]).await;
    let url = server.url("/realms/master/.well-known/openid-configuration");
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let kept = client()
        .get(&url)
        .header("X-Request-Id", "trace-42.a:b")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    assert_eq!(id_of(&kept).as_deref(), Some("trace-42.a:b"));
    let forged = client()
        .get(&url)
        .header("X-Request-Id", "x\" level=error")
        .send()
        .await
        .unwrap();
    let replaced = id_of(&forged).unwrap();
    assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced}");
    // Errors carry one too, and two requests never share one.
    let a = client()
        .get(server.url("/realms/nope"))
        .send()
        .await
        .unwrap();
    let b = client()
        .get(server.url("/realms/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 404);
    let (a, b) = (id_of(&a).unwrap(), id_of(&b).unwrap());
    assert!(uuid::Uuid::parse_str(&a).is_ok());
    assert_ne!(a, b);
}
