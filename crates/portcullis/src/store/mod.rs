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
    /// Insert users into a realm.
    InsertUsers {
        /// Realm id.
        realm_id: String,
        /// Users.
        users: Vec<UserRow>,
    },
}

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
