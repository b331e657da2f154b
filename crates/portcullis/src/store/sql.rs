//! The SQL both backends share. The statements are portable (`$n` placeholders work in both
//! SQLite and PostgreSQL); the macro stamps one `Store` implementation per database type so
//! the two stay identical without a runtime `if sqlite` anywhere.

/// Users are inserted in chunks below SQLite's bound-parameter limit.
pub(crate) const USER_CHUNK: usize = 1000;

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

macro_rules! impl_store {
    ($store:ident, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn realms(&self) -> Result<Vec<$crate::store::StoredRealm>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
                    "SELECT id, name, version, representation FROM realm ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, name, version, representation)| $crate::store::StoredRealm { id, name, version, representation })
                    .collect())
            }

            async fn realm_by_name(&self, name: &str) -> Result<Option<$crate::store::StoredRealm>, $crate::store::StoreError> {
                let row: Option<(String, String, i64, String)> = sqlx::query_as(
                    "SELECT id, name, version, representation FROM realm WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(id, name, version, representation)| $crate::store::StoredRealm { id, name, version, representation }))
            }

            async fn users(&self, realm_id: &str) -> Result<Vec<$crate::store::UserRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
                    "SELECT id, username, email, representation FROM user_entity WHERE realm_id = $1 ORDER BY seq",
                )
                .bind(realm_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, username, email, representation)| $crate::store::UserRow { id, username, email, representation })
                    .collect())
            }

            async fn user_count(&self, realm_id: &str) -> Result<i64, $crate::store::StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_entity WHERE realm_id = $1")
                    .bind(realm_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n)
            }

            async fn apply(&self, writes: Vec<$crate::store::Write>) -> Result<(), $crate::store::StoreError> {
                use $crate::store::{StoreError, Write};
                let mut tx = self.pool.begin().await?;
                for w in writes {
                    match w {
                        Write::InsertRealm(r) => {
                            sqlx::query("INSERT INTO realm (id, name, version, representation, updated_at) VALUES ($1, $2, $3, $4, $5)")
                                .bind(&r.id)
                                .bind(&r.name)
                                .bind(r.version)
                                .bind(&r.representation)
                                .bind($crate::store::sql::now())
                                .execute(&mut *tx)
                                .await
                                .map_err(|e| match StoreError::from(e) {
                                    StoreError::Conflict(_) => StoreError::Conflict(format!("realm '{}' already exists", r.name)),
                                    other => other,
                                })?;
                        }
                        Write::UpdateRealm { id, expected_version, representation } => {
                            let done = sqlx::query("UPDATE realm SET representation = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4")
                                .bind(&representation)
                                .bind($crate::store::sql::now())
                                .bind(&id)
                                .bind(expected_version)
                                .execute(&mut *tx)
                                .await?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::Conflict("the realm was changed concurrently; retry".into()));
                            }
                        }
                        Write::DeleteRealm { id } => {
                            sqlx::query("DELETE FROM user_entity WHERE realm_id = $1").bind(&id).execute(&mut *tx).await?;
                            sqlx::query("DELETE FROM realm WHERE id = $1").bind(&id).execute(&mut *tx).await?;
                        }
                        Write::InsertUsers { realm_id, users } => {
                            for chunk in users.chunks($crate::store::sql::USER_CHUNK) {
                                let mut qb = sqlx::QueryBuilder::<$db>::new(
                                    "INSERT INTO user_entity (id, realm_id, username, email, representation) ",
                                );
                                qb.push_values(chunk, |mut b, u| {
                                    b.push_bind(&u.id)
                                        .push_bind(&realm_id)
                                        .push_bind(&u.username)
                                        .push_bind(&u.email)
                                        .push_bind(&u.representation);
                                });
                                qb.build().execute(&mut *tx).await.map_err(|e| match StoreError::from(e) {
                                    StoreError::Conflict(m) => StoreError::Conflict(format!("duplicate user: {m}")),
                                    other => other,
                                })?;
                            }
                        }
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;
