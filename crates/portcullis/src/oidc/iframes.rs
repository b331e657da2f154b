//! GET /realms/{realm}/protocol/openid-connect/login-status-iframe.html       (check_session_iframe)
//! GET /realms/{realm}/protocol/openid-connect/login-status-iframe.html/init  (?client_id&origin)
//! GET /realms/{realm}/protocol/openid-connect/3p-cookies/step1.html, step2.html
//! The pages keycloak-js frames: the session-status iframe (OpenID Connect Session Management
//! 1.0 §3, Keycloak's `LoginStatusIframeEndpoint`) and the third-party cookie check
//! (`ThirdPartyCookiesIframeEndpoint`). The pages are our own; the protocol (messages, cookie
//! names, the `/init` check, `?version` caching through `IframeUtil`) is Keycloak's.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::http::cors::{origin_of, web_origins, WILDCARD};
use crate::http::error::HttpError;
use crate::AppState;

const LOGIN_STATUS: &str = include_str!("iframes/login-status.html");
const THIRD_PARTY_STEP1: &str = include_str!("iframes/3p-cookies-step1.html");
const THIRD_PARTY_STEP2: &str = include_str!("iframes/3p-cookies-step2.html");

/// The `?version=` these pages are cached under (Keycloak's `Version.RESOURCES_VERSION`).
pub const RESOURCES_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `?version=`.
#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    version: Option<String>,
}

/// A framed page (`IframeUtil.returnIframeFromResources`): without `version`, `no-cache`; with
/// this server's version, cached for 30 days; with another version, 404. Any site may frame
/// it (no `X-Frame-Options`, no `frame-ancestors`).
fn page(body: &'static str, version: Option<&str>) -> Response {
    let cache = match version {
        None => "no-cache",
        Some(v) if v == RESOURCES_VERSION => "max-age=2592000",
        Some(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut r = ([(header::CONTENT_TYPE, "text/html;charset=utf-8")], body).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        "p3p",
        HeaderValue::from_static("CP=\"This is not a P3P policy!\""),
    );
    r
}

/// `login-status-iframe.html`.
pub async fn login_status(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, HttpError> {
    state.realm(&realm).await?;
    Ok(page(LOGIN_STATUS, q.version.as_deref()))
}

/// `3p-cookies/step1.html`.
pub async fn third_party_step1(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, HttpError> {
    state.realm(&realm).await?;
    Ok(page(THIRD_PARTY_STEP1, q.version.as_deref()))
}

/// `3p-cookies/step2.html`.
pub async fn third_party_step2(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, HttpError> {
    state.realm(&realm).await?;
    Ok(page(THIRD_PARTY_STEP2, q.version.as_deref()))
}

/// `?client_id&origin` of `/init`.
#[derive(Debug, Deserialize)]
pub struct InitQuery {
    client_id: Option<String>,
    origin: Option<String>,
}

/// `login-status-iframe.html/init`: 204 when the client exists, is enabled, and allows `origin`
/// (its web origins, `+` resolved, `*`, or the server's own origin); 403 otherwise, with no
/// body (Keycloak's `LoginStatusIframeEndpoint.preCheck`).
pub async fn init(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<InitQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<StatusCode, HttpError> {
    let snap = state.realm(&realm).await?;
    let base = state.base_url(&headers, &uri).ok();
    Ok(init_decision(
        &snap,
        base.as_deref(),
        q.client_id.as_deref(),
        q.origin.as_deref(),
    ))
}

/// The `/init` decision.
pub fn init_decision(
    snap: &crate::realm::snapshot::RealmSnapshot,
    server_base: Option<&str>,
    client_id: Option<&str>,
    origin: Option<&str>,
) -> StatusCode {
    let (Some(client_id), Some(origin)) = (client_id, origin) else {
        return StatusCode::FORBIDDEN;
    };
    let Some(client) = snap.index.client(&snap.rep, client_id) else {
        return StatusCode::FORBIDDEN;
    };
    if client.enabled == Some(false) {
        return StatusCode::FORBIDDEN;
    }
    let mut valid = web_origins(client, server_base);
    if let Some(own) = server_base.and_then(origin_of) {
        valid.push(own);
    }
    if valid.iter().any(|o| o == WILDCARD || o == origin) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::FORBIDDEN
    }
}
