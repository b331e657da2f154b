//! Self-registration through the browser (Keycloak's registration flow): the login page's
//! "Register" link and the `registrations` endpoint, the form's validation in Keycloak's words
//! (nothing created on a refusal), the new user logged in with a code that exchanges for its
//! tokens, `REGISTER` / `REGISTER_ERROR` events, required actions after registering, a realm
//! that does not allow registration, and an organization invitation accepted by registering.

use serde_json::{json, Value};

use crate::support::*;

const CB: &str = "http://localhost:3000/cb";

fn realm(name: &str, allowed: bool) -> Value {
    json!({
        "realm": name,
        "registrationAllowed": allowed,
        "eventsEnabled": true,
        "passwordPolicy": "length(8)",
        "clients": [
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "users": [
            {"username": "taken", "email": "taken@example.com", "enabled": true, "firstName": "T", "lastName": "K",
             "credentials": [{"type": "password", "value": "taken-pw-1"}]}
        ]
    })
}

fn auth_url(server: &TestServer, realm: &str, endpoint: &str) -> String {
    server.url(&format!(
        "/realms/{realm}/protocol/openid-connect/{endpoint}?client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s1"
    ))
}

/// The text of the element with `id`, if any.
fn text_of(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let open = start + html[start..].find('>')? + 1;
    Some(html[open..open + html[open..].find('<')?].replace("&#39;", "'"))
}

/// The registration page of a fresh login, through the login page's link.
async fn register_page(b: &reqwest::Client, server: &TestServer, realm: &str) -> String {
    let (s, login) = get_page(b, &auth_url(server, realm, "auth")).await;
    assert_eq!(s, 200, "{login}");
    let needle = "id=\"kc-register-link\" href=\"";
    let start = login.find(needle).expect("a Register link") + needle.len();
    let href = login[start..start + login[start..].find('"').unwrap()].replace("&amp;", "&");
    assert!(
        href.starts_with(&format!("/realms/{realm}/login-actions/registration?")),
        "{href}"
    );
    let (s, page) = get_page(b, &server.url(&href)).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("<h1>Register</h1>"), "{page}");
    page
}

async fn user_count(server: &TestServer, token: &str, realm: &str) -> i64 {
    let (s, v, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{realm}/users/count"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v.as_i64().unwrap()
}

fn form<'a>(
    username: &'a str,
    email: &'a str,
    password: &'a str,
    confirm: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("firstName", "New"),
        ("lastName", "Comer"),
        ("email", email),
        ("username", username),
        ("password", password),
        ("password-confirm", confirm),
    ]
}

async fn registers_logs_in_and_gets_tokens(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[realm("reg1", true)]).await;
    let admin = admin_token(&server).await;
    let b = browser();
    let page = register_page(&b, &server, "reg1").await;
    for field in [
        "firstName",
        "lastName",
        "email",
        "username",
        "password",
        "password-confirm",
    ] {
        assert!(
            page.contains(&format!("name=\"{field}\"")),
            "{field}: {page}"
        );
    }
    let (s, location) = post_page(
        &b,
        &server,
        &page,
        &form(
            "NewComer",
            "New.Comer@Example.com",
            "long-enough-1",
            "long-enough-1",
        ),
    )
    .await;
    assert_eq!(s, 302, "{location}");
    assert!(location.starts_with(&format!("{CB}?")), "{location}");
    let q = query_of(&location);
    assert_eq!(q["state"], "s1");
    let (s, tokens, _) = post_form(
        &server.url("/realms/reg1/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &q["code"]),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    let claims = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["preferred_username"], "newcomer");
    assert_eq!(claims["email"], "new.comer@example.com");
    assert_eq!(claims["given_name"], "New");
    assert_eq!(claims["email_verified"], false);
    assert!(
        claims["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("offline_access")),
        "the default role's composites: {claims}"
    );

    // The user as an administrator sees it; the password works for a later login.
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/reg1/users?username=newcomer&exact=true",
        Some(&admin),
        None,
    )
    .await;
    let u = &users[0];
    assert_eq!(u["enabled"], true, "{u}");
    assert_eq!(u["lastName"], "Comer");
    assert_eq!(claims["sub"], u["id"]);
    let b2 = browser();
    let (s, location, _) = login(
        &b2,
        &server,
        &auth_url(&server, "reg1", "auth"),
        "newcomer",
        "long-enough-1",
    )
    .await;
    assert_eq!(s, 302, "{location}");

    // REGISTER then LOGIN, as Keycloak reports them.
    let reg = events_at_least(
        &server,
        &admin,
        "/admin/realms/reg1/events",
        "?type=REGISTER",
        1,
    )
    .await;
    let e = &reg[0];
    assert_eq!(e["userId"], u["id"], "{e}");
    assert_eq!(e["clientId"], "spa");
    assert_eq!(e["details"]["register_method"], "form");
    assert_eq!(e["details"]["username"], "NewComer", "as posted: {e}");
    assert_eq!(e["details"]["email"], "New.Comer@Example.com");
    assert_eq!(e["details"]["first_name"], "New");
    let logins = events_at_least(
        &server,
        &admin,
        "/admin/realms/reg1/events",
        "?type=LOGIN",
        2,
    )
    .await;
    assert!(logins.iter().any(|l| l["userId"] == u["id"]));

    // The registrations endpoint starts straight on the registration page.
    let b3 = browser();
    let (s, page) = get_page(&b3, &auth_url(&server, "reg1", "registrations")).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("id=\"kc-register-form\""), "{page}");
    let (s, location) = post_page(
        &b3,
        &server,
        &page,
        &form(
            "second",
            "second@example.com",
            "long-enough-2",
            "long-enough-2",
        ),
    )
    .await;
    assert_eq!(s, 302, "{location}");
    assert!(query_of(&location).contains_key("code"), "{location}");
    // So does `prompt=create` at the authorization endpoint.
    let (s, page) = get_page(
        &browser(),
        &format!("{}&prompt=create", auth_url(&server, "reg1", "auth")),
    )
    .await;
    assert_eq!(s, 200);
    assert!(page.contains("id=\"kc-register-form\""), "{page}");
    assert_eq!(user_count(&server, &admin, "reg1").await, 3);
    data.cleanup().await;
}

#[tokio::test]
async fn registers_logs_in_and_gets_tokens_sqlite() {
    registers_logs_in_and_gets_tokens(Backend::Sqlite).await;
}

#[tokio::test]
async fn registers_logs_in_and_gets_tokens_postgres() {
    registers_logs_in_and_gets_tokens(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_input_is_refused_with_keycloaks_messages() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm("reg2", true)]).await;
    let admin = admin_token(&server).await;
    let b = browser();
    let page = register_page(&b, &server, "reg2").await;
    let before = user_count(&server, &admin, "reg2").await;

    // Everything missing: one message per field, at once.
    let empty = [
        "firstName",
        "lastName",
        "email",
        "username",
        "password",
        "password-confirm",
    ]
    .map(|k| (k, ""));
    let (s, again) = submit(&b, &server, &page, &empty).await;
    assert_eq!(s, 200, "{again}");
    let expect = [
        ("input-error-username", "Please specify username."),
        ("input-error-email", "Please specify email."),
        ("input-error-firstName", "Please specify this field."),
        ("input-error-lastName", "Please specify this field."),
        ("input-error-password", "Please specify password."),
    ];
    for (id, message) in expect {
        assert_eq!(
            text_of(&again, id).as_deref(),
            Some(message),
            "{id}: {}",
            &again[again.find("<form").unwrap_or(0)..]
        );
    }

    // One problem at a time: (form, field, message, event error).
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            form(
                "Taken",
                "fresh@example.com",
                "long-enough-1",
                "long-enough-1",
            ),
            "username",
            "Username already exists.",
            "username_in_use",
        ),
        (
            form(
                "fresh",
                "TAKEN@example.com",
                "long-enough-1",
                "long-enough-1",
            ),
            "email",
            "Email already exists.",
            "email_in_use",
        ),
        (
            form("fresh", "not-an-address", "long-enough-1", "long-enough-1"),
            "email",
            "Invalid email address.",
            "invalid_registration",
        ),
        (
            form(
                "fresh",
                "fresh@example.com",
                "long-enough-1",
                "long-enough-2",
            ),
            "password-confirm",
            "Password confirmation doesn't match.",
            "invalid_registration",
        ),
        (
            form("fresh", "fresh@example.com", "short", "short"),
            "password",
            "Invalid password: minimum length 8.",
            "invalid_registration",
        ),
        (
            form("ab", "fresh@example.com", "long-enough-1", "long-enough-1"),
            "username",
            "Length must be between 3 and 255.",
            "invalid_registration",
        ),
    ];
    let n = cases.len();
    for (fields, field, message, _) in &cases {
        let (s, again) = submit(&b, &server, &page, fields).await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(
            text_of(&again, &format!("input-error-{field}")).as_deref(),
            Some(*message),
            "{fields:?}: {again}"
        );
        // The values stay, the passwords do not.
        let username = fields.iter().find(|(k, _)| *k == "username").unwrap().1;
        assert_eq!(form_field(&again, "username").as_deref(), Some(username));
        assert_eq!(form_field(&again, "password").as_deref(), Some(""));
    }
    assert_eq!(
        user_count(&server, &admin, "reg2").await,
        before,
        "nothing created"
    );
    let errors = events_at_least(
        &server,
        &admin,
        "/admin/realms/reg2/events",
        "?type=REGISTER_ERROR",
        n + 1,
    )
    .await;
    // Newest first.
    for (i, (_, _, _, error)) in cases.iter().rev().enumerate() {
        assert_eq!(errors[i]["error"], *error, "{}", errors[i]);
        assert_eq!(errors[i]["clientId"], "spa");
    }
    assert_eq!(errors[n]["error"], "invalid_registration");
    assert_eq!(errors[n]["details"].get("username"), None, "{}", errors[n]);
    data.cleanup().await;
}

#[tokio::test]
async fn registration_not_allowed() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm("reg3", false)]).await;
    let admin = admin_token(&server).await;
    let b = browser();
    let (s, page) = get_page(&b, &auth_url(&server, "reg3", "registrations")).await;
    assert_eq!(s, 400);
    assert!(page.contains("Registration not allowed"), "{page}");
    let (s, page) = get_page(
        &b,
        &format!("{}&prompt=create", auth_url(&server, "reg3", "auth")),
    )
    .await;
    assert_eq!(s, 400);
    assert!(page.contains("Registration not allowed"), "{page}");
    // No link on the login page, and its address refused.
    let (s, login) = get_page(&b, &auth_url(&server, "reg3", "auth")).await;
    assert_eq!(s, 200);
    assert!(!login.contains("kc-register-link"), "{login}");
    let code = form_field(&login, "session_code").unwrap();
    let (s, page) = get_page(
        &b,
        &server.url(&format!(
            "/realms/reg3/login-actions/registration?session_code={code}"
        )),
    )
    .await;
    assert_eq!(s, 400);
    assert!(page.contains("Registration not allowed"), "{page}");
    // A post to the form is refused as well (the login was never a registration).
    let r = b
        .post(server.url("/realms/reg3/login-actions/registration"))
        .form(&[
            ("session_code", code.as_str()),
            ("username", "sneaky"),
            ("email", "sneaky@example.com"),
            ("firstName", "S"),
            ("lastName", "S"),
            ("password", "long-enough-1"),
            ("password-confirm", "long-enough-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(user_count(&server, &admin, "reg3").await, 1);
    let errors = events_at_least(
        &server,
        &admin,
        "/admin/realms/reg3/events",
        "?type=REGISTER_ERROR",
        1,
    )
    .await;
    assert_eq!(errors[0]["error"], "registration_disabled");
    data.cleanup().await;
}

#[tokio::test]
async fn required_actions_run_after_registering() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm("reg4", true);
    r["verifyEmail"] = json!(true);
    r["requiredActions"] = json!([
        {"alias": "CONFIGURE_TOTP", "name": "Configure OTP", "providerId": "CONFIGURE_TOTP", "enabled": true, "defaultAction": true, "priority": 10, "config": {}},
        {"alias": "VERIFY_EMAIL", "name": "Verify Email", "providerId": "VERIFY_EMAIL", "enabled": true, "defaultAction": false, "priority": 50, "config": {}}
    ]);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let b = browser();
    let page = register_page(&b, &server, "reg4").await;
    let (s, next) = submit(
        &b,
        &server,
        &page,
        &form(
            "totpuser",
            "totp@example.com",
            "long-enough-1",
            "long-enough-1",
        ),
    )
    .await;
    assert_eq!(s, 200, "{next}");
    assert!(next.contains("Mobile Authenticator Setup"), "{next}");
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/reg4/users?username=totpuser&exact=true",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        users[0]["requiredActions"],
        json!(["CONFIGURE_TOTP", "VERIFY_EMAIL"]),
        "{users}"
    );
    data.cleanup().await;
}

/// Invites `email` to a new organization `Music` of realm `inv` (its mail server unreachable,
/// which does not stop the invitation): the organization's id and the invitation's link.
async fn invite(server: &TestServer, admin: &str, email: &str) -> (String, String) {
    let (s, v, headers) = call(
        server,
        "POST",
        "/admin/realms/inv/organizations",
        Some(admin),
        Some(json!({"name": "Music", "alias": "music", "redirectUrl": "https://music.example/welcome",
                    "domains": [{"name": "music.example"}]})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let org = headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = client()
        .post(server.url(&format!(
            "/admin/realms/inv/organizations/{org}/members/invite-user"
        )))
        .bearer_auth(admin)
        .form(&[
            ("email", email),
            ("firstName", "New"),
            ("lastName", "Member"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
    let (s, list, _) = call(
        server,
        "GET",
        &format!("/admin/realms/inv/organizations/{org}/invitations"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let link = list[0]["inviteLink"].as_str().unwrap().to_string();
    assert!(
        link.contains("/protocol/openid-connect/registrations?"),
        "{link}"
    );
    (org, link)
}

fn inv_realm() -> Value {
    let mut r = realm("inv", false);
    r["organizationsEnabled"] = json!(true);
    r["smtpServer"] = json!({"host": "127.0.0.1", "port": "9", "from": "noreply@inv.example"});
    r
}

#[tokio::test]
async fn an_invitation_registers_a_member() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[inv_realm()]).await;
    let admin = admin_token(&server).await;
    let (org, link) = invite(&server, &admin, "new@music.example").await;
    let path = &link[link.find("/realms/").unwrap()..];

    // The realm does not allow registration; the invitation does.
    let b = browser();
    let (s, page) = get_page(&b, &server.url(path)).await;
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("Create an account to join the Music organization"),
        "{page}"
    );
    assert!(
        page.contains("name=\"email\" value=\"new@music.example\" type=\"email\" autocomplete=\"email\" readonly"),
        "the invited address, read-only: {page}"
    );

    // Another address is refused.
    let (s, again) = submit(
        &b,
        &server,
        &page,
        &form(
            "member",
            "other@music.example",
            "long-enough-1",
            "long-enough-1",
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        text_of(&again, "input-error-email").as_deref(),
        Some("Email does not match the invitation"),
        "{again}"
    );
    assert_eq!(user_count(&server, &admin, "inv").await, 1);

    // Registering: a managed member, the invitation gone, the organization's redirect.
    let (s, location) = post_page(
        &b,
        &server,
        &page,
        &form(
            "member",
            "new@music.example",
            "long-enough-1",
            "long-enough-1",
        ),
    )
    .await;
    assert_eq!(s, 302, "{location}");
    assert!(
        location.starts_with("https://music.example/welcome?"),
        "{location}"
    );
    assert!(query_of(&location).contains_key("code"), "{location}");
    let (_, members, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/inv/organizations/{org}/members"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
    assert_eq!(members[0]["username"], "member");
    assert_eq!(members[0]["email"], "new@music.example");
    assert_eq!(members[0]["membershipType"], "MANAGED");
    let (_, list, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/inv/organizations/{org}/invitations"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(list, json!([]));
    let reg = events_at_least(
        &server,
        &admin,
        "/admin/realms/inv/events",
        "?type=REGISTER",
        1,
    )
    .await;
    assert_eq!(reg[0]["details"]["org_id"], org.as_str(), "{}", reg[0]);

    // The link again: the invitation is used up.
    let b2 = browser();
    let (s, page) = get_page(&b2, &server.url(path)).await;
    assert_eq!(s, 200, "{page}");
    let (s, again) = submit(
        &b2,
        &server,
        &page,
        &form(
            "member2",
            "new@music.example",
            "long-enough-1",
            "long-enough-1",
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        again.contains("The invitation has expired or is no longer valid."),
        "{again}"
    );
    assert_eq!(user_count(&server, &admin, "inv").await, 2);

    // A forged token.
    let mut forged = link.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (s, page) = get_page(
        &browser(),
        &server.url(&forged[forged.find("/realms/").unwrap()..]),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        page.contains("An error occurred, please login again through your application."),
        "{page}"
    );
    data.cleanup().await;
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with_clock(&data, &[inv_realm()]).await;
    let admin = admin_token(&server).await;
    let (_, link) = invite(&server, &admin, "late@music.example").await;
    advance_clock(&server, 43_201).await;
    let (s, page) = get_page(
        &browser(),
        &server.url(&link[link.find("/realms/").unwrap()..]),
    )
    .await;
    assert_eq!(s, 400);
    assert!(page.contains("Action expired."), "{page}");
    data.cleanup().await;
}

#[tokio::test]
async fn a_registration_counts_in_the_metric() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data, &[realm("reg5", true)]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--metrics-enabled=true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap();
    let registrations = || async {
        let mgmt = server.management.clone().unwrap();
        let text = client()
            .get(format!("{mgmt}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("keycloak_user_registrations_total "))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
            .unwrap_or_else(|| panic!("{text}"))
    };
    assert_eq!(registrations().await, "0");
    let b = browser();
    let page = register_page(&b, &server, "reg5").await;
    // A refused form does not count.
    let (s, _) = submit(&b, &server, &page, &form("x", "", "", "")).await;
    assert_eq!(s, 200);
    let (s, location) = post_page(
        &b,
        &server,
        &page,
        &form(
            "counted",
            "counted@example.com",
            "long-enough-1",
            "long-enough-1",
        ),
    )
    .await;
    assert_eq!(s, 302, "{location}");
    assert_eq!(registrations().await, "1");
    data.cleanup().await;
}

#[tokio::test]
async fn a_flow_action_this_server_lacks_is_named() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm("reg6", true)]).await;
    let admin = admin_token(&server).await;
    // Keycloak's admin API: enable reCAPTCHA in the registration form.
    let (s, execs, _) = call(
        &server,
        "GET",
        "/admin/realms/reg6/authentication/flows/registration/executions",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{execs}");
    let mut recaptcha = execs
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["providerId"] == "registration-recaptcha-action")
        .unwrap_or_else(|| panic!("{execs}"))
        .clone();
    recaptcha["requirement"] = json!("REQUIRED");
    let (s, v, _) = call(
        &server,
        "PUT",
        "/admin/realms/reg6/authentication/flows/registration/executions",
        Some(&admin),
        Some(recaptcha),
    )
    .await;
    assert!(s == 202 || s == 204, "{s} {v}");
    let (s, page) = get_page(&browser(), &auth_url(&server, "reg6", "registrations")).await;
    assert_eq!(s, 400);
    assert!(
        page.contains("registration-recaptcha-action") && page.contains("cannot run"),
        "{page}"
    );
    data.cleanup().await;
}

#[tokio::test]
async fn the_email_is_the_username_when_the_realm_says_so() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm("reg7", true);
    r["registrationEmailAsUsername"] = json!(true);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let b = browser();
    let page = register_page(&b, &server, "reg7").await;
    assert!(!page.contains("name=\"username\""), "{page}");
    // An address a user has is taken; so is one that is another user's name.
    let (s, again) = submit(
        &b,
        &server,
        &page,
        &form("", "Taken@Example.com", "long-enough-1", "long-enough-1"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        text_of(&again, "input-error-email").as_deref(),
        Some("Email already exists.")
    );
    let (s, location) = post_page(
        &b,
        &server,
        &page,
        &form(
            "",
            "Mail.User@Example.com",
            "long-enough-1",
            "long-enough-1",
        ),
    )
    .await;
    assert_eq!(s, 302, "{location}");
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/reg7/users?username=mail.user@example.com&exact=true",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(users[0]["email"], "mail.user@example.com", "{users}");
    let reg = events_at_least(
        &server,
        &admin,
        "/admin/realms/reg7/events",
        "?type=REGISTER",
        1,
    )
    .await;
    assert_eq!(reg[0]["details"]["username"], "Mail.User@Example.com");
    data.cleanup().await;
}
