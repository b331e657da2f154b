//! `/admin/realms/{realm}/components`: the realm's components, chiefly key providers. Adding a
//! generated key provider with a higher priority rotates the signing key; the old key keeps
//! verifying tokens while it is passive (`active: false`) and stops when it is removed.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{ManageRealm, RealmAdmin, ViewRealm};
use super::{created, edit_realm, new_id, no_content, AdminError, AdminResult};
use crate::crypto::keys::{self, Generate, KEY_PROVIDER_TYPE};
use crate::http::paths;
use crate::representation::{ComponentRepresentation, RealmRepresentation};
use crate::AppState;

const SECRET: &str = "**********";
const SECRET_KEYS: &[&str] = &["privateKey", "secret", "keystorePassword", "keyPassword"];

fn not_found() -> AdminError {
    AdminError::not_found("Could not find component")
}

fn component_json(c: &ComponentRepresentation, kind: &str, parent: &str) -> AdminResult<Value> {
    let mut v = super::to_json(c)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("providerType".into(), json!(kind));
        o.entry("parentId").or_insert(json!(parent));
        o.remove("subComponents");
        if let Some(cfg) = o.get_mut("config").and_then(Value::as_object_mut) {
            for k in SECRET_KEYS {
                if cfg.contains_key(*k) {
                    cfg.insert((*k).into(), json!([SECRET]));
                }
            }
        }
    }
    Ok(v)
}

fn all(rep: &RealmRepresentation) -> impl Iterator<Item = (&String, &ComponentRepresentation)> {
    rep.components
        .iter()
        .flatten()
        .flat_map(|(kind, list)| list.iter().map(move |c| (kind, c)))
}

/// Query of `GET /components`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    parent: Option<String>,
    name: Option<String>,
}

/// `GET /components`.
pub async fn list(
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewRealm, ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let realm_id = snap.id.clone();
    let out = all(&snap.rep)
        .filter(|(k, c)| {
            q.kind.as_deref().is_none_or(|t| t == k.as_str())
                && q.name
                    .as_deref()
                    .is_none_or(|n| c.name.as_deref() == Some(n))
                && q.parent
                    .as_deref()
                    .is_none_or(|p| c.parent_id.as_deref().unwrap_or(&realm_id) == p)
        })
        .map(|(k, c)| component_json(c, k, &realm_id))
        .collect::<AdminResult<Vec<_>>>()?;
    Ok(Json(out))
}

/// `GET /components/{id}`.
pub async fn get(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let (k, c) = all(&snap.rep)
        .find(|(_, c)| c.id.as_deref() == Some(id.as_str()))
        .ok_or_else(not_found)?;
    Ok(Json(component_json(c, k, &snap.id)?))
}

/// What a generated key provider generates.
fn generated(provider: &str, algorithm: Option<&str>) -> AdminResult<Option<Generate>> {
    Generate::for_provider(provider, algorithm).map_err(AdminError::bad)
}

/// A component body, read strictly: Jackson refuses a field `ComponentRepresentation` does not
/// have.
fn component_body(bytes: &[u8]) -> AdminResult<ComponentRepresentation> {
    super::representation(bytes, &super::Shape::One(&super::jackson::COMPONENT))
}

/// `POST /components`: a key provider is generated (or, for `rsa`, read from its `privateKey`)
/// and validated before anything is stored.
pub async fn create(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let mut c = component_body(&bytes)?;
    let kind = c
        .extra
        .remove("providerType")
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| AdminError::bad("providerType is missing"))?;
    let provider = c
        .provider_id
        .clone()
        .ok_or_else(|| AdminError::bad("providerId is missing"))?;
    let id = new_id();
    if kind == KEY_PROVIDER_TYPE {
        let cfg = c.config.clone().unwrap_or_default();
        let first = |k: &str| cfg.get(k).and_then(|v| v.first()).cloned();
        if let Some(kind) = generated(&provider, first("algorithm").as_deref())? {
            let k =
                keys::generate(kind, &snap.name, id.clone()).map_err(|e| AdminError::bad(e.0))?;
            let mut config = k.config.into_iter().collect::<indexmap::IndexMap<_, _>>();
            // What the request sets (priority, active, enabled, ...) wins over the defaults.
            for (key, v) in cfg {
                if !SECRET_KEYS.contains(&key.as_str()) && key != "certificate" {
                    config.insert(key, v);
                }
            }
            c.config = Some(config);
        }
    }
    c.id = Some(id.clone());
    c.name.get_or_insert_with(|| provider.clone());
    c.extra.insert("subComponents".into(), json!({}));
    c.parent_id = None;
    edit_realm(&state, &snap.name, |rep, _| {
        rep.components
            .get_or_insert_with(Default::default)
            .entry(kind.clone())
            .or_default()
            .push(c.clone());
        Ok(())
    })
    .await?;
    Ok(created(&uri, &id))
}

/// `PUT /components/{id}`: name and config; secret values sent back masked are kept.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let patch = component_body(&bytes)?;
    edit_realm(&state, &snap.name, |rep, _| {
        let c = rep
            .components
            .iter_mut()
            .flat_map(|m| m.values_mut())
            .flatten()
            .find(|c| c.id.as_deref() == Some(id.as_str()))
            .ok_or_else(not_found)?;
        if let Some(n) = &patch.name {
            c.name = Some(n.clone());
        }
        if let Some(cfg) = &patch.config {
            let current = c.config.get_or_insert_with(Default::default);
            for (k, v) in cfg {
                if v.first().map(String::as_str) == Some(SECRET) {
                    continue;
                }
                current.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /components/{id}`: a removed key no longer verifies anything.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_realm(&state, &snap.name, |rep, _| {
        let mut found = false;
        for list in rep.components.iter_mut().flat_map(|m| m.values_mut()) {
            let before = list.len();
            list.retain(|c| c.id.as_deref() != Some(id.as_str()));
            found |= list.len() != before;
        }
        if !found {
            return Err(not_found());
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_COMPONENTS, routing::get(list).post(create))
        .route(
            paths::ADMIN_COMPONENT,
            routing::get(get).put(update).delete(delete),
        )
}
