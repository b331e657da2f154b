//! GET /realms/{realm}/protocol/openid-connect/auth
//! OpenID Connect Core §3.1.2 (authorization code, implicit and hybrid flows) with RFC 7636
//! PKCE: validate the client and redirect URI (an error page, never a redirect, when they are
//! wrong), then the rest of the request (errors go back to the redirect URI), reuse an SSO
//! session or show the login page. The login itself is [`crate::authn`]'s; its forms post to
//! [`super::login_actions`].

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use crate::authn::browser::{self, Browser};
use crate::authn::pages::error_page;
use crate::authn::reply::Reply;
use crate::authn::{AuthRequest, PendingLogin};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;
use crate::AppState;

use super::authorization_response::Oidc;
use super::login_actions::issuer;
use super::par;
use super::redirect;
use crate::tokens::resolve_scopes;

pub use crate::authn::code_hash;
pub use crate::authn::reply::ResponseType;

/// The response types served, in discovery order (Keycloak's
/// `OIDCWellKnownProvider.DEFAULT_RESPONSE_TYPES_SUPPORTED`); which of them a client may use
/// depends on its `standardFlowEnabled` and `implicitFlowEnabled`.
pub const RESPONSE_TYPES: &[&str] = &[
    "code",
    "none",
    "id_token",
    "token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

/// The response modes served (Keycloak's JARM modes `jwt`, `*.jwt` are not).
pub const RESPONSE_MODES: &[&str] = &["query", "fragment", "form_post"];

/// The request's parameters, each at most once; empty values count as absent.
pub(super) struct QueryParams<'a>(HashMap<&'a str, &'a str>);

impl<'a> QueryParams<'a> {
    pub(super) fn new(params: HashMap<&'a str, &'a str>) -> Self {
        QueryParams(params)
    }

    pub(super) fn get(&self, k: &str) -> Option<&'a str> {
        self.0.get(k).copied().filter(|v| !v.is_empty())
    }

    /// The non-empty parameters, owned.
    pub(super) fn owned(&self) -> HashMap<String, String> {
        self.0
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// GET (and POST) of the authorization endpoint.
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let Ok(snap) = state.realm(&realm).await else {
        return error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let mut params = match unique_params(&q) {
        Ok(p) => p,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    // A pushed request (RFC 9126): its parameters win over the query's
    // (`AuthzEndpointParParser`); the query still names the client.
    let pushed = match params.get("request_uri").filter(|v| !v.is_empty()) {
        None => None,
        Some(request_uri) => {
            match par::redeem(&state, &snap, request_uri, params.get("client_id").copied()).await {
                Ok(Some(p)) => Some(p),
                Ok(None) => return error_page(StatusCode::BAD_REQUEST, par::INVALID_REQUEST),
                Err(_) => return error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later."),
            }
        }
    };
    if let Some(p) = &pushed {
        // `checkParRedirectUri`: a redirect URI in the query only with one in the request.
        if params.contains_key("redirect_uri") && !p.params.contains_key("redirect_uri") {
            return error_page(
                StatusCode::BAD_REQUEST,
                "PAR is required to have a 'redirect_uri' parameter",
            );
        }
        for (k, v) in &p.params {
            params.insert(k.as_str(), v.as_str());
        }
        params.remove("request_uri");
    }
    let params = QueryParams(params);
    let (client, redirect_uri) = match client_and_redirect(&snap, &params) {
        Ok(found) => found,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, message),
    };
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let (mut request, reply) = match validate(
        &snap,
        client,
        redirect_uri,
        &params,
        &issuer,
        pushed.is_some(),
    ) {
        Ok(valid) => valid,
        Err(r) => return *r,
    };
    request.login_hint = params.get("login_hint").map(str::to_string);
    // OpenID Connect Prompt Create 1.0 (`prompt=create`): the registration page.
    if params.get("prompt") == Some("create") {
        return super::registrations::begin(&state, &snap, request, None, reply.secure()).await;
    }
    let base = state.base_url(&headers, &uri).unwrap_or_default();
    let browser = Browser {
        state: &state,
        snap: &snap,
        protocol: &Oidc,
        reply: &reply,
        headers: &headers,
        base: &base,
        remote: None,
        max_age: params.get("max_age").and_then(|m| m.parse::<i64>().ok()),
    };
    browser::start(&browser, PendingLogin::of(request)).await
}

/// The query's parameters by name, or the error page's message when one repeats.
pub(crate) fn unique_params(q: &[(String, String)]) -> Result<HashMap<&str, &str>, String> {
    let mut params: HashMap<&str, &str> = HashMap::new();
    for (k, v) in q {
        if params.insert(k.as_str(), v.as_str()).is_some() {
            return Err(format!("Invalid Request: duplicated parameter {k}."));
        }
    }
    Ok(params)
}

/// The checks of a request that was not pushed, in the handler's order: the client and its
/// redirect URI, then the rest ([`validate`]). For the fuzz targets (`crate::fuzzing`).
pub(crate) fn check(
    snap: &RealmSnapshot,
    params: HashMap<&str, &str>,
    issuer: &str,
) -> Result<(AuthRequest, Reply), String> {
    let params = QueryParams(params);
    let (client, redirect_uri) = client_and_redirect(snap, &params).map_err(str::to_string)?;
    validate(snap, client, redirect_uri, &params, issuer, false)
        .map_err(|r| format!("error response {}", r.status()))
}

/// The checks of a request that was not pushed, answered as this endpoint answers them: the
/// error page, or the error sent to the verified redirect URI (the registration endpoint).
/// Relative redirect URIs of a client whose `rootUrl` is `${authBaseUrl}` resolve against
/// `base` (the invitation link names the built-in `account` client without a redirect URI).
pub(super) fn validated(
    snap: &RealmSnapshot,
    params: HashMap<&str, &str>,
    issuer: &str,
    base: &str,
) -> Result<(AuthRequest, Reply), Box<Response>> {
    let params = QueryParams(params);
    let bad = |m: &str| Box::new(error_page(StatusCode::BAD_REQUEST, m));
    let client_id = params
        .get("client_id")
        .ok_or_else(|| bad("Invalid Request: missing parameter client_id."))?;
    let client = match snap.index.client(&snap.rep, client_id) {
        Some(c) if c.enabled != Some(false) => c,
        _ => return Err(bad("Client not found.")),
    };
    let redirect_uri = redirect::verify_at(client, params.get("redirect_uri"), Some(base))
        .ok_or_else(|| bad("Invalid parameter: redirect_uri"))?;
    let (mut request, reply) = validate(snap, client, redirect_uri, &params, issuer, false)?;
    request.login_hint = params.get("login_hint").map(str::to_string);
    Ok((request, reply))
}

/// The enabled client and its verified redirect URI, or the message of the error page
/// (never a redirect).
fn client_and_redirect<'s>(
    snap: &'s RealmSnapshot,
    params: &QueryParams<'_>,
) -> Result<(&'s ClientRepresentation, String), &'static str> {
    let client_id = params
        .get("client_id")
        .ok_or("Invalid Request: missing parameter client_id.")?;
    let client = match snap.index.client(&snap.rep, client_id) {
        Some(c) if c.enabled != Some(false) => c,
        _ => return Err("Client not found."),
    };
    let redirect_uri = redirect::verify(client, params.get("redirect_uri"))
        .ok_or("Invalid parameter: redirect_uri")?;
    Ok((client, redirect_uri))
}

/// Validates the rest of the request as Keycloak's `AuthorizationEndpointChecker`, in its
/// order: the request to record (without `login_hint`, which only the login form uses) and
/// where to answer, or the error sent to the verified redirect URI.
fn validate(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    redirect_uri: String,
    params: &QueryParams<'_>,
    issuer: &str,
    pushed: bool,
) -> Result<(AuthRequest, Reply), Box<Response>> {
    let get = |k: &str| params.get(k);
    // Errors about the response type itself go back in the requested mode where it is known,
    // else `query` (`parseWhenInvalidResponseType`).
    let reply_in = |mode: &str| Reply {
        redirect_uri: redirect_uri.clone(),
        response_mode: mode.to_string(),
        state: get("state").map(str::to_string),
        issuer: issuer.to_string(),
        after: Vec::new(),
    };
    let known_mode = get("response_mode")
        .filter(|m| RESPONSE_MODES.contains(m))
        .unwrap_or("query");
    let Some(response_type_param) = get("response_type") else {
        let r = reply_in(known_mode).error("invalid_request", "Missing parameter: response_type");
        return Err(Box::new(r));
    };
    let Some(response_type) = ResponseType::parse(response_type_param) else {
        let r = reply_in(known_mode).send(&[("error", "unsupported_response_type")]);
        return Err(Box::new(r));
    };
    let response_mode = match get("response_mode") {
        None => response_type.default_mode(),
        Some(m) if RESPONSE_MODES.contains(&m) => m,
        Some(_) => {
            let r = reply_in("query").error("invalid_request", "Invalid parameter: response_mode");
            return Err(Box::new(r));
        }
    };
    let reply = reply_in(response_mode);
    // `checkParRequired`.
    if !pushed && snap.client_settings(client).require_par {
        let r = reply.error(
            "invalid_request",
            "Pushed Authorization Request is only allowed.",
        );
        return Err(Box::new(r));
    }
    if let Err((error, description)) =
        check_flow(snap, client, params, response_type, response_mode)
    {
        return Err(Box::new(reply.error(error, &description)));
    }
    let request = AuthRequest {
        client_id: get("client_id").map(str::to_string),
        redirect_uri: Some(redirect_uri),
        redirect_uri_param: get("redirect_uri").map(str::to_string),
        response_type: Some(response_type_param.to_string()),
        response_mode: Some(response_mode.to_string()),
        scope: get("scope").map(str::to_string),
        state: get("state").map(str::to_string),
        nonce: get("nonce").map(str::to_string),
        prompt: get("prompt").map(str::to_string),
        code_challenge: get("code_challenge").map(str::to_string),
        code_challenge_method: get("code_challenge")
            .map(|_| get("code_challenge_method").unwrap_or("plain").to_string()),
        login_hint: None,
        kc_idp_hint: get("kc_idp_hint").map(str::to_string),
        // `AuthorizationEndpoint`: the alias is the part before the first `:`, the rest the
        // action's parameter (client note `kc_action_parameter`).
        kc_action: get("kc_action")
            .filter(|a| !a.is_empty())
            .map(|a| a.split(':').next().unwrap_or(a).to_string()),
        kc_action_parameter: get("kc_action")
            .and_then(|a| a.split_once(':'))
            .map(|(_, p)| p.to_string()),
        // `LocaleUtil.processLocaleParam`: only in a realm with internationalization enabled.
        kc_locale: get("kc_locale")
            .filter(|_| {
                snap.rep
                    .extra
                    .get("internationalizationEnabled")
                    .and_then(serde_json::Value::as_bool)
                    == Some(true)
            })
            .map(str::to_string),
        acr_values: get("acr_values").map(str::to_string),
        claims: get("claims").map(str::to_string),
    };
    Ok((request, reply))
}

/// The checks after the response type and mode: the client's flows, the scopes, the nonce
/// and PKCE. An error is `(error, error_description)`.
pub(super) fn check_flow(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    params: &QueryParams<'_>,
    response_type: ResponseType,
    response_mode: &str,
) -> Result<(), (&'static str, String)> {
    let get = |k: &str| params.get(k);
    let err = |e: &'static str, d: &str| Err((e, d.to_string()));
    let front = response_type.implicit_or_hybrid();
    if front && response_mode == "query" {
        return err(
            "invalid_request",
            "Response_mode 'query' not allowed for implicit or hybrid flow",
        );
    }
    if (response_type.code || response_type.none) && client.standard_flow_enabled == Some(false) {
        return err("unauthorized_client", "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.");
    }
    if front && client.implicit_flow_enabled != Some(true) {
        return err("unauthorized_client", "Client is not allowed to initiate browser login with given response_type. Implicit flow is disabled for the client.");
    }
    // Scopes are checked here for every response type (`checkValidScope`), then the nonce an
    // ID token needs (`checkOIDCParams`: not for a plain OAuth2 `token` request).
    if resolve_scopes(snap, client, get("scope")).is_err() {
        let scope = get("scope").unwrap_or_default();
        return err("invalid_scope", &format!("Invalid scopes: {scope}"));
    }
    if front && response_type.id_token && get("nonce").is_none() {
        return err("invalid_request", "Missing parameter: nonce");
    }
    // PKCE: not for the implicit flow, which has no code (`checkPKCEParams`).
    if response_type.implicit() {
        return Ok(());
    }
    let settings = snap.client_settings(client);
    check_pkce(
        get("code_challenge"),
        get("code_challenge_method"),
        settings.pkce_method.as_deref(),
    )
    .map_err(|d| ("invalid_request", d.to_string()))
}

/// PKCE (RFC 7636): required where the client sets `pkce.code.challenge.method`; `plain`
/// only where that attribute says `plain`. An error is the `error_description`. The order is
/// Keycloak's (`AuthorizationEndpointChecker.checkParamsForPkceEnforcedClient` and
/// `checkParamsForPkceNotEnforcedClient`).
fn check_pkce(
    challenge: Option<&str>,
    method: Option<&str>,
    required: Option<&str>,
) -> Result<(), &'static str> {
    let valid = |c: &str| {
        (43..=128).contains(&c.len())
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch))
    };
    match required {
        Some(r) => {
            let m = method.ok_or("Missing parameter: code_challenge_method")?;
            if m != r {
                return Err(
                    "Invalid parameter: code challenge method is not matching the configured one",
                );
            }
            let c = challenge.ok_or("Missing parameter: code_challenge")?;
            valid(c)
                .then_some(())
                .ok_or("Invalid parameter: code_challenge")
        }
        None => {
            let Some(c) = challenge else {
                return match method {
                    Some(_) => Err("Missing parameter: code_challenge"),
                    None => Ok(()),
                };
            };
            if !matches!(method.unwrap_or("plain"), "S256" | "plain") {
                return Err("Invalid parameter: code_challenge_method");
            }
            valid(c)
                .then_some(())
                .ok_or("Invalid parameter: code_challenge")
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_response_type_parses() {
        for listed in RESPONSE_TYPES {
            assert!(ResponseType::parse(listed).is_some(), "{listed}");
        }
    }

    #[test]
    fn pkce_checks_in_keycloak_order() {
        let c = "a".repeat(43);
        assert_eq!(check_pkce(None, None, None), Ok(()));
        assert_eq!(check_pkce(Some(&c), None, None), Ok(()), "plain by default");
        assert_eq!(
            check_pkce(None, None, Some("S256")),
            Err("Missing parameter: code_challenge_method"),
            "an enforcing client: the method is checked first"
        );
        assert_eq!(
            check_pkce(None, Some("plain"), Some("S256")),
            Err("Invalid parameter: code challenge method is not matching the configured one")
        );
        assert_eq!(
            check_pkce(None, Some("S256"), Some("S256")),
            Err("Missing parameter: code_challenge")
        );
        assert_eq!(
            check_pkce(None, Some("S256"), None),
            Err("Missing parameter: code_challenge")
        );
        assert!(check_pkce(Some(&c), Some("plain"), Some("S256")).is_err());
        assert!(check_pkce(Some(&c), Some("S512"), None).is_err());
        assert!(check_pkce(Some("short"), Some("S256"), None).is_err());
    }
}
