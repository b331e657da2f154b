//! PUT /realms/{realm}/testing/time-offset
//! GET /realms/{realm}/testing/clear-expired-events
//! What Keycloak's test-suite provider (`TestingResourceProvider.setTimeOffset`) serves, for
//! test suites that must see tokens, codes and sessions expire without sleeping. Routed only
//! by `start-dev --testing-clock=true`; `start` refuses the option.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::http::error::HttpError;
use crate::http::paths;
use crate::AppState;

/// The routes, when the option is on.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::TESTING_TIME_OFFSET, put(set_time_offset))
        .route(
            paths::TESTING_CLEAR_EXPIRED_EVENTS,
            get(clear_expired_events),
        )
}

/// Runs the sweep of expired login and admin events now, for every realm, and answers 204
/// (Keycloak's `TestingResourceProvider.clearExpiredEvents`), so a suite that moved the clock
/// need not wait for the periodic sweep.
async fn clear_expired_events(State(state): State<AppState>) -> StatusCode {
    crate::events::sweep(state.store.as_ref(), &state.realms).await;
    StatusCode::NO_CONTENT
}

/// `{"offset": "<seconds>"}` (a string, as Keycloak's map of strings, or a number) moves the
/// clock; the answer is Keycloak's `{"currentTime": ..., "offset": ...}`.
async fn set_time_offset(body: Json<Map<String, Value>>) -> Result<Json<Value>, HttpError> {
    let offset = match body.get("offset") {
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
    .ok_or(HttpError {
        status: StatusCode::BAD_REQUEST,
        error: "offset must be a whole number of seconds",
    })?;
    crate::clock::set_offset(offset);
    tracing::warn!(offset, "testing clock moved");
    Ok(Json(json!({
        "currentTime": crate::clock::now().to_string(),
        "offset": offset.to_string(),
    })))
}
