//! The browser flow: authorization endpoint, login page, SSO session, code + PKCE, with a
//! cookie-keeping HTTP client that reads and posts the HTML form as a browser would.

use serde_json::{json, Value};

use crate::support::*;

fn realm() -> Value {
    json!({
        "realm": "web",
        "displayName": "Web <Realm>",
        "clients": [
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"], "attributes": {"pkce.code.challenge.method": "S256"}},
            {"clientId": "app", "secret": "app-secret", "redirectUris": ["https://app.example.com/cb"]},
            {"clientId": "other", "publicClient": true, "redirectUris": ["http://localhost:4000/cb"]}
        ],
        "users": [{"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}], "realmRoles": ["default-roles-web"]}]
    })
}

#[tokio::test]
async fn code_flow_with_pkce_sso_and_replay_protection() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let ep = |p: &str| server.url(&format!("/realms/web/protocol/openid-connect/{p}"));
    let b = browser();
    let (verifier, challenge) = pkce();
    let auth = format!(
        "{}?client_id=spa&response_type=code&scope=openid&state=st-1&nonce=n-1&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        ep("auth"),
        url::form_urlencoded::byte_serialize(b"http://localhost:3000/callback").collect::<String>()
    );

    // The login page: realm display name escaped, labelled fields, no script.
    let html = b.get(&auth).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Web &lt;Realm&gt;"));
    assert!(html.contains("<label for=\"username\">Username or email</label>"));
    assert!(!html.contains("<script"));

    // A wrong password: generic error, no redirect.
    let (status, body, _) = login(&b, &server, &auth, "alice", "nope").await;
    assert_eq!(status, 200);
    assert!(body.contains("Invalid username or password."));
    let (status, body, _) = login(&b, &server, &auth, "nobody", "nope").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Invalid username or password."),
        "same text for an unknown user"
    );

    let (status, location, q) = login(&b, &server, &auth, "alice@example.com", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    assert!(location.starts_with("http://localhost:3000/callback?"));
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], format!("{}/realms/web", server.base));
    let code = q["code"].clone();

    // Wrong verifier, then the right one; the code is single use.
    let redirect = "http://localhost:3000/callback";
    let (s, err, _) = post_form(
        &ep("token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &pkce().0),
        ],
    )
    .await;
    assert_eq!(
        (s, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "{err}"
    );
    // The failed attempt consumed the code (single use); the SSO session gives a new one.
    let (verifier2, challenge2) = pkce();
    let auth2 = auth.replace(&challenge, &challenge2);
    // SSO: the second authorization request needs no login page.
    let r = b.get(&auth2).send().await.unwrap();
    assert_eq!(r.status(), 302, "SSO session reused");
    let q = query_of(r.headers()["location"].to_str().unwrap());
    let code = q["code"].clone();
    let (s, tokens, _) = post_form(
        &ep("token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier2),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    let id = tokens["id_token"].as_str().unwrap();
    let claims = payload(id);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["aud"], "spa");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    // Replay: fails, and detaches the client from the session the code was issued in.
    let (s, err, _) = post_form(
        &ep("token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier2),
        ],
    )
    .await;
    assert_eq!((s, err["error"].as_str()), (400, Some("invalid_grant")));
    let r = client()
        .get(ep("userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "tokens from a replayed code stop working");
    let _ = verifier;

    // A second client of the realm logs in without a prompt while a session exists.
    let b2 = browser();
    let auth_other = format!(
        "{}?client_id=other&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A4000%2Fcb",
        ep("auth")
    );
    let (status, _, q) = login(&b2, &server, &auth_other, "alice", "alice-pw").await;
    assert_eq!(status, 302);
    assert!(q.contains_key("code"));
    let r = b2.get(format!("{}?client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&prompt=none", ep("auth"))).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    let (s, tokens, _) = post_form(
        &ep("token"),
        Some(("app", "app-secret")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "https://app.example.com/cb"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
}

#[tokio::test]
async fn a_code_is_exchanged_once_among_concurrent_requests_sqlite() {
    a_code_is_exchanged_once_among_concurrent_requests(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_code_is_exchanged_once_among_concurrent_requests_postgres() {
    a_code_is_exchanged_once_among_concurrent_requests(Backend::Postgres).await;
}

/// Of concurrent exchanges of one code, at one node or at two sharing PostgreSQL, exactly one
/// gets tokens; the others are replays (`invalid_grant`), which detach the client from the
/// session as a replay does, so the winner's refresh token is refused afterwards.
async fn a_code_is_exchanged_once_among_concurrent_requests(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    write_realms(&data, &[realm()]);
    let one = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    let two = match backend {
        Backend::Postgres => {
            Some(TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap())
        }
        Backend::Sqlite => None,
    };
    let token_urls: Vec<String> = std::iter::once(&one)
        .chain(two.as_ref())
        .map(|n| n.url("/realms/web/protocol/openid-connect/token"))
        .collect();
    let auth = format!(
        "{}?client_id=app&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
        one.url("/realms/web/protocol/openid-connect/auth")
    );
    let (status, location, q) = login(&browser(), &one, &auth, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    let code = q["code"].clone();
    let exchanges: Vec<_> = (0..12)
        .map(|i| {
            let (url, code) = (token_urls[i % token_urls.len()].clone(), code.clone());
            tokio::spawn(async move {
                let form = [
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", "https://app.example.com/cb"),
                ];
                post_form(&url, Some(("app", "app-secret")), &form).await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for exchange in exchanges {
        let (s, body, _) = exchange.await.unwrap();
        if s == 200 {
            tokens.push(body);
            continue;
        }
        assert_eq!(
            (
                s,
                body["error"].as_str(),
                body["error_description"].as_str()
            ),
            (400, Some("invalid_grant"), Some("Code not valid")),
            "{body}"
        );
    }
    assert_eq!(tokens.len(), 1, "exchanges that got tokens");
    let refresh = tokens[0]["refresh_token"].as_str().unwrap();
    let (s, body, _) = post_form(
        &token_urls[0],
        Some(("app", "app-secret")),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    drop((one, two));
    data.cleanup().await;
}

#[tokio::test]
async fn bad_authorization_requests_never_redirect_to_unregistered_uris() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let ep = |p: &str| server.url(&format!("/realms/web/protocol/openid-connect/{p}"));
    let b = browser();
    for (query, expect) in [
        ("client_id=ghost&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb", "Client not found"),
        ("client_id=spa&response_type=code&redirect_uri=https%3A%2F%2Fevil.example.com%2F", "Invalid parameter: redirect_uri"),
        ("client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1", "Invalid parameter: redirect_uri"),
        ("client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%3A444%2Fcb", "Invalid parameter: redirect_uri"),
        ("client_id=spa&client_id=app&response_type=code", "duplicated parameter"),
    ] {
        let r = b.get(format!("{}?{query}", ep("auth"))).send().await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert!(r.headers().get("location").is_none());
        assert!(r.text().await.unwrap().contains(expect), "{query}");
    }
    // Errors after the redirect URI is known go back to it.
    let redirect_error = |query: &'static str| {
        let b = b.clone();
        let url = format!("{}?{query}", ep("auth"));
        async move {
            let r = b.get(url).send().await.unwrap();
            assert_eq!(r.status(), 302, "{query}");
            query_of(r.headers()["location"].to_str().unwrap())
        }
    };
    let q = redirect_error(
        "client_id=spa&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&state=s",
    )
    .await;
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("invalid_request", "s"),
        "PKCE required by the client"
    );
    let q = redirect_error("client_id=spa&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain").await;
    assert_eq!(
        q["error"], "invalid_request",
        "PKCE method downgrade refused"
    );
    let q = redirect_error(
        "client_id=app&response_type=tokens&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
    )
    .await;
    assert_eq!(q["error"], "unsupported_response_type");
    let q = redirect_error("client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&prompt=none").await;
    assert_eq!(q["error"], "login_required");
    // An unknown scope is refused here for the code flow too (`checkValidScope`).
    let q = redirect_error("client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid%20ghost&state=s").await;
    assert_eq!(
        (
            q["error"].as_str(),
            q["error_description"].as_str(),
            q["state"].as_str()
        ),
        ("invalid_scope", "Invalid scopes: openid ghost", "s")
    );

    // A code is bound to its redirect_uri and client; a form without its cookie is refused.
    let (_, _, q) = super_login_app(&b, &server).await;
    let (s, err, _) = post_form(
        &ep("token"),
        Some(("app", "app-secret")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "https://app.example.com/other"),
        ],
    )
    .await;
    assert_eq!((s, err["error"].as_str()), (400, Some("invalid_grant")));
    let html = browser()
        .get(format!(
            "{}?client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
            ep("auth")
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = browser()
        .post(server.url(&form_action(&html)))
        .form(&[
            (
                "session_code",
                form_field(&html, "session_code").unwrap().as_str(),
            ),
            ("username", "alice"),
            ("password", "alice-pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "cross-site form post without the login cookie"
    );
}

async fn super_login_app(
    b: &reqwest::Client,
    server: &TestServer,
) -> (u16, String, std::collections::HashMap<String, String>) {
    let auth = server.url("/realms/web/protocol/openid-connect/auth?client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&prompt=login");
    login(b, server, &auth, "alice", "alice-pw").await
}

#[tokio::test]
async fn rp_initiated_logout_with_hint_and_with_confirmation() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let ep = |p: &str| server.url(&format!("/realms/web/protocol/openid-connect/{p}"));
    let b = browser();
    let (verifier, challenge) = pkce();
    let auth = format!("{}?client_id=spa&response_type=code&scope=openid&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&code_challenge={challenge}&code_challenge_method=S256", ep("auth"));
    let (_, _, q) = login(&b, &server, &auth, "alice", "alice-pw").await;
    let (_, tokens, _) = post_form(
        &ep("token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &q["code"]),
            ("redirect_uri", "http://localhost:3000/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // An unregistered post-logout redirect: error page, no redirect, session intact.
    let r = b.get(format!("{}?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example.com%2F", ep("logout"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let r = b
        .get(format!("{}?id_token_hint=garbage", ep("logout")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // With the hint: the session ends and the browser goes back with `state`.
    let r = b.get(format!("{}?id_token_hint={id_token}&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fbye&state=s9", ep("logout"))).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "http://localhost:3000/bye?state=s9"
    );
    let (s, err, _) = post_form(
        &ep("token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(
        (s, err["error_description"].as_str()),
        (400, Some("Session not active"))
    );
    assert_eq!(
        b.get(&auth).send().await.unwrap().status(),
        200,
        "no SSO any more: the login page again"
    );

    // Without a hint: a confirmation page first, bound to the browser.
    let b = browser();
    let (_, _, _) = login(&b, &server, &auth, "alice", "alice-pw").await;
    let html = b
        .get(ep("logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Do you want to log out?"));
    let action = server.url(&form_action(&html));
    let code = form_field(&html, "session_code").unwrap();
    let r = browser()
        .post(&action)
        .form(&[("session_code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "another browser cannot confirm");
    let r = b
        .post(&action)
        .form(&[("session_code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are logged out"));
    assert_eq!(
        b.get(&auth).send().await.unwrap().status(),
        200,
        "session ended"
    );
}

#[tokio::test]
async fn temporary_password_is_replaced_on_the_update_password_page_under_the_policy() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm();
    r["passwordPolicy"] = json!("length(10) and digits(1) and notUsername");
    r["users"].as_array_mut().unwrap().push(json!({"username": "carol", "firstName": "Carol", "lastName": "Tester", "email": "carol@example.com", "enabled": true, "credentials": [{"type": "password", "value": "temp-pw", "temporary": true}]}));
    let server = start_with(&data, &[r]).await;
    let auth = server.url("/realms/web/protocol/openid-connect/auth?client_id=other&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A4000%2Fcb&state=z");
    let b = browser();
    let (status, html, _) = login(&b, &server, &auth, "carol", "temp-pw").await;
    assert_eq!(status, 200);
    assert!(html.contains("Update password"), "{html}");
    let action = server.url(&form_action(&html));
    let code = form_field(&html, "session_code").unwrap();
    let post = |new: &'static str, confirm: &'static str| {
        let (b, action, code) = (b.clone(), action.clone(), code.clone());
        async move {
            b.post(action)
                .form(&[
                    ("session_code", code.as_str()),
                    ("password-new", new),
                    ("password-confirm", confirm),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = post("Abcdefgh123", "Abcdefgh124").await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Passwords don&#39;t match."));
    let r = post("short1", "short1").await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Invalid password: minimum length 10."));
    let r = post("longerpassword", "longerpassword").await;
    assert!(r.text().await.unwrap().contains("numerical digits"));
    let r = post("longerpassword1", "longerpassword1").await;
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert!(q.contains_key("code") && q["state"] == "z");
    // The new password works, the temporary one does not, and the action is gone.
    let b2 = browser();
    let (status, _, _) = login(&b2, &server, &auth, "carol", "temp-pw").await;
    assert_eq!(status, 200);
    let (status, _, q) = login(&b2, &server, &auth, "carol", "longerpassword1").await;
    assert_eq!(status, 302);
    assert!(q.contains_key("code"));
    drop(server);
    let exported = data.export("web");
    let carol = exported["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "carol")
        .unwrap();
    assert_eq!(carol["requiredActions"], json!([]));
    assert_eq!(carol["credentials"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn offline_access_in_the_code_flow_survives_logout() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let ep = |p: &str| server.url(&format!("/realms/web/protocol/openid-connect/{p}"));
    let b = browser();
    let (verifier, challenge) = pkce();
    let auth = format!("{}?client_id=spa&response_type=code&scope=openid%20offline_access&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb&code_challenge={challenge}&code_challenge_method=S256", ep("auth"));
    let (_, _, q) = login(&b, &server, &auth, "alice", "alice-pw").await;
    let (s, tokens, _) = post_form(
        &ep("token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &q["code"]),
            ("redirect_uri", "http://localhost:3000/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    let offline = tokens["refresh_token"].as_str().unwrap().to_string();
    let claims = payload(&offline);
    assert_eq!(claims["typ"], "Offline");
    assert!(claims.get("exp").is_none());
    assert_eq!(tokens["refresh_expires_in"], 0);
    // Browser logout ends the SSO session; the offline session lives on.
    let id_token = tokens["id_token"].as_str().unwrap();
    let r = b
        .get(format!("{}?id_token_hint={id_token}", ep("logout")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, body, _) = post_form(
        &ep("token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", &offline),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn remember_me_makes_the_sso_cookie_persistent() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm();
    r["rememberMe"] = json!(true);
    r["ssoSessionMaxLifespanRememberMe"] = json!(777);
    let server = start_with(&data, &[r]).await;
    let auth = server.url("/realms/web/protocol/openid-connect/auth?client_id=other&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A4000%2Fcb");
    for (remember, expect_max_age) in [(true, true), (false, false)] {
        let b = browser();
        let html = b.get(&auth).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("name=\"rememberMe\""));
        let mut form = vec![
            ("session_code", form_field(&html, "session_code").unwrap()),
            ("username", "alice".into()),
            ("password", "alice-pw".into()),
        ];
        if remember {
            form.push(("rememberMe", "on".into()));
        }
        let r = b
            .post(server.url(&form_action(&html)))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let identity = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("KEYCLOAK_IDENTITY="))
            .unwrap();
        assert_eq!(
            identity.contains("Max-Age=777"),
            expect_max_age,
            "{identity}"
        );
        // 127.0.0.1 is a secure context: Secure; SameSite=None, as Keycloak's cookies.
        assert!(
            identity.contains("HttpOnly") && identity.contains("Secure; SameSite=None"),
            "{identity}"
        );
    }
    // The Admin API shows which of alice's two sessions was "remember me".
    let admin = admin_token(&server).await;
    let get = |path: String| {
        let (url, admin) = (server.url(&path), admin.clone());
        async move {
            client()
                .get(url)
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let users = get("/admin/realms/web/users?username=alice&exact=true".into()).await;
    let id = users[0]["id"].as_str().unwrap().to_string();
    let sessions = get(format!("/admin/realms/web/users/{id}/sessions")).await;
    let mut remembered: Vec<bool> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rememberMe"].as_bool().unwrap())
        .collect();
    remembered.sort();
    assert_eq!(remembered, [false, true], "{sessions}");
}

#[tokio::test]
async fn consent_is_asked_once_recorded_and_can_be_denied() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut r = realm();
    r["clients"].as_array_mut().unwrap().push(json!({"clientId": "third", "name": "Third <Party>", "publicClient": true, "consentRequired": true, "redirectUris": ["http://localhost:5000/cb"]}));
    let server = start_with(&data, &[r]).await;
    let auth = server.url("/realms/web/protocol/openid-connect/auth?client_id=third&response_type=code&scope=openid&redirect_uri=http%3A%2F%2Flocalhost%3A5000%2Fcb&state=c1");
    let b = browser();
    let (status, html, _) = login(&b, &server, &auth, "alice", "alice-pw").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Do you grant these access privileges?")
            && html.contains("Third &lt;Party&gt;"),
        "{html}"
    );
    assert!(html.contains("<li>"), "the scopes are listed");
    let action = server.url(&form_action(&html));
    let code = form_field(&html, "session_code").unwrap();
    // "No": access_denied back at the client.
    let r = b
        .post(&action)
        .form(&[("session_code", code.as_str()), ("accept", "no")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "c1")
    );
    // Again (SSO session exists): consent page, "Yes" gives a code.
    let html = b.get(&auth).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Do you grant"));
    let r = b
        .post(server.url(&form_action(&html)))
        .form(&[
            (
                "session_code",
                form_field(&html, "session_code").unwrap().as_str(),
            ),
            ("accept", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(query_of(r.headers()["location"].to_str().unwrap()).contains_key("code"));
    // Granted once: no page the next time; prompt=consent asks again.
    let r = b.get(&auth).send().await.unwrap();
    assert_eq!(r.status(), 302, "consent remembered");
    let r = b
        .get(format!("{auth}&prompt=consent"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(server);
    let exported = data.export("web");
    let alice = exported["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap();
    assert_eq!(alice["clientConsents"][0]["clientId"], "third");
    assert!(!alice["clientConsents"][0]["grantedClientScopes"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// Keycloak's login form posts to an absolute `login-actions/authenticate?session_code=...`
/// URL, so a client that scrapes the action and posts only the credentials (python-keycloak's
/// PKCE test does) logs in; the redirect carries `state`, `session_state`, `iss` and then
/// `code`, in Keycloak's order (`OIDCLoginProtocol.authenticated`).
#[tokio::test]
async fn the_login_form_action_carries_the_session_code_and_the_answer_keycloaks_order() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let b = browser();
    let (_, challenge) = pkce();
    let auth = server.url(&format!(
        "/realms/web/protocol/openid-connect/auth?client_id=spa&response_type=code&scope=openid&state=st-9&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(b"http://localhost:3000/callback").collect::<String>()
    ));
    let (status, html) = get_page(&b, &auth).await;
    assert_eq!(status, 200);
    let start = html.find("<form id=\"kc-form-login\" action=\"").unwrap() + 33;
    let action = &html[start..start + html[start..].find('"').unwrap()];
    let code = form_field(&html, "session_code").unwrap();
    assert_eq!(
        action,
        format!(
            "{}/realms/web/login-actions/authenticate?session_code={code}",
            server.base
        )
    );
    assert!(
        html[start..].contains("\" method=\"post\""),
        "action before method"
    );
    // Only the credentials, posted to the action as found.
    let r = b
        .post(action)
        .form(&[("username", "alice"), ("password", "alice-pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let query = location.split_once('?').unwrap().1;
    let keys: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(
        keys,
        ["state", "session_state", "iss", "code"],
        "{location}"
    );
    // Without the cookie that binds the flow to this browser, the code in the URL is useless.
    let (status, html) = get_page(&b, &auth).await;
    assert_eq!(status, 302, "{html}");
    let stranger = browser();
    let (_, html) = get_page(&stranger, &auth.replace("st-9", "st-10")).await;
    let start = html.find("action=\"").unwrap() + 8;
    let action = html[start..start + html[start..].find('"').unwrap()].to_string();
    let r = browser()
        .post(&action)
        .form(&[("username", "alice"), ("password", "alice-pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    data.cleanup().await;
}
