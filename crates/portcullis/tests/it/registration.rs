//! Client registration (`/realms/{realm}/clients-registrations/...`): the seed's
//! `scripts/register-client.sh` run unchanged, a registered SPA logging in with PKCE, initial
//! and registration access tokens, and the registration policies.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::*;

const POLICY: &str = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy";

/// A realm with Keycloak's default registration policies (from the realm template).
fn reg_realm() -> Value {
    json!({
        "realm": "reg",
        "users": [{"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}],
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
    let server = start_with_clock(&data, &[reg_realm(), open_realm()]).await;
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
    let (_, list, _) = call(
        &server,
        "GET",
        "/admin/realms/reg/clients-initial-access",
        Some(&admin),
        None,
    )
    .await;
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
    let (s, _, _) = call(
        &server,
        "GET",
        "/admin/realms/reg/clients",
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
    let (s, kc, _) = call(
        &server,
        "GET",
        "/realms/reg/clients-registrations/install/my-spa",
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
    let (s, _, _) = call(
        &server,
        "GET",
        "/realms/reg/clients-registrations/install/my-backend",
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
}

const OIDC: &str = "/realms/reg/clients-registrations/openid-connect";
const DEFAULT: &str = "/realms/reg/clients-registrations/default";
const OPEN: &str = "/realms/open/clients-registrations/openid-connect";

/// Keycloak's answer to a registration with a bad token.
fn invalid(description: &str) -> Value {
    json!({"error": "invalid_token", "error_description": description})
}

/// RFC 7591 metadata of a confidential client.
fn app_metadata() -> Value {
    json!({"client_name": "App", "redirect_uris": ["https://app.example.com/cb"]})
}

/// A client asking for a protocol mapper that the registration policies forbid.
fn greedy_mapper() -> Value {
    json!({"clientId": "greedy", "protocolMappers": [{"name": "admin", "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "realm-management.realm-admin"}}]})
}

/// A `#[tokio::test]` of `$scenario` on SQLite and one on PostgreSQL, each on a server of
/// its own.
macro_rules! on_sqlite_and_postgres {
    ($scenario:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let (_data, server) = start().await;
            $scenario(&server).await;
        }

        #[tokio::test]
        async fn $postgres() {
            let Some((data, server)) = start_on(Backend::Postgres).await else {
                return;
            };
            $scenario(&server).await;
            drop(server);
            data.cleanup().await;
        }
    };
}

on_sqlite_and_postgres!(initial_access_tokens_are_checked:
    initial_access_tokens_are_checked_sqlite, initial_access_tokens_are_checked_postgres);
on_sqlite_and_postgres!(registration_access_tokens_rotate_on_every_use:
    registration_access_tokens_rotate_on_every_use_sqlite,
    registration_access_tokens_rotate_on_every_use_postgres);
on_sqlite_and_postgres!(initial_access_token_policies_refuse_mappers_and_scopes:
    initial_access_token_policies_refuse_mappers_and_scopes_sqlite,
    initial_access_token_policies_refuse_mappers_and_scopes_postgres);
on_sqlite_and_postgres!(anonymous_registration_needs_a_trusted_host:
    anonymous_registration_needs_a_trusted_host_sqlite,
    anonymous_registration_needs_a_trusted_host_postgres);
on_sqlite_and_postgres!(an_access_token_registers_only_with_manage_clients:
    an_access_token_registers_only_with_manage_clients_sqlite,
    an_access_token_registers_only_with_manage_clients_postgres);

/// Discovery advertises the RFC 7591 endpoint; an unknown initial access token, a used-up
/// one, an expired one and one of another realm are refused.
async fn initial_access_tokens_are_checked(server: &TestServer) {
    let admin = admin_token(server).await;
    let (_, doc) = get_json(&server.url("/realms/reg/.well-known/openid-configuration")).await;
    assert_eq!(doc["registration_endpoint"], server.url(OIDC).as_str());

    // An unknown token, a used-up one, an expired one.
    let md = app_metadata();
    let (s, e, _) = call(server, "POST", OIDC, Some("nonsense"), Some(md.clone())).await;
    assert_eq!((s, e), (401, invalid("Failed decode token")));
    let once = initial_token(server, &admin, "reg", json!({"count": 1, "expiration": 0})).await;
    let (s, created, _) = call(server, "POST", OIDC, Some(&once), Some(md.clone())).await;
    assert_eq!(s, 201, "{created}");
    let (s, e, _) = call(server, "POST", OIDC, Some(&once), Some(md.clone())).await;
    assert_eq!(
        (s, e),
        (401, invalid("No remaining count on initial access token"))
    );
    let short = initial_token(server, &admin, "reg", json!({"count": 5, "expiration": 1})).await;
    advance_clock(server, 2).await;
    let (s, e, _) = call(server, "POST", OIDC, Some(&short), Some(md.clone())).await;
    assert_eq!((s, e), (401, invalid("Failed decode token")));
    // A token of another realm does not work here.
    let other = initial_token(server, &admin, "open", json!({"count": 5})).await;
    assert_eq!(
        call(server, "POST", OIDC, Some(&other), Some(md)).await.0,
        401
    );
}

/// The RFC 7591 answer, and the registration access token that rotates on every use.
async fn registration_access_tokens_rotate_on_every_use(server: &TestServer) {
    let admin = admin_token(server).await;
    let once = initial_token(server, &admin, "reg", json!({"count": 1, "expiration": 0})).await;
    let (s, created, _) = call(server, "POST", OIDC, Some(&once), Some(app_metadata())).await;
    assert_eq!(s, 201, "{created}");

    // RFC 7591 answer.
    let oidc = server.url(OIDC);
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
    let client_path = format!("{OIDC}/{cid}");
    let t1 = created["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, read, _) = call(server, "GET", &client_path, Some(&t1), None).await;
    assert_eq!(s, 200, "{read}");
    let t2 = read["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(t1, t2);
    let view_denied =
        invalid("Not authorized to view client. Not valid token or client credentials provided.");
    let (s, e, _) = call(server, "GET", &client_path, Some(&t1), None).await;
    assert_eq!((s, e), (401, view_denied.clone()));
    let mut changed = read.clone();
    changed["redirect_uris"] = json!(["https://app.example.com/other"]);
    let (s, updated, _) = call(
        server,
        "PUT",
        &client_path,
        Some(&t2),
        Some(changed.clone()),
    )
    .await;
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
    let (s, e, _) = call(server, "PUT", &client_path, Some(&t2), Some(changed)).await;
    assert_eq!((s, e), (401, update_denied.clone()));
    // The default provider sees the same client and the same token.
    let (s, rep, _) = call(server, "GET", &format!("{DEFAULT}/{cid}"), Some(&t3), None).await;
    assert_eq!(s, 200);
    assert_eq!(rep["clientId"], cid.as_str());
    let t4 = rep["registrationAccessToken"].as_str().unwrap().to_string();
    // The client id may not change.
    let mut renamed = rep.clone();
    renamed["clientId"] = json!("stolen");
    let (s, e, _) = call(
        server,
        "PUT",
        &format!("{DEFAULT}/{cid}"),
        Some(&t4),
        Some(renamed),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    assert_eq!(
        call(server, "DELETE", &client_path, Some(&t3), None)
            .await
            .0,
        401
    );
    assert_eq!(
        call(server, "DELETE", &client_path, Some(&t4), None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(server, "GET", &client_path, Some(&t4), None).await.0,
        401
    );
}

/// Policies of an initial access token (authenticated): no forbidden mapper, no foreign scope;
/// a refused registration spends no use.
async fn initial_access_token_policies_refuse_mappers_and_scopes(server: &TestServer) {
    let admin = admin_token(server).await;
    let iat = initial_token(server, &admin, "reg", json!({"count": 5})).await;
    let (s, e, _) = call(server, "POST", DEFAULT, Some(&iat), Some(greedy_mapper())).await;
    assert_eq!(
        (s, e),
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Allowed Protocol Mapper Types' rejected request to client-registration service. Details: ProtocolMapper type not allowed"})
        )
    );
    let scopes = json!({"clientId": "greedy", "defaultClientScopes": ["offline_access"]});
    let (s, e, _) = call(server, "POST", DEFAULT, Some(&iat), Some(scopes)).await;
    assert_eq!(
        (s, e),
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Allowed Client Scopes' rejected request to client-registration service. Details: Not permitted to use specified clientScope"})
        )
    );
    // A refused registration spends no use.
    let (_, list, _) = call(
        server,
        "GET",
        "/admin/realms/reg/clients-initial-access",
        Some(&admin),
        None,
    )
    .await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["count"] == 5 && t["remainingCount"] == 5 && t["expiration"] == 0));
}

/// Anonymous: refused by default (no trusted host), allowed from localhost where configured,
/// and then only for trusted redirect URIs.
async fn anonymous_registration_needs_a_trusted_host(server: &TestServer) {
    let admin = admin_token(server).await;
    let anon_md = json!({"redirect_uris": ["http://localhost:3000/cb"], "token_endpoint_auth_method": "none"});
    let (s, e, _) = call(server, "POST", OIDC, None, Some(anon_md.clone())).await;
    assert_eq!(
        (s, e),
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."})
        )
    );
    let (s, anon, _) = call(server, "POST", OPEN, None, Some(anon_md)).await;
    assert_eq!(s, 201, "{anon}");
    let evil = json!({"redirect_uris": ["https://evil.example.org/cb"]});
    let (s, e, _) = call(server, "POST", OPEN, None, Some(evil)).await;
    assert_eq!(
        (s, e),
        (
            403,
            json!({"error": "insufficient_scope", "error_description":
            "Policy 'Trusted Hosts' rejected request to client-registration service. Details: URI doesn't match any trusted host or trusted domain"})
        )
    );
    let mapper_md = json!({"redirect_uris": ["http://localhost:3000/cb"]});
    let mut with_mapper = default_body(&mapper_md);
    with_mapper["protocolMappers"] = greedy_mapper()["protocolMappers"].clone();
    let (s, e, _) = call(
        server,
        "POST",
        "/realms/open/clients-registrations/default",
        None,
        Some(with_mapper),
    )
    .await;
    assert_eq!(s, 403, "{e}");
    // The anonymous client got consent required and no full scope.
    let (s, list, _) = call(
        server,
        "GET",
        &format!(
            "/admin/realms/open/clients?clientId={}",
            anon["client_id"].as_str().unwrap()
        ),
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
    let (s, _, _) = call(
        server,
        "GET",
        &format!("{OPEN}/{}", anon["client_id"].as_str().unwrap()),
        anon["registration_access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(s, 200);
}

/// An access token: with manage-clients (master admin) it creates and reads; without, 403.
async fn an_access_token_registers_only_with_manage_clients(server: &TestServer) {
    let admin = admin_token(server).await;
    let (s, made, _) = call(server, "POST", DEFAULT, Some(&admin), Some(json!({"clientId": "by-admin", "publicClient": true, "directAccessGrantsEnabled": true}))).await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["clientId"], "by-admin");
    assert_eq!(
        call(
            server,
            "GET",
            &format!("{DEFAULT}/by-admin"),
            Some(&admin),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            server,
            "GET",
            &format!("{DEFAULT}/nobody"),
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
    let (s, e, _) = call(
        server,
        "POST",
        DEFAULT,
        Some(t),
        Some(json!({"clientId": "by-alice"})),
    )
    .await;
    assert_eq!(
        (s, e),
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
