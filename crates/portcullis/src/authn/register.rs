//! Self-registration: Keycloak's registration flow (the realm's `registrationFlow`, by default
//! `registration`: the form `registration-page-form` whose actions `registration-user-creation`
//! and `registration-password-action` run, `registration-recaptcha-action` and
//! `registration-terms-and-conditions` being disabled). The page shows the realm's user
//! profile (the attributes a user may edit) and the password fields; its post is validated as
//! Keycloak's `RegistrationUserCreation.validate` and `RegistrationPassword.validate` do (every
//! error at once, one message per field, Keycloak's words), then the user is created, logged in
//! and sent on through the required actions, as after a login.
//!
//! An organization invitation (`ORGIVT` action token of someone without an account) makes the
//! registration possible even where the realm does not allow it (Keycloak's
//! `Organizations.isRegistrationAllowed`); the e-mail is the invited one, and the new user
//! becomes a (managed) member of the organization, whose invitation is then removed.
//!
//! The endpoints (`oidc::registrations`) parse requests and call in here.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::action_token::token::{self as action_token, ActionToken, Kind, Refused};
use crate::authn::pages::{error_page, escape, html, internal_error, page, realm_title};
use crate::authn::reply::Reply;
use crate::authn::steps::required_action;
use crate::authn::{flow, PendingLogin, Protocol};
use crate::events::UserEvent;
use crate::http::paths;
use crate::model::flows::{Flows, Provider, Requirement, Step};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::{MembershipType, OrganizationRow, StoreError, UserRow};
use crate::users::profile::{config_for, validate_user, Context, FieldError, UpConfig};
use crate::AppState;

/// Keycloak's `registrationNotAllowedMessage`.
pub const NOT_ALLOWED: &str = "Registration not allowed";
/// Keycloak's `expiredActionMessage` (`RegistrationPage.render` for an invitation whose
/// organization is gone or disabled; `checkNotOtherUserAuthenticating`).
pub const EXPIRED_ACTION: &str = "Action expired. Please continue with login now.";
/// `RegistrationUserCreation.validateOrganizationInvitation`: an expired token.
pub const TOKEN_EXPIRED: &str = "The provided token is not valid or has expired.";
/// ... an invitation no longer stored (used, deleted or resent; Keycloak 26.5).
pub const INVITATION_GONE: &str = "The invitation has expired or is no longer valid.";
/// ... an organization that does not exist.
pub const ORG_GONE: &str = "The provided token contains an invalid organization id";
/// ... another address than the invited one.
pub const EMAIL_MISMATCH: &str = "Email does not match the invitation";

/// What a pending login that became a registration keeps (stored with it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Registering {
    /// The `ORGIVT` token of the invitation being accepted, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<String>,
}

/// The form actions of the realm's registration flow that run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormPlan {
    /// `registration-password-action` is enabled: the password fields are shown and checked.
    pub password: bool,
}

/// The form of the realm's registration flow (its first enabled sub-flow), or why it cannot
/// run: an action this server does not have (reCAPTCHA, terms and conditions), or no user
/// creation.
pub fn plan(flows: &Flows) -> Result<FormPlan, String> {
    let top = flows
        .registration
        .ok_or("The realm has no registration flow.")?;
    let cannot = |id: &str| {
        format!("The registration flow's '{id}' cannot run on this server. Disable it in the registration flow.")
    };
    let mut form = None;
    for e in &flows.flows[top].executions {
        if e.requirement == Requirement::Disabled {
            continue;
        }
        match &e.step {
            Step::Flow(sub) if form.is_none() => form = Some(*sub),
            Step::Flow(_) => return Err(cannot(&flows.flows[top].alias)),
            Step::Authenticator(a) => return Err(cannot(provider_id(a.provider))),
        }
    }
    let form = form.ok_or("The registration flow has no form.")?;
    let mut user = false;
    let mut password = false;
    for e in &flows.flows[form].executions {
        if e.requirement == Requirement::Disabled {
            continue;
        }
        match &e.step {
            Step::Authenticator(a) => match a.provider {
                Provider::NotRun("registration-user-creation") => user = true,
                Provider::NotRun("registration-password-action") => password = true,
                other => return Err(cannot(provider_id(other))),
            },
            Step::Flow(_) => return Err(cannot(&flows.flows[form].alias)),
        }
    }
    if !user {
        return Err(cannot("registration-user-creation (disabled)"));
    }
    Ok(FormPlan { password })
}

fn provider_id(p: Provider) -> &'static str {
    match p {
        Provider::NotRun(id) => id,
        _ => "authenticator",
    }
}

/// The realm's `registrationAllowed`.
pub fn realm_allows(snap: &RealmSnapshot) -> bool {
    snap.rep
        .extra
        .get("registrationAllowed")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn realm_flag(snap: &RealmSnapshot, name: &str) -> bool {
    snap.rep
        .extra
        .get(name)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The registration page's URL for a pending login (the login page's "Register" link).
pub fn page_url(snap: &RealmSnapshot, session_code: &str) -> String {
    format!(
        "{}?session_code={}",
        paths::url("", paths::LOGIN_REGISTRATION, &snap.name),
        paths::encode_segment(session_code)
    )
}

/// A checked invitation: its token and organization.
pub struct Invitation {
    /// The token.
    pub token: ActionToken,
    /// The organization.
    pub org: OrganizationRow,
}

/// Why an invitation token does not open the registration page (the error page's message).
fn opening_refused(r: Refused) -> &'static str {
    match r {
        Refused::Expired => action_token::EXPIRED,
        Refused::Invalid => action_token::INVALID_CODE,
    }
}

/// Checks an invitation link's token before the page shows (Keycloak's `preHandleActionToken`
/// then `RegistrationPage.render`): signature, realm, expiry and type, then the organization.
/// The error is the error page to answer.
pub async fn open_invitation(
    state: &AppState,
    snap: &RealmSnapshot,
    issuer: &str,
    token: &str,
) -> Result<Invitation, Response> {
    let refuse = |error: &str, message: &str| {
        UserEvent::new(snap, "EXECUTE_ACTION_TOKEN")
            .detail("action", action_token::ORG_INVITE)
            .error(state, error);
        error_page(StatusCode::BAD_REQUEST, message)
    };
    let t = match action_token::verify(&snap.hmac_keys, issuer, token, crate::clock::now()) {
        Ok(t) => t,
        Err(Refused::Expired) => {
            return Err(refuse("expired_code", opening_refused(Refused::Expired)))
        }
        Err(r) => return Err(refuse("invalid_token", opening_refused(r))),
    };
    let Kind::OrgInvite(org_id) = &t.kind else {
        return Err(refuse("invalid_token", action_token::INVALID_CODE));
    };
    match state.store.organization(&snap.id, org_id).await {
        Ok(Some(org)) if org.enabled => Ok(Invitation { token: t, org }),
        Ok(_) => Err(error_page(StatusCode::BAD_REQUEST, EXPIRED_ACTION)),
        Err(_) => Err(internal_error()),
    }
}

/// `validateOrganizationInvitation` at the form's post: the token still valid, its
/// organization and its stored invitation still there. The error is the form's message.
async fn recheck_invitation(
    state: &AppState,
    snap: &RealmSnapshot,
    issuer: &str,
    token: &str,
) -> Result<Result<Invitation, &'static str>, StoreError> {
    let t = match action_token::verify(&snap.hmac_keys, issuer, token, crate::clock::now()) {
        Ok(t) => t,
        Err(_) => return Ok(Err(TOKEN_EXPIRED)),
    };
    let Kind::OrgInvite(org_id) = &t.kind else {
        return Ok(Err(TOKEN_EXPIRED));
    };
    let Some(org) = state.store.organization(&snap.id, org_id).await? else {
        return Ok(Err(ORG_GONE));
    };
    if !org.enabled {
        return Ok(Err("The organization is not available at this time."));
    }
    match state.store.invitation(&org.id, &t.jti).await? {
        Some(i) if i.expires_at >= crate::clock::now() => Ok(Ok(Invitation { token: t, org })),
        _ => Ok(Err(INVITATION_GONE)),
    }
}

/// One input of the page.
struct Input {
    name: String,
    label: String,
    kind: &'static str,
    autocomplete: &'static str,
    value: String,
    readonly: bool,
}

fn label_of(name: &str, display: Option<&str>) -> String {
    match (name, display) {
        ("username", _) => "Username".into(),
        ("email", _) => "Email".into(),
        ("firstName", _) => "First name".into(),
        ("lastName", _) => "Last name".into(),
        (_, Some(d)) if !d.is_empty() && !d.starts_with("${") => d.to_string(),
        (n, _) => n.to_string(),
    }
}

/// The profile attributes a user may edit, in the configuration's order (the username not
/// when the e-mail is the username), with the values posted.
fn inputs(
    snap: &RealmSnapshot,
    config: &UpConfig,
    plan: FormPlan,
    posted: &dyn Fn(&str) -> String,
    invited: Option<&str>,
    scopes: &[String],
) -> Vec<Input> {
    let email_as_username = snap.settings.registration_email_as_username;
    let mut out: Vec<Input> = config
        .attributes
        .iter()
        .flatten()
        .filter(|a| a.selected(Context::Login(scopes)))
        .filter(|a| {
            a.permissions
                .as_ref()
                .is_some_and(|p| p.edit.iter().any(|r| r == "user"))
        })
        .filter_map(|a| {
            let name = a.name.clone()?;
            if name == "username" && email_as_username {
                return None;
            }
            let (kind, autocomplete) = match name.as_str() {
                "email" => ("email", "email"),
                "username" => ("text", "username"),
                "firstName" => ("text", "given-name"),
                "lastName" => ("text", "family-name"),
                _ => ("text", "off"),
            };
            let readonly = name == "email" && invited.is_some();
            let value = match (readonly, invited) {
                (true, Some(e)) => e.to_string(),
                _ => posted(&name),
            };
            Some(Input {
                label: label_of(&name, a.display_name.as_deref()),
                name,
                kind,
                autocomplete,
                value,
                readonly,
            })
        })
        .collect();
    if plan.password {
        for (name, label) in [
            ("password", "Password"),
            ("password-confirm", "Confirm password"),
        ] {
            out.push(Input {
                name: name.into(),
                label: label.into(),
                kind: "password",
                autocomplete: "new-password",
                value: String::new(),
                readonly: false,
            });
        }
    }
    out
}

/// A message of the page: for a field, or for the whole form (`None`).
type Problem = (Option<String>, String);

/// `register.ftl`: the inputs with their messages (`input-error-<field>`), a message for the
/// whole form, and the registration form posting to `action`.
fn render(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    fields: &[Input],
    problems: &[Problem],
    org: Option<&str>,
) -> String {
    let global: String = problems
        .iter()
        .filter(|(f, _)| f.is_none())
        .map(|(_, m)| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"input-error\">{}</p>",
                escape(m)
            )
        })
        .collect();
    let rows: String = fields
        .iter()
        .map(|i| {
            let msgs: Vec<&str> = problems
                .iter()
                .filter(|(f, _)| f.as_deref() == Some(i.name.as_str()))
                .map(|(_, m)| m.as_str())
                .collect();
            let n = escape(&i.name);
            let err = if msgs.is_empty() {
                String::new()
            } else {
                format!(
                    "<span id=\"input-error-{n}\" class=\"error\" aria-live=\"polite\">{}</span>",
                    escape(&msgs.join(" "))
                )
            };
            format!(
                "<label for=\"{n}\">{l}</label><input id=\"{n}\" name=\"{n}\" value=\"{v}\" type=\"{k}\" autocomplete=\"{a}\"{ro}{inv}>{err}",
                l = escape(&i.label),
                v = escape(&i.value),
                k = i.kind,
                a = i.autocomplete,
                ro = if i.readonly { " readonly" } else { "" },
                inv = if msgs.is_empty() {
                    String::new()
                } else {
                    format!(" aria-invalid=\"true\" aria-describedby=\"input-error-{n}\"")
                },
            )
        })
        .collect();
    let heading = match org {
        // `organization.member.register.title`.
        Some(name) => format!("Create an account to join the {name} organization"),
        None => "Register".to_string(),
    };
    page(
        &format!("{heading} - {}", realm_title(snap)),
        &format!(
            "<h1>{h}</h1>{global}<form id=\"kc-register-form\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">{rows}\
             <button type=\"submit\" id=\"kc-register\">Register</button></form>",
            h = escape(&heading),
            a = escape(action),
            s = escape(code),
        ),
    )
}

fn action_url(snap: &RealmSnapshot, code: &str) -> String {
    page_url(snap, code)
}

/// Shows the registration page of a pending login: a new flow bound to this browser (`code`
/// none: the registration endpoint), or the flow under its code (the login page's link).
pub async fn show(
    state: &AppState,
    snap: &RealmSnapshot,
    code: Option<&str>,
    mut pending: PendingLogin,
    invitation: Option<(&str, &Invitation)>,
    secure: bool,
) -> Response {
    let plan = match plan(&snap.flows) {
        Ok(p) => p,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    pending.registration = Some(Registering {
        invitation: invitation.map(|(jwt, _)| jwt.to_string()),
    });
    // The form has nothing of an earlier login: no user, no steps.
    pending.flow = crate::authn::engine::FlowState::default();
    let config = config_for(snap);
    let invited = invitation.and_then(|(_, i)| i.token.email.clone());
    let org = invitation.map(|(_, i)| i.org.name.clone());
    let none = |_: &str| String::new();
    let scopes = pending.request.scope_names(snap);
    let fields = inputs(snap, &config, plan, &none, invited.as_deref(), &scopes);
    let lifespan = snap.settings.access_code_lifespan_login;
    let store = state.store.as_ref();
    match code {
        None => {
            flow::start_flow(store, snap, &pending, lifespan, secure, |c| {
                render(snap, &action_url(snap, c), c, &fields, &[], org.as_deref())
            })
            .await
        }
        Some(c) => {
            if let Err(r) = flow::replace_flow(store, &snap.id, c, &pending, lifespan).await {
                return r;
            }
            html(
                StatusCode::OK,
                render(snap, &action_url(snap, c), c, &fields, &[], org.as_deref()),
            )
        }
    }
}

/// Keycloak's login messages for the user-profile error keys (`messages_en.properties`), the
/// parameters (`{0}` the attribute) filled in.
pub fn profile_message(e: &FieldError) -> String {
    let text = match e.message.as_str() {
        "error-invalid-value" | "error-pattern-no-match" => "Invalid value.",
        "error-invalid-blank" | "error-empty" => "Please specify value.",
        "error-invalid-length" => "Length must be between {1} and {2}.",
        "error-invalid-length-too-short" => "Minimal length is {1}.",
        "error-invalid-length-too-long" => "Maximal length is {2}.",
        "error-invalid-email" => "Invalid email address.",
        "error-invalid-number" => "Invalid number.",
        "error-number-out-of-range" => "Number must be between {1} and {2}.",
        "error-number-out-of-range-too-small" => "Number must have minimal value of {1}.",
        "error-number-out-of-range-too-big" => "Number must have maximal value of {2}.",
        "error-invalid-uri" => "Invalid URL.",
        "error-invalid-uri-scheme" => "Invalid URL scheme.",
        "error-invalid-uri-fragment" => "Invalid URL fragment.",
        "error-user-attribute-required" => "Please specify this field.",
        "error-invalid-date" => "Invalid date.",
        "error-user-attribute-read-only" => "This field is read only.",
        "error-username-invalid-character" | "error-person-name-invalid-character" => {
            "Value contains invalid character."
        }
        "error-invalid-multivalued-size" => {
            "Attribute {0} must have at least {1} and at most {2} value(s)."
        }
        other => other,
    };
    let mut out = text.to_string();
    for (i, p) in e.params.iter().enumerate() {
        let v = match p {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{i}}}"), &v);
    }
    out
}

/// Keycloak's `Validation.isEmailValid` (as the invitation endpoint checks it).
fn email_valid(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Keeps the event error that wins: `email_in_use` over `username_in_use` over the rest
/// (`RegistrationUserCreation.validate`).
fn flag(e: &'static str, error: &mut Option<&'static str>) {
    let rank = |e: &str| match e {
        "email_in_use" => 0,
        "username_in_use" => 1,
        _ => 2,
    };
    if error.is_none_or(|old| rank(e) < rank(old)) {
        *error = Some(e);
    }
}

/// The outcome of the form's validation.
struct Checked {
    /// The user to create (without credentials).
    user: UserRepresentation,
    /// The messages, in the page's order.
    problems: Vec<Problem>,
    /// The event's error (Keycloak's `Errors.*`).
    error: &'static str,
}

/// `RegistrationUserCreation.validate` and `RegistrationPassword.validate`: the user as posted
/// (user name and e-mail lower-cased), and every problem found.
async fn check(
    state: &AppState,
    snap: &RealmSnapshot,
    config: &UpConfig,
    plan: FormPlan,
    f: &(dyn Fn(&str) -> String + Sync),
    scopes: &[String],
) -> Result<Checked, ()> {
    let email_as_username = snap.settings.registration_email_as_username;
    let email = f("email").trim().to_lowercase();
    let username = if email_as_username {
        email.clone()
    } else {
        f("username").trim().to_lowercase()
    };
    let some = |s: String| (!s.is_empty()).then_some(s);
    let mut user = UserRepresentation {
        username: some(username.clone()),
        email: some(email.clone()),
        first_name: some(f("firstName").trim().to_string()),
        last_name: some(f("lastName").trim().to_string()),
        ..Default::default()
    };
    // Custom attributes the user may edit.
    let mut attrs = indexmap::IndexMap::new();
    for a in config.attributes.iter().flatten() {
        let Some(name) = a.name.as_deref() else {
            continue;
        };
        let editable = a
            .permissions
            .as_ref()
            .is_some_and(|p| p.edit.iter().any(|r| r == "user"));
        if crate::users::profile::ROOT_ATTRIBUTES.contains(&name) || !editable {
            continue;
        }
        let v = f(name).trim().to_string();
        if !v.is_empty() {
            attrs.insert(name.to_string(), json!([v]));
        }
    }
    user.attributes = (!attrs.is_empty()).then_some(attrs);
    let mut problems: Vec<Problem> = Vec::new();
    let mut error = None;
    let field = |n: &str| Some(n.to_string());
    // The user name (Keycloak's `UsernameHasValueValidator`, `DuplicateUsernameValidator`).
    if !email_as_username {
        if username.is_empty() {
            problems.push((field("username"), "Please specify username.".into()));
            flag("invalid_registration", &mut error);
        } else if state
            .store
            .user_by_username(&snap.id, &username)
            .await
            .map_err(drop)?
            .is_some()
        {
            problems.push((field("username"), "Username already exists.".into()));
            flag("username_in_use", &mut error);
        }
    }
    // The e-mail (`BlankAttributeValidator` with `missingEmailMessage`, `EmailValidator`,
    // `DuplicateEmailValidator`, `EmailExistsAsUsernameValidator`).
    if email.is_empty() {
        problems.push((field("email"), "Please specify email.".into()));
        flag("invalid_registration", &mut error);
    } else if !email_valid(&email) {
        problems.push((field("email"), "Invalid email address.".into()));
        flag("invalid_registration", &mut error);
    } else {
        let taken_by_email = !snap.settings.duplicate_emails_allowed
            && !state
                .store
                .users_by_email(&snap.id, &email)
                .await
                .map_err(drop)?
                .is_empty();
        let taken_as_username = email_as_username
            && state
                .store
                .user_by_username(&snap.id, &email)
                .await
                .map_err(drop)?
                .is_some();
        if taken_by_email || taken_as_username {
            problems.push((field("email"), "Email already exists.".into()));
            flag("email_in_use", &mut error);
        }
    }
    // The rest of the user profile, for fields without a message yet.
    let mut profiled = user.clone();
    for e in validate_user(config, Context::Login(scopes), &mut profiled, None) {
        if problems
            .iter()
            .any(|(f, _)| f.as_deref() == Some(e.field.as_str()))
        {
            continue;
        }
        if email_as_username && e.field == "username" {
            continue;
        }
        problems.push((Some(e.field.clone()), profile_message(&e)));
        flag("invalid_registration", &mut error);
    }
    user.attributes = profiled.attributes;
    // The password (`RegistrationPassword`): missing, not confirmed, or against the policy.
    if plan.password {
        let password = f("password");
        if password.trim().is_empty() {
            problems.push((field("password"), "Please specify password.".into()));
        } else if f("password-confirm") != password {
            problems.push((
                field("password-confirm"),
                "Password confirmation doesn't match.".into(),
            ));
        }
        if !password.is_empty() {
            let policy = snap.rep.password_policy.as_deref().unwrap_or_default();
            match crate::policy::password::parse_resolved(policy, &snap.blacklists).await {
                Ok(rules) => {
                    let email = (!email.is_empty()).then_some(email.as_str());
                    if let Err(m) =
                        crate::policy::password::check(&rules, &password, &username, email)
                    {
                        problems.push((field("password"), m));
                    }
                }
                Err(e) => {
                    tracing::error!(realm = %snap.name, error = %e, "the realm's password policy cannot be applied");
                    return Err(());
                }
            }
        }
        if problems
            .iter()
            .any(|(f, _)| matches!(f.as_deref(), Some("password") | Some("password-confirm")))
        {
            flag("invalid_registration", &mut error);
        }
    }
    Ok(Checked {
        user,
        problems,
        error: error.unwrap_or("invalid_registration"),
    })
}

/// What the form's post needs.
pub struct Post<'a> {
    /// The server.
    pub state: &'a AppState,
    /// The realm.
    pub snap: &'a RealmSnapshot,
    /// The protocol that answers the client.
    pub protocol: &'a dyn Protocol,
    /// The realm's issuer URL.
    pub issuer: &'a str,
    /// The server's base URL.
    pub base: &'a str,
}

/// The `REGISTER` event of this registration (Keycloak's `AuthorizationEndpoint` details,
/// then the form's: `register_method`, `username`, `email`, `first_name`, `last_name`).
fn register_event(
    snap: &RealmSnapshot,
    pending: &PendingLogin,
    user: &UserRepresentation,
) -> UserEvent {
    let mut e = crate::authn::login_event(snap, &pending.request);
    e.set_kind(snap, "REGISTER");
    e.set_detail("register_method", "form");
    for (key, value) in [
        ("username", &user.username),
        ("email", &user.email),
        ("first_name", &user.first_name),
        ("last_name", &user.last_name),
    ] {
        if let Some(v) = value {
            e.set_detail(key, v.clone());
        }
    }
    e
}

/// POST of the registration form (its pending login bound to this browser).
pub async fn post(
    p: &Post<'_>,
    code: &str,
    mut pending: PendingLogin,
    fields: crate::authn::browser::Fields<'_>,
) -> Response {
    let (state, snap) = (p.state, p.snap);
    let Some(reg) = pending.registration.clone() else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let plan = match plan(&snap.flows) {
        Ok(p) => p,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    let posted = |k: &str| fields(k).unwrap_or_default().to_string();
    let config = config_for(snap);
    let scopes = pending.request.scope_names(snap);
    let lifespan = snap.settings.access_code_lifespan_login;
    let action = action_url(snap, code);
    let bare = UserRepresentation::default();
    // Answers the page again with its problems (the passwords never echoed).
    let again = |problems: Vec<Problem>, invited: Option<&str>, org: Option<&str>| {
        let fields = inputs(snap, &config, plan, &posted, invited, &scopes);
        html(
            StatusCode::OK,
            render(snap, &action, code, &fields, &problems, org),
        )
    };
    // The invitation first (`validateOrganizationInvitation`).
    let invitation = match &reg.invitation {
        None => None,
        Some(jwt) => match recheck_invitation(state, snap, p.issuer, jwt).await {
            Ok(Ok(i)) => Some(i),
            Ok(Err(message)) => {
                register_event(snap, &pending, &bare).error(state, "invalid_token");
                return again(vec![(None, message.to_string())], None, None);
            }
            Err(_) => return internal_error(),
        },
    };
    if invitation.is_none() && !realm_allows(snap) {
        register_event(snap, &pending, &bare).error(state, "registration_disabled");
        return error_page(StatusCode::BAD_REQUEST, NOT_ALLOWED);
    }
    let invited = invitation.as_ref().and_then(|i| i.token.email.clone());
    let org_name = invitation.as_ref().map(|i| i.org.name.clone());
    if let Some(e) = &invited {
        if posted("email").trim().to_lowercase() != e.to_lowercase() {
            register_event(snap, &pending, &bare).error(state, "invalid_token");
            return again(
                vec![(Some("email".into()), EMAIL_MISMATCH.into())],
                invited.as_deref(),
                org_name.as_deref(),
            );
        }
    }
    let checked = match check(state, snap, &config, plan, &posted, &scopes).await {
        Ok(c) => c,
        Err(_) => return internal_error(),
    };
    if !checked.problems.is_empty() {
        register_event(snap, &pending, &checked.user).error(state, checked.error);
        return again(checked.problems, invited.as_deref(), org_name.as_deref());
    }
    let password = posted("password");
    let password = plan.password.then_some(password.as_str());
    let row = match create(state, snap, checked.user.clone(), password, false).await {
        Ok(row) => row,
        Err(Created::Taken) => {
            register_event(snap, &pending, &checked.user).error(state, "username_in_use");
            let problem = (Some("username".into()), "Username already exists.".into());
            return again(vec![problem], invited.as_deref(), org_name.as_deref());
        }
        Err(Created::Failed) => return internal_error(),
    };
    // `addOrganizationMember`: a managed member; the answer goes to the invitation's redirect;
    // the invitation is used up.
    let mut event = register_event(snap, &pending, &checked.user).user(row.id.clone());
    // `RegistrationUserCreation.success`: the details as posted.
    event.set_detail(
        "username",
        fields(if snap.settings.registration_email_as_username {
            "email"
        } else {
            "username"
        })
        .unwrap_or_default()
        .trim(),
    );
    event.set_detail("email", fields("email").unwrap_or_default().trim());
    if let Some(i) = &invitation {
        let joined = state
            .store
            .add_member(&snap.id, &i.org.id, &row.id, MembershipType::Managed)
            .await;
        let removed = match joined {
            Ok(_) => state.store.delete_invitation(&i.org.id, &i.token.jti).await,
            Err(e) => Err(e),
        };
        if removed.is_err() {
            // Nothing half-done: the user goes again.
            let _ = crate::users::delete_user(state.store.as_ref(), snap, &row.id).await;
            return internal_error();
        }
        event.set_detail("org_id", i.org.id.clone());
        if let Some(r) = i.token.redirect_uri.clone() {
            pending.request.redirect_uri = Some(r);
        }
    }
    event.success(state);
    pending.registration = None;
    pending.flow = crate::authn::engine::FlowState {
        user: Some(row.id.clone()),
        ..Default::default()
    };
    pending.request.login_hint = checked.user.username.clone();
    if flow::replace_flow(state.store.as_ref(), &snap.id, code, &pending, lifespan)
        .await
        .is_err()
    {
        return internal_error();
    }
    let reply = Reply::to(&pending.request, p.issuer);
    let actions = required_action::Actions {
        state,
        snap,
        protocol: p.protocol,
        reply: &reply,
        base: p.base,
    };
    required_action::proceed(&actions, Some(code), pending, &row.id).await
}

/// Why the user was not created.
pub enum Created {
    /// The user name was taken in the meantime.
    Taken,
    /// A server error.
    Failed,
}

/// Creates the user as Keycloak's `UserProfile.create` with `addDefaultRoles` and
/// `addDefaultRequiredActions`: enabled, the realm's default role and default groups, its
/// default required actions (and `VERIFY_EMAIL` when the realm verifies e-mail:
/// `VerifyEmail.evaluateTriggers` unless `email_verified`), the password, if any, under the
/// realm's policy.
pub async fn create(
    state: &AppState,
    snap: &RealmSnapshot,
    mut u: UserRepresentation,
    password: Option<&str>,
    email_verified: bool,
) -> Result<UserRow, Created> {
    let now_ms = crate::clock::now_millis();
    u.id = Some(crate::realm::edit::new_id());
    u.enabled = Some(true);
    u.email_verified = Some(email_verified);
    u.created_timestamp = Some(now_ms);
    u.not_before = Some(0);
    let default_role = snap.rep.default_role.as_ref().and_then(|r| r.name.clone());
    u.realm_roles = Some(default_role.into_iter().collect());
    let groups: Vec<String> = snap
        .rep
        .extra
        .get("defaultGroups")
        .and_then(Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(Value::as_str)
                .filter(|p| crate::realm::edit::group_by_path(&snap.rep, p).is_some())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    u.groups = (!groups.is_empty()).then_some(groups);
    let mut actions: Vec<String> =
        crate::representation::authentication::required_actions(&snap.rep)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.enabled != Some(false) && a.default_action == Some(true))
            .filter_map(|a| a.alias)
            .collect();
    if realm_flag(snap, "verifyEmail")
        && !email_verified
        && u.email.is_some()
        && !actions.iter().any(|a| a == "VERIFY_EMAIL")
    {
        actions.push("VERIFY_EMAIL".into());
    }
    u.required_actions = (!actions.is_empty()).then_some(actions);
    if let Some(password) = password {
        let policy = snap.rep.password_policy.as_deref().unwrap_or_default();
        let rules = crate::policy::password::parse_resolved(policy, &snap.blacklists)
            .await
            .map_err(|_| Created::Failed)?;
        crate::policy::password::replace_password(&mut u, password, &rules, now_ms)
            .await
            .map_err(|_| Created::Failed)?;
    }
    let row = UserRow {
        id: u.id.clone().unwrap_or_default(),
        username: u.username.clone().unwrap_or_default(),
        email: u.email.clone(),
        representation: serde_json::to_string(&u).map_err(|_| Created::Failed)?,
    };
    match state.store.insert_user(&snap.id, &row).await {
        Ok(()) => Ok(row),
        Err(StoreError::Unique(_)) => Err(Created::Taken),
        Err(_) => Err(Created::Failed),
    }
}

/// The registration page was asked for a pending login that already identified a user
/// (`checkNotOtherUserAuthenticating`), or the realm does not allow registration: the error
/// page, else `None`.
pub fn refused_start(
    state: &AppState,
    snap: &RealmSnapshot,
    pending: &PendingLogin,
    invited: bool,
) -> Option<Response> {
    if !invited && !realm_allows(snap) {
        let mut e = crate::authn::login_event(snap, &pending.request);
        e.set_kind(snap, "REGISTER");
        e.error(state, "registration_disabled");
        return Some(error_page(StatusCode::BAD_REQUEST, NOT_ALLOWED));
    }
    if let Some(user) = pending.flow.user.as_ref().or(pending.pending_user.as_ref()) {
        let mut e = crate::authn::login_event(snap, &pending.request);
        e.set_kind(snap, "REGISTER");
        e.set_detail("existing_user", user.clone());
        e.error(state, "different_user_authenticating");
        return Some(error_page(StatusCode::BAD_REQUEST, EXPIRED_ACTION));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::flows::compile;
    use crate::representation::RealmRepresentation;

    fn flows(form: Value) -> Flows {
        let rep: RealmRepresentation = serde_json::from_value(json!({
            "realm": "r", "registrationFlow": "registration",
            "authenticationFlows": [
                { "alias": "registration", "authenticationExecutions": [
                    { "authenticator": "registration-page-form", "authenticatorFlow": true,
                      "flowAlias": "registration form", "requirement": "REQUIRED" }
                ]},
                { "alias": "registration form", "authenticationExecutions": form }
            ]
        }))
        .unwrap();
        compile(&rep).unwrap()
    }

    fn action(id: &str, requirement: &str) -> Value {
        json!({ "authenticator": id, "requirement": requirement })
    }

    #[test]
    fn the_default_form_creates_users_with_a_password() {
        let f = flows(json!([
            action("registration-user-creation", "REQUIRED"),
            action("registration-password-action", "REQUIRED"),
            action("registration-recaptcha-action", "DISABLED"),
            action("registration-terms-and-conditions", "DISABLED"),
        ]));
        assert_eq!(plan(&f), Ok(FormPlan { password: true }));
        let f = flows(json!([
            action("registration-user-creation", "REQUIRED"),
            action("registration-password-action", "DISABLED"),
        ]));
        assert_eq!(plan(&f), Ok(FormPlan { password: false }));
    }

    #[test]
    fn actions_this_server_lacks_are_refused_by_name() {
        let f = flows(json!([
            action("registration-user-creation", "REQUIRED"),
            action("registration-recaptcha-action", "REQUIRED"),
        ]));
        assert!(plan(&f)
            .unwrap_err()
            .contains("'registration-recaptcha-action'"));
        let f = flows(json!([action("registration-user-creation", "DISABLED")]));
        assert!(plan(&f).unwrap_err().contains("registration-user-creation"));
        assert!(plan(&Flows::default()).is_err());
    }

    #[test]
    fn profile_messages_are_keycloaks_with_their_parameters() {
        let e = FieldError {
            field: "username".into(),
            message: "error-invalid-length".into(),
            params: vec![json!("username"), json!(3), json!(255)],
        };
        assert_eq!(profile_message(&e), "Length must be between 3 and 255.");
        let e = FieldError {
            field: "firstName".into(),
            message: "error-user-attribute-required".into(),
            params: vec![json!("firstName")],
        };
        assert_eq!(profile_message(&e), "Please specify this field.");
    }
}
