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

/// Seconds between two sweeps of one table's expired rows, per process.
pub(crate) const SWEEP_INTERVAL: i64 = 30;

/// Expired sessions removed by one statement of a sweep.
pub(crate) const SWEEP_BATCH: usize = 500;

/// The tables of short-lived rows, swept by `expires_at`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swept {
    AuthSession,
    AuthCode,
    RevokedToken,
    DeviceCode,
}

impl Swept {
    /// The sweep's statement, and how long past `expires_at` a row is kept (codes an hour, to
    /// recognise a replay; revoked tokens a minute beyond the token's own expiry).
    pub(crate) fn statement(self) -> (&'static str, i64) {
        match self {
            Swept::AuthSession => ("DELETE FROM auth_session WHERE expires_at < $1", 0),
            Swept::AuthCode => ("DELETE FROM auth_code WHERE expires_at < $1", 3600),
            Swept::RevokedToken => ("DELETE FROM revoked_token WHERE expires_at < $1", 60),
            Swept::DeviceCode => ("DELETE FROM device_code WHERE expires_at < $1", 3600),
        }
    }
}

/// When each table of short-lived rows was last swept. A sweep ran on every insert: a
/// statement (and a write, on SQLite a write lock) more per login step. Now each table is swept
/// at most every [`SWEEP_INTERVAL`] seconds per process. Nothing depends on expired rows being
/// gone: every read checks `expires_at` (or the row's own expiry, as an assertion's `exp`), and a
/// row kept a little longer only keeps a replay detectable longer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sweeps(std::sync::Arc<[std::sync::atomic::AtomicI64; 4]>);

impl Sweeps {
    /// Whether `table` is due for a sweep at `now`; if so, the next one is due an interval
    /// later (one caller among concurrent ones wins).
    pub(crate) fn due(&self, table: Swept, now: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let next = &self.0[table as usize];
        let at = next.load(Relaxed);
        now >= at
            && next
                .compare_exchange(at, now + SWEEP_INTERVAL, Relaxed, Relaxed)
                .is_ok()
    }
}

/// How long a write waits for its turn at the [`WriteGate`].
pub(crate) const GATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serializes this process's writes where the database has a single writer. SQLite lets one
/// connection write at a time; the others got `SQLITE_BUSY` and waited in its busy handler,
/// which sleeps (1, 2, 5, ... 100 ms) and retries: under concurrent logins that put hundreds
/// of milliseconds on the slowest requests and left the core idle. Queued here instead, writers
/// take turns in arrival order and nobody sleeps. Reads never wait (WAL). PostgreSQL's writers
/// run concurrently, so its gate is open.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteGate(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

impl WriteGate {
    /// A gate that lets one writer through at a time.
    pub(crate) fn single_writer() -> Self {
        WriteGate(Some(std::sync::Arc::default()))
    }
    /// Waits for this caller's turn (at once if the gate is open); the turn lasts as long as the
    /// guard. After [`GATE_TIMEOUT`] the write fails, as SQLite's own `busy_timeout` did.
    pub(crate) async fn enter(
        &self,
    ) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, crate::store::StoreError> {
        match &self.0 {
            Some(m) => tokio::time::timeout(GATE_TIMEOUT, m.lock())
                .await
                .map(Some)
                .map_err(|_| {
                    crate::store::StoreError::Database(
                        "database is busy: a write waited more than 10 s for its turn".into(),
                    )
                }),
            None => Ok(None),
        }
    }
}

/// Reads a [`crate::store::DeviceCodeRow`], columns in [`DeviceCodeTuple`] order.
pub(crate) const DEVICE_CODE_SELECT: &str = "SELECT device_code_hash, realm_id, client_id, user_code, data, expires_at, poll_interval, status, session_id, user_id FROM device_code";

/// A `device_code` row as read.
pub(crate) type DeviceCodeTuple = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
);

/// Builds the row type from a read tuple.
pub(crate) fn device_code_row(t: DeviceCodeTuple) -> crate::store::DeviceCodeRow {
    let (
        device_code_hash,
        realm_id,
        client_id,
        user_code,
        data,
        expires_at,
        poll_interval,
        status,
        session_id,
        user_id,
    ) = t;
    crate::store::DeviceCodeRow {
        device_code_hash,
        realm_id,
        client_id,
        user_code,
        data,
        expires_at,
        poll_interval,
        status,
        session_id,
        user_id,
    }
}

/// A `user_session` row as read: id, realm, user, offline, created, last refresh, notes.
pub(crate) type SessionTuple = (String, String, String, i64, i64, i64, String);

/// A session from its row.
pub(crate) fn session_row(t: SessionTuple) -> crate::store::SessionRow {
    let (id, realm_id, user_id, offline, created_at, last_refresh, data) = t;
    crate::store::SessionRow {
        id,
        realm_id,
        user_id,
        offline: offline != 0,
        created_at,
        last_refresh,
        data,
    }
}

/// An ended session from its row and its clients (sorted here).
pub(crate) fn ended(t: SessionTuple, mut clients: Vec<String>) -> crate::store::EndedSession {
    clients.sort();
    clients.dedup();
    crate::store::EndedSession {
        session: session_row(t),
        clients,
    }
}

macro_rules! impl_store {
    ($store:ident, $db:ty, $backend:literal) => {
        impl $store {
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
                let row = row.map(|(id, username, email, representation)| $crate::store::UserRow { id, username, email, representation });
                self.cache_user(key, generation, row.clone());
                Ok(row)
            }

            /// Sweeps `table`'s expired rows if it is due (see [`Sweeps`]); the caller holds the
            /// write gate.
            async fn sweep_expired(&self, table: $crate::store::sql::Swept) -> Result<(), $crate::store::StoreError> {
                let now = $crate::store::sql::now();
                if self.sweeps.due(table, now) {
                    let (sql, kept) = table.statement();
                    sqlx::query(sql).bind(now - kept).execute(&self.pool).await?;
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
                let _gate = self.gate.enter().await?;
                use $crate::store::{StoreError, Write};
                self.invalidate_users();
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
                            sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1)").bind(&id).execute(&mut *tx).await?;
                            for table in ["user_session", "auth_session", "auth_code", "initial_access", "user_entity"] {
                                sqlx::query(&format!("DELETE FROM {table} WHERE realm_id = $1")).bind(&id).execute(&mut *tx).await?;
                            }
                            sqlx::query("DELETE FROM realm WHERE id = $1").bind(&id).execute(&mut *tx).await?;
                        }
                        Write::DeleteUser { realm_id, id } => {
                            sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1 AND user_id = $2)").bind(&realm_id).bind(&id).execute(&mut *tx).await?;
                            sqlx::query("DELETE FROM user_session WHERE realm_id = $1 AND user_id = $2").bind(&realm_id).bind(&id).execute(&mut *tx).await?;
                            sqlx::query("DELETE FROM user_entity WHERE realm_id = $1 AND id = $2").bind(&realm_id).bind(&id).execute(&mut *tx).await?;
                        }
                        Write::InsertUsers { realm_id, users } => {
                            for chunk in users.chunks($crate::store::sql::USER_CHUNK) {
                                let mut qb = sqlx::QueryBuilder::<$db>::new(
                                    "INSERT INTO user_entity (id, realm_id, username, email, representation, first_name, last_name, enabled, service_account) ",
                                );
                                qb.push_values(chunk, |mut b, u| {
                                    let c = $crate::store::SearchColumns::of(&u.representation);
                                    b.push_bind(&u.id)
                                        .push_bind(&realm_id)
                                        .push_bind(&u.username)
                                        .push_bind(&u.email)
                                        .push_bind(&u.representation)
                                        .push_bind(c.first_name)
                                        .push_bind(c.last_name)
                                        .push_bind(c.enabled)
                                        .push_bind(c.service_account);
                                });
                                qb.build().execute(&mut *tx).await.map_err(|e| match StoreError::from(e) {
                                    StoreError::Conflict(m) => StoreError::Conflict(format!("duplicate user: {m}")),
                                    other => other,
                                })?;
                            }
                        }
                        Write::UseInitialAccess { realm_id, token_hash, now } => {
                            let done = sqlx::query("UPDATE initial_access SET remaining = remaining - 1 WHERE token_hash = $1 AND realm_id = $2 AND remaining > 0 AND (expiration = 0 OR created_at + expiration > $3)")
                                .bind(&token_hash)
                                .bind(&realm_id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            if done.rows_affected() != 1 {
                                return Err(StoreError::Conflict($crate::store::INITIAL_ACCESS_USED_UP.into()));
                            }
                        }
                    }
                }
                tx.commit().await?;
                self.invalidate_sessions();
                // Again after the commit: a read during the transaction may have cached old rows.
                self.invalidate_users();
                Ok(())
            }

            async fn user_by_username(&self, realm_id: &str, username: &str) -> Result<Option<$crate::store::UserRow>, $crate::store::StoreError> {
                self.cached_user_lookup(realm_id, "username", username).await
            }

            async fn users_by_email(&self, realm_id: &str, email: &str) -> Result<Vec<$crate::store::UserRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
                    "SELECT id, username, email, representation FROM user_entity WHERE realm_id = $1 AND email = $2 ORDER BY seq LIMIT 2",
                )
                .bind(realm_id)
                .bind(email)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(id, username, email, representation)| $crate::store::UserRow { id, username, email, representation }).collect())
            }

            async fn user_by_id(&self, realm_id: &str, id: &str) -> Result<Option<$crate::store::UserRow>, $crate::store::StoreError> {
                self.cached_user_lookup(realm_id, "id", id).await
            }

            async fn update_user(&self, realm_id: &str, user: &$crate::store::UserRow) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                self.invalidate_users();
                let c = $crate::store::SearchColumns::of(&user.representation);
                sqlx::query("UPDATE user_entity SET username = $1, email = $2, representation = $3, first_name = $6, last_name = $7, enabled = $8, service_account = $9 WHERE realm_id = $4 AND id = $5")
                    .bind(&user.username)
                    .bind(&user.email)
                    .bind(&user.representation)
                    .bind(realm_id)
                    .bind(&user.id)
                    .bind(c.first_name)
                    .bind(c.last_name)
                    .bind(c.enabled)
                    .bind(c.service_account)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| match $crate::store::StoreError::from(e) {
                        $crate::store::StoreError::Conflict(m) => $crate::store::StoreError::Conflict(format!("duplicate user: {m}")),
                        other => other,
                    })?;
                // Again after the commit: a read between the two may have cached the old row.
                self.invalidate_users();
                Ok(())
            }

            async fn create_session(&self, s: &$crate::store::SessionRow, client_id: &str, refresh_token_id: Option<&str>) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                sqlx::query("INSERT INTO user_session (id, realm_id, user_id, offline, created_at, last_refresh, data) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&s.id)
                    .bind(&s.realm_id)
                    .bind(&s.user_id)
                    .bind(i64::from(s.offline))
                    .bind(s.created_at)
                    .bind(s.last_refresh)
                    .bind(&s.data)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO client_session (session_id, client_id, refresh_token_id, refresh_use_count, updated_at) VALUES ($1, $2, $3, 0, $4)")
                    .bind(&s.id)
                    .bind(client_id)
                    .bind(refresh_token_id)
                    .bind(s.created_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.invalidate_sessions();
                Ok(())
            }

            async fn session(&self, id: &str) -> Result<Option<$crate::store::SessionRow>, $crate::store::StoreError> {
                if let Some(hit) = self.cached_session(id) {
                    return Ok(hit);
                }
                let generation = self.session_generation();
                let row: Option<$crate::store::sql::SessionTuple> = sqlx::query_as(
                    "SELECT id, realm_id, user_id, offline, created_at, last_refresh, data FROM user_session WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let row = row.map($crate::store::sql::session_row);
                self.cache_session(id, generation, row.clone());
                Ok(row)
            }

            async fn touch_session(&self, id: &str, now: i64) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("UPDATE user_session SET last_refresh = $1 WHERE id = $2").bind(now).bind(id).execute(&self.pool).await?;
                self.invalidate_sessions();
                Ok(())
            }

            async fn delete_session(&self, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM client_session WHERE session_id = $1").bind(id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM user_session WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                self.invalidate_sessions();
                Ok(done.rows_affected() > 0)
            }

            async fn end_session(&self, id: &str) -> Result<Option<$crate::store::EndedSession>, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                // The first statement writes, so SQLite takes its write lock before reading
                // anything, and a concurrent PostgreSQL transaction waits on the rows and then
                // finds them gone: one caller gets the session.
                let mut tx = self.pool.begin().await?;
                let clients: Vec<(String,)> = sqlx::query_as("DELETE FROM client_session WHERE session_id = $1 RETURNING client_id")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
                let row: Option<$crate::store::sql::SessionTuple> = sqlx::query_as("DELETE FROM user_session WHERE id = $1 RETURNING id, realm_id, user_id, offline, created_at, last_refresh, data")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.invalidate_sessions();
                Ok(row.map(|t| $crate::store::sql::ended(t, clients.into_iter().map(|(c,)| c).collect())))
            }

            async fn end_user_sessions(&self, realm_id: &str, user_id: &str) -> Result<Vec<$crate::store::EndedSession>, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                let clients: Vec<(String, String)> = sqlx::query_as("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1 AND user_id = $2) RETURNING session_id, client_id")
                    .bind(realm_id)
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let rows: Vec<$crate::store::sql::SessionTuple> = sqlx::query_as("DELETE FROM user_session WHERE realm_id = $1 AND user_id = $2 RETURNING id, realm_id, user_id, offline, created_at, last_refresh, data")
                    .bind(realm_id)
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.invalidate_sessions();
                let mut out: Vec<$crate::store::EndedSession> = rows
                    .into_iter()
                    .map(|t| {
                        let of_session = clients.iter().filter(|(s, _)| *s == t.0).map(|(_, c)| c.clone()).collect();
                        $crate::store::sql::ended(t, of_session)
                    })
                    .collect();
                out.sort_by(|a, b| (a.session.created_at, &a.session.id).cmp(&(b.session.created_at, &b.session.id)));
                Ok(out)
            }

            async fn set_refresh_token(&self, session_id: &str, client_id: &str, new_id: &str, now: i64) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("UPDATE client_session SET refresh_token_id = $1, refresh_use_count = 0, updated_at = $2 WHERE session_id = $3 AND client_id = $4")
                    .bind(new_id)
                    .bind(now)
                    .bind(session_id)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    sqlx::query("INSERT INTO client_session (session_id, client_id, refresh_token_id, refresh_use_count, updated_at) VALUES ($1, $2, $3, 0, $4)")
                        .bind(session_id)
                        .bind(client_id)
                        .bind(new_id)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(())
            }

            async fn use_refresh_token(&self, session_id: &str, client_id: &str, presented: &str, presented_iat: i64, max_reuse: i64, now: i64) -> Result<$crate::store::RefreshUse, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                // Keycloak's `TokenManager.validateTokenReuse`: the current token may be used
                // `max_reuse + 1` times; a token issued after the last change becomes current;
                // an older one is stale. Each step is one conditional UPDATE, so concurrent
                // nodes cannot both pass the limit.
                let current = sqlx::query("UPDATE client_session SET refresh_use_count = refresh_use_count + 1, updated_at = $1 WHERE session_id = $2 AND client_id = $3 AND refresh_token_id = $4 AND refresh_use_count <= $5")
                    .bind(now)
                    .bind(session_id)
                    .bind(client_id)
                    .bind(presented)
                    .bind(max_reuse)
                    .execute(&self.pool)
                    .await?;
                if current.rows_affected() == 1 {
                    return Ok($crate::store::RefreshUse::Accepted);
                }
                let newer = sqlx::query("UPDATE client_session SET refresh_token_id = $1, refresh_use_count = 1, updated_at = $2 WHERE session_id = $3 AND client_id = $4 AND (refresh_token_id IS NULL OR refresh_token_id <> $1) AND updated_at <= $5")
                    .bind(presented)
                    .bind(now)
                    .bind(session_id)
                    .bind(client_id)
                    .bind(presented_iat)
                    .execute(&self.pool)
                    .await?;
                Ok(if newer.rows_affected() == 1 { $crate::store::RefreshUse::Accepted } else { $crate::store::RefreshUse::Rejected })
            }

            async fn put_auth_session(&self, id: &str, realm_id: &str, data: &str, expires_at: i64) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                self.sweep_expired($crate::store::sql::Swept::AuthSession).await?;
                sqlx::query("INSERT INTO auth_session (id, realm_id, data, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(realm_id)
                    .bind(data)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn auth_session(&self, id: &str, now: i64) -> Result<Option<(String, String)>, $crate::store::StoreError> {
                let row: Option<(String, String)> = sqlx::query_as("SELECT realm_id, data FROM auth_session WHERE id = $1 AND expires_at >= $2")
                    .bind(id)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row)
            }

            async fn delete_auth_session(&self, id: &str) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("DELETE FROM auth_session WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(())
            }

            async fn put_code(&self, code_hash: &str, realm_id: &str, data: &str, expires_at: i64) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                self.sweep_expired($crate::store::sql::Swept::AuthCode).await?;
                sqlx::query("INSERT INTO auth_code (code_hash, realm_id, data, expires_at, used) VALUES ($1, $2, $3, $4, 0)")
                    .bind(code_hash)
                    .bind(realm_id)
                    .bind(data)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn use_code(&self, code_hash: &str) -> Result<Option<(String, String, i64, bool)>, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                // The conditional UPDATE decides which of two concurrent redemptions is first.
                let first = sqlx::query("UPDATE auth_code SET used = 1 WHERE code_hash = $1 AND used = 0")
                    .bind(code_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1;
                let row: Option<(String, String, i64)> = sqlx::query_as("SELECT realm_id, data, expires_at FROM auth_code WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|(r, d, e)| (r, d, e, first)))
            }

            async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO revoked_token (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                self.sweep_expired($crate::store::sql::Swept::RevokedToken).await?;
                Ok(())
            }

            async fn use_once(&self, key: &str, expires_at: i64) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                self.sweep_expired($crate::store::sql::Swept::RevokedToken).await?;
                let done = sqlx::query("INSERT INTO revoked_token (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                    .bind(key)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn search_users(&self, realm_id: &str, q: &$crate::store::UserQuery) -> Result<Vec<$crate::store::UserRow>, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT id, username, email, representation FROM user_entity WHERE ");
                if let [cond] = q.conditions.as_slice() {
                    Self::one_condition_page(&mut qb, realm_id, q, cond);
                    qb.push(" ORDER BY lower(username)");
                    let rows: Vec<(String, String, Option<String>, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                    return Ok(rows.into_iter().map(|(id, username, email, representation)| $crate::store::UserRow { id, username, email, representation }).collect());
                }
                Self::user_filters(&mut qb, realm_id, q);
                // With conditions, the matches are few: fetch them by id and sort them. Ordering
                // by the bare column would let the planner walk the whole realm in user-name
                // order testing each row (`lower()` of the already lower-case name keeps the
                // order and takes that plan away). Without conditions, that walk is the plan.
                let order = if q.conditions.is_empty() { " ORDER BY username" } else { " ORDER BY lower(username)" };
                qb.push(order).push(" LIMIT ").push_bind(q.max.max(0)).push(" OFFSET ").push_bind(q.first.max(0));
                let rows: Vec<(String, String, Option<String>, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id, username, email, representation)| $crate::store::UserRow { id, username, email, representation }).collect())
            }

            async fn count_users(&self, realm_id: &str, q: &$crate::store::UserQuery) -> Result<i64, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM user_entity WHERE ");
                Self::user_filters(&mut qb, realm_id, q);
                let (n,): (i64,) = qb.build_query_as().fetch_one(&self.pool).await?;
                Ok(n)
            }

            async fn insert_user(&self, realm_id: &str, user: &$crate::store::UserRow) -> Result<(), $crate::store::StoreError> {
                self.apply(vec![$crate::store::Write::InsertUsers { realm_id: realm_id.to_string(), users: vec![user.clone()] }]).await
            }

            async fn delete_user(&self, realm_id: &str, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                self.invalidate_users();
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1 AND user_id = $2)").bind(realm_id).bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM user_session WHERE realm_id = $1 AND user_id = $2").bind(realm_id).bind(id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM user_entity WHERE realm_id = $1 AND id = $2").bind(realm_id).bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                self.invalidate_sessions();
                self.invalidate_users();
                Ok(done.rows_affected() > 0)
            }

            async fn user_sessions(&self, realm_id: &str, user_id: &str) -> Result<Vec<$crate::store::SessionRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sql::SessionTuple> = sqlx::query_as(
                    "SELECT id, realm_id, user_id, offline, created_at, last_refresh, data FROM user_session WHERE realm_id = $1 AND user_id = $2 ORDER BY created_at",
                )
                .bind(realm_id)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::sql::session_row).collect())
            }

            async fn user_session_clients(&self, realm_id: &str, user_id: &str) -> Result<Vec<(String, String, i64)>, $crate::store::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT c.session_id, c.client_id, c.updated_at FROM client_session c JOIN user_session s ON s.id = c.session_id WHERE s.realm_id = $1 AND s.user_id = $2 ORDER BY c.session_id, c.client_id",
                )
                .bind(realm_id)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn sweep_sessions(&self, realm_id: &str, b: &$crate::store::SessionSweep) -> Result<u64, $crate::store::StoreError> {
                // Expired sessions are found by a read, outside the write gate, so that scanning
                // a large realm holds no writer up (no index on the lifespans either: it would
                // cost every login and refresh a write more, for a scan once a minute). Each
                // batch is then deleted by id, its expiry checked again (a session used in the
                // meantime stays); client sessions go with it (ON DELETE CASCADE).
                fn expired<'q>(qb: &mut sqlx::QueryBuilder<'q, $db>, realm_id: &'q str, b: &$crate::store::SessionSweep) {
                    qb.push("realm_id = ").push_bind(realm_id)
                        .push(" AND ((offline = 0 AND (last_refresh < ").push_bind(b.online_used_before)
                        .push(" OR created_at < ").push_bind(b.online_started_before)
                        .push(")) OR (offline <> 0 AND (last_refresh < ").push_bind(b.offline_used_before)
                        .push(" OR created_at < ").push_bind(b.offline_started_before)
                        .push(")))");
                }
                let mut total = 0;
                loop {
                    let mut find = sqlx::QueryBuilder::<$db>::new("SELECT id FROM user_session WHERE ");
                    expired(&mut find, realm_id, b);
                    find.push(" LIMIT ").push_bind($crate::store::sql::SWEEP_BATCH as i64);
                    let ids: Vec<(String,)> = find.build_query_as().fetch_all(&self.pool).await?;
                    if ids.is_empty() {
                        break;
                    }
                    let found = ids.len();
                    let mut delete = sqlx::QueryBuilder::<$db>::new("DELETE FROM user_session WHERE id IN (");
                    let mut list = delete.separated(", ");
                    for (id,) in &ids {
                        list.push_bind(id.as_str());
                    }
                    delete.push(") AND ");
                    expired(&mut delete, realm_id, b);
                    let done = {
                        let _gate = self.gate.enter().await?;
                        delete.build().execute(&self.pool).await?.rows_affected()
                    };
                    total += done;
                    if found < $crate::store::sql::SWEEP_BATCH || done == 0 {
                        break;
                    }
                }
                if total > 0 {
                    self.invalidate_sessions();
                }
                Ok(total)
            }

            async fn delete_user_sessions(&self, realm_id: &str, user_id: &str) -> Result<u64, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1 AND user_id = $2)").bind(realm_id).bind(user_id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM user_session WHERE realm_id = $1 AND user_id = $2").bind(realm_id).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
                self.invalidate_sessions();
                Ok(done.rows_affected())
            }

            async fn realm_versions(&self) -> Result<Vec<(String, i64)>, $crate::store::StoreError> {
                Ok(sqlx::query_as("SELECT name, version FROM realm").fetch_all(&self.pool).await?)
            }

            async fn put_initial_access(&self, realm_id: &str, row: &$crate::store::InitialAccessRow, token_hash: &str) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO initial_access (id, realm_id, token_hash, created_at, expiration, count, remaining) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&row.id).bind(realm_id).bind(token_hash).bind(row.created_at).bind(row.expiration).bind(row.count).bind(row.remaining)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn initial_access(&self, realm_id: &str) -> Result<Vec<$crate::store::InitialAccessRow>, $crate::store::StoreError> {
                let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as("SELECT id, created_at, expiration, count, remaining FROM initial_access WHERE realm_id = $1 ORDER BY created_at, id")
                    .bind(realm_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id, created_at, expiration, count, remaining)| $crate::store::InitialAccessRow { id, created_at, expiration, count, remaining }).collect())
            }

            async fn delete_initial_access(&self, realm_id: &str, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM initial_access WHERE realm_id = $1 AND id = $2").bind(realm_id).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn initial_access_by_hash(&self, token_hash: &str) -> Result<Option<(String, $crate::store::InitialAccessRow)>, $crate::store::StoreError> {
                let row: Option<(String, String, i64, i64, i64, i64)> = sqlx::query_as("SELECT realm_id, id, created_at, expiration, count, remaining FROM initial_access WHERE token_hash = $1")
                    .bind(token_hash).fetch_optional(&self.pool).await?;
                Ok(row.map(|(realm_id, id, created_at, expiration, count, remaining)| (realm_id, $crate::store::InitialAccessRow { id, created_at, expiration, count, remaining })))
            }

            async fn use_initial_access(&self, token_hash: &str, now: i64) -> Result<Option<String>, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let row: Option<(String,)> = sqlx::query_as(
                    "UPDATE initial_access SET remaining = remaining - 1 WHERE token_hash = $1 AND remaining > 0 AND (expiration = 0 OR created_at + expiration > $2) RETURNING realm_id",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(r,)| r))
            }

            async fn is_revoked(&self, jti: &str) -> Result<bool, $crate::store::StoreError> {
                let row: Option<(String,)> = sqlx::query_as("SELECT jti FROM revoked_token WHERE jti = $1").bind(jti).fetch_optional(&self.pool).await?;
                Ok(row.is_some())
            }

            async fn put_device_code(&self, row: &$crate::store::DeviceCodeRow) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                // Expired authorizations are kept a while so that polling answers `expired_token`.
                self.sweep_expired($crate::store::sql::Swept::DeviceCode).await?;
                sqlx::query("INSERT INTO device_code (device_code_hash, realm_id, client_id, user_code, data, expires_at, poll_interval, last_poll, status, session_id, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, NULL, NULL)")
                    .bind(&row.device_code_hash)
                    .bind(&row.realm_id)
                    .bind(&row.client_id)
                    .bind(&row.user_code)
                    .bind(&row.data)
                    .bind(row.expires_at)
                    .bind(row.poll_interval)
                    .bind(&row.status)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn device_code(&self, device_code_hash: &str) -> Result<Option<$crate::store::DeviceCodeRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE device_code_hash = $1", $crate::store::sql::DEVICE_CODE_SELECT);
                let row: Option<$crate::store::sql::DeviceCodeTuple> = sqlx::query_as(&sql)
                    .bind(device_code_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::sql::device_code_row))
            }

            async fn pending_device_code(&self, realm_id: &str, user_code: &str, now: i64) -> Result<Option<$crate::store::DeviceCodeRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE realm_id = $1 AND user_code = $2 AND status = 'pending' AND expires_at >= $3", $crate::store::sql::DEVICE_CODE_SELECT);
                let row: Option<$crate::store::sql::DeviceCodeTuple> = sqlx::query_as(&sql)
                    .bind(realm_id)
                    .bind(user_code)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::sql::device_code_row))
            }

            async fn poll_device_code(&self, device_code_hash: &str, now: i64) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let allowed = sqlx::query("UPDATE device_code SET last_poll = $1 WHERE device_code_hash = $2 AND last_poll + poll_interval <= $1")
                    .bind(now)
                    .bind(device_code_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1;
                if !allowed {
                    sqlx::query("UPDATE device_code SET poll_interval = poll_interval + 5 WHERE device_code_hash = $1")
                        .bind(device_code_hash)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(allowed)
            }

            async fn decide_device_code(&self, realm_id: &str, user_code: &str, decision: &$crate::store::DeviceDecision, now: i64) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let (status, session_id, user_id) = match decision {
                    $crate::store::DeviceDecision::Approve { session_id, user_id } => ("approved", Some(session_id.as_str()), Some(user_id.as_str())),
                    $crate::store::DeviceDecision::Deny => ("denied", None, None),
                };
                let done = sqlx::query("UPDATE device_code SET status = $1, session_id = $2, user_id = $3 WHERE realm_id = $4 AND user_code = $5 AND status = 'pending' AND expires_at >= $6")
                    .bind(status)
                    .bind(session_id)
                    .bind(user_id)
                    .bind(realm_id)
                    .bind(user_code)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn redeem_device_code(&self, device_code_hash: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("UPDATE device_code SET status = 'redeemed' WHERE device_code_hash = $1 AND status = 'approved'")
                    .bind(device_code_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use impl_store;

#[cfg(test)]
mod tests {
    use super::{Sweeps, Swept, WriteGate, SWEEP_INTERVAL};

    #[test]
    fn a_table_is_swept_once_per_interval() {
        let s = Sweeps::default();
        assert!(s.due(Swept::AuthCode, 1_000));
        assert!(!s.due(Swept::AuthCode, 1_000));
        assert!(!s.due(Swept::AuthCode, 1_000 + SWEEP_INTERVAL - 1));
        // Each table keeps its own time.
        assert!(s.due(Swept::AuthSession, 1_000));
        assert!(s.due(Swept::AuthCode, 1_000 + SWEEP_INTERVAL));
    }

    #[tokio::test]
    async fn the_single_writer_gate_lets_one_writer_through() {
        let gate = WriteGate::single_writer();
        let first = gate.enter().await.ok().flatten();
        assert!(first.is_some());
        // While the first writer holds its turn, the next waits.
        let waiting = gate.enter();
        tokio::pin!(waiting);
        // A zero timeout polls once: it elapses only if the writer has to wait.
        let polled = tokio::time::timeout(std::time::Duration::ZERO, waiting.as_mut()).await;
        assert!(polled.is_err());
        drop(first);
        assert!(waiting.await.ok().flatten().is_some());
        // An open gate (PostgreSQL) never waits.
        let open = WriteGate::default();
        let (a, b) = (open.enter().await, open.enter().await);
        assert!(matches!((a, b), (Ok(None), Ok(None))));
    }
}
