//! The bearer-token size limit at the edge: an `Authorization` header whose credentials are
//! longer than a token of [`MAX_TOKEN_LEN`] bytes is answered 431 with a protocol error naming the limit, before any
//! handler reads it (hyper answers 431 itself past its own, larger, header limit).

use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::oauth_error::OAuthError;
use crate::crypto::jws::MAX_TOKEN_LEN;

/// The length of the credentials of an `Authorization` value: what follows the scheme
/// (`Bearer `, `Basic `, `DPoP `).
fn credentials_len(value: &[u8]) -> usize {
    let trimmed = value.trim_ascii();
    match trimmed.iter().position(|b| *b == b' ') {
        Some(i) => trimmed[i + 1..].trim_ascii().len(),
        None => trimmed.len(),
    }
}

/// Middleware.
pub async fn layer(req: Request, next: Next) -> Response {
    if req
        .headers()
        .get_all(AUTHORIZATION)
        .iter()
        .any(|v| credentials_len(v.as_bytes()) > MAX_TOKEN_LEN)
    {
        return OAuthError::header_too_large(format!(
            "Authorization header too large: tokens are limited to {MAX_TOKEN_LEN} bytes"
        ))
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::credentials_len;

    #[test]
    fn the_limit_applies_to_the_token_not_the_scheme() {
        assert_eq!(credentials_len(b"Bearer abc"), 3);
        assert_eq!(credentials_len(b"  bearer   abc  "), 3);
        assert_eq!(credentials_len(b"abc"), 3);
    }
}
