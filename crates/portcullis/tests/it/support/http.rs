//! HTTP helpers: a plain client, form posts, JSON calls with a bearer token, password grants,
//! and access tokens from password grants at `admin-cli`.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::TestServer;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub async fn get_json(url: &str) -> (u16, Value) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Posts a form, with HTTP basic authentication when `auth` is given: status, JSON body (null
/// when it is not JSON) and headers.
pub async fn post_form(
    url: &str,
    auth: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value, HeaderMap) {
    let mut req = client().post(url).form(form);
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

/// A request to `path` of `server`, with a bearer token and a JSON body when given: status,
/// body (JSON, or the text as a JSON string when it is not JSON) and headers.
pub async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, HeaderMap) {
    let mut req = client().request(method.parse().unwrap(), server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
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

/// The password grant (`grant_type=password`) of `user` with `password` at `realm`'s token
/// endpoint: a confidential client authenticates with HTTP basic when its `secret` is given, a
/// public one names itself with `client_id`; `extra` adds form parameters (`scope`, `totp`).
/// Status and JSON body (null when it is not JSON).
pub async fn password_grant(
    server: &TestServer,
    realm: &str,
    client_id: &str,
    secret: Option<&str>,
    user: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", user),
        ("password", password),
    ];
    if secret.is_none() {
        form.push(("client_id", client_id));
    }
    form.extend_from_slice(extra);
    let (status, body, _) = post_form(
        &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
        secret.map(|s| (client_id, s)),
        &form,
    )
    .await;
    (status, body)
}

/// The access token of a password grant of `user` at `realm`'s public `admin-cli` client.
pub async fn admin_cli_token(
    server: &TestServer,
    realm: &str,
    user: &str,
    password: &str,
) -> String {
    let (status, body) =
        password_grant(server, realm, "admin-cli", None, user, password, &[]).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// The bootstrap administrator's access token (master realm, `admin-cli`).
pub async fn admin_token(server: &TestServer) -> String {
    admin_cli_token(server, "master", "admin", "admin").await
}
