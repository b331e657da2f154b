//! Changes to a realm's representation that keep its cross-references whole: roles are
//! referenced by name (composites, groups, scope mappings, the default role), clients by
//! `clientId`, groups by path. Plain functions over [`RealmRepresentation`], unit-tested.

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::realm::index::Role;
use crate::representation::{
    ClientRepresentation, GroupRepresentation, RealmRepresentation, RoleRepresentation,
};

/// What a partial import does with a resource that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Fail the whole import.
    Fail,
    /// Keep the existing one.
    Skip,
    /// Replace it.
    Overwrite,
}

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

/// Keycloak's `RoleRepresentation` as the Admin API answers it (composites are listed by
/// their own endpoint).
pub fn role_json(r: &RoleRepresentation, owner: Option<&str>, container: &str) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.remove("composites");
        o.insert(
            "composite".into(),
            json!(r.composites.as_ref().is_some_and(|c| {
                c.realm.as_ref().is_some_and(|l| !l.is_empty())
                    || c.client
                        .as_ref()
                        .is_some_and(|m| m.values().any(|l| !l.is_empty()))
            })),
        );
        o.insert("clientRole".into(), json!(owner.is_some()));
        o.entry("containerId").or_insert(json!(container));
        o.entry("attributes").or_insert(json!({}));
    }
    v
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
