//! POST /realms/{realm}/protocol/openid-connect/token/introspect
//! RFC 7662, for authenticated clients. `{"active": false}` for anything expired, revoked,
//! from another realm or malformed.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::Json;
use serde_json::{json, Value};

use crate::AppState;

use super::bearer::verify_access;
use super::client_auth;
use super::form::Form;
use super::token::refresh_token;
use crate::clock::now;
use crate::http::oauth_error::OAuthError;

/// Handler.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Result<Json<Value>, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri)?;
    let Form(params) = form?;
    client_auth::authenticate(&snap, state.store.as_ref(), &issuer, &headers, &params).await?;
    let token = params.require("token")?;
    let now = now();
    let inactive = Json(json!({ "active": false }));
    // Access token first, then a refresh token of this realm.
    let claims = match verify_access(state.store.as_ref(), &snap, &issuer, token, now).await? {
        Ok(c) => c,
        Err(_) => match refresh_token::verify(&snap, &issuer, token, now) {
            Ok(c) => {
                let alive = match c.get("sid").and_then(Value::as_str) {
                    Some(sid) => {
                        crate::sessions::live_session(state.store.as_ref(), &snap, sid, now)
                            .await?
                            .is_some()
                    }
                    None => false,
                };
                if !alive {
                    return Ok(inactive);
                }
                c
            }
            Err(_) => return Ok(inactive),
        },
    };
    let mut out = claims;
    if let Some(azp) = out.get("azp").cloned() {
        out.insert("client_id".into(), azp);
    }
    if let Some(u) = out.get("preferred_username").cloned() {
        out.insert("username".into(), u);
    }
    out.insert(
        "token_type".into(),
        json!(
            if out.get("typ").and_then(Value::as_str) == Some("Bearer") {
                "Bearer"
            } else {
                "Refresh"
            }
        ),
    );
    out.insert("active".into(), json!(true));
    Ok(Json(Value::Object(out)))
}
