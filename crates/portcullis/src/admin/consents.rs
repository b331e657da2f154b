//! GET /admin/realms/{realm}/users/{id}/consents
//! DELETE /admin/realms/{realm}/users/{id}/consents/{client}
//!
//! Keycloak's `UserResource.getConsents` and `revokeConsent`: the client scopes a user granted
//! to clients (the user's `clientConsents`, recorded by the consent step of the login) and the
//! clients holding an offline token of the user, shown as an `Offline Token` additional grant.
//! Revoking removes the consent and the client's part in the user's offline sessions (an
//! offline session left without clients ends); when a consent was removed the client's part
//! in the user's online sessions ends too, with a back-channel logout token to the client
//! (`AuthenticationManager.backchannelLogoutUserFromClient`).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::{ManageUser, RealmAdmin, ViewUser};
use super::users::{issuer, load, save};
use super::{no_content, AdminError, AdminResult};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::{EndedSession, SessionRow, Store, StoreError};
use crate::AppState;

/// The `key` of an offline token in `additionalGrants`.
pub const OFFLINE_TOKEN: &str = "Offline Token";

/// A user's sessions of one kind (`offline` or online), each with the clients taking part.
async fn sessions_with_clients(
    store: &dyn Store,
    realm_id: &str,
    user_id: &str,
    offline: bool,
) -> Result<Vec<(SessionRow, Vec<String>)>, StoreError> {
    let sessions = store.user_sessions(realm_id, user_id).await?;
    let clients = store.user_session_clients(realm_id, user_id).await?;
    Ok(sessions
        .into_iter()
        .filter(|s| s.offline == offline)
        .map(|s| {
            let of: Vec<String> = clients
                .iter()
                .filter(|c| c.session_id == s.id)
                .map(|c| c.client_id.clone())
                .collect();
            (s, of)
        })
        .collect())
}

fn consent_client(c: &Value) -> Option<&str> {
    c.get("clientId").and_then(Value::as_str)
}

/// `UserResource.getConsents`: the user's consents (in the order recorded), each with an
/// `Offline Token` grant when the client holds one, then the clients holding an offline token
/// without a consent (by `clientId`). Clients no longer in the realm are left out.
pub fn consents_json(
    snap: &RealmSnapshot,
    user: &UserRepresentation,
    offline_clients: &BTreeSet<String>,
) -> Vec<Value> {
    let uuid = |client_id: &str| {
        snap.index
            .client(&snap.rep, client_id)
            .and_then(|c| c.id.clone())
    };
    let grants = |client_id: &str, id: &str| {
        if offline_clients.contains(client_id) {
            json!([{"client": id, "key": OFFLINE_TOKEN}])
        } else {
            json!([])
        }
    };
    let mut out = Vec::new();
    let mut with_consent = BTreeSet::new();
    for c in user.client_consents.iter().flatten() {
        let Some(client_id) = consent_client(c) else {
            continue;
        };
        let Some(id) = uuid(client_id) else {
            continue;
        };
        with_consent.insert(client_id.to_string());
        out.push(json!({
            "clientId": client_id,
            "grantedClientScopes": c.get("grantedClientScopes").cloned().unwrap_or(json!([])),
            "createdDate": c.get("createdDate").cloned().unwrap_or(Value::Null),
            "lastUpdatedDate": c.get("lastUpdatedDate").cloned().unwrap_or(Value::Null),
            "additionalGrants": grants(client_id, &id),
        }));
    }
    for client_id in offline_clients.difference(&with_consent) {
        let Some(id) = uuid(client_id) else {
            continue;
        };
        out.push(json!({
            "clientId": client_id,
            "grantedClientScopes": [],
            "createdDate": null,
            "lastUpdatedDate": null,
            "additionalGrants": grants(client_id, &id),
        }));
    }
    out
}

/// `GET /users/{id}/consents`.
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUser>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let (_, user) = load(&state, &snap, &id).await?;
    let offline: BTreeSet<String> =
        sessions_with_clients(state.store.as_ref(), &snap.id, &id, true)
            .await?
            .into_iter()
            .flat_map(|(_, clients)| clients)
            .collect();
    Ok(Json(consents_json(&snap, &user, &offline)))
}

/// Removes the consent given to `client_id`; whether there was one.
pub fn remove_consent(user: &mut UserRepresentation, client_id: &str) -> bool {
    let Some(list) = user.client_consents.as_mut() else {
        return false;
    };
    let before = list.len();
    list.retain(|c| consent_client(c) != Some(client_id));
    list.len() != before
}

/// `DELETE /users/{id}/consents/{client}` (`client` is the `clientId`): 404 `Client not found`
/// for an unknown client, 404 `Consent nor offline token not found` when there was neither.
pub async fn revoke(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id, client_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let (_, mut user) = load(&state, &snap, &id).await?;
    if snap.index.client(&snap.rep, &client_id).is_none() {
        return Err(AdminError::not_found("Client not found"));
    }
    let store = state.store.as_ref();
    let revoked_consent = remove_consent(&mut user, &client_id);
    if revoked_consent {
        save(&state, &snap, &user).await?;
    }
    let mut revoked_offline = false;
    for (s, clients) in sessions_with_clients(store, &snap.id, &id, true).await? {
        if clients.contains(&client_id) {
            revoked_offline |= store.remove_client_session(&s.id, &client_id, true).await?;
        }
    }
    if revoked_consent {
        let mut ended = Vec::new();
        for (s, clients) in sessions_with_clients(store, &snap.id, &id, false).await? {
            if clients.contains(&client_id)
                && store
                    .remove_client_session(&s.id, &client_id, false)
                    .await?
            {
                ended.push(EndedSession {
                    session: s,
                    clients: vec![client_id.clone()],
                });
            }
        }
        if !ended.is_empty() {
            let iss = issuer(&state, &snap, &headers, &uri)?;
            crate::sessions::logout::notify(&state.outbound, &snap, &iss, &ended).await;
        }
    }
    if !revoked_consent && !revoked_offline {
        return Err(AdminError::not_found("Consent nor offline token not found"));
    }
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_USER_CONSENTS, get(list))
        .route(paths::ADMIN_USER_CONSENT, axum::routing::delete(revoke))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_consent_leaves_the_others() {
        let mut u: UserRepresentation = serde_json::from_value(json!({
            "username": "u",
            "clientConsents": [
                {"clientId": "a", "grantedClientScopes": ["email"]},
                {"clientId": "b", "grantedClientScopes": ["profile"]}
            ]
        }))
        .unwrap();
        assert!(remove_consent(&mut u, "a"));
        assert!(!remove_consent(&mut u, "a"));
        assert_eq!(
            serde_json::to_value(&u.client_consents).unwrap(),
            json!([{"clientId": "b", "grantedClientScopes": ["profile"]}])
        );
    }
}
