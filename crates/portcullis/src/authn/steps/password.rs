//! The username-password step: the login form and its POST. A failure says only "Invalid
//! username or password.", and an unknown user costs as much time as a wrong password.

use axum::http::StatusCode;
use axum::response::Response;

use crate::authn::brute_force;
use crate::authn::pages::{html, internal_error, login_page, update_password_page};
use crate::authn::reply::Reply;
use crate::authn::{flow, PendingLogin, Protocol};
use crate::events::errors;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::UserRow;
use crate::users::{find_user, parse_user, password_matches};
use crate::AppState;

use super::respond::complete_login;

const INVALID: &str = "Invalid username or password.";
const UNSUPPORTED_ACTION: &str = "Your account needs an action (such as verifying the e-mail address) that this server cannot perform yet. Contact your administrator.";

/// What the login form posted.
pub struct Credentials<'a> {
    /// `username` (or e-mail).
    pub username: &'a str,
    /// `password`.
    pub password: &'a str,
    /// `rememberMe=on`.
    pub remember_me: bool,
    /// The client's address (the peer, or the trusted proxy's first hop).
    pub remote: Option<std::net::IpAddr>,
}

/// Shows the login form for a pending login, bound to this browser for `lifespan` seconds.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn show_form(
    state: &AppState,
    snap: &RealmSnapshot,
    pending: &PendingLogin,
    lifespan: i64,
    secure: bool,
    base: &str,
) -> Response {
    let hint = pending.request.login_hint.as_deref();
    flow::start_flow(
        state.store.as_ref(),
        snap,
        pending,
        lifespan,
        secure,
        |code| login_page(snap, &action_url(base, snap, code), code, hint, None),
    )
    .await
}

/// The absolute URL the login form posts to, carrying the session code in its query as
/// Keycloak's `url.loginAction` does (`LoginActionsService.authenticate` reads
/// `session_code` from the query), so a client that posts only the credentials to the form's
/// action still reaches its pending login.
pub fn action_url(base: &str, snap: &RealmSnapshot, session_code: &str) -> String {
    let mut url = paths::url(base, paths::LOGIN_ACTION, &snap.name);
    url.push_str("?session_code=");
    url.push_str(&paths::encode_segment(session_code));
    url
}

/// The user of the credentials, or the answer (the form again with an error, or an internal
/// error). A password hash in an old format is upgraded on the way.
async fn check(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &crate::authn::AuthRequest,
    creds: &Credentials<'_>,
    retry: impl Fn(&str) -> Response,
) -> Result<(UserRow, crate::representation::UserRepresentation), Response> {
    let given = creds.password.to_string();
    let failed = |user: Option<&str>, error: &str| {
        let mut e = crate::authn::login_event(snap, request).detail("username", creds.username);
        if let Some(u) = user {
            e.set_user(u);
        }
        e.error(state, error);
    };
    let row = match find_user(state.store.as_ref(), snap, creds.username).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            failed(None, errors::USER_NOT_FOUND);
            let _ = crate::crypto::password::off_thread(move || {
                crate::crypto::password::burn_time(&given)
            })
            .await;
            return Err(retry(INVALID));
        }
        Err(_) => return Err(internal_error()),
    };
    let user = parse_user(&row).map_err(|_| internal_error())?;
    // Brute-force detection, before the password: a locked user gets a wrong password's answer.
    let attempt = match brute_force::begin(state, snap, &row.id, &user).await {
        Ok(brute_force::Gate::Open(attempt)) => attempt,
        Ok(brute_force::Gate::Locked(lock)) => {
            brute_force::dummy_hash(&given).await;
            failed(Some(&row.id), lock.event_error());
            return Err(retry(INVALID));
        }
        Err(_) => return Err(internal_error()),
    };
    let checked = crate::crypto::password::off_thread(move || {
        let mut user = user;
        let (m, u) = password_matches(&mut user, &given);
        (user, m, u)
    })
    .await;
    let (user, matched, upgraded) = checked.map_err(|_| internal_error())?;
    if !matched {
        failed(Some(&row.id), errors::INVALID_USER_CREDENTIALS);
        // Keycloak's form does not count an empty password (`badPasswordHandler` with
        // `isEmptyPassword`: `forceChallenge`, not `failureChallenge`).
        if !creds.password.is_empty() {
            attempt.failed(creds.remote).await;
        }
        return Err(retry(INVALID));
    }
    attempt.succeeded().await;
    if user.enabled == Some(false) {
        failed(Some(&row.id), errors::USER_DISABLED);
        return Err(retry(INVALID));
    }
    if upgraded {
        let mut updated = row.clone();
        if let Ok(rep) = serde_json::to_string(&user) {
            updated.representation = rep;
            let _ = state.store.update_user(&snap.id, &updated).await;
        }
    }
    Ok((row, user))
}

/// POST of the login form: checks the credentials, then asks for a new password where the
/// user must update it, or completes the login.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn authenticate(
    state: &AppState,
    snap: &RealmSnapshot,
    protocol: &dyn Protocol,
    reply: &Reply,
    session_code: &str,
    mut pending: PendingLogin,
    creds: &Credentials<'_>,
) -> Response {
    let realm_path = paths::url("", paths::REALM, &snap.name);
    let base = reply.issuer.strip_suffix(&realm_path).unwrap_or_default();
    let action = action_url(base, snap, session_code);
    let retry = |msg: &str| {
        html(
            StatusCode::OK,
            login_page(snap, &action, session_code, Some(creds.username), Some(msg)),
        )
    };
    let (row, user) = match check(state, snap, &pending.request, creds, &retry).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    // "Remember me" (where the realm offers it) rides along with the request.
    let offered = snap.settings.remember_me;
    pending.remember_me = Some(offered && creds.remember_me);
    let actions: Vec<String> = user.required_actions.clone().unwrap_or_default();
    if actions.iter().any(|a| a != "UPDATE_PASSWORD") {
        return retry(UNSUPPORTED_ACTION);
    }
    if !actions.is_empty() {
        // UPDATE_PASSWORD: remember who logged in, then ask for a new password.
        pending.pending_user = Some(row.id.clone());
        let store = state.store.as_ref();
        if let Err(r) = flow::replace_flow(store, &snap.id, session_code, &pending, 600).await {
            return r;
        }
        let action = paths::url("", paths::REQUIRED_ACTION, &snap.name);
        return html(
            StatusCode::OK,
            update_password_page(snap, &action, session_code, None),
        );
    }
    complete_login(
        state,
        snap,
        protocol,
        reply,
        session_code,
        &pending,
        &row.id,
    )
    .await
}
