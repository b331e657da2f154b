//! The required action `UPDATE_PASSWORD`: after a correct password, the user sets a new one
//! under the realm's password policy; the new Argon2id hash replaces the old credential.

use axum::http::StatusCode;
use axum::response::Response;

use crate::authn::pages::{error_page, html, internal_error, update_password_page};
use crate::authn::reply::Reply;
use crate::authn::{PendingLogin, Protocol};
use crate::clock::now;
use crate::http::paths;
use crate::policy::password::Refused;
use crate::realm::snapshot::RealmSnapshot;
use crate::users::parse_user;
use crate::AppState;

use super::respond::complete_login;

/// What the update-password form posted.
pub struct NewPassword<'a> {
    /// `password-new`.
    pub new: &'a str,
    /// `password-confirm`.
    pub confirm: Option<&'a str>,
}

/// POST of the update-password form (`issuer` is `None` for an invalid host).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_password(
    state: &AppState,
    snap: &RealmSnapshot,
    protocol: &dyn Protocol,
    issuer: Option<&str>,
    session_code: &str,
    pending: &PendingLogin,
    posted: &NewPassword<'_>,
) -> Response {
    let (new, confirm) = (posted.new, posted.confirm);
    let Some(user_id) = pending.pending_user.as_deref() else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let Some(issuer) = issuer else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let action = paths::url("", paths::REQUIRED_ACTION, &snap.name);
    let again = |msg: &str| {
        html(
            StatusCode::OK,
            update_password_page(snap, &action, session_code, Some(msg)),
        )
    };
    if new.is_empty() {
        return again("Please specify password.");
    }
    if confirm != Some(new) {
        return again("Passwords don't match.");
    }
    if let Err(r) = replace_password(state, snap, user_id, new, &again).await {
        return r;
    }
    let reply = Reply::to(&pending.request, issuer);
    complete_login(
        state,
        snap,
        protocol,
        &reply,
        session_code,
        pending,
        user_id,
    )
    .await
}

/// Checks the new password against the policy (a refusal shows the form again), stores it,
/// and drops the required action.
async fn replace_password(
    state: &AppState,
    snap: &RealmSnapshot,
    user_id: &str,
    new: &str,
    again: impl Fn(&str) -> Response,
) -> Result<(), Response> {
    let row = match state.store.user_by_id(&snap.id, user_id).await {
        Ok(Some(r)) => r,
        _ => return Err(error_page(StatusCode::BAD_REQUEST, "Invalid Request.")),
    };
    let mut user = parse_user(&row).map_err(|_| internal_error())?;
    let policy = snap.rep.password_policy.as_deref().unwrap_or_default();
    let rules = match crate::policy::password::parse_resolved(policy, &snap.blacklists).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(realm = %snap.name, error = %e, "invalid password policy");
            return Err(internal_error());
        }
    };
    match crate::policy::password::replace_password(&mut user, new, &rules, now() * 1000).await {
        Ok(()) => {}
        Err(Refused::Policy(msg)) => return Err(again(&msg)),
        Err(Refused::Internal) => return Err(internal_error()),
    }
    if let Some(a) = user.required_actions.as_mut() {
        a.retain(|x| x != "UPDATE_PASSWORD");
    }
    let mut updated = row.clone();
    updated.representation = serde_json::to_string(&user).map_err(|_| internal_error())?;
    if state.store.update_user(&snap.id, &updated).await.is_err() {
        return Err(internal_error());
    }
    Ok(())
}
