//! GET /realms/{realm}/protocol/openid-connect/logout  and
//! POST /realms/{realm}/protocol/openid-connect/logout/logout-confirm
//! OpenID Connect RP-Initiated Logout 1.0, as Keycloak serves it: with a valid `id_token_hint`
//! the session ends at once; without one, a confirmation page asks first. A
//! `post_logout_redirect_uri` must be registered in the client's `post.logout.redirect.uris`
//! (`+` means the client's redirect URIs), or nothing is redirected. The session's clients get
//! back-channel logout tokens ([`crate::sessions::logout`]).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::authn::{cookies, flow, pages};
use crate::crypto::jws;
use crate::http::paths;
use crate::model::ClientSettings;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;
use crate::AppState;

use super::form::Form;
use super::redirect;

/// Whether `uri` is an allowed post-logout redirect of the client.
fn post_logout_allowed(
    client: &ClientRepresentation,
    settings: &ClientSettings,
    uri: &str,
) -> bool {
    let attr = settings.post_logout_redirect_uris.as_deref().unwrap_or("+");
    let mut allowed: Vec<String> = Vec::new();
    for entry in attr.split("##").filter(|s| !s.is_empty()) {
        if entry == "+" {
            allowed.extend(client.redirect_uris.iter().flatten().cloned());
        } else {
            allowed.push(entry.to_string());
        }
    }
    let probe = ClientRepresentation {
        redirect_uris: Some(allowed),
        root_url: client.root_url.clone(),
        ..Default::default()
    };
    redirect::verify(&probe, Some(uri)).is_some()
}

/// The claims of an ID token this realm issued (expired ones are accepted, as a hint).
fn id_token_claims(snap: &RealmSnapshot, issuer: &str, token: &str) -> Option<Map<String, Value>> {
    let parsed = jws::parse(token).ok()?;
    parsed.verify(&snap.keys).ok()?;
    let c = parsed.claims;
    (c.get("typ").and_then(Value::as_str) == Some("ID")
        && c.get("iss").and_then(Value::as_str) == Some(issuer))
    .then_some(c)
}

fn clear_cookie(snap: &RealmSnapshot, issuer: &str, r: &mut Response) {
    let realm_path = paths::url("", paths::REALM, &snap.name);
    let secure = crate::http::base_url::is_secure_context(issuer);
    let identity = cookies::set_cookie(&realm_path, cookies::IDENTITY_COOKIE, "", secure, Some(0));
    let session = cookies::session_cookie(&realm_path, "", secure, Some(0));
    for c in [identity, session] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// Ends the session, clears the cookie, and redirects or shows the logged-out page.
async fn finish(
    state: &AppState,
    snap: &RealmSnapshot,
    issuer: &str,
    sid: Option<&str>,
    redirect_to: Option<&str>,
    st: Option<&str>,
) -> Response {
    if let Some(sid) = sid {
        // Ends the session and sends the back-channel logout tokens; a store failure still
        // clears the browser's cookie.
        match crate::sessions::logout::end_session(
            state.store.as_ref(),
            &state.outbound,
            snap,
            issuer,
            sid,
        )
        .await
        {
            // Keycloak's `LOGOUT` of a browser logout (`AuthenticationManager.browserLogout`).
            Ok(Some(user_id)) => {
                let mut e = crate::events::UserEvent::new(snap, "LOGOUT")
                    .user(user_id)
                    .session(sid);
                if let Some(uri) = redirect_to {
                    e.set_detail("redirect_uri", uri);
                }
                e.success(state);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "ending the session failed"),
        }
    }
    let mut r = match redirect_to {
        Some(uri) => {
            let mut location = uri.to_string();
            if let Some(st) = st {
                let sep = if location.contains('?') { '&' } else { '?' };
                location.push(sep);
                location.push_str(
                    &url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", st)
                        .finish(),
                );
            }
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        None => pages::html(
            StatusCode::OK,
            pages::message_page(snap, "You are logged out", "You are logged out."),
        ),
    };
    clear_cookie(snap, issuer, &mut r);
    r
}

/// GET of the end-session endpoint.
pub async fn get(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let Ok((snap, issuer)) = super::realm_and_issuer(&state, &realm, &headers, &uri).await else {
        return pages::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let hint = match get("id_token_hint") {
        Some(t) => match id_token_claims(&snap, &issuer, t) {
            Some(c) => Some(c),
            None => {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid parameter: id_token_hint",
                )
            }
        },
        None => None,
    };
    let client_id = get("client_id").map(str::to_string).or_else(|| {
        hint.as_ref()
            .and_then(|c| c.get("azp").and_then(Value::as_str).map(str::to_string))
    });
    if let (Some(h), Some(c)) = (&hint, get("client_id")) {
        if h.get("azp").and_then(Value::as_str) != Some(c) {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Parameter client_id different from the authorized party",
            );
        }
    }
    let redirect_to = match get("post_logout_redirect_uri") {
        Some(uri) => {
            let Some(client) = client_id
                .as_deref()
                .and_then(|c| snap.index.client(&snap.rep, c))
            else {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "Missing parameters: id_token_hint",
                );
            };
            if !post_logout_allowed(client, &snap.client_settings(client), uri) {
                return pages::error_page(StatusCode::BAD_REQUEST, "Invalid redirect uri");
            }
            Some(uri.to_string())
        }
        None => None,
    };
    let cookie_sid = cookies::sso_sid(&snap, &headers);
    if let Some(h) = hint {
        let sid = h
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(cookie_sid);
        return finish(
            &state,
            &snap,
            &issuer,
            sid.as_deref(),
            redirect_to.as_deref(),
            get("state"),
        )
        .await;
    }
    // No hint: ask first, with a form bound to this browser.
    let data = json!({ "post_logout_redirect_uri": redirect_to, "state": get("state") });
    let action = paths::url("", paths::LOGOUT_CONFIRM, &snap.name);
    flow::start_flow(
        state.store.as_ref(),
        &snap,
        &data,
        600,
        crate::http::base_url::is_secure_context(&issuer),
        |code| pages::logout_confirm_page(&snap, &action, code),
    )
    .await
}

/// POST of the confirmation form.
pub async fn confirm(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form, crate::http::oauth_error::OAuthError>,
) -> Response {
    let Ok((snap, issuer)) = super::realm_and_issuer(&state, &realm, &headers, &uri).await else {
        return pages::error_page(StatusCode::NOT_FOUND, "Realm does not exist.");
    };
    let Ok(Form(params)) = form else {
        return pages::error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let store = state.store.as_ref();
    let (code, data): (String, Map<String, Value>) =
        match flow::bound_flow(store, &snap.id, &headers, params.get("session_code")).await {
            Ok(flow) => flow,
            Err(page) => return page,
        };
    let _ = state.store.delete_auth_session(&code).await;
    let sid = cookies::sso_sid(&snap, &headers);
    let s = |k: &str| data.get(k).and_then(Value::as_str);
    finish(
        &state,
        &snap,
        &issuer,
        sid.as_deref(),
        s("post_logout_redirect_uri"),
        s("state"),
    )
    .await
}
