//! The storage interface: one async trait, two implementations (embedded SQLite and
//! PostgreSQL) with the same migrations and the same test suite. Every write a caller is told
//! succeeded is committed; [`Store::apply`] runs a batch in one transaction.

mod postgres;
mod sql;
mod sqlite;

use async_trait::async_trait;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A realm's stored configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRealm {
    /// Realm id.
    pub id: String,
    /// Realm name (unique).
    pub name: String,
    /// Bumped on every change.
    pub version: i64,
    /// `RealmRepresentation` JSON without users.
    pub representation: String,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Lower-case user name, unique per realm.
    pub username: String,
    /// E-mail, indexed.
    pub email: Option<String>,
    /// `UserRepresentation` JSON, with hashed credentials.
    pub representation: String,
}

/// An SSO session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    /// Session id (`sid`).
    pub id: String,
    /// Realm id.
    pub realm_id: String,
    /// User id.
    pub user_id: String,
    /// Offline session (`offline_access`).
    pub offline: bool,
    /// Start, seconds since the epoch.
    pub created_at: i64,
    /// Last use, seconds since the epoch.
    pub last_refresh: i64,
    /// Session notes (JSON object): `auth_time`, `remember_me`, ...
    pub data: String,
}

/// A session that was ended, with the clients that took part in it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedSession {
    /// The session as it was.
    pub session: SessionRow,
    /// `client_id` of every client session it had, sorted.
    pub clients: Vec<String>,
}

/// What happened to a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshUse {
    /// Accepted; the new token is now current.
    Accepted,
    /// The token is not the current one, or was used more than allowed.
    Rejected,
}

/// A field of the user search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    /// `username`.
    Username,
    /// `email`.
    Email,
    /// `firstName`.
    FirstName,
    /// `lastName`.
    LastName,
}

impl UserField {
    /// The (lower-case) column.
    pub fn column(self) -> &'static str {
        match self {
            UserField::Username => "username",
            UserField::Email => "email",
            UserField::FirstName => "first_name",
            UserField::LastName => "last_name",
        }
    }
}

/// How a (lower-case) search value matches a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Equal.
    Exact(String),
    /// Starts with (an index range scan).
    Prefix(String),
    /// A SQL `LIKE` pattern, `\` escaping `%`, `_` and itself.
    Like(String),
}

/// One condition of a user search: any of `fields` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCondition {
    /// Fields, any of which may match.
    pub fields: Vec<UserField>,
    /// The match.
    pub matches: Match,
}

/// A user search (`GET /admin/realms/{realm}/users`): conditions all hold; ordered by user
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Conditions, all of which hold.
    pub conditions: Vec<UserCondition>,
    /// Only enabled or only disabled users.
    pub enabled: Option<bool>,
    /// Include clients' service-account users (Keycloak leaves them out of searches).
    pub include_service_accounts: bool,
    /// Offset.
    pub first: i64,
    /// Limit.
    pub max: i64,
}

/// The search columns of a user, derived from its representation on every write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SearchColumns {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) enabled: i64,
    pub(crate) service_account: i64,
}

impl SearchColumns {
    pub(crate) fn of(representation: &str) -> Self {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cols {
            first_name: Option<String>,
            last_name: Option<String>,
            enabled: Option<bool>,
            service_account_client_id: Option<String>,
        }
        match serde_json::from_str::<Cols>(representation) {
            Ok(c) => SearchColumns {
                first_name: c.first_name.map(|s| s.to_lowercase()),
                last_name: c.last_name.map(|s| s.to_lowercase()),
                enabled: i64::from(c.enabled != Some(false)),
                service_account: i64::from(c.service_account_client_id.is_some()),
            },
            Err(_) => SearchColumns {
                enabled: 1,
                ..Default::default()
            },
        }
    }
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
    /// The request (JSON object): `scope`, `nonce`, PKCE challenge.
    pub data: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
    /// Minimum seconds between polls (grows by 5 on each `slow_down`).
    pub poll_interval: i64,
    /// `pending`, `approved`, `denied` or `redeemed`.
    pub status: String,
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

/// One write of a transactional batch.
#[derive(Debug, Clone)]
pub enum Write {
    /// Insert a new realm; a realm of that name or id existing is a conflict.
    InsertRealm(StoredRealm),
    /// Replace a realm's representation if its version is still `expected_version`.
    UpdateRealm {
        /// Realm id.
        id: String,
        /// Optimistic concurrency check.
        expected_version: i64,
        /// New representation.
        representation: String,
    },
    /// Delete a realm and everything in it.
    DeleteRealm {
        /// Realm id.
        id: String,
    },
    /// Delete one user (and the user's sessions).
    DeleteUser {
        /// Realm id.
        realm_id: String,
        /// User id.
        id: String,
    },
    /// Insert users into a realm.
    InsertUsers {
        /// Realm id.
        realm_id: String,
        /// Users.
        users: Vec<UserRow>,
    },
    /// Uses an initial access token of the realm once (client registration): the batch fails
    /// with [`StoreError::Conflict`]`(`[`INITIAL_ACCESS_USED_UP`]`)` when the token is unknown,
    /// expired or has no uses left, so a client is created only together with the use.
    UseInitialAccess {
        /// Realm id.
        realm_id: String,
        /// SHA-256 (hex) of the token.
        token_hash: String,
        /// Seconds since the epoch.
        now: i64,
    },
}

/// The conflict message of a failed [`Write::UseInitialAccess`].
pub const INITIAL_ACCESS_USED_UP: &str = "initial access token used up";

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule or a version check failed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_string());
            }
        }
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration failed: {e}"))
    }
}

/// The sessions a sweep removes: online ones last used or started before the online bounds,
/// offline ones before the offline bounds (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSweep {
    /// Online sessions last used before this are gone.
    pub online_used_before: i64,
    /// Online sessions started before this are gone.
    pub online_started_before: i64,
    /// Offline sessions last used before this are gone.
    pub offline_used_before: i64,
    /// Offline sessions started before this are gone.
    pub offline_started_before: i64,
}

/// The storage interface.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// All realms.
    async fn realms(&self) -> Result<Vec<StoredRealm>, StoreError>;
    /// One realm by name.
    async fn realm_by_name(&self, name: &str) -> Result<Option<StoredRealm>, StoreError>;
    /// A realm's users in insertion order.
    async fn users(&self, realm_id: &str) -> Result<Vec<UserRow>, StoreError>;
    /// Number of users in a realm.
    async fn user_count(&self, realm_id: &str) -> Result<i64, StoreError>;
    /// Applies a batch of writes in one transaction: all or nothing.
    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// A user by (lower-case) user name.
    async fn user_by_username(
        &self,
        realm_id: &str,
        username: &str,
    ) -> Result<Option<UserRow>, StoreError>;
    /// Users with this (lower-case) e-mail.
    async fn users_by_email(&self, realm_id: &str, email: &str)
        -> Result<Vec<UserRow>, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, realm_id: &str, id: &str) -> Result<Option<UserRow>, StoreError>;
    /// Replaces a user's representation (e.g. a re-hashed password).
    async fn update_user(&self, realm_id: &str, user: &UserRow) -> Result<(), StoreError>;

    /// Creates a session and its first client session, with `refresh_token_id` current.
    async fn create_session(
        &self,
        session: &SessionRow,
        client_id: &str,
        refresh_token_id: Option<&str>,
    ) -> Result<(), StoreError>;
    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError>;
    /// Records a use of the session.
    async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Ends a session (and its client sessions).
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;
    /// Ends a session and its client sessions, returning what ended; `None` when it was gone
    /// already. Atomic across nodes: of concurrent calls for one session, one gets it.
    async fn end_session(&self, id: &str) -> Result<Option<EndedSession>, StoreError>;
    /// Ends all of a user's sessions (online and offline), returning them oldest first.
    async fn end_user_sessions(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<EndedSession>, StoreError>;
    /// Registers a client in a session (first token for that client), `new_id` current.
    async fn set_refresh_token(
        &self,
        session_id: &str,
        client_id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Refresh token rotation (`revokeRefreshToken`): accepts `presented` if it is the current
    /// token used at most `max_reuse` times before, or a token issued (`presented_iat`) after
    /// the last change, which then becomes current. Atomic across nodes.
    async fn use_refresh_token(
        &self,
        session_id: &str,
        client_id: &str,
        presented: &str,
        presented_iat: i64,
        max_reuse: i64,
        now: i64,
    ) -> Result<RefreshUse, StoreError>;

    /// Stores a pending browser login.
    async fn put_auth_session(
        &self,
        id: &str,
        realm_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// A pending browser login, if not expired.
    async fn auth_session(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<(String, String)>, StoreError>;
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
    /// Redeems a code atomically: `Some((realm_id, data, expires_at, first_use))`; a second
    /// redemption returns `first_use == false`.
    async fn use_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<(String, String, i64, bool)>, StoreError>;

    /// Records a one-time value (a client assertion's `jti`) until `expires_at`; false when it
    /// was already recorded (a replay). Atomic across nodes.
    async fn use_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError>;

    /// Users matching a search, ordered by user name.
    async fn search_users(&self, realm_id: &str, q: &UserQuery)
        -> Result<Vec<UserRow>, StoreError>;
    /// Number of users matching a search (paging ignored).
    async fn count_users(&self, realm_id: &str, q: &UserQuery) -> Result<i64, StoreError>;
    /// Inserts one user; a taken user name or id is a conflict.
    async fn insert_user(&self, realm_id: &str, user: &UserRow) -> Result<(), StoreError>;
    /// Deletes a user and the user's sessions; false when there was none.
    async fn delete_user(&self, realm_id: &str, id: &str) -> Result<bool, StoreError>;
    /// A user's sessions (online and offline).
    async fn user_sessions(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<SessionRow>, StoreError>;
    /// The client sessions of a user's sessions: (session id, `clientId`, last update).
    async fn user_session_clients(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError>;
    /// Removes a realm's expired sessions (and their client sessions); returns how many.
    async fn sweep_sessions(
        &self,
        realm_id: &str,
        bounds: &SessionSweep,
    ) -> Result<u64, StoreError>;
    /// Ends all of a user's sessions; returns how many.
    async fn delete_user_sessions(&self, realm_id: &str, user_id: &str) -> Result<u64, StoreError>;
    /// `(name, version)` of every realm: what another node changed.
    async fn realm_versions(&self) -> Result<Vec<(String, i64)>, StoreError>;
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
    ) -> Result<Option<(String, InitialAccessRow)>, StoreError>;
    /// Uses an initial access token once, atomically: its realm id, or `None` when unknown,
    /// expired or used up.
    async fn use_initial_access(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError>;

    /// Revokes an access token until `expires_at`.
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Whether an access token was revoked.
    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// Stores a new device authorization; a user code already taken in the realm is a
    /// [`StoreError::Conflict`] (the caller draws another).
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

/// Migration names of both backends, for the test that keeps them in step.
pub fn migration_names() -> (Vec<String>, Vec<String>) {
    (sqlite::migration_names(), postgres::migration_names())
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_the_same_migrations() {
        let (s, p) = super::migration_names();
        assert!(!s.is_empty());
        assert_eq!(s, p);
    }
}
