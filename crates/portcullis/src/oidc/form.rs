//! `application/x-www-form-urlencoded` request parameters for protocol endpoints, read so that
//! garbage still gets a protocol-shaped error: duplicates are refused (RFC 6749 §3.1), sizes
//! are bounded.

use axum::extract::{FromRequest, Request};
use axum::http::header;

use crate::http::limits::FormFieldLimit;
use crate::http::oauth_error::OAuthError;

/// Largest accepted single parameter value: the token size limit, as a token is the largest
/// value a form carries.
pub const MAX_PARAM_BYTES: usize = crate::crypto::jws::MAX_TOKEN_LEN;
/// Largest accepted form body: room for a few tokens (token exchange sends a subject token, an
/// actor token and a client assertion). The body limit layer refuses larger bodies first (413).
pub const MAX_FORM_BYTES: usize = crate::http::limits::PROTOCOL_MAX_BODY_BYTES;
/// The most parameters of a form when the server's `http-limits-max-form-fields` is not in the
/// request (parsing outside a request): Quarkus's default.
pub const DEFAULT_MAX_FIELDS: usize = 256;

/// Parsed, de-duplicated form parameters.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        Self::parse_with(body, &[])
    }

    /// Parses a form body in which the parameters named in `multi` may repeat.
    pub fn parse_with(body: &[u8], multi: &[&str]) -> Result<Self, OAuthError> {
        Self::parse_limited(body, multi, DEFAULT_MAX_FIELDS)
    }

    /// As [`Params::parse_with`], with at most `max_fields` parameters.
    pub fn parse_limited(
        body: &[u8],
        multi: &[&str],
        max_fields: usize,
    ) -> Result<Self, OAuthError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if out.len() == max_fields {
                return Err(OAuthError::invalid_request(format!(
                    "Too many form parameters (the limit is {max_fields})"
                )));
            }
            if v.len() > MAX_PARAM_BYTES {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {k} is too large (the limit is {MAX_PARAM_BYTES} bytes)"
                )));
            }
            if !multi.contains(&k.as_ref()) && out.iter().any(|(n, _)| *n == k) {
                return Err(OAuthError::invalid_request(format!(
                    "duplicated parameter: {k}"
                )));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(out))
    }

    /// A parameter, empty values treated as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every parameter, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every non-empty value of a parameter, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every parameter with its value, in order (empty values included).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// These parameters with `over`'s values in place of theirs, and `over`'s other
    /// parameters after them (a signed request object's claims over the form's).
    pub fn overridden(&self, over: Vec<(String, String)>) -> Params {
        let mut out: Vec<(String, String)> = self
            .0
            .iter()
            .map(|(k, v)| {
                let v = over.iter().find(|(n, _)| n == k).map_or(v, |(_, o)| o);
                (k.clone(), v.clone())
            })
            .collect();
        for (k, v) in over {
            if !out.iter().any(|(n, _)| *n == k) {
                out.push((k, v));
            }
        }
        Params(out)
    }

    /// The name of a parameter given more than once, if any.
    pub fn repeated(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (k, _))| {
            self.0[..i]
                .iter()
                .any(|(n, _)| n == k)
                .then_some(k.as_str())
        })
    }

    /// The name of a parameter given more than once, other than those in `allowed`.
    pub fn repeated_except(&self, allowed: &[&str]) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (k, _))| {
            (!allowed.contains(&k.as_str()) && self.0[..i].iter().any(|(n, _)| n == k))
                .then_some(k.as_str())
        })
    }

    /// A required parameter (Keycloak's wording).
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("Missing form parameter: {name}")))
    }
}

/// Extractor: the body as [`Params`], or an `invalid_request`.
pub struct Form(pub Params);

/// Parameters the token endpoint accepts more than once (RFC 8693 §2.1 `audience`,
/// `resource`; the UMA grant's `permission`); the endpoint refuses repeats for every grant
/// but token exchange, and all but `permission` for the UMA grant.
pub const MULTI_VALUED: &[&str] = &["audience", "resource", "permission"];

/// Extractor for the token endpoint: like [`Form`], but [`MULTI_VALUED`] parameters may
/// repeat.
pub struct MultiForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for MultiForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let max = max_fields(&req);
        let bytes = form_bytes(req, state).await?;
        Ok(MultiForm(Params::parse_limited(&bytes, MULTI_VALUED, max)?))
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let max = max_fields(&req);
        let bytes = form_bytes(req, state).await?;
        Ok(Form(Params::parse_limited(&bytes, &[], max)?))
    }
}

/// `http-limits-max-form-fields`, as the body limit layer put it in the request.
fn max_fields(req: &Request) -> usize {
    req.extensions()
        .get::<FormFieldLimit>()
        .map_or(DEFAULT_MAX_FIELDS, |l| l.0)
}

/// The body of a form request, checked for content type and size.
async fn form_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, OAuthError> {
    {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
        {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("request body too large or unreadable"))?;
        if bytes.len() > MAX_FORM_BYTES {
            return Err(OAuthError::invalid_request("request body too large"));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_oversize_are_refused() {
        let p = Params::parse(b"grant_type=password&scope=openid%20email").unwrap();
        assert_eq!(p.get("scope"), Some("openid email"));
        assert_eq!(
            Params::parse(b"a=1&a=2").unwrap_err().error,
            "invalid_request"
        );
        let big = format!("a={}", "x".repeat(MAX_PARAM_BYTES + 1));
        assert!(Params::parse(big.as_bytes()).is_err());
        assert_eq!(Params::parse(b"a=").unwrap().get("a"), None);
        let m = Params::parse_with(b"audience=a&audience=b&x=1", MULTI_VALUED).unwrap();
        assert_eq!(m.all("audience"), vec!["a", "b"]);
        assert_eq!(m.repeated(), Some("audience"));
        assert!(Params::parse_with(b"x=1&x=2", MULTI_VALUED).is_err());
        assert_eq!(Params::parse(b"x=1&y=2").unwrap().repeated(), None);
    }

    #[test]
    fn the_number_of_parameters_is_bounded() {
        let body = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}=1"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert!(Params::parse_limited(body(3).as_bytes(), &[], 3).is_ok());
        let e = Params::parse_limited(body(4).as_bytes(), &[], 3).unwrap_err();
        assert_eq!(e.error, "invalid_request");
        assert!(e.description.contains("limit is 3"), "{}", e.description);
        assert!(Params::parse(body(DEFAULT_MAX_FIELDS + 1).as_bytes()).is_err());
    }
}
