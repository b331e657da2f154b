//! Editing a realm's stored representation: an optimistic read-modify-write ([`edit`]) that
//! validates the result as an import is, and the changes that keep its cross-references whole
//! (roles are referenced by name from composites, groups, scope mappings and the default role;
//! clients by `clientId`; groups by path). Shared by the Admin API, partial import and client
//! registration; the functions over [`RealmRepresentation`] are plain and unit-tested.

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::crypto::random_alphanumeric;
use crate::realm::index::Role;
use crate::realm::snapshot::{RealmCache, RealmSnapshot};
use crate::realm::{admin_clients, import, validate};
use crate::representation::{
    ClientRepresentation, ComponentRepresentation, GroupRepresentation, RealmRepresentation,
    RoleRepresentation, UserRepresentation,
};
use crate::store::{Store, StoreError, StoredRealm, UserRow, Write};

/// Why a realm edit failed; each surface answers it in its own terms.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Something named is missing (Admin API 404 with this text).
    #[error("{0}")]
    NotFound(String),
    /// The change is invalid (Admin API 400 `errorMessage`).
    #[error("{0}")]
    Invalid(String),
    /// The change clashes with what exists (Admin API 409 `errorMessage`).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed, or refused the write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Cannot happen with valid data (serialization failed).
    #[error("internal error")]
    Internal,
}

impl EditError {
    fn invalid(e: impl ToString) -> Self {
        EditError::Invalid(e.to_string())
    }
}

/// Result of an edit step.
pub type EditResult<T> = Result<T, EditError>;

/// A fresh id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Reads a realm's stored representation, lets `f` change it (and add writes to the same
/// transaction), validates the result as an import would, and stores it if nobody changed the
/// realm meanwhile (otherwise reads and tries again). `realms` gets the new snapshot before
/// this returns, so the next request on this node sees the change.
pub async fn edit<T, E: From<EditError>>(
    store: &dyn Store,
    realms: &RealmCache,
    realm: &str,
    mut f: impl FnMut(&mut RealmRepresentation, &mut Vec<Write>) -> Result<T, E>,
) -> Result<T, E> {
    for _ in 0..8 {
        let stored = store
            .realm_by_name(realm)
            .await
            .map_err(EditError::Store)?
            .ok_or_else(|| EditError::NotFound("Realm not found.".into()))?;
        let mut rep: RealmRepresentation =
            serde_json::from_str(&stored.representation).map_err(|e| {
                tracing::error!(error = %e, realm, "stored realm is invalid");
                EditError::Internal
            })?;
        // Master's per-realm admin clients are implied: the change sees them as Keycloak's
        // master has them, and they are taken out again before the document is stored.
        let administered = (realm == super::MASTER).then(|| realms.ids_and_names());
        let administered = administered.as_deref().map(|list| {
            list.iter()
                .map(|(id, name)| admin_clients::Administered { id, name })
                .collect::<Vec<_>>()
        });
        if let Some(list) = &administered {
            admin_clients::augment(&mut rep, list.iter().copied());
        }
        let mut writes = Vec::new();
        let out = f(&mut rep, &mut writes)?;
        validate::references(&rep).map_err(EditError::invalid)?;
        if let Some(list) = &administered {
            if let Some(wrong) = admin_clients::changed(&rep, list.iter().copied()) {
                return Err(EditError::invalid(wrong).into());
            }
            admin_clients::strip(&mut rep);
        }
        import::realm_keys(&rep).map_err(EditError::invalid)?;
        let representation = serde_json::to_string(&rep).map_err(|_| EditError::Internal)?;
        let mut batch = vec![Write::UpdateRealm {
            id: stored.id.clone(),
            expected_version: stored.version,
            representation: representation.clone(),
        }];
        batch.extend(writes);
        match store.apply(batch).await {
            Ok(()) => {
                let next = StoredRealm {
                    id: stored.id,
                    name: stored.name,
                    version: stored.version + 1,
                    representation,
                };
                let snap = crate::realm::snapshot::load(store, &next)
                    .await
                    .map_err(EditError::Store)?;
                realms.put(snap);
                return Ok(out);
            }
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return Err(EditError::Store(e).into()),
        }
    }
    Err(EditError::Conflict("the realm was changed concurrently; retry".into()).into())
}

/// A partial update: the fields of `patch` (but those in `skip`) replace those of `current`;
/// the result is read back as `T`, an [`EditError::Invalid`] naming the bad field otherwise.
pub fn merge<T: serde::Serialize + serde::de::DeserializeOwned>(
    current: &T,
    patch: &Map<String, Value>,
    skip: &[&str],
) -> EditResult<T> {
    let mut v = serde_json::to_value(current).map_err(|_| EditError::Internal)?;
    if let Some(o) = v.as_object_mut() {
        for (k, val) in patch {
            if !skip.contains(&k.as_str()) {
                o.insert(k.clone(), val.clone());
            }
        }
    }
    serde_path_to_error::deserialize(&v)
        .map_err(|e| EditError::Invalid(format!("{}: {}", e.path(), e.inner())))
}

// Clients, roles and groups of the document.

/// A client by its id (UUID).
pub fn client<'a>(rep: &'a RealmRepresentation, id: &str) -> Option<&'a ClientRepresentation> {
    rep.clients
        .iter()
        .flatten()
        .find(|c| c.id.as_deref() == Some(id))
}

/// A client by its id (UUID), to change.
pub fn client_mut<'a>(
    rep: &'a mut RealmRepresentation,
    id: &str,
) -> Option<&'a mut ClientRepresentation> {
    rep.clients
        .iter_mut()
        .flatten()
        .find(|c| c.id.as_deref() == Some(id))
}

/// A client by `clientId`.
pub fn client_by_client_id<'a>(
    rep: &'a RealmRepresentation,
    client_id: &str,
) -> Option<&'a ClientRepresentation> {
    rep.clients
        .iter()
        .flatten()
        .find(|c| c.client_id.as_deref() == Some(client_id))
}

/// The roles of a role container: `None` for the realm, `Some(clientId)` for a client.
pub fn roles<'a>(
    rep: &'a RealmRepresentation,
    owner: Option<&str>,
) -> impl Iterator<Item = &'a RoleRepresentation> {
    let roles = rep.roles.as_ref();
    let list = match owner {
        None => roles.and_then(|r| r.realm.as_ref()),
        Some(c) => roles.and_then(|r| r.client.as_ref()).and_then(|m| m.get(c)),
    };
    list.into_iter().flatten()
}

/// The role list of a container, created when absent.
pub fn roles_mut<'a>(
    rep: &'a mut RealmRepresentation,
    owner: Option<&str>,
) -> &'a mut Vec<RoleRepresentation> {
    let roles = rep.roles.get_or_insert_with(Default::default);
    match owner {
        None => roles.realm.get_or_insert_with(Vec::new),
        Some(c) => roles
            .client
            .get_or_insert_with(IndexMap::new)
            .entry(c.to_string())
            .or_default(),
    }
}

/// A role by name in a container.
pub fn role<'a>(
    rep: &'a RealmRepresentation,
    owner: Option<&str>,
    name: &str,
) -> Option<&'a RoleRepresentation> {
    roles(rep, owner).find(|r| r.name.as_deref() == Some(name))
}

/// A role by id anywhere in the realm, with its owner (`None`: realm role).
pub fn role_by_id<'a>(
    rep: &'a RealmRepresentation,
    id: &str,
) -> Option<(Option<String>, &'a RoleRepresentation)> {
    let roles = rep.roles.as_ref()?;
    if let Some(r) = roles
        .realm
        .iter()
        .flatten()
        .find(|r| r.id.as_deref() == Some(id))
    {
        return Some((None, r));
    }
    for (client, list) in roles.client.iter().flatten() {
        if let Some(r) = list.iter().find(|r| r.id.as_deref() == Some(id)) {
            return Some((Some(client.clone()), r));
        }
    }
    None
}

/// Whether a role belongs to the realm (`client` none) or to that client (`clientId`).
pub fn in_container(r: &Role, client: Option<&str>) -> bool {
    match (r, client) {
        (Role::Realm(_), None) => true,
        (Role::Client(c, _), Some(x)) => c == x,
        _ => false,
    }
}

/// The [`Role`] of a role representation in its container.
pub fn role_key(owner: Option<&str>, name: &str) -> Role {
    match owner {
        None => Role::Realm(name.to_string()),
        Some(c) => Role::Client(c.to_string(), name.to_string()),
    }
}

/// Applies `f` to every reference to a role: composites of every role, the default role,
/// groups and scope mappings. `f` returns false to drop the reference.
fn visit_role_refs(rep: &mut RealmRepresentation, mut f: impl FnMut(&Role, &mut String) -> bool) {
    fn lists(
        realm: Option<&mut Vec<String>>,
        client: Option<&mut IndexMap<String, Vec<String>>>,
        f: &mut impl FnMut(&Role, &mut String) -> bool,
    ) {
        if let Some(list) = realm {
            list.retain_mut(|n| {
                let k = Role::Realm(n.clone());
                f(&k, n)
            });
        }
        if let Some(map) = client {
            for (c, list) in map.iter_mut() {
                list.retain_mut(|n| {
                    let k = Role::Client(c.clone(), n.clone());
                    f(&k, n)
                });
            }
        }
    }
    if let Some(roles) = rep.roles.as_mut() {
        let all = roles.realm.iter_mut().flatten().chain(
            roles
                .client
                .iter_mut()
                .flat_map(|m| m.values_mut())
                .flatten(),
        );
        for r in all {
            if let Some(c) = r.composites.as_mut() {
                lists(c.realm.as_mut(), c.client.as_mut(), &mut f);
            }
        }
    }
    if let Some(c) = rep
        .default_role
        .as_mut()
        .and_then(|d| d.composites.as_mut())
    {
        lists(c.realm.as_mut(), c.client.as_mut(), &mut f);
    }
    fn groups(list: &mut [GroupRepresentation], f: &mut impl FnMut(&Role, &mut String) -> bool) {
        for g in list {
            lists(g.realm_roles.as_mut(), g.client_roles.as_mut(), f);
            if let Some(s) = g.sub_groups.as_mut() {
                groups(s, f);
            }
        }
    }
    if let Some(g) = rep.groups.as_mut() {
        groups(g, &mut f);
    }
    for m in rep.scope_mappings.iter_mut().flatten() {
        if let Some(list) = m.roles.as_mut() {
            list.retain_mut(|n| {
                let k = Role::Realm(n.clone());
                f(&k, n)
            });
        }
    }
    for (owner, maps) in rep.client_scope_mappings.iter_mut().flatten() {
        for m in maps {
            if let Some(list) = m.roles.as_mut() {
                list.retain_mut(|n| {
                    let k = Role::Client(owner.clone(), n.clone());
                    f(&k, n)
                });
            }
        }
    }
}

/// Renames every reference to `role`.
pub fn rename_role_refs(rep: &mut RealmRepresentation, role: &Role, new_name: &str) {
    visit_role_refs(rep, |k, n| {
        if k == role {
            *n = new_name.to_string();
        }
        true
    });
}

/// Drops every reference to `role`.
pub fn remove_role_refs(rep: &mut RealmRepresentation, role: &Role) {
    visit_role_refs(rep, |k, _| k != role);
}

/// Removes a client with its roles and every reference to them.
pub fn remove_client(rep: &mut RealmRepresentation, client_id: &str) {
    if let Some(list) = rep.clients.as_mut() {
        list.retain(|c| c.client_id.as_deref() != Some(client_id));
    }
    if let Some(m) = rep.roles.as_mut().and_then(|r| r.client.as_mut()) {
        m.shift_remove(client_id);
    }
    visit_role_refs(
        rep,
        |k, _| !matches!(k, Role::Client(c, _) if c == client_id),
    );
    // Empty per-client maps left behind.
    if let Some(roles) = rep.roles.as_mut() {
        for r in roles.realm.iter_mut().flatten().chain(
            roles
                .client
                .iter_mut()
                .flat_map(|m| m.values_mut())
                .flatten(),
        ) {
            if let Some(m) = r.composites.as_mut().and_then(|c| c.client.as_mut()) {
                m.shift_remove(client_id);
            }
        }
    }
    if let Some(m) = rep.client_scope_mappings.as_mut() {
        m.shift_remove(client_id);
        for maps in m.values_mut() {
            maps.retain(|s| s.client.as_deref() != Some(client_id));
        }
    }
    if let Some(list) = rep.scope_mappings.as_mut() {
        list.retain(|s| s.client.as_deref() != Some(client_id));
    }
}

/// Renames a client's `clientId` everywhere it is referenced.
pub fn rename_client(rep: &mut RealmRepresentation, old: &str, new: &str) {
    if let Some(m) = rep.roles.as_mut().and_then(|r| r.client.as_mut()) {
        if let Some(i) = m.get_index_of(old) {
            if let Some((_, v)) = m.shift_remove_index(i) {
                m.shift_insert(i, new.to_string(), v);
            }
        }
    }
    let rename_keys = |m: &mut IndexMap<String, Vec<String>>| {
        if let Some(v) = m.shift_remove(old) {
            m.insert(new.to_string(), v);
        }
    };
    if let Some(roles) = rep.roles.as_mut() {
        for r in roles.realm.iter_mut().flatten().chain(
            roles
                .client
                .iter_mut()
                .flat_map(|m| m.values_mut())
                .flatten(),
        ) {
            if let Some(m) = r.composites.as_mut().and_then(|c| c.client.as_mut()) {
                rename_keys(m);
            }
        }
    }
    if let Some(m) = rep
        .default_role
        .as_mut()
        .and_then(|d| d.composites.as_mut())
        .and_then(|c| c.client.as_mut())
    {
        rename_keys(m);
    }
    fn groups(list: &mut [GroupRepresentation], old: &str, new: &str) {
        for g in list {
            if let Some(m) = g.client_roles.as_mut() {
                if let Some(v) = m.shift_remove(old) {
                    m.insert(new.to_string(), v);
                }
            }
            if let Some(s) = g.sub_groups.as_mut() {
                groups(s, old, new);
            }
        }
    }
    if let Some(g) = rep.groups.as_mut() {
        groups(g, old, new);
    }
    if let Some(m) = rep.client_scope_mappings.as_mut() {
        if let Some(v) = m.shift_remove(old) {
            m.insert(new.to_string(), v);
        }
        for maps in m.values_mut() {
            for s in maps {
                if s.client.as_deref() == Some(old) {
                    s.client = Some(new.to_string());
                }
            }
        }
    }
    for s in rep.scope_mappings.iter_mut().flatten() {
        if s.client.as_deref() == Some(old) {
            s.client = Some(new.to_string());
        }
    }
}

/// A group by id with its path, anywhere in the tree.
pub fn group<'a>(rep: &'a RealmRepresentation, id: &str) -> Option<&'a GroupRepresentation> {
    fn find<'a>(list: &'a [GroupRepresentation], id: &str) -> Option<&'a GroupRepresentation> {
        for g in list {
            if g.id.as_deref() == Some(id) {
                return Some(g);
            }
            if let Some(found) = g.sub_groups.as_deref().and_then(|s| find(s, id)) {
                return Some(found);
            }
        }
        None
    }
    find(rep.groups.as_deref()?, id)
}

/// A group by id, to change.
pub fn group_mut<'a>(
    rep: &'a mut RealmRepresentation,
    id: &str,
) -> Option<&'a mut GroupRepresentation> {
    fn find<'a>(
        list: &'a mut [GroupRepresentation],
        id: &str,
    ) -> Option<&'a mut GroupRepresentation> {
        for g in list {
            if g.id.as_deref() == Some(id) {
                return Some(g);
            }
            if let Some(found) = g.sub_groups.as_deref_mut().and_then(|s| find(s, id)) {
                return Some(found);
            }
        }
        None
    }
    find(rep.groups.as_deref_mut()?, id)
}

/// A group by path (`/a/b`).
pub fn group_by_path<'a>(
    rep: &'a RealmRepresentation,
    path: &str,
) -> Option<&'a GroupRepresentation> {
    let mut list = rep.groups.as_deref()?;
    let mut found = None;
    for seg in path.trim_start_matches('/').split('/') {
        let g = list.iter().find(|g| g.name.as_deref() == Some(seg))?;
        list = g.sub_groups.as_deref().unwrap_or_default();
        found = Some(g);
    }
    found
}

/// Removes a group (with its subgroups) by id; returns it.
pub fn remove_group(rep: &mut RealmRepresentation, id: &str) -> Option<GroupRepresentation> {
    fn remove(list: &mut Vec<GroupRepresentation>, id: &str) -> Option<GroupRepresentation> {
        if let Some(i) = list.iter().position(|g| g.id.as_deref() == Some(id)) {
            return Some(list.remove(i));
        }
        for g in list.iter_mut() {
            if let Some(found) = g.sub_groups.as_mut().and_then(|s| remove(s, id)) {
                return Some(found);
            }
        }
        None
    }
    remove(rep.groups.as_mut()?, id)
}

/// Sets the paths of a group and its subgroups under `parent` (`""` at the top).
pub fn set_paths(g: &mut GroupRepresentation, parent: &str) {
    let path = format!("{parent}/{}", g.name.as_deref().unwrap_or_default());
    for s in g.sub_groups.iter_mut().flatten() {
        set_paths(s, &path);
    }
    g.path = Some(path);
}

/// Role names granted directly: realm roles and client roles of a holder (user or group).
#[derive(Debug)]
pub struct Mappings<'a> {
    /// Realm role names.
    pub realm: &'a mut Option<Vec<String>>,
    /// Client role names by clientId.
    pub client: &'a mut Option<IndexMap<String, Vec<String>>>,
}

impl Mappings<'_> {
    /// Adds a role; false when it was there.
    pub fn add(&mut self, role: &Role) -> bool {
        let (list, name) = match role {
            Role::Realm(n) => (self.realm.get_or_insert_with(Vec::new), n),
            Role::Client(c, n) => (
                self.client
                    .get_or_insert_with(IndexMap::new)
                    .entry(c.clone())
                    .or_default(),
                n,
            ),
        };
        if list.contains(name) {
            return false;
        }
        list.push(name.clone());
        true
    }

    /// Removes a role; false when it was not there.
    pub fn remove(&mut self, role: &Role) -> bool {
        let (list, name) = match role {
            Role::Realm(n) => (self.realm.as_mut(), n),
            Role::Client(c, n) => (self.client.as_mut().and_then(|m| m.get_mut(c)), n),
        };
        let Some(list) = list else {
            return false;
        };
        let before = list.len();
        list.retain(|x| x != name);
        let removed = before != list.len();
        if let (Role::Client(c, _), Some(m)) = (role, self.client.as_mut()) {
            if m.get(c).is_some_and(Vec::is_empty) {
                m.shift_remove(c);
            }
        }
        removed
    }
}

fn client_not_found() -> EditError {
    EditError::NotFound("Could not find client".into())
}

// Clients.

/// Whether a client is confidential with a shared secret.
fn uses_secret(c: &ClientRepresentation) -> bool {
    let bearer_only = c.bearer_only == Some(true);
    let auth = c
        .client_authenticator_type
        .as_deref()
        .unwrap_or("client-secret");
    c.public_client != Some(true)
        && !bearer_only
        && matches!(auth, "client-secret" | "client-secret-jwt")
}

/// The service-account user Keycloak creates for a client with `serviceAccountsEnabled`.
pub fn new_service_account_user(rep: &RealmRepresentation, client_id: &str) -> EditResult<UserRow> {
    let default_role = rep
        .default_role
        .as_ref()
        .and_then(|r| r.name.clone())
        .unwrap_or_else(|| {
            format!(
                "default-roles-{}",
                rep.realm.as_deref().unwrap_or_default().to_lowercase()
            )
        });
    let username = format!("service-account-{}", client_id.to_lowercase());
    let mut u = UserRepresentation {
        id: Some(new_id()),
        username: Some(username.clone()),
        enabled: Some(true),
        service_account_client_id: Some(client_id.to_string()),
        realm_roles: Some(vec![default_role]),
        ..Default::default()
    };
    u.email_verified = Some(false);
    u.created_timestamp = Some(crate::clock::now_millis());
    u.not_before = Some(0);
    Ok(UserRow {
        id: u.id.clone().unwrap_or_default(),
        username,
        email: None,
        representation: serde_json::to_string(&u).map_err(|_| EditError::Internal)?,
    })
}

/// Fills a new client with Keycloak's defaults (fields, secret, scopes) and validates it.
pub fn prepare_new(rep: &RealmRepresentation, mut v: Value) -> EditResult<ClientRepresentation> {
    let realm = serde_json::to_value(rep).map_err(|_| EditError::Internal)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| EditError::invalid("expected a client object"))?;
    crate::realm::defaults::complete_client(&realm, obj);
    let mut c: ClientRepresentation = serde_path_to_error::deserialize(&v)
        .map_err(|e| EditError::invalid(format!("{}: {}", e.path(), e.inner())))?;
    // Without a `clientId` the client's id is its `clientId` (`RealmProvider.addClient`).
    if c.client_id.is_none() {
        let id = c.id.get_or_insert_with(new_id).clone();
        c.client_id = Some(id);
    }
    let client_id = c
        .client_id
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| EditError::invalid("Client id is missing"))?;
    if client_by_client_id(rep, &client_id).is_some() {
        return Err(EditError::Conflict(format!(
            "Client {client_id} already exists"
        )));
    }
    if c.id.as_deref().is_some_and(|id| client(rep, id).is_some()) {
        return Err(EditError::Conflict(format!(
            "Client {client_id} already exists"
        )));
    }
    c.id.get_or_insert_with(new_id);
    if uses_secret(&c) && c.secret.is_none() {
        c.secret = Some(random_alphanumeric(32));
    }
    if let Some(list) = c.protocol_mappers.as_mut() {
        for m in list.iter_mut().filter_map(Value::as_object_mut) {
            m.entry("id").or_insert_with(|| json!(new_id()));
        }
    }
    Ok(c)
}

/// Adds a prepared client (and its service-account user) to the realm edit.
pub fn add_client(
    rep: &mut RealmRepresentation,
    writes: &mut Vec<Write>,
    c: ClientRepresentation,
) -> EditResult<()> {
    add_fallback_keys(rep, &c)?;
    if c.service_accounts_enabled == Some(true) && c.public_client != Some(true) {
        let row = new_service_account_user(rep, c.client_id.as_deref().unwrap_or_default())?;
        writes.push(Write::InsertUsers {
            realm_id: rep.id.clone().unwrap_or_default(),
            users: vec![row],
        });
    }
    rep.clients.get_or_insert_with(Vec::new).push(c);
    Ok(())
}

/// Applies a `PUT /clients/{id}` body to a client in a realm edit: fields present replace the
/// stored ones (`RepresentationToModel.updateClient`); a new service account gets its user.
/// Returns `(old, new)` when the `clientId` changed.
pub fn update_client(
    rep: &mut RealmRepresentation,
    writes: &mut Vec<Write>,
    id: &str,
    patch: &Map<String, Value>,
) -> EditResult<Option<(String, String)>> {
    let current = client(rep, id).ok_or_else(client_not_found)?.clone();
    let mut next = merge(
        &current,
        patch,
        &["id", "access", "registrationAccessToken"],
    )?;
    let old_id = current.client_id.clone().unwrap_or_default();
    let new_id_ = next
        .client_id
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| EditError::invalid("Client id is missing"))?;
    let mut renamed = None;
    if new_id_ != old_id {
        if client_by_client_id(rep, &new_id_).is_some() {
            return Err(EditError::Conflict(format!(
                "Client {new_id_} already exists"
            )));
        }
        rename_client(rep, &old_id, &new_id_);
        renamed = Some((old_id.clone(), new_id_.clone()));
    }
    if uses_secret(&next) && next.secret.is_none() {
        next.secret = Some(random_alphanumeric(32));
    }
    if let Some(list) = next.protocol_mappers.as_mut() {
        for m in list.iter_mut().filter_map(Value::as_object_mut) {
            m.entry("id").or_insert_with(|| json!(new_id()));
        }
    }
    let wants_sa = next.service_accounts_enabled == Some(true) && next.public_client != Some(true);
    let had_sa =
        current.service_accounts_enabled == Some(true) && current.public_client != Some(true);
    if wants_sa && !had_sa {
        let row = new_service_account_user(rep, &new_id_)?;
        writes.push(Write::InsertUsers {
            realm_id: rep.id.clone().unwrap_or_default(),
            users: vec![row],
        });
    }
    add_fallback_keys(rep, &next)?;
    if let Some(slot) = client_mut(rep, id) {
        *slot = next;
    }
    Ok(renamed)
}

/// The client attributes naming the algorithm a token of the client is signed with.
const SIGNING_ALG_ATTRIBUTES: &[&str] = &[
    "access.token.signed.response.alg",
    "id.token.signed.response.alg",
    "user.info.response.signature.alg",
];

/// The signing algorithms a fallback key can be generated for.
pub const FALLBACK_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA",
];

/// The key provider that generates a fallback key of `alg`.
fn fallback_provider(alg: &str) -> Option<&'static str> {
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => Some("rsa-generated"),
        "ES256" => Some("ecdsa-generated"),
        "EdDSA" => Some("eddsa-generated"),
        _ => None,
    }
}

/// Keycloak signs with a realm key of the algorithm a client asks for; a realm without an
/// active key of it gets one generated, a component named `fallback-<alg>` of priority -100
/// (`DefaultKeyManager.getActiveKey` → `KeyProviderFactory.createFallbackKeys`). Keycloak
/// generates it on the first token; here it is generated when the client starts asking for
/// it, so issuing a token never writes.
pub fn add_fallback_keys(
    rep: &mut RealmRepresentation,
    c: &ClientRepresentation,
) -> EditResult<()> {
    let Some(attrs) = c.attributes.as_ref() else {
        return Ok(());
    };
    let mut wanted: Vec<String> = Vec::new();
    for k in SIGNING_ALG_ATTRIBUTES {
        if let Some(alg) = attrs
            .get(*k)
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            if !wanted.iter().any(|w| w == alg) {
                wanted.push(alg.to_string());
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let existing = import::realm_keys(rep).map_err(|e| EditError::invalid(e.to_string()))?;
    let realm_name = rep.realm.clone().unwrap_or_default();
    for alg in wanted {
        if existing
            .iter()
            .any(|k| k.active && k.key_use == crate::crypto::keys::KeyUse::Sig && k.alg == alg)
        {
            continue;
        }
        let Some(provider) = fallback_provider(&alg) else {
            // Algorithms this server does not sign with are refused where they are used.
            continue;
        };
        let Ok(Some(kind)) = crate::crypto::keys::Generate::for_provider(provider, Some(&alg))
        else {
            continue;
        };
        let k = crate::crypto::keys::generate(kind, &realm_name, new_id())
            .map_err(|e| EditError::invalid(e.0))?;
        let mut config: IndexMap<String, Vec<String>> = k.config.into_iter().collect();
        config.insert("priority".into(), vec!["-100".into()]);
        config.insert("algorithm".into(), vec![alg.clone()]);
        rep.components
            .get_or_insert_with(Default::default)
            .entry(crate::crypto::keys::KEY_PROVIDER_TYPE.to_string())
            .or_default()
            .push(ComponentRepresentation {
                id: Some(k.id),
                name: Some(format!("fallback-{alg}")),
                provider_id: Some(k.provider_id),
                sub_type: None,
                config: Some(config),
                parent_id: rep.id.clone(),
                extra: Map::from_iter([("subComponents".to_string(), json!({}))]),
            });
    }
    Ok(())
}

/// The service-account user of a client, if any.
pub async fn service_account_user(
    store: &dyn Store,
    realm_id: &str,
    client_id: &str,
) -> Result<Option<UserRow>, StoreError> {
    store
        .user_by_username(
            realm_id,
            &format!("service-account-{}", client_id.to_lowercase()),
        )
        .await
}

/// The `keycloak-oidc-keycloak-json` adapter configuration of a client (also served by
/// `GET /realms/{realm}/clients-registrations/install/{clientId}`).
pub fn installation_json(snap: &RealmSnapshot, c: &ClientRepresentation, base: &str) -> Value {
    let mut out = json!({
        "realm": snap.name,
        "auth-server-url": format!("{base}/"),
        "ssl-required": snap.settings.ssl_required,
        "resource": c.client_id,
    });
    let bearer_only = c.bearer_only == Some(true);
    if c.public_client == Some(true) && !bearer_only {
        out["public-client"] = json!(true);
    } else {
        if bearer_only {
            out["bearer-only"] = json!(true);
        }
        if let Some(s) = &c.secret {
            out["credentials"] = json!({"secret": s});
        }
    }
    let has_roles = roles(&snap.rep, c.client_id.as_deref()).next().is_some();
    if has_roles {
        out["use-resource-role-mappings"] = json!(true);
    }
    out["confidential-port"] = json!(0);
    out
}

// Protocol mappers of a client or client scope (its `protocolMappers`).

fn not_found(what: &str) -> EditError {
    EditError::NotFound(what.into())
}

/// The mappers of a mapper holder (its `protocolMappers`).
pub fn mappers_of(mappers: &Option<Vec<Value>>) -> Vec<Value> {
    mappers.clone().unwrap_or_default()
}

/// Adds a mapper to a holder; a name already used is a conflict.
pub fn mapper_add(mappers: &mut Option<Vec<Value>>, mut m: Value) -> EditResult<String> {
    let o = m
        .as_object_mut()
        .ok_or_else(|| EditError::invalid("expected a protocol mapper object"))?;
    if o.get("protocolMapper")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(not_found("ProtocolMapper provider not found"));
    }
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| EditError::invalid("Protocol mapper name is missing"))?
        .to_string();
    let list = mappers.get_or_insert_with(Vec::new);
    if list
        .iter()
        .any(|x| x.get("name").and_then(Value::as_str) == Some(name.as_str()))
    {
        return Err(EditError::Conflict(
            "Protocol mapper exists with same name".to_string(),
        ));
    }
    let id = new_id();
    o.insert("id".into(), json!(id));
    o.entry("protocol").or_insert(json!("openid-connect"));
    o.entry("consentRequired").or_insert(json!(false));
    o.entry("config").or_insert(json!({}));
    list.push(m);
    Ok(id)
}

/// Replaces a mapper by id.
pub fn mapper_update(mappers: &mut Option<Vec<Value>>, id: &str, mut m: Value) -> EditResult<()> {
    let list = mappers
        .as_mut()
        .ok_or_else(|| not_found("Model not found"))?;
    let slot = list
        .iter_mut()
        .find(|x| x.get("id").and_then(Value::as_str) == Some(id))
        .ok_or_else(|| not_found("Model not found"))?;
    let o = m
        .as_object_mut()
        .ok_or_else(|| EditError::invalid("expected a protocol mapper object"))?;
    o.insert("id".into(), json!(id));
    if let Some(old) = slot.as_object() {
        for k in ["name", "protocol", "protocolMapper"] {
            if !o.contains_key(k) {
                if let Some(v) = old.get(k) {
                    o.insert(k.into(), v.clone());
                }
            }
        }
    }
    *slot = m;
    Ok(())
}

/// Removes a mapper by id.
pub fn mapper_delete(mappers: &mut Option<Vec<Value>>, id: &str) -> EditResult<()> {
    let list = mappers
        .as_mut()
        .ok_or_else(|| not_found("Model not found"))?;
    let before = list.len();
    list.retain(|x| x.get("id").and_then(Value::as_str) != Some(id));
    if list.len() == before {
        return Err(not_found("Model not found"));
    }
    Ok(())
}

/// A mapper by id.
pub fn mapper_get(mappers: &Option<Vec<Value>>, id: &str) -> EditResult<Value> {
    mappers_of(mappers)
        .into_iter()
        .find(|x| x.get("id").and_then(Value::as_str) == Some(id))
        .ok_or_else(|| not_found("Model not found"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_fallback_algorithm_has_a_generator() {
        for alg in FALLBACK_ALGORITHMS {
            let provider = fallback_provider(alg).unwrap();
            assert!(
                matches!(
                    crate::crypto::keys::Generate::for_provider(provider, Some(alg)),
                    Ok(Some(_))
                ),
                "{alg}"
            );
        }
        assert_eq!(fallback_provider("HS256"), None);
    }

    fn realm() -> RealmRepresentation {
        serde_json::from_value(json!({
            "roles": {
                "realm": [
                    {"name": "admin", "composites": {"realm": ["user"], "client": {"app": ["write"]}}},
                    {"name": "user"}
                ],
                "client": {"app": [{"name": "write"}]}
            },
            "clients": [{"clientId": "app", "id": "c1"}],
            "groups": [{"name": "g", "realmRoles": ["user"], "clientRoles": {"app": ["write"]},
                        "subGroups": [{"name": "s", "id": "s1", "realmRoles": ["admin"]}]}],
            "scopeMappings": [{"client": "app", "roles": ["user"]}],
            "clientScopeMappings": {"app": [{"client": "other", "roles": ["write"]}]}
        }))
        .unwrap()
    }

    #[test]
    fn renaming_a_role_renames_every_reference() {
        let mut rep = realm();
        rename_role_refs(&mut rep, &Role::Realm("user".into()), "member");
        let v = serde_json::to_value(&rep).unwrap();
        assert_eq!(
            v["roles"]["realm"][0]["composites"]["realm"],
            json!(["member"])
        );
        assert_eq!(v["groups"][0]["realmRoles"], json!(["member"]));
        assert_eq!(v["scopeMappings"][0]["roles"], json!(["member"]));
    }

    #[test]
    fn removing_a_client_removes_its_roles_and_references() {
        let mut rep = realm();
        remove_client(&mut rep, "app");
        let v = serde_json::to_value(&rep).unwrap();
        assert_eq!(v["clients"], json!([]));
        assert!(v["roles"]["client"].get("app").is_none());
        assert!(v["roles"]["realm"][0]["composites"]["client"]
            .get("app")
            .is_none());
        assert!(v["clientScopeMappings"].get("app").is_none());
        assert_eq!(v["scopeMappings"], json!([]));
        assert!(crate::realm::validate::references(&rep).is_ok());
    }

    #[test]
    fn groups_by_id_and_path() {
        let mut rep = realm();
        assert_eq!(group(&rep, "s1").unwrap().name.as_deref(), Some("s"));
        assert_eq!(
            group_by_path(&rep, "/g/s").unwrap().id.as_deref(),
            Some("s1")
        );
        assert!(group_by_path(&rep, "/g/x").is_none());
        assert!(remove_group(&mut rep, "s1").is_some());
        assert!(group(&rep, "s1").is_none());
    }

    #[test]
    fn mappings_add_and_remove() {
        let (mut r, mut c) = (None, None);
        let mut m = Mappings {
            realm: &mut r,
            client: &mut c,
        };
        assert!(m.add(&Role::Client("app".into(), "x".into())));
        assert!(!m.add(&Role::Client("app".into(), "x".into())));
        assert!(m.remove(&Role::Client("app".into(), "x".into())));
        assert!(c.unwrap().is_empty());
    }
}
