//! User-managed permissions (`uma` policies, the Protection API's `uma-policy`): Keycloak's
//! `UmaPermissionRepresentation` in and out (`UMAPolicyProviderFactory`). Keycloak keeps each
//! named role, group, client and user as a policy of its own associated to the `uma` one; here
//! the `uma` policy keeps them in its `config` (`roles`, `groups`, `clients`, `users`: JSON
//! lists of ids) and the policy engine evaluates one associated rule per entry, as Keycloak's
//! associated policies. A `condition` (a JavaScript policy) is refused: script upload is
//! disabled.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use super::{new_id, owner_id, AuthzError, Dir, Res, Server};
use crate::representation::authz::{PolicyRepresentation, ResourceRepresentation};

/// The config keys holding a `uma` policy's identities.
pub const UMA_IDENTITY_KEYS: &[&str] = &["roles", "groups", "clients", "users"];

fn invalid(m: impl Into<String>) -> AuthzError {
    AuthzError::OAuth(400, "invalid_request".into(), m.into())
}

fn names(v: &Map<String, Value>, key: &str) -> Res<Option<Vec<String>>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for x in a {
                match x.as_str() {
                    Some(s) if !out.iter().any(|o: &String| o == s) => out.push(s.to_string()),
                    Some(_) => {}
                    None => return Err(invalid(format!("Invalid value for [{key}]"))),
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(invalid(format!("Invalid value for [{key}]"))),
    }
}

/// `UserManagedPermissionService.checkRequest`: the resource exists, belongs to the caller
/// and is owner-managed, and the server allows remote management.
pub fn uma_check_resource<'a>(
    server: &'a Server,
    resource_id: &str,
    caller: &str,
) -> Res<&'a ResourceRepresentation> {
    let r = server
        .resource(resource_id)
        .ok_or_else(|| invalid(format!("Resource [{resource_id}] cannot be found")))?;
    if owner_id(r) != caller {
        return Err(invalid(format!(
            "Only resource owner can access policies for resource [{resource_id}]"
        )));
    }
    if r.owner_managed_access != Some(true) {
        return Err(invalid(
            "Only resources with owner managed accessed can have policies",
        ));
    }
    if server.settings.get("allowRemoteResourceManagement") == Some(&Value::Bool(false)) {
        return Err(AuthzError::OAuth(
            403,
            "request_not_supported".into(),
            format!(
                "Remote Resource Management not enabled on resource server [{}]",
                server.id
            ),
        ));
    }
    Ok(r)
}

/// A `uma` policy from an `UmaPermissionRepresentation` (create, or update of `existing`):
/// scopes by name among the resource's (none: all of them), roles by name (`client/role` for
/// a client role), groups by path, clients by `clientId`, users by username or id.
pub fn uma_policy_in(
    dir: Dir<'_>,
    server: &Server,
    resource_id: &str,
    owner: &str,
    v: &Map<String, Value>,
    existing: Option<&PolicyRepresentation>,
) -> Res<PolicyRepresentation> {
    let r = uma_check_resource(server, resource_id, owner)?;
    if let Some(list) = names(v, "resources")? {
        if !list.is_empty() && (list.len() != 1 || list[0] != resource_id) {
            return Err(invalid(match existing {
                Some(_) => "Uma permission resource cannot be changed",
                None => "Invalid resource",
            }));
        }
    }
    if v.get("condition").is_some_and(|c| !c.is_null()) {
        return Err(invalid("Script upload is disabled"));
    }
    let resource_scopes: Vec<(String, String)> = r
        .scopes
        .iter()
        .flatten()
        .filter_map(|s| server.scope(s.id.as_deref()?))
        .filter_map(|s| Some((s.id.clone()?, s.name.clone()?)))
        .collect();
    let asked = names(v, "scopes")?.unwrap_or_default();
    let scopes: Vec<String> = if asked.is_empty() {
        resource_scopes.iter().map(|(id, _)| id.clone()).collect()
    } else {
        let mut out = Vec::new();
        for s in &asked {
            match resource_scopes.iter().find(|(_, n)| n == s) {
                Some((id, _)) => out.push(id.clone()),
                None => {
                    let set: BTreeSet<&String> = asked.iter().collect();
                    return Err(invalid(format!(
                        "Some of the scopes [{}] are not valid for resource [{resource_id}]",
                        set.into_iter().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        out
    };
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| existing.and_then(|e| e.name.clone()))
        .unwrap_or_default();
    if name.trim().is_empty() {
        return Err(invalid("Policy name cannot be empty"));
    }
    let mut config: IndexMap<String, String> = IndexMap::new();
    config.insert("resources".into(), json!([resource_id]).to_string());
    config.insert("scopes".into(), json!(scopes).to_string());
    let keep = |key: &str| {
        existing
            .and_then(|e| e.config.as_ref())
            .and_then(|c| c.get(key))
            .cloned()
    };
    let mut put = |key: &str, ids: Option<Vec<String>>| {
        match ids {
            Some(ids) if !ids.is_empty() => {
                config.insert(key.into(), json!(ids).to_string());
            }
            Some(_) => {}
            None => {
                if let Some(k) = keep(key) {
                    config.insert(key.into(), k);
                }
            }
        };
    };
    let roles = match names(v, "roles")? {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|n| {
                    dir.role(n).map(|(id, _)| id).ok_or_else(|| {
                        AuthzError::Runtime(format!(
                            "Error while importing configuration. Role [{n}] could not be found."
                        ))
                    })
                })
                .collect::<Res<Vec<_>>>()?,
        ),
    };
    put("roles", roles);
    let groups = match names(v, "groups")? {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|p| {
                    dir.group(None, Some(p)).map(|(id, _)| id).ok_or_else(|| {
                        AuthzError::Runtime(format!("Group with path [{p}] not found"))
                    })
                })
                .collect::<Res<Vec<_>>>()?,
        ),
    };
    put("groups", groups);
    let clients = match names(v, "clients")? {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|c| {
                    dir.client_uuid(c)
                        .map(|(id, _)| id)
                        .ok_or_else(|| AuthzError::Runtime(format!("Client [{c}] not found")))
                })
                .collect::<Res<Vec<_>>>()?,
        ),
    };
    put("clients", clients);
    let users = match names(v, "users")? {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|u| {
                    dir.users
                        .resolve(u)
                        .ok_or_else(|| AuthzError::Runtime(format!("User [{u}] not found.")))
                })
                .collect::<Res<Vec<_>>>()?,
        ),
    };
    put("users", users);
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| match k {
                "description" => existing.and_then(|e| e.description.clone()),
                "logic" => existing.and_then(|e| e.logic.clone()),
                _ => existing.and_then(|e| e.decision_strategy.clone()),
            })
    };
    let logic = text("logic").unwrap_or_else(|| "POSITIVE".into());
    if !matches!(logic.as_str(), "POSITIVE" | "NEGATIVE") {
        return Err(invalid(format!("Invalid logic [{logic}]")));
    }
    let strategy = text("decisionStrategy").unwrap_or_else(|| "AFFIRMATIVE".into());
    if !matches!(strategy.as_str(), "UNANIMOUS" | "AFFIRMATIVE" | "CONSENSUS") {
        return Err(invalid(format!("Invalid decision strategy [{strategy}]")));
    }
    let taken = server
        .policies
        .iter()
        .any(|p| p.name.as_deref() == Some(name.as_str()) && existing.is_none_or(|e| e.id != p.id));
    if taken {
        return Err(AuthzError::OAuth(
            409,
            "invalid_request".into(),
            format!("Policy with name [{name}] already exists"),
        ));
    }
    Ok(PolicyRepresentation {
        id: existing
            .and_then(|e| e.id.clone())
            .or_else(|| Some(new_id())),
        name: Some(name),
        description: text("description"),
        kind: Some("uma".into()),
        logic: Some(logic),
        decision_strategy: Some(strategy),
        owner: Some(owner.to_string()),
        config: Some(config),
        ..Default::default()
    })
}

/// A `uma` policy as `UMAPolicyProviderFactory.toRepresentation` answers it.
pub fn uma_policy_json(dir: Dir<'_>, server: &Server, p: &PolicyRepresentation) -> Value {
    let list = |k: &str| super::ids(p, k);
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        o.insert("description".into(), json!(d));
    }
    o.insert("type".into(), json!("uma"));
    let scopes: Vec<String> = list("scopes")
        .iter()
        .filter_map(|id| server.scope(id).and_then(|s| s.name.clone()))
        .collect();
    o.insert("scopes".into(), json!(scopes));
    o.insert(
        "logic".into(),
        json!(p.logic.as_deref().unwrap_or("POSITIVE")),
    );
    o.insert(
        "decisionStrategy".into(),
        json!(p.decision_strategy.as_deref().unwrap_or("AFFIRMATIVE")),
    );
    if let Some(owner) = &p.owner {
        o.insert("owner".into(), json!(owner));
    }
    let roles: Vec<String> = list("roles")
        .iter()
        .filter_map(|id| dir.role_by_id(id))
        .collect();
    let groups: Vec<String> = list("groups")
        .iter()
        .filter_map(|id| dir.group(Some(id), None).map(|(_, p)| p))
        .collect();
    let clients: Vec<String> = list("clients")
        .iter()
        .filter_map(|id| dir.client_id_of(id))
        .collect();
    let users: Vec<String> = list("users")
        .iter()
        .filter_map(|id| dir.users.by_id.get(id).cloned())
        .collect();
    for (k, v) in [
        ("roles", roles),
        ("groups", groups),
        ("clients", clients),
        ("users", users),
    ] {
        if !v.is_empty() {
            o.insert(k.into(), json!(v));
        }
    }
    Value::Object(o)
}
