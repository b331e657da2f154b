//! POST /realms/{realm}/login-actions/required-action  (the `UPDATE_EMAIL` required action)
//! Keycloak's `UpdateEmail` (feature `update-email`, on by default since Keycloak 26.4): the
//! `update-email.ftl` page asks for the new address (`email`), the realm's user profile checks
//! it (`missingEmailMessage`, `invalidEmailMessage`, `emailExistsMessage` unless
//! `duplicateEmailsAllowed`, the `email` attribute's validators). Then:
//! - without e-mail verification (the realm's `verifyEmail` off and the action's config
//!   `verifyEmail` not `true`): the address changes at once, `emailVerified` false, event
//!   `UPDATE_EMAIL` with `previous_email` / `updated_email`;
//! - with it: nothing changes yet. An `update-email` action token (claims `oldEmail`,
//!   `newEmail`) goes to the NEW address (event `SEND_VERIFY_EMAIL`, detail `email`), the user
//!   keeps attribute `kc.email.pending`, and the "Confirmation email sent" page is shown. The
//!   link ([`crate::action_token`]) changes the address and verifies it, once, and only while
//!   the user's address is still the token's `oldEmail`.

use serde_json::json;

use crate::action_token::token::{self as action_token, ActionToken, Kind, UPDATE_EMAIL};
use crate::authn::pages::{escape, internal_error, page as html_page, realm_title};
use crate::authn::PendingLogin;
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::UserRow;
use crate::users::profile::{config_for, validate_user, Context, FieldError};
use crate::AppState;

use super::configure_totp::cancel_button;
use super::profile_actions::field_message;
use super::required_action::{is_enabled, save, Actions, Fields, Posted};

/// The action's alias (`UserModel.RequiredAction.UPDATE_EMAIL`).
pub const ALIAS: &str = "UPDATE_EMAIL";
/// `UserModel.EMAIL_PENDING`: the address a confirmation mail was sent to.
pub const EMAIL_PENDING: &str = "kc.email.pending";

/// `UpdateEmail.isEnabled`: the feature is on and the realm has the action enabled.
pub fn enabled(state: &AppState, snap: &RealmSnapshot) -> bool {
    state.config.features.update_email && is_enabled(snap, ALIAS)
}

/// `UpdateEmail.isVerifyEmailEnabled`: the action's config `verifyEmail` ("Force Email
/// Verification") or the realm's `verifyEmail`.
fn verify_email_on(snap: &RealmSnapshot) -> bool {
    let forced = crate::representation::authentication::required_actions(&snap.rep)
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.alias.as_deref() == Some(ALIAS))
        .and_then(|a| a.config)
        .and_then(|c| c.get("verifyEmail").cloned())
        .is_some_and(|v| v == json!(true) || v == json!("true"));
    forced
        || snap
            .rep
            .extra
            .get("verifyEmail")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
}

/// The pending address of a user (`kc.email.pending`).
pub fn pending_email(user: &UserRepresentation) -> Option<String> {
    match user.attributes.as_ref()?.get(EMAIL_PENDING)? {
        serde_json::Value::Array(a) => a.first()?.as_str().map(str::to_string),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn set_pending(user: &mut UserRepresentation, email: Option<&str>) {
    match email {
        Some(e) => {
            user.attributes
                .get_or_insert_with(Default::default)
                .insert(EMAIL_PENDING.into(), json!([e]));
        }
        None => {
            if let Some(a) = user.attributes.as_mut() {
                a.shift_remove(EMAIL_PENDING);
            }
        }
    }
}

/// `update-email.ftl`: the address (the user's, or the one posted), its error, Submit (and
/// Cancel for an application-initiated action the user does not also have to do).
pub fn page(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    pending: &PendingLogin,
    user: &UserRepresentation,
    value: Option<&str>,
    error: Option<&str>,
) -> String {
    let value = value
        .map(str::to_string)
        .or_else(|| user.email.clone())
        .unwrap_or_default();
    let (invalid, err) = match error {
        Some(e) => (
            " aria-invalid=\"true\"",
            format!(
                "<span id=\"input-error-email\" class=\"error\" aria-live=\"polite\">{}</span>",
                escape(e)
            ),
        ),
        None => ("", String::new()),
    };
    html_page(
        &format!("Update email - {}", realm_title(snap)),
        &format!(
            "<h1>Update email</h1><form id=\"kc-update-email-form\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <label for=\"email\">Email</label><input type=\"text\" id=\"email\" name=\"email\" value=\"{v}\"{invalid}>{err}\
             <input type=\"submit\" value=\"Submit\">{cancel}</form>",
            a = escape(action),
            s = escape(code),
            v = escape(&value),
            cancel = cancel_button(pending, user, ALIAS),
        ),
    )
}

/// `UpdateEmail.validateEmailUpdate`: the user profile in context `UPDATE_EMAIL` with the new
/// address; the first message of the `email` field, in the order of Keycloak's validators
/// (`BlankAttributeValidator`, `DuplicateEmailValidator`, `EmailExistsAsUsernameValidator`,
/// then the configuration's `email` validators).
async fn problem(
    state: &AppState,
    snap: &RealmSnapshot,
    row: &UserRow,
    user: &UserRepresentation,
    email: &str,
    scopes: &[String],
) -> Result<Option<String>, ()> {
    if email.is_empty() {
        return Ok(Some("Please specify email.".into()));
    }
    let unchanged = user
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(email));
    if !unchanged {
        if !snap.settings.duplicate_emails_allowed {
            let others = state
                .store
                .users_by_email(&snap.id, email)
                .await
                .map_err(drop)?;
            if others.iter().any(|o| o.id != row.id) {
                return Ok(Some("Email already exists.".into()));
            }
        }
        if snap.settings.registration_email_as_username {
            let named = state
                .store
                .user_by_username(&snap.id, email)
                .await
                .map_err(drop)?;
            if named.is_some_and(|o| o.id != row.id) {
                return Ok(Some("Email already exists.".into()));
            }
        }
    }
    let config = config_for(snap);
    let mut next = user.clone();
    next.email = Some(email.to_string());
    let errors: Vec<FieldError> =
        validate_user(&config, Context::Login(scopes), &mut next, Some(user))
            .into_iter()
            .filter(|e| e.field == "email")
            .collect();
    Ok(errors.first().map(field_message))
}

/// POST of the page (`UpdateEmail.processAction`).
pub async fn post(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    f: Fields<'_>,
    code: &str,
) -> Posted {
    let email = f("email").unwrap_or_default().trim().to_string();
    let scopes = pending.request.scope_names(a.snap);
    let action = crate::http::paths::url("", crate::http::paths::REQUIRED_ACTION, &a.snap.name);
    match problem(a.state, a.snap, row, user, &email, &scopes).await {
        Ok(None) => {}
        Ok(Some(msg)) => {
            return Posted::Page(page(
                a.snap,
                &action,
                code,
                pending,
                user,
                Some(&email),
                Some(&msg),
            ))
        }
        Err(()) => return Posted::End(internal_error()),
    }
    let same_and_verified =
        user.email.as_deref() == Some(email.as_str()) && user.email_verified == Some(true);
    if !verify_email_on(a.snap) || same_and_verified {
        return update_now(a, pending, row, user, &email).await;
    }
    send_confirmation(a, pending, row, user, &email).await
}

/// `UpdateEmail.updateEmailNow` without confirmation: the address changes (`emailVerified`
/// false when it differs: context `UPDATE_EMAIL` resets it), the pending one is dropped.
async fn update_now(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    email: &str,
) -> Posted {
    let mut next = user.clone();
    let previous = user.email.clone().unwrap_or_default();
    if user.email.as_deref() != Some(email) {
        next.email = Some(email.to_string());
        next.email_verified = Some(false);
    }
    set_pending(&mut next, None);
    if let Err(r) = save(a, row, &next).await {
        return Posted::End(r);
    }
    update_event(a.snap, pending, &row.id, user, &previous, email).success(a.state);
    Posted::Done
}

/// The login's event turned `UPDATE_EMAIL`, with `previous_email` and `updated_email`.
fn update_event(
    snap: &RealmSnapshot,
    pending: &PendingLogin,
    user_id: &str,
    user: &UserRepresentation,
    previous: &str,
    email: &str,
) -> crate::events::UserEvent {
    let mut e = crate::authn::login_event(snap, &pending.request)
        .user(user_id.to_string())
        .detail("username", user.username.clone().unwrap_or_default());
    e.set_kind(snap, "UPDATE_EMAIL");
    e.set_detail("previous_email", previous.to_string());
    e.set_detail("updated_email", email.to_string());
    e
}

/// `UpdateEmail.sendEmailUpdateConfirmation`: the `update-email` token to the new address,
/// `kc.email.pending` on the user, the "Confirmation email sent" page (the action stays due).
async fn send_confirmation(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    email: &str,
) -> Posted {
    let client = pending.request.client_id.clone().unwrap_or_default();
    let lifespan = action_token::user_lifespan(a.snap, UPDATE_EMAIL);
    let t = now();
    let kind = Kind::UpdateEmail {
        old_email: user.email.clone(),
        new_email: email.to_string(),
    };
    let mut token = ActionToken::new(kind, Some(&row.id), &client, t, t + lifespan);
    token.redirect_uri = pending.request.redirect_uri.clone();
    let mut event = crate::authn::login_event(a.snap, &pending.request)
        .user(row.id.clone())
        .detail("email", email.to_string());
    event.set_kind(a.snap, "SEND_VERIFY_EMAIL");
    let sent = match a.snap.hmac_keys.first() {
        Some(key) => {
            let issuer = crate::http::paths::url(a.base, crate::http::paths::REALM, &a.snap.name);
            let link = action_token::link(a.base, a.snap, &token.sign(key, &issuer));
            let realm_name = a
                .snap
                .rep
                .display_name
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| a.snap.name.clone());
            let mail = crate::email::templates::update_email_confirmation(
                email,
                &realm_name,
                &link,
                lifespan,
            );
            crate::email::SmtpSettings::of(a.snap.rep.smtp_server.as_ref())
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    a.state
                        .email
                        .enqueue(&a.snap.name, s, mail)
                        .map_err(|e| e.to_string())
                })
        }
        None => Err("the realm has no HMAC key".to_string()),
    };
    if let Err(reason) = sent {
        tracing::warn!(realm = %a.snap.name, error = %reason, "failed to send the update-email mail");
        event.error(a.state, "email_send_failed");
        return Posted::End(crate::authn::pages::error_page(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to send email, please try again later.",
        ));
    }
    event.success(a.state);
    let mut next = user.clone();
    set_pending(&mut next, Some(email));
    if let Err(r) = save(a, row, &next).await {
        return Posted::End(r);
    }
    Posted::Page(confirmation_sent_page(a.snap, email))
}

/// `info.ftl` with `emailUpdateConfirmationSentTitle` / `emailUpdateConfirmationSent`.
fn confirmation_sent_page(snap: &RealmSnapshot, email: &str) -> String {
    html_page(
        &format!("Confirmation email sent - {}", realm_title(snap)),
        &format!(
            "<h1>Confirmation email sent</h1><div id=\"kc-info-message\"><p class=\"instruction\">A confirmation email has been sent to {}. You must follow the instructions of the former to complete the email update.</p></div>",
            escape(email)
        ),
    )
}

/// `UpdateEmailActionTokenHandler.handleToken` on the user: the address the token carries,
/// verified; `UPDATE_EMAIL`, `VERIFY_EMAIL` and the pending address dropped. `Err` holds
/// Keycloak's message when the token no longer applies.
pub fn apply_token(user: &mut UserRepresentation, new_email: &str) -> Result<String, &'static str> {
    if pending_email(user).as_deref() != Some(new_email) {
        return Err(action_token::STALE_VERIFY_EMAIL);
    }
    let previous = user.email.clone().unwrap_or_default();
    user.email = Some(new_email.to_string());
    user.email_verified = Some(true);
    set_pending(user, None);
    if let Some(list) = user.required_actions.as_mut() {
        list.retain(|x| x != ALIAS && x != "VERIFY_EMAIL");
    }
    Ok(previous)
}

/// `UpdateEmail.evaluateTriggers`: a pending address puts `UPDATE_EMAIL` on the user; a user
/// with `UPDATE_EMAIL` loses `VERIFY_EMAIL`. Returns whether the user changed.
pub fn trigger(user: &mut UserRepresentation) -> bool {
    let has_pending = pending_email(user).is_some();
    let list = user.required_actions.get_or_insert_with(Vec::new);
    if has_pending {
        if !list.iter().any(|x| x == ALIAS) {
            list.push(ALIAS.into());
            return true;
        }
        return false;
    }
    if list.iter().any(|x| x == ALIAS) && list.iter().any(|x| x == "VERIFY_EMAIL") {
        list.retain(|x| x != "VERIFY_EMAIL");
        return true;
    }
    false
}
