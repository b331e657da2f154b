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
use crate::store::{
    AuthzKind, AuthzRow, AuthzWrite, NewResourceServer, ResourceServerRow, Store, StoreError,
};

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

/// After a user's deletion, removes from every resource server of the realm the resources
/// the user owned and the user's place in `user` policies ([`forget_user`]); each server's
/// change is one write that bumps its version (retried when another writer bumped it).
pub async fn forget_user_everywhere(
    store: &dyn Store,
    realm_id: &str,
    user_id: &str,
) -> Result<(), StoreError> {
    for row in store.resource_servers(realm_id).await? {
        rewrite(store, realm_id, &row.id, |s| forget_user(s, user_id)).await?;
    }
    Ok(())
}

/// After the deletion of a user or group of realm `rep`, removes its resource and the
/// permissions bound to it alone from the realm's `admin-permissions` server
/// ([`forget_object`]).
pub async fn forget_admin_object(
    store: &dyn Store,
    rep: &crate::representation::RealmRepresentation,
    realm_id: &str,
    object_id: &str,
) -> Result<(), StoreError> {
    match crate::realm::admin_permissions::client_uuid(rep) {
        Some(uuid) => rewrite(store, realm_id, uuid, |s| forget_object(s, object_id)).await,
        None => Ok(()),
    }
}

/// Changes resource server `server_id` by `change` (false: nothing to write) in one write that
/// bumps its version, read again and retried when another writer bumped it.
async fn rewrite(
    store: &dyn Store,
    realm_id: &str,
    server_id: &str,
    change: impl Fn(&mut Server) -> bool,
) -> Result<(), StoreError> {
    for attempt in 0.. {
        let Some((server, version)) = load(store, realm_id, server_id, "").await? else {
            return Ok(());
        };
        let mut next = server.clone();
        if !change(&mut next) {
            return Ok(());
        }
        match store
            .authz_write(realm_id, server_id, Some(version), diff(&server, &next))
            .await
        {
            Err(StoreError::VersionConflict) if attempt < 8 => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
    Ok(())
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

/// The writes that turn `old` into `new`: deletions, then updates, then insertions.
pub fn diff(old: &Server, new: &Server) -> Vec<AuthzWrite> {
    let mut deletes = Vec::new();
    let mut updates = Vec::new();
    let mut inserts = Vec::new();
    fn one<T: PartialEq>(
        kind: AuthzKind,
        old: &[T],
        new: &[T],
        id: impl Fn(&T) -> Option<String>,
        row: impl Fn(&T) -> crate::store::AuthzRow,
        out: (
            &mut Vec<AuthzWrite>,
            &mut Vec<AuthzWrite>,
            &mut Vec<AuthzWrite>,
        ),
    ) {
        let (deletes, updates, inserts) = out;
        for o in old {
            if !new.iter().any(|n| id(n) == id(o)) {
                deletes.push(AuthzWrite::Delete(kind, id(o).unwrap_or_default()));
            }
        }
        for n in new {
            match old.iter().find(|o| id(o) == id(n)) {
                Some(o) if o == n => {}
                Some(_) => updates.push(AuthzWrite::Update(kind, row(n))),
                None => inserts.push(AuthzWrite::Insert(kind, row(n))),
            }
        }
    }
    // Policies go first when deleted (they name resources and scopes), last when inserted.
    one(
        AuthzKind::Policy,
        &old.policies,
        &new.policies,
        |p| p.id.clone(),
        policy_row,
        (&mut deletes, &mut updates, &mut Vec::new()),
    );
    one(
        AuthzKind::Resource,
        &old.resources,
        &new.resources,
        |p| p.id.clone(),
        resource_row,
        (&mut deletes, &mut updates, &mut inserts),
    );
    one(
        AuthzKind::Scope,
        &old.scopes,
        &new.scopes,
        |p| p.id.clone(),
        scope_row,
        (&mut deletes, &mut updates, &mut inserts),
    );
    let mut policy_inserts = Vec::new();
    one(
        AuthzKind::Policy,
        &old.policies,
        &new.policies,
        |p| p.id.clone(),
        policy_row,
        (&mut Vec::new(), &mut Vec::new(), &mut policy_inserts),
    );
    inserts.extend(policy_inserts);
    let mut out = deletes;
    if old.settings != new.settings {
        out.push(AuthzWrite::Settings(new.settings_json()));
    }
    out.extend(updates);
    out.extend(inserts);
    out
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

mod policies;
mod transfer;
mod uma;

pub use policies::*;
pub use transfer::*;
pub use uma::*;
