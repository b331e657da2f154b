//! Client authentication at the token, introspection, revocation and logout endpoints:
//! `client_secret_basic`, `client_secret_post`, `none` for public clients (RFC 6749 §2.3), and
//! RFC 7523 client assertions: `client_secret_jwt` (HMAC with the client secret, Keycloak's
//! `client-secret-jwt`) and `private_key_jwt` (Keycloak's `client-jwt`, keys from the client's
//! `jwks.url`, `jwks.string`, `jwt.credential.certificate` or `jwt.credential.public.key`:
//! see [`super::client_keys`]). Assertions are single use.

use axum::http::{header, HeaderMap};
use base64::Engine;

use crate::crypto::jws;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;
use crate::store::Store;

use super::form::Params;
use crate::http::oauth_error::OAuthError;
use crate::realm::client_keys::{self, KeyError};

/// The client of an endpoint that authenticates it, with the endpoint's `event` told: the
/// client the request names before the check, and `invalid_client_credentials` (the event
/// recorded) when the check fails, as Keycloak's endpoints record them. The event comes back
/// with the client.
pub async fn authenticate_for_event<'a>(
    state: &crate::AppState,
    snap: &'a RealmSnapshot,
    issuer: &str,
    headers: &HeaderMap,
    params: &Params,
    mut event: crate::events::UserEvent,
) -> Result<(&'a ClientRepresentation, crate::events::UserEvent), OAuthError> {
    if let Some(id) = claimed_client_id(headers, params) {
        event.set_client(id);
    }
    match authenticate(snap, state.store.as_ref(), issuer, headers, params).await {
        Ok(client) => Ok((client, event)),
        Err(e) => {
            event.error(state, crate::events::errors::INVALID_CLIENT_CREDENTIALS);
            Err(e)
        }
    }
}

/// The `client_id` a request names (Basic authentication or the form), before it is checked:
/// what an event records about a client whose authentication fails.
pub fn claimed_client_id(headers: &HeaderMap, params: &Params) -> Option<String> {
    presented(headers, params)
        .ok()
        .and_then(|(id, _)| id)
        .or_else(|| params.get("client_id").map(String::from))
}

/// The client's `client_id` and secret as presented.
fn presented(
    headers: &HeaderMap,
    params: &Params,
) -> Result<(Option<String>, Option<String>), OAuthError> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v[6..].trim())
                .map_err(|_| OAuthError::invalid_request("malformed Basic authorization header"))?;
            let text = String::from_utf8(raw)
                .map_err(|_| OAuthError::invalid_request("malformed Basic authorization header"))?;
            let (id, secret) = text.split_once(':').ok_or_else(|| {
                OAuthError::invalid_request("malformed Basic authorization header")
            })?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded.
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((decode(id), decode(secret)))
        }
        _ => None,
    };
    match basic {
        Some((id, secret)) => {
            if let Some(form_id) = params.get("client_id") {
                if form_id != id {
                    return Err(OAuthError::invalid_request(
                        "client_id in the form differs from the authenticated client",
                    ));
                }
            }
            if params.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "client credentials given twice (Basic and form)",
                ));
            }
            Ok((Some(id), Some(secret)))
        }
        None => Ok((
            params.get("client_id").map(str::to_string),
            params.get("client_secret").map(str::to_string),
        )),
    }
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Authenticates the client of a request; returns it.
pub async fn authenticate<'a>(
    snap: &'a RealmSnapshot,
    store: &dyn Store,
    issuer: &str,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a ClientRepresentation, OAuthError> {
    if let Some(assertion) = params.get("client_assertion") {
        if params.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_client(
                "Parameter client_assertion_type is missing or invalid",
            ));
        }
        return authenticate_assertion(snap, store, issuer, params, assertion).await;
    }
    authenticate_secret(snap, headers, params)
}

fn find_client<'a>(
    snap: &'a RealmSnapshot,
    client_id: &str,
) -> Result<&'a ClientRepresentation, OAuthError> {
    let client = snap.index.client(&snap.rep, client_id).ok_or_else(|| {
        OAuthError::invalid_client("Invalid client or Invalid client credentials")
    })?;
    if client.enabled == Some(false) {
        return Err(OAuthError::invalid_client(
            "Invalid client or Invalid client credentials",
        ));
    }
    if client.protocol.as_deref().unwrap_or("openid-connect") != "openid-connect" {
        return Err(OAuthError::invalid_client("Wrong client protocol."));
    }
    if client.bearer_only == Some(true) {
        return Err(OAuthError::invalid_client("Bearer-only not allowed"));
    }
    Ok(client)
}

/// RFC 7523 §3: `iss` = `sub` = the client, `aud` the realm (issuer or one of its endpoint
/// URLs), not expired, `jti` used once, signature by the client's key or secret.
async fn authenticate_assertion<'a>(
    snap: &'a RealmSnapshot,
    store: &dyn Store,
    issuer: &str,
    params: &Params,
    assertion: &str,
) -> Result<&'a ClientRepresentation, OAuthError> {
    // Keycloak 26's AbstractJWTClientValidator.failure: 400 `invalid_client`.
    let fail = |d: &str| OAuthError::invalid_client_400(d.to_string());
    let parsed = jws::parse(assertion)
        .map_err(|_| fail("Client authentication with signed JWT failed: malformed assertion"))?;
    let c = &parsed.claims;
    let claim = |k: &str| c.get(k).and_then(serde_json::Value::as_str);
    let client_id =
        claim("sub").ok_or_else(|| fail("Can't identify client. Subject missing on JWT token"))?;
    if claim("iss") != Some(client_id) {
        return Err(fail("Issuer mismatch. The issuer should match the subject"));
    }
    if params.get("client_id").is_some_and(|id| id != client_id) {
        return Err(fail("client_id parameter does not match sub claim"));
    }
    let client = find_client(snap, client_id)?;
    let authenticator = client
        .client_authenticator_type
        .as_deref()
        .unwrap_or("client-secret");
    let alg = parsed
        .header
        .get("alg")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    // Keycloak's JWTClientValidator.validateSignatureAlgorithm: the assertion must name its
    // algorithm, and the one the client registered (`token.endpoint.auth.signing.alg`) if any.
    let settings = snap.client_settings(client);
    let expected = settings.token_endpoint_auth_signing_alg.as_deref();
    if alg.is_empty() || expected.is_some_and(|e| e != alg) {
        return Err(fail("invalid signature algorithm"));
    }
    let verified = match authenticator {
        "client-secret-jwt" => {
            let secret = client
                .secret
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| fail("Client secret not set"))?;
            matches!(alg, "HS256" | "HS384" | "HS512")
                && parsed.verify_with_secret(alg, secret.as_bytes()).is_ok()
        }
        "client-jwt" => {
            if alg.starts_with("HS") || alg.is_empty() || alg.eq_ignore_ascii_case("none") {
                false
            } else {
                let base_url = issuer
                    .strip_suffix(&format!("/realms/{}", snap.name))
                    .unwrap_or(issuer);
                // Keycloak's JWTClientAuthenticator.getSignatureValidationKey.
                let key = client_keys::signature_key(&snap.client_keys, client, base_url, &parsed)
                    .await
                    .map_err(|e| match e {
                        KeyError::NotFound => fail("Unable to load public key"),
                        KeyError::Unavailable => fail(
                            "Client authentication with signed JWT failed: Error when loading public keys",
                        ),
                    })?;
                key.verify(&parsed).is_ok()
            }
        }
        _ => {
            return Err(fail(
                "Client authentication with signed JWT is not enabled for this client",
            ))
        }
    };
    if !verified {
        return Err(fail("Client authentication with signed JWT failed: Signature on JWT token failed validation"));
    }
    let now = crate::clock::now();
    let exp = c
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| fail("Token is not active"))?;
    if exp < now - 10
        || c.get("nbf")
            .and_then(serde_json::Value::as_i64)
            .is_some_and(|nbf| nbf > now + 10)
    {
        return Err(fail("Token is not active"));
    }
    let auds: Vec<&str> = match c.get("aud") {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(a)) => {
            a.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    };
    let endpoint_prefix = format!("{issuer}/protocol/openid-connect/");
    if !auds
        .iter()
        .any(|a| *a == issuer || a.starts_with(&endpoint_prefix))
    {
        return Err(fail("Token audience doesn't match domain"));
    }
    let jti = claim("jti").ok_or_else(|| fail("Missing ID on the token"))?;
    if !store
        .use_once(
            &format!("client-assertion:{}:{client_id}:{jti}", snap.id),
            exp.max(now) + 60,
        )
        .await?
    {
        return Err(fail("Token reuse detected"));
    }
    Ok(client)
}

fn authenticate_secret<'a>(
    snap: &'a RealmSnapshot,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a ClientRepresentation, OAuthError> {
    let (client_id, secret) = presented(headers, params)?;
    let client_id =
        client_id.ok_or_else(|| OAuthError::invalid_client("Missing client_id parameter"))?;
    let client = find_client(snap, &client_id)?;
    // Keycloak accepts a public client whatever secret it sends (ClientIdAndSecretAuthenticator).
    if client.public_client == Some(true) {
        return Ok(client);
    }
    let authenticator = client
        .client_authenticator_type
        .as_deref()
        .unwrap_or("client-secret");
    if matches!(authenticator, "client-jwt" | "client-secret-jwt") {
        return Err(OAuthError::invalid_client(
            "Parameter client_assertion_type is missing",
        ));
    }
    if authenticator != "client-secret" {
        return Err(OAuthError::client_auth_failed(format!(
            "client authentication method '{authenticator}' is not supported"
        )));
    }
    let secret = secret
        .ok_or_else(|| OAuthError::client_auth_failed("Client secret not provided in request"))?;
    let expected = client.secret.as_deref().unwrap_or_default();
    let ok = !expected.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.as_bytes(),
            secret.as_bytes(),
        )
        .is_ok();
    if !ok {
        return Err(OAuthError::client_auth_failed(
            "Invalid client or Invalid client credentials",
        ));
    }
    Ok(client)
}
