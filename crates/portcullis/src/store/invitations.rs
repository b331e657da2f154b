//! Keycloak 26's organization invitations (`InvitationManager`): a row per invitation sent,
//! its id the `jti` of the invitation's action token.

use async_trait::async_trait;

use super::StoreError;

/// A stored invitation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvitationRow {
    /// Id (the action token's `jti`).
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The invited address, lower-case.
    pub email: String,
    /// `firstName`.
    pub first_name: Option<String>,
    /// `lastName`.
    pub last_name: Option<String>,
    /// When it was sent (seconds).
    pub created_at: i64,
    /// When its link stops working (seconds).
    pub expires_at: i64,
    /// The link the mail carried.
    pub invite_link: Option<String>,
}

/// `PENDING` or `EXPIRED` (an invitation's status is computed, never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Not expired yet.
    Pending,
    /// Past `expires_at`.
    Expired,
}

/// A search of an organization's invitations (`GET /organizations/{id}/invitations`), by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationQuery {
    /// `email`: part of the address (any case).
    pub email: Option<String>,
    /// `firstName`: part of the first name (any case).
    pub first_name: Option<String>,
    /// `lastName`: part of the last name (any case).
    pub last_name: Option<String>,
    /// `search`: part of the address, first or last name (any case).
    pub search: Option<String>,
    /// `status`, as of `now`.
    pub status: Option<(InvitationStatus, i64)>,
    /// Offset.
    pub first: i64,
    /// Limit; negative for all.
    pub max: i64,
}

/// Organization invitations.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Stores an invitation.
    async fn create_invitation(&self, row: &InvitationRow) -> Result<(), StoreError>;
    /// An invitation of an organization by id.
    async fn invitation(&self, org_id: &str, id: &str)
        -> Result<Option<InvitationRow>, StoreError>;
    /// The organization's invitations of an address (exact, lower-case), newest first.
    async fn invitations_of_email(
        &self,
        org_id: &str,
        email: &str,
    ) -> Result<Vec<InvitationRow>, StoreError>;
    /// The organization's invitations matching `q`, by id.
    async fn invitations(
        &self,
        org_id: &str,
        q: &InvitationQuery,
    ) -> Result<Vec<InvitationRow>, StoreError>;
    /// Deletes an invitation of an organization; false when there was none.
    async fn delete_invitation(&self, org_id: &str, id: &str) -> Result<bool, StoreError>;
}

/// An `org_invitation` row as read.
type InvitationTuple = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<String>,
);

/// The columns of [`InvitationTuple`].
pub(crate) const INVITATION_SELECT: &str = "SELECT id, organization_id, email, first_name, last_name, created_at, expires_at, invite_link FROM org_invitation";

pub(crate) fn invitation_row(t: InvitationTuple) -> InvitationRow {
    let (id, organization_id, email, first_name, last_name, created_at, expires_at, invite_link) =
        t;
    InvitationRow {
        id,
        organization_id,
        email,
        first_name,
        last_name,
        created_at,
        expires_at,
        invite_link,
    }
}

/// Stamps [`InvitationStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_invitations {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::InvitationStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_invitation(
                &self,
                r: &$crate::store::InvitationRow,
            ) -> Result<(), $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                sqlx::query("INSERT INTO org_invitation (id, organization_id, email, first_name, last_name, created_at, expires_at, invite_link) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&r.id)
                    .bind(&r.organization_id)
                    .bind(&r.email)
                    .bind(&r.first_name)
                    .bind(&r.last_name)
                    .bind(r.created_at)
                    .bind(r.expires_at)
                    .bind(&r.invite_link)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn invitation(
                &self,
                org_id: &str,
                id: &str,
            ) -> Result<Option<$crate::store::InvitationRow>, $crate::store::StoreError> {
                let sql = format!(
                    "{} WHERE organization_id = $1 AND id = $2",
                    $crate::store::invitations::INVITATION_SELECT
                );
                let row = sqlx::query_as(&sql)
                    .bind(org_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::invitations::invitation_row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn invitations_of_email(
                &self,
                org_id: &str,
                email: &str,
            ) -> Result<Vec<$crate::store::InvitationRow>, $crate::store::StoreError> {
                let sql = format!(
                    "{} WHERE organization_id = $1 AND email = $2 ORDER BY created_at DESC, id",
                    $crate::store::invitations::INVITATION_SELECT
                );
                let rows = sqlx::query_as(&sql)
                    .bind(org_id)
                    .bind(email)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map($crate::store::invitations::invitation_row)
                    .collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn invitations(
                &self,
                org_id: &str,
                q: &$crate::store::InvitationQuery,
            ) -> Result<Vec<$crate::store::InvitationRow>, $crate::store::StoreError> {
                use $crate::store::InvitationStatus;
                // A part of the column, any case (`%`, `_` and `\` escaped).
                let contains = |p: &str| $crate::store::organizations::contains_pattern(&p.to_lowercase());
                let mut b = sqlx::QueryBuilder::<$db>::new(
                    $crate::store::invitations::INVITATION_SELECT,
                );
                b.push(" WHERE organization_id = ").push_bind(org_id.to_string());
                for (column, part) in [
                    ("email", &q.email),
                    ("first_name", &q.first_name),
                    ("last_name", &q.last_name),
                ] {
                    if let Some(p) = part {
                        b.push(format!(" AND lower(coalesce({column}, '')) LIKE "))
                            .push_bind(contains(p))
                            .push(" ESCAPE '\\'");
                    }
                }
                if let Some(p) = &q.search {
                    let like = contains(p);
                    b.push(" AND (lower(email) LIKE ").push_bind(like.clone());
                    b.push(" ESCAPE '\\' OR lower(coalesce(first_name, '')) LIKE ").push_bind(like.clone());
                    b.push(" ESCAPE '\\' OR lower(coalesce(last_name, '')) LIKE ").push_bind(like);
                    b.push(" ESCAPE '\\')");
                }
                match q.status {
                    Some((InvitationStatus::Expired, now)) => {
                        b.push(" AND expires_at < ").push_bind(now);
                    }
                    Some((InvitationStatus::Pending, now)) => {
                        b.push(" AND expires_at >= ").push_bind(now);
                    }
                    None => {}
                }
                b.push(" ORDER BY id LIMIT ").push_bind(if q.max < 0 { i64::MAX } else { q.max });
                b.push(" OFFSET ").push_bind(q.first.max(0));
                let rows: Vec<_> = b.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows
                    .into_iter()
                    .map($crate::store::invitations::invitation_row)
                    .collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_invitation(
                &self,
                org_id: &str,
                id: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM org_invitation WHERE organization_id = $1 AND id = $2")
                    .bind(org_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use impl_invitations;
