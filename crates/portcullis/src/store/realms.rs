//! Realm documents: one versioned `RealmRepresentation` per realm (without users), changed
//! by transactional batches of [`Write`]s.

use async_trait::async_trait;

use super::{StoreError, UserRow};

/// A realm's name and stored version: what another node changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmVersion {
    /// Realm id.
    pub id: String,
    /// Realm name.
    pub name: String,
    /// Bumped on every change.
    pub version: i64,
}

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
    /// Replace one user's document (as [`super::UserStore::update_user`] does), in the
    /// batch's transaction.
    UpdateUser {
        /// Realm id.
        realm_id: String,
        /// The user.
        user: UserRow,
    },
    /// Insert users into a realm.
    InsertUsers {
        /// Realm id.
        realm_id: String,
        /// Users.
        users: Vec<UserRow>,
    },
    /// Insert organizations (with their members and linked identity providers) into a realm:
    /// a realm import's, in the realm's transaction.
    InsertOrganizations {
        /// Realm id.
        realm_id: String,
        /// Realm name (for the conflict messages).
        realm_name: String,
        /// The organizations.
        organizations: Vec<super::NewOrganization>,
    },
    /// Inserts or replaces a client's resource server with all its rows (Authorization
    /// Services switched on, a realm or a client imported).
    PutResourceServer {
        /// Realm id.
        realm_id: String,
        /// The server and its rows.
        server: super::NewResourceServer,
    },
    /// Deletes a client's resource server with its rows (switched off, client deleted).
    DeleteResourceServer {
        /// Realm id.
        realm_id: String,
        /// The client's UUID.
        id: String,
    },
    /// Uses an initial access token of the realm once (client registration): the batch fails
    /// with [`StoreError::Exhausted`] when the token is unknown, expired or has no uses left,
    /// so a client is created only together with the use.
    UseInitialAccess {
        /// Realm id.
        realm_id: String,
        /// SHA-256 (hex) of the token.
        token_hash: String,
        /// Seconds since the epoch.
        now: i64,
    },
}

/// Realm documents: one versioned `RealmRepresentation` per realm (without users), changed.
#[async_trait]
pub trait RealmStore: Send + Sync {
    /// All realms.
    async fn realms(&self) -> Result<Vec<StoredRealm>, StoreError>;
    /// One realm by name.
    async fn realm_by_name(&self, name: &str) -> Result<Option<StoredRealm>, StoreError>;
    /// `(name, version)` of every realm: what another node changed.
    async fn realm_versions(&self) -> Result<Vec<RealmVersion>, StoreError>;
    /// Names of the realms whose stored document still embeds `organizations` (an older
    /// version's document), for the start-up upgrade; the store notes them as they are written.
    async fn realms_embedding_organizations(&self) -> Result<Vec<String>, StoreError>;
    /// Applies a batch of writes in one transaction: all or nothing.
    async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Writes every realm and user document again with its secrets sealed under the store's
    /// current key-encryption key (`portcullis secrets seal` and `rotate-kek`): values in clear
    /// and values under another KEK. A document changed meanwhile by a running node is left as
    /// that node wrote it and counted in [`Resealed::changed_meanwhile`]. Versions stay: the
    /// content is the same, so no node reloads and no writer's version check fails.
    async fn reseal_all(&self) -> Result<Resealed, StoreError>;
}

/// What [`RealmStore::reseal_all`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Realm documents written again.
    pub realms: u64,
    /// User documents written again.
    pub users: u64,
    /// Documents a running node changed between the read and the write (run again).
    pub changed_meanwhile: u64,
}

/// Stamps [`RealmStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_realms {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Notes (or forgets) realm `id` in `realm_upgrade` as its new document embeds
            /// `organizations` or not.
            async fn note_embedded_organizations(conn: &mut <$db as sqlx::Database>::Connection, id: &str, representation: &str) -> Result<(), sqlx::Error> {
                if representation.contains("\"organizations\"") {
                    sqlx::query("INSERT INTO realm_upgrade (realm_id) VALUES ($1) ON CONFLICT DO NOTHING").bind(id).execute(&mut *conn).await?;
                } else {
                    sqlx::query("DELETE FROM realm_upgrade WHERE realm_id = $1").bind(id).execute(&mut *conn).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::RealmStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn realms(&self) -> Result<Vec<$crate::store::StoredRealm>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
                    "SELECT id, name, version, representation FROM realm ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, name, version, representation)| {
                        let representation = self.sealer.open_realm(&representation)?;
                        Ok($crate::store::StoredRealm { id, name, version, representation })
                    })
                    .collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn realm_by_name(&self, name: &str) -> Result<Option<$crate::store::StoredRealm>, $crate::store::StoreError> {
                let row: Option<(String, String, i64, String)> = sqlx::query_as(
                    "SELECT id, name, version, representation FROM realm WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(id, name, version, representation)| {
                    let representation = self.sealer.open_realm(&representation)?;
                    Ok($crate::store::StoredRealm { id, name, version, representation })
                })
                .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn realm_versions(&self) -> Result<Vec<$crate::store::RealmVersion>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as("SELECT id, name, version FROM realm").fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id, name, version)| $crate::store::RealmVersion { id, name, version }).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn realms_embedding_organizations(&self) -> Result<Vec<String>, $crate::store::StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT r.name FROM realm_upgrade u JOIN realm r ON r.id = u.realm_id ORDER BY r.name").fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(name,)| name).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn apply(&self, writes: Vec<$crate::store::Write>) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                use $crate::store::{StoreError, Write};
                self.invalidate_users().await;
                let authz = writes.iter().any(|w| matches!(w, Write::DeleteRealm { .. } | Write::PutResourceServer { .. } | Write::DeleteResourceServer { .. }));
                let mut tx = self.pool.begin().await?;
                let mut deleted_realms = Vec::new();
                for w in writes {
                    match w {
                        Write::InsertRealm(r) => {
                            sqlx::query("INSERT INTO realm (id, name, version, representation, updated_at) VALUES ($1, $2, $3, $4, $5)")
                                .bind(&r.id)
                                .bind(&r.name)
                                .bind(r.version)
                                .bind(self.sealer.seal_realm(&r.representation)?)
                                .bind($crate::clock::now())
                                .execute(&mut *tx)
                                .await
                                .map_err(|e| match StoreError::from(e) {
                                    StoreError::Unique(_) => StoreError::Unique(format!("realm '{}' already exists", r.name)),
                                    other => other,
                                })?;
                            if r.representation.contains("\"organizations\"") {
                                Self::note_embedded_organizations(&mut *tx, &r.id, &r.representation).await?;
                            }
                        }
                        Write::UpdateRealm { id, expected_version, representation } => {
                            let done = sqlx::query("UPDATE realm SET representation = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4")
                                .bind(self.sealer.seal_realm(&representation)?)
                                .bind($crate::clock::now())
                                .bind(&id)
                                .bind(expected_version)
                                .execute(&mut *tx)
                                .await?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::VersionConflict);
                            }
                            Self::note_embedded_organizations(&mut *tx, &id, &representation).await?;
                        }
                        Write::DeleteRealm { id } => {
                            deleted_realms.push(id.clone());
                            sqlx::query("DELETE FROM realm_upgrade WHERE realm_id = $1").bind(&id).execute(&mut *tx).await?;
                            sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1)").bind(&id).execute(&mut *tx).await?;
                            Self::delete_realm_authz_on(&mut *tx, &id).await?;
                            for table in ["organization", "user_session", "auth_session", "auth_code", "initial_access", "user_entity"] {
                                sqlx::query(&format!("DELETE FROM {table} WHERE realm_id = $1")).bind(&id).execute(&mut *tx).await?;
                            }
                            sqlx::query("DELETE FROM realm WHERE id = $1").bind(&id).execute(&mut *tx).await?;
                        }
                        Write::DeleteUser { realm_id, id } => {
                            sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1 AND user_id = $2)").bind(&realm_id).bind(&id).execute(&mut *tx).await?;
                            sqlx::query("DELETE FROM user_session WHERE realm_id = $1 AND user_id = $2").bind(&realm_id).bind(&id).execute(&mut *tx).await?;
                            sqlx::query("DELETE FROM user_entity WHERE realm_id = $1 AND id = $2").bind(&realm_id).bind(&id).execute(&mut *tx).await?;
                        }
                        Write::UpdateUser { realm_id, user } => {
                            let representation = self.sealer.seal_user(&user.representation)?;
                            Self::update_user_on(&mut *tx, &realm_id, &user, &representation).await?;
                        }
                        Write::InsertUsers { realm_id, users } => {
                            for chunk in users.chunks($crate::store::sql::USER_CHUNK) {
                                let mut qb = sqlx::QueryBuilder::<$db>::new(
                                    "INSERT INTO user_entity (id, realm_id, username, email, representation, first_name, last_name, enabled, service_account) ",
                                );
                                let sealed = chunk.iter().map(|u| self.sealer.seal_user(&u.representation)).collect::<Result<Vec<String>, _>>()?;
                                qb.push_values(chunk.iter().zip(sealed), |mut b, (u, representation)| {
                                    let c = $crate::store::SearchColumns::of(&u.representation);
                                    b.push_bind(&u.id)
                                        .push_bind(&realm_id)
                                        .push_bind(&u.username)
                                        .push_bind(&u.email)
                                        .push_bind(representation)
                                        .push_bind(c.first_name)
                                        .push_bind(c.last_name)
                                        .push_bind(c.enabled)
                                        .push_bind(c.service_account);
                                });
                                qb.build().execute(&mut *tx).await.map_err(|e| match StoreError::from(e) {
                                    StoreError::Unique(m) => StoreError::Unique(format!("duplicate user: {m}")),
                                    other => other,
                                })?;
                                for u in chunk {
                                    Self::index_links_on(&mut *tx, &realm_id, u).await?;
                                }
                            }
                        }
                        Write::InsertOrganizations { realm_id, realm_name, organizations } => {
                            for mut o in organizations {
                                // Organization ids are unique across realms: a file whose id is
                                // another realm's (two realms imported from copies of one file)
                                // gets a fresh id rather than failing.
                                let taken: Option<(String,)> = sqlx::query_as("SELECT realm_id FROM organization WHERE id = $1").bind(&o.row.id).fetch_optional(&mut *tx).await?;
                                if taken.is_some_and(|(r,)| r != realm_id) {
                                    o.row.id = uuid::Uuid::new_v4().to_string();
                                }
                                Self::insert_organization_on(&mut *tx, &realm_id, &o).await.map_err(|e| e.into_store(&realm_name))?;
                            }
                        }
                        Write::PutResourceServer { realm_id, server } => {
                            Self::put_resource_server_on(&mut *tx, &realm_id, &server).await?;
                        }
                        Write::DeleteResourceServer { realm_id, id } => {
                            Self::delete_resource_server_on(&mut *tx, &realm_id, &id).await?;
                        }
                        Write::UseInitialAccess { realm_id, token_hash, now } => {
                            let done = sqlx::query("UPDATE initial_access SET remaining = remaining - 1 WHERE token_hash = $1 AND realm_id = $2 AND remaining > 0 AND (expiration = 0 OR created_at + expiration > $3)")
                                .bind(&token_hash)
                                .bind(&realm_id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::Exhausted);
                            }
                        }
                    }
                }
                tx.commit().await?;
                for id in &deleted_realms {
                    self.forget_realm_logins(id);
                }
                self.invalidate_sessions().await;
                // Again after the commit: a read during the transaction may have cached old rows.
                self.invalidate_users().await;
                if authz {
                    self.invalidate_authz().await;
                }
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn reseal_all(&self) -> Result<$crate::store::Resealed, $crate::store::StoreError> {
                let mut done = $crate::store::Resealed::default();
                let realms: Vec<(String, String)> = sqlx::query_as("SELECT id, representation FROM realm ORDER BY name").fetch_all(&self.pool).await?;
                for (id, stored) in realms {
                    let Some(sealed) = self.sealer.reseal(&stored, false)? else { continue };
                    let _gate = self.gate.enter().await?;
                    // Compare-and-set on the text read: a node's write in between wins.
                    let n = sqlx::query("UPDATE realm SET representation = $1 WHERE id = $2 AND representation = $3")
                        .bind(&sealed).bind(&id).bind(&stored).execute(&self.pool).await?.rows_affected();
                    if n == 1 { done.realms += 1 } else { done.changed_meanwhile += 1 }
                }
                let mut after: i64 = -1;
                loop {
                    let page: Vec<(i64, String, String, String)> = sqlx::query_as(
                        "SELECT seq, realm_id, id, representation FROM user_entity WHERE seq > $1 AND representation LIKE '%secretData%' ORDER BY seq LIMIT 500",
                    )
                    .bind(after)
                    .fetch_all(&self.pool)
                    .await?;
                    let Some(last) = page.last() else { break };
                    after = last.0;
                    for (_, realm_id, id, stored) in page {
                        let Some(sealed) = self.sealer.reseal(&stored, true)? else { continue };
                        let _gate = self.gate.enter().await?;
                        let n = sqlx::query("UPDATE user_entity SET representation = $1 WHERE realm_id = $2 AND id = $3 AND representation = $4")
                            .bind(&sealed).bind(&realm_id).bind(&id).bind(&stored).execute(&self.pool).await?.rows_affected();
                        if n == 1 { done.users += 1 } else { done.changed_meanwhile += 1 }
                    }
                }
                self.invalidate_users().await;
                Ok(done)
            }
        }
    };
}

pub(crate) use impl_realms;
