//! `POST /admin/realms/{realm}/partialImport`: clients, realm and client roles, groups and
//! users of a realm file added to an existing realm in one transaction, each existing one
//! failing the import, skipped or overwritten (`ifResourceExists`), answered with Keycloak's
//! `PartialImportResults`.

use serde_json::{json, Map, Value};

use super::{edit_realm, AdminError, AdminResult};
use crate::realm::edit;
use crate::realm::index::Role;
use crate::realm::snapshot::RealmSnapshot;
use crate::realm::IfExists;
use crate::representation::{GroupRepresentation, RealmRepresentation, RoleRepresentation};
use crate::store::Write;
use crate::AppState;

#[derive(Default)]
struct Results {
    list: Vec<Value>,
}

impl Results {
    fn push(&mut self, action: &str, kind: &str, name: &str, id: Option<&str>) {
        self.list
            .push(json!({"action": action, "resourceType": kind, "resourceName": name, "id": id}));
    }
    fn into_json(self) -> Value {
        let count = |a: &str| self.list.iter().filter(|r| r["action"] == a).count();
        json!({
            "overwritten": count("OVERWRITTEN"),
            "added": count("ADDED"),
            "skipped": count("SKIPPED"),
            "results": self.list,
        })
    }
}

/// Every role an import would grant: group role mappings (with subgroups) and composites.
fn granted_roles(req: &Map<String, Value>) -> Vec<Role> {
    fn names(v: Option<&Value>) -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    }
    fn refs(realm: Option<&Value>, client: Option<&Value>, out: &mut Vec<Role>) {
        out.extend(names(realm).into_iter().map(Role::Realm));
        for (c, list) in client.and_then(Value::as_object).into_iter().flatten() {
            out.extend(
                names(Some(list))
                    .into_iter()
                    .map(|n| Role::Client(c.clone(), n)),
            );
        }
    }
    fn groups(list: Option<&Value>, out: &mut Vec<Role>) {
        for g in list.and_then(Value::as_array).into_iter().flatten() {
            refs(g.get("realmRoles"), g.get("clientRoles"), out);
            groups(g.get("subGroups"), out);
        }
    }
    let mut out = Vec::new();
    groups(req.get("groups"), &mut out);
    let roles = req.get("roles");
    let all = roles
        .and_then(|r| r.get("realm"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            roles
                .and_then(|r| r.get("client"))
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(Value::as_array)
                .flatten(),
        );
    for r in all {
        let c = r.get("composites");
        refs(
            c.and_then(|c| c.get("realm")),
            c.and_then(|c| c.get("client")),
            &mut out,
        );
    }
    out
}

fn exists(kind: &str, name: &str) -> AdminError {
    AdminError::Conflict(format!("{kind} '{name}' already exists"))
}

/// Where imported roles go: the realm's roles (`client_id` none) or one client's.
struct RoleOwner<'a> {
    client_id: Option<&'a str>,
    container_id: Option<String>,
    /// `REALM_ROLE` or `CLIENT_ROLE` in the results.
    kind: &'static str,
    /// `Realm role` or `Client role` in the conflict message.
    what: &'static str,
}

/// Adds, skips or overwrites one role (by name) as the policy says; `label` names it in the
/// results.
fn import_role(
    rep: &mut RealmRepresentation,
    owner: &RoleOwner<'_>,
    mut role: RoleRepresentation,
    label: &str,
    policy: IfExists,
    r: &mut Results,
) -> AdminResult<()> {
    let name = role.name.clone().unwrap_or_default();
    let client_role = owner.client_id.is_some();
    let existing = edit::role(rep, owner.client_id, &name).and_then(|x| x.id.clone());
    match (existing, policy) {
        (Some(_), IfExists::Fail) => return Err(exists(owner.what, label)),
        (Some(id), IfExists::Skip) => r.push("SKIPPED", owner.kind, label, Some(&id)),
        (Some(id), IfExists::Overwrite) => {
            role.id = Some(id.clone());
            // A realm role keeps the `clientRole` it came with (as this import always did).
            if client_role {
                role.client_role = Some(true);
            }
            role.container_id = owner.container_id.clone();
            if let Some(slot) = edit::roles_mut(rep, owner.client_id)
                .iter_mut()
                .find(|x| x.name.as_deref() == Some(name.as_str()))
            {
                *slot = role;
            }
            r.push("OVERWRITTEN", owner.kind, label, Some(&id));
        }
        (None, _) => {
            let id = super::new_id();
            role.id = Some(id.clone());
            role.client_role = Some(client_role);
            role.container_id = owner.container_id.clone();
            edit::roles_mut(rep, owner.client_id).push(role);
            r.push("ADDED", owner.kind, label, Some(&id));
        }
    }
    Ok(())
}

/// Realm roles.
fn realm_roles(
    rep: &mut RealmRepresentation,
    req: &Map<String, Value>,
    policy: IfExists,
    r: &mut Results,
) -> AdminResult<()> {
    let owner = RoleOwner {
        client_id: None,
        container_id: rep.id.clone(),
        kind: "REALM_ROLE",
        what: "Realm role",
    };
    for v in req
        .get("roles")
        .and_then(|r| r.get("realm"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role: RoleRepresentation = serde_json::from_value(v.clone())
            .map_err(|e| AdminError::bad(format!("roles.realm: {e}")))?;
        let name = role.name.clone().unwrap_or_default();
        import_role(rep, &owner, role, &name, policy, r)?;
    }
    Ok(())
}

/// Clients (with their service-account users).
fn clients(
    rep: &mut RealmRepresentation,
    writes: &mut Vec<Write>,
    req: &Map<String, Value>,
    policy: IfExists,
    r: &mut Results,
) -> AdminResult<()> {
    for v in req
        .get("clients")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let client_id = v
            .get("clientId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let existing = edit::client_by_client_id(rep, &client_id).and_then(|c| c.id.clone());
        // Authorization settings are rows of their own (`RepresentationToModel`'s
        // `importAuthorizationSettings`), switched on with the client.
        let mut v = v.clone();
        let settings = v
            .as_object_mut()
            .and_then(|o| o.remove("authorizationSettings"));
        let authz = crate::realm::authz::truthy(v.get("authorizationServicesEnabled"));
        if authz {
            if let Some(o) = v.as_object_mut() {
                o.insert("serviceAccountsEnabled".into(), json!(true));
                o.insert("publicClient".into(), json!(false));
                o.insert("bearerOnly".into(), json!(false));
            }
        }
        let v = &v;
        match (existing, policy) {
            (Some(_), IfExists::Fail) => return Err(exists("Client", &client_id)),
            (Some(id), IfExists::Skip) => r.push("SKIPPED", "CLIENT", &client_id, Some(&id)),
            (Some(id), IfExists::Overwrite) => {
                edit::remove_client(rep, &client_id);
                let mut v = v.clone();
                v["id"] = json!(id);
                let c = edit::prepare_new(rep, v)?;
                rep.clients.get_or_insert_with(Vec::new).push(c);
                writes.push(crate::store::Write::DeleteResourceServer {
                    realm_id: rep.id.clone().unwrap_or_default(),
                    id: id.clone(),
                });
                if authz {
                    super::clients::switch_on(
                        rep,
                        writes,
                        &id,
                        &client_id,
                        settings.as_ref(),
                        &Default::default(),
                    )?;
                }
                r.push("OVERWRITTEN", "CLIENT", &client_id, Some(&id));
            }
            (None, _) => {
                let c = edit::prepare_new(rep, v.clone())?;
                let id = c.id.clone().unwrap_or_default();
                edit::add_client(rep, writes, c)?;
                if authz {
                    super::clients::switch_on(
                        rep,
                        writes,
                        &id,
                        &client_id,
                        settings.as_ref(),
                        &Default::default(),
                    )?;
                }
                r.push("ADDED", "CLIENT", &client_id, Some(&id));
            }
        }
    }
    Ok(())
}

/// Client roles.
fn client_roles(
    rep: &mut RealmRepresentation,
    req: &Map<String, Value>,
    policy: IfExists,
    r: &mut Results,
) -> AdminResult<()> {
    for (client_id, list) in req
        .get("roles")
        .and_then(|r| r.get("client"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let container = edit::client_by_client_id(rep, client_id)
            .and_then(|c| c.id.clone())
            .ok_or_else(|| {
                AdminError::bad(format!(
                    "roles.client.{client_id}: client '{client_id}' does not exist"
                ))
            })?;
        let owner = RoleOwner {
            client_id: Some(client_id),
            container_id: Some(container),
            kind: "CLIENT_ROLE",
            what: "Client role",
        };
        for v in list.as_array().into_iter().flatten() {
            let role: RoleRepresentation = serde_json::from_value(v.clone())
                .map_err(|e| AdminError::bad(format!("roles.client.{client_id}: {e}")))?;
            let label = format!("{client_id}-{}", role.name.as_deref().unwrap_or_default());
            import_role(rep, &owner, role, &label, policy, r)?;
        }
    }
    Ok(())
}

/// Top-level groups (with their subgroups).
fn groups(
    rep: &mut RealmRepresentation,
    req: &Map<String, Value>,
    policy: IfExists,
    r: &mut Results,
) -> AdminResult<()> {
    for v in req
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut g: GroupRepresentation = serde_json::from_value(v.clone())
            .map_err(|e| AdminError::bad(format!("groups: {e}")))?;
        let name = g.name.clone().unwrap_or_default();
        let existing = edit::group_by_path(rep, &format!("/{name}")).and_then(|x| x.id.clone());
        fn ids(g: &mut GroupRepresentation) {
            g.id.get_or_insert_with(super::new_id);
            for s in g.sub_groups.iter_mut().flatten() {
                ids(s);
            }
        }
        match (existing, policy) {
            (Some(_), IfExists::Fail) => return Err(exists("Group", &name)),
            (Some(id), IfExists::Skip) => r.push("SKIPPED", "GROUP", &name, Some(&id)),
            (Some(id), IfExists::Overwrite) => {
                g.id = Some(id.clone());
                ids(&mut g);
                edit::set_paths(&mut g, "");
                if let Some(slot) = rep
                    .groups
                    .iter_mut()
                    .flatten()
                    .find(|x| x.id.as_deref() == Some(id.as_str()))
                {
                    *slot = g;
                }
                r.push("OVERWRITTEN", "GROUP", &name, Some(&id));
            }
            (None, _) => {
                g.id = None;
                ids(&mut g);
                edit::set_paths(&mut g, "");
                let id = g.id.clone().unwrap_or_default();
                rep.groups.get_or_insert_with(Vec::new).push(g);
                r.push("ADDED", "GROUP", &name, Some(&id));
            }
        }
    }
    Ok(())
}

/// The users of the import, as writes (hashing is async, so they are prepared first).
async fn users(
    state: &AppState,
    snap: &RealmSnapshot,
    req: &Map<String, Value>,
    policy: IfExists,
) -> AdminResult<(Vec<Write>, Results)> {
    let mut user_writes = Vec::new();
    let mut results = Results::default();
    for (i, u) in req
        .get("users")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = u
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        let existing = state.store.user_by_username(&snap.id, &name).await?;
        match (&existing, policy) {
            (Some(_), IfExists::Fail) => return Err(exists("User", &name)),
            (Some(e), IfExists::Skip) => {
                results.push("SKIPPED", "USER", &name, Some(&e.id));
                continue;
            }
            _ => {}
        }
        let mut v = u.clone();
        if let Some(e) = &existing {
            v["id"] = json!(e.id);
        }
        let row = super::users::new_user_unchecked(state, snap, &v)
            .await
            .map_err(|e| match e {
                AdminError::BadRequest(m) => AdminError::bad(format!("users[{i}]: {m}")),
                other => other,
            })?;
        if let Some(e) = &existing {
            user_writes.push(Write::DeleteUser {
                realm_id: snap.id.clone(),
                id: e.id.clone(),
            });
            results.push("OVERWRITTEN", "USER", &name, Some(&row.id));
        } else {
            results.push("ADDED", "USER", &name, Some(&row.id));
        }
        user_writes.push(Write::InsertUsers {
            realm_id: snap.id.clone(),
            users: vec![row],
        });
    }
    Ok((user_writes, results))
}

/// Runs a partial import: users, then the realm's roles, clients, client roles and groups in
/// one transaction.
pub async fn run(
    state: &AppState,
    caller: &super::auth::Caller,
    snap: &RealmSnapshot,
    req: &Map<String, Value>,
    policy: IfExists,
) -> AdminResult<Value> {
    // Administrative roles handed out by imported groups or composites need a caller who
    // holds them, as through the role-mapping endpoints.
    caller.require_grant(&snap.name, &granted_roles(req))?;
    // Users first; written in the same transaction as the realm changes.
    let (user_writes, results) = users(state, snap, req, policy).await?;
    let realm_results = edit_realm(state, &snap.name, |rep, writes| {
        let mut r = Results::default();
        realm_roles(rep, req, policy, &mut r)?;
        clients(rep, writes, req, policy, &mut r)?;
        client_roles(rep, req, policy, &mut r)?;
        groups(rep, req, policy, &mut r)?;
        writes.extend(user_writes.iter().cloned());
        Ok(r.list)
    })
    .await?;
    let mut all = Results {
        list: realm_results,
    };
    all.list.extend(results.list);
    Ok(all.into_json())
}
