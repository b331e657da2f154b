//! The evaluation of what a request asks, with Keycloak's semantics:
//! - the permissions to evaluate are built as `AuthorizationTokenService.createPermissions`
//!   and `Permissions.all` build `ResourcePermission`s;
//! - the permissions (policies of type `resource`/`scope`) that apply to each are found as
//!   `DefaultPolicyEvaluator.evaluate` queries the policy store;
//! - each permission decides from its associated policies by its `decisionStrategy`
//!   (`AbstractDecisionCollector.isGranted`), each policy's outcome inverted by a `NEGATIVE`
//!   `logic` (`DefaultEvaluation.grant`/`deny`);
//! - the results become granted scopes as `DecisionPermissionCollector.onComplete` decides.

use super::policy::Rule;
use super::{
    Asked, DecisionStrategy, EnforcementMode, Identity, Logic, Permission, ResourceServer,
};

/// An evaluation request: what is asked, and the UMA grant's response options.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// What is asked (empty or [`Asked::Everything`]: everything).
    pub asked: &'a [Asked],
    /// `response_permissions_limit`: at most this many resources are evaluated.
    pub limit: Option<usize>,
    /// `response_include_resource_name` (default `true`).
    pub include_resource_name: bool,
}

/// Evaluates `asked` for `identity` (names included, no limit).
pub fn evaluate(rs: &ResourceServer, identity: &Identity, asked: &[Asked]) -> Vec<Permission> {
    evaluate_request(
        rs,
        identity,
        &Request {
            asked,
            limit: None,
            include_resource_name: true,
        },
    )
}

/// `response_mode=decision`: `true` when anything asked is granted
/// (`AuthorizationTokenService.isGranted`: a non-empty permission list).
pub fn decision(rs: &ResourceServer, identity: &Identity, asked: &[Asked]) -> bool {
    !evaluate(rs, identity, asked).is_empty()
}

/// A `ResourcePermission`: a resource (or none, for scopes no resource has) and its scopes.
pub(crate) struct Target {
    resource: Option<usize>,
    scopes: Vec<usize>,
}

/// Evaluates a request.
pub fn evaluate_request(
    rs: &ResourceServer,
    identity: &Identity,
    req: &Request,
) -> Vec<Permission> {
    let targets = targets(rs, identity, req);
    let mut memo: Vec<Option<bool>> = vec![None; rs.policies.len()];
    let mut out: Vec<Permission> = Vec::new();
    let mut found: Vec<usize> = Vec::new();
    for t in &targets {
        let granted = evaluate_target(rs, identity, t, &mut memo, &mut found);
        if let Some(scopes) = granted {
            let p = permission(rs, t.resource, &scopes, req.include_resource_name);
            // `DecisionPermissionCollector.permissions` is a set.
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn permission(
    rs: &ResourceServer,
    resource: Option<usize>,
    scopes: &[usize],
    names: bool,
) -> Permission {
    let scopes = scopes.iter().map(|&s| rs.scopes[s].name.clone()).collect();
    match resource {
        Some(r) => Permission {
            rsid: Some(rs.resources[r].id.clone()),
            rsname: names.then(|| rs.resources[r].name.clone()),
            scopes,
            claims: Default::default(),
        },
        // Keycloak adds, for every resource having a granted scope, a permission built from
        // the *null* resource (`grantPermission` passes `resource`, not `resource1`), so
        // what comes out is one resource-less permission with the scopes.
        None => Permission {
            rsid: None,
            rsname: None,
            scopes,
            claims: Default::default(),
        },
    }
}

/// `Permissions.resolveScopes`: the asked scopes the resource has (all of them when none is
/// asked). A resource owned by a user inherits the scopes of the server's resources of its
/// type (`populateTypedScopes`).
pub(crate) fn resolve_scopes(rs: &ResourceServer, r: usize, asked: &[usize]) -> Vec<usize> {
    let res = &rs.resources[r];
    let mut scopes = res.scopes.clone();
    if let Some(kind) = &res.kind {
        if res.owner != rs.id {
            for &t in rs.resources_by_type.get(kind).into_iter().flatten() {
                if rs.resources[t].owner == rs.id {
                    for &s in &rs.resources[t].scopes {
                        if !scopes.contains(&s) {
                            scopes.push(s);
                        }
                    }
                }
            }
        }
    }
    if asked.is_empty() {
        scopes
    } else {
        scopes.retain(|s| asked.contains(s));
        scopes
    }
}

/// The `ResourcePermission`s of a request, in Keycloak's order.
fn targets(rs: &ResourceServer, identity: &Identity, req: &Request) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    let mut left = req.limit.unwrap_or(usize::MAX);
    let everything = req.asked.is_empty() || req.asked.contains(&Asked::Everything);
    if everything {
        // Permissions.all: the server's resources, then the requester's, all their scopes.
        let owners: &[&str] = if identity.id == rs.id {
            &[rs.id.as_str()]
        } else {
            &[rs.id.as_str(), identity.id.as_str()]
        };
        for &owner in owners {
            for (r, res) in rs.resources.iter().enumerate() {
                if res.owner != owner {
                    continue;
                }
                if left == 0 {
                    return out;
                }
                left -= 1;
                let own = res.scopes.clone();
                out.push(Target {
                    resource: Some(r),
                    scopes: resolve_scopes(rs, r, &own),
                });
            }
        }
        return out;
    }
    let scope_idx = |ids: &[String]| -> Vec<usize> {
        let mut v = Vec::new();
        for id in ids {
            if let Some(&i) = rs.scope_by_id.get(id) {
                if !v.contains(&i) {
                    v.push(i);
                }
            }
        }
        v
    };
    // Targets keyed as Keycloak keys `permissionsToEvaluate`: the resource id, or the scope
    // id of a resource-less one.
    let mut keys: Vec<(bool, usize)> = Vec::new();
    for a in req.asked {
        if left == 0 {
            break;
        }
        match a {
            Asked::Everything => {}
            Asked::Resource { resource, scopes } => {
                let Some(&r) = rs.resource_by_id.get(resource) else {
                    continue;
                };
                // `addPermission`: a resource already asked keeps its first scopes
                // (AuthorizationTokenService.addPermission returns the existing permission
                // unchanged).
                if keys.contains(&(true, r)) {
                    continue;
                }
                let asked = scope_idx(scopes);
                let resolved = resolve_scopes(rs, r, &asked);
                if !asked.is_empty() && resolved.is_empty() {
                    continue;
                }
                keys.push((true, r));
                out.push(Target {
                    resource: Some(r),
                    scopes: resolved,
                });
                left -= 1;
            }
            Asked::Scopes(ids) => {
                // `resolveScopePermissions`: every resource having one of the scopes; when none
                // has, one resource-less permission per scope.
                let asked = scope_idx(ids);
                let mut processed = false;
                let mut resources: Vec<usize> = Vec::new();
                for &s in &asked {
                    for &r in &rs.resources_by_scope[s] {
                        if !resources.contains(&r) {
                            resources.push(r);
                        }
                    }
                }
                resources.sort_unstable();
                for r in resources {
                    if left == 0 {
                        break;
                    }
                    processed = true;
                    if let Some(pos) = keys.iter().position(|k| *k == (true, r)) {
                        for &s in &asked {
                            if !out[pos].scopes.contains(&s) {
                                out[pos].scopes.push(s);
                            }
                        }
                    } else {
                        keys.push((true, r));
                        out.push(Target {
                            resource: Some(r),
                            scopes: resolve_scopes(rs, r, &asked),
                        });
                        left -= 1;
                    }
                }
                if !processed {
                    for &s in &asked {
                        if left == 0 {
                            break;
                        }
                        if !keys.contains(&(false, s)) {
                            keys.push((false, s));
                            out.push(Target {
                                resource: None,
                                scopes: vec![s],
                            });
                            left -= 1;
                        }
                    }
                }
            }
        }
    }
    out
}

/// The outcome of one policy for the identity, `logic` applied (memoized per request, as
/// Keycloak's `decisionCache`).
pub(crate) fn effect(
    rs: &ResourceServer,
    identity: &Identity,
    p: usize,
    memo: &mut [Option<bool>],
) -> bool {
    if let Some(e) = memo[p] {
        return e;
    }
    let policy = &rs.policies[p];
    let granted = match policy.rule {
        // AggregatePolicyProvider: its policies decide by its strategy; without any, the
        // evaluation has no effect and `denyIfNoEffect` denies.
        Rule::Aggregate | Rule::ResourcePermission | Rule::ScopePermission => {
            if policy.associated.is_empty() {
                false
            } else {
                let grants = policy
                    .associated
                    .iter()
                    .filter(|&&a| effect(rs, identity, a, memo))
                    .count();
                decide(policy.strategy, grants, policy.associated.len())
            }
        }
        ref leaf => leaf.grants(identity),
    };
    let e = granted != (policy.logic == Logic::Negative);
    memo[p] = Some(e);
    e
}

/// `AbstractDecisionCollector.isGranted`, from how many of `total` policies permit.
fn decide(strategy: DecisionStrategy, grants: usize, total: usize) -> bool {
    match strategy {
        DecisionStrategy::Affirmative => grants > 0,
        DecisionStrategy::Consensus => grants > total - grants,
        DecisionStrategy::Unanimous => grants == total,
    }
}

/// The permissions that apply to a target, in `DefaultPolicyEvaluator`'s order, once each.
fn applicable(rs: &ResourceServer, t: &Target, found: &mut Vec<usize>) {
    found.clear();
    let add = |p: usize, found: &mut Vec<usize>| {
        if !found.contains(&p) {
            found.push(p);
        }
    };
    if !t.scopes.is_empty() {
        if let Some(r) = t.resource {
            // findPolicyIdByResourceScope: permissions naming the resource and an asked scope.
            for &p in &rs.perms_by_resource[r] {
                if rs.policies[p].scopes.iter().any(|s| t.scopes.contains(s)) {
                    add(p, found);
                }
            }
        }
        // findPolicyIdByNullResourceScope.
        for &s in &t.scopes {
            for &p in &rs.perms_by_scope[s] {
                add(p, found);
            }
        }
    }
    if let Some(r) = t.resource {
        let res = &rs.resources[r];
        if let Some(kind) = &res.kind {
            // findPolicyIdByResourceType.
            for &p in rs.perms_by_type.get(kind).into_iter().flatten() {
                add(p, found);
            }
            // A user's resource: the permissions of the server's resources of its type.
            if res.owner != rs.id {
                for &typed in rs.resources_by_type.get(kind).into_iter().flatten() {
                    if rs.resources[typed].owner == rs.id {
                        for &p in &rs.perms_by_resource[typed] {
                            add(p, found);
                        }
                    }
                }
            }
        }
        // findPolicyIdByResourceNoScope: resource permissions naming the resource.
        for &p in &rs.perms_by_resource[r] {
            if rs.policies[p].scopes.is_empty() {
                add(p, found);
            }
        }
    }
}

/// Evaluates one target; `Some(granted scopes)` when a permission is granted.
fn evaluate_target(
    rs: &ResourceServer,
    identity: &Identity,
    t: &Target,
    memo: &mut [Option<bool>],
    found: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    if rs.enforcement == EnforcementMode::Disabled {
        return permit(rs, t);
    }
    let by_policies = evaluate_policies(rs, identity, t, memo, found);
    match (by_policies, ticket_grants(rs, identity, t)) {
        (p, None) => p,
        (None, Some(tickets)) => Some(tickets),
        (Some(mut p), Some(tickets)) => {
            for s in tickets {
                if !p.contains(&s) {
                    p.push(s);
                }
            }
            Some(p)
        }
    }
}

/// The scopes granted tickets give the requester on an owner-managed resource of a user
/// (`DefaultPolicyEvaluator`: granted tickets are evaluated as a permission that grants): the
/// asked scopes the tickets name, all of them for a ticket without scope. `None` when no
/// granted ticket covers what is asked.
pub(crate) fn ticket_grants(
    rs: &ResourceServer,
    identity: &Identity,
    t: &Target,
) -> Option<Vec<usize>> {
    let r = t.resource?;
    let res = &rs.resources[r];
    if !res.owner_managed || res.owner == rs.id || identity.granted_tickets.is_empty() {
        return None;
    }
    let mut scopes: Vec<usize> = Vec::new();
    let mut whole = false;
    for (rid, sid) in &identity.granted_tickets {
        if *rid != res.id {
            continue;
        }
        match sid.as_ref().and_then(|s| rs.scope_by_id.get(s)) {
            Some(&s) if t.scopes.contains(&s) && !scopes.contains(&s) => scopes.push(s),
            Some(_) => {}
            None if sid.is_none() => whole = true,
            None => {}
        }
    }
    if whole {
        return Some(t.scopes.clone());
    }
    if scopes.is_empty() {
        return None;
    }
    // The resource's scope order.
    Some(
        t.scopes
            .iter()
            .copied()
            .filter(|s| scopes.contains(s))
            .collect(),
    )
}

/// The permissions' verdict on a target, without tickets.
fn evaluate_policies(
    rs: &ResourceServer,
    identity: &Identity,
    t: &Target,
    memo: &mut [Option<bool>],
    found: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    applicable(rs, t, found);
    if found.is_empty() {
        // Nothing applies: PERMISSIVE grants, ENFORCING denies.
        return match rs.enforcement {
            EnforcementMode::Permissive => permit(rs, t),
            _ => None,
        };
    }
    // A permission without associated policies records no result (no `onDecision`).
    let results: Vec<(usize, bool)> = found
        .iter()
        .filter(|&&p| !rs.policies[p].associated.is_empty())
        .map(|&p| {
            let perm = &rs.policies[p];
            let grants = perm
                .associated
                .iter()
                .filter(|&&a| effect(rs, identity, a, memo))
                .count();
            (p, decide(perm.strategy, grants, perm.associated.len()))
        })
        .collect();
    if results.is_empty() {
        return None;
    }
    collect(rs, t, &results)
}

/// `DecisionPermissionCollector.onComplete` for a result whose status is PERMIT (granted
/// without evaluation): a resource asked without scopes while it has some is dropped.
fn permit(rs: &ResourceServer, t: &Target) -> Option<Vec<usize>> {
    if let Some(r) = t.resource {
        if t.scopes.is_empty() && !rs.resources[r].scopes.is_empty() {
            return None;
        }
    }
    Some(t.scopes.clone())
}

/// `DecisionPermissionCollector.onComplete` for an evaluated target.
fn collect(rs: &ResourceServer, t: &Target, results: &[(usize, bool)]) -> Option<Vec<usize>> {
    let requested = &t.scopes;
    let resource = t.resource.map(|r| &rs.resources[r]);
    let mut granted: Vec<usize> = Vec::new();
    let mut denied: Vec<usize> = Vec::new();
    let mut denied_typed: Vec<usize> = Vec::new();
    let mut resource_granted = false;
    let mut any_deny = false;
    let push = |v: &mut Vec<usize>, s: usize| {
        if !v.contains(&s) {
            v.push(s);
        }
    };
    for &(p, ok) in results {
        let policy = &rs.policies[p];
        let contains_resource = t.resource.is_some_and(|r| policy.resources.contains(&r));
        let is_scope = matches!(policy.rule, Rule::ScopePermission);
        let is_resource = matches!(policy.rule, Rule::ResourcePermission);
        if ok {
            if is_scope {
                for &s in requested {
                    if policy.scopes.contains(&s) {
                        push(&mut granted, s);
                        // A scope the resource does not have itself (inherited from its
                        // type) is granted even if another permission denied it.
                        if resource.is_some_and(|r| !r.scopes.contains(&s)) {
                            denied.retain(|d| *d != s);
                        }
                    }
                }
            } else if is_resource {
                for &s in requested {
                    push(&mut granted, s);
                }
            }
            if !resource_granted {
                // isGrantingAccessToResource: a scope permission grants the resource only
                // when the resource is a user's.
                let grants_resource = !is_scope || resource.is_some_and(|r| r.owner != rs.id);
                resource_granted = grants_resource && contains_resource;
            }
        } else {
            if is_resource {
                // Denies every requested scope when it names the resource, or when no
                // resource permission granted the resource so far.
                if contains_resource || !resource_granted {
                    let typed = policy.resource_type.is_some()
                        || policy.resources.first().is_some_and(|&r| {
                            rs.resources[r].kind.is_some() && rs.resources[r].owner == rs.id
                        });
                    for &s in requested {
                        if typed {
                            push(&mut denied_typed, s);
                        } else {
                            push(&mut denied, s);
                        }
                    }
                }
            } else if contains_resource || policy.resources.is_empty() {
                for &s in &policy.scopes {
                    push(&mut denied, s);
                }
            }
            any_deny = true;
        }
    }
    // Only AFFIRMATIVE is looked at: the server's CONSENSUS behaves as UNANIMOUS
    // (DecisionPermissionCollector.onComplete).
    if rs.strategy == DecisionStrategy::Affirmative {
        denied.retain(|s| !granted.contains(s));
    }
    if resource_granted {
        denied_typed.retain(|s| !granted.contains(s));
        for s in denied_typed.clone() {
            push(&mut denied, s);
        }
    }
    if denied.is_empty() {
        denied = denied_typed;
    }
    granted.retain(|s| !denied.contains(s));
    if !resource_granted && granted.is_empty() && !requested.is_empty() {
        return None;
    }
    if any_deny && granted.is_empty() {
        return None;
    }
    // Keep the resource's scope order rather than the order of grants.
    let mut ordered: Vec<usize> = requested
        .iter()
        .copied()
        .filter(|s| granted.contains(s))
        .collect();
    for s in granted {
        if !ordered.contains(&s) {
            ordered.push(s);
        }
    }
    if t.resource.is_none() && ordered.is_empty() {
        return None;
    }
    Some(ordered)
}

/// One policy's part in a decision, for the admin evaluation tool
/// (`PolicyEvaluationResponse.PolicyResultRepresentation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTrace {
    /// Policy id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `type`.
    pub kind: String,
    /// Description.
    pub description: Option<String>,
    /// `decisionStrategy`.
    pub strategy: DecisionStrategy,
    /// Whether it granted (a permission: by its strategy; a policy: `logic` applied).
    pub granted: bool,
    /// Names of the resources it names.
    pub resources: Vec<String>,
    /// Names of the scopes it names.
    pub scopes: Vec<String>,
    /// Its associated policies' parts.
    pub associated: Vec<PolicyTrace>,
}

/// One evaluated `ResourcePermission` (`EvaluationResultRepresentation` before grouping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetTrace {
    /// (id, name) of the resource; none for scopes no resource has.
    pub resource: Option<(String, String)>,
    /// Its own scope names, for a resource permission's `scopes`.
    pub resource_scopes: Vec<String>,
    /// (id, name) of the scopes evaluated.
    pub scopes: Vec<(String, String)>,
    /// (id, name) of the granted scopes; `None` when denied.
    pub granted: Option<Vec<(String, String)>>,
    /// The permissions that applied.
    pub policies: Vec<PolicyTrace>,
}

/// [`evaluate`] with its reasons: per target, the permissions that applied, each with its
/// associated policies and their outcomes (Keycloak's `EvaluationDecisionCollector`).
pub fn evaluate_traced(
    rs: &ResourceServer,
    identity: &Identity,
    asked: &[Asked],
) -> Vec<TargetTrace> {
    let req = Request {
        asked,
        limit: None,
        include_resource_name: true,
    };
    let mut memo: Vec<Option<bool>> = vec![None; rs.policies.len()];
    let mut found: Vec<usize> = Vec::new();
    let pair = |s: usize| (rs.scopes[s].id.clone(), rs.scopes[s].name.clone());
    let mut out = Vec::new();
    for t in targets(rs, identity, &req) {
        let granted = evaluate_target(rs, identity, &t, &mut memo, &mut found);
        applicable(rs, &t, &mut found);
        let policies = found
            .clone()
            .into_iter()
            .filter(|&p| !rs.policies[p].associated.is_empty())
            .map(|p| trace(rs, identity, p, true, &mut memo, 0))
            .collect();
        out.push(TargetTrace {
            resource: t
                .resource
                .map(|r| (rs.resources[r].id.clone(), rs.resources[r].name.clone())),
            resource_scopes: t
                .resource
                .map(|r| {
                    rs.resources[r]
                        .scopes
                        .iter()
                        .map(|&s| rs.scopes[s].name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            scopes: t.scopes.iter().map(|&s| pair(s)).collect(),
            granted: granted.map(|g| g.into_iter().map(pair).collect()),
            policies,
        });
    }
    out
}

/// The trace of permission `p` for `identity`, with its associated policies.
pub fn trace_permission(rs: &ResourceServer, identity: &Identity, p: usize) -> PolicyTrace {
    let mut memo: Vec<Option<bool>> = vec![None; rs.policies.len()];
    trace(rs, identity, p, true, &mut memo, 0)
}

/// A policy's trace; `permission`: decided by its strategy over its associated policies
/// (as [`evaluate_target`]) rather than by [`effect`].
fn trace(
    rs: &ResourceServer,
    identity: &Identity,
    p: usize,
    permission: bool,
    memo: &mut [Option<bool>],
    depth: usize,
) -> PolicyTrace {
    let policy = &rs.policies[p];
    let granted = if permission {
        let grants = policy
            .associated
            .iter()
            .filter(|&&a| effect(rs, identity, a, memo))
            .count();
        decide(policy.strategy, grants, policy.associated.len())
    } else {
        effect(rs, identity, p, memo)
    };
    // Aggregates cannot form cycles (refused when saved); the bound is a guard.
    let associated = if depth < 16 {
        policy
            .associated
            .iter()
            .map(|&a| trace(rs, identity, a, false, memo, depth + 1))
            .collect()
    } else {
        Vec::new()
    };
    PolicyTrace {
        id: policy.id.clone(),
        name: policy.name.clone(),
        kind: policy.kind.clone(),
        description: policy.description.clone(),
        strategy: policy.strategy,
        granted,
        resources: policy
            .resources
            .iter()
            .map(|&r| rs.resources[r].name.clone())
            .collect(),
        scopes: policy
            .scopes
            .iter()
            .map(|&s| rs.scopes[s].name.clone())
            .collect(),
        associated,
    }
}
