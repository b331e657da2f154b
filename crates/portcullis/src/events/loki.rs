//! The Loki push listener (`--events-loki-url`), listener id `loki`: every login and admin event
//! of the realms that name `loki` in `eventsListeners` (as a Keycloak realm turns on a listener
//! provider the server offers) as one JSON line (the JSON-lines listener's format) pushed to
//! Loki's HTTP API, `POST /loki/api/v1/push` with
//! `{"streams":[{"stream":{labels},"values":[["<ns>","<line>"]]}]}`. Admin events go to the
//! listeners of the realm administered, as Keycloak's `AdminEventBuilder` sends them.
//!
//! Labels are few and bounded: `job`, `realm`, `event_type`, `success` (the seed's labels) and
//! `client_id` for login events (`unknown` when the client was not found, so a caller cannot
//! make new series); admin events carry `event_type` `ADMIN_CREATE`, `ADMIN_UPDATE`, ... (as
//! their JSON line) and `resource_type`. User ids, usernames and addresses stay in the line, never in a label.
//!
//! Out of the request path twice over: the event writer hands lines over with `try_send` to a
//! bounded buffer (full: the line is dropped and counted), and one background task sends them
//! in batches, retrying a failed push with exponential backoff. While Loki is down the buffer
//! fills and further lines are dropped; a batch that fails every attempt is dropped too. The
//! counters are on `/metrics` (`portcullis_events_loki_*`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{errors, AdminEvent, Event};
use crate::realm::snapshot::RealmCache;

/// How many lines one push carries at most.
pub const MAX_BATCH: usize = 1000;
/// Attempts per batch (the first and its retries).
pub const ATTEMPTS: u32 = 5;
/// Wait before the first retry; doubled for each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);

pub use crate::config::events::LokiConfig;

/// The listener's id, which a realm names in `eventsListeners` to have its events pushed (a
/// realm may name it only when `--events-loki-url` is set).
pub const LOKI_LISTENER: &str = "loki";

/// The listener's counters (`/metrics`).
#[derive(Debug, Default)]
pub struct LokiStats {
    /// Lines Loki accepted.
    pub sent: AtomicU64,
    /// Lines dropped: the buffer full, or their batch failed every attempt.
    pub dropped: AtomicU64,
    /// Pushes tried again after a failure.
    pub retries: AtomicU64,
}

/// One line and its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The stream's labels.
    pub labels: BTreeMap<&'static str, String>,
    /// Nanoseconds since the epoch.
    pub ns: i64,
    /// The JSON line.
    pub line: String,
    /// The realm's name, whole (its label may be cut): whether the realm listens is read from
    /// its settings when the line is offered.
    pub realm: String,
}

/// Longest label value kept (a realm name or client id is cut beyond it).
const MAX_LABEL: usize = 128;

fn label(v: &str) -> String {
    v.chars().take(MAX_LABEL).collect()
}

/// A login event's entry.
pub fn user_entry(job: &str, e: &Event) -> Entry {
    let client = match (&e.client_id, e.error.as_deref()) {
        (_, Some(err)) if err == errors::CLIENT_NOT_FOUND => "unknown".to_string(),
        (Some(c), _) => label(c),
        (None, _) => String::new(),
    };
    let mut labels = BTreeMap::new();
    labels.insert("job", label(job));
    labels.insert("realm", label(&e.realm_name));
    labels.insert("event_type", label(&e.kind));
    labels.insert("success", e.error.is_none().to_string());
    labels.insert("client_id", client);
    Entry {
        labels,
        ns: e.time.saturating_mul(1_000_000),
        line: super::listeners::json_line(e),
        realm: e.realm_name.clone(),
    }
}

/// An admin event's entry.
pub fn admin_entry(job: &str, e: &AdminEvent) -> Entry {
    let mut labels = BTreeMap::new();
    labels.insert("job", label(job));
    labels.insert("realm", label(&e.realm_name));
    // As the JSON line's `event_type` (`ADMIN_CREATE`, `ADMIN_UPDATE`, ...).
    labels.insert("event_type", format!("ADMIN_{}", label(&e.operation_type)));
    labels.insert("success", "true".to_string());
    labels.insert("resource_type", label(&e.resource_type));
    Entry {
        labels,
        ns: e.time.saturating_mul(1_000_000),
        line: super::listeners::json_admin_line(e),
        realm: e.realm_name.clone(),
    }
}

/// Loki's push body: one stream per label set, values in the order given.
pub fn body(entries: &[Entry]) -> Value {
    let mut streams: Vec<(&BTreeMap<&'static str, String>, Vec<Value>)> = Vec::new();
    for e in entries {
        let value = json!([e.ns.to_string(), e.line]);
        match streams.iter_mut().find(|(l, _)| *l == &e.labels) {
            Some((_, values)) => values.push(value),
            None => streams.push((&e.labels, vec![value])),
        }
    }
    json!({"streams": streams
        .into_iter()
        .map(|(labels, values)| json!({"stream": labels, "values": values}))
        .collect::<Vec<_>>()})
}

/// The writer's end: hands lines over without waiting.
#[derive(Clone)]
pub struct LokiSender {
    job: String,
    tx: mpsc::Sender<Entry>,
    stats: Arc<LokiStats>,
    /// Whether a realm (by name) names `loki` in `eventsListeners`.
    listens: Arc<dyn Fn(&str) -> bool + Send + Sync>,
}

impl std::fmt::Debug for LokiSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LokiSender")
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

impl LokiSender {
    /// Offers a line: one of a realm that does not name `loki` is skipped (the writer sees
    /// events queued for its other listeners too); a full buffer drops it (counted).
    pub fn offer(&self, entry: Entry) {
        if !(self.listens)(&entry.realm) {
            return;
        }
        if self.tx.try_send(entry).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The `job` label.
    pub fn job(&self) -> &str {
        &self.job
    }
}

/// Starts the sender task for the realms of `realms` that name `loki`; returns the writer's
/// end and the counters.
pub fn spawn(
    config: LokiConfig,
    client: reqwest::Client,
    realms: Arc<RealmCache>,
) -> (LokiSender, Arc<LokiStats>) {
    let (tx, rx) = mpsc::channel(config.buffer.max(1));
    let stats = Arc::new(LokiStats::default());
    tokio::spawn(run(config.url, client, rx, stats.clone()));
    (
        LokiSender {
            job: config.job,
            tx,
            stats: stats.clone(),
            listens: Arc::new(move |realm| {
                realms
                    .known_facts(realm)
                    .is_some_and(|f| f.settings.events.listens(LOKI_LISTENER))
            }),
        },
        stats,
    )
}

async fn run(
    url: String,
    client: reqwest::Client,
    mut rx: mpsc::Receiver<Entry>,
    stats: Arc<LokiStats>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let payload = body(&batch).to_string();
        let mut delay = FIRST_BACKOFF;
        let mut sent = false;
        for attempt in 1..=ATTEMPTS {
            match push(&client, &url, &payload).await {
                Ok(()) => {
                    sent = true;
                    break;
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "events: Loki push failed; retrying");
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
                Err(e) => {
                    tracing::warn!(error = %e, lines = batch.len(), "events: Loki push failed; lines dropped");
                }
            }
        }
        let counter = if sent { &stats.sent } else { &stats.dropped };
        counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
    }
}

async fn push(client: &reqwest::Client, url: &str, payload: &str) -> Result<(), String> {
    let r = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(payload.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("Loki answered {}", r.status()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(kind: &str, client: Option<&str>, error: Option<&str>) -> Event {
        Event {
            id: "1".into(),
            time: 1_700_000_000_123,
            kind: kind.into(),
            realm_id: "rid".into(),
            realm_name: "myapp".into(),
            client_id: client.map(String::from),
            user_id: Some("user-uuid".into()),
            session_id: None,
            ip_address: Some("203.0.113.42".into()),
            error: error.map(String::from),
            details: vec![("username".into(), "alice".into())],
        }
    }

    #[test]
    fn labels_are_bounded_and_streams_grouped() {
        let ok = user_entry("keycloak", &event("LOGIN", Some("web"), None));
        let bad = user_entry(
            "keycloak",
            &event(
                "LOGIN_ERROR",
                Some("made-up-by-caller"),
                Some(errors::CLIENT_NOT_FOUND),
            ),
        );
        assert_eq!(ok.labels["success"], "true");
        assert_eq!(ok.labels["client_id"], "web");
        assert_eq!(bad.labels["client_id"], "unknown");
        assert_eq!(ok.ns, 1_700_000_000_123_000_000);
        for e in [&ok, &bad] {
            assert!(!e
                .labels
                .values()
                .any(|v| v.contains("user-uuid") || v == "alice"));
            assert!(e.line.contains("user-uuid"));
        }
        let b = body(&[ok.clone(), bad, ok]);
        let streams = b["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0]["stream"]["event_type"], "LOGIN");
        assert_eq!(streams[0]["values"].as_array().unwrap().len(), 2);
        assert_eq!(streams[0]["values"][0][0], "1700000000123000000");
        assert_eq!(
            LokiConfig::push_url("http://loki:3100/"),
            "http://loki:3100/loki/api/v1/push"
        );
    }

    #[tokio::test]
    async fn a_full_buffer_drops_and_counts() {
        let (tx, _rx) = mpsc::channel(1);
        let stats = Arc::new(LokiStats::default());
        let s = LokiSender {
            job: "keycloak".into(),
            tx,
            stats: stats.clone(),
            listens: Arc::new(|realm| realm == "myapp"),
        };
        let e = user_entry("keycloak", &event("LOGIN", None, None));
        s.offer(e.clone());
        s.offer(e.clone());
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 1);
        // A realm that does not name `loki` is skipped, not counted as a drop.
        s.offer(Entry {
            realm: "other".into(),
            ..e
        });
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 1);
    }
}
