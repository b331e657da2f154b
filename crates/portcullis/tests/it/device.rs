//! RFC 8628 device authorization grant over HTTP: the device endpoint, the verification pages
//! driven as a browser would (cookie jar, posting the HTML forms), and polling.

use serde_json::{json, Value};

use crate::support::*;

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn realm() -> Value {
    let dev = |id: &str, extra: Value| {
        let mut attrs = json!({"oauth2.device.authorization.grant.enabled": "true"});
        for (k, v) in extra.as_object().unwrap() {
            attrs[k] = v.clone();
        }
        json!({"clientId": id, "publicClient": true, "standardFlowEnabled": false, "attributes": attrs})
    };
    json!({
        "realm": "dev",
        "clients": [
            dev("tv", json!({"oauth2.device.polling.interval": "0"})),
            dev("tv-slow", json!({"oauth2.device.polling.interval": "600"})),
            dev("short", json!({"oauth2.device.polling.interval": "0", "oauth2.device.code.lifespan": "1"})),
            {"clientId": "box", "secret": "box-secret", "standardFlowEnabled": false,
             "attributes": {"oauth2.device.authorization.grant.enabled": "true", "oauth2.device.polling.interval": "0"}},
            {"clientId": "plain", "publicClient": true}
        ],
        "users": [{"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true,
                   "credentials": [{"type": "password", "value": "alice-pw"}], "realmRoles": ["default-roles-dev"]}]
    })
}

struct Urls {
    auth: String,
    token: String,
}

fn urls(server: &TestServer) -> Urls {
    Urls {
        auth: server.url("/realms/dev/protocol/openid-connect/auth/device"),
        token: server.url("/realms/dev/protocol/openid-connect/token"),
    }
}

async fn authorize(u: &Urls, client: &str, scope: &str) -> Value {
    let (status, body, headers) =
        post_form(&u.auth, None, &[("client_id", client), ("scope", scope)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    body
}

async fn poll(u: &Urls, client: &str, device_code: &str) -> (u16, Value) {
    let (status, body, _) = post_form(
        &u.token,
        None,
        &[
            ("grant_type", DEVICE_CODE),
            ("client_id", client),
            ("device_code", device_code),
        ],
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn device_flow_login_consent_poll_and_single_use_sqlite() {
    device_flow_login_consent_poll_and_single_use(Backend::Sqlite).await;
}

#[tokio::test]
async fn device_flow_login_consent_poll_and_single_use_postgres() {
    device_flow_login_consent_poll_and_single_use(Backend::Postgres).await;
}

async fn device_flow_login_consent_poll_and_single_use(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let u = urls(&server);

    // The device asks for codes (Keycloak's answer shape).
    let d = authorize(&u, "tv", "openid").await;
    let user_code = d["user_code"].as_str().unwrap().to_string();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| c.is_ascii_uppercase()));
    let verification = server.url("/realms/dev/device");
    assert_eq!(d["verification_uri"], verification.as_str());
    assert_eq!(
        d["verification_uri_complete"],
        format!("{verification}?user_code={user_code}")
    );
    assert_eq!(d["expires_in"], 600);
    assert_eq!(d["interval"], 0);
    let device_code = d["device_code"].as_str().unwrap().to_string();

    // Not decided yet.
    let (status, body) = poll(&u, "tv", &device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    // Another client presenting this device code is refused, and changes nothing.
    let (status, body, _) = post_form(
        &u.token,
        Some(("box", "box-secret")),
        &[("grant_type", DEVICE_CODE), ("device_code", &device_code)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The browser: the complete URI pre-fills the code; the user confirms it (lower case,
    // without the dash), signs in, and sees what the device asks for.
    let b = browser();
    let (status, html) = get_page(&b, d["verification_uri_complete"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        form_field(&html, "device_user_code").as_deref(),
        Some(user_code.as_str())
    );
    assert!(html.contains("<label for=\"device-user-code\">"));
    let typed = user_code.replace('-', "").to_lowercase();
    let (status, login) = submit(&b, &server, &html, &[("device_user_code", &typed)]).await;
    assert_eq!(status, 200);
    assert!(login.contains("kc-form-login"), "{login}");
    let (status, consent) = submit(
        &b,
        &server,
        &login,
        &[("username", "alice"), ("password", "alice-pw")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(consent.contains("<strong>tv</strong>"), "{consent}");
    assert!(consent.contains(&user_code));
    assert!(consent.contains("kc-oauth-scopes"));
    let (status, done) = submit(&b, &server, &consent, &[("accept", "yes")]).await;
    assert_eq!(status, 200);
    assert!(done.contains("Device Login Successful"), "{done}");

    // The device gets tokens for alice, once.
    let (status, tokens) = poll(&u, "tv", &device_code).await;
    assert_eq!(status, 200, "{tokens}");
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["preferred_username"], "alice");
    assert_eq!(access["azp"], "tv");
    assert_eq!(access["sid"], tokens["session_state"]);
    assert!(tokens["refresh_token"].is_string());
    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], "tv");
    assert_eq!(id["sub"], access["sub"]);
    let (status, body) = poll(&u, "tv", &device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The refresh token works like any other.
    let (status, _, _) = post_form(
        &u.token,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "tv"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200);

    // The user code is single use.
    let (_, html) = get_page(&b, d["verification_uri_complete"].as_str().unwrap()).await;
    let (status, again) = submit(&b, &server, &html, &[("device_user_code", &user_code)]).await;
    assert_eq!(status, 200);
    assert!(again.contains("Invalid code, please try again."), "{again}");

    // With the SSO session the browser goes straight to consent; denying is final.
    let d2 = authorize(&u, "tv", "").await;
    let code2 = d2["device_code"].as_str().unwrap().to_string();
    let (_, html) = get_page(&b, &verification).await;
    assert_eq!(form_field(&html, "device_user_code").as_deref(), Some(""));
    let (status, consent) = submit(
        &b,
        &server,
        &html,
        &[("device_user_code", d2["user_code"].as_str().unwrap())],
    )
    .await;
    assert_eq!(status, 200);
    assert!(consent.contains("kc-oauth-form"), "{consent}");
    let (_, denied) = submit(&b, &server, &consent, &[("accept", "no")]).await;
    assert!(
        denied.contains("Consent denied for connecting the device."),
        "{denied}"
    );
    let (status, body) = poll(&u, "tv", &code2).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied"))
    );
    // The consent form cannot be replayed (back button).
    let (status, _) = submit(&b, &server, &consent, &[("accept", "yes")]).await;
    assert_eq!(status, 400);
    let (_, body) = poll(&u, "tv", &code2).await;
    assert_eq!(body["error"], "access_denied");
    drop(server);
    data.cleanup().await;
}

#[tokio::test]
async fn device_endpoint_clients_and_spellings() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let u = urls(&server);

    // A client without the attribute: Keycloak's refusal.
    let (status, body, _) = post_form(&u.auth, None, &[("client_id", "plain")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(
        body["error_description"],
        "Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. The flow is disabled for the client."
    );
    // Unknown client; confidential client without and with its secret.
    let (status, body, _) = post_form(&u.auth, None, &[("client_id", "nobody")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _, _) = post_form(&u.auth, None, &[("client_id", "box")]).await;
    assert_eq!(status, 401);
    let (status, body, _) = post_form(&u.auth, Some(("box", "box-secret")), &[]).await;
    assert_eq!(status, 200, "{body}");
    // An unknown scope is refused up front.
    let (status, body, _) =
        post_form(&u.auth, None, &[("client_id", "tv"), ("scope", "nope")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // The seed's spelling of the endpoint.
    let (status, body, _) = post_form(
        &server.url("/realms/dev/protocol/openid-connect/device/auth"),
        None,
        &[("client_id", "tv"), ("scope", "openid")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["device_code"].is_string());
    // Polling by a client without the grant.
    let (status, body) = poll(&u, "plain", body["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        body["error_description"],
        "Client not allowed OAuth 2.0 Device Authorization Grant"
    );
    // An unknown device code.
    let (status, body) = poll(&u, "tv", "not-a-code").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body, _) = post_form(
        &u.token,
        None,
        &[("grant_type", DEVICE_CODE), ("client_id", "tv")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn slow_down_expiry_and_the_attempt_limit_sqlite() {
    slow_down_expiry_and_the_attempt_limit(Backend::Sqlite).await;
}

#[tokio::test]
async fn slow_down_expiry_and_the_attempt_limit_postgres() {
    slow_down_expiry_and_the_attempt_limit(Backend::Postgres).await;
}

async fn slow_down_expiry_and_the_attempt_limit(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with_clock(&data, &[realm()]).await;
    let u = urls(&server);

    // Polled faster than the interval (600 s): slow_down, and it stays so.
    let d = authorize(&u, "tv-slow", "").await;
    assert_eq!(d["interval"], 600);
    let code = d["device_code"].as_str().unwrap();
    let (_, body) = poll(&u, "tv-slow", code).await;
    assert_eq!(body["error"], "authorization_pending");
    for _ in 0..2 {
        let (status, body) = poll(&u, "tv-slow", code).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("slow_down")));
    }

    // A code living one second: expired_token once it is past.
    let d = authorize(&u, "short", "").await;
    assert_eq!(d["expires_in"], 1);
    advance_clock(&server, 2).await;
    let (status, body) = poll(&u, "short", d["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token"))
    );
    let b = browser();
    let (_, html) = get_page(&b, d["verification_uri_complete"].as_str().unwrap()).await;
    let (_, page) = submit(
        &b,
        &server,
        &html,
        &[("device_user_code", d["user_code"].as_str().unwrap())],
    )
    .await;
    assert!(page.contains("Invalid code, please try again."));

    // Five wrong codes end the browser flow; even the right code then needs a new start.
    let d = authorize(&u, "tv", "").await;
    let right = d["user_code"].as_str().unwrap();
    let b = browser();
    let (_, first) = get_page(&b, &server.url("/realms/dev/device")).await;
    let mut html = first.clone();
    for i in 1..=5 {
        let (status, page) = submit(&b, &server, &html, &[("device_user_code", "BBBB-BBBB")]).await;
        if i < 5 {
            assert_eq!(status, 200);
            assert!(page.contains("Invalid code, please try again."));
            assert!(page.contains("aria-invalid=\"true\""));
            html = page;
        } else {
            assert_eq!(status, 400);
            assert!(page.contains("please start again"), "{page}");
        }
    }
    let (status, page) = submit(&b, &server, &first, &[("device_user_code", right)]).await;
    assert_eq!(status, 400);
    assert!(!page.contains("kc-form-login"));
    let (_, fresh) = get_page(&b, &server.url("/realms/dev/device")).await;
    let (status, page) = submit(&b, &server, &fresh, &[("device_user_code", right)]).await;
    assert_eq!(status, 200);
    assert!(page.contains("kc-form-login"), "{page}");

    // A form posted without the browser's flow cookie is refused (CSRF binding).
    let (status, _) = submit(&browser(), &server, &fresh, &[("device_user_code", right)]).await;
    assert_eq!(status, 400);
    drop(server);
    data.cleanup().await;
}
