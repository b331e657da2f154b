//! POST /realms/{realm}/protocol/openid-connect/auth/device  (also `.../device/auth`)
//! RFC 8628 §3.1–3.2: a device asks for a device code and a user code, for clients with the
//! attribute `oauth2.device.authorization.grant.enabled` (Keycloak's `OAuth2DeviceConfig`).
//! Public clients send `client_id`; confidential clients authenticate as at the token endpoint.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map};

use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;
use crate::store::{DeviceCodeRow, DeviceRequest, DeviceStatus, StoreError};
use crate::AppState;

use super::authorize::code_hash;
use super::client_auth;
use super::form::{Form, Params};
use crate::clock::now;
use crate::http::oauth_error::OAuthError;
use crate::model::ClientSettings;
use crate::tokens;

/// Client attribute that enables the grant.
pub const ENABLED_ATTR: &str = "oauth2.device.authorization.grant.enabled";
/// Client attribute overriding the realm's `oauth2DeviceCodeLifespan`.
pub const LIFESPAN_ATTR: &str = "oauth2.device.code.lifespan";
/// Client attribute overriding the realm's `oauth2DevicePollingInterval`.
pub const INTERVAL_ATTR: &str = "oauth2.device.polling.interval";

/// User-code characters: RFC 8628 §6.1's base-20 alphabet (consonants only, so no vowels to
/// spell words and no look-alikes such as `0`/`O` or `1`/`I`/`L`). Keycloak draws from all of
/// `A-Z`; the shape `XXXX-XXXX` is the same.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub const USER_CODE_LEN: usize = 8;

/// Whether the client may use the device grant.
pub fn grant_enabled(client: &ClientSettings) -> bool {
    client.device_grant_enabled
}

/// Lifespan of a device code and the polling interval, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceConfig {
    /// `expires_in`.
    pub lifespan: i64,
    /// `interval`.
    pub interval: i64,
}

impl DeviceConfig {
    /// The client's attributes, else the realm's settings, else Keycloak's defaults (600, 5).
    pub fn of(snap: &RealmSnapshot, client: &ClientRepresentation) -> Self {
        let client = snap.client_settings(client);
        DeviceConfig {
            lifespan: client
                .device_code_lifespan
                .filter(|v| *v > 0)
                .or(snap.settings.device_code_lifespan)
                .unwrap_or(600),
            interval: client
                .device_polling_interval
                .filter(|v| *v >= 0)
                .or(snap.settings.device_polling_interval)
                .unwrap_or(5),
        }
    }
}

/// A new random user code (normalized form, no dash).
pub fn generate_user_code() -> Result<String, OAuthError> {
    let n = USER_CODE_ALPHABET.len();
    // Rejection sampling keeps the draw uniform: 240 = 12 * 20.
    let limit = (256 / n * n) as u8;
    let mut out = String::with_capacity(USER_CODE_LEN);
    while out.len() < USER_CODE_LEN {
        let bytes = crate::crypto::random_bytes(32).map_err(|_| OAuthError::server_error())?;
        for b in bytes.into_iter().filter(|b| *b < limit) {
            if out.len() == USER_CODE_LEN {
                break;
            }
            out.push(char::from(USER_CODE_ALPHABET[usize::from(b) % n]));
        }
    }
    Ok(out)
}

pub use crate::authn::steps::device_consent::display_user_code;

/// What a user typed, normalized for look-up: case-insensitive, dashes and spaces ignored.
/// `None` when it cannot be a user code at all.
pub fn normalize_user_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// The request data kept with a device code (`scope`, `nonce`, PKCE), after validation.
pub fn request_data(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    params: &Params,
) -> Result<DeviceRequest, OAuthError> {
    let scope = params.get("scope");
    tokens::resolve_scopes(snap, client, scope)?;
    let challenge = params.get("code_challenge");
    let method = params.get("code_challenge_method");
    let settings = snap.client_settings(client);
    let required = settings.pkce_method.as_deref();
    match (challenge, method, required) {
        (None, _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "Missing parameter: code_challenge",
            ))
        }
        (Some(_), Some(m), Some(r)) if m != r => {
            return Err(OAuthError::invalid_request(
                "Invalid parameter: code challenge method is not matching the configured one",
            ))
        }
        (Some(_), m, _) if !matches!(m.unwrap_or("plain"), "S256" | "plain") => {
            return Err(OAuthError::invalid_request(
                "Invalid parameter: code_challenge_method",
            ))
        }
        _ => {}
    }
    Ok(DeviceRequest {
        scope: scope.map(str::to_string),
        nonce: params.get("nonce").map(str::to_string),
        code_challenge: challenge.map(str::to_string),
        code_challenge_method: challenge.map(|_| method.unwrap_or("plain").to_string()),
        extra: Map::new(),
    })
}

/// Handler.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Result<Response, OAuthError> {
    let (snap, issuer) = super::realm_and_issuer(&state, &realm, &headers, &uri).await?;
    let Form(params) = form?;
    // Keycloak's `OAUTH2_DEVICE_AUTH` (`DeviceEndpoint.handleDeviceRequest`).
    let mut event = crate::events::UserEvent::new(&snap, "OAUTH2_DEVICE_AUTH");
    if let Some(id) = client_auth::claimed_client_id(&headers, &params) {
        event.set_client(id);
    }
    let result = authorize(&state, &snap, &issuer, &headers, &params).await;
    match &result {
        Ok(_) => event.success(&state),
        Err(e) if e.error == "invalid_client" || e.error == "unauthorized_client" => {
            event.error(&state, crate::events::errors::INVALID_CLIENT_CREDENTIALS)
        }
        Err(e) => event.error(&state, e.error),
    }
    result
}

/// The device authorization itself.
async fn authorize(
    state: &AppState,
    snap: &RealmSnapshot,
    issuer: &str,
    headers: &HeaderMap,
    params: &super::form::Params,
) -> Result<Response, OAuthError> {
    let client =
        client_auth::authenticate(snap, state.store.as_ref(), issuer, headers, params).await?;
    if !grant_enabled(&snap.client_settings(client)) {
        return Err(OAuthError::unauthorized_client(
            "Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. The flow is disabled for the client.",
        ));
    }
    let data = request_data(snap, client, params)?;
    let config = DeviceConfig::of(snap, client);
    let device_code = crate::crypto::b64url(
        &crate::crypto::random_bytes(32).map_err(|_| OAuthError::server_error())?,
    );
    let t = now();
    // A user code already in use in the realm is drawn again.
    let mut user_code = generate_user_code()?;
    let mut tries = 0;
    loop {
        let row = DeviceCodeRow {
            device_code_hash: code_hash(&device_code),
            realm_id: snap.id.clone(),
            client_id: client.client_id.clone().unwrap_or_default(),
            user_code: user_code.clone(),
            data: data.to_json(),
            expires_at: t + config.lifespan,
            poll_interval: config.interval,
            status: DeviceStatus::Pending,
            session_id: None,
            user_id: None,
        };
        match state.store.put_device_code(&row).await {
            Ok(()) => break,
            Err(StoreError::Unique(_)) if tries < 5 => {
                tries += 1;
                user_code = generate_user_code()?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let verification_uri = format!("{issuer}{}", &paths::DEVICE[paths::REALM.len()..]);
    let shown = display_user_code(&user_code);
    let mut r = Json(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={shown}"),
        "expires_in": config.lifespan,
        "interval": config.interval,
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_have_keycloaks_shape_and_normalize() {
        for _ in 0..50 {
            let c = generate_user_code().unwrap();
            assert_eq!(c.len(), 8);
            assert!(c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            let shown = display_user_code(&c);
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(normalize_user_code(&shown).as_deref(), Some(c.as_str()));
            assert_eq!(
                normalize_user_code(&shown.to_lowercase()).as_deref(),
                Some(c.as_str())
            );
        }
        assert_eq!(
            normalize_user_code(" bcdf-ghjk ").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalize_user_code("BCDFGHJ"), None);
        assert_eq!(
            normalize_user_code("ABCD-EFGH"),
            None,
            "vowels are not drawn"
        );
        assert_eq!(normalize_user_code("BCDF-GHJK-L"), None);
    }

    #[test]
    fn alphabet_has_no_look_alikes() {
        for bad in b"AEIOU0125" {
            assert!(!USER_CODE_ALPHABET.contains(bad), "{}", char::from(*bad));
        }
        assert_eq!(USER_CODE_ALPHABET.len(), 20);
    }
}
