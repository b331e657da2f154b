//! Token state shared by all nodes: revoked access tokens and one-time values (client
//! assertion `jti`s).

use async_trait::async_trait;

use super::StoreError;

/// Token state shared by all nodes: revoked access tokens and one-time values (client.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Revokes an access token until `expires_at`.
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Whether an access token was revoked.
    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError>;
    /// Records a one-time value (a client assertion's `jti`) until `expires_at`; false when it
    /// was already recorded (a replay). Atomic across nodes.
    async fn use_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError>;
}

/// Stamps [`TokenStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_tokens {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::TokenStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn revoke_token(
                &self,
                jti: &str,
                expires_at: i64,
            ) -> Result<(), $crate::store::StoreError> {
                // The same row as a one-time value: a revoked `jti` is recorded until it expires.
                self.write($crate::store::sql::Queued::UseOnce {
                    key: jti.to_string(),
                    expires_at,
                })
                .await?;
                self.sweep_if_due($crate::store::sql::Swept::RevokedToken)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn is_revoked(&self, jti: &str) -> Result<bool, $crate::store::StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT jti FROM revoked_token WHERE jti = $1")
                        .bind(jti)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.is_some())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn use_once(
                &self,
                key: &str,
                expires_at: i64,
            ) -> Result<bool, $crate::store::StoreError> {
                self.sweep_if_due($crate::store::sql::Swept::RevokedToken)
                    .await?;
                let done = self
                    .write($crate::store::sql::Queued::UseOnce {
                        key: key.to_string(),
                        expires_at,
                    })
                    .await?;
                Ok(done == 1)
            }
        }
    };
}

pub(crate) use impl_tokens;
