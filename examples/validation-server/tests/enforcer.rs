//! The example's policy enforcer (`POLICY_ENFORCER_CONFIG`, `policy-enforcer.json`) against a
//! real Portcullis process with seed 000's resource server (`realms/event-platform-authz.json`):
//! a `TENANT_MEMBER` reads `event`, `ticket` and `order` and is denied managing them, a
//! `TENANT_ADMIN` does both.
//!
//! The `portcullis` binary is found beside this test's executable (`cargo build -p portcullis`
//! or `cargo test --workspace` builds it). Without it the test prints SKIPPED, and fails in CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const REALM: &str = "event-platform-authz";

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn portcullis_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("portcullis");
    bin.is_file().then_some(bin)
}

/// Starts Portcullis with the example realm; its base URL.
fn start_portcullis(bin: &Path, dir: &Path) -> (Proc, String) {
    std::fs::create_dir_all(dir.join("import")).unwrap();
    std::fs::copy(
        repo("realms/event-platform-authz.json"),
        dir.join("import/event-platform-authz.json"),
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
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "portcullis did not start ({e}): {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        )
    });
    (
        Proc(child),
        format!("http://{}", started["http"].as_str().unwrap()),
    )
}

/// Starts the example with the repository's `policy-enforcer.json` pointed at `base`.
fn start_example(base: &str, dir: &Path) -> (Proc, String) {
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("examples/validation-server/policy-enforcer.json")).unwrap(),
    )
    .unwrap();
    config["auth-server-url"] = Value::String(base.to_owned());
    let path = dir.join("policy-enforcer.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_validation-server"))
        .env("ISSUER", format!("{base}/realms/{REALM}"))
        .env("PORT", "0")
        .env("POLICY_ENFORCER_CONFIG", &path)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("example.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            panic!(
                "the example did not start: {}",
                std::fs::read_to_string(dir.join("example.log")).unwrap_or_default()
            )
        });
    (Proc(child), url.to_owned())
}

async fn login(base: &str, username: &str, password: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!(
            "{base}/realms/{REALM}/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "event-api"),
            ("client_secret", "event-api-secret-change-me"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn call(url: &str, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), format!("{url}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn seed_routes_are_allowed_and_denied_by_the_server() {
    let Some(bin) = portcullis_bin() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("the portcullis binary is missing");
        }
        eprintln!("SKIPPED: the portcullis binary is missing (cargo build -p portcullis)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_kc, base) = start_portcullis(&bin, dir.path());
    let (_example, url) = start_example(&base, dir.path());
    let member = login(&base, "member", "member-password-change-me").await;
    let admin = login(&base, "tenant-admin", "tenant-admin-password-change-me").await;

    for resource in ["event", "ticket", "order"] {
        let list = format!("/{resource}s");
        let one = format!("/{resource}s/42");
        let (status, body) = call(&url, "GET", &list, Some(&member)).await;
        assert_eq!(status, 200, "{list}: {body}");
        assert_eq!(body["resource"], resource);
        assert_eq!(
            body["permissions"][0]["scopes"][0],
            format!("{resource}:read")
        );
        assert_eq!(call(&url, "GET", &one, Some(&member)).await.0, 200, "{one}");
        for method in ["POST", "PUT", "DELETE"] {
            let path = if method == "POST" { &list } else { &one };
            assert_eq!(
                call(&url, method, path, Some(&member)).await.0,
                403,
                "member {method} {path}"
            );
            let (status, body) = call(&url, method, path, Some(&admin)).await;
            assert_eq!(status, 200, "admin {method} {path}: {body}");
            assert_eq!(body["method"], method);
        }
        assert_eq!(call(&url, "GET", &list, None).await.0, 401);
    }
    // The token-only route is unchanged.
    assert_eq!(
        call(&url, "GET", "/protected", Some(&member)).await.0,
        403,
        "no event-platform-backend audience"
    );
}
