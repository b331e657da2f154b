//! Keycloak's names: `EventType` (each with its `_ERROR` twin and whether it is stored by
//! default), `OperationType` and `ResourceType` of admin events, and the `Errors` values the
//! flows here report. Mirrors `server-spi-private/.../events/EventType.java`,
//! `.../events/admin/{OperationType,ResourceType}.java` and `.../events/Errors.java` of
//! Keycloak 26.

/// Base event types with whether the event and its `_ERROR` twin are stored when the realm's
/// `enabledEventTypes` is empty (`EventType(stableIndex, saveByDefault)`).
const TYPES: &[(&str, bool, bool)] = &[
    ("LOGIN", true, true),
    ("REGISTER", true, true),
    ("LOGOUT", true, true),
    ("CODE_TO_TOKEN", true, true),
    ("CLIENT_LOGIN", true, true),
    ("REFRESH_TOKEN", false, false),
    ("VALIDATE_ACCESS_TOKEN", false, false),
    ("INTROSPECT_TOKEN", false, false),
    ("FEDERATED_IDENTITY_LINK", true, true),
    ("REMOVE_FEDERATED_IDENTITY", true, true),
    ("UPDATE_EMAIL", true, true),
    ("UPDATE_PROFILE", true, true),
    ("UPDATE_PASSWORD", true, true),
    ("UPDATE_TOTP", true, true),
    ("UPDATE_CREDENTIAL", true, true),
    ("VERIFY_EMAIL", true, true),
    ("VERIFY_PROFILE", true, true),
    ("REMOVE_TOTP", true, true),
    ("REMOVE_CREDENTIAL", true, true),
    ("GRANT_CONSENT", true, true),
    ("UPDATE_CONSENT", true, true),
    ("REVOKE_GRANT", true, true),
    ("SEND_VERIFY_EMAIL", true, true),
    ("SEND_RESET_PASSWORD", true, true),
    ("SEND_IDENTITY_PROVIDER_LINK", true, true),
    ("RESET_PASSWORD", true, true),
    ("RESTART_AUTHENTICATION", true, true),
    ("INVALID_SIGNATURE", false, false),
    ("REGISTER_NODE", false, false),
    ("UNREGISTER_NODE", false, false),
    ("USER_INFO_REQUEST", false, false),
    ("IDENTITY_PROVIDER_LINK_ACCOUNT", true, true),
    ("IDENTITY_PROVIDER_LOGIN", false, false),
    ("IDENTITY_PROVIDER_FIRST_LOGIN", true, true),
    ("IDENTITY_PROVIDER_POST_LOGIN", true, true),
    ("IDENTITY_PROVIDER_RESPONSE", false, false),
    ("IDENTITY_PROVIDER_RETRIEVE_TOKEN", false, false),
    ("IMPERSONATE", true, true),
    ("CUSTOM_REQUIRED_ACTION", true, true),
    ("EXECUTE_ACTIONS", true, true),
    ("EXECUTE_ACTION_TOKEN", true, true),
    ("CLIENT_INFO", false, false),
    ("CLIENT_REGISTER", true, true),
    ("CLIENT_UPDATE", true, true),
    ("CLIENT_DELETE", true, true),
    ("CLIENT_INITIATED_ACCOUNT_LINKING", true, true),
    ("TOKEN_EXCHANGE", true, true),
    ("OAUTH2_DEVICE_AUTH", true, true),
    ("OAUTH2_DEVICE_VERIFY_USER_CODE", true, true),
    ("OAUTH2_DEVICE_CODE_TO_TOKEN", true, true),
    ("AUTHREQID_TO_TOKEN", true, true),
    ("PERMISSION_TOKEN", true, false),
    ("DELETE_ACCOUNT", true, true),
    ("PUSHED_AUTHORIZATION_REQUEST", false, false),
    ("USER_DISABLED_BY_PERMANENT_LOCKOUT", true, false),
    ("USER_DISABLED_BY_TEMPORARY_LOCKOUT", true, false),
    ("OAUTH2_EXTENSION_GRANT", true, true),
    ("FEDERATED_IDENTITY_OVERRIDE_LINK", true, true),
    ("INVITE_ORG", true, true),
    ("USER_SESSION_DELETED", true, true),
];

/// Whether `name` is one of Keycloak's event types (a base type or its `_ERROR` twin).
pub fn is_event_type(name: &str) -> bool {
    let base = name.strip_suffix("_ERROR").unwrap_or(name);
    TYPES.iter().any(|(t, _, _)| *t == base || *t == name)
}

/// Whether Keycloak stores `name` when `enabledEventTypes` is empty.
pub fn saved_by_default(name: &str) -> bool {
    match name.strip_suffix("_ERROR") {
        Some(base) => TYPES.iter().any(|(t, _, e)| *t == base && *e),
        None => TYPES.iter().any(|(t, s, _)| *t == name && *s),
    }
}

/// Every type stored by default, in `EventType` order: what `GET events/config` lists as
/// `enabledEventTypes` while the realm's list is empty.
pub fn default_enabled() -> Vec<String> {
    let mut out = Vec::new();
    for (t, s, e) in TYPES {
        if *s {
            out.push(t.to_string());
        }
        if *e {
            out.push(format!("{t}_ERROR"));
        }
    }
    out
}

/// `OperationType`.
pub const OPERATION_TYPES: &[&str] = &["CREATE", "UPDATE", "DELETE", "ACTION"];

/// `ResourceType`.
pub const RESOURCE_TYPES: &[&str] = &[
    "REALM",
    "REALM_ROLE",
    "REALM_ROLE_MAPPING",
    "REALM_SCOPE_MAPPING",
    "AUTH_FLOW",
    "AUTH_EXECUTION_FLOW",
    "AUTH_EXECUTION",
    "AUTHENTICATOR_CONFIG",
    "REQUIRED_ACTION",
    "IDENTITY_PROVIDER",
    "IDENTITY_PROVIDER_MAPPER",
    "PROTOCOL_MAPPER",
    "USER",
    "USER_LOGIN_FAILURE",
    "USER_SESSION",
    "USER_FEDERATION_PROVIDER",
    "USER_FEDERATION_MAPPER",
    "GROUP",
    "GROUP_MEMBERSHIP",
    "CLIENT",
    "CLIENT_INITIAL_ACCESS_MODEL",
    "CLIENT_ROLE",
    "CLIENT_ROLE_MAPPING",
    "CLIENT_SCOPE",
    "CLIENT_SCOPE_MAPPING",
    "CLIENT_SCOPE_CLIENT_MAPPING",
    "CLUSTER_NODE",
    "COMPONENT",
    "AUTHORIZATION_RESOURCE_SERVER",
    "AUTHORIZATION_RESOURCE",
    "AUTHORIZATION_SCOPE",
    "AUTHORIZATION_POLICY",
    "CUSTOM",
    "USER_PROFILE",
    "ORGANIZATION",
    "ORGANIZATION_MEMBERSHIP",
];

/// `Errors` values the flows report.
pub mod errors {
    /// Wrong password.
    pub const INVALID_USER_CREDENTIALS: &str = "invalid_user_credentials";
    /// `Errors.IDENTITY_PROVIDER_LOGIN_FAILURE`: the provider's answer was not accepted.
    pub const IDENTITY_PROVIDER_LOGIN_FAILURE: &str = "identity_provider_login_failure";
    /// `Errors.FEDERATED_IDENTITY_EXISTS`: a user with the brokered e-mail or user name exists.
    pub const FEDERATED_IDENTITY_EXISTS: &str = "federated_identity_account_exists";
    /// No such user.
    pub const USER_NOT_FOUND: &str = "user_not_found";
    /// The user is disabled.
    pub const USER_DISABLED: &str = "user_disabled";
    /// `Errors.INVALID_EMAIL`: the address is not the one the link was for.
    pub const INVALID_EMAIL: &str = "invalid_email";
    /// `Errors.EMAIL_ALREADY_VERIFIED`: an e-mail link whose work is done.
    pub const EMAIL_ALREADY_VERIFIED: &str = "email_already_verified";
    /// The client failed to authenticate.
    pub const INVALID_CLIENT_CREDENTIALS: &str = "invalid_client_credentials";
    /// No such client.
    pub const CLIENT_NOT_FOUND: &str = "client_not_found";
    /// The client is disabled.
    pub const CLIENT_DISABLED: &str = "client_disabled";
    /// The client may not do this.
    pub const INVALID_CLIENT: &str = "invalid_client";
    /// Not allowed (a flow the client has switched off).
    pub const NOT_ALLOWED: &str = "not_allowed";
    /// A malformed request.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// An unknown, used or expired code.
    pub const INVALID_CODE: &str = "invalid_code";
    /// An expired code.
    pub const EXPIRED_CODE: &str = "expired_code";
    /// The device flow's user code is unknown, used or expired (`Errors.INVALID_OAUTH2_USER_CODE`).
    pub const INVALID_OAUTH2_USER_CODE: &str = "invalid_oauth2_user_code";
    /// An invalid token.
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// An invalid grant (PKCE, redirect URI mismatch).
    pub const INVALID_GRANT: &str = "invalid_grant";
    /// Required actions are pending.
    pub const RESOLVE_REQUIRED_ACTIONS: &str = "resolve_required_actions";
    /// The session is gone.
    pub const SESSION_EXPIRED: &str = "session_expired";
    /// The user denied access.
    pub const ACCESS_DENIED: &str = "access_denied";
    /// Unexpected failure.
    pub const SERVER_ERROR: &str = "server_error";
    /// The flow failed (an essential `acr` not reached).
    pub const GENERIC_AUTHENTICATION_ERROR: &str = "generic_authentication_error";
    /// The browser's SSO session belongs to another user.
    pub const DIFFERENT_USER_AUTHENTICATED: &str = "different_user_authenticated";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_defaults_follow_keycloak() {
        assert!(is_event_type("LOGIN"));
        assert!(is_event_type("LOGIN_ERROR"));
        assert!(is_event_type("OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR"));
        assert!(!is_event_type("NOPE"));
        assert!(!is_event_type("login"));
        assert!(saved_by_default("LOGIN_ERROR"));
        assert!(!saved_by_default("REFRESH_TOKEN"));
        assert!(!saved_by_default("REFRESH_TOKEN_ERROR"));
        assert!(saved_by_default("PERMISSION_TOKEN"));
        assert!(!saved_by_default("PERMISSION_TOKEN_ERROR"));
        let all = default_enabled();
        assert_eq!(all[0], "LOGIN");
        assert_eq!(all[1], "LOGIN_ERROR");
        assert!(!all.contains(&"INTROSPECT_TOKEN".to_string()));
        assert!(all.contains(&"CLIENT_LOGIN_ERROR".to_string()));
    }
}
