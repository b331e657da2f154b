//! WebAuthn as Keycloak has it: the realm's two policies (`webAuthnPolicy*` for the second
//! factor, `webAuthnPolicyPasswordless*` for passkeys), the stored credential (type `webauthn`
//! or `webauthn-passwordless`, `credentialData` as `WebAuthnCredentialData` writes it), the
//! registration check (attestation verified by `webauthn-rs-core`) and the assertion check
//! (as webauthn4j and Keycloak's `WebAuthnCredentialProvider.isValid` do it). Pure functions:
//! the callers keep the challenge in the pending login and store the credential.
//!
//! Why `webauthn-rs-core` and not `webauthn-rs`: the high-level crate owns the credential
//! (its `Passkey`/`SecurityKey` types and its own counter and backup-state rules), while
//! Keycloak's stored shape is the raw parts (credential id, COSE key, counter). The core crate
//! verifies the attestation statement (none, packed, tpm, android-key, fido-u2f, apple) on
//! registration; the assertion is checked here over the stored COSE key, with Keycloak's
//! counter rule.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticatorAttachment, AuthenticatorAttestationResponseRaw,
    AuthenticatorTransport, COSEAlgorithm, COSEKey, CreationChallengeResponse,
    RegisterPublicKeyCredential, RegistrationState, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use crate::representation::{CredentialRepresentation, RealmRepresentation};

/// Credential type of the second factor (`WebAuthnCredentialModel.TYPE_TWOFACTOR`).
pub const TWO_FACTOR: &str = "webauthn";
/// Credential type of passkeys (`WebAuthnCredentialModel.TYPE_PASSWORDLESS`).
pub const PASSWORDLESS: &str = "webauthn-passwordless";

/// Keycloak's `webauthn-error-auth-verification` (English, 26.x).
pub const ERROR_AUTH_VERIFICATION: &str = "Passkey authentication result is invalid.";
/// Keycloak's `webauthn-error-user-not-found`.
pub const ERROR_USER_NOT_FOUND: &str = "Unknown user authenticated by the Passkey.";
/// Keycloak's `webauthn-error-api-get`.
pub const ERROR_API_GET: &str = "Failed to authenticate by the Passkey.";
/// Keycloak's `webauthn-error-different-user`.
pub const ERROR_DIFFERENT_USER: &str =
    "First authenticated user is not the one authenticated by the Passkey.";
/// Keycloak's `webauthn-error-registration`.
pub const ERROR_REGISTRATION: &str = "Failed to register your Passkey.";
/// Keycloak's `webauthn-error-register-verification`.
pub const ERROR_REGISTER_VERIFICATION: &str = "Passkey registration result is invalid.";

/// One of the realm's two WebAuthn policies (`WebAuthnPolicy`), read from the representation's
/// fields with Keycloak's defaults (`RealmAdapter.getWebAuthnPolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The credential type this policy registers and checks.
    pub credential_type: &'static str,
    /// `…RpEntityName`.
    pub rp_entity_name: String,
    /// `…SignatureAlgorithms` (Keycloak's names: ES256, RS256, Ed25519, ...).
    pub signature_algorithms: Vec<String>,
    /// `…RpId` (empty: the host of the server's base URL).
    pub rp_id: String,
    /// `…AttestationConveyancePreference` (`not specified`, `none`, `indirect`, `direct`).
    pub attestation: String,
    /// `…AuthenticatorAttachment` (`not specified`, `platform`, `cross-platform`).
    pub attachment: String,
    /// `…RequireResidentKey` (`not specified`, `Yes`, `No`).
    pub require_resident_key: String,
    /// `…UserVerificationRequirement` (`not specified`, `required`, `preferred`, `discouraged`).
    pub user_verification: String,
    /// `…CreateTimeout` in seconds (0: the browser's default).
    pub create_timeout: u32,
    /// `…AvoidSameAuthenticatorRegister`: the user's credentials go in `excludeCredentials`.
    pub avoid_same_authenticator: bool,
    /// `…AcceptableAaguids` (empty: any).
    pub acceptable_aaguids: Vec<String>,
    /// `…ExtraOrigins`.
    pub extra_origins: Vec<String>,
}

const NOT_SPECIFIED: &str = "not specified";

impl Policy {
    /// The second-factor policy (`passwordless == false`) or the passkey policy.
    pub fn of(rep: &RealmRepresentation, passwordless: bool) -> Self {
        let field = |name: &str| {
            let key = if passwordless {
                format!("webAuthnPolicyPasswordless{name}")
            } else {
                format!("webAuthnPolicy{name}")
            };
            rep.extra.get(&key).cloned()
        };
        let text = |name: &str, default: &str| {
            field(name)
                .and_then(|v| v.as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let list = |name: &str| -> Vec<String> {
            field(name)
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut signature_algorithms = list("SignatureAlgorithms");
        if signature_algorithms.is_empty() {
            signature_algorithms = vec!["ES256".into(), "RS256".into()];
        }
        Policy {
            credential_type: if passwordless {
                PASSWORDLESS
            } else {
                TWO_FACTOR
            },
            rp_entity_name: text("RpEntityName", "keycloak"),
            signature_algorithms,
            rp_id: field("RpId")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            attestation: text("AttestationConveyancePreference", NOT_SPECIFIED),
            attachment: text("AuthenticatorAttachment", NOT_SPECIFIED),
            require_resident_key: text("RequireResidentKey", NOT_SPECIFIED),
            user_verification: text("UserVerificationRequirement", NOT_SPECIFIED),
            create_timeout: field("CreateTimeout")
                .and_then(|v| v.as_u64())
                .map_or(0, |t| u32::try_from(t).unwrap_or(0)),
            avoid_same_authenticator: field("AvoidSameAuthenticatorRegister")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            acceptable_aaguids: list("AcceptableAaguids"),
            extra_origins: list("ExtraOrigins"),
        }
    }

    /// The RP ID: the policy's, else the host of `base` (`getRpID`).
    pub fn rp_id_for(&self, base: &str) -> String {
        if !self.rp_id.is_empty() {
            return self.rp_id.clone();
        }
        url::Url::parse(base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// User verification is enforced only when the policy says `required` (Keycloak's
    /// `isUVFlagChecked`).
    pub fn uv_required(&self) -> bool {
        self.user_verification == "required"
    }

    fn algorithms(&self) -> Vec<COSEAlgorithm> {
        self.signature_algorithms
            .iter()
            .filter_map(|a| {
                Some(match a.as_str() {
                    "ES256" => COSEAlgorithm::ES256,
                    "ES384" => COSEAlgorithm::ES384,
                    "ES512" => COSEAlgorithm::ES512,
                    "RS256" => COSEAlgorithm::RS256,
                    "RS384" => COSEAlgorithm::RS384,
                    "RS512" => COSEAlgorithm::RS512,
                    "Ed25519" | "EdDSA" => COSEAlgorithm::EDDSA,
                    "RS1" => COSEAlgorithm::INSECURE_RS1,
                    _ => return None,
                })
            })
            .collect()
    }
}

/// The origin of the server's base URL (`UriUtils.getOrigin`), and the policy's extra origins.
pub fn origins(policy: &Policy, base: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(u) = url::Url::parse(base) {
        out.push(u.origin().ascii_serialization());
    }
    out.extend(policy.extra_origins.iter().cloned());
    out
}

/// `WebAuthnCredentialData`: the JSON text of a WebAuthn credential's `credentialData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CredentialData {
    /// The authenticator's AAGUID as a UUID string.
    pub aaguid: String,
    /// Standard Base64 (padded) of the credential id.
    pub credential_id: String,
    /// Base64url (unpadded) of the COSE_Key CBOR.
    pub credential_public_key: String,
    /// Signature counter.
    pub counter: u64,
    /// The attestation statement (Keycloak leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_statement: Option<Value>,
    /// `none`, `packed`, `tpm`, `android-key`, `android-safetynet`, `fido-u2f`, `apple`.
    pub attestation_statement_format: String,
    /// Transports the authenticator reported.
    pub transports: Vec<String>,
}

impl CredentialData {
    /// The raw credential id.
    pub fn id_bytes(&self) -> Option<Vec<u8>> {
        STANDARD
            .decode(&self.credential_id)
            .or_else(|_| URL_SAFE_NO_PAD.decode(self.credential_id.trim_end_matches('=')))
            .ok()
    }

    /// Parses a stored credential's data.
    pub fn of(c: &CredentialRepresentation) -> Option<Self> {
        serde_json::from_str(c.credential_data.as_deref()?).ok()
    }
}

/// A user's WebAuthn credentials of one type, each with its parsed data.
pub fn credentials<'a>(
    user: &'a crate::representation::UserRepresentation,
    kind: &'a str,
) -> impl Iterator<Item = (&'a CredentialRepresentation, CredentialData)> + 'a {
    user.credentials
        .iter()
        .flatten()
        .filter(move |c| c.kind.as_deref() == Some(kind))
        .filter_map(|c| Some((c, CredentialData::of(c)?)))
}

/// Decodes Base64url, padded or not (the page's JS posts it unpadded).
pub fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim().trim_end_matches('='))
        .ok()
        .filter(|_| !s.trim().is_empty())
}

fn core(policy: &Policy, rp_id: &str, origins: &[String]) -> WebauthnCore {
    let origins = origins
        .iter()
        .filter_map(|o| url::Url::parse(o).ok())
        .collect();
    WebauthnCore::new_unsafe_experts_only(
        &policy.rp_entity_name,
        rp_id,
        origins,
        Duration::from_secs(u64::from(policy.create_timeout.max(60))),
        None,
        None,
    )
}

/// The options of `navigator.credentials.create` for a user (`WebAuthnRegister`'s page data),
/// and the state to keep until the post. `user_handle` is the user id's UTF-8 bytes.
pub fn registration_options(
    policy: &Policy,
    base: &str,
    user_handle: &[u8],
    username: &str,
    exclude: Vec<Vec<u8>>,
) -> Option<(Value, RegistrationState)> {
    let rp_id = policy.rp_id_for(base);
    let core = core(policy, &rp_id, &origins(policy, base));
    let uv = match policy.user_verification.as_str() {
        "required" => UserVerificationPolicy::Required,
        "discouraged" => UserVerificationPolicy::Discouraged_DO_NOT_USE,
        _ => UserVerificationPolicy::Preferred,
    };
    let builder = core
        .new_challenge_register_builder(user_handle, username, username)
        .ok()?
        .attestation(match policy.attestation.as_str() {
            "direct" => AttestationConveyancePreference::Direct,
            "indirect" => AttestationConveyancePreference::Indirect,
            _ => AttestationConveyancePreference::None,
        })
        .user_verification_policy(uv)
        .credential_algorithms(policy.algorithms())
        .require_resident_key(policy.require_resident_key == "Yes")
        .authenticator_attachment(match policy.attachment.as_str() {
            "platform" => Some(AuthenticatorAttachment::Platform),
            "cross-platform" => Some(AuthenticatorAttachment::CrossPlatform),
            _ => None,
        })
        .exclude_credentials(if policy.avoid_same_authenticator && !exclude.is_empty() {
            Some(exclude.into_iter().map(Into::into).collect())
        } else {
            None
        });
    let (ccr, state): (CreationChallengeResponse, RegistrationState) =
        core.generate_challenge_register(builder).ok()?;
    let mut options = serde_json::to_value(&ccr.public_key).ok()?;
    options["timeout"] = if policy.create_timeout > 0 {
        serde_json::json!(u64::from(policy.create_timeout) * 1000)
    } else {
        Value::Null
    };
    Some((options, state))
}

/// The registration page's post (`webauthn-register.ftl`).
#[derive(Debug, Clone, Default)]
pub struct Registration<'a> {
    /// `clientDataJSON` (Base64url).
    pub client_data_json: &'a str,
    /// `attestationObject` (Base64url).
    pub attestation_object: &'a str,
    /// `publicKeyCredentialId` (Base64url).
    pub credential_id: &'a str,
    /// `transports` (comma-separated).
    pub transports: &'a str,
}

/// Verifies a registration (`WebAuthnRegister.processAction`): challenge, origin, RP ID hash,
/// user presence (and verification when the policy requires it), the attestation statement,
/// the algorithm, the excluded credentials and the acceptable AAGUIDs. `Err` carries the
/// reason (for the log; the page shows Keycloak's message).
pub fn register(
    policy: &Policy,
    base: &str,
    state: &RegistrationState,
    r: &Registration<'_>,
) -> Result<CredentialData, String> {
    let att = b64url(r.attestation_object).ok_or("attestationObject is not Base64url")?;
    let cdj = b64url(r.client_data_json).ok_or("clientDataJSON is not Base64url")?;
    let id = b64url(r.credential_id).ok_or("publicKeyCredentialId is not Base64url")?;
    let transports: Vec<String> = r
        .transports
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let reg = RegisterPublicKeyCredential {
        id: URL_SAFE_NO_PAD.encode(&id),
        raw_id: id.clone().into(),
        response: AuthenticatorAttestationResponseRaw {
            attestation_object: att.clone().into(),
            client_data_json: cdj.into(),
            transports: Some(
                transports
                    .iter()
                    .filter_map(|t| {
                        serde_json::from_value::<AuthenticatorTransport>(t.as_str().into()).ok()
                    })
                    .collect(),
            ),
        },
        type_: "public-key".into(),
        extensions: Default::default(),
    };
    let rp_id = policy.rp_id_for(base);
    let cred = core(policy, &rp_id, &origins(policy, base))
        .register_credential(&reg, state, None)
        .map_err(|e| e.to_string())?;
    if cred.cred_id.as_slice() != id.as_slice() {
        return Err("the credential id posted is not the attested one".into());
    }
    // The attested credential data, for the parts Keycloak stores as they came.
    let obj: serde_cbor_2::Value =
        serde_cbor_2::from_slice(&att).map_err(|e| format!("attestationObject: {e}"))?;
    let serde_cbor_2::Value::Map(m) = obj else {
        return Err("attestationObject is not a map".into());
    };
    let text = |k: &str| serde_cbor_2::Value::Text(k.to_string());
    let Some(serde_cbor_2::Value::Bytes(auth_data)) = m.get(&text("authData")) else {
        return Err("attestationObject has no authData".into());
    };
    let fmt = match m.get(&text("fmt")) {
        Some(serde_cbor_2::Value::Text(f)) => f.clone(),
        _ => return Err("attestationObject has no fmt".into()),
    };
    let ad = webauthn_rs_core::internals::AuthenticatorData::<
        webauthn_rs_core::proto::Registration,
    >::try_from(auth_data.as_slice())
    .map_err(|e| e.to_string())?;
    let acd = ad.acd.ok_or("no attested credential data")?;
    let cose = serde_cbor_2::to_vec(&acd.credential_pk).map_err(|e| e.to_string())?;
    let aaguid = uuid::Uuid::from_bytes(acd.aaguid).to_string();
    if !policy.acceptable_aaguids.is_empty()
        && !policy
            .acceptable_aaguids
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&aaguid))
    {
        return Err(format!("AAGUID {aaguid} is not acceptable"));
    }
    Ok(CredentialData {
        aaguid,
        credential_id: STANDARD.encode(&id),
        credential_public_key: URL_SAFE_NO_PAD.encode(cose),
        counter: u64::from(ad.counter),
        attestation_statement: None,
        attestation_statement_format: fmt,
        transports,
    })
}

/// The authentication page's post (`webauthn-authenticate.ftl`), decoded.
#[derive(Debug, Clone, Default)]
pub struct Assertion {
    /// `credentialId`.
    pub credential_id: Vec<u8>,
    /// `clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `authenticatorData`.
    pub authenticator_data: Vec<u8>,
    /// `signature`.
    pub signature: Vec<u8>,
    /// `userHandle` (the user id, for a discoverable credential).
    pub user_handle: Option<String>,
}

impl Assertion {
    /// The fields, `None` when a compulsory one is missing or not Base64url (Keycloak:
    /// "Missing compulsory webauthn parameters").
    pub fn parse<'a>(f: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        let field = |n: &str| b64url(f(n)?);
        Some(Assertion {
            credential_id: field("credentialId")?,
            client_data_json: field("clientDataJSON")?,
            authenticator_data: field("authenticatorData")?,
            signature: field("signature")?,
            user_handle: f("userHandle")
                .filter(|s| !s.trim().is_empty())
                .and_then(b64url)
                .and_then(|b| String::from_utf8(b).ok()),
        })
    }
}

/// Why an assertion is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No credential of the user has this id (`isValid` false: "user not found").
    UnknownCredential,
    /// The credential's checks failed (webauthn4j's `WebAuthnException`), with the reason.
    Invalid(String),
}

/// Checks an assertion against the stored credential whose id it names (webauthn4j's
/// `AuthenticationDataValidator` as Keycloak calls it): type `webauthn.get`, the challenge
/// this login issued, an accepted origin, the RP ID hash, user presence (and verification
/// when the policy requires it), the signature over the COSE key, and the counter (it must
/// grow unless both it and the stored one are 0). Returns the counter to store
/// (`WebAuthnCredentialProvider.isValid`: stored + 1 when the stored one is above 0, else
/// unchanged).
pub fn verify(
    policy: &Policy,
    base: &str,
    challenge: &[u8],
    stored: &[CredentialData],
    a: &Assertion,
) -> Result<(usize, u64), Refusal> {
    let Some(index) = stored
        .iter()
        .position(|c| c.id_bytes().as_deref() == Some(a.credential_id.as_slice()))
    else {
        return Err(Refusal::UnknownCredential);
    };
    let cred = &stored[index];
    let bad = |s: &str| Refusal::Invalid(s.to_string());
    let client: Value =
        serde_json::from_slice(&a.client_data_json).map_err(|_| bad("clientDataJSON"))?;
    if client.get("type").and_then(Value::as_str) != Some("webauthn.get") {
        return Err(bad("clientData type is not webauthn.get"));
    }
    let sent = client
        .get("challenge")
        .and_then(Value::as_str)
        .and_then(b64url);
    let same = sent.is_some_and(|s| {
        !challenge.is_empty()
            && aws_lc_rs::constant_time::verify_slices_are_equal(&s, challenge).is_ok()
    });
    if !same {
        return Err(bad("challenge mismatch"));
    }
    let origin = client.get("origin").and_then(Value::as_str).unwrap_or("");
    if !origins(policy, base).iter().any(|o| o == origin) {
        return Err(bad("bad origin"));
    }
    let ad = &a.authenticator_data;
    if ad.len() < 37 {
        return Err(bad("authenticatorData too short"));
    }
    let rp_hash = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        policy.rp_id_for(base).as_bytes(),
    );
    if &ad[..32] != rp_hash.as_ref() {
        return Err(bad("RP ID hash mismatch"));
    }
    let flags = ad[32];
    if flags & 0x01 == 0 {
        return Err(bad("user not present"));
    }
    if policy.uv_required() && flags & 0x04 == 0 {
        return Err(bad("user not verified"));
    }
    let counter = u64::from(u32::from_be_bytes([ad[33], ad[34], ad[35], ad[36]]));
    let cose = b64url(&cred.credential_public_key).ok_or_else(|| bad("stored key"))?;
    let key_value: serde_cbor_2::Value =
        serde_cbor_2::from_slice(&cose).map_err(|_| bad("stored key"))?;
    let key = COSEKey::try_from(&key_value).map_err(|_| bad("stored key"))?;
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &a.client_data_json);
    let mut signed = ad.clone();
    signed.extend_from_slice(hash.as_ref());
    if !key.verify_signature(&a.signature, &signed).unwrap_or(false) {
        return Err(bad("bad signature"));
    }
    // webauthn4j's `DefaultMaliciousCounterValueHandler`.
    if (counter > 0 || cred.counter > 0) && counter <= cred.counter {
        return Err(bad("signature counter did not increase"));
    }
    let next = if cred.counter > 0 {
        cred.counter + 1
    } else {
        cred.counter
    };
    Ok((index, next))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_read_keycloak_fields_with_defaults() {
        let rep: RealmRepresentation = serde_json::from_value(json!({
            "realm": "r",
            "webAuthnPolicyRpEntityName": "acme",
            "webAuthnPolicyUserVerificationRequirement": "required",
            "webAuthnPolicyExtraOrigins": ["https://app.example"],
            "webAuthnPolicyPasswordlessRequireResidentKey": "Yes",
            "webAuthnPolicyPasswordlessSignatureAlgorithms": ["ES256"]
        }))
        .unwrap();
        let p = Policy::of(&rep, false);
        assert_eq!(p.rp_entity_name, "acme");
        assert!(p.uv_required());
        assert_eq!(p.signature_algorithms, vec!["ES256", "RS256"]);
        assert_eq!(p.rp_id_for("http://127.0.0.1:8080/"), "127.0.0.1");
        assert_eq!(
            origins(&p, "http://127.0.0.1:8080/"),
            vec!["http://127.0.0.1:8080", "https://app.example"]
        );
        let q = Policy::of(&rep, true);
        assert_eq!(q.credential_type, PASSWORDLESS);
        assert_eq!(q.rp_entity_name, "keycloak");
        assert_eq!(q.require_resident_key, "Yes");
        assert_eq!(q.signature_algorithms, vec!["ES256"]);
        assert!(!q.uv_required());
    }

    #[test]
    fn credential_data_is_keycloaks_shape() {
        let d = CredentialData {
            aaguid: "00000000-0000-0000-0000-000000000000".into(),
            credential_id: STANDARD.encode([1u8, 2, 3, 250]),
            credential_public_key: "pQECAyYgASFYIA".into(),
            counter: 3,
            attestation_statement: None,
            attestation_statement_format: "none".into(),
            transports: vec!["usb".into()],
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(
            v,
            json!({"aaguid": "00000000-0000-0000-0000-000000000000", "credentialId": "AQID+g==",
                   "credentialPublicKey": "pQECAyYgASFYIA", "counter": 3,
                   "attestationStatementFormat": "none", "transports": ["usb"]})
        );
        assert_eq!(d.id_bytes().unwrap(), vec![1, 2, 3, 250]);
    }
}
