//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=urn:openid:params:grant-type:ciba)
//! OpenID Connect CIBA Core 1.0 §10–11 (poll mode), with Keycloak's answers (`CibaGrantType`):
//! `authorization_pending` until the authentication device answered, `slow_down` when polled
//! faster than the interval (which then grows by 5 seconds), `access_denied`, `expired_token`,
//! and once approved a new user session with the authorization code grant's tokens, once.

use axum::response::Response;

use crate::authn::steps::consent::{consent_text, record_grant};
use crate::events::errors;
use crate::http::oauth_error::OAuthError;
use crate::oidc::authorize::code_hash;
use crate::oidc::ciba;
use crate::oidc::client_auth;
use crate::representation::{ClientRepresentation, UserRepresentation};
use crate::sessions::SessionNotes;
use crate::store::{CibaRequest, CibaRow, SessionRow, UserRow};
use crate::tokens;
use crate::users::parse_user;

use super::authorization_code::session_tokens;
use super::poll::{self, Poll, Polled, Texts};
use super::GrantContext;

/// The grant type.
pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// Keycloak's descriptions (`CibaGrantType`, `DeviceGrantType.getDeviceByDeviceCode`).
const TEXTS: Texts = Texts {
    not_holder: "unauthorized client",
    used: "Invalid auth_req_id",
    expired: "authentication timed out",
    slow_down: "too early to access",
    denied: "not authorized",
    pending:
        "The authorization request is still pending as the end-user hasn't yet been authenticated.",
};

fn polled(row: &CibaRow, client_id: &str) -> Polled {
    Polled {
        status: row.status,
        holder: row.client_id == client_id,
        expires_at: row.expires_at,
    }
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
    if !ciba::grant_enabled(&ctx.snap.client_settings(client)) {
        ctx.fail(errors::NOT_ALLOWED);
        return Err(OAuthError::invalid_grant(
            "Client not allowed OIDC CIBA Grant",
        ));
    }
    let Some(auth_req_id) = ctx.params.get("auth_req_id") else {
        ctx.fail(errors::INVALID_CODE);
        return Err(OAuthError::invalid_request(
            "Missing parameter: auth_req_id",
        ));
    };
    if !ciba::well_formed_auth_req_id(auth_req_id) {
        return Err(OAuthError::invalid_grant("Invalid Auth Req ID"));
    }
    let store = ctx.state.store.as_ref();
    let hash = code_hash(auth_req_id);
    let row = match store.ciba_request(&hash).await? {
        Some(r) if r.realm_id == ctx.snap.id => r,
        _ => return Err(OAuthError::invalid_grant("Invalid auth_req_id")),
    };
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let p = polled(&row, client_id);
    let rate_ok = if poll::counts(&p, ctx.now) {
        store.poll_ciba_request(&hash, ctx.now).await?
    } else {
        true
    };
    if let Poll::Error(e) = poll::decide(&p, ctx.now, rate_ok, &TEXTS) {
        return Err(e);
    }
    let data = CibaRequest::parse(&row.data)?;
    // The user Keycloak's `createUserSession` checks, before the request is used up.
    ctx.ev(|e| e.set_user(row.user_id.clone()));
    let Some(user_row) = store.user_by_id(&ctx.snap.id, &row.user_id).await? else {
        ctx.fail(errors::USER_NOT_FOUND);
        return Err(OAuthError::invalid_grant("Could not identify user"));
    };
    let mut user = parse_user(&user_row)?;
    if user.enabled == Some(false) {
        ctx.fail(errors::USER_DISABLED);
        return Err(OAuthError::invalid_grant("User disabled"));
    }
    if user
        .required_actions
        .as_ref()
        .is_some_and(|a| !a.is_empty())
    {
        ctx.fail(errors::RESOLVE_REQUIRED_ACTIONS);
        return Err(OAuthError::invalid_grant("Account is not fully set up"));
    }
    if !store.redeem_ciba_request(&hash).await? {
        return Err(OAuthError::invalid_grant("Invalid auth_req_id"));
    }
    // A new user session, authenticated now (Keycloak sets `AUTH_TIME` to the current time).
    let session = SessionRow {
        id: uuid::Uuid::new_v4().to_string(),
        realm_id: ctx.snap.id.clone(),
        user_id: user_row.id.clone(),
        offline: false,
        created_at: ctx.now,
        last_refresh: ctx.now,
        data: SessionNotes::at(ctx.now).to_json(),
    };
    store.create_session(&session, client_id, None).await?;
    record_consent(ctx, client, &user_row, &mut user, data.scope.as_deref()).await?;
    ctx.ev(|e| {
        e.set_session(session.id.clone());
        e.set_detail("code_id", session.id.clone());
        e.set_detail("consent", "consent_granted");
    });
    session_tokens(
        ctx,
        client,
        &session,
        &user_row,
        &user,
        data.scope.as_deref(),
        None,
        ctx.now,
        "1",
        None,
        None,
    )
    .await
}

/// Keycloak's `CibaGrantType.createUserSession` records the user's consent to the client (the
/// authentication device asked for it): the requested client scopes shown on a consent screen,
/// added to the client's grant. Nothing is written when the grant holds them already.
async fn record_consent(
    ctx: &GrantContext<'_>,
    client: &ClientRepresentation,
    row: &UserRow,
    user: &mut UserRepresentation,
    scope: Option<&str>,
) -> Result<(), OAuthError> {
    let (scopes, _) = tokens::resolve_scopes(ctx.snap, client, scope)?;
    let names: Vec<String> = scopes
        .iter()
        .filter_map(|s| consent_text(s))
        .map(|(name, _)| name)
        .collect();
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let granted = user
        .client_consents
        .iter()
        .flatten()
        .find(|c| c.get("clientId").and_then(serde_json::Value::as_str) == Some(client_id));
    let complete = granted.is_some_and(|c| {
        let held = c
            .get("grantedClientScopes")
            .and_then(serde_json::Value::as_array);
        names
            .iter()
            .all(|n| held.is_some_and(|h| h.iter().any(|v| v.as_str() == Some(n))))
    });
    if complete {
        return Ok(());
    }
    record_grant(user, client_id, names, ctx.now * 1000);
    let mut updated = row.clone();
    updated.representation = serde_json::to_string(user).map_err(|_| OAuthError::server_error())?;
    ctx.state.store.update_user(&ctx.snap.id, &updated).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::DeviceStatus;

    fn row(status: DeviceStatus, expires_at: i64) -> CibaRow {
        CibaRow {
            auth_req_hash: "h".into(),
            auth_result_id: "r".into(),
            realm_id: "realm".into(),
            client_id: "cd".into(),
            user_id: "u".into(),
            data: "{}".into(),
            expires_at,
            poll_interval: 5,
            status,
        }
    }

    fn answer(r: &CibaRow, client: &str, rate_ok: bool) -> (&'static str, String) {
        match poll::decide(&polled(r, client), 1000, rate_ok, &TEXTS) {
            Poll::Error(e) => (e.error, e.description),
            Poll::Approved => ("approved", String::new()),
        }
    }

    #[test]
    fn keycloaks_answers_in_keycloaks_order() {
        use DeviceStatus::*;
        assert_eq!(
            answer(&row(Pending, 2000), "cd", true),
            ("authorization_pending", TEXTS.pending.to_string())
        );
        assert_eq!(
            answer(&row(Pending, 2000), "cd", false),
            ("slow_down", "too early to access".to_string())
        );
        assert_eq!(
            answer(&row(Denied, 2000), "cd", true),
            ("access_denied", "not authorized".to_string())
        );
        assert_eq!(answer(&row(Approved, 2000), "cd", true).0, "approved");
        assert_eq!(
            answer(&row(Approved, 999), "cd", false),
            ("expired_token", "authentication timed out".to_string())
        );
        assert_eq!(
            answer(&row(Approved, 2000), "other", true),
            ("invalid_grant", "unauthorized client".to_string())
        );
    }
}
