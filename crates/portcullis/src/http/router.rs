//! Merges each family's routes.

use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use axum::routing::get;

use crate::{account, admin, client_registration, health, metrics, oidc, AppState};

/// The public router (main port).
pub fn router(state: AppState) -> Router {
    let mut r = Router::new()
        .merge(oidc::routes(&state))
        .merge(account::routes())
        .merge(crate::action_token::routes())
        .merge(admin::routes())
        .merge(client_registration::routes());
    if state.config.health_enabled {
        r = r.merge(health::routes());
    }
    if state.config.testing_clock {
        r = r.merge(crate::testing::routes());
    }
    if state.config.metrics_enabled {
        r = r.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ));
    }
    let admin_state = state.clone();
    let rate_limits = super::rate_limit::RateLimitState {
        app: state.clone(),
        limits: std::sync::Arc::new(super::rate_limit::RateLimits::new(
            state.config.limits.rate_limit_per_ip,
            state.config.limits.rate_limit_per_client,
        )),
    };
    let r = r
        .layer(axum::middleware::from_fn(super::unavailable::layer))
        // The request context of events (the caller's address, the Admin API caller) and
        // the admin events of Admin API writes.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::events::context::layer,
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            rate_limits,
            super::rate_limit::layer,
        ))
        // `limits::layer` reads every body within its endpoint's limit; axum's own default
        // (2 MB for every extractor) would refuse realm imports the option allows.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::limits::layer,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(super::token_size::layer))
        .layer(axum::middleware::from_fn(super::request_id::layer))
        .with_state(state);
    // JAX-RS matches a path with or without a trailing slash (`POST /admin/realms/` is what
    // @keycloak/keycloak-admin-client sends); an unmatched path ending in `/` is tried again
    // without it. An unmatched Admin API path gets Keycloak's JSON 404 (`admin::unmatched`).
    // A request no route matched is counted under the route `UNKNOWN` (Micrometer's name);
    // one retried without its trailing slash is counted by the route it then matches.
    let inner = r.clone();
    r.fallback(move |req: axum::extract::Request| {
        let (inner, state) = (inner.clone(), admin_state.clone());
        async move {
            let start = std::time::Instant::now();
            let method = req.method().to_string();
            let path = req.uri().path();
            let retried = path.len() > 1 && path.ends_with('/');
            let metrics = state.config.metrics_enabled.then(|| state.metrics.clone());
            let res = trailing_slash(inner, state, req).await;
            if let (Some(m), false) = (metrics, retried) {
                m.record(
                    &method,
                    res.status().as_u16(),
                    "UNKNOWN",
                    start.elapsed().as_secs_f64(),
                );
            }
            res
        }
    })
}

async fn trailing_slash(
    router: Router,
    state: AppState,
    mut req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    let path = req.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        if path.starts_with("/admin/") {
            return admin::unmatched::answer(state, req).await;
        }
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let trimmed = path.trim_end_matches('/');
    let pq = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    let Ok(uri) = pq.parse::<axum::http::Uri>() else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    *req.uri_mut() = uri;
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    }
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
