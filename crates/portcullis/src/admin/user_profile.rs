//! `/admin/realms/{realm}/users/profile`: the realm's declarative user profile (`UPConfig`) and
//! its metadata, as Keycloak's `UserProfileResource` serves them.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing;
use axum::{Json, Router};
use serde_json::Value;

use super::auth::{AnyRole, ManageRealm, RealmAdmin};
use super::{edit_realm, new_id, to_json, AdminError, AdminResult};
use crate::http::paths;
use crate::users::profile::{self, Context, UpConfig};
use crate::AppState;

/// `GET /users/profile`: the effective configuration (Keycloak's default until one is stored).
pub async fn get(RealmAdmin { snap, .. }: RealmAdmin<AnyRole>) -> AdminResult<Json<Value>> {
    Ok(Json(to_json(&profile::config_of(&snap.rep))?))
}

/// `GET /users/profile/metadata`: the attributes as an administrator sees them.
pub async fn metadata(RealmAdmin { snap, .. }: RealmAdmin<AnyRole>) -> Json<Value> {
    Json(profile::metadata(
        &profile::config_of(&snap.rep),
        Context::Admin,
    ))
}

/// `PUT /users/profile`: validates and stores the configuration, answering the stored one.
pub async fn put(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    bytes: Bytes,
) -> AdminResult<Json<Value>> {
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let config: UpConfig = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| AdminError::Mismatch(format!("{}: {}", e.path(), e.inner())))?;
    let scopes: Vec<&str> = snap
        .rep
        .client_scopes
        .iter()
        .flatten()
        .filter_map(|s| s.name.as_deref())
        .collect();
    let errors = profile::validate_config(&config, &scopes);
    if !errors.is_empty() {
        // Keycloak answers the list as Java prints it.
        return Err(AdminError::bad(format!("[{}]", errors.join(", "))));
    }
    edit_realm(&state, &snap.name, |rep, _| {
        profile::store_config(rep, &config, new_id);
        Ok(())
    })
    .await?;
    Ok(Json(to_json(&config)?))
}

/// The routes: the static `profile` segment wins over `users/{id}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_USER_PROFILE, routing::get(get).put(put))
        .route(paths::ADMIN_USER_PROFILE_METADATA, routing::get(metadata))
}
