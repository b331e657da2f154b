//! The service's error bodies: `{"error": "<code>", "message": "<what went wrong>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answered to the caller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or names something that cannot exist.
    #[error("{0}")]
    BadRequest(String),
    /// 403: the policy said no, or `X-Tenant-Id` disagrees with the token.
    #[error("{0}")]
    Forbidden(String),
    /// 403: `X-Tenant-Id` disagrees with the token's issuer.
    #[error("{0}")]
    TenantMismatch(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: the tenant, realm or user exists.
    #[error("{0}")]
    Conflict(String),
    /// 502: Portcullis failed.
    #[error("{0}")]
    Upstream(String),
    /// 500: this service failed (the database); details are logged, not answered.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TenantMismatch(_) => (StatusCode::FORBIDDEN, "tenant_mismatch"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, "identity_provider_error"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        };
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; see the service log".to_owned()
            }
            other => other.to_string(),
        };
        (status, Json(json!({"error": code, "message": message}))).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}
