//! Embedded store: one SQLite file in WAL mode.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::sql::ReadCache as _;
use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
///
/// The embedded store has exactly one server process writing to it, so user look-ups (read on
/// every token request) and sessions (read on every refresh) are cached in memory and the
/// caches are invalidated after every write to users or sessions: a cached read can never be
/// staler than the store. (PostgreSQL, shared by several nodes, is read every time.) Offline
/// `import` must not run against the file of a running server, as with Keycloak's `kc.sh
/// import`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) caches: super::sql::NodeCaches,
    pub(crate) sweeps: super::sql::Sweeps,
    pub(crate) gate: super::sql::WriteGate,
    pub(crate) queue: super::sql::WriteQueue,
    /// Recent session uses (see `RecentTouches`).
    pub(crate) touches: super::sql::RecentTouches,
    /// Seals the secret fields of realm and user documents on write, opens them on read.
    pub(crate) sealer: std::sync::Arc<crate::crypto::seal::Sealer>,
}

/// A read cache that writes can always invalidate. Each entry carries the generation that was
/// current when its read began; an invalidation (after the write has committed) bumps the
/// generation, so a read that raced a write is never served, even if it is stored after the
/// invalidation.
// The caches are always on: one process owns the file.
impl super::sql::ReadCache for SqliteStore {
    fn caches(&self) -> &super::sql::NodeCaches {
        &self.caches
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across application crashes; FULL also survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A connection that was open when a write failed for a full disk may still hold
            // that write's transaction (see `outage::predates_disk_full`): a new one replaces it.
            .before_acquire(|_, meta| {
                Box::pin(async move { Ok(!super::outage::predates_disk_full(meta.age)) })
            })
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        let gate = super::sql::WriteGate::single_writer();
        let queue = Self::spawn_writer(pool.clone(), gate.clone());
        Ok(SqliteStore {
            pool,
            caches: super::sql::NodeCaches::on(),
            sweeps: Default::default(),
            gate,
            queue,
            touches: Default::default(),
            sealer: Default::default(),
        })
    }
}

impl SqliteStore {
    /// Seals secrets on write (and opens them on read) with `sealer`'s keys.
    pub fn with_sealer(mut self, sealer: std::sync::Arc<crate::crypto::seal::Sealer>) -> Self {
        self.sealer = sealer;
        self
    }
}

pub(super) fn migration_names() -> Vec<String> {
    MIGRATOR
        .iter()
        .map(|m| format!("{}_{}", m.version, m.description))
        .collect()
}

super::sql::impl_store!(SqliteStore, sqlx::Sqlite, "sqlite");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[tokio::test]
    async fn the_sqlite_store_lets_one_writer_through_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        let first = store.gate.enter().await.unwrap();
        assert!(
            first.is_some(),
            "SQLite writes go through the single-writer gate"
        );
        let second = store.gate.enter();
        tokio::pin!(second);
        // A zero timeout polls once: it elapses only if the second writer has to wait.
        let polled = tokio::time::timeout(std::time::Duration::ZERO, second.as_mut()).await;
        assert!(polled.is_err(), "a second writer waits for the first");
        drop(first);
        assert!(second.await.unwrap().is_some());
    }
}
