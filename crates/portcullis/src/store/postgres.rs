//! PostgreSQL store, for many stateless nodes sharing one database.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};

use super::sql::ReadCache as _;
use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) sweeps: super::sql::Sweeps,
    pub(crate) gate: super::sql::WriteGate,
    /// None: PostgreSQL commits concurrent writes together itself.
    pub(crate) queue: super::sql::WriteQueue,
    /// Recent session uses (see `RecentTouches`).
    pub(crate) touches: super::sql::RecentTouches,
    /// Seals the secret fields of realm and user documents on write, opens them on read.
    pub(crate) sealer: std::sync::Arc<crate::crypto::seal::Sealer>,
}

/// How long a request waits for a connection: bounded, so a database that does not answer
/// turns into a `503` within this time (`http::unavailable`) instead of a hanging request.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl PostgresStore {
    /// Connects, creates `schema` if given (and uses it), and runs migrations.
    pub async fn connect(
        url: &str,
        schema: Option<&str>,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        let mut opts: PgConnectOptions = url.parse()?;
        opts = opts.log_statements(tracing::log::LevelFilter::Trace);
        if let Some(schema) = schema {
            // The schema name was validated (letters, digits, _) when the options were read.
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await?;
            admin
                .execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
                .await?;
            admin.close().await;
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore {
            pool,
            sweeps: Default::default(),
            gate: Default::default(),
            queue: Default::default(),
            touches: Default::default(),
            sealer: Default::default(),
        })
    }
}

impl PostgresStore {
    /// Seals secrets on write (and opens them on read) with `sealer`'s keys.
    pub fn with_sealer(mut self, sealer: std::sync::Arc<crate::crypto::seal::Sealer>) -> Self {
        self.sealer = sealer;
        self
    }
}

pub(super) fn migration_names() -> Vec<String> {
    MIGRATOR
        .iter()
        .map(|m| format!("{}_{}", m.version, m.description))
        .collect()
}

super::sql::impl_store!(PostgresStore, sqlx::Postgres, "postgres");

// Several nodes share PostgreSQL: nothing about users or sessions is cached.
impl super::sql::ReadCache for PostgresStore {}
