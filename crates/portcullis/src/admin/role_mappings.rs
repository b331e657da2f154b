//! Role mappings, written once for every holder of role references: users and groups
//! (`/role-mappings`), clients (`/scope-mappings`) and composite roles (`/composites`).
//!
//! A [`MappingHolder`] says where a holder keeps its references; [`listed`] answers the
//! direct, composite (effective) or available roles of a container, [`resolve`] reads a
//! request body and [`apply`] adds or removes. [`Holders`] loads and stores one kind of holder
//! for the generic handlers ([`all`], [`realm_list`], [`client_list`], [`realm_change`],
//! [`client_change`]), each kind in the order Keycloak checks it.

use std::collections::BTreeSet;
use std::future::Future;
use std::ops::Deref;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde_json::Value;

use super::auth::{Caller, NeedMarker, RealmAdmin};
use super::{no_content, view, AdminError, AdminResult};
use crate::realm::edit::{self, Mappings};
use crate::realm::index::{role_refs, Role};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{
    GroupRepresentation, RealmRepresentation, RoleRepresentation, ScopeMappingRepresentation,
    UserRepresentation,
};
use crate::AppState;

/// Which roles of a holder an endpoint lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Those mapped directly.
    Direct,
    /// Those held in effect: direct, through composites (and a user's groups).
    Composite,
    /// Those of the container not held in effect.
    Available,
}

/// A [`Mode`] as a type, for the generic handlers.
pub trait ModeMarker: Send + 'static {
    /// The mode.
    const MODE: Mode;
}

/// [`Mode::Direct`].
#[derive(Debug)]
pub struct Direct;
/// [`Mode::Composite`].
#[derive(Debug)]
pub struct Composite;
/// [`Mode::Available`].
#[derive(Debug)]
pub struct Available;

impl ModeMarker for Direct {
    const MODE: Mode = Mode::Direct;
}
impl ModeMarker for Composite {
    const MODE: Mode = Mode::Composite;
}
impl ModeMarker for Available {
    const MODE: Mode = Mode::Available;
}

/// Which roles: all, the realm's, or one client's (`clientId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// Realm and client roles.
    All,
    /// Realm roles.
    Realm,
    /// The roles of the client with this `clientId`.
    Client(String),
}

impl Container {
    /// The realm's roles (`None`) or those of a client (`Some(clientId)`).
    pub fn of(client_id: Option<String>) -> Self {
        client_id.map_or(Container::Realm, Container::Client)
    }

    /// Whether `role` is one of these.
    pub fn holds(&self, role: &Role) -> bool {
        match (self, role) {
            (Container::All, _) | (Container::Realm, Role::Realm(_)) => true,
            (Container::Client(c), Role::Client(o, _)) => c == o,
            _ => false,
        }
    }

    fn client(&self) -> Option<&str> {
        match self {
            Container::Client(c) => Some(c),
            _ => None,
        }
    }
}

/// Where a holder keeps its role references.
pub trait MappingHolder {
    /// The roles mapped directly, realm roles first.
    fn direct(&self) -> Vec<Role>;
    /// The roles held in effect.
    fn effective(&self, snap: &RealmSnapshot) -> BTreeSet<Role> {
        snap.index.expand(self.direct())
    }
    /// The roles an `/available` list leaves out: for role mappers those mapped directly
    /// (Keycloak's `RoleMapperResource` filters on `hasDirectRole`).
    fn unavailable(&self, _snap: &RealmSnapshot) -> BTreeSet<Role> {
        self.direct().into_iter().collect()
    }
}

/// A [`MappingHolder`] that can be changed.
pub trait MappingHolderMut: MappingHolder {
    /// Adds a role (nothing when held).
    fn grant(&mut self, role: &Role);
    /// Removes a role (nothing when not held).
    fn revoke(&mut self, role: &Role);
}

fn change(mut m: Mappings<'_>, role: &Role, op: Op) {
    match op {
        Op::Add => m.add(role),
        Op::Remove => m.remove(role),
    };
}

impl MappingHolder for UserRepresentation {
    fn direct(&self) -> Vec<Role> {
        role_refs(self.realm_roles.as_ref(), self.client_roles.as_ref())
    }
    /// With the roles of the user's groups.
    fn effective(&self, snap: &RealmSnapshot) -> BTreeSet<Role> {
        let mut d = self.direct();
        for g in self.groups.iter().flatten() {
            d.extend(snap.index.group_roles(g).iter().cloned());
        }
        snap.index.expand(d)
    }
}

impl MappingHolderMut for UserRepresentation {
    fn grant(&mut self, role: &Role) {
        change(self.mappings(), role, Op::Add);
    }
    fn revoke(&mut self, role: &Role) {
        change(self.mappings(), role, Op::Remove);
    }
}

impl MappingHolder for GroupRepresentation {
    fn direct(&self) -> Vec<Role> {
        role_refs(self.realm_roles.as_ref(), self.client_roles.as_ref())
    }
    /// With the roles of its parent groups (Keycloak's `GroupAdapter.hasRole` asks the parent).
    fn effective(&self, snap: &RealmSnapshot) -> BTreeSet<Role> {
        let mut d = self.direct();
        if let Some(p) = &self.path {
            d.extend(snap.index.group_roles(p).iter().cloned());
        }
        snap.index.expand(d)
    }
}

impl MappingHolderMut for GroupRepresentation {
    fn grant(&mut self, role: &Role) {
        change(self.mappings(), role, Op::Add);
    }
    fn revoke(&mut self, role: &Role) {
        change(self.mappings(), role, Op::Remove);
    }
}

/// A composite role: its composites are its mappings.
impl MappingHolder for RoleRepresentation {
    fn direct(&self) -> Vec<Role> {
        self.composites
            .as_ref()
            .map(|c| role_refs(c.realm.as_ref(), c.client.as_ref()))
            .unwrap_or_default()
    }
}

impl MappingHolderMut for RoleRepresentation {
    fn grant(&mut self, role: &Role) {
        self.change_composite(role, Op::Add);
    }
    fn revoke(&mut self, role: &Role) {
        self.change_composite(role, Op::Remove);
    }
}

/// The realm and client role lists of a holder.
trait Lists {
    fn mappings(&mut self) -> Mappings<'_>;
}

impl Lists for UserRepresentation {
    fn mappings(&mut self) -> Mappings<'_> {
        Mappings {
            realm: &mut self.realm_roles,
            client: &mut self.client_roles,
        }
    }
}

impl Lists for GroupRepresentation {
    fn mappings(&mut self) -> Mappings<'_> {
        Mappings {
            realm: &mut self.realm_roles,
            client: &mut self.client_roles,
        }
    }
}

trait CompositeRole {
    fn change_composite(&mut self, role: &Role, op: Op);
}

impl CompositeRole for RoleRepresentation {
    /// Adds or removes a composite; `composite` says whether any is left.
    fn change_composite(&mut self, role: &Role, op: Op) {
        let c = self.composites.get_or_insert_with(Default::default);
        change(
            Mappings {
                realm: &mut c.realm,
                client: &mut c.client,
            },
            role,
            op,
        );
        let any = c.realm.as_ref().is_some_and(|l| !l.is_empty())
            || c.client
                .as_ref()
                .is_some_and(|m| m.values().any(|l| !l.is_empty()));
        self.composite = Some(any);
        if !any {
            self.composites = None;
        }
    }
}

/// Who holds scope mappings: a client or a client scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeTarget {
    /// The client with this `clientId`.
    Client(String),
    /// The client scope with this name.
    Scope(String),
}

/// The scope mappings of a client or client scope (`scopeMappings` and `clientScopeMappings`
/// entries naming it in `client` or `clientScope`): the roles allowed into tokens when the
/// client's `fullScopeAllowed` is off.
#[derive(Debug)]
pub struct ScopeMappings<R> {
    /// The realm (`&` to read, `&mut` to change).
    pub rep: R,
    /// Whose mappings.
    pub target: ScopeTarget,
}

impl ScopeTarget {
    fn names(&self, m: &ScopeMappingRepresentation) -> bool {
        match self {
            ScopeTarget::Client(c) => m.client.as_deref() == Some(c.as_str()),
            ScopeTarget::Scope(s) => m.client_scope.as_deref() == Some(s.as_str()),
        }
    }

    fn new_mapping(&self) -> ScopeMappingRepresentation {
        match self {
            ScopeTarget::Client(c) => ScopeMappingRepresentation {
                client: Some(c.clone()),
                ..Default::default()
            },
            ScopeTarget::Scope(s) => ScopeMappingRepresentation {
                client_scope: Some(s.clone()),
                ..Default::default()
            },
        }
    }
}

/// Every role of the realm: its own and every client's.
fn all_roles(rep: &RealmRepresentation) -> Vec<Role> {
    let mut out: Vec<Role> = edit::roles(rep, None)
        .filter_map(|r| r.name.clone())
        .map(Role::Realm)
        .collect();
    if let Some(m) = rep.roles.as_ref().and_then(|r| r.client.as_ref()) {
        for (c, list) in m {
            out.extend(
                list.iter()
                    .filter_map(|r| r.name.clone())
                    .map(|n| Role::Client(c.clone(), n)),
            );
        }
    }
    out
}

impl<R: Deref<Target = RealmRepresentation>> MappingHolder for ScopeMappings<R> {
    fn direct(&self) -> Vec<Role> {
        let mut out = Vec::new();
        for m in self.rep.scope_mappings.iter().flatten() {
            if self.target.names(m) {
                out.extend(m.roles.iter().flatten().map(|n| Role::Realm(n.clone())));
            }
        }
        for (owner, maps) in self.rep.client_scope_mappings.iter().flatten() {
            for m in maps {
                if self.target.names(m) {
                    out.extend(
                        m.roles
                            .iter()
                            .flatten()
                            .map(|n| Role::Client(owner.clone(), n.clone())),
                    );
                }
            }
        }
        out
    }
    /// Keycloak's `hasScope`: a client with `fullScopeAllowed` (the default) has every role in
    /// scope, otherwise its scope mappings and its own roles, with their composites; a client
    /// scope has its scope mappings with their composites.
    fn effective(&self, snap: &RealmSnapshot) -> BTreeSet<Role> {
        let mut d = self.direct();
        if let ScopeTarget::Client(c) = &self.target {
            if let Some(client) = edit::client_by_client_id(&self.rep, c) {
                if client.full_scope_allowed.unwrap_or(true) {
                    return all_roles(&self.rep).into_iter().collect();
                }
            }
            d.extend(
                edit::roles(&self.rep, Some(c))
                    .filter_map(|r| r.name.clone())
                    .map(|n| Role::Client(c.clone(), n)),
            );
        }
        snap.index.expand(d)
    }
    /// `ScopeMappedResource.getAvailable` leaves out the roles in scope (`hasScope`).
    fn unavailable(&self, snap: &RealmSnapshot) -> BTreeSet<Role> {
        self.effective(snap)
    }
}

impl ScopeMappings<&mut RealmRepresentation> {
    /// The role list of this client's mapping for `role`'s container, created when absent.
    fn list(&mut self, role: &Role) -> (&mut Vec<String>, String) {
        let (maps, name) = match role {
            Role::Realm(n) => (self.rep.scope_mappings.get_or_insert_with(Vec::new), n),
            Role::Client(c, n) => (
                self.rep
                    .client_scope_mappings
                    .get_or_insert_with(Default::default)
                    .entry(c.clone())
                    .or_default(),
                n,
            ),
        };
        let target = &self.target;
        let pos = match maps.iter().position(|m| target.names(m)) {
            Some(p) => p,
            None => {
                maps.push(target.new_mapping());
                maps.len() - 1
            }
        };
        (maps[pos].roles.get_or_insert_with(Vec::new), name.clone())
    }
}

impl MappingHolderMut for ScopeMappings<&mut RealmRepresentation> {
    fn grant(&mut self, role: &Role) {
        let (list, name) = self.list(role);
        if !list.contains(&name) {
            list.push(name);
        }
    }
    fn revoke(&mut self, role: &Role) {
        let (list, name) = self.list(role);
        list.retain(|x| *x != name);
    }
}

/// Adds or removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST`.
    Add,
    /// `DELETE`.
    Remove,
}

impl Op {
    fn of(add: bool) -> Self {
        if add {
            Op::Add
        } else {
            Op::Remove
        }
    }
}

/// Keycloak's `ModelToRepresentation.toBriefRepresentation` of a role's JSON: without its
/// `attributes` (what role lists answer unless `briefRepresentation=false`).
pub fn brief_role(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("attributes");
    }
    v
}

/// The roles of `holder` in `container` by `mode`, as brief `RoleRepresentation`s (Keycloak's
/// `RoleMapperResource`, `ScopeMappedResource` and composites answer brief ones).
pub fn listed(
    snap: &RealmSnapshot,
    holder: &impl MappingHolder,
    container: &Container,
    mode: Mode,
) -> Vec<Value> {
    listed_as(snap, holder, container, mode, true)
}

/// [`listed`], brief or with attributes.
pub fn listed_as(
    snap: &RealmSnapshot,
    holder: &impl MappingHolder,
    container: &Container,
    mode: Mode,
    brief: bool,
) -> Vec<Value> {
    let roles: Vec<Role> = match mode {
        Mode::Direct => holder
            .direct()
            .into_iter()
            .filter(|r| container.holds(r))
            .collect(),
        Mode::Composite => holder
            .effective(snap)
            .into_iter()
            .filter(|r| container.holds(r))
            .collect(),
        Mode::Available => {
            let have = holder.unavailable(snap);
            let owner = container.client();
            edit::roles(&snap.rep, owner)
                .filter_map(|r| r.name.clone())
                .map(|n| edit::role_key(owner, &n))
                .filter(|r| !have.contains(r))
                .collect()
        }
    };
    let out = view::roles_out(&snap.rep, &roles);
    if brief {
        out.into_iter().map(brief_role).collect()
    } else {
        out
    }
}

/// `{"realmMappings", "clientMappings"}` of the roles `holder` maps directly.
pub fn all_json(snap: &RealmSnapshot, holder: &impl MappingHolder) -> Value {
    let roles: Vec<Role> = holder
        .direct()
        .into_iter()
        .filter(|r| snap.index.role_exists(r))
        .collect();
    let mut v = view::mappings_json(&snap.rep, &roles);
    let brief_list = |l: Option<&mut Value>| {
        if let Some(l) = l.and_then(Value::as_array_mut) {
            l.iter_mut().for_each(|r| *r = brief_role(r.take()));
        }
    };
    brief_list(v.get_mut("realmMappings"));
    if let Some(m) = v.get_mut("clientMappings").and_then(Value::as_object_mut) {
        m.values_mut()
            .for_each(|c| brief_list(c.get_mut("mappings")));
    }
    v
}

/// Resolves a `RoleRepresentation` of a request body (by `id`, else by name in the realm or,
/// with `clientRole` and `containerId`, in that client) to a role of the realm.
pub fn resolve_one(rep: &RealmRepresentation, v: &Value) -> AdminResult<Role> {
    let not_found = || AdminError::not_found("Could not find role");
    if let Some(id) = v.get("id").and_then(Value::as_str) {
        let (owner, r) = edit::role_by_id(rep, id).ok_or_else(not_found)?;
        let name = r.name.clone().ok_or_else(not_found)?;
        return Ok(edit::role_key(owner.as_deref(), &name));
    }
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(not_found)?;
    if v.get("clientRole").and_then(Value::as_bool) == Some(true) {
        let container = v
            .get("containerId")
            .and_then(Value::as_str)
            .ok_or_else(not_found)?;
        let client = edit::client(rep, container).ok_or_else(not_found)?;
        let cid = client.client_id.clone().unwrap_or_default();
        edit::role(rep, Some(&cid), name).ok_or_else(not_found)?;
        return Ok(Role::Client(cid, name.to_string()));
    }
    edit::role(rep, None, name).ok_or_else(not_found)?;
    Ok(Role::Realm(name.to_string()))
}

/// The roles of a request body, each in `container` (404 `Could not find role` otherwise).
///
/// An element that is not an object is what Jackson cannot read as a `RoleRepresentation`
/// (a `MismatchedInputException`, which Keycloak's `KeycloakErrorHandler` answers 400
/// `{"error": "unknown_error"}`), refused before any role is looked up.
pub fn resolve(
    rep: &RealmRepresentation,
    body: &[Value],
    container: &Container,
) -> AdminResult<Vec<Role>> {
    if body.iter().any(|v| !v.is_object()) {
        return Err(AdminError::Plain("unknown_error".into()));
    }
    let roles = body
        .iter()
        .map(|v| resolve_one(rep, v))
        .collect::<AdminResult<Vec<_>>>()?;
    if roles.iter().any(|r| !container.holds(r)) {
        return Err(AdminError::not_found("Could not find role"));
    }
    Ok(roles)
}

/// [`resolve`], and when the roles are to be granted, 403 unless the caller may grant each.
pub fn resolve_granted(
    rep: &RealmRepresentation,
    caller: &Caller,
    realm: &str,
    body: &[Value],
    container: &Container,
    op: Op,
) -> AdminResult<Vec<Role>> {
    let roles = resolve(rep, body, container)?;
    if op == Op::Add {
        caller.require_grant(realm, &roles)?;
    }
    Ok(roles)
}

/// Adds or removes `roles`.
pub fn apply(holder: &mut impl MappingHolderMut, roles: &[Role], op: Op) {
    for r in roles {
        match op {
            Op::Add => holder.grant(r),
            Op::Remove => holder.revoke(r),
        }
    }
}

/// The `clientId` of the client `id` of a mapping path (404 `missing` when unknown).
pub fn client_id(rep: &RealmRepresentation, id: &str, missing: &str) -> AdminResult<String> {
    edit::client(rep, id)
        .map(|c| c.client_id.clone().unwrap_or_default())
        .ok_or_else(|| AdminError::not_found(missing))
}

/// The container of a mapping path: the realm's roles, or those of client `id`.
pub fn container(
    rep: &RealmRepresentation,
    client: Option<&str>,
    missing: &str,
) -> AdminResult<Container> {
    Ok(Container::of(
        client.map(|id| client_id(rep, id, missing)).transpose()?,
    ))
}

/// One kind of holder behind `/{kind}/{id}/...-mappings`: what it needs, how it is loaded
/// and stored.
pub trait Holders: Send + 'static {
    /// Needed to read.
    type View: NeedMarker;
    /// Needed to change.
    type Manage: NeedMarker;
    /// `{"realmMappings", "clientMappings"}` of holder `id`.
    fn all(
        state: &AppState,
        snap: &RealmSnapshot,
        id: &str,
    ) -> impl Future<Output = AdminResult<Value>> + Send;
    /// The roles of holder `id` in the realm or in client `client` (UUID), brief or with
    /// their attributes.
    fn list(
        state: &AppState,
        snap: &RealmSnapshot,
        id: &str,
        client: Option<&str>,
        mode: Mode,
        brief: bool,
    ) -> impl Future<Output = AdminResult<Vec<Value>>> + Send;
    /// Adds or removes the roles of `body`.
    fn change(
        state: &AppState,
        snap: &RealmSnapshot,
        caller: &Caller,
        id: &str,
        client: Option<&str>,
        body: &[u8],
        op: Op,
    ) -> impl Future<Output = AdminResult<()>> + Send;
}

/// What holds scope mappings (clients, client scopes): the target a path id names.
pub trait ScopeHolder: Send + 'static {
    /// Needed to read its scope mappings.
    type View: NeedMarker;
    /// Needed to change them (each role is then checked too:
    /// [`super::permissions::RoleGate::require_client_scope`]).
    type Manage: NeedMarker;
    /// The target of path id `id` (404 with the holder's own message when there is none).
    fn target(rep: &RealmRepresentation, id: &str) -> AdminResult<ScopeTarget>;
}

/// The scope mappings of a [`ScopeHolder`] kind (Keycloak's `ScopeMappedResource` and
/// `ScopeMappedClientResource`), served by the generic handlers.
#[derive(Debug)]
pub struct ScopeMapped<K>(std::marker::PhantomData<K>);

impl<K: ScopeHolder> Holders for ScopeMapped<K> {
    type View = K::View;
    type Manage = K::Manage;

    async fn all(_: &AppState, snap: &RealmSnapshot, id: &str) -> AdminResult<Value> {
        let target = K::target(&snap.rep, id)?;
        Ok(all_json(
            snap,
            &ScopeMappings {
                rep: &snap.rep,
                target,
            },
        ))
    }

    async fn list(
        _: &AppState,
        snap: &RealmSnapshot,
        id: &str,
        owner: Option<&str>,
        mode: Mode,
        brief: bool,
    ) -> AdminResult<Vec<Value>> {
        let holder = ScopeMappings {
            rep: &snap.rep,
            target: K::target(&snap.rep, id)?,
        };
        let container = container(&snap.rep, owner, "Could not find client")?;
        Ok(listed_as(snap, &holder, &container, mode, brief))
    }

    async fn change(
        state: &AppState,
        snap: &RealmSnapshot,
        caller: &Caller,
        id: &str,
        owner: Option<&str>,
        bytes: &[u8],
        op: Op,
    ) -> AdminResult<()> {
        let list: Vec<Value> =
            super::representation(bytes, &super::Shape::Many(&super::jackson::ROLE))?;
        let gate = super::permissions::RoleGate::of(state, snap, caller).await?;
        super::edit_realm(state, &snap.name, |rep, _| {
            let target = K::target(rep, id)?;
            let container = container(rep, owner, "Could not find client")?;
            let roles = resolve(rep, &list, &container)?;
            if op == Op::Add {
                gate.require_client_scope(rep, &roles)?;
            }
            apply(&mut ScopeMappings { rep, target }, &roles, op);
            Ok(())
        })
        .await
    }
}

/// `GET /{kind}/{id}/{role|scope}-mappings`.
pub async fn all<H: Holders>(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<H::View>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    H::all(&state, &snap, &id).await.map(Json)
}

/// Query of the mapping lists: `briefRepresentation` (default `true`), which Keycloak reads
/// on the `/composite` lists only; the others are always brief.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BriefQuery {
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

impl BriefQuery {
    fn brief(&self, mode: Mode) -> bool {
        mode != Mode::Composite || self.brief_representation.unwrap_or(true)
    }
}

/// `GET /{kind}/{id}/...-mappings/realm[/composite|/available]`.
pub async fn realm_list<H: Holders, M: ModeMarker>(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<H::View, BriefQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    H::list(&state, &snap, &id, None, M::MODE, query.brief(M::MODE))
        .await
        .map(Json)
}

/// `GET /{kind}/{id}/...-mappings/clients/{client}[/composite|/available]`.
pub async fn client_list<H: Holders, M: ModeMarker>(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<H::View, BriefQuery>,
    Path((_, id, client)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    H::list(
        &state,
        &snap,
        &id,
        Some(&client),
        M::MODE,
        query.brief(M::MODE),
    )
    .await
    .map(Json)
}

/// `POST` (`ADD`) or `DELETE` `/{kind}/{id}/...-mappings/realm`.
pub async fn realm_change<H: Holders, const ADD: bool>(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<H::Manage>,
    Path((_, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    H::change(&state, &snap, &caller, &id, None, &b, Op::of(ADD)).await?;
    Ok(no_content())
}

/// `POST` (`ADD`) or `DELETE` `/{kind}/{id}/...-mappings/clients/{client}`.
pub async fn client_change<H: Holders, const ADD: bool>(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<H::Manage>,
    Path((_, id, client)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    H::change(&state, &snap, &caller, &id, Some(&client), &b, Op::of(ADD)).await?;
    Ok(no_content())
}

/// The paths of one kind of holder's mappings (Keycloak's `RoleMapperResource` or
/// `ScopeMappedResource` with `ClientRoleMappingsResource` or `ScopeMappedClientResource`).
#[derive(Debug, Clone, Copy)]
pub struct MappingPaths {
    /// `GET`: `{"realmMappings", "clientMappings"}`.
    pub all: &'static str,
    /// `GET` `POST` `DELETE`: realm roles.
    pub realm: &'static str,
    /// `GET`: effective realm roles.
    pub realm_composite: &'static str,
    /// `GET`: realm roles that can be added.
    pub realm_available: &'static str,
    /// `GET` `POST` `DELETE`: roles of one client.
    pub client: &'static str,
    /// `GET`: effective roles of one client.
    pub client_composite: &'static str,
    /// `GET`: roles of one client that can be added.
    pub client_available: &'static str,
}

/// The routes of one kind of holder's mappings.
pub fn routes_of<H: Holders>(p: MappingPaths) -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(p.all, get(all::<H>))
        .route(
            p.realm,
            get(realm_list::<H, Direct>)
                .post(realm_change::<H, true>)
                .delete(realm_change::<H, false>),
        )
        .route(p.realm_composite, get(realm_list::<H, Composite>))
        .route(p.realm_available, get(realm_list::<H, Available>))
        .route(
            p.client,
            get(client_list::<H, Direct>)
                .post(client_change::<H, true>)
                .delete(client_change::<H, false>),
        )
        .route(p.client_composite, get(client_list::<H, Composite>))
        .route(p.client_available, get(client_list::<H, Available>))
}
