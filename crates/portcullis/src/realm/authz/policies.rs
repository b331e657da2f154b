//! Policies and permissions: from requests and imports to the stored form, the shapes
//! Keycloak answers with, cycles, and what a deletion takes along.

use super::*;

// ---------------------------------------------------------------------------------------
// Policies

/// The types a policy may have (`policy/{type}`), permissions excluded.
pub fn is_policy_type(t: &str) -> bool {
    POLICY_PROVIDERS.iter().any(|(k, _, _)| *k == t)
}

/// The types a permission may have.
pub fn is_permission_type(t: &str) -> bool {
    matches!(t, "resource" | "scope")
}

fn config_json_list(config: &IndexMap<String, String>, key: &str) -> Res<Option<Vec<Value>>> {
    match config.get(key) {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(Some(Vec::new())),
        Some(s) => serde_json::from_str::<Vec<Value>>(s)
            .map(Some)
            .map_err(|e| runtime(format!("Could not parse [{key}] of policy config: {e}"))),
    }
}

fn as_strings(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .collect()
}

fn set_list(config: &mut IndexMap<String, String>, key: &str, ids: &[String]) {
    config.insert(key.to_string(), json!(ids).to_string());
}

/// A policy or permission from a request or an import, in the stored form.
///
/// `v` is the JSON as sent: a generic `PolicyRepresentation` (`config` with JSON-in-strings)
/// when `typed` is false, else the typed representation of `kind` (`roles`, `users`, ...).
/// Associations come from the top-level `resources`, `scopes`, `policies` when present, else
/// from the config (`RepresentationToModel.toModel(AbstractPolicyRepresentation)`), by id or
/// name. `allow_js` lets the internal `Default Policy` through (Keycloak's
/// `ALLOW_CREATE_POLICY`).
pub fn policy_in(
    dir: Dir<'_>,
    server: &Server,
    kind: &str,
    v: &Map<String, Value>,
    typed: bool,
    existing: Option<&PolicyRepresentation>,
    allow_js: bool,
) -> Res<PolicyRepresentation> {
    let name = v.get("name").and_then(Value::as_str).map(str::to_string);
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if !is_policy_type(kind) && !is_permission_type(kind) {
        return Err(runtime(format!(
            "Could find policy provider with type [{kind}]"
        )));
    }
    let mut config: IndexMap<String, String> = if typed {
        existing.and_then(|e| e.config.clone()).unwrap_or_default()
    } else {
        match v.get("config") {
            Some(Value::Object(m)) => m
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
            _ => IndexMap::new(),
        }
    };
    // Associations.
    let top = |k: &str| match v.get(k) {
        Some(Value::Array(a)) => Some(as_strings(a)),
        _ => None,
    };
    let resources = match top("resources") {
        Some(l) => Some(l),
        None => config_json_list(&config, "resources")?.map(|l| as_strings(&l)),
    };
    let scopes = match top("scopes") {
        Some(l) => Some(l),
        None => config_json_list(&config, "scopes")?.map(|l| as_strings(&l)),
    };
    let policies = match top("policies") {
        Some(l) => Some(l),
        None => config_json_list(&config, "applyPolicies")?.map(|l| as_strings(&l)),
    };
    let keep = |key: &str, config: &IndexMap<String, String>| {
        existing
            .and_then(|e| e.config.as_ref())
            .and_then(|c| c.get(key))
            .filter(|_| !config.contains_key(key))
            .cloned()
    };
    let kept = keep("resources", &config);
    set_refs(&mut config, "resources", resources, kept, |r| {
        server
            .resource_ref(r)
            .map(|x| x.id.clone().unwrap_or_default())
            .ok_or_else(|| {
                runtime(format!(
                    "Resource with id or name [{r}] does not exist or is not owned by the resource server"
                ))
            })
    })?;
    let kept = keep("scopes", &config);
    set_refs(&mut config, "scopes", scopes, kept, |s| {
        server
            .scope_ref(s)
            .map(|x| x.id.clone().unwrap_or_default())
            .ok_or_else(|| runtime(format!("Scope with id or name [{s}] does not exist")))
    })?;
    let kept = keep("applyPolicies", &config);
    set_refs(&mut config, "applyPolicies", policies, kept, |p| {
        server
            .policy_ref(p)
            .map(|x| x.id.clone().unwrap_or_default())
            .ok_or_else(|| runtime(format!("Policy with id or name [{p}] does not exist")))
    })?;
    let pname = name.clone().unwrap_or_default();
    // The provider's own settings.
    match kind {
        "role" => {
            let roles = provider_list(v, typed, &config, "roles")?;
            if let Some(roles) = roles {
                let mut out = Vec::new();
                for r in roles {
                    let (key, required) = id_and_required(&r);
                    let Some((id, _)) = dir.role(&key) else {
                        if let Some((client, _)) = key.split_once('/') {
                            if dir.client_uuid(client).is_none() {
                                return Err(runtime(format!(
                                    "Client with id [{client}] not found."
                                )));
                            }
                        }
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. Role [{key}] could not be found."
                        )));
                    };
                    out.push(json!({"id": id, "required": required}));
                }
                config.insert("roles".into(), Value::Array(out).to_string());
            }
            if typed {
                if let Some(f) = v.get("fetchRoles").and_then(Value::as_bool) {
                    config.insert("fetchRoles".into(), f.to_string());
                }
            }
        }
        "user" => {
            let users = provider_list(v, typed, &config, "users")?.map(|l| as_strings(&l));
            if let Some(users) = users {
                let mut ids = Vec::new();
                for u in users {
                    let Some(id) = dir.users.resolve(&u) else {
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. User [{u}] could not be found."
                        )));
                    };
                    ids.push(id);
                }
                set_list(&mut config, "users", &ids);
            }
        }
        "group" => {
            let groups = provider_list(v, typed, &config, "groups")?;
            if let Some(groups) = groups {
                let mut out = Vec::new();
                for g in groups {
                    let o = g.as_object().cloned().unwrap_or_default();
                    let id = o.get("id").and_then(Value::as_str);
                    let path = o.get("path").and_then(Value::as_str);
                    let Some((gid, _)) = dir.group(id, path) else {
                        return Err(runtime(format!(
                            "Group with id [{}] not found.",
                            id.or(path).unwrap_or_default()
                        )));
                    };
                    out.push(json!({"id": gid, "extendChildren": o.get("extendChildren").and_then(Value::as_bool).unwrap_or(false)}));
                }
                config.insert("groups".into(), Value::Array(out).to_string());
            }
            if typed {
                if let Some(c) = v.get("groupsClaim").and_then(Value::as_str) {
                    config.insert("groupsClaim".into(), c.to_string());
                }
            }
        }
        "client" => {
            let clients = provider_list(v, typed, &config, "clients")?.map(|l| as_strings(&l));
            if let Some(clients) = clients {
                let mut ids = Vec::new();
                for c in clients {
                    let Some((id, _)) = dir.client_uuid(&c) else {
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. Client [{c}] could not be found."
                        )));
                    };
                    ids.push(id);
                }
                set_list(&mut config, "clients", &ids);
            }
        }
        "client-scope" => {
            let scopes = provider_list(v, typed, &config, "clientScopes")?;
            if let Some(scopes) = scopes {
                let mut out = Vec::new();
                for s in scopes {
                    let (key, required) = id_and_required(&s);
                    let Some((id, _)) = dir.client_scope(&key) else {
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. Client Scope [{key}] could not be found."
                        )));
                    };
                    out.push(json!({"id": id, "required": required}));
                }
                config.insert("clientScopes".into(), Value::Array(out).to_string());
            }
        }
        "time" => {
            if typed {
                for (field, key) in TIME_FIELDS {
                    config.shift_remove(*key);
                    if let Some(s) = v.get(*field).and_then(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .or_else(|| x.as_i64().map(|i| i.to_string()))
                    }) {
                        config.insert(key.to_string(), s);
                    }
                }
            }
            for key in ["nbf", "noa"] {
                if let Some(d) = config.get(key) {
                    if !valid_time(d) {
                        return Err(runtime(format!(
                            "Could not parse a date using format [{d}]"
                        )));
                    }
                }
            }
        }
        "regex" if typed => {
            for k in ["targetClaim", "pattern"] {
                if let Some(s) = v.get(k).and_then(Value::as_str) {
                    config.insert(k.into(), s.to_string());
                }
            }
            if let Some(b) = v.get("targetContextAttributes").and_then(Value::as_bool) {
                config.insert("targetContextAttributes".into(), b.to_string());
            }
        }
        "js" => {
            if typed {
                if let Some(c) = v.get("code").and_then(Value::as_str) {
                    config.insert("code".into(), c.to_string());
                }
            }
            // `JSPolicyProviderFactory`: only deployed scripts, or the server's own Default Policy.
            if !allow_js || config.get("code").map(String::as_str) != Some(DEFAULT_POLICY_CODE) {
                return Err(runtime("Script upload is disabled"));
            }
        }
        "resource" if typed => match v.get("resourceType").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => {
                config.insert("defaultResourceType".into(), t.to_string());
            }
            _ => {
                config.shift_remove("defaultResourceType");
            }
        },
        "scope" if typed => {
            if let Some(t) = v
                .get("resourceType")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                config.insert("defaultResourceType".into(), t.to_string());
            }
        }
        _ => {}
    }
    let logic = text("logic")
        .or_else(|| existing.and_then(|e| e.logic.clone()))
        .unwrap_or_else(|| "POSITIVE".into());
    if !matches!(logic.as_str(), "POSITIVE" | "NEGATIVE") {
        return Err(AuthzError::OAuth(
            400,
            "unknown_error".into(),
            format!("Cannot parse the JSON: Cannot deserialize value of type `org.keycloak.representations.idm.authorization.Logic` from String \"{logic}\": not one of the values accepted for Enum class: [POSITIVE, NEGATIVE]"),
        ));
    }
    let strategy = text("decisionStrategy")
        .or_else(|| existing.and_then(|e| e.decision_strategy.clone()))
        .unwrap_or_else(|| "UNANIMOUS".into());
    if !matches!(strategy.as_str(), "UNANIMOUS" | "AFFIRMATIVE" | "CONSENSUS") {
        return Err(enum_mismatch(
            "decisionStrategy",
            &json!(strategy),
            &["UNANIMOUS", "AFFIRMATIVE", "CONSENSUS"],
        ));
    }
    let p = PolicyRepresentation {
        id: existing
            .and_then(|e| e.id.clone())
            .or_else(|| text("id").filter(|s| !s.is_empty() && server.policy(s).is_none()))
            .or_else(|| Some(new_id())),
        name,
        description: text("description"),
        kind: Some(kind.to_string()),
        logic: Some(logic),
        decision_strategy: Some(strategy),
        owner: text("owner").or_else(|| existing.and_then(|e| e.owner.clone())),
        config: Some(config),
        extra: Map::new(),
    };
    Ok(p)
}

/// Typed time fields and their config keys.
const TIME_FIELDS: &[(&str, &str)] = &[
    ("notBefore", "nbf"),
    ("notOnOrAfter", "noa"),
    ("dayMonth", "dayMonth"),
    ("dayMonthEnd", "dayMonthEnd"),
    ("month", "month"),
    ("monthEnd", "monthEnd"),
    ("year", "year"),
    ("yearEnd", "yearEnd"),
    ("hour", "hour"),
    ("hourEnd", "hourEnd"),
    ("minute", "minute"),
    ("minuteEnd", "minuteEnd"),
];

/// A date Keycloak's `TimePolicyProviderFactory.validateFormat` takes: `yyyy-MM-dd HH:mm:ss`
/// read by a lenient `SimpleDateFormat` (numbers of any width, out-of-range fields rolled
/// over, trailing text ignored), a plain `yyyy-MM-dd` getting ` 00:00:00`
/// (`TimePolicyProvider.format`).
pub fn valid_time(s: &str) -> bool {
    let full = if s.len() == 10 {
        format!("{s} 00:00:00")
    } else {
        s.to_string()
    };
    regex::Regex::new(r"^[+-]?\d+-[+-]?\d+-[+-]?\d+ [+-]?\d+:[+-]?\d+:[+-]?\d+")
        .map(|re| re.is_match(&full))
        .unwrap_or(false)
}

/// Checks that no aggregate policy reaches itself through its associated policies
/// (`AggregatePolicyProviderFactory.verifyCircularReference`).
pub fn check_cycles(server: &Server, changed: &PolicyRepresentation) -> Res<()> {
    fn visit(server: &Server, p: &PolicyRepresentation, path: &mut Vec<String>) -> Res<()> {
        if p.kind.as_deref() != Some("aggregate") {
            return Ok(());
        }
        let id = p.id.clone().unwrap_or_default();
        if path.contains(&id) {
            return Err(runtime(format!(
                "Circular reference found [{}].",
                p.name.as_deref().unwrap_or_default()
            )));
        }
        path.push(id);
        for a in p.config_list("applyPolicies").unwrap_or_default() {
            if let Some(next) = server.policy(&a) {
                visit(server, next, path)?;
            }
        }
        path.pop();
        Ok(())
    }
    let mut s = server.clone();
    s.upsert_policy(changed.clone());
    visit(&s, changed, &mut Vec::new())
}

fn config_out(p: &PolicyRepresentation) -> Map<String, Value> {
    p.config
        .iter()
        .flatten()
        .filter(|(k, _)| !ASSOCIATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect()
}

/// A policy as the generic endpoints answer it (`GET /policy`, `/policy/{id}`): its config
/// without the associations (Keycloak keeps those in tables of their own).
pub fn policy_json(p: &PolicyRepresentation) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        o.insert("description".into(), json!(d));
    }
    o.insert("type".into(), json!(p.kind));
    o.insert(
        "logic".into(),
        json!(p.logic.as_deref().unwrap_or("POSITIVE")),
    );
    o.insert(
        "decisionStrategy".into(),
        json!(p.decision_strategy.as_deref().unwrap_or("UNANIMOUS")),
    );
    if let Some(x) = &p.owner {
        o.insert("owner".into(), json!(x));
    }
    o.insert("config".into(), Value::Object(config_out(p)));
    Value::Object(o)
}

pub(super) fn config_value(p: &PolicyRepresentation, key: &str) -> Vec<Value> {
    p.config
        .as_ref()
        .and_then(|c| c.get(key))
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
        .unwrap_or_default()
}

/// A policy as the typed endpoints answer it (`GET /policy/{type}/{id}`, the factories'
/// `toRepresentation`).
pub fn policy_typed_json(dir: Dir<'_>, p: &PolicyRepresentation) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        o.insert("description".into(), json!(d));
    }
    let kind = p.kind.clone().unwrap_or_default();
    o.insert("type".into(), json!(kind));
    o.insert(
        "logic".into(),
        json!(p.logic.as_deref().unwrap_or("POSITIVE")),
    );
    o.insert(
        "decisionStrategy".into(),
        json!(p.decision_strategy.as_deref().unwrap_or("UNANIMOUS")),
    );
    let c = |k: &str| p.config.as_ref().and_then(|c| c.get(k)).cloned();
    match kind.as_str() {
        "role" => {
            o.insert("roles".into(), Value::Array(config_value(p, "roles")));
            if let Some(f) = c("fetchRoles") {
                o.insert("fetchRoles".into(), json!(f == "true"));
            }
        }
        "user" => {
            o.insert("users".into(), Value::Array(config_value(p, "users")));
        }
        "client" => {
            o.insert("clients".into(), Value::Array(config_value(p, "clients")));
        }
        "client-scope" => {
            o.insert(
                "clientScopes".into(),
                Value::Array(config_value(p, "clientScopes")),
            );
        }
        "group" => {
            let groups: Vec<Value> = config_value(p, "groups")
                .into_iter()
                .map(|g| {
                    let id = g.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                    let path = dir.group(Some(&id), None).map(|(_, p)| p);
                    json!({"id": id, "path": path, "extendChildren": g.get("extendChildren").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            o.insert("groups".into(), Value::Array(groups));
            if let Some(g) = c("groupsClaim") {
                o.insert("groupsClaim".into(), json!(g));
            }
        }
        "time" => {
            for (field, key) in TIME_FIELDS {
                if let Some(v) = c(key) {
                    o.insert(field.to_string(), json!(v));
                }
            }
        }
        "regex" => {
            for k in ["targetClaim", "pattern"] {
                if let Some(v) = c(k) {
                    o.insert(k.into(), json!(v));
                }
            }
            o.insert(
                "targetContextAttributes".into(),
                json!(c("targetContextAttributes").as_deref() == Some("true")),
            );
        }
        "js" => {
            if let Some(v) = c("code") {
                o.insert("code".into(), json!(v));
            }
        }
        "resource" | "scope" => {
            if let Some(v) = c("defaultResourceType") {
                o.insert("resourceType".into(), json!(v));
            }
        }
        _ => {}
    }
    Value::Object(o)
}

/// The ids in a stored policy's config list `key`.
pub fn ids(p: &PolicyRepresentation, key: &str) -> Vec<String> {
    p.config_list(key).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Deletion

/// Removes a resource and its references (`ResourceSetService.delete`): permissions lose it;
/// a resource permission left without resources and resource type goes with it.
pub fn remove_resource(server: &mut Server, id: &str) {
    server.resources.retain(|r| r.id.as_deref() != Some(id));
    drop_refs(server, "resources", id);
}

/// Removes a scope (`ScopeService.delete`, after the check that no resource uses it):
/// permissions lose it, a permission whose only scope it was goes with it.
pub fn remove_scope(server: &mut Server, id: &str) {
    server.scopes.retain(|s| s.id.as_deref() != Some(id));
    let doomed: Vec<String> = server
        .policies
        .iter()
        .filter(|p| ids(p, "scopes") == [id.to_string()])
        .filter_map(|p| p.id.clone())
        .collect();
    for d in doomed {
        remove_policy(server, &d);
    }
    drop_refs(server, "scopes", id);
}

/// Removes a policy and its references (`PolicyResourceService.delete`).
pub fn remove_policy(server: &mut Server, id: &str) {
    server.policies.retain(|p| p.id.as_deref() != Some(id));
    drop_refs(server, "applyPolicies", id);
}

/// Removes what a deleted user leaves in a resource server (Keycloak's `UserSynchronizer`):
/// the resources the user owns, each with the policies naming it alone (a policy naming
/// others only loses it), and the user from `user` policies (a policy left without users
/// goes). Their permission tickets go with the user in the store. Whether anything changed.
pub fn forget_user(server: &mut Server, user_id: &str) -> bool {
    let before = server.clone();
    let owned: Vec<String> = server
        .resources
        .iter()
        .filter(|r| owner_id(r) == user_id)
        .filter_map(|r| r.id.clone())
        .collect();
    remove_resources_with_lone_policies(server, owned);
    let mut emptied = Vec::new();
    for p in server.policies.iter_mut() {
        if p.kind.as_deref() != Some("user") {
            continue;
        }
        let users = ids(p, "users");
        if !users.iter().any(|u| u == user_id) {
            continue;
        }
        let rest: Vec<String> = users.into_iter().filter(|u| u != user_id).collect();
        if rest.is_empty() {
            emptied.extend(p.id.clone());
        } else if let Some(c) = p.config.as_mut() {
            set_list(c, "users", &rest);
        }
    }
    for pid in emptied {
        remove_policy(server, &pid);
    }
    *server != before
}

/// After the deletion of a user or group, removes from the realm's `admin-permissions` server
/// the resource named by its id (Keycloak's `AdminPermissionsSchema.removeResourceObject`): a
/// permission bound to that object alone goes with it, the others lose it. Whether anything
/// changed.
pub fn forget_object(server: &mut Server, object_id: &str) -> bool {
    let before = server.clone();
    let doomed: Vec<String> = server
        .resources
        .iter()
        .filter(|r| r.name.as_deref() == Some(object_id))
        .filter_map(|r| r.id.clone())
        .collect();
    remove_resources_with_lone_policies(server, doomed);
    *server != before
}

/// Removes the resources `rids`, and with each the permissions bound to it alone.
fn remove_resources_with_lone_policies(server: &mut Server, rids: Vec<String>) {
    for rid in rids {
        let alone: Vec<String> = server
            .policies
            .iter()
            .filter(|p| ids(p, "resources") == [rid.clone()])
            .filter_map(|p| p.id.clone())
            .collect();
        for pid in alone {
            remove_policy(server, &pid);
        }
        remove_resource(server, &rid);
    }
}

fn drop_refs(server: &mut Server, key: &str, id: &str) {
    for p in server.policies.iter_mut() {
        let list = ids(p, key);
        if list.iter().any(|x| x == id) {
            let rest: Vec<String> = list.into_iter().filter(|x| x != id).collect();
            if let Some(c) = p.config.as_mut() {
                if rest.is_empty() {
                    c.shift_remove(key);
                } else {
                    set_list(c, key, &rest);
                }
            }
        }
    }
    if key == "resources" {
        let doomed: Vec<String> = server
            .policies
            .iter()
            .filter(|p| {
                matches!(p.kind.as_deref(), Some("resource" | "uma"))
                    && ids(p, "resources").is_empty()
                    && p.config
                        .as_ref()
                        .and_then(|c| c.get("defaultResourceType"))
                        .is_none()
            })
            .filter_map(|p| p.id.clone())
            .collect();
        for d in doomed {
            remove_policy(server, &d);
        }
    }
}

/// Writes config entry `key` as the ids of the named or given `list` (removed when empty);
/// without a list, the entry `kept` from the stored policy stays.
fn set_refs(
    config: &mut IndexMap<String, String>,
    key: &str,
    list: Option<Vec<String>>,
    kept: Option<String>,
    id_of: impl Fn(&str) -> Result<String, AuthzError>,
) -> Result<(), AuthzError> {
    let Some(list) = list else {
        if let Some(k) = kept {
            config.insert(key.into(), k);
        }
        return Ok(());
    };
    let ids = list
        .iter()
        .map(|r| id_of(r))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        config.shift_remove(key);
    } else {
        set_list(config, key, &ids);
    }
    Ok(())
}

/// A provider's list setting: its typed field (`policy/{type}` bodies) or its config entry (a
/// JSON list inside a string).
fn provider_list(
    v: &serde_json::Map<String, Value>,
    typed: bool,
    config: &IndexMap<String, String>,
    key: &str,
) -> Res<Option<Vec<Value>>> {
    if typed {
        Ok(v.get(key).and_then(Value::as_array).cloned())
    } else {
        config_json_list(config, key)
    }
}

/// An entry `{"id": .., "required": ..}` of a role or client-scope policy (a bare string is
/// an id, not required).
fn id_and_required(entry: &Value) -> (String, bool) {
    match entry {
        Value::Object(o) => (
            o.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            o.get("required").and_then(Value::as_bool).unwrap_or(false),
        ),
        Value::String(s) => (s.clone(), false),
        _ => (String::new(), false),
    }
}
