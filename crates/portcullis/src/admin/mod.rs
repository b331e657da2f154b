//! Keycloak's Admin REST API under `/admin/realms`: the paths, JSON shapes, status codes and
//! error bodies that `python-keycloak` and `@keycloak/keycloak-admin-client` expect.
//!
//! Realm configuration (clients, roles, groups, client scopes) lives in the realm's stored
//! representation: every change is an optimistic read-modify-write of that document
//! ([`edit_realm`]), validated as an import is, after which this node's snapshot is replaced at
//! once and other nodes reload it from the store. Users live in their own table.

pub mod auth;
pub mod client_scopes;
pub mod clients;
pub mod components;
pub mod groups;
pub mod initial_access;
pub mod model;
pub mod partial_import;
pub mod realms;
pub mod roles;
pub mod users;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::realm::snapshot::RealmSnapshot;
use crate::realm::{import, validate};
use crate::representation::RealmRepresentation;
use crate::store::{StoreError, StoredRealm, Write};
use crate::AppState;

/// An Admin API failure, answered with Keycloak's body for it.
#[derive(Debug)]
pub enum AdminError {
    /// 401: no valid token.
    Unauthorized,
    /// 403: the token lacks the role.
    Forbidden,
    /// 404 `{"error": msg}` (JAX-RS `NotFoundException`).
    NotFound(String),
    /// 400 `{"errorMessage": msg}` (`ErrorResponse.error`).
    BadRequest(String),
    /// 409 `{"errorMessage": msg}` (`ErrorResponse.exists`).
    Conflict(String),
    /// 400 `{"error": key, "error_description": text}` (password policy).
    Policy(String, String),
    /// A status with `{"errorMessage": msg}`.
    Status(StatusCode, String),
    /// 400 `{"error": msg}` (JAX-RS `BadRequestException`).
    Plain(String),
    /// A limited-use token ran out inside an edit ([`StoreError::Exhausted`]); client
    /// registration answers it in its own terms, anywhere else it is a 409.
    Exhausted,
    /// 500 without internals.
    Internal,
}

impl AdminError {
    /// 404 naming what is missing.
    pub fn not_found(what: &str) -> Self {
        AdminError::NotFound(what.to_string())
    }
    /// 400 with Keycloak's `errorMessage`.
    pub fn bad(msg: impl Into<String>) -> Self {
        AdminError::BadRequest(msg.into())
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique(m) => AdminError::Conflict(m),
            StoreError::VersionConflict => AdminError::Conflict(e.to_string()),
            StoreError::Exhausted => AdminError::Exhausted,
            e => {
                tracing::error!(error = %e, "admin: store failed");
                AdminError::Internal
            }
        }
    }
}

impl From<crate::crypto::CryptoError> for AdminError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        tracing::error!(error = %e.0, "admin: crypto failed");
        AdminError::Internal
    }
}

const CONSULT_LOG: &str = "For more on this error consult the server log.";

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            AdminError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "HTTP 401 Unauthorized", "error_description": CONSULT_LOG}),
            ),
            AdminError::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({"error": "HTTP 403 Forbidden", "error_description": CONSULT_LOG}),
            ),
            AdminError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                json!({"error": m, "error_description": CONSULT_LOG}),
            ),
            AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"errorMessage": m})),
            AdminError::Conflict(m) => (StatusCode::CONFLICT, json!({"errorMessage": m})),
            AdminError::Exhausted => (
                StatusCode::CONFLICT,
                json!({"errorMessage": StoreError::Exhausted.to_string()}),
            ),
            AdminError::Policy(k, t) => (
                StatusCode::BAD_REQUEST,
                json!({"error": k, "error_description": t}),
            ),
            AdminError::Status(s, m) => (s, json!({"errorMessage": m})),
            AdminError::Plain(m) => (
                StatusCode::BAD_REQUEST,
                json!({"error": m, "error_description": CONSULT_LOG}),
            ),
            AdminError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "unknown_error", "error_description": CONSULT_LOG}),
            ),
        };
        let mut r = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// Result of an Admin API handler.
pub type AdminResult<T = Response> = Result<T, AdminError>;

/// `201 Created` with `Location: {request path}/{id}`.
pub fn created(uri: &axum::http::Uri, id: &str) -> Response {
    let path = uri.path().trim_end_matches('/');
    let location = format!("{path}/{}", crate::http::paths::encode_segment(id));
    let mut r = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `204 No Content`.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A JSON body, or a 400 naming what is wrong with it (unknown fields are ignored, as
/// Keycloak's representations ignore them).
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> AdminResult<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        AdminError::bad(if path == "." {
            format!("invalid JSON body: {}", e.inner())
        } else {
            format!("invalid JSON body at {path}: {}", e.inner())
        })
    })
}

/// `first` and `max` paging parameters.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Paging {
    /// Offset.
    pub first: Option<i64>,
    /// Limit.
    pub max: Option<i64>,
}

impl Paging {
    /// Applies the paging to a list (`max` < 0 means all).
    pub fn apply<T>(&self, items: Vec<T>, default_max: Option<i64>) -> Vec<T> {
        let first = self.first.unwrap_or(0).max(0) as usize;
        let max = self.max.or(default_max).unwrap_or(-1);
        let it = items.into_iter().skip(first);
        if max < 0 {
            it.collect()
        } else {
            it.take(max as usize).collect()
        }
    }
}

/// A boolean query parameter read as Java's `Boolean.valueOf` reads it: `true` in any case is
/// true, anything else false (python-keycloak sends `True` and `False`).
pub fn flex_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.map(|s| s.trim().eq_ignore_ascii_case("true")))
}

/// Keycloak reads request bodies with Jackson, which refuses a field the representation does
/// not have: 400 `Unrecognized field "x" (class ...), not marked as ignorable`.
pub fn reject_unknown(
    obj: &Map<String, Value>,
    known: impl Fn(&str) -> bool,
    class: &str,
) -> AdminResult<()> {
    if let Some(k) = obj.keys().find(|k| !known(k)) {
        return Err(AdminError::Plain(format!(
            "Unrecognized field \"{k}\" (class org.keycloak.representations.idm.{class}), not marked as ignorable"
        )));
    }
    Ok(())
}

/// `UserRepresentation` fields.
pub const USER_FIELDS: &[&str] = &[
    "id",
    "username",
    "firstName",
    "lastName",
    "email",
    "emailVerified",
    "attributes",
    "userProfileMetadata",
    "self",
    "origin",
    "createdTimestamp",
    "enabled",
    "totp",
    "federationLink",
    "serviceAccountClientId",
    "credentials",
    "disableableCredentialTypes",
    "requiredActions",
    "federatedIdentities",
    "realmRoles",
    "clientRoles",
    "clientConsents",
    "notBefore",
    "applicationRoles",
    "socialLinks",
    "groups",
    "access",
];

/// A fresh id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub use crate::clock::now_millis;

/// Reads a realm's stored representation, lets `f` change it (and add writes to the same
/// transaction), validates the result as an import would, and stores it if nobody changed the
/// realm meanwhile (otherwise reads and tries again). This node's snapshot is replaced before
/// returning, so the next request sees the change.
pub async fn edit_realm<T>(
    state: &AppState,
    realm: &str,
    mut f: impl FnMut(&mut RealmRepresentation, &mut Vec<Write>) -> AdminResult<T>,
) -> AdminResult<T> {
    for _ in 0..8 {
        let stored = state
            .store
            .realm_by_name(realm)
            .await?
            .ok_or_else(|| AdminError::not_found("Realm not found."))?;
        let mut rep: RealmRepresentation =
            serde_json::from_str(&stored.representation).map_err(|e| {
                tracing::error!(error = %e, realm, "stored realm is invalid");
                AdminError::Internal
            })?;
        let mut writes = Vec::new();
        let out = f(&mut rep, &mut writes)?;
        validate::references(&rep).map_err(|e| AdminError::bad(e.to_string()))?;
        import::realm_keys(&rep).map_err(|e| AdminError::bad(e.to_string()))?;
        let representation = serde_json::to_string(&rep).map_err(|_| AdminError::Internal)?;
        let mut batch = vec![Write::UpdateRealm {
            id: stored.id.clone(),
            expected_version: stored.version,
            representation: representation.clone(),
        }];
        batch.extend(writes);
        match state.store.apply(batch).await {
            Ok(()) => {
                let next = StoredRealm {
                    id: stored.id,
                    name: stored.name,
                    version: stored.version + 1,
                    representation,
                };
                state.realms.put(RealmSnapshot::build(&next)?);
                return Ok(out);
            }
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AdminError::Conflict(
        "the realm was changed concurrently; retry".into(),
    ))
}

/// A partial update: the fields of `patch` (but those in `skip`) replace those of `current`;
/// the result is read back as `T`, a 400 naming the bad field otherwise.
pub fn merge<T: serde::Serialize + serde::de::DeserializeOwned>(
    current: &T,
    patch: &Map<String, Value>,
    skip: &[&str],
) -> AdminResult<T> {
    let mut v = to_json(current)?;
    if let Some(o) = v.as_object_mut() {
        for (k, val) in patch {
            if !skip.contains(&k.as_str()) {
                o.insert(k.clone(), val.clone());
            }
        }
    }
    serde_path_to_error::deserialize(&v)
        .map_err(|e| AdminError::bad(format!("{}: {}", e.path(), e.inner())))
}

/// JSON of a value, or 500.
pub fn to_json<T: serde::Serialize>(v: &T) -> AdminResult<Value> {
    serde_json::to_value(v).map_err(|_| AdminError::Internal)
}

/// The routes of this family.
pub fn routes() -> Router<AppState> {
    use clients as c;
    use groups as g;
    use roles as r;
    use users as u;
    const R: &str = "/admin/realms/{realm}";
    let p = |s: &str| format!("{R}{s}");
    Router::new()
        .route("/admin/realms", get(realms::list).post(realms::create))
        .route(
            R,
            get(realms::get).put(realms::update).delete(realms::delete),
        )
        .route(&p("/keys"), get(realms::keys))
        .route(
            &p("/components"),
            get(components::list).post(components::create),
        )
        .route(
            &p("/components/{id}"),
            get(components::get)
                .put(components::update)
                .delete(components::delete),
        )
        .route(&p("/partial-export"), post(realms::partial_export))
        .route(&p("/partialImport"), post(realms::partial_import))
        .route(
            &p("/default-default-client-scopes"),
            get(client_scopes::realm_defaults),
        )
        .route(
            &p("/default-default-client-scopes/{scope}"),
            put(client_scopes::add_realm_default).delete(client_scopes::remove_realm_default),
        )
        .route(
            &p("/default-optional-client-scopes"),
            get(client_scopes::realm_optionals),
        )
        .route(
            &p("/default-optional-client-scopes/{scope}"),
            put(client_scopes::add_realm_optional).delete(client_scopes::remove_realm_optional),
        )
        .route(
            &p("/client-scopes"),
            get(client_scopes::list).post(client_scopes::create),
        )
        .route(
            &p("/client-scopes/{scope}"),
            get(client_scopes::get)
                .put(client_scopes::update)
                .delete(client_scopes::delete),
        )
        .route(
            &p("/client-scopes/{scope}/protocol-mappers/models"),
            get(client_scopes::mappers).post(client_scopes::add_mapper),
        )
        .route(
            &p("/client-scopes/{scope}/protocol-mappers/models/{mapper}"),
            get(client_scopes::get_mapper)
                .put(client_scopes::update_mapper)
                .delete(client_scopes::delete_mapper),
        )
        .route(
            &p("/clients-initial-access"),
            get(initial_access::list).post(initial_access::create),
        )
        .route(
            &p("/clients-initial-access/{id}"),
            axum::routing::delete(initial_access::delete),
        )
        .route(&p("/clients"), get(c::list).post(c::create))
        .route(
            &p("/clients/{id}"),
            get(c::get).put(c::update).delete(c::delete),
        )
        .route(
            &p("/clients/{id}/client-secret"),
            get(c::secret).post(c::regenerate_secret),
        )
        .route(
            &p("/clients/{id}/service-account-user"),
            get(c::service_account_user),
        )
        .route(
            &p("/clients/{id}/installation/providers/{provider}"),
            get(c::installation),
        )
        .route(
            &p("/clients/{id}/protocol-mappers/models"),
            get(c::mappers).post(c::add_mapper),
        )
        .route(
            &p("/clients/{id}/protocol-mappers/add-models"),
            post(c::add_mappers),
        )
        .route(
            &p("/clients/{id}/protocol-mappers/models/{mapper}"),
            get(c::get_mapper)
                .put(c::update_mapper)
                .delete(c::delete_mapper),
        )
        .route(
            &p("/clients/{id}/default-client-scopes"),
            get(c::default_scopes),
        )
        .route(
            &p("/clients/{id}/default-client-scopes/{scope}"),
            put(c::add_default_scope).delete(c::remove_default_scope),
        )
        .route(
            &p("/clients/{id}/optional-client-scopes"),
            get(c::optional_scopes),
        )
        .route(
            &p("/clients/{id}/optional-client-scopes/{scope}"),
            put(c::add_optional_scope).delete(c::remove_optional_scope),
        )
        .route(&p("/clients/{id}/scope-mappings"), get(c::scope_mappings))
        .route(
            &p("/clients/{id}/scope-mappings/realm"),
            get(c::realm_scope_mappings)
                .post(c::add_realm_scope_mappings)
                .delete(c::remove_realm_scope_mappings),
        )
        .route(
            &p("/clients/{id}/scope-mappings/clients/{owner}"),
            get(c::client_scope_mappings)
                .post(c::add_client_scope_mappings)
                .delete(c::remove_client_scope_mappings),
        )
        .route(
            &p("/clients/{id}/evaluate-scopes/generate-example-access-token"),
            get(c::example_access_token),
        )
        .route(
            &p("/clients/{id}/roles"),
            get(r::client_list).post(r::client_create),
        )
        .route(
            &p("/clients/{id}/roles/{role}"),
            get(r::client_get)
                .put(r::client_update)
                .delete(r::client_delete),
        )
        .route(
            &p("/clients/{id}/roles/{role}/composites"),
            get(r::client_composites)
                .post(r::client_add_composites)
                .delete(r::client_remove_composites),
        )
        .route(
            &p("/clients/{id}/roles/{role}/users"),
            get(r::client_role_users),
        )
        .route(
            &p("/clients/{id}/roles/{role}/groups"),
            get(r::client_role_groups),
        )
        .route(&p("/roles"), get(r::realm_list).post(r::realm_create))
        .route(
            &p("/roles/{role}"),
            get(r::realm_get)
                .put(r::realm_update)
                .delete(r::realm_delete),
        )
        .route(
            &p("/roles/{role}/composites"),
            get(r::realm_composites)
                .post(r::realm_add_composites)
                .delete(r::realm_remove_composites),
        )
        .route(
            &p("/roles/{role}/composites/realm"),
            get(r::realm_composites_realm),
        )
        .route(
            &p("/roles/{role}/composites/clients/{client}"),
            get(r::realm_composites_client),
        )
        .route(
            &p("/roles-by-id/{id}/composites/realm"),
            get(r::by_id_composites_realm),
        )
        .route(
            &p("/roles-by-id/{id}/composites/clients/{client}"),
            get(r::by_id_composites_client),
        )
        .route(&p("/roles/{role}/users"), get(r::realm_role_users))
        .route(&p("/roles/{role}/groups"), get(r::realm_role_groups))
        .route(
            &p("/roles-by-id/{id}"),
            get(r::by_id_get)
                .put(r::by_id_update)
                .delete(r::by_id_delete),
        )
        .route(
            &p("/roles-by-id/{id}/composites"),
            get(r::by_id_composites)
                .post(r::by_id_add_composites)
                .delete(r::by_id_remove_composites),
        )
        .route(&p("/users"), get(u::list).post(u::create))
        .route(&p("/users/count"), get(u::count))
        .route(
            &p("/users/{id}"),
            get(u::get).put(u::update).delete(u::delete),
        )
        .route(&p("/users/{id}/reset-password"), put(u::reset_password))
        .route(
            &p("/users/{id}/execute-actions-email"),
            put(u::execute_actions_email),
        )
        .route(&p("/users/{id}/credentials"), get(u::credentials))
        .route(
            &p("/users/{id}/credentials/{cred}"),
            axum::routing::delete(u::delete_credential),
        )
        .route(&p("/users/{id}/sessions"), get(u::sessions))
        .route(
            &p("/users/{id}/offline-sessions/{client}"),
            get(u::offline_sessions),
        )
        .route(&p("/users/{id}/logout"), post(u::logout))
        .route(
            &p("/sessions/{session}"),
            axum::routing::delete(u::delete_session),
        )
        .route(
            &p("/users/{id}/federated-identity"),
            get(u::federated_identity),
        )
        .route(&p("/users/{id}/groups"), get(u::groups))
        .route(&p("/users/{id}/groups/count"), get(u::groups_count))
        .route(
            &p("/users/{id}/groups/{group}"),
            put(u::join_group).delete(u::leave_group),
        )
        .route(&p("/users/{id}/role-mappings"), get(u::role_mappings))
        .route(
            &p("/users/{id}/role-mappings/realm"),
            get(u::realm_mappings)
                .post(u::add_realm_mappings)
                .delete(u::remove_realm_mappings),
        )
        .route(
            &p("/users/{id}/role-mappings/realm/composite"),
            get(u::realm_composite),
        )
        .route(
            &p("/users/{id}/role-mappings/realm/available"),
            get(u::realm_available),
        )
        .route(
            &p("/users/{id}/role-mappings/clients/{client}"),
            get(u::client_mappings)
                .post(u::add_client_mappings)
                .delete(u::remove_client_mappings),
        )
        .route(
            &p("/users/{id}/role-mappings/clients/{client}/composite"),
            get(u::client_composite),
        )
        .route(
            &p("/users/{id}/role-mappings/clients/{client}/available"),
            get(u::client_available),
        )
        .route(&p("/groups"), get(g::list).post(g::create))
        .route(&p("/groups/count"), get(g::count))
        .route(&p("/group-by-path/{*path}"), get(g::by_path))
        .route(
            &p("/groups/{id}"),
            get(g::get).put(g::update).delete(g::delete),
        )
        .route(
            &p("/groups/{id}/children"),
            get(g::children).post(g::create_child),
        )
        .route(&p("/groups/{id}/members"), get(g::members))
        .route(&p("/groups/{id}/role-mappings"), get(g::role_mappings))
        .route(
            &p("/groups/{id}/role-mappings/realm"),
            get(g::realm_mappings)
                .post(g::add_realm_mappings)
                .delete(g::remove_realm_mappings),
        )
        .route(
            &p("/groups/{id}/role-mappings/clients/{client}"),
            get(g::client_mappings)
                .post(g::add_client_mappings)
                .delete(g::remove_client_mappings),
        )
}
