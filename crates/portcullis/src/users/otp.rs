//! One-time passwords as Keycloak has them: the realm's OTP policy, the stored credential
//! (type `otp`, `secretData` and `credentialData` JSON strings as `OTPCredentialModel` writes
//! them), code generation (RFC 4226 HOTP, RFC 6238 TOTP) and validation with Keycloak's
//! candidate order, the `otpauth://` key URI and Base32. Pure functions; the callers keep the
//! used codes (reuse refusal) and HOTP counters in the store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::representation::RealmRepresentation;

/// HMAC algorithm (`otpPolicyAlgorithm`, Java Mac names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `HmacSHA1`.
    Sha1,
    /// `HmacSHA256`.
    Sha256,
    /// `HmacSHA512`.
    Sha512,
}

impl Algorithm {
    /// From Keycloak's name (`HmacSHA1`, ...), `None` for another.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "HmacSHA1" => Algorithm::Sha1,
            "HmacSHA256" => Algorithm::Sha256,
            "HmacSHA512" => Algorithm::Sha512,
            _ => return None,
        })
    }

    /// Keycloak's name.
    pub fn java_name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "HmacSHA1",
            Algorithm::Sha256 => "HmacSHA256",
            Algorithm::Sha512 => "HmacSHA512",
        }
    }

    /// The name in an `otpauth://` URI.
    pub fn uri_name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    fn hmac(self) -> aws_lc_rs::hmac::Algorithm {
        match self {
            Algorithm::Sha1 => aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::Sha256 => aws_lc_rs::hmac::HMAC_SHA256,
            Algorithm::Sha512 => aws_lc_rs::hmac::HMAC_SHA512,
        }
    }
}

/// The realm's OTP policy (`OTPPolicy`; Keycloak's defaults for absent fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `totp` (true) or `hotp`.
    pub totp: bool,
    /// `otpPolicyAlgorithm`.
    pub algorithm: Algorithm,
    /// `otpPolicyDigits`.
    pub digits: u32,
    /// `otpPolicyPeriod` (seconds).
    pub period: u64,
    /// `otpPolicyLookAheadWindow`.
    pub look_ahead: u64,
    /// `otpPolicyInitialCounter`.
    pub initial_counter: u64,
    /// `otpPolicyCodeReusable`.
    pub code_reusable: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            totp: true,
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            look_ahead: 1,
            initial_counter: 0,
            code_reusable: false,
        }
    }
}

impl Policy {
    /// The realm's policy.
    pub fn of(rep: &RealmRepresentation) -> Self {
        let d = Policy::default();
        let get = |k: &str| rep.extra.get(k);
        let num = |k: &str, dflt: u64| get(k).and_then(Value::as_u64).unwrap_or(dflt);
        Policy {
            totp: get("otpPolicyType").and_then(Value::as_str) != Some("hotp"),
            algorithm: get("otpPolicyAlgorithm")
                .and_then(Value::as_str)
                .and_then(Algorithm::parse)
                .unwrap_or(d.algorithm),
            digits: u32::try_from(num("otpPolicyDigits", 6))
                .ok()
                .filter(|d| (1..=10).contains(d))
                .unwrap_or(6),
            period: num("otpPolicyPeriod", d.period).max(1),
            look_ahead: num("otpPolicyLookAheadWindow", d.look_ahead),
            initial_counter: num("otpPolicyInitialCounter", 0),
            code_reusable: get("otpPolicyCodeReusable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

/// `credentialData` of an OTP credential (`OTPCredentialData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialData {
    /// `totp` or `hotp`.
    pub sub_type: String,
    /// Digits.
    pub digits: u32,
    /// HOTP: the next counter; 0 for TOTP.
    pub counter: u64,
    /// TOTP period; 0 for HOTP.
    pub period: u64,
    /// `HmacSHA1`, ...
    pub algorithm: String,
    /// `BASE32` when the secret is Base32 text (imported from another system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_encoding: Option<String>,
}

/// `secretData` of an OTP credential (`OTPSecretData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretData {
    /// The secret as stored (raw characters, or Base32 with `secretEncoding`).
    pub value: String,
}

/// An OTP credential, parsed from its stored strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `credentialData`.
    pub data: CredentialData,
    /// The HMAC key.
    pub key: Vec<u8>,
}

impl Credential {
    /// Parses the stored `credentialData` and `secretData` strings.
    pub fn parse(credential_data: &str, secret_data: &str) -> Option<Self> {
        let data: CredentialData = serde_json::from_str(credential_data).ok()?;
        let secret: SecretData = serde_json::from_str(secret_data).ok()?;
        let key = if data
            .secret_encoding
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("BASE32"))
        {
            base32_decode(&secret.value)?
        } else {
            secret.value.into_bytes()
        };
        Some(Credential { data, key })
    }

    /// The stored strings of a new credential for `secret` under `policy`:
    /// (`credentialData`, `secretData`).
    pub fn stored(policy: &Policy, secret: &str) -> (String, String) {
        let data = CredentialData {
            sub_type: if policy.totp { "totp" } else { "hotp" }.into(),
            digits: policy.digits,
            counter: if policy.totp {
                0
            } else {
                policy.initial_counter
            },
            period: if policy.totp { policy.period } else { 0 },
            algorithm: policy.algorithm.java_name().into(),
            secret_encoding: None,
        };
        let secret = SecretData {
            value: secret.into(),
        };
        (
            serde_json::to_string(&data).unwrap_or_default(),
            serde_json::to_string(&secret).unwrap_or_default(),
        )
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::parse(&self.data.algorithm).unwrap_or(Algorithm::Sha1)
    }

    /// Whether the credential is HOTP.
    pub fn is_hotp(&self) -> bool {
        self.data.sub_type == "hotp"
    }

    /// Checks `code` at `now` (seconds) with the current look-ahead window: the matching TOTP
    /// step or HOTP counter, `None` when the code is wrong.
    pub fn verify(&self, code: &str, now: i64, look_ahead: u64) -> Option<u64> {
        let digits = self.data.digits;
        if code.len() != digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let matches = |c: u64| {
            let want = hotp(self.algorithm(), &self.key, c, digits);
            aws_lc_rs::constant_time::verify_slices_are_equal(want.as_bytes(), code.as_bytes())
                .is_ok()
        };
        if self.is_hotp() {
            let c = self.data.counter;
            return (c..=c.saturating_add(look_ahead)).find(|&x| matches(x));
        }
        let step = u64::try_from(now).ok()? / self.data.period.max(1);
        totp_candidates(step, look_ahead).find(|&x| matches(x))
    }
}

/// Keycloak's TOTP candidate order: `T, T+1, T-1, T+2, T-2, ...` up to the window.
fn totp_candidates(step: u64, window: u64) -> impl Iterator<Item = u64> {
    std::iter::once(step).chain((1..=window).flat_map(move |i| {
        [step.checked_add(i), step.checked_sub(i)]
            .into_iter()
            .flatten()
    }))
}

/// RFC 4226 HOTP: the code for `counter`, left-padded to `digits`.
pub fn hotp(alg: Algorithm, key: &[u8], counter: u64, digits: u32) -> String {
    let k = aws_lc_rs::hmac::Key::new(alg.hmac(), key);
    let tag = aws_lc_rs::hmac::sign(&k, &counter.to_be_bytes());
    let h = tag.as_ref();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    let modulo = 10u64.pow(digits);
    format!(
        "{:0width$}",
        u64::from(bin) % modulo,
        width = digits as usize
    )
}

/// RFC 6238 TOTP at `now` (seconds).
pub fn totp(alg: Algorithm, key: &[u8], now: u64, period: u64, digits: u32) -> String {
    hotp(alg, key, now / period.max(1), digits)
}

/// `HmacOTP.generateSecret(20)`: 20 characters of Keycloak's alphabet.
pub fn generate_secret() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW1234567890";
    let mut out = String::with_capacity(20);
    let mut buf = [0u8; 64];
    while out.len() < 20 {
        if aws_lc_rs::rand::fill(&mut buf).is_err() {
            continue;
        }
        // Rejection sampling: 59 symbols, bytes below 236 (4 × 59) are uniform.
        for b in buf {
            if out.len() == 20 {
                break;
            }
            if b < 236 {
                out.push(char::from(ALPHABET[usize::from(b % 59)]));
            }
        }
    }
    out
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 Base32 without padding (Keycloak's `Base32.encode`).
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(B32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Base32 decoding (case-insensitive, spaces and padding ignored), `None` for another symbol.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = B32
            .iter()
            .position(|&x| char::from(x) == c.to_ascii_uppercase())?;
        acc = (acc << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// Keycloak's `URLEncoder.encode` (form encoding), with `+` for a space.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The `otpauth://` key URI (`OTPPolicy.getKeyURI`): `issuer` is the realm's display name
/// or name, `account` the username, `secret` the raw secret.
pub fn key_uri(policy: &Policy, issuer: &str, account: &str, secret: &str) -> String {
    let issuer = form_encode(&issuer.replace(':', " ")).replace('+', "%20");
    let account = form_encode(account);
    let kind = if policy.totp { "totp" } else { "hotp" };
    let tail = if policy.totp {
        format!("period={}", policy.period)
    } else {
        format!("counter={}", policy.initial_counter)
    };
    format!(
        "otpauth://{kind}/{issuer}:{account}?secret={s}&digits={d}&algorithm={a}&issuer={issuer}&{tail}",
        s = base32_encode(secret.as_bytes()),
        d = policy.digits,
        a = policy.algorithm.uri_name(),
    )
}

/// How long a used TOTP code is kept to refuse its reuse: `period × (2w + 1)` seconds.
pub fn reuse_lifespan(policy: &Policy, credential: &Credential) -> i64 {
    let period = credential.data.period.max(1);
    i64::try_from(period * (2 * policy.look_ahead + 1)).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc4226_vectors() {
        let want = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (c, w) in want.iter().enumerate() {
            assert_eq!(hotp(Algorithm::Sha1, RFC_SECRET, c as u64, 6), *w);
        }
    }

    #[test]
    fn rfc6238_vectors() {
        let k256 = b"12345678901234567890123456789012";
        let k512 = b"1234567890123456789012345678901234567890123456789012345678901234";
        for (t, sha1, sha256, sha512) in [
            (59u64, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1234567890, "89005924", "91819424", "93441116"),
            (20000000000, "65353130", "77737706", "47863826"),
        ] {
            assert_eq!(totp(Algorithm::Sha1, RFC_SECRET, t, 30, 8), sha1);
            assert_eq!(totp(Algorithm::Sha256, k256, t, 30, 8), sha256);
            assert_eq!(totp(Algorithm::Sha512, k512, t, 30, 8), sha512);
        }
    }

    #[test]
    fn base32_and_key_uri_as_keycloak() {
        assert_eq!(
            base32_encode(b"aB3dE5fG7hJ9kL1mN2pQ"),
            "MFBDGZCFGVTEON3IJI4WWTBRNVHDE4CR"
        );
        assert_eq!(
            base32_decode("mfbd gzcf gvte on3i ji4w wtbr nvhd e4cr").unwrap(),
            b"aB3dE5fG7hJ9kL1mN2pQ"
        );
        assert_eq!(base32_decode("1"), None);
        assert_eq!(
            key_uri(&Policy::default(), "My Realm", "alice", "aB3dE5fG7hJ9kL1mN2pQ"),
            "otpauth://totp/My%20Realm:alice?secret=MFBDGZCFGVTEON3IJI4WWTBRNVHDE4CR&digits=6&algorithm=SHA1&issuer=My%20Realm&period=30"
        );
        let hotp_policy = Policy {
            totp: false,
            initial_counter: 5,
            ..Policy::default()
        };
        assert!(key_uri(&hotp_policy, "r", "a@b", "x").ends_with("&counter=5"));
        assert!(key_uri(&hotp_policy, "r", "a@b", "x").contains(":a%40b?"));
    }

    #[test]
    fn stored_shape_round_trips_and_verifies_in_window() {
        let p = Policy::default();
        let secret = generate_secret();
        assert_eq!(secret.len(), 20);
        let (cd, sd) = Credential::stored(&p, &secret);
        assert_eq!(
            cd,
            r#"{"subType":"totp","digits":6,"counter":0,"period":30,"algorithm":"HmacSHA1"}"#
        );
        assert_eq!(sd, format!(r#"{{"value":"{secret}"}}"#));
        let c = Credential::parse(&cd, &sd).unwrap();
        let now = 1_700_000_000i64;
        let at = |t: i64| totp(Algorithm::Sha1, secret.as_bytes(), t as u64, 30, 6);
        let step = now as u64 / 30;
        assert_eq!(c.verify(&at(now), now, 1), Some(step));
        assert_eq!(c.verify(&at(now - 30), now, 1), Some(step - 1));
        assert_eq!(c.verify(&at(now + 30), now, 1), Some(step + 1));
        assert_eq!(c.verify(&at(now - 90), now, 1), None, "out of the window");
        assert_eq!(c.verify("12345", now, 1), None);
        assert_eq!(c.verify("abcdef", now, 1), None);
    }

    #[test]
    fn hotp_counter_window_and_base32_secret() {
        let cd = r#"{"subType":"hotp","digits":6,"counter":3,"period":0,"algorithm":"HmacSHA1","secretEncoding":"BASE32"}"#;
        let sd = format!(r#"{{"value":"{}"}}"#, base32_encode(RFC_SECRET));
        let c = Credential::parse(cd, &sd).unwrap();
        assert_eq!(c.verify("969429", 0, 1), Some(3));
        assert_eq!(c.verify("338314", 0, 1), Some(4));
        assert_eq!(c.verify("254676", 0, 1), None, "beyond the look-ahead");
        assert_eq!(c.verify("359152", 0, 1), None, "an earlier counter");
    }

    #[test]
    fn policy_of_realm() {
        let rep: RealmRepresentation = serde_json::from_value(serde_json::json!({
            "realm": "r", "otpPolicyType": "hotp", "otpPolicyAlgorithm": "HmacSHA256",
            "otpPolicyDigits": 8, "otpPolicyLookAheadWindow": 2, "otpPolicyInitialCounter": 4,
            "otpPolicyCodeReusable": true
        }))
        .unwrap();
        let p = Policy::of(&rep);
        assert!(!p.totp && p.code_reusable);
        assert_eq!(
            (p.algorithm, p.digits, p.look_ahead, p.initial_counter),
            (Algorithm::Sha256, 8, 2, 4)
        );
        let c = Credential::parse(
            &Credential::stored(&Policy::default(), "s").0,
            r#"{"value":"s"}"#,
        )
        .unwrap();
        assert_eq!(reuse_lifespan(&p, &c), 150);
    }
}
