//! `/realms/{realm}/authz/protection`: the UMA Protection API (`ProtectionService`,
//! `protection/resource/ResourceService`, `protection/permission/PermissionService`,
//! `protection/policy/UserManagedPermissionService`), for resource servers with a PAT (an
//! access token whose `azp` is the resource server's client):
//! - `resource_set` (create, query, read, update, delete), which needs the client role
//!   `uma_protection` in the token;
//! - `permission`: a permission ticket (a signed JWT naming resources and scopes) for a list
//!   of permission requests, which the UMA grant takes as `ticket`;
//! - `uma-policy`: user-managed permissions on a resource the caller owns.
//!
//! It lives beside the Admin API's authorization endpoints because it makes the same
//! changes to the same resource server (load, change in memory with Keycloak's checks, write
//! the difference in one transaction), only authenticated by the resource server's token.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use super::authz::{self as admin_authz, ResourceQuery};
use super::jackson::{self, Shape};
use super::{no_content, representation, AdminError, AdminResult};
use crate::oidc::bearer::{from_header, verify_access};
use crate::oidc::token::client_credentials::service_account_username;
use crate::realm::authz::{self as az, Dir, Server};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::authz::ResourceRepresentation;
use crate::AppState;

/// The caller of the Protection API: the realm, the verified token, the resource server's
/// client and the caller's identity id (`KeycloakIdentity.getId`: the client's UUID for the
/// resource server's own service account, else the token's subject).
pub(super) struct Caller {
    pub(super) snap: Arc<RealmSnapshot>,
    pub(super) issuer: String,
    pub(super) claims: Map<String, Value>,
    pub(super) client_uuid: String,
    pub(super) client_id: String,
    pub(super) identity: String,
}

pub(super) fn denied(
    status: StatusCode,
    error: &str,
    description: impl Into<String>,
) -> AdminError {
    AdminError::OAuth(status, error.to_string(), description.into())
}

/// `ProtectionService.createIdentity`: a valid access token of the realm whose client is a
/// resource server; with `protection`, the token must carry that client's `uma_protection`.
pub(super) async fn caller(
    state: &AppState,
    realm: &str,
    headers: &HeaderMap,
    uri: &Uri,
    protection: bool,
) -> AdminResult<Caller> {
    let (snap, issuer) = crate::oidc::realm_and_issuer(state, realm, headers, uri)
        .await
        .map_err(|_| AdminError::not_found("Realm does not exist"))?;
    let no_token = || {
        denied(
            StatusCode::FORBIDDEN,
            "invalid_bearer_token",
            "Could not obtain bearer access_token from request.",
        )
    };
    let token = from_header(headers).ok_or_else(no_token)?;
    let claims = verify_access(
        state.store.as_ref(),
        &snap,
        &issuer,
        token,
        crate::clock::now(),
    )
    .await
    .map_err(|_| AdminError::Internal)?
    .map_err(|_| no_token())?;
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let client = snap.index.client(&snap.rep, &azp).ok_or_else(|| {
        denied(
            StatusCode::BAD_REQUEST,
            "invalid_clientId",
            format!(
                "Client application with id [{azp}] does not exist in realm [{}]",
                snap.name
            ),
        )
    })?;
    let client_uuid = client.id.clone().unwrap_or_default();
    let client_id = client.client_id.clone().unwrap_or_default();
    if state
        .store
        .resource_server(&snap.id, &client_uuid)
        .await?
        .is_none()
    {
        return Err(denied(
            StatusCode::FORBIDDEN,
            "invalid_clientId",
            format!("Client application [{client_id}] is not registered as a resource server."),
        ));
    }
    if protection && !has_client_role(&claims, &client_id, az::UMA_PROTECTION) {
        return Err(denied(
            StatusCode::FORBIDDEN,
            "invalid_scope",
            "Requires uma_protection scope.",
        ));
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let identity = match state.store.user_by_id(&snap.id, &sub).await? {
        Some(u) if u.username == service_account_username(&client_id) => client_uuid.clone(),
        _ => sub,
    };
    Ok(Caller {
        snap,
        issuer,
        claims,
        client_uuid,
        client_id,
        identity,
    })
}

/// `KeycloakIdentity.hasClientRole`: the role in the token's `resource_access`.
fn has_client_role(claims: &Map<String, Value>, client_id: &str, role: &str) -> bool {
    claims
        .get("resource_access")
        .and_then(|r| r.get(client_id))
        .and_then(|c| c.get("roles"))
        .and_then(Value::as_array)
        .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)))
}

/// `UmaResourceRepresentation`: a `ResourceRepresentation` whose scopes (`scopes` or
/// `resource_scopes`) may be names, as `ScopeRepresentation(String name)` reads them.
static UMA_RESOURCE: jackson::Rep = jackson::Rep {
    class: "org.keycloak.authorization.protection.resource.UmaResourceRepresentation",
    fields: &[
        ("uris", Shape::Strings),
        ("scopes", Shape::Any),
        ("resource_scopes", Shape::Any),
        ("owner", Shape::Any),
        ("attributes", Shape::StringListMap),
    ],
    scalars: &[
        "_id",
        "name",
        "uri",
        "type",
        "icon_uri",
        "ownerManagedAccess",
        "displayName",
    ],
    more: None,
};

/// `ResourceService.checkResourceServerSettings`.
fn check_remote(server: &Server) -> AdminResult<()> {
    if server.settings.get("allowRemoteResourceManagement") == Some(&Value::Bool(false)) {
        return Err(denied(
            StatusCode::BAD_REQUEST,
            "not_supported",
            "Remote management is disabled.",
        ));
    }
    Ok(())
}

/// A resource as the Protection API answers it (`UmaResourceRepresentation`): `_id`, the
/// owner by id, scopes by name under `resource_scopes` (and `scopes`, as Keycloak's
/// serialization of the inherited field also writes them).
fn uma_resource_json(server: &Server, r: &ResourceRepresentation) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(r.name));
    if let Some(t) = &r.kind {
        o.insert("type".into(), json!(t));
    }
    o.insert("owner".into(), json!({ "id": az::owner_id(r) }));
    o.insert(
        "ownerManagedAccess".into(),
        json!(r.owner_managed_access.unwrap_or(false)),
    );
    if let Some(d) = &r.display_name {
        o.insert("displayName".into(), json!(d));
    }
    o.insert(
        "attributes".into(),
        json!(r.attributes.clone().unwrap_or_default()),
    );
    o.insert("_id".into(), json!(r.id));
    o.insert("uris".into(), json!(r.uris.clone().unwrap_or_default()));
    let scopes: Vec<Value> = r
        .scopes
        .iter()
        .flatten()
        .filter_map(|s| server.scope(s.id.as_deref().unwrap_or_default()))
        .map(|s| {
            let mut m = Map::new();
            m.insert("id".into(), json!(s.id));
            m.insert("name".into(), json!(s.name));
            if let Some(i) = &s.icon_uri {
                m.insert("iconUri".into(), json!(i));
            }
            Value::Object(m)
        })
        .collect();
    if !scopes.is_empty() {
        o.insert("resource_scopes".into(), Value::Array(scopes.clone()));
        o.insert("scopes".into(), Value::Array(scopes));
    }
    if let Some(i) = &r.icon_uri {
        o.insert("icon_uri".into(), json!(i));
    }
    Value::Object(o)
}

// ---------------------------------------------------------------------------------------
// resource_set

/// `POST .../resource_set`: 201 with the resource; the owner defaults to the caller.
pub async fn create_resource(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, true).await?;
    let mut v = admin_authz::object(representation(&bytes, &Shape::One(&UMA_RESOURCE))?)?;
    // `ResourceService.create`: an owner without an id is the caller.
    let owner_given = match v.get("owner") {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).is_some(),
        _ => false,
    };
    if !owner_given {
        let mut owner = match v.remove("owner") {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        owner.insert("id".into(), json!(c.identity));
        v.insert("owner".into(), Value::Object(owner));
    }
    let refs = admin_authz::resource_owner_ref(&v);
    let server = admin_authz::mutate(&state, &c.snap, &c.client_uuid, refs, |dir, s| {
        check_remote(s)?;
        let mut new_scopes = Vec::new();
        let r = az::resource_in(dir, s, &v, None, &mut new_scopes)?;
        s.scopes.extend(new_scopes);
        s.resources.push(r);
        Ok(s.clone())
    })
    .await?;
    let r = server.resources.last().ok_or(AdminError::Internal)?;
    Ok((StatusCode::CREATED, Json(uma_resource_json(&server, r))).into_response())
}

/// `GET .../resource_set`: the ids of the matching resources, or with `deep=true` the
/// resources as the Admin API shows them.
pub async fn list_resources(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<ResourceQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let c = caller(&state, &realm, &headers, &uri, true).await?;
    let l = admin_authz::load(
        &state,
        &c.snap,
        &c.client_uuid,
        q.owner.clone().into_iter().collect(),
    )
    .await?;
    let hits = admin_authz::find_resources(&l, &q);
    let deep = q.deep == Some(true);
    let dir = Dir {
        realm: &c.snap.rep,
        users: &l.users,
    };
    let out: Vec<Value> = hits
        .into_iter()
        .map(|r| {
            if deep {
                az::resource_json(dir, &l.server, r, true)
            } else {
                json!(r.id)
            }
        })
        .collect();
    Ok(Json(admin_authz::page(out, q.first, q.max)))
}

/// `GET .../resource_set/{id}`: 404 without a body when missing.
pub async fn get_resource(
    State(state): State<AppState>,
    Path((realm, rid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Json<Value>> {
    let c = caller(&state, &realm, &headers, &uri, true).await?;
    let l = admin_authz::load(&state, &c.snap, &c.client_uuid, Vec::new()).await?;
    let r = l
        .server
        .resource(&rid)
        .ok_or(AdminError::Empty(StatusCode::NOT_FOUND))?;
    Ok(Json(uma_resource_json(&l.server, r)))
}

/// `PUT .../resource_set/{id}`: 204.
pub async fn update_resource(
    State(state): State<AppState>,
    Path((realm, rid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, true).await?;
    let v = admin_authz::object(representation(&bytes, &Shape::One(&UMA_RESOURCE))?)?;
    let refs = admin_authz::resource_owner_ref(&v);
    admin_authz::mutate(&state, &c.snap, &c.client_uuid, refs, |dir, s| {
        let current = s
            .resource(&rid)
            .cloned()
            .ok_or(AdminError::Empty(StatusCode::NOT_FOUND))?;
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

/// `DELETE .../resource_set/{id}`: 204; its user-managed permissions go with it.
pub async fn delete_resource(
    State(state): State<AppState>,
    Path((realm, rid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, true).await?;
    admin_authz::mutate(&state, &c.snap, &c.client_uuid, Vec::new(), |_, s| {
        check_remote(s)?;
        s.resource(&rid)
            .ok_or(AdminError::Empty(StatusCode::NOT_FOUND))?;
        az::remove_resource(s, &rid);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

// ---------------------------------------------------------------------------------------
// permission (tickets)

/// `AbstractPermissionService.verifyRequestedResource`: each request's resource (by id, else
/// by name among the caller's and, for a user, the server's) with its scopes by name.
fn ticket_permissions(c: &Caller, server: &Server, body: &Value) -> AdminResult<Vec<Value>> {
    let invalid = || {
        denied(
            StatusCode::BAD_REQUEST,
            "invalid_permission_request",
            "Invalid permission request.",
        )
    };
    let requests: Vec<&Map<String, Value>> = match body {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_object().ok_or_else(invalid))
            .collect::<AdminResult<_>>()?,
        Value::Object(o) => vec![o],
        _ => return Err(invalid()),
    };
    if requests.is_empty() {
        return Err(invalid());
    }
    let mut out = Vec::new();
    for req in requests {
        let scopes: Vec<String> = match req.get("resource_scopes").or_else(|| req.get("scopes")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map(str::to_string).ok_or_else(invalid))
                .collect::<AdminResult<_>>()?,
            Some(_) => return Err(invalid()),
        };
        let scope_err = |s: &str| {
            denied(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("Scope [{s}] is invalid"),
            )
        };
        let Some(rid) = req.get("resource_id").and_then(Value::as_str) else {
            if scopes.is_empty() {
                return Err(denied(
                    StatusCode::BAD_REQUEST,
                    "invalid_resource_id",
                    "Resource id or name not provided.",
                ));
            }
            for s in &scopes {
                server.scope_ref(s).ok_or_else(|| scope_err(s))?;
            }
            out.push(json!({ "scopes": scopes }));
            continue;
        };
        let mut resources: Vec<&ResourceRepresentation> = Vec::new();
        if let Some(r) = server.resource(rid) {
            resources.push(r);
        } else {
            let by_name = |owner: &str| {
                server
                    .resources
                    .iter()
                    .find(|r| r.name.as_deref() == Some(rid) && az::owner_id(r) == owner)
            };
            resources.extend(by_name(&c.identity));
            if c.identity != c.client_uuid {
                resources.extend(by_name(&c.client_uuid));
            }
        }
        if resources.is_empty() {
            return Err(denied(
                StatusCode::BAD_REQUEST,
                "invalid_resource_id",
                format!("Resource set with id [{rid}] does not exists in this server."),
            ));
        }
        for r in resources {
            let names: Vec<String> = r
                .scopes
                .iter()
                .flatten()
                .filter_map(|s| server.scope(s.id.as_deref()?)?.name.clone())
                .collect();
            for s in &scopes {
                if !names.contains(s) {
                    return Err(scope_err(s));
                }
            }
            let mut p = Map::new();
            p.insert("rsid".into(), json!(r.id));
            if !scopes.is_empty() {
                p.insert("scopes".into(), json!(scopes));
            }
            out.push(Value::Object(p));
        }
    }
    Ok(out)
}

/// `POST .../permission`: 201 `{"ticket": <JWT>}` (Keycloak's `PermissionTicketToken`:
/// the permissions, the resource server as audience, the caller's subject and `azp`, the
/// PAT's expiry; signed with the realm's key).
pub async fn create_ticket(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let body: Value = super::body(&bytes)?;
    let l = admin_authz::load(&state, &c.snap, &c.client_uuid, Vec::new()).await?;
    let permissions = ticket_permissions(&c, &l.server, &body)?;
    let mut claims = Map::new();
    let now = crate::clock::now();
    claims.insert(
        "exp".into(),
        c.claims.get("exp").cloned().unwrap_or(json!(now)),
    );
    claims.insert("iat".into(), json!(now));
    claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    claims.insert("iss".into(), json!(c.issuer));
    claims.insert("aud".into(), json!(c.client_id));
    if let Some(sub) = c.claims.get("sub") {
        claims.insert("sub".into(), sub.clone());
    }
    claims.insert("azp".into(), json!(c.claims.get("azp")));
    claims.insert("permissions".into(), Value::Array(permissions));
    // Claims pushed by the resource server, merged over the requests.
    let mut pushed = Map::new();
    for req in body
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_else(|| vec![&body])
    {
        if let Some(Value::Object(m)) = req.get("claims") {
            pushed.extend(m.clone());
        }
    }
    if !pushed.is_empty() {
        claims.insert("claims".into(), Value::Object(pushed));
    }
    let ticket = crate::tokens::sign_jwt(&c.snap, Some("RS256"), &Value::Object(claims))
        .map_err(|_| AdminError::Internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "ticket": ticket }))).into_response())
}

// ---------------------------------------------------------------------------------------
// uma-policy

/// Query of `GET .../uma-policy`.
#[derive(Debug, Deserialize)]
pub struct UmaPolicyQuery {
    name: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
}

fn uma_user_refs(v: &Map<String, Value>) -> Vec<String> {
    v.get("users")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn policy_missing(id: &str) -> AdminError {
    denied(
        StatusCode::NOT_FOUND,
        "invalid_request",
        format!("Policy with [{id}] does not exist"),
    )
}

/// The resource a user-managed permission applies to (`getAssociatedResourceId`).
fn uma_resource_of(s: &Server, policy_id: &str) -> AdminResult<String> {
    let p = s
        .policy(policy_id)
        .filter(|p| p.kind.as_deref() == Some("uma"))
        .ok_or_else(|| policy_missing(policy_id))?;
    az::ids(p, "resources")
        .into_iter()
        .next()
        .ok_or_else(|| policy_missing(policy_id))
}

fn uma_body(bytes: &[u8]) -> AdminResult<Map<String, Value>> {
    match super::body::<Value>(bytes)? {
        Value::Object(m) => Ok(m),
        _ => Err(denied(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Failed to parse representation",
        )),
    }
}

/// `POST .../uma-policy/{resourceId}`: the new permission (200).
pub async fn create_uma_policy(
    State(state): State<AppState>,
    Path((realm, rid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Json<Value>> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let v = uma_body(&bytes)?;
    if v.get("id").is_some_and(|i| !i.is_null()) {
        return Err(denied(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Newly created uma policies should not have an id",
        ));
    }
    let (server, users, id) = admin_authz::mutate(
        &state,
        &c.snap,
        &c.client_uuid,
        uma_user_refs(&v),
        |dir, s| {
            let p = az::uma_policy_in(dir, s, &rid, &c.identity, &v, None)?;
            let id = p.id.clone().unwrap_or_default();
            s.policies.push(p);
            Ok((s.clone(), dir.users.clone(), id))
        },
    )
    .await?;
    let p = server.policy(&id).ok_or(AdminError::Internal)?;
    let dir = Dir {
        realm: &c.snap.rep,
        users: &users,
    };
    Ok(Json(az::uma_policy_json(dir, &server, p)))
}

/// `GET .../uma-policy`: the caller's user-managed permissions.
pub async fn list_uma_policies(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<UmaPolicyQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let l = admin_authz::load(&state, &c.snap, &c.client_uuid, Vec::new()).await?;
    let s = &l.server;
    let dir = Dir {
        realm: &c.snap.rep,
        users: &l.users,
    };
    let nonempty = |o: &Option<String>| o.clone().filter(|x| !x.trim().is_empty());
    let resource = nonempty(&q.resource).map(|r| {
        s.resource(&r)
            .map(|x| vec![x.id.clone().unwrap_or_default()])
            .unwrap_or_else(|| {
                s.resources
                    .iter()
                    .filter(|x| admin_authz::contains_ci(x.name.as_deref(), &r))
                    .filter_map(|x| x.id.clone())
                    .collect()
            })
    });
    let scope = nonempty(&q.scope).map(|sc| {
        s.scopes
            .iter()
            .filter(|x| {
                x.id.as_deref() == Some(sc.as_str()) || x.name.as_deref() == Some(sc.as_str())
            })
            .filter_map(|x| x.id.clone())
            .collect::<Vec<_>>()
    });
    let hits: Vec<Value> = s
        .policies
        .iter()
        .filter(|p| p.kind.as_deref() == Some("uma"))
        .filter(|p| p.owner.as_deref() == Some(c.identity.as_str()))
        .filter(|p| {
            nonempty(&q.name).is_none_or(|n| admin_authz::contains_ci(p.name.as_deref(), &n))
        })
        .filter(|p| {
            resource
                .as_ref()
                .is_none_or(|ids| az::ids(p, "resources").iter().any(|r| ids.contains(r)))
        })
        .filter(|p| {
            scope
                .as_ref()
                .is_none_or(|ids| az::ids(p, "scopes").iter().any(|r| ids.contains(r)))
        })
        .map(|p| az::uma_policy_json(dir, s, p))
        .collect();
    Ok(Json(admin_authz::page(hits, q.first, q.max)))
}

/// `GET .../uma-policy/{policyId}`.
pub async fn get_uma_policy(
    State(state): State<AppState>,
    Path((realm, pid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Json<Value>> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let l = admin_authz::load(&state, &c.snap, &c.client_uuid, Vec::new()).await?;
    let rid = uma_resource_of(&l.server, &pid)?;
    az::uma_check_resource(&l.server, &rid, &c.identity).map_err(AdminError::from)?;
    let p = l.server.policy(&pid).ok_or_else(|| policy_missing(&pid))?;
    let dir = Dir {
        realm: &c.snap.rep,
        users: &l.users,
    };
    Ok(Json(az::uma_policy_json(dir, &l.server, p)))
}

/// `PUT .../uma-policy/{policyId}`: 201 without a body (`PolicyTypeResourceService.update`).
pub async fn update_uma_policy(
    State(state): State<AppState>,
    Path((realm, pid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    let v = uma_body(&bytes)?;
    admin_authz::mutate(
        &state,
        &c.snap,
        &c.client_uuid,
        uma_user_refs(&v),
        |dir, s| {
            let rid = uma_resource_of(s, &pid)?;
            let current = s
                .policy(&pid)
                .cloned()
                .ok_or_else(|| policy_missing(&pid))?;
            let p = az::uma_policy_in(dir, s, &rid, &c.identity, &v, Some(&current))?;
            if let Some(slot) = s.policies.iter_mut().find(|x| x.id == current.id) {
                *slot = p;
            }
            Ok(())
        },
    )
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE .../uma-policy/{policyId}`: 204.
pub async fn delete_uma_policy(
    State(state): State<AppState>,
    Path((realm, pid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let c = caller(&state, &realm, &headers, &uri, false).await?;
    admin_authz::mutate(&state, &c.snap, &c.client_uuid, Vec::new(), |_, s| {
        let rid = uma_resource_of(s, &pid)?;
        az::uma_check_resource(s, &rid, &c.identity)?;
        az::remove_policy(s, &pid);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// The routes.
pub fn routes() -> Router<AppState> {
    const BASE: &str = crate::http::paths::AUTHZ_PROTECTION;
    Router::new()
        .route(
            &format!("{BASE}/resource_set"),
            routing::get(list_resources).post(create_resource),
        )
        .route(
            &format!("{BASE}/resource_set/{{id}}"),
            routing::get(get_resource)
                .put(update_resource)
                .delete(delete_resource),
        )
        .route(&format!("{BASE}/permission"), routing::post(create_ticket))
        .route(
            &format!("{BASE}/uma-policy"),
            routing::get(list_uma_policies),
        )
        .route(
            &format!("{BASE}/uma-policy/{{id}}"),
            routing::post(create_uma_policy)
                .get(get_uma_policy)
                .put(update_uma_policy)
                .delete(delete_uma_policy),
        )
}
