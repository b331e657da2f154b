//! A real SMTP server for the e-mail tests: `tests/smtp-sink/sink.py` (aiosmtpd) in the venv
//! `scripts/smtp-sink-venv.sh` makes (`target/smtp-venv`, or the Python in
//! `PORTCULLIS_TEST_PYTHON`). Each delivered mail is a JSON file: envelope, decoded headers,
//! text and HTML parts. Without the venv a test is skipped with a message, unless `CI=true`:
//! then it fails.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PORTCULLIS_TEST_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/smtp-venv/bin/python");
    p.exists().then_some(p)
}

impl SmtpSink {
    /// Starts a sink (with AUTH when `credentials` are given), or `None` (skip) when the venv
    /// is missing outside CI.
    pub fn start(credentials: Option<(&str, &str)>) -> Option<SmtpSink> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let Some(py) = python() else {
            assert!(
                !ci,
                "CI=true but the SMTP sink's venv is missing: run scripts/smtp-sink-venv.sh"
            );
            eprintln!("skipped: no SMTP sink (run scripts/smtp-sink-venv.sh)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp-sink/sink.py");
        let mut cmd = Command::new(py);
        cmd.arg(script).arg(dir.path());
        if let Some((u, p)) = credentials {
            cmd.args(["--user", u, "--password", p]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SMTP sink starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the SMTP sink did not start (aiosmtpd missing?): {line:?}")
        });
        Some(SmtpSink { child, port, dir })
    }

    /// The mails delivered so far, in order.
    pub fn mails(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until `n` mails have arrived (they leave the server from a background task) and
    /// returns them; panics after a generous wait.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..600 {
            let m = self.mails();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("expected {n} mails, got {}", self.mails().len());
    }

    /// The realm's `smtpServer` settings for this sink.
    pub fn settings(&self, from: &str) -> Value {
        serde_json::json!({"host": "127.0.0.1", "port": self.port.to_string(), "from": from})
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first link to `/login-actions/action-token` (or any `href`) in a mail's text part.
pub fn action_link(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    text.split_whitespace()
        .find(|w| w.starts_with("http") && w.contains("/login-actions/action-token?key="))
        .unwrap_or_else(|| panic!("no action-token link in {text}"))
        .to_string()
}
