//! Keycloak's login events and admin events.
//!
//! A flow reports what happened with one call: `UserEvent::new(snap, "LOGIN")`, the facts it
//! knows (`.client(..)`, `.user(..)`, `.detail(..)`), then `.success(state)` or
//! `.error(state, errors::X)`. The caller's address comes from the request context set by
//! [`context::layer`]; admin events are recorded by that same layer for every Admin API write
//! ([`admin_hook`]), so no admin handler reports anything.
//!
//! Nothing here waits or fails a request: an event goes into a bounded queue
//! ([`Events::submit`]) drained by one background task ([`writer`]) that runs the listeners
//! (`jboss-logging`, the JSON-lines output, Loki) and stores the events the realm keeps in
//! batches.
//!
//! Listeners follow Keycloak's split: a listener is set up for the whole server (its options),
//! and a realm turns it on by naming its id in `eventsListeners` (`jboss-logging`, and `loki`
//! when `--events-loki-url` is set; [`Events::realm_listeners`]). The JSON-lines output is a
//! server-wide ("global") listener: it sees every realm's events and a realm may not name it.
//! A full queue drops the event, counts it (`portcullis_events_dropped_total` on `/metrics`)
//! and warns.
//!
//! Beyond Keycloak, the writer also appends admin events and the security-relevant login
//! events to the tamper-evident audit trail ([`audit`], `--audit-enabled`), whatever the
//! realm's settings, and flows' events are counted for `/metrics` ([`counters`]) as they are
//! reported.
//!
//! What is stored follows Keycloak: login events when `eventsEnabled` and the type is in
//! `enabledEventTypes` (or, that list empty, stored by default); admin events when
//! `adminEventsEnabled`, with the request body when `adminEventsDetailsEnabled`. The listeners
//! see every event, stored or not, as Keycloak's do.

pub mod admin_hook;
pub mod audit;
pub mod context;
pub mod counters;
pub mod listeners;
pub mod loki;
pub mod time;
pub mod types;
pub mod writer;

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

pub use types::errors;

pub use crate::model::JBOSS_LOGGING;

/// Listeners a realm may name in `eventsListeners` whatever the server's options.
pub const REALM_LISTENERS: &[&str] = &[JBOSS_LOGGING];

/// Longest detail value kept; longer ones are cut (Keycloak cuts stored details too).
pub const MAX_DETAIL_CHARS: usize = 2048;

pub use crate::model::EventSettings;

/// Whether a realm with `settings` stores a login event of type `kind`: with `eventsEnabled`,
/// when the type is in `enabledEventTypes` or, that list empty, stored by default.
pub fn stores(settings: &EventSettings, kind: &str) -> bool {
    settings.enabled
        && if settings.enabled_types.is_empty() {
            types::saved_by_default(kind)
        } else {
            settings.enabled_types.iter().any(|t| t == kind)
        }
}

/// A login event (Keycloak's `Event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Random id.
    pub id: String,
    /// Milliseconds since the epoch.
    pub time: i64,
    /// Type, `_ERROR` included on failures.
    pub kind: String,
    /// Realm id.
    pub realm_id: String,
    /// Realm name (for the log lines).
    pub realm_name: String,
    /// `clientId`.
    pub client_id: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// SSO session id.
    pub session_id: Option<String>,
    /// Caller's address.
    pub ip_address: Option<String>,
    /// Keycloak's error value.
    pub error: Option<String>,
    /// Details, in the order the flow set them.
    pub details: Vec<(String, String)>,
}

/// An admin event (Keycloak's `AdminEvent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEvent {
    /// Random id.
    pub id: String,
    /// Milliseconds since the epoch.
    pub time: i64,
    /// Administered realm id.
    pub realm_id: String,
    /// Administered realm name.
    pub realm_name: String,
    /// `CREATE`, `UPDATE`, `DELETE`, `ACTION`.
    pub operation_type: String,
    /// `ResourceType`.
    pub resource_type: String,
    /// Path below the realm.
    pub resource_path: Option<String>,
    /// Caller's realm id.
    pub auth_realm_id: Option<String>,
    /// Caller's client (internal id).
    pub auth_client_id: Option<String>,
    /// Caller's user id.
    pub auth_user_id: Option<String>,
    /// Caller's address.
    pub ip_address: Option<String>,
    /// Request body JSON, with details enabled.
    pub representation: Option<String>,
}

/// What the writer receives: an event and what to do with it.
#[derive(Debug)]
pub enum Envelope {
    /// A login event.
    User {
        /// The event.
        event: Event,
        /// Store it.
        store: bool,
        /// Log it with `jboss-logging`.
        jboss: bool,
    },
    /// An admin event.
    Admin {
        /// The event.
        event: AdminEvent,
        /// Store it.
        store: bool,
        /// Log it with `jboss-logging`.
        jboss: bool,
        /// Only for the audit trail: neither stored nor given to the listeners (Keycloak
        /// sends no admin event for it, e.g. clearing the events).
        audit_only: bool,
    },
    /// Not an event: answered once everything queued before it is stored ([`Events::flush`]).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The process's event queue (in [`AppState`]).
#[derive(Debug)]
pub struct Events {
    tx: mpsc::Sender<Envelope>,
    dropped: AtomicU64,
    /// Whether the JSON-lines listener is on (server-wide: events are queued even for a realm
    /// that stores nothing and logs nothing).
    json: bool,
    /// `jboss-logging` levels of successes and failures.
    levels: (listeners::Level, listeners::Level),
    /// Whether the audit trail is on (`--audit-enabled`): audited events are queued for
    /// every realm, whatever its event settings.
    audit: bool,
    /// The event metrics, when `/metrics` is served.
    counters: Option<counters::Counters>,
    /// The Loki push listener's counters, when it is on.
    loki: Option<std::sync::Arc<loki::LokiStats>>,
}

impl Events {
    /// A queue of `capacity` events, and its receiving end for [`writer::spawn`].
    pub fn new(capacity: usize, json: bool) -> (Self, mpsc::Receiver<Envelope>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Events {
                tx,
                dropped: AtomicU64::new(0),
                json,
                levels: (listeners::Level::Debug, listeners::Level::Warn),
                audit: false,
                counters: None,
                loki: None,
            },
            rx,
        )
    }

    /// The `jboss-logging` levels of successes and failures.
    pub fn with_levels(mut self, success: listeners::Level, error: listeners::Level) -> Self {
        self.levels = (success, error);
        self
    }

    /// Turns the audit trail on or off.
    pub fn with_audit(mut self, on: bool) -> Self {
        self.audit = on;
        self
    }

    /// Counts events for `/metrics` with `config`.
    pub fn with_counters(mut self, config: crate::config::events::EventMetrics) -> Self {
        self.counters = Some(counters::Counters::new(config));
        self
    }

    /// The event metrics, when counted.
    pub fn counters(&self) -> Option<&counters::Counters> {
        self.counters.as_ref()
    }

    /// Whether the audit trail is on.
    pub fn audit(&self) -> bool {
        self.audit
    }

    /// Whether `jboss-logging` lines of successes (or failures) reach the log at all: when
    /// not, a realm that only logs queues nothing (successes log at `debug` by default).
    pub fn logs(&self, error: bool) -> bool {
        listeners::enabled(if error { self.levels.1 } else { self.levels.0 })
    }

    /// Queues an event without waiting; when the queue is full the event is dropped, counted
    /// and warned about (the first drop, then every 1000th).
    pub fn submit(&self, e: Envelope) {
        if self.tx.try_send(e).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n % 1000 == 0 {
                tracing::warn!(
                    dropped = n,
                    "event queue full: events dropped (the request went on)"
                );
            }
        }
    }

    /// Waits until the events queued so far are stored, at most `FLUSH_WAIT`: a query of the
    /// stored events reads what the requests before it caused (read-your-writes), although the
    /// writer stores in batches. A writer that does not answer in time only delays the query.
    pub async fn flush(&self) {
        const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
        let (done, stored) = tokio::sync::oneshot::channel();
        let waited = tokio::time::timeout(FLUSH_WAIT, async {
            if self.tx.send(Envelope::Flush(done)).await.is_ok() {
                let _ = stored.await;
            }
        })
        .await;
        if waited.is_err() {
            tracing::warn!(
                "events: the writer did not store the queued events in time for a query"
            );
        }
    }

    /// Shows the Loki push listener's counters on `/metrics`.
    pub fn with_loki(mut self, stats: std::sync::Arc<loki::LokiStats>) -> Self {
        self.loki = Some(stats);
        self
    }

    /// The Loki push listener's counters, when it is on.
    pub fn loki(&self) -> Option<&loki::LokiStats> {
        self.loki.as_deref()
    }

    /// Events dropped since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the JSON-lines listener is on.
    pub fn json(&self) -> bool {
        self.json
    }

    /// The listener ids a realm may name in `eventsListeners` on this server (Keycloak's
    /// listener provider factories that are not global): `jboss-logging`, and `loki` when
    /// the Loki push listener is configured.
    pub fn realm_listeners(&self) -> Vec<&'static str> {
        let mut ids = REALM_LISTENERS.to_vec();
        if self.loki.is_some() {
            ids.push(loki::LOKI_LISTENER);
        }
        ids
    }

    /// The server-wide listeners on this server, which a realm may not name (Keycloak's
    /// "global" listeners): the JSON-lines output when configured.
    pub fn global_listeners(&self) -> Vec<&'static str> {
        if self.json {
            vec![listeners::JSON_LISTENER]
        } else {
            Vec::new()
        }
    }

    /// Whether the events of a realm with `settings` go to the Loki push listener: it is
    /// configured and the realm names it.
    pub fn to_loki(&self, settings: &EventSettings) -> bool {
        self.loki.is_some() && settings.listens(loki::LOKI_LISTENER)
    }
}

fn cut(mut v: String) -> String {
    if v.chars().count() > MAX_DETAIL_CHARS {
        v = v.chars().take(MAX_DETAIL_CHARS).collect();
    }
    v
}

/// A login event being put together by a flow (Keycloak's `EventBuilder`).
#[derive(Debug, Clone)]
pub struct UserEvent {
    kind: &'static str,
    realm_id: String,
    realm_name: String,
    settings_store_ok: bool,
    settings_store_err: bool,
    jboss: bool,
    loki: bool,
    client_id: Option<String>,
    user_id: Option<String>,
    session_id: Option<String>,
    ip_address: Option<String>,
    details: Vec<(String, String)>,
}

impl UserEvent {
    /// An event of type `kind` (without `_ERROR`) in `snap`'s realm, from the caller's address.
    pub fn new(snap: &RealmSnapshot, kind: &'static str) -> Self {
        let s = &snap.settings.events;
        UserEvent {
            kind,
            realm_id: snap.id.clone(),
            realm_name: snap.name.clone(),
            settings_store_ok: stores(s, kind),
            settings_store_err: stores(s, &format!("{kind}_ERROR")),
            jboss: s.jboss_logging(),
            loki: s.listens(loki::LOKI_LISTENER),
            client_id: None,
            user_id: None,
            session_id: None,
            ip_address: context::remote_ip().map(|ip| ip.to_string()),
            details: Vec::new(),
        }
    }

    /// The type (without `_ERROR`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Changes the type (a grant learns which event it is).
    pub fn set_kind(&mut self, snap: &RealmSnapshot, kind: &'static str) {
        let s = &snap.settings.events;
        self.kind = kind;
        self.settings_store_ok = stores(s, kind);
        self.settings_store_err = stores(s, &format!("{kind}_ERROR"));
    }

    /// The client (`clientId`).
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.set_client(client_id);
        self
    }

    /// The user.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.set_user(user_id);
        self
    }

    /// The SSO session.
    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.set_session(session_id);
        self
    }

    /// A detail (a later value for the same key replaces the earlier one).
    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set_detail(key, value);
        self
    }

    /// [`UserEvent::client`] in place.
    pub fn set_client(&mut self, client_id: impl Into<String>) {
        self.client_id = Some(cut(client_id.into()));
    }

    /// [`UserEvent::user`] in place.
    pub fn set_user(&mut self, user_id: impl Into<String>) {
        self.user_id = Some(user_id.into());
    }

    /// [`UserEvent::session`] in place.
    pub fn set_session(&mut self, session_id: impl Into<String>) {
        self.session_id = Some(session_id.into());
    }

    /// [`UserEvent::detail`] in place.
    pub fn set_detail(&mut self, key: &str, value: impl Into<String>) {
        let value = cut(value.into());
        match self.details.iter_mut().find(|(k, _)| k == key) {
            Some(d) => d.1 = value,
            None => self.details.push((key.to_string(), value)),
        }
    }

    /// Drops a detail (`EventBuilder.removeDetail`).
    pub fn remove_detail(&mut self, key: &str) {
        self.details.retain(|(k, _)| k != key);
    }

    /// Whether a detail is set.
    pub fn has_detail(&self, key: &str) -> bool {
        self.details.iter().any(|(k, _)| k == key)
    }

    fn finish(self, error: Option<&str>) -> Envelope {
        let kind = match error {
            Some(_) => format!("{}_ERROR", self.kind),
            None => self.kind.to_string(),
        };
        let store = if error.is_some() {
            self.settings_store_err
        } else {
            self.settings_store_ok
        };
        Envelope::User {
            event: Event {
                // Time-ordered (v7), so stored events append to the id index instead of
                // landing at random places in it as the table grows.
                id: uuid::Uuid::now_v7().to_string(),
                time: crate::clock::now_millis(),
                kind,
                realm_id: self.realm_id,
                realm_name: self.realm_name,
                client_id: self.client_id,
                user_id: self.user_id,
                session_id: self.session_id,
                ip_address: self.ip_address,
                error: error.map(String::from),
                details: self.details,
            },
            store,
            jboss: self.jboss,
        }
    }

    fn wanted(&self, state: &AppState, error: bool) -> bool {
        (self.jboss && state.events.logs(error))
            || state.events.json()
            || (self.loki && state.events.loki().is_some())
            || (state.events.audit() && audit::audited_base(self.kind, error))
            || if error {
                self.settings_store_err
            } else {
                self.settings_store_ok
            }
    }

    fn count(&self, state: &AppState, error: Option<&str>) {
        if let Some(c) = state.events.counters() {
            c.user(counters::UserFacts {
                kind: self.kind,
                error,
                realm: &self.realm_name,
                client_id: self.client_id.as_deref(),
                details: &self.details,
            });
        }
    }

    /// Reports success.
    pub fn success(self, state: &AppState) {
        self.count(state, None);
        if self.wanted(state, false) {
            state.events.submit(self.finish(None));
        }
    }

    /// Reports failure with Keycloak's `error` value (the type gets `_ERROR`).
    pub fn error(self, state: &AppState, error: &str) {
        self.count(state, Some(error));
        if self.wanted(state, true) {
            state.events.submit(self.finish(Some(error)));
        }
    }
}

/// Removes every realm's login events older than its `eventsExpiration` and admin events
/// older than its `adminEventsExpiration` attribute (run by the session sweep; Keycloak's
/// `ClearExpiredEvents` task, which calls `clearExpiredEvents` on both event stores). An event
/// exactly as old as the expiration is kept (`time < now - expiration`, as Keycloak's query).
pub async fn sweep(store: &dyn crate::store::Store, realms: &crate::realm::snapshot::RealmCache) {
    let now = crate::clock::now_millis();
    for name in realms.names() {
        let snap = match realms.facts(store, &name).await {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(realm = %name, error = %e, "event sweep failed");
                continue;
            }
        };
        let settings = &snap.settings.events;
        if let Some(before) = cutoff(now, settings.expiration) {
            match store.expire_events(&snap.id, before).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(realm = %name, removed = n, "expired events removed"),
                Err(e) => tracing::warn!(realm = %name, error = %e, "event sweep failed"),
            }
        }
        if let Some(before) = cutoff(now, settings.admin_expiration) {
            match store.expire_admin_events(&snap.id, before).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::debug!(realm = %name, removed = n, "expired admin events removed")
                }
                Err(e) => tracing::warn!(realm = %name, error = %e, "admin event sweep failed"),
            }
        }
    }
}

/// The time (ms) before which events expire, for an expiration in seconds (none when 0).
fn cutoff(now_ms: i64, expiration_s: i64) -> Option<i64> {
    (expiration_s > 0).then(|| now_ms.saturating_sub(expiration_s.saturating_mul(1000)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::representation::RealmRepresentation;
    use serde_json::{json, Value};

    fn rep(v: Value) -> RealmRepresentation {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn settings_read_keycloaks_fields_and_defaults() {
        let s = EventSettings::of(&rep(json!({"realm": "r"})));
        assert!(!s.enabled && !s.admin_enabled);
        assert_eq!(s.listeners, vec!["jboss-logging"]);
        assert!(!stores(&s, "LOGIN"), "not stored while events are off");
        let s = EventSettings::of(&rep(json!({"realm": "r", "eventsEnabled": true})));
        assert!(stores(&s, "LOGIN") && stores(&s, "LOGIN_ERROR"));
        assert!(!stores(&s, "REFRESH_TOKEN"), "not saved by default");
        let s = EventSettings::of(&rep(json!({"realm": "r", "eventsEnabled": true,
            "enabledEventTypes": ["REFRESH_TOKEN"], "eventsListeners": [], "eventsExpiration": 60})));
        assert!(stores(&s, "REFRESH_TOKEN") && !stores(&s, "LOGIN"));
        assert!(!s.jboss_logging());
        assert_eq!(s.expiration, 60);
        assert_eq!(s.admin_expiration, 0);
        for (v, want) in [
            (json!("3600"), 3600),
            (json!(" 90 "), 90),
            (json!(90), 90),
            (json!("-5"), 0),
            (json!("soon"), 0),
        ] {
            let s = EventSettings::of(&rep(
                json!({"realm": "r", "attributes": {"adminEventsExpiration": v}}),
            ));
            assert_eq!(s.admin_expiration, want, "{v}");
        }
        assert_eq!(cutoff(100_000, 0), None);
        assert_eq!(cutoff(100_000, 60), Some(40_000));
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (events, mut rx) = Events::new(1, false);
        let e = |kind: &str| Envelope::Admin {
            event: AdminEvent {
                id: kind.into(),
                time: 0,
                realm_id: "r".into(),
                realm_name: "r".into(),
                operation_type: kind.into(),
                resource_type: "REALM".into(),
                resource_path: None,
                auth_realm_id: None,
                auth_client_id: None,
                auth_user_id: None,
                ip_address: None,
                representation: None,
            },
            store: true,
            jboss: false,
            audit_only: false,
        };
        events.submit(e("CREATE"));
        events.submit(e("UPDATE"));
        events.submit(e("DELETE"));
        assert_eq!(events.dropped(), 2);
        match rx.try_recv() {
            Ok(Envelope::Admin { event, .. }) => assert_eq!(event.operation_type, "CREATE"),
            other => panic!("{other:?}"),
        }
        events.submit(e("ACTION"));
        assert_eq!(events.dropped(), 2, "room again once the writer took one");
    }

    #[tokio::test]
    async fn the_sweep_removes_events_past_the_realms_expiration() {
        use crate::realm::client_keys::{ClientKeyCache, KeyCacheSettings};
        use crate::realm::snapshot::RealmCache;
        use crate::store::{EventPage, EventQuery, EventRow, EventStore, SqliteStore, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        crate::realm::bootstrap(&store, None).await.unwrap();
        let realms = RealmCache::new(
            ClientKeyCache::new(KeyCacheSettings::default()),
            crate::policy::blacklist::Blacklists::new(dir.path().into()),
            16,
        );
        realms.load_all(&store).await.unwrap();
        let now = crate::clock::now_millis();
        let row = |id: &str, age_ms: i64, realm_id: &str| EventRow {
            id: id.into(),
            realm_id: realm_id.into(),
            time: now - age_ms,
            kind: "LOGIN".into(),
            client_id: None,
            user_id: None,
            session_id: None,
            ip_address: None,
            error: None,
            details: Some(r#"{"username":"a"}"#.into()),
        };
        let id = realms
            .get(&store, "master")
            .await
            .unwrap()
            .unwrap()
            .id
            .clone();
        store
            .insert_events(&[row("old", 120_000, &id), row("fresh", 1_000, &id)])
            .await
            .unwrap();
        let all = EventQuery {
            page: EventPage {
                max: None,
                ..EventPage::default()
            },
            ..EventQuery::default()
        };
        // No expiration: the sweep keeps everything.
        sweep(&store, &realms).await;
        assert_eq!(store.events(&id, &all).await.unwrap().len(), 2);
        crate::realm::edit::edit::<_, crate::realm::edit::EditError>(
            &store,
            &realms,
            "master",
            |rep, _| {
                rep.extra.insert("eventsExpiration".into(), json!(60));
                Ok(())
            },
        )
        .await
        .unwrap();
        sweep(&store, &realms).await;
        let left = store.events(&id, &all).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, "fresh");
        assert_eq!(left[0].details.as_deref(), Some(r#"{"username":"a"}"#));
        // A batch naming a realm that is gone fails as a whole; alone, the good row is kept.
        let bad = [row("x", 0, "no-such-realm"), row("y", 0, &id)];
        assert!(store.insert_events(&bad).await.is_err());
        assert!(writer::store_rows(&store, &bad).await.is_err());
        assert_eq!(store.events(&id, &all).await.unwrap().len(), 2);
        let _ = store.backend();
    }

    #[test]
    fn long_values_are_cut() {
        let v = cut("é".repeat(MAX_DETAIL_CHARS + 10));
        assert_eq!(v.chars().count(), MAX_DETAIL_CHARS);
    }
}
