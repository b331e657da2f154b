//! Verifying access tokens this realm issued (userinfo, introspection, revocation): signature
//! by a realm key, `typ: Bearer`, issuer, expiry, not revoked, session alive.

use serde_json::{Map, Value};

use crate::crypto::jws;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::Store;

use crate::http::oauth_error::OAuthError;
use crate::sessions::live_session;

/// Why a token is not active (never shown to the token's bearer beyond "invalid").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    /// Bad signature, wrong issuer or type, malformed.
    Invalid,
    /// Past `exp`.
    Expired,
    /// Revoked or its session ended.
    Revoked,
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
    if let Some(sid) = c.get("sid").and_then(Value::as_str) {
        if live_session(store, snap, sid, now).await?.is_none() {
            return Ok(Err(Inactive::Revoked));
        }
    }
    Ok(Ok(c))
}

/// The bearer token of an `Authorization` header.
pub fn from_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
}
