//! The consent step: a client with `consentRequired` gets the user's grant of its client
//! scopes first (kept in the user as Keycloak's `clientConsents`), unless all were granted
//! before and `prompt=consent` does not ask again.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::authn::pages::{consent_page, error_page, internal_error};
use crate::authn::reply::Reply;
use crate::authn::{
    flow, write_login_end, AuthRequest, Authenticated, Authorized, LoginEnd, PendingLogin, Protocol,
};
use crate::clock::now;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{ClientScopeRepresentation, UserRepresentation};
use crate::users::parse_user;
use crate::AppState;

use super::device_consent;

/// A client scope's text on a consent page (`consent.screen.text`, else its name), or `None`
/// when it is not shown (`display.on.consent.screen=false`) or has no name.
pub fn consent_text(scope: &ClientScopeRepresentation) -> Option<(String, String)> {
    let attr = |k: &str| {
        scope
            .attributes
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    if attr("display.on.consent.screen") == Some("false") {
        return None;
    }
    let name = scope.name.clone()?;
    let text = attr("consent.screen.text")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| name.clone());
    Some((name, text))
}

/// The client scopes the user still has to grant, with their consent texts; empty when the
/// client needs no consent (`consentRequired`) or all were granted before (`clientConsents`
/// in the user, as Keycloak exports them), unless `prompt=consent`.
fn scopes_to_consent(
    snap: &RealmSnapshot,
    request: &AuthRequest,
    user: &UserRepresentation,
) -> Vec<(String, String)> {
    let Some(client) = request.client(snap) else {
        return Vec::new();
    };
    if client.consent_required != Some(true) {
        return Vec::new();
    }
    let Some(scopes) = crate::tokens::resolve_scopes(snap, client, request.scope.as_deref())
        .ok()
        .map(|(s, _)| s)
    else {
        return Vec::new();
    };
    let forced = request.prompts("consent");
    let granted: Vec<String> = user
        .client_consents
        .iter()
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
        .filter_map(|sc| consent_text(sc))
        .filter(|(name, _)| forced || !granted.contains(name))
        .collect()
}

/// Issues the code (or tokens), or first asks for consent where the client requires it. A
/// device verification (RFC 8628) ends at the device consent page instead. `end` is what ends
/// the login in the store: written with the code, or before any other answer.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn code_or_consent(
    state: &AppState,
    snap: &RealmSnapshot,
    protocol: &dyn Protocol,
    pending: &PendingLogin,
    reply: &Reply,
    who: &Authenticated,
    end: LoginEnd,
) -> Response {
    let store = state.store.as_ref();
    if pending.device_user_code.is_some() {
        if write_login_end(store, &end).await.is_err() {
            return internal_error();
        }
        return device_consent::show(state, snap, pending, who, reply.secure()).await;
    }
    let user = match store.user_by_id(&snap.id, &who.user_id).await {
        Ok(Some(row)) => parse_user(&row).ok(),
        _ => None,
    };
    let Some(user) = user else {
        // The user is gone: the pending login ends, and no session starts for nobody.
        let end = LoginEnd {
            session: None,
            ..end
        };
        let _ = write_login_end(store, &end).await;
        return internal_error();
    };
    let request = &pending.request;
    let to_grant = scopes_to_consent(snap, request, &user);
    if to_grant.is_empty() {
        let done = Authorized {
            request,
            reply,
            who,
            user: &user,
            end,
        };
        crate::authn::login_success(
            state,
            snap,
            &done,
            "no_consent_required",
            pending.brokered.as_ref(),
        );
        return protocol.authorized(state, snap, done).await;
    }
    // The consent page: the session first (the consent flow names it).
    if write_login_end(store, &end).await.is_err() {
        return internal_error();
    }
    let mut data = pending.clone();
    data.consent_session = Some(who.sid.clone());
    data.consent_user = Some(who.user_id.clone());
    data.consent_scopes = Some(to_grant.iter().map(|(n, _)| n.clone()).collect());
    data.auth_time = Some(who.auth_time);
    let client_id = request.client_id.as_deref().unwrap_or_default();
    let client_name = snap
        .index
        .client(&snap.rep, client_id)
        .and_then(|c| c.name.as_deref().filter(|n| !n.is_empty()))
        .unwrap_or(client_id);
    let texts: Vec<String> = to_grant.into_iter().map(|(_, t)| t).collect();
    let action = paths::url("", paths::CONSENT_ACTION, &snap.name);
    flow::start_flow(
        state.store.as_ref(),
        snap,
        &data,
        600,
        reply.secure(),
        |code| consent_page(snap, &action, code, client_name, &texts),
    )
    .await
}

/// POST of the consent form (its flow already bound): `accept` records the grant and
/// continues; a refusal answers `access_denied` to the client. `issuer` is `None` for an
/// invalid host.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn decide(
    state: &AppState,
    snap: &RealmSnapshot,
    protocol: &dyn Protocol,
    session_code: &str,
    pending: &PendingLogin,
    issuer: Option<&str>,
    accept: bool,
) -> Response {
    let _ = state.store.delete_auth_session(session_code).await;
    let (Some(sid), Some(user_id), Some(issuer)) = (
        pending.consent_session.clone(),
        pending.consent_user.clone(),
        issuer,
    ) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let reply = Reply::to(&pending.request, issuer);
    if !accept {
        let mut e = crate::authn::login_event(snap, &pending.request)
            .user(user_id.clone())
            .session(sid.clone());
        e.set_detail("consent", "consent_denied");
        e.error(state, "rejected_by_user");
        return reply.error("access_denied", "Consent denied");
    }
    let Ok(Some(row)) = state.store.user_by_id(&snap.id, &user_id).await else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let Ok(mut user) = parse_user(&row) else {
        return internal_error();
    };
    let client_id = pending.request.client_id.as_deref().unwrap_or_default();
    let granted = pending.consent_scopes.clone().unwrap_or_default();
    record_grant(&mut user, client_id, granted, now() * 1000);
    let mut updated = row.clone();
    let Ok(rep) = serde_json::to_string(&user) else {
        return internal_error();
    };
    updated.representation = rep;
    if state.store.update_user(&snap.id, &updated).await.is_err() {
        return internal_error();
    }
    let who = Authenticated {
        sid,
        user_id,
        auth_time: pending.auth_time.unwrap_or_else(now),
        sso: pending.flow.sso.is_some(),
        loa: pending.flow.loa,
        organization: pending.selected_organization.clone(),
    };
    let done = Authorized {
        request: &pending.request,
        reply: &reply,
        who: &who,
        user: &user,
        end: LoginEnd::default(),
    };
    crate::authn::login_success(
        state,
        snap,
        &done,
        "consent_granted",
        pending.brokered.as_ref(),
    );
    protocol.authorized(state, snap, done).await
}

/// Records a grant in the user, as Keycloak's `clientConsents` (`ms`: now, milliseconds).
pub fn record_grant(user: &mut UserRepresentation, client_id: &str, granted: Vec<String>, ms: i64) {
    let list = user.client_consents.get_or_insert_with(Vec::new);
    let existing = list
        .iter_mut()
        .find(|c| c.get("clientId").and_then(Value::as_str) == Some(client_id));
    let Some(existing) = existing else {
        list.push(json!({ "clientId": client_id, "grantedClientScopes": granted, "createdDate": ms, "lastUpdatedDate": ms }));
        return;
    };
    let scopes = existing
        .as_object_mut()
        .map(|o| o.entry("grantedClientScopes").or_insert_with(|| json!([])));
    if let Some(Value::Array(scopes)) = scopes {
        for g in granted.into_iter().map(Value::String) {
            if !scopes.contains(&g) {
                scopes.push(g);
            }
        }
    }
    existing["lastUpdatedDate"] = json!(ms);
}
