//! Keycloak's JSON representations (`RealmRepresentation` and the types it nests), lossless:
//! the fields Portcullis acts on are typed; every other field is kept in `extra` and written
//! back unchanged, so a realm file survives import and export whole.

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
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Fields not acted on, kept for export.
            #[serde(flatten)]
            pub extra: Extra,
        }
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
    }
}
