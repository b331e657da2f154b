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
            {"username": "dave", "firstName": "Dave", "lastName": "Tester", "email": "dave@example.com", "enabled": true, "requiredActions": ["CONFIGURE_TOTP"],
             "credentials": [{"type": "password", "value": "dave-pw"}]},
            {"username": "erin", "firstName": "Erin", "lastName": "Tester", "enabled": true, "email": "erin@example.com", "emailVerified": true,
             "requiredActions": ["UPDATE_PROFILE", "TERMS_AND_CONDITIONS"],
             "credentials": [{"type": "password", "value": "erin-pw"}]},
            {"username": "fred", "firstName": "Fred", "lastName": "Tester", "email": "fred@example.com", "enabled": true, "requiredActions": ["TERMS_AND_CONDITIONS"],
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
    let r = post_page(
        &b,
        &server,
        &page,
        &[("totp", "000000"), ("userLabel", "Phone")],
    )
    .await;
    assert_eq!(r.0, 200);
    assert!(r.1.contains("Invalid authenticator code."), "{}", r.1);
    let r = post_page(&b, &server, &page, &[("totp", ""), ("userLabel", "Phone")]).await;
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
    let r = post_page(
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
    let data = credential_data(otp);
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
    let r = post_page(&b, &server, &page, &[("totp", &code_now(&secret))]).await;
    assert_eq!(r.0, 302, "{}", r.1);
    assert!(query_of(&r.1).contains_key("code"));
    // Set for the login only, as Keycloak's authentication session does: not on the user.
    let token = admin_token(&server).await;
    let gina = user(&server, &token, "gina").await;
    assert_eq!(gina["requiredActions"], json!([]));
    assert_eq!(gina["totp"], json!(true));
}

#[tokio::test]
async fn terms_then_profile_in_priority_order_and_declining_the_terms_fails_the_login() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm_with_terms()]).await;
    let token = admin_token(&server).await;

    // erin: UPDATE_PROFILE (40) and TERMS_AND_CONDITIONS (20): the terms first.
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "erin", "erin-pw").await;
    assert_eq!(status, 200);
    assert!(page.contains("Terms and Conditions"), "{page}");
    let (status, page) = post_page(&b, &server, &page, &[("accept", "Accept")]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Update Account Information"), "{page}");
    // Validation per field: the first name is required, the e-mail must be one.
    let (status, again) = post_page(
        &b,
        &server,
        &page,
        &[
            ("email", "not-an-email"),
            ("firstName", ""),
            ("lastName", "E"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(again.contains("id=\"input-error-firstName\""), "{again}");
    assert!(again.contains("Please specify this field."), "{again}");
    assert!(again.contains("id=\"input-error-email\""), "{again}");
    assert!(again.contains("Invalid email address."), "{again}");
    assert!(!again.contains("id=\"input-error-lastName\""));
    let r = post_page(
        &b,
        &server,
        &again,
        &[
            ("email", "erin@example.com"),
            ("firstName", "Erin"),
            ("lastName", "E"),
        ],
    )
    .await;
    assert_eq!(r.0, 302, "{}", r.1);
    assert!(query_of(&r.1).contains_key("code"));
    let erin = user(&server, &token, "erin").await;
    assert_eq!(erin["requiredActions"], json!([]));
    assert_eq!(
        (erin["firstName"].as_str(), erin["lastName"].as_str()),
        (Some("Erin"), Some("E"))
    );

    // fred declines: the client gets access_denied, the action stays.
    let b = browser();
    let (_, page, _) = login(&b, &server, &auth_url(&server, ""), "fred", "fred-pw").await;
    assert!(page.contains("Terms and Conditions"), "{page}");
    let (status, location) = post_page(&b, &server, &page, &[("cancel", "Decline")]).await;
    assert_eq!(status, 302, "{location}");
    let q = query_of(&location);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("access_denied"),
        "{location}"
    );
    assert!(!q.contains_key("code"));
    let fred = user(&server, &token, "fred").await;
    assert_eq!(fred["requiredActions"], json!(["TERMS_AND_CONDITIONS"]));

    // The acceptance time (seconds) is the unmanaged attribute `terms_and_conditions`.
    drop(server);
    let exported = data.export("ra");
    let find = |name: &str| {
        exported["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()
            .clone()
    };
    let erin = find("erin");
    let accepted = erin["attributes"]["terms_and_conditions"][0]
        .as_str()
        .unwrap();
    assert!(
        accepted.parse::<i64>().unwrap() > 1_700_000_000,
        "seconds: {accepted}"
    );
    let fred = find("fred");
    assert!(
        fred["attributes"].get("terms_and_conditions").is_none(),
        "{fred}"
    );
}

#[tokio::test]
async fn disabled_actions_are_skipped_and_application_initiated_actions_answer_their_status() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    // Keycloak's defaults: TERMS_AND_CONDITIONS is disabled, so fred logs in at once.
    let server = start_with(&data, &[realm()]).await;
    let b = browser();
    let (status, location, q) = login(&b, &server, &auth_url(&server, ""), "fred", "fred-pw").await;
    assert_eq!(status, 302, "{location}");
    assert!(q.contains_key("code"));

    // gina has an SSO session; kc_action=UPDATE_PROFILE shows the form in it.
    let b = browser();
    let (status, _, _) = login(&b, &server, &auth_url(&server, ""), "gina", "gina-pw").await;
    assert_eq!(status, 302);
    let (status, page) = get_page(&b, &auth_url(&server, "&kc_action=UPDATE_PROFILE")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Update Account Information"), "{page}");
    let (status, location) = post_page(
        &b,
        &server,
        &page,
        &[
            ("email", "gina@example.com"),
            ("firstName", "Gina"),
            ("lastName", "Changed"),
        ],
    )
    .await;
    assert_eq!(status, 302, "{location}");
    let q = query_of(&location);
    assert_eq!(q["kc_action_status"], "success", "{location}");
    assert_eq!(q["kc_action"], "UPDATE_PROFILE");
    assert!(q.contains_key("code") && q["state"] == "s1");
    let token = admin_token(&server).await;
    assert_eq!(user(&server, &token, "gina").await["lastName"], "Changed");

    // Cancelled: `cancel-aia`, nothing changed.
    let (_, page) = get_page(&b, &auth_url(&server, "&kc_action=CONFIGURE_TOTP")).await;
    assert!(page.contains("Mobile Authenticator Setup"), "{page}");
    let (status, location) = post_page(&b, &server, &page, &[("cancel-aia", "true")]).await;
    assert_eq!(status, 302, "{location}");
    assert_eq!(query_of(&location)["kc_action_status"], "cancelled");
    assert_eq!(user(&server, &token, "gina").await["totp"], json!(false));

    // Not application-initiated, or unknown: `error` at once.
    for alias in ["TERMS_AND_CONDITIONS", "no_such_action"] {
        let r = b
            .get(auth_url(&server, &format!("&kc_action={alias}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{alias}");
        let q = query_of(r.headers()["location"].to_str().unwrap());
        assert_eq!(q["kc_action_status"], "error", "{alias}");
        assert_eq!(q["kc_action"], alias);
        assert!(q.contains_key("code"));
    }
}

#[tokio::test]
async fn verify_email_sends_the_mail_and_the_link_lets_the_login_go_on() {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["smtpServer"] = sink.settings("noreply@ra.example");
    r["users"].as_array_mut().unwrap().push(json!({
        "username": "hank", "firstName": "Hank", "lastName": "Tester", "enabled": true, "email": "hank@example.com", "emailVerified": false,
        "requiredActions": ["VERIFY_EMAIL"], "credentials": [{"type": "password", "value": "hank-pw"}]
    }));
    let server = start_with(&data, &[r]).await;
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "hank", "hank-pw").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("An email with instructions to verify your email address has been sent to your address hank@example.com."),
        "{page}"
    );
    let mails = sink.wait_for(1).await;
    let link = action_link(&mails[0]);
    // Before the link: the page again (the mail re-sent).
    let (status, again) = post_page(&b, &server, &page, &[]).await;
    assert_eq!(status, 200);
    assert!(again.contains("kc-verify-email-form"));
    sink.wait_for(2).await;
    // The link, in another browser: confirm, then verified.
    let other = browser();
    let path = &link[link.find("/realms/").unwrap()..];
    let (_, confirm) = get_page(&other, &server.url(path)).await;
    let key = form_field(&confirm, "key").unwrap();
    let r = other
        .post(server.url(&form_action(&confirm)))
        .form(&[("key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(
        done.contains("Your email address has been verified."),
        "{done}"
    );
    // Back in the login: it goes on.
    let (status, location) = post_page(&b, &server, &page, &[]).await;
    assert_eq!(status, 302, "{location}");
    assert!(query_of(&location).contains_key("code"));
    let token = admin_token(&server).await;
    let hank = user(&server, &token, "hank").await;
    assert_eq!(hank["emailVerified"], json!(true));
    assert_eq!(hank["requiredActions"], json!([]));
}

#[tokio::test]
async fn update_user_locale_stores_the_requested_locale() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut i18n = realm();
    i18n["realm"] = json!("i18n");
    i18n["internationalizationEnabled"] = json!(true);
    i18n["supportedLocales"] = json!(["en", "de"]);
    let server = start_with(&data, &[realm(), i18n]).await;
    let token = admin_token(&server).await;
    // `locale` is no attribute of the default user profile: let the Admin API show it.
    for realm in ["ra", "i18n"] {
        let path = format!("/admin/realms/{realm}/users/profile");
        let (_, mut profile, _) = call(&server, "GET", &path, Some(&token), None).await;
        profile["unmanagedAttributePolicy"] = json!("ENABLED");
        let (status, out, _) = call(&server, "PUT", &path, Some(&token), Some(profile)).await;
        assert_eq!(status, 200, "{out}");
    }
    let locale_of = |realm: &'static str| {
        let server = &server;
        let token = &token;
        async move {
            let (_, users, _) = call(
                server,
                "GET",
                &format!("/admin/realms/{realm}/users?username=gina&exact=true"),
                Some(token),
                None,
            )
            .await;
            users[0]["attributes"]["locale"].clone()
        }
    };
    // Internationalization enabled: `kc_locale` of the login becomes the user's `locale`,
    // without a page.
    let url = auth_url(&server, "&kc_locale=de").replace("/realms/ra/", "/realms/i18n/");
    let (status, location, q) = login(&browser(), &server, &url, "gina", "gina-pw").await;
    assert_eq!(status, 302, "{location}");
    assert!(q.contains_key("code"));
    assert_eq!(locale_of("i18n").await, json!(["de"]));
    // A value that is no locale tag is not stored.
    let url = auth_url(&server, "&kc_locale=%3Cb%3E").replace("/realms/ra/", "/realms/i18n/");
    let (status, _, _) = login(&browser(), &server, &url, "gina", "gina-pw").await;
    assert_eq!(status, 302);
    assert_eq!(locale_of("i18n").await, json!(["de"]));
    // Internationalization disabled (Keycloak's default): the parameter is ignored.
    let (status, _, _) = login(
        &browser(),
        &server,
        &auth_url(&server, "&kc_locale=de"),
        "gina",
        "gina-pw",
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(locale_of("ra").await, Value::Null);
}

/// The realm with a plain browser flow (the SSO cookie, else username and password) and a
/// user `hank` with a password and an OTP credential labelled `Phone`.
fn realm_with_credentials() -> Value {
    let mut r = realm();
    r["users"].as_array_mut().unwrap().push(json!(
        {"username": "hank", "firstName": "Hank", "lastName": "Tester", "email": "hank@example.com", "enabled": true, "credentials": [
            {"type": "password", "value": "hank-pw"},
            {"type": "otp", "userLabel": "Phone",
             "secretData": json!({"value": "aB3dE5fG7hJ9kL1mN2pQ"}).to_string(),
             "credentialData": json!({"subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1"}).to_string()}
        ]}
    ));
    r["browserFlow"] = json!("plain");
    r["directGrantFlow"] = json!("grant");
    r["authenticationFlows"] = json!([
        {"alias": "plain", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 10, "authenticatorFlow": false},
            {"authenticatorFlow": true, "flowAlias": "plain forms", "requirement": "ALTERNATIVE", "priority": 20}
         ]},
        {"alias": "plain forms", "providerId": "basic-flow", "topLevel": false, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "auth-username-password-form", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false}
         ]},
        {"alias": "grant", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
         "authenticationExecutions": [
            {"authenticator": "direct-grant-validate-username", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
            {"authenticator": "direct-grant-validate-password", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
         ]}
    ]);
    r
}

#[tokio::test]
async fn delete_credential_asks_then_deletes_only_the_users_own_credential() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm_with_credentials()]).await;
    let token = admin_token(&server).await;
    let hank = user(&server, &token, "hank").await;
    let hank_id = hank["id"].as_str().unwrap().to_string();
    let creds = credentials(&server, &token, &hank_id).await;
    let id_of = |t: &str| {
        creds.iter().find(|c| c["type"] == t).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (otp_id, password_id) = (id_of("otp"), id_of("password"));
    let gina = user(&server, &token, "gina").await;
    let gina_password = credentials(&server, &token, gina["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let b = browser();
    let (status, _, _) = login(&b, &server, &auth_url(&server, ""), "hank", "hank-pw").await;
    assert_eq!(status, 302);
    let ask = |param: String| {
        let b = &b;
        let server = &server;
        async move { get_page(b, &auth_url(server, &format!("&kc_action={param}"))).await }
    };
    let answer = |r: &(u16, String)| {
        assert_eq!(r.0, 302, "{}", r.1);
        let q = query_of(&r.1);
        assert!(q.contains_key("code"), "{}", r.1);
        (q["kc_action_status"].clone(), q["kc_action"].clone())
    };
    let redirect_of = |r: reqwest::Response| {
        assert_eq!(r.status(), 302);
        r.headers()["location"].to_str().unwrap().to_string()
    };

    // The confirmation page names the credential by its label; cancelling keeps it.
    let (status, page) = ask(format!("delete_credential:{otp_id}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Delete Phone") && page.contains("Do you want to delete Phone?"),
        "{page}"
    );
    let r = post_page(&b, &server, &page, &[("cancel-aia", "true")]).await;
    assert_eq!(answer(&r), ("cancelled".into(), "delete_credential".into()));
    assert_eq!(credentials(&server, &token, &hank_id).await.len(), 2);

    // Confirmed: gone, `kc_action_status=success`.
    let (_, page) = ask(format!("delete_credential:{otp_id}")).await;
    let r = post_page(&b, &server, &page, &[("accept", "")]).await;
    assert_eq!(answer(&r), ("success".into(), "delete_credential".into()));
    let left = credentials(&server, &token, &hank_id).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["type"], "password");

    // An unknown id, another user's credential, no id: no page, `kc_action_status=error`.
    for param in [
        format!("delete_credential:{otp_id}"),
        format!("delete_credential:{gina_password}"),
        "delete_credential".to_string(),
    ] {
        let r = b
            .get(auth_url(&server, &format!("&kc_action={param}")))
            .send()
            .await
            .unwrap();
        let location = redirect_of(r);
        let q = query_of(&location);
        assert_eq!(q["kc_action_status"], "error", "{param}: {location}");
        assert_eq!(q["kc_action"], "delete_credential");
    }
    assert_eq!(
        credentials(&server, &token, gina["id"].as_str().unwrap())
            .await
            .len(),
        1
    );

    // The password cannot be removed: Keycloak's error page, nothing removed.
    let (status, page) = ask(format!("delete_credential:{password_id}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Delete password"), "{page}");
    let (status, page) = post_page(&b, &server, &page, &[("accept", "")]).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Credential type cannot be removed"), "{page}");
    assert_eq!(credentials(&server, &token, &hank_id).await.len(), 1);
}

#[tokio::test]
async fn delete_account_confirmed_deletes_the_user_with_the_role_only() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["requiredActions"] = json!([
        {"alias": "delete_account", "name": "Delete Account", "providerId": "delete_account", "enabled": true, "defaultAction": false, "priority": 60, "config": {}}
    ]);
    r["users"].as_array_mut().unwrap().push(json!(
        {"username": "ivan", "firstName": "Ivan", "lastName": "Tester", "email": "ivan@example.com", "enabled": true, "clientRoles": {"account": ["delete-account"]},
         "credentials": [{"type": "password", "value": "ivan-pw"}]}
    ));
    let server = start_with(&data, &[r]).await;
    let token = admin_token(&server).await;
    let url = auth_url(&server, "&kc_action=delete_account");
    // The action's max_auth_age is 0: the password is asked again first (unless the SSO
    // session is from this very second).
    let confirm_page = |b: reqwest::Client, who: &'static str, pw: &'static str| {
        let server = &server;
        let url = url.clone();
        async move {
            let (status, _, _) = login(&b, server, &auth_url(server, ""), who, pw).await;
            assert_eq!(status, 302);
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            let (status, page) = get_page(&b, &url).await;
            assert_eq!(status, 200, "{page}");
            assert!(page.contains("name=\"password\""), "{page}");
            let (status, page) = post_page(&b, server, &page, &[("password", pw)]).await;
            assert_eq!(status, 200, "{page}");
            (b, page)
        }
    };

    // Without `account`'s `delete-account` role: Keycloak's message, no form.
    let (_, page) = confirm_page(browser(), "gina", "gina-pw").await;
    assert!(
        page.contains(
            "You do not have enough permissions to delete your own account, contact admin."
        ),
        "{page}"
    );
    assert!(!page.contains("kc-submit"));

    // Cancelled: `kc_action_status=cancelled`, the user stays.
    let (b, page) = confirm_page(browser(), "ivan", "ivan-pw").await;
    assert!(page.contains("Delete Account Confirmation"), "{page}");
    let (status, location) = post_page(&b, &server, &page, &[("cancel-aia", "true")]).await;
    assert_eq!(status, 302, "{location}");
    assert_eq!(query_of(&location)["kc_action_status"], "cancelled");
    assert_eq!(user(&server, &token, "ivan").await["username"], "ivan");

    // Confirmed: the user is gone and the login ends on Keycloak's message.
    let (b, page) = confirm_page(browser(), "ivan", "ivan-pw").await;
    let (status, body) = post_page(&b, &server, &page, &[("confirm", "")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("User deleted successfully"), "{body}");
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/ra/users?username=ivan&exact=true",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(users, json!([]));
}
