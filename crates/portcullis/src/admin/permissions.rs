//! Fine-grained admin permissions (Keycloak 26.2+'s FGAP v2) on the Admin API: the realm's
//! `admin-permissions` client and its resource server, the permissions written on it, and the
//! checks of operations on users that consult them.
//!
//! The realm switch is `adminPermissionsEnabled`. Switching it on creates the client (once):
//! a resource server with one scope per scope of the schema and one resource per resource
//! type, named as the type ([`crate::authz::fgap::SCHEMA`]). Permissions are scope permissions
//! of a type, bound to objects (each object gets a resource named by its id) or, without
//! objects, to all objects of the type. An administrator of the realm itself whose roles do
//! not allow an operation may still do it when the permissions grant it
//! ([`Fgap::user`]); the roles are checked first, and a master-realm administrator never
//! goes through permissions, as in Keycloak.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::auth::{Caller, Family, Need, Scoped};
use super::{AdminError, AdminResult};
use crate::authz::fgap::{self, Object, GROUPS, USERS};
use crate::authz::{Identity, ResourceServer};
use crate::model::Role;
use crate::realm::admin_permissions;
use crate::realm::authz::{self as az, Server, UserDir};
use crate::realm::edit;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::authz::ResourceRepresentation;
use crate::representation::{GroupRepresentation, RealmRepresentation, UserRepresentation};
use crate::store::{UserRow, Write};
use crate::AppState;

pub use crate::realm::admin_permissions::{client_uuid, enabled, CLIENT_ID};

/// Inside a realm edit: when the realm has switched them on, its `admin-permissions` client
/// with the resource server of the schema, created if missing (`AdminPermissionsSchema.init`),
/// and the realm's `adminPermissionsClient` link. Switching off keeps the client and its
/// permissions, as Keycloak does.
pub fn ensure_client(rep: &mut RealmRepresentation, writes: &mut Vec<Write>) -> AdminResult<()> {
    if !enabled(rep) {
        return Ok(());
    }
    let id = match client_uuid(rep) {
        Some(id) => id.to_string(),
        None => {
            let c = edit::prepare_new(rep, admin_permissions::client_json(None))?;
            let id = c.id.clone().unwrap_or_default();
            edit::add_client(rep, writes, c)?;
            let users = UserDir::default();
            let dir = az::Dir {
                realm: rep,
                users: &users,
            };
            let settings = admin_permissions::schema_settings();
            let server = az::switched_on(dir, &id, CLIENT_ID, settings.as_object())?;
            writes.push(Write::PutResourceServer {
                realm_id: rep.id.clone().unwrap_or_default(),
                server: server.to_rows(),
            });
            id
        }
    };
    rep.extra.insert(
        "adminPermissionsClient".into(),
        admin_permissions::link(&id),
    );
    Ok(())
}

/// Whether `id` is the UUID of the realm's `admin-permissions` client.
pub fn is_admin_permissions_client(snap: &RealmSnapshot, id: &str) -> bool {
    client_uuid(&snap.rep) == Some(id)
}

/// A permission's objects, resolved before the resource server is edited: per object given,
/// its id (a user may be named by username or id).
pub struct Objects {
    kind: String,
    ids: Vec<String>,
}

/// Checks a permission written on the `admin-permissions` resource server as Keycloak's
/// `AdminPermissionsSchema` does (a scope permission of a type of the schema, with scopes of
/// that type, on objects that exist), and resolves its objects.
pub async fn check_permission(
    state: &AppState,
    snap: &RealmSnapshot,
    kind: &str,
    v: &Map<String, Value>,
) -> AdminResult<Option<Objects>> {
    match kind {
        "scope" => {}
        "resource" => return Err(AdminError::bad("Policy type not supported by feature")),
        // Policies (who): any type the engine has.
        _ => return Ok(None),
    }
    let Some(resource_type) = v
        .get("resourceType")
        .and_then(Value::as_str)
        .filter(|t| fgap::scopes_of(t).is_some())
    else {
        return Err(AdminError::bad("Resource type not provided."));
    };
    let allowed = fgap::scopes_of(resource_type).unwrap_or_default();
    let scopes: Vec<&str> = v
        .get("scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if scopes.is_empty() {
        return Err(AdminError::bad("Scopes not provided."));
    }
    for s in &scopes {
        if !allowed.contains(s) {
            let known = fgap::SCHEMA.iter().any(|(_, l)| l.contains(s));
            return Err(AdminError::bad(if known {
                format!("Scope {s} was not found for resource type {resource_type}.")
            } else {
                format!("Scope [{s}] does not exist.")
            }));
        }
    }
    let mut ids = Vec::new();
    for given in v
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if given == resource_type {
            continue;
        }
        let id = match resource_type {
            USERS => {
                let store = state.store.as_ref();
                match store.user_by_id(&snap.id, given).await? {
                    Some(row) => Some(row.id),
                    None => store
                        .user_by_username(&snap.id, &given.to_lowercase())
                        .await?
                        .map(|row| row.id),
                }
            }
            GROUPS => group_exists(snap.rep.groups.as_deref().unwrap_or_default(), given)
                .then(|| given.to_string()),
            fgap::CLIENTS => edit::client(&snap.rep, given)
                .or_else(|| edit::client_by_client_id(&snap.rep, given))
                .and_then(|c| c.id.clone()),
            fgap::ORGANIZATIONS => state
                .store
                .organization(&snap.id, given)
                .await?
                .map(|o| o.id),
            _ => snap
                .rep
                .roles
                .as_ref()
                .is_some_and(|r| {
                    r.realm
                        .iter()
                        .flatten()
                        .chain(r.client.iter().flat_map(|m| m.values().flatten()))
                        .any(|role| role.id.as_deref() == Some(given))
                })
                .then(|| given.to_string()),
        };
        match id {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => {
                return Err(AdminError::bad(format!(
                    "Resource [{given}] does not exist for type [{resource_type}]"
                )))
            }
        }
    }
    Ok(Some(Objects {
        kind: resource_type.to_string(),
        ids,
    }))
}

fn group_exists(list: &[GroupRepresentation], id: &str) -> bool {
    list.iter().any(|g| {
        g.id.as_deref() == Some(id) || group_exists(g.sub_groups.as_deref().unwrap_or_default(), id)
    })
}

/// Inside the edit of the `admin-permissions` resource server: the permission's `resources`
/// become the ids of its objects' resources (each created, named by the object's id, when
/// missing), or the type's resource when it names no object.
pub fn bind_objects(server: &mut Server, objects: &Objects, v: &mut Map<String, Value>) {
    let names: Vec<String> = if objects.ids.is_empty() {
        vec![objects.kind.clone()]
    } else {
        objects.ids.clone()
    };
    let scopes: Vec<Value> = fgap::scopes_of(&objects.kind)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| {
            server
                .scopes
                .iter()
                .find(|s| s.name.as_deref() == Some(name))
        })
        .map(|s| json!({"id": s.id, "name": s.name}))
        .collect();
    let mut resource_ids = Vec::new();
    for name in names {
        let existing = server.resources.iter().find(|r| {
            r.name.as_deref() == Some(name.as_str()) && r.kind.as_deref() == Some(&objects.kind)
        });
        let id = match existing {
            Some(r) => r.id.clone().unwrap_or_default(),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let r: Option<ResourceRepresentation> = serde_json::from_value(json!({
                    "_id": id, "name": name, "type": objects.kind,
                    "owner": {"id": server.id, "name": server.client_id},
                    "ownerManagedAccess": false, "scopes": scopes
                }))
                .ok();
                if let Some(r) = r {
                    server.resources.push(r);
                }
                id
            }
        };
        resource_ids.push(Value::String(id));
    }
    v.insert("resources".into(), Value::Array(resource_ids));
    v.insert("resourceType".into(), json!(objects.kind));
}

/// A caller's fine-grained permissions in the realm it administers.
pub struct Fgap {
    rs: Arc<ResourceServer>,
    identity: Identity,
}

impl Fgap {
    /// The permissions of `caller` in `snap`, or `None` where they do not apply: the realm
    /// has them off, or the caller is of another realm (master).
    pub async fn of(
        state: &AppState,
        snap: &RealmSnapshot,
        caller: &Caller,
    ) -> AdminResult<Option<Fgap>> {
        if caller.realm != snap.name || !enabled(&snap.rep) {
            return Ok(None);
        }
        let Some(uuid) = client_uuid(&snap.rep) else {
            return Ok(None);
        };
        let rs = crate::oidc::token::uma_ticket::compiled_server(state, snap, uuid, CLIENT_ID)
            .await
            .map_err(|_| AdminError::Internal)?;
        let Some(rs) = rs else {
            return Ok(None);
        };
        let Some(row) = state.store.user_by_id(&snap.id, &caller.user_id).await? else {
            return Ok(None);
        };
        let user = crate::users::parse_user(&row)?;
        let client = caller
            .client
            .as_deref()
            .and_then(|c| snap.index.client(&snap.rep, c))
            .or_else(|| edit::client_by_client_id(&snap.rep, CLIENT_ID));
        let Some(client) = client else {
            return Ok(None);
        };
        let identity = crate::oidc::token::uma_ticket::identity(
            snap,
            client,
            &user,
            &row.id,
            None,
            crate::clock::now(),
        );
        Ok(Some(Fgap { rs, identity }))
    }

    /// Whether the permissions give `scope` on user `id` (`user`: for its groups).
    pub fn user(
        &self,
        snap: &RealmSnapshot,
        id: &str,
        user: &UserRepresentation,
        scope: &str,
    ) -> bool {
        let groups: Vec<Vec<String>> = user
            .groups
            .iter()
            .flatten()
            .map(|path| {
                crate::oidc::token::uma_ticket::group_chain(&snap.rep, path)
                    .into_iter()
                    .rev()
                    .map(|g| g.id)
                    .collect()
            })
            .collect();
        let object = Object {
            kind: USERS,
            id,
            groups: &groups,
        };
        fgap::granted(&self.rs, &self.identity, object, scope)
    }

    /// Whether the permissions give `scope` on group `id` (`GroupPermissionsV2`: the group's
    /// own permissions and those of all groups; not its parents').
    pub fn group(&self, id: &str, scope: &str) -> bool {
        self.object(GROUPS, id, scope)
    }

    /// Whether the permissions give `scope` on the client of UUID `id` (`ClientPermissionsV2`:
    /// `manage` does not imply `view`).
    pub fn client(&self, id: &str, scope: &str) -> bool {
        self.object(fgap::CLIENTS, id, scope)
    }

    /// Whether the permissions give `scope` on the object `id` of type `kind` (its own
    /// permissions and those of all objects of the type).
    fn object(&self, kind: &str, id: &str, scope: &str) -> bool {
        let object = Object {
            kind,
            id,
            groups: &[],
        };
        fgap::granted(&self.rs, &self.identity, object, scope)
    }

    /// `RolePermissionsV2.canMapRole` for a caller without `manage-users`: never an
    /// administrative role (with the permissions on, only realm administrators map those);
    /// a client's role with `map-roles` of the client, or any role with `map-role` of the role.
    pub fn may_map(&self, rep: &RealmRepresentation, role: &Role) -> bool {
        self.may_map_as(rep, role, Mapping::User)
    }

    /// May the caller put `role` where `purpose` says (`RolePermissionsV2.canMapRole`,
    /// `canMapComposite`, `canMapClientScope`) by these permissions? Never an administrative
    /// role: with the permissions on, only realm administrators map those.
    pub fn may_map_as(&self, rep: &RealmRepresentation, role: &Role, purpose: Mapping) -> bool {
        use crate::realm::defaults::REALM_MANAGEMENT_ROLES;
        let master = rep.realm.as_deref() == Some(crate::realm::MASTER);
        let (roles, client) = match role {
            Role::Realm(name) => {
                if master && (name == "admin" || name == "create-realm") {
                    return false;
                }
                (rep.roles.as_ref().and_then(|r| r.realm.as_ref()), None)
            }
            Role::Client(client_id, name) => {
                let admin_client = client_id == "realm-management"
                    || (master && crate::realm::admin_clients::target(client_id).is_some());
                if admin_client
                    && (name == "realm-admin" || REALM_MANAGEMENT_ROLES.contains(&name.as_str()))
                {
                    return false;
                }
                (
                    rep.roles
                        .as_ref()
                        .and_then(|r| r.client.as_ref())
                        .and_then(|m| m.get(client_id)),
                    edit::client_by_client_id(rep, client_id).and_then(|c| c.id.as_deref()),
                )
            }
        };
        let name = match role {
            Role::Realm(n) | Role::Client(_, n) => n,
        };
        let (client_scope, role_scope) = purpose.scopes();
        if client.is_some_and(|id| self.object(fgap::CLIENTS, id, client_scope)) {
            return true;
        }
        roles
            .into_iter()
            .flatten()
            .find(|r| r.name.as_deref() == Some(name.as_str()))
            .and_then(|r| r.id.as_deref())
            .is_some_and(|id| self.object(fgap::ROLES, id, role_scope))
    }

    /// Whether the permissions give `scope` on organization `id` (`OrganizationPermissions`).
    pub fn organization(&self, id: &str, scope: &str) -> bool {
        self.object(fgap::ORGANIZATIONS, id, scope)
    }

    /// Whether the permissions give `scope` on every user.
    pub fn all_users(&self, scope: &str) -> bool {
        self.all(USERS, scope)
    }

    /// Whether the permissions give `scope` on every object of type `kind`.
    pub fn all(&self, kind: &str, scope: &str) -> bool {
        fgap::granted_for_all(&self.rs, &self.identity, kind, scope)
    }

    /// Keycloak's `access` map of a user the caller reads (`UserPermissions.getAccess`).
    pub fn user_access(&self, snap: &RealmSnapshot, id: &str, user: &UserRepresentation) -> Value {
        let can = |scope| self.user(snap, id, user, scope);
        json!({
            "view": can("view"),
            "manage": can("manage"),
            "mapRoles": can("map-roles"),
            "manageGroupMembership": can("manage-group-membership"),
            "impersonate": can("impersonate"),
            "resetPassword": can("reset-password") || can("manage"),
        })
    }
}

/// Where a role is being put, for [`Fgap::may_map_as`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// Into a user's or group's role mappings (`map-roles` of the client, `map-role`).
    User,
    /// Into a role's composites (`map-roles-composite`, `map-role-composite`).
    Composite,
    /// Into a client's or client scope's scope mappings (`map-roles-client-scope`,
    /// `map-role-client-scope`).
    ClientScope,
}

impl Mapping {
    /// The scope asked of the role's client, and of the role itself.
    fn scopes(self) -> (&'static str, &'static str) {
        match self {
            Mapping::User => ("map-roles", "map-role"),
            Mapping::Composite => ("map-roles-composite", "map-role-composite"),
            Mapping::ClientScope => ("map-roles-client-scope", "map-role-client-scope"),
        }
    }
}

/// Who may change a role and its composites (`RolePermissions.requireManage(role)` and
/// `requireMapComposite`): the caller's roles (`manage-realm` for realm roles,
/// `manage-clients` for clients' roles), else its fine-grained permissions.
pub struct RoleGate<'a> {
    caller: &'a Caller,
    realm: &'a str,
    perms: Option<Fgap>,
}

impl<'a> RoleGate<'a> {
    /// The gate of `caller` in `snap` (its permissions read only when its roles fall short).
    pub async fn of(
        state: &AppState,
        snap: &'a RealmSnapshot,
        caller: &'a Caller,
    ) -> AdminResult<RoleGate<'a>> {
        let by_roles = caller.can(&snap.name, Need::Manage(Family::Realm))
            && caller.can(&snap.name, Need::Manage(Family::Clients));
        let perms = if by_roles {
            None
        } else {
            Fgap::of(state, snap, caller).await?
        };
        Ok(RoleGate {
            caller,
            realm: &snap.name,
            perms,
        })
    }

    fn by_roles(&self, role: &Role) -> bool {
        let family = match role {
            Role::Realm(_) => Family::Realm,
            Role::Client(..) => Family::Clients,
        };
        self.caller.can(self.realm, Need::Manage(family))
    }

    /// 403 unless the caller may change `role`: by its roles, or, for a client's role, by
    /// `manage` of that client (`ClientPermissionsV2.canManage`).
    pub fn require_manage(&self, rep: &RealmRepresentation, role: &Role) -> AdminResult<()> {
        if self.by_roles(role) {
            return Ok(());
        }
        let client = match role {
            Role::Client(client_id, _) => {
                edit::client_by_client_id(rep, client_id).and_then(|c| c.id.as_deref())
            }
            Role::Realm(_) => None,
        };
        match (client, &self.perms) {
            (Some(id), Some(f)) if f.client(id, "manage") => Ok(()),
            _ => Err(AdminError::Forbidden),
        }
    }

    /// 403 unless every role of `roles` may go into a client's or client scope's scope
    /// mappings (`RolePermissions.canMapClientScope`): by `manage-clients` (in a realm with
    /// fine-grained permissions: `manage-clients` for a client's role, `manage-realm` for a
    /// realm role, as `RolePermissionsV2`), else `map-roles-client-scope` of its client or
    /// `map-role-client-scope` of the role.
    pub fn require_client_scope(
        &self,
        rep: &RealmRepresentation,
        roles: &[Role],
    ) -> AdminResult<()> {
        let v2 = enabled(rep);
        let by_roles = |r: &Role| {
            if v2 {
                self.by_roles(r)
            } else {
                self.caller.can(self.realm, Need::Manage(Family::Clients))
            }
        };
        self.require_each(rep, roles, by_roles, Mapping::ClientScope)
    }

    /// 403 unless each of `roles` is allowed `by_roles`, or else by the permissions for
    /// `purpose`.
    fn require_each(
        &self,
        rep: &RealmRepresentation,
        roles: &[Role],
        by_roles: impl Fn(&Role) -> bool,
        purpose: Mapping,
    ) -> AdminResult<()> {
        let each = |r: &Role| {
            by_roles(r)
                || self
                    .perms
                    .as_ref()
                    .is_some_and(|f| f.may_map_as(rep, r, purpose))
        };
        if roles.iter().all(each) {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }

    /// 403 unless every role of `members` may become a composite
    /// (`RolePermissionsV2.canMapComposite`): an administrative role only for a caller who
    /// holds it; any other by the caller's roles for the member's kind, or by
    /// `map-roles-composite` of its client or `map-role-composite` of the role.
    pub fn require_compose(&self, rep: &RealmRepresentation, members: &[Role]) -> AdminResult<()> {
        self.caller.require_grant(self.realm, members)?;
        self.require_each(rep, members, |m| self.by_roles(m), Mapping::Composite)
    }
}

/// The user `id`, if the caller may do `scope` on it: by its roles (`view-users`,
/// `manage-users`) or, in the realm it administers, by fine-grained permissions. A user that
/// does not exist answers 404 to a caller who may search users, 403 to any other (Keycloak's
/// `UsersResource.user`); an existing one the caller may not touch, 403.
pub async fn require_user(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    id: &str,
    scope: &str,
) -> AdminResult<(UserRow, UserRepresentation, Option<Fgap>)> {
    let need = match scope {
        "view" => Need::View(Family::Users),
        "impersonate" => Need::Impersonate,
        _ => Need::Manage(Family::Users),
    };
    let by_role = caller.can(&snap.name, need);
    let row = state.store.user_by_id(&snap.id, id).await?;
    let Some(row) = row else {
        return Err(if caller.can(&snap.name, Need::Query(Family::Users)) {
            AdminError::not_found("User not found")
        } else {
            AdminError::Forbidden
        });
    };
    let user = crate::users::parse_user(&row)?;
    if by_role {
        return Ok((row, user, None));
    }
    match Fgap::of(state, snap, caller).await? {
        Some(f) if f.user(snap, &row.id, &user, scope) => Ok((row, user, Some(f))),
        _ => Err(AdminError::Forbidden),
    }
}

/// 403 unless the caller's fine-grained permissions give `scope` on group `id`; a group that
/// does not exist answers 404 first (`GroupsResource.getGroupById`).
pub async fn require_group(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    id: &str,
    scope: &str,
) -> AdminResult<()> {
    if edit::group(&snap.rep, id).is_none() {
        return Err(AdminError::not_found("Could not find group by id"));
    }
    match Fgap::of(state, snap, caller).await? {
        Some(f) if f.group(id, scope) => Ok(()),
        _ => Err(AdminError::Forbidden),
    }
}

/// When the caller's roles refuse an operation: 403 unless its fine-grained permissions give
/// `scoped` (on the object of the path, `path_id`, which must then exist: 404 first, as
/// Keycloak looks the object up before it checks).
pub async fn require_scoped(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    scoped: Scoped,
    path_id: Option<&str>,
) -> AdminResult<()> {
    let id = || path_id.ok_or(AdminError::Internal);
    match scoped {
        Scoped::User(scope) => require_user(state, snap, caller, id()?, scope)
            .await
            .map(drop),
        Scoped::Group(scope) => require_group(state, snap, caller, id()?, scope).await,
        Scoped::Client(scope) => require_client(state, snap, caller, id()?, scope).await,
        Scoped::AllUsers(scope) => require_all(state, snap, caller, USERS, scope).await,
        Scoped::AllGroups(scope) => require_all(state, snap, caller, GROUPS, scope).await,
        Scoped::AllClients(scope) => require_all(state, snap, caller, fgap::CLIENTS, scope).await,
        Scoped::Organization(scope) => {
            require_organization(state, snap, caller, id()?, scope).await
        }
        Scoped::AllOrganizations(scope) => {
            require_all(state, snap, caller, fgap::ORGANIZATIONS, scope).await
        }
    }
}

/// 403 unless the caller's fine-grained permissions give `scope` on client `id`. A client
/// that does not exist answers 404 to a caller who may list clients, 403 to any other
/// (`ClientsResource.getClient`: "we do this to make sure somebody can't phish ids").
pub async fn require_client(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    id: &str,
    scope: &str,
) -> AdminResult<()> {
    let unknown = edit::client(&snap.rep, id).is_none();
    let may_list = caller.can(&snap.name, Need::Query(Family::Clients));
    let missing = || AdminError::not_found("Could not find client");
    let object = (fgap::CLIENTS, id, scope);
    require_object(state, snap, caller, unknown, may_list, missing, object).await
}

/// The rule of [`require_client`] and [`require_organization`]: an object that does not exist
/// answers `missing` to a caller who may list its kind (by its roles, `may_list`, or by `view`
/// of all objects of the kind), 403 to any other; an existing one needs `scope` of it.
async fn require_object(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    unknown: bool,
    may_list: bool,
    missing: impl FnOnce() -> AdminError,
    (kind, id, scope): (&str, &str, &str),
) -> AdminResult<()> {
    let perms = Fgap::of(state, snap, caller).await?;
    if unknown {
        let may_list = may_list || perms.as_ref().is_some_and(|f| f.all(kind, "view"));
        return Err(if may_list {
            missing()
        } else {
            AdminError::Forbidden
        });
    }
    match perms {
        Some(f) if f.object(kind, id, scope) => Ok(()),
        _ => Err(AdminError::Forbidden),
    }
}

/// 403 unless the caller's fine-grained permissions give `scope` on organization `id`. One
/// that does not exist answers 404 to a caller who may list organizations, 403 to any other.
pub async fn require_organization(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    id: &str,
    scope: &str,
) -> AdminResult<()> {
    use super::auth::NeedMarker;
    let unknown = state.store.organization(&snap.id, id).await?.is_none();
    let may_list = super::organizations::QueryOrgs::check(caller, &snap.name).is_ok();
    let missing = || {
        AdminError::Status(
            axum::http::StatusCode::NOT_FOUND,
            "Organization not found.".into(),
        )
    };
    let object = (fgap::ORGANIZATIONS, id, scope);
    require_object(state, snap, caller, unknown, may_list, missing, object).await
}

/// 403 unless the caller's fine-grained permissions give `scope` on every object of `kind`.
async fn require_all(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
    kind: &str,
    scope: &str,
) -> AdminResult<()> {
    match Fgap::of(state, snap, caller).await? {
        Some(f) if f.all(kind, scope) => Ok(()),
        _ => Err(AdminError::Forbidden),
    }
}
