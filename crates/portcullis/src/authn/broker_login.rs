//! Logging in through an identity provider (Keycloak's `IdentityBrokerService`): the pending
//! login goes to the provider with a single-use state ([`redirect`]), and comes back with the
//! brokered identity ([`complete`]): the user linked to it logs in, or the first broker login
//! creates and links a user when none has its user name or e-mail
//! (`idp-create-user-if-unique`). The protocol with the provider is [`crate::broker`]'s.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::authn::browser::{self, Browser};
use crate::authn::pages::{error_page, internal_error};
use crate::authn::register::{self, Created};
use crate::authn::steps::respond::different_user_message;
use crate::authn::{flow, Brokered, PendingLogin};
use crate::broker::{self, Identity, Provider};
use crate::model::flows::Authenticator;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::{Store, StoreError, UserRow};
use crate::users::{is_enabled, parse_user};

/// Keycloak's `identityProviderNotFoundMessage`.
pub const PROVIDER_NOT_FOUND: &str = "Could not find an identity provider with the identifier.";
/// Keycloak's `identityProviderUnexpectedErrorMessage`.
pub const UNEXPECTED_ERROR: &str = "Unexpected error when authenticating with identity provider";

/// Keycloak's `accessDeniedWhenIdpAuthMessage`.
pub fn access_denied(provider: &Provider) -> String {
    format!(
        "Access denied when authenticating with {}.",
        provider.display_name
    )
}

/// A 302 to `url`.
fn found(url: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(url) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => internal_error(),
    }
}

/// Sends the pending login to `provider`: the handshake (state, nonce, PKCE verifier) is
/// stored with the login (under `code`, or a new flow bound to this browser), then a 302 to
/// the provider's authorization endpoint.
pub async fn redirect(
    b: &Browser<'_>,
    code: Option<&str>,
    mut pending: PendingLogin,
    provider: &Provider,
) -> Response {
    let redirect_uri = broker::redirect_uri(b.base, b.snap, &provider.alias);
    let (handshake, url) = broker::authorization_request(
        provider,
        &redirect_uri,
        pending.request.login_hint.as_deref(),
    );
    pending.broker = Some(handshake);
    let store = b.state.store.as_ref();
    let lifespan = b.snap.settings.access_code_lifespan_login;
    match code {
        None => {
            flow::start_flow_with(store, b.snap, &pending, lifespan, b.reply.secure(), |_| {
                found(&url)
            })
            .await
        }
        Some(code) => {
            if let Err(r) = flow::replace_flow(store, &b.snap.id, code, &pending, lifespan).await {
                return r;
            }
            found(&url)
        }
    }
}

/// The `identity-provider-redirector` step: `kc_idp_hint` (else the step's
/// `defaultProvider`) names a provider that can log in: the login goes there. `None`: the
/// step is attempted (no hint, an empty one, or an unknown or disabled provider).
pub async fn redirector(
    b: &Browser<'_>,
    code: Option<&str>,
    pending: &PendingLogin,
    a: &Authenticator,
) -> Option<Response> {
    let alias = pending
        .request
        .kc_idp_hint
        .as_deref()
        .filter(|h| !h.is_empty())
        .or_else(|| a.setting("defaultProvider").filter(|d| !d.is_empty()))?;
    let Ok(provider) = broker::provider(b.snap, alias) else {
        tracing::debug!(realm = %b.snap.name, idp = %alias, "kc_idp_hint names no usable identity provider");
        return None;
    };
    Some(redirect(b, code, pending.clone(), &provider).await)
}

/// Whether `user` is linked to `identity` at `alias`.
fn linked(user: &UserRepresentation, alias: &str, identity: &Identity) -> bool {
    user.federated_identities.iter().flatten().any(|f| {
        f.get("identityProvider").and_then(Value::as_str) == Some(alias)
            && f.get("userId").and_then(Value::as_str) == Some(identity.id.as_str())
    })
}

/// The user linked to `identity` at `alias` (Keycloak's `getUserByFederatedIdentity`): the
/// user of the brokered user name first, else every user of the realm is read.
async fn linked_user(
    store: &dyn Store,
    snap: &RealmSnapshot,
    alias: &str,
    identity: &Identity,
) -> Result<Option<UserRow>, StoreError> {
    let is_linked = |row: &UserRow| parse_user(row).is_ok_and(|u| linked(&u, alias, identity));
    if let Some(row) = store.user_by_username(&snap.id, &identity.username).await? {
        if is_linked(&row) {
            return Ok(Some(row));
        }
    }
    Ok(store.users(&snap.id).await?.into_iter().find(is_linked))
}

/// The event of the login's identity-provider steps, with the provider's details.
fn event(
    snap: &RealmSnapshot,
    pending: &PendingLogin,
    kind: &'static str,
    brokered: &Brokered,
) -> crate::events::UserEvent {
    let mut e = crate::authn::login_event(snap, &pending.request);
    e.set_kind(snap, kind);
    brokered.describe(&mut e);
    e
}

/// The provider authenticated `identity`: its linked user logs in, or the first broker login
/// runs; then the login ends as after a password ([`browser::authenticated`]).
pub async fn complete(
    b: &Browser<'_>,
    code: &str,
    mut pending: PendingLogin,
    provider: &Provider,
    identity: Identity,
) -> Response {
    let (state, snap) = (b.state, b.snap);
    let brokered = Brokered {
        identity_provider: provider.alias.clone(),
        identity_provider_identity: identity.username.clone(),
    };
    let found = match linked_user(state.store.as_ref(), snap, &provider.alias, &identity).await {
        Ok(f) => f,
        Err(_) => return internal_error(),
    };
    // A login that already identified its user (re-authentication of the SSO session's user)
    // continues only with that user (`DIFFERENT_USER_AUTHENTICATED`).
    if let Some(expected) = pending.flow.user.as_deref() {
        if found.as_ref().is_none_or(|row| row.id != expected) {
            event(snap, &pending, "IDENTITY_PROVIDER_LOGIN", &brokered)
                .user(expected.to_string())
                .error(state, crate::events::errors::DIFFERENT_USER_AUTHENTICATED);
            let name = match state.store.user_by_id(&snap.id, expected).await {
                Ok(Some(row)) => row.username,
                _ => String::new(),
            };
            return error_page(StatusCode::BAD_REQUEST, &different_user_message(&name));
        }
    }
    let user_id = match found {
        Some(row) => {
            if !is_enabled(&row).unwrap_or(false) {
                event(snap, &pending, "IDENTITY_PROVIDER_LOGIN", &brokered)
                    .user(row.id.clone())
                    .error(state, crate::events::errors::USER_DISABLED);
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Account is disabled, contact your administrator.",
                );
            }
            row.id
        }
        None => match first_login(b, &pending, provider, &identity, &brokered).await {
            Ok(id) => id,
            Err(r) => return r,
        },
    };
    pending.flow.user = Some(user_id);
    pending.brokered = Some(brokered);
    browser::authenticated(b, code, pending).await
}

/// Keycloak's default "first broker login" flow for the common case
/// (`idp-create-user-if-unique`): without a user of the brokered e-mail or user name, the user
/// is created and linked. A user who has either is never linked silently: the answer is the
/// "Account already exists" page (confirming the link by re-authentication is not served yet).
async fn first_login(
    b: &Browser<'_>,
    pending: &PendingLogin,
    provider: &Provider,
    identity: &Identity,
    brokered: &Brokered,
) -> Result<String, Response> {
    let (state, snap) = (b.state, b.snap);
    let store = state.store.as_ref();
    event(snap, pending, "IDENTITY_PROVIDER_FIRST_LOGIN", brokered).success(state);
    let exists = |attribute: &str, value: &str| {
        event(snap, pending, "IDENTITY_PROVIDER_FIRST_LOGIN", brokered)
            .error(state, crate::events::errors::FEDERATED_IDENTITY_EXISTS);
        error_page(
            StatusCode::CONFLICT,
            &format!(
                "Account already exists. User with {attribute} {value} already exists. Linking it to {} is not supported by this server yet: log in with your password, or ask your administrator to link the account.",
                provider.display_name
            ),
        )
    };
    if !valid_username(&identity.username) {
        event(snap, pending, "IDENTITY_PROVIDER_FIRST_LOGIN", brokered)
            .error(state, crate::events::errors::INVALID_REQUEST);
        return Err(error_page(StatusCode::BAD_REQUEST, UNEXPECTED_ERROR));
    }
    // `IdpCreateUserIfUniqueAuthenticator.checkExistingUser`: the e-mail first (unless the
    // realm allows duplicate e-mails), then the user name.
    let duplicate_emails = snap.rep.extra.get("duplicateEmailsAllowed") == Some(&json!(true));
    if let Some(email) = identity.email.as_deref().filter(|_| !duplicate_emails) {
        match store.users_by_email(&snap.id, email).await {
            Ok(found) if !found.is_empty() => return Err(exists("email", email)),
            Ok(_) => {}
            Err(_) => return Err(internal_error()),
        }
    }
    match store.user_by_username(&snap.id, &identity.username).await {
        Ok(Some(_)) => return Err(exists("username", &identity.username)),
        Ok(None) => {}
        Err(_) => return Err(internal_error()),
    }
    let user = UserRepresentation {
        username: Some(identity.username.clone()),
        email: identity.email.clone(),
        first_name: identity.first_name.clone(),
        last_name: identity.last_name.clone(),
        federated_identities: Some(vec![json!({
            "identityProvider": provider.alias,
            "userId": identity.id,
            "userName": identity.username,
        })]),
        ..Default::default()
    };
    let verified = provider.trust_email && identity.email.is_some();
    let row = match register::create(state, snap, user, None, verified).await {
        Ok(row) => row,
        Err(Created::Taken) => return Err(exists("username", &identity.username)),
        Err(Created::Failed) => return Err(internal_error()),
    };
    let mut e = event(snap, pending, "REGISTER", brokered).user(row.id.clone());
    e.set_detail("register_method", "broker");
    e.set_detail("username", identity.username.clone());
    if let Some(email) = &identity.email {
        e.set_detail("email", email.clone());
    }
    e.success(state);
    Ok(row.id)
}

/// A user name a created user may have: not empty, at most 255 characters, no control
/// characters.
fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 255 && !name.chars().any(char::is_control)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn links_match_provider_and_subject() {
        let identity = Identity {
            id: "42".into(),
            username: "alice".into(),
            email: None,
            first_name: None,
            last_name: None,
        };
        let user: UserRepresentation = serde_json::from_value(json!({
            "username": "alice",
            "federatedIdentities": [{"identityProvider": "up", "userId": "42", "userName": "alice"}]
        }))
        .unwrap();
        assert!(linked(&user, "up", &identity));
        assert!(!linked(&user, "other", &identity));
        let someone = Identity {
            id: "43".into(),
            ..identity.clone()
        };
        assert!(!linked(&user, "up", &someone));
        assert!(valid_username("alice") && !valid_username("") && !valid_username("a\nb"));
        assert!(!valid_username(&"x".repeat(256)));
    }
}
