//! `/admin/realms/{realm}/client-scopes` (CRUD and protocol mappers) and the realm's
//! `default-default-client-scopes` / `default-optional-client-scopes`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::{Caller, Family, Need};
use super::clients::{mapper_add, mapper_delete, mapper_get, mapper_update, mappers_of};
use super::realms::target;
use super::{body, created, edit_realm, new_id, no_content, AdminError, AdminResult};
use crate::representation::{ClientScopeRepresentation, RealmRepresentation};
use crate::AppState;

fn not_found() -> AdminError {
    AdminError::not_found("Could not find client scope")
}

fn scope<'a>(rep: &'a RealmRepresentation, id: &str) -> AdminResult<&'a ClientScopeRepresentation> {
    rep.client_scopes
        .iter()
        .flatten()
        .find(|s| s.id.as_deref() == Some(id))
        .ok_or_else(not_found)
}

fn scope_mut<'a>(
    rep: &'a mut RealmRepresentation,
    id: &str,
) -> AdminResult<&'a mut ClientScopeRepresentation> {
    rep.client_scopes
        .iter_mut()
        .flatten()
        .find(|s| s.id.as_deref() == Some(id))
        .ok_or_else(not_found)
}

/// `GET /client-scopes`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    Ok(Json(
        snap.rep
            .client_scopes
            .iter()
            .flatten()
            .map(super::to_json)
            .collect::<AdminResult<_>>()?,
    ))
}

/// `POST /client-scopes`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let mut s: ClientScopeRepresentation = body(&bytes)?;
    let name = s
        .name
        .clone()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AdminError::bad("Client scope name is missing"))?;
    if name.contains(' ') {
        return Err(AdminError::bad(
            "Unexpected name \"".to_string() + &name + "\" for ClientScope",
        ));
    }
    let id = edit_realm(&state, &snap.name, |rep, _| {
        if rep
            .client_scopes
            .iter()
            .flatten()
            .any(|x| x.name.as_deref() == Some(name.as_str()))
        {
            return Err(AdminError::Conflict(format!(
                "Client Scope {name} already exists"
            )));
        }
        let mut s = s.clone();
        let id = new_id();
        s.id = Some(id.clone());
        s.protocol.get_or_insert_with(|| "openid-connect".into());
        s.extra.entry("attributes").or_insert(json!({}));
        if let Some(list) = s
            .extra
            .get_mut("protocolMappers")
            .and_then(Value::as_array_mut)
        {
            for m in list.iter_mut().filter_map(Value::as_object_mut) {
                m.entry("id").or_insert_with(|| json!(new_id()));
            }
        }
        rep.client_scopes.get_or_insert_with(Vec::new).push(s);
        Ok(id)
    })
    .await?;
    s.id = Some(id.clone());
    Ok(created(&uri, &id))
}

/// `GET /client-scopes/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    Ok(Json(super::to_json(scope(&snap.rep, &id)?)?))
}

/// `PUT /client-scopes/{id}`: fields present replace the stored ones; a rename follows into
/// every list that names the scope.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    let patch: Map<String, Value> = body(&bytes)?;
    edit_realm(&state, &snap.name, |rep, _| {
        let current = scope(rep, &id)?.clone();
        let next = super::merge(&current, &patch, &["id"])?;
        let old = current.name.clone().unwrap_or_default();
        let new = next
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| AdminError::bad("Client scope name is missing"))?;
        if new != old {
            if rep
                .client_scopes
                .iter()
                .flatten()
                .any(|x| x.name.as_deref() == Some(new.as_str()))
            {
                return Err(AdminError::Conflict(format!(
                    "Client Scope {new} already exists"
                )));
            }
            let rename = |l: &mut Option<Vec<String>>| {
                for n in l.iter_mut().flatten() {
                    if *n == old {
                        *n = new.clone();
                    }
                }
            };
            rename(&mut rep.default_default_client_scopes);
            rename(&mut rep.default_optional_client_scopes);
            for c in rep.clients.iter_mut().flatten() {
                rename(&mut c.default_client_scopes);
                rename(&mut c.optional_client_scopes);
            }
            for m in rep.scope_mappings.iter_mut().flatten() {
                if m.client_scope.as_deref() == Some(old.as_str()) {
                    m.client_scope = Some(new.clone());
                }
            }
            for maps in rep
                .client_scope_mappings
                .iter_mut()
                .flat_map(|m| m.values_mut())
            {
                for m in maps {
                    if m.client_scope.as_deref() == Some(old.as_str()) {
                        m.client_scope = Some(new.clone());
                    }
                }
            }
        }
        *scope_mut(rep, &id)? = next;
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /client-scopes/{id}`: refused while a client uses the scope, as in Keycloak.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    edit_realm(&state, &snap.name, |rep, _| {
        let name = scope(rep, &id)?.name.clone().unwrap_or_default();
        let in_use = rep.clients.iter().flatten().any(|c| {
            c.default_client_scopes
                .iter()
                .flatten()
                .chain(c.optional_client_scopes.iter().flatten())
                .any(|n| *n == name)
        });
        if in_use {
            return Err(AdminError::bad(
                "Cannot remove client scope, it is currently in use",
            ));
        }
        for l in [
            &mut rep.default_default_client_scopes,
            &mut rep.default_optional_client_scopes,
        ] {
            if let Some(l) = l.as_mut() {
                l.retain(|n| *n != name);
            }
        }
        if let Some(list) = rep.scope_mappings.as_mut() {
            list.retain(|m| m.client_scope.as_deref() != Some(name.as_str()));
        }
        for maps in rep
            .client_scope_mappings
            .iter_mut()
            .flat_map(|m| m.values_mut())
        {
            maps.retain(|m| m.client_scope.as_deref() != Some(name.as_str()));
        }
        if let Some(list) = rep.client_scopes.as_mut() {
            list.retain(|s| s.id.as_deref() != Some(id.as_str()));
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /client-scopes/{id}/protocol-mappers/models`.
pub async fn mappers(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    Ok(Json(mappers_of(&scope(&snap.rep, &id)?.extra)))
}

/// `POST /client-scopes/{id}/protocol-mappers/models`.
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
        mapper_add(&mut scope_mut(rep, &id)?.extra, m.clone())
    })
    .await?;
    Ok(created(&uri, &mid))
}

/// `GET /client-scopes/{id}/protocol-mappers/models/{mapper}`.
pub async fn get_mapper(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::View(Family::Clients))?;
    Ok(Json(mapper_get(&scope(&snap.rep, &id)?.extra, &mid)?))
}

/// `PUT /client-scopes/{id}/protocol-mappers/models/{mapper}`.
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
        mapper_update(&mut scope_mut(rep, &id)?.extra, &mid, m.clone())
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /client-scopes/{id}/protocol-mappers/models/{mapper}`.
pub async fn delete_mapper(
    State(state): State<AppState>,
    caller: Caller,
    Path((realm, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let snap = target(&state, &caller, &realm)?;
    caller.require(&snap.name, Need::Manage(Family::Clients))?;
    edit_realm(&state, &snap.name, |rep, _| {
        mapper_delete(&mut scope_mut(rep, &id)?.extra, &mid)
    })
    .await?;
    Ok(no_content())
}

async fn realm_list(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    default: bool,
) -> AdminResult<Json<Vec<Value>>> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::View(Family::Realm))?;
    let names = if default {
        &snap.rep.default_default_client_scopes
    } else {
        &snap.rep.default_optional_client_scopes
    };
    Ok(Json(super::clients::scope_refs(
        &snap.rep,
        names.as_deref().unwrap_or_default(),
    )))
}

async fn realm_change(
    state: &AppState,
    caller: &Caller,
    realm: &str,
    id: &str,
    default: bool,
    add: bool,
) -> AdminResult<Response> {
    let snap = target(state, caller, realm)?;
    caller.require(&snap.name, Need::Manage(Family::Realm))?;
    edit_realm(state, &snap.name, |rep, _| {
        let name = scope(rep, id)
            .map_err(|_| AdminError::not_found("Client scope not found"))?
            .name
            .clone()
            .unwrap_or_default();
        let (this, other) = if default {
            (
                &mut rep.default_default_client_scopes,
                &mut rep.default_optional_client_scopes,
            )
        } else {
            (
                &mut rep.default_optional_client_scopes,
                &mut rep.default_default_client_scopes,
            )
        };
        if add {
            if let Some(o) = other.as_mut() {
                o.retain(|n| *n != name);
            }
            let l = this.get_or_insert_with(Vec::new);
            if !l.contains(&name) {
                l.push(name);
            }
        } else if let Some(l) = this.as_mut() {
            l.retain(|n| *n != name);
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /default-default-client-scopes`.
pub async fn realm_defaults(
    State(s): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
) -> AdminResult<Json<Vec<Value>>> {
    realm_list(&s, &caller, &realm, true).await
}
/// `GET /default-optional-client-scopes`.
pub async fn realm_optionals(
    State(s): State<AppState>,
    caller: Caller,
    Path(realm): Path<String>,
) -> AdminResult<Json<Vec<Value>>> {
    realm_list(&s, &caller, &realm, false).await
}
/// `PUT /default-default-client-scopes/{id}`.
pub async fn add_realm_default(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    realm_change(&s, &caller, &realm, &id, true, true).await
}
/// `DELETE /default-default-client-scopes/{id}`.
pub async fn remove_realm_default(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    realm_change(&s, &caller, &realm, &id, true, false).await
}
/// `PUT /default-optional-client-scopes/{id}`.
pub async fn add_realm_optional(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    realm_change(&s, &caller, &realm, &id, false, true).await
}
/// `DELETE /default-optional-client-scopes/{id}`.
pub async fn remove_realm_optional(
    State(s): State<AppState>,
    caller: Caller,
    Path((realm, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    realm_change(&s, &caller, &realm, &id, false, false).await
}
