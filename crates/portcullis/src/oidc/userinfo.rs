//! GET|POST /realms/{realm}/protocol/openid-connect/userinfo
//! OpenID Connect Core §5.3: claims about the token's user, from the mappers with
//! `userinfo.token.claim`. RFC 6750 errors. A client with `user.info.response.signature.alg`
//! gets them as a signed JWT (`application/jwt`, with `iss` and `aud`), as Keycloak's
//! `UserInfoEndpoint` answers.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::mappers::Target;
use crate::AppState;

use super::bearer::{self, verify_access};
use super::form::Params;
use crate::clock::now;
use crate::http::oauth_error::OAuthError;
use crate::tokens;
use crate::users::parse_user;

/// Handler (GET and POST; a POST may carry `access_token` in the form).
pub async fn handle(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let form;
    let token = match bearer::from_header(&headers) {
        Some(t) => t,
        None => {
            form = Params::parse(&body).unwrap_or_default();
            form.get("access_token").ok_or_else(|| {
                let mut e = OAuthError::invalid_token(&snap.name, "Token not provided");
                e.error = "invalid_request";
                e
            })?
        }
    };
    let now = now();
    // Keycloak's `USER_INFO_REQUEST` (not stored unless the realm lists it).
    let event = crate::events::UserEvent::new(&snap, "USER_INFO_REQUEST")
        .detail("auth_method", "validate_access_token");
    let claims = match verify_access(state.store.as_ref(), &snap, &issuer, token, now).await? {
        Ok(c) => c,
        Err(why) => {
            event.error(&state, crate::events::errors::INVALID_TOKEN);
            return Err(OAuthError::invalid_token(
                &snap.name,
                why.userinfo_description(),
            ));
        }
    };
    let user_id = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let row = state
        .store
        .user_by_id(&snap.id, &user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token(&snap.name, "User not found"))?;
    let user = parse_user(&row)?;
    if user.enabled == Some(false) {
        return Err(OAuthError::invalid_token(&snap.name, "User disabled"));
    }
    let client_id = claims
        .get("azp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let client = snap
        .index
        .client(&snap.rep, client_id)
        .ok_or_else(|| OAuthError::invalid_token(&snap.name, "Client not found"))?;
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mapped = tokens::claims_now(
        state.store.as_ref(),
        &snap,
        &issuer,
        client,
        &row.id,
        &user,
        scope,
        Target::Userinfo,
        now,
    )
    .await?;
    let mut out = Map::new();
    out.insert("sub".into(), json!(row.id));
    let mut event = event.client(client_id).user(row.id.clone());
    let signing_alg = snap.client_settings(client).userinfo_alg.clone();
    event.set_detail(
        "signature_required",
        if signing_alg.is_some() {
            "true"
        } else {
            "false"
        },
    );
    if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
        event.set_session(sid);
    }
    if let Some(u) = &user.username {
        event.set_detail("username", u.clone());
    }
    for (k, v) in mapped {
        if k != "aud" {
            out.entry(k).or_insert(v);
        }
    }
    let Some(alg) = signing_alg else {
        event.success(&state);
        return Ok(Json(Value::Object(out)).into_response());
    };
    out.insert("iss".into(), json!(issuer));
    out.insert("aud".into(), json!(client_id));
    let jwt = tokens::sign_jwt(&snap, Some(&alg), &Value::Object(out))?;
    event.set_detail("signature_algorithm", alg);
    event.success(&state);
    Ok(([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response())
}
