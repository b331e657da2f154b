//! Identity brokering through an OpenID Connect provider (Keycloak's `oidc` and
//! `keycloak-oidc` providers, `AbstractOAuth2IdentityProvider` / `OIDCIdentityProvider`): the
//! provider's configuration as stored in the realm's `identityProviders`, the authorization
//! request sent to it, the code exchange at its token endpoint, the checks of its ID token and
//! the brokered identity read from the token (or its userinfo endpoint).
//!
//! The login around it (the pending login, the account found or created, the answer to the
//! client) is [`crate::authn`]'s; the endpoints are `oidc::broker`'s. Nothing here logs a
//! token or a secret.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::Secret;
use crate::http::paths;
use crate::realm::snapshot::RealmSnapshot;

/// The provider ids whose login this module serves.
pub const OIDC_PROVIDERS: &[&str] = &["oidc", "keycloak-oidc"];

/// Largest answer read from a provider's token or userinfo endpoint.
const MAX_RESPONSE: usize = 256 * 1024;

/// Clock skew allowed on the ID token's `exp` and `nbf` (Keycloak's `allowedClockSkew`,
/// 0 by default; the setting is not read yet).
const CLOCK_SKEW: i64 = 0;

/// How the server authenticates at the provider's token endpoint (`clientAuthMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_post` (the default).
    Post,
    /// `client_secret_basic`.
    Basic,
}

/// An OpenID Connect identity provider of a realm, as its representation configures it.
#[derive(Debug, Clone)]
pub struct Provider {
    /// `alias`.
    pub alias: String,
    /// `displayName`, else the alias.
    pub display_name: String,
    /// `config.clientId`.
    pub client_id: String,
    /// `config.clientSecret`.
    pub client_secret: Secret,
    /// `config.authorizationUrl`.
    pub authorization_url: String,
    /// `config.tokenUrl`.
    pub token_url: String,
    /// `config.userInfoUrl`.
    pub user_info_url: Option<String>,
    /// `config.jwksUrl` (with `useJwksUrl`).
    pub jwks_url: Option<String>,
    /// `config.issuer`: the ID token's `iss` must equal it when set.
    pub issuer: Option<String>,
    /// `config.validateSignature`.
    pub validate_signature: bool,
    /// `config.clientAuthMethod`.
    pub client_auth: ClientAuth,
    /// `config.defaultScope`, `openid` when empty.
    pub scope: String,
    /// `config.pkceEnabled` with `config.pkceMethod` (`S256` or `plain`).
    pub pkce: Option<String>,
    /// `trustEmail`: a created user's e-mail counts as verified.
    pub trust_email: bool,
    /// `hideOnLogin` (26) or `config.hideOnLoginPage` (older).
    pub hide_on_login: bool,
    /// `firstBrokerLoginFlowAlias`: the flow of the first login of an identity no user is
    /// linked to (else the realm's `firstBrokerLoginFlow`).
    pub first_broker_login_flow: Option<String>,
}

/// Why a provider cannot be used to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// No provider with that alias, or one that is disabled or link-only.
    NotFound,
    /// A provider of another kind (SAML, social providers), or one missing a URL or the
    /// client id.
    Unsupported(String),
}

fn setting<'a>(idp: &'a Value, key: &str) -> Option<&'a str> {
    idp.get("config")?
        .get(key)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A flag, as Keycloak stores them in `config` (`"true"`) or at the top level (`true`).
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn config_flag(idp: &Value, key: &str) -> bool {
    flag(idp.get("config").and_then(|c| c.get(key)))
}

/// An absolute `http(s)` URL, or nothing.
fn http_url(s: &str) -> Option<String> {
    let u = url::Url::parse(s).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| s.to_string())
}

impl Provider {
    /// Reads a provider's representation; `Err` when it cannot log users in here.
    pub fn from_rep(idp: &Value) -> Result<Provider, Unusable> {
        let alias = idp
            .get("alias")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .ok_or(Unusable::NotFound)?;
        if idp.get("enabled").and_then(Value::as_bool) == Some(false) || flag(idp.get("linkOnly")) {
            return Err(Unusable::NotFound);
        }
        let provider_id = idp
            .get("providerId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !OIDC_PROVIDERS.contains(&provider_id) {
            return Err(Unusable::Unsupported(format!(
                "The identity provider '{alias}' ({provider_id}) cannot be used to log in on this server."
            )));
        }
        let incomplete = |what: &str| {
            Unusable::Unsupported(format!(
                "The identity provider '{alias}' has no valid {what}."
            ))
        };
        let url = |key: &str| setting(idp, key).and_then(http_url);
        let client_id = setting(idp, "clientId").ok_or_else(|| incomplete("clientId"))?;
        let pkce = config_flag(idp, "pkceEnabled").then(|| {
            match setting(idp, "pkceMethod") {
                Some("plain") => "plain",
                _ => "S256",
            }
            .to_string()
        });
        Ok(Provider {
            alias: alias.to_string(),
            display_name: idp
                .get("displayName")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .unwrap_or(alias)
                .to_string(),
            client_id: client_id.to_string(),
            client_secret: Secret::new(
                idp.get("config")
                    .and_then(|c| c.get("clientSecret"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ),
            authorization_url: url("authorizationUrl")
                .ok_or_else(|| incomplete("authorizationUrl"))?,
            token_url: url("tokenUrl").ok_or_else(|| incomplete("tokenUrl"))?,
            user_info_url: url("userInfoUrl"),
            jwks_url: url("jwksUrl").filter(|_| {
                // Keycloak 26 defaults `useJwksUrl` to true for new providers.
                idp.get("config")
                    .and_then(|c| c.get("useJwksUrl"))
                    .is_none_or(|v| flag(Some(v)))
            }),
            issuer: setting(idp, "issuer").map(str::to_string),
            validate_signature: config_flag(idp, "validateSignature"),
            client_auth: match setting(idp, "clientAuthMethod") {
                Some("client_secret_basic") => ClientAuth::Basic,
                _ => ClientAuth::Post,
            },
            scope: setting(idp, "defaultScope").unwrap_or("openid").to_string(),
            pkce,
            trust_email: flag(idp.get("trustEmail")),
            hide_on_login: flag(idp.get("hideOnLogin")) || config_flag(idp, "hideOnLoginPage"),
            first_broker_login_flow: idp
                .get("firstBrokerLoginFlowAlias")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string),
        })
    }
}

/// The realm's provider `alias`, if it can log users in.
pub fn provider(snap: &RealmSnapshot, alias: &str) -> Result<Provider, Unusable> {
    crate::realm::identity_providers(&snap.rep)
        .iter()
        .find(|p| p.get("alias").and_then(Value::as_str) == Some(alias))
        .ok_or(Unusable::NotFound)
        .and_then(Provider::from_rep)
}

/// The providers the login page offers: enabled OpenID Connect providers not hidden on
/// login, as (alias, display name).
pub fn login_options(snap: &RealmSnapshot) -> Vec<(String, String)> {
    crate::realm::identity_providers(&snap.rep)
        .iter()
        .filter_map(|p| Provider::from_rep(p).ok())
        .filter(|p| !p.hide_on_login)
        .map(|p| (p.alias, p.display_name))
        .collect()
}

/// The link of the login page's button for a provider (Keycloak's
/// `/broker/{alias}/login?...&session_code=...`).
pub fn login_link(snap: &RealmSnapshot, alias: &str, session_code: &str) -> String {
    format!(
        "{}?session_code={}",
        path(snap, paths::BROKER_LOGIN, alias),
        paths::encode_segment(session_code)
    )
}

fn path(snap: &RealmSnapshot, template: &str, alias: &str) -> String {
    paths::url("", template, &snap.name).replace("{alias}", &paths::encode_segment(alias))
}

/// The broker endpoint the provider redirects back to: `{base}/realms/{realm}/broker/{alias}/endpoint`.
pub fn redirect_uri(base: &str, snap: &RealmSnapshot, alias: &str) -> String {
    format!("{base}{}", path(snap, paths::BROKER_ENDPOINT, alias))
}

/// What a login sent to a provider waits for, kept in the pending login until the provider
/// answers: used once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Handshake {
    /// The provider's alias.
    pub alias: String,
    /// The `state` sent (random, unguessable).
    pub state: String,
    /// The `nonce` sent, which the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier, when the provider uses PKCE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
}

impl Handshake {
    /// Whether `state` is the one sent (constant time).
    pub fn state_matches(&self, alias: &str, state: &str) -> bool {
        self.alias == alias
            && !self.state.is_empty()
            && Secret::new(self.state.clone()).ct_eq(state)
    }
}

/// The authorization request to the provider (`AbstractOAuth2IdentityProvider
/// .createAuthorizationUrl`) and what its answer must match.
pub fn authorization_request(
    provider: &Provider,
    redirect_uri: &str,
    login_hint: Option<&str>,
) -> (Handshake, String) {
    let handshake = Handshake {
        alias: provider.alias.clone(),
        state: crate::crypto::random_alphanumeric(43),
        nonce: crate::crypto::random_alphanumeric(43),
        code_verifier: provider
            .pkce
            .as_ref()
            .map(|_| crate::crypto::random_alphanumeric(64)),
    };
    let mut url = match url::Url::parse(&provider.authorization_url) {
        Ok(u) => u,
        // `from_rep` only keeps URLs that parse.
        Err(_) => return (handshake, provider.authorization_url.clone()),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("scope", &provider.scope)
            .append_pair("state", &handshake.state)
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("nonce", &handshake.nonce);
        if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
            q.append_pair("login_hint", hint);
        }
        if let (Some(method), Some(verifier)) = (&provider.pkce, &handshake.code_verifier) {
            let challenge = if method == "plain" {
                verifier.clone()
            } else {
                crate::crypto::b64url(
                    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes())
                        .as_ref(),
                )
            };
            q.append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", method);
        }
    }
    (handshake, url.to_string())
}

/// Why the provider's answer was not accepted. The message is for the server's log (never a
/// token or secret); the user sees Keycloak's generic message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrokerError(pub String);

fn err(m: impl Into<String>) -> BrokerError {
    BrokerError(m.into())
}

/// Checks an ID token's claims as `OIDCIdentityProvider.validateToken` does: active (`exp`,
/// `nbf`), `iss` the configured issuer, `aud` holding the client id (and `azp`, when the token
/// has several audiences, the client id), `nonce` the one sent.
pub fn check_id_token_claims(
    claims: &Map<String, Value>,
    provider: &Provider,
    nonce: &str,
    now: i64,
) -> Result<(), BrokerError> {
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| err("ID token without exp"))?;
    if now > exp + CLOCK_SKEW {
        return Err(err("Token is no longer valid"));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| now + CLOCK_SKEW < nbf)
    {
        return Err(err("Token is not yet valid"));
    }
    if let Some(issuer) = &provider.issuer {
        if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(err("Wrong issuer from token"));
        }
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&provider.client_id.as_str()) {
        return Err(err("Wrong audience from token"));
    }
    if audiences.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(provider.client_id.as_str())
    {
        return Err(err(
            "Token has more than one audience and azp is not the client",
        ));
    }
    let sent = Secret::new(nonce.to_string());
    if nonce.is_empty()
        || !claims
            .get("nonce")
            .and_then(Value::as_str)
            .is_some_and(|n| sent.ct_eq(n))
    {
        return Err(err("Nonce does not match"));
    }
    Ok(())
}

/// The identity the provider vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: the user's id at the provider.
    pub id: String,
    /// `preferred_username`, else `sub` (lower-case, as user names are stored).
    pub username: String,
    /// `email`.
    pub email: Option<String>,
    /// `given_name`.
    pub first_name: Option<String>,
    /// `family_name`.
    pub last_name: Option<String>,
}

/// The brokered identity of the ID token's claims, completed by the userinfo claims for what
/// the token lacks (`OIDCIdentityProvider.extractIdentity`): `None` without a `sub`, or when
/// the userinfo answer is about another subject.
pub fn identity(
    id_token: Option<&Map<String, Value>>,
    userinfo: Option<&Map<String, Value>>,
) -> Result<Identity, BrokerError> {
    let sub_of = |m: Option<&Map<String, Value>>| {
        m.and_then(|m| m.get("sub"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let sub = sub_of(id_token)
        .or_else(|| sub_of(userinfo))
        .ok_or_else(|| err("no sub in the provider's answer"))?;
    if userinfo.is_some() && sub_of(userinfo).as_deref() != Some(sub.as_str()) {
        return Err(err("userinfo is about another subject"));
    }
    let claim = |k: &str| {
        id_token
            .and_then(|m| m.get(k))
            .or_else(|| userinfo.and_then(|m| m.get(k)))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(Identity {
        username: claim("preferred_username")
            .unwrap_or_else(|| sub.clone())
            .to_lowercase(),
        email: claim("email").map(|e| e.to_lowercase()),
        first_name: claim("given_name"),
        last_name: claim("family_name"),
        id: sub,
    })
}

/// Whether the ID token lacks a claim the identity reads (then userinfo is asked).
fn lacks_claims(claims: &Map<String, Value>) -> bool {
    ["preferred_username", "email", "given_name", "family_name"]
        .iter()
        .any(|k| !claims.contains_key(*k))
}

async fn read_json(resp: reqwest::Response) -> Result<Map<String, Value>, BrokerError> {
    let status = resp.status();
    let body = crate::http::outbound::body_limited(resp, MAX_RESPONSE)
        .await
        .map_err(err)?;
    if !status.is_success() {
        return Err(err(format!("HTTP status {}", status.as_u16())));
    }
    serde_json::from_slice(&body).map_err(|_| err("answer is not a JSON object"))
}

/// Exchanges the code at the provider's token endpoint, checks the ID token (its signature
/// with the provider's JWK Set when `validateSignature`), asks userinfo for what the token
/// lacks, and returns the brokered identity.
pub async fn authenticate(
    outbound: &reqwest::Client,
    snap: &RealmSnapshot,
    provider: &Provider,
    handshake: &Handshake,
    code: &str,
    redirect_uri: &str,
) -> Result<Identity, BrokerError> {
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = &handshake.code_verifier {
        form.push(("code_verifier", v));
    }
    let mut req = outbound
        .post(&provider.token_url)
        .header(reqwest::header::ACCEPT, "application/json");
    match provider.client_auth {
        ClientAuth::Post => {
            form.push(("client_id", &provider.client_id));
            form.push(("client_secret", provider.client_secret.expose()));
        }
        ClientAuth::Basic => {
            // RFC 6749 §2.3.1: both form-encoded before the basic scheme.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.basic_auth(
                enc(&provider.client_id),
                Some(enc(provider.client_secret.expose())),
            );
        }
    }
    let resp = req
        .form(&form)
        .send()
        .await
        .map_err(|e| err(format!("token request failed: {}", e.without_url())))?;
    let tokens = read_json(resp)
        .await
        .map_err(|e| err(format!("token endpoint: {e}")))?;
    let access_token = tokens.get("access_token").and_then(Value::as_str);
    let id_claims = match tokens.get("id_token").and_then(Value::as_str) {
        Some(t) => Some(verify_id_token(snap, provider, t, &handshake.nonce).await?),
        None => None,
    };
    let userinfo = match (&provider.user_info_url, access_token) {
        (Some(url), Some(at)) if id_claims.as_ref().is_none_or(lacks_claims) => Some(
            read_json(
                outbound
                    .get(url)
                    .bearer_auth(at)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .send()
                    .await
                    .map_err(|e| err(format!("userinfo request failed: {}", e.without_url())))?,
            )
            .await
            .map_err(|e| err(format!("userinfo endpoint: {e}")))?,
        ),
        _ => None,
    };
    if id_claims.is_none() && userinfo.is_none() {
        return Err(err("no ID token and no userinfo"));
    }
    identity(id_claims.as_ref(), userinfo.as_ref())
}

/// Parses an ID token, verifies its signature where the provider asks for it, and checks its
/// claims.
async fn verify_id_token(
    snap: &RealmSnapshot,
    provider: &Provider,
    token: &str,
    nonce: &str,
) -> Result<Map<String, Value>, BrokerError> {
    let parsed = crate::crypto::jws::parse(token).map_err(|_| err("malformed ID token"))?;
    if provider.validate_signature {
        let url = provider
            .jwks_url
            .as_deref()
            .ok_or_else(|| err("validateSignature without a JWKS URL"))?;
        let alg = parsed
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kid = parsed.header.get("kid").and_then(Value::as_str);
        let key = snap
            .client_keys
            .find(url, kid, &alg)
            .await
            .map_err(|e| err(format!("no key for the ID token: {e:?}")))?;
        key.verify(&parsed)
            .map_err(|_| err("invalid ID token signature"))?;
    }
    check_id_token_claims(&parsed.claims, provider, nonce, crate::clock::now())?;
    Ok(parsed.claims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rep() -> Value {
        json!({
            "alias": "up", "providerId": "oidc", "enabled": true,
            "config": {
                "clientId": "broker", "clientSecret": "s3cr3t",
                "authorizationUrl": "https://idp.example/auth?x=1",
                "tokenUrl": "https://idp.example/token",
                "issuer": "https://idp.example", "pkceEnabled": "true", "pkceMethod": "S256",
                "defaultScope": "openid email"
            }
        })
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reads_the_configuration() {
        let p = Provider::from_rep(&rep()).unwrap();
        assert_eq!(p.client_auth, ClientAuth::Post);
        assert_eq!(p.pkce.as_deref(), Some("S256"));
        assert!(!p.hide_on_login && !p.trust_email && !p.validate_signature);
        assert_eq!(format!("{:?}", p.client_secret), "[redacted]");
        let mut off = rep();
        off["enabled"] = json!(false);
        assert_eq!(Provider::from_rep(&off).unwrap_err(), Unusable::NotFound);
        let mut saml = rep();
        saml["providerId"] = json!("saml");
        assert!(matches!(
            Provider::from_rep(&saml),
            Err(Unusable::Unsupported(_))
        ));
        let mut bad = rep();
        bad["config"]["tokenUrl"] = json!("javascript:alert(1)");
        assert!(matches!(
            Provider::from_rep(&bad),
            Err(Unusable::Unsupported(_))
        ));
        let mut hidden = rep();
        hidden["config"]["hideOnLoginPage"] = json!("true");
        hidden["config"]["clientAuthMethod"] = json!("client_secret_basic");
        let h = Provider::from_rep(&hidden).unwrap();
        assert!(h.hide_on_login);
        assert_eq!(h.client_auth, ClientAuth::Basic);
    }

    #[test]
    fn builds_the_authorization_request() {
        let p = Provider::from_rep(&rep()).unwrap();
        let (hs, url) =
            authorization_request(&p, "https://me/realms/r/broker/up/endpoint", Some("bob"));
        let u = url::Url::parse(&url).unwrap();
        assert_eq!(u.path(), "/auth");
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["x"], "1", "the URL's own query is kept");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "broker");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["redirect_uri"], "https://me/realms/r/broker/up/endpoint");
        assert_eq!(q["login_hint"], "bob");
        assert_eq!(q["state"], hs.state);
        assert_eq!(q["nonce"], hs.nonce);
        assert!(hs.state.len() >= 40);
        assert_eq!(q["code_challenge_method"], "S256");
        let verifier = hs.code_verifier.clone().unwrap();
        let expected = crate::crypto::b64url(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
        );
        assert_eq!(q["code_challenge"], expected);
        assert!(!url.contains("s3cr3t"));
        let (other, _) = authorization_request(&p, "x", None);
        assert_ne!(other.state, hs.state, "fresh state each time");
        assert!(hs.state_matches("up", &hs.state.clone()));
        assert!(!hs.state_matches("other", &hs.state.clone()));
        assert!(!hs.state_matches("up", "forged"));
        assert!(!Handshake::default().state_matches("", ""));
        let mut no_pkce = rep();
        no_pkce["config"]["pkceEnabled"] = json!("false");
        no_pkce["config"]["defaultScope"] = json!("");
        let p = Provider::from_rep(&no_pkce).unwrap();
        let (hs, url) = authorization_request(&p, "x", None);
        assert!(hs.code_verifier.is_none());
        assert!(!url.contains("code_challenge") && !url.contains("login_hint"));
        assert!(url.contains("scope=openid&"));
    }

    #[test]
    fn checks_id_token_claims() {
        let p = Provider::from_rep(&rep()).unwrap();
        let good = json!({"iss": "https://idp.example", "aud": "broker", "exp": 1000, "nonce": "n", "sub": "s"});
        assert_eq!(
            check_id_token_claims(&claims(good.clone()), &p, "n", 999),
            Ok(())
        );
        let fails = |patch: Value, now: i64, nonce: &str| {
            let mut c = good.clone();
            for (k, v) in patch.as_object().unwrap() {
                c[k] = v.clone();
            }
            check_id_token_claims(&claims(c), &p, nonce, now)
                .unwrap_err()
                .0
        };
        assert_eq!(fails(json!({}), 1001, "n"), "Token is no longer valid");
        assert_eq!(
            fails(json!({"nbf": 1000}), 999, "n"),
            "Token is not yet valid"
        );
        assert_eq!(
            fails(json!({"iss": "https://evil"}), 999, "n"),
            "Wrong issuer from token"
        );
        assert_eq!(
            fails(json!({"aud": "other"}), 999, "n"),
            "Wrong audience from token"
        );
        assert_eq!(
            fails(json!({"aud": ["other", "broker"]}), 999, "n"),
            "Token has more than one audience and azp is not the client"
        );
        assert_eq!(
            fails(json!({"nonce": "m"}), 999, "n"),
            "Nonce does not match"
        );
        assert_eq!(fails(json!({}), 999, ""), "Nonce does not match");
        let mut c = good.clone();
        c["aud"] = json!(["other", "broker"]);
        c["azp"] = json!("broker");
        assert_eq!(check_id_token_claims(&claims(c), &p, "n", 999), Ok(()));
        let mut no_exp = good.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(check_id_token_claims(&claims(no_exp), &p, "n", 0).is_err());
    }

    #[test]
    fn maps_the_brokered_identity() {
        let token = claims(json!({"sub": "42", "preferred_username": "Alice", "email": "A@X.org"}));
        let info = claims(
            json!({"sub": "42", "given_name": "Alice", "family_name": "Liddell", "email": "other@x.org"}),
        );
        let id = identity(Some(&token), Some(&info)).unwrap();
        assert_eq!(
            id,
            Identity {
                id: "42".into(),
                username: "alice".into(),
                email: Some("a@x.org".into()),
                first_name: Some("Alice".into()),
                last_name: Some("Liddell".into()),
            }
        );
        let bare = claims(json!({"sub": "42"}));
        assert_eq!(identity(Some(&bare), None).unwrap().username, "42");
        let someone_else = claims(json!({"sub": "43"}));
        assert!(identity(Some(&token), Some(&someone_else)).is_err());
        assert!(identity(None, Some(&claims(json!({"email": "x@y"})))).is_err());
        assert_eq!(identity(None, Some(&info)).unwrap().id, "42");
        assert!(
            lacks_claims(&bare)
                && !lacks_claims(&claims(
                    json!({"preferred_username": 1, "email": 1, "given_name": 1, "family_name": 1})
                ))
        );
    }
}
