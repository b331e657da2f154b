//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=urn:ietf:params:oauth:grant-type:device_code)
//! RFC 8628 §3.4–3.5, with Keycloak's errors (`DeviceGrantType`): `authorization_pending`
//! until the user decides, `slow_down` when polled faster than the interval (which then grows
//! by 5 seconds), `access_denied`, `expired_token`, and tokens once approved, exactly once.

use axum::response::Response;

use crate::http::oauth_error::OAuthError;
use crate::oidc::authorize::code_hash;
use crate::oidc::client_auth;
use crate::oidc::device;
use crate::sessions::SessionNotes;
use crate::store::{DeviceCodeRow, DeviceRequest};

use super::authorization_code::{check_pkce, session_tokens};
use super::GrantContext;
use crate::sessions::live_session;
use crate::users::parse_user;

/// The grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub use super::poll::Poll;
use super::poll::{self as shared, Polled, Texts};

/// Keycloak's descriptions (`DeviceGrantType`).
const TEXTS: Texts = Texts {
    // Keycloak: `invalid_grant` "unauthorized client" for a code issued to another client.
    not_holder: "unauthorized client",
    used: "Device code not valid",
    expired: "Device code is expired",
    slow_down: "Slow down",
    denied: "The end user denied the authorization request",
    pending: "The authorization request is still pending",
};

fn polled(row: &DeviceCodeRow, client_id: &str) -> Polled {
    Polled {
        status: row.status,
        holder: row.client_id == client_id,
        expires_at: row.expires_at,
    }
}

/// Keycloak's order of checks for a device code that exists (see [`shared::decide`]).
pub fn decide(row: &DeviceCodeRow, client_id: &str, now: i64, rate_ok: bool) -> Poll {
    shared::decide(&polled(row, client_id), now, rate_ok, &TEXTS)
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
    if !device::grant_enabled(&ctx.snap.client_settings(client)) {
        // Keycloak (`DeviceGrantType`): `invalid_grant`, unlike the device endpoint's
        // `unauthorized_client`.
        return Err(OAuthError::invalid_grant(
            "Client not allowed OAuth 2.0 Device Authorization Grant",
        ));
    }
    let code = ctx
        .params
        .get("device_code")
        .ok_or_else(|| OAuthError::invalid_request("Missing parameter: device_code"))?;
    let store = ctx.state.store.as_ref();
    let hash = code_hash(code);
    let row = match store.device_code(&hash).await? {
        Some(r) if r.realm_id == ctx.snap.id => r,
        _ => return Err(OAuthError::invalid_grant("Device code not valid")),
    };
    let client_id = client.client_id.as_deref().unwrap_or_default();
    // Record the poll only for the holder of a live, undecided-or-approved code.
    let rate_ok = if shared::counts(&polled(&row, client_id), ctx.now) {
        store.poll_device_code(&hash, ctx.now).await?
    } else {
        true
    };
    if let Poll::Error(e) = decide(&row, client_id, ctx.now, rate_ok) {
        return Err(e);
    }
    let data = DeviceRequest::parse(&row.data)?;
    // RFC 7636 in the device flow, as Keycloak checks it.
    check_pkce(
        data.code_challenge.as_deref(),
        data.code_challenge_method.as_deref(),
        ctx.params.get("code_verifier"),
    )?;
    if !store.redeem_device_code(&hash).await? {
        return Err(OAuthError::invalid_grant("Device code not valid"));
    }
    let sid = row.session_id.clone().unwrap_or_default();
    ctx.ev(|e| {
        e.set_session(sid.clone());
        if let Some(u) = &row.user_id {
            e.set_user(u.clone());
        }
    });
    let Some(session) = live_session(store, ctx.snap, &sid, ctx.now).await? else {
        return Err(OAuthError::invalid_grant("Session not active"));
    };
    if row.user_id.as_deref() != Some(session.user_id.as_str()) {
        return Err(OAuthError::invalid_grant("Session not active"));
    }
    let user_row = store
        .user_by_id(&ctx.snap.id, &session.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("User not found"))?;
    let user = parse_user(&user_row)?;
    if user.enabled == Some(false) {
        return Err(OAuthError::invalid_grant("User disabled"));
    }
    let auth_time = SessionNotes::parse(&session.data)
        .auth_time()
        .unwrap_or(session.created_at);
    session_tokens(
        ctx,
        client,
        &session,
        &user_row,
        &user,
        data.scope.as_deref(),
        data.nonce.as_deref(),
        auth_time,
        "1",
        None,
        None,
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::DeviceStatus;

    fn row(status: &str, expires_at: i64) -> DeviceCodeRow {
        DeviceCodeRow {
            device_code_hash: "h".into(),
            realm_id: "r".into(),
            client_id: "tv".into(),
            user_code: "BCDFGHJK".into(),
            data: "{}".into(),
            expires_at,
            poll_interval: 5,
            status: DeviceStatus::parse(status),
            session_id: None,
            user_id: None,
        }
    }

    fn error_of(p: Poll) -> &'static str {
        match p {
            Poll::Error(e) => e.error,
            Poll::Approved => "approved",
        }
    }

    #[test]
    fn checks_come_in_keycloaks_order() {
        let now = 1000;
        assert_eq!(
            error_of(decide(&row("pending", 2000), "tv", now, true)),
            "authorization_pending"
        );
        assert_eq!(
            error_of(decide(&row("pending", 2000), "tv", now, false)),
            "slow_down"
        );
        assert_eq!(
            error_of(decide(&row("denied", 2000), "tv", now, true)),
            "access_denied"
        );
        assert_eq!(
            error_of(decide(&row("approved", 2000), "tv", now, true)),
            "approved"
        );
        assert_eq!(
            error_of(decide(&row("approved", 2000), "tv", now, false)),
            "slow_down"
        );
        assert_eq!(
            error_of(decide(&row("pending", 999), "tv", now, true)),
            "expired_token"
        );
        assert_eq!(
            error_of(decide(&row("approved", 999), "tv", now, false)),
            "expired_token"
        );
        assert_eq!(
            error_of(decide(&row("approved", 2000), "other", now, true)),
            "invalid_grant"
        );
        assert_eq!(
            error_of(decide(&row("redeemed", 2000), "tv", now, true)),
            "invalid_grant"
        );
    }
}
