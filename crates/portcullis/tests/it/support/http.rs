//! HTTP helpers: a plain client, form posts, JSON calls with a bearer token, and access tokens
//! from password grants at `admin-cli`.

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

/// The access token of a password grant of `user` at `realm`'s public `admin-cli` client.
pub async fn admin_cli_token(
    server: &TestServer,
    realm: &str,
    user: &str,
    password: &str,
) -> String {
    let (status, body, _) = post_form(
        &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", user),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// The bootstrap administrator's access token (master realm, `admin-cli`).
pub async fn admin_token(server: &TestServer) -> String {
    admin_cli_token(server, "master", "admin", "admin").await
}
