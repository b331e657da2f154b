//! RFC 8628 device authorizations.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Where a device authorization stands (the `status` column, stored as these lower-case words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// Approved by the user: the next poll gets tokens.
    Approved,
    /// Denied by the user.
    Denied,
    /// Tokens were issued for it.
    Redeemed,
}

impl DeviceStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Redeemed => "redeemed",
        }
    }

    /// Reads a stored word; one this version does not know (never written) counts as denied,
    /// so that it never yields tokens.
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => DeviceStatus::Pending,
            "approved" => DeviceStatus::Approved,
            "redeemed" => DeviceStatus::Redeemed,
            _ => DeviceStatus::Denied,
        }
    }
}

/// The request kept with a device code (the `data` column, a JSON object): what the token
/// request needs once the user approved. Unknown fields are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceRequest {
    /// `scope` asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `nonce` for the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// PKCE `code_challenge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// PKCE `code_challenge_method` (set with a challenge: `plain` when the request had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl DeviceRequest {
    /// Reads the stored form. Data that does not read is an error, never an empty request: an
    /// empty one would drop the PKCE challenge the device asked for.
    pub fn parse(data: &str) -> Result<Self, StoreError> {
        serde_json::from_str(data)
            .map_err(|e| StoreError::Corrupt(format!("device authorization data: {e}")))
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// An RFC 8628 device authorization as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCodeRow {
    /// SHA-256 (hex) of the device code.
    pub device_code_hash: String,
    /// Realm id.
    pub realm_id: String,
    /// The client that asked (`client_id`).
    pub client_id: String,
    /// The user code, normalized (upper case, no dash).
    pub user_code: String,
    /// The request ([`DeviceRequest`] as JSON): `scope`, `nonce`, PKCE challenge.
    pub data: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
    /// Minimum seconds between polls (grows by 5 on each `slow_down`).
    pub poll_interval: i64,
    /// Where it stands.
    pub status: DeviceStatus,
    /// The approving user's session, once approved.
    pub session_id: Option<String>,
    /// The approving user, once approved.
    pub user_id: Option<String>,
}

/// What the user decided on the verification page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Approved by this user in this session.
    Approve {
        /// Session id.
        session_id: String,
        /// User id.
        user_id: String,
    },
    /// Denied.
    Deny,
}

/// RFC 8628 device authorizations.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a new device authorization; a user code already taken in the realm is a
    /// [`StoreError::Unique`] (the caller draws another).
    async fn put_device_code(&self, row: &DeviceCodeRow) -> Result<(), StoreError>;
    /// A device authorization by the hash of its device code.
    async fn device_code(
        &self,
        device_code_hash: &str,
    ) -> Result<Option<DeviceCodeRow>, StoreError>;
    /// A pending, unexpired device authorization by its (normalized) user code.
    async fn pending_device_code(
        &self,
        realm_id: &str,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRow>, StoreError>;
    /// Records a poll: true when at least `poll_interval` seconds passed since the last
    /// accepted one; otherwise the interval grows by 5 seconds (RFC 8628 §3.5 `slow_down`) and
    /// the answer is false. Atomic across nodes.
    async fn poll_device_code(&self, device_code_hash: &str, now: i64) -> Result<bool, StoreError>;
    /// Approves or denies a pending, unexpired device authorization by user code; false when
    /// it is no longer pending (decided, expired or unknown). Atomic across nodes.
    async fn decide_device_code(
        &self,
        realm_id: &str,
        user_code: &str,
        decision: &DeviceDecision,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Marks an approved device authorization redeemed; false when it was not approved (or was
    /// redeemed already). Atomic across nodes: a device code yields tokens once.
    async fn redeem_device_code(&self, device_code_hash: &str) -> Result<bool, StoreError>;
}

/// Stamps [`DeviceStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_devices {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::DeviceStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn put_device_code(&self, row: &$crate::store::DeviceCodeRow) -> Result<(), $crate::store::StoreError> {
                // Expired authorizations are kept a while so that polling answers `expired_token`.
                self.sweep_if_due($crate::store::sql::Swept::DeviceCode).await?;
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO device_code (device_code_hash, realm_id, client_id, user_code, data, expires_at, poll_interval, last_poll, status, session_id, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, NULL, NULL)")
                    .bind(&row.device_code_hash)
                    .bind(&row.realm_id)
                    .bind(&row.client_id)
                    .bind(&row.user_code)
                    .bind(&row.data)
                    .bind(row.expires_at)
                    .bind(row.poll_interval)
                    .bind(row.status.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn device_code(&self, device_code_hash: &str) -> Result<Option<$crate::store::DeviceCodeRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE device_code_hash = $1", $crate::store::sql::DEVICE_CODE_SELECT);
                let row: Option<$crate::store::sql::DeviceCodeTuple> = sqlx::query_as(&sql)
                    .bind(device_code_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::sql::device_code_row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn pending_device_code(&self, realm_id: &str, user_code: &str, now: i64) -> Result<Option<$crate::store::DeviceCodeRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE realm_id = $1 AND user_code = $2 AND status = 'pending' AND expires_at >= $3", $crate::store::sql::DEVICE_CODE_SELECT);
                let row: Option<$crate::store::sql::DeviceCodeTuple> = sqlx::query_as(&sql)
                    .bind(realm_id)
                    .bind(user_code)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::sql::device_code_row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn poll_device_code(&self, device_code_hash: &str, now: i64) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let allowed = sqlx::query("UPDATE device_code SET last_poll = $1 WHERE device_code_hash = $2 AND last_poll + poll_interval <= $1")
                    .bind(now)
                    .bind(device_code_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1;
                if !allowed {
                    sqlx::query("UPDATE device_code SET poll_interval = poll_interval + 5 WHERE device_code_hash = $1")
                        .bind(device_code_hash)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(allowed)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn decide_device_code(&self, realm_id: &str, user_code: &str, decision: &$crate::store::DeviceDecision, now: i64) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let (status, session_id, user_id) = match decision {
                    $crate::store::DeviceDecision::Approve { session_id, user_id } => ($crate::store::DeviceStatus::Approved.as_str(), Some(session_id.as_str()), Some(user_id.as_str())),
                    $crate::store::DeviceDecision::Deny => ($crate::store::DeviceStatus::Denied.as_str(), None, None),
                };
                let done = sqlx::query("UPDATE device_code SET status = $1, session_id = $2, user_id = $3 WHERE realm_id = $4 AND user_code = $5 AND status = 'pending' AND expires_at >= $6")
                    .bind(status)
                    .bind(session_id)
                    .bind(user_id)
                    .bind(realm_id)
                    .bind(user_code)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn redeem_device_code(&self, device_code_hash: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("UPDATE device_code SET status = 'redeemed' WHERE device_code_hash = $1 AND status = 'approved'")
                    .bind(device_code_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_devices;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{DeviceRequest, DeviceStatus};

    #[test]
    fn stored_status_and_request_parse() {
        for s in ["pending", "approved", "denied", "redeemed"] {
            assert_eq!(DeviceStatus::parse(s).as_str(), s);
            let json = serde_json::to_string(&DeviceStatus::parse(s)).ok();
            assert_eq!(json, Some(format!("\"{s}\"")));
        }
        assert_eq!(DeviceStatus::parse("something"), DeviceStatus::Denied);
        // As `oidc/device.rs` wrote it before the struct existed.
        let old = r#"{"scope":"openid profile","nonce":"n","code_challenge":"c","code_challenge_method":"S256"}"#;
        let d = DeviceRequest::parse(old).unwrap();
        assert_eq!(d.scope.as_deref(), Some("openid profile"));
        assert_eq!(d.nonce.as_deref(), Some("n"));
        assert_eq!(d.code_challenge.as_deref(), Some("c"));
        assert_eq!(d.code_challenge_method.as_deref(), Some("S256"));
        assert_eq!(d.to_json(), old);
        assert_eq!(
            DeviceRequest::parse("{}").unwrap(),
            DeviceRequest::default()
        );
        assert!(
            DeviceRequest::parse(r#"{"code_challenge":7}"#).is_err(),
            "fails closed"
        );
        assert_eq!(DeviceRequest::default().to_json(), "{}");
        let more = DeviceRequest::parse(r#"{"scope":"s","later":1}"#).unwrap();
        assert_eq!(more.extra.get("later"), Some(&serde_json::json!(1)));
    }
}
