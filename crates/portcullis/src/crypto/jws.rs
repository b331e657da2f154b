//! Compact JWS (RFC 7515) with the realm's parsed keys: sign tokens, verify our own.
//! Hand-written over aws-lc-rs because signing must reuse the parsed key held in the realm
//! snapshot (re-parsing an RSA key per token would halve RS256 throughput).

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::{json, Map, Value};

use super::keys::{PrivateKey, RealmKey};
use super::CryptoError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A symmetric key (Keycloak's `hmac-generated` provider) for refresh tokens.
#[derive(Clone)]
pub struct HmacKey {
    /// `kid`.
    pub kid: String,
    /// `HS256`, `HS384`, `HS512`.
    pub alg: String,
    key: hmac::Key,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacKey({}, {})", self.kid, self.alg)
    }
}

impl HmacKey {
    /// The key, for deriving other HMAC keys.
    pub fn key(&self) -> &hmac::Key {
        &self.key
    }

    /// A key from Keycloak's stored secret (base64url).
    pub fn new(kid: String, alg: &str, secret_b64url: &str) -> Result<Self, CryptoError> {
        let secret = URL_SAFE_NO_PAD
            .decode(secret_b64url.trim_end_matches('='))
            .or_else(|_| super::b64_decode(secret_b64url))
            .map_err(|_| CryptoError("HMAC secret is not base64".into()))?;
        let algorithm = match alg {
            "HS256" => hmac::HMAC_SHA256,
            "HS384" => hmac::HMAC_SHA384,
            _ => hmac::HMAC_SHA512,
        };
        Ok(HmacKey {
            kid,
            alg: if matches!(alg, "HS256" | "HS384") {
                alg.to_string()
            } else {
                "HS512".into()
            },
            key: hmac::Key::new(algorithm, &secret),
        })
    }
}

/// `base64url(header) "." base64url(claims)`, with room left for the signature.
fn encode_parts(header: &Value, claims: &Value) -> String {
    // Serializing a `Value` cannot fail (its keys are strings).
    let header = serde_json::to_vec(header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    let mut out = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 512);
    URL_SAFE_NO_PAD.encode_string(&header, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut out);
    out
}

/// Signs `claims` with an asymmetric realm key; header `{"alg", "typ", "kid"}` (Keycloak's order).
#[tracing::instrument(name = "jws.sign", level = "debug", skip_all, fields(alg = %key.alg, typ = %typ))]
pub fn sign(key: &RealmKey, typ: &str, claims: &Value) -> Result<String, CryptoError> {
    let header = json!({ "alg": key.alg, "typ": typ, "kid": key.kid });
    let input = encode_parts(&header, claims);
    let sig = match (&key.private, key.alg.as_str()) {
        (PrivateKey::Rsa(kp), alg) => {
            let padding: &'static dyn signature::RsaEncoding = match alg {
                "RS256" => &signature::RSA_PKCS1_SHA256,
                "RS384" => &signature::RSA_PKCS1_SHA384,
                "RS512" => &signature::RSA_PKCS1_SHA512,
                "PS256" => &signature::RSA_PSS_SHA256,
                "PS384" => &signature::RSA_PSS_SHA384,
                "PS512" => &signature::RSA_PSS_SHA512,
                other => return Err(CryptoError(format!("cannot sign with {other}"))),
            };
            let mut sig = vec![0u8; kp.public_modulus_len()];
            kp.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
                .map_err(|_| CryptoError("RSA signing failed".into()))?;
            sig
        }
        (PrivateKey::Ec(kp), _) => kp
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| CryptoError("ECDSA signing failed".into()))?
            .as_ref()
            .to_vec(),
        (PrivateKey::Ed(kp), _) => kp.sign(input.as_bytes()).as_ref().to_vec(),
    };
    let mut token = input;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&sig, &mut token);
    Ok(token)
}

/// Signs `claims` with an HMAC key (refresh tokens, as Keycloak).
#[tracing::instrument(name = "jws.sign", level = "debug", skip_all, fields(alg = %key.alg, typ = %typ))]
pub fn sign_hmac(key: &HmacKey, typ: &str, claims: &Value) -> String {
    let header = json!({ "alg": key.alg, "typ": typ, "kid": key.kid });
    let input = encode_parts(&header, claims);
    let tag = hmac::sign(&key.key, input.as_bytes());
    let mut token = input;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
    token
}

/// A token split and decoded, not yet verified.
#[derive(Debug)]
pub struct Parsed {
    /// Header.
    pub header: Map<String, Value>,
    /// Claims.
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// The one limit on a token's size, in bytes. The server never issues a larger token
/// (`tokens` refuses to), and refuses larger ones before any work: here, as a form parameter
/// (`oidc::form`), and as a bearer header at the edge (`http::token_size`, 431). It is far above
/// what the server issues in practice (an access token grows with the roles in scope: the
/// master administrator's by about 470 bytes per realm), and below hyper's own header limit
/// (about 400 KB), so a larger header still gets the clear error.
pub const MAX_TOKEN_LEN: usize = 256 * 1024;

/// Splits and decodes a compact JWS.
pub fn parse(token: &str) -> Result<Parsed, CryptoError> {
    let bad = || CryptoError("malformed token".into());
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad());
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let decode = |x: &str| URL_SAFE_NO_PAD.decode(x).map_err(|_| bad());
    let header: Map<String, Value> = serde_json::from_slice(&decode(h)?).map_err(|_| bad())?;
    let claims: Map<String, Value> = serde_json::from_slice(&decode(p)?).map_err(|_| bad())?;
    Ok(Parsed {
        header,
        claims,
        signing_input: format!("{h}.{p}"),
        signature: decode(s)?,
    })
}

impl Parsed {
    /// The signed bytes (`header.payload` as sent).
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The header's `kid` and `alg`; both are required to pick a key.
    fn kid_and_alg(&self) -> Result<(&str, &str), CryptoError> {
        let get = |k: &str| {
            self.header
                .get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| CryptoError("invalid token signature".into()))
        };
        Ok((get("kid")?, get("alg")?))
    }

    /// Verifies with the realm's asymmetric keys (chosen by `kid`, algorithm must match).
    pub fn verify(&self, keys: &[RealmKey]) -> Result<(), CryptoError> {
        let bad = || CryptoError("invalid token signature".into());
        let (kid, alg) = self.kid_and_alg()?;
        let key = keys
            .iter()
            .find(|k| k.kid == kid && k.alg == alg && k.key_use == super::keys::KeyUse::Sig)
            .ok_or_else(bad)?;
        let algorithm: &'static dyn VerificationAlgorithm = match alg {
            "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
            "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
            "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
            "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
            "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
            "ES256" => &signature::ECDSA_P256_SHA256_FIXED,
            "ES384" => &signature::ECDSA_P384_SHA384_FIXED,
            "EdDSA" => &signature::ED25519,
            _ => return Err(bad()),
        };
        let public: Vec<u8> = match &key.private {
            PrivateKey::Rsa(kp) => {
                use aws_lc_rs::signature::KeyPair;
                kp.public_key().as_ref().to_vec()
            }
            PrivateKey::Ec(kp) => {
                use aws_lc_rs::signature::KeyPair;
                kp.public_key().as_ref().to_vec()
            }
            PrivateKey::Ed(kp) => {
                use aws_lc_rs::signature::KeyPair;
                kp.public_key().as_ref().to_vec()
            }
        };
        UnparsedPublicKey::new(algorithm, public)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| bad())
    }

    /// Verifies an HMAC signature made with a shared secret (`client_secret_jwt`).
    pub fn verify_with_secret(&self, alg: &str, secret: &[u8]) -> Result<(), CryptoError> {
        let algorithm = match alg {
            "HS256" => hmac::HMAC_SHA256,
            "HS384" => hmac::HMAC_SHA384,
            "HS512" => hmac::HMAC_SHA512,
            _ => return Err(CryptoError("unsupported algorithm".into())),
        };
        hmac::verify(
            &hmac::Key::new(algorithm, secret),
            self.signing_input.as_bytes(),
            &self.signature,
        )
        .map_err(|_| CryptoError("invalid token signature".into()))
    }

    /// Verifies with an HMAC key (constant time).
    pub fn verify_hmac(&self, keys: &[HmacKey]) -> Result<(), CryptoError> {
        let bad = || CryptoError("invalid token signature".into());
        let (kid, alg) = self.kid_and_alg()?;
        let key = keys
            .iter()
            .find(|k| k.kid == kid && k.alg == alg)
            .ok_or_else(bad)?;
        hmac::verify(&key.key, self.signing_input.as_bytes(), &self.signature).map_err(|_| bad())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use crate::crypto::keys::{generate, load, Generate};

    #[test]
    fn sign_and_verify_every_algorithm() {
        for kind in [
            Generate::RsaSig("RS256"),
            Generate::RsaSig("PS256"),
            Generate::Es256,
            Generate::EdDsa,
        ] {
            let key = load(&generate(kind, "r", "id".into()).unwrap())
                .unwrap()
                .unwrap();
            let token = sign(&key, "JWT", &json!({"sub": "x"})).unwrap();
            let parsed = parse(&token).unwrap();
            parsed.verify(std::slice::from_ref(&key)).unwrap();
            assert_eq!(parsed.claims["sub"], "x");
            assert_eq!(parsed.header["kid"], key.kid.as_str());
            // Tampered payload fails.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = b64url(br#"{"sub":"y"}"#);
            parts[1] = &forged;
            assert!(parse(&parts.join("."))
                .unwrap()
                .verify(std::slice::from_ref(&key))
                .is_err());
        }
    }

    #[test]
    fn hmac_tokens_and_alg_confusion() {
        let k = HmacKey::new("h1".into(), "HS512", &b64url(&[7u8; 64])).unwrap();
        let t = sign_hmac(&k, "JWT", &json!({"typ": "Refresh"}));
        parse(&t)
            .unwrap()
            .verify_hmac(std::slice::from_ref(&k))
            .unwrap();
        // An HMAC token is never accepted where an asymmetric signature is expected.
        let rsa = load(&generate(Generate::RsaSig("RS256"), "r", "id".into()).unwrap())
            .unwrap()
            .unwrap();
        assert!(parse(&t).unwrap().verify(&[rsa]).is_err());
        assert!(parse("a.b").is_err());
        assert!(parse(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }
}
