//! The request context events read: the caller's address, and who called the Admin API. Set
//! once per request by [`layer`] (a task-local, so flows report events without passing the
//! address along), which also records the admin event of an Admin API write once the handler
//! answered ([`super::admin_hook`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Who called the Admin API (Keycloak's `AuthDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthDetails {
    /// The caller's realm id.
    pub realm_id: String,
    /// The caller's client, by internal id.
    pub client_id: Option<String>,
    /// The caller's user id.
    pub user_id: String,
}

/// What one request knows.
#[derive(Debug, Default)]
pub struct RequestContext {
    /// The caller's address.
    pub ip: Option<IpAddr>,
    /// The Admin API caller, once authenticated.
    pub admin: Mutex<Option<AuthDetails>>,
}

tokio::task_local! {
    static CONTEXT: Arc<RequestContext>;
}

/// The caller's address of the current request (none outside a request).
pub fn remote_ip() -> Option<IpAddr> {
    CONTEXT.try_with(|c| c.ip).ok().flatten()
}

/// Records the authenticated Admin API caller of the current request.
pub fn set_admin_caller(details: AuthDetails) {
    let _ = CONTEXT.try_with(|c| {
        if let Ok(mut a) = c.admin.lock() {
            *a = Some(details);
        }
    });
}

/// Runs `f` with `ctx` as the request context (tests, and [`layer`]).
pub async fn scope<F: std::future::Future>(ctx: Arc<RequestContext>, f: F) -> F::Output {
    CONTEXT.scope(ctx, f).await
}

/// Middleware: sets the request context, and records the admin event of an Admin API write.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // A request routed a second time (the trailing-slash retry) keeps its first context.
    if CONTEXT.try_with(|_| ()).is_ok() {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = crate::http::remote::remote_addr(&state, req.headers(), peer);
    let ctx = Arc::new(RequestContext {
        ip,
        admin: Mutex::new(None),
    });
    match super::admin_hook::Pending::of(&state, req).await {
        Ok((pending, req)) => {
            let response = scope(ctx.clone(), next.run(req)).await;
            if let Some(p) = pending {
                p.record(&state, &ctx, &response);
            }
            response
        }
        Err(response) => response,
    }
}
