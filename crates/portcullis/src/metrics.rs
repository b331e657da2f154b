//! GET /metrics  (management port, with `--metrics-enabled=true`)
//! Prometheus text exposition. Request metrics use Micrometer's names, as Keycloak's
//! `/metrics` does (`http_server_requests_seconds_count|sum{method,outcome,status,uri}`), with
//! the route template as `uri` so the label set stays bounded.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// (method, status, route template) → (count, seconds).
type RequestTable = BTreeMap<(String, u16, String), (u64, f64)>;

/// Request counters, shared by every router of the process.
#[derive(Debug)]
pub struct Metrics {
    started_unix: f64,
    requests: Mutex<RequestTable>,
}

impl Default for Metrics {
    fn default() -> Self {
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Metrics {
            started_unix,
            requests: Mutex::new(BTreeMap::new()),
        }
    }
}

fn outcome(status: u16) -> &'static str {
    match status {
        100..=199 => "INFORMATIONAL",
        200..=299 => "SUCCESS",
        300..=399 => "REDIRECTION",
        400..=499 => "CLIENT_ERROR",
        _ => "SERVER_ERROR",
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Records one answered request.
    pub fn record(&self, method: &str, status: u16, uri: &str, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            let e = m
                .entry((method.to_string(), status, uri.to_string()))
                .or_insert((0, 0.0));
            e.0 += 1;
            e.1 += seconds;
        }
    }

    /// The exposition text.
    pub fn render(&self, realms: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP http_server_requests_seconds Duration of HTTP server requests.\n# TYPE http_server_requests_seconds summary\n");
        if let Ok(m) = self.requests.lock() {
            for ((method, status, uri), (count, sum)) in m.iter() {
                let labels = format!(
                    "method=\"{}\",outcome=\"{}\",status=\"{status}\",uri=\"{}\"",
                    label(method),
                    outcome(*status),
                    label(uri)
                );
                out.push_str(&format!(
                    "http_server_requests_seconds_count{{{labels}}} {count}\n"
                ));
                out.push_str(&format!(
                    "http_server_requests_seconds_sum{{{labels}}} {sum:.6}\n"
                ));
            }
        }
        out.push_str(&format!(
            "# HELP process_start_time_seconds Start time of the process since unix epoch.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {:.3}\n",
            self.started_unix
        ));
        out.push_str(&format!("# HELP portcullis_realms Realms loaded.\n# TYPE portcullis_realms gauge\nportcullis_realms {realms}\n"));
        out
    }
}

/// Middleware: counts every request of the public router by route template.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let uri = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".to_string());
    let res = next.run(req).await;
    state.metrics.record(
        &method,
        res.status().as_u16(),
        &uri,
        start.elapsed().as_secs_f64(),
    );
    res
}

/// Handler.
pub async fn get(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.realms.len())
            + &format!(
                "# HELP portcullis_events_dropped_total Events dropped because the event queue was full.\n# TYPE portcullis_events_dropped_total counter\nportcullis_events_dropped_total {}\n",
                state.events.dropped()
            ),
    )
        .into_response()
}
