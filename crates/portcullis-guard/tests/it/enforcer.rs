//! The policy enforcer against a real Portcullis process (`start-dev`, SQLite, the repository's
//! `realms/event-platform-authz.json` imported: seed 000's `event`/`ticket`/`order` resource
//! server `event-api`, a `TENANT_MEMBER` and a `TENANT_ADMIN`).
//!
//! The `portcullis` binary is found beside this test's executable (`cargo build -p portcullis`
//! or `cargo test --workspace` builds it). Without it a test prints SKIPPED, and fails in CI.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request};
use axum::routing::get;
use axum::{Extension, Json, Router};
use portcullis_guard::enforcer::AuthorizationContext;
use portcullis_guard::{
    Actor, PolicyEnforcer, PolicyEnforcerConfig, PolicyEnforcerLayer, Validator,
};
use serde_json::{json, Value};
use tower::ServiceExt as _;

const REALM: &str = "event-platform-authz";
const CLIENT: &str = "event-api";
const SECRET: &str = "event-api-secret-change-me";

/// A Portcullis process, killed on drop.
pub struct Portcullis {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Portcullis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn portcullis_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("portcullis");
    bin.is_file().then_some(bin)
}

/// Starts Portcullis with the example realm imported, or `None` (SKIPPED) without the binary.
pub fn start() -> Option<Portcullis> {
    let Some(bin) = portcullis_bin() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("the portcullis binary is missing");
        }
        eprintln!("SKIPPED: the portcullis binary is missing (cargo build -p portcullis)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("import")).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../realms/event-platform-authz.json"),
        dir.path().join("import/event-platform-authz.json"),
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
    Some(Portcullis {
        child,
        base,
        _dir: dir,
    })
}

impl Portcullis {
    fn token_endpoint(&self) -> String {
        format!("{}/realms/{REALM}/protocol/openid-connect/token", self.base)
    }

    /// A user's access token (password grant of `event-api`).
    pub async fn login(&self, username: &str, password: &str) -> String {
        let res = reqwest::Client::new()
            .post(self.token_endpoint())
            .form(&[
                ("grant_type", "password"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned()
    }

    pub async fn member(&self) -> String {
        self.login("member", "member-password-change-me").await
    }

    pub async fn admin(&self) -> String {
        self.login("tenant-admin", "tenant-admin-password-change-me")
            .await
    }

    /// The UMA grant with a ticket: (status, body).
    async fn exchange_ticket(&self, token: &str, ticket: &str) -> (u16, Value) {
        let res = reqwest::Client::new()
            .post(self.token_endpoint())
            .bearer_auth(token)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:uma-ticket"),
                ("ticket", ticket),
            ])
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    pub fn validator(&self) -> Arc<Validator> {
        Arc::new(
            Validator::builder()
                .issuer(format!("{}/realms/{REALM}", self.base))
                .audience(CLIENT)
                .accept_azp_as_audience(true)
                .build()
                .unwrap(),
        )
    }

    /// `policy-enforcer.json` for `event-api` with `extra` merged in.
    pub fn config(&self, extra: Value) -> PolicyEnforcerConfig {
        let mut c = json!({
            "realm": REALM,
            "auth-server-url": self.base,
            "resource": CLIENT,
            "credentials": {"secret": SECRET},
            "paths": [
                {"name": "event", "path": "/events/*", "methods": [
                    {"method": "GET", "scopes": ["event:read"]},
                    {"method": "POST", "scopes": ["event:manage"]},
                    {"method": "PUT", "scopes": ["event:read", "event:manage"], "scopes-enforcement-mode": "ANY"},
                    {"method": "PATCH", "scopes": ["event:manage"], "scopes-enforcement-mode": "DISABLED"}
                ]},
                {"name": "ticket", "path": "/tickets/{id}", "methods": [
                    {"method": "GET", "scopes": ["ticket:read"]},
                    {"method": "DELETE", "scopes": ["ticket:manage"]}
                ]},
                {"name": "order", "path": "/orders", "scopes": ["order:manage"]},
                {"path": "/health", "enforcement-mode": "DISABLED"}
            ]
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        PolicyEnforcerConfig::from_json(&c.to_string()).unwrap()
    }
}

async fn context(
    ctx: Option<Extension<AuthorizationContext>>,
    actor: Option<Extension<Actor>>,
) -> Json<Value> {
    let ctx = ctx.map(|c| c.0).unwrap_or_default();
    Json(json!({
        "resource": ctx.resource,
        "permissions": ctx.permissions,
        "sub": actor.map(|a| a.0.sub),
    }))
}

pub fn app(enforcer: Arc<PolicyEnforcer>) -> Router {
    app_with(enforcer, Router::new())
}

/// The routes of [`app`] and `extra`, all behind the enforcer.
pub fn app_with(enforcer: Arc<PolicyEnforcer>, extra: Router) -> Router {
    let any = get(context)
        .post(context)
        .put(context)
        .patch(context)
        .delete(context);
    Router::new()
        .route("/events", any.clone())
        .route("/events/{id}", any.clone())
        .route("/tickets/{id}", any.clone())
        .route("/orders", any.clone())
        .route("/health", any.clone())
        .route("/other", any)
        .merge(extra)
        .layer(PolicyEnforcerLayer::new(enforcer))
}

/// (status, `WWW-Authenticate`, JSON body or Null).
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        challenge,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn members_read_and_admins_manage() {
    let Some(kc) = start() else { return };
    let enforcer = Arc::new(
        PolicyEnforcer::builder(kc.config(json!({})), kc.validator())
            .build()
            .await
            .unwrap(),
    );
    // Every configured name was resolved to the server's resource.
    assert!(enforcer
        .paths()
        .iter()
        .filter(|(p, _)| p != "/health")
        .all(|(_, id)| id.is_some()));
    let app = app(enforcer.clone());
    let (member, admin) = (kc.member().await, kc.admin().await);

    let (status, _, body) = call(&app, "GET", "/events", Some(&member)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "event");
    assert_eq!(body["permissions"][0]["rsname"], "event");
    assert_eq!(body["permissions"][0]["scopes"], json!(["event:read"]));
    assert_eq!(call(&app, "GET", "/events/17", Some(&member)).await.0, 200);
    // POST needs event:manage: the member is denied, the admin allowed.
    let (status, challenge, _) = call(&app, "POST", "/events", Some(&member)).await;
    assert_eq!((status, challenge), (403, None));
    assert_eq!(call(&app, "POST", "/events", Some(&admin)).await.0, 200);
    // ANY: event:read suffices for PUT; DISABLED: PATCH passes though event:manage is not granted.
    assert_eq!(call(&app, "PUT", "/events/1", Some(&member)).await.0, 200);
    assert_eq!(call(&app, "PATCH", "/events/1", Some(&member)).await.0, 200);
    // A `{id}` template: ticket:read for GET, ticket:manage for DELETE.
    assert_eq!(call(&app, "GET", "/tickets/9", Some(&member)).await.0, 200);
    assert_eq!(
        call(&app, "DELETE", "/tickets/9", Some(&member)).await.0,
        403
    );
    assert_eq!(
        call(&app, "DELETE", "/tickets/9", Some(&admin)).await.0,
        200
    );
    // A method without a `methods` entry needs one of the path's scopes.
    assert_eq!(call(&app, "GET", "/orders", Some(&member)).await.0, 403);
    assert_eq!(call(&app, "GET", "/orders", Some(&admin)).await.0, 200);
    // Normalization: a dot segment does not escape to another path's rules.
    assert_eq!(
        call(&app, "GET", "/events/../orders", Some(&member))
            .await
            .0,
        403
    );

    // ENFORCING: a path with no configuration is denied even to the admin.
    assert_eq!(call(&app, "GET", "/other", Some(&admin)).await.0, 403);
    // A DISABLED path needs no token; every other path needs a valid one.
    assert_eq!(call(&app, "GET", "/health", None).await.0, 200);
    let (status, challenge, _) = call(&app, "GET", "/events", None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    let forged = format!("{}x", &member[..member.len() - 1]);
    let (status, challenge, _) = call(&app, "GET", "/events", Some(&forged)).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some("Bearer error=\"invalid_token\""))
    );
}

#[tokio::test]
async fn decisions_are_cached_per_token_and_permission() {
    let Some(kc) = start() else { return };
    let enforcer = Arc::new(
        PolicyEnforcer::builder(kc.config(json!({})), kc.validator())
            .build()
            .await
            .unwrap(),
    );
    let app = app(enforcer.clone());
    let member = kc.member().await;
    assert_eq!(enforcer.cached_decision_count(), 0);
    assert_eq!(call(&app, "GET", "/events", Some(&member)).await.0, 200);
    assert_eq!(call(&app, "GET", "/events/2", Some(&member)).await.0, 200);
    assert_eq!(
        enforcer.cached_decision_count(),
        1,
        "same token, resource and scopes"
    );
    // A denial is a decision too.
    assert_eq!(call(&app, "POST", "/events", Some(&member)).await.0, 403);
    assert_eq!(call(&app, "POST", "/events", Some(&member)).await.0, 403);
    assert_eq!(enforcer.cached_decision_count(), 2);
    // Another token of the same user is asked about on its own.
    let second = kc.member().await;
    assert_eq!(call(&app, "GET", "/events", Some(&second)).await.0, 200);
    assert_eq!(enforcer.cached_decision_count(), 3);

    // With a zero TTL nothing is kept.
    let uncached = Arc::new(
        PolicyEnforcer::builder(kc.config(json!({})), kc.validator())
            .decision_ttl(std::time::Duration::ZERO)
            .build()
            .await
            .unwrap(),
    );
    let app = self::app(uncached.clone());
    assert_eq!(call(&app, "GET", "/events", Some(&member)).await.0, 200);
    assert_eq!(uncached.cached_decision_count(), 0);
}

#[tokio::test]
async fn user_managed_access_answers_with_a_uma_ticket() {
    let Some(kc) = start() else { return };
    let enforcer = Arc::new(
        PolicyEnforcer::builder(
            kc.config(json!({"user-managed-access": {}})),
            kc.validator(),
        )
        .build()
        .await
        .unwrap(),
    );
    let app = app(enforcer);
    let (member, admin) = (kc.member().await, kc.admin().await);

    // A plain access token carries no permissions: 401 with a permission ticket.
    let (status, challenge, _) = call(&app, "POST", "/events", Some(&admin)).await;
    assert_eq!(status, 401);
    let challenge = challenge.unwrap();
    let prefix = format!(
        "UMA realm=\"{REALM}\",as_uri=\"{}/realms/{REALM}\",ticket=\"",
        kc.base
    );
    assert!(challenge.starts_with(&prefix), "{challenge}");
    let ticket = challenge[prefix.len()..].trim_end_matches('"').to_owned();
    assert_eq!(ticket.split('.').count(), 3, "a JWT: {ticket}");

    // The member cannot turn the ticket into an RPT; the admin can, and the RPT passes.
    let (status, body) = kc.exchange_ticket(&member, &ticket).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = kc.exchange_ticket(&admin, &ticket).await;
    assert_eq!(status, 200, "{body}");
    let rpt = body["access_token"].as_str().unwrap();
    let (status, _, body) = call(&app, "POST", "/events", Some(rpt)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["permissions"][0]["scopes"], json!(["event:manage"]));
    // The RPT names event:manage only: reading needs another ticket.
    let (status, challenge, _) = call(&app, "GET", "/events", Some(rpt)).await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap().starts_with("UMA "));
}

#[tokio::test]
async fn permissive_mode_and_start_up_errors() {
    let Some(kc) = start() else { return };
    let permissive = Arc::new(
        PolicyEnforcer::builder(
            kc.config(json!({"enforcement-mode": "PERMISSIVE"})),
            kc.validator(),
        )
        .build()
        .await
        .unwrap(),
    );
    let app = app(permissive);
    let member = kc.member().await;
    // No configuration for the path: PERMISSIVE lets it through, configured paths still enforce.
    assert_eq!(call(&app, "GET", "/other", Some(&member)).await.0, 200);
    assert_eq!(call(&app, "POST", "/events", Some(&member)).await.0, 403);
    assert_eq!(call(&app, "GET", "/other", None).await.0, 401);

    // A resource name that the server does not have stops the start-up with a clear error.
    let mut bad = kc.config(json!({}));
    bad.paths[0].name = Some("no-such-resource".into());
    let err = PolicyEnforcer::builder(bad, kc.validator())
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-resource"), "{err}");
    // So does a wrong client secret (no PAT).
    let mut bad = kc.config(json!({}));
    bad.credentials.insert("secret".into(), json!("wrong"));
    assert!(PolicyEnforcer::builder(bad, kc.validator())
        .build()
        .await
        .is_err());
}

#[tokio::test]
async fn lazy_loaded_paths_find_resources_by_uri() {
    let Some(kc) = start() else { return };
    // The resource server registers a resource with a URI pattern and lets members read it.
    let http = reqwest::Client::new();
    let pat: Value = http
        .post(kc.token_endpoint())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pat = pat["access_token"].as_str().unwrap();
    let protection = format!("{}/realms/{REALM}/authz/protection", kc.base);
    let res = http
        .post(format!("{protection}/resource_set"))
        .bearer_auth(pat)
        .json(
            &json!({"name": "reports", "uris": ["/reports/*"], "ownerManagedAccess": true,
                      "resource_scopes": ["event:read"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let rid = res.json::<Value>().await.unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = http
        .post(format!("{protection}/uma-policy/{rid}"))
        .bearer_auth(pat)
        .json(&json!({"name": "members-read-reports", "scopes": ["event:read"], "roles": ["TENANT_MEMBER"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    let (member, admin) = (kc.member().await, kc.admin().await);
    let lazy = Arc::new(
        PolicyEnforcer::builder(kc.config(json!({"lazy-load-paths": true})), kc.validator())
            .build()
            .await
            .unwrap(),
    );
    let app_lazy = app_with(lazy, Router::new().route("/reports/{id}", get(context)));
    let (status, _, body) = call(&app_lazy, "GET", "/reports/7", Some(&member)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "reports");
    assert_eq!(
        call(&app_lazy, "GET", "/reports/7", Some(&admin)).await.0,
        403
    );
    // Configured paths keep their own resources.
    assert_eq!(
        call(&app_lazy, "GET", "/events", Some(&member)).await.0,
        200
    );

    // Without lazy loading the path has no configuration: denied.
    let eager = Arc::new(
        PolicyEnforcer::builder(kc.config(json!({})), kc.validator())
            .build()
            .await
            .unwrap(),
    );
    let app_eager = app_with(eager, Router::new().route("/reports/{id}", get(context)));
    assert_eq!(
        call(&app_eager, "GET", "/reports/7", Some(&member)).await.0,
        403
    );

    // No enforced path and no lazy loading: every resource with URIs becomes a path at
    // start-up; the seed's resources have no URIs, so their routes have no configuration.
    let all = Arc::new(
        PolicyEnforcer::builder(kc.config(json!({"paths": []})), kc.validator())
            .build()
            .await
            .unwrap(),
    );
    assert_eq!(
        all.paths(),
        vec![("/reports/*".to_string(), Some(rid.clone()))]
    );
    let app_all = app_with(all, Router::new().route("/reports/{id}", get(context)));
    assert_eq!(
        call(&app_all, "GET", "/reports/7", Some(&member)).await.0,
        200
    );
    assert_eq!(
        call(&app_all, "GET", "/reports/7", Some(&admin)).await.0,
        403
    );
    assert_eq!(call(&app_all, "GET", "/events", Some(&member)).await.0, 403);
}
