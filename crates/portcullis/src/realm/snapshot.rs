//! Immutable, indexed realm snapshots held in memory and swapped atomically when a realm
//! changes. Discovery, JWKS and realm info are answered from bytes serialized here once.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::client_keys::ClientKeyCache;
use super::template::UrlTemplate;
use crate::crypto::keys::{self, RealmKey};
use crate::crypto::{b64, jwks};
use crate::model::RealmSettings;
use crate::policy::blacklist::Blacklists;
use crate::representation::{ComponentRepresentation, RealmRepresentation};
use crate::store::{OrganizationRow, Store, StoreError, StoredRealm};

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
        };
        Ok(snap)
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

/// All realm snapshots by name, and the process-wide helpers every snapshot shares.
#[derive(Debug, Default)]
pub struct RealmCache {
    map: ArcSwap<HashMap<String, Arc<RealmSnapshot>>>,
    client_keys: Arc<ClientKeyCache>,
    blacklists: Arc<Blacklists>,
    generating: super::lazy_keys::Generating,
    /// Bumped whenever the set of realms (names and ids) changes: master's admin view
    /// ([`RealmCache::admin_view`]) lists an admin client per realm.
    realm_set: std::sync::atomic::AtomicU64,
    /// Master's admin view, with the realm set's generation it was built for.
    master_view: std::sync::Mutex<Option<(u64, Arc<RealmSnapshot>)>>,
}

impl RealmCache {
    /// An empty cache whose snapshots share these helpers.
    pub fn new(client_keys: ClientKeyCache, blacklists: Blacklists) -> Self {
        RealmCache {
            map: ArcSwap::default(),
            client_keys: Arc::new(client_keys),
            blacklists: Arc::new(blacklists),
            generating: Default::default(),
            realm_set: Default::default(),
            master_view: Default::default(),
        }
    }

    /// The shared password blacklist registry.
    pub fn blacklists(&self) -> &Arc<Blacklists> {
        &self.blacklists
    }

    /// The shared client key cache.
    pub fn client_keys(&self) -> &Arc<ClientKeyCache> {
        &self.client_keys
    }

    fn adopt(&self, mut snap: RealmSnapshot) -> RealmSnapshot {
        snap.client_keys = self.client_keys.clone();
        snap.blacklists = self.blacklists.clone();
        snap
    }

    /// Loads every realm (and its organizations) from the store, replacing the cache.
    pub async fn load_all(&self, store: &dyn Store) -> Result<(), StoreError> {
        let mut map = HashMap::new();
        // Read after the realms: an organization created meanwhile is in the list, and the
        // realm's version it bumped makes the next sync read the realm again anyway.
        let realms = store.realms().await?;
        let mut orgs: HashMap<String, Vec<OrganizationRow>> = HashMap::new();
        for (realm_id, o) in store.all_organizations().await? {
            orgs.entry(realm_id).or_default().push(o);
        }
        for stored in realms {
            let list = orgs.get(&stored.id).map(Vec::as_slice).unwrap_or_default();
            map.insert(
                stored.name.clone(),
                Arc::new(self.adopt(RealmSnapshot::build_with(&stored, list)?)),
            );
        }
        self.map.store(Arc::new(map));
        self.realm_set_changed();
        Ok(())
    }

    fn realm_set_changed(&self) {
        self.realm_set
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Puts (or replaces) one realm's snapshot, unless the cache already holds a newer one.
    pub fn put(&self, snap: RealmSnapshot) {
        let snap = Arc::new(self.adopt(snap));
        let new_in_set = self.get(&snap.name).is_none_or(|old| old.id != snap.id);
        self.map.rcu(|m| {
            let mut m = HashMap::clone(m);
            let newer = m
                .get(&snap.name)
                .is_some_and(|old| old.id == snap.id && old.version > snap.version);
            if !newer {
                m.insert(snap.name.clone(), snap.clone());
            }
            m
        });
        if new_in_set {
            self.realm_set_changed();
        }
    }

    /// Reads one realm (and its organizations) from the store again and puts its snapshot:
    /// after a write that bumped its version without going through [`crate::realm::edit`].
    pub async fn reload(&self, store: &dyn Store, name: &str) -> Result<(), StoreError> {
        if let Some(r) = store.realm_by_name(name).await? {
            self.put(load(store, &r).await?);
        }
        Ok(())
    }

    /// Brings one realm up to date after a change announced by the store: reads it, and
    /// rebuilds its snapshot unless the cached one has its version; a realm no longer stored
    /// is dropped.
    pub async fn refresh(&self, store: &dyn Store, name: &str) -> Result<(), StoreError> {
        match store.realm_by_name(name).await? {
            Some(r) => {
                let current = self
                    .get(name)
                    .is_some_and(|s| s.id == r.id && s.version == r.version);
                if !current {
                    self.put(load(store, &r).await?);
                }
            }
            None => self.remove(name),
        }
        Ok(())
    }

    /// Drops a realm.
    pub fn remove(&self, name: &str) {
        self.map.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.remove(name);
            m
        });
        self.realm_set_changed();
    }

    /// `(id, name)` of every cached realm.
    pub fn ids_and_names(&self) -> Vec<(String, String)> {
        self.map
            .load()
            .values()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect()
    }

    /// The snapshot the Admin API serves realm `snap` from: `snap` itself, but for master,
    /// whose per-realm admin clients are implied ([`super::admin_clients`]), a snapshot of
    /// its document with them listed. Built once per change of master or of the realm set,
    /// and only when master's Admin API is used.
    pub async fn admin_view(
        &self,
        store: &dyn Store,
        snap: Arc<RealmSnapshot>,
    ) -> Result<Arc<RealmSnapshot>, StoreError> {
        if snap.name != super::MASTER {
            return Ok(snap);
        }
        let generation = self.realm_set.load(std::sync::atomic::Ordering::Acquire);
        let cached = |view: &RealmSnapshot| {
            view.id == snap.id && view.version == snap.version && view.keys.len() == snap.keys.len()
        };
        if let Ok(guard) = self.master_view.lock() {
            if let Some((g, view)) = guard.as_ref() {
                if *g == generation && cached(view) {
                    return Ok(view.clone());
                }
            }
        }
        let mut rep = snap.rep.clone();
        let realms = self.ids_and_names();
        super::admin_clients::augment(
            &mut rep,
            realms
                .iter()
                .map(|(id, name)| super::admin_clients::Administered { id, name }),
        );
        let stored = StoredRealm {
            id: snap.id.clone(),
            name: snap.name.clone(),
            version: snap.version,
            representation: serde_json::to_string(&rep)
                .map_err(|e| StoreError::Corrupt(format!("realm 'master': {e}")))?,
        };
        let view = Arc::new(self.adopt(load(store, &stored).await?));
        if let Ok(mut guard) = self.master_view.lock() {
            *guard = Some((generation, view.clone()));
        }
        Ok(view)
    }

    /// Names of the cached realms, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.map.load().keys().cloned().collect();
        v.sort();
        v
    }

    /// Reloads what another node changed: realms whose stored version differs from the
    /// cached one, new realms, and removed ones. Returns how many changed.
    pub async fn sync(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let stored = store.realm_versions().await?;
        let mut changed = 0;
        for crate::store::RealmVersion { name, version } in &stored {
            if self.get(name).is_some_and(|s| s.version == *version) {
                continue;
            }
            if let Some(r) = store.realm_by_name(name).await? {
                self.put(load(store, &r).await?);
                changed += 1;
            }
        }
        for name in self.names() {
            if !stored.iter().any(|r| r.name == name) {
                self.remove(&name);
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Number of realms.
    pub fn len(&self) -> usize {
        self.map.load().len()
    }

    /// Whether no realm is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The snapshot with the realm's keys: `snap` itself unless a key provider of it waits
    /// for its key material, which is then generated and stored ([`super::lazy_keys`]),
    /// once for all the requests of this node that ask at the same time.
    pub async fn with_keys(
        &self,
        store: &dyn Store,
        snap: Arc<RealmSnapshot>,
    ) -> Result<Arc<RealmSnapshot>, StoreError> {
        if !snap.keys_pending {
            return Ok(snap);
        }
        let lock = self.generating.lock_of(&snap.id);
        let done = {
            let _one_at_a_time = lock.lock().await;
            self.keys_of(store, snap).await
        };
        drop(lock);
        self.generating.tidy();
        done
    }

    async fn keys_of(
        &self,
        store: &dyn Store,
        snap: Arc<RealmSnapshot>,
    ) -> Result<Arc<RealmSnapshot>, StoreError> {
        let current = |s: &Arc<RealmSnapshot>| s.id == snap.id && !s.keys_pending;
        if let Some(now) = self.get(&snap.name).filter(current) {
            return Ok(now);
        }
        let Some(stored) = super::lazy_keys::ensure_stored(store, &snap.name).await? else {
            return Ok(snap);
        };
        self.put(load(store, &stored).await?);
        Ok(self.get(&snap.name).filter(current).unwrap_or(snap))
    }

    /// The snapshot of an enabled or disabled realm.
    pub fn get(&self, name: &str) -> Option<Arc<RealmSnapshot>> {
        self.map.load().get(name).cloned()
    }
}
