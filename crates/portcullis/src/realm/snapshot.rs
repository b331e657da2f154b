//! Immutable, indexed realm snapshots held in memory and swapped atomically when a realm
//! changes. Discovery, JWKS and realm info are answered from bytes serialized here once.

use std::sync::Arc;

use bytes::Bytes;

use super::client_keys::ClientKeyCache;
use super::template::UrlTemplate;
use crate::crypto::keys::{self, RealmKey};
use crate::crypto::{b64, jwks};
use crate::model::RealmSettings;
use crate::policy::blacklist::Blacklists;
use crate::representation::{ComponentRepresentation, RealmRepresentation};
use crate::store::{OrganizationRow, Store, StoreError, StoredRealm};

pub use super::cache::{Facts, RealmCache};

use super::import;
use super::index::RealmIndex;
use crate::crypto::jws::HmacKey;

/// An enabled secret-key component of a realm (`hmac-generated`, `aes-generated`), as
/// configured: what the realm signs internal tokens with, and what its key listing shows.
#[derive(Debug)]
pub struct SecretKeyConfig<'a> {
    /// The component.
    pub component: &'a ComponentRepresentation,
    /// Key id.
    pub kid: &'a str,
    /// `HS256`/`HS384`/`HS512` (`algorithm`, default `HS512`) or `AES`.
    pub alg: &'a str,
    /// Whether it signs (else it only verifies).
    pub active: bool,
    /// Priority among the keys of its algorithm.
    pub priority: i64,
    /// The secret (base64url).
    pub secret: Option<&'a str>,
}

/// The realm's enabled secret-key components that have a key id.
pub fn secret_key_configs(rep: &RealmRepresentation) -> Vec<SecretKeyConfig<'_>> {
    rep.components
        .as_ref()
        .and_then(|m| m.get(keys::KEY_PROVIDER_TYPE))
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let alg = match c.provider_id.as_deref() {
                Some("hmac-generated") => c.config_value("algorithm").unwrap_or("HS512"),
                Some("aes-generated") => "AES",
                _ => return None,
            };
            if c.config_value("enabled") == Some("false") {
                return None;
            }
            Some(SecretKeyConfig {
                component: c,
                kid: c.config_value("kid")?,
                alg,
                active: c.config_value("active") != Some("false"),
                priority: c
                    .config_value("priority")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0),
                secret: c.config_value("secret"),
            })
        })
        .collect()
}

/// The realm's enabled HMAC keys (`hmac-generated`), highest priority (and active) first.
fn hmac_keys(rep: &RealmRepresentation) -> Vec<HmacKey> {
    let mut keys: Vec<(bool, i64, HmacKey)> = secret_key_configs(rep)
        .into_iter()
        .filter(|k| k.alg != "AES")
        .filter_map(|k| {
            let key = HmacKey::new(k.kid.to_string(), k.alg, k.secret?).ok()?;
            Some((k.active, k.priority, key))
        })
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse((k.0, k.1)));
    keys.into_iter().map(|(_, _, k)| k).collect()
}

/// One realm, ready to serve.
#[derive(Debug)]
pub struct RealmSnapshot {
    /// Realm id.
    pub id: String,
    /// Realm name.
    pub name: String,
    /// Store version it was built from.
    pub version: i64,
    /// Enabled flag: a disabled realm answers 404.
    pub enabled: bool,
    /// Usable asymmetric keys.
    pub keys: Vec<RealmKey>,
    /// Whether a key provider waits for its key material ([`super::lazy_keys`]): then
    /// [`RealmCache::with_keys`] gives the snapshot with the keys.
    pub keys_pending: bool,
    /// Serialized JWKS.
    pub jwks: Bytes,
    /// Base64 SPKI of the active RS256 key (`GET /realms/{realm}` `public_key`).
    pub public_key: Option<String>,
    /// `notBefore` (`tokens-not-before`).
    pub not_before: i64,
    /// The settings the server acts on, read from `rep` once.
    pub settings: RealmSettings,
    /// Brute-force detection's settings, read from `rep` once.
    pub brute_force: crate::policy::brute_force::Policy,
    /// The representation (without users).
    pub rep: RealmRepresentation,
    /// The discovery document, serialized on first use.
    pub discovery: std::sync::OnceLock<UrlTemplate>,
    /// Lookups over `rep`.
    pub index: RealmIndex,
    /// HMAC keys (refresh tokens), active first.
    pub hmac_keys: Vec<HmacKey>,
    /// Client key sets fetched from `jwks.url`: the process-wide cache, handed over by
    /// [`RealmCache`] (a snapshot built alone gets an empty one of its own).
    pub client_keys: Arc<ClientKeyCache>,
    /// Password blacklist files (`passwordBlacklist`), loaded once per process: handed over
    /// by [`RealmCache`] (a snapshot built alone gets a registry without a directory).
    pub blacklists: Arc<Blacklists>,
    /// The authentication flows, compiled (Keycloak's defaults for a realm without bound
    /// browser and direct grant flows).
    pub flows: Arc<crate::model::flows::Flows>,
    /// What upper layers read from `rep`, each kind once ([`RealmSnapshot::derived`]).
    derived: Derived,
}

/// Values derived from a snapshot's document by the layers above this one (the user profile's
/// configuration, say), one of each type, computed on first use and kept with the snapshot.
#[derive(Default)]
struct Derived(
    std::sync::Mutex<
        std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>,
    >,
);

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived")
    }
}

/// The realm's compiled flows; a realm stored without (or with unrunnable) flows runs
/// Keycloak's default ones.
fn compiled_flows(rep: &RealmRepresentation, name: &str) -> Arc<crate::model::flows::Flows> {
    static DEFAULTS: std::sync::OnceLock<Arc<crate::model::flows::Flows>> =
        std::sync::OnceLock::new();
    match crate::model::flows::compile(rep) {
        Ok(f) if f.browser.is_some() && f.direct_grant.is_some() => return Arc::new(f),
        Ok(_) => {}
        Err(e) => {
            tracing::error!(realm = %name, error = %e, "the realm's flows cannot run; running the default flows")
        }
    }
    DEFAULTS
        .get_or_init(|| {
            let mut tpl = super::defaults::realm_template().clone();
            tpl.insert("realm".into(), serde_json::Value::String(name.into()));
            let rep = serde_json::from_value(serde_json::Value::Object(tpl)).unwrap_or_default();
            Arc::new(crate::model::flows::compile(&rep).unwrap_or_default())
        })
        .clone()
}

impl RealmSnapshot {
    /// Builds a snapshot from its stored form, without organizations (see
    /// [`RealmSnapshot::build_with`]).
    pub fn build(stored: &StoredRealm) -> Result<Self, StoreError> {
        Self::build_with(stored, &[])
    }

    /// Builds a snapshot from its stored form and its organizations (rows of the store).
    pub fn build_with(stored: &StoredRealm, orgs: &[OrganizationRow]) -> Result<Self, StoreError> {
        let rep: RealmRepresentation = serde_json::from_str(&stored.representation)
            .map_err(|e| StoreError::Corrupt(format!("realm '{}': {e}", stored.name)))?;
        let keys = import::realm_keys(&rep)
            .map_err(|e| StoreError::Corrupt(format!("realm '{}': {e}", stored.name)))?;
        let hmac_keys = hmac_keys(&rep);
        let keys_pending = super::lazy_keys::pending(&rep);
        let index = RealmIndex::build(&rep, orgs);
        let jwks = Bytes::from(jwks::jwks(&keys).to_string());
        let public_key = keys::active_for(&keys, "RS256").map(|k| b64(&k.spki));
        let settings = RealmSettings::of(&rep);
        let flows = compiled_flows(&rep, &stored.name);
        let not_before = settings.not_before;
        let snap = RealmSnapshot {
            id: stored.id.clone(),
            name: stored.name.clone(),
            version: stored.version,
            enabled: rep.enabled.unwrap_or(true),
            keys,
            keys_pending,
            jwks,
            public_key,
            not_before,
            settings,
            brute_force: crate::policy::brute_force::Policy::of(&rep),
            rep,
            discovery: std::sync::OnceLock::new(),
            index,
            hmac_keys,
            client_keys: Arc::default(),
            blacklists: Arc::default(),
            flows,
            derived: Derived::default(),
        };
        Ok(snap)
    }

    /// The `T` that `read` derives from this realm's document: read on the first call, the
    /// same value after (a snapshot's document never changes). Lets a layer above this one
    /// keep what it parses from the document with the snapshot. Kept by type: each kind of
    /// derived value needs a type of its own (two readers of one type would share a value).
    pub fn derived<T: std::any::Any + Send + Sync>(
        &self,
        read: impl FnOnce(&RealmRepresentation) -> T,
    ) -> Arc<T> {
        let key = std::any::TypeId::of::<T>();
        let found = self
            .derived
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(v) = found.and_then(|v| v.downcast::<T>().ok()) {
            return v;
        }
        // Read outside the lock; of two first readers at once, the first to store wins.
        let value = Arc::new(read(&self.rep));
        let kept = self
            .derived
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| value.clone())
            .clone();
        kept.downcast::<T>().unwrap_or(value)
    }

    /// The settings of a client (this realm's own: read when the snapshot was built).
    pub fn client_settings<'a>(
        &'a self,
        client: &crate::representation::ClientRepresentation,
    ) -> std::borrow::Cow<'a, crate::model::ClientSettings> {
        self.index.client_settings(&self.rep, client)
    }

    /// The JOSE algorithms this realm can sign with.
    pub fn signing_algorithms(&self) -> Vec<&str> {
        let mut algs: Vec<&str> = self
            .keys
            .iter()
            .filter(|k| k.key_use == keys::KeyUse::Sig)
            .map(|k| k.alg.as_str())
            .collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }
}

/// Builds the snapshot of a stored realm with its organizations, read from the store after
/// the realm row (an organization written meanwhile bumped the realm's version, so a
/// snapshot never holds organizations older than its version says).
pub async fn load(store: &dyn Store, stored: &StoredRealm) -> Result<RealmSnapshot, StoreError> {
    let orgs = store.organizations(&stored.id).await?;
    RealmSnapshot::build_with(stored, &orgs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn snapshot(rep: serde_json::Value) -> RealmSnapshot {
        RealmSnapshot::build(&StoredRealm {
            id: "r-id".into(),
            name: "r".into(),
            version: 1,
            representation: rep.to_string(),
        })
        .unwrap()
    }

    #[test]
    fn a_derived_value_is_read_once_per_snapshot_and_per_type() {
        let snap = snapshot(serde_json::json!({"realm": "r", "displayName": "R"}));
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let name = |rep: &RealmRepresentation| {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            rep.display_name.clone()
        };
        let first = snap.derived(name);
        let second = snap.derived(name);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.as_deref(), Some("R"));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another type is another value.
        assert_eq!(
            *snap.derived(|rep| rep.realm.clone().unwrap_or_default().len()),
            1
        );
        // Another snapshot reads its own document.
        let other = snapshot(serde_json::json!({"realm": "r", "displayName": "Other"}));
        assert_eq!(other.derived(name).as_deref(), Some("Other"));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
