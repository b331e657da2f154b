//! POST /realms/{realm}/protocol/openid-connect/token/introspect
//! RFC 7662, for authenticated clients. `{"active": false}` for anything expired, revoked,
//! from another realm or malformed, for a token whose client, session or user no longer holds
//! it, and for a caller that is neither in the token's audience nor its client.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::AppState;

use super::bearer::{holder_inactive, verify_access};
use super::client_auth;
use super::form::Form;
use super::token::refresh_token;
use crate::clock::now;
use crate::http::oauth_error::OAuthError;
use crate::realm::snapshot::RealmSnapshot;

/// Handler.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Result<Json<Value>, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let Form(params) = form?;
    // Keycloak's `INTROSPECT_TOKEN` (not stored unless the realm lists it).
    let event = crate::events::UserEvent::new(&snap, "INTROSPECT_TOKEN");
    let (caller, mut event) =
        client_auth::authenticate_for_event(&state, &snap, &issuer, &headers, &params, event)
            .await?;
    event.set_client(caller.client_id.clone().unwrap_or_default());
    event.success(&state);
    let caller_id = caller.client_id.as_deref().unwrap_or_default();
    let token = params.require("token")?;
    let now = now();
    let inactive = Json(json!({ "active": false }));
    if params.get("token_type_hint") == Some(RPT_HINT) {
        return match verify_access(state.store.as_ref(), &snap, &issuer, token, now).await? {
            Ok(c) if may_introspect(&c, caller_id) => Ok(Json(rpt_metadata(&c))),
            _ => Ok(inactive),
        };
    }
    // Access token first, then a refresh token of this realm; either must still be held by its
    // client, session and user.
    let claims = match verify_access(state.store.as_ref(), &snap, &issuer, token, now).await? {
        Ok(c) => c,
        Err(_) => match refresh_token::verify(&snap, &issuer, token, now) {
            Ok(c) => {
                if c.get("sid").and_then(Value::as_str).is_none()
                    || holder_inactive(state.store.as_ref(), &snap, &c, now)
                        .await?
                        .is_some()
                {
                    return Ok(inactive);
                }
                c
            }
            Err(_) => return Ok(inactive),
        },
    };
    if !may_introspect(&claims, caller_id) {
        return Ok(inactive);
    }
    let mut out = claims;
    if out.get("typ").and_then(Value::as_str) == Some("Bearer") {
        with_lightweight_claims(&state, &snap, &issuer, &mut out, now).await?;
    }
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

/// The `token_type_hint` of an RPT (`RPTIntrospectionProviderFactory`).
pub const RPT_HINT: &str = "requesting_party_token";

/// Keycloak's `RPTIntrospectionProvider` answer for an active token: `jti`, `exp`, `iat`,
/// `nbf`, `aud`, `typ`, `acr`, the permissions of its `authorization` (each also with UMA's
/// `resource_id` and `resource_scopes`), `active`.
pub fn rpt_metadata(claims: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for k in ["jti", "exp", "nbf", "iat", "aud", "typ", "acr"] {
        if let Some(v) = claims.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if let Some(authorization) = claims.get("authorization") {
        let permissions: Vec<Value> = authorization
            .get("permissions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                let mut p = p.as_object().cloned().unwrap_or_default();
                if let Some(id) = p.get("rsid").cloned() {
                    p.insert("resource_id".into(), id);
                }
                let scopes = p.get("scopes").cloned().unwrap_or_else(|| json!([]));
                p.insert("resource_scopes".into(), scopes);
                Value::Object(p)
            })
            .collect();
        out.insert("permissions".into(), Value::Array(permissions));
    }
    out.insert("active".into(), json!(true));
    Value::Object(out)
}

/// A lightweight access token (its client has `client.use.lightweight.access.token.enabled`)
/// is introspected with the claims its mappers would give the introspection response, as
/// Keycloak's `AccessTokenIntrospectionProvider` recomputes them; the token's own claims win.
async fn with_lightweight_claims(
    state: &AppState,
    snap: &RealmSnapshot,
    issuer: &str,
    out: &mut Map<String, Value>,
    now: i64,
) -> Result<(), OAuthError> {
    let Some(client) = out
        .get("azp")
        .and_then(Value::as_str)
        .and_then(|azp| snap.index.client(&snap.rep, azp))
    else {
        return Ok(());
    };
    if !snap.client_settings(client).lightweight_access_token {
        return Ok(());
    }
    let Some(user_id) = out.get("sub").and_then(Value::as_str).map(str::to_string) else {
        return Ok(());
    };
    let Some(row) = state.store.user_by_id(&snap.id, &user_id).await? else {
        return Ok(());
    };
    let user = crate::users::parse_user(&row)?;
    let scope = out
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mapped = crate::tokens::claims_now(
        state.store.as_ref(),
        snap,
        issuer,
        client,
        &user_id,
        &user,
        &scope,
        crate::mappers::Target::Introspection,
        now,
    )
    .await?;
    for (k, v) in mapped {
        out.entry(k).or_insert(v);
    }
    Ok(())
}

/// Whether `caller` may read the token's claims: it is in the token's `aud` (Keycloak 26.6.2's
/// fix of CVE-2026-37979), or it is the token's own client (`azp`), which Keycloak does not
/// allow but a client introspecting its own token needs (python-keycloak's tests do; see
/// docs/compatibility.md). Anyone else learns only `{"active": false}`.
pub fn may_introspect(claims: &Map<String, Value>, caller: &str) -> bool {
    !caller.is_empty()
        && (claims.get("azp").and_then(Value::as_str) == Some(caller)
            || crate::tokens::audiences(claims).iter().any(|a| a == caller))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::may_introspect;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_the_audience_and_the_tokens_client_may_introspect() {
        let c = claims(json!({"azp": "web", "aud": ["api", "account"]}));
        assert!(may_introspect(&c, "web"));
        assert!(may_introspect(&c, "api"));
        assert!(may_introspect(&c, "account"));
        assert!(!may_introspect(&c, "other"));
        assert!(!may_introspect(&c, ""));
        let single = claims(json!({"azp": "web", "aud": "api"}));
        assert!(may_introspect(&single, "api"));
        assert!(!may_introspect(&single, "ap"));
        let none = claims(json!({"azp": "web"}));
        assert!(!may_introspect(&none, "api"));
    }
}
