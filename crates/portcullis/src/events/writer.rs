//! The background task that drains the event queue: runs the listeners, then stores what the
//! realms keep, in batches (one transaction per batch and kind). A store failure loses that
//! batch of stored events (logged), never a request. Audited events are appended to the
//! audit trail's hash chains in the same pass (`super::audit`).

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

pub use crate::config::events::JsonOutput;

use super::audit;
use super::listeners::{self, Level};
use super::loki;
use super::Envelope;
use crate::store::{AdminEventRow, EventRow, Store};

/// Events taken from the queue at most per batch.
pub const MAX_BATCH: usize = 500;

/// The shortest time between two batches: under load the writer waits for this long since its
/// last batch, gathering what comes meanwhile, so that thousands of events a second cost a few
/// dozen transactions rather than one per handful of events (each transaction is a round of
/// thread hand-offs to the store, which, at thousands of requests a second, costs the requests
/// more than the rows). An event after a quiet spell is written at once; a flush
/// ([`super::Events::flush`]) does not wait.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(50);

/// How the writer is set up.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// `jboss-logging` level of successes.
    pub success_level: Level,
    /// `jboss-logging` level of failures.
    pub error_level: Level,
    /// The JSON-lines output, if on.
    pub json: Option<JsonOutput>,
    /// Append audited events to the audit trail (`--audit-enabled`).
    pub audit: bool,
    /// The Loki push listener, if on.
    pub loki: Option<super::loki::LokiSender>,
}

type Sink = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

async fn open(out: &JsonOutput) -> std::io::Result<Sink> {
    Ok(match out {
        JsonOutput::Stdout => Box::new(tokio::io::stdout()),
        JsonOutput::File(p) => Box::new(
            tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .await?,
        ),
    })
}

/// Starts the writer over `rx`; it ends when every sender is gone.
pub fn spawn(
    store: Arc<dyn Store>,
    rx: mpsc::Receiver<Envelope>,
    config: WriterConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, rx, config))
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Envelope>, config: WriterConfig) {
    let mut sink = match &config.json {
        Some(out) => match open(out).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "events: cannot open the JSON-lines output; JSON events are not written");
                None
            }
        },
        None => None,
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last = tokio::time::Instant::now()
        .checked_sub(LINGER)
        .unwrap_or_else(tokio::time::Instant::now);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let flushing = |b: &[Envelope]| b.iter().any(|e| matches!(e, Envelope::Flush(_)));
        if batch.len() < MAX_BATCH && !flushing(&batch) && last.elapsed() < LINGER {
            tokio::time::sleep_until(last + LINGER).await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
        }
        let mut flushed = Vec::new();
        let mut rows = Vec::new();
        let mut admin_rows = Vec::new();
        let mut audit_entries = Vec::new();
        let mut text = String::new();
        for e in batch.drain(..) {
            match e {
                Envelope::Flush(done) => flushed.push(done),
                Envelope::User {
                    event,
                    store,
                    jboss,
                } => {
                    let level = if event.error.is_some() {
                        config.error_level
                    } else {
                        config.success_level
                    };
                    if config.audit && audit::audited(&event.kind) {
                        audit_entries.push(audit::user_entry(&event));
                    }
                    if jboss && listeners::enabled(level) {
                        listeners::log(level, &listeners::jboss_line(&event));
                    }
                    if sink.is_some() {
                        text.push_str(&listeners::json_line(&event));
                        text.push('\n');
                    }
                    if let Some(l) = &config.loki {
                        l.offer(loki::user_entry(l.job(), &event));
                    }
                    if store {
                        let details = (!event.details.is_empty()).then(|| {
                            let m: serde_json::Map<String, serde_json::Value> = event
                                .details
                                .iter()
                                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                                .collect();
                            serde_json::Value::Object(m).to_string()
                        });
                        rows.push(EventRow {
                            id: event.id,
                            realm_id: event.realm_id,
                            time: event.time,
                            kind: event.kind,
                            client_id: event.client_id,
                            user_id: event.user_id,
                            session_id: event.session_id,
                            ip_address: event.ip_address,
                            error: event.error,
                            details,
                        });
                    }
                }
                Envelope::Admin {
                    event,
                    store,
                    jboss,
                    audit_only,
                } => {
                    if config.audit {
                        audit_entries.push(audit::admin_entry(&event));
                    }
                    if audit_only {
                        continue;
                    }
                    if jboss && listeners::enabled(config.success_level) {
                        listeners::log(config.success_level, &listeners::jboss_admin_line(&event));
                    }
                    if sink.is_some() {
                        text.push_str(&listeners::json_admin_line(&event));
                        text.push('\n');
                    }
                    if let Some(l) = &config.loki {
                        l.offer(loki::admin_entry(l.job(), &event));
                    }
                    if store {
                        admin_rows.push(AdminEventRow {
                            id: event.id,
                            realm_id: event.realm_id,
                            time: event.time,
                            operation_type: event.operation_type,
                            resource_type: event.resource_type,
                            resource_path: event.resource_path,
                            auth_realm_id: event.auth_realm_id,
                            auth_client_id: event.auth_client_id,
                            auth_user_id: event.auth_user_id,
                            ip_address: event.ip_address,
                            representation: event.representation,
                            error: None,
                        });
                    }
                }
            }
        }
        if let (Some(s), false) = (sink.as_mut(), text.is_empty()) {
            let written = async {
                s.write_all(text.as_bytes()).await?;
                s.flush().await
            }
            .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "events: writing the JSON-lines output failed");
            }
        }
        if !rows.is_empty() {
            if let Err(e) = store_rows(store.as_ref(), &rows).await {
                tracing::warn!(error = %e, events = rows.len(), "events: storing login events failed");
            }
        }
        if !admin_rows.is_empty() {
            if let Err(e) = store.insert_admin_events(&admin_rows).await {
                tracing::warn!(error = %e, events = admin_rows.len(), "events: storing admin events failed");
            }
        }
        if !audit_entries.is_empty() {
            append_audit(store.as_ref(), &audit_entries).await;
        }
        for done in flushed {
            let _ = done.send(());
        }
        last = tokio::time::Instant::now();
    }
}

/// Appends a batch to the audit trail, trying once more after a failure (a busy database);
/// a second failure loses the batch's records (logged as an error; the chains stay whole,
/// since a failed append changes nothing).
async fn append_audit(store: &dyn Store, entries: &[crate::store::AuditEntry]) {
    if let Err(first) = store.append_audit(entries).await {
        tracing::warn!(error = %first, records = entries.len(), "audit: appending failed; trying again");
        if let Err(e) = store.append_audit(entries).await {
            tracing::error!(error = %e, records = entries.len(), "audit: records lost: appending to the audit trail failed twice");
        }
    }
}

/// Stores a batch; when the batch fails as a whole (a realm deleted meanwhile), each event is
/// stored alone so that one bad row loses only itself.
pub(crate) async fn store_rows(
    store: &dyn Store,
    rows: &[EventRow],
) -> Result<(), crate::store::StoreError> {
    if store.insert_events(rows).await.is_ok() {
        return Ok(());
    }
    let mut last = Ok(());
    for r in rows {
        if let Err(e) = store.insert_events(std::slice::from_ref(r)).await {
            last = Err(e);
        }
    }
    last
}
