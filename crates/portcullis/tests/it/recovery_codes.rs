//! Recovery authentication codes: Keycloak 26's default browser flow with
//! `auth-recovery-authn-code-form` switched to ALTERNATIVE beside the OTP form (as an admin does
//! it, through the Admin API). A user with recovery codes in Keycloak's stored shape (imported)
//! is asked for "Recovery code #N" after the password; the right code logs in once, a used one
//! or a wrong one is refused with Keycloak's message and nothing changes; the last code removes
//! the set and asks for new ones; `CONFIGURE_RECOVERY_AUTHN_CODES` (required, or through
//! `kc_action`) shows twelve codes, stores them on confirmation and replaces the old set; the
//! credential survives export and import; wrong codes count for brute-force protection.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::*;

/// Twelve codes in Keycloak's alphabet.
fn raw_codes(prefix: &str) -> Vec<String> {
    (1..=12).map(|i| format!("{prefix}{i:04}ABCD")).collect()
}

fn hashed(code: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, code.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(d.as_ref())
}

/// A `recovery-authn-codes` credential as Keycloak 26 exports it, with the codes from `first`
/// (1-based) on left.
fn keycloak_credential(codes: &[String], first: usize) -> Value {
    let left: Vec<Value> = codes
        .iter()
        .enumerate()
        .skip(first - 1)
        .map(|(i, c)| json!({"number": i + 1, "encodedHashedValue": hashed(c)}))
        .collect();
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "recovery-authn-codes",
        "userLabel": "Recovery codes",
        "createdDate": 1733400000000i64,
        "credentialData": json!({"algorithm": "SHA-512", "totalCodes": codes.len(), "remainingCodes": left.len()}).to_string(),
        "secretData": json!({"codes": left}).to_string()
    })
}

fn otp_credential() -> Value {
    json!({
        "type": "otp", "userLabel": "Phone",
        "secretData": json!({ "value": "aB3dE5fG7hJ9kL1mN2pQ" }).to_string(),
        "credentialData": json!({ "subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1" }).to_string()
    })
}

fn realm() -> Value {
    json!({
        "realm": "rc",
        "eventsEnabled": true,
        "clients": [
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "users": [
            {"username": "rita", "firstName": "Rita", "lastName": "Tester", "email": "rita@example.com", "enabled": true, "credentials": [
                {"type": "password", "value": "rita-pw"}, keycloak_credential(&raw_codes("RITA"), 1)
            ]},
            {"username": "lara", "firstName": "Lara", "lastName": "Tester", "email": "lara@example.com", "enabled": true, "credentials": [
                {"type": "password", "value": "lara-pw"}, keycloak_credential(&raw_codes("LARA"), 12)
            ]},
            {"username": "otto", "firstName": "Otto", "lastName": "Tester", "email": "otto@example.com", "enabled": true, "credentials": [
                {"type": "password", "value": "otto-pw"}, otp_credential()
            ]},
            {"username": "nina", "firstName": "Nina", "lastName": "Tester", "email": "nina@example.com", "enabled": true, "requiredActions": ["CONFIGURE_RECOVERY_AUTHN_CODES"],
             "credentials": [{"type": "password", "value": "nina-pw"}]}
        ]
    })
}

fn auth_url(server: &TestServer, extra: &str) -> String {
    server.url(&format!(
        "/realms/rc/protocol/openid-connect/auth?client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s1{extra}"
    ))
}

/// Switches Keycloak's default browser flow's recovery-code execution (DISABLED in
/// `Browser - Conditional 2FA`) to ALTERNATIVE, as an admin does in the console.
async fn enable_recovery_codes(server: &TestServer, token: &str) {
    let path = "/admin/realms/rc/authentication/flows/browser/executions";
    let (status, execs, _) = call(server, "GET", path, Some(token), None).await;
    assert_eq!(status, 200, "{execs}");
    let mut e = execs
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["providerId"] == "auth-recovery-authn-code-form")
        .unwrap_or_else(|| panic!("{execs}"))
        .clone();
    assert_eq!(e["requirement"], "DISABLED");
    e["requirement"] = json!("ALTERNATIVE");
    let (status, body, _) = call(server, "PUT", path, Some(token), Some(e)).await;
    assert_eq!(status, 204, "{body}");
}

async fn start(data: &Data) -> (TestServer, String) {
    let server = start_with(data, &[realm()]).await;
    let token = admin_token(&server).await;
    enable_recovery_codes(&server, &token).await;
    (server, token)
}

async fn user(server: &TestServer, token: &str, name: &str) -> Value {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/rc/users?username={name}&exact=true"),
        Some(token),
        None,
    )
    .await;
    users[0].clone()
}

/// The user's recovery-codes credentials (Admin API: metadata, no `secretData`).
async fn recovery_credentials(server: &TestServer, token: &str, name: &str) -> Vec<Value> {
    let id = user(server, token, name).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, list, _) = call(
        server,
        "GET",
        &format!("/admin/realms/rc/users/{id}/credentials"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "recovery-authn-codes")
        .cloned()
        .collect()
}

/// The recovery-code page after the password.
async fn code_page(b: &reqwest::Client, server: &TestServer, name: &str, pw: &str) -> String {
    let (status, page, _) = login(b, server, &auth_url(server, ""), name, pw).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"recoveryCodeInput\""), "{page}");
    assert!(page.contains("kc-recovery-code-login-form"), "{page}");
    page
}

fn redirected_with_code(r: &(u16, String)) -> bool {
    r.0 == 302 && query_of(&r.1).contains_key("code")
}

/// `XXXX-XXXX-XXXX`, as the setup page shows codes.
fn dashed(code: &str) -> String {
    format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..])
}

#[tokio::test]
async fn a_recovery_code_logs_in_once_and_in_order_and_survives_export() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let (server, token) = start(&data).await;
    let codes = raw_codes("RITA");

    // A user with OTP still gets the OTP form (the first alternative configured).
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "otto", "otto-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"otp\""), "{page}");

    // rita (password and imported codes): "Recovery code #1".
    let b = browser();
    let page = code_page(&b, &server, "rita", "rita-pw").await;
    assert!(page.contains("Recovery code #1"), "{page}");
    assert!(page.contains("Login with a recovery authentication code"));
    // A wrong code, a later code, a blank: the page again with Keycloak's message.
    for wrong in ["AAAAAAAAAAAA", codes[1].as_str(), ""] {
        let r = post_page(&b, &server, &page, &[("recoveryCodeInput", wrong)]).await;
        assert_eq!(r.0, 200, "{wrong}: {}", r.1);
        assert!(
            r.1.contains("Invalid recovery authentication code"),
            "{}",
            r.1
        );
        assert!(r.1.contains("Recovery code #1"), "{}", r.1);
    }
    // Nothing changed.
    let stored = recovery_credentials(&server, &token, "rita").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(credential_data(&stored[0])["remainingCodes"], 12);
    assert!(stored[0].get("secretData").is_none(), "{}", stored[0]);
    // The right one, typed with dashes as the setup page shows it.
    let r = post_page(
        &b,
        &server,
        &page,
        &[("recoveryCodeInput", &dashed(&codes[0]))],
    )
    .await;
    assert!(redirected_with_code(&r), "{r:?}");
    let stored = recovery_credentials(&server, &token, "rita").await;
    assert_eq!(credential_data(&stored[0])["remainingCodes"], 11);
    assert_eq!(credential_data(&stored[0])["totalCodes"], 12);

    // The same code again: refused; the next one is asked for and works.
    let b = browser();
    let page = code_page(&b, &server, "rita", "rita-pw").await;
    assert!(page.contains("Recovery code #2"), "{page}");
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[0])]).await;
    assert_eq!(r.0, 200);
    assert!(r.1.contains("Invalid recovery authentication code"));
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[1])]).await;
    assert!(redirected_with_code(&r), "{r:?}");

    // Keycloak's events: the failures as LOGIN_ERROR with the credential type.
    let errors = events_at_least(
        &server,
        &token,
        "/admin/realms/rc/events",
        "?type=LOGIN_ERROR",
        4,
    )
    .await;
    let rita = user(&server, &token, "rita").await["id"].clone();
    assert!(
        errors.iter().all(|e| e["userId"] == rita
            && e["error"] == "invalid_user_credentials"
            && e["details"]["credential_type"] == "recovery-authn-codes"),
        "{errors:?}"
    );

    // Exported in Keycloak's shape; imported elsewhere, the next code works there.
    drop(server);
    let exported = data.export("rc");
    let rita = exported_user(&exported, "rita");
    let cred = exported_credential(&rita, "recovery-authn-codes");
    assert_eq!(
        credential_data(&cred),
        json!({"algorithm": "SHA-512", "totalCodes": 12, "remainingCodes": 10})
    );
    let secret: Value = serde_json::from_str(cred["secretData"].as_str().unwrap()).unwrap();
    assert_eq!(secret["codes"].as_array().unwrap().len(), 10);
    assert_eq!(
        secret["codes"][0],
        json!({"number": 3, "encodedHashedValue": hashed(&codes[2])})
    );
    let Some(other) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&other, &[exported]).await;
    let b = browser();
    let page = code_page(&b, &server, "rita", "rita-pw").await;
    assert!(page.contains("Recovery code #3"), "{page}");
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[2])]).await;
    assert!(redirected_with_code(&r), "{r:?}");
    data.cleanup().await;
    other.cleanup().await;
}

/// The codes a `CONFIGURE_RECOVERY_AUTHN_CODES` page shows (its hidden field).
fn shown_codes(page: &str) -> Vec<String> {
    let all = form_field(page, "generatedRecoveryAuthnCodes").unwrap_or_else(|| panic!("{page}"));
    let codes: Vec<String> = all.split(',').map(str::to_string).collect();
    assert_eq!(codes.len(), 12, "{all}");
    for c in &codes {
        assert_eq!(c.len(), 12, "{c}");
        assert!(
            c.bytes()
                .all(|b| b"ABCDEFGHIJKLMNPQRSTUVWXYZ123456789".contains(&b)),
            "{c}"
        );
        assert!(page.contains(&format!("<li>{}</li>", dashed(c))), "{page}");
    }
    codes
}

#[tokio::test]
async fn the_required_action_stores_codes_that_then_work_and_replaces_them_sqlite() {
    the_required_action_stores_codes_that_then_work_and_replaces_them(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_required_action_stores_codes_that_then_work_and_replaces_them_postgres() {
    the_required_action_stores_codes_that_then_work_and_replaces_them(Backend::Postgres).await;
}

async fn the_required_action_stores_codes_that_then_work_and_replaces_them(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let (server, token) = start(&data).await;
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "nina", "nina-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Recovery authentication codes"), "{page}");
    let codes = shown_codes(&page);
    let at = form_field(&page, "generatedAt").unwrap();
    let joined = codes.join(",");
    let confirmed = [
        ("generatedRecoveryAuthnCodes", joined.as_str()),
        ("generatedAt", at.as_str()),
        ("userLabel", "Recovery codes"),
        ("kcRecoveryCodesConfirmationCheck", "on"),
    ];

    // Posted without the flow cookie (another browser): refused.
    let code = form_field(&page, "session_code").unwrap();
    let mut form = vec![("session_code", code.as_str())];
    form.extend_from_slice(&confirmed);
    let r = browser()
        .post(server.url("/realms/rc/login-actions/required-action"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Your login attempt timed out"));
    // Not confirmed: the page again, naming the box.
    let r = post_page(&b, &server, &page, &confirmed[..3]).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(
        r.1.contains("Please confirm that you have saved the recovery codes"),
        "{}",
        r.1
    );
    assert_eq!(shown_codes(&r.1), codes, "the same codes again");
    // Codes other than those shown: the page again (Keycloak's answer to tampered codes).
    let mut tampered = confirmed;
    let other = raw_codes("EVIL").join(",");
    tampered[0].1 = &other;
    let r = post_page(&b, &server, &page, &tampered).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(shown_codes(&r.1), codes);
    assert!(recovery_credentials(&server, &token, "nina")
        .await
        .is_empty());

    // Confirmed: stored, and the login goes on.
    let r = post_page(&b, &server, &page, &confirmed).await;
    assert!(redirected_with_code(&r), "{r:?}");
    let stored = recovery_credentials(&server, &token, "nina").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["userLabel"], "Recovery codes");
    assert_eq!(stored[0]["createdDate"].to_string(), at);
    assert_eq!(
        credential_data(&stored[0]),
        json!({"algorithm": "SHA-512", "totalCodes": 12, "remainingCodes": 12})
    );
    let nina = user(&server, &token, "nina").await;
    assert_eq!(nina["requiredActions"], json!([]));
    let updated = events_at_least(
        &server,
        &token,
        "/admin/realms/rc/events",
        "?type=UPDATE_CREDENTIAL",
        1,
    )
    .await;
    assert_eq!(updated[0]["userId"], nina["id"]);
    assert_eq!(
        updated[0]["details"]["credential_type"],
        "recovery-authn-codes"
    );

    // The codes work at the next login.
    let b = browser();
    let page = code_page(&b, &server, "nina", "nina-pw").await;
    assert!(page.contains("Recovery code #1"), "{page}");
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[0])]).await;
    assert!(redirected_with_code(&r), "{r:?}");

    // Again through `kc_action` in that session: new codes replace the old set.
    let (status, page) = get_page(
        &b,
        &auth_url(&server, "&kc_action=CONFIGURE_RECOVERY_AUTHN_CODES"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("cancelRecoveryAuthnCodesBtn"), "{page}");
    let fresh = shown_codes(&page);
    assert_ne!(fresh, codes);
    let at = form_field(&page, "generatedAt").unwrap();
    let joined = fresh.join(",");
    let r = post_page(
        &b,
        &server,
        &page,
        &[
            ("generatedRecoveryAuthnCodes", joined.as_str()),
            ("generatedAt", at.as_str()),
            ("userLabel", "Recovery codes"),
            ("kcRecoveryCodesConfirmationCheck", "on"),
        ],
    )
    .await;
    assert_eq!(r.0, 302, "{}", r.1);
    let q = query_of(&r.1);
    assert_eq!(q["kc_action_status"], "success", "{}", r.1);
    assert_eq!(q["kc_action"], "CONFIGURE_RECOVERY_AUTHN_CODES");
    let stored = recovery_credentials(&server, &token, "nina").await;
    assert_eq!(stored.len(), 1, "one set: {stored:?}");
    assert_eq!(credential_data(&stored[0])["remainingCodes"], 12);
    let b = browser();
    let page = code_page(&b, &server, "nina", "nina-pw").await;
    assert!(page.contains("Recovery code #1"), "{page}");
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[1])]).await;
    assert_eq!(r.0, 200, "an old code no longer works");
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &fresh[0])]).await;
    assert!(redirected_with_code(&r), "{r:?}");
    data.cleanup().await;
}

#[tokio::test]
async fn the_last_code_removes_the_set_and_asks_for_new_codes() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let (server, token) = start(&data).await;
    let codes = raw_codes("LARA");
    let b = browser();
    let page = code_page(&b, &server, "lara", "lara-pw").await;
    assert!(page.contains("Recovery code #12"), "{page}");
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[11])]).await;
    // The set is used up: it is removed and the user sets up new codes before going on.
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(r.1.contains("kc-recovery-codes-settings-form"), "{}", r.1);
    assert!(recovery_credentials(&server, &token, "lara")
        .await
        .is_empty());
    assert_eq!(
        user(&server, &token, "lara").await["requiredActions"],
        json!(["CONFIGURE_RECOVERY_AUTHN_CODES"])
    );
    let fresh = shown_codes(&r.1);
    let at = form_field(&r.1, "generatedAt").unwrap();
    let joined = fresh.join(",");
    let r = post_page(
        &b,
        &server,
        &r.1,
        &[
            ("generatedRecoveryAuthnCodes", joined.as_str()),
            ("generatedAt", at.as_str()),
            ("kcRecoveryCodesConfirmationCheck", "on"),
        ],
    )
    .await;
    assert!(redirected_with_code(&r), "{r:?}");
    assert_eq!(recovery_credentials(&server, &token, "lara").await.len(), 1);
    data.cleanup().await;
}

#[tokio::test]
async fn wrong_codes_count_for_brute_force_protection() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["bruteForceProtected"] = json!(true);
    r["failureFactor"] = json!(2);
    r["quickLoginCheckMilliSeconds"] = json!(0);
    r["waitIncrementSeconds"] = json!(600);
    r["maxFailureWaitSeconds"] = json!(900);
    let server = start_with(&data, &[r]).await;
    let token = admin_token(&server).await;
    enable_recovery_codes(&server, &token).await;
    let codes = raw_codes("RITA");
    let b = browser();
    let page = code_page(&b, &server, "rita", "rita-pw").await;
    for _ in 0..2 {
        let r = post_page(&b, &server, &page, &[("recoveryCodeInput", "AAAAAAAAAAAA")]).await;
        assert_eq!(r.0, 200);
    }
    // Locked: the right code is refused with Keycloak's `invalidUserMessage`, not used up.
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[0])]).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(r.1.contains("Invalid username or password."), "{}", r.1);
    let stored = recovery_credentials(&server, &token, "rita").await;
    assert_eq!(credential_data(&stored[0])["remainingCodes"], 12);
    let id = user(&server, &token, "rita").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, st, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/rc/attack-detection/brute-force/users/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["numFailures"], 2, "{st}");
    assert_eq!(st["disabled"], true, "{st}");
    data.cleanup().await;
}

#[tokio::test]
async fn a_required_recovery_form_sets_up_codes_for_a_user_without() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["browserFlow"] = json!("rc browser");
    r["directGrantFlow"] = json!("rc grant");
    r["authenticationFlows"] = json!([
        {"alias": "rc grant", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "direct-grant-validate-username", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "direct-grant-validate-password", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
         ]},
        {"alias": "rc browser", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 10, "authenticatorFlow": false},
            {"authenticatorFlow": true, "flowAlias": "rc forms", "requirement": "ALTERNATIVE", "priority": 20}
         ]},
        {"alias": "rc forms", "providerId": "basic-flow", "topLevel": false, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "auth-recovery-authn-code-form", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
         ]}
    ]);
    let server = start_with(&data, &[r]).await;
    let token = admin_token(&server).await;
    // otto has no codes: `setRequiredActions` adds the action to this login.
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "otto", "otto-pw").await;
    assert_eq!(status, 200, "{page}");
    let codes = shown_codes(&page);
    let at = form_field(&page, "generatedAt").unwrap();
    let joined = codes.join(",");
    let r = post_page(
        &b,
        &server,
        &page,
        &[
            ("generatedRecoveryAuthnCodes", joined.as_str()),
            ("generatedAt", at.as_str()),
            ("kcRecoveryCodesConfirmationCheck", "on"),
        ],
    )
    .await;
    assert!(redirected_with_code(&r), "{r:?}");
    assert_eq!(recovery_credentials(&server, &token, "otto").await.len(), 1);
    // Next time the form asks for a code.
    let b = browser();
    let page = code_page(&b, &server, "otto", "otto-pw").await;
    let r = post_page(&b, &server, &page, &[("recoveryCodeInput", &codes[0])]).await;
    assert!(redirected_with_code(&r), "{r:?}");
    data.cleanup().await;
}
