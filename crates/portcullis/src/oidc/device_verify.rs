//! GET/POST /realms/{realm}/device  and  POST /realms/{realm}/device/consent
//! RFC 8628 §3.3: the user enters the user code (or arrives with `?user_code=` filled in and
//! confirms it), signs in through the realm's login page or reuses the SSO session, sees which
//! client asks for which scopes, and approves or denies. Every form is bound to the browser by
//! the `AUTH_SESSION_ID` cookie, as the login form is.
//!
//! Brute-force guard: a browser flow accepts [`MAX_ATTEMPTS`] code submissions; then it is
//! dropped and must start again from the empty form. Attempts are counted with the store's
//! one-time records, so parallel submissions cannot exceed the limit.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::http::paths;
use crate::login::{self, escape};
use crate::realm::snapshot::RealmSnapshot;
use crate::store::DeviceDecision;
use crate::AppState;

use super::authorize::LOGIN_ACTION;
use super::device::{display_user_code, normalize_user_code};
use super::error::OAuthError;
use super::form::Form;
use crate::clock::now;
use crate::sessions::live_session;
use crate::users::parse_user;

/// Code submissions one browser flow may make.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long the verification form stays valid, seconds.
const FORM_LIFESPAN: i64 = 1800;

/// Keycloak's texts (`messages_en.properties`, `oauth2Device*`).
const INVALID_CODE: &str = "Invalid code, please try again.";
const EXPIRED_CODE: &str =
    "The code has expired. Please go back to your device and try connecting again.";
const DENIED: &str = "Consent denied for connecting the device.";
const TOO_MANY: &str =
    "Too many invalid codes. For your security this attempt was stopped; please start again.";

fn secure(state: &AppState, headers: &HeaderMap, uri: &Uri) -> bool {
    state
        .base_url(headers, uri)
        .is_ok_and(|b| b.starts_with("https://"))
}

/// The code-entry form.
fn verify_page(
    snap: &RealmSnapshot,
    session_code: &str,
    code: &str,
    error: Option<&str>,
) -> String {
    let err = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"device-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let inv = if error.is_some() {
        " aria-invalid=\"true\" aria-describedby=\"device-error\""
    } else {
        ""
    };
    login::page(
        &format!("Device Login - {}", login::realm_title(snap)),
        &format!(
            "<h1>Device Login</h1><p>Enter the code shown on your device.</p>{err}\
             <form id=\"kc-user-verify-device-user-code-form\" method=\"post\" action=\"{a}\">\
             <input type=\"hidden\" name=\"session_code\" value=\"{s}\">\
             <label for=\"device-user-code\">Device code</label>\
             <input id=\"device-user-code\" name=\"device_user_code\" value=\"{c}\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" autofocus required{inv}>\
             <button type=\"submit\" id=\"kc-login\">Submit</button></form>",
            a = escape(&paths::url("", paths::DEVICE, &snap.name)),
            s = escape(session_code),
            c = escape(code),
        ),
    )
}

/// A result page (success or failure) with an optional link back to the code form.
fn result_page(
    snap: &RealmSnapshot,
    status: StatusCode,
    title: &str,
    message: &str,
    again: bool,
) -> Response {
    let link = if again {
        format!(
            "<p><a href=\"{}\">Enter a code again</a></p>",
            escape(&paths::url("", paths::DEVICE, &snap.name))
        )
    } else {
        String::new()
    };
    let role = if status.is_success() {
        "status"
    } else {
        "alert"
    };
    login::html(
        status,
        login::page(
            &format!("{title} - {}", login::realm_title(snap)),
            &format!(
                "<h1>{}</h1><p role=\"{role}\" id=\"device-result\">{}</p>{link}",
                escape(title),
                escape(message)
            ),
        ),
    )
}

/// GET: the code form, pre-filled from `user_code` when the device showed
/// `verification_uri_complete`. The user confirms the code with one click, so that every check
/// of a code passes through the counted, browser-bound POST.
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
    let prefill = q
        .iter()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.chars().take(32).collect::<String>())
        .unwrap_or_default();
    start_verify(
        &state,
        &snap,
        secure(&state, &headers, &uri),
        &prefill,
        None,
    )
    .await
}

async fn start_verify(
    state: &AppState,
    snap: &RealmSnapshot,
    secure: bool,
    prefill: &str,
    error: Option<&str>,
) -> Response {
    login::start_flow(
        state.store.as_ref(),
        snap,
        &json!({ "device_verify": true }),
        FORM_LIFESPAN,
        secure,
        |code| verify_page(snap, code, prefill, error),
    )
    .await
}

/// POST: checks the code, then signs the user in (or reuses the SSO session) and asks for
/// consent.
pub async fn post(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, OAuthError>,
) -> Response {
    let Ok(snap) = state.realm(&realm) else {
        return login::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let (flow, data) =
        match login::bound_flow(state.store.as_ref(), &snap.id, &headers, &params).await {
            Ok(f) => f,
            Err(page) => return page,
        };
    if data.get("device_verify").and_then(Value::as_bool) != Some(true) {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    }
    let secure = secure(&state, &headers, &uri);
    let given = params.get("device_user_code").unwrap_or_default();
    // Every submission spends one attempt, right or wrong.
    let slot = match claim_slot(&state, &snap.id, &flow).await {
        Ok(s) => s,
        Err(_) => return login::internal_error(),
    };
    let Some(slot) = slot else {
        let _ = state.store.delete_auth_session(&flow).await;
        return result_page(
            &snap,
            StatusCode::BAD_REQUEST,
            "Device Login Failed",
            TOO_MANY,
            true,
        );
    };
    let found = match normalize_user_code(given) {
        Some(code) => match state
            .store
            .pending_device_code(&snap.id, &code, now())
            .await
        {
            Ok(row) => row,
            Err(_) => return login::internal_error(),
        },
        None => None,
    };
    let Some(row) = found else {
        if slot >= MAX_ATTEMPTS {
            let _ = state.store.delete_auth_session(&flow).await;
            return result_page(
                &snap,
                StatusCode::BAD_REQUEST,
                "Device Login Failed",
                TOO_MANY,
                true,
            );
        }
        return login::html(
            StatusCode::OK,
            verify_page(&snap, &flow, given, Some(INVALID_CODE)),
        );
    };
    let _ = state.store.delete_auth_session(&flow).await;
    let client = snap
        .index
        .client(&snap.rep, &row.client_id)
        .filter(|c| c.extra.get("enabled").and_then(Value::as_bool) != Some(false));
    if client.is_none() {
        return result_page(
            &snap,
            StatusCode::BAD_REQUEST,
            "Device Login Failed",
            INVALID_CODE,
            true,
        );
    }
    let stored: Map<String, Value> = serde_json::from_str(&row.data).unwrap_or_default();
    let mut request = Map::new();
    request.insert("client_id".into(), json!(row.client_id));
    if let Some(scope) = stored.get("scope") {
        request.insert("scope".into(), scope.clone());
    }
    request.insert("device_user_code".into(), json!(row.user_code));
    // An SSO session of this realm: straight to consent.
    if let Some(sid) =
        login::cookie(&headers, login::IDENTITY_COOKIE).and_then(|v| login::identity_sid(&snap, v))
    {
        if let Ok(Some(session)) = live_session(state.store.as_ref(), &snap, &sid, now()).await {
            let user_ok = matches!(state.store.user_by_id(&snap.id, &session.user_id).await, Ok(Some(ref u)) if parse_user(u).is_ok_and(|u| u.enabled != Some(false)));
            if user_ok {
                return consent_step(&state, &snap, &request, &sid, &session.user_id, secure).await;
            }
        }
    }
    let action = paths::url("", LOGIN_ACTION, &snap.name);
    login::start_flow(
        state.store.as_ref(),
        &snap,
        &Value::Object(request),
        FORM_LIFESPAN,
        secure,
        |code| login::login_page(&snap, &action, code, None, None),
    )
    .await
}

/// Claims the next attempt slot of a flow: `Some(n)` (1-based), or `None` when all
/// [`MAX_ATTEMPTS`] are spent.
async fn claim_slot(
    state: &AppState,
    realm_id: &str,
    flow: &str,
) -> Result<Option<u32>, OAuthError> {
    for n in 1..=MAX_ATTEMPTS {
        let key = format!("device-attempt:{realm_id}:{flow}:{n}");
        if state.store.use_once(&key, now() + FORM_LIFESPAN).await? {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// The user is known (just logged in, or by the SSO session): show the consent page for the
/// device's client and scopes. Called from the login flow when the request carries
/// `device_user_code`.
pub async fn consent_step(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &Map<String, Value>,
    sid: &str,
    user_id: &str,
    secure: bool,
) -> Response {
    let s = |k: &str| request.get(k).and_then(Value::as_str);
    let Some(client) = s("client_id").and_then(|c| snap.index.client(&snap.rep, c)) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Client not found.");
    };
    let Ok((scopes, _)) = super::issue::resolve_scopes(snap, client, s("scope")) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid scopes.");
    };
    let texts: Vec<String> = scopes
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
            Some(
                sc.extra
                    .get("attributes")
                    .and_then(|a| a.get("consent.screen.text"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .unwrap_or(name),
            )
        })
        .collect();
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let client_name = client
        .extra
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(client_id);
    let mut data = request.clone();
    data.insert("consent_session".into(), json!(sid));
    data.insert("consent_user".into(), json!(user_id));
    let action = paths::url("", paths::DEVICE_CONSENT, &snap.name);
    let shown = display_user_code(s("device_user_code").unwrap_or_default());
    login::start_flow(
        state.store.as_ref(),
        snap,
        &Value::Object(data),
        600,
        secure,
        |code| {
            login::consent_page(snap, &action, code, client_name, &texts).replace(
                "</h1>",
                &format!(
                    "</h1><p>Device code: <strong id=\"device-user-code\">{}</strong></p>",
                    escape(&shown)
                ),
            )
        },
    )
    .await
}

/// POST of the device consent form: `accept=yes` approves the device, anything else denies.
pub async fn consent(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    form: Result<Form, OAuthError>,
) -> Response {
    let Ok(snap) = state.realm(&realm) else {
        return login::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let (flow, data) =
        match login::bound_flow(state.store.as_ref(), &snap.id, &headers, &params).await {
            Ok(f) => f,
            Err(page) => return page,
        };
    let s = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(user_code), Some(sid), Some(user_id)) = (
        s("device_user_code"),
        s("consent_session"),
        s("consent_user"),
    ) else {
        return login::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    // Single use: the form cannot be posted twice (back button, replay).
    let _ = state.store.delete_auth_session(&flow).await;
    let approve = params.get("accept") == Some("yes");
    let decision = if approve {
        DeviceDecision::Approve {
            session_id: sid,
            user_id,
        }
    } else {
        DeviceDecision::Deny
    };
    match state
        .store
        .decide_device_code(&snap.id, &user_code, &decision, now())
        .await
    {
        Ok(true) if approve => result_page(
            &snap,
            StatusCode::OK,
            "Device Login Successful",
            "Device login successful. You may now close this browser window and go back to your device.",
            false,
        ),
        Ok(true) => result_page(&snap, StatusCode::OK, "Device Login Failed", DENIED, true),
        Ok(false) => result_page(&snap, StatusCode::BAD_REQUEST, "Device Login Failed", EXPIRED_CODE, true),
        Err(_) => login::internal_error(),
    }
}
