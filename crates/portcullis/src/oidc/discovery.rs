//! GET /realms/{realm}/.well-known/openid-configuration
//! OpenID Connect Discovery 1.0 §4. Each endpoint field names only what this server serves;
//! the document is serialized once per realm version and completed per request with the
//! base URL (which in dev mode comes from the request).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};

use crate::http::error::HttpError;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

/// Stands in for the base URL while the document is serialized (serialized as `\u0001`; a
/// realm name cannot carry it because it is percent-encoded in every URL).
const MARKER: &str = "\u{1}";
const MARKER_JSON: &[u8] = b"\\u0001";

/// The discovery document of a realm under a base URL.
pub fn document(snap: &RealmSnapshot, base: &str) -> Value {
    let mut scopes: Vec<String> = vec!["openid".to_string()];
    for s in snap.rep.client_scopes.iter().flatten() {
        let oidc = s.protocol.as_deref().unwrap_or("openid-connect") == "openid-connect";
        let published = s
            .extra
            .get("attributes")
            .and_then(|a| a.get("include.in.openid.provider.metadata"))
            .and_then(Value::as_str)
            != Some("false");
        if let (true, true, Some(name)) = (oidc, published, &s.name) {
            scopes.push(name.clone());
        }
    }
    let algs = snap.signing_algorithms();
    json!({
        "issuer": paths::url(base, paths::REALM, &snap.name),
        "authorization_endpoint": paths::url(base, paths::AUTH, &snap.name),
        "token_endpoint": paths::url(base, paths::TOKEN, &snap.name),
        "introspection_endpoint": paths::url(base, paths::INTROSPECT, &snap.name),
        "userinfo_endpoint": paths::url(base, paths::USERINFO, &snap.name),
        "end_session_endpoint": paths::url(base, paths::LOGOUT, &snap.name),
        "jwks_uri": paths::url(base, paths::CERTS, &snap.name),
        "device_authorization_endpoint": paths::url(base, paths::DEVICE_AUTH, &snap.name),
        "registration_endpoint": paths::url(base, paths::REGISTRATION_OIDC, &snap.name),
        "grant_types_supported": crate::oidc::token::GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": ["none"],
        "response_types_supported": crate::oidc::authorize::RESPONSE_TYPES,
        "response_modes_supported": crate::oidc::authorize::RESPONSE_MODES,
        "code_challenge_methods_supported": ["plain", "S256"],
        "authorization_response_iss_parameter_supported": true,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "client_secret_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "HS256", "HS384", "HS512"],
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "client_secret_jwt"],
        "revocation_endpoint": paths::url(base, paths::REVOKE, &snap.name),
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "client_secret_jwt"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    })
}

/// The document split around the base URL, ready to be joined with any base.
#[derive(Debug)]
pub struct Template {
    parts: Vec<Bytes>,
}

impl Template {
    /// An empty document (before the snapshot is complete).
    pub fn empty() -> Self {
        Template { parts: Vec::new() }
    }

    /// Serializes the document of a snapshot once.
    pub fn new(snap: &RealmSnapshot) -> Self {
        let text = document(snap, MARKER).to_string().into_bytes();
        let mut parts = Vec::new();
        let mut rest: &[u8] = &text;
        while let Some(i) = rest
            .windows(MARKER_JSON.len())
            .position(|w| w == MARKER_JSON)
        {
            parts.push(Bytes::copy_from_slice(&rest[..i]));
            rest = &rest[i + MARKER_JSON.len()..];
        }
        parts.push(Bytes::copy_from_slice(rest));
        Template { parts }
    }

    /// The document for `base` (already validated: no characters that need JSON escaping).
    pub fn render(&self, base: &str) -> Bytes {
        let escaped = Value::String(base.to_string()).to_string();
        let base = &escaped.as_bytes()[1..escaped.len() - 1];
        let mut out = BytesMut::with_capacity(
            self.parts.iter().map(Bytes::len).sum::<usize>() + base.len() * self.parts.len(),
        );
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(base);
            }
            out.extend_from_slice(p);
        }
        out.freeze()
    }
}

/// Handler.
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, HttpError> {
    let snap: Arc<RealmSnapshot> = state.realm(&realm)?;
    let base = state.base_url(&headers, &uri)?;
    let body = snap.discovery.render(&base);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
