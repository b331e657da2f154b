//! GET /realms/{realm}/.well-known/openid-configuration
//! OpenID Connect Discovery 1.0 §4. Each endpoint field names only what this server serves;
//! the document is serialized once per realm version and completed per request with the
//! base URL (which in dev mode comes from the request).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::http::error::HttpError;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::realm::template::{UrlTemplate, MARKER};
use crate::AppState;

/// The discovery document of a realm under a base URL.
pub fn document(snap: &RealmSnapshot, base: &str) -> Value {
    let mut scopes: Vec<String> = vec!["openid".to_string()];
    for s in snap.rep.client_scopes.iter().flatten() {
        let oidc = s.protocol.as_deref().unwrap_or("openid-connect") == "openid-connect";
        let published = s
            .attributes
            .as_ref()
            .and_then(|a| a.get("include.in.openid.provider.metadata"))
            .and_then(Value::as_str)
            != Some("false");
        if let (true, true, Some(name)) = (oidc, published, &s.name) {
            scopes.push(name.clone());
        }
    }
    let algs = snap.signing_algorithms();
    // Userinfo is signed with a realm key of the client's algorithm, generated for it when
    // the realm has none (`realm::edit::add_fallback_keys`); `none` is the plain JSON answer.
    let mut userinfo_algs: Vec<&str> = algs
        .iter()
        .copied()
        .chain(crate::realm::edit::FALLBACK_ALGORITHMS.iter().copied())
        .collect();
    userinfo_algs.sort_unstable();
    userinfo_algs.dedup();
    userinfo_algs.push("none");
    let mut doc = json!({
        "issuer": paths::url(base, paths::REALM, &snap.name),
        "authorization_endpoint": paths::url(base, paths::AUTH, &snap.name),
        "token_endpoint": paths::url(base, paths::TOKEN, &snap.name),
        "introspection_endpoint": paths::url(base, paths::INTROSPECT, &snap.name),
        "userinfo_endpoint": paths::url(base, paths::USERINFO, &snap.name),
        "end_session_endpoint": paths::url(base, paths::LOGOUT, &snap.name),
        "check_session_iframe": paths::url(base, paths::LOGIN_STATUS_IFRAME, &snap.name),
        "jwks_uri": paths::url(base, paths::CERTS, &snap.name),
        "device_authorization_endpoint": paths::url(base, paths::DEVICE_AUTH, &snap.name),
        "pushed_authorization_request_endpoint": paths::url(base, paths::PAR, &snap.name),
        "require_pushed_authorization_requests": false,
        "registration_endpoint": paths::url(base, paths::REGISTRATION_OIDC, &snap.name),
        "grant_types_supported": crate::oidc::token::GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": userinfo_algs,
        "response_types_supported": crate::oidc::authorize::RESPONSE_TYPES,
        "response_modes_supported": crate::oidc::authorize::RESPONSE_MODES,
        "code_challenge_methods_supported": ["plain", "S256"],
        "authorization_response_iss_parameter_supported": true,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "client_secret_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "client_secret_jwt"],
        "revocation_endpoint": paths::url(base, paths::REVOKE, &snap.name),
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "client_secret_jwt"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_authentication_endpoint": paths::url(base, paths::CIBA_AUTH, &snap.name),
        "backchannel_token_delivery_modes_supported": [crate::oidc::ciba::POLL],
        "backchannel_authentication_request_signing_alg_values_supported": crate::oidc::ciba::REQUEST_SIGNING_ALGS,
    });
    let more = json!({
        // The `acr` tokens carry (`0` after single sign-on, `1` after a login with
        // credentials) and the claims the default mappers write, as Keycloak.
        "acr_values_supported": ["0", "1"],
        "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username", "email", "acr"],
        // Keycloak always lists these; here they say what is not served: no front-channel
        // logout, no request objects (JAR) nor JARM, no JWE, no mTLS endpoints or
        // certificate-bound tokens (RFC 8705).
        "frontchannel_logout_session_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": true,
        "request_object_signing_alg_values_supported": [],
        "request_object_encryption_alg_values_supported": [],
        "request_object_encryption_enc_values_supported": [],
        "authorization_signing_alg_values_supported": [],
        "authorization_encryption_alg_values_supported": [],
        "authorization_encryption_enc_values_supported": [],
        "id_token_encryption_alg_values_supported": [],
        "id_token_encryption_enc_values_supported": [],
        "userinfo_encryption_alg_values_supported": [],
        "userinfo_encryption_enc_values_supported": [],
        "tls_client_certificate_bound_access_tokens": false,
        "mtls_endpoint_aliases": {},
    });
    if let (Some(d), Value::Object(more)) = (doc.as_object_mut(), more) {
        d.extend(more);
    }
    doc
}

/// The algorithms of client assertions (`private_key_jwt`, `client_secret_jwt`) at the token,
/// introspection and revocation endpoints.
const CLIENT_ASSERTION_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "HS256", "HS384",
    "HS512",
];

/// The fields of the OIDC document Keycloak's `UmaConfiguration` repeats.
const UMA_FIELDS: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "introspection_endpoint",
    "end_session_endpoint",
    "jwks_uri",
    "grant_types_supported",
    "response_types_supported",
    "response_modes_supported",
    "registration_endpoint",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "scopes_supported",
];

/// The UMA 2.0 document of a realm (`UmaWellKnownProvider`): part of the OIDC document and
/// the Protection API's endpoints.
pub fn uma_document(snap: &RealmSnapshot, base: &str) -> Value {
    let oidc = document(snap, base);
    let mut out = serde_json::Map::new();
    for f in UMA_FIELDS {
        if let Some(v) = oidc.get(*f) {
            out.insert((*f).to_string(), v.clone());
        }
    }
    let protection = paths::url(base, paths::AUTHZ_PROTECTION, &snap.name);
    out.insert(
        "resource_registration_endpoint".into(),
        json!(format!("{protection}/resource_set")),
    );
    out.insert(
        "permission_endpoint".into(),
        json!(format!("{protection}/permission")),
    );
    out.insert(
        "policy_endpoint".into(),
        json!(format!("{protection}/uma-policy")),
    );
    Value::Object(out)
}

/// Handler of `GET /realms/{realm}/.well-known/uma2-configuration`.
pub async fn get_uma(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, HttpError> {
    let snap: Arc<RealmSnapshot> = state.realm(&realm).await?;
    let base = state.base_url(&headers, &uri)?;
    Ok(axum::Json(uma_document(&snap, &base)).into_response())
}

/// Handler.
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, HttpError> {
    let snap: Arc<RealmSnapshot> = state.realm(&realm).await?;
    let base = state.base_url(&headers, &uri)?;
    // Serialized once per snapshot, on the first request; each request only joins the parts.
    let body = snap
        .discovery
        .get_or_init(|| UrlTemplate::new(&document(&snap, MARKER)))
        .render(&base);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
