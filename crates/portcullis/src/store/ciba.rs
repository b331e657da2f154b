//! OpenID Connect CIBA authentication requests (poll mode): what the backchannel
//! authentication endpoint stored, the authentication device's decision and the polls of the
//! consumption device. The same life as an RFC 8628 device authorization ([`DeviceStatus`]),
//! as Keycloak keeps both as `OAuth2DeviceCodeModel`s.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{DeviceStatus, StoreError};

/// The request kept with an `auth_req_id` (the `data` column, a JSON object): what the token
/// request needs once the user approved. Unknown fields are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CibaRequest {
    /// `scope`, with the client's default scopes shown on consent appended (Keycloak's
    /// `BackchannelAuthenticationEndpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `binding_message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_message: Option<String>,
    /// `acr_values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl CibaRequest {
    /// Reads the stored form; data that does not read is an error.
    pub fn parse(data: &str) -> Result<Self, StoreError> {
        serde_json::from_str(data)
            .map_err(|e| StoreError::Corrupt(format!("ciba request data: {e}")))
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// A CIBA authentication request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CibaRow {
    /// SHA-256 (hex) of the `auth_req_id`.
    pub auth_req_hash: String,
    /// `jti` of the callback's bearer token.
    pub auth_result_id: String,
    /// Realm id.
    pub realm_id: String,
    /// The client that asked (`client_id`).
    pub client_id: String,
    /// The user asked to authenticate.
    pub user_id: String,
    /// The request ([`CibaRequest`] as JSON).
    pub data: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
    /// Minimum seconds between polls (grows by 5 on each `slow_down`).
    pub poll_interval: i64,
    /// Where it stands: pending, approved or denied (never redeemed: a redeemed request is
    /// deleted).
    pub status: DeviceStatus,
}

/// CIBA authentication requests.
#[async_trait]
pub trait CibaStore: Send + Sync {
    /// Stores a new, pending authentication request.
    async fn put_ciba_request(&self, row: &CibaRow) -> Result<(), StoreError>;
    /// A request by the hash of its `auth_req_id`.
    async fn ciba_request(&self, auth_req_hash: &str) -> Result<Option<CibaRow>, StoreError>;
    /// A request by its `auth_result_id` (the callback token's `jti`).
    async fn ciba_request_by_result(
        &self,
        realm_id: &str,
        auth_result_id: &str,
    ) -> Result<Option<CibaRow>, StoreError>;
    /// Records a poll, as [`super::DeviceStore::poll_device_code`]: true when at least
    /// `poll_interval` seconds passed since the last accepted one, otherwise the interval grows
    /// by 5 seconds and the answer is false. Atomic across nodes.
    async fn poll_ciba_request(&self, auth_req_hash: &str, now: i64) -> Result<bool, StoreError>;
    /// Approves (`true`) or denies a pending request by its `auth_result_id`; false when it is
    /// no longer pending (decided, redeemed, unknown). Atomic across nodes: one decision wins.
    async fn decide_ciba_request(
        &self,
        realm_id: &str,
        auth_result_id: &str,
        approve: bool,
    ) -> Result<bool, StoreError>;
    /// Deletes a request by its `auth_result_id` (Keycloak cancels a request whose callback
    /// token is presented again).
    async fn cancel_ciba_request(
        &self,
        realm_id: &str,
        auth_result_id: &str,
    ) -> Result<(), StoreError>;
    /// Deletes an approved request; false when it was not approved (or was redeemed already).
    /// Atomic across nodes: an `auth_req_id` yields tokens once.
    async fn redeem_ciba_request(&self, auth_req_hash: &str) -> Result<bool, StoreError>;
}

/// Stamps [`CibaStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_ciba {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::CibaStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn put_ciba_request(&self, row: &$crate::store::CibaRow) -> Result<(), $crate::store::StoreError> {
                // Expired requests are kept a while so that polling answers `expired_token`.
                self.sweep_if_due($crate::store::sql::Swept::CibaRequest).await?;
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO ciba_request (auth_req_hash, auth_result_id, realm_id, client_id, user_id, data, expires_at, poll_interval, last_poll, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)")
                    .bind(&row.auth_req_hash)
                    .bind(&row.auth_result_id)
                    .bind(&row.realm_id)
                    .bind(&row.client_id)
                    .bind(&row.user_id)
                    .bind(&row.data)
                    .bind(row.expires_at)
                    .bind(row.poll_interval)
                    .bind(row.status.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn ciba_request(&self, auth_req_hash: &str) -> Result<Option<$crate::store::CibaRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE auth_req_hash = $1", $crate::store::ciba::SELECT);
                let row: Option<$crate::store::ciba::Tuple> = sqlx::query_as(&sql)
                    .bind(auth_req_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::ciba::row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn ciba_request_by_result(&self, realm_id: &str, auth_result_id: &str) -> Result<Option<$crate::store::CibaRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE realm_id = $1 AND auth_result_id = $2", $crate::store::ciba::SELECT);
                let row: Option<$crate::store::ciba::Tuple> = sqlx::query_as(&sql)
                    .bind(realm_id)
                    .bind(auth_result_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::ciba::row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn poll_ciba_request(&self, auth_req_hash: &str, now: i64) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let allowed = sqlx::query("UPDATE ciba_request SET last_poll = $1 WHERE auth_req_hash = $2 AND last_poll + poll_interval <= $1")
                    .bind(now)
                    .bind(auth_req_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1;
                if !allowed {
                    sqlx::query("UPDATE ciba_request SET poll_interval = poll_interval + 5 WHERE auth_req_hash = $1")
                        .bind(auth_req_hash)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(allowed)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn decide_ciba_request(&self, realm_id: &str, auth_result_id: &str, approve: bool) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let status = if approve { $crate::store::DeviceStatus::Approved } else { $crate::store::DeviceStatus::Denied };
                let done = sqlx::query("UPDATE ciba_request SET status = $1 WHERE realm_id = $2 AND auth_result_id = $3 AND status = 'pending'")
                    .bind(status.as_str())
                    .bind(realm_id)
                    .bind(auth_result_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn cancel_ciba_request(&self, realm_id: &str, auth_result_id: &str) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("DELETE FROM ciba_request WHERE realm_id = $1 AND auth_result_id = $2")
                    .bind(realm_id)
                    .bind(auth_result_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn redeem_ciba_request(&self, auth_req_hash: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM ciba_request WHERE auth_req_hash = $1 AND status = 'approved'")
                    .bind(auth_req_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_ciba;

/// Reads a [`CibaRow`], columns in [`Tuple`] order.
pub(crate) const SELECT: &str = "SELECT auth_req_hash, auth_result_id, realm_id, client_id, user_id, data, expires_at, poll_interval, status FROM ciba_request";

/// A `ciba_request` row as read.
pub(crate) type Tuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
);

/// Builds the row type from a read tuple.
pub(crate) fn row(t: Tuple) -> CibaRow {
    let (
        auth_req_hash,
        auth_result_id,
        realm_id,
        client_id,
        user_id,
        data,
        expires_at,
        poll_interval,
        status,
    ) = t;
    CibaRow {
        auth_req_hash,
        auth_result_id,
        realm_id,
        client_id,
        user_id,
        data,
        expires_at,
        poll_interval,
        // A redeemed request is deleted, so "redeemed" is never read back; an unknown word
        // counts as denied (`DeviceStatus::parse`), never as approved.
        status: DeviceStatus::parse(&status),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::CibaRequest;

    #[test]
    fn stored_request_parses_and_keeps_unknown_fields() {
        let r =
            CibaRequest::parse(r#"{"scope":"openid","binding_message":"B","later":1}"#).unwrap();
        assert_eq!(r.scope.as_deref(), Some("openid"));
        assert_eq!(r.binding_message.as_deref(), Some("B"));
        assert_eq!(r.extra.get("later"), Some(&serde_json::json!(1)));
        assert!(
            CibaRequest::parse(r#"{"scope":7}"#).is_err(),
            "fails closed"
        );
        assert_eq!(CibaRequest::default().to_json(), "{}");
    }
}
