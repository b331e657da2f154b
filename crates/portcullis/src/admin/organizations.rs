//! `/admin/realms/{realm}/organizations`: Keycloak 26 organizations (`OrganizationsResource`,
//! `OrganizationResource`, `OrganizationMemberResource`,
//! `OrganizationIdentityProvidersResource`): list/search/count, create, get, update, delete;
//! members (add by raw user id, list, count, get, remove, a member's organizations); linked
//! identity providers (link by raw alias, list, get, unlink); invitations by e-mail
//! (`OrganizationInvitationResource`: `members/invite-user`, `members/invite-existing-user`).
//!
//! Organizations are rows of the store ([`crate::store::OrganizationStore`]); creating,
//! changing or deleting one rebuilds the realm's snapshot (tokens read organizations by
//! alias from it), adding or removing a member touches one row only. Every path answers 404
//! `Organizations not enabled for this realm.` while the realm's `organizationsEnabled` is
//! off, after the caller's roles are checked (measured on Keycloak 26.7).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Caller, NeedMarker, RealmAdmin, Scoped};
use super::view::user_json;
use super::{created, new_id, no_content, AdminError, AdminResult};
use crate::authz::fgap::ORGANIZATIONS;
use crate::http::paths;
use crate::realm::org_rows::{self, OrgInputError, OrganizationRepresentation};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::{
    MemberQuery, MemberRow, MembershipType, NewOrganization, OrgConflict, OrgWriteError,
    OrganizationQuery, OrganizationRow,
};
use crate::AppState;

/// Keycloak's default page size here (`@DefaultValue("10")`).
const DEFAULT_MAX: i64 = 10;

fn any_of(caller: &Caller, realm: &str, roles: &[&str]) -> AdminResult<()> {
    if roles.iter().any(|r| caller.has(realm, r)) {
        Ok(())
    } else {
        Err(AdminError::Forbidden)
    }
}

const VIEW_ROLES: &[&str] = &["view-organizations", "manage-organizations", "manage-realm"];
const QUERY_ROLES: &[&str] = &[
    "query-organizations",
    "view-organizations",
    "manage-organizations",
    "manage-realm",
];
const MANAGE_ROLES: &[&str] = &["manage-organizations", "manage-realm"];

macro_rules! org_needs {
    ($($(#[$doc:meta])* $name:ident => $roles:expr, $scoped:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl NeedMarker for $name {
            fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
                any_of(caller, realm, $roles)
            }
            const SCOPED: Option<Scoped> = Some($scoped);
        }
    )*};
}

org_needs! {
    /// Reading the organization of the path: `view-organizations`, `manage-organizations` or
    /// `manage-realm` (Keycloak 26.7's roles; before them `manage-realm` alone), else `view`
    /// of that organization.
    ViewOrgs => VIEW_ROLES, Scoped::Organization("view");
    /// Reading organizations of no one path: as [`ViewOrgs`], else `view` of all of them.
    ViewAllOrgs => VIEW_ROLES, Scoped::AllOrganizations("view");
    /// Listing and counting: [`ViewOrgs`]' roles or `query-organizations`, else `view` of
    /// all organizations (`OrganizationPermissions.canQuery`); the list then holds those the
    /// caller may view.
    QueryOrgs => QUERY_ROLES, Scoped::AllOrganizations("view");
    /// Changing the organization of the path: `manage-organizations` or `manage-realm`, else
    /// `manage` of that organization.
    ManageOrgs => MANAGE_ROLES, Scoped::Organization("manage");
    /// Creating one: `manage-organizations` or `manage-realm`, else `manage` of all of them.
    CreateOrgs => MANAGE_ROLES, Scoped::AllOrganizations("manage");
}

/// The organizations the caller may see in lists: `None` for all (by its roles, or without
/// fine-grained permissions), else the test its permissions give.
async fn org_filter(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
) -> AdminResult<Option<super::permissions::Fgap>> {
    if ViewOrgs::check(caller, &snap.name).is_ok() {
        return Ok(None);
    }
    Ok(super::permissions::Fgap::of(state, snap, caller)
        .await?
        .filter(|f| !f.all(ORGANIZATIONS, "view")))
}

/// `Organizations.checkEnabled`: 404 while the realm's organizations are off.
fn enabled(snap: &RealmSnapshot) -> AdminResult<()> {
    if snap.settings.organizations_enabled {
        Ok(())
    } else {
        Err(AdminError::Status(
            StatusCode::NOT_FOUND,
            "Organizations not enabled for this realm.".into(),
        ))
    }
}

/// A JAX-RS `NotFoundException()` without a message.
fn plain_not_found() -> AdminError {
    AdminError::not_found("HTTP 404 Not Found")
}

pub(super) async fn load_org(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
) -> AdminResult<OrganizationRow> {
    enabled(snap)?;
    state
        .store
        .organization(&snap.id, id)
        .await?
        .ok_or_else(|| AdminError::Status(StatusCode::NOT_FOUND, "Organization not found.".into()))
}

fn input_error(e: OrgInputError) -> AdminError {
    match e {
        OrgInputError::Invalid(m) => AdminError::bad(m),
        OrgInputError::Reserved(m) => AdminError::Plain(m),
    }
}

fn write_error(e: OrgWriteError, realm: &str) -> AdminError {
    match e {
        // `ModelValidationException`: 400; `ModelDuplicateException`: 409.
        OrgWriteError::Conflict(c @ (OrgConflict::Domain { .. } | OrgConflict::IdpElsewhere)) => {
            AdminError::bad(c.message(realm))
        }
        OrgWriteError::Conflict(c) => AdminError::Conflict(c.message(realm)),
        OrgWriteError::Store(e) => e.into(),
    }
}

/// An `OrganizationRepresentation` body; `None` when there is none (or `null`).
fn org_body(bytes: &[u8]) -> AdminResult<Option<OrganizationRepresentation>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let unparsable =
        || AdminError::Policy("invalid_request".into(), "Cannot parse the JSON".into());
    let v: Value = serde_json::from_slice(bytes).map_err(|_| unparsable())?;
    match v {
        Value::Null => Ok(None),
        Value::Object(_) => {
            super::representation(bytes, &super::Shape::One(&super::jackson::ORGANIZATION))
                .map(Some)
        }
        _ => Err(unparsable()),
    }
}

/// A raw id body (`"uuid"` or `uuid`): trimmed, one surrounding quote each side dropped
/// (`id.trim().replaceAll("^\"|\"$", "")`).
fn raw_id(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    let s = s.strip_prefix('"').unwrap_or(s);
    s.strip_suffix('"').unwrap_or(s).to_string()
}

/// After an organization changed: this node's snapshot of the realm now (other nodes see the
/// realm's version change).
async fn refresh(state: &AppState, snap: &RealmSnapshot) -> AdminResult<()> {
    state
        .realms
        .reload(state.store.as_ref(), &snap.name)
        .await?;
    Ok(())
}

/// Query of the organization list and count.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    search: Option<String>,
    q: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    exact: Option<bool>,
    first: Option<i64>,
    max: Option<i64>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

/// `SearchQueryUtils.getFields`: `key1:value1 key2:"value 2"`.
pub(crate) fn search_fields(q: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = q.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once(':') else {
            break;
        };
        let key = key.trim().trim_matches('"').to_string();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v.to_string(), n),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.split_once(char::is_whitespace) {
                Some((v, n)) => (v.to_string(), n),
                None => (after.to_string(), ""),
            }
        };
        if !key.is_empty() {
            out.push((key, value));
        }
        rest = next.trim_start();
    }
    out
}

pub(crate) fn org_query(q: &ListQuery) -> OrganizationQuery {
    let attributes =
        q.q.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(search_fields);
    OrganizationQuery {
        // With `q`, the attributes alone decide (`OrganizationsResource.search`).
        search: if attributes.is_some() {
            None
        } else {
            q.search.clone()
        },
        exact: q.exact == Some(true),
        attributes: attributes.unwrap_or_default(),
        first: q.first.unwrap_or(0).max(0),
        max: match q.max {
            Some(m) => m,
            None => DEFAULT_MAX,
        },
    }
}

/// `GET /organizations`: brief unless `briefRepresentation=false`, ordered by name.
/// With fine-grained admin permissions, a caller whose roles do not let it view every
/// organization gets those it may view, paged after filtering.
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query,
        ..
    }: RealmAdmin<QueryOrgs, ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    enabled(&snap)?;
    let brief = query.brief_representation != Some(false);
    let q = org_query(&query);
    let rows = match org_filter(&state, &snap, &caller).await? {
        None => state.store.search_organizations(&snap.id, &q).await?,
        Some(f) => {
            let all = OrganizationQuery {
                first: 0,
                max: -1,
                ..q.clone()
            };
            let seen = state.store.search_organizations(&snap.id, &all).await?;
            seen.into_iter()
                .filter(|o| f.organization(&o.id, "view"))
                .skip(q.first.max(0) as usize)
                .take(if q.max < 0 {
                    usize::MAX
                } else {
                    q.max as usize
                })
                .collect()
        }
    };
    Ok(Json(
        rows.iter().map(|o| org_rows::to_json(o, brief)).collect(),
    ))
}

/// `GET /organizations/count`: a bare number (of those the caller may view, as the list).
pub async fn count(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query,
        ..
    }: RealmAdmin<QueryOrgs, ListQuery>,
) -> AdminResult<Json<i64>> {
    enabled(&snap)?;
    let q = org_query(&query);
    Ok(Json(match org_filter(&state, &snap, &caller).await? {
        None => state.store.count_organizations(&snap.id, &q).await?,
        Some(f) => {
            let all = OrganizationQuery {
                first: 0,
                max: -1,
                ..q
            };
            let seen = state.store.search_organizations(&snap.id, &all).await?;
            seen.iter()
                .filter(|o| f.organization(&o.id, "view"))
                .count() as i64
        }
    }))
}

/// `POST /organizations`: 201 with `Location`; the id in the body is not used.
pub async fn create(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<CreateOrgs>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    enabled(&snap)?;
    let rep = org_body(&bytes)?.ok_or_else(|| AdminError::bad("Organization cannot be null."))?;
    let row = org_rows::new_row(&rep, new_id()).map_err(input_error)?;
    let id = row.id.clone();
    let new = NewOrganization {
        row,
        members: Vec::new(),
        identity_providers: Vec::new(),
    };
    state
        .store
        .insert_organization(&snap.id, &new)
        .await
        .map_err(|e| write_error(e, &snap.name))?;
    refresh(&state, &snap).await?;
    Ok(created(&uri, &id))
}

/// `GET /organizations/{org}`: the full representation (`briefRepresentation` ignored).
pub async fn get(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewOrgs>,
    Path((_, org)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let o = load_org(&state, &snap, &org).await?;
    Ok(Json(org_rows::to_json(&o, false)))
}

/// `PUT /organizations/{org}`: replaces the organization (domains included); the alias stays.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let current = load_org(&state, &snap, &org).await?;
    // Keycloak dereferences the missing body: 500 (measured on 26.7).
    let rep = org_body(&bytes)?.ok_or(AdminError::Internal)?;
    let (next, replace_attributes) = org_rows::updated_row(&rep, &current).map_err(input_error)?;
    let found = state
        .store
        .update_organization(&snap.id, &next, replace_attributes)
        .await
        .map_err(|e| write_error(e, &snap.name))?;
    if !found {
        return Err(AdminError::Status(
            StatusCode::NOT_FOUND,
            "Organization not found.".into(),
        ));
    }
    refresh(&state, &snap).await?;
    Ok(no_content())
}

/// `DELETE /organizations/{org}`: with its memberships and links; its `MANAGED` members
/// (users created through its identity providers) are deleted, as Keycloak deletes them.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org)): Path<(String, String)>,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let managed = state
        .store
        .members(
            &o.id,
            &MemberQuery {
                membership_type: Some(MembershipType::Managed),
                max: -1,
                ..Default::default()
            },
        )
        .await?;
    if !state.store.delete_organization(&snap.id, &o.id).await? {
        return Err(AdminError::bad("organization couldn't be deleted"));
    }
    for m in managed {
        crate::users::delete_user(state.store.as_ref(), &snap, &m.user.id).await?;
    }
    // The organization leaves the fine-grained admin permissions.
    crate::realm::authz::forget_admin_object(state.store.as_ref(), &snap.rep, &snap.id, &o.id)
        .await?;
    refresh(&state, &snap).await?;
    Ok(no_content())
}

/// Query of the member list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembersQuery {
    search: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    exact: Option<bool>,
    first: Option<i64>,
    max: Option<i64>,
    membership_type: Option<String>,
}

/// `MemberRepresentation`: the user's full representation and `membershipType`.
fn member_json(m: &MemberRow) -> AdminResult<Value> {
    let u: UserRepresentation =
        serde_json::from_str(&m.user.representation).map_err(|_| AdminError::Internal)?;
    let mut v = user_json(&u, false);
    if let Some(o) = v.as_object_mut() {
        o.insert("membershipType".into(), json!(m.membership_type.as_str()));
    }
    Ok(v)
}

/// `POST /organizations/{org}/members`: the body is the user's id; 201 without a body.
pub async fn add_member(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let id = raw_id(&bytes);
    // A user of another realm is no user here.
    let user = state
        .store
        .user_by_id(&snap.id, &id)
        .await?
        .ok_or_else(|| AdminError::bad("User does not exist"))?;
    let added = state
        .store
        .add_member(&snap.id, &o.id, &user.id, MembershipType::Unmanaged)
        .await?;
    if !added {
        return Err(AdminError::Conflict(
            "User is already a member of the organization.".into(),
        ));
    }
    Ok(created(&uri, &user.id))
}

/// `GET /organizations/{org}/members`: ordered by user name, 10 by default.
pub async fn members(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ViewOrgs, MembersQuery>,
    Path((_, org)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let o = load_org(&state, &snap, &org).await?;
    let membership_type = match query.membership_type.as_deref() {
        None => None,
        // `MembershipType.valueOf` throws: Keycloak answers 500.
        Some(t) => Some(MembershipType::parse(t).ok_or(AdminError::Internal)?),
    };
    let q = MemberQuery {
        search: query.search.clone(),
        exact: query.exact == Some(true),
        membership_type,
        first: query.first.unwrap_or(0).max(0),
        max: query.max.unwrap_or(DEFAULT_MAX),
    };
    let rows = state.store.members(&o.id, &q).await?;
    Ok(Json(
        rows.iter().map(member_json).collect::<AdminResult<_>>()?,
    ))
}

/// `GET /organizations/{org}/members/count`: a bare number.
pub async fn members_count(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewOrgs>,
    Path((_, org)): Path<(String, String)>,
) -> AdminResult<Json<i64>> {
    let o = load_org(&state, &snap, &org).await?;
    Ok(Json(state.store.count_members(&o.id).await?))
}

/// `GET /organizations/{org}/members/{member}`.
pub async fn member(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewOrgs>,
    Path((_, org, member)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let o = load_org(&state, &snap, &org).await?;
    let m = state
        .store
        .member(&o.id, &member)
        .await?
        .ok_or_else(plain_not_found)?;
    Ok(Json(member_json(&m)?))
}

/// `DELETE /organizations/{org}/members/{member}`: ends the membership; a `MANAGED` member is
/// deleted.
pub async fn remove_member(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org, member)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let m = state
        .store
        .member(&o.id, &member)
        .await?
        .ok_or_else(plain_not_found)?;
    let done = match m.membership_type {
        MembershipType::Managed => {
            crate::users::delete_user(state.store.as_ref(), &snap, &m.user.id).await?
        }
        MembershipType::Unmanaged => state.store.remove_member(&o.id, &m.user.id).await?,
    };
    if !done {
        return Err(AdminError::bad("Not a member of the organization"));
    }
    Ok(no_content())
}

/// Query of a member's organizations.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BriefQuery {
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

async fn organizations_of(
    state: &AppState,
    snap: &RealmSnapshot,
    member: &str,
    brief: Option<bool>,
) -> AdminResult<Json<Vec<Value>>> {
    let user = state
        .store
        .user_by_id(&snap.id, member)
        .await?
        .ok_or_else(plain_not_found)?;
    let orgs = state
        .store
        .organizations_of_member(&snap.id, &user.id)
        .await?;
    let brief = brief != Some(false);
    Ok(Json(
        orgs.iter().map(|o| org_rows::to_json(o, brief)).collect(),
    ))
}

/// `GET /organizations/members/{member}/organizations`.
pub async fn member_organizations(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ViewAllOrgs, BriefQuery>,
    Path((_, member)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    enabled(&snap)?;
    organizations_of(&state, &snap, &member, query.brief_representation).await
}

/// `GET /organizations/{org}/members/{member}/organizations`.
pub async fn org_member_organizations(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ViewOrgs, BriefQuery>,
    Path((_, org, member)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    load_org(&state, &snap, &org).await?;
    organizations_of(&state, &snap, &member, query.brief_representation).await
}

/// The realm's identity providers.
fn identity_providers(snap: &RealmSnapshot) -> impl Iterator<Item = &Value> {
    super::identity_providers::idps(&snap.rep).iter()
}

fn idp_alias(idp: &Value) -> Option<&str> {
    idp.get("alias").and_then(Value::as_str)
}

/// An identity provider as the organization lists it: with its `organizationId`, secrets
/// masked (`StripSecretsUtils`).
fn idp_json(idp: &Value, org_id: &str) -> Value {
    let mut v = idp.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("organizationId".into(), json!(org_id));
        if let Some(cfg) = o.get_mut("config").and_then(Value::as_object_mut) {
            if cfg.contains_key("clientSecret") {
                cfg.insert("clientSecret".into(), json!("**********"));
            }
        }
    }
    v
}

/// Whether `alias` is linked to `org_id`.
async fn linked(
    state: &AppState,
    snap: &RealmSnapshot,
    org_id: &str,
    alias: &str,
) -> AdminResult<bool> {
    Ok(state
        .store
        .identity_provider_links(&snap.id)
        .await?
        .iter()
        .any(|(a, o)| a == alias && o == org_id))
}

/// `POST /organizations/{org}/identity-providers`: the body is the provider's alias (or
/// internal id); 204.
pub async fn link_idp(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let key = raw_id(&bytes);
    let alias = identity_providers(&snap)
        .find(|p| {
            idp_alias(p) == Some(key.as_str())
                || p.get("internalId").and_then(Value::as_str) == Some(key.as_str())
        })
        .and_then(idp_alias)
        .ok_or_else(|| AdminError::bad("Identity provider not found with the given alias"))?
        .to_string();
    state
        .store
        .link_identity_provider(&snap.id, &o.id, &alias)
        .await
        .map_err(|e| write_error(e, &snap.name))?;
    Ok(no_content())
}

/// `GET /organizations/{org}/identity-providers`.
pub async fn idps(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewOrgs>,
    Path((_, org)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let o = load_org(&state, &snap, &org).await?;
    let links = state.store.identity_provider_links(&snap.id).await?;
    let mine: Vec<Value> = identity_providers(&snap)
        .filter(|p| {
            idp_alias(p).is_some_and(|a| links.iter().any(|(l, org)| l == a && *org == o.id))
        })
        .map(|p| idp_json(p, &o.id))
        .collect();
    Ok(Json(mine))
}

/// `GET /organizations/{org}/identity-providers/{alias}`.
pub async fn idp(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewOrgs>,
    Path((_, org, alias)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let o = load_org(&state, &snap, &org).await?;
    let found = identity_providers(&snap).find(|p| idp_alias(p) == Some(alias.as_str()));
    match found {
        Some(p) if linked(&state, &snap, &o.id, &alias).await? => Ok(Json(idp_json(p, &o.id))),
        _ => Err(AdminError::Status(
            StatusCode::NOT_FOUND,
            "Identity provider not associated with the organization".into(),
        )),
    }
}

/// `DELETE /organizations/{org}/identity-providers/{alias}`: unlinks it (the provider stays).
pub async fn unlink_idp(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageOrgs>,
    Path((_, org, alias)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let o = load_org(&state, &snap, &org).await?;
    let exists = identity_providers(&snap).any(|p| idp_alias(p) == Some(alias.as_str()));
    if !exists || !state.store.unlink_identity_provider(&o.id, &alias).await? {
        return Err(AdminError::Status(
            StatusCode::NOT_FOUND,
            "Identity provider not found with the given alias".into(),
        ));
    }
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_ORGS, routing::get(list).post(create))
        .route(paths::ADMIN_ORGS_COUNT, routing::get(count))
        .route(
            paths::ADMIN_ORGS_OF_MEMBER,
            routing::get(member_organizations),
        )
        .route(
            paths::ADMIN_ORG,
            routing::get(get).put(update).delete(delete),
        )
        .route(
            paths::ADMIN_ORG_MEMBERS,
            routing::get(members).post(add_member),
        )
        .route(paths::ADMIN_ORG_MEMBERS_COUNT, routing::get(members_count))
        .route(
            paths::ADMIN_ORG_MEMBER,
            routing::get(member).delete(remove_member),
        )
        .route(
            paths::ADMIN_ORG_MEMBER_ORGS,
            routing::get(org_member_organizations),
        )
        .route(paths::ADMIN_ORG_IDPS, routing::get(idps).post(link_idp))
        .route(paths::ADMIN_ORG_IDP, routing::get(idp).delete(unlink_idp))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn raw_ids_lose_their_quotes_and_space() {
        assert_eq!(raw_id(b" \"abc\" \n"), "abc");
        assert_eq!(raw_id(b"abc"), "abc");
        assert_eq!(raw_id(b"\"abc"), "abc");
        assert_eq!(raw_id(b""), "");
    }

    #[test]
    fn attribute_queries_split_on_space_and_keep_quoted_values() {
        assert_eq!(
            search_fields("tier:gold alias:acme"),
            [
                ("tier".to_string(), "gold".to_string()),
                ("alias".into(), "acme".into())
            ]
        );
        assert_eq!(
            search_fields("k:\"a b\" id:1-2-3"),
            [
                ("k".to_string(), "a b".to_string()),
                ("id".into(), "1-2-3".into())
            ]
        );
        assert!(search_fields("nocolon").is_empty());
    }
}
