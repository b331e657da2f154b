//! Authorization Services between Keycloak's JSON and the store's rows: a client's resource
//! server in memory ([`Server`], the stored form), the checks and reference look-ups Keycloak
//! makes on the way in (`RepresentationToModel.toModel`, the policy provider factories'
//! `onCreate` / `onUpdate` / `onImport`), the shapes it answers with
//! (`ModelToRepresentation.toRepresentation`, the factories' `toRepresentation`) and the
//! export form (`ModelToRepresentation.toResourceServerRepresentation`, `onExport`). Shared by
//! the Admin API, realm import and realm export. Plain functions.
//!
//! Stored form: a resource's `owner` is `{"id": <client UUID or user id>}`, its `scopes`
//! `[{"id": <scope id>}]`; a policy's `config` holds its resources, scopes and associated
//! policies as JSON lists of ids (`resources`, `scopes`, `applyPolicies`) beside its own keys
//! with ids (`roles`, `users`, `groups`, `clients`, `clientScopes`).

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::representation::authz::{
    PolicyRepresentation, ResourceRepresentation, ResourceServerRepresentation, ScopeRepresentation,
};
use crate::representation::{GroupRepresentation, RealmRepresentation};
use crate::store::{AuthzKind, AuthzRow, NewResourceServer, ResourceServerRow, Store, StoreError};

/// A client's resource server from the store, with its version; `None` when Authorization
/// Services are off for the client.
pub async fn load(
    store: &dyn Store,
    realm_id: &str,
    client_uuid: &str,
    client_id: &str,
) -> Result<Option<(Server, i64)>, StoreError> {
    let Some(row) = store.resource_server(realm_id, client_uuid).await? else {
        return Ok(None);
    };
    let resources = store
        .authz_rows(realm_id, client_uuid, AuthzKind::Resource)
        .await?;
    let scopes = store
        .authz_rows(realm_id, client_uuid, AuthzKind::Scope)
        .await?;
    let policies = store
        .authz_rows(realm_id, client_uuid, AuthzKind::Policy)
        .await?;
    let server = Server::from_rows(client_id, &row, &resources, &scopes, &policies)
        .map_err(StoreError::Corrupt)?;
    Ok(Some((server, row.version)))
}

/// A client's resource server in the stored form (every resource, scope and policy with its
/// id, policy configs holding ids), as the policy engine compiles it, with the version it
/// was read at (the engine's cache key); `None` when Authorization Services are off for the
/// client.
pub async fn stored_representation(
    store: &dyn Store,
    realm_id: &str,
    client_uuid: &str,
    client_id: &str,
) -> Result<Option<(ResourceServerRepresentation, i64)>, StoreError> {
    Ok(load(store, realm_id, client_uuid, client_id)
        .await?
        .map(|(s, v)| (s.representation(), v)))
}

/// The code of the `Default Policy` Keycloak creates (a `js` policy, created internally).
pub const DEFAULT_POLICY_CODE: &str =
    "// by default, grants any permission associated with this policy\n$evaluation.grant();\n";

/// The policy types Keycloak's `policy/providers` lists: `(type, name, group)`.
pub const POLICY_PROVIDERS: &[(&str, &str, &str)] = &[
    ("aggregate", "Aggregated", "Others"),
    ("client", "Client", "Identity Based"),
    ("client-scope", "Client Scope", "Identity Based"),
    ("group", "Group", "Identity Based"),
    ("js", "JavaScript", "Rule Based"),
    ("regex", "Regex", "Rule Based"),
    ("role", "Role", "Identity Based"),
    ("time", "Time", "Time Based"),
    ("user", "User", "Identity Based"),
];

/// The permission types `permission/providers` lists.
pub const PERMISSION_PROVIDERS: &[(&str, &str, &str)] = &[
    ("resource", "Resource", "Others"),
    ("scope", "Scope", "Others"),
];

/// Keys of a policy's config that hold its associations (ids in the stored form).
const ASSOCIATIONS: &[&str] = &["resources", "scopes", "applyPolicies"];

/// Why a write is refused, as Keycloak answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzError {
    /// A `RuntimeException` in Keycloak: 500 `unknown_error` (the message is logged).
    Runtime(String),
    /// `ErrorResponseException(error, description, status)`.
    OAuth(u16, String, String),
    /// A JAX-RS `BadRequestException(msg)`: 400 `{"error": msg}`.
    BadRequest(String),
    /// `ErrorResponse.error(msg, 400)`: `{"errorMessage": msg}`.
    Invalid(String),
}

type Res<T> = Result<T, AuthzError>;

fn runtime(m: impl Into<String>) -> AuthzError {
    AuthzError::Runtime(m.into())
}

/// Users a conversion may name: id to username and username (lower-case) to id.
#[derive(Debug, Clone, Default)]
pub struct UserDir {
    /// Id to username.
    pub by_id: HashMap<String, String>,
    /// Username (lower-case) to id.
    pub by_name: HashMap<String, String>,
}

impl UserDir {
    /// Adds a user.
    pub fn add(&mut self, id: &str, username: &str) {
        self.by_id.insert(id.to_string(), username.to_string());
        self.by_name.insert(username.to_lowercase(), id.to_string());
    }
    /// A user's id by id or username.
    pub fn resolve(&self, s: &str) -> Option<String> {
        if self.by_id.contains_key(s) {
            return Some(s.to_string());
        }
        self.by_name.get(&s.to_lowercase()).cloned()
    }
}

/// What references resolve against: the realm (roles, groups, clients, client scopes) and
/// the users named.
#[derive(Debug, Clone, Copy)]
pub struct Dir<'a> {
    /// The realm.
    pub realm: &'a RealmRepresentation,
    /// Users.
    pub users: &'a UserDir,
}

impl Dir<'_> {
    fn client_uuid(&self, s: &str) -> Option<(String, String)> {
        self.realm.clients.iter().flatten().find_map(|c| {
            let (id, cid) = (c.id.as_deref()?, c.client_id.as_deref()?);
            (id == s || cid == s).then(|| (id.to_string(), cid.to_string()))
        })
    }
    fn client_id_of(&self, uuid: &str) -> Option<String> {
        self.realm
            .clients
            .iter()
            .flatten()
            .find(|c| c.id.as_deref() == Some(uuid))
            .and_then(|c| c.client_id.clone())
    }
    /// A role by id, realm-role name or `clientId/name` (`RolePolicyProviderFactory`):
    /// `(id, export name)`.
    fn role(&self, s: &str) -> Option<(String, String)> {
        let roles = self.realm.roles.as_ref()?;
        if let Some((client, name)) = s.split_once('/') {
            if let Some(r) = roles
                .client
                .as_ref()
                .and_then(|m| m.get(client))
                .into_iter()
                .flatten()
                .find(|r| r.name.as_deref() == Some(name))
            {
                return Some((r.id.clone()?, s.to_string()));
            }
        }
        if let Some(r) = roles
            .realm
            .iter()
            .flatten()
            .find(|r| r.name.as_deref() == Some(s))
        {
            return Some((r.id.clone()?, s.to_string()));
        }
        self.role_by_id(s).map(|name| (s.to_string(), name))
    }
    /// A role's export name by id (`name` or `clientId/name`).
    fn role_by_id(&self, id: &str) -> Option<String> {
        let roles = self.realm.roles.as_ref()?;
        if let Some(r) = roles
            .realm
            .iter()
            .flatten()
            .find(|r| r.id.as_deref() == Some(id))
        {
            return r.name.clone();
        }
        for (client, list) in roles.client.iter().flatten() {
            if let Some(r) = list.iter().find(|r| r.id.as_deref() == Some(id)) {
                return Some(format!(
                    "{client}/{}",
                    r.name.as_deref().unwrap_or_default()
                ));
            }
        }
        None
    }
    /// A group by id or path: `(id, path)`.
    fn group(&self, id: Option<&str>, path: Option<&str>) -> Option<(String, String)> {
        fn walk<'g>(
            list: &'g [GroupRepresentation],
            parent: &str,
            out: &mut Vec<(String, &'g GroupRepresentation)>,
        ) {
            for g in list {
                let path = format!("{parent}/{}", g.name.as_deref().unwrap_or_default());
                out.push((path.clone(), g));
                walk(g.sub_groups.as_deref().unwrap_or_default(), &path, out);
            }
        }
        let mut all = Vec::new();
        walk(
            self.realm.groups.as_deref().unwrap_or_default(),
            "",
            &mut all,
        );
        all.into_iter().find_map(|(p, g)| {
            let gid = g.id.clone()?;
            let hit = match (id, path) {
                (Some(i), _) if i == gid => true,
                (_, Some(want)) => want == p,
                _ => false,
            };
            hit.then_some((gid, p))
        })
    }
    /// A client scope by id or name: `(id, name)`.
    fn client_scope(&self, s: &str) -> Option<(String, String)> {
        self.realm.client_scopes.iter().flatten().find_map(|c| {
            let (id, name) = (c.id.as_deref()?, c.name.as_deref()?);
            (id == s || name == s).then(|| (id.to_string(), name.to_string()))
        })
    }
}

/// A client's resource server in memory, in the stored form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Server {
    /// The client's UUID.
    pub id: String,
    /// The client's `clientId`.
    pub client_id: String,
    /// `allowRemoteResourceManagement`, `policyEnforcementMode`, `decisionStrategy`.
    pub settings: Map<String, Value>,
    /// Resources.
    pub resources: Vec<ResourceRepresentation>,
    /// Scopes.
    pub scopes: Vec<ScopeRepresentation>,
    /// Policies and permissions.
    pub policies: Vec<PolicyRepresentation>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

/// The owner id of a stored resource.
pub fn owner_id(r: &ResourceRepresentation) -> String {
    match &r.owner {
        Some(Value::Object(o)) => o
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

impl Server {
    /// A server without resources, with Keycloak's default settings.
    pub fn empty(id: &str, client_id: &str) -> Self {
        Server {
            id: id.to_string(),
            client_id: client_id.to_string(),
            settings: default_settings(),
            ..Default::default()
        }
    }

    /// Keycloak's defaults on switching a client on (`ResourceServerService.create`): the
    /// `Default Resource`, the `Default Policy` (js, created internally) and the
    /// `Default Permission` applying it to the default resource type.
    pub fn with_defaults(id: &str, client_id: &str) -> Self {
        let mut s = Server::empty(id, client_id);
        let kind = format!("urn:{client_id}:resources:default");
        s.resources.push(ResourceRepresentation {
            id: Some(new_id()),
            name: Some("Default Resource".into()),
            kind: Some(kind.clone()),
            uris: Some(vec!["/*".into()]),
            owner: Some(json!({"id": id})),
            owner_managed_access: Some(false),
            attributes: Some(IndexMap::new()),
            ..Default::default()
        });
        let policy_id = new_id();
        s.policies.push(PolicyRepresentation {
            id: Some(policy_id.clone()),
            name: Some("Default Policy".into()),
            description: Some(
                "A policy that grants access only for users within this realm".into(),
            ),
            kind: Some("js".into()),
            logic: Some("POSITIVE".into()),
            decision_strategy: Some("AFFIRMATIVE".into()),
            config: Some(IndexMap::from([(
                "code".to_string(),
                DEFAULT_POLICY_CODE.to_string(),
            )])),
            ..Default::default()
        });
        s.policies.push(PolicyRepresentation {
            id: Some(new_id()),
            name: Some("Default Permission".into()),
            description: Some("A permission that applies to the default resource type".into()),
            kind: Some("resource".into()),
            logic: Some("POSITIVE".into()),
            decision_strategy: Some("UNANIMOUS".into()),
            config: Some(IndexMap::from([
                ("defaultResourceType".to_string(), kind),
                ("applyPolicies".to_string(), json!([policy_id]).to_string()),
            ])),
            ..Default::default()
        });
        s
    }

    /// From the store's rows.
    pub fn from_rows(
        client_id: &str,
        server: &ResourceServerRow,
        resources: &[AuthzRow],
        scopes: &[AuthzRow],
        policies: &[AuthzRow],
    ) -> Result<Self, String> {
        Ok(Server {
            id: server.id.clone(),
            client_id: client_id.to_string(),
            settings: parse(&server.settings)?,
            resources: resources
                .iter()
                .map(|r| parse(&r.representation))
                .collect::<Result<_, _>>()?,
            scopes: scopes
                .iter()
                .map(|r| parse(&r.representation))
                .collect::<Result<_, _>>()?,
            policies: policies
                .iter()
                .map(|r| parse(&r.representation))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The settings JSON the store keeps.
    pub fn settings_json(&self) -> String {
        Value::Object(self.settings.clone()).to_string()
    }

    /// As the store's rows (version 1 for a new server; the store bumps an existing one).
    pub fn to_rows(&self) -> NewResourceServer {
        NewResourceServer {
            server: ResourceServerRow {
                id: self.id.clone(),
                settings: self.settings_json(),
                version: 1,
            },
            resources: self.resources.iter().map(resource_row).collect(),
            scopes: self.scopes.iter().map(scope_row).collect(),
            policies: self.policies.iter().map(policy_row).collect(),
        }
    }

    /// The stored form as one `ResourceServerRepresentation` (what the policy engine
    /// compiles): every resource (scopes with their names), scope and policy, with ids.
    pub fn representation(&self) -> ResourceServerRepresentation {
        let resources = self
            .resources
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(list) = r.scopes.as_mut() {
                    for s in list.iter_mut() {
                        s.name = self
                            .scope(s.id.as_deref().unwrap_or_default())
                            .and_then(|x| x.name.clone());
                    }
                }
                r
            })
            .collect();
        ResourceServerRepresentation {
            id: Some(self.id.clone()),
            client_id: Some(self.id.clone()),
            name: Some(self.client_id.clone()),
            allow_remote_resource_management: Some(self.allow_remote()),
            policy_enforcement_mode: Some(self.setting("policyEnforcementMode", "ENFORCING")),
            decision_strategy: Some(self.setting("decisionStrategy", "UNANIMOUS")),
            resources: Some(resources),
            policies: Some(self.policies.clone()),
            scopes: Some(self.scopes.clone()),
            extra: Map::new(),
        }
    }

    fn setting(&self, k: &str, default: &str) -> String {
        self.settings
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    }

    fn allow_remote(&self) -> bool {
        self.settings
            .get("allowRemoteResourceManagement")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// `ResourceServerRepresentation` as `GET .../resource-server` answers it.
    pub fn summary_json(&self) -> Value {
        json!({
            "id": self.id,
            "clientId": self.id,
            "name": self.client_id,
            "allowRemoteResourceManagement": self.allow_remote(),
            "policyEnforcementMode": self.setting("policyEnforcementMode", "ENFORCING"),
            "decisionStrategy": self.setting("decisionStrategy", "UNANIMOUS"),
        })
    }

    /// A scope by id.
    pub fn scope(&self, id: &str) -> Option<&ScopeRepresentation> {
        self.scopes.iter().find(|s| s.id.as_deref() == Some(id))
    }
    /// A scope by id or name.
    pub fn scope_ref(&self, s: &str) -> Option<&ScopeRepresentation> {
        self.scope(s)
            .or_else(|| self.scopes.iter().find(|x| x.name.as_deref() == Some(s)))
    }
    /// A resource by id.
    pub fn resource(&self, id: &str) -> Option<&ResourceRepresentation> {
        self.resources.iter().find(|r| r.id.as_deref() == Some(id))
    }
    /// A resource by id or name (of any owner, the server's first).
    pub fn resource_ref(&self, s: &str) -> Option<&ResourceRepresentation> {
        self.resource(s).or_else(|| {
            let named = |r: &&ResourceRepresentation| r.name.as_deref() == Some(s);
            self.resources
                .iter()
                .filter(named)
                .find(|r| owner_id(r) == self.id)
                .or_else(|| self.resources.iter().find(named))
        })
    }
    /// A policy by id.
    pub fn policy(&self, id: &str) -> Option<&PolicyRepresentation> {
        self.policies.iter().find(|p| p.id.as_deref() == Some(id))
    }
    /// A policy by id or name.
    pub fn policy_ref(&self, s: &str) -> Option<&PolicyRepresentation> {
        self.policy(s)
            .or_else(|| self.policies.iter().find(|p| p.name.as_deref() == Some(s)))
    }
    /// A policy by name.
    pub fn policy_by_name(&self, s: &str) -> Option<&PolicyRepresentation> {
        self.policies.iter().find(|p| p.name.as_deref() == Some(s))
    }
    fn upsert_policy(&mut self, p: PolicyRepresentation) {
        match self.policies.iter_mut().find(|x| x.id == p.id) {
            Some(slot) => *slot = p,
            None => self.policies.push(p),
        }
    }
}

/// Keycloak's defaults of a new resource server.
pub fn default_settings() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("allowRemoteResourceManagement".into(), json!(true));
    m.insert("policyEnforcementMode".into(), json!("ENFORCING"));
    m.insert("decisionStrategy".into(), json!("UNANIMOUS"));
    m
}

/// A resource's row.
pub fn resource_row(r: &ResourceRepresentation) -> AuthzRow {
    AuthzRow {
        id: r.id.clone().unwrap_or_default(),
        name: r.name.clone().unwrap_or_default(),
        owner: owner_id(r),
        representation: serde_json::to_string(r).unwrap_or_default(),
    }
}

/// A scope's row.
pub fn scope_row(s: &ScopeRepresentation) -> AuthzRow {
    AuthzRow {
        id: s.id.clone().unwrap_or_default(),
        name: s.name.clone().unwrap_or_default(),
        owner: String::new(),
        representation: serde_json::to_string(s).unwrap_or_default(),
    }
}

/// A policy's row.
pub fn policy_row(p: &PolicyRepresentation) -> AuthzRow {
    AuthzRow {
        id: p.id.clone().unwrap_or_default(),
        name: p.name.clone().unwrap_or_default(),
        owner: p.owner.clone().unwrap_or_default(),
        representation: serde_json::to_string(p).unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------
// Settings

/// Applies the settings of a `ResourceServerRepresentation` (`PUT`, import): the enforcement
/// mode, the decision strategy and remote management; a value Keycloak's enums do not know
/// is refused as Jackson refuses it.
pub fn apply_settings(server: &mut Server, rep: &Map<String, Value>, import: bool) -> Res<()> {
    let modes = ["ENFORCING", "PERMISSIVE", "DISABLED"];
    let strategies = ["UNANIMOUS", "AFFIRMATIVE", "CONSENSUS"];
    for (k, allowed) in [
        ("policyEnforcementMode", &modes[..]),
        ("decisionStrategy", &strategies[..]),
    ] {
        match rep.get(k) {
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => {
                server.settings.insert(k.into(), json!(s));
            }
            Some(Value::Null) | None => {
                // `setDecisionStrategy(null)` is read as UNANIMOUS on import; a PUT keeps null,
                // which Keycloak's model answers as the default too.
                let default = if k == "decisionStrategy" {
                    "UNANIMOUS"
                } else {
                    "ENFORCING"
                };
                if import || k == "decisionStrategy" {
                    server.settings.insert(k.into(), json!(default));
                }
            }
            Some(v) => return Err(enum_mismatch(k, v, allowed)),
        }
    }
    let allow = match rep.get("allowRemoteResourceManagement") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Null) | None => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(AuthzError::OAuth(
                400,
                "unknown_error".into(),
                format!("Cannot deserialize value of type `boolean` from {v}"),
            ))
        }
    };
    server
        .settings
        .insert("allowRemoteResourceManagement".into(), json!(allow));
    Ok(())
}

fn enum_mismatch(field: &str, v: &Value, allowed: &[&str]) -> AuthzError {
    let class = if field == "decisionStrategy" {
        "org.keycloak.representations.idm.authorization.DecisionStrategy"
    } else {
        "org.keycloak.representations.idm.authorization.PolicyEnforcementMode"
    };
    AuthzError::OAuth(
        400,
        "unknown_error".into(),
        format!(
            "Cannot parse the JSON: Cannot deserialize value of type `{class}` from String {v}: not one of the values accepted for Enum class: [{}]",
            allowed.join(", ")
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Scopes

/// A scope from a request (`ScopeService.create` / `update`).
pub fn scope_in(
    server: &Server,
    v: &Map<String, Value>,
    existing: Option<&ScopeRepresentation>,
) -> Res<ScopeRepresentation> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let renamed =
        existing.is_none() || existing.and_then(|e| e.name.as_deref()) != Some(name.as_str());
    if renamed
        && server
            .scopes
            .iter()
            .any(|s| s.name.as_deref() == Some(name.as_str()))
    {
        return Err(AuthzError::OAuth(
            409,
            "invalid_request".into(),
            format!("Scope with name [{name}] already exists."),
        ));
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(ScopeRepresentation {
        id: existing
            .and_then(|e| e.id.clone())
            .or_else(|| text("id").filter(|s| server.scope(s).is_none() && !s.is_empty()))
            .or_else(|| Some(new_id())),
        name: Some(name),
        display_name: text("displayName"),
        icon_uri: text("iconUri"),
        extra: Map::new(),
    })
}

/// A scope as Keycloak answers it (`id`, `name`, `displayName`, `iconUri`).
pub fn scope_json(s: &ScopeRepresentation) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(s.id));
    o.insert("name".into(), json!(s.name));
    if let Some(d) = &s.display_name {
        o.insert("displayName".into(), json!(d));
    }
    if let Some(d) = &s.icon_uri {
        o.insert("iconUri".into(), json!(d));
    }
    Value::Object(o)
}

// ---------------------------------------------------------------------------------------
// Resources

fn strings_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o
                    .get("name")
                    .or_else(|| o.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// A resource from a request or an import (`ResourceSetService.create` / `update`,
/// `RepresentationToModel.toModel(ResourceRepresentation)`): the owner resolved (absent: the
/// resource server), scopes by id or name (a scope the server lacks is created, as Keycloak
/// does; `new_scopes` gets it).
pub fn resource_in(
    dir: Dir<'_>,
    server: &Server,
    v: &Map<String, Value>,
    existing: Option<&ResourceRepresentation>,
    new_scopes: &mut Vec<ScopeRepresentation>,
) -> Res<ResourceRepresentation> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let owner = match v.get("owner") {
        None | Some(Value::Null) => existing.map(owner_id).unwrap_or_else(|| server.id.clone()),
        Some(o) => {
            let (id, uname) = match o {
                Value::String(s) => (Some(s.clone()), None),
                Value::Object(m) => (
                    m.get("id").and_then(Value::as_str).map(str::to_string),
                    m.get("name").and_then(Value::as_str).map(str::to_string),
                ),
                _ => (None, None),
            };
            let Some(key) = id.clone().or(uname.clone()) else {
                return Err(AuthzError::OAuth(
                    400,
                    "invalid_request".into(),
                    "You must specify the resource owner.".into(),
                ));
            };
            if key == server.id || key == server.client_id {
                server.id.clone()
            } else if let Some(u) = dir
                .users
                .resolve(&key)
                .or_else(|| uname.as_deref().and_then(|n| dir.users.resolve(n)))
            {
                u
            } else {
                return Err(runtime(
                    "Owner must be a valid username or user identifier. If the resource server, the client id or null.",
                ));
            }
        }
    };
    let taken = server.resources.iter().any(|r| {
        r.name.as_deref() == Some(name.as_str())
            && owner_id(r) == owner
            && (existing.is_none() || r.id != existing.and_then(|e| e.id.clone()))
    });
    if taken {
        return Err(AuthzError::OAuth(
            409,
            "invalid_request".into(),
            format!("Resource with name [{name}] already exists."),
        ));
    }
    let mut scopes = Vec::new();
    let scope_list = v.get("scopes").or_else(|| v.get("resource_scopes"));
    for s in strings_of_scopes(scope_list) {
        let id = match server.scope_ref(&s).or_else(|| {
            new_scopes.iter().find(|x| {
                x.name.as_deref() == Some(s.as_str()) || x.id.as_deref() == Some(s.as_str())
            })
        }) {
            Some(x) => x.id.clone().unwrap_or_default(),
            None => {
                let sc = ScopeRepresentation {
                    id: Some(new_id()),
                    name: Some(s.clone()),
                    ..Default::default()
                };
                let id = sc.id.clone().unwrap_or_default();
                new_scopes.push(sc);
                id
            }
        };
        if !scopes
            .iter()
            .any(|x: &ScopeRepresentation| x.id.as_deref() == Some(id.as_str()))
        {
            scopes.push(ScopeRepresentation {
                id: Some(id),
                ..Default::default()
            });
        }
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut uris: Vec<String> = strings_of(v.get("uris"));
    if uris.is_empty() {
        if let Some(u) = text("uri").filter(|u| !u.is_empty()) {
            uris.push(u);
        }
    }
    let mut seen = HashSet::new();
    uris.retain(|u| seen.insert(u.clone()));
    // On an update, absent attributes, scopes and URIs are kept (`toModel` changes what the
    // representation carries).
    let attributes: IndexMap<String, Vec<String>> = match v.get("attributes") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), strings_of(Some(v))))
            .collect(),
        _ => existing
            .and_then(|e| e.attributes.clone())
            .unwrap_or_default(),
    };
    let scopes = match (scope_list, existing) {
        (None | Some(Value::Null), Some(e)) => e.scopes.clone().unwrap_or_default(),
        _ => scopes,
    };
    if uris.is_empty() && v.get("uris").is_none() && v.get("uri").is_none() {
        if let Some(e) = existing {
            uris = e.uris.clone().unwrap_or_default();
        }
    }
    Ok(ResourceRepresentation {
        id: existing
            .and_then(|e| e.id.clone())
            .or_else(|| text("_id").filter(|s| !s.is_empty() && server.resource(s).is_none()))
            .or_else(|| Some(new_id())),
        name: Some(name),
        display_name: text("displayName"),
        kind: text("type"),
        uris: Some(uris),
        scopes: Some(scopes),
        icon_uri: text("icon_uri"),
        owner: Some(json!({ "id": owner })),
        owner_managed_access: Some(
            v.get("ownerManagedAccess")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        attributes: Some(attributes),
        extra: Map::new(),
    })
}

fn strings_of_scopes(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o
                    .get("id")
                    .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                    .or_else(|| o.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A resource as Keycloak answers it (`ModelToRepresentation.toRepresentation(Resource)`):
/// the owner with its name, scopes with their names (with `deep`), attributes.
pub fn resource_json(
    dir: Dir<'_>,
    server: &Server,
    r: &ResourceRepresentation,
    deep: bool,
) -> Value {
    let owner = owner_id(r);
    let owner_name = if owner == server.id {
        Some(server.client_id.clone())
    } else {
        dir.users.by_id.get(&owner).cloned()
    };
    let mut o = Map::new();
    o.insert("name".into(), json!(r.name));
    if let Some(t) = &r.kind {
        o.insert("type".into(), json!(t));
    }
    o.insert("owner".into(), json!({"id": owner, "name": owner_name}));
    o.insert(
        "ownerManagedAccess".into(),
        json!(r.owner_managed_access.unwrap_or(false)),
    );
    if let Some(d) = &r.display_name {
        o.insert("displayName".into(), json!(d));
    }
    if deep {
        o.insert(
            "attributes".into(),
            json!(r.attributes.clone().unwrap_or_default()),
        );
    }
    o.insert("_id".into(), json!(r.id));
    o.insert("uris".into(), json!(r.uris.clone().unwrap_or_default()));
    if deep {
        let scopes: Vec<Value> = r
            .scopes
            .iter()
            .flatten()
            .filter_map(|s| server.scope(s.id.as_deref().unwrap_or_default()))
            .map(|s| {
                let mut m = Map::new();
                m.insert("id".into(), json!(s.id));
                m.insert("name".into(), json!(s.name));
                if let Some(i) = &s.icon_uri {
                    m.insert("iconUri".into(), json!(i));
                }
                Value::Object(m)
            })
            .collect();
        if !scopes.is_empty() {
            o.insert("scopes".into(), Value::Array(scopes));
        }
    }
    if let Some(i) = &r.icon_uri {
        o.insert("icon_uri".into(), json!(i));
    }
    Value::Object(o)
}

// ---------------------------------------------------------------------------------------
// Policies

/// The types a policy may have (`policy/{type}`), permissions excluded.
pub fn is_policy_type(t: &str) -> bool {
    POLICY_PROVIDERS.iter().any(|(k, _, _)| *k == t)
}

/// The types a permission may have.
pub fn is_permission_type(t: &str) -> bool {
    matches!(t, "resource" | "scope")
}

fn config_json_list(config: &IndexMap<String, String>, key: &str) -> Res<Option<Vec<Value>>> {
    match config.get(key) {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(Some(Vec::new())),
        Some(s) => serde_json::from_str::<Vec<Value>>(s)
            .map(Some)
            .map_err(|e| runtime(format!("Could not parse [{key}] of policy config: {e}"))),
    }
}

fn as_strings(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .collect()
}

fn set_list(config: &mut IndexMap<String, String>, key: &str, ids: &[String]) {
    config.insert(key.to_string(), json!(ids).to_string());
}

/// A policy or permission from a request or an import, in the stored form.
///
/// `v` is the JSON as sent: a generic `PolicyRepresentation` (`config` with JSON-in-strings)
/// when `typed` is false, else the typed representation of `kind` (`roles`, `users`, ...).
/// Associations come from the top-level `resources`, `scopes`, `policies` when present, else
/// from the config (`RepresentationToModel.toModel(AbstractPolicyRepresentation)`), by id or
/// name. `allow_js` lets the internal `Default Policy` through (Keycloak's
/// `ALLOW_CREATE_POLICY`).
pub fn policy_in(
    dir: Dir<'_>,
    server: &Server,
    kind: &str,
    v: &Map<String, Value>,
    typed: bool,
    existing: Option<&PolicyRepresentation>,
    allow_js: bool,
) -> Res<PolicyRepresentation> {
    let name = v.get("name").and_then(Value::as_str).map(str::to_string);
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if !is_policy_type(kind) && !is_permission_type(kind) {
        return Err(runtime(format!(
            "Could find policy provider with type [{kind}]"
        )));
    }
    let mut config: IndexMap<String, String> = if typed {
        existing.and_then(|e| e.config.clone()).unwrap_or_default()
    } else {
        match v.get("config") {
            Some(Value::Object(m)) => m
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
            _ => IndexMap::new(),
        }
    };
    // Associations.
    let top = |k: &str| match v.get(k) {
        Some(Value::Array(a)) => Some(as_strings(a)),
        _ => None,
    };
    let resources = match top("resources") {
        Some(l) => Some(l),
        None => config_json_list(&config, "resources")?.map(|l| as_strings(&l)),
    };
    let scopes = match top("scopes") {
        Some(l) => Some(l),
        None => config_json_list(&config, "scopes")?.map(|l| as_strings(&l)),
    };
    let policies = match top("policies") {
        Some(l) => Some(l),
        None => config_json_list(&config, "applyPolicies")?.map(|l| as_strings(&l)),
    };
    let keep = |key: &str, config: &IndexMap<String, String>| {
        existing
            .and_then(|e| e.config.as_ref())
            .and_then(|c| c.get(key))
            .filter(|_| !config.contains_key(key))
            .cloned()
    };
    if let Some(list) = resources {
        let mut ids = Vec::new();
        for r in list {
            let Some(res) = server.resource_ref(&r) else {
                return Err(runtime(format!(
                    "Resource with id or name [{r}] does not exist or is not owned by the resource server"
                )));
            };
            ids.push(res.id.clone().unwrap_or_default());
        }
        if ids.is_empty() {
            config.shift_remove("resources");
        } else {
            set_list(&mut config, "resources", &ids);
        }
    } else if let Some(k) = keep("resources", &config) {
        config.insert("resources".into(), k);
    }
    if let Some(list) = scopes {
        let mut ids = Vec::new();
        for s in list {
            let Some(sc) = server.scope_ref(&s) else {
                return Err(runtime(format!(
                    "Scope with id or name [{s}] does not exist"
                )));
            };
            ids.push(sc.id.clone().unwrap_or_default());
        }
        if ids.is_empty() {
            config.shift_remove("scopes");
        } else {
            set_list(&mut config, "scopes", &ids);
        }
    } else if let Some(k) = keep("scopes", &config) {
        config.insert("scopes".into(), k);
    }
    if let Some(list) = policies {
        let mut ids = Vec::new();
        for p in list {
            let Some(pol) = server.policy_ref(&p) else {
                return Err(runtime(format!(
                    "Policy with id or name [{p}] does not exist"
                )));
            };
            ids.push(pol.id.clone().unwrap_or_default());
        }
        if ids.is_empty() {
            config.shift_remove("applyPolicies");
        } else {
            set_list(&mut config, "applyPolicies", &ids);
        }
    } else if let Some(k) = keep("applyPolicies", &config) {
        config.insert("applyPolicies".into(), k);
    }
    let pname = name.clone().unwrap_or_default();
    // The provider's own settings.
    match kind {
        "role" => {
            let roles: Option<Vec<Value>> = if typed {
                v.get("roles").and_then(Value::as_array).cloned()
            } else {
                config_json_list(&config, "roles")?
            };
            if let Some(roles) = roles {
                let mut out = Vec::new();
                for r in roles {
                    let (key, required) = match &r {
                        Value::Object(o) => (
                            o.get("id")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            o.get("required").and_then(Value::as_bool).unwrap_or(false),
                        ),
                        Value::String(s) => (s.clone(), false),
                        _ => (String::new(), false),
                    };
                    let Some((id, _)) = dir.role(&key) else {
                        if let Some((client, _)) = key.split_once('/') {
                            if dir.client_uuid(client).is_none() {
                                return Err(runtime(format!(
                                    "Client with id [{client}] not found."
                                )));
                            }
                        }
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. Role [{key}] could not be found."
                        )));
                    };
                    out.push(json!({"id": id, "required": required}));
                }
                config.insert("roles".into(), Value::Array(out).to_string());
            }
            if typed {
                if let Some(f) = v.get("fetchRoles").and_then(Value::as_bool) {
                    config.insert("fetchRoles".into(), f.to_string());
                }
            }
        }
        "user" => {
            let users: Option<Vec<String>> = if typed {
                v.get("users")
                    .and_then(Value::as_array)
                    .map(|a| as_strings(a))
            } else {
                config_json_list(&config, "users")?.map(|l| as_strings(&l))
            };
            if let Some(users) = users {
                let mut ids = Vec::new();
                for u in users {
                    let Some(id) = dir.users.resolve(&u) else {
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. User [{u}] could not be found."
                        )));
                    };
                    ids.push(id);
                }
                set_list(&mut config, "users", &ids);
            }
        }
        "group" => {
            let groups: Option<Vec<Value>> = if typed {
                v.get("groups").and_then(Value::as_array).cloned()
            } else {
                config_json_list(&config, "groups")?
            };
            if let Some(groups) = groups {
                let mut out = Vec::new();
                for g in groups {
                    let o = g.as_object().cloned().unwrap_or_default();
                    let id = o.get("id").and_then(Value::as_str);
                    let path = o.get("path").and_then(Value::as_str);
                    let Some((gid, _)) = dir.group(id, path) else {
                        return Err(runtime(format!(
                            "Group with id [{}] not found.",
                            id.or(path).unwrap_or_default()
                        )));
                    };
                    out.push(json!({"id": gid, "extendChildren": o.get("extendChildren").and_then(Value::as_bool).unwrap_or(false)}));
                }
                config.insert("groups".into(), Value::Array(out).to_string());
            }
            if typed {
                if let Some(c) = v.get("groupsClaim").and_then(Value::as_str) {
                    config.insert("groupsClaim".into(), c.to_string());
                }
            }
        }
        "client" => {
            let clients: Option<Vec<String>> = if typed {
                v.get("clients")
                    .and_then(Value::as_array)
                    .map(|a| as_strings(a))
            } else {
                config_json_list(&config, "clients")?.map(|l| as_strings(&l))
            };
            if let Some(clients) = clients {
                let mut ids = Vec::new();
                for c in clients {
                    let Some((id, _)) = dir.client_uuid(&c) else {
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. Client [{c}] could not be found."
                        )));
                    };
                    ids.push(id);
                }
                set_list(&mut config, "clients", &ids);
            }
        }
        "client-scope" => {
            let scopes: Option<Vec<Value>> = if typed {
                v.get("clientScopes").and_then(Value::as_array).cloned()
            } else {
                config_json_list(&config, "clientScopes")?
            };
            if let Some(scopes) = scopes {
                let mut out = Vec::new();
                for s in scopes {
                    let (key, required) = match &s {
                        Value::Object(o) => (
                            o.get("id")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            o.get("required").and_then(Value::as_bool).unwrap_or(false),
                        ),
                        Value::String(x) => (x.clone(), false),
                        _ => (String::new(), false),
                    };
                    let Some((id, _)) = dir.client_scope(&key) else {
                        return Err(runtime(format!(
                            "Error while updating policy [{pname}]. Client Scope [{key}] could not be found."
                        )));
                    };
                    out.push(json!({"id": id, "required": required}));
                }
                config.insert("clientScopes".into(), Value::Array(out).to_string());
            }
        }
        "time" => {
            if typed {
                for (field, key) in TIME_FIELDS {
                    config.shift_remove(*key);
                    if let Some(s) = v.get(*field).and_then(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .or_else(|| x.as_i64().map(|i| i.to_string()))
                    }) {
                        config.insert(key.to_string(), s);
                    }
                }
            }
            for key in ["nbf", "noa"] {
                if let Some(d) = config.get(key) {
                    if !valid_time(d) {
                        return Err(runtime(format!(
                            "Could not parse a date using format [{d}]"
                        )));
                    }
                }
            }
        }
        "regex" if typed => {
            for k in ["targetClaim", "pattern"] {
                if let Some(s) = v.get(k).and_then(Value::as_str) {
                    config.insert(k.into(), s.to_string());
                }
            }
            if let Some(b) = v.get("targetContextAttributes").and_then(Value::as_bool) {
                config.insert("targetContextAttributes".into(), b.to_string());
            }
        }
        "js" => {
            if typed {
                if let Some(c) = v.get("code").and_then(Value::as_str) {
                    config.insert("code".into(), c.to_string());
                }
            }
            // `JSPolicyProviderFactory`: only deployed scripts, or the server's own Default Policy.
            if !allow_js || config.get("code").map(String::as_str) != Some(DEFAULT_POLICY_CODE) {
                return Err(runtime("Script upload is disabled"));
            }
        }
        "resource" if typed => match v.get("resourceType").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => {
                config.insert("defaultResourceType".into(), t.to_string());
            }
            _ => {
                config.shift_remove("defaultResourceType");
            }
        },
        "scope" if typed => {
            if let Some(t) = v
                .get("resourceType")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                config.insert("defaultResourceType".into(), t.to_string());
            }
        }
        _ => {}
    }
    let logic = text("logic")
        .or_else(|| existing.and_then(|e| e.logic.clone()))
        .unwrap_or_else(|| "POSITIVE".into());
    if !matches!(logic.as_str(), "POSITIVE" | "NEGATIVE") {
        return Err(AuthzError::OAuth(
            400,
            "unknown_error".into(),
            format!("Cannot parse the JSON: Cannot deserialize value of type `org.keycloak.representations.idm.authorization.Logic` from String \"{logic}\": not one of the values accepted for Enum class: [POSITIVE, NEGATIVE]"),
        ));
    }
    let strategy = text("decisionStrategy")
        .or_else(|| existing.and_then(|e| e.decision_strategy.clone()))
        .unwrap_or_else(|| "UNANIMOUS".into());
    if !matches!(strategy.as_str(), "UNANIMOUS" | "AFFIRMATIVE" | "CONSENSUS") {
        return Err(enum_mismatch(
            "decisionStrategy",
            &json!(strategy),
            &["UNANIMOUS", "AFFIRMATIVE", "CONSENSUS"],
        ));
    }
    let p = PolicyRepresentation {
        id: existing
            .and_then(|e| e.id.clone())
            .or_else(|| text("id").filter(|s| !s.is_empty() && server.policy(s).is_none()))
            .or_else(|| Some(new_id())),
        name,
        description: text("description"),
        kind: Some(kind.to_string()),
        logic: Some(logic),
        decision_strategy: Some(strategy),
        owner: text("owner").or_else(|| existing.and_then(|e| e.owner.clone())),
        config: Some(config),
        extra: Map::new(),
    };
    Ok(p)
}

/// Typed time fields and their config keys.
const TIME_FIELDS: &[(&str, &str)] = &[
    ("notBefore", "nbf"),
    ("notOnOrAfter", "noa"),
    ("dayMonth", "dayMonth"),
    ("dayMonthEnd", "dayMonthEnd"),
    ("month", "month"),
    ("monthEnd", "monthEnd"),
    ("year", "year"),
    ("yearEnd", "yearEnd"),
    ("hour", "hour"),
    ("hourEnd", "hourEnd"),
    ("minute", "minute"),
    ("minuteEnd", "minuteEnd"),
];

/// A date Keycloak's `TimePolicyProviderFactory.validateFormat` takes: `yyyy-MM-dd HH:mm:ss`
/// read by a lenient `SimpleDateFormat` (numbers of any width, out-of-range fields rolled
/// over, trailing text ignored), a plain `yyyy-MM-dd` getting ` 00:00:00`
/// (`TimePolicyProvider.format`).
pub fn valid_time(s: &str) -> bool {
    let full = if s.len() == 10 {
        format!("{s} 00:00:00")
    } else {
        s.to_string()
    };
    regex::Regex::new(r"^[+-]?\d+-[+-]?\d+-[+-]?\d+ [+-]?\d+:[+-]?\d+:[+-]?\d+")
        .map(|re| re.is_match(&full))
        .unwrap_or(false)
}

/// Checks that no aggregate policy reaches itself through its associated policies
/// (`AggregatePolicyProviderFactory.verifyCircularReference`).
pub fn check_cycles(server: &Server, changed: &PolicyRepresentation) -> Res<()> {
    fn visit(server: &Server, p: &PolicyRepresentation, path: &mut Vec<String>) -> Res<()> {
        if p.kind.as_deref() != Some("aggregate") {
            return Ok(());
        }
        let id = p.id.clone().unwrap_or_default();
        if path.contains(&id) {
            return Err(runtime(format!(
                "Circular reference found [{}].",
                p.name.as_deref().unwrap_or_default()
            )));
        }
        path.push(id);
        for a in p.config_list("applyPolicies").unwrap_or_default() {
            if let Some(next) = server.policy(&a) {
                visit(server, next, path)?;
            }
        }
        path.pop();
        Ok(())
    }
    let mut s = server.clone();
    s.upsert_policy(changed.clone());
    visit(&s, changed, &mut Vec::new())
}

fn config_out(p: &PolicyRepresentation) -> Map<String, Value> {
    p.config
        .iter()
        .flatten()
        .filter(|(k, _)| !ASSOCIATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect()
}

/// A policy as the generic endpoints answer it (`GET /policy`, `/policy/{id}`): its config
/// without the associations (Keycloak keeps those in tables of their own).
pub fn policy_json(p: &PolicyRepresentation) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        o.insert("description".into(), json!(d));
    }
    o.insert("type".into(), json!(p.kind));
    o.insert(
        "logic".into(),
        json!(p.logic.as_deref().unwrap_or("POSITIVE")),
    );
    o.insert(
        "decisionStrategy".into(),
        json!(p.decision_strategy.as_deref().unwrap_or("UNANIMOUS")),
    );
    if let Some(x) = &p.owner {
        o.insert("owner".into(), json!(x));
    }
    o.insert("config".into(), Value::Object(config_out(p)));
    Value::Object(o)
}

fn config_value(p: &PolicyRepresentation, key: &str) -> Vec<Value> {
    p.config
        .as_ref()
        .and_then(|c| c.get(key))
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
        .unwrap_or_default()
}

/// A policy as the typed endpoints answer it (`GET /policy/{type}/{id}`, the factories'
/// `toRepresentation`).
pub fn policy_typed_json(dir: Dir<'_>, p: &PolicyRepresentation) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        o.insert("description".into(), json!(d));
    }
    let kind = p.kind.clone().unwrap_or_default();
    o.insert("type".into(), json!(kind));
    o.insert(
        "logic".into(),
        json!(p.logic.as_deref().unwrap_or("POSITIVE")),
    );
    o.insert(
        "decisionStrategy".into(),
        json!(p.decision_strategy.as_deref().unwrap_or("UNANIMOUS")),
    );
    let c = |k: &str| p.config.as_ref().and_then(|c| c.get(k)).cloned();
    match kind.as_str() {
        "role" => {
            o.insert("roles".into(), Value::Array(config_value(p, "roles")));
            if let Some(f) = c("fetchRoles") {
                o.insert("fetchRoles".into(), json!(f == "true"));
            }
        }
        "user" => {
            o.insert("users".into(), Value::Array(config_value(p, "users")));
        }
        "client" => {
            o.insert("clients".into(), Value::Array(config_value(p, "clients")));
        }
        "client-scope" => {
            o.insert(
                "clientScopes".into(),
                Value::Array(config_value(p, "clientScopes")),
            );
        }
        "group" => {
            let groups: Vec<Value> = config_value(p, "groups")
                .into_iter()
                .map(|g| {
                    let id = g.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                    let path = dir.group(Some(&id), None).map(|(_, p)| p);
                    json!({"id": id, "path": path, "extendChildren": g.get("extendChildren").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            o.insert("groups".into(), Value::Array(groups));
            if let Some(g) = c("groupsClaim") {
                o.insert("groupsClaim".into(), json!(g));
            }
        }
        "time" => {
            for (field, key) in TIME_FIELDS {
                if let Some(v) = c(key) {
                    o.insert(field.to_string(), json!(v));
                }
            }
        }
        "regex" => {
            for k in ["targetClaim", "pattern"] {
                if let Some(v) = c(k) {
                    o.insert(k.into(), json!(v));
                }
            }
            o.insert(
                "targetContextAttributes".into(),
                json!(c("targetContextAttributes").as_deref() == Some("true")),
            );
        }
        "js" => {
            if let Some(v) = c("code") {
                o.insert("code".into(), json!(v));
            }
        }
        "resource" | "scope" => {
            if let Some(v) = c("defaultResourceType") {
                o.insert("resourceType".into(), json!(v));
            }
        }
        _ => {}
    }
    Value::Object(o)
}

/// The ids in a stored policy's config list `key`.
pub fn ids(p: &PolicyRepresentation, key: &str) -> Vec<String> {
    p.config_list(key).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Deletion

/// Removes a resource and its references (`ResourceSetService.delete`): permissions lose it;
/// a resource permission left without resources and resource type goes with it.
pub fn remove_resource(server: &mut Server, id: &str) {
    server.resources.retain(|r| r.id.as_deref() != Some(id));
    drop_refs(server, "resources", id);
}

/// Removes a scope (`ScopeService.delete`, after the check that no resource uses it):
/// permissions lose it, a permission whose only scope it was goes with it.
pub fn remove_scope(server: &mut Server, id: &str) {
    server.scopes.retain(|s| s.id.as_deref() != Some(id));
    let doomed: Vec<String> = server
        .policies
        .iter()
        .filter(|p| ids(p, "scopes") == [id.to_string()])
        .filter_map(|p| p.id.clone())
        .collect();
    for d in doomed {
        remove_policy(server, &d);
    }
    drop_refs(server, "scopes", id);
}

/// Removes a policy and its references (`PolicyResourceService.delete`).
pub fn remove_policy(server: &mut Server, id: &str) {
    server.policies.retain(|p| p.id.as_deref() != Some(id));
    drop_refs(server, "applyPolicies", id);
}

fn drop_refs(server: &mut Server, key: &str, id: &str) {
    for p in server.policies.iter_mut() {
        let list = ids(p, key);
        if list.iter().any(|x| x == id) {
            let rest: Vec<String> = list.into_iter().filter(|x| x != id).collect();
            if let Some(c) = p.config.as_mut() {
                if rest.is_empty() {
                    c.shift_remove(key);
                } else {
                    set_list(c, key, &rest);
                }
            }
        }
    }
    if key == "resources" {
        let doomed: Vec<String> = server
            .policies
            .iter()
            .filter(|p| {
                p.kind.as_deref() == Some("resource")
                    && ids(p, "resources").is_empty()
                    && p.config
                        .as_ref()
                        .and_then(|c| c.get("defaultResourceType"))
                        .is_none()
            })
            .filter_map(|p| p.id.clone())
            .collect();
        for d in doomed {
            remove_policy(server, &d);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Import and export

/// Imports a `ResourceServerRepresentation` in the export form into `server`
/// (`RepresentationToModel.toModel(ResourceServerRepresentation)`): settings replaced; scopes,
/// resources and policies matched by id or name and updated, the others created; policies
/// name their associations by name (or id), an associated policy defined later in the list
/// is imported first.
pub fn import(dir: Dir<'_>, server: &mut Server, rep: &Map<String, Value>) -> Res<()> {
    apply_settings(server, rep, true)?;
    let list = |k: &str| {
        rep.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for s in list("scopes") {
        let o = s.as_object().cloned().unwrap_or_default();
        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
        let existing = o
            .get("id")
            .and_then(Value::as_str)
            .and_then(|i| server.scope(i))
            .or_else(|| {
                server
                    .scopes
                    .iter()
                    .find(|x| x.name.as_deref() == Some(name))
            })
            .cloned();
        let mut sc = scope_in(server, &o, existing.as_ref())?;
        if let Some(e) = &existing {
            sc.id = e.id.clone();
            server.scopes.retain(|x| x.id != e.id);
        }
        server.scopes.push(sc);
    }
    for r in list("resources") {
        let mut o = r.as_object().cloned().unwrap_or_default();
        // `owner` by name in exports: a user's name, else the resource server.
        if let Some(Value::Object(owner)) = o.get("owner").cloned() {
            if owner.get("id").is_none() {
                let n = owner
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let id = dir.users.resolve(n).unwrap_or_else(|| server.id.clone());
                o.insert("owner".into(), json!({"id": id}));
            }
        }
        let name = o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let owner_key = match o.get("owner") {
            Some(Value::Object(m)) => m.get("id").and_then(Value::as_str).map(str::to_string),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
        .map(|k| {
            if k == server.client_id {
                server.id.clone()
            } else {
                dir.users.resolve(&k).unwrap_or(k)
            }
        })
        .unwrap_or_else(|| server.id.clone());
        let existing =
            o.get("_id")
                .and_then(Value::as_str)
                .and_then(|i| server.resource(i))
                .or_else(|| {
                    server.resources.iter().find(|x| {
                        x.name.as_deref() == Some(name.as_str()) && owner_id(x) == owner_key
                    })
                })
                .cloned();
        let mut new_scopes = Vec::new();
        let res = resource_in(dir, server, &o, existing.as_ref(), &mut new_scopes)?;
        server.scopes.extend(new_scopes);
        server.resources.retain(|x| x.id != res.id);
        server.resources.push(res);
    }
    let policies = list("policies");
    let mut done: HashSet<String> = HashSet::new();
    for p in &policies {
        import_policy(dir, server, &policies, p, &mut done, 0)?;
    }
    Ok(())
}

fn import_policy(
    dir: Dir<'_>,
    server: &mut Server,
    all: &[Value],
    p: &Value,
    done: &mut HashSet<String>,
    depth: usize,
) -> Res<()> {
    let o = p.as_object().cloned().unwrap_or_default();
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if done.contains(&name) {
        return Ok(());
    }
    if depth > all.len() {
        return Err(runtime(format!("Error while importing policy [{name}].")));
    }
    let apply: Vec<String> = o
        .get("config")
        .and_then(|c| c.get("applyPolicies"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default();
    for a in apply {
        if server.policy_ref(&a).is_some()
            && !all.iter().any(|x| {
                x.get("name").and_then(Value::as_str) == Some(a.as_str()) && !done.contains(&a)
            })
        {
            continue;
        }
        match all
            .iter()
            .find(|x| x.get("name").and_then(Value::as_str) == Some(a.as_str()))
        {
            Some(dep) if !done.contains(&a) => {
                import_policy(dir, server, all, dep, done, depth + 1)?
            }
            Some(_) => {}
            None if server.policy_ref(&a).is_some() => {}
            None => {
                return Err(runtime(format!("Policy with name [{a}] not defined.")));
            }
        }
    }
    let kind = o
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let existing = o
        .get("id")
        .and_then(Value::as_str)
        .and_then(|i| server.policy(i))
        .or_else(|| server.policy_by_name(&name))
        .cloned();
    let mut input = o.clone();
    // Export form: role, user, group, client and client-scope references are names or paths.
    export_refs_in(&kind, &mut input);
    let pol = policy_in(dir, server, &kind, &input, false, existing.as_ref(), true)?;
    check_cycles(server, &pol)?;
    server.upsert_policy(pol);
    done.insert(name);
    Ok(())
}

/// In an export's group policy the groups carry `path` instead of `id`.
fn export_refs_in(kind: &str, o: &mut Map<String, Value>) {
    if kind != "group" {
        return;
    }
    if let Some(Value::Object(c)) = o.get_mut("config") {
        if let Some(Value::String(g)) = c.get("groups") {
            if let Ok(mut list) = serde_json::from_str::<Vec<Value>>(g) {
                for item in list.iter_mut().filter_map(Value::as_object_mut) {
                    if item.get("id").is_none() {
                        if let Some(p) = item.get("path").cloned() {
                            item.insert("path".into(), p);
                        }
                    }
                }
                c.insert("groups".into(), json!(Value::Array(list).to_string()));
            }
        }
    }
}

/// The export form (`GET .../settings`, a realm export's `authorizationSettings`, as
/// Keycloak 26 writes them): no ids; resources (owner by name unless the server, scopes by
/// name), policies before permissions, their associations and references by name, scopes.
pub fn export(dir: Dir<'_>, server: &Server) -> Value {
    let resources: Vec<Value> = server
        .resources
        .iter()
        .map(|r| {
            let mut v = resource_json(dir, server, r, true);
            if let Some(o) = v.as_object_mut() {
                o.remove("_id");
                if owner_id(r) == server.id {
                    o.remove("owner");
                } else if let Some(Value::Object(ow)) = o.get_mut("owner") {
                    ow.remove("id");
                }
                if let Some(Value::Array(sc)) = o.get_mut("scopes") {
                    for s in sc.iter_mut().filter_map(Value::as_object_mut) {
                        s.remove("id");
                        s.remove("iconUri");
                    }
                }
            }
            v
        })
        .collect();
    let (plain, perms): (Vec<&PolicyRepresentation>, Vec<&PolicyRepresentation>) = server
        .policies
        .iter()
        .filter(|p| p.owner.is_none())
        .partition(|p| !p.is_permission());
    let policies: Vec<Value> = plain
        .into_iter()
        .chain(perms)
        .map(|p| policy_export(dir, server, p))
        .collect();
    let scopes: Vec<Value> = server
        .scopes
        .iter()
        .map(|s| {
            let mut v = scope_json(s);
            if let Some(o) = v.as_object_mut() {
                o.remove("id");
            }
            v
        })
        .collect();
    json!({
        "allowRemoteResourceManagement": server.allow_remote(),
        "policyEnforcementMode": server.setting("policyEnforcementMode", "ENFORCING"),
        "resources": resources,
        "policies": policies,
        "scopes": scopes,
        "decisionStrategy": server.setting("decisionStrategy", "UNANIMOUS"),
    })
}

/// One policy in the export form (the factories' `onExport`).
pub fn policy_export(dir: Dir<'_>, server: &Server, p: &PolicyRepresentation) -> Value {
    let mut v = policy_json(p);
    let Some(o) = v.as_object_mut() else { return v };
    let Some(Value::Object(c)) = o.get_mut("config") else {
        return v;
    };
    let names = |key: &str, f: &dyn Fn(&str) -> Option<String>| -> Option<String> {
        let l = ids(p, key);
        (!l.is_empty()).then(|| {
            json!(l
                .iter()
                .map(|i| f(i).unwrap_or_else(|| i.clone()))
                .collect::<Vec<_>>())
            .to_string()
        })
    };
    if let Some(s) = names("scopes", &|i| server.scope(i).and_then(|x| x.name.clone())) {
        c.insert("scopes".into(), json!(s));
    }
    if let Some(s) = names("resources", &|i| {
        server.resource(i).and_then(|x| x.name.clone())
    }) {
        c.insert("resources".into(), json!(s));
    }
    if let Some(s) = names("applyPolicies", &|i| {
        server.policy(i).and_then(|x| x.name.clone())
    }) {
        c.insert("applyPolicies".into(), json!(s));
    }
    match p.kind.as_deref() {
        Some("role") => {
            let roles: Vec<Value> = config_value(p, "roles")
                .into_iter()
                .map(|r| {
                    let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                    json!({"id": dir.role_by_id(id).unwrap_or_else(|| id.to_string()), "required": r.get("required").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            c.insert("roles".into(), json!(Value::Array(roles).to_string()));
        }
        Some("user") => {
            let users: Vec<String> = ids(p, "users")
                .iter()
                .map(|i| dir.users.by_id.get(i).cloned().unwrap_or_else(|| i.clone()))
                .collect();
            c.insert("users".into(), json!(json!(users).to_string()));
        }
        Some("client") => {
            let clients: Vec<String> = ids(p, "clients")
                .iter()
                .map(|i| dir.client_id_of(i).unwrap_or_else(|| i.clone()))
                .collect();
            c.insert("clients".into(), json!(json!(clients).to_string()));
        }
        Some("client-scope") => {
            let list: Vec<Value> = config_value(p, "clientScopes")
                .into_iter()
                .map(|s| {
                    let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
                    json!({"id": dir.client_scope(id).map(|(_, n)| n).unwrap_or_else(|| id.to_string()), "required": s.get("required").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            c.insert("clientScopes".into(), json!(Value::Array(list).to_string()));
        }
        Some("group") => {
            let list: Vec<Value> = config_value(p, "groups")
                .into_iter()
                .map(|g| {
                    let id = g.get("id").and_then(Value::as_str).unwrap_or_default();
                    json!({"path": dir.group(Some(id), None).map(|(_, p)| p).unwrap_or_else(|| id.to_string()), "extendChildren": g.get("extendChildren").and_then(Value::as_bool).unwrap_or(false)})
                })
                .collect();
            c.insert("groups".into(), json!(Value::Array(list).to_string()));
        }
        _ => {}
    }
    // Exports carry no ids.
    o.remove("id");
    v
}

/// Every id-or-name a conversion of `rep` (export form or a request) may need of users: the
/// resources' owners and the user policies' entries.
pub fn user_refs(rep: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in rep
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match r.get("owner") {
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Object(o)) => {
                for k in ["id", "name"] {
                    if let Some(s) = o.get(k).and_then(Value::as_str) {
                        out.push(s.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    for p in rep
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = p
            .get("config")
            .and_then(|c| c.get("users"))
            .and_then(Value::as_str)
        {
            if let Ok(l) = serde_json::from_str::<Vec<String>>(s) {
                out.extend(l);
            }
        }
        if let Some(Value::Array(l)) = p.get("users") {
            out.extend(l.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Clients switched on and off

/// The client role a resource server's service account gets (`Constants.AUTHZ_UMA_PROTECTION`).
pub const UMA_PROTECTION: &str = "uma_protection";

/// `true`, or Jackson's coercion of `"true"`.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether a client of the realm document has Authorization Services on.
pub fn enabled(c: &crate::representation::ClientRepresentation) -> bool {
    truthy(c.extra.get("authorizationServicesEnabled"))
}

/// Gives a client its `uma_protection` role when it has none
/// (`RepresentationToModel.createResourceServer` with default roles).
pub fn ensure_uma_role(rep: &mut RealmRepresentation, client_id: &str, client_uuid: &str) {
    let roles = rep.roles.get_or_insert_with(Default::default);
    let list = roles
        .client
        .get_or_insert_with(IndexMap::new)
        .entry(client_id.to_string())
        .or_default();
    if list
        .iter()
        .any(|r| r.name.as_deref() == Some(UMA_PROTECTION))
    {
        return;
    }
    let role: crate::representation::RoleRepresentation = match serde_json::from_value(json!({
        "id": new_id(),
        "name": UMA_PROTECTION,
        "composite": false,
        "clientRole": true,
        "containerId": client_uuid,
    })) {
        Ok(r) => r,
        Err(_) => return,
    };
    list.push(role);
}

/// A user representation (JSON) with the client role `uma_protection` of `client_id` granted;
/// `None` when it has it already or does not parse.
pub fn grant_uma(user_json: &str, client_id: &str) -> Option<String> {
    let mut u: Value = serde_json::from_str(user_json).ok()?;
    let o = u.as_object_mut()?;
    let roles = o
        .entry("clientRoles")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    let list = roles
        .entry(client_id)
        .or_insert_with(|| json!([]))
        .as_array_mut()?;
    if list.iter().any(|r| r.as_str() == Some(UMA_PROTECTION)) {
        return None;
    }
    list.push(json!(UMA_PROTECTION));
    Some(u.to_string())
}

/// The resource server of a client switched on: the `authorizationSettings` given imported
/// into an empty server, or Keycloak's defaults when none are given.
pub fn switched_on(
    dir: Dir<'_>,
    client_uuid: &str,
    client_id: &str,
    settings: Option<&Map<String, Value>>,
) -> Res<Server> {
    match settings {
        Some(s) => {
            let mut server = Server::empty(client_uuid, client_id);
            import(dir, &mut server, s)?;
            Ok(server)
        }
        None => Ok(Server::with_defaults(client_uuid, client_id)),
    }
}

/// The user ids a stored server names (resource owners, user policies).
pub fn stored_user_ids(server: &Server) -> Vec<String> {
    let mut out: Vec<String> = server
        .resources
        .iter()
        .map(owner_id)
        .filter(|o| *o != server.id)
        .collect();
    for p in &server.policies {
        if p.kind.as_deref() == Some("user") {
            out.extend(ids(p, "users"));
        }
    }
    out
}

/// Adds each switched-on client's `authorizationSettings` (export form) to a realm export
/// (`ExportUtils.exportClient`).
pub async fn export_into(
    store: &dyn Store,
    realm_id: &str,
    rep: &RealmRepresentation,
    realm: &mut Value,
) -> Result<(), StoreError> {
    let Some(clients) = realm.get_mut("clients").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for c in clients.iter_mut().filter_map(Value::as_object_mut) {
        c.remove("authorizationSettings");
        if !truthy(c.get("authorizationServicesEnabled")) {
            continue;
        }
        let (Some(uuid), Some(client_id)) = (
            c.get("id").and_then(Value::as_str).map(str::to_string),
            c.get("clientId")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) else {
            continue;
        };
        let Some((server, _)) = load(store, realm_id, &uuid, &client_id).await? else {
            continue;
        };
        let mut users = UserDir::default();
        for id in stored_user_ids(&server) {
            if let Some(u) = store.user_by_id(realm_id, &id).await? {
                users.add(&u.id, &u.username);
            }
        }
        let dir = Dir {
            realm: rep,
            users: &users,
        };
        c.insert("authorizationSettings".into(), export(dir, &server));
    }
    Ok(())
}
