//! Merges each family's routes.

use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::{health, oidc, AppState};

/// The public router (main port).
pub fn router(state: AppState) -> Router {
    let mut r = Router::new().merge(oidc::routes());
    if state.config.health_enabled {
        r = r.merge(health::routes());
    }
    r.layer(CatchPanicLayer::new()).with_state(state)
}

/// The management router (port 9000): health when enabled.
pub fn management_router(state: AppState) -> Router {
    let mut r = Router::new();
    if state.config.health_enabled {
        r = r.merge(health::routes());
    }
    r.with_state(state)
}
