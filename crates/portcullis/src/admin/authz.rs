//! `/admin/realms/{realm}/clients/{id}/authz/resource-server`: Authorization Services'
//! administration (`ResourceServerService`, `ResourceSetService`, `ScopeService`,
//! `PolicyService`, `PolicyTypeService`, `PolicyResourceService`, `PermissionService`):
//! settings, export (`/settings`) and `/import`; resources, scopes, policies and permissions
//! (generic and typed: `policy/{type}`, `permission/{type}`), their searches, associations
//! and the providers. `policy/evaluate` is in `authz_evaluate.rs`.
//!
//! Each write loads the client's resource server ([`crate::realm::authz::Server`]), changes it
//! in memory with Keycloak's checks, and writes the difference in one transaction that bumps
//! the server's version (retried when another writer bumped it meanwhile).

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{Caller, Family, Need, NeedMarker, RealmAdmin};
use super::jackson::{self, Shape};
use super::{no_content, representation, AdminError, AdminResult};
use crate::http::paths;
use crate::realm::authz::{self as az, AuthzError, Dir, Server, UserDir};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::authz::{PolicyRepresentation, ResourceRepresentation};
use crate::representation::ClientRepresentation;
use crate::store::{Store, StoreError};
use crate::AppState;

/// Keycloak's default page size (`Constants.DEFAULT_MAX_RESULTS`).
const DEFAULT_MAX: i64 = 100;

/// Reading authorization settings: `view-authorization`, `manage-authorization` or viewing
/// clients.
#[derive(Debug)]
pub struct ViewAuthz;

impl NeedMarker for ViewAuthz {
    fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
        if caller.has(realm, "view-authorization")
            || caller.has(realm, "manage-authorization")
            || caller.can(realm, Need::View(Family::Clients))
        {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }
}

/// Changing authorization settings: `manage-authorization` or managing clients.
#[derive(Debug)]
pub struct ManageAuthz;

impl NeedMarker for ManageAuthz {
    fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
        if caller.has(realm, "manage-authorization")
            || caller.can(realm, Need::Manage(Family::Clients))
        {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }
}

impl From<AuthzError> for AdminError {
    fn from(e: AuthzError) -> Self {
        match e {
            AuthzError::Runtime(m) => {
                // Keycloak answers a `RuntimeException` with a bare 500; the reason is logged.
                tracing::warn!(reason = %m, "authorization services: request refused");
                AdminError::Internal
            }
            AuthzError::OAuth(s, e, d) => AdminError::OAuth(
                StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
                e,
                d,
            ),
            AuthzError::BadRequest(m) => AdminError::Plain(m),
            AuthzError::Invalid(m) => AdminError::BadRequest(m),
        }
    }
}

fn empty(status: StatusCode) -> AdminError {
    AdminError::Empty(status)
}

pub(super) fn client<'a>(
    snap: &'a RealmSnapshot,
    id: &str,
) -> AdminResult<&'a ClientRepresentation> {
    crate::realm::edit::client(&snap.rep, id)
        .ok_or_else(|| AdminError::not_found("Could not find client"))
}

/// A loaded resource server with the users its rows name.
pub(super) struct Loaded {
    pub(super) server: Server,
    pub(super) users: UserDir,
    pub(super) version: i64,
}

/// The users named by ids or names in `keys`, looked up by id, then by username.
pub(crate) async fn user_dir(
    store: &dyn Store,
    realm_id: &str,
    keys: impl IntoIterator<Item = String>,
) -> Result<UserDir, StoreError> {
    let mut dir = UserDir::default();
    let mut seen = HashSet::new();
    for k in keys {
        if k.is_empty() || !seen.insert(k.clone()) {
            continue;
        }
        if let Some(u) = store.user_by_id(realm_id, &k).await? {
            dir.add(&u.id, &u.username);
        } else if let Some(u) = store.user_by_username(realm_id, &k.to_lowercase()).await? {
            dir.add(&u.id, &u.username);
        }
    }
    Ok(dir)
}

/// Loads a client's resource server (404 `HTTP 404 Not Found` when Authorization Services are
/// off for the client, as Keycloak's `AuthorizationService` answers).
pub(super) async fn load(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    extra_users: Vec<String>,
) -> AdminResult<Loaded> {
    let c = client(snap, id)?;
    let client_id = c.client_id.clone().unwrap_or_default();
    let (server, version) =
        crate::realm::authz::load(state.store.as_ref(), &snap.id, id, &client_id)
            .await?
            .ok_or_else(|| AdminError::not_found("HTTP 404 Not Found"))?;
    let mut keys = az::stored_user_ids(&server);
    keys.extend(extra_users);
    let users = user_dir(state.store.as_ref(), &snap.id, keys).await?;
    Ok(Loaded {
        server,
        users,
        version,
    })
}

/// Loads, changes and writes a resource server; retried when another writer changed it
/// meanwhile.
pub(super) async fn mutate<T>(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    extra_users: Vec<String>,
    mut f: impl FnMut(Dir<'_>, &mut Server) -> AdminResult<T>,
) -> AdminResult<T> {
    for _ in 0..8 {
        let Loaded {
            server,
            users,
            version,
        } = load(state, snap, id, extra_users.clone()).await?;
        let mut next = server.clone();
        let dir = Dir {
            realm: &snap.rep,
            users: &users,
        };
        let out = f(dir, &mut next)?;
        let writes = az::diff(&server, &next);
        if writes.is_empty() {
            return Ok(out);
        }
        match state
            .store
            .authz_write(&snap.id, id, Some(version), writes)
            .await
        {
            Ok(Some(_)) => return Ok(out),
            Ok(None) => return Err(AdminError::not_found("HTTP 404 Not Found")),
            Err(StoreError::VersionConflict) => continue,
            Err(StoreError::Unique(m)) => {
                return Err(AdminError::OAuth(
                    StatusCode::CONFLICT,
                    "invalid_request".into(),
                    m,
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AdminError::Conflict(
        "the resource server was changed concurrently; retry".into(),
    ))
}

pub(super) fn object(v: Value) -> AdminResult<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(AdminError::bad("expected an object")),
    }
}

pub(super) fn page<T>(items: Vec<T>, first: Option<i64>, max: Option<i64>) -> Vec<T> {
    super::Paging { first, max }.apply(items, Some(DEFAULT_MAX))
}

pub(super) fn contains_ci(hay: Option<&str>, needle: &str) -> bool {
    hay.is_some_and(|h| h.to_lowercase().contains(&needle.to_lowercase()))
}

// ---------------------------------------------------------------------------------------
// The resource server

/// `GET .../resource-server`.
pub async fn get_server(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let mut v = l.server.summary_json();
    // The admin-permissions client's server carries the schema it follows
    // (`AdminPermissionsSchema.getAuthorizationSchema`), while the switch is on.
    if super::permissions::enabled(&snap.rep)
        && super::permissions::is_admin_permissions_client(&snap, &id)
    {
        v["authorizationSchema"] = crate::authz::fgap::schema_json();
    }
    Ok(Json(v))
}

/// `PUT .../resource-server`: the enforcement mode, decision strategy and remote management.
pub async fn put_server(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let rep = object(representation(
        &bytes,
        &Shape::One(&jackson::RESOURCE_SERVER),
    )?)?;
    mutate(&state, &snap, &id, Vec::new(), |_, s| {
        az::apply_settings(s, &rep, false)?;
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET .../resource-server/settings`: the export form.
pub async fn export(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let dir = Dir {
        realm: &snap.rep,
        users: &l.users,
    };
    Ok(Json(az::export(dir, &l.server)))
}

/// `POST .../resource-server/import`: 204.
pub async fn import(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let v: Value = representation(&bytes, &Shape::One(&jackson::RESOURCE_SERVER))?;
    let users = az::user_refs(&v);
    let rep = object(v)?;
    mutate(&state, &snap, &id, users, |dir, s| {
        az::import(dir, s, &rep)?;
        Ok(())
    })
    .await?;
    Ok(no_content())
}

// ---------------------------------------------------------------------------------------
// Resources

/// Query of `GET .../resource`.
#[derive(Debug, Deserialize)]
pub struct ResourceQuery {
    #[serde(rename = "_id")]
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) uri: Option<String>,
    pub(super) owner: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) scope: Option<String>,
    #[serde(rename = "matchingUri", default, deserialize_with = "super::flex_bool")]
    pub(super) matching_uri: Option<bool>,
    #[serde(rename = "exactName", default, deserialize_with = "super::flex_bool")]
    pub(super) exact_name: Option<bool>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    pub(super) deep: Option<bool>,
    pub(super) first: Option<i64>,
    pub(super) max: Option<i64>,
}

/// The resources matching a query (`ResourceSetService.find`'s filters), in name order.
pub(super) fn find_resources<'a>(
    l: &'a Loaded,
    q: &ResourceQuery,
) -> Vec<&'a ResourceRepresentation> {
    let s = &l.server;
    let owner = q.owner.as_deref().map(|o| {
        if o == s.client_id || o == s.id {
            s.id.clone()
        } else {
            l.users.resolve(o).unwrap_or_else(|| o.to_string())
        }
    });
    // `matchingUri`: when no resource has the URI itself, the resource server's resource
    // whose URI pattern matches it best (`ResourceSetService.find`).
    let uri_exact = |r: &ResourceRepresentation| {
        q.uri.as_deref().is_none_or(|u| {
            let u = u.to_lowercase();
            r.uris.iter().flatten().any(|x| x.to_lowercase() == u)
        })
    };
    let best = match q.uri.as_deref() {
        Some(u) if q.matching_uri == Some(true) && !s.resources.iter().any(uri_exact) => {
            let entries: Vec<(String, &ResourceRepresentation)> = s
                .resources
                .iter()
                .filter(|r| az::owner_id(r) == s.id)
                .flat_map(|r| r.uris.iter().flatten().map(move |x| (x.clone(), r)))
                .collect();
            Some(
                crate::authz::PathMatcher::new(entries)
                    .matches(u)
                    .and_then(|(_, r)| r.id.clone()),
            )
        }
        _ => None,
    };
    s.resources
        .iter()
        .filter(|r| q.id.as_deref().is_none_or(|i| r.id.as_deref() == Some(i)))
        .filter(|r| match &best {
            Some(b) => b.is_some() && r.id == *b,
            None => uri_exact(r),
        })
        .filter(|r| match q.name.as_deref() {
            None => true,
            Some(n) if q.exact_name == Some(true) => r.name.as_deref() == Some(n),
            Some(n) => contains_ci(r.name.as_deref(), n),
        })
        .filter(|r| owner.as_deref().is_none_or(|o| az::owner_id(r) == o))
        .filter(|r| {
            q.kind
                .as_deref()
                .is_none_or(|t| r.kind.as_deref() == Some(t))
        })
        .filter(|r| {
            q.scope.as_deref().is_none_or(|sc| {
                r.scopes.iter().flatten().any(|x| {
                    s.scope(x.id.as_deref().unwrap_or_default())
                        .is_some_and(|x| contains_ci(x.name.as_deref(), sc))
                })
            })
        })
        .collect()
}

/// `GET .../resource`.
pub async fn list_resources(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewAuthz, ResourceQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let l = load(&state, &snap, &id, q.owner.clone().into_iter().collect()).await?;
    let dir = Dir {
        realm: &snap.rep,
        users: &l.users,
    };
    let hits = find_resources(&l, &q);
    let deep = q.deep != Some(false);
    Ok(Json(page(
        hits.into_iter()
            .map(|r| az::resource_json(dir, &l.server, r, deep))
            .collect(),
        q.first,
        q.max,
    )))
}

/// Query of the `search` endpoints.
#[derive(Debug, Deserialize)]
pub struct NameQuery {
    name: Option<String>,
}

/// `GET .../resource/search?name=`: the server's own resource of that name, or 204.
pub async fn search_resource(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewAuthz, NameQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let s = &l.server;
    let Some(name) = q.name else {
        return Err(empty(StatusCode::BAD_REQUEST));
    };
    let hit = s
        .resources
        .iter()
        .find(|r| r.name.as_deref() == Some(name.as_str()) && az::owner_id(r) == s.id);
    let dir = Dir {
        realm: &snap.rep,
        users: &l.users,
    };
    Ok(match hit {
        Some(r) => Json(az::resource_json(dir, s, r, true)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

pub(super) fn resource_owner_ref(v: &Map<String, Value>) -> Vec<String> {
    match v.get("owner") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Object(o)) => ["id", "name"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Resources and scopes of the `admin-permissions` server come from the schema, not from
/// callers: 400 `Not supported for this client.` (`throwExceptionIfAdminPermissionClient`).
fn not_for_admin_permissions(snap: &RealmSnapshot, id: &str) -> AdminResult<()> {
    if super::permissions::is_admin_permissions_client(snap, id) {
        Err(AdminError::bad("Not supported for this client."))
    } else {
        Ok(())
    }
}

/// `POST .../resource`: 201 with the resource.
pub async fn create_resource(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    not_for_admin_permissions(&snap, &id)?;
    let v = object(representation(
        &bytes,
        &Shape::One(&jackson::AUTHZ_RESOURCE),
    )?)?;
    let (server, users) = mutate(&state, &snap, &id, resource_owner_ref(&v), |dir, s| {
        let mut new_scopes = Vec::new();
        let r = az::resource_in(dir, s, &v, None, &mut new_scopes)?;
        s.scopes.extend(new_scopes);
        s.resources.push(r.clone());
        Ok((s.clone(), dir.users.clone()))
    })
    .await?;
    let Some(r) = server.resources.last() else {
        return Err(AdminError::Internal);
    };
    let dir = Dir {
        realm: &snap.rep,
        users: &users,
    };
    Ok((
        StatusCode::CREATED,
        Json(az::resource_json(dir, &server, r, true)),
    )
        .into_response())
}

/// `GET .../resource/{rid}`: 404 without a body when missing.
pub async fn get_resource(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id, rid)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let r = l
        .server
        .resource(&rid)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    let dir = Dir {
        realm: &snap.rep,
        users: &l.users,
    };
    Ok(Json(az::resource_json(dir, &l.server, r, true)))
}

/// `PUT .../resource/{rid}`: 204.
pub async fn update_resource(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, rid)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    not_for_admin_permissions(&snap, &id)?;
    let v = object(representation(
        &bytes,
        &Shape::One(&jackson::AUTHZ_RESOURCE),
    )?)?;
    mutate(&state, &snap, &id, resource_owner_ref(&v), |dir, s| {
        let current = s
            .resource(&rid)
            .cloned()
            .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
        let mut new_scopes = Vec::new();
        let r = az::resource_in(dir, s, &v, Some(&current), &mut new_scopes)?;
        s.scopes.extend(new_scopes);
        if let Some(slot) = s.resources.iter_mut().find(|x| x.id == current.id) {
            *slot = r;
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `DELETE .../resource/{rid}`: 204.
pub async fn delete_resource(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, rid)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    mutate(&state, &snap, &id, Vec::new(), |_, s| {
        s.resource(&rid)
            .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
        az::remove_resource(s, &rid);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// The permissions that apply to a resource: by id, by its type, by its scopes.
fn permissions_of_resource<'a>(
    s: &'a Server,
    r: &ResourceRepresentation,
) -> Vec<&'a PolicyRepresentation> {
    let rid = r.id.clone().unwrap_or_default();
    let scope_ids: Vec<String> = r
        .scopes
        .iter()
        .flatten()
        .filter_map(|x| x.id.clone())
        .collect();
    s.policies
        .iter()
        .filter(|p| {
            az::ids(p, "resources").contains(&rid)
                || (r.kind.is_some()
                    && p.config.as_ref().and_then(|c| c.get("defaultResourceType"))
                        == r.kind.as_ref())
                || az::ids(p, "scopes").iter().any(|x| scope_ids.contains(x))
        })
        .collect()
}

fn brief_policy(p: &PolicyRepresentation) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "type": p.kind,
        "description": p.description,
        "logic": p.logic,
        "decisionStrategy": p.decision_strategy,
    })
}

/// `GET .../resource/{rid}/{scopes|permissions|attributes}`.
pub async fn resource_sub(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id, rid, sub)): Path<(String, String, String, String)>,
) -> AdminResult<Response> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let s = &l.server;
    let r = s
        .resource(&rid)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    let out = match sub.as_str() {
        "scopes" => Value::Array(
            r.scopes
                .iter()
                .flatten()
                .filter_map(|x| s.scope(x.id.as_deref().unwrap_or_default()))
                .map(az::scope_json)
                .collect(),
        ),
        "permissions" => Value::Array(
            permissions_of_resource(s, r)
                .into_iter()
                .map(brief_policy)
                .collect(),
        ),
        "attributes" => json!(r.attributes.clone().unwrap_or_default()),
        _ => return Err(AdminError::not_found("HTTP 404 Not Found")),
    };
    Ok(Json(out).into_response())
}

// ---------------------------------------------------------------------------------------
// Scopes

/// Query of `GET .../scope`.
#[derive(Debug, Deserialize)]
pub struct ScopeQuery {
    #[serde(rename = "scopeId")]
    scope_id: Option<String>,
    name: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
}

/// `GET .../scope`.
pub async fn list_scopes(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewAuthz, ScopeQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let hits: Vec<Value> = l
        .server
        .scopes
        .iter()
        .filter(|x| {
            q.scope_id
                .as_deref()
                .is_none_or(|i| x.id.as_deref() == Some(i))
        })
        .filter(|x| {
            q.name
                .as_deref()
                .is_none_or(|n| contains_ci(x.name.as_deref(), n))
        })
        .map(az::scope_json)
        .collect();
    Ok(Json(page(hits, q.first, q.max)))
}

/// `GET .../scope/search?name=`: the scope, or an empty 200.
pub async fn search_scope(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewAuthz, NameQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let Some(name) = q.name else {
        return Err(empty(StatusCode::BAD_REQUEST));
    };
    Ok(
        match l
            .server
            .scopes
            .iter()
            .find(|x| x.name.as_deref() == Some(name.as_str()))
        {
            Some(x) => Json(az::scope_json(x)).into_response(),
            None => StatusCode::OK.into_response(),
        },
    )
}

/// `POST .../scope`: 201 with the scope.
pub async fn create_scope(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    not_for_admin_permissions(&snap, &id)?;
    let v = object(representation(&bytes, &Shape::One(&jackson::AUTHZ_SCOPE))?)?;
    // `RepresentationToModel.toModel(ScopeRepresentation)`: a scope of that id, else of that
    // name, is updated and answered as created.
    let sc = mutate(&state, &snap, &id, Vec::new(), |_, s| {
        let existing = v
            .get("id")
            .and_then(Value::as_str)
            .and_then(|i| s.scope(i))
            .or_else(|| {
                let name = v.get("name").and_then(Value::as_str);
                s.scopes.iter().find(|x| x.name.as_deref() == name)
            })
            .cloned();
        let sc = az::scope_in(s, &v, existing.as_ref())?;
        match s.scopes.iter_mut().find(|x| x.id == sc.id) {
            Some(slot) => *slot = sc.clone(),
            None => s.scopes.push(sc.clone()),
        }
        Ok(sc)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(az::scope_json(&sc))).into_response())
}

/// `GET .../scope/{sid}`.
pub async fn get_scope(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id, sid)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let sc = l
        .server
        .scope(&sid)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    Ok(Json(az::scope_json(sc)))
}

/// `PUT .../scope/{sid}`: 204.
pub async fn update_scope(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, sid)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    not_for_admin_permissions(&snap, &id)?;
    let v = object(representation(&bytes, &Shape::One(&jackson::AUTHZ_SCOPE))?)?;
    mutate(&state, &snap, &id, Vec::new(), |_, s| {
        let current = s
            .scope(&sid)
            .cloned()
            .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
        let sc = az::scope_in(s, &v, Some(&current))?;
        if let Some(slot) = s.scopes.iter_mut().find(|x| x.id == current.id) {
            *slot = sc;
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `DELETE .../scope/{sid}`: 204; 400 while a resource uses the scope.
pub async fn delete_scope(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, sid)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    mutate(&state, &snap, &id, Vec::new(), |_, s| {
        s.scope(&sid).ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
        if s.resources.iter().any(|r| {
            r.scopes
                .iter()
                .flatten()
                .any(|x| x.id.as_deref() == Some(sid.as_str()))
        }) {
            return Err(AdminError::bad(
                "Scopes can not be removed while associated with resources.",
            ));
        }
        az::remove_scope(s, &sid);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET .../scope/{sid}/{resources|permissions}`.
pub async fn scope_sub(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id, sid, sub)): Path<(String, String, String, String)>,
) -> AdminResult<Response> {
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let s = &l.server;
    s.scope(&sid).ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    let out: Vec<Value> = match sub.as_str() {
        "resources" => s
            .resources
            .iter()
            .filter(|r| {
                r.scopes
                    .iter()
                    .flatten()
                    .any(|x| x.id.as_deref() == Some(sid.as_str()))
            })
            .map(|r| json!({"_id": r.id, "name": r.name}))
            .collect(),
        "permissions" => s
            .policies
            .iter()
            .filter(|p| az::ids(p, "scopes").contains(&sid))
            .map(|p| json!({"id": p.id, "name": p.name, "type": p.kind}))
            .collect(),
        _ => return Err(AdminError::not_found("HTTP 404 Not Found")),
    };
    Ok(Json(out).into_response())
}

// ---------------------------------------------------------------------------------------
// Policies and permissions

/// `policy` or `permission` in the path; anything else is no path of this family.
fn family(f: &str) -> AdminResult<bool> {
    match f {
        "policy" => Ok(false),
        "permission" => Ok(true),
        _ => Err(AdminError::not_found("HTTP 404 Not Found")),
    }
}

/// Query of `GET .../policy` and `.../permission`.
#[derive(Debug, Deserialize)]
pub struct PolicyQuery {
    #[serde(rename = "policyId")]
    policy_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    permission: Option<bool>,
    owner: Option<String>,
    fields: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
}

fn list_policies_of(
    s: &Server,
    q: &PolicyQuery,
    permissions_only: bool,
    kind: Option<&str>,
) -> Vec<Value> {
    let _ = &q.fields;
    // `resource` / `scope`: the permissions of the resources and scopes so named, with the
    // policies they apply (`PolicyService.findAll`).
    let mut restrict: Option<HashSet<String>> = None;
    if q.resource.as_deref().is_some_and(|r| !r.trim().is_empty())
        || q.scope.as_deref().is_some_and(|r| !r.trim().is_empty())
    {
        let mut ids: Vec<String> = Vec::new();
        if let Some(rn) = q.resource.as_deref().filter(|r| !r.trim().is_empty()) {
            for r in s
                .resources
                .iter()
                .filter(|r| contains_ci(r.name.as_deref(), rn))
            {
                for p in &s.policies {
                    let rid = r.id.clone().unwrap_or_default();
                    if az::ids(p, "resources").contains(&rid)
                        || (r.kind.is_some()
                            && p.config.as_ref().and_then(|c| c.get("defaultResourceType"))
                                == r.kind.as_ref())
                    {
                        ids.push(p.id.clone().unwrap_or_default());
                    }
                }
            }
        }
        if let Some(sn) = q.scope.as_deref().filter(|r| !r.trim().is_empty()) {
            for sc in s
                .scopes
                .iter()
                .filter(|x| contains_ci(x.name.as_deref(), sn))
            {
                let sid = sc.id.clone().unwrap_or_default();
                ids.extend(
                    s.policies
                        .iter()
                        .filter(|p| az::ids(p, "scopes").contains(&sid))
                        .filter_map(|p| p.id.clone()),
                );
            }
        }
        let mut all: HashSet<String> = HashSet::new();
        let mut stack = ids;
        while let Some(i) = stack.pop() {
            if all.insert(i.clone()) {
                if let Some(p) = s.policy(&i) {
                    stack.extend(az::ids(p, "applyPolicies"));
                }
            }
        }
        restrict = Some(all);
    }
    let permission = if permissions_only {
        Some(true)
    } else {
        q.permission
    };
    s.policies
        .iter()
        .filter(|p| {
            restrict
                .as_ref()
                .is_none_or(|r| r.contains(p.id.as_deref().unwrap_or_default()))
        })
        .filter(|p| {
            q.policy_id
                .as_deref()
                .is_none_or(|i| p.id.as_deref() == Some(i))
        })
        .filter(|p| {
            q.name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .is_none_or(|n| contains_ci(p.name.as_deref(), n))
        })
        .filter(|p| {
            q.kind
                .as_deref()
                .or(kind)
                .filter(|t| !t.trim().is_empty())
                .is_none_or(|t| p.kind.as_deref() == Some(t))
        })
        .filter(|p| permission.is_none_or(|want| p.is_permission() == want))
        // Policies with an owner (user-managed permissions) only when owners are asked for,
        // as Keycloak's policy store queries them.
        .filter(|p| match q.owner.as_deref() {
            Some(o) => p.owner.as_deref() == Some(o),
            None => p.owner.is_none(),
        })
        .map(az::policy_json)
        .collect()
}

/// `GET .../policy` and `.../permission`.
pub async fn list_policies(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewAuthz, PolicyQuery>,
    Path((_, id, fam)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let perms = family(&fam)?;
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let hits = list_policies_of(&l.server, &q, perms, None);
    Ok(Json(page(hits, q.first, q.max)))
}

/// `GET .../policy/search?name=`: the policy (generic), or an empty 200.
pub async fn search_policy(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewAuthz, NameQuery>,
    Path((_, id, fam)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    family(&fam)?;
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let Some(name) = q.name else {
        return Err(empty(StatusCode::BAD_REQUEST));
    };
    Ok(match l.server.policy_by_name(&name) {
        Some(p) => Json(az::policy_json(p)).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

/// `GET .../policy/providers` and `.../permission/providers`.
pub async fn providers(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id, fam)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let perms = family(&fam)?;
    load(&state, &snap, &id, Vec::new()).await?;
    let list = if perms {
        az::PERMISSION_PROVIDERS
    } else {
        // Keycloak lists every provider here, the permission types too.
        az::POLICY_PROVIDERS
    };
    let mut out: Vec<Value> = list
        .iter()
        .map(|(t, n, g)| json!({"type": t, "name": n, "group": g}))
        .collect();
    if !perms {
        out.extend(
            az::PERMISSION_PROVIDERS
                .iter()
                .map(|(t, n, g)| json!({"type": t, "name": n, "group": g})),
        );
    }
    Ok(Json(out))
}

fn policy_user_refs(v: &Map<String, Value>) -> Vec<String> {
    let mut out = az::user_refs(&json!({"policies": [Value::Object(v.clone())]}));
    if let Some(Value::Array(l)) = v.get("users") {
        out.extend(l.iter().filter_map(Value::as_str).map(str::to_string));
    }
    out
}

/// The response to a create: the representation as sent, with its id, type and the defaults
/// Keycloak's representation carries.
fn created_policy(mut v: Map<String, Value>, p: &PolicyRepresentation) -> Response {
    v.insert("id".into(), json!(p.id));
    v.insert("type".into(), json!(p.kind));
    v.entry("logic").or_insert_with(|| json!(p.logic));
    v.entry("decisionStrategy")
        .or_insert_with(|| json!(p.decision_strategy));
    if let Some(Value::Array(roles)) = v.get_mut("roles") {
        for r in roles.iter_mut().filter_map(Value::as_object_mut) {
            r.entry("required").or_insert(json!(false));
        }
    }
    (StatusCode::CREATED, Json(Value::Object(v))).into_response()
}

/// Creates a policy (generic when `typed` is `None`).
async fn create_policy(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    perms: bool,
    typed: Option<&str>,
    bytes: &[u8],
) -> AdminResult<Response> {
    let rep = match typed {
        Some(t) => {
            jackson::typed_policy(t).ok_or_else(|| AdminError::not_found("HTTP 404 Not Found"))?
        }
        None => &jackson::AUTHZ_POLICY,
    };
    let v = object(representation(bytes, &Shape::One(rep))?)?;
    let kind = match typed {
        Some(t) => t.to_string(),
        None => v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    let _ = perms;
    let objects = admin_permission_objects(state, snap, id, &kind, &v).await?;
    let p = mutate(state, snap, id, policy_user_refs(&v), |dir, s| {
        let mut v = v.clone();
        if let Some(o) = &objects {
            super::permissions::bind_objects(s, o, &mut v);
        }
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
        if s.policy_by_name(name).is_some() {
            return Err(AdminError::OAuth(
                StatusCode::CONFLICT,
                format!("Policy with name [{name}] already exists"),
                "Conflicting policy".into(),
            ));
        }
        let p = az::policy_in(dir, s, &kind, &v, typed.is_some(), None, false)?;
        az::check_cycles(s, &p)?;
        s.policies.push(p.clone());
        Ok(p)
    })
    .await?;
    Ok(created_policy(v, &p))
}

/// On the realm's `admin-permissions` resource server, a permission's checks and objects
/// (see [`super::permissions`]); `None` elsewhere.
async fn admin_permission_objects(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    kind: &str,
    v: &Map<String, Value>,
) -> AdminResult<Option<super::permissions::Objects>> {
    if !super::permissions::is_admin_permissions_client(snap, id) {
        return Ok(None);
    }
    super::permissions::check_permission(state, snap, kind, v).await
}

/// Updates a policy by id (generic or typed): 201 without a body, as Keycloak answers.
async fn update_policy(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    pid: &str,
    typed: Option<&str>,
    bytes: &[u8],
) -> AdminResult<Response> {
    let rep = match typed {
        Some(t) => {
            jackson::typed_policy(t).ok_or_else(|| AdminError::not_found("HTTP 404 Not Found"))?
        }
        None => &jackson::AUTHZ_POLICY,
    };
    let v = object(representation(bytes, &Shape::One(rep))?)?;
    // On the admin-permissions server the permission's objects are checked first (reading the
    // server once more for the permission's type); other servers skip this.
    let objects = if super::permissions::is_admin_permissions_client(snap, id) {
        let kind = load(state, snap, id, Vec::new())
            .await?
            .server
            .policy(pid)
            .and_then(|p| p.kind.clone())
            .unwrap_or_default();
        admin_permission_objects(state, snap, id, &kind, &v).await?
    } else {
        None
    };
    mutate(state, snap, id, policy_user_refs(&v), |dir, s| {
        let current = s
            .policy(pid)
            .cloned()
            .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
        let kind = current.kind.clone().unwrap_or_default();
        let mut v = v.clone();
        if let Some(o) = &objects {
            super::permissions::bind_objects(s, o, &mut v);
        }
        if v.get("name").is_none() {
            v.insert("name".into(), json!(current.name));
        }
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if s.policies
            .iter()
            .any(|p| p.name.as_deref() == Some(name.as_str()) && p.id != current.id)
        {
            return Err(AdminError::OAuth(
                StatusCode::CONFLICT,
                format!("Policy with name [{name}] already exists"),
                "Conflicting policy".into(),
            ));
        }
        let allow_js = kind == "js";
        let p = az::policy_in(dir, s, &kind, &v, typed.is_some(), Some(&current), allow_js)?;
        az::check_cycles(s, &p)?;
        if let Some(slot) = s.policies.iter_mut().find(|x| x.id == current.id) {
            *slot = p;
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn delete_policy(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    pid: &str,
) -> AdminResult<Response> {
    mutate(state, snap, id, Vec::new(), |_, s| {
        s.policy(pid).ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
        az::remove_policy(s, pid);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// A policy's associations (`dependentPolicies`, `scopes`, `resources`, `associatedPolicies`).
fn policy_sub_json(s: &Server, p: &PolicyRepresentation, sub: &str) -> AdminResult<Value> {
    let pid = p.id.clone().unwrap_or_default();
    Ok(Value::Array(match sub {
        "dependentPolicies" => s
            .policies
            .iter()
            .filter(|x| az::ids(x, "applyPolicies").contains(&pid))
            .map(|x| json!({"id": x.id, "name": x.name, "type": x.kind}))
            .collect(),
        "scopes" => az::ids(p, "scopes")
            .iter()
            .filter_map(|i| s.scope(i))
            .map(|x| json!({"id": x.id, "name": x.name}))
            .collect(),
        "resources" => az::ids(p, "resources")
            .iter()
            .filter_map(|i| s.resource(i))
            .map(|x| json!({"_id": x.id, "name": x.name}))
            .collect(),
        "associatedPolicies" => az::ids(p, "applyPolicies")
            .iter()
            .filter_map(|i| s.policy(i))
            .map(|x| json!({"id": x.id, "name": x.name, "type": x.kind, "description": x.description}))
            .collect(),
        _ => return Err(AdminError::not_found("HTTP 404 Not Found")),
    }))
}

fn is_type(perms: bool, t: &str) -> bool {
    if perms {
        az::is_permission_type(t)
    } else {
        az::is_policy_type(t) || az::is_permission_type(t)
    }
}

/// `POST .../policy` and `.../permission` (generic).
pub async fn post_policies(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, fam)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let perms = family(&fam)?;
    create_policy(&state, &snap, &id, perms, None, &bytes).await
}

/// `GET .../policy/{a}`: the policies of type `a`, or the policy of id `a`.
pub async fn get_policy(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewAuthz, PolicyQuery>,
    Path((_, id, fam, a)): Path<(String, String, String, String)>,
) -> AdminResult<Response> {
    let perms = family(&fam)?;
    let l = load(&state, &snap, &id, Vec::new()).await?;
    if is_type(perms, &a) && l.server.policy(&a).is_none() {
        let hits = list_policies_of(&l.server, &q, perms, Some(&a));
        return Ok(Json(page(hits, q.first, q.max)).into_response());
    }
    let p = l
        .server
        .policy(&a)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    Ok(Json(az::policy_json(p)).into_response())
}

/// `POST .../policy/{type}`: a typed create.
pub async fn post_policy(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, fam, a)): Path<(String, String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let perms = family(&fam)?;
    if !is_type(perms, &a) {
        return Err(AdminError::not_found("HTTP 404 Not Found"));
    }
    create_policy(&state, &snap, &id, perms, Some(&a), &bytes).await
}

/// `PUT .../policy/{id}`: 201.
pub async fn put_policy(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, fam, a)): Path<(String, String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    family(&fam)?;
    update_policy(&state, &snap, &id, &a, None, &bytes).await
}

/// `DELETE .../policy/{id}`: 204.
pub async fn delete_policy_generic(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, fam, a)): Path<(String, String, String, String)>,
) -> AdminResult<Response> {
    family(&fam)?;
    delete_policy(&state, &snap, &id, &a).await
}

/// `GET .../policy/{type}/{id}` (typed) or `.../policy/{id}/{association}`.
pub async fn get_policy_sub(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id, fam, a, b)): Path<(String, String, String, String, String)>,
) -> AdminResult<Response> {
    let perms = family(&fam)?;
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let s = &l.server;
    if let Some(p) = s.policy(&a) {
        return Ok(Json(policy_sub_json(s, p, &b)?).into_response());
    }
    if !is_type(perms, &a) {
        return Err(empty(StatusCode::NOT_FOUND));
    }
    let p = s
        .policy(&b)
        .filter(|p| p.kind.as_deref() == Some(a.as_str()))
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    let dir = Dir {
        realm: &snap.rep,
        users: &l.users,
    };
    Ok(Json(az::policy_typed_json(dir, p)).into_response())
}

/// `GET .../policy/{type}/{id}/{association}`.
pub async fn get_policy_sub2(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id, fam, a, b, c)): Path<(String, String, String, String, String, String)>,
) -> AdminResult<Response> {
    let perms = family(&fam)?;
    if !is_type(perms, &a) {
        return Err(AdminError::not_found("HTTP 404 Not Found"));
    }
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let p = l
        .server
        .policy(&b)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    Ok(Json(policy_sub_json(&l.server, p, &c)?).into_response())
}

/// `PUT .../policy/{type}/{id}`: 201.
pub async fn put_policy_sub(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, fam, a, b)): Path<(String, String, String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let perms = family(&fam)?;
    if !is_type(perms, &a) {
        return Err(AdminError::not_found("HTTP 404 Not Found"));
    }
    update_policy(&state, &snap, &id, &b, Some(&a), &bytes).await
}

/// `DELETE .../policy/{type}/{id}`: 204.
pub async fn delete_policy_sub(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageAuthz>,
    Path((_, id, fam, a, b)): Path<(String, String, String, String, String)>,
) -> AdminResult<Response> {
    let perms = family(&fam)?;
    if !is_type(perms, &a) {
        return Err(AdminError::not_found("HTTP 404 Not Found"));
    }
    delete_policy(&state, &snap, &id, &b).await
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_AUTHZ, routing::get(get_server).put(put_server))
        .route(paths::ADMIN_AUTHZ_SETTINGS, routing::get(export))
        .route(paths::ADMIN_AUTHZ_IMPORT, routing::post(import))
        .route(
            paths::ADMIN_AUTHZ_RESOURCES,
            routing::get(list_resources).post(create_resource),
        )
        .route(
            paths::ADMIN_AUTHZ_RESOURCE_SEARCH,
            routing::get(search_resource),
        )
        .route(
            paths::ADMIN_AUTHZ_RESOURCE,
            routing::get(get_resource)
                .put(update_resource)
                .delete(delete_resource),
        )
        .route(paths::ADMIN_AUTHZ_RESOURCE_SUB, routing::get(resource_sub))
        .route(
            paths::ADMIN_AUTHZ_SCOPES,
            routing::get(list_scopes).post(create_scope),
        )
        .route(paths::ADMIN_AUTHZ_SCOPE_SEARCH, routing::get(search_scope))
        .route(
            paths::ADMIN_AUTHZ_SCOPE,
            routing::get(get_scope)
                .put(update_scope)
                .delete(delete_scope),
        )
        .route(paths::ADMIN_AUTHZ_SCOPE_SUB, routing::get(scope_sub))
        .route(
            paths::ADMIN_AUTHZ_POLICIES,
            routing::get(list_policies).post(post_policies),
        )
        .route(
            paths::ADMIN_AUTHZ_POLICY_SEARCH,
            routing::get(search_policy),
        )
        .route(paths::ADMIN_AUTHZ_POLICY_PROVIDERS, routing::get(providers))
        .route(
            paths::ADMIN_AUTHZ_POLICY_EVALUATE,
            routing::post(super::authz_evaluate::evaluate),
        )
        .route(
            paths::ADMIN_AUTHZ_POLICY,
            routing::get(get_policy)
                .post(post_policy)
                .put(put_policy)
                .delete(delete_policy_generic),
        )
        .route(
            paths::ADMIN_AUTHZ_POLICY_SUB,
            routing::get(get_policy_sub)
                .put(put_policy_sub)
                .delete(delete_policy_sub),
        )
        .route(
            paths::ADMIN_AUTHZ_POLICY_SUB2,
            routing::get(get_policy_sub2),
        )
}
