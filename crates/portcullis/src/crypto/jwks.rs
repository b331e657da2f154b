//! `GET /realms/{realm}/protocol/openid-connect/certs`: the realm's public keys.

use serde_json::{json, Value};

use super::keys::RealmKey;

/// The JWK Set of a realm's enabled asymmetric keys (active and passive), as Keycloak
/// publishes it: `{"keys": [...]}`.
pub fn jwks(keys: &[RealmKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}
