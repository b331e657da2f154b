//! POST /realms/{realm}/protocol/openid-connect/token
//! RFC 6749 §3.2. `grant_type` is read as a string first, so an unknown one gets
//! `unsupported_grant_type`; [`GRANT_TYPES`] is both the dispatch table and what discovery
//! advertises.

pub mod authorization_code;
pub mod ciba;
pub mod client_credentials;
pub mod device_code;
pub mod password;
pub mod poll;
pub mod refresh_token;
pub mod token_exchange;
pub mod uma_ticket;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

use super::form::{MultiForm, Params};
use crate::events::UserEvent;
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
    uma_ticket::GRANT_TYPE,
    ciba::GRANT_TYPE,
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
    /// The event of this request, filled in by the grant as it learns (Keycloak's
    /// `EventBuilder` of the token endpoint); sent by [`post`] once the grant answered.
    pub event: std::sync::Mutex<UserEvent>,
    /// Keycloak's `error` value for the event when the grant knows it better than the
    /// OAuth error code says ([`GrantContext::fail`]).
    pub event_error: std::sync::Mutex<Option<&'static str>>,
}

impl GrantContext<'_> {
    /// Changes the event of this request.
    pub fn ev(&self, f: impl FnOnce(&mut UserEvent)) {
        if let Ok(mut e) = self.event.lock() {
            f(&mut e);
        }
    }

    /// Names Keycloak's `error` value for the event of a failure about to be returned.
    pub fn fail(&self, error: &'static str) {
        if let Ok(mut e) = self.event_error.lock() {
            *e = Some(error);
        }
    }

    /// The client authenticated: `clientId` and `client_auth_method` of the event.
    pub fn client_authenticated(&self, client: &crate::representation::ClientRepresentation) {
        self.ev(|e| {
            e.set_client(client.client_id.clone().unwrap_or_default());
            e.set_detail(
                "client_auth_method",
                client
                    .client_authenticator_type
                    .clone()
                    .unwrap_or_else(|| "client-secret".into()),
            );
        });
    }

    /// Tokens were issued: the details Keycloak's `AccessTokenResponseBuilder` sets.
    pub fn issued(&self, issued: &Issued, refresh: Option<(&str, bool)>) {
        self.ev(|e| {
            e.set_detail("token_id", issued.access_jti.clone());
            if let Some((jti, offline)) = refresh {
                e.set_detail("refresh_token_id", jti);
                e.set_detail(
                    "refresh_token_type",
                    if offline { "Offline" } else { "Refresh" },
                );
            }
            e.set_detail("scope", issued.scope.clone());
        });
    }
}

/// The event type of a grant (`OAuth2GrantType.getEventType`).
fn event_type(grant_type: &str) -> &'static str {
    match grant_type {
        "authorization_code" => "CODE_TO_TOKEN",
        "client_credentials" => "CLIENT_LOGIN",
        "password" => "LOGIN",
        "refresh_token" => "REFRESH_TOKEN",
        device_code::GRANT_TYPE => "OAUTH2_DEVICE_CODE_TO_TOKEN",
        token_exchange::GRANT_TYPE => "TOKEN_EXCHANGE",
        ciba::GRANT_TYPE => "AUTHREQID_TO_TOKEN",
        uma_ticket::GRANT_TYPE => "PERMISSION_TOKEN",
        _ => "LOGIN",
    }
}

/// Keycloak's event `error` for a failure the grant did not name: the client's
/// authentication failures are `invalid_client_credentials`, the rest keep the OAuth code.
fn event_error(e: &OAuthError) -> &'static str {
    match e.error {
        "invalid_client" => crate::events::errors::INVALID_CLIENT_CREDENTIALS,
        "unauthorized_client" => crate::events::errors::NOT_ALLOWED,
        other => other,
    }
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
    let (snap, issuer) = crate::oidc::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let MultiForm(params) = form?;
    let remote = crate::http::remote::remote_addr(&state, &headers, peer.map(|p| (p.0).0));
    let grant_type = params.require("grant_type")?;
    let mut event = UserEvent::new(&snap, event_type(grant_type)).detail("grant_type", grant_type);
    if let Some(id) = crate::oidc::client_auth::claimed_client_id(&headers, &params) {
        event.set_client(id);
    }
    let ctx = GrantContext {
        state: &state,
        snap: &snap,
        issuer,
        headers: &headers,
        params: &params,
        now: now(),
        remote,
        event: std::sync::Mutex::new(event),
        event_error: std::sync::Mutex::new(None),
    };
    // Only token exchange takes repeated parameters (`audience`, `resource`), as in Keycloak's
    // `TokenExchangeGrantType.getSupportedMultivaluedRequestParameters`.
    // The UMA grant repeats `permission` (`PermissionGrantType`).
    if grant_type == uma_ticket::GRANT_TYPE {
        if let Some(name) = params.repeated_except(&["permission"]) {
            return Err(OAuthError::invalid_request(format!(
                "duplicated parameter: {name}"
            )));
        }
    } else if grant_type != token_exchange::GRANT_TYPE {
        if let Some(name) = params.repeated() {
            return Err(OAuthError::invalid_request(format!(
                "duplicated parameter: {name}"
            )));
        }
    }
    let result = match grant_type {
        "authorization_code" => authorization_code::grant(&ctx).await,
        "client_credentials" => client_credentials::grant(&ctx).await,
        "password" => password::grant(&ctx).await,
        "refresh_token" => refresh_token::grant(&ctx).await,
        device_code::GRANT_TYPE => device_code::grant(&ctx).await,
        token_exchange::GRANT_TYPE => token_exchange::grant(&ctx).await,
        ciba::GRANT_TYPE => ciba::grant(&ctx).await,
        uma_ticket::GRANT_TYPE => uma_ticket::grant(&ctx).await,
        _ => Err(OAuthError::unsupported_grant_type()),
    };
    let named = ctx.event_error.lock().ok().and_then(|e| *e);
    let known = GRANT_TYPES.contains(&grant_type);
    if let (Ok(event), true) = (ctx.event.into_inner(), known) {
        match &result {
            Ok(_) => event.success(&state),
            // A device still waiting for its user is polling, not failing (Keycloak sends no
            // event for `authorization_pending` and `slow_down`).
            Err(e) if matches!(e.error, "authorization_pending" | "slow_down") => {}
            // Before [`GrantContext::client_authenticated`], a failure is the client's.
            Err(_) if named.is_none() && !event.has_detail("client_auth_method") => {
                event.error(&state, crate::events::errors::INVALID_CLIENT_CREDENTIALS)
            }
            Err(e) => event.error(&state, named.unwrap_or_else(|| event_error(e))),
        }
    }
    result
}
