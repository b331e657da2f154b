//! A request that failed because the database was unreachable, or its disk full, answers
//! `503 Service Unavailable` with `Retry-After`, not a `500`: the client (and a load balancer)
//! learns the failure is temporary and when to try again. Requests that need no database
//! (discovery, JWKS, anything served from a cached realm), and reads on a full disk, are not
//! affected.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::store::outage::{self, Outage};

/// Seconds a client is asked to wait before retrying.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Turns a `500` whose request met a database outage into `503` + `Retry-After`.
pub async fn layer(req: Request, next: Next) -> Response {
    match outage::watch(next.run(req)).await {
        (resp, Some(outage)) if resp.status() == StatusCode::INTERNAL_SERVER_ERROR => {
            answer(outage)
        }
        (resp, _) => resp,
    }
}

/// `503 {"error": "temporarily_unavailable", ...}` with `Retry-After`, naming the outage.
pub fn answer(outage: Outage) -> Response {
    let description = match outage {
        Outage::Unreachable => "The database is unreachable; retry later.",
        Outage::Full => "The database's disk is full; writes are refused until space is freed.",
    };
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "error": "temporarily_unavailable",
            "error_description": description,
        })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}
