//! UMA permission tickets (Keycloak's `PermissionTicket`, `JPAPermissionTicketStore`): a
//! requester's request for, or the owner's grant of, one scope of a resource (or the whole
//! resource when the ticket has no scope). Created by the UMA grant's `submit_request` and by
//! the Protection API; granted (a `grantedTimestamp`) by the owner or the resource server; a
//! granted ticket is a permission of its requester.
//!
//! Filters are applied by the caller ([`TicketFilter::matches`]): a resource server has few
//! tickets, and the filter is the same on both backends.

use async_trait::async_trait;

use super::StoreError;

/// A permission ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionTicketRow {
    /// Id.
    pub id: String,
    /// The resource server (the client's UUID).
    pub server_id: String,
    /// The resource's owner (a user id, or the resource server's id).
    pub owner: String,
    /// The user who asked.
    pub requester: String,
    /// The resource.
    pub resource_id: String,
    /// The scope (none: the whole resource).
    pub scope_id: Option<String>,
    /// A user-managed policy the ticket belongs to, if any.
    pub policy_id: Option<String>,
    /// Created, milliseconds since the epoch.
    pub created_timestamp: i64,
    /// Granted, milliseconds since the epoch (none: not granted).
    pub granted_timestamp: Option<i64>,
}

/// The filters of `GET .../permission/ticket` (`PermissionTicketStore.find`), resolved to ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    /// `resourceId`.
    pub resource: Option<String>,
    /// `scopeId` (an id, or a name the caller resolved).
    pub scope: Option<String>,
    /// `owner`.
    pub owner: Option<String>,
    /// `requester`.
    pub requester: Option<String>,
    /// `granted`.
    pub granted: Option<bool>,
}

impl TicketFilter {
    /// Whether a ticket passes every filter set.
    pub fn matches(&self, t: &PermissionTicketRow) -> bool {
        self.resource.as_ref().is_none_or(|r| *r == t.resource_id)
            && self
                .scope
                .as_ref()
                .is_none_or(|s| t.scope_id.as_deref() == Some(s.as_str()))
            && self.owner.as_ref().is_none_or(|o| *o == t.owner)
            && self.requester.as_ref().is_none_or(|r| *r == t.requester)
            && self
                .granted
                .is_none_or(|g| g == t.granted_timestamp.is_some())
    }
}

/// Permission tickets.
#[async_trait]
pub trait PermissionTicketStore: Send + Sync {
    /// Stores a new ticket; one for the same resource, scope and requester is
    /// [`StoreError::Unique`].
    async fn put_permission_ticket(
        &self,
        realm_id: &str,
        row: &PermissionTicketRow,
    ) -> Result<(), StoreError>;
    /// The tickets of a resource server, oldest first.
    async fn permission_tickets(
        &self,
        realm_id: &str,
        server_id: &str,
    ) -> Result<Vec<PermissionTicketRow>, StoreError>;
    /// One ticket of a resource server.
    async fn permission_ticket(
        &self,
        realm_id: &str,
        server_id: &str,
        id: &str,
    ) -> Result<Option<PermissionTicketRow>, StoreError>;
    /// Grants a ticket not granted yet (sets its `grantedTimestamp`); false when it is
    /// unknown or granted already.
    async fn grant_permission_ticket(
        &self,
        realm_id: &str,
        server_id: &str,
        id: &str,
        at_millis: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes a ticket; false when unknown.
    async fn delete_permission_ticket(
        &self,
        realm_id: &str,
        server_id: &str,
        id: &str,
    ) -> Result<bool, StoreError>;
}

pub(crate) const SELECT: &str = "SELECT id, server_id, owner, requester, resource_id, scope_id, policy_id, created_timestamp, granted_timestamp FROM authz_permission_ticket";

pub(crate) type Tuple = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

pub(crate) fn row(t: Tuple) -> PermissionTicketRow {
    PermissionTicketRow {
        id: t.0,
        server_id: t.1,
        owner: t.2,
        requester: t.3,
        resource_id: t.4,
        scope_id: t.5,
        policy_id: t.6,
        created_timestamp: t.7,
        granted_timestamp: t.8,
    }
}

/// Stamps [`PermissionTicketStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_permission_tickets {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::PermissionTicketStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn put_permission_ticket(&self, realm_id: &str, row: &$crate::store::PermissionTicketRow) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO authz_permission_ticket (realm_id, id, server_id, owner, requester, resource_id, scope_id, policy_id, created_timestamp, granted_timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(realm_id)
                    .bind(&row.id)
                    .bind(&row.server_id)
                    .bind(&row.owner)
                    .bind(&row.requester)
                    .bind(&row.resource_id)
                    .bind(&row.scope_id)
                    .bind(&row.policy_id)
                    .bind(row.created_timestamp)
                    .bind(row.granted_timestamp)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn permission_tickets(&self, realm_id: &str, server_id: &str) -> Result<Vec<$crate::store::PermissionTicketRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE realm_id = $1 AND server_id = $2 ORDER BY created_timestamp, id", $crate::store::permission_tickets::SELECT);
                let rows: Vec<$crate::store::permission_tickets::Tuple> = sqlx::query_as(&sql)
                    .bind(realm_id)
                    .bind(server_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map($crate::store::permission_tickets::row).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn permission_ticket(&self, realm_id: &str, server_id: &str, id: &str) -> Result<Option<$crate::store::PermissionTicketRow>, $crate::store::StoreError> {
                let sql = format!("{} WHERE realm_id = $1 AND server_id = $2 AND id = $3", $crate::store::permission_tickets::SELECT);
                let row: Option<$crate::store::permission_tickets::Tuple> = sqlx::query_as(&sql)
                    .bind(realm_id)
                    .bind(server_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::permission_tickets::row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn grant_permission_ticket(&self, realm_id: &str, server_id: &str, id: &str, at_millis: i64) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let r = sqlx::query("UPDATE authz_permission_ticket SET granted_timestamp = $1 WHERE realm_id = $2 AND server_id = $3 AND id = $4 AND granted_timestamp IS NULL")
                    .bind(at_millis)
                    .bind(realm_id)
                    .bind(server_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_permission_ticket(&self, realm_id: &str, server_id: &str, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let r = sqlx::query("DELETE FROM authz_permission_ticket WHERE realm_id = $1 AND server_id = $2 AND id = $3")
                    .bind(realm_id)
                    .bind(server_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use impl_permission_tickets;

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(granted: Option<i64>) -> PermissionTicketRow {
        PermissionTicketRow {
            id: "t".into(),
            server_id: "rs".into(),
            owner: "alice".into(),
            requester: "bob".into(),
            resource_id: "r1".into(),
            scope_id: Some("s1".into()),
            policy_id: None,
            created_timestamp: 1,
            granted_timestamp: granted,
        }
    }

    #[test]
    fn filters_combine() {
        let t = ticket(None);
        assert!(TicketFilter::default().matches(&t));
        let f = |f: TicketFilter| f.matches(&t);
        assert!(f(TicketFilter {
            resource: Some("r1".into()),
            scope: Some("s1".into()),
            owner: Some("alice".into()),
            requester: Some("bob".into()),
            granted: Some(false),
        }));
        assert!(!f(TicketFilter {
            granted: Some(true),
            ..TicketFilter::default()
        }));
        assert!(!f(TicketFilter {
            scope: Some("s2".into()),
            ..TicketFilter::default()
        }));
        assert!(!f(TicketFilter {
            requester: Some("alice".into()),
            ..TicketFilter::default()
        }));
        assert!(TicketFilter {
            granted: Some(true),
            ..TicketFilter::default()
        }
        .matches(&ticket(Some(5))));
    }
}
