//! `delete_account` (Keycloak's `DeleteAccount` required action, disabled in a new realm): for
//! a user with the `account` client's `delete-account` role, a confirmation page; confirming
//! deletes the user (with their sessions) and ends the login on "User deleted successfully".
//! Without the role the page is Keycloak's `deletingAccountForbidden` message.

use axum::http::StatusCode;

use crate::authn::pages::{escape, html, internal_error, message_page, page as html_page};
use crate::authn::PendingLogin;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::UserRow;

use super::required_action::{Actions, Posted};

/// Keycloak's `deletingAccountForbidden`.
pub const FORBIDDEN: &str =
    "You do not have enough permissions to delete your own account, contact admin.";
/// Keycloak's `userDeletedSuccessfully`.
pub const DELETED: &str = "User deleted successfully";

/// `clientHasDeleteAccountRole`: the user has `account`'s `delete-account` role (directly,
/// through a group or a composite).
pub fn may_delete(snap: &RealmSnapshot, user: &UserRepresentation) -> bool {
    let wanted = crate::model::Role::Client("account".into(), "delete-account".into());
    crate::tokens::effective_roles(snap, user).contains(&wanted)
}

/// `delete-account-confirm.ftl` (with a Cancel button when application-initiated), or the
/// error page of a user without the role.
pub fn page(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    pending: &PendingLogin,
    user: &UserRepresentation,
    error: Option<&str>,
) -> String {
    if !may_delete(snap, user) {
        return html_page(
            "Error",
            &format!(
                "<h1>We are sorry...</h1><p role=\"alert\">{}</p>",
                escape(FORBIDDEN)
            ),
        );
    }
    let aia = pending.request.kc_action.as_deref() == Some("delete_account");
    let cancel = if aia {
        " <button type=\"submit\" name=\"cancel-aia\" value=\"true\" id=\"kc-decline\">Cancel</button>"
    } else {
        ""
    };
    let alert = error
        .map(|e| format!("<p role=\"alert\" class=\"alert-error\">{}</p>", escape(e)))
        .unwrap_or_default();
    html_page(
        "Delete Account Confirmation",
        &format!(
            "<h1 id=\"kc-page-title\">Delete Account Confirmation</h1>{alert}\
             <p>Irreversible account deletion</p>\
             <p>Deleting your account will delete all your data and log you out immediately.</p>\
             <p>If you proceed with the action, your account will be permanently deleted.</p>\
             <form action=\"{a}\" method=\"POST\"><input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <button type=\"submit\" name=\"confirm\" id=\"kc-submit\">Confirm</button>{cancel}</form>",
            a = escape(action),
            s = escape(code),
        ),
    )
}

/// `DeleteAccount.processAction`.
pub async fn post(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    action: &str,
    code: &str,
) -> Posted {
    let event = |kind: &'static str| {
        let mut e = crate::events::UserEvent::new(a.snap, kind).user(row.id.clone());
        if let Some(c) = &pending.request.client_id {
            e.set_client(c.clone());
        }
        e
    };
    if !may_delete(a.snap, user) {
        event("DELETE_ACCOUNT_ERROR")
            .detail(
                "reason",
                "does not have the required roles for user deletion",
            )
            .error(a.state, "user_delete_error");
        return Posted::Page(page(a.snap, action, code, pending, user, Some(FORBIDDEN)));
    }
    match crate::users::delete_user(a.state.store.as_ref(), a.snap, &row.id).await {
        Ok(true) => {
            event("DELETE_ACCOUNT").success(a.state);
            Posted::End(html(StatusCode::OK, message_page(a.snap, "", DELETED)))
        }
        Ok(false) => {
            event("DELETE_ACCOUNT").error(a.state, "User could not be deleted");
            Posted::End(internal_error())
        }
        Err(e) => {
            tracing::error!(realm = %a.snap.name, error = %e, "deleting an account failed");
            Posted::End(internal_error())
        }
    }
}
