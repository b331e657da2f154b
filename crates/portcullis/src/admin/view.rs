//! The response shapes of the Admin API that several resources answer: users, groups, roles,
//! role mappings, sessions and client scope references, as Keycloak's representations.

use serde_json::{json, Map, Value};

use crate::realm::edit;
use crate::realm::index::Role;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{
    GroupRepresentation, RealmRepresentation, RoleRepresentation, UserRepresentation,
};

/// Fields of the stored user that the Admin API does not show in a `UserRepresentation`.
const HIDDEN: &[&str] = &[
    "credentials",
    "realmRoles",
    "clientRoles",
    "groups",
    "clientConsents",
    "federatedIdentities",
    "serviceAccountClientId",
    "socialLinks",
    "applicationRoles",
];

/// The `UserRepresentation` the Admin API answers (brief: the search columns only).
pub fn user_json(u: &UserRepresentation, brief: bool) -> Value {
    let mut v = serde_json::to_value(u).unwrap_or_else(|_| json!({}));
    let Some(o) = v.as_object_mut() else {
        return v;
    };
    for k in HIDDEN {
        o.remove(*k);
    }
    o.entry("emailVerified").or_insert(json!(false));
    o.entry("enabled").or_insert(json!(false));
    if brief {
        o.retain(|k, _| {
            matches!(
                k.as_str(),
                "id" | "username"
                    | "firstName"
                    | "lastName"
                    | "email"
                    | "emailVerified"
                    | "createdTimestamp"
                    | "enabled"
                    | "federationLink"
            )
        });
        return v;
    }
    // Keycloak's `isConfiguredFor("otp")` and the types its credential providers can disable.
    let has_otp = u
        .credentials
        .iter()
        .flatten()
        .any(|c| c.kind.as_deref() == Some("otp"));
    o.insert("totp".into(), json!(has_otp));
    o.insert(
        "disableableCredentialTypes".into(),
        if has_otp { json!(["otp"]) } else { json!([]) },
    );
    o.entry("requiredActions").or_insert(json!([]));
    o.entry("notBefore").or_insert(json!(0));
    o.insert(
        "access".into(),
        json!({"manageGroupMembership": true, "view": true, "mapRoles": true, "impersonate": false, "manage": true}),
    );
    v
}

/// Keycloak's `UserSessionRepresentation`; `clients` maps each client's id (UUID) to its
/// `clientId`, for the clients of the session that the realm still has.
pub fn session_json(
    snap: &RealmSnapshot,
    s: &crate::store::SessionRow,
    username: &str,
    clients: &[crate::store::ClientSessionRow],
) -> Value {
    let notes = crate::sessions::SessionNotes::parse(&s.data);
    let map: Map<String, Value> = clients
        .iter()
        .filter(|c| c.session_id == s.id)
        .filter_map(|cs| {
            let c = snap.index.client(&snap.rep, &cs.client_id)?;
            Some((c.id.clone()?, json!(cs.client_id)))
        })
        .collect();
    json!({
        "id": s.id,
        "username": username,
        "userId": s.user_id,
        "ipAddress": notes.ip.as_deref().unwrap_or(""),
        "start": s.created_at * 1000,
        "lastAccess": s.last_refresh * 1000,
        "rememberMe": notes.remember_me(),
        "clients": map,
        "transientUser": false,
    })
}

fn sub_count(g: &GroupRepresentation) -> usize {
    g.sub_groups.as_ref().map_or(0, Vec::len)
}

/// `GroupRepresentation`, brief.
pub fn group_brief(g: &GroupRepresentation) -> Value {
    json!({"id": g.id, "name": g.name, "path": g.path, "subGroupCount": sub_count(g), "subGroups": []})
}

/// `GroupRepresentation` with attributes and role mappings.
pub fn group_full(g: &GroupRepresentation) -> Value {
    let mut v = group_brief(g);
    v["attributes"] = json!(g.attributes.clone().unwrap_or_default());
    v["realmRoles"] = json!(g.realm_roles.clone().unwrap_or_default());
    v["clientRoles"] = json!(g.client_roles.clone().unwrap_or_default());
    v["access"] = json!({"view": true, "viewMembers": true, "manageMembers": true, "manage": true, "manageMembership": true});
    v
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

/// The JSON of a role of an owner.
pub fn role_out(rep: &RealmRepresentation, role: &Role) -> Option<Value> {
    match role {
        Role::Realm(n) => edit::role(rep, None, n)
            .map(|r| role_json(r, None, rep.id.as_deref().unwrap_or_default())),
        Role::Client(c, n) => {
            let uuid = edit::client_by_client_id(rep, c)?.id.clone()?;
            edit::role(rep, Some(c), n).map(|r| role_json(r, Some(c), &uuid))
        }
    }
}

/// The JSON of roles, skipping unknown ones.
pub fn roles_out<'a>(
    rep: &RealmRepresentation,
    roles: impl IntoIterator<Item = &'a Role>,
) -> Vec<Value> {
    roles.into_iter().filter_map(|r| role_out(rep, r)).collect()
}

/// `{"realmMappings": [...], "clientMappings": {...}}` of a set of roles.
pub fn mappings_json(rep: &RealmRepresentation, roles: &[Role]) -> Value {
    let realm: Vec<Role> = roles
        .iter()
        .filter(|r| matches!(r, Role::Realm(_)))
        .cloned()
        .collect();
    let mut clients = Map::new();
    for r in roles {
        if let Role::Client(c, _) = r {
            if clients.contains_key(c) {
                continue;
            }
            let of_client: Vec<Role> = roles
                .iter()
                .filter(|x| matches!(x, Role::Client(o, _) if o == c))
                .cloned()
                .collect();
            let uuid = edit::client_by_client_id(rep, c).and_then(|x| x.id.clone());
            clients.insert(
                c.clone(),
                json!({"id": uuid, "client": c, "mappings": roles_out(rep, &of_client)}),
            );
        }
    }
    let mut out = Map::new();
    if !realm.is_empty() {
        out.insert("realmMappings".into(), json!(roles_out(rep, &realm)));
    }
    if !clients.is_empty() {
        out.insert("clientMappings".into(), Value::Object(clients));
    }
    Value::Object(out)
}

/// Client scope names as Keycloak lists them: `{id, name}` of each scope that exists.
pub fn scope_refs(rep: &RealmRepresentation, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|n| {
            rep.client_scopes
                .iter()
                .flatten()
                .find(|s| s.name.as_deref() == Some(n.as_str()))
        })
        .map(|s| json!({"id": s.id, "name": s.name}))
        .collect()
}
