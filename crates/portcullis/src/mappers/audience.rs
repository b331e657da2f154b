//! The `aud` claim: `oidc-audience-mapper` adds to it, `oidc-audience-resolve-mapper` adds
//! the clients whose roles the token carries.

use serde_json::{json, Map, Value};

/// Adds audiences to `aud` (a string when single, an array otherwise, as Keycloak writes it).
pub fn add_audience(claims: &mut Map<String, Value>, add: Vec<String>) {
    let mut list: Vec<String> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    for a in add {
        if !list.contains(&a) {
            list.push(a);
        }
    }
    match list.len() {
        0 => {}
        1 => {
            claims.insert("aud".into(), json!(list[0]));
        }
        _ => {
            claims.insert("aud".into(), json!(list));
        }
    }
}

/// `oidc-audience-resolve-mapper`: the clients whose roles the token carries.
pub fn resolve_audience(claims: &mut Map<String, Value>, client_id: &str) {
    let clients: Vec<String> = claims
        .get("resource_access")
        .and_then(Value::as_object)
        .map(|m| m.keys().filter(|k| *k != client_id).cloned().collect())
        .unwrap_or_default();
    add_audience(claims, clients);
}
