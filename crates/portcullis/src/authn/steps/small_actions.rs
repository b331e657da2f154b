//! The small built-in required actions: `update_user_locale` (Keycloak's
//! `UpdateUserLocaleAction`: no page; when the login asked for a locale with `kc_locale`, it
//! becomes the user's `locale` attribute) and `delete_credential` (Keycloak 24+'s
//! `DeleteCredentialAction`: application-initiated as `kc_action=delete_credential:{id}`, a
//! confirmation page, then the user's credential of that id is removed).

use axum::http::StatusCode;
use serde_json::json;

use crate::authn::pages::{error_page, escape, internal_error, page as html_page, realm_title};
use crate::authn::PendingLogin;
use crate::representation::{CredentialRepresentation, UserRepresentation};
use crate::store::UserRow;
use crate::users::parse_user;

use super::required_action::{save, Actions, Posted};

/// `UserModel.LOCALE`.
pub const LOCALE_ATTRIBUTE: &str = "locale";

/// A locale tag as a login may ask for one (`en`, `pt-BR`, `zh_CN`): anything else is not
/// stored.
fn plausible_locale(l: &str) -> bool {
    (1..=35).contains(&l.len())
        && l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `UpdateUserLocaleAction.evaluateTriggers` (with `LocaleUpdaterProvider.updateUsersLocale`):
/// the locale the login asked for becomes the user's `locale` attribute, when it differs;
/// `true` when it did (the user changed).
pub async fn update_user_locale(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
) -> Result<bool, axum::response::Response> {
    let Some(locale) = pending.request.kc_locale.as_deref() else {
        return Ok(false);
    };
    if !plausible_locale(locale) {
        return Ok(false);
    }
    let mut user = parse_user(row).map_err(|_| internal_error())?;
    let current = user
        .attributes
        .as_ref()
        .and_then(|m| m.get(LOCALE_ATTRIBUTE))
        .and_then(|v| match v {
            serde_json::Value::Array(l) => l.first().and_then(|x| x.as_str()),
            other => other.as_str(),
        });
    if current == Some(locale) {
        return Ok(false);
    }
    user.attributes
        .get_or_insert_with(Default::default)
        .insert(LOCALE_ATTRIBUTE.into(), json!([locale]));
    save(a, row, &user).await.map(|()| true)
}

/// The credential `kc_action=delete_credential:{id}` names, among the user's.
pub fn credential_to_delete<'u>(
    pending: &PendingLogin,
    user: &'u UserRepresentation,
) -> Option<&'u CredentialRepresentation> {
    let id = pending.request.kc_action_parameter.as_deref()?;
    user.credentials
        .iter()
        .flatten()
        .find(|c| c.id.as_deref() == Some(id))
}

fn label_of(c: &CredentialRepresentation) -> String {
    c.extra
        .get("userLabel")
        .and_then(serde_json::Value::as_str)
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .or_else(|| c.kind.clone())
        .unwrap_or_default()
}

/// `delete-credential.ftl`: "Delete {label}", confirm or cancel (`cancel-aia`).
pub fn delete_credential_page(
    a: &Actions<'_>,
    action: &str,
    code: &str,
    pending: &PendingLogin,
    user: &UserRepresentation,
) -> Option<String> {
    let label = escape(&label_of(credential_to_delete(pending, user)?));
    Some(html_page(
        &format!("Delete {label} - {}", escape(&realm_title(a.snap))),
        &format!(
            "<h1 id=\"kc-page-title\">Delete {label}</h1><div id=\"kc-delete-text\">Do you want to delete {label}?</div>\
             <form class=\"form-actions\" action=\"{act}\" method=\"POST\"><input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <button name=\"accept\" id=\"kc-accept\" type=\"submit\">Confirm deletion</button> \
             <button name=\"cancel-aia\" value=\"true\" id=\"kc-decline\" type=\"submit\">Cancel</button></form>",
            act = escape(action),
            s = escape(code),
        ),
    ))
}

/// `CredentialDeleteHelper.checkIfCanBeRemoved`: the message refusing a credential type, if
/// any (a password's metadata is not removable; an unknown type has no provider).
fn refusal(kind: &str) -> Option<&'static str> {
    match kind {
        "otp" | "webauthn" | "webauthn-passwordless" | crate::users::recovery_codes::TYPE => None,
        "password" => Some("Credential type cannot be removed"),
        _ => Some("Credential provider not found"),
    }
}

/// `DeleteCredentialAction.processAction`: removes the credential (events `REMOVE_CREDENTIAL`
/// and, for OTP, the deprecated `REMOVE_TOTP`), or ends on Keycloak's error page with
/// `delete_credential_failed`.
pub async fn delete_credential_post(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
) -> Posted {
    let Ok(mut user) = parse_user(row) else {
        return Posted::End(internal_error());
    };
    let username = user.username.clone().unwrap_or_default();
    let event = |kind: &'static str| {
        let mut e = crate::events::UserEvent::new(a.snap, kind)
            .user(row.id.clone())
            .detail("username", username.clone());
        if let Some(c) = &pending.request.client_id {
            e.set_client(c.clone());
        }
        e
    };
    let found = credential_to_delete(pending, &user).map(|c| {
        (
            c.id.clone().unwrap_or_default(),
            c.kind.clone().unwrap_or_default(),
            c.extra
                .get("userLabel")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
        )
    });
    let with_details = |kind: &'static str| {
        let mut e = event(kind);
        if let Some((id, t, label)) = &found {
            e.set_detail("credential_type", t.clone());
            e.set_detail("credential_id", id.clone());
            if let Some(l) = label {
                e.set_detail("credential_user_label", l.clone());
            }
        }
        e
    };
    let is_otp = found.as_ref().is_some_and(|(_, t, _)| t == "otp");
    let kinds: &[&'static str] = if is_otp {
        &["REMOVE_CREDENTIAL", "REMOVE_TOTP"]
    } else {
        &["REMOVE_CREDENTIAL"]
    };
    let message = match &found {
        None => Some("Credential not found"),
        Some((_, t, _)) => refusal(t),
    };
    if let Some(message) = message {
        for &k in kinds {
            with_details(k)
                .detail("reason", message)
                .error(a.state, "delete_credential_failed");
        }
        return Posted::End(error_page(StatusCode::BAD_REQUEST, message));
    }
    let id = found
        .as_ref()
        .map(|(id, _, _)| id.clone())
        .unwrap_or_default();
    if let Some(list) = user.credentials.as_mut() {
        list.retain(|c| c.id.as_deref() != Some(id.as_str()));
    }
    if let Err(r) = save(a, row, &user).await {
        return Posted::End(r);
    }
    for &k in kinds {
        with_details(k).success(a.state);
    }
    Posted::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_and_removable_types() {
        assert!(plausible_locale("pt-BR") && plausible_locale("de"));
        assert!(!plausible_locale("") && !plausible_locale("de<script>"));
        assert_eq!(refusal("otp"), None);
        assert_eq!(
            refusal("password"),
            Some("Credential type cannot be removed")
        );
    }
}
