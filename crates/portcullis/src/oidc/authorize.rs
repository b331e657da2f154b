//! GET /realms/{realm}/protocol/openid-connect/auth  and
//! POST /realms/{realm}/login-actions/authenticate
//! OpenID Connect Core §3.1.2 (authorization code flow) with RFC 7636 PKCE: validate the
//! client and redirect URI (an error page, never a redirect, when they are wrong), reuse an
//! SSO session or show the login page, then redirect back with a single-use code.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::http::paths;
use crate::login;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::SessionRow;
use crate::AppState;

use super::form::{Form, Params};
use super::issue::client_attr;
use super::redirect;
use crate::clock::now;
use crate::sessions::live_session;
use crate::users::parse_user;
use crate::users::{find_user, password_matches};

/// Path of the login form's target.
pub const LOGIN_ACTION: &str = "/realms/{realm}/login-actions/authenticate";
/// Path of the required-action (update password) form's target.
pub const REQUIRED_ACTION: &str = "/realms/{realm}/login-actions/required-action";

/// SHA-256 of a code, hex: codes are stored by hash only.
pub fn code_hash(code: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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

/// Keycloak's `OIDCResponseType`: `response_type` as a set of `code`, `token`, `id_token` and
/// `none` (`none` only alone). `token` alone is accepted, as Keycloak does for plain OAuth2
/// clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseType {
    /// `code`.
    pub code: bool,
    /// `token`.
    pub token: bool,
    /// `id_token`.
    pub id_token: bool,
    /// `none`.
    pub none: bool,
}

impl ResponseType {
    /// Parses the parameter as Keycloak does (`trim`, then split at single spaces); `None` for
    /// an unknown value or `none` with another type.
    pub fn parse(param: &str) -> Option<Self> {
        let mut t = ResponseType::default();
        let mut count = 0;
        for part in param.trim().split(' ') {
            match part {
                "code" => t.code = true,
                "token" => t.token = true,
                "id_token" => t.id_token = true,
                "none" => t.none = true,
                _ => return None,
            }
            count += 1;
        }
        (!t.none || count == 1).then_some(t)
    }

    /// Tokens are sent from the authorization endpoint (implicit or hybrid flow).
    pub fn implicit_or_hybrid(&self) -> bool {
        self.token || self.id_token
    }

    /// Tokens and no code (the implicit flow).
    pub fn implicit(&self) -> bool {
        self.implicit_or_hybrid() && !self.code
    }

    /// `fragment` for the implicit and hybrid flows, `query` otherwise (`OIDCResponseMode`).
    pub fn default_mode(&self) -> &'static str {
        if self.implicit_or_hybrid() {
            "fragment"
        } else {
            "query"
        }
    }
}

/// Where and how to send the answer.
struct Reply {
    redirect_uri: String,
    response_mode: String,
    state: Option<String>,
    issuer: String,
}

impl Reply {
    fn send(&self, params: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(s) = &self.state {
            all.push(("state", s));
        }
        all.push(("iss", &self.issuer));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all.iter())
            .finish();
        match self.response_mode.as_str() {
            "form_post" => {
                let inputs: String = all
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                            login::escape(k),
                            login::escape(v)
                        )
                    })
                    .collect();
                login::html(
                    StatusCode::OK,
                    format!(
                        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Submit This Form</title></head>\
                         <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
                         <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
                        login::escape(&self.redirect_uri)
                    ),
                )
            }
            mode => {
                let sep = if mode == "fragment" {
                    '#'
                } else if self.redirect_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let location = format!("{}{sep}{encoded}", self.redirect_uri);
                let mut r = StatusCode::FOUND.into_response();
                if let Ok(v) = HeaderValue::from_str(&location) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
        }
    }

    fn error(&self, error: &str, description: &str) -> Response {
        self.send(&[("error", error), ("error_description", description)])
    }
}

fn issuer(
    state: &AppState,
    snap: &RealmSnapshot,
    headers: &HeaderMap,
    uri: &Uri,
) -> Option<String> {
    Some(paths::url(
        &state.base_url(headers, uri).ok()?,
        paths::REALM,
        &snap.name,
    ))
}

fn secure(issuer: &str) -> bool {
    issuer.starts_with("https://")
}

/// Creates the code and the redirect for an authenticated user.
async fn issue_code(
    state: &AppState,
    snap: &RealmSnapshot,
    req: &Map<String, Value>,
    sid: &str,
    user_id: &str,
    auth_time: i64,
) -> Result<String, Response> {
    let code = format!(
        "{}.{}",
        uuid::Uuid::new_v4().simple(),
        crate::crypto::random_alphanumeric(32)
    );
    let mut data = req.clone();
    data.insert("session_id".into(), json!(sid));
    data.insert("user_id".into(), json!(user_id));
    data.insert("auth_time".into(), json!(auth_time));
    let lifespan = snap
        .rep
        .extra
        .get("accessCodeLifespan")
        .and_then(Value::as_i64)
        .unwrap_or(60);
    state
        .store
        .put_code(
            &code_hash(&code),
            &snap.id,
            &Value::Object(data).to_string(),
            now() + lifespan,
        )
        .await
        .map_err(|_| login::internal_error())?;
    Ok(code)
}

/// GET (and POST) of the authorization endpoint.
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let Ok(snap) = state.realm(&realm) else {
        return login::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let mut params: HashMap<&str, &str> = HashMap::new();
    for (k, v) in &q {
        if params.insert(k.as_str(), v.as_str()).is_some() {
            return login::error_page(
                StatusCode::BAD_REQUEST,
                &format!("Invalid Request: duplicated parameter {k}."),
            );
        }
    }
    let get = |k: &str| params.get(k).copied().filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return login::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid Request: missing parameter client_id.",
        );
    };
    let client = match snap.index.client(&snap.rep, client_id) {
        Some(c) if c.extra.get("enabled").and_then(Value::as_bool) != Some(false) => c,
        _ => return login::error_page(StatusCode::BAD_REQUEST, "Client not found."),
    };
    let Some(redirect_uri) = redirect::verify(client, get("redirect_uri")) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid parameter: redirect_uri");
    };
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    // Keycloak's `AuthorizationEndpointChecker.checkResponseType`, in its order. Errors go back
    // to the (verified) redirect URI; the mode of an error about the response type itself is
    // the requested one where it is known, else `query` (`parseWhenInvalidResponseType`).
    let reply_in = |mode: &str| Reply {
        redirect_uri: redirect_uri.clone(),
        response_mode: mode.to_string(),
        state: get("state").map(str::to_string),
        issuer: issuer.clone(),
    };
    let known_mode = get("response_mode")
        .filter(|m| RESPONSE_MODES.contains(m))
        .unwrap_or("query");
    let Some(response_type_param) = get("response_type") else {
        return reply_in(known_mode).error("invalid_request", "Missing parameter: response_type");
    };
    let Some(response_type) = ResponseType::parse(response_type_param) else {
        return reply_in(known_mode).send(&[("error", "unsupported_response_type")]);
    };
    let response_mode = match get("response_mode") {
        None => response_type.default_mode(),
        Some(m) if RESPONSE_MODES.contains(&m) => m,
        Some(_) => {
            return reply_in("query").error("invalid_request", "Invalid parameter: response_mode")
        }
    };
    let reply = reply_in(response_mode);
    let front = response_type.implicit_or_hybrid();
    if front && response_mode == "query" {
        return reply.error(
            "invalid_request",
            "Response_mode 'query' not allowed for implicit or hybrid flow",
        );
    }
    let flag = |k: &str| client.extra.get(k).and_then(Value::as_bool);
    if (response_type.code || response_type.none) && flag("standardFlowEnabled") == Some(false) {
        return reply.error("unauthorized_client", "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.");
    }
    if front && flag("implicitFlowEnabled") != Some(true) {
        return reply.error("unauthorized_client", "Client is not allowed to initiate browser login with given response_type. Implicit flow is disabled for the client.");
    }
    // Scopes are checked here for every response type (`checkValidScope`), then the nonce an
    // ID token needs (`checkOIDCParams`: not for a plain OAuth2 `token` request).
    if super::issue::resolve_scopes(&snap, client, get("scope")).is_err() {
        return reply.error(
            "invalid_scope",
            &format!("Invalid scopes: {}", get("scope").unwrap_or_default()),
        );
    }
    if front && response_type.id_token && get("nonce").is_none() {
        return reply.error("invalid_request", "Missing parameter: nonce");
    }
    // PKCE (RFC 7636): required where the client sets `pkce.code.challenge.method`; `plain`
    // only where that attribute says `plain`.
    // Not for the implicit flow, which has no code (`checkPKCEParams`).
    let required = client_attr(client, "pkce.code.challenge.method");
    let challenge = get("code_challenge");
    let method = get("code_challenge_method");
    let pkce = (!response_type.implicit()).then_some((challenge, method, required));
    match pkce.unwrap_or((None, None, None)) {
        (None, _, Some(_)) => {
            return reply.error("invalid_request", "Missing parameter: code_challenge")
        }
        (Some(_), None, Some(_)) => {
            return reply.error(
                "invalid_request",
                "Missing parameter: code_challenge_method",
            )
        }
        (Some(_), Some(m), Some(r)) if m != r => {
            return reply.error(
                "invalid_request",
                "Invalid parameter: code challenge method is not matching the configured one",
            )
        }
        (Some(c), m, _) => {
            let m = m.unwrap_or("plain");
            if !matches!(m, "S256" | "plain") {
                return reply.error(
                    "invalid_request",
                    "Invalid parameter: code_challenge_method",
                );
            }
            if c.len() < 43
                || c.len() > 128
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch))
            {
                return reply.error("invalid_request", "Invalid parameter: code_challenge");
            }
        }
        (None, Some(_), None) => {
            return reply.error("invalid_request", "Missing parameter: code_challenge")
        }
        (None, None, None) => {}
    }
    let request = Map::from_iter(
        [
            ("client_id", Some(client_id)),
            ("redirect_uri", Some(redirect_uri.as_str())),
            ("redirect_uri_param", get("redirect_uri")),
            ("response_type", Some(response_type_param)),
            ("response_mode", Some(response_mode)),
            ("scope", get("scope")),
            ("state", get("state")),
            ("nonce", get("nonce")),
            ("prompt", get("prompt")),
            ("code_challenge", challenge),
            (
                "code_challenge_method",
                challenge.map(|_| method.unwrap_or("plain")),
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), json!(v)))),
    );
    let prompt = get("prompt").unwrap_or_default();
    // An SSO session of this realm: log in without a prompt.
    if !prompt.split(' ').any(|p| p == "login") {
        if let Some(sid) = login::cookie(&headers, login::IDENTITY_COOKIE)
            .and_then(|v| login::identity_sid(&snap, v))
        {
            if let Ok(Some(session)) = live_session(state.store.as_ref(), &snap, &sid, now()).await
            {
                let auth_time = serde_json::from_str::<Map<String, Value>>(&session.data)
                    .ok()
                    .and_then(|m| m.get("AUTH_TIME")?.as_str()?.parse::<i64>().ok())
                    .unwrap_or(session.created_at);
                let fresh = get("max_age")
                    .and_then(|m| m.parse::<i64>().ok())
                    .is_none_or(|m| now() - auth_time <= m);
                let user_ok = matches!(state.store.user_by_id(&snap.id, &session.user_id).await, Ok(Some(ref row)) if parse_user(row).is_ok_and(|u| u.enabled != Some(false)));
                if fresh && user_ok {
                    return code_or_consent(
                        &state,
                        &snap,
                        &request,
                        &reply,
                        &sid,
                        &session.user_id,
                        auth_time,
                    )
                    .await;
                }
            }
        }
    }
    if prompt.split(' ').any(|p| p == "none") {
        return reply.error("login_required", "Login required");
    }
    let lifespan = snap
        .rep
        .extra
        .get("accessCodeLifespanLogin")
        .and_then(Value::as_i64)
        .unwrap_or(1800);
    let mut data = request;
    if let Some(h) = get("login_hint") {
        data.insert("login_hint".into(), json!(h));
    }
    let action = paths::url("", LOGIN_ACTION, &snap.name);
    login::start_flow(
        state.store.as_ref(),
        &snap,
        &Value::Object(data),
        lifespan,
        secure(&reply.issuer),
        |code| login::login_page(&snap, &action, code, get("login_hint"), None),
    )
    .await
}

/// POST of the login form.
pub async fn authenticate(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, super::error::OAuthError>,
) -> Response {
    let Ok(snap) = state.realm(&realm) else {
        return login::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let params: Params = match form {
        Ok(Form(p)) => p,
        Err(_) => return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request."),
    };
    let (session_code, mut request) =
        match login::bound_flow(state.store.as_ref(), &snap.id, &headers, &params).await {
            Ok(flow) => flow,
            Err(page) => return page,
        };
    let session_code = session_code.as_str();
    let s = |k: &str| request.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let reply = Reply {
        redirect_uri: s("redirect_uri").unwrap_or_default(),
        response_mode: s("response_mode").unwrap_or_else(|| "query".into()),
        state: s("state"),
        issuer: issuer.clone(),
    };
    let action = paths::url("", LOGIN_ACTION, &snap.name);
    let retry = |msg: &str| {
        login::html(
            StatusCode::OK,
            login::login_page(
                &snap,
                &action,
                session_code,
                params.get("username"),
                Some(msg),
            ),
        )
    };
    let username = params.get("username").unwrap_or_default();
    let given = params.get("password").unwrap_or_default().to_string();
    let row = match find_user(state.store.as_ref(), &snap, username).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            let given = given.clone();
            let _ = crate::crypto::password::off_thread(move || {
                crate::crypto::password::burn_time(&given)
            })
            .await;
            return retry("Invalid username or password.");
        }
        Err(_) => return login::internal_error(),
    };
    let Ok(user) = parse_user(&row) else {
        return login::internal_error();
    };
    let checked = crate::crypto::password::off_thread(move || {
        let mut user = user;
        let (m, u) = password_matches(&mut user, &given);
        (user, m, u)
    })
    .await;
    let Ok((user, matched, upgraded)) = checked else {
        return login::internal_error();
    };
    if !matched || user.enabled == Some(false) {
        return retry("Invalid username or password.");
    }
    if upgraded {
        let mut updated = row.clone();
        if let Ok(rep) = serde_json::to_string(&user) {
            updated.representation = rep;
            let _ = state.store.update_user(&snap.id, &updated).await;
        }
    }
    // "Remember me" (where the realm offers it) rides along with the request.
    let remember = snap.rep.extra.get("rememberMe").and_then(Value::as_bool) == Some(true)
        && params.get("rememberMe") == Some("on");
    request.insert("remember_me".into(), json!(remember));
    let actions: Vec<String> = user.required_actions.clone().unwrap_or_default();
    if actions.iter().any(|a| a != "UPDATE_PASSWORD") {
        return retry("Your account needs an action (such as verifying the e-mail address) that this server cannot perform yet. Contact your administrator.");
    }
    if !actions.is_empty() {
        // UPDATE_PASSWORD: remember who logged in, then ask for a new password.
        let mut pending = request.clone();
        pending.insert("pending_user".into(), json!(row.id));
        let stored = state.store.delete_auth_session(session_code).await.is_ok()
            && state
                .store
                .put_auth_session(
                    session_code,
                    &snap.id,
                    &Value::Object(pending).to_string(),
                    now() + 600,
                )
                .await
                .is_ok();
        if !stored {
            return login::internal_error();
        }
        let action = paths::url("", REQUIRED_ACTION, &snap.name);
        return login::html(
            StatusCode::OK,
            login::update_password_page(&snap, &action, session_code, None),
        );
    }
    complete_login(
        &state,
        &snap,
        &issuer,
        session_code,
        &request,
        &reply,
        &row.id,
    )
    .await
}

/// The login succeeded: start the SSO session, issue the code, set the cookies, redirect.
async fn complete_login(
    state: &AppState,
    snap: &RealmSnapshot,
    issuer: &str,
    session_code: &str,
    request: &Map<String, Value>,
    reply: &Reply,
    user_id: &str,
) -> Response {
    let s = |k: &str| request.get(k).and_then(Value::as_str).map(str::to_string);
    let t = now();
    let sid = uuid::Uuid::new_v4().to_string();
    let remember = request.get("remember_me").and_then(Value::as_bool) == Some(true);
    let mut notes = json!({ "AUTH_TIME": t.to_string() });
    if remember {
        notes["REMEMBER_ME"] = json!("true");
    }
    let session = SessionRow {
        id: sid.clone(),
        realm_id: snap.id.clone(),
        user_id: user_id.to_string(),
        offline: false,
        created_at: t,
        last_refresh: t,
        data: notes.to_string(),
    };
    let client_id = s("client_id").unwrap_or_default();
    if state
        .store
        .create_session(&session, &client_id, None)
        .await
        .is_err()
    {
        return login::internal_error();
    }
    let _ = state.store.delete_auth_session(session_code).await;
    let mut r = code_or_consent(state, snap, request, reply, &sid, user_id, t).await;
    let realm_path = paths::url("", paths::REALM, &snap.name);
    // A session cookie, unless "remember me": then it lasts the remember-me max lifespan.
    let max = remember.then(|| {
        let realm = |k: &str| {
            snap.rep
                .extra
                .get(k)
                .and_then(Value::as_i64)
                .filter(|v| *v > 0)
        };
        realm("ssoSessionMaxLifespanRememberMe")
            .or(realm("ssoSessionMaxLifespan"))
            .unwrap_or(36000)
    });
    // The consent page binds its own form with a new AUTH_SESSION_ID; keep that one.
    let consent_pending = r.headers().get_all(header::SET_COOKIE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.starts_with(login::AUTH_SESSION_COOKIE))
    });
    for c in [
        login::identity_value(snap, &sid).map(|v| {
            login::set_cookie(&realm_path, login::IDENTITY_COOKIE, &v, secure(issuer), max)
        }),
        (!consent_pending).then(|| {
            login::set_cookie(
                &realm_path,
                login::AUTH_SESSION_COOKIE,
                "",
                secure(issuer),
                Some(0),
            )
        }),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// POST of the update-password form (required action `UPDATE_PASSWORD`): the realm's
/// password policy applies; the new Argon2id hash replaces the old credential.
pub async fn required_action(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, super::error::OAuthError>,
) -> Response {
    let Ok(snap) = state.realm(&realm) else {
        return login::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let (session_code, request) =
        match login::bound_flow(state.store.as_ref(), &snap.id, &headers, &params).await {
            Ok(flow) => flow,
            Err(page) => return page,
        };
    let session_code = session_code.as_str();
    let Some(user_id) = request
        .get("pending_user")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let Some(issuer) = issuer(&state, &snap, &headers, &uri) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid host.");
    };
    let action = paths::url("", REQUIRED_ACTION, &snap.name);
    let again = |msg: &str| {
        login::html(
            StatusCode::OK,
            login::update_password_page(&snap, &action, session_code, Some(msg)),
        )
    };
    let new = params.get("password-new").unwrap_or_default();
    if new.is_empty() {
        return again("Please specify password.");
    }
    if params.get("password-confirm") != Some(new) {
        return again("Passwords don't match.");
    }
    let row = match state.store.user_by_id(&snap.id, &user_id).await {
        Ok(Some(r)) => r,
        _ => return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request."),
    };
    let Ok(mut user) = parse_user(&row) else {
        return login::internal_error();
    };
    let policy = snap
        .rep
        .extra
        .get("passwordPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let rules = match crate::policy::password::parse_resolved(policy, &snap.blacklists).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(realm = %snap.name, error = %e, "invalid password policy");
            return login::internal_error();
        }
    };
    match crate::policy::password::replace_password(&mut user, new, &rules, now() * 1000).await {
        Ok(()) => {}
        Err(crate::policy::password::Refused::Policy(msg)) => return again(&msg),
        Err(crate::policy::password::Refused::Internal) => return login::internal_error(),
    }
    if let Some(a) = user.required_actions.as_mut() {
        a.retain(|x| x != "UPDATE_PASSWORD");
    }
    let mut updated = row.clone();
    let Ok(rep) = serde_json::to_string(&user) else {
        return login::internal_error();
    };
    updated.representation = rep;
    if state.store.update_user(&snap.id, &updated).await.is_err() {
        return login::internal_error();
    }
    let s = |k: &str| request.get(k).and_then(Value::as_str).map(str::to_string);
    let reply = Reply {
        redirect_uri: s("redirect_uri").unwrap_or_default(),
        response_mode: s("response_mode").unwrap_or_else(|| "query".into()),
        state: s("state"),
        issuer: issuer.clone(),
    };
    complete_login(
        &state,
        &snap,
        &issuer,
        session_code,
        &request,
        &reply,
        &user_id,
    )
    .await
}

/// Path of the consent form's target.
pub const CONSENT_ACTION: &str = "/realms/{realm}/login-actions/consent";

/// The client scopes the user still has to grant, with their consent texts; empty when the
/// client needs no consent (`consentRequired`) or all were granted before (`clientConsents`
/// in the user, as Keycloak exports them), unless `prompt=consent`.
fn scopes_to_consent(
    snap: &RealmSnapshot,
    request: &Map<String, Value>,
    user: &crate::representation::UserRepresentation,
) -> Vec<(String, String)> {
    let s = |k: &str| request.get(k).and_then(Value::as_str);
    let Some(client) = s("client_id").and_then(|c| snap.index.client(&snap.rep, c)) else {
        return Vec::new();
    };
    if client.extra.get("consentRequired").and_then(Value::as_bool) != Some(true) {
        return Vec::new();
    }
    let Ok((scopes, _)) = super::issue::resolve_scopes(snap, client, s("scope")) else {
        return Vec::new();
    };
    let forced = s("prompt").is_some_and(|p| p.split(' ').any(|x| x == "consent"));
    let granted: Vec<String> = user
        .extra
        .get("clientConsents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("clientId").and_then(Value::as_str) == client.client_id.as_deref())
        .flat_map(|c| {
            c.get("grantedClientScopes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    scopes
        .iter()
        .filter(|sc| {
            sc.extra
                .get("attributes")
                .and_then(|a| a.get("display.on.consent.screen"))
                .and_then(Value::as_str)
                != Some("false")
        })
        .filter_map(|sc| {
            let name = sc.name.clone()?;
            if !forced && granted.contains(&name) {
                return None;
            }
            let text = sc
                .extra
                .get("attributes")
                .and_then(|a| a.get("consent.screen.text"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| name.clone());
            Some((name, text))
        })
        .collect()
}

/// Issues the code, or first asks for consent where the client requires it.
async fn code_or_consent(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &Map<String, Value>,
    reply: &Reply,
    sid: &str,
    user_id: &str,
    auth_time: i64,
) -> Response {
    // A device verification (RFC 8628) logs in through this page too; it ends at the
    // device consent page instead of a code.
    if request.contains_key("device_user_code") {
        return super::device_verify::consent_step(
            state,
            snap,
            request,
            sid,
            user_id,
            secure(&reply.issuer),
        )
        .await;
    }
    let user = match state.store.user_by_id(&snap.id, user_id).await {
        Ok(Some(row)) => parse_user(&row).ok(),
        _ => None,
    };
    let Some(user) = user else {
        return login::internal_error();
    };
    let pending = scopes_to_consent(snap, request, &user);
    if pending.is_empty() {
        return authorization_response(state, snap, request, reply, sid, user_id, &user, auth_time)
            .await;
    }
    let mut data = request.clone();
    data.insert("consent_session".into(), json!(sid));
    data.insert("consent_user".into(), json!(user_id));
    data.insert(
        "consent_scopes".into(),
        json!(pending.iter().map(|(n, _)| n).collect::<Vec<_>>()),
    );
    data.insert("auth_time".into(), json!(auth_time));
    let client_id = request
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let client_name = snap
        .index
        .client(&snap.rep, client_id)
        .and_then(|c| {
            c.extra
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
        })
        .unwrap_or(client_id);
    let texts: Vec<String> = pending.into_iter().map(|(_, t)| t).collect();
    let action = paths::url("", CONSENT_ACTION, &snap.name);
    login::start_flow(
        state.store.as_ref(),
        snap,
        &Value::Object(data),
        600,
        secure(&reply.issuer),
        |code| login::consent_page(snap, &action, code, client_name, &texts),
    )
    .await
}

/// POST of the consent form: `accept=yes` records the grant and continues; anything else
/// answers `access_denied` to the client.
pub async fn consent(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, super::error::OAuthError>,
) -> Response {
    let Ok(snap) = state.realm(&realm) else {
        return login::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let (code, request) =
        match login::bound_flow(state.store.as_ref(), &snap.id, &headers, &params).await {
            Ok(flow) => flow,
            Err(page) => return page,
        };
    let _ = state.store.delete_auth_session(&code).await;
    let s = |k: &str| request.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(sid), Some(user_id), Some(issuer)) = (
        s("consent_session"),
        s("consent_user"),
        issuer(&state, &snap, &headers, &uri),
    ) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let reply = Reply {
        redirect_uri: s("redirect_uri").unwrap_or_default(),
        response_mode: s("response_mode").unwrap_or_else(|| "query".into()),
        state: s("state"),
        issuer,
    };
    if params.get("accept") != Some("yes") {
        return reply.error("access_denied", "Consent denied");
    }
    // Record the grant in the user, as Keycloak's `clientConsents`.
    let Ok(Some(row)) = state.store.user_by_id(&snap.id, &user_id).await else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let Ok(mut user) = parse_user(&row) else {
        return login::internal_error();
    };
    let client_id = s("client_id").unwrap_or_default();
    let granted: Vec<Value> = request
        .get("consent_scopes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ms = now() * 1000;
    let consents = user
        .extra
        .entry("clientConsents")
        .or_insert_with(|| json!([]));
    if let Some(list) = consents.as_array_mut() {
        match list.iter_mut().find(|c| c.get("clientId").and_then(Value::as_str) == Some(client_id.as_str())) {
            Some(existing) => {
                let scopes = existing.as_object_mut().map(|o| o.entry("grantedClientScopes").or_insert_with(|| json!([])));
                if let Some(Value::Array(scopes)) = scopes {
                    for g in granted {
                        if !scopes.contains(&g) {
                            scopes.push(g);
                        }
                    }
                }
                existing["lastUpdatedDate"] = json!(ms);
            }
            None => list.push(json!({ "clientId": client_id, "grantedClientScopes": granted, "createdDate": ms, "lastUpdatedDate": ms })),
        }
    }
    let mut updated = row.clone();
    let Ok(rep) = serde_json::to_string(&user) else {
        return login::internal_error();
    };
    updated.representation = rep;
    if state.store.update_user(&snap.id, &updated).await.is_err() {
        return login::internal_error();
    }
    let auth_time = request
        .get("auth_time")
        .and_then(Value::as_i64)
        .unwrap_or_else(now);
    authorization_response(
        &state, &snap, &request, &reply, &sid, &user_id, &user, auth_time,
    )
    .await
}

/// The successful answer for the authenticated user, as Keycloak's
/// `OIDCLoginProtocol.authenticated`: the `code` (with `code`), the tokens (with `id_token`
/// and/or `token`: `id_token`, `access_token`, `token_type`, `expires_in`; never a refresh
/// token), then `session_state`, `state` and `iss`.
#[allow(clippy::too_many_arguments)]
async fn authorization_response(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &Map<String, Value>,
    reply: &Reply,
    sid: &str,
    user_id: &str,
    user: &crate::representation::UserRepresentation,
    auth_time: i64,
) -> Response {
    let s = |k: &str| request.get(k).and_then(Value::as_str);
    // Flows started before `response_type` was recorded were all `code`.
    let Some(response_type) = ResponseType::parse(s("response_type").unwrap_or("code")) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let code = if response_type.code {
        match issue_code(state, snap, request, sid, user_id, auth_time).await {
            Ok(code) => Some(code),
            Err(r) => return r,
        }
    } else {
        None
    };
    if !response_type.implicit_or_hybrid() {
        return match &code {
            Some(code) => reply.send(&[("code", code), ("session_state", sid)]),
            None => reply.send(&[("session_state", sid)]),
        };
    }
    let Some(client) = s("client_id").and_then(|c| snap.index.client(&snap.rep, c)) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Client not found.");
    };
    let (scopes, openid) = match super::issue::resolve_scopes(snap, client, s("scope")) {
        Ok(found) => found,
        Err(_) => {
            return reply.error(
                "invalid_scope",
                &format!("Invalid scopes: {}", s("scope").unwrap_or_default()),
            )
        }
    };
    let notes = Map::from_iter([("AUTH_TIME".to_string(), json!(auth_time.to_string()))]);
    let req = super::issue::TokenRequest {
        snap,
        issuer: &reply.issuer,
        client,
        user_id,
        user,
        sid: Some(sid),
        notes: &notes,
        scopes: &scopes,
        openid,
        nonce: s("nonce"),
        now: now(),
    };
    let front = super::issue::FrontChannel {
        id_token: response_type.id_token,
        token: response_type.token,
        code: code.as_deref(),
        state: reply.state.as_deref(),
        implicit: response_type.implicit(),
    };
    let issued = match super::issue::issue_front_channel(&req, &front) {
        Ok(issued) => issued,
        Err(_) => return login::internal_error(),
    };
    // Tokens left from here: the client takes part in the session (for logout, back-channel
    // logout tokens included) as Keycloak's authenticated client session records it. No
    // refresh token exists, so the current refresh id is one nobody holds; a hybrid code's
    // redemption replaces it.
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let joined = state
        .store
        .set_refresh_token(sid, client_id, &uuid::Uuid::new_v4().to_string(), now())
        .await;
    if joined.is_err() {
        return login::internal_error();
    }
    let expires_in = issued.expires_in.to_string();
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(code) = &code {
        params.push(("code", code));
    }
    if response_type.id_token {
        if let Some(id) = &issued.id_token {
            params.push(("id_token", id));
        }
    }
    if response_type.token {
        params.push(("access_token", &issued.access_token));
        params.push(("token_type", "Bearer"));
        params.push(("expires_in", &expires_in));
    }
    params.push(("session_state", sid));
    let mut r = reply.send(&params);
    // Tokens in a response: not to be cached (RFC 6749 §4.2.2 asks this of the fragment's
    // carrier too).
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn response_types_parse_as_keycloak() {
        let rt = |s: &str| ResponseType::parse(s);
        let code = rt("code").unwrap();
        assert!(code.code && !code.implicit_or_hybrid());
        assert_eq!(code.default_mode(), "query");
        let implicit = rt("token id_token").unwrap();
        assert_eq!(implicit, rt("id_token token").unwrap(), "order is free");
        assert!(implicit.implicit() && implicit.default_mode() == "fragment");
        let hybrid = rt(" code id_token ").unwrap();
        assert!(hybrid.implicit_or_hybrid() && !hybrid.implicit());
        assert!(rt("token").unwrap().implicit(), "token alone (OAuth2)");
        assert!(rt("none").unwrap().none);
        for bad in [
            "",
            "none code",
            "code  token",
            "code,token",
            "Code",
            "device",
        ] {
            assert!(rt(bad).is_none(), "{bad:?}");
        }
        for listed in RESPONSE_TYPES {
            assert!(rt(listed).is_some(), "{listed}");
        }
    }
}
