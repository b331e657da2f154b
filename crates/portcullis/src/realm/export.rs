//! Realm export in Keycloak's `RealmRepresentation` format: a full backup (`kc.sh export`)
//! with keys, secrets and users with their password hashes.

use serde_json::Value;

use crate::store::Store;

use super::RealmError;

/// Whether and how users are exported (`kc.sh export --users`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersMode {
    /// Users inside the realm file (`realm_file`, `same_file`).
    Include,
    /// No users (`skip`).
    Skip,
}

/// Exports one realm.
pub async fn export(store: &dyn Store, name: &str, users: UsersMode) -> Result<Value, RealmError> {
    // The keys of a realm nothing used yet are generated (and stored) now, so that the
    // export carries the keys the realm goes on using.
    let stored = super::lazy_keys::ensure_stored(store, name)
        .await?
        .ok_or_else(|| RealmError::NotFound(name.to_string()))?;
    let mut realm: Value = serde_json::from_str(&stored.representation).map_err(|e| {
        RealmError::Store(crate::store::StoreError::Corrupt(format!(
            "stored realm '{name}' is not valid JSON: {e}"
        )))
    })?;
    if name == super::MASTER {
        realm = with_admin_clients(store, realm).await?;
    }
    if let Some(obj) = realm.as_object_mut() {
        crate::representation::authentication::strip_for_export(obj);
    }
    let orgs = store.organizations(&stored.id).await?;
    let links = store.identity_provider_links(&stored.id).await?;
    let members = if users == UsersMode::Include && !orgs.is_empty() {
        Some(store.all_members(&stored.id).await?)
    } else {
        None
    };
    super::org_rows::export_into(&mut realm, &orgs, &links, members.as_deref());
    if let Ok(rep) =
        serde_json::from_str::<crate::representation::RealmRepresentation>(&stored.representation)
    {
        super::authz::export_into(store, &stored.id, &rep, &mut realm).await?;
    }
    if users == UsersMode::Include {
        let mut list = Vec::new();
        for row in store.users(&stored.id).await? {
            let user: Value = serde_json::from_str(&row.representation).map_err(|e| {
                RealmError::Store(crate::store::StoreError::Corrupt(format!(
                    "stored user '{}' is not valid JSON: {e}",
                    row.username
                )))
            })?;
            list.push(user);
        }
        if let Some(obj) = realm.as_object_mut() {
            obj.insert("users".into(), Value::Array(list));
        }
    }
    Ok(realm)
}

/// Master's document with the per-realm admin clients it implies, as Keycloak exports them.
async fn with_admin_clients(store: &dyn Store, realm: Value) -> Result<Value, RealmError> {
    let corrupt = |e: serde_json::Error| {
        RealmError::Store(crate::store::StoreError::Corrupt(format!(
            "stored realm 'master': {e}"
        )))
    };
    let mut rep: crate::representation::RealmRepresentation =
        serde_json::from_value(realm).map_err(corrupt)?;
    let realms = store.realm_versions().await?;
    super::admin_clients::augment(
        &mut rep,
        realms.iter().map(|r| super::admin_clients::Administered {
            id: &r.id,
            name: &r.name,
        }),
    );
    serde_json::to_value(&rep).map_err(corrupt)
}
