//! Test support: the real `portcullis` binary on an ephemeral port, against a fresh SQLite
//! file or a fresh PostgreSQL schema, and the helpers the test modules share: HTTP calls and
//! tokens ([`http`]), JWTs ([`jwt`]) and a browser posting the login pages ([`browser`]).

#![allow(dead_code)]

pub mod browser;
pub mod credentials;
pub mod events;
pub mod fgap;
pub mod http;
pub mod jwt;
pub mod otp;
pub mod smtp;
pub mod soft_authenticator;

pub use browser::*;
pub use credentials::*;
pub use events::*;
pub use fgap::*;
pub use http::*;
pub use jwt::*;
pub use otp::*;
pub use smtp::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// Which store a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// `tests/fixtures` of this crate: files kept in the repository for the tests.
pub fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Real Keycloak realm exports (`tests/fixtures/keycloak-exports`, sources in its SOURCES.md).
pub fn fixtures_dir() -> PathBuf {
    fixtures_root().join("keycloak-exports")
}

pub fn fixture_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

pub fn pg_url() -> String {
    std::env::var("PORTCULLIS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL schema, or `None` (with a printed reason) when PostgreSQL does not
/// answer outside CI. In CI (`CI=true`) an unreachable PostgreSQL is a failure.
pub async fn pg_schema() -> Option<String> {
    let url = pg_url();
    match sqlx::PgPool::connect(&url).await {
        Ok(pool) => {
            pool.close().await;
            Some(format!("it_{}", uuid::Uuid::new_v4().simple()))
        }
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL at {url} is required in CI: {e}");
            }
            eprintln!(
                "SKIPPED: PostgreSQL at {url} does not answer ({e}); set PORTCULLIS_TEST_PG_URL"
            );
            None
        }
    }
}

pub async fn drop_schema(schema: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(&pg_url()).await {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

/// Where a server keeps its data: the args that point the binary at it.
pub struct Data {
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub schema: Option<String>,
    /// The PostgreSQL URL the server uses, when not [`pg_url`].
    pub db_url: Option<String>,
}

impl Data {
    /// A fresh store; `None` when PostgreSQL is wanted but unavailable outside CI.
    pub async fn new(backend: Backend) -> Option<Data> {
        let schema = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(pg_schema().await?),
        };
        Some(Data {
            dir: tempfile::tempdir().unwrap(),
            backend,
            schema,
            db_url: None,
        })
    }

    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--data-dir".to_string(),
            self.dir.path().display().to_string(),
        ];
        if let Some(schema) = &self.schema {
            a.extend([
                "--db".into(),
                "postgres".into(),
                "--db-url".into(),
                self.db_url.clone().unwrap_or_else(pg_url),
                "--db-schema".into(),
                schema.clone(),
            ]);
        }
        a
    }

    pub fn import_dir(&self) -> PathBuf {
        let d = self.dir.path().join("import");
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Runs an offline command (`import`, `export`) against this store.
    pub fn cli(&self, cmd: &str, extra: &[&str]) -> Output {
        Command::new(BIN)
            .arg(cmd)
            .args(self.args())
            .args(extra)
            .env_remove("KC_DB")
            .output()
            .unwrap()
    }

    /// Exports a realm and parses it.
    pub fn export(&self, realm: &str) -> Value {
        let out = self.dir.path().join(format!(
            "export-{realm}-{}.json",
            uuid::Uuid::new_v4().simple()
        ));
        let o = self.cli(
            "export",
            &[
                "--realm",
                realm,
                "--file",
                out.to_str().unwrap(),
                "--include-secrets",
            ],
        );
        assert!(
            o.status.success(),
            "export failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    }

    pub async fn cleanup(&self) {
        if let Some(s) = &self.schema {
            drop_schema(s).await;
        }
    }
}

/// A running server, killed on drop.
pub struct TestServer {
    pub child: Child,
    pub base: String,
    pub management: Option<String>,
    pub startup_line: Value,
    pub stderr_path: PathBuf,
}

impl TestServer {
    /// Starts `portcullis <mode>` with the data's args plus `extra`, waits for the start-up
    /// line and returns the server, or the process output when it exits first.
    pub fn start(
        data: &Data,
        mode: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<TestServer, String> {
        Self::start_under(&[], data, mode, extra, env)
    }

    /// As [`TestServer::start`], the binary run by `wrapper` (a program and its arguments, the
    /// binary and its own arguments appended), e.g. inside a mount namespace.
    pub fn start_under(
        wrapper: &[&str],
        data: &Data,
        mode: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<TestServer, String> {
        let stderr_path = data
            .dir
            .path()
            .join(format!("server-{}.log", uuid::Uuid::new_v4().simple()));
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.arg(mode)
            .args(data.args())
            .args(["--http-port", "0", "--http-host", "127.0.0.1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        let n = BufReader::new(stdout).read_line(&mut line).unwrap_or(0);
        if n == 0 {
            let _ = child.wait();
            return Err(std::fs::read_to_string(&stderr_path).unwrap_or_default());
        }
        let startup_line: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("bad start-up line {line:?}: {e}"));
            }
        };
        let base = startup_line["http"]
            .as_str()
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let management = startup_line["management"]
            .as_str()
            .map(|a| format!("http://{a}"));
        Ok(TestServer {
            child,
            base,
            management,
            startup_line,
            stderr_path,
        })
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `realms` into the data's import directory as `r0.json`, `r1.json`, ...
pub fn write_realms(data: &Data, realms: &[Value]) {
    for (i, r) in realms.iter().enumerate() {
        std::fs::write(data.import_dir().join(format!("r{i}.json")), r.to_string()).unwrap();
    }
}

/// A `start-dev` server (bootstrap administrator `admin`/`admin`) that imports `realms` at
/// start-up.
pub async fn start_with(data: &Data, realms: &[Value]) -> TestServer {
    write_realms(data, realms);
    TestServer::start(data, "start-dev", &["--import-realm"], &[]).unwrap()
}

/// As [`start_with`], with the test suites' clock (`--testing-clock`), which
/// [`advance_clock`] moves forward instead of a test sleeping.
pub async fn start_with_clock(data: &Data, realms: &[Value]) -> TestServer {
    write_realms(data, realms);
    TestServer::start(
        data,
        "start-dev",
        &["--import-realm", "--testing-clock", "true"],
        &[],
    )
    .unwrap()
}

/// Moves the server's clock `seconds` past the system time (Keycloak's test-suite
/// `PUT /realms/master/testing/time-offset`).
pub async fn advance_clock(server: &TestServer, seconds: i64) {
    let r = client()
        .put(server.url("/realms/master/testing/time-offset"))
        .json(&serde_json::json!({"offset": seconds.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["offset"], seconds.to_string());
}

/// Every field of `small` is in `big` with the same value; arrays match element-wise in any
/// order, and `big` may have more elements (defaults added on import). Returns the first
/// difference.
pub fn contained(small: &Value, big: &Value, path: &str) -> Result<(), String> {
    match (small, big) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => contained(v, w, &p)?,
                    None => return Err(format!("{p}: missing")),
                }
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, v) in a.iter().enumerate() {
                if !b.iter().any(|w| contained(v, w, "").is_ok()) {
                    let best = b.get(i).map(|w| {
                        contained(v, w, &format!("{path}[{i}]"))
                            .err()
                            .unwrap_or_default()
                    });
                    return Err(format!(
                        "{path}[{i}]: no matching element ({})",
                        best.unwrap_or_default()
                    ));
                }
            }
            Ok(())
        }
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{path}: {a} != {b}")),
    }
}
