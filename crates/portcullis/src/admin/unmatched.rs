//! Any `/admin/...` path no handler serves: Keycloak resolves the JAX-RS sub-resource locators
//! along the path first (`RealmsAdminResource.getRealmAdmin`, `ClientsResource.getClient`,
//! `UsersResource.user`, ...), so an unknown realm, client, user, group, client scope, role or
//! component answers that locator's `NotFoundException` message; past the locators, the
//! unmatched path is RESTEasy's `NotFoundException` ("HTTP 404 Not Found"). Each renders as
//! `{"error": msg, "error_description": ...}` (`KeycloakErrorHandler`), never an empty body.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use super::auth::{authenticate, target};
use super::{AdminError, AdminResult};
use crate::realm::edit;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

/// The answer to an unmatched `/admin/...` request.
pub async fn answer(state: AppState, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match resolve(&state, &parts).await {
        Ok(()) => AdminError::not_found("HTTP 404 Not Found").into_response(),
        Err(e) => e.into_response(),
    }
}

/// Walks the locators of the path; `Err` at the first that finds nothing.
async fn resolve(state: &AppState, parts: &axum::http::request::Parts) -> AdminResult<()> {
    let caller = authenticate(state, parts).await?;
    let segments: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(crate::http::paths::decode_segment)
        .collect();
    // ["admin", "realms", realm, kind, id, ...]
    let (Some("admin"), Some("realms"), Some(realm)) = (
        segments.first().map(String::as_str),
        segments.get(1).map(String::as_str),
        segments.get(2),
    ) else {
        return Ok(());
    };
    let snap = target(state, &caller, realm).await?;
    let (Some(kind), Some(id)) = (segments.get(3), segments.get(4)) else {
        return Ok(());
    };
    locate(state, &snap, kind, id).await
}

async fn locate(state: &AppState, snap: &RealmSnapshot, kind: &str, id: &str) -> AdminResult<()> {
    let rep = &snap.rep;
    let missing = match kind {
        "clients" => edit::client(rep, id)
            .is_none()
            .then_some("Could not find client"),
        "groups" => edit::group(rep, id)
            .is_none()
            .then_some("Could not find group by id"),
        "roles-by-id" => edit::role_by_id(rep, id)
            .is_none()
            .then_some("Could not find role with id"),
        "roles" => edit::role(rep, None, id)
            .is_none()
            .then_some("Could not find role"),
        "client-scopes" => (!rep
            .client_scopes
            .iter()
            .flatten()
            .any(|s| s.id.as_deref() == Some(id)))
        .then_some("Could not find client scope"),
        "components" => (!rep
            .components
            .iter()
            .flat_map(|m| m.values())
            .flatten()
            .any(|c| c.id.as_deref() == Some(id)))
        .then_some("Could not find component"),
        "users" => state
            .store
            .user_by_id(&snap.id, id)
            .await?
            .is_none()
            .then_some("User not found"),
        _ => None,
    };
    match missing {
        Some(msg) => Err(AdminError::not_found(msg)),
        None => Ok(()),
    }
}
