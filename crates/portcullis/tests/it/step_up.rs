//! Step-up authentication and re-authentication, as Keycloak runs them: a browser flow with
//! `conditional-level-of-authentication` sub-flows (level 1: password, level 2: OTP) asked
//! through `acr_values`, the `claims` parameter's essential `acr`, and the client's
//! `default.acr.values` / `minimum.acr.value`, mapped by the `acr.loa.map`; levels the session
//! already has (within their `loa-max-age`) are not asked again; an essential level the flow
//! cannot reach fails with `acrNotFulfilled`. `prompt=login`, `max_age` and step-up keep the
//! same session (`sid`); another user in a browser holding a session is refused with
//! `differentUserAuthenticated`; `kc_action` asks for a fresh login after `max_auth_age`.

use serde_json::{json, Value};

use crate::support::*;

const ANN_SECRET: &str = "aB3dE5fG7hJ9kL1mN2pQ";

fn exec(authenticator: &str, requirement: &str, priority: i64) -> Value {
    json!({"authenticator": authenticator, "requirement": requirement, "priority": priority, "authenticatorFlow": false})
}

fn condition(config: &str, priority: i64) -> Value {
    json!({"authenticator": "conditional-level-of-authentication", "authenticatorConfig": config,
           "requirement": "REQUIRED", "priority": priority, "authenticatorFlow": false})
}

fn sub_flow(alias: &str, requirement: &str, priority: i64) -> Value {
    json!({"flowAlias": alias, "requirement": requirement, "priority": priority, "authenticatorFlow": true})
}

fn flow(alias: &str, top: bool, execs: Vec<Value>) -> Value {
    json!({"alias": alias, "providerId": "basic-flow", "topLevel": top, "builtIn": false,
           "authenticationExecutions": execs})
}

fn grant() -> Value {
    flow(
        "grant",
        true,
        vec![
            exec("direct-grant-validate-username", "REQUIRED", 10),
            exec("direct-grant-validate-password", "REQUIRED", 20),
        ],
    )
}

/// Keycloak's documented step-up browser flow: the cookie, or the forms with one conditional
/// sub-flow per level (its condition, then its authenticator). A second realm logs in with
/// the form alone (no cookie step).
fn realms() -> Vec<Value> {
    let users = json!([
        {"username": "ann", "enabled": true, "email": "ann@example.com", "firstName": "Ann", "lastName": "A",
         "credentials": [{"type": "password", "value": "ann-pw"}, otp_credential(ANN_SECRET, "Phone")]},
        {"username": "bob", "enabled": true, "email": "bob@example.com", "firstName": "Bob", "lastName": "B",
         "credentials": [{"type": "password", "value": "bob-pw"}]}
    ]);
    let redirect = json!(["http://localhost:3000/*"]);
    let step_up = json!({
        "realm": "su",
        "browserFlow": "step-up",
        "directGrantFlow": "grant",
        "attributes": {"acr.loa.map": "{\"silver\":1,\"gold\":2}"},
        "authenticationFlows": [
            grant(),
            flow("step-up", true, vec![
                exec("auth-cookie", "ALTERNATIVE", 10),
                sub_flow("forms", "ALTERNATIVE", 20),
            ]),
            flow("forms", false, vec![
                sub_flow("level1", "CONDITIONAL", 10),
                sub_flow("level2", "CONDITIONAL", 20),
            ]),
            flow("level1", false, vec![
                condition("silver", 10),
                exec("auth-username-password-form", "REQUIRED", 20),
            ]),
            flow("level2", false, vec![
                condition("gold", 10),
                exec("auth-otp-form", "REQUIRED", 20),
            ]),
        ],
        "authenticatorConfig": [
            {"alias": "silver", "config": {"loa-condition-level": "1", "loa-max-age": "36000"}},
            {"alias": "gold", "config": {"loa-condition-level": "2", "loa-max-age": "300"}}
        ],
        "requiredActions": [
            {"alias": "CONFIGURE_TOTP", "name": "Configure OTP", "providerId": "CONFIGURE_TOTP", "enabled": true, "priority": 10},
            {"alias": "UPDATE_PROFILE", "name": "Update Profile", "providerId": "UPDATE_PROFILE", "enabled": true, "priority": 40},
            {"alias": "UPDATE_PASSWORD", "name": "Update Password", "providerId": "UPDATE_PASSWORD", "enabled": true, "priority": 30,
             "config": {"max_auth_age": "1000"}}
        ],
        "clients": [
            {"clientId": "app", "publicClient": true, "redirectUris": redirect},
            {"clientId": "min", "publicClient": true, "redirectUris": redirect,
             "attributes": {"minimum.acr.value": "gold"}},
            {"clientId": "dflt", "publicClient": true, "redirectUris": redirect,
             "attributes": {"default.acr.values": "gold"}}
        ],
        "users": users
    });
    let no_cookie = json!({
        "realm": "nc",
        "browserFlow": "form-only",
        "directGrantFlow": "grant",
        "authenticationFlows": [
            grant(),
            flow("form-only", true, vec![exec("auth-username-password-form", "REQUIRED", 10)])
        ],
        "clients": [{"clientId": "app", "publicClient": true, "redirectUris": redirect}],
        "users": users
    });
    vec![step_up, no_cookie]
}

fn auth_url(server: &TestServer, realm: &str, client: &str, extra: &str) -> String {
    server.url(&format!(
        "/realms/{realm}/protocol/openid-connect/auth?client_id={client}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s{extra}"
    ))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn essential(values: &[&str]) -> String {
    let claims = json!({"id_token": {"acr": {"essential": true, "values": values}}}).to_string();
    format!("&claims={}", enc(&claims))
}

/// The ID token of a redirect's code.
async fn id_token(server: &TestServer, realm: &str, client: &str, location: &str) -> Value {
    let q = query_of(location);
    let code = q
        .get("code")
        .unwrap_or_else(|| panic!("a code: {location}"));
    let (status, tokens, _) = post_form(
        &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", "http://localhost:3000/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    payload(tokens["id_token"].as_str().unwrap())
}

/// An authorization request the SSO session answers at once: its ID token.
async fn sso(b: &reqwest::Client, server: &TestServer, client: &str, extra: &str) -> Value {
    let r = b
        .get(auth_url(server, "su", client, extra))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    id_token(server, "su", client, &location).await
}

fn is_password_page(page: &str) -> bool {
    page.contains("name=\"password\"")
}

fn is_otp_page(page: &str) -> bool {
    page.contains("name=\"otp\"")
}

/// A login through the password page and, when `otp` is given, the OTP page: the ID token.
async fn log_in(
    b: &reqwest::Client,
    server: &TestServer,
    client: &str,
    extra: &str,
    otp: Option<String>,
) -> Value {
    let (status, page) = get_page(b, &auth_url(server, "su", client, extra)).await;
    assert_eq!(status, 200, "{page}");
    assert!(is_password_page(&page), "{page}");
    let (status, next) = post_page(
        b,
        server,
        &page,
        &[("username", "ann"), ("password", "ann-pw")],
    )
    .await;
    let location = match otp {
        Some(code) => {
            assert_eq!(status, 200, "the OTP page: {next}");
            assert!(is_otp_page(&next), "{next}");
            let (status, location) = post_page(b, server, &next, &[("otp", &code)]).await;
            assert_eq!(status, 302, "{location}");
            location
        }
        None => {
            assert_eq!(status, 302, "no OTP asked: {next}");
            next
        }
    };
    id_token(server, "su", client, &location).await
}

#[tokio::test]
async fn step_up_asks_only_for_the_levels_the_session_lacks() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with_clock(&data, &realms()).await;
    let b = browser();

    // silver: the password only.
    let id = log_in(&b, &server, "app", "&acr_values=silver", None).await;
    assert_eq!(id["acr"], "silver");
    let sid = id["sid"].as_str().unwrap().to_string();
    // silver again: the session has it.
    let id = sso(&b, &server, "app", "&acr_values=silver").await;
    assert_eq!(
        (id["acr"].as_str(), id["sid"].as_str()),
        (Some("silver"), Some(sid.as_str()))
    );

    // gold: only the OTP form (level 1 is the session's), in the same session.
    let (status, page) = get_page(&b, &auth_url(&server, "su", "app", "&acr_values=gold")).await;
    assert_eq!(status, 200);
    assert!(is_otp_page(&page) && !is_password_page(&page), "{page}");
    let (status, location) = post_page(&b, &server, &page, &[("otp", &totp(ANN_SECRET, 0))]).await;
    assert_eq!(status, 302, "{location}");
    let id = id_token(&server, "su", "app", &location).await;
    assert_eq!(id["acr"], "gold");
    assert_eq!(id["sid"], sid.as_str(), "step-up keeps the session");

    // gold again, by acr_values or by an essential claim: no page.
    assert_eq!(
        sso(&b, &server, "app", "&acr_values=gold").await["acr"],
        "gold"
    );
    assert_eq!(
        sso(&b, &server, "app", &essential(&["gold"])).await["acr"],
        "gold"
    );
    // Nothing asked: the cookie answers with the session's level.
    assert_eq!(sso(&b, &server, "app", "").await["acr"], "gold");

    // Past gold's loa-max-age (300 s), silver's (36000 s) still holds: OTP again only.
    advance_clock(&server, 400).await;
    let id = sso(&b, &server, "app", "&acr_values=silver").await;
    assert_eq!(id["acr"], "silver");
    let (status, page) = get_page(&b, &auth_url(&server, "su", "app", "&acr_values=gold")).await;
    assert_eq!(status, 200);
    assert!(is_otp_page(&page), "{page}");
    let (status, location) =
        post_page(&b, &server, &page, &[("otp", &totp(ANN_SECRET, 400))]).await;
    assert_eq!(status, 302, "{location}");
    let id = id_token(&server, "su", "app", &location).await;
    assert_eq!(
        (id["acr"].as_str(), id["sid"].as_str()),
        (Some("gold"), Some(sid.as_str()))
    );

    // The client's default.acr.values (gold) and minimum.acr.value (gold) ask for gold when
    // the request asks for nothing (or less). (A code is used once: each login below runs
    // with the clock moved to windows of its own, far from any window used before, so that
    // the wall clock crossing a window's end cannot make two logins share a code.)
    advance_clock(&server, 1000).await;
    let fresh = browser();
    let id = log_in(&fresh, &server, "dflt", "", Some(totp(ANN_SECRET, 1000))).await;
    assert_eq!(id["acr"], "gold");
    advance_clock(&server, 1600).await;
    let fresh = browser();
    let id = log_in(
        &fresh,
        &server,
        "min",
        "&acr_values=silver",
        Some(totp(ANN_SECRET, 1600)),
    )
    .await;
    assert_eq!(id["acr"], "gold");
}

#[tokio::test]
async fn unknown_invalid_and_unreachable_acr_requests() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &realms()).await;

    // An unknown acr value (not essential) counts as level 0: the first level runs.
    let id = log_in(&browser(), &server, "app", "&acr_values=platinum", None).await;
    assert_eq!(id["acr"], "silver");
    // A claims parameter that is not JSON is ignored, as Keycloak's AcrUtils ignores it.
    let id = log_in(&browser(), &server, "app", "&claims=%7Bnot%20json", None).await;
    assert_eq!(id["acr"], "silver");
    // Level 3 (above the flow's highest, 2), not essential: the flow does what it can.
    let id = log_in(
        &browser(),
        &server,
        "app",
        "&acr_values=3",
        Some(totp(ANN_SECRET, 0)),
    )
    .await;
    assert_eq!(id["acr"], "gold");

    // An essential unknown acr: Keycloak's error page, before any step.
    for extra in [essential(&["platinum"]), essential(&["silver"])] {
        let client = if extra.contains("platinum") {
            "app"
        } else {
            "min"
        };
        let r = browser()
            .get(auth_url(&server, "su", client, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{client} {extra}");
        let page = r.text().await.unwrap();
        assert!(page.contains("Invalid parameter: claims"), "{page}");
    }

    // An essential level the flow cannot reach: the steps run, then the login fails.
    let b = browser();
    let (status, page) = get_page(&b, &auth_url(&server, "su", "app", &essential(&["3"]))).await;
    assert_eq!(status, 200);
    let (status, page) = post_page(
        &b,
        &server,
        &page,
        &[("username", "ann"), ("password", "ann-pw")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(is_otp_page(&page), "{page}");
    // (The next window's code: the one of this window was used above.)
    let (status, page) = post_page(&b, &server, &page, &[("otp", &totp(ANN_SECRET, 30))]).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("Authentication requirements not fulfilled"),
        "{page}"
    );
    // No session was started: the next request shows the password page.
    let (_, page) = get_page(&b, &auth_url(&server, "su", "app", "")).await;
    assert!(is_password_page(&page), "{page}");
}

#[tokio::test]
async fn reauthentication_keeps_the_session_and_another_user_is_refused_sqlite() {
    reauthentication_keeps_the_session_and_another_user_is_refused(Backend::Sqlite).await;
}

#[tokio::test]
async fn reauthentication_keeps_the_session_and_another_user_is_refused_postgres() {
    reauthentication_keeps_the_session_and_another_user_is_refused(Backend::Postgres).await;
}

async fn reauthentication_keeps_the_session_and_another_user_is_refused(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with_clock(&data, &realms()).await;
    let b = browser();
    let id = log_in(&b, &server, "app", "", None).await;
    let sid = id["sid"].as_str().unwrap().to_string();
    let first = id["auth_time"].as_i64().unwrap();

    // prompt=login: the form again, same session.
    let id = log_in(&b, &server, "app", "&prompt=login", None).await;
    assert_eq!(id["sid"], sid.as_str());
    // max_age passed: the form again, same session, a new auth_time.
    advance_clock(&server, 120).await;
    let id = log_in(&b, &server, "app", "&max_age=60", None).await;
    assert_eq!(id["sid"], sid.as_str());
    assert!(id["auth_time"].as_i64().unwrap() >= first + 120);

    // The session's user is the one re-authenticating: bob's credentials are refused.
    let (_, page) = get_page(&b, &auth_url(&server, "su", "app", "&prompt=login")).await;
    assert!(page.contains("value=\"ann\""), "the session's user: {page}");
    let (status, page) = post_page(
        &b,
        &server,
        &page,
        &[("username", "bob"), ("password", "bob-pw")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Invalid username or password."), "{page}");
    assert_eq!(sso(&b, &server, "app", "").await["sid"], sid.as_str());

    // A flow without the cookie step: ann again keeps her session, bob is refused with
    // Keycloak's differentUserAuthenticated, and ann's session stays.
    let b = browser();
    let url = auth_url(&server, "nc", "app", "");
    let (status, location, _) = login(&b, &server, &url, "ann", "ann-pw").await;
    assert_eq!(status, 302, "{location}");
    let sid = id_token(&server, "nc", "app", &location).await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, location, _) = login(&b, &server, &url, "ann", "ann-pw").await;
    assert_eq!(status, 302, "{location}");
    assert_eq!(
        id_token(&server, "nc", "app", &location).await["sid"],
        sid.as_str()
    );
    let (status, page, _) = login(&b, &server, &url, "bob", "bob-pw").await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("You are already authenticated as different user &#39;ann&#39; in this session. Please sign out first.")
            || page.contains("You are already authenticated as different user 'ann' in this session. Please sign out first."),
        "{page}"
    );
    let (status, location, _) = login(&b, &server, &url, "ann", "ann-pw").await;
    assert_eq!(status, 302, "{location}");
    assert_eq!(
        id_token(&server, "nc", "app", &location).await["sid"],
        sid.as_str()
    );
}

#[tokio::test]
async fn application_initiated_actions_need_a_fresh_login_after_max_auth_age() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with_clock(&data, &realms()).await;
    let b = browser();
    let id = log_in(&b, &server, "app", "", None).await;
    let sid = id["sid"].as_str().unwrap().to_string();
    // Within 300 s: the action's page at once.
    let (status, page) = get_page(
        &b,
        &auth_url(&server, "su", "app", "&kc_action=UPDATE_PROFILE"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Update Account Information"), "{page}");

    // CONFIGURE_TOTP asks for the level of an OTP credential (Keycloak's CredentialAction):
    // ann has one, so her OTP before the setup page (step-up in the session).
    let (status, page) = get_page(
        &b,
        &auth_url(&server, "su", "app", "&kc_action=CONFIGURE_TOTP"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        is_otp_page(&page) && !page.contains("Mobile Authenticator Setup"),
        "{page}"
    );
    let (status, page) = post_page(&b, &server, &page, &[("otp", &totp(ANN_SECRET, 0))]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Mobile Authenticator Setup"), "{page}");
    // bob has no OTP: the level falls back to his password's, which his session has.
    let bob = browser();
    let (status, location, _) = login(
        &bob,
        &server,
        &auth_url(&server, "su", "app", ""),
        "bob",
        "bob-pw",
    )
    .await;
    assert_eq!(status, 302, "{location}");
    let (status, page) = get_page(
        &bob,
        &auth_url(&server, "su", "app", "&kc_action=CONFIGURE_TOTP"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Mobile Authenticator Setup"), "{page}");

    advance_clock(&server, 400).await;
    // UPDATE_PASSWORD's max_auth_age is configured to 1000 s: no login at 400 s.
    let (status, page) = get_page(
        &b,
        &auth_url(&server, "su", "app", "&kc_action=UPDATE_PASSWORD"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("password-new") && !page.contains("name=\"username\""),
        "{page}"
    );
    // UPDATE_PROFILE (Keycloak's default max_auth_age, 300 s): the password first, then the
    // action, in the same session.
    let (status, page) = get_page(
        &b,
        &auth_url(&server, "su", "app", "&kc_action=UPDATE_PROFILE"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(is_password_page(&page), "{page}");
    let (status, page) = post_page(
        &b,
        &server,
        &page,
        &[("username", "ann"), ("password", "ann-pw")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Update Account Information"), "{page}");
    let (status, location) = post_page(
        &b,
        &server,
        &page,
        &[
            ("email", "ann@example.com"),
            ("firstName", "Ann"),
            ("lastName", "Again"),
        ],
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert_eq!(query_of(&location)["kc_action_status"], "success");
    let id = id_token(&server, "su", "app", &location).await;
    assert_eq!(id["sid"], sid.as_str(), "the same session");
}
