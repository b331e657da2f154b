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
    /// Users, sessions and clients' parts in sessions, served only while this node listens for
    /// the other nodes' changes on [`PostgresStore::channel`] (see [`listen_for_changes`]).
    pub(crate) caches: super::sql::NodeCaches,
    /// The notification channel of this database and schema.
    pub(crate) channel: String,
    /// The realm changes heard on [`PostgresStore::channel`], for the realm cache.
    pub(crate) realm_changes: tokio::sync::broadcast::Sender<super::RealmChange>,
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
        // The change listener's connection is its own, outside the pool: it is held for as long
        // as the node listens, and a pool of one connection would otherwise have none left.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(opts.clone());
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        let store = PostgresStore {
            pool,
            sweeps: Default::default(),
            gate: Default::default(),
            queue: Default::default(),
            touches: Default::default(),
            sealer: Default::default(),
            caches: super::sql::NodeCaches::off(),
            // A channel name is an identifier: at most 63 bytes (the schema's are ASCII).
            channel: format!("portcullis_changes_{}", schema.unwrap_or("public"))
                .chars()
                .take(63)
                .collect(),
            realm_changes: tokio::sync::broadcast::channel(REALM_CHANGES_BUFFER).0,
        };
        tokio::spawn(listen_for_changes(
            listen_pool,
            store.channel.clone(),
            store.caches.clone(),
            store.realm_changes.clone(),
        ));
        Ok(store)
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
// Pending logins and codes in tables, where every node finds them.
super::flows::impl_flows!(PostgresStore, sqlx::Postgres);

impl PostgresStore {
    /// A deleted realm's logins in progress went with its rows (`Write::DeleteRealm`).
    fn forget_realm_logins(&self, _realm_id: &str) {}
}

/// Several nodes share the database: a write that changes users or sessions drops this node's
/// caches at once and tells the others with a notification before it returns, as Keycloak's
/// nodes send their cache invalidations to the cluster.
impl super::sql::ReadCache for PostgresStore {
    fn caches(&self) -> &super::sql::NodeCaches {
        &self.caches
    }
    fn realm_changes(&self) -> Option<tokio::sync::broadcast::Receiver<super::RealmChange>> {
        Some(self.realm_changes.subscribe())
    }
    async fn announce(&self, changed: super::sql::Changed) {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(changed.as_str())
            .execute(&self.pool)
            .await;
        if let Err(e) = sent {
            // The other nodes cannot be told: they drop their caches when their listening
            // connection fails, and their entries live at most `SESSION_CACHE_TTL` anyway.
            tracing::warn!(error = %e, "the other nodes were not told of a change to {}", changed.as_str());
        }
    }
}

/// How long the listener waits before listening again after its connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// Realm changes a slow reader may fall behind by before it is told to compare every realm's
/// version instead.
const REALM_CHANGES_BUFFER: usize = 1024;

/// Listens for the changes other nodes announce on `channel` and drops what they make stale.
/// The caches are on only while listening: when the connection fails they are switched off
/// (everything dropped, nothing served) until a new connection listens again, so a change
/// announced while this node was not listening is never missed. `pool` holds the listening
/// connection only. Ends when it is closed.
async fn listen_for_changes(
    pool: PgPool,
    channel: String,
    caches: super::sql::NodeCaches,
    realms: tokio::sync::broadcast::Sender<super::RealmChange>,
) {
    while !pool.is_closed() {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(&channel).await {
                Ok(()) => {
                    caches.switch(true);
                    // Realm changes made while nobody listened were not heard. (No receiver
                    // yet is no error.)
                    let _ = realms.send(super::RealmChange::Resync);
                    // `Ok(None)` or an error: the connection was lost (notifications may have been).
                    while let Ok(Some(n)) = listener.try_recv().await {
                        match n.payload() {
                            "users" => caches.drop_changed(super::sql::Changed::Users),
                            "sessions" => caches.drop_changed(super::sql::Changed::Sessions),
                            "authz" => caches.drop_changed(super::sql::Changed::Authz),
                            // The realm table's trigger (migration 0016).
                            p if p.starts_with("realm:") => {
                                let _ = realms.send(super::RealmChange::Realm(p[6..].to_string()));
                            }
                            _ => caches.drop_all(),
                        }
                    }
                    caches.switch(false);
                    tracing::debug!("stopped listening for other nodes' changes; caches off");
                }
                Err(e) => tracing::debug!(error = %e, "cannot listen for other nodes' changes"),
            },
            Err(e) => {
                tracing::debug!(error = %e, "cannot connect to listen for other nodes' changes")
            }
        }
        tokio::time::sleep(RELISTEN_AFTER).await;
    }
}
