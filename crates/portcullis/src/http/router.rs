//! Merges each family's routes.

use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use axum::routing::get;

use crate::{admin, health, metrics, oidc, AppState};

/// The public router (main port).
pub fn router(state: AppState) -> Router {
    let mut r = Router::new().merge(oidc::routes()).merge(admin::routes());
    if state.config.health_enabled {
        r = r.merge(health::routes());
    }
    if state.config.metrics_enabled {
        r = r.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ));
    }
    r.layer(CatchPanicLayer::new()).with_state(state)
}

/// The management router (port 9000): health and metrics when enabled.
pub fn management_router(state: AppState) -> Router {
    let mut r = Router::new();
    if state.config.health_enabled {
        r = r.merge(health::routes());
    }
    if state.config.metrics_enabled {
        r = r.route(crate::http::paths::METRICS, get(metrics::get));
    }
    r.with_state(state)
}
