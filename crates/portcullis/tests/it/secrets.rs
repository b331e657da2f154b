//! Secrets at rest (issue 19 point 4): with a key-encryption key, the secrets an administrator
//! sets through the Admin API never reach the store in clear; the server still uses them, a
//! restart needs the key, a rotation re-wraps them, and export masks them unless asked.

use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::support::*;

const CLIENT_SECRET: &str = "client-secret-PLAINTEXT-1f3a";
const IDP_SECRET: &str = "idp-secret-PLAINTEXT-77c2";
const SMTP_PASSWORD: &str = "smtp-password-PLAINTEXT-9d01";
const OTP_SEED: &str = "OTPSEEDPLAINTEXT5A7B";
const PLAINTEXTS: [&str; 4] = [CLIENT_SECRET, IDP_SECRET, SMTP_PASSWORD, OTP_SEED];

/// Writes a fresh KEK file (32 bytes of `byte`, base64) and returns its path.
fn kek_file(data: &Data, name: &str, byte: u8) -> String {
    use base64::Engine;
    let path = data.dir.path().join(name);
    std::fs::write(
        &path,
        base64::engine::general_purpose::STANDARD.encode([byte; 32]),
    )
    .unwrap();
    path.display().to_string()
}

/// `portcullis secrets <sub> <data args> <extra>`.
fn secrets_cli(data: &Data, sub: &str, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["secrets", sub])
        .args(data.args())
        .args(extra)
        .env_remove("KC_DB")
        .output()
        .unwrap()
}

/// Everything the store holds of realm and user documents, as the database keeps it: the raw
/// SQLite file (with its write-ahead log), or PostgreSQL's rows.
async fn raw_store(data: &Data) -> String {
    match &data.schema {
        None => {
            let mut all = Vec::new();
            for f in ["portcullis.db", "portcullis.db-wal"] {
                if let Ok(b) = std::fs::read(data.dir.path().join(f)) {
                    all.extend(b);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Some(schema) => {
            let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
            let mut out = String::new();
            for table in ["realm", "user_entity"] {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT representation FROM \"{schema}\".{table}"))
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                for (r,) in rows {
                    out.push_str(&r);
                }
            }
            pool.close().await;
            out
        }
    }
}

fn assert_sealed(raw: &str) {
    for p in PLAINTEXTS {
        assert!(!raw.contains(p), "'{p}' is in the store in clear");
    }
    assert!(
        raw.contains("\"privateKey\":[\"$pcsealed$1$"),
        "the realm keys are sealed"
    );
    assert!(
        !raw.contains("\"privateKey\":[\"MI"),
        "no realm private key in clear"
    );
}

async fn client_credentials_work(server: &TestServer) {
    let (status, body, _) = post_form(
        &server.url("/realms/vault/protocol/openid-connect/token"),
        Some(("svc", CLIENT_SECRET)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Creates, through the Admin API, a realm with an SMTP password and a user with an OTP
/// credential, a confidential client and an identity provider with a secret.
async fn create_secrets(server: &TestServer) {
    let admin = admin_token(server).await;
    let (status, body, _) = call(
        server,
        "POST",
        "/admin/realms",
        Some(&admin),
        Some(json!({
            "realm": "vault",
            "enabled": true,
            "smtpServer": {"host": "mail.example.com", "from": "id@example.com", "auth": "true",
                           "user": "mailer", "password": SMTP_PASSWORD},
            "users": [{"username": "otp-user", "firstName": "Otp-user", "lastName": "Tester", "email": "otp-user@example.com", "enabled": true, "credentials": [
                {"type": "password", "value": "pw"},
                {"type": "otp", "userLabel": "phone",
                 "secretData": json!({"value": OTP_SEED}).to_string(),
                 "credentialData": json!({"subType": "totp", "digits": 6, "period": 30,
                                          "algorithm": "HmacSHA1", "counter": 0}).to_string()}
            ]}]
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = call(
        server,
        "POST",
        "/admin/realms/vault/clients",
        Some(&admin),
        Some(
            json!({"clientId": "svc", "secret": CLIENT_SECRET, "publicClient": false,
                    "serviceAccountsEnabled": true, "standardFlowEnabled": false}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = call(
        server,
        "POST",
        "/admin/realms/vault/identity-provider/instances",
        Some(&admin),
        Some(
            json!({"alias": "corp", "providerId": "oidc", "enabled": true, "config": {
            "clientId": "portcullis", "clientSecret": IDP_SECRET,
            "authorizationUrl": "https://idp.example.com/auth",
            "tokenUrl": "https://idp.example.com/token"}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // The server reads them back as they were set.
    let (status, user, _) = call(
        server,
        "GET",
        "/admin/realms/vault/users?username=otp-user&exact=true",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let id = user[0]["id"].as_str().unwrap().to_string();
    let (_, creds, _) = call(
        server,
        "GET",
        &format!("/admin/realms/vault/users/{id}/credentials"),
        Some(&admin),
        None,
    )
    .await;
    assert!(
        creds.as_array().unwrap().iter().any(|c| c["type"] == "otp"),
        "{creds}"
    );
}

async fn sealed_at_rest(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let old = kek_file(&data, "old.kek", 0x11);
    let new = kek_file(&data, "new.kek", 0x22);
    let server = TestServer::start(&data, "start-dev", &["--secrets-kek-file", &old], &[]).unwrap();
    assert!(
        server.logs().contains("secrets are sealed at rest"),
        "{}",
        server.logs()
    );
    create_secrets(&server).await;
    client_credentials_work(&server).await;
    drop(server);
    assert_sealed(&raw_store(&data).await);

    // A restart with the key works; without it, start-up fails naming the missing key.
    let server = TestServer::start(&data, "start-dev", &["--secrets-kek-file", &old], &[]).unwrap();
    client_credentials_work(&server).await;
    drop(server);
    let err = TestServer::start(&data, "start-dev", &[], &[])
        .err()
        .expect("a server without the key does not start");
    assert!(err.contains("not configured"), "{err}");
    let err = TestServer::start(&data, "start-dev", &["--secrets-kek-file", &new], &[])
        .err()
        .expect("a server with another key does not start");
    assert!(err.contains("sealed under key-encryption key"), "{err}");

    // Rotation: re-wrapped under the new key; then the new key alone opens everything.
    let o = secrets_cli(
        &data,
        "rotate-kek",
        &["--secrets-kek-file", &old, "--new-kek-file", &new],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("realm documents"), "{out}");
    let raw = raw_store(&data).await;
    assert_sealed(&raw);
    let server = TestServer::start(&data, "start-dev", &["--secrets-kek-file", &new], &[]).unwrap();
    client_credentials_work(&server).await;
    drop(server);

    // Export masks the secrets unless asked for them.
    let file = data.dir.path().join("masked.json");
    let o = data.cli(
        "export",
        &[
            "--realm",
            "vault",
            "--file",
            file.to_str().unwrap(),
            "--secrets-kek-file",
            &new,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--include-secrets"));
    let masked: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let text = masked.to_string();
    for p in PLAINTEXTS {
        assert!(
            !text.contains(p),
            "'{p}' exported without --include-secrets"
        );
    }
    assert_eq!(masked["smtpServer"]["password"], "**********");
    let o = data.cli(
        "export",
        &[
            "--realm",
            "vault",
            "--file",
            file.to_str().unwrap(),
            "--secrets-kek-file",
            &new,
            "--include-secrets",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    for p in PLAINTEXTS {
        assert!(text.contains(p), "'{p}' missing from the full export");
    }
    data.cleanup().await;
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_on_sqlite() {
    sealed_at_rest(Backend::Sqlite).await;
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_on_postgres() {
    sealed_at_rest(Backend::Postgres).await;
}

/// A store written without a key: the server warns, and `portcullis secrets seal` seals what
/// is there, after which the key is needed.
#[tokio::test]
async fn secrets_seal_seals_a_store_written_in_clear() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    let server = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    assert!(
        server.logs().contains("stored in clear"),
        "{}",
        server.logs()
    );
    create_secrets(&server).await;
    drop(server);
    let raw = raw_store(&data).await;
    for p in PLAINTEXTS {
        assert!(raw.contains(p), "'{p}' is stored in clear without a key");
    }
    let o = secrets_cli(&data, "seal", &[]);
    assert!(!o.status.success(), "sealing needs a key");
    let kek = kek_file(&data, "k.kek", 0x33);
    let o = secrets_cli(&data, "seal", &["--secrets-kek-file", &kek]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_sealed(&raw_store(&data).await);
    // Run again: nothing left to do.
    let o = secrets_cli(&data, "seal", &["--secrets-kek-file", &kek]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 realm documents and 0 user documents"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let server = TestServer::start(&data, "start-dev", &["--secrets-kek-file", &kek], &[]).unwrap();
    client_credentials_work(&server).await;
    drop(server);
    data.cleanup().await;
}
