//! OpenID Connect protocol endpoints under `/realms/{realm}`.

pub mod authorize;
pub mod bearer;
pub mod certs;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod form;
pub mod introspect;
pub mod issue;
pub mod logout;
pub mod realm_info;
pub mod redirect;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::routing::{get, post};
use axum::Router;

use crate::http::paths;
use crate::AppState;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::REALM, get(realm_info::get))
        .route(paths::DISCOVERY, get(discovery::get))
        .route(paths::CERTS, get(certs::get))
        .route(paths::AUTH, get(authorize::get))
        .route(authorize::LOGIN_ACTION, post(authorize::authenticate))
        .route(paths::TOKEN, post(token::post))
        .route(
            paths::USERINFO,
            get(userinfo::handle).post(userinfo::handle),
        )
        .route(paths::INTROSPECT, post(introspect::post))
        .route(paths::REVOKE, post(revoke::post))
        .route(paths::LOGOUT, post(logout::post))
}
