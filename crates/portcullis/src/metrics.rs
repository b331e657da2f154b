//! GET /metrics  (management port, with `--metrics-enabled=true`)
//! Prometheus text exposition (format 0.0.4), with Keycloak 26's names where Keycloak has
//! them: the request histogram `http_server_requests_seconds{method,outcome,status,uri}`
//! (Micrometer's; `uri` is the route template, `UNKNOWN` when no route matched, so the label
//! set stays bounded), `keycloak_user_events_total` (`--event-metrics-user-enabled`), the
//! business metrics counted from events (`events::counters`), `keycloak_sessions_active`, the
//! store's connection pool (`agroal_*`, the names of Keycloak's pool), the store's latency per
//! operation (`portcullis_store_query_seconds`, [`StoreLatency`]) and the process
//! (`process_*`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Upper bounds (seconds) of the request histogram's buckets.
pub const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One series of the request histogram.
#[derive(Debug, Clone, Default)]
struct Timings {
    count: u64,
    sum: f64,
    max: f64,
    /// Requests at or under each bound of [`BUCKETS`] (not cumulative; summed on output).
    buckets: [u64; 11],
}

/// (method, status, route template) → timings.
type RequestTable = BTreeMap<(String, u16, String), Timings>;

/// Request counters, shared by every router of the process.
#[derive(Debug)]
pub struct Metrics {
    started_unix: f64,
    requests: Mutex<RequestTable>,
    /// The store's latency per operation, when the tracing layer times it.
    store: Option<Arc<StoreLatency>>,
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
            store: None,
        }
    }
}

/// Upper bounds (seconds) of the store latency histogram's buckets: a store call takes from
/// tens of microseconds (a cached read) to milliseconds (a write on a busy database).
pub const STORE_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// One operation's series of the store histogram.
#[derive(Debug, Clone, Copy, Default)]
struct StoreTimings {
    count: u64,
    sum: f64,
    /// Calls at or under each bound of [`STORE_BUCKETS`] (not cumulative).
    buckets: [u64; 12],
}

/// The store's latency per operation (`portcullis_store_query_seconds{operation}`): how long
/// each call of a store method took, pool and SQLite write-queue waits included, as its caller
/// waited for it. The `operation` label is the store method's name (the name of its
/// `#[tracing::instrument]` span), so the label set is fixed by the code: never an id or SQL.
///
/// Filled by [`store_latency_layer`], a `tracing` layer that times the store methods' existing
/// spans (target `portcullis::store::*`) from creation to close. That was chosen over a timing
/// wrapper around the store, which would have to repeat every method of every store trait
/// (well over a hundred) and be kept in step with them; the spans are already there for the
/// traces. Its cost, with `--metrics-enabled` only: the store's `debug` spans are created (a
/// slab slot and one small allocation per call, no formatting: the log's filter still drops
/// them), two clock reads and one short lock, against a store call of tens of microseconds or
/// more. Without metrics the layer is not installed and the spans stay disabled where they
/// are declared.
#[derive(Debug, Default)]
pub struct StoreLatency {
    ops: Mutex<BTreeMap<&'static str, StoreTimings>>,
}

impl StoreLatency {
    /// Records one call of `operation`.
    pub fn record(&self, operation: &'static str, seconds: f64) {
        if let Ok(mut m) = self.ops.lock() {
            let t = m.entry(operation).or_default();
            t.count += 1;
            t.sum += seconds;
            if let Some(i) = STORE_BUCKETS.iter().position(|b| seconds <= *b) {
                t.buckets[i] += 1;
            }
        }
    }

    /// The histogram, with its HELP and TYPE lines.
    fn render(&self, out: &mut String) {
        const NAME: &str = "portcullis_store_query_seconds";
        help_type(
            out,
            NAME,
            "histogram",
            "Duration of store operations (by store method), waits for a connection included",
        );
        let table = self.ops.lock().map(|m| m.clone()).unwrap_or_default();
        for (op, t) in &table {
            let base = [("operation", op.to_string())];
            let mut cumulative = 0;
            for (bound, n) in STORE_BUCKETS.iter().zip(t.buckets) {
                cumulative += n;
                let l = [base[0].clone(), ("le", num(*bound))];
                let _ = writeln!(out, "{NAME}_bucket{} {cumulative}", labels(&l));
            }
            let l = [base[0].clone(), ("le", "+Inf".to_string())];
            let _ = writeln!(out, "{NAME}_bucket{} {}", labels(&l), t.count);
            let _ = writeln!(out, "{NAME}_count{} {}", labels(&base), t.count);
            let _ = writeln!(out, "{NAME}_sum{} {}", labels(&base), num(t.sum));
        }
    }
}

/// Whether a span is a store entry point: the `#[tracing::instrument]` spans of the store's
/// methods, whose target is the store's module (`portcullis::store::sqlite`, `...::postgres`).
pub fn store_span(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("portcullis::store")
}

/// When a timed span was created.
struct Started(Instant);

/// The layer behind [`store_latency_layer`].
struct StoreTimer(Arc<StoreLatency>);

impl<S> tracing_subscriber::Layer<S> for StoreTimer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            if let Some(Started(t)) = span.extensions().get::<Started>() {
                self.0.record(span.name(), t.elapsed().as_secs_f64());
            }
        }
    }
}

/// The `tracing` layer that fills `latency` (see [`StoreLatency`]), filtered to the store's
/// spans; add it to the process's subscriber when `/metrics` is served.
pub fn store_latency_layer<S>(latency: Arc<StoreLatency>) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    StoreTimer(latency).with_filter(
        tracing_subscriber::filter::filter_fn(store_span)
            .with_max_level_hint(tracing::level_filters::LevelFilter::DEBUG),
    )
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

/// A label value, escaped as the text format asks.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, String)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
        .collect();
    if inner.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", inner.join(","))
    }
}

fn help_type(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A float as the text format writes it.
fn num(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else {
        format!("{v}")
    }
}

impl Metrics {
    /// The counters, with the store's latency when `store` is timed.
    pub fn with_store_latency(store: Option<Arc<StoreLatency>>) -> Self {
        Metrics {
            store,
            ..Metrics::default()
        }
    }

    /// Records one answered request.
    pub fn record(&self, method: &str, status: u16, uri: &str, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            let t = m
                .entry((method.to_string(), status, uri.to_string()))
                .or_default();
            t.count += 1;
            t.sum += seconds;
            t.max = t.max.max(seconds);
            if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
                t.buckets[i] += 1;
            }
        }
    }

    /// The request histogram and the process start time.
    pub fn render(&self, realms: usize, built: u64) -> String {
        let mut out = String::new();
        help_type(
            &mut out,
            "http_server_requests_seconds",
            "histogram",
            "Duration of HTTP server requests",
        );
        let table = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        for ((method, status, uri), t) in &table {
            let base = vec![
                ("method", method.clone()),
                ("outcome", outcome(*status).to_string()),
                ("status", status.to_string()),
                ("uri", uri.clone()),
            ];
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().chain([f64::INFINITY].iter()).enumerate() {
                cumulative += t.buckets.get(i).copied().unwrap_or(0);
                let count = if bound.is_infinite() {
                    t.count
                } else {
                    cumulative
                };
                let mut l = base.clone();
                l.push(("le", num(*bound)));
                let _ = writeln!(
                    out,
                    "http_server_requests_seconds_bucket{} {count}",
                    labels(&l)
                );
            }
            let _ = writeln!(
                out,
                "http_server_requests_seconds_count{} {}",
                labels(&base),
                t.count
            );
            let _ = writeln!(
                out,
                "http_server_requests_seconds_sum{} {}",
                labels(&base),
                num(t.sum)
            );
        }
        help_type(
            &mut out,
            "http_server_requests_seconds_max",
            "gauge",
            "Longest HTTP server request",
        );
        for ((method, status, uri), t) in &table {
            let base = vec![
                ("method", method.clone()),
                ("outcome", outcome(*status).to_string()),
                ("status", status.to_string()),
                ("uri", uri.clone()),
            ];
            let _ = writeln!(
                out,
                "http_server_requests_seconds_max{} {}",
                labels(&base),
                num(t.max)
            );
        }
        if let Some(store) = &self.store {
            store.render(&mut out);
        }
        help_type(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds",
        );
        let _ = writeln!(out, "process_start_time_seconds {:.3}", self.started_unix);
        help_type(&mut out, "portcullis_realms", "gauge", "Realms");
        let _ = writeln!(out, "portcullis_realms {realms}");
        help_type(
            &mut out,
            "portcullis_realms_built",
            "gauge",
            "Realm snapshots built and kept in memory (at most realm-cache-size)",
        );
        let _ = writeln!(out, "portcullis_realms_built {built}");
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

/// The event counters (`events::counters`), with their HELP and TYPE lines.
fn render_counters(state: &AppState, out: &mut String) {
    let Some(c) = state.events.counters() else {
        return;
    };
    let mut all = c.snapshot();
    // Registrations start at 0 for every realm (the other counters' labels are not known
    // before their first event).
    const REGISTRATIONS: &str = "keycloak_user_registrations_total";
    let zero: Vec<Vec<(&'static str, String)>> = if c.realm_labels() {
        state
            .realms
            .names()
            .into_iter()
            .map(|n| vec![("realm", n)])
            .collect()
    } else {
        vec![vec![]]
    };
    for l in zero {
        if !all
            .iter()
            .any(|(n, have, _)| *n == REGISTRATIONS && *have == l)
        {
            all.push((REGISTRATIONS, l, 0));
        }
    }
    all.sort();
    for (name, help) in crate::events::counters::HELP {
        help_type(out, name, "counter", help);
        for (_, l, v) in all.iter().filter(|(n, _, _)| n == name) {
            let _ = writeln!(out, "{name}{} {v}", labels(l));
        }
    }
}

/// `keycloak_sessions_active`: online sessions stored, per realm with
/// `--metrics-realm-labels`, else one total.
async fn render_sessions(state: &AppState, out: &mut String) {
    let Ok(counts) = state.store.session_counts().await else {
        return;
    };
    help_type(
        out,
        "keycloak_sessions_active",
        "gauge",
        "Online user sessions (expired ones leave with the next sweep)",
    );
    let by_realm = state
        .events
        .counters()
        .map(|c| c.realm_labels())
        .unwrap_or(false);
    if by_realm {
        let names: BTreeMap<String, String> = state.realms.ids_and_names().into_iter().collect();
        for (id, n) in &counts {
            if let Some(name) = names.get(id) {
                let _ = writeln!(
                    out,
                    "keycloak_sessions_active{} {n}",
                    labels(&[("realm", name.clone())])
                );
            }
        }
    } else {
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        let _ = writeln!(out, "keycloak_sessions_active {total}");
    }
}

/// The store's pool under Keycloak's (Agroal's) names.
fn render_pool(state: &AppState, out: &mut String) {
    let p = state.store.pool_stats();
    let ds = [("datasource", "default".to_string())];
    for (name, help, v) in [
        (
            "agroal_active_count",
            "Connections in use",
            p.open.saturating_sub(p.idle),
        ),
        ("agroal_available_count", "Idle connections", p.idle),
        (
            "agroal_max_used_count",
            "Most connections the pool opens",
            p.max,
        ),
    ] {
        help_type(out, name, "gauge", help);
        let _ = writeln!(out, "{name}{} {v}", labels(&ds));
    }
    if let Some(w) = p.write_waits {
        const NAME: &str = "portcullis_store_write_wait_seconds";
        help_type(
            out,
            NAME,
            "histogram",
            "Time SQLite writes waited for the single writer",
        );
        let mut cumulative = 0;
        for (bound, n) in crate::store::WAIT_BUCKETS.iter().zip(w.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{NAME}_bucket{} {cumulative}",
                labels(&[("le", num(*bound))])
            );
        }
        let _ = writeln!(out, "{NAME}_bucket{{le=\"+Inf\"}} {}", w.count);
        let _ = writeln!(out, "{NAME}_count {}", w.count);
        let _ = writeln!(out, "{NAME}_sum {}", num(w.seconds));
    }
}

/// Resident memory, open file descriptors and threads, from `/proc/self` (Linux; left out
/// elsewhere).
fn render_process(out: &mut String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    if let Some(kb) = field("VmRSS:") {
        help_type(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {}", kb * 1024);
    }
    if let Some(kb) = field("VmSize:") {
        help_type(
            out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes",
        );
        let _ = writeln!(out, "process_virtual_memory_bytes {}", kb * 1024);
    }
    if let Some(n) = field("Threads:") {
        help_type(out, "process_threads", "gauge", "Threads of the process");
        let _ = writeln!(out, "process_threads {n}");
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        help_type(out, "process_open_fds", "gauge", "Open file descriptors");
        let _ = writeln!(out, "process_open_fds {}", dir.count());
    }
}

/// Handler.
pub async fn get(State(state): State<AppState>) -> Response {
    let mut out = state
        .metrics
        .render(state.realms.len(), state.realms.built_count());
    render_counters(&state, &mut out);
    render_sessions(&state, &mut out).await;
    render_pool(&state, &mut out);
    render_process(&mut out);
    help_type(
        &mut out,
        "portcullis_events_dropped_total",
        "counter",
        "Events dropped because the event queue was full",
    );
    let _ = writeln!(
        out,
        "portcullis_events_dropped_total {}",
        state.events.dropped()
    );
    if let Some(l) = state.events.loki() {
        use std::sync::atomic::Ordering::Relaxed;
        for (name, help, v) in [
            (
                "portcullis_events_loki_sent_total",
                "Event lines Loki accepted",
                l.sent.load(Relaxed),
            ),
            (
                "portcullis_events_loki_dropped_total",
                "Event lines not sent to Loki: the buffer was full or every attempt failed",
                l.dropped.load(Relaxed),
            ),
            (
                "portcullis_events_loki_retries_total",
                "Pushes to Loki tried again after a failure",
                l.retries.load(Relaxed),
            ),
        ] {
            help_type(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {v}");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
