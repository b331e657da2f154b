//! POST /realms/{realm}/protocol/openid-connect/ext/par/request
//! RFC 9126 (pushed authorization requests): an authenticated client posts its authorization
//! request and gets a `request_uri` to send to the authorization endpoint instead, single use
//! and short-lived, as Keycloak's `ParEndpoint` serves it.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::authorize::{check_flow, QueryParams, ResponseType, RESPONSE_MODES};
use super::client_auth;
use super::form::{Form, Params};
use super::redirect;
use crate::clock::now;
use crate::http::oauth_error::OAuthError;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;
use crate::tokens::resolve_scopes;
use crate::AppState;

/// What a `request_uri` of this server starts with.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Parameters that authenticate the client: used here, never stored with the request.
const CLIENT_AUTH_PARAMS: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

/// A pushed request as stored (with the authorization codes: single use, by hash).
#[derive(Debug, Serialize, Deserialize)]
pub struct Pushed {
    /// The client it was pushed by.
    pub client_id: String,
    /// The authorization request's parameters.
    pub params: HashMap<String, String>,
}

/// Handler.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Result<Response, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let Form(params) = form?;
    // Keycloak's `PUSHED_AUTHORIZATION_REQUEST`.
    let event = crate::events::UserEvent::new(&snap, "PUSHED_AUTHORIZATION_REQUEST");
    // `AbstractParEndpoint.authorizeClient`: any failure is this one answer.
    let (client, event) =
        client_auth::authenticate_for_event(&state, &snap, &issuer, &headers, &params, event)
            .await
            .map_err(|_| auth_failed())?;
    let result = push(&state, &snap, client, &params).await;
    match &result {
        Ok(_) => event.success(&state),
        Err(e) => event.error(&state, e.error),
    }
    result
}

/// 401 `invalid_request` `Authentication failed.` (Keycloak's answer to every failed client
/// authentication at this endpoint).
fn auth_failed() -> OAuthError {
    let mut e = OAuthError::invalid_request("Authentication failed.");
    e.status = StatusCode::UNAUTHORIZED;
    e
}

async fn push(
    state: &AppState,
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    params: &Params,
) -> Result<Response, OAuthError> {
    let pushed = check(snap, client, params)?;
    let key = uuid::Uuid::new_v4();
    let request_uri = format!("{REQUEST_URI_PREFIX}{key}");
    let lifespan = snap.settings.par_request_uri_lifespan;
    let data = serde_json::to_string(&pushed).map_err(|_| OAuthError::server_error())?;
    state
        .store
        .put_code(
            &super::authorize::code_hash(&request_uri),
            &snap.id,
            &data,
            now() + lifespan,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"request_uri": request_uri, "expires_in": lifespan})),
    )
        .into_response())
}

/// The checks of `ParEndpoint.request`, in its order, each a 400 with Keycloak's description;
/// the request to store.
pub fn check(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    params: &Params,
) -> Result<Pushed, OAuthError> {
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "It is not allowed to include request_uri to PAR.",
        ));
    }
    if params.get("request").is_some() {
        // Request objects (JAR) are not served: refused rather than ignored.
        let mut e = OAuthError::invalid_request("Request objects are not supported");
        e.error = "invalid_request_object";
        return Err(e);
    }
    let q = QueryParams::new(request_params(params));
    if redirect::verify(client, q.get("redirect_uri")).is_none() {
        return Err(OAuthError::invalid_request(
            "Invalid parameter: redirect_uri",
        ));
    }
    let Some(response_type) = q.get("response_type") else {
        return Err(OAuthError::invalid_request(
            "Missing parameter: response_type",
        ));
    };
    let Some(response_type) = ResponseType::parse(response_type) else {
        return Err(OAuthError::invalid_request("Unsupported response type"));
    };
    // PAR answers an invalid scope as `invalid_request`.
    if resolve_scopes(snap, client, q.get("scope")).is_err() {
        let scope = q.get("scope").unwrap_or_default();
        return Err(OAuthError::invalid_request(format!(
            "Invalid scopes: {scope}"
        )));
    }
    let response_mode = match q.get("response_mode") {
        None => response_type.default_mode(),
        Some(m) if RESPONSE_MODES.contains(&m) => m,
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "Invalid parameter: response_mode",
            ))
        }
    };
    if let Err((error, description)) = check_flow(snap, client, &q, response_type, response_mode) {
        let mut e = OAuthError::invalid_request(description);
        e.error = error;
        return Err(e);
    }
    Ok(Pushed {
        client_id: client.client_id.clone().unwrap_or_default(),
        params: q.owned(),
    })
}

/// The authorization request's parameters: the non-empty ones but those authenticating the
/// client.
fn request_params(params: &Params) -> HashMap<&str, &str> {
    params
        .pairs()
        .filter(|(k, v)| !v.is_empty() && !CLIENT_AUTH_PARAMS.contains(k))
        .collect()
}

/// Why a `request_uri` at the authorization endpoint is refused (the error page's text).
pub const INVALID_REQUEST: &str = "Invalid Request";

/// Redeems a `request_uri` at the authorization endpoint (`AuthzEndpointParParser`): once,
/// before it expires, by the client it was pushed by. `None` for anything else: a `request_uri`
/// that is not this server's (request objects by reference are not served), unknown, used,
/// expired, of another realm or another client.
pub async fn redeem(
    state: &AppState,
    snap: &RealmSnapshot,
    request_uri: &str,
    client_id: Option<&str>,
) -> Result<Option<Pushed>, OAuthError> {
    let Some(key) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
        return Ok(None);
    };
    if uuid::Uuid::parse_str(key).is_err() {
        return Ok(None);
    }
    let Some(used) = state
        .store
        .use_code(&super::authorize::code_hash(request_uri))
        .await?
    else {
        return Ok(None);
    };
    if !used.first_use || used.realm_id != snap.id || used.expires_at < now() {
        return Ok(None);
    }
    let Ok(pushed) = serde_json::from_str::<Pushed>(&used.data) else {
        return Ok(None);
    };
    // RFC 9126 §4: the request_uri is bound to the client that pushed it.
    if client_id != Some(pushed.client_id.as_str()) {
        return Ok(None);
    }
    Ok(Some(pushed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_are_never_stored() {
        let p = Params::parse(
            b"client_id=a&client_secret=s&client_assertion=x&client_assertion_type=t&scope=openid",
        )
        .unwrap();
        let map = request_params(&p);
        assert_eq!(map.len(), 2);
        assert!(!map.contains_key("client_secret"));
    }
}
