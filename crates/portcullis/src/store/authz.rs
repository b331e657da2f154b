//! Authorization Services as rows beside the realm document: a client's resource server
//! (its settings and a `version` bumped by every write to it or its rows, which the policy
//! engine's cache keys on) and its resources, scopes and policies (permissions included, as
//! Keycloak keeps them in one table). Each row carries its representation in the stored form
//! (`crate::representation::authz`); the columns beside it are what the database keeps unique:
//! a scope's and a policy's name per server, a resource's name per owner.
//!
//! Whole resource servers are written in the realm's transactions ([`super::Write`]: a client
//! switched on, a realm imported, a client or a realm deleted); single rows through
//! [`AuthzStore::authz_write`], one batch per transaction.

use async_trait::async_trait;

use super::StoreError;

/// A resource server: the client's UUID, its settings (JSON: `allowRemoteResourceManagement`,
/// `policyEnforcementMode`, `decisionStrategy`) and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServerRow {
    /// The client's UUID.
    pub id: String,
    /// Settings JSON.
    pub settings: String,
    /// Bumped by every write to the server or its rows.
    pub version: i64,
}

/// Which table of a resource server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthzKind {
    /// Resources (name unique per owner).
    Resource,
    /// Scopes.
    Scope,
    /// Policies and permissions.
    Policy,
}

impl AuthzKind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            AuthzKind::Resource => "authz_resource",
            AuthzKind::Scope => "authz_scope",
            AuthzKind::Policy => "authz_policy",
        }
    }
}

/// One resource, scope or policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner (a resource's: the client's UUID or a user id; empty for the others).
    pub owner: String,
    /// The representation (stored form) as JSON.
    pub representation: String,
}

/// A whole resource server to write (a client switched on, an import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResourceServer {
    /// The server.
    pub server: ResourceServerRow,
    /// Resources.
    pub resources: Vec<AuthzRow>,
    /// Scopes.
    pub scopes: Vec<AuthzRow>,
    /// Policies and permissions.
    pub policies: Vec<AuthzRow>,
}

/// One change to a resource server's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzWrite {
    /// Inserts a row (a taken name or id is [`StoreError::Unique`]).
    Insert(AuthzKind, AuthzRow),
    /// Replaces a row by id (a taken name is [`StoreError::Unique`]).
    Update(AuthzKind, AuthzRow),
    /// Deletes a row by id.
    Delete(AuthzKind, String),
    /// Replaces the server's settings.
    Settings(String),
}

/// Resource servers and their resources, scopes and policies.
#[async_trait]
pub trait AuthzStore: Send + Sync {
    /// A resource server of a realm (by client UUID).
    async fn resource_server(
        &self,
        realm_id: &str,
        id: &str,
    ) -> Result<Option<ResourceServerRow>, StoreError>;
    /// A realm's resource servers.
    async fn resource_servers(&self, realm_id: &str) -> Result<Vec<ResourceServerRow>, StoreError>;
    /// A resource server's rows of one kind, ordered by name.
    async fn authz_rows(
        &self,
        realm_id: &str,
        server_id: &str,
        kind: AuthzKind,
    ) -> Result<Vec<AuthzRow>, StoreError>;
    /// One row by id.
    async fn authz_row(
        &self,
        realm_id: &str,
        server_id: &str,
        kind: AuthzKind,
        id: &str,
    ) -> Result<Option<AuthzRow>, StoreError>;
    /// Applies changes to a resource server's rows in one transaction and bumps its version;
    /// returns the new version, or `None` when the server does not exist (nothing written).
    /// With `expected`, a server of another version is [`StoreError::VersionConflict`].
    async fn authz_write(
        &self,
        realm_id: &str,
        server_id: &str,
        expected: Option<i64>,
        writes: Vec<AuthzWrite>,
    ) -> Result<Option<i64>, StoreError>;
}

/// Stamps [`AuthzStore`] and the helpers of the realm batch for a SQL store (see `sql.rs`).
macro_rules! impl_authz {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Inserts or replaces a whole resource server (settings, then every row), bumping
            /// its version when it existed.
            pub(crate) async fn put_resource_server_on(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, rs: &$crate::store::NewResourceServer) -> Result<(), $crate::store::StoreError> {
                sqlx::query("INSERT INTO authz_resource_server (realm_id, id, settings, version) VALUES ($1, $2, $3, $4) ON CONFLICT (realm_id, id) DO UPDATE SET settings = excluded.settings, version = authz_resource_server.version + 1")
                    .bind(realm_id).bind(&rs.server.id).bind(&rs.server.settings).bind(rs.server.version)
                    .execute(&mut *conn).await?;
                for kind in [$crate::store::AuthzKind::Policy, $crate::store::AuthzKind::Resource, $crate::store::AuthzKind::Scope] {
                    sqlx::query(&format!("DELETE FROM {} WHERE realm_id = $1 AND server_id = $2", kind.table()))
                        .bind(realm_id).bind(&rs.server.id).execute(&mut *conn).await?;
                }
                for (kind, rows) in [($crate::store::AuthzKind::Scope, &rs.scopes), ($crate::store::AuthzKind::Resource, &rs.resources), ($crate::store::AuthzKind::Policy, &rs.policies)] {
                    for r in rows {
                        Self::insert_authz_on(&mut *conn, realm_id, &rs.server.id, kind, r).await?;
                    }
                }
                Ok(())
            }

            /// Deletes a resource server with its rows.
            pub(crate) async fn delete_resource_server_on(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, id: &str) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM authz_permission_ticket WHERE realm_id = $1 AND server_id = $2").bind(realm_id).bind(id).execute(&mut *conn).await?;
                for kind in [$crate::store::AuthzKind::Policy, $crate::store::AuthzKind::Resource, $crate::store::AuthzKind::Scope] {
                    sqlx::query(&format!("DELETE FROM {} WHERE realm_id = $1 AND server_id = $2", kind.table()))
                        .bind(realm_id).bind(id).execute(&mut *conn).await?;
                }
                sqlx::query("DELETE FROM authz_resource_server WHERE realm_id = $1 AND id = $2").bind(realm_id).bind(id).execute(&mut *conn).await?;
                Ok(())
            }

            /// Deletes every resource server of a realm with its rows.
            pub(crate) async fn delete_realm_authz_on(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str) -> Result<(), sqlx::Error> {
                for table in ["authz_permission_ticket", "authz_policy", "authz_resource", "authz_scope", "authz_resource_server"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE realm_id = $1")).bind(realm_id).execute(&mut *conn).await?;
                }
                Ok(())
            }

            async fn insert_authz_on(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, server_id: &str, kind: $crate::store::AuthzKind, r: &$crate::store::AuthzRow) -> Result<(), $crate::store::StoreError> {
                sqlx::query(&format!("INSERT INTO {} (realm_id, id, server_id, owner, name, representation) VALUES ($1, $2, $3, $4, $5, $6)", kind.table()))
                    .bind(realm_id).bind(&r.id).bind(server_id).bind(&r.owner).bind(&r.name).bind(&r.representation)
                    .execute(&mut *conn).await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AuthzStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn resource_server(&self, realm_id: &str, id: &str) -> Result<Option<$crate::store::ResourceServerRow>, $crate::store::StoreError> {
                use $crate::store::sql::ReadCache;
                let key = (realm_id.to_string(), id.to_string());
                let (hit, generation) = self.cached_resource_server(&key);
                if let Some(hit) = hit {
                    return Ok(hit);
                }
                let row: Option<(String, String, i64)> = sqlx::query_as("SELECT id, settings, version FROM authz_resource_server WHERE realm_id = $1 AND id = $2")
                    .bind(realm_id).bind(id).fetch_optional(&self.pool).await?;
                let row = row.map(|(id, settings, version)| $crate::store::ResourceServerRow { id, settings, version });
                self.cache_resource_server(key, generation, row.clone());
                Ok(row)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn resource_servers(&self, realm_id: &str) -> Result<Vec<$crate::store::ResourceServerRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as("SELECT id, settings, version FROM authz_resource_server WHERE realm_id = $1 ORDER BY id")
                    .bind(realm_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id, settings, version)| $crate::store::ResourceServerRow { id, settings, version }).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn authz_rows(&self, realm_id: &str, server_id: &str, kind: $crate::store::AuthzKind) -> Result<Vec<$crate::store::AuthzRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, String, String)> = sqlx::query_as(&format!("SELECT id, name, owner, representation FROM {} WHERE realm_id = $1 AND server_id = $2 ORDER BY name, id", kind.table()))
                    .bind(realm_id).bind(server_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id, name, owner, representation)| $crate::store::AuthzRow { id, name, owner, representation }).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn authz_row(&self, realm_id: &str, server_id: &str, kind: $crate::store::AuthzKind, id: &str) -> Result<Option<$crate::store::AuthzRow>, $crate::store::StoreError> {
                let row: Option<(String, String, String, String)> = sqlx::query_as(&format!("SELECT id, name, owner, representation FROM {} WHERE realm_id = $1 AND server_id = $2 AND id = $3", kind.table()))
                    .bind(realm_id).bind(server_id).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(|(id, name, owner, representation)| $crate::store::AuthzRow { id, name, owner, representation }))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn authz_write(&self, realm_id: &str, server_id: &str, expected: Option<i64>, writes: Vec<$crate::store::AuthzWrite>) -> Result<Option<i64>, $crate::store::StoreError> {
                use $crate::store::AuthzWrite;
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                let version: Option<(i64,)> = match expected {
                    Some(v) => sqlx::query_as("UPDATE authz_resource_server SET version = version + 1 WHERE realm_id = $1 AND id = $2 AND version = $3 RETURNING version")
                        .bind(realm_id).bind(server_id).bind(v).fetch_optional(&mut *tx).await?,
                    None => sqlx::query_as("UPDATE authz_resource_server SET version = version + 1 WHERE realm_id = $1 AND id = $2 RETURNING version")
                        .bind(realm_id).bind(server_id).fetch_optional(&mut *tx).await?,
                };
                let Some((version,)) = version else {
                    let exists: Option<(i64,)> = sqlx::query_as("SELECT version FROM authz_resource_server WHERE realm_id = $1 AND id = $2")
                        .bind(realm_id).bind(server_id).fetch_optional(&mut *tx).await?;
                    return match exists {
                        Some(_) => Err($crate::store::StoreError::VersionConflict),
                        None => Ok(None),
                    };
                };
                for w in writes {
                    match w {
                        AuthzWrite::Insert(kind, r) => Self::insert_authz_on(&mut *tx, realm_id, server_id, kind, &r).await?,
                        AuthzWrite::Update(kind, r) => {
                            sqlx::query(&format!("UPDATE {} SET owner = $1, name = $2, representation = $3 WHERE realm_id = $4 AND server_id = $5 AND id = $6", kind.table()))
                                .bind(&r.owner).bind(&r.name).bind(&r.representation).bind(realm_id).bind(server_id).bind(&r.id)
                                .execute(&mut *tx).await?;
                        }
                        AuthzWrite::Delete(kind, id) => {
                            sqlx::query(&format!("DELETE FROM {} WHERE realm_id = $1 AND server_id = $2 AND id = $3", kind.table()))
                                .bind(realm_id).bind(server_id).bind(&id).execute(&mut *tx).await?;
                        }
                        AuthzWrite::Settings(s) => {
                            sqlx::query("UPDATE authz_resource_server SET settings = $1 WHERE realm_id = $2 AND id = $3")
                                .bind(&s).bind(realm_id).bind(server_id).execute(&mut *tx).await?;
                        }
                    }
                }
                tx.commit().await?;
                $crate::store::sql::ReadCache::invalidate_authz(self).await;
                Ok(Some(version))
            }
        }
    };
}

pub(crate) use impl_authz;
