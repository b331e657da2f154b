//! Users and their credentials (held in the stored `UserRepresentation`), look-ups by name,
//! e-mail and id, and the Admin API's search.

use async_trait::async_trait;

use super::StoreError;

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

/// The links of a user document (`federatedIdentities`: identity provider alias, the
/// provider's user id), as the `federated_identity` index holds them; entries without either
/// are not indexed.
pub(crate) fn federated_links(representation: &str) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Link {
        identity_provider: Option<String>,
        user_id: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Links {
        #[serde(default)]
        federated_identities: Option<Vec<serde_json::Value>>,
    }
    let Ok(l) = serde_json::from_str::<Links>(representation) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = l
        .federated_identities
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Link>(v).ok())
        .filter_map(|k| Some((k.identity_provider?, k.user_id?)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Users and their credentials (held in the stored `UserRepresentation`), look-ups by name,.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// A realm's users in insertion order.
    async fn users(&self, realm_id: &str) -> Result<Vec<UserRow>, StoreError>;
    /// Number of users in a realm.
    async fn user_count(&self, realm_id: &str) -> Result<i64, StoreError>;
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
    /// The user linked to `provider_user_id` at the identity provider `alias` (Keycloak's
    /// `getUserByFederatedIdentity`), through the `federated_identity` index that every user
    /// write keeps in step with the user's `federatedIdentities`.
    async fn user_by_federated_identity(
        &self,
        realm_id: &str,
        alias: &str,
        provider_user_id: &str,
    ) -> Result<Option<UserRow>, StoreError>;
    /// Replaces a user's representation (e.g. a re-hashed password).
    async fn update_user(&self, realm_id: &str, user: &UserRow) -> Result<(), StoreError>;
    /// Users matching a search, ordered by user name.
    async fn search_users(&self, realm_id: &str, q: &UserQuery)
        -> Result<Vec<UserRow>, StoreError>;
    /// Number of users matching a search (paging ignored).
    async fn count_users(&self, realm_id: &str, q: &UserQuery) -> Result<i64, StoreError>;
    /// Inserts one user; a taken user name or id is a conflict.
    async fn insert_user(&self, realm_id: &str, user: &UserRow) -> Result<(), StoreError>;
    /// Deletes a user with the user's sessions and permission tickets (as requester and as
    /// owner); false when there was none. The users module's `delete_user` also
    /// removes what the user owned in resource servers.
    async fn delete_user(&self, realm_id: &str, id: &str) -> Result<bool, StoreError>;
}

/// Stamps [`UserStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_users {
    ($store:ident, $db:ty) => {
        impl $store {
            /// A user row as read, its secret fields opened (see `crypto::seal`).
            fn opened_user(&self, (id, username, email, representation): (String, String, Option<String>, String)) -> Result<$crate::store::UserRow, $crate::store::StoreError> {
                let representation = self.sealer.open_user(&representation)?;
                Ok($crate::store::UserRow { id, username, email, representation })
            }

            /// One user by `username` or `id` (the column name is one of those two literals),
            /// through the backend's cache.
            async fn cached_user_lookup(&self, realm_id: &str, column: &'static str, value: &str) -> Result<Option<$crate::store::UserRow>, $crate::store::StoreError> {
                let key = (realm_id.to_string(), format!("{column}:{value}"));
                if let Some(hit) = self.cached_user(key.clone()) {
                    return Ok(hit);
                }
                let generation = self.user_generation();
                let sql = format!("SELECT id, username, email, representation FROM user_entity WHERE realm_id = $1 AND {column} = $2");
                let row: Option<(String, String, Option<String>, String)> = sqlx::query_as(&sql).bind(realm_id).bind(value).fetch_optional(&self.pool).await?;
                let row = row.map(|t| self.opened_user(t)).transpose()?;
                self.cache_user(key, generation, row.clone());
                Ok(row)
            }

            /// Indexes the links of a user document (`federated_identity`); a provider
            /// identity already linked to another user is a conflict.
            /// Replaces a user's row (its document `representation` as stored, sealed) and its
            /// identity-provider link index, on `conn` (a transaction's).
            pub(crate) async fn update_user_on(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, user: &$crate::store::UserRow, representation: &str) -> Result<(), $crate::store::StoreError> {
                let c = $crate::store::SearchColumns::of(&user.representation);
                sqlx::query("UPDATE user_entity SET username = $1, email = $2, representation = $3, first_name = $6, last_name = $7, enabled = $8, service_account = $9 WHERE realm_id = $4 AND id = $5")
                    .bind(&user.username)
                    .bind(&user.email)
                    .bind(representation)
                    .bind(realm_id)
                    .bind(&user.id)
                    .bind(c.first_name)
                    .bind(c.last_name)
                    .bind(c.enabled)
                    .bind(c.service_account)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| match $crate::store::StoreError::from(e) {
                        $crate::store::StoreError::Unique(m) => $crate::store::StoreError::Unique(format!("duplicate user: {m}")),
                        other => other,
                    })?;
                sqlx::query("DELETE FROM federated_identity WHERE user_id = $1").bind(&user.id).execute(&mut *conn).await?;
                Self::index_links_on(&mut *conn, realm_id, user).await?;
                Ok(())
            }

            async fn index_links_on(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, user: &$crate::store::UserRow) -> Result<(), $crate::store::StoreError> {
                for (alias, provider_user_id) in $crate::store::users::federated_links(&user.representation) {
                    sqlx::query("INSERT INTO federated_identity (realm_id, identity_provider, provider_user_id, user_id) VALUES ($1, $2, $3, $4)")
                        .bind(realm_id)
                        .bind(&alias)
                        .bind(&provider_user_id)
                        .bind(&user.id)
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| match $crate::store::StoreError::from(e) {
                            $crate::store::StoreError::Unique(_) => $crate::store::StoreError::Unique(format!("the identity of '{provider_user_id}' at '{alias}' is linked to another user")),
                            other => other,
                        })?;
                }
                Ok(())
            }

            /// Appends a user search's conditions (after `WHERE`).
            fn user_filters<'q>(qb: &mut sqlx::QueryBuilder<'q, $db>, realm_id: &'q str, q: &'q $crate::store::UserQuery) {
                // With conditions, the realm is restricted inside each one (an indexed range
                // per field): a realm test out here would let the planner scan the realm.
                if q.conditions.is_empty() {
                    qb.push("realm_id = ").push_bind(realm_id);
                } else {
                    qb.push("1 = 1");
                }
                if !q.include_service_accounts {
                    qb.push(" AND service_account = 0");
                }
                if let Some(enabled) = q.enabled {
                    qb.push(" AND enabled = ").push_bind(i64::from(enabled));
                }
                for cond in &q.conditions {
                    // One indexed range per field, united: the planner cannot turn an OR over
                    // several columns into index scans without statistics, and a scan of the
                    // realm in user-name order is slow for rare prefixes.
                    qb.push(" AND seq IN (");
                    for (i, f) in cond.fields.iter().enumerate() {
                        if i > 0 {
                            qb.push(" UNION ");
                        }
                        qb.push("SELECT seq FROM user_entity WHERE realm_id = ").push_bind(realm_id).push(" AND ");
                        Self::push_match(qb, f.column(), &cond.matches);
                    }
                    qb.push(")");
                }
            }

            /// `column <matches>`: equality, an index range for a prefix, or `LIKE`.
            fn push_match<'q>(qb: &mut sqlx::QueryBuilder<'q, $db>, col: &'static str, m: &'q $crate::store::Match) {
                use $crate::store::Match;
                match m {
                    Match::Exact(v) => {
                        qb.push(col).push(" = ").push_bind(v.as_str());
                    }
                    Match::Prefix(v) => {
                        qb.push(col).push(" >= ").push_bind(v.as_str());
                        qb.push(" AND ").push(col).push(" < ").push_bind(format!("{v}\u{10FFFF}"));
                    }
                    Match::Like(v) => {
                        qb.push(col).push(" LIKE ").push_bind(v.as_str()).push(" ESCAPE '\\'");
                    }
                }
            }

            /// One condition over several fields (a `search` word): each field's indexed range
            /// is cut to the page in user-name order before the union, so only a page of rows is
            /// read whatever the number of matches.
            fn one_condition_page<'q>(qb: &mut sqlx::QueryBuilder<'q, $db>, realm_id: &'q str, q: &'q $crate::store::UserQuery, cond: &'q $crate::store::UserCondition) {
                let upto = q.first.max(0).saturating_add(q.max.max(0));
                qb.push("seq IN (SELECT seq FROM (");
                for (i, f) in cond.fields.iter().enumerate() {
                    if i > 0 {
                        qb.push(" UNION ");
                    }
                    qb.push("SELECT seq, username FROM (SELECT seq, username FROM user_entity WHERE realm_id = ").push_bind(realm_id).push(" AND ");
                    Self::push_match(qb, f.column(), &cond.matches);
                    if !q.include_service_accounts {
                        qb.push(" AND service_account = 0");
                    }
                    if let Some(enabled) = q.enabled {
                        qb.push(" AND enabled = ").push_bind(i64::from(enabled));
                    }
                    qb.push(" ORDER BY username LIMIT ").push_bind(upto).push(format!(") b{i}"));
                }
                qb.push(") m ORDER BY username LIMIT ").push_bind(q.max.max(0)).push(" OFFSET ").push_bind(q.first.max(0)).push(")");
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn users(&self, realm_id: &str) -> Result<Vec<$crate::store::UserRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
                    "SELECT id, username, email, representation FROM user_entity WHERE realm_id = $1 ORDER BY seq",
                )
                .bind(realm_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|t| self.opened_user(t)).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn user_count(&self, realm_id: &str) -> Result<i64, $crate::store::StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_entity WHERE realm_id = $1")
                    .bind(realm_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn user_by_username(&self, realm_id: &str, username: &str) -> Result<Option<$crate::store::UserRow>, $crate::store::StoreError> {
                self.cached_user_lookup(realm_id, "username", username).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn users_by_email(&self, realm_id: &str, email: &str) -> Result<Vec<$crate::store::UserRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
                    "SELECT id, username, email, representation FROM user_entity WHERE realm_id = $1 AND email = $2 ORDER BY seq LIMIT 2",
                )
                .bind(realm_id)
                .bind(email)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|t| self.opened_user(t)).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn user_by_id(&self, realm_id: &str, id: &str) -> Result<Option<$crate::store::UserRow>, $crate::store::StoreError> {
                self.cached_user_lookup(realm_id, "id", id).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn user_by_federated_identity(&self, realm_id: &str, alias: &str, provider_user_id: &str) -> Result<Option<$crate::store::UserRow>, $crate::store::StoreError> {
                let row: Option<(String, String, Option<String>, String)> = sqlx::query_as(
                    "SELECT u.id, u.username, u.email, u.representation FROM federated_identity f JOIN user_entity u ON u.id = f.user_id WHERE f.realm_id = $1 AND f.identity_provider = $2 AND f.provider_user_id = $3",
                )
                .bind(realm_id)
                .bind(alias)
                .bind(provider_user_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|t| self.opened_user(t)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_user(&self, realm_id: &str, user: &$crate::store::UserRow) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                self.invalidate_users().await;
                let representation = self.sealer.seal_user(&user.representation)?;
                let mut tx = self.pool.begin().await?;
                Self::update_user_on(&mut *tx, realm_id, user, &representation).await?;
                tx.commit().await?;
                // Again after the commit: a read between the two may have cached the old row.
                self.invalidate_users().await;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn search_users(&self, realm_id: &str, q: &$crate::store::UserQuery) -> Result<Vec<$crate::store::UserRow>, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT id, username, email, representation FROM user_entity WHERE ");
                if let [cond] = q.conditions.as_slice() {
                    Self::one_condition_page(&mut qb, realm_id, q, cond);
                    qb.push(" ORDER BY lower(username)");
                    let rows: Vec<(String, String, Option<String>, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                    return rows.into_iter().map(|t| self.opened_user(t)).collect();
                }
                Self::user_filters(&mut qb, realm_id, q);
                // With conditions, the matches are few: fetch them by id and sort them. Ordering
                // by the bare column would let the planner walk the whole realm in user-name
                // order testing each row (`lower()` of the already lower-case name keeps the
                // order and takes that plan away). Without conditions, that walk is the plan.
                let order = if q.conditions.is_empty() { " ORDER BY username" } else { " ORDER BY lower(username)" };
                qb.push(order).push(" LIMIT ").push_bind(q.max.max(0)).push(" OFFSET ").push_bind(q.first.max(0));
                let rows: Vec<(String, String, Option<String>, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(|t| self.opened_user(t)).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn count_users(&self, realm_id: &str, q: &$crate::store::UserQuery) -> Result<i64, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM user_entity WHERE ");
                Self::user_filters(&mut qb, realm_id, q);
                let (n,): (i64,) = qb.build_query_as().fetch_one(&self.pool).await?;
                Ok(n)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_user(&self, realm_id: &str, user: &$crate::store::UserRow) -> Result<(), $crate::store::StoreError> {
                $crate::store::RealmStore::apply(self, vec![$crate::store::Write::InsertUsers { realm_id: realm_id.to_string(), users: vec![user.clone()] }]).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_user(&self, realm_id: &str, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                self.invalidate_users().await;
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1 AND user_id = $2)").bind(realm_id).bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM user_session WHERE realm_id = $1 AND user_id = $2").bind(realm_id).bind(id).execute(&mut *tx).await?;
                // The user's permission tickets, as requester and as owner (Keycloak's `UserSynchronizer`).
                sqlx::query("DELETE FROM authz_permission_ticket WHERE realm_id = $1 AND (requester = $2 OR owner = $2)").bind(realm_id).bind(id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM user_entity WHERE realm_id = $1 AND id = $2").bind(realm_id).bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                self.invalidate_sessions().await;
                self.invalidate_users().await;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use impl_users;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::federated_links;

    #[test]
    fn links_of_a_user_document() {
        let doc = r#"{"username":"u","federatedIdentities":[
            {"identityProvider":"up","userId":"42","userName":"alice"},
            {"identityProvider":"gh","userId":"7"},
            {"identityProvider":"up","userId":"42"},
            {"identityProvider":"broken"},
            "not an object"
        ]}"#;
        assert_eq!(
            federated_links(doc),
            vec![
                ("gh".to_string(), "7".to_string()),
                ("up".to_string(), "42".to_string())
            ]
        );
        assert!(federated_links(r#"{"username":"u"}"#).is_empty());
        assert!(federated_links(r#"{"federatedIdentities":null}"#).is_empty());
        assert!(federated_links("not json").is_empty());
    }
}
