//! Brute-force detection applied to a login attempt ([`crate::policy::brute_force`] is the
//! algorithm): the lock is checked before the credentials, a failure is one store write, a
//! success writes only when the user had failures, a permanent lockout disables the user.
//!
//! Other credential checks (OTP, recovery codes) call [`begin`] before checking and
//! [`Attempt::failed`] / [`Attempt::succeeded`] after, as the password steps do.

use serde_json::json;

use crate::policy::brute_force::{
    lock, locks_permanently, permanently_locked_out, temporarily_disabled, Lock, Turn,
    DISABLED_BY_PERMANENT_LOCKOUT, DISABLED_REASON,
};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::StoreError;
use crate::AppState;

/// What [`begin`] decided.
pub enum Gate<'a> {
    /// Check the credentials, then report how it went.
    Open(Attempt<'a>),
    /// Refuse without checking them (with the answer of a wrong password).
    Locked(Lock),
}

/// A login attempt of a known user, between [`begin`] and its outcome.
pub struct Attempt<'a> {
    state: &'a AppState,
    snap: &'a RealmSnapshot,
    user_id: String,
    /// Failures were recorded (a success must clear them).
    had_failures: bool,
    /// Held until the outcome is recorded; `None` when the realm is not protected.
    _turn: Option<Turn>,
}

/// Before the credentials of a known user are checked: whether the user is locked out, and
/// (for a protected realm) this node's turn at logging the user in. One read of the store for a
/// protected realm; nothing otherwise.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn begin<'a>(
    state: &'a AppState,
    snap: &'a RealmSnapshot,
    user_id: &str,
    user: &UserRepresentation,
) -> Result<Gate<'a>, StoreError> {
    let policy = &snap.brute_force;
    if !policy.protected {
        return Ok(Gate::Open(Attempt {
            state,
            snap,
            user_id: user_id.to_string(),
            had_failures: false,
            _turn: None,
        }));
    }
    let Some(turn) = state.logins_in_flight.enter(&snap.id, user_id) else {
        return Ok(Gate::Locked(Lock::Temporary));
    };
    let row = state.store.login_failure(&snap.id, user_id).await?;
    if let Some(l) = lock(policy, user, row.as_ref(), crate::clock::now()) {
        return Ok(Gate::Locked(l));
    }
    Ok(Gate::Open(Attempt {
        state,
        snap,
        user_id: user_id.to_string(),
        had_failures: row.is_some(),
        _turn: Some(turn),
    }))
}

impl Attempt<'_> {
    /// The credentials were wrong: one more failure (one store write), and the user disabled
    /// when that makes a permanent lockout. Logged, not returned: the caller answers the wrong
    /// password either way.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn failed(self, ip: Option<std::net::IpAddr>) {
        let policy = &self.snap.brute_force;
        if !policy.protected {
            return;
        }
        let ip = ip.map(|a| a.to_string());
        let store = self.state.store.as_ref();
        let now = crate::clock::now_millis();
        let row = match store
            .record_login_failure(
                &self.snap.id,
                &self.user_id,
                now,
                ip.as_deref(),
                &policy.failure_rule(now, ip.as_deref()),
            )
            .await
        {
            Ok(row) => row,
            Err(e) => {
                tracing::error!(error = %e, "brute force: a failed login was not recorded");
                return;
            }
        };
        // The attempt found the user unlocked: a wait set now is this failure's lockout.
        if temporarily_disabled(Some(&row), now / 1000) {
            let kind = "USER_DISABLED_BY_TEMPORARY_LOCKOUT";
            lockout_event(self.state, self.snap, &self.user_id, &row, kind);
        }
        if locks_permanently(policy, &row) {
            match lock_out(self.state, self.snap, &self.user_id).await {
                Ok(()) => {
                    let kind = "USER_DISABLED_BY_PERMANENT_LOCKOUT";
                    lockout_event(self.state, self.snap, &self.user_id, &row, kind)
                }
                Err(e) => {
                    tracing::error!(error = %e, "brute force: the permanent lockout was not written")
                }
            }
        }
    }

    /// The credentials were right: the user's failures are forgotten (a write only when
    /// there were some).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn succeeded(self) {
        if !self.had_failures {
            return;
        }
        let store = self.state.store.as_ref();
        if let Err(e) = store
            .clear_login_failure(&self.snap.id, &self.user_id)
            .await
        {
            tracing::error!(error = %e, "brute force: failures not cleared after a login");
        }
    }
}

/// Keycloak's `DefaultBruteForceProtector.sendEvent`: the lockout as a login event of no
/// client, with `reason`, `num_failures` and, for a temporary one, `not_before` (the end of the
/// wait as Java's `LocalDateTime` prints it, here in UTC).
fn lockout_event(
    state: &AppState,
    snap: &RealmSnapshot,
    user_id: &str,
    row: &crate::store::LoginFailureRow,
    kind: &'static str,
) {
    let mut e = crate::events::UserEvent::new(snap, kind)
        .user(user_id)
        .detail("reason", "brute_force_attack detected")
        .detail("num_failures", row.num_failures.to_string());
    if kind == "USER_DISABLED_BY_TEMPORARY_LOCKOUT" {
        e.set_detail("not_before", local_date_time(row.failed_login_not_before));
    }
    e.success(state);
}

/// Java's `LocalDateTime.toString()` of epoch seconds in UTC: `2026-12-06T14:10:05`, or
/// `2026-12-06T14:10` when the seconds are 0.
fn local_date_time(seconds: i64) -> String {
    let iso = crate::events::time::iso8601(seconds.saturating_mul(1000));
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`
    let full = iso.get(..19).unwrap_or(&iso);
    match full.strip_suffix(":00") {
        Some(short) => short.to_string(),
        None => full.to_string(),
    }
}

/// Spends the time of a password check (Keycloak's `AuthenticatorUtils.dummyHash` for a locked
/// user), so the answer's timing does not tell a lockout from a wrong password.
pub async fn dummy_hash(given: &str) {
    let given = given.to_string();
    let _ = crate::crypto::password::off_thread(move || crate::crypto::password::burn_time(&given))
        .await;
}

/// Disables a user for good: `enabled` false and the attribute `disabledReason`
/// `permanentLockout` (Keycloak's `permanentUserLockOut`).
async fn lock_out(state: &AppState, snap: &RealmSnapshot, user_id: &str) -> Result<(), StoreError> {
    let Some(mut row) = state.store.user_by_id(&snap.id, user_id).await? else {
        return Ok(());
    };
    let mut user = crate::users::parse_user(&row)?;
    user.enabled = Some(false);
    user.attributes.get_or_insert_with(Default::default).insert(
        DISABLED_REASON.to_string(),
        json!([DISABLED_BY_PERMANENT_LOCKOUT]),
    );
    row.representation = serde_json::to_string(&user)
        .map_err(|e| StoreError::Corrupt(format!("user '{user_id}': {e}")))?;
    tracing::info!(user = %user_id, "brute force: user locked out permanently");
    state.store.update_user(&snap.id, &row).await
}

/// An administrator sets `enabled: true` on a user (`UserResource.updateUser`): the user's
/// failures are forgotten, and a permanent lockout's `disabledReason` is removed from `next`,
/// the representation about to be stored.
pub async fn on_enabled_by_admin(
    state: &AppState,
    snap: &RealmSnapshot,
    user_id: &str,
    before: &UserRepresentation,
    next: &mut UserRepresentation,
) -> Result<(), StoreError> {
    let policy = &snap.brute_force;
    let row = state.store.login_failure(&snap.id, user_id).await?;
    if permanently_locked_out(policy, before, row.as_ref()) {
        if let Some(a) = next.attributes.as_mut() {
            a.shift_remove(DISABLED_REASON);
        }
    }
    if row.is_some() {
        state.store.clear_login_failure(&snap.id, user_id).await?;
    }
    Ok(())
}

/// `GET /admin/realms/{realm}/users/{id}` shows a user in a temporary lockout as disabled
/// (`UserResource.getUser`).
pub async fn temporarily_disabled_now(
    state: &AppState,
    snap: &RealmSnapshot,
    user_id: &str,
) -> Result<bool, StoreError> {
    if !snap.brute_force.protected {
        return Ok(false);
    }
    let row = state.store.login_failure(&snap.id, user_id).await?;
    Ok(temporarily_disabled(row.as_ref(), crate::clock::now()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_before_reads_as_javas_local_date_time() {
        assert_eq!(super::local_date_time(0), "1970-01-01T00:00");
        assert_eq!(super::local_date_time(1_765_030_205), "2025-12-06T14:10:05");
    }
}
