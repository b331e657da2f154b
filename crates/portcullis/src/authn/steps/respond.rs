//! The end of a login: the SSO session and its cookie, then the answer to the client (through
//! the consent step and the [`Protocol`]).

use axum::http::StatusCode;
use axum::response::Response;

use crate::authn::pages::{error_page, internal_error};
use crate::authn::reply::Reply;
use crate::authn::{cookies, Authenticated, LoginEnd, PendingLogin, Protocol};
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::sessions::{live_session, SessionNotes};
use crate::store::SessionRow;
use crate::tokens::acr::{AUTHENTICATORS_COMPLETED, LOA_MAP_NOTE};
use crate::users::parse_user;
use crate::AppState;

use super::consent::code_or_consent;

/// Keycloak's `differentUserAuthenticated` (its `{0}` is the session's username).
pub fn different_user_message(username: &str) -> String {
    format!("You are already authenticated as different user '{username}' in this session. Please sign out first.")
}

/// The login succeeded: start the SSO session, or re-authenticate the one this browser holds
/// (Keycloak's `AuthenticationProcessor.attachSession`: the root authentication session is the
/// user session, so `prompt=login`, `max_age` and step-up keep the same `sid`; a session of
/// another user refuses the login with `differentUserAuthenticated` and stays as it was), then
/// answer (code, tokens or consent) and set the cookies. A new session, the removal of the
/// pending login and the code are written together, in one transaction (Keycloak commits them
/// with the request's transaction): a code is never issued without its session, nor a
/// session left behind by a code that could not be stored.
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
    let remember = pending.remember_me == Some(true);
    let existing = match &pending.flow.browser_session {
        Some(sid) => match live_session(state.store.as_ref(), snap, sid, t).await {
            Ok(s) => s.filter(|s| !s.offline),
            Err(_) => return internal_error(),
        },
        None => None,
    };
    if let Some(s) = existing.as_ref().filter(|s| s.user_id != user_id) {
        let username = match state.store.user_by_id(&snap.id, &s.user_id).await {
            Ok(Some(row)) => parse_user(&row)
                .ok()
                .and_then(|u| u.username)
                .unwrap_or_default(),
            _ => String::new(),
        };
        crate::authn::login_event(snap, &pending.request)
            .user(user_id.to_string())
            .detail("existing_user", s.user_id.clone())
            .error(state, crate::events::errors::DIFFERENT_USER_AUTHENTICATED);
        return error_page(StatusCode::BAD_REQUEST, &different_user_message(&username));
    }
    let client_id = pending.request.client_id.as_deref().unwrap_or_default();
    let mut new_session = None;
    let sid = match existing {
        Some(s) => {
            // The same user again: the session's notes take this login's time, executions
            // and levels.
            let mut notes = SessionNotes::parse(&s.data);
            notes.auth_time = Some(t.to_string());
            let mut completed: std::collections::BTreeMap<String, i64> = notes
                .extra
                .get(AUTHENTICATORS_COMPLETED)
                .and_then(serde_json::Value::as_str)
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_default();
            completed.extend(pending.flow.completed.clone());
            set_notes(&mut notes, &completed, pending);
            if remember {
                notes.remember_me = Some("true".into());
            }
            match state
                .store
                .update_session_data(&s.id, &notes.to_json())
                .await
            {
                Ok(true) => {}
                _ => return internal_error(),
            }
            s.id
        }
        None => {
            let sid = uuid::Uuid::new_v4().to_string();
            let mut notes = SessionNotes::at(t);
            set_notes(&mut notes, &pending.flow.completed, pending);
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
            // Stored with the code, in one transaction (`FlowStore::finish_login`).
            new_session = Some((session, client_id.to_string()));
            sid
        }
    };
    let end = LoginEnd {
        auth_session: Some(session_code.to_string()).filter(|c| !c.is_empty()),
        session: new_session,
        code: None,
    };
    let who = Authenticated {
        sid,
        user_id: user_id.to_string(),
        auth_time: t,
        sso: false,
        loa: pending.flow.loa,
        organization: pending.selected_organization.clone(),
    };
    let mut r = code_or_consent(state, snap, protocol, pending, reply, &who, end).await;
    // A session cookie, unless "remember me": then it lasts the remember-me max lifespan.
    let max = remember.then(|| snap.settings.remember_me_cookie_max_age());
    cookies::after_login(&mut r, snap, &who.sid, reply.secure(), max);
    r
}

/// Keycloak's user session notes `AUTHENTICATORS_COMPLETED` (execution id -> time, which
/// `oidc-amr-mapper` reads) and `loa-map` (level -> time).
fn set_notes(
    notes: &mut SessionNotes,
    completed: &std::collections::BTreeMap<String, i64>,
    pending: &PendingLogin,
) {
    if !completed.is_empty() {
        if let Ok(done) = serde_json::to_string(completed) {
            notes.extra.insert(
                AUTHENTICATORS_COMPLETED.into(),
                serde_json::Value::String(done),
            );
        }
    }
    if !pending.flow.loa_map.is_empty() {
        if let Ok(map) = serde_json::to_string(&pending.flow.loa_map) {
            notes
                .extra
                .insert(LOA_MAP_NOTE.into(), serde_json::Value::String(map));
        }
    }
}
