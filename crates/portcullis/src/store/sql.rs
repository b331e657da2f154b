//! The SQL both backends share. The statements are portable (`$n` placeholders work in both
//! SQLite and PostgreSQL); the macro stamps one `Store` implementation per database type so
//! the two stay identical without a runtime `if sqlite` anywhere.

/// Users are inserted in chunks below SQLite's bound-parameter limit.
pub(crate) const USER_CHUNK: usize = 1000;

/// Seconds between two sweeps of one table's expired rows, per process.
pub(crate) const SWEEP_INTERVAL: i64 = 30;

/// Expired sessions removed by one statement of a sweep.
pub(crate) const SWEEP_BATCH: usize = 500;

/// The tables of short-lived rows, swept by `expires_at`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swept {
    AuthSession,
    AuthCode,
    RevokedToken,
    DeviceCode,
}

impl Swept {
    /// The sweep's statement, and how long past `expires_at` a row is kept (codes an hour, to
    /// recognise a replay; revoked tokens a minute beyond the token's own expiry).
    pub(crate) fn statement(self) -> (&'static str, i64) {
        match self {
            Swept::AuthSession => ("DELETE FROM auth_session WHERE expires_at < $1", 0),
            Swept::AuthCode => ("DELETE FROM auth_code WHERE expires_at < $1", 3600),
            Swept::RevokedToken => ("DELETE FROM revoked_token WHERE expires_at < $1", 60),
            Swept::DeviceCode => ("DELETE FROM device_code WHERE expires_at < $1", 3600),
        }
    }
}

/// When each table of short-lived rows was last swept. A sweep ran on every insert: a
/// statement (and a write, on SQLite a write lock) more per login step. Now each table is swept
/// at most every [`SWEEP_INTERVAL`] seconds per process. Nothing depends on expired rows being
/// gone: every read checks `expires_at` (or the row's own expiry, as an assertion's `exp`), and a
/// row kept a little longer only keeps a replay detectable longer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sweeps(std::sync::Arc<[std::sync::atomic::AtomicI64; 4]>);

impl Sweeps {
    /// Whether `table` is due for a sweep at `now`; if so, the next one is due an interval
    /// later (one caller among concurrent ones wins).
    pub(crate) fn due(&self, table: Swept, now: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let next = &self.0[table as usize];
        let at = next.load(Relaxed);
        now >= at
            && next
                .compare_exchange(at, now + SWEEP_INTERVAL, Relaxed, Relaxed)
                .is_ok()
    }
}

/// How long a write waits for its turn at the [`WriteGate`].
pub(crate) const GATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serializes this process's writes where the database has a single writer. SQLite lets one
/// connection write at a time; the others got `SQLITE_BUSY` and waited in its busy handler,
/// which sleeps (1, 2, 5, ... 100 ms) and retries: under concurrent logins that put hundreds
/// of milliseconds on the slowest requests and left the core idle. Queued here instead, writers
/// take turns in arrival order and nobody sleeps. Reads never wait (WAL). PostgreSQL's writers
/// run concurrently, so its gate is open.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteGate(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

impl WriteGate {
    /// A gate that lets one writer through at a time.
    pub(crate) fn single_writer() -> Self {
        WriteGate(Some(std::sync::Arc::default()))
    }
    /// Waits for this caller's turn (at once if the gate is open); the turn lasts as long as the
    /// guard. After [`GATE_TIMEOUT`] the write fails, as SQLite's own `busy_timeout` did.
    pub(crate) async fn enter(
        &self,
    ) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, crate::store::StoreError> {
        match &self.0 {
            Some(m) => tokio::time::timeout(GATE_TIMEOUT, m.lock())
                .await
                .map(Some)
                .map_err(|_| crate::store::StoreError::Busy),
            None => Ok(None),
        }
    }
}

/// The read caches a store may keep of users and sessions, invalidated by every write to them.
/// The defaults cache nothing (PostgreSQL: several nodes share the database, so every read goes
/// to it); the embedded SQLite store overrides them (see `sqlite.rs`).
pub(crate) trait ReadCache {
    /// The generation to cache a user read under: read before reading the store.
    fn user_generation(&self) -> u64 {
        0
    }
    /// A cached user look-up (`Some(None)`: cached as absent).
    fn cached_user(&self, _key: (String, String)) -> Option<Option<crate::store::UserRow>> {
        None
    }
    /// Caches a user look-up made under `generation`.
    fn cache_user(
        &self,
        _key: (String, String),
        _generation: u64,
        _row: Option<crate::store::UserRow>,
    ) {
    }
    /// Drops every cached user (after a write to users).
    fn invalidate_users(&self) {}
    /// The generation to cache a session read under.
    fn session_generation(&self) -> u64 {
        0
    }
    /// A cached session read.
    fn cached_session(&self, _id: &str) -> Option<Option<crate::store::SessionRow>> {
        None
    }
    /// Caches a session read made under `generation`.
    fn cache_session(&self, _id: &str, _generation: u64, _row: Option<crate::store::SessionRow>) {}
    /// Drops every cached session (after a write to sessions).
    fn invalidate_sessions(&self) {}
}

/// Reads a [`crate::store::DeviceCodeRow`], columns in [`DeviceCodeTuple`] order.
pub(crate) const DEVICE_CODE_SELECT: &str = "SELECT device_code_hash, realm_id, client_id, user_code, data, expires_at, poll_interval, status, session_id, user_id FROM device_code";

/// A `device_code` row as read.
pub(crate) type DeviceCodeTuple = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
);

/// Builds the row type from a read tuple.
pub(crate) fn device_code_row(t: DeviceCodeTuple) -> crate::store::DeviceCodeRow {
    let (
        device_code_hash,
        realm_id,
        client_id,
        user_code,
        data,
        expires_at,
        poll_interval,
        status,
        session_id,
        user_id,
    ) = t;
    crate::store::DeviceCodeRow {
        device_code_hash,
        realm_id,
        client_id,
        user_code,
        data,
        expires_at,
        poll_interval,
        status,
        session_id,
        user_id,
    }
}

/// A `user_session` row as read: id, realm, user, offline, created, last refresh, notes.
pub(crate) type SessionTuple = (String, String, String, i64, i64, i64, String);

/// A session from its row.
pub(crate) fn session_row(t: SessionTuple) -> crate::store::SessionRow {
    let (id, realm_id, user_id, offline, created_at, last_refresh, data) = t;
    crate::store::SessionRow {
        id,
        realm_id,
        user_id,
        offline: offline != 0,
        created_at,
        last_refresh,
        data,
    }
}

/// An ended session from its row and its clients (sorted here).
pub(crate) fn ended(t: SessionTuple, mut clients: Vec<String>) -> crate::store::EndedSession {
    clients.sort();
    clients.dedup();
    crate::store::EndedSession {
        session: session_row(t),
        clients,
    }
}

macro_rules! impl_store {
    ($store:ident, $db:ty, $backend:literal) => {
        impl $store {
            /// Sweeps `table`'s expired rows if it is due (see [`Sweeps`]); the caller holds the
            /// write gate.
            async fn sweep_expired(
                &self,
                table: $crate::store::sql::Swept,
            ) -> Result<(), $crate::store::StoreError> {
                let now = $crate::clock::now();
                if self.sweeps.due(table, now) {
                    let (sql, kept) = table.statement();
                    sqlx::query(sql)
                        .bind(now - kept)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }

        $crate::store::realms::impl_realms!($store, $db);
        $crate::store::users::impl_users!($store, $db);
        $crate::store::sessions::impl_sessions!($store, $db);
        $crate::store::flows::impl_flows!($store, $db);
        $crate::store::tokens::impl_tokens!($store, $db);
        $crate::store::registration::impl_registration!($store, $db);
        $crate::store::devices::impl_devices!($store, $db);
    };
}

pub(crate) use impl_store;

#[cfg(test)]
mod tests {
    use super::{Sweeps, Swept, WriteGate, SWEEP_INTERVAL};

    #[test]
    fn a_table_is_swept_once_per_interval() {
        let s = Sweeps::default();
        assert!(s.due(Swept::AuthCode, 1_000));
        assert!(!s.due(Swept::AuthCode, 1_000));
        assert!(!s.due(Swept::AuthCode, 1_000 + SWEEP_INTERVAL - 1));
        // Each table keeps its own time.
        assert!(s.due(Swept::AuthSession, 1_000));
        assert!(s.due(Swept::AuthCode, 1_000 + SWEEP_INTERVAL));
    }

    #[tokio::test]
    async fn the_single_writer_gate_lets_one_writer_through() {
        let gate = WriteGate::single_writer();
        let first = gate.enter().await.ok().flatten();
        assert!(first.is_some());
        // While the first writer holds its turn, the next waits.
        let waiting = gate.enter();
        tokio::pin!(waiting);
        // A zero timeout polls once: it elapses only if the writer has to wait.
        let polled = tokio::time::timeout(std::time::Duration::ZERO, waiting.as_mut()).await;
        assert!(polled.is_err());
        drop(first);
        assert!(waiting.await.ok().flatten().is_some());
        // An open gate (PostgreSQL) never waits.
        let open = WriteGate::default();
        let (a, b) = (open.enter().await, open.enter().await);
        assert!(matches!((a, b), (Ok(None), Ok(None))));
    }
}
