//! Per-issuer signing keys: discovery, JWKS fetch and the bounded cache.
//!
//! `GET {iss}/.well-known/openid-configuration`  (OpenID Connect Discovery 1.0 §4) -> `jwks_uri`
//! `GET {jwks_uri}`, or `GET {iss}/protocol/openid-connect/certs` when discovery is off or unavailable.
//!
//! * One cache entry per issuer, in a moka cache bounded to `max_issuers` (LRU-like
//!   TinyLFU eviction). A successful fetch lives `key_ttl`, a failed one `negative_ttl`: a token
//!   naming a realm that does not exist costs one fetch per `negative_ttl`, and a flood of
//!   invented realm names cannot grow memory beyond `max_issuers` entries.
//! * Loading an issuer is single-flight (`get_with`): concurrent requests share one fetch.
//! * A `kid` the cached set lacks triggers a refresh of that issuer's JWKS at most once per
//!   `refresh_cooldown` since its last fetch (Keycloak adapters' `minTimeBetweenJwksRequests`),
//!   single-flight through a per-entry async mutex.
//! * At most `max_concurrent_fetches` fetches run at once, across all issuers.
//! * Every failure fails closed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;
use url::Url;

use crate::error::{ConfigError, Error};
use crate::jwks::KeySet;
use crate::jwt::{Algorithm, Kid, UnverifiedJwt};
use crate::validator::Clock;

/// Settings of the key cache and of fetching.
#[derive(Debug, Clone)]
pub(crate) struct KeyConfig {
    pub(crate) key_ttl: Duration,
    pub(crate) negative_ttl: Duration,
    pub(crate) refresh_cooldown: Duration,
    pub(crate) max_issuers: u64,
    pub(crate) connect_timeout: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_response_size: usize,
    pub(crate) max_concurrent_fetches: usize,
    pub(crate) use_discovery: bool,
    pub(crate) algorithms: Vec<Algorithm>,
}

/// Why a fetch failed; logged, never shown to callers.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("response is not valid JSON of the expected shape: {0}")]
    Format(#[from] serde_json::Error),
    #[error("discovery document names another issuer")]
    IssuerMismatch,
    #[error("jwks_uri is not a URL under the issuer's origin")]
    ForeignJwksUri,
    #[error("timed out")]
    Timeout,
    #[error("bad URL")]
    Url,
}

/// One issuer's cache entry.
pub(crate) struct IssuerKeys {
    /// `None`: the last load failed (negative entry).
    keys: Option<KeySet>,
    jwks_uri: Option<Url>,
    ttl: Duration,
    /// When this issuer's keys were last requested from the network (cooldown start).
    last_fetch: Mutex<SystemTime>,
    /// Serializes unknown-`kid` refreshes of this entry.
    refresh: tokio::sync::Mutex<()>,
}

struct PerEntryTtl;

impl moka::Expiry<String, Arc<IssuerKeys>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _: &String,
        value: &Arc<IssuerKeys>,
        _: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &Arc<IssuerKeys>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

pub(crate) struct KeyCache {
    cache: moka::future::Cache<String, Arc<IssuerKeys>>,
    client: reqwest::Client,
    fetch_permits: Semaphore,
    config: KeyConfig,
    clock: Arc<dyn Clock>,
}

enum Outcome {
    Verified,
    BadSignature,
    NoKey,
}

fn verify_with(keys: &KeySet, jwt: &UnverifiedJwt<'_>) -> Outcome {
    let mut outcome = Outcome::NoKey;
    for entry in keys.candidates(jwt.kid.as_ref().map(Kid::as_bytes), jwt.alg) {
        if entry
            .key
            .verify_sig(jwt.signing_input, jwt.signature())
            .is_ok()
        {
            return Outcome::Verified;
        }
        outcome = Outcome::BadSignature;
    }
    outcome
}

impl KeyCache {
    pub(crate) fn new(config: KeyConfig, clock: Arc<dyn Clock>) -> Result<KeyCache, ConfigError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portcullis-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::new("http client", e.to_string()))?;
        let cache = moka::future::Cache::builder()
            .max_capacity(config.max_issuers)
            .expire_after(PerEntryTtl)
            .build();
        Ok(KeyCache {
            cache,
            client,
            fetch_permits: Semaphore::new(config.max_concurrent_fetches),
            config,
            clock,
        })
    }

    /// Verifies the token's signature with a key of `iss` (already matched against the
    /// configuration), loading or refreshing the issuer's keys as needed.
    ///
    /// With the issuer's keys cached (every request but the first per `key_ttl`), the only
    /// await is a plain cache lookup and the signature is checked right after it. Loading and
    /// refreshing run in futures of their own on the heap: inline, their state (HTTP requests
    /// included) would be part of every validation's future, which is built and moved on every
    /// request.
    pub(crate) async fn verify(&self, iss: &str, jwt: &UnverifiedJwt<'_>) -> Result<(), Error> {
        let entry = match self.cache.get(iss).await {
            Some(entry) => entry,
            None => Box::pin(self.cache.get_with_by_ref(iss, self.load(iss))).await,
        };
        let Some(keys) = &entry.keys else {
            return Err(Error::KeysUnavailable);
        };
        match verify_with(keys, jwt) {
            Outcome::Verified => return Ok(()),
            Outcome::BadSignature => return Err(Error::InvalidSignature),
            Outcome::NoKey => {}
        }
        // The issuer may have rotated its keys: refresh, within the cooldown.
        let Some(fresh) = Box::pin(self.refresh(iss, entry)).await else {
            return Err(Error::UnknownKey);
        };
        match fresh.keys.as_ref().map(|k| verify_with(k, jwt)) {
            Some(Outcome::Verified) => Ok(()),
            Some(Outcome::BadSignature) => Err(Error::InvalidSignature),
            Some(Outcome::NoKey) | None => Err(Error::UnknownKey),
        }
    }

    /// Number of issuers in the cache (after pending evictions have run).
    pub(crate) async fn issuer_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }

    fn cooldown_elapsed(&self, entry: &IssuerKeys, now: SystemTime) -> bool {
        let last = entry
            .last_fetch
            .lock()
            .map(|t| *t)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        match now.duration_since(last) {
            Ok(elapsed) => elapsed >= self.config.refresh_cooldown,
            // The clock went backwards: allow one refresh, which records the new time.
            Err(_) => true,
        }
    }

    async fn refresh(&self, iss: &str, stale: Arc<IssuerKeys>) -> Option<Arc<IssuerKeys>> {
        // Taken before the cooldown check, so a request that arrives while a refresh is in
        // flight waits for its result instead of failing; without a refresh in flight the lock
        // is free and the check below answers at once.
        let _guard = stale.refresh.lock().await;
        // Another request may have refreshed this issuer already.
        if let Some(current) = self.cache.get(iss).await {
            if !Arc::ptr_eq(&current, &stale) {
                return Some(current);
            }
        }
        let now = self.clock.now();
        if !self.cooldown_elapsed(&stale, now) {
            tracing::debug!(iss, "unknown kid within the refresh cooldown");
            return None;
        }
        if let Ok(mut last) = stale.last_fetch.lock() {
            *last = now;
        }
        let jwks_uri = stale.jwks_uri.clone()?;
        match self.with_permit(self.fetch_keys(&jwks_uri)).await {
            Ok(keys) => {
                tracing::debug!(iss, keys = keys.len(), "refreshed JWKS after unknown kid");
                let fresh = Arc::new(IssuerKeys {
                    keys: Some(keys),
                    jwks_uri: Some(jwks_uri),
                    ttl: self.config.key_ttl,
                    last_fetch: Mutex::new(now),
                    refresh: tokio::sync::Mutex::new(()),
                });
                self.cache.insert(iss.to_owned(), fresh.clone()).await;
                Some(fresh)
            }
            Err(e) => {
                tracing::warn!(iss, error = %e, "JWKS refresh failed");
                None
            }
        }
    }

    /// First load of an issuer (or after its entry expired). Never fails: a failure becomes a
    /// negative entry that lives `negative_ttl`.
    async fn load(&self, iss: &str) -> Arc<IssuerKeys> {
        let now = self.clock.now();
        let result = self.with_permit(self.load_inner(iss)).await;
        let (keys, jwks_uri, ttl) = match result {
            Ok((keys, uri)) => {
                tracing::debug!(iss, keys = keys.len(), "loaded JWKS");
                (Some(keys), Some(uri), self.config.key_ttl)
            }
            Err(e) => {
                tracing::warn!(iss, error = %e, "cannot load the issuer's keys");
                (None, None, self.config.negative_ttl)
            }
        };
        Arc::new(IssuerKeys {
            keys,
            jwks_uri,
            ttl,
            last_fetch: Mutex::new(now),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    async fn with_permit<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        // The whole operation, including the wait for a permit, is bounded.
        let budget = self.config.fetch_timeout.saturating_mul(2);
        tokio::time::timeout(budget, async {
            let _permit = self
                .fetch_permits
                .acquire()
                .await
                .map_err(|_| FetchError::Timeout)?;
            fut.await
        })
        .await
        .map_err(|_| FetchError::Timeout)?
    }

    async fn load_inner(&self, iss: &str) -> Result<(KeySet, Url), FetchError> {
        let issuer_url = Url::parse(iss).map_err(|_| FetchError::Url)?;
        let base = iss.trim_end_matches('/');
        let jwks_uri = if self.config.use_discovery {
            let discovery = Url::parse(&format!("{base}/.well-known/openid-configuration"))
                .map_err(|_| FetchError::Url)?;
            match self.discover(iss, &issuer_url, &discovery).await {
                Ok(uri) => uri,
                // A discovery document that contradicts the issuer is an error, not a reason to guess.
                Err(e @ (FetchError::IssuerMismatch | FetchError::ForeignJwksUri)) => {
                    return Err(e)
                }
                Err(e) => {
                    tracing::debug!(iss, error = %e, "discovery unavailable, using the Keycloak certs path");
                    keycloak_certs(base)?
                }
            }
        } else {
            keycloak_certs(base)?
        };
        let keys = self.fetch_keys(&jwks_uri).await?;
        Ok((keys, jwks_uri))
    }

    async fn discover(&self, iss: &str, issuer_url: &Url, url: &Url) -> Result<Url, FetchError> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let body = self.get(url).await?;
        let doc: Discovery = serde_json::from_slice(&body)?;
        if doc.issuer != iss {
            return Err(FetchError::IssuerMismatch);
        }
        let jwks_uri = Url::parse(&doc.jwks_uri).map_err(|_| FetchError::ForeignJwksUri)?;
        if jwks_uri.origin() != issuer_url.origin()
            || !jwks_uri.username().is_empty()
            || jwks_uri.password().is_some()
        {
            return Err(FetchError::ForeignJwksUri);
        }
        Ok(jwks_uri)
    }

    async fn fetch_keys(&self, url: &Url) -> Result<KeySet, FetchError> {
        let body = self.get(url).await?;
        Ok(KeySet::parse(&body, &self.config.algorithms)?)
    }

    async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let max = self.config.max_response_size;
        let mut resp = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(resp.status().as_u16()));
        }
        if resp.content_length().is_some_and(|len| len > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn keycloak_certs(base: &str) -> Result<Url, FetchError> {
    Url::parse(&format!("{base}/protocol/openid-connect/certs")).map_err(|_| FetchError::Url)
}
