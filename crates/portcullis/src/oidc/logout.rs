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
use crate::http::oauth_error::OAuthError;

/// Handler.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Result<StatusCode, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri)?;
    let Form(params) = form?;
    let client =
        client_auth::authenticate(&snap, state.store.as_ref(), &issuer, &headers, &params).await?;
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token not provided"))?;
    let claims = refresh_token::verify(&snap, &issuer, token, now())?;
    if claims.get("azp").and_then(Value::as_str) != client.client_id.as_deref() {
        return Err(OAuthError::invalid_grant(
            "Invalid refresh token. Token client and authorized client don't match",
        ));
    }
    if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
        crate::sessions::logout::end_session(
            state.store.as_ref(),
            &state.outbound,
            &snap,
            &issuer,
            sid,
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
