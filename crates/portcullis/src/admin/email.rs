//! POST /admin/realms/{realm}/testSMTPConnection  (`RealmAdminResource.testSMTPConnection`)
//!
//! And what the e-mail sending endpoints share (`users/{id}/execute-actions-email`,
//! `users/{id}/send-verify-email`, `organizations/{id}/members/invite-*`): reading the
//! realm's settings, minting the action token and queueing the mail.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing;
use axum::Router;
use indexmap::IndexMap;
use serde_json::Value;

use super::auth::{ManageRealm, RealmAdmin};
use super::{no_content, AdminError, AdminResult};
use crate::email::{self, Mail, SmtpSettings};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

/// The realm's display name as the e-mail templates use it (`displayName`, else the name).
pub fn realm_name(snap: &RealmSnapshot) -> String {
    snap.rep
        .display_name
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| snap.name.clone())
}

/// Queues `mail` with the realm's SMTP settings; `Err` holds the reason (settings missing or
/// invalid, queue full) for Keycloak's 500 message.
pub fn queue(state: &AppState, snap: &RealmSnapshot, mail: Mail) -> Result<(), email::SendError> {
    let settings = SmtpSettings::of(snap.rep.smtp_server.as_ref())?;
    state.email.enqueue(&snap.name, settings, mail)
}

/// The body of `testSMTPConnection`: a JSON map (any scalar value, as the admin console sends
/// numbers and booleans), or the deprecated form `config={json}`.
fn settings_map(headers: &HeaderMap, bytes: &[u8]) -> AdminResult<IndexMap<String, Value>> {
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let json: Vec<u8> = if form {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "config")
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default()
    } else {
        bytes.to_vec()
    };
    serde_json::from_slice(&json).map_err(|e| AdminError::bad(format!("invalid JSON body: {e}")))
}

/// `POST /testSMTPConnection`: sends Keycloak's test mail to the calling admin's e-mail, now,
/// with the posted settings (a masked password means the stored one).
pub async fn test_connection(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<ManageRealm>,
    headers: HeaderMap,
    bytes: Bytes,
) -> AdminResult<Response> {
    let mut map = settings_map(&headers, &bytes)?;
    if map.get("password").and_then(Value::as_str) == Some(email::MASKED_PASSWORD) {
        let stored = snap
            .rep
            .smtp_server
            .as_ref()
            .and_then(|m| m.get("password"))
            .cloned()
            .unwrap_or(Value::Null);
        map.insert("password".into(), stored);
    }
    let no_email = || {
        AdminError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Logged in user does not have an e-mail.".into(),
        )
    };
    let caller_realm = state
        .realms
        .get(state.store.as_ref(), &caller.realm)
        .await?
        .ok_or_else(no_email)?;
    let admin = state
        .store
        .user_by_id(&caller_realm.id, &caller.user_id)
        .await?
        .and_then(|row| row.email)
        .filter(|e| !e.is_empty())
        .ok_or_else(no_email)?;
    let failed = |e: &dyn std::fmt::Display| {
        tracing::warn!(realm = %snap.name, error = %e, "failed to send the SMTP test e-mail");
        AdminError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to send email".into(),
        )
    };
    let settings = SmtpSettings::of(Some(&map)).map_err(|e| failed(&e))?;
    email::send_now(
        &settings,
        &email::templates::test_mail(&admin, &realm_name(&snap)),
    )
    .await
    .map_err(|e| failed(&e))?;
    Ok(no_content())
}

/// The route of `testSMTPConnection`.
pub fn routes() -> Router<AppState> {
    Router::new().route(paths::ADMIN_REALM_TEST_SMTP, routing::post(test_connection))
}
