//! POST /realms/{realm}/protocol/openid-connect/token  (grant_type=urn:ietf:params:oauth:grant-type:uma-ticket)
//! Keycloak's `PermissionGrantType` and `AuthorizationTokenService.authorize` without a
//! permission ticket: the caller (the bearer token's user, or the authenticated client's
//! service account) asks a resource server (`audience`) for `permission`s; the answer is a
//! decision (`response_mode=decision`), the granted permissions (`response_mode=permissions`)
//! or an RPT (an access token with `authorization.permissions`).
//!
//! A permission `ticket` (from the Protection API's `permission` endpoint) names the resource
//! server and the permissions asked.
//!
//! A previous RPT (`rpt`) is upgraded: its permissions are evaluated again with the ones
//! asked, and `upgraded` says whether every one of them is still granted.
//!
//! Pushed claims (`claim_token`, `claim_token_format`) as `AuthorizationTokenService` takes
//! them: `urn:ietf:params:oauth:token-type:jwt` is a base64url JSON object of claims that
//! join the evaluation context's attributes (which regex policies with
//! `targetContextAttributes` read); the default format, an OpenID Connect ID token, is the
//! requesting identity when the client authenticates without a bearer token. `pct` is read
//! and never used, as in Keycloak.

use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::authz::{self, Asked, GroupRef, Identity, ResourceFormat, ResourceServer};
use crate::http::oauth_error::OAuthError;
use crate::model::Role;
use crate::oidc::bearer::{from_header, verify_access};
use crate::oidc::client_auth;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{ClientRepresentation, RealmRepresentation, UserRepresentation};
use crate::tokens::{self, TokenRequest};
use crate::users::parse_user;
use crate::AppState;

use super::client_credentials::service_account_username;
use super::{body, json_response, GrantContext};

/// The grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:uma-ticket";

/// Compiled resource servers by (realm id, client UUID, version): a change bumps the version,
/// so a stale entry is never read again and ages out.
type Compiled = moka::sync::Cache<(String, String, i64), Arc<ResourceServer>>;

fn compiled() -> &'static Compiled {
    static CACHE: OnceLock<Compiled> = OnceLock::new();
    CACHE.get_or_init(|| {
        moka::sync::Cache::builder()
            .max_capacity(256)
            .time_to_idle(std::time::Duration::from_secs(3600))
            .build()
    })
}

fn err(status: StatusCode, error: &'static str, d: impl Into<String>) -> OAuthError {
    OAuthError {
        status,
        error,
        description: d.into(),
        www_authenticate: None,
    }
}

/// `claim_token_format` of a base64url JSON object of claims.
pub const CLAIM_TOKEN_FORMAT_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// `claim_token_format` of an ID token (the default when a `claim_token` comes alone).
pub const CLAIM_TOKEN_FORMAT_ID_TOKEN: &str =
    "http://openid.net/specs/openid-connect-core-1_0.html#IDToken";

/// Pushed claims (`CLAIM_TOKEN_FORMAT_JWT`) as context attributes: a base64url JSON object
/// whose values are strings or lists (each element a value; non-strings as their JSON text),
/// else 400 `invalid_request` `Invalid claims`.
pub fn pushed_claims(token: &str) -> Result<Vec<(String, Vec<String>)>, OAuthError> {
    let invalid = || OAuthError::invalid_request("Invalid claims");
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        token.trim().trim_end_matches('='),
    )
    .map_err(|_| invalid())?;
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(invalid());
    };
    Ok(claim_lists(map))
}

/// Pushed claims as Keycloak's `Map<String, List<String>>`: each value a list of strings
/// (a single value becomes a one-element list, `null` an empty one).
pub fn claim_lists(map: Map<String, Value>) -> Vec<(String, Vec<String>)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    map.into_iter()
        .map(|(k, v)| {
            let values = match &v {
                Value::Array(a) => a.iter().map(text).collect(),
                Value::Null => Vec::new(),
                other => vec![text(other)],
            };
            (k, values)
        })
        .collect()
}

/// Claims as a permission carries them: `{"name": ["value", ...]}`.
fn claims_json(lists: &[(String, Vec<String>)]) -> Map<String, Value> {
    lists.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
}

/// A `claim_token` in the ID-token format as the requesting identity
/// (`AuthorizationTokenService`'s `CLAIM_TOKEN_FORMAT_ID_TOKEN`): signed by a realm key (else
/// 400 `unauthorized_client` `Invalid signature`), issued to the authenticated client (else
/// 400 `invalid_claim_token` `Token issued to a different client`), not expired (else
/// `Expired token`). Its claims.
pub fn id_token_claims(
    keys: &[crate::crypto::keys::RealmKey],
    token: &str,
    client_id: &str,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    let bad_signature = || {
        err(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Invalid signature",
        )
    };
    let parsed = crate::crypto::jws::parse(token).map_err(|_| bad_signature())?;
    parsed.verify(keys).map_err(|_| bad_signature())?;
    let c = parsed.claims;
    if c.get("azp").and_then(Value::as_str) != Some(client_id) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "invalid_claim_token",
            "Token issued to a different client",
        ));
    }
    if c.get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|e| e <= now)
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "invalid_claim_token",
            "Expired token",
        ));
    }
    if c.get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Invalid identity",
        ));
    }
    Ok(c)
}

/// A verified permission ticket (`PermissionTicketToken`): its resource server (`aud`) and
/// its permissions as `permission` parameters (`<resource id>#<scope>,...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The resource server's `clientId`.
    pub audience: String,
    /// The permissions asked.
    pub permissions: Vec<String>,
    /// The claims the resource server pushed when it asked for the ticket.
    pub claims: Vec<(String, Vec<String>)>,
}

/// Reads a permission ticket: signed by one of the realm's keys (else `Ticket verification
/// failed`), not expired (else `Invalid permission ticket.`), as
/// `AuthorizationTokenService.verifyPermissionTicket`.
pub fn verify_ticket(
    keys: &[crate::crypto::keys::RealmKey],
    ticket: &str,
    now: i64,
) -> Result<Ticket, OAuthError> {
    let failed = || {
        err(
            StatusCode::FORBIDDEN,
            "invalid_ticket",
            "Ticket verification failed",
        )
    };
    let parsed = crate::crypto::jws::parse(ticket).map_err(|_| failed())?;
    parsed.verify(keys).map_err(|_| failed())?;
    let c = parsed.claims;
    let inactive = || {
        err(
            StatusCode::FORBIDDEN,
            "invalid_ticket",
            "Invalid permission ticket.",
        )
    };
    if c.get("exp").and_then(Value::as_i64).is_none_or(|e| e < now)
        || c.get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|n| n > now)
    {
        return Err(inactive());
    }
    let audience = match c.get("aud") {
        Some(Value::String(a)) => a.clone(),
        Some(Value::Array(a)) => a
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    let Some(list) = c.get("permissions").and_then(Value::as_array) else {
        return Err(failed());
    };
    let mut permissions = Vec::new();
    for p in list {
        let rsid = p.get("rsid").and_then(Value::as_str).unwrap_or_default();
        let scopes: Vec<&str> = p
            .get("scopes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        permissions.push(if scopes.is_empty() {
            rsid.to_string()
        } else {
            format!("{rsid}#{}", scopes.join(","))
        });
    }
    if audience.is_empty() {
        return Err(failed());
    }
    let claims = match c.get("claims") {
        Some(Value::Object(m)) => claim_lists(m.clone()),
        _ => Vec::new(),
    };
    Ok(Ticket {
        audience,
        permissions,
        claims,
    })
}

/// A previous RPT passed as `rpt`, as `PermissionGrantType` reads it
/// (`session.tokens().decode`: the signature only) and `AuthorizationTokenService` uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousRpt {
    /// `isActive()`: not expired, not before its `nbf`. An inactive RPT contributes nothing.
    pub active: bool,
    /// Its `authorization.permissions` as (resource id, scope names); empty for an access
    /// token that is no RPT.
    pub permissions: Vec<(String, Vec<String>)>,
    /// The `claims` of those permissions, by resource id (only those that have some).
    pub claims: Vec<(String, Map<String, Value>)>,
}

/// Reads the `rpt` parameter: signed by one of the realm's keys, else 403 `invalid_rpt`
/// `RPT signature is invalid` (`PermissionGrantType`). Keycloak does not refuse an expired
/// RPT nor an access token without `authorization`: their permissions are not merged.
pub fn read_rpt(
    keys: &[crate::crypto::keys::RealmKey],
    token: &str,
    now: i64,
) -> Result<PreviousRpt, OAuthError> {
    let invalid = || {
        err(
            StatusCode::FORBIDDEN,
            "invalid_rpt",
            "RPT signature is invalid",
        )
    };
    let parsed = crate::crypto::jws::parse(token).map_err(|_| invalid())?;
    parsed.verify(keys).map_err(|_| invalid())?;
    let c = parsed.claims;
    let active = c.get("exp").and_then(Value::as_i64).is_none_or(|e| e > now)
        && c.get("nbf")
            .and_then(Value::as_i64)
            .is_none_or(|n| n <= now);
    let listed = c
        .get("authorization")
        .and_then(|a| a.get("permissions"))
        .and_then(Value::as_array);
    let claims = listed
        .map(|list| {
            list.iter()
                .filter_map(|p| {
                    let rsid = p.get("rsid")?.as_str()?.to_string();
                    match p.get("claims") {
                        Some(Value::Object(m)) if !m.is_empty() => Some((rsid, m.clone())),
                        _ => None,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let permissions = listed
        .map(|list| {
            list.iter()
                .filter_map(|p| {
                    let rsid = p.get("rsid")?.as_str()?.to_string();
                    let scopes = p
                        .get("scopes")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    Some((rsid, scopes))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PreviousRpt {
        active,
        permissions,
        claims,
    })
}

/// `AuthorizationTokenService.createPermissions`' last step: an active previous RPT's
/// permissions on resources of this server are evaluated again, their scopes added to a
/// resource already asked (unknown resources and scopes are skipped).
pub fn merge_rpt(rs: &ResourceServer, asked: &mut Vec<Asked>, previous: &PreviousRpt) {
    if !previous.active {
        return;
    }
    for (rsid, names) in &previous.permissions {
        let Some(id) = rs.resource_id(rsid) else {
            continue;
        };
        let ids: Vec<String> = names
            .iter()
            .filter_map(|n| rs.scope_id_by_name(n))
            .map(str::to_string)
            .collect();
        let existing = asked.iter_mut().find_map(|a| match a {
            Asked::Resource { resource, scopes } if resource == id => Some(scopes),
            _ => None,
        });
        match existing {
            // Asked with no scope: all of the resource's scopes already.
            Some(scopes) if scopes.is_empty() => {}
            Some(scopes) => {
                for s in ids {
                    if !scopes.contains(&s) {
                        scopes.push(s);
                    }
                }
            }
            None => asked.push(Asked::Resource {
                resource: id.to_string(),
                scopes: ids,
            }),
        }
    }
}

/// `AuthorizationTokenService.isGranted` with an RPT: every resource asked must be granted
/// (Keycloak's `Permission` equality is the resource id).
fn all_asked_granted(asked: &[Asked], granted: &[authz::Permission]) -> bool {
    asked.iter().all(|a| match a {
        Asked::Resource { resource, .. } => granted
            .iter()
            .any(|p| p.rsid.as_deref() == Some(resource.as_str())),
        _ => true,
    })
}

/// `isUpgraded`: every permission of the previous RPT is in the new one.
fn upgraded(previous: Option<&PreviousRpt>, granted: &[authz::Permission]) -> bool {
    previous.is_some_and(|p| {
        p.permissions.iter().all(|(rsid, _)| {
            granted
                .iter()
                .any(|g| g.rsid.as_deref() == Some(rsid.as_str()))
        })
    })
}

/// Puts the request's pushed claims on every granted permission, as Keycloak's
/// `createPermissions` hands `request.getClaims()` to each `ResourcePermission` and
/// `DecisionPermissionCollector` copies them into the RPT. A resource that only the previous
/// RPT brings keeps that RPT's claims for it; one asked again gets the RPT's values added
/// under the claim names the request already has.
pub fn attach_claims(
    granted: &mut [authz::Permission],
    pushed: &[(String, Vec<String>)],
    requested: &[Asked],
    previous: Option<&PreviousRpt>,
) {
    let request = claims_json(pushed);
    for g in granted.iter_mut() {
        let mut claims = request.clone();
        let old = previous.filter(|p| p.active).and_then(|p| {
            let id = g.rsid.as_deref()?;
            p.claims.iter().find(|(r, _)| r == id).map(|(_, m)| m)
        });
        if let (Some(old), Some(id)) = (old, g.rsid.as_deref()) {
            let asked = requested
                .iter()
                .any(|a| matches!(a, Asked::Resource { resource, .. } if resource == id));
            if asked {
                for (k, v) in old {
                    if let (Some(Value::Array(have)), Value::Array(add)) = (claims.get_mut(k), v) {
                        for x in add {
                            if !have.contains(x) {
                                have.push(x.clone());
                            }
                        }
                    }
                }
            } else {
                claims = old.clone();
            }
        }
        g.claims = claims;
    }
}

/// The grant.
pub async fn grant(ctx: &GrantContext<'_>) -> Result<Response, OAuthError> {
    let store = ctx.state.store.as_ref();
    // The requester: the bearer token's user (no client authentication then, as Keycloak lets
    // public clients in with their access token), else the authenticated client's service
    // account.
    let claim_token = ctx.params.get("claim_token");
    // `PermissionGrantType`: a claim token without a format is an ID token.
    let claim_format = ctx
        .params
        .get("claim_token_format")
        .or(claim_token.map(|_| CLAIM_TOKEN_FORMAT_ID_TOKEN));
    let (client, user_id, token_claims) = match from_header(ctx.headers) {
        Some(bearer) => {
            let claims = verify_access(store, ctx.snap, &ctx.issuer, bearer, ctx.now)
                .await?
                .map_err(|_| {
                    ctx.fail(crate::events::errors::INVALID_TOKEN);
                    OAuthError::invalid_grant_401("Invalid bearer token")
                })?;
            let azp = claims
                .get("azp")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let client = ctx
                .snap
                .index
                .client(&ctx.snap.rep, azp)
                .ok_or_else(|| OAuthError::invalid_grant_401("Invalid bearer token"))?;
            ctx.ev(|e| e.set_client(azp.to_string()));
            let sub = claims
                .get("sub")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            (client, sub, Some(claims))
        }
        None => {
            let client =
                client_auth::authenticate(ctx.snap, store, &ctx.issuer, ctx.headers, ctx.params)
                    .await?;
            ctx.client_authenticated(client);
            let client_id = client.client_id.as_deref().unwrap_or_default();
            // An ID token pushed by an authenticated client is the identity asking.
            if let (Some(ct), Some(CLAIM_TOKEN_FORMAT_ID_TOKEN)) = (claim_token, claim_format) {
                let claims = id_token_claims(&ctx.snap.keys, ct, client_id, ctx.now)
                    .inspect_err(|_| ctx.fail(crate::events::errors::INVALID_TOKEN))?;
                let sub = claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                return continue_grant(ctx, client, sub, Some(claims), claim_token, claim_format)
                    .await;
            }
            let row = match client.service_accounts_enabled {
                Some(true) => {
                    store
                        .user_by_username(&ctx.snap.id, &service_account_username(client_id))
                        .await?
                }
                _ => None,
            };
            let row = row.ok_or_else(|| {
                OAuthError::unauthorized_client("Client not enabled to retrieve service account")
            })?;
            (client, row.id, None)
        }
    };
    continue_grant(
        ctx,
        client,
        user_id,
        token_claims,
        claim_token,
        claim_format,
    )
    .await
}

/// The grant once the requesting identity is known.
async fn continue_grant(
    ctx: &GrantContext<'_>,
    client: &ClientRepresentation,
    user_id: String,
    token_claims: Option<Map<String, Value>>,
    claim_token: Option<&str>,
    claim_format: Option<&str>,
) -> Result<Response, OAuthError> {
    let store = ctx.state.store.as_ref();
    // `isPublicClientRequestingEntitlementWithClaims`: a public client may push claims only
    // with a ticket.
    if claim_token.is_some()
        && client.public_client == Some(true)
        && ctx.params.get("ticket").is_none()
    {
        ctx.fail(crate::events::errors::INVALID_REQUEST);
        return Err(err(
            StatusCode::FORBIDDEN,
            "invalid_grant",
            "Public clients are not allowed to send claims",
        ));
    }
    let response_mode = ctx.params.get("response_mode");
    if !matches!(response_mode, None | Some("decision") | Some("permissions")) {
        return Err(OAuthError::invalid_request("Invalid response_mode"));
    }
    let previous = match ctx.params.get("rpt") {
        Some(t) => Some(read_rpt(&ctx.snap.keys, t, ctx.now).inspect_err(|_| {
            ctx.fail(crate::events::errors::INVALID_REQUEST);
        })?),
        None => None,
    };
    let row = store
        .user_by_id(&ctx.snap.id, &user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant_401("Invalid bearer token"))?;
    let user = parse_user(&row)?;
    ctx.ev(|e| {
        e.set_user(row.id.clone());
        e.set_detail("username", row.username.clone());
    });

    // A ticket names the resource server and the permissions; an `audience` beside it must
    // be the same server.
    let ticket = match ctx.params.get("ticket") {
        Some(t) => Some(verify_ticket(&ctx.snap.keys, t, ctx.now).inspect_err(|_| {
            ctx.fail(crate::events::errors::INVALID_TOKEN);
        })?),
        None => None,
    };
    // `createEvaluationContext`: the claim token's format, and the pushed claims: the
    // ticket's (`request.setClaims(ticket.getClaims())`), replaced by a JWT-format claim
    // token's. They are the evaluation context's attributes and go into every permission.
    let pushed = match claim_format.unwrap_or(CLAIM_TOKEN_FORMAT_ID_TOKEN) {
        CLAIM_TOKEN_FORMAT_JWT => match claim_token {
            Some(t) => pushed_claims(t)?,
            None => return Err(OAuthError::invalid_request("Claim token can not be null")),
        },
        CLAIM_TOKEN_FORMAT_ID_TOKEN => ticket
            .as_ref()
            .map(|t| t.claims.clone())
            .unwrap_or_default(),
        other => {
            return Err(OAuthError::invalid_request(format!(
                "Claim token format [{other}] not supported"
            )))
        }
    };
    // The resource server (`getResourceServer`).
    let audience = match (&ticket, ctx.params.get("audience")) {
        (Some(t), Some(a)) if a != t.audience => {
            return Err(err(
                StatusCode::FORBIDDEN,
                "invalid_ticket",
                "Invalid permission ticket.",
            ))
        }
        (Some(t), _) => t.audience.as_str(),
        (None, Some(a)) => a,
        (None, None) => {
            return Err(OAuthError::invalid_request(
                "You must provide the issuedFor",
            ))
        }
    };
    let target = ctx
        .snap
        .index
        .client(&ctx.snap.rep, audience)
        .ok_or_else(|| OAuthError::invalid_request("Unknown resource server id."))?;
    let target_uuid = target.id.as_deref().unwrap_or_default();
    let rs = resource_server(ctx, target_uuid, audience).await?;

    // The RPT keeps the bearer token's session.
    let sid = token_claims
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut identity = identity(ctx.snap, client, &user, &user_id, token_claims, ctx.now);
    // `DefaultEvaluationContext.getAttributes`: pushed claims beside (and over) the base ones.
    identity.context.extend(pushed.iter().cloned());
    // `KeycloakIdentity`: a resource server's own service account is the resource server.
    let client_uuid = client.id.as_deref().unwrap_or_default();
    if row.username == service_account_username(client.client_id.as_deref().unwrap_or_default())
        && (client_uuid == target_uuid
            || store
                .resource_server(&ctx.snap.id, client_uuid)
                .await?
                .is_some())
    {
        identity.id = client_uuid.to_string();
    }
    // Granted permission tickets are permissions of their requester.
    let tickets = if rs.has_user_managed_resources() {
        store.permission_tickets(&ctx.snap.id, &rs.id).await?
    } else {
        Vec::new()
    };
    identity.granted_tickets = tickets
        .iter()
        .filter(|t| t.requester == identity.id && t.granted_timestamp.is_some())
        .map(|t| (t.resource_id.clone(), t.scope_id.clone()))
        .collect();
    let mut permissions: Vec<String> = ticket
        .as_ref()
        .map(|t| t.permissions.clone())
        .unwrap_or_default();
    permissions.extend(ctx.params.all("permission").into_iter().map(str::to_string));
    let format = match ctx.params.get("permission_resource_format") {
        Some("uri") => ResourceFormat::Uri {
            matching: ctx.params.get("permission_resource_matching_uri") == Some("true"),
        },
        _ => ResourceFormat::Id,
    };
    let mut asked = authz::resolve_permissions(
        &rs,
        &identity.id,
        &permissions,
        ctx.params.get("scope"),
        format,
    )
    .map_err(|e| err(StatusCode::BAD_REQUEST, e.error(), e.to_string()))?;
    let requested = asked.clone();
    if let Some(p) = &previous {
        merge_rpt(&rs, &mut asked, p);
    }
    let limit = match ctx.params.get("response_permissions_limit") {
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            OAuthError::invalid_request("Invalid value for response_permissions_limit")
        })?),
        None => None,
    };
    let include_names = ctx.params.get("response_include_resource_name") != Some("false");
    let everything = [Asked::Everything];
    let req = authz::Request {
        // Everything only without permissions nor RPT (`evaluateAllPermissions`).
        asked: if permissions.is_empty() && previous.is_none() {
            &everything
        } else {
            &asked
        },
        limit,
        include_resource_name: include_names,
    };
    // An empty list asks for everything in the evaluator; here, with an RPT, it is nothing.
    let mut granted = if req.asked.is_empty() {
        Vec::new()
    } else {
        authz::evaluate_request(&rs, &identity, &req)
    };
    attach_claims(&mut granted, &pushed, &requested, previous.as_ref());
    // `submit_request` (default true) counts only with a ticket (`isSubmitRequest`): the
    // requester asks the owners of owner-managed resources for what the ticket names.
    let submit = ticket.is_some() && ctx.params.get("submit_request") != Some("false");
    if let (true, Some(t)) = (submit, &ticket) {
        submit_requests(ctx, &rs, &identity.id, &t.permissions, &tickets).await?;
    }
    let denied =
        granted.is_empty() || (previous.is_some() && !all_asked_granted(&requested, &granted));
    if denied {
        ctx.fail(crate::events::errors::ACCESS_DENIED);
        return Err(err(
            StatusCode::FORBIDDEN,
            "access_denied",
            if submit {
                "request_submitted"
            } else {
                "not_authorized"
            },
        ));
    }
    match response_mode {
        Some("decision") => Ok(json_response(Map::from_iter([(
            "result".to_string(),
            json!(true),
        )]))),
        Some(_) => {
            let list = serde_json::to_value(&granted).map_err(|_| OAuthError::server_error())?;
            let mut r = axum::response::IntoResponse::into_response(axum::Json(list));
            r.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(r)
        }
        None => {
            let authorization = json!({ "permissions": granted });
            let upgraded = upgraded(previous.as_ref(), &granted);
            rpt(
                ctx,
                client,
                &row.id,
                &user,
                sid,
                authorization,
                audience,
                upgraded,
            )
            .await
        }
    }
}

/// `PermissionTicketAwareDecisionResultCollector.onComplete`: a ticket (not granted) per
/// asked scope of each owner-managed resource of another user, unless the requester has one.
async fn submit_requests(
    ctx: &GrantContext<'_>,
    rs: &ResourceServer,
    requester: &str,
    permissions: &[String],
    existing: &[crate::store::PermissionTicketRow],
) -> Result<(), OAuthError> {
    let asked: Vec<(String, Vec<String>)> = permissions
        .iter()
        .map(|p| match p.split_once('#') {
            Some((r, s)) => (
                r.to_string(),
                s.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            None => (p.clone(), Vec::new()),
        })
        .collect();
    let store = ctx.state.store.as_ref();
    for (resource, owner, scope) in rs.ticket_requests(requester, &asked) {
        let have = existing
            .iter()
            .any(|t| t.resource_id == resource && t.requester == requester && t.scope_id == scope);
        if have {
            continue;
        }
        let row = crate::store::PermissionTicketRow {
            id: uuid::Uuid::new_v4().to_string(),
            server_id: rs.id.clone(),
            owner,
            requester: requester.to_string(),
            resource_id: resource,
            scope_id: scope,
            policy_id: None,
            created_timestamp: ctx.now.saturating_mul(1000),
            granted_timestamp: None,
        };
        match store.put_permission_ticket(&ctx.snap.id, &row).await {
            // Another request created it meanwhile.
            Ok(()) | Err(crate::store::StoreError::Unique(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The compiled resource server of a client, from the cache when its stored version has not
/// changed. The version comes from the store's read cache of resource-server rows, which every
/// write to a resource server drops on every node (PostgreSQL: by notification), so another
/// node's change is seen.
async fn resource_server(
    ctx: &GrantContext<'_>,
    client_uuid: &str,
    client_id: &str,
) -> Result<Arc<ResourceServer>, OAuthError> {
    compiled_server(ctx.state, ctx.snap, client_uuid, client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_request("Client does not support permissions"))
}

/// The compiled resource server of a client (cached per stored version), or `None` when the
/// client has none. A server that does not compile answers a server error.
pub(crate) async fn compiled_server(
    state: &AppState,
    snap: &RealmSnapshot,
    client_uuid: &str,
    client_id: &str,
) -> Result<Option<Arc<ResourceServer>>, OAuthError> {
    let store = state.store.as_ref();
    let Some(row) = store.resource_server(&snap.id, client_uuid).await? else {
        return Ok(None);
    };
    let key = (snap.id.clone(), client_uuid.to_string(), row.version);
    if let Some(rs) = compiled().get(&key) {
        return Ok(Some(rs));
    }
    let Some((rep, version)) =
        crate::realm::authz::stored_representation(store, &snap.id, client_uuid, client_id).await?
    else {
        return Ok(None);
    };
    let rs = Arc::new(ResourceServer::compile(&rep).map_err(|e| {
        tracing::error!(realm = %snap.name, client_id, error = %e, "resource server does not compile");
        OAuthError::server_error()
    })?);
    compiled().insert(
        (snap.id.clone(), client_uuid.to_string(), version),
        rs.clone(),
    );
    Ok(Some(rs))
}

/// The group at a path and its ancestors (`/a/b` → `/a`), with ids.
pub(crate) fn group_chain(rep: &RealmRepresentation, path: &str) -> Vec<GroupRef> {
    let mut out = Vec::new();
    let mut list = rep.groups.as_deref().unwrap_or_default();
    let mut at = String::new();
    for seg in path.trim_start_matches('/').split('/') {
        let Some(g) = list.iter().find(|g| g.name.as_deref() == Some(seg)) else {
            break;
        };
        at = format!("{at}/{seg}");
        out.push(GroupRef {
            id: g.id.clone().unwrap_or_default(),
            name: seg.to_string(),
            path: at.clone(),
        });
        list = g.sub_groups.as_deref().unwrap_or_default();
    }
    out
}

/// Keycloak's `KeycloakIdentity` for the requester: roles the token would carry and the
/// user's effective roles (read live), groups, the client, the client scopes, the claims.
pub(crate) fn identity(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    user: &UserRepresentation,
    user_id: &str,
    token_claims: Option<Map<String, Value>>,
    now: i64,
) -> Identity {
    let rep = &snap.rep;
    let scope_names: Vec<String> = token_claims
        .as_ref()
        .and_then(|c| c.get("scope"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let scopes: Vec<_> = scope_names
        .iter()
        .filter_map(|n| snap.index.scope(rep, n))
        .collect();
    let ids = |roles: &std::collections::BTreeSet<Role>| -> authz::RoleIds {
        std::sync::Arc::new(
            roles
                .iter()
                .filter_map(|r| snap.index.role_id(r).map(str::to_string))
                .collect(),
        )
    };
    let effective = tokens::effective_roles(snap, user);
    let user_roles = ids(&effective);
    // A client with the full scope puts every effective role into its tokens.
    let token_roles = if client.full_scope_allowed.unwrap_or(true) {
        user_roles.clone()
    } else {
        ids(&tokens::roles_in_scope(snap, client, user, &scopes))
    };
    let mut groups = Vec::new();
    let mut ancestors = Vec::new();
    for path in user.groups.iter().flatten() {
        let mut chain = group_chain(rep, path);
        if let Some(g) = chain.pop() {
            groups.push(g);
        }
        for a in chain {
            if !ancestors.contains(&a) {
                ancestors.push(a);
            }
        }
    }
    let client_id = client.client_id.clone().unwrap_or_default();
    let mut context = std::collections::BTreeMap::new();
    context.insert("kc.client.id".to_string(), vec![client_id]);
    context.insert("kc.realm.name".to_string(), vec![snap.name.clone()]);
    Identity {
        id: user_id.to_string(),
        token_role_ids: token_roles,
        user_role_ids: Some(user_roles),
        groups,
        ancestor_groups: ancestors,
        client: client.id.clone(),
        client_scope_ids: scopes.iter().filter_map(|s| s.id.clone()).collect(),
        claims: token_claims.unwrap_or_default(),
        context,
        time: now,
        granted_tickets: Vec::new(),
    }
}

/// The RPT: an access token for the requester's client carrying `authorization` and the
/// resource server in `aud` (`createAuthorizationResponse`).
#[allow(clippy::too_many_arguments)]
async fn rpt(
    ctx: &GrantContext<'_>,
    client: &ClientRepresentation,
    user_id: &str,
    user: &UserRepresentation,
    sid: Option<String>,
    authorization: Value,
    audience: &str,
    upgraded: bool,
) -> Result<Response, OAuthError> {
    let (scopes, openid) = tokens::resolve_scopes(ctx.snap, client, None)?;
    let notes = Map::new();
    let memberships =
        tokens::memberships(ctx.state.store.as_ref(), ctx.snap, user_id, &scopes, None).await?;
    let req = TokenRequest {
        snap: ctx.snap,
        issuer: &ctx.issuer,
        client,
        user_id,
        user,
        sid: sid.as_deref(),
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid,
        nonce: None,
        now: ctx.now,
        acr: "1",
    };
    let issued = tokens::issue_rpt(&req, authorization, audience)?;
    ctx.issued(&issued, None);
    // Keycloak's `AuthorizationResponse`: the token fields and `upgraded`, no `scope`,
    // `session_state` nor ID token.
    let mut out = body(&issued, None, None, ctx.snap.not_before);
    out.remove("scope");
    out.remove("id_token");
    out.insert("upgraded".into(), json!(upgraded));
    Ok(json_response(out))
}
