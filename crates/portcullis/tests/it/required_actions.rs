//! Required actions at login, through the browser: CONFIGURE_TOTP (the secret and QR code on
//! the page, the code checked under the realm's OTP policy, the credential stored in
//! Keycloak's shape; also set by a REQUIRED OTP form for a user without OTP),
//! TERMS_AND_CONDITIONS, UPDATE_PROFILE, VERIFY_EMAIL, the realm's priority order and enabled
//! flags, application-initiated actions (`kc_action`), and the password grant's refusal while
//! actions are pending.

use serde_json::{json, Value};

use crate::support::*;

fn realm() -> Value {
    json!({
        "realm": "ra",
        "displayName": "Required Actions",
        "clients": [
            {"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "users": [
            {"username": "dave", "enabled": true, "requiredActions": ["CONFIGURE_TOTP"],
             "credentials": [{"type": "password", "value": "dave-pw"}]},
            {"username": "erin", "enabled": true, "email": "erin@example.com", "emailVerified": true,
             "requiredActions": ["UPDATE_PROFILE", "TERMS_AND_CONDITIONS"],
             "credentials": [{"type": "password", "value": "erin-pw"}]},
            {"username": "fred", "enabled": true, "requiredActions": ["TERMS_AND_CONDITIONS"],
             "credentials": [{"type": "password", "value": "fred-pw"}]},
            {"username": "gina", "enabled": true, "firstName": "Gina", "lastName": "G", "email": "gina@example.com",
             "credentials": [{"type": "password", "value": "gina-pw"}]}
        ]
    })
}

/// The realm with TERMS_AND_CONDITIONS enabled (disabled in Keycloak's defaults).
fn realm_with_terms() -> Value {
    let mut r = realm();
    r["requiredActions"] = json!([
        {"alias": "CONFIGURE_TOTP", "name": "Configure OTP", "providerId": "CONFIGURE_TOTP", "enabled": true, "defaultAction": false, "priority": 10, "config": {}},
        {"alias": "TERMS_AND_CONDITIONS", "name": "Terms and Conditions", "providerId": "TERMS_AND_CONDITIONS", "enabled": true, "defaultAction": false, "priority": 20, "config": {}},
        {"alias": "UPDATE_PASSWORD", "name": "Update Password", "providerId": "UPDATE_PASSWORD", "enabled": true, "defaultAction": false, "priority": 30, "config": {}},
        {"alias": "UPDATE_PROFILE", "name": "Update Profile", "providerId": "UPDATE_PROFILE", "enabled": true, "defaultAction": false, "priority": 40, "config": {}},
        {"alias": "VERIFY_EMAIL", "name": "Verify Email", "providerId": "VERIFY_EMAIL", "enabled": true, "defaultAction": false, "priority": 50, "config": {}}
    ]);
    r
}

fn auth_url(server: &TestServer, extra: &str) -> String {
    server.url(&format!(
        "/realms/ra/protocol/openid-connect/auth?client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s1{extra}"
    ))
}

/// Posts a page's form: status and location (or body).
async fn post(
    b: &reqwest::Client,
    server: &TestServer,
    html: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let code = form_field(html, "session_code").expect("a bound form");
    let mut form: Vec<(&str, &str)> = vec![("session_code", code.as_str())];
    form.extend_from_slice(fields);
    let r = b
        .post(server.url(&form_action(html)))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// The TOTP code of a raw secret now (the project's own TOTP).
fn code_now(secret: &[u8]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    portcullis::users::otp::totp(portcullis::users::otp::Algorithm::Sha1, secret, now, 30, 6)
}

/// The text of the element with `id`.
fn text_of(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\"")).unwrap();
    let open = start + html[start..].find('>').unwrap() + 1;
    html[open..open + html[open..].find('<').unwrap()].to_string()
}

async fn user(server: &TestServer, token: &str, name: &str) -> Value {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/ra/users?username={name}&exact=true"),
        Some(token),
        None,
    )
    .await;
    users[0].clone()
}

async fn credentials(server: &TestServer, token: &str, id: &str) -> Vec<Value> {
    let (status, list, _) = call(
        server,
        "GET",
        &format!("/admin/realms/ra/users/{id}/credentials"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// Reads the setup page's secret (Base32 in groups of four) and its key URI.
fn secret_of(page: &str) -> Vec<u8> {
    let shown = text_of(page, "kc-totp-secret-key");
    assert!(shown.split(' ').all(|g| g.len() <= 4), "{shown}");
    portcullis::users::otp::base32_decode(&shown).unwrap()
}

async fn configure_totp_at_login(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let token = admin_token(&server).await;
    let dave = user(&server, &token, "dave").await;
    let dave_id = dave["id"].as_str().unwrap();

    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "dave", "dave-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Mobile Authenticator Setup"), "{page}");
    let secret = secret_of(&page);
    assert_eq!(secret.len(), 20, "Keycloak's 20-character secret");
    let uri = text_of(&page, "kc-totp-key-uri").replace("&amp;", "&");
    let b32 = portcullis::users::otp::base32_encode(&secret);
    assert_eq!(
        uri,
        format!("otpauth://totp/Required%20Actions:dave?secret={b32}&digits=6&algorithm=SHA1&issuer=Required%20Actions&period=30")
    );
    assert!(
        page.contains("src=\"data:image/svg+xml;base64,"),
        "a QR code"
    );

    // The password grant refuses while the action is pending.
    let (status, body, _) = post_form(
        &server.url("/realms/ra/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "cli"),
            ("username", "dave"),
            ("password", "dave-pw"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Account is not fully set up"})
    );

    // Without the flow cookie: refused, nothing stored.
    let code = form_field(&page, "session_code").unwrap();
    let r = browser()
        .post(server.url(&form_action(&page)))
        .form(&[
            ("session_code", code.as_str()),
            ("totp", &code_now(&secret)),
            ("userLabel", "Phone"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Skipping the action by posting to the login form: the setup page again.
    let r = b
        .post(server.url("/realms/ra/login-actions/authenticate"))
        .form(&[
            ("session_code", code.as_str()),
            ("username", "dave"),
            ("password", "dave-pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let again = r.text().await.unwrap();
    assert!(again.contains("Mobile Authenticator Setup"), "{again}");
    assert_eq!(secret_of(&again), secret, "the same secret for the login");
    // A wrong code: the page again with Keycloak's message, nothing stored.
    let r = post(
        &b,
        &server,
        &page,
        &[("totp", "000000"), ("userLabel", "Phone")],
    )
    .await;
    assert_eq!(r.0, 200);
    assert!(r.1.contains("Invalid authenticator code."), "{}", r.1);
    let r = post(&b, &server, &page, &[("totp", ""), ("userLabel", "Phone")]).await;
    assert!(
        r.1.contains("Please specify authenticator code."),
        "{}",
        r.1
    );
    assert!(credentials(&server, &token, dave_id)
        .await
        .iter()
        .all(|c| c["type"] != "otp"));

    // The right code: a code for the client, an `otp` credential in Keycloak's shape.
    let r = post(
        &b,
        &server,
        &page,
        &[("totp", &code_now(&secret)), ("userLabel", "Phone")],
    )
    .await;
    assert_eq!(r.0, 302, "{}", r.1);
    assert!(query_of(&r.1).contains_key("code"), "{}", r.1);
    let creds = credentials(&server, &token, dave_id).await;
    let otp = creds
        .iter()
        .find(|c| c["type"] == "otp")
        .expect("an otp credential");
    assert_eq!(otp["userLabel"], "Phone");
    let data: Value = serde_json::from_str(otp["credentialData"].as_str().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1"})
    );
    let dave = user(&server, &token, "dave").await;
    assert_eq!(dave["requiredActions"], json!([]));
    assert_eq!(dave["totp"], json!(true));

    // The next login asks for the code of the new device.
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "dave", "dave-pw").await;
    assert_eq!(status, 200);
    assert!(page.contains("kc-otp-login-form"), "{page}");
}

#[tokio::test]
async fn configure_totp_at_login_sqlite() {
    configure_totp_at_login(Backend::Sqlite).await;
}

#[tokio::test]
async fn configure_totp_at_login_postgres() {
    configure_totp_at_login(Backend::Postgres).await;
}

#[tokio::test]
async fn a_required_otp_form_sets_configure_totp_for_a_user_without_otp() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    // A browser flow: username/password, then the OTP form REQUIRED.
    r["browserFlow"] = json!("otp-browser");
    r["authenticationFlows"] = json!([{
        "alias": "otp-browser", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
        "authenticationExecutions": [
            {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false, "userSetupAllowed": false},
            {"authenticator": "auth-otp-form", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false, "userSetupAllowed": false}
        ]
    }, {
        "alias": "grant", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
        "authenticationExecutions": [
            {"authenticator": "direct-grant-validate-username", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "direct-grant-validate-password", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
        ]
    }]);
    r["directGrantFlow"] = json!("grant");
    let server = start_with(&data, &[r]).await;
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "gina", "gina-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Mobile Authenticator Setup"), "{page}");
    let secret = secret_of(&page);
    let r = post(&b, &server, &page, &[("totp", &code_now(&secret))]).await;
    assert_eq!(r.0, 302, "{}", r.1);
    assert!(query_of(&r.1).contains_key("code"));
    // Set for the login only, as Keycloak's authentication session does: not on the user.
    let token = admin_token(&server).await;
    let gina = user(&server, &token, "gina").await;
    assert_eq!(gina["requiredActions"], json!([]));
    assert_eq!(gina["totp"], json!(true));
}
