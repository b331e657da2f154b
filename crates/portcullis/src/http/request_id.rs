//! Request ids: every request gets one, honouring a well-formed `X-Request-Id` from the
//! client or a proxy, or a new UUID. It is answered in `X-Request-Id` and carried by the
//! `request` span around the handler, so every log line of the request (an error's too)
//! names it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Longest incoming id honoured; a longer one is replaced.
const MAX_LEN: usize = 128;

/// Whether an incoming id can be used as it is: 1 to [`MAX_LEN`] characters of letters,
/// digits and `-_.:/+=@`. Anything else (control characters, spaces, quotes that would let a
/// client forge log fields) is replaced by a new id.
pub fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// The id for a request with these headers.
pub fn of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// W3C Trace Context's `traceparent`.
const TRACEPARENT: &str = "traceparent";

/// Reads a request's headers for the trace-context propagator.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes the `request` span a child of the caller's span named by `traceparent` (and
/// `tracestate`), with the propagator `telemetry` installs when tracing is on. Without it
/// (tracing off) the global propagator is a no-op and so is this; a malformed header is
/// ignored (the request starts a trace of its own).
fn join_callers_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let _ = span.set_parent(cx);
}

/// The middleware.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = of(req.headers());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    if req.headers().contains_key(TRACEPARENT) {
        join_callers_trace(&span, req.headers());
    }
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_id_is_kept_and_anything_else_replaced() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(&X_REQUEST_ID, HeaderValue::from_static("trace-1.2:abc"));
        assert_eq!(of(&h), "trace-1.2:abc");
        for bad in ["", "a b", "x\"y", "id=1 level=error", &"a".repeat(129)] {
            let mut h = axum::http::HeaderMap::new();
            h.insert(
                &X_REQUEST_ID,
                HeaderValue::from_str(bad).unwrap_or(HeaderValue::from_static("")),
            );
            let id = of(&h);
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        }
    }
}
