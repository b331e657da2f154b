//! Every `curl` example in `docs/*.md` runs against a real server with the example realm and
//! answers 2xx with JSON.

use std::process::Command;

use crate::support::*;

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
        &[],
    )
    .unwrap();
    let mut ran = 0;
    for doc in std::fs::read_dir(root.join("docs")).unwrap() {
        let doc = doc.unwrap().path();
        let text = std::fs::read_to_string(&doc).unwrap();
        let mut in_sh = false;
        for line in text.lines() {
            if line.starts_with("```") {
                in_sh = line.trim() == "```sh";
                continue;
            }
            if !in_sh || !line.starts_with("curl ") {
                continue;
            }
            let cmd = line.replace("http://localhost:8080", &server.base);
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("{cmd} -f"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: `{line}` failed: {}",
                doc.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let body: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{}: `{line}` did not answer JSON: {e}", doc.display()));
            assert!(body.is_object(), "{line}");
            ran += 1;
        }
    }
    assert!(ran >= 5, "only {ran} examples found");
}
