//! JWK Set (RFC 7517) parsing into pre-parsed verification keys.
//!
//! Keys are parsed once per fetch into aws-lc-rs `ParsedPublicKey`s, so verifying a token does
//! no key parsing. Only signature keys of an allowed algorithm survive: `use` other than `sig`,
//! `key_ops` without `verify`, `oct` (symmetric) keys, unknown curves and keys whose `alg`
//! disagrees with their `kty`/`crv` are dropped.

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

use crate::jwt::{Algorithm, KeyFamily};

/// At most this many JWKs of one set are considered.
const MAX_KEYS: usize = 100;

/// One verification key for one algorithm.
pub(crate) struct KeyEntry {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) key: ParsedPublicKey,
}

/// The usable keys of one issuer.
#[derive(Default)]
pub(crate) struct KeySet {
    entries: Vec<KeyEntry>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| (e.kid.as_deref(), e.alg)))
            .finish()
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn strip_leading_zeros(mut v: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = v {
        v = rest;
    }
    v
}

impl KeySet {
    /// Parses a JWKS document. Fails only if the document itself is not a JWK Set;
    /// individual unusable keys are skipped.
    pub(crate) fn parse(json: &[u8], allowed: &[Algorithm]) -> Result<KeySet, serde_json::Error> {
        let raw: RawSet = serde_json::from_slice(json)?;
        let mut entries = Vec::new();
        for value in raw.keys.into_iter().take(MAX_KEYS) {
            let Ok(jwk) = serde_json::from_value::<RawJwk>(value) else {
                continue;
            };
            add_jwk(&mut entries, jwk, allowed);
        }
        Ok(KeySet { entries })
    }

    /// Keys that may have signed a token with this header: same `kid` (when the token names one;
    /// compared byte for byte) and same algorithm.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a [u8]>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a KeyEntry> + 'a {
        self.entries.iter().filter(move |e| {
            e.alg == alg && (kid.is_none() || e.kid.as_deref().map(str::as_bytes) == kid)
        })
    }

    /// Number of (key, algorithm) pairs.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

fn add_jwk(entries: &mut Vec<KeyEntry>, jwk: RawJwk, allowed: &[Algorithm]) {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return;
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return;
    }
    let family = match jwk.kty.as_str() {
        "RSA" => KeyFamily::Rsa,
        "EC" => KeyFamily::Ec,
        "OKP" => KeyFamily::Okp,
        _ => return, // "oct" and anything else: never a verification key here
    };
    // The algorithms this JWK may verify: its own `alg` if it names one, else every allowed
    // algorithm of its family (and curve).
    let curve_alg = match (family, jwk.crv.as_deref()) {
        (KeyFamily::Ec, Some("P-256")) => Some(Algorithm::ES256),
        (KeyFamily::Ec, Some("P-384")) => Some(Algorithm::ES384),
        (KeyFamily::Okp, Some("Ed25519")) => Some(Algorithm::EdDSA),
        (KeyFamily::Rsa, _) => None,
        _ => return, // unsupported curve
    };
    let algs: Vec<Algorithm> = match jwk.alg.as_deref() {
        Some(name) => match Algorithm::from_name(name) {
            Some(a) if a.family() == family && curve_alg.is_none_or(|c| c == a) => vec![a],
            _ => return, // e.g. RSA-OAEP, HS256, or alg/kty disagreement
        },
        None => Algorithm::ALL
            .into_iter()
            .filter(|a| a.family() == family && curve_alg.is_none_or(|c| c == *a))
            .collect(),
    };
    for alg in algs.into_iter().filter(|a| allowed.contains(a)) {
        let key = match family {
            KeyFamily::Rsa => rsa_key(&jwk, alg),
            KeyFamily::Ec => ec_key(&jwk, alg),
            KeyFamily::Okp => ed_key(&jwk, alg),
        };
        match key {
            Some(key) => entries.push(KeyEntry {
                kid: jwk.kid.clone(),
                alg,
                key,
            }),
            None => tracing::debug!(kid = ?jwk.kid, %alg, "skipping unusable JWK"),
        }
    }
}

fn rsa_key(jwk: &RawJwk, alg: Algorithm) -> Option<ParsedPublicKey> {
    let n = b64(jwk.n.as_deref()?)?;
    let e = b64(jwk.e.as_deref()?)?;
    let n = strip_leading_zeros(&n);
    // 2048 to 8192 bits, as the verification parameters require.
    if !(256..=1024).contains(&n.len()) {
        return None;
    }
    let components = RsaPublicKeyComponents {
        n,
        e: strip_leading_zeros(&e),
    };
    components.to_parsed_public_key(alg.rsa_parameters()?).ok()
}

fn ec_key(jwk: &RawJwk, alg: Algorithm) -> Option<ParsedPublicKey> {
    let len = match alg {
        Algorithm::ES256 => 32,
        Algorithm::ES384 => 48,
        _ => return None,
    };
    let x = b64(jwk.x.as_deref()?)?;
    let y = b64(jwk.y.as_deref()?)?;
    if x.len() != len || y.len() != len {
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    ParsedPublicKey::new(alg.verification(), point).ok()
}

fn ed_key(jwk: &RawJwk, alg: Algorithm) -> Option<ParsedPublicKey> {
    let x = b64(jwk.x.as_deref()?)?;
    if x.len() != 32 {
        return None;
    }
    ParsedPublicKey::new(alg.verification(), x).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING,
    };

    fn enc(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    fn ec_jwk(extra: &str) -> String {
        let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let p = kp.public_key().as_ref().to_vec();
        format!(
            r#"{{"kty":"EC","crv":"P-256","kid":"ec","x":"{}","y":"{}"{extra}}}"#,
            enc(&p[1..33]),
            enc(&p[33..])
        )
    }

    fn ed_jwk(extra: &str) -> String {
        let kp = Ed25519KeyPair::generate().unwrap();
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"{}"{extra}}}"#,
            enc(kp.public_key().as_ref())
        )
    }

    fn set(keys: &[String]) -> KeySet {
        KeySet::parse(
            format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes(),
            &Algorithm::ALL,
        )
        .unwrap()
    }

    #[test]
    fn usable_keys_are_kept() {
        let s = set(&[ec_jwk(r#","use":"sig","alg":"ES256""#), ed_jwk("")]);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.candidates(Some(b"ec".as_slice()), Algorithm::ES256)
                .count(),
            1
        );
        assert_eq!(
            s.candidates(Some(b"ed".as_slice()), Algorithm::EdDSA)
                .count(),
            1
        );
        assert_eq!(s.candidates(None, Algorithm::EdDSA).count(), 1);
        assert_eq!(
            s.candidates(Some(b"ec".as_slice()), Algorithm::ES384)
                .count(),
            0
        );
        assert_eq!(
            s.candidates(Some(b"ed".as_slice()), Algorithm::ES256)
                .count(),
            0
        );
    }

    #[test]
    fn unusable_keys_are_dropped() {
        let s = set(&[
            ec_jwk(r#","use":"enc""#),
            ec_jwk(r#","key_ops":["encrypt"]"#),
            ec_jwk(r#","alg":"RS256""#),
            ec_jwk(r#","alg":"ES384""#),
            ec_jwk(r#","alg":"HS256""#),
            ed_jwk(r#","alg":"ES256""#),
            r#"{"kty":"oct","kid":"h","k":"c2VjcmV0","alg":"HS256"}"#.into(),
            r#"{"kty":"EC","crv":"P-256","kid":"bad","x":"AA","y":"AA"}"#.into(),
            r#"{"kty":"EC","crv":"secp256k1","kid":"k1","x":"AA","y":"AA"}"#.into(),
            r#"{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB","alg":"RSA-OAEP"}"#.into(),
            r#"{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}"#.into(),
            r#"{"no":"kty"}"#.into(),
            r#"17"#.into(),
        ]);
        assert_eq!(s.len(), 0, "{s:?}");
    }

    #[test]
    fn allowlist_limits_algorithms() {
        let keys = format!(r#"{{"keys":[{}]}}"#, ec_jwk(""));
        let s = KeySet::parse(keys.as_bytes(), &[Algorithm::RS256]).unwrap();
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn not_a_jwks_is_an_error() {
        assert!(KeySet::parse(b"{}", &Algorithm::ALL).is_err());
        assert!(KeySet::parse(b"[]", &Algorithm::ALL).is_err());
        assert!(KeySet::parse(b"<html>", &Algorithm::ALL).is_err());
    }
}
