//! GET /realms/{realm}/protocol/openid-connect/certs
//! RFC 7517 JWK Set of the realm's enabled public keys, served from pre-serialized bytes.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::http::error::HttpError;
use crate::AppState;

/// Handler.
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, HttpError> {
    let snap = state.realm(&realm).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        snap.jwks.clone(),
    )
        .into_response())
}
