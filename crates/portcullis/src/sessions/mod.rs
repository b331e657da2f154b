//! Sessions: their lifespans (idle, max, remember-me, offline) as Keycloak's
//! `SessionExpirationUtils` computes them, liveness on use, and the periodic sweep of expired
//! sessions.

pub mod logout;

use crate::model::SessionLifespans;
use crate::realm::snapshot::{RealmCache, RealmSnapshot};
use crate::store::{SessionRow, SessionSweep, Store, StoreError};

mod notes;

pub use notes::SessionNotes;

/// A session's (idle, max) lifespans in seconds, from the realm's settings: offline sessions use the offline ones (no max unless
/// `offlineSessionMaxLifespanEnabled`); "remember me" sessions the longer of the ordinary and
/// the remember-me ones, as Keycloak's `SessionExpirationUtils`.
pub fn session_limits(realm: &SessionLifespans, offline: bool, remember: bool) -> (i64, i64) {
    if offline {
        let max = if realm.offline_max_enabled {
            realm.offline_max
        } else {
            i64::MAX / 4
        };
        return (realm.offline_idle, max);
    }
    let (idle, max) = (realm.sso_idle, realm.sso_max);
    if !remember {
        return (idle, max);
    }
    (
        idle.max(realm.sso_idle_remember_me),
        max.max(realm.sso_max_remember_me),
    )
}

/// How long past its expiry a session is kept before a sweep removes it: a request that found
/// it alive a moment ago can still finish with it. Keycloak's periodic cleaner waits the same
/// (`PERIODIC_CLEANER_IDLE_TIMEOUT_WINDOW_SECONDS`).
pub const SWEEP_GRACE: i64 = 180;

/// What a sweep of a realm's sessions may remove at `now`: only sessions expired whatever
/// their kind ("remember me" or not), by the same rule as [`live_session`], for more than
/// [`SWEEP_GRACE`].
pub fn sweep_bounds(realm: &SessionLifespans, now: i64) -> SessionSweep {
    let (idle, max) = session_limits(realm, false, false);
    let (idle_rm, max_rm) = session_limits(realm, false, true);
    let (off_idle, off_max) = session_limits(realm, true, false);
    let before = |lifespan: i64| now.saturating_sub(lifespan).saturating_sub(SWEEP_GRACE);
    SessionSweep {
        online_used_before: before(idle.max(idle_rm)),
        online_started_before: before(max.max(max_rm)),
        offline_used_before: before(off_idle),
        offline_started_before: before(off_max),
    }
}

/// Removes every realm's expired sessions from the store (see [`sweep_bounds`]).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sweep_sessions(store: &dyn Store, realms: &RealmCache) {
    let now = crate::clock::now();
    for name in realms.names() {
        let snap = match realms.facts(store, &name).await {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(realm = %name, error = %e, "session sweep failed");
                continue;
            }
        };
        match store
            .sweep_sessions(&snap.id, &sweep_bounds(&snap.settings.sessions, now))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(realm = %name, sessions = n, "expired sessions removed"),
            Err(e) => tracing::warn!(realm = %name, error = %e, "session sweep failed"),
        }
    }
}

/// The session of a token if it is still alive; an expired one is removed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn live_session(
    store: &dyn Store,
    snap: &RealmSnapshot,
    sid: &str,
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    let Some(s) = store.session(sid).await? else {
        return Ok(None);
    };
    ended_if_expired(store, snap, s, now).await
}

/// As [`live_session`], with when `client_id`'s part in the session started (`None`: the
/// client has none, or was detached), read together: the refresh grant and the bearer checks
/// need both.
pub async fn live_client_session(
    store: &dyn Store,
    snap: &RealmSnapshot,
    sid: &str,
    client_id: &str,
    now: i64,
) -> Result<Option<(SessionRow, Option<i64>)>, StoreError> {
    let Some((s, started)) = store.session_for_client(sid, client_id).await? else {
        return Ok(None);
    };
    Ok(ended_if_expired(store, snap, s, now)
        .await?
        .map(|s| (s, started)))
}

/// `s` if it belongs to `snap`'s realm and is neither idle nor past its maximum age; an expired
/// session is ended on the way.
async fn ended_if_expired(
    store: &dyn Store,
    snap: &RealmSnapshot,
    s: SessionRow,
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    if s.realm_id != snap.id {
        return Ok(None);
    }
    if !expired(snap, &s, now) {
        return Ok(Some(s));
    }
    // A cached row may not know of a use on another node: the database decides.
    match store.fresh_session(&s.id).await? {
        Some(fresh) if !expired(snap, &fresh, now) => Ok(Some(fresh)),
        Some(_) => {
            store.delete_session(&s.id).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Whether `s` is idle or past its maximum age at `now`.
fn expired(snap: &RealmSnapshot, s: &SessionRow, now: i64) -> bool {
    let remember = !s.offline && SessionNotes::parse(&s.data).remember_me();
    let (idle, max) = session_limits(&snap.settings.sessions, s.offline, remember);
    now > s.last_refresh + idle || now > s.created_at + max
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::{json, Value};

    use super::{session_limits, sweep_bounds, SWEEP_GRACE};
    use crate::model::SessionLifespans;
    use crate::store::SessionSweep;

    fn realm(v: Value) -> SessionLifespans {
        SessionLifespans::of(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn lifespans_follow_keycloaks_defaults_and_remember_me() {
        let defaults = realm(json!({}));
        assert_eq!(session_limits(&defaults, false, false), (1800, 36000));
        assert_eq!(session_limits(&defaults, false, true), (1800, 36000));
        assert_eq!(
            session_limits(&defaults, true, false),
            (2_592_000, i64::MAX / 4)
        );
        let r = realm(json!({
            "ssoSessionIdleTimeout": 600, "ssoSessionMaxLifespan": 3600,
            "ssoSessionIdleTimeoutRememberMe": 86400, "ssoSessionMaxLifespanRememberMe": 1800,
            "offlineSessionIdleTimeout": 1000, "offlineSessionMaxLifespanEnabled": true,
            "offlineSessionMaxLifespan": 5000
        }));
        assert_eq!(session_limits(&r, false, false), (600, 3600));
        // The longer of the two, each: a remember-me max shorter than the ordinary one is not
        // used (Keycloak's `SessionExpirationUtils`).
        assert_eq!(session_limits(&r, false, true), (86400, 3600));
        assert_eq!(session_limits(&r, true, false), (1000, 5000));
        // A sweep removes only what is expired for every kind of session (here a "remember me"
        // session may stay idle a day, so online sessions go after a day idle), and only once
        // the grace has passed.
        let g = SWEEP_GRACE;
        assert_eq!(
            sweep_bounds(&r, 100_000),
            SessionSweep {
                online_used_before: 100_000 - 86400 - g,
                online_started_before: 100_000 - 3600 - g,
                offline_used_before: 100_000 - 1000 - g,
                offline_started_before: 100_000 - 5000 - g,
            }
        );
        assert!(sweep_bounds(&defaults, 100_000).offline_started_before < 0);
    }
}
