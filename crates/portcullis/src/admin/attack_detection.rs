//! GET DELETE /admin/realms/{realm}/attack-detection/brute-force/users/{id}
//! DELETE /admin/realms/{realm}/attack-detection/brute-force/users
//!
//! Keycloak's `AttackDetectionResource`: a user's brute-force status (a map, with Keycloak's
//! defaults when the realm is not protected or the user has no failures, and for an unknown
//! user id), and clearing the failures of one user or of all users of the realm. Clearing ends
//! a temporary lockout; a permanently locked user stays disabled until an administrator
//! enables it again (`PUT /users/{id}` with `enabled: true`), as in Keycloak.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::auth::{ManageUsers, RealmAdmin, ViewUsers};
use super::{no_content, AdminResult};
use crate::http::paths;
use crate::policy::brute_force;
use crate::AppState;

/// `GET .../brute-force/users/{id}`.
pub async fn status(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUsers>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Map<String, Value>>> {
    let policy = &snap.brute_force;
    if !policy.protected {
        return Ok(Json(brute_force::status(policy, None, None, 0)));
    }
    let user = match state.store.user_by_id(&snap.id, &id).await? {
        Some(row) => Some(crate::users::parse_user(&row)?),
        None => None,
    };
    let row = state.store.login_failure(&snap.id, &id).await?;
    Ok(Json(brute_force::status(
        policy,
        user.as_ref(),
        row.as_ref(),
        crate::clock::now(),
    )))
}

/// `DELETE .../brute-force/users/{id}`: 204 whether or not there were failures.
pub async fn clear_user(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUsers>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    state.store.clear_login_failure(&snap.id, &id).await?;
    Ok(no_content())
}

/// `DELETE .../brute-force/users`: 204.
pub async fn clear_all(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUsers>,
) -> AdminResult<Response> {
    state.store.clear_login_failures(&snap.id).await?;
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::ADMIN_BRUTE_FORCE_USER,
            get(status).delete(clear_user),
        )
        .route(paths::ADMIN_BRUTE_FORCE_USERS, delete(clear_all))
}
