//! The public keys of `private_key_jwt` clients (Keycloak's `client-jwt` authenticator), as
//! Keycloak's `ClientPublicKeyLoader` finds them (`OIDCAdvancedConfigWrapper` attributes):
//!
//! 1. `use.jwks.url` = `"true"`: the JWK Set at `jwks.url` (a path starting with `/` is
//!    resolved against the client's `rootUrl`, else the server's origin; keys without `use`
//!    count as signature keys);
//! 2. else `use.jwks.string` = `"true"`: the JWK Set in `jwks.string` (keys need `use: sig`);
//! 3. else `jwt.credential.certificate` (base64 DER X.509) or `jwt.credential.public.key`
//!    (base64 DER SubjectPublicKeyInfo), not both; `kid` from `jwt.credential.kid` or the
//!    SHA-256 of the key.
//!
//! Fetched key sets live in [`ClientKeyCache`] (Keycloak's `PublicKeyStorageProvider`): one
//! entry per URL, kept [`KeyCacheSettings::max_cache_time`]; a `kid` the entry lacks triggers
//! one re-fetch, at most once per [`KeyCacheSettings::min_time_between_requests`] since the
//! last request to that URL (Keycloak's `minTimeBetweenRequests`, 10 s); a failed fetch is
//! remembered for that same time. Every failure fails closed.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::crypto::client_key::{self, ClientKey};
use crate::crypto::jws::Parsed;
use crate::representation::ClientRepresentation;

/// Tunables of the key cache.
#[derive(Debug, Clone)]
pub struct KeyCacheSettings {
    /// Least time between two fetches of one URL (Keycloak's `minTimeBetweenRequests`, 10 s);
    /// also how long a failed fetch is remembered.
    pub min_time_between_requests: Duration,
    /// How long a fetched key set is used before it is fetched again.
    pub max_cache_time: Duration,
    /// Whole-request timeout of a fetch (connect included).
    pub fetch_timeout: Duration,
    /// Largest JWK Set accepted.
    pub max_response_size: usize,
    /// Most URLs cached at once.
    pub max_entries: u64,
    /// Most fetches in flight at once.
    pub max_concurrent_fetches: usize,
}

impl Default for KeyCacheSettings {
    fn default() -> Self {
        KeyCacheSettings {
            min_time_between_requests: Duration::from_secs(10),
            max_cache_time: Duration::from_secs(3600),
            fetch_timeout: Duration::from_secs(5),
            max_response_size: 256 * 1024,
            max_entries: 10_000,
            max_concurrent_fetches: 8,
        }
    }
}

/// One URL's keys.
struct Entry {
    /// `None`: the last fetch failed.
    keys: Option<Arc<Vec<ClientKey>>>,
    /// When the URL was last requested (start of the re-fetch cooldown).
    requested: Instant,
    ttl: Duration,
    /// Serializes unknown-`kid` re-fetches of this entry.
    refresh: tokio::sync::Mutex<()>,
}

struct EntryTtl;

impl moka::Expiry<String, Arc<Entry>> for EntryTtl {
    fn expire_after_create(&self, _: &String, v: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &Arc<Entry>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// The process's cache of client key sets fetched from `jwks.url`; shared by every realm
/// snapshot (held by the realm cache, which hands it to each snapshot it stores).
pub struct ClientKeyCache {
    cache: moka::future::Cache<String, Arc<Entry>>,
    client: OnceLock<Result<reqwest::Client, String>>,
    permits: Semaphore,
    settings: KeyCacheSettings,
}

impl std::fmt::Debug for ClientKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeyCache")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Default for ClientKeyCache {
    fn default() -> Self {
        Self::new(KeyCacheSettings::default())
    }
}

/// Why no key verified the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// No configured or fetched key has the assertion's `kid`/`alg` (Keycloak: `Unable to
    /// load public key`).
    NotFound,
    /// The key set could not be fetched or read (Keycloak: `Error when loading public keys`).
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("not a JWK Set: {0}")]
    Format(#[from] serde_json::Error),
    #[error("timed out")]
    Timeout,
    #[error("http client: {0}")]
    Client(String),
}

impl ClientKeyCache {
    /// Drops every fetched key set (`POST .../clear-keys-cache`): the next use fetches again.
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }

    /// An empty cache.
    pub fn new(settings: KeyCacheSettings) -> Self {
        ClientKeyCache {
            cache: moka::future::Cache::builder()
                .max_capacity(settings.max_entries)
                .expire_after(EntryTtl)
                .build(),
            client: OnceLock::new(),
            permits: Semaphore::new(settings.max_concurrent_fetches.max(1)),
            settings,
        }
    }

    /// The key of `url` for an assertion with this `kid` and `alg`: from the cached set, or,
    /// when the set lacks it, from a re-fetch allowed by the cooldown.
    pub async fn find(
        &self,
        url: &str,
        kid: Option<&str>,
        alg: &str,
    ) -> Result<ClientKey, KeyError> {
        let entry = match self.cache.get(url).await {
            Some(e) => e,
            None => Box::pin(self.cache.get_with_by_ref(url, self.load(url))).await,
        };
        if let Some(k) = entry
            .keys
            .as_ref()
            .and_then(|ks| client_key::select(ks, kid, alg))
        {
            return Ok(k.clone());
        }
        let fresh = Box::pin(self.refresh(url, entry.clone())).await;
        let current = fresh.as_ref().unwrap_or(&entry);
        match &current.keys {
            Some(ks) => client_key::select(ks, kid, alg)
                .cloned()
                .ok_or(KeyError::NotFound),
            None => Err(KeyError::Unavailable),
        }
    }

    fn entry(&self, keys: Option<Vec<ClientKey>>, requested: Instant) -> Arc<Entry> {
        let ttl = if keys.is_some() {
            self.settings.max_cache_time
        } else {
            self.settings.min_time_between_requests
        };
        Arc::new(Entry {
            keys: keys.map(Arc::new),
            requested,
            ttl,
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    async fn load(&self, url: &str) -> Arc<Entry> {
        let requested = Instant::now();
        let keys = match self.fetch(url).await {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(url, error = %e, "cannot load the client's JWK Set");
                None
            }
        };
        self.entry(keys, requested)
    }

    /// A re-fetch after an unknown `kid` (or a failed load), unless one was made less than
    /// `min_time_between_requests` ago; concurrent callers share it.
    async fn refresh(&self, url: &str, stale: Arc<Entry>) -> Option<Arc<Entry>> {
        let _guard = stale.refresh.lock().await;
        if let Some(current) = self.cache.get(url).await {
            if !Arc::ptr_eq(&current, &stale) {
                return Some(current);
            }
        }
        if stale.requested.elapsed() < self.settings.min_time_between_requests {
            tracing::debug!(url, "key not found; re-fetch refused within the cooldown");
            return None;
        }
        let fresh = self.load(url).await;
        self.cache.insert(url.to_string(), fresh.clone()).await;
        Some(fresh)
    }

    async fn fetch(&self, url: &str) -> Result<Vec<ClientKey>, FetchError> {
        let client = self
            .client
            .get_or_init(|| {
                // rustls over aws-lc-rs, as for every outgoing request (`http::outbound`).
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                reqwest::Client::builder()
                    .timeout(self.settings.fetch_timeout)
                    .connect_timeout(self.settings.fetch_timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| FetchError::Client(e.clone()))?;
        let max = self.settings.max_response_size;
        // The wait for a permit counts against the same budget as the request.
        tokio::time::timeout(self.settings.fetch_timeout.saturating_mul(2), async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| FetchError::Timeout)?;
            let mut resp = client
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await?;
            if resp.status() != reqwest::StatusCode::OK {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            if resp.content_length().is_some_and(|l| l > max as u64) {
                return Err(FetchError::TooLarge(max));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                if body.len() + chunk.len() > max {
                    return Err(FetchError::TooLarge(max));
                }
                body.extend_from_slice(&chunk);
            }
            let jwks: Value = serde_json::from_slice(&body)?;
            Ok(client_key::signature_keys(&jwks, true))
        })
        .await
        .map_err(|_| FetchError::Timeout)?
    }
}

fn attr<'a>(client: &'a ClientRepresentation, name: &str) -> Option<&'a str> {
    client
        .attributes
        .as_ref()
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
}

/// Keycloak's `ResolveRelative.resolveRelativeUri`: a `jwks.url` starting with `/` is
/// relative to the client's `rootUrl` (`${authBaseUrl}` standing for the server's base URL),
/// or, without one, to the server's origin.
fn resolve_url(url: &str, root_url: Option<&str>, base_url: &str) -> Option<String> {
    let resolved = if url.starts_with('/') {
        let path = url;
        match root_url.filter(|r| !r.is_empty()) {
            Some(root) => {
                let root = root
                    .replace("${authBaseUrl}", base_url)
                    .replace("${authAdminUrl}", base_url);
                format!("{root}{path}")
            }
            None => {
                let base = url::Url::parse(base_url).ok()?;
                format!("{}{path}", base.origin().ascii_serialization())
            }
        }
    } else {
        url.to_string()
    };
    let parsed = url::Url::parse(&resolved).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// The key that must have signed a `client-jwt` client's assertion, chosen by the assertion's
/// `kid` and `alg` among the client's configured or fetched keys.
pub async fn signature_key(
    cache: &ClientKeyCache,
    client: &ClientRepresentation,
    base_url: &str,
    assertion: &Parsed,
) -> Result<ClientKey, KeyError> {
    let kid = assertion.header.get("kid").and_then(Value::as_str);
    let alg = assertion
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if attr(client, "use.jwks.url") == Some("true") {
        let url = attr(client, "jwks.url")
            .and_then(|u| resolve_url(u.trim(), client.root_url.as_deref(), base_url))
            .ok_or(KeyError::Unavailable)?;
        return cache.find(&url, kid, alg).await;
    }
    let keys: Vec<ClientKey> = if attr(client, "use.jwks.string") == Some("true") {
        let jwks: Value = attr(client, "jwks.string")
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or(KeyError::Unavailable)?;
        client_key::signature_keys(&jwks, false)
    } else {
        let kid = attr(client, "jwt.credential.kid").map(str::to_string);
        let decoded = |name: &str| {
            attr(client, name)
                .filter(|v| !v.trim().is_empty())
                .map(client_key::pem_or_base64)
        };
        let key = match (
            decoded("jwt.credential.certificate"),
            decoded("jwt.credential.public.key"),
        ) {
            (Some(Ok(der)), None) => ClientKey::from_certificate(&der, kid),
            (None, Some(Ok(der))) => ClientKey::from_spki(&der, kid),
            // Neither, both (Keycloak: "Client has both publicKey and certificate
            // configured"), or undecodable: no key.
            _ => return Err(KeyError::NotFound),
        };
        match key {
            Ok(k) => vec![k],
            Err(e) => {
                tracing::warn!(client = client.client_id.as_deref().unwrap_or_default(), error = %e, "unusable client certificate or public key");
                return Err(KeyError::NotFound);
            }
        }
    };
    client_key::select(&keys, kid, alg)
        .cloned()
        .ok_or(KeyError::NotFound)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn relative_jwks_urls_resolve_like_keycloak() {
        let base = "https://auth.example.com/kc";
        assert_eq!(
            resolve_url("/jwks", Some("https://app.example.com"), base).as_deref(),
            Some("https://app.example.com/jwks")
        );
        assert_eq!(
            resolve_url("/jwks", Some("${authBaseUrl}"), base).as_deref(),
            Some("https://auth.example.com/kc/jwks")
        );
        // Without a root URL: the server's origin (Keycloak replaces the path).
        assert_eq!(
            resolve_url("/jwks", None, base).as_deref(),
            Some("https://auth.example.com/jwks")
        );
        assert_eq!(
            resolve_url("https://rp.example.com/k", None, base).as_deref(),
            Some("https://rp.example.com/k")
        );
        assert_eq!(resolve_url("file:///etc/passwd", None, base), None);
        assert_eq!(resolve_url("not a url", None, base), None);
    }
}
