//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=client_credentials)
//! RFC 6749 §4.4: tokens for the client's service-account user. No session and no refresh
//! token, as Keycloak 26 does by default.

use axum::response::Response;
use serde_json::{json, Map};

use crate::http::oauth_error::OAuthError;
use crate::oidc::client_auth;
use crate::tokens::{self, TokenRequest};

use super::{response, GrantContext};
use crate::users::parse_user;

/// Keycloak's service-account user name for a client.
pub fn service_account_username(client_id: &str) -> String {
    format!("service-account-{}", client_id.to_lowercase())
}

/// The grant.
pub async fn grant(ctx: &GrantContext<'_>) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(
        ctx.snap,
        ctx.state.store.as_ref(),
        &ctx.issuer,
        ctx.headers,
        ctx.params,
    )
    .await?;
    ctx.client_authenticated(client);
    if client.public_client == Some(true) {
        ctx.fail(crate::events::errors::INVALID_CLIENT);
        return Err(OAuthError::unauthorized_client(
            "Public client not allowed to retrieve service account",
        ));
    }
    if client.service_accounts_enabled != Some(true) {
        ctx.fail(crate::events::errors::INVALID_CLIENT);
        return Err(OAuthError::unauthorized_client(
            "Client not enabled to retrieve service account",
        ));
    }
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let row = ctx
        .state
        .store
        .user_by_username(&ctx.snap.id, &service_account_username(client_id))
        .await?
        .ok_or_else(|| {
            OAuthError::unauthorized_client("Client not enabled to retrieve service account")
        })?;
    let user = parse_user(&row)?;
    ctx.ev(|e| {
        e.set_detail("username", row.username.clone());
        e.set_user(row.id.clone());
    });
    if user.enabled == Some(false) {
        ctx.fail(crate::events::errors::USER_DISABLED);
        return Err(OAuthError::invalid_grant("User disabled"));
    }
    let (mut scopes, openid) = tokens::resolve_scopes(ctx.snap, client, ctx.params.get("scope"))?;
    // Keycloak attaches the `service_account` scope to service-account clients.
    if let Some(s) = ctx.snap.index.scope(&ctx.snap.rep, "service_account") {
        if !scopes.iter().any(|x| x.name == s.name) {
            scopes.push(s);
        }
    }
    // The notes the `service_account` scope's mappers read (`ServiceAccountConstants`).
    let mut notes = Map::from_iter([
        ("client_id".to_string(), json!(client_id)),
        ("AUTH_TIME".to_string(), json!(ctx.now.to_string())),
    ]);
    if let Some(ip) = ctx.remote {
        notes.insert("clientHost".into(), json!(ip.to_string()));
        notes.insert("clientAddress".into(), json!(ip.to_string()));
    }
    let memberships =
        tokens::memberships(ctx.state.store.as_ref(), ctx.snap, &row.id, &scopes, None).await?;
    let req = TokenRequest {
        snap: ctx.snap,
        issuer: &ctx.issuer,
        client,
        user_id: &row.id,
        user: &user,
        sid: None,
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid,
        nonce: None,
        now: ctx.now,
        acr: "1",
    };
    let issued = tokens::issue(&req)?;
    ctx.issued(&issued, None);
    Ok(response(&issued, None, None, ctx.snap.not_before))
}
