//! The realms a node serves, by name: a directory of every realm (id and stored version,
//! small) and a bounded set of built snapshots, the realms in use. A realm outside that set is
//! read from the store and built on first use; the least recently used snapshots are dropped
//! (`realm-cache-size`), so memory follows the realms in use, not the realms that exist, and
//! start-up reads the directory only.
//!
//! Every insertion goes through one lock and keeps the newest version: a snapshot built from
//! an older read never replaces a newer one, and a realm removed meanwhile is not brought back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::client_keys::ClientKeyCache;
use super::snapshot::{load, RealmSnapshot};
use crate::model::RealmSettings;
use crate::policy::blacklist::Blacklists;
use crate::store::{Store, StoreError, StoredRealm};

/// What the realm list and the background sweeps read of a realm without building it.
#[derive(Debug)]
pub struct Facts {
    /// The realm's id.
    pub id: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Its settings (session and event lifetimes, ...).
    pub settings: RealmSettings,
}

impl Facts {
    fn of(snap: &RealmSnapshot) -> Arc<Facts> {
        Arc::new(Facts {
            id: snap.id.clone(),
            enabled: snap.enabled,
            settings: snap.settings.clone(),
        })
    }

    /// Read from the stored document alone, without building a snapshot (no keys, index or
    /// flows): what a sweep over every realm can afford.
    fn read(stored: &StoredRealm) -> Result<Arc<Facts>, StoreError> {
        let rep: crate::representation::RealmRepresentation =
            serde_json::from_str(&stored.representation)
                .map_err(|e| StoreError::Corrupt(format!("realm '{}': {e}", stored.name)))?;
        Ok(Arc::new(Facts {
            id: stored.id.clone(),
            enabled: rep.enabled.unwrap_or(true),
            settings: RealmSettings::of(&rep),
        }))
    }
}

/// One realm of the directory.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    version: i64,
    /// The facts of this version, once a snapshot of it was built.
    facts: Option<Arc<Facts>>,
}

/// The realms by name, and the process-wide helpers every snapshot shares.
#[derive(Debug)]
pub struct RealmCache {
    dir: RwLock<HashMap<String, Entry>>,
    hot: moka::sync::Cache<String, Arc<RealmSnapshot>>,
    /// Held while `dir` and `hot` are changed together.
    writes: Mutex<()>,
    client_keys: Arc<ClientKeyCache>,
    blacklists: Arc<Blacklists>,
    generating: super::lazy_keys::Generating,
    /// Bumped whenever the set of realms (names and ids) changes: master's admin view
    /// ([`RealmCache::admin_view`]) lists an admin client per realm.
    realm_set: AtomicU64,
    /// Master's admin view, with the realm set's generation it was built for.
    master_view: Mutex<Option<(u64, Arc<RealmSnapshot>)>>,
}

impl RealmCache {
    /// An empty cache keeping at most `capacity` snapshots built, whose snapshots share these
    /// helpers.
    pub fn new(client_keys: ClientKeyCache, blacklists: Blacklists, capacity: usize) -> Self {
        RealmCache {
            dir: RwLock::default(),
            hot: moka::sync::Cache::builder()
                .max_capacity(capacity.max(1) as u64)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            writes: Mutex::default(),
            client_keys: Arc::new(client_keys),
            blacklists: Arc::new(blacklists),
            generating: Default::default(),
            realm_set: AtomicU64::default(),
            master_view: Mutex::default(),
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

    fn read_dir(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.dir.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_dir(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.dir.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn realm_set_changed(&self) {
        self.realm_set.fetch_add(1, Ordering::AcqRel);
    }

    /// Reads the directory of every stored realm, dropping every built snapshot (start-up,
    /// `clear-realm-cache`). No realm is built here.
    pub async fn load_all(&self, store: &dyn Store) -> Result<(), StoreError> {
        let stored = store.realm_versions().await?;
        let _w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        *self.write_dir() = stored
            .into_iter()
            .map(|r| {
                let entry = Entry {
                    id: r.id,
                    version: r.version,
                    facts: None,
                };
                (r.name, entry)
            })
            .collect();
        self.hot.invalidate_all();
        self.realm_set_changed();
        Ok(())
    }

    /// The snapshot of realm `name`, enabled or not: the built one, else read from the store
    /// and built (and kept, unless a newer version arrived meanwhile). `None` for a realm the
    /// directory does not know, without reading the store.
    pub async fn get(
        &self,
        store: &dyn Store,
        name: &str,
    ) -> Result<Option<Arc<RealmSnapshot>>, StoreError> {
        if let Some(snap) = self.hot.get(name) {
            return Ok(Some(snap));
        }
        if !self.read_dir().contains_key(name) {
            return Ok(None);
        }
        let Some(stored) = store.realm_by_name(name).await? else {
            return Ok(None);
        };
        let snap = Arc::new(self.adopt(load(store, &stored).await?));
        Ok(self.keep(snap))
    }

    /// Keeps a snapshot read on first use, unless the directory has a newer version or no
    /// longer has the realm (removed meanwhile: `None`).
    fn keep(&self, snap: Arc<RealmSnapshot>) -> Option<Arc<RealmSnapshot>> {
        let _w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut dir = self.write_dir();
        let entry = dir.get_mut(&snap.name).filter(|e| e.id == snap.id)?;
        if entry.version > snap.version {
            // Served as read; the newer version is built by whoever asks next.
            return Some(snap);
        }
        if let Some(now) = self.hot.get(&snap.name) {
            if now.id == snap.id && now.version >= snap.version {
                return Some(now);
            }
        }
        entry.version = snap.version;
        entry.facts = Some(Facts::of(&snap));
        self.hot.insert(snap.name.clone(), snap.clone());
        Some(snap)
    }

    /// The snapshot of realm `name` for a look that must not change what is kept (a list of
    /// every realm): the built one, else read and built without keeping it.
    pub async fn read(
        &self,
        store: &dyn Store,
        name: &str,
    ) -> Result<Option<Arc<RealmSnapshot>>, StoreError> {
        if let Some(snap) = self.hot.get(name) {
            return Ok(Some(snap));
        }
        if !self.contains(name) {
            return Ok(None);
        }
        let Some(stored) = store.realm_by_name(name).await? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(self.adopt(load(store, &stored).await?))))
    }

    /// The built snapshot of realm `name`, if it is in use (for what only wants it when it is
    /// at hand).
    pub fn built(&self, name: &str) -> Option<Arc<RealmSnapshot>> {
        self.hot.get(name)
    }

    /// Puts (or replaces) one realm's snapshot, read from the store after a change, unless
    /// the cache already holds a newer version of it.
    pub fn put(&self, snap: RealmSnapshot) {
        self.put_built(Arc::new(self.adopt(snap)));
    }

    fn put_built(&self, snap: Arc<RealmSnapshot>) {
        let new_in_set = {
            let _w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
            let mut dir = self.write_dir();
            let old = dir.get(&snap.name);
            let new_in_set = old.is_none_or(|e| e.id != snap.id);
            let newer = old.is_some_and(|e| e.id == snap.id && e.version > snap.version);
            if !newer {
                dir.insert(
                    snap.name.clone(),
                    Entry {
                        id: snap.id.clone(),
                        version: snap.version,
                        facts: Some(Facts::of(&snap)),
                    },
                );
                self.hot.insert(snap.name.clone(), snap.clone());
            }
            new_in_set
        };
        if new_in_set {
            self.realm_set_changed();
        }
    }

    /// Notes a realm's stored version without building it: its snapshot, if built, is
    /// dropped and built again on next use.
    fn note(&self, stored: &crate::store::RealmVersion) {
        let new_in_set = {
            let _w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
            let mut dir = self.write_dir();
            let old = dir.get(&stored.name);
            let new_in_set = old.is_none_or(|e| e.id != stored.id);
            if old.is_some_and(|e| e.id == stored.id && e.version >= stored.version) {
                return;
            }
            dir.insert(
                stored.name.clone(),
                Entry {
                    id: stored.id.clone(),
                    version: stored.version,
                    facts: None,
                },
            );
            self.hot.invalidate(&stored.name);
            new_in_set
        };
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

    /// Brings one realm up to date after a change announced by the store: a realm no longer
    /// stored is dropped; a changed one is rebuilt if it is in use, else only noted.
    pub async fn refresh(&self, store: &dyn Store, name: &str) -> Result<(), StoreError> {
        match store.realm_by_name(name).await? {
            Some(r) => self.update(store, r).await,
            None => {
                self.remove(name);
                Ok(())
            }
        }
    }

    async fn update(&self, store: &dyn Store, r: StoredRealm) -> Result<(), StoreError> {
        let current = self
            .read_dir()
            .get(&r.name)
            .is_some_and(|e| e.id == r.id && e.version == r.version);
        if current {
            return Ok(());
        }
        if self.hot.contains_key(&r.name) {
            self.put(load(store, &r).await?);
        } else {
            self.note(&crate::store::RealmVersion {
                id: r.id,
                name: r.name,
                version: r.version,
            });
        }
        Ok(())
    }

    /// Drops a realm.
    pub fn remove(&self, name: &str) {
        {
            let _w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
            self.write_dir().remove(name);
            self.hot.invalidate(name);
        }
        self.realm_set_changed();
    }

    /// Whether realm `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.read_dir().contains_key(name)
    }

    /// `(id, name)` of every realm.
    pub fn ids_and_names(&self) -> Vec<(String, String)> {
        self.read_dir()
            .iter()
            .map(|(name, e)| (e.id.clone(), name.clone()))
            .collect()
    }

    /// Names of the realms, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.read_dir().keys().cloned().collect();
        v.sort();
        v
    }

    /// Number of realms.
    pub fn len(&self) -> usize {
        self.read_dir().len()
    }

    /// Whether there is no realm.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of snapshots built and kept.
    pub fn built_count(&self) -> u64 {
        self.hot.run_pending_tasks();
        self.hot.entry_count()
    }

    /// The facts of realm `name` as last known, without reading the store.
    pub fn known_facts(&self, name: &str) -> Option<Arc<Facts>> {
        // A built snapshot's facts were noted with it (`keep`, `put`).
        if let Some(f) = self.read_dir().get(name).and_then(|e| e.facts.clone()) {
            return Some(f);
        }
        self.hot.get(name).map(|snap| Facts::of(&snap))
    }

    /// The facts of realm `name`: known ones, else read from the store and built once
    /// (without keeping the snapshot: a sweep over every realm must not push the realms in
    /// use out). `None` for a realm that does not exist.
    pub async fn facts(
        &self,
        store: &dyn Store,
        name: &str,
    ) -> Result<Option<Arc<Facts>>, StoreError> {
        if let Some(f) = self.known_facts(name) {
            return Ok(Some(f));
        }
        if !self.contains(name) {
            return Ok(None);
        }
        let Some(stored) = store.realm_by_name(name).await? else {
            return Ok(None);
        };
        let facts = Facts::read(&stored)?;
        let _w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = self
            .write_dir()
            .get_mut(name)
            .filter(|e| e.id == stored.id && e.version == stored.version)
        {
            e.facts = Some(facts.clone());
        }
        Ok(Some(facts))
    }

    /// Reloads what another node changed: realms whose stored version differs from the
    /// directory's, new realms, and removed ones. Returns how many changed.
    pub async fn sync(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let stored = store.realm_versions().await?;
        let mut changed = 0;
        for r in &stored {
            let current = self
                .read_dir()
                .get(&r.name)
                .is_some_and(|e| e.id == r.id && e.version == r.version);
            if current {
                continue;
            }
            if self.hot.contains_key(&r.name) {
                if let Some(full) = store.realm_by_name(&r.name).await? {
                    self.put(load(store, &full).await?);
                }
            } else {
                self.note(r);
            }
            changed += 1;
        }
        for name in self.names() {
            if !stored.iter().any(|r| r.name == name) {
                self.remove(&name);
                changed += 1;
            }
        }
        Ok(changed)
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
        let generation = self.realm_set.load(Ordering::Acquire);
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
        if let Some(now) = self.built(&snap.name).filter(current) {
            return Ok(now);
        }
        let Some(stored) = super::lazy_keys::ensure_stored(store, &snap.name).await? else {
            return Ok(snap);
        };
        let built = Arc::new(self.adopt(load(store, &stored).await?));
        self.put_built(built.clone());
        Ok(if current(&built) { built } else { snap })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::realm::client_keys::{ClientKeyCache, KeyCacheSettings};
    use crate::store::{RealmStore, SqliteStore};

    async fn setup(capacity: usize) -> (tempfile::TempDir, SqliteStore, RealmCache) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        crate::realm::bootstrap(&store, None).await.unwrap();
        let cache = RealmCache::new(
            ClientKeyCache::new(KeyCacheSettings::default()),
            Blacklists::new(dir.path().into()),
            capacity,
        );
        cache.load_all(&store).await.unwrap();
        (dir, store, cache)
    }

    async fn built_at(store: &SqliteStore, version_offset: i64) -> Arc<RealmSnapshot> {
        let mut stored = store.realm_by_name("master").await.unwrap().unwrap();
        stored.version += version_offset;
        Arc::new(load(store, &stored).await.unwrap())
    }

    #[tokio::test]
    async fn start_up_builds_nothing_and_first_use_builds_and_keeps() {
        let (_d, store, cache) = setup(4).await;
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.built_count(), 0);
        assert!(cache.get(&store, "nope").await.unwrap().is_none());
        let snap = cache.get(&store, "master").await.unwrap().unwrap();
        assert_eq!(snap.name, "master");
        assert_eq!(cache.built_count(), 1);
        assert!(cache.known_facts("master").is_some_and(|f| f.id == snap.id));
    }

    #[tokio::test]
    async fn a_late_build_neither_revives_a_removed_realm_nor_replaces_a_newer_one() {
        let (_d, store, cache) = setup(4).await;
        // Read before a newer version was put: served, but the newer one stays.
        let older = built_at(&store, 0).await;
        cache.put(Arc::try_unwrap(built_at(&store, 1).await).unwrap());
        let served = cache.keep(older.clone()).unwrap();
        assert_eq!(served.version, older.version);
        assert_eq!(cache.built("master").unwrap().version, older.version + 1);
        // Read before the realm was removed: not kept, not served.
        let late = built_at(&store, 5).await;
        cache.remove("master");
        assert!(cache.keep(late).is_none());
        assert!(cache.built("master").is_none());
        assert!(!cache.contains("master"));
    }

    #[tokio::test]
    async fn a_change_noted_from_another_node_drops_the_built_snapshot() {
        let (_d, store, cache) = setup(4).await;
        let snap = cache.get(&store, "master").await.unwrap().unwrap();
        cache.note(&crate::store::RealmVersion {
            id: snap.id.clone(),
            name: "master".into(),
            version: snap.version + 1,
        });
        assert!(cache.built("master").is_none());
        assert!(cache.known_facts("master").is_none());
        // An older notice changes nothing.
        cache.note(&crate::store::RealmVersion {
            id: snap.id.clone(),
            name: "master".into(),
            version: snap.version,
        });
        assert_eq!(cache.read_dir()["master"].version, snap.version + 1);
    }
}
