//! WebAuthn as Keycloak runs it, with a software authenticator posting what the pages' script
//! would: a `REQUIRED` `webauthn-authenticator` after the password sends a user without a
//! credential through `webauthn-register`, the credential is stored in Keycloak's shape
//! (`webauthn`, `WebAuthnCredentialData`), and the next login asks for an assertion; a
//! passkey (`webauthn-register-passwordless`, `webauthn-authenticator-passwordless`) logs in
//! without a username. An assertion of another credential, from another origin, with a
//! counter that did not grow, over a challenge that is not the page's, or posted to a login
//! that has not passed the password step is refused with Keycloak's message and changes
//! nothing.

use serde_json::{json, Value};

use crate::support::soft_authenticator::{page_options, SoftAuthenticator};
use crate::support::*;

const AUTH_INVALID: &str = "Passkey authentication result is invalid.";
const UNKNOWN_USER: &str = "Unknown user authenticated by the Passkey.";

fn realm() -> Value {
    json!({
        "realm": "wa",
        "browserFlow": "wa browser",
        "directGrantFlow": "grant",
        "authenticationFlows": [
            {"alias": "grant", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
             "authenticationExecutions": [
                {"authenticator": "direct-grant-validate-username", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
                {"authenticator": "direct-grant-validate-password", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
             ]},
            {"id": "wa-browser", "alias": "wa browser", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
             "authenticationExecutions": [
                {"authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 10, "authenticatorFlow": false},
                {"authenticatorFlow": true, "flowAlias": "wa forms", "requirement": "ALTERNATIVE", "priority": 20}
             ]},
            {"alias": "wa forms", "providerId": "basic-flow", "topLevel": false, "builtIn": false,
             "authenticationExecutions": [
                {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
                {"authenticator": "webauthn-authenticator", "authenticatorConfig": "hwk-ref", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
             ]},
            {"id": "passkey-flow", "alias": "passkey", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
             "authenticationExecutions": [
                {"authenticator": "webauthn-authenticator-passwordless", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false}
             ]},
            {"id": "mixed-flow", "alias": "passwordless or two-factor", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
             "authenticationExecutions": [
                {"authenticator": "auth-username-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
                {"authenticatorFlow": true, "flowAlias": "passkey or password", "requirement": "REQUIRED", "priority": 20}
             ]},
            {"alias": "passkey or password", "providerId": "basic-flow", "topLevel": false, "builtIn": false,
             "authenticationExecutions": [
                {"authenticator": "webauthn-authenticator-passwordless", "requirement": "ALTERNATIVE", "priority": 10, "authenticatorFlow": false},
                {"authenticator": "auth-password-form", "requirement": "ALTERNATIVE", "priority": 20, "authenticatorFlow": false}
             ]},
            {"id": "plain-flow", "alias": "plain", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
             "authenticationExecutions": [
                {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false}
             ]}
        ],
        // A max age: Keycloak reads an absent one as 0, and then `amr` names the step only in
        // a token issued within the second the step completed (the test flaked on the boundary).
        "authenticatorConfig": [{"alias": "hwk-ref", "config": {"default.reference.value": "hwk", "default.reference.maxAge": "3600"}}],
        "clients": [
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
             "protocolMappers": [{"name": "amr", "protocol": "openid-connect", "protocolMapper": "oidc-amr-mapper",
                                  "config": {"id.token.claim": "true", "access.token.claim": "true"}}]},
            {"clientId": "plain", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
             "authenticationFlowBindingOverrides": {"browser": "plain-flow"}},
            {"clientId": "mixed", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
             "authenticationFlowBindingOverrides": {"browser": "mixed-flow"}},
            {"clientId": "passkeys", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
             "authenticationFlowBindingOverrides": {"browser": "passkey-flow"}}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}]},
            {"username": "carol", "firstName": "Carol", "lastName": "Tester", "email": "carol@example.com", "enabled": true, "requiredActions": ["webauthn-register-passwordless"],
             "credentials": [{"type": "password", "value": "carol-pw"}]}
        ]
    })
}

fn auth_url(server: &TestServer, client: &str) -> String {
    server.url(&format!(
        "/realms/wa/protocol/openid-connect/auth?client_id={client}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s1"
    ))
}

fn origin(server: &TestServer) -> String {
    url::Url::parse(&server.url("/"))
        .unwrap()
        .origin()
        .ascii_serialization()
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// The page after the password step of `user` at client `client`.
async fn after_password(
    b: &reqwest::Client,
    server: &TestServer,
    client: &str,
    user: &str,
) -> String {
    let (status, html) = get_page(b, &auth_url(server, client)).await;
    assert_eq!(status, 200);
    let pw = format!("{user}-pw");
    let (status, page) = post_page(
        b,
        server,
        &html,
        &[("username", user), ("password", pw.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page
}

async fn user_id(server: &TestServer, token: &str, username: &str) -> String {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/wa/users?username={username}&exact=true"),
        Some(token),
        None,
    )
    .await;
    users[0]["id"].as_str().unwrap().to_string()
}

/// The user's credentials of `kind` as the Admin API lists them.
async fn credentials(server: &TestServer, token: &str, id: &str, kind: &str) -> Vec<Value> {
    let (status, list, _) = call(
        server,
        "GET",
        &format!("/admin/realms/wa/users/{id}/credentials"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == kind)
        .cloned()
        .collect()
}

fn redirected_with_code(r: &(u16, String)) -> bool {
    r.0 == 302 && query_of(&r.1).contains_key("code")
}

/// alice's first login: the required second factor sends her through `webauthn-register`.
async fn enrol_alice(server: &TestServer) -> SoftAuthenticator {
    let b = browser();
    let page = after_password(&b, server, "spa", "alice").await;
    let options = page_options(&page);
    assert!(page.contains("name=\"attestationObject\""), "{page}");
    assert!(page.contains("navigator.credentials.create"));
    let mut soft = SoftAuthenticator::default();
    let fields = soft.create(&options, &origin(server), "My key");
    let r = post_page(&b, server, &page, &pairs(&fields)).await;
    assert!(redirected_with_code(&r), "{r:?}");
    soft
}

#[tokio::test]
async fn webauthn_second_factor_registers_then_logs_in() {
    let Some(data_dir) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data_dir, &[realm()]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;

    // The registration page carries the realm's 2FA policy (Keycloak's defaults).
    let b = browser();
    let page = after_password(&b, &server, "spa", "alice").await;
    let options = page_options(&page);
    assert_eq!(options["rp"]["name"], "keycloak");
    assert_eq!(options["rp"]["id"], "127.0.0.1");
    assert_eq!(
        options["user"]["id"],
        b64url(alice.as_bytes()),
        "user handle"
    );
    assert_eq!(options["user"]["name"], "alice");
    let algs: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algs, vec![-7, -257], "ES256, RS256");
    // A registration from another origin is refused and stores nothing.
    let fields = SoftAuthenticator::default().create(&options, "https://evil.example", "x");
    let r = post_page(&b, &server, &page, &pairs(&fields)).await;
    assert_eq!(r.0, 200, "{r:?}");
    assert!(
        r.1.contains("Passkey registration result is invalid."),
        "{}",
        r.1
    );
    assert!(credentials(&server, &token, &alice, "webauthn")
        .await
        .is_empty());
    drop(b);

    let mut soft = enrol_alice(&server).await;
    let creds = credentials(&server, &token, &alice, "webauthn").await;
    assert_eq!(creds.len(), 1, "{creds:?}");
    assert_eq!(creds[0]["userLabel"], "My key");
    let d = credential_data(&creds[0]);
    use base64::Engine as _;
    assert_eq!(
        d["credentialId"],
        base64::engine::general_purpose::STANDARD.encode(&soft.credentials[0].id),
        "standard Base64, padded"
    );
    assert_eq!(d["aaguid"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(d["counter"], 1);
    assert_eq!(d["attestationStatementFormat"], "none");
    assert_eq!(d["transports"], json!(["usb"]));
    let key = d["credentialPublicKey"].as_str().unwrap();
    assert!(
        key.starts_with("pQECAyYgAS") && !key.contains('=') && !key.contains('+'),
        "COSE key, Base64url: {key}"
    );

    // The next login asks for the key after the password, and only this credential.
    let b = browser();
    let page = after_password(&b, &server, "spa", "alice").await;
    assert!(page.contains("name=\"authenticatorData\""), "{page}");
    assert!(page.contains("navigator.credentials.get"));
    let options = page_options(&page);
    assert_eq!(
        options["allowCredentials"][0]["id"],
        b64url(&soft.credentials[0].id)
    );
    let fields = soft.get(0, &options, &origin(&server));
    let r = post_page(&b, &server, &page, &pairs(&fields)).await;
    assert!(redirected_with_code(&r), "{r:?}");
    let (status, tokens, _) = post_form(
        &server.url("/realms/wa/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &query_of(&r.1)["code"]),
            ("redirect_uri", "http://localhost:3000/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], alice.as_str());
    assert_eq!(claims["amr"], json!(["hwk"]), "{claims}");
    // Keycloak's counter rule: a stored counter above 0 becomes stored + 1.
    let creds = credentials(&server, &token, &alice, "webauthn").await;
    assert_eq!(credential_data(&creds[0])["counter"], 2);

    // Exported in Keycloak's shape, imported into another server, the key still logs in.
    drop(server);
    let exported = data_dir.export("wa");
    let user = exported_user(&exported, "alice");
    let cred = exported_credential(&user, "webauthn");
    assert_eq!(credential_data(&cred)["counter"], 2);
    let Some(other_dir) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut moved = realm();
    moved["users"] = json!([user]);
    let server = start_with(&other_dir, &[moved]).await;
    let b = browser();
    let page = after_password(&b, &server, "spa", "alice").await;
    let options = page_options(&page);
    let r = post_page(
        &b,
        &server,
        &page,
        &pairs(&soft.get(0, &options, &origin(&server))),
    )
    .await;
    assert!(redirected_with_code(&r), "{r:?}");
    other_dir.cleanup().await;
    data_dir.cleanup().await;
}

#[tokio::test]
async fn webauthn_bad_assertions_are_refused_and_change_nothing() {
    let Some(data_dir) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data_dir, &[realm()]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;
    let mut soft = enrol_alice(&server).await;
    let stored =
        || async { credential_data(&credentials(&server, &token, &alice, "webauthn").await[0]) };
    let before = stored().await;
    let o = origin(&server);

    let refused = |r: &(u16, String), msg: &str| {
        assert_eq!(r.0, 200, "{r:?}");
        assert!(r.1.contains(msg), "wanted {msg}: {}", r.1);
        assert!(r.1.contains("kc-webauthn-options"), "the page again");
    };

    // Another credential (never registered): unknown.
    let b = browser();
    let page = after_password(&b, &server, "spa", "alice").await;
    let options = page_options(&page);
    let mut other = SoftAuthenticator::default();
    other.create(
        &json!({"rp": {"id": "127.0.0.1"}, "user": {"id": b64url(alice.as_bytes())}, "challenge": "x"}),
        &o,
        "",
    );
    let r = post_page(&b, &server, &page, &pairs(&other.get(0, &options, &o))).await;
    refused(&r, UNKNOWN_USER);

    // alice's credential id signed by another key: invalid.
    let page = r.1;
    let options = page_options(&page);
    let mut forged = SoftAuthenticator::default();
    forged.create(
        &json!({"rp": {"id": "127.0.0.1"}, "user": {"id": b64url(alice.as_bytes())}, "challenge": "x"}),
        &o,
        "",
    );
    forged.credentials[0].id = soft.credentials[0].id.clone();
    forged.credentials[0].counter = 50;
    let r = post_page(&b, &server, &page, &pairs(&forged.get(0, &options, &o))).await;
    refused(&r, AUTH_INVALID);

    // Another origin in clientDataJSON.
    let page = r.1;
    let options = page_options(&page);
    let fields = soft.get(0, &options, "https://evil.example");
    let r = post_page(&b, &server, &page, &pairs(&fields)).await;
    refused(&r, AUTH_INVALID);

    // A challenge that is not this page's: the previous page's (used up) and a made-up one.
    let stale = options.clone();
    let page = r.1;
    let r = post_page(&b, &server, &page, &pairs(&soft.get(0, &stale, &o))).await;
    refused(&r, AUTH_INVALID);
    let page = r.1;
    let made_up = json!({"challenge": b64url(b"not-issued-by-the-server-0000000")});
    let r = post_page(&b, &server, &page, &pairs(&soft.get(0, &made_up, &o))).await;
    refused(&r, AUTH_INVALID);

    // A counter that did not grow (stored 1; the authenticator says 1).
    let page = r.1;
    let options = page_options(&page);
    soft.credentials[0].counter = 0;
    let r = post_page(&b, &server, &page, &pairs(&soft.get(0, &options, &o))).await;
    refused(&r, AUTH_INVALID);
    assert_eq!(stored().await, before, "nothing changed");
    let page = r.1;

    // Posting an assertion to a login that has not passed the password step: the form goes to
    // the password step, which refuses it.
    let b2 = browser();
    let (_, login_page) = get_page(&b2, &auth_url(&server, "spa")).await;
    soft.credentials[0].counter = 10;
    let fields = soft.get(0, &options, &o);
    let r = post_page(&b2, &server, &login_page, &pairs(&fields)).await;
    assert_eq!(r.0, 200, "{r:?}");
    assert!(
        r.1.contains("Invalid username or password.") && r.1.contains("name=\"password\""),
        "{}",
        r.1
    );
    assert_eq!(stored().await, before, "nothing changed");

    // The right assertion still logs in.
    let options = page_options(&page);
    let r = post_page(&b, &server, &page, &pairs(&soft.get(0, &options, &o))).await;
    assert!(redirected_with_code(&r), "{r:?}");
    data_dir.cleanup().await;
}

#[tokio::test]
async fn passkey_registers_and_logs_in_without_username() {
    let Some(data_dir) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data_dir, &[realm()]).await;
    let token = admin_token(&server).await;
    let carol = user_id(&server, &token, "carol").await;
    let o = origin(&server);

    // carol's required action: a passkey under the passwordless policy.
    let b = browser();
    let page = after_password(&b, &server, "plain", "carol").await;
    let options = page_options(&page);
    assert_eq!(
        options["authenticatorSelection"]["residentKey"], "required",
        "{options}"
    );
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let mut soft = SoftAuthenticator::default();
    let fields = soft.create(&options, &o, "Phone");
    let r = post_page(&b, &server, &page, &pairs(&fields)).await;
    assert!(redirected_with_code(&r), "{r:?}");
    let creds = credentials(&server, &token, &carol, "webauthn-passwordless").await;
    assert_eq!(creds.len(), 1);
    assert!(credentials(&server, &token, &carol, "webauthn")
        .await
        .is_empty());

    // The passkey client's flow: no username, no password, the credential names the user.
    let b = browser();
    let (status, page) = get_page(&b, &auth_url(&server, "passkeys")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("name=\"username\""), "{page}");
    let options = page_options(&page);
    assert_eq!(options["allowCredentials"], json!([]), "discoverable");
    assert_eq!(options["userVerification"], "required");

    // Without a user handle the user is unknown.
    let mut fields = soft.get(0, &options, &o);
    fields.retain(|(k, _)| k != "userHandle");
    let r = post_page(&b, &server, &page, &pairs(&fields)).await;
    assert_eq!(r.0, 200);
    assert!(r.1.contains(UNKNOWN_USER), "{}", r.1);

    let page = r.1;
    let options = page_options(&page);
    let r = post_page(&b, &server, &page, &pairs(&soft.get(0, &options, &o))).await;
    assert!(redirected_with_code(&r), "{r:?}");
    let (status, tokens, _) = post_form(
        &server.url("/realms/wa/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "passkeys"),
            ("code", &query_of(&r.1)["code"]),
            ("redirect_uri", "http://localhost:3000/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        carol.as_str()
    );

    // Keycloak's passwordless flow: after the username, a user with a passkey is asked for it
    // (only hers), one without goes on to the password.
    let b = browser();
    let (_, page) = get_page(&b, &auth_url(&server, "mixed")).await;
    let (status, page) = post_page(&b, &server, &page, &[("username", "carol")]).await;
    assert_eq!(status, 200);
    let options = page_options(&page);
    assert_eq!(
        options["allowCredentials"][0]["id"],
        b64url(&soft.credentials[0].id)
    );
    let r = post_page(&b, &server, &page, &pairs(&soft.get(0, &options, &o))).await;
    assert!(redirected_with_code(&r), "{r:?}");
    let b = browser();
    let (_, page) = get_page(&b, &auth_url(&server, "mixed")).await;
    let (status, page) = post_page(&b, &server, &page, &[("username", "alice")]).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"password\"") && !page.contains("kc-webauthn-options"),
        "{page}"
    );
    let r = post_page(&b, &server, &page, &[("password", "alice-pw")]).await;
    assert!(redirected_with_code(&r), "{r:?}");
    data_dir.cleanup().await;
}

#[tokio::test]
async fn webauthn_failures_count_for_brute_force() {
    let Some(data_dir) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["bruteForceProtected"] = json!(true);
    r["failureFactor"] = json!(2);
    r["waitIncrementSeconds"] = json!(600);
    r["quickLoginCheckMilliSeconds"] = json!(0);
    let server = start_with(&data_dir, &[r]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;
    let mut soft = enrol_alice(&server).await;
    let o = origin(&server);

    let b = browser();
    let mut page = after_password(&b, &server, "spa", "alice").await;
    for _ in 0..2 {
        let options = page_options(&page);
        let r = post_page(
            &b,
            &server,
            &page,
            &pairs(&soft.get(0, &options, "https://evil.example")),
        )
        .await;
        assert_eq!(r.0, 200);
        assert!(r.1.contains(AUTH_INVALID), "{}", r.1);
        page = r.1;
    }
    let (_, st, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/wa/attack-detection/brute-force/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(st["numFailures"], 2, "{st}");
    assert_eq!(st["disabled"], true, "{st}");
    // Locked: the right assertion is refused with the same message.
    let options = page_options(&page);
    let r = post_page(&b, &server, &page, &pairs(&soft.get(0, &options, &o))).await;
    assert_eq!(r.0, 200, "{r:?}");
    assert!(r.1.contains(AUTH_INVALID), "{}", r.1);
    data_dir.cleanup().await;
}
