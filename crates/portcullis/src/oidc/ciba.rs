//! POST /realms/{realm}/protocol/openid-connect/ext/ciba/auth
//! POST /realms/{realm}/protocol/openid-connect/ext/ciba/auth/callback
//! OpenID Connect CIBA Core 1.0 §7 (backchannel authentication request and its
//! acknowledgement), poll mode, as Keycloak serves it (`BackchannelAuthenticationEndpoint`,
//! `HttpAuthenticationChannelProvider`, `BackchannelAuthenticationCallbackEndpoint`): the client
//! names a user, the server asks the authentication channel to authenticate them, and the
//! channel answers at the callback with the bearer token it was given. The client then polls
//! the token endpoint (`oidc/token/ciba.rs`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::authn::steps::consent::consent_text;
use crate::clock::now;
use crate::events::errors;
use crate::events::UserEvent;
use crate::http::oauth_error::OAuthError;
use crate::model::ClientSettings;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;
use crate::store::{CibaRequest, CibaRow, DeviceStatus};
use crate::users::{find_user, parse_user};
use crate::AppState;

use super::authorize::code_hash;
use super::client_auth;
use super::form::{Form, Params};

/// Client attribute that enables CIBA (`CibaConfig.OIDC_CIBA_GRANT_ENABLED`).
pub const ENABLED_ATTR: &str = "oidc.ciba.grant.enabled";
/// The one token delivery mode served.
pub const POLL: &str = "poll";
/// Bytes of randomness in an `auth_req_id` (43 base64url characters).
const AUTH_REQ_ID_BYTES: usize = 32;
/// Algorithms a signed authentication request (`request`) may use: the asymmetric ones, as
/// Keycloak lists them (discovery's `backchannel_authentication_request_signing_alg_values_supported`).
pub const REQUEST_SIGNING_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];
/// Client attribute naming the algorithm of its signed authentication requests
/// (`CibaConfig.CIBA_BACKCHANNEL_AUTH_REQUEST_SIGNING_ALG`).
pub const REQUEST_SIGNING_ALG_ATTR: &str = "ciba.backchannel.auth.request.signing.alg";
/// Keycloak's event error for a request the user refused (`Errors.CONSENT_DENIED`).
const CONSENT_DENIED: &str = "consent_denied";

/// Parameters that are not passed on to the channel as additional ones
/// (`BackchannelAuthenticationEndpointRequestParser.KNOWN_REQ_PARAMS`), with the client
/// authentication parameters.
const KNOWN_PARAMS: &[&str] = &[
    "request",
    "request_uri",
    "scope",
    "client_notification_token",
    "acr_values",
    "login_hint_token",
    "id_token_hint",
    "login_hint",
    "binding_message",
    "user_code",
    "requested_expiry",
    "prompt",
    "nonce",
    "max_age",
    "ui_locales",
    "claims",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];
/// Additional parameters passed on, at most (Keycloak's `ADDITIONAL_REQ_PARAMS_MAX_MUMBER`).
const ADDITIONAL_MAX: usize = 5;
/// Longest additional parameter value passed on (`ADDITIONAL_REQ_PARAMS_MAX_SIZE`).
const ADDITIONAL_MAX_LEN: usize = 200;

/// Whether the client may use CIBA.
pub fn grant_enabled(client: &ClientSettings) -> bool {
    client.ciba_grant_enabled
}

/// An `auth_req_id` as this server draws them; anything else is Keycloak's "Invalid Auth Req
/// ID" without a store look-up.
pub fn well_formed_auth_req_id(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A Keycloak `ErrorResponseException`: error, description and status, no
/// `WWW-Authenticate`.
fn error(status: StatusCode, error: &'static str, d: impl Into<String>) -> OAuthError {
    OAuthError {
        status,
        error,
        description: d.into(),
        www_authenticate: None,
    }
}

/// Keycloak's `binding_message` rule: 1 to 50 of `a-zA-Z0-9-._+/!?#`.
pub fn binding_message_ok(m: &str) -> bool {
    (1..=50).contains(&m.chars().count())
        && m.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._+/!?#".contains(c))
}

/// A backchannel authentication request, validated: what is stored and what the channel is
/// told.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The stored request.
    pub request: CibaRequest,
    /// Seconds the callback's bearer token lives (`requested_expiry`, else `cibaExpiresIn`).
    pub token_lifespan: i64,
}

/// Keycloak's checks of the request parameters, after the client and the user (in
/// `BackchannelAuthenticationEndpoint.authorizeClient`'s order).
pub fn validate(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    params: &Params,
) -> Result<Validated, OAuthError> {
    let bad = |d: &str| error(StatusCode::BAD_REQUEST, "invalid_request", d);
    let scope = params
        .get("scope")
        .ok_or_else(|| bad("missing parameter : scope"))?;
    if let Err(e) = crate::tokens::resolve_scopes(snap, client, Some(scope)) {
        return Err(error(StatusCode::BAD_REQUEST, e.error, e.description));
    }
    let binding_message = params.get("binding_message");
    if binding_message.is_some_and(|m| !binding_message_ok(m)) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_binding_message",
            "the binding_message value has to be max 50 characters in length and must contain only basic plain-text characters without spaces",
        ));
    }
    let policy = &snap.settings.ciba;
    let token_lifespan = requested_expiry(params)?.unwrap_or(policy.expires_in);
    // The client's default scopes shown on the consent screen are added, as Keycloak adds
    // them, so that the authentication device can show them.
    let mut full_scope = scope.to_string();
    for name in client.default_client_scopes.iter().flatten() {
        let shown = snap
            .index
            .scope(&snap.rep, name)
            .is_some_and(|s| consent_text(s).is_some());
        if shown {
            full_scope.push(' ');
            full_scope.push_str(name);
        }
    }
    let mode = snap
        .client_settings(client)
        .ciba_delivery_mode
        .clone()
        .unwrap_or_else(|| policy.delivery_mode.clone());
    if params.get("client_notification_token").is_some() && mode != "ping" {
        return Err(bad(
            "Client Notification token supported only for the ping mode",
        ));
    }
    if mode != POLL {
        // Keycloak also serves `ping`; this server serves `poll` only (docs/ciba.md).
        return Err(bad("Only the poll token delivery mode is supported"));
    }
    if params.get("user_code").is_some() {
        return Err(bad("User code not supported"));
    }
    Ok(Validated {
        request: CibaRequest {
            scope: Some(full_scope),
            binding_message: binding_message.map(str::to_string),
            acr_values: params.get("acr_values").map(str::to_string),
            extra: additional_params(params),
        },
        token_lifespan,
    })
}

/// `requested_expiry`, a whole number of seconds; Keycloak answers anything else with
/// `Integer.parseInt`'s message.
fn requested_expiry(params: &Params) -> Result<Option<i64>, OAuthError> {
    let Some(v) = params.get("requested_expiry") else {
        return Ok(None);
    };
    match v.parse::<i32>() {
        Ok(n) => Ok(Some(i64::from(n))),
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("For input string: \"{v}\""),
        )),
    }
}

/// The parameters Keycloak passes on to the channel beside its own: unknown ones, not
/// blank, at most 200 characters, at most 5 of them.
fn additional_params(params: &Params) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in params.iter() {
        if KNOWN_PARAMS.contains(&name) || out.contains_key(name) {
            continue;
        }
        if value.trim().is_empty() || value.chars().count() > ADDITIONAL_MAX_LEN {
            continue;
        }
        if out.len() == ADDITIONAL_MAX {
            break;
        }
        out.insert(name.to_string(), Value::String(value.to_string()));
    }
    out
}

/// The body Keycloak's `HttpAuthenticationChannelProvider` posts (`AuthenticationChannelRequest`,
/// absent values left out, the additional parameters beside the named ones).
pub fn channel_body(request: &CibaRequest, username: &str, consent_required: bool) -> Value {
    let mut body = request.extra.clone();
    if let Some(s) = &request.scope {
        body.insert("scope".into(), json!(s));
    }
    if let Some(m) = &request.binding_message {
        body.insert("binding_message".into(), json!(m));
    }
    body.insert("login_hint".into(), json!(username));
    body.insert("is_consent_required".into(), json!(consent_required));
    if let Some(a) = &request.acr_values {
        body.insert("acr_values".into(), json!(a));
    }
    Value::Object(body)
}

/// The claims of the channel's bearer token (Keycloak's `createBearerToken`): an access token
/// shape whose `jti` names the request at the callback.
pub fn bearer_claims(
    issuer: &str,
    auth_result_id: &str,
    client_id: &str,
    user_id: &str,
    iat: i64,
    exp: i64,
) -> Value {
    json!({
        "exp": exp,
        "iat": iat,
        "jti": auth_result_id,
        "iss": issuer,
        "aud": issuer,
        "sub": user_id,
        "typ": "Bearer",
        "azp": client_id,
    })
}

/// Handler of the backchannel authentication endpoint.
pub async fn auth(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Result<Response, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let Form(params) = form?;
    // Keycloak's endpoint reports as `LOGIN`; it records only the client's failures.
    let event = UserEvent::new(&snap, "LOGIN");
    // Keycloak answers a failed client authentication here with 401 whatever the token
    // endpoint's status.
    let (client, event) =
        client_auth::authenticate_for_event(&state, &snap, &issuer, &headers, &params, event)
            .await
            .map_err(|e| error(StatusCode::UNAUTHORIZED, e.error, e.description))?;
    if !grant_enabled(&snap.client_settings(client)) {
        event.error(&state, errors::NOT_ALLOWED);
        return Err(OAuthError::invalid_grant(
            "Client not allowed OIDC CIBA Grant",
        ));
    }
    request_authentication(&state, &snap, &issuer, client, &params).await
}

/// The request, once the client is known: the user, the checks, the stored request, the
/// channel's call, the acknowledgement.
async fn request_authentication(
    state: &AppState,
    snap: &RealmSnapshot,
    issuer: &str,
    client: &ClientRepresentation,
    params: &Params,
) -> Result<Response, OAuthError> {
    let bad = |d: &str| error(StatusCode::BAD_REQUEST, "invalid_request", d);
    // `requested_expiry` is parsed with the other parameters, before the user is resolved.
    requested_expiry(params)?;
    let signed;
    let params = match (params.get("request"), params.get("request_uri")) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "Illegal to use both 'request' and 'request_uri' parameters together",
            ))
        }
        // Request objects by reference are not fetched (docs/ciba.md): Keycloak's answer for a
        // URI the client did not register.
        (None, Some(_)) => return Err(bad("Specified 'request_uri' not allowed for this client.")),
        (Some(jwt), None) => {
            signed = params.overridden(signed_request(snap, issuer, client, jwt).await?);
            requested_expiry(&signed)?;
            &signed
        }
        (None, None) => params,
    };
    let policy = &snap.settings.ciba;
    let hint_param = policy.user_hint.as_str();
    if !matches!(
        hint_param,
        "login_hint" | "id_token_hint" | "login_hint_token"
    ) {
        return Err(bad("invalid user hint"));
    }
    let hint = params
        .get(hint_param)
        .ok_or_else(|| bad(&format!("missing parameter : {hint_param}")))?;
    if hint_param != "login_hint" {
        // Keycloak's default resolver (`DefaultCIBALoginUserResolver`) resolves no user from an
        // `id_token_hint` or a `login_hint_token`.
        return Err(bad("invalid user"));
    }
    let store = state.store.as_ref();
    let Some(user_row) = find_user(store, snap, hint).await? else {
        return Err(bad("invalid user"));
    };
    let user = parse_user(&user_row)?;
    if user.enabled == Some(false) {
        return Err(bad("invalid user"));
    }
    let v = validate(snap, client, params)?;
    let t = now();
    let auth_req_id = crate::crypto::b64url(
        &crate::crypto::random_bytes(AUTH_REQ_ID_BYTES).map_err(|_| OAuthError::server_error())?,
    );
    let auth_result_id = uuid::Uuid::new_v4().to_string();
    let client_id = client.client_id.clone().unwrap_or_default();
    let row = CibaRow {
        auth_req_hash: code_hash(&auth_req_id),
        auth_result_id: auth_result_id.clone(),
        realm_id: snap.id.clone(),
        client_id: client_id.clone(),
        user_id: user_row.id.clone(),
        data: v.request.to_json(),
        expires_at: t + policy.expires_in,
        poll_interval: policy.interval,
        status: DeviceStatus::Pending,
    };
    let bearer = crate::tokens::sign_jwt(
        snap,
        None,
        &bearer_claims(
            issuer,
            &auth_result_id,
            &client_id,
            &user_row.id,
            t,
            t + v.token_lifespan,
        ),
    )?;
    // Stored before the channel is called, so that a device answering at once finds it;
    // removed again when the channel does not take the request (Keycloak stores it after).
    store.put_ciba_request(&row).await?;
    let username = user.username.clone().unwrap_or_default();
    let body = channel_body(
        &v.request,
        &username,
        client.consent_required.unwrap_or(false),
    );
    if let Err(e) = call_channel(state, &bearer, &body).await {
        store.cancel_ciba_request(&snap.id, &auth_result_id).await?;
        return Err(e);
    }
    let mut ack = Map::new();
    ack.insert("auth_req_id".into(), json!(auth_req_id));
    ack.insert("expires_in".into(), json!(policy.expires_in));
    if policy.interval > 0 {
        ack.insert("interval".into(), json!(policy.interval));
    }
    let mut r = Json(Value::Object(ack)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// The parameters of a signed authentication request (CIBA Core §7.1.1), as Keycloak's
/// `BackchannelAuthenticationEndpointSignedRequestParser` reads them: signed with an asymmetric
/// algorithm, the one the client registered, by the client's key; each claim a parameter
/// (strings as they are, other values as JSON), over the form's.
async fn signed_request(
    snap: &RealmSnapshot,
    issuer: &str,
    client: &ClientRepresentation,
    jwt: &str,
) -> Result<Vec<(String, String)>, OAuthError> {
    let bad = |d: &str| error(StatusCode::BAD_REQUEST, "invalid_request", d);
    if jwt.split('.').count() == 5 {
        return Err(bad("Encrypted request object is not allowed"));
    }
    let parsed = crate::crypto::jws::parse(jwt).map_err(|_| bad("Failed to verify signature"))?;
    let alg = parsed
        .header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Signed algorithm not specified"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(bad("None signed algorithm is not allowed"));
    }
    if matches!(alg, "HS256" | "HS384" | "HS512") {
        return Err(bad("Signed algorithm is not allowed"));
    }
    if !REQUEST_SIGNING_ALGS.contains(&alg) {
        return Err(bad(&format!("Not found provider for the algorithm {alg}")));
    }
    let registered = client
        .attributes
        .as_ref()
        .and_then(|a| a.get(REQUEST_SIGNING_ALG_ATTR))
        .and_then(Value::as_str);
    if registered != Some(alg) {
        return Err(bad("Client requested algorithm not registered in advance or request signed with different algorithm other than client requested algorithm"));
    }
    let base_url = issuer
        .strip_suffix(&format!("/realms/{}", snap.name))
        .unwrap_or(issuer);
    let verified = match crate::realm::client_keys::signature_key(
        &snap.client_keys,
        client,
        base_url,
        &parsed,
    )
    .await
    {
        Ok(key) => key.verify(&parsed).is_ok(),
        Err(_) => false,
    };
    if !verified {
        return Err(bad("Failed to verify signature"));
    }
    Ok(parsed
        .claims
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect())
}

/// POSTs the request to the authentication channel; it must answer 201. Bounded by the
/// outbound client's timeout ([`crate::http::outbound::TIMEOUT`]).
async fn call_channel(state: &AppState, bearer: &str, body: &Value) -> Result<(), OAuthError> {
    let unavailable = |d: &str| error(StatusCode::SERVICE_UNAVAILABLE, "server_error", d);
    let Some(uri) = state.config.ciba_auth_channel_uri.as_deref() else {
        tracing::warn!("CIBA request without an authentication channel: set --spi-ciba-auth-channel--ciba-http-auth-channel--http-authentication-channel-uri");
        return Err(unavailable("Failed to send authentication request"));
    };
    let sent = state
        .outbound
        .post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .bearer_auth(bearer)
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Ok(r) if r.status() == reqwest::StatusCode::CREATED => Ok(()),
        Ok(r) => {
            tracing::warn!(status = %r.status(), "CIBA authentication channel did not take the request");
            Err(unavailable(
                "Unexpected response from authentication device",
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "CIBA authentication channel unreachable");
            Err(unavailable("Failed to send authentication request"))
        }
    }
}

/// The authentication device's answer (`AuthenticationChannelResponse.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelStatus {
    /// The user authenticated and consented.
    Succeed,
    /// The user did not authenticate.
    Unauthorized,
    /// The user cancelled.
    Cancelled,
}

/// Reads the callback body: `Ok(None)` when `status` is absent or null, an error when the body
/// is not a JSON object or names another status (Jackson fails on it).
pub fn channel_status(body: &[u8]) -> Result<Option<ChannelStatus>, OAuthError> {
    let invalid = || {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid authentication status",
        )
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
    let obj = v.as_object().ok_or_else(invalid)?;
    match obj.get("status") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "SUCCEED" => Ok(Some(ChannelStatus::Succeed)),
            "UNAUTHORIZED" => Ok(Some(ChannelStatus::Unauthorized)),
            "CANCELLED" => Ok(Some(ChannelStatus::Cancelled)),
            _ => Err(invalid()),
        },
        Some(_) => Err(invalid()),
    }
}

/// Checks of the callback's bearer token (Keycloak's `TokenVerifier` with default checks,
/// realm URL, active and audience): its claims, or `None`.
pub fn verify_bearer(
    snap: &RealmSnapshot,
    issuer: &str,
    token: &str,
    now: i64,
) -> Option<Map<String, Value>> {
    let parsed = crate::crypto::jws::parse(token).ok()?;
    parsed.verify(&snap.keys).ok()?;
    let c = parsed.claims;
    let s = |k: &str| c.get(k).and_then(Value::as_str);
    if s("typ") != Some("Bearer") || s("iss") != Some(issuer) || s("sub").is_none() {
        return None;
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(issuer)),
        _ => false,
    };
    let exp = c.get("exp").and_then(Value::as_i64)?;
    let nbf_ok = c
        .get("nbf")
        .and_then(Value::as_i64)
        .is_none_or(|nbf| nbf <= now);
    (aud_ok && exp >= now && nbf_ok && s("jti").is_some()).then_some(c)
}

/// Handler of the authentication channel's callback.
pub async fn callback(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let status = channel_status(&body)?;
    let mut event = UserEvent::new(&snap, "LOGIN");
    let forbidden = || error(StatusCode::FORBIDDEN, "invalid_token", "Invalid token");
    let Some(raw) = super::bearer::from_header(&headers) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Invalid token",
        ));
    };
    let Some(claims) = verify_bearer(&snap, &issuer, raw, now()) else {
        event.error(&state, errors::INVALID_TOKEN);
        return Err(forbidden());
    };
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let store = state.store.as_ref();
    let Some(row) = store.ciba_request_by_result(&snap.id, jti).await? else {
        return Err(forbidden());
    };
    if row.status != DeviceStatus::Pending {
        // Keycloak cancels a request whose token is presented again: a replayed callback
        // ends it, and the client's next poll learns it is gone.
        store.cancel_ciba_request(&snap.id, jti).await?;
        return Err(forbidden());
    }
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match snap.index.client(&snap.rep, azp) {
        Some(c) if c.enabled != Some(false) => {}
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Invalid token recipient",
            ))
        }
    }
    if row.client_id != azp {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Token recipient mismatch",
        ));
    }
    event.set_client(azp);
    event.set_user(row.user_id.clone());
    let Some(status) = status else {
        event.error(&state, errors::INVALID_REQUEST);
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid authentication status",
        ));
    };
    let approve = status == ChannelStatus::Succeed;
    if !store.decide_ciba_request(&snap.id, jti, approve).await? {
        // Decided by a concurrent callback with the same token.
        return Err(forbidden());
    }
    match status {
        ChannelStatus::Succeed => {}
        ChannelStatus::Cancelled => event.error(&state, errors::NOT_ALLOWED),
        ChannelStatus::Unauthorized => event.error(&state, CONSENT_DENIED),
    }
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn binding_messages_follow_keycloaks_pattern() {
        assert!(binding_message_ok("BASTION"));
        assert!(binding_message_ok("a-b._+/!?#9"));
        assert!(!binding_message_ok(""));
        assert!(!binding_message_ok("with space"));
        assert!(!binding_message_ok(&"x".repeat(51)));
        assert!(binding_message_ok(&"x".repeat(50)));
        assert!(!binding_message_ok("ümlaut"));
    }

    #[test]
    fn auth_req_ids_are_checked_for_shape() {
        let id = crate::crypto::b64url(&[7u8; AUTH_REQ_ID_BYTES]);
        assert!(well_formed_auth_req_id(&id));
        assert!(!well_formed_auth_req_id("invalid"));
        assert!(!well_formed_auth_req_id(&format!("{}=", &id[..42])));
    }

    #[test]
    fn callback_statuses_are_keycloaks() {
        assert_eq!(
            channel_status(br#"{"status":"SUCCEED"}"#).unwrap(),
            Some(ChannelStatus::Succeed)
        );
        assert_eq!(
            channel_status(br#"{"status":"CANCELLED","x":"y"}"#).unwrap(),
            Some(ChannelStatus::Cancelled)
        );
        assert_eq!(
            channel_status(br#"{"status":"UNAUTHORIZED"}"#).unwrap(),
            Some(ChannelStatus::Unauthorized)
        );
        assert_eq!(channel_status(b"{}").unwrap(), None);
        assert!(channel_status(br#"{"status":"succeed"}"#).is_err());
        assert!(channel_status(b"[]").is_err());
        assert!(channel_status(b"nope").is_err());
    }

    #[test]
    fn channel_body_leaves_out_what_is_absent() {
        let mut extra = Map::new();
        extra.insert("purpose".into(), json!("payment"));
        let r = CibaRequest {
            scope: Some("openid profile".into()),
            binding_message: None,
            acr_values: None,
            extra,
        };
        assert_eq!(
            channel_body(&r, "alice", false),
            json!({"scope": "openid profile", "login_hint": "alice", "is_consent_required": false, "purpose": "payment"})
        );
    }

    #[test]
    fn additional_parameters_are_bounded_as_keycloak_bounds_them() {
        let body = "client_id=c&scope=openid&a=1&b=&c=2&d=3&e=4&f=5&g=6&long=".to_string()
            + &"x".repeat(201);
        let p = Params::parse(body.as_bytes()).unwrap();
        let extra = additional_params(&p);
        let names: Vec<&str> = extra.keys().map(String::as_str).collect();
        assert_eq!(names, ["a", "c", "d", "e", "f"]);
    }
}
