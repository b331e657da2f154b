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
    /// Pending logins and codes, held in memory (see `LoginMemory`).
    pub(crate) logins: super::flows::LoginMemory,
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
            logins: Default::default(),
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

impl SqliteStore {
    /// Drops what a deleted realm had in progress.
    fn forget_realm_logins(&self, realm_id: &str) {
        self.logins.forget_realm(realm_id);
    }
}

/// Pending logins and codes in memory (see `LoginMemory`): of a browser login's writes only
/// the SSO session and its client's part reach the file.
#[async_trait::async_trait]
impl super::FlowStore for SqliteStore {
    async fn put_auth_session(
        &self,
        id: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = crate::clock::now();
        self.logins
            .put_login(id, realm_id, data, expires_at, false, now)
    }

    async fn replace_auth_session(
        &self,
        id: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = crate::clock::now();
        self.logins
            .put_login(id, realm_id, data, expires_at, true, now)
    }

    async fn auth_session(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<super::PendingLoginRow>, StoreError> {
        Ok(self.logins.login(id, now))
    }

    async fn delete_auth_session(&self, id: &str) -> Result<(), StoreError> {
        self.logins.delete_login(id);
        Ok(())
    }

    async fn put_code(
        &self,
        code_hash: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let code = super::NewCode {
            code_hash: code_hash.to_string(),
            realm_id: realm_id.to_string(),
            data: data.to_string(),
            expires_at,
        };
        self.logins.put_code(&code, crate::clock::now())
    }

    async fn use_code(&self, code_hash: &str) -> Result<Option<super::CodeUse>, StoreError> {
        Ok(self.logins.use_code(code_hash))
    }

    async fn code(&self, code_hash: &str) -> Result<Option<super::CodeRow>, StoreError> {
        Ok(self.logins.code(code_hash))
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        refresh: Option<&super::RefreshStart>,
    ) -> Result<bool, StoreError> {
        // The code is marked used in memory first: of concurrent redemptions one is first, and
        // only the first makes its refresh token current. Should that write fail, the code
        // stays used (as Keycloak removes a code before it issues the tokens).
        let first = self.logins.use_code(code_hash).is_some_and(|u| u.first_use);
        if let (true, Some(r)) = (first, refresh) {
            self.write(super::sql::Queued::SetRefreshToken {
                session_id: r.session_id.clone(),
                client_id: r.client_id.clone(),
                new_id: r.refresh_token_id.clone(),
                now: r.now,
            })
            .await?;
        }
        Ok(first)
    }

    async fn finish_login(&self, end: &super::LoginEnd) -> Result<(), StoreError> {
        // The code is taken first (a taken hash fails the login alone); the session is then
        // written, and should that fail the code goes again: either the whole end holds, or
        // the pending login is still there and nothing else is.
        if let Some(code) = &end.code {
            self.logins.put_code(code, crate::clock::now())?;
        }
        if let Some((session, client_id)) = &end.session {
            let write = super::sql::Queued::FinishLogin(Box::new(super::LoginEnd {
                auth_session: None,
                session: end.session.clone(),
                code: None,
            }));
            if let Err(e) = self.write(write).await {
                if let Some(code) = &end.code {
                    self.logins.drop_code(&code.code_hash);
                }
                return Err(e);
            }
            // This login's session alone (a random id nobody knows yet): cached for the code
            // exchange and the checks that follow, no other cache dropped.
            let generation = self.session_generation();
            self.cache_session(&session.id, generation, Some(session.clone()));
            let generation = self.client_start_generation();
            self.cache_client_start(&session.id, client_id, generation, session.created_at);
        }
        if let Some(id) = &end.auth_session {
            self.logins.delete_login(id);
        }
        Ok(())
    }
}

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
