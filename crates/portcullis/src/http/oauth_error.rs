//! `OAuthError`: RFC 6749 §5.2 error responses (`{"error", "error_description"}`), with the
//! status codes and `WWW-Authenticate` headers Keycloak sends.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The `error` code of an answered [`OAuthError`], kept in the response's extensions so a
/// layer (CORS) can tell failed client authentication from other errors without the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

/// A protocol error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// RFC 6749 / 6750 / 7009 error code.
    pub error: &'static str,
    /// Human-readable description (never secrets).
    pub description: String,
    /// `WWW-Authenticate` value, where the RFC asks for one.
    pub www_authenticate: Option<String>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            www_authenticate: None,
        }
    }
    /// RFC 6749 §5.2 `invalid_request` (400).
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    /// RFC 6749 §5.2 `invalid_client` (401): unknown client.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
    }
    /// Keycloak answers failed client authentication with `unauthorized_client` and 401
    /// (`ClientIdAndSecretAuthenticator`), not RFC 6749's `invalid_client`.
    pub fn client_auth_failed(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized_client", d)
    }
    /// RFC 6749 §5.2 `unauthorized_client` (400): the client may not use this grant.
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }
    /// RFC 6749 §5.2 `invalid_grant` (400).
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    /// `invalid_grant` with 401: Keycloak's wrong-password answer.
    pub fn invalid_grant_401(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_grant", d)
    }
    /// RFC 6749 §5.2 `unsupported_grant_type` (400).
    pub fn unsupported_grant_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        )
    }
    /// RFC 6749 §5.2 `invalid_scope` (400).
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }
    /// RFC 6750 §3.1 `invalid_token` (401) with `WWW-Authenticate: Bearer`.
    pub fn invalid_token(realm: &str, d: impl Into<String>) -> Self {
        let d = d.into();
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d.clone());
        e.www_authenticate = Some(format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{d}\""
        ));
        e
    }
    /// RFC 8628 §3.5 `authorization_pending` (400): the user has not decided yet.
    pub fn authorization_pending() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "The authorization request is still pending",
        )
    }
    /// RFC 8628 §3.5 `slow_down` (400): polled faster than the interval.
    pub fn slow_down() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "slow_down", "Slow down")
    }
    /// RFC 8628 §3.5 `expired_token` (400).
    pub fn expired_token(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "expired_token", d)
    }
    /// RFC 6749 §4.1.2.1 / RFC 8628 §3.5 `access_denied` (400).
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "access_denied", d)
    }
    /// `access_denied` with 403: Keycloak's answer when token exchange is not allowed for the
    /// requesting client (`AbstractTokenExchangeProvider.forbiddenIfClientIsNotWithinTokenAudience`).
    pub fn access_denied_403(d: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "access_denied", d)
    }
    /// `invalid_client` with 400: Keycloak's token exchange answer for a public requester or an
    /// unknown or disabled audience client.
    pub fn invalid_client_400(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_client", d)
    }
    /// `invalid_request` with 431: a request header (the bearer token) past the server's limit.
    pub fn header_too_large(d: impl Into<String>) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "invalid_request",
            d,
        )
    }
    /// `invalid_request` with 413: a request body past the endpoint's size limit.
    pub fn payload_too_large(d: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", d)
    }
    /// `invalid_request` with 408: the client did not send its body in time.
    pub fn request_timeout(d: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "invalid_request", d)
    }
    /// 429 `too_many_requests` (RFC 6585 §4): the caller is past the rate limit. RFC 6749 has
    /// no code for it and Keycloak no rate limit; the code names the status.
    pub fn too_many_requests(d: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", d)
    }
    /// A token the server would issue is past its own size limit (500, named as such so the
    /// administrator sees what to change).
    pub fn token_too_large(d: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", d)
    }
    /// A storage or internal failure (500), described without internals.
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "An internal error occurred",
        )
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure on a protocol endpoint");
        OAuthError::server_error()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        if let Some(v) = self
            .www_authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r.extensions_mut().insert(ErrorCode(self.error));
        r
    }
}
