//! POST /realms/{realm}/protocol/openid-connect/logout  (with `refresh_token`)
//! Keycloak's back-channel logout for clients holding a refresh token: the session ends on
//! the server, so refresh and introspection fail afterwards, and the session's clients get
//! back-channel logout tokens ([`crate::sessions::logout`]). Answers 204.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use crate::AppState;

use super::client_auth;
use super::form::Form;
use super::token::refresh_token;
use crate::clock::now;
use crate::events::{errors, UserEvent};
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
    // Keycloak's `LogoutEndpoint.logoutToken`: a `LOGOUT` event, `LOGOUT_ERROR` with
    // `invalid_client_credentials` or `invalid_token` when refused.
    let event = UserEvent::new(&snap, "LOGOUT");
    let (client, mut event) =
        client_auth::authenticate_for_event(&state, &snap, &issuer, &headers, &params, event)
            .await?;
    event.set_client(client.client_id.clone().unwrap_or_default());
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token not provided"));
    let claims = match token.and_then(|t| refresh_token::verify(&snap, &issuer, t, now())) {
        Ok(c) => c,
        Err(e) => {
            event.error(&state, errors::INVALID_TOKEN);
            return Err(e);
        }
    };
    if claims.get("azp").and_then(Value::as_str) != client.client_id.as_deref() {
        event.error(&state, errors::INVALID_TOKEN);
        return Err(OAuthError::invalid_grant(
            "Invalid refresh token. Token client and authorized client don't match",
        ));
    }
    if let Some(sub) = claims.get("sub").and_then(Value::as_str) {
        event.set_user(sub);
    }
    if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
        event.set_session(sid);
        crate::sessions::logout::end_session(
            state.store.as_ref(),
            &state.outbound,
            &snap,
            &issuer,
            sid,
        )
        .await?;
    }
    event.success(&state);
    Ok(StatusCode::NO_CONTENT)
}
