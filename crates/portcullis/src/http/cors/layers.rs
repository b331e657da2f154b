//! The CORS middlewares of the protocol endpoints, put on their routes so the handlers stay
//! free of CORS. Each finds the client the way Keycloak's endpoint does before it calls
//! `cors.allowedOrigins(session, client)`, and leaves the response alone when the request has no
//! `Origin` (so non-browser callers pay nothing):
//! - token (`TokenEndpoint`): the authenticated client (HTTP Basic user, `client_id`, or the
//!   `sub` of a `client_assertion`); no CORS before the client is known: a missing or unsupported
//!   `grant_type`, or failed client authentication;
//! - userinfo (`UserInfoEndpoint`): the client the token was issued to (`azp`); any origin while
//!   no client is known (no token, unreadable token, unknown client), as Keycloak's
//!   `cors.allowAllOrigins()` before verification;
//! - logout (`LogoutEndpoint.logoutToken`): the refresh-token logout (`POST` with
//!   `refresh_token`) only, like the token endpoint; browser logouts get no CORS;
//! - discovery and the JWKS: any origin.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{origin, web_origins, Allowed, Cors};
use crate::http::oauth_error::ErrorCode;
use crate::AppState;

/// The largest form body read to find the client (axum's default body limit, which the
/// handlers apply as well).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// `OPTIONS` of the token endpoint: `Allow-Methods: POST, OPTIONS`.
pub async fn preflight_post(headers: HeaderMap) -> Response {
    preflight(&headers, Some("POST, OPTIONS"))
}

/// `OPTIONS` of discovery and the JWKS: `Allow-Methods: GET`.
pub async fn preflight_get(headers: HeaderMap) -> Response {
    preflight(&headers, Some("GET"))
}

/// `OPTIONS` of userinfo and logout: Keycloak's default methods.
pub async fn preflight_default(headers: HeaderMap) -> Response {
    preflight(&headers, None)
}

/// A `200` preflight answer with Keycloak's headers for this `Origin`.
pub fn preflight(headers: &HeaderMap, methods: Option<&'static str>) -> Response {
    let mut r = StatusCode::OK.into_response();
    Cors::preflight(methods).apply(headers, &mut r);
    r
}

/// Public documents readable from any origin: discovery (`RealmsResource.getWellKnown`) and
/// the JWKS (`OIDCLoginProtocolService.certs`), `allowAllOrigins().auth()`.
pub async fn public(req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let mut resp = next.run(req).await;
    Cors {
        allowed: Some(Allowed::All),
        methods: None,
        exposed: None,
        auth: true,
        preflight: false,
    }
    .apply(&headers, &mut resp);
    resp
}

/// Token endpoint.
pub async fn token(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    req: Request,
    next: Next,
) -> Response {
    authenticated_client(state, realm, req, next, true).await
}

/// Pushed authorization request endpoint (`ParEndpoint`: the authenticated client's origins;
/// none when its authentication failed).
pub async fn par(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    req: Request,
    next: Next,
) -> Response {
    authenticated_client(state, realm, req, next, false).await
}

/// CORS of an endpoint the client authenticates to: the client's `webOrigins` once it is
/// authenticated (`needs_grant`: only for a request with a supported `grant_type`).
async fn authenticated_client(
    state: AppState,
    realm: String,
    req: Request,
    next: Next,
    needs_grant: bool,
) -> Response {
    if origin(req.headers()).is_none() {
        return next.run(req).await;
    }
    let (req, form) = match buffered_form(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let headers = req.headers().clone();
    let uri = req.uri().clone();
    let client_id = client_of(&headers, &form);
    let has_grant = form.iter().any(|(k, _)| k == "grant_type");
    let mut resp = next.run(req).await;
    if (needs_grant && !has_grant)
        || client_auth_failed(&resp)
        || (!needs_grant && resp.status() == StatusCode::UNAUTHORIZED)
        || error_code(&resp) == Some("unsupported_grant_type")
    {
        return resp;
    }
    let allowed = match client_id {
        Some(id) => client_origins(&state, &realm, &headers, &uri, &id).await,
        None => None,
    };
    Cors::protocol(allowed.map(Allowed::Origins)).apply(&headers, &mut resp);
    resp
}

/// Userinfo endpoint.
pub async fn userinfo(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    req: Request,
    next: Next,
) -> Response {
    if origin(req.headers()).is_none() {
        return next.run(req).await;
    }
    let mut token = bearer(req.headers()).map(str::to_string);
    let req = if token.is_none() && req.method() == Method::POST {
        let (req, form) = match buffered_form(req).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        token = form
            .into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v);
        req
    } else {
        req
    };
    let headers = req.headers().clone();
    let uri = req.uri().clone();
    let azp = token.as_deref().and_then(|t| {
        crate::crypto::jws::parse(t)
            .ok()?
            .claims
            .get("azp")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let mut resp = next.run(req).await;
    let allowed = match azp {
        Some(id) => client_origins(&state, &realm, &headers, &uri, &id).await,
        None => None,
    }
    .map(Allowed::Origins)
    .unwrap_or(Allowed::All);
    Cors::protocol(Some(allowed)).apply(&headers, &mut resp);
    resp
}

/// Logout endpoint (`POST` with a `refresh_token`).
pub async fn logout(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    req: Request,
    next: Next,
) -> Response {
    if origin(req.headers()).is_none() || req.method() != Method::POST {
        return next.run(req).await;
    }
    let (req, form) = match buffered_form(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !form.iter().any(|(k, _)| k == "refresh_token") {
        return next.run(req).await;
    }
    let headers = req.headers().clone();
    let uri = req.uri().clone();
    let client_id = client_of(&headers, &form);
    let mut resp = next.run(req).await;
    if client_auth_failed(&resp) {
        return resp;
    }
    let allowed = match client_id {
        Some(id) => client_origins(&state, &realm, &headers, &uri, &id).await,
        None => None,
    };
    Cors::protocol(allowed.map(Allowed::Origins)).apply(&headers, &mut resp);
    resp
}

/// Reads a form body, handing back a request with the same body and the decoded pairs.
async fn buffered_form(req: Request) -> Result<(Request, Vec<(String, String)>), Response> {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        url::form_urlencoded::parse(&bytes).into_owned().collect()
    } else {
        Vec::new()
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), form))
}

/// The client a request names: HTTP Basic user, `client_id`, or a client assertion's `sub`.
fn client_of(headers: &HeaderMap, form: &[(String, String)]) -> Option<String> {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    basic_user(headers)
        .or_else(|| field("client_id"))
        .or_else(|| {
            let assertion = field("client_assertion")?;
            crate::crypto::jws::parse(&assertion)
                .ok()?
                .claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
}

/// The user of an `Authorization: Basic` header (form-url-decoded, as RFC 6749 §2.3.1 asks).
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case("basic ") {
        return None;
    }
    let raw = crate::crypto::b64_decode(v[6..].trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, _) = text.split_once(':')?;
    url::form_urlencoded::parse(format!("u={user}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// The web origins of an enabled client of the realm.
async fn client_origins(
    state: &AppState,
    realm: &str,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    client_id: &str,
) -> Option<Vec<String>> {
    let snap = state.realm_as_cached(realm).await.ok()?;
    let client = snap.index.client(&snap.rep, client_id)?;
    if client.enabled == Some(false) {
        return None;
    }
    let base = state.base_url(headers, uri).ok();
    Some(web_origins(client, base.as_deref()))
}

fn error_code(resp: &Response) -> Option<&'static str> {
    resp.extensions().get::<ErrorCode>().map(|c| c.0)
}

/// Failed client authentication: Keycloak answers it before it knows the client's origins.
fn client_auth_failed(resp: &Response) -> bool {
    resp.status() == StatusCode::UNAUTHORIZED
        && matches!(
            error_code(resp),
            Some("invalid_client" | "unauthorized_client")
        )
}
