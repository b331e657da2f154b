//! GET /health, /health/live, /health/ready: MicroProfile Health shaped answers, as
//! Keycloak's management interface gives them. Readiness checks the store.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::http::paths;
use crate::AppState;

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::HEALTH_LIVE, get(live))
        .route(paths::HEALTH_READY, get(ready))
        .route(paths::HEALTH, get(ready))
}

async fn live() -> Json<Value> {
    Json(json!({ "status": "UP", "checks": [] }))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ok = state.store.ping().await.is_ok();
    let status = if ok { "UP" } else { "DOWN" };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": status,
            "checks": [{ "name": "Keycloak database connections health check", "status": status, "data": { "backend": state.store.backend() } }]
        })),
    )
}
