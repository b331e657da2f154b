//! The browser login driven by the realm's browser flow (or the client's override): the
//! [`engine`] plans, this runs each authenticator by its provider id, records its outcome in
//! the pending login, and shows the page of the step that asks for something. A form post
//! resumes the flow at the step whose page was shown; no other step sees the form, so a post
//! cannot skip a step.

use std::borrow::Cow;
use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::authn::brute_force;
use crate::authn::engine::{self, Facts, Failure, Next, Status, NO_LOA};
use crate::authn::pages::{error_page, escape, html, internal_error, login_page, step_page, Field};
use crate::authn::reply::Reply;
use crate::authn::steps::organization::{self, OrgOut};
use crate::authn::steps::password::{self, Credentials, Refused};
use crate::authn::steps::required_action::{self, Due};
use crate::authn::steps::{conditional_otp, otp, recovery_codes, sso, webauthn};
use crate::authn::{flow, PendingLogin, Protocol};
use crate::model::flows::{Authenticator, Provider};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::UserRow;
use crate::users::{find_user, parse_user};
use crate::AppState;

/// Keycloak's `invalidUsernameMessage`.
const INVALID_USERNAME: &str = "Invalid username.";
/// Keycloak's `invalidPasswordMessage`.
const INVALID_PASSWORD: &str = "Invalid password.";
/// Keycloak's `accountDisabledMessage`.
const ACCOUNT_DISABLED: &str = "Account is disabled, contact your administrator.";

/// The request a browser flow runs for.
pub struct Browser<'a> {
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
    /// The server's base URL (form actions).
    pub base: &'a str,
    /// The client's address.
    pub remote: Option<IpAddr>,
    /// `max_age` of the authorization request (the cookie step honours it).
    pub max_age: Option<i64>,
}

/// A posted form's fields.
pub type Fields<'a> = &'a (dyn Fn(&str) -> Option<&'a str> + Sync);

/// The page a step asks with.
enum Page {
    /// Username and password.
    Login {
        username: Option<String>,
        error: Option<Cow<'static, str>>,
    },
    /// Identity-first: the username.
    Username {
        username: Option<String>,
        error: Option<Cow<'static, str>>,
    },
    /// The user's organizations to choose from: (alias, name).
    SelectOrganization(Vec<(String, String)>),
    /// Identity-first: the password.
    Password { error: Option<&'static str> },
    /// The OTP form: the user's devices (id, label) to choose from when several.
    Otp {
        devices: Vec<(String, String)>,
        selected: Option<String>,
        error: Option<&'static str>,
    },
    /// WebAuthn (second factor or passkey): the options of `navigator.credentials.get`.
    WebAuthn(webauthn::AuthPage),
    /// A recovery authentication code: the number of the next one.
    RecoveryCode(recovery_codes::AuthPage),
}

/// What a step did.
enum Out {
    Success,
    /// No credential: its required action, if any, is added to the login (`SETUP_REQUIRED`).
    SetupRequired(Option<&'static str>),
    Attempted,
    Challenge(Page),
    Answer(Response),
}

/// The user an earlier step identified, for the planner's conditions.
pub struct UserFacts<'a> {
    /// The realm.
    pub snap: &'a RealmSnapshot,
    /// The user, once identified.
    pub user: Option<UserRepresentation>,
}

impl Facts for UserFacts<'_> {
    fn has_credential(&self, t: &str) -> bool {
        self.user.as_ref().is_some_and(|u| {
            u.credentials
                .iter()
                .flatten()
                .any(|c| c.kind.as_deref() == Some(t))
        })
    }

    fn organizations(&self) -> bool {
        self.snap.index.organizations.present()
    }

    fn has_role(&self, role: &str) -> bool {
        let Some(user) = &self.user else {
            return false;
        };
        let wanted = crate::tokens::role_reference(self.snap, role);
        crate::tokens::effective_roles(self.snap, user).contains(&wanted)
    }
}

async fn load_user(b: &Browser<'_>, id: Option<&str>) -> Option<(UserRow, UserRepresentation)> {
    let row = b.state.store.user_by_id(&b.snap.id, id?).await.ok()??;
    let user = parse_user(&row).ok()?;
    Some((row, user))
}

/// Starts a login (the authorization endpoint): takes the level of authentication the request
/// asks for, then runs the flow until a step asks for something, or the login is done.
pub async fn start(b: &Browser<'_>, mut pending: PendingLogin) -> Response {
    if let Some(client) = pending.request.client(b.snap) {
        let r = &pending.request;
        match crate::tokens::acr::requested_level(
            b.snap,
            client,
            r.claims.as_deref(),
            r.acr_values.as_deref(),
        ) {
            Ok((level, force)) => {
                pending.flow.requested_loa = level;
                pending.flow.force_loa = force;
                // `CredentialAction.getCredentialType` of the application-initiated action.
                pending.flow.kc_credential = match r.kc_action.as_deref() {
                    Some("CONFIGURE_TOTP") => Some("otp".into()),
                    Some("UPDATE_PASSWORD") => Some("password".into()),
                    Some("CONFIGURE_RECOVERY_AUTHN_CODES") => {
                        Some(crate::users::recovery_codes::TYPE.into())
                    }
                    _ => None,
                };
            }
            Err(_) => {
                // `AuthorizationEndpoint.updateAuthenticationSession`: an essential acr that
                // is neither mapped nor a number, or below the client's minimum.
                crate::authn::login_event(b.snap, r)
                    .detail("reason", "Invalid requested essential acr value")
                    .error(b.state, crate::events::errors::INVALID_REQUEST);
                return error_page(StatusCode::BAD_REQUEST, "Invalid parameter: claims");
            }
        }
    }
    run(b, None, pending, None).await
}

/// Resumes a login with a posted form (its pending login already bound to this browser).
pub async fn resume(
    b: &Browser<'_>,
    code: &str,
    pending: PendingLogin,
    fields: Fields<'_>,
) -> Response {
    // A first broker login in progress gets the post (its re-authentication's OTP page posts
    // here): the browser flow's steps ended when the identity provider answered.
    if pending.first_broker.is_some() {
        return crate::authn::first_broker::resume(b, code, pending, fields).await;
    }
    run(b, Some(code), pending, Some(fields)).await
}

/// The OTP form (`auth-otp-form`) as a step of the first broker login's re-authentication
/// (its user is `pending.flow.user`): `Ok` with the step's outcome, else the answer (the
/// page, stored with the login as execution `exec_id`'s).
pub(crate) async fn otp_step(
    b: &Browser<'_>,
    code: &str,
    pending: &mut PendingLogin,
    exec_id: &str,
    posted: Option<Fields<'_>>,
) -> Result<Status, Response> {
    match otp_form(b, pending, posted).await {
        Out::Success => Ok(Status::Success),
        Out::Attempted => Ok(Status::Attempted),
        Out::SetupRequired(action) => {
            if let Some(action) = action.filter(|a| !pending.session_actions.iter().any(|s| s == a))
            {
                pending.session_actions.push(action.to_string());
            }
            Ok(Status::SetupRequired)
        }
        Out::Answer(r) => Err(r),
        Out::Challenge(page) => {
            pending.flow.challenged = Some(exec_id.to_string());
            Err(show(b, Some(code), pending, &page).await)
        }
    }
}

async fn run(
    b: &Browser<'_>,
    code: Option<&str>,
    mut pending: PendingLogin,
    mut form: Option<Fields<'_>>,
) -> Response {
    let flows = b.snap.flows.clone();
    let Some(top) = flows.browser_for(pending.request.client_id.as_deref()) else {
        return internal_error();
    };
    let mut facts = UserFacts {
        snap: b.snap,
        user: None,
    };
    let mut facts_of: Option<String> = None;
    loop {
        if facts_of != pending.flow.user {
            facts.user = load_user(b, pending.flow.user.as_deref())
                .await
                .map(|(_, u)| u);
            facts_of.clone_from(&pending.flow.user);
        }
        let t = crate::clock::now();
        let planned = engine::plan_at(&flows, top, &pending.flow, &facts, t);
        // `ConditionalLoaAuthenticator.onParentFlowSuccess`: a level sub-flow that succeeded
        // is kept in the session's `loa-map` (unless its max age is 0).
        for (level, max_age) in &planned.reached {
            if *max_age != 0 {
                pending.flow.loa_map.insert(*level, t);
            }
        }
        let (exec, auth) = match planned.next {
            Next::Done => {
                pending.flow.loa = Some(planned.loa);
                return finish(b, code, pending).await;
            }
            Next::Failed(f) => return failed(b, &pending, &f),
            Next::Run(e, a) => (e, a),
        };
        // Only the step whose page was shown gets the form (the first step with a page, for
        // a flow started by a page of its own, as the device verification's).
        let mine = pending
            .flow
            .challenged
            .as_deref()
            .is_none_or(|c| c == exec.id);
        let asks = matches!(
            auth.provider,
            Provider::UsernamePasswordForm
                | Provider::Organization
                | Provider::UsernameForm
                | Provider::PasswordForm
                | Provider::OtpForm
                | Provider::ConditionalOtpForm
                | Provider::WebAuthn
                | Provider::WebAuthnPasswordless
                | Provider::RecoveryCodeForm
        );
        let posted = if mine && asks { form.take() } else { None };
        match step(b, code, &mut pending, auth, posted).await {
            Out::Success => {
                pending.flow.record(&exec.id, Status::Success);
                // `AuthenticatorUtils.updateCompletedExecutions`: the cookie step completes
                // nothing of its own.
                if auth.provider != Provider::Cookie {
                    pending
                        .flow
                        .completed
                        .insert(exec.id.clone(), crate::clock::now());
                }
            }
            Out::Attempted => pending.flow.record(&exec.id, Status::Attempted),
            Out::SetupRequired(action) => {
                pending.flow.record(&exec.id, Status::SetupRequired);
                if let Some(action) =
                    action.filter(|a| !pending.session_actions.iter().any(|s| s == a))
                {
                    pending.session_actions.push(action.to_string());
                }
            }
            Out::Answer(r) => return r,
            Out::Challenge(page) => {
                pending.flow.challenged = Some(exec.id.clone());
                return show(b, code, &pending, &page).await;
            }
        }
    }
}

/// The flow failed: Keycloak's error page for it.
fn failed(b: &Browser<'_>, pending: &PendingLogin, f: &Failure) -> Response {
    if pending.request.prompts("none") {
        return b.reply.error("login_required", "Login required");
    }
    let message = match f {
        Failure::AcrNotFulfilled { requested, reached } => {
            // `ConditionalLoaAuthenticator.onTopFlowSuccess`: GENERIC_AUTHENTICATION_ERROR.
            crate::authn::login_event(b.snap, &pending.request)
                .detail(
                    "authentication_error_detail",
                    format!("Forced level of authentication did not meet the requirements. Requested level: {requested}, Fulfilled level: {reached}"),
                )
                .error(b.state, crate::events::errors::GENERIC_AUTHENTICATION_ERROR);
            "Authentication requirements not fulfilled"
        }
        Failure::UnknownUser(_) | Failure::NotSucceeded => "Invalid username or password.",
        Failure::CredentialSetupRequired(_) => {
            "Your account needs a credential this server cannot set up yet. Contact your administrator."
        }
    };
    error_page(StatusCode::BAD_REQUEST, message)
}

/// Runs one authenticator.
async fn step(
    b: &Browser<'_>,
    code: Option<&str>,
    pending: &mut PendingLogin,
    a: &Authenticator,
    posted: Option<Fields<'_>>,
) -> Out {
    match a.provider {
        Provider::Cookie => cookie(b, pending).await,
        Provider::IdpRedirector => {
            match crate::authn::broker_login::redirector(b, code, pending, a).await {
                Some(r) => Out::Answer(r),
                None => Out::Attempted,
            }
        }
        Provider::Organization => {
            match organization::authenticate(b.state, b.snap, pending, a, posted).await {
                OrgOut::Attempted => Out::Attempted,
                OrgOut::AskUsername { username, error } => {
                    Out::Challenge(Page::Username { username, error })
                }
                OrgOut::Select(orgs) => Out::Challenge(Page::SelectOrganization(orgs)),
                OrgOut::Broker { alias, login_hint } => {
                    match crate::broker::provider(b.snap, &alias) {
                        Ok(provider) => {
                            let mut to_provider = pending.clone();
                            to_provider.request.login_hint = login_hint;
                            Out::Answer(
                                crate::authn::broker_login::redirect(b, code, to_provider, &provider)
                                    .await,
                            )
                        }
                        Err(_) => Out::Answer(error_page(
                            StatusCode::BAD_REQUEST,
                            &format!("The identity provider '{alias}' of this organization cannot log in."),
                        )),
                    }
                }
                OrgOut::Answer(r) => Out::Answer(r),
            }
        }
        Provider::AllowAccess => Out::Success,
        Provider::DenyAccess => Out::Answer(error_page(
            StatusCode::UNAUTHORIZED,
            a.deny_message(),
        )),
        Provider::UsernamePasswordForm => username_password(b, pending, posted).await,
        Provider::UsernameForm => username(b, pending, posted).await,
        Provider::PasswordForm => password(b, pending, posted).await,
        Provider::OtpForm => otp_form(b, pending, posted).await,
        Provider::ConditionalOtpForm => conditional_otp_form(b, pending, a, posted).await,
        Provider::WebAuthn | Provider::WebAuthnPasswordless => {
            let s = webauthn::Step {
                state: b.state,
                snap: b.snap,
                base: b.base,
                remote: b.remote,
                passwordless: a.provider == Provider::WebAuthnPasswordless,
            };
            match webauthn::authenticate(&s, pending, posted).await {
                webauthn::AuthOut::Success => Out::Success,
                webauthn::AuthOut::SetupRequired(action) => Out::SetupRequired(Some(action)),
                webauthn::AuthOut::Challenge(p) => Out::Challenge(Page::WebAuthn(p)),
                webauthn::AuthOut::Answer(r) => Out::Answer(r),
            }
        }
        Provider::RecoveryCodeForm => {
            match recovery_codes::authenticate(b, pending, posted).await {
                recovery_codes::AuthOut::Success => Out::Success,
                recovery_codes::AuthOut::SetupRequired(action) => Out::SetupRequired(Some(action)),
                recovery_codes::AuthOut::Attempted => Out::Attempted,
                recovery_codes::AuthOut::Challenge(p) => Out::Challenge(Page::RecoveryCode(p)),
                recovery_codes::AuthOut::Answer(r) => Out::Answer(r),
            }
        }
        Provider::Spnego => Out::Answer(error_page(
            StatusCode::BAD_REQUEST,
            "Kerberos (auth-spnego) is not supported by this server. Disable it in the browser flow.",
        )),
        other => Out::Answer(error_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "The authenticator '{}' cannot run in a browser flow of this server.",
                provider_name(other)
            ),
        )),
    }
}

/// `CookieAuthenticator`: the browser's SSO session identifies the user. It answers the
/// login alone unless the session must re-authenticate (`prompt=login`, `max_age`, a
/// `kc_action` older than its `max_auth_age`: `OIDCLoginProtocol.requireReauthentication`),
/// or the request asks for a level above the session's (step-up); then the user stays
/// identified and the flow's next steps run.
async fn cookie(b: &Browser<'_>, pending: &mut PendingLogin) -> Out {
    let store = b.state.store.as_ref();
    let Some((who, notes)) = sso::found(store, b.snap, b.headers).await else {
        return Out::Attempted;
    };
    let t = crate::clock::now();
    pending.flow.user = Some(who.user_id.clone());
    pending.flow.browser_session = Some(who.sid.clone());
    pending.flow.loa_map = notes
        .extra
        .get(crate::tokens::acr::LOA_MAP_NOTE)
        .and_then(serde_json::Value::as_str)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let reauth = pending.request.prompts("login")
        || b.max_age.is_some_and(|m| t - who.auth_time > m)
        || required_action::kc_action_reauth(b.snap, &pending.request, who.auth_time, t);
    if reauth {
        pending.flow.loa = None;
        pending.flow.reauth = true;
        return Out::Attempted;
    }
    let flows = &b.snap.flows;
    let top = flows.browser_for(pending.request.client_id.as_deref());
    let max_ages = top
        .map(|top| engine::loa_max_ages(flows, top))
        .unwrap_or_default();
    let previous = engine::previous_level(&pending.flow.loa_map, &max_ages, t);
    pending.flow.loa = Some(previous);
    let kc = match (top, pending.flow.kc_credential.as_deref()) {
        (Some(top), Some(credential)) => {
            let facts = UserFacts {
                snap: b.snap,
                user: load_user(b, Some(&who.user_id)).await.map(|(_, u)| u),
            };
            engine::kc_action_level(flows, top, Some(credential), true, &facts)
        }
        _ => NO_LOA,
    };
    if pending.flow.requested_loa.unwrap_or(NO_LOA).max(kc) > previous {
        return Out::Attempted;
    }
    pending.flow.sso = Some((who.sid, who.auth_time));
    Out::Success
}

fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::DirectUsername => "direct-grant-validate-username",
        Provider::DirectPassword => "direct-grant-validate-password",
        Provider::DirectOtp => "direct-grant-validate-otp",
        Provider::NotRun(id) => id,
        _ => "unknown",
    }
}

fn creds<'a>(b: &Browser<'_>, f: Fields<'a>) -> Credentials<'a> {
    Credentials {
        username: f("username").unwrap_or_default(),
        password: f("password").unwrap_or_default(),
        remember_me: f("rememberMe") == Some("on"),
        remote: b.remote,
    }
}

async fn username_password(
    b: &Browser<'_>,
    pending: &mut PendingLogin,
    posted: Option<Fields<'_>>,
) -> Out {
    // A user the SSO session identified (re-authentication, step-up) is the one who must
    // log in: the form checks that user's password, whatever username is posted
    // (`AbstractUsernameFormAuthenticator`, `USER_SET_BEFORE_USERNAME_PASSWORD_AUTH`).
    let pinned = match pending.flow.user.as_deref() {
        Some(id) => match load_user(b, Some(id)).await {
            Some(found) => Some(found),
            None => return Out::Answer(error_page(StatusCode::BAD_REQUEST, "Invalid Request.")),
        },
        None => None,
    };
    let pinned_name = pinned
        .as_ref()
        .and_then(|(_, u)| u.username.clone())
        .unwrap_or_default();
    let Some(f) = posted else {
        return Out::Challenge(Page::Login {
            username: match &pinned {
                Some(_) => Some(pinned_name),
                // The username the organization step was given (`ATTEMPTED_USERNAME`).
                None => pending
                    .attempted_username
                    .clone()
                    .or_else(|| pending.request.login_hint.clone()),
            },
            error: None,
        });
    };
    let mut c = creds(b, f);
    let row = pinned.map(|(row, _)| {
        c.username = &pinned_name;
        row
    });
    match password::check(
        b.state,
        b.snap,
        &pending.request,
        &c,
        row,
        password::INVALID,
    )
    .await
    {
        Ok((row, _)) => {
            pending.remember_me = Some(b.snap.settings.remember_me && c.remember_me);
            pending.flow.user = Some(row.id);
            pending.flow.used("password");
            Out::Success
        }
        Err(Refused::Again(msg)) => Out::Challenge(Page::Login {
            username: Some(c.username.to_string()),
            error: Some(msg.into()),
        }),
        Err(Refused::Internal) => Out::Answer(internal_error()),
    }
}

async fn username(b: &Browser<'_>, pending: &mut PendingLogin, posted: Option<Fields<'_>>) -> Out {
    // `UsernameForm`: a user the SSO session identified (re-authentication) skips the form.
    if pending.flow.user.is_some() {
        return Out::Success;
    }
    let Some(f) = posted else {
        return Out::Challenge(Page::Username {
            username: pending.request.login_hint.clone(),
            error: None,
        });
    };
    let name = f("username").unwrap_or_default().trim();
    let again = |error: &'static str| {
        Out::Challenge(Page::Username {
            username: Some(name.to_string()),
            error: Some(error.into()),
        })
    };
    if name.is_empty() {
        return again(INVALID_USERNAME);
    }
    let row = match find_user(b.state.store.as_ref(), b.snap, name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            crate::authn::login_event(b.snap, &pending.request)
                .detail("username", name)
                .error(b.state, crate::events::errors::USER_NOT_FOUND);
            return again(INVALID_USERNAME);
        }
        Err(_) => return Out::Answer(internal_error()),
    };
    match parse_user(&row) {
        Ok(u) if u.enabled == Some(false) => again(ACCOUNT_DISABLED),
        Ok(_) => {
            pending.remember_me =
                Some(b.snap.settings.remember_me && f("rememberMe") == Some("on"));
            pending.flow.user = Some(row.id);
            Out::Success
        }
        Err(_) => Out::Answer(internal_error()),
    }
}

async fn password(b: &Browser<'_>, pending: &mut PendingLogin, posted: Option<Fields<'_>>) -> Out {
    let Some(f) = posted else {
        return Out::Challenge(Page::Password { error: None });
    };
    let Some((row, user)) = load_user(b, pending.flow.user.as_deref()).await else {
        return Out::Answer(error_page(StatusCode::BAD_REQUEST, "Invalid Request."));
    };
    let mut c = creds(b, f);
    c.username = user.username.as_deref().unwrap_or_default();
    match password::check(
        b.state,
        b.snap,
        &pending.request,
        &c,
        Some(row),
        INVALID_PASSWORD,
    )
    .await
    {
        Ok(_) => {
            pending.flow.used("password");
            Out::Success
        }
        Err(Refused::Again(msg)) => Out::Challenge(Page::Password { error: Some(msg) }),
        Err(Refused::Internal) => Out::Answer(internal_error()),
    }
}

async fn otp_form(b: &Browser<'_>, pending: &mut PendingLogin, posted: Option<Fields<'_>>) -> Out {
    let Some((row, user)) = load_user(b, pending.flow.user.as_deref()).await else {
        return Out::Answer(error_page(StatusCode::BAD_REQUEST, "Invalid Request."));
    };
    let devices = otp::devices(&user);
    if devices.is_empty() {
        // A required OTP form for a user without OTP (the planner runs it only then):
        // `OTPFormAuthenticator.setRequiredActions` adds CONFIGURE_TOTP to the login.
        return Out::SetupRequired(Some("CONFIGURE_TOTP"));
    }
    let Some(f) = posted else {
        return Out::Challenge(Page::Otp {
            devices,
            selected: None,
            error: None,
        });
    };
    let selected = f("selectedCredentialId").filter(|s| !s.is_empty());
    let again = |devices| {
        Out::Challenge(Page::Otp {
            devices,
            selected: selected.map(str::to_string),
            error: Some(otp::INVALID_TOTP),
        })
    };
    let code = f("otp").unwrap_or_default();
    let failed = |error: &str| {
        crate::authn::login_event(b.snap, &pending.request)
            .user(row.id.clone())
            .detail("username", user.username.clone().unwrap_or_default())
            .error(b.state, error);
    };
    let attempt = match brute_force::begin(b.state, b.snap, &row.id, &user).await {
        Ok(brute_force::Gate::Open(a)) => a,
        Ok(brute_force::Gate::Locked(lock)) => {
            failed(lock.event_error());
            return again(devices);
        }
        Err(_) => return Out::Answer(internal_error()),
    };
    match otp::check(b.state, b.snap, &row, &user, selected, code).await {
        Ok(true) => {
            attempt.succeeded().await;
            pending.flow.used("otp");
            Out::Success
        }
        Ok(false) => {
            failed(crate::events::errors::INVALID_USER_CREDENTIALS);
            attempt.failed(b.remote).await;
            again(devices)
        }
        Err(_) => Out::Answer(internal_error()),
    }
}

/// `auth-conditional-otp-form`: the OTP form when its config's conditions ask for it
/// ([`conditional_otp`]); skipped, the step succeeds. A user without OTP credential (the
/// planner runs it only when it is required) gets CONFIGURE_TOTP when `isOTPRequired`.
async fn conditional_otp_form(
    b: &Browser<'_>,
    pending: &mut PendingLogin,
    a: &Authenticator,
    posted: Option<Fields<'_>>,
) -> Out {
    let Some((_, user)) = load_user(b, pending.flow.user.as_deref()).await else {
        return Out::Answer(error_page(StatusCode::BAD_REQUEST, "Invalid Request."));
    };
    // Decided before any await: the decision's closures stay on this side of it.
    let (show, required) = {
        let attribute = |name: &str| match user.attributes.as_ref().and_then(|m| m.get(name)) {
            Some(serde_json::Value::Array(list)) => {
                list.first().and_then(|v| v.as_str()).map(str::to_string)
            }
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let roles = crate::tokens::effective_roles(b.snap, &user);
        let has_role = |r: &str| roles.contains(&crate::tokens::role_reference(b.snap, r));
        let subject = conditional_otp::Subject {
            attribute: &attribute,
            has_role: &has_role,
            headers: b.headers,
        };
        let config = a.config.as_deref();
        (
            conditional_otp::show_form(config, &subject),
            conditional_otp::otp_required(config, &subject),
        )
    };
    if otp::devices(&user).is_empty() {
        return Out::SetupRequired(required.then_some("CONFIGURE_TOTP"));
    }
    if !show {
        return Out::Success;
    }
    otp_form(b, pending, posted).await
}

fn render(b: &Browser<'_>, code: &str, page: &Page) -> String {
    let action = password::action_url(b.base, b.snap, code);
    match page {
        Page::WebAuthn(p) => webauthn::render_auth(b.snap, &action, code, p),
        Page::RecoveryCode(p) => recovery_codes::render_auth(b.snap, &action, code, p),
        Page::Login { username, error } => {
            login_page(b.snap, &action, code, username.as_deref(), error.as_deref())
        }
        Page::SelectOrganization(orgs) => organization::render_select(b.snap, &action, code, orgs),
        Page::Username { username, error } => step_page(
            b.snap,
            "kc-form-login",
            &action,
            code,
            &[Field {
                name: "username",
                label: if b.snap.settings.login_with_email_allowed {
                    "Username or email"
                } else {
                    "Username"
                },
                kind: "text",
                autocomplete: "username",
                value: username.as_deref().unwrap_or_default(),
            }],
            "",
            error.as_deref(),
        ),
        Page::Password { error } => step_page(
            b.snap,
            "kc-form-login",
            &action,
            code,
            &[Field {
                name: "password",
                label: "Password",
                kind: "password",
                autocomplete: "current-password",
                value: "",
            }],
            "",
            *error,
        ),
        Page::Otp {
            devices,
            selected,
            error,
        } => {
            let choose: String = if devices.len() > 1 {
                devices
                    .iter()
                    .enumerate()
                    .map(|(i, (id, label))| {
                        let checked = match selected {
                            Some(s) => s == id,
                            None => i == 0,
                        };
                        format!(
                            "<label><input type=\"radio\" name=\"selectedCredentialId\" value=\"{}\" style=\"width:auto\"{}> {}</label>",
                            escape(id),
                            if checked { " checked" } else { "" },
                            escape(label)
                        )
                    })
                    .collect()
            } else {
                String::new()
            };
            step_page(
                b.snap,
                "kc-otp-login-form",
                &action,
                code,
                &[Field {
                    name: "otp",
                    label: "One-time code",
                    kind: "text",
                    autocomplete: "one-time-code",
                    value: "",
                }],
                &choose,
                *error,
            )
        }
    }
}

/// Shows a step's page: stores the pending login (a new flow bound to this browser at the
/// start, the same code on a post) and renders the page for its code.
async fn show(
    b: &Browser<'_>,
    code: Option<&str>,
    pending: &PendingLogin,
    page: &Page,
) -> Response {
    if pending.request.prompts("none") {
        return b.reply.error("login_required", "Login required");
    }
    let store = b.state.store.as_ref();
    let lifespan = b.snap.settings.access_code_lifespan_login;
    match code {
        None => {
            flow::start_flow(store, b.snap, pending, lifespan, b.reply.secure(), |c| {
                render(b, c, page)
            })
            .await
        }
        Some(code) => {
            if let Err(r) = flow::replace_flow(store, &b.snap.id, code, pending, lifespan).await {
                return r;
            }
            html(StatusCode::OK, render(b, code, page))
        }
    }
}

/// The flow succeeded: the user's required actions run first (after a login the SSO cookie
/// answered too), then the SSO session found by the cookie answers, or a new login starts
/// its session.
async fn finish(b: &Browser<'_>, code: Option<&str>, mut pending: PendingLogin) -> Response {
    let actions = required_action::Actions {
        state: b.state,
        snap: b.snap,
        protocol: b.protocol,
        reply: b.reply,
        base: b.base,
    };
    // The SSO session of this browser, which a login that ran the credential steps
    // re-authenticates (see `respond::complete_login`).
    if pending.flow.browser_session.is_none() {
        pending.flow.browser_session = crate::authn::cookies::sso_sid(b.snap, b.headers);
    }
    if pending.flow.sso.is_some() {
        // Keycloak's `AuthenticationManager.nextActionAfterAuthentication`: the user's
        // required actions run after a login the SSO cookie answered as after any other.
        let user_id = pending.flow.user.clone().unwrap_or_default();
        return required_action::proceed(&actions, code, pending, &user_id).await;
    }
    let Some((row, user)) = load_user(b, pending.flow.user.as_deref()).await else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let user_actions = user.required_actions.clone().unwrap_or_default();
    if let Due::Unsupported(_) =
        required_action::due(b.snap, &user_actions, &pending.session_actions)
    {
        // Start over: the user cannot get further.
        pending.flow = engine::FlowState::default();
        let page = Page::Login {
            username: user.username.clone(),
            error: Some(password::UNSUPPORTED_ACTION.into()),
        };
        return show(b, code, &pending, &page).await;
    }
    required_action::proceed(&actions, code, pending, &row.id).await
}

/// An identity provider authenticated the user of the pending login (`pending.flow.user`):
/// the login ends as after the flow's steps ([`finish`]: required actions, consent, the
/// answer to the client).
pub async fn authenticated(b: &Browser<'_>, code: &str, pending: PendingLogin) -> Response {
    finish(b, Some(code), pending).await
}

/// The login form again with `error`, the flow started over (Keycloak's
/// `browserAuthentication` with an error, after an identity provider refused or failed).
pub async fn login_again(
    b: &Browser<'_>,
    code: &str,
    mut pending: PendingLogin,
    error: String,
) -> Response {
    pending.flow = engine::FlowState::default();
    let page = Page::Login {
        username: pending.request.login_hint.clone(),
        error: Some(error.into()),
    };
    show(b, Some(code), &pending, &page).await
}
