//! GET|POST /realms/{realm}/login-actions/action-token?key=<token>  (Keycloak's
//! `LoginActionsService.executeActionToken`)
//!
//! The links of the e-mails the server sends. Opening one (GET) checks the token and shows a
//! confirmation page whose button posts the token back, so that a mail scanner's prefetch
//! does nothing (Keycloak shows such a page when the link is opened without the browser's
//! login session). The POST uses the token up (single use) and performs it:
//! - `verify-email`: `emailVerified` is set, `VERIFY_EMAIL` dropped, Keycloak's "Your email
//!   address has been verified." page;
//! - `execute-actions`: `emailVerified` is set and the listed actions are put on the user;
//!   with `UPDATE_PASSWORD` the browser goes straight into the login's required-action step
//!   (the update-password form; its POST ends the login with a code to `reduri`, or the
//!   account console), else Keycloak's "Your account has been updated." page with a link to
//!   `reduri`;
//! - `ORGIVT`: the user becomes a member of the organization and is redirected to `reduri`
//!   (the organization's `redirectUrl`, or the account console);
//! - `update-email` (the `UPDATE_EMAIL` required action's mail to the new address, feature
//!   `update-email`): the address becomes the token's `newEmail`, verified, as Keycloak's
//!   `UpdateEmailActionTokenHandler`; void once the user's address is no longer the token's
//!   `oldEmail` (or the pending address is no longer `newEmail`): Keycloak's
//!   `staleEmailVerificationLink`;
//! - `reset-credentials` (the "Forgot Password?" mail): the reset flow continues
//!   ([`crate::authn::reset`]): the update-password page, then the login ends with a code to
//!   the client. Refused with Keycloak's "Reset Credential not allowed" when the realm no
//!   longer has `resetPasswordAllowed`;
//! - `idp-verify-account-via-email` (the first broker login's `idp-email-verification` mail,
//!   Keycloak's `IdpVerifyAccountLinkActionTokenHandler`): the existing user's `emailVerified`
//!   is set and `IDENTITY_PROVIDER_LINK_ACCOUNT` emitted; in the browser of the login that
//!   sent it, that login goes on ([`crate::authn::first_broker`]: the identity is linked to
//!   the user, the login ends with a code to the client); in another browser, that login is
//!   marked verified (its page's "Click here to continue" goes on there) and Keycloak's
//!   "successfully linked" page answers. A used link, or one whose login is gone or already
//!   verified, answers `emailVerifiedAlreadyMessage` (`IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR`
//!   `email_already_verified`); a token whose user is gone `invalidUserMessage`
//!   (`user_not_found`), whose user's e-mail changed `staleCodeMessage` (`invalid_email`).
//!
//! A forged, malformed or other realm's token answers Keycloak's `invalidCodeMessage`, an
//! expired or used one `expiredActionTokenNoSessionMessage`.

pub mod token;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::authn::pages::{error_page, escape, html, internal_error, update_password_page};
use crate::authn::{AuthRequest, PendingLogin};
use crate::events::errors;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::{MembershipType, UserRow};
use crate::AppState;

pub use token::{
    account_url, admin_lifespan, link, user_lifespan, ActionToken, Kind, Refused, ACCOUNT_DISABLED,
    EMAIL_VERIFIED_ALREADY, EXPIRED, INVALID_CODE, INVALID_USER, STALE_CODE, STALE_INVITE,
    STALE_VERIFY_EMAIL,
};

/// The routes of the action-token endpoint.
pub fn routes() -> Router<AppState> {
    Router::new().route(paths::ACTION_TOKEN, get(open).post(perform))
}

#[derive(Debug, Deserialize)]
struct KeyParam {
    key: Option<String>,
}

/// A checked token, its realm, issuer and base URL, and its user.
struct Checked {
    snap: std::sync::Arc<RealmSnapshot>,
    base: String,
    token: ActionToken,
    user: Option<(UserRow, UserRepresentation)>,
}

fn refused(kind: Option<&Kind>, r: Refused) -> Response {
    let msg = match (kind, r) {
        (_, Refused::Expired) => EXPIRED,
        (Some(Kind::OrgInvite(_)), Refused::Invalid) => STALE_INVITE,
        (_, Refused::Invalid) => INVALID_CODE,
    };
    error_page(StatusCode::BAD_REQUEST, msg)
}

async fn check(
    state: &AppState,
    realm: &str,
    headers: &HeaderMap,
    uri: &Uri,
    key: Option<&str>,
) -> Result<Checked, Response> {
    let snap = state
        .realm(realm)
        .await
        .map_err(|_| error_page(StatusCode::NOT_FOUND, "Realm does not exist."))?;
    let base = state
        .base_url(headers, uri)
        .map_err(|_| error_page(StatusCode::BAD_REQUEST, "Invalid host."))?;
    let issuer = paths::url(&base, paths::REALM, &snap.name);
    let key = key.ok_or_else(|| refused(None, Refused::Invalid))?;
    let token = token::verify(&snap.hmac_keys, &issuer, key, crate::clock::now())
        .map_err(|r| refused(None, r))?;
    // Without the `update-email` feature there is no handler for its tokens.
    if matches!(token.kind, Kind::UpdateEmail { .. }) && !state.config.features.update_email {
        return Err(refused(None, Refused::Invalid));
    }
    let user = match &token.user_id {
        Some(id) => {
            let found = state
                .store
                .user_by_id(&snap.id, id)
                .await
                .map_err(|_| internal_error())?;
            let Some(row) = found else {
                if let Kind::IdpVerifyAccount { .. } = &token.kind {
                    // `LoginActionsServiceChecks.checkIsUserValid`.
                    idp_link_event(&snap, &token, None).error(state, errors::USER_NOT_FOUND);
                    return Err(error_page(StatusCode::BAD_REQUEST, INVALID_USER));
                }
                return Err(refused(Some(&token.kind), Refused::Invalid));
            };
            let u = crate::users::parse_user(&row).map_err(|_| internal_error())?;
            if u.enabled != Some(true) {
                return Err(error_page(StatusCode::BAD_REQUEST, ACCOUNT_DISABLED));
            }
            if let Kind::UpdateEmail { old_email, .. } = &token.kind {
                // `UpdateEmailActionTokenHandler.getVerifiers`: `oldEmail` is still the
                // user's address (`Objects.equals`).
                if old_email.as_deref() != u.email.as_deref() {
                    return Err(error_page(StatusCode::BAD_REQUEST, STALE_VERIFY_EMAIL));
                }
            } else {
                // `eml`: the token is void once the user's e-mail changed.
                let now_email = u.email.as_deref().map(str::to_lowercase);
                if token.email.as_deref().map(str::to_lowercase) != now_email {
                    if let Kind::IdpVerifyAccount { .. } = &token.kind {
                        // The handler's `verifyEmail` check: `Errors.INVALID_EMAIL`, its
                        // default message `staleCodeMessage`.
                        idp_link_event(&snap, &token, Some(&row.id))
                            .error(state, errors::INVALID_EMAIL);
                        return Err(error_page(StatusCode::BAD_REQUEST, STALE_CODE));
                    }
                    return Err(refused(Some(&token.kind), Refused::Invalid));
                }
            }
            Some((row, u))
        }
        None => None,
    };
    Ok(Checked {
        snap,
        base,
        token,
        user,
    })
}

/// GET: the confirmation page.
async fn open(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<KeyParam>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let c = match check(&state, &realm, &headers, &uri, q.key.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some((_, user)) = &c.user else {
        // An invitation of someone without an account: Keycloak sends them to registration.
        return error_page(StatusCode::BAD_REQUEST, STALE_INVITE);
    };
    if c.token.kind == Kind::ResetCredentials && !crate::authn::reset::allowed(&c.snap) {
        return crate::authn::reset::not_allowed(&state, &c.snap, Some(&c.token.client_id));
    }
    let email = user.email.clone().unwrap_or_default();
    let (title, detail) = match &c.token.kind {
        Kind::VerifyEmail => (
            format!("Confirm validity of e-mail address {email}."),
            String::new(),
        ),
        Kind::UpdateEmail { new_email, .. } => (
            format!("Confirm validity of e-mail address {new_email}."),
            String::new(),
        ),
        Kind::ExecuteActions(actions) => (
            "Perform the following action(s)".to_string(),
            actions
                .iter()
                .map(|a| crate::email::templates::required_action_text(a))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Kind::ResetCredentials => (
            "Perform the following action(s)".to_string(),
            crate::email::templates::required_action_text("UPDATE_PASSWORD"),
        ),
        // `confirmAccountLinking` (the handler's page in a browser without the login).
        Kind::IdpVerifyAccount {
            alias,
            idp_username,
            ..
        } => (
            format!(
                "Confirm linking the account {idp_username} of identity provider {alias} with your account."
            ),
            String::new(),
        ),
        Kind::OrgInvite(org) => {
            let name = org_name(&state, &c.snap, org).await;
            (
                "Perform the following action(s)".to_string(),
                format!("By clicking the link below, you will become a member of the {name} organization:"),
            )
        }
    };
    let action = link("", &c.snap, "");
    let key = q.key.unwrap_or_default();
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>\
         <div id=\"kc-info-message\"><p class=\"instruction\">{t}</p><p>{d}</p>\
         <form id=\"kc-action-token-form\" method=\"post\" action=\"{a}\">\
         <input type=\"hidden\" name=\"key\" value=\"{k}\">\
         <button type=\"submit\" id=\"kc-proceed\">\u{bb} Click here to proceed</button></form></div></body></html>",
        t = escape(&title),
        d = escape(&detail),
        a = escape(action.trim_end_matches("?key=")),
        k = escape(&key),
    );
    html(StatusCode::OK, body)
}

async fn org_name(state: &AppState, snap: &RealmSnapshot, org_id: &str) -> String {
    match state.store.organization(&snap.id, org_id).await {
        Ok(Some(o)) => o.name,
        _ => org_id.to_string(),
    }
}

/// Keycloak's info page (`info.ftl`): a message and, with a redirect, "« Back to Application".
fn info_page(message: &str, back: Option<&str>) -> Response {
    let back = back
        .map(|b| {
            format!(
                "<p><a id=\"kc-back\" href=\"{}\">\u{ab} Back to Application</a></p>",
                escape(b)
            )
        })
        .unwrap_or_default();
    html(
        StatusCode::OK,
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{m}</title></head><body>\
             <div id=\"kc-info-message\"><p class=\"instruction\">{m}</p>{back}</div></body></html>",
            m = escape(message)
        ),
    )
}

/// POST: use the token up and perform it.
async fn perform(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Form(q): Form<KeyParam>,
) -> Response {
    let remote = crate::http::remote::remote_addr(&state, &headers, peer.map(|p| (p.0).0));
    let c = match check(&state, &realm, &headers, &uri, q.key.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some((row, mut user)) = c.user else {
        return error_page(StatusCode::BAD_REQUEST, STALE_INVITE);
    };
    // `ResetCredentialsActionTokenHandler`'s verifier: checked before the token is used.
    if c.token.kind == Kind::ResetCredentials && !crate::authn::reset::allowed(&c.snap) {
        return crate::authn::reset::not_allowed(&state, &c.snap, Some(&c.token.client_id));
    }
    match state
        .store
        .use_once(&c.token.single_use_key(&c.snap.id), c.token.exp)
        .await
    {
        Ok(true) => {}
        Ok(false) if matches!(c.token.kind, Kind::IdpVerifyAccount { .. }) => {
            // Keycloak lets this link be opened again, and answers `sendEmailAlreadyVerified`
            // once its login has noted the confirmation.
            idp_link_event(&c.snap, &c.token, Some(&row.id))
                .error(&state, errors::EMAIL_ALREADY_VERIFIED);
            return info_page(EMAIL_VERIFIED_ALREADY, None);
        }
        Ok(false) => return refused(Some(&c.token.kind), Refused::Expired),
        Err(_) => return internal_error(),
    }
    let snap = c.snap;
    let back = c.token.redirect_uri.clone();
    match c.token.kind {
        Kind::VerifyEmail => {
            user.email_verified = Some(true);
            drop_action(&mut user, "VERIFY_EMAIL");
            if save(&state, &snap, &row, &user).await.is_err() {
                return internal_error();
            }
            crate::events::UserEvent::new(&snap, "VERIFY_EMAIL")
                .user(row.id.clone())
                .detail("email", user.email.clone().unwrap_or_default())
                .success(&state);
            info_page("Your email address has been verified.", back.as_deref())
        }
        Kind::ExecuteActions(actions) => {
            user.email_verified = Some(true);
            drop_action(&mut user, "VERIFY_EMAIL");
            let list = user.required_actions.get_or_insert_with(Vec::new);
            for a in actions.iter().filter(|a| a.as_str() != "VERIFY_EMAIL") {
                if !list.contains(a) {
                    list.push(a.clone());
                }
            }
            if save(&state, &snap, &row, &user).await.is_err() {
                return internal_error();
            }
            crate::events::UserEvent::new(&snap, "EXECUTE_ACTIONS")
                .user(row.id.clone())
                .success(&state);
            if actions.iter().any(|a| a == "UPDATE_PASSWORD") {
                let redirect = back.unwrap_or_else(|| account_url(&c.base, &snap));
                return update_password_step(
                    &state,
                    &snap,
                    &c.base,
                    &c.token.client_id,
                    redirect,
                    &row.id,
                )
                .await;
            }
            info_page("Your account has been updated.", back.as_deref())
        }
        Kind::ResetCredentials => {
            crate::oidc::reset_credentials::from_token(
                &state,
                &snap,
                &c.base,
                &headers,
                &row.id,
                c.token.auth_session.as_deref(),
                &c.token.client_id,
            )
            .await
        }
        Kind::UpdateEmail { new_email, .. } => {
            update_email(
                &state,
                &snap,
                &row,
                user,
                &new_email,
                &c.token.client_id,
                back,
            )
            .await
        }
        Kind::IdpVerifyAccount {
            ref alias,
            ref idp_username,
            ..
        } => {
            let link = IdpLink {
                state: &state,
                snap: &snap,
                base: &c.base,
                headers: &headers,
                remote,
                token: &c.token,
            };
            idp_link(&link, &row, user, alias, idp_username).await
        }
        Kind::OrgInvite(org_id) => {
            let invitation = (org_id.as_str(), c.token.jti.as_str());
            accept_invitation(&state, &snap, &c.base, &row, &user, invitation, back).await
        }
    }
}

/// `UpdateEmailActionTokenHandler.handleToken`: the pending address checked against the token
/// and the user profile again (it may have been taken meanwhile), then set and verified; event
/// `UPDATE_EMAIL` with `previous_email` / `updated_email`; the "Email updated" page.
async fn update_email(
    state: &AppState,
    snap: &RealmSnapshot,
    row: &UserRow,
    mut user: UserRepresentation,
    new_email: &str,
    client_id: &str,
    back: Option<String>,
) -> Response {
    use crate::authn::steps::update_email as action;
    if !snap.settings.duplicate_emails_allowed {
        match state.store.users_by_email(&snap.id, new_email).await {
            Ok(others) if others.iter().any(|o| o.id != row.id) => {
                return error_page(StatusCode::BAD_REQUEST, "Email already exists.")
            }
            Ok(_) => {}
            Err(_) => return internal_error(),
        }
    }
    let previous = match action::apply_token(&mut user, new_email) {
        Ok(p) => p,
        Err(msg) => return error_page(StatusCode::BAD_REQUEST, msg),
    };
    if save(state, snap, row, &user).await.is_err() {
        return internal_error();
    }
    let mut e = crate::events::UserEvent::new(snap, "UPDATE_EMAIL")
        .user(row.id.clone())
        .detail("previous_email", previous)
        .detail("updated_email", new_email.to_string());
    e.set_client(client_id.to_string());
    e.success(state);
    info_page(
        &format!("The account email has been successfully updated to {new_email}."),
        back.as_deref(),
    )
}

/// `IDENTITY_PROVIDER_LINK_ACCOUNT` of an `idp-verify-account-via-email` token: its client,
/// user, e-mail and provider.
fn idp_link_event(
    snap: &RealmSnapshot,
    token: &ActionToken,
    user_id: Option<&str>,
) -> crate::events::UserEvent {
    let mut e = crate::events::UserEvent::new(snap, "IDENTITY_PROVIDER_LINK_ACCOUNT");
    if !token.client_id.is_empty() {
        e.set_client(token.client_id.clone());
    }
    if let Some(u) = user_id.or(token.user_id.as_deref()) {
        e.set_user(u.to_string());
    }
    if let Some(email) = &token.email {
        e.set_detail("email", email.clone());
    }
    if let Kind::IdpVerifyAccount {
        alias,
        idp_username,
        ..
    } = &token.kind
    {
        e.set_detail("identity_provider", alias.clone());
        e.set_detail("identity_provider_identity", idp_username.clone());
    }
    e
}

/// The request an `idp-verify-account-via-email` token was posted with.
struct IdpLink<'a> {
    state: &'a AppState,
    snap: &'a RealmSnapshot,
    base: &'a str,
    headers: &'a HeaderMap,
    remote: Option<std::net::IpAddr>,
    token: &'a ActionToken,
}

/// `IdpVerifyAccountLinkActionTokenHandler.handleToken`: the token's login must still wait for
/// it (else `sendEmailAlreadyVerified`); the user's e-mail is verified; in that login's
/// browser the login goes on, in another one it is marked verified and the "successfully
/// linked" page answers.
async fn idp_link(
    l: &IdpLink<'_>,
    row: &UserRow,
    mut user: UserRepresentation,
    alias: &str,
    idp_username: &str,
) -> Response {
    use crate::authn::first_broker;
    let event = || idp_link_event(l.snap, l.token, Some(&row.id));
    let asid = l.token.auth_session.as_deref();
    let login = match first_broker::linked_login(l.state, l.snap, asid).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some((code, pending)) =
        login.filter(|(_, p)| first_broker::awaits_link(p, &row.id, alias, idp_username))
    else {
        event().error(l.state, errors::EMAIL_ALREADY_VERIFIED);
        return info_page(EMAIL_VERIFIED_ALREADY, None);
    };
    // "verify user email as we know it is valid as this entry point would never have gotten
    // here".
    user.email_verified = Some(true);
    if save(l.state, l.snap, row, &user).await.is_err() {
        return internal_error();
    }
    event().success(l.state);
    if let Some(a) = asid {
        let _ = l.state.store.delete_auth_session(a).await;
    }
    let same_browser =
        crate::authn::cookies::cookie(l.headers, crate::authn::cookies::AUTH_SESSION_COOKIE)
            .is_some_and(|c| {
                aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), code.as_bytes())
                    .is_ok()
            });
    if same_browser {
        return crate::oidc::login_actions::first_broker_link_verified(
            l.state,
            l.snap,
            l.headers,
            l.base,
            l.remote,
            (&code, pending),
            idp_username,
        )
        .await;
    }
    if let Err(r) = first_broker::mark_verified(l.state, l.snap, &code, pending, idp_username).await
    {
        return r;
    }
    // The page of a newer Keycloak (`identityProviderLinkSuccess` with the provider and user
    // name), with 26's text after it; no link back (`SKIP_LINK`).
    let message =
        format!("Your account was successfully linked with {alias} account {idp_username}.");
    html(
        StatusCode::OK,
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{m}</title></head><body>\
             <div id=\"kc-info-message\"><p class=\"instruction\">{m}</p>\
             <p class=\"instruction\">You successfully verified your email. Please go back to your original browser and continue there with the login.</p></div></body></html>",
            m = escape(&message)
        ),
    )
}

fn drop_action(user: &mut UserRepresentation, alias: &str) {
    if let Some(a) = user.required_actions.as_mut() {
        a.retain(|x| x != alias);
    }
}

async fn save(
    state: &AppState,
    snap: &RealmSnapshot,
    row: &UserRow,
    user: &UserRepresentation,
) -> Result<(), ()> {
    let mut updated = row.clone();
    updated.representation = serde_json::to_string(user).map_err(|_| ())?;
    state
        .store
        .update_user(&snap.id, &updated)
        .await
        .map_err(|_| ())
}

/// Starts the login's required-action step for `user_id` (the token stood for the login):
/// the update-password form, bound to a new flow of the token's client that ends at
/// `redirect`.
async fn update_password_step(
    state: &AppState,
    snap: &RealmSnapshot,
    base: &str,
    client_id: &str,
    redirect: String,
    user_id: &str,
) -> Response {
    let request = AuthRequest {
        client_id: Some(client_id.to_string()),
        redirect_uri: Some(redirect.clone()),
        redirect_uri_param: Some(redirect),
        response_type: Some("code".into()),
        response_mode: Some("query".into()),
        scope: Some("openid".into()),
        ..Default::default()
    };
    let mut pending = PendingLogin::of(request);
    pending.pending_user = Some(user_id.to_string());
    let action = paths::url("", paths::REQUIRED_ACTION, &snap.name);
    let secure = crate::http::base_url::is_secure_context(base);
    crate::authn::flow::start_flow(state.store.as_ref(), snap, &pending, 600, secure, |code| {
        update_password_page(snap, &action, code, None)
    })
    .await
}

/// Makes the user a member of the invitation's organization and sends the browser on.
async fn accept_invitation(
    state: &AppState,
    snap: &RealmSnapshot,
    base: &str,
    row: &UserRow,
    user: &UserRepresentation,
    (org_id, invitation_id): (&str, &str),
    back: Option<String>,
) -> Response {
    let username = user.username.clone().unwrap_or_default();
    let org = match state.store.organization(&snap.id, org_id).await {
        Ok(Some(o)) => o,
        Ok(None) => return info_page(&format!("Organization {org_id} not found."), None),
        Err(_) => return internal_error(),
    };
    // A deleted (or resent) invitation's link no longer works, as Keycloak's
    // `getPendingInvitation` requires the stored invitation, unexpired.
    match state.store.invitation(&org.id, invitation_id).await {
        Ok(Some(i)) if i.expires_at >= crate::clock::now() => {}
        Ok(_) => return error_page(StatusCode::BAD_REQUEST, STALE_INVITE),
        Err(_) => return internal_error(),
    }
    match state
        .store
        .add_member(&snap.id, &org.id, &row.id, MembershipType::Unmanaged)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return info_page(
                &format!("User {username} is already a member of the organization."),
                None,
            )
        }
        Err(_) => return internal_error(),
    }
    if state
        .store
        .delete_invitation(&org.id, invitation_id)
        .await
        .is_err()
    {
        return internal_error();
    }
    crate::events::UserEvent::new(snap, "INVITE_ORG")
        .user(row.id.clone())
        .detail("username", username)
        .detail("org_id", org.id.clone())
        .success(state);
    let to = back.unwrap_or_else(|| account_url(base, snap));
    // Keycloak redirects with 302.
    (StatusCode::FOUND, [(axum::http::header::LOCATION, to)]).into_response()
}
