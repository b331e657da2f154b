//! The seed's cURL walkthroughs (`docs/device-flow.md`, `docs/token-exchange.md`) run as
//! written, as bash with curl and jq, against a real server with the seed's realm
//! (`realms/event-platform-organizations.json`); the browser step of the device flow is an
//! HTTP client posting the verification, login and consent forms.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    browser, get_page, payload, pkce, post_form, post_page, query_of, submit, Backend, Data,
    TestServer,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```bash blocks after a page's "## Walkthrough" heading, in order.
fn walkthrough(doc: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("docs").join(doc)).unwrap();
    let start = text.find("## Walkthrough").expect("a walkthrough section");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text[start..].lines() {
        if line.starts_with("## ") && !line.starts_with("## Walkthrough") {
            break;
        }
        if line.starts_with("```") {
            match current.take() {
                Some(b) => blocks.push(b),
                None if line.trim() == "```bash" => current = Some(String::new()),
                None => {}
            }
            continue;
        }
        if let Some(b) = current.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks
}

/// Runs blocks as one bash script in `dir` (the blocks share variables through `vars.sh`).
fn run(blocks: &[String], dir: &Path, server: &TestServer) -> String {
    let mut script = String::from("set -euo pipefail\n[ -f vars.sh ] && . ./vars.sh\n");
    for b in blocks {
        script.push_str(&b.replace("http://localhost:8080", &server.base));
    }
    script.push_str("declare -p KC_BASE REALM > vars.sh 2>/dev/null || true\n");
    script.push_str("declare -p CLIENT_ID >> vars.sh 2>/dev/null || true\n");
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "walkthrough failed:\n{script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(dir: &Path, file: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap()
}

async fn seed_server() -> (Data, TestServer) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    std::fs::copy(
        root().join("realms/event-platform-organizations.json"),
        data.import_dir().join("event-platform-organizations.json"),
    )
    .unwrap();
    let server = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    (data, server)
}

#[tokio::test]
async fn token_exchange_walkthrough_as_written() {
    let (data, server) = seed_server().await;
    let blocks = walkthrough("token-exchange.md");
    assert_eq!(blocks.len(), 2, "get a token, exchange it");
    let dir = tempfile::tempdir().unwrap();
    run(&blocks, dir.path(), &server);
    let original = payload(
        json(dir.path(), ".api_a_token.json")["access_token"]
            .as_str()
            .unwrap(),
    );
    let exchanged = json(dir.path(), ".exchanged.json");
    assert_eq!(
        exchanged["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let claims = payload(exchanged["access_token"].as_str().unwrap());
    let aud: Vec<String> = match &claims["aud"] {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        other => panic!("aud {other}"),
    };
    assert_eq!(aud, ["api-b"], "the exchanged token is for api-b only");
    assert_eq!(claims["azp"], "api-a");
    assert_eq!(claims["sub"], original["sub"]);
    data.cleanup().await;
}

#[tokio::test]
async fn device_walkthrough_as_written() {
    let (data, server) = seed_server().await;
    let blocks = walkthrough("device-flow.md");
    assert_eq!(blocks.len(), 3, "device code, poll, call the API");
    let dir = tempfile::tempdir().unwrap();
    // 1) The device asks for its codes.
    run(&blocks[..1], dir.path(), &server);
    let device = json(dir.path(), ".device_resp.json");
    let user_code = device["user_code"].as_str().unwrap();
    // 2) The operator approves in a browser.
    let b = browser();
    let (status, html) = get_page(&b, device["verification_uri_complete"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (_, login) = submit(&b, &server, &html, &[("device_user_code", user_code)]).await;
    // The realm enables organizations: the username first, then the password.
    let (_, password) = submit(&b, &server, &login, &[("username", "operator")]).await;
    let (_, consent) = submit(&b, &server, &password, &[("password", "operator")]).await;
    let (status, done) = submit(&b, &server, &consent, &[("accept", "yes")]).await;
    assert_eq!(status, 200);
    assert!(done.contains("Device Login Successful"), "{done}");
    // 3) The device polls and gets tokens for the operator. (Block 4 calls the seed's
    // validation server on :4000, which is not part of this repository; the guard's
    // `examples/validation-server` is tested against real tokens in its own tests.)
    run(&blocks[1..2], dir.path(), &server);
    let tokens = json(dir.path(), ".device_token.json");
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["preferred_username"], "operator");
    assert_eq!(access["azp"], "device-bootstrap");
    data.cleanup().await;
}

/// Seed 000's organizations realm: its tenants' members log in identity-first at
/// `event-platform-web` (PKCE), and their tokens carry `organization` (the tenant's alias, from
/// the built-in organization scope) and `org_id` (the organization's id) with their role.
#[tokio::test]
async fn seed_organizations_realm_tokens_carry_the_tenant() {
    let (data, server) = seed_server().await;
    let realm = "event-platform-organizations";
    for (user, alias, id, role) in [
        (
            "music-member",
            "music",
            "7d3c2a4e-5b1f-4c8e-9a6d-2f1e0b9c8a01",
            "TENANT_MEMBER",
        ),
        (
            "music-admin",
            "music",
            "7d3c2a4e-5b1f-4c8e-9a6d-2f1e0b9c8a01",
            "TENANT_ADMIN",
        ),
        (
            "wedding-member",
            "wedding",
            "7d3c2a4e-5b1f-4c8e-9a6d-2f1e0b9c8a03",
            "TENANT_MEMBER",
        ),
    ] {
        let (verifier, challenge) = pkce();
        let b = browser();
        let (status, first) = get_page(
            &b,
            &server.url(&format!(
                "/realms/{realm}/protocol/openid-connect/auth?client_id=event-platform-web&response_type=code&scope=openid&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&code_challenge={challenge}&code_challenge_method=S256"
            )),
        )
        .await;
        assert_eq!(status, 200);
        let (_, password) = submit(&b, &server, &first, &[("username", user)]).await;
        let (status, location) = post_page(&b, &server, &password, &[("password", user)]).await;
        assert_eq!(status, 302, "{location}");
        let code = query_of(&location)["code"].clone();
        let (status, tokens, _) = post_form(
            &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "event-platform-web"),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/cb"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        let access = payload(tokens["access_token"].as_str().unwrap());
        assert_eq!(
            access["organization"],
            serde_json::json!([alias]),
            "{access}"
        );
        assert_eq!(access["org_id"], id, "{access}");
        let roles = access["realm_access"]["roles"].as_array().unwrap();
        assert!(roles.iter().any(|r| r == role), "{access}");
    }
    data.cleanup().await;
}
