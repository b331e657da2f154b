//! [`ResourceServer::compile`]: from the stored `ResourceServerRepresentation` (ids
//! everywhere, policy `config` values JSON inside strings) to indexed, typed rules. Anything
//! the evaluation could not decide on is refused here, so evaluation itself cannot fail.

use std::collections::HashMap;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::policy::{parse_date_time, Rule, TimeRule};
use super::PathMatcher;
use super::{DecisionStrategy, EnforcementMode, Logic, Policy, Resource, ResourceServer, Scope};
use crate::representation::authz::{PolicyRepresentation, ResourceServerRepresentation};

/// Why a resource server could not be compiled. Each names the policy (or resource) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A setting holds a value Keycloak does not know.
    #[error("invalid {field}: {value}")]
    InvalidSetting {
        /// The field (`policyEnforcementMode`, `decisionStrategy`, `logic`).
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A policy's `config` value is malformed.
    #[error("policy [{policy}]: invalid config {key}: {reason}")]
    InvalidConfig {
        /// Policy name.
        policy: String,
        /// Config key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A reference (policy, resource, scope id) points nowhere.
    #[error("{owner}: unknown {kind} [{id}]")]
    UnknownReference {
        /// The policy or resource holding the reference.
        owner: String,
        /// `policy`, `resource` or `scope`.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// A policy type this server does not evaluate (`uma`, deployed scripts, custom
    /// providers).
    #[error("policy [{policy}]: unsupported policy type [{kind}]")]
    UnsupportedType {
        /// Policy name.
        policy: String,
        /// Its type.
        kind: String,
    },
    /// A `js` policy other than Keycloak's default one: script upload is disabled.
    #[error("policy [{policy}]: Script upload is disabled")]
    ScriptUploadDisabled {
        /// Policy name.
        policy: String,
    },
    /// Aggregate policies that include each other.
    #[error("policies form a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// Two entries share an id, or a policy name is repeated.
    #[error("duplicate {kind} [{id}]")]
    Duplicate {
        /// `resource`, `scope` or `policy`.
        kind: &'static str,
        /// The id or name.
        id: String,
    },
}

#[derive(Deserialize)]
struct IdRequired {
    id: String,
    #[serde(default)]
    required: Option<Value>,
}

#[derive(Deserialize)]
struct GroupDef {
    id: Option<String>,
    #[serde(default, rename = "extendChildren")]
    extend_children: Option<Value>,
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn strategy(s: Option<&str>) -> Result<DecisionStrategy, CompileError> {
    match s.map(str::trim) {
        None | Some("") | Some("UNANIMOUS") => Ok(DecisionStrategy::Unanimous),
        Some("AFFIRMATIVE") => Ok(DecisionStrategy::Affirmative),
        Some("CONSENSUS") => Ok(DecisionStrategy::Consensus),
        Some(other) => Err(CompileError::InvalidSetting {
            field: "decisionStrategy",
            value: other.into(),
        }),
    }
}

/// The owner id of a resource: `{"id": ..}`, a plain string, or absent (the server).
fn owner_id(v: Option<&Value>, server: &str) -> String {
    match v {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => server.to_string(),
        },
        _ => server.to_string(),
    }
}

impl ResourceServer {
    /// Compiles the stored form of a resource server (see
    /// `representation/authz.rs`). `rep.id` is the resource server's id (the client's UUID).
    pub fn compile(rep: &ResourceServerRepresentation) -> Result<ResourceServer, CompileError> {
        let id = rep.id.clone().unwrap_or_default();
        let enforcement = match rep.policy_enforcement_mode.as_deref().map(str::trim) {
            None | Some("") | Some("ENFORCING") => EnforcementMode::Enforcing,
            Some("PERMISSIVE") => EnforcementMode::Permissive,
            Some("DISABLED") => EnforcementMode::Disabled,
            Some(other) => {
                return Err(CompileError::InvalidSetting {
                    field: "policyEnforcementMode",
                    value: other.into(),
                })
            }
        };
        let mut rs = ResourceServer {
            strategy: strategy(rep.decision_strategy.as_deref())?,
            id,
            enforcement,
            resources: Vec::new(),
            scopes: Vec::new(),
            policies: Vec::new(),
            resource_by_id: HashMap::new(),
            resources_by_name: HashMap::new(),
            resources_by_type: HashMap::new(),
            resources_by_uri: HashMap::new(),
            uri_matcher: PathMatcher::new(Vec::new()),
            scope_by_id: HashMap::new(),
            scope_by_name: HashMap::new(),
            resources_by_scope: Vec::new(),
            perms_by_resource: Vec::new(),
            perms_by_scope: Vec::new(),
            perms_by_type: HashMap::new(),
        };

        for s in rep.scopes.iter().flatten() {
            let name = s.name.clone().unwrap_or_default();
            let sid = s.id.clone().unwrap_or_else(|| name.clone());
            if rs.scope_by_id.contains_key(&sid) {
                return Err(CompileError::Duplicate {
                    kind: "scope",
                    id: sid,
                });
            }
            let i = rs.scopes.len();
            rs.scope_by_id.insert(sid.clone(), i);
            rs.scope_by_name.insert(name.clone(), i);
            rs.scopes.push(Scope { id: sid, name });
        }
        rs.resources_by_scope = vec![Vec::new(); rs.scopes.len()];

        for r in rep.resources.iter().flatten() {
            let name = r.name.clone().unwrap_or_default();
            let rid = r.id.clone().unwrap_or_else(|| name.clone());
            if rs.resource_by_id.contains_key(&rid) {
                return Err(CompileError::Duplicate {
                    kind: "resource",
                    id: rid,
                });
            }
            let mut scopes = Vec::new();
            for s in r.scopes.iter().flatten() {
                let found =
                    s.id.as_ref()
                        .and_then(|id| rs.scope_by_id.get(id))
                        .or_else(|| s.name.as_ref().and_then(|n| rs.scope_by_name.get(n)));
                match found {
                    Some(&si) if !scopes.contains(&si) => scopes.push(si),
                    Some(_) => {}
                    None => {
                        return Err(CompileError::UnknownReference {
                            owner: format!("resource [{name}]"),
                            kind: "scope",
                            id: s.id.clone().or_else(|| s.name.clone()).unwrap_or_default(),
                        })
                    }
                }
            }
            let i = rs.resources.len();
            for &si in &scopes {
                rs.resources_by_scope[si].push(i);
            }
            let kind = r.kind.clone().filter(|k| !k.is_empty());
            if let Some(k) = &kind {
                rs.resources_by_type.entry(k.clone()).or_default().push(i);
            }
            rs.resource_by_id.insert(rid.clone(), i);
            rs.resources_by_name
                .entry(name.clone())
                .or_default()
                .push(i);
            rs.resources.push(Resource {
                id: rid,
                owner: owner_id(r.owner.as_ref(), &rs.id),
                name,
                kind,
                uris: r.uris.clone().unwrap_or_default(),
                scopes,
                owner_managed: r.owner_managed_access == Some(true),
            });
        }
        let mut uris: Vec<(String, usize)> = Vec::new();
        for (i, r) in rs.resources.iter().enumerate() {
            for u in &r.uris {
                let same = rs.resources_by_uri.entry(u.clone()).or_default();
                if same.is_empty() {
                    uris.push((u.clone(), i));
                }
                same.push(i);
            }
        }
        rs.uri_matcher = PathMatcher::new(uris);
        rs.perms_by_resource = vec![Vec::new(); rs.resources.len()];
        rs.perms_by_scope = vec![Vec::new(); rs.scopes.len()];

        let reps: Vec<&PolicyRepresentation> = rep.policies.iter().flatten().collect();
        let mut policy_by_id: HashMap<String, usize> = HashMap::new();
        for (i, p) in reps.iter().enumerate() {
            let pid =
                p.id.clone()
                    .unwrap_or_else(|| p.name.clone().unwrap_or_default());
            if policy_by_id.insert(pid.clone(), i).is_some() {
                return Err(CompileError::Duplicate {
                    kind: "policy",
                    id: pid,
                });
            }
        }
        for p in &reps {
            let compiled = compile_policy(p, &rs, &policy_by_id)?;
            rs.policies.push(compiled);
        }
        // A user-managed (`uma`) permission: one associated rule per role, group, client and
        // user it names, as the policies `UMAPolicyProviderFactory` creates for each.
        for (i, p) in reps.iter().enumerate() {
            if p.kind.as_deref() == Some("uma") {
                for child in uma_children(p)? {
                    let ci = rs.policies.len();
                    rs.policies.push(child);
                    rs.policies[i].associated.push(ci);
                }
            }
        }
        if let Some(cycle) = find_cycle(&rs.policies) {
            return Err(CompileError::Cycle(cycle));
        }

        // The indexes the policy store's queries answer from (`PolicyEntity`'s named queries).
        for (pi, p) in rs.policies.iter().enumerate() {
            if !p.rule.is_permission() {
                continue;
            }
            for &r in &p.resources {
                rs.perms_by_resource[r].push(pi);
            }
            if p.resources.is_empty() && p.resource_type.is_none() {
                for &s in &p.scopes {
                    rs.perms_by_scope[s].push(pi);
                }
            }
            if let Some(t) = &p.resource_type {
                rs.perms_by_type.entry(t.clone()).or_default().push(pi);
            }
        }
        Ok(rs)
    }
}

fn config<'a>(p: &'a PolicyRepresentation, key: &str) -> Option<&'a str> {
    p.config
        .as_ref()
        .and_then(|c| c.get(key))
        .map(String::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn json_list<T: for<'de> Deserialize<'de>>(
    p: &PolicyRepresentation,
    key: &str,
) -> Result<Vec<T>, CompileError> {
    match config(p, key) {
        None => Ok(Vec::new()),
        Some(s) => serde_json::from_str(s).map_err(|e| CompileError::InvalidConfig {
            policy: p.name.clone().unwrap_or_default(),
            key: key.into(),
            reason: e.to_string(),
        }),
    }
}

fn compile_policy(
    p: &PolicyRepresentation,
    rs: &ResourceServer,
    policy_by_id: &HashMap<String, usize>,
) -> Result<Policy, CompileError> {
    let name = p.name.clone().unwrap_or_default();
    let kind = p.kind.clone().unwrap_or_default();
    let invalid = |key: &str, reason: String| CompileError::InvalidConfig {
        policy: name.clone(),
        key: key.into(),
        reason,
    };
    let logic = match p.logic.as_deref().map(str::trim) {
        None | Some("") | Some("POSITIVE") => Logic::Positive,
        Some("NEGATIVE") => Logic::Negative,
        Some(other) => {
            return Err(CompileError::InvalidSetting {
                field: "logic",
                value: other.into(),
            })
        }
    };
    let rule = match kind.as_str() {
        "role" => {
            let roles: Vec<IdRequired> = json_list(p, "roles")?;
            Rule::Role {
                roles: roles
                    .into_iter()
                    .map(|r| (r.id, truthy(r.required.as_ref())))
                    .collect(),
                fetch_roles: config(p, "fetchRoles").is_some_and(|v| v.trim() == "true"),
            }
        }
        "user" => Rule::User(json_list(p, "users")?),
        "group" => {
            let groups: Vec<GroupDef> = json_list(p, "groups")?;
            Rule::Group {
                groups: groups
                    .into_iter()
                    .filter_map(|g| Some((g.id?, truthy(g.extend_children.as_ref()))))
                    .collect(),
                claim: config(p, "groupsClaim").map(str::to_string),
            }
        }
        "client" => Rule::Client(json_list(p, "clients")?),
        "client-scope" => {
            let scopes: Vec<IdRequired> = json_list(p, "clientScopes")?;
            Rule::ClientScope(
                scopes
                    .into_iter()
                    .map(|s| (s.id, truthy(s.required.as_ref())))
                    .collect(),
            )
        }
        "regex" => {
            let claim = config(p, "targetClaim")
                .ok_or_else(|| invalid("targetClaim", "missing".into()))?
                .to_string();
            let pattern =
                config(p, "pattern").ok_or_else(|| invalid("pattern", "missing".into()))?;
            // `Matcher.matches()`: the whole value must match.
            let pattern = Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| invalid("pattern", e.to_string()))?;
            Rule::Regex {
                claim,
                pattern,
                context: config(p, "targetContextAttributes").is_some_and(|v| v.trim() == "true"),
            }
        }
        "time" => Rule::Time(time_rule(p, &invalid)?),
        "js" => {
            if is_default_script(config(p, "code").unwrap_or_default()) {
                Rule::GrantAll
            } else {
                return Err(CompileError::ScriptUploadDisabled { policy: name });
            }
        }
        "aggregate" => Rule::Aggregate,
        "resource" => Rule::ResourcePermission,
        // A user-managed permission decides as a scope permission does
        // (`UMAPolicyProvider extends AbstractPermissionProvider`).
        "scope" | "uma" => Rule::ScopePermission,
        other => {
            return Err(CompileError::UnsupportedType {
                policy: name,
                kind: other.into(),
            })
        }
    };

    let unknown = |kind: &'static str, id: String| CompileError::UnknownReference {
        owner: format!("policy [{name}]"),
        kind,
        id,
    };
    let mut associated = Vec::new();
    for id in json_list::<String>(p, "applyPolicies")? {
        let i = *policy_by_id
            .get(&id)
            .ok_or_else(|| unknown("policy", id.clone()))?;
        if !associated.contains(&i) {
            associated.push(i);
        }
    }
    let mut resources = Vec::new();
    let mut scopes = Vec::new();
    let mut resource_type = None;
    if rule.is_permission() {
        for id in json_list::<String>(p, "resources")? {
            let i = *rs
                .resource_by_id
                .get(&id)
                .ok_or_else(|| unknown("resource", id.clone()))?;
            if !resources.contains(&i) {
                resources.push(i);
            }
        }
        for id in json_list::<String>(p, "scopes")? {
            let i = *rs
                .scope_by_id
                .get(&id)
                .ok_or_else(|| unknown("scope", id.clone()))?;
            if !scopes.contains(&i) {
                scopes.push(i);
            }
        }
        resource_type = config(p, "defaultResourceType").map(str::to_string);
    }
    Ok(Policy {
        id: p.id.clone().unwrap_or_default(),
        kind: p.kind.clone().unwrap_or_default(),
        description: p.description.clone(),
        name,
        logic,
        strategy: strategy(p.decision_strategy.as_deref())?,
        rule,
        associated,
        resources,
        scopes,
        resource_type,
    })
}

/// The associated rules of a `uma` policy (its `roles`, `groups`, `clients`, `users`).
fn uma_children(p: &PolicyRepresentation) -> Result<Vec<Policy>, CompileError> {
    let name = p.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut push = |suffix: &str, rule: Rule| {
        out.push(Policy {
            id: String::new(),
            kind: suffix.to_string(),
            description: None,
            name: format!("{name}/{suffix}"),
            logic: Logic::Positive,
            strategy: DecisionStrategy::Unanimous,
            rule,
            associated: Vec::new(),
            resources: Vec::new(),
            scopes: Vec::new(),
            resource_type: None,
        })
    };
    for id in json_list::<String>(p, "roles")? {
        push(
            "role",
            Rule::Role {
                roles: vec![(id, false)],
                fetch_roles: false,
            },
        );
    }
    for id in json_list::<String>(p, "groups")? {
        push(
            "group",
            Rule::Group {
                groups: vec![(id, false)],
                claim: None,
            },
        );
    }
    for id in json_list::<String>(p, "clients")? {
        push("client", Rule::Client(vec![id]));
    }
    for id in json_list::<String>(p, "users")? {
        push("user", Rule::User(vec![id]));
    }
    Ok(out)
}

fn time_rule(
    p: &PolicyRepresentation,
    invalid: &dyn Fn(&str, String) -> CompileError,
) -> Result<TimeRule, CompileError> {
    let date = |key: &str| -> Result<Option<i64>, CompileError> {
        config(p, key)
            .map(|v| {
                parse_date_time(v).ok_or_else(|| {
                    invalid(key, format!("Could not parse a date using format [{v}]"))
                })
            })
            .transpose()
    };
    let int = |key: &str| -> Result<Option<i64>, CompileError> {
        config(p, key)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(key, format!("not a number: [{v}]")))
            })
            .transpose()
    };
    let range = |key: &str| -> Result<Option<(i64, Option<i64>)>, CompileError> {
        let end = int(&format!("{key}End"))?;
        Ok(int(key)?.map(|start| (start, end)))
    };
    let rule = TimeRule {
        not_before: date("nbf")?,
        not_on_or_after: date("noa")?,
        day_month: range("dayMonth")?,
        month: range("month")?,
        year: range("year")?,
        hour: range("hour")?,
        minute: range("minute")?,
    };
    if let (Some(nbf), Some(noa)) = (rule.not_before, rule.not_on_or_after) {
        if noa < nbf {
            return Err(invalid(
                "noa",
                "Expire time can't be set to a date before start time".into(),
            ));
        }
    }
    Ok(rule)
}

/// Keycloak's "Default Policy" (`ResourceServerService`): `$evaluation.grant();` after an
/// optional line comment. It is the only script this server runs; Keycloak too refuses to
/// upload others (`Script upload is disabled`).
fn is_default_script(code: &str) -> bool {
    let body: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    body == "$evaluation.grant();" || body == "$evaluation.grant()"
}

/// A cycle among the associated policies, as the names along it, or `None`.
fn find_cycle(policies: &[Policy]) -> Option<Vec<String>> {
    let edges: Vec<Vec<usize>> = policies.iter().map(|p| p.associated.clone()).collect();
    cycle_in(&edges).map(|c| c.into_iter().map(|i| policies[i].name.clone()).collect())
}

fn cycle_in(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&child) = edges[node].get(*next) {
                *next += 1;
                match state.get(child).copied() {
                    Some(0) => {
                        state[child] = 1;
                        stack.push((child, 0));
                    }
                    Some(1) => {
                        let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                        cycle.push(child);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    None
}

/// For the admin side, before it saves: the names of policies that would include each other
/// through `applyPolicies` (stored form, ids), or `None`. Pass every policy of the resource
/// server with the new or changed one in place. References to unknown ids are ignored here.
pub fn aggregate_cycle(policies: &[PolicyRepresentation]) -> Option<Vec<String>> {
    let ids: HashMap<String, usize> = policies
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.id.clone().map(|id| (id, i)))
        .collect();
    let edges: Vec<Vec<usize>> = policies
        .iter()
        .map(|p| {
            p.config_list("applyPolicies")
                .unwrap_or_default()
                .iter()
                .filter_map(|id| ids.get(id).copied())
                .collect()
        })
        .collect();
    cycle_in(&edges).map(|c| {
        c.into_iter()
            .map(|i| policies[i].name.clone().unwrap_or_default())
            .collect()
    })
}
