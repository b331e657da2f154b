//! The service's PostgreSQL tables (`migrations/`): tenant metadata and the audit ledger.

use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// The slug.
    pub tenant_id: String,
    /// `tenant-<slug>`.
    pub realm_name: String,
    /// The `iss` of the realm's tokens.
    pub issuer_url: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// One audit record. Never carries passwords or secrets.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// The request it belongs to.
    pub request_id: Uuid,
    /// `REQUEST`, `AUTHZ_DECISION`, `TENANT_CREATED`, `USER_CREATED`, `TENANT_ROLLED_BACK`.
    pub event_type: &'static str,
    /// `sub` of the caller.
    pub actor: String,
    /// The caller's realm.
    pub actor_realm: Option<String>,
    /// `tenant.create`, `user.create`, ...
    pub action: &'static str,
    /// The tenant concerned.
    pub tenant_id: Option<String>,
    /// `ALLOW`/`DENY` for decisions.
    pub decision: Option<&'static str>,
    /// Anything else (reason, user id, roles, ...).
    pub detail: Value,
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint: the tenant exists.
    #[error("duplicate")]
    Duplicate,
    /// Anything else.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        _ => StoreError::Database(e),
    }
}

const TENANT_COLUMNS: &str = "tenant_id, realm_name, issuer_url, \
     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at";

fn tenant_row(row: &sqlx::postgres::PgRow) -> Result<Tenant, sqlx::Error> {
    Ok(Tenant {
        tenant_id: row.try_get("tenant_id")?,
        realm_name: row.try_get("realm_name")?,
        issuer_url: row.try_get("issuer_url")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The store: a pool on the service's schema.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects to `url`, in `schema` when given (created if missing), and runs the migrations.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Store, StoreError> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
                .execute(&admin)
                .await?;
            admin.close().await;
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        Ok(Store { pool })
    }

    /// The pool (tests read the ledger through it).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends an audit record.
    pub async fn audit(&self, r: &AuditRecord) -> Result<(), StoreError> {
        insert_audit(&self.pool, r).await
    }

    /// A tenant by id.
    pub async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1"
        ))
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| tenant_row(&r)).transpose()?)
    }

    /// Inserts the tenant and its `TENANT_CREATED` record in one transaction: both or neither.
    pub async fn insert_tenant(
        &self,
        tenant_id: &str,
        realm_name: &str,
        issuer_url: &str,
        created: &AuditRecord,
    ) -> Result<Tenant, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO tenants (tenant_id, realm_name, issuer_url) VALUES ($1, $2, $3) \
             RETURNING {TENANT_COLUMNS}"
        ))
        .bind(tenant_id)
        .bind(realm_name)
        .bind(issuer_url)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let tenant = tenant_row(&row)?;
        let mut created = created.clone();
        created.detail["issuerUrl"] = Value::String(tenant.issuer_url.clone());
        insert_audit(&mut *tx, &created).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// How many tenants exist.
    pub async fn tenant_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM tenants")
            .fetch_one(&self.pool)
            .await?)
    }
}

async fn insert_audit<'e, E>(exec: E, r: &AuditRecord) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    sqlx::query(
        "INSERT INTO audit_events \
         (request_id, event_type, actor, actor_realm, action, tenant_id, decision, detail) \
         VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb)",
    )
    .bind(r.request_id.to_string())
    .bind(r.event_type)
    .bind(&r.actor)
    .bind(&r.actor_realm)
    .bind(r.action)
    .bind(&r.tenant_id)
    .bind(r.decision)
    .bind(r.detail.to_string())
    .execute(exec)
    .await
    .map_err(map_err)?;
    Ok(())
}
