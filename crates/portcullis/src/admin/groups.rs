//! `/admin/realms/{realm}/groups`: the tree, CRUD, children, members and role mappings.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{Caller, Family, Need};
use super::clients::mappings_json;
use super::realms::target;
use super::roles::roles_out;
use super::{body, edit_realm, model, new_id, no_content, AdminError, AdminResult, Paging};
use crate::realm::index::{role_refs, Role};
use crate::representation::{GroupRepresentation, RealmRepresentation, UserRepresentation};
use crate::AppState;

fn not_found() -> AdminError {
    AdminError::not_found("Could not find group by id")
}

fn sub_count(g: &GroupRepresentation) -> usize {
    g.sub_groups.as_ref().map_or(0, Vec::len)
}

/// `GroupRepresentation`, brief.
pub fn brief(g: &GroupRepresentation) -> Value {
    json!({"id": g.id, "name": g.name, "path": g.path, "subGroupCount": sub_count(g), "subGroups": []})
}

/// Adds `parentId` to a subgroup's JSON (found by its path).
fn with_parent(rep: &RealmRepresentation, mut v: Value) -> Value {
    let parent = v
        .get("path")
        .and_then(Value::as_str)
        .and_then(|p| p.rsplit_once('/'))
        .map(|(parent, _)| parent)
        .filter(|p| !p.is_empty())
        .and_then(|p| model::group_by_path(rep, p))
        .and_then(|g| g.id.clone());
    if let Some(p) = parent {
        v["parentId"] = json!(p);
    }
    v
}

/// `GroupRepresentation` with attributes and role mappings.
pub fn full(g: &GroupRepresentation) -> Value {
    let mut v = brief(g);
    v["attributes"] = g.extra.get("attributes").cloned().unwrap_or(json!({}));
    v["realmRoles"] = json!(g.realm_roles.clone().unwrap_or_default());
    v["clientRoles"] = json!(g.client_roles.clone().unwrap_or_default());
    v["access"] = json!({"view": true, "viewMembers": true, "manageMembers": true, "manage": true, "manageMembership": true});
    v
}

/// The group with the subgroups that match `needle` (or all, without one), as a tree.
fn tree(g: &GroupRepresentation, needle: Option<&str>, brief_rep: bool) -> Option<Value> {
    let me = needle.is_none_or(|n| {
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
        .filter_map(|s| tree(s, if me { None } else { needle }, brief_rep))
        .collect();
    if !me && subs.is_empty() {
        return None;
    }
    let mut v = if brief_rep { brief(g) } else { full(g) };
    if needle.is_some() {
        v["subGroups"] = json!(subs);
    }
    Some(v)
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

/// `GET /groups`: top-level groups (with the matching subgroups when searching).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
    Query(q): Query<ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    if !caller.can(&snap.name, Need::Query(Family::Users))
        && !caller.has(&snap.name, "query-groups")
    {
        return Err(AdminError::Forbidden);
    }
    let needle = q
        .search
        .as_deref()
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let brief_rep = q.brief_representation != Some(false);
    let out: Vec<Value> = snap
        .rep
        .groups
        .iter()
        .flatten()
        .filter_map(|g| tree(g, needle.as_deref(), brief_rep))
        .collect();
    Ok(Json(
        Paging {
            first: q.first,
            max: q.max,
        }
        .apply(out, None),
    ))
}

/// Top-level groups with a match.
fn count_groups(snap_groups: &[GroupRepresentation], needle: Option<&str>) -> usize {
    snap_groups
        .iter()
        .filter(|g| tree(g, needle, true).is_some())
        .count()
}

/// `GET /groups/count`: `{"count": n}` top-level groups.
pub async fn count(
    State(state): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
    Query(q): Query<ListQuery>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Query(Family::Users))?;
    let needle = q
        .search
        .as_deref()
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let n = count_groups(
        snap.rep.groups.as_deref().unwrap_or_default(),
        needle.as_deref(),
    );
    Ok(Json(json!({"count": n})))
}

/// `GET /group-by-path/{path}`.
pub async fn by_path(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, path)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let g = model::group_by_path(&snap.rep, &path)
        .ok_or_else(|| AdminError::not_found("Group path does not exist"))?;
    Ok(Json(with_parent(&snap.rep, full(g))))
}

/// `GET /groups/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let g = model::group(&snap.rep, &id).ok_or_else(not_found)?;
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
    g.extra.entry("attributes").or_insert(json!({}));
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
            let p = model::group_mut(rep, pid).ok_or_else(not_found)?;
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
    model::set_paths(&mut g, &parent_path);
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
    caller: Caller,
    Path(realm): Path<String>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Users))?;
    let v: Value = body(&bytes)?;
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
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Users))?;
    let v: Value = body(&bytes)?;
    let g = new_group(&v)?;
    let out = edit_realm(&state, &snap.name, |rep, _| {
        insert(rep, Some(&id), g.clone())
    })
    .await?;
    Ok(created_with(&uri, out, true))
}

/// `GET /groups/{id}/children`.
pub async fn children(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let g = model::group(&snap.rep, &id).ok_or_else(not_found)?;
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
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Users))?;
    let patch: Map<String, Value> = body(&bytes)?;
    let moved = edit_realm(&state, &snap.name, |rep, _| {
        let old_path = model::group(rep, &id)
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
            if sibling_path != old_path && model::group_by_path(rep, &sibling_path).is_some() {
                return Err(AdminError::Conflict(format!(
                    "Sibling group named '{n}' already exists."
                )));
            }
        }
        let g = model::group_mut(rep, &id).ok_or_else(not_found)?;
        if let Some(n) = new_name {
            g.name = Some(n);
        }
        if let Some(a) = patch.get("attributes") {
            g.extra.insert("attributes".into(), a.clone());
        }
        model::set_paths(g, &parent_path);
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
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Users))?;
    let path = edit_realm(&state, &snap.name, |rep, _| {
        let g = model::remove_group(rep, &id).ok_or_else(not_found)?;
        Ok(g.path.unwrap_or_default())
    })
    .await?;
    repath_users(&state, &snap.id, &path, None).await?;
    Ok(no_content())
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
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<MembersQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let path = model::group(&snap.rep, &id)
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
                super::users::user_json(&u, q.brief_representation == Some(true)),
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

/// `GET /groups/{id}/role-mappings`.
pub async fn role_mappings(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let g = model::group(&snap.rep, &id).ok_or_else(not_found)?;
    let roles = role_refs(g.realm_roles.as_ref(), g.client_roles.as_ref());
    Ok(Json(mappings_json(&snap.rep, &roles)))
}

fn client_id_of(rep: &RealmRepresentation, client: Option<&str>) -> AdminResult<Option<String>> {
    client
        .map(|id| {
            model::client(rep, id)
                .and_then(|c| c.client_id.clone())
                .ok_or_else(|| AdminError::not_found("Client not found"))
        })
        .transpose()
}

async fn list_mappings(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    id: &str,
    client: Option<&str>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let cid = client_id_of(&snap.rep, client)?;
    let g = model::group(&snap.rep, id).ok_or_else(not_found)?;
    let roles: Vec<Role> = role_refs(g.realm_roles.as_ref(), g.client_roles.as_ref())
        .into_iter()
        .filter(|r| model::in_container(r, cid.as_deref()))
        .collect();
    Ok(Json(roles_out(&snap.rep, &roles)))
}

async fn change_mappings(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    id: &str,
    client: Option<&str>,
    bytes: &[u8],
    add: bool,
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::Manage(Family::Users))?;
    let list: Vec<Value> = body(bytes)?;
    edit_realm(state, &snap.name, |rep, _| {
        let cid = client_id_of(rep, client)?;
        let roles =
            super::roles::mapping_roles(rep, caller, &snap.name, &list, cid.as_deref(), add)?;
        let g = model::group_mut(rep, id).ok_or_else(not_found)?;
        let mut m = model::Mappings {
            realm: &mut g.realm_roles,
            client: &mut g.client_roles,
        };
        for r in &roles {
            if add {
                m.add(r);
            } else {
                m.remove(r);
            }
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /groups/{id}/role-mappings/realm`.
pub async fn realm_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    list_mappings(&s, &caller, &realm, &id, None).await
}
/// `POST /groups/{id}/role-mappings/realm`.
pub async fn add_realm_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_mappings(&s, &caller, &realm, &id, None, &b, true).await
}
/// `DELETE /groups/{id}/role-mappings/realm`.
pub async fn remove_realm_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_mappings(&s, &caller, &realm, &id, None, &b, false).await
}
/// `GET /groups/{id}/role-mappings/clients/{client}`.
pub async fn client_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, client)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    list_mappings(&s, &caller, &realm, &id, Some(&client)).await
}
/// `POST /groups/{id}/role-mappings/clients/{client}`.
pub async fn add_client_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, client)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_mappings(&s, &caller, &realm, &id, Some(&client), &b, true).await
}
/// `DELETE /groups/{id}/role-mappings/clients/{client}`.
pub async fn remove_client_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, client)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_mappings(&s, &caller, &realm, &id, Some(&client), &b, false).await
}
