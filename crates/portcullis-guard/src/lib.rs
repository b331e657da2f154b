//! # portcullis-guard
//!
//! Validate access tokens issued by Portcullis or Keycloak in a resource server (an API), for one
//! realm or for many (realm-per-tenant), and turn them into a typed [`Actor`].
//!
//! * **Issuers** are configured exactly (`https://idp.example.com/realms/acme`) or as a realm
//!   pattern (`https://idp.example.com/realms/tenant-*`). A token's `iss` is matched byte for
//!   byte against them before anything else happens; the realm name becomes [`Actor::tenant`].
//! * **Keys** come only from the matched issuer's JWKS (found through its discovery document),
//!   cached per issuer with a TTL, refreshed once per cooldown when a new `kid` shows up, in a
//!   bounded cache that also remembers failures. Header parameters such as `jku` or `jwk` are
//!   never followed.
//! * **Checks**: signature (asymmetric algorithms only: `none` and HMAC cannot be expressed),
//!   `exp`/`nbf`/`iat` with leeway, `iss`, `aud`, Keycloak's `typ: Bearer`, `sub`, and any
//!   claims you require.
//! * **HTTP** (features `tower` and `axum`, on by default): [`GuardLayer`] for any tower
//!   service, `Actor` as an axum extractor, [`require_realm_role`] and friends, and RFC 6750
//!   error responses. A request header `X-Tenant-Id`, when sent, must name the token's realm.
//!
//! Every option has a safe default ([`ValidatorBuilder`]); the risky ones are named
//! `insecure_*`. The `testing` feature adds [`testing::TestIssuer`], a local issuer for tests.
//!
//! ## Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{routing::get, Json, Router};
//! use portcullis_guard::{require_realm_role, Actor, GuardLayer, Validator};
//!
//! async fn whoami(actor: Actor) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "sub": actor.sub, "tenant": actor.tenant }))
//! }
//!
//! async fn admin_only(actor: Actor) -> &'static str {
//!     "hello, admin"
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let validator = Arc::new(
//!         Validator::builder()
//!             .issuer("https://idp.example.com/realms/tenant-*")
//!             .audience("orders-api")
//!             .build()?,
//!     );
//!
//!     let app = Router::new()
//!         // The extractor finds the validator in the state (`Arc<Validator>: FromRef<S>`).
//!         .route("/me", get(whoami))
//!         // Or authenticate with a layer, and add guards inside it.
//!         .merge(
//!             Router::new()
//!                 .route("/admin", get(admin_only))
//!                 .route_layer(require_realm_role("admin"))
//!                 .route_layer(GuardLayer::new(validator.clone())),
//!         )
//!         .with_state(validator);
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Without a web framework:
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let validator = portcullis_guard::Validator::builder()
//!     .issuer("https://idp.example.com/realms/acme")
//!     .audience("orders-api")
//!     .build()?;
//! let actor = validator.validate(token).await?;
//! if actor.has_client_role("orders-api", "refund") { /* ... */ }
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod actor;
mod b64;
mod claims;
mod error;
mod issuer;
mod jwks;
mod jwt;
mod keys;
mod validator;

#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "tower")]
pub mod enforcer;
#[cfg(feature = "tower")]
pub mod http;
#[cfg(feature = "testing")]
pub mod testing;

pub use actor::{Actor, Claims, Organization};
pub use error::{ConfigError, Error};
pub use issuer::TrustedIssuer;
pub use jwt::Algorithm;
pub use validator::{
    Clock, SystemClock, Validator, ValidatorBuilder, DEFAULT_MAX_TOKEN_SIZE, DEFAULT_TENANT_HEADER,
};

#[cfg(feature = "tower")]
pub use crate::enforcer::{PolicyEnforcer, PolicyEnforcerConfig, PolicyEnforcerLayer};
#[cfg(feature = "tower")]
pub use crate::http::{
    require_client_role, require_org, require_realm_role, require_scope, GuardLayer, RequireLayer,
};
