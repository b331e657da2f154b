//! Logging in through an identity provider (Keycloak's `IdentityBrokerService`): the pending
//! login goes to the provider with a single-use state ([`redirect`]), and comes back with the
//! brokered identity ([`complete`]): the user linked to it logs in, or the first broker login
//! flow runs ([`crate::authn::first_broker`]). The protocol with the provider is
//! [`crate::broker`]'s.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::authn::browser::{self, Browser};
use crate::authn::pages::{error_page, internal_error};
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
/// store's index of links, checked against the user's document (its source of truth).
async fn linked_user(
    store: &dyn Store,
    snap: &RealmSnapshot,
    alias: &str,
    identity: &Identity,
) -> Result<Option<UserRow>, StoreError> {
    let found = store
        .user_by_federated_identity(&snap.id, alias, &identity.id)
        .await?;
    Ok(found.filter(|row| parse_user(row).is_ok_and(|u| linked(&u, alias, identity))))
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
        None => {
            return crate::authn::first_broker::start(
                b, code, pending, provider, &identity, brokered,
            )
            .await
        }
    };
    pending.flow.user = Some(user_id);
    pending.brokered = Some(brokered);
    browser::authenticated(b, code, pending).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

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
    }
}
