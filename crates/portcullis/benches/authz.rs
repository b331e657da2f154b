//! Authorization Services' policy evaluation, the figure: a resource server with
//! 1,000 resources, 50 policies and 200 permissions; one decision request (a few
//! `resource#scope` asks, target under 50 µs) and an RPT request with 20 permissions. The
//! compile of the same server is measured too (it happens once per change, not per request).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::authz::{
    evaluate, resolve_permissions, Asked, Identity, ResourceFormat, ResourceServer,
};
use portcullis::representation::authz::ResourceServerRepresentation;
use serde_json::{json, Value};

const RS: &str = "0d6f2a4e-7c1b-4b7a-9e3f-5a6b7c8d9e0f";
const SCOPES: [&str; 6] = ["read", "write", "delete", "share", "approve", "export"];

fn representation() -> ResourceServerRepresentation {
    let scopes: Vec<Value> = SCOPES
        .iter()
        .map(|s| json!({"id": format!("scope-{s}"), "name": s}))
        .collect();
    let resources: Vec<Value> = (0..1000)
        .map(|i| {
            let own: Vec<Value> = (0..3)
                .map(|k| json!({"id": format!("scope-{}", SCOPES[(i + k) % SCOPES.len()])}))
                .collect();
            json!({"_id": format!("res-{i:04}-id"), "name": format!("resource-{i}"),
                   "type": format!("urn:bench:type-{}", i % 10), "owner": {"id": RS},
                   "uris": [format!("/api/r{i}/*")], "scopes": own})
        })
        .collect();
    let mut policies: Vec<Value> = Vec::new();
    // 50 policies: 40 role policies, 5 group, 3 time, 2 aggregates.
    for i in 0..40 {
        policies.push(json!({"id": format!("pol-{i}"), "name": format!("role-policy-{i}"),
            "type": "role", "logic": if i % 7 == 6 { "NEGATIVE" } else { "POSITIVE" },
            "decisionStrategy": "UNANIMOUS",
            "config": {"roles": format!("[{{\"id\":\"role-{i}\",\"required\":false}},{{\"id\":\"role-{}\",\"required\":false}}]", (i + 1) % 40)}}));
    }
    for i in 40..45 {
        policies.push(json!({"id": format!("pol-{i}"), "name": format!("group-policy-{i}"),
            "type": "group", "logic": "POSITIVE", "decisionStrategy": "UNANIMOUS",
            "config": {"groups": format!("[{{\"id\":\"group-{i}\",\"path\":\"/g{i}\",\"extendChildren\":true}}]")}}));
    }
    for i in 45..48 {
        policies.push(json!({"id": format!("pol-{i}"), "name": format!("time-policy-{i}"),
            "type": "time", "logic": "POSITIVE", "decisionStrategy": "UNANIMOUS",
            "config": {"nbf": "2020-01-01 00:00:00", "noa": "2099-12-31 23:59:59", "hour": "0", "hourEnd": "23"}}));
    }
    for i in 48..50 {
        policies.push(json!({"id": format!("pol-{i}"), "name": format!("aggregate-{i}"),
            "type": "aggregate", "logic": "POSITIVE", "decisionStrategy": "AFFIRMATIVE",
            "config": {"applyPolicies": format!("[\"pol-{}\",\"pol-{}\",\"pol-45\"]", i - 48, i - 40)}}));
    }
    // 200 permissions: 120 scope permissions, 70 resource permissions, 10 typed ones.
    for i in 0..120 {
        let r = (i * 7) % 1000;
        policies.push(
            json!({"id": format!("perm-s-{i}"), "name": format!("scope-perm-{i}"),
            "type": "scope", "logic": "POSITIVE", "decisionStrategy": "AFFIRMATIVE",
            "config": {"resources": format!("[\"res-{r:04}-id\"]"),
                       "scopes": format!("[\"scope-{}\"]", SCOPES[r % SCOPES.len()]),
                       "applyPolicies": format!("[\"pol-{}\",\"pol-{}\"]", i % 50, (i + 3) % 50)}}),
        );
    }
    for i in 0..70 {
        let r = (i * 13 + 1) % 1000;
        policies.push(
            json!({"id": format!("perm-r-{i}"), "name": format!("resource-perm-{i}"),
            "type": "resource", "logic": "POSITIVE", "decisionStrategy": "UNANIMOUS",
            "config": {"resources": format!("[\"res-{r:04}-id\"]"),
                       "applyPolicies": format!("[\"pol-{}\"]", i % 50)}}),
        );
    }
    for i in 0..10 {
        policies.push(
            json!({"id": format!("perm-t-{i}"), "name": format!("typed-perm-{i}"),
            "type": "resource", "logic": "POSITIVE", "decisionStrategy": "AFFIRMATIVE",
            "config": {"defaultResourceType": format!("urn:bench:type-{i}"),
                       "applyPolicies": format!("[\"pol-{}\",\"pol-{}\"]", i, 40 + i % 5)}}),
        );
    }
    serde_json::from_value(json!({"id": RS, "clientId": "bench-api",
        "policyEnforcementMode": "ENFORCING", "decisionStrategy": "AFFIRMATIVE",
        "resources": resources, "scopes": scopes, "policies": policies}))
    .expect("representation")
}

fn identity() -> Identity {
    Identity {
        id: "6a0f7b52-3b2e-4d6c-8f1a-2b3c4d5e6f70".into(),
        token_role_ids: std::sync::Arc::new(
            (0..40).step_by(3).map(|i| format!("role-{i}")).collect(),
        ),
        user_role_ids: Some(Default::default()),
        client: Some("1f2e3d4c-0000-4000-8000-000000000001".into()),
        time: 1_900_000_000,
        ..Identity::default()
    }
}

fn bench(c: &mut Criterion) {
    let rep = representation();
    c.bench_function(
        "authz compile (1000 resources, 50 policies, 200 permissions)",
        |b| b.iter(|| ResourceServer::compile(&rep).expect("compile")),
    );
    let rs = ResourceServer::compile(&rep).expect("compile");
    let who = identity();

    // A decision request: three `resource#scope` asks by name, parsed and evaluated.
    let params: Vec<String> = vec![
        "resource-7#read,write".into(),
        "resource-14#delete".into(),
        "resource-701#share,read".into(),
    ];
    let asked = resolve_permissions(&rs, &who.id, &params, None, ResourceFormat::Id).unwrap();
    assert_eq!(asked.len(), 3);
    c.bench_function(
        "authz decision (3 resource#scope asks, parse + evaluate)",
        |b| {
            b.iter(|| {
                let asked =
                    resolve_permissions(&rs, &who.id, &params, None, ResourceFormat::Id).unwrap();
                !evaluate(&rs, &who, &asked).is_empty()
            })
        },
    );

    // An RPT request with 20 permissions (resources of which some are granted).
    let twenty: Vec<Asked> = (0..20)
        .map(|i| Asked::Resource {
            resource: format!("res-{:04}-id", (i * 7) % 1000),
            scopes: Vec::new(),
        })
        .collect();
    let granted = evaluate(&rs, &who, &twenty);
    assert!(!granted.is_empty());
    c.bench_function("authz RPT request (20 resource asks)", |b| {
        b.iter(|| evaluate(&rs, &who, &twenty))
    });

    // An entitlement without `permission`: every one of the 1,000 resources evaluated.
    c.bench_function("authz entitlement (everything: 1000 resources)", |b| {
        b.iter(|| evaluate(&rs, &who, &[Asked::Everything]))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
