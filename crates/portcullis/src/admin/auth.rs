//! Who calls the Admin API, and what they may do (Keycloak's `AdminAuth` and
//! `AdminPermissions` without fine-grained permissions).
//!
//! A call carries an access token of the master realm or of the realm it manages. The caller's
//! rights are the roles the user (or service account) holds *now* — direct, through groups and
//! composites — so a revoked role stops working at once, as in Keycloak:
//! - a master-realm caller with the realm role `admin` may do everything; otherwise the roles
//!   of master's `<realm>-realm` client (`manage-users`, `view-clients`, ...) apply to `<realm>`;
//! - a caller of the realm itself has the roles of its `realm-management` client.
//!
//! A token of any other realm is refused with 403; no token, a bad or an expired one with 401.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use super::{AdminError, AdminResult};
use crate::crypto::jws;
use crate::http::paths;
use crate::oidc::bearer;
use crate::realm::index::{role_refs, Role};
use crate::realm::snapshot::RealmSnapshot;
use crate::realm::MASTER;
use crate::AppState;

/// Families of administrable things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Realm settings, roles, keys.
    Realm,
    /// Users and groups.
    Users,
    /// Clients and client scopes.
    Clients,
    /// Identity providers and their mappers.
    IdentityProviders,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// List or search.
    Query(Family),
    /// Read.
    View(Family),
    /// Change.
    Manage(Family),
    /// Create a client (`create-client`).
    CreateClient,
    /// Read events (`view-events`, `manage-events`).
    ViewEvents,
    /// Change events and their configuration (`manage-events`).
    ManageEvents,
    /// Impersonate a user (`impersonation`).
    Impersonate,
    /// Any administrative role in the realm.
    Any,
}

impl Need {
    /// The `realm-management` roles any of which grants it.
    fn roles(self) -> &'static [&'static str] {
        match self {
            Need::Query(Family::Users) => &["query-users", "view-users", "manage-users"],
            Need::View(Family::Users) => &["view-users", "manage-users"],
            Need::Manage(Family::Users) => &["manage-users"],
            Need::Query(Family::Clients) => &["query-clients", "view-clients", "manage-clients"],
            Need::View(Family::Clients) => &["view-clients", "manage-clients"],
            Need::Manage(Family::Clients) => &["manage-clients"],
            Need::CreateClient => &["create-client", "manage-clients"],
            Need::Query(Family::Realm) | Need::View(Family::Realm) => {
                &["view-realm", "manage-realm"]
            }
            Need::Manage(Family::Realm) => &["manage-realm"],
            Need::ViewEvents => &["view-events", "manage-events"],
            Need::ManageEvents => &["manage-events"],
            Need::Query(Family::IdentityProviders) | Need::View(Family::IdentityProviders) => {
                &["view-identity-providers", "manage-identity-providers"]
            }
            Need::Manage(Family::IdentityProviders) => &["manage-identity-providers"],
            Need::Impersonate => &["impersonation"],
            Need::Any => ADMIN_ROLES,
        }
    }
}

/// Every `realm-management` role.
pub const ADMIN_ROLES: &[&str] = &[
    "realm-admin",
    "manage-realm",
    "view-realm",
    "manage-users",
    "view-users",
    "query-users",
    "query-groups",
    "manage-clients",
    "view-clients",
    "query-clients",
    "query-realms",
    "create-client",
    "manage-authorization",
    "view-authorization",
    "manage-events",
    "view-events",
    "manage-identity-providers",
    "view-identity-providers",
    "impersonation",
];

/// An authenticated Admin API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The realm that issued the token.
    pub realm: String,
    /// The user (or service account) id.
    pub user_id: String,
    /// The user's username.
    pub username: String,
    /// The `clientId` the token was issued to (`azp`).
    pub client: Option<String>,
    /// The token's session (`sid`).
    pub session: Option<String>,
    /// Effective roles in the token's realm.
    roles: BTreeSet<Role>,
}

impl Caller {
    /// Whether the caller holds administrative role `role` for realm `target`.
    pub fn has(&self, target: &str, role: &str) -> bool {
        if self.realm == MASTER {
            self.roles.contains(&Role::Realm("admin".into()))
                || self
                    .roles
                    .contains(&Role::Client(format!("{target}-realm"), role.into()))
        } else {
            self.realm == target
                && self
                    .roles
                    .contains(&Role::Client("realm-management".into(), role.into()))
        }
    }

    /// 403 unless the caller may do `need` in realm `target`.
    pub fn require(&self, target: &str, need: Need) -> AdminResult<()> {
        if need.roles().iter().any(|r| self.has(target, r)) {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }

    /// Whether the caller may do `need` in realm `target`.
    pub fn can(&self, target: &str, need: Need) -> bool {
        self.require(target, need).is_ok()
    }

    /// May the caller hand `role` of realm `target` to someone (a user, a group, a composite)?
    /// Administrative roles only by a caller who holds them (Keycloak's `RoleMapperResource`
    /// admin-role check), so `manage-users` cannot make anyone a `realm-admin`.
    pub fn may_grant(&self, target: &str, role: &Role) -> bool {
        match role {
            Role::Client(c, r) if c == "realm-management" => self.has(target, r),
            Role::Client(c, r) if target == MASTER && c.ends_with("-realm") => {
                self.has(c.trim_end_matches("-realm"), r)
            }
            Role::Realm(r) if target == MASTER && (r == "admin" || r == "create-realm") => {
                self.realm == MASTER && self.roles.contains(&Role::Realm("admin".into()))
            }
            _ => true,
        }
    }

    /// 403 unless the caller may grant every role of `roles`.
    pub fn require_grant<'a>(
        &self,
        target: &str,
        roles: impl IntoIterator<Item = &'a Role>,
    ) -> AdminResult<()> {
        if roles.into_iter().all(|r| self.may_grant(target, r)) {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }

    /// Holds master's `admin` role (`auth.hasRealmRole(AdminRoles.ADMIN)`).
    pub fn is_master_admin(&self) -> bool {
        self.realm == MASTER && self.roles.contains(&Role::Realm("admin".into()))
    }

    /// May create realms: master's `admin` or `create-realm`.
    pub fn can_create_realm(&self) -> bool {
        self.realm == MASTER
            && (self.roles.contains(&Role::Realm("admin".into()))
                || self.roles.contains(&Role::Realm("create-realm".into())))
    }
}

/// Authenticates the bearer token of an Admin API request.
pub async fn authenticate(state: &AppState, parts: &Parts) -> AdminResult<Caller> {
    let token = bearer::from_header(&parts.headers).ok_or(AdminError::Unauthorized)?;
    let parsed = jws::parse(token).map_err(|_| AdminError::Unauthorized)?;
    let iss = parsed
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(AdminError::Unauthorized)?;
    let base = state
        .base_url(&parts.headers, &parts.uri)
        .map_err(|_| AdminError::Unauthorized)?;
    let realm_name = iss
        .strip_prefix(&base)
        .and_then(|rest| rest.strip_prefix("/realms/"))
        .filter(|r| !r.is_empty() && !r.contains('/'))
        .ok_or(AdminError::Unauthorized)?;
    let realm_name = url::form_urlencoded::parse(format!("r={realm_name}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or(AdminError::Unauthorized)?;
    let snap = state
        .realm(&realm_name)
        .await
        .map_err(|_| AdminError::Unauthorized)?;
    let issuer = paths::url(&base, paths::REALM, &snap.name);
    let now = crate::clock::now();
    let claims = bearer::verify_access(state.store.as_ref(), &snap, &issuer, token, now)
        .await
        .map_err(|_| AdminError::Internal)?
        .map_err(|_| AdminError::Unauthorized)?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(AdminError::Unauthorized)?;
    let row = state
        .store
        .user_by_id(&snap.id, sub)
        .await?
        .ok_or(AdminError::Unauthorized)?;
    let user: crate::representation::UserRepresentation =
        serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
    if user.enabled == Some(false) {
        return Err(AdminError::Unauthorized);
    }
    crate::events::context::set_admin_caller(crate::events::context::AuthDetails {
        realm_id: snap.id.clone(),
        client_id: claims
            .get("azp")
            .and_then(Value::as_str)
            .and_then(|azp| snap.index.client(&snap.rep, azp))
            .and_then(|c| c.id.clone()),
        user_id: row.id.clone(),
    });
    let mut direct = role_refs(user.realm_roles.as_ref(), user.client_roles.as_ref());
    for g in user.groups.iter().flatten() {
        direct.extend(snap.index.group_roles(g).iter().cloned());
    }
    Ok(Caller {
        realm: snap.name.clone(),
        user_id: row.id,
        username: user.username.clone().unwrap_or_default(),
        client: claims
            .get("azp")
            .and_then(Value::as_str)
            .map(str::to_string),
        session: claims
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_string),
        roles: snap.index.expand(direct),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AdminResult<Self> {
        authenticate(state, parts).await
    }
}

/// The realm of an Admin API path: 404 when unknown, 403 when the caller's token belongs to
/// another realm than this one or master.
pub(super) async fn target(
    state: &AppState,
    caller: &Caller,
    realm: &str,
) -> AdminResult<Arc<RealmSnapshot>> {
    let not_found = || AdminError::not_found("Realm not found.");
    if !state.realms.contains(realm) {
        return Err(not_found());
    }
    if caller.realm != MASTER && caller.realm != realm {
        return Err(AdminError::Forbidden);
    }
    state
        .realms
        .get(state.store.as_ref(), realm)
        .await?
        .ok_or_else(not_found)
}

/// Where, when the roles refuse an operation, fine-grained admin permissions may still allow
/// it: the scope asked, and of what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoped {
    /// The user of the path (`{id}`): `view`, `manage`, `map-roles`.
    User(&'static str),
    /// The group of the path (`{id}`): `view`, `manage`, `view-members`.
    Group(&'static str),
    /// Every user (`view` stands in for `query-users`, as `UserPermissionsV2.canQuery`).
    AllUsers(&'static str),
    /// Every group (`view` stands in for `query-groups`).
    AllGroups(&'static str),
    /// The client of the path (`{id}`): `view`, `manage` (`ClientPermissionsV2`).
    Client(&'static str),
    /// Every client (`view` stands in for `query-clients`, `manage` for creating one).
    AllClients(&'static str),
    /// The organization of the path (`{org}`): `view`, `manage` (`OrganizationPermissions`).
    Organization(&'static str),
    /// Every organization (`view` stands in for `query-organizations`, `manage` for creating
    /// one).
    AllOrganizations(&'static str),
}

/// What a [`RealmAdmin`] handler needs of its caller, as a type.
pub trait NeedMarker: Send + 'static {
    /// 403 unless `caller` may do it in realm `realm`.
    fn check(caller: &Caller, realm: &str) -> AdminResult<()>;

    /// In a realm with fine-grained admin permissions: what allows the operation when
    /// [`NeedMarker::check`] refuses.
    const SCOPED: Option<Scoped> = None;
}

macro_rules! needs {
    ($($(#[$doc:meta])* $name:ident => $need:expr $(, $scoped:expr)?;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl NeedMarker for $name {
            fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
                caller.require(realm, $need)
            }
            $(const SCOPED: Option<Scoped> = Some($scoped);)?
        }
    )*};
}

needs! {
    /// [`Need::Query`] of users.
    QueryUsers => Need::Query(Family::Users);
    /// [`Need::View`] of users.
    ViewUsers => Need::View(Family::Users);
    /// [`Need::Manage`] of users.
    ManageUsers => Need::Manage(Family::Users);
    /// Lists the realm's clients: [`Need::Query`] of clients, else `view` of all clients
    /// (`ClientPermissionsV2.canList`); the handler keeps the clients the caller may view.
    QueryClients => Need::Query(Family::Clients), Scoped::AllClients("view");
    /// [`Need::View`] of clients.
    ViewClients => Need::View(Family::Clients);
    /// [`Need::Manage`] of clients.
    ManageClients => Need::Manage(Family::Clients);
    /// Reads the client of the path (`{id}`): `view-clients` (or `manage-clients`), else
    /// `view` of that client (`ClientPermissionsV2.canView`).
    ViewClient => Need::View(Family::Clients), Scoped::Client("view");
    /// Changes the client of the path: `manage-clients`, else `manage` of that client.
    ManageClient => Need::Manage(Family::Clients), Scoped::Client("manage");
    /// Reads client scopes: [`Need::View`] of clients, else `view` of all clients
    /// (`ClientPermissionsV2.canView(ClientScopeModel)`).
    ViewClientScopes => Need::View(Family::Clients), Scoped::AllClients("view");
    /// Changes client scopes: [`Need::Manage`] of clients, else `manage` of all clients
    /// (`ClientPermissionsV2.canManageClientScopes`).
    ManageClientScopes => Need::Manage(Family::Clients), Scoped::AllClients("manage");
    /// [`Need::CreateClient`], else `manage` of all clients (`ClientPermissionsV2.canManage`).
    CreateClient => Need::CreateClient, Scoped::AllClients("manage");
    /// [`Need::View`] of the realm.
    ViewRealm => Need::View(Family::Realm);
    /// [`Need::Manage`] of the realm.
    ManageRealm => Need::Manage(Family::Realm);
    /// [`Need::ViewEvents`].
    ViewEvents => Need::ViewEvents;
    /// [`Need::ManageEvents`].
    ManageEvents => Need::ManageEvents;
    /// [`Need::View`] of identity providers.
    ViewIdps => Need::View(Family::IdentityProviders);
    /// [`Need::Manage`] of identity providers.
    ManageIdps => Need::Manage(Family::IdentityProviders);
    /// [`Need::Any`].
    AnyRole => Need::Any;
    /// Searching users (`GET /users`, `/users/count`): `query-users` (or `view-users`,
    /// `manage-users`), else `view` of all users.
    SearchUsers => Need::Query(Family::Users), Scoped::AllUsers("view");
    /// Reads the group of the path (`{id}`): `view-users` (or `manage-users`), else `view` of
    /// that group (`GroupPermissionsV2.canView`).
    ViewGroup => Need::View(Family::Users), Scoped::Group("view");
    /// Changes the group of the path: `manage-users`, else `manage` of that group.
    ManageGroup => Need::Manage(Family::Users), Scoped::Group("manage");
    /// Lists the members of the group of the path: `view-users` (or `manage-users`), else
    /// `view-members` of that group.
    ViewGroupMembers => Need::View(Family::Users), Scoped::Group("view-members");
    /// Reads the user of the path (`{id}`): `view-users` (or `manage-users`), else `view` of
    /// that user.
    ViewUser => Need::View(Family::Users), Scoped::User("view");
    /// Changes the user of the path: `manage-users`, else `manage` of that user.
    ManageUser => Need::Manage(Family::Users), Scoped::User("manage");
    /// Impersonates the user of the path: the role `impersonation`, else `impersonate` of that
    /// user (`UserPermissionsV2.canImpersonate`).
    ImpersonateUser => Need::Impersonate, Scoped::User("impersonate");
    /// Changes the role mappings of the user of the path: `manage-users`, else `map-roles` of
    /// that user (each role is then checked too: [`super::permissions::Fgap::may_map`]).
    MapUserRoles => Need::Manage(Family::Users), Scoped::User("map-roles");
}

/// Listing groups: [`Need::Query`] of users, or `query-groups`, else `view` of all groups
/// (`GroupPermissionsV2.canView`).
#[derive(Debug)]
pub struct QueryGroups;

impl NeedMarker for QueryGroups {
    fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
        if caller.can(realm, Need::Query(Family::Users)) || caller.has(realm, "query-groups") {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }
    const SCOPED: Option<Scoped> = Some(Scoped::AllGroups("view"));
}

/// No check here: the handler decides what it needs once it knows more (a role's owner).
#[derive(Debug)]
pub struct CheckedLater;

impl NeedMarker for CheckedLater {
    fn check(_: &Caller, _: &str) -> AdminResult<()> {
        Ok(())
    }
}

/// The administered realm of a `/admin/realms/{realm}/...` request and its caller, who may do
/// `N` there; with the query string read as `Q`. The checks run in Keycloak's order: the token
/// (401), the query string (400), the realm (404, then 403 for a token of another realm than
/// it or master), then the need (403).
#[derive(Debug)]
pub struct RealmAdmin<N, Q = IgnoredAny> {
    /// The realm.
    pub snap: Arc<RealmSnapshot>,
    /// Who calls.
    pub caller: Caller,
    /// The query string.
    pub query: Q,
    need: PhantomData<fn() -> N>,
}

impl<N: NeedMarker, Q: DeserializeOwned + Send> FromRequestParts<AppState> for RealmAdmin<N, Q> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let caller = authenticate(state, parts)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<Q>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let realm = params
            .iter()
            .find(|(k, _)| *k == "realm")
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| AdminError::Internal.into_response())?;
        let snap = target(state, &caller, &realm)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Err(refused) = N::check(&caller, &snap.name) {
            // Refused by the roles: fine-grained permissions on the path's object, or on all
            // objects of a type, may allow it.
            let Some(scoped) = N::SCOPED else {
                return Err(refused.into_response());
            };
            let path_id = params
                .iter()
                .find(|(k, _)| *k == "id" || *k == "org")
                .map(|(_, v)| v);
            super::permissions::require_scoped(state, &snap, &caller, scoped, path_id)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        // Whatever the Admin API does with a realm may show its keys (components, keys,
        // partial export, ...): they are generated now if nothing used them yet.
        let snap = state
            .realms
            .with_keys(state.store.as_ref(), snap)
            .await
            .map_err(|e| AdminError::from(e).into_response())?;
        // Master's Admin API lists the per-realm admin clients its document implies.
        let snap = state
            .realms
            .admin_view(state.store.as_ref(), snap)
            .await
            .map_err(|e| AdminError::from(e).into_response())?;
        Ok(RealmAdmin {
            snap,
            caller,
            query,
            need: PhantomData,
        })
    }
}
