//! The tamper-evident audit trail: events made over HTTP are chained whatever the realm's event
//! settings; `portcullis audit verify` passes on the untouched store and names the record an
//! SQL edit or deletion broke; `audit export` writes lines an auditor can re-check with
//! nothing but SHA-256. On SQLite and PostgreSQL.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

fn realm() -> Value {
    json!({
        "realm": "au",
        // Events off: the audit trail does not depend on the realm's settings.
        "eventsEnabled": false,
        "adminEventsEnabled": false,
        "clients": [
            {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": true,
             "redirectUris": ["https://app.example.com/cb"]},
            {"clientId": "backend", "secret": "backend-secret", "serviceAccountsEnabled": true,
             "standardFlowEnabled": false}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true,
             "credentials": [{"type": "password", "value": "alice-pw"}]}
        ]
    })
}

fn audit(data: &Data, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("audit")
        .args(args)
        .args(data.args())
        .env_remove("KC_DB")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs one statement on the server's database (the tamperer's access); rows affected.
async fn sql(data: &Data, stmt: &str) -> u64 {
    match &data.schema {
        None => {
            let url = format!(
                "sqlite://{}",
                data.dir.path().join("portcullis.db").display()
            );
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let n = sqlx::query(stmt)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected();
            pool.close().await;
            n
        }
        Some(schema) => {
            let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
            let mut c = pool.acquire().await.unwrap();
            sqlx::query(&format!("SET search_path TO \"{schema}\""))
                .execute(&mut *c)
                .await
                .unwrap();
            let n = sqlx::query(stmt)
                .execute(&mut *c)
                .await
                .unwrap()
                .rows_affected();
            drop(c);
            pool.close().await;
            n
        }
    }
}

/// Records of realm `au` stored so far.
async fn au_records(data: &Data) -> i64 {
    let q =
        "SELECT COUNT(*) FROM audit_log WHERE realm_id = (SELECT id FROM realm WHERE name = 'au')";
    match &data.schema {
        None => {
            let url = format!(
                "sqlite://{}",
                data.dir.path().join("portcullis.db").display()
            );
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let n: i64 = sqlx::query_scalar(q).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        Some(schema) => {
            let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
            let mut c = pool.acquire().await.unwrap();
            sqlx::query(&format!("SET search_path TO \"{schema}\""))
                .execute(&mut *c)
                .await
                .unwrap();
            let n: i64 = sqlx::query_scalar(q).fetch_one(&mut *c).await.unwrap();
            drop(c);
            pool.close().await;
            n
        }
    }
}

fn sha256_hex(s: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the checking script of `docs/audit.md` (its ```python block) on an export file.
fn doc_script(data: &Data, export: &std::path::Path) -> Output {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit.md"),
    )
    .unwrap();
    let start = doc
        .find("```python\n")
        .expect("a python block in docs/audit.md")
        + 10;
    let script = &doc[start..start + doc[start..].find("```").unwrap()];
    let path = data.dir.path().join("check_audit.py");
    std::fs::write(&path, script).unwrap();
    Command::new("python3")
        .arg(&path)
        .stdin(std::fs::File::open(export).unwrap())
        .output()
        .expect("python3")
}

const AU: &str = "(SELECT id FROM realm WHERE name = 'au')";

async fn the_trail_is_verified_and_names_the_broken_record(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let token = server.url("/realms/au/protocol/openid-connect/token");
    let login = |pw: &'static str| {
        let token = token.clone();
        async move {
            post_form(
                &token,
                Some(("web", "web-secret")),
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", pw),
                ],
            )
            .await
            .0
        }
    };
    // 1: a failed login, 2: a login (client credentials are not chained).
    assert_eq!(login("wrong").await, 401);
    assert_eq!(login("alice-pw").await, 200);
    let (s, _, _) = post_form(
        &token,
        Some(("backend", "backend-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200);
    // 3: an admin write (a user created), 4: the login events cleared (Keycloak sends no
    // admin event for that; the trail records it).
    let admin = admin_token(&server).await;
    let (s, _, _) = call(
        &server,
        "POST",
        "/admin/realms/au/users",
        Some(&admin),
        Some(json!({"username": "bob", "enabled": true})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _, _) = call(
        &server,
        "DELETE",
        "/admin/realms/au/events",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204);
    for _ in 0..200 {
        if au_records(&data).await >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(au_records(&data).await, 4);
    drop(server);

    // Untouched: every chain is whole.
    let o = audit(&data, &["verify"]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("ok: au 4 records"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("ok: master "),
        "the admin's login is chained in master"
    );
    let o = audit(&data, &["verify", "--realm", "au"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "ok: au 4 records");
    let o = audit(&data, &["verify", "--realm", "nope"]);
    assert!(!o.status.success());

    // The export: one line per record, re-checkable with SHA-256 alone.
    let file = data.dir.path().join("audit.jsonl");
    let o = audit(
        &data,
        &[
            "export",
            "--realm",
            "au",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let mut prev = "0".repeat(64);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"], i as i64 + 1);
        assert_eq!(l["realm"], "au");
        assert_eq!(l["prevHash"], prev.as_str());
        let event = l["event"].as_str().unwrap();
        let realm_id = l["realmId"].as_str().unwrap();
        let h = sha256_hex(&format!("{prev}\n{realm_id}\n{}\n{event}", i + 1));
        assert_eq!(l["hash"], h.as_str(), "record {}", i + 1);
        prev = h;
    }
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l["event"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "LOGIN_ERROR");
    assert_eq!(events[0]["error"], "invalid_user_credentials");
    assert_eq!(events[0]["details"]["username"], "alice");
    assert_eq!(events[1]["type"], "LOGIN");
    assert_eq!(events[1]["category"], "USER");
    assert_eq!(events[2]["category"], "ADMIN");
    assert_eq!(events[2]["operationType"], "CREATE");
    assert_eq!(events[2]["resourceType"], "USER");
    assert!(events[2]["resourcePath"]
        .as_str()
        .unwrap()
        .starts_with("users/"));
    assert!(events[2]["authDetails"]["userId"].is_string());
    assert_eq!(events[3]["operationType"], "DELETE");
    assert_eq!(events[3]["resourcePath"], "events");
    // The documentation's independent check agrees.
    let o = doc_script(&data, &file);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout(&o).starts_with("ok: au 4 records, last hash "),
        "{}",
        stdout(&o)
    );
    // Canonical: keys sorted, no white space.
    let e1 = lines[1]["event"].as_str().unwrap();
    assert!(
        e1.starts_with("{\"category\":\"USER\",\"clientId\":\"web\","),
        "{e1}"
    );

    // An edited record is named.
    let edited = sql(
        &data,
        &format!("UPDATE audit_log SET event = REPLACE(event, 'LOGIN_ERROR', 'LOGIN') WHERE realm_id = {AU} AND seq = 1"),
    )
    .await;
    assert_eq!(edited, 1);
    let o = audit(&data, &["verify"]);
    assert!(!o.status.success());
    let out = stdout(&o);
    assert!(out.contains("broken: au sequence 1: hash"), "{out}");
    assert!(
        out.contains("ok: master "),
        "other realms are still checked: {out}"
    );
    // Put back, whole again.
    sql(
        &data,
        &format!("UPDATE audit_log SET event = REPLACE(event, '\"type\":\"LOGIN\"', '\"type\":\"LOGIN_ERROR\"') WHERE realm_id = {AU} AND seq = 1"),
    )
    .await;
    assert!(audit(&data, &["verify", "--realm", "au"]).status.success());
    // An edit with a recomputed hash breaks the next link.
    sql(
        &data,
        &format!(
            "UPDATE audit_log SET hash = '{}' WHERE realm_id = {AU} AND seq = 2",
            "ab".repeat(32)
        ),
    )
    .await;
    let o = audit(&data, &["verify", "--realm", "au"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("broken: au sequence 2: hash"),
        "{}",
        stdout(&o)
    );
    // A deleted record is named.
    sql(
        &data,
        &format!("DELETE FROM audit_log WHERE realm_id = {AU} AND seq = 2"),
    )
    .await;
    let o = audit(&data, &["verify", "--realm", "au"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("broken: au sequence 2: record missing"),
        "{}",
        stdout(&o)
    );
    // The last record cut off is named too (the chain head counts it).
    sql(
        &data,
        &format!("DELETE FROM audit_log WHERE realm_id = {AU} AND seq >= 2"),
    )
    .await;
    let o = audit(&data, &["verify", "--realm", "au"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("broken: au sequence 2: record missing (the chain head counts 4"),
        "{}",
        stdout(&o)
    );
    data.cleanup().await;
}

#[tokio::test]
async fn the_trail_is_verified_and_names_the_broken_record_sqlite() {
    the_trail_is_verified_and_names_the_broken_record(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_trail_is_verified_and_names_the_broken_record_postgres() {
    the_trail_is_verified_and_names_the_broken_record(Backend::Postgres).await;
}

/// With `--audit-enabled=false` nothing is chained.
#[tokio::test]
async fn the_trail_can_be_switched_off() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm();
    r["eventsEnabled"] = json!(true);
    write_realms(&data, &[r]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &["--import-realm", "--audit-enabled", "false"],
        &[],
    )
    .unwrap();
    let (s, _, _) = post_form(
        &server.url("/realms/au/protocol/openid-connect/token"),
        Some(("web", "web-secret")),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_eq!(s, 401);
    // Once the realm's stored event is there, the writer has seen the failed login.
    let admin = admin_token(&server).await;
    let mut stored = 0;
    for _ in 0..200 {
        let (_, list, _) = call(
            &server,
            "GET",
            "/admin/realms/au/events",
            Some(&admin),
            None,
        )
        .await;
        stored = list.as_array().map(Vec::len).unwrap_or(0);
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored, 1);
    drop(server);
    let o = audit(&data, &["verify"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "", "no chain at all");
    assert_eq!(au_records(&data).await, 0);
}

/// Two nodes (two stores on one PostgreSQL schema) appending to the same realm's chain at the
/// same time never fork it: the sequence runs 1..n without a gap and every link holds.
#[tokio::test]
async fn two_nodes_append_to_one_chain_without_forking_it() {
    use std::sync::Arc;

    use portcullis::store::{AuditEntry, PostgresStore, Store};
    let Some(schema) = pg_schema().await else {
        return;
    };
    let a: Arc<dyn Store> = Arc::new(
        PostgresStore::connect(&pg_url(), Some(&schema), 4)
            .await
            .unwrap(),
    );
    let b: Arc<dyn Store> = Arc::new(
        PostgresStore::connect(&pg_url(), Some(&schema), 4)
            .await
            .unwrap(),
    );
    let entry = |node: &str, i: usize, realm: &str| AuditEntry {
        realm_id: realm.into(),
        realm_name: realm.into(),
        time: i as i64,
        event: format!("{{\"node\":\"{node}\",\"i\":{i}}}"),
    };
    let mut tasks = Vec::new();
    for i in 0..20 {
        for (node, store) in [("a", a.clone()), ("b", b.clone())] {
            // Batches naming both realms, in either order: each node locks both heads (in
            // realm id order, so the two never wait on each other in a cycle).
            let batch = if i % 2 == 0 {
                vec![
                    entry(node, i, "r1"),
                    entry(node, i, "r2"),
                    entry(node, i, "r1"),
                ]
            } else {
                vec![entry(node, i, "r2"), entry(node, i, "r1")]
            };
            tasks.push(tokio::spawn(async move {
                store.append_audit(&batch).await.unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let verdicts = portcullis::events::audit::verify(a.as_ref(), None)
        .await
        .unwrap();
    let text: Vec<String> = verdicts.iter().map(|v| v.to_string()).collect();
    assert_eq!(text, vec!["ok: r1 60 records", "ok: r2 40 records"]);
    drop_schema(&schema).await;
}

/// A deleted realm's trail is kept: its deletion is its last record, and `verify --realm`
/// still finds it by the name it was written under.
#[tokio::test]
async fn a_deleted_realms_trail_is_kept_and_ends_with_its_deletion() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let (s, _, _) = post_form(
        &server.url("/realms/au/protocol/openid-connect/token"),
        Some(("web", "web-secret")),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_eq!(s, 401);
    let admin = admin_token(&server).await;
    let (_, rep, _) = call(&server, "GET", "/admin/realms/au", Some(&admin), None).await;
    let id = rep["id"].as_str().unwrap().to_string();
    let (s, _, _) = call(&server, "DELETE", "/admin/realms/au", Some(&admin), None).await;
    assert_eq!(s, 204);
    let count = format!("SELECT COUNT(*) FROM audit_log WHERE realm_id = '{id}'");
    let url = format!(
        "sqlite://{}",
        data.dir.path().join("portcullis.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut n: i64 = 0;
    for _ in 0..200 {
        n = sqlx::query_scalar(&count).fetch_one(&pool).await.unwrap();
        if n >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(n, 2);
    let last: String = sqlx::query_scalar(&format!(
        "SELECT event FROM audit_log WHERE realm_id = '{id}' AND seq = 2"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["operationType"], "DELETE");
    assert_eq!(last["resourceType"], "REALM");
    assert!(last.get("resourcePath").is_none());
    drop(server);
    let o = audit(&data, &["verify", "--realm", "au"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).trim(), "ok: au 2 records");
}

/// The security events of a realm with login events off reach the chain: a lockout, a
/// password reset and a role granted through the Admin API, read back with `audit export`;
/// a request body (with admin event details on) is chained as its hash only.
#[tokio::test]
async fn lockouts_password_resets_and_role_grants_are_chained() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm();
    r["bruteForceProtected"] = json!(true);
    r["failureFactor"] = json!(2);
    r["roles"] = json!({"realm": [{"name": "auditor"}]});
    r["adminEventsEnabled"] = json!(true);
    r["adminEventsDetailsEnabled"] = json!(true);
    let server = start_with(&data, &[r]).await;
    let token = server.url("/realms/au/protocol/openid-connect/token");
    for pw in ["wrong", "wrong", "alice-pw"] {
        let (s, _, _) = post_form(
            &token,
            Some(("web", "web-secret")),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", pw),
            ],
        )
        .await;
        assert!(s == 400 || s == 401, "{s}");
    }
    let admin = admin_token(&server).await;
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/au/users?username=alice&exact=true",
        Some(&admin),
        None,
    )
    .await;
    let alice = users[0]["id"].as_str().unwrap().to_string();
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/au/users/{alice}/reset-password"),
        Some(&admin),
        Some(json!({"type": "password", "value": "new-pw-123", "temporary": false})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, role, _) = call(
        &server,
        "GET",
        "/admin/realms/au/roles/auditor",
        Some(&admin),
        None,
    )
    .await;
    let (s, _, _) = call(
        &server,
        "POST",
        &format!("/admin/realms/au/users/{alice}/role-mappings/realm"),
        Some(&admin),
        Some(json!([role])),
    )
    .await;
    assert_eq!(s, 204);
    // Three login failures, the lockout (`USER_DISABLED_BY_TEMPORARY_LOCKOUT`), the password
    // reset and the role grant.
    for _ in 0..200 {
        if au_records(&data).await >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
    let o = audit(&data, &["export", "--realm", "au"]);
    assert!(o.status.success());
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| {
            let line: Value = serde_json::from_str(l).unwrap();
            serde_json::from_str(line["event"].as_str().unwrap()).unwrap()
        })
        .collect();
    let errors: Vec<&str> = events.iter().filter_map(|e| e["error"].as_str()).collect();
    assert_eq!(
        errors,
        vec![
            "invalid_user_credentials",
            "invalid_user_credentials",
            "user_temporarily_disabled"
        ],
        "{events:?}"
    );
    let admin_ops: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["category"] == "ADMIN")
        .map(|e| {
            (
                e["operationType"].as_str().unwrap().to_string(),
                e["resourceType"].as_str().unwrap().to_string(),
                e["resourcePath"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        admin_ops,
        vec![
            (
                "ACTION".to_string(),
                "USER".to_string(),
                format!("users/{alice}/reset-password")
            ),
            (
                "CREATE".to_string(),
                "REALM_ROLE_MAPPING".to_string(),
                format!("users/{alice}/role-mappings/realm")
            ),
        ]
    );
    let admin_events: Vec<&Value> = events.iter().filter(|e| e["category"] == "ADMIN").collect();
    assert!(
        admin_events[0].get("representationSha256").is_none(),
        "a password reset has no representation, as in Keycloak"
    );
    assert_eq!(
        admin_events[1]["representationSha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    let url = format!(
        "sqlite://{}",
        data.dir.path().join("portcullis.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let leaked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM admin_event_entity WHERE representation LIKE '%new-pw-123%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(leaked, 0, "nor is the password in the stored admin events");
    assert!(
        !stdout(&o).contains("new-pw-123"),
        "a password in a request body never reaches the trail"
    );
    assert!(audit(&data, &["verify"]).status.success());
}
