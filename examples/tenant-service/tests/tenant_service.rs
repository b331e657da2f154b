//! The tenant service against a real Portcullis process (SQLite store, `start-dev`, the
//! repository's `realms/platform-realm.json` imported) and a real PostgreSQL (a fresh schema
//! per test), over HTTP.
//!
//! The `portcullis` binary is found beside this test's executable: `cargo test --workspace`
//! builds it. Without it (or without PostgreSQL) a test prints SKIPPED, and fails in CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};
use tenant_service::config::Config;
use tenant_service::portcullis::AdminCredentials;

const PLATFORM_SECRET: &str = "platform-services-secret-change-me";
const PROVISIONER: &str = "tenant-provisioner";

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn skip(why: &str) {
    if in_ci() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// The `portcullis` binary beside this test's (`target/debug/portcullis`).
fn portcullis_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("portcullis");
    bin.is_file().then_some(bin)
}

fn pg_url() -> String {
    std::env::var("PORTCULLIS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A Portcullis process, killed on drop.
struct Portcullis {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Portcullis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_portcullis(bin: &PathBuf) -> Portcullis {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("import")).unwrap();
    std::fs::copy(
        repo_file("realms/platform-realm.json"),
        dir.path().join("import/platform-realm.json"),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .args([
            "start-dev",
            "--import-realm",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            "0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin")
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "portcullis did not start ({e}): {}",
            std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
        )
    });
    let base = format!("http://{}", started["http"].as_str().unwrap());
    Portcullis {
        child,
        base,
        _dir: dir,
    }
}

async fn form_token(
    base: &str,
    realm: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{base}/realms/{realm}/protocol/openid-connect/token"
        ))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn bootstrap_admin_token(base: &str) -> String {
    let (status, body) = form_token(
        base,
        "master",
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", "admin"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Calls `method path` with a bearer token; (status, JSON body or Null).
async fn call(
    method: &str,
    url: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// What an operator does once per Portcullis: a master-realm confidential client whose
/// service account holds master's `admin` role (only master-realm accounts may create realms,
/// as in Keycloak). (Not a lightweight-token client: a client-credentials token has no session,
/// so a lightweight one would carry no `sub` for the Admin API to find its caller by.)
async fn create_provisioner(base: &str) -> String {
    let admin = bootstrap_admin_token(base).await;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let (status, body) = call(
        "POST",
        &format!("{base}/admin/realms/master/clients"),
        &admin,
        Some(json!({"clientId": PROVISIONER, "publicClient": false, "secret": secret,
            "serviceAccountsEnabled": true, "standardFlowEnabled": false, "directAccessGrantsEnabled": false})),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Service accounts are not listed by user searches (as in Keycloak): through the client.
    let (_, clients) = call(
        "GET",
        &format!("{base}/admin/realms/master/clients?clientId={PROVISIONER}"),
        &admin,
        None,
        &[],
    )
    .await;
    let cid = clients[0]["id"].as_str().unwrap().to_owned();
    let (_, user) = call(
        "GET",
        &format!("{base}/admin/realms/master/clients/{cid}/service-account-user"),
        &admin,
        None,
        &[],
    )
    .await;
    let uid = user["id"].as_str().unwrap().to_owned();
    let (_, role) = call(
        "GET",
        &format!("{base}/admin/realms/master/roles/admin"),
        &admin,
        None,
        &[],
    )
    .await;
    let (status, body) = call(
        "POST",
        &format!("{base}/admin/realms/master/users/{uid}/role-mappings/realm"),
        &admin,
        Some(json!([role])),
        &[],
    )
    .await;
    assert_eq!(status, 204, "{body}");
    secret
}

/// Portcullis, a PostgreSQL schema, the tenant service on an ephemeral port.
struct Env {
    portcullis: Portcullis,
    config: Config,
    service: String,
    pool: sqlx::PgPool,
    schema: String,
}

impl Env {
    async fn start() -> Option<Env> {
        let Some(bin) = portcullis_bin() else {
            skip("no portcullis binary beside this test; run `cargo test --workspace` or `cargo build -p portcullis`");
            return None;
        };
        if let Err(e) = sqlx::PgPool::connect(&pg_url()).await {
            skip(&format!("PostgreSQL at {} does not answer: {e}", pg_url()));
            return None;
        }
        let portcullis = start_portcullis(&bin);
        let secret = create_provisioner(&portcullis.base).await;
        let schema = format!("ts_{}", uuid::Uuid::new_v4().simple());
        let config = Config {
            portcullis_url: portcullis.base.clone(),
            issuer_base: portcullis.base.clone(),
            admin_credentials: AdminCredentials {
                realm: "master".into(),
                client_id: PROVISIONER.into(),
                client_secret: secret,
            },
            platform_client: ("platform-services".into(), Some(PLATFORM_SECRET.into())),
            database_url: pg_url(),
            database_schema: Some(schema.clone()),
            host: "127.0.0.1".into(),
            port: 0,
            insecure_allow_http_issuer: false,
        };
        let (tenants, validator) = tenant_service::build(&config, None).await.unwrap();
        let pool = tenants.store.pool().clone();
        let app = tenant_service::api::router(tenants, validator);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let service = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Some(Env {
            portcullis,
            config,
            service,
            pool,
            schema,
        })
    }

    fn base(&self) -> &str {
        &self.portcullis.base
    }

    async fn platform_token(&self) -> String {
        tenant_service::seed::platform_token(self.base(), "platform-services", PLATFORM_SECRET)
            .await
            .unwrap()
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let t = bootstrap_admin_token(self.base()).await;
        call(method, &format!("{}{path}", self.base()), &t, body, &[]).await
    }

    async fn service(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        call(
            method,
            &format!("{}{path}", self.service),
            token,
            body,
            headers,
        )
        .await
    }

    /// Clears `UPDATE_PASSWORD` (as the user would by changing the password at first login)
    /// and logs the user in with the password grant on `admin-console`.
    async fn login(&self, realm: &str, username: &str, password: &str) -> String {
        let (_, users) = self
            .admin(
                "GET",
                &format!("/admin/realms/{realm}/users?exact=true&username={username}"),
                None,
            )
            .await;
        let id = users[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(users[0]["requiredActions"], json!(["UPDATE_PASSWORD"]));
        let (status, body) = self
            .admin(
                "PUT",
                &format!("/admin/realms/{realm}/users/{id}"),
                Some(json!({"requiredActions": []})),
            )
            .await;
        assert_eq!(status, 204, "{body}");
        let (status, body) = form_token(
            self.base(),
            realm,
            None,
            &[
                ("grant_type", "password"),
                ("client_id", "admin-console"),
                ("username", username),
                ("password", password),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn audit(&self, tenant: &str) -> Vec<(String, String, Option<String>, String)> {
        sqlx::query_as(
            "SELECT event_type, action, decision, detail::text FROM audit_events WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    async fn drop_schema(self) {
        let pool = self.pool.clone();
        let schema = self.schema.clone();
        drop(self);
        pool.close().await;
        if let Ok(p) = sqlx::PgPool::connect(&pg_url()).await {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&p)
                .await;
        }
    }
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Runs `tenant-service seed-demo` (the real binary) against the environment.
fn seed_demo(env: &Env) -> String {
    let c = &env.config;
    let out = Command::new(env!("CARGO_BIN_EXE_tenant-service"))
        .arg("seed-demo")
        .env("PORTCULLIS_URL", &c.portcullis_url)
        .env("ADMIN_REALM", &c.admin_credentials.realm)
        .env("ADMIN_CLIENT_ID", &c.admin_credentials.client_id)
        .env("ADMIN_CLIENT_SECRET", &c.admin_credentials.client_secret)
        .env("PLATFORM_CLIENT_SECRET", PLATFORM_SECRET)
        .env("DATABASE_URL", &c.database_url)
        .env("DATABASE_SCHEMA", c.database_schema.as_deref().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "seed-demo failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Seed 001's "Step 5 Acceptance Checklist", end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_checklist() {
    let Some(env) = Env::start().await else {
        return;
    };

    // 1. The platform realm is imported: its service account gets a token with platform_admin.
    let platform = env.platform_token().await;
    let pc = claims(&platform);
    assert_eq!(pc["iss"], format!("{}/realms/platform", env.base()));
    assert!(pc["realm_access"]["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("platform_admin")));

    // 2. seed-demo creates tenant-demo and its users; a second run changes nothing.
    let first = seed_demo(&env);
    assert!(
        first.contains("tenant demo (realm tenant-demo): created"),
        "{first}"
    );
    assert!(first.contains("tenant-services client secret"), "{first}");
    let second = seed_demo(&env);
    assert!(second.contains("already there"), "{second}");
    assert!(!second.contains("temporary password"), "{second}");
    assert!(!second.contains("client secret"), "{second}");
    for role in ["tenant-admin", "officer", "supervisor", "auditor"] {
        assert!(
            second.contains(&format!("user demo-{role} already exists")),
            "{second}"
        );
    }
    let (status, realm) = env.admin("GET", "/admin/realms/tenant-demo", None).await;
    assert_eq!(status, 200);
    assert_eq!(realm["realm"], "tenant-demo");
    let password_of = |user: &str| {
        first
            .lines()
            .find_map(|l| l.strip_prefix(&format!("created user {user} with temporary password ")))
            .unwrap()
            .to_owned()
    };

    // 3. Log in to tenant-demo and obtain a JWT. Before the password change: refused.
    let (status, body) = form_token(
        env.base(),
        "tenant-demo",
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "admin-console"),
            ("username", "demo-officer"),
            ("password", &password_of("demo-officer")),
        ],
    )
    .await;
    assert_eq!(status, 400, "UPDATE_PASSWORD is pending: {body}");
    let officer = env
        .login("tenant-demo", "demo-officer", &password_of("demo-officer"))
        .await;
    let oc = claims(&officer);
    assert_eq!(oc["iss"], format!("{}/realms/tenant-demo", env.base()));
    assert!(
        oc["roles"].as_array().unwrap().contains(&json!("officer")),
        "{oc}"
    );
    assert_eq!(oc["department_id"], "operations", "{oc}");

    // 4. A second tenant through POST /tenants; its confidential client works with the secret
    //    shown once.
    let (status, created) = env
        .service(
            "POST",
            "/tenants",
            &platform,
            Some(json!({"slug": "acme", "departments": ["finance", "legal"]})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["realmName"], "tenant-acme");
    assert_eq!(
        created["issuerUrl"],
        format!("{}/realms/tenant-acme", env.base())
    );
    assert_eq!(
        created["groups"],
        json!(["/departments/finance", "/departments/legal"])
    );
    let secret = created["clients"]["tenant-services"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = form_token(
        env.base(),
        "tenant-acme",
        Some(("tenant-services", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let acme_service = body["access_token"].as_str().unwrap().to_owned();
    let (status, stored) = env
        .service("GET", "/tenants/acme", &platform, None, &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(stored["tenantId"], "acme");
    assert!(stored["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(stored.get("clientSecret").is_none());

    // 5. One service validates tokens of both tenant realms; the tenant comes from the issuer.
    let (status, me) = env.service("GET", "/me", &officer, None, &[]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenantId"], "demo");
    assert_eq!(me["departmentId"], "operations");
    let (status, me) = env.service("GET", "/me", &acme_service, None, &[]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenantId"], "acme");
    assert_eq!(me["realm"], "tenant-acme");

    // 6. A forged X-Tenant-Id is refused; the matching one passes.
    let (status, body) = env
        .service("GET", "/me", &officer, None, &[("X-Tenant-Id", "acme")])
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "tenant_mismatch");
    let (status, _) = env
        .service("GET", "/me", &officer, None, &[("X-Tenant-Id", "demo")])
        .await;
    assert_eq!(status, 200);
    let (status, _) = env
        .service(
            "POST",
            "/tenants/acme/users",
            &officer,
            Some(json!({"username": "x", "roles": ["officer"]})),
            &[("X-Tenant-Id", "acme")],
        )
        .await;
    assert_eq!(status, 403);
    // A token of an issuer outside the pattern (master) is not accepted at all.
    let master = bootstrap_admin_token(env.base()).await;
    let (status, _) = env.service("GET", "/me", &master, None, &[]).await;
    assert_eq!(status, 401);

    // 7. Provisioning is authorized and audited: an officer may not create tenants or users; a
    //    tenant admin may create users in its own tenant only.
    let (status, body) = env
        .service(
            "POST",
            "/tenants",
            &officer,
            Some(json!({"slug": "evil"})),
            &[],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = env.admin("GET", "/admin/realms/tenant-evil", None).await;
    assert_eq!(status, 404);
    let evil = env.audit("evil").await;
    assert_eq!(
        evil.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["REQUEST", "AUTHZ_DECISION"]
    );
    assert_eq!(evil[1].2.as_deref(), Some("DENY"));
    let admin_pw = password_of("demo-tenant-admin");
    let tenant_admin = env
        .login("tenant-demo", "demo-tenant-admin", &admin_pw)
        .await;
    let (status, body) = env
        .service(
            "POST",
            "/tenants/acme/users",
            &tenant_admin,
            Some(json!({"username": "intruder", "roles": ["officer"]})),
            &[],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, user) = env.service("POST", "/tenants/demo/users", &tenant_admin,
        Some(json!({"username": "dora", "roles": ["supervisor", "auditor"], "departmentId": "operations",
            // Keycloak's default user profile requires e-mail and names of users who log in
            // (VERIFY_PROFILE), as the realm template keeps it.
            "email": "dora@demo.example", "firstName": "Dora", "lastName": "Supervisor",
            "temporaryPassword": "Temp-pass-1"})), &[("X-Tenant-Id", "demo")]).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["roles"], json!(["auditor", "supervisor"]));
    assert_eq!(user["requiredActions"], json!(["UPDATE_PASSWORD"]));
    let dora = env.login("tenant-demo", "dora", "Temp-pass-1").await;
    let dc = claims(&dora);
    assert!(
        dc["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("supervisor")),
        "{dc}"
    );
    assert_eq!(dc["department_id"], "operations");
    let (_, groups) = env
        .admin(
            "GET",
            &format!(
                "/admin/realms/tenant-demo/users/{}/groups",
                user["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(groups[0]["path"], "/departments/operations");

    let acme = env.audit("acme").await;
    let kinds: Vec<&str> = acme.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        &kinds[..3],
        ["REQUEST", "AUTHZ_DECISION", "TENANT_CREATED"],
        "{acme:?}"
    );
    assert_eq!(acme[1].2.as_deref(), Some("ALLOW"));
    let demo = env.audit("demo").await;
    let user_created = demo.iter().filter(|e| e.0 == "USER_CREATED").count();
    assert_eq!(user_created, 5, "four demo users and dora: {demo:?}");
    let all: Vec<(String,)> = sqlx::query_as("SELECT detail::text FROM audit_events")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    for (detail,) in &all {
        assert!(
            !detail.contains(&secret),
            "a client secret reached the ledger"
        );
        assert!(
            !detail.contains("Temp-pass-1") && !detail.contains(&admin_pw),
            "a password reached the ledger"
        );
    }
    env.drop_schema().await;
}

/// Bad input: nothing is created half.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_creates_nothing_half() {
    let Some(env) = Env::start().await else {
        return;
    };
    let platform = env.platform_token().await;
    let count = |env: &Env| {
        let pool = env.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tenants")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // Not a valid slug (so not a valid tenant realm name): 400, naming the problem.
    for (slug, says) in [
        ("Bad_Slug", "lower-case"),
        ("a/b", "'/'"),
        ("-x", "start or end"),
        ("", "empty"),
    ] {
        let (status, body) = env
            .service(
                "POST",
                "/tenants",
                &platform,
                Some(json!({"slug": slug})),
                &[],
            )
            .await;
        assert_eq!(status, 400, "{slug}: {body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{slug}: {body}"
        );
    }
    let (status, body) = env
        .service(
            "POST",
            "/tenants",
            &platform,
            Some(json!({"slug": "ok", "departments": ["Bad Dept"]})),
            &[],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = env
        .service(
            "POST",
            "/tenants",
            &platform,
            Some(json!({"slug": "ok", "colour": "red"})),
            &[],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    assert_eq!(count(&env).await, 0);
    let (_, realms) = env
        .admin("GET", "/admin/realms?briefRepresentation=true", None)
        .await;
    let names: Vec<&str> = realms
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["realm"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("tenant-")).count(),
        0,
        "{names:?}"
    );

    // Taken: by this service (409), or by a realm someone else created in Portcullis (409, and
    // that realm is left alone).
    let (status, body) = env
        .service(
            "POST",
            "/tenants",
            &platform,
            Some(json!({"slug": "taken"})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = env
        .service(
            "POST",
            "/tenants",
            &platform,
            Some(json!({"slug": "taken"})),
            &[],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("already exists"),
        "{body}"
    );
    let (status, _) = env
        .admin(
            "POST",
            "/admin/realms",
            Some(json!({"realm": "tenant-foreign", "enabled": true})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = env
        .service(
            "POST",
            "/tenants",
            &platform,
            Some(json!({"slug": "foreign"})),
            &[],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("tenant-foreign"),
        "{body}"
    );
    let (status, _) = env.admin("GET", "/admin/realms/tenant-foreign", None).await;
    assert_eq!(
        status, 200,
        "a realm the service did not create is never deleted"
    );
    assert_eq!(count(&env).await, 1);

    // The metadata insert fails after the realm was created: the realm is deleted again.
    sqlx::query(
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.tenant_id = 'boom' THEN RAISE EXCEPTION 'disk full (simulated)'; END IF; RETURN NEW; END $$",
    )
    .execute(&env.pool)
    .await
    .unwrap();
    sqlx::query("CREATE TRIGGER refuse_boom BEFORE INSERT ON tenants FOR EACH ROW EXECUTE FUNCTION refuse_boom()")
        .execute(&env.pool)
        .await
        .unwrap();
    let (status, body) = env
        .service(
            "POST",
            "/tenants",
            &platform,
            Some(json!({"slug": "boom"})),
            &[],
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        !body.to_string().contains("disk full"),
        "internal details stay in the log: {body}"
    );
    let (status, _) = env.admin("GET", "/admin/realms/tenant-boom", None).await;
    assert_eq!(status, 404, "the realm of the failed tenant was deleted");
    let boom = env.audit("boom").await;
    assert!(
        boom.iter()
            .any(|e| e.0 == "TENANT_ROLLED_BACK" && e.3.contains("\"realmDeleted\": true")),
        "{boom:?}"
    );
    assert!(!boom.iter().any(|e| e.0 == "TENANT_CREATED"));
    assert_eq!(count(&env).await, 1);

    // Users: unknown role, unknown department (the user created first is removed again),
    // duplicate user name, unknown tenant.
    let (status, body) = env
        .service(
            "POST",
            "/tenants/taken/users",
            &platform,
            Some(json!({"username": "user-one", "roles": ["root"]})),
            &[],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("root"));
    let (status, body) = env
        .service(
            "POST",
            "/tenants/taken/users",
            &platform,
            Some(json!({"username": "user-one", "roles": ["officer"], "departmentId": "nowhere"})),
            &[],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/departments/nowhere"),
        "{body}"
    );
    let (_, users) = env
        .admin(
            "GET",
            "/admin/realms/tenant-taken/users?exact=true&username=user-one",
            None,
        )
        .await;
    assert_eq!(users, json!([]), "the half-created user was removed");
    let (status, _) = env
        .service(
            "POST",
            "/tenants/taken/users",
            &platform,
            Some(json!({"username": "user-one", "roles": ["officer"]})),
            &[],
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = env
        .service(
            "POST",
            "/tenants/taken/users",
            &platform,
            Some(json!({"username": "user-one", "roles": ["officer"]})),
            &[],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = env
        .service(
            "POST",
            "/tenants/nope/users",
            &platform,
            Some(json!({"username": "user-one"})),
            &[],
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = env
        .service(
            "POST",
            "/tenants",
            "not-a-token",
            Some(json!({"slug": "x"})),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    env.drop_schema().await;
}

/// 200 tenants through the service, then a user of the last one logs in and the service
/// validates that user's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tenants() {
    let Some(env) = Env::start().await else {
        return;
    };
    let platform = Arc::new(env.platform_token().await);
    for i in 0..200 {
        let (status, body) = env
            .service(
                "POST",
                "/tenants",
                &platform,
                Some(json!({"slug": format!("t{i:03}")})),
                &[],
            )
            .await;
        assert_eq!(status, 201, "tenant {i}: {body}");
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tenants")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(n, 200);
    let (status, body) = env.service("POST", "/tenants/t199/users", &platform,
        Some(json!({"username": "last", "email": "last@t199.example", "firstName": "Last", "lastName": "Tenant",
                    "roles": ["tenant_admin"], "temporaryPassword": "Last-pass-1"})), &[]).await;
    assert_eq!(status, 201, "{body}");
    let token = env.login("tenant-t199", "last", "Last-pass-1").await;
    let (status, me) = env.service("GET", "/me", &token, None, &[]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenantId"], "t199");
    assert!(
        me["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("tenant_admin")),
        "{me}"
    );
    env.drop_schema().await;
}
