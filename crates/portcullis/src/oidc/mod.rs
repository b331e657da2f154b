//! OpenID Connect protocol endpoints under `/realms/{realm}`.

pub mod certs;
pub mod discovery;
pub mod realm_info;

use axum::routing::get;
use axum::Router;

use crate::http::paths;
use crate::AppState;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::REALM, get(realm_info::get))
        .route(paths::DISCOVERY, get(discovery::get))
        .route(paths::CERTS, get(certs::get))
}
