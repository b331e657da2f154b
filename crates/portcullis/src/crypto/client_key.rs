//! A client's public signature key (RFC 7523 `private_key_jwt`): read from a JWK, an X.509
//! certificate or a SubjectPublicKeyInfo, chosen by `kid`/`alg` as Keycloak chooses it, and
//! used to verify a client assertion.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use x509_cert::der::{Decode, Encode};
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::jws::Parsed;
use super::{b64url, CryptoError};

/// The key material, in the form aws-lc-rs verifies with.
#[derive(Clone, PartialEq, Eq)]
enum Material {
    /// RSA from a JWK's `n` and `e` (big-endian).
    RsaComponents { n: Vec<u8>, e: Vec<u8> },
    /// RSA as a PKCS#1 `RSAPublicKey` (from a certificate or SPKI).
    RsaPkcs1(Vec<u8>),
    /// ECDSA: the uncompressed point on P-256, P-384 or P-521.
    Ec { curve: Curve, point: Vec<u8> },
    /// Ed25519: the 32-byte public key.
    Ed25519(Vec<u8>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Curve {
    P256,
    P384,
    P521,
}

/// A client's public key with the metadata Keycloak's `KeyWrapper` keeps for selection.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKey {
    /// `kid`: the JWK's, or for a certificate `jwt.credential.kid` or the base64url SHA-256
    /// of the SubjectPublicKeyInfo (Keycloak's `KeyUtils.createKeyId`).
    pub kid: Option<String>,
    /// `alg` of the JWK, if it names one.
    pub alg: Option<String>,
    /// Configured as the client's certificate or public key (Keycloak's
    /// `isDefaultClientCertificate`): chosen for an assertion without `kid`.
    pub default_certificate: bool,
    material: Material,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientKey(kid={:?}, alg={:?}, {})",
            self.kid,
            self.alg,
            match &self.material {
                Material::RsaComponents { .. } | Material::RsaPkcs1(_) => "RSA",
                Material::Ec { .. } => "EC",
                Material::Ed25519(_) => "OKP",
            }
        )
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";

impl ClientKey {
    /// A public JWK (`kty` RSA, EC P-256/P-384/P-521, OKP Ed25519); `None` for anything else
    /// (private or symmetric keys, unknown curves, missing members), which Keycloak ignores too.
    pub fn from_jwk(jwk: &Value) -> Option<ClientKey> {
        let s = |k: &str| jwk.get(k).and_then(Value::as_str);
        let bytes =
            |k: &str| s(k).and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok());
        let material = match s("kty")? {
            "RSA" => Material::RsaComponents {
                n: bytes("n")?,
                e: bytes("e")?,
            },
            "EC" => {
                let (curve, len) = match s("crv")? {
                    "P-256" => (Curve::P256, 32),
                    "P-384" => (Curve::P384, 48),
                    "P-521" => (Curve::P521, 66),
                    _ => return None,
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend(x);
                point.extend(y);
                Material::Ec { curve, point }
            }
            "OKP" if s("crv")? == "Ed25519" => Material::Ed25519(bytes("x")?),
            _ => return None,
        };
        Some(ClientKey {
            kid: s("kid").map(str::to_string),
            alg: s("alg").map(str::to_string),
            default_certificate: false,
            material,
        })
    }

    /// A DER SubjectPublicKeyInfo (Keycloak's `jwt.credential.public.key`, PEM body).
    pub fn from_spki(spki_der: &[u8], kid: Option<String>) -> Result<ClientKey, CryptoError> {
        let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
            .map_err(|_| CryptoError("malformed SubjectPublicKeyInfo".into()))?;
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| CryptoError("malformed public key bit string".into()))?
            .to_vec();
        let material = match spki.algorithm.oid.to_string().as_str() {
            OID_RSA => Material::RsaPkcs1(key),
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok())
                    .ok_or_else(|| CryptoError("EC key without a named curve".into()))?;
                let curve = match curve.to_string().as_str() {
                    OID_P256 => Curve::P256,
                    OID_P384 => Curve::P384,
                    OID_P521 => Curve::P521,
                    other => return Err(CryptoError(format!("unsupported EC curve {other}"))),
                };
                Material::Ec { curve, point: key }
            }
            OID_ED25519 => Material::Ed25519(key),
            other => return Err(CryptoError(format!("unsupported key algorithm {other}"))),
        };
        // Keycloak's KeyUtils.createKeyId: base64url(SHA-256(PublicKey.getEncoded())).
        let kid = kid.unwrap_or_else(|| b64url(digest::digest(&digest::SHA256, spki_der).as_ref()));
        Ok(ClientKey {
            kid: Some(kid),
            alg: None,
            default_certificate: true,
            material,
        })
    }

    /// An X.509 certificate in DER; its SubjectPublicKeyInfo becomes the key. Validity dates
    /// and the issuer are not checked, as Keycloak does not check them for client keys.
    pub fn from_certificate(
        cert_der: &[u8],
        kid: Option<String>,
    ) -> Result<ClientKey, CryptoError> {
        let cert = x509_cert::Certificate::from_der(cert_der)
            .map_err(|_| CryptoError("malformed X.509 certificate".into()))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| CryptoError("malformed X.509 certificate".into()))?;
        Self::from_spki(&spki, kid)
    }

    /// Keycloak's `KeyWrapper.getAlgorithmOrDefault`: the JWK's `alg`, or the key type's
    /// usual one.
    pub fn algorithm_or_default(&self) -> &str {
        if let Some(a) = &self.alg {
            return a;
        }
        match &self.material {
            Material::RsaComponents { .. } | Material::RsaPkcs1(_) => "RS256",
            Material::Ec {
                curve: Curve::P256, ..
            } => "ES256",
            Material::Ec {
                curve: Curve::P384, ..
            } => "ES384",
            Material::Ec {
                curve: Curve::P521, ..
            } => "ES512",
            Material::Ed25519(_) => "EdDSA",
        }
    }

    /// Verifies a compact JWS with this key under the header's `alg`, which must suit the key
    /// type (never HMAC, never `none`).
    pub fn verify(&self, token: &Parsed) -> Result<(), CryptoError> {
        let bad = || CryptoError("invalid token signature".into());
        let alg = token
            .header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(bad)?;
        let (input, sig) = (token.signing_input(), token.signature());
        let rsa: Option<&'static signature::RsaParameters> = match alg {
            "RS256" => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            "RS384" => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            "RS512" => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            "PS256" => Some(&signature::RSA_PSS_2048_8192_SHA256),
            "PS384" => Some(&signature::RSA_PSS_2048_8192_SHA384),
            "PS512" => Some(&signature::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        match (&self.material, rsa) {
            (Material::RsaComponents { n, e }, Some(params)) => {
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, input, sig)
                    .map_err(|_| bad())
            }
            (Material::RsaPkcs1(der), Some(params)) => UnparsedPublicKey::new(params, der)
                .verify(input, sig)
                .map_err(|_| bad()),
            (Material::Ec { curve, point }, None) => {
                let algorithm: &'static dyn VerificationAlgorithm = match (curve, alg) {
                    (Curve::P256, "ES256") => &signature::ECDSA_P256_SHA256_FIXED,
                    (Curve::P384, "ES384") => &signature::ECDSA_P384_SHA384_FIXED,
                    (Curve::P521, "ES512") => &signature::ECDSA_P521_SHA512_FIXED,
                    _ => return Err(bad()),
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(input, sig)
                    .map_err(|_| bad())
            }
            (Material::Ed25519(key), None) if matches!(alg, "EdDSA" | "Ed25519") => {
                UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(input, sig)
                    .map_err(|_| bad())
            }
            _ => Err(bad()),
        }
    }
}

/// Keycloak's `PublicKeysWrapper.getKeyByKidAndAlg`: a key with the assertion's `kid` and
/// `alg`, else one with its `kid` (a missing `kid` matches keys without one); for an assertion
/// without `kid` also the first key whose algorithm (or its type's default) is `alg`, and then
/// the configured certificate.
pub fn select<'a>(keys: &'a [ClientKey], kid: Option<&str>, alg: &str) -> Option<&'a ClientKey> {
    keys.iter()
        .find(|k| k.kid.as_deref() == kid && k.alg.as_deref() == Some(alg))
        .or_else(|| keys.iter().find(|k| k.kid.as_deref() == kid))
        .or_else(|| {
            kid.is_none()
                .then(|| {
                    keys.iter()
                        .find(|k| k.algorithm_or_default() == alg)
                        .or_else(|| keys.iter().find(|k| k.default_certificate))
                })
                .flatten()
        })
}

/// The signature keys of a JWK Set: keys whose `use` is `sig`, and, when `missing_use_is_sig`
/// (keys fetched from `jwks.url`), keys without `use` (Keycloak's
/// `JWKSUtils.getKeyWrappersForUse`). Unsupported or malformed keys are skipped.
pub fn signature_keys(jwks: &Value, missing_use_is_sig: bool) -> Vec<ClientKey> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|k| match k.get("use").and_then(Value::as_str) {
            Some(u) => u == "sig",
            None => missing_use_is_sig && k.get("use").is_none(),
        })
        .filter_map(ClientKey::from_jwk)
        .collect()
}

/// Decodes a PEM body or a whole PEM block (Keycloak stores the base64 without the armour).
pub fn pem_or_base64(text: &str) -> Result<Vec<u8>, CryptoError> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .collect();
    super::b64_decode(&body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::crypto::jws;
    use crate::crypto::keys::{generate, load, Generate};
    use serde_json::json;

    fn signed(kind: Generate) -> (crate::crypto::keys::RealmKey, String) {
        let key = load(&generate(kind, "r", "id".into()).unwrap())
            .unwrap()
            .unwrap();
        let token = jws::sign(&key, "JWT", &json!({"sub": "c"})).unwrap();
        (key, token)
    }

    #[test]
    fn spki_keys_verify_and_get_keycloaks_kid() {
        for kind in [
            Generate::RsaSig("RS256"),
            Generate::RsaSig("PS256"),
            Generate::Es256,
            Generate::EdDsa,
        ] {
            let (key, token) = signed(kind);
            let k = ClientKey::from_spki(&key.spki, None).unwrap();
            assert!(k.default_certificate);
            assert_eq!(
                k.kid.as_deref().unwrap(),
                b64url(digest::digest(&digest::SHA256, &key.spki).as_ref())
            );
            k.verify(&jws::parse(&token).unwrap()).unwrap();
            // The same key from the realm's JWK verifies as well.
            let from_jwk = ClientKey::from_jwk(&key.jwk).unwrap();
            from_jwk.verify(&jws::parse(&token).unwrap()).unwrap();
        }
        assert!(ClientKey::from_spki(b"\x30\x03\x02\x01\x00", None).is_err());
    }

    #[test]
    fn a_key_refuses_other_algorithms_and_other_signers() {
        let (rsa, token) = signed(Generate::RsaSig("RS256"));
        let (ec, ec_token) = signed(Generate::Es256);
        let rsa_key = ClientKey::from_spki(&rsa.spki, None).unwrap();
        let ec_key = ClientKey::from_spki(&ec.spki, None).unwrap();
        assert!(ec_key.verify(&jws::parse(&token).unwrap()).is_err());
        assert!(rsa_key.verify(&jws::parse(&ec_token).unwrap()).is_err());
        // alg says HS256: never verified with a public key.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[0] = b64url(br#"{"alg":"HS256"}"#);
        assert!(rsa_key
            .verify(&jws::parse(&parts.join(".")).unwrap())
            .is_err());
    }

    #[test]
    fn selection_follows_keycloak() {
        let k = |kid: Option<&str>, alg: Option<&str>, cert: bool| ClientKey {
            kid: kid.map(str::to_string),
            alg: alg.map(str::to_string),
            default_certificate: cert,
            material: Material::RsaPkcs1(vec![]),
        };
        let keys = vec![
            k(Some("a"), Some("PS256"), false),
            k(Some("a"), Some("RS256"), false),
            k(Some("b"), None, false),
        ];
        assert_eq!(select(&keys, Some("a"), "RS256"), Some(&keys[1]));
        assert_eq!(select(&keys, Some("a"), "RS512"), Some(&keys[0]));
        assert_eq!(select(&keys, Some("c"), "RS256"), None);
        // No kid: by algorithm (the type's default when the JWK has none).
        assert_eq!(select(&keys, None, "RS256"), Some(&keys[1]));
        assert_eq!(select(&keys, None, "ES256"), None);
        let cert = vec![k(Some("thumb"), None, true)];
        assert_eq!(select(&cert, None, "PS256"), Some(&cert[0]));
        assert_eq!(select(&cert, Some("other"), "RS256"), None);
    }

    #[test]
    fn jwks_use_rules() {
        let (rsa, _) = signed(Generate::RsaSig("RS256"));
        let mut no_use = rsa.jwk.clone();
        no_use.as_object_mut().unwrap().remove("use");
        let mut enc = rsa.jwk.clone();
        enc["use"] = json!("enc");
        let set =
            json!({"keys": [rsa.jwk, no_use, enc, {"kty": "oct", "k": "AAAA", "use": "sig"}]});
        assert_eq!(signature_keys(&set, false).len(), 1);
        assert_eq!(signature_keys(&set, true).len(), 2);
    }

    #[test]
    fn certificate_public_key_is_its_spki() {
        let kp = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".into()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let from_cert = ClientKey::from_certificate(cert.der(), None).unwrap();
        let from_spki = ClientKey::from_spki(&kp.public_key_der(), None).unwrap();
        assert_eq!(from_cert, from_spki);
        let named = ClientKey::from_certificate(cert.der(), Some("mine".into())).unwrap();
        assert_eq!(named.kid.as_deref(), Some("mine"));
        assert!(ClientKey::from_certificate(b"not a certificate", None).is_err());
    }

    #[test]
    fn pem_armour_is_optional() {
        let b = pem_or_base64("-----BEGIN CERTIFICATE-----\nYWJj\n-----END CERTIFICATE-----\n")
            .unwrap();
        assert_eq!(b, b"abc");
        assert_eq!(pem_or_base64("YWJj").unwrap(), b"abc");
    }
}
