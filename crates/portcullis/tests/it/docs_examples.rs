//! Every `curl` example in `docs/*.md` runs against a real server with the example realm and
//! answers 2xx with a JSON object (without `error`) or array. A ```sh block whose lines are all `curl ...` or `VAR=$(curl ...)`
//! runs as one shell script; other blocks (server commands) are not run here.

use std::process::Command;

use crate::support::*;

fn is_curl_line(l: &str) -> bool {
    l.starts_with("curl ")
        || (l.contains("=$(curl ")
            && l.split('=')
                .next()
                .is_some_and(|v| v.chars().all(|c| c.is_ascii_uppercase() || c == '_')))
}

#[tokio::test]
async fn curl_examples_in_the_docs_work() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = Data::new(Backend::Sqlite).await.unwrap();
    for f in std::fs::read_dir(root.join("realms")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, data.import_dir().join(f.file_name().unwrap())).unwrap();
    }
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--health-enabled=true",
            "--http-management-port",
            "0",
        ],
        // The administrator of README's `start.sh` (client registration's example uses it).
        &[
            ("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"),
            ("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin"),
        ],
    )
    .unwrap();
    let mut ran = 0;
    for doc in std::fs::read_dir(root.join("docs")).unwrap() {
        let doc = doc.unwrap().path();
        let text = std::fs::read_to_string(&doc).unwrap();
        let mut blocks: Vec<Vec<String>> = Vec::new();
        let mut current: Option<Vec<String>> = None;
        for line in text.lines() {
            if line.starts_with("```") {
                // A fence closes the open sh block, or opens one; other blocks are skipped.
                match current.take() {
                    Some(b) => blocks.push(b),
                    None if line.trim() == "```sh" => current = Some(Vec::new()),
                    None => {}
                }
                continue;
            }
            if let Some(b) = current.as_mut() {
                b.push(line.to_string());
            }
        }
        for block in blocks
            .into_iter()
            .filter(|b| !b.is_empty() && b.iter().all(|l| is_curl_line(l)))
        {
            let mut script = String::from("set -e\n");
            let mut outputs = 0;
            for line in &block {
                let line = line.replace("http://localhost:8080", &server.base);
                if line.starts_with("curl ") {
                    script.push_str(&format!("{line} -f > \"$OUT/{outputs}.json\"\n"));
                    outputs += 1;
                } else {
                    script.push_str(&format!("{line}\n"));
                }
            }
            let out_dir = tempfile::tempdir().unwrap();
            let o = Command::new("bash")
                .arg("-c")
                .arg(&script)
                .env("OUT", out_dir.path())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}: block failed:\n{script}\n{}",
                doc.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            for i in 0..outputs {
                let body = std::fs::read(out_dir.path().join(format!("{i}.json"))).unwrap();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
                    panic!(
                        "{}: example {i} of block did not answer JSON: {e}\n{script}",
                        doc.display()
                    )
                });
                assert!(
                    (v.is_object() && v.get("error").is_none()) || v.is_array(),
                    "{}: {v}",
                    doc.display()
                );
                ran += 1;
            }
        }
    }
    assert!(ran >= 8, "only {ran} examples ran");
}
