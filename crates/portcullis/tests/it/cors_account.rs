//! What keycloak-js needs from the server, over HTTP: CORS on the token, userinfo, logout and
//! account endpoints (Keycloak's `DefaultCors`: exact origin, credentials, preflight), the
//! session-status iframe and its `/init` check, the third-party cookie pages, the
//! `KEYCLOAK_SESSION` cookie the iframe reads, and `GET /realms/{realm}/account`.

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::support::*;

const SPA: &str = "http://localhost:3000";
const ROOT: &str = "https://root.example";
const EVIL: &str = "https://evil.example";

fn js_realm() -> Value {
    json!({
        "realm": "js",
        "roles": {"realm": [{"name": "reader"}]},
        "clients": [
            {"clientId": "spa", "publicClient": true, "directAccessGrantsEnabled": true, "rootUrl": ROOT,
             "redirectUris": [format!("{SPA}/*"), "/relative/*"], "webOrigins": ["+"]},
            {"clientId": "explicit", "publicClient": true, "directAccessGrantsEnabled": true,
             "redirectUris": ["https://elsewhere.example/*"], "webOrigins": ["https://app.example"]},
            {"clientId": "wild", "publicClient": true, "directAccessGrantsEnabled": true, "webOrigins": ["*"]},
            {"clientId": "conf", "secret": "conf-secret", "directAccessGrantsEnabled": true,
             "webOrigins": ["https://conf.example"]},
            {"clientId": "narrow", "publicClient": true, "directAccessGrantsEnabled": true,
             "fullScopeAllowed": false, "webOrigins": [SPA]},
            {"clientId": "svc", "secret": "svc-secret", "serviceAccountsEnabled": true,
             "standardFlowEnabled": false, "webOrigins": [SPA]},
            {"clientId": "off", "publicClient": true, "enabled": false, "webOrigins": ["https://off.example"]}
        ],
        "users": [
            {"username": "alice", "email": "alice@example.com", "firstName": "Alice", "lastName": "Liddell",
             "enabled": true, "emailVerified": true, "attributes": {"locale": ["en"], "shoe": ["42"]},
             "credentials": [{"type": "password", "value": "alice-pw"}], "realmRoles": ["default-roles-js"]},
            {"username": "carol", "firstName": "Carol", "lastName": "Tester", "email": "carol@example.com", "enabled": true, "credentials": [{"type": "password", "value": "carol-pw"}],
             "clientRoles": {"account": ["manage-account-links"]}}
        ]
    })
}

/// A realm whose `account` client is disabled: no account API.
fn no_account_realm() -> Value {
    json!({
        "realm": "noacct",
        "clients": [
            {"clientId": "account", "enabled": false, "publicClient": true},
            {"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true}
        ],
        "users": [{"username": "dave", "firstName": "Dave", "lastName": "Tester", "email": "dave@example.com", "enabled": true, "credentials": [{"type": "password", "value": "dave-pw"}],
                   "realmRoles": ["default-roles-noacct"]}]
    })
}

async fn js() -> (Data, TestServer) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[js_realm(), no_account_realm()]).await;
    (data, server)
}

fn ep(server: &TestServer, p: &str) -> String {
    server.url(&format!("/realms/js/protocol/openid-connect/{p}"))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

/// A request with an optional `Origin`: status, JSON body (or the text) and headers.
async fn send(req: reqwest::RequestBuilder, origin: Option<&str>) -> (u16, Value, HeaderMap) {
    let req = match origin {
        Some(o) => req.header("origin", o),
        None => req,
    };
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

async fn password(
    server: &TestServer,
    client_id: &str,
    user: &str,
    pw: &str,
    origin: Option<&str>,
) -> (u16, Value, HeaderMap) {
    let form = [
        ("grant_type", "password"),
        ("client_id", client_id),
        ("username", user),
        ("password", pw),
        ("scope", "openid"),
    ];
    send(client().post(ep(server, "token")).form(&form), origin).await
}

fn assert_cors(h: &HeaderMap, origin: &str) {
    assert_eq!(
        header(h, "access-control-allow-origin"),
        Some(origin),
        "{h:?}"
    );
    assert_eq!(header(h, "access-control-allow-credentials"), Some("true"));
}

fn assert_no_cors(h: &HeaderMap) {
    assert!(
        h.keys().all(|k| !k.as_str().starts_with("access-control-")),
        "{h:?}"
    );
}

#[tokio::test]
async fn token_endpoint_cors_follows_the_clients_web_origins() {
    let (_d, server) = js().await;
    let token = ep(&server, "token");

    // Preflight: any origin, POST, credentials, Authorization among the headers, an hour.
    let (status, _, h) = send(
        client()
            .request(reqwest::Method::OPTIONS, &token)
            .header("access-control-request-method", "POST"),
        Some(EVIL),
    )
    .await;
    assert_eq!(status, 200);
    assert_cors(&h, EVIL);
    assert_eq!(
        header(&h, "access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        header(&h, "access-control-allow-headers"),
        Some("Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, Access-Control-Request-Headers, DPoP, Authorization")
    );
    assert_eq!(header(&h, "access-control-max-age"), Some("3600"));
    let (_, _, h) = send(client().request(reqwest::Method::OPTIONS, &token), None).await;
    assert_no_cors(&h);

    // "+": the origins of the redirect URIs, relative ones resolved against rootUrl.
    for origin in [SPA, ROOT] {
        let (status, body, h) = password(&server, "spa", "alice", "alice-pw", Some(origin)).await;
        assert_eq!(status, 200, "{body}");
        assert_cors(&h, origin);
        assert_eq!(
            header(&h, "access-control-expose-headers"),
            Some("Access-Control-Allow-Methods")
        );
        assert_eq!(header(&h, "access-control-allow-methods"), None);
        let allowed = payload(body["access_token"].as_str().unwrap())["allowed-origins"].clone();
        assert_eq!(allowed, json!([SPA, ROOT]));
    }
    // Not allowed, or no Origin: answered, without CORS headers.
    for origin in [Some(EVIL), Some("https://app.example"), None] {
        let (status, _, h) = password(&server, "spa", "alice", "alice-pw", origin).await;
        assert_eq!(status, 200);
        assert_no_cors(&h);
    }
    // Explicit origins only (not the redirect URIs'); "*" allows any.
    let (_, _, h) = password(
        &server,
        "explicit",
        "alice",
        "alice-pw",
        Some("https://app.example"),
    )
    .await;
    assert_cors(&h, "https://app.example");
    let (_, _, h) = password(
        &server,
        "explicit",
        "alice",
        "alice-pw",
        Some("https://elsewhere.example"),
    )
    .await;
    assert_no_cors(&h);
    let (_, _, h) = password(&server, "wild", "alice", "alice-pw", Some(EVIL)).await;
    assert_cors(&h, EVIL);

    // Errors once the client is authenticated carry CORS (a wrong password) ...
    let (status, body, h) = password(&server, "spa", "alice", "wrong", Some(SPA)).await;
    assert_eq!(body["error"], "invalid_grant", "{status} {body}");
    assert_cors(&h, SPA);
    // ... but not before: failed client authentication, unknown client, no grant_type.
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "alice-pw"),
    ];
    let (status, _, h) = send(
        client()
            .post(&token)
            .basic_auth("conf", Some("conf-secret"))
            .form(&form),
        Some("https://conf.example"),
    )
    .await;
    assert_eq!(status, 200);
    assert_cors(&h, "https://conf.example");
    let (status, _, h) = send(
        client()
            .post(&token)
            .basic_auth("conf", Some("nope"))
            .form(&form),
        Some("https://conf.example"),
    )
    .await;
    assert_eq!(status, 401);
    assert_no_cors(&h);
    let (status, _, h) = password(&server, "ghost", "alice", "alice-pw", Some(SPA)).await;
    assert!(status >= 400);
    assert_no_cors(&h);
    let (status, _, h) = send(
        client().post(&token).form(&[("client_id", "spa")]),
        Some(SPA),
    )
    .await;
    assert_eq!(status, 400);
    assert_no_cors(&h);
}

#[tokio::test]
async fn userinfo_and_logout_cors() {
    let (_d, server) = js().await;
    let (_, tokens, _) = password(&server, "spa", "alice", "alice-pw", None).await;
    let at = tokens["access_token"].as_str().unwrap();
    let userinfo = ep(&server, "userinfo");

    let (status, _, h) = send(
        client().request(reqwest::Method::OPTIONS, &userinfo),
        Some(EVIL),
    )
    .await;
    assert_eq!(status, 200);
    assert_cors(&h, EVIL);
    assert_eq!(
        header(&h, "access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );

    let (status, body, h) = send(client().get(&userinfo).bearer_auth(at), Some(SPA)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["preferred_username"], "alice");
    assert_cors(&h, SPA);
    let (status, _, h) = send(client().get(&userinfo).bearer_auth(at), Some(EVIL)).await;
    assert_eq!(status, 200);
    assert_no_cors(&h);
    // A form-posted token is read too.
    let (status, _, h) = send(
        client().post(&userinfo).form(&[("access_token", at)]),
        Some(ROOT),
    )
    .await;
    assert_eq!(status, 200);
    assert_cors(&h, ROOT);
    // Before a client is known (no token): any origin, as Keycloak's allowAllOrigins().
    let (status, _, h) = send(client().get(&userinfo), Some(EVIL)).await;
    assert!(status >= 400);
    assert_cors(&h, EVIL);

    // Logout with a refresh token: the client's origins; a browser logout: none.
    let logout = ep(&server, "logout");
    let (status, _, h) = send(
        client().request(reqwest::Method::OPTIONS, &logout),
        Some(SPA),
    )
    .await;
    assert_eq!(status, 200);
    assert_cors(&h, SPA);
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, _, h) = send(
        client()
            .post(&logout)
            .form(&[("client_id", "spa"), ("refresh_token", rt)]),
        Some(SPA),
    )
    .await;
    assert_eq!(status, 204);
    assert_cors(&h, SPA);
    let (status, _, _) = send(client().get(&userinfo).bearer_auth(at), None).await;
    assert_eq!(status, 401, "the session ended");
    let (_, _, h) = send(client().get(&logout), Some(SPA)).await;
    assert_no_cors(&h);
}

fn has_account_audience(claims: &Value) -> bool {
    match &claims["aud"] {
        Value::String(a) => a == "account",
        Value::Array(a) => a.contains(&json!("account")),
        _ => false,
    }
}

#[tokio::test]
async fn account_api_answers_the_profile_with_keycloaks_authorization_and_cors() {
    let (_d, server) = js().await;
    let account = server.url("/realms/js/account");
    let (_, tokens, _) = password(&server, "spa", "alice", "alice-pw", None).await;
    let at = tokens["access_token"].as_str().unwrap().to_string();
    let claims = payload(&at);
    assert!(has_account_audience(&claims), "{claims}");
    let get = |url: String, token: Option<String>| {
        let mut r = client().get(url).header("accept", "application/json");
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    };

    let (status, body, h) = send(get(account.clone(), Some(at.clone())), Some(SPA)).await;
    assert_eq!(status, 200, "{body}");
    assert_cors(&h, SPA);
    assert_eq!(body["id"], claims["sub"]);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["firstName"], "Alice");
    assert_eq!(body["lastName"], "Liddell");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["emailVerified"], true);
    // locale stays in attributes; unmanaged attributes are not shown.
    assert_eq!(body["attributes"], json!({"locale": ["en"]}));
    let names: Vec<&str> = body["userProfileMetadata"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["username", "email", "firstName", "lastName"]);
    assert_eq!(
        body["userProfileMetadata"]["attributes"][0]["readOnly"],
        true
    );
    // The origin must be in the token's allowed-origins.
    let (status, _, h) = send(get(account.clone(), Some(at.clone())), Some(EVIL)).await;
    assert_eq!(status, 200);
    assert_no_cors(&h);
    // Versioned path; an unknown version is 404.
    let (status, _, _) = send(get(format!("{account}/v1"), Some(at.clone())), None).await;
    assert_eq!(status, 200);
    let (status, body, _) = send(get(format!("{account}/v9"), Some(at.clone())), None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "API version not found");
    // Preflight anywhere under the account API.
    let (status, _, h) = send(
        client().request(reqwest::Method::OPTIONS, format!("{account}/v1/anything")),
        Some(EVIL),
    )
    .await;
    assert_eq!(status, 200);
    assert_cors(&h, EVIL);
    assert_eq!(
        header(&h, "access-control-allow-methods"),
        Some("GET, POST, DELETE, PUT, HEAD, OPTIONS")
    );

    // No token, a bad token: 401 with Keycloak's JAX-RS body, no CORS.
    for token in [None, Some(format!("{at}x"))] {
        let (status, body, h) = send(get(account.clone(), token), Some(SPA)).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "HTTP 401 Unauthorized");
        assert_eq!(
            header(&h, "www-authenticate"),
            Some("Bearer token required")
        );
        assert_no_cors(&h);
    }
    // No account role in scope: no `account` audience.
    let (_, narrow, _) = password(&server, "narrow", "alice", "alice-pw", None).await;
    let (status, _, h) = send(
        get(
            account.clone(),
            narrow["access_token"].as_str().map(str::to_string),
        ),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        header(&h, "www-authenticate"),
        Some("Invalid audience for client account")
    );
    // An account role, but neither manage-account nor view-profile: 403.
    let (_, carol, _) = password(&server, "spa", "carol", "carol-pw", None).await;
    let carol_at = carol["access_token"].as_str().unwrap().to_string();
    assert!(has_account_audience(&payload(&carol_at)));
    let (status, body, _) = send(get(account.clone(), Some(carol_at)), None).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "HTTP 403 Forbidden");
    // A service account's token is refused.
    let (_, svc, _) = send(
        client()
            .post(ep(&server, "token"))
            .basic_auth("svc", Some("svc-secret"))
            .form(&[("grant_type", "client_credentials")]),
        None,
    )
    .await;
    let (status, _, _) = send(
        get(
            account.clone(),
            svc["access_token"].as_str().map(str::to_string),
        ),
        None,
    )
    .await;
    assert_eq!(status, 401);
    // Without a JSON Accept, the (absent) account console: 404.
    let (status, _, _) = send(client().get(&account).bearer_auth(&at), None).await;
    assert_eq!(status, 404);
    // The realm's account client is disabled: no account API at all.
    let dave = admin_cli_token(&server, "noacct", "dave", "dave-pw").await;
    let (status, body, _) = send(get(server.url("/realms/noacct/account"), Some(dave)), None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "account management not enabled");
}

#[tokio::test]
async fn iframe_pages_and_the_init_check() {
    let (_d, server) = js().await;
    let page = ep(&server, "login-status-iframe.html");
    let r = client().get(&page).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
    assert_eq!(header(&h, "cache-control"), Some("no-cache"));
    assert!(h.get("x-frame-options").is_none());
    assert!(h.get("content-security-policy").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("KEYCLOAK_SESSION") && html.contains("/init"));
    let r = client()
        .get(format!("{page}?version={}", env!("CARGO_PKG_VERSION")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "cache-control"),
        Some("max-age=2592000")
    );
    let r = client()
        .get(format!("{page}?version=other"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for step in ["step1.html", "step2.html"] {
        let r = client()
            .get(ep(&server, &format!("3p-cookies/{step}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("x-frame-options").is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains("KEYCLOAK_3P_COOKIE") && html.contains("postMessage"));
    }
    let r = client()
        .get(server.url("/realms/nope/protocol/openid-connect/3p-cookies/step1.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (_, disco) = get_json(&server.url("/realms/js/.well-known/openid-configuration")).await;
    assert_eq!(disco["check_session_iframe"], json!(page));

    let init = |client_id: &str, origin: &str| {
        let url = format!(
            "{page}/init?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", client_id)
                .append_pair("origin", origin)
                .finish()
        );
        async move { client().get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(init("spa", SPA).await, 204);
    assert_eq!(init("spa", ROOT).await, 204);
    assert_eq!(
        init("spa", &server.base).await,
        204,
        "the server's own origin"
    );
    assert_eq!(init("spa", EVIL).await, 403);
    assert_eq!(init("explicit", "https://app.example").await, 204);
    assert_eq!(init("explicit", SPA).await, 403);
    assert_eq!(init("wild", EVIL).await, 204);
    assert_eq!(
        init("off", "https://off.example").await,
        403,
        "disabled client"
    );
    assert_eq!(init("ghost", SPA).await, 403);
    let r = client().get(format!("{page}/init")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn discovery_and_jwks_are_readable_from_any_origin() {
    let (_d, server) = js().await;
    for url in [
        server.url("/realms/js/.well-known/openid-configuration"),
        ep(&server, "certs"),
    ] {
        let (status, body, h) = send(client().get(&url), Some(EVIL)).await;
        assert_eq!(status, 200, "{body}");
        assert_cors(&h, EVIL);
        assert_eq!(header(&h, "access-control-expose-headers"), None);
        let (_, _, h) = send(client().get(&url), None).await;
        assert_no_cors(&h);
        let (status, _, h) =
            send(client().request(reqwest::Method::OPTIONS, &url), Some(SPA)).await;
        assert_eq!(status, 200);
        assert_cors(&h, SPA);
        assert_eq!(header(&h, "access-control-allow-methods"), Some("GET"));
    }
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn login_sets_the_session_cookie_the_iframe_reads_and_logout_clears_it() {
    let (_d, server) = js().await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let auth = format!(
        "{}?client_id=spa&response_type=code&scope=openid&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        ep(&server, "auth"),
        url::form_urlencoded::byte_serialize(format!("{SPA}/cb").as_bytes()).collect::<String>()
    );
    let (status, html) = get_page(&b, &auth).await;
    assert_eq!(status, 200);
    let code = form_field(&html, "session_code").unwrap();
    let r = b
        .post(server.url(&form_action(&html)))
        .form(&[
            ("session_code", code.as_str()),
            ("username", "alice"),
            ("password", "alice-pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let cookies = set_cookies(r.headers());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let params = query_of(&location);
    let sid = &params["session_state"];
    // On a loopback host (a secure context) the cookies are Secure; SameSite=None, so they
    // reach keycloak-js' third-party iframes.
    let identity = cookies
        .iter()
        .find(|c| c.starts_with("KEYCLOAK_IDENTITY="))
        .unwrap();
    assert!(
        identity.contains("HttpOnly") && identity.contains("Secure; SameSite=None"),
        "{identity}"
    );
    let session = cookies
        .iter()
        .find(|c| c.starts_with("KEYCLOAK_SESSION="))
        .unwrap();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sid.as_bytes());
    assert!(
        session.starts_with(&format!("KEYCLOAK_SESSION={};", b64url(d.as_ref()))),
        "{session}"
    );
    assert!(!session.contains("HttpOnly"));
    assert!(session.contains("Path=/realms/js/") && session.contains("Secure; SameSite=None"));

    let (status, tokens, _) = post_form(
        &ep(&server, "token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &params["code"]),
            ("redirect_uri", &format!("{SPA}/cb")),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        payload(tokens["access_token"].as_str().unwrap())["sid"],
        json!(sid)
    );

    let logout = format!(
        "{}?client_id=spa&id_token_hint={}&post_logout_redirect_uri={}",
        ep(&server, "logout"),
        tokens["id_token"].as_str().unwrap(),
        url::form_urlencoded::byte_serialize(format!("{SPA}/bye").as_bytes()).collect::<String>()
    );
    let r = b.get(&logout).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let cleared = set_cookies(r.headers());
    for name in ["KEYCLOAK_IDENTITY=;", "KEYCLOAK_SESSION=;"] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(name) && c.contains("Max-Age=0")),
            "{cleared:?}"
        );
    }
}
