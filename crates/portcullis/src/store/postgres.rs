//! PostgreSQL store, for many stateless nodes sharing one database.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};

use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) sweeps: super::sql::Sweeps,
    pub(crate) gate: super::sql::WriteGate,
}

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
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore {
            pool,
            sweeps: Default::default(),
            gate: Default::default(),
        })
    }
}

pub(super) fn migration_names() -> Vec<String> {
    MIGRATOR
        .iter()
        .map(|m| format!("{}_{}", m.version, m.description))
        .collect()
}

super::sql::impl_store!(PostgresStore, sqlx::Postgres, "postgres");

impl PostgresStore {
    // Several nodes share PostgreSQL: nothing about users or sessions is cached.
    fn user_generation(&self) -> u64 {
        0
    }
    fn cached_user(&self, _key: (String, String)) -> Option<Option<super::UserRow>> {
        None
    }
    fn cache_user(&self, _key: (String, String), _generation: u64, _row: Option<super::UserRow>) {}
    fn invalidate_users(&self) {}
    fn session_generation(&self) -> u64 {
        0
    }
    fn cached_session(&self, _id: &str) -> Option<Option<super::SessionRow>> {
        None
    }
    fn cache_session(&self, _id: &str, _generation: u64, _row: Option<super::SessionRow>) {}
    fn invalidate_sessions(&self) {}
}
