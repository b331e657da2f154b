//! The sessions of a client (`ClientResource`: `user-sessions`, `offline-sessions`,
//! `session-count`, `offline-session-count`) and the realm's per-client session figures
//! (`RealmAdminResource.getClientSessionStats`), as the admin console's Sessions tabs and
//! python-keycloak's `get_client_all_sessions` / `get_client_sessions_stats` read them.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::{RealmAdmin, ViewClient, ViewRealm};
use super::{edit, view, AdminError, AdminResult, Paging};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

/// Keycloak's `Constants.DEFAULT_MAX_RESULTS` for these lists.
const DEFAULT_MAX: i64 = 100;

/// The `clientId` of the client with internal id `id`, or Keycloak's 404.
fn client_id_of(snap: &RealmSnapshot, id: &str) -> AdminResult<String> {
    edit::client(&snap.rep, id)
        .and_then(|c| c.client_id.clone())
        .ok_or_else(|| AdminError::not_found("Could not find client"))
}

async fn sessions_of(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    paging: Paging,
    offline: bool,
) -> AdminResult<Json<Vec<Value>>> {
    let client_id = client_id_of(snap, id)?;
    let first = paging.first.unwrap_or(0).max(0);
    let max = paging.max.filter(|m| *m >= 0).unwrap_or(DEFAULT_MAX);
    let sessions = state
        .store
        .client_sessions(&snap.id, &client_id, offline, first, max)
        .await?;
    let ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
    let peers = state.store.client_session_peers(&ids).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(sessions.len());
    for s in &sessions {
        if !names.contains_key(&s.user_id) {
            let name = state
                .store
                .user_by_id(&snap.id, &s.user_id)
                .await?
                .map(|u| u.username)
                .unwrap_or_default();
            names.insert(s.user_id.clone(), name);
        }
        let name = names.get(&s.user_id).map(String::as_str).unwrap_or("");
        out.push(view::session_json(snap, s, name, &peers));
    }
    Ok(Json(out))
}

/// `GET /clients/{id}/user-sessions?first&max`: the online sessions the client takes part in.
pub async fn user_sessions(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ViewClient, Paging>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    sessions_of(&state, &snap, &id, query, false).await
}

/// `GET /clients/{id}/offline-sessions?first&max`.
pub async fn offline_sessions(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ViewClient, Paging>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    sessions_of(&state, &snap, &id, query, true).await
}

async fn count_of(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    offline: bool,
) -> AdminResult<Json<Value>> {
    let client_id = client_id_of(snap, id)?;
    let counts = state
        .store
        .client_session_counts(&snap.id, Some(&client_id))
        .await?;
    let n = counts
        .iter()
        .find(|(c, _, _)| *c == client_id)
        .map_or(0, |(_, on, off)| if offline { *off } else { *on });
    Ok(Json(json!({ "count": n })))
}

/// `GET /clients/{id}/session-count`: `{"count": n}`.
pub async fn session_count(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    count_of(&state, &snap, &id, false).await
}

/// `GET /clients/{id}/offline-session-count`: `{"count": n}`.
pub async fn offline_session_count(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    count_of(&state, &snap, &id, true).await
}

/// `GET /client-session-stats`: each client with a session, its counts as text (Keycloak's
/// `Map<String, String>`: `id`, `clientId`, `active`, `offline`).
pub async fn stats(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
) -> AdminResult<Json<Vec<Value>>> {
    let counts = state.store.client_session_counts(&snap.id, None).await?;
    Ok(Json(
        counts
            .into_iter()
            .filter_map(|(client_id, on, off)| {
                let c = snap.index.client(&snap.rep, &client_id)?;
                Some(json!({
                    "id": c.id.clone()?,
                    "clientId": client_id,
                    "active": on.to_string(),
                    "offline": off.to_string(),
                }))
            })
            .collect(),
    ))
}

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_CLIENT_USER_SESSIONS, get(user_sessions))
        .route(paths::ADMIN_CLIENT_OFFLINE_SESSIONS, get(offline_sessions))
        .route(paths::ADMIN_CLIENT_SESSION_COUNT, get(session_count))
        .route(
            paths::ADMIN_CLIENT_OFFLINE_SESSION_COUNT,
            get(offline_session_count),
        )
        .route(paths::ADMIN_CLIENT_SESSION_STATS, get(stats))
}
