//! Client registration (`/realms/{realm}/clients-registrations/...`): the seed's
//! `scripts/register-client.sh` run unchanged, a registered SPA logging in with PKCE, initial
//! and registration access tokens, and the registration policies.

use std::process::Command;

use serde_json::{json, Value};

use crate::authorize::{browser, login, pkce};
use crate::support::*;
use crate::token::{admin_token, post_form};

const POLICY: &str = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy";

/// A realm with Keycloak's default registration policies (from the realm template).
fn reg_realm() -> Value {
    json!({
        "realm": "reg",
        "users": [{"username": "alice", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}],
                   "realmRoles": ["default-roles-reg"]}]
    })
}

/// A realm open to anonymous registration from localhost.
fn open_realm() -> Value {
    json!({
        "realm": "open",
        "components": {POLICY: [
            {"name": "Trusted Hosts", "providerId": "trusted-hosts", "subType": "anonymous",
             "config": {"trusted-hosts": ["localhost"], "host-sending-registration-request-must-match": ["true"], "client-uris-must-match": ["true"]}},
            {"name": "Full Scope Disabled", "providerId": "scope", "subType": "anonymous", "config": {}},
            {"name": "Consent Required", "providerId": "consent-required", "subType": "anonymous", "config": {}},
            {"name": "Allowed Protocol Mapper Types", "providerId": "allowed-protocol-mappers", "subType": "anonymous",
             "config": {"allowed-protocol-mapper-types": ["oidc-full-name-mapper"]}},
            {"name": "Allowed Client Scopes", "providerId": "allowed-client-templates", "subType": "anonymous",
             "config": {"allow-default-scopes": ["true"]}}
        ]}
    })
}

async fn start() -> (Data, TestServer) {
    start_on(Backend::Sqlite).await.unwrap()
}

async fn start_on(backend: Backend) -> Option<(Data, TestServer)> {
    let data = Data::new(backend).await?;
    for (i, r) in [reg_realm(), open_realm()].iter().enumerate() {
        std::fs::write(data.import_dir().join(format!("r{i}.json")), r.to_string()).unwrap();
    }
    let server = TestServer::start(
        &data,
        "start-dev",
        &["--import-realm"],
        &[
            ("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"),
            ("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin"),
        ],
    )
    .unwrap();
    Some((data, server))
}

async fn initial_token(server: &TestServer, admin: &str, realm: &str, body: Value) -> String {
    let r = client()
        .post(server.url(&format!("/admin/realms/{realm}/clients-initial-access")))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A registration request: status and JSON body.
async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Runs the seed's script; returns the JSON it printed.
fn run_script(server: &TestServer, args: &[&str]) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = Command::new("bash")
        .arg(root.join("scripts/register-client.sh"))
        .args(args)
        .env("KEYCLOAK_BASE", &server.base)
        .env("REALM", "reg")
        .env("ADMIN_USER", "admin")
        .env("ADMIN_PASS", "admin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "script failed: {stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let start = stdout.find('{').unwrap();
    let end = stdout.rfind("Done.").unwrap();
    assert!(stdout.starts_with(&format!("Registering client {} ({})", args[1], args[0])));
    serde_json::from_str(&stdout[start..end]).unwrap()
}

#[tokio::test]
async fn the_seed_script_registers_spa_backend_and_device_clients() {
    let (_data, server) = start().await;

    let spa = run_script(
        &server,
        &[
            "spa",
            "my-spa",
            "http://localhost:3000",
            "http://localhost:3000/*",
        ],
    );
    assert_eq!(spa["clientId"], "my-spa");
    assert_eq!(spa["publicClient"], true);
    assert_eq!(spa["standardFlowEnabled"], true);
    assert_eq!(spa["redirectUris"], json!(["http://localhost:3000/*"]));
    assert_eq!(spa["webOrigins"], json!(["+"]));
    assert_eq!(spa["attributes"]["pkce.code.challenge.method"], "S256");
    assert_eq!(spa["protocol"], "openid-connect");
    assert!(spa.get("secret").is_none(), "{spa}");
    assert_eq!(spa["registrationAccessToken"].as_str().unwrap().len(), 48);

    let backend = run_script(&server, &["backend", "my-backend"]);
    assert_eq!(backend["publicClient"], false);
    assert_eq!(backend["serviceAccountsEnabled"], true);
    assert_eq!(backend["standardFlowEnabled"], false);
    let secret = backend["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32);
    assert!(backend["registrationAccessToken"].is_string());

    let device = run_script(&server, &["device", "my-device"]);
    assert_eq!(device["publicClient"], true);
    assert_eq!(
        device["attributes"]["oauth2.device.authorization.grant.enabled"],
        "true"
    );

    // Each IAT of the script had one use: spent.
    let admin = admin_token(&server).await;
    let list: Value = client()
        .get(server.url("/admin/realms/reg/clients-initial-access"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|t| t["remainingCount"] == 0), "{list:?}");

    // The backend: client credentials work, and its service account holds no admin role.
    let (s, tok, _) = post_form(
        &server.url("/realms/reg/protocol/openid-connect/token"),
        Some(("my-backend", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{tok}");
    let sa = client()
        .get(server.url("/admin/realms/reg/clients"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(sa.status(), 200);
    let (s, _) = call(
        reqwest::Method::GET,
        &server.url("/admin/realms/reg/clients"),
        tok["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(s, 403, "a registered client's service account is no admin");

    // The device client starts a device authorization.
    let (s, body, _) = post_form(
        &server.url("/realms/reg/protocol/openid-connect/auth/device"),
        None,
        &[("client_id", "my-device")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["device_code"].is_string());

    // The SPA logs in with PKCE.
    let b = browser();
    let (verifier, challenge) = pkce();
    let redirect = "http://localhost:3000/callback";
    let auth = format!(
        "{}?client_id=my-spa&response_type=code&scope=openid&state=s1&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        server.url("/realms/reg/protocol/openid-connect/auth"),
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let (status, location, q) = login(&b, &server, &auth, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    assert_eq!(q["state"], "s1");
    let (s, tokens, _) = post_form(
        &server.url("/realms/reg/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "my-spa"),
            ("code", &q["code"]),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    assert!(tokens["id_token"].is_string());

    // The adapter configuration of the public SPA needs no credentials.
    let (s, kc) = call(
        reqwest::Method::GET,
        &server.url("/realms/reg/clients-registrations/install/my-spa"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(kc["resource"], "my-spa");
    assert_eq!(kc["public-client"], true);
    // The backend's needs its credentials.
    let r = client()
        .get(server.url("/realms/reg/clients-registrations/install/my-backend"))
        .basic_auth("my-backend", Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["credentials"]["secret"],
        secret.as_str()
    );
    let (s, _) = call(
        reqwest::Method::GET,
        &server.url("/realms/reg/clients-registrations/install/my-backend"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn tokens_rotation_and_policies() {
    let (_data, server) = start().await;
    tokens_rotation_and_policies_on(&server).await;
}

#[tokio::test]
async fn tokens_rotation_and_policies_postgres() {
    let Some((data, server)) = start_on(Backend::Postgres).await else {
        return;
    };
    tokens_rotation_and_policies_on(&server).await;
    drop(server);
    data.cleanup().await;
}

async fn tokens_rotation_and_policies_on(server: &TestServer) {
    let admin = admin_token(server).await;
    let oidc = server.url("/realms/reg/clients-registrations/openid-connect");
    let default = server.url("/realms/reg/clients-registrations/default");
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let put = reqwest::Method::PUT;
    let delete = reqwest::Method::DELETE;
    let invalid = |d: &str| json!({"error": "invalid_token", "error_description": d});

    // Discovery advertises the RFC 7591 endpoint.
    let (_, doc) = get_json(&server.url("/realms/reg/.well-known/openid-configuration")).await;
    assert_eq!(doc["registration_endpoint"], oidc.as_str());

    // An unknown token, a used-up one, an expired one.
    let md = json!({"client_name": "App", "redirect_uris": ["https://app.example.com/cb"]});
    assert_eq!(
        call(post.clone(), &oidc, Some("nonsense"), Some(&md)).await,
        (401, invalid("Failed decode token"))
    );
    let once = initial_token(server, &admin, "reg", json!({"count": 1, "expiration": 0})).await;
    let (s, created) = call(post.clone(), &oidc, Some(&once), Some(&md)).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(
        call(post.clone(), &oidc, Some(&once), Some(&md)).await,
        (401, invalid("No remaining count on initial access token"))
    );
    let short = initial_token(server, &admin, "reg", json!({"count": 5, "expiration": 1})).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        call(post.clone(), &oidc, Some(&short), Some(&md)).await,
        (401, invalid("Failed decode token"))
    );
    // A token of another realm does not work here.
    let other = initial_token(server, &admin, "open", json!({"count": 5})).await;
    assert_eq!(
        call(post.clone(), &oidc, Some(&other), Some(&md)).await.0,
        401
    );

    // RFC 7591 answer.
    let cid = created["client_id"].as_str().unwrap().to_string();
    assert_eq!(created["client_name"], "App");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert!(created["client_secret"].is_string());
    assert_eq!(created["client_secret_expires_at"], 0);
    assert!(created["client_id_issued_at"].is_i64());
    assert_eq!(
        created["registration_client_uri"],
        format!("{oidc}/{cid}").as_str()
    );
    assert_eq!(
        created["redirect_uris"],
        json!(["https://app.example.com/cb"])
    );

    // The registration access token rotates on every use.
    let client_uri = format!("{oidc}/{cid}");
    let t1 = created["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, read) = call(get.clone(), &client_uri, Some(&t1), None).await;
    assert_eq!(s, 200, "{read}");
    let t2 = read["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(t1, t2);
    let view_denied =
        invalid("Not authorized to view client. Not valid token or client credentials provided.");
    assert_eq!(
        call(get.clone(), &client_uri, Some(&t1), None).await,
        (401, view_denied.clone())
    );
    let mut changed = read.clone();
    changed["redirect_uris"] = json!(["https://app.example.com/other"]);
    let (s, updated) = call(put.clone(), &client_uri, Some(&t2), Some(&changed)).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example.com/other"])
    );
    let t3 = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let update_denied =
        invalid("Not authorized to update client. Maybe missing token or bad token type.");
    assert_eq!(
        call(put.clone(), &client_uri, Some(&t2), Some(&changed)).await,
        (401, update_denied.clone())
    );
    // The default provider sees the same client and the same token.
    let (s, rep) = call(get.clone(), &format!("{default}/{cid}"), Some(&t3), None).await;
    assert_eq!(s, 200);
    assert_eq!(rep["clientId"], cid.as_str());
    let t4 = rep["registrationAccessToken"].as_str().unwrap().to_string();
    // The client id may not change.
    let mut renamed = rep.clone();
    renamed["clientId"] = json!("stolen");
    let (s, e) = call(
        put.clone(),
        &format!("{default}/{cid}"),
        Some(&t4),
        Some(&renamed),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    assert_eq!(
        call(delete.clone(), &client_uri, Some(&t3), None).await.0,
        401
    );
    assert_eq!(
        call(delete.clone(), &client_uri, Some(&t4), None).await.0,
        204
    );
    assert_eq!(call(get.clone(), &client_uri, Some(&t4), None).await.0, 401);

    // Policies of an initial access token (authenticated): no forbidden mapper, no foreign scope.
    let iat = initial_token(server, &admin, "reg", json!({"count": 5})).await;
    let mapper = json!({"clientId": "greedy", "protocolMappers": [{"name": "admin", "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "realm-management.realm-admin"}}]});
    assert_eq!(
        call(post.clone(), &default, Some(&iat), Some(&mapper)).await,
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Allowed Protocol Mapper Types' rejected request to client-registration service. Details: ProtocolMapper type not allowed"})
        )
    );
    let scopes = json!({"clientId": "greedy", "defaultClientScopes": ["offline_access"]});
    assert_eq!(
        call(post.clone(), &default, Some(&iat), Some(&scopes)).await,
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Allowed Client Scopes' rejected request to client-registration service. Details: Not permitted to use specified clientScope"})
        )
    );
    // A refused registration spends no use.
    let list: Value = client()
        .get(server.url("/admin/realms/reg/clients-initial-access"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["count"] == 5 && t["remainingCount"] == 5 && t["expiration"] == 0));

    // Anonymous: refused by default (no trusted host), allowed from localhost where configured,
    // and then only for trusted redirect URIs.
    let anon_md = json!({"redirect_uris": ["http://localhost:3000/cb"], "token_endpoint_auth_method": "none"});
    assert_eq!(
        call(post.clone(), &oidc, None, Some(&anon_md)).await,
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."})
        )
    );
    let open = server.url("/realms/open/clients-registrations/openid-connect");
    let (s, anon) = call(post.clone(), &open, None, Some(&anon_md)).await;
    assert_eq!(s, 201, "{anon}");
    let evil = json!({"redirect_uris": ["https://evil.example.org/cb"]});
    assert_eq!(
        call(post.clone(), &open, None, Some(&evil)).await,
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Trusted Hosts' rejected request to client-registration service. Details: URI doesn't match any trusted host or trusted domain"})
        )
    );
    let mapper_md = json!({"redirect_uris": ["http://localhost:3000/cb"]});
    let mut with_mapper = default_body(&mapper_md);
    with_mapper["protocolMappers"] = mapper["protocolMappers"].clone();
    let (s, e) = call(
        post.clone(),
        &server.url("/realms/open/clients-registrations/default"),
        None,
        Some(&with_mapper),
    )
    .await;
    assert_eq!(s, 403, "{e}");
    // The anonymous client got consent required and no full scope.
    let (s, list) = call(
        get.clone(),
        &server.url(&format!(
            "/admin/realms/open/clients?clientId={}",
            anon["client_id"].as_str().unwrap()
        )),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list[0]["consentRequired"], true);
    assert_eq!(list[0]["fullScopeAllowed"], false);
    assert!(list[0]
        .get("registrationAccessToken")
        .is_none_or(|t| t != &anon["registration_access_token"]));
    // Its token, used from the anonymous policies, still reads the client.
    let (s, _) = call(
        get.clone(),
        &format!("{open}/{}", anon["client_id"].as_str().unwrap()),
        anon["registration_access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // An access token: with manage-clients (master admin) it creates and reads; without, 403.
    let (s, made) = call(post.clone(), &default, Some(&admin), Some(&json!({"clientId": "by-admin", "publicClient": true, "directAccessGrantsEnabled": true}))).await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["clientId"], "by-admin");
    assert_eq!(
        call(
            get.clone(),
            &format!("{default}/by-admin"),
            Some(&admin),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            get.clone(),
            &format!("{default}/nobody"),
            Some(&admin),
            None
        )
        .await
        .0,
        404
    );
    let (_, alice, _) = post_form(
        &server.url("/realms/reg/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "by-admin"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ],
    )
    .await;
    let t = alice["access_token"].as_str().unwrap();
    assert_eq!(
        call(
            post.clone(),
            &default,
            Some(t),
            Some(&json!({"clientId": "by-alice"}))
        )
        .await,
        (
            403,
            json!({"error": "insufficient_scope", "error_description": "Forbidden"})
        )
    );
}

/// A `ClientRepresentation` with the redirect URIs of RFC 7591 metadata.
fn default_body(md: &Value) -> Value {
    json!({"clientId": "anon-default", "redirectUris": md["redirect_uris"]})
}
