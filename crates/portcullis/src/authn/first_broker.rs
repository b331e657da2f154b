//! POST /realms/{realm}/login-actions/first-broker-login
//! The first broker login: an identity provider authenticated an identity no user is linked
//! to, and the flow named by the provider's `firstBrokerLoginFlowAlias` (else the realm's
//! `firstBrokerLoginFlow`, default `first broker login`) runs through the [`engine`] as
//! Keycloak's `LoginActionsService.firstBrokerLoginGet` runs it, with the authenticators of
//! `org.keycloak.authentication.authenticators.broker`:
//! - `idp-review-profile` (`IdpReviewProfileAuthenticator`): the update-profile page filled
//!   from the brokered identity, when its config's `update.profile.on.first.login` is `on`, or
//!   `missing` (the default) and the realm's user profile refuses the brokered profile, or the
//!   user asked to review it from the confirm-link page;
//! - `idp-create-user-if-unique`: without a user of the e-mail (unless the realm allows
//!   duplicate e-mails) or user name, creates the user (`require.password.update.after
//!   .registration` adds `UPDATE_PROFILE`'s sibling `UPDATE_PASSWORD`); with one, notes it as
//!   the existing user: `attempted` as an alternative, the 409 "already exists" page when
//!   required;
//! - `idp-detect-existing-broker-user`: the existing user, else the 401 page (flows that only
//!   link);
//! - `idp-confirm-link`: "Account already exists" with `submitAction=updateProfile` (the
//!   flow starts over at the review page) or `submitAction=linkAccount`;
//! - `idp-email-verification` (`IdpEmailVerificationAuthenticator`): `attempted` when the
//!   realm has no SMTP server, or the review changed the e-mail or user name; else the
//!   existing user gets Keycloak's "Link {alias}" mail with an `idp-verify-account-via-email`
//!   action token ([`crate::action_token`]) and the page "An email with instructions to link
//!   ..." (`login-idp-link-email.ftl`). Its links (`GET ...first-broker-login?session_code=..
//!   &execution=..`) send the mail again, or continue once the mail's link was opened in
//!   another browser. A reload of the page does not send it again. The token's `asid` names a
//!   pointer to this login (never the session code itself, which binds the browser): the link
//!   opened in this browser continues the flow with the user identified ([`link_verified`]),
//!   in another browser marks the flow verified ([`mark_verified`]) for this browser to go on;
//! - `idp-username-password-form`: the existing user's password (the user name is theirs, not
//!   the form's), then the flow's conditional OTP form (`auth-otp-form`);
//! - `idp-auto-link`: the existing user, without asking;
//! - `idp-add-organization-member`: nothing to do here (brokered organization members are
//!   not onboarded by this flow yet).
//!
//! The identity is linked only when the flow succeeds, to the user it identified: the one
//! created, the one who re-authenticated, or the one auto-linked (`IdentityBrokerService
//! .afterFirstBrokerLogin`: `REGISTER` for a created user, `FEDERATED_IDENTITY_LINK` for an
//! existing one). Events as Keycloak's: `IDENTITY_PROVIDER_FIRST_LOGIN` when the flow starts
//! (no user yet), its `_ERROR`s from the steps, `UPDATE_PROFILE` (context `IDP_REVIEW`) and
//! `UPDATE_EMAIL` from the review, `SEND_IDENTITY_PROVIDER_LINK` (or its `_ERROR` with
//! `email_send_failed`) from the e-mail verification, then the `LOGIN` of the login.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::authn::browser::{self, Browser, Fields, UserFacts};
use crate::authn::engine::{self, Next, Status};
use crate::authn::pages::{
    error_page, escape, html, internal_error, login_page, page, realm_title, with_info,
};
use crate::authn::register::{self, Created};
use crate::authn::steps::password::{self, Credentials, Refused};
use crate::authn::steps::profile_actions;
use crate::authn::{flow, Brokered, PendingLogin};
use crate::broker::{Identity, Provider as Idp};
use crate::events::errors;
use crate::http::paths;
use crate::model::flows::{Execution, Provider, Requirement, Step};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::UserRow;
use crate::users::{is_enabled, parse_user};

/// Keycloak's `identityProviderUnexpectedErrorMessage`.
const UNEXPECTED_ERROR: &str = "Unexpected error when authenticating with identity provider";
/// Keycloak's `accountDisabledMessage`.
const ACCOUNT_DISABLED: &str = "Account is disabled, contact your administrator.";

const REVIEW_PROFILE: &str = "idp-review-profile";
const CREATE_USER: &str = "idp-create-user-if-unique";
const DETECT_EXISTING: &str = "idp-detect-existing-broker-user";
const CONFIRM_LINK: &str = "idp-confirm-link";
const EMAIL_VERIFICATION: &str = "idp-email-verification";
const REAUTHENTICATE: &str = "idp-username-password-form";
const AUTO_LINK: &str = "idp-auto-link";
const ORGANIZATION_MEMBER: &str = "idp-add-organization-member";

/// The user an earlier step found with the brokered e-mail or user name (Keycloak's auth note
/// `EXISTING_USER_INFO`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Existing {
    /// The user's id.
    pub user_id: String,
    /// `email` or `username`.
    pub attribute: String,
    /// Its value.
    pub value: String,
}

/// The first broker login in progress (Keycloak's `BROKERED_CONTEXT_NOTE` and the flow's auth
/// notes); the flow's execution outcomes are the login's ([`PendingLogin::flow`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirstBroker {
    /// The identity provider's alias.
    pub alias: String,
    /// The user's id at the provider.
    pub provider_user_id: String,
    /// The user name the provider gave (the link's `userName`).
    pub provider_username: String,
    /// The profile of the user to create, as the provider gave it and the review changed it.
    pub profile: UserRepresentation,
    /// The existing user of the same e-mail or user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<Existing>,
    /// `idp-create-user-if-unique` created the flow's user (`BROKER_REGISTERED_NEW_USER`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub registered: bool,
    /// The review changed the e-mail: it is not trusted (`UPDATE_PROFILE_EMAIL_CHANGED`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub email_changed: bool,
    /// The review page shows whatever the profile (`ENFORCE_UPDATE_PROFILE`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enforce_update_profile: bool,
    /// The address the link mail went to (`IDP_LINK_CONFIRMATION_EMAIL_KEY`): a reload of the
    /// page does not send it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_mail_to: Option<String>,
    /// The mail's link was opened: the provider's user name it confirmed
    /// (`VERIFY_ACCOUNT_IDP_USERNAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_idp_username: Option<String>,
}

/// What an `idp-verify-account-via-email` token's `asid` names: the session code of the first
/// broker login that sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkPointer {
    idp_link_of: String,
}

/// Whether `pending` is the first broker login an `idp-verify-account-via-email` token of
/// `user_id`, provider `alias` and provider user name `idp_username` was sent for, and is
/// still waiting for it (Keycloak answers `sendEmailAlreadyVerified` otherwise).
pub fn awaits_link(pending: &PendingLogin, user_id: &str, alias: &str, idp_username: &str) -> bool {
    pending.first_broker.as_ref().is_some_and(|fb| {
        fb.alias == alias
            && fb.provider_username == idp_username
            && fb.existing.as_ref().is_some_and(|x| x.user_id == user_id)
            && fb.link_mail_to.is_some()
            && fb.verified_idp_username.is_none()
    })
}

/// The first broker login an `idp-verify-account-via-email` token's `asid` points to: its
/// session code and state, when it is still there (in this realm).
pub async fn linked_login(
    state: &crate::AppState,
    snap: &RealmSnapshot,
    asid: Option<&str>,
) -> Result<Option<(String, PendingLogin)>, Response> {
    let Some(asid) = asid else {
        return Ok(None);
    };
    let store = state.store.as_ref();
    let now = crate::clock::now();
    let pointer = match store.auth_session(asid, now).await {
        Ok(Some(row)) if row.realm_id == snap.id => {
            serde_json::from_str::<LinkPointer>(&row.data).ok()
        }
        Ok(_) => None,
        Err(_) => return Err(internal_error()),
    };
    let Some(p) = pointer.filter(|p| !p.idp_link_of.is_empty()) else {
        return Ok(None);
    };
    match store.auth_session(&p.idp_link_of, now).await {
        Ok(Some(row)) if row.realm_id == snap.id => {
            Ok(serde_json::from_str::<PendingLogin>(&row.data)
                .ok()
                .map(|l| (p.idp_link_of, l)))
        }
        Ok(_) => Ok(None),
        Err(_) => Err(internal_error()),
    }
}

/// The mail's link was opened in another browser (`IdpVerifyAccountLinkActionTokenHandler`
/// with an `oasid`): the login that sent it notes the confirmed provider user name, and goes
/// on when its browser follows the page's "Click here to continue".
pub async fn mark_verified(
    state: &crate::AppState,
    snap: &RealmSnapshot,
    code: &str,
    mut pending: PendingLogin,
    idp_username: &str,
) -> Result<(), Response> {
    let mut proof = None;
    if let Some(fb) = pending.first_broker.as_mut() {
        fb.verified_idp_username = Some(idp_username.to_string());
        proof = fb
            .existing
            .as_ref()
            .and_then(|x| proof_key(snap, &x.user_id, &fb.alias));
    }
    let lifespan = snap.settings.access_code_lifespan_login;
    flow::replace_flow(state.store.as_ref(), &snap.id, code, &pending, lifespan).await?;
    // `setUserVerifiedSingleObject`: a later first login of the identity links the user
    // without a mail (`idp-create-user-if-unique`), for the realm's user action token
    // lifespan (`getActionTokenGeneratedByUserLifespan()`, no type).
    if let Some(key) = proof {
        let until = crate::clock::now() + crate::action_token::token::user_lifespan(snap, "");
        if state
            .store
            .put_auth_session(&key, &snap.id, "{}", until)
            .await
            .is_err()
        {
            return Err(internal_error());
        }
    }
    Ok(())
}

/// The key of the proof that `user_id` confirmed linking an identity of provider `alias` by
/// e-mail from another browser (Keycloak's single-use object
/// `kc.brokering.user.verified.{user}.{alias}`): kept as an auth-session row under the realm's
/// HMAC of that name, so that it cannot be guessed and bound to a browser as a session code.
fn proof_key(snap: &RealmSnapshot, user_id: &str, alias: &str) -> Option<String> {
    use base64::Engine;
    let key = snap.hmac_keys.first()?;
    let name = format!("kc.brokering.user.verified.{user_id}.{alias}");
    let tag = aws_lc_rs::hmac::sign(key.key(), name.as_bytes());
    Some(format!(
        "idp-link-proof.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    ))
}

/// Takes the proof of [`proof_key`] (`IdpVerifyAccountLinkActionTokenHandler.runIfUserVerified`
/// removes it): whether it was there.
async fn take_proof(b: &Browser<'_>, user_id: &str, alias: &str) -> bool {
    let Some(key) = proof_key(b.snap, user_id, alias) else {
        return false;
    };
    let store = b.state.store.as_ref();
    let found = matches!(
        store.auth_session(&key, crate::clock::now()).await,
        Ok(Some(row)) if row.realm_id == b.snap.id
    );
    if found {
        let _ = store.delete_auth_session(&key).await;
    }
    found
}

/// The mail's link was opened in the browser of the login that sent it
/// (`tokenContext.brokerFlow`): the flow goes on, the e-mail step succeeds for the existing
/// user.
pub async fn link_verified(
    b: &Browser<'_>,
    code: &str,
    mut pending: PendingLogin,
    idp_username: &str,
) -> Response {
    if let Some(fb) = pending.first_broker.as_mut() {
        fb.verified_idp_username = Some(idp_username.to_string());
    }
    run(b, code, pending, None).await
}

/// The flow a provider's first logins run: its `firstBrokerLoginFlowAlias`, else the realm's
/// `firstBrokerLoginFlow`, else Keycloak's default alias.
fn flow_index(snap: &RealmSnapshot, provider: Option<&Idp>) -> Option<usize> {
    let alias = provider
        .and_then(|p| p.first_broker_login_flow.as_deref())
        .or_else(|| {
            snap.rep
                .extra
                .get("firstBrokerLoginFlow")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
        })
        .unwrap_or("first broker login");
    snap.flows.flows.iter().position(|f| f.alias == alias)
}

/// The form action of the flow's pages (Keycloak's `url.loginAction` of the first broker
/// login), with the session code in its query.
fn action_url(b: &Browser<'_>, code: &str) -> String {
    let mut url = paths::url(b.base, paths::FIRST_BROKER_LOGIN, &b.snap.name);
    url.push_str("?session_code=");
    url.push_str(&paths::encode_segment(code));
    url
}

/// The flow's event (`IDENTITY_PROVIDER_FIRST_LOGIN` unless `kind` says otherwise), with the
/// provider's details.
fn event(b: &Browser<'_>, pending: &PendingLogin, kind: &'static str) -> crate::events::UserEvent {
    let mut e = crate::authn::login_event(b.snap, &pending.request);
    e.set_kind(b.snap, kind);
    if let Some(brokered) = &pending.brokered {
        brokered.describe(&mut e);
    }
    e
}

/// A user name a created user may have: not empty, at most 255 characters, no control
/// characters.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 255 && !name.chars().any(char::is_control)
}

/// Starts the first broker login of `identity` (no user is linked to it) at `provider`.
pub async fn start(
    b: &Browser<'_>,
    code: &str,
    mut pending: PendingLogin,
    provider: &Idp,
    identity: &Identity,
    brokered: Brokered,
) -> Response {
    pending.brokered = Some(brokered);
    if !valid_username(&identity.username) {
        event(b, &pending, "IDENTITY_PROVIDER_FIRST_LOGIN").error(b.state, errors::INVALID_REQUEST);
        return error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR);
    }
    // `LoginActionsService.brokerLoginFlow`: the event of the flow, before any step (Keycloak's
    // `KcOidcBrokerEventTest`: a success without a user, then the review's UPDATE_PROFILE).
    event(b, &pending, "IDENTITY_PROVIDER_FIRST_LOGIN").success(b.state);
    pending.first_broker = Some(FirstBroker {
        alias: provider.alias.clone(),
        provider_user_id: identity.id.clone(),
        provider_username: identity.username.clone(),
        profile: UserRepresentation {
            username: Some(identity.username.clone()),
            email: identity.email.clone(),
            first_name: identity.first_name.clone(),
            last_name: identity.last_name.clone(),
            ..Default::default()
        },
        ..Default::default()
    });
    // The flow's steps start from nothing (`AuthenticationProcessor.resetFlow`).
    pending.flow.status.clear();
    pending.flow.challenged = None;
    pending.flow.user = None;
    run(b, code, pending, None).await
}

/// A post of one of the flow's pages; refused without a first broker login in progress.
pub async fn resume(
    b: &Browser<'_>,
    code: &str,
    pending: PendingLogin,
    fields: Fields<'_>,
) -> Response {
    if pending.first_broker.is_none() || pending.flow.challenged.is_none() {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    }
    run(b, code, pending, Some(fields)).await
}

/// A GET of the flow's action URL (the e-mail page's links): with the `execution` of the
/// page shown, that page's action (`action()` of the authenticator: the mail again, or on
/// once verified); else the flow's current page again.
pub async fn resume_get(
    b: &Browser<'_>,
    code: &str,
    pending: PendingLogin,
    execution: Option<&str>,
    fields: Fields<'_>,
) -> Response {
    if pending.first_broker.is_none() || pending.flow.challenged.is_none() {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    }
    let action = execution.is_some() && execution == pending.flow.challenged.as_deref();
    run(b, code, pending, action.then_some(fields)).await
}

/// What a step did.
enum Out {
    Status(Status),
    /// Start the flow over (`context.resetFlow`), the review page due.
    Reset,
    /// A page of the flow's own, rendered for the session code.
    Page(String),
    Answer(Response),
}

/// Whether an `idp-review-profile` execution succeeded in this login (the confirm-link page
/// hides its review button otherwise).
fn review_succeeded(pending: &PendingLogin, flows: &crate::model::flows::Flows) -> bool {
    flows
        .flows
        .iter()
        .flat_map(|f| f.executions.iter())
        .any(|e: &Execution| {
            matches!(&e.step, Step::Authenticator(a) if a.provider == Provider::NotRun(REVIEW_PROFILE))
                && pending.flow.status.get(&e.id) == Some(&Status::Success)
        })
}

async fn run(
    b: &Browser<'_>,
    code: &str,
    mut pending: PendingLogin,
    mut form: Option<Fields<'_>>,
) -> Response {
    let provider = pending
        .first_broker
        .as_ref()
        .and_then(|fb| crate::broker::provider(b.snap, &fb.alias).ok());
    let Some(provider) = provider else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Could not find an identity provider with the identifier.",
        );
    };
    let flows = b.snap.flows.clone();
    let Some(top) = flow_index(b.snap, Some(&provider)) else {
        tracing::error!(realm = %b.snap.name, idp = %provider.alias, "the first broker login flow does not exist");
        event(b, &pending, "IDENTITY_PROVIDER_FIRST_LOGIN").error(b.state, errors::INVALID_REQUEST);
        return error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR);
    };
    let mut facts = UserFacts {
        snap: b.snap,
        user: None,
    };
    let mut facts_of: Option<String> = None;
    let mut resets = 0;
    loop {
        if facts_of != pending.flow.user {
            facts.user = match pending.flow.user.as_deref() {
                Some(id) => match b.state.store.user_by_id(&b.snap.id, id).await {
                    Ok(Some(row)) => parse_user(&row).ok(),
                    _ => None,
                },
                None => None,
            };
            facts_of.clone_from(&pending.flow.user);
        }
        let planned = engine::plan_at(&flows, top, &pending.flow, &facts, crate::clock::now());
        let (exec, auth) = match planned.next {
            Next::Done => return finish(b, code, pending, &provider).await,
            Next::Failed(f) => {
                tracing::debug!(realm = %b.snap.name, failure = ?f, "first broker login flow failed");
                event(b, &pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
                    .error(b.state, errors::INVALID_REQUEST);
                return error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR);
            }
            Next::Run(e, a) => (e, a),
        };
        let mine = pending.flow.challenged.as_deref() == Some(exec.id.as_str());
        let posted = if mine { form.take() } else { None };
        if posted.is_none() && form.is_some() && pending.flow.challenged.is_some() && !mine {
            // A post for a page the flow is no longer at.
            return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
        }
        let out = match auth.provider {
            Provider::NotRun(REVIEW_PROFILE) => review_profile(b, code, &mut pending, auth, posted),
            Provider::NotRun(CREATE_USER) => {
                create_user(b, &mut pending, &provider, exec.requirement, auth).await
            }
            Provider::NotRun(DETECT_EXISTING) => detect_existing(b, &mut pending).await,
            Provider::NotRun(CONFIRM_LINK) => {
                let hide_review = !review_succeeded(&pending, &flows);
                confirm_link(b, code, &mut pending, &provider, posted, hide_review)
            }
            Provider::NotRun(EMAIL_VERIFICATION) => {
                email_verification(b, code, &mut pending, &provider, &exec.id, posted.is_some()).await
            }
            Provider::NotRun(REAUTHENTICATE) => reauthenticate(b, code, &mut pending, &provider, posted).await,
            Provider::NotRun(AUTO_LINK) => match pending.first_broker.as_ref().and_then(|f| f.existing.clone()) {
                Some(x) => {
                    pending.flow.user = Some(x.user_id);
                    Out::Status(Status::Success)
                }
                None => {
                    // `AbstractIdpAuthenticator.getExistingUser` without the note.
                    event(b, &pending, "IDENTITY_PROVIDER_FIRST_LOGIN").error(b.state, errors::USER_NOT_FOUND);
                    Out::Answer(error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR))
                }
            },
            Provider::NotRun(ORGANIZATION_MEMBER) | Provider::AllowAccess => {
                Out::Status(Status::Success)
            }
            Provider::OtpForm => match browser::otp_step(b, code, &mut pending, &exec.id, posted).await {
                Ok(s) => Out::Status(s),
                Err(r) => return r,
            },
            Provider::DenyAccess => Out::Answer(error_page(
                StatusCode::UNAUTHORIZED,
                auth.deny_message(),
            )),
            _ => Out::Answer(error_page(
                StatusCode::BAD_REQUEST,
                "An authenticator of the realm's first broker login flow cannot run on this server.",
            )),
        };
        match out {
            Out::Status(s) => {
                pending.flow.record(&exec.id, s);
                if s == Status::Success {
                    pending
                        .flow
                        .completed
                        .insert(exec.id.clone(), crate::clock::now());
                }
            }
            Out::Reset => {
                resets += 1;
                if resets > 2 {
                    return internal_error();
                }
                pending.flow.status.clear();
                pending.flow.completed.clear();
                pending.flow.credentials.clear();
                pending.flow.challenged = None;
                pending.flow.user = None;
                if let Some(fb) = pending.first_broker.as_mut() {
                    fb.existing = None;
                    fb.enforce_update_profile = true;
                }
            }
            Out::Page(body) => {
                pending.flow.challenged = Some(exec.id.clone());
                return show(b, code, &pending, body).await;
            }
            Out::Answer(r) => return r,
        }
    }
}

/// Stores the login (its code unchanged) and answers the page.
async fn show(b: &Browser<'_>, code: &str, pending: &PendingLogin, body: String) -> Response {
    let lifespan = b.snap.settings.access_code_lifespan_login;
    if let Err(r) =
        flow::replace_flow(b.state.store.as_ref(), &b.snap.id, code, pending, lifespan).await
    {
        return r;
    }
    html(StatusCode::OK, body)
}

/// `IdpReviewProfileAuthenticator`.
fn review_profile(
    b: &Browser<'_>,
    code: &str,
    pending: &mut PendingLogin,
    a: &crate::model::flows::Authenticator,
    posted: Option<Fields<'_>>,
) -> Out {
    let scopes = pending.request.scope_names(b.snap);
    let action = action_url(b, code);
    let Some(fb) = pending.first_broker.as_mut() else {
        return Out::Answer(internal_error());
    };
    let Some(f) = posted else {
        let mode = a
            .setting("update.profile.on.first.login")
            .unwrap_or("missing");
        let due = fb.enforce_update_profile
            || mode == "on"
            || (mode == "missing" && profile_actions::review_needed(b.snap, &fb.profile, &scopes));
        if !due {
            return Out::Status(Status::Success);
        }
        return Out::Page(profile_actions::review_page(
            b.snap,
            &action,
            code,
            &fb.profile,
            &scopes,
        ));
    };
    let next = match profile_actions::review_post(b.snap, &action, code, &fb.profile, f, &scopes) {
        Ok(next) => next,
        Err(page) => return Out::Page(page),
    };
    let old_email = fb.profile.email.clone();
    let new_email = next.email.clone();
    let email_changed = new_email != old_email;
    fb.profile = UserRepresentation {
        email_verified: None,
        ..next
    };
    fb.enforce_update_profile = true;
    if email_changed {
        fb.email_changed = true;
        let mut e = event(b, pending, "UPDATE_EMAIL");
        if let Some(old) = old_email {
            e.set_detail("previous_email", old);
        }
        if let Some(new) = &new_email {
            e.set_detail("updated_email", new.clone());
        }
        e.success(b.state);
    }
    let mut e = event(b, pending, "UPDATE_PROFILE").detail("context", "IDP_REVIEW");
    if let Some(new) = new_email {
        e.set_detail("updated_email", new);
    }
    e.success(b.state);
    Out::Status(Status::Success)
}

/// The user name the created user gets (`getUsername`: the e-mail where the realm uses
/// e-mails as user names).
fn model_username(snap: &RealmSnapshot, fb: &FirstBroker) -> Option<String> {
    if snap.settings.registration_email_as_username {
        fb.profile.email.clone()
    } else {
        fb.profile.username.clone()
    }
    .map(|u| u.to_lowercase())
    .filter(|u| valid_username(u))
}

/// `IdpCreateUserIfUniqueAuthenticator.checkExistingUser`: the user of the e-mail first
/// (unless the realm allows duplicate e-mails), then of the user name.
async fn existing_user(
    b: &Browser<'_>,
    fb: &FirstBroker,
    username: &str,
) -> Result<Option<Existing>, Response> {
    let store = b.state.store.as_ref();
    if let Some(email) = fb
        .profile
        .email
        .as_deref()
        .filter(|_| !b.snap.settings.duplicate_emails_allowed)
    {
        match store.users_by_email(&b.snap.id, email).await {
            Ok(found) => {
                if let Some(row) = found.into_iter().next() {
                    return Ok(Some(Existing {
                        user_id: row.id,
                        attribute: "email".into(),
                        value: email.to_string(),
                    }));
                }
            }
            Err(_) => return Err(internal_error()),
        }
    }
    match store.user_by_username(&b.snap.id, username).await {
        Ok(Some(row)) => Ok(Some(Existing {
            user_id: row.id,
            attribute: "username".into(),
            value: username.to_string(),
        })),
        Ok(None) => Ok(None),
        Err(_) => Err(internal_error()),
    }
}

/// Keycloak's `federatedIdentityExistsMessage`.
fn exists_message(x: &Existing) -> String {
    format!(
        "User with {} {} already exists. Please login to account management to link the account.",
        x.attribute, x.value
    )
}

/// `IdpCreateUserIfUniqueAuthenticator`.
async fn create_user(
    b: &Browser<'_>,
    pending: &mut PendingLogin,
    provider: &Idp,
    requirement: Requirement,
    a: &crate::model::flows::Authenticator,
) -> Out {
    let Some(fb) = pending.first_broker.clone() else {
        return Out::Answer(internal_error());
    };
    if fb.existing.is_some() {
        return Out::Status(Status::Attempted);
    }
    let Some(username) = model_username(b.snap, &fb) else {
        // `ServicesLogger.resetFlow`: the review page asks for it.
        return Out::Reset;
    };
    let found = match existing_user(b, &fb, &username).await {
        Ok(f) => f,
        Err(r) => return Out::Answer(r),
    };
    if let Some(x) = found {
        // `runIfUserVerified`: the user confirmed this provider's link by e-mail from another
        // browser; the flow goes on for them.
        if take_proof(b, &x.user_id, &provider.alias).await {
            if let Some(f) = pending.first_broker.as_mut() {
                f.existing = Some(x.clone());
            }
            pending.flow.user = Some(x.user_id);
            return Out::Status(Status::Success);
        }
        if let Some(f) = pending.first_broker.as_mut() {
            f.existing = Some(x.clone());
        }
        if requirement == Requirement::Required {
            event(b, pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
                .user(x.user_id.clone())
                .detail(&format!("existing_{}", x.attribute), x.value.clone())
                .error(b.state, errors::FEDERATED_IDENTITY_EXISTS);
            return Out::Answer(error_page(StatusCode::CONFLICT, &exists_message(&x)));
        }
        return Out::Status(Status::Attempted);
    }
    let mut user = UserRepresentation {
        username: Some(username.clone()),
        federated_identities: Some(vec![json!({
            "identityProvider": fb.alias,
            "userId": fb.provider_user_id,
            "userName": fb.provider_username,
        })]),
        ..fb.profile.clone()
    };
    user.email_verified = None;
    let verified = provider.trust_email && user.email.is_some() && !fb.email_changed;
    let mut row = match register::create(b.state, b.snap, user, None, verified).await {
        Ok(row) => row,
        Err(Created::Taken) => {
            let x = Existing {
                user_id: String::new(),
                attribute: "username".into(),
                value: username,
            };
            event(b, pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
                .error(b.state, errors::FEDERATED_IDENTITY_EXISTS);
            return Out::Answer(error_page(StatusCode::CONFLICT, &exists_message(&x)));
        }
        Err(Created::Failed) => return Out::Answer(internal_error()),
    };
    if a.setting("require.password.update.after.registration") == Some("true") {
        if let Ok(mut u) = parse_user(&row) {
            let actions = u.required_actions.get_or_insert_with(Vec::new);
            if !actions.iter().any(|x| x == "UPDATE_PASSWORD") {
                actions.push("UPDATE_PASSWORD".into());
            }
            match serde_json::to_string(&u) {
                Ok(json) => row.representation = json,
                Err(_) => return Out::Answer(internal_error()),
            }
            if b.state.store.update_user(&b.snap.id, &row).await.is_err() {
                return Out::Answer(internal_error());
            }
        }
    }
    // `IdentityBrokerService.afterFirstBrokerLogin` of a registered user.
    let mut e = event(b, pending, "REGISTER").user(row.id.clone());
    e.set_detail("register_method", "broker");
    e.set_detail("username", row.username.clone());
    if let Some(email) = &row.email {
        e.set_detail("email", email.clone());
    }
    e.success(b.state);
    if let Some(f) = pending.first_broker.as_mut() {
        f.registered = true;
    }
    pending.flow.user = Some(row.id);
    Out::Status(Status::Success)
}

/// `IdpDetectExistingBrokerUserAuthenticator`.
async fn detect_existing(b: &Browser<'_>, pending: &mut PendingLogin) -> Out {
    let Some(fb) = pending.first_broker.clone() else {
        return Out::Answer(internal_error());
    };
    if fb.existing.is_some() {
        return Out::Status(Status::Attempted);
    }
    let Some(username) = model_username(b.snap, &fb) else {
        return Out::Reset;
    };
    match existing_user(b, &fb, &username).await {
        Ok(Some(x)) => {
            if let Some(f) = pending.first_broker.as_mut() {
                f.existing = Some(x);
            }
            Out::Status(Status::Success)
        }
        Ok(None) => {
            event(b, pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
                .detail("authenticator", "DetectExistingBrokerUser")
                .error(b.state, errors::USER_NOT_FOUND);
            // Keycloak's `federatedIdentityUnavailableMessage`.
            Out::Answer(error_page(
                StatusCode::UNAUTHORIZED,
                &format!(
                    "User {username} authenticated with identity provider {} does not exist. Please contact your administrator.",
                    fb.alias
                ),
            ))
        }
        Err(r) => Out::Answer(r),
    }
}

/// `IdpConfirmLinkAuthenticator`: `login-idp-link-confirm.ftl`.
fn confirm_link(
    b: &Browser<'_>,
    code: &str,
    pending: &mut PendingLogin,
    provider: &Idp,
    posted: Option<Fields<'_>>,
    hide_review: bool,
) -> Out {
    let Some(x) = pending
        .first_broker
        .as_ref()
        .and_then(|f| f.existing.clone())
    else {
        return Out::Status(Status::Attempted);
    };
    let Some(f) = posted else {
        let review = if hide_review {
            String::new()
        } else {
            "<button type=\"submit\" name=\"submitAction\" id=\"updateProfile\" value=\"updateProfile\">Review profile</button> ".to_string()
        };
        // Keycloak's `federatedIdentityConfirmLinkMessage` (shown as the page's error).
        let body = format!(
            "<h1>Account already exists</h1><p class=\"error\" role=\"alert\" id=\"kc-error-message\">User with {attr} {value} already exists. How do you want to continue?</p>\
             <form id=\"kc-register-form\" action=\"{a}\" method=\"post\"><input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             {review}<button type=\"submit\" name=\"submitAction\" id=\"linkAccount\" value=\"linkAccount\">Add to existing account</button></form>\
             <p class=\"instruction\">{idp}</p>",
            attr = escape(&x.attribute),
            value = escape(&x.value),
            a = escape(&action_url(b, code)),
            s = escape(code),
            idp = escape(&provider.display_name),
        );
        return Out::Page(page(
            &format!("Account already exists - {}", realm_title(b.snap)),
            &body,
        ));
    };
    match f("submitAction") {
        Some("updateProfile") => Out::Reset,
        Some("linkAccount") => Out::Status(Status::Success),
        _ => {
            // `AuthenticationFlowException("Unknown action")`, `INTERNAL_ERROR`.
            event(b, pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
                .error(b.state, errors::INVALID_REQUEST);
            Out::Answer(error_page(StatusCode::BAD_REQUEST, "Invalid Request."))
        }
    }
}

/// Whether the realm has an SMTP server (`realm.getSmtpConfig().isEmpty()` is false).
fn smtp_configured(snap: &RealmSnapshot) -> bool {
    snap.rep.smtp_server.as_ref().is_some_and(|m| !m.is_empty())
}

/// The review changed the brokered user name (`UPDATE_PROFILE_USERNAME_CHANGED`).
fn username_changed(fb: &FirstBroker) -> bool {
    !fb.profile
        .username
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(&fb.provider_username))
}

/// `IdpEmailVerificationAuthenticator`: `action` is a GET of the page's own links
/// (`actionImpl`: the mail may go again).
async fn email_verification(
    b: &Browser<'_>,
    code: &str,
    pending: &mut PendingLogin,
    provider: &Idp,
    exec_id: &str,
    action: bool,
) -> Out {
    if !smtp_configured(b.snap) {
        tracing::warn!(realm = %b.snap.name, "idp-email-verification: the realm has no SMTP server");
        return Out::Status(Status::Attempted);
    }
    let Some(fb) = pending.first_broker.clone() else {
        return Out::Answer(internal_error());
    };
    if fb.email_changed || username_changed(&fb) {
        // "Email or username changed on review. Ignoring email verification authenticator."
        return Out::Status(Status::Attempted);
    }
    // `getExistingUser`: the user an earlier step found, else the flow fails.
    let Some(x) = fb.existing.clone() else {
        event(b, pending, "IDENTITY_PROVIDER_FIRST_LOGIN").error(b.state, errors::USER_NOT_FOUND);
        return Out::Answer(error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR));
    };
    let row = match b.state.store.user_by_id(&b.snap.id, &x.user_id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            event(b, pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
                .error(b.state, errors::USER_NOT_FOUND);
            return Out::Answer(error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR));
        }
        Err(_) => return Out::Answer(internal_error()),
    };
    let Ok(user) = parse_user(&row) else {
        return Out::Answer(internal_error());
    };
    if user.enabled != Some(true) {
        event(b, pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
            .user(row.id.clone())
            .error(b.state, errors::USER_DISABLED);
        return Out::Answer(error_page(StatusCode::BAD_REQUEST, ACCOUNT_DISABLED));
    }
    if action {
        // "This will allow user to re-send email again".
        if let Some(f) = pending.first_broker.as_mut() {
            f.link_mail_to = None;
        }
    }
    if fb.verified_idp_username.as_deref() == Some(fb.provider_username.as_str()) {
        // `clearUserVerified`: this login links the identity, the proof is not needed.
        take_proof(b, &row.id, &provider.alias).await;
        pending.flow.user = Some(row.id);
        return Out::Status(Status::Success);
    }
    let page = || {
        Out::Page(link_email_page(
            b,
            code,
            exec_id,
            provider,
            &fb.provider_username,
        ))
    };
    // "Do not allow resending e-mail by simple page refresh". As Keycloak, a user without an
    // e-mail compares equal to no mail sent yet: the page, and no mail.
    let sent_to = pending
        .first_broker
        .as_ref()
        .and_then(|f| f.link_mail_to.clone());
    if sent_to == user.email {
        return page();
    }
    let Some(email) = user.email.clone() else {
        return page();
    };
    match send_link_mail(b, code, pending, provider, &row.id, &email).await {
        Ok(()) => {
            if let Some(f) = pending.first_broker.as_mut() {
                f.link_mail_to = Some(email);
            }
            page()
        }
        Err(r) => Out::Answer(r),
    }
}

/// `sendVerifyEmail`: the `idp-verify-account-via-email` token (its `asid` a pointer to this
/// login, kept as long as the token lives) in Keycloak's "Link {alias}" mail;
/// `SEND_IDENTITY_PROVIDER_LINK`, or its error and Keycloak's 500 page when the mail cannot go.
async fn send_link_mail(
    b: &Browser<'_>,
    code: &str,
    pending: &PendingLogin,
    provider: &Idp,
    user_id: &str,
    email: &str,
) -> Result<(), Response> {
    use crate::action_token::token::{self as action_token, ActionToken, Kind, IDP_VERIFY_ACCOUNT};
    let Some(fb) = pending.first_broker.as_ref() else {
        return Err(internal_error());
    };
    let username = match b.state.store.user_by_id(&b.snap.id, user_id).await {
        Ok(Some(row)) => parse_user(&row)
            .ok()
            .and_then(|u| u.username)
            .unwrap_or(row.username),
        _ => String::new(),
    };
    let mut e = event(b, pending, "SEND_IDENTITY_PROVIDER_LINK")
        .user(user_id.to_string())
        .detail("username", username)
        .detail("email", email.to_string());
    e.remove_detail("auth_method");
    e.remove_detail("auth_type");
    let now = crate::clock::now();
    let lifespan = action_token::user_lifespan(b.snap, IDP_VERIFY_ACCOUNT);
    let asid = crate::crypto::random_alphanumeric(40);
    let pointer = LinkPointer {
        idp_link_of: code.to_string(),
    };
    let stored = match serde_json::to_string(&pointer) {
        Ok(data) => b
            .state
            .store
            .put_auth_session(&asid, &b.snap.id, &data, now + lifespan)
            .await
            .is_ok(),
        Err(_) => false,
    };
    if !stored {
        return Err(internal_error());
    }
    let client_id = pending.request.client_id.as_deref().unwrap_or("account");
    let mut token = ActionToken::new(
        Kind::IdpVerifyAccount {
            alias: fb.alias.clone(),
            idp_username: fb.provider_username.clone(),
            original_auth_session: None,
        },
        Some(user_id),
        client_id,
        now,
        now + lifespan,
    );
    token.email = Some(email.to_string());
    token.auth_session = Some(asid.clone());
    let sent = (|| {
        let key = b
            .snap
            .hmac_keys
            .first()
            .ok_or("the realm has no HMAC key")?;
        let issuer = paths::url(b.base, paths::REALM, &b.snap.name);
        let link = action_token::link(b.base, b.snap, &token.sign(key, &issuer));
        let mail = crate::email::templates::identity_provider_link(
            email,
            &realm_title(b.snap),
            (&provider.alias, &provider.display_name),
            &fb.provider_username,
            &link,
            lifespan,
        );
        let settings = crate::email::SmtpSettings::of(b.snap.rep.smtp_server.as_ref())
            .map_err(|e| e.to_string())?;
        b.state
            .email
            .enqueue(&b.snap.name, settings, mail)
            .map_err(|e| e.to_string())
    })();
    match sent {
        Ok(()) => {
            e.success(b.state);
            Ok(())
        }
        Err(reason) => {
            let _ = b.state.store.delete_auth_session(&asid).await;
            tracing::warn!(realm = %b.snap.name, %reason, "the identity provider link mail was not sent");
            e.error(b.state, "email_send_failed");
            // Keycloak's `emailSendErrorMessage`, status 500.
            Err(error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Failed to send email, please try again later.",
            ))
        }
    }
}

/// `login-idp-link-email.ftl`: both links are the flow's action URL with this execution.
fn link_email_page(
    b: &Browser<'_>,
    code: &str,
    exec_id: &str,
    provider: &Idp,
    idp_username: &str,
) -> String {
    let mut action = action_url(b, code);
    action.push_str("&execution=");
    action.push_str(&paths::encode_segment(exec_id));
    let a = escape(&action);
    let idp = escape(&provider.display_name);
    let body = format!(
        "<h1 id=\"kc-page-title\">Link {idp}</h1>\
         <p id=\"instruction1\" class=\"instruction\">An email with instructions to link {idp} account {u} with your {realm} account has been sent to you.</p>\
         <p id=\"instruction2\" class=\"instruction\">Haven't received a verification code in your email? <a id=\"kc-resend\" href=\"{a}\">Click here</a> to re-send the email.</p>\
         <p id=\"instruction3\" class=\"instruction\">If you already verified the email in different browser <a id=\"kc-continue\" href=\"{a}\">Click here</a> to continue.</p>",
        u = escape(idp_username),
        realm = escape(&realm_title(b.snap)),
    );
    page(
        &format!("Link {} - {}", provider.display_name, realm_title(b.snap)),
        &body,
    )
}

/// `IdpUsernamePasswordForm`: the existing user's password; the user name is theirs whatever
/// the form posts.
async fn reauthenticate(
    b: &Browser<'_>,
    code: &str,
    pending: &mut PendingLogin,
    provider: &Idp,
    posted: Option<Fields<'_>>,
) -> Out {
    let existing = pending
        .first_broker
        .as_ref()
        .and_then(|f| f.existing.clone());
    // Only the user an earlier step found may prove itself here (`getExistingUser` fails the
    // flow without one): the identity is never linked to whoever posts a password.
    let Some(x) = existing else {
        return Out::Answer(error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR));
    };
    let row = match b.state.store.user_by_id(&b.snap.id, &x.user_id).await {
        Ok(Some(row)) => Some(row),
        Ok(None) => return Out::Answer(error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR)),
        Err(_) => return Out::Answer(internal_error()),
    };
    let pinned: Option<String> = row.as_ref().map(|r| {
        parse_user(r)
            .ok()
            .and_then(|u| u.username)
            .unwrap_or_else(|| r.username.clone())
    });
    // Keycloak's `federatedIdentityConfirmReauthenticateMessage`.
    let info = format!(
        "Authenticate to link your account with {}",
        provider.display_name
    );
    let form = |username: Option<&str>, error: Option<&str>| {
        Out::Page(with_info(
            login_page(b.snap, &action_url(b, code), code, username, error),
            &info,
        ))
    };
    let Some(f) = posted else {
        return form(pinned.as_deref(), None);
    };
    let posted_name = f("username").unwrap_or_default().to_string();
    let username = pinned.clone().unwrap_or(posted_name);
    let c = Credentials {
        username: &username,
        password: f("password").unwrap_or_default(),
        remember_me: false,
        remote: b.remote,
    };
    match password::check_in(
        b.state,
        b.snap,
        &pending.request,
        &c,
        row,
        password::INVALID,
        "IDENTITY_PROVIDER_FIRST_LOGIN",
    )
    .await
    {
        Ok((row, _)) => {
            pending.flow.user = Some(row.id);
            pending.flow.used("password");
            Out::Status(Status::Success)
        }
        Err(Refused::Again(msg)) => form(Some(&username), Some(msg)),
        Err(Refused::Internal) => Out::Answer(internal_error()),
    }
}

/// The flow succeeded: the identity is linked to its user unless the flow created that user
/// with it (`afterFirstBrokerLogin`), then the login ends as any other.
async fn finish(
    b: &Browser<'_>,
    code: &str,
    mut pending: PendingLogin,
    provider: &Idp,
) -> Response {
    let Some(fb) = pending.first_broker.take() else {
        return internal_error();
    };
    let Some(user_id) = pending.flow.user.clone() else {
        // No step identified a user (Keycloak: "Couldn't found authenticated federatedUser").
        event(b, &pending, "IDENTITY_PROVIDER_FIRST_LOGIN").error(b.state, errors::USER_NOT_FOUND);
        return error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR);
    };
    let store = b.state.store.as_ref();
    let mut row: UserRow = match store.user_by_id(&b.snap.id, &user_id).await {
        Ok(Some(row)) => row,
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR),
        Err(_) => return internal_error(),
    };
    if !is_enabled(&row).unwrap_or(false) {
        event(b, &pending, "IDENTITY_PROVIDER_FIRST_LOGIN")
            .user(row.id.clone())
            .error(b.state, errors::USER_DISABLED);
        return error_page(StatusCode::BAD_REQUEST, ACCOUNT_DISABLED);
    }
    if !fb.registered {
        let Ok(mut user) = parse_user(&row) else {
            return internal_error();
        };
        let links = user.federated_identities.get_or_insert_with(Vec::new);
        // One link per provider and user (Keycloak's FEDERATED_IDENTITY key).
        if links
            .iter()
            .any(|l| l.get("identityProvider").and_then(Value::as_str) == Some(fb.alias.as_str()))
        {
            event(b, &pending, "FEDERATED_IDENTITY_LINK")
                .user(row.id.clone())
                .error(b.state, errors::FEDERATED_IDENTITY_EXISTS);
            return error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR);
        }
        links.push(json!({
            "identityProvider": fb.alias,
            "userId": fb.provider_user_id,
            "userName": fb.provider_username,
        }));
        match serde_json::to_string(&user) {
            Ok(json) => row.representation = json,
            Err(_) => return internal_error(),
        }
        match store.update_user(&b.snap.id, &row).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Unique(m)) => {
                tracing::info!(realm = %b.snap.name, idp = %provider.alias, error = %m, "first broker login: the identity is linked meanwhile");
                return error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR);
            }
            Err(_) => return internal_error(),
        }
        let mut e = event(b, &pending, "FEDERATED_IDENTITY_LINK").user(row.id.clone());
        e.set_detail("username", user.username.clone().unwrap_or_default());
        e.success(b.state);
    }
    pending.flow.challenged = None;
    browser::authenticated(b, code, pending).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn user_names_and_pending_state() {
        assert!(valid_username("alice") && !valid_username("") && !valid_username("a\nb"));
        assert!(!valid_username(&"x".repeat(256)));
        let fb = FirstBroker {
            alias: "up".into(),
            provider_user_id: "42".into(),
            existing: Some(Existing {
                user_id: "u".into(),
                attribute: "email".into(),
                value: "a@x".into(),
            }),
            ..Default::default()
        };
        let v = serde_json::to_value(&fb).unwrap();
        assert!(v.get("registered").is_none());
        let back: FirstBroker = serde_json::from_value(v).unwrap();
        assert_eq!(back, fb);
    }

    fn waiting() -> PendingLogin {
        PendingLogin {
            first_broker: Some(FirstBroker {
                alias: "up".into(),
                provider_user_id: "42".into(),
                provider_username: "dave".into(),
                profile: UserRepresentation {
                    username: Some("dave".into()),
                    ..Default::default()
                },
                existing: Some(Existing {
                    user_id: "u1".into(),
                    attribute: "email".into(),
                    value: "d@x".into(),
                }),
                link_mail_to: Some("d@x".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_link_token_fits_only_the_login_that_waits_for_it() {
        let p = waiting();
        assert!(awaits_link(&p, "u1", "up", "dave"));
        assert!(!awaits_link(&p, "u2", "up", "dave"), "another user");
        assert!(!awaits_link(&p, "u1", "other", "dave"), "another provider");
        assert!(!awaits_link(&p, "u1", "up", "eve"), "another identity");
        let mut verified = waiting();
        if let Some(fb) = verified.first_broker.as_mut() {
            fb.verified_idp_username = Some("dave".into());
        }
        assert!(
            !awaits_link(&verified, "u1", "up", "dave"),
            "confirmed already"
        );
        let mut unsent = waiting();
        if let Some(fb) = unsent.first_broker.as_mut() {
            fb.link_mail_to = None;
        }
        assert!(!awaits_link(&unsent, "u1", "up", "dave"), "no mail sent");
        assert!(!awaits_link(&PendingLogin::default(), "u1", "up", "dave"));
    }

    #[test]
    fn a_reviewed_user_name_counts_as_changed_unless_only_its_case_differs() {
        let mut fb = waiting().first_broker.unwrap();
        assert!(!username_changed(&fb));
        fb.profile.username = Some("Dave".into());
        assert!(!username_changed(&fb));
        fb.profile.username = Some("david".into());
        assert!(username_changed(&fb));
        fb.profile.username = None;
        assert!(username_changed(&fb));
    }

    #[test]
    fn the_link_pointer_names_the_login_and_nothing_else() {
        let p = LinkPointer {
            idp_link_of: "code-1".into(),
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"idpLinkOf":"code-1"}"#);
        // A pointer row read as a login is an empty one (no first broker login to resume).
        let as_login: PendingLogin = serde_json::from_str(&json).unwrap_or_default();
        assert!(as_login.first_broker.is_none());
    }
}
