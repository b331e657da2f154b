//! A browser: a cookie-keeping client that does not follow redirects, reading the login and
//! verification pages' HTML forms and posting them as a browser would.

use std::collections::HashMap;

use super::{b64url, TestServer};

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GETs a page: status and body.
pub async fn get_page(b: &reqwest::Client, url: &str) -> (u16, String) {
    let r = b.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The value of the form field `name` of a page.
pub fn form_field(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle)? + needle.len();
    Some(html[start..start + html[start..].find('"')?].to_string())
}

/// The action of a page's (first) form, unescaped, as a path (an absolute action, as the
/// login form's, loses its origin).
pub fn form_action(html: &str) -> String {
    let start = html.find("action=\"").unwrap() + 8;
    let action = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
    match action.split_once("://") {
        Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_string(),
        None => action,
    }
}

/// Posts the page's form with `fields` added to its `session_code`.
async fn post_page_form(
    b: &reqwest::Client,
    server: &TestServer,
    html: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let code = form_field(html, "session_code").expect("a bound form");
    let mut form: Vec<(&str, &str)> = vec![("session_code", code.as_str())];
    form.extend_from_slice(fields);
    b.post(server.url(&form_action(html)))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Posts the page's form with `fields` added to its `session_code`; returns status and body.
pub async fn submit(
    b: &reqwest::Client,
    server: &TestServer,
    html: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let r = post_page_form(b, server, html, fields).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Logs in through the page at `auth_url`: the status, the redirect's location (or, without
/// one, the page answered) and the redirect's parameters.
pub async fn login(
    b: &reqwest::Client,
    server: &TestServer,
    auth_url: &str,
    user: &str,
    pw: &str,
) -> (u16, String, HashMap<String, String>) {
    let (status, html) = get_page(b, auth_url).await;
    assert_eq!(status, 200);
    let r = post_page_form(b, server, &html, &[("username", user), ("password", pw)]).await;
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    (
        status,
        if location.is_empty() {
            body
        } else {
            location.clone()
        },
        query_of(&location),
    )
}

/// The parameters of a redirect, from its query or fragment.
pub fn query_of(location: &str) -> HashMap<String, String> {
    let q = location
        .split_once(['?', '#'])
        .map(|(_, q)| q)
        .unwrap_or_default();
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge =
        b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref());
    (verifier, challenge)
}

/// Posts a login page's bound form (its `session_code` and `fields`): status, and the redirect
/// location or else the body.
pub async fn post_page(
    b: &reqwest::Client,
    server: &TestServer,
    html: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let code = form_field(html, "session_code").expect("a bound form");
    let mut form: Vec<(&str, &str)> = vec![("session_code", code.as_str())];
    form.extend_from_slice(fields);
    let r = b
        .post(server.url(&form_action(html)))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
}
