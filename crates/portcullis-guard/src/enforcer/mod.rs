//! A policy enforcer (Keycloak's PEP): maps request paths and methods to resources and scopes of
//! a resource server, and lets a request through only when the server grants them.
//!
//! Mirrors Keycloak's Java enforcer (`authz/policy-enforcer`: `PolicyEnforcer`,
//! `PathConfigMatcher`) and reads its `policy-enforcer.json` ([`PolicyEnforcerConfig`]):
//!
//! 1. the request path is matched against `paths` (Keycloak's `PathMatcher` rules, see
//!    `matcher.rs`), a `{param}` path resolved to the instance resource with that URI when the
//!    server has one, unknown paths looked up on the server with `lazy-load-paths`;
//! 2. the method's scopes come from the path's `methods` (`scopes-enforcement-mode` `ALL`,
//!    `ANY` or `DISABLED`), else from the path's `scopes` (any), or the method itself with
//!    `http-method-as-scope`;
//! 3. a token that is an RPT (`authorization.permissions`) is checked first; otherwise the
//!    enforcer asks the token endpoint with the UMA grant (`response_mode=permissions`, the
//!    caller's token as bearer) and caches the answer per token (see [`EnforcerBuilder`]);
//! 4. with `user-managed-access`, the enforcer asks for no permissions itself: a token without
//!    them gets `401` with a permission ticket from the Protection API in
//!    `WWW-Authenticate: UMA realm="…",as_uri="…",ticket="…"` (UMA 2.0 Grant §3.2), which the
//!    client exchanges for an RPT; otherwise a denial is `403`.

mod config;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use http::header::{HeaderValue, CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tower::{Layer, Service};

pub use self::config::{
    EnforcementMode, MethodConfig, PathCacheConfig, PathConfig, PolicyEnforcerConfig,
    ScopeEnforcementMode,
};
use crate::error::ConfigError;
use crate::http::{authenticate, bearer_token, error_response};
use crate::{Actor, Error, TrustedIssuer, Validator};
use portcullis_path::PathMatcher;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

const UMA_GRANT: &str = "urn:ietf:params:oauth:grant-type:uma-ticket";

/// A permission granted by the server: an entry of an RPT's `authorization.permissions` or of
/// the UMA grant's `response_mode=permissions` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Permission {
    /// `rsid`: the resource's id (`None` for a scope-only permission).
    #[serde(default)]
    pub rsid: Option<String>,
    /// `rsname`: the resource's name.
    #[serde(default)]
    pub rsname: Option<String>,
    /// `scopes`: the granted scopes (empty: the whole resource).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `claims`: claims the permission is bound to. The guard resolves no claims, so a
    /// permission carrying them never authorizes a request (as Keycloak's `hasValidClaims`
    /// with no claim information point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<serde_json::Map<String, Value>>,
}

/// What [`PolicyEnforcerLayer`] puts in the extensions of a request it let through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationContext {
    /// The resource (by name, or id) the path stands for; `None` when enforcement was off.
    pub resource: Option<String>,
    /// The permissions the request was let through with (empty when enforcement was off).
    pub permissions: Vec<Permission>,
}

impl AuthorizationContext {
    /// Whether a permission grants `scope` on the resource named (or with id) `resource`.
    pub fn has_permission(&self, resource: &str, scope: &str) -> bool {
        self.permissions.iter().any(|p| {
            (p.rsname.as_deref() == Some(resource) || p.rsid.as_deref() == Some(resource))
                && (p.scopes.is_empty() || p.scopes.iter().any(|s| s == scope))
        })
    }
}

/// The enforcer's answer for one request.
#[derive(Debug, Clone)]
pub enum Enforcement {
    /// Let the request through.
    Granted {
        /// The authorization context for the handler.
        context: AuthorizationContext,
        /// The authenticated caller, when there is one (boxed: an actor is large).
        actor: Option<Box<Actor>>,
    },
    /// No, or an invalid, token: `401` (RFC 6750).
    Unauthenticated(Error),
    /// Authenticated but not granted: `403`.
    Denied,
    /// Not granted, with a UMA permission ticket: `401` with `WWW-Authenticate: UMA …`.
    Challenge {
        /// The permission ticket.
        ticket: String,
    },
}

/// Why an enforcer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EnforcerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server refused or failed a start-up request (obtaining the PAT, finding resources).
    #[error("policy enforcer start-up: {0}")]
    Server(String),
}

/// One resolved `paths` entry.
#[derive(Debug, Clone)]
struct PathEntry {
    path: String,
    id: Option<String>,
    name: Option<String>,
    methods: Vec<MethodConfig>,
    scopes: Vec<String>,
    mode: EnforcementMode,
    is_static: bool,
    parent: Option<Arc<PathEntry>>,
}

impl PathEntry {
    fn from_config(c: &PathConfig, id: Option<String>) -> PathEntry {
        PathEntry {
            path: c.path.clone(),
            id,
            name: c.name.clone(),
            methods: c.methods.clone(),
            scopes: c.scopes.clone(),
            mode: c.enforcement_mode,
            is_static: c.name.is_some() || c.enforcement_mode == EnforcementMode::Disabled,
            parent: None,
        }
    }

    /// `PathConfig.createPathConfigs(resource)`: one entry per URI of a resource the server
    /// showed (`deep=true`).
    fn from_resource(r: &UmaResource) -> Vec<PathEntry> {
        r.uris
            .iter()
            .filter(|u| !u.trim().is_empty())
            .map(|uri| PathEntry {
                path: uri.clone(),
                id: Some(r.id.clone()),
                name: Some(r.name.clone()),
                methods: Vec::new(),
                scopes: r.scope_names(),
                mode: EnforcementMode::Enforcing,
                is_static: false,
                parent: None,
            })
            .collect()
    }

    fn is_instance(&self) -> bool {
        self.parent.is_some()
    }
}

/// A resource as the Protection API shows it (`UmaResourceRepresentation`, `deep=true`).
#[derive(Debug, Clone, Deserialize)]
struct UmaResource {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    uris: Vec<String>,
    #[serde(default)]
    resource_scopes: Vec<Value>,
}

impl UmaResource {
    fn scope_names(&self) -> Vec<String> {
        self.resource_scopes
            .iter()
            .filter_map(|s| match s {
                Value::String(n) => Some(n.clone()),
                other => other.get("name").and_then(Value::as_str).map(str::to_owned),
            })
            .collect()
    }
}

/// A cached answer of the UMA grant: the granted permissions (empty: denied) and when they stop
/// being trusted (the earlier of the cache TTL and the token's expiry).
#[derive(Clone)]
struct CachedDecision {
    permissions: Arc<Vec<Permission>>,
    until: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DecisionKey {
    token: [u8; 32],
    resource: String,
    scopes: Vec<String>,
}

/// Configuration of a [`PolicyEnforcer`] beyond `policy-enforcer.json`.
pub struct EnforcerBuilder {
    config: PolicyEnforcerConfig,
    validator: Arc<Validator>,
    decision_ttl: Duration,
    max_decisions: u64,
    timeout: Duration,
    insecure_allow_http: bool,
}

impl EnforcerBuilder {
    /// How long a decision of the server is reused for the same token, path resource and
    /// scopes; never beyond the token's `exp`. Default: 30 s. `Duration::ZERO` asks every time.
    pub fn decision_ttl(mut self, ttl: Duration) -> Self {
        self.decision_ttl = ttl;
        self
    }

    /// Most cached decisions; least recently used go first. Default: 10,000.
    pub fn max_decisions(mut self, n: u64) -> Self {
        self.max_decisions = n;
        self
    }

    /// Timeout of each request to the server. Default: 5 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Allows an `http://` `auth-server-url` on a non-loopback host. Default: `false`; the
    /// client secret and the callers' tokens travel to it.
    pub fn insecure_allow_http(mut self, yes: bool) -> Self {
        self.insecure_allow_http = yes;
        self
    }

    /// Checks the configuration, obtains a PAT and resolves the configured paths to resources
    /// on the server (Keycloak's `PathConfigMatcher.configurePaths`).
    pub async fn build(self) -> Result<PolicyEnforcer, EnforcerError> {
        let config = self.config;
        config.validate()?;
        let realm = config.realm.clone().unwrap_or_default();
        if !crate::issuer::is_realm_name(&realm) {
            return Err(ConfigError::new("realm", "not a realm name").into());
        }
        let server = config.auth_server_url.clone().unwrap_or_default();
        let base = format!("{}/realms/{realm}", server.trim_end_matches('/'));
        TrustedIssuer::parse(&base, self.insecure_allow_http)
            .map_err(|e| ConfigError::new("auth-server-url", e.reason))?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EnforcerError::Server(format!("HTTP client: {e}")))?;
        let cache = config.path_cache.clone().unwrap_or(PathCacheConfig {
            max_entries: 1000,
            lifespan: 30_000,
        });
        let mut enforcer = PolicyEnforcer {
            client_id: config.resource.clone().unwrap_or_default(),
            secret: config
                .credentials
                .get("secret")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            realm,
            base,
            validator: self.validator,
            http,
            paths: Vec::new(),
            matcher: PathMatcher::new(Vec::new()),
            path_cache: moka::sync::Cache::builder()
                .max_capacity(cache.max_entries)
                .time_to_live(Duration::from_millis(cache.lifespan))
                .build(),
            decisions: moka::sync::Cache::builder()
                .max_capacity(self.max_decisions)
                .time_to_live(self.decision_ttl.max(Duration::from_millis(1)))
                .build(),
            decision_ttl: self.decision_ttl,
            pat: tokio::sync::Mutex::new(None),
            config,
        };
        let paths = enforcer.configure_paths().await?;
        enforcer.matcher = PathMatcher::new(
            paths
                .iter()
                .enumerate()
                .map(|(i, p)| (p.path.clone(), i))
                .collect(),
        );
        enforcer.paths = paths;
        Ok(enforcer)
    }
}

/// Keycloak's policy enforcer for one resource server. Build it once
/// ([`PolicyEnforcer::builder`]), share it in an [`Arc`], and put a [`PolicyEnforcerLayer`]
/// on the routes it protects.
pub struct PolicyEnforcer {
    config: PolicyEnforcerConfig,
    validator: Arc<Validator>,
    realm: String,
    base: String,
    client_id: String,
    secret: String,
    http: reqwest::Client,
    paths: Vec<Arc<PathEntry>>,
    matcher: PathMatcher<usize>,
    path_cache: moka::sync::Cache<String, Option<Arc<PathEntry>>>,
    decisions: moka::sync::Cache<DecisionKey, CachedDecision>,
    decision_ttl: Duration,
    pat: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl fmt::Debug for PolicyEnforcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyEnforcer")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .field("paths", &self.paths.len())
            .finish_non_exhaustive()
    }
}

impl PolicyEnforcer {
    /// Starts building an enforcer from `policy-enforcer.json` and the validator that
    /// authenticates the callers' tokens.
    pub fn builder(config: PolicyEnforcerConfig, validator: Arc<Validator>) -> EnforcerBuilder {
        EnforcerBuilder {
            config,
            validator,
            decision_ttl: Duration::from_secs(30),
            max_decisions: 10_000,
            timeout: Duration::from_secs(5),
            insecure_allow_http: false,
        }
    }

    /// How many decisions are cached now.
    pub fn cached_decision_count(&self) -> u64 {
        self.decisions.run_pending_tasks();
        self.decisions.entry_count()
    }

    /// The configured paths, resolved: `(path, resource id)`.
    pub fn paths(&self) -> Vec<(String, Option<String>)> {
        self.paths
            .iter()
            .map(|p| (p.path.clone(), p.id.clone()))
            .collect()
    }

    fn token_endpoint(&self) -> String {
        format!("{}/protocol/openid-connect/token", self.base)
    }

    fn protection(&self, rest: &str) -> String {
        format!("{}/authz/protection/{rest}", self.base)
    }

    /// Decides a request (Keycloak's `PolicyEnforcer.authorize`). `actor` is the caller when a
    /// [`crate::GuardLayer`] already authenticated it; otherwise the bearer token of `headers`
    /// is validated here.
    pub async fn enforce(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        actor: Option<Actor>,
    ) -> Enforcement {
        let anonymous = actor.is_none() && bearer_token(headers) == Err(Error::MissingToken);
        if self.config.enforcement_mode == EnforcementMode::Disabled {
            return match self.authenticated(headers, actor).await {
                Ok(actor) => Enforcement::Granted {
                    context: AuthorizationContext::default(),
                    actor: Some(Box::new(actor)),
                },
                Err(e) => Enforcement::Unauthenticated(e),
            };
        }
        let entry = match self.match_path(path).await {
            Ok(entry) => entry,
            Err(why) => {
                tracing::warn!(%why, "policy enforcer: resolving the path failed; denying");
                return Enforcement::Denied;
            }
        };
        if anonymous {
            // Keycloak answers 403 (or redirects); an API answers RFC 6750's 401.
            return match entry {
                Some(e) if e.mode == EnforcementMode::Disabled => Enforcement::Granted {
                    context: AuthorizationContext::default(),
                    actor: None,
                },
                _ => Enforcement::Unauthenticated(Error::MissingToken),
            };
        }
        let actor = match self.authenticated(headers, actor).await {
            Ok(a) => a,
            Err(e) => return Enforcement::Unauthenticated(e),
        };
        let token_permissions = rpt_permissions(&actor);
        let Some(entry) = entry else {
            if self.config.enforcement_mode == EnforcementMode::Permissive {
                return granted(None, token_permissions, actor);
            }
            tracing::debug!("policy enforcer: no configuration for the path; denying");
            return Enforcement::Denied;
        };
        if entry.mode == EnforcementMode::Disabled {
            return granted(resource_label(&entry), token_permissions, actor);
        }
        let method_config = required_scopes(&entry, method, self.config.http_method_as_scope);
        if is_authorized(&entry, &method_config, &token_permissions) {
            if method.eq_ignore_ascii_case("DELETE") && entry.is_instance() {
                self.path_cache.invalidate(path);
            }
            return granted(resource_label(&entry), token_permissions, actor);
        }
        if self.config.user_managed_access.is_none() {
            if let Some(granted_now) = self
                .request_permissions(&actor, headers, &entry, &method_config)
                .await
            {
                if is_authorized(&entry, &method_config, &granted_now) {
                    let mut all = token_permissions;
                    for p in granted_now.iter() {
                        if !all.contains(p) {
                            all.push(p.clone());
                        }
                    }
                    return granted(resource_label(&entry), all, actor);
                }
            }
        }
        if method_config.scopes_enforcement_mode == ScopeEnforcementMode::Disabled {
            return Enforcement::Granted {
                context: AuthorizationContext::default(),
                actor: Some(Box::new(actor)),
            };
        }
        if self.config.user_managed_access.is_some() {
            match self.permission_ticket(&entry, &method_config).await {
                Ok(ticket) => return Enforcement::Challenge { ticket },
                Err(why) => tracing::warn!(%why, "policy enforcer: no permission ticket; denying"),
            }
        }
        Enforcement::Denied
    }

    async fn authenticated(
        &self,
        headers: &HeaderMap,
        actor: Option<Actor>,
    ) -> Result<Actor, Error> {
        match actor {
            Some(a) => Ok(a),
            None => authenticate(&self.validator, headers).await,
        }
    }

    /// `PathConfigMatcher.matches`, with its path cache.
    async fn match_path(&self, target: &str) -> Result<Option<Arc<PathEntry>>, String> {
        if let Some(hit) = self.path_cache.get(target) {
            return Ok(hit);
        }
        let mut entry = self
            .matcher
            .matches(target)
            .and_then(|(_, i)| self.paths.get(*i))
            .cloned();
        if let Some(e) = entry.clone() {
            if e.path.contains('{') {
                entry = Some(self.resolve_instance(&e, target).await?.unwrap_or(e));
            }
        }
        if self.config.lazy_load_paths || self.config.path_cache.is_some() {
            let wildcard = entry.as_ref().is_none_or(|e| e.path.contains('*'));
            if wildcard {
                let found = self
                    .find_resources(&[("uri", target), ("matchingUri", "true")])
                    .await?;
                if let Some(resource) = found.first() {
                    match &entry {
                        Some(e) => {
                            let created = PathEntry::from_resource(resource).into_iter().next();
                            if let Some(mut c) = created {
                                c.methods = e.methods.clone();
                                c.is_static = e.is_static;
                                c.mode = e.mode;
                                entry = Some(Arc::new(c));
                            }
                        }
                        None => {
                            let bound = self.paths.iter().any(|p| {
                                p.id.as_deref() == Some(resource.id.as_str())
                                    && p.is_static
                                    && p.mode != EnforcementMode::Disabled
                            });
                            if bound {
                                return Ok(None);
                            }
                            entry = PathEntry::from_resource(resource)
                                .into_iter()
                                .next()
                                .map(Arc::new);
                        }
                    }
                }
            }
        }
        self.path_cache.insert(target.to_owned(), entry.clone());
        Ok(entry)
    }

    /// `PathConfigMatcher.resolvePathConfig`: the resource whose URI is exactly the requested
    /// path, as an instance of the template entry (its permissions or the template's apply).
    async fn resolve_instance(
        &self,
        template: &Arc<PathEntry>,
        target: &str,
    ) -> Result<Option<Arc<PathEntry>>, String> {
        let Some(normalized) = portcullis_path::normalize_uri(target) else {
            return Ok(None);
        };
        let found = self.find_resources(&[("uri", normalized.as_str())]).await?;
        Ok(found.first().map(|r| {
            Arc::new(PathEntry {
                path: normalized.clone(),
                id: Some(r.id.clone()),
                name: Some(r.name.clone()),
                methods: template.methods.clone(),
                scopes: template.scopes.clone(),
                mode: template.mode,
                is_static: false,
                parent: Some(template.clone()),
            })
        }))
    }

    /// `PathConfigMatcher.configurePaths`: the configured paths with their resources' ids;
    /// every resource with URIs when no path is enforced and paths are not lazily loaded.
    async fn configure_paths(&self) -> Result<Vec<Arc<PathEntry>>, EnforcerError> {
        let from_server = !self.config.lazy_load_paths
            && self
                .config
                .paths
                .iter()
                .all(|p| p.enforcement_mode == EnforcementMode::Disabled);
        let mut out: Vec<PathEntry> = Vec::new();
        let mut defined: Vec<PathEntry> = Vec::new();
        if from_server {
            let all = self
                .find_resources(&[("first", "0"), ("max", "-1")])
                .await
                .map_err(EnforcerError::Server)?;
            for r in &all {
                out.extend(PathEntry::from_resource(r));
            }
        }
        for c in &self.config.paths {
            let id = match (&c.id, &c.name) {
                (Some(id), _) => Some(id.clone()),
                (None, Some(name)) => {
                    let found = self
                        .find_resources(&[("name", name), ("exactName", "true")])
                        .await
                        .map_err(EnforcerError::Server)?;
                    match found.into_iter().find(|r| &r.name == name) {
                        Some(r) => Some(r.id),
                        None if c.enforcement_mode == EnforcementMode::Disabled => None,
                        None => {
                            return Err(EnforcerError::Server(format!(
                                "path `{}`: the resource server has no resource named `{name}`",
                                c.path
                            )))
                        }
                    }
                }
                (None, None) => {
                    let mut found = self
                        .find_resources(&[("uri", &c.path)])
                        .await
                        .map_err(EnforcerError::Server)?;
                    if found.is_empty() {
                        found = self
                            .find_resources(&[("uri", &c.path), ("matchingUri", "true")])
                            .await
                            .map_err(EnforcerError::Server)?;
                    }
                    if found.len() > 1 {
                        return Err(EnforcerError::Server(format!(
                            "path `{}`: multiple resources found with the same uri",
                            c.path
                        )));
                    }
                    found.into_iter().next().map(|r| r.id)
                }
            };
            let entry = PathEntry::from_config(c, id);
            // A second entry for the same path adds its methods and scopes
            // (`configureDefinedPaths`).
            match defined.iter_mut().find(|p| p.path == entry.path) {
                Some(existing) => {
                    existing.methods.extend(entry.methods);
                    existing.scopes.extend(entry.scopes);
                }
                None => defined.push(entry),
            }
        }
        // Configured paths replace those loaded from the server (`paths.putAll`).
        out.retain(|p| !defined.iter().any(|d| d.path == p.path));
        out.extend(defined);
        Ok(out.into_iter().map(Arc::new).collect())
    }

    /// `GET resource_set?deep=true&…` with the PAT.
    async fn find_resources(&self, query: &[(&str, &str)]) -> Result<Vec<UmaResource>, String> {
        let pat = self.pat().await?;
        let mut q: Vec<(&str, &str)> = vec![("deep", "true")];
        q.extend_from_slice(query);
        let res = self
            .http
            .get(self.protection("resource_set"))
            .bearer_auth(&pat)
            .query(&q)
            .send()
            .await
            .map_err(|e| format!("resource_set: {}", e.without_url()))?;
        let status = res.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            *self.pat.lock().await = None;
        }
        if !status.is_success() {
            return Err(format!("resource_set answered {status}"));
        }
        if status == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        res.json::<Vec<UmaResource>>()
            .await
            .map_err(|e| format!("resource_set: {}", e.without_url()))
    }

    /// The resource server's PAT (client credentials), reused until shortly before it expires.
    async fn pat(&self) -> Result<String, String> {
        let mut slot = self.pat.lock().await;
        if let Some((token, until)) = slot.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let res = self
            .http
            .post(self.token_endpoint())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("PAT: {}", e.without_url()))?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("PAT: the token endpoint answered {status}"));
        }
        let body: Value = res
            .json()
            .await
            .map_err(|e| format!("PAT: {}", e.without_url()))?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or("PAT: no access_token in the answer")?
            .to_owned();
        let lifetime = body.get("expires_in").and_then(Value::as_u64).unwrap_or(60);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(10));
        *slot = Some((token.clone(), until));
        Ok(token)
    }

    /// The UMA grant for the path's resource and the method's scopes, with the caller's token
    /// (Keycloak's `requestAuthorizationToken`), cached per token. `None` when the server could
    /// not answer (the request is then denied, and nothing is cached).
    async fn request_permissions(
        &self,
        actor: &Actor,
        headers: &HeaderMap,
        entry: &PathEntry,
        method: &MethodConfig,
    ) -> Option<Arc<Vec<Permission>>> {
        let id = entry.id.as_deref()?;
        let token = bearer_token(headers).ok()?;
        let mut scopes = method.scopes.clone();
        scopes.sort();
        scopes.dedup();
        let key = DecisionKey {
            token: sha256(token),
            resource: id.to_owned(),
            scopes,
        };
        if let Some(hit) = self.decisions.get(&key) {
            if Instant::now() < hit.until {
                return Some(hit.permissions);
            }
        }
        let permission = if key.scopes.is_empty() {
            id.to_owned()
        } else {
            format!("{id}#{}", key.scopes.join(","))
        };
        let res = self
            .http
            .post(self.token_endpoint())
            .bearer_auth(token)
            .form(&[
                ("grant_type", UMA_GRANT),
                ("audience", self.client_id.as_str()),
                ("permission", permission.as_str()),
                ("response_mode", "permissions"),
            ])
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "policy enforcer: UMA grant failed");
                return None;
            }
        };
        let permissions = match res.status() {
            s if s.is_success() => match res.json::<Vec<Permission>>().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), "policy enforcer: UMA grant answer unreadable");
                    return None;
                }
            },
            // `access_denied` (`not_authorized`): a decision, cached like a grant.
            StatusCode::FORBIDDEN => Vec::new(),
            s => {
                tracing::warn!(status = %s, "policy enforcer: the UMA grant was refused");
                return None;
            }
        };
        let permissions = Arc::new(permissions);
        if let Some(until) = cache_until(self.decision_ttl, actor.expires_at) {
            self.decisions.insert(
                key,
                CachedDecision {
                    permissions: permissions.clone(),
                    until,
                },
            );
        }
        Some(permissions)
    }

    /// A permission ticket from the Protection API for the path's resource and the method's
    /// scopes (Keycloak's `getPermissionTicket`).
    async fn permission_ticket(
        &self,
        entry: &PathEntry,
        method: &MethodConfig,
    ) -> Result<String, String> {
        let id = entry.id.as_deref().ok_or("the path has no resource")?;
        let pat = self.pat().await?;
        let res = self
            .http
            .post(self.protection("permission"))
            .bearer_auth(&pat)
            .json(&json!({ "resource_id": id, "resource_scopes": method.scopes }))
            .send()
            .await
            .map_err(|e| format!("permission: {}", e.without_url()))?;
        let status = res.status();
        if !status.is_success() {
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                *self.pat.lock().await = None;
            }
            return Err(format!("permission answered {status}"));
        }
        let body: Value = res
            .json()
            .await
            .map_err(|e| format!("permission: {}", e.without_url()))?;
        let ticket = body
            .get("ticket")
            .and_then(Value::as_str)
            .ok_or("permission: no ticket in the answer")?;
        // A ticket is a compact JWT; anything else would not belong in a header.
        if ticket.is_empty()
            || !ticket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b))
        {
            return Err("permission: the ticket is not a token".into());
        }
        Ok(ticket.to_owned())
    }

    /// The `WWW-Authenticate` value of a UMA challenge, as Keycloak writes it.
    pub fn uma_challenge(&self, ticket: &str) -> String {
        format!(
            "UMA realm=\"{}\",as_uri=\"{}\",ticket=\"{ticket}\"",
            self.realm, self.base
        )
    }

    /// The HTTP response for an enforcement that does not let the request through.
    pub fn response<B: Default>(&self, enforcement: &Enforcement) -> Option<Response<B>> {
        let mut response = match enforcement {
            Enforcement::Granted { .. } => return None,
            Enforcement::Unauthenticated(e) => return Some(error_response(e)),
            Enforcement::Denied => {
                let mut r = Response::new(B::default());
                *r.status_mut() = StatusCode::FORBIDDEN;
                r
            }
            Enforcement::Challenge { ticket } => {
                let mut r = Response::new(B::default());
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                match HeaderValue::from_str(&self.uma_challenge(ticket)) {
                    Ok(v) => {
                        r.headers_mut().insert(WWW_AUTHENTICATE, v);
                    }
                    Err(_) => *r.status_mut() = StatusCode::FORBIDDEN,
                }
                r
            }
        };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Some(response)
    }
}

fn granted(resource: Option<String>, permissions: Vec<Permission>, actor: Actor) -> Enforcement {
    Enforcement::Granted {
        context: AuthorizationContext {
            resource,
            permissions,
        },
        actor: Some(Box::new(actor)),
    }
}

fn resource_label(entry: &PathEntry) -> Option<String> {
    entry.name.clone().or_else(|| entry.id.clone())
}

/// The permissions of an RPT (`authorization.permissions`); none for a plain access token.
fn rpt_permissions(actor: &Actor) -> Vec<Permission> {
    actor
        .claims
        .get("authorization")
        .and_then(|a| a.get("permissions"))
        .and_then(|p| serde_json::from_value::<Vec<Permission>>(p.clone()).ok())
        .unwrap_or_default()
}

/// When a decision stops being reused: after the TTL, never after the token's `exp`.
fn cache_until(ttl: Duration, exp: i64) -> Option<Instant> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let left = u64::try_from(exp).ok()?.checked_sub(now)?;
    let keep = ttl.min(Duration::from_secs(left));
    (!keep.is_zero()).then(|| Instant::now() + keep)
}

fn sha256(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Keycloak's `getRequiredScopes`: the method's entry, else the path's scopes (any of
/// them) or, with `http-method-as-scope`, the method's name.
fn required_scopes(entry: &PathEntry, method: &str, http_method_as_scope: bool) -> MethodConfig {
    if let Some(m) = entry.methods.iter().find(|m| m.method == method) {
        return m.clone();
    }
    MethodConfig {
        method: method.to_owned(),
        scopes: if http_method_as_scope {
            vec![method.to_owned()]
        } else {
            entry.scopes.clone()
        },
        scopes_enforcement_mode: ScopeEnforcementMode::Any,
    }
}

/// Keycloak's `PolicyEnforcer.isAuthorized`.
fn is_authorized(entry: &PathEntry, method: &MethodConfig, permissions: &[Permission]) -> bool {
    let mut has_permission = false;
    for p in permissions {
        match &p.rsid {
            Some(rsid) => {
                let own = entry.id.as_deref() == Some(rsid.as_str());
                let parent = entry
                    .parent
                    .as_ref()
                    .is_some_and(|parent| parent.id.as_deref() == Some(rsid.as_str()));
                if own || parent {
                    has_permission = true;
                    if entry.is_instance() && !own {
                        continue;
                    }
                    if has_scope_permission(method, p) {
                        return p.claims.is_none();
                    }
                }
            }
            None => {
                if has_scope_permission(method, p) {
                    return true;
                }
            }
        }
    }
    !has_permission && entry.mode == EnforcementMode::Permissive
}

/// Keycloak's `hasResourceScopePermission`.
fn has_scope_permission(method: &MethodConfig, p: &Permission) -> bool {
    if p.scopes.is_empty() {
        return true;
    }
    match method.scopes_enforcement_mode {
        ScopeEnforcementMode::All => {
            return method.scopes.iter().all(|s| p.scopes.contains(s));
        }
        ScopeEnforcementMode::Any => {
            if method.scopes.iter().any(|s| p.scopes.contains(s)) {
                return true;
            }
        }
        ScopeEnforcementMode::Disabled => {}
    }
    method.scopes.is_empty()
}

/// A tower [`Layer`] running a [`PolicyEnforcer`] on every request: the request goes through
/// with the [`Actor`] and an [`AuthorizationContext`] in its extensions, or is answered `401`
/// (no or a bad token; a UMA challenge) or `403` (denied).
///
/// It authenticates by itself with the enforcer's validator, or reuses the [`Actor`] of a
/// [`crate::GuardLayer`] applied outside it.
#[derive(Debug, Clone)]
pub struct PolicyEnforcerLayer {
    enforcer: Arc<PolicyEnforcer>,
}

impl PolicyEnforcerLayer {
    /// A layer enforcing with this enforcer.
    pub fn new(enforcer: Arc<PolicyEnforcer>) -> Self {
        PolicyEnforcerLayer { enforcer }
    }
}

impl<S> Layer<S> for PolicyEnforcerLayer {
    type Service = Enforce<S>;

    fn layer(&self, inner: S) -> Enforce<S> {
        Enforce {
            inner,
            enforcer: self.enforcer.clone(),
        }
    }
}

/// The service of [`PolicyEnforcerLayer`].
#[derive(Debug, Clone)]
pub struct Enforce<S> {
    inner: S,
    enforcer: Arc<PolicyEnforcer>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Enforce<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let enforcer = self.enforcer.clone();
        Box::pin(async move {
            let actor = req.extensions().get::<Actor>().cloned();
            let outcome = enforcer
                .enforce(
                    req.method().as_str(),
                    req.uri().path(),
                    req.headers(),
                    actor,
                )
                .await;
            if let Some(response) = enforcer.response(&outcome) {
                return Ok(response);
            }
            if let Enforcement::Granted { context, actor } = outcome {
                if let Some(actor) = actor {
                    req.extensions_mut().insert(*actor);
                }
                req.extensions_mut().insert(enforcer.validator.clone());
                req.extensions_mut().insert(context);
            }
            inner.call(req).await
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn entry(id: &str, mode: EnforcementMode) -> PathEntry {
        PathEntry {
            path: "/events/*".into(),
            id: Some(id.into()),
            name: Some("event".into()),
            methods: Vec::new(),
            scopes: Vec::new(),
            mode,
            is_static: true,
            parent: None,
        }
    }

    fn method(scopes: &[&str], mode: ScopeEnforcementMode) -> MethodConfig {
        MethodConfig {
            method: "GET".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            scopes_enforcement_mode: mode,
        }
    }

    fn perm(rsid: &str, scopes: &[&str]) -> Permission {
        Permission {
            rsid: Some(rsid.into()),
            rsname: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            claims: None,
        }
    }

    #[test]
    fn scope_enforcement_modes() {
        let e = entry("r1", EnforcementMode::Enforcing);
        let read = [perm("r1", &["read"])];
        assert!(is_authorized(
            &e,
            &method(&["read"], ScopeEnforcementMode::All),
            &read
        ));
        assert!(!is_authorized(
            &e,
            &method(&["read", "manage"], ScopeEnforcementMode::All),
            &read
        ));
        assert!(is_authorized(
            &e,
            &method(&["read", "manage"], ScopeEnforcementMode::Any),
            &read
        ));
        assert!(!is_authorized(
            &e,
            &method(&["manage"], ScopeEnforcementMode::Any),
            &read
        ));
        assert!(!is_authorized(
            &e,
            &method(&["manage"], ScopeEnforcementMode::Disabled),
            &read
        ));
        // A permission on the whole resource (no scopes) grants every method.
        assert!(is_authorized(
            &e,
            &method(&["manage"], ScopeEnforcementMode::All),
            &[perm("r1", &[])]
        ));
        // Another resource's permission grants nothing.
        assert!(!is_authorized(
            &e,
            &method(&["read"], ScopeEnforcementMode::All),
            &[perm("r2", &["read"])]
        ));
        assert!(!is_authorized(
            &e,
            &method(&["read"], ScopeEnforcementMode::All),
            &[]
        ));
    }

    #[test]
    fn permissive_paths_pass_unless_a_permission_names_their_resource() {
        let e = entry("r1", EnforcementMode::Permissive);
        let m = method(&["manage"], ScopeEnforcementMode::All);
        assert!(is_authorized(&e, &m, &[]));
        assert!(is_authorized(&e, &m, &[perm("r2", &["read"])]));
        assert!(!is_authorized(&e, &m, &[perm("r1", &["read"])]));
    }

    #[test]
    fn instances_need_their_own_permission_but_count_the_parents() {
        let parent = Arc::new(entry("tmpl", EnforcementMode::Enforcing));
        let mut e = entry("inst", EnforcementMode::Permissive);
        e.parent = Some(parent);
        let m = method(&["read"], ScopeEnforcementMode::All);
        assert!(is_authorized(&e, &m, &[perm("inst", &["read"])]));
        // The template's permission is not the instance's, and it counts as a permission on
        // the path, so a permissive instance path no longer passes for free.
        assert!(!is_authorized(&e, &m, &[perm("tmpl", &["read"])]));
    }

    #[test]
    fn required_scopes_per_method() {
        let mut e = entry("r1", EnforcementMode::Enforcing);
        e.scopes = vec!["read".into(), "manage".into()];
        e.methods = vec![method(&["read"], ScopeEnforcementMode::All)];
        let get = required_scopes(&e, "GET", false);
        assert_eq!(
            (get.scopes, get.scopes_enforcement_mode),
            (vec!["read".to_string()], ScopeEnforcementMode::All)
        );
        // Methods are compared exactly, as Keycloak does.
        let lower = required_scopes(&e, "get", false);
        assert_eq!(lower.scopes, vec!["read", "manage"]);
        let post = required_scopes(&e, "POST", false);
        assert_eq!(
            (post.scopes, post.scopes_enforcement_mode),
            (
                vec!["read".to_string(), "manage".to_string()],
                ScopeEnforcementMode::Any
            )
        );
        let post = required_scopes(&e, "POST", true);
        assert_eq!(post.scopes, vec!["POST"], "http-method-as-scope");
        assert_eq!(
            required_scopes(&e, "GET", true).scopes,
            vec!["read"],
            "a methods entry still wins"
        );
    }

    #[test]
    fn claims_bound_permissions_never_authorize() {
        let e = entry("r1", EnforcementMode::Enforcing);
        let mut p = perm("r1", &["read"]);
        p.claims = Some(serde_json::Map::new());
        assert!(!is_authorized(
            &e,
            &method(&["read"], ScopeEnforcementMode::All),
            &[p]
        ));
    }

    #[test]
    fn decisions_never_outlive_the_token() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(cache_until(Duration::from_secs(30), now - 1).is_none());
        assert!(cache_until(Duration::from_secs(30), now).is_none());
        let until = cache_until(Duration::from_secs(3600), now + 5).unwrap();
        assert!(until <= Instant::now() + Duration::from_secs(5));
        assert!(cache_until(Duration::ZERO, now + 60).is_none());
    }
}
