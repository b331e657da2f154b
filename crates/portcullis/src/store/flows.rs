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

/// Pending logins and codes held in this process's memory, where Keycloak holds them too (its
/// `authenticationSessions` and single-use caches): the embedded store's (one process owns
/// the file, so no other node needs them). A login then writes to the file only what outlives
/// it, the SSO session and its client's part, and a restart ends the logins in progress (the
/// browser starts again), as a Keycloak restart does. PostgreSQL, shared by several nodes,
/// keeps them in its tables. Bounded: past [`LoginMemory::MAX`] entries of a kind, once the
/// expired ones are dropped, the oldest go first, so that a flood of new logins costs the
/// logins in progress at worst their restart, never the server its memory, and nothing is
/// refused once the flood stops.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginMemory(std::sync::Arc<std::sync::Mutex<Held>>);

/// What [`LoginMemory`] holds.
#[derive(Debug, Default)]
struct Held {
    logins: Oldest<Pending>,
    codes: Oldest<CodeRow>,
    /// When expired entries were last dropped.
    swept_at: i64,
}

/// A pending login as held.
#[derive(Debug)]
struct Pending {
    realm_id: String,
    data: String,
    expires_at: i64,
}

/// Entries by key, with the order they came in, for dropping the oldest.
#[derive(Debug)]
struct Oldest<V> {
    map: std::collections::HashMap<String, V>,
    /// Keys in the order they were first stored; keys removed since are skipped (and compacted
    /// away once they outnumber the live ones).
    order: std::collections::VecDeque<String>,
}

impl<V> Default for Oldest<V> {
    fn default() -> Self {
        Oldest {
            map: Default::default(),
            order: Default::default(),
        }
    }
}

impl<V> Oldest<V> {
    /// Stores `value` under `key` (a key already there keeps its place), then drops the oldest
    /// entries past `max`.
    fn insert(&mut self, key: &str, value: V, max: usize) {
        if self.map.insert(key.to_string(), value).is_none() {
            self.order.push_back(key.to_string());
        }
        while self.map.len() > max {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&old);
        }
        if self.order.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
    }

    fn retain(&mut self, keep: impl FnMut(&String, &mut V) -> bool) {
        self.map.retain(keep);
    }
}

impl LoginMemory {
    /// Entries of each kind (pending logins, codes) held at most.
    pub(crate) const MAX: usize = 100_000;
    /// Expired entries are dropped at most this often (seconds)...
    const SWEEP_EVERY: i64 = 60;
    /// ...and codes this long after they expire, so that a late replay is still known as one
    /// (as the SQL stores keep them, `Swept::AuthCode`).
    const CODES_KEPT: i64 = 3600;

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a pending login; `replace` replaces one stored under `id`, else an unexpired one
    /// there is a uniqueness error (as the SQL insert's).
    pub(crate) fn put_login(
        &self,
        id: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
        replace: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut held = self.held();
        held.sweep_if_due(now);
        if !replace && held.logins.map.get(id).is_some_and(|p| p.expires_at >= now) {
            return Err(StoreError::Unique("duplicate pending login id".into()));
        }
        let pending = Pending {
            realm_id: realm_id.to_string(),
            data: data.to_string(),
            expires_at,
        };
        held.logins.insert(id, pending, Self::MAX);
        Ok(())
    }

    /// A pending login, if not expired.
    pub(crate) fn login(&self, id: &str, now: i64) -> Option<PendingLoginRow> {
        let held = self.held();
        let p = held.logins.map.get(id).filter(|p| p.expires_at >= now)?;
        Some(PendingLoginRow {
            realm_id: p.realm_id.clone(),
            data: p.data.clone(),
        })
    }

    /// Removes a pending login.
    pub(crate) fn delete_login(&self, id: &str) {
        self.held().logins.map.remove(id);
    }

    /// Stores a code; a code already held under its hash is a uniqueness error.
    pub(crate) fn put_code(&self, code: &NewCode, now: i64) -> Result<(), StoreError> {
        let mut held = self.held();
        held.sweep_if_due(now);
        if held.codes.map.contains_key(&code.code_hash) {
            return Err(StoreError::Unique("duplicate authorization code".into()));
        }
        let row = CodeRow {
            realm_id: code.realm_id.clone(),
            data: code.data.clone(),
            expires_at: code.expires_at,
            used: false,
        };
        held.codes.insert(&code.code_hash, row, Self::MAX);
        Ok(())
    }

    /// Forgets a code (one whose login could not be finished).
    pub(crate) fn drop_code(&self, code_hash: &str) {
        self.held().codes.map.remove(code_hash);
    }

    /// Marks a code used: of concurrent redemptions exactly one gets `first_use`.
    pub(crate) fn use_code(&self, code_hash: &str) -> Option<CodeUse> {
        let mut held = self.held();
        let c = held.codes.map.get_mut(code_hash)?;
        let first_use = !c.used;
        c.used = true;
        Some(CodeUse {
            realm_id: c.realm_id.clone(),
            data: c.data.clone(),
            expires_at: c.expires_at,
            first_use,
        })
    }

    /// A code as held, without redeeming it.
    pub(crate) fn code(&self, code_hash: &str) -> Option<CodeRow> {
        self.held().codes.map.get(code_hash).cloned()
    }

    /// Drops what a deleted realm had in progress.
    pub(crate) fn forget_realm(&self, realm_id: &str) {
        let mut held = self.held();
        held.logins.retain(|_, p| p.realm_id != realm_id);
        held.codes.retain(|_, c| c.realm_id != realm_id);
    }
}

impl Held {
    fn sweep_if_due(&mut self, now: i64) {
        if now - self.swept_at >= LoginMemory::SWEEP_EVERY {
            self.logins.retain(|_, p| p.expires_at >= now);
            self.codes
                .retain(|_, c| c.expires_at >= now - LoginMemory::CODES_KEPT);
            self.swept_at = now;
        }
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(hash: &str, expires_at: i64) -> NewCode {
        NewCode {
            code_hash: hash.into(),
            realm_id: "r".into(),
            data: "{}".into(),
            expires_at,
        }
    }

    #[test]
    fn a_pending_login_is_put_replaced_read_until_it_expires_and_removed() {
        let m = LoginMemory::default();
        m.put_login("a", "r", "one", 100, false, 10).unwrap();
        assert!(matches!(
            m.put_login("a", "r", "two", 100, false, 10),
            Err(StoreError::Unique(_))
        ));
        m.put_login("a", "r", "two", 100, true, 10).unwrap();
        assert_eq!(m.login("a", 100).unwrap().data, "two");
        assert_eq!(m.login("a", 101), None, "expired");
        // An expired one no longer holds its id.
        m.put_login("a", "r", "three", 300, false, 200).unwrap();
        assert_eq!(m.login("a", 200).unwrap().data, "three");
        m.delete_login("a");
        assert_eq!(m.login("a", 200), None);
    }

    #[test]
    fn a_code_is_first_used_once_and_a_taken_hash_is_refused() {
        let m = LoginMemory::default();
        m.put_code(&code("c", 100), 10).unwrap();
        assert!(matches!(
            m.put_code(&code("c", 100), 10),
            Err(StoreError::Unique(_))
        ));
        assert!(!m.code("c").unwrap().used);
        assert!(m.use_code("c").unwrap().first_use);
        assert!(!m.use_code("c").unwrap().first_use, "a replay");
        assert!(m.code("c").unwrap().used);
        assert_eq!(m.use_code("unknown"), None);
        m.drop_code("c");
        assert_eq!(m.code("c"), None);
    }

    #[test]
    fn expired_entries_are_swept_and_codes_kept_an_hour_for_replays() {
        let m = LoginMemory::default();
        m.put_login("old", "r", "{}", 50, false, 10).unwrap();
        m.put_code(&code("c", 50), 10).unwrap();
        // A minute later: the login is gone; the code is kept for replays.
        m.put_login("new", "r", "{}", 500, false, 80).unwrap();
        assert_eq!(m.held().logins.map.len(), 1);
        assert!(m.code("c").is_some());
        m.put_login("later", "r", "{}", 9000, false, 50 + 3601)
            .unwrap();
        assert_eq!(m.code("c"), None, "swept an hour after it expired");
    }

    #[test]
    fn past_the_bound_the_oldest_login_goes_first_and_nothing_is_refused() {
        let m = LoginMemory::default();
        for i in 0..LoginMemory::MAX {
            m.put_login(&format!("l{i}"), "r", "", 100, false, 10)
                .unwrap();
        }
        // A step of a login in progress replaces its own, and keeps its place.
        m.put_login("l0", "r", "step-2", 100, true, 10).unwrap();
        m.delete_login("l1");
        m.put_login("one-more", "r", "", 100, false, 10).unwrap();
        m.put_login("and-another", "r", "", 100, false, 10).unwrap();
        assert_eq!(m.login("l0", 10), None, "the oldest went first");
        assert!(m.login("l2", 10).is_some());
        assert!(m.login("one-more", 10).is_some() && m.login("and-another", 10).is_some());
        assert_eq!(m.held().logins.map.len(), LoginMemory::MAX);
        // Removed keys do not pile up in the order kept for eviction.
        for i in 0..3 * LoginMemory::MAX {
            m.put_login(&format!("x{i}"), "r", "", 100, false, 10)
                .unwrap();
            m.delete_login(&format!("x{i}"));
        }
        assert!(m.held().logins.order.len() <= 2 * LoginMemory::MAX + 1024);
    }

    #[test]
    fn a_deleted_realm_takes_its_logins_and_codes() {
        let m = LoginMemory::default();
        m.put_login("a", "r", "{}", 100, false, 10).unwrap();
        m.put_login("b", "other", "{}", 100, false, 10).unwrap();
        m.put_code(&code("c", 100), 10).unwrap();
        m.forget_realm("r");
        assert_eq!(m.login("a", 10), None);
        assert!(m.login("b", 10).is_some());
        assert_eq!(m.code("c"), None);
    }
}
