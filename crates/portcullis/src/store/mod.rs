//! The storage interface: one async trait, two implementations (embedded SQLite and
//! PostgreSQL) with the same migrations and the same test suite. Every write a caller is told
//! succeeded is committed; [`Store::apply`] runs a batch in one transaction.

pub mod audit;
pub(crate) mod authz;
pub(crate) mod ciba;
mod devices;
pub(crate) mod events;
mod flows;
pub(crate) mod invitations;
pub(crate) mod login_failures;
pub(crate) mod organizations;
pub mod outage;
pub(crate) mod permission_tickets;
mod postgres;
mod realms;
mod registration;
mod sessions;
mod sql;
mod sqlite;
mod tokens;
mod users;

use async_trait::async_trait;

pub use audit::{AuditEntry, AuditHead, AuditRecord, AuditStore};
pub use authz::{
    AuthzKind, AuthzRow, AuthzStore, AuthzWrite, NewResourceServer, ResourceServerRow,
};
pub use ciba::{CibaRequest, CibaRow, CibaStore};
pub use devices::{DeviceCodeRow, DeviceDecision, DeviceRequest, DeviceStatus, DeviceStore};
pub use events::{AdminEventQuery, AdminEventRow, EventPage, EventQuery, EventRow, EventStore};
pub use flows::{CodeRow, CodeUse, FlowStore, LoginEnd, NewCode, PendingLoginRow, RefreshStart};
pub use invitations::{InvitationQuery, InvitationRow, InvitationStatus, InvitationStore};
pub use login_failures::{FailureRule, LoginFailureRow, LoginFailureStore};
pub use organizations::{
    MemberQuery, MemberRow, MembershipType, NewOrganization, OrgConflict, OrgWriteError,
    OrganizationDomain, OrganizationQuery, OrganizationRow, OrganizationStore,
};
pub use permission_tickets::{PermissionTicketRow, PermissionTicketStore, TicketFilter};
pub use postgres::PostgresStore;
pub use realms::{RealmStore, RealmVersion, Resealed, StoredRealm, Write};
pub use registration::{InitialAccessMatch, InitialAccessRow, RegistrationStore};
pub use sessions::{
    ClientSessionRow, EndedSession, RefreshUse, SessionRow, SessionStore, SessionSweep,
};
pub use sqlite::SqliteStore;
pub use tokens::TokenStore;
pub(crate) use users::SearchColumns;
pub use users::{Match, UserCondition, UserField, UserQuery, UserRow, UserStore};

/// Storage failures, typed so callers decide by variant, never by message text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule failed (a realm name, a user name, a user code); says what was taken.
    #[error("{0}")]
    Unique(String),
    /// An optimistic version check failed: the realm was changed by another writer meanwhile.
    #[error("the realm was changed concurrently; retry")]
    VersionConflict,
    /// A limited-use token (an initial access token) is unknown, expired or has no uses left.
    #[error("initial access token used up")]
    Exhausted,
    /// A write waited longer than its turn allows at the single-writer gate (SQLite).
    #[error("database is busy: a write waited more than 10 s for its turn")]
    Busy,
    /// The database's disk is full: the write was refused and nothing of it was kept (reads
    /// go on; writes succeed again once space is freed).
    #[error("the database's disk is full: writes are refused until space is freed")]
    Full,
    /// A stored row does not parse: the database holds what this server never writes.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A sealed secret does not open: its key-encryption key is not configured, or the value
    /// was altered (see `crypto::seal`).
    #[error("{0}")]
    Sealed(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A migration failed at start-up.
    #[error("migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The database's directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if outage::unreachable(&e) {
            outage::note(outage::Outage::Unreachable);
        }
        if outage::disk_full(&e) {
            outage::note(outage::Outage::Full);
            outage::note_disk_full();
            tracing::error!(error = %e, "the database's disk is full: writes are refused");
            return StoreError::Full;
        }
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Unique(db.message().to_string());
            }
        }
        StoreError::Database(e)
    }
}

impl From<crate::crypto::CryptoError> for StoreError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        StoreError::Sealed(e.0)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(e)
    }
}

/// The storage interface: one sub-trait per aggregate, each in its own file with its row types
/// and its SQL (stamped for both backends by a macro, see `sql.rs`). A new table is one
/// migration pair, one file and one sub-trait added here.
#[async_trait]
pub trait Store:
    RealmStore
    + UserStore
    + SessionStore
    + FlowStore
    + TokenStore
    + RegistrationStore
    + DeviceStore
    + CibaStore
    + LoginFailureStore
    + OrganizationStore
    + InvitationStore
    + EventStore
    + AuthzStore
    + PermissionTicketStore
    + AuditStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The realms changed in the store by anyone (other nodes included), as they change:
    /// PostgreSQL announces each change to a realm row; `None` where one process owns the store
    /// (SQLite), whose realm cache polls the versions instead.
    fn realm_changes(&self) -> Option<tokio::sync::broadcast::Receiver<RealmChange>>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The connection pool: connections open, idle, and the most it opens.
    fn pool_stats(&self) -> PoolStats;
    /// Online sessions stored, per realm id (expired ones leave with the next sweep).
    async fn session_counts(&self) -> Result<Vec<(String, i64)>, StoreError>;
    /// Drops the read caches of users and sessions, on this node and on every node sharing
    /// the database, so the next reads go to the database.
    async fn clear_user_cache(&self);
}

/// Upper bounds (seconds) of the buckets of [`WriteWaits`].
pub const WAIT_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// How long writes waited for SQLite's single writer (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteWaits {
    /// Writes that got their turn.
    pub count: u64,
    /// Seconds they waited, summed.
    pub seconds: f64,
    /// Waits at or under each bound of [`WAIT_BUCKETS`] (not cumulative).
    pub buckets: [u64; 11],
}

/// The connection pool's state (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolStats {
    /// Connections open.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
    /// Waits for SQLite's single writer (none on PostgreSQL, whose writers run at once).
    pub write_waits: Option<WriteWaits>,
}

/// A change to the store's realms, as [`Store::realm_changes`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmChange {
    /// The realm of this name was created, changed or deleted.
    Realm(String),
    /// Changes may have been missed (the store started or resumed listening): compare every
    /// realm's version.
    Resync,
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
