//! A request that failed because the database was unreachable answers `503 Service
//! Unavailable` with `Retry-After`, not a `500`: the client (and a load balancer) learns the
//! failure is temporary and when to try again. Requests that need no database (discovery,
//! JWKS, anything served from a cached realm) are not affected.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::store::outage;

/// Seconds a client is asked to wait before retrying.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Turns a `500` whose request found the database unreachable into `503` + `Retry-After`.
pub async fn layer(req: Request, next: Next) -> Response {
    let (resp, unreachable) = outage::watch(next.run(req)).await;
    if unreachable && resp.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return answer();
    }
    resp
}

/// `503 {"error": "temporarily_unavailable", ...}` with `Retry-After`.
pub fn answer() -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "error": "temporarily_unavailable",
            "error_description": "The database is unreachable; retry later.",
        })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}
