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

use crate::authn::pages::{self, escape};
use crate::authn::steps::{device_consent, password, sso};
use crate::authn::{flow, AuthRequest, PendingLogin};
use crate::clock::now;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::DeviceDecision;
use crate::AppState;

use super::device::normalize_user_code;
use super::form::Form;
use crate::http::oauth_error::OAuthError;

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
        .is_ok_and(|b| crate::http::base_url::is_secure_context(&b))
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
    pages::page(
        &format!("Device Login - {}", pages::realm_title(snap)),
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
    pages::html(
        status,
        pages::page(
            &format!("{title} - {}", pages::realm_title(snap)),
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
    let Ok(snap) = state.realm(&realm).await else {
        return pages::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
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
    let data = PendingLogin {
        device_verify: Some(true),
        ..Default::default()
    };
    flow::start_flow(
        state.store.as_ref(),
        snap,
        &data,
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
    let Ok(snap) = state.realm(&realm).await else {
        return pages::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return pages::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let store = state.store.as_ref();
    let (flow, data): (String, PendingLogin) =
        match flow::bound_flow(store, &snap.id, &headers, params.get("session_code")).await {
            Ok(f) => f,
            Err(page) => return page,
        };
    if data.device_verify != Some(true) {
        return pages::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    }
    let secure = secure(&state, &headers, &uri);
    let given = params.get("device_user_code").unwrap_or_default();
    // Every submission spends one attempt, right or wrong.
    let slot = match claim_slot(&state, &snap.id, &flow).await {
        Ok(s) => s,
        Err(_) => return pages::internal_error(),
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
            Err(_) => return pages::internal_error(),
        },
        None => None,
    };
    // Keycloak's `DeviceEndpoint.verifyUserCode`: `OAUTH2_DEVICE_VERIFY_USER_CODE` for the
    // code the user entered (its `reason` detail is set after the error is sent there, so it
    // never shows; neither does it here).
    let event = crate::events::UserEvent::new(&snap, "OAUTH2_DEVICE_VERIFY_USER_CODE");
    let Some(row) = found else {
        event.error(&state, crate::events::errors::INVALID_OAUTH2_USER_CODE);
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
        return pages::html(
            StatusCode::OK,
            verify_page(&snap, &flow, given, Some(INVALID_CODE)),
        );
    };
    let _ = state.store.delete_auth_session(&flow).await;
    let client = snap
        .index
        .client(&snap.rep, &row.client_id)
        .filter(|c| c.enabled != Some(false));
    if client.is_none() {
        return result_page(
            &snap,
            StatusCode::BAD_REQUEST,
            "Device Login Failed",
            INVALID_CODE,
            true,
        );
    }
    let Ok(stored) = crate::store::DeviceRequest::parse(&row.data) else {
        return crate::authn::pages::internal_error();
    };
    // `processVerification`: the client and the scope asked for.
    let mut event = event.client(row.client_id.clone());
    if let Some(scope) = &stored.scope {
        event.set_detail("scope", scope.clone());
    }
    event.success(&state);
    let pending = PendingLogin {
        request: AuthRequest {
            client_id: Some(row.client_id.clone()),
            scope: stored.scope,
            ..Default::default()
        },
        device_user_code: Some(row.user_code.clone()),
        ..Default::default()
    };
    // An SSO session of this realm: straight to consent.
    if let Some(who) = sso::session(store, &snap, &headers, None).await {
        return device_consent::show(&state, &snap, &pending, &who, secure).await;
    }
    let base = state.base_url(&headers, &uri).unwrap_or_default();
    password::show_form(&state, &snap, &pending, FORM_LIFESPAN, secure, &base).await
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

/// POST of the device consent form: `accept=yes` approves the device, anything else denies.
pub async fn consent(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    form: Result<Form, OAuthError>,
) -> Response {
    let Ok(snap) = state.realm(&realm).await else {
        return pages::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return pages::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let store = state.store.as_ref();
    let (flow, data): (String, PendingLogin) =
        match flow::bound_flow(store, &snap.id, &headers, params.get("session_code")).await {
            Ok(f) => f,
            Err(page) => return page,
        };
    let (Some(user_code), Some(sid), Some(user_id)) = (
        data.device_user_code,
        data.consent_session,
        data.consent_user,
    ) else {
        return pages::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
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
        Err(_) => pages::internal_error(),
    }
}
