//! Realms: creation with Keycloak's defaults, import, export, and the in-memory snapshots
//! that every request reads.

pub mod admin_clients;
pub mod admin_permissions;
pub mod authz;
pub mod cache;
pub mod client_keys;
pub mod defaults;
pub mod edit;
pub mod export;
pub mod import;
pub mod index;
pub mod lazy_keys;
pub mod org_rows;
pub mod organizations;
pub mod snapshot;
pub mod template;
pub mod validate;

use serde_json::Value;

use crate::policy::blacklist::Blacklists;
use crate::representation::RealmRepresentation;
use crate::store::{Store, StoreError, StoredRealm, Write};

/// Name of the administration realm.
pub const MASTER: &str = "master";

/// Errors of realm operations.
#[derive(Debug, thiserror::Error)]
pub enum RealmError {
    /// The realm file is invalid; the message names the JSON path.
    #[error("{0}")]
    Invalid(#[from] import::ImportError),
    /// Name already taken.
    #[error("Conflict detected. See logs for details")]
    Conflict(String),
    /// No such realm.
    #[error("realm '{0}' not found")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RealmError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique(m) => RealmError::Conflict(m),
            StoreError::VersionConflict => {
                RealmError::Conflict(StoreError::VersionConflict.to_string())
            }
            other => RealmError::Store(other),
        }
    }
}

/// What an import did with one realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// New realm.
    Created,
    /// Existing realm left alone.
    Skipped,
    /// Existing realm replaced.
    Replaced,
}

/// How an existing realm of the same name is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Keep the existing realm (start-up `--import-realm`, `import --override false`).
    Skip,
    /// Replace it (`import --override true`).
    Overwrite,
    /// Fail with a conflict (Admin API create).
    Fail,
}

/// Imports one realm from its JSON: validated, completed with defaults, keys generated,
/// written in one transaction together with the master realm's `<realm>-realm` client.
/// A `passwordPolicy` naming a blacklist file that `blacklists` cannot load is refused, as
/// Keycloak refuses it.
pub async fn import(
    store: &dyn Store,
    blacklists: &Blacklists,
    value: Value,
    if_exists: IfExists,
) -> Result<(String, ImportOutcome), RealmError> {
    import_with(store, blacklists, value, if_exists, |_| Vec::new()).await
}

/// [`import`], with the writes `also` makes for the realm's name in the same transaction (a
/// creator's grant of the new realm's admin roles).
pub async fn import_with(
    store: &dyn Store,
    blacklists: &Blacklists,
    value: Value,
    if_exists: IfExists,
    also: impl FnOnce(&str) -> Vec<Write>,
) -> Result<(String, ImportOutcome), RealmError> {
    let policy = value
        .get("passwordPolicy")
        .and_then(Value::as_str)
        .map(str::to_string);
    let prepared = import::prepare(value)?;
    // Only the blacklist files are checked here: other rules of an imported policy are taken
    // as they come, and checked when a password is set.
    if let Some(Ok(rules)) = policy.as_deref().map(crate::policy::password::parse) {
        crate::policy::password::resolve(rules, blacklists)
            .await
            .map_err(|e| import::ImportError::at("passwordPolicy", e))?;
    }
    let name = prepared.name.clone();
    for w in &prepared.warnings {
        tracing::warn!(realm = %name, "{w}");
    }
    let existing = store.realm_by_name(&name).await?;
    let mut writes = Vec::new();
    let outcome = match (&existing, if_exists) {
        (Some(_), IfExists::Skip) => return Ok((name, ImportOutcome::Skipped)),
        (Some(_), IfExists::Fail) => {
            return Err(RealmError::Conflict(format!("Realm {name} already exists")))
        }
        (Some(old), IfExists::Overwrite) => {
            writes.push(Write::DeleteRealm { id: old.id.clone() });
            ImportOutcome::Replaced
        }
        (None, _) => ImportOutcome::Created,
    };
    writes.push(Write::InsertRealm(StoredRealm {
        id: prepared.id.clone(),
        name: name.clone(),
        version: 1,
        representation: prepared.representation,
    }));
    writes.push(Write::InsertUsers {
        realm_id: prepared.id.clone(),
        users: prepared.users,
    });
    if !prepared.organizations.is_empty() {
        writes.push(Write::InsertOrganizations {
            realm_id: prepared.id.clone(),
            realm_name: name.clone(),
            organizations: prepared.organizations,
        });
    }
    for server in prepared.resource_servers {
        writes.push(Write::PutResourceServer {
            realm_id: prepared.id.clone(),
            server,
        });
    }
    writes.extend(also(&name));
    store.apply(writes).await?;
    Ok((name, outcome))
}

/// Moves the organizations that a realm document of an earlier version holds (`organizations`
/// inside the stored representation) into the store's rows, each realm in one transaction;
/// returns how many realms it changed. Runs at start-up; a store without such realms costs
/// one read of each realm's text.
pub async fn upgrade_organizations(store: &dyn Store) -> Result<usize, RealmError> {
    let mut changed = 0;
    // Only the realms the store noted as embedding organizations: at 10,000 realms neither
    // 10,000 documents held at once nor 10,000 reads.
    for name in store.realms_embedding_organizations().await? {
        let Some(stored) = store.realm_by_name(&name).await? else {
            continue;
        };
        if !stored.representation.contains("\"organizations\"") {
            continue;
        }
        let Ok(mut rep) = serde_json::from_str::<crate::representation::RealmRepresentation>(
            &stored.representation,
        ) else {
            continue;
        };
        if !rep.extra.contains_key("organizations") {
            continue;
        }
        let users = store.users(&stored.id).await?;
        let organizations = import::organizations(&mut rep, &users)?;
        let representation =
            serde_json::to_string(&rep).map_err(|e| import::ImportError::at("$", e.to_string()))?;
        store
            .apply(vec![
                Write::UpdateRealm {
                    id: stored.id.clone(),
                    expected_version: stored.version,
                    representation,
                },
                Write::InsertOrganizations {
                    realm_id: stored.id.clone(),
                    realm_name: stored.name.clone(),
                    organizations,
                },
            ])
            .await?;
        tracing::info!(realm = %stored.name, "moved the realm's organizations into their own rows");
        changed += 1;
    }
    Ok(changed)
}

/// Takes the per-realm admin clients out of a master document stored by an earlier version
/// (they are implied now: [`admin_clients`]); returns how many it took out. Runs at start-up.
pub async fn upgrade_admin_clients(store: &dyn Store) -> Result<usize, RealmError> {
    let Some(stored) = store.realm_by_name(MASTER).await? else {
        return Ok(0);
    };
    let mut rep: RealmRepresentation =
        serde_json::from_str(&stored.representation).map_err(|e| {
            import::ImportError::at("$", format!("stored master realm is invalid: {e}"))
        })?;
    let taken = admin_clients::strip(&mut rep);
    if taken.is_empty() {
        return Ok(0);
    }
    let representation =
        serde_json::to_string(&rep).map_err(|e| import::ImportError::at("$", e.to_string()))?;
    match store
        .apply(vec![Write::UpdateRealm {
            id: stored.id,
            expected_version: stored.version,
            representation,
        }])
        .await
    {
        // Another node starting at the same time changed master first (the same upgrade).
        Err(crate::store::StoreError::VersionConflict) => return Ok(0),
        other => other?,
    }
    tracing::info!(
        count = taken.len(),
        "took the per-realm admin clients out of the master realm's document (they are implied now)"
    );
    Ok(taken.len())
}

/// Creates the master realm with its bootstrap administrator when the store has no realms.
/// Returns whether it did.
pub async fn bootstrap(store: &dyn Store, admin: Option<(&str, &str)>) -> Result<bool, RealmError> {
    if store.realm_by_name(MASTER).await?.is_some() {
        return Ok(false);
    }
    let mut realm = defaults::master_realm_json();
    if let Some((username, password)) = admin {
        defaults::add_bootstrap_admin(&mut realm, username, password)?;
    }
    // The default master realm names no blacklist file.
    import(store, &Blacklists::default(), realm, IfExists::Fail).await?;
    Ok(true)
}

/// The realm's identity providers (`identityProviders` of the representation, kept as the
/// file has them).
pub fn identity_providers(rep: &RealmRepresentation) -> &[Value] {
    rep.extra
        .get("identityProviders")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}
