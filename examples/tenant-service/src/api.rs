//! HTTP: the routes, the guard and the `X-Tenant-Id` rule.
//!
//! ```text
//! POST /tenants                  create a tenant (realm tenant-<slug>)      platform_admin
//! GET  /tenants/{id}             its metadata                               platform_admin, own tenant_admin/auditor
//! POST /tenants/{id}/users       create a user in its realm                 platform_admin, own tenant_admin
//! GET  /me                       who the token says the caller is           any trusted token
//! ```
//! Every route needs a bearer token of a trusted issuer (`portcullis-guard`: the platform
//! realm, or any `tenant-*` realm). The tenant is derived from the token's issuer; a request
//! header `X-Tenant-Id` that names another tenant is refused with 403.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use portcullis_guard::{Actor, GuardLayer, Validator};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::policy::Principal;
use crate::service::{CreateTenant, CreateUser, Tenants};
use crate::slug;

/// The header a caller may use to name its tenant.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// The router.
pub fn router(tenants: Arc<Tenants>, validator: Arc<Validator>) -> Router {
    Router::new()
        .route("/tenants", post(create_tenant))
        .route("/tenants/{id}", get(get_tenant))
        .route("/tenants/{id}/users", post(create_user))
        .route("/me", get(me))
        .layer(middleware::from_fn(tenant_header))
        .layer(GuardLayer::new(validator))
        .with_state(tenants)
}

/// After the guard: the principal from the token, and the `X-Tenant-Id` check against it.
async fn tenant_header(mut req: Request, next: Next) -> Response {
    let Some(actor) = req.extensions().get::<Actor>() else {
        return ApiError::Internal("no actor behind the guard".into()).into_response();
    };
    let principal = Principal::from_actor(actor);
    let header = match req.headers().get(TENANT_HEADER).map(|h| h.to_str()) {
        None => None,
        Some(Ok(h)) => Some(h.to_owned()),
        Some(Err(_)) => {
            return ApiError::BadRequest("X-Tenant-Id is not valid text".into()).into_response()
        }
    };
    if let Err(e) = slug::check_tenant_header(principal.tenant.as_deref(), header.as_deref()) {
        tracing::warn!(sub = %principal.sub, realm = %principal.realm, "refused: {e}");
        return ApiError::TenantMismatch(e).into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {}", e.body_text())))
}

async fn create_tenant(
    State(tenants): State<Arc<Tenants>>,
    Extension(who): Extension<Principal>,
    req: Result<Json<CreateTenant>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    let (tenant, body) = tenants.create_tenant(Uuid::new_v4(), &who, &req).await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = format!("/tenants/{}", tenant.tenant_id).parse() {
        headers.insert(header::LOCATION, v);
    }
    // The body carries a client secret: never cached.
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

async fn get_tenant(
    State(tenants): State<Arc<Tenants>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = tenants.get_tenant(Uuid::new_v4(), &who, &id).await?;
    Ok(Json(json!(t)))
}

async fn create_user(
    State(tenants): State<Arc<Tenants>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    req: Result<Json<CreateUser>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req)?;
    let created = tenants.create_user(Uuid::new_v4(), &who, &id, &req).await?;
    let mut headers = HeaderMap::new();
    if let Some(Ok(v)) = created["id"]
        .as_str()
        .map(|u| format!("/tenants/{id}/users/{u}").parse())
    {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(created)).into_response())
}

async fn me(
    Extension(actor): Extension<Actor>,
    Extension(who): Extension<Principal>,
) -> Json<Value> {
    Json(json!({
        "sub": who.sub,
        "username": who.username,
        "issuer": actor.issuer,
        "realm": who.realm,
        "tenantId": who.tenant,
        "roles": who.roles,
        "departmentId": actor.claims.get("department_id"),
    }))
}
