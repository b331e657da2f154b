//! The operations of `AuthenticationManagementResource` on a realm's [`AuthDoc`] and required
//! actions: plain functions, unit-tested below, each answering Keycloak's error for bad input
//! before it changes anything (the caller stores nothing when one fails).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use super::providers;
use crate::admin::{new_id, AdminError, AdminResult};
use crate::representation::authentication::{
    AuthDoc, AuthenticationExecutionExportRepresentation as Execution,
    AuthenticationFlowRepresentation as Flow, AuthenticatorConfigRepresentation as Config,
    RequiredActionProviderRepresentation as Action, FLOW_BINDINGS,
};
use crate::representation::RealmRepresentation;

/// `AuthenticationExecutionModel.Requirement`.
const REQUIREMENTS: &[&str] = &["REQUIRED", "CONDITIONAL", "ALTERNATIVE", "DISABLED"];

/// Sub-flows nest at most this deep (a cycle in a hand-written file stops here).
const MAX_DEPTH: usize = 32;

/// 404 of `GET /flows/{id}`.
pub fn no_flow_with_id() -> AdminError {
    AdminError::not_found("Could not find flow with id")
}

fn illegal_execution() -> AdminError {
    AdminError::not_found("Illegal execution")
}

fn no_config() -> AdminError {
    AdminError::not_found("Could not find authenticator config")
}

/// 404 of the required-action endpoints that change one.
pub fn no_action() -> AdminError {
    AdminError::not_found("Failed to find required action.")
}

/// A JSON object read as a representation; a field of the wrong type is a 400 naming it.
fn typed<T: serde::de::DeserializeOwned>(obj: Map<String, Value>) -> AdminResult<T> {
    serde_path_to_error::deserialize(Value::Object(obj)).map_err(|e| {
        AdminError::bad(match e.path().to_string() {
            p if p == "." || p.is_empty() => format!("invalid JSON body: {}", e.inner()),
            p => format!("invalid JSON body at {p}: {}", e.inner()),
        })
    })
}

/// A `Map<String, String>` body as Jackson reads it: numbers and booleans become text, `null`
/// stays absent, a list or object is refused.
pub fn string_map(obj: Map<String, Value>) -> AdminResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let s = match v {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(AdminError::Plain(format!(
                    "Cannot deserialize value of type `java.lang.String` from {} (through reference chain: java.util.LinkedHashMap[\"{k}\"])",
                    if v.is_array() { "Array value" } else { "Object value" }
                )))
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

fn requirement(r: Option<&str>) -> AdminResult<String> {
    match r {
        Some(r) if REQUIREMENTS.contains(&r) => Ok(r.to_string()),
        Some(r) => Err(AdminError::bad(format!(
            "No enum constant org.keycloak.models.AuthenticationExecutionModel.Requirement.{r}"
        ))),
        None => Err(AdminError::bad("requirement is missing")),
    }
}

fn sort_executions(f: &mut Flow) {
    if let Some(list) = f.authentication_executions.as_mut() {
        list.sort_by_key(|e| e.priority.unwrap_or(0));
    }
}

fn next_priority(f: &Flow) -> i64 {
    f.authentication_executions
        .iter()
        .flatten()
        .last()
        .map(|e| e.priority.unwrap_or(0) + 1)
        .unwrap_or(0)
}

fn flow_index_by_alias(d: &AuthDoc, alias: &str) -> Option<usize> {
    d.flows
        .iter()
        .position(|f| f.alias.as_deref() == Some(alias))
}

fn flow_index(d: &AuthDoc, id: &str) -> Option<usize> {
    d.flows.iter().position(|f| f.id.as_deref() == Some(id))
}

fn new_execution(
    authenticator: Option<String>,
    flow_alias: Option<String>,
    requirement: String,
    priority: i64,
) -> Execution {
    let is_flow = flow_alias.is_some();
    Execution {
        authenticator,
        authenticator_flow: Some(is_flow),
        requirement: Some(requirement),
        priority: Some(priority),
        autheticator_flow: Some(is_flow),
        flow_alias,
        user_setup_allowed: Some(false),
        id: Some(new_id()),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// Flows.

/// `AuthenticationFlowRepresentation` as the Admin API shows it (without execution ids).
pub fn flow_json(f: &Flow) -> Value {
    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
    if let Some(list) = v
        .get_mut("authenticationExecutions")
        .and_then(Value::as_array_mut)
    {
        for e in list.iter_mut().filter_map(Value::as_object_mut) {
            e.remove("id");
        }
    }
    v
}

/// A flow body.
pub fn flow_body(obj: Map<String, Value>) -> AdminResult<Flow> {
    typed(obj)
}

/// `createFlow`: a new flow (its executions in the body are ignored, as in Keycloak).
pub fn create_flow(d: &mut AuthDoc, rep: Flow) -> AdminResult<String> {
    let alias = rep.alias.clone().unwrap_or_default();
    if alias.is_empty() {
        return Err(AdminError::Conflict(
            "Failed to create flow with empty alias name".into(),
        ));
    }
    if d.flow_by_alias(&alias).is_some() {
        return Err(AdminError::Conflict(format!("Flow {alias} already exists")));
    }
    let id = new_id();
    d.flows.push(Flow {
        id: Some(id.clone()),
        alias: Some(alias),
        description: Some(rep.description.unwrap_or_default()),
        provider_id: rep.provider_id,
        top_level: Some(rep.top_level.unwrap_or(false)),
        built_in: Some(rep.built_in.unwrap_or(false)),
        authentication_executions: Some(Vec::new()),
        extra: Map::new(),
    });
    Ok(id)
}

/// A flow's alias changes: every reference by alias follows (sub-flow executions, the realm's
/// bindings, identity providers' first/post broker login flows).
fn rename_flow(d: &mut AuthDoc, realm: &mut RealmRepresentation, old: &str, new: &str) {
    for f in &mut d.flows {
        for e in f.authentication_executions.iter_mut().flatten() {
            if e.flow_alias.as_deref() == Some(old) {
                e.flow_alias = Some(new.to_string());
            }
        }
    }
    for b in FLOW_BINDINGS {
        if realm.extra.get(*b).and_then(Value::as_str) == Some(old) {
            realm.extra.insert((*b).to_string(), json!(new));
        }
    }
    if let Some(idps) = realm
        .extra
        .get_mut("identityProviders")
        .and_then(Value::as_array_mut)
    {
        for idp in idps.iter_mut().filter_map(Value::as_object_mut) {
            for k in ["firstBrokerLoginFlowAlias", "postBrokerLoginFlowAlias"] {
                if idp.get(k).and_then(Value::as_str) == Some(old) {
                    idp.insert(k.to_string(), json!(new));
                }
            }
        }
    }
}

/// `updateFlow`: alias (unique), description, provider, top-level and built-in flags as sent.
pub fn update_flow(
    d: &mut AuthDoc,
    realm: &mut RealmRepresentation,
    id: &str,
    rep: &Flow,
) -> AdminResult<()> {
    let i = flow_index(d, id).ok_or_else(no_flow_with_id)?;
    let alias = rep.alias.clone().unwrap_or_default();
    if alias.is_empty() {
        return Err(AdminError::Conflict(
            "Failed to update flow with empty alias name".into(),
        ));
    }
    let old = d.flows[i].alias.clone().unwrap_or_default();
    if old != alias {
        if d.flow_by_alias(&alias).is_some() {
            return Err(AdminError::Conflict(
                "Flow alias name already exists".into(),
            ));
        }
        rename_flow(d, realm, &old, &alias);
    }
    let f = &mut d.flows[i];
    f.alias = Some(alias);
    f.description = rep.description.clone();
    f.provider_id = rep.provider_id.clone();
    f.top_level = Some(rep.top_level.unwrap_or(false));
    f.built_in = Some(rep.built_in.unwrap_or(false));
    Ok(())
}

/// `KeycloakModelUtils.isFlowUsed`: bound to the realm, overridden by a client, or the first
/// or post broker login flow of an identity provider.
fn flow_in_use(realm: &RealmRepresentation, f: &Flow) -> bool {
    let alias = f.alias.as_deref().unwrap_or_default();
    let id = f.id.as_deref().unwrap_or_default();
    if FLOW_BINDINGS
        .iter()
        .any(|b| realm.extra.get(*b).and_then(Value::as_str) == Some(alias))
    {
        return true;
    }
    let overridden = realm.clients.iter().flatten().any(|c| {
        c.extra
            .get("authenticationFlowBindingOverrides")
            .and_then(Value::as_object)
            .is_some_and(|o| o.values().any(|v| v.as_str() == Some(id)))
    });
    overridden
        || realm
            .extra
            .get("identityProviders")
            .and_then(Value::as_array)
            .is_some_and(|idps| {
                idps.iter().any(|idp| {
                    ["firstBrokerLoginFlowAlias", "postBrokerLoginFlowAlias"]
                        .iter()
                        .any(|k| idp.get(*k).and_then(Value::as_str) == Some(alias))
                })
            })
}

/// `deepDeleteAuthenticationFlow`: the flow, its sub-flows and the configs of their
/// executions. A built-in flow anywhere in the tree refuses the whole deletion.
fn deep_delete_flow(
    d: &mut AuthDoc,
    realm: &RealmRepresentation,
    alias: &str,
    depth: usize,
) -> AdminResult<()> {
    let Some(i) = flow_index_by_alias(d, alias) else {
        // Keycloak allows deleting with missing references.
        return Ok(());
    };
    if d.flows[i].built_in == Some(true) {
        return Err(AdminError::Plain("Can't delete built in flow".into()));
    }
    if flow_in_use(realm, &d.flows[i]) {
        return Err(AdminError::bad(
            "Cannot remove authentication flow, it is currently in use",
        ));
    }
    let execs = d.flows[i]
        .authentication_executions
        .clone()
        .unwrap_or_default();
    for e in &execs {
        delete_execution_tree(d, realm, e, depth + 1)?;
    }
    d.flows.retain(|f| f.alias.as_deref() != Some(alias));
    Ok(())
}

/// `deepDeleteAuthenticationExecutor` less removing the execution itself: its sub-flow and
/// its config.
fn delete_execution_tree(
    d: &mut AuthDoc,
    realm: &RealmRepresentation,
    e: &Execution,
    depth: usize,
) -> AdminResult<()> {
    if depth > MAX_DEPTH {
        return Err(AdminError::bad("Sub-flows nest too deep"));
    }
    if let Some(sub) = &e.flow_alias {
        deep_delete_flow(d, realm, sub, depth)?;
    }
    if let Some(cfg) = &e.authenticator_config {
        d.configs
            .retain(|c| c.alias.as_deref() != Some(cfg.as_str()));
    }
    Ok(())
}

/// `deleteFlow`.
pub fn delete_flow(d: &mut AuthDoc, realm: &RealmRepresentation, id: &str) -> AdminResult<()> {
    let alias = d
        .flow(id)
        .ok_or_else(|| AdminError::not_found("Flow not found"))?
        .alias
        .clone()
        .unwrap_or_default();
    deep_delete_flow(d, realm, &alias, 0)
}

/// `copy`: the flow under `new_name`, its sub-flows as `<new_name> <alias>` and their configs
/// as `<new_name> <alias>`, nothing built in. Returns the new flow's id.
pub fn copy_flow(d: &mut AuthDoc, alias: &str, new_name: Option<&str>) -> AdminResult<String> {
    if new_name.is_some_and(|n| d.flow_by_alias(n).is_some()) {
        return Err(AdminError::Conflict(
            "New flow alias name already exists".into(),
        ));
    }
    let src = d
        .flow_by_alias(alias)
        .cloned()
        .ok_or_else(|| AdminError::not_found("Flow not found"))?;
    let new_name = new_name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AdminError::bad("newName is missing"))?;
    copy_tree(d, &src, new_name.to_string(), new_name, src.top_level, 0)
}

fn copy_tree(
    d: &mut AuthDoc,
    src: &Flow,
    alias: String,
    prefix: &str,
    top_level: Option<bool>,
    depth: usize,
) -> AdminResult<String> {
    if depth > MAX_DEPTH {
        return Err(AdminError::bad("Sub-flows nest too deep"));
    }
    if depth > 0 && d.flow_by_alias(&alias).is_some() {
        return Err(AdminError::Conflict(
            "New flow alias name already exists".into(),
        ));
    }
    let id = new_id();
    let mut execs = Vec::new();
    for e in src.authentication_executions.iter().flatten() {
        let mut e = e.clone();
        e.id = Some(new_id());
        if let Some(sub_alias) = e.flow_alias.clone() {
            if let Some(sub) = d.flow_by_alias(&sub_alias).cloned() {
                let copied = format!("{prefix} {sub_alias}");
                copy_tree(d, &sub, copied.clone(), prefix, Some(false), depth + 1)?;
                e.flow_alias = Some(copied);
            }
        }
        if let Some(cfg_alias) = e.authenticator_config.clone() {
            let cfg = d.config_by_alias(&cfg_alias).cloned().ok_or_else(|| {
                AdminError::bad("Authentication execution configuration not found")
            })?;
            let copied = format!("{prefix} {cfg_alias}");
            if d.config_by_alias(&copied).is_some() {
                return Err(AdminError::Conflict(format!(
                    "Authentication execution configuration {copied} already exists."
                )));
            }
            d.configs.push(Config {
                id: Some(new_id()),
                alias: Some(copied.clone()),
                config: cfg.config.clone(),
                extra: cfg.extra.clone(),
            });
            e.authenticator_config = Some(copied);
        }
        execs.push(e);
    }
    d.flows.push(Flow {
        id: Some(id.clone()),
        alias: Some(alias),
        description: src.description.clone(),
        provider_id: src.provider_id.clone(),
        top_level,
        built_in: Some(false),
        authentication_executions: Some(execs),
        extra: Map::new(),
    });
    Ok(id)
}

// ---------------------------------------------------------------------------------------
// Executions.

/// `GET /flows/{alias}/executions`: `AuthenticationExecutionInfoRepresentation`s, depth-first.
pub fn execution_infos(d: &AuthDoc, alias: &str) -> AdminResult<Vec<Value>> {
    let f = d
        .flow_by_alias(alias)
        .ok_or_else(|| AdminError::not_found("Flow not found"))?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    recurse(d, f, 0, &mut out, &mut seen)?;
    Ok(out)
}

fn recurse<'a>(
    d: &'a AuthDoc,
    flow: &'a Flow,
    level: usize,
    out: &mut Vec<Value>,
    seen: &mut HashSet<&'a str>,
) -> AdminResult<()> {
    let alias = flow.alias.as_deref().unwrap_or_default();
    if level > MAX_DEPTH || !seen.insert(alias) {
        return Ok(());
    }
    for (index, e) in flow.authentication_executions.iter().flatten().enumerate() {
        let mut rep = Map::new();
        rep.insert("id".into(), json!(e.id));
        rep.insert("requirement".into(), json!(e.requirement));
        let sub = if e.authenticator_flow == Some(true) {
            e.flow_alias.as_deref().and_then(|a| d.flow_by_alias(a))
        } else {
            None
        };
        if e.authenticator_flow == Some(true) {
            let (choices, form): (&[&str], bool) = match sub.and_then(|s| s.provider_id.as_deref())
            {
                Some("form-flow") => (&["REQUIRED", "DISABLED"], true),
                Some("client-flow") => (&["ALTERNATIVE", "REQUIRED", "DISABLED"], false),
                Some("basic-flow") => (
                    &["REQUIRED", "ALTERNATIVE", "DISABLED", "CONDITIONAL"],
                    false,
                ),
                _ => (&[], false),
            };
            rep.insert(
                "displayName".into(),
                json!(sub.and_then(|s| s.alias.clone()).or(e.flow_alias.clone())),
            );
            if let Some(desc) = sub.and_then(|s| s.description.clone()) {
                rep.insert("description".into(), json!(desc));
            }
            rep.insert("requirementChoices".into(), json!(choices));
            rep.insert("configurable".into(), json!(false));
            rep.insert("authenticationFlow".into(), json!(true));
            if form {
                if let Some(a) = &e.authenticator {
                    rep.insert("providerId".into(), json!(a));
                }
                if let Some(cid) = config_id(d, e) {
                    rep.insert("authenticationConfig".into(), json!(cid));
                }
            }
            if let Some(sid) = sub.and_then(|s| s.id.clone()) {
                rep.insert("flowId".into(), json!(sid));
            }
        } else {
            let provider_id = e.authenticator.clone().unwrap_or_default();
            let p = providers::configurable_factory(&provider_id)
                .ok_or_else(|| AdminError::not_found("Could not find authenticator provider"))?;
            rep.insert("displayName".into(), json!(p.display));
            rep.insert("requirementChoices".into(), json!(p.choices));
            rep.insert("configurable".into(), json!(p.configurable));
            if p.configurable {
                if let Some(c) = e
                    .authenticator_config
                    .as_deref()
                    .and_then(|a| d.config_by_alias(a))
                {
                    if let Some(a) = &c.alias {
                        rep.insert("alias".into(), json!(a));
                    }
                }
            }
            rep.insert("providerId".into(), json!(provider_id));
            if let Some(cid) = config_id(d, e) {
                rep.insert("authenticationConfig".into(), json!(cid));
            }
        }
        rep.insert("level".into(), json!(level));
        rep.insert("index".into(), json!(index));
        rep.insert("priority".into(), json!(e.priority.unwrap_or(0)));
        out.push(Value::Object(rep));
        if let Some(sub) = sub {
            recurse(d, sub, level + 1, out, seen)?;
        }
    }
    seen.remove(alias);
    Ok(())
}

fn config_id(d: &AuthDoc, e: &Execution) -> Option<String> {
    e.authenticator_config
        .as_deref()
        .and_then(|a| d.config_by_alias(a))
        .and_then(|c| c.id.clone())
}

/// The fields of `PUT /flows/{alias}/executions` acted on.
#[derive(Debug, Clone)]
pub struct Info {
    id: Option<String>,
    requirement: Option<String>,
    priority: i64,
    authentication_flow: Option<bool>,
    flow_id: Option<String>,
    display_name: Option<String>,
    description: Option<String>,
}

/// Reads an `AuthenticationExecutionInfoRepresentation` body.
pub fn info_body(obj: &Map<String, Value>) -> AdminResult<Info> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        requirement: Option<String>,
        #[serde(default, deserialize_with = "crate::representation::lenient::opt")]
        priority: Option<i64>,
        #[serde(default, deserialize_with = "crate::representation::lenient::opt")]
        authentication_flow: Option<bool>,
        #[serde(default)]
        flow_id: Option<String>,
        #[serde(default)]
        display_name: Option<String>,
        #[serde(default)]
        description: Option<String>,
    }
    let mut known = Map::new();
    for k in [
        "id",
        "requirement",
        "priority",
        "authenticationFlow",
        "flowId",
        "displayName",
        "description",
    ] {
        if let Some(v) = obj.get(k) {
            known.insert(k.to_string(), v.clone());
        }
    }
    let r: Raw = typed(known)?;
    Ok(Info {
        id: r.id,
        requirement: r.requirement,
        priority: r.priority.unwrap_or(0),
        authentication_flow: r.authentication_flow,
        flow_id: r.flow_id,
        display_name: r.display_name,
        description: r.description,
    })
}

/// `updateExecutions`: a changed priority or requirement is stored; otherwise, for a sub-flow,
/// its alias (unique) and description.
pub fn update_execution(
    d: &mut AuthDoc,
    realm: &mut RealmRepresentation,
    alias: &str,
    info: &Info,
) -> AdminResult<()> {
    if d.flow_by_alias(alias).is_none() {
        return Err(AdminError::not_found("flow not found"));
    }
    let (fi, ei) = info
        .id
        .as_deref()
        .and_then(|id| d.execution(id))
        .ok_or_else(illegal_execution)?;
    let current = d.flows[fi]
        .authentication_executions
        .as_ref()
        .map(|l| l[ei].clone());
    let current = current.ok_or_else(illegal_execution)?;
    let mut changed = false;
    let mut next = current.clone();
    if current.priority.unwrap_or(0) != info.priority {
        next.priority = Some(info.priority);
        changed = true;
    }
    if current.requirement.as_deref() != info.requirement.as_deref() {
        next.requirement = Some(requirement(info.requirement.as_deref())?);
        changed = true;
    }
    if changed {
        if let Some(list) = d.flows[fi].authentication_executions.as_mut() {
            list[ei] = next;
        }
        sort_executions(&mut d.flows[fi]);
        return Ok(());
    }
    if info.authentication_flow.is_none() {
        return Ok(());
    }
    let si = info
        .flow_id
        .as_deref()
        .and_then(|id| flow_index(d, id))
        .ok_or_else(illegal_execution)?;
    let old = d.flows[si].alias.clone().unwrap_or_default();
    let new = info.display_name.clone().unwrap_or_default();
    if new != old {
        if d.flow_by_alias(&new).is_some() {
            return Err(AdminError::Conflict(
                "Flow alias name already exists".into(),
            ));
        }
        if new.is_empty() {
            return Err(AdminError::Conflict(
                "Failed to update flow with empty alias name".into(),
            ));
        }
        rename_flow(d, realm, &old, &new);
        d.flows[si].alias = Some(new);
    }
    if d.flows[si].description != info.description {
        d.flows[si].description = info.description.clone();
    }
    Ok(())
}

fn parent_not_built_in(f: &Flow, msg: &str) -> AdminResult<()> {
    if f.built_in == Some(true) {
        return Err(AdminError::Plain(msg.to_string()));
    }
    Ok(())
}

fn priority_of(data: &Map<String, Value>, f: &Flow) -> AdminResult<i64> {
    match data.get("priority") {
        None | Some(Value::Null) => Ok(next_priority(f)),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap_or(0)),
        Some(_) => Err(AdminError::bad("priority must be an integer")),
    }
}

fn str_field<'a>(data: &'a Map<String, Value>, k: &str) -> AdminResult<Option<&'a str>> {
    match data.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AdminError::bad(format!("{k} must be a string"))),
    }
}

/// `addExecutionToFlow`: an execution of `provider` at the end of the flow, `DISABLED` unless
/// the provider allows one requirement only.
pub fn add_execution_to_flow(
    d: &mut AuthDoc,
    alias: &str,
    data: &Map<String, Value>,
) -> AdminResult<String> {
    let fi = flow_index_by_alias(d, alias)
        .ok_or_else(|| AdminError::Plain("Parent flow doesn't exist".into()))?;
    let f = &d.flows[fi];
    parent_not_built_in(f, "It is illegal to add execution to a built in flow")?;
    let provider = str_field(data, "provider")?;
    let priority = priority_of(data, f)?;
    let flow_provider = f.provider_id.as_deref().unwrap_or("basic-flow");
    let p = provider
        .and_then(|id| providers::for_flow(flow_provider, id))
        .ok_or_else(|| {
            AdminError::Plain(format!(
                "No authentication provider found for id: {}",
                provider.unwrap_or("null")
            ))
        })?;
    let req = if p.choices.len() == 1 {
        p.choices[0]
    } else {
        "DISABLED"
    };
    let e = new_execution(Some(p.id.to_string()), None, req.to_string(), priority);
    let id = e.id.clone().unwrap_or_default();
    let f = &mut d.flows[fi];
    f.authentication_executions
        .get_or_insert_with(Vec::new)
        .push(e);
    sort_executions(f);
    Ok(id)
}

/// `addExecutionFlow`: a new sub-flow (`alias`, `description`, provider `type`) and a
/// `DISABLED` execution running it. Returns the new flow's id.
pub fn add_subflow(d: &mut AuthDoc, alias: &str, data: &Map<String, Value>) -> AdminResult<String> {
    let fi = flow_index_by_alias(d, alias)
        .ok_or_else(|| AdminError::bad("Parent flow doesn't exist"))?;
    parent_not_built_in(
        &d.flows[fi],
        "It is illegal to add sub-flow to a built in flow",
    )?;
    let new_alias = str_field(data, "alias")?.map(str::to_string);
    let kind = str_field(data, "type")?.map(str::to_string);
    let provider = str_field(data, "provider")?.map(str::to_string);
    let description = str_field(data, "description")?
        .unwrap_or_default()
        .to_string();
    let priority = priority_of(data, &d.flows[fi])?;
    if new_alias
        .as_deref()
        .is_some_and(|a| d.flow_by_alias(a).is_some())
    {
        return Err(AdminError::Conflict(
            "New flow alias name already exists".into(),
        ));
    }
    let new_alias = new_alias
        .filter(|a| !a.is_empty())
        .ok_or_else(|| AdminError::bad("alias is missing"))?;
    let kind = kind.ok_or_else(|| AdminError::bad("type is missing"))?;
    let id = new_id();
    let authenticator = (kind == "form-flow").then_some(provider).flatten();
    d.flows.push(Flow {
        id: Some(id.clone()),
        alias: Some(new_alias.clone()),
        description: Some(description),
        provider_id: Some(kind),
        top_level: Some(false),
        built_in: Some(false),
        authentication_executions: Some(Vec::new()),
        extra: Map::new(),
    });
    let e = new_execution(authenticator, Some(new_alias), "DISABLED".into(), priority);
    let f = &mut d.flows[fi];
    f.authentication_executions
        .get_or_insert_with(Vec::new)
        .push(e);
    sort_executions(f);
    Ok(id)
}

/// `addExecution` (`AuthenticationExecutionRepresentation`): into the flow `parentFlow` names
/// by id; a sub-flow execution names its flow by `flowId`, a config by id.
pub fn add_execution(d: &mut AuthDoc, obj: &Map<String, Value>) -> AdminResult<String> {
    let s = |k: &str| str_field(obj, k).map(|v| v.map(str::to_string));
    let parent = s("parentFlow")?
        .ok_or_else(|| AdminError::Plain("parent flow not set on new execution".into()))?;
    let req = requirement(s("requirement")?.as_deref())?;
    let is_flow = matches!(obj.get("authenticatorFlow"), Some(Value::Bool(true)));
    let fi = flow_index(d, &parent)
        .ok_or_else(|| AdminError::Plain("execution parent flow does not exist".into()))?;
    parent_not_built_in(
        &d.flows[fi],
        "It is illegal to add execution to a built in flow",
    )?;
    let priority = priority_of(obj, &d.flows[fi])?;
    let authenticator = s("authenticator")?;
    let flow_alias = if is_flow {
        let sub = s("flowId")?
            .and_then(|id| d.flow(&id).and_then(|f| f.alias.clone()))
            .ok_or_else(|| AdminError::bad("execution sub-flow does not exist"))?;
        Some(sub)
    } else {
        let flow_provider = d.flows[fi].provider_id.as_deref().unwrap_or("basic-flow");
        if authenticator
            .as_deref()
            .and_then(|a| providers::for_flow(flow_provider, a))
            .is_none()
        {
            return Err(AdminError::Plain(format!(
                "No authentication provider found for id: {}",
                authenticator.as_deref().unwrap_or("null")
            )));
        }
        None
    };
    let config_alias = match s("authenticatorConfig")? {
        Some(cid) => Some(
            d.config(&cid)
                .and_then(|c| c.alias.clone())
                .ok_or_else(no_config)?,
        ),
        None => None,
    };
    let mut e = new_execution(authenticator, flow_alias, req, priority);
    e.authenticator_config = config_alias;
    let id = e.id.clone().unwrap_or_default();
    let f = &mut d.flows[fi];
    f.authentication_executions
        .get_or_insert_with(Vec::new)
        .push(e);
    sort_executions(f);
    Ok(id)
}

/// `AuthenticationExecutionRepresentation` of an execution.
pub fn execution_json(d: &AuthDoc, id: &str) -> AdminResult<Value> {
    let (fi, ei) = d.execution(id).ok_or_else(illegal_execution)?;
    let f = &d.flows[fi];
    let e = f
        .authentication_executions
        .as_ref()
        .map(|l| &l[ei])
        .ok_or_else(illegal_execution)?;
    let mut v = Map::new();
    if let Some(cid) = config_id(d, e) {
        v.insert("authenticatorConfig".into(), json!(cid));
    }
    if let Some(a) = &e.authenticator {
        v.insert("authenticator".into(), json!(a));
    }
    let is_flow = e.authenticator_flow == Some(true);
    v.insert("authenticatorFlow".into(), json!(is_flow));
    v.insert("requirement".into(), json!(e.requirement));
    v.insert("priority".into(), json!(e.priority.unwrap_or(0)));
    v.insert("autheticatorFlow".into(), json!(is_flow));
    v.insert("id".into(), json!(id));
    if let Some(sid) = e
        .flow_alias
        .as_deref()
        .and_then(|a| d.flow_by_alias(a))
        .and_then(|s| s.id.clone())
    {
        v.insert("flowId".into(), json!(sid));
    }
    v.insert("parentFlow".into(), json!(f.id));
    Ok(Value::Object(v))
}

/// `removeExecution`: with its sub-flow and config.
pub fn delete_execution(d: &mut AuthDoc, realm: &RealmRepresentation, id: &str) -> AdminResult<()> {
    let (fi, ei) = d.execution(id).ok_or_else(illegal_execution)?;
    parent_not_built_in(
        &d.flows[fi],
        "It is illegal to remove execution from a built in flow",
    )?;
    let e = d.flows[fi]
        .authentication_executions
        .as_ref()
        .map(|l| l[ei].clone())
        .ok_or_else(illegal_execution)?;
    delete_execution_tree(d, realm, &e, 0)?;
    for f in &mut d.flows {
        if let Some(list) = f.authentication_executions.as_mut() {
            list.retain(|x| x.id.as_deref() != Some(id));
        }
    }
    Ok(())
}

/// `raisePriority` (`up`) / `lowerPriority`: swaps the priority with the previous or next
/// execution of the flow; the first (last) stays where it is.
pub fn move_execution(d: &mut AuthDoc, id: &str, up: bool) -> AdminResult<()> {
    let (fi, ei) = d.execution(id).ok_or_else(illegal_execution)?;
    parent_not_built_in(
        &d.flows[fi],
        "It is illegal to modify execution in a built in flow",
    )?;
    let f = &mut d.flows[fi];
    let Some(list) = f.authentication_executions.as_mut() else {
        return Ok(());
    };
    let other = if up {
        match ei.checked_sub(1) {
            Some(o) => o,
            None => return Ok(()),
        }
    } else if ei + 1 < list.len() {
        ei + 1
    } else {
        return Ok(());
    };
    let (a, b) = (list[ei].priority, list[other].priority);
    list[ei].priority = b;
    list[other].priority = a;
    list.swap(ei, other);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Configs.

/// Reads an `AuthenticatorConfigRepresentation` body (`config` values as text; empty ones are
/// dropped, as `RepresentationToModel.removeEmptyString` does).
pub fn config_body(mut obj: Map<String, Value>) -> AdminResult<Config> {
    let cfg = match obj.remove("config") {
        None | Some(Value::Null) => IndexMap::new(),
        Some(Value::Object(m)) => string_map(m)?
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        Some(_) => {
            return Err(AdminError::Plain(
                "Cannot deserialize value of type `java.util.Map<java.lang.String,java.lang.String>` (through reference chain: org.keycloak.representations.idm.AuthenticatorConfigRepresentation[\"config\"])".into(),
            ))
        }
    };
    let mut c: Config = typed(obj)?;
    c.config = Some(cfg);
    Ok(c)
}

/// `AuthenticatorConfigRepresentation` of a config.
pub fn config_json(d: &AuthDoc, id: &str) -> AdminResult<Value> {
    let c = d.config(id).ok_or_else(no_config)?;
    Ok(json!({
        "id": c.id,
        "alias": c.alias,
        "config": c.config.clone().unwrap_or_default(),
    }))
}

fn alias_free(d: &AuthDoc, alias: Option<&str>, except: Option<&str>) -> AdminResult<()> {
    if let Some(a) = alias {
        if d.configs
            .iter()
            .any(|c| c.alias.as_deref() == Some(a) && c.id.as_deref() != except)
        {
            return Err(AdminError::Conflict(format!(
                "Authenticator config {a} already exists"
            )));
        }
    }
    Ok(())
}

/// `createAuthenticatorConfig`: a config linked to nothing.
pub fn add_config(d: &mut AuthDoc, mut c: Config) -> AdminResult<String> {
    alias_free(d, c.alias.as_deref(), None)?;
    let id = new_id();
    c.id = Some(id.clone());
    d.configs.push(c);
    Ok(id)
}

/// `newExecutionConfig`: a config (an alias is required) that the execution then uses.
pub fn add_execution_config(d: &mut AuthDoc, exec: &str, c: Config) -> AdminResult<String> {
    let (fi, ei) = d.execution(exec).ok_or_else(illegal_execution)?;
    let alias = c
        .alias
        .clone()
        .ok_or_else(|| AdminError::bad("Alias missing"))?;
    let id = add_config(d, c)?;
    if let Some(list) = d.flows[fi].authentication_executions.as_mut() {
        list[ei].authenticator_config = Some(alias);
    }
    Ok(id)
}

/// `updateAuthenticatorConfig`: alias and settings; executions follow a new alias.
pub fn update_config(d: &mut AuthDoc, id: &str, c: &Config) -> AdminResult<()> {
    let i = d
        .configs
        .iter()
        .position(|x| x.id.as_deref() == Some(id))
        .ok_or_else(no_config)?;
    alias_free(d, c.alias.as_deref(), Some(id))?;
    let old = d.configs[i].alias.clone();
    if old != c.alias {
        for f in &mut d.flows {
            for e in f.authentication_executions.iter_mut().flatten() {
                if old.is_some() && e.authenticator_config == old {
                    e.authenticator_config = c.alias.clone();
                }
            }
        }
    }
    d.configs[i].alias = c.alias.clone();
    d.configs[i].config = c.config.clone();
    Ok(())
}

/// `removeAuthenticatorConfig`: executions using it lose it.
pub fn delete_config(d: &mut AuthDoc, id: &str) -> AdminResult<()> {
    let alias = d.config(id).ok_or_else(no_config)?.alias.clone();
    if alias.is_some() {
        for f in &mut d.flows {
            for e in f.authentication_executions.iter_mut().flatten() {
                if e.authenticator_config == alias {
                    e.authenticator_config = None;
                }
            }
        }
    }
    d.configs.retain(|c| c.id.as_deref() != Some(id));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Required actions.

/// Keycloak's order of required actions: priority, then name.
pub fn action_order(a: &Action, b: &Action) -> Ordering {
    (a.priority.unwrap_or(0), a.name.as_deref()).cmp(&(b.priority.unwrap_or(0), b.name.as_deref()))
}

/// `RequiredActionProviderRepresentation` as `AuthenticationManagementResource.toRepresentation`
/// writes it (every field present).
pub fn action_json(a: &Action) -> Value {
    json!({
        "alias": a.alias,
        "name": a.name,
        "providerId": a.provider_id,
        "enabled": a.enabled.unwrap_or(false),
        "defaultAction": a.default_action.unwrap_or(false),
        "priority": a.priority.unwrap_or(0),
        "config": a.config.clone().unwrap_or_default(),
    })
}

/// Reads a `RequiredActionProviderRepresentation` body.
pub fn action_body(mut obj: Map<String, Value>) -> AdminResult<Action> {
    let cfg = match obj.remove("config") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(
            string_map(m)?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
        Some(_) => return Err(AdminError::bad("config must be an object")),
    };
    let mut a: Action = typed(obj)?;
    a.config = cfg;
    Ok(a)
}

/// `updateRequiredAction`: name, alias, flags, priority and config as sent (the provider stays).
pub fn update_action(list: &mut [Action], alias: &str, rep: &Action) -> AdminResult<()> {
    let i = list
        .iter()
        .position(|a| a.alias.as_deref() == Some(alias))
        .ok_or_else(|| AdminError::not_found("Failed to find required action"))?;
    let new_alias = rep.alias.clone().unwrap_or_else(|| alias.to_string());
    if new_alias != alias && list.iter().any(|a| a.alias.as_deref() == Some(&new_alias)) {
        return Err(AdminError::Conflict(format!(
            "Required action {new_alias} already exists"
        )));
    }
    let a = &mut list[i];
    a.alias = Some(new_alias);
    a.name = rep.name.clone();
    a.default_action = Some(rep.default_action.unwrap_or(false));
    a.priority = Some(rep.priority.unwrap_or(0));
    a.enabled = Some(rep.enabled.unwrap_or(false));
    a.config = Some(rep.config.clone().unwrap_or_default());
    Ok(())
}

/// `raiseRequiredActionPriority` (`up`) / `lowerRequiredActionPriority`: swaps priorities with
/// the previous or next action in Keycloak's order.
pub fn move_action(list: &mut [Action], alias: &str, up: bool) -> AdminResult<()> {
    list.sort_by(action_order);
    let i = list
        .iter()
        .position(|a| a.alias.as_deref() == Some(alias))
        .ok_or_else(no_action)?;
    let other = if up {
        match i.checked_sub(1) {
            Some(o) => o,
            None => return Ok(()),
        }
    } else if i + 1 < list.len() {
        i + 1
    } else {
        return Ok(());
    };
    let (a, b) = (list[i].priority, list[other].priority);
    list[i].priority = b;
    list[other].priority = a;
    list.swap(i, other);
    Ok(())
}

/// `registerRequiredAction`: a built-in action not yet registered, enabled, last.
pub fn register_action(list: &mut Vec<Action>, data: &BTreeMap<String, String>) -> AdminResult<()> {
    let provider = data
        .get("providerId")
        .filter(|p| providers::REQUIRED_ACTIONS.iter().any(|(id, _)| id == p))
        .ok_or_else(|| {
            AdminError::Plain("Required Action Provider with given providerId not found".into())
        })?;
    if list
        .iter()
        .any(|a| a.alias.as_deref() == Some(provider.as_str()))
    {
        return Err(AdminError::Conflict(format!(
            "Required action {provider} already exists"
        )));
    }
    list.sort_by(action_order);
    let priority = list
        .last()
        .map(|a| a.priority.unwrap_or(0) + 1)
        .unwrap_or(0);
    list.push(Action {
        alias: Some(provider.clone()),
        name: data.get("name").cloned(),
        provider_id: Some(provider.clone()),
        enabled: Some(true),
        default_action: Some(false),
        priority: Some(priority),
        config: Some(IndexMap::new()),
        extra: Map::new(),
    });
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "tests.rs"]
mod tests;
