//! The realm's side of fine-grained admin permissions (Keycloak 26.2+'s FGAP v2): the switch
//! `adminPermissionsEnabled` and the `admin-permissions` client whose resource server holds
//! the permissions, with the schema's scopes and one resource per resource type
//! (`AdminPermissionsSchema.init`). The Admin API's checks are `admin::permissions`'.

use serde_json::{json, Map, Value};

use crate::authz::fgap;
use crate::representation::RealmRepresentation;

/// The `clientId` of the client holding the realm's admin permissions.
pub const CLIENT_ID: &str = "admin-permissions";

/// Whether the realm has switched fine-grained admin permissions on.
pub fn enabled(rep: &RealmRepresentation) -> bool {
    rep.extra
        .get("adminPermissionsEnabled")
        .and_then(Value::as_bool)
        == Some(true)
}

/// The UUID of the realm's `admin-permissions` client, if it has one.
pub fn client_uuid(rep: &RealmRepresentation) -> Option<&str> {
    super::edit::client_by_client_id(rep, CLIENT_ID).and_then(|c| c.id.as_deref())
}

/// The realm's `adminPermissionsClient`: the client's id and `clientId`.
pub fn link(id: &str) -> Value {
    json!({"id": id, "clientId": CLIENT_ID})
}

/// The `admin-permissions` client (`id` given or not): confidential, no flow, authorization
/// services on.
pub fn client_json(id: Option<&str>) -> Value {
    let mut c = json!({
        "clientId": CLIENT_ID,
        "enabled": true,
        "publicClient": false,
        "bearerOnly": false,
        "standardFlowEnabled": false,
        "implicitFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": false,
        "authorizationServicesEnabled": true,
        "protocol": "openid-connect"
    });
    if let Some(id) = id {
        c["id"] = json!(id);
    }
    c
}

/// The resource server of the schema: ENFORCING, UNANIMOUS, every scope, a resource per type
/// (named as the type, with the type's scopes), no policy.
pub fn schema_settings() -> Value {
    let mut scopes: Vec<&str> = Vec::new();
    for (_, list) in fgap::SCHEMA {
        for s in *list {
            if !scopes.contains(s) {
                scopes.push(s);
            }
        }
    }
    let resources: Vec<Value> = fgap::SCHEMA
        .iter()
        .map(|(kind, list)| {
            let scopes: Vec<Value> = list.iter().map(|s| json!({"name": s})).collect();
            json!({"name": kind, "type": kind, "scopes": scopes})
        })
        .collect();
    json!({
        "policyEnforcementMode": "ENFORCING",
        "decisionStrategy": "UNANIMOUS",
        "allowRemoteResourceManagement": false,
        "scopes": scopes.iter().map(|s| json!({"name": s})).collect::<Vec<_>>(),
        "resources": resources,
        "policies": []
    })
}

/// A realm file being imported with `adminPermissionsEnabled` and no `admin-permissions`
/// client gets the client with the schema's resource server, and the realm its link (as
/// Keycloak's `RealmManager` runs `init` on import). A file that has the client (a Keycloak
/// export) keeps its own.
pub fn add_for_import(realm: &mut Map<String, Value>) {
    if realm
        .get("adminPermissionsEnabled")
        .and_then(Value::as_bool)
        != Some(true)
    {
        return;
    }
    let clients = realm.entry("clients").or_insert_with(|| json!([]));
    let Some(list) = clients.as_array_mut() else {
        return;
    };
    let existing = list
        .iter()
        .find(|c| c.get("clientId").and_then(Value::as_str) == Some(CLIENT_ID))
        .map(|c| c.get("id").and_then(Value::as_str).map(str::to_string));
    let id = match existing {
        Some(Some(id)) => id,
        // The client without an id: ids are assigned later, the link comes from the export.
        Some(None) => return,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            let mut c = client_json(Some(&id));
            c["authorizationSettings"] = schema_settings();
            list.push(c);
            id
        }
    };
    realm
        .entry("adminPermissionsClient")
        .or_insert_with(|| link(&id));
}
