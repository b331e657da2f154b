//! Compact JWS parsing (RFC 7515 §7.1) and the signature algorithms the guard accepts.
//!
//! Only asymmetric algorithms exist in [`Algorithm`]: `none` and the HMAC family cannot be
//! named, so a token can never make the guard use a public key as an HMAC secret.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::b64;
use crate::claims::Known;
use crate::error::Error;

/// A JWS signature algorithm the guard can verify (RFC 7518 §3, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Keycloak's default).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// The key type (`kty`) family of an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    Ec,
    Okp,
}

impl Algorithm {
    /// Every algorithm, which is also the default allowlist.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The JOSE name (`"RS256"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name. `none`, `HS*` and anything unknown give `None`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 | Algorithm::ES384 => KeyFamily::Ec,
            Algorithm::EdDSA => KeyFamily::Okp,
        }
    }

    /// The aws-lc-rs verification parameters. RSA keys must be 2048 bits or more.
    pub(crate) fn verification(self) -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        use aws_lc_rs::signature as s;
        match self {
            Algorithm::RS256 => &s::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &s::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &s::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &s::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &s::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &s::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 => &s::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &s::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &s::ED25519,
        }
    }

    pub(crate) fn rsa_parameters(self) -> Option<&'static aws_lc_rs::signature::RsaParameters> {
        use aws_lc_rs::signature as s;
        Some(match self {
            Algorithm::RS256 => &s::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &s::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &s::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &s::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &s::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &s::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest signature accepted: RSA with an 8192-bit modulus (the largest key the verification
/// parameters take) signs 1024 bytes; every other algorithm signs fewer.
const MAX_SIGNATURE_LEN: usize = 1024;

/// Headers up to this size are decoded on the stack (Keycloak's are about 100 bytes); longer
/// ones, such as headers carrying a certificate chain, on the heap.
const STACK_HEADER_LEN: usize = 512;

/// `kid`s up to this length are kept inline (Keycloak's are 43 characters).
const INLINE_KID_LEN: usize = 64;

/// The header parameters the guard reads. `alg` and `kid` borrow from the decoded header unless
/// they contain JSON escapes; `crit` is only tested for presence.
#[derive(Deserialize)]
struct RawHeader<'h> {
    #[serde(borrow)]
    alg: Cow<'h, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'h, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// A token's `kid`, compared byte for byte with the keys' (inline when short: no allocation).
pub(crate) enum Kid {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KID_LEN],
    },
    Heap(Box<[u8]>),
}

impl Kid {
    fn new(kid: &str) -> Kid {
        let mut bytes = [0; INLINE_KID_LEN];
        match (bytes.get_mut(..kid.len()), u8::try_from(kid.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(kid.as_bytes());
                Kid::Inline { len, bytes }
            }
            _ => Kid::Heap(kid.as_bytes().into()),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Kid::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Kid::Heap(bytes) => bytes,
        }
    }
}

impl std::fmt::Debug for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

/// A token split and decoded, signature not yet checked.
///
/// The header is decoded into a stack buffer, the payload once into a vector that later backs
/// [`crate::Claims`]; of the claims, only those the guard reads are parsed into values. The
/// signature is kept inline; the validator keeps this value on the heap across its `.await`.
pub(crate) struct UnverifiedJwt<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<Kid>,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a [u8],
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
    /// The claims the guard reads, untrusted until the signature is verified.
    pub(crate) known: Known,
    /// The decoded payload, a JSON object.
    pub(crate) payload: Vec<u8>,
}

impl UnverifiedJwt<'_> {
    /// The decoded signature.
    pub(crate) fn signature(&self) -> &[u8] {
        self.signature.get(..self.signature_len).unwrap_or_default()
    }
}

/// Splits and decodes a compact JWS. Header parameters such as `jku`, `x5u` or `jwk` are ignored:
/// keys only ever come from the configured issuer's JWKS. `required` names the claims whose
/// presence is noted while the payload is read.
///
/// Base64url is strict (no padding, no other alphabet, zero trailing bits: [`crate::b64`]).
pub(crate) fn parse<'a>(
    token: &'a str,
    allowed: &[Algorithm],
    required: &[String],
) -> Result<UnverifiedJwt<'a>, Error> {
    // Exactly three parts.
    let (h, rest) = token.split_once('.').ok_or(Error::Malformed)?;
    let (p, s) = rest.split_once('.').ok_or(Error::Malformed)?;
    if s.contains('.') {
        return Err(Error::Malformed);
    }
    let (alg, kid) = parse_header(h.as_bytes())?;
    let alg = alg
        .filter(|a| allowed.contains(a))
        .ok_or(Error::UnsupportedAlgorithm)?;

    let payload = b64::decode_vec(p.as_bytes()).ok_or(Error::Malformed)?;
    let known = Known::scan(&payload, required).map_err(|_| Error::Malformed)?;

    // Too long for any signature, or not base64url.
    let mut signature = [0; MAX_SIGNATURE_LEN];
    let signature_len = b64::decode_to(s.as_bytes(), &mut signature).ok_or(Error::Malformed)?;
    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    Ok(UnverifiedJwt {
        alg,
        kid,
        signing_input,
        signature,
        signature_len,
        known,
        payload,
    })
}

/// Decodes and reads the header: the algorithm (`None` when it is not one the guard knows) and
/// the `kid`. A `crit` parameter is refused: no extension is understood.
fn parse_header(encoded: &[u8]) -> Result<(Option<Algorithm>, Option<Kid>), Error> {
    fn read(json: &[u8]) -> Result<(Option<Algorithm>, Option<Kid>), Error> {
        let header: RawHeader<'_> = serde_json::from_slice(json).map_err(|_| Error::Malformed)?;
        if header.crit.is_some() {
            return Err(Error::UnsupportedCritical);
        }
        Ok((
            Algorithm::from_name(&header.alg),
            header.kid.as_deref().map(Kid::new),
        ))
    }
    let mut stack = [0u8; STACK_HEADER_LEN];
    match b64::decode_to(encoded, &mut stack) {
        Some(n) => read(stack.get(..n).unwrap_or_default()),
        None if b64::decoded_len(encoded.len()).is_some_and(|n| n > STACK_HEADER_LEN) => {
            read(&b64::decode_vec(encoded).ok_or(Error::Malformed)?)
        }
        None => Err(Error::Malformed),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn names_round_trip_and_none_hmac_do_not_exist() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.as_str()), Some(a));
        }
        for n in [
            "none", "None", "HS256", "HS384", "HS512", "rs256", "ES512", "",
        ] {
            assert_eq!(Algorithm::from_name(n), None, "{n}");
        }
    }

    #[test]
    fn parse_rejects_shapes() {
        let h = b64(r#"{"alg":"RS256","kid":"k"}"#);
        let p = b64(r#"{"iss":"x"}"#);
        assert!(parse(&format!("{h}.{p}.c2ln"), &Algorithm::ALL, &[]).is_ok());
        for bad in [
            format!("{h}.{p}"),
            format!("{h}.{p}.c2ln.x"),
            format!("{h}.{p}.c2ln.x.y"),
            format!("{h}.{p}.c2ln="),
            format!("{h}=.{p}.c2ln"),
            format!("{}.{p}.c2ln", b64("not json")),
            format!("{h}.{}.c2ln", b64("[1,2]")),
            format!("{h}.{}.c2ln", b64("\"s\"")),
            // longer than any signature (RSA 8192 signs 1024 bytes)
            format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode([7u8; 1025])),
        ] {
            assert!(
                matches!(parse(&bad, &Algorithm::ALL, &[]), Err(Error::Malformed)),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_refuses_none_hmac_disallowed_and_crit() {
        let p = b64(r#"{"iss":"x"}"#);
        for alg in ["none", "HS256", "ES512"] {
            let h = b64(&format!(r#"{{"alg":"{alg}"}}"#));
            let t = format!("{h}.{p}.");
            assert!(matches!(
                parse(&t, &Algorithm::ALL, &[]),
                Err(Error::UnsupportedAlgorithm)
            ));
        }
        let h = b64(r#"{"alg":"PS256"}"#);
        assert!(matches!(
            parse(&format!("{h}.{p}.c2ln"), &[Algorithm::RS256], &[]),
            Err(Error::UnsupportedAlgorithm)
        ));
        let h = b64(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#);
        assert!(matches!(
            parse(&format!("{h}.{p}.c2ln"), &Algorithm::ALL, &[]),
            Err(Error::UnsupportedCritical)
        ));
    }

    #[test]
    fn signing_input_is_header_dot_payload() {
        let h = b64(r#"{"alg":"EdDSA"}"#);
        let p = b64(r#"{"a":1}"#);
        let t = format!("{h}.{p}.c2ln");
        let jwt = parse(&t, &Algorithm::ALL, &[]).unwrap();
        assert_eq!(jwt.signing_input, format!("{h}.{p}").as_bytes());
        assert_eq!(jwt.signature(), b"sig");
        assert_eq!(jwt.alg, Algorithm::EdDSA);
        assert!(jwt.kid.is_none());
    }

    #[test]
    fn long_headers_and_kids() {
        let kid = "k".repeat(300);
        let header = format!(
            r#"{{"alg":"RS256","kid":"{kid}","x5c":["{}"]}}"#,
            "A".repeat(600)
        );
        let t = format!("{}.{}.c2ln", b64(&header), b64(r#"{"a":1}"#));
        let jwt = parse(&t, &Algorithm::ALL, &[]).unwrap();
        assert_eq!(jwt.kid.unwrap().as_bytes(), kid.as_bytes());
        let t = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","kid":"short"}"#),
            b64("{}")
        );
        let jwt = parse(&t, &Algorithm::ALL, &[]).unwrap();
        assert_eq!(jwt.kid.unwrap().as_bytes(), b"short");
    }
}
