//! GET /protected   validate the bearer token and echo who it is for (local end-to-end checks).
//! GET|POST|PUT|DELETE /events, /tickets, /orders (and `/{id}` below each)
//!                   with `POLICY_ENFORCER_CONFIG`: seed 000's resources, each request allowed
//!                   or denied by the server's Authorization Services (the policy enforcer).
//!
//! The Rust counterpart of `validation-server.js`, built on `portcullis-guard`:
//!
//! * `200 {"ok":true,"sub","org","org_id","scope","aud"}` for a valid access token that carries
//!   the required audience;
//! * `401` (`WWW-Authenticate: Bearer ...`) for a missing, malformed, expired, untrusted or
//!   badly signed token;
//! * `403` (`Bearer error="insufficient_scope"`) for a valid token without the required audience
//!   (as `validation-server.js` answers), or an `X-Tenant-Id` header naming another realm.
//!
//! Environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ISSUER` | `http://localhost:8080/realms/event-platform-organizations` | trusted issuer, exact or a realm pattern ending in `*` (`https://idp/realms/tenant-*`) |
//! | `AUD_REQUIRED` | `event-platform-backend` | audience the token must carry |
//! | `PORT` | `3000` | port to listen on; `0` picks a free one |
//! | `HOST` | `127.0.0.1` | address to listen on |
//! | `INSECURE_ALLOW_HTTP_ISSUER` | `false` | allow an `http://` issuer on a non-loopback host (e.g. `http://keycloak:8080` in compose) |
//! | `POLICY_ENFORCER_CONFIG` | unset | path of a Keycloak `policy-enforcer.json` (see `policy-enforcer.json` beside this crate's `Cargo.toml`); when set, the `/events`, `/tickets` and `/orders` routes are served behind the policy enforcer |
//!
//! Behind the enforcer a request answers `200 {"ok":true,"resource","permissions","sub","method"}`
//! when the server grants the path's resource and the method's scope (`GET`: `<resource>:read`,
//! the others: `<resource>:manage`), `403` when it does not, `401` without a valid token (or,
//! with `"user-managed-access": {}`, `401` with a UMA permission ticket in `WWW-Authenticate`).
//!
//! After binding it prints one line, `listening on http://<host>:<port>`, to stdout.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::Method;
use axum::routing::get;
use axum::{Extension, Json, Router};
use portcullis_guard::enforcer::AuthorizationContext;
use portcullis_guard::{
    Actor, Error, PolicyEnforcer, PolicyEnforcerConfig, PolicyEnforcerLayer, Validator,
};
use serde_json::{json, Value};

#[derive(Clone)]
struct AppState {
    validator: Arc<Validator>,
    audience: Arc<str>,
}

impl FromRef<AppState> for Arc<Validator> {
    fn from_ref(state: &AppState) -> Self {
        state.validator.clone()
    }
}

async fn protected(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, Error> {
    // The audience is checked here rather than in the validator so that a wrong audience answers
    // 403, as validation-server.js does (the validator alone would answer 401 invalid_token).
    actor.require_audience(&state.audience)?;
    let claim = |name: &str| actor.claims.get(name).cloned().unwrap_or(Value::Null);
    Ok(Json(json!({
        "ok": true,
        "sub": actor.sub,
        "org": claim("organization"),
        "org_id": claim("org_id"),
        "scope": claim("scope"),
        "aud": claim("aud"),
    })))
}

async fn index() -> &'static str {
    "Validation server up. GET /protected with Bearer token.\n"
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A route of seed 000's resources, reached only through the policy enforcer.
async fn resource(
    method: Method,
    Extension(actor): Extension<Actor>,
    Extension(ctx): Extension<AuthorizationContext>,
) -> Json<Value> {
    Json(json!({
        "ok": true,
        "method": method.as_str(),
        "resource": ctx.resource,
        "permissions": ctx.permissions,
        "sub": actor.sub,
    }))
}

/// `/events`, `/tickets`, `/orders` and `/{id}` below each, behind the enforcer.
fn enforced_routes(enforcer: Arc<PolicyEnforcer>) -> Router<AppState> {
    let any = get(resource).post(resource).put(resource).delete(resource);
    let mut router = Router::new();
    for base in ["/events", "/tickets", "/orders"] {
        router = router
            .route(base, any.clone())
            .route(&format!("{base}/{{id}}"), any.clone());
    }
    router.route_layer(PolicyEnforcerLayer::new(enforcer))
}

fn app(validator: Arc<Validator>, audience: &str, enforcer: Option<Arc<PolicyEnforcer>>) -> Router {
    let mut router = Router::new().route("/protected", get(protected));
    if let Some(enforcer) = enforcer {
        router = router.merge(enforced_routes(enforcer));
    }
    router.fallback(index).with_state(AppState {
        validator,
        audience: audience.into(),
    })
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = env_or(
        "ISSUER",
        "http://localhost:8080/realms/event-platform-organizations",
    );
    let audience = env_or("AUD_REQUIRED", "event-platform-backend");
    let port: u16 = env_or("PORT", "3000")
        .parse()
        .map_err(|e| format!("PORT: {e}"))?;
    let host: std::net::IpAddr = env_or("HOST", "127.0.0.1")
        .parse()
        .map_err(|e| format!("HOST: {e}"))?;
    let allow_http = matches!(
        env_or("INSECURE_ALLOW_HTTP_ISSUER", "false").as_str(),
        "1" | "true" | "yes"
    );
    if audience.is_empty() {
        return Err("AUD_REQUIRED must not be empty".into());
    }

    let validator = Arc::new(
        Validator::builder()
            .issuer(issuer.as_str())
            .insecure_allow_http_issuer(allow_http)
            // Checked in the handler (403), see `protected`; behind the enforcer the server
            // decides (the UMA grant names the resource server as `audience`).
            .insecure_skip_audience_check(true)
            .build()
            .map_err(|e| format!("ISSUER: {e}"))?,
    );
    let enforcer = match std::env::var("POLICY_ENFORCER_CONFIG") {
        Ok(path) => {
            let json = std::fs::read_to_string(&path)
                .map_err(|e| format!("POLICY_ENFORCER_CONFIG: {path}: {e}"))?;
            let config = PolicyEnforcerConfig::from_json(&json)
                .map_err(|e| format!("POLICY_ENFORCER_CONFIG: {e}"))?;
            let enforcer = PolicyEnforcer::builder(config, validator.clone())
                .insecure_allow_http(allow_http)
                .build()
                .await
                .map_err(|e| format!("POLICY_ENFORCER_CONFIG: {e}"))?;
            Some(Arc::new(enforcer))
        }
        Err(_) => None,
    };

    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%issuer, %audience, "validation server configured");
    println!("listening on http://{addr}");
    axum::serve(listener, app(validator, &audience, enforcer))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("validation-server: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
