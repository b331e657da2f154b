//! The role and group mappers: `oidc-usermodel-realm-role-mapper`,
//! `oidc-usermodel-client-role-mapper` and `oidc-group-membership-mapper`.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::claims::{set_claim, ClaimName};
use super::compile::Config;
use crate::model::Role;

/// `oidc-usermodel-realm-role-mapper`: the realm roles, a list (whatever `multivalued` says).
#[derive(Debug, Clone)]
pub(super) struct RealmRoles {
    /// `claim.name`, default `realm_access.roles`.
    path: ClaimName,
    /// `usermodel.realmRoleMapping.rolePrefix`.
    prefix: String,
}

impl RealmRoles {
    pub(super) fn of(c: Config<'_>) -> Self {
        RealmRoles {
            path: c.claim_name("realm_access.roles"),
            prefix: c
                .text("usermodel.realmRoleMapping.rolePrefix")
                .unwrap_or_default(),
        }
    }

    /// Writes nothing without a realm role.
    pub(super) fn apply(&self, roles: &BTreeSet<Role>, claims: &mut Map<String, Value>) {
        let names: Vec<Value> = roles
            .iter()
            .filter_map(|r| match r {
                Role::Realm(n) => Some(json!(format!("{}{n}", self.prefix))),
                Role::Client(..) => None,
            })
            .collect();
        if !names.is_empty() {
            self.path.set(claims, Value::Array(names));
        }
    }
}

/// `oidc-usermodel-client-role-mapper`: each client's roles under its own claim.
#[derive(Debug, Clone)]
pub(super) struct ClientRoles {
    /// `claim.name` (default `resource_access.${client_id}.roles`), `${client_id}` not yet
    /// filled in.
    claim_template: String,
    /// `usermodel.clientRoleMapping.clientId`, when not empty: that client's roles only.
    only_client: Option<String>,
    /// `usermodel.clientRoleMapping.rolePrefix`.
    prefix: String,
}

impl ClientRoles {
    pub(super) fn of(c: Config<'_>) -> Self {
        ClientRoles {
            claim_template: c
                .get("claim.name")
                .filter(|n| !n.is_empty())
                .unwrap_or("resource_access.${client_id}.roles")
                .to_string(),
            only_client: c.non_empty("usermodel.clientRoleMapping.clientId"),
            prefix: c
                .text("usermodel.clientRoleMapping.rolePrefix")
                .unwrap_or_default(),
        }
    }

    pub(super) fn apply(&self, roles: &BTreeSet<Role>, claims: &mut Map<String, Value>) {
        let only = self.only_client.as_deref();
        let clients: BTreeSet<&str> = roles
            .iter()
            .filter_map(|r| match r {
                Role::Client(c, _) if only.is_none_or(|o| o == c) => Some(c.as_str()),
                _ => None,
            })
            .collect();
        for c in clients {
            let names: Vec<Value> = roles
                .iter()
                .filter_map(|r| match r {
                    Role::Client(rc, n) if rc == c => Some(json!(format!("{}{n}", self.prefix))),
                    _ => None,
                })
                .collect();
            // The client id is one path segment even if it contains dots (filled in escaped
            // before the name is split, as Keycloak does).
            let name = self
                .claim_template
                .replace("${client_id}", &c.replace('.', "\\."));
            set_claim(claims, &name, Value::Array(names));
        }
    }
}

/// `oidc-group-membership-mapper`: the user's groups, a list (empty when none).
#[derive(Debug, Clone)]
pub(super) struct Groups {
    /// `claim.name`, default `groups`.
    path: ClaimName,
    /// `full.path` (default true): `/parent/child`, else the last segment only.
    full_path: bool,
}

impl Groups {
    pub(super) fn of(c: Config<'_>) -> Self {
        Groups {
            path: c.claim_name("groups"),
            full_path: c.flag("full.path", true),
        }
    }

    pub(super) fn apply(&self, groups: &[String], claims: &mut Map<String, Value>) {
        let groups: Vec<Value> = groups
            .iter()
            .map(|g| {
                if self.full_path {
                    json!(g)
                } else {
                    json!(g.rsplit('/').next().unwrap_or(g))
                }
            })
            .collect();
        self.path.set(claims, Value::Array(groups));
    }
}
