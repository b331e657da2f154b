//! Client authentication at the token, introspection, revocation and logout endpoints:
//! `client_secret_basic`, `client_secret_post`, and `none` for public clients (RFC 6749 §2.3).

use axum::http::{header, HeaderMap};
use base64::Engine;

use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;

use super::error::OAuthError;
use super::form::Params;

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

/// Authenticates the client of a request; returns it.
pub fn authenticate<'a>(
    snap: &'a RealmSnapshot,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a ClientRepresentation, OAuthError> {
    let (client_id, secret) = presented(headers, params)?;
    let client_id =
        client_id.ok_or_else(|| OAuthError::invalid_client("Missing client_id parameter"))?;
    let client = snap.index.client(&snap.rep, &client_id).ok_or_else(|| {
        OAuthError::invalid_client("Invalid client or Invalid client credentials")
    })?;
    if client
        .extra
        .get("enabled")
        .and_then(serde_json::Value::as_bool)
        == Some(false)
    {
        return Err(OAuthError::invalid_client(
            "Invalid client or Invalid client credentials",
        ));
    }
    if client.protocol.as_deref().unwrap_or("openid-connect") != "openid-connect" {
        return Err(OAuthError::invalid_client("Wrong client protocol."));
    }
    if client
        .extra
        .get("bearerOnly")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        return Err(OAuthError::invalid_client("Bearer-only not allowed"));
    }
    // Keycloak accepts a public client whatever secret it sends (ClientIdAndSecretAuthenticator).
    if client.public_client == Some(true) {
        return Ok(client);
    }
    let authenticator = client
        .extra
        .get("clientAuthenticatorType")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("client-secret");
    if authenticator != "client-secret" {
        return Err(OAuthError::client_auth_failed(format!(
            "client authentication method '{authenticator}' is not supported yet"
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
