//! GET /realms/{realm}
//! Keycloak's `PublishedRealmRepresentation`: realm name, public key, service URLs.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::Json;
use serde_json::{json, Value};

use crate::http::error::HttpError;
use crate::http::paths;
use crate::AppState;

/// Handler.
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, HttpError> {
    let snap = state.realm(&realm).await?;
    let base = state.base_url(&headers, &uri)?;
    let realm_url = paths::url(&base, paths::REALM, &snap.name);
    Ok(Json(json!({
        "realm": snap.name,
        "public_key": snap.public_key,
        "token-service": format!("{realm_url}/protocol/openid-connect"),
        "account-service": format!("{realm_url}/account"),
        "tokens-not-before": snap.not_before,
    })))
}
