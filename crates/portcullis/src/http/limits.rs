//! Request body limits at the edge: each body is read here, once, within the size limit of its
//! endpoint and the read timeout, before any handler sees it. A body past the limit is
//! answered 413, a body that does not arrive in time 408, both with a protocol error naming
//! the limit, and the connection is closed (the rest of the body is never read).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;

use super::oauth_error::OAuthError;
use crate::config::limits::Limits;
use crate::AppState;

/// The largest body of the endpoints outside the Admin API (protocol forms, login forms, the
/// account API, client registration): room for a few tokens of the server's size limit
/// (token exchange sends a subject token, an actor token and a client assertion).
pub const PROTOCOL_MAX_BODY_BYTES: usize = 4 * crate::crypto::jws::MAX_TOKEN_LEN;

/// The most parameters a form body may carry (`http-limits-max-form-fields`), put in the
/// request's extensions for the form extractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormFieldLimit(pub usize);

/// The body size limit of a path: the Admin API takes realm documents, the rest small forms
/// and JSON.
pub fn body_limit(path: &str, limits: &Limits) -> usize {
    if path == "/admin" || path.starts_with("/admin/") {
        limits.max_body_size
    } else {
        limits.max_body_size.min(PROTOCOL_MAX_BODY_BYTES)
    }
}

fn too_large(limit: usize) -> Response {
    closing(
        OAuthError::payload_too_large(format!(
            "Request body too large: the limit of this endpoint is {limit} bytes"
        ))
        .into_response(),
    )
}

/// Asks hyper to close the connection after the answer: the rest of the body is unread.
fn closing(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Reads `body` within `limit` bytes and `timeout`.
///
/// Past the limit, up to `limit` more bytes are read and dropped before the answer (within the
/// same time), as nginx's lingering close does: a client that writes its whole body before
/// reading (most do) then gets the 413 instead of a broken pipe. Past twice the limit the
/// connection is closed at once.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Body, Response> {
    let deadline = tokio::time::Instant::now() + timeout;
    let late = || {
        closing(
            OAuthError::request_timeout(format!(
                "The request body did not arrive within {} ms",
                timeout.as_millis()
            ))
            .into_response(),
        )
    };
    let mut body = body;
    let mut buf = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(late()),
            Ok(None) => return Ok(Body::from(buf.freeze())),
            Ok(Some(Err(_))) => {
                return Err(closing(
                    OAuthError::invalid_request("The request body could not be read")
                        .into_response(),
                ))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            let mut seen = buf.len() + data.len();
            drop(buf);
            let drain = async {
                while seen <= limit.saturating_mul(2) {
                    match body.frame().await {
                        Some(Ok(f)) => seen += f.data_ref().map_or(0, |d| d.len()),
                        _ => break,
                    }
                }
            };
            let _ = tokio::time::timeout_at(deadline, drain).await;
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&data);
    }
}

/// The size of a request's line and headers as sent on HTTP/1.1 (`METHOD target HTTP/1.1`,
/// `name: value` lines): hyper's own bound (`max_buf_size`) is its read buffer, which a read can
/// overshoot, so the option's exact value is checked here.
pub fn head_size(req: &Request) -> usize {
    let target = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    let line = req.method().as_str().len() + target + 11;
    line + req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.as_bytes().len() + 4)
        .sum::<usize>()
}

/// Middleware.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &state.config.limits;
    if head_size(&req) > limits.max_header_size {
        return closing(
            OAuthError::header_too_large(format!(
                "Request headers too large: the limit is {} bytes",
                limits.max_header_size
            ))
            .into_response(),
        );
    }
    let limit = body_limit(req.uri().path(), limits);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > (limit as u64).saturating_mul(2)) {
        return too_large(limit);
    }
    let (mut parts, body) = req.into_parts();
    let body = match read_body(body, limit, limits.read_timeout).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    parts
        .extensions
        .insert(FormFieldLimit(limits.max_form_fields));
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_api_takes_larger_bodies_than_the_protocol_endpoints() {
        let limits = Limits::default();
        assert_eq!(
            body_limit("/admin/realms/x/partialImport", &limits),
            10 * 1024 * 1024
        );
        assert_eq!(
            body_limit("/realms/x/protocol/openid-connect/token", &limits),
            PROTOCOL_MAX_BODY_BYTES
        );
        assert_eq!(
            body_limit("/administrator", &limits),
            PROTOCOL_MAX_BODY_BYTES
        );
        let small = Limits {
            max_body_size: 1000,
            ..Limits::default()
        };
        assert_eq!(
            body_limit("/realms/x/protocol/openid-connect/token", &small),
            1000
        );
    }
}
