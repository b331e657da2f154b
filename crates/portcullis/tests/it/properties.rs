//! Property: a realm imported, exported, imported again (into another store) and exported
//! again gives the same export, for generated realm representations (clients, roles,
//! groups, users with passwords, attributes, fields the server does not act on). Import and
//! export are the production ones (`realm::import`, `realm::export::export`) on SQLite.

use std::sync::Arc;

use portcullis::policy::blacklist::Blacklists;
use portcullis::realm::export::{export, UsersMode};
use portcullis::realm::{import, IfExists};
use portcullis::store::{SqliteStore, Store};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,7}"
}

fn text() -> impl Strategy<Value = String> {
    // Printable text with the characters JSON and SQL treat specially.
    "[a-zA-Z0-9 _\\-\"'\\\\%é€]{0,12}"
}

fn attributes() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(name(), text(), 0..3)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k, json!(v))).collect())
}

fn client() -> impl Strategy<Value = Value> {
    (
        name(),
        any::<bool>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "https://app.example/cb",
                "https://app.example/*",
                "/relative/*",
                "+",
                "*",
                "http://localhost:3000/cb",
            ]),
            0..3,
        ),
        attributes(),
        prop::option::of(text()),
        any::<bool>(),
    )
        .prop_map(|(id, public, uris, attrs, description, direct)| {
            let mut c = json!({
                "clientId": format!("c-{id}"),
                "publicClient": public,
                "redirectUris": uris,
                "webOrigins": ["+"],
                "directAccessGrantsEnabled": direct,
                "attributes": attrs,
                "x-unknown-field": {"kept": [1, "two"]},
            });
            if let Some(d) = description {
                c["description"] = json!(d);
            }
            if !public {
                c["secret"] = json!(format!("secret-{id}"));
            }
            c
        })
}

fn user() -> impl Strategy<Value = Value> {
    (
        name(),
        prop::option::of(name()),
        any::<bool>(),
        attributes(),
        prop::option::of(text()),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(username, email, enabled, attrs, first, password)| {
            let attrs: Map<String, Value> =
                attrs.into_iter().map(|(k, v)| (k, json!([v]))).collect();
            let mut u = json!({
                "username": format!("u-{username}"),
                "enabled": enabled,
                "attributes": attrs,
            });
            if let Some(e) = email {
                u["email"] = json!(format!("{e}@example.com"));
            }
            if let Some(f) = first {
                u["firstName"] = json!(f);
            }
            if let Some(temporary) = password {
                u["credentials"] =
                    json!([{"type": "password", "value": "pw-1234", "temporary": temporary}]);
            }
            u
        })
}

fn realm() -> impl Strategy<Value = Value> {
    (
        name(),
        any::<bool>(),
        prop::option::of(text()),
        prop::sample::select(vec!["none", "external", "all"]),
        prop::option::of(60i64..36_000),
        prop::collection::btree_map(name(), client(), 0..3),
        prop::collection::btree_set(name(), 0..3),
        prop::collection::btree_set(name(), 0..3),
        prop::collection::btree_map(name(), user(), 0..3),
        prop::option::of(prop::sample::select(vec![
            "length(8)",
            "length(8) and digits(1) and notUsername",
            "hashIterations(27500) and passwordHistory(3)",
        ])),
    )
        .prop_map(
            |(realm, enabled, display, ssl, lifespan, clients, roles, groups, users, policy)| {
                let mut r = json!({
                    "realm": format!("r-{realm}"),
                    "enabled": enabled,
                    "sslRequired": ssl,
                    "clients": clients.into_values().enumerate().map(|(i, mut c)| {
                        c["clientId"] = json!(format!("{}-{i}", c["clientId"].as_str().unwrap()));
                        c
                    }).collect::<Vec<_>>(),
                    "roles": {"realm": roles.iter().map(|n| json!({"name": format!("role-{n}"), "description": n})).collect::<Vec<_>>()},
                    "groups": groups.iter().map(|n| json!({"name": format!("g-{n}"), "attributes": {"a": [n]}})).collect::<Vec<_>>(),
                    "users": users.into_values().enumerate().map(|(i, mut u)| {
                        u["username"] = json!(format!("{}-{i}", u["username"].as_str().unwrap()));
                        if let Some(e) = u.get("email").and_then(Value::as_str).map(str::to_string) {
                            u["email"] = json!(format!("{i}.{e}"));
                        }
                        u
                    }).collect::<Vec<_>>(),
                    "x-realm-extension": {"nested": {"list": [true, null, 1.5]}},
                });
                if let Some(d) = display {
                    r["displayName"] = json!(d);
                }
                if let Some(l) = lifespan {
                    r["accessTokenLifespan"] = json!(l);
                }
                if let Some(p) = policy {
                    r["passwordPolicy"] = json!(p);
                }
                r
            },
        )
}

async fn store(dir: &tempfile::TempDir, file: &str) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.path().join(file)).await.unwrap())
}

async fn round_trip(rep: Value) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let blacklists = Blacklists::default();
    let name = rep["realm"].as_str().unwrap().to_string();
    let first = store(&dir, "first.db").await;
    import(first.as_ref(), &blacklists, rep, IfExists::Fail)
        .await
        .map_err(|e| TestCaseError::fail(format!("first import: {e}")))?;
    let exported = export(first.as_ref(), &name, UsersMode::Include)
        .await
        .unwrap();
    let second = store(&dir, "second.db").await;
    import(
        second.as_ref(),
        &blacklists,
        exported.clone(),
        IfExists::Fail,
    )
    .await
    .map_err(|e| TestCaseError::fail(format!("second import: {e}")))?;
    let again = export(second.as_ref(), &name, UsersMode::Include)
        .await
        .unwrap();
    prop_assert_eq!(again, exported);
    Ok(())
}

proptest! {
    // Each case generates RSA keys and hashes passwords: a few dozen cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn import_export_import_is_lossless(rep in realm()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(round_trip(rep))?;
    }
}
