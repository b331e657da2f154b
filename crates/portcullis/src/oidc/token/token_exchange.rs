//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=urn:ietf:params:oauth:grant-type:token-exchange)
//! RFC 8693 as Keycloak 26.2's standard token exchange ("V2", `StandardTokenExchangeProvider`):
//! a confidential client with `standard.token.exchange.enabled` trades an access token of this
//! realm, issued to it or naming it in `aud`, for a new token of the same user and session,
//! `azp` the requester, optionally limited to the `audience` clients.

use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::http::oauth_error::OAuthError;
use crate::model::ClientSettings;
use crate::oidc::bearer::verify_access;
use crate::oidc::client_auth;
use crate::oidc::form::Params;
use crate::representation::ClientRepresentation;
use crate::sessions::SessionNotes;
use crate::tokens::{self, Lifespans, TokenRequest};

use super::{body, json_response, GrantContext};
use crate::sessions::live_session;
use crate::users::parse_user;

/// The grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3 token type identifiers.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Refresh token.
pub const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// ID token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// Client attribute enabling the grant.
pub const ENABLED_ATTR: &str = "standard.token.exchange.enabled";
/// Client attribute allowing `requested_token_type` refresh token: `SAME_SESSION` (Keycloak's
/// `TokenExchangeRefreshTokenEnabled`; anything else, or absent, is `NO`).
pub const REFRESH_ATTR: &str = "standard.token.exchange.enableRefreshRequestedTokenType";

/// Keycloak's `StandardTokenExchangeProvider.supports`: why this request is not a standard
/// token exchange (answered as `invalid_request` with this text), or `None`.
pub fn unsupported_reason(client: &ClientSettings, params: &Params) -> Option<&'static str> {
    if params.get("requested_subject").is_some() {
        return Some("Parameter 'requested_subject' is not supported for standard token exchange");
    }
    if params.get("requested_issuer").is_some() {
        return Some("Parameter 'requested_issuer' is not supported for standard token exchange");
    }
    if params.get("subject_issuer").is_some() {
        return Some("Parameter 'subject_issuer' is not supported for standard token exchange");
    }
    if !client.token_exchange_enabled {
        return Some("Standard token exchange is not enabled for the requested client");
    }
    if params.get("subject_token").is_none() {
        return Some("Parameter 'subject_token' required for standard token exchange");
    }
    // Keycloak's V2 provider requires `subject_token_type`; a request without it falls through
    // to the legacy (V1, `--features=token-exchange`) provider, which assumes an access token.
    // The seed walkthrough omits it, so it is assumed here too (docs/token-exchange.md).
    match params.get("subject_token_type") {
        None | Some(ACCESS_TOKEN_TYPE) => None,
        Some(_) => Some("Parameter 'subject_token' supports access tokens only"),
    }
}

/// Keycloak's `getRequestedTokenType`: access token by default; a refresh token only where the
/// client uses refresh tokens and allows them for exchange; an ID token on request.
pub fn requested_token_type(
    client: &ClientSettings,
    params: &Params,
) -> Result<&'static str, OAuthError> {
    match params.get("requested_token_type") {
        None | Some(ACCESS_TOKEN_TYPE) => Ok(ACCESS_TOKEN_TYPE),
        Some(ID_TOKEN_TYPE) => Ok(ID_TOKEN_TYPE),
        Some(REFRESH_TOKEN_TYPE)
            if client.use_refresh_tokens && client.token_exchange_refresh_same_session =>
        {
            Ok(REFRESH_TOKEN_TYPE)
        }
        Some(_) => Err(OAuthError::invalid_request(
            "requested_token_type unsupported",
        )),
    }
}

/// Keycloak's `validateAudience` for the requester: never a public client; and unless it is
/// the client the subject token was issued to (`azp`), it must be in the token's `aud`.
pub fn check_requester(
    client: &ClientRepresentation,
    subject: &Map<String, Value>,
) -> Result<(), OAuthError> {
    if client.public_client == Some(true) {
        return Err(OAuthError::invalid_client_400(
            "Public client is not allowed to exchange token",
        ));
    }
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let holder = subject.get("azp").and_then(Value::as_str) == Some(client_id);
    if !holder && !tokens::audiences(subject).iter().any(|a| a == client_id) {
        return Err(OAuthError::access_denied_403(
            "Client is not within the token audience",
        ));
    }
    Ok(())
}

/// Requested audiences the new token did not get (`TokenUtils.checkRequestedAudiences`).
pub fn missing_audiences(requested: &[String], got: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|r| !got.contains(r))
        .cloned()
        .collect()
}

/// The grant.
pub async fn grant(ctx: &GrantContext<'_>) -> Result<Response, OAuthError> {
    let store = ctx.state.store.as_ref();
    let client =
        client_auth::authenticate(ctx.snap, store, &ctx.issuer, ctx.headers, ctx.params).await?;
    ctx.client_authenticated(client);
    if let Some(reason) = unsupported_reason(&ctx.snap.client_settings(client), ctx.params) {
        return Err(OAuthError::invalid_request(reason));
    }
    let invalid = || {
        ctx.fail(crate::events::errors::INVALID_TOKEN);
        OAuthError::invalid_request("Invalid token")
    };
    let subject_token = ctx.params.get("subject_token").ok_or_else(invalid)?;
    let subject = verify_access(store, ctx.snap, &ctx.issuer, subject_token, ctx.now)
        .await?
        .map_err(|_| invalid())?;
    let user_id = subject
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?
        .to_string();
    ctx.ev(|e| {
        e.set_user(user_id.clone());
        if let Some(azp) = subject.get("azp").and_then(Value::as_str) {
            e.set_detail("subject_token_client_id", azp);
        }
    });
    let user_row = store
        .user_by_id(&ctx.snap.id, &user_id)
        .await?
        .ok_or_else(invalid)?;
    let user = parse_user(&user_row)?;
    if user.enabled == Some(false) {
        return Err(invalid());
    }
    let requested_type = requested_token_type(&ctx.snap.client_settings(client), ctx.params)?;
    let mut audience: Vec<String> = Vec::new();
    for a in ctx.params.all("audience") {
        let Some(target) = ctx.snap.index.client(&ctx.snap.rep, a) else {
            return Err(OAuthError::invalid_client_400("Audience not found"));
        };
        if target.enabled == Some(false) {
            return Err(OAuthError::invalid_client_400("Client disabled"));
        }
        if !audience.iter().any(|x| x == a) {
            audience.push(a.to_string());
        }
    }
    check_requester(client, &subject)?;
    let scope_param = ctx.params.get("scope");
    let (scopes, openid) = tokens::resolve_scopes(ctx.snap, client, scope_param)?;
    let sid = subject
        .get("sid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let session = match &sid {
        Some(sid) => live_session(store, ctx.snap, sid, ctx.now).await?,
        None => None,
    };
    if requested_type == REFRESH_TOKEN_TYPE {
        if session.as_ref().is_none_or(|s| s.offline) {
            return Err(OAuthError::invalid_request(
                "Refresh token not valid as requested_token_type because creating a new session is needed",
            ));
        }
        if scopes
            .iter()
            .any(|s| s.name.as_deref() == Some("offline_access"))
        {
            return Err(OAuthError::invalid_request(
                "Scope offline_access not allowed for token exchange",
            ));
        }
    }
    let auth_time = session.as_ref().map(|s| {
        SessionNotes::parse(&s.data)
            .auth_time()
            .unwrap_or(s.created_at)
    });
    let notes = auth_time
        .map(|t| SessionNotes::at(t).to_map())
        .unwrap_or_default();
    let memberships = tokens::memberships(
        ctx.state.store.as_ref(),
        ctx.snap,
        &user_row.id,
        &scopes,
        None,
    )
    .await?;
    let req = TokenRequest {
        snap: ctx.snap,
        issuer: &ctx.issuer,
        client,
        user_id: &user_row.id,
        user: &user,
        sid: sid.as_deref(),
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid: openid || requested_type == ID_TOKEN_TYPE,
        nonce: None,
        now: ctx.now,
        acr: "1",
    };
    let issued =
        tokens::issue_with_audience(&req, (!audience.is_empty()).then_some(audience.as_slice()))?;
    let missing = missing_audiences(&audience, &issued.audience);
    if !missing.is_empty() {
        return Err(OAuthError::invalid_request(format!(
            "Requested audience not available: {}",
            missing.join(", ")
        )));
    }
    let client_id = client.client_id.as_deref().unwrap_or_default();
    // The requester takes part in the subject's session (Keycloak attaches a client session to
    // it), so the exchanged tokens live as long as its part does.
    if let Some(session) = &session {
        store
            .join_client_session(&session.id, client_id, ctx.now)
            .await?;
    }
    let refresh = match (&session, requested_type) {
        (Some(session), REFRESH_TOKEN_TYPE) => {
            let lifespans = Lifespans::of(ctx.snap, client);
            let jti = uuid::Uuid::new_v4().to_string();
            let exp = (ctx.now + lifespans.idle).min(session.created_at + lifespans.max);
            let token = tokens::refresh_token(&req, &jti, Some(exp), false)?;
            store
                .set_refresh_token(&session.id, client_id, &jti, ctx.now)
                .await?;
            Some((token, exp - ctx.now))
        }
        _ => None,
    };
    let mut out = body(&issued, refresh, sid.as_deref(), ctx.snap.not_before);
    if requested_type == ID_TOKEN_TYPE {
        // RFC 8693 §2.2.1: the issued token goes in `access_token`, typed `N_A`.
        let id = out.remove("id_token").unwrap_or(Value::Null);
        out.insert("access_token".into(), id);
        out.insert("token_type".into(), json!("N_A"));
    }
    out.insert("issued_token_type".into(), json!(requested_type));
    ctx.issued(&issued, None);
    ctx.ev(|e| {
        if let Some(sid) = &sid {
            e.set_session(sid.clone());
        }
        e.set_detail("requested_token_type", requested_type);
        if !audience.is_empty() {
            e.set_detail("audience", audience.join(" "));
        }
    });
    Ok(json_response(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn client(v: Value) -> ClientRepresentation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn supports_follows_keycloaks_order() {
        let on = ClientSettings::of(&client(
            json!({"clientId": "a", "attributes": {ENABLED_ATTR: "true"}}),
        ));
        let off = ClientSettings::of(&client(json!({"clientId": "a"})));
        let p = |s: &str| Params::parse(s.as_bytes()).unwrap();
        let tt = format!("subject_token=x&subject_token_type={ACCESS_TOKEN_TYPE}");
        assert_eq!(unsupported_reason(&on, &p(&tt)), None);
        assert_eq!(
            unsupported_reason(&off, &p(&tt)),
            Some("Standard token exchange is not enabled for the requested client")
        );
        assert_eq!(unsupported_reason(&on, &p("subject_token=x")), None);
        assert_eq!(
            unsupported_reason(
                &on,
                &p("subject_token=x&subject_token_type=urn:ietf:params:oauth:token-type:jwt")
            ),
            Some("Parameter 'subject_token' supports access tokens only")
        );
        assert!(
            unsupported_reason(&on, &p(&format!("{tt}&requested_subject=bob")))
                .unwrap()
                .contains("requested_subject")
        );
    }

    #[test]
    fn refresh_tokens_only_where_the_client_allows_them() {
        let p = |s: &str| Params::parse(s.as_bytes()).unwrap();
        let plain = ClientSettings::of(&client(json!({"clientId": "a"})));
        let same = ClientSettings::of(&client(
            json!({"clientId": "a", "attributes": {REFRESH_ATTR: "SAME_SESSION"}}),
        ));
        let rt = format!("requested_token_type={REFRESH_TOKEN_TYPE}");
        assert_eq!(
            requested_token_type(&plain, &p("")).unwrap(),
            ACCESS_TOKEN_TYPE
        );
        assert!(requested_token_type(&plain, &p(&rt)).is_err());
        assert_eq!(
            requested_token_type(&same, &p(&rt)).unwrap(),
            REFRESH_TOKEN_TYPE
        );
        assert_eq!(
            requested_token_type(&plain, &p(&format!("requested_token_type={ID_TOKEN_TYPE}")))
                .unwrap(),
            ID_TOKEN_TYPE
        );
        assert_eq!(
            requested_token_type(
                &plain,
                &p("requested_token_type=urn:ietf:params:oauth:token-type:saml2")
            )
            .unwrap_err()
            .description,
            "requested_token_type unsupported"
        );
    }

    #[test]
    fn requester_must_hold_the_token_or_be_in_its_audience() {
        let a = client(json!({"clientId": "api-a", "secret": "s"}));
        let public = client(json!({"clientId": "api-a", "publicClient": true}));
        let held = json!({"azp": "api-a", "aud": "api-b"})
            .as_object()
            .cloned()
            .unwrap();
        let named = json!({"azp": "web", "aud": ["api-a", "x"]})
            .as_object()
            .cloned()
            .unwrap();
        let other = json!({"azp": "web", "aud": "x"})
            .as_object()
            .cloned()
            .unwrap();
        assert!(check_requester(&a, &held).is_ok());
        assert!(check_requester(&a, &named).is_ok());
        let e = check_requester(&a, &other).unwrap_err();
        assert_eq!((e.status.as_u16(), e.error), (403, "access_denied"));
        assert_eq!(
            check_requester(&public, &held).unwrap_err().error,
            "invalid_client"
        );
        assert_eq!(
            missing_audiences(&["b".into(), "c".into()], &["b".into()]),
            vec!["c".to_string()]
        );
    }
}
