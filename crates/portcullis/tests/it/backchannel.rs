//! OpenID Connect Back-Channel Logout: a listener in the test plays the relying parties'
//! back-channel endpoints; a user signs in to several clients in one SSO session, and each way
//! of ending a session (RP-initiated logout, POST /logout with a refresh token, the Admin API's
//! user logout and session delete) must POST a logout token, as Keycloak builds it, to exactly
//! the clients that took part and asked for one. Tokens are verified with an independent JOSE
//! library against the realm's JWKS.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const REDIRECT: &str = "http://localhost:4000/cb";

/// What the relying parties received: `(endpoint name, logout_token)`.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// The relying parties' back-channel endpoints: `/bc/{name}` answers 204, `/fail` answers 500
/// (both record what they got). Returns the base URL.
async fn relying_parties(received: Received) -> String {
    async fn accept(
        State(r): State<Received>,
        Path(name): Path<String>,
        Form(f): Form<std::collections::HashMap<String, String>>,
    ) -> StatusCode {
        r.lock()
            .unwrap()
            .push((name, f.get("logout_token").cloned().unwrap_or_default()));
        StatusCode::NO_CONTENT
    }
    async fn fail(
        State(r): State<Received>,
        Form(f): Form<std::collections::HashMap<String, String>>,
    ) -> StatusCode {
        r.lock().unwrap().push((
            "fail".into(),
            f.get("logout_token").cloned().unwrap_or_default(),
        ));
        StatusCode::INTERNAL_SERVER_ERROR
    }
    let app = axum::Router::new()
        .route("/bc/{name}", axum::routing::post(accept))
        .route("/fail", axum::routing::post(fail))
        .with_state(received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A port on which nothing listens.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn realm(rp: &str, dead: u16) -> Value {
    let client = |id: &str, attrs: Value, extra: Value| {
        let mut c = json!({"clientId": id, "publicClient": true, "directAccessGrantsEnabled": true,
            "redirectUris": [REDIRECT], "frontchannelLogout": false, "attributes": attrs});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let bc = |name: &str| format!("{rp}/bc/{name}");
    json!({
        "realm": "bc",
        "enabled": true,
        "clients": [
            client("app-a", json!({"backchannel.logout.url": bc("a"), "backchannel.logout.session.required": "true"}), json!({})),
            client("app-b", json!({"backchannel.logout.url": bc("b"), "backchannel.logout.session.required": "true",
                                   "backchannel.logout.revoke.offline.tokens": "true"}), json!({})),
            // Without `backchannel.logout.session.required` Keycloak leaves `sid` out.
            client("nosid", json!({"backchannel.logout.url": bc("nosid")}), json!({})),
            // Takes part in sessions but has no back-channel URL.
            client("plain", json!({}), json!({})),
            // Has a URL but never signs in.
            client("idle", json!({"backchannel.logout.url": bc("idle"), "backchannel.logout.session.required": "true"}), json!({})),
            // Front-channel logout on: Keycloak does not use the back channel for it.
            client("front", json!({"backchannel.logout.url": bc("front")}), json!({"frontchannelLogout": true})),
            // A relying party that fails, and one that is not there.
            client("broken", json!({"backchannel.logout.url": format!("{rp}/fail")}), json!({})),
            client("gone", json!({"backchannel.logout.url": format!("http://127.0.0.1:{dead}/bc")}), json!({}))
        ],
        "users": [{"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}]}]
    })
}

fn ep(server: &TestServer, p: &str) -> String {
    server.url(&format!("/realms/bc/protocol/openid-connect/{p}"))
}

fn auth_url(server: &TestServer, client: &str) -> String {
    format!(
        "{}?client_id={client}&response_type=code&scope=openid&redirect_uri={}",
        ep(server, "auth"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    )
}

async fn redeem(server: &TestServer, client: &str, code: &str) -> Value {
    let (s, tokens, _) = post_form(
        &ep(server, "token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    tokens
}

/// Signs in with the browser at `first`, then joins `others` to the same SSO session. Returns
/// each client's tokens.
async fn sso(
    server: &TestServer,
    b: &reqwest::Client,
    first: &str,
    others: &[&str],
) -> Vec<(String, Value)> {
    let (status, location, q) =
        login(b, server, &auth_url(server, first), "alice", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    let mut out = vec![(first.to_string(), redeem(server, first, &q["code"]).await)];
    for c in others {
        let r = b.get(auth_url(server, c)).send().await.unwrap();
        assert_eq!(r.status(), 302, "SSO for {c}");
        let q = query_of(r.headers()["location"].to_str().unwrap());
        out.push((c.to_string(), redeem(server, c, &q["code"]).await));
    }
    out
}

async fn alice_grant(server: &TestServer, client: &str) -> Value {
    let (s, tokens) = password_grant(
        server,
        "bc",
        client,
        None,
        "alice",
        "alice-pw",
        &[("scope", "openid")],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    tokens
}

async fn refresh_status(server: &TestServer, client: &str, tokens: &Value) -> u16 {
    let (s, _, _) = post_form(
        &ep(server, "token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    s
}

/// Verifies a logout token with the realm's JWKS and checks what every logout token carries;
/// returns its claims.
async fn verified(server: &TestServer, jwt: &str, aud: &str) -> Value {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let key = realm_key(server, "bc", jwt).await;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[server.url("/realms/bc")]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let c = jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap().claims;
    assert_eq!(c["aud"], aud, "a single audience, as a string");
    assert_eq!(c["typ"], "Logout");
    assert_eq!(c["events"][EVENT], json!({}));
    assert!(c.get("nonce").is_none(), "a logout token has no nonce");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    assert!(!c["jti"].as_str().unwrap().is_empty());
    c
}

/// Takes what the relying parties received so far.
fn take(received: &Received) -> Vec<(String, String)> {
    let mut r = received.lock().unwrap();
    let mut out: Vec<_> = r.drain(..).collect();
    out.sort();
    out
}

fn names(got: &[(String, String)]) -> Vec<&str> {
    got.iter().map(|(n, _)| n.as_str()).collect()
}

async fn scenario(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let received: Received = Arc::default();
    let rp = relying_parties(received.clone()).await;
    let dead = closed_port().await;
    let server = start_with(&data, &[realm(&rp, dead)]).await;

    let (_, doc) = get_json(&server.url("/realms/bc/.well-known/openid-configuration")).await;
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);

    // 1. RP-initiated logout: every client of the session with a back-channel URL gets a
    //    token, the initiating one included; a failing or absent RP does not stop the logout.
    let b = browser();
    let tokens = sso(
        &server,
        &b,
        "app-b",
        &["app-a", "nosid", "plain", "front", "broken", "gone"],
    )
    .await;
    let by = |c: &str| tokens.iter().find(|(n, _)| n == c).unwrap().1.clone();
    let id_token = by("app-b")["id_token"].as_str().unwrap().to_string();
    let id = payload(&id_token);
    let (sid, sub) = (id["sid"].as_str().unwrap(), id["sub"].as_str().unwrap());
    assert_eq!(
        payload(by("app-a")["id_token"].as_str().unwrap())["sid"],
        sid
    );
    // Another session of the same user, only app-b: left alone.
    let other = alice_grant(&server, "app-b").await;
    let other_sid = payload(other["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(other_sid, sid);
    assert!(take(&received).is_empty(), "nothing before a logout");

    let r = b
        .get(format!(
            "{}?id_token_hint={id_token}&post_logout_redirect_uri={}&state=s1",
            ep(&server, "logout"),
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "the logout completes although RPs failed");
    assert_eq!(r.headers()["location"], format!("{REDIRECT}?state=s1"));
    let got = take(&received);
    assert_eq!(
        names(&got),
        ["a", "b", "fail", "nosid"],
        "only clients of the session with a back-channel URL, front-channel ones excluded"
    );
    let mut jtis = BTreeSet::new();
    for (name, jwt) in &got {
        let aud = match name.as_str() {
            "a" => "app-a",
            "b" => "app-b",
            "fail" => "broken",
            _ => "nosid",
        };
        let c = verified(&server, jwt, aud).await;
        assert_eq!(c["sub"], sub);
        jtis.insert(c["jti"].as_str().unwrap().to_string());
        match name.as_str() {
            "a" => {
                assert_eq!(
                    c["sid"], sid,
                    "sid of the ended session, as in the ID token"
                );
                assert_eq!(c["events"].as_object().unwrap().len(), 1);
            }
            "b" => {
                assert_eq!(c["sid"], sid);
                assert_eq!(c["events"]["revoke_offline_access"], true);
            }
            "nosid" | "fail" => assert!(c.get("sid").is_none(), "{c}"),
            _ => unreachable!(),
        }
    }
    assert_eq!(jtis.len(), 4, "a fresh jti each");
    for c in ["app-a", "app-b", "plain"] {
        assert_eq!(
            refresh_status(&server, c, &by(c)).await,
            400,
            "{c}: session ended"
        );
    }
    assert_eq!(
        refresh_status(&server, "app-b", &other).await,
        200,
        "the other session lives on"
    );
    // Logging out again: the session is gone, nobody is told twice.
    let r = b
        .get(format!(
            "{}?id_token_hint={id_token}",
            ep(&server, "logout")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(take(&received).is_empty());

    // 2. POST /logout with a refresh token (app-a's); app-b shares the session.
    let b = browser();
    let tokens = sso(&server, &b, "app-a", &["app-b"]).await;
    let sid2 = payload(tokens[0].1["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, body, _) = post_form(
        &ep(&server, "logout"),
        None,
        &[
            ("client_id", "app-a"),
            (
                "refresh_token",
                tokens[0].1["refresh_token"].as_str().unwrap(),
            ),
        ],
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let got = take(&received);
    assert_eq!(names(&got), ["a", "b"]);
    for ((_, jwt), aud) in got.iter().zip(["app-a", "app-b"]) {
        let c = verified(&server, jwt, aud).await;
        assert_eq!(
            (c["sid"].as_str(), c["sub"].as_str()),
            (Some(sid2.as_str()), Some(sub))
        );
    }
    assert_eq!(refresh_status(&server, "app-b", &tokens[1].1).await, 400);

    // 3. Admin: POST /users/{id}/logout ends every session of the user; each one's clients
    //    are told, with that session's sid.
    let b = browser();
    let tokens = sso(&server, &b, "app-a", &["nosid"]).await;
    let sid3 = payload(tokens[0].1["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = admin_token(&server).await;
    let r = client()
        .post(server.url(&format!("/admin/realms/bc/users/{sub}/logout")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mut told: Vec<(String, Option<String>)> = Vec::new();
    for (name, jwt) in take(&received) {
        let aud = if name == "a" {
            "app-a"
        } else if name == "b" {
            "app-b"
        } else {
            "nosid"
        };
        let c = verified(&server, &jwt, aud).await;
        told.push((name, c["sid"].as_str().map(str::to_string)));
    }
    told.sort();
    assert_eq!(
        told,
        vec![
            ("a".to_string(), Some(sid3.clone())),
            ("b".to_string(), Some(other_sid.clone())),
            ("nosid".to_string(), None),
        ]
    );
    assert_eq!(refresh_status(&server, "app-b", &other).await, 400);

    // 4. Admin: DELETE /sessions/{id} ends one session.
    let b = browser();
    let tokens = sso(&server, &b, "app-b", &["broken"]).await;
    let sid4 = payload(tokens[0].1["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let untouched = alice_grant(&server, "app-a").await;
    let (s, body) = delete(
        &server,
        &admin,
        &format!("/admin/realms/bc/sessions/{sid4}?isOffline=true"),
    )
    .await;
    assert_eq!(s, 404, "not an offline session: {body}");
    assert!(take(&received).is_empty());
    let (s, body) = delete(
        &server,
        &admin,
        &format!("/admin/realms/bc/sessions/{sid4}"),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let got = take(&received);
    assert_eq!(
        names(&got),
        ["b", "fail"],
        "the 500 does not fail the delete"
    );
    assert_eq!(verified(&server, &got[0].1, "app-b").await["sid"], sid4);
    let (s, body) = delete(
        &server,
        &admin,
        &format!("/admin/realms/bc/sessions/{sid4}"),
    )
    .await;
    assert_eq!(s, 404, "{body}");
    assert!(body.contains("Sesssion not found"), "{body}");
    assert!(take(&received).is_empty());
    assert_eq!(refresh_status(&server, "app-a", &untouched).await, 200);

    // Tokens never reach the server's log.
    let logs = server.logs();
    assert!(!logs.contains(&got[0].1), "a logout token in the log");
    data.cleanup().await;
}

async fn delete(server: &TestServer, admin: &str, path: &str) -> (u16, String) {
    let r = client()
        .delete(server.url(path))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn logout_tokens_on_sqlite() {
    scenario(Backend::Sqlite).await;
}

#[tokio::test]
async fn logout_tokens_on_postgres() {
    scenario(Backend::Postgres).await;
}

/// A client that got its tokens from the authorization endpoint (implicit flow) took part in
/// the session too: ending the session through another client tells it.
#[tokio::test]
async fn implicit_flow_clients_get_logout_tokens() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let received: Received = Arc::default();
    let rp = relying_parties(received.clone()).await;
    let dead = closed_port().await;
    let mut r = realm(&rp, dead);
    r["clients"].as_array_mut().unwrap().push(json!({
        "clientId": "imp", "publicClient": true, "implicitFlowEnabled": true,
        "redirectUris": [REDIRECT], "frontchannelLogout": false,
        "attributes": {"backchannel.logout.url": format!("{rp}/bc/imp"), "backchannel.logout.session.required": "true"}
    }));
    let server = start_with(&data, &[r]).await;
    let b = browser();
    let url = format!(
        "{}?client_id=imp&response_type=id_token%20token&scope=openid&nonce=n1&redirect_uri={}",
        ep(&server, "auth"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let (status, location, q) = login(&b, &server, &url, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{location}");
    let sid = payload(&q["id_token"])["sid"].as_str().unwrap().to_string();
    // app-a joins the same SSO session through the code flow, then logs out with its
    // refresh token.
    let r = b.get(auth_url(&server, "app-a")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let code = query_of(r.headers()["location"].to_str().unwrap())["code"].clone();
    let tokens = redeem(&server, "app-a", &code).await;
    assert_eq!(
        payload(tokens["id_token"].as_str().unwrap())["sid"],
        sid.as_str()
    );
    let (s, _, _) = post_form(
        &ep(&server, "logout"),
        None,
        &[
            ("client_id", "app-a"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 204);
    let got = take(&received);
    assert_eq!(names(&got), ["a", "imp"]);
    let c = verified(&server, &got[1].1, "imp").await;
    assert_eq!(c["sid"], sid.as_str());
}
