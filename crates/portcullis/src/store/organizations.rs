//! Keycloak 26 organizations as rows beside the realm document: the organization with its
//! attributes and e-mail domains, its members (users of the realm, `MANAGED` or
//! `UNMANAGED`) and the identity providers linked to it (by alias). Adding a member is one
//! row, so 100,000 members never rewrite the realm; creating, changing or deleting an
//! organization bumps the realm's version in the same transaction, so that every node
//! rebuilds the realm's snapshot (which indexes the organizations by alias for the token
//! endpoint) — members are read per token instead ([`OrganizationStore::membership_ids`]).

use async_trait::async_trait;
use indexmap::IndexMap;

use super::{StoreError, UserRow};

/// One e-mail domain of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationDomain {
    /// The domain, lower-case.
    pub name: String,
    /// `verified`.
    pub verified: bool,
}

/// A stored organization.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrganizationRow {
    /// Id.
    pub id: String,
    /// Name, unique in the realm.
    pub name: String,
    /// Alias, unique in the realm, never changed after creation.
    pub alias: String,
    /// `enabled`.
    pub enabled: bool,
    /// `description`.
    pub description: Option<String>,
    /// `redirectUrl`.
    pub redirect_url: Option<String>,
    /// `attributes`: name to values, in the order they were given.
    pub attributes: IndexMap<String, Vec<String>>,
    /// `domains`, in name order.
    pub domains: Vec<OrganizationDomain>,
}

/// How a user belongs to an organization (`MembershipType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipType {
    /// Created through the organization's identity provider: removing the membership deletes
    /// the user.
    Managed,
    /// Added by an administrator (or an invitation).
    Unmanaged,
}

impl MembershipType {
    /// `MANAGED` or `UNMANAGED`.
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipType::Managed => "MANAGED",
            MembershipType::Unmanaged => "UNMANAGED",
        }
    }
    /// `MembershipType.valueOf` of the upper-cased text.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_uppercase().as_str() {
            "MANAGED" => Some(MembershipType::Managed),
            "UNMANAGED" => Some(MembershipType::Unmanaged),
            _ => None,
        }
    }
}

/// An organization to insert with its members and linked identity providers (realm import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrganization {
    /// The organization.
    pub row: OrganizationRow,
    /// Members: user id and membership type.
    pub members: Vec<(String, MembershipType)>,
    /// Aliases of the realm's identity providers linked to it.
    pub identity_providers: Vec<String>,
}

/// A search of a realm's organizations (`GET /organizations`), ordered by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationQuery {
    /// `search`: part of the name (any case) or of a domain; with `exact`, the name or a domain.
    pub search: Option<String>,
    /// `exact`.
    pub exact: bool,
    /// `q`: `alias` or attribute name and value, all of which match.
    pub attributes: Vec<(String, String)>,
    /// Offset.
    pub first: i64,
    /// Limit; negative for all.
    pub max: i64,
}

/// A search of an organization's members, ordered by user name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberQuery {
    /// `search`: part of the user name, e-mail, first or last name (with `exact`: all of it).
    pub search: Option<String>,
    /// `exact`.
    pub exact: bool,
    /// `membershipType`.
    pub membership_type: Option<MembershipType>,
    /// Offset.
    pub first: i64,
    /// Limit; negative for all.
    pub max: i64,
}

/// A member: the user and how they belong.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    /// The user.
    pub user: UserRow,
    /// How.
    pub membership_type: MembershipType,
}

/// Which uniqueness rule of the organizations a write broke (each has its own answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgConflict {
    /// Another organization of the realm has the name.
    Name,
    /// Another organization of the realm has the alias.
    Alias,
    /// Another organization of the realm has the domain.
    Domain {
        /// The domain.
        domain: String,
        /// The other organization's name.
        organization: String,
    },
    /// The identity provider is linked to this organization already.
    IdpLinked,
    /// The identity provider is linked to another organization.
    IdpElsewhere,
    /// The id is taken.
    Id,
}

impl OrgConflict {
    /// Keycloak's text for it (`JpaOrganizationProvider`, `OrganizationAdapter`).
    pub fn message(&self, realm: &str) -> String {
        match self {
            OrgConflict::Name => "A organization with the same name already exists.".into(),
            OrgConflict::Alias => "A organization with the same alias already exists".into(),
            OrgConflict::Domain {
                domain,
                organization,
            } => format!(
                "Domain {domain} is already linked to organization {organization} in realm {realm}"
            ),
            OrgConflict::IdpLinked => {
                "Identity provider already associated to the organization".into()
            }
            OrgConflict::IdpElsewhere => {
                "Identity provider already associated with a different organization".into()
            }
            OrgConflict::Id => "An organization with the same id already exists".into(),
        }
    }
}

/// A failed organization write: a uniqueness rule, or the store.
#[derive(Debug, thiserror::Error)]
pub enum OrgWriteError {
    /// A uniqueness rule failed.
    #[error("organization conflict: {0:?}")]
    Conflict(OrgConflict),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for OrgWriteError {
    fn from(e: sqlx::Error) -> Self {
        OrgWriteError::Store(e.into())
    }
}

impl OrgWriteError {
    /// As a plain store error (a conflict as [`StoreError::Unique`] with Keycloak's text).
    pub fn into_store(self, realm: &str) -> StoreError {
        match self {
            OrgWriteError::Conflict(c) => StoreError::Unique(c.message(realm)),
            OrgWriteError::Store(e) => e,
        }
    }
}

/// Organizations, their members and linked identity providers.
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// A realm's organizations, ordered by name, with attributes and domains.
    async fn organizations(&self, realm_id: &str) -> Result<Vec<OrganizationRow>, StoreError>;
    /// Every realm's organizations: `(realm id, organization)` (start-up).
    async fn all_organizations(&self) -> Result<Vec<(String, OrganizationRow)>, StoreError>;
    /// One organization of a realm.
    async fn organization(
        &self,
        realm_id: &str,
        id: &str,
    ) -> Result<Option<OrganizationRow>, StoreError>;
    /// Organizations matching a search, ordered by name.
    async fn search_organizations(
        &self,
        realm_id: &str,
        q: &OrganizationQuery,
    ) -> Result<Vec<OrganizationRow>, StoreError>;
    /// Number of organizations matching a search (paging ignored).
    async fn count_organizations(
        &self,
        realm_id: &str,
        q: &OrganizationQuery,
    ) -> Result<i64, StoreError>;
    /// Inserts an organization (with its members and linked identity providers), bumping the
    /// realm's version.
    async fn insert_organization(
        &self,
        realm_id: &str,
        org: &NewOrganization,
    ) -> Result<(), OrgWriteError>;
    /// Replaces an organization's name, flags, texts and domains, and its attributes when
    /// given (`None` keeps them, as Keycloak does), bumping the realm's version; false when
    /// there is none.
    async fn update_organization(
        &self,
        realm_id: &str,
        org: &OrganizationRow,
        replace_attributes: bool,
    ) -> Result<bool, OrgWriteError>;
    /// Deletes an organization with its memberships and links, bumping the realm's version;
    /// false when there was none.
    async fn delete_organization(&self, realm_id: &str, id: &str) -> Result<bool, StoreError>;
    /// Makes a user of the realm a member; false when the user is a member already or is no
    /// user of the realm.
    async fn add_member(
        &self,
        realm_id: &str,
        org_id: &str,
        user_id: &str,
        kind: MembershipType,
    ) -> Result<bool, StoreError>;
    /// Ends a membership; false when there was none.
    async fn remove_member(&self, org_id: &str, user_id: &str) -> Result<bool, StoreError>;
    /// An organization's members matching a search, ordered by user name.
    async fn members(&self, org_id: &str, q: &MemberQuery) -> Result<Vec<MemberRow>, StoreError>;
    /// Number of an organization's members.
    async fn count_members(&self, org_id: &str) -> Result<i64, StoreError>;
    /// One member.
    async fn member(&self, org_id: &str, user_id: &str) -> Result<Option<MemberRow>, StoreError>;
    /// The organizations a user is a member of, ordered by name.
    async fn organizations_of_member(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<OrganizationRow>, StoreError>;
    /// The ids of the organizations a user is a member of: one indexed query (the token
    /// endpoint's, when an organization scope is asked for).
    async fn membership_ids(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Vec<String>, StoreError>;
    /// Links an identity provider (alias) of the realm to an organization.
    async fn link_identity_provider(
        &self,
        realm_id: &str,
        org_id: &str,
        alias: &str,
    ) -> Result<(), OrgWriteError>;
    /// Unlinks an identity provider; false when it was not linked to the organization.
    async fn unlink_identity_provider(&self, org_id: &str, alias: &str)
        -> Result<bool, StoreError>;
    /// `(alias, organization id)` of every identity provider linked in the realm.
    async fn identity_provider_links(
        &self,
        realm_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Every member of every organization of the realm: `(organization id, user name, type)`
    /// (realm export).
    async fn all_members(
        &self,
        realm_id: &str,
    ) -> Result<Vec<(String, String, MembershipType)>, StoreError>;
}

/// A `LIKE` pattern matching `s` anywhere (`%`, `_` and `\` escaped).
pub(crate) fn contains_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The limit of a page (`max` < 0: all).
pub(crate) fn limit(max: i64) -> i64 {
    if max < 0 {
        i64::MAX
    } else {
        max
    }
}

/// An `organization` row as read: id, name, alias, enabled, description, redirect URL.
pub(crate) type OrgTuple = (String, String, String, i64, Option<String>, Option<String>);

pub(crate) const ORG_COLUMNS: &str =
    "o.id, o.name, o.alias, o.enabled, o.description, o.redirect_url";

pub(crate) fn org_row(t: OrgTuple) -> OrganizationRow {
    let (id, name, alias, enabled, description, redirect_url) = t;
    OrganizationRow {
        id,
        name,
        alias,
        enabled: enabled != 0,
        description,
        redirect_url,
        ..Default::default()
    }
}

/// Stamps [`OrganizationStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_organizations {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Fills in the attributes and domains of `rows` (all of one realm, or a page).
            async fn org_details(&self, realm_id: Option<&str>, rows: &mut [$crate::store::OrganizationRow]) -> Result<(), $crate::store::StoreError> {
                if rows.is_empty() {
                    return Ok(());
                }
                let index: std::collections::HashMap<String, usize> = rows.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
                // A page is read by its ids; a whole realm (or every realm) at once.
                let by_ids = rows.len() <= 200;
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT a.organization_id, a.name, a.value FROM organization_attribute a JOIN organization o ON o.id = a.organization_id WHERE ");
                Self::org_scope(&mut qb, realm_id, rows, by_ids);
                qb.push(" ORDER BY a.organization_id, a.ordinal");
                let attrs: Vec<(String, String, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                for (org, name, value) in attrs {
                    if let Some(r) = index.get(&org).and_then(|i| rows.get_mut(*i)) {
                        r.attributes.entry(name).or_default().push(value);
                    }
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT a.organization_id, a.name, a.verified FROM organization_domain a JOIN organization o ON o.id = a.organization_id WHERE ");
                Self::org_scope(&mut qb, realm_id, rows, by_ids);
                qb.push(" ORDER BY a.organization_id, a.name");
                let domains: Vec<(String, String, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
                for (org, name, verified) in domains {
                    if let Some(r) = index.get(&org).and_then(|i| rows.get_mut(*i)) {
                        r.domains.push($crate::store::OrganizationDomain { name, verified: verified != 0 });
                    }
                }
                Ok(())
            }

            fn org_scope<'q>(qb: &mut sqlx::QueryBuilder<'q, $db>, realm_id: Option<&'q str>, rows: &'q [$crate::store::OrganizationRow], by_ids: bool) {
                if by_ids {
                    qb.push("o.id IN (");
                    let mut ids = qb.separated(", ");
                    for r in rows {
                        ids.push_bind(r.id.as_str());
                    }
                    ids.push_unseparated(")");
                } else if let Some(realm_id) = realm_id {
                    qb.push("o.realm_id = ").push_bind(realm_id);
                } else {
                    qb.push("1 = 1");
                }
            }

            /// The conditions of an organization search (after `WHERE`).
            fn org_filters<'q>(qb: &mut sqlx::QueryBuilder<'q, $db>, realm_id: &'q str, q: &'q $crate::store::OrganizationQuery) {
                qb.push("o.realm_id = ").push_bind(realm_id);
                if let Some(s) = q.search.as_deref().filter(|s| !s.trim().is_empty()) {
                    if q.exact {
                        qb.push(" AND (o.name = ").push_bind(s);
                        qb.push(" OR o.id IN (SELECT organization_id FROM organization_domain WHERE realm_id = ").push_bind(realm_id);
                        qb.push(" AND name = ").push_bind(s.to_lowercase()).push("))");
                    } else {
                        let p = $crate::store::organizations::contains_pattern(&s.to_lowercase());
                        qb.push(" AND (lower(o.name) LIKE ").push_bind(p.clone()).push(" ESCAPE '\\'");
                        qb.push(" OR o.id IN (SELECT organization_id FROM organization_domain WHERE realm_id = ").push_bind(realm_id);
                        qb.push(" AND name LIKE ").push_bind(p).push(" ESCAPE '\\'))");
                    }
                }
                for (k, v) in &q.attributes {
                    if k == "alias" {
                        qb.push(" AND o.alias = ").push_bind(v.as_str());
                    } else {
                        qb.push(" AND o.id IN (SELECT organization_id FROM organization_attribute WHERE name = ").push_bind(k.as_str());
                        qb.push(" AND value = ").push_bind(v.as_str()).push(")");
                    }
                }
            }

            /// The uniqueness checks of an organization write, inside its transaction (the
            /// UNIQUE constraints stay the backstop): each rule has its own answer.
            async fn org_conflicts(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, org: &$crate::store::OrganizationRow, creating: bool) -> Result<(), $crate::store::OrgWriteError> {
                use $crate::store::{OrgConflict, OrgWriteError};
                if creating {
                    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM organization WHERE id = $1").bind(&org.id).fetch_optional(&mut *conn).await?;
                    if taken.is_some() {
                        return Err(OrgWriteError::Conflict(OrgConflict::Id));
                    }
                }
                let name: Option<(String,)> = sqlx::query_as("SELECT id FROM organization WHERE realm_id = $1 AND name = $2 AND id <> $3").bind(realm_id).bind(&org.name).bind(&org.id).fetch_optional(&mut *conn).await?;
                if name.is_some() {
                    return Err(OrgWriteError::Conflict(OrgConflict::Name));
                }
                if creating {
                    let alias: Option<(String,)> = sqlx::query_as("SELECT id FROM organization WHERE realm_id = $1 AND alias = $2").bind(realm_id).bind(&org.alias).fetch_optional(&mut *conn).await?;
                    if alias.is_some() {
                        return Err(OrgWriteError::Conflict(OrgConflict::Alias));
                    }
                }
                for d in &org.domains {
                    let other: Option<(String,)> = sqlx::query_as("SELECT o.name FROM organization_domain d JOIN organization o ON o.id = d.organization_id WHERE d.realm_id = $1 AND d.name = $2 AND d.organization_id <> $3")
                        .bind(realm_id).bind(&d.name).bind(&org.id).fetch_optional(&mut *conn).await?;
                    if let Some((organization,)) = other {
                        return Err(OrgWriteError::Conflict(OrgConflict::Domain { domain: d.name.clone(), organization }));
                    }
                }
                Ok(())
            }

            /// Writes an organization's attributes and domains (after deleting the old ones).
            async fn org_children(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, org: &$crate::store::OrganizationRow, attributes: bool) -> Result<(), $crate::store::OrgWriteError> {
                if attributes {
                    sqlx::query("DELETE FROM organization_attribute WHERE organization_id = $1").bind(&org.id).execute(&mut *conn).await?;
                    let mut ordinal: i64 = 0;
                    for (name, values) in &org.attributes {
                        for value in values {
                            sqlx::query("INSERT INTO organization_attribute (organization_id, name, value, ordinal) VALUES ($1, $2, $3, $4)")
                                .bind(&org.id).bind(name).bind(value).bind(ordinal).execute(&mut *conn).await?;
                            ordinal += 1;
                        }
                    }
                }
                sqlx::query("DELETE FROM organization_domain WHERE organization_id = $1").bind(&org.id).execute(&mut *conn).await?;
                for d in &org.domains {
                    sqlx::query("INSERT INTO organization_domain (organization_id, realm_id, name, verified) VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id, name) DO UPDATE SET verified = excluded.verified")
                        .bind(&org.id).bind(realm_id).bind(&d.name).bind(i64::from(d.verified)).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Inserts one organization with its children, members and links on `conn` (inside
            /// the caller's transaction).
            pub(crate) async fn insert_organization_on(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str, new: &$crate::store::NewOrganization) -> Result<(), $crate::store::OrgWriteError> {
                use $crate::store::{OrgConflict, OrgWriteError};
                let org = &new.row;
                Self::org_conflicts(&mut *conn, realm_id, org, true).await?;
                sqlx::query("INSERT INTO organization (id, realm_id, name, alias, enabled, description, redirect_url) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&org.id).bind(realm_id).bind(&org.name).bind(&org.alias).bind(i64::from(org.enabled)).bind(&org.description).bind(&org.redirect_url)
                    .execute(&mut *conn).await
                    .map_err(|e| match $crate::store::StoreError::from(e) {
                        $crate::store::StoreError::Unique(m) if m.contains("alias") => OrgWriteError::Conflict(OrgConflict::Alias),
                        $crate::store::StoreError::Unique(_) => OrgWriteError::Conflict(OrgConflict::Name),
                        other => OrgWriteError::Store(other),
                    })?;
                Self::org_children(&mut *conn, realm_id, org, true).await.map_err(|e| match e {
                    OrgWriteError::Store($crate::store::StoreError::Unique(_)) => OrgWriteError::Conflict(OrgConflict::Domain { domain: String::new(), organization: String::new() }),
                    other => other,
                })?;
                for (user_id, kind) in &new.members {
                    sqlx::query("INSERT INTO organization_member (organization_id, user_id, membership_type) VALUES ($1, $2, $3) ON CONFLICT (organization_id, user_id) DO NOTHING")
                        .bind(&org.id).bind(user_id).bind(kind.as_str()).execute(&mut *conn).await?;
                }
                for alias in &new.identity_providers {
                    sqlx::query("INSERT INTO organization_idp (organization_id, realm_id, alias) VALUES ($1, $2, $3)")
                        .bind(&org.id).bind(realm_id).bind(alias).execute(&mut *conn).await
                        .map_err(|e| match $crate::store::StoreError::from(e) {
                            $crate::store::StoreError::Unique(_) => OrgWriteError::Conflict(OrgConflict::IdpElsewhere),
                            other => OrgWriteError::Store(other),
                        })?;
                }
                Ok(())
            }

            /// Bumps a realm's version, so that every node rebuilds its snapshot.
            async fn bump_realm(conn: &mut <$db as sqlx::Database>::Connection, realm_id: &str) -> Result<(), sqlx::Error> {
                sqlx::query("UPDATE realm SET version = version + 1, updated_at = $2 WHERE id = $1").bind(realm_id).bind($crate::clock::now()).execute(&mut *conn).await?;
                Ok(())
            }

            async fn select_orgs(&self, realm_id: Option<&str>) -> Result<Vec<(String, $crate::store::OrganizationRow)>, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!("SELECT o.realm_id, {} FROM organization o", $crate::store::organizations::ORG_COLUMNS));
                if let Some(r) = realm_id {
                    qb.push(" WHERE o.realm_id = ").push_bind(r);
                }
                qb.push(" ORDER BY o.realm_id, o.name");
                let rows: Vec<(String, String, String, String, i64, Option<String>, Option<String>)> = qb.build_query_as().fetch_all(&self.pool).await?;
                let (realms, mut orgs): (Vec<String>, Vec<$crate::store::OrganizationRow>) = rows
                    .into_iter()
                    .map(|(realm, id, name, alias, enabled, description, redirect_url)| (realm, $crate::store::organizations::org_row((id, name, alias, enabled, description, redirect_url))))
                    .unzip();
                self.org_details(realm_id, &mut orgs).await?;
                Ok(realms.into_iter().zip(orgs).collect())
            }

            fn member_row(&self, t: (String, String, Option<String>, String, String)) -> Result<$crate::store::MemberRow, $crate::store::StoreError> {
                let (id, username, email, representation, kind) = t;
                Ok($crate::store::MemberRow {
                    user: self.opened_user((id, username, email, representation))?,
                    membership_type: $crate::store::MembershipType::parse(&kind).unwrap_or($crate::store::MembershipType::Unmanaged),
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::OrganizationStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn organizations(&self, realm_id: &str) -> Result<Vec<$crate::store::OrganizationRow>, $crate::store::StoreError> {
                Ok(self.select_orgs(Some(realm_id)).await?.into_iter().map(|(_, o)| o).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn all_organizations(&self) -> Result<Vec<(String, $crate::store::OrganizationRow)>, $crate::store::StoreError> {
                self.select_orgs(None).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn organization(&self, realm_id: &str, id: &str) -> Result<Option<$crate::store::OrganizationRow>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM organization o WHERE o.realm_id = $1 AND o.id = $2", $crate::store::organizations::ORG_COLUMNS);
                let row: Option<$crate::store::organizations::OrgTuple> = sqlx::query_as(&sql).bind(realm_id).bind(id).fetch_optional(&self.pool).await?;
                let mut rows: Vec<$crate::store::OrganizationRow> = row.map($crate::store::organizations::org_row).into_iter().collect();
                self.org_details(Some(realm_id), &mut rows).await?;
                Ok(rows.pop())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn search_organizations(&self, realm_id: &str, q: &$crate::store::OrganizationQuery) -> Result<Vec<$crate::store::OrganizationRow>, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!("SELECT {} FROM organization o WHERE ", $crate::store::organizations::ORG_COLUMNS));
                Self::org_filters(&mut qb, realm_id, q);
                qb.push(" ORDER BY o.name LIMIT ").push_bind($crate::store::organizations::limit(q.max)).push(" OFFSET ").push_bind(q.first.max(0));
                let rows: Vec<$crate::store::organizations::OrgTuple> = qb.build_query_as().fetch_all(&self.pool).await?;
                let mut rows: Vec<$crate::store::OrganizationRow> = rows.into_iter().map($crate::store::organizations::org_row).collect();
                self.org_details(Some(realm_id), &mut rows).await?;
                Ok(rows)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn count_organizations(&self, realm_id: &str, q: &$crate::store::OrganizationQuery) -> Result<i64, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM organization o WHERE ");
                Self::org_filters(&mut qb, realm_id, q);
                let (n,): (i64,) = qb.build_query_as().fetch_one(&self.pool).await?;
                Ok(n)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_organization(&self, realm_id: &str, org: &$crate::store::NewOrganization) -> Result<(), $crate::store::OrgWriteError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                Self::insert_organization_on(&mut *tx, realm_id, org).await?;
                Self::bump_realm(&mut *tx, realm_id).await?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_organization(&self, realm_id: &str, org: &$crate::store::OrganizationRow, replace_attributes: bool) -> Result<bool, $crate::store::OrgWriteError> {
                use $crate::store::{OrgConflict, OrgWriteError};
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                Self::org_conflicts(&mut *tx, realm_id, org, false).await?;
                let done = sqlx::query("UPDATE organization SET name = $1, enabled = $2, description = $3, redirect_url = $4 WHERE realm_id = $5 AND id = $6")
                    .bind(&org.name).bind(i64::from(org.enabled)).bind(&org.description).bind(&org.redirect_url).bind(realm_id).bind(&org.id)
                    .execute(&mut *tx).await
                    .map_err(|e| match $crate::store::StoreError::from(e) {
                        $crate::store::StoreError::Unique(_) => OrgWriteError::Conflict(OrgConflict::Name),
                        other => OrgWriteError::Store(other),
                    })?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::org_children(&mut *tx, realm_id, org, replace_attributes).await?;
                Self::bump_realm(&mut *tx, realm_id).await?;
                tx.commit().await?;
                Ok(true)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_organization(&self, realm_id: &str, id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                for table in ["organization_member", "organization_idp", "organization_domain", "organization_attribute"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE organization_id = $1 AND organization_id IN (SELECT id FROM organization WHERE realm_id = $2)")).bind(id).bind(realm_id).execute(&mut *tx).await?;
                }
                let done = sqlx::query("DELETE FROM organization WHERE realm_id = $1 AND id = $2").bind(realm_id).bind(id).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::bump_realm(&mut *tx, realm_id).await?;
                tx.commit().await?;
                Ok(true)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn add_member(&self, realm_id: &str, org_id: &str, user_id: &str, kind: $crate::store::MembershipType) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("INSERT INTO organization_member (organization_id, user_id, membership_type) SELECT o.id, u.id, $3 FROM organization o JOIN user_entity u ON u.realm_id = o.realm_id WHERE o.realm_id = $4 AND o.id = $1 AND u.id = $2 ON CONFLICT (organization_id, user_id) DO NOTHING")
                    .bind(org_id).bind(user_id).bind(kind.as_str()).bind(realm_id).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn remove_member(&self, org_id: &str, user_id: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM organization_member WHERE organization_id = $1 AND user_id = $2").bind(org_id).bind(user_id).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn members(&self, org_id: &str, q: &$crate::store::MemberQuery) -> Result<Vec<$crate::store::MemberRow>, $crate::store::StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT u.id, u.username, u.email, u.representation, m.membership_type FROM organization_member m JOIN user_entity u ON u.id = m.user_id WHERE m.organization_id = ");
                qb.push_bind(org_id);
                if let Some(s) = q.search.as_deref() {
                    let s = s.to_lowercase();
                    let (op, v) = if q.exact { (" = ", s) } else { (" LIKE ", $crate::store::organizations::contains_pattern(&s)) };
                    let esc = if q.exact { "" } else { " ESCAPE '\\'" };
                    qb.push(" AND (");
                    for (i, col) in ["u.username", "u.email", "u.first_name", "u.last_name"].iter().enumerate() {
                        if i > 0 {
                            qb.push(" OR ");
                        }
                        qb.push(*col).push(op).push_bind(v.clone()).push(esc);
                    }
                    qb.push(")");
                }
                if let Some(kind) = q.membership_type {
                    qb.push(" AND m.membership_type = ").push_bind(kind.as_str());
                }
                qb.push(" ORDER BY u.username LIMIT ").push_bind($crate::store::organizations::limit(q.max)).push(" OFFSET ").push_bind(q.first.max(0));
                let rows: Vec<(String, String, Option<String>, String, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(|t| self.member_row(t)).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn count_members(&self, org_id: &str) -> Result<i64, $crate::store::StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM organization_member WHERE organization_id = $1").bind(org_id).fetch_one(&self.pool).await?;
                Ok(n)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn member(&self, org_id: &str, user_id: &str) -> Result<Option<$crate::store::MemberRow>, $crate::store::StoreError> {
                let row: Option<(String, String, Option<String>, String, String)> = sqlx::query_as("SELECT u.id, u.username, u.email, u.representation, m.membership_type FROM organization_member m JOIN user_entity u ON u.id = m.user_id WHERE m.organization_id = $1 AND m.user_id = $2")
                    .bind(org_id).bind(user_id).fetch_optional(&self.pool).await?;
                row.map(|t| self.member_row(t)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn organizations_of_member(&self, realm_id: &str, user_id: &str) -> Result<Vec<$crate::store::OrganizationRow>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM organization o JOIN organization_member m ON m.organization_id = o.id WHERE o.realm_id = $1 AND m.user_id = $2 ORDER BY o.name", $crate::store::organizations::ORG_COLUMNS);
                let rows: Vec<$crate::store::organizations::OrgTuple> = sqlx::query_as(&sql).bind(realm_id).bind(user_id).fetch_all(&self.pool).await?;
                let mut rows: Vec<$crate::store::OrganizationRow> = rows.into_iter().map($crate::store::organizations::org_row).collect();
                self.org_details(Some(realm_id), &mut rows).await?;
                Ok(rows)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn membership_ids(&self, realm_id: &str, user_id: &str) -> Result<Vec<String>, $crate::store::StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT m.organization_id FROM organization_member m JOIN organization o ON o.id = m.organization_id WHERE m.user_id = $1 AND o.realm_id = $2")
                    .bind(user_id).bind(realm_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn link_identity_provider(&self, realm_id: &str, org_id: &str, alias: &str) -> Result<(), $crate::store::OrgWriteError> {
                use $crate::store::{OrgConflict, OrgWriteError};
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                let linked: Option<(String,)> = sqlx::query_as("SELECT organization_id FROM organization_idp WHERE realm_id = $1 AND alias = $2").bind(realm_id).bind(alias).fetch_optional(&mut *tx).await?;
                if let Some((other,)) = linked {
                    return Err(OrgWriteError::Conflict(if other == org_id { OrgConflict::IdpLinked } else { OrgConflict::IdpElsewhere }));
                }
                sqlx::query("INSERT INTO organization_idp (organization_id, realm_id, alias) VALUES ($1, $2, $3)")
                    .bind(org_id).bind(realm_id).bind(alias).execute(&mut *tx).await
                    .map_err(|e| match $crate::store::StoreError::from(e) {
                        $crate::store::StoreError::Unique(_) => OrgWriteError::Conflict(OrgConflict::IdpElsewhere),
                        other => OrgWriteError::Store(other),
                    })?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn unlink_identity_provider(&self, org_id: &str, alias: &str) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM organization_idp WHERE organization_id = $1 AND alias = $2").bind(org_id).bind(alias).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn identity_provider_links(&self, realm_id: &str) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as("SELECT alias, organization_id FROM organization_idp WHERE realm_id = $1 ORDER BY alias")
                    .bind(realm_id).fetch_all(&self.pool).await?;
                Ok(rows)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn all_members(&self, realm_id: &str) -> Result<Vec<(String, String, $crate::store::MembershipType)>, $crate::store::StoreError> {
                let rows: Vec<(String, String, String)> = sqlx::query_as("SELECT m.organization_id, u.username, m.membership_type FROM organization_member m JOIN organization o ON o.id = m.organization_id JOIN user_entity u ON u.id = m.user_id WHERE o.realm_id = $1 ORDER BY m.organization_id, u.username")
                    .bind(realm_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(o, u, k)| (o, u, $crate::store::MembershipType::parse(&k).unwrap_or($crate::store::MembershipType::Unmanaged))).collect())
            }
        }
    };
}

pub(crate) use impl_organizations;
