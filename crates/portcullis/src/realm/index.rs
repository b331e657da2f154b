//! Lookups over a realm's configuration, built once per snapshot: clients by `clientId`,
//! client scopes by name, roles with their composites, groups by path, organizations by alias
//! and member.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::representation::{
    ClientRepresentation, ClientScopeRepresentation, GroupRepresentation, RealmRepresentation,
    RoleRepresentation,
};

use super::admin_clients;
use super::organizations::Organizations;
use crate::mappers::{compile_all, Mapper};

use crate::model::ClientSettings;
pub use crate::model::Role;

/// The index's maps: their keys are the realm's own names, looked up on every request, so a
/// fast hash (seeded per process) rather than SipHash.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The index.
#[derive(Debug, Default)]
pub struct RealmIndex {
    clients: HashMap<String, usize>,
    scopes: HashMap<String, usize>,
    composites: HashMap<Role, Vec<Role>>,
    /// The id of each role that has one.
    role_ids: HashMap<Role, String>,
    groups: HashMap<String, Vec<Role>>,
    /// Scope mappings by target: `client:<clientId>` or `scope:<name>`.
    scope_mappings: HashMap<String, Vec<Role>>,
    /// Organizations and organization scopes.
    pub organizations: Organizations,
    /// Protocol mappers of each client (by `clientId`) and client scope (by name), read once.
    client_mappers: HashMap<String, Vec<Mapper>>,
    scope_mappers: HashMap<String, Vec<Mapper>>,
    /// The settings of each client (by `clientId`), read once.
    client_settings: HashMap<String, ClientSettings>,
    /// Whether this is master's index, whose per-realm admin clients are implied
    /// ([`super::admin_clients`]): their roles exist by rule unless the document has them.
    implied_admin_clients: bool,
}

/// Key of a scope-mapping target.
pub fn scope_target(client: Option<&str>, scope: Option<&str>) -> Option<String> {
    match (client, scope) {
        (Some(c), _) => Some(format!("client:{c}")),
        (None, Some(s)) => Some(format!("scope:{s}")),
        _ => None,
    }
}

/// The direct composites of a role.
pub(crate) fn composites_of(r: &RoleRepresentation) -> Vec<Role> {
    let mut out = Vec::new();
    if let Some(c) = &r.composites {
        out.extend(c.realm.iter().flatten().map(|n| Role::Realm(n.clone())));
        for (client, names) in c.client.iter().flatten() {
            out.extend(
                names
                    .iter()
                    .map(|n| Role::Client(client.clone(), n.clone())),
            );
        }
    }
    out
}

/// Roles named by `realmRoles` + `clientRoles` fields.
pub fn role_refs(
    realm_roles: Option<&Vec<String>>,
    client_roles: Option<&indexmap::IndexMap<String, Vec<String>>>,
) -> Vec<Role> {
    let mut out: Vec<Role> = realm_roles
        .into_iter()
        .flatten()
        .map(|n| Role::Realm(n.clone()))
        .collect();
    for (client, names) in client_roles.into_iter().flatten() {
        out.extend(
            names
                .iter()
                .map(|n| Role::Client(client.clone(), n.clone())),
        );
    }
    out
}

fn index_groups(
    list: &[GroupRepresentation],
    parent: &str,
    parent_roles: &[Role],
    out: &mut HashMap<String, Vec<Role>>,
) {
    for g in list {
        let path = format!("{parent}/{}", g.name.as_deref().unwrap_or_default());
        // A member of a subgroup inherits the roles of its ancestors.
        let mut roles = parent_roles.to_vec();
        roles.extend(role_refs(g.realm_roles.as_ref(), g.client_roles.as_ref()));
        if let Some(subs) = &g.sub_groups {
            index_groups(subs, &path, &roles, out);
        }
        out.insert(path, roles);
    }
}

/// The mappers compiled for the realm's own `own`, when `given` is that very object; otherwise
/// `given`'s `protocolMappers` read now.
fn compiled_or_read<'a, T>(
    compiled: Option<&'a Vec<Mapper>>,
    own: Option<&T>,
    given: &T,
    mappers: Option<&Vec<serde_json::Value>>,
) -> Cow<'a, [Mapper]> {
    match compiled {
        Some(m) if own.is_some_and(|o| std::ptr::eq(o, given)) => Cow::Borrowed(m),
        _ => Cow::Owned(compile_all(mappers)),
    }
}

impl RealmIndex {
    /// Builds the index (`orgs`: the realm's organizations, read from the store).
    pub fn build(rep: &RealmRepresentation, orgs: &[crate::store::OrganizationRow]) -> Self {
        let mut ix = RealmIndex {
            implied_admin_clients: rep.realm.as_deref() == Some(super::MASTER),
            ..Default::default()
        };
        for (i, c) in rep.clients.iter().flatten().enumerate() {
            if let Some(id) = &c.client_id {
                ix.clients.insert(id.clone(), i);
                ix.client_mappers
                    .insert(id.clone(), compile_all(c.protocol_mappers.as_ref()));
                ix.client_settings.insert(id.clone(), ClientSettings::of(c));
            }
        }
        for (i, s) in rep.client_scopes.iter().flatten().enumerate() {
            if let Some(name) = &s.name {
                ix.scopes.insert(name.clone(), i);
                ix.scope_mappers
                    .insert(name.clone(), compile_all(s.protocol_mappers.as_ref()));
            }
        }
        if let Some(roles) = &rep.roles {
            for r in roles.realm.iter().flatten() {
                if let Some(name) = &r.name {
                    let role = Role::Realm(name.clone());
                    if let Some(id) = &r.id {
                        ix.role_ids.insert(role.clone(), id.clone());
                    }
                    ix.composites.insert(role, composites_of(r));
                }
            }
            for (client, list) in roles.client.iter().flatten() {
                for r in list {
                    if let Some(name) = &r.name {
                        let role = Role::Client(client.clone(), name.clone());
                        if let Some(id) = &r.id {
                            ix.role_ids.insert(role.clone(), id.clone());
                        }
                        ix.composites.insert(role, composites_of(r));
                    }
                }
            }
        }
        index_groups(
            rep.groups.as_deref().unwrap_or_default(),
            "",
            &[],
            &mut ix.groups,
        );
        for m in rep.scope_mappings.iter().flatten() {
            if let Some(t) = scope_target(m.client.as_deref(), m.client_scope.as_deref()) {
                ix.scope_mappings
                    .entry(t)
                    .or_default()
                    .extend(m.roles.iter().flatten().map(|r| Role::Realm(r.clone())));
            }
        }
        for (owner, list) in rep.client_scope_mappings.iter().flatten() {
            for m in list {
                if let Some(t) = scope_target(m.client.as_deref(), m.client_scope.as_deref()) {
                    ix.scope_mappings.entry(t).or_default().extend(
                        m.roles
                            .iter()
                            .flatten()
                            .map(|r| Role::Client(owner.clone(), r.clone())),
                    );
                }
            }
        }
        ix.organizations = Organizations::build(rep, orgs);
        ix
    }

    /// Roles mapped into the scope of a client (`client:<id>`) or client scope (`scope:<name>`).
    /// A dynamic organization scope (`scope:organization:acme`) has the mappings of its scope.
    pub fn scope_mappings(&self, target: &str) -> &[Role] {
        if let Some(found) = self.scope_mappings.get(target) {
            return found;
        }
        target
            .strip_prefix("scope:")
            .and_then(|name| self.organizations.base_of(name))
            .and_then(|base| self.scope_mappings.get(&format!("scope:{base}")))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// A client by `clientId`.
    pub fn client<'a>(
        &self,
        rep: &'a RealmRepresentation,
        client_id: &str,
    ) -> Option<&'a ClientRepresentation> {
        self.clients
            .get(client_id)
            .and_then(|i| rep.clients.as_ref()?.get(*i))
    }

    /// A client scope by name.
    pub fn scope<'a>(
        &self,
        rep: &'a RealmRepresentation,
        name: &str,
    ) -> Option<&'a ClientScopeRepresentation> {
        self.scopes
            .get(name)
            .and_then(|i| rep.client_scopes.as_ref()?.get(*i))
    }

    /// The protocol mappers of `client`, read when the index was built if `client` is this
    /// realm's own (otherwise read now).
    pub fn client_mappers<'a>(
        &'a self,
        rep: &RealmRepresentation,
        client: &ClientRepresentation,
    ) -> Cow<'a, [Mapper]> {
        let id = client.client_id.as_deref().unwrap_or_default();
        compiled_or_read(
            self.client_mappers.get(id),
            self.client(rep, id),
            client,
            client.protocol_mappers.as_ref(),
        )
    }

    /// The settings of `client`, read when the index was built if `client` is this realm's
    /// own (otherwise read now).
    pub fn client_settings<'a>(
        &'a self,
        rep: &RealmRepresentation,
        client: &ClientRepresentation,
    ) -> Cow<'a, ClientSettings> {
        let id = client.client_id.as_deref().unwrap_or_default();
        match self.client_settings.get(id) {
            Some(s)
                if self
                    .client(rep, id)
                    .is_some_and(|o| std::ptr::eq(o, client)) =>
            {
                Cow::Borrowed(s)
            }
            _ => Cow::Owned(ClientSettings::of(client)),
        }
    }

    /// The protocol mappers of a client scope, read when the index was built if `scope` is
    /// this realm's own (a dynamic organization scope is read now).
    pub fn scope_mappers<'a>(
        &'a self,
        rep: &RealmRepresentation,
        scope: &ClientScopeRepresentation,
    ) -> Cow<'a, [Mapper]> {
        let name = scope.name.as_deref().unwrap_or_default();
        compiled_or_read(
            self.scope_mappers.get(name),
            self.scope(rep, name),
            scope,
            scope.protocol_mappers.as_ref(),
        )
    }

    /// The id of a role, when the realm document gives it one.
    pub fn role_id(&self, role: &Role) -> Option<&str> {
        self.role_ids.get(role).map(String::as_str)
    }

    /// Whether the role exists.
    pub fn role_exists(&self, role: &Role) -> bool {
        self.composites.contains_key(role) || self.implied(role)
    }

    /// Whether `role` is a role of an implied admin client of master (one its document does
    /// not hold).
    fn implied(&self, role: &Role) -> bool {
        self.implied_admin_clients
            && matches!(role, Role::Client(c, r)
                if admin_clients::is_role(c, r) && !self.clients.contains_key(c))
    }

    /// The roles of a group path (with inherited ones).
    pub fn group_roles(&self, path: &str) -> &[Role] {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        self.groups
            .get(&path)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Expands composites: every role reachable from `roles` (existing roles only).
    pub fn expand(&self, roles: impl IntoIterator<Item = Role>) -> BTreeSet<Role> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<Role> = roles.into_iter().collect();
        while let Some(r) = stack.pop() {
            if out.contains(&r) {
                continue;
            }
            match (self.composites.get(&r), &r) {
                (Some(children), _) => {
                    stack.extend(children.iter().filter(|c| !out.contains(*c)).cloned());
                }
                (None, Role::Client(c, name)) if self.implied(&r) => stack.extend(
                    admin_clients::composites(name)
                        .iter()
                        .map(|n| Role::Client(c.clone(), n.to_string())),
                ),
                // Not a role of the realm.
                (None, _) => continue,
            }
            out.insert(r);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn composites_and_group_inheritance_expand() {
        let rep: RealmRepresentation = serde_json::from_value(serde_json::json!({
            "roles": {
                "realm": [
                    {"name": "admin", "composites": {"realm": ["user"], "client": {"app": ["write"]}}},
                    {"name": "user", "composites": {"realm": ["admin"]}},
                    {"name": "staff"}
                ],
                "client": {"app": [{"name": "write", "composites": {"client": {"app": ["read"]}}}, {"name": "read"}]}
            },
            "clients": [{"clientId": "app"}],
            "groups": [{"name": "g", "realmRoles": ["staff"], "subGroups": [{"name": "s", "realmRoles": ["admin"]}]}]
        }))
        .unwrap();
        let ix = RealmIndex::build(&rep, &[]);
        let roles = ix.expand(ix.group_roles("/g/s").to_vec());
        let names: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
        assert_eq!(roles.len(), 5, "{names:?}");
        assert!(roles.contains(&Role::Client("app".into(), "read".into())));
        assert!(
            roles.contains(&Role::Realm("staff".into())),
            "inherited from the parent group"
        );
        // Cycles terminate; unknown roles are dropped.
        assert_eq!(ix.expand([Role::Realm("ghost".into())]).len(), 0);
        // Only master implies the per-realm admin clients.
        let view = Role::Client("acme-realm".into(), "view-users".into());
        assert!(!ix.role_exists(&view));
        let mut master = rep.clone();
        master.realm = Some("master".into());
        let ix = RealmIndex::build(&master, &[]);
        let roles = ix.expand([view.clone()]);
        assert!(roles.contains(&view));
        assert!(roles.contains(&Role::Client("acme-realm".into(), "query-users".into())));
        assert!(roles.contains(&Role::Client("acme-realm".into(), "query-groups".into())));
        assert_eq!(roles.len(), 3);
        assert!(!ix.role_exists(&Role::Client("acme-realm".into(), "custom".into())));
        assert!(!ix.role_exists(&Role::Client("master-realm".into(), "view-users".into())));
    }
}
