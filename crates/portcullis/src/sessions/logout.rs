//! POST {client's backchannel.logout.url}  (form `logout_token=<JWT>`)
//! OpenID Connect Back-Channel Logout 1.0 as Keycloak 26 sends it. When a session ends by
//! RP-initiated logout, by `POST /logout` with a refresh token, or through the Admin API, every
//! client that took part in it (including the one that asked) and has a back-channel logout URL
//! gets a logout token. Mirrors `DefaultTokenManager.initLogoutToken`,
//! `ResourceAdminManager.sendBackChannelLogoutRequestToClientUri` and
//! `AuthenticationManager.backchannelLogoutClientSession`:
//! - claims `iat`, `exp` (two minutes), `jti`, `iss`, `aud` (the client id), `sub` (the user
//!   id), `typ: "Logout"`, `sid` only when the client's `backchannel.logout.session.required`
//!   is `"true"`, `events` with the back-channel event and, when
//!   `backchannel.logout.revoke.offline.tokens` is `"true"`, `revoke_offline_access: true`;
//!   no `nonce`;
//! - header `typ: logout+jwt`, signed like the client's ID tokens
//!   (`id.token.signed.response.alg`, else the realm's default, else RS256), never encrypted;
//! - skipped: disabled clients, non-OIDC clients, and clients with `frontchannelLogout` on
//!   (Keycloak logs those out through the front channel, not here);
//! - a relative URL (`/...`) is resolved against the client's root URL (`${authBaseUrl}`
//!   meaning this server), else against this server's origin;
//! - an answer other than 200/204, or no answer, is logged and does not fail the logout.
//!
//! The clients are called in parallel, and the logout answers once all have answered or timed
//! out (Keycloak waits too, one client after the other). Tokens never reach a log line.

use serde_json::{json, Map, Value};

use crate::crypto::{jws, keys};
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;
use crate::store::{EndedSession, Store, StoreError};

use crate::model::ClientSettings;

/// The member of `events` that makes a JWT a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Keycloak's extra member of `events` asking the RP to drop offline tokens too.
pub const REVOKE_OFFLINE: &str = "revoke_offline_access";
/// Header `typ` (Keycloak 25+, OIDC Back-Channel Logout §2.4).
pub const HEADER_TYP: &str = "logout+jwt";
/// Lifetime in seconds ("preferably at most two minutes", as Keycloak sets it).
pub const LIFETIME: i64 = 120;
/// Keycloak's placeholder for the host of the adapter's session; Portcullis records no such
/// host, so a URL with it cannot be resolved.
const SESSION_HOST: &str = "${application.session.host}";

/// The client's back-channel logout URL if it is to get a logout token, resolved against
/// `base` (this server's base URL) as Keycloak's `ResolveRelative` does.
pub fn target(
    client: &ClientRepresentation,
    settings: &ClientSettings,
    base: &str,
) -> Option<String> {
    if client.enabled == Some(false)
        || client.frontchannel_logout == Some(true)
        || client.protocol.as_deref().unwrap_or("openid-connect") != "openid-connect"
    {
        return None;
    }
    let url = settings.backchannel_logout_url.as_deref()?;
    if !url.starts_with('/') {
        return Some(url.to_string());
    }
    match client.root_url.as_deref().filter(|r| !r.is_empty()) {
        Some("${authBaseUrl}") | Some("${authAdminUrl}") => {
            Some(format!("{}{url}", base.trim_end_matches('/')))
        }
        Some(root) => Some(format!("{root}{url}")),
        None => {
            let origin = url::Url::parse(base).ok()?;
            Some(format!("{}{url}", origin.origin().ascii_serialization()))
        }
    }
}

/// The claims of a logout token for `client` about `user_id`'s session `sid`.
pub fn claims(
    issuer: &str,
    client: &ClientRepresentation,
    settings: &ClientSettings,
    user_id: &str,
    sid: &str,
    now: i64,
    jti: &str,
) -> Value {
    let mut events = Map::new();
    events.insert(EVENT.into(), json!({}));
    if settings.backchannel_logout_revoke_offline_tokens {
        events.insert(REVOKE_OFFLINE.into(), json!(true));
    }
    let mut c = Map::new();
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + LIFETIME));
    c.insert("jti".into(), json!(jti));
    c.insert("iss".into(), json!(issuer));
    c.insert("aud".into(), json!(client.client_id));
    c.insert("sub".into(), json!(user_id));
    c.insert("typ".into(), json!("Logout"));
    if settings.backchannel_logout_session_required {
        c.insert("sid".into(), json!(sid));
    }
    c.insert("events".into(), Value::Object(events));
    Value::Object(c)
}

/// Signs a logout token as the client's ID tokens are signed.
fn sign(snap: &RealmSnapshot, settings: &ClientSettings, claims: &Value) -> Option<String> {
    let alg = settings
        .id_token_alg
        .clone()
        .or_else(|| snap.rep.default_signature_algorithm.clone())
        .unwrap_or_else(|| "RS256".into());
    let Some(key) = keys::active_for(&snap.keys, &alg) else {
        tracing::error!(realm = %snap.name, alg, "back-channel logout: no active signing key for the algorithm");
        return None;
    };
    match jws::sign(key, HEADER_TYP, claims) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(realm = %snap.name, error = %e, "back-channel logout: signing failed");
            None
        }
    }
}

/// The base URL an issuer of `snap` was built on.
fn base_of<'a>(snap: &RealmSnapshot, issuer: &'a str) -> &'a str {
    issuer
        .strip_suffix(&paths::url("", paths::REALM, &snap.name))
        .unwrap_or(issuer)
}

/// Ends a session as before and tells its clients; the session's user, or `None` when it had
/// ended already.
pub async fn end_session(
    store: &dyn Store,
    outbound: &reqwest::Client,
    snap: &RealmSnapshot,
    issuer: &str,
    sid: &str,
) -> Result<Option<String>, StoreError> {
    let Some(ended) = store.end_session(sid).await? else {
        return Ok(None);
    };
    notify(outbound, snap, issuer, std::slice::from_ref(&ended)).await;
    Ok(Some(ended.session.user_id))
}

/// Ends all of a user's sessions and tells their clients; returns how many ended.
pub async fn end_user_sessions(
    store: &dyn Store,
    outbound: &reqwest::Client,
    snap: &RealmSnapshot,
    issuer: &str,
    user_id: &str,
) -> Result<usize, StoreError> {
    let ended = store.end_user_sessions(&snap.id, user_id).await?;
    notify(outbound, snap, issuer, &ended).await;
    Ok(ended.len())
}

/// Sends a logout token to every client of the ended sessions that asks for one, in
/// parallel, and waits for the answers (each bounded by [`crate::http::outbound::TIMEOUT`]).
pub async fn notify(
    outbound: &reqwest::Client,
    snap: &RealmSnapshot,
    issuer: &str,
    ended: &[EndedSession],
) {
    let base = base_of(snap, issuer);
    let now = crate::clock::now();
    let mut calls = tokio::task::JoinSet::new();
    for e in ended.iter().filter(|e| e.session.realm_id == snap.id) {
        for client_id in &e.clients {
            let Some(client) = snap.index.client(&snap.rep, client_id) else {
                continue;
            };
            let settings = snap.client_settings(client);
            let Some(url) = target(client, &settings, base) else {
                continue;
            };
            if url.contains(SESSION_HOST) {
                tracing::warn!(client = %client_id, "back-channel logout: the URL names {SESSION_HOST}, which Portcullis cannot resolve; not sent");
                continue;
            }
            if !url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                tracing::warn!(client = %client_id, "back-channel logout: the URL is not an http(s) URL; not sent");
                continue;
            }
            let jti = uuid::Uuid::new_v4().to_string();
            let c = claims(
                issuer,
                client,
                &settings,
                &e.session.user_id,
                &e.session.id,
                now,
                &jti,
            );
            let Some(token) = sign(snap, &settings, &c) else {
                continue;
            };
            calls.spawn(deliver(outbound.clone(), client_id.clone(), url, token));
        }
    }
    while calls.join_next().await.is_some() {}
}

/// One POST; the outcome is logged (client and status, never the token).
async fn deliver(http: reqwest::Client, client_id: String, url: String, token: String) {
    let sent = http
        .post(url)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await;
    match sent {
        Ok(r) if matches!(r.status().as_u16(), 200 | 204) => {
            tracing::debug!(client = %client_id, "back-channel logout delivered");
        }
        Ok(r) => {
            tracing::warn!(client = %client_id, status = r.status().as_u16(), "back-channel logout: the client did not accept the logout token");
        }
        Err(e) => {
            tracing::warn!(client = %client_id, error = %e.without_url(), "back-channel logout: the request failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client(v: Value) -> ClientRepresentation {
        serde_json::from_value(v).unwrap()
    }

    fn target_of(c: &ClientRepresentation, base: &str) -> Option<String> {
        target(c, &ClientSettings::of(c), base)
    }

    #[test]
    fn claims_as_keycloak_builds_them() {
        let c = client(json!({"clientId": "app", "attributes": {
            "backchannel.logout.url": "https://app/bc",
            "backchannel.logout.session.required": "true"}}));
        let t = claims(
            "https://idp/realms/r",
            &c,
            &ClientSettings::of(&c),
            "u-1",
            "s-1",
            1000,
            "j-1",
        );
        assert_eq!(
            t,
            json!({"iat": 1000, "exp": 1120, "jti": "j-1", "iss": "https://idp/realms/r",
                   "aud": "app", "sub": "u-1", "typ": "Logout", "sid": "s-1",
                   "events": {EVENT: {}}})
        );
        assert!(t.get("nonce").is_none());
    }

    #[test]
    fn sid_only_when_required_and_offline_revocation_in_events() {
        // Absent means false (`Boolean.parseBoolean(null)`).
        let c = client(json!({"clientId": "app", "attributes": {
            "backchannel.logout.revoke.offline.tokens": "true"}}));
        let t = claims("i", &c, &ClientSettings::of(&c), "u", "s", 0, "j");
        assert!(t.get("sid").is_none());
        assert_eq!(t["events"], json!({EVENT: {}, REVOKE_OFFLINE: true}));
        let c = client(json!({"clientId": "app", "attributes": {
            "backchannel.logout.session.required": "false"}}));
        assert!(claims("i", &c, &ClientSettings::of(&c), "u", "s", 0, "j")
            .get("sid")
            .is_none());
    }

    #[test]
    fn who_gets_a_token_and_where() {
        let base = "https://idp.example.com";
        let with = |extra: Value| {
            let mut v = json!({"clientId": "app", "attributes": {"backchannel.logout.url": "/bc"}});
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                for (k, x) in e {
                    o.insert(k.clone(), x.clone());
                }
            }
            client(v)
        };
        assert_eq!(
            target_of(&with(json!({})), base).as_deref(),
            Some("https://idp.example.com/bc")
        );
        assert_eq!(
            target_of(&with(json!({"rootUrl": "https://app.example.com"})), base).as_deref(),
            Some("https://app.example.com/bc")
        );
        assert_eq!(
            target_of(&with(json!({"rootUrl": "${authBaseUrl}"})), base).as_deref(),
            Some("https://idp.example.com/bc")
        );
        assert_eq!(target_of(&with(json!({"enabled": false})), base), None);
        assert_eq!(
            target_of(&with(json!({"frontchannelLogout": true})), base),
            None
        );
        assert_eq!(target_of(&with(json!({"protocol": "saml"})), base), None);
        assert!(target_of(&with(json!({"frontchannelLogout": false})), base).is_some());
        let absolute = client(json!({"clientId": "app", "rootUrl": "https://x",
            "attributes": {"backchannel.logout.url": "http://rp:8080/logout"}}));
        assert_eq!(
            target_of(&absolute, base).as_deref(),
            Some("http://rp:8080/logout")
        );
        let none = client(json!({"clientId": "app", "attributes": {"backchannel.logout.url": ""}}));
        assert_eq!(target_of(&none, base), None);
    }
}
