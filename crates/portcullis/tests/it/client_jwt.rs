//! RFC 7523 client authentication: `private_key_jwt` and `client_secret_jwt`, with assertions
//! signed by an independent library (`jsonwebtoken`).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::*;
use crate::token::{post_form, start_with};

const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

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
            {"clientId": "signed", "clientAuthenticatorType": "client-jwt", "serviceAccountsEnabled": true, "attributes": {"jwks.string": jwks.to_string()}},
            {"clientId": "hmac", "clientAuthenticatorType": "client-secret-jwt", "secret": "a-long-shared-secret-of-32-bytes!", "serviceAccountsEnabled": true}
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
        (401, Some("Token reuse detected"))
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
        (401, Some("Token audience doesn't match domain"))
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
    assert_eq!(s, 401);
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
    assert_eq!(s, 401, "signed by a key the client did not register");
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
    assert_eq!(s, 401);
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
        s, 401,
        "HMAC with public key material is never accepted for a key-pair client"
    );
    let (_, doc) = get_json(&server.url("/realms/jwt/.well-known/openid-configuration")).await;
    assert!(doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&Value::from("private_key_jwt")));
}
