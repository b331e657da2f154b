//! `/admin/realms/{realm}/groups`: the tree, CRUD, children, members and role mappings.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::NeedMarker;
use super::auth::{
    Caller, CheckedLater, Family, ManageGroup, ManageUsers, Need, QueryGroups, RealmAdmin,
    ViewGroup, ViewGroupMembers,
};
use super::permissions::Fgap;
use super::role_mappings::{self as rm, Holders, Mode, Op};
use super::view::{group_brief as brief, group_full as full, user_json};
use super::{
    body, edit_realm, new_id, no_content, representation, AdminError, AdminResult, Paging, Shape,
};
use crate::authz::fgap::GROUPS;
use crate::http::paths;
use crate::realm::edit;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{GroupRepresentation, RealmRepresentation, UserRepresentation};
use crate::AppState;

fn not_found() -> AdminError {
    AdminError::not_found("Could not find group by id")
}

/// Adds `parentId` to a subgroup's JSON (found by its path).
fn with_parent(rep: &RealmRepresentation, mut v: Value) -> Value {
    let parent = v
        .get("path")
        .and_then(Value::as_str)
        .and_then(|p| p.rsplit_once('/'))
        .map(|(parent, _)| parent)
        .filter(|p| !p.is_empty())
        .and_then(|p| edit::group_by_path(rep, p))
        .and_then(|g| g.id.clone());
    if let Some(p) = parent {
        v["parentId"] = json!(p);
    }
    v
}

/// The group with the subgroups that match `needle` (or all, without one), as a tree; only
/// the groups `visible` lets the caller see, with the parents of those it may see as their
/// path.
fn tree(
    g: &GroupRepresentation,
    needle: Option<&str>,
    brief_rep: bool,
    visible: &dyn Fn(&GroupRepresentation) -> bool,
) -> Option<Value> {
    let me = visible(g)
        && needle.is_none_or(|n| {
            g.name
                .as_deref()
                .unwrap_or_default()
                .to_lowercase()
                .contains(n)
        });
    let subs: Vec<Value> = g
        .sub_groups
        .iter()
        .flatten()
        .filter_map(|s| tree(s, if me { None } else { needle }, brief_rep, visible))
        .collect();
    if !me && (needle.is_none() || subs.is_empty()) {
        return None;
    }
    let mut v = if brief_rep { brief(g) } else { full(g) };
    if needle.is_some() {
        v["subGroups"] = json!(subs);
    }
    Some(v)
}

/// Which groups the caller sees in the group lists: all with `view-users` (or
/// `manage-users`), or in a realm without fine-grained admin permissions; else those it may
/// `view` by them (Keycloak filters the store's group queries by the permissions).
async fn visibility(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
) -> AdminResult<Box<dyn Fn(&GroupRepresentation) -> bool + Send + Sync>> {
    if caller.can(&snap.name, Need::View(Family::Users)) {
        return Ok(Box::new(|_| true));
    }
    Ok(match Fgap::of(state, snap, caller).await? {
        Some(f) => Box::new(move |g| f.group(g.id.as_deref().unwrap_or_default(), "view")),
        None => Box::new(|_| true),
    })
}

/// Query of group lists.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    search: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

impl ListQuery {
    /// `search`, lower-cased; none when empty.
    fn needle(&self) -> Option<String> {
        self.search
            .as_deref()
            .map(str::to_lowercase)
            .filter(|s| !s.is_empty())
    }
}

/// The top-level groups the caller sees (with the matching subgroups when searching), by
/// name as Keycloak's store orders them.
async fn listed(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    q: &ListQuery,
    brief_rep: bool,
) -> AdminResult<Vec<Value>> {
    let needle = q.needle();
    let visible = visibility(state, snap, caller).await?;
    let mut top: Vec<&GroupRepresentation> = snap.rep.groups.iter().flatten().collect();
    top.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(top
        .into_iter()
        .filter_map(|g| tree(g, needle.as_deref(), brief_rep, &*visible))
        .collect())
}

/// `GET /groups`: top-level groups by name (with the matching subgroups when searching),
/// those the caller may see.
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query: q,
        ..
    }: RealmAdmin<QueryGroups, ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let brief_rep = q.brief_representation != Some(false);
    let out = listed(&state, &snap, &caller, &q, brief_rep).await?;
    Ok(Json(
        Paging {
            first: q.first,
            max: q.max,
        }
        .apply(out, None),
    ))
}

/// `GET /groups/count`: `{"count": n}` top-level groups (with a match), those the caller may
/// see.
pub async fn count(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query: q,
        ..
    }: RealmAdmin<QueryGroups, ListQuery>,
) -> AdminResult<Json<Value>> {
    let n = listed(&state, &snap, &caller, &q, true).await?.len();
    Ok(Json(json!({"count": n})))
}

/// `GET /group-by-path/{path}`.
pub async fn by_path(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, path)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    // `view` of the group (`RealmAdminResource.getGroupByPath`). Keycloak answers 404 for an
    // unknown path to anyone; here only to a caller who may list groups, 403 to others, so
    // that paths cannot be probed.
    let Some(g) = edit::group_by_path(&snap.rep, &path) else {
        let may_list = QueryGroups::check(&caller, &snap.name).is_ok()
            || Fgap::of(&state, &snap, &caller)
                .await?
                .is_some_and(|f| f.all(GROUPS, "view"));
        return Err(if may_list {
            AdminError::not_found("Group path does not exist")
        } else {
            AdminError::Forbidden
        });
    };
    if !caller.can(&snap.name, Need::View(Family::Users)) {
        let id = g.id.as_deref().unwrap_or_default();
        match Fgap::of(&state, &snap, &caller).await? {
            Some(f) if f.group(id, "view") => {}
            _ => return Err(AdminError::Forbidden),
        }
    }
    Ok(Json(with_parent(&snap.rep, full(g))))
}

/// `GET /groups/{id}`.
pub async fn get(
    RealmAdmin { snap, .. }: RealmAdmin<ViewGroup>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let g = edit::group(&snap.rep, &id).ok_or_else(not_found)?;
    Ok(Json(with_parent(&snap.rep, full(g))))
}

fn new_group(v: &Value) -> AdminResult<GroupRepresentation> {
    let mut g: GroupRepresentation =
        body(&serde_json::to_vec(v).map_err(|_| AdminError::Internal)?)?;
    let name = g
        .name
        .clone()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AdminError::bad("Group name is missing"))?;
    if name.contains('/') {
        return Err(AdminError::bad("Group name can not contain '/'"));
    }
    g.name = Some(name);
    g.id = Some(new_id());
    g.sub_groups = None;
    // Role mappings go through `/role-mappings` (where administrative roles are guarded);
    // Keycloak ignores them in a create body too.
    g.realm_roles = None;
    g.client_roles = None;
    g.attributes.get_or_insert_with(Default::default);
    Ok(g)
}

fn insert(
    rep: &mut RealmRepresentation,
    parent: Option<&str>,
    mut g: GroupRepresentation,
) -> AdminResult<Value> {
    let name = g.name.clone().unwrap_or_default();
    let (siblings, parent_path) = match parent {
        None => (rep.groups.get_or_insert_with(Vec::new), String::new()),
        Some(pid) => {
            let p = edit::group_mut(rep, pid).ok_or_else(not_found)?;
            let path = p.path.clone().unwrap_or_default();
            (p.sub_groups.get_or_insert_with(Vec::new), path)
        }
    };
    if siblings
        .iter()
        .any(|s| s.name.as_deref() == Some(name.as_str()))
    {
        return Err(AdminError::Conflict(if parent.is_none() {
            format!("Top level group named '{name}' already exists.")
        } else {
            format!("Sibling group named '{name}' already exists.")
        }));
    }
    edit::set_paths(&mut g, &parent_path);
    let mut out = full(&g);
    if let Some(p) = parent {
        out["parentId"] = json!(p);
    }
    siblings.push(g);
    Ok(out)
}

fn created_with(uri: &Uri, group: Value, child: bool) -> Response {
    let id = group
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let base = uri.path().trim_end_matches('/');
    let base = if child {
        base.trim_end_matches("/children")
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or_default()
    } else {
        base.to_string()
    };
    let mut r = (StatusCode::CREATED, Json(group)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `POST /groups`: a top-level group.
pub async fn create(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUsers>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let v: Value = representation(&bytes, &Shape::One(&super::jackson::GROUP))?;
    let g = new_group(&v)?;
    let out = edit_realm(&state, &snap.name, |rep, _| insert(rep, None, g.clone())).await?;
    let mut r = created_with(&uri, out, false);
    // Keycloak answers the top-level create with an empty body.
    *r.body_mut() = axum::body::Body::empty();
    r.headers_mut().remove(header::CONTENT_TYPE);
    Ok(r)
}

/// `POST /groups/{id}/children`: a subgroup.
pub async fn create_child(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageGroup>,
    Path((_, id)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let v: Value = representation(&bytes, &Shape::One(&super::jackson::GROUP))?;
    let g = new_group(&v)?;
    let out = edit_realm(&state, &snap.name, |rep, _| {
        insert(rep, Some(&id), g.clone())
    })
    .await?;
    Ok(created_with(&uri, out, true))
}

/// `GET /groups/{id}/children`.
pub async fn children(
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewGroup, ListQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let g = edit::group(&snap.rep, &id).ok_or_else(not_found)?;
    let needle = q.search.as_deref().map(str::to_lowercase);
    let out: Vec<Value> = g
        .sub_groups
        .iter()
        .flatten()
        .filter(|s| {
            needle.as_deref().is_none_or(|n| {
                s.name
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(n)
            })
        })
        .map(|s| {
            with_parent(
                &snap.rep,
                if q.brief_representation == Some(false) {
                    full(s)
                } else {
                    brief(s)
                },
            )
        })
        .collect();
    Ok(Json(
        Paging {
            first: q.first,
            max: q.max,
        }
        .apply(out, None),
    ))
}

/// Rewrites users' group paths after a rename (`Some(new)`) or a delete (`None`) of `old`.
async fn repath_users(
    state: &AppState,
    realm_id: &str,
    old: &str,
    new: Option<&str>,
) -> AdminResult<()> {
    let prefix = format!("{old}/");
    for mut row in state.store.users(realm_id).await? {
        let mut u: UserRepresentation =
            serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
        let Some(list) = u.groups.as_mut() else {
            continue;
        };
        let before = list.clone();
        let mut next = Vec::new();
        for p in list.drain(..) {
            if p == old || p.starts_with(&prefix) {
                if let Some(n) = new {
                    next.push(format!("{n}{}", &p[old.len()..]));
                }
            } else {
                next.push(p);
            }
        }
        *list = next;
        if *list != before {
            row.representation = serde_json::to_string(&u).map_err(|_| AdminError::Internal)?;
            state.store.update_user(realm_id, &row).await?;
        }
    }
    Ok(())
}

/// `PUT /groups/{id}`: name and attributes.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageGroup>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let patch: Map<String, Value> = representation(&bytes, &Shape::One(&super::jackson::GROUP))?;
    let moved = edit_realm(&state, &snap.name, |rep, _| {
        let old_path = edit::group(rep, &id)
            .ok_or_else(not_found)?
            .path
            .clone()
            .unwrap_or_default();
        let parent_path = old_path
            .rsplit_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default();
        let new_name = patch
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if let Some(n) = &new_name {
            if n.contains('/') {
                return Err(AdminError::bad("Group name can not contain '/'"));
            }
            let sibling_path = format!("{parent_path}/{n}");
            if sibling_path != old_path && edit::group_by_path(rep, &sibling_path).is_some() {
                return Err(AdminError::Conflict(format!(
                    "Sibling group named '{n}' already exists."
                )));
            }
        }
        let g = edit::group_mut(rep, &id).ok_or_else(not_found)?;
        if let Some(n) = new_name {
            g.name = Some(n);
        }
        if let Some(a) = patch.get("attributes") {
            g.attributes = serde_json::from_value(a.clone())
                .map_err(|e| AdminError::bad(format!("attributes: {e}")))?;
        }
        edit::set_paths(g, &parent_path);
        let new_path = g.path.clone().unwrap_or_default();
        Ok((new_path != old_path).then_some((old_path, new_path)))
    })
    .await?;
    if let Some((old, new)) = moved {
        repath_users(&state, &snap.id, &old, Some(&new)).await?;
    }
    Ok(no_content())
}

/// `DELETE /groups/{id}`: with its subgroups and memberships.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageGroup>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let (path, removed) = edit_realm(&state, &snap.name, |rep, _| {
        let g = edit::remove_group(rep, &id).ok_or_else(not_found)?;
        let mut removed = Vec::new();
        group_ids(&g, &mut removed);
        Ok((g.path.unwrap_or_default(), removed))
    })
    .await?;
    repath_users(&state, &snap.id, &path, None).await?;
    // The group and its subgroups leave the fine-grained admin permissions.
    for gid in removed {
        crate::realm::authz::forget_admin_object(state.store.as_ref(), &snap.rep, &snap.id, &gid)
            .await?;
    }
    Ok(no_content())
}

/// The ids of `g` and of its subgroups, into `out`.
fn group_ids(g: &GroupRepresentation, out: &mut Vec<String>) {
    out.extend(g.id.clone());
    for sub in g.sub_groups.iter().flatten() {
        group_ids(sub, out);
    }
}

/// Query of `GET /groups/{id}/members`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembersQuery {
    first: Option<i64>,
    max: Option<i64>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

/// `GET /groups/{id}/members`: direct members, by user name.
pub async fn members(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewGroupMembers, MembersQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let path = edit::group(&snap.rep, &id)
        .ok_or_else(not_found)?
        .path
        .clone()
        .unwrap_or_default();
    let mut out: Vec<(String, Value)> = Vec::new();
    for row in state.store.users(&snap.id).await? {
        let u: UserRepresentation =
            serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
        if u.groups.iter().flatten().any(|p| *p == path) {
            out.push((
                row.username.clone(),
                user_json(&u, q.brief_representation == Some(true)),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let list = out.into_iter().map(|(_, v)| v).collect();
    Ok(Json(
        Paging {
            first: q.first,
            max: q.max,
        }
        .apply(list, Some(100)),
    ))
}

// Role mappings.

/// Groups as holders of role mappings (`/groups/{id}/role-mappings`).
#[derive(Debug)]
pub struct Groups;

impl Holders for Groups {
    type View = ViewGroup;
    type Manage = ManageGroup;

    async fn all(_: &AppState, snap: &RealmSnapshot, id: &str) -> AdminResult<Value> {
        let g = edit::group(&snap.rep, id).ok_or_else(not_found)?;
        Ok(rm::all_json(snap, g))
    }

    async fn list(
        _: &AppState,
        snap: &RealmSnapshot,
        id: &str,
        client: Option<&str>,
        mode: Mode,
        brief: bool,
    ) -> AdminResult<Vec<Value>> {
        let container = rm::container(&snap.rep, client, "Client not found")?;
        let g = edit::group(&snap.rep, id).ok_or_else(not_found)?;
        Ok(rm::listed_as(snap, g, &container, mode, brief))
    }

    async fn change(
        state: &AppState,
        snap: &RealmSnapshot,
        caller: &Caller,
        id: &str,
        client: Option<&str>,
        bytes: &[u8],
        op: Op,
    ) -> AdminResult<()> {
        let list: Vec<Value> = representation(bytes, &Shape::Many(&super::jackson::ROLE))?;
        // Let in by `manage` of the group (fine-grained permissions): each role must be one
        // the caller may map, as for a user's mappings.
        let fgap = if caller.can(&snap.name, Need::Manage(Family::Users)) {
            None
        } else {
            Some(
                super::permissions::Fgap::of(state, snap, caller)
                    .await?
                    .ok_or(AdminError::Forbidden)?,
            )
        };
        edit_realm(state, &snap.name, |rep, _| {
            let container = rm::container(rep, client, "Client not found")?;
            let roles = rm::resolve_granted(rep, caller, &snap.name, &list, &container, op)?;
            if fgap
                .as_ref()
                .is_some_and(|f| !roles.iter().all(|r| f.may_map(rep, r)))
            {
                return Err(AdminError::Forbidden);
            }
            let g = edit::group_mut(rep, id).ok_or_else(not_found)?;
            rm::apply(g, &roles, op);
            Ok(())
        })
        .await
    }
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_GROUPS, routing::get(list).post(create))
        .route(paths::ADMIN_GROUPS_COUNT, routing::get(count))
        .route(paths::ADMIN_GROUP_BY_PATH, routing::get(by_path))
        .route(
            paths::ADMIN_GROUP,
            routing::get(get).put(update).delete(delete),
        )
        .route(
            paths::ADMIN_GROUP_CHILDREN,
            routing::get(children).post(create_child),
        )
        .route(paths::ADMIN_GROUP_MEMBERS, routing::get(members))
        .merge(rm::routes_of::<Groups>(rm::MappingPaths {
            all: paths::ADMIN_GROUP_ROLE_MAPPINGS,
            realm: paths::ADMIN_GROUP_ROLE_MAPPINGS_REALM,
            realm_composite: paths::ADMIN_GROUP_ROLE_MAPPINGS_REALM_COMPOSITE,
            realm_available: paths::ADMIN_GROUP_ROLE_MAPPINGS_REALM_AVAILABLE,
            client: paths::ADMIN_GROUP_ROLE_MAPPINGS_CLIENT,
            client_composite: paths::ADMIN_GROUP_ROLE_MAPPINGS_CLIENT_COMPOSITE,
            client_available: paths::ADMIN_GROUP_ROLE_MAPPINGS_CLIENT_AVAILABLE,
        }))
}
