//! The command line: production-mode refusals, TLS, option reporting.

use std::process::Command;

use crate::support::*;

fn start_fails(data: &Data, extra: &[&str], env: &[(&str, &str)], expect: &str) {
    let err = match TestServer::start(data, "start", extra, env) {
        Ok(_) => panic!("start should have refused ({expect})"),
        Err(e) => e,
    };
    assert!(err.contains(expect), "expected '{expect}' in: {err}");
}

#[tokio::test]
async fn production_mode_refuses_unsafe_configurations() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    start_fails(
        &data,
        &[],
        &[("KC_BOOTSTRAP_ADMIN_PASSWORD", "pw")],
        "hostname is not configured",
    );
    start_fails(
        &data,
        &["--hostname", "sso.example.com"],
        &[("KC_BOOTSTRAP_ADMIN_PASSWORD", "pw")],
        "Key material not provided",
    );
    // Empty store and no bootstrap admin.
    start_fails(
        &data,
        &["--hostname", "sso.example.com", "--http-enabled", "true"],
        &[],
        "no bootstrap administrator",
    );
    // With everything set, it starts; the non-zero exits above left no realm behind.
    let s = TestServer::start(
        &data,
        "start",
        &[
            "--hostname",
            "https://sso.example.com",
            "--http-enabled",
            "true",
            "--proxy-headers",
            "xforwarded",
        ],
        &[
            ("KC_BOOTSTRAP_ADMIN_USERNAME", "root"),
            ("KC_BOOTSTRAP_ADMIN_PASSWORD", "s3cret-pw"),
        ],
    )
    .unwrap();
    let (status, doc) = get_json(&s.url("/realms/master/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], "https://sso.example.com/realms/master");
    assert!(!s.logs().contains("s3cret-pw"), "secrets never logged");
    drop(s);
    // The bootstrap admin exists with a hashed password.
    let master = data.export("master");
    let admin = master["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "root")
        .unwrap();
    assert!(admin["realmRoles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "admin"));
    let cred = &admin["credentials"][0];
    assert!(cred.get("value").is_none());
    assert!(cred["credentialData"].as_str().unwrap().contains("argon2"));
    assert!(!master.to_string().contains("s3cret-pw"));
    // Once the store has a master realm, start needs no bootstrap credentials.
    TestServer::start(
        &data,
        "start",
        &["--hostname", "sso.example.com", "--http-enabled", "true"],
        &[],
    )
    .unwrap();
}

#[tokio::test]
async fn https_from_pem_files() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = data.dir.path().join("cert.pem");
    let key_path = data.dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let s = TestServer::start(
        &data,
        "start",
        &[
            "--hostname",
            "localhost",
            "--https-port",
            "0",
            "--https-certificate-file",
            cert_path.to_str().unwrap(),
            "--https-certificate-key-file",
            key_path.to_str().unwrap(),
        ],
        &[("KC_BOOTSTRAP_ADMIN_PASSWORD", "pw")],
    )
    .unwrap();
    assert!(
        s.startup_line.get("http").is_none(),
        "plain HTTP is off in production by default"
    );
    let addr = s.startup_line["https"].as_str().unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let doc: serde_json::Value = client
        .get(format!(
            "https://localhost:{port}/realms/master/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["issuer"],
        format!("https://localhost:{port}/realms/master")
    );
}

#[tokio::test]
async fn unknown_kc_variables_are_reported_and_bad_options_named() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(
        &data,
        "start-dev",
        &[],
        &[("KC_FEATURES", "token-exchange"), ("KC_CACHE", "ispn")],
    )
    .unwrap();
    // Give the logger a moment to flush: the warning is printed before the start-up line.
    // `KC_FEATURES` is read (`update-email`); a feature it names that Portcullis does not
    // implement is reported.
    let logs = s.logs();
    assert!(
        logs.contains("token-exchange") && logs.contains("KC_CACHE") && logs.contains("ignored"),
        "{logs}"
    );
    assert!(!logs.contains("variable=KC_FEATURES"), "{logs}");
    drop(s);
    let err = TestServer::start(
        &data,
        "start-dev",
        &[],
        &[("KC_HTTP_MANAGEMENT_PORT", "eighty")],
    )
    .err()
    .unwrap();
    assert!(err.contains("--http-management-port"), "{err}");
    let err = TestServer::start(&data, "start-dev", &[], &[("KC_DB", "oracle")])
        .err()
        .unwrap();
    assert!(err.contains("--db") && err.contains("oracle"), "{err}");
    let o = Command::new(BIN).arg("build").output().unwrap();
    assert!(o.status.success());
}
