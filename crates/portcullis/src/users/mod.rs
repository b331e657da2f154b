//! Users: look-up by user name or e-mail, the stored representation, password verification
//! and the re-hash of imported or weaker hashes.

pub mod otp;
pub mod profile;
pub mod recovery_codes;
pub mod webauthn;

use crate::crypto::password;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::{Store, StoreError, UserRow};

/// Parses a stored user.
pub fn parse_user(row: &UserRow) -> Result<UserRepresentation, StoreError> {
    serde_json::from_str(&row.representation)
        .map_err(|e| StoreError::Corrupt(format!("user '{}': {e}", row.id)))
}

/// Whether a stored user is enabled (an absent flag counts as enabled, as everywhere here),
/// reading only that field of the representation.
pub fn is_enabled(row: &UserRow) -> Result<bool, StoreError> {
    #[derive(serde::Deserialize)]
    struct Enabled {
        #[serde(default, deserialize_with = "crate::representation::lenient::opt")]
        enabled: Option<bool>,
    }
    let e: Enabled = serde_json::from_str(&row.representation)
        .map_err(|e| StoreError::Corrupt(format!("user '{}': {e}", row.id)))?;
    Ok(e.enabled != Some(false))
}

/// Deletes a user with its sessions and permission tickets (as requester and as owner), then
/// the Authorization Services rows the user leaves behind: owned resources, the user's place
/// in `user` policies (Keycloak's `UserSynchronizer`), its resource in the fine-grained admin
/// permissions. False when the user is unknown.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_user(
    store: &dyn Store,
    snap: &RealmSnapshot,
    id: &str,
) -> Result<bool, StoreError> {
    if !store.delete_user(&snap.id, id).await? {
        return Ok(false);
    }
    crate::realm::authz::forget_user_everywhere(store, &snap.id, id).await?;
    crate::realm::authz::forget_admin_object(store, &snap.rep, &snap.id, id).await?;
    Ok(true)
}

/// Finds a user by user name, or by e-mail where the realm allows it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_user(
    store: &dyn Store,
    snap: &RealmSnapshot,
    login: &str,
) -> Result<Option<UserRow>, StoreError> {
    let login = login.trim().to_lowercase();
    if let Some(u) = store.user_by_username(&snap.id, &login).await? {
        return Ok(Some(u));
    }
    let by_email = snap.settings.login_with_email_allowed;
    if by_email && login.contains('@') {
        let found = store.users_by_email(&snap.id, &login).await?;
        if found.len() == 1 {
            return Ok(found.into_iter().next());
        }
    }
    Ok(None)
}

/// Checks a password against the user's password credential. On success, an imported
/// (pbkdf2) or weaker hash is replaced by a new Argon2id hash in `user`; returns
/// (matches, upgraded).
pub fn password_matches(user: &mut UserRepresentation, given: &str) -> (bool, bool) {
    for c in user
        .credentials
        .iter_mut()
        .flatten()
        .filter(|c| c.kind.as_deref() == Some("password"))
    {
        let (Some(sd), Some(cd)) = (&c.secret_data, &c.credential_data) else {
            continue;
        };
        if !password::verify(given, sd, cd).unwrap_or(false) {
            continue;
        }
        if password::needs_rehash(cd) {
            if let Ok(h) = password::hash(given) {
                c.secret_data = Some(h.secret_data);
                c.credential_data = Some(h.credential_data);
                return (true, true);
            }
        }
        return (true, false);
    }
    (false, false)
}
