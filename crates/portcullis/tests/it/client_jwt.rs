//! RFC 7523 client authentication: `private_key_jwt` and `client_secret_jwt`, with assertions
//! signed by an independent library (`jsonwebtoken`).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::*;

const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::test]
async fn private_key_jwt_and_client_secret_jwt() {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs1 = portcullis::crypto::der::rsa_pkcs8_to_pkcs1(kp.as_der().unwrap().as_ref()).unwrap();
    let public = kp.public_key();
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
        "n": b64url(public.modulus().big_endian_without_leading_zero()), "e": b64url(public.exponent().big_endian_without_leading_zero())}]});
    let realm = json!({
        "realm": "jwt",
        "clients": [
            {"clientId": "signed", "clientAuthenticatorType": "client-jwt", "serviceAccountsEnabled": true, "attributes": {"use.jwks.string": "true", "jwks.string": jwks.to_string()}},
            {"clientId": "hmac", "clientAuthenticatorType": "client-secret-jwt", "secret": "a-long-shared-secret-of-32-bytes!", "serviceAccountsEnabled": true},
            {"clientId": "hmac-512", "clientAuthenticatorType": "client-secret-jwt", "secret": "a-long-shared-secret-of-32-bytes!", "serviceAccountsEnabled": true,
             "attributes": {"token.endpoint.auth.signing.alg": "HS512"}}
        ]
    });
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm]).await;
    let token_url = server.url("/realms/jwt/protocol/openid-connect/token");
    let issuer = server.url("/realms/jwt");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let rsa_key = jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1);
    let assertion = |client: &str,
                     aud: &str,
                     jti: &str,
                     exp: i64,
                     key: &jsonwebtoken::EncodingKey,
                     alg: jsonwebtoken::Algorithm| {
        let mut h = jsonwebtoken::Header::new(alg);
        if alg == jsonwebtoken::Algorithm::RS256 {
            h.kid = Some("k1".into());
        }
        jsonwebtoken::encode(
            &h,
            &json!({"iss": client, "sub": client, "aud": aud, "jti": jti, "exp": exp, "iat": now}),
            key,
        )
        .unwrap()
    };
    let call = |a: String| {
        let url = token_url.clone();
        async move {
            post_form(
                &url,
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", TYPE),
                    ("client_assertion", &a),
                ],
            )
            .await
        }
    };

    let (s, body, _) = call(assertion(
        "signed",
        &token_url,
        "j1",
        now + 60,
        &rsa_key,
        jsonwebtoken::Algorithm::RS256,
    ))
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // Replayed jti, wrong audience, expired, another key, another client's subject.
    let (s, body, _) = call(assertion(
        "signed",
        &token_url,
        "j1",
        now + 60,
        &rsa_key,
        jsonwebtoken::Algorithm::RS256,
    ))
    .await;
    assert_eq!(
        (s, body["error_description"].as_str()),
        (400, Some("Token reuse detected"))
    );
    let (s, body, _) = call(assertion(
        "signed",
        "https://elsewhere.example.com/token",
        "j2",
        now + 60,
        &rsa_key,
        jsonwebtoken::Algorithm::RS256,
    ))
    .await;
    assert_eq!(
        (s, body["error_description"].as_str()),
        (400, Some("Token audience doesn't match domain"))
    );
    let (s, _, _) = call(assertion(
        "signed",
        &issuer,
        "j3",
        now - 300,
        &rsa_key,
        jsonwebtoken::Algorithm::RS256,
    ))
    .await;
    assert_eq!(s, 400);
    let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let other_key = jsonwebtoken::EncodingKey::from_rsa_der(
        &portcullis::crypto::der::rsa_pkcs8_to_pkcs1(other.as_der().unwrap().as_ref()).unwrap(),
    );
    let (s, _, _) = call(assertion(
        "signed",
        &issuer,
        "j4",
        now + 60,
        &other_key,
        jsonwebtoken::Algorithm::RS256,
    ))
    .await;
    assert_eq!(s, 400, "signed by a key the client did not register");
    // The issuer URL as audience is accepted too.
    let (s, _, _) = call(assertion(
        "signed",
        &issuer,
        "j5",
        now + 60,
        &rsa_key,
        jsonwebtoken::Algorithm::RS256,
    ))
    .await;
    assert_eq!(s, 200);
    // A client-jwt client cannot fall back to a secret.
    let (s, body, _) = post_form(
        &token_url,
        Some(("signed", "x")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));

    // client_secret_jwt: HS256 with the client secret; the public key path refuses HMAC.
    let secret = jsonwebtoken::EncodingKey::from_secret(b"a-long-shared-secret-of-32-bytes!");
    let (s, body, _) = call(assertion(
        "hmac",
        &token_url,
        "h1",
        now + 60,
        &secret,
        jsonwebtoken::Algorithm::HS256,
    ))
    .await;
    assert_eq!(s, 200, "{body}");
    let wrong = jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-xx");
    let (s, _, _) = call(assertion(
        "hmac",
        &token_url,
        "h2",
        now + 60,
        &wrong,
        jsonwebtoken::Algorithm::HS256,
    ))
    .await;
    assert_eq!(s, 400);
    // A client that registered its assertion algorithm (`token.endpoint.auth.signing.alg`)
    // gets Keycloak's answer for any other one, even correctly signed.
    let (s, body, _) = call(assertion(
        "hmac-512",
        &token_url,
        "p1",
        now + 60,
        &secret,
        jsonwebtoken::Algorithm::HS256,
    ))
    .await;
    assert_eq!(
        (
            s,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (
            400,
            Some("invalid_client"),
            Some("invalid signature algorithm")
        )
    );
    let (s, body, _) = call(assertion(
        "hmac-512",
        &token_url,
        "p2",
        now + 60,
        &secret,
        jsonwebtoken::Algorithm::HS512,
    ))
    .await;
    assert_eq!(s, 200, "{body}");
    let public_as_secret = jsonwebtoken::EncodingKey::from_secret(jwks.to_string().as_bytes());
    let (s, _, _) = call(assertion(
        "signed",
        &token_url,
        "j6",
        now + 60,
        &public_as_secret,
        jsonwebtoken::Algorithm::HS256,
    ))
    .await;
    assert_eq!(
        s, 400,
        "HMAC with public key material is never accepted for a key-pair client"
    );
    let (_, doc) = get_json(&server.url("/realms/jwt/.well-known/openid-configuration")).await;
    assert!(doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&Value::from("private_key_jwt")));
}

/// A relying party's JWKS endpoint on 127.0.0.1:0: serves whatever set it is given and counts
/// the requests it gets.
struct JwksServer {
    url: String,
    keys: std::sync::Arc<std::sync::Mutex<Value>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl JwksServer {
    async fn start(initial: Value) -> JwksServer {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        let keys = Arc::new(Mutex::new(initial));
        let hits = Arc::new(AtomicUsize::new(0));
        let (k, h) = (keys.clone(), hits.clone());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (k, h) = (k.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    axum::Json(k.lock().unwrap().clone())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        JwksServer {
            url: format!("http://{addr}/jwks"),
            keys,
            hits,
        }
    }

    fn serve(&self, set: Value) {
        *self.keys.lock().unwrap() = set;
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// An RSA key pair for a relying party: its public JWK (no `use`, as many RPs publish it) and
/// a `jsonwebtoken` signing key.
fn rp_rsa_key(kid: &str) -> (Value, jsonwebtoken::EncodingKey) {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs1 = portcullis::crypto::der::rsa_pkcs8_to_pkcs1(kp.as_der().unwrap().as_ref()).unwrap();
    let public = kp.public_key();
    let jwk = json!({"kty": "RSA", "kid": kid, "alg": "RS256",
        "n": b64url(public.modulus().big_endian_without_leading_zero()),
        "e": b64url(public.exponent().big_endian_without_leading_zero())});
    (jwk, jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1))
}

fn sign_assertion(
    client: &str,
    aud: &str,
    kid: Option<&str>,
    alg: jsonwebtoken::Algorithm,
    key: &jsonwebtoken::EncodingKey,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut h = jsonwebtoken::Header::new(alg);
    h.kid = kid.map(str::to_string);
    jsonwebtoken::encode(
        &h,
        &json!({"iss": client, "sub": client, "aud": aud, "jti": uuid::Uuid::new_v4().to_string(), "exp": now + 60, "iat": now}),
        key,
    )
    .unwrap()
}

async fn client_credentials(token_url: &str, assertion: &str) -> (u16, Value) {
    let (s, body, _) = post_form(
        token_url,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await;
    (s, body)
}

fn jwt_client(client_id: &str, attributes: Value) -> Value {
    json!({"clientId": client_id, "clientAuthenticatorType": "client-jwt", "serviceAccountsEnabled": true, "attributes": attributes})
}

#[tokio::test]
async fn private_key_jwt_with_keys_from_jwks_url_and_certificate() {
    use jsonwebtoken::Algorithm::{ES256, RS256};
    let (jwk1, key1) = rp_rsa_key("k1");
    let (jwk2, key2) = rp_rsa_key("k2");
    let (_, stranger) = rp_rsa_key("k2");
    let rp = JwksServer::start(json!({"keys": [jwk1]})).await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // The certificate client: a self-signed X.509 certificate of an EC P-256 key, stored as
    // Keycloak stores it (base64 DER, no PEM armour).
    let cert_key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["cert-client".into()])
        .unwrap()
        .self_signed(&cert_key)
        .unwrap();
    let cert_b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let cert_signer = jsonwebtoken::EncodingKey::from_ec_der(&cert_key.serialize_der());
    let other_ec = rcgen::KeyPair::generate().unwrap();
    let other_signer = jsonwebtoken::EncodingKey::from_ec_der(&other_ec.serialize_der());

    let realm = json!({
        "realm": "keys",
        "clients": [
            jwt_client("by-url", json!({"use.jwks.url": "true", "jwks.url": rp.url})),
            jwt_client("unreachable", json!({"use.jwks.url": "true", "jwks.url": format!("http://{closed}/jwks")})),
            jwt_client("by-cert", json!({"jwt.credential.certificate": cert_b64})),
            // Keycloak reads jwks.string only with its flag; the URL flag wins over it.
            jwt_client("flag-wins", json!({"use.jwks.url": "false", "jwks.url": rp.url, "use.jwks.string": "true",
                "jwks.string": json!({"keys": [{"use": "sig", "kty": jwk2["kty"], "kid": "k2", "n": jwk2["n"], "e": jwk2["e"]}]}).to_string()}))
        ]
    });
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data, &[realm]);
    // No cooldown: every unknown kid may re-fetch (the cooldown has a test of its own).
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--spi-public-key-storage--infinispan--min-time-between-requests",
            "0",
        ],
        &[],
    )
    .unwrap();
    let token_url = server.url("/realms/keys/protocol/openid-connect/token");

    // Keys from jwks.url (the key has no "use": for a URL it counts as a signature key).
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("by-url", &token_url, Some("k1"), RS256, &key1),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(rp.hits(), 1);
    let (s, _) = client_credentials(
        &token_url,
        &sign_assertion("by-url", &token_url, Some("k1"), RS256, &key1),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(rp.hits(), 1, "a known kid is served from the cache");

    // The RP rotates to k2: the unknown kid triggers one re-fetch, then k2 is accepted.
    rp.serve(json!({"keys": [jwk2.clone()]}));
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("by-url", &token_url, Some("k2"), RS256, &key2),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(rp.hits(), 2);
    // k1 is gone from the RP's set, so it is refused.
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("by-url", &token_url, Some("k1"), RS256, &key1),
    )
    .await;
    assert_eq!(
        (s, body["error_description"].as_str()),
        (400, Some("Unable to load public key")),
        "{body}"
    );
    // Another key claiming kid k2: the signature fails.
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("by-url", &token_url, Some("k2"), RS256, &stranger),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Signature on JWT token failed validation"),
        "{body}"
    );

    // An unreachable jwks.url fails closed.
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("unreachable", &token_url, Some("k1"), RS256, &key1),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Error when loading public keys"),
        "{body}"
    );

    // Certificate client: an assertion without kid picks the certificate's key.
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("by-cert", &token_url, None, ES256, &cert_signer),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = client_credentials(
        &token_url,
        &sign_assertion("by-cert", &token_url, None, ES256, &other_signer),
    )
    .await;
    assert_eq!(s, 400, "signed by a key other than the certificate's");
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion(
            "by-cert",
            &token_url,
            Some("not-the-cert"),
            ES256,
            &cert_signer,
        ),
    )
    .await;
    assert_eq!(
        (s, body["error_description"].as_str()),
        (400, Some("Unable to load public key"))
    );
    // The RSA key is never accepted for the EC certificate.
    let (s, _) = client_credentials(
        &token_url,
        &sign_assertion("by-cert", &token_url, None, RS256, &key1),
    )
    .await;
    assert_eq!(s, 400);

    // use.jwks.url "false": the JWK Set string is used, not the URL.
    let hits = rp.hits();
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("flag-wins", &token_url, Some("k2"), RS256, &key2),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(rp.hits(), hits);
}

#[tokio::test]
async fn unknown_kid_refetch_waits_for_the_cooldown() {
    use jsonwebtoken::Algorithm::RS256;
    let (jwk1, key1) = rp_rsa_key("k1");
    let (jwk2, key2) = rp_rsa_key("k2");
    let rp = JwksServer::start(json!({"keys": [jwk1]})).await;
    let realm = json!({"realm": "cool", "clients": [jwt_client("rp", json!({"use.jwks.url": "true", "jwks.url": rp.url}))]});
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data, &[realm]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--spi-public-key-storage--infinispan--min-time-between-requests",
            "3600",
        ],
        &[],
    )
    .unwrap();
    let token_url = server.url("/realms/cool/protocol/openid-connect/token");
    let (s, body) = client_credentials(
        &token_url,
        &sign_assertion("rp", &token_url, Some("k1"), RS256, &key1),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    rp.serve(json!({"keys": [jwk2]}));
    for _ in 0..3 {
        let (s, body) = client_credentials(
            &token_url,
            &sign_assertion("rp", &token_url, Some("k2"), RS256, &key2),
        )
        .await;
        assert_eq!(
            (s, body["error_description"].as_str()),
            (400, Some("Unable to load public key"))
        );
    }
    assert_eq!(
        rp.hits(),
        1,
        "unknown kids within the cooldown do not reach the RP"
    );
}
