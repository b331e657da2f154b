//! Realm roles (`/roles`), client roles (`/clients/{id}/roles`) and `/roles-by-id`: CRUD,
//! composites, and the users and groups holding a role.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Caller, Family, Need};
use super::realms::target;
use super::{
    body, created, edit_realm, model, new_id, no_content, AdminError, AdminResult, Paging,
};
use crate::realm::index::Role;
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
        model::role_key(self.client_id.as_deref(), name)
    }
    fn family(&self) -> Family {
        if self.client_id.is_some() {
            Family::Clients
        } else {
            Family::Realm
        }
    }
}

fn realm_owner(rep: &RealmRepresentation) -> Owner {
    Owner {
        client_id: None,
        container: rep.id.clone().unwrap_or_default(),
    }
}

fn client_owner(rep: &RealmRepresentation, id: &str) -> AdminResult<Owner> {
    let c = model::client(rep, id).ok_or_else(|| AdminError::not_found("Could not find client"))?;
    Ok(Owner {
        client_id: c.client_id.clone(),
        container: id.to_string(),
    })
}

/// The JSON of a role of an owner.
fn role_out(rep: &RealmRepresentation, role: &Role) -> Option<Value> {
    match role {
        Role::Realm(n) => model::role(rep, None, n)
            .map(|r| model::role_json(r, None, rep.id.as_deref().unwrap_or_default())),
        Role::Client(c, n) => {
            let uuid = model::client_by_client_id(rep, c)?.id.clone()?;
            model::role(rep, Some(c), n).map(|r| model::role_json(r, Some(c), &uuid))
        }
    }
}

/// The roles of a role-mapping request body for a holder (user or group), each in the asked
/// container (`client`: that client's roles; `None`: realm roles), and, when they are to be
/// added, each one the caller may grant.
pub fn mapping_roles(
    rep: &RealmRepresentation,
    caller: &Caller,
    realm: &str,
    body: &[Value],
    client: Option<&str>,
    add: bool,
) -> AdminResult<Vec<Role>> {
    let roles = body
        .iter()
        .map(|v| resolve(rep, v))
        .collect::<AdminResult<Vec<_>>>()?;
    if roles.iter().any(|r| !model::in_container(r, client)) {
        return Err(AdminError::not_found("Could not find role"));
    }
    if add {
        caller.require_grant(realm, &roles)?;
    }
    Ok(roles)
}

/// Resolves a `RoleRepresentation` of a request body (by `id`, else by name in the realm or,
/// with `clientRole` and `containerId`, in that client) to a role of the realm.
pub fn resolve(rep: &RealmRepresentation, v: &Value) -> AdminResult<Role> {
    let not_found = || AdminError::not_found("Could not find role");
    if let Some(id) = v.get("id").and_then(Value::as_str) {
        let (owner, r) = model::role_by_id(rep, id).ok_or_else(not_found)?;
        let name = r.name.clone().ok_or_else(not_found)?;
        return Ok(model::role_key(owner.as_deref(), &name));
    }
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(not_found)?;
    if v.get("clientRole").and_then(Value::as_bool) == Some(true) {
        let container = v
            .get("containerId")
            .and_then(Value::as_str)
            .ok_or_else(not_found)?;
        let client = model::client(rep, container).ok_or_else(not_found)?;
        let cid = client.client_id.clone().unwrap_or_default();
        model::role(rep, Some(&cid), name).ok_or_else(not_found)?;
        return Ok(Role::Client(cid, name.to_string()));
    }
    model::role(rep, None, name).ok_or_else(not_found)?;
    Ok(Role::Realm(name.to_string()))
}

/// The JSON of roles, skipping unknown ones.
pub fn roles_out<'a>(
    rep: &RealmRepresentation,
    roles: impl IntoIterator<Item = &'a Role>,
) -> Vec<Value> {
    roles.into_iter().filter_map(|r| role_out(rep, r)).collect()
}

/// Query of role lists.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    search: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
}

async fn list_in(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    client: Option<&str>,
    q: ListQuery,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::Any)?;
    let owner = match client {
        Some(id) => client_owner(&snap.rep, id)?,
        None => realm_owner(&snap.rep),
    };
    let needle = q.search.as_deref().map(str::to_lowercase);
    let out: Vec<Value> = model::roles(&snap.rep, owner.client_id.as_deref())
        .filter(|r| {
            needle.as_deref().is_none_or(|n| {
                r.name
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(n)
            })
        })
        .map(|r| model::role_json(r, owner.client_id.as_deref(), &owner.container))
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
    caller: &Caller,
    realm: &str,
    client: Option<&str>,
    uri: &Uri,
    bytes: &[u8],
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    let mut role: RoleRepresentation = body(bytes)?;
    let name = role
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| AdminError::bad("Role name is missing"))?;
    edit_realm(state, &snap.name, |rep, _| {
        let owner = match client {
            Some(id) => client_owner(rep, id)?,
            None => realm_owner(rep),
        };
        caller.require(&snap.name, Need::Manage(owner.family()))?;
        if model::role(rep, owner.client_id.as_deref(), &name).is_some() {
            return Err(AdminError::Conflict(format!(
                "Role with name {name} already exists"
            )));
        }
        role.id = Some(new_id());
        role.client_role = Some(owner.client_id.is_some());
        role.container_id = Some(owner.container.clone());
        role.extra.entry("attributes").or_insert(json!({}));
        let composites = role.composites.take();
        role.composite = Some(false);
        model::roles_mut(rep, owner.client_id.as_deref()).push(role.clone());
        if let Some(c) = composites {
            let key = owner.key(&name);
            set_composites(rep, &key, c)?;
            let granted = composites_keys(rep, &key);
            caller.require_grant(&snap.name, &granted)?;
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
    model::role(rep, owner, name)
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
    model::roles_mut(rep, owner)
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
            Role::Realm(n) => model::role(rep, None, n).is_some(),
            Role::Client(c, n) => model::role(rep, Some(c), n).is_some(),
        };
        if !exists {
            return Err(AdminError::not_found("Could not find composite role"));
        }
    }
    let r = role_mut(rep, role).ok_or_else(|| AdminError::not_found("Could not find role"))?;
    let c = r.composites.get_or_insert_with(Default::default);
    let mut mappings = model::Mappings {
        realm: &mut c.realm,
        client: &mut c.client,
    };
    for m in members {
        if add {
            mappings.add(m);
        } else {
            mappings.remove(m);
        }
    }
    let any = c.realm.as_ref().is_some_and(|l| !l.is_empty())
        || c.client
            .as_ref()
            .is_some_and(|m| m.values().any(|l| !l.is_empty()));
    r.composite = Some(any);
    if !any {
        r.composites = None;
    }
    Ok(())
}

fn find(rep: &RealmRepresentation, owner: &Owner, name: &str) -> AdminResult<Value> {
    model::role(rep, owner.client_id.as_deref(), name)
        .map(|r| model::role_json(r, owner.client_id.as_deref(), &owner.container))
        .ok_or_else(|| AdminError::not_found("Could not find role"))
}

async fn update_role(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    bytes: &[u8],
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    let patch: RoleRepresentation = body(bytes)?;
    let renamed = edit_realm(state, &snap.name, |rep, _| {
        let role = locate(rep)?;
        let family = if matches!(role, Role::Client(..)) {
            Family::Clients
        } else {
            Family::Realm
        };
        caller.require(&snap.name, Need::Manage(family))?;
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
                if model::role(rep, owner, new_name).is_some() {
                    return Err(AdminError::Conflict(format!(
                        "Role with name {new_name} already exists"
                    )));
                }
                model::rename_role_refs(rep, &role, new_name);
                renamed = Some((role.clone(), new_name.clone()));
            }
        }
        let r = role_mut(rep, &role).ok_or_else(|| AdminError::not_found("Could not find role"))?;
        if let Some(n) = new_name {
            r.name = Some(n);
        }
        for (k, v) in &patch.extra {
            if matches!(k.as_str(), "description" | "attributes") {
                r.extra.insert(k.clone(), v.clone());
            }
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
        let mut m = model::Mappings {
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
    caller: &Caller,
    realm: &str,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    edit_realm(state, &snap.name, |rep, _| {
        let role = locate(rep)?;
        let family = if matches!(role, Role::Client(..)) {
            Family::Clients
        } else {
            Family::Realm
        };
        caller.require(&snap.name, Need::Manage(family))?;
        if let Role::Realm(n) = &role {
            if rep.default_role.as_ref().and_then(|d| d.name.as_deref()) == Some(n.as_str()) {
                return Err(AdminError::bad("You cannot delete a default role"));
            }
        }
        let (owner, name) = match &role {
            Role::Realm(n) => (None, n.clone()),
            Role::Client(c, n) => (Some(c.clone()), n.clone()),
        };
        model::roles_mut(rep, owner.as_deref())
            .retain(|r| r.name.as_deref() != Some(name.as_str()));
        model::remove_role_refs(rep, &role);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

fn composites_of(
    rep: &RealmRepresentation,
    role: &Role,
    only_realm: bool,
) -> AdminResult<Vec<Value>> {
    let (owner, name) = match role {
        Role::Realm(n) => (None, n),
        Role::Client(c, n) => (Some(c.as_str()), n),
    };
    let r = model::role(rep, owner, name)
        .ok_or_else(|| AdminError::not_found("Could not find role"))?;
    let mut keys = Vec::new();
    if let Some(c) = &r.composites {
        keys.extend(c.realm.iter().flatten().map(|n| Role::Realm(n.clone())));
        if !only_realm {
            for (client, names) in c.client.iter().flatten() {
                keys.extend(
                    names
                        .iter()
                        .map(|n| Role::Client(client.clone(), n.clone())),
                );
            }
        }
    }
    Ok(roles_out(rep, &keys))
}

async fn composites_change(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    bytes: &[u8],
    add: bool,
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    let list: Vec<Value> = body(bytes)?;
    edit_realm(state, &snap.name, |rep, _| {
        let role = locate(rep)?;
        let family = if matches!(role, Role::Client(..)) {
            Family::Clients
        } else {
            Family::Realm
        };
        caller.require(&snap.name, Need::Manage(family))?;
        let members = list
            .iter()
            .map(|v| {
                resolve(rep, v).map_err(|_| AdminError::not_found("Could not find composite role"))
            })
            .collect::<AdminResult<Vec<_>>>()?;
        if add {
            caller.require_grant(&snap.name, &members)?;
        }
        change_composites(rep, &role, &members, add)
    })
    .await?;
    Ok(no_content())
}

async fn holders(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    paging: Paging,
    groups: bool,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
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
                    out.push(super::groups::brief(g));
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
            out.push(super::users::user_json(&u, true));
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
        model::role(rep, owner.client_id.as_deref(), &name)
            .ok_or_else(|| AdminError::not_found("Could not find role"))?;
        Ok(owner.key(&name))
    }
}

fn by_id(id: String) -> impl Fn(&RealmRepresentation) -> AdminResult<Role> {
    move |rep| {
        let (owner, r) = model::role_by_id(rep, &id)
            .ok_or_else(|| AdminError::not_found("Could not find role with id"))?;
        Ok(model::role_key(
            owner.as_deref(),
            r.name.as_deref().unwrap_or_default(),
        ))
    }
}

// Realm roles.

/// `GET /roles`.
pub async fn realm_list(
    State(s): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
    Query(q): Query<ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    list_in(&s, &caller, &realm, None, q).await
}
/// `POST /roles`.
pub async fn realm_create(
    State(s): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
    uri: Uri,
    b: Bytes,
) -> AdminResult<Response> {
    create_in(&s, &caller, &realm, None, &uri, &b).await
}
/// `GET /roles/{role}`.
pub async fn realm_get(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    Ok(Json(find(&snap.rep, &realm_owner(&snap.rep), &role)?))
}
/// `PUT /roles/{role}`.
pub async fn realm_update(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    update_role(&s, &caller, &realm, by_name(None, role), &b).await
}
/// `DELETE /roles/{role}`.
pub async fn realm_delete(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
) -> AdminResult<Response> {
    delete_role(&s, &caller, &realm, by_name(None, role)).await
}
/// `GET /roles/{role}/composites`.
pub async fn realm_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    Ok(Json(composites_of(&snap.rep, &Role::Realm(role), false)?))
}
/// `GET /roles/{role}/composites/realm`.
pub async fn realm_composites_realm(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    Ok(Json(composites_of(&snap.rep, &Role::Realm(role), true)?))
}
/// `GET /roles/{role}/composites/clients/{client}` (and the same under a client role or
/// `roles-by-id`): the composites that are roles of that client.
async fn composites_of_client(
    s: &AppState,
    caller: &Caller,
    realm: &str,
    locate: impl Fn(&RealmRepresentation) -> AdminResult<Role>,
    client: &str,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(s, caller, realm)?;
    caller.require(&snap.name, Need::Any)?;
    let role = locate(&snap.rep)?;
    let cid = client_owner(&snap.rep, client)?.client_id;
    let (owner, name) = match &role {
        Role::Realm(n) => (None, n),
        Role::Client(c, n) => (Some(c.as_str()), n),
    };
    let r = model::role(&snap.rep, owner, name)
        .ok_or_else(|| AdminError::not_found("Could not find role"))?;
    let keys: Vec<Role> = r
        .composites
        .as_ref()
        .and_then(|c| c.client.as_ref())
        .and_then(|m| m.get(cid.as_deref().unwrap_or_default()))
        .into_iter()
        .flatten()
        .map(|n| model::role_key(cid.as_deref(), n))
        .collect();
    Ok(Json(roles_out(&snap.rep, &keys)))
}
/// `GET /roles/{role}/composites/clients/{client}`.
pub async fn realm_composites_client(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role, client)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    composites_of_client(&s, &caller, &realm, by_name(None, role), &client).await
}
/// `GET /roles-by-id/{id}/composites/clients/{client}`.
pub async fn by_id_composites_client(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, client)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    composites_of_client(&s, &caller, &realm, by_id(id), &client).await
}
/// `GET /roles-by-id/{id}/composites/realm`.
pub async fn by_id_composites_realm(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    let key = by_id(id)(&snap.rep)?;
    Ok(Json(composites_of(&snap.rep, &key, true)?))
}
/// `POST /roles/{role}/composites`.
pub async fn realm_add_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &caller, &realm, by_name(None, role), &b, true).await
}
/// `DELETE /roles/{role}/composites`.
pub async fn realm_remove_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &caller, &realm, by_name(None, role), &b, false).await
}
/// `GET /roles/{role}/users`.
pub async fn realm_role_users(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
    Query(p): Query<Paging>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &caller, &realm, by_name(None, role), p, false).await
}
/// `GET /roles/{role}/groups`.
pub async fn realm_role_groups(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, role)): Path<(String, String)>,
    Query(p): Query<Paging>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &caller, &realm, by_name(None, role), p, true).await
}

// Client roles.

/// `GET /clients/{id}/roles`.
pub async fn client_list(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    list_in(&s, &caller, &realm, Some(&id), q).await
}
/// `POST /clients/{id}/roles`.
pub async fn client_create(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    uri: Uri,
    b: Bytes,
) -> AdminResult<Response> {
    create_in(&s, &caller, &realm, Some(&id), &uri, &b).await
}
/// `GET /clients/{id}/roles/{role}`.
pub async fn client_get(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    let owner = client_owner(&snap.rep, &id)?;
    Ok(Json(find(&snap.rep, &owner, &role)?))
}
/// `PUT /clients/{id}/roles/{role}`.
pub async fn client_update(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    update_role(&s, &caller, &realm, by_name(Some(id), role), &b).await
}
/// `DELETE /clients/{id}/roles/{role}`.
pub async fn client_delete(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    delete_role(&s, &caller, &realm, by_name(Some(id), role)).await
}
/// `GET /clients/{id}/roles/{role}/composites`.
pub async fn client_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    let key = by_name(Some(id), role)(&snap.rep)?;
    Ok(Json(composites_of(&snap.rep, &key, false)?))
}
/// `POST /clients/{id}/roles/{role}/composites`.
pub async fn client_add_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &caller, &realm, by_name(Some(id), role), &b, true).await
}
/// `DELETE /clients/{id}/roles/{role}/composites`.
pub async fn client_remove_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &caller, &realm, by_name(Some(id), role), &b, false).await
}
/// `GET /clients/{id}/roles/{role}/users`.
pub async fn client_role_users(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
    Query(p): Query<Paging>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &caller, &realm, by_name(Some(id), role), p, false).await
}
/// `GET /clients/{id}/roles/{role}/groups`.
pub async fn client_role_groups(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, role)): Path<(String, String, String)>,
    Query(p): Query<Paging>,
) -> AdminResult<Json<Vec<Value>>> {
    holders(&s, &caller, &realm, by_name(Some(id), role), p, true).await
}

// By id.

/// `GET /roles-by-id/{id}`.
pub async fn by_id_get(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    let key = by_id(id)(&snap.rep)?;
    role_out(&snap.rep, &key)
        .map(Json)
        .ok_or_else(|| AdminError::not_found("Could not find role with id"))
}
/// `PUT /roles-by-id/{id}`.
pub async fn by_id_update(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    update_role(&s, &caller, &realm, by_id(id), &b).await
}
/// `DELETE /roles-by-id/{id}`.
pub async fn by_id_delete(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    delete_role(&s, &caller, &realm, by_id(id)).await
}
/// `GET /roles-by-id/{id}/composites`.
pub async fn by_id_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&s, &caller, &realm)?;
    caller.require(&snap.name, Need::Any)?;
    let key = by_id(id)(&snap.rep)?;
    Ok(Json(composites_of(&snap.rep, &key, false)?))
}
/// `POST /roles-by-id/{id}/composites`.
pub async fn by_id_add_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &caller, &realm, by_id(id), &b, true).await
}
/// `DELETE /roles-by-id/{id}/composites`.
pub async fn by_id_remove_composites(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    composites_change(&s, &caller, &realm, by_id(id), &b, false).await
}
