//! The consent step of a device verification (RFC 8628 §3.3): the user is known (just logged
//! in, or by the SSO session); the page shows the device's user code, the client and its
//! scopes, and posts to the device consent endpoint.

use axum::http::StatusCode;
use axum::response::Response;

use crate::authn::pages::{consent_page, error_page, escape};
use crate::authn::{flow, Authenticated, PendingLogin};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::AppState;

use super::consent::consent_text;

/// A user code as shown to people: `WDJB-MJHT` (the device endpoint shows it so).
pub fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(a), Some(b)) if !b.is_empty() => format!("{a}-{b}"),
        _ => code.to_string(),
    }
}

/// Shows the device consent page for the pending login's client and scopes.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn show(
    state: &AppState,
    snap: &RealmSnapshot,
    pending: &PendingLogin,
    who: &Authenticated,
    secure: bool,
) -> Response {
    let request = &pending.request;
    let Some(client) = request.client(snap) else {
        return error_page(StatusCode::BAD_REQUEST, "Client not found.");
    };
    let Some(scopes) = crate::tokens::resolve_scopes(snap, client, request.scope.as_deref())
        .ok()
        .map(|(s, _)| s)
    else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid scopes.");
    };
    let texts: Vec<String> = scopes
        .iter()
        .filter_map(|sc| consent_text(sc))
        .map(|(_, t)| t)
        .collect();
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let client_name = client
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(client_id);
    let mut data = pending.clone();
    data.consent_session = Some(who.sid.clone());
    data.consent_user = Some(who.user_id.clone());
    let action = paths::url("", paths::DEVICE_CONSENT, &snap.name);
    let shown = display_user_code(pending.device_user_code.as_deref().unwrap_or_default());
    flow::start_flow(state.store.as_ref(), snap, &data, 600, secure, |code| {
        consent_page(snap, &action, code, client_name, &texts).replace(
            "</h1>",
            &format!(
                "</h1><p>Device code: <strong id=\"device-user-code\">{}</strong></p>",
                escape(&shown)
            ),
        )
    })
    .await
}
