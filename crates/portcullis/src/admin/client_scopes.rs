//! `/admin/realms/{realm}/client-scopes` (CRUD and protocol mappers) and the realm's
//! `default-default-client-scopes` / `default-optional-client-scopes`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing;
use axum::Json;
use axum::Router;
use serde_json::{json, Map, Value};

use super::auth::{ManageClientScopes, ManageRealm, RealmAdmin, ViewClientScopes, ViewRealm};
use super::view;
use super::{
    created, edit_realm, new_id, no_content, representation, AdminError, AdminResult, Shape,
};
use crate::http::paths;
use crate::realm::edit;
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
    RealmAdmin { snap, .. }: RealmAdmin<ViewClientScopes>,
) -> AdminResult<Json<Vec<Value>>> {
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
    RealmAdmin { snap, .. }: RealmAdmin<ManageClientScopes>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let mut s: ClientScopeRepresentation =
        representation(&bytes, &Shape::One(&super::jackson::CLIENT_SCOPE))?;
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
        s.attributes.get_or_insert_with(Default::default);
        if let Some(list) = s.protocol_mappers.as_mut() {
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
    RealmAdmin { snap, .. }: RealmAdmin<ViewClientScopes>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    Ok(Json(super::to_json(scope(&snap.rep, &id)?)?))
}

/// `PUT /client-scopes/{id}`: fields present replace the stored ones; a rename follows into
/// every list that names the scope.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClientScopes>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let patch: Map<String, Value> =
        representation(&bytes, &Shape::One(&super::jackson::CLIENT_SCOPE))?;
    edit_realm(&state, &snap.name, |rep, _| {
        let current = scope(rep, &id)?.clone();
        let next = edit::merge(&current, &patch, &["id"])?;
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
    RealmAdmin { snap, .. }: RealmAdmin<ManageClientScopes>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
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
    RealmAdmin { snap, .. }: RealmAdmin<ViewClientScopes>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    Ok(Json(edit::mappers_of(
        &scope(&snap.rep, &id)?.protocol_mappers,
    )))
}

/// `POST /client-scopes/{id}/protocol-mappers/models`.
pub async fn add_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClientScopes>,
    uri: Uri,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let m: Value = representation(&bytes, &Shape::One(&super::jackson::PROTOCOL_MAPPER))?;
    let mid = edit_realm(&state, &snap.name, |rep, _| {
        Ok(edit::mapper_add(
            &mut scope_mut(rep, &id)?.protocol_mappers,
            m.clone(),
        )?)
    })
    .await?;
    Ok(created(&uri, &mid))
}

/// `GET /client-scopes/{id}/protocol-mappers/models/{mapper}`.
pub async fn get_mapper(
    RealmAdmin { snap, .. }: RealmAdmin<ViewClientScopes>,
    Path((_, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    Ok(Json(edit::mapper_get(
        &scope(&snap.rep, &id)?.protocol_mappers,
        &mid,
    )?))
}

/// `PUT /client-scopes/{id}/protocol-mappers/models/{mapper}`.
pub async fn update_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClientScopes>,
    Path((_, id, mid)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let m: Value = representation(&bytes, &Shape::One(&super::jackson::PROTOCOL_MAPPER))?;
    edit_realm(&state, &snap.name, |rep, _| {
        Ok(edit::mapper_update(
            &mut scope_mut(rep, &id)?.protocol_mappers,
            &mid,
            m.clone(),
        )?)
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /client-scopes/{id}/protocol-mappers/models/{mapper}`.
pub async fn delete_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClientScopes>,
    Path((_, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    edit_realm(&state, &snap.name, |rep, _| {
        Ok(edit::mapper_delete(
            &mut scope_mut(rep, &id)?.protocol_mappers,
            &mid,
        )?)
    })
    .await?;
    Ok(no_content())
}

/// `GET /default-default-client-scopes` (`DEFAULT`) or `/default-optional-client-scopes`.
pub async fn realm_scopes<const DEFAULT: bool>(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
) -> AdminResult<Json<Vec<Value>>> {
    let names = if DEFAULT {
        &snap.rep.default_default_client_scopes
    } else {
        &snap.rep.default_optional_client_scopes
    };
    Ok(Json(view::scope_refs(
        &snap.rep,
        names.as_deref().unwrap_or_default(),
    )))
}

/// `PUT` (`ADD`) or `DELETE` `/default-default-client-scopes/{id}` (`DEFAULT`) or
/// `/default-optional-client-scopes/{id}`.
pub async fn change_realm_scope<const DEFAULT: bool, const ADD: bool>(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_realm(&state, &snap.name, |rep, _| {
        let name = scope(rep, &id)
            .map_err(|_| AdminError::not_found("Client scope not found"))?
            .name
            .clone()
            .unwrap_or_default();
        let (this, other) = if DEFAULT {
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
        if ADD {
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

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::ADMIN_DEFAULT_DEFAULT_CLIENT_SCOPES,
            routing::get(realm_scopes::<true>),
        )
        .route(
            paths::ADMIN_DEFAULT_DEFAULT_CLIENT_SCOPE,
            routing::put(change_realm_scope::<true, true>)
                .delete(change_realm_scope::<true, false>),
        )
        .route(
            paths::ADMIN_DEFAULT_OPTIONAL_CLIENT_SCOPES,
            routing::get(realm_scopes::<false>),
        )
        .route(
            paths::ADMIN_DEFAULT_OPTIONAL_CLIENT_SCOPE,
            routing::put(change_realm_scope::<false, true>)
                .delete(change_realm_scope::<false, false>),
        )
        .route(paths::ADMIN_CLIENT_SCOPES, routing::get(list).post(create))
        .route(
            paths::ADMIN_CLIENT_SCOPE,
            routing::get(get).put(update).delete(delete),
        )
        .route(
            paths::ADMIN_CLIENT_SCOPE_PROTOCOL_MAPPERS_MODELS,
            routing::get(mappers).post(add_mapper),
        )
        .route(
            paths::ADMIN_CLIENT_SCOPE_PROTOCOL_MAPPERS_MODEL,
            routing::get(get_mapper)
                .put(update_mapper)
                .delete(delete_mapper),
        )
}
