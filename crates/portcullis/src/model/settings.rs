//! Typed realm and client settings, worked out once per realm snapshot from the
//! representation (Keycloak's defaults where a field is absent), so that requests read fields
//! instead of parsing JSON.

use serde_json::Value;

use crate::representation::{ClientRepresentation, RealmRepresentation};

/// Session lifespans in seconds (Keycloak's `SessionExpirationUtils` inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifespans {
    /// `ssoSessionIdleTimeout` (1800).
    pub sso_idle: i64,
    /// `ssoSessionMaxLifespan` (36000).
    pub sso_max: i64,
    /// `ssoSessionIdleTimeoutRememberMe` (0: none).
    pub sso_idle_remember_me: i64,
    /// `ssoSessionMaxLifespanRememberMe` (0: none).
    pub sso_max_remember_me: i64,
    /// `clientSessionIdleTimeout` (0: the SSO session's).
    pub client_idle: i64,
    /// `clientSessionMaxLifespan` (0: the SSO session's).
    pub client_max: i64,
    /// `offlineSessionIdleTimeout` (2592000).
    pub offline_idle: i64,
    /// `offlineSessionMaxLifespanEnabled` (false).
    pub offline_max_enabled: bool,
    /// `offlineSessionMaxLifespan` (5184000).
    pub offline_max: i64,
}

impl SessionLifespans {
    /// The lifespans of a realm.
    pub fn of(rep: &RealmRepresentation) -> Self {
        SessionLifespans {
            sso_idle: rep.sso_session_idle_timeout.unwrap_or(1800),
            sso_max: rep.sso_session_max_lifespan.unwrap_or(36000),
            sso_idle_remember_me: rep.sso_session_idle_timeout_remember_me.unwrap_or(0),
            sso_max_remember_me: rep.sso_session_max_lifespan_remember_me.unwrap_or(0),
            client_idle: rep.client_session_idle_timeout.unwrap_or(0),
            client_max: rep.client_session_max_lifespan.unwrap_or(0),
            offline_idle: rep.offline_session_idle_timeout.unwrap_or(2_592_000),
            offline_max_enabled: rep.offline_session_max_lifespan_enabled.unwrap_or(false),
            offline_max: rep.offline_session_max_lifespan.unwrap_or(5_184_000),
        }
    }
}

impl Default for SessionLifespans {
    fn default() -> Self {
        SessionLifespans::of(&RealmRepresentation::default())
    }
}

/// The realm settings the server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmSettings {
    /// `notBefore` (0).
    pub not_before: i64,
    /// `displayName` when not empty.
    pub display_name: Option<String>,
    /// `sslRequired` (`external`).
    pub ssl_required: String,
    /// `loginWithEmailAllowed` (true).
    pub login_with_email_allowed: bool,
    /// `duplicateEmailsAllowed` (false).
    pub duplicate_emails_allowed: bool,
    /// `registrationEmailAsUsername` (false).
    pub registration_email_as_username: bool,
    /// `editUsernameAllowed` (false).
    pub edit_username_allowed: bool,
    /// `rememberMe` (false).
    pub remember_me: bool,
    /// `organizationsEnabled` (false).
    pub organizations_enabled: bool,
    /// `revokeRefreshToken` (false).
    pub revoke_refresh_token: bool,
    /// `refreshTokenMaxReuse` (0).
    pub refresh_token_max_reuse: i64,
    /// `accessTokenLifespan` (300).
    pub access_token_lifespan: i64,
    /// `accessTokenLifespanForImplicitFlow` (900).
    pub access_token_lifespan_implicit: i64,
    /// `accessCodeLifespan`: the authorization code (60).
    pub access_code_lifespan: i64,
    /// `accessCodeLifespanLogin`: the login page (1800).
    pub access_code_lifespan_login: i64,
    /// `oauth2DeviceCodeLifespan` when positive (else the default 600 applies).
    pub device_code_lifespan: Option<i64>,
    /// `oauth2DevicePollingInterval` when not negative (else the default 5 applies).
    pub device_polling_interval: Option<i64>,
    /// The realm attribute `parRequestUriLifespan`: how long a pushed authorization request
    /// can be used (Keycloak's `ParConfig`, default 60 seconds).
    pub par_request_uri_lifespan: i64,
    /// Session lifespans.
    pub sessions: SessionLifespans,
    /// Events and admin events.
    pub events: EventSettings,
    /// The realm's CIBA policy.
    pub ciba: CibaPolicy,
}

/// A realm's CIBA policy: the realm attributes of Keycloak's `CibaConfig`, with its defaults
/// for absent or blank ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaPolicy {
    /// `cibaBackchannelTokenDeliveryMode` (`poll`).
    pub delivery_mode: String,
    /// `cibaExpiresIn` (120).
    pub expires_in: i64,
    /// `cibaInterval` (5).
    pub interval: i64,
    /// `cibaAuthRequestedUserHint` (`login_hint`).
    pub user_hint: String,
}

impl CibaPolicy {
    /// The policy of a realm.
    pub fn of(rep: &RealmRepresentation) -> Self {
        let attr = |name: &str| {
            rep.extra
                .get("attributes")
                .and_then(|a| a.get(name))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.trim().to_string()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
        };
        let int = |name: &str, default: i64| {
            attr(name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        CibaPolicy {
            delivery_mode: attr("cibaBackchannelTokenDeliveryMode")
                .unwrap_or_else(|| "poll".into()),
            expires_in: int("cibaExpiresIn", 120),
            interval: int("cibaInterval", 5),
            user_hint: attr("cibaAuthRequestedUserHint").unwrap_or_else(|| "login_hint".into()),
        }
    }
}

impl RealmSettings {
    /// The settings of a realm.
    pub fn of(rep: &RealmRepresentation) -> Self {
        RealmSettings {
            not_before: rep.not_before.unwrap_or(0),
            display_name: rep.display_name.clone().filter(|s| !s.is_empty()),
            ssl_required: rep
                .ssl_required
                .clone()
                .unwrap_or_else(|| "external".into()),
            login_with_email_allowed: rep.login_with_email_allowed.unwrap_or(true),
            duplicate_emails_allowed: rep.duplicate_emails_allowed.unwrap_or(false),
            registration_email_as_username: rep.registration_email_as_username.unwrap_or(false),
            edit_username_allowed: rep.edit_username_allowed.unwrap_or(false),
            remember_me: rep.remember_me.unwrap_or(false),
            organizations_enabled: rep.organizations_enabled.unwrap_or(false),
            revoke_refresh_token: rep.revoke_refresh_token.unwrap_or(false),
            refresh_token_max_reuse: rep.refresh_token_max_reuse.unwrap_or(0),
            access_token_lifespan: rep.access_token_lifespan.unwrap_or(300),
            access_token_lifespan_implicit: rep
                .access_token_lifespan_for_implicit_flow
                .unwrap_or(900),
            access_code_lifespan: rep.access_code_lifespan.unwrap_or(60),
            access_code_lifespan_login: rep.access_code_lifespan_login.unwrap_or(1800),
            device_code_lifespan: rep.oauth2_device_code_lifespan.filter(|v| *v > 0),
            device_polling_interval: rep.oauth2_device_polling_interval.filter(|v| *v >= 0),
            par_request_uri_lifespan: rep
                .extra
                .get("attributes")
                .and_then(|a| a.get("parRequestUriLifespan"))
                .and_then(|v| match v {
                    serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
                    other => other.as_i64(),
                })
                .filter(|v| *v > 0)
                .unwrap_or(60),
            sessions: SessionLifespans::of(rep),
            events: EventSettings::of(rep),
            ciba: CibaPolicy::of(rep),
        }
    }

    /// How long a "remember me" SSO cookie lasts: the remember-me max lifespan, else the
    /// ordinary one, else 36000.
    pub fn remember_me_cookie_max_age(&self) -> i64 {
        [self.sessions.sso_max_remember_me, self.sessions.sso_max]
            .into_iter()
            .find(|v| *v > 0)
            .unwrap_or(36000)
    }
}

impl Default for RealmSettings {
    fn default() -> Self {
        RealmSettings::of(&RealmRepresentation::default())
    }
}

/// The client attributes the server acts on (Keycloak's `attributes` are strings; an empty
/// value counts as absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// `pkce.code.challenge.method`: PKCE required with this method.
    pub pkce_method: Option<String>,
    /// `access.token.lifespan` when positive.
    pub access_token_lifespan: Option<i64>,
    /// `access.token.signed.response.alg`.
    pub access_token_alg: Option<String>,
    /// `id.token.signed.response.alg` (also signs logout tokens).
    pub id_token_alg: Option<String>,
    /// `user.info.response.signature.alg`: userinfo answers as a JWT signed with it.
    pub userinfo_alg: Option<String>,
    /// `token.endpoint.auth.signing.alg`: the algorithm client assertions must use.
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// `post.logout.redirect.uris` (`##`-separated, `+`: the redirect URIs).
    pub post_logout_redirect_uris: Option<String>,
    /// `backchannel.logout.url`.
    pub backchannel_logout_url: Option<String>,
    /// `backchannel.logout.session.required` (absent: false).
    pub backchannel_logout_session_required: bool,
    /// `backchannel.logout.revoke.offline.tokens` (absent: false).
    pub backchannel_logout_revoke_offline_tokens: bool,
    /// `use.refresh.tokens` (absent: true).
    pub use_refresh_tokens: bool,
    /// `standard.token.exchange.enabled`.
    pub token_exchange_enabled: bool,
    /// `standard.token.exchange.enableRefreshRequestedTokenType` is `SAME_SESSION`.
    pub token_exchange_refresh_same_session: bool,
    /// `oauth2.device.authorization.grant.enabled`.
    pub device_grant_enabled: bool,
    /// `require.pushed.authorization.requests`: authorization requests only through PAR.
    pub require_par: bool,
    /// `client.use.lightweight.access.token.enabled`: access tokens carry only the claims of
    /// mappers with `lightweight.claim` (Keycloak 25+; its `admin-cli` has it).
    pub lightweight_access_token: bool,
    /// `oauth2.device.code.lifespan`, parsed.
    pub device_code_lifespan: Option<i64>,
    /// `oauth2.device.polling.interval`, parsed.
    pub device_polling_interval: Option<i64>,
    /// `oidc.ciba.grant.enabled`.
    pub ciba_grant_enabled: bool,
    /// `ciba.backchannel.token.delivery.mode` (absent: the realm's).
    pub ciba_delivery_mode: Option<String>,
}

impl ClientSettings {
    /// The settings of a client.
    pub fn of(client: &ClientRepresentation) -> Self {
        let attr = |name: &str| {
            client
                .attributes
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let text = |name: &str| attr(name).map(str::to_string);
        let is_true = |name: &str| attr(name) == Some("true");
        let int = |name: &str| attr(name).and_then(|v| v.trim().parse::<i64>().ok());
        ClientSettings {
            pkce_method: text("pkce.code.challenge.method"),
            access_token_lifespan: attr("access.token.lifespan")
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|v| *v > 0),
            access_token_alg: text("access.token.signed.response.alg"),
            id_token_alg: text("id.token.signed.response.alg"),
            userinfo_alg: text("user.info.response.signature.alg"),
            token_endpoint_auth_signing_alg: text("token.endpoint.auth.signing.alg"),
            post_logout_redirect_uris: text("post.logout.redirect.uris"),
            backchannel_logout_url: text("backchannel.logout.url"),
            backchannel_logout_session_required: is_true("backchannel.logout.session.required"),
            backchannel_logout_revoke_offline_tokens: is_true(
                "backchannel.logout.revoke.offline.tokens",
            ),
            use_refresh_tokens: attr("use.refresh.tokens") != Some("false"),
            token_exchange_enabled: is_true("standard.token.exchange.enabled"),
            token_exchange_refresh_same_session: attr(
                "standard.token.exchange.enableRefreshRequestedTokenType",
            ) == Some("SAME_SESSION"),
            device_grant_enabled: is_true("oauth2.device.authorization.grant.enabled"),
            require_par: is_true("require.pushed.authorization.requests"),
            lightweight_access_token: attr("client.use.lightweight.access.token.enabled")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            device_code_lifespan: int("oauth2.device.code.lifespan"),
            device_polling_interval: int("oauth2.device.polling.interval"),
            ciba_grant_enabled: is_true("oidc.ciba.grant.enabled"),
            ciba_delivery_mode: text("ciba.backchannel.token.delivery.mode"),
        }
    }
}

/// The listener Keycloak gives every realm.
pub const JBOSS_LOGGING: &str = "jboss-logging";

/// A realm's event settings (`RealmEventsConfigRepresentation` fields of the realm).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventSettings {
    /// `eventsEnabled`: store login events.
    pub enabled: bool,
    /// `eventsExpiration` in seconds (0: kept).
    pub expiration: i64,
    /// `enabledEventTypes` (empty: the types stored by default).
    pub enabled_types: Vec<String>,
    /// `adminEventsEnabled`.
    pub admin_enabled: bool,
    /// `adminEventsDetailsEnabled`.
    pub admin_details: bool,
    /// `eventsListeners` (`["jboss-logging"]` when absent).
    pub listeners: Vec<String>,
    /// The realm attribute `adminEventsExpiration` in seconds (0: kept). Keycloak 24+ keeps it
    /// among the realm's `attributes` (a string, `RealmAttributes.ADMIN_EVENTS_EXPIRATION`),
    /// not in `RealmEventsConfigRepresentation`; a value that is not a positive whole number
    /// is ignored, as `JpaAdminEventQuery`'s `clearExpiredAdminEvents` does.
    pub admin_expiration: i64,
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    })
}

impl EventSettings {
    /// The settings of a realm.
    pub fn of(rep: &RealmRepresentation) -> Self {
        let get = |k: &str| rep.extra.get(k);
        let flag = |k: &str| get(k).and_then(Value::as_bool).unwrap_or(false);
        EventSettings {
            enabled: flag("eventsEnabled"),
            expiration: get("eventsExpiration")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .max(0),
            enabled_types: strings(get("enabledEventTypes")).unwrap_or_default(),
            admin_enabled: flag("adminEventsEnabled"),
            admin_details: flag("adminEventsDetailsEnabled"),
            listeners: strings(get("eventsListeners"))
                .unwrap_or_else(|| vec![JBOSS_LOGGING.to_string()]),
            admin_expiration: get("attributes")
                .and_then(|a| a.get("adminEventsExpiration"))
                .and_then(|v| match v {
                    Value::String(s) => s.trim().parse::<i64>().ok(),
                    other => other.as_i64(),
                })
                .unwrap_or(0)
                .max(0),
        }
    }

    /// Whether the realm's events go to the `jboss-logging` listener.
    pub fn jboss_logging(&self) -> bool {
        self.listens(JBOSS_LOGGING)
    }

    /// Whether the realm names the listener `id` in `eventsListeners`.
    pub fn listens(&self, id: &str) -> bool {
        self.listeners.iter().any(|l| l == id)
    }
}
