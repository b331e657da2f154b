//! `/admin/realms/{realm}/clients`: CRUD, secret, service-account user, adapter
//! installation, protocol mappers, client scopes, scope mappings and an example access token.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{Caller, Family, Need};
use super::realms::target;
use super::roles::{resolve, roles_out};
use super::{
    body, created, edit_realm, model, new_id, no_content, now_millis, AdminError, AdminResult,
    Paging,
};
use crate::crypto::random_alphanumeric;
use crate::http::paths;
use crate::realm::index::Role;
use crate::representation::{ClientRepresentation, RealmRepresentation, UserRepresentation};
use crate::store::{UserRow, Write};
use crate::AppState;

fn not_found() -> AdminError {
    AdminError::not_found("Could not find client")
}

/// The client JSON the Admin API answers.
fn client_json(c: &ClientRepresentation) -> AdminResult<Value> {
    let mut v = super::to_json(c)?;
    if let Some(o) = v.as_object_mut() {
        // The client-registration token's hash stays inside.
        o.remove("registrationAccessToken");
        o.insert(
            "access".into(),
            json!({"view": true, "configure": true, "manage": true}),
        );
    }
    Ok(v)
}

/// Whether a client is confidential with a shared secret.
fn uses_secret(c: &ClientRepresentation) -> bool {
    let bearer_only = c.extra.get("bearerOnly").and_then(Value::as_bool) == Some(true);
    let auth = c
        .extra
        .get("clientAuthenticatorType")
        .and_then(Value::as_str)
        .unwrap_or("client-secret");
    c.public_client != Some(true)
        && !bearer_only
        && matches!(auth, "client-secret" | "client-secret-jwt")
}

/// The service-account user Keycloak creates for a client with `serviceAccountsEnabled`.
pub fn new_service_account_user(
    rep: &RealmRepresentation,
    client_id: &str,
) -> AdminResult<UserRow> {
    let default_role = rep
        .default_role
        .as_ref()
        .and_then(|r| r.name.clone())
        .unwrap_or_else(|| {
            format!(
                "default-roles-{}",
                rep.realm.as_deref().unwrap_or_default().to_lowercase()
            )
        });
    let username = format!("service-account-{}", client_id.to_lowercase());
    let mut u = UserRepresentation {
        id: Some(new_id()),
        username: Some(username.clone()),
        enabled: Some(true),
        service_account_client_id: Some(client_id.to_string()),
        realm_roles: Some(vec![default_role]),
        ..Default::default()
    };
    u.extra.insert("emailVerified".into(), json!(false));
    u.extra
        .insert("createdTimestamp".into(), json!(now_millis()));
    u.extra.insert("notBefore".into(), json!(0));
    Ok(UserRow {
        id: u.id.clone().unwrap_or_default(),
        username,
        email: None,
        representation: serde_json::to_string(&u).map_err(|_| AdminError::Internal)?,
    })
}

/// Fills a new client with Keycloak's defaults (fields, secret, scopes) and validates it.
pub fn prepare_new(rep: &RealmRepresentation, mut v: Value) -> AdminResult<ClientRepresentation> {
    let realm = super::to_json(rep)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| AdminError::bad("expected a client object"))?;
    crate::realm::defaults::complete_client(&realm, obj);
    let mut c: ClientRepresentation = serde_path_to_error::deserialize(&v)
        .map_err(|e| AdminError::bad(format!("{}: {}", e.path(), e.inner())))?;
    let client_id = c
        .client_id
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AdminError::bad("Client id is missing"))?;
    if model::client_by_client_id(rep, &client_id).is_some() {
        return Err(AdminError::Conflict(format!(
            "Client {client_id} already exists"
        )));
    }
    if c.id
        .as_deref()
        .is_some_and(|id| model::client(rep, id).is_some())
    {
        return Err(AdminError::Conflict(format!(
            "Client {client_id} already exists"
        )));
    }
    c.id.get_or_insert_with(new_id);
    if uses_secret(&c) && c.secret.is_none() {
        c.secret = Some(random_alphanumeric(32));
    }
    if let Some(list) = c
        .extra
        .get_mut("protocolMappers")
        .and_then(Value::as_array_mut)
    {
        for m in list.iter_mut().filter_map(Value::as_object_mut) {
            m.entry("id").or_insert_with(|| json!(new_id()));
        }
    }
    Ok(c)
}

/// Adds a prepared client (and its service-account user) to the realm edit.
pub fn add_client(
    rep: &mut RealmRepresentation,
    writes: &mut Vec<Write>,
    c: ClientRepresentation,
) -> AdminResult<()> {
    if c.service_accounts_enabled == Some(true) && c.public_client != Some(true) {
        let row = new_service_account_user(rep, c.client_id.as_deref().unwrap_or_default())?;
        writes.push(Write::InsertUsers {
            realm_id: rep.id.clone().unwrap_or_default(),
            users: vec![row],
        });
    }
    rep.clients.get_or_insert_with(Vec::new).push(c);
    Ok(())
}

/// Query of `GET /clients`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    client_id: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    search: Option<bool>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    viewable_only: Option<bool>,
    first: Option<i64>,
    max: Option<i64>,
}

/// `GET /clients`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
    Query(q): Query<ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Query(Family::Clients))?;
    let _ = q.viewable_only;
    let full = caller.can(&snap.name, Need::View(Family::Clients));
    let mut out = Vec::new();
    for c in snap.rep.clients.iter().flatten() {
        let cid = c.client_id.as_deref().unwrap_or_default();
        if let Some(wanted) = &q.client_id {
            let hit = if q.search == Some(true) {
                cid.to_lowercase().contains(&wanted.to_lowercase())
            } else {
                cid == wanted
            };
            if !hit {
                continue;
            }
        }
        if full {
            out.push(client_json(c)?);
        } else {
            out.push(json!({"id": c.id, "clientId": c.client_id}));
        }
    }
    Ok(Json(
        Paging {
            first: q.first,
            max: q.max,
        }
        .apply(out, None),
    ))
}

/// `POST /clients`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::CreateClient)?;
    let v: Value = body(&bytes)?;
    if !v.is_object() {
        return Err(AdminError::bad("expected a client object"));
    }
    let id = edit_realm(&state, &snap.name, |rep, writes| {
        let c = prepare_new(rep, v.clone())?;
        let id = c.id.clone().unwrap_or_default();
        add_client(rep, writes, c)?;
        Ok(id)
    })
    .await?;
    Ok(created(&uri, &id))
}

/// `GET /clients/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    let c = model::client(&snap.rep, &id).ok_or_else(not_found)?;
    Ok(Json(client_json(c)?))
}

/// `PUT /clients/{id}`: fields present replace the stored ones.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let patch: Map<String, Value> = body(&bytes)?;
    let renamed = edit_realm(&state, &snap.name, |rep, writes| {
        update_client(rep, writes, &id, &patch)
    })
    .await;
    let renamed = match renamed {
        // The service-account user already exists (it was kept when the flag was turned off).
        Err(AdminError::Conflict(m)) if m.starts_with("duplicate user") => {
            return update_without_sa(&state, &snap.name, &id, &patch).await;
        }
        other => other?,
    };
    if let Some((old, new)) = renamed {
        rename_client_in_users(&state, &snap.id, &old, &new).await?;
    }
    Ok(no_content())
}

/// Applies a `PUT /clients/{id}` body to a client in a realm edit: fields present replace the
/// stored ones (`RepresentationToModel.updateClient`); a new service account gets its user.
/// Returns `(old, new)` when the `clientId` changed.
pub fn update_client(
    rep: &mut RealmRepresentation,
    writes: &mut Vec<Write>,
    id: &str,
    patch: &Map<String, Value>,
) -> AdminResult<Option<(String, String)>> {
    let current = model::client(rep, id).ok_or_else(not_found)?.clone();
    let mut next = super::merge(
        &current,
        patch,
        &["id", "access", "registrationAccessToken"],
    )?;
    let old_id = current.client_id.clone().unwrap_or_default();
    let new_id_ = next
        .client_id
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AdminError::bad("Client id is missing"))?;
    let mut renamed = None;
    if new_id_ != old_id {
        if model::client_by_client_id(rep, &new_id_).is_some() {
            return Err(AdminError::Conflict(format!(
                "Client {new_id_} already exists"
            )));
        }
        model::rename_client(rep, &old_id, &new_id_);
        renamed = Some((old_id.clone(), new_id_.clone()));
    }
    if uses_secret(&next) && next.secret.is_none() {
        next.secret = Some(random_alphanumeric(32));
    }
    if let Some(list) = next
        .extra
        .get_mut("protocolMappers")
        .and_then(Value::as_array_mut)
    {
        for m in list.iter_mut().filter_map(Value::as_object_mut) {
            m.entry("id").or_insert_with(|| json!(new_id()));
        }
    }
    let wants_sa = next.service_accounts_enabled == Some(true) && next.public_client != Some(true);
    let had_sa =
        current.service_accounts_enabled == Some(true) && current.public_client != Some(true);
    if wants_sa && !had_sa {
        let row = new_service_account_user(rep, &new_id_)?;
        writes.push(Write::InsertUsers {
            realm_id: rep.id.clone().unwrap_or_default(),
            users: vec![row],
        });
    }
    if let Some(slot) = model::client_mut(rep, id) {
        *slot = next;
    }
    Ok(renamed)
}

async fn update_without_sa(
    state: &AppState,
    realm: &str,
    id: &str,
    patch: &Map<String, Value>,
) -> AdminResult<Response> {
    edit_realm(state, realm, |rep, _| {
        let c = model::client_mut(rep, id).ok_or_else(not_found)?;
        *c = super::merge(&*c, patch, &["id", "access", "clientId"])?;
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// Carries a `clientId` rename over to users' client-role mappings.
async fn rename_client_in_users(
    state: &AppState,
    realm_id: &str,
    old: &str,
    new: &str,
) -> AdminResult<()> {
    for mut row in state.store.users(realm_id).await? {
        let mut u: UserRepresentation =
            serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
        let mut changed = false;
        if let Some(m) = u.client_roles.as_mut() {
            if let Some(v) = m.shift_remove(old) {
                m.insert(new.to_string(), v);
                changed = true;
            }
        }
        if u.service_account_client_id.as_deref() == Some(old) {
            u.service_account_client_id = Some(new.to_string());
            changed = true;
        }
        if changed {
            row.representation = serde_json::to_string(&u).map_err(|_| AdminError::Internal)?;
            state.store.update_user(realm_id, &row).await?;
        }
    }
    Ok(())
}

/// The service-account user of a client, if any.
pub async fn sa_user(
    state: &AppState,
    realm_id: &str,
    client_id: &str,
) -> AdminResult<Option<UserRow>> {
    Ok(state
        .store
        .user_by_username(
            realm_id,
            &format!("service-account-{}", client_id.to_lowercase()),
        )
        .await?)
}

/// `DELETE /clients/{id}`: with its roles, references and service-account user.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let client_id = model::client(&snap.rep, &id)
        .ok_or_else(not_found)?
        .client_id
        .clone()
        .unwrap_or_default();
    edit_realm(&state, &snap.name, |rep, _| {
        model::client(rep, &id).ok_or_else(not_found)?;
        model::remove_client(rep, &client_id);
        Ok(())
    })
    .await?;
    if let Some(u) = sa_user(&state, &snap.id, &client_id).await? {
        state.store.delete_user(&snap.id, &u.id).await?;
    }
    Ok(no_content())
}

/// `GET /clients/{id}/client-secret`.
pub async fn secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    let c = model::client(&snap.rep, &id).ok_or_else(not_found)?;
    Ok(Json(json!({"type": "secret", "value": c.secret})))
}

/// `POST /clients/{id}/client-secret`: a new secret; the old one stops working at once.
pub async fn regenerate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let secret = edit_realm(&state, &snap.name, |rep, _| {
        let c = model::client_mut(rep, &id).ok_or_else(not_found)?;
        let s = random_alphanumeric(32);
        c.secret = Some(s.clone());
        Ok(s)
    })
    .await?;
    Ok(Json(json!({"type": "secret", "value": secret})))
}

/// `GET /clients/{id}/service-account-user`.
pub async fn service_account_user_get(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    id: &str,
) -> AdminResult<Value> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let c = model::client(&snap.rep, id).ok_or_else(not_found)?;
    if c.service_accounts_enabled != Some(true) {
        return Err(AdminError::bad(
            "Service account not enabled for the client",
        ));
    }
    let row = sa_user(state, &snap.id, c.client_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(|| AdminError::not_found("Could not find service account user"))?;
    let u: UserRepresentation =
        serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
    Ok(super::users::user_json(&u, false))
}

/// `GET /clients/{id}/service-account-user`.
pub async fn service_account_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    service_account_user_get(&state, &caller, &realm, &id)
        .await
        .map(Json)
}

/// `GET /clients/{id}/installation/providers/keycloak-oidc-keycloak-json`.
pub async fn installation(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    Path((realm, id, provider)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    let c = model::client(&snap.rep, &id).ok_or_else(not_found)?;
    if provider != "keycloak-oidc-keycloak-json" {
        return Err(AdminError::not_found("Unknown Provider"));
    }
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::bad("invalid host"))?;
    Ok(Json(installation_json(&snap, c, &base)))
}

/// The `keycloak-oidc-keycloak-json` adapter configuration of a client (also served by
/// `GET /realms/{realm}/clients-registrations/install/{clientId}`).
pub fn installation_json(
    snap: &crate::realm::snapshot::RealmSnapshot,
    c: &ClientRepresentation,
    base: &str,
) -> Value {
    let mut out = json!({
        "realm": snap.name,
        "auth-server-url": format!("{base}/"),
        "ssl-required": snap.rep.extra.get("sslRequired").and_then(Value::as_str).unwrap_or("external"),
        "resource": c.client_id,
    });
    let bearer_only = c.extra.get("bearerOnly").and_then(Value::as_bool) == Some(true);
    if c.public_client == Some(true) && !bearer_only {
        out["public-client"] = json!(true);
    } else {
        if bearer_only {
            out["bearer-only"] = json!(true);
        }
        if let Some(s) = &c.secret {
            out["credentials"] = json!({"secret": s});
        }
    }
    let has_roles = model::roles(&snap.rep, c.client_id.as_deref())
        .next()
        .is_some();
    if has_roles {
        out["use-resource-role-mappings"] = json!(true);
    }
    out["confidential-port"] = json!(0);
    out
}

// Protocol mappers (shared with client scopes through `mapper_*`).

/// The mappers of a mapper holder's `extra`.
pub fn mappers_of(extra: &Map<String, Value>) -> Vec<Value> {
    extra
        .get("protocolMappers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Adds a mapper to a holder; a name already used is a conflict.
pub fn mapper_add(extra: &mut Map<String, Value>, mut m: Value) -> AdminResult<String> {
    let o = m
        .as_object_mut()
        .ok_or_else(|| AdminError::bad("expected a protocol mapper object"))?;
    if o.get("protocolMapper")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(AdminError::not_found("ProtocolMapper provider not found"));
    }
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AdminError::bad("Protocol mapper name is missing"))?
        .to_string();
    let list = extra.entry("protocolMappers").or_insert_with(|| json!([]));
    let list = list.as_array_mut().ok_or(AdminError::Internal)?;
    if list
        .iter()
        .any(|x| x.get("name").and_then(Value::as_str) == Some(name.as_str()))
    {
        return Err(AdminError::Conflict(
            "Protocol mapper exists with same name".to_string(),
        ));
    }
    let id = new_id();
    o.insert("id".into(), json!(id));
    o.entry("protocol").or_insert(json!("openid-connect"));
    o.entry("consentRequired").or_insert(json!(false));
    o.entry("config").or_insert(json!({}));
    list.push(m);
    Ok(id)
}

/// Replaces a mapper by id.
pub fn mapper_update(extra: &mut Map<String, Value>, id: &str, mut m: Value) -> AdminResult<()> {
    let list = extra
        .get_mut("protocolMappers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| AdminError::not_found("Model not found"))?;
    let slot = list
        .iter_mut()
        .find(|x| x.get("id").and_then(Value::as_str) == Some(id))
        .ok_or_else(|| AdminError::not_found("Model not found"))?;
    let o = m
        .as_object_mut()
        .ok_or_else(|| AdminError::bad("expected a protocol mapper object"))?;
    o.insert("id".into(), json!(id));
    if let Some(old) = slot.as_object() {
        for k in ["name", "protocol", "protocolMapper"] {
            if !o.contains_key(k) {
                if let Some(v) = old.get(k) {
                    o.insert(k.into(), v.clone());
                }
            }
        }
    }
    *slot = m;
    Ok(())
}

/// Removes a mapper by id.
pub fn mapper_delete(extra: &mut Map<String, Value>, id: &str) -> AdminResult<()> {
    let list = extra
        .get_mut("protocolMappers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| AdminError::not_found("Model not found"))?;
    let before = list.len();
    list.retain(|x| x.get("id").and_then(Value::as_str) != Some(id));
    if list.len() == before {
        return Err(AdminError::not_found("Model not found"));
    }
    Ok(())
}

/// A mapper by id.
pub fn mapper_get(extra: &Map<String, Value>, id: &str) -> AdminResult<Value> {
    mappers_of(extra)
        .into_iter()
        .find(|x| x.get("id").and_then(Value::as_str) == Some(id))
        .ok_or_else(|| AdminError::not_found("Model not found"))
}

/// `GET /clients/{id}/protocol-mappers/models`.
pub async fn mappers(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    Ok(Json(mappers_of(
        &model::client(&snap.rep, &id).ok_or_else(not_found)?.extra,
    )))
}

/// `POST /clients/{id}/protocol-mappers/models`.
pub async fn add_mapper(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path((realm, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let m: Value = body(&bytes)?;
    let mid = edit_realm(&state, &snap.name, |rep, _| {
        mapper_add(
            &mut model::client_mut(rep, &id).ok_or_else(not_found)?.extra,
            m.clone(),
        )
    })
    .await?;
    Ok(created(&uri, &mid))
}

/// `POST /clients/{id}/protocol-mappers/add-models`.
pub async fn add_mappers(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let list: Vec<Value> = body(&bytes)?;
    edit_realm(&state, &snap.name, |rep, _| {
        let c = model::client_mut(rep, &id).ok_or_else(not_found)?;
        for m in &list {
            mapper_add(&mut c.extra, m.clone())?;
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /clients/{id}/protocol-mappers/models/{mapper}`.
pub async fn get_mapper(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    Ok(Json(mapper_get(
        &model::client(&snap.rep, &id).ok_or_else(not_found)?.extra,
        &mid,
    )?))
}

/// `PUT /clients/{id}/protocol-mappers/models/{mapper}`.
pub async fn update_mapper(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id, mid)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let m: Value = body(&bytes)?;
    edit_realm(&state, &snap.name, |rep, _| {
        mapper_update(
            &mut model::client_mut(rep, &id).ok_or_else(not_found)?.extra,
            &mid,
            m.clone(),
        )
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /clients/{id}/protocol-mappers/models/{mapper}`.
pub async fn delete_mapper(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    edit_realm(&state, &snap.name, |rep, _| {
        mapper_delete(
            &mut model::client_mut(rep, &id).ok_or_else(not_found)?.extra,
            &mid,
        )
    })
    .await?;
    Ok(no_content())
}

// Client scopes of a client.

/// Client scope names as Keycloak lists them: `{id, name}` of each scope that exists.
pub(super) fn scope_refs(rep: &RealmRepresentation, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|n| {
            rep.client_scopes
                .iter()
                .flatten()
                .find(|s| s.name.as_deref() == Some(n.as_str()))
        })
        .map(|s| json!({"id": s.id, "name": s.name}))
        .collect()
}

async fn list_scopes(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    id: &str,
    default: bool,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    let c = model::client(&snap.rep, id).ok_or_else(not_found)?;
    let names = if default {
        &c.default_client_scopes
    } else {
        &c.optional_client_scopes
    };
    Ok(Json(scope_refs(
        &snap.rep,
        names.as_deref().unwrap_or_default(),
    )))
}

async fn change_scope(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    id: &str,
    scope_id: &str,
    default: bool,
    add: bool,
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    edit_realm(state, &snap.name, |rep, _| {
        let name = rep
            .client_scopes
            .iter()
            .flatten()
            .find(|s| s.id.as_deref() == Some(scope_id))
            .and_then(|s| s.name.clone())
            .ok_or_else(|| AdminError::not_found("Client scope not found"))?;
        let c = model::client_mut(rep, id).ok_or_else(not_found)?;
        let (this, other) = if default {
            (&mut c.default_client_scopes, &mut c.optional_client_scopes)
        } else {
            (&mut c.optional_client_scopes, &mut c.default_client_scopes)
        };
        if add {
            if other.as_ref().is_some_and(|l| l.contains(&name)) {
                return Err(AdminError::Conflict(format!(
                    "Client scope {name} is already linked to the client"
                )));
            }
            let list = this.get_or_insert_with(Vec::new);
            if !list.contains(&name) {
                list.push(name);
            }
        } else if let Some(list) = this.as_mut() {
            list.retain(|n| *n != name);
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /clients/{id}/default-client-scopes`.
pub async fn default_scopes(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    list_scopes(&s, &caller, &realm, &id, true).await
}
/// `GET /clients/{id}/optional-client-scopes`.
pub async fn optional_scopes(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    list_scopes(&s, &caller, &realm, &id, false).await
}
/// `PUT /clients/{id}/default-client-scopes/{scope}`.
pub async fn add_default_scope(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, scope)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    change_scope(&s, &caller, &realm, &id, &scope, true, true).await
}
/// `DELETE /clients/{id}/default-client-scopes/{scope}`.
pub async fn remove_default_scope(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, scope)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    change_scope(&s, &caller, &realm, &id, &scope, true, false).await
}
/// `PUT /clients/{id}/optional-client-scopes/{scope}`.
pub async fn add_optional_scope(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, scope)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    change_scope(&s, &caller, &realm, &id, &scope, false, true).await
}
/// `DELETE /clients/{id}/optional-client-scopes/{scope}`.
pub async fn remove_optional_scope(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, scope)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    change_scope(&s, &caller, &realm, &id, &scope, false, false).await
}

// Scope mappings of a client: roles allowed into its tokens when `fullScopeAllowed` is off.

fn client_scope_roles(rep: &RealmRepresentation, client_id: &str) -> Vec<Role> {
    let mut out = Vec::new();
    for m in rep.scope_mappings.iter().flatten() {
        if m.client.as_deref() == Some(client_id) {
            out.extend(m.roles.iter().flatten().map(|n| Role::Realm(n.clone())));
        }
    }
    for (owner, maps) in rep.client_scope_mappings.iter().flatten() {
        for m in maps {
            if m.client.as_deref() == Some(client_id) {
                out.extend(
                    m.roles
                        .iter()
                        .flatten()
                        .map(|n| Role::Client(owner.clone(), n.clone())),
                );
            }
        }
    }
    out
}

/// `{"realmMappings": [...], "clientMappings": {...}}` of a set of roles.
pub fn mappings_json(rep: &RealmRepresentation, roles: &[Role]) -> Value {
    let realm: Vec<Role> = roles
        .iter()
        .filter(|r| matches!(r, Role::Realm(_)))
        .cloned()
        .collect();
    let mut clients = Map::new();
    for r in roles {
        if let Role::Client(c, _) = r {
            if clients.contains_key(c) {
                continue;
            }
            let of_client: Vec<Role> = roles
                .iter()
                .filter(|x| matches!(x, Role::Client(o, _) if o == c))
                .cloned()
                .collect();
            let uuid = model::client_by_client_id(rep, c).and_then(|x| x.id.clone());
            clients.insert(
                c.clone(),
                json!({"id": uuid, "client": c, "mappings": roles_out(rep, &of_client)}),
            );
        }
    }
    let mut out = Map::new();
    if !realm.is_empty() {
        out.insert("realmMappings".into(), json!(roles_out(rep, &realm)));
    }
    if !clients.is_empty() {
        out.insert("clientMappings".into(), Value::Object(clients));
    }
    Value::Object(out)
}

/// `GET /clients/{id}/scope-mappings`.
pub async fn scope_mappings(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    let c = model::client(&snap.rep, &id).ok_or_else(not_found)?;
    let roles = client_scope_roles(&snap.rep, c.client_id.as_deref().unwrap_or_default());
    Ok(Json(mappings_json(&snap.rep, &roles)))
}

/// `GET /clients/{id}/scope-mappings/realm`.
pub async fn realm_scope_mappings(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    let c = model::client(&snap.rep, &id).ok_or_else(not_found)?;
    let roles: Vec<Role> =
        client_scope_roles(&snap.rep, c.client_id.as_deref().unwrap_or_default())
            .into_iter()
            .filter(|r| matches!(r, Role::Realm(_)))
            .collect();
    Ok(Json(roles_out(&snap.rep, &roles)))
}

/// `GET /clients/{id}/scope-mappings/clients/{owner}`.
pub async fn client_scope_mappings(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id, owner)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    let c = model::client(&snap.rep, &id).ok_or_else(not_found)?;
    let o = model::client(&snap.rep, &owner)
        .ok_or_else(not_found)?
        .client_id
        .clone()
        .unwrap_or_default();
    let roles: Vec<Role> =
        client_scope_roles(&snap.rep, c.client_id.as_deref().unwrap_or_default())
            .into_iter()
            .filter(|r| matches!(r, Role::Client(x, _) if *x == o))
            .collect();
    Ok(Json(roles_out(&snap.rep, &roles)))
}

async fn change_scope_mappings(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    id: &str,
    owner: Option<&str>,
    bytes: &[u8],
    add: bool,
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let list: Vec<Value> = body(bytes)?;
    edit_realm(state, &snap.name, |rep, _| {
        let cid = model::client(rep, id)
            .ok_or_else(not_found)?
            .client_id
            .clone()
            .unwrap_or_default();
        let owner_cid = match owner {
            Some(o) => Some(
                model::client(rep, o)
                    .ok_or_else(not_found)?
                    .client_id
                    .clone()
                    .unwrap_or_default(),
            ),
            None => None,
        };
        for v in &list {
            let role = resolve(rep, v)?;
            let (target_list, name) = match (&role, &owner_cid) {
                (Role::Realm(n), None) => {
                    let maps = rep.scope_mappings.get_or_insert_with(Vec::new);
                    let pos = match maps
                        .iter()
                        .position(|m| m.client.as_deref() == Some(cid.as_str()))
                    {
                        Some(p) => p,
                        None => {
                            maps.push(crate::representation::ScopeMappingRepresentation {
                                client: Some(cid.clone()),
                                ..Default::default()
                            });
                            maps.len() - 1
                        }
                    };
                    (maps[pos].roles.get_or_insert_with(Vec::new), n.clone())
                }
                (Role::Client(c, n), Some(o)) if c == o => {
                    let maps = rep
                        .client_scope_mappings
                        .get_or_insert_with(Default::default)
                        .entry(o.clone())
                        .or_default();
                    let pos = match maps
                        .iter()
                        .position(|m| m.client.as_deref() == Some(cid.as_str()))
                    {
                        Some(p) => p,
                        None => {
                            maps.push(crate::representation::ScopeMappingRepresentation {
                                client: Some(cid.clone()),
                                ..Default::default()
                            });
                            maps.len() - 1
                        }
                    };
                    (maps[pos].roles.get_or_insert_with(Vec::new), n.clone())
                }
                _ => return Err(AdminError::not_found("Could not find role")),
            };
            if add {
                if !target_list.contains(&name) {
                    target_list.push(name);
                }
            } else {
                target_list.retain(|x| *x != name);
            }
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `POST /clients/{id}/scope-mappings/realm`.
pub async fn add_realm_scope_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_scope_mappings(&s, &caller, &realm, &id, None, &b, true).await
}
/// `DELETE /clients/{id}/scope-mappings/realm`.
pub async fn remove_realm_scope_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_scope_mappings(&s, &caller, &realm, &id, None, &b, false).await
}
/// `POST /clients/{id}/scope-mappings/clients/{owner}`.
pub async fn add_client_scope_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, owner)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_scope_mappings(&s, &caller, &realm, &id, Some(&owner), &b, true).await
}
/// `DELETE /clients/{id}/scope-mappings/clients/{owner}`.
pub async fn remove_client_scope_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id, owner)): Path<(String, String, String)>,
    b: Bytes,
) -> AdminResult<Response> {
    change_scope_mappings(&s, &caller, &realm, &id, Some(&owner), &b, false).await
}

/// Query of `evaluate-scopes/generate-example-access-token`.
#[derive(Debug, Deserialize)]
pub struct ExampleQuery {
    scope: Option<String>,
    #[serde(rename = "userId")]
    user_id: Option<String>,
}

/// `GET /clients/{id}/evaluate-scopes/generate-example-access-token`: the claims of the access
/// token this client would get for the user with these scopes (nothing is signed or stored).
pub async fn example_access_token(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<ExampleQuery>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    caller.require(&snap.name, Need::View(Family::Users))?;
    let client = model::client(&snap.rep, &id).ok_or_else(not_found)?;
    let user_id = q
        .user_id
        .ok_or_else(|| AdminError::bad("No userId provided"))?;
    let row = state
        .store
        .user_by_id(&snap.id, &user_id)
        .await?
        .ok_or_else(|| AdminError::not_found("No user found"))?;
    let user: UserRepresentation =
        serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
    let (scopes, openid) = crate::oidc::issue::resolve_scopes(&snap, client, q.scope.as_deref())
        .map_err(|e| AdminError::bad(e.description))?;
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::bad("invalid host"))?;
    let issuer = paths::url(&base, paths::REALM, &snap.name);
    let notes = Map::new();
    let req = crate::oidc::issue::TokenRequest {
        snap: &snap,
        issuer: &issuer,
        client,
        user_id: &row.id,
        user: &user,
        sid: None,
        notes: &notes,
        scopes: &scopes,
        openid,
        nonce: None,
        now: crate::clock::now(),
    };
    let issued = crate::oidc::issue::issue(&req).map_err(|_| AdminError::Internal)?;
    let claims = crate::crypto::jws::parse(&issued.access_token)
        .map_err(|_| AdminError::Internal)?
        .claims;
    Ok(Json(Value::Object(claims)))
}
