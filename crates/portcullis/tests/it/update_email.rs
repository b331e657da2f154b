//! The `UPDATE_EMAIL` required action (Keycloak's `UpdateEmail`, feature `update-email`, on by
//! default since Keycloak 26.4): through the browser, as a user's required action and as
//! `kc_action=UPDATE_EMAIL`; the address checked by the user profile; changed at once without
//! e-mail verification, or through an `update-email` link mailed to the new address (a real
//! SMTP sink) with it; `email` read-only in UPDATE_PROFILE and the account API while the
//! action is on; and the server without the feature (`--features-disabled=update-email`).

use serde_json::{json, Value};

use crate::support::*;

fn realm(verify_email: bool) -> Value {
    realm_named("ue", verify_email)
}

fn realm_named(name: &str, verify_email: bool) -> Value {
    json!({
        "realm": name,
        "displayName": "Update Email",
        "verifyEmail": verify_email,
        "eventsEnabled": true,
        "clients": [
            {"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "requiredActions": [
            {"alias": "UPDATE_PROFILE", "name": "Update Profile", "providerId": "UPDATE_PROFILE", "enabled": true, "defaultAction": false, "priority": 40, "config": {}},
            {"alias": "VERIFY_EMAIL", "name": "Verify Email", "providerId": "VERIFY_EMAIL", "enabled": true, "defaultAction": false, "priority": 50, "config": {}},
            {"alias": "UPDATE_EMAIL", "name": "Update Email", "providerId": "UPDATE_EMAIL", "enabled": true, "defaultAction": false, "priority": 70, "config": {}}
        ],
        "users": [
            {"username": "amy", "firstName": "Amy", "lastName": "A", "email": "amy@example.com", "emailVerified": true, "enabled": true,
             "requiredActions": ["UPDATE_EMAIL"], "credentials": [{"type": "password", "value": "amy-pw"}]},
            {"username": "bob", "firstName": "Bob", "lastName": "B", "email": "bob@example.com", "emailVerified": true, "enabled": true,
             "credentials": [{"type": "password", "value": "bob-pw"}], "realmRoles": [format!("default-roles-{name}")]},
            {"username": "cat", "firstName": "Cat", "lastName": "C", "email": "cat@example.com", "emailVerified": true, "enabled": true,
             "requiredActions": ["UPDATE_PROFILE"], "credentials": [{"type": "password", "value": "cat-pw"}]}
        ]
    })
}

fn auth_url(server: &TestServer, extra: &str) -> String {
    server.url(&format!(
        "/realms/ue/protocol/openid-connect/auth?client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid%20email&state=s1{extra}"
    ))
}

async fn user(server: &TestServer, token: &str, name: &str) -> Value {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/ue/users?username={name}&exact=true"),
        Some(token),
        None,
    )
    .await;
    users[0].clone()
}

/// The ID token's claims for a code.
async fn id_token_claims(server: &TestServer, code: &str) -> Value {
    let (status, tokens, _) = post_form(
        &server.url("/realms/ue/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code),
            ("redirect_uri", "http://localhost:3000/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    payload(tokens["id_token"].as_str().unwrap())
}

async fn events(server: &TestServer, token: &str, kind: &str, n: usize) -> Vec<Value> {
    events_at_least(
        server,
        token,
        "/admin/realms/ue/events",
        &format!("?type={kind}"),
        n,
    )
    .await
}

async fn post_key(server: &TestServer, confirm: &str, key: &str) -> (u16, String) {
    let r = browser()
        .post(server.url(&form_action(confirm)))
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn update_email_without_verification_validates_and_changes_the_address() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm(false)]).await;
    let token = admin_token(&server).await;
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "amy", "amy-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"kc-update-email-form\""), "{page}");
    assert!(page.contains("<h1>Update email</h1>"), "{page}");
    assert_eq!(
        form_field(&page, "email").as_deref(),
        Some("amy@example.com")
    );

    // Refused, with Keycloak's messages, and nothing written.
    for (posted, message) in [
        ("bob@example.com", "Email already exists."),
        ("not-an-address", "Invalid email address."),
        ("", "Please specify email."),
    ] {
        let (status, again) = post_page(&b, &server, &page, &[("email", posted)]).await;
        assert_eq!(status, 200, "{posted}: {again}");
        assert!(again.contains("id=\"input-error-email\""), "{again}");
        assert!(again.contains(message), "{posted}: {again}");
        let amy = user(&server, &token, "amy").await;
        assert_eq!(amy["email"], "amy@example.com");
        assert_eq!(amy["requiredActions"], json!(["UPDATE_EMAIL"]));
    }

    let (status, location) =
        post_page(&b, &server, &page, &[("email", "amy.new@example.com")]).await;
    assert_eq!(status, 302, "{location}");
    let q = query_of(&location);
    let claims = id_token_claims(&server, &q["code"]).await;
    assert_eq!(claims["email"], "amy.new@example.com");
    assert_eq!(claims["email_verified"], json!(false));
    let amy = user(&server, &token, "amy").await;
    assert_eq!(amy["email"], "amy.new@example.com");
    assert_eq!(amy["emailVerified"], json!(false));
    assert_eq!(amy["requiredActions"], json!([]));
    let e = &events(&server, &token, "UPDATE_EMAIL", 1).await[0];
    assert_eq!(e["userId"], amy["id"]);
    assert_eq!(e["clientId"], "spa");
    assert_eq!(e["details"]["previous_email"], "amy@example.com");
    assert_eq!(e["details"]["updated_email"], "amy.new@example.com");
}

#[tokio::test]
async fn kc_action_update_email_answers_success() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm(false)]).await;
    let token = admin_token(&server).await;
    let b = browser();
    let url = auth_url(&server, "&kc_action=UPDATE_EMAIL");
    let (status, page, _) = login(&b, &server, &url, "bob", "bob-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"kc-update-email-form\""), "{page}");
    assert!(
        page.contains("name=\"cancel-aia\""),
        "cancel for an AIA: {page}"
    );
    let (status, location) =
        post_page(&b, &server, &page, &[("email", "bob.new@example.com")]).await;
    assert_eq!(status, 302, "{location}");
    let q = query_of(&location);
    assert_eq!(q["kc_action_status"], "success");
    assert_eq!(q["kc_action"], "UPDATE_EMAIL");
    assert!(q.contains_key("code"));
    assert_eq!(
        user(&server, &token, "bob").await["email"],
        "bob.new@example.com"
    );
}

#[tokio::test]
async fn update_email_with_verification_mails_a_single_use_link_to_the_new_address() {
    let Some(sink) = SmtpSink::start(None) else {
        return;
    };
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm(true);
    r["smtpServer"] = sink.settings("noreply@ue.example");
    let server = start_with(&data, &[r]).await;
    let token = admin_token(&server).await;
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "amy", "amy-pw").await;
    assert_eq!(status, 200, "{page}");
    let (status, sent) = post_page(&b, &server, &page, &[("email", "amy.new@example.com")]).await;
    assert_eq!(status, 200, "{sent}");
    assert!(sent.contains("Confirmation email sent"), "{sent}");
    assert!(
        sent.contains("A confirmation email has been sent to amy.new@example.com. You must follow the instructions of the former to complete the email update."),
        "{sent}"
    );
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail["rcpt_tos"], json!(["amy.new@example.com"]), "{mail}");
    assert_eq!(mail["headers"]["Subject"], "Verify new email");
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .starts_with("To update your Update Email account with email address amy.new@example.com, click the link below"));
    let link = action_link(&mail);
    let t = payload(link.split("key=").nth(1).unwrap());
    assert_eq!(t["typ"], "update-email");
    assert_eq!(t["oldEmail"], "amy@example.com");
    assert_eq!(t["newEmail"], "amy.new@example.com");
    // Nothing changed yet.
    let amy = user(&server, &token, "amy").await;
    assert_eq!(amy["email"], "amy@example.com");
    assert_eq!(amy["emailVerified"], json!(true));
    let e = &events(&server, &token, "SEND_VERIFY_EMAIL", 1).await[0];
    assert_eq!(e["details"]["email"], "amy.new@example.com");

    // The link changes and verifies the address.
    let other = browser();
    let path = &link[link.find("/realms/").unwrap()..];
    let (_, confirm) = get_page(&other, &server.url(path)).await;
    let key = form_field(&confirm, "key").unwrap();
    let (status, done) = post_key(&server, &confirm, &key).await;
    assert_eq!(status, 200, "{done}");
    assert!(
        done.contains("The account email has been successfully updated to amy.new@example.com."),
        "{done}"
    );
    let amy = user(&server, &token, "amy").await;
    assert_eq!(amy["email"], "amy.new@example.com");
    assert_eq!(amy["emailVerified"], json!(true));
    assert_eq!(amy["requiredActions"], json!([]));
    assert!(amy["attributes"].get("kc.email.pending").is_none(), "{amy}");
    let e = &events(&server, &token, "UPDATE_EMAIL", 1).await[0];
    assert_eq!(e["details"]["previous_email"], "amy@example.com");
    assert_eq!(e["details"]["updated_email"], "amy.new@example.com");

    // Used twice: refused, nothing changes.
    let (status, again) = post_key(&server, &confirm, &key).await;
    assert_eq!(status, 400, "{again}");
    assert!(
        again.contains("The link you clicked is an old stale link and is no longer valid."),
        "{again}"
    );
    assert_eq!(
        user(&server, &token, "amy").await["email"],
        "amy.new@example.com"
    );

    // A link whose old address is no longer the user's: refused.
    let url = auth_url(&server, "&kc_action=UPDATE_EMAIL");
    let b = browser();
    let (status, page, _) = login(&b, &server, &url, "bob", "bob-pw").await;
    assert_eq!(status, 200, "{page}");
    let (status, _) = post_page(&b, &server, &page, &[("email", "bob.new@example.com")]).await;
    assert_eq!(status, 200);
    let link = action_link(&sink.wait_for(2).await[1]);
    let mut bob = user(&server, &token, "bob").await;
    bob["email"] = json!("bob.admin@example.com");
    let id = bob["id"].as_str().unwrap().to_string();
    let (status, body, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/ue/users/{id}"),
        Some(&token),
        Some(bob),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let other = browser();
    let path = &link[link.find("/realms/").unwrap()..];
    let (status, stale) = get_page(&other, &server.url(path)).await;
    assert_eq!(status, 400, "{stale}");
    assert!(stale.contains("old stale link"), "{stale}");
    assert_eq!(
        user(&server, &token, "bob").await["email"],
        "bob.admin@example.com"
    );
}

#[tokio::test]
async fn email_is_read_only_in_update_profile_and_the_account_api_while_update_email_is_on() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut off = realm_named("ue-off", false);
    off["requiredActions"][2]["enabled"] = json!(false);
    let server = start_with(&data, &[realm(false), off]).await;
    let token = admin_token(&server).await;
    for (realm, read_only) in [("ue", true), ("ue-off", false)] {
        // UPDATE_PROFILE: no e-mail field; a posted e-mail is ignored.
        let b = browser();
        let url = auth_url(&server, "").replace("/realms/ue/", &format!("/realms/{realm}/"));
        let (status, page, _) = login(&b, &server, &url, "cat", "cat-pw").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("kc-update-profile-form"), "{page}");
        assert_eq!(
            page.contains("name=\"email\""),
            !read_only,
            "{realm}: {page}"
        );
        let (status, location) = post_page(
            &b,
            &server,
            &page,
            &[
                ("email", "cat.new@example.com"),
                ("firstName", "Cat"),
                ("lastName", "C"),
            ],
        )
        .await;
        assert_eq!(status, 302, "{location}");
        let (_, users, _) = call(
            &server,
            "GET",
            &format!("/admin/realms/{realm}/users?username=cat&exact=true"),
            Some(&token),
            None,
        )
        .await;
        let expected = if read_only {
            "cat@example.com"
        } else {
            "cat.new@example.com"
        };
        assert_eq!(users[0]["email"], expected, "{realm}");
        // The account API's metadata.
        let at = {
            let (status, body) =
                password_grant(&server, realm, "cli", None, "bob", "bob-pw", &[]).await;
            assert_eq!(status, 200, "{body}");
            body["access_token"].as_str().unwrap().to_string()
        };
        let r = client()
            .get(server.url(&format!("/realms/{realm}/account")))
            .header("accept", "application/json")
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let account: Value = r.json().await.unwrap();
        let email = account["userProfileMetadata"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "email")
            .unwrap()
            .clone();
        assert_eq!(email["readOnly"], json!(read_only), "{realm}");
    }
}

#[tokio::test]
async fn without_the_feature_update_email_is_not_offered() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut bare = realm_named("bare", false);
    bare["requiredActions"].as_array_mut().unwrap().pop();
    write_realms(&data, &[realm(false), bare]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &["--import-realm", "--features-disabled", "update-email"],
        &[],
    )
    .unwrap();
    let token = admin_token(&server).await;
    // A user's UPDATE_EMAIL waits: the login completes without it.
    let b = browser();
    let (status, location, q) = login(&b, &server, &auth_url(&server, ""), "amy", "amy-pw").await;
    assert_eq!(status, 302, "{location}");
    assert!(q.contains_key("code"), "{location}");
    assert_eq!(
        user(&server, &token, "amy").await["requiredActions"],
        json!(["UPDATE_EMAIL"])
    );
    // kc_action=UPDATE_EMAIL: error.
    let r = b
        .get(auth_url(&server, "&kc_action=UPDATE_EMAIL"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(q["kc_action_status"], "error");
    assert_eq!(q["kc_action"], "UPDATE_EMAIL");
    // Not offered for registration, and refused.
    let (status, list, _) = call(
        &server,
        "GET",
        "/admin/realms/bare/authentication/unregistered-required-actions",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["providerId"] == "UPDATE_EMAIL"),
        "{list}"
    );
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/realms/bare/authentication/register-required-action",
        Some(&token),
        Some(json!({"providerId": "UPDATE_EMAIL", "name": "Update Email"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "Required Action Provider with given providerId not found"
    );
}

#[tokio::test]
async fn with_the_feature_update_email_can_be_registered() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut bare = realm_named("bare", false);
    bare["requiredActions"].as_array_mut().unwrap().pop();
    let server = start_with(&data, &[bare]).await;
    let token = admin_token(&server).await;
    let (status, list, _) = call(
        &server,
        "GET",
        "/admin/realms/bare/authentication/unregistered-required-actions",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert!(
        list.as_array()
            .unwrap()
            .contains(&json!({"name": "Update Email", "providerId": "UPDATE_EMAIL"})),
        "{list}"
    );
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/realms/bare/authentication/register-required-action",
        Some(&token),
        Some(json!({"providerId": "UPDATE_EMAIL", "name": "Update Email"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
}
