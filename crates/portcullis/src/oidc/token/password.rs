//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=password)
//! RFC 6749 §4.3, for clients with `directAccessGrantsEnabled`. Creates an SSO session.

use axum::response::Response;
use serde_json::{json, Map};

use crate::authn::brute_force;
use crate::events::errors;
use crate::http::oauth_error::OAuthError;
use crate::oidc::client_auth;
use crate::realm::index::Role;
use crate::sessions::SessionNotes;
use crate::store::SessionRow;
use crate::tokens::{self, Lifespans, TokenRequest};

use super::{response, GrantContext};
use crate::authn::browser::UserFacts;
use crate::authn::engine::{self, Failure, FlowState, Next, Status};
use crate::authn::steps::otp;
use crate::authn::steps::verify_profile::{self, Trigger};
use crate::model::flows::Provider;
use crate::representation::{ClientRepresentation, UserRepresentation};
use crate::store::UserRow;
use crate::users::{find_user, parse_user, password_matches};

/// The grant.
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
    ctx.ev(|e| e.set_detail("auth_method", "oauth_credentials"));
    if client.direct_access_grants_enabled != Some(true) {
        return Err(OAuthError::unauthorized_client(
            "Client not allowed for direct access grants",
        ));
    }
    let username = ctx.params.require("username")?;
    ctx.ev(|e| e.set_detail("username", username));
    let given = ctx.params.get("password").unwrap_or_default();
    let (scopes, openid) = tokens::resolve_scopes(ctx.snap, client, ctx.params.get("scope"))?;
    let (mut row, mut user) = run_flow(ctx, client, username, given).await?;
    // `processor.evaluateRequiredActionTriggers()`, then Keycloak's refusal while the user or
    // this login has required actions (`ResourceOwnerPasswordCredentialsGrantType`).
    let scope_names: Vec<String> = scopes.iter().filter_map(|s| s.name.clone()).collect();
    let login_actions = match verify_profile::evaluate(ctx.snap, &mut user, &scope_names) {
        Trigger::Due => true,
        Trigger::Cleared => {
            row.representation =
                serde_json::to_string(&user).map_err(|_| OAuthError::server_error())?;
            ctx.state.store.update_user(&ctx.snap.id, &row).await?;
            false
        }
        Trigger::Nothing => false,
    };
    let stored_actions = user
        .required_actions
        .as_ref()
        .is_some_and(|a| !a.is_empty());
    if stored_actions || login_actions {
        const NOT_SET_UP: &str = "Account is not fully set up";
        ctx.ev(|e| e.set_detail("reason", NOT_SET_UP));
        ctx.fail(errors::RESOLVE_REQUIRED_ACTIONS);
        return Err(OAuthError::invalid_grant(NOT_SET_UP));
    }
    let offline = scopes
        .iter()
        .any(|s| s.name.as_deref() == Some("offline_access"));
    if offline {
        let roles = tokens::roles_in_scope(ctx.snap, client, &user, &scopes);
        if !roles.contains(&Role::Realm("offline_access".into())) {
            return Err(OAuthError::invalid_scope(
                "Offline tokens not allowed for the user or client",
            ));
        }
    }
    let sid = uuid::Uuid::new_v4().to_string();
    let notes = Map::from_iter([("AUTH_TIME".to_string(), json!(ctx.now.to_string()))]);
    let client_id = client.client_id.as_deref().unwrap_or_default();
    let memberships =
        tokens::memberships(ctx.state.store.as_ref(), ctx.snap, &row.id, &scopes, None).await?;
    let req = TokenRequest {
        snap: ctx.snap,
        issuer: &ctx.issuer,
        client,
        user_id: &row.id,
        user: &user,
        sid: Some(&sid),
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid,
        nonce: None,
        now: ctx.now,
        acr: "1",
    };
    let issued = tokens::issue(&req)?;
    let lifespans = Lifespans::of(ctx.snap, client);
    let refresh_jti = uuid::Uuid::new_v4().to_string();
    let (refresh_exp, refresh_in) = if offline {
        (None, 0)
    } else {
        (
            Some(ctx.now + lifespans.idle.min(lifespans.max)),
            lifespans.idle.min(lifespans.max),
        )
    };
    let refresh = tokens::refresh_token(&req, &refresh_jti, refresh_exp, offline)?;
    let session = SessionRow {
        id: sid.clone(),
        realm_id: ctx.snap.id.clone(),
        user_id: row.id.clone(),
        offline,
        created_at: ctx.now,
        last_refresh: ctx.now,
        data: SessionNotes::at(ctx.now).to_json(),
    };
    ctx.state
        .store
        .create_session(&session, client_id, Some(&refresh_jti))
        .await?;
    ctx.issued(&issued, Some((&refresh_jti, offline)));
    ctx.ev(|e| e.set_session(sid.clone()));
    Ok(response(
        &issued,
        Some((refresh, refresh_in)),
        Some(&sid),
        ctx.snap.not_before,
    ))
}

/// Runs the client's direct grant flow (Keycloak's `directGrantFlow`, or the client's
/// override) with the engine: the user it identified and authenticated, or the error.
async fn run_flow(
    ctx: &GrantContext<'_>,
    client: &ClientRepresentation,
    username: &str,
    given: &str,
) -> Result<(UserRow, UserRepresentation), OAuthError> {
    let flows = ctx.snap.flows.clone();
    let top = flows
        .direct_grant_for(client.client_id.as_deref())
        .ok_or_else(OAuthError::server_error)?;
    let invalid = || OAuthError::invalid_grant("Invalid user credentials");
    let mut st = FlowState::default();
    let mut facts = UserFacts {
        snap: ctx.snap,
        user: None,
    };
    let mut row: Option<UserRow> = None;
    let mut attempt: Option<brute_force::Attempt<'_>> = None;
    loop {
        let (exec, auth) = match engine::plan(&flows, top, &st, &facts) {
            Next::Done => break,
            Next::Failed(Failure::CredentialSetupRequired(Provider::DirectOtp)) => {
                ctx.fail(errors::INVALID_USER_CREDENTIALS);
                return Err(OAuthError::invalid_grant_401("Invalid user credentials"));
            }
            Next::Failed(Failure::CredentialSetupRequired(_)) => {
                ctx.fail(errors::RESOLVE_REQUIRED_ACTIONS);
                return Err(OAuthError::invalid_grant("Account is not fully set up"));
            }
            Next::Failed(_) => {
                ctx.fail(errors::INVALID_USER_CREDENTIALS);
                return Err(invalid());
            }
            Next::Run(e, a) => (e, a),
        };
        let status = match auth.provider {
            Provider::DirectUsername => {
                // Keycloak: unknown user 400, wrong password 401, same body. An unknown user
                // costs the time of a password check too (`AuthenticatorUtils.dummyHash`), so the
                // answer's timing does not tell which user names exist.
                let Some(found) = find_user(ctx.state.store.as_ref(), ctx.snap, username).await?
                else {
                    brute_force::dummy_hash(given).await;
                    ctx.fail(errors::USER_NOT_FOUND);
                    return Err(invalid());
                };
                let user = parse_user(&found)?;
                ctx.ev(|e| e.set_user(found.id.clone()));
                // Brute-force detection, before the password: a locked user gets the unknown
                // user's answer.
                match brute_force::begin(ctx.state, ctx.snap, &found.id, &user).await? {
                    brute_force::Gate::Open(a) => attempt = Some(a),
                    brute_force::Gate::Locked(lock) => {
                        brute_force::dummy_hash(given).await;
                        ctx.fail(lock.event_error());
                        return Err(invalid());
                    }
                }
                // A disabled user is refused before the password is checked, as Keycloak's
                // `ValidateUsername` does.
                if user.enabled == Some(false) {
                    ctx.fail(errors::USER_DISABLED);
                    return Err(OAuthError::invalid_grant("Account disabled"));
                }
                st.user = Some(found.id.clone());
                facts.user = Some(user);
                row = Some(found);
                Status::Success
            }
            Provider::DirectPassword => {
                let (Some(found), Some(user)) = (row.as_mut(), facts.user.take()) else {
                    return Err(invalid());
                };
                // Hashing is CPU-bound: off the async workers.
                let (user, matched, upgraded) = {
                    let mut user = user;
                    let given = given.to_string();
                    crate::crypto::password::off_thread(move || {
                        let (m, u) = password_matches(&mut user, &given);
                        (user, m, u)
                    })
                    .await
                    .map_err(|_| OAuthError::server_error())?
                };
                if !matched {
                    ctx.fail(errors::INVALID_USER_CREDENTIALS);
                    if let Some(a) = attempt.take() {
                        a.failed(ctx.remote).await;
                    }
                    return Err(OAuthError::invalid_grant_401("Invalid user credentials"));
                }
                if let Some(a) = attempt.take() {
                    a.succeeded().await;
                }
                if upgraded {
                    found.representation =
                        serde_json::to_string(&user).map_err(|_| OAuthError::server_error())?;
                    ctx.state.store.update_user(&ctx.snap.id, found).await?;
                }
                facts.user = Some(user);
                st.used("password");
                Status::Success
            }
            Provider::DirectOtp => {
                let (Some(found), Some(user)) = (row.as_ref(), facts.user.as_ref()) else {
                    return Err(invalid());
                };
                let wrong = || {
                    ctx.fail(errors::INVALID_USER_CREDENTIALS);
                    OAuthError::invalid_grant_401("Invalid user credentials")
                };
                let Some(code) = ctx.params.get("totp") else {
                    return Err(wrong());
                };
                let gate = brute_force::begin(ctx.state, ctx.snap, &found.id, user).await?;
                let attempt = match gate {
                    brute_force::Gate::Open(a) => a,
                    brute_force::Gate::Locked(lock) => {
                        ctx.fail(lock.event_error());
                        return Err(OAuthError::invalid_grant_401("Invalid user credentials"));
                    }
                };
                if !otp::check(ctx.state, ctx.snap, found, user, None, code).await? {
                    attempt.failed(ctx.remote).await;
                    return Err(wrong());
                }
                attempt.succeeded().await;
                st.used("otp");
                Status::Success
            }
            Provider::AllowAccess => Status::Success,
            Provider::Cookie | Provider::IdpRedirector | Provider::Organization => {
                Status::Attempted
            }
            Provider::DenyAccess => {
                ctx.fail(errors::ACCESS_DENIED);
                return Err(OAuthError::invalid_grant_401(auth.deny_message()));
            }
            _ => {
                tracing::warn!(realm = %ctx.snap.name, "the direct grant flow names an authenticator that cannot run in it");
                ctx.fail(errors::INVALID_USER_CREDENTIALS);
                return Err(invalid());
            }
        };
        st.record(&exec.id, status);
    }
    match (row, facts.user) {
        (Some(r), Some(u)) => Ok((r, u)),
        _ => {
            ctx.fail(errors::USER_NOT_FOUND);
            Err(invalid())
        }
    }
}
