//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=authorization_code)
//! RFC 6749 §4.1.3 with RFC 7636 PKCE. Codes are single use and live `accessCodeLifespan`;
//! a replayed code fails and detaches its client from the session it was issued in.

use axum::response::Response;
use serde_json::json;

use crate::authn::{code_hash, CodeData};
use crate::events::errors;
use crate::http::oauth_error::OAuthError;
use crate::oidc::client_auth;
use crate::tokens::{self, Lifespans, TokenRequest};

use super::{response, GrantContext};
use crate::sessions::live_client_session;
use crate::users::parse_user;

pub(crate) fn pkce_ok(method: &str, challenge: &str, verifier: &str) -> bool {
    if verifier.len() < 43
        || verifier.len() > 128
        || !verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    {
        return false;
    }
    let computed = match method {
        "S256" => crate::crypto::b64url(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
        ),
        "plain" => verifier.to_string(),
        _ => return false,
    };
    aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
        .is_ok()
}

/// RFC 7636 at the token endpoint, with Keycloak's messages: a challenge of the authorization
/// (its `method`, `plain` when absent) needs the matching `verifier`, and a verifier needs a
/// challenge.
pub(crate) fn check_pkce(
    challenge: Option<&str>,
    method: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if pkce_ok(method.unwrap_or("plain"), challenge, verifier) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "PKCE verification failed: Code mismatch",
                ))
            }
        }
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "PKCE code verifier not specified",
        )),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "PKCE code verifier specified but challenge not present in authorization",
        )),
        (None, None) => Ok(()),
    }
}

/// The grant. The code is read, checked, and redeemed only with the tokens it gives (the
/// refresh token made current in the same transaction); a failure on the way uses it up all
/// the same, as Keycloak removes a code from its single-use store before checking anything.
/// Of concurrent redemptions one wins; the others are replays.
pub async fn grant(ctx: &GrantContext<'_>) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(
        ctx.snap,
        ctx.state.store.as_ref(),
        &ctx.issuer,
        ctx.headers,
        ctx.params,
    )
    .await?;
    ctx.client_authenticated(client);
    let code = ctx.params.require("code")?;
    let store = ctx.state.store.as_ref();
    let hash = code_hash(code);
    let Some(stored) = store.code(&hash).await? else {
        return Err(invalid(ctx));
    };
    let data: CodeData = serde_json::from_str(&stored.data).unwrap_or_default();
    if stored.realm_id != ctx.snap.id {
        store.use_code(&hash).await?;
        return Err(invalid(ctx));
    }
    if stored.used {
        return Err(replayed(ctx, &data).await);
    }
    let redemption = Redemption::of(&hash);
    let result = redeem(ctx, client, &redemption, &data, stored.expires_at).await;
    let Err(e) = result else {
        return result;
    };
    match redemption.outcome() {
        // Failed after this request redeemed the code: the failure stands.
        Outcome::Redeemed => Err(e),
        Outcome::Replayed => Err(replayed(ctx, &data).await),
        Outcome::NotTried => match store.use_code(&hash).await? {
            // Redeemed meanwhile by another request: a replay.
            Some(u) if !u.first_use => Err(replayed(ctx, &data).await),
            _ => Err(e),
        },
    }
}

/// How the redemption of a code by [`session_tokens`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not tried yet (a check failed before).
    NotTried,
    /// This request redeemed it.
    Redeemed,
    /// Another redemption was first: a replay.
    Replayed,
}

/// A code that [`session_tokens`] redeems together with the refresh token it issues, and how
/// that went.
pub(crate) struct Redemption<'a> {
    hash: &'a str,
    outcome: std::sync::Mutex<Outcome>,
}

impl<'a> Redemption<'a> {
    fn of(hash: &'a str) -> Self {
        Redemption {
            hash,
            outcome: std::sync::Mutex::new(Outcome::NotTried),
        }
    }

    fn outcome(&self) -> Outcome {
        self.outcome.lock().map_or(Outcome::NotTried, |o| *o)
    }

    /// Redeems the code (with `refresh` made current by the same write): whether it was first.
    async fn redeem(
        &self,
        store: &dyn crate::store::Store,
        refresh: Option<&crate::store::RefreshStart>,
    ) -> Result<bool, crate::store::StoreError> {
        let first = store.redeem_code(self.hash, refresh).await?;
        if let Ok(mut o) = self.outcome.lock() {
            *o = if first {
                Outcome::Redeemed
            } else {
                Outcome::Replayed
            };
        }
        Ok(first)
    }
}

/// Keycloak's answer to an unknown or replayed code.
fn invalid(ctx: &GrantContext<'_>) -> OAuthError {
    ctx.fail(errors::INVALID_CODE);
    OAuthError::invalid_grant("Code not valid")
}

/// A code redeemed before: its client is detached from the session it was issued in
/// (Keycloak's `AuthorizationCodeGrantType`: "Attempt to use same code twice should invalidate
/// existing clientSession"), so tokens issued from the code stop working; the user stays
/// logged in, and other clients' tokens keep working.
async fn replayed(ctx: &GrantContext<'_>, data: &CodeData) -> OAuthError {
    if let (Some(sid), Some(code_client)) = (&data.session_id, &data.request.client_id) {
        if let Err(e) = ctx
            .state
            .store
            .detach_client_session(sid, code_client)
            .await
        {
            return e.into();
        }
    }
    invalid(ctx)
}

/// The checks of an unused code of this realm, then its tokens (redeeming it).
async fn redeem(
    ctx: &GrantContext<'_>,
    client: &crate::representation::ClientRepresentation,
    redemption: &Redemption<'_>,
    data: &CodeData,
    expires_at: i64,
) -> Result<Response, OAuthError> {
    let store = ctx.state.store.as_ref();
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let request = &data.request;
    if let Some(sid) = &data.session_id {
        ctx.ev(|e| {
            e.set_session(sid.clone());
            e.set_detail("code_id", sid.clone());
        });
    }
    if expires_at < ctx.now {
        ctx.fail(errors::EXPIRED_CODE);
        return Err(OAuthError::invalid_grant("Code not valid"));
    }
    if request.client_id.as_deref() != Some(client_id) {
        ctx.fail(errors::INVALID_CODE);
        return Err(OAuthError::invalid_grant("Auth error"));
    }
    // RFC 6749 §4.1.3: the same redirect_uri as in the authorization request.
    let redirect_ok = match (&request.redirect_uri_param, ctx.params.get("redirect_uri")) {
        (Some(original), given) => given == Some(original.as_str()),
        (None, given) => given.is_none() || given == request.redirect_uri.as_deref(),
    };
    if !redirect_ok {
        ctx.fail(errors::INVALID_CODE);
        return Err(OAuthError::invalid_grant("Incorrect redirect_uri"));
    }
    check_pkce(
        request.code_challenge.as_deref(),
        request.code_challenge_method.as_deref(),
        ctx.params.get("code_verifier"),
    )?;
    let sid = data.session_id.clone().unwrap_or_default();
    let Some((session, started)) =
        live_client_session(store, ctx.snap, &sid, client_id, ctx.now).await?
    else {
        ctx.fail(errors::SESSION_EXPIRED);
        return Err(OAuthError::invalid_grant("Session not active"));
    };
    ctx.ev(|e| e.set_user(session.user_id.clone()));
    let row = store
        .user_by_id(&ctx.snap.id, &session.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("User not found"))?;
    let user = parse_user(&row)?;
    if user.enabled == Some(false) {
        ctx.fail(errors::USER_DISABLED);
        return Err(OAuthError::invalid_grant("User disabled"));
    }
    let auth_time = data.auth_time.unwrap_or(session.created_at);
    let acr = tokens::acr::acr(
        ctx.snap,
        client,
        data.loa,
        data.sso_auth == Some(true),
        request.claims.as_deref(),
        request.acr_values.as_deref(),
    );
    session_tokens(
        ctx,
        client,
        &session,
        &row,
        &user,
        request.scope.as_deref(),
        request.nonce.as_deref(),
        auth_time,
        &acr,
        data.organization.as_deref(),
        Some((redemption, started.is_some())),
    )
    .await
}

/// The tokens of a client in a user's live session (authorization code and device grants):
/// access token, ID token with `openid`, and a refresh token bound to the session, or an
/// offline token with an offline session beside it for `offline_access`. With `code`, the
/// code is redeemed with the refresh token made current, in one write (with whether the
/// client's part in the session had started, read with the session); when another
/// redemption was first, nothing is issued (the caller answers the replay).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn session_tokens(
    ctx: &GrantContext<'_>,
    client: &crate::representation::ClientRepresentation,
    session: &crate::store::SessionRow,
    row: &crate::store::UserRow,
    user: &crate::representation::UserRepresentation,
    scope: Option<&str>,
    nonce: Option<&str>,
    auth_time: i64,
    acr: &str,
    organization: Option<&str>,
    code: Option<(&Redemption<'_>, bool)>,
) -> Result<Response, OAuthError> {
    let store = ctx.state.store.as_ref();
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let sid = session.id.clone();
    let (scopes, openid) = tokens::resolve_scopes(ctx.snap, client, scope)?;
    let mut notes = crate::sessions::SessionNotes::map_of(&session.data);
    notes.insert("AUTH_TIME".to_string(), json!(auth_time.to_string()));
    let memberships = tokens::memberships(store, ctx.snap, &row.id, &scopes, organization).await?;
    let req = TokenRequest {
        snap: ctx.snap,
        issuer: &ctx.issuer,
        client,
        user_id: &row.id,
        user,
        sid: Some(&sid),
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid,
        nonce,
        now: ctx.now,
        acr,
    };
    let issued = tokens::issue(&req)?;
    let lifespans = Lifespans::of(ctx.snap, client);
    let refresh_jti = uuid::Uuid::new_v4().to_string();
    let offline_access = scopes
        .iter()
        .any(|s| s.name.as_deref() == Some("offline_access"));
    // Within the session's second of last use the write would change nothing.
    let touch = session.last_refresh != ctx.now;
    // `offline_access`: an offline session beside the SSO session, with an offline token
    // bound to it (Keycloak's `UserSessionManager.createOrUpdateOfflineSession`).
    if offline_access {
        let roles = tokens::roles_in_scope(ctx.snap, client, user, &scopes);
        if !roles.contains(&crate::realm::index::Role::Realm("offline_access".into())) {
            return Err(OAuthError::invalid_scope(
                "Offline tokens not allowed for the user or client",
            ));
        }
        // The code is redeemed before the offline session is created.
        if let Some((c, _)) = code {
            if !c.redeem(store, None).await? {
                return Err(OAuthError::invalid_grant("Code not valid"));
            }
        }
        if touch {
            store.touch_session(&sid, ctx.now).await?;
        }
        let offline_sid = uuid::Uuid::new_v4().to_string();
        let offline = crate::store::SessionRow {
            id: offline_sid.clone(),
            offline: true,
            created_at: ctx.now,
            last_refresh: ctx.now,
            ..session.clone()
        };
        store
            .create_session(&offline, client_id, Some(&refresh_jti))
            .await?;
        let offline_req = TokenRequest {
            sid: Some(&offline_sid),
            ..req
        };
        let refresh = tokens::refresh_token(&offline_req, &refresh_jti, None, true)?;
        ctx.issued(&issued, Some((&refresh_jti, true)));
        return Ok(response(
            &issued,
            Some((refresh, 0)),
            Some(&sid),
            ctx.snap.not_before,
        ));
    }
    let exp = (ctx.now + lifespans.idle).min(session.created_at + lifespans.max);
    let refresh = tokens::refresh_token(&req, &refresh_jti, Some(exp), false)?;
    // The code is redeemed with the refresh token made current, in one write. Only
    // `revokeRefreshToken` ever looks at the current refresh token (the first one presented
    // becomes current when none is); without it, and with the client's part in the session
    // started already (by the login that issued the code; read with the session), redeeming
    // the code is all there is to write.
    match code {
        Some((c, client_started)) => {
            let start = crate::store::RefreshStart {
                session_id: sid.clone(),
                client_id: client_id.to_string(),
                refresh_token_id: refresh_jti.clone(),
                now: ctx.now,
            };
            let make_current = ctx.snap.settings.revoke_refresh_token || !client_started;
            if !c.redeem(store, make_current.then_some(&start)).await? {
                return Err(OAuthError::invalid_grant("Code not valid"));
            }
        }
        None => {
            store
                .set_refresh_token(&sid, client_id, &refresh_jti, ctx.now)
                .await?
        }
    }
    if touch {
        store.touch_session(&sid, ctx.now).await?;
    }
    ctx.issued(&issued, Some((&refresh_jti, false)));
    Ok(response(
        &issued,
        Some((refresh, exp - ctx.now)),
        Some(&sid),
        ctx.snap.not_before,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_and_plain() {
        // Challenge computed independently: base64url(SHA-256(verifier)) with Python hashlib.
        let verifier = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
        assert!(pkce_ok(
            "S256",
            "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es",
            verifier
        ));
        assert!(!pkce_ok(
            "S256",
            "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_eT",
            verifier
        ));
        assert!(!pkce_ok(
            "S256",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "short"
        ));
        assert!(pkce_ok("plain", verifier, verifier));
    }
}
