//! The end of a login: the SSO session and its cookie, then the answer to the client (through
//! the consent step and the [`Protocol`]).

use axum::response::Response;

use crate::authn::pages::internal_error;
use crate::authn::reply::Reply;
use crate::authn::{cookies, Authenticated, PendingLogin, Protocol};
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::sessions::SessionNotes;
use crate::store::SessionRow;
use crate::tokens::acr::AUTHENTICATORS_COMPLETED;
use crate::AppState;

use super::consent::code_or_consent;

/// The login succeeded: start the SSO session, answer (code, tokens or consent), set the
/// cookies.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn complete_login(
    state: &AppState,
    snap: &RealmSnapshot,
    protocol: &dyn Protocol,
    reply: &Reply,
    session_code: &str,
    pending: &PendingLogin,
    user_id: &str,
) -> Response {
    let t = now();
    let sid = uuid::Uuid::new_v4().to_string();
    let remember = pending.remember_me == Some(true);
    let mut notes = SessionNotes::at(t);
    // Keycloak's user session note `AUTHENTICATORS_COMPLETED` (execution id -> time), which
    // `oidc-amr-mapper` reads.
    if !pending.flow.completed.is_empty() {
        if let Ok(done) = serde_json::to_string(&pending.flow.completed) {
            notes.extra.insert(
                AUTHENTICATORS_COMPLETED.into(),
                serde_json::Value::String(done),
            );
        }
    }
    if remember {
        notes.remember_me = Some("true".into());
    }
    let session = SessionRow {
        id: sid.clone(),
        realm_id: snap.id.clone(),
        user_id: user_id.to_string(),
        offline: false,
        created_at: t,
        last_refresh: t,
        data: notes.to_json(),
    };
    let client_id = pending.request.client_id.as_deref().unwrap_or_default();
    if state
        .store
        .create_session(&session, client_id, None)
        .await
        .is_err()
    {
        return internal_error();
    }
    let _ = state.store.delete_auth_session(session_code).await;
    let who = Authenticated {
        sid,
        user_id: user_id.to_string(),
        auth_time: t,
        sso: false,
    };
    let mut r = code_or_consent(state, snap, protocol, pending, reply, &who).await;
    // A session cookie, unless "remember me": then it lasts the remember-me max lifespan.
    let max = remember.then(|| snap.settings.remember_me_cookie_max_age());
    cookies::after_login(&mut r, snap, &who.sid, reply.secure(), max);
    r
}
