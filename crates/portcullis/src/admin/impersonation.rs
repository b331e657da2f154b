//! POST /admin/realms/{realm}/users/{id}/impersonation
//!
//! Keycloak's `UserResource.impersonate`: the administrator becomes the user in this browser.
//! A new SSO session of the user starts, noted with who impersonates
//! (`IMPERSONATOR_ID`, `IMPERSONATOR_USERNAME`), and the answer sets its cookies and names the
//! account console to go to. An administrator of the realm itself first leaves its own
//! session (`sameRealm: true`), with back-channel logout tokens to its clients. It needs the
//! role `impersonation`, or, with fine-grained admin permissions, `impersonate` of the user;
//! the event `IMPERSONATE` records it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::auth::{ImpersonateUser, RealmAdmin};
use super::users::{issuer, load};
use super::AdminResult;
use crate::authn::cookies;
use crate::http::paths;
use crate::sessions::SessionNotes;
use crate::store::SessionRow;
use crate::AppState;

/// Session note: the impersonating administrator's id.
pub const IMPERSONATOR_ID: &str = "IMPERSONATOR_ID";
/// Session note: the impersonating administrator's username.
pub const IMPERSONATOR_USERNAME: &str = "IMPERSONATOR_USERNAME";

/// `POST /users/{id}/impersonation`: `{"sameRealm": ..., "redirect": <account console>}` with
/// the new session's cookies.
pub async fn impersonate(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<ImpersonateUser>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let (row, _) = load(&state, &snap, &id).await?;
    let iss = issuer(&state, &snap, &headers, &uri)?;
    // The administrator's own session in this realm ends first.
    let same_realm = caller.realm == snap.name && caller.session.is_some();
    if let Some(sid) = caller.session.as_deref().filter(|_| same_realm) {
        crate::sessions::logout::end_session(
            state.store.as_ref(),
            &state.outbound,
            &snap,
            &iss,
            sid,
        )
        .await?;
    }
    let now = crate::clock::now();
    let sid = uuid::Uuid::new_v4().to_string();
    let mut notes = SessionNotes::at(now);
    notes
        .extra
        .insert(IMPERSONATOR_ID.into(), json!(caller.user_id));
    notes
        .extra
        .insert(IMPERSONATOR_USERNAME.into(), json!(caller.username));
    let session = SessionRow {
        id: sid.clone(),
        realm_id: snap.id.clone(),
        user_id: row.id.clone(),
        offline: false,
        created_at: now,
        last_refresh: now,
        data: notes.to_json(),
    };
    state.store.create_session(&session, "", None).await?;
    crate::events::UserEvent::new(&snap, "IMPERSONATE")
        .user(row.id.clone())
        .session(sid.clone())
        .detail("impersonator_realm", caller.realm.clone())
        .detail("impersonator", caller.username.clone())
        .success(&state);
    let redirect = format!("{iss}/account");
    let mut r = Json(json!({"sameRealm": same_realm, "redirect": redirect})).into_response();
    let secure = crate::http::base_url::is_secure_context(&iss);
    cookies::after_login(&mut r, &snap, &sid, secure, None);
    Ok(r)
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new().route(paths::ADMIN_USER_IMPERSONATION, post(impersonate))
}
