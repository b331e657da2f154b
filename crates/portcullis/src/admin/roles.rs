//! Realm roles (`/roles`), client roles (`/clients/{id}/roles`) and `/roles-by-id`: CRUD,
//! composites, and the users and groups holding a role.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use super::auth::{AnyRole, Caller, CheckedLater, RealmAdmin, ViewUsers};
use super::permissions::RoleGate;
use super::role_mappings::{self, Container, Mode, Op};
use super::view;
use super::{
    created, edit_realm, new_id, no_content, representation, AdminError, AdminResult, Paging, Shape,
};
use crate::http::paths;
use crate::realm::edit;
use crate::realm::index::Role;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{Composites, RealmRepresentation, RoleRepresentation};
use crate::AppState;

/// A role container: the realm, or a client (clientId and UUID).
#[derive(Debug, Clone)]
struct Owner {
    client_id: Option<String>,
    container: String,
}

impl Owner {
    fn key(&self, name: &str) -> Role {
        edit::role_key(self.client_id.as_deref(), name)
    }
}

fn realm_owner(rep: &RealmRepresentation) -> Owner {
    Owner {
        client_id: None,
        container: rep.id.clone().unwrap_or_default(),
    }
}

fn client_owner(rep: &RealmRepresentation, id: &str) -> AdminResult<Owner> {
    let c = edit::client(rep, id).ok_or_else(|| AdminError::not_found("Could not find client"))?;
    Ok(Owner {
        client_id: c.client_id.clone(),
        container: id.to_string(),
    })
}

/// Query of role lists.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    search: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
    /// Keycloak's default is `true`: roles without their attributes.
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

fn list_in(
    snap: &RealmSnapshot,
    client: Option<&str>,
    q: ListQuery,
) -> AdminResult<Json<Vec<Value>>> {
    let owner = match client {
        Some(id) => client_owner(&snap.rep, id)?,
        None => realm_owner(&snap.rep),
    };
    let needle = q.search.as_deref().map(str::to_lowercase);
    let brief = q.brief_representation.unwrap_or(true);
    let out: Vec<Value> = edit::roles(&snap.rep, owner.client_id.as_deref())
        .filter(|r| {
            needle.as_deref().is_none_or(|n| {
                r.name
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(n)
            })
        })
        .map(|r| view::role_json(r, owner.client_id.as_deref(), &owner.container))
        .map(|v| {
            if brief {
                role_mappings::brief_role(v)
            } else {
                v
            }
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

async fn create_in(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    client: Option<&str>,
    uri: &Uri,
    bytes: &[u8],
) -> AdminResult<Response> {
    let mut role: RoleRepresentation = representation(bytes, &Shape::One(&super::jackson::ROLE))?;
    let name = role
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| AdminError::bad("Role name is missing"))?;
    let gate = RoleGate::of(state, snap, caller).await?;
    edit_realm(state, &snap.name, |rep, _| {
        let owner = match client {
            Some(id) => client_owner(rep, id)?,
            None => realm_owner(rep),
        };
        gate.require_manage(rep, &owner.key(&name))?;
        if edit::role(rep, owner.client_id.as_deref(), &name).is_some() {
            return Err(AdminError::Conflict(format!(
                "Role with name {name} already exists"
            )));
        }
        role.id = Some(new_id());
        role.client_role = Some(owner.client_id.is_some());
        role.container_id = Some(owner.container.clone());
        role.attributes.get_or_insert_with(Default::default);
        let composites = role.composites.take();
        role.composite = Some(false);
        edit::roles_mut(rep, owner.client_id.as_deref()).push(role.clone());
        if let Some(c) = composites {
            let key = owner.key(&name);
            set_composites(rep, &key, c)?;
            let granted = composites_keys(rep, &key);
            gate.require_compose(rep, &granted)?;
        }
        Ok(())
    })
    .await?;
    Ok(created(uri, &name))
}

/// The direct composites of a role.
fn composites_keys(rep: &RealmRepresentation, role: &Role) -> Vec<Role> {
    let (owner, name) = match role {
        Role::Realm(n) => (None, n),
        Role::Client(c, n) => (Some(c.as_str()), n),
    };
    edit::role(rep, owner, name)
        .map(crate::realm::index::composites_of)
        .unwrap_or_default()
}

fn set_composites(rep: &mut RealmRepresentation, role: &Role, c: Composites) -> AdminResult<()> {
    let mut add = Vec::new();
    for n in c.realm.into_iter().flatten() {
        add.push(Role::Realm(n));
    }
    for (client, names) in c.client.into_iter().flatten() {
        for n in names {
            add.push(Role::Client(client.clone(), n));
        }
    }
    change_composites(rep, role, &add, true)
}

fn role_mut<'a>(
    rep: &'a mut RealmRepresentation,
    role: &Role,
) -> Option<&'a mut RoleRepresentation> {
    let (owner, name) = match role {
        Role::Realm(n) => (None, n),
        Role::Client(c, n) => (Some(c.as_str()), n),
    };
    edit::roles_mut(rep, owner)
        .iter_mut()
        .find(|r| r.name.as_deref() == Some(name.as_str()))
}

fn change_composites(
    rep: &mut RealmRepresentation,
    role: &Role,
    members: &[Role],
    add: bool,
) -> AdminResult<()> {
    for m in members {
        let exists = match m {
            Role::Realm(n) => edit::role(rep, None, n).is_some(),
            Role::Client(c, n) => edit::role(rep, Some(c), n).is_some(),
        };
        if !exists {
            return Err(AdminError::not_found("Could not find composite role"));
        }
    }
    let r = role_mut(rep, role).ok_or_else(|| AdminError::not_found("Could not find role"))?;
    role_mappings::apply(r, members, if add { Op::Add } else { Op::Remove });
    Ok(())
}

fn find(rep: &RealmRepresentation, owner: &Owner, name: &str) -> AdminResult<Value> {
    edit::role(rep, owner.client_id.as_deref(), name)
        .map(|r| view::role_json(r, owner.client_id.as_deref(), &owner.container))
        .ok_or_else(|| AdminError::not_found("Could not find role"))
}

async fn update_role(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    bytes: &[u8],
) -> AdminResult<Response> {
    let patch: RoleRepresentation = representation(bytes, &Shape::One(&super::jackson::ROLE))?;
    let gate = RoleGate::of(state, snap, caller).await?;
    let renamed = edit_realm(state, &snap.name, |rep, _| {
        let role = locate(rep)?;
        gate.require_manage(rep, &role)?;
        let mut renamed = None;
        let new_name = patch.name.clone().filter(|n| !n.trim().is_empty());
        if let Some(new_name) = &new_name {
            let current = match &role {
                Role::Realm(n) | Role::Client(_, n) => n,
            };
            if new_name != current {
                let owner = match &role {
                    Role::Realm(_) => None,
                    Role::Client(c, _) => Some(c.as_str()),
                };
                if edit::role(rep, owner, new_name).is_some() {
                    return Err(AdminError::Conflict(format!(
                        "Role with name {new_name} already exists"
                    )));
                }
                edit::rename_role_refs(rep, &role, new_name);
                renamed = Some((role.clone(), new_name.clone()));
            }
        }
        let r = role_mut(rep, &role).ok_or_else(|| AdminError::not_found("Could not find role"))?;
        if let Some(n) = new_name {
            r.name = Some(n);
        }
        if let Some(v) = patch.extra.get("description") {
            r.extra.insert("description".into(), v.clone());
        }
        if patch.attributes.is_some() {
            r.attributes.clone_from(&patch.attributes);
        }
        Ok(renamed)
    })
    .await?;
    // User mappings name roles: carry a rename over to them.
    if let Some((old, new_name)) = renamed {
        rename_in_users(state, &snap.id, &old, &new_name).await?;
    }
    Ok(no_content())
}

/// Renames a role in the direct mappings of every user of the realm that holds it.
async fn rename_in_users(
    state: &AppState,
    realm_id: &str,
    old: &Role,
    new_name: &str,
) -> AdminResult<()> {
    for mut row in state.store.users(realm_id).await? {
        let mut u: crate::representation::UserRepresentation =
            serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
        let mut m = edit::Mappings {
            realm: &mut u.realm_roles,
            client: &mut u.client_roles,
        };
        if m.remove(old) {
            let new = match old {
                Role::Realm(_) => Role::Realm(new_name.to_string()),
                Role::Client(c, _) => Role::Client(c.clone(), new_name.to_string()),
            };
            m.add(&new);
            row.representation = serde_json::to_string(&u).map_err(|_| AdminError::Internal)?;
            state.store.update_user(realm_id, &row).await?;
        }
    }
    Ok(())
}

async fn delete_role(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
) -> AdminResult<Response> {
    let gate = RoleGate::of(state, snap, caller).await?;
    let removed = edit_realm(state, &snap.name, |rep, _| {
        let role = locate(rep)?;
        gate.require_manage(rep, &role)?;
        if let Role::Realm(n) = &role {
            if rep.default_role.as_ref().and_then(|d| d.name.as_deref()) == Some(n.as_str()) {
                return Err(AdminError::bad("You cannot delete a default role"));
            }
        }
        let (owner, name) = match &role {
            Role::Realm(n) => (None, n.clone()),
            Role::Client(c, n) => (Some(c.clone()), n.clone()),
        };
        let roles = edit::roles_mut(rep, owner.as_deref());
        let id = roles
            .iter()
            .find(|r| r.name.as_deref() == Some(name.as_str()))
            .and_then(|r| r.id.clone());
        roles.retain(|r| r.name.as_deref() != Some(name.as_str()));
        edit::remove_role_refs(rep, &role);
        Ok(id)
    })
    .await?;
    // The role leaves the fine-grained admin permissions.
    if let Some(id) = removed {
        crate::realm::authz::forget_admin_object(state.store.as_ref(), &snap.rep, &snap.id, &id)
            .await?;
    }
    Ok(no_content())
}

/// The composites of a role in `container`.
fn composites_of(
    snap: &RealmSnapshot,
    role: &Role,
    container: &Container,
) -> AdminResult<Vec<Value>> {
    let (owner, name) = match role {
        Role::Realm(n) => (None, n),
        Role::Client(c, n) => (Some(c.as_str()), n),
    };
    let r = edit::role(&snap.rep, owner, name)
        .ok_or_else(|| AdminError::not_found("Could not find role"))?;
    Ok(role_mappings::listed(snap, r, container, Mode::Direct))
}

async fn composites_change(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    bytes: &[u8],
    add: bool,
) -> AdminResult<Response> {
    let list: Vec<Value> = representation(bytes, &Shape::Many(&super::jackson::ROLE))?;
    let gate = RoleGate::of(state, snap, caller).await?;
    edit_realm(state, &snap.name, |rep, _| {
        let role = locate(rep)?;
        gate.require_manage(rep, &role)?;
        let members = role_mappings::resolve(rep, &list, &Container::All).map_err(|e| match e {
            AdminError::NotFound(_) => AdminError::not_found("Could not find composite role"),
            e => e,
        })?;
        if add {
            gate.require_compose(rep, &members)?;
        }
        change_composites(rep, &role, &members, add)
    })
    .await?;
    Ok(no_content())
}

async fn holders(
    state: &AppState,
    snap: &RealmSnapshot,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    paging: Paging,
    groups: bool,
) -> AdminResult<Json<Vec<Value>>> {
    let role = locate(&snap.rep)?;
    if groups {
        let mut out = Vec::new();
        fn walk(
            list: &[crate::representation::GroupRepresentation],
            role: &Role,
            out: &mut Vec<Value>,
        ) {
            for g in list {
                let holds = match role {
                    Role::Realm(n) => g.realm_roles.iter().flatten().any(|x| x == n),
                    Role::Client(c, n) => g
                        .client_roles
                        .as_ref()
                        .and_then(|m| m.get(c))
                        .is_some_and(|l| l.contains(n)),
                };
                if holds {
                    out.push(view::group_brief(g));
                }
                walk(g.sub_groups.as_deref().unwrap_or_default(), role, out);
            }
        }
        walk(
            snap.rep.groups.as_deref().unwrap_or_default(),
            &role,
            &mut out,
        );
        return Ok(Json(paging.apply(out, Some(100))));
    }
    let mut out = Vec::new();
    for row in state.store.users(&snap.id).await? {
        let u: crate::representation::UserRepresentation =
            serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
        let holds = match &role {
            Role::Realm(n) => u.realm_roles.iter().flatten().any(|x| x == n),
            Role::Client(c, n) => u
                .client_roles
                .as_ref()
                .and_then(|m| m.get(c))
                .is_some_and(|l| l.contains(n)),
        };
        if holds {
            out.push(view::user_json(&u, true));
        }
    }
    Ok(Json(paging.apply(out, Some(100))))
}

fn by_name(
    owner_client: Option<String>,
    name: String,
) -> impl Fn(&RealmRepresentation) -> AdminResult<Role> {
    move |rep| {
        let owner = match &owner_client {
            Some(id) => client_owner(rep, id)?,
            None => realm_owner(rep),
        };
        edit::role(rep, owner.client_id.as_deref(), &name)
            .ok_or_else(|| AdminError::not_found("Could not find role"))?;
        Ok(owner.key(&name))
    }
}

fn by_id(id: String) -> impl Fn(&RealmRepresentation) -> AdminResult<Role> {
    move |rep| {
        let (owner, r) = edit::role_by_id(rep, &id)
            .ok_or_else(|| AdminError::not_found("Could not find role with id"))?;
        Ok(edit::role_key(
            owner.as_deref(),
            r.name.as_deref().unwrap_or_default(),
        ))
    }
}

// Realm roles.

/// `GET /roles`.
pub async fn realm_list(
    RealmAdmin { snap, query: q, .. }: RealmAdmin<AnyRole, ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    list_in(&snap, None, q)
}
/// `POST /roles`.
pub async fn realm_create(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    uri: Uri,
    b: Bytes,
) -> AdminResult<Response> {
    create_in(&s, &snap, &caller, None, &uri, &b).await
}
/// `GET /roles/{role}`.
pub async fn realm_get(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, role)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    Ok(Json(find(&snap.rep, &realm_owner(&snap.rep), &role)?))
}
/// `PUT /roles/{role}`.
pub async fn realm_update(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, role)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    update_role(&s, &snap, &caller, by_name(None, role), &b).await
}
/// `DELETE /roles/{role}`.
pub async fn realm_delete(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, role)): Path<(String, String)>,
) -> AdminResult<Response> {
    delete_role(&s, &snap, &caller, by_name(None, role)).await
}
/// `GET /roles/{role}/composites`.
pub async fn realm_composites(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, role)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    Ok(Json(composites_of(
        &snap,
        &Role::Realm(role),
        &Container::All,
    )?))
}
/// `GET /roles/{role}/composites/realm`.
pub async fn realm_composites_realm(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, role)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    Ok(Json(composites_of(
        &snap,
        &Role::Realm(role),
        &Container::Realm,
    )?))
}
/// `GET /roles/{role}/composites/clients/{client}` (and the same under a client role or
/// `roles-by-id`): the composites that are roles of that client.
fn composites_of_client(
    snap: &RealmSnapshot,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    client: &str,
) -> AdminResult<Json<Vec<Value>>> {
    let role = locate(&snap.rep)?;
    let cid = client_owner(&snap.rep, client)?.client_id;
    let container = Container::Client(cid.unwrap_or_default());
    Ok(Json(composites_of(snap, &role, &container)?))
}
/// `GET /roles/{role}/composites/clients/{client}`.
pub async fn realm_composites_client(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, role, client)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    composites_of_client(&snap, by_name(None, role), &client)
}
/// `GET /roles-by-id/{id}/composites/clients/{client}`.
pub async fn by_id_composites_client(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, id, client)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    composites_of_client(&snap, by_id(id), &client)
}
/// `GET /roles-by-id/{id}/composites/realm`.
pub async fn by_id_composites_realm(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let key = by_id(id)(&snap.rep)?;
    Ok(Json(composites_of(&snap, &key, &Container::Realm)?))
}
/// `POST /roles/{role}/composites`.
pub async fn realm_add_composites(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, role)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &snap, &caller, by_name(None, role), &b, true).await
}
/// `DELETE /roles/{role}/composites`.
pub async fn realm_remove_composites(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, role)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &snap, &caller, by_name(None, role), &b, false).await
}
/// `GET /roles/{role}/users`.
pub async fn realm_role_users(
    State(s): State<AppState>,
    RealmAdmin { snap, query: p, .. }: RealmAdmin<ViewUsers, Paging>,
    Path((_, role)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &snap, by_name(None, role), p, false).await
}
/// `GET /roles/{role}/groups`.
pub async fn realm_role_groups(
    State(s): State<AppState>,
    RealmAdmin { snap, query: p, .. }: RealmAdmin<ViewUsers, Paging>,
    Path((_, role)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &snap, by_name(None, role), p, true).await
}

// Client roles.

/// `GET /clients/{id}/roles`.
pub async fn client_list(
    RealmAdmin { snap, query: q, .. }: RealmAdmin<AnyRole, ListQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    list_in(&snap, Some(&id), q)
}
/// `POST /clients/{id}/roles`.
pub async fn client_create(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id)): Path<(String, String)>,
    uri: Uri,
    b: Bytes,
) -> AdminResult<Response> {
    create_in(&s, &snap, &caller, Some(&id), &uri, &b).await
}
/// `GET /clients/{id}/roles/{role}`.
pub async fn client_get(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, id, role)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let owner = client_owner(&snap.rep, &id)?;
    Ok(Json(find(&snap.rep, &owner, &role)?))
}
/// `PUT /clients/{id}/roles/{role}`.
pub async fn client_update(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id, role)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    update_role(&s, &snap, &caller, by_name(Some(id), role), &b).await
}
/// `DELETE /clients/{id}/roles/{role}`.
pub async fn client_delete(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id, role)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    delete_role(&s, &snap, &caller, by_name(Some(id), role)).await
}
/// `GET /clients/{id}/roles/{role}/composites`.
pub async fn client_composites(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, id, role)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let key = by_name(Some(id), role)(&snap.rep)?;
    Ok(Json(composites_of(&snap, &key, &Container::All)?))
}
/// `POST /clients/{id}/roles/{role}/composites`.
pub async fn client_add_composites(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id, role)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &snap, &caller, by_name(Some(id), role), &b, true).await
}
/// `DELETE /clients/{id}/roles/{role}/composites`.
pub async fn client_remove_composites(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id, role)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &snap, &caller, by_name(Some(id), role), &b, false).await
}
/// `GET /clients/{id}/roles/{role}/users`.
pub async fn client_role_users(
    State(s): State<AppState>,
    RealmAdmin { snap, query: p, .. }: RealmAdmin<ViewUsers, Paging>,
    Path((_, id, role)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &snap, by_name(Some(id), role), p, false).await
}
/// `GET /clients/{id}/roles/{role}/groups`.
pub async fn client_role_groups(
    State(s): State<AppState>,
    RealmAdmin { snap, query: p, .. }: RealmAdmin<ViewUsers, Paging>,
    Path((_, id, role)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &snap, by_name(Some(id), role), p, true).await
}

// By id.

/// `GET /roles-by-id/{id}`.
pub async fn by_id_get(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let key = by_id(id)(&snap.rep)?;
    view::role_out(&snap.rep, &key)
        .map(Json)
        .ok_or_else(|| AdminError::not_found("Could not find role with id"))
}
/// `PUT /roles-by-id/{id}`.
pub async fn by_id_update(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    update_role(&s, &snap, &caller, by_id(id), &b).await
}
/// `DELETE /roles-by-id/{id}`.
pub async fn by_id_delete(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    delete_role(&s, &snap, &caller, by_id(id)).await
}
/// `GET /roles-by-id/{id}/composites`.
pub async fn by_id_composites(
    RealmAdmin { snap, .. }: RealmAdmin<AnyRole>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let key = by_id(id)(&snap.rep)?;
    Ok(Json(composites_of(&snap, &key, &Container::All)?))
}
/// `POST /roles-by-id/{id}/composites`.
pub async fn by_id_add_composites(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &snap, &caller, by_id(id), &b, true).await
}
/// `DELETE /roles-by-id/{id}/composites`.
pub async fn by_id_remove_composites(
    State(s): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &snap, &caller, by_id(id), &b, false).await
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::ADMIN_CLIENT_ROLES,
            routing::get(client_list).post(client_create),
        )
        .route(
            paths::ADMIN_CLIENT_ROLE,
            routing::get(client_get)
                .put(client_update)
                .delete(client_delete),
        )
        .route(
            paths::ADMIN_CLIENT_ROLE_COMPOSITES,
            routing::get(client_composites)
                .post(client_add_composites)
                .delete(client_remove_composites),
        )
        .route(
            paths::ADMIN_CLIENT_ROLE_USERS,
            routing::get(client_role_users),
        )
        .route(
            paths::ADMIN_CLIENT_ROLE_GROUPS,
            routing::get(client_role_groups),
        )
        .route(
            paths::ADMIN_ROLES,
            routing::get(realm_list).post(realm_create),
        )
        .route(
            paths::ADMIN_ROLE,
            routing::get(realm_get)
                .put(realm_update)
                .delete(realm_delete),
        )
        .route(
            paths::ADMIN_ROLE_COMPOSITES,
            routing::get(realm_composites)
                .post(realm_add_composites)
                .delete(realm_remove_composites),
        )
        .route(
            paths::ADMIN_ROLE_COMPOSITES_REALM,
            routing::get(realm_composites_realm),
        )
        .route(
            paths::ADMIN_ROLE_COMPOSITES_CLIENT,
            routing::get(realm_composites_client),
        )
        .route(
            paths::ADMIN_ROLE_BY_ID_COMPOSITES_REALM,
            routing::get(by_id_composites_realm),
        )
        .route(
            paths::ADMIN_ROLE_BY_ID_COMPOSITES_CLIENT,
            routing::get(by_id_composites_client),
        )
        .route(paths::ADMIN_ROLE_USERS, routing::get(realm_role_users))
        .route(paths::ADMIN_ROLE_GROUPS, routing::get(realm_role_groups))
        .route(
            paths::ADMIN_ROLE_BY_ID,
            routing::get(by_id_get)
                .put(by_id_update)
                .delete(by_id_delete),
        )
        .route(
            paths::ADMIN_ROLE_BY_ID_COMPOSITES,
            routing::get(by_id_composites)
                .post(by_id_add_composites)
                .delete(by_id_remove_composites),
        )
}
