//! GET|POST /realms/{realm}/login-actions/reset-credentials  (Keycloak's
//! `LoginActionsService.resetCredentialsGET` / `resetCredentialsPOST`)
//!
//! The "Forgot Password?" link of the login page. GET starts the realm's reset credentials
//! flow for the browser's pending login (its `AUTH_SESSION_ID` cookie), else for `client_id`
//! (else the account console); POST is the choose-user form. The flow is
//! [`crate::authn::reset`]; the mail's link comes back through the action-token endpoint
//! ([`from_token`]). A realm without `resetPasswordAllowed` answers Keycloak's "Reset
//! Credential not allowed" (400).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use crate::authn::cookies::{cookie, AUTH_SESSION_COOKIE};
use crate::authn::pages::error_page;
use crate::authn::reply::Reply;
use crate::authn::reset::{self, Reset};
use crate::authn::{flow, PendingLogin};
use crate::http::oauth_error::OAuthError;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

use super::authorization_response::Oidc;
use super::form::Form;
use super::login_actions::issuer;

/// The query of the link (`client_id`, `tab_id` as Keycloak's login page sends them).
#[derive(Debug, Deserialize)]
pub struct ResetQuery {
    client_id: Option<String>,
}

/// The browser's pending login of this realm (found by its flow cookie), if any.
async fn current_login(
    state: &AppState,
    snap: &RealmSnapshot,
    headers: &HeaderMap,
) -> Option<PendingLogin> {
    let code = cookie(headers, AUTH_SESSION_COOKIE)?;
    let row = state
        .store
        .auth_session(code, crate::clock::now())
        .await
        .ok()??;
    if row.realm_id != snap.id {
        return None;
    }
    let p: PendingLogin = serde_json::from_str(&row.data).ok()?;
    // A device verification or a login already past its steps has no client request to serve.
    let usable = p.request.client_id.is_some()
        && p.request.redirect_uri.is_some()
        && p.device_user_code.is_none()
        && p.device_verify.is_none()
        && p.pending_user.is_none();
    usable.then_some(p)
}

/// GET: the choose-user page (or, with an SSO session, the mail at once).
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<ResetQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Ok(snap) = state.realm(&realm).await else {
        return error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    if !reset::allowed(&snap) {
        return reset::not_allowed(&state, &snap, q.client_id.as_deref());
    }
    let (Some(issuer), Ok(base)) = (
        issuer(&state, &snap, &headers, &uri),
        state.base_url(&headers, &uri),
    ) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let request = match current_login(&state, &snap, &headers).await {
        Some(p) => p.request,
        None => reset::request_for_client(&snap, &base, q.client_id.as_deref()),
    };
    let reply = Reply::to(&request, &issuer);
    let r = Reset {
        state: &state,
        snap: &snap,
        protocol: &Oidc,
        reply: &reply,
        headers: &headers,
        base: &base,
    };
    reset::start(&r, request).await
}

/// POST: the choose-user form (`username`), bound to its flow by `session_code` and the
/// browser's cookie.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Response {
    let Ok(snap) = state.realm(&realm).await else {
        return error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    if !reset::allowed(&snap) {
        return reset::not_allowed(&state, &snap, None);
    }
    let from_query = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "session_code")
            .map(|(_, v)| v.into_owned())
    });
    let code = params.get("session_code").or(from_query.as_deref());
    let (code, pending) = match flow::bound_flow::<PendingLogin>(
        state.store.as_ref(),
        &snap.id,
        &headers,
        code,
    )
    .await
    {
        Ok(bound) => bound,
        Err(page) => return page,
    };
    if pending.reset_credentials != Some(true) {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    }
    let (Some(issuer), Ok(base)) = (
        issuer(&state, &snap, &headers, &uri),
        state.base_url(&headers, &uri),
    ) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let reply = Reply::to(&pending.request, &issuer);
    let r = Reset {
        state: &state,
        snap: &snap,
        protocol: &Oidc,
        reply: &reply,
        headers: &headers,
        base: &base,
    };
    let fields = |k: &str| params.get(k);
    reset::resume(&r, &code, pending, &fields).await
}

/// The mail's link, used up by the action-token endpoint: the flow continues for `user_id`
/// (the token's `sub`), from its kept state `asid` or anew for `client_id` (`azp`).
pub async fn from_token(
    state: &AppState,
    snap: &RealmSnapshot,
    base: &str,
    headers: &HeaderMap,
    user_id: &str,
    asid: Option<&str>,
    client_id: &str,
) -> Response {
    let issuer = crate::http::paths::url(base, crate::http::paths::REALM, &snap.name);
    let kept = reset::take_kept(state, snap, asid).await;
    let request = match &kept {
        Some(p) => p.request.clone(),
        None => reset::request_for_client(snap, base, Some(client_id)),
    };
    let reply = Reply::to(&request, &issuer);
    let r = Reset {
        state,
        snap,
        protocol: &Oidc,
        reply: &reply,
        headers,
        base,
    };
    reset::from_token(&r, user_id, kept, request).await
}
