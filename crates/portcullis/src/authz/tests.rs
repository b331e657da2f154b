//! Unit tests of the evaluation: each policy type, logic, the strategies at both levels, the
//! enforcement modes, typed permissions, time ranges, cycles, the `permission` parameter and
//! URI matching. Resource servers are written in the stored form (ids, JSON-in-string config).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use serde_json::{json, Value};

use super::*;
use crate::representation::authz::{PolicyRepresentation, ResourceServerRepresentation};

const RS: &str = "11111111-rs00-0000-0000-000000000000";

fn server(v: Value) -> ResourceServer {
    let rep: ResourceServerRepresentation = serde_json::from_value(v).unwrap();
    ResourceServer::compile(&rep).unwrap()
}

fn compile_err(v: Value) -> CompileError {
    let rep: ResourceServerRepresentation = serde_json::from_value(v).unwrap();
    ResourceServer::compile(&rep).unwrap_err()
}

fn cfg(pairs: &[(&str, Value)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in pairs {
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        m.insert((*k).into(), Value::String(s));
    }
    Value::Object(m)
}

fn policy(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": format!("{id}-name"), "type": kind, "logic": "POSITIVE",
           "decisionStrategy": "UNANIMOUS", "config": config})
}

fn role_policy(id: &str, roles: &[(&str, bool)]) -> Value {
    let roles: Vec<Value> = roles
        .iter()
        .map(|(r, req)| json!({"id": r, "required": req}))
        .collect();
    policy(id, "role", cfg(&[("roles", json!(roles))]))
}

fn negative(mut p: Value) -> Value {
    p["logic"] = json!("NEGATIVE");
    p
}

fn with_strategy(mut p: Value, s: &str) -> Value {
    p["decisionStrategy"] = json!(s);
    p
}

fn scope_perm(id: &str, resources: &[&str], scopes: &[&str], policies: &[&str]) -> Value {
    policy(
        id,
        "scope",
        cfg(&[
            ("resources", json!(resources)),
            ("scopes", json!(scopes)),
            ("applyPolicies", json!(policies)),
        ]),
    )
}

fn resource_perm(id: &str, resources: &[&str], policies: &[&str]) -> Value {
    policy(
        id,
        "resource",
        cfg(&[
            ("resources", json!(resources)),
            ("applyPolicies", json!(policies)),
        ]),
    )
}

fn typed_perm(id: &str, kind: &str, policies: &[&str]) -> Value {
    policy(
        id,
        "resource",
        cfg(&[
            ("defaultResourceType", json!(kind)),
            ("applyPolicies", json!(policies)),
        ]),
    )
}

fn scope(id: &str) -> Value {
    json!({"id": id, "name": id})
}

fn resource(id: &str, scopes: &[&str]) -> Value {
    let scopes: Vec<Value> = scopes.iter().map(|s| scope(s)).collect();
    json!({"_id": id, "name": id, "owner": {"id": RS}, "scopes": scopes})
}

fn rs_json(resources: Vec<Value>, scopes: &[&str], policies: Vec<Value>) -> Value {
    let scopes: Vec<Value> = scopes.iter().map(|s| scope(s)).collect();
    json!({"id": RS, "clientId": "api", "policyEnforcementMode": "ENFORCING",
           "decisionStrategy": "UNANIMOUS", "resources": resources, "scopes": scopes,
           "policies": policies})
}

fn user(roles: &[&str]) -> Identity {
    Identity {
        id: "user-1".into(),
        token_role_ids: std::sync::Arc::new(roles.iter().map(|r| r.to_string()).collect()),
        time: 1_700_000_000,
        ..Identity::default()
    }
}

fn res(id: &str, scopes: &[&str]) -> Asked {
    Asked::Resource {
        resource: id.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

/// `(rsid, sorted scopes)` of each granted permission.
fn granted(
    rs: &ResourceServer,
    id: &Identity,
    asked: &[Asked],
) -> Vec<(Option<String>, Vec<String>)> {
    evaluate(rs, id, asked)
        .into_iter()
        .map(|p| {
            let mut s = p.scopes;
            s.sort();
            (p.rsid, s)
        })
        .collect()
}

fn one(rsid: &str, scopes: &[&str]) -> Vec<(Option<String>, Vec<String>)> {
    vec![(
        Some(rsid.into()),
        scopes.iter().map(|s| s.to_string()).collect(),
    )]
}

// ---------------------------------------------------------------------------------------
// The seed's example (000_46731ad9c89b300f.txt, "2) Authorization Services example").

const ADMIN_ROLE: &str = "role-tenant-admin-id";
const MEMBER_ROLE: &str = "role-tenant-member-id";

fn seed() -> ResourceServer {
    seed_with("AFFIRMATIVE")
}

/// The seed's `permissions.json` sets no `decisionStrategy` on its read permissions, so
/// Keycloak stores its default, UNANIMOUS: every policy listed must permit.
fn seed_with(read_strategy: &str) -> ResourceServer {
    let mut resources = Vec::new();
    for (id, name, kind) in [
        ("res-event", "event", "urn:resource:event"),
        ("res-ticket", "ticket", "urn:resource:ticket"),
        ("res-order", "order", "urn:resource:order"),
    ] {
        resources.push(json!({"_id": id, "name": name, "type": kind, "owner": {"id": RS}}));
    }
    let names = [
        "event:read",
        "event:manage",
        "ticket:read",
        "ticket:manage",
        "order:read",
        "order:manage",
    ];
    let scopes: Vec<Value> = names
        .iter()
        .map(|n| json!({"id": format!("sc-{n}"), "name": n}))
        .collect();
    let mut policies = vec![
        json!({"id": "pol-admin", "name": "policy-tenant-admin", "type": "role",
               "logic": "POSITIVE", "decisionStrategy": "UNANIMOUS",
               "config": {"roles": format!("[{{\"id\":\"{ADMIN_ROLE}\",\"required\":false}}]")}}),
        json!({"id": "pol-member", "name": "policy-tenant-member", "type": "role",
               "logic": "POSITIVE", "decisionStrategy": "UNANIMOUS",
               "config": {"roles": format!("[{{\"id\":\"{MEMBER_ROLE}\",\"required\":false}}]")}}),
    ];
    for thing in ["event", "ticket", "order"] {
        policies.push(
            json!({"id": format!("perm-{thing}-manage"), "name": format!("{thing}-manage"),
            "type": "scope", "logic": "POSITIVE", "decisionStrategy": "UNANIMOUS",
            "config": {"scopes": format!("[\"sc-{thing}:manage\"]"),
                       "applyPolicies": "[\"pol-admin\"]"}}),
        );
        // Two policies, one of which suffices (the example's intent: a member or an admin
        // reads) only with AFFIRMATIVE.
        policies.push(
            json!({"id": format!("perm-{thing}-read"), "name": format!("{thing}-read"),
            "type": "scope", "logic": "POSITIVE", "decisionStrategy": read_strategy,
            "config": {"scopes": format!("[\"sc-{thing}:read\"]"),
                       "applyPolicies": "[\"pol-admin\",\"pol-member\"]"}}),
        );
    }
    server(
        json!({"id": RS, "clientId": "event-api", "policyEnforcementMode": "ENFORCING",
                  "decisionStrategy": "UNANIMOUS", "resources": resources, "scopes": scopes,
                  "policies": policies}),
    )
}

fn ask(rs: &ResourceServer, who: &Identity, perms: &[&str]) -> Vec<Permission> {
    let perms: Vec<String> = perms.iter().map(|s| s.to_string()).collect();
    let asked = resolve_permissions(rs, &who.id, &perms, None, ResourceFormat::Id).unwrap();
    evaluate(rs, who, &asked)
}

#[test]
fn seed_member_reads_but_does_not_manage() {
    let rs = seed();
    let member = user(&[MEMBER_ROLE]);
    let read = ask(&rs, &member, &["#event:read"]);
    assert_eq!(
        read,
        vec![Permission {
            rsid: None,
            rsname: None,
            scopes: vec!["event:read".into()],
            claims: Default::default(),
        }]
    );
    assert!(ask(&rs, &member, &["#event:manage"]).is_empty());
    let both = ask(&rs, &member, &["#event:read,event:manage"]);
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].scopes, vec!["event:read".to_string()]);
}

#[test]
fn seed_admin_reads_and_manages() {
    let rs = seed();
    let admin = user(&[ADMIN_ROLE]);
    let mut scopes: Vec<String> = ask(&rs, &admin, &["#event:read", "#event:manage"])
        .into_iter()
        .flat_map(|p| p.scopes)
        .collect();
    scopes.sort();
    assert_eq!(scopes, vec!["event:manage", "event:read"]);
    // A user with neither role gets nothing.
    assert!(ask(&rs, &user(&[]), &["#event:read"]).is_empty());
}

#[test]
fn seed_as_written_needs_both_roles_to_read() {
    // Imported as the seed writes it (no `decisionStrategy`: UNANIMOUS), `event-read` lists
    // both role policies, so reading needs TENANT_ADMIN *and* TENANT_MEMBER, as in Keycloak.
    let rs = seed_with("UNANIMOUS");
    assert!(ask(&rs, &user(&[MEMBER_ROLE]), &["#event:read"]).is_empty());
    assert!(ask(&rs, &user(&[ADMIN_ROLE]), &["#event:read"]).is_empty());
    assert_eq!(
        ask(&rs, &user(&[ADMIN_ROLE, MEMBER_ROLE]), &["#event:read"]).len(),
        1
    );
    assert_eq!(ask(&rs, &user(&[ADMIN_ROLE]), &["#event:manage"]).len(), 1);
}

#[test]
fn same_resource_by_id_and_name_keeps_the_first_scopes() {
    // AuthorizationTokenService.addPermission returns the resource's existing permission.
    let mut v = rs_json(
        vec![json!({"_id": "doc-1", "name": "doc", "owner": {"id": RS},
                    "scopes": [scope("view"), scope("edit")]})],
        &["view", "edit"],
        vec![],
    );
    v["policyEnforcementMode"] = json!("PERMISSIVE");
    let rs = server(v);
    let asked = resolve_permissions(
        &rs,
        "user-1",
        &["doc-1#view".to_string(), "doc#edit".to_string()],
        None,
        ResourceFormat::Id,
    )
    .unwrap();
    assert_eq!(
        asked,
        vec![res("doc-1", &["view"]), res("doc-1", &["edit"])]
    );
    assert_eq!(granted(&rs, &user(&[]), &asked), one("doc-1", &["view"]));
}

#[test]
fn seed_with_scoped_resources_names_the_resource() {
    // The same example with the scopes attached to the resources, as Keycloak's console
    // would set them: the permission names the resource.
    let rs = server(rs_json(
        vec![resource("event", &["event:read", "event:manage"])],
        &["event:read", "event:manage"],
        vec![
            role_policy("admin", &[(ADMIN_ROLE, false)]),
            role_policy("member", &[(MEMBER_ROLE, false)]),
            scope_perm("manage", &[], &["event:manage"], &["admin"]),
            with_strategy(
                scope_perm("read", &[], &["event:read"], &["admin", "member"]),
                "AFFIRMATIVE",
            ),
        ],
    ));
    let member = user(&[MEMBER_ROLE]);
    let p = ask(&rs, &member, &["event#event:read,event:manage"]);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].rsid.as_deref(), Some("event"));
    assert_eq!(p[0].rsname.as_deref(), Some("event"));
    assert_eq!(p[0].scopes, vec!["event:read".to_string()]);
    assert!(!decision(&rs, &member, &[res("event", &["event:manage"])]));
    assert!(decision(
        &rs,
        &user(&[ADMIN_ROLE]),
        &[res("event", &["event:manage"])]
    ));
    let all = granted(&rs, &user(&[ADMIN_ROLE]), &[res("event", &[])]);
    assert_eq!(all, one("event", &["event:manage", "event:read"]));
}

// ---------------------------------------------------------------------------------------
// Policy types.

/// A server with one resource `doc` (scope `view`) guarded by one resource permission over
/// the given policies (the first is the one under test).
fn guarded(policies: Vec<Value>) -> ResourceServer {
    let ids: Vec<String> = policies
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).take(1).collect();
    let mut all = policies;
    all.push(resource_perm("perm", &["doc"], &ids));
    server(rs_json(vec![resource("doc", &["view"])], &["view"], all))
}

fn allowed(rs: &ResourceServer, who: &Identity) -> bool {
    decision(rs, who, &[res("doc", &["view"])])
}

#[test]
fn role_policy_any_role_or_required_roles() {
    let rs = guarded(vec![role_policy("p", &[("r1", false), ("r2", false)])]);
    assert!(allowed(&rs, &user(&["r1"])));
    assert!(allowed(&rs, &user(&["r2"])));
    assert!(!allowed(&rs, &user(&["r3"])));

    let rs = guarded(vec![role_policy("p", &[("r1", true), ("r2", false)])]);
    assert!(allowed(&rs, &user(&["r1"])), "the required role alone");
    assert!(
        !allowed(&rs, &user(&["r2"])),
        "missing the required role denies"
    );
    assert!(allowed(&rs, &user(&["r1", "r2"])));
}

#[test]
fn role_policy_fetch_roles_reads_the_users_roles() {
    let mut p = role_policy("p", &[("r1", false)]);
    p["config"]["fetchRoles"] = json!("true");
    let rs = guarded(vec![p]);
    let mut who = user(&["r1"]);
    assert!(!allowed(&rs, &who), "token roles are not looked at");
    who.user_role_ids = Some(std::sync::Arc::new(
        ["r1".to_string()].into_iter().collect(),
    ));
    assert!(allowed(&rs, &who));
}

#[test]
fn user_policy() {
    let rs = guarded(vec![policy(
        "p",
        "user",
        cfg(&[("users", json!(["user-1", "user-9"]))]),
    )]);
    assert!(allowed(&rs, &user(&[])));
    let mut other = user(&[]);
    other.id = "user-2".into();
    assert!(!allowed(&rs, &other));
}

fn group(id: &str, name: &str, path: &str) -> GroupRef {
    GroupRef {
        id: id.into(),
        name: name.into(),
        path: path.into(),
    }
}

#[test]
fn group_policy_direct_and_extend_children() {
    let groups =
        |extend: bool| json!([{"id": "g-parent", "path": "/parent", "extendChildren": extend}]);
    let mut child = user(&[]);
    child.groups = vec![group("g-child", "child", "/parent/child")];
    child.ancestor_groups = vec![group("g-parent", "parent", "/parent")];
    let mut direct = user(&[]);
    direct.groups = vec![group("g-parent", "parent", "/parent")];

    let rs = guarded(vec![policy(
        "p",
        "group",
        cfg(&[("groups", groups(false))]),
    )]);
    assert!(allowed(&rs, &direct));
    assert!(
        !allowed(&rs, &child),
        "a child group's member without extendChildren"
    );

    let rs = guarded(vec![policy("p", "group", cfg(&[("groups", groups(true))]))]);
    assert!(allowed(&rs, &direct));
    assert!(allowed(&rs, &child), "extendChildren covers descendants");
    assert!(!allowed(&rs, &user(&[])));
}

#[test]
fn group_policy_with_groups_claim() {
    let rs = guarded(vec![policy(
        "p",
        "group",
        cfg(&[
            (
                "groups",
                json!([{"id": "g1", "path": "/staff", "extendChildren": false}]),
            ),
            ("groupsClaim", json!("groups")),
        ]),
    )]);
    let mut who = user(&[]);
    who.groups = vec![group("g1", "staff", "/staff")];
    who.claims.insert("groups".into(), json!(["other"]));
    assert!(!allowed(&rs, &who), "the claim must name the group");
    who.claims.insert("groups".into(), json!(["staff"]));
    assert!(allowed(&rs, &who), "by name");
    who.claims.insert("groups".into(), json!(["/staff"]));
    assert!(allowed(&rs, &who), "by path");
    who.groups.clear();
    assert!(!allowed(&rs, &who), "the claim alone is not membership");
}

#[test]
fn client_policy() {
    let rs = guarded(vec![policy(
        "p",
        "client",
        cfg(&[("clients", json!(["c-uuid"]))]),
    )]);
    let mut who = user(&[]);
    assert!(!allowed(&rs, &who));
    who.client = Some("c-uuid".into());
    assert!(allowed(&rs, &who));
}

#[test]
fn client_scope_policy_with_required() {
    let rs = guarded(vec![policy(
        "p",
        "client-scope",
        cfg(&[(
            "clientScopes",
            json!([{"id": "cs-a", "required": true}, {"id": "cs-b", "required": false}]),
        )]),
    )]);
    let mut who = user(&[]);
    who.client_scope_ids = HashSet::from(["cs-b".to_string()]);
    assert!(!allowed(&rs, &who), "required scope missing");
    who.client_scope_ids.insert("cs-a".into());
    assert!(allowed(&rs, &who));
}

#[test]
fn regex_policy_whole_match_paths_and_context() {
    let rs = guarded(vec![policy(
        "p",
        "regex",
        cfg(&[
            ("targetClaim", json!("email")),
            ("pattern", json!(".*@example\\.com")),
        ]),
    )]);
    let mut who = user(&[]);
    who.claims.insert("email".into(), json!("a@example.com"));
    assert!(allowed(&rs, &who));
    who.claims
        .insert("email".into(), json!("a@example.com.evil"));
    assert!(!allowed(&rs, &who), "the whole value must match");

    let rs = guarded(vec![policy(
        "p",
        "regex",
        cfg(&[
            ("targetClaim", json!("address.country")),
            ("pattern", json!("^B.*")),
        ]),
    )]);
    who.claims
        .insert("address".into(), json!({"country": "Brazil"}));
    assert!(allowed(&rs, &who));
    who.claims
        .insert("address".into(), json!({"country": "Chile"}));
    assert!(!allowed(&rs, &who));

    let rs = guarded(vec![policy(
        "p",
        "regex",
        cfg(&[
            ("targetClaim", json!("kc.client.id")),
            ("pattern", json!("web-.*")),
            ("targetContextAttributes", json!("true")),
        ]),
    )]);
    who.context
        .insert("kc.client.id".into(), vec!["web-app".into()]);
    assert!(allowed(&rs, &who));
    who.context
        .insert("kc.client.id".into(), vec!["cli".into()]);
    assert!(!allowed(&rs, &who));
}

fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> Identity {
    let mut who = user(&[]);
    who.time = policy::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60;
    who
}

#[test]
fn time_policy_dates_and_fields() {
    let rs = guarded(vec![policy(
        "p",
        "time",
        cfg(&[
            ("nbf", json!("2024-01-10 00:00:00")),
            ("noa", json!("2024-01-20")),
        ]),
    )]);
    assert!(!allowed(&rs, &at(2024, 1, 9, 23, 59)), "before nbf");
    assert!(allowed(&rs, &at(2024, 1, 15, 12, 0)));
    assert!(
        allowed(&rs, &at(2024, 1, 20, 0, 0)),
        "at noa itself (Date.after)"
    );
    assert!(!allowed(&rs, &at(2024, 1, 20, 0, 1)), "after noa");

    let rs = guarded(vec![policy(
        "p",
        "time",
        cfg(&[
            ("hour", json!("9")),
            ("hourEnd", json!("17")),
            ("month", json!("3")),
        ]),
    )]);
    assert!(allowed(&rs, &at(2024, 3, 5, 9, 0)));
    assert!(allowed(&rs, &at(2024, 3, 5, 17, 59)));
    assert!(!allowed(&rs, &at(2024, 3, 5, 18, 0)));
    assert!(
        !allowed(&rs, &at(2024, 4, 5, 10, 0)),
        "month without end must equal"
    );

    let rs = guarded(vec![policy(
        "p",
        "time",
        cfg(&[
            ("dayMonth", json!("1")),
            ("dayMonthEnd", json!("5")),
            ("minute", json!("30")),
        ]),
    )]);
    assert!(allowed(&rs, &at(2024, 2, 5, 0, 30)));
    assert!(!allowed(&rs, &at(2024, 2, 6, 0, 30)));
    assert!(!allowed(&rs, &at(2024, 2, 5, 0, 31)));
}

#[test]
fn time_ranges_do_not_wrap() {
    // TimePolicyProvider.isInvalid: `field < start || field > end`, so a range over
    // midnight (or over a month's end) matches nothing.
    let rs = guarded(vec![policy(
        "p",
        "time",
        cfg(&[("hour", json!("22")), ("hourEnd", json!("2"))]),
    )]);
    for h in [23, 0, 1, 12] {
        assert!(!allowed(&rs, &at(2024, 3, 5, h, 0)), "hour {h}");
    }
    let rs = guarded(vec![policy(
        "p",
        "time",
        cfg(&[("dayMonth", json!("28")), ("dayMonthEnd", json!("3"))]),
    )]);
    assert!(!allowed(&rs, &at(2024, 3, 1, 0, 0)));
    assert!(!allowed(&rs, &at(2024, 3, 29, 0, 0)));
}

#[test]
fn time_policy_bad_dates_refused() {
    let bad = |config: Value| {
        let mut v = rs_json(
            vec![resource("doc", &[])],
            &[],
            vec![policy("p", "time", config)],
        );
        v["policies"][0]["name"] = json!("t");
        compile_err(v)
    };
    assert!(matches!(
        bad(cfg(&[("nbf", json!("2024-02-30 00:00:00"))])),
        CompileError::InvalidConfig { ref key, .. } if key == "nbf"
    ));
    assert!(matches!(
        bad(cfg(&[("noa", json!("yesterday"))])),
        CompileError::InvalidConfig { ref key, .. } if key == "noa"
    ));
    assert!(matches!(
        bad(cfg(&[("nbf", json!("2024-02-10")), ("noa", json!("2024-02-01"))])),
        CompileError::InvalidConfig { ref reason, .. } if reason.contains("before start time")
    ));
    assert!(matches!(
        bad(cfg(&[("hour", json!("nine"))])),
        CompileError::InvalidConfig { ref key, .. } if key == "hour"
    ));
}

#[test]
fn js_default_policy_grants_other_scripts_refused() {
    let code =
        "// by default, grants any permission associated with this policy\n$evaluation.grant();\n";
    let rs = guarded(vec![policy("p", "js", cfg(&[("code", json!(code))]))]);
    assert!(allowed(&rs, &user(&[])));
    let err = compile_err(rs_json(
        vec![],
        &[],
        vec![policy(
            "p",
            "js",
            cfg(&[("code", json!("$evaluation.deny();"))]),
        )],
    ));
    assert_eq!(
        err,
        CompileError::ScriptUploadDisabled {
            policy: "p-name".into()
        }
    );
    let err = compile_err(rs_json(vec![], &[], vec![policy("p", "custom", cfg(&[]))]));
    assert!(matches!(err, CompileError::UnsupportedType { .. }));
}

/// A user-managed (`uma`) permission: one rule per role, client and user it names, decided
/// by its strategy, on its resource's named scopes only.
#[test]
fn uma_permission_roles_clients_users() {
    let uma = |strategy: &str| {
        with_strategy(
            policy(
                "u",
                "uma",
                cfg(&[
                    ("resources", json!(["doc"])),
                    ("scopes", json!(["view"])),
                    ("roles", json!(["r1"])),
                    ("clients", json!(["c1"])),
                    ("users", json!(["user-2"])),
                ]),
            ),
            strategy,
        )
    };
    let rs = server(rs_json(
        vec![resource("doc", &["view", "edit"])],
        &["view", "edit"],
        vec![uma("AFFIRMATIVE")],
    ));
    assert!(decision(&rs, &user(&["r1"]), &[res("doc", &["view"])]));
    assert!(!decision(&rs, &user(&["r1"]), &[res("doc", &["edit"])]));
    assert!(!decision(&rs, &user(&[]), &[res("doc", &["view"])]));
    let mut by_client = user(&[]);
    by_client.client = Some("c1".into());
    assert!(decision(&rs, &by_client, &[res("doc", &["view"])]));
    let mut by_id = user(&[]);
    by_id.id = "user-2".into();
    assert!(decision(&rs, &by_id, &[res("doc", &["view"])]));
    let rs = server(rs_json(
        vec![resource("doc", &["view", "edit"])],
        &["view", "edit"],
        vec![uma("UNANIMOUS")],
    ));
    assert!(!decision(&rs, &user(&["r1"]), &[res("doc", &["view"])]));
    let mut all = user(&["r1"]);
    all.id = "user-2".into();
    all.client = Some("c1".into());
    assert!(decision(&rs, &all, &[res("doc", &["view"])]));
}

#[test]
fn negative_logic_inverts() {
    let rs = guarded(vec![negative(role_policy("p", &[("r1", false)]))]);
    assert!(!allowed(&rs, &user(&["r1"])));
    assert!(allowed(&rs, &user(&[])));
}

#[test]
fn aggregate_strategies_and_logic() {
    let agg = |strategy: &str| {
        with_strategy(
            policy(
                "agg",
                "aggregate",
                cfg(&[("applyPolicies", json!(["a", "b", "c"]))]),
            ),
            strategy,
        )
    };
    let leaves = || {
        vec![
            role_policy("a", &[("ra", false)]),
            role_policy("b", &[("rb", false)]),
            role_policy("c", &[("rc", false)]),
        ]
    };
    let make = |strategy: &str, negate: bool| {
        let mut v = vec![if negate {
            negative(agg(strategy))
        } else {
            agg(strategy)
        }];
        v.extend(leaves());
        guarded(v)
    };
    let rs = make("UNANIMOUS", false);
    assert!(allowed(&rs, &user(&["ra", "rb", "rc"])));
    assert!(!allowed(&rs, &user(&["ra", "rb"])));
    let rs = make("AFFIRMATIVE", false);
    assert!(allowed(&rs, &user(&["rc"])));
    assert!(!allowed(&rs, &user(&[])));
    let rs = make("CONSENSUS", false);
    assert!(allowed(&rs, &user(&["ra", "rb"])));
    assert!(!allowed(&rs, &user(&["ra"])));
    let rs = make("AFFIRMATIVE", true);
    assert!(!allowed(&rs, &user(&["rc"])));
    assert!(allowed(&rs, &user(&[])));
    // An aggregate without policies has no effect: denied.
    let rs = guarded(vec![policy("agg", "aggregate", cfg(&[]))]);
    assert!(!allowed(&rs, &user(&[])));
}

#[test]
fn aggregate_cycles_refused() {
    let err = compile_err(rs_json(
        vec![],
        &[],
        vec![
            policy("a", "aggregate", cfg(&[("applyPolicies", json!(["b"]))])),
            policy("b", "aggregate", cfg(&[("applyPolicies", json!(["c"]))])),
            policy("c", "aggregate", cfg(&[("applyPolicies", json!(["a"]))])),
        ],
    ));
    assert_eq!(
        err,
        CompileError::Cycle(vec![
            "a-name".into(),
            "b-name".into(),
            "c-name".into(),
            "a-name".into()
        ])
    );
    let reps: Vec<PolicyRepresentation> = vec![
        serde_json::from_value(policy(
            "a",
            "aggregate",
            cfg(&[("applyPolicies", json!(["b"]))]),
        ))
        .unwrap(),
        serde_json::from_value(policy(
            "b",
            "aggregate",
            cfg(&[("applyPolicies", json!(["a"]))]),
        ))
        .unwrap(),
        serde_json::from_value(role_policy("r", &[])).unwrap(),
    ];
    assert_eq!(
        aggregate_cycle(&reps),
        Some(vec!["a-name".into(), "b-name".into(), "a-name".into()])
    );
    assert_eq!(aggregate_cycle(&reps[2..]), None);
    // A self-reference is a cycle too.
    let me: PolicyRepresentation = serde_json::from_value(policy(
        "a",
        "aggregate",
        cfg(&[("applyPolicies", json!(["a"]))]),
    ))
    .unwrap();
    assert!(aggregate_cycle(&[me]).is_some());
}

#[test]
fn unknown_references_refused() {
    let err = compile_err(rs_json(
        vec![],
        &[],
        vec![resource_perm("p", &["nope"], &[])],
    ));
    assert!(matches!(
        err,
        CompileError::UnknownReference {
            kind: "resource",
            ..
        }
    ));
    let err = compile_err(rs_json(
        vec![],
        &[],
        vec![scope_perm("p", &[], &["nope"], &[])],
    ));
    assert!(matches!(
        err,
        CompileError::UnknownReference { kind: "scope", .. }
    ));
    let err = compile_err(rs_json(
        vec![],
        &[],
        vec![resource_perm("p", &[], &["nope"])],
    ));
    assert!(matches!(
        err,
        CompileError::UnknownReference { kind: "policy", .. }
    ));
    let mut bad = role_policy("p", &[]);
    bad["config"]["roles"] = json!("not json");
    assert!(matches!(
        compile_err(rs_json(vec![], &[], vec![bad])),
        CompileError::InvalidConfig { .. }
    ));
    let mut v = rs_json(vec![], &[], vec![]);
    v["policyEnforcementMode"] = json!("SOMETIMES");
    assert!(matches!(
        compile_err(v),
        CompileError::InvalidSetting { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Permission strategies and the resource server's.

#[test]
fn permission_strategies() {
    let make = |strategy: &str| {
        server(rs_json(
            vec![resource("doc", &["view"])],
            &["view"],
            vec![
                role_policy("a", &[("ra", false)]),
                role_policy("b", &[("rb", false)]),
                role_policy("c", &[("rc", false)]),
                with_strategy(resource_perm("perm", &["doc"], &["a", "b", "c"]), strategy),
            ],
        ))
    };
    let rs = make("UNANIMOUS");
    assert!(allowed(&rs, &user(&["ra", "rb", "rc"])));
    assert!(!allowed(&rs, &user(&["ra", "rb"])));
    let rs = make("AFFIRMATIVE");
    assert!(allowed(&rs, &user(&["rb"])));
    assert!(!allowed(&rs, &user(&[])));
    let rs = make("CONSENSUS");
    assert!(allowed(&rs, &user(&["ra", "rc"])));
    assert!(!allowed(&rs, &user(&["rc"])));
}

/// Two scope permissions on `view` of `doc`: one granting (role `yes`), one denying.
fn two_views(strategy: &str) -> ResourceServer {
    let mut v = rs_json(
        vec![resource("doc", &["view", "edit"])],
        &["view", "edit"],
        vec![
            role_policy("yes", &[("r", false)]),
            role_policy("no", &[("never", false)]),
            scope_perm("grants-view", &["doc"], &["view"], &["yes"]),
            scope_perm("denies-view", &["doc"], &["view", "edit"], &["no"]),
        ],
    );
    v["decisionStrategy"] = json!(strategy);
    server(v)
}

#[test]
fn server_strategy_unanimous_a_denial_wins() {
    let rs = two_views("UNANIMOUS");
    assert!(granted(&rs, &user(&["r"]), &[res("doc", &["view"])]).is_empty());
}

#[test]
fn server_strategy_affirmative_a_grant_wins() {
    let rs = two_views("AFFIRMATIVE");
    assert_eq!(
        granted(&rs, &user(&["r"]), &[res("doc", &["view", "edit"])]),
        one("doc", &["view"]),
        "view granted by one permission; edit denied by the only one covering it"
    );
}

#[test]
fn server_strategy_consensus_behaves_as_unanimous() {
    // DecisionPermissionCollector only looks at AFFIRMATIVE.
    let rs = two_views("CONSENSUS");
    assert!(granted(&rs, &user(&["r"]), &[res("doc", &["view"])]).is_empty());
}

// ---------------------------------------------------------------------------------------
// Enforcement modes, resource vs scope permissions, typed permissions.

fn modes(mode: &str) -> ResourceServer {
    let mut v = rs_json(
        vec![resource("guarded", &["view"]), resource("open", &["view"])],
        &["view"],
        vec![
            role_policy("no", &[("never", false)]),
            resource_perm("perm", &["guarded"], &["no"]),
        ],
    );
    v["policyEnforcementMode"] = json!(mode);
    server(v)
}

#[test]
fn enforcing_denies_what_no_permission_covers() {
    let rs = modes("ENFORCING");
    assert!(granted(&rs, &user(&[]), &[res("open", &["view"])]).is_empty());
    assert!(granted(&rs, &user(&[]), &[res("guarded", &["view"])]).is_empty());
}

#[test]
fn permissive_grants_what_no_permission_covers() {
    let rs = modes("PERMISSIVE");
    assert_eq!(
        granted(&rs, &user(&[]), &[res("open", &["view"])]),
        one("open", &["view"])
    );
    assert!(
        granted(&rs, &user(&[]), &[res("guarded", &["view"])]).is_empty(),
        "a denying permission still denies"
    );
}

#[test]
fn disabled_grants_everything() {
    let rs = modes("DISABLED");
    let mut got = granted(
        &rs,
        &user(&[]),
        &[res("guarded", &["view"]), res("open", &[])],
    );
    got.sort();
    assert_eq!(
        got,
        vec![
            (Some("guarded".into()), vec!["view".into()]),
            (Some("open".into()), vec!["view".into()])
        ]
    );
}

#[test]
fn resource_permission_grants_every_asked_scope_scope_permission_only_its_own() {
    let rs = server(rs_json(
        vec![resource("doc", &["view", "edit", "delete"])],
        &["view", "edit", "delete"],
        vec![
            role_policy("reader", &[("r", false)]),
            role_policy("owner", &[("o", false)]),
            scope_perm("view-perm", &["doc"], &["view"], &["reader"]),
            resource_perm("doc-perm", &["doc"], &["owner"]),
        ],
    ));
    // The owner: the resource permission grants every scope, but under UNANIMOUS the
    // denied scope permission still takes `view` away.
    assert_eq!(
        granted(&rs, &user(&["o"]), &[res("doc", &[])]),
        one("doc", &["delete", "edit"])
    );
    assert_eq!(
        granted(&rs, &user(&["o", "r"]), &[res("doc", &[])]),
        one("doc", &["delete", "edit", "view"])
    );
    // The reader: the resource permission denies every asked scope under UNANIMOUS.
    assert!(granted(&rs, &user(&["r"]), &[res("doc", &["view"])]).is_empty());
}

#[test]
fn affirmative_server_lets_a_resource_permission_override_a_scope_denial() {
    let mut v = rs_json(
        vec![resource("doc", &["view", "edit"])],
        &["view", "edit"],
        vec![
            role_policy("reader", &[("r", false)]),
            role_policy("owner", &[("o", false)]),
            scope_perm("view-perm", &["doc"], &["view"], &["reader"]),
            resource_perm("doc-perm", &["doc"], &["owner"]),
        ],
    );
    v["decisionStrategy"] = json!("AFFIRMATIVE");
    let rs = server(v);
    assert_eq!(
        granted(&rs, &user(&["o"]), &[res("doc", &[])]),
        one("doc", &["edit", "view"])
    );
    assert_eq!(
        granted(&rs, &user(&["r"]), &[res("doc", &[])]),
        one("doc", &["view"])
    );
}

#[test]
fn resource_with_scopes_none_granted_is_dropped() {
    let rs = server(rs_json(
        vec![resource("doc", &["view", "edit"])],
        &["view", "edit"],
        vec![
            role_policy("reader", &[("r", false)]),
            scope_perm("view-perm", &["doc"], &["view"], &["reader"]),
            scope_perm("edit-perm", &["doc"], &["edit"], &["reader"]),
        ],
    ));
    assert_eq!(
        granted(&rs, &user(&["r"]), &[res("doc", &[])]),
        one("doc", &["edit", "view"])
    );
    assert!(granted(&rs, &user(&[]), &[res("doc", &[])]).is_empty());
}

#[test]
fn typed_resource_permission_applies_to_the_type() {
    let mut a = resource("a", &["view"]);
    a["type"] = json!("urn:api:doc");
    let mut b = resource("b", &["view"]);
    b["type"] = json!("urn:api:doc");
    let c = resource("c", &["view"]);
    let rs = server(rs_json(
        vec![a, b, c],
        &["view"],
        vec![
            role_policy("staff", &[("s", false)]),
            typed_perm("docs", "urn:api:doc", &["staff"]),
        ],
    ));
    let who = user(&["s"]);
    assert_eq!(
        granted(&rs, &who, &[res("b", &["view"])]),
        one("b", &["view"])
    );
    assert!(
        granted(&rs, &who, &[res("c", &["view"])]).is_empty(),
        "another type"
    );
    assert!(granted(&rs, &user(&[]), &[res("a", &["view"])]).is_empty());
}

#[test]
fn users_resource_inherits_the_types_permissions_and_scopes() {
    // The server's resource of type `urn:api:album` carries the scopes and the permission;
    // alice's album (owned by her, no scopes of its own) is evaluated with them.
    let mut template = resource("album-template", &["view", "delete"]);
    template["type"] = json!("urn:api:album");
    let alice_album = json!({"_id": "alice-album", "name": "alice-album", "type": "urn:api:album",
                             "owner": {"id": "alice"}});
    let rs = server(rs_json(
        vec![template, alice_album],
        &["view", "delete"],
        vec![
            role_policy("viewer", &[("v", false)]),
            scope_perm("view-albums", &["album-template"], &["view"], &["viewer"]),
        ],
    ));
    assert_eq!(
        granted(
            &rs,
            &user(&["v"]),
            &[res("alice-album", &["view", "delete"])]
        ),
        one("alice-album", &["view"])
    );
    assert!(granted(&rs, &user(&[]), &[res("alice-album", &["view"])]).is_empty());
}

#[test]
fn resource_permission_overrides_a_denying_typed_permission() {
    let mut a = resource("a", &["view"]);
    a["type"] = json!("urn:api:doc");
    let rs = server(rs_json(
        vec![a],
        &["view"],
        vec![
            role_policy("no", &[("never", false)]),
            role_policy("vip", &[("vip", false)]),
            typed_perm("docs", "urn:api:doc", &["no"]),
            resource_perm("a-perm", &["a"], &["vip"]),
        ],
    ));
    assert_eq!(
        granted(&rs, &user(&["vip"]), &[res("a", &["view"])]),
        one("a", &["view"])
    );
    assert!(granted(&rs, &user(&[]), &[res("a", &["view"])]).is_empty());
}

#[test]
fn permission_without_policies_denies_even_when_permissive() {
    let mut v = rs_json(
        vec![resource("doc", &["view"])],
        &["view"],
        vec![resource_perm("empty", &["doc"], &[])],
    );
    v["policyEnforcementMode"] = json!("PERMISSIVE");
    let rs = server(v);
    assert!(granted(&rs, &user(&[]), &[res("doc", &["view"])]).is_empty());
}

#[test]
fn entitlement_evaluates_every_server_and_own_resource() {
    let mine = json!({"_id": "mine", "name": "mine", "owner": {"id": "user-1"}, "scopes": []});
    let theirs =
        json!({"_id": "theirs", "name": "theirs", "owner": {"id": "user-2"}, "scopes": []});
    let mut v = rs_json(
        vec![
            resource("r1", &["view"]),
            resource("r2", &["view"]),
            mine,
            theirs,
        ],
        &["view"],
        vec![
            role_policy("yes", &[("r", false)]),
            resource_perm("p1", &["r1"], &["yes"]),
        ],
    );
    v["policyEnforcementMode"] = json!("PERMISSIVE");
    let rs = server(v);
    let ids: Vec<Option<String>> = evaluate(&rs, &user(&["r"]), &[Asked::Everything])
        .into_iter()
        .map(|p| p.rsid)
        .collect();
    assert_eq!(
        ids,
        vec![Some("r1".into()), Some("r2".into()), Some("mine".into())]
    );
    let limited = evaluate_request(
        &rs,
        &user(&["r"]),
        &Request {
            asked: &[],
            limit: Some(1),
            include_resource_name: false,
        },
    );
    assert_eq!(limited.len(), 1);
    assert_eq!(
        limited[0].rsname, None,
        "response_include_resource_name=false"
    );
}

// ---------------------------------------------------------------------------------------
// The `permission` parameter.

#[test]
fn permission_parameter_by_name_id_and_errors() {
    let rs = server(rs_json(
        vec![
            resource("doc-1", &["view"]),
            json!({"_id": "plain", "name": "Plain Doc", "owner": {"id": RS}, "scopes": [scope("view")]}),
        ],
        &["view", "edit"],
        vec![],
    ));
    let p = |v: &[&str]| {
        let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        resolve_permissions(&rs, "user-1", &v, None, ResourceFormat::Id)
    };
    assert_eq!(p(&["doc-1#view"]).unwrap(), vec![res("doc-1", &["view"])]);
    assert_eq!(p(&["Plain Doc"]).unwrap(), vec![res("plain", &[])]);
    assert_eq!(
        p(&["#view"]).unwrap(),
        vec![Asked::Scopes(vec!["view".into()])]
    );
    // Same resource twice: scopes merged (AuthorizationRequest.addPermission).
    assert_eq!(
        p(&["doc-1#view", "doc-1#edit"]).unwrap(),
        vec![res("doc-1", &["view", "edit"])]
    );
    // Unknown scopes are dropped while one is known.
    assert_eq!(
        p(&["doc-1#view,nope"]).unwrap(),
        vec![res("doc-1", &["view"])]
    );

    let e = p(&["missing#view"]).unwrap_err();
    assert_eq!(e.error(), "invalid_resource");
    assert_eq!(e.to_string(), "Resource with id [missing] does not exist.");
    let e = p(&["doc-1#nope,bad"]).unwrap_err();
    assert_eq!(e.error(), "invalid_scope");
    assert_eq!(
        e.to_string(),
        "One of the given scopes [nope, bad] is invalid"
    );
    // A known scope the resource does not have: nothing to evaluate, so no such resource.
    let e = p(&["doc-1#edit"]).unwrap_err();
    assert_eq!(e, AskError::InvalidResource("doc-1".into()));
}

#[test]
fn permission_parameter_resource_types() {
    let mut t1 = resource("t-1", &["view"]);
    t1["type"] = json!("urn:t");
    let mine =
        json!({"_id": "t-mine", "name": "t-mine", "type": "urn:t", "owner": {"id": "user-1"}});
    let rs = server(rs_json(vec![t1, mine], &["view"], vec![]));
    let p = |s: &str| {
        resolve_permissions(&rs, "user-1", &[s.to_string()], None, ResourceFormat::Id).unwrap()
    };
    assert_eq!(p("resource-type:urn:t"), vec![res("t-1", &[])]);
    assert_eq!(
        p("resource-type-any:urn:t"),
        vec![res("t-1", &[]), res("t-mine", &[])]
    );
    assert_eq!(p("resource-type-instance:urn:t"), vec![res("t-mine", &[])]);
    assert_eq!(p("resource-type-owner:urn:t"), vec![res("t-mine", &[])]);
}

#[test]
fn permission_parameter_by_uri() {
    let mut api = resource("api", &[]);
    api["uris"] = json!(["/api/*"]);
    let mut item = resource("item", &[]);
    item["uris"] = json!(["/api/items/{id}"]);
    let mut exact = resource("admin", &[]);
    exact["uris"] = json!(["/api/admin"]);
    let rs = server(rs_json(vec![api, item, exact], &[], vec![]));
    let p = |s: &str, matching: bool| {
        resolve_permissions(
            &rs,
            "user-1",
            &[s.to_string()],
            None,
            ResourceFormat::Uri { matching },
        )
    };
    assert_eq!(p("/api/admin", false).unwrap(), vec![res("admin", &[])]);
    assert!(p("/api/items/7", false).is_err(), "exact only");
    assert_eq!(p("/api/items/7", true).unwrap(), vec![res("item", &[])]);
    assert_eq!(p("/api/other/x", true).unwrap(), vec![res("api", &[])]);
    assert_eq!(p("/api/admin/", true).unwrap(), vec![res("admin", &[])]);
    assert!(p("/elsewhere", true).is_err());
}

#[test]
fn path_matcher_rules() {
    let m = PathMatcher::new(vec![
        ("/*".to_string(), "root"),
        ("/api/*".to_string(), "api"),
        ("/api/v1/*".to_string(), "v1"),
        ("/static/*.css".to_string(), "css"),
        ("/users/{id}/posts/{post}".to_string(), "post"),
        ("/users/{id}".to_string(), "user"),
        ("/exact".to_string(), "exact"),
    ]);
    let hit = |p: &str| m.matches(p).map(|(_, v)| *v);
    assert_eq!(hit("/exact"), Some("exact"));
    assert_eq!(hit("/exact?x=1#f"), Some("exact"));
    assert_eq!(hit("/api/v1/things"), Some("v1"), "the longest wildcard");
    assert_eq!(hit("/api/v2"), Some("api"));
    assert_eq!(hit("/api"), Some("api"), "`/api/*` covers `/api`");
    assert_eq!(hit("/static/site.css"), Some("css"));
    assert_eq!(hit("/users/42"), Some("user"));
    assert_eq!(hit("/users/42/posts/7"), Some("post"));
    assert_eq!(
        hit("/api/v1/../admin"),
        Some("api"),
        "dot segments resolved"
    );
    assert_eq!(
        hit("/api;x=1/v1/a"),
        Some("v1"),
        "matrix parameters dropped"
    );
    assert_eq!(hit("/somewhere"), Some("root"));
    assert_eq!(normalize_uri("//a//b/./c/../d/").as_deref(), Some("/a/b/d"));
    assert_eq!(normalize_uri("/a%2Fb").as_deref(), Some("/a/b"));
    assert_eq!(
        normalize_uri("https://host.example/x//y?q").as_deref(),
        Some("https://host.example/x/y")
    );
}
