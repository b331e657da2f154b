//! Short-lived login state: pending browser logins and authorization codes, and the end of a
//! browser login (the pending login gone, the SSO session started, the code stored) in one
//! transaction.

use async_trait::async_trait;

use super::{SessionRow, StoreError};

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

/// An authorization code as stored, read before it is redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    /// Realm id.
    pub realm_id: String,
    /// What the code stands for (JSON).
    pub data: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
    /// Redeemed already (a replay).
    pub used: bool,
}

/// An authorization code to store (by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// SHA-256 of the code, hex.
    pub code_hash: String,
    /// Realm id.
    pub realm_id: String,
    /// What the code stands for (JSON).
    pub data: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
}

/// The writes that end a browser login, committed together by [`FlowStore::finish_login`], as
/// Keycloak commits a request's session changes with the request: either all of them hold, or
/// none. Each part is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoginEnd {
    /// The pending login (auth session) that is over.
    pub auth_session: Option<String>,
    /// The SSO session the login starts, with the `clientId` whose part in it starts too
    /// (no refresh token current yet).
    pub session: Option<(SessionRow, String)>,
    /// The code that answers the client.
    pub code: Option<NewCode>,
}

impl LoginEnd {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.auth_session.is_none() && self.session.is_none() && self.code.is_none()
    }
}

/// The refresh token a redeemed code's tokens start: it becomes current in the client's part
/// of the session (created if the client had none), as [`super::SessionStore::set_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshStart {
    /// The session.
    pub session_id: String,
    /// The client (`clientId`).
    pub client_id: String,
    /// The refresh token's id.
    pub refresh_token_id: String,
    /// Now, seconds since the epoch.
    pub now: i64,
}

/// Short-lived login state: pending browser logins and authorization codes.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores a new pending browser login.
    async fn put_auth_session(
        &self,
        id: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Replaces the pending browser login stored under `id` (stores it if gone), in one
    /// write: a flow's next step keeps its code.
    async fn replace_auth_session(
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
    /// A stored code (used or not, expired or not), without redeeming it.
    async fn code(&self, code_hash: &str) -> Result<Option<CodeRow>, StoreError>;
    /// Redeems a code, and in the same transaction makes `refresh` current where given:
    /// `false` (and nothing written) when the code is unknown or was redeemed before. Of
    /// concurrent redemptions, on any nodes, one gets `true`.
    async fn redeem_code(
        &self,
        code_hash: &str,
        refresh: Option<&RefreshStart>,
    ) -> Result<bool, StoreError>;
    /// The end of a browser login, in one transaction: the pending login removed, the SSO
    /// session and its client's part created, the code stored (see [`LoginEnd`]).
    async fn finish_login(&self, end: &LoginEnd) -> Result<(), StoreError>;
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
                self.write($crate::store::sql::Queued::auth_session(
                    id, realm_id, data, expires_at, false,
                ))
                .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn replace_auth_session(
                &self,
                id: &str,
                realm_id: &str,
                data: &str,
                expires_at: i64,
            ) -> Result<(), $crate::store::StoreError> {
                self.write($crate::store::sql::Queued::auth_session(
                    id, realm_id, data, expires_at, true,
                ))
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

            #[tracing::instrument(level = "debug", skip_all)]
            async fn code(
                &self,
                code_hash: &str,
            ) -> Result<Option<$crate::store::CodeRow>, $crate::store::StoreError> {
                let row: Option<(String, String, i64, i64)> = sqlx::query_as(
                    "SELECT realm_id, data, expires_at, used FROM auth_code WHERE code_hash = $1",
                )
                .bind(code_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(
                    |(realm_id, data, expires_at, used)| $crate::store::CodeRow {
                        realm_id,
                        data,
                        expires_at,
                        used: used != 0,
                    },
                ))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn redeem_code(
                &self,
                code_hash: &str,
                refresh: Option<&$crate::store::RefreshStart>,
            ) -> Result<bool, $crate::store::StoreError> {
                // The conditional UPDATE decides which of two concurrent redemptions is first;
                // the refresh token is written only by the first, in its transaction.
                let first = self
                    .write($crate::store::sql::Queued::RedeemCode {
                        code_hash: code_hash.to_string(),
                        refresh: refresh.cloned(),
                    })
                    .await?
                    == 1;
                Ok(first)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn finish_login(
                &self,
                end: &$crate::store::LoginEnd,
            ) -> Result<(), $crate::store::StoreError> {
                if end.is_empty() {
                    return Ok(());
                }
                if end.code.is_some() {
                    self.sweep_if_due($crate::store::sql::Swept::AuthCode)
                        .await?;
                }
                self.write($crate::store::sql::Queued::FinishLogin(Box::new(
                    end.clone(),
                )))
                .await?;
                // The new session is this login's alone (its id is random and known to nobody
                // yet): no node can hold it, so no cache is dropped (a drop would cost every
                // other session's cached row on each login); this node caches it, and its
                // client's part, for the code exchange and the tokens' checks that follow.
                if let Some((session, client_id)) = &end.session {
                    use $crate::store::sql::ReadCache as _;
                    let generation = self.session_generation();
                    self.cache_session(&session.id, generation, Some(session.clone()));
                    let generation = self.client_start_generation();
                    self.cache_client_start(&session.id, client_id, generation, session.created_at);
                }
                Ok(())
            }
        }
    };
}

pub(crate) use impl_flows;
