//! `/realms/{realm}/authz/protection/permission/ticket`: stored UMA permission tickets
//! (Keycloak's `PermissionTicketService`, `ModelToRepresentation.toRepresentation(ticket)`,
//! `RepresentationToModel.toModel(PermissionTicketRepresentation)`), with a token of the
//! resource server's client (the Protection API's caller):
//! - `GET` lists with the filters `scopeId`, `resourceId`, `owner`, `requester`, `granted`,
//!   `returnNames`, `first`, `max`;
//! - `POST` creates one for a resource the caller owns (200 with the ticket);
//! - `PUT` grants (`granted: true`) or, with `granted: false`, deletes it (204), by its owner
//!   or the resource server;
//! - `DELETE .../{id}` by the owner, the requester or the resource server (204).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::authz as admin_authz;
use super::protection::{caller, denied, Caller};
use super::{no_content, AdminError, AdminResult};
use crate::realm::authz::{owner_id, Server};
use crate::store::{PermissionTicketRow, StoreError, TicketFilter};
use crate::AppState;

/// Query of `GET .../permission/ticket`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketQuery {
    scope_id: Option<String>,
    resource_id: Option<String>,
    owner: Option<String>,
    requester: Option<String>,
    granted: Option<String>,
    return_names: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
}

/// `getUserId`: a user's id from an id or a username; the text itself when neither.
async fn user_id(state: &AppState, realm_id: &str, s: &str) -> AdminResult<String> {
    if let Some(u) = state.store.user_by_id(realm_id, s).await? {
        return Ok(u.id);
    }
    Ok(match state.store.user_by_username(realm_id, s).await? {
        Some(u) => u.id,
        None => s.to_string(),
    })
}

/// A username by user id, else the client's `clientId` when the id is the resource
/// server's (a server-owned resource).
async fn name_of(state: &AppState, c: &Caller, id: &str) -> AdminResult<Option<String>> {
    if id == c.client_uuid {
        return Ok(Some(c.client_id.clone()));
    }
    Ok(state
        .store
        .user_by_id(&c.snap.id, id)
        .await?
        .map(|u| u.username))
}

/// `PermissionTicketRepresentation` (null fields left out, as Keycloak's mapper does).
async fn ticket_json(
    state: &AppState,
    c: &Caller,
    server: &Server,
    t: &PermissionTicketRow,
    names: bool,
) -> AdminResult<Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(t.id));
    o.insert("owner".into(), json!(t.owner));
    o.insert("resource".into(), json!(t.resource_id));
    if let Some(s) = &t.scope_id {
        o.insert("scope".into(), json!(s));
    }
    o.insert("granted".into(), json!(t.granted_timestamp.is_some()));
    if names {
        if let Some(n) = t
            .scope_id
            .as_deref()
            .and_then(|s| server.scope(s))
            .and_then(|s| s.name.clone())
        {
            o.insert("scopeName".into(), json!(n));
        }
        if let Some(n) = server.resource(&t.resource_id).and_then(|r| r.name.clone()) {
            o.insert("resourceName".into(), json!(n));
        }
    }
    o.insert("requester".into(), json!(t.requester));
    if names {
        if let Some(n) = name_of(state, c, &t.requester).await? {
            o.insert("requesterName".into(), json!(n));
        }
        if let Some(n) = name_of(state, c, &t.owner).await? {
            o.insert("ownerName".into(), json!(n));
        }
    }
    Ok(Value::Object(o))
}

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

/// `GET .../permission/ticket`.
pub async fn list(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<TicketQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Json<Value>> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let l = admin_authz::load(&state, &c.snap, &c.client_uuid, Vec::new()).await?;
    let mut filter = TicketFilter {
        resource: q.resource_id.clone(),
        // An id, else a name.
        scope: q.scope_id.as_deref().map(|s| {
            l.server
                .scope_ref(s)
                .and_then(|x| x.id.clone())
                .unwrap_or_else(|| s.to_string())
        }),
        granted: q.granted.as_deref().map(|g| g.eq_ignore_ascii_case("true")),
        ..TicketFilter::default()
    };
    if let Some(o) = &q.owner {
        filter.owner = Some(user_id(&state, &c.snap.id, o).await?);
    }
    if let Some(r) = &q.requester {
        filter.requester = Some(user_id(&state, &c.snap.id, r).await?);
    }
    let all = state
        .store
        .permission_tickets(&c.snap.id, &c.client_uuid)
        .await?;
    let matching: Vec<PermissionTicketRow> =
        all.into_iter().filter(|t| filter.matches(t)).collect();
    let names = truthy(q.return_names.as_deref());
    let mut out = Vec::new();
    for t in admin_authz::page(matching, q.first, q.max) {
        out.push(ticket_json(&state, &c, &l.server, &t, names).await?);
    }
    Ok(Json(Value::Array(out)))
}

fn text<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn body_object(bytes: &[u8]) -> AdminResult<Map<String, Value>> {
    match super::body::<Value>(bytes)? {
        Value::Object(m) => Ok(m),
        _ => Err(denied(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid_permission",
        )),
    }
}

fn invalid_permission(d: &str) -> AdminError {
    denied(StatusCode::BAD_REQUEST, "invalid_permission", d)
}

/// `POST .../permission/ticket`: Keycloak's checks in its order; 200 with the ticket.
pub async fn create(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let m = body_object(&bytes)?;
    if m.get("id").is_some_and(|v| !v.is_null()) {
        return Err(invalid_permission("created permissions should not have id"));
    }
    let Some(resource_id) = text(&m, "resource") else {
        return Err(invalid_permission(
            "created permissions should have resource",
        ));
    };
    let (scope_id, scope_name) = (text(&m, "scope"), text(&m, "scopeName"));
    if scope_id.is_none() && scope_name.is_none() {
        return Err(invalid_permission(
            "created permissions should have scope or scopeName",
        ));
    }
    let (requester, requester_name) = (text(&m, "requester"), text(&m, "requesterName"));
    if requester.is_none() && requester_name.is_none() {
        return Err(invalid_permission(
            "created permissions should have requester or requesterName",
        ));
    }
    let l = admin_authz::load(&state, &c.snap, &c.client_uuid, Vec::new()).await?;
    let resource = l.server.resource(resource_id).ok_or_else(|| {
        denied(
            StatusCode::BAD_REQUEST,
            "invalid_resource_id",
            format!("Resource set with id [{resource_id}] does not exists in this server."),
        )
    })?;
    let owner = owner_id(resource);
    if owner != c.identity {
        return Err(denied(
            StatusCode::FORBIDDEN,
            "not_authorised",
            format!("permissions for [{resource_id}] can be only created by the owner"),
        ));
    }
    let user = match requester {
        Some(id) => state.store.user_by_id(&c.snap.id, id).await?,
        None => {
            state
                .store
                .user_by_username(&c.snap.id, requester_name.unwrap_or_default())
                .await?
        }
    }
    .ok_or_else(|| invalid_permission("Requester does not exists in this server as user."))?;
    let scope = match scope_name {
        Some(n) => l
            .server
            .scopes
            .iter()
            .find(|s| s.name.as_deref() == Some(n)),
        None => l.server.scope(scope_id.unwrap_or_default()),
    }
    .ok_or_else(|| {
        denied(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "Scope [{}] is invalid",
                scope_id.or(scope_name).unwrap_or_default()
            ),
        )
    })?;
    let sid = scope.id.clone().unwrap_or_default();
    let has = resource
        .scopes
        .iter()
        .flatten()
        .any(|s| s.id.as_deref() == Some(sid.as_str()));
    if !has {
        return Err(denied(
            StatusCode::BAD_REQUEST,
            "invalid_resource_id",
            format!(
                "Resource set with id [{resource_id}] does not have Scope [{}]",
                scope.name.as_deref().unwrap_or_default()
            ),
        ));
    }
    let now = crate::clock::now_millis();
    let row = PermissionTicketRow {
        id: uuid::Uuid::new_v4().to_string(),
        server_id: c.client_uuid.clone(),
        owner,
        requester: user.id,
        resource_id: resource_id.to_string(),
        scope_id: Some(sid),
        policy_id: None,
        created_timestamp: now,
        granted_timestamp: (m.get("granted") == Some(&Value::Bool(true))).then_some(now),
    };
    match state.store.put_permission_ticket(&c.snap.id, &row).await {
        Ok(()) => {}
        Err(StoreError::Unique(_)) => return Err(invalid_permission("Permission already exists")),
        Err(e) => return Err(e.into()),
    }
    let rep = ticket_json(&state, &c, &l.server, &row, false).await?;
    Ok((StatusCode::OK, Json(rep)).into_response())
}

fn invalid_ticket() -> AdminError {
    denied(StatusCode::BAD_REQUEST, "invalid_request", "invalid_ticket")
}

/// `PUT .../permission/ticket`: `granted: true` grants a ticket not granted yet,
/// `granted: false` deletes it (`RepresentationToModel.toModel`); 204.
pub async fn update(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let m = body_object(&bytes)?;
    let id = text(&m, "id").ok_or_else(invalid_ticket)?;
    let t = state
        .store
        .permission_ticket(&c.snap.id, &c.client_uuid, id)
        .await?
        .ok_or_else(invalid_ticket)?;
    if t.owner != c.identity && c.identity != c.client_uuid {
        return Err(denied(
            StatusCode::FORBIDDEN,
            "not_authorised",
            format!(
                "permissions for [{}] can be updated only by the owner or by the resource server",
                text(&m, "resource").unwrap_or("null")
            ),
        ));
    }
    if m.get("granted") == Some(&Value::Bool(true)) {
        state
            .store
            .grant_permission_ticket(&c.snap.id, &c.client_uuid, id, crate::clock::now_millis())
            .await?;
    } else {
        state
            .store
            .delete_permission_ticket(&c.snap.id, &c.client_uuid, id)
            .await?;
    }
    Ok(no_content())
}

/// `DELETE .../permission/ticket/{id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let t = state
        .store
        .permission_ticket(&c.snap.id, &c.client_uuid, &id)
        .await?
        .ok_or_else(invalid_ticket)?;
    if t.owner != c.identity && c.identity != c.client_uuid && t.requester != c.identity {
        return Err(denied(
            StatusCode::FORBIDDEN,
            "not_authorised",
            format!(
                "permissions for [{}] can be deleted only by the owner, the requester, or the resource server",
                t.resource_id
            ),
        ));
    }
    state
        .store
        .delete_permission_ticket(&c.snap.id, &c.client_uuid, &id)
        .await?;
    Ok(no_content())
}

/// The routes.
pub fn routes() -> Router<AppState> {
    const BASE: &str = crate::http::paths::AUTHZ_PROTECTION;
    Router::new()
        .route(
            &format!("{BASE}/permission/ticket"),
            routing::get(list).post(create).put(update),
        )
        .route(
            &format!("{BASE}/permission/ticket/{{id}}"),
            routing::delete(delete),
        )
}
