//! Fine-grained admin permissions (Keycloak 26.2+'s FGAP v2): may an administrator do an
//! operation (a scope of a resource type) on one object (a user, a group, ...)?
//!
//! The permissions are scope permissions of the realm's `admin-permissions` resource server,
//! each of a resource type (`Users`, `Groups`, ...) and bound either to objects (resources
//! named by the object's id) or to all objects of the type (the resource named as the type).
//! Keycloak's rules (`FineGrainedAdminPermissionEvaluator`, `FGAPEvaluation`,
//! `UserResourceTypePolicyEvaluator`):
//! - scopes are independent: `manage` does not give `view`;
//! - a user's groups lend their permissions through aliases (`view-members` gives the
//!   members `view`, `manage-members` `manage`, ...), the direct groups first, then their
//!   ancestors for the scopes the direct groups say nothing about, then the all-`Groups`
//!   permissions when the user is in a group;
//! - every permission that applies votes: one whose policies do not grant the caller is a
//!   denial. A denial bound to the object or one of its groups always wins; an all-objects
//!   denial of the type loses only to a grant bound to the object itself; an all-`Groups`
//!   denial loses to any grant counted before it.

use super::evaluate::{effect, TargetTrace};
use super::{Identity, ResourceServer};

/// The resource type of users.
pub const USERS: &str = "Users";
/// The resource type of groups.
pub const GROUPS: &str = "Groups";
/// The resource type of clients.
pub const CLIENTS: &str = "Clients";
/// Organizations (Keycloak 26.6+).
pub const ORGANIZATIONS: &str = "Organizations";
/// The resource type of roles.
pub const ROLES: &str = "Roles";

/// The schema: each resource type with its scopes (`AdminPermissionsSchema`).
pub const SCHEMA: &[(&str, &[&str])] = &[
    (
        USERS,
        &[
            "manage",
            "view",
            "impersonate",
            "map-roles",
            "manage-group-membership",
            "reset-password",
        ],
    ),
    (
        GROUPS,
        &[
            "manage",
            "view",
            "manage-membership",
            "manage-members",
            "view-members",
            "impersonate-members",
            "manage-membership-of-members",
        ],
    ),
    (
        CLIENTS,
        &[
            "manage",
            "view",
            "map-roles",
            "map-roles-client-scope",
            "map-roles-composite",
        ],
    ),
    (
        ROLES,
        &["map-role", "map-role-client-scope", "map-role-composite"],
    ),
    (ORGANIZATIONS, &["manage", "view"]),
];

/// The scopes of a resource type, or `None` for a type the schema does not have.
pub fn scopes_of(kind: &str) -> Option<&'static [&'static str]> {
    SCHEMA.iter().find(|(k, _)| *k == kind).map(|(_, s)| *s)
}

/// The schema as Keycloak's `AuthorizationSchema` serializes it: per resource type, its
/// scopes, the group scopes that stand in for them, and the type of its groups.
pub fn schema_json() -> serde_json::Value {
    let mut types = serde_json::Map::new();
    for (kind, scopes) in SCHEMA {
        let mut t = serde_json::json!({"type": kind, "scopes": scopes, "scopeAliases": {}});
        if *kind == USERS {
            let aliases: serde_json::Map<String, serde_json::Value> = scopes
                .iter()
                .filter_map(|s| member_alias(s).map(|a| (s.to_string(), serde_json::json!([a]))))
                .collect();
            t["scopeAliases"] = serde_json::Value::Object(aliases);
            t["groupType"] = serde_json::json!(GROUPS);
        }
        types.insert(kind.to_string(), t);
    }
    serde_json::json!({"resourceTypes": types})
}

/// The group scope that gives a user scope to the group's members (the `Users` type's
/// `scopeAliases`).
fn member_alias(user_scope: &str) -> Option<&'static str> {
    match user_scope {
        "view" => Some("view-members"),
        "manage" => Some("manage-members"),
        "impersonate" => Some("impersonate-members"),
        "manage-group-membership" => Some("manage-membership-of-members"),
        _ => None,
    }
}

/// The object a permission is asked for.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a> {
    /// Its resource type.
    pub kind: &'a str,
    /// Its id.
    pub id: &'a str,
    /// For a user: per group it is a direct member of, the group's id then its ancestors'
    /// ids, nearest first.
    pub groups: &'a [Vec<String>],
}

/// Where an applicable permission comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Bound to the object itself.
    Object,
    /// Bound to a group of the user (or an ancestor of one).
    Group,
    /// Bound to all groups.
    AllGroups,
    /// Bound to all objects of the type.
    AllOfType,
}

/// The permissions of `kind` bound to the resource named `name` that name `scope`.
fn bound(rs: &ResourceServer, kind: &str, name: &str, scope: &str, out: &mut Vec<usize>) {
    for &r in rs.resources_by_name.get(name).into_iter().flatten() {
        if rs.resources[r].kind.as_deref() != Some(kind) {
            continue;
        }
        for &p in &rs.perms_by_resource[r] {
            let policy = &rs.policies[p];
            let names_scope = policy.scopes.iter().any(|&s| rs.scopes[s].name == scope);
            if names_scope && policy.resource_type.as_deref() == Some(kind) && !out.contains(&p) {
                out.push(p);
            }
        }
    }
}

/// Whether the caller (`identity`) has `scope` on `object`.
pub fn granted(rs: &ResourceServer, identity: &Identity, object: Object<'_>, scope: &str) -> bool {
    decide(rs, identity, &applicable(rs, object, scope))
}

/// The permissions that speak of `scope` on `object`, in evaluation order, each with where it
/// comes from.
fn applicable(rs: &ResourceServer, object: Object<'_>, scope: &str) -> Vec<(usize, Source)> {
    let mut applicable: Vec<(usize, Source)> = Vec::new();
    let mut found = Vec::new();
    let push = |found: &mut Vec<usize>, source: Source, into: &mut Vec<(usize, Source)>| {
        for p in found.drain(..) {
            if !into.iter().any(|(q, _)| *q == p) {
                into.push((p, source));
            }
        }
    };
    bound(rs, object.kind, object.id, scope, &mut found);
    push(&mut found, Source::Object, &mut applicable);
    if object.kind == USERS && !object.groups.is_empty() {
        if let Some(alias) = member_alias(scope) {
            for chain in object.groups {
                // The nearest group that has a permission for the scope speaks for the chain.
                for group in chain {
                    bound(rs, GROUPS, group, alias, &mut found);
                    if !found.is_empty() {
                        push(&mut found, Source::Group, &mut applicable);
                        break;
                    }
                }
            }
            bound(rs, GROUPS, GROUPS, alias, &mut found);
            push(&mut found, Source::AllGroups, &mut applicable);
        }
    }
    if object.id != object.kind {
        bound(rs, object.kind, object.kind, scope, &mut found);
        push(&mut found, Source::AllOfType, &mut applicable);
    }
    applicable
}

/// The evaluation tool's answer for `object` (Keycloak's `PolicyEvaluationService` on the
/// `admin-permissions` server): each of `scopes` (the type's when empty) decided as the Admin
/// API decides it, with the permissions that applied.
pub fn evaluate_object(
    rs: &ResourceServer,
    identity: &Identity,
    object: Object<'_>,
    scopes: &[String],
) -> TargetTrace {
    let type_scopes: Vec<String> = scopes_of(object.kind)
        .unwrap_or_default()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let asked = if scopes.is_empty() {
        &type_scopes
    } else {
        scopes
    };
    let pair = |name: &str| {
        let id = rs
            .scopes
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        (id, name.to_string())
    };
    let mut granted = Vec::new();
    let mut seen: Vec<usize> = Vec::new();
    for scope in asked {
        let found = applicable(rs, object, scope);
        if decide(rs, identity, &found) {
            granted.push(pair(scope));
        }
        for (p, _) in found {
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
    }
    let resource_id = rs
        .resources_by_name
        .get(object.id)
        .into_iter()
        .flatten()
        .find(|&&r| rs.resources[r].kind.as_deref() == Some(object.kind))
        .map_or_else(|| object.id.to_string(), |&r| rs.resources[r].id.clone());
    TargetTrace {
        resource: Some((resource_id, object.id.to_string())),
        resource_scopes: type_scopes.clone(),
        scopes: asked.iter().map(|s| pair(s)).collect(),
        granted: (!granted.is_empty()).then_some(granted),
        policies: seen
            .into_iter()
            .map(|p| super::evaluate::trace_permission(rs, identity, p))
            .collect(),
    }
}

/// Whether the caller has `scope` on every object of `kind` (the all-objects permissions
/// alone: "may view users" for a list).
pub fn granted_for_all(rs: &ResourceServer, identity: &Identity, kind: &str, scope: &str) -> bool {
    let mut found = Vec::new();
    bound(rs, kind, kind, scope, &mut found);
    let applicable: Vec<(usize, Source)> = found.into_iter().map(|p| (p, Source::Object)).collect();
    decide(rs, identity, &applicable)
}

/// The votes of the applicable permissions, in evaluation order (`FGAPEvaluation`).
fn decide(rs: &ResourceServer, identity: &Identity, applicable: &[(usize, Source)]) -> bool {
    let mut memo: Vec<Option<bool>> = vec![None; rs.policies.len()];
    let (mut granted, mut granted_by_object, mut denied) = (false, false, false);
    for &(p, source) in applicable {
        if effect(rs, identity, p, &mut memo) {
            granted = true;
            granted_by_object |= source == Source::Object;
            continue;
        }
        denied |= match source {
            Source::Object | Source::Group => true,
            Source::AllOfType => !granted_by_object,
            Source::AllGroups => !granted,
        };
    }
    granted && !denied
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    //! Keycloak's `UserResourceTypeEvaluationSpecTest` cases: alice in group-0, bob in
    //! group-1, jdoe in no group; `admin` asks for `manage`.
    use serde_json::{json, Value};

    use super::*;
    use crate::representation::authz::ResourceServerRepresentation;

    fn resource(kind: &str, name: &str) -> Value {
        json!({"_id": format!("r-{name}"), "name": name, "type": kind,
               "owner": {"id": "rs"}, "scopes": []})
    }

    /// A permission of `kind` on `objects` (names of resources) for `manage`-like scopes;
    /// `allow`: its policy grants the admin, else it names someone else.
    fn perm(id: &str, kind: &str, objects: &[&str], scopes: &[&str], allow: bool) -> Value {
        let resources: Vec<String> = objects.iter().map(|o| format!("r-{o}")).collect();
        let policy = if allow { "p-admin" } else { "p-other" };
        json!({"id": id, "name": id, "type": "scope", "logic": "POSITIVE",
               "decisionStrategy": "UNANIMOUS",
               "config": {"resources": json!(resources).to_string(),
                          "scopes": json!(scopes).to_string(),
                          "applyPolicies": json!([policy]).to_string(),
                          "defaultResourceType": kind}})
    }

    fn server(perms: Vec<Value>) -> ResourceServer {
        let mut resources = vec![
            resource(USERS, USERS),
            resource(GROUPS, GROUPS),
            resource(GROUPS, "group-0"),
            resource(GROUPS, "group-1"),
            resource(USERS, "alice"),
            resource(USERS, "jdoe"),
        ];
        resources.dedup();
        let mut policies = vec![
            json!({"id": "p-admin", "name": "p-admin", "type": "user", "logic": "POSITIVE",
                   "decisionStrategy": "UNANIMOUS", "config": {"users": "[\"admin\"]"}}),
            json!({"id": "p-other", "name": "p-other", "type": "user", "logic": "POSITIVE",
                   "decisionStrategy": "UNANIMOUS", "config": {"users": "[\"other\"]"}}),
        ];
        policies.extend(perms);
        let scopes: Vec<Value> = ["view", "manage", "view-members", "manage-members"]
            .iter()
            .map(|s| json!({"id": s, "name": s}))
            .collect();
        let rep: ResourceServerRepresentation = serde_json::from_value(json!({
            "id": "rs", "clientId": "admin-permissions",
            "policyEnforcementMode": "ENFORCING", "decisionStrategy": "UNANIMOUS",
            "resources": resources, "scopes": scopes, "policies": policies
        }))
        .unwrap();
        ResourceServer::compile(&rep).unwrap()
    }

    /// Who the admin may `manage` of alice, bob and jdoe.
    fn manageable(perms: Vec<Value>) -> Vec<&'static str> {
        let rs = server(perms);
        let admin = Identity {
            id: "admin".into(),
            ..Identity::default()
        };
        let users: [(&str, Vec<Vec<String>>); 3] = [
            ("alice", vec![vec!["group-0".into()]]),
            ("bob", vec![vec!["group-1".into()]]),
            ("jdoe", vec![]),
        ];
        users
            .iter()
            .filter(|(id, groups)| {
                let object = Object {
                    kind: USERS,
                    id,
                    groups,
                };
                granted(&rs, &admin, object, "manage")
            })
            .map(|(id, _)| *id)
            .collect()
    }

    const M: &[&str] = &["manage"];
    const MM: &[&str] = &["manage-members"];

    #[test]
    fn the_truth_table_of_keycloaks_evaluation_spec() {
        assert!(manageable(vec![]).is_empty());
        assert_eq!(
            manageable(vec![perm("a", GROUPS, &[GROUPS], MM, true)]),
            ["alice", "bob"]
        );
        assert_eq!(
            manageable(vec![perm("a", GROUPS, &["group-0"], MM, true)]),
            ["alice"]
        );
        assert_eq!(
            manageable(vec![
                perm("a", GROUPS, &["group-0"], MM, true),
                perm("d", GROUPS, &[GROUPS], MM, false)
            ]),
            ["alice"]
        );
        assert_eq!(
            manageable(vec![
                perm("d", GROUPS, &["group-0"], MM, false),
                perm("a", GROUPS, &[GROUPS], MM, true)
            ]),
            ["bob"]
        );
        assert_eq!(
            manageable(vec![perm("a", USERS, &[USERS], M, true)]),
            ["alice", "bob", "jdoe"]
        );
        assert_eq!(
            manageable(vec![
                perm("a", USERS, &[USERS], M, true),
                perm("d", GROUPS, &[GROUPS], MM, false)
            ]),
            ["jdoe"]
        );
        assert!(manageable(vec![
            perm("d", USERS, &[USERS], M, false),
            perm("a", GROUPS, &["group-0"], MM, true)
        ])
        .is_empty());
        assert_eq!(
            manageable(vec![
                perm("a", USERS, &["alice"], M, true),
                perm("g", GROUPS, &[GROUPS], MM, true)
            ]),
            ["alice", "bob"]
        );
        assert!(manageable(vec![
            perm("a", USERS, &["alice"], M, true),
            perm("d", GROUPS, &["group-0"], MM, false)
        ])
        .is_empty());
        assert_eq!(
            manageable(vec![
                perm("a", USERS, &["alice"], M, true),
                perm("d", USERS, &[USERS], M, false)
            ]),
            ["alice"]
        );
        assert_eq!(
            manageable(vec![
                perm("a", USERS, &[USERS], M, true),
                perm("d", USERS, &["alice", "jdoe"], M, false)
            ]),
            ["bob"]
        );
    }

    #[test]
    fn scopes_are_independent_and_members_need_the_member_scope() {
        // `manage` on everyone gives no `view`; `view-members` gives members `view` only.
        let rs = server(vec![
            perm("a", USERS, &[USERS], M, true),
            perm("g", GROUPS, &["group-0"], &["view-members"], true),
        ]);
        let admin = Identity {
            id: "admin".into(),
            ..Identity::default()
        };
        let groups = vec![vec!["group-0".to_string()]];
        let alice = Object {
            kind: USERS,
            id: "alice",
            groups: &groups,
        };
        assert!(granted(&rs, &admin, alice, "view"));
        assert!(granted(&rs, &admin, alice, "manage"));
        let jdoe = Object {
            kind: USERS,
            id: "jdoe",
            groups: &[],
        };
        assert!(!granted(&rs, &admin, jdoe, "view"));
        assert!(granted_for_all(&rs, &admin, USERS, "manage"));
        assert!(!granted_for_all(&rs, &admin, USERS, "view"));
        // An ancestor's permission reaches the members of its subgroups.
        let nested = vec![vec!["child".to_string(), "group-0".to_string()]];
        let carol = Object {
            kind: USERS,
            id: "carol",
            groups: &nested,
        };
        assert!(granted(&rs, &admin, carol, "view"));
    }
}
