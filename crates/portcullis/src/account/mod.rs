//! GET /realms/{realm}/account   (Accept: application/json; also /account/v1)
//! OPTIONS /realms/{realm}/account[/...]
//! Keycloak's Account REST API (`AccountLoader`, `AccountRestService`), the part keycloak-js
//! uses: the signed-in user's own profile (`loadUserProfile()`), with the CORS of the account
//! service; and the UMA resource owner's `resources` endpoints (`resources.rs`). The rest of
//! the account API (credentials, sessions, applications) is not here yet.
//!
//! Authorization is Keycloak's: an access token of this realm whose `aud` holds `account` (the
//! `roles` scope's "audience resolve" mapper puts it there when the user has an `account` role
//! in scope), whose `resource_access.account.roles` hold `manage-account` or `view-profile` (a
//! realm's default roles grant both), for a user that is not a service account.

mod resources;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::clock::now;
use crate::http::cors::{self, Allowed, Cors};
use crate::http::error::HttpError;
use crate::http::paths;
use crate::oidc::bearer::{from_header, verify_access};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::users::parse_user;
use crate::AppState;

/// The client the account API belongs to (`Constants.ACCOUNT_MANAGEMENT_CLIENT_ID`).
pub const ACCOUNT_CLIENT: &str = "account";
/// Roles that may read the profile (`AccountRoles.MANAGE_ACCOUNT`, `VIEW_PROFILE`).
const PROFILE_ROLES: &[&str] = &["manage-account", "view-profile"];
/// `CorsPreflightService`'s methods.
const PREFLIGHT_METHODS: &str = "GET, POST, DELETE, PUT, HEAD, OPTIONS";
/// The versions of the account REST API (`AccountRestApiVersion`).
const VERSIONS: &[&str] = &["v1"];

/// The routes of the account API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ACCOUNT, get(profile).options(preflight))
        .route(
            paths::ACCOUNT_ANY,
            get(versioned).put(versioned).options(preflight),
        )
}

/// `OPTIONS` anywhere under the account API.
async fn preflight(headers: HeaderMap) -> Response {
    cors::layers::preflight(&headers, Some(PREFLIGHT_METHODS))
}

/// `GET /account`.
async fn profile(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let call = Call {
        method: Method::GET,
        version: None,
        rest: Vec::new(),
        headers: &headers,
        uri: &uri,
        body: &[],
    };
    answer(&state, &realm, call).await
}

/// `GET|PUT /account/{version}/...` or `/account/...`: a first segment of the form
/// `v<digit>...` is the API version (`AccountLoader`'s `{version : v\d[0-9a-zA-Z_\-]*}`).
async fn versioned(
    State(state): State<AppState>,
    Path((realm, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let is_version = |s: &str| {
        let b = s.as_bytes();
        b.len() >= 2
            && b[0] == b'v'
            && b[1].is_ascii_digit()
            && b[2..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
    };
    let version = match segs.first() {
        Some(v) if is_version(v) => Some(segs.remove(0)),
        _ => None,
    };
    let call = Call {
        method,
        version,
        rest: segs,
        headers: &headers,
        uri: &uri,
        body: &body,
    };
    answer(&state, &realm, call).await
}

/// One request to the account API.
struct Call<'a> {
    method: Method,
    version: Option<String>,
    rest: Vec<String>,
    headers: &'a HeaderMap,
    uri: &'a Uri,
    body: &'a [u8],
}

/// An error with Keycloak's JAX-RS body (`{"error", "error_description"}`).
fn error(status: StatusCode, text: &'static str) -> Response {
    HttpError {
        status,
        error: text,
    }
    .into_response()
}

/// `NotAuthorizedException(challenge)`: 401 `HTTP 401 Unauthorized`, the challenge in
/// `WWW-Authenticate`.
fn unauthorized(challenge: &'static str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// Whether the request asks for the JSON API (`AccountLoader`: `Accept` holds
/// `application/json`, or the body is JSON); otherwise Keycloak serves the account console.
fn wants_json(headers: &HeaderMap) -> bool {
    let has = |h: header::HeaderName| {
        headers
            .get_all(h)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("application/json"))
    };
    has(header::ACCEPT) || has(header::CONTENT_TYPE)
}

async fn answer(state: &AppState, realm: &str, call: Call<'_>) -> Response {
    let (headers, uri) = (call.headers, call.uri);
    let snap = match state.realm(realm).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let account = snap.index.client(&snap.rep, ACCOUNT_CLIENT);
    if account.is_none_or(|c| c.enabled == Some(false)) {
        return error(StatusCode::NOT_FOUND, "account management not enabled");
    }
    if call.version.is_none() && !wants_json(headers) {
        // No account console here: Keycloak's HTML console is not served.
        return error(StatusCode::NOT_FOUND, "HTTP 404 Not Found");
    }
    let base = match state.base_url(headers, uri) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let issuer = paths::url(&base, paths::REALM, &snap.name);
    let Some(token) = from_header(headers) else {
        return unauthorized("Bearer token required");
    };
    let claims = match verify_access(state.store.as_ref(), &snap, &issuer, token, now()).await {
        Ok(Ok(c)) => c,
        Ok(Err(_)) => return unauthorized("Bearer token required"),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "unknown_error"),
    };
    if !audiences(&claims).any(|a| a == ACCOUNT_CLIENT) {
        return unauthorized("Invalid audience for client account");
    }
    let mut resp = authorized(state, &snap, &base, &call, &claims).await;
    // Keycloak adds the CORS headers once the token is accepted, from its `allowed-origins`.
    Cors {
        allowed: Some(Allowed::Origins(allowed_origins(&claims))),
        methods: Some("GET, PUT, POST, DELETE"),
        exposed: None,
        auth: true,
        preflight: false,
    }
    .apply(headers, &mut resp);
    resp
}

async fn authorized(
    state: &AppState,
    snap: &RealmSnapshot,
    base: &str,
    call: &Call<'_>,
    claims: &Map<String, Value>,
) -> Response {
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let user = match state.store.user_by_id(&snap.id, sub).await {
        Ok(Some(row)) => match parse_user(&row) {
            Ok(u) => u,
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "unknown_error"),
        },
        Ok(None) => return unauthorized("Bearer token required"),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "unknown_error"),
    };
    if user.enabled == Some(false) {
        return unauthorized("Bearer token required");
    }
    if user.service_account_client_id.is_some() {
        return unauthorized("Service accounts are not allowed to access this service");
    }
    if let Some(v) = call.version.as_deref() {
        if !VERSIONS.contains(&v) {
            return error(StatusCode::NOT_FOUND, "API version not found");
        }
    }
    if !account_roles(claims).any(|r| PROFILE_ROLES.contains(&r)) {
        return error(StatusCode::FORBIDDEN, "HTTP 403 Forbidden");
    }
    let rest: Vec<&str> = call.rest.iter().map(String::as_str).collect();
    let mut r = match rest.as_slice() {
        [] if call.method == Method::GET => {
            let email_read_only = crate::authn::steps::update_email::enabled(state, snap);
            Json(representation(snap, &user, email_read_only)).into_response()
        }
        ["resources", below @ ..] => {
            let manage = account_roles(claims).any(|r| r == "manage-account");
            resources::handle(resources::Request {
                store: state.store.as_ref(),
                snap,
                user_id: sub,
                manage,
                rest: below,
                method: &call.method,
                query: call.uri.query(),
                url: format!("{}{}", base.trim_end_matches('/'), call.uri.path()),
                body: call.body,
            })
            .await
        }
        _ => error(StatusCode::NOT_FOUND, "HTTP 404 Not Found"),
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn audiences(claims: &Map<String, Value>) -> impl Iterator<Item = &str> {
    let list: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
}

fn account_roles(claims: &Map<String, Value>) -> impl Iterator<Item = &str> {
    claims
        .get("resource_access")
        .and_then(|r| r.get(ACCOUNT_CLIENT))
        .and_then(|a| a.get("roles"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn allowed_origins(claims: &Map<String, Value>) -> Vec<String> {
    claims
        .get("allowed-origins")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The account `UserRepresentation` (`DefaultUserProfile.toRepresentation` in the account
/// context, with its `userProfileMetadata`): root attributes as fields, blank ones left out;
/// `locale` stays in `attributes`; unmanaged attributes are not shown (the default profile's
/// unmanaged-attribute policy). `email_read_only`: the `UPDATE_EMAIL` action is on, so the
/// account context may not edit `email` (`editEmailCondition`: the address changes through
/// `kc_action=UPDATE_EMAIL`).
pub fn representation(
    snap: &RealmSnapshot,
    user: &UserRepresentation,
    email_read_only: bool,
) -> Value {
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            out.insert(k.into(), json!(v));
        }
    };
    put("id", user.id.as_ref());
    put("username", user.username.as_ref());
    put("firstName", user.first_name.as_ref());
    put("lastName", user.last_name.as_ref());
    put("email", user.email.as_ref());
    out.insert(
        "emailVerified".into(),
        json!(user.email_verified.unwrap_or(false)),
    );
    let locale = user
        .attributes
        .as_ref()
        .and_then(|a| a.get("locale"))
        .and_then(|v| match v {
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .filter(|l| !l.is_empty());
    if let Some(l) = locale {
        out.insert("attributes".into(), json!({ "locale": [l] }));
    }
    out.insert(
        "userProfileMetadata".into(),
        profile_metadata(snap.settings.edit_username_allowed, email_read_only),
    );
    Value::Object(out)
}

/// The metadata of Keycloak's default user profile as the account context sees it: the four
/// root attributes, required for the user, `username` read-only unless the realm lets users
/// edit it, `email` read-only while `UPDATE_EMAIL` is on.
fn profile_metadata(edit_username: bool, email_read_only: bool) -> Value {
    let name_validators = json!({
        "person-name-prohibited-characters": { "ignore.empty.value": true },
        "multivalued": { "max": "1" },
        "length": { "max": 255, "ignore.empty.value": true }
    });
    json!({
        "attributes": [
            {
                "name": "username", "displayName": "${username}", "required": true,
                "readOnly": !edit_username,
                "validators": {
                    "username-prohibited-characters": { "ignore.empty.value": true },
                    "multivalued": { "max": "1" },
                    "length": { "max": 255, "ignore.empty.value": true, "min": 3 },
                    "up-username-not-idn-homograph": { "ignore.empty.value": true }
                },
                "multivalued": false
            },
            {
                "name": "email", "displayName": "${email}", "required": true,
                "readOnly": email_read_only,
                "validators": {
                    "multivalued": { "max": "1" },
                    "length": { "max": 255, "ignore.empty.value": true },
                    "email": { "ignore.empty.value": true }
                },
                "multivalued": false
            },
            {
                "name": "firstName", "displayName": "${firstName}", "required": true,
                "readOnly": false, "validators": name_validators.clone(), "multivalued": false
            },
            {
                "name": "lastName", "displayName": "${lastName}", "required": true,
                "readOnly": false, "validators": name_validators, "multivalued": false
            }
        ],
        "groups": [{
            "name": "user-metadata",
            "displayHeader": "User metadata",
            "displayDescription": "Attributes, which refer to user metadata"
        }]
    })
}
