//! Keycloak's Admin REST API under `/admin/realms`: the paths, JSON shapes, status codes and
//! error bodies that `python-keycloak` and `@keycloak/keycloak-admin-client` expect.
//!
//! Realm configuration (clients, roles, groups, client scopes) lives in the realm's stored
//! representation: every change is an optimistic read-modify-write of that document
//! ([`edit_realm`], [`crate::realm::edit`]), validated as an import is, after which this node's snapshot is replaced at
//! once and other nodes reload it from the store. Users live in their own table.

pub mod attack_detection;
pub mod auth;
pub mod authentication;
pub mod authz;
pub mod authz_evaluate;
pub mod certificates;
pub mod client_scopes;
pub mod client_sessions;
pub mod clients;
pub mod components;
pub mod consents;
pub mod email;
pub mod events;
pub mod groups;
pub mod identity_providers;
pub mod impersonation;
pub mod initial_access;
pub mod jackson;
pub mod org_invitations;
pub mod organizations;
pub mod partial_import;
pub mod permission_tickets;
pub mod permissions;
pub mod protection;
pub mod realms;
pub mod role_mappings;
pub mod roles;
pub mod scope_mappings;
pub mod server_info;
pub mod unmatched;
pub mod user_profile;
pub mod users;
pub mod view;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::realm::edit::{self, EditError};
use crate::representation::RealmRepresentation;
use crate::store::{StoreError, Write};
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
    /// 400 `{"error": "unknown_error", "error_description": "Cannot parse the JSON: ..."}`: a
    /// value Jackson cannot read into the representation (Keycloak's
    /// `KeycloakMismatchedInputExceptionHandler`), Jackson's message after Keycloak's text.
    Mismatch(String),
    /// A limited-use token ran out inside an edit ([`StoreError::Exhausted`]); client
    /// registration answers it in its own terms, anywhere else it is a 409.
    Exhausted,
    /// `ErrorResponseException(error, description, status)`: `{"error", "error_description"}`.
    OAuth(StatusCode, String, String),
    /// A status without a body (the authorization services' 404 of a missing id).
    Empty(StatusCode),
    /// 400 with a body of its own (the user profile's field errors, `ErrorResponse.errors`).
    Fields(Value),
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

impl From<EditError> for AdminError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::NotFound(m) => AdminError::NotFound(m),
            EditError::Invalid(m) => AdminError::BadRequest(m),
            EditError::Conflict(m) => AdminError::Conflict(m),
            EditError::Store(e) => e.into(),
            EditError::Internal => AdminError::Internal,
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
            AdminError::Mismatch(m) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "unknown_error", "error_description": format!("Cannot parse the JSON: {m}")}),
            ),
            AdminError::OAuth(s, e, d) => (s, json!({"error": e, "error_description": d})),
            AdminError::Empty(s) => return s.into_response(),
            AdminError::Fields(body) => (StatusCode::BAD_REQUEST, body),
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

/// A JSON body, or a 400 naming what is wrong with it. Parsed strictly, as Jackson parses
/// Keycloak's bodies (`FAIL_ON_TRAILING_TOKENS`, `STRICT_DUPLICATE_DETECTION`): data after the
/// JSON value and a key given twice in one object are refused before anything is written.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> AdminResult<T> {
    let invalid = |path: String, msg: String| {
        AdminError::bad(if path == "." || path.is_empty() {
            format!("invalid JSON body: {msg}")
        } else {
            format!("invalid JSON body at {path}: {msg}")
        })
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
    de.end()
        .map_err(|e| invalid(String::new(), e.to_string()))?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, strict_json::NoDuplicates>(&mut de)
        .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
    Ok(value)
}

/// A walk over a JSON document that fails on a key repeated within one object.
mod strict_json {
    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    pub struct NoDuplicates;

    impl<'de> Deserialize<'de> for NoDuplicates {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Walk)
        }
    }

    struct Walk;

    impl<'de> Visitor<'de> for Walk {
        type Value = NoDuplicates;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
            Ok(NoDuplicates)
        }
        fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
            Ok(NoDuplicates)
        }
        fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
            Ok(NoDuplicates)
        }
        fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
            Ok(NoDuplicates)
        }
        fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
            Ok(NoDuplicates)
        }
        fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
            Ok(NoDuplicates)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
            while seq.next_element::<NoDuplicates>()?.is_some() {}
            Ok(NoDuplicates)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = map.next_key::<String>()? {
                if !seen.insert(k.clone()) {
                    return Err(de::Error::custom(format!("duplicate field '{k}'")));
                }
                map.next_value::<NoDuplicates>()?;
            }
            Ok(NoDuplicates)
        }
    }
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

pub use jackson::{coerce_types, reject_unknown, representation, Rep, Shape};

pub use crate::realm::edit::new_id;

pub use crate::clock::now_millis;

/// [`edit::edit`] of the realm named `realm` (this node's snapshot is replaced before
/// returning, so the next request sees the change).
pub async fn edit_realm<T>(
    state: &AppState,
    realm: &str,
    f: impl FnMut(&mut RealmRepresentation, &mut Vec<Write>) -> AdminResult<T>,
) -> AdminResult<T> {
    edit::edit(state.store.as_ref(), &state.realms, realm, f).await
}

/// JSON of a value, or 500.
pub fn to_json<T: serde::Serialize>(v: &T) -> AdminResult<Value> {
    serde_json::to_value(v).map_err(|_| AdminError::Internal)
}

/// The routes of this family: each resource's.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(realms::routes())
        .merge(components::routes())
        .merge(client_scopes::routes())
        .merge(initial_access::routes())
        .merge(clients::routes())
        .merge(roles::routes())
        .merge(user_profile::routes())
        .merge(users::routes())
        .merge(email::routes())
        .merge(groups::routes())
        .merge(scope_mappings::routes())
        .merge(certificates::routes())
        .merge(consents::routes())
        .merge(impersonation::routes())
        .merge(client_sessions::routes())
        .merge(attack_detection::routes())
        .merge(authentication::routes())
        .merge(organizations::routes())
        .merge(org_invitations::routes())
        .merge(events::routes())
        .merge(identity_providers::routes())
        .merge(authz::routes())
        .merge(protection::routes())
        .merge(permission_tickets::routes())
}
