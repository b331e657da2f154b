//! `Validator`: the explicit, shareable state of the guard, and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::actor::{Actor, Claims};
use crate::claims::{self, Claim, ClaimRules};
use crate::error::{ConfigError, Error};
use crate::issuer::{self, TrustedIssuer};
use crate::jwt::{self, Algorithm};
use crate::keys::{KeyCache, KeyConfig};

/// The source of the current time, injected so tests can pin it.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The default name of the request header that names the tenant a request is meant for.
pub const DEFAULT_TENANT_HEADER: &str = "x-tenant-id";

/// The default longest token accepted, in bytes: the Portcullis server's own limit (its
/// `MAX_TOKEN_LEN`), which is above any token it issues. An access token grows with the roles
/// in scope, and a 16 KiB limit refused tokens the server had issued.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 256 * 1024;

/// Validates access tokens of one or more trusted issuers and turns them into [`Actor`]s.
///
/// Owns a per-issuer JWKS cache; build one at start-up, wrap it in an [`Arc`] and share it.
/// See [`ValidatorBuilder`] for every option and its default.
pub struct Validator {
    issuers: Vec<TrustedIssuer>,
    algorithms: Vec<Algorithm>,
    rules: ClaimRules,
    max_token_size: usize,
    tenant_header: Option<String>,
    keys: KeyCache,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("issuers", &self.issuers)
            .field("algorithms", &self.algorithms)
            .field("rules", &self.rules)
            .field("max_token_size", &self.max_token_size)
            .field("tenant_header", &self.tenant_header)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Starts a configuration. At least one issuer and one audience are required.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// Validates a bearer token (the compact JWT, without `Bearer `) and returns its actor.
    ///
    /// Order of checks: size; JWS shape and header (`alg` on the allowlist, no `crit`); `iss`
    /// (read from the unverified payload only to pick the issuer) against the configured issuers;
    /// time, issuer, audience, `typ`, `sub` and required claims; then the signature with a key
    /// from that issuer's JWKS. Nothing is trusted until every check has passed.
    pub async fn validate(&self, token: &str) -> Result<Actor, Error> {
        let result = self.validate_inner(token).await;
        if let Err(e) = &result {
            tracing::debug!(error = %e, "token rejected");
        }
        result
    }

    async fn validate_inner(&self, token: &str) -> Result<Actor, Error> {
        if token.len() > self.max_token_size {
            return Err(Error::TokenTooLarge);
        }
        // On the heap: the parsed token lives across the key-cache lookup, and inline it would
        // make this future (built and moved on every call) over a kilobyte larger.
        let mut jwt = Box::new(jwt::parse(
            token,
            &self.algorithms,
            &self.rules.required_claims,
        )?);
        let iss = match &jwt.known.iss {
            Some(Claim::String(s)) => s.as_str(),
            _ => return Err(Error::UntrustedIssuer),
        };
        let matched = issuer::route(&self.issuers, iss).ok_or(Error::UntrustedIssuer)?;
        // Cheap claim checks first, so expired or misdirected tokens never cause a key fetch.
        claims::check_known(&jwt.known, matched.iss, &self.rules, self.unix_now())?;
        self.keys.verify(matched.iss, &jwt).await?;
        let tenant = matched.tenant.map(str::to_owned);
        // Out of the box field by field: moving the whole value out would copy the signature too.
        let known = std::mem::take(&mut jwt.known);
        Actor::from_known(
            known,
            tenant,
            Claims::from_payload(std::mem::take(&mut jwt.payload)),
        )
    }

    /// Checks the tenant a request names (the value of the tenant header, if any) against the
    /// actor's tenant. `None` (no header) passes; anything else must equal the realm name.
    /// The header is never used to choose keys or issuers.
    pub fn check_tenant(&self, actor: &Actor, requested: Option<&str>) -> Result<(), Error> {
        match requested {
            None => Ok(()),
            Some(t) if actor.tenant.as_deref() == Some(t) => Ok(()),
            Some(_) => Err(Error::TenantMismatch),
        }
    }

    /// The (lower-case) name of the tenant header, or `None` if the check is off.
    pub fn tenant_header(&self) -> Option<&str> {
        self.tenant_header.as_deref()
    }

    /// How many issuers the key cache holds now (successful and failed loads).
    pub async fn cached_issuer_count(&self) -> u64 {
        self.keys.issuer_count().await
    }

    fn unix_now(&self) -> i64 {
        match self.clock.now().duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

/// Configuration of a [`Validator`]. Every option has a safe default, listed on its method.
#[derive(Debug, Clone)]
pub struct ValidatorBuilder {
    issuers: Vec<String>,
    audiences: Vec<String>,
    accept_azp_as_audience: bool,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    max_token_size: usize,
    required_claims: Vec<String>,
    key_ttl: Duration,
    negative_ttl: Duration,
    refresh_cooldown: Duration,
    max_issuers: u64,
    connect_timeout: Duration,
    fetch_timeout: Duration,
    max_response_size: usize,
    max_concurrent_fetches: usize,
    use_discovery: bool,
    tenant_header: Option<String>,
    insecure_allow_http_issuer: bool,
    insecure_skip_audience_check: bool,
    insecure_skip_typ_check: bool,
    clock: Arc<dyn Clock>,
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        ValidatorBuilder {
            issuers: Vec::new(),
            audiences: Vec::new(),
            accept_azp_as_audience: false,
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(30),
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
            required_claims: Vec::new(),
            key_ttl: Duration::from_secs(600),
            negative_ttl: Duration::from_secs(30),
            refresh_cooldown: Duration::from_secs(30),
            max_issuers: 1000,
            connect_timeout: Duration::from_secs(2),
            fetch_timeout: Duration::from_secs(5),
            max_response_size: 256 * 1024,
            max_concurrent_fetches: 16,
            use_discovery: true,
            tenant_header: Some(DEFAULT_TENANT_HEADER.to_owned()),
            insecure_allow_http_issuer: false,
            insecure_skip_audience_check: false,
            insecure_skip_typ_check: false,
            clock: Arc::new(SystemClock),
        }
    }
}

impl ValidatorBuilder {
    /// Trusts an issuer: an exact URL (`https://idp.example.com/realms/acme`) or a realm pattern
    /// ending in `*` (`https://idp.example.com/realms/tenant-*`: any realm whose name starts with
    /// `tenant-`). Repeatable. Required: no issuer is trusted by default.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` contains this audience (usually the resource server's client
    /// id). Repeatable; any one suffices. Required unless [`Self::insecure_skip_audience_check`].
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Also accepts a token whose `azp` (the client it was issued to) is a configured audience.
    /// Default: `false`. Useful when the resource server and the client are the same Keycloak
    /// client and no audience mapper is configured.
    pub fn accept_azp_as_audience(mut self, yes: bool) -> Self {
        self.accept_azp_as_audience = yes;
        self
    }

    /// The signature algorithm allowlist. Default: RS256, RS384, RS512, PS256, PS384, PS512,
    /// ES256, ES384, EdDSA. `none` and HMAC cannot be named.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Clock skew tolerated for `exp`, `nbf` and `iat`. Default: 30 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Longest token accepted, in bytes. Default: [`DEFAULT_MAX_TOKEN_SIZE`] (256 KiB).
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }

    /// A claim that must be present (and not `null`). Repeatable. Default: none beyond `exp`
    /// and `sub`, which are always required.
    pub fn required_claim(mut self, claim: impl Into<String>) -> Self {
        self.required_claims.push(claim.into());
        self
    }

    /// How long an issuer's keys are cached. Default: 10 minutes.
    pub fn key_ttl(mut self, ttl: Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    /// How long a failed key load is remembered (no new fetch for that issuer meanwhile).
    /// Default: 30 s.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Minimum time between two JWKS fetches of one issuer caused by an unknown `kid`.
    /// Default: 30 s.
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self
    }

    /// Most issuers whose keys (or failures) are cached; least recently used go first.
    /// Default: 1000.
    pub fn max_issuers(mut self, n: u64) -> Self {
        self.max_issuers = n;
        self
    }

    /// TCP connect timeout of key fetches. Default: 2 s.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Total timeout of one HTTP request of a key fetch. Default: 5 s.
    pub fn fetch_timeout(mut self, t: Duration) -> Self {
        self.fetch_timeout = t;
        self
    }

    /// Largest discovery or JWKS response read. Default: 256 KiB.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Most key fetches in flight at once, over all issuers. Default: 16.
    pub fn max_concurrent_fetches(mut self, n: usize) -> Self {
        self.max_concurrent_fetches = n;
        self
    }

    /// Whether to read `jwks_uri` from `<iss>/.well-known/openid-configuration` (it must be on
    /// the issuer's origin). When `false`, or when discovery is unavailable, keys come from
    /// Keycloak's `<iss>/protocol/openid-connect/certs`. Default: `true`.
    pub fn use_discovery(mut self, yes: bool) -> Self {
        self.use_discovery = yes;
        self
    }

    /// The request header naming the tenant a request is for; when present it must equal the
    /// token's realm, or the request is refused with 403. `None` turns the check off.
    /// Default: `X-Tenant-Id`.
    pub fn tenant_header(mut self, name: Option<&str>) -> Self {
        self.tenant_header = name.map(str::to_ascii_lowercase);
        self
    }

    /// Allows `http://` issuers on any host. Default: `false` (http only for `localhost`,
    /// `127.0.0.0/8` and `[::1]`; https everywhere else). Keys fetched over plain http can be
    /// replaced by anyone on the network path.
    pub fn insecure_allow_http_issuer(mut self, yes: bool) -> Self {
        self.insecure_allow_http_issuer = yes;
        self
    }

    /// Skips the `aud` check. Default: `false`. Without it, any token of the issuer, for any
    /// client, is accepted; only use it when the handler checks the audience itself
    /// ([`Actor::require_audience`]).
    pub fn insecure_skip_audience_check(mut self, yes: bool) -> Self {
        self.insecure_skip_audience_check = yes;
        self
    }

    /// Skips the `typ == "Bearer"` check. Default: `false`. Without it, ID tokens (and, for some
    /// issuers, refresh tokens) whose audience matches would be accepted as access tokens. Only
    /// for issuers that do not put Keycloak's `typ` claim in access tokens.
    pub fn insecure_skip_typ_check(mut self, yes: bool) -> Self {
        self.insecure_skip_typ_check = yes;
        self
    }

    /// The time source. Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the validator.
    pub fn build(self) -> Result<Validator, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::new(
                "issuer",
                "at least one issuer is required",
            ));
        }
        let issuers = self
            .issuers
            .iter()
            .map(|i| TrustedIssuer::parse(i, self.insecure_allow_http_issuer))
            .collect::<Result<Vec<_>, _>>()?;
        if self.audiences.is_empty() && !self.insecure_skip_audience_check {
            return Err(ConfigError::new(
                "audience",
                "at least one audience is required (or insecure_skip_audience_check)",
            ));
        }
        if self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::new("audience", "an audience cannot be empty"));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::new("algorithms", "the allowlist is empty"));
        }
        if self.max_issuers == 0 {
            return Err(ConfigError::new("max_issuers", "must be at least 1"));
        }
        if self.max_concurrent_fetches == 0 {
            return Err(ConfigError::new(
                "max_concurrent_fetches",
                "must be at least 1",
            ));
        }
        if let Some(h) = &self.tenant_header {
            let valid = !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid {
                return Err(ConfigError::new("tenant_header", "not a valid header name"));
            }
        }
        let leeway_secs = i64::try_from(self.leeway.as_secs())
            .map_err(|_| ConfigError::new("leeway", "too large"))?;
        let rules = ClaimRules {
            leeway_secs,
            audiences: self.audiences,
            check_audience: !self.insecure_skip_audience_check,
            accept_azp_as_audience: self.accept_azp_as_audience,
            expected_typ: (!self.insecure_skip_typ_check).then(|| "Bearer".to_owned()),
            required_claims: self.required_claims,
        };
        let keys = KeyCache::new(
            KeyConfig {
                key_ttl: self.key_ttl,
                negative_ttl: self.negative_ttl,
                refresh_cooldown: self.refresh_cooldown,
                max_issuers: self.max_issuers,
                connect_timeout: self.connect_timeout,
                fetch_timeout: self.fetch_timeout,
                max_response_size: self.max_response_size,
                max_concurrent_fetches: self.max_concurrent_fetches,
                use_discovery: self.use_discovery,
                algorithms: self.algorithms.clone(),
            },
            self.clock.clone(),
        )?;
        Ok(Validator {
            issuers,
            algorithms: self.algorithms,
            rules,
            max_token_size: self.max_token_size,
            tenant_header: self.tenant_header,
            keys,
            clock: self.clock,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn base() -> ValidatorBuilder {
        Validator::builder()
            .issuer("https://idp.example.com/realms/acme")
            .audience("api")
    }

    #[tokio::test]
    async fn builder_requires_issuer_and_audience() {
        assert_eq!(
            Validator::builder()
                .audience("a")
                .build()
                .unwrap_err()
                .option,
            "issuer"
        );
        let e = Validator::builder()
            .issuer("https://idp.example.com/realms/acme")
            .build()
            .unwrap_err();
        assert_eq!(e.option, "audience");
        assert!(Validator::builder()
            .issuer("https://idp.example.com/realms/acme")
            .insecure_skip_audience_check(true)
            .build()
            .is_ok());
        assert!(base().build().is_ok());
    }

    #[tokio::test]
    async fn builder_rejects_bad_values() {
        assert!(base()
            .issuer("http://idp.example.com/realms/x")
            .build()
            .is_err());
        assert!(base()
            .issuer("http://idp.example.com/realms/x")
            .insecure_allow_http_issuer(true)
            .build()
            .is_ok());
        assert!(base().algorithms(&[]).build().is_err());
        assert!(base().max_issuers(0).build().is_err());
        assert!(base().tenant_header(Some("x tenant")).build().is_err());
        assert!(base().tenant_header(None).build().is_ok());
        assert!(base().audience("").build().is_err());
    }

    #[tokio::test]
    async fn untrusted_issuers_are_refused_before_any_fetch() {
        use base64::Engine as _;
        let v = base().build().unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for iss in [
            r#""https://evil.example.com/realms/acme""#,
            r#""https://idp.example.com/realms/acme/""#,
            r#"["https://idp.example.com/realms/acme"]"#,
            "null",
        ] {
            let t = format!(
                "{}.{}.c2ln",
                b64(r#"{"alg":"RS256","kid":"k"}"#),
                b64(&format!(r#"{{"iss":{iss},"sub":"u"}}"#))
            );
            assert_eq!(v.validate(&t).await, Err(Error::UntrustedIssuer), "{iss}");
        }
        assert_eq!(v.cached_issuer_count().await, 0);
        let huge = "a".repeat(DEFAULT_MAX_TOKEN_SIZE + 1);
        assert_eq!(v.validate(&huge).await, Err(Error::TokenTooLarge));
    }

    #[test]
    fn tenant_check() {
        let v = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async { base().build().unwrap() });
        let serde_json::Value::Object(m) = serde_json::json!({
            "sub": "u", "iss": "https://idp.example.com/realms/acme"
        }) else {
            panic!()
        };
        let a = Actor::from_verified_claims(m).unwrap();
        assert_eq!(v.check_tenant(&a, None), Ok(()));
        assert_eq!(v.check_tenant(&a, Some("acme")), Ok(()));
        assert_eq!(
            v.check_tenant(&a, Some("other")),
            Err(Error::TenantMismatch)
        );
        assert_eq!(v.check_tenant(&a, Some("")), Err(Error::TenantMismatch));
        assert_eq!(v.tenant_header(), Some("x-tenant-id"));
    }
}
