//! The OTP check shared by the OTP form (`auth-otp-form`) and the password grant
//! (`direct-grant-validate-otp`): the user's OTP credential (the one chosen, else the first)
//! checked under the realm's policy ([`crate::users::otp`]). A TOTP code used once is refused
//! again while it is valid unless the realm allows reuse, and an HOTP counter is used once:
//! both through the store's single-use keys, so every node sharing the store agrees.

use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{CredentialRepresentation, UserRepresentation};
use crate::store::{StoreError, UserRow};
use crate::users::otp::{reuse_lifespan, Credential, Policy};
use crate::AppState;

/// Keycloak's `invalidTotpMessage`.
pub const INVALID_TOTP: &str = "Invalid authenticator code.";

/// The user's OTP credentials: (id, label) in stored order.
pub fn devices(user: &UserRepresentation) -> Vec<(String, String)> {
    otp_credentials(user)
        .enumerate()
        .map(|(i, c)| {
            let label = c
                .extra
                .get("userLabel")
                .and_then(serde_json::Value::as_str)
                .filter(|l| !l.is_empty())
                .map_or_else(|| format!("Device {}", i + 1), str::to_string);
            (credential_key(c, i), label)
        })
        .collect()
}

fn otp_credentials(user: &UserRepresentation) -> impl Iterator<Item = &CredentialRepresentation> {
    user.credentials
        .iter()
        .flatten()
        .filter(|c| c.kind.as_deref() == Some("otp"))
}

/// A credential's id (the place among the user's OTP credentials for one stored without).
fn credential_key(c: &CredentialRepresentation, i: usize) -> String {
    c.id.clone().unwrap_or_else(|| format!("otp-{i}"))
}

/// Checks `code` against the user's OTP credential `selected` (else the first). `Ok(true)`
/// when valid (the code or counter is then used up); the user row is updated for HOTP.
pub async fn check(
    state: &AppState,
    snap: &RealmSnapshot,
    row: &UserRow,
    user: &UserRepresentation,
    selected: Option<&str>,
    code: &str,
) -> Result<bool, StoreError> {
    let policy = Policy::of(&snap.rep);
    let chosen = otp_credentials(user)
        .enumerate()
        .find(|(i, c)| selected.is_none_or(|s| s.is_empty() || credential_key(c, *i) == s));
    let Some((index, stored)) = chosen else {
        return Ok(false);
    };
    let key = credential_key(stored, index);
    let Some(cred) = Credential::parse(
        stored.credential_data.as_deref().unwrap_or_default(),
        stored.secret_data.as_deref().unwrap_or_default(),
    ) else {
        tracing::warn!(realm = %snap.name, "an OTP credential cannot be read");
        return Ok(false);
    };
    let t = now();
    let Some(matched) = cred.verify(code.trim(), t, policy.look_ahead) else {
        return Ok(false);
    };
    if cred.is_hotp() {
        // The counter is used once, whichever node sees it first.
        let claim = format!("otp-hotp:{}:{}:{key}:{matched}", snap.id, row.id);
        if !state
            .store
            .use_once(&claim, t + 10 * 365 * 24 * 3600)
            .await?
        {
            return Ok(false);
        }
        advance_counter(state, snap, row, &key, index, matched + 1).await?;
        return Ok(true);
    }
    if !policy.code_reusable {
        let claim = format!("otp-used:{}:{}:{key}.{code}", snap.id, row.id);
        let until = t + reuse_lifespan(&policy, &cred);
        if !state.store.use_once(&claim, until).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Stores an HOTP credential's next counter.
async fn advance_counter(
    state: &AppState,
    snap: &RealmSnapshot,
    row: &UserRow,
    key: &str,
    index: usize,
    next: u64,
) -> Result<(), StoreError> {
    // Read again: another step may have changed the user since.
    let Some(mut fresh) = state.store.user_by_id(&snap.id, &row.id).await? else {
        return Ok(());
    };
    let mut user = crate::users::parse_user(&fresh)?;
    let found = user
        .credentials
        .iter_mut()
        .flatten()
        .filter(|c| c.kind.as_deref() == Some("otp"))
        .enumerate()
        .find(|(i, c)| *i == index && credential_key(c, *i) == key)
        .map(|(_, c)| c);
    let Some(c) = found else {
        return Ok(());
    };
    let mut data: serde_json::Value =
        serde_json::from_str(c.credential_data.as_deref().unwrap_or("{}")).unwrap_or_default();
    data["counter"] = serde_json::json!(next);
    c.credential_data = Some(data.to_string());
    fresh.representation =
        serde_json::to_string(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    state.store.update_user(&snap.id, &fresh).await
}
