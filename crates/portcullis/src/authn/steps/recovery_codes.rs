//! Recovery authentication codes in the browser login: the form authenticator
//! `auth-recovery-authn-code-form` (Keycloak's `RecoveryAuthnCodesFormAuthenticator`,
//! `RecoveryAuthnCodeInputLoginBean`, `login-recovery-authn-code-input.ftl`) and the required
//! action `CONFIGURE_RECOVERY_AUTHN_CODES` (`RecoveryAuthnCodesAction`,
//! `RecoveryAuthnCodesConfigBean`, `login-recovery-authn-code-config.ftl`). The codes and
//! their stored shape are [`crate::users::recovery_codes`].
//!
//! The form asks for "Recovery code #N", N the number of the next unused code; a right code is
//! used up (once, whichever node sees it first), a wrong one is refused with
//! `recovery-codes-error-invalid` and counts for brute-force protection as a wrong OTP does.
//! When the last code is used the credential is removed and the user gets
//! `CONFIGURE_RECOVERY_AUTHN_CODES`. The required action shows twelve new codes, generated once
//! per login (kept in the pending login as Keycloak keeps auth notes
//! `RecoveryAuthnCodes.generatedRecoveryAuthnCodes` / `.generatedAt`); the post must carry the
//! codes and time the page showed, and the confirmation box; the new set replaces the old.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::authn::browser::Browser;
use crate::authn::brute_force;
use crate::authn::pages::{error_page, escape, internal_error, page as html_page, realm_title};
use crate::authn::PendingLogin;
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::{StoreError, UserRow};
use crate::users::parse_user;
use crate::users::recovery_codes::{self as rc, Codes};

use super::required_action::{save, Actions, Fields, Posted};

/// Keycloak's `recovery-codes-error-invalid`.
pub const INVALID: &str = "Invalid recovery authentication code";
/// Keycloak's `auth-recovery-code-header`.
pub const HEADER: &str = "Login with a recovery authentication code";
/// The required action's refusal when the box is not ticked (Keycloak's page only keeps the
/// button disabled until it is).
pub const NOT_CONFIRMED: &str =
    "Please confirm that you have saved the recovery codes (kcRecoveryCodesConfirmationCheck).";
/// The form field (`FIELD_RECOVERY_CODE_IN_BROWSER_FLOW`).
pub const FIELD: &str = "recoveryCodeInput";

/// The codes a `CONFIGURE_RECOVERY_AUTHN_CODES` page showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generated {
    /// The raw codes, in order.
    pub codes: Vec<String>,
    /// When (milliseconds), the credential's `createdDate`.
    pub generated_at: i64,
}

/// The form's page: the number asked for, and the error shown.
#[derive(Debug, Clone)]
pub struct AuthPage {
    /// The next code's number.
    pub number: u32,
    /// The error shown.
    pub error: Option<&'static str>,
}

/// What the form step did.
pub enum AuthOut {
    /// The code was right.
    Success,
    /// A required form for a user without codes: its required action.
    SetupRequired(&'static str),
    /// The user's set has no code left (a stored set can only be empty if imported so): it
    /// does not apply.
    Attempted,
    /// The page.
    Challenge(AuthPage),
    /// An answer (storage failure).
    Answer(Response),
}

async fn load(b: &Browser<'_>, id: Option<&str>) -> Option<(UserRow, UserRepresentation)> {
    let row = b.state.store.user_by_id(&b.snap.id, id?).await.ok()??;
    let user = parse_user(&row).ok()?;
    Some((row, user))
}

/// The form step: the page, or the posted code checked and used up.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn authenticate(
    b: &Browser<'_>,
    pending: &mut PendingLogin,
    posted: Option<Fields<'_>>,
) -> AuthOut {
    let Some((row, user)) = load(b, pending.flow.user.as_deref()).await else {
        return AuthOut::Answer(error_page(StatusCode::BAD_REQUEST, "Invalid Request."));
    };
    let Some(stored) = rc::credential(&user) else {
        // `RecoveryAuthnCodesFormAuthenticator.setRequiredActions`: the planner runs a
        // required form for a user without codes only to set this up.
        return AuthOut::SetupRequired(rc::ACTION);
    };
    let Some(codes) = Codes::parse(
        stored.credential_data.as_deref().unwrap_or_default(),
        stored.secret_data.as_deref().unwrap_or_default(),
    ) else {
        tracing::warn!(realm = %b.snap.name, "a recovery-codes credential cannot be read");
        return AuthOut::Answer(internal_error());
    };
    let Some(number) = codes.next_number() else {
        return AuthOut::Attempted;
    };
    let again = |error| AuthOut::Challenge(AuthPage { number, error });
    let Some(f) = posted else {
        return again(None);
    };
    let failed = |error: &str| {
        crate::authn::login_event(b.snap, &pending.request)
            .user(row.id.clone())
            .detail("username", user.username.clone().unwrap_or_default())
            .detail("credential_type", rc::TYPE)
            .error(b.state, error);
    };
    let input = rc::normalize_input(f(FIELD).unwrap_or_default());
    if input.is_empty() {
        // Keycloak answers a blank code with the page and its error, not as a failure.
        failed(crate::events::errors::INVALID_USER_CREDENTIALS);
        return again(Some(INVALID));
    }
    let attempt = match brute_force::begin(b.state, b.snap, &row.id, &user).await {
        Ok(brute_force::Gate::Open(a)) => a,
        Ok(brute_force::Gate::Locked(lock)) => {
            // `isDisabledByBruteForce`: the page with Keycloak's `invalidUserMessage`.
            failed(lock.event_error());
            return again(Some(super::password::INVALID));
        }
        Err(_) => return AuthOut::Answer(internal_error()),
    };
    let id = stored.id.clone().unwrap_or_default();
    match codes.matches_next(&input) {
        true => match use_next(b, &row, &id, number).await {
            Ok(true) => {
                attempt.succeeded().await;
                pending.flow.used(rc::TYPE);
                AuthOut::Success
            }
            Ok(false) => {
                failed(crate::events::errors::INVALID_USER_CREDENTIALS);
                attempt.failed(b.remote).await;
                again(Some(INVALID))
            }
            Err(_) => AuthOut::Answer(internal_error()),
        },
        false => {
            failed(crate::events::errors::INVALID_USER_CREDENTIALS);
            attempt.failed(b.remote).await;
            again(Some(INVALID))
        }
    }
}

/// Uses up code `number` of credential `id`: `Ok(false)` when another login used it first.
/// The last code used removes the credential and gives the user
/// `CONFIGURE_RECOVERY_AUTHN_CODES` (`isRecoveryAuthnCodeInputValid`).
async fn use_next(
    b: &Browser<'_>,
    row: &UserRow,
    id: &str,
    number: u32,
) -> Result<bool, StoreError> {
    let claim = format!("recovery-code:{}:{}:{id}:{number}", b.snap.id, row.id);
    if !b
        .state
        .store
        .use_once(&claim, now() + 10 * 365 * 24 * 3600)
        .await?
    {
        return Ok(false);
    }
    // Read again: another step may have changed the user since.
    let Some(mut fresh) = b.state.store.user_by_id(&b.snap.id, &row.id).await? else {
        return Ok(false);
    };
    let mut user = parse_user(&fresh)?;
    let list = user.credentials.get_or_insert_with(Vec::new);
    let Some(at) = list.iter().position(|c| {
        c.kind.as_deref() == Some(rc::TYPE) && c.id.as_deref().unwrap_or_default() == id
    }) else {
        return Ok(false);
    };
    let c = &mut list[at];
    let Some(mut codes) = Codes::parse(
        c.credential_data.as_deref().unwrap_or_default(),
        c.secret_data.as_deref().unwrap_or_default(),
    ) else {
        return Ok(false);
    };
    if codes.next_number() != Some(number) {
        return Ok(false);
    }
    let (data, secret) = codes.consume_next();
    if codes.all_used() {
        list.remove(at);
        let actions = user.required_actions.get_or_insert_with(Vec::new);
        if !actions.iter().any(|a| a == rc::ACTION) {
            actions.push(rc::ACTION.into());
        }
    } else {
        c.credential_data = Some(data);
        c.secret_data = Some(secret);
    }
    fresh.representation =
        serde_json::to_string(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    b.state.store.update_user(&b.snap.id, &fresh).await?;
    Ok(true)
}

/// The form's page (`login-recovery-authn-code-input.ftl`).
pub fn render_auth(snap: &RealmSnapshot, action: &str, code: &str, p: &AuthPage) -> String {
    let label = format!("Recovery code #{}", p.number);
    crate::authn::pages::step_page(
        snap,
        "kc-recovery-code-login-form",
        action,
        code,
        &[crate::authn::pages::Field {
            name: FIELD,
            label: &label,
            kind: "text",
            autocomplete: "off",
            value: "",
        }],
        &format!("<p id=\"kc-recovery-code-header\">{HEADER}</p>"),
        p.error,
    )
}

/// The required action's page: the codes generated for this login (kept in `pending`).
pub fn config_page(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    pending: &mut PendingLogin,
    user: &UserRepresentation,
    error: Option<&str>,
) -> String {
    let generated = pending
        .recovery_codes
        .get_or_insert_with(|| Generated {
            codes: rc::generate(),
            generated_at: now() * 1000,
        })
        .clone();
    let list: String = generated
        .codes
        .iter()
        .map(|c| format!("<li>{}</li>", escape(&rc::display(c))))
        .collect();
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"input-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let cancel = if super::configure_totp::cancel_button(pending, user, rc::ACTION).is_empty() {
        ""
    } else {
        " <button type=\"submit\" name=\"cancel-aia\" value=\"true\" id=\"cancelRecoveryAuthnCodesBtn\" formnovalidate>Cancel</button>"
    };
    html_page(
        &format!("Recovery authentication codes - {}", realm_title(snap)),
        &format!(
            "<h1>Recovery authentication codes</h1>{err}\
             <div id=\"kc-recovery-codes-warning\" role=\"alert\"><h4>These recovery codes won't appear again after leaving this page</h4>\
             <p>Make sure to print, download, or copy them to a password manager and keep them safe. Canceling this setup will remove these recovery codes from your account.</p></div>\
             <ol id=\"kc-recovery-codes-list\">{list}</ol>\
             <form id=\"kc-recovery-codes-settings-form\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <input type=\"hidden\" name=\"generatedRecoveryAuthnCodes\" value=\"{codes}\">\
             <input type=\"hidden\" name=\"generatedAt\" value=\"{at}\">\
             <input type=\"hidden\" id=\"userLabel\" name=\"userLabel\" value=\"{label}\">\
             <label><input type=\"checkbox\" id=\"kcRecoveryCodesConfirmationCheck\" name=\"kcRecoveryCodesConfirmationCheck\" style=\"width:auto\" required> I have saved these codes somewhere safe</label>\
             <button type=\"submit\" id=\"saveRecoveryAuthnCodesBtn\">Complete setup</button>{cancel}</form>",
            a = escape(action),
            s = escape(code),
            codes = escape(&generated.codes.join(",")),
            at = generated.generated_at,
            label = escape(rc::DEFAULT_LABEL),
        ),
    )
}

/// The required action's post (`RecoveryAuthnCodesAction.processAction`): the codes and time
/// the page showed (anything else is the page again, as Keycloak answers tampered codes), the
/// confirmation box ticked; the new set replaces the user's old one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn config_post(
    a: &Actions<'_>,
    pending: &mut PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    f: Fields<'_>,
) -> Posted {
    let Some(generated) = pending.recovery_codes.clone() else {
        return Posted::Stay;
    };
    let codes_shown = generated.codes.join(",");
    let same_codes = f("generatedRecoveryAuthnCodes").is_some_and(|c| {
        aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), codes_shown.as_bytes())
            .is_ok()
    });
    let same_time = f("generatedAt") == Some(generated.generated_at.to_string().as_str());
    if !same_codes || !same_time {
        return Posted::Stay;
    }
    if f("kcRecoveryCodesConfirmationCheck").is_none_or(|v| v.is_empty() || v == "false") {
        return Posted::Again(NOT_CONFIRMED.into());
    }
    let label = f("userLabel").map(str::trim).unwrap_or_default();
    let credential = rc::new_credential(&generated.codes, generated.generated_at, label);
    let mut updated = user.clone();
    rc::replace(&mut updated, credential);
    if let Err(r) = save(a, row, &updated).await {
        return Posted::End(r);
    }
    pending.recovery_codes = None;
    // `RecoveryAuthnCodesAction.processAction`: `UPDATE_CREDENTIAL` with the credential type.
    let mut e = crate::events::UserEvent::new(a.snap, "UPDATE_CREDENTIAL")
        .user(row.id.clone())
        .detail("credential_type", rc::TYPE)
        .detail("username", user.username.clone().unwrap_or_default());
    if let Some(c) = &pending.request.client_id {
        e.set_client(c.clone());
    }
    e.success(a.state);
    Posted::Done
}
