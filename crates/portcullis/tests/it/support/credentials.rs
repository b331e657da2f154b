//! Users and credentials of a realm export, in Keycloak's representation.

use serde_json::Value;

/// The user `username` of a realm export.
pub fn exported_user(export: &Value, username: &str) -> Value {
    export["users"]
        .as_array()
        .expect("the export's users")
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} in the export"))
        .clone()
}

/// The first credential of `kind` of an exported user.
pub fn exported_credential(user: &Value, kind: &str) -> Value {
    user["credentials"]
        .as_array()
        .expect("the user's credentials")
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("a {kind} credential"))
        .clone()
}

/// A credential's `credentialData`, which Keycloak's representation carries as a JSON string.
pub fn credential_data(c: &Value) -> Value {
    serde_json::from_str(c["credentialData"].as_str().expect("credentialData")).unwrap()
}
