//! The username-password step: the login form and its POST. A failure says only "Invalid
//! username or password.", and an unknown user costs as much time as a wrong password.

use axum::response::Response;

use crate::authn::brute_force;
use crate::authn::pages::login_page;
use crate::authn::{flow, PendingLogin};
use crate::events::errors;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::UserRow;
use crate::users::{find_user, parse_user, password_matches};
use crate::AppState;

/// The username-password form's one failure message.
pub const INVALID: &str = "Invalid username or password.";
/// The answer to a user with a required action this server does not run.
pub const UNSUPPORTED_ACTION: &str = "Your account needs an action (such as verifying the e-mail address) that this server cannot perform yet. Contact your administrator.";

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

/// Why [`check`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The form again with this message.
    Again(&'static str),
    /// A server error.
    Internal,
}

/// The user of the credentials (`user`: the one an earlier step identified, else looked up by
/// `creds.username`). A failure says only [`INVALID`] (or `invalid` for a known user), and an
/// unknown user costs as much time as a wrong password. A password hash in an old format is
/// upgraded on the way.
pub async fn check(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &crate::authn::AuthRequest,
    creds: &Credentials<'_>,
    known: Option<UserRow>,
    invalid: &'static str,
) -> Result<(UserRow, crate::representation::UserRepresentation), Refused> {
    check_in(state, snap, request, creds, known, invalid, "LOGIN").await
}

/// [`check`] in a flow whose failures are `kind` events (`IDENTITY_PROVIDER_FIRST_LOGIN` for
/// the first broker login's re-authentication).
pub async fn check_in(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &crate::authn::AuthRequest,
    creds: &Credentials<'_>,
    known: Option<UserRow>,
    invalid: &'static str,
    kind: &'static str,
) -> Result<(UserRow, crate::representation::UserRepresentation), Refused> {
    let given = creds.password.to_string();
    let failed = |user: Option<&str>, error: &str| {
        let mut e = crate::authn::login_event(snap, request).detail("username", creds.username);
        if kind != "LOGIN" {
            e.set_kind(snap, kind);
        }
        if let Some(u) = user {
            e.set_user(u);
        }
        e.error(state, error);
    };
    let row = match known {
        Some(r) => r,
        None => match find_user(state.store.as_ref(), snap, creds.username).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                failed(None, errors::USER_NOT_FOUND);
                let _ = crate::crypto::password::off_thread(move || {
                    crate::crypto::password::burn_time(&given)
                })
                .await;
                return Err(Refused::Again(INVALID));
            }
            Err(_) => return Err(Refused::Internal),
        },
    };
    let user = parse_user(&row).map_err(|_| Refused::Internal)?;
    // Brute-force detection, before the password: a locked user gets a wrong password's answer.
    let attempt = match brute_force::begin(state, snap, &row.id, &user).await {
        Ok(brute_force::Gate::Open(attempt)) => attempt,
        Ok(brute_force::Gate::Locked(lock)) => {
            brute_force::dummy_hash(&given).await;
            failed(Some(&row.id), lock.event_error());
            return Err(Refused::Again(invalid));
        }
        Err(_) => return Err(Refused::Internal),
    };
    let checked = crate::crypto::password::off_thread(move || {
        let mut user = user;
        let (m, u) = password_matches(&mut user, &given);
        (user, m, u)
    })
    .await;
    let (user, matched, upgraded) = checked.map_err(|_| Refused::Internal)?;
    if !matched {
        failed(Some(&row.id), errors::INVALID_USER_CREDENTIALS);
        // Keycloak's form does not count an empty password (`badPasswordHandler` with
        // `isEmptyPassword`: `forceChallenge`, not `failureChallenge`).
        if !creds.password.is_empty() {
            attempt.failed(creds.remote).await;
        }
        return Err(Refused::Again(invalid));
    }
    attempt.succeeded().await;
    if user.enabled == Some(false) {
        failed(Some(&row.id), errors::USER_DISABLED);
        return Err(Refused::Again(invalid));
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
