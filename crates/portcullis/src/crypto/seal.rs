//! Secrets at rest: the secret fields of realm and user documents sealed with AES-256-GCM
//! under a key-encryption key (KEK) before they reach the store, and opened when read back.
//!
//! A sealed value is a string `$pcsealed$1$<kid>$<base64url(nonce | ciphertext | tag)>`: the
//! key id (the first 8 bytes of the KEK's SHA-256, hex) names the KEK that opens it, so a
//! rotated KEK still opens old values while both are configured. The secret fields are listed
//! once ([`visit_realm`], [`visit_user`]); the store seals them on every write and opens them
//! on every read, so no other code sees a sealed value. Export masks the same fields.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::CryptoError;

/// The start of every sealed value (format version 1).
pub const SEALED_PREFIX: &str = "$pcsealed$1$";

/// What export writes in place of a secret (Keycloak's partial export mask).
pub const MASK: &str = "**********";

/// Associated data of every sealed value: binds it to this format.
const AAD: &[u8] = b"portcullis-sealed-secret-v1";

/// Config keys of components (key providers, user federation) holding secret material.
const COMPONENT_SECRET_KEYS: &[&str] = &[
    "privateKey",
    "secret",
    "keystorePassword",
    "keyPassword",
    "bindCredential",
];

/// What a secret field's visitor does with each field.
pub type FieldFn<'a> = dyn FnMut(&mut String) -> Result<(), CryptoError> + 'a;

/// A walker over a document's secret fields ([`visit_realm`], [`visit_user`]).
type Visit = fn(&mut Value, &mut FieldFn<'_>) -> Result<(), CryptoError>;

/// Credential types whose `secretData` is already a one-way hash: kept as they are.
const HASHED_CREDENTIALS: &[&str] = &["password", "password-history"];

/// One key-encryption key and its id.
pub struct Kek {
    kid: String,
    key: LessSafeKey,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek").field("kid", &self.kid).finish()
    }
}

impl Kek {
    /// A KEK from its encoded form: 32 bytes as base64 (standard or URL-safe, padding
    /// optional) or as 64 hex digits; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Kek, CryptoError> {
        let t = text.trim();
        let raw = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| CryptoError("the key-encryption key is not valid hex".into()))?
        } else {
            super::b64_decode(&t.replace('-', "+").replace('_', "/")).map_err(|_| {
                CryptoError(
                    "the key-encryption key is neither base64 nor 64 hex digits (generate one with `openssl rand -base64 32`)"
                        .into(),
                )
            })?
        };
        Kek::from_bytes(&raw)
    }

    /// A KEK from its 32 bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Kek, CryptoError> {
        if raw.len() != 32 {
            return Err(CryptoError(format!(
                "the key-encryption key must be 32 bytes (AES-256), got {}",
                raw.len()
            )));
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, raw);
        let kid = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = UnboundKey::new(&AES_256_GCM, raw)
            .map_err(|_| CryptoError("the key-encryption key is unusable".into()))?;
        Ok(Kek {
            kid,
            key: LessSafeKey::new(key),
        })
    }

    /// The key id written into each value this KEK seals.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// The KEKs of one process: the one that seals (if any) and the ones that also open (during a
/// rotation). Without a sealing KEK, values are written in clear.
#[derive(Debug, Default)]
pub struct Sealer {
    current: Option<Kek>,
    accepted: Vec<Kek>,
}

/// Whether a sealed value is under the current KEK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Clear,
    Current,
    Other,
}

impl Sealer {
    /// No KEK: secrets are stored in clear, and a sealed value read is an error.
    pub fn clear() -> Sealer {
        Sealer::default()
    }

    /// Seals with `current`; opens values of `current` and of every `accepted` KEK.
    pub fn new(current: Kek, accepted: Vec<Kek>) -> Sealer {
        Sealer {
            current: Some(current),
            accepted,
        }
    }

    /// Whether secrets are sealed on write.
    pub fn is_on(&self) -> bool {
        self.current.is_some()
    }

    /// The sealing KEK's id.
    pub fn current_kid(&self) -> Option<&str> {
        self.current.as_ref().map(Kek::kid)
    }

    /// The KEKs as a list for a rotation: `new` seals, every KEK of this one still opens.
    pub fn rotated_to(self, new: Kek) -> Sealer {
        let mut accepted = self.accepted;
        accepted.extend(self.current);
        Sealer {
            current: Some(new),
            accepted,
        }
    }

    fn key(&self, kid: &str) -> Option<&Kek> {
        self.current
            .iter()
            .chain(&self.accepted)
            .find(|k| k.kid == kid)
    }

    /// Seals one value (as is: a value that looks sealed is sealed again, so what an
    /// administrator typed always comes back unchanged).
    pub fn seal(&self, plain: &str) -> Result<String, CryptoError> {
        let Some(kek) = &self.current else {
            return Ok(plain.to_string());
        };
        let nonce_bytes = super::random_bytes(NONCE_LEN)?;
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(&nonce_bytes);
        let mut buf = plain.as_bytes().to_vec();
        kek.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_arr),
                Aad::from(AAD),
                &mut buf,
            )
            .map_err(|_| CryptoError("sealing a secret failed".into()))?;
        let mut out = nonce_arr.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!(
            "{SEALED_PREFIX}{}${}",
            kek.kid,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens one stored value; a value in clear comes back as it is.
    pub fn open(&self, stored: &str) -> Result<String, CryptoError> {
        let Some(rest) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_string());
        };
        let Some((kid, body)) = rest.split_once('$') else {
            return Err(CryptoError(
                "a sealed secret is malformed (no key id)".into(),
            ));
        };
        let Some(kek) = self.key(kid) else {
            return Err(CryptoError(format!(
                "a stored secret is sealed under key-encryption key '{kid}', which is not configured (set --secrets-kek-file, PORTCULLIS_SECRETS_KEK or the vault file; during a rotation also --secrets-kek-accept-files)"
            )));
        };
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError("a sealed secret is malformed (not base64url)".into()))?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError(
                "a sealed secret is malformed (too short)".into(),
            ));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(nonce);
        let mut buf = ct.to_vec();
        let plain = kek
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce_arr),
                Aad::from(AAD),
                &mut buf,
            )
            .map_err(|_| {
                CryptoError(format!(
                    "a sealed secret does not open under key-encryption key '{kid}': the value was altered or the key file is not the one that sealed it"
                ))
            })?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| CryptoError("a sealed secret is not UTF-8".into()))
    }

    fn state(&self, stored: &str) -> State {
        match stored
            .strip_prefix(SEALED_PREFIX)
            .and_then(|r| r.split_once('$'))
        {
            None => State::Clear,
            Some((kid, _)) if Some(kid) == self.current_kid() => State::Current,
            Some(_) => State::Other,
        }
    }

    /// A realm document as stored: its secret fields sealed (unchanged without a KEK).
    pub fn seal_realm(&self, json: &str) -> Result<String, CryptoError> {
        if !self.is_on() {
            return Ok(json.to_string());
        }
        rewrite(json, visit_realm, |s| self.seal(s))
    }

    /// A user document as stored: its non-password credentials' `secretData` sealed.
    pub fn seal_user(&self, json: &str) -> Result<String, CryptoError> {
        if !self.is_on() || !json.contains("secretData") {
            return Ok(json.to_string());
        }
        rewrite(json, visit_user, |s| self.seal(s))
    }

    /// A stored realm document with its secret fields opened.
    pub fn open_realm(&self, json: &str) -> Result<String, CryptoError> {
        if !json.contains(SEALED_PREFIX) {
            return Ok(json.to_string());
        }
        rewrite(json, visit_realm, |s| self.open(s))
    }

    /// A stored user document with its secret fields opened.
    pub fn open_user(&self, json: &str) -> Result<String, CryptoError> {
        if !json.contains(SEALED_PREFIX) {
            return Ok(json.to_string());
        }
        rewrite(json, visit_user, |s| self.open(s))
    }

    /// A stored document sealed again under the current KEK, or `None` when every secret field
    /// already is (nothing to write). `user` picks the user document's fields.
    pub fn reseal(&self, stored: &str, user: bool) -> Result<Option<String>, CryptoError> {
        if !self.is_on() {
            return Ok(None);
        }
        let visit: Visit = if user { visit_user } else { visit_realm };
        let mut v: Value = serde_json::from_str(stored)
            .map_err(|e| CryptoError(format!("a stored document is not JSON: {e}")))?;
        let mut stale = false;
        visit(&mut v, &mut |s: &mut String| {
            stale |= self.state(s) != State::Current;
            Ok(())
        })?;
        if !stale {
            return Ok(None);
        }
        visit(&mut v, &mut |s: &mut String| {
            *s = self.seal(&self.open(s)?)?;
            Ok(())
        })?;
        Ok(Some(v.to_string()))
    }
}

/// Applies `f` to each secret field of the document `json` (fields located by `visit`); the
/// text comes back unchanged when the document has none.
fn rewrite(
    json: &str,
    visit: Visit,
    f: impl Fn(&str) -> Result<String, CryptoError>,
) -> Result<String, CryptoError> {
    let mut v: Value = serde_json::from_str(json)
        .map_err(|e| CryptoError(format!("a stored document is not JSON: {e}")))?;
    let mut touched = false;
    visit(&mut v, &mut |s: &mut String| {
        *s = f(s)?;
        touched = true;
        Ok(())
    })?;
    Ok(if touched {
        v.to_string()
    } else {
        json.to_string()
    })
}

/// Every secret field of a `RealmRepresentation` (users aside): clients' `secret` (and a
/// rotated one in `attributes`), identity providers' `config.clientSecret`, the SMTP
/// `password`, and the secret config values of components (realm keys, federation).
pub fn visit_realm(v: &mut Value, f: &mut FieldFn<'_>) -> Result<(), CryptoError> {
    let Some(o) = v.as_object_mut() else {
        return Ok(());
    };
    for c in o
        .get_mut("clients")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(Value::String(s)) = c.get_mut("secret") {
            f(s)?;
        }
        if let Some(Value::String(s)) = c.pointer_mut("/attributes/client.secret.rotated") {
            f(s)?;
        }
    }
    for idp in o
        .get_mut("identityProviders")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(Value::String(s)) = idp.pointer_mut("/config/clientSecret") {
            f(s)?;
        }
    }
    if let Some(Value::String(s)) = o.get_mut("smtpServer").and_then(|s| s.get_mut("password")) {
        f(s)?;
    }
    if let Some(comps) = o.get_mut("components") {
        visit_components(comps, f)?;
    }
    Ok(())
}

/// `components` (`{type: [component]}`) and their `subComponents`, any depth.
fn visit_components(comps: &mut Value, f: &mut FieldFn<'_>) -> Result<(), CryptoError> {
    let Some(by_type) = comps.as_object_mut() else {
        return Ok(());
    };
    for c in by_type
        .values_mut()
        .filter_map(Value::as_array_mut)
        .flatten()
    {
        if let Some(cfg) = c.get_mut("config").and_then(Value::as_object_mut) {
            for k in COMPONENT_SECRET_KEYS {
                match cfg.get_mut(*k) {
                    Some(Value::Array(values)) => {
                        for s in values.iter_mut().filter_map(|v| match v {
                            Value::String(s) => Some(s),
                            _ => None,
                        }) {
                            f(s)?;
                        }
                    }
                    Some(Value::String(s)) => f(s)?,
                    _ => {}
                }
            }
        }
        if let Some(sub) = c.get_mut("subComponents") {
            visit_components(sub, f)?;
        }
    }
    Ok(())
}

/// Every secret field of a `UserRepresentation`: the `secretData` of each credential that is
/// not a password hash (OTP seeds, recovery codes, WebAuthn data).
pub fn visit_user(v: &mut Value, f: &mut FieldFn<'_>) -> Result<(), CryptoError> {
    for c in v
        .get_mut("credentials")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let hashed = c
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| HASHED_CREDENTIALS.contains(&t));
        if hashed {
            continue;
        }
        if let Some(Value::String(s)) = c.get_mut("secretData") {
            f(s)?;
        }
    }
    Ok(())
}

/// Replaces every secret of an exported realm (with its `users`, if any) by [`MASK`], as
/// Keycloak's partial export does; returns how many were masked.
pub fn mask_export(realm: &mut Value) -> usize {
    let mut n = 0;
    let mut mask = |s: &mut String| {
        *s = MASK.to_string();
        n += 1;
        Ok(())
    };
    let _ = visit_realm(realm, &mut mask);
    for u in realm
        .get_mut("users")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let _ = visit_user(u, &mut mask);
    }
    n
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kek(byte: u8) -> Kek {
        Kek::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_to_the_plaintext_and_does_not_contain_it() {
        let s = Sealer::new(kek(1), vec![]);
        let sealed = s.seal("hunter2-client-secret").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(sealed.contains(kek(1).kid()));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            s.seal("hunter2-client-secret").unwrap(),
            "fresh nonce"
        );
        assert_eq!(s.open(&sealed).unwrap(), "hunter2-client-secret");
        assert_eq!(s.open("in clear").unwrap(), "in clear");
    }

    #[test]
    fn a_tampered_value_is_an_error() {
        let s = Sealer::new(kek(1), vec![]);
        let sealed = s.seal("secret").unwrap();
        let (head, body) = sealed.rsplit_once('$').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(body).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("{head}${}", URL_SAFE_NO_PAD.encode(&raw));
        let e = s.open(&tampered).unwrap_err();
        assert!(e.0.contains("altered"), "{e}");
        assert!(s.open(&format!("{head}$")).is_err(), "truncated");
        assert!(s.open("$pcsealed$1$nokid").is_err());
    }

    #[test]
    fn a_wrong_or_missing_key_is_an_error_naming_the_key_id() {
        let sealed = Sealer::new(kek(1), vec![]).seal("secret").unwrap();
        let e = Sealer::new(kek(2), vec![]).open(&sealed).unwrap_err();
        assert!(e.0.contains(kek(1).kid()), "{e}");
        let e = Sealer::clear().open(&sealed).unwrap_err();
        assert!(e.0.contains("not configured"), "{e}");
        // The same key id with other key bytes (a wrong file) does not open either.
        let forged = sealed.replace(kek(1).kid(), kek(3).kid());
        assert!(Sealer::new(kek(3), vec![]).open(&forged).is_err());
    }

    #[test]
    fn a_rotated_sealer_opens_old_values_and_reseals_under_the_new_key() {
        let old = Sealer::new(kek(1), vec![]);
        let doc = old
            .seal_realm(&json!({"clients": [{"clientId": "c", "secret": "s3cret"}]}).to_string())
            .unwrap();
        let new = old.rotated_to(kek(2));
        assert_eq!(new.current_kid(), Some(kek(2).kid()));
        let resealed = new.reseal(&doc, false).unwrap().unwrap();
        assert!(resealed.contains(kek(2).kid()) && !resealed.contains(kek(1).kid()));
        assert_eq!(
            new.reseal(&resealed, false).unwrap(),
            None,
            "nothing left to do"
        );
        let only_new = Sealer::new(kek(2), vec![]);
        let opened: Value = serde_json::from_str(&only_new.open_realm(&resealed).unwrap()).unwrap();
        assert_eq!(opened["clients"][0]["secret"], "s3cret");
    }

    #[test]
    fn the_secret_fields_of_realms_and_users_are_sealed_and_nothing_else() {
        let s = Sealer::new(kek(7), vec![]);
        let realm = json!({
            "realm": "r",
            "clients": [{"clientId": "c", "secret": "client-plain",
                         "attributes": {"client.secret.rotated": "rotated-plain", "other": "x"}}],
            "identityProviders": [{"alias": "g", "config": {"clientId": "id", "clientSecret": "idp-plain"}}],
            "smtpServer": {"host": "mail", "password": "smtp-plain"},
            "components": {"org.keycloak.keys.KeyProvider": [
                {"name": "rsa", "config": {"privateKey": ["pk-plain"], "certificate": ["cert"]}},
                {"name": "hmac", "config": {"secret": ["hmac-plain"]}, "subComponents": {
                    "x": [{"config": {"bindCredential": ["ldap-plain"]}}]}}
            ]}
        });
        let sealed = s.seal_realm(&realm.to_string()).unwrap();
        for p in [
            "client-plain",
            "rotated-plain",
            "idp-plain",
            "smtp-plain",
            "pk-plain",
            "hmac-plain",
            "ldap-plain",
        ] {
            assert!(!sealed.contains(p), "{p} in {sealed}");
        }
        for kept in ["\"cert\"", "\"mail\"", "\"other\":\"x\""] {
            assert!(sealed.contains(kept), "{kept} in {sealed}");
        }
        let opened: Value = serde_json::from_str(&s.open_realm(&sealed).unwrap()).unwrap();
        assert_eq!(opened, realm);

        let user = json!({"username": "u", "credentials": [
            {"type": "password", "secretData": "{\"value\":\"hash\"}"},
            {"type": "otp", "secretData": "{\"value\":\"OTPSEED\"}"}
        ]});
        let sealed = s.seal_user(&user.to_string()).unwrap();
        assert!(!sealed.contains("OTPSEED") && sealed.contains("hash"));
        assert_eq!(
            serde_json::from_str::<Value>(&s.open_user(&sealed).unwrap()).unwrap(),
            user
        );
        // Without a KEK the documents pass through, byte for byte.
        let text = user.to_string();
        assert_eq!(Sealer::clear().seal_user(&text).unwrap(), text);
    }

    #[test]
    fn a_value_that_looks_sealed_is_stored_as_typed() {
        let s = Sealer::new(kek(1), vec![]);
        let typed = format!("{SEALED_PREFIX}abc$def");
        let doc = json!({"clients": [{"secret": typed}]}).to_string();
        let opened: Value =
            serde_json::from_str(&s.open_realm(&s.seal_realm(&doc).unwrap()).unwrap()).unwrap();
        assert_eq!(opened["clients"][0]["secret"], typed);
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_must_be_32_bytes() {
        let b64 = crate::crypto::b64(&[9u8; 32]);
        let hex: String = std::iter::repeat_n("09", 32).collect();
        assert_eq!(Kek::parse(&format!("{b64}\n")).unwrap().kid(), kek(9).kid());
        assert_eq!(Kek::parse(&hex).unwrap().kid(), kek(9).kid());
        assert!(Kek::parse(&crate::crypto::b64(&[1u8; 16])).is_err());
        assert!(Kek::parse("not a key!").is_err());
    }

    #[test]
    fn export_masks_every_secret() {
        let mut v = json!({
            "clients": [{"secret": "a"}],
            "smtpServer": {"password": "b"},
            "users": [{"credentials": [{"type": "otp", "secretData": "c"}, {"type": "password", "secretData": "h"}]}]
        });
        assert_eq!(mask_export(&mut v), 3);
        assert_eq!(v["clients"][0]["secret"], MASK);
        assert_eq!(v["users"][0]["credentials"][1]["secretData"], "h");
    }
}
