//! The `VERIFY_PROFILE` required action (Keycloak 24+'s `VerifyUserProfile`): a user whose
//! profile fails the realm's user profile (Keycloak's default: e-mail, first and last name
//! required for the user) gets the update-profile form at login, with the failing fields; the
//! password grant answers `Account is not fully set up` until the profile validates; a realm
//! that disables the action logs such users in directly; a newly required attribute triggers it
//! for users who were complete; it cannot be application-initiated.

use serde_json::{json, Value};

use crate::support::*;

fn realm(verify_profile_enabled: bool) -> Value {
    let mut r = json!({
        "realm": "vp",
        "eventsEnabled": true,
        "clients": [
            {"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "users": [
            // No last name: Keycloak's default profile requires it for the user.
            {"username": "nina", "enabled": true, "firstName": "Nina", "email": "nina@example.com",
             "credentials": [{"type": "password", "value": "nina-pw"}]},
            {"username": "olga", "enabled": true, "firstName": "Olga", "lastName": "O",
             "email": "olga@example.com",
             "credentials": [{"type": "password", "value": "olga-pw"}]}
        ]
    });
    if !verify_profile_enabled {
        r["requiredActions"] = json!([
            {"alias": "UPDATE_PROFILE", "name": "Update Profile", "providerId": "UPDATE_PROFILE",
             "enabled": true, "defaultAction": false, "priority": 40, "config": {}},
            {"alias": "VERIFY_PROFILE", "name": "Verify Profile", "providerId": "VERIFY_PROFILE",
             "enabled": false, "defaultAction": false, "priority": 90, "config": {}}
        ]);
    }
    r
}

fn auth_url(server: &TestServer, extra: &str) -> String {
    server.url(&format!(
        "/realms/vp/protocol/openid-connect/auth?client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s1{extra}"
    ))
}

async fn cli_grant(server: &TestServer, user: &str, pw: &str) -> (u16, Value) {
    password_grant(server, "vp", "cli", None, user, pw, &[]).await
}

fn not_set_up() -> Value {
    json!({"error": "invalid_grant", "error_description": "Account is not fully set up"})
}

async fn user(server: &TestServer, token: &str, name: &str) -> Value {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/vp/users?username={name}&exact=true"),
        Some(token),
        None,
    )
    .await;
    users[0].clone()
}

/// Adds the attribute `phone` (editable by the user) to the realm's user profile, with its
/// `required` and `selector`.
async fn add_phone(server: &TestServer, token: &str, required: Value, selector: Option<Value>) {
    let (status, mut config, _) = call(
        server,
        "GET",
        "/admin/realms/vp/users/profile",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{config}");
    let mut phone = json!({
        "name": "phone", "displayName": "Phone", "required": required,
        "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
        "multivalued": false
    });
    if let Some(selector) = selector {
        phone["selector"] = selector;
    }
    config["attributes"].as_array_mut().unwrap().push(phone);
    let (status, body, _) = call(
        server,
        "PUT",
        "/admin/realms/vp/users/profile",
        Some(token),
        Some(config),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Olga posts the profile page with her phone: the login ends with a code and the phone is
/// stored.
async fn olga_gives_her_phone(b: &reqwest::Client, server: &TestServer, token: &str, page: &str) {
    let (status, location) = post_page(
        b,
        server,
        page,
        &[
            ("email", "olga@example.com"),
            ("firstName", "Olga"),
            ("lastName", "O"),
            ("phone", "+1 555 0100"),
        ],
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert!(query_of(&location).contains_key("code"));
    let olga = user(server, token, "olga").await;
    assert_eq!(olga["attributes"]["phone"], json!(["+1 555 0100"]));
}

async fn a_user_without_a_last_name_is_asked_for_it(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[realm(true)]).await;
    let token = admin_token(&server).await;

    // The password grant: not fully set up while the profile fails; the action is this
    // login's, not stored on the user.
    assert_eq!(
        cli_grant(&server, "nina", "nina-pw").await,
        (400, not_set_up())
    );
    let errors = events_at_least(
        &server,
        &token,
        "/admin/realms/vp/events",
        "?type=LOGIN_ERROR",
        1,
    )
    .await;
    assert_eq!(errors[0]["error"], "resolve_required_actions", "{errors:?}");
    assert_eq!(
        errors[0]["details"]["reason"], "Account is not fully set up",
        "{errors:?}"
    );
    assert_eq!(
        user(&server, &token, "nina").await["requiredActions"],
        json!([])
    );

    // The browser: the update-profile form, the last name marked.
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "nina", "nina-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Update Account Information"), "{page}");
    assert!(page.contains("id=\"input-error-lastName\""), "{page}");
    assert!(page.contains("Please specify this field."), "{page}");
    assert!(!page.contains("id=\"input-error-firstName\""), "{page}");
    assert!(!page.contains("id=\"input-error-email\""), "{page}");
    assert!(page.contains("value=\"Nina\""), "the user's values: {page}");
    let shown = events_at_least(
        &server,
        &token,
        "/admin/realms/vp/events",
        "?type=VERIFY_PROFILE",
        1,
    )
    .await;
    assert_eq!(shown[0]["details"]["fields_to_update"], "lastName");
    assert_eq!(shown[0]["clientId"], "spa");
    assert_eq!(
        shown[0]["userId"],
        user(&server, &token, "nina").await["id"]
    );

    // Without the flow cookie: refused, nothing stored.
    let (status, _) = post_page(
        &browser(),
        &server,
        &page,
        &[
            ("email", "nina@example.com"),
            ("firstName", "Nina"),
            ("lastName", "N"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(user(&server, &token, "nina").await["lastName"].is_null());

    // Still empty: the form again with the message.
    let (status, again) = post_page(
        &b,
        &server,
        &page,
        &[
            ("email", "nina@example.com"),
            ("firstName", "Nina"),
            ("lastName", " "),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(again.contains("id=\"input-error-lastName\""), "{again}");

    // The names: the code, and the profile saved as UPDATE_PROFILE saves it.
    let (status, location) = post_page(
        &b,
        &server,
        &again,
        &[
            ("email", "nina@example.com"),
            ("firstName", "Nina"),
            ("lastName", "N"),
        ],
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert!(query_of(&location).contains_key("code"), "{location}");
    let nina = user(&server, &token, "nina").await;
    assert_eq!(nina["lastName"], "N");
    assert_eq!(nina["requiredActions"], json!([]));
    let updated = events_at_least(
        &server,
        &token,
        "/admin/realms/vp/events",
        "?type=UPDATE_PROFILE",
        1,
    )
    .await;
    let details = &updated[0]["details"];
    assert_eq!(details["context"], "UPDATE_PROFILE", "{details}");
    assert_eq!(details["updated_last_name"], "N", "{details}");
    assert!(details.get("previous_last_name").is_none(), "{details}");
    assert!(details.get("updated_first_name").is_none(), "unchanged");

    // And the password grant now answers tokens.
    let (status, body) = cli_grant(&server, "nina", "nina-pw").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    data.cleanup().await;
}

#[tokio::test]
async fn a_user_without_a_last_name_is_asked_for_it_sqlite() {
    a_user_without_a_last_name_is_asked_for_it(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_user_without_a_last_name_is_asked_for_it_postgres() {
    a_user_without_a_last_name_is_asked_for_it(Backend::Postgres).await;
}

#[tokio::test]
async fn a_realm_that_disables_the_action_logs_the_user_in() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm(false)]).await;
    let b = browser();
    let (status, location, q) = login(&b, &server, &auth_url(&server, ""), "nina", "nina-pw").await;
    assert_eq!(status, 302, "{location}");
    assert!(q.contains_key("code"), "{location}");
    let (status, body) = cli_grant(&server, "nina", "nina-pw").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_newly_required_attribute_asks_users_who_were_complete() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm(true)]).await;
    let token = admin_token(&server).await;
    assert_eq!(cli_grant(&server, "olga", "olga-pw").await.0, 200);

    // The realm's profile gains `phone`, required for the user, editable by the user.
    add_phone(&server, &token, json!({"roles": ["user"]}), None).await;

    assert_eq!(
        cli_grant(&server, "olga", "olga-pw").await,
        (400, not_set_up())
    );
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth_url(&server, ""), "olga", "olga-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"input-error-phone\""), "{page}");
    assert!(!page.contains("id=\"input-error-lastName\""), "{page}");
    let shown = events_at_least(
        &server,
        &token,
        "/admin/realms/vp/events",
        "?type=VERIFY_PROFILE",
        1,
    )
    .await;
    assert_eq!(shown[0]["details"]["fields_to_update"], "phone");
    olga_gives_her_phone(&b, &server, &token, &page).await;
    assert_eq!(cli_grant(&server, "olga", "olga-pw").await.0, 200);
}

/// An attribute required by a client scope (`required.scopes`, with the same `selector`)
/// counts only in a login that asks for the scope: the browser login and the password grant
/// without it go through; with `scope=phone` the profile asks for it.
#[tokio::test]
async fn an_attribute_required_by_a_scope_is_asked_only_when_the_scope_is() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm(true)]).await;
    let token = admin_token(&server).await;
    add_phone(
        &server,
        &token,
        json!({"roles": ["user"], "scopes": ["phone"]}),
        Some(json!({"scopes": ["phone"]})),
    )
    .await;

    assert_eq!(cli_grant(&server, "olga", "olga-pw").await.0, 200);
    let with_phone = [("scope", "openid phone")];
    assert_eq!(
        password_grant(&server, "vp", "cli", None, "olga", "olga-pw", &with_phone).await,
        (400, not_set_up())
    );
    // Without the scope the browser login ends with a code, and the form never shows `phone`.
    let (status, location, params) = login(
        &browser(),
        &server,
        &auth_url(&server, ""),
        "olga",
        "olga-pw",
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert!(params.contains_key("code"));
    // With it, the profile asks for the phone.
    let b = browser();
    let url = server.url(
        "/realms/vp/protocol/openid-connect/auth?client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid+phone&state=s2",
    );
    let (status, page, _) = login(&b, &server, &url, "olga", "olga-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"input-error-phone\""), "{page}");
    olga_gives_her_phone(&b, &server, &token, &page).await;
    assert_eq!(
        password_grant(&server, "vp", "cli", None, "olga", "olga-pw", &with_phone)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_stored_verify_profile_goes_once_the_profile_validates() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm(true);
    r["users"][1]["requiredActions"] = json!(["VERIFY_PROFILE"]);
    let server = start_with(&data, &[r]).await;
    let token = admin_token(&server).await;
    // `evaluateTriggers`: a valid profile takes the action off the user, tokens follow.
    let (status, body) = cli_grant(&server, "olga", "olga-pw").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        user(&server, &token, "olga").await["requiredActions"],
        json!([])
    );
}

#[tokio::test]
async fn it_cannot_be_application_initiated() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm(true)]).await;
    let b = browser();
    let (status, location, q) = login(
        &b,
        &server,
        &auth_url(&server, "&kc_action=VERIFY_PROFILE"),
        "olga",
        "olga-pw",
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert!(q.contains_key("code"), "{location}");
    assert_eq!(q["kc_action_status"], "error", "{location}");
    assert_eq!(q["kc_action"], "VERIFY_PROFILE");

    // A user who has it due anyway gets the page; the client still hears `error`.
    let b = browser();
    let (status, page, _) = login(
        &b,
        &server,
        &auth_url(&server, "&kc_action=VERIFY_PROFILE"),
        "nina",
        "nina-pw",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"input-error-lastName\""), "{page}");
    let (status, location) = post_page(
        &b,
        &server,
        &page,
        &[
            ("email", "nina@example.com"),
            ("firstName", "Nina"),
            ("lastName", "N"),
        ],
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert_eq!(query_of(&location)["kc_action_status"], "error");
}
