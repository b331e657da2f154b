//! GET /realms/{realm}/account/resources[/shared-with-me|/shared-with-others|/pending-requests]
//! GET /realms/{realm}/account/resources/{id}[/permissions|/permissions/requests|/user?value=]
//! PUT /realms/{realm}/account/resources/{id}/permissions
//! Keycloak's `ResourcesService` and `ResourceService` (account REST API, UMA resource
//! owners): the user's own resources, what others shared with the user and what the user
//! shared, pending requests, and the owner's grants (`PUT .../permissions`), which is where a
//! requester's submitted request (a ticket without `grantedTimestamp`) is granted.
//!
//! Shapes are `AbstractResourceService`'s: `Resource` (`_id`, `name`, `displayName`, `uris`,
//! `icon_uri`, `scopes` as `{name, displayName, iconUri}`, `client` as `{clientId, name,
//! baseUrl}`), `ResourcePermission` (a `Resource` with `scopes` replaced by the granted ones
//! and `permissions`) and `Permission` (`username`, `firstName`, `lastName`, `email`,
//! `scopes` as names); nulls are left out, as Keycloak's JSON mapper does.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::realm::authz::{self as az, owner_id, Server};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::authz::{ResourceRepresentation, ScopeRepresentation};
use crate::representation::UserRepresentation;
use crate::store::{PermissionTicketRow, Store, StoreError};
use crate::users::parse_user;

/// One request to the resources API, the caller authorized already.
pub(super) struct Request<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The realm.
    pub snap: &'a RealmSnapshot,
    /// The signed-in user's id.
    pub user_id: &'a str,
    /// The token holds `manage-account` (needed to change permissions).
    pub manage: bool,
    /// The path below `/resources`.
    pub rest: &'a [&'a str],
    /// Method.
    pub method: &'a Method,
    /// The query string.
    pub query: Option<&'a str>,
    /// The request's absolute URL without its query (for the paging `Link`s).
    pub url: String,
    /// The body (`PUT`).
    pub body: &'a [u8],
}

/// Keycloak's JAX-RS error body `{"error": ...}`.
fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "error": text.into() }))).into_response()
}

fn internal(e: StoreError) -> Response {
    tracing::error!(error = %e, "account resources: store failure");
    error(StatusCode::INTERNAL_SERVER_ERROR, "unknown_error")
}

/// Answers one request of the resources API.
pub(super) async fn handle(req: Request<'_>) -> Response {
    match run(&req).await {
        Ok(r) | Err(r) => r,
    }
}

type Answer = Result<Response, Response>;

async fn run(req: &Request<'_>) -> Answer {
    let q = Query::parse(req.query);
    let get = *req.method == Method::GET;
    match req.rest {
        [] if get => owned(req, &q).await,
        ["shared-with-me"] if get => shared_with_me(req, &q).await,
        ["shared-with-others"] if get => shared_with_others(req, &q).await,
        ["pending-requests"] if get => pending_requests(req).await,
        [id, rest @ ..] => one_resource(req, id, rest, &q).await,
        _ => Err(error(StatusCode::NOT_FOUND, "HTTP 404 Not Found")),
    }
}

/// The query parameters these endpoints read.
#[derive(Default)]
struct Query {
    first: Option<i64>,
    max: Option<i64>,
    name: Option<String>,
    value: Option<String>,
}

impl Query {
    fn parse(q: Option<&str>) -> Self {
        let mut out = Query::default();
        for (k, v) in url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
            match k.as_ref() {
                "first" => out.first = v.trim().parse().ok(),
                "max" => out.max = v.trim().parse().ok(),
                "name" => out.name = Some(v.into_owned()),
                "value" => out.value = Some(v.into_owned()),
                _ => {}
            }
        }
        out
    }
}

/// A resource server with its client's representation fields and tickets.
struct Loaded {
    server: Server,
    client: Value,
    tickets: Vec<PermissionTicketRow>,
}

/// Every resource server of the realm, with its tickets.
async fn servers(req: &Request<'_>) -> Result<Vec<Loaded>, Response> {
    let realm_id = &req.snap.id;
    let rows = req
        .store
        .resource_servers(realm_id)
        .await
        .map_err(internal)?;
    let mut out = Vec::new();
    for row in rows {
        let c = req
            .snap
            .rep
            .clients
            .iter()
            .flatten()
            .find(|c| c.id.as_deref() == Some(row.id.as_str()));
        let Some(c) = c else { continue };
        let client_id = c.client_id.clone().unwrap_or_default();
        let Some((server, _)) = az::load(req.store, realm_id, &row.id, &client_id)
            .await
            .map_err(internal)?
        else {
            continue;
        };
        let mut client = Map::new();
        client.insert("clientId".into(), json!(client_id));
        if let Some(n) = &c.name {
            client.insert("name".into(), json!(n));
        }
        if let Some(b) = &c.base_url {
            client.insert("baseUrl".into(), json!(b));
        }
        let tickets = req
            .store
            .permission_tickets(realm_id, &row.id)
            .await
            .map_err(internal)?;
        out.push(Loaded {
            server,
            client: Value::Object(client),
            tickets,
        });
    }
    Ok(out)
}

/// `AbstractResourceService.Scope`.
fn scope_json(s: &ScopeRepresentation) -> Value {
    let mut o = Map::new();
    if let Some(n) = &s.name {
        o.insert("name".into(), json!(n));
    }
    if let Some(d) = &s.display_name {
        o.insert("displayName".into(), json!(d));
    }
    if let Some(i) = &s.icon_uri {
        o.insert("iconUri".into(), json!(i));
    }
    Value::Object(o)
}

/// `AbstractResourceService.Resource`; `scopes` given (the resource's own, or the granted
/// ones of a `ResourcePermission`).
fn resource_json(l: &Loaded, r: &ResourceRepresentation, scopes: Vec<Value>) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("_id".into(), json!(r.id));
    o.insert("name".into(), json!(r.name));
    if let Some(d) = &r.display_name {
        o.insert("displayName".into(), json!(d));
    }
    o.insert("uris".into(), json!(r.uris.clone().unwrap_or_default()));
    if let Some(i) = &r.icon_uri {
        o.insert("icon_uri".into(), json!(i));
    }
    o.insert("scopes".into(), Value::Array(scopes));
    o.insert("client".into(), l.client.clone());
    o
}

fn own_scopes(l: &Loaded, r: &ResourceRepresentation) -> Vec<Value> {
    r.scopes
        .iter()
        .flatten()
        .filter_map(|s| l.server.scope(s.id.as_deref()?))
        .map(scope_json)
        .collect()
}

fn scope_name(l: &Loaded, t: &PermissionTicketRow) -> Option<String> {
    l.server.scope(t.scope_id.as_deref()?)?.name.clone()
}

fn name_matches(r: &ResourceRepresentation, name: Option<&str>) -> bool {
    name.is_none_or(|n| {
        r.name
            .as_deref()
            .is_some_and(|have| have.to_lowercase().contains(&n.to_lowercase()))
    })
}

/// Users by id, loaded once: `(username, firstName, lastName, email)`.
struct People<'a> {
    store: &'a dyn Store,
    realm_id: &'a str,
    seen: HashMap<String, Option<UserRepresentation>>,
}

impl People<'_> {
    async fn get(&mut self, id: &str) -> Result<Option<UserRepresentation>, Response> {
        if let Some(u) = self.seen.get(id) {
            return Ok(u.clone());
        }
        let u = match self
            .store
            .user_by_id(self.realm_id, id)
            .await
            .map_err(internal)?
        {
            Some(row) => Some(parse_user(&row).map_err(internal)?),
            None => None,
        };
        self.seen.insert(id.to_string(), u.clone());
        Ok(u)
    }

    /// `AbstractResourceService.Permission` of a user, scopes to be added.
    async fn permission(&mut self, id: &str) -> Result<Map<String, Value>, Response> {
        let mut o = Map::new();
        if let Some(u) = self.get(id).await? {
            for (k, v) in [
                ("username", &u.username),
                ("firstName", &u.first_name),
                ("lastName", &u.last_name),
                ("email", &u.email),
            ] {
                if let Some(v) = v {
                    o.insert(k.into(), json!(v));
                }
            }
        }
        o.insert("scopes".into(), json!([]));
        Ok(o)
    }
}

/// Groups tickets by requester, in first-seen order, as `Permission`s with scope names.
async fn by_requester(
    people: &mut People<'_>,
    l: &Loaded,
    tickets: &[&PermissionTicketRow],
) -> Result<Vec<Value>, Response> {
    let mut order: Vec<String> = Vec::new();
    let mut perms: HashMap<String, Map<String, Value>> = HashMap::new();
    for t in tickets {
        if !perms.contains_key(&t.requester) {
            let p = people.permission(&t.requester).await?;
            perms.insert(t.requester.clone(), p);
            order.push(t.requester.clone());
        }
        if let (Some(p), Some(name)) = (perms.get_mut(&t.requester), scope_name(l, t)) {
            if let Some(Value::Array(a)) = p.get_mut("scopes") {
                a.push(json!(name));
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|r| perms.remove(&r).map(Value::Object))
        .collect())
}

/// Keycloak's `queryResponse`: with both `first` and `max`, one page and the `Link`s to the
/// next and previous pages; otherwise everything.
fn paged(req: &Request<'_>, q: &Query, items: Vec<Value>) -> Response {
    let (Some(first), Some(max)) = (q.first, q.max) else {
        return Json(items).into_response();
    };
    let (first, max) = (first.max(0), max.max(0));
    let page: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(first).unwrap_or(0))
        .take(usize::try_from(max + 1).unwrap_or(usize::MAX))
        .collect();
    let size = i64::try_from(page.len()).unwrap_or(i64::MAX);
    let next = size > max;
    let page: Vec<Value> = page
        .into_iter()
        .take(usize::try_from(max).unwrap_or(0))
        .collect();
    let mut links = Vec::new();
    if !(size == 0 || (first == 0 && size <= max)) {
        if next {
            links.push(format!(
                "<{}?first={}&max={max}>; rel=\"next\"",
                req.url,
                first + max
            ));
        }
        if first > 0 {
            links.push(format!(
                "<{}?first={}&max={max}>; rel=\"prev\"",
                req.url,
                (first - max).max(0)
            ));
        }
    }
    let mut r = Json(page).into_response();
    for l in links {
        if let Ok(v) = HeaderValue::from_str(&l) {
            r.headers_mut().append(header::LINK, v);
        }
    }
    r
}

/// `GET /resources?name&first&max`: the resources the user owns, by name.
async fn owned(req: &Request<'_>, q: &Query) -> Answer {
    let all = servers(req).await?;
    let mut found: Vec<(String, Value)> = Vec::new();
    for l in &all {
        for r in &l.server.resources {
            if owner_id(r) == req.user_id && name_matches(r, q.name.as_deref()) {
                let v = Value::Object(resource_json(l, r, own_scopes(l, r)));
                found.push((r.name.clone().unwrap_or_default(), v));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(paged(req, q, found.into_iter().map(|(_, v)| v).collect()))
}

/// `GET /resources/shared-with-me?name&first&max`: resources others granted the user, each
/// with the granted scopes.
async fn shared_with_me(req: &Request<'_>, q: &Query) -> Answer {
    let all = servers(req).await?;
    let mut out = Vec::new();
    for l in &all {
        for r in &l.server.resources {
            let rid = r.id.as_deref().unwrap_or_default();
            let granted: Vec<&PermissionTicketRow> = l
                .tickets
                .iter()
                .filter(|t| {
                    t.resource_id == rid
                        && t.requester == req.user_id
                        && t.granted_timestamp.is_some()
                })
                .collect();
            if granted.is_empty() || !name_matches(r, q.name.as_deref()) {
                continue;
            }
            let scopes = granted
                .iter()
                .filter_map(|t| l.server.scope(t.scope_id.as_deref()?))
                .map(scope_json)
                .collect();
            out.push(Value::Object(resource_json(l, r, scopes)));
        }
    }
    Ok(paged(req, q, out))
}

/// `GET /resources/shared-with-others?first&max`: the user's resources granted to others,
/// each with `permissions` per requester.
async fn shared_with_others(req: &Request<'_>, q: &Query) -> Answer {
    let all = servers(req).await?;
    let mut people = People {
        store: req.store,
        realm_id: &req.snap.id,
        seen: HashMap::new(),
    };
    let mut out = Vec::new();
    for l in &all {
        for r in &l.server.resources {
            let rid = r.id.as_deref().unwrap_or_default();
            let granted: Vec<&PermissionTicketRow> = l
                .tickets
                .iter()
                .filter(|t| {
                    t.resource_id == rid && t.owner == req.user_id && t.granted_timestamp.is_some()
                })
                .collect();
            if granted.is_empty() {
                continue;
            }
            let mut o = resource_json(l, r, Vec::new());
            o.insert(
                "permissions".into(),
                Value::Array(by_requester(&mut people, l, &granted).await?),
            );
            out.push(Value::Object(o));
        }
    }
    Ok(paged(req, q, out))
}

/// `GET /resources/pending-requests`: the user's own requests not granted yet, one entry per
/// ticket with its scope.
async fn pending_requests(req: &Request<'_>) -> Answer {
    let all = servers(req).await?;
    let mut out = Vec::new();
    for l in &all {
        for t in l
            .tickets
            .iter()
            .filter(|t| t.requester == req.user_id && t.granted_timestamp.is_none())
        {
            let Some(r) = l.server.resource(&t.resource_id) else {
                continue;
            };
            let scopes = l
                .server
                .scope(t.scope_id.as_deref().unwrap_or_default())
                .map(scope_json)
                .into_iter()
                .collect();
            out.push(Value::Object(resource_json(l, r, scopes)));
        }
    }
    Ok(Json(out).into_response())
}

/// `/resources/{id}/...`: a resource the user owns (`404 resource_not_found` when unknown,
/// `400 invalid_resource` when another's).
async fn one_resource(req: &Request<'_>, id: &str, rest: &[&str], q: &Query) -> Answer {
    let all = servers(req).await?;
    let Some(l) = all.iter().find(|l| l.server.resource(id).is_some()) else {
        return Err(error(StatusCode::NOT_FOUND, "resource_not_found"));
    };
    let Some(r) = l.server.resource(id) else {
        return Err(error(StatusCode::NOT_FOUND, "resource_not_found"));
    };
    if owner_id(r) != req.user_id {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_resource"));
    }
    let mut people = People {
        store: req.store,
        realm_id: &req.snap.id,
        seen: HashMap::new(),
    };
    let tickets = |granted: bool| -> Vec<&PermissionTicketRow> {
        l.tickets
            .iter()
            .filter(|t| {
                t.resource_id == id
                    && t.owner == req.user_id
                    && t.granted_timestamp.is_some() == granted
            })
            .collect()
    };
    let get = *req.method == Method::GET;
    match rest {
        [] if get => Ok(Json(Value::Object(resource_json(l, r, own_scopes(l, r)))).into_response()),
        ["permissions"] if get => {
            Ok(Json(by_requester(&mut people, l, &tickets(true)).await?).into_response())
        }
        ["permissions", "requests"] if get => {
            Ok(Json(by_requester(&mut people, l, &tickets(false)).await?).into_response())
        }
        ["user"] if get => user(req, q.value.as_deref()).await,
        ["permissions"] if *req.method == Method::PUT => put_permissions(req, l, id).await,
        _ => Err(error(StatusCode::NOT_FOUND, "HTTP 404 Not Found")),
    }
}

/// A user by user name, then by e-mail (`ResourceService.getUser`).
async fn find_user(req: &Request<'_>, value: &str) -> Result<Option<UserRepresentation>, Response> {
    let store = req.store;
    let lower = value.to_lowercase();
    if let Some(row) = store
        .user_by_username(&req.snap.id, &lower)
        .await
        .map_err(internal)?
    {
        return Ok(Some(parse_user(&row).map_err(internal)?));
    }
    let by_mail = store
        .users_by_email(&req.snap.id, &lower)
        .await
        .map_err(internal)?;
    match by_mail.as_slice() {
        [row] => Ok(Some(parse_user(row).map_err(internal)?)),
        _ => Ok(None),
    }
}

/// `GET /resources/{id}/user?value=`: the user to share with, by user name or e-mail; 204
/// when there is none.
async fn user(req: &Request<'_>, value: Option<&str>) -> Answer {
    let Some(u) = (match value {
        Some(v) => find_user(req, v).await?,
        None => None,
    }) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut o = Map::new();
    o.insert("id".into(), json!(u.id));
    if let Some(t) = u.created_timestamp {
        o.insert("createdTimestamp".into(), json!(t));
    }
    o.insert("username".into(), json!(u.username));
    o.insert("enabled".into(), json!(u.enabled.unwrap_or(true)));
    o.insert(
        "emailVerified".into(),
        json!(u.email_verified.unwrap_or(false)),
    );
    for (k, v) in [
        ("firstName", &u.first_name),
        ("lastName", &u.last_name),
        ("email", &u.email),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    Ok(Json(Value::Object(o)).into_response())
}

/// One entry of the `PUT .../permissions` body (`Permission`): a user name (or e-mail) and
/// scope names or ids (strings, or objects with a `name`).
/// `None` for a body that is no non-empty list of them (400 `invalid_permissions`).
fn parse_permissions(body: &[u8]) -> Option<Vec<(String, Vec<String>)>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let list = v.as_array().filter(|a| !a.is_empty())?;
    list.iter()
        .map(|p| {
            let name = p.get("username").and_then(Value::as_str)?;
            let scopes = match p.get("scopes") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|s| match s {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => {
                            o.get("name").and_then(Value::as_str).map(str::to_string)
                        }
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?,
                Some(_) => return None,
            };
            Some((name.to_string(), scopes))
        })
        .collect()
}

/// `PUT /resources/{id}/permissions` (`ResourceService.revoke`, `manage-account`): for each
/// user, exactly the scopes listed are granted afterwards: pending tickets of those scopes
/// are granted, missing ones created granted, the user's other tickets on the resource
/// deleted. 204.
async fn put_permissions(req: &Request<'_>, l: &Loaded, rid: &str) -> Answer {
    if !req.manage {
        return Err(error(StatusCode::FORBIDDEN, "HTTP 403 Forbidden"));
    }
    let wanted = parse_permissions(req.body)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "invalid_permissions"))?;
    let realm_id = &req.snap.id;
    let server_id = &l.server.id;
    let now = crate::clock::now_millis();
    for (name, scopes) in wanted {
        let Some(requester) = find_user(req, &name).await? else {
            return Err(error(StatusCode::NOT_FOUND, name));
        };
        let requester = requester.id.unwrap_or_default();
        let mut scope_ids = Vec::new();
        for s in &scopes {
            let Some(sc) = l.server.scope_ref(s).and_then(|x| x.id.clone()) else {
                return Err(error(StatusCode::BAD_REQUEST, "invalid_scope"));
            };
            if !scope_ids.contains(&sc) {
                scope_ids.push(sc);
            }
        }
        let existing: Vec<&PermissionTicketRow> = l
            .tickets
            .iter()
            .filter(|t| t.resource_id == rid && t.requester == requester)
            .collect();
        for sc in &scope_ids {
            match existing
                .iter()
                .find(|t| t.scope_id.as_deref() == Some(sc.as_str()))
            {
                Some(t) if t.granted_timestamp.is_some() => {}
                Some(t) => {
                    req.store
                        .grant_permission_ticket(realm_id, server_id, &t.id, now)
                        .await
                        .map_err(internal)?;
                }
                None => {
                    let row = PermissionTicketRow {
                        id: uuid::Uuid::new_v4().to_string(),
                        server_id: server_id.clone(),
                        owner: req.user_id.to_string(),
                        requester: requester.clone(),
                        resource_id: rid.to_string(),
                        scope_id: Some(sc.clone()),
                        policy_id: None,
                        created_timestamp: now,
                        granted_timestamp: Some(now),
                    };
                    match req.store.put_permission_ticket(realm_id, &row).await {
                        Ok(()) | Err(StoreError::Unique(_)) => {}
                        Err(e) => return Err(internal(e)),
                    }
                }
            }
        }
        for t in existing {
            let kept = t.scope_id.as_ref().is_some_and(|s| scope_ids.contains(s));
            if !kept {
                req.store
                    .delete_permission_ticket(realm_id, server_id, &t.id)
                    .await
                    .map_err(internal)?;
            }
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
