//! The "Forgot Password?" flow (`resetPasswordAllowed`, the realm's reset credentials flow)
//! against a real SMTP server (aiosmtpd, `support::smtp`), as a browser follows it: the link
//! on the login page, the choose-user form, the "Reset password" mail and its
//! `reset-credentials` action token, the update-password page with Keycloak's messages, and
//! the code to the client; an unknown user gets the same page and no mail; the link is single
//! use and expires; a realm without `resetPasswordAllowed` shows no link and refuses the URL.

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "reset";
const CB: &str = "https://app.example/cb";

fn realm_json(smtp: Value) -> Value {
    json!({
        "realm": REALM,
        "resetPasswordAllowed": true,
        "eventsEnabled": true,
        "passwordPolicy": "length(8)",
        "bruteForceProtected": true,
        "failureFactor": 2,
        "waitIncrementSeconds": 600,
        "quickLoginCheckMilliSeconds": 0,
        "smtpServer": smtp,
        "clients": [
            {"clientId": "app", "publicClient": true, "directAccessGrantsEnabled": true,
             "redirectUris": ["https://app.example/*", "https://app.example/home"]}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.org", "enabled": true,
             "credentials": [{"type": "password", "value": "alice-pw-1"}]},
            {"username": "nomail", "firstName": "Nomail", "lastName": "Tester", "enabled": true,
             "credentials": [{"type": "password", "value": "nomail-pw"}]},
            {"username": "otto", "firstName": "Otto", "lastName": "Tester", "email": "otto@example.org", "enabled": true,
             "credentials": [
                {"type": "password", "value": "otto-pw-1"},
                {"type": "otp", "userLabel": "phone",
                 "secretData": json!({"value": "aB3dE5fG7hJ9kL1mN2pQ"}).to_string(),
                 "credentialData": json!({"subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1"}).to_string()}
             ]}
        ]
    })
}

fn closed_realm() -> Value {
    json!({
        "realm": "closed",
        "clients": [{"clientId": "app", "publicClient": true, "redirectUris": [CB]}]
    })
}

fn auth_url(server: &TestServer, realm: &str, state: &str) -> String {
    server.url(&format!(
        "/realms/{realm}/protocol/openid-connect/auth?client_id=app&redirect_uri={CB}&response_type=code&scope=openid&state={state}"
    ))
}

async fn app_grant(server: &TestServer, user: &str, pw: &str) -> u16 {
    password_grant(server, REALM, "app", None, user, pw, &[])
        .await
        .0
}

/// The href of the login page's "Forgot Password?" link.
fn forgot_link(page: &str) -> Option<String> {
    let at = page.find(">Forgot Password?</a>")?;
    let start = page[..at].rfind("href=\"")? + 6;
    Some(page[start..at - 1].replace("&amp;", "&"))
}

async fn user_id(server: &TestServer, token: &str, username: &str) -> String {
    let (s, v, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{REALM}/users?username={username}&exact=true"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v[0]["id"].as_str().unwrap().to_string()
}

/// Opens a mail's link (the confirmation page) and posts it: status and body.
async fn open_link(b: &reqwest::Client, server: &TestServer, link: &str) -> (u16, String) {
    let path = &link[link.find("/realms/").unwrap()..];
    let (s, page) = get_page(b, &server.url(path)).await;
    if s != 200 {
        return (s, page);
    }
    assert!(page.contains("Click here to proceed"), "{page}");
    let key = form_field(&page, "key").unwrap();
    let r = b
        .post(server.url(&form_action(&page)))
        .form(&[("key", key.as_str())])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts the update-password page: status and the redirect's location, or the page.
async fn new_password(
    b: &reqwest::Client,
    server: &TestServer,
    page: &str,
    new: &str,
    confirm: &str,
) -> (u16, String) {
    post_page(
        b,
        server,
        page,
        &[("password-new", new), ("password-confirm", confirm)],
    )
    .await
}

const SENT: &str = "You should receive an email shortly with further instructions.";

#[tokio::test]
async fn forgot_password_sqlite() {
    forgot_password(Backend::Sqlite).await;
}

#[tokio::test]
async fn forgot_password_postgres() {
    forgot_password(Backend::Postgres).await;
}

/// Login page -> "Forgot Password?" -> mail -> link -> new password -> the client gets a code;
/// the old password is refused and the new one works; bad passwords change nothing; the link
/// works once.
async fn forgot_password(backend: Backend) {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(
        &data,
        &[
            realm_json(sink.settings("noreply@reset.example")),
            closed_realm(),
        ],
    )
    .await;
    let admin = admin_token(&server).await;
    let alice = user_id(&server, &admin, "alice").await;

    let b = browser();
    let (s, login) = get_page(&b, &auth_url(&server, REALM, "st-1")).await;
    assert_eq!(s, 200, "{login}");
    let link = forgot_link(&login).expect("the login page links to the reset");
    assert_eq!(
        link,
        format!("/realms/{REALM}/login-actions/reset-credentials")
    );
    let (s, choose) = get_page(&b, &server.url(&link)).await;
    assert_eq!(s, 200, "{choose}");
    assert!(choose.contains("Forgot Your Password?"), "{choose}");
    assert!(
        choose.contains("Enter your username or email address and we will send you instructions on how to create a new password."),
        "{choose}"
    );
    let (s, sent) = submit(&b, &server, &choose, &[("username", "alice")]).await;
    assert_eq!(s, 200, "{sent}");
    assert!(sent.contains(SENT), "{sent}");
    assert!(sent.contains("kc-form-login"), "the login page: {sent}");

    // The mail, as Keycloak's `password-reset.ftl`, with a `reset-credentials` token.
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail["rcpt_tos"], json!(["alice@example.org"]));
    assert_eq!(mail["headers"]["Subject"], "Reset password");
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.starts_with("Someone just requested to change your reset account's credentials. If this was you, click on the link below to reset them."),
        "{text}"
    );
    assert!(
        text.contains("This link and code will expire within 5 minutes."),
        "{text}"
    );
    assert!(mail["html"]
        .as_str()
        .unwrap()
        .contains(">Link to reset credentials</a>"));
    let mail_link = action_link(&mail);
    let jwt = mail_link.split("key=").nth(1).unwrap().to_string();
    let claims = payload(&jwt);
    assert_eq!(claims["typ"], "reset-credentials");
    assert_eq!(claims["sub"], alice);
    assert_eq!(claims["azp"], "app");
    assert_eq!(claims["eml"], "alice@example.org");
    assert!(claims["asid"].is_string(), "{claims}");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );

    // The link: the update-password page. Refusals change nothing.
    let (s, update) = open_link(&b, &server, &mail_link).await;
    assert_eq!(s, 200, "{update}");
    assert!(update.contains("password-new"), "{update}");
    let (s, again) = new_password(&b, &server, &update, "new-password-1", "new-password-2").await;
    assert_eq!(s, 200, "{again}");
    assert!(again.contains("Passwords don&#39;t match."), "{again}");
    let (s, again) = new_password(&b, &server, &again, "short", "short").await;
    assert_eq!(s, 200, "{again}");
    assert!(
        again.contains("Invalid password: minimum length 8."),
        "{again}"
    );
    assert_eq!(app_grant(&server, "alice", "alice-pw-1").await, 200);

    // A new password that fits: the client gets its code, with its state.
    let (s, location) = new_password(&b, &server, &again, "new-password-1", "new-password-1").await;
    assert_eq!(s, 302, "{location}");
    assert!(location.starts_with(&format!("{CB}?")), "{location}");
    let q = query_of(&location);
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    let (s, tokens, _) = post_form(
        &server.url(&format!("/realms/{REALM}/protocol/openid-connect/token")),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", q["code"].as_str()),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sub"],
        alice
    );
    assert_eq!(app_grant(&server, "alice", "alice-pw-1").await, 401);
    assert_eq!(app_grant(&server, "alice", "new-password-1").await, 200);

    // Used once.
    let (s, page) = open_link(&browser(), &server, &mail_link).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("Action expired."), "{page}");

    // Keycloak's events.
    let sent = events_at_least(
        &server,
        &admin,
        &format!("/admin/realms/{REALM}/events"),
        "?type=SEND_RESET_PASSWORD",
        1,
    )
    .await;
    assert_eq!(sent[0]["userId"], alice);
    assert_eq!(sent[0]["clientId"], "app");
    assert_eq!(sent[0]["details"]["username"], "alice");
    assert_eq!(sent[0]["details"]["email"], "alice@example.org");
    let updated = events_at_least(
        &server,
        &admin,
        &format!("/admin/realms/{REALM}/events"),
        "?type=UPDATE_PASSWORD",
        1,
    )
    .await;
    assert_eq!(updated[0]["userId"], alice);
    let logins = events_at_least(
        &server,
        &admin,
        &format!("/admin/realms/{REALM}/events"),
        "?type=LOGIN",
        1,
    )
    .await;
    assert!(logins
        .iter()
        .any(|e| e["userId"] == alice && e["clientId"] == "app"));

    // A realm without `resetPasswordAllowed`: no link, and the URL is refused.
    let (s, login) = get_page(&browser(), &auth_url(&server, "closed", "x")).await;
    assert_eq!(s, 200, "{login}");
    assert!(forgot_link(&login).is_none(), "{login}");
    assert!(!login.contains("Forgot Password?"), "{login}");
    let (s, page) = get_page(
        &browser(),
        &server.url("/realms/closed/login-actions/reset-credentials?client_id=app"),
    )
    .await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("Reset Credential not allowed"), "{page}");
    let r = browser()
        .post(server.url("/realms/closed/login-actions/reset-credentials"))
        .form(&[("username", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Reset Credential not allowed"));
    drop(server);
    data.cleanup().await;
}

/// No enumeration: an unknown user, a user without e-mail and a known one get the same page;
/// only the known one gets a mail. A missing username is asked again. A link opened in
/// another browser starts a flow of its own for the token's client, and clears the user's
/// brute-force lockout.
#[tokio::test]
async fn unknown_users_and_another_browser() {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm_json(sink.settings("noreply@reset.example"))]).await;
    let admin = admin_token(&server).await;
    let alice = user_id(&server, &admin, "alice").await;
    let start = server.url(&format!(
        "/realms/{REALM}/login-actions/reset-credentials?client_id=app&tab_id=t1"
    ));

    let b = browser();
    let (s, choose) = get_page(&b, &start).await;
    assert_eq!(s, 200, "{choose}");
    let (s, page) = submit(&b, &server, &choose, &[("username", "  ")]).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Please specify username."), "{page}");
    assert!(page.contains("Forgot Your Password?"), "{page}");

    let mut answers = Vec::new();
    for name in ["nobody", "nomail"] {
        let b = browser();
        let (_, choose) = get_page(&b, &start).await;
        let (s, page) = submit(&b, &server, &choose, &[("username", name)]).await;
        assert_eq!(s, 200, "{page}");
        assert!(page.contains(SENT), "{page}");
        // The same page but for its session code.
        let code = form_field(&page, "session_code").unwrap();
        answers.push(page.replace(&code, "CODE"));
    }
    assert_eq!(answers[0], answers[1]);
    let nf = events_at_least(
        &server,
        &admin,
        &format!("/admin/realms/{REALM}/events"),
        "?type=RESET_PASSWORD_ERROR",
        3,
    )
    .await;
    let errors: Vec<&str> = nf.iter().map(|e| e["error"].as_str().unwrap()).collect();
    assert!(errors.contains(&"username_missing"), "{nf:?}");
    assert!(errors.contains(&"user_not_found"), "{nf:?}");
    assert!(errors.contains(&"invalid_email"), "{nf:?}");
    let unknown = nf.iter().find(|e| e["error"] == "user_not_found").unwrap();
    assert_eq!(unknown["details"]["username"], "nobody");

    // Lock alice out (two failures), then reset by her e-mail address.
    assert_eq!(app_grant(&server, "alice", "wrong").await, 401);
    assert_eq!(app_grant(&server, "alice", "wrong").await, 401);
    // Locked: Keycloak's `invalid_grant` "Account temporarily disabled" (400).
    assert_eq!(app_grant(&server, "alice", "alice-pw-1").await, 400);
    let b = browser();
    let (_, choose) = get_page(&b, &start).await;
    let (s, page) = submit(&b, &server, &choose, &[("username", "alice@example.org")]).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains(SENT), "{page}");
    answers.push(page.replace(&form_field(&page, "session_code").unwrap(), "CODE"));
    assert_eq!(answers[0], answers[2], "a known user's page is the same");
    let mails = sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.mails().len(), 1, "no mail for the unknown users");
    assert_eq!(mails[0]["rcpt_tos"], json!(["alice@example.org"]));

    // Another browser: a flow of its own, ending at the client's redirect URI.
    let other = browser();
    let (s, update) = open_link(&other, &server, &action_link(&mails[0])).await;
    assert_eq!(s, 200, "{update}");
    let (s, location) = new_password(&other, &server, &update, "reset-pw-22", "reset-pw-22").await;
    assert_eq!(s, 302, "{location}");
    assert!(
        location.starts_with("https://app.example/home?"),
        "{location}"
    );
    assert!(query_of(&location).contains_key("code"), "{location}");
    assert_eq!(app_grant(&server, "alice", "reset-pw-22").await, 200);
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users/{alice}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(u["emailVerified"], true, "{u}");
    drop(server);
    data.cleanup().await;
}

/// The link expires (`actionTokenGeneratedByUserLifespan`); a user with OTP is asked to set
/// up a new one after the password (`reset-otp`, `Remove none`: the old one stays); once the
/// realm turns `resetPasswordAllowed` off, a link sent before is refused; the Admin API's
/// `reset-password-email` is `execute-actions-email` with `UPDATE_PASSWORD`.
#[tokio::test]
async fn expired_and_disallowed_links() {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let no_smtp = json!({
        "realm": "nosmtp", "resetPasswordAllowed": true, "eventsEnabled": true,
        "clients": [{"clientId": "app", "publicClient": true, "redirectUris": [CB]}],
        "users": [{"username": "bob", "email": "bob@example.org", "enabled": true}]
    });
    let server = start_with_clock(
        &data,
        &[realm_json(sink.settings("noreply@reset.example")), no_smtp],
    )
    .await;
    let admin = admin_token(&server).await;
    let start = server.url(&format!(
        "/realms/{REALM}/login-actions/reset-credentials?client_id=app"
    ));
    for n in 1..=2 {
        let b = browser();
        let (_, choose) = get_page(&b, &start).await;
        let (s, page) = submit(&b, &server, &choose, &[("username", "alice")]).await;
        assert_eq!(s, 200, "{page}");
        sink.wait_for(n).await;
    }
    let mails = sink.mails();

    // A realm without mail settings: Keycloak's error page, and the event says why.
    let b = browser();
    let (_, choose) = get_page(
        &b,
        &server.url("/realms/nosmtp/login-actions/reset-credentials?client_id=app"),
    )
    .await;
    let (s, page) = submit(&b, &server, &choose, &[("username", "bob")]).await;
    assert_eq!(s, 500, "{page}");
    assert!(
        page.contains("Failed to send email, please try again later."),
        "{page}"
    );
    let failed = {
        let mut found = Value::Null;
        for _ in 0..100 {
            let (_, list, _) = call(
                &server,
                "GET",
                "/admin/realms/nosmtp/events?type=SEND_RESET_PASSWORD_ERROR",
                Some(&admin),
                None,
            )
            .await;
            if list.as_array().is_some_and(|l| !l.is_empty()) {
                found = list[0].clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        found
    };
    assert_eq!(failed["error"], "email_send_failed", "{failed}");
    assert_eq!(failed["details"]["username"], "bob", "{failed}");

    advance_clock(&server, 301).await;
    let (s, page) = open_link(&browser(), &server, &action_link(&mails[0])).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("Action expired."), "{page}");
    advance_clock(&server, 0).await;

    // `reset-otp`: after the password, the OTP setup page of this login.
    let b = browser();
    let (_, choose) = get_page(&b, &start).await;
    let (s, page) = submit(&b, &server, &choose, &[("username", "otto")]).await;
    assert_eq!(s, 200, "{page}");
    let mail = sink.wait_for(3).await.remove(2);
    assert_eq!(mail["rcpt_tos"], json!(["otto@example.org"]));
    let (s, update) = open_link(&b, &server, &action_link(&mail)).await;
    assert_eq!(s, 200, "{update}");
    let (s, totp) = new_password(&b, &server, &update, "otto-pw-22", "otto-pw-22").await;
    assert_eq!(s, 200, "{totp}");
    assert!(totp.contains("Mobile Authenticator Setup"), "{totp}");
    let otto = user_id(&server, &admin, "otto").await;
    let (_, creds, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users/{otto}/credentials"),
        Some(&admin),
        None,
    )
    .await;
    let otps = creds
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "otp")
        .count();
    assert_eq!(otps, 1, "{creds}");
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users/{otto}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        u["requiredActions"],
        json!([]),
        "the login's own action, not the user's: {u}"
    );

    let (s, body, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}"),
        Some(&admin),
        Some(json!({"resetPasswordAllowed": false})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (s, page) = open_link(&browser(), &server, &action_link(&mails[1])).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("Reset Credential not allowed"), "{page}");
    let (s, page) = get_page(&browser(), &start).await;
    assert_eq!(s, 400, "{page}");
    assert_eq!(app_grant(&server, "alice", "alice-pw-1").await, 200);

    // The Admin API's (deprecated) `reset-password-email`, which does not depend on it.
    let alice = user_id(&server, &admin, "alice").await;
    let (s, body, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}/users/{alice}/reset-password-email?client_id=app&redirect_uri=https://app.example/cb"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let mail = sink.wait_for(4).await.remove(3);
    assert_eq!(mail["headers"]["Subject"], "Update Your Account");
    let claims = payload(action_link(&mail).split("key=").nth(1).unwrap());
    assert_eq!(claims["typ"], "execute-actions");
    assert_eq!(claims["rqac"], json!(["UPDATE_PASSWORD"]));
    assert_eq!(claims["reduri"], "https://app.example/cb");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        43_200
    );
    let nomail = user_id(&server, &admin, "nomail").await;
    let (s, body, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}/users/{nomail}/reset-password-email"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["errorMessage"], "User email missing");
    drop(server);
    data.cleanup().await;
}
