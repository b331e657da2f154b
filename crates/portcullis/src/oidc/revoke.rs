//! POST /realms/{realm}/protocol/openid-connect/revoke
//! RFC 7009. A refresh token ends its session for the client; an access token is revoked
//! until it would expire. Unknown or invalid tokens answer 200, as the RFC says.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use crate::AppState;

use super::bearer::verify_access;
use super::client_auth;
use super::form::Form;
use super::token::refresh_token;
use crate::clock::now;
use crate::http::oauth_error::OAuthError;

/// Handler.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Result<StatusCode, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let Form(params) = form?;
    // Keycloak's `TokenRevocationEndpoint`: `REVOKE_GRANT`, `REVOKE_GRANT_ERROR` when refused.
    let event = crate::events::UserEvent::new(&snap, "REVOKE_GRANT");
    let (client, mut event) =
        client_auth::authenticate_for_event(&state, &snap, &issuer, &headers, &params, event)
            .await?;
    let client_id = client.client_id.as_deref().unwrap_or_default();
    event.set_client(client_id);
    let token = params.require("token")?;
    let now = now();
    let not_yours = || OAuthError::unauthorized_client("Unmatching clients");
    if let Ok(c) = refresh_token::verify(&snap, &issuer, token, now) {
        if c.get("azp").and_then(Value::as_str) != Some(client_id) {
            event.error(&state, crate::events::errors::INVALID_TOKEN);
            return Err(not_yours());
        }
        if let Some(sub) = c.get("sub").and_then(Value::as_str) {
            event.set_user(sub);
        }
        if let Some(sid) = c.get("sid").and_then(Value::as_str) {
            event.set_session(sid);
            state.store.delete_session(sid).await?;
        }
        event.success(&state);
        return Ok(StatusCode::OK);
    }
    if let Ok(c) = verify_access(state.store.as_ref(), &snap, &issuer, token, now).await? {
        if c.get("azp").and_then(Value::as_str) != Some(client_id) {
            return Err(not_yours());
        }
        if let (Some(jti), Some(exp)) = (
            c.get("jti").and_then(Value::as_str),
            c.get("exp").and_then(Value::as_i64),
        ) {
            state.store.revoke_token(jti, exp).await?;
        }
        if let Some(sub) = c.get("sub").and_then(Value::as_str) {
            event.set_user(sub);
        }
    }
    event.success(&state);
    Ok(StatusCode::OK)
}
