//! POST /realms/{realm}/login-actions/required-action
//! The login's required actions (Keycloak's `AuthenticationManager.actionRequired` and
//! `RequiredActionContext`): once the flow has authenticated the user, the user's required
//! actions (and those the flow's authenticators set for this login, as the OTP form's
//! `CONFIGURE_TOTP`) run one by one in the realm's priority order, each only when the realm has
//! it enabled (`requiredActions`). Each shows its page; its post comes back here, to the action
//! whose page was shown and to no other. When none is left the login completes.
//!
//! Built in: `UPDATE_PASSWORD` (here), `CONFIGURE_TOTP` ([`super::configure_totp`]),
//! `UPDATE_PROFILE`, `VERIFY_EMAIL` and `TERMS_AND_CONDITIONS` ([`super::profile_actions`]),
//! `CONFIGURE_RECOVERY_AUTHN_CODES` ([`super::recovery_codes`]), `update_user_locale` and
//! `delete_credential` ([`super::small_actions`]), `VERIFY_PROFILE` ([`super::verify_profile`],
//! whose trigger runs here), `UPDATE_EMAIL` ([`super::update_email`], only with the
//! `update-email` feature, as Keycloak registers its provider only then).

use axum::http::StatusCode;
use axum::response::Response;

use crate::authn::pages::{error_page, html, internal_error, update_password_page};
use crate::authn::reply::Reply;
use crate::authn::{flow, PendingLogin, Protocol};
use crate::clock::now;
use crate::http::paths;
use crate::policy::password::Refused;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::authentication::{
    required_actions, RequiredActionProviderRepresentation,
};
use crate::representation::UserRepresentation;
use crate::store::UserRow;
use crate::users::parse_user;
use crate::AppState;

use super::respond::complete_login;
use super::{
    configure_totp, delete_account, profile_actions, recovery_codes, small_actions, update_email,
    verify_profile, webauthn,
};

/// The actions this server runs at login.
pub const SUPPORTED: &[&str] = &[
    "CONFIGURE_RECOVERY_AUTHN_CODES",
    "CONFIGURE_TOTP",
    "TERMS_AND_CONDITIONS",
    "UPDATE_EMAIL",
    "UPDATE_PASSWORD",
    "UPDATE_PROFILE",
    "VERIFY_EMAIL",
    "VERIFY_PROFILE",
    "delete_account",
    "delete_credential",
    "update_user_locale",
    "webauthn-register",
    "webauthn-register-passwordless",
];

/// Keycloak's `KcActionStatus`, sent to the client as `kc_action_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KcActionStatus {
    /// The action was done.
    Success,
    /// The user cancelled it (`cancel-aia`).
    Cancelled,
    /// It cannot run (unknown, disabled, or not application-initiated).
    Error,
}

impl KcActionStatus {
    /// The parameter value (the enum's name lower-cased, as `OIDCLoginProtocol` sends it).
    pub fn as_str(self) -> &'static str {
        match self {
            KcActionStatus::Success => "success",
            KcActionStatus::Cancelled => "cancelled",
            KcActionStatus::Error => "error",
        }
    }
}

/// What is due at the end of a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Nothing: the login completes.
    Nothing,
    /// This action's page.
    Next(String),
    /// An action this server cannot run.
    Unsupported(String),
}

/// The realm's required action `alias`, when enabled: its place in the priority order.
fn enabled(realm: &[RequiredActionProviderRepresentation], alias: &str) -> Option<usize> {
    realm
        .iter()
        .position(|a| a.alias.as_deref() == Some(alias) && a.enabled != Some(false))
}

/// The realm's required actions in priority order, read once per realm snapshot (a login
/// asks at several steps).
fn realm_actions(
    snap: &RealmSnapshot,
) -> std::sync::Arc<Vec<RequiredActionProviderRepresentation>> {
    snap.derived(|rep| required_actions(rep).unwrap_or_default())
}

/// Whether the realm has `alias` registered and enabled.
pub fn is_enabled(snap: &RealmSnapshot, alias: &str) -> bool {
    enabled(&realm_actions(snap), alias).is_some()
}

/// The next action due: of the user's and the login's actions, those the realm has enabled,
/// in the realm's priority order (`AuthenticationManager.sortRequiredActionsByPriority`; an
/// unknown or disabled one is skipped, as Keycloak skips it, and stays on the user).
pub fn due(snap: &RealmSnapshot, user: &[String], login: &[String]) -> Due {
    due_in(&realm_actions(snap), user, login)
}

fn due_in(
    realm: &[RequiredActionProviderRepresentation],
    user: &[String],
    login: &[String],
) -> Due {
    let mut found: Vec<(usize, &String)> = user
        .iter()
        .chain(login)
        .filter_map(|a| enabled(realm, a).map(|p| (p, a)))
        .collect();
    found.sort();
    match found.first() {
        None => Due::Nothing,
        Some((_, a)) if SUPPORTED.contains(&a.as_str()) => Due::Next((*a).clone()),
        Some((_, a)) => Due::Unsupported((*a).clone()),
    }
}

/// What a required action's login needs.
pub struct Actions<'a> {
    /// The server.
    pub state: &'a AppState,
    /// The realm.
    pub snap: &'a RealmSnapshot,
    /// The protocol that answers the client.
    pub protocol: &'a dyn Protocol,
    /// Where and how to answer.
    pub reply: &'a Reply,
    /// The server's base URL (links in mails).
    pub base: &'a str,
}

/// The outcome of a posted action.
pub enum Posted {
    /// Done: the action is dropped and the next one runs.
    Done,
    /// The page again, with its error.
    Again(String),
    /// The page again, as it was.
    Stay,
    /// This page (rendered by the action: the posted values and their errors).
    Page(String),
    /// The login ends with this answer.
    End(Response),
}

/// The page of an action: the pending login it may change (a secret kept between requests).
pub(crate) async fn page(
    a: &Actions<'_>,
    alias: &str,
    pending: &mut PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    code: &str,
    error: Option<&str>,
) -> Result<String, Response> {
    let action = paths::url("", paths::REQUIRED_ACTION, &a.snap.name);
    Ok(match alias {
        "UPDATE_PASSWORD" => update_password_page(a.snap, &action, code, error),
        "CONFIGURE_TOTP" => configure_totp::page(a.snap, &action, code, pending, user, error),
        "CONFIGURE_RECOVERY_AUTHN_CODES" => {
            recovery_codes::config_page(a.snap, &action, code, pending, user, error)
        }
        "TERMS_AND_CONDITIONS" => profile_actions::terms_page(a.snap, &action, code),
        update_email::ALIAS => {
            update_email::page(a.snap, &action, code, pending, user, None, error)
        }
        "delete_account" => delete_account::page(a.snap, &action, code, pending, user, error),
        "delete_credential" => {
            small_actions::delete_credential_page(a, &action, code, pending, user)
                .ok_or_else(internal_error)?
        }
        "UPDATE_PROFILE" => {
            let scopes = pending.request.scope_names(a.snap);
            let email_locked = update_email::enabled(a.state, a.snap);
            profile_actions::profile_page(a.snap, &action, code, user, &scopes, email_locked)
        }
        verify_profile::ALIAS => verify_profile::page(a, &action, code, pending, &row.id, user),
        "VERIFY_EMAIL" => {
            profile_actions::verify_email_page(a, &action, code, pending, row, user, error).await?
        }
        "webauthn-register" | "webauthn-register-passwordless" => {
            let passwordless = alias.ends_with("passwordless");
            webauthn::register_page(a, code, pending, row, user, passwordless, error)
                .ok_or_else(internal_error)?
        }
        _ => return Err(internal_error()),
    })
}

/// The flow authenticated `user_id`: runs the next action due, or completes the login. `code`
/// is the pending login's, `None` when no page was shown yet.
pub async fn proceed(
    a: &Actions<'_>,
    code: Option<&str>,
    mut pending: PendingLogin,
    user_id: &str,
) -> Response {
    // Actions that asked for nothing this login (Keycloak's `ignoredActions`). Without the
    // `update-email` feature Keycloak has no `UPDATE_EMAIL` provider (nor, in a new realm, its
    // registration): a user's `UPDATE_EMAIL` waits, untouched.
    let mut ignored: Vec<String> = Vec::new();
    let update_email_on = a.state.config.features.update_email;
    if !update_email_on {
        ignored.push(update_email::ALIAS.to_string());
    }
    let mut triggers_evaluated = false;
    let scopes = pending.request.scope_names(a.snap);
    loop {
        let Ok(Some(row)) = a.state.store.user_by_id(&a.snap.id, user_id).await else {
            return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
        };
        let Ok(user) = parse_user(&row) else {
            return internal_error();
        };
        // `evaluateTriggers` of the enabled actions, once per login's end (and again after
        // each action done, as `AuthenticationManager.nextRequiredAction` runs them).
        if !triggers_evaluated {
            triggers_evaluated = true;
            // Whether a trigger changed the user (read again then).
            let mut changed = false;
            // `VerifyUserProfile.evaluateTriggers`: due for this login while the profile does
            // not validate; once it does, off the user too.
            if is_enabled(a.snap, verify_profile::ALIAS) {
                let alias = verify_profile::ALIAS;
                if verify_profile::profile_errors(a.snap, &user, &scopes).is_empty() {
                    pending.session_actions.retain(|x| x != alias);
                    let stored = user.required_actions.iter().flatten().any(|x| x == alias);
                    if stored {
                        if let Err(r) = drop_action(a, user_id, alias).await {
                            return r;
                        }
                        changed = true;
                    }
                } else if !pending.session_actions.iter().any(|x| x == alias) {
                    pending.session_actions.push(alias.to_string());
                }
            }
            // `UpdateEmail.evaluateTriggers`.
            if update_email::enabled(a.state, a.snap) {
                let mut next = user.clone();
                if update_email::trigger(&mut next) {
                    if let Err(r) = save(a, &row, &next).await {
                        return r;
                    }
                    changed = true;
                }
            }
            if is_enabled(a.snap, "update_user_locale") {
                match small_actions::update_user_locale(a, &pending, &row).await {
                    Ok(c) => changed |= c,
                    Err(r) => return r,
                }
            }
            if changed {
                continue;
            }
        }
        let mut login = pending.session_actions.clone();
        // An application-initiated action runs after the login's own; one this server cannot
        // run (unknown, disabled, not application-initiated) answers `kc_action_status=error`.
        if let Some(kc) = pending.request.kc_action.clone() {
            if pending.kc_action_status.is_none() {
                let unavailable = kc == update_email::ALIAS && !update_email_on;
                if !AIA.contains(&kc.as_str()) || !is_enabled(a.snap, &kc) || unavailable {
                    // Also when the login has the action due anyway (`VERIFY_PROFILE`).
                    pending.kc_action_status = Some(KcActionStatus::Error.as_str().into());
                } else if !login.contains(&kc) {
                    login.push(kc);
                }
            }
        }
        let mut user_actions = user.required_actions.clone().unwrap_or_default();
        user_actions.retain(|x| !ignored.contains(x));
        login.retain(|x| !ignored.contains(x));
        let alias = match due(a.snap, &user_actions, &login) {
            Due::Nothing => return done(a, code, &pending, user_id).await,
            Due::Unsupported(_) => {
                return error_page(StatusCode::BAD_REQUEST, super::password::UNSUPPORTED_ACTION)
            }
            Due::Next(alias) => alias,
        };
        // `VerifyEmail.requiredActionChallenge`: nothing to do for a verified (or absent)
        // address; `VerifyUserProfile.requiredActionChallenge`: nothing for a profile that
        // validates.
        let verified =
            user.email_verified == Some(true) || user.email.as_deref().is_none_or(str::is_empty);
        // `UpdateEmail.requiredActionChallenge`: skipped and cleared when the user may not
        // edit `email` (read-only in the user profile).
        let email_read_only = alias == update_email::ALIAS
            && !crate::users::profile::config_for(a.snap)
                .attribute("email")
                .is_some_and(|e| {
                    e.permissions
                        .as_ref()
                        .is_some_and(|p| p.edit.iter().any(|r| r == "user"))
                });
        let already_done = email_read_only
            || (alias == "VERIFY_EMAIL" && verified)
            || (alias == verify_profile::ALIAS
                && verify_profile::profile_errors(a.snap, &user, &scopes).is_empty());
        if already_done {
            if let Err(r) = drop_action(a, user_id, &alias).await {
                return r;
            }
            pending.session_actions.retain(|x| *x != alias);
            if is_kc_action(&pending, &alias) {
                pending.kc_action_status = Some(KcActionStatus::Success.as_str().into());
            }
            continue;
        }
        // `update_user_locale` has no page (its trigger did the work); `delete_credential`
        // without a credential of the user to delete is ignored (`context.ignore()`:
        // `kc_action_status=error`).
        let nothing_to_ask = alias == "update_user_locale"
            || (alias == "delete_credential"
                && small_actions::credential_to_delete(&pending, &user).is_none());
        if nothing_to_ask {
            if alias == "delete_credential" {
                let mut e = crate::authn::login_event(a.snap, &pending.request)
                    .user(user_id.to_string())
                    .detail("custom_required_action", "delete_credential");
                let error = match &pending.request.kc_action_parameter {
                    Some(id) => {
                        e.set_detail("credential_id", id.clone());
                        "credential_not_found"
                    }
                    None => "missing_credential_id",
                };
                e.error(a.state, error);
            }
            if pending.request.kc_action.as_deref() == Some(alias.as_str()) {
                pending.kc_action_status = Some(KcActionStatus::Error.as_str().into());
            }
            ignored.push(alias);
            continue;
        }
        pending.pending_user = Some(user_id.to_string());
        pending.required_action = Some(alias.clone());
        return show(a, code, pending, &row, &user, &alias, None).await;
    }
}

/// Whether `alias` is the login's application-initiated action (one that may be).
fn is_kc_action(pending: &PendingLogin, alias: &str) -> bool {
    pending.request.kc_action.as_deref() == Some(alias) && AIA.contains(&alias)
}

/// The actions that may be application-initiated (`initiatedActionSupport`).
pub const AIA: &[&str] = &[
    "CONFIGURE_RECOVERY_AUTHN_CODES",
    "CONFIGURE_TOTP",
    "UPDATE_EMAIL",
    "UPDATE_PASSWORD",
    "UPDATE_PROFILE",
    "VERIFY_EMAIL",
    "delete_account",
    "delete_credential",
    "webauthn-register",
    "webauthn-register-passwordless",
];

/// Keycloak's `Constants.KC_ACTION_MAX_AGE`: how old (seconds) an authentication may be for
/// an application-initiated action, unless the action's config says otherwise.
pub const KC_ACTION_MAX_AGE: i64 = 300;

/// `RequiredActionProvider.getMaxAuthAge`: the realm's config of the action (`max_auth_age`),
/// else for `UPDATE_PASSWORD` the password policy's `maxAuthAge`, else
/// [`KC_ACTION_MAX_AGE`].
pub fn max_auth_age(snap: &RealmSnapshot, alias: &str) -> i64 {
    // `DeleteAccount.getMaxAuthAge`: always 0, whatever the config says.
    if alias == "delete_account" {
        return 0;
    }
    let configured = realm_actions(snap)
        .iter()
        .find(|a| a.alias.as_deref() == Some(alias))
        .and_then(|a| a.config.as_ref())
        .and_then(|c| {
            let v = c.get("max_auth_age")?;
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        });
    if let Some(age) = configured {
        return age;
    }
    if alias == "UPDATE_PASSWORD" {
        if let Some(age) = password_policy_max_auth_age(snap.rep.password_policy.as_deref()) {
            return age;
        }
    }
    KC_ACTION_MAX_AGE
}

/// The `maxAuthAge(n)` of a password policy string.
fn password_policy_max_auth_age(policy: Option<&str>) -> Option<i64> {
    policy?.split(" and ").find_map(|rule| {
        let rule = rule.trim();
        let arg = rule.strip_prefix("maxAuthAge")?.trim();
        let arg = arg.strip_prefix('(')?.strip_suffix(')')?;
        arg.trim().parse().ok()
    })
}

/// `OIDCLoginProtocol.isReAuthRequiredForKcAction`: the request's application-initiated
/// action (one this server runs and the realm has enabled) needs the user to log in again,
/// as the session authenticated more than its [`max_auth_age`] ago.
pub fn kc_action_reauth(
    snap: &RealmSnapshot,
    request: &crate::authn::AuthRequest,
    auth_time: i64,
    now: i64,
) -> bool {
    let Some(kc) = request.kc_action.as_deref() else {
        return false;
    };
    AIA.contains(&kc) && is_enabled(snap, kc) && auth_time + max_auth_age(snap, kc) < now
}

/// No action left: the login completes (a new SSO session), or for an application-initiated
/// action in an existing session, that session answers; `kc_action_status` and `kc_action`
/// go along (`OIDCLoginProtocol.authenticated`).
async fn done(
    a: &Actions<'_>,
    code: Option<&str>,
    pending: &PendingLogin,
    user_id: &str,
) -> Response {
    let mut reply = a.reply.clone();
    if let Some(kc) = &pending.request.kc_action {
        let status = pending
            .kc_action_status
            .clone()
            .unwrap_or_else(|| KcActionStatus::Error.as_str().into());
        reply.after = vec![
            ("kc_action_status".into(), status),
            ("kc_action".into(), kc.clone()),
        ];
    }
    if let Some((sid, auth_time)) = pending.flow.sso.clone() {
        // The pending login goes with the code (one transaction).
        let end = crate::authn::LoginEnd {
            auth_session: code.map(str::to_string),
            ..Default::default()
        };
        let who = crate::authn::Authenticated {
            sid,
            user_id: user_id.to_string(),
            auth_time,
            sso: true,
            loa: pending.flow.loa,
            organization: pending.selected_organization.clone(),
        };
        return super::consent::code_or_consent(
            a.state, a.snap, a.protocol, pending, &reply, &who, end,
        )
        .await;
    }
    complete_login(
        a.state,
        a.snap,
        a.protocol,
        &reply,
        code.unwrap_or_default(),
        pending,
        user_id,
    )
    .await
}

/// Renders an action's page and stores the pending login under its code (a new one bound to
/// this browser when there is none yet).
async fn show(
    a: &Actions<'_>,
    code: Option<&str>,
    mut pending: PendingLogin,
    row: &UserRow,
    user: &UserRepresentation,
    alias: &str,
    error: Option<&str>,
) -> Response {
    let store = a.state.store.as_ref();
    let lifespan = a.snap.settings.access_code_lifespan_login.max(600);
    let code = match code {
        Some(c) => c.to_string(),
        None => crate::crypto::random_alphanumeric(40),
    };
    let body = match page(a, alias, &mut pending, row, user, &code, error).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(r) = flow::replace_flow(store, &a.snap.id, &code, &pending, lifespan).await {
        return r;
    }
    let page = html(StatusCode::OK, body);
    crate::authn::cookies::with_flow_cookie(
        page,
        &paths::url("", paths::REALM, &a.snap.name),
        &code,
        a.reply.secure(),
    )
}

/// A posted form's fields.
pub type Fields<'a> = &'a (dyn Fn(&str) -> Option<&'a str> + Sync);

/// POST of a required action's page: the action whose page was shown handles it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn post(
    a: &Actions<'_>,
    code: &str,
    mut pending: PendingLogin,
    f: Fields<'_>,
) -> Response {
    let Some(user_id) = pending.pending_user.clone() else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let Ok(Some(row)) = a.state.store.user_by_id(&a.snap.id, &user_id).await else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let Ok(user) = parse_user(&row) else {
        return internal_error();
    };
    // Rows from before the other actions existed were all UPDATE_PASSWORD.
    let alias = pending
        .required_action
        .clone()
        .unwrap_or_else(|| "UPDATE_PASSWORD".into());
    let is_kc_action = is_kc_action(&pending, &alias);
    let enforced = user.required_actions.iter().flatten().any(|x| *x == alias)
        || pending.session_actions.contains(&alias);
    if is_kc_action && !enforced && f("cancel-aia").is_some() {
        // `RequiredActionContextResult`: cancelling an application-initiated action that the
        // user does not also have to do ends the login with `kc_action_status=cancelled`.
        pending.kc_action_status = Some(KcActionStatus::Cancelled.as_str().into());
        return proceed(a, Some(code), pending, &user_id).await;
    }
    let outcome = match alias.as_str() {
        "UPDATE_PASSWORD" => update_password(a, &pending, &row, &user, f).await,
        "CONFIGURE_TOTP" => configure_totp::post(a, &mut pending, &row, &user, f).await,
        "CONFIGURE_RECOVERY_AUTHN_CODES" => {
            recovery_codes::config_post(a, &mut pending, &row, &user, f).await
        }
        "TERMS_AND_CONDITIONS" => profile_actions::terms_post(a, &pending, &row, f).await,
        update_email::ALIAS => update_email::post(a, &pending, &row, &user, f, code).await,
        "delete_credential" => small_actions::delete_credential_post(a, &pending, &row).await,
        "delete_account" => {
            let action = paths::url("", paths::REQUIRED_ACTION, &a.snap.name);
            delete_account::post(a, &pending, &row, &user, &action, code).await
        }
        "UPDATE_PROFILE" | verify_profile::ALIAS => {
            profile_actions::profile_post(a, &pending, &row, &user, f, code).await
        }
        "VERIFY_EMAIL" => profile_actions::verify_email_post(a, &mut pending, &row, &user).await,
        "webauthn-register" | "webauthn-register-passwordless" => {
            let passwordless = alias.ends_with("passwordless");
            webauthn::register_post(a, &mut pending, &row, &user, f, passwordless).await
        }
        _ => Posted::End(error_page(StatusCode::BAD_REQUEST, "Invalid Request.")),
    };
    match outcome {
        Posted::Done => {
            if let Err(r) = drop_action(a, &user_id, &alias).await {
                return r;
            }
            pending.session_actions.retain(|x| *x != alias);
            pending.required_action = None;
            if is_kc_action {
                pending.kc_action_status = Some(KcActionStatus::Success.as_str().into());
            }
            proceed(a, Some(code), pending, &user_id).await
        }
        Posted::Again(msg) => show(a, Some(code), pending, &row, &user, &alias, Some(&msg)).await,
        Posted::Stay => show(a, Some(code), pending, &row, &user, &alias, None).await,
        Posted::Page(body) => {
            let lifespan = a.snap.settings.access_code_lifespan_login.max(600);
            let store = a.state.store.as_ref();
            if let Err(r) = flow::replace_flow(store, &a.snap.id, code, &pending, lifespan).await {
                return r;
            }
            html(StatusCode::OK, body)
        }
        Posted::End(r) => {
            let _ = a.state.store.delete_auth_session(code).await;
            r
        }
    }
}

/// Removes `alias` from the user's required actions (read again: the action may have changed
/// the user).
async fn drop_action(a: &Actions<'_>, user_id: &str, alias: &str) -> Result<(), Response> {
    let Ok(Some(mut row)) = a.state.store.user_by_id(&a.snap.id, user_id).await else {
        return Err(internal_error());
    };
    let mut user = parse_user(&row).map_err(|_| internal_error())?;
    let Some(list) = user.required_actions.as_mut() else {
        return Ok(());
    };
    if !list.iter().any(|x| x == alias) {
        return Ok(());
    }
    list.retain(|x| x != alias);
    row.representation = serde_json::to_string(&user).map_err(|_| internal_error())?;
    a.state
        .store
        .update_user(&a.snap.id, &row)
        .await
        .map_err(|_| internal_error())
}

/// Stores a changed user.
pub(crate) async fn save(
    a: &Actions<'_>,
    row: &UserRow,
    user: &UserRepresentation,
) -> Result<(), Response> {
    let mut updated = row.clone();
    updated.representation = serde_json::to_string(user).map_err(|_| internal_error())?;
    a.state
        .store
        .update_user(&a.snap.id, &updated)
        .await
        .map_err(|_| internal_error())
}

/// `UPDATE_PASSWORD`: `password-new` and `password-confirm`, checked against the realm's
/// password policy; the new Argon2id hash replaces the old credential.
///
/// Events as Keycloak 26's `UpdatePassword.processAction`: `UPDATE_CREDENTIAL` (detail
/// `credential_type` `password`) and the deprecated `UPDATE_PASSWORD`, or both `_ERROR` twins
/// with `password_missing`, `password_confirm_error` or `password_rejected` (and `reason`).
async fn update_password(
    a: &Actions<'_>,
    pending: &PendingLogin,
    row: &UserRow,
    current: &crate::representation::UserRepresentation,
    f: Fields<'_>,
) -> Posted {
    let event = |kind: &'static str| {
        let mut e = crate::events::UserEvent::new(a.snap, kind)
            .user(row.id.clone())
            .detail("credential_type", "password")
            .detail("username", current.username.clone().unwrap_or_default());
        if let Some(c) = &pending.request.client_id {
            e.set_client(c.clone());
        }
        e
    };
    let refused = |error: &str, reason: Option<&str>| {
        for kind in ["UPDATE_CREDENTIAL", "UPDATE_PASSWORD"] {
            let mut e = event(kind);
            if let Some(r) = reason {
                e.set_detail("reason", r);
            }
            e.error(a.state, error);
        }
    };
    let new = f("password-new").unwrap_or_default();
    if new.is_empty() {
        refused("password_missing", None);
        return Posted::Again("Please specify password.".into());
    }
    if f("password-confirm") != Some(new) {
        refused("password_confirm_error", None);
        return Posted::Again("Passwords don't match.".into());
    }
    let Ok(mut user) = parse_user(row) else {
        return Posted::End(internal_error());
    };
    let policy = a.snap.rep.password_policy.as_deref().unwrap_or_default();
    let rules = match crate::policy::password::parse_resolved(policy, &a.snap.blacklists).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(realm = %a.snap.name, error = %e, "invalid password policy");
            return Posted::End(internal_error());
        }
    };
    match crate::policy::password::replace_password(&mut user, new, &rules, now() * 1000).await {
        Ok(()) => {}
        Err(Refused::Policy(msg)) => {
            refused("password_rejected", Some(&msg));
            return Posted::Again(msg);
        }
        Err(Refused::Internal) => return Posted::End(internal_error()),
    }
    match save(a, row, &user).await {
        Ok(()) => {
            event("UPDATE_CREDENTIAL").success(a.state);
            event("UPDATE_PASSWORD").success(a.state);
            Posted::Done
        }
        Err(r) => Posted::End(r),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_snapshots_actions_are_read_once_in_priority_order() {
        let snap = RealmSnapshot::build(&crate::store::StoredRealm {
            id: "r-id".into(),
            name: "r".into(),
            version: 1,
            representation: json!({"realm": "r", "requiredActions": [
                {"alias": "B", "name": "B", "providerId": "B", "enabled": true, "priority": 20},
                {"alias": "A", "name": "A", "providerId": "A", "enabled": true, "priority": 10}]})
            .to_string(),
        })
        .unwrap();
        let first = realm_actions(&snap);
        let aliases: Vec<_> = first.iter().filter_map(|a| a.alias.as_deref()).collect();
        assert_eq!(aliases, ["A", "B"]);
        assert!(std::sync::Arc::ptr_eq(&first, &realm_actions(&snap)));
    }

    fn realm(actions: serde_json::Value) -> Vec<RequiredActionProviderRepresentation> {
        let rep =
            serde_json::from_value(json!({"realm": "r", "requiredActions": actions})).unwrap();
        required_actions(&rep).unwrap()
    }

    #[test]
    fn max_auth_age_of_the_password_policy() {
        assert_eq!(
            password_policy_max_auth_age(Some("length(8) and maxAuthAge(60)")),
            Some(60)
        );
        assert_eq!(password_policy_max_auth_age(Some("length(8)")), None);
        assert_eq!(password_policy_max_auth_age(None), None);
    }

    #[test]
    fn due_follows_the_realm_priority_and_skips_disabled_ones() {
        let s = realm(json!([
            {"alias": "VERIFY_EMAIL", "providerId": "VERIFY_EMAIL", "enabled": true, "priority": 50},
            {"alias": "CONFIGURE_TOTP", "providerId": "CONFIGURE_TOTP", "enabled": true, "priority": 10},
            {"alias": "TERMS_AND_CONDITIONS", "providerId": "TERMS_AND_CONDITIONS", "enabled": false, "priority": 20},
            {"alias": "my-action", "providerId": "my-action", "enabled": true, "priority": 5}
        ]));
        let user = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            due_in(&s, &user(&["VERIFY_EMAIL", "CONFIGURE_TOTP"]), &[]),
            Due::Next("CONFIGURE_TOTP".into())
        );
        assert_eq!(
            due_in(&s, &user(&["TERMS_AND_CONDITIONS", "VERIFY_EMAIL"]), &[]),
            Due::Next("VERIFY_EMAIL".into())
        );
        assert_eq!(
            due_in(&s, &user(&["TERMS_AND_CONDITIONS", "nope"]), &[]),
            Due::Nothing
        );
        assert_eq!(
            due_in(&s, &[], &user(&["my-action"])),
            Due::Unsupported("my-action".into())
        );
    }
}
