//! axum integration: [`Actor`] as an extractor and [`Error`] as a response.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::http::{authenticate, error_response};
use crate::{Actor, Error, Validator};

/// Extracts the authenticated [`Actor`].
///
/// If [`crate::GuardLayer`] already authenticated the request, its actor is reused; otherwise
/// the `Arc<Validator>` comes from the router state through [`FromRef`] and the request is
/// authenticated here (bearer token, validation, `X-Tenant-Id` check). Rejects with [`Error`].
impl<S> FromRequestParts<S> for Actor
where
    Arc<Validator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        let validator = match parts.extensions.get::<Arc<Validator>>() {
            Some(v) => v.clone(),
            None => Arc::<Validator>::from_ref(state),
        };
        let actor = authenticate(&validator, &parts.headers).await?;
        parts.extensions.insert(actor.clone());
        Ok(actor)
    }
}

/// `Option<Actor>`: `None` when the request carries no `Authorization` header at all; a
/// request with a bad token is still rejected.
impl<S> OptionalFromRequestParts<S> for Actor
where
    Arc<Validator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.extensions.get::<Actor>().is_none() && !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(None);
        }
        <Actor as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// RFC 6750 §3: `401` with `WWW-Authenticate: Bearer` (no token) or
/// `Bearer error="invalid_token"`, `403` with `Bearer error="insufficient_scope"`. The body is
/// `{"error": "<code>"}` (empty when no token was sent) and never says which check failed.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response: Response = error_response(&self);
        if let Some(code) = self.rfc6750_code() {
            *response.body_mut() = axum::body::Body::from(format!("{{\"error\":\"{code}\"}}"));
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
        }
        response
    }
}
