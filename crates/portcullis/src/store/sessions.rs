//! SSO and offline sessions, their client sessions and refresh-token rotation, and the sweep
//! of expired sessions.

use async_trait::async_trait;

use super::StoreError;

/// A client's part in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSessionRow {
    /// The session.
    pub session_id: String,
    /// The client (`clientId`).
    pub client_id: String,
    /// Last token issued or refreshed for it, seconds since the epoch.
    pub updated_at: i64,
}

/// An SSO session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionRow {
    /// Session id (`sid`).
    pub id: String,
    /// Realm id.
    pub realm_id: String,
    /// User id.
    pub user_id: String,
    /// Offline session (`offline_access`).
    pub offline: bool,
    /// Start, seconds since the epoch.
    pub created_at: i64,
    /// Last use, seconds since the epoch.
    pub last_refresh: i64,
    /// Session notes (JSON object): `auth_time`, `remember_me`, ...
    pub data: String,
}

/// A session that was ended, with the clients that took part in it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedSession {
    /// The session as it was.
    pub session: SessionRow,
    /// `client_id` of every client session it had, sorted.
    pub clients: Vec<String>,
}

/// What happened to a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshUse {
    /// Accepted; the new token is now current.
    Accepted,
    /// The token is not the current one, or was used more than allowed.
    Rejected,
}

/// The sessions a sweep removes: online ones last used or started before the online bounds,
/// offline ones before the offline bounds (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSweep {
    /// Online sessions last used before this are gone.
    pub online_used_before: i64,
    /// Online sessions started before this are gone.
    pub online_started_before: i64,
    /// Offline sessions last used before this are gone.
    pub offline_used_before: i64,
    /// Offline sessions started before this are gone.
    pub offline_started_before: i64,
}

/// SSO and offline sessions, their client sessions and refresh-token rotation, and the sweep.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a session and its first client session, with `refresh_token_id` current (no
    /// client session when `client_id` is empty).
    async fn create_session(
        &self,
        session: &SessionRow,
        client_id: &str,
        refresh_token_id: Option<&str>,
    ) -> Result<(), StoreError>;
    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError>;
    /// A session by id, read from the database even when this node has it cached (another
    /// node may have used it since).
    async fn fresh_session(&self, id: &str) -> Result<Option<SessionRow>, StoreError>;
    /// A session and when `client_id`'s part in it started (`None`: the client has none), in
    /// one read: the refresh grant and every bearer check need both.
    async fn session_for_client(
        &self,
        id: &str,
        client_id: &str,
    ) -> Result<Option<(SessionRow, Option<i64>)>, StoreError>;
    /// Records a use of the session: at once for this node's reads, in the store after the
    /// caller has gone on (see `sql::RecentTouches`); never moves the last use backwards.
    async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Replaces a session's notes (`data`), as a re-authentication in it writes them;
    /// `false` when the session is gone.
    async fn update_session_data(&self, id: &str, data: &str) -> Result<bool, StoreError>;
    /// Ends a session (and its client sessions).
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;
    /// Ends a session and its client sessions, returning what ended; `None` when it was gone
    /// already. Atomic across nodes: of concurrent calls for one session, one gets it.
    async fn end_session(&self, id: &str) -> Result<Option<EndedSession>, StoreError>;
    /// Ends all of a user's sessions (online and offline), returning them oldest first.
    async fn end_user_sessions(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<EndedSession>, StoreError>;
    /// Registers a client in a session (first token for that client), `new_id` current.
    async fn set_refresh_token(
        &self,
        session_id: &str,
        client_id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Registers a client in a session without touching its refresh state (tokens issued
    /// without a refresh token); a client already in it keeps its start.
    async fn join_client_session(
        &self,
        session_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Detaches a client from a session (Keycloak's `detachFromUserSession`): the client's
    /// tokens of that session stop working; the session and the other clients' parts stay.
    /// Returns whether the client had a part in it.
    async fn detach_client_session(
        &self,
        session_id: &str,
        client_id: &str,
    ) -> Result<bool, StoreError>;
    /// Refresh token rotation (`revokeRefreshToken`): accepts `presented` if it is the current
    /// token used at most `max_reuse` times before, or a token issued (`presented_iat`) after
    /// the last change, which then becomes current. Atomic across nodes.
    async fn use_refresh_token(
        &self,
        session_id: &str,
        client_id: &str,
        presented: &str,
        presented_iat: i64,
        max_reuse: i64,
        now: i64,
    ) -> Result<RefreshUse, StoreError>;
    /// A user's sessions (online and offline).
    async fn user_sessions(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<SessionRow>, StoreError>;
    /// The client sessions of a user's sessions: (session id, `clientId`, last update).
    async fn user_session_clients(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<ClientSessionRow>, StoreError>;
    /// The sessions (online, or `offline` ones) a client takes part in, oldest first, `max`
    /// from `first` (Keycloak's `getUserSessionsStream(realm, client, first, max)`).
    async fn client_sessions(
        &self,
        realm_id: &str,
        client_id: &str,
        offline: bool,
        first: i64,
        max: i64,
    ) -> Result<Vec<SessionRow>, StoreError>;
    /// The client sessions of the given sessions (for their `clients` maps).
    async fn client_session_peers(
        &self,
        session_ids: &[String],
    ) -> Result<Vec<ClientSessionRow>, StoreError>;
    /// For each client of a realm (or only `client_id`) that takes part in a session:
    /// (`clientId`, online sessions, offline sessions).
    async fn client_session_counts(
        &self,
        realm_id: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<(String, i64, i64)>, StoreError>;
    /// Removes a realm's expired sessions (and their client sessions); returns how many.
    async fn sweep_sessions(
        &self,
        realm_id: &str,
        bounds: &SessionSweep,
    ) -> Result<u64, StoreError>;
    /// Ends all of a user's sessions; returns how many.
    async fn delete_user_sessions(&self, realm_id: &str, user_id: &str) -> Result<u64, StoreError>;
    /// Removes one client's part in a session (Keycloak's `detachFromUserSession`), and the
    /// session itself when `end_if_empty` and no client is left in it (an offline session,
    /// `checkOfflineUserSessionHasClientSessions`); false when the client had no part in it.
    async fn remove_client_session(
        &self,
        session_id: &str,
        client_id: &str,
        end_if_empty: bool,
    ) -> Result<bool, StoreError>;
}

/// Stamps [`SessionStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_sessions {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SessionStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_session(&self, s: &$crate::store::SessionRow, client_id: &str, refresh_token_id: Option<&str>) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                Self::insert_session_on(&mut *tx, s, client_id, refresh_token_id).await?;
                tx.commit().await?;
                self.invalidate_sessions().await;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn session(&self, id: &str) -> Result<Option<$crate::store::SessionRow>, $crate::store::StoreError> {
                let known = |row: Option<$crate::store::SessionRow>| {
                    row.map(|mut r| {
                        self.touches.apply(&mut r);
                        r
                    })
                };
                if let Some(hit) = self.cached_session(id) {
                    return Ok(known(hit));
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
                Ok(known(row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fresh_session(&self, id: &str) -> Result<Option<$crate::store::SessionRow>, $crate::store::StoreError> {
                let generation = self.session_generation();
                let row: Option<$crate::store::sql::SessionTuple> = sqlx::query_as(
                    "SELECT id, realm_id, user_id, offline, created_at, last_refresh, data FROM user_session WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let row = row.map($crate::store::sql::session_row);
                self.cache_session(id, generation, row.clone());
                Ok(row.map(|mut r| {
                    self.touches.apply(&mut r);
                    r
                }))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn session_for_client(&self, id: &str, client_id: &str) -> Result<Option<($crate::store::SessionRow, Option<i64>)>, $crate::store::StoreError> {
                // Both cached (SQLite): no read at all. A client's start is cached only when
                // it exists, and dropped with the session cache by every end of a client's part.
                match self.cached_session(id) {
                    Some(None) => return Ok(None),
                    Some(Some(mut row)) => {
                        if let Some(started) = self.cached_client_start(id, client_id) {
                            self.touches.apply(&mut row);
                            return Ok(Some((row, Some(started))));
                        }
                    }
                    None => {}
                }
                let (sessions, starts) = (self.session_generation(), self.client_start_generation());
                let row: Option<(String, String, String, i64, i64, i64, String, Option<i64>)> = sqlx::query_as(
                    "SELECT s.id, s.realm_id, s.user_id, s.offline, s.created_at, s.last_refresh, s.data, c.started_at FROM user_session s LEFT JOIN client_session c ON c.session_id = s.id AND c.client_id = $2 WHERE s.id = $1",
                )
                .bind(id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
                let Some((sid, realm_id, user_id, offline, created_at, last_refresh, data, started)) = row else {
                    self.cache_session(id, sessions, None);
                    return Ok(None);
                };
                let row = $crate::store::sql::session_row((sid, realm_id, user_id, offline, created_at, last_refresh, data));
                self.cache_session(id, sessions, Some(row.clone()));
                if let Some(started) = started {
                    self.cache_client_start(id, client_id, starts, started);
                }
                let mut row = row;
                self.touches.apply(&mut row);
                Ok(Some((row, started)))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_session_data(&self, id: &str, data: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let n = sqlx::query("UPDATE user_session SET data = $1 WHERE id = $2")
                    .bind(data)
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                self.invalidate_sessions().await;
                Ok(n > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn touch_session(&self, id: &str, now: i64) -> Result<(), $crate::store::StoreError> {
                // Written after the request answers (see `RecentTouches`); this node's reads see
                // the use at once, cached rows included.
                self.touches.record(id, now);
                let (queue, pool) = (self.queue.clone(), self.pool.clone());
                let w = $crate::store::sql::Queued::TouchSession { id: id.to_string(), now };
                tokio::spawn(async move {
                    let outcome = if queue.is_open() {
                        queue.write(w).await.unwrap_or(Err($crate::store::StoreError::Busy))
                    } else {
                        match pool.acquire().await {
                            Ok(mut conn) => Self::run_queued(&mut *conn, &w)
                                .await
                                .map_err($crate::store::StoreError::from),
                            Err(e) => Err(e.into()),
                        }
                    };
                    if let Err(e) = outcome {
                        tracing::warn!(error = %e, "a session's last use was not recorded");
                    }
                });
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_session(&self, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM client_session WHERE session_id = $1").bind(id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM user_session WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                self.invalidate_sessions().await;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
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
                self.invalidate_sessions().await;
                Ok(row.map(|t| $crate::store::sql::ended(t, clients.into_iter().map(|(c,)| c).collect())))
            }

            #[tracing::instrument(level = "debug", skip_all)]
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
                self.invalidate_sessions().await;
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

            #[tracing::instrument(level = "debug", skip_all)]
            async fn set_refresh_token(&self, session_id: &str, client_id: &str, new_id: &str, now: i64) -> Result<(), $crate::store::StoreError> {
                self.write($crate::store::sql::Queued::SetRefreshToken {
                    session_id: session_id.to_string(),
                    client_id: client_id.to_string(),
                    new_id: new_id.to_string(),
                    now,
                })
                .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn join_client_session(&self, session_id: &str, client_id: &str, now: i64) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO client_session (session_id, client_id, refresh_token_id, refresh_use_count, updated_at, started_at) VALUES ($1, $2, NULL, 0, $3, $3) ON CONFLICT (session_id, client_id) DO NOTHING")
                    .bind(session_id)
                    .bind(client_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn detach_client_session(&self, session_id: &str, client_id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM client_session WHERE session_id = $1 AND client_id = $2")
                    .bind(session_id)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await?;
                // Drops the cached start of the client's part (see `session_for_client`).
                self.invalidate_sessions().await;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn use_refresh_token(&self, session_id: &str, client_id: &str, presented: &str, presented_iat: i64, max_reuse: i64, now: i64) -> Result<$crate::store::RefreshUse, $crate::store::StoreError> {
                let accepted = self.write($crate::store::sql::Queued::UseRefreshToken {
                    session_id: session_id.to_string(),
                    client_id: client_id.to_string(),
                    presented: presented.to_string(),
                    presented_iat,
                    max_reuse,
                    now,
                })
                .await?;
                Ok(if accepted == 1 { $crate::store::RefreshUse::Accepted } else { $crate::store::RefreshUse::Rejected })
            }

            #[tracing::instrument(level = "debug", skip_all)]
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

            #[tracing::instrument(level = "debug", skip_all)]
            async fn user_session_clients(&self, realm_id: &str, user_id: &str) -> Result<Vec<$crate::store::ClientSessionRow>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT c.session_id, c.client_id, c.updated_at FROM client_session c JOIN user_session s ON s.id = c.session_id WHERE s.realm_id = $1 AND s.user_id = $2 ORDER BY c.session_id, c.client_id",
                )
                .bind(realm_id)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(session_id, client_id, updated_at)| $crate::store::ClientSessionRow { session_id, client_id, updated_at }).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn client_sessions(&self, realm_id: &str, client_id: &str, offline: bool, first: i64, max: i64) -> Result<Vec<$crate::store::SessionRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sql::SessionTuple> = sqlx::query_as(
                    "SELECT s.id, s.realm_id, s.user_id, s.offline, s.created_at, s.last_refresh, s.data FROM user_session s JOIN client_session c ON c.session_id = s.id \
                     WHERE s.realm_id = $1 AND c.client_id = $2 AND s.offline = $3 ORDER BY s.created_at, s.id LIMIT $4 OFFSET $5",
                )
                .bind(realm_id)
                .bind(client_id)
                .bind(i64::from(offline))
                .bind(max.max(0))
                .bind(first.max(0))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::sql::session_row).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn client_session_peers(&self, session_ids: &[String]) -> Result<Vec<$crate::store::ClientSessionRow>, $crate::store::StoreError> {
                if session_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT session_id, client_id, updated_at FROM client_session WHERE session_id IN (");
                let mut ids = qb.separated(", ");
                for id in session_ids {
                    ids.push_bind(id.as_str());
                }
                ids.push_unseparated(") ORDER BY session_id, client_id");
                let rows: Vec<(String, String, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(session_id, client_id, updated_at)| $crate::store::ClientSessionRow { session_id, client_id, updated_at }).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn client_session_counts(&self, realm_id: &str, client_id: Option<&str>) -> Result<Vec<(String, i64, i64)>, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT c.client_id, CAST(SUM(CASE WHEN s.offline = 0 THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN s.offline = 0 THEN 0 ELSE 1 END) AS BIGINT) \
                     FROM client_session c JOIN user_session s ON s.id = c.session_id WHERE s.realm_id = ",
                );
                qb.push_bind(realm_id);
                if let Some(client_id) = client_id {
                    qb.push(" AND c.client_id = ").push_bind(client_id);
                }
                qb.push(" GROUP BY c.client_id ORDER BY c.client_id");
                let rows: Vec<(String, i64, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows)
            }

            #[tracing::instrument(level = "debug", skip_all)]
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
                    self.invalidate_sessions().await;
                }
                Ok(total)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_user_sessions(&self, realm_id: &str, user_id: &str) -> Result<u64, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM client_session WHERE session_id IN (SELECT id FROM user_session WHERE realm_id = $1 AND user_id = $2)").bind(realm_id).bind(user_id).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM user_session WHERE realm_id = $1 AND user_id = $2").bind(realm_id).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
                self.invalidate_sessions().await;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn remove_client_session(&self, session_id: &str, client_id: &str, end_if_empty: bool) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("DELETE FROM client_session WHERE session_id = $1 AND client_id = $2").bind(session_id).bind(client_id).execute(&mut *tx).await?;
                if end_if_empty && done.rows_affected() > 0 {
                    sqlx::query("DELETE FROM user_session WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM client_session WHERE session_id = $2)").bind(session_id).bind(session_id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                self.invalidate_sessions().await;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use impl_sessions;
