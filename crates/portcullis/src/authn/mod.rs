//! The browser login, as a domain apart from the protocol endpoints: the pending-login state,
//! the login steps (SSO session, username and password, required action, consent), the pages
//! and the cookies. The `oidc` endpoints parse requests, call in here, and answer; nothing in
//! here depends on an endpoint module.
//!
//! The pending login is stored as JSON through `store.put_auth_session`, and the code data
//! through `store.put_code`. The field names below are the stored ones: rows written before
//! these types existed parse, and fields this version does not know are kept in `extra`.

pub mod broker_login;
pub mod browser;
pub mod brute_force;
pub mod cookies;
pub mod engine;
pub mod first_broker;
pub mod flow;
pub mod pages;
pub mod register;
pub mod reply;
pub mod reset;
pub mod steps;

use std::future::Future;
use std::pin::Pin;

use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{ClientRepresentation, UserRepresentation};
pub use crate::store::LoginEnd;
use crate::AppState;

use self::reply::Reply;

/// The authorization request a browser login serves, as validated by the authorization
/// endpoint (OpenID Connect Core §3.1.2.1, RFC 7636).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthRequest {
    /// `client_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The verified redirect URI (the registered one when the parameter was absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The `redirect_uri` parameter as sent, which the token request must repeat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri_param: Option<String>,
    /// `response_type` as sent (flows from before it was recorded are `code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// The response mode in effect (`query` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mode: Option<String>,
    /// `scope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `nonce`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `prompt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `code_challenge` (PKCE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// `code_challenge_method`, `plain` when a challenge came without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// `login_hint`, pre-filled in the login form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    /// `kc_action`: the alias of an application-initiated action (the part before `:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_action: Option<String>,
    /// The text after the first `:` of `kc_action` (client note `kc_action_parameter`: the
    /// credential id of `delete_credential`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_action_parameter: Option<String>,
    /// `kc_locale` of the request, when the realm has internationalization enabled (auth note
    /// `USER_REQUEST_LOCALE`, which `update_user_locale` stores on the user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_locale: Option<String>,
    /// `acr_values` as sent (OpenID Connect Core §3.1.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
    /// `claims` as sent (OpenID Connect Core §5.5): its `id_token.acr` asks for a level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    /// `kc_idp_hint`: the identity provider (alias) to log in with, skipping the login page
    /// (the `identity-provider-redirector` step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_idp_hint: Option<String>,
}

impl AuthRequest {
    /// The client of the request, if the realm (still) has it.
    pub fn client<'a>(&self, snap: &'a RealmSnapshot) -> Option<&'a ClientRepresentation> {
        snap.index.client(&snap.rep, self.client_id.as_deref()?)
    }

    /// The names of the client scopes the request asks for (`TokenManager
    /// .getRequestedClientScopes`: the client's default scopes and the optional ones its
    /// `scope` names); user-profile attributes bound to scopes count only when one of theirs
    /// is among them.
    pub fn scope_names(&self, snap: &RealmSnapshot) -> Vec<String> {
        let Some(client) = self.client(snap) else {
            return Vec::new();
        };
        match crate::tokens::resolve_scopes(snap, client, self.scope.as_deref()) {
            Ok((scopes, _)) => scopes.iter().filter_map(|s| s.name.clone()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether `prompt` holds `value` (a space-separated list).
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|x| x == value))
    }
}

/// A pending browser login (the data of an `AUTH_SESSION_ID` flow): the request, and what the
/// steps so far have learnt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingLogin {
    /// The authorization request (for a device verification: only `client_id` and `scope`).
    #[serde(flatten)]
    pub request: AuthRequest,
    /// The (normalized) user code of a device verification (RFC 8628), which ends at the
    /// device consent page instead of a code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_user_code: Option<String>,
    /// Marks the flow of the device code-entry form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_verify: Option<bool>,
    /// "Remember me" was ticked (where the realm offers it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_me: Option<bool>,
    /// The organization the login runs for (auth note `kc.org`, the organization step's):
    /// the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The organization the user chose on the selection page, or the login's organization
    /// on a re-authentication (client note `kc.org`): the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_organization: Option<String>,
    /// The username the organization step was given (auth note `ATTEMPTED_USERNAME`): the
    /// next form shows it and asks only for the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempted_username: Option<String>,
    /// The user who logged in and has required actions to do first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_user: Option<String>,
    /// The required action whose page was shown (absent in rows of older versions, which
    /// only had `UPDATE_PASSWORD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_action: Option<String>,
    /// Required actions the flow's authenticators set for this login only (Keycloak's
    /// authentication session's required actions: the OTP form's `CONFIGURE_TOTP`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub session_actions: Vec<String>,
    /// `CONFIGURE_TOTP`: the secret the page showed (auth note `TOTP_SECRET_KEY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    /// `CONFIGURE_RECOVERY_AUTHN_CODES`: the codes the page showed and when (auth notes
    /// `RecoveryAuthnCodes.generatedRecoveryAuthnCodes` / `.generatedAt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<steps::recovery_codes::Generated>,
    /// WebAuthn authentication: the challenge of the page shown (auth note
    /// `WEBAUTH_CHALLENGE`, Base64url), used once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webauthn_challenge: Option<String>,
    /// `webauthn-register(-passwordless)`: the ceremony state of the page shown (its
    /// challenge and options), used once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webauthn_registration: Option<Value>,
    /// `VERIFY_EMAIL`: the address the mail went to (auth note `VERIFY_EMAIL_KEY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_email_sent: Option<String>,
    /// The outcome of the application-initiated action (`kc_action_status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_action_status: Option<String>,
    /// A "Forgot Password?" flow (the realm's `resetCredentialsFlow`, [`reset`]) until its
    /// required actions: only the reset-credentials endpoint resumes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_credentials: Option<bool>,
    /// The SSO session waiting for consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_session: Option<String>,
    /// The user asked for consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_user: Option<String>,
    /// The client scopes shown on the consent page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_scopes: Option<Vec<String>>,
    /// When the user authenticated (seconds), while consent is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The login became a registration (the registration page was shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<register::Registering>,
    /// The login sent to an identity provider, until the provider answers (used once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<crate::broker::Handshake>,
    /// The identity provider that authenticated the user (the `LOGIN` event's details).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brokered: Option<Brokered>,
    /// The first broker login in progress (the realm's `firstBrokerLoginFlow` for an identity
    /// no user is linked to yet): Keycloak's brokered-context and existing-user notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broker: Option<first_broker::FirstBroker>,
    /// What the flow's steps recorded so far.
    #[serde(skip_serializing_if = "engine::FlowState::is_empty")]
    pub flow: engine::FlowState,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A login an identity provider authenticated: Keycloak's event details
/// `identity_provider` and `identity_provider_identity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Brokered {
    /// The provider's alias.
    pub identity_provider: String,
    /// The user name the provider gave.
    pub identity_provider_identity: String,
}

impl Brokered {
    /// Adds the details to an event.
    pub fn describe(&self, e: &mut crate::events::UserEvent) {
        e.set_detail("identity_provider", self.identity_provider.clone());
        e.set_detail(
            "identity_provider_identity",
            self.identity_provider_identity.clone(),
        );
    }
}

impl PendingLogin {
    /// A login for an authorization request.
    pub fn of(request: AuthRequest) -> Self {
        PendingLogin {
            request,
            ..Default::default()
        }
    }
}

/// The data of an authorization code (`store.put_code`), read back by the token endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodeData {
    /// The authorization request the code answers.
    #[serde(flatten)]
    pub request: AuthRequest,
    /// The SSO session the login started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When the user authenticated (seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The login was answered by the SSO cookie alone (Keycloak's client session note
    /// `SSO_AUTH`): its `acr` is `0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_auth: Option<bool>,
    /// The level of authentication reached (client session note `LEVEL_OF_AUTHENTICATION`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loa: Option<i64>,
    /// The organization the user chose at login (client note `kc.org`): the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Fields this version does not read (codes of older versions carried the whole pending
    /// login).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who a login step found: the SSO session, its user, and when they authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The SSO session id.
    pub sid: String,
    /// The user id.
    pub user_id: String,
    /// When the user authenticated (seconds).
    pub auth_time: i64,
    /// This login was answered by the SSO session alone, no credential step ran (Keycloak's
    /// `SSO_AUTH` note, which makes `acr` `0`).
    pub sso: bool,
    /// The level of authentication the login reached (Keycloak's client session note
    /// `LEVEL_OF_AUTHENTICATION`), when the flow has level conditions or the session levels.
    pub loa: Option<i64>,
    /// The organization the user chose at login (client note `kc.org`): the id.
    pub organization: Option<String>,
}

/// An authenticated request, ready for the answer to the client.
pub struct Authorized<'a> {
    /// The authorization request.
    pub request: &'a AuthRequest,
    /// Where and how to answer.
    pub reply: &'a Reply,
    /// The session and user.
    pub who: &'a Authenticated,
    /// The user.
    pub user: &'a UserRepresentation,
    /// What ends the login in the store (the pending login removed, a new SSO session), not
    /// written yet: the answer writes it together with its code, in one transaction, or
    /// before it answers without one ([`write_login_end`]).
    pub end: LoginEnd,
}

/// Writes the end of a login where there is something to write (see [`LoginEnd`]).
pub async fn write_login_end(
    store: &dyn crate::store::Store,
    end: &LoginEnd,
) -> Result<(), crate::store::StoreError> {
    if end.is_empty() {
        return Ok(());
    }
    store.finish_login(end).await
}

/// The answer of a [`Protocol`].
pub type Answer<'a> = Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

/// What a login needs from the protocol it serves. The protocol endpoints (`oidc`, above this
/// module) implement it, so that imports point one way.
pub trait Protocol: Sync {
    /// The answer to the client for an authenticated (and consented) request.
    fn authorized<'a>(
        &'a self,
        state: &'a AppState,
        snap: &'a RealmSnapshot,
        done: Authorized<'a>,
    ) -> Answer<'a>;

    /// Sends the `verify-email` mail of the login's `VERIFY_EMAIL` action to `email` (the
    /// action token is minted above this module); `Err` holds the reason.
    fn send_verify_email<'a>(
        &'a self,
        state: &'a AppState,
        snap: &'a RealmSnapshot,
        base: &'a str,
        user_id: &'a str,
        email: &'a str,
        client_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The `LOGIN` event of a browser login, with the details Keycloak's `AuthorizationEndpoint`
/// and `AuthenticationManager` set (`auth_method`, `auth_type`, `response_type`,
/// `redirect_uri`, `response_mode`).
pub fn login_event(snap: &RealmSnapshot, request: &AuthRequest) -> crate::events::UserEvent {
    let mut e = crate::events::UserEvent::new(snap, "LOGIN")
        .detail("auth_method", "openid-connect")
        .detail("auth_type", "code");
    if let Some(c) = &request.client_id {
        e.set_client(c.clone());
    }
    e.set_detail(
        "response_type",
        request
            .response_type
            .clone()
            .unwrap_or_else(|| "code".into()),
    );
    if let Some(r) = &request.redirect_uri {
        e.set_detail("redirect_uri", r.clone());
    }
    if let Some(m) = &request.response_mode {
        e.set_detail("response_mode", m.clone());
    }
    e
}

/// The `LOGIN` event of a login that ends in a code or tokens for the client: the session
/// (also `code_id`, as Keycloak 26 names the code after it), the user, `consent`, and the
/// identity provider of a brokered login.
pub fn login_success(
    state: &AppState,
    snap: &RealmSnapshot,
    done: &Authorized<'_>,
    consent: &str,
    brokered: Option<&Brokered>,
) {
    let mut e = login_event(snap, done.request)
        .user(done.who.user_id.clone())
        .session(done.who.sid.clone())
        .detail("consent", consent)
        .detail("code_id", done.who.sid.clone());
    if let Some(u) = &done.user.username {
        e.set_detail("username", u.clone());
    }
    if let Some(b) = brokered {
        b.describe(&mut e);
    }
    e.success(state);
}

/// SHA-256 of a code, hex: codes are stored by hash only.
pub use crate::crypto::sha256_hex as code_hash;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pending_login_reads_old_rows() {
        let old = json!({
            "client_id": "app", "redirect_uri": "https://app/cb", "response_type": "code",
            "response_mode": "query", "state": "s", "login_hint": "alice",
            "remember_me": true, "consent_session": "sid", "consent_user": "u",
            "consent_scopes": ["profile", "email"], "auth_time": 1700000000,
            "something_new": {"a": 1}
        });
        let p: PendingLogin = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(p.request.client_id.as_deref(), Some("app"));
        assert_eq!(p.request.login_hint.as_deref(), Some("alice"));
        assert_eq!(p.remember_me, Some(true));
        assert_eq!(p.consent_scopes.as_deref().unwrap().len(), 2);
        assert_eq!(p.auth_time, Some(1_700_000_000));
        assert_eq!(p.extra.get("something_new"), Some(&json!({"a": 1})));
        assert_eq!(p.extra.len(), 1, "known fields are not kept twice");
        assert_eq!(serde_json::to_value(&p).unwrap(), old, "round trip");
        let device: PendingLogin =
            serde_json::from_value(json!({ "device_verify": true })).unwrap();
        assert_eq!(device.device_verify, Some(true));
        assert_eq!(
            serde_json::to_value(&device).unwrap(),
            json!({ "device_verify": true })
        );
    }

    #[test]
    fn code_data_reads_old_rows() {
        let old = json!({
            "client_id": "app", "redirect_uri": "https://app/cb", "code_challenge": "c",
            "code_challenge_method": "S256", "session_id": "sid", "user_id": "u",
            "auth_time": 5, "remember_me": false
        });
        let c: CodeData = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(c.session_id.as_deref(), Some("sid"));
        assert_eq!(c.request.code_challenge_method.as_deref(), Some("S256"));
        assert_eq!(c.auth_time, Some(5));
        assert_eq!(c.extra.len(), 1, "only remember_me is unknown");
        assert_eq!(serde_json::to_value(&c).unwrap(), old);
    }
}
