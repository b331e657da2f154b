//! Verifying access tokens this realm issued (userinfo, introspection, revocation, token
//! exchange, the Admin API): signature by a realm key, `typ: Bearer`, issuer, expiry, not
//! revoked, session alive, and the token's client and user still there and enabled (Keycloak's
//! `TokenManager.checkTokenValidForIntrospection`). Client state comes from the realm snapshot
//! (reloaded on every node when the realm changes), user state from the store on each call.

use serde_json::{Map, Value};

use crate::crypto::jws;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::Store;

use crate::http::oauth_error::OAuthError;
use crate::sessions::live_client_session;
use crate::users::is_enabled;

/// Why a token is not active (never shown to the token's bearer beyond "invalid").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    /// Bad signature, wrong issuer or type, malformed.
    Invalid,
    /// Past `exp`.
    Expired,
    /// Revoked or its session ended.
    Revoked,
    /// Its session no longer has its client (detached, e.g. after a replayed code), or the
    /// client's part started after the token was issued.
    NoClientSession,
    /// Its client (`azp`) is gone.
    ClientNotFound,
    /// Its client is disabled.
    ClientDisabled,
    /// Its user is gone.
    UserNotFound,
    /// Its user is disabled.
    UserDisabled,
}

impl Inactive {
    /// Keycloak's `UserInfoEndpoint` description of the failure.
    pub fn userinfo_description(self) -> &'static str {
        match self {
            Inactive::Invalid | Inactive::Expired | Inactive::Revoked => {
                "Token verification failed"
            }
            Inactive::NoClientSession => {
                "User session not found or doesn't have client attached on it"
            }
            Inactive::ClientNotFound => "Client not found",
            Inactive::ClientDisabled => "Client disabled",
            Inactive::UserNotFound => "User not found",
            Inactive::UserDisabled => "User disabled",
        }
    }
}

/// Verifies an access token of this realm; returns its claims.
pub async fn verify_access(
    store: &dyn Store,
    snap: &RealmSnapshot,
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<Result<Map<String, Value>, Inactive>, OAuthError> {
    let Ok(parsed) = jws::parse(token) else {
        return Ok(Err(Inactive::Invalid));
    };
    if parsed.verify(&snap.keys).is_err() {
        return Ok(Err(Inactive::Invalid));
    }
    let c = parsed.claims;
    if c.get("typ").and_then(Value::as_str) != Some("Bearer")
        || c.get("iss").and_then(Value::as_str) != Some(issuer)
    {
        return Ok(Err(Inactive::Invalid));
    }
    if c.get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp < now)
    {
        return Ok(Err(Inactive::Expired));
    }
    if let Some(jti) = c.get("jti").and_then(Value::as_str) {
        if store.is_revoked(jti).await? {
            return Ok(Err(Inactive::Revoked));
        }
    }
    let mut c = c;
    match holder(store, snap, &c, now).await? {
        Err(why) => return Ok(Err(why)),
        // A lightweight access token has no `sub`: its holder is its session's user.
        Ok(Some(user_id)) if !c.contains_key("sub") => {
            c.insert("sub".into(), Value::String(user_id));
        }
        Ok(_) => {}
    }
    Ok(Ok(c))
}

/// Why the parties of a verified token (access or refresh) no longer hold it, if they don't:
/// its client (`azp`) gone or disabled, its session ended or the client detached from it (or
/// the client's part started after the token was issued), its user gone or disabled. Keycloak's
/// `TokenManager.checkTokenValidForIntrospection` and `UserInfoEndpoint`.
pub async fn holder_inactive(
    store: &dyn Store,
    snap: &RealmSnapshot,
    c: &Map<String, Value>,
    now: i64,
) -> Result<Option<Inactive>, OAuthError> {
    Ok(holder(store, snap, c, now).await?.err())
}

/// As [`holder_inactive`]; when the token is held, the id of its user (the session's, else
/// the token's subject), if it has one.
async fn holder(
    store: &dyn Store,
    snap: &RealmSnapshot,
    c: &Map<String, Value>,
    now: i64,
) -> Result<Result<Option<String>, Inactive>, OAuthError> {
    let Some(azp) = c.get("azp").and_then(Value::as_str) else {
        return Ok(Err(Inactive::Invalid));
    };
    match snap.index.client(&snap.rep, azp) {
        None => return Ok(Err(Inactive::ClientNotFound)),
        Some(client) if client.enabled == Some(false) => return Ok(Err(Inactive::ClientDisabled)),
        Some(_) => {}
    }
    // The session's user, or for a token without a session (service accounts) its subject.
    let mut user_id = c.get("sub").and_then(Value::as_str).map(str::to_string);
    if let Some(sid) = c.get("sid").and_then(Value::as_str) {
        let Some((session, started)) = live_client_session(store, snap, sid, azp, now).await?
        else {
            return Ok(Err(Inactive::Revoked));
        };
        let iat = c.get("iat").and_then(Value::as_i64).unwrap_or(0);
        match started {
            Some(started) if iat >= started => {}
            _ => return Ok(Err(Inactive::NoClientSession)),
        }
        user_id = Some(session.user_id);
    }
    if let Some(user_id) = &user_id {
        match store.user_by_id(&snap.id, user_id).await? {
            None => return Ok(Err(Inactive::UserNotFound)),
            Some(row) if !is_enabled(&row)? => return Ok(Err(Inactive::UserDisabled)),
            Some(_) => {}
        }
    }
    Ok(Ok(user_id))
}

/// The bearer token of an `Authorization` header.
pub fn from_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
}
