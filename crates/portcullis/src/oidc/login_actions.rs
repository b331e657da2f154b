//! POST /realms/{realm}/login-actions/{authenticate,required-action,consent}
//! The forms of a browser login. Each handler binds the form to its pending login (the
//! `AUTH_SESSION_ID` cookie), then hands over to the step in [`crate::authn::steps`].

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use crate::authn::browser::{self, Browser};
use crate::authn::pages::error_page;
use crate::authn::reply::Reply;
use crate::authn::steps::{consent, required_action};
use crate::authn::{flow, PendingLogin};
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

use super::authorization_response::Oidc;
use super::form::{Form, Params};
use crate::http::oauth_error::OAuthError;

/// The realm's issuer URL for this request, `None` for an invalid host.
pub(crate) fn issuer(
    state: &AppState,
    snap: &RealmSnapshot,
    headers: &HeaderMap,
    uri: &Uri,
) -> Option<String> {
    let base = state.base_url(headers, uri).ok()?;
    Some(crate::http::paths::url(
        &base,
        crate::http::paths::REALM,
        &snap.name,
    ))
}

/// The realm, the form and its pending login, or the error page.
pub(super) async fn bind(
    state: &AppState,
    realm: &str,
    headers: &HeaderMap,
    uri: &Uri,
    form: Result<Form, OAuthError>,
) -> Result<(std::sync::Arc<RealmSnapshot>, Params, String, PendingLogin), Response> {
    let Ok(snap) = state.realm(realm).await else {
        return Err(error_page(StatusCode::NOT_FOUND, "Realm does not exist."));
    };
    let Ok(Form(params)) = form else {
        return Err(error_page(StatusCode::BAD_REQUEST, "Invalid Request."));
    };
    let store = state.store.as_ref();
    // The session code comes with the form, or in the action URL's query (Keycloak's forms
    // post to `...?session_code=...`).
    let from_query = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "session_code")
            .map(|(_, v)| v.into_owned())
    });
    let code = params.get("session_code").or(from_query.as_deref());
    let (code, pending) = flow::bound_flow(store, &snap.id, headers, code).await?;
    Ok((snap, params, code, pending))
}

/// The browser login a post continues.
#[derive(Clone, Copy)]
enum Continues {
    /// The login flow (the login form and the pages of its steps).
    Login,
    /// The first broker login (review profile, confirm link, re-authentication).
    FirstBrokerLogin,
}

/// POST of the login form.
pub async fn authenticate(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    form: Result<Form, OAuthError>,
) -> Response {
    let peer = peer.map(|p| (p.0).0);
    browser_post(&state, &realm, &headers, &uri, peer, form, Continues::Login).await
}

/// POST of a page of the first broker login (review profile, confirm link,
/// re-authentication); refused without one in progress.
pub async fn first_broker_login(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    form: Result<Form, OAuthError>,
) -> Response {
    let peer = peer.map(|p| (p.0).0);
    let which = Continues::FirstBrokerLogin;
    browser_post(&state, &realm, &headers, &uri, peer, form, which).await
}

/// GET of the first broker login's action URL (`LoginActionsService.firstBrokerLoginGet`):
/// the links of the e-mail verification page (`?session_code=..&execution=..`).
pub async fn first_broker_login_get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
) -> Response {
    let peer = peer.map(|p| (p.0).0);
    let query = Params::parse(uri.query().unwrap_or_default().as_bytes()).map(Form);
    let (snap, params, code, pending) = match bind(&state, &realm, &headers, &uri, query).await {
        Ok(bound) => bound,
        Err(page) => return page,
    };
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let reply = Reply::to(&pending.request, &issuer);
    let base = state.base_url(&headers, &uri).unwrap_or_default();
    let browser = Browser {
        state: &state,
        snap: &snap,
        protocol: &Oidc,
        reply: &reply,
        headers: &headers,
        base: &base,
        remote: crate::http::remote::remote_addr(&state, &headers, peer),
        max_age: None,
    };
    let fields = |k: &str| params.get(k);
    let execution = params.get("execution");
    crate::authn::first_broker::resume_get(&browser, &code, pending, execution, &fields).await
}

/// The `idp-verify-account-via-email` link opened in the browser of the first broker login
/// that sent it (the action-token endpoint checked and used the token): that login goes on.
pub async fn first_broker_link_verified(
    state: &AppState,
    snap: &RealmSnapshot,
    headers: &HeaderMap,
    base: &str,
    remote: Option<std::net::IpAddr>,
    (code, pending): (&str, PendingLogin),
    idp_username: &str,
) -> Response {
    let issuer = crate::http::paths::url(base, crate::http::paths::REALM, &snap.name);
    let reply = Reply::to(&pending.request, &issuer);
    let browser = Browser {
        state,
        snap,
        protocol: &Oidc,
        reply: &reply,
        headers,
        base,
        remote,
        max_age: None,
    };
    crate::authn::first_broker::link_verified(&browser, code, pending, idp_username).await
}

/// A post of a browser login's page: the flow bound to this browser continues with the form.
async fn browser_post(
    state: &AppState,
    realm: &str,
    headers: &HeaderMap,
    uri: &Uri,
    peer: Option<std::net::SocketAddr>,
    form: Result<Form, OAuthError>,
    which: Continues,
) -> Response {
    let (snap, params, code, pending) = match bind(state, realm, headers, uri, form).await {
        Ok(bound) => bound,
        Err(page) => return page,
    };
    let Some(issuer) = issuer(state, &snap, headers, uri) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let reply = Reply::to(&pending.request, &issuer);
    let base = state.base_url(headers, uri).unwrap_or_default();
    let browser = Browser {
        state,
        snap: &snap,
        protocol: &Oidc,
        reply: &reply,
        headers,
        base: &base,
        remote: crate::http::remote::remote_addr(state, headers, peer),
        max_age: None,
    };
    let fields = |k: &str| params.get(k);
    match which {
        Continues::Login => browser::resume(&browser, &code, pending, &fields).await,
        Continues::FirstBrokerLogin => {
            crate::authn::first_broker::resume(&browser, &code, pending, &fields).await
        }
    }
}

/// POST of a required action's page (the action whose page the flow showed handles it).
pub async fn required_action(
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
    let reply = Reply::to(&pending.request, &issuer);
    let base = state.base_url(&headers, &uri).unwrap_or_default();
    let actions = required_action::Actions {
        state: &state,
        snap: &snap,
        protocol: &Oidc,
        reply: &reply,
        base: &base,
    };
    let fields = |k: &str| params.get(k);
    required_action::post(&actions, &code, pending, &fields).await
}

/// POST of the consent form: `accept=yes` grants, anything else refuses.
pub async fn consent(
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
    let issuer = issuer(&state, &snap, &headers, &uri);
    let accept = params.get("accept") == Some("yes");
    consent::decide(
        &state,
        &snap,
        &Oidc,
        &code,
        &pending,
        issuer.as_deref(),
        accept,
    )
    .await
}
