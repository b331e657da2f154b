//! The answer to the client once the browser login is done, as Keycloak's
//! `OIDCLoginProtocol.authenticated`: a single-use code and/or the front-channel tokens of the
//! implicit and hybrid flows. [`Oidc`] is the [`Protocol`] the login steps answer through.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map};

use crate::authn::pages::{error_page, internal_error};
use crate::authn::reply::{Reply, ResponseType};
use crate::authn::{
    code_hash, write_login_end, Answer, AuthRequest, Authenticated, Authorized, CodeData, LoginEnd,
    Protocol,
};
use crate::clock::now;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::UserRepresentation;
use crate::store::NewCode;
use crate::AppState;

use crate::tokens;

/// OpenID Connect, as the protocol of a browser login.
pub struct Oidc;

impl Protocol for Oidc {
    fn authorized<'a>(
        &'a self,
        state: &'a AppState,
        snap: &'a RealmSnapshot,
        done: Authorized<'a>,
    ) -> Answer<'a> {
        Box::pin(authorization_response(
            state,
            snap,
            done.request,
            done.reply,
            done.who,
            done.user,
            done.end,
        ))
    }

    fn send_verify_email<'a>(
        &'a self,
        state: &'a AppState,
        snap: &'a RealmSnapshot,
        base: &'a str,
        user_id: &'a str,
        email: &'a str,
        client_id: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move { send_verify_email(snap, state, base, user_id, email, client_id) })
    }
}

/// `VerifyEmail.sendVerifyEmail`: a `verify-email` token for the login's client (lifespan
/// `actionTokenGeneratedByUserLifespan.verify-email`) in Keycloak's mail.
fn send_verify_email(
    snap: &RealmSnapshot,
    state: &AppState,
    base: &str,
    user_id: &str,
    email: &str,
    client_id: &str,
) -> Result<(), String> {
    use crate::action_token::token::{self as action_token, ActionToken, Kind, VERIFY_EMAIL};
    let lifespan = action_token::user_lifespan(snap, VERIFY_EMAIL);
    let t = now();
    let mut token = ActionToken::new(Kind::VerifyEmail, Some(user_id), client_id, t, t + lifespan);
    token.email = Some(email.to_string());
    let key = snap.hmac_keys.first().ok_or("the realm has no HMAC key")?;
    let issuer = crate::http::paths::url(base, crate::http::paths::REALM, &snap.name);
    let link = action_token::link(base, snap, &token.sign(key, &issuer));
    let realm_name = snap
        .rep
        .display_name
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| snap.name.clone());
    let mail = crate::email::templates::verify_email(email, &realm_name, &link, lifespan);
    let settings =
        crate::email::SmtpSettings::of(snap.rep.smtp_server.as_ref()).map_err(|e| e.to_string())?;
    state
        .email
        .enqueue(&snap.name, settings, mail)
        .map_err(|e| e.to_string())
}

/// Creates a single-use code for the authenticated request and stores it with the end of the
/// login, in one transaction.
async fn issue_code(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &AuthRequest,
    who: &Authenticated,
    mut end: LoginEnd,
) -> Result<String, Response> {
    let code = format!(
        "{}.{}",
        uuid::Uuid::new_v4().simple(),
        crate::crypto::random_alphanumeric(32)
    );
    let data = CodeData {
        request: request.clone(),
        session_id: Some(who.sid.clone()),
        user_id: Some(who.user_id.clone()),
        auth_time: Some(who.auth_time),
        sso_auth: who.sso.then_some(true),
        loa: who.loa,
        organization: who.organization.clone(),
        extra: Map::new(),
    };
    let data = serde_json::to_string(&data).map_err(|_| internal_error())?;
    let lifespan = snap.settings.access_code_lifespan;
    end.code = Some(NewCode {
        code_hash: code_hash(&code),
        realm_id: snap.id.clone(),
        data,
        expires_at: now() + lifespan,
    });
    state
        .store
        .finish_login(&end)
        .await
        .map_err(|_| internal_error())?;
    Ok(code)
}

/// The successful answer for the authenticated user: the `code` (with `code`), the tokens
/// (with `id_token` and/or `token`: `id_token`, `access_token`, `token_type`, `expires_in`;
/// never a refresh token), after `state`, `session_state` and `iss` (Keycloak's order). `end`
/// (the end of the login in the store) is written with the code, else before the answer.
pub async fn authorization_response(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &AuthRequest,
    reply: &Reply,
    who: &Authenticated,
    user: &UserRepresentation,
    end: LoginEnd,
) -> Response {
    // Flows started before `response_type` was recorded were all `code`.
    let response_type = ResponseType::parse(request.response_type.as_deref().unwrap_or("code"));
    let code = match response_type {
        Some(r) if r.code => match issue_code(state, snap, request, who, end).await {
            Ok(code) => Some(code),
            Err(r) => return r,
        },
        _ => {
            if write_login_end(state.store.as_ref(), &end).await.is_err() {
                return internal_error();
            }
            None
        }
    };
    let Some(response_type) = response_type else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid Request.");
    };
    let sid = who.sid.as_str();
    if !response_type.implicit_or_hybrid() {
        return match &code {
            Some(code) => reply.send_authenticated(sid, &[("code", code)]),
            None => reply.send_authenticated(sid, &[]),
        };
    }
    front_channel(state, snap, request, reply, who, user, response_type, code).await
}

/// The answer of the implicit and hybrid flows, with tokens.
#[allow(clippy::too_many_arguments)]
async fn front_channel(
    state: &AppState,
    snap: &RealmSnapshot,
    request: &AuthRequest,
    reply: &Reply,
    who: &Authenticated,
    user: &UserRepresentation,
    response_type: ResponseType,
    code: Option<String>,
) -> Response {
    let scope = request.scope.as_deref();
    let Some(client) = request.client(snap) else {
        return error_page(StatusCode::BAD_REQUEST, "Client not found.");
    };
    let Ok((scopes, openid)) = tokens::resolve_scopes(snap, client, scope) else {
        return reply.error(
            "invalid_scope",
            &format!("Invalid scopes: {}", scope.unwrap_or_default()),
        );
    };
    // The session's notes (`AUTHENTICATORS_COMPLETED` for `amr`), with the login's time.
    let mut notes = match state.store.session(&who.sid).await {
        Ok(Some(s)) => crate::sessions::SessionNotes::map_of(&s.data),
        _ => Map::new(),
    };
    notes.insert("AUTH_TIME".to_string(), json!(who.auth_time.to_string()));
    let acr = tokens::acr::acr(
        snap,
        client,
        who.loa,
        who.sso,
        request.claims.as_deref(),
        request.acr_values.as_deref(),
    );
    let sid = who.sid.as_str();
    // One instant for the tokens and the client's part in the session: a part that started a
    // second after the tokens' `iat` would refuse them.
    let t = now();
    let Ok(memberships) = tokens::memberships(
        state.store.as_ref(),
        snap,
        &who.user_id,
        &scopes,
        who.organization.as_deref(),
    )
    .await
    else {
        return internal_error();
    };
    let req = tokens::TokenRequest {
        snap,
        issuer: &reply.issuer,
        client,
        user_id: &who.user_id,
        user,
        sid: Some(sid),
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid,
        nonce: request.nonce.as_deref(),
        now: t,
        acr: &acr,
    };
    let front = tokens::FrontChannel {
        id_token: response_type.id_token,
        token: response_type.token,
        code: code.as_deref(),
        state: reply.state.as_deref(),
        implicit: response_type.implicit(),
    };
    let Ok(issued) = tokens::issue_front_channel(&req, &front) else {
        return internal_error();
    };
    // Tokens left from here: the client takes part in the session (for logout, back-channel
    // logout tokens included) as Keycloak's authenticated client session records it. No
    // refresh token exists, so the current refresh id is one nobody holds; a hybrid code's
    // redemption replaces it.
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let joined = state
        .store
        .set_refresh_token(sid, client_id, &uuid::Uuid::new_v4().to_string(), t)
        .await;
    if joined.is_err() {
        return internal_error();
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
    let mut r = reply.send_authenticated(sid, &params);
    // Tokens in a response: not to be cached (RFC 6749 §4.2.2 asks this of the fragment's
    // carrier too).
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
