//! GET /realms/{realm}/protocol/openid-connect/registrations  (Keycloak's `registrations`)
//! GET|POST /realms/{realm}/login-actions/registration
//! Self-registration: an authorization request that starts on the registration page (also
//! the link of an organization invitation, with its `token`), the login page's "Register"
//! link, and the page's form. The flow itself is [`crate::authn::register`]'s.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use crate::authn::pages::error_page;
use crate::authn::register::{self, Invitation};
use crate::authn::{flow, AuthRequest, PendingLogin};
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

use super::authorization_response::Oidc;
use super::form::Form;
use super::login_actions::{bind, issuer};
use crate::http::oauth_error::OAuthError;

/// Shows the registration page for a validated authorization request, where registration is
/// allowed (by the realm, or by the invitation): Keycloak's `AuthorizationEndpoint.register`
/// and `buildRegister`.
pub(super) async fn begin(
    state: &AppState,
    snap: &RealmSnapshot,
    request: AuthRequest,
    invitation: Option<(&str, &Invitation)>,
    secure: bool,
) -> Response {
    if invitation.is_none() && !register::realm_allows(snap) {
        return error_page(StatusCode::BAD_REQUEST, register::NOT_ALLOWED);
    }
    register::show(
        state,
        snap,
        None,
        PendingLogin::of(request),
        invitation,
        secure,
    )
    .await
}

/// GET of the registration endpoint: the invitation's token checked first, then whether
/// registration is allowed, then the authorization request as the authorization endpoint
/// checks it (Keycloak's order).
pub async fn start(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let Ok(snap) = state.realm(&realm).await else {
        return error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let mut params = match super::authorize::unique_params(&q) {
        Ok(p) => p,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let token = params
        .remove("token")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let invitation = match &token {
        None => None,
        Some(t) => match register::open_invitation(&state, &snap, &issuer, t).await {
            Ok(i) => Some(i),
            Err(page) => return page,
        },
    };
    if invitation.is_none() && !register::realm_allows(&snap) {
        return error_page(StatusCode::BAD_REQUEST, register::NOT_ALLOWED);
    }
    let base = state.base_url(&headers, &uri).unwrap_or_default();
    let (request, reply) = match super::authorize::validated(&snap, params, &issuer, &base) {
        Ok(valid) => valid,
        Err(r) => return *r,
    };
    let invited = token.as_deref().zip(invitation.as_ref());
    begin(&state, &snap, request, invited, reply.secure()).await
}

#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    session_code: Option<String>,
}

/// GET of the registration page for a pending login (the login page's "Register" link).
pub async fn page(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<PageQuery>,
) -> Response {
    let Ok(snap) = state.realm(&realm).await else {
        return error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let (code, pending): (String, PendingLogin) = match flow::bound_flow(
        state.store.as_ref(),
        &snap.id,
        &headers,
        q.session_code.as_deref(),
    )
    .await
    {
        Ok(bound) => bound,
        Err(page) => return page,
    };
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    // A page shown again keeps its invitation.
    let token = pending
        .registration
        .as_ref()
        .and_then(|r| r.invitation.clone());
    let invitation = match &token {
        None => None,
        Some(t) => match register::open_invitation(&state, &snap, &issuer, t).await {
            Ok(i) => Some(i),
            Err(page) => return page,
        },
    };
    if let Some(refused) = register::refused_start(&state, &snap, &pending, invitation.is_some()) {
        return refused;
    }
    let secure = crate::authn::reply::Reply::to(&pending.request, &issuer).secure();
    let invited = token.as_deref().zip(invitation.as_ref());
    register::show(&state, &snap, Some(&code), pending, invited, secure).await
}

/// POST of the registration form.
pub async fn submit(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Response {
    let (snap, params, code, pending) = match bind(&state, &realm, &headers, &uri, form).await {
        Ok(bound) => bound,
        Err(page) => return page,
    };
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let base = state.base_url(&headers, &uri).unwrap_or_default();
    let post = register::Post {
        state: &state,
        snap: &snap,
        protocol: &Oidc,
        issuer: &issuer,
        base: &base,
    };
    let fields = |k: &str| params.get(k);
    register::post(&post, &code, pending, &fields).await
}
