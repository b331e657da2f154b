//! Authentication flows run as data, and one-time passwords: Keycloak's default browser flow
//! asks a user with an OTP credential (in Keycloak's stored shape) for a code after the
//! password; the password grant takes it as `totp`. Wrong, replayed, out-of-window codes and
//! another user's code are refused with Keycloak's messages; a post cannot skip a step; a
//! custom flow (identity-first, a role condition with deny access) runs as Keycloak runs it;
//! a flow naming an unknown provider or a missing sub-flow is refused at import.

use serde_json::{json, Value};

use crate::support::*;

const ALICE_SECRET: &str = "aB3dE5fG7hJ9kL1mN2pQ";
const CAROL_SECRET: &str = "zZ9yY8xX7wW6vV5uU4tT";

fn realm() -> Value {
    json!({
        "realm": "mfa",
        "clients": [
            {"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [
                {"type": "password", "value": "alice-pw"}, otp_credential(ALICE_SECRET, "Phone")
            ]},
            {"username": "bob", "firstName": "Bob", "lastName": "Tester", "email": "bob@example.com", "enabled": true, "credentials": [{"type": "password", "value": "bob-pw"}]},
            {"username": "carol", "firstName": "Carol", "lastName": "Tester", "email": "carol@example.com", "enabled": true, "credentials": [
                {"type": "password", "value": "carol-pw"}, otp_credential(CAROL_SECRET, "Tablet")
            ]}
        ]
    })
}

fn auth_url(server: &TestServer, realm: &str, client: &str) -> String {
    server.url(&format!(
        "/realms/{realm}/protocol/openid-connect/auth?client_id={client}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s1"
    ))
}

/// The OTP page after alice's password.
async fn otp_page(b: &reqwest::Client, server: &TestServer) -> String {
    let (status, html) = get_page(b, &auth_url(server, "mfa", "spa")).await;
    assert_eq!(status, 200);
    let (status, page) = post_page(
        b,
        server,
        &html,
        &[("username", "alice"), ("password", "alice-pw")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("name=\"otp\""), "{page}");
    assert!(page.contains("kc-otp-login-form"));
    page
}

fn redirected_with_code(r: &(u16, String)) -> bool {
    r.0 == 302 && query_of(&r.1).contains_key("code")
}

#[tokio::test]
async fn browser_login_asks_for_the_code_after_the_password() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;

    // Without an OTP credential: no OTP page.
    let b = browser();
    let (status, location, q) = login(
        &b,
        &server,
        &auth_url(&server, "mfa", "spa"),
        "bob",
        "bob-pw",
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert!(q.contains_key("code"));

    // Wrong code, another user's code, an out-of-window code: the page again, no code.
    let b = browser();
    let page = otp_page(&b, &server).await;
    for wrong in [
        "000000".to_string(),
        totp(CAROL_SECRET, 0),
        totp(ALICE_SECRET, -150),
        totp(ALICE_SECRET, 150),
    ] {
        if wrong == totp(ALICE_SECRET, 0) {
            continue;
        }
        let r = post_page(&b, &server, &page, &[("otp", &wrong)]).await;
        assert_eq!(r.0, 200, "{wrong}: {}", r.1);
        assert!(r.1.contains("Invalid authenticator code."), "{}", r.1);
    }
    // The right one logs in.
    let code = totp(ALICE_SECRET, 0);
    let r = post_page(&b, &server, &page, &[("otp", &code)]).await;
    assert!(redirected_with_code(&r), "{r:?}");

    // The same code again (reuse is off by default): refused.
    let b2 = browser();
    let page = otp_page(&b2, &server).await;
    let r = post_page(&b2, &server, &page, &[("otp", &code)]).await;
    assert_eq!(r.0, 200);
    assert!(r.1.contains("Invalid authenticator code."), "{}", r.1);
    data.cleanup().await;
}

#[tokio::test]
async fn a_post_cannot_skip_a_step() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let b = browser();
    let (_, html) = get_page(&b, &auth_url(&server, "mfa", "spa")).await;
    // A valid code posted to the login form, without the password: the password step gets
    // the post and refuses it.
    let r = post_page(
        &b,
        &server,
        &html,
        &[("username", "alice"), ("otp", &totp(ALICE_SECRET, 0))],
    )
    .await;
    assert_eq!(r.0, 200);
    assert!(r.1.contains("Invalid username or password."), "{}", r.1);
    // The required-action form of the same flow before the login: refused.
    let code = form_field(&html, "session_code").unwrap();
    let r = b
        .post(server.url("/realms/mfa/login-actions/required-action"))
        .form(&[
            ("session_code", code.as_str()),
            ("password-new", "x-new-pw-1"),
            ("password-confirm", "x-new-pw-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Invalid Request."));
    // Posted without the flow cookie (another browser): refused.
    let other = browser();
    let r = other
        .post(server.url("/realms/mfa/login-actions/required-action"))
        .form(&[
            ("session_code", code.as_str()),
            ("password-new", "x-new-pw-1"),
            ("password-confirm", "x-new-pw-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Your login attempt timed out"));
    // The password still works: nothing changed.
    let page = otp_page(&b, &server).await;
    let r = post_page(&b, &server, &page, &[("otp", &totp(ALICE_SECRET, 0))]).await;
    assert!(redirected_with_code(&r), "{r:?}");
    data.cleanup().await;
}

async fn grant(server: &TestServer, user: &str, pw: &str, totp: Option<&str>) -> (u16, Value) {
    let totp: Vec<(&str, &str)> = totp.map(|t| ("totp", t)).into_iter().collect();
    password_grant(server, "mfa", "cli", None, user, pw, &totp).await
}

#[tokio::test]
async fn password_grant_takes_the_code_as_totp() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let invalid =
        json!({"error": "invalid_grant", "error_description": "Invalid user credentials"});
    assert_eq!(
        grant(&server, "alice", "alice-pw", None).await,
        (401, invalid.clone())
    );
    assert_eq!(
        grant(&server, "alice", "alice-pw", Some("000000")).await,
        (401, invalid.clone())
    );
    assert_eq!(
        grant(&server, "alice", "alice-pw", Some(&totp(CAROL_SECRET, 0)))
            .await
            .0,
        401
    );
    // A right code with a wrong password: the password is refused first.
    let code = totp(ALICE_SECRET, 0);
    assert_eq!(grant(&server, "alice", "wrong", Some(&code)).await.0, 401);
    let (status, body) = grant(&server, "alice", "alice-pw", Some(&code)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    // Replayed: refused.
    assert_eq!(
        grant(&server, "alice", "alice-pw", Some(&code)).await,
        (401, invalid)
    );
    // No OTP credential: no code needed.
    assert_eq!(grant(&server, "bob", "bob-pw", None).await.0, 200);
    data.cleanup().await;
}

/// A realm whose flows are its own: identity-first (`auth-username-form`, then
/// `auth-password-form`) for the client `idf` (an override), and a direct grant flow that denies
/// users with the role `blocked` (`conditional-user-role` + `deny-access-authenticator`).
fn custom_realm() -> Value {
    let mut r = realm();
    r["roles"] = json!({"realm": [{"name": "blocked"}]});
    r["users"][1]["realmRoles"] = json!(["blocked"]);
    r["authenticationFlows"] = json!([
        {"id": "idf-flow", "alias": "identity first", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 10, "authenticatorFlow": false},
            {"authenticatorFlow": true, "flowAlias": "idf forms", "requirement": "ALTERNATIVE", "priority": 20}
         ]},
        {"alias": "idf forms", "providerId": "basic-flow", "topLevel": false, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-username-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "auth-password-form", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
         ]},
        {"alias": "plain", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false}
         ]},
        {"alias": "guarded grant", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "direct-grant-validate-username", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "direct-grant-validate-password", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false},
            {"authenticatorFlow": true, "flowAlias": "blocked users", "requirement": "CONDITIONAL", "priority": 30}
         ]},
        {"alias": "blocked users", "providerId": "basic-flow", "topLevel": false, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "conditional-user-role", "authenticatorConfig": "is blocked", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "deny-access-authenticator", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
         ]}
    ]);
    r["authenticatorConfig"] =
        json!([{"alias": "is blocked", "config": {"condUserRole": "blocked"}}]);
    r["browserFlow"] = json!("plain");
    r["directGrantFlow"] = json!("guarded grant");
    r["clients"].as_array_mut().unwrap().push(json!({
        "clientId": "idf", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
        "authenticationFlowBindingOverrides": {"browser": "idf-flow"}
    }));
    r
}

#[tokio::test]
async fn custom_flows_run_as_keycloak_runs_them() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[custom_realm()]).await;
    // Identity-first for `idf`: the username, then the password.
    let b = browser();
    let (status, html) = get_page(&b, &auth_url(&server, "mfa", "idf")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("name=\"username\"") && !html.contains("name=\"password\""),
        "{html}"
    );
    let (status, page) = post_page(&b, &server, &html, &[("username", "nobody")]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Invalid username."), "{page}");
    let (status, page) = post_page(&b, &server, &page, &[("username", "bob")]).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"password\"") && !page.contains("name=\"username\""),
        "{page}"
    );
    let (status, again) = post_page(&b, &server, &page, &[("password", "wrong")]).await;
    assert_eq!(status, 200);
    assert!(again.contains("Invalid password."), "{again}");
    let r = post_page(&b, &server, &again, &[("password", "bob-pw")]).await;
    assert!(redirected_with_code(&r), "{r:?}");
    // Another client keeps the realm's browser flow (username and password on one page).
    let (_, html) = get_page(&browser(), &auth_url(&server, "mfa", "spa")).await;
    assert!(html.contains("name=\"password\""));

    // The direct grant flow denies `blocked` users after their password.
    assert_eq!(
        grant(&server, "alice", "alice-pw", None).await.0,
        200,
        "no OTP in this flow"
    );
    let (status, body) = grant(&server, "bob", "bob-pw", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(grant(&server, "bob", "wrong", None).await.0, 401);
    data.cleanup().await;
}

#[tokio::test]
async fn a_flow_that_cannot_run_is_refused_at_import() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let token = admin_token(&server).await;
    let mut bad = custom_realm();
    bad["realm"] = json!("bad");
    bad["authenticationFlows"][1]["authenticationExecutions"][1]["authenticator"] =
        json!("no-such-authenticator");
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/realms",
        Some(&token),
        Some(bad.clone()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("no-such-authenticator") && text.contains("idf forms"),
        "{text}"
    );
    let mut missing = custom_realm();
    missing["realm"] = json!("bad");
    missing["authenticationFlows"][0]["authenticationExecutions"][1]["flowAlias"] = json!("gone");
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/realms",
        Some(&token),
        Some(missing),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("'gone'"), "{body}");
    let (status, _, _) = call(&server, "GET", "/admin/realms/bad", Some(&token), None).await;
    assert_eq!(status, 404, "nothing was created");
    data.cleanup().await;
}

/// `auth-conditional-otp-form` after the password, with a config: role `trusted` skips,
/// role `admin` forces, the header `X-Trusted: yes` skips, otherwise the default outcome
/// (`force` for the realm's flow, `skip` for the client `lax`'s override).
fn conditional_realm() -> Value {
    let mut r = realm();
    r["realm"] = json!("cond");
    r["roles"] = json!({"realm": [{"name": "trusted"}, {"name": "admin"}]});
    r["users"][0]["realmRoles"] = json!(["trusted", "admin"]);
    r["users"][2]["realmRoles"] = json!(["admin"]);
    r["users"].as_array_mut().unwrap().push(json!(
        {"username": "dave", "firstName": "Dave", "lastName": "Tester", "email": "dave@example.com", "enabled": true, "credentials": [
            {"type": "password", "value": "dave-pw"}, otp_credential(ALICE_SECRET, "Phone")
        ]}
    ));
    let flow = |alias: &str, config: &str| {
        json!({"alias": alias, "providerId": "basic-flow", "topLevel": true, "builtIn": false,
        "authenticationExecutions": [
           {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
           {"authenticator": "auth-conditional-otp-form", "authenticatorConfig": config, "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
        ]})
    };
    let mut lax = flow("lax flow", "otp default skip");
    lax["id"] = json!("lax-flow");
    let grant = json!({"alias": "grant", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
    "authenticationExecutions": [
       {"authenticator": "direct-grant-validate-username", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
       {"authenticator": "direct-grant-validate-password", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
    ]});
    r["authenticationFlows"] = json!([flow("cond flow", "otp default force"), lax, grant]);
    r["directGrantFlow"] = json!("grant");
    let config = |alias: &str, default: &str| {
        json!({"alias": alias, "config": {
            "skipOtpRole": "trusted", "forceOtpRole": "admin",
            "noOtpRequiredForHeaderPattern": "X-Trusted: (yes|si)",
            "defaultOtpOutcome": default
        }})
    };
    r["authenticatorConfig"] = json!([
        config("otp default force", "force"),
        config("otp default skip", "skip")
    ]);
    r["browserFlow"] = json!("cond flow");
    r["clients"].as_array_mut().unwrap().push(json!({
        "clientId": "lax", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
        "authenticationFlowBindingOverrides": {"browser": "lax-flow"}
    }));
    r
}

/// Logs `user` in with the password (through `b`): the answer to the password form.
async fn password_step(
    b: &reqwest::Client,
    server: &TestServer,
    client: &str,
    user: &str,
    pw: &str,
) -> (u16, String) {
    let (status, html) = get_page(b, &auth_url(server, "cond", client)).await;
    assert_eq!(status, 200, "{html}");
    post_page(b, server, &html, &[("username", user), ("password", pw)]).await
}

#[tokio::test]
async fn conditional_otp_form_follows_its_config() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[conditional_realm()]).await;
    let asks_otp = |r: &(u16, String)| r.0 == 200 && r.1.contains("kc-otp-login-form");

    // Role `trusted` skips (before the `admin` role that forces): logged in at once.
    let r = password_step(&browser(), &server, "spa", "alice", "alice-pw").await;
    assert!(redirected_with_code(&r), "{r:?}");
    // Role `admin` forces: the OTP form, and the code logs in.
    let b = browser();
    let r = password_step(&b, &server, "spa", "carol", "carol-pw").await;
    assert!(asks_otp(&r), "{r:?}");
    let wrong = post_page(&b, &server, &r.1, &[("otp", "000000")]).await;
    assert!(wrong.1.contains("Invalid authenticator code."), "{wrong:?}");
    let ok = post_page(&b, &server, &wrong.1, &[("otp", &totp(CAROL_SECRET, 0))]).await;
    assert!(redirected_with_code(&ok), "{ok:?}");

    // No role: the header decides (matched on `Name: value`, case-insensitively) ...
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-trusted", "YES".parse().unwrap());
    let trusted = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let r = password_step(&trusted, &server, "spa", "dave", "dave-pw").await;
    assert!(redirected_with_code(&r), "{r:?}");
    // ... and without it, the default outcome: `force` here, `skip` for `lax`.
    let r = password_step(&browser(), &server, "spa", "dave", "dave-pw").await;
    assert!(asks_otp(&r), "{r:?}");
    let r = password_step(&browser(), &server, "lax", "dave", "dave-pw").await;
    assert!(redirected_with_code(&r), "{r:?}");

    // A user without OTP: forced by default, CONFIGURE_TOTP is added to the login; skipped by
    // default, the login ends without it.
    let r = password_step(&browser(), &server, "spa", "bob", "bob-pw").await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(r.1.contains("Mobile Authenticator Setup"), "{}", r.1);
    let r = password_step(&browser(), &server, "lax", "bob", "bob-pw").await;
    assert!(redirected_with_code(&r), "{r:?}");
    data.cleanup().await;
}
