//! A realm's generated RSA keys, made at their first need instead of at realm creation.
//!
//! Keycloak generates a new realm's `rsa-generated` and `rsa-enc-generated` keys when it
//! creates the realm (`DefaultKeyProviders.createProviders`; the key is made in
//! `GeneratedRsaKeyProviderFactory.validateConfiguration` when the component is added). Two
//! RSA-2048 keys cost 100–300 ms of CPU, which a tenant service creating realms back to back
//! pays for every realm. Here a new realm is stored with its key provider components complete
//! except for their key material (a *pending* component: a generated provider without its
//! `privateKey`), and the material is generated the first time anything reads the realm's keys:
//! a protocol endpoint of the realm (JWKS, discovery, tokens, ...), the Admin API on the
//! realm (components, keys, partial export, ...) or `portcullis export`. Whichever comes first
//! writes the keys into the stored realm with the realm's optimistic version check, so the
//! keys are generated once: a writer that loses the race (another node, another request)
//! reads the winner's keys again. The component ids are fixed at creation, so nothing a
//! client sees tells the two ways apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::crypto::keys::{self, Generate, KEY_PROVIDER_TYPE};
use crate::representation::{ComponentRepresentation, RealmRepresentation};
use crate::store::{Store, StoreError, StoredRealm, Write};

/// How often a writer re-reads the realm after losing its version check before giving up:
/// each loss means another writer changed the realm meanwhile, usually with the keys.
const ATTEMPTS: usize = 8;

/// The config key that holds a generated provider's key material.
pub fn material_key(kind: Generate) -> &'static str {
    match kind {
        Generate::HmacHs512 | Generate::Aes => "secret",
        Generate::Es256 => "ecdsaPrivateKey",
        Generate::EdDsa => "eddsaPrivateKey",
        Generate::RsaSig(_) | Generate::RsaEnc => "privateKey",
    }
}

/// Whether the key is generated at first need (the RSA keys) rather than at once.
pub fn deferred(kind: Generate) -> bool {
    matches!(kind, Generate::RsaSig(_) | Generate::RsaEnc)
}

fn first<'a>(c: &'a ComponentRepresentation, k: &str) -> Option<&'a str> {
    c.config
        .as_ref()
        .and_then(|m| m.get(k))
        .and_then(|v| v.first())
        .map(String::as_str)
}

/// What a generated key provider component would generate when its key material is absent,
/// empty or masked (`**********`); `None` for a component with its material, or one this
/// server does not generate.
pub fn missing(c: &ComponentRepresentation) -> Option<Generate> {
    let provider = c.provider_id.as_deref().unwrap_or_default();
    let Ok(Some(kind)) = Generate::for_provider(provider, first(c, "algorithm")) else {
        return None;
    };
    first(c, material_key(kind))
        .is_none_or(|v| v.is_empty() || v == keys::SECRET_MASK)
        .then_some(kind)
}

fn key_components(rep: &RealmRepresentation) -> &[ComponentRepresentation] {
    rep.components
        .as_ref()
        .and_then(|m| m.get(KEY_PROVIDER_TYPE))
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether the realm has a key provider waiting for its key material.
pub fn pending(rep: &RealmRepresentation) -> bool {
    key_components(rep).iter().any(|c| missing(c).is_some())
}

/// Whether a pending component of the realm will generate a key for `alg` (`RS256`,
/// `RSA-OAEP`, ...).
pub fn pending_for(rep: &RealmRepresentation, alg: &str) -> bool {
    key_components(rep)
        .iter()
        .filter(|c| first(c, "active") != Some("false") && first(c, "enabled") != Some("false"))
        .filter_map(missing)
        .any(|kind| match kind {
            Generate::RsaSig(a) => a == alg,
            Generate::RsaEnc => alg == "RSA-OAEP",
            _ => false,
        })
}

/// A generated key provider without its key material yet: what Keycloak's component holds
/// except `privateKey` and `certificate` (and the `kid`, which is derived from the key).
pub fn placeholder(kind: Generate, id: String) -> ComponentRepresentation {
    let (name, alg) = match kind {
        Generate::RsaSig(alg) => ("rsa-generated", alg),
        _ => ("rsa-enc-generated", "RSA-OAEP"),
    };
    let config = [("priority", "100"), ("algorithm", alg), ("keySize", "2048")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect();
    ComponentRepresentation {
        id: Some(id),
        name: Some(name.into()),
        provider_id: Some(name.into()),
        sub_type: None,
        config: Some(config),
        parent_id: None,
        extra: serde_json::Map::from_iter([("subComponents".to_string(), serde_json::json!({}))]),
    }
}

/// Generates the key material of one component in place, keeping its id, name and settings
/// (Keycloak's generated providers do this in `validateConfiguration`): the generated key,
/// its certificate and `kid` replace what the component had; other settings are kept.
pub fn fill_one(
    c: &mut ComponentRepresentation,
    kind: Generate,
    realm: &str,
) -> Result<(), String> {
    let id = c.id.clone().unwrap_or_default();
    let fresh = keys::generate(kind, realm, id).map_err(|e| e.0)?;
    let config = c.config.get_or_insert_with(Default::default);
    for (k, v) in fresh.config {
        let generated_material =
            keys::SECRET_CONFIG_KEYS.contains(&k.as_str()) || k == "certificate" || k == "kid";
        if generated_material || k == material_key(kind) || !config.contains_key(&k) {
            config.insert(k, v);
        }
    }
    Ok(())
}

/// Generates the key material of every pending component; whether there was any.
pub fn fill(rep: &mut RealmRepresentation, realm: &str) -> Result<bool, String> {
    let Some(list) = rep
        .components
        .as_mut()
        .and_then(|m| m.get_mut(KEY_PROVIDER_TYPE))
    else {
        return Ok(false);
    };
    let mut filled = false;
    for c in list.iter_mut() {
        if let Some(kind) = missing(c) {
            fill_one(c, kind, realm)?;
            filled = true;
        }
    }
    Ok(filled)
}

fn corrupt(name: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("realm '{name}': {e}"))
}

/// The stored realm with its keys: when a key provider is pending, its key material is
/// generated and written in one transaction guarded by the realm's version; a writer that
/// loses to another (this node or another one) reads the realm again and takes its keys.
/// `None` when there is no such realm.
pub async fn ensure_stored(
    store: &dyn Store,
    name: &str,
) -> Result<Option<StoredRealm>, StoreError> {
    for _ in 0..ATTEMPTS {
        let Some(stored) = store.realm_by_name(name).await? else {
            return Ok(None);
        };
        let rep: RealmRepresentation =
            serde_json::from_str(&stored.representation).map_err(|e| corrupt(name, e))?;
        if !pending(&rep) {
            return Ok(Some(stored));
        }
        let realm = stored.name.clone();
        // RSA key generation is CPU work of 50–150 ms a key: off the async workers.
        let rep = tokio::task::spawn_blocking(move || {
            let mut rep = rep;
            fill(&mut rep, &realm).map(|_| rep)
        })
        .await
        .map_err(|e| corrupt(name, format!("key generation stopped: {e}")))?
        .map_err(|e| corrupt(name, e))?;
        let representation = serde_json::to_string(&rep).map_err(|e| corrupt(name, e))?;
        let written = store
            .apply(vec![Write::UpdateRealm {
                id: stored.id.clone(),
                expected_version: stored.version,
                representation: representation.clone(),
            }])
            .await;
        match written {
            Ok(()) => {
                tracing::debug!(realm = %name, "generated the realm's keys at their first use");
                return Ok(Some(StoredRealm {
                    version: stored.version + 1,
                    representation,
                    ..stored
                }));
            }
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::VersionConflict)
}

/// One lock per realm id, so that the requests of one node wait for one generation.
#[derive(Debug, Default)]
pub struct Generating {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Generating {
    /// The lock of a realm.
    pub fn lock_of(&self, realm_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.locks.lock() {
            Ok(mut m) => m.entry(realm_id.to_string()).or_default().clone(),
            // A panic while holding the map: a lock of its own still serializes this caller
            // with itself, and the store's version check keeps the keys single.
            Err(_) => Arc::default(),
        }
    }

    /// Drops the locks nobody holds.
    pub fn tidy(&self) {
        if let Ok(mut m) = self.locks.lock() {
            m.retain(|_, l| Arc::strong_count(l) > 1);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::realm::import;

    fn prepared(realm: serde_json::Value) -> RealmRepresentation {
        let p = import::prepare(realm).unwrap();
        serde_json::from_str(&p.representation).unwrap()
    }

    fn algs(rep: &RealmRepresentation) -> Vec<String> {
        let mut v: Vec<String> = import::realm_keys(rep)
            .unwrap()
            .into_iter()
            .map(|k| k.alg)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_new_realm_is_stored_with_its_rsa_providers_pending_until_filled() {
        let mut rep = prepared(serde_json::json!({"realm": "tenant"}));
        assert!(pending(&rep));
        assert!(algs(&rep).is_empty(), "no RSA key before first use");
        let ids: Vec<Option<String>> = key_components(&rep).iter().map(|c| c.id.clone()).collect();
        assert!(fill(&mut rep, "tenant").unwrap());
        assert!(!pending(&rep));
        assert_eq!(algs(&rep), ["RS256", "RSA-OAEP"]);
        let after: Vec<Option<String>> =
            key_components(&rep).iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids, after, "the components keep their ids");
        assert!(!fill(&mut rep, "tenant").unwrap(), "filled once");
    }

    #[test]
    fn a_realm_file_with_its_keys_keeps_them() {
        let mut rep = prepared(serde_json::json!({"realm": "tenant"}));
        fill(&mut rep, "tenant").unwrap();
        let before = import::realm_keys(&rep).unwrap();
        let again = prepared(serde_json::to_value(&rep).unwrap());
        assert!(!pending(&again));
        let after = import::realm_keys(&again).unwrap();
        let kids = |k: &[keys::RealmKey]| k.iter().map(|k| k.kid.clone()).collect::<Vec<_>>();
        assert_eq!(kids(&before), kids(&after));
    }

    #[test]
    fn another_default_signature_algorithm_gets_its_own_pending_provider() {
        let mut rep =
            prepared(serde_json::json!({"realm": "t", "defaultSignatureAlgorithm": "PS256"}));
        assert!(pending_for(&rep, "PS256") && pending_for(&rep, "RS256"));
        fill(&mut rep, "t").unwrap();
        assert_eq!(algs(&rep), ["PS256", "RS256", "RSA-OAEP"]);
    }
}
