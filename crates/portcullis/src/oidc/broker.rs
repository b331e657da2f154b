//! GET /realms/{realm}/broker/{alias}/login and GET /realms/{realm}/broker/{alias}/endpoint
//! Keycloak's `IdentityBrokerService`: the login page's link to an identity provider, and the
//! provider's redirect back. Both bind to the browser's pending login (the `AUTH_SESSION_ID`
//! cookie); the callback's `state` must be the one sent, once. The login itself is
//! [`crate::authn::broker_login`]'s, the protocol with the provider [`crate::broker`]'s.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use crate::authn::broker_login::{self, PROVIDER_NOT_FOUND, UNEXPECTED_ERROR};
use crate::authn::browser::{self, Browser};
use crate::authn::cookies::{cookie, AUTH_SESSION_COOKIE};
use crate::authn::pages::error_page;
use crate::authn::reply::Reply;
use crate::authn::{flow, PendingLogin};
use crate::broker;
use crate::events::errors;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

use super::authorization_response::Oidc;
use super::authorize::unique_params;
use super::login_actions::issuer;

type Peer = Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>;

/// What both endpoints read first.
struct Head<'q> {
    snap: std::sync::Arc<RealmSnapshot>,
    issuer: String,
    base: String,
    params: HashMap<&'q str, &'q str>,
}

/// The realm, the request's issuer and base URL, its parameters (each at most once), or the
/// error page.
async fn head<'q>(
    state: &AppState,
    realm: &str,
    headers: &HeaderMap,
    uri: &Uri,
    q: &'q [(String, String)],
) -> Result<Head<'q>, Response> {
    let Ok(snap) = state.realm(realm).await else {
        return Err(error_page(StatusCode::NOT_FOUND, "Realm does not exist."));
    };
    let (Some(issuer), Ok(base)) = (
        issuer(state, &snap, headers, uri),
        state.base_url(headers, uri),
    ) else {
        return Err(error_page(StatusCode::BAD_REQUEST, "Invalid host."));
    };
    let params =
        unique_params(q).map_err(|message| error_page(StatusCode::BAD_REQUEST, &message))?;
    Ok(Head {
        snap,
        issuer,
        base,
        params,
    })
}

/// The browser login the provider's login continues.
fn browser<'a>(
    state: &'a AppState,
    h: &'a Head<'_>,
    reply: &'a Reply,
    headers: &'a HeaderMap,
    peer: Peer,
) -> Browser<'a> {
    Browser {
        state,
        snap: &h.snap,
        protocol: &Oidc,
        reply,
        headers,
        base: &h.base,
        remote: crate::http::remote::remote_addr(state, headers, peer.map(|p| (p.0).0)),
        max_age: None,
    }
}

/// The login's identity-provider event of a refused callback.
fn refused(
    state: &AppState,
    snap: &RealmSnapshot,
    pending: Option<&PendingLogin>,
    alias: &str,
    error: &str,
) {
    let mut e = match pending {
        Some(p) => crate::authn::login_event(snap, &p.request),
        None => crate::events::UserEvent::new(snap, "IDENTITY_PROVIDER_LOGIN"),
    };
    e.set_kind(snap, "IDENTITY_PROVIDER_LOGIN");
    e.set_detail("identity_provider", alias.to_string());
    e.error(state, error);
}

/// `GET /realms/{realm}/broker/{alias}/login?session_code=..` (with `client_id`, `tab_id`
/// as Keycloak's link has them): sends the pending login of this browser to the provider.
pub async fn login(
    State(state): State<AppState>,
    Path((realm_name, alias)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    peer: Peer,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let h = match head(&state, &realm_name, &headers, &uri, &q).await {
        Ok(h) => h,
        Err(page) => return page,
    };
    let (snap, params) = (&h.snap, &h.params);
    let session_code = params.get("session_code").copied();
    let (code, pending) = match flow::bound_flow::<PendingLogin>(
        state.store.as_ref(),
        &snap.id,
        &headers,
        session_code,
    )
    .await
    {
        Ok(bound) => bound,
        Err(page) => return page,
    };
    let client_matches = params
        .get("client_id")
        .is_none_or(|c| pending.request.client_id.as_deref() == Some(*c));
    if !client_matches
        || pending.reset_credentials == Some(true)
        || pending.request.client_id.is_none()
    {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    }
    let provider = match broker::provider(snap, &alias) {
        Ok(p) => p,
        Err(broker::Unusable::NotFound) => {
            return error_page(StatusCode::NOT_FOUND, PROVIDER_NOT_FOUND)
        }
        Err(broker::Unusable::Unsupported(m)) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let reply = Reply::to(&pending.request, &h.issuer);
    let b = browser(&state, &h, &reply, &headers, peer);
    broker_login::redirect(&b, Some(&code), pending, &provider).await
}

/// `GET /realms/{realm}/broker/{alias}/endpoint?code&state` (or `error`): the provider's
/// answer to the login this browser sent there.
pub async fn endpoint(
    State(state): State<AppState>,
    Path((realm_name, alias)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    peer: Peer,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let h = match head(&state, &realm_name, &headers, &uri, &q).await {
        Ok(h) => h,
        Err(page) => return page,
    };
    let (snap, params) = (&h.snap, &h.params);
    let provider = match broker::provider(snap, &alias) {
        Ok(p) => p,
        Err(_) => return error_page(StatusCode::NOT_FOUND, PROVIDER_NOT_FOUND),
    };
    let Some(sent_state) = params.get("state").filter(|s| !s.is_empty()) else {
        refused(&state, snap, None, &alias, errors::INVALID_REQUEST);
        return error_page(
            StatusCode::BAD_REQUEST,
            "Missing state parameter in response from identity provider.",
        );
    };
    // The pending login of this browser; its handshake must hold this state.
    let store = state.store.as_ref();
    let browser_code = cookie(&headers, AUTH_SESSION_COOKIE);
    let (code, mut pending) =
        match flow::bound_flow::<PendingLogin>(store, &snap.id, &headers, browser_code).await {
            Ok(bound) => bound,
            Err(page) => {
                refused(&state, snap, None, &alias, errors::INVALID_CODE);
                return page;
            }
        };
    let handshake = match pending.broker.take() {
        Some(h) if h.state_matches(&alias, sent_state) => h,
        other => {
            pending.broker = other;
            refused(&state, snap, Some(&pending), &alias, errors::INVALID_CODE);
            return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
        }
    };
    // Used once: the stored login loses the handshake before the answer is used.
    let lifespan = snap.settings.access_code_lifespan_login;
    if let Err(page) = flow::replace_flow(store, &snap.id, &code, &pending, lifespan).await {
        return page;
    }
    let reply = Reply::to(&pending.request, &h.issuer);
    let b = browser(&state, &h, &reply, &headers, peer);
    // `AbstractOAuth2IdentityProvider.Endpoint.authResponse`: `access_denied` cancels (the
    // login page, with Keycloak's message), any other error is unexpected.
    if let Some(error) = params.get("error").filter(|e| !e.is_empty()) {
        tracing::info!(realm = %snap.name, idp = %alias, error = %error.chars().take(64).collect::<String>(), "identity provider answered an error");
        let message = if *error == "access_denied" {
            broker_login::access_denied(&provider)
        } else {
            refused(
                &state,
                snap,
                Some(&pending),
                &alias,
                errors::IDENTITY_PROVIDER_LOGIN_FAILURE,
            );
            UNEXPECTED_ERROR.to_string()
        };
        return browser::login_again(&b, &code, pending, message).await;
    }
    let redirect_uri = broker::redirect_uri(&h.base, snap, &alias);
    let outcome = match params.get("code").filter(|c| !c.is_empty()) {
        Some(auth_code) => {
            broker::authenticate(
                &state.outbound,
                snap,
                &provider,
                &handshake,
                auth_code,
                &redirect_uri,
            )
            .await
        }
        None => Err(broker::BrokerError("no code in the answer".into())),
    };
    match outcome {
        Ok(identity) => broker_login::complete(&b, &code, pending, &provider, identity).await,
        Err(e) => {
            tracing::warn!(realm = %snap.name, idp = %alias, error = %e, "identity provider login failed");
            refused(
                &state,
                snap,
                Some(&pending),
                &alias,
                errors::IDENTITY_PROVIDER_LOGIN_FAILURE,
            );
            browser::login_again(&b, &code, pending, UNEXPECTED_ERROR.to_string()).await
        }
    }
}
