//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=refresh_token)
//! RFC 6749 §6. Refresh tokens are bound to the session and the client; with the realm's
//! `revokeRefreshToken`, reuse beyond `refreshTokenMaxReuse` ends the session.

use axum::response::Response;
use serde_json::{Map, Value};

use crate::crypto::jws;
use crate::oidc::client_auth;
use crate::oidc::error::OAuthError;
use crate::oidc::issue::{self, Lifespans, TokenRequest};
use crate::realm::snapshot::{RealmCache, RealmSnapshot};
use crate::store::{RefreshUse, SessionRow, SessionSweep, Store};

use super::{parse_user, response, GrantContext};

/// A verified refresh token's claims.
pub fn verify(
    snap: &RealmSnapshot,
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    let invalid = || OAuthError::invalid_grant("Invalid refresh token");
    let parsed = jws::parse(token).map_err(|_| invalid())?;
    parsed.verify_hmac(&snap.hmac_keys).map_err(|_| invalid())?;
    let c = parsed.claims;
    if !matches!(
        c.get("typ").and_then(Value::as_str),
        Some("Refresh" | "Offline")
    ) {
        return Err(invalid());
    }
    if c.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(OAuthError::invalid_grant("Invalid token issuer"));
    }
    if let Some(exp) = c.get("exp").and_then(Value::as_i64) {
        if exp < now {
            return Err(OAuthError::invalid_grant("Token is not active"));
        }
    }
    Ok(c)
}

/// A session's (idle, max) lifespans in seconds, from the realm's settings (`extra` of its
/// representation): offline sessions use the offline ones (no max unless
/// `offlineSessionMaxLifespanEnabled`); "remember me" sessions the longer of the ordinary and
/// the remember-me ones, as Keycloak's `SessionExpirationUtils`.
pub fn session_limits(realm: &Map<String, Value>, offline: bool, remember: bool) -> (i64, i64) {
    let get = |k: &str| realm.get(k).and_then(Value::as_i64);
    if offline {
        let max = if realm
            .get("offlineSessionMaxLifespanEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            get("offlineSessionMaxLifespan").unwrap_or(5_184_000)
        } else {
            i64::MAX / 4
        };
        return (get("offlineSessionIdleTimeout").unwrap_or(2_592_000), max);
    }
    let idle = get("ssoSessionIdleTimeout").unwrap_or(1800);
    let max = get("ssoSessionMaxLifespan").unwrap_or(36000);
    if !remember {
        return (idle, max);
    }
    (
        idle.max(get("ssoSessionIdleTimeoutRememberMe").unwrap_or(0)),
        max.max(get("ssoSessionMaxLifespanRememberMe").unwrap_or(0)),
    )
}

/// How long past its expiry a session is kept before a sweep removes it: a request that found
/// it alive a moment ago can still finish with it. Keycloak's periodic cleaner waits the same
/// (`PERIODIC_CLEANER_IDLE_TIMEOUT_WINDOW_SECONDS`).
pub const SWEEP_GRACE: i64 = 180;

/// What a sweep of a realm's sessions may remove at `now`: only sessions expired whatever
/// their kind ("remember me" or not), by the same rule as [`live_session`], for more than
/// [`SWEEP_GRACE`].
pub fn sweep_bounds(realm: &Map<String, Value>, now: i64) -> SessionSweep {
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
pub async fn sweep_sessions(store: &dyn Store, realms: &RealmCache) {
    let now = super::now();
    for name in realms.names() {
        let Some(snap) = realms.get(&name) else {
            continue;
        };
        match store
            .sweep_sessions(&snap.id, &sweep_bounds(&snap.rep.extra, now))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(realm = %name, sessions = n, "expired sessions removed"),
            Err(e) => tracing::warn!(realm = %name, error = %e, "session sweep failed"),
        }
    }
}

/// The session of a token if it is still alive; an expired one is removed.
pub async fn live_session(
    store: &dyn Store,
    snap: &RealmSnapshot,
    sid: &str,
    now: i64,
) -> Result<Option<SessionRow>, OAuthError> {
    let Some(s) = store.session(sid).await? else {
        return Ok(None);
    };
    if s.realm_id != snap.id {
        return Ok(None);
    }
    let remember = !s.offline
        && serde_json::from_str::<Map<String, Value>>(&s.data)
            .ok()
            .and_then(|n| n.get("REMEMBER_ME").cloned())
            == Some(Value::from("true"));
    let (idle, max) = session_limits(&snap.rep.extra, s.offline, remember);
    if now > s.last_refresh + idle || now > s.created_at + max {
        store.delete_session(&s.id).await?;
        return Ok(None);
    }
    Ok(Some(s))
}

/// The grant.
pub async fn grant(ctx: &GrantContext<'_>) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(
        ctx.snap,
        ctx.state.store.as_ref(),
        &ctx.issuer,
        ctx.headers,
        ctx.params,
    )
    .await?;
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let claims = verify(
        ctx.snap,
        &ctx.issuer,
        ctx.params.require("refresh_token")?,
        ctx.now,
    )?;
    if claims.get("azp").and_then(Value::as_str) != Some(client_id) {
        return Err(OAuthError::invalid_grant(
            "Invalid refresh token. Token client and authorized client don't match",
        ));
    }
    let sid = claims
        .get("sid")
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid refresh token"))?;
    let store = ctx.state.store.as_ref();
    let Some(session) = live_session(store, ctx.snap, sid, ctx.now).await? else {
        return Err(OAuthError::invalid_grant("Session not active"));
    };
    if claims.get("sub").and_then(Value::as_str) != Some(session.user_id.as_str()) {
        return Err(OAuthError::invalid_grant("Invalid refresh token"));
    }
    let presented = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let new_jti = uuid::Uuid::new_v4().to_string();
    if ctx
        .snap
        .rep
        .extra
        .get("revokeRefreshToken")
        .and_then(Value::as_bool)
        == Some(true)
    {
        let max_reuse = ctx
            .snap
            .rep
            .extra
            .get("refreshTokenMaxReuse")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        if store
            .use_refresh_token(sid, client_id, presented, iat, max_reuse, ctx.now)
            .await?
            == RefreshUse::Rejected
        {
            // Reuse beyond the limit: the session is ended, as a replayed token suggests theft.
            store.delete_session(sid).await?;
            return Err(OAuthError::invalid_grant(
                "Maximum allowed refresh token reuse exceeded",
            ));
        }
    }
    let Some(row) = store.user_by_id(&ctx.snap.id, &session.user_id).await? else {
        store.delete_session(sid).await?;
        return Err(OAuthError::invalid_grant("User not found"));
    };
    let user = parse_user(&row)?;
    if user.enabled == Some(false) {
        return Err(OAuthError::invalid_grant("User disabled"));
    }
    // The new tokens keep the scope of the refresh token; `scope` may only narrow it.
    let original = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let requested = match ctx.params.get("scope") {
        Some(s) => {
            if let Some(extra) = s
                .split(' ')
                .find(|x| !x.is_empty() && !original.split(' ').any(|o| o == *x))
            {
                return Err(OAuthError::invalid_scope(format!(
                    "Invalid scopes: {extra}"
                )));
            }
            s.to_string()
        }
        None => original.to_string(),
    };
    let (scopes, openid) = issue::resolve_scopes(ctx.snap, client, Some(&requested))?;
    let notes: Map<String, Value> = serde_json::from_str(&session.data).unwrap_or_default();
    let req = TokenRequest {
        snap: ctx.snap,
        issuer: &ctx.issuer,
        client,
        user_id: &row.id,
        user: &user,
        sid: Some(sid),
        notes: &notes,
        scopes: &scopes,
        openid,
        nonce: None,
        now: ctx.now,
    };
    let issued = issue::issue(&req)?;
    let lifespans = Lifespans::of(ctx.snap, client);
    let (exp, refresh_in) = if session.offline {
        (None, 0)
    } else {
        let exp = (ctx.now + lifespans.idle).min(session.created_at + lifespans.max);
        (Some(exp), exp - ctx.now)
    };
    let refresh = issue::refresh_token(&req, &new_jti, exp, session.offline)?;
    // The session's last use moves to now; within the same second it is already there, and the
    // write (a transaction and a sync on SQLite) would change nothing.
    if session.last_refresh != ctx.now {
        store.touch_session(sid, ctx.now).await?;
    }
    Ok(response(
        &issued,
        Some((refresh, refresh_in)),
        Some(sid),
        ctx.snap.not_before,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::{session_limits, sweep_bounds, SWEEP_GRACE};
    use crate::store::SessionSweep;

    fn realm(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
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
