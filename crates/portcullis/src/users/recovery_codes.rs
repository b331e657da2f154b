//! Recovery authentication codes as Keycloak 26 has them (`RecoveryAuthnCodesUtils`,
//! `RecoveryAuthnCodesCredentialModel`, `RecoveryAuthnCodesCredentialData`,
//! `RecoveryAuthnCodesSecretData`, `RecoveryAuthnCodeRepresentation`): twelve codes of twelve
//! characters from `ABCDEFGHIJKLMNPQRSTUVWXYZ123456789`, each stored as the standard Base64 of
//! its SHA-512 (no salt, one iteration), numbered from 1, used once each and in order: only
//! the next code (the first one left) is ever accepted.
//!
//! Stored shape (type `recovery-authn-codes`; both fields JSON text, as every credential's):
//! ```json
//! "credentialData": "{\"algorithm\":\"SHA-512\",\"totalCodes\":12,\"remainingCodes\":12}",
//! "secretData": "{\"codes\":[{\"number\":1,\"encodedHashedValue\":\"p+DM...iA==\"}, ...]}"
//! ```
//! Keycloak before 26.2 wrote `"hashIterations":1,"algorithm":"RS512"` (the same SHA-512);
//! Jackson also reads `remaining` and `total` (the creator's names), so both are read here.
//! Pure functions: the callers keep the used codes in the store.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::representation::{CredentialRepresentation, UserRepresentation};

/// The credential type (`RecoveryAuthnCodesCredentialModel.TYPE`).
pub const TYPE: &str = "recovery-authn-codes";
/// The required action that generates them.
pub const ACTION: &str = "CONFIGURE_RECOVERY_AUTHN_CODES";
/// How many codes a set has (`QUANTITY_OF_CODES_TO_GENERATE`).
pub const COUNT: usize = 12;
/// A code's length (`CODE_LENGTH`).
pub const CODE_LENGTH: usize = 12;
/// The codes' alphabet (`UPPERNUM`: no `O`, no `0`).
pub const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNPQRSTUVWXYZ123456789";
/// The hash (`NOM_ALGORITHM_TO_HASH` = `JavaAlgorithm.SHA512`).
pub const ALGORITHM: &str = "SHA-512";
/// The label Keycloak's page posts (`recovery-codes-label-default`).
pub const DEFAULT_LABEL: &str = "Recovery codes";

/// A fresh set of codes from the OS CSPRNG (`RecoveryAuthnCodesUtils.generateRawCodes`).
pub fn generate() -> Vec<String> {
    (0..COUNT).map(|_| random_code()).collect()
}

fn random_code() -> String {
    // Rejection sampling keeps the 34 symbols equally likely (238 = 7 * 34).
    let mut out = String::with_capacity(CODE_LENGTH);
    while out.len() < CODE_LENGTH {
        let bytes = crate::crypto::random_bytes(32)
            .unwrap_or_else(|_| uuid::Uuid::new_v4().as_bytes().repeat(2));
        for b in bytes.into_iter().filter(|b| *b < 238) {
            if out.len() == CODE_LENGTH {
                break;
            }
            out.push(ALPHABET[(b % 34) as usize] as char);
        }
    }
    out
}

/// A code as shown to the user: `XXXX-XXXX-XXXX` (the theme's `code[0..3]-code[4..7]-code[8..]`).
pub fn display(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// `RecoveryAuthnCodesUtils.hashRawCode`: SHA-512 of the UTF-8 code.
pub fn hash(code: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, code.as_bytes())
        .as_ref()
        .to_vec()
}

/// One stored code (`RecoveryAuthnCodeRepresentation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCode {
    /// Its number in the set shown (1-based).
    pub number: u32,
    /// Standard Base64 (padded) of its hash.
    pub encoded_hashed_value: String,
}

/// `RecoveryAuthnCodesSecretData`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretData {
    /// The codes left, next first.
    pub codes: Vec<StoredCode>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `RecoveryAuthnCodesCredentialData`, written as Jackson writes it (getter names, nulls
/// left out) and read under both names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialData {
    /// Keycloak < 26.2 wrote 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_iterations: Option<i64>,
    /// `SHA-512` (`RS512` before 26.2: the same hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// How many the set had.
    #[serde(default, alias = "total")]
    pub total_codes: usize,
    /// How many are left.
    #[serde(default, alias = "remaining")]
    pub remaining_codes: usize,
}

/// The stored `credentialData` and `secretData` of a new set
/// (`RecoveryAuthnCodesCredentialModel.createFromValues`).
pub fn stored(codes: &[String]) -> (String, String) {
    let secret = SecretData {
        codes: codes
            .iter()
            .enumerate()
            .map(|(i, c)| StoredCode {
                number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                encoded_hashed_value: STANDARD.encode(hash(c)),
            })
            .collect(),
        extra: Map::new(),
    };
    let data = CredentialData {
        hash_iterations: None,
        algorithm: Some(ALGORITHM.into()),
        total_codes: codes.len(),
        remaining_codes: codes.len(),
    };
    (
        serde_json::to_string(&data).unwrap_or_default(),
        serde_json::to_string(&secret).unwrap_or_default(),
    )
}

/// A stored set, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Codes {
    /// `credentialData`.
    pub data: CredentialData,
    /// `secretData`.
    pub secret: SecretData,
}

impl Codes {
    /// Reads a stored credential's two fields; `None` when they are not Keycloak's shape.
    pub fn parse(credential_data: &str, secret_data: &str) -> Option<Self> {
        let data = if credential_data.trim().is_empty() {
            CredentialData {
                hash_iterations: None,
                algorithm: None,
                total_codes: 0,
                remaining_codes: 0,
            }
        } else {
            serde_json::from_str(credential_data).ok()?
        };
        let secret: SecretData = serde_json::from_str(secret_data).ok()?;
        Some(Codes { data, secret })
    }

    /// The number of the code asked next (`getNextRecoveryAuthnCode().getNumber()`).
    pub fn next_number(&self) -> Option<u32> {
        self.secret.codes.first().map(|c| c.number)
    }

    /// `allCodesUsed`.
    pub fn all_used(&self) -> bool {
        self.secret.codes.is_empty()
    }

    /// `RecoveryAuthnCodesUtils.verifyRecoveryCodeInput` against the next code: the input's
    /// hash compared in constant time (`MessageDigest.isEqual`). The caller has taken the
    /// dashes out, as the form authenticator does.
    pub fn matches_next(&self, input: &str) -> bool {
        let Some(next) = self.secret.codes.first() else {
            return false;
        };
        // Tolerant of whitespace and missing padding (older exports' Base64).
        let Ok(saved) = crate::crypto::b64_decode(&next.encoded_hashed_value) else {
            return false;
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(&hash(input), &saved).is_ok()
    }

    /// `removeRecoveryAuthnCode`: the next code is used up; the two fields to store.
    pub fn consume_next(&mut self) -> (String, String) {
        if !self.secret.codes.is_empty() {
            self.secret.codes.remove(0);
        }
        self.data.remaining_codes = self.secret.codes.len();
        (
            serde_json::to_string(&self.data).unwrap_or_default(),
            serde_json::to_string(&self.secret).unwrap_or_default(),
        )
    }
}

/// The input as the form authenticator checks it: dashes taken out
/// (`recoveryAuthnCodeUserInput.replace("-", "")`) and, beyond Keycloak, surrounding blanks.
pub fn normalize_input(input: &str) -> String {
    input.trim().replace('-', "")
}

/// The user's recovery-codes credential (Keycloak keeps one: a new set replaces it).
pub fn credential(user: &UserRepresentation) -> Option<&CredentialRepresentation> {
    user.credentials
        .iter()
        .flatten()
        .find(|c| c.kind.as_deref() == Some(TYPE))
}

/// A new credential for `codes` generated at `generated_at` (milliseconds), labelled.
pub fn new_credential(
    codes: &[String],
    generated_at: i64,
    label: &str,
) -> CredentialRepresentation {
    let (credential_data, secret_data) = stored(codes);
    let mut c = CredentialRepresentation {
        id: Some(uuid::Uuid::new_v4().to_string()),
        kind: Some(TYPE.into()),
        created_date: Some(generated_at),
        credential_data: Some(credential_data),
        secret_data: Some(secret_data),
        ..Default::default()
    };
    if !label.is_empty() {
        c.extra
            .insert("userLabel".into(), Value::String(label.into()));
    }
    c
}

/// `RecoveryAuthnCodesCredentialProvider.createCredential`: the user's old set (if any) goes,
/// the new one takes its place.
pub fn replace(user: &mut UserRepresentation, new: CredentialRepresentation) {
    let list = user.credentials.get_or_insert_with(Vec::new);
    match list.iter().position(|c| c.kind.as_deref() == Some(TYPE)) {
        Some(at) => {
            list.retain(|c| c.kind.as_deref() != Some(TYPE));
            list.insert(at.min(list.len()), new);
        }
        None => list.push(new),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_keycloaks_base64_sha512() {
        // The reference value of base64(SHA-512("ABCDEFGHJKLM")).
        assert_eq!(
            STANDARD.encode(hash("ABCDEFGHJKLM")),
            "p+DMhIoz853kiiNUFbBrZwlDskNronzXZ6sjwawFZoDLeSxlPeAWy3h3KHkiJEWa+OtxAZ4qv0CY8+v2QRq2iA=="
        );
    }

    #[test]
    fn generated_codes_have_keycloaks_format() {
        let codes = generate();
        assert_eq!(codes.len(), 12);
        for c in &codes {
            assert_eq!(c.len(), 12);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
        }
        assert_ne!(codes[0], codes[1]);
        assert_eq!(display("ABCD1234EFGH"), "ABCD-1234-EFGH");
    }

    #[test]
    fn stored_shape_and_one_use_in_order() {
        let codes: Vec<String> = (1..=3).map(|i| format!("CODE{i:08}")).collect();
        let (data, secret) = stored(&codes);
        assert_eq!(
            data,
            r#"{"algorithm":"SHA-512","totalCodes":3,"remainingCodes":3}"#
        );
        let v: Value = serde_json::from_str(&secret).unwrap();
        assert_eq!(v["codes"][0]["number"], 1);
        assert_eq!(
            v["codes"][0]["encodedHashedValue"],
            STANDARD.encode(hash(&codes[0]))
        );
        let mut set = Codes::parse(&data, &secret).unwrap();
        assert_eq!(set.next_number(), Some(1));
        assert!(!set.matches_next(&codes[1]), "only the next code counts");
        assert!(set.matches_next(&codes[0]));
        let (data, _) = set.consume_next();
        assert_eq!(set.next_number(), Some(2));
        assert!(!set.matches_next(&codes[0]));
        assert!(data.contains("\"remainingCodes\":2"), "{data}");
        set.consume_next();
        set.consume_next();
        assert!(set.all_used() && set.next_number().is_none());
        assert!(!set.matches_next(""));
    }

    #[test]
    fn reads_older_and_hand_written_credential_data() {
        let secret = r#"{"codes":[{"number":4,"encodedHashedValue":"eA=="}]}"#;
        let old = Codes::parse(
            r#"{"hashIterations":1,"algorithm":"RS512","totalCodes":12,"remainingCodes":1}"#,
            secret,
        )
        .unwrap();
        assert_eq!(old.data.hash_iterations, Some(1));
        assert_eq!(old.next_number(), Some(4));
        let creator =
            Codes::parse(r#"{"algorithm":"SHA-512","remaining":1,"total":2}"#, secret).unwrap();
        assert_eq!(
            (creator.data.total_codes, creator.data.remaining_codes),
            (2, 1)
        );
        assert!(Codes::parse("{}", "not json").is_none());
        assert_eq!(normalize_input(" ABCD-1234-EFGH "), "ABCD1234EFGH");
    }
}
