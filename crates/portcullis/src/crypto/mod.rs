//! Cryptography: secrets, realm signing keys, JWKS, password hashing. aws-lc-rs underneath.

pub mod client_cert;
pub mod client_key;
pub mod der;
pub mod jwks;
pub mod jws;
pub mod keys;
pub mod password;
pub mod rsa_pool;
pub mod seal;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// SHA-256 of a value, lower-case hex: how codes and tokens are stored (never the values).
pub fn sha256_hex(value: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A secret value: `Debug` prints `[redacted]`, comparison is constant-time.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Constant-time comparison.
    pub fn ct_eq(&self, other: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(self.0.as_bytes(), other.as_bytes())
            .is_ok()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `n` random bytes from the OS CSPRNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut v = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut v)
        .map_err(|_| CryptoError("random number generator failed".into()))?;
    Ok(v)
}

/// A random string of ASCII letters and digits (Keycloak's client secret alphabet).
/// Falls back to a UUID-derived string only if the CSPRNG fails, which aws-lc-rs treats as fatal.
pub fn random_alphanumeric(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let bytes = random_bytes(64).unwrap_or_else(|_| uuid::Uuid::new_v4().as_bytes().repeat(4));
        // Rejection sampling keeps the distribution uniform (248 = 4 * 62).
        for b in bytes.into_iter().filter(|b| *b < 248) {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(b % 62) as usize] as char);
        }
    }
    out
}

/// Standard base64 (Keycloak's encoding for key material and hashes).
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64, tolerating whitespace and missing padding.
pub fn b64_decode(s: &str) -> Result<Vec<u8>, CryptoError> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let trimmed = clean.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|e| CryptoError(format!("invalid base64: {e}")))
}

/// base64url without padding (JOSE).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A cryptographic failure, described without secret material.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CryptoError(pub String);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted_and_compare_works() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert!(s.ct_eq("hunter2"));
        assert!(!s.ct_eq("hunter3"));
        assert!(!s.ct_eq("hunter"));
    }

    #[test]
    fn base64_roundtrip_tolerates_missing_padding() {
        assert_eq!(b64_decode("YWJj").unwrap(), b"abc");
        assert_eq!(b64_decode("YWI").unwrap(), b"ab");
        assert_eq!(b64_decode("YWI=").unwrap(), b"ab");
    }
}
