//! Import and export of a resource server (the export form), and clients switched on.

use super::*;

// ---------------------------------------------------------------------------------------
// Import and export

/// Imports a `ResourceServerRepresentation` in the export form into `server`
/// (`RepresentationToModel.toModel(ResourceServerRepresentation)`): settings replaced; scopes,
/// resources and policies matched by id or name and updated, the others created; policies
/// name their associations by name (or id), an associated policy defined later in the list
/// is imported first.
pub fn import(dir: Dir<'_>, server: &mut Server, rep: &Map<String, Value>) -> Res<()> {
    apply_settings(server, rep, true)?;
    let list = |k: &str| {
        rep.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for s in list("scopes") {
        let o = s.as_object().cloned().unwrap_or_default();
        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
        let existing = o
            .get("id")
            .and_then(Value::as_str)
            .and_then(|i| server.scope(i))
            .or_else(|| {
                server
                    .scopes
                    .iter()
                    .find(|x| x.name.as_deref() == Some(name))
            })
            .cloned();
        let mut sc = scope_in(server, &o, existing.as_ref())?;
        if let Some(e) = &existing {
            sc.id = e.id.clone();
            server.scopes.retain(|x| x.id != e.id);
        }
        server.scopes.push(sc);
    }
    for r in list("resources") {
        let mut o = r.as_object().cloned().unwrap_or_default();
        // `owner` by name in exports: a user's name, else the resource server.
        if let Some(Value::Object(owner)) = o.get("owner").cloned() {
            if owner.get("id").is_none() {
                let n = owner
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let id = dir.users.resolve(n).unwrap_or_else(|| server.id.clone());
                o.insert("owner".into(), json!({"id": id}));
            }
        }
        let name = o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let owner_key = match o.get("owner") {
            Some(Value::Object(m)) => m.get("id").and_then(Value::as_str).map(str::to_string),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
        .map(|k| {
            if k == server.client_id {
                server.id.clone()
            } else {
                dir.users.resolve(&k).unwrap_or(k)
            }
        })
        .unwrap_or_else(|| server.id.clone());
        let existing =
            o.get("_id")
                .and_then(Value::as_str)
                .and_then(|i| server.resource(i))
                .or_else(|| {
                    server.resources.iter().find(|x| {
                        x.name.as_deref() == Some(name.as_str()) && owner_id(x) == owner_key
                    })
                })
                .cloned();
        let mut new_scopes = Vec::new();
        let res = resource_in(dir, server, &o, existing.as_ref(), &mut new_scopes)?;
        server.scopes.extend(new_scopes);
        server.resources.retain(|x| x.id != res.id);
        server.resources.push(res);
    }
    let policies = list("policies");
    let mut done: HashSet<String> = HashSet::new();
    for p in &policies {
        import_policy(dir, server, &policies, p, &mut done, 0)?;
    }
    Ok(())
}

fn import_policy(
    dir: Dir<'_>,
    server: &mut Server,
    all: &[Value],
    p: &Value,
    done: &mut HashSet<String>,
    depth: usize,
) -> Res<()> {
    let o = p.as_object().cloned().unwrap_or_default();
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if done.contains(&name) {
        return Ok(());
    }
    if depth > all.len() {
        return Err(runtime(format!("Error while importing policy [{name}].")));
    }
    let apply: Vec<String> = o
        .get("config")
        .and_then(|c| c.get("applyPolicies"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default();
    for a in apply {
        if server.policy_ref(&a).is_some()
            && !all.iter().any(|x| {
                x.get("name").and_then(Value::as_str) == Some(a.as_str()) && !done.contains(&a)
            })
        {
            continue;
        }
        match all
            .iter()
            .find(|x| x.get("name").and_then(Value::as_str) == Some(a.as_str()))
        {
            Some(dep) if !done.contains(&a) => {
                import_policy(dir, server, all, dep, done, depth + 1)?
            }
            Some(_) => {}
            None if server.policy_ref(&a).is_some() => {}
            None => {
                return Err(runtime(format!("Policy with name [{a}] not defined.")));
            }
        }
    }
    let kind = o
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let existing = o
        .get("id")
        .and_then(Value::as_str)
        .and_then(|i| server.policy(i))
        .or_else(|| server.policy_by_name(&name))
        .cloned();
    let mut input = o.clone();
    // Export form: role, user, group, client and client-scope references are names or paths.
    export_refs_in(&kind, &mut input);
    let pol = policy_in(dir, server, &kind, &input, false, existing.as_ref(), true)?;
    check_cycles(server, &pol)?;
    server.upsert_policy(pol);
    done.insert(name);
    Ok(())
}

/// In an export's group policy the groups carry `path` instead of `id`.
fn export_refs_in(kind: &str, o: &mut Map<String, Value>) {
    if kind != "group" {
        return;
    }
    if let Some(Value::Object(c)) = o.get_mut("config") {
        if let Some(Value::String(g)) = c.get("groups") {
            if let Ok(mut list) = serde_json::from_str::<Vec<Value>>(g) {
                for item in list.iter_mut().filter_map(Value::as_object_mut) {
                    if item.get("id").is_none() {
                        if let Some(p) = item.get("path").cloned() {
                            item.insert("path".into(), p);
                        }
                    }
                }
                c.insert("groups".into(), json!(Value::Array(list).to_string()));
            }
        }
    }
}

/// The export form (`GET .../settings`, a realm export's `authorizationSettings`, as
/// Keycloak 26 writes them): no ids; resources (owner by name unless the server, scopes by
/// name), policies before permissions, their associations and references by name, scopes.
pub fn export(dir: Dir<'_>, server: &Server) -> Value {
    let resources: Vec<Value> = server
        .resources
        .iter()
        .map(|r| {
            let mut v = resource_json(dir, server, r, true);
            if let Some(o) = v.as_object_mut() {
                o.remove("_id");
                if owner_id(r) == server.id {
                    o.remove("owner");
                } else if let Some(Value::Object(ow)) = o.get_mut("owner") {
                    ow.remove("id");
                }
                if let Some(Value::Array(sc)) = o.get_mut("scopes") {
                    for s in sc.iter_mut().filter_map(Value::as_object_mut) {
                        s.remove("id");
                        s.remove("iconUri");
                    }
                }
            }
            v
        })
        .collect();
    let (plain, perms): (Vec<&PolicyRepresentation>, Vec<&PolicyRepresentation>) = server
        .policies
        .iter()
        .filter(|p| p.owner.is_none())
        .partition(|p| !p.is_permission());
    let policies: Vec<Value> = plain
        .into_iter()
        .chain(perms)
        .map(|p| policy_export(dir, server, p))
        .collect();
    let scopes: Vec<Value> = server
        .scopes
        .iter()
        .map(|s| {
            let mut v = scope_json(s);
            if let Some(o) = v.as_object_mut() {
                o.remove("id");
            }
            v
        })
        .collect();
    json!({
        "allowRemoteResourceManagement": server.allow_remote(),
        "policyEnforcementMode": server.setting("policyEnforcementMode", "ENFORCING"),
        "resources": resources,
        "policies": policies,
        "scopes": scopes,
        "decisionStrategy": server.setting("decisionStrategy", "UNANIMOUS"),
    })
}

/// One policy in the export form (the factories' `onExport`).
pub fn policy_export(dir: Dir<'_>, server: &Server, p: &PolicyRepresentation) -> Value {
    let mut v = policy_json(p);
    let Some(o) = v.as_object_mut() else { return v };
    let Some(Value::Object(c)) = o.get_mut("config") else {
        return v;
    };
    let names = |key: &str, f: &dyn Fn(&str) -> Option<String>| -> Option<String> {
        let l = ids(p, key);
        (!l.is_empty()).then(|| {
            json!(l
                .iter()
                .map(|i| f(i).unwrap_or_else(|| i.clone()))
                .collect::<Vec<_>>())
            .to_string()
        })
    };
    if let Some(s) = names("scopes", &|i| server.scope(i).and_then(|x| x.name.clone())) {
        c.insert("scopes".into(), json!(s));
    }
    if let Some(s) = names("resources", &|i| {
        server.resource(i).and_then(|x| x.name.clone())
    }) {
        c.insert("resources".into(), json!(s));
    }
    if let Some(s) = names("applyPolicies", &|i| {
        server.policy(i).and_then(|x| x.name.clone())
    }) {
        c.insert("applyPolicies".into(), json!(s));
    }
    match p.kind.as_deref() {
        Some("role") => {
            let roles: Vec<Value> = config_value(p, "roles")
                .into_iter()
                .map(|r| {
                    let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                    json!({"id": dir.role_by_id(id).unwrap_or_else(|| id.to_string()), "required": r.get("required").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            c.insert("roles".into(), json!(Value::Array(roles).to_string()));
        }
        Some("user") => {
            let users: Vec<String> = ids(p, "users")
                .iter()
                .map(|i| dir.users.by_id.get(i).cloned().unwrap_or_else(|| i.clone()))
                .collect();
            c.insert("users".into(), json!(json!(users).to_string()));
        }
        Some("client") => {
            let clients: Vec<String> = ids(p, "clients")
                .iter()
                .map(|i| dir.client_id_of(i).unwrap_or_else(|| i.clone()))
                .collect();
            c.insert("clients".into(), json!(json!(clients).to_string()));
        }
        Some("client-scope") => {
            let list: Vec<Value> = config_value(p, "clientScopes")
                .into_iter()
                .map(|s| {
                    let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
                    json!({"id": dir.client_scope(id).map(|(_, n)| n).unwrap_or_else(|| id.to_string()), "required": s.get("required").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            c.insert("clientScopes".into(), json!(Value::Array(list).to_string()));
        }
        Some("group") => {
            let list: Vec<Value> = config_value(p, "groups")
                .into_iter()
                .map(|g| {
                    let id = g.get("id").and_then(Value::as_str).unwrap_or_default();
                    json!({"path": dir.group(Some(id), None).map(|(_, p)| p).unwrap_or_else(|| id.to_string()), "extendChildren": g.get("extendChildren").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            c.insert("groups".into(), json!(Value::Array(list).to_string()));
        }
        _ => {}
    }
    // Exports carry no ids.
    o.remove("id");
    v
}

/// Every id-or-name a conversion of `rep` (export form or a request) may need of users: the
/// resources' owners and the user policies' entries.
pub fn user_refs(rep: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in rep
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match r.get("owner") {
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Object(o)) => {
                for k in ["id", "name"] {
                    if let Some(s) = o.get(k).and_then(Value::as_str) {
                        out.push(s.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    for p in rep
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = p
            .get("config")
            .and_then(|c| c.get("users"))
            .and_then(Value::as_str)
        {
            if let Ok(l) = serde_json::from_str::<Vec<String>>(s) {
                out.extend(l);
            }
        }
        if let Some(Value::Array(l)) = p.get("users") {
            out.extend(l.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Clients switched on and off

/// The client role a resource server's service account gets (`Constants.AUTHZ_UMA_PROTECTION`).
pub const UMA_PROTECTION: &str = "uma_protection";

/// `true`, or Jackson's coercion of `"true"`.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether a client of the realm document has Authorization Services on.
pub fn enabled(c: &crate::representation::ClientRepresentation) -> bool {
    truthy(c.extra.get("authorizationServicesEnabled"))
}

/// Gives a client its `uma_protection` role when it has none
/// (`RepresentationToModel.createResourceServer` with default roles).
pub fn ensure_uma_role(rep: &mut RealmRepresentation, client_id: &str, client_uuid: &str) {
    let roles = rep.roles.get_or_insert_with(Default::default);
    let list = roles
        .client
        .get_or_insert_with(IndexMap::new)
        .entry(client_id.to_string())
        .or_default();
    if list
        .iter()
        .any(|r| r.name.as_deref() == Some(UMA_PROTECTION))
    {
        return;
    }
    let role: crate::representation::RoleRepresentation = match serde_json::from_value(json!({
        "id": new_id(),
        "name": UMA_PROTECTION,
        "composite": false,
        "clientRole": true,
        "containerId": client_uuid,
    })) {
        Ok(r) => r,
        Err(_) => return,
    };
    list.push(role);
}

/// A user representation (JSON) with the client role `uma_protection` of `client_id` granted;
/// `None` when it has it already or does not parse.
pub fn grant_uma(user_json: &str, client_id: &str) -> Option<String> {
    let mut u: Value = serde_json::from_str(user_json).ok()?;
    let o = u.as_object_mut()?;
    let roles = o
        .entry("clientRoles")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    let list = roles
        .entry(client_id)
        .or_insert_with(|| json!([]))
        .as_array_mut()?;
    if list.iter().any(|r| r.as_str() == Some(UMA_PROTECTION)) {
        return None;
    }
    list.push(json!(UMA_PROTECTION));
    Some(u.to_string())
}

/// The resource server of a client switched on: the `authorizationSettings` given imported
/// into an empty server, or Keycloak's defaults when none are given.
pub fn switched_on(
    dir: Dir<'_>,
    client_uuid: &str,
    client_id: &str,
    settings: Option<&Map<String, Value>>,
) -> Res<Server> {
    match settings {
        Some(s) => {
            let mut server = Server::empty(client_uuid, client_id);
            import(dir, &mut server, s)?;
            Ok(server)
        }
        None => Ok(Server::with_defaults(client_uuid, client_id)),
    }
}

/// The user ids a stored server names (resource owners, user policies).
pub fn stored_user_ids(server: &Server) -> Vec<String> {
    let mut out: Vec<String> = server
        .resources
        .iter()
        .map(owner_id)
        .filter(|o| *o != server.id)
        .collect();
    for p in &server.policies {
        if matches!(p.kind.as_deref(), Some("user" | "uma")) {
            out.extend(ids(p, "users"));
        }
    }
    out
}

/// Adds each switched-on client's `authorizationSettings` (export form) to a realm export
/// (`ExportUtils.exportClient`).
pub async fn export_into(
    store: &dyn Store,
    realm_id: &str,
    rep: &RealmRepresentation,
    realm: &mut Value,
) -> Result<(), StoreError> {
    let Some(clients) = realm.get_mut("clients").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for c in clients.iter_mut().filter_map(Value::as_object_mut) {
        c.remove("authorizationSettings");
        if !truthy(c.get("authorizationServicesEnabled")) {
            continue;
        }
        let (Some(uuid), Some(client_id)) = (
            c.get("id").and_then(Value::as_str).map(str::to_string),
            c.get("clientId")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) else {
            continue;
        };
        let Some((server, _)) = load(store, realm_id, &uuid, &client_id).await? else {
            continue;
        };
        let mut users = UserDir::default();
        for id in stored_user_ids(&server) {
            if let Some(u) = store.user_by_id(realm_id, &id).await? {
                users.add(&u.id, &u.username);
            }
        }
        let dir = Dir {
            realm: rep,
            users: &users,
        };
        c.insert("authorizationSettings".into(), export(dir, &server));
    }
    Ok(())
}
