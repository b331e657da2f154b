//! OpenID Connect CIBA (poll mode) over HTTP: a stand-in authentication device in this test
//! (a small HTTP server on an ephemeral port serving the channel contract as Keycloak documents
//! it: it takes the POST with its bearer token, answers 201, and later answers at the callback
//! with that token), the backchannel authentication endpoint, and polling the token endpoint.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

use crate::support::*;

const CIBA: &str = "urn:openid:params:grant-type:ciba";
const CHANNEL_OPTION: &str =
    "--spi-ciba-auth-channel--ciba-http-auth-channel--http-authentication-channel-uri";

/// What the authentication device received.
#[derive(Debug)]
struct Seen {
    bearer: String,
    content_type: String,
    body: Value,
}

/// The stand-in authentication device.
struct Device {
    url: String,
    seen: Mutex<mpsc::UnboundedReceiver<Seen>>,
    /// The status it answers the server with (201 takes the request).
    status: Arc<AtomicU16>,
}

impl Device {
    async fn start() -> Device {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(201));
        let answer = status.clone();
        let app = axum::Router::new().route(
            "/auth",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let tx = tx.clone();
                    let answer = answer.clone();
                    async move {
                        let header = |n: &str| {
                            headers
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        let bearer = header("authorization")
                            .strip_prefix("Bearer ")
                            .unwrap_or_default()
                            .to_string();
                        let _ = tx.send(Seen {
                            bearer,
                            content_type: header("content-type"),
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        });
                        axum::http::StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Device {
            url: format!("http://{addr}/auth"),
            seen: Mutex::new(rx),
            status,
        }
    }

    /// The next request the server sent, checked as the channel contract says: JSON, with a
    /// bearer token issued by the realm for the realm, naming the client and the user.
    async fn next(&self, server: &TestServer, realm: &str, client: &str) -> Seen {
        let seen = tokio::time::timeout(Duration::from_secs(30), self.seen.lock().await.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen.content_type, "application/json");
        let claims = payload(&seen.bearer);
        let issuer = format!("{}/realms/{realm}", server.base);
        assert_eq!(claims["iss"], issuer.as_str());
        assert_eq!(claims["aud"], issuer.as_str());
        assert_eq!(claims["azp"], client);
        assert_eq!(claims["typ"], "Bearer");
        assert!(claims["sub"].is_string() && claims["jti"].is_string());
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
        seen
    }

    /// Nothing more was sent.
    async fn nothing_more(&self) {
        assert!(self.seen.lock().await.try_recv().is_err());
    }
}

/// The device's answer at the callback: the status code.
async fn answer(server: &TestServer, realm: &str, bearer: &str, body: Value) -> (u16, Value) {
    let (status, body, _) = call(
        server,
        "POST",
        &format!("/realms/{realm}/protocol/openid-connect/ext/ciba/auth/callback"),
        Some(bearer),
        Some(body),
    )
    .await;
    (status, body)
}

fn realm(name: &str, interval: &str) -> Value {
    let cd = |id: &str, ciba: bool| {
        json!({"clientId": id, "secret": format!("{id}-secret"), "standardFlowEnabled": false,
               "attributes": {"oidc.ciba.grant.enabled": ciba.to_string()}})
    };
    json!({
        "realm": name,
        "eventsEnabled": true,
        "attributes": {"cibaInterval": interval},
        "clients": [cd("cd", true), cd("other", true), cd("plain", false)],
        "users": [
            {"username": "alice", "enabled": true, "realmRoles": ["default-roles-".to_string() + name]},
            {"username": "bob", "enabled": false}
        ]
    })
}

async fn start(data: &Data, device: Option<&Device>) -> TestServer {
    let mut hint = realm("hint", "0");
    hint["attributes"]["cibaAuthRequestedUserHint"] = json!("id_token_hint");
    write_realms(data, &[realm("ciba", "0"), realm("slow", "5"), hint]);
    let mut args = vec!["--import-realm", "--testing-clock", "true"];
    if let Some(d) = device {
        args.extend([CHANNEL_OPTION, d.url.as_str()]);
    }
    TestServer::start(data, "start-dev", &args, &[]).unwrap()
}

async fn backchannel(
    server: &TestServer,
    realm: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let url = server.url(&format!(
        "/realms/{realm}/protocol/openid-connect/ext/ciba/auth"
    ));
    let (status, body, _) = post_form(&url, Some(client), form).await;
    (status, body)
}

async fn poll(server: &TestServer, realm: &str, client: (&str, &str), id: &str) -> (u16, Value) {
    let url = server.url(&format!("/realms/{realm}/protocol/openid-connect/token"));
    let (status, body, _) = post_form(
        &url,
        Some(client),
        &[("grant_type", CIBA), ("auth_req_id", id)],
    )
    .await;
    (status, body)
}

fn error_of(r: &(u16, Value)) -> (u16, &str, &str) {
    (
        r.0,
        r.1["error"].as_str().unwrap_or("-"),
        r.1["error_description"].as_str().unwrap_or("-"),
    )
}

const CD: (&str, &str) = ("cd", "cd-secret");
const ALICE: &[(&str, &str)] = &[
    ("scope", "openid"),
    ("login_hint", "alice"),
    ("binding_message", "BASTION"),
];

#[tokio::test]
async fn ciba_poll_flow_to_tokens_sqlite() {
    ciba_poll_flow_to_tokens(Backend::Sqlite).await;
}

#[tokio::test]
async fn ciba_poll_flow_to_tokens_postgres() {
    ciba_poll_flow_to_tokens(Backend::Postgres).await;
}

async fn ciba_poll_flow_to_tokens(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let device = Device::start().await;
    let server = start(&data, Some(&device)).await;

    // Discovery names the endpoint and what is served of it.
    let (_, doc) = get_json(&server.url("/realms/ciba/.well-known/openid-configuration")).await;
    assert_eq!(
        doc["backchannel_authentication_endpoint"],
        server.url("/realms/ciba/protocol/openid-connect/ext/ciba/auth")
    );
    assert_eq!(
        doc["backchannel_token_delivery_modes_supported"],
        json!(["poll"])
    );
    assert_eq!(
        doc["backchannel_authentication_request_signing_alg_values_supported"],
        json!([
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
            "EdDSA"
        ])
    );
    assert!(doc["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(CIBA)));

    // The client asks; the device is asked; the client gets Keycloak's acknowledgement
    // (no `interval` when the realm's is 0).
    let (status, ack) = backchannel(&server, "ciba", CD, ALICE).await;
    assert_eq!(status, 200, "{ack}");
    let id = ack["auth_req_id"].as_str().unwrap().to_string();
    assert_eq!(ack["expires_in"], 120);
    assert!(ack.get("interval").is_none(), "{ack}");
    let seen = device.next(&server, "ciba", "cd").await;
    assert_eq!(seen.body["login_hint"], "alice");
    assert_eq!(seen.body["binding_message"], "BASTION");
    assert_eq!(seen.body["is_consent_required"], false);
    assert!(seen.body["scope"].as_str().unwrap().starts_with("openid"));
    let user_id = payload(&seen.bearer)["sub"].as_str().unwrap().to_string();

    // Not answered yet.
    let r = poll(&server, "ciba", CD, &id).await;
    assert_eq!(error_of(&r).1, "authorization_pending");
    // Another client holding the id gets nothing.
    let r = poll(&server, "ciba", ("other", "other-secret"), &id).await;
    assert_eq!(error_of(&r), (400, "invalid_grant", "unauthorized client"));

    // Forged callbacks: no token, a token with a changed signature, the auth_req_id itself.
    let (s, _) = answer(&server, "ciba", "", json!({"status": "SUCCEED"})).await;
    assert_eq!(s, 401);
    let mut forged = seen.bearer.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let r = answer(&server, "ciba", &forged, json!({"status": "SUCCEED"})).await;
    assert_eq!(error_of(&r), (403, "invalid_token", "Invalid token"));
    let r = answer(&server, "ciba", &id, json!({"status": "SUCCEED"})).await;
    assert_eq!(r.0, 403);
    // A status that is not Keycloak's.
    let r = answer(&server, "ciba", &seen.bearer, json!({"status": "MAYBE"})).await;
    assert_eq!(
        error_of(&r),
        (400, "invalid_request", "Invalid authentication status")
    );
    let r = poll(&server, "ciba", CD, &id).await;
    assert_eq!(error_of(&r).1, "authorization_pending");

    // The device answers; the next poll gets the authorization code grant's tokens.
    let (s, _) = answer(&server, "ciba", &seen.bearer, json!({"status": "SUCCEED"})).await;
    assert_eq!(s, 200);
    let (status, tokens) = poll(&server, "ciba", CD, &id).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = verify_with_jwks(
        &server,
        "ciba",
        tokens["id_token"].as_str().unwrap(),
        Some("cd"),
    )
    .await;
    assert_eq!(id_token["sub"], user_id.as_str());
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], user_id.as_str());
    assert_eq!(access["azp"], "cd");
    assert_eq!(access["sid"], tokens["session_state"]);
    assert!(tokens["refresh_token"].is_string());
    // The user is alice.
    let admin = admin_token(&server).await;
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/ciba/users?username=alice&exact=true",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(users[0]["id"], user_id.as_str());
    // A user session was created, as Keycloak creates one.
    let (s, sessions, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/ciba/users/{user_id}/sessions"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions[0]["id"], tokens["session_state"]);

    // The user's consent to the client was recorded, as Keycloak records it.
    let (s, consents, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/ciba/users/{user_id}/consents"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{consents}");
    assert!(
        consents
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["clientId"] == "cd"),
        "{consents}"
    );

    // Once only; the callback token too.
    let r = poll(&server, "ciba", CD, &id).await;
    assert_eq!(error_of(&r), (400, "invalid_grant", "Invalid auth_req_id"));
    let r = answer(&server, "ciba", &seen.bearer, json!({"status": "SUCCEED"})).await;
    assert_eq!(r.0, 403);

    // Keycloak's event of the grant.
    let mut found = false;
    for _ in 0..100 {
        let (_, events, _) = call(
            &server,
            "GET",
            "/admin/realms/ciba/events?type=AUTHREQID_TO_TOKEN",
            Some(&admin),
            None,
        )
        .await;
        if let Some(e) = events.as_array().and_then(|l| l.first()) {
            assert_eq!(e["clientId"], "cd");
            assert_eq!(e["userId"], user_id.as_str());
            assert_eq!(e["sessionId"], tokens["session_state"]);
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(found, "no AUTHREQID_TO_TOKEN event");
    device.nothing_more().await;
    drop(server);
    data.cleanup().await;
}

#[tokio::test]
async fn denied_cancelled_replayed_slow_and_expired() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let device = Device::start().await;
    let server = start(&data, Some(&device)).await;

    // UNAUTHORIZED: access denied.
    let (_, ack) = backchannel(&server, "ciba", CD, ALICE).await;
    let id = ack["auth_req_id"].as_str().unwrap().to_string();
    let seen = device.next(&server, "ciba", "cd").await;
    let (s, _) = answer(
        &server,
        "ciba",
        &seen.bearer,
        json!({"status": "UNAUTHORIZED"}),
    )
    .await;
    assert_eq!(s, 200);
    let r = poll(&server, "ciba", CD, &id).await;
    assert_eq!(error_of(&r), (400, "access_denied", "not authorized"));
    // The callback token presented again: refused, and (as in Keycloak) the request is ended.
    let (s, _) = answer(&server, "ciba", &seen.bearer, json!({"status": "SUCCEED"})).await;
    assert_eq!(s, 403);
    let r = poll(&server, "ciba", CD, &id).await;
    assert_eq!(error_of(&r), (400, "invalid_grant", "Invalid auth_req_id"));

    // CANCELLED: access denied too; a missing status is Keycloak's invalid_request.
    let (_, ack) = backchannel(&server, "ciba", CD, ALICE).await;
    let id = ack["auth_req_id"].as_str().unwrap().to_string();
    let seen = device.next(&server, "ciba", "cd").await;
    let r = answer(&server, "ciba", &seen.bearer, json!({})).await;
    assert_eq!(
        error_of(&r),
        (400, "invalid_request", "Invalid authentication status")
    );
    let (s, _) = answer(
        &server,
        "ciba",
        &seen.bearer,
        json!({"status": "CANCELLED"}),
    )
    .await;
    assert_eq!(s, 200);
    let r = poll(&server, "ciba", CD, &id).await;
    assert_eq!(error_of(&r).1, "access_denied");

    // slow_down: the realm's interval is 5 seconds (answered as `interval`), and grows by 5.
    let (_, ack) = backchannel(&server, "slow", CD, ALICE).await;
    assert_eq!(ack["interval"], 5);
    let slow = ack["auth_req_id"].as_str().unwrap().to_string();
    let seen_slow = device.next(&server, "slow", "cd").await;
    let r = poll(&server, "slow", CD, &slow).await;
    assert_eq!(error_of(&r).1, "authorization_pending");
    let r = poll(&server, "slow", CD, &slow).await;
    assert_eq!(error_of(&r), (400, "slow_down", "too early to access"));
    advance_clock(&server, 6).await;
    let r = poll(&server, "slow", CD, &slow).await;
    assert_eq!(error_of(&r).1, "slow_down", "the interval grew to 10");
    advance_clock(&server, 17).await;
    let (s, _) = answer(
        &server,
        "slow",
        &seen_slow.bearer,
        json!({"status": "SUCCEED"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = poll(&server, "slow", CD, &slow).await;
    assert_eq!(s, 200, "{body}");

    // Expiry: past `cibaExpiresIn` (120) the poll says so, and the device's token is dead.
    let (_, ack) = backchannel(&server, "ciba", CD, ALICE).await;
    let id = ack["auth_req_id"].as_str().unwrap().to_string();
    let seen = device.next(&server, "ciba", "cd").await;
    advance_clock(&server, 17 + 121).await;
    let r = poll(&server, "ciba", CD, &id).await;
    assert_eq!(
        error_of(&r),
        (400, "expired_token", "authentication timed out")
    );
    let (s, _) = answer(&server, "ciba", &seen.bearer, json!({"status": "SUCCEED"})).await;
    assert_eq!(s, 403);
    device.nothing_more().await;
    drop(server);
    data.cleanup().await;
}

#[tokio::test]
async fn bad_requests_get_keycloaks_errors() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let device = Device::start().await;
    let server = start(&data, Some(&device)).await;
    let err = |r: (u16, Value)| {
        (
            r.0,
            r.1["error"].as_str().unwrap_or("-").to_string(),
            r.1["error_description"].as_str().unwrap_or("-").to_string(),
        )
    };
    let e = |s: u16, e: &str, d: &str| (s, e.to_string(), d.to_string());
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, &str)> = ALICE.to_vec();
        for (k, v) in extra {
            f.retain(|(n, _)| n != k);
            if !v.is_empty() {
                f.push((k, v));
            }
        }
        f
    };

    // The client: wrong secret (401, whatever the token endpoint would say), CIBA not enabled.
    assert_eq!(
        err(backchannel(&server, "ciba", ("cd", "wrong"), ALICE).await).0,
        401
    );
    assert_eq!(
        err(backchannel(&server, "ciba", ("plain", "plain-secret"), ALICE).await),
        e(400, "invalid_grant", "Client not allowed OIDC CIBA Grant")
    );
    // The user: unknown, disabled, not named.
    assert_eq!(
        err(backchannel(&server, "ciba", CD, &with(&[("login_hint", "nobody")])).await),
        e(400, "invalid_request", "invalid user")
    );
    assert_eq!(
        err(backchannel(&server, "ciba", CD, &with(&[("login_hint", "bob")])).await),
        e(400, "invalid_request", "invalid user")
    );
    assert_eq!(
        err(backchannel(&server, "ciba", CD, &with(&[("login_hint", "")])).await),
        e(400, "invalid_request", "missing parameter : login_hint")
    );
    // A realm whose user hint is `id_token_hint`: required, and (Keycloak's default resolver)
    // no user is found from it.
    assert_eq!(
        err(backchannel(&server, "hint", CD, ALICE).await),
        e(400, "invalid_request", "missing parameter : id_token_hint")
    );
    assert_eq!(
        err(backchannel(&server, "hint", CD, &with(&[("id_token_hint", "x.y.z")])).await),
        e(400, "invalid_request", "invalid user")
    );
    // The request: no scope, an unknown scope, a bad binding message, a user code, a
    // requested expiry that is not a number, a notification token in poll mode.
    assert_eq!(
        err(backchannel(&server, "ciba", CD, &with(&[("scope", "")])).await),
        e(400, "invalid_request", "missing parameter : scope")
    );
    assert_eq!(
        err(backchannel(&server, "ciba", CD, &with(&[("scope", "openid nope")])).await).1,
        "invalid_scope"
    );
    assert_eq!(
        err(backchannel(
            &server,
            "ciba",
            CD,
            &with(&[("binding_message", "two words")])
        )
        .await)
        .1,
        "invalid_binding_message"
    );
    assert_eq!(
        err(backchannel(&server, "ciba", CD, &with(&[("user_code", "1234")])).await),
        e(400, "invalid_request", "User code not supported")
    );
    assert_eq!(
        err(backchannel(&server, "ciba", CD, &with(&[("requested_expiry", "soon")])).await),
        e(400, "invalid_request", "For input string: \"soon\"")
    );
    assert_eq!(
        err(backchannel(
            &server,
            "ciba",
            CD,
            &with(&[("client_notification_token", "t")])
        )
        .await),
        e(
            400,
            "invalid_request",
            "Client Notification token supported only for the ping mode"
        )
    );
    // None of these reached the device.
    device.nothing_more().await;

    // A scope without `openid` is accepted, as Keycloak accepts it; the tokens then carry no
    // ID token (not an OpenID Connect request).
    let (s, ack) = backchannel(&server, "ciba", CD, &with(&[("scope", "profile")])).await;
    assert_eq!(s, 200, "{ack}");
    let id = ack["auth_req_id"].as_str().unwrap().to_string();
    let seen = device.next(&server, "ciba", "cd").await;
    assert!(seen.body["scope"].as_str().unwrap().starts_with("profile"));
    answer(&server, "ciba", &seen.bearer, json!({"status": "SUCCEED"})).await;
    let (s, tokens) = poll(&server, "ciba", CD, &id).await;
    assert_eq!(s, 200, "{tokens}");
    assert!(tokens.get("id_token").is_none(), "{tokens}");

    // The token endpoint: client without CIBA, no id, an id that is not one, an unknown one.
    let r = poll(&server, "ciba", ("plain", "plain-secret"), &id).await;
    assert_eq!(
        error_of(&r),
        (400, "invalid_grant", "Client not allowed OIDC CIBA Grant")
    );
    let (_, r, _) = post_form(
        &server.url("/realms/ciba/protocol/openid-connect/token"),
        Some(CD),
        &[("grant_type", CIBA)],
    )
    .await;
    assert_eq!(r["error_description"], "Missing parameter: auth_req_id");
    let r = poll(&server, "ciba", CD, "invalid").await;
    assert_eq!(error_of(&r), (400, "invalid_grant", "Invalid Auth Req ID"));
    let r = poll(&server, "ciba", CD, &"A".repeat(43)).await;
    assert_eq!(error_of(&r), (400, "invalid_grant", "Invalid auth_req_id"));

    // A channel that does not answer 201: 503, and nothing is left behind.
    device.status.store(500, Ordering::SeqCst);
    let r = backchannel(&server, "ciba", CD, ALICE).await;
    assert_eq!(
        err(r),
        e(
            503,
            "server_error",
            "Unexpected response from authentication device"
        )
    );
    // The request was removed: the token the channel got names nothing.
    let refused = device.next(&server, "ciba", "cd").await;
    let (s, _) = answer(
        &server,
        "ciba",
        &refused.bearer,
        json!({"status": "SUCCEED"}),
    )
    .await;
    assert_eq!(s, 403);
    drop(server);

    // No channel configured: Keycloak's 503.
    let data2 = Data::new(Backend::Sqlite).await.unwrap();
    let server = start(&data2, None).await;
    assert_eq!(
        err(backchannel(&server, "ciba", CD, ALICE).await),
        e(503, "server_error", "Failed to send authentication request")
    );
    drop(server);

    // The channel named by Keycloak's (legacy-spelled) environment variable.
    let data3 = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data3, &[realm("ciba", "0")]);
    let server = TestServer::start(
        &data3,
        "start-dev",
        &["--import-realm"],
        &[(
            "KC_SPI_CIBA_AUTH_CHANNEL_CIBA_HTTP_AUTH_CHANNEL_HTTP_AUTHENTICATION_CHANNEL_URI",
            &device.url,
        )],
    )
    .unwrap();
    device.status.store(201, Ordering::SeqCst);
    let (s, _) = backchannel(&server, "ciba", CD, ALICE).await;
    assert_eq!(s, 200);
    device.next(&server, "ciba", "cd").await;
    drop(server);
    // A channel that is not an http(s) URL stops the start.
    let data4 = Data::new(Backend::Sqlite).await.unwrap();
    let out = TestServer::start(&data4, "start-dev", &[CHANNEL_OPTION, "ftp://device"], &[]);
    assert!(out.is_err());
    for d in [data, data2, data3, data4] {
        d.cleanup().await;
    }
}

/// An RSA key pair: its JWK and a `jsonwebtoken` signing key.
fn rsa_key(kid: &str) -> (Value, jsonwebtoken::EncodingKey) {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs1 = portcullis::crypto::der::rsa_pkcs8_to_pkcs1(kp.as_der().unwrap().as_ref()).unwrap();
    let public = kp.public_key();
    let jwk = json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": b64url(public.modulus().big_endian_without_leading_zero()),
        "e": b64url(public.exponent().big_endian_without_leading_zero())});
    (jwk, jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1))
}

#[tokio::test]
async fn signed_authentication_requests() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let (jwk, key) = rsa_key("k1");
    let (_, other_key) = rsa_key("k1");
    let mut r = realm("ciba", "0");
    r["clients"].as_array_mut().unwrap().push(json!({
        "clientId": "signer", "secret": "signer-secret", "standardFlowEnabled": false,
        "attributes": {"oidc.ciba.grant.enabled": "true", "ciba.backchannel.auth.request.signing.alg": "RS256",
                       "use.jwks.string": "true", "jwks.string": json!({"keys": [jwk]}).to_string()}}));
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let device = Device::start().await;
    write_realms(&data, &[r]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &["--import-realm", CHANNEL_OPTION, &device.url],
        &[],
    )
    .unwrap();
    let (_, doc) = get_json(&server.url("/realms/ciba/.well-known/openid-configuration")).await;
    let algs = doc["backchannel_authentication_request_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("RS256")) && algs.contains(&json!("PS256")));
    assert!(!algs.iter().any(|a| a.as_str().unwrap().starts_with("HS")));

    let issuer = server.url("/realms/ciba");
    let claims = json!({"iss": "signer", "aud": issuer, "login_hint": "alice", "scope": "openid",
                        "binding_message": "SIGNED", "requested_expiry": 60});
    let sign = |alg: Algorithm, key: &EncodingKey| {
        let mut h = Header::new(alg);
        h.kid = Some("k1".into());
        encode(&h, &claims, key).unwrap()
    };
    let signer = ("signer", "signer-secret");

    // Signed by the client's key with its algorithm: the claims are the request.
    let jwt = sign(Algorithm::RS256, &key);
    let (s, ack) = backchannel(&server, "ciba", signer, &[("request", &jwt)]).await;
    assert_eq!(s, 200, "{ack}");
    let seen = device.next(&server, "ciba", "signer").await;
    assert_eq!(seen.body["login_hint"], "alice");
    assert_eq!(seen.body["binding_message"], "SIGNED");
    let bearer = payload(&seen.bearer);
    assert_eq!(
        bearer["exp"].as_i64().unwrap() - bearer["iat"].as_i64().unwrap(),
        60,
        "requested_expiry from the request object"
    );
    // The signed claim wins over the form's.
    let (s, _) = backchannel(
        &server,
        "ciba",
        signer,
        &[("request", &jwt), ("binding_message", "FORM")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        device.next(&server, "ciba", "signer").await.body["binding_message"],
        "SIGNED"
    );

    // Refused: another key, a symmetric algorithm, a client that registered no algorithm,
    // request and request_uri together, request_uri alone.
    let bad = |r: (u16, Value)| (r.0, r.1["error"].clone(), r.1["error_description"].clone());
    let forged = sign(Algorithm::RS256, &other_key);
    assert_eq!(
        bad(backchannel(&server, "ciba", signer, &[("request", &forged)]).await),
        (
            400,
            json!("invalid_request"),
            json!("Failed to verify signature")
        )
    );
    let hs = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"signer-secret"),
    );
    assert_eq!(
        bad(backchannel(&server, "ciba", signer, &[("request", &hs)]).await),
        (
            400,
            json!("invalid_request"),
            json!("Signed algorithm is not allowed")
        )
    );
    assert_eq!(
        bad(backchannel(&server, "ciba", CD, &[("request", &jwt)]).await).2,
        json!("Client requested algorithm not registered in advance or request signed with different algorithm other than client requested algorithm")
    );
    assert_eq!(
        bad(backchannel(
            &server,
            "ciba",
            signer,
            &[("request", &jwt), ("request_uri", "https://x")]
        )
        .await)
        .2,
        json!("Illegal to use both 'request' and 'request_uri' parameters together")
    );
    assert_eq!(
        bad(backchannel(&server, "ciba", signer, &[("request_uri", "https://x")]).await).2,
        json!("Specified 'request_uri' not allowed for this client.")
    );
    device.nothing_more().await;
    drop(server);
    data.cleanup().await;
}
