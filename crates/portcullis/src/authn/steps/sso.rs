//! The SSO session step: a valid `KEYCLOAK_IDENTITY` cookie naming a live session of an
//! enabled user logs in without a form.

use axum::http::HeaderMap;

use crate::authn::{cookies, Authenticated};
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::sessions::live_session;
use crate::sessions::SessionNotes;
use crate::store::Store;
use crate::users::parse_user;

/// The browser's SSO session, when it is live, its user enabled, and its authentication no
/// older than `max_age` seconds (OpenID Connect Core §3.1.2.1).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn session(
    store: &dyn Store,
    snap: &RealmSnapshot,
    headers: &HeaderMap,
    max_age: Option<i64>,
) -> Option<Authenticated> {
    let (who, _) = found(store, snap, headers).await?;
    max_age
        .is_none_or(|m| now() - who.auth_time <= m)
        .then_some(who)
}

/// The browser's live SSO session of an enabled user, whatever its age, with its notes.
pub async fn found(
    store: &dyn Store,
    snap: &RealmSnapshot,
    headers: &HeaderMap,
) -> Option<(Authenticated, SessionNotes)> {
    let sid = cookies::sso_sid(snap, headers)?;
    let session = live_session(store, snap, &sid, now()).await.ok()??;
    let notes = SessionNotes::parse(&session.data);
    let auth_time = notes.auth_time().unwrap_or(session.created_at);
    let user_ok = matches!(store.user_by_id(&snap.id, &session.user_id).await, Ok(Some(ref row)) if parse_user(row).is_ok_and(|u| u.enabled != Some(false)));
    user_ok.then_some((
        Authenticated {
            sid,
            user_id: session.user_id,
            auth_time,
            sso: true,
            loa: None,
            organization: None,
        },
        notes,
    ))
}
