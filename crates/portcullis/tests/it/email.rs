//! The realm's e-mail sender against a real SMTP server (aiosmtpd, `support::smtp`):
//! `execute-actions-email` and `send-verify-email` with Keycloak's validation, mails, links
//! and action tokens; following a link as a browser does (confirmation page, use, replay);
//! `testSMTPConnection`; a failing SMTP server never blocks a request and its password never
//! reaches the log.

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "mail";

fn realm_json(smtp: Option<Value>) -> Value {
    let mut r = json!({
        "realm": REALM,
        "displayName": "Mail & Co",
        "clients": [
            {"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true,
             "redirectUris": ["https://app.example/*"]},
            {"clientId": "off", "enabled": false, "redirectUris": ["*"]}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.org", "enabled": true,
             "credentials": [{"type": "password", "value": "alice-pw"}]},
            {"username": "nomail", "enabled": true},
            {"username": "dis", "email": "dis@example.org", "enabled": false}
        ]
    });
    if let Some(s) = smtp {
        r["smtpServer"] = s;
    }
    r
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

async fn put(server: &TestServer, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (s, v, _) = call(server, "PUT", path, Some(token), body).await;
    (s, v)
}

/// The confirmation page of a link, then its form posted: status and body.
async fn follow(b: &reqwest::Client, server: &TestServer, link: &str) -> (u16, String) {
    let path = &link[link.find("/realms/").unwrap()..];
    let (s, page) = get_page(b, &server.url(path)).await;
    assert_eq!(s, 200, "{page}");
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

async fn app_grant(server: &TestServer, user: &str, pw: &str) -> u16 {
    password_grant(server, REALM, "app", Some("app-secret"), user, pw, &[])
        .await
        .0
}

#[tokio::test]
async fn execute_actions_email_sqlite() {
    execute_actions_email(Backend::Sqlite).await;
}

#[tokio::test]
async fn execute_actions_email_postgres() {
    execute_actions_email(Backend::Postgres).await;
}

async fn execute_actions_email(backend: Backend) {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let mut smtp = sink.settings("noreply@mail.example");
    smtp["fromDisplayName"] = json!("Mail Realm");
    smtp["replyTo"] = json!("help@mail.example");
    smtp["envelopeFrom"] = json!("bounce@mail.example");
    let server = start_with(&data, &[realm_json(Some(smtp))]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;

    let path = format!(
        "/admin/realms/{REALM}/users/{alice}/execute-actions-email?client_id=app&redirect_uri=https://app.example/cb&lifespan=600"
    );
    let (s, v) = put(&server, &token, &path, Some(json!(["UPDATE_PASSWORD"]))).await;
    assert_eq!(s, 204, "{v}");
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail["rcpt_tos"], json!(["alice@example.org"]));
    assert_eq!(mail["mail_from"], "bounce@mail.example");
    assert_eq!(mail["headers"]["Subject"], "Update Your Account");
    assert_eq!(mail["headers"]["From"], "Mail Realm <noreply@mail.example>");
    assert_eq!(mail["headers"]["Reply-To"], "help@mail.example");
    assert!(mail["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .starts_with("multipart/alternative"));
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.starts_with("Your administrator has just requested that you update your Mail & Co account by performing the following action(s): Update Password."),
        "{text}"
    );
    assert!(
        text.contains("This link will expire within 10 minutes."),
        "{text}"
    );
    assert!(mail["html"]
        .as_str()
        .unwrap()
        .contains("Mail &amp; Co account"));

    // The link and its token, as Keycloak makes them.
    let link = action_link(&mail);
    assert!(
        link.starts_with(&server.url(&format!("/realms/{REALM}/login-actions/action-token?key="))),
        "{link}"
    );
    let jwt = link
        .split("key=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS512");
    let claims = payload(jwt);
    assert_eq!(claims["typ"], "execute-actions");
    assert_eq!(claims["rqac"], json!(["UPDATE_PASSWORD"]));
    assert_eq!(claims["azp"], "app");
    assert_eq!(claims["sub"], alice);
    assert_eq!(claims["eml"], "alice@example.org");
    assert_eq!(claims["reduri"], "https://app.example/cb");
    assert_eq!(claims["iss"], server.url(&format!("/realms/{REALM}")));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );

    // Following it: the update-password step, then the application with a code.
    let b = browser();
    let (s, page) = follow(&b, &server, &link).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("password-new"), "{page}");
    let r = b
        .post(server.url(&form_action(&page)))
        .form(&[
            (
                "session_code",
                form_field(&page, "session_code").unwrap().as_str(),
            ),
            ("password-new", "brand-new-pw"),
            ("password-confirm", "brand-new-pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://app.example/cb?"),
        "{location}"
    );
    assert!(query_of(&location).contains_key("code"), "{location}");
    assert_eq!(app_grant(&server, "alice", "brand-new-pw").await, 200);
    assert_eq!(app_grant(&server, "alice", "alice-pw").await, 401);
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(u["emailVerified"], true, "{u}");
    assert_eq!(u["requiredActions"], json!([]), "{u}");

    // Used up: a replay is refused and changes nothing.
    let path = &link[link.find("/realms/").unwrap()..];
    let r = b
        .post(server.url(&form_action(&get_page(&b, &server.url(path)).await.1)))
        .form(&[("key", jwt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Action expired."));
    drop(server);
    data.cleanup().await;
}

#[tokio::test]
async fn send_verify_email_and_token_refusals() {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut other = realm_json(Some(sink.settings("noreply@mail.example")));
    other["realm"] = json!("other");
    let server = start_with_clock(
        &data,
        &[
            realm_json(Some(sink.settings("noreply@mail.example"))),
            other,
        ],
    )
    .await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;

    let (s, v) = put(
        &server,
        &token,
        &format!("/admin/realms/{REALM}/users/{alice}/send-verify-email"),
        None,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail["headers"]["Subject"], "Verify email");
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.starts_with("Someone has created a Mail & Co account with this email address."),
        "{text}"
    );
    // The default lifespan of a verify-email token: the realm's user-action lifespan (300 s).
    assert!(
        text.contains("This link will expire within 5 minutes."),
        "{text}"
    );
    let link = action_link(&mail);
    let claims = payload(link.split("key=").nth(1).unwrap());
    assert_eq!(claims["typ"], "verify-email");
    assert_eq!(claims["azp"], "account");

    // A forged token (another signature) and another realm's token are refused.
    let b = browser();
    let path = &link[link.find("/realms/").unwrap()..];
    let forged = format!("{}x", path.trim_end_matches(|c: char| c != '.'));
    let (s, page) = get_page(&b, &server.url(&forged)).await;
    assert_eq!(s, 400);
    assert!(
        page.contains("An error occurred, please login again through your application."),
        "{page}"
    );
    let foreign = path.replacen(&format!("/realms/{REALM}/"), "/realms/other/", 1);
    let (s, page) = get_page(&b, &server.url(&foreign)).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("An error occurred"), "{page}");

    // Opening shows the confirmation only; posting verifies.
    let (s, page) = get_page(&b, &server.url(path)).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("Confirm validity of e-mail address alice@example.org."),
        "{page}"
    );
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_ne!(u["emailVerified"], true, "a GET changes nothing: {u}");
    let (s, page) = follow(&b, &server, &link).await;
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("Your email address has been verified."),
        "{page}"
    );
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(u["emailVerified"], true, "{u}");

    // A token for an e-mail the user no longer has is void.
    let (s, _) = put(
        &server,
        &token,
        &format!("/admin/realms/{REALM}/users/{alice}/send-verify-email"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let second = action_link(&sink.wait_for(2).await[1]);
    let (s, _) = put(
        &server,
        &token,
        &format!("/admin/realms/{REALM}/users/{alice}"),
        Some(json!({"email": "alice2@example.org"})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, page) = get_page(&b, &server.url(&second[second.find("/realms/").unwrap()..])).await;
    assert_eq!(s, 400, "{page}");

    // An expired token.
    let (s, _) = put(
        &server,
        &token,
        &format!("/admin/realms/{REALM}/users/{alice}/send-verify-email?lifespan=60"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let third = action_link(&sink.wait_for(3).await[2]);
    advance_clock(&server, 120).await;
    let (s, page) = get_page(&b, &server.url(&third[third.find("/realms/").unwrap()..])).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("Action expired."), "{page}");
    data.cleanup().await;
}

#[tokio::test]
async fn email_endpoints_validate_as_keycloak() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut with_smtp = realm_json(Some(
        json!({"host": "127.0.0.1", "port": "1", "from": "noreply@mail.example"}),
    ));
    with_smtp["realm"] = json!("smtp");
    let server = start_with(&data, &[realm_json(None), with_smtp]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;
    let nomail = user_id(&server, &token, "nomail").await;
    let dis = user_id(&server, &token, "dis").await;
    let ea =
        |id: &str, q: &str| format!("/admin/realms/{REALM}/users/{id}/execute-actions-email{q}");
    let ve = |id: &str, q: &str| format!("/admin/realms/{REALM}/users/{id}/send-verify-email{q}");
    let cases: Vec<(String, Option<Value>, u16, &str)> = vec![
        (ea(&nomail, ""), Some(json!([])), 400, "User email missing"),
        (ea(&dis, ""), Some(json!([])), 400, "User is disabled"),
        (
            ea(&alice, "?redirect_uri=https://app.example/cb"),
            Some(json!([])),
            400,
            "Client id missing",
        ),
        (
            ea(&alice, "?client_id=nope"),
            Some(json!([])),
            400,
            "Client doesn't exist",
        ),
        (
            ea(&alice, "?client_id=off"),
            Some(json!([])),
            400,
            "Client is not enabled",
        ),
        (
            ea(&alice, "?client_id=app&redirect_uri=https://evil.example/"),
            Some(json!([])),
            400,
            "Invalid redirect uri.",
        ),
        (
            ea(&alice, ""),
            Some(json!(["NOT_AN_ACTION"])),
            400,
            "Provided invalid required actions",
        ),
        (ve(&nomail, ""), None, 400, "User email missing"),
        (ve(&dis, ""), None, 400, "User is disabled"),
        (
            ve(&alice, "?client_id=app&redirect_uri=https://evil.example/"),
            None,
            400,
            "Invalid redirect uri.",
        ),
        (ve(&alice, ""), None, 500, "Failed to send verify email"),
    ];
    for (path, body, status, msg) in cases {
        let (s, v) = put(&server, &token, &path, body).await;
        assert_eq!(
            (s, v["errorMessage"].as_str().unwrap_or_default()),
            (status, msg),
            "{path}: {v}"
        );
    }
    // No SMTP server in the realm: python-keycloak's `test_email` expectation.
    let (s, v) = put(&server, &token, &ea(&alice, ""), Some(json!([]))).await;
    assert_eq!(s, 500);
    assert!(
        v["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Failed to send execute actions email: "),
        "{v}"
    );
    let (s, _, _) = call(
        &server,
        "PUT",
        &ea("missing", ""),
        Some(&token),
        Some(json!([])),
    )
    .await;
    assert_eq!(s, 404);

    // A server that refuses the connection: the request is answered at once (the mail is
    // queued), the failure goes to the log.
    let (_, v, _) = call(
        &server,
        "GET",
        "/admin/realms/smtp/users?username=alice&exact=true",
        Some(&token),
        None,
    )
    .await;
    let id = v[0]["id"].as_str().unwrap();
    let (s, v) = put(
        &server,
        &token,
        &format!("/admin/realms/smtp/users/{id}/execute-actions-email"),
        Some(json!(["UPDATE_PASSWORD"])),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    for _ in 0..600 {
        if server.logs().contains("failed to send e-mail") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        server.logs().contains("failed to send e-mail"),
        "{}",
        server.logs()
    );
    data.cleanup().await;
}

#[tokio::test]
async fn test_smtp_connection() {
    let Some(sink) = SmtpSink::start(Some(("mailer", "mail-pw"))) else {
        return;
    };
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut stored = sink.settings("noreply@mail.example");
    stored["auth"] = json!("true");
    stored["user"] = json!("mailer");
    stored["password"] = json!("mail-pw");
    let server = start_with(&data, &[realm_json(Some(stored))]).await;
    let token = admin_token(&server).await;
    let path = format!("/admin/realms/{REALM}/testSMTPConnection");
    // As the admin console sends it: numbers and booleans, the masked password.
    let body = json!({"host": "127.0.0.1", "port": sink.port, "from": "noreply@mail.example",
                      "auth": true, "ssl": false, "starttls": false, "user": "mailer", "password": "**********"});
    let (s, v, _) = call(&server, "POST", &path, Some(&token), Some(body.clone())).await;
    assert_eq!(
        (s, v["errorMessage"].clone()),
        (500, json!("Logged in user does not have an e-mail."))
    );

    let (_, admins, _) = call(
        &server,
        "GET",
        "/admin/realms/master/users?username=admin&exact=true",
        Some(&token),
        None,
    )
    .await;
    let admin_id = admins[0]["id"].as_str().unwrap();
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/master/users/{admin_id}"),
        Some(&token),
        Some(json!({"email": "root@example.org"})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, v, _) = call(&server, "POST", &path, Some(&token), Some(body.clone())).await;
    assert_eq!(s, 204, "{v}");
    let mail = sink.mails().remove(0);
    assert_eq!(mail["rcpt_tos"], json!(["root@example.org"]));
    assert_eq!(mail["auth"], true);
    assert_eq!(mail["headers"]["Subject"], "[KEYCLOAK] - SMTP test message");
    assert_eq!(
        mail["text"].as_str().unwrap().trim(),
        "This is a test message"
    );

    // A wrong password: Keycloak's 500, nothing delivered, the password not in the log.
    let mut wrong = body.clone();
    wrong["password"] = json!("not-the-Password-42");
    let (s, v, _) = call(&server, "POST", &path, Some(&token), Some(wrong)).await;
    assert_eq!(
        (s, v["errorMessage"].clone()),
        (500, json!("Failed to send email"))
    );
    assert_eq!(sink.mails().len(), 1);
    assert!(!server.logs().contains("not-the-Password-42"));
    // The deprecated form variant.
    let r = client()
        .post(server.url(&path))
        .bearer_auth(&token)
        .form(&[("config", body.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(sink.mails().len(), 2);
    data.cleanup().await;
}

async fn invite(
    server: &TestServer,
    token: &str,
    org: &str,
    what: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let r = client()
        .post(server.url(&format!(
            "/admin/realms/{REALM}/organizations/{org}/members/{what}"
        )))
        .bearer_auth(token)
        .form(form)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn organization_invitations() {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut realm = realm_json(Some(sink.settings("noreply@mail.example")));
    realm["organizationsEnabled"] = json!(true);
    realm["users"].as_array_mut().unwrap().push(json!(
        {"username": "carol", "email": "carol@example.org", "firstName": "Carol", "lastName": "Jones", "enabled": true}
    ));
    let server = start_with(&data, &[realm]).await;
    let token = admin_token(&server).await;
    let (s, v, headers) = call(
        &server,
        "POST",
        &format!("/admin/realms/{REALM}/organizations"),
        Some(&token),
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
    let alice = user_id(&server, &token, "alice").await;

    // Keycloak's errors.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, Value);
    let cases: Vec<Case> = vec![
        (
            "invite-user",
            vec![],
            400,
            json!({"errorMessage": "Email is required to invite a member"}),
        ),
        (
            "invite-user",
            vec![("email", "not-an-address")],
            400,
            json!({"errorMessage": "Invalid email format"}),
        ),
        (
            "invite-existing-user",
            vec![("id", "missing")],
            400,
            json!({"errorMessage": "User does not exist"}),
        ),
        (
            "invite-existing-user",
            vec![],
            400,
            json!({"error": "To invite a member you need to provide the user id", "error_description": "For more on this error consult the server log."}),
        ),
    ];
    for (what, form, status, body) in cases {
        let (s, v) = invite(&server, &token, &org, what, &form).await;
        assert_eq!((s, &v), (status, &body), "{what} {form:?}");
    }
    let (s, v) = invite(
        &server,
        &token,
        "no-such-org",
        "invite-user",
        &[("email", "x@y.z")],
    )
    .await;
    assert_eq!(
        (s, v["errorMessage"].as_str()),
        (404, Some("Organization not found."))
    );
    assert!(sink.mails().is_empty());

    // An existing user, by id: the invitation link.
    let (s, v) = invite(
        &server,
        &token,
        &org,
        "invite-existing-user",
        &[("id", &alice)],
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail["rcpt_tos"], json!(["alice@example.org"]));
    assert_eq!(
        mail["headers"]["Subject"],
        "Invitation to join the Music organization"
    );
    let text = mail["text"].as_str().unwrap();
    // Keycloak's personalized form (`orgInviteBodyPersonalized`): the user has names.
    assert!(text.starts_with("Hi, \"Alice\" \"Tester\"."), "{text}");
    assert!(
        text.contains(
            "You were invited to join the \"Music\" organization. Click the link below to join."
        ),
        "{text}"
    );
    assert!(
        text.contains("This link will expire within 12 hours."),
        "{text}"
    );
    let link = action_link(&mail);
    let claims = payload(link.split("key=").nth(1).unwrap());
    assert_eq!(claims["typ"], "ORGIVT");
    assert_eq!(claims["org_id"], org);
    assert_eq!(claims["sub"], alice);
    assert_eq!(claims["azp"], "account");
    assert_eq!(claims["reduri"], "https://music.example/welcome");

    // Accepting it: the confirmation, then membership and the organization's redirect.
    let b = browser();
    let path = &link[link.find("/realms/").unwrap()..];
    let (s, page) = get_page(&b, &server.url(path)).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("you will become a member of the Music organization"),
        "{page}"
    );
    assert_eq!(
        org_members(&server, &token, &org).await,
        json!([]),
        "opening alone changes nothing"
    );
    let r = b
        .post(server.url(&form_action(&page)))
        .form(&[("key", form_field(&page, "key").unwrap().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], "https://music.example/welcome");
    let m = org_members(&server, &token, &org).await;
    assert_eq!(m.as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m[0]["username"], "alice");
    assert_eq!(m[0]["membershipType"], "UNMANAGED");
    // Used up.
    let r = b
        .post(server.url(&form_action(&page)))
        .form(&[("key", form_field(&page, "key").unwrap().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Action expired."));

    // By e-mail: a member is refused; a user with names gets the personal greeting.
    let (s, v) = invite(
        &server,
        &token,
        &org,
        "invite-user",
        &[("email", "Alice@Example.org")],
    )
    .await;
    assert_eq!(
        (s, v["errorMessage"].as_str()),
        (409, Some("User already a member of the organization"))
    );
    let (s, _) = invite(
        &server,
        &token,
        &org,
        "invite-user",
        &[("email", "carol@example.org")],
    )
    .await;
    assert_eq!(s, 204);
    let mail = sink.wait_for(2).await.remove(1);
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .starts_with("Hi, \"Carol\" \"Jones\"."),
        "{mail}"
    );
    assert!(
        mail["html"]
            .as_str()
            .unwrap()
            .contains("<p>Hi, Carol Jones.</p>"),
        "{mail}"
    );
    let carol_link = action_link(&mail);

    // Someone without an account: Keycloak's registration link, a token without a subject.
    let (s, _) = invite(
        &server,
        &token,
        &org,
        "invite-user",
        &[
            ("email", "new@else.example"),
            ("firstName", "New"),
            ("lastName", "Person"),
        ],
    )
    .await;
    assert_eq!(s, 204);
    let mail = sink.wait_for(3).await.remove(2);
    assert_eq!(mail["rcpt_tos"], json!(["new@else.example"]));
    let text = mail["text"].as_str().unwrap();
    assert!(text.starts_with("Hi, \"New\" \"Person\"."), "{text}");
    let reg = text
        .split_whitespace()
        .find(|w| w.contains("/protocol/openid-connect/registrations?"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        reg.contains("response_type=code&client_id=account&token="),
        "{reg}"
    );
    let claims = payload(reg.split("token=").nth(1).unwrap());
    assert_eq!(claims["typ"], "ORGIVT");
    assert!(claims.get("sub").is_none(), "{claims}");
    assert_eq!(claims["eml"], "new@else.example");
    let newcomer_jti = claims["jti"].as_str().unwrap().to_string();

    invitation_records(&server, &token, &org, &sink, &carol_link, &newcomer_jti).await;
    data.cleanup().await;
}

/// Keycloak 26.5's invitation records: listed (the accepted one gone), read, refused twice,
/// resent (the old link dead, the new one working), deleted.
async fn invitation_records(
    server: &TestServer,
    token: &str,
    org: &str,
    sink: &SmtpSink,
    carol_link: &str,
    newcomer_jti: &str,
) {
    let base = format!("/admin/realms/{REALM}/organizations/{org}/invitations");
    let list = |q: &str| {
        let path = format!("{base}{q}");
        async move { call(server, "GET", &path, Some(token), None).await }
    };
    let (s, all, _) = list("").await;
    assert_eq!(s, 200, "{all}");
    let all = all.as_array().unwrap().clone();
    assert_eq!(
        all.len(),
        2,
        "alice's invitation was accepted and removed: {all:?}"
    );
    let newcomer = all
        .iter()
        .find(|i| i["email"] == "new@else.example")
        .unwrap();
    assert_eq!(
        newcomer["id"], newcomer_jti,
        "the token's jti is the invitation's id"
    );
    assert_eq!(newcomer["organizationId"], org);
    assert_eq!(newcomer["firstName"], "New");
    assert_eq!(newcomer["lastName"], "Person");
    assert_eq!(newcomer["status"], "PENDING");
    let sent = newcomer["sentDate"].as_i64().unwrap();
    assert_eq!(newcomer["expiresAt"].as_i64().unwrap() - sent, 12 * 3600);
    assert!(newcomer["inviteLink"]
        .as_str()
        .unwrap()
        .contains("/protocol/openid-connect/registrations?"));
    let carol = all
        .iter()
        .find(|i| i["email"] == "carol@example.org")
        .unwrap();
    let carol_id = carol["id"].as_str().unwrap().to_string();
    assert_eq!(carol["inviteLink"], carol_link);

    // Filters.
    for (q, n) in [
        ("?search=CAROL", 1),
        ("?email=else.example", 1),
        ("?firstName=new", 1),
        ("?status=PENDING", 2),
        ("?status=EXPIRED", 0),
        ("?first=1&max=1", 1),
        ("?search=nobody", 0),
    ] {
        let (s, v, _) = list(q).await;
        assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(n)), "{q}: {v}");
    }
    let (s, v, _) = list("?status=LATE").await;
    assert_eq!(s, 400, "{v}");
    assert!(v["errorMessage"].as_str().unwrap().contains("LATE"), "{v}");

    // One pending invitation per address.
    let (s, v) = invite(
        server,
        token,
        org,
        "invite-user",
        &[("email", "carol@example.org")],
    )
    .await;
    assert_eq!(
        (s, v["errorMessage"].as_str()),
        (409, Some("User already has a pending invitation"))
    );

    // Read one; an unknown id.
    let (s, one, _) = call(
        server,
        "GET",
        &format!("{base}/{carol_id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!((s, &one), (200, carol));
    let (s, v, _) = call(server, "GET", &format!("{base}/nope"), Some(token), None).await;
    assert_eq!(
        (s, v["errorMessage"].as_str()),
        (404, Some("Invitation not found"))
    );

    // Resend: a new invitation and mail; the old link no longer works, the new one does.
    let before = sink.mails().len();
    let (s, v, _) = call(
        server,
        "POST",
        &format!("{base}/{carol_id}/resend"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let mail = sink.wait_for(before + 1).await.remove(before);
    assert_eq!(mail["rcpt_tos"], json!(["carol@example.org"]));
    let new_link = action_link(&mail);
    assert_ne!(new_link, carol_link);
    let (s, _, _) = call(
        server,
        "GET",
        &format!("{base}/{carol_id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 404, "the resent invitation replaced the old one");
    let b = browser();
    let old_key = carol_link.split("key=").nth(1).unwrap();
    let old_post = &carol_link[carol_link.find("/realms/").unwrap()..carol_link.find('?').unwrap()];
    let r = b
        .post(server.url(old_post))
        .form(&[("key", old_key)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("The invitation is no longer valid."));
    assert_eq!(
        org_members(server, token, org)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let new_key = new_link.split("key=").nth(1).unwrap();
    let r = b
        .post(server.url(old_post))
        .form(&[("key", new_key)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(
        org_members(server, token, org)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Delete: gone, and a second delete finds nothing.
    let path = format!("{base}/{newcomer_jti}");
    let (s, _, _) = call(server, "DELETE", &path, Some(token), None).await;
    assert_eq!(s, 204);
    let (s, v, _) = call(server, "DELETE", &path, Some(token), None).await;
    assert_eq!(
        (s, v["errorMessage"].as_str()),
        (404, Some("Invitation not found"))
    );
    let (_, v, _) = list("").await;
    assert_eq!(v, json!([]), "accepted and deleted invitations are gone");
}

async fn org_members(server: &TestServer, token: &str, org: &str) -> Value {
    let path = format!("/admin/realms/{REALM}/organizations/{org}/members");
    call(server, "GET", &path, Some(token), None).await.1
}
