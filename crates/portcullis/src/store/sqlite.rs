//! Embedded store: one SQLite file in WAL mode.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
///
/// The embedded store has exactly one server process writing to it, so user look-ups (read on
/// every token request) are cached in memory and the cache is invalidated on every write to
/// users: a cached read can never be staler than the store. (PostgreSQL, shared by several
/// nodes, is read every time.) Offline `import` must not run against the file of a running
/// server, as with Keycloak's `kc.sh import`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) users: moka::sync::Cache<(String, String), Option<super::UserRow>>,
}

impl SqliteStore {
    pub(crate) fn cached_user(&self, key: (String, String)) -> Option<Option<super::UserRow>> {
        self.users.get(&key)
    }
    pub(crate) fn cache_user(&self, key: (String, String), row: Option<super::UserRow>) {
        self.users.insert(key, row);
    }
    pub(crate) fn invalidate_users(&self) {
        self.users.invalidate_all();
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!("cannot create directory {}: {e}", dir.display()))
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
        Ok(SqliteStore {
            pool,
            users: moka::sync::Cache::new(10_000),
        })
    }
}

pub(super) fn migration_names() -> Vec<String> {
    MIGRATOR
        .iter()
        .map(|m| format!("{}_{}", m.version, m.description))
        .collect()
}

super::sql::impl_store!(SqliteStore, sqlx::Sqlite, "sqlite");
