//! The rate limit of the credential endpoints (token, login forms, client registration): a
//! token bucket per client address (`http-rate-limit-per-ip`) and per realm and client id
//! (`http-rate-limit-per-client`), each refilled evenly over a minute. A request past either
//! is answered 429 with `Retry-After` (seconds) and a protocol error body.
//!
//! Keycloak has no such limit (only brute-force detection, which Portcullis also applies per
//! user); this is additive, on by default in `start` and off in `start-dev`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http_body_util::BodyExt;

use super::oauth_error::OAuthError;
use super::remote::remote_addr;
use crate::AppState;

/// How many buckets each limiter keeps at most (least recently used ones go first): bounds
/// the memory an attacker spraying addresses can take.
const MAX_BUCKETS: u64 = 100_000;

/// The longest key kept: client ids come from unauthenticated input (up to the form's
/// parameter limit), so a longer key is cut, and a sprayer of long ids cannot make the
/// [`MAX_BUCKETS`] buckets take more than a few tens of megabytes.
const MAX_KEY_BYTES: usize = 256;

/// `key` cut to [`MAX_KEY_BYTES`] on a character boundary.
fn bounded(mut key: String) -> String {
    if key.len() > MAX_KEY_BYTES {
        let mut end = MAX_KEY_BYTES;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// One token bucket: `capacity` requests, refilled at `capacity` per minute.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(capacity: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(capacity),
            last: now,
        }
    }

    /// Takes one request: `Ok` while the bucket holds one, else how long until it does.
    pub fn take(&mut self, capacity: u32, now: Instant) -> Result<(), Duration> {
        let per_sec = f64::from(capacity) / 60.0;
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_sec).min(f64::from(capacity));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_sec))
        }
    }
}

/// Buckets by key, for one limit.
struct Limiter {
    per_minute: u32,
    buckets: moka::sync::Cache<String, Arc<Mutex<Bucket>>>,
}

impl Limiter {
    fn new(per_minute: u32) -> Option<Self> {
        (per_minute > 0).then(|| Limiter {
            per_minute,
            buckets: moka::sync::Cache::builder()
                .max_capacity(MAX_BUCKETS)
                // A bucket untouched for a minute is full again: forgetting it changes nothing.
                .time_to_idle(Duration::from_secs(60))
                .build(),
        })
    }

    fn take(&self, key: String, now: Instant) -> Result<(), Duration> {
        let bucket = self.buckets.get_with(bounded(key), || {
            Arc::new(Mutex::new(Bucket::full(self.per_minute, now)))
        });
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.take(self.per_minute, now)
    }
}

/// The limiters of one server.
pub struct RateLimits {
    per_ip: Option<Limiter>,
    per_client: Option<Limiter>,
}

impl RateLimits {
    /// Limiters for the configured rates (0 turns one off).
    pub fn new(per_ip: u32, per_client: u32) -> Self {
        RateLimits {
            per_ip: Limiter::new(per_ip),
            per_client: Limiter::new(per_client),
        }
    }

    fn enabled(&self) -> bool {
        self.per_ip.is_some() || self.per_client.is_some()
    }
}

/// The realm of a rate-limited request, or `None` when the path is not limited: the token
/// endpoint, the login forms (`login-actions`, POST), CIBA's endpoints (client credentials,
/// and each request makes the server call the authentication channel) and client
/// registration.
pub fn limited_realm<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix("/realms/")?;
    let (realm, rest) = rest.split_once('/')?;
    let credential_form = rest == "protocol/openid-connect/token"
        || rest.starts_with("login-actions/")
        || rest.starts_with("protocol/openid-connect/ext/ciba/");
    let limited =
        (credential_form && method == Method::POST) || rest.starts_with("clients-registrations/");
    limited.then_some(realm)
}

/// The key of an address: IPv6 callers get their /64, which one host usually owns whole.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The client a request names: `client_id` in the query or the form, or the user of HTTP
/// basic authentication (form-encoded, RFC 6749 §2.3.1).
pub fn client_id(headers: &HeaderMap, query: Option<&str>, form: &[u8]) -> Option<String> {
    let from_pairs = |bytes: &[u8]| {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, cred) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(cred.trim())
        })
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|d| {
            let d = String::from_utf8(d).ok()?;
            let (user, _) = d.split_once(':')?;
            url::form_urlencoded::parse(format!("u={user}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        })
        .filter(|v| !v.is_empty());
    basic
        .or_else(|| query.and_then(|q| from_pairs(q.as_bytes())))
        .or_else(|| from_pairs(form))
}

fn refused(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut r =
        OAuthError::too_many_requests(format!("Too many requests: retry after {secs} seconds"))
            .into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Middleware state.
#[derive(Clone)]
pub struct RateLimitState {
    /// The application.
    pub app: AppState,
    /// The limiters.
    pub limits: Arc<RateLimits>,
}

/// Middleware; runs after the body limit, so the body is already in memory.
pub async fn layer(State(s): State<RateLimitState>, req: Request, next: Next) -> Response {
    if !s.limits.enabled() {
        return next.run(req).await;
    }
    let Some(realm) = limited_realm(req.method(), req.uri().path()).map(str::to_string) else {
        return next.run(req).await;
    };
    let now = Instant::now();
    if let Some(l) = &s.limits.per_ip {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        if let Some(ip) = remote_addr(&s.app, req.headers(), peer) {
            if let Err(wait) = l.take(ip_key(ip), now) {
                return refused(wait);
            }
        }
    }
    let Some(l) = &s.limits.per_client else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    // The body limit layer has read the body into memory; this only takes the bytes back.
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return OAuthError::invalid_request("The request body could not be read")
                .into_response()
        }
    };
    if let Some(client) = client_id(&parts.headers, parts.uri.query(), &bytes) {
        if let Err(wait) = l.take(format!("{realm}\n{client}"), now) {
            return refused(wait);
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_capacity_then_refills_evenly() {
        let t0 = Instant::now();
        let mut b = Bucket::full(60, t0);
        for _ in 0..60 {
            assert!(b.take(60, t0).is_ok());
        }
        let wait = b.take(60, t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(b.take(60, t0 + Duration::from_millis(1001)).is_ok());
        assert!(b.take(60, t0 + Duration::from_millis(1001)).is_err());
        // A long pause refills to the capacity, not beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..60 {
            assert!(b.take(60, later).is_ok());
        }
        assert!(b.take(60, later).is_err());
    }

    #[test]
    fn only_the_credential_endpoints_are_limited() {
        let post = Method::POST;
        assert_eq!(
            limited_realm(&post, "/realms/r/protocol/openid-connect/token"),
            Some("r")
        );
        assert_eq!(
            limited_realm(&post, "/realms/r/login-actions/authenticate"),
            Some("r")
        );
        assert_eq!(
            limited_realm(&Method::GET, "/realms/r/clients-registrations/default/x"),
            Some("r")
        );
        assert_eq!(
            limited_realm(&Method::GET, "/realms/r/login-actions/authenticate"),
            None
        );
        assert_eq!(
            limited_realm(&post, "/realms/r/protocol/openid-connect/userinfo"),
            None
        );
        assert_eq!(
            limited_realm(&post, "/realms/r/protocol/openid-connect/ext/ciba/auth"),
            Some("r")
        );
        assert_eq!(limited_realm(&post, "/admin/realms/r/users"), None);
    }

    #[test]
    fn clients_are_named_by_basic_auth_query_or_form() {
        let mut h = HeaderMap::new();
        assert_eq!(
            client_id(&h, None, b"grant_type=x&client_id=app"),
            Some("app".into())
        );
        assert_eq!(
            client_id(&h, Some("client_id=web&x=1"), b""),
            Some("web".into())
        );
        let cred = base64::engine::general_purpose::STANDARD.encode("my%20app:secret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {cred}").parse().unwrap(),
        );
        assert_eq!(
            client_id(&h, None, b"client_id=other"),
            Some("my app".into())
        );
        assert_eq!(client_id(&HeaderMap::new(), None, b"grant_type=x"), None);
    }

    #[test]
    fn keys_are_bounded() {
        assert_eq!(bounded("r\napp".into()), "r\napp");
        assert_eq!(bounded("x".repeat(100_000)).len(), MAX_KEY_BYTES);
        let cut = bounded("é".repeat(200));
        assert!(cut.len() <= MAX_KEY_BYTES && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn ipv6_callers_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_eq!(ip_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
