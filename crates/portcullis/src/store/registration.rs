//! Client registration's initial access tokens (stored by hash).

use async_trait::async_trait;

use super::StoreError;

/// An initial access token found by the hash of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessMatch {
    /// The realm it belongs to.
    pub realm_id: String,
    /// The token.
    pub token: InitialAccessRow,
}

/// An initial access token for client registration (its value is stored only as a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessRow {
    /// Id.
    pub id: String,
    /// Created, seconds since the epoch.
    pub created_at: i64,
    /// Lifetime in seconds; 0 never expires.
    pub expiration: i64,
    /// Uses granted.
    pub count: i64,
    /// Uses left.
    pub remaining: i64,
}

/// Client registration's initial access tokens (stored by hash).
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Stores an initial access token (by hash).
    async fn put_initial_access(
        &self,
        realm_id: &str,
        row: &InitialAccessRow,
        token_hash: &str,
    ) -> Result<(), StoreError>;
    /// A realm's initial access tokens.
    async fn initial_access(&self, realm_id: &str) -> Result<Vec<InitialAccessRow>, StoreError>;
    /// Deletes an initial access token; false when there was none.
    async fn delete_initial_access(&self, realm_id: &str, id: &str) -> Result<bool, StoreError>;
    /// An initial access token by the hash of its value, with its realm id.
    async fn initial_access_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<InitialAccessMatch>, StoreError>;
    /// Uses an initial access token once, atomically: its realm id, or `None` when unknown,
    /// expired or used up.
    async fn use_initial_access(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError>;
}

/// Stamps [`RegistrationStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_registration {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::RegistrationStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn put_initial_access(&self, realm_id: &str, row: &$crate::store::InitialAccessRow, token_hash: &str) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO initial_access (id, realm_id, token_hash, created_at, expiration, count, remaining) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&row.id).bind(realm_id).bind(token_hash).bind(row.created_at).bind(row.expiration).bind(row.count).bind(row.remaining)
                    .execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn initial_access(&self, realm_id: &str) -> Result<Vec<$crate::store::InitialAccessRow>, $crate::store::StoreError> {
                let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as("SELECT id, created_at, expiration, count, remaining FROM initial_access WHERE realm_id = $1 ORDER BY created_at, id")
                    .bind(realm_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id, created_at, expiration, count, remaining)| $crate::store::InitialAccessRow { id, created_at, expiration, count, remaining }).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_initial_access(&self, realm_id: &str, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM initial_access WHERE realm_id = $1 AND id = $2").bind(realm_id).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn initial_access_by_hash(&self, token_hash: &str) -> Result<Option<$crate::store::InitialAccessMatch>, $crate::store::StoreError> {
                let row: Option<(String, String, i64, i64, i64, i64)> = sqlx::query_as("SELECT realm_id, id, created_at, expiration, count, remaining FROM initial_access WHERE token_hash = $1")
                    .bind(token_hash).fetch_optional(&self.pool).await?;
                Ok(row.map(|(realm_id, id, created_at, expiration, count, remaining)| $crate::store::InitialAccessMatch { realm_id, token: $crate::store::InitialAccessRow { id, created_at, expiration, count, remaining } }))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn use_initial_access(&self, token_hash: &str, now: i64) -> Result<Option<String>, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let row: Option<(String,)> = sqlx::query_as(
                    "UPDATE initial_access SET remaining = remaining - 1 WHERE token_hash = $1 AND remaining > 0 AND (expiration = 0 OR created_at + expiration > $2) RETURNING realm_id",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(r,)| r))
            }
        }
    };
}

pub(crate) use impl_registration;
