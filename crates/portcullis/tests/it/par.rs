//! Pushed authorization requests (RFC 9126) as Keycloak's `ParEndpoint` serves them: push,
//! then the authorization endpoint with only `client_id` and `request_uri`; single use, bound
//! to the client, short-lived; `require.pushed.authorization.requests`; Keycloak's errors.

use serde_json::{json, Value};

use crate::support::*;

fn realm() -> Value {
    json!({
        "realm": "fapi",
        "clients": [
            {"clientId": "web", "secret": "web-secret", "redirectUris": ["https://app.example.com/cb"],
             "webOrigins": ["https://app.example.com"]},
            {"clientId": "strict", "secret": "strict-secret", "redirectUris": ["https://strict.example.com/cb"],
             "attributes": {"require.pushed.authorization.requests": "true", "pkce.code.challenge.method": "S256"}},
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "users": [{"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true,
                   "credentials": [{"type": "password", "value": "alice-pw"}]}]
    })
}

fn ep(s: &TestServer, p: &str) -> String {
    s.url(&format!("/realms/fapi/protocol/openid-connect/{p}"))
}

async fn push(
    s: &TestServer,
    auth: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    post_form(&ep(s, "ext/par/request"), auth, form).await
}

fn auth_url(s: &TestServer, client: &str, request_uri: &str) -> String {
    format!(
        "{}?client_id={client}&request_uri={}",
        ep(s, "auth"),
        url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    )
}

#[tokio::test]
async fn a_pushed_request_logs_in_once_for_its_client_only() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with_clock(&data, &[realm()]).await;
    let (_, doc) = get_json(&s.url("/realms/fapi/.well-known/openid-configuration")).await;
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        ep(&s, "ext/par/request")
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);

    let (verifier, challenge) = pkce();
    let form = [
        ("response_type", "code"),
        ("redirect_uri", "https://app.example.com/cb"),
        ("scope", "openid"),
        ("state", "pushed-state"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (status, body, _) = push(&s, Some(("web", "web-secret")), &form).await;
    assert_eq!(status, 201, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{body}"
    );
    assert_eq!(body["expires_in"], 60);

    // Another client cannot use it, and that attempt does not spend it for... nobody: a
    // request_uri is single use whoever presents it, so push a second one for that check.
    let (_, other, _) = push(&s, Some(("web", "web-secret")), &form).await;
    let other_uri = other["request_uri"].as_str().unwrap();
    let b = browser();
    let (status, page) = get_page(&b, &auth_url(&s, "spa", other_uri)).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Invalid Request"), "{page}");

    // The pushed parameters drive the login: redirect URI, state, PKCE.
    let (status, location, q) = login(
        &b,
        &s,
        &auth_url(&s, "web", &request_uri),
        "alice",
        "alice-pw",
    )
    .await;
    assert_eq!(status, 302, "{location}");
    assert!(
        location.starts_with("https://app.example.com/cb?"),
        "{location}"
    );
    assert_eq!(q["state"], "pushed-state");
    let (status, tokens, _) = post_form(
        &ep(&s, "token"),
        Some(("web", "web-secret")),
        &[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", "https://app.example.com/cb"),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        payload(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-1"
    );

    // Used once: a second visit is refused with an error page, never a redirect.
    let (status, page) = get_page(&browser(), &auth_url(&s, "web", &request_uri)).await;
    assert_eq!(status, 400, "{page}");
    // Unknown and foreign request URIs too.
    for bad in [
        "urn:ietf:params:oauth:request_uri:5c2e8f0e-4b0a-4a8e-9a3e-2f7f1b1d2c3a",
        "urn:ietf:params:oauth:request_uri:not-a-uuid",
        "https://attacker.example/request.jwt",
    ] {
        let (status, _) = get_page(&browser(), &auth_url(&s, "web", bad)).await;
        assert_eq!(status, 400, "{bad}");
    }

    // Expired after the realm's lifespan.
    let (_, body, _) = push(&s, Some(("web", "web-secret")), &form).await;
    let late = body["request_uri"].as_str().unwrap().to_string();
    advance_clock(&s, 61).await;
    let (status, _) = get_page(&browser(), &auth_url(&s, "web", &late)).await;
    assert_eq!(status, 400);
    data.cleanup().await;
}

#[tokio::test]
async fn bad_pushed_requests_get_keycloaks_errors() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[realm()]).await;
    let good = [
        ("response_type", "code"),
        ("redirect_uri", "https://app.example.com/cb"),
        ("scope", "openid"),
    ];
    let with =
        |extra: &[(&'static str, &'static str)], drop: &str| -> Vec<(&'static str, &'static str)> {
            good.iter()
                .filter(|(k, _)| *k != drop)
                .copied()
                .chain(extra.iter().copied())
                .collect()
        };
    type Case<'a> = (
        Option<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        u16,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            Some(("web", "wrong")),
            with(&[], ""),
            401,
            "invalid_request",
            "Authentication failed.",
        ),
        (
            None,
            with(&[("client_id", "web")], ""),
            401,
            "invalid_request",
            "Authentication failed.",
        ),
        (
            Some(("web", "web-secret")),
            with(
                &[("request_uri", "urn:ietf:params:oauth:request_uri:x")],
                "",
            ),
            400,
            "invalid_request",
            "It is not allowed to include request_uri to PAR.",
        ),
        (
            Some(("web", "web-secret")),
            with(
                &[("redirect_uri", "https://evil.example/cb")],
                "redirect_uri",
            ),
            400,
            "invalid_request",
            "Invalid parameter: redirect_uri",
        ),
        (
            Some(("web", "web-secret")),
            with(&[], "response_type"),
            400,
            "invalid_request",
            "Missing parameter: response_type",
        ),
        (
            Some(("web", "web-secret")),
            with(&[("response_type", "code bogus")], "response_type"),
            400,
            "invalid_request",
            "Unsupported response type",
        ),
        (
            Some(("web", "web-secret")),
            with(&[("scope", "openid not_registered_scope")], "scope"),
            400,
            "invalid_request",
            "Invalid scopes: openid not_registered_scope",
        ),
        (
            Some(("strict", "strict-secret")),
            vec![
                ("response_type", "code"),
                ("redirect_uri", "https://strict.example.com/cb"),
                ("scope", "openid"),
            ],
            400,
            "invalid_request",
            "Missing parameter: code_challenge_method",
        ),
    ];
    for (auth, form, status, error, description) in cases {
        let (got, body, _) = push(&s, auth, &form).await;
        assert_eq!(got, status, "{form:?}: {body}");
        assert_eq!(body["error"], error, "{form:?}: {body}");
        assert_eq!(body["error_description"], description, "{form:?}: {body}");
    }

    // A client that must push: its plain authorization request is answered at its redirect
    // URI with Keycloak's error.
    let (_, challenge) = pkce();
    let plain = format!(
        "{}?client_id=strict&response_type=code&scope=openid&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        ep(&s, "auth"),
        url::form_urlencoded::byte_serialize(b"https://strict.example.com/cb").collect::<String>()
    );
    let r = browser().get(&plain).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let q = query_of(&location);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(
        q["error_description"],
        "Pushed Authorization Request is only allowed."
    );
    // Pushed, it goes on to the login page.
    let (status, body, _) = push(
        &s,
        Some(("strict", "strict-secret")),
        &[
            ("response_type", "code"),
            ("redirect_uri", "https://strict.example.com/cb"),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, page) = get_page(
        &browser(),
        &auth_url(&s, "strict", body["request_uri"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("name=\"password\""), "{page}");

    // CORS: the authenticated client's web origin, none for a failed authentication.
    let r = client()
        .post(ep(&s, "ext/par/request"))
        .basic_auth("web", Some("web-secret"))
        .header("origin", "https://app.example.com")
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = client()
        .post(ep(&s, "ext/par/request"))
        .basic_auth("web", Some("wrong"))
        .header("origin", "https://app.example.com")
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    data.cleanup().await;
}
