//! `/admin/realms/{realm}/clients-initial-access`: tokens that let a script register clients
//! (`/clients-registrations`). The token is shown once, at creation; only its hash is stored.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{ManageClients, RealmAdmin};
use super::{new_id, no_content, AdminError, AdminResult};
use crate::http::paths;
use crate::store::InitialAccessRow;
use crate::AppState;

/// `ClientInitialAccessCreatePresentation`.
#[derive(Debug, Deserialize)]
struct CreateRequest {
    expiration: Option<i64>,
    count: Option<i64>,
}

fn presentation(r: &InitialAccessRow, token: Option<&str>) -> Value {
    let mut v = json!({
        "id": r.id,
        "timestamp": r.created_at,
        "expiration": r.expiration,
        "count": r.count,
        "remainingCount": r.remaining,
    });
    if let Some(t) = token {
        v["token"] = json!(t);
    }
    v
}

/// `POST /clients-initial-access`: `{"expiration": seconds, "count": uses}`; 0 means no
/// limit for the expiration and one use for the count.
pub async fn create(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClients>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let req: CreateRequest =
        super::representation(&bytes, &super::Shape::One(&super::jackson::INITIAL_ACCESS))?;
    let expiration = req.expiration.unwrap_or(0);
    let count = req.count.unwrap_or(1);
    if expiration < 0 {
        return Err(AdminError::bad("Invalid value for expiration"));
    }
    if count < 0 {
        return Err(AdminError::bad("Invalid value for count"));
    }
    let count = if count == 0 { 1 } else { count };
    let token = crate::crypto::random_alphanumeric(48);
    let row = InitialAccessRow {
        id: new_id(),
        created_at: crate::clock::now(),
        expiration,
        count,
        remaining: count,
    };
    state
        .store
        .put_initial_access(&snap.id, &row, &crate::crypto::sha256_hex(&token))
        .await?;
    let mut r = (StatusCode::OK, Json(presentation(&row, Some(&token)))).into_response();
    if let Ok(v) =
        HeaderValue::from_str(&format!("{}/{}", uri.path().trim_end_matches('/'), row.id))
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// `GET /clients-initial-access`: without the tokens.
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClients>,
) -> AdminResult<Json<Vec<Value>>> {
    let rows = state.store.initial_access(&snap.id).await?;
    Ok(Json(rows.iter().map(|r| presentation(r, None)).collect()))
}

/// `DELETE /clients-initial-access/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClients>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    state.store.delete_initial_access(&snap.id, &id).await?;
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::ADMIN_CLIENTS_INITIAL_ACCESS,
            routing::get(list).post(create),
        )
        .route(
            paths::ADMIN_CLIENTS_INITIAL_ACCESS_TOKEN,
            routing::delete(delete),
        )
}
