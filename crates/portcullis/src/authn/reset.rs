//! The "Forgot Password?" flow: the realm's `resetCredentialsFlow` (default `reset credentials`)
//! run by the [`engine`] as the browser flow is, with Keycloak's reset authenticators:
//! - `reset-credentials-choose-user` (`ResetCredentialChooseUser`): the form's `username`
//!   (a username, or an e-mail where the realm allows logging in with one); the browser's SSO
//!   session skips the form. An unknown or disabled user is not told apart: the flow goes on
//!   without a user;
//! - `reset-credential-email` (`ResetCredentialEmail`): sends the `reset-credentials` action
//!   token in Keycloak's "Reset password" mail, then answers the login page with "You should
//!   receive an email shortly with further instructions." whether a mail went out or not
//!   (`forkWithSuccessMessage`). The flow so far is kept under the token's `asid` until the
//!   token expires;
//! - the link (`action_token`, then [`from_token`]) resumes that flow for the token's user
//!   (the two steps above succeed for them), or a new one for the token's client when the
//!   kept flow is gone;
//! - `reset-password` (`ResetPassword`): `UPDATE_PASSWORD` for this login when the execution is
//!   `REQUIRED` (or `CONDITIONAL` and the user has a password);
//! - `reset-otp` (`ResetOTP`), in the `CONDITIONAL` sub-flow: for a user with OTP,
//!   `CONFIGURE_TOTP` for this login, after removing all OTP credentials when its config's
//!   `action_on_otp_reset_flag` is `Remove all`.
//!
//! When the flow succeeds, the login's required actions run (the update-password page) and
//! the login completes as any other: a code to the client.
//!
//! Events as Keycloak's: `RESET_PASSWORD_ERROR` (`username_missing`, `user_not_found`,
//! `user_disabled`, `invalid_email`, `not_allowed`), `SEND_RESET_PASSWORD` (or its `_ERROR`
//! with `email_send_failed`), then the required action's `UPDATE_PASSWORD` /
//! `UPDATE_CREDENTIAL` and `LOGIN`.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::action_token::token::{self as action_token, ActionToken, Kind, RESET_CREDENTIALS};
use crate::authn::browser::UserFacts;
use crate::authn::engine::{self, Next, Status};
use crate::authn::pages::{
    error_page, escape, html, internal_error, login_page, page, realm_title, with_info,
};
use crate::authn::reply::Reply;
use crate::authn::steps::{password::action_url, required_action, sso};
use crate::authn::{flow, AuthRequest, PendingLogin, Protocol};
use crate::clock::now;
use crate::http::paths;
use crate::model::flows::{Authenticator, Provider, Requirement};
use crate::realm::snapshot::RealmSnapshot;
use crate::users::{find_user, parse_user};
use crate::AppState;

/// Keycloak's `emailSentMessage`.
pub const EMAIL_SENT: &str = "You should receive an email shortly with further instructions.";
/// Keycloak's `emailSendErrorMessage`.
pub const EMAIL_SEND_ERROR: &str = "Failed to send email, please try again later.";
/// Keycloak's `resetCredentialNotAllowedMessage`.
pub const NOT_ALLOWED: &str = "Reset Credential not allowed";
/// Keycloak's `missingUsernameMessage`.
pub const MISSING_USERNAME: &str = "Please specify username.";

const CHOOSE_USER: &str = "reset-credentials-choose-user";
const SEND_EMAIL: &str = "reset-credential-email";
const RESET_PASSWORD: &str = "reset-password";
const RESET_OTP: &str = "reset-otp";

/// The realm has `resetPasswordAllowed`.
pub fn allowed(snap: &RealmSnapshot) -> bool {
    snap.rep
        .extra
        .get("resetPasswordAllowed")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The realm's `resetCredentialsFlow` (Keycloak's default alias when the realm names none).
fn flow_index(snap: &RealmSnapshot) -> Option<usize> {
    let alias = snap
        .rep
        .extra
        .get("resetCredentialsFlow")
        .and_then(Value::as_str)
        .unwrap_or("reset credentials");
    snap.flows.flows.iter().position(|f| f.alias == alias)
}

/// The request a reset flow serves.
pub struct Reset<'a> {
    /// The server.
    pub state: &'a AppState,
    /// The realm.
    pub snap: &'a RealmSnapshot,
    /// The protocol that answers the client.
    pub protocol: &'a dyn Protocol,
    /// Where and how to answer.
    pub reply: &'a Reply,
    /// The request's headers (the SSO cookie).
    pub headers: &'a HeaderMap,
    /// The server's base URL (form actions, the link in the mail).
    pub base: &'a str,
}

/// A posted form's fields.
pub type Fields<'a> = &'a (dyn Fn(&str) -> Option<&'a str> + Sync);

/// The `RESET_PASSWORD` event of the flow (its client).
fn reset_event(snap: &RealmSnapshot, request: &AuthRequest) -> crate::events::UserEvent {
    let mut e = crate::events::UserEvent::new(snap, "RESET_PASSWORD");
    if let Some(c) = &request.client_id {
        e.set_client(c.clone());
    }
    e
}

/// `RESET_PASSWORD_ERROR` `not_allowed` and Keycloak's page, for a realm without
/// `resetPasswordAllowed`.
pub fn not_allowed(state: &AppState, snap: &RealmSnapshot, client_id: Option<&str>) -> Response {
    let mut e = crate::events::UserEvent::new(snap, "RESET_PASSWORD");
    if let Some(c) = client_id {
        e.set_client(c.to_string());
    }
    e.error(state, crate::events::errors::NOT_ALLOWED);
    error_page(StatusCode::BAD_REQUEST, NOT_ALLOWED)
}

/// The request of a reset started without a login (`createAuthenticationSessionForClient`):
/// the client's first redirect URI without a wildcard, else the account console of client
/// `account`.
pub fn request_for_client(
    snap: &RealmSnapshot,
    base: &str,
    client_id: Option<&str>,
) -> AuthRequest {
    let found = client_id
        .and_then(|c| snap.index.client(&snap.rep, c))
        .filter(|c| c.enabled != Some(false))
        .and_then(|c| {
            let root = c.root_url.clone().unwrap_or_default();
            let uri = c
                .redirect_uris
                .iter()
                .flatten()
                .find(|u| !u.contains('*') && !u.is_empty())
                .map(|u| {
                    if u.starts_with('/') {
                        format!("{}{u}", root.trim_end_matches('/'))
                    } else {
                        u.clone()
                    }
                })?;
            Some((c.client_id.clone()?, uri))
        });
    let (client, redirect) =
        found.unwrap_or_else(|| ("account".into(), action_token::account_url(base, snap)));
    AuthRequest {
        client_id: Some(client),
        redirect_uri: Some(redirect.clone()),
        redirect_uri_param: Some(redirect),
        response_type: Some("code".into()),
        response_mode: Some("query".into()),
        scope: Some("openid".into()),
        ..Default::default()
    }
}

/// Starts the flow (GET) for `request`: the choose-user page, or (with an SSO session) the mail.
pub async fn start(r: &Reset<'_>, request: AuthRequest) -> Response {
    let mut pending = PendingLogin::of(request);
    pending.reset_credentials = Some(true);
    run(r, None, pending, None, false).await
}

/// Resumes the flow with its posted form (the choose-user page's).
pub async fn resume(r: &Reset<'_>, code: &str, pending: PendingLogin, f: Fields<'_>) -> Response {
    run(r, Some(code), pending, Some(f), false).await
}

/// The flow kept for a mail's link (`asid`), taken: the link is used once.
pub async fn take_kept(
    state: &AppState,
    snap: &RealmSnapshot,
    asid: Option<&str>,
) -> Option<PendingLogin> {
    let a = asid?;
    let store = state.store.as_ref();
    let row = store.auth_session(a, now()).await.ok().flatten();
    let _ = store.delete_auth_session(a).await;
    let row = row?;
    serde_json::from_str::<PendingLogin>(&row.data)
        .ok()
        .filter(|p| row.realm_id == snap.id && p.reset_credentials == Some(true))
}

/// The link of the mail was used (the token is checked and used up): the kept flow continues
/// for `user_id`, or a new one for `request` (the token's client); brute-force failures of the
/// user are forgotten and the address counts as verified.
pub async fn from_token(
    r: &Reset<'_>,
    user_id: &str,
    kept: Option<PendingLogin>,
    request: AuthRequest,
) -> Response {
    let store = r.state.store.as_ref();
    let mut pending = kept.unwrap_or_else(|| {
        let mut p = PendingLogin::of(request);
        p.reset_credentials = Some(true);
        p
    });
    if pending.flow.user.as_deref() != Some(user_id) {
        pending.flow = engine::FlowState::default();
        pending.session_actions.clear();
    }
    pending.flow.user = Some(user_id.to_string());
    pending.flow.challenged = None;
    // `ResetCredentialEmail.action`: the link proves the address.
    if let Ok(Some(mut row)) = store.user_by_id(&r.snap.id, user_id).await {
        if let Ok(mut u) = parse_user(&row) {
            if u.email_verified != Some(true) {
                u.email_verified = Some(true);
                if let Ok(json) = serde_json::to_string(&u) {
                    row.representation = json;
                    if store.update_user(&r.snap.id, &row).await.is_err() {
                        return internal_error();
                    }
                }
            }
        }
    }
    // Keycloak logs the user in at the end of the reset whatever their failures were
    // (KEYCLOAK-13054): the failures are cleared.
    if r.snap.brute_force.protected {
        if let Err(e) = store.clear_login_failure(&r.snap.id, user_id).await {
            tracing::error!(error = %e, "brute force: failures not cleared after a reset");
        }
    }
    run(r, None, pending, None, true).await
}

/// A step's page.
enum Page {
    /// `login-reset-password.ftl`.
    ChooseUser {
        username: Option<String>,
        error: Option<&'static str>,
    },
}

/// What a step did.
enum Out {
    Success,
    Challenge(Page),
    Answer(Response),
}

async fn run(
    r: &Reset<'_>,
    code: Option<&str>,
    mut pending: PendingLogin,
    mut form: Option<Fields<'_>>,
    token: bool,
) -> Response {
    let flows = r.snap.flows.clone();
    let Some(top) = flow_index(r.snap) else {
        tracing::error!(realm = %r.snap.name, "the realm's reset credentials flow does not exist");
        return internal_error();
    };
    // The name typed on the choose-user page (auth note `ATTEMPTED_USERNAME`).
    let mut attempted: Option<String> = None;
    let mut facts = UserFacts {
        snap: r.snap,
        user: None,
    };
    let mut facts_of: Option<String> = None;
    loop {
        if facts_of != pending.flow.user {
            facts.user = match pending.flow.user.as_deref() {
                Some(id) => match r.state.store.user_by_id(&r.snap.id, id).await {
                    Ok(Some(row)) => parse_user(&row).ok(),
                    _ => None,
                },
                None => None,
            };
            facts_of.clone_from(&pending.flow.user);
        }
        let planned = engine::plan_at(&flows, top, &pending.flow, &facts, now());
        let (exec, auth) = match planned.next {
            Next::Done => return finish(r, code, pending).await,
            Next::Failed(_) => return error_page(StatusCode::BAD_REQUEST, "Invalid Request."),
            Next::Run(e, a) => (e, a),
        };
        let mine = pending
            .flow
            .challenged
            .as_deref()
            .is_none_or(|c| c == exec.id);
        let posted = if mine && auth.provider == Provider::NotRun(CHOOSE_USER) {
            form.take()
        } else {
            None
        };
        let out = match auth.provider {
            Provider::NotRun(CHOOSE_USER) => {
                choose_user(r, &mut pending, posted, token, &mut attempted).await
            }
            Provider::NotRun(SEND_EMAIL) => {
                send_email(r, code, &mut pending, token, attempted.as_deref()).await
            }
            Provider::NotRun(RESET_PASSWORD) => {
                let has_password = facts.user.as_ref().is_some_and(|u| {
                    u.credentials
                        .iter()
                        .flatten()
                        .any(|c| c.kind.as_deref() == Some("password"))
                });
                if exec.requirement == Requirement::Required
                    || (exec.requirement == Requirement::Conditional && has_password)
                {
                    add_action(&mut pending, "UPDATE_PASSWORD");
                }
                Out::Success
            }
            Provider::NotRun(RESET_OTP) => reset_otp(r, &mut pending, auth).await,
            Provider::AllowAccess => Out::Success,
            Provider::DenyAccess => {
                Out::Answer(error_page(StatusCode::UNAUTHORIZED, auth.deny_message()))
            }
            _ => Out::Answer(error_page(
                StatusCode::BAD_REQUEST,
                "An authenticator of the realm's reset credentials flow cannot run on this server.",
            )),
        };
        match out {
            Out::Success => pending.flow.record(&exec.id, Status::Success),
            Out::Answer(resp) => return resp,
            Out::Challenge(p) => {
                pending.flow.challenged = Some(exec.id.clone());
                return show(r, code, &pending, &p).await;
            }
        }
    }
}

fn add_action(pending: &mut PendingLogin, alias: &str) {
    if !pending.session_actions.iter().any(|a| a == alias) {
        pending.session_actions.push(alias.to_string());
    }
}

/// `ResetCredentialChooseUser`.
async fn choose_user(
    r: &Reset<'_>,
    pending: &mut PendingLogin,
    posted: Option<Fields<'_>>,
    token: bool,
    attempted: &mut Option<String>,
) -> Out {
    if token {
        // The action token's user (`ACTION_TOKEN_USER_ID`).
        return Out::Success;
    }
    let store = r.state.store.as_ref();
    let Some(f) = posted else {
        // The SSO session's user skips the choice.
        if let Some((who, _)) = sso::found(store, r.snap, r.headers).await {
            if let Ok(Some(row)) = store.user_by_id(&r.snap.id, &who.user_id).await {
                *attempted = parse_user(&row).ok().and_then(|u| u.username);
                pending.flow.user = Some(row.id);
                return Out::Success;
            }
        }
        return Out::Challenge(Page::ChooseUser {
            username: pending.request.login_hint.clone(),
            error: None,
        });
    };
    let name = f("username").unwrap_or_default().trim();
    if name.is_empty() {
        reset_event(r.snap, &pending.request).error(r.state, "username_missing");
        return Out::Challenge(Page::ChooseUser {
            username: None,
            error: Some(MISSING_USERNAME),
        });
    }
    *attempted = Some(name.to_string());
    pending.flow.user = None;
    match find_user(store, r.snap, name).await {
        Ok(None) => reset_event(r.snap, &pending.request)
            .detail("username", name)
            .error(r.state, crate::events::errors::USER_NOT_FOUND),
        Ok(Some(row)) => match parse_user(&row) {
            Ok(u) if u.enabled == Some(false) => reset_event(r.snap, &pending.request)
                .user(row.id.clone())
                .detail("username", name)
                .error(r.state, crate::events::errors::USER_DISABLED),
            Ok(_) => pending.flow.user = Some(row.id),
            Err(_) => return Out::Answer(internal_error()),
        },
        Err(_) => return Out::Answer(internal_error()),
    }
    Out::Success
}

/// `ResetCredentialEmail`: the mail for a user with an address, then the login page with
/// Keycloak's message in every case.
async fn send_email(
    r: &Reset<'_>,
    code: Option<&str>,
    pending: &mut PendingLogin,
    token: bool,
    attempted: Option<&str>,
) -> Out {
    let Some(user_id) = pending.flow.user.clone() else {
        return Out::Answer(fork(r, code, pending).await);
    };
    if token {
        return Out::Success;
    }
    let store = r.state.store.as_ref();
    let user = match store.user_by_id(&r.snap.id, &user_id).await {
        Ok(Some(row)) => match parse_user(&row) {
            Ok(u) => u,
            Err(_) => return Out::Answer(internal_error()),
        },
        Ok(None) => return Out::Answer(fork(r, code, pending).await),
        Err(_) => return Out::Answer(internal_error()),
    };
    let username = attempted
        .map(str::to_string)
        .or_else(|| user.username.clone())
        .unwrap_or_default();
    let Some(email) = user.email.clone().filter(|e| !e.trim().is_empty()) else {
        reset_event(r.snap, &pending.request)
            .user(user_id)
            .detail("username", username)
            .error(r.state, "invalid_email");
        return Out::Answer(fork(r, code, pending).await);
    };
    let event = || {
        let mut e = crate::events::UserEvent::new(r.snap, "SEND_RESET_PASSWORD")
            .user(user_id.clone())
            .detail("username", username.clone());
        if let Some(c) = &pending.request.client_id {
            e.set_client(c.clone());
        }
        e
    };
    let lifespan = action_token::user_lifespan(r.snap, RESET_CREDENTIALS);
    let t = now();
    // The flow so far, resumed by the link (the token's `asid`).
    let asid = crate::crypto::random_alphanumeric(40);
    let mut kept = pending.clone();
    kept.flow.challenged = None;
    let Ok(data) = serde_json::to_string(&kept) else {
        return Out::Answer(internal_error());
    };
    if store
        .put_auth_session(&asid, &r.snap.id, &data, t + lifespan)
        .await
        .is_err()
    {
        return Out::Answer(internal_error());
    }
    let client_id = pending.request.client_id.as_deref().unwrap_or("account");
    let mut token = ActionToken::new(
        Kind::ResetCredentials,
        Some(&user_id),
        client_id,
        t,
        t + lifespan,
    );
    token.email = Some(email.clone());
    token.auth_session = Some(asid.clone());
    let sent = (|| {
        let key = r
            .snap
            .hmac_keys
            .first()
            .ok_or("the realm has no HMAC key")?;
        let issuer = paths::url(r.base, paths::REALM, &r.snap.name);
        let link = action_token::link(r.base, r.snap, &token.sign(key, &issuer));
        let realm_name = r
            .snap
            .rep
            .display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| r.snap.name.clone());
        let mail = crate::email::templates::password_reset(&email, &realm_name, &link, lifespan);
        let settings = crate::email::SmtpSettings::of(r.snap.rep.smtp_server.as_ref())
            .map_err(|e| e.to_string())?;
        r.state
            .email
            .enqueue(&r.snap.name, settings, mail)
            .map_err(|e| e.to_string())
    })();
    match sent {
        Ok(()) => {
            event().detail("email", email).success(r.state);
            Out::Answer(fork(r, code, pending).await)
        }
        Err(reason) => {
            let _ = store.delete_auth_session(&asid).await;
            event()
                .detail("reason", reason)
                .error(r.state, "email_send_failed");
            Out::Answer(error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                EMAIL_SEND_ERROR,
            ))
        }
    }
}

/// `ResetOTP`: for a user with OTP, `CONFIGURE_TOTP` for this login (all OTP credentials
/// removed first with `Remove all`).
async fn reset_otp(r: &Reset<'_>, pending: &mut PendingLogin, a: &Authenticator) -> Out {
    let Some(user_id) = pending.flow.user.clone() else {
        return Out::Success;
    };
    let store = r.state.store.as_ref();
    let Ok(Some(mut row)) = store.user_by_id(&r.snap.id, &user_id).await else {
        return Out::Answer(internal_error());
    };
    let Ok(mut user) = parse_user(&row) else {
        return Out::Answer(internal_error());
    };
    let is_otp =
        |c: &crate::representation::CredentialRepresentation| c.kind.as_deref() == Some("otp");
    if !user.credentials.iter().flatten().any(is_otp) {
        // `conditional-user-configured`: the sub-flow is for users with OTP.
        return Out::Success;
    }
    if a.setting("action_on_otp_reset_flag") == Some("Remove all") {
        if let Some(creds) = user.credentials.as_mut() {
            creds.retain(|c| !is_otp(c));
        }
        let Ok(json) = serde_json::to_string(&user) else {
            return Out::Answer(internal_error());
        };
        row.representation = json;
        if store.update_user(&r.snap.id, &row).await.is_err() {
            return Out::Answer(internal_error());
        }
    }
    add_action(pending, "CONFIGURE_TOTP");
    Out::Success
}

/// Keycloak's `forkWithSuccessMessage`: the reset ends for this browser and a login for the
/// same request starts, its page with "You should receive an email shortly...".
async fn fork(r: &Reset<'_>, code: Option<&str>, pending: &PendingLogin) -> Response {
    let store = r.state.store.as_ref();
    if let Some(c) = code {
        let _ = store.delete_auth_session(c).await;
    }
    let login = PendingLogin::of(pending.request.clone());
    let lifespan = r.snap.settings.access_code_lifespan_login;
    flow::start_flow(store, r.snap, &login, lifespan, r.reply.secure(), |c| {
        with_info(
            login_page(r.snap, &action_url(r.base, r.snap, c), c, None, None),
            EMAIL_SENT,
        )
    })
    .await
}

/// The flow succeeded: the login's required actions (the update-password page), then the
/// login completes.
async fn finish(r: &Reset<'_>, code: Option<&str>, mut pending: PendingLogin) -> Response {
    let Some(user_id) = pending.flow.user.clone() else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    if let Some(c) = code {
        let _ = r.state.store.delete_auth_session(c).await;
    }
    pending.reset_credentials = None;
    pending.flow.challenged = None;
    let actions = required_action::Actions {
        state: r.state,
        snap: r.snap,
        protocol: r.protocol,
        reply: r.reply,
        base: r.base,
    };
    required_action::proceed(&actions, None, pending, &user_id).await
}

/// The choose-user page (`login-reset-password.ftl`).
fn choose_user_page(
    snap: &RealmSnapshot,
    action: &str,
    code: &str,
    username: Option<&str>,
    error: Option<&str>,
) -> String {
    let email = snap.settings.login_with_email_allowed;
    let (label, instruction) = if email {
        ("Username or email", "Enter your username or email address and we will send you instructions on how to create a new password.")
    } else {
        ("Username", "Enter your username and we will send you instructions on how to create a new password.")
    };
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"input-error-username\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    page(
        &format!("Forgot Your Password? - {}", realm_title(snap)),
        &format!(
            "<h1>Forgot Your Password?</h1>{err}<form id=\"kc-reset-password-form\" action=\"{a}\" method=\"post\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <label for=\"username\">{label}</label><input id=\"username\" name=\"username\" value=\"{u}\" autocomplete=\"username\" autofocus{inv}>\
             <p id=\"kc-reset-password-instruction\">{instruction}</p>\
             <button type=\"submit\">Submit</button></form>",
            a = escape(action),
            s = escape(code),
            u = escape(username.unwrap_or_default()),
            inv = if error.is_some() { " aria-invalid=\"true\" aria-describedby=\"input-error-username\"" } else { "" },
        ),
    )
}

/// Shows a step's page: a new flow bound to this browser at the start, the same code after a
/// post.
async fn show(r: &Reset<'_>, code: Option<&str>, pending: &PendingLogin, p: &Page) -> Response {
    let store = r.state.store.as_ref();
    let lifespan = r.snap.settings.access_code_lifespan_login;
    let action = paths::url(r.base, paths::RESET_CREDENTIALS, &r.snap.name);
    let render = |c: &str| match p {
        Page::ChooseUser { username, error } => {
            choose_user_page(r.snap, &action, c, username.as_deref(), *error)
        }
    };
    match code {
        None => flow::start_flow(store, r.snap, pending, lifespan, r.reply.secure(), render).await,
        Some(c) => {
            if let Err(resp) = flow::replace_flow(store, &r.snap.id, c, pending, lifespan).await {
                return resp;
            }
            html(StatusCode::OK, render(c))
        }
    }
}
