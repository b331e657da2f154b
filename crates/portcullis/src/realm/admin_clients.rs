//! Master's per-realm admin clients (`<realm>-realm`, Keycloak's "master admin app" of each
//! realm), implied by the realm list instead of stored in the master realm's document.
//!
//! Keycloak gives the master realm one bearer-only client per realm, named `<realm>-realm`,
//! with the roles of `realm-management` (`manage-users`, `view-users`, ...), and makes
//! master's `admin` role a composite of all of them: a master user administers realm `acme`
//! through the roles of `acme-realm`. Kept in master's document, these clients make every
//! realm creation rewrite a document that grows with the number of realms (about 3.5 KB a
//! realm: 35 MB at 10,000 realms). Portcullis derives them instead:
//! - they are the same for every realm (Keycloak never changes them), so their roles exist
//!   by rule ([`is_role`], [`composites`]); a role mapping to one is kept by name, as every
//!   role mapping is;
//! - their ids derive from the realm's id ([`client`], [`roles`]), the same on every node and
//!   across restarts;
//! - the views that list them (the master realm's Admin API, its export) add them to a copy
//!   of the document ([`augment`]); import, start-up and every change of master's document
//!   take them out again ([`strip`]), so a change to one of them is refused
//!   ([`changed`]) rather than lost.
//!
//! Master's own `master-realm` client stays in its document.

use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_json::json;

use super::defaults::REALM_MANAGEMENT_ROLES;
use super::MASTER;
use crate::representation::RoleRepresentation;
use crate::representation::{ClientRepresentation, Composites, RealmRepresentation};

/// The suffix of an admin client's `clientId`.
pub const SUFFIX: &str = "-realm";

/// The roles of a new realm's admin client given to a creator without master's `admin` role
/// (`AdminRoles.ALL_REALM_ROLES`: all of them but `impersonation`).
pub fn creator_roles() -> impl Iterator<Item = &'static str> {
    REALM_MANAGEMENT_ROLES
        .iter()
        .copied()
        .filter(|r| *r != "impersonation")
}

/// A realm that master administers through an admin client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Administered<'a> {
    /// The realm's id.
    pub id: &'a str,
    /// The realm's name.
    pub name: &'a str,
}

/// The `clientId` of realm `realm`'s admin client.
pub fn client_id(realm: &str) -> String {
    format!("{realm}{SUFFIX}")
}

/// The realm that `client_id` administers, when it names an implied admin client (not
/// master's own `master-realm`).
pub fn target(client_id: &str) -> Option<&str> {
    client_id
        .strip_suffix(SUFFIX)
        .filter(|r| !r.is_empty() && *r != MASTER)
}

/// Whether master's client role `client`/`role` is a role of an implied admin client.
pub fn is_role(client: &str, role: &str) -> bool {
    target(client).is_some() && REALM_MANAGEMENT_ROLES.contains(&role)
}

/// The roles (of the same client) that an admin client's `role` is a composite of, as in
/// `realm-management`.
pub fn composites(role: &str) -> &'static [&'static str] {
    match role {
        "view-users" => &["query-users", "query-groups"],
        "view-clients" => &["query-clients"],
        _ => &[],
    }
}

/// An id derived from the realm's id: the same on every node, a UUID in form.
fn derived_id(realm_id: &str, what: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("portcullis/realm-admin-client/{realm_id}/{what}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn template() -> &'static (ClientRepresentation, Vec<RoleRepresentation>) {
    static TEMPLATE: OnceLock<(ClientRepresentation, Vec<RoleRepresentation>)> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let client = json!({
            "surrogateAuthRequired": false,
            "enabled": true,
            "alwaysDisplayInConsole": false,
            "clientAuthenticatorType": "client-secret",
            "redirectUris": [],
            "webOrigins": [],
            "notBefore": 0,
            "bearerOnly": true,
            "consentRequired": false,
            "standardFlowEnabled": true,
            "implicitFlowEnabled": false,
            "directAccessGrantsEnabled": false,
            "serviceAccountsEnabled": false,
            "publicClient": false,
            "frontchannelLogout": false,
            "attributes": {"realm_client": "true"},
            "authenticationFlowBindingOverrides": {},
            "fullScopeAllowed": false,
            "nodeReRegistrationTimeout": 0,
            "defaultClientScopes": [],
            "optionalClientScopes": []
        });
        let roles = REALM_MANAGEMENT_ROLES
            .iter()
            .map(|r| {
                json!({
                    "name": r,
                    "description": format!("${{role_{r}}}"),
                    "composite": !composites(r).is_empty(),
                    "clientRole": true,
                    "attributes": {}
                })
            })
            .collect::<Vec<_>>();
        #[allow(clippy::expect_used)]
        let parsed = (
            serde_json::from_value(client).expect("the admin client template is a client"),
            serde_json::from_value(serde_json::Value::Array(roles))
                .expect("the admin client's roles are roles"),
        );
        parsed
    })
}

/// Realm `realm`'s admin client as master lists it.
pub fn client(realm: Administered<'_>) -> ClientRepresentation {
    let mut c = template().0.clone();
    c.id = Some(derived_id(realm.id, "client"));
    c.client_id = Some(client_id(realm.name));
    c.name = Some(format!("{} Realm", realm.name));
    c
}

/// The roles of realm `realm`'s admin client, with their ids and composites.
pub fn roles(realm: Administered<'_>) -> Vec<RoleRepresentation> {
    let container = derived_id(realm.id, "client");
    let owner = client_id(realm.name);
    template()
        .1
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let name = r.name.clone().unwrap_or_default();
            r.id = Some(derived_id(realm.id, &format!("role/{name}")));
            r.container_id = Some(container.clone());
            let of = composites(&name);
            if !of.is_empty() {
                let mut client = IndexMap::new();
                client.insert(owner.clone(), of.iter().map(|s| s.to_string()).collect());
                r.composites = Some(Composites {
                    client: Some(client),
                    ..Default::default()
                });
            }
            r
        })
        .collect()
}

/// Adds the admin client of each realm of `realms` (but master) that `rep` (master's
/// document) lacks, with its roles, and makes master's `admin` role a composite of them, as
/// Keycloak's master realm has them.
pub fn augment<'a>(
    rep: &mut RealmRepresentation,
    realms: impl IntoIterator<Item = Administered<'a>>,
) {
    let mut have: std::collections::HashSet<String> = rep
        .clients
        .iter()
        .flatten()
        .filter_map(|c| c.client_id.clone())
        .collect();
    let mut added = Vec::new();
    for realm in realms {
        if realm.name == MASTER || !have.insert(client_id(realm.name)) {
            continue;
        }
        rep.clients.get_or_insert_with(Vec::new).push(client(realm));
        rep.roles
            .get_or_insert_with(Default::default)
            .client
            .get_or_insert_with(IndexMap::new)
            .insert(client_id(realm.name), roles(realm));
        added.push(client_id(realm.name));
    }
    if let Some(admin) = admin_role(rep) {
        admin.composite = Some(true);
        let map = admin
            .composites
            .get_or_insert_with(Default::default)
            .client
            .get_or_insert_with(IndexMap::new);
        for c in added {
            map.insert(
                c,
                REALM_MANAGEMENT_ROLES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            );
        }
    }
}

fn admin_role(rep: &mut RealmRepresentation) -> Option<&mut RoleRepresentation> {
    rep.roles
        .as_mut()?
        .realm
        .as_mut()?
        .iter_mut()
        .find(|r| r.name.as_deref() == Some("admin"))
}

/// Whether `c` of master's document is an implied admin client: named `<realm>-realm` and
/// holding no role but `realm-management`'s (Keycloak's own, as its exports have them).
fn is_implied(rep: &RealmRepresentation, c: &ClientRepresentation) -> bool {
    let Some(id) = c.client_id.as_deref() else {
        return false;
    };
    target(id).is_some()
        && rep
            .roles
            .as_ref()
            .and_then(|r| r.client.as_ref())
            .and_then(|m| m.get(id))
            .into_iter()
            .flatten()
            .all(|r| {
                r.name
                    .as_deref()
                    .is_some_and(|n| REALM_MANAGEMENT_ROLES.contains(&n))
            })
}

/// Takes the implied admin clients out of master's document `rep`: the clients, their role
/// lists and master `admin`'s composites over them. Role mappings to them (of users, groups,
/// other roles) stay, by name. Returns the `clientId`s taken out.
pub fn strip(rep: &mut RealmRepresentation) -> Vec<String> {
    let implied: Vec<String> = rep
        .clients
        .iter()
        .flatten()
        .filter(|c| is_implied(rep, c))
        .filter_map(|c| c.client_id.clone())
        .collect();
    if implied.is_empty() {
        return implied;
    }
    if let Some(list) = rep.clients.as_mut() {
        list.retain(|c| !c.client_id.as_ref().is_some_and(|id| implied.contains(id)));
    }
    if let Some(map) = rep.roles.as_mut().and_then(|r| r.client.as_mut()) {
        map.retain(|k, _| !implied.contains(k));
    }
    if let Some(admin) = admin_role(rep) {
        if let Some(map) = admin.composites.as_mut().and_then(|c| c.client.as_mut()) {
            map.retain(|k, _| !implied.contains(k));
        }
    }
    implied
}

/// What is wrong with the implied admin clients in `rep` (master's document, [`augment`]ed
/// with `realms`, after a change): one of them changed (other fields or roles), or a client
/// named like the admin client of a realm that does not exist (the name is reserved).
/// `None` when they are all as derived or absent (the realm's deletion takes its admin client
/// out; `DELETE /clients/{id}` refuses it before).
pub fn changed<'a>(
    rep: &RealmRepresentation,
    realms: impl IntoIterator<Item = Administered<'a>>,
) -> Option<String> {
    let realms: std::collections::HashMap<&str, Administered<'a>> =
        realms.into_iter().map(|r| (r.name, r)).collect();
    for c in rep.clients.iter().flatten() {
        let Some(id) = c.client_id.as_deref() else {
            continue;
        };
        let Some(name) = target(id) else {
            continue;
        };
        let Some(realm) = realms.get(name) else {
            if is_implied(rep, c) {
                return Some(format!(
                    "the clientId {id} is reserved for the admin client of realm {name}"
                ));
            }
            continue;
        };
        let listed = rep
            .roles
            .as_ref()
            .and_then(|r| r.client.as_ref())
            .and_then(|m| m.get(id));
        if *c != client(*realm) || listed != Some(&roles(*realm)) {
            return Some(unchangeable(id, name));
        }
    }
    None
}

/// Keycloak-style message refusing to change or delete realm `realm`'s admin client `id`.
pub fn unchangeable(id: &str, realm: &str) -> String {
    format!(
        "{id} is the admin client of realm {realm}: the server keeps it as Keycloak creates it, and it cannot be changed or deleted"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn master() -> RealmRepresentation {
        serde_json::from_value(json!({
            "realm": "master",
            "roles": {"realm": [{"name": "admin", "composite": true,
                "composites": {"realm": ["create-realm"], "client": {"master-realm": ["manage-users"]}}},
                {"name": "create-realm"}],
                "client": {"master-realm": [{"name": "manage-users"}], "app-realm": [{"name": "custom"}]}},
            "clients": [{"clientId": "master-realm"}, {"clientId": "app-realm"}]
        }))
        .unwrap()
    }

    #[test]
    fn a_creator_gets_every_admin_role_but_impersonation() {
        let roles: Vec<&str> = creator_roles().collect();
        assert_eq!(roles.len() + 1, REALM_MANAGEMENT_ROLES.len());
        assert!(roles.contains(&"manage-realm") && !roles.contains(&"impersonation"));
    }

    #[test]
    fn augmented_then_stripped_is_the_document_again() {
        let plain = master();
        let mut rep = plain.clone();
        let realms = [
            Administered {
                id: "id-acme",
                name: "acme",
            },
            Administered {
                id: "id-beta",
                name: "beta",
            },
            Administered {
                id: "id-m",
                name: "master",
            },
        ];
        augment(&mut rep, realms);
        assert_eq!(rep.clients.as_ref().unwrap().len(), 4);
        let acme = edit_roles(&rep, "acme-realm");
        assert_eq!(acme.len(), REALM_MANAGEMENT_ROLES.len());
        let view = acme
            .iter()
            .find(|r| r.name.as_deref() == Some("view-users"))
            .unwrap();
        assert_eq!(
            view.composites.as_ref().unwrap().client.as_ref().unwrap()["acme-realm"],
            vec!["query-users", "query-groups"]
        );
        assert_eq!(view.container_id, client(realms[0]).id);
        assert_eq!(changed(&rep, realms), None);
        // The same ids every time; other realms' differ.
        assert_eq!(client(realms[0]).id, client(realms[0]).id);
        assert_ne!(client(realms[0]).id, client(realms[1]).id);
        // A client named like one but with other roles is the realm's own and stays.
        assert_eq!(strip(&mut rep), vec!["acme-realm", "beta-realm"]);
        assert_eq!(rep, plain);
    }

    #[test]
    fn a_changed_admin_client_is_named() {
        let mut rep = master();
        let acme = Administered {
            id: "x",
            name: "acme",
        };
        augment(&mut rep, [acme]);
        rep.roles.as_mut().unwrap().client.as_mut().unwrap()["acme-realm"].pop();
        assert!(changed(&rep, [acme])
            .unwrap()
            .starts_with("acme-realm is the admin client"));
        // Taken out (with its realm).
        let mut rep = master();
        augment(&mut rep, [acme]);
        crate::realm::edit::remove_client(&mut rep, "acme-realm");
        assert_eq!(changed(&rep, [acme]), None);
        // A new client named like the admin client of a realm that does not exist.
        let mut rep = master();
        rep.clients
            .as_mut()
            .unwrap()
            .push(serde_json::from_value(json!({"clientId": "zeta-realm"})).unwrap());
        assert!(changed(&rep, [acme]).unwrap().contains("reserved"));
        assert!(is_role("acme-realm", "manage-users"));
        assert!(!is_role("master-realm", "manage-users"));
        assert!(!is_role("acme-realm", "custom"));
    }

    fn edit_roles<'a>(rep: &'a RealmRepresentation, c: &str) -> &'a Vec<RoleRepresentation> {
        &rep.roles.as_ref().unwrap().client.as_ref().unwrap()[c]
    }
}
