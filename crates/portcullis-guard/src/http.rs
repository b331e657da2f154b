//! HTTP integration for any tower service: `Authorization: Bearer` (RFC 6750 §2.1) extraction,
//! [`GuardLayer`] and the `require_*` guard layers. Rejections follow RFC 6750 §3.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::{Actor, Error, Validator};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The token of an `Authorization: Bearer <token>` header.
///
/// No header, or another scheme (e.g. `Basic`), is [`Error::MissingToken`]; several
/// `Authorization` headers, a non-ASCII value or an empty or spaced token are
/// [`Error::Malformed`].
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            Error::Malformed
        } else {
            Error::MissingToken
        });
    };
    let value = value.to_str().map_err(|_| Error::Malformed)?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(if value.eq_ignore_ascii_case("bearer") {
            Error::Malformed
        } else {
            Error::MissingToken
        });
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::MissingToken);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() || token.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(Error::Malformed);
    }
    Ok(token)
}

/// Authenticates a request: bearer token, validation, then the tenant header check.
pub async fn authenticate(validator: &Validator, headers: &HeaderMap) -> Result<Actor, Error> {
    let token = bearer_token(headers)?;
    let actor = validator.validate(token).await?;
    if let Some(name) = validator.tenant_header() {
        let mut values = headers.get_all(name).iter();
        let requested = match (values.next(), values.next()) {
            (None, _) => None,
            (Some(v), None) => Some(v.to_str().map_err(|_| Error::TenantMismatch)?),
            (Some(_), Some(_)) => return Err(Error::TenantMismatch),
        };
        validator.check_tenant(&actor, requested)?;
    }
    Ok(actor)
}

/// The RFC 6750 response for an error: status, `WWW-Authenticate`, `Cache-Control: no-store`
/// and an empty body (the body never says which check failed).
pub fn error_response<B: Default>(error: &Error) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = if error.is_forbidden() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNAUTHORIZED
    };
    let headers = response.headers_mut();
    headers.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(error.www_authenticate()),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A tower [`Layer`] that authenticates every request with a [`Validator`], inserts the
/// [`Actor`] (and the `Arc<Validator>`) into the request extensions and calls the inner service;
/// or answers 401/403 itself (see [`error_response`]).
#[derive(Debug, Clone)]
pub struct GuardLayer {
    validator: Arc<Validator>,
}

impl GuardLayer {
    /// A layer that authenticates with this validator.
    pub fn new(validator: Arc<Validator>) -> Self {
        GuardLayer { validator }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            validator: self.validator.clone(),
        }
    }
}

/// The service of [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    validator: Arc<Validator>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Guard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; swap so the instance that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let validator = self.validator.clone();
        Box::pin(async move {
            match authenticate(&validator, req.headers()).await {
                Ok(actor) => {
                    req.extensions_mut().insert(actor);
                    req.extensions_mut().insert(validator);
                    inner.call(req).await
                }
                Err(e) => Ok(error_response(&e)),
            }
        })
    }
}

/// What a guard layer requires of the [`Actor`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    RealmRole(String),
    ClientRole { client: String, role: String },
    Scope(String),
    Org(String),
}

impl Requirement {
    fn check(&self, actor: &Actor) -> Result<(), Error> {
        match self {
            Requirement::RealmRole(r) => actor.require_realm_role(r),
            Requirement::ClientRole { client, role } => actor.require_client_role(client, role),
            Requirement::Scope(s) => actor.require_scope(s),
            Requirement::Org(o) => actor.require_org(o),
        }
    }
}

/// A tower [`Layer`] that lets a request through only if the [`Actor`] put in its extensions by
/// [`GuardLayer`] (or the axum extractor) meets a requirement; otherwise `403` with
/// `WWW-Authenticate: Bearer error="insufficient_scope"`. Without an actor (no `GuardLayer`
/// outside it) it answers `401`: it fails closed.
///
/// Build it with [`require_realm_role`], [`require_client_role`], [`require_scope`] or
/// [`require_org`].
#[derive(Debug, Clone)]
pub struct RequireLayer {
    requirement: Arc<Requirement>,
}

/// Requires the realm role `role` (`realm_access.roles`).
pub fn require_realm_role(role: impl Into<String>) -> RequireLayer {
    RequireLayer::new(Requirement::RealmRole(role.into()))
}

/// Requires the client role `role` of `client` (`resource_access.<client>.roles`).
pub fn require_client_role(client: impl Into<String>, role: impl Into<String>) -> RequireLayer {
    RequireLayer::new(Requirement::ClientRole {
        client: client.into(),
        role: role.into(),
    })
}

/// Requires the OAuth scope `scope`.
pub fn require_scope(scope: impl Into<String>) -> RequireLayer {
    RequireLayer::new(Requirement::Scope(scope.into()))
}

/// Requires membership of the organization with alias `name`.
pub fn require_org(name: impl Into<String>) -> RequireLayer {
    RequireLayer::new(Requirement::Org(name.into()))
}

impl RequireLayer {
    fn new(requirement: Requirement) -> Self {
        RequireLayer {
            requirement: Arc::new(requirement),
        }
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            requirement: self.requirement.clone(),
        }
    }
}

/// The service of [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct Require<S> {
    inner: S,
    requirement: Arc<Requirement>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let verdict = match req.extensions().get::<Actor>() {
            Some(actor) => self.requirement.check(actor),
            None => {
                tracing::warn!("require_* guard without an authenticated actor; is GuardLayer applied outside it?");
                Err(Error::MissingToken)
            }
        };
        match verdict {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(e) => {
                let response = error_response(&e);
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn headers(values: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in values {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_extraction() {
        let auth = |v: &str| headers(&[("authorization", v)]);
        assert_eq!(bearer_token(&auth("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(&auth("bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(&auth("BEARER  abc")), Ok("abc"));
        assert_eq!(bearer_token(&headers(&[])), Err(Error::MissingToken));
        assert_eq!(
            bearer_token(&auth("Basic dXNlcjpwdw==")),
            Err(Error::MissingToken)
        );
        assert_eq!(bearer_token(&auth("Bearer")), Err(Error::Malformed));
        assert_eq!(bearer_token(&auth("Bearer ")), Err(Error::Malformed));
        assert_eq!(bearer_token(&auth("Bearer a b")), Err(Error::Malformed));
        assert_eq!(
            bearer_token(&headers(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b")
            ])),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn responses_follow_rfc6750() {
        let r: Response<()> = error_response(&Error::MissingToken);
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        let r: Response<()> = error_response(&Error::Expired);
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        for e in [Error::InsufficientScope, Error::TenantMismatch] {
            let r: Response<()> = error_response(&e);
            assert_eq!(r.status(), 403);
            assert_eq!(
                r.headers()[WWW_AUTHENTICATE],
                "Bearer error=\"insufficient_scope\""
            );
        }
    }
}
