//! The cookies of a browser login: the SSO session cookie `KEYCLOAK_IDENTITY` (the session id
//! and an HMAC over it), its script-readable twin `KEYCLOAK_SESSION` (a hash of the session id,
//! read by the session-status iframe), and the pending-login cookie `AUTH_SESSION_ID` (the CSRF
//! binding of the login-actions forms).
//!
//! As Keycloak's `DefaultCookieProvider`: in a secure context (HTTPS, or a loopback host) the
//! cookies are `Secure; SameSite=None`, so keycloak-js' iframes (silent check-sso, session
//! status) see them from another site; elsewhere `SameSite=Lax` without `Secure`.

use aws_lc_rs::hmac;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use crate::crypto::b64url;
use crate::realm::snapshot::RealmSnapshot;

/// The SSO session cookie (its value is the session id and an HMAC over it).
pub const IDENTITY_COOKIE: &str = "KEYCLOAK_IDENTITY";
/// The session-status cookie: base64url(SHA-256(session id)), readable by scripts (Keycloak
/// 26.1+'s `KEYCLOAK_SESSION`).
pub const SESSION_COOKIE: &str = "KEYCLOAK_SESSION";
/// The pending-login cookie, the CSRF binding of the login form.
pub const AUTH_SESSION_COOKIE: &str = "AUTH_SESSION_ID";

fn cookie_key(snap: &RealmSnapshot) -> Option<hmac::Key> {
    // Derived from the realm's HMAC key material so every node computes the same value.
    let k = snap.hmac_keys.first()?;
    let tag = hmac::sign(k.key(), b"portcullis-sso-cookie");
    Some(hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref()))
}

/// The signed cookie value for a session id.
pub fn identity_value(snap: &RealmSnapshot, sid: &str) -> Option<String> {
    let tag = hmac::sign(&cookie_key(snap)?, sid.as_bytes());
    Some(format!("{sid}.{}", b64url(tag.as_ref())))
}

/// The session id of a signed cookie value, if the signature holds.
pub fn identity_sid(snap: &RealmSnapshot, value: &str) -> Option<String> {
    let (sid, tag) = value.rsplit_once('.')?;
    let tag =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, tag).ok()?;
    hmac::verify(&cookie_key(snap)?, sid.as_bytes(), &tag).ok()?;
    Some(sid.to_string())
}

/// Adds the `AUTH_SESSION_ID` cookie that binds a form to this browser.
pub fn with_flow_cookie(mut r: Response, realm_path: &str, code: &str, secure: bool) -> Response {
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        realm_path,
        AUTH_SESSION_COOKIE,
        code,
        secure,
        None,
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// A cookie from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value scoped to the realm's path: HttpOnly; `Secure; SameSite=None` in a
/// secure context, `SameSite=Lax` elsewhere.
pub fn set_cookie(
    realm_path: &str,
    name: &str,
    value: &str,
    secure: bool,
    max_age: Option<i64>,
) -> String {
    cookie_line(realm_path, name, value, secure, max_age, true)
}

fn cookie_line(
    realm_path: &str,
    name: &str,
    value: &str,
    secure: bool,
    max_age: Option<i64>,
    http_only: bool,
) -> String {
    let mut c = format!("{name}={value}; Path={realm_path}/");
    if http_only {
        c.push_str("; HttpOnly");
    }
    c.push_str(if secure {
        "; Secure; SameSite=None"
    } else {
        "; SameSite=Lax"
    });
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// The `KEYCLOAK_SESSION` value of a session: base64url(SHA-256(session id)).
pub fn session_hash(sid: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sid.as_bytes());
    b64url(d.as_ref())
}

/// The `KEYCLOAK_SESSION` cookie (not HttpOnly: the session-status iframe reads it); an empty
/// `sid` with `Max-Age=0` clears it.
pub fn session_cookie(realm_path: &str, sid: &str, secure: bool, max_age: Option<i64>) -> String {
    let value = if sid.is_empty() {
        String::new()
    } else {
        session_hash(sid)
    };
    cookie_line(realm_path, SESSION_COOKIE, &value, secure, max_age, false)
}

/// The cookies of a completed login: the SSO cookie (a session cookie, or one of `max_age`
/// seconds for "remember me"), and the cleared `AUTH_SESSION_ID`, unless the answer binds a new
/// form (the consent page) with its own.
pub fn after_login(
    r: &mut Response,
    snap: &RealmSnapshot,
    sid: &str,
    secure: bool,
    max_age: Option<i64>,
) {
    let realm_path = crate::http::paths::url("", crate::http::paths::REALM, &snap.name);
    let form_pending = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with(AUTH_SESSION_COOKIE)));
    let identity = identity_value(snap, sid)
        .map(|v| set_cookie(&realm_path, IDENTITY_COOKIE, &v, secure, max_age));
    let session = Some(session_cookie(&realm_path, sid, secure, max_age));
    let cleared =
        (!form_pending).then(|| set_cookie(&realm_path, AUTH_SESSION_COOKIE, "", secure, Some(0)));
    for c in [identity, session, cleared].into_iter().flatten() {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// The SSO session id of this browser's `KEYCLOAK_IDENTITY` cookie, if its signature holds.
pub fn sso_sid(snap: &RealmSnapshot, headers: &HeaderMap) -> Option<String> {
    cookie(headers, IDENTITY_COOKIE).and_then(|v| identity_sid(snap, v))
}
