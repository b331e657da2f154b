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
    pub(crate) users: GenCache<(String, String), Option<super::UserRow>>,
    pub(crate) sessions: GenCache<String, Option<super::SessionRow>>,
    /// When a client's part in a session started, by (session, client); only parts that exist.
    pub(crate) client_starts: GenCache<(String, String), i64>,
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
#[derive(Clone)]
pub(crate) struct GenCache<K, V> {
    entries: moka::sync::Cache<K, (u64, V)>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<K, V> std::fmt::Debug for GenCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenCache")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl<K, V> GenCache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(capacity: u64) -> Self {
        GenCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(super::sql::SESSION_CACHE_TTL)
                .build(),
            generation: std::sync::Arc::default(),
        }
    }
    /// The generation to pass to [`GenCache::insert`]: read it before reading the store.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let (generation, value) = self.entries.get(key)?;
        (generation == self.generation()).then_some(value)
    }
    pub(crate) fn insert(&self, key: K, generation: u64, value: V) {
        if generation == self.generation() {
            self.entries.insert(key, (generation, value));
        }
    }
    pub(crate) fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

impl super::sql::ReadCache for SqliteStore {
    fn user_generation(&self) -> u64 {
        self.users.generation()
    }
    fn cached_user(&self, key: (String, String)) -> Option<Option<super::UserRow>> {
        self.users.get(&key)
    }
    fn cache_user(&self, key: (String, String), generation: u64, row: Option<super::UserRow>) {
        self.users.insert(key, generation, row);
    }
    fn invalidate_users(&self) {
        self.users.invalidate();
    }
    fn session_generation(&self) -> u64 {
        self.sessions.generation()
    }
    fn cached_session(&self, id: &str) -> Option<Option<super::SessionRow>> {
        self.sessions.get(&id.to_string())
    }
    fn cache_session(&self, id: &str, generation: u64, row: Option<super::SessionRow>) {
        self.sessions.insert(id.to_string(), generation, row);
    }
    fn client_start_generation(&self) -> u64 {
        self.client_starts.generation()
    }
    fn cached_client_start(&self, session_id: &str, client_id: &str) -> Option<i64> {
        self.client_starts
            .get(&(session_id.to_string(), client_id.to_string()))
    }
    fn cache_client_start(&self, session_id: &str, client_id: &str, generation: u64, started: i64) {
        self.client_starts.insert(
            (session_id.to_string(), client_id.to_string()),
            generation,
            started,
        );
    }
    fn invalidate_sessions(&self) {
        self.sessions.invalidate();
        self.client_starts.invalidate();
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
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        let gate = super::sql::WriteGate::single_writer();
        let queue = Self::spawn_writer(pool.clone(), gate.clone());
        Ok(SqliteStore {
            pool,
            users: GenCache::new(10_000),
            sessions: GenCache::new(10_000),
            client_starts: GenCache::new(10_000),
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
    use super::GenCache;

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

    #[test]
    fn a_read_that_raced_a_write_is_never_served() {
        let c = GenCache::<String, u32>::new(10);
        let key = "s".to_string();
        // A read begins, a write commits and invalidates, then the read stores what it saw.
        let read_began = c.generation();
        c.invalidate();
        c.insert(key.clone(), read_began, 1);
        assert_eq!(c.get(&key), None, "the stale value is not served");
        // A read after the write is cached, until the next write.
        let g = c.generation();
        c.insert(key.clone(), g, 2);
        assert_eq!(c.get(&key), Some(2));
        c.invalidate();
        assert_eq!(c.get(&key), None);
    }
}
