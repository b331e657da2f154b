//! The pending browser flow: data stored under a random code (`store.put_auth_session`) and
//! bound to the browser by the `AUTH_SESSION_ID` cookie.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::realm::snapshot::RealmSnapshot;
use crate::store::Store;

use super::cookies::{cookie, with_flow_cookie, AUTH_SESSION_COOKIE};
use super::pages::{error_page, html, internal_error};

/// The pending browser flow a login-actions form belongs to: its `session_code` must equal this
/// browser's `AUTH_SESSION_ID` cookie (the CSRF binding) and name a live auth session of the
/// realm. Returns the code and the flow's data (its default when the stored data does not
/// parse), or the error page to answer.
pub async fn bound_flow<T: DeserializeOwned + Default>(
    store: &dyn Store,
    realm_id: &str,
    headers: &HeaderMap,
    session_code: Option<&str>,
) -> Result<(String, T), Response> {
    let expired = || {
        error_page(StatusCode::BAD_REQUEST, "Your login attempt timed out or was made from another browser. Login will start from the beginning.")
    };
    let code =
        session_code.ok_or_else(|| error_page(StatusCode::BAD_REQUEST, "Invalid Request."))?;
    let bound = cookie(headers, AUTH_SESSION_COOKIE).is_some_and(|c| {
        aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), code.as_bytes()).is_ok()
    });
    if !bound {
        return Err(expired());
    }
    match store.auth_session(code, crate::clock::now()).await {
        Ok(Some(row)) if row.realm_id == realm_id => Ok((
            code.to_string(),
            serde_json::from_str(&row.data).unwrap_or_default(),
        )),
        _ => Err(expired()),
    }
}

/// Starts a browser flow step: stores `data` under a new random code for `lifespan` seconds,
/// renders the page for that code, and binds it to this browser with the flow cookie.
pub async fn start_flow<T: Serialize + ?Sized>(
    store: &dyn Store,
    snap: &RealmSnapshot,
    data: &T,
    lifespan: i64,
    secure: bool,
    render: impl FnOnce(&str) -> String,
) -> Response {
    start_flow_with(store, snap, data, lifespan, secure, |code| {
        html(StatusCode::OK, render(code))
    })
    .await
}

/// As [`start_flow`], answering with `respond` for the new code (a redirect to an identity
/// provider instead of a page).
pub async fn start_flow_with<T: Serialize + ?Sized>(
    store: &dyn Store,
    snap: &RealmSnapshot,
    data: &T,
    lifespan: i64,
    secure: bool,
    respond: impl FnOnce(&str) -> Response,
) -> Response {
    let code = crate::crypto::random_alphanumeric(40);
    let Ok(data) = serde_json::to_string(data) else {
        return internal_error();
    };
    if store
        .put_auth_session(&code, &snap.id, &data, crate::clock::now() + lifespan)
        .await
        .is_err()
    {
        return internal_error();
    }
    with_flow_cookie(
        respond(&code),
        &crate::http::paths::url("", crate::http::paths::REALM, &snap.name),
        &code,
        secure,
    )
}

/// Replaces the data of a flow under the same code (the form's `session_code` stays valid),
/// for `lifespan` seconds from now: one write, which replaces the stored row.
pub async fn replace_flow<T: Serialize>(
    store: &dyn Store,
    realm_id: &str,
    code: &str,
    data: &T,
    lifespan: i64,
) -> Result<(), Response> {
    let data = serde_json::to_string(data).map_err(|_| internal_error())?;
    store
        .replace_auth_session(code, realm_id, &data, crate::clock::now() + lifespan)
        .await
        .map_err(|_| internal_error())
}
