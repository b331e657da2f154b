//! Test support (feature `testing`): a local issuer that serves Keycloak-shaped discovery and
//! JWKS documents over HTTP on `127.0.0.1:0`, signs tokens with locally generated keys, counts
//! the requests it gets and can be told to misbehave. For tests of services that use the guard;
//! never for production.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use portcullis_guard::{testing::{TestIssuer, TestKey}, Validator};
//!
//! let idp = TestIssuer::start().await?;
//! idp.add_realm("acme");
//! let key = TestKey::rsa("k1");
//! idp.publish(&key);
//! let validator = Arc::new(Validator::builder().issuer(idp.issuer("acme")).audience("api").build()?);
//! let token = idp.token("acme", &key).claim("aud", "api").sign();
//! let actor = validator.validate(&token).await?;
//! assert_eq!(actor.tenant.as_deref(), Some("acme"));
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::jwt::Algorithm;
use crate::validator::Clock;

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: SystemTime) -> Self {
        ManualClock(Mutex::new(now))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0.lock().map(|t| *t).unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

enum Signer {
    Rsa(RsaKeyPair, &'static sig::RsaSignatureEncoding),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A signing key with its public JWK.
pub struct TestKey {
    kid: String,
    alg: Algorithm,
    signer: Signer,
    jwk: Value,
    pkcs8: Vec<u8>,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn must<T, E: std::fmt::Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        #[allow(clippy::panic)]
        Err(e) => panic!("test key {what}: {e:?}"),
    }
}

impl TestKey {
    /// A fresh 2048-bit RSA key for RS256.
    pub fn rsa(kid: &str) -> TestKey {
        TestKey::rsa_with(kid, Algorithm::RS256)
    }

    /// A fresh 2048-bit RSA key for `alg` (RS256..PS512). Panics for non-RSA algorithms.
    pub fn rsa_with(kid: &str, alg: Algorithm) -> TestKey {
        let encoding: &'static sig::RsaSignatureEncoding = match alg {
            Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_SHA512,
            #[allow(clippy::panic)]
            other => panic!("{other} is not an RSA algorithm"),
        };
        let kp = must(RsaKeyPair::generate(KeySize::Rsa2048), "generate");
        let public = kp.public_key();
        let jwk = json!({
            "kid": kid, "kty": "RSA", "alg": alg.as_str(), "use": "sig",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        });
        let pkcs8 = must(kp.as_der(), "pkcs8").as_ref().to_vec();
        let public_der = must(public.as_der(), "spki").as_ref().to_vec();
        TestKey {
            kid: kid.to_owned(),
            alg,
            signer: Signer::Rsa(kp, encoding),
            jwk,
            pkcs8,
            public_der,
        }
    }

    /// A fresh P-256 key for ES256.
    pub fn ec_p256(kid: &str) -> TestKey {
        TestKey::ec(
            kid,
            Algorithm::ES256,
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            "P-256",
        )
    }

    /// A fresh P-384 key for ES384.
    pub fn ec_p384(kid: &str) -> TestKey {
        TestKey::ec(
            kid,
            Algorithm::ES384,
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            "P-384",
        )
    }

    fn ec(
        kid: &str,
        alg: Algorithm,
        signing: &'static sig::EcdsaSigningAlgorithm,
        crv: &str,
    ) -> TestKey {
        let kp = must(EcdsaKeyPair::generate(signing), "generate");
        let point = kp.public_key().as_ref().to_vec();
        let half = (point.len() - 1) / 2;
        let jwk = json!({
            "kid": kid, "kty": "EC", "crv": crv, "alg": alg.as_str(), "use": "sig",
            "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..]),
        });
        let pkcs8 = must(kp.to_pkcs8v1(), "pkcs8").as_ref().to_vec();
        TestKey {
            kid: kid.to_owned(),
            alg,
            signer: Signer::Ec(kp),
            jwk,
            pkcs8,
            public_der: point,
        }
    }

    /// A fresh Ed25519 key for EdDSA.
    pub fn ed25519(kid: &str) -> TestKey {
        let kp = must(Ed25519KeyPair::generate(), "generate");
        let public = kp.public_key().as_ref().to_vec();
        let jwk = json!({
            "kid": kid, "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "x": b64(&public),
        });
        let pkcs8 = must(kp.to_pkcs8v1(), "pkcs8").as_ref().to_vec();
        TestKey {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            signer: Signer::Ed(kp),
            jwk,
            pkcs8,
            public_der: public,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK (with `kid`, `alg` and `use: sig`).
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The private key as PKCS#8 DER (for signing with another JWT library).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key bytes: SPKI DER for RSA, the raw point or key for EC and Ed25519.
    pub fn public_key_bytes(&self) -> &[u8] {
        &self.public_der
    }

    /// Signs `header.claims` as a compact JWS with exactly this header.
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = match &self.signer {
            Signer::Rsa(kp, encoding) => {
                let mut out = vec![0; kp.public_modulus_len()];
                must(
                    kp.sign(*encoding, &SystemRandom::new(), input.as_bytes(), &mut out),
                    "sign",
                );
                out
            }
            Signer::Ec(kp) => must(kp.sign(&SystemRandom::new(), input.as_bytes()), "sign")
                .as_ref()
                .to_vec(),
            Signer::Ed(kp) => kp.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&signature))
    }
}

/// Claims and header of a token being built; see [`TestIssuer::token`].
#[must_use]
pub struct TokenBuilder<'k> {
    key: &'k TestKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl TokenBuilder<'_> {
    /// Sets (or replaces) a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets (or replaces) a header parameter, e.g. `kid`.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// The claims as they stand.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs the token.
    pub fn sign(self) -> String {
        self.key
            .sign_raw(&Value::Object(self.header), &Value::Object(self.claims))
    }
}

#[derive(Default)]
struct IssuerState {
    base: String,
    keys: RwLock<Vec<Value>>,
    realms: RwLock<HashSet<String>>,
    unavailable: AtomicBool,
    no_discovery: AtomicBool,
    jwks_uri_override: RwLock<Option<String>>,
    certs_body_override: RwLock<Option<String>>,
    /// Milliseconds every response is held back.
    delay_ms: AtomicU64,
    discovery_hits: AtomicUsize,
    certs_hits: AtomicUsize,
}

/// A local OpenID provider for tests: `GET /realms/{realm}/.well-known/openid-configuration`
/// and `GET /realms/{realm}/protocol/openid-connect/certs` for the realms added to it (others
/// are 404). Stops when dropped.
pub struct TestIssuer {
    state: Arc<IssuerState>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("base", &self.state.base)
            .finish_non_exhaustive()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn write<T>(lock: &RwLock<T>, f: impl FnOnce(&mut T)) {
    match lock.write() {
        Ok(mut g) => f(&mut g),
        Err(p) => f(&mut p.into_inner()),
    }
}

impl IssuerState {
    async fn delay(&self) {
        let ms = self.delay_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

async fn discovery(State(s): State<Arc<IssuerState>>, Path(realm): Path<String>) -> Response {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    s.delay().await;
    if s.unavailable.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if s.no_discovery.load(Ordering::SeqCst) || !read(&s.realms).contains(&realm) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let issuer = format!("{}/realms/{realm}", s.base);
    let jwks_uri = read(&s.jwks_uri_override)
        .unwrap_or_else(|| format!("{issuer}/protocol/openid-connect/certs"));
    Json(json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
    }))
    .into_response()
}

async fn certs(State(s): State<Arc<IssuerState>>, Path(realm): Path<String>) -> Response {
    s.certs_hits.fetch_add(1, Ordering::SeqCst);
    s.delay().await;
    if s.unavailable.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !read(&s.realms).contains(&realm) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(body) = read(&s.certs_body_override) {
        return ([("content-type", "application/json")], body).into_response();
    }
    Json(json!({ "keys": read(&s.keys) })).into_response()
}

impl TestIssuer {
    /// Starts the issuer on `127.0.0.1:0`, with no realms and no keys.
    pub async fn start() -> std::io::Result<TestIssuer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(IssuerState {
            base: format!("http://{addr}"),
            ..IssuerState::default()
        });
        let app = Router::new()
            .route(
                "/realms/{realm}/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/realms/{realm}/protocol/openid-connect/certs", get(certs))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "test issuer stopped");
            }
        });
        Ok(TestIssuer { state, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.state.base
    }

    /// The issuer URL of a realm: `http://127.0.0.1:<port>/realms/<realm>`.
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.state.base)
    }

    /// Makes a realm exist (its discovery and certs answer 200).
    pub fn add_realm(&self, realm: &str) {
        write(&self.state.realms, |r| {
            r.insert(realm.to_owned());
        });
    }

    /// Adds a key's public JWK to the key set of every realm.
    pub fn publish(&self, key: &TestKey) {
        self.publish_jwk(key.jwk());
    }

    /// Adds any JWK (possibly malformed, or an `oct` key) to the key set.
    pub fn publish_jwk(&self, jwk: Value) {
        write(&self.state.keys, |k| k.push(jwk));
    }

    /// Removes the keys with this `kid` from the key set.
    pub fn unpublish(&self, kid: &str) {
        write(&self.state.keys, |k| {
            k.retain(|jwk| jwk.get("kid").and_then(Value::as_str) != Some(kid));
        });
    }

    /// Removes every key from the key set.
    pub fn unpublish_all(&self) {
        write(&self.state.keys, Vec::clear);
    }

    /// When `false`, every request answers 503.
    pub fn set_available(&self, available: bool) {
        self.state.unavailable.store(!available, Ordering::SeqCst);
    }

    /// Holds every discovery and JWKS response back this long (a slow or hanging issuer).
    /// Requests are counted when they arrive. Default: no delay.
    pub fn set_response_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// When `false`, discovery answers 404 (clients must fall back to the certs path).
    pub fn set_discovery(&self, enabled: bool) {
        self.state.no_discovery.store(!enabled, Ordering::SeqCst);
    }

    /// Makes discovery announce this `jwks_uri` instead of the realm's certs URL.
    pub fn set_jwks_uri(&self, uri: Option<String>) {
        write(&self.state.jwks_uri_override, |u| *u = uri);
    }

    /// Makes the certs endpoint answer this body instead of the key set.
    pub fn set_certs_body(&self, body: Option<String>) {
        write(&self.state.certs_body_override, |b| *b = body);
    }

    /// Discovery requests received so far (any realm).
    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    /// JWKS requests received so far (any realm).
    pub fn certs_hits(&self) -> usize {
        self.state.certs_hits.load(Ordering::SeqCst)
    }

    /// A Keycloak-shaped access token of `realm`, signed by `key`: header `alg`, `typ: JWT`,
    /// `kid`; claims `iss`, `sub`, `typ: Bearer`, `azp`, `iat`, `exp` (+5 min), `scope`,
    /// `preferred_username`, `sid`. No `aud`: add it with `.claim("aud", ..)`.
    pub fn token<'k>(&self, realm: &str, key: &'k TestKey) -> TokenBuilder<'k> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = json!({"alg": key.alg().as_str(), "typ": "JWT", "kid": key.kid()});
        let claims = json!({
            "iss": self.issuer(realm),
            "sub": "5f1c7a2e-0000-4000-8000-000000000001",
            "typ": "Bearer",
            "azp": "test-client",
            "iat": now,
            "exp": now + 300,
            "sid": "0b9f6a2e-0000-4000-8000-00000000000a",
            "scope": "openid profile email",
            "preferred_username": "test-user",
        });
        let (Value::Object(header), Value::Object(claims)) = (header, claims) else {
            unreachable!("json! objects")
        };
        TokenBuilder {
            key,
            header,
            claims,
        }
    }
}
