//! POST/GET/PUT/DELETE /realms/{realm}/clients-registrations/default[/{clientId}]        (Keycloak's `ClientRepresentation`)
//! POST/GET/PUT/DELETE /realms/{realm}/clients-registrations/openid-connect[/{clientId}] (RFC 7591 / RFC 7592)
//! GET                 /realms/{realm}/clients-registrations/install/{clientId}          (keycloak.json)
//!
//! Keycloak's client registration service (`services/.../clientregistration/`). A create is
//! authorized by an initial access token (Admin API `clients-initial-access`; its uses and
//! lifetime are checked, and the use is spent in the same transaction that stores the client),
//! by an access token with `create-client` or `manage-clients` (the Admin API's caller rules), or
//! not at all, when the realm's `anonymous` policies allow it. Each registered client gets a
//! registration access token: random, stored only as its SHA-256 (with the policy set it was
//! issued under) in the client's `registrationAccessToken` field, required to read, update or
//! delete the client and replaced by a new one on every read and update.

pub mod oidc_metadata;
pub mod policy;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::admin::auth::{Family, Need};
use crate::admin::AdminError;
use crate::crypto::sha256_hex as token_hash;
use crate::http::oauth_error::OAuthError;
use crate::http::paths;
use crate::realm::edit::{self, EditError};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{ClientRepresentation, RealmRepresentation};
use crate::store::{StoreError, Write};
use crate::AppState;
use policy::{Op, Origin, RegistrationAuth};

/// Where the hash of a client's registration access token is kept.
const TOKEN_FIELD: &str = "registrationAccessToken";

/// Request fields registration never takes from the caller: the token is the server's, and a
/// client may not hand itself roles (`defaultRoles` would make its roles realm defaults) or
/// authorization settings.
const NOT_FROM_CALLER: &[&str] = &[
    TOKEN_FIELD,
    "defaultRoles",
    "authorizationSettings",
    "access",
];

const VIEW_DENIED: &str =
    "Not authorized to view client. Not valid token or client credentials provided.";
const UPDATE_DENIED: &str =
    "Not authorized to update client. Maybe missing token or bad token type.";

// Errors, as Keycloak's `ErrorResponseException`: `{"error", "error_description"}`.

fn error(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError {
        status,
        error,
        description: description.into(),
        www_authenticate: None,
    }
}

/// 401 `invalid_token` (`ClientRegistrationAuth.unauthorized`).
fn unauthorized(d: &str) -> OAuthError {
    error(StatusCode::UNAUTHORIZED, "invalid_token", d)
}

/// 403 `insufficient_scope` (`ClientRegistrationAuth.forbidden`), also for policy rejections.
fn forbidden(d: impl Into<String>) -> OAuthError {
    error(StatusCode::FORBIDDEN, "insufficient_scope", d)
}

fn client_not_found() -> OAuthError {
    error(StatusCode::NOT_FOUND, "invalid_request", "Client not found")
}

/// 400 `invalid_client_metadata` (`ErrorCodes.INVALID_CLIENT_METADATA`).
fn invalid_metadata(d: impl Into<String>) -> OAuthError {
    error(StatusCode::BAD_REQUEST, "invalid_client_metadata", d)
}

fn realm_not_found() -> OAuthError {
    error(
        StatusCode::NOT_FOUND,
        "Realm does not exist",
        "For more on this error consult the server log.",
    )
}

/// A failure inside a registration's realm edit.
#[derive(Debug)]
enum Failed {
    /// The edit failed.
    Edit(EditError),
    /// The registration access token is no longer the client's.
    Denied,
}

impl From<EditError> for Failed {
    fn from(e: EditError) -> Self {
        Failed::Edit(e)
    }
}

/// A failed realm edit, in this service's terms.
fn from_edit(e: Failed, denied: &str) -> OAuthError {
    let e = match e {
        Failed::Denied => return unauthorized(denied),
        Failed::Edit(e) => e,
    };
    match e {
        EditError::Store(StoreError::Exhausted) => {
            unauthorized("No remaining count on initial access token")
        }
        // AbstractClientRegistrationProvider.create: ModelDuplicateException.
        EditError::Conflict(_)
        | EditError::Store(StoreError::Unique(_) | StoreError::VersionConflict) => {
            invalid_metadata("Client Identifier in use")
        }
        EditError::NotFound(_) => client_not_found(),
        EditError::Invalid(m) => invalid_metadata(m),
        EditError::Store(e) => {
            tracing::error!(error = %e, "client registration: store failed");
            OAuthError::server_error()
        }
        EditError::Internal => OAuthError::server_error(),
    }
}

/// [`edit::edit`] of a realm.
async fn edit_realm<T>(
    state: &AppState,
    realm: &str,
    f: impl FnMut(&mut RealmRepresentation, &mut Vec<Write>) -> Result<T, Failed>,
) -> Result<T, Failed> {
    edit::edit(state.store.as_ref(), &state.realms, realm, f).await
}

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTRATION_DEFAULT, post(create_default))
        .route(
            paths::REGISTRATION_DEFAULT_CLIENT,
            get(get_default).put(update_default).delete(delete_client),
        )
        .route(paths::REGISTRATION_OIDC, post(create_oidc))
        .route(
            paths::REGISTRATION_OIDC_CLIENT,
            get(get_oidc).put(update_oidc).delete(delete_client),
        )
        .route(paths::REGISTRATION_INSTALL, get(install))
}

// Who is calling.

/// How a request was authorized.
#[derive(Debug, Clone)]
enum Auth {
    /// No token (create only).
    Anonymous,
    /// An initial access token, spent when the client is stored.
    InitialAccess { token_hash: String },
    /// An access token with the needed administrative role.
    Bearer,
    /// The client's registration access token, issued under these policies.
    Registration(RegistrationAuth),
    /// The client itself (install only).
    Client,
}

impl Auth {
    /// The policy set that applies.
    fn policies(&self) -> RegistrationAuth {
        match self {
            Auth::Anonymous => RegistrationAuth::Anonymous,
            Auth::Registration(a) => *a,
            _ => RegistrationAuth::Authenticated,
        }
    }
}

/// The bearer token, if any; a JWT is an access token, anything else one of ours.
fn bearer(parts: &Parts) -> Option<(&str, bool)> {
    crate::oidc::bearer::from_header(&parts.headers)
        .filter(|t| !t.is_empty())
        .map(|t| (t, t.split('.').count() == 3))
}

/// An access token's caller with `need` in `realm`: 401 for a bad token, 403 without the role.
async fn admin_caller(
    state: &AppState,
    parts: &Parts,
    realm: &str,
    need: Need,
) -> Result<(), OAuthError> {
    let caller = crate::admin::auth::authenticate(state, parts)
        .await
        .map_err(|e| match e {
            AdminError::Internal => OAuthError::server_error(),
            _ => unauthorized("Failed decode token"),
        })?;
    if caller.can(realm, need) {
        Ok(())
    } else {
        Err(forbidden("Forbidden"))
    }
}

/// `ClientRegistrationAuth.requireCreate`.
async fn require_create(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
) -> Result<Auth, OAuthError> {
    match bearer(parts) {
        None => Ok(Auth::Anonymous),
        Some((_, true)) => {
            admin_caller(state, parts, &snap.name, Need::CreateClient).await?;
            Ok(Auth::Bearer)
        }
        Some((token, false)) => {
            let hash = token_hash(token);
            // Keycloak's initial access tokens are JWTs of the realm with `exp`: a token of
            // another realm, or an expired one, fails to decode.
            let Some(crate::store::InitialAccessMatch {
                realm_id,
                token: row,
            }) = state.store.initial_access_by_hash(&hash).await?
            else {
                return Err(unauthorized("Failed decode token"));
            };
            let now = crate::clock::now();
            if realm_id != snap.id || (row.expiration > 0 && row.created_at + row.expiration <= now)
            {
                return Err(unauthorized("Failed decode token"));
            }
            if row.remaining <= 0 {
                return Err(unauthorized("No remaining count on initial access token"));
            }
            Ok(Auth::InitialAccess { token_hash: hash })
        }
    }
}

/// `ClientRegistrationAuth.requireView` / `requireUpdateAuth`: an access token with `need`,
/// or the client's registration access token.
async fn require_client(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    client: Option<&ClientRepresentation>,
    need: Need,
    denied: &str,
) -> Result<Auth, OAuthError> {
    match bearer(parts) {
        Some((_, true)) => {
            admin_caller(state, parts, &snap.name, need).await?;
            if client.is_none() {
                return Err(client_not_found());
            }
            Ok(Auth::Bearer)
        }
        Some((token, false)) => client
            .and_then(|c| token_auth(c, token))
            .map(Auth::Registration)
            .ok_or_else(|| unauthorized(denied)),
        None => Err(unauthorized(denied)),
    }
}

/// A new registration access token for a client: the value for the caller, its hash (with the
/// policy set) on the client.
fn issue_token(c: &mut ClientRepresentation, auth: RegistrationAuth) -> String {
    let token = crate::crypto::random_alphanumeric(48);
    c.registration_access_token = Some(format!("{}.{}", auth.key(), token_hash(&token)));
    token
}

/// The policy set of a client's registration access token when `presented` is it (compared
/// by hash, in constant time).
fn token_auth(c: &ClientRepresentation, presented: &str) -> Option<RegistrationAuth> {
    let stored = c.registration_access_token.as_deref()?;
    let (auth, hash) = stored.split_once('.')?;
    aws_lc_rs::constant_time::verify_slices_are_equal(
        hash.as_bytes(),
        token_hash(presented).as_bytes(),
    )
    .ok()?;
    Some(RegistrationAuth::parse(auth))
}

/// The caller's address: the connection's, or the first hop of the trusted proxy header.
fn remote_addr(state: &AppState, parts: &Parts) -> Option<IpAddr> {
    crate::http::remote::remote_addr(
        state,
        &parts.headers,
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    )
}

/// The caller's address and the trusted host names resolved, for the policies of `auth`.
async fn origin(state: &AppState, parts: &Parts, snap: &RealmSnapshot, auth: &Auth) -> Origin {
    let mut resolved = HashMap::new();
    for name in policy::names_to_resolve(&snap.rep, auth.policies()) {
        let lookup = tokio::net::lookup_host((name.clone(), 0));
        if let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(3), lookup).await {
            let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            resolved.insert(name, ips);
        }
    }
    Origin {
        remote: remote_addr(state, parts),
        resolved,
    }
}

async fn run_policies(
    state: &AppState,
    parts: &Parts,
    snap: &RealmSnapshot,
    auth: &Auth,
    op: Op<'_>,
) -> Result<(), OAuthError> {
    let o = origin(state, parts, snap, auth).await;
    policy::before(&snap.rep, auth.policies(), op, &o).map_err(|r| {
        tracing::info!(realm = %snap.name, reason = %r.message(), "client registration rejected by policy");
        forbidden(r.message())
    })
}

// The operations, shared by both providers.

async fn realm(state: &AppState, name: &str) -> Result<Arc<RealmSnapshot>, OAuthError> {
    state.realm(name).await.map_err(|_| realm_not_found())
}

pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, OAuthError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(invalid_metadata("Client metadata invalid")),
    }
}

pub(crate) fn strip(mut req: Map<String, Value>) -> Map<String, Value> {
    for k in NOT_FROM_CALLER {
        req.remove(*k);
    }
    req
}

/// A registered client and the registration access token to hand out.
struct Done {
    client: ClientRepresentation,
    token: Option<String>,
}

/// `AbstractClientRegistrationProvider.create`.
/// Keycloak's registration events (`AbstractClientRegistrationProvider`): `kind` on success
/// with the client, `kind_ERROR` with the OAuth error code otherwise.
fn registration_event(
    state: &AppState,
    snap: &RealmSnapshot,
    kind: &'static str,
    client_id: Option<&str>,
    result: &Result<Done, OAuthError>,
) {
    let mut e = crate::events::UserEvent::new(snap, kind);
    match result {
        Ok(done) => {
            if let Some(c) = done.client.client_id.as_deref() {
                e.set_client(c);
            }
            e.success(state);
        }
        Err(err) => {
            if let Some(c) = client_id {
                e.set_client(c);
            }
            e.error(state, err.error);
        }
    }
}

async fn create(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    req: Map<String, Value>,
) -> Result<Done, OAuthError> {
    let client_id = req
        .get("clientId")
        .and_then(Value::as_str)
        .map(String::from);
    let result = create_inner(state, snap, parts, req).await;
    registration_event(
        state,
        snap,
        "CLIENT_REGISTER",
        client_id.as_deref(),
        &result,
    );
    result
}

async fn create_inner(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    req: Map<String, Value>,
) -> Result<Done, OAuthError> {
    let auth = require_create(state, snap, parts).await?;
    run_policies(state, parts, snap, &auth, Op::Register(&req)).await?;
    let mut req = strip(req);
    if req
        .get("clientId")
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty())
    {
        req.insert("clientId".into(), json!(edit::new_id()));
    }
    let policies = auth.policies();
    let now = crate::clock::now();
    let done = edit_realm(state, &snap.name, |rep, writes| {
        let mut c = edit::prepare_new(rep, Value::Object(req.clone()))?;
        policy::after_register(rep, policies, &mut c);
        let token = issue_token(&mut c, policies);
        if let Auth::InitialAccess { token_hash } = &auth {
            writes.push(Write::UseInitialAccess {
                realm_id: snap.id.clone(),
                token_hash: token_hash.clone(),
                now,
            });
        }
        let out = c.clone();
        edit::add_client(rep, writes, c)?;
        Ok(Done {
            client: out,
            token: Some(token),
        })
    })
    .await
    .map_err(|e| from_edit(e, UPDATE_DENIED))?;
    tracing::info!(realm = %snap.name, client_id = ?done.client.client_id, "client registered");
    Ok(done)
}

/// Inside a realm edit: the client, after checking again that `auth` still holds for it (a
/// registration access token used concurrently by someone else is no longer current).
fn locked<'a>(
    rep: &'a mut RealmRepresentation,
    client_id: &str,
    presented: Option<&str>,
) -> Result<&'a mut ClientRepresentation, Failed> {
    let id = edit::client_by_client_id(rep, client_id)
        .and_then(|c| c.id.clone())
        .ok_or_else(|| EditError::NotFound("Client not found".into()))?;
    let c =
        edit::client_mut(rep, &id).ok_or_else(|| EditError::NotFound("Client not found".into()))?;
    if let Some(t) = presented {
        token_auth(c, t).ok_or(Failed::Denied)?;
    }
    Ok(c)
}

/// The registration access token presented, when that is how the caller got in.
fn presented<'a>(parts: &'a Parts, auth: &Auth) -> Option<&'a str> {
    match auth {
        Auth::Registration(_) => bearer(parts).map(|(t, _)| t),
        _ => None,
    }
}

/// `AbstractClientRegistrationProvider.get`, with the token replaced (Keycloak re-signs it).
async fn view(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    client_id: &str,
) -> Result<Done, OAuthError> {
    let result = view_inner(state, snap, parts, client_id).await;
    registration_event(state, snap, "CLIENT_INFO", Some(client_id), &result);
    result
}

async fn view_inner(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    client_id: &str,
) -> Result<Done, OAuthError> {
    let current = edit::client_by_client_id(&snap.rep, client_id);
    let auth = require_client(
        state,
        snap,
        parts,
        current,
        Need::View(Family::Clients),
        VIEW_DENIED,
    )
    .await?;
    run_policies(state, parts, snap, &auth, Op::View).await?;
    let Auth::Registration(policies) = auth else {
        let client = current.cloned().ok_or_else(client_not_found)?;
        return Ok(Done {
            client,
            token: None,
        });
    };
    let presented = presented(parts, &auth);
    edit_realm(state, &snap.name, |rep, _| {
        let c = locked(rep, client_id, presented)?;
        let token = issue_token(c, policies);
        Ok(Done {
            client: c.clone(),
            token: Some(token),
        })
    })
    .await
    .map_err(|e| from_edit(e, VIEW_DENIED))
}

/// `AbstractClientRegistrationProvider.update`.
async fn update(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    client_id: &str,
    req: Map<String, Value>,
) -> Result<Done, OAuthError> {
    let result = update_inner(state, snap, parts, client_id, req).await;
    registration_event(state, snap, "CLIENT_UPDATE", Some(client_id), &result);
    result
}

async fn update_inner(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    client_id: &str,
    req: Map<String, Value>,
) -> Result<Done, OAuthError> {
    let current = edit::client_by_client_id(&snap.rep, client_id);
    let auth = require_client(
        state,
        snap,
        parts,
        current,
        Need::Manage(Family::Clients),
        UPDATE_DENIED,
    )
    .await?;
    let current = current.ok_or_else(client_not_found)?;
    if req.get("clientId").and_then(Value::as_str) != Some(client_id) {
        return Err(invalid_metadata("Client Identifier modified"));
    }
    run_policies(state, parts, snap, &auth, Op::Update(&req, current)).await?;
    let patch = strip(req);
    let presented = presented(parts, &auth);
    let rotate = match auth {
        Auth::Registration(p) => Some(p),
        _ => None,
    };
    edit_realm(state, &snap.name, |rep, writes| {
        let id = locked(rep, client_id, presented)?
            .id
            .clone()
            .unwrap_or_default();
        edit::update_client(rep, writes, &id, &patch)?;
        let c = edit::client_mut(rep, &id).ok_or(EditError::Internal)?;
        let token = rotate.map(|p| issue_token(c, p));
        Ok(Done {
            client: c.clone(),
            token,
        })
    })
    .await
    .map_err(|e| from_edit(e, UPDATE_DENIED))
}

// Responses.

/// `ClientRepresentation` as registration answers it: the secret of a confidential client,
/// the new registration access token (never the stored hash).
fn default_json(done: &Done) -> Result<Value, OAuthError> {
    let c = &done.client;
    let mut v = serde_json::to_value(c).map_err(|_| OAuthError::server_error())?;
    if let Some(o) = v.as_object_mut() {
        o.remove(TOKEN_FIELD);
        let bearer_only = c.bearer_only == Some(true);
        if bearer_only || c.public_client == Some(true) {
            o.remove("secret");
        }
        if let Some(t) = &done.token {
            o.insert(TOKEN_FIELD.into(), json!(t));
        }
    }
    Ok(v)
}

fn base(state: &AppState, parts: &Parts) -> Result<String, OAuthError> {
    state
        .base_url(&parts.headers, &parts.uri)
        .map_err(|_| OAuthError::invalid_request("invalid host"))
}

/// `registration_client_uri` / `Location` of a client.
fn client_uri(base: &str, path: &str, realm: &str, client_id: &str) -> String {
    format!(
        "{}/{}",
        paths::url(base, path, realm),
        paths::encode_segment(client_id)
    )
}

fn json_response(status: StatusCode, body: Value, location: Option<&str>) -> Response {
    let mut r = (status, Json(body)).into_response();
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

// Handlers: the default provider.

/// `POST /clients-registrations/default`.
async fn create_default(
    State(state): State<AppState>,
    Path(realm_name): Path<String>,
    parts: Parts,
    bytes: Bytes,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let req = json_object(&bytes)?;
    let done = create(&state, &snap, &parts, req).await?;
    let mut body = default_json(&done)?;
    // Keycloak answers a new client with `directAccessGrantsEnabled: false` whatever it stored
    // (AbstractClientRegistrationProvider.create).
    body["directAccessGrantsEnabled"] = json!(false);
    let cid = done.client.client_id.clone().unwrap_or_default();
    let location = client_uri(
        &base(&state, &parts)?,
        paths::REGISTRATION_DEFAULT,
        &snap.name,
        &cid,
    );
    Ok(json_response(StatusCode::CREATED, body, Some(&location)))
}

/// `GET /clients-registrations/default/{clientId}`.
async fn get_default(
    State(state): State<AppState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let done = view(&state, &snap, &parts, &client_id).await?;
    Ok(json_response(StatusCode::OK, default_json(&done)?, None))
}

/// `PUT /clients-registrations/default/{clientId}`.
async fn update_default(
    State(state): State<AppState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    parts: Parts,
    bytes: Bytes,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let req = json_object(&bytes)?;
    let done = update(&state, &snap, &parts, &client_id, req).await?;
    Ok(json_response(StatusCode::OK, default_json(&done)?, None))
}

/// `DELETE /clients-registrations/{default|openid-connect}/{clientId}`.
async fn delete_client(
    State(state): State<AppState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let result = delete_inner(&state, &snap, &parts, &client_id).await;
    let event = crate::events::UserEvent::new(&snap, "CLIENT_DELETE").client(client_id.as_str());
    match &result {
        Ok(_) => event.success(&state),
        Err(e) => event.error(&state, e.error),
    }
    result
}

async fn delete_inner(
    state: &AppState,
    snap: &RealmSnapshot,
    parts: &Parts,
    client_id: &str,
) -> Result<Response, OAuthError> {
    let current = edit::client_by_client_id(&snap.rep, client_id);
    let auth = require_client(
        state,
        snap,
        parts,
        current,
        Need::Manage(Family::Clients),
        UPDATE_DENIED,
    )
    .await?;
    run_policies(state, parts, snap, &auth, Op::Delete).await?;
    let presented = presented(parts, &auth);
    edit_realm(state, &snap.name, |rep, _| {
        locked(rep, client_id, presented)?;
        edit::remove_client(rep, client_id);
        Ok(())
    })
    .await
    .map_err(|e| from_edit(e, UPDATE_DENIED))?;
    if let Some(u) = edit::service_account_user(state.store.as_ref(), &snap.id, client_id)
        .await
        .map_err(|e| from_edit(Failed::Edit(e.into()), UPDATE_DENIED))?
    {
        crate::users::delete_user(state.store.as_ref(), snap, &u.id).await?;
    }
    tracing::info!(realm = %snap.name, client_id = %client_id, "registered client deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

// Handlers: the OpenID Connect provider (RFC 7591 / 7592).

fn oidc_json(
    state: &AppState,
    parts: &Parts,
    snap: &RealmSnapshot,
    done: &Done,
) -> Result<Value, OAuthError> {
    let cid = done.client.client_id.clone().unwrap_or_default();
    let uri = client_uri(
        &base(state, parts)?,
        paths::REGISTRATION_OIDC,
        &snap.name,
        &cid,
    );
    Ok(oidc_metadata::to_external(
        &done.client,
        done.token.as_deref(),
        &uri,
    ))
}

fn to_internal(md: &Map<String, Value>) -> Result<Map<String, Value>, OAuthError> {
    oidc_metadata::to_internal(md).map_err(|e| {
        tracing::info!(reason = %e.0, "client registration: metadata invalid");
        invalid_metadata("Client metadata invalid")
    })
}

/// `POST /clients-registrations/openid-connect`.
async fn create_oidc(
    State(state): State<AppState>,
    Path(realm_name): Path<String>,
    parts: Parts,
    bytes: Bytes,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let md = json_object(&bytes)?;
    if md.get("client_id").is_some_and(|v| !v.is_null()) {
        return Err(invalid_metadata("Client Identifier included"));
    }
    let req = to_internal(&md)?;
    let done = create(&state, &snap, &parts, req).await?;
    let mut body = oidc_json(&state, &parts, &snap, &done)?;
    body["client_id_issued_at"] = json!(crate::clock::now());
    let location = body["registration_client_uri"].as_str().map(str::to_string);
    Ok(json_response(
        StatusCode::CREATED,
        body,
        location.as_deref(),
    ))
}

/// `GET /clients-registrations/openid-connect/{clientId}` (RFC 7592 §2.1).
async fn get_oidc(
    State(state): State<AppState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let done = view(&state, &snap, &parts, &client_id).await?;
    let body = oidc_json(&state, &parts, &snap, &done)?;
    Ok(json_response(StatusCode::OK, body, None))
}

/// `PUT /clients-registrations/openid-connect/{clientId}` (RFC 7592 §2.2).
async fn update_oidc(
    State(state): State<AppState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    parts: Parts,
    bytes: Bytes,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let md = json_object(&bytes)?;
    let req = to_internal(&md)?;
    let done = update(&state, &snap, &parts, &client_id, req).await?;
    let body = oidc_json(&state, &parts, &snap, &done)?;
    Ok(json_response(StatusCode::OK, body, None))
}

// The adapter installation provider.

/// `GET /clients-registrations/install/{clientId}`: keycloak.json for an access token with
/// `view-clients`, the client's registration access token (not replaced here: the answer has
/// no place for a new one), or the client itself (public, or with its credentials).
async fn install(
    State(state): State<AppState>,
    Path((realm_name, client_id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Response, OAuthError> {
    let snap = realm(&state, &realm_name).await?;
    let current = edit::client_by_client_id(&snap.rep, &client_id);
    let auth = match bearer(&parts) {
        Some(_) => {
            require_client(
                &state,
                &snap,
                &parts,
                current,
                Need::View(Family::Clients),
                VIEW_DENIED,
            )
            .await?
        }
        None => {
            let c = current.ok_or_else(|| unauthorized(VIEW_DENIED))?;
            if c.public_client != Some(true) {
                let (_, issuer) =
                    crate::oidc::realm_and_issuer(&state, &snap.name, &parts.headers, &parts.uri)
                        .await?;
                let params = crate::oidc::form::Params::parse(b"")?;
                let who = crate::oidc::client_auth::authenticate(
                    &snap,
                    state.store.as_ref(),
                    &issuer,
                    &parts.headers,
                    &params,
                )
                .await
                .map_err(|_| unauthorized("Failed to authenticate client"))?;
                if who.client_id != c.client_id {
                    return Err(unauthorized("Different client authenticated"));
                }
            }
            Auth::Client
        }
    };
    run_policies(&state, &parts, &snap, &auth, Op::View).await?;
    let c = current.ok_or_else(client_not_found)?;
    let body = edit::installation_json(&snap, c, &base(&state, &parts)?);
    Ok(json_response(StatusCode::OK, body, None))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn registration_tokens_are_kept_as_hashes_and_compared_whole() {
        let mut c = ClientRepresentation::default();
        let t = issue_token(&mut c, RegistrationAuth::Anonymous);
        let stored = c.registration_access_token.clone().unwrap();
        assert!(stored.starts_with("anonymous."));
        assert!(!stored.contains(&t));
        assert_eq!(token_auth(&c, &t), Some(RegistrationAuth::Anonymous));
        assert_eq!(token_auth(&c, &t[1..]), None);
        let t2 = issue_token(&mut c, RegistrationAuth::Authenticated);
        assert_eq!(token_auth(&c, &t), None, "the old token stops working");
        assert_eq!(token_auth(&c, &t2), Some(RegistrationAuth::Authenticated));
    }

    #[test]
    fn callers_cannot_set_tokens_or_roles() {
        let req = json!({"clientId": "x", "registrationAccessToken": "authenticated.00", "defaultRoles": ["admin"],
                         "authorizationSettings": {}, "access": {}});
        let out = strip(req.as_object().unwrap().clone());
        assert_eq!(Value::Object(out), json!({"clientId": "x"}));
    }
}
