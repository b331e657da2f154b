//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=refresh_token)
//! RFC 6749 §6. Refresh tokens are bound to the session and the client; with the realm's
//! `revokeRefreshToken`, reuse beyond `refreshTokenMaxReuse` ends the session.

use axum::response::Response;
use serde_json::{Map, Value};

use crate::crypto::jws;
use crate::http::oauth_error::OAuthError;
use crate::oidc::client_auth;
use crate::realm::snapshot::RealmSnapshot;
use crate::sessions::live_client_session;
use crate::sessions::SessionNotes;
use crate::store::RefreshUse;
use crate::tokens::{self, Lifespans, TokenRequest};

use super::{response, GrantContext};
use crate::users::parse_user;

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

/// `revokeRefreshToken`: records this use of the token; a reuse beyond
/// `refreshTokenMaxReuse` ends the session, as a replayed token suggests theft.
async fn check_reuse(
    ctx: &GrantContext<'_>,
    claims: &Map<String, Value>,
    sid: &str,
    client_id: &str,
) -> Result<(), OAuthError> {
    let settings = &ctx.snap.settings;
    if !settings.revoke_refresh_token {
        return Ok(());
    }
    let store = ctx.state.store.as_ref();
    let presented = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    let max_reuse = settings.refresh_token_max_reuse;
    if store
        .use_refresh_token(sid, client_id, presented, iat, max_reuse, ctx.now)
        .await?
        == RefreshUse::Rejected
    {
        store.delete_session(sid).await?;
        return Err(OAuthError::invalid_grant(
            "Maximum allowed refresh token reuse exceeded",
        ));
    }
    Ok(())
}

/// The scope of the new tokens: the refresh token's; the `scope` parameter may only narrow it.
fn narrowed_scope(claims: &Map<String, Value>, param: Option<&str>) -> Result<String, OAuthError> {
    let original = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(s) = param else {
        return Ok(original.to_string());
    };
    if let Some(extra) = s
        .split(' ')
        .find(|x| !x.is_empty() && !original.split(' ').any(|o| o == *x))
    {
        return Err(OAuthError::invalid_scope(format!(
            "Invalid scopes: {extra}"
        )));
    }
    Ok(s.to_string())
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
    ctx.client_authenticated(client);
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let claims = verify(
        ctx.snap,
        &ctx.issuer,
        ctx.params.require("refresh_token")?,
        ctx.now,
    )
    .inspect_err(|_| ctx.fail(crate::events::errors::INVALID_TOKEN))?;
    ctx.ev(|e| {
        if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
            e.set_detail("refresh_token_id", jti);
        }
        if let Some(typ) = claims.get("typ").and_then(Value::as_str) {
            e.set_detail("refresh_token_type", typ);
        }
        if let Some(sub) = claims.get("sub").and_then(Value::as_str) {
            e.set_user(sub);
        }
        if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
            e.set_session(sid);
        }
    });
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
    let Some((session, client_started)) =
        live_client_session(store, ctx.snap, sid, client_id, ctx.now).await?
    else {
        ctx.fail(crate::events::errors::INVALID_TOKEN);
        return Err(OAuthError::invalid_grant("Session not active"));
    };
    if claims.get("sub").and_then(Value::as_str) != Some(session.user_id.as_str()) {
        return Err(OAuthError::invalid_grant("Invalid refresh token"));
    }
    // Keycloak's `TokenManager.validateToken`: the client must still take part in the session
    // (a replayed code detaches it), since before the token was issued.
    let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    match client_started {
        None => {
            return Err(OAuthError::invalid_grant(
                "Session doesn't have required client",
            ))
        }
        Some(started) if iat < started => {
            return Err(OAuthError::invalid_grant(
                "Refresh toked issued before the client session started",
            ))
        }
        Some(_) => {}
    }
    let new_jti = uuid::Uuid::new_v4().to_string();
    check_reuse(ctx, &claims, sid, client_id).await?;
    let Some(row) = store.user_by_id(&ctx.snap.id, &session.user_id).await? else {
        store.delete_session(sid).await?;
        return Err(OAuthError::invalid_grant("User not found"));
    };
    let user = parse_user(&row)?;
    if user.enabled == Some(false) {
        return Err(OAuthError::invalid_grant("User disabled"));
    }
    let requested = narrowed_scope(&claims, ctx.params.get("scope"))?;
    let (scopes, openid) = tokens::resolve_scopes(ctx.snap, client, Some(&requested))?;
    let notes = SessionNotes::map_of(&session.data);
    let memberships = tokens::memberships(
        ctx.state.store.as_ref(),
        ctx.snap,
        &row.id,
        &scopes,
        // The organization the login chose, kept by the refresh token.
        claims
            .get(tokens::ORGANIZATION_CLAIM)
            .and_then(Value::as_str),
    )
    .await?;
    let req = TokenRequest {
        snap: ctx.snap,
        issuer: &ctx.issuer,
        client,
        user_id: &row.id,
        user: &user,
        sid: Some(sid),
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid,
        nonce: None,
        now: ctx.now,
        // The login's `acr`, carried by the refresh token (tokens of older versions: `1`).
        acr: claims.get("acr").and_then(Value::as_str).unwrap_or("1"),
    };
    let issued = tokens::issue(&req)?;
    let lifespans = Lifespans::of(ctx.snap, client);
    let (exp, refresh_in) = if session.offline {
        (None, 0)
    } else {
        let exp = (ctx.now + lifespans.idle).min(session.created_at + lifespans.max);
        (Some(exp), exp - ctx.now)
    };
    let refresh = tokens::refresh_token(&req, &new_jti, exp, session.offline)?;
    // The session's last use moves to now; within the same second it is already there, and the
    // write (a transaction and a sync on SQLite) would change nothing.
    if session.last_refresh != ctx.now {
        store.touch_session(sid, ctx.now).await?;
    }
    ctx.issued(&issued, None);
    ctx.ev(|e| e.set_detail("updated_refresh_token_id", new_jti.clone()));
    Ok(response(
        &issued,
        Some((refresh, refresh_in)),
        Some(sid),
        ctx.snap.not_before,
    ))
}
