//! POST /realms/{realm}/protocol/openid-connect/token
//! RFC 6749 §3.2. `grant_type` is read as a string first, so an unknown one gets
//! `unsupported_grant_type`; [`GRANT_TYPES`] is both the dispatch table and what discovery
//! advertises.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod password;
pub mod refresh_token;
pub mod token_exchange;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

use super::form::{MultiForm, Params};
use crate::http::oauth_error::OAuthError;
use crate::tokens::Issued;

/// Grant types this server dispatches, in discovery order.
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    device_code::GRANT_TYPE,
    token_exchange::GRANT_TYPE,
];

/// What every grant receives.
pub struct GrantContext<'a> {
    /// Application state.
    pub state: &'a AppState,
    /// The realm.
    pub snap: &'a RealmSnapshot,
    /// The realm's issuer URL.
    pub issuer: String,
    /// Request headers (client authentication).
    pub headers: &'a HeaderMap,
    /// Form parameters.
    pub params: &'a Params,
    /// Now, seconds since the epoch.
    pub now: i64,
    /// The client's address (the peer, or the trusted proxy's first hop).
    pub remote: Option<std::net::IpAddr>,
}

/// Keycloak's token response.
pub fn response(
    issued: &Issued,
    refresh: Option<(String, i64)>,
    sid: Option<&str>,
    not_before: i64,
) -> Response {
    json_response(body(issued, refresh, sid, not_before))
}

/// A JSON body with the token endpoint's cache headers.
pub fn json_response(body: Map<String, Value>) -> Response {
    let mut r = Json(Value::Object(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// The fields of Keycloak's token response.
pub fn body(
    issued: &Issued,
    refresh: Option<(String, i64)>,
    sid: Option<&str>,
    not_before: i64,
) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("access_token".into(), json!(issued.access_token));
    body.insert("expires_in".into(), json!(issued.expires_in));
    body.insert(
        "refresh_expires_in".into(),
        json!(refresh.as_ref().map(|(_, e)| *e).unwrap_or(0)),
    );
    if let Some((t, _)) = refresh {
        body.insert("refresh_token".into(), json!(t));
    }
    body.insert("token_type".into(), json!("Bearer"));
    if let Some(id) = &issued.id_token {
        body.insert("id_token".into(), json!(id));
    }
    body.insert("not-before-policy".into(), json!(not_before));
    if let Some(sid) = sid {
        body.insert("session_state".into(), json!(sid));
    }
    body.insert("scope".into(), json!(issued.scope));
    body
}

/// Handler.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    form: Result<MultiForm, OAuthError>,
) -> Result<Response, OAuthError> {
    let (snap, issuer) = crate::oidc::realm_and_issuer(&state, &realm, &headers, &uri)?;
    let MultiForm(params) = form?;
    let remote = crate::http::remote::remote_addr(&state, &headers, peer.map(|p| (p.0).0));
    let ctx = GrantContext {
        state: &state,
        snap: &snap,
        issuer,
        headers: &headers,
        params: &params,
        now: now(),
        remote,
    };
    let grant_type = params.require("grant_type")?;
    // Only token exchange takes repeated parameters (`audience`, `resource`), as in Keycloak's
    // `TokenExchangeGrantType.getSupportedMultivaluedRequestParameters`.
    if grant_type != token_exchange::GRANT_TYPE {
        if let Some(name) = params.repeated() {
            return Err(OAuthError::invalid_request(format!(
                "duplicated parameter: {name}"
            )));
        }
    }
    match grant_type {
        "authorization_code" => authorization_code::grant(&ctx).await,
        "client_credentials" => client_credentials::grant(&ctx).await,
        "password" => password::grant(&ctx).await,
        "refresh_token" => refresh_token::grant(&ctx).await,
        device_code::GRANT_TYPE => device_code::grant(&ctx).await,
        token_exchange::GRANT_TYPE => token_exchange::grant(&ctx).await,
        _ => Err(OAuthError::unsupported_grant_type()),
    }
}
