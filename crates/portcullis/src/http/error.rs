//! Error bodies of the non-protocol endpoints, as Keycloak's `KeycloakErrorHandler` writes
//! them for JAX-RS exceptions: `{"error": "...", "error_description": "For more on this error
//! consult the server log."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answered with Keycloak's generic body.
#[derive(Debug)]
pub struct HttpError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `error` text.
    pub error: &'static str,
}

impl HttpError {
    /// `404 {"error": "Realm does not exist"}`: unknown or disabled realm.
    pub fn realm_not_found() -> Self {
        HttpError {
            status: StatusCode::NOT_FOUND,
            error: "Realm does not exist",
        }
    }
    /// `500` without internals.
    pub fn internal() -> Self {
        HttpError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "unknown_error",
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.error, "error_description": "For more on this error consult the server log." })),
        )
            .into_response()
    }
}
