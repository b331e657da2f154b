//! The implicit and hybrid response types of the authorization endpoint (`id_token`,
//! `token`, `id_token token`, `code id_token`, `code token`, `code id_token token`) and
//! `none`, through the login page as a browser uses them, as Keycloak 26 answers them.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::support::*;

const CB: &str = "http://localhost:5000/cb";
const CB_ENC: &str = "http%3A%2F%2Flocalhost%3A5000%2Fcb";

fn realm() -> Value {
    json!({
        "realm": "imp",
        "accessTokenLifespan": 300,
        "accessTokenLifespanForImplicitFlow": 1200,
        "clients": [
            {"clientId": "js", "publicClient": true, "implicitFlowEnabled": true,
             "redirectUris": ["http://localhost:5000/*"],
             "attributes": {"pkce.code.challenge.method": "S256"},
             // `api` introspects js's tokens: it has to be in their audience.
             "protocolMappers": [{"name": "aud-api", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                                  "config": {"included.client.audience": "api", "access.token.claim": "true"}}]},
            {"clientId": "implicit-only", "publicClient": true, "implicitFlowEnabled": true,
             "standardFlowEnabled": false, "redirectUris": ["http://localhost:5000/*"]},
            {"clientId": "code-only", "publicClient": true, "redirectUris": ["http://localhost:5000/*"]},
            {"clientId": "api", "secret": "api-secret", "standardFlowEnabled": false}
        ],
        "users": [{"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true,
                   "credentials": [{"type": "password", "value": "alice-pw"}],
                   "realmRoles": ["default-roles-imp"]}]
    })
}

fn auth_url(server: &TestServer, query: &str) -> String {
    server.url(&format!(
        "/realms/imp/protocol/openid-connect/auth?redirect_uri={CB_ENC}&{query}"
    ))
}

/// The parameters of a redirect that must carry them in the fragment (and nothing in a query).
fn fragment_of(location: &str) -> HashMap<String, String> {
    let (base, fragment) = location.split_once('#').expect("a fragment");
    assert_eq!(base, CB, "nothing added to the query: {location}");
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}

/// Follows an authorization request of a browser that has an SSO session: the redirect.
async fn sso(b: &reqwest::Client, url: &str) -> String {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302, "{url}");
    r.headers()["location"].to_str().unwrap().to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The hidden fields of a `form_post` page, and its action.
fn form_post_fields(html: &str) -> (String, HashMap<String, String>) {
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(unescape)
        .unwrap();
    let fields = html
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|s| {
            let (name, rest) = s.split_once("\" value=\"").unwrap();
            let value = rest.split('"').next().unwrap();
            (name.to_string(), unescape(value))
        })
        .collect();
    (action, fields)
}

#[tokio::test]
async fn implicit_flow_answers_with_signed_tokens_in_the_fragment() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let ep = |p: &str| server.url(&format!("/realms/imp/protocol/openid-connect/{p}"));
    let issuer = server.url("/realms/imp");

    // Discovery lists Keycloak's response types and the modes served.
    let (_, doc) = get_json(&server.url("/realms/imp/.well-known/openid-configuration")).await;
    assert_eq!(
        doc["response_types_supported"],
        json!([
            "code",
            "none",
            "id_token",
            "token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token"
        ])
    );
    assert_eq!(
        doc["response_modes_supported"],
        json!(["query", "fragment", "form_post"])
    );

    // `id_token token`: no PKCE needed (no code), even for a client that enforces it.
    let b = browser();
    let url = auth_url(
        &server,
        "client_id=js&response_type=id_token%20token&scope=openid&nonce=n-1&state=st%2B1",
    );
    let (status, location, _) = login(&b, &server, &url, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    let f = fragment_of(&location);
    assert_eq!(f["state"], "st+1");
    assert_eq!(f["iss"], issuer);
    assert_eq!(f["token_type"], "Bearer");
    assert_eq!(
        f["expires_in"], "1200",
        "the realm's accessTokenLifespanForImplicitFlow"
    );
    for absent in ["code", "refresh_token", "refresh_expires_in", "error"] {
        assert!(!f.contains_key(absent), "{absent} in {location}");
    }
    let access = &f["access_token"];
    let id = verify_with_jwks(&server, "imp", &f["id_token"], Some("js")).await;
    assert_eq!(id["typ"], "ID");
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["azp"], "js");
    assert_eq!(id["sid"], f["session_state"].as_str());
    assert_eq!(id["at_hash"], half_sha256(access));
    assert_eq!(id["s_hash"], half_sha256("st+1"));
    assert!(id.get("c_hash").is_none());
    assert_eq!(
        id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
        1200
    );
    let at = verify_with_jwks(&server, "imp", access, None).await;
    assert_eq!(at["typ"], "Bearer");
    assert_eq!(at["azp"], "js");
    assert_eq!(
        at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
        1200
    );
    assert!(at["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "openid"));
    // The access token works at userinfo and introspection (by `api`, in its audience).
    let r = client()
        .get(ep("userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["sub"], id["sub"]);
    let (_, intro, _) = post_form(
        &ep("token/introspect"),
        Some(("api", "api-secret")),
        &[("token", access)],
    )
    .await;
    assert_eq!(intro["active"], true, "{intro}");

    // `id_token` alone (SSO session, no login page): an ID token without `at_hash`, no access
    // token in the answer.
    let location = sso(
        &b,
        &auth_url(
            &server,
            "client_id=js&response_type=id_token&scope=openid&nonce=n-2",
        ),
    )
    .await;
    let f = fragment_of(&location);
    for absent in ["access_token", "token_type", "expires_in", "code", "state"] {
        assert!(!f.contains_key(absent), "{absent} in {location}");
    }
    let id = verify_with_jwks(&server, "imp", &f["id_token"], Some("js")).await;
    assert_eq!(id["nonce"], "n-2");
    assert!(id.get("at_hash").is_none() && id.get("s_hash").is_none());

    // `token` alone (plain OAuth2, no `openid`): no nonce needed, no ID token.
    let location = sso(&b, &auth_url(&server, "client_id=js&response_type=token")).await;
    let f = fragment_of(&location);
    assert!(!f.contains_key("id_token"));
    let at = verify_with_jwks(&server, "imp", &f["access_token"], None).await;
    assert!(!at["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "openid"));

    // A client with only the implicit flow enabled logs in with it.
    let b2 = browser();
    let url = auth_url(
        &server,
        "client_id=implicit-only&response_type=id_token%20token&scope=openid&nonce=n-3",
    );
    let (status, location, _) = login(&b2, &server, &url, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    let f = fragment_of(&location);
    let id = verify_with_jwks(&server, "imp", &f["id_token"], Some("implicit-only")).await;
    assert_eq!(id["at_hash"], half_sha256(&f["access_token"]));

    // `none`: logged in, nothing issued; only the session and the state come back.
    let b3 = browser();
    let url = auth_url(
        &server,
        "client_id=code-only&response_type=none&state=s-none",
    );
    let (status, location, q) = login(&b3, &server, &url, "alice", "alice-pw").await;
    assert_eq!(status, 302);
    assert!(location.starts_with(&format!("{CB}?")), "{location}");
    assert_eq!(q["state"], "s-none");
    assert!(q.contains_key("session_state"));
    for absent in ["code", "access_token", "id_token"] {
        assert!(!q.contains_key(absent), "{absent} in {location}");
    }
}

#[tokio::test]
async fn hybrid_flow_code_is_bound_to_the_id_token_and_redeemable_once() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let ep = |p: &str| server.url(&format!("/realms/imp/protocol/openid-connect/{p}"));
    let b = browser();

    // PKCE is still enforced when a code is issued.
    let location = sso(
        &b,
        &auth_url(
            &server,
            "client_id=js&response_type=code%20id_token&scope=openid&nonce=n&state=s",
        ),
    )
    .await;
    let f = fragment_of(&location);
    assert_eq!(
        (
            f["error"].as_str(),
            f["error_description"].as_str(),
            f["state"].as_str()
        ),
        (
            "invalid_request",
            "Missing parameter: code_challenge_method",
            "s"
        )
    );

    let (verifier, challenge) = pkce();
    let url = auth_url(&server, &format!("client_id=js&response_type=code%20id_token%20token&scope=openid&nonce=n-h&state=s-h&code_challenge={challenge}&code_challenge_method=S256"));
    let (status, location, _) = login(&b, &server, &url, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    let f = fragment_of(&location);
    let code = &f["code"];
    assert_eq!(
        f["expires_in"], "300",
        "hybrid: the ordinary access token lifespan"
    );
    assert!(!f.contains_key("refresh_token"));
    let id = verify_with_jwks(&server, "imp", &f["id_token"], Some("js")).await;
    assert_eq!(id["nonce"], "n-h");
    assert_eq!(id["c_hash"], half_sha256(code));
    assert_eq!(id["at_hash"], half_sha256(&f["access_token"]));
    assert_eq!(id["s_hash"], half_sha256("s-h"));

    // The code redeems like a code-flow code: refresh token included, once only.
    let token_ep = ep("token");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "js"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", verifier.as_str()),
    ];
    let redeem = || post_form(&token_ep, None, &form);
    let (s, tokens, _) = redeem().await;
    assert_eq!(s, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    assert_eq!(tokens["expires_in"], 300);
    let id2 = verify_with_jwks(
        &server,
        "imp",
        tokens["id_token"].as_str().unwrap(),
        Some("js"),
    )
    .await;
    assert_eq!(
        (id2["nonce"].as_str(), id2["sid"].as_str()),
        (Some("n-h"), id["sid"].as_str())
    );

    // `code token`: a code and an access token, no ID token.
    let (_, challenge) = pkce();
    let location = sso(&b, &auth_url(&server, &format!("client_id=js&response_type=code%20token&scope=openid&code_challenge={challenge}&code_challenge_method=S256"))).await;
    let f = fragment_of(&location);
    assert!(f.contains_key("code") && f.contains_key("access_token"));
    assert!(!f.contains_key("id_token"));

    // `form_post`: an auto-submitting form to the redirect URI with the same fields.
    let (_, challenge) = pkce();
    let r = b.get(auth_url(&server, &format!("client_id=js&response_type=code%20id_token&response_mode=form_post&scope=openid&nonce=n-f&state=%22%3Cs%3E&code_challenge={challenge}&code_challenge_method=S256"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("document.forms[0].submit()"));
    assert!(!html.contains("\"<s>"), "state is escaped");
    let (action, fields) = form_post_fields(&html);
    assert_eq!(action, CB);
    assert_eq!(fields["state"], "\"<s>");
    let id = verify_with_jwks(&server, "imp", &fields["id_token"], Some("js")).await;
    assert_eq!(id["c_hash"], half_sha256(&fields["code"]));
    assert_eq!(id["nonce"], "n-f");
    assert!(fields.contains_key("session_state") && fields.contains_key("iss"));
    assert!(!fields.contains_key("access_token"));

    // A replayed hybrid code fails (and, as for any code, detaches its client from the session).
    let (s, err, _) = redeem().await;
    assert_eq!((s, err["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn refused_implicit_and_hybrid_requests_answer_as_keycloak() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let issuer = server.url("/realms/imp");
    let b = browser();
    let location = |query: &'static str| {
        let b = b.clone();
        let url = auth_url(&server, query);
        async move {
            let r = b.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 302, "{url}");
            r.headers()["location"].to_str().unwrap().to_string()
        }
    };

    // A client without `implicitFlowEnabled`: the error goes to the redirect URI, in the
    // fragment (the default mode of a token response type).
    let loc =
        location("client_id=code-only&response_type=id_token%20token&scope=openid&nonce=n&state=s")
            .await;
    let f = fragment_of(&loc);
    assert_eq!(f["error"], "unauthorized_client");
    assert_eq!(
        f["error_description"],
        "Client is not allowed to initiate browser login with given response_type. Implicit flow is disabled for the client."
    );
    assert_eq!(
        (f["state"].as_str(), f["iss"].as_str()),
        ("s", issuer.as_str())
    );
    // ... in a form when asked for.
    let r = b
        .get(auth_url(
            &server,
            "client_id=code-only&response_type=token&response_mode=form_post",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (action, fields) = form_post_fields(&r.text().await.unwrap());
    assert_eq!(
        (action.as_str(), fields["error"].as_str()),
        (CB, "unauthorized_client")
    );
    // A client without the standard flow cannot mix a code in.
    let f = fragment_of(
        &location("client_id=implicit-only&response_type=code%20id_token&nonce=n").await,
    );
    assert_eq!(f["error"], "unauthorized_client");
    assert!(f["error_description"].ends_with("Standard flow is disabled for the client."));

    // An ID token needs a nonce.
    for query in [
        "client_id=js&response_type=id_token&scope=openid",
        "client_id=js&response_type=id_token%20token",
    ] {
        let f = fragment_of(&location(query).await);
        assert_eq!(
            (f["error"].as_str(), f["error_description"].as_str()),
            ("invalid_request", "Missing parameter: nonce"),
            "{query}"
        );
    }
    // ... but a plain `token` request does not, with or without `openid`: the login page.
    for query in [
        "client_id=js&response_type=token",
        "client_id=js&response_type=token&scope=openid",
    ] {
        let r = b.get(auth_url(&server, query)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{query}");
        assert!(r.text().await.unwrap().contains("name=\"password\""));
    }

    // `query` is not allowed with tokens; the error itself goes in the query.
    let loc =
        location("client_id=js&response_type=id_token%20token&response_mode=query&nonce=n&state=s")
            .await;
    assert!(
        loc.starts_with(&format!("{CB}?")) && !loc.contains('#'),
        "{loc}"
    );
    let q = query_of(&loc);
    assert_eq!(
        (
            q["error"].as_str(),
            q["error_description"].as_str(),
            q["state"].as_str()
        ),
        (
            "invalid_request",
            "Response_mode 'query' not allowed for implicit or hybrid flow",
            "s"
        )
    );

    // Unknown response types: `unsupported_response_type` without a description, in the
    // requested mode (query by default).
    for (query, fragment) in [
        ("client_id=js&response_type=code%20foo&state=s", false),
        ("client_id=js&response_type=none%20token&nonce=n", false),
        (
            "client_id=js&response_type=id_token%20%20token&nonce=n",
            false,
        ),
        (
            "client_id=js&response_type=foo&response_mode=fragment",
            true,
        ),
    ] {
        let loc = location(query).await;
        assert_eq!(loc.contains('#'), fragment, "{loc}");
        let q = query_of(&loc);
        assert_eq!(q["error"], "unsupported_response_type", "{query}");
        assert!(!q.contains_key("error_description"), "{loc}");
    }
    // An unknown response mode.
    let q =
        query_of(&location("client_id=js&response_type=id_token&response_mode=jwt&nonce=n").await);
    assert_eq!(
        (q["error"].as_str(), q["error_description"].as_str()),
        ("invalid_request", "Invalid parameter: response_mode")
    );
    // An unknown scope, checked before any token is issued.
    let f = fragment_of(
        &location("client_id=js&response_type=id_token&scope=openid%20ghost&nonce=n").await,
    );
    assert_eq!(
        (f["error"].as_str(), f["error_description"].as_str()),
        ("invalid_scope", "Invalid scopes: openid ghost")
    );

    // Never a redirect to an unregistered URI, whatever the response type.
    let r = b
        .get(server.url("/realms/imp/protocol/openid-connect/auth?client_id=js&response_type=id_token%20token&nonce=n&redirect_uri=https%3A%2F%2Fevil.example.com%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}
