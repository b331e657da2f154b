//! `acr` and `amr` through the browser login, as Keycloak's `AcrProtocolMapper` and
//! `AmrProtocolMapper` write them: `acr` `1` after a login that ran the credential steps, `0`
//! after one the SSO cookie alone answered, mapped through the client's `acr.loa.map`; `amr`
//! from the completed executions' `default.reference.value`. `prompt=login` and `max_age`
//! re-run the credential steps despite the cookie; `prompt=none` with `max_age` exceeded
//! answers `login_required`.

use serde_json::{json, Value};

use crate::support::*;

fn realm() -> Value {
    json!({
        "realm": "lv",
        "browserFlow": "amr-browser",
        "directGrantFlow": "grant",
        "authenticationFlows": [{
            "alias": "amr-browser", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
            "authenticationExecutions": [
                {"authenticator": "auth-cookie", "requirement": "ALTERNATIVE", "priority": 10, "authenticatorFlow": false},
                {"authenticator": "auth-username-password-form", "authenticatorConfig": "pwd-ref",
                 "requirement": "ALTERNATIVE", "priority": 20, "authenticatorFlow": false}
            ]
        }, {
            "alias": "grant", "providerId": "basic-flow", "topLevel": true, "builtIn": false,
            "authenticationExecutions": [
                {"authenticator": "direct-grant-validate-username", "requirement": "REQUIRED", "priority": 10, "authenticatorFlow": false},
                {"authenticator": "direct-grant-validate-password", "requirement": "REQUIRED", "priority": 20, "authenticatorFlow": false}
            ]
        }],
        "authenticatorConfig": [
            {"alias": "pwd-ref", "config": {"default.reference.value": "pwd", "default.reference.maxAge": "36000"}}
        ],
        "clients": [
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
             "protocolMappers": [{"name": "amr", "protocol": "openid-connect", "protocolMapper": "oidc-amr-mapper",
                                  "config": {"id.token.claim": "true", "access.token.claim": "true"}}]},
            {"clientId": "mapped", "publicClient": true, "redirectUris": ["http://localhost:3000/*"],
             "attributes": {"acr.loa.map": "{\"silver\":0,\"gold\":1}"}}
        ],
        "users": [
            {"username": "ann", "firstName": "Ann", "lastName": "Tester", "email": "ann@example.com", "enabled": true, "credentials": [{"type": "password", "value": "ann-pw"}]}
        ]
    })
}

fn auth_url(server: &TestServer, client: &str, extra: &str) -> String {
    server.url(&format!(
        "/realms/lv/protocol/openid-connect/auth?client_id={client}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&response_type=code&scope=openid&state=s{extra}"
    ))
}

/// Redeems a code: the token response.
async fn redeem(server: &TestServer, client: &str, code: &str) -> Value {
    let (status, tokens, _) = post_form(
        &server.url("/realms/lv/protocol/openid-connect/token"),
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
    tokens
}

/// The redirect of an authorization request the SSO cookie answers (no page).
async fn sso(b: &reqwest::Client, url: &str) -> std::collections::HashMap<String, String> {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302, "the cookie answers without a page");
    query_of(r.headers()["location"].to_str().unwrap())
}

#[tokio::test]
async fn acr_and_amr_reflect_what_the_login_performed() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with_clock(&data, &[realm()]).await;
    let b = browser();

    // A login with the password form: acr 1, amr from the form's reference value.
    let (status, _, q) = login(&b, &server, &auth_url(&server, "spa", ""), "ann", "ann-pw").await;
    assert_eq!(status, 302);
    let tokens = redeem(&server, "spa", &q["code"]).await;
    let id = payload(tokens["id_token"].as_str().unwrap());
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(id["acr"], "1");
    assert_eq!(access["acr"], "1");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(access["amr"], json!(["pwd"]));
    let first_auth_time = id["auth_time"].as_i64().unwrap();

    // The SSO cookie alone: acr 0; amr is still the session's completed form.
    let q = sso(&b, &auth_url(&server, "spa", "")).await;
    let tokens = redeem(&server, "spa", &q["code"]).await;
    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "0");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["auth_time"].as_i64().unwrap(), first_auth_time);
    // A refreshed token keeps the login's acr.
    let (status, refreshed, _) = post_form(
        &server.url("/realms/lv/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(payload(refreshed["id_token"].as_str().unwrap())["acr"], "0");

    // The client's acr.loa.map names the levels: SSO is "silver", a full login "gold".
    let q = sso(&b, &auth_url(&server, "mapped", "")).await;
    let tokens = redeem(&server, "mapped", &q["code"]).await;
    assert_eq!(
        payload(tokens["id_token"].as_str().unwrap())["acr"],
        "silver"
    );
    assert!(
        payload(tokens["id_token"].as_str().unwrap())
            .get("amr")
            .is_none(),
        "no amr mapper on this client"
    );

    advance_clock(&server, 120).await;
    // max_age exceeded with prompt=none: login_required, no page.
    let r = b
        .get(auth_url(&server, "spa", "&prompt=none&max_age=60"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "login_required");
    // Within max_age the cookie still answers.
    let q = sso(&b, &auth_url(&server, "spa", "&max_age=3600")).await;
    assert!(q.contains_key("code"));

    // max_age exceeded: the credential steps run again, acr 1 and a new auth_time.
    let (status, _, q) = login(
        &b,
        &server,
        &auth_url(&server, "mapped", "&max_age=60"),
        "ann",
        "ann-pw",
    )
    .await;
    assert_eq!(status, 302);
    let tokens = redeem(&server, "mapped", &q["code"]).await;
    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "gold");
    assert!(id["auth_time"].as_i64().unwrap() >= first_auth_time + 120);

    // prompt=login: the form again despite the cookie, acr 1.
    let (status, _, q) = login(
        &b,
        &server,
        &auth_url(&server, "spa", "&prompt=login"),
        "ann",
        "ann-pw",
    )
    .await;
    assert_eq!(status, 302);
    let tokens = redeem(&server, "spa", &q["code"]).await;
    assert_eq!(payload(tokens["id_token"].as_str().unwrap())["acr"], "1");
}

#[tokio::test]
async fn required_actions_run_after_a_login_the_sso_cookie_answered() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let b = browser();
    let (status, _, _) = login(&b, &server, &auth_url(&server, "spa", ""), "ann", "ann-pw").await;
    assert_eq!(status, 302);
    // The administrator asks for a new password while the SSO session lives.
    let admin = admin_token(&server).await;
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/lv/users?username=ann&exact=true",
        Some(&admin),
        None,
    )
    .await;
    let id = users[0]["id"].as_str().unwrap().to_string();
    let (status, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/lv/users/{id}"),
        Some(&admin),
        Some(json!({"requiredActions": ["UPDATE_PASSWORD"]})),
    )
    .await;
    assert_eq!(status, 204);
    // The cookie identifies the user, and the action's page comes before the code.
    let (status, page) = get_page(&b, &auth_url(&server, "spa", "")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Update password"), "{page}");
    let (status, location) = post_page(
        &b,
        &server,
        &page,
        &[
            ("password-new", "ann-pw-2"),
            ("password-confirm", "ann-pw-2"),
        ],
    )
    .await;
    assert_eq!(status, 302, "{location}");
    let q = query_of(&location);
    let tokens = redeem(&server, "spa", &q["code"]).await;
    // Still the SSO session's login: acr 0.
    assert_eq!(payload(tokens["id_token"].as_str().unwrap())["acr"], "0");
    let (_, user, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/lv/users/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(user["requiredActions"], json!([]));
}
