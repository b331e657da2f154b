//! Keycloak's JSON representations (`RealmRepresentation` and the types it nests), lossless:
//! the fields Portcullis acts on are typed; every other field is kept in `extra` and written
//! back unchanged, so a realm file survives import and export whole.

pub mod lenient;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Unknown fields, kept in order.
pub type Extra = Map<String, Value>;

macro_rules! rep {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(
                    default,
                    skip_serializing_if = "Option::is_none",
                    deserialize_with = "crate::representation::lenient::opt"
                )]
                pub $field: Option<$ty>,
            )*
            /// Fields not acted on, kept for export.
            #[serde(flatten)]
            pub extra: Extra,
        }

        lenient::strict!($name);
    };
}

rep! {
    /// `RealmRepresentation`.
    pub struct RealmRepresentation {
        /// Realm id.
        id: String,
        /// Realm name.
        realm: String,
        /// Enabled flag.
        enabled: bool,
        /// Default token signature algorithm (`RS256`).
        default_signature_algorithm: String,
        /// Realm and client roles.
        roles: RolesRepresentation,
        /// Group tree.
        groups: Vec<GroupRepresentation>,
        /// The composite default role.
        default_role: RoleRepresentation,
        /// Users (kept in their own table by the store).
        users: Vec<UserRepresentation>,
        /// Clients.
        clients: Vec<ClientRepresentation>,
        /// Client scopes.
        client_scopes: Vec<ClientScopeRepresentation>,
        /// Default client scopes for new clients.
        default_default_client_scopes: Vec<String>,
        /// Optional client scopes for new clients.
        default_optional_client_scopes: Vec<String>,
        /// Realm role scope mappings.
        scope_mappings: Vec<ScopeMappingRepresentation>,
        /// Client role scope mappings, by role-owning clientId.
        client_scope_mappings: IndexMap<String, Vec<ScopeMappingRepresentation>>,
        /// Components by provider type.
        components: IndexMap<String, Vec<ComponentRepresentation>>,
        /// Display name (login page title).
        display_name: String,
        /// `notBefore` (`tokens-not-before`).
        not_before: i64,
        /// `none`, `external` or `all`.
        ssl_required: String,
        /// Password policy (`length(8) and digits(1)`).
        password_policy: String,
        /// Several users may share an e-mail address.
        duplicate_emails_allowed: bool,
        /// Users may log in with their e-mail address.
        login_with_email_allowed: bool,
        /// The e-mail is the user name.
        registration_email_as_username: bool,
        /// Users may change their user name.
        edit_username_allowed: bool,
        /// The login page offers "remember me".
        remember_me: bool,
        /// Organizations are enabled.
        organizations_enabled: bool,
        /// A refresh token can be used `refreshTokenMaxReuse + 1` times.
        revoke_refresh_token: bool,
        /// Reuses of a refresh token allowed with `revokeRefreshToken`.
        refresh_token_max_reuse: i64,
        /// Access token lifespan (s).
        access_token_lifespan: i64,
        /// Access token lifespan for the implicit flow (s).
        access_token_lifespan_for_implicit_flow: i64,
        /// Authorization code lifespan (s).
        access_code_lifespan: i64,
        /// Login page lifespan (s).
        access_code_lifespan_login: i64,
        /// SSO session idle timeout (s).
        sso_session_idle_timeout: i64,
        /// SSO session max lifespan (s).
        sso_session_max_lifespan: i64,
        /// SSO session idle timeout with "remember me" (s).
        sso_session_idle_timeout_remember_me: i64,
        /// SSO session max lifespan with "remember me" (s).
        sso_session_max_lifespan_remember_me: i64,
        /// Client session idle timeout (s, 0: the SSO session's).
        client_session_idle_timeout: i64,
        /// Client session max lifespan (s, 0: the SSO session's).
        client_session_max_lifespan: i64,
        /// Offline session idle timeout (s).
        offline_session_idle_timeout: i64,
        /// Offline sessions have a max lifespan.
        offline_session_max_lifespan_enabled: bool,
        /// Offline session max lifespan (s).
        offline_session_max_lifespan: i64,
        /// Device code lifespan (s).
        oauth2_device_code_lifespan: i64,
        /// Device code polling interval (s).
        oauth2_device_polling_interval: i64,
        /// SMTP settings (`from`, `host`, ...).
        smtp_server: IndexMap<String, Value>,
    }
}

rep! {
    /// `RolesRepresentation`.
    pub struct RolesRepresentation {
        /// Realm roles.
        realm: Vec<RoleRepresentation>,
        /// Client roles by clientId.
        client: IndexMap<String, Vec<RoleRepresentation>>,
    }
}

rep! {
    /// `RoleRepresentation`.
    pub struct RoleRepresentation {
        /// Role id.
        id: String,
        /// Role name.
        name: String,
        /// Composite flag.
        composite: bool,
        /// Composite members.
        composites: Composites,
        /// Client role flag.
        client_role: bool,
        /// Realm or client id.
        container_id: String,
        /// Attributes (Keycloak's values, kept as the file has them).
        attributes: IndexMap<String, Value>,
    }
}

rep! {
    /// `RoleRepresentation.Composites`.
    pub struct Composites {
        /// Realm role names.
        realm: Vec<String>,
        /// Client role names by clientId.
        client: IndexMap<String, Vec<String>>,
    }
}

rep! {
    /// `GroupRepresentation`.
    pub struct GroupRepresentation {
        /// Group id.
        id: String,
        /// Group name.
        name: String,
        /// Path (`/parent/child`).
        path: String,
        /// Realm role names.
        realm_roles: Vec<String>,
        /// Client role names by clientId.
        client_roles: IndexMap<String, Vec<String>>,
        /// Child groups.
        sub_groups: Vec<GroupRepresentation>,
        /// Attributes (Keycloak's values, kept as the file has them).
        attributes: IndexMap<String, Value>,
    }
}

rep! {
    /// `UserRepresentation`.
    pub struct UserRepresentation {
        /// User id.
        id: String,
        /// User name (stored lower-case, as Keycloak does).
        username: String,
        /// E-mail.
        email: String,
        /// Enabled flag.
        enabled: bool,
        /// Credentials.
        credentials: Vec<CredentialRepresentation>,
        /// Required actions.
        required_actions: Vec<String>,
        /// Realm role names.
        realm_roles: Vec<String>,
        /// Client role names by clientId.
        client_roles: IndexMap<String, Vec<String>>,
        /// Group paths.
        groups: Vec<String>,
        /// Set on a client's service-account user.
        service_account_client_id: String,
        /// First name.
        first_name: String,
        /// Last name.
        last_name: String,
        /// E-mail verified.
        email_verified: bool,
        /// Creation time (ms since the epoch).
        created_timestamp: i64,
        /// Tokens issued before this time (s) are invalid.
        not_before: i64,
        /// Attributes (Keycloak's values, kept as the file has them).
        attributes: IndexMap<String, Value>,
        /// Consents granted to clients (`UserConsentRepresentation`).
        client_consents: Vec<Value>,
        /// Links to identity providers (`FederatedIdentityRepresentation`).
        federated_identities: Vec<Value>,
    }
}

rep! {
    /// `CredentialRepresentation`.
    pub struct CredentialRepresentation {
        /// Credential id.
        id: String,
        /// `password`, `otp`, ...
        #[serde(rename = "type")]
        kind: String,
        /// Plaintext value (import only; hashed on import).
        value: String,
        /// Temporary password: the user must change it.
        temporary: bool,
        /// Hash and salt (JSON string).
        secret_data: String,
        /// Algorithm and parameters (JSON string).
        credential_data: String,
        /// Creation time (ms since the epoch).
        created_date: i64,
    }
}

rep! {
    /// `ClientRepresentation`.
    pub struct ClientRepresentation {
        /// Client id (UUID).
        id: String,
        /// OAuth `client_id`.
        client_id: String,
        /// Base for relative redirect URIs.
        root_url: String,
        /// Registered redirect URIs.
        redirect_uris: Vec<String>,
        /// Client secret.
        secret: String,
        /// Public client.
        public_client: bool,
        /// Service account enabled.
        service_accounts_enabled: bool,
        /// `openid-connect` or `saml`.
        protocol: String,
        /// Default client scopes.
        default_client_scopes: Vec<String>,
        /// Optional client scopes.
        optional_client_scopes: Vec<String>,
        /// Display name.
        name: String,
        /// Home URL.
        base_url: String,
        /// Enabled flag (absent: enabled).
        enabled: bool,
        /// Bearer-only client: it never gets tokens.
        bearer_only: bool,
        /// `client-secret`, `client-jwt`, `client-secret-jwt`, `client-x509`, `none`.
        client_authenticator_type: String,
        /// Users must grant consent.
        consent_required: bool,
        /// All the user's roles are in scope (absent: true).
        full_scope_allowed: bool,
        /// Authorization code flow allowed (absent: true).
        standard_flow_enabled: bool,
        /// Implicit and hybrid flows allowed.
        implicit_flow_enabled: bool,
        /// Password grant allowed.
        direct_access_grants_enabled: bool,
        /// Front-channel logout (no back-channel logout token then).
        frontchannel_logout: bool,
        /// Allowed CORS origins (`+`: those of the redirect URIs).
        web_origins: Vec<String>,
        /// Attributes (Keycloak's values, kept as the file has them).
        attributes: IndexMap<String, Value>,
        /// Protocol mappers (`ProtocolMapperRepresentation`, compiled by `mappers`).
        protocol_mappers: Vec<Value>,
        /// The registration access token's policy set and hash (`client_registration`).
        registration_access_token: String,
    }
}

rep! {
    /// `ClientScopeRepresentation`.
    pub struct ClientScopeRepresentation {
        /// Scope id.
        id: String,
        /// Scope name.
        name: String,
        /// Protocol.
        protocol: String,
        /// Attributes (Keycloak's values, kept as the file has them).
        attributes: IndexMap<String, Value>,
        /// Protocol mappers (`ProtocolMapperRepresentation`, compiled by `mappers`).
        protocol_mappers: Vec<Value>,
    }
}

rep! {
    /// `ScopeMappingRepresentation`.
    pub struct ScopeMappingRepresentation {
        /// The clientId that gets the roles in scope.
        client: String,
        /// The client scope that gets the roles in scope.
        client_scope: String,
        /// Role names.
        roles: Vec<String>,
    }
}

rep! {
    /// `ComponentExportRepresentation`.
    pub struct ComponentRepresentation {
        /// Component id.
        id: String,
        /// Name.
        name: String,
        /// Provider id.
        provider_id: String,
        /// Sub type.
        sub_type: String,
        /// Multi-valued config.
        config: IndexMap<String, Vec<String>>,
        /// Parent id (Admin API).
        parent_id: String,
    }
}

impl ComponentRepresentation {
    /// The first value of config entry `key` (Keycloak's `ComponentModel.get`).
    pub fn config_value(&self, key: &str) -> Option<&str> {
        self.config
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

pub mod authentication;
pub mod authz;
