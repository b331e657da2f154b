//! Keycloak's login events and admin events: written in batches by the events writer
//! (`crate::events`), listed with the Admin API's filters, cleared, and expired by the sweep.

use async_trait::async_trait;

use super::StoreError;

/// A login event as stored (Keycloak's `EventRepresentation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Random id.
    pub id: String,
    /// Realm id.
    pub realm_id: String,
    /// Milliseconds since the epoch.
    pub time: i64,
    /// `LOGIN`, `LOGIN_ERROR`, ...
    pub kind: String,
    /// `clientId` of the client.
    pub client_id: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// SSO session id.
    pub session_id: Option<String>,
    /// Caller's address.
    pub ip_address: Option<String>,
    /// Keycloak's error value (`invalid_user_credentials`, ...), on `_ERROR` events.
    pub error: Option<String>,
    /// Details as a JSON object of strings.
    pub details: Option<String>,
}

/// An admin event as stored (Keycloak's `AdminEventRepresentation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEventRow {
    /// Random id.
    pub id: String,
    /// The administered realm's id.
    pub realm_id: String,
    /// Milliseconds since the epoch.
    pub time: i64,
    /// `CREATE`, `UPDATE`, `DELETE`, `ACTION`.
    pub operation_type: String,
    /// Keycloak's `ResourceType` (`USER`, `CLIENT`, ...).
    pub resource_type: String,
    /// The path below `/admin/realms/{realm}/` (none for the realm itself).
    pub resource_path: Option<String>,
    /// The caller's realm id.
    pub auth_realm_id: Option<String>,
    /// The caller's client (its internal id).
    pub auth_client_id: Option<String>,
    /// The caller's user id.
    pub auth_user_id: Option<String>,
    /// The caller's address.
    pub ip_address: Option<String>,
    /// The request's JSON (with `adminEventsDetailsEnabled`).
    pub representation: Option<String>,
    /// Error, for failed operations.
    pub error: Option<String>,
}

/// Paging and order shared by both listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPage {
    /// Rows skipped.
    pub first: i64,
    /// Rows returned at most (`None`: all).
    pub max: Option<i64>,
    /// Oldest first (`direction=asc`); newest first otherwise.
    pub ascending: bool,
}

impl Default for EventPage {
    fn default() -> Self {
        EventPage {
            first: 0,
            max: Some(100),
            ascending: false,
        }
    }
}

/// The filters of `GET /admin/realms/{realm}/events` (each `None` or empty: no filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Any of these types.
    pub types: Vec<String>,
    /// `clientId`.
    pub client: Option<String>,
    /// User id.
    pub user: Option<String>,
    /// At or after (ms).
    pub from: Option<i64>,
    /// At or before (ms).
    pub to: Option<i64>,
    /// Address.
    pub ip_address: Option<String>,
    /// Paging.
    pub page: EventPage,
}

/// The filters of `GET /admin/realms/{realm}/admin-events`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminEventQuery {
    /// Any of these operation types.
    pub operation_types: Vec<String>,
    /// Any of these resource types.
    pub resource_types: Vec<String>,
    /// Resource path; `*` matches anything.
    pub resource_path: Option<String>,
    /// Caller's realm id.
    pub auth_realm: Option<String>,
    /// Caller's client (internal id).
    pub auth_client: Option<String>,
    /// Caller's user id.
    pub auth_user: Option<String>,
    /// Caller's address.
    pub auth_ip_address: Option<String>,
    /// At or after (ms).
    pub from: Option<i64>,
    /// At or before (ms).
    pub to: Option<i64>,
    /// Paging.
    pub page: EventPage,
}

/// A bound value of a built query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// Collects `WHERE` conditions with numbered placeholders.
struct Where {
    sql: String,
    args: Vec<Arg>,
}

impl Where {
    fn new(realm_id: &str) -> Self {
        Where {
            sql: " WHERE realm_id = $1".into(),
            args: vec![Arg::Text(realm_id.into())],
        }
    }
    fn next(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }
    fn eq(&mut self, column: &str, v: &Option<String>) {
        if let Some(v) = v {
            let p = self.next(Arg::Text(v.clone()));
            self.sql.push_str(&format!(" AND {column} = {p}"));
        }
    }
    fn any(&mut self, column: &str, vs: &[String]) {
        if vs.is_empty() {
            return;
        }
        let ps: Vec<String> = vs.iter().map(|v| self.next(Arg::Text(v.clone()))).collect();
        self.sql
            .push_str(&format!(" AND {column} IN ({})", ps.join(", ")));
    }
    fn range(&mut self, from: Option<i64>, to: Option<i64>) {
        if let Some(f) = from {
            let p = self.next(Arg::Int(f));
            self.sql.push_str(&format!(" AND event_time >= {p}"));
        }
        if let Some(t) = to {
            let p = self.next(Arg::Int(t));
            self.sql.push_str(&format!(" AND event_time <= {p}"));
        }
    }
    fn finish(mut self, page: &EventPage) -> (String, Vec<Arg>) {
        let order = if page.ascending { "ASC" } else { "DESC" };
        let limit = self.next(Arg::Int(page.max.unwrap_or(i64::MAX)));
        let offset = self.next(Arg::Int(page.first.max(0)));
        self.sql.push_str(&format!(
            " ORDER BY event_time {order}, id {order} LIMIT {limit} OFFSET {offset}"
        ));
        (self.sql, self.args)
    }
}

pub(crate) const EVENT_SELECT: &str = "SELECT id, realm_id, event_time, type, client_id, user_id, session_id, ip_address, error, details FROM event_entity";
pub(crate) const ADMIN_EVENT_SELECT: &str = "SELECT id, realm_id, event_time, operation_type, resource_type, resource_path, auth_realm_id, auth_client_id, auth_user_id, ip_address, representation, error FROM admin_event_entity";

pub(crate) type EventTuple = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);
pub(crate) type AdminEventTuple = (
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) fn event_row(t: EventTuple) -> EventRow {
    let (id, realm_id, time, kind, client_id, user_id, session_id, ip_address, error, details) = t;
    EventRow {
        id,
        realm_id,
        time,
        kind,
        client_id,
        user_id,
        session_id,
        ip_address,
        error,
        details,
    }
}

pub(crate) fn admin_event_row(t: AdminEventTuple) -> AdminEventRow {
    let (
        id,
        realm_id,
        time,
        operation_type,
        resource_type,
        resource_path,
        auth_realm_id,
        auth_client_id,
        auth_user_id,
        ip_address,
        representation,
        error,
    ) = t;
    AdminEventRow {
        id,
        realm_id,
        time,
        operation_type,
        resource_type,
        resource_path,
        auth_realm_id,
        auth_client_id,
        auth_user_id,
        ip_address,
        representation,
        error,
    }
}

/// The statement and arguments of a login-event listing.
pub(crate) fn event_sql(realm_id: &str, q: &EventQuery) -> (String, Vec<Arg>) {
    let mut w = Where::new(realm_id);
    w.any("type", &q.types);
    w.eq("client_id", &q.client);
    w.eq("user_id", &q.user);
    w.range(q.from, q.to);
    w.eq("ip_address", &q.ip_address);
    let (sql, args) = w.finish(&q.page);
    (format!("{EVENT_SELECT}{sql}"), args)
}

/// The statement and arguments of an admin-event listing. A `resourcePath` with `*` matches
/// as SQL `LIKE` with `%` for each `*` (Keycloak's `JpaAdminEventQuery.resourcePath`); `%`
/// and `_` of the value itself are matched literally.
pub(crate) fn admin_event_sql(realm_id: &str, q: &AdminEventQuery) -> (String, Vec<Arg>) {
    let mut w = Where::new(realm_id);
    w.any("operation_type", &q.operation_types);
    w.any("resource_type", &q.resource_types);
    if let Some(path) = &q.resource_path {
        let pattern = path
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
            .replace('*', "%");
        let p = w.next(Arg::Text(pattern));
        w.sql
            .push_str(&format!(" AND resource_path LIKE {p} ESCAPE '\\'"));
    }
    w.eq("auth_realm_id", &q.auth_realm);
    w.eq("auth_client_id", &q.auth_client);
    w.eq("auth_user_id", &q.auth_user);
    w.eq("ip_address", &q.auth_ip_address);
    w.range(q.from, q.to);
    let (sql, args) = w.finish(&q.page);
    (format!("{ADMIN_EVENT_SELECT}{sql}"), args)
}

/// Login and admin events.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores login events in one transaction.
    async fn insert_events(&self, rows: &[EventRow]) -> Result<(), StoreError>;
    /// Stores admin events in one transaction.
    async fn insert_admin_events(&self, rows: &[AdminEventRow]) -> Result<(), StoreError>;
    /// A realm's login events matching `q`.
    async fn events(&self, realm_id: &str, q: &EventQuery) -> Result<Vec<EventRow>, StoreError>;
    /// A realm's admin events matching `q`.
    async fn admin_events(
        &self,
        realm_id: &str,
        q: &AdminEventQuery,
    ) -> Result<Vec<AdminEventRow>, StoreError>;
    /// Removes a realm's login events.
    async fn clear_events(&self, realm_id: &str) -> Result<(), StoreError>;
    /// Removes a realm's admin events.
    async fn clear_admin_events(&self, realm_id: &str) -> Result<(), StoreError>;
    /// Removes a realm's login events older than `before` (ms); how many.
    async fn expire_events(&self, realm_id: &str, before: i64) -> Result<u64, StoreError>;
    /// Removes a realm's admin events older than `before` (ms); how many.
    async fn expire_admin_events(&self, realm_id: &str, before: i64) -> Result<u64, StoreError>;
}

/// Rows per multi-row `INSERT` of the events writer: 100 rows of at most 12 columns stay far
/// below SQLite's (32,766) and PostgreSQL's (65,535) limits on bound parameters.
pub(crate) const ROWS_PER_INSERT: usize = 100;

/// Stamps [`EventStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_events {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::EventStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_events(&self, rows: &[$crate::store::EventRow]) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                // One statement per chunk: a batch of events costs a few round trips to the
                // database (or to SQLite's worker thread), not one per event.
                for chunk in rows.chunks($crate::store::events::ROWS_PER_INSERT) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO event_entity (id, realm_id, event_time, type, client_id, user_id, session_id, ip_address, error, details) ");
                    qb.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.id).push_bind(&r.realm_id).push_bind(r.time).push_bind(&r.kind).push_bind(&r.client_id)
                            .push_bind(&r.user_id).push_bind(&r.session_id).push_bind(&r.ip_address).push_bind(&r.error).push_bind(&r.details);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_admin_events(&self, rows: &[$crate::store::AdminEventRow]) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                for chunk in rows.chunks($crate::store::events::ROWS_PER_INSERT) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO admin_event_entity (id, realm_id, event_time, operation_type, resource_type, resource_path, auth_realm_id, auth_client_id, auth_user_id, ip_address, representation, error) ");
                    qb.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.id).push_bind(&r.realm_id).push_bind(r.time).push_bind(&r.operation_type).push_bind(&r.resource_type)
                            .push_bind(&r.resource_path).push_bind(&r.auth_realm_id).push_bind(&r.auth_client_id).push_bind(&r.auth_user_id)
                            .push_bind(&r.ip_address).push_bind(&r.representation).push_bind(&r.error);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn events(&self, realm_id: &str, q: &$crate::store::EventQuery) -> Result<Vec<$crate::store::EventRow>, $crate::store::StoreError> {
                let (sql, args) = $crate::store::events::event_sql(realm_id, q);
                let mut query = sqlx::query_as::<_, $crate::store::events::EventTuple>(&sql);
                for a in args {
                    query = match a {
                        $crate::store::events::Arg::Text(s) => query.bind(s),
                        $crate::store::events::Arg::Int(i) => query.bind(i),
                    };
                }
                let rows = query.fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map($crate::store::events::event_row).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn admin_events(&self, realm_id: &str, q: &$crate::store::AdminEventQuery) -> Result<Vec<$crate::store::AdminEventRow>, $crate::store::StoreError> {
                let (sql, args) = $crate::store::events::admin_event_sql(realm_id, q);
                let mut query = sqlx::query_as::<_, $crate::store::events::AdminEventTuple>(&sql);
                for a in args {
                    query = match a {
                        $crate::store::events::Arg::Text(s) => query.bind(s),
                        $crate::store::events::Arg::Int(i) => query.bind(i),
                    };
                }
                let rows = query.fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map($crate::store::events::admin_event_row).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn clear_events(&self, realm_id: &str) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("DELETE FROM event_entity WHERE realm_id = $1").bind(realm_id).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn clear_admin_events(&self, realm_id: &str) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("DELETE FROM admin_event_entity WHERE realm_id = $1").bind(realm_id).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn expire_events(&self, realm_id: &str, before: i64) -> Result<u64, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM event_entity WHERE realm_id = $1 AND event_time < $2")
                    .bind(realm_id).bind(before).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn expire_admin_events(&self, realm_id: &str, before: i64) -> Result<u64, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM admin_event_entity WHERE realm_id = $1 AND event_time < $2")
                    .bind(realm_id).bind(before).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_events;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_statements_number_their_placeholders_in_order() {
        let q = EventQuery {
            types: vec!["LOGIN".into(), "LOGOUT".into()],
            client: Some("app".into()),
            from: Some(5),
            page: EventPage {
                first: 10,
                max: None,
                ascending: true,
            },
            ..Default::default()
        };
        let (sql, args) = event_sql("r1", &q);
        assert!(sql.ends_with(" WHERE realm_id = $1 AND type IN ($2, $3) AND client_id = $4 AND event_time >= $5 ORDER BY event_time ASC, id ASC LIMIT $6 OFFSET $7"), "{sql}");
        assert_eq!(args[5], Arg::Int(i64::MAX));
        assert_eq!(args[6], Arg::Int(10));
        let q = AdminEventQuery {
            resource_path: Some("users/*_x%".into()),
            ..Default::default()
        };
        let (sql, args) = admin_event_sql("r1", &q);
        assert!(sql.contains("resource_path LIKE $2 ESCAPE"), "{sql}");
        assert_eq!(args[1], Arg::Text("users/%\\_x\\%".into()));
        assert!(sql.contains("ORDER BY event_time DESC"));
    }
}
