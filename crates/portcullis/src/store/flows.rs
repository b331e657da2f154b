//! Short-lived login state: pending browser logins and authorization codes.

use async_trait::async_trait;

use super::StoreError;

/// A pending browser login as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLoginRow {
    /// Realm id.
    pub realm_id: String,
    /// The login's state (JSON).
    pub data: String,
}

/// A redeemed authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeUse {
    /// Realm id.
    pub realm_id: String,
    /// What the code stands for (JSON).
    pub data: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
    /// False when the code was redeemed before (a replay).
    pub first_use: bool,
}

/// Short-lived login state: pending browser logins and authorization codes.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores a pending browser login.
    async fn put_auth_session(
        &self,
        id: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// A pending browser login, if not expired.
    async fn auth_session(&self, id: &str, now: i64)
        -> Result<Option<PendingLoginRow>, StoreError>;
    /// Removes a pending browser login.
    async fn delete_auth_session(&self, id: &str) -> Result<(), StoreError>;
    /// Stores an authorization code (by hash).
    async fn put_code(
        &self,
        code_hash: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Redeems a code atomically; a second redemption returns `first_use == false`.
    async fn use_code(&self, code_hash: &str) -> Result<Option<CodeUse>, StoreError>;
}

/// Stamps [`FlowStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_flows {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::FlowStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn put_auth_session(
                &self,
                id: &str,
                realm_id: &str,
                data: &str,
                expires_at: i64,
            ) -> Result<(), $crate::store::StoreError> {
                self.sweep_if_due($crate::store::sql::Swept::AuthSession)
                    .await?;
                self.write($crate::store::sql::Queued::PutAuthSession {
                    id: id.to_string(),
                    realm_id: realm_id.to_string(),
                    data: data.to_string(),
                    expires_at,
                })
                .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn auth_session(
                &self,
                id: &str,
                now: i64,
            ) -> Result<Option<$crate::store::PendingLoginRow>, $crate::store::StoreError> {
                let row: Option<(String, String)> = sqlx::query_as(
                    "SELECT realm_id, data FROM auth_session WHERE id = $1 AND expires_at >= $2",
                )
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(realm_id, data)| $crate::store::PendingLoginRow { realm_id, data }))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_auth_session(&self, id: &str) -> Result<(), $crate::store::StoreError> {
                self.write($crate::store::sql::Queued::DeleteAuthSession { id: id.to_string() })
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn put_code(
                &self,
                code_hash: &str,
                realm_id: &str,
                data: &str,
                expires_at: i64,
            ) -> Result<(), $crate::store::StoreError> {
                self.sweep_if_due($crate::store::sql::Swept::AuthCode)
                    .await?;
                self.write($crate::store::sql::Queued::PutCode {
                    code_hash: code_hash.to_string(),
                    realm_id: realm_id.to_string(),
                    data: data.to_string(),
                    expires_at,
                })
                .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn use_code(
                &self,
                code_hash: &str,
            ) -> Result<Option<$crate::store::CodeUse>, $crate::store::StoreError> {
                // The conditional UPDATE decides which of two concurrent redemptions is first.
                let first = self
                    .write($crate::store::sql::Queued::UseCode {
                        code_hash: code_hash.to_string(),
                    })
                    .await?
                    == 1;
                let row: Option<(String, String, i64)> = sqlx::query_as(
                    "SELECT realm_id, data, expires_at FROM auth_code WHERE code_hash = $1",
                )
                .bind(code_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(
                    row.map(|(realm_id, data, expires_at)| $crate::store::CodeUse {
                        realm_id,
                        data,
                        expires_at,
                        first_use: first,
                    }),
                )
            }
        }
    };
}

pub(crate) use impl_flows;
