//! Required actions on the user's own data: `TERMS_AND_CONDITIONS` (Keycloak's
//! `TermsAndConditions`: accept sets attribute `terms_and_conditions` to the time in seconds,
//! `cancel` removes it and the login fails with `access_denied`), `UPDATE_PROFILE`
//! (`UpdateProfile`: the form built from the realm's user profile, validated in the user's
//! context, one message per field) and `VERIFY_EMAIL` (`VerifyEmail`: the mail with a
//! `verify-email` action token goes out once per login and address; the page's post re-sends it,
//! or goes on once the link was opened).

use axum::response::Response;
use serde_json::json;

use crate::authn::pages::{escape, internal_error, page as html_page, realm_title};
use crate::authn::PendingLogin;
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::UserRow;
use crate::users::profile::{config_for, validate_user, values_of, Context, FieldError, UpConfig};

use super::configure_totp::cancel_button;
use super::required_action::{save, Actions, Fields, Posted};

/// `TermsAndConditions.USER_ATTRIBUTE`.
pub const TERMS_ATTRIBUTE: &str = "terms_and_conditions";

/// `terms.ftl`: accept or decline.
pub fn terms_page(snap: &RealmSnapshot, action: &str, code: &str) -> String {
    html_page(
        &format!("Terms and Conditions - {}", realm_title(snap)),
        &format!(
            "<h1>Terms and Conditions</h1><div id=\"kc-terms-text\"><p>Terms and conditions to be defined</p></div>\
             <form class=\"form-actions\" action=\"{a}\" method=\"POST\"><input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <button name=\"accept\" value=\"Accept\" id=\"kc-accept\" type=\"submit\">Accept</button> \
             <button name=\"cancel\" value=\"Decline\" id=\"kc-decline\" type=\"submit\">Decline</button></form>",
            a = escape(action),
            s = escape(code),
        ),
    )
}

/// POST of the terms: `cancel` fails the login (`context.failure()`: the client gets
/// `access_denied`), anything else accepts.
pub async fn terms_post(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
    f: Fields<'_>,
) -> Posted {
    let Ok(mut user) = crate::users::parse_user(row) else {
        return Posted::End(internal_error());
    };
    let attrs = user.attributes.get_or_insert_with(Default::default);
    let declined = f("cancel").is_some();
    if declined {
        attrs.shift_remove(TERMS_ATTRIBUTE);
    } else {
        attrs.insert(TERMS_ATTRIBUTE.into(), json!([now().to_string()]));
    }
    if let Err(r) = save(a, row, &user).await {
        return Posted::End(r);
    }
    if declined {
        let mut e = crate::authn::login_event(a.snap, &pending.request)
            .user(row.id.clone())
            .detail("custom_required_action", "TERMS_AND_CONDITIONS");
        if let Some(u) = &user.username {
            e.set_detail("username", u.clone());
        }
        e.error(a.state, "rejected_by_user");
        // `OIDCLoginProtocol.sendError(CONSENT_DENIED)` without a message: no description.
        return Posted::End(a.reply.send(&[("error", "access_denied")]));
    }
    Posted::Done
}

/// One input of the profile form: attribute name, label, values shown.
struct Input {
    name: String,
    label: String,
    value: String,
    editable: bool,
}

fn label_of(name: &str, display: Option<&str>) -> String {
    match (name, display) {
        ("username", _) => "Username".into(),
        ("email", _) => "Email".into(),
        ("firstName", _) => "First name".into(),
        ("lastName", _) => "Last name".into(),
        (_, Some(d)) if !d.starts_with("${") => d.to_string(),
        (n, _) => n.to_string(),
    }
}

fn permitted(
    a: &crate::users::profile::UpAttribute,
    what: fn(&crate::users::profile::UpPermissions) -> &Vec<String>,
) -> bool {
    a.permissions
        .as_ref()
        .is_some_and(|p| what(p).iter().any(|r| r == "user"))
}

/// The inputs of the form: the managed attributes the user may see, editable when the user may
/// edit them (the username only when the realm allows editing it). With `email_locked` (the
/// `UPDATE_EMAIL` action is on: `DeclarativeUserProfileProviderFactory.readEmailCondition` /
/// `editEmailCondition` in context `UPDATE_PROFILE`) the e-mail is left out, unless the user
/// has none yet: then it may be set here.
fn inputs(
    snap: &RealmSnapshot,
    config: &UpConfig,
    user: &UserRepresentation,
    scopes: &[String],
    email_locked: bool,
) -> Vec<Input> {
    let has_email = user.email.as_deref().is_some_and(|e| !e.trim().is_empty());
    let edit_username = snap
        .rep
        .extra
        .get("editUsernameAllowed")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    config
        .attributes
        .iter()
        .flatten()
        .filter(|a| a.selected(Context::Login(scopes)))
        .filter_map(|a| {
            let name = a.name.clone()?;
            if name == "email" && email_locked && has_email {
                return None;
            }
            let edit = permitted(a, |p| &p.edit);
            if !edit && !permitted(a, |p| &p.view) {
                return None;
            }
            let editable = match name.as_str() {
                "username" => edit_username,
                _ => edit,
            };
            Some(Input {
                label: label_of(&name, a.display_name.as_deref()),
                value: values_of(user, &name).join(""),
                name,
                editable,
            })
        })
        .collect()
}

/// Keycloak's login messages for the user-profile error keys.
pub(crate) fn field_message(e: &FieldError) -> String {
    match e.message.as_str() {
        "error-user-attribute-required" => "Please specify this field.".into(),
        "error-invalid-email" => "Invalid email address.".into(),
        "error-invalid-length" => {
            let p = |i: usize| {
                e.params
                    .get(i)
                    .map(|v| v.to_string().trim_matches('"').to_string())
                    .unwrap_or_default()
            };
            format!("Length must be between {} and {}.", p(1), p(2))
        }
        "error-username-invalid-character" | "error-person-name-invalid-character" => {
            "Invalid character.".into()
        }
        "error-user-attribute-read-only" => "The field is read only.".into(),
        "error-invalid-value" => "Invalid value.".into(),
        other => other.to_string(),
    }
}

fn profile_form(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    fields: &[Input],
    errors: &[FieldError],
) -> String {
    let rows: String = fields
        .iter()
        .map(|i| {
            let err: Vec<String> = errors
                .iter()
                .filter(|e| e.field == i.name)
                .map(field_message)
                .collect();
            let err_html = if err.is_empty() {
                String::new()
            } else {
                format!(
                    "<span id=\"input-error-{n}\" class=\"error\" aria-live=\"polite\">{m}</span>",
                    n = escape(&i.name),
                    m = escape(&err.join(" "))
                )
            };
            format!(
                "<label for=\"{n}\">{l}</label><input id=\"{n}\" name=\"{n}\" type=\"text\" value=\"{v}\"{ro}{inv}>{err_html}",
                n = escape(&i.name),
                l = escape(&i.label),
                v = escape(&i.value),
                ro = if i.editable { "" } else { " disabled" },
                inv = if err.is_empty() { String::new() } else { format!(" aria-invalid=\"true\" aria-describedby=\"input-error-{}\"", escape(&i.name)) },
            )
        })
        .collect();
    html_page(
        &format!("Update Account Information - {}", realm_title(snap)),
        &format!(
            "<h1>Update Account Information</h1><form id=\"kc-update-profile-form\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">{rows}\
             <button type=\"submit\">Submit</button></form>",
            a = escape(action),
            s = escape(code),
        ),
    )
}

/// `login-update-profile.ftl`.
pub fn profile_page(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    user: &UserRepresentation,
    scopes: &[String],
    email_locked: bool,
) -> String {
    profile_page_with_errors(snap, action, code, user, &[], scopes, email_locked)
}

/// `login-update-profile.ftl` with the user's values and each field's errors (the page
/// `VERIFY_PROFILE` shows: `VerifyUserProfile` extends `UpdateProfile`).
pub fn profile_page_with_errors(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    user: &UserRepresentation,
    errors: &[FieldError],
    scopes: &[String],
    email_locked: bool,
) -> String {
    let config = config_for(snap);
    profile_form(
        snap,
        action,
        code,
        &inputs(snap, &config, user, scopes, email_locked),
        errors,
    )
}

/// The inputs of the first broker login's review (`idp-review-profile`, user-profile context
/// `IDP_REVIEW`): as the update-profile page's, the user name editable (the user does not exist
/// yet).
fn review_inputs(snap: &RealmSnapshot, user: &UserRepresentation, scopes: &[String]) -> Vec<Input> {
    let config = config_for(snap);
    // The brokered e-mail is the user's to review: never locked here.
    let mut fields = inputs(snap, &config, user, scopes, false);
    for i in fields.iter_mut().filter(|i| i.name == "username") {
        i.editable = true;
    }
    fields
}

/// `login-update-profile.ftl` of `idp-review-profile`: the brokered identity's profile.
pub fn review_page(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    profile: &UserRepresentation,
    scopes: &[String],
) -> String {
    profile_form(
        snap,
        action,
        code,
        &review_inputs(snap, profile, scopes),
        &[],
    )
}

/// The brokered profile misses what the realm's user profile requires
/// (`Validation.validateUserMandatoryFields`): the review page is due in mode `missing`.
pub fn review_needed(
    snap: &RealmSnapshot,
    profile: &UserRepresentation,
    scopes: &[String],
) -> bool {
    let config = config_for(snap);
    let mut p = profile.clone();
    !validate_user(&config, Context::Login(scopes), &mut p, None).is_empty()
}

/// POST of the review page (`IdpReviewProfileAuthenticator.actionImpl`): the profile with the
/// posted values, validated by the realm's user profile; `Err` is the page again with each
/// field's message.
pub fn review_post(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    profile: &UserRepresentation,
    f: Fields<'_>,
    scopes: &[String],
) -> Result<UserRepresentation, String> {
    let config = config_for(snap);
    let mut fields = review_inputs(snap, profile, scopes);
    let mut next = apply_inputs(&mut fields, profile, f);
    let errors = validate_user(&config, Context::Login(scopes), &mut next, Some(profile));
    if errors.is_empty() {
        Ok(next)
    } else {
        Err(profile_form(snap, action, code, &fields, &errors))
    }
}

/// The user with the posted values of the editable inputs (which show them from now on).
fn apply_inputs(
    fields: &mut [Input],
    user: &UserRepresentation,
    f: Fields<'_>,
) -> UserRepresentation {
    let mut next = user.clone();
    for i in fields.iter_mut().filter(|i| i.editable) {
        let v = f(&i.name).unwrap_or_default().trim().to_string();
        i.value.clone_from(&v);
        let value = (!v.is_empty()).then_some(v);
        match i.name.as_str() {
            "username" => next.username = value.map(|v| v.to_lowercase()),
            "email" => {
                if value != user.email {
                    next.email_verified = Some(false);
                }
                next.email = value;
            }
            "firstName" => next.first_name = value,
            "lastName" => next.last_name = value,
            other => {
                let attrs = next.attributes.get_or_insert_with(Default::default);
                match value {
                    Some(v) => {
                        attrs.insert(other.to_string(), json!([v]));
                    }
                    None => {
                        attrs.shift_remove(other);
                    }
                }
            }
        }
    }
    next
}

/// POST of the profile form (`UPDATE_PROFILE` and `VERIFY_PROFILE`, whose post is
/// `UpdateProfile.processAction`): the editable attributes take the posted values, the user
/// profile validates them (the page again with each field's message), the user is stored.
///
/// The event is Keycloak's: the login's event turned `UPDATE_PROFILE` with detail `context`
/// `UPDATE_PROFILE` and, per changed attribute, `EventAuditingAttributeChangeListener`'s
/// `previous_*` / `updated_*` details (`first_name`, `last_name`, `email`, else the
/// attribute's name; several values joined with `##`, empty ones left out).
pub async fn profile_post(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    f: Fields<'_>,
    code: &str,
) -> Posted {
    let config = config_for(a.snap);
    let scopes = pending.request.scope_names(a.snap);
    let email_locked = super::update_email::enabled(a.state, a.snap);
    let mut fields = inputs(a.snap, &config, user, &scopes, email_locked);
    let mut next = apply_inputs(&mut fields, user, f);
    let errors = validate_user(&config, Context::Login(&scopes), &mut next, Some(user));
    if !errors.is_empty() {
        let action = crate::http::paths::url("", crate::http::paths::REQUIRED_ACTION, &a.snap.name);
        return Posted::Page(profile_form(a.snap, &action, code, &fields, &errors));
    }
    if let Err(r) = save(a, row, &next).await {
        return Posted::End(r);
    }
    let mut e = crate::authn::login_event(a.snap, &pending.request)
        .user(row.id.clone())
        .detail("username", next.username.clone().unwrap_or_default());
    e.set_kind(a.snap, "UPDATE_PROFILE");
    e.set_detail("context", "UPDATE_PROFILE");
    for (key, value) in changes(&config, user, &next) {
        e.set_detail(&key, value);
    }
    e.success(a.state);
    Posted::Done
}

/// `EventAuditingAttributeChangeListener`: the details of the managed attributes that changed,
/// in the configuration's order.
fn changes(
    config: &UpConfig,
    before: &UserRepresentation,
    after: &UserRepresentation,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in config
        .attributes
        .iter()
        .flatten()
        .filter_map(|a| a.name.as_deref())
    {
        let (old, new) = (values_of(before, name), values_of(after, name));
        if old == new {
            continue;
        }
        let suffix = match name {
            "firstName" => "first_name",
            "lastName" => "last_name",
            "email" => "email",
            other => other,
        };
        for (prefix, values) in [("previous_", old), ("updated_", new)] {
            let joined = values.join("##");
            if !joined.is_empty() {
                out.push((format!("{prefix}{suffix}"), joined));
            }
        }
    }
    out
}

/// Keycloak's `emailVerifyInstruction1..3` page.
fn verify_email_html(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    email: &str,
    error: Option<&str>,
    cancel: &str,
) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    html_page(
        &format!("Email verification - {}", realm_title(snap)),
        &format!(
            "<h1>Email verification</h1>{err}<p class=\"instruction\">An email with instructions to verify your email address has been sent to your address {e}.</p>\
             <form id=\"kc-verify-email-form\" action=\"{a}\" method=\"post\"><input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <p class=\"instruction\">Haven't received a verification code in your email? \
             <button type=\"submit\" id=\"kc-resend\">Click here</button> to re-send the email.</p>{cancel}</form>",
            e = escape(email),
            a = escape(action),
            s = escape(code),
        ),
    )
}

/// Sends the mail (through the protocol, which mints the action token).
async fn send_mail(a: &Actions<'_>, pending: &PendingLogin, row: &UserRow, email: &str) -> bool {
    let client = pending.request.client_id.clone().unwrap_or_default();
    let sent = a
        .protocol
        .send_verify_email(a.state, a.snap, a.base, &row.id, email, &client)
        .await;
    let mut e = crate::events::UserEvent::new(a.snap, "SEND_VERIFY_EMAIL")
        .user(row.id.clone())
        .detail("email", email.to_string());
    e.set_client(client);
    match sent {
        Ok(()) => {
            e.success(a.state);
            true
        }
        Err(reason) => {
            tracing::warn!(realm = %a.snap.name, error = %reason, "failed to send the verify e-mail");
            e.error(a.state, "email_send_failed");
            false
        }
    }
}

/// The page; the mail goes out the first time for this address in this login (a refresh
/// does not resend: auth note `VERIFY_EMAIL_KEY`).
pub async fn verify_email_page(
    a: &Actions<'_>,
    action: &str,
    code: &str,
    pending: &mut PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    error: Option<&str>,
) -> Result<String, Response> {
    let email = user.email.clone().unwrap_or_default();
    let mut error = error.map(str::to_string);
    if pending.verify_email_sent.as_deref() != Some(email.as_str()) {
        pending.verify_email_sent = Some(email.clone());
        if !send_mail(a, pending, row, &email).await {
            error = Some("Failed to send email, please try again later.".into());
        }
    }
    let cancel = cancel_button(pending, user, "VERIFY_EMAIL");
    Ok(verify_email_html(
        a.snap,
        action,
        code,
        &email,
        error.as_deref(),
        cancel,
    ))
}

/// POST of the page: once the link was opened (the user's e-mail is verified) the action is
/// done; otherwise the mail is sent again (`VerifyEmail.processAction`).
pub async fn verify_email_post(
    a: &Actions<'_>,
    pending: &mut PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
) -> Posted {
    if user.email_verified == Some(true) || user.email.as_deref().is_none_or(str::is_empty) {
        return Posted::Done;
    }
    let email = user.email.clone().unwrap_or_default();
    pending.verify_email_sent = Some(email.clone());
    if !send_mail(a, pending, row, &email).await {
        return Posted::Again("Failed to send email, please try again later.".into());
    }
    Posted::Stay
}
