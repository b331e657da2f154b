//! Realm keys, stored as Keycloak stores them: `components` of type
//! `org.keycloak.keys.KeyProvider` whose `config` holds the key material
//! (`rsa-generated`/`rsa`: `privateKey` PKCS#1 base64 + `certificate`; `ecdsa-generated`;
//! `eddsa-generated`; `hmac-generated`/`aes-generated` secrets, which never reach the JWKS).
//!
//! Key ids follow Keycloak's `KeyUtils.createKeyId`: base64url(SHA-256(SubjectPublicKeyInfo)),
//! so tokens signed by Keycloak before a migration carry a `kid` we still recognise.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING,
};
use serde_json::{json, Value};

use super::{b64, b64_decode, b64url, der, random_bytes, CryptoError};

/// Component `providerType` of key providers.
pub const KEY_PROVIDER_TYPE: &str = "org.keycloak.keys.KeyProvider";

/// A key provider component's essentials (what `ComponentRepresentation` carries).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyComponent {
    /// Component id.
    pub id: String,
    /// Display name (`rsa-generated`).
    pub name: String,
    /// Provider (`rsa-generated`, `rsa`, `ecdsa-generated`, ...).
    pub provider_id: String,
    /// Multi-valued config as Keycloak stores it.
    pub config: BTreeMap<String, Vec<String>>,
}

impl KeyComponent {
    fn get(&self, k: &str) -> Option<&str> {
        self.config
            .get(k)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    fn flag(&self, k: &str) -> bool {
        self.get(k).map(|v| v != "false").unwrap_or(true)
    }
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Signatures.
    Sig,
    /// Encryption.
    Enc,
}

/// The private half, parsed once and kept for signing.
#[derive(Clone)]
pub enum PrivateKey {
    /// RSA (RS*, PS*, RSA-OAEP).
    Rsa(Arc<RsaKeyPair>),
    /// ECDSA (ES256, ES384).
    Ec(Arc<EcdsaKeyPair>),
    /// Ed25519 (EdDSA).
    Ed(Arc<Ed25519KeyPair>),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

/// One usable asymmetric realm key.
#[derive(Debug, Clone)]
pub struct RealmKey {
    /// `kid`.
    pub kid: String,
    /// JOSE algorithm (`RS256`, `ES256`, `EdDSA`, `RSA-OAEP`).
    pub alg: String,
    /// Signature or encryption.
    pub key_use: KeyUse,
    /// Higher wins among active keys.
    pub priority: i64,
    /// Active keys sign; passive keys only verify.
    pub active: bool,
    /// Owning component id.
    pub component_id: String,
    /// Provider id.
    pub provider_id: String,
    /// Parsed private key.
    pub private: PrivateKey,
    /// The public JWK (with `x5c` when a certificate is known).
    pub jwk: Value,
    /// DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
}

fn kid_of(spki: &[u8]) -> String {
    b64url(digest::digest(&digest::SHA256, spki).as_ref())
}

fn x5_fields(jwk: &mut serde_json::Map<String, Value>, cert: Option<&[u8]>) {
    if let Some(cert) = cert {
        jwk.insert("x5c".into(), json!([b64(cert)]));
        jwk.insert(
            "x5t".into(),
            json!(b64url(
                digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert).as_ref()
            )),
        );
        jwk.insert(
            "x5t#S256".into(),
            json!(b64url(digest::digest(&digest::SHA256, cert).as_ref())),
        );
    }
}

fn bad(c: &KeyComponent, what: &str) -> CryptoError {
    CryptoError(format!(
        "key provider '{}' ({}): {what}",
        c.name, c.provider_id
    ))
}

/// A parsed private key with its DER SubjectPublicKeyInfo, the JWK key fields (`kty` first),
/// the JOSE algorithm and the key's use.
type ParsedKey = (
    PrivateKey,
    Vec<u8>,
    serde_json::Map<String, Value>,
    String,
    KeyUse,
);

/// Parses a key-provider component. `Ok(None)`: a component that yields no asymmetric key
/// (HMAC/AES secrets, disabled providers, partial exports without private material, or
/// providers we do not implement, such as `java-keystore`).
pub fn load(c: &KeyComponent) -> Result<Option<RealmKey>, CryptoError> {
    if !c.flag("enabled") {
        return Ok(None);
    }
    let priority = c.get("priority").and_then(|p| p.parse().ok()).unwrap_or(0);
    let active = c.flag("active");
    let cert = c
        .get("certificate")
        .filter(|s| !s.is_empty())
        .map(b64_decode)
        .transpose()
        .map_err(|e| bad(c, &format!("certificate: {e}")))?;
    let parsed = match c.provider_id.as_str() {
        "rsa-generated" | "rsa" | "rsa-enc-generated" | "rsa-enc" => load_rsa(c)?,
        "ecdsa-generated" | "ecdsa" => load_ecdsa(c)?,
        "eddsa-generated" => load_eddsa(c)?,
        _ => None,
    };
    let Some((private, spki, jwk, alg, key_use)) = parsed else {
        return Ok(None);
    };
    let kid = c
        .get("kid")
        .map(str::to_string)
        .unwrap_or_else(|| kid_of(&spki));
    let jwk = public_jwk(&kid, &alg, key_use, jwk, cert.as_deref());
    Ok(Some(RealmKey {
        kid,
        alg,
        key_use,
        priority,
        active,
        component_id: c.id.clone(),
        provider_id: c.provider_id.clone(),
        private,
        jwk,
        spki,
    }))
}

/// The public JWK in Keycloak's member order: kid, kty, alg, use, then the key fields and
/// the certificate fields.
fn public_jwk(
    kid: &str,
    alg: &str,
    key_use: KeyUse,
    mut jwk: serde_json::Map<String, Value>,
    cert: Option<&[u8]>,
) -> Value {
    let mut ordered = serde_json::Map::new();
    ordered.insert("kid".into(), json!(kid));
    if let Some(kty) = jwk.remove("kty") {
        ordered.insert("kty".into(), kty);
    }
    ordered.insert("alg".into(), json!(alg));
    ordered.insert(
        "use".into(),
        json!(if key_use == KeyUse::Sig { "sig" } else { "enc" }),
    );
    ordered.extend(jwk);
    x5_fields(&mut ordered, cert);
    Value::Object(ordered)
}

/// `rsa-generated`, `rsa` and their `-enc` variants: a PKCS#1 or PKCS#8 `privateKey`
/// (PEM armour allowed); signing keys take an RS* or PS* `algorithm`.
fn load_rsa(c: &KeyComponent) -> Result<Option<ParsedKey>, CryptoError> {
    let Some(pk) = c.get("privateKey").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let raw = b64_decode(&pem_body(pk)).map_err(|e| bad(c, &format!("privateKey: {e}")))?;
    let kp = if der::looks_like_pkcs8(&raw) {
        RsaKeyPair::from_pkcs8(&raw)
    } else {
        RsaKeyPair::from_der(&raw)
    }
    .map_err(|e| bad(c, &format!("privateKey is not a usable RSA key: {e}")))?;
    let enc = c.provider_id.starts_with("rsa-enc");
    let alg = c
        .get("algorithm")
        .unwrap_or(if enc { "RSA-OAEP" } else { "RS256" })
        .to_string();
    if !enc
        && !matches!(
            alg.as_str(),
            "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
        )
    {
        return Err(bad(c, &format!("unsupported algorithm '{alg}'")));
    }
    let public = kp.public_key();
    let spki = public
        .as_der()
        .map_err(|_| bad(c, "public key"))?
        .as_ref()
        .to_vec();
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), json!("RSA"));
    jwk.insert(
        "n".into(),
        json!(b64url(public.modulus().big_endian_without_leading_zero())),
    );
    jwk.insert(
        "e".into(),
        json!(b64url(public.exponent().big_endian_without_leading_zero())),
    );
    let key_use = if enc { KeyUse::Enc } else { KeyUse::Sig };
    Ok(Some((
        PrivateKey::Rsa(Arc::new(kp)),
        spki,
        jwk,
        alg,
        key_use,
    )))
}

/// `ecdsa-generated` and `ecdsa`: a PKCS#8 (or SEC1 DER) `ecdsaPrivateKey` on P-256 or P-384.
fn load_ecdsa(c: &KeyComponent) -> Result<Option<ParsedKey>, CryptoError> {
    let Some(pk) = c.get("ecdsaPrivateKey").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let raw = b64_decode(pk).map_err(|e| bad(c, &format!("ecdsaPrivateKey: {e}")))?;
    let curve = c.get("ecdsaEllipticCurveKey").unwrap_or("P-256");
    let (signing, alg, crv, coord) = match curve {
        "P-256" => (&ECDSA_P256_SHA256_FIXED_SIGNING, "ES256", "P-256", 32),
        "P-384" => (&ECDSA_P384_SHA384_FIXED_SIGNING, "ES384", "P-384", 48),
        other => return Err(bad(c, &format!("unsupported curve '{other}'"))),
    };
    let kp = EcdsaKeyPair::from_pkcs8(signing, &raw)
        .or_else(|_| EcdsaKeyPair::from_private_key_der(signing, &raw))
        .map_err(|e| {
            bad(
                c,
                &format!("ecdsaPrivateKey is not a usable {curve} key: {e}"),
            )
        })?;
    let spki = kp
        .public_key()
        .as_der()
        .map_err(|_| bad(c, "public key"))?
        .as_ref()
        .to_vec();
    let point = kp.public_key().as_ref().to_vec();
    if point.len() != 1 + 2 * coord {
        return Err(bad(c, "unexpected EC point encoding"));
    }
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), json!("EC"));
    jwk.insert("crv".into(), json!(crv));
    jwk.insert("x".into(), json!(b64url(&point[1..1 + coord])));
    jwk.insert("y".into(), json!(b64url(&point[1 + coord..])));
    Ok(Some((
        PrivateKey::Ec(Arc::new(kp)),
        spki,
        jwk,
        alg.to_string(),
        KeyUse::Sig,
    )))
}

/// `eddsa-generated`: a PKCS#8 Ed25519 `eddsaPrivateKey`.
fn load_eddsa(c: &KeyComponent) -> Result<Option<ParsedKey>, CryptoError> {
    let Some(pk) = c.get("eddsaPrivateKey").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let raw = b64_decode(pk).map_err(|e| bad(c, &format!("eddsaPrivateKey: {e}")))?;
    let kp = Ed25519KeyPair::from_pkcs8(&raw)
        .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(&raw))
        .map_err(|e| {
            bad(
                c,
                &format!("eddsaPrivateKey is not a usable Ed25519 key: {e}"),
            )
        })?;
    let spki = kp
        .public_key()
        .as_der()
        .map_err(|_| bad(c, "public key"))?
        .as_ref()
        .to_vec();
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), json!("OKP"));
    jwk.insert("crv".into(), json!("Ed25519"));
    jwk.insert("x".into(), json!(b64url(kp.public_key().as_ref())));
    Ok(Some((
        PrivateKey::Ed(Arc::new(kp)),
        spki,
        jwk,
        "EdDSA".to_string(),
        KeyUse::Sig,
    )))
}

/// Strips PEM armour if present.
fn pem_body(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("")
}

/// The kinds of key a new realm (or a realm asking for another algorithm) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generate {
    /// `rsa-generated` (RS256, or PS* with that algorithm).
    RsaSig(&'static str),
    /// `rsa-enc-generated` (RSA-OAEP).
    RsaEnc,
    /// `ecdsa-generated` P-256.
    Es256,
    /// `eddsa-generated` Ed25519.
    EdDsa,
    /// `hmac-generated-hs512`.
    HmacHs512,
    /// `aes-generated`.
    Aes,
}

impl Generate {
    /// What a generated key provider (`providerId`, its `algorithm` config) generates;
    /// `Ok(None)` for the providers whose key material is given (`rsa`, `rsa-enc`,
    /// `java-keystore`), an error naming an unknown provider or algorithm.
    pub fn for_provider(provider: &str, algorithm: Option<&str>) -> Result<Option<Self>, String> {
        Ok(Some(match (provider, algorithm) {
            ("rsa-generated", None | Some("RS256")) => Generate::RsaSig("RS256"),
            ("rsa-generated", Some("RS384")) => Generate::RsaSig("RS384"),
            ("rsa-generated", Some("RS512")) => Generate::RsaSig("RS512"),
            ("rsa-generated", Some("PS256")) => Generate::RsaSig("PS256"),
            ("rsa-generated", Some("PS384")) => Generate::RsaSig("PS384"),
            ("rsa-generated", Some("PS512")) => Generate::RsaSig("PS512"),
            ("rsa-enc-generated", _) => Generate::RsaEnc,
            ("ecdsa-generated", None | Some("ES256")) => Generate::Es256,
            ("eddsa-generated", _) => Generate::EdDsa,
            ("hmac-generated", None | Some("HS512")) | ("hmac-generated-hs512", _) => {
                Generate::HmacHs512
            }
            ("aes-generated", _) => Generate::Aes,
            ("rsa" | "rsa-enc" | "java-keystore", _) => return Ok(None),
            (p, a) => {
                return Err(format!(
                    "unsupported key provider '{p}'{}",
                    a.map(|a| format!(" with algorithm {a}"))
                        .unwrap_or_default()
                ))
            }
        }))
    }
}

/// What Keycloak writes in place of a secret config value it does not show
/// (`ComponentRepresentation.SECRET_VALUE`).
pub const SECRET_MASK: &str = "**********";

/// The config keys holding a key provider's secret material.
pub const SECRET_CONFIG_KEYS: &[&str] =
    &["privateKey", "secret", "keystorePassword", "keyPassword"];

fn cfg(pairs: &[(&str, String)]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), vec![v.clone()]))
        .collect()
}

pub(super) fn self_signed_cert(pkcs8: &[u8], cn: &str) -> Result<Vec<u8>, CryptoError> {
    let key = rcgen::KeyPair::try_from(pkcs8)
        .map_err(|e| CryptoError(format!("certificate key: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    params.not_before =
        rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(now.max(0) as u64);
    // Keycloak's generated certificates are valid for ten years.
    params.not_after = params.not_before + std::time::Duration::from_secs(10 * 365 * 24 * 3600);
    let serial = random_bytes(16)?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params
        .self_signed(&key)
        .map_err(|e| CryptoError(format!("certificate: {e}")))?;
    Ok(cert.der().to_vec())
}

/// Generates a new key-provider component, as Keycloak's generated providers do.
pub fn generate(kind: Generate, realm_name: &str, id: String) -> Result<KeyComponent, CryptoError> {
    let failed = |what: &str| CryptoError(format!("key generation failed: {what}"));
    let priority = ("priority", "100".to_string());
    let (name, provider, config) = match kind {
        Generate::RsaSig(_) | Generate::RsaEnc => {
            let pkcs8 = super::rsa_pool::take()?;
            let pkcs1 = der::rsa_pkcs8_to_pkcs1(&pkcs8)?;
            let cert = self_signed_cert(&pkcs8, realm_name)?;
            let (name, provider, alg) = match kind {
                Generate::RsaSig(alg) => ("rsa-generated", "rsa-generated", alg),
                _ => ("rsa-enc-generated", "rsa-enc-generated", "RSA-OAEP"),
            };
            (
                name,
                provider,
                cfg(&[
                    ("privateKey", b64(&pkcs1)),
                    ("certificate", b64(&cert)),
                    priority,
                    ("algorithm", alg.to_string()),
                    ("keySize", "2048".into()),
                ]),
            )
        }
        Generate::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &aws_lc_rs::rand::SystemRandom::new(),
            )
            .map_err(|_| failed("EC"))?;
            let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(|_| failed("EC"))?;
            let spki = kp
                .public_key()
                .as_der()
                .map_err(|_| failed("EC"))?
                .as_ref()
                .to_vec();
            let cert = self_signed_cert(doc.as_ref(), realm_name)?;
            (
                "ecdsa-generated",
                "ecdsa-generated",
                cfg(&[
                    ("ecdsaPrivateKey", b64(doc.as_ref())),
                    ("ecdsaPublicKey", b64(&spki)),
                    ("ecdsaEllipticCurveKey", "P-256".into()),
                    ("certificate", b64(&cert)),
                    priority,
                ]),
            )
        }
        Generate::EdDsa => {
            let kp = Ed25519KeyPair::generate().map_err(|_| failed("Ed25519"))?;
            let pkcs8 = kp.to_pkcs8().map_err(|_| failed("Ed25519"))?;
            let spki = kp
                .public_key()
                .as_der()
                .map_err(|_| failed("Ed25519"))?
                .as_ref()
                .to_vec();
            (
                "eddsa-generated",
                "eddsa-generated",
                cfg(&[
                    ("eddsaPrivateKey", b64(pkcs8.as_ref())),
                    ("eddsaPublicKey", b64(&spki)),
                    ("eddsaEllipticCurveKey", "Ed25519".into()),
                    priority,
                ]),
            )
        }
        Generate::HmacHs512 => (
            "hmac-generated-hs512",
            "hmac-generated",
            cfg(&[
                ("kid", uuid::Uuid::new_v4().to_string()),
                ("secret", b64url(&random_bytes(64)?)),
                priority,
                ("algorithm", "HS512".into()),
            ]),
        ),
        Generate::Aes => (
            "aes-generated",
            "aes-generated",
            cfg(&[
                ("kid", uuid::Uuid::new_v4().to_string()),
                ("secret", b64url(&random_bytes(16)?)),
                priority,
            ]),
        ),
    };
    Ok(KeyComponent {
        id,
        name: name.to_string(),
        provider_id: provider.to_string(),
        config,
    })
}

/// The active signing key for `alg`: highest priority among active signature keys.
pub fn active_for<'a>(keys: &'a [RealmKey], alg: &str) -> Option<&'a RealmKey> {
    keys.iter()
        .filter(|k| k.active && k.key_use == KeyUse::Sig && k.alg == alg)
        .max_by_key(|k| k.priority)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_with_keycloak_kids_and_x5c() {
        for kind in [
            Generate::RsaSig("RS256"),
            Generate::RsaEnc,
            Generate::Es256,
            Generate::EdDsa,
        ] {
            let c = generate(kind, "demo", "id".into()).unwrap();
            let k = load(&c).unwrap().unwrap();
            assert_eq!(k.kid.len(), 43, "{kind:?}: kid is base64url(sha256)");
            assert_eq!(k.jwk["kid"], json!(k.kid));
            match kind {
                Generate::RsaSig(_) => {
                    assert_eq!(k.alg, "RS256");
                    assert!(k.jwk["x5c"][0].is_string());
                    assert_eq!(k.jwk["e"], "AQAB");
                    // Keycloak stores PKCS#1 ("MIIE..." with version 0 integer first).
                    let raw = b64_decode(c.config["privateKey"][0].as_str()).unwrap();
                    assert!(!der::looks_like_pkcs8(&raw));
                }
                Generate::RsaEnc => assert_eq!(k.jwk["use"], "enc"),
                Generate::Es256 => assert_eq!(k.jwk["crv"], "P-256"),
                Generate::EdDsa => assert_eq!(k.jwk["kty"], "OKP"),
                _ => {}
            }
        }
        for kind in [Generate::HmacHs512, Generate::Aes] {
            let c = generate(kind, "demo", "id".into()).unwrap();
            assert!(load(&c).unwrap().is_none());
        }
    }

    #[test]
    fn partial_export_components_without_private_keys_are_skipped() {
        let c = KeyComponent {
            id: "x".into(),
            name: "rsa-generated".into(),
            provider_id: "rsa-generated".into(),
            config: cfg(&[("priority", "100".into())]),
        };
        assert!(load(&c).unwrap().is_none());
    }

    #[test]
    fn garbage_key_material_is_an_error_naming_the_provider() {
        let c = KeyComponent {
            id: "x".into(),
            name: "mine".into(),
            provider_id: "rsa".into(),
            config: cfg(&[("privateKey", "AAAA".into())]),
        };
        let e = load(&c).unwrap_err();
        assert!(e.0.contains("mine"), "{e}");
    }
}
