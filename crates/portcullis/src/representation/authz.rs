//! Authorization Services: Keycloak's `org.keycloak.representations.idm.authorization`
//! types (`ResourceServerRepresentation`, `ResourceRepresentation`, `ScopeRepresentation`,
//! `PolicyRepresentation`), lossless like every representation here.
//!
//! Two forms of the same types travel:
//! - the **stored form** (what `GET .../authz/resource-server/policy/{id}` answers, and what
//!   the store keeps): ids everywhere, and a policy's `config` holds ids inside its
//!   JSON-in-string values (`"applyPolicies": "[\"<policy id>\"]"`, role policies
//!   `"roles": "[{\"id\":\"<role id>\",\"required\":false}]"`);
//! - the **export form** (`GET .../resource-server/settings`, a realm export's
//!   `clients[].authorizationSettings`): no ids, references by name (resources, scopes,
//!   policies), roles as `name` or `clientId/name`, users by username, groups by path,
//!   clients by clientId.
//!
//! Policy `config` values are strings even when they hold JSON, as Keycloak encodes them
//! (`PolicyRepresentation.config` is a `Map<String, String>`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{lenient, Extra};

rep! {
    /// `ResourceServerRepresentation`: a client's authorization settings.
    pub struct ResourceServerRepresentation {
        /// The client's UUID (the resource server's id).
        id: String,
        /// The client's `clientId`.
        client_id: String,
        /// The client's name.
        name: String,
        /// Resources may be managed through the Protection API (default `true`).
        allow_remote_resource_management: bool,
        /// `ENFORCING` (default), `PERMISSIVE` or `DISABLED`.
        policy_enforcement_mode: String,
        /// How permissions combine: `UNANIMOUS` (default), `AFFIRMATIVE` or `CONSENSUS`.
        decision_strategy: String,
        /// Resources.
        resources: Vec<ResourceRepresentation>,
        /// Policies and permissions (permissions are the types `resource` and `scope`).
        policies: Vec<PolicyRepresentation>,
        /// Scopes.
        scopes: Vec<ScopeRepresentation>,
    }
}

rep! {
    /// `ResourceRepresentation`.
    pub struct ResourceRepresentation {
        /// Id (Keycloak writes it `_id`).
        #[serde(rename = "_id")]
        id: String,
        /// Name, unique per owner in the resource server.
        name: String,
        /// Display name.
        display_name: String,
        /// Resource type (`urn:my-rs:resources:default`).
        #[serde(rename = "type")]
        kind: String,
        /// URIs, which may end in a wildcard (`/api/*`).
        uris: Vec<String>,
        /// Scopes (objects; Keycloak also reads the alias `resource_scopes`).
        scopes: Vec<ScopeRepresentation>,
        /// Icon URI (Keycloak writes it `icon_uri`).
        #[serde(rename = "icon_uri")]
        icon_uri: String,
        /// Owner: `{"id","name"}` on output; a plain id or username is accepted on input.
        owner: Value,
        /// The owner manages access to it (UMA).
        owner_managed_access: bool,
        /// Attributes.
        attributes: IndexMap<String, Vec<String>>,
    }
}

rep! {
    /// `ScopeRepresentation`.
    pub struct ScopeRepresentation {
        /// Id.
        id: String,
        /// Name, unique in the resource server.
        name: String,
        /// Display name.
        display_name: String,
        /// Icon URI.
        icon_uri: String,
    }
}

rep! {
    /// `PolicyRepresentation` (generic; the typed representations of `policy/{type}` carry
    /// the same data in their own fields, converted to and from `config`).
    pub struct PolicyRepresentation {
        /// Id.
        id: String,
        /// Name, unique in the resource server.
        name: String,
        /// Description.
        description: String,
        /// Policy type: `role`, `user`, `group`, `client`, `client-scope`, `time`, `regex`,
        /// `aggregate`, `js`; permissions `resource` and `scope`.
        #[serde(rename = "type")]
        kind: String,
        /// `POSITIVE` (default) or `NEGATIVE`.
        logic: String,
        /// `UNANIMOUS` (default), `AFFIRMATIVE` or `CONSENSUS`.
        decision_strategy: String,
        /// Owner (user-managed policies).
        owner: String,
        /// Type-specific settings; values are strings, JSON inside where Keycloak puts it.
        config: IndexMap<String, String>,
    }
}

impl PolicyRepresentation {
    /// `true` for the two permission types.
    pub fn is_permission(&self) -> bool {
        matches!(self.kind.as_deref(), Some("resource" | "scope"))
    }

    /// A config value that holds a JSON list of strings (`resources`, `scopes`,
    /// `applyPolicies`, `users`, `clients`); absent is empty, malformed is an error.
    pub fn config_list(&self, key: &str) -> Result<Vec<String>, serde_json::Error> {
        match self.config.as_ref().and_then(|c| c.get(key)) {
            None => Ok(Vec::new()),
            Some(s) if s.trim().is_empty() => Ok(Vec::new()),
            Some(s) => serde_json::from_str(s),
        }
    }
}
