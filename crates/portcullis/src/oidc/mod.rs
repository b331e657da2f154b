//! OpenID Connect protocol endpoints under `/realms/{realm}`.

pub mod authorization_response;
pub mod authorize;
pub mod bearer;
pub mod broker;
pub mod certs;
pub mod ciba;
pub mod client_auth;
pub mod device;
pub mod device_verify;
pub mod discovery;
pub mod end_session;
pub mod form;
pub mod iframes;
pub mod introspect;
pub mod login_actions;
pub mod logout;
pub mod par;
pub mod realm_info;
pub mod redirect;
pub mod registrations;
pub mod reset_credentials;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::routing::{get, post};
use axum::Router;

use crate::http::paths;
use crate::AppState;

/// The realm of a protocol request and its issuer URL, or a protocol-shaped error.
pub async fn realm_and_issuer(
    state: &AppState,
    realm: &str,
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
) -> Result<
    (
        std::sync::Arc<crate::realm::snapshot::RealmSnapshot>,
        String,
    ),
    crate::http::oauth_error::OAuthError,
> {
    let snap = state.realm(realm).await.map_err(|_| {
        crate::http::oauth_error::OAuthError::invalid_request("Realm does not exist")
    })?;
    let base = state
        .base_url(headers, uri)
        .map_err(|_| crate::http::oauth_error::OAuthError::invalid_request("invalid host"))?;
    let issuer = paths::url(&base, paths::REALM, &snap.name);
    Ok((snap, issuer))
}

/// The routes of this family. The token, userinfo, logout, discovery and JWKS endpoints answer CORS through
/// `http::cors` layers (and `OPTIONS` preflights), as Keycloak's endpoints do.
pub fn routes(state: &AppState) -> Router<AppState> {
    use crate::http::cors::layers as cors;
    use axum::middleware::from_fn_with_state;
    Router::new()
        .route(paths::REALM, get(realm_info::get))
        .route(
            paths::DISCOVERY,
            get(discovery::get)
                .layer(axum::middleware::from_fn(cors::public))
                .options(cors::preflight_get),
        )
        .route(
            paths::UMA_DISCOVERY,
            get(discovery::get_uma)
                .layer(axum::middleware::from_fn(cors::public))
                .options(cors::preflight_get),
        )
        .route(
            paths::CERTS,
            get(certs::get)
                .layer(axum::middleware::from_fn(cors::public))
                .options(cors::preflight_get),
        )
        .route(paths::AUTH, get(authorize::get))
        .route(
            paths::PAR,
            post(par::post)
                .layer(from_fn_with_state(state.clone(), cors::par))
                .options(cors::preflight_post),
        )
        .route(paths::LOGIN_ACTION, post(login_actions::authenticate))
        .route(paths::REQUIRED_ACTION, post(login_actions::required_action))
        .route(paths::CONSENT_ACTION, post(login_actions::consent))
        .route(
            paths::FIRST_BROKER_LOGIN,
            get(login_actions::first_broker_login_get).post(login_actions::first_broker_login),
        )
        .route(paths::REGISTRATIONS, get(registrations::start))
        .route(paths::BROKER_LOGIN, get(broker::login))
        .route(paths::BROKER_ENDPOINT, get(broker::endpoint))
        .route(
            paths::LOGIN_REGISTRATION,
            get(registrations::page).post(registrations::submit),
        )
        .route(
            paths::RESET_CREDENTIALS,
            get(reset_credentials::get).post(reset_credentials::post),
        )
        .route(paths::DEVICE_AUTH, post(device::post))
        .route(paths::DEVICE_AUTH_ALIAS, post(device::post))
        .route(
            paths::DEVICE,
            get(device_verify::get).post(device_verify::post),
        )
        .route(paths::DEVICE_CONSENT, post(device_verify::consent))
        .route(paths::CIBA_AUTH, post(ciba::auth))
        .route(paths::CIBA_CALLBACK, post(ciba::callback))
        .route(
            paths::TOKEN,
            post(token::post)
                .layer(from_fn_with_state(state.clone(), cors::token))
                .options(cors::preflight_post),
        )
        .route(
            paths::USERINFO,
            get(userinfo::handle)
                .post(userinfo::handle)
                .layer(from_fn_with_state(state.clone(), cors::userinfo))
                .options(cors::preflight_default),
        )
        .route(paths::LOGIN_STATUS_IFRAME, get(iframes::login_status))
        .route(paths::LOGIN_STATUS_IFRAME_INIT, get(iframes::init))
        .route(
            paths::THIRD_PARTY_COOKIES_STEP1,
            get(iframes::third_party_step1),
        )
        .route(
            paths::THIRD_PARTY_COOKIES_STEP2,
            get(iframes::third_party_step2),
        )
        .route(paths::INTROSPECT, post(introspect::post))
        .route(paths::REVOKE, post(revoke::post))
        .route(
            paths::LOGOUT,
            get(end_session::get)
                .post(logout::post)
                .layer(from_fn_with_state(state.clone(), cors::logout))
                .options(cors::preflight_default),
        )
        .route(paths::LOGOUT_CONFIRM, post(end_session::confirm))
}
