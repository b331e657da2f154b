//! Runs the validation-server binary against a local issuer and checks 200/401/403.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use portcullis_guard::testing::{TestIssuer, TestKey};
use serde_json::{json, Value};

const AUD: &str = "event-platform-backend";

/// The running binary; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(issuer: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_validation-server"));
    cmd.env("ISSUER", issuer)
        .env("AUD_REQUIRED", AUD)
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

fn start(issuer: &str) -> Server {
    let mut child = command(issuer).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected start-up line {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    Server { child, base }
}

async fn get(server: &Server, token: Option<&str>) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().get(format!("{}/protected", server.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_answers_200_401_403() {
    let idp = TestIssuer::start().await.unwrap();
    idp.add_realm("event-platform-organizations");
    let key = TestKey::rsa("kc-rsa");
    idp.publish(&key);
    let server = start(&idp.issuer("event-platform-organizations"));

    let valid = idp
        .token("event-platform-organizations", &key)
        .claim("aud", json!([AUD, "account"]))
        .claim("organization", json!({"acme": {"id": "org-42"}}))
        .claim("org_id", "org-42")
        .sign();
    let (status, _, body) = get(&server, Some(&valid)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["sub"], "5f1c7a2e-0000-4000-8000-000000000001");
    assert_eq!(body["org"], json!({"acme": {"id": "org-42"}}));
    assert_eq!(body["org_id"], "org-42");
    assert_eq!(body["scope"], "openid profile email");
    assert_eq!(body["aud"], json!([AUD, "account"]));

    // no token
    let (status, challenge, _) = get(&server, None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    // bad tokens: garbage, expired, signed by an unknown key, another realm
    let expired = idp
        .token("event-platform-organizations", &key)
        .claim("aud", AUD)
        .claim("exp", 1_000)
        .sign();
    let stranger = TestKey::ec_p256("kc-rsa");
    let forged = idp
        .token("event-platform-organizations", &stranger)
        .claim("aud", AUD)
        .sign();
    let other_realm = idp.token("master", &key).claim("aud", AUD).sign();
    for bad in [
        "garbage",
        expired.as_str(),
        forged.as_str(),
        other_realm.as_str(),
    ] {
        let (status, challenge, body) = get(&server, Some(bad)).await;
        assert_eq!(status, 401);
        assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
        assert_eq!(body, json!({"error": "invalid_token"}));
    }
    // valid token, wrong audience
    let wrong_aud = idp
        .token("event-platform-organizations", &key)
        .claim("aud", "account")
        .sign();
    let (status, challenge, _) = get(&server, Some(&wrong_aud)).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (403, Some("Bearer error=\"insufficient_scope\""))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_pattern_serves_every_matching_realm() {
    let idp = TestIssuer::start().await.unwrap();
    idp.add_realm("tenant-a");
    idp.add_realm("tenant-b");
    let key = TestKey::ed25519("ed");
    idp.publish(&key);
    let server = start(&format!("{}/realms/tenant-*", idp.base_url()));
    for realm in ["tenant-a", "tenant-b"] {
        let token = idp.token(realm, &key).claim("aud", AUD).sign();
        let (status, _, body) = get(&server, Some(&token)).await;
        assert_eq!(status, 200, "{realm}: {body}");
    }
    let token = idp.token("tenant-c", &key).claim("aud", AUD).sign();
    assert_eq!(get(&server, Some(&token)).await.0, 401);
}

#[test]
fn refuses_a_plain_http_issuer_on_a_remote_host() {
    let out = command("http://keycloak.example.com/realms/x")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ISSUER"));
}

/// The `portcullis` binary beside this test's (`cargo test --workspace` builds both).
fn portcullis_bin() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let bin = dir.join("portcullis");
    bin.is_file().then_some(bin)
}

/// The example against tokens from a real Portcullis server (client credentials), as the
/// seed's validation-server.js is used against Keycloak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_a_real_portcullis_server() {
    let Some(bin) = portcullis_bin() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("the portcullis binary was not built beside this test (run `cargo test --workspace`)");
        }
        eprintln!("SKIPPED: no portcullis binary beside this test; run `cargo test --workspace`");
        return;
    };
    let data = std::env::temp_dir().join(format!("vs-{}", std::process::id()));
    std::fs::create_dir_all(data.join("import")).unwrap();
    let realm = |name: &str, aud: &str| {
        json!({"realm": name, "clients": [{"clientId": "svc", "secret": "svc-secret", "serviceAccountsEnabled": true,
            "protocolMappers": [{"name": "aud", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                "config": {"included.custom.audience": aud, "access.token.claim": "true"}}]}]})
    };
    std::fs::write(
        data.join("import/a.json"),
        realm("tenant-a", AUD).to_string(),
    )
    .unwrap();
    std::fs::write(
        data.join("import/b.json"),
        realm("tenant-b", "someone-else").to_string(),
    )
    .unwrap();
    let mut idp = Command::new(bin)
        .args([
            "start-dev",
            "--import-realm",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            "0",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(idp.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap();
    let base = format!("http://{}", started["http"].as_str().unwrap());
    let token = |realm: &'static str| {
        let base = base.clone();
        async move {
            let body: Value = reqwest::Client::new()
                .post(format!(
                    "{base}/realms/{realm}/protocol/openid-connect/token"
                ))
                .basic_auth("svc", Some("svc-secret"))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let server = start(&format!("{base}/realms/tenant-*"));
    let (status, _, body) = get(&server, Some(&token("tenant-a").await)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["sub"].is_string());
    let (status, _, _) = get(&server, Some(&token("tenant-b").await)).await;
    assert_eq!(status, 403, "wrong audience");
    let (status, _, _) = get(&server, None).await;
    assert_eq!(status, 401);
    drop(server);
    let _ = idp.kill();
    let _ = idp.wait();
    let _ = std::fs::remove_dir_all(&data);
}
