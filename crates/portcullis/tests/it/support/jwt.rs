//! JWTs: claims read without verification, and verification against a realm's JWKS with
//! `jsonwebtoken` (an implementation independent of the server's).

use base64::Engine;
use serde_json::Value;

use super::{get_json, TestServer};

/// Unpadded base64url.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload (claims) of a JWT, not verified.
pub fn payload(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

/// base64url of the left half of SHA-256 (`at_hash`, `c_hash`: OpenID Connect Core
/// §3.3.2.11), computed here independently of the server.
pub fn half_sha256(s: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    b64url(&d.as_ref()[..16])
}

/// The RSA key of `realm`'s JWKS that the JWT's `kid` names.
pub async fn realm_key(server: &TestServer, realm: &str, jwt: &str) -> jsonwebtoken::DecodingKey {
    let (_, jwks) =
        get_json(&server.url(&format!("/realms/{realm}/protocol/openid-connect/certs"))).await;
    let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid in the realm's JWKS");
    jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap()
}

/// Verifies an RS256 JWT of `realm` against the realm's JWKS (issuer, expiry, and the audience
/// when `aud` is given); returns its claims.
pub async fn verify_with_jwks(
    server: &TestServer,
    realm: &str,
    jwt: &str,
    aud: Option<&str>,
) -> Value {
    let key = realm_key(server, realm, jwt).await;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[format!("{}/realms/{realm}", server.base)]);
    match aud {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap().claims
}
