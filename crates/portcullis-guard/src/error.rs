//! Errors of token validation and of configuration.
//!
//! No variant carries anything taken from the token: `Debug` and `Display` are safe to log.

/// Why a request or a token was refused.
///
/// Over HTTP, [`Error::MissingToken`] answers `401` with `WWW-Authenticate: Bearer`,
/// [`Error::InsufficientScope`] and [`Error::TenantMismatch`] answer `403` with
/// `Bearer error="insufficient_scope"`, and every other variant answers `401` with
/// `Bearer error="invalid_token"` (RFC 6750 §3.1). The body never tells which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request carries no `Authorization: Bearer` credentials.
    #[error("no bearer token in the request")]
    MissingToken,
    /// The token is longer than the configured maximum.
    #[error("token is larger than the configured maximum")]
    TokenTooLarge,
    /// The token is not a compact JWS with a JSON header and payload.
    #[error("token is not a well-formed JWT")]
    Malformed,
    /// The header names an algorithm that is not on the allowlist (`none` and HMAC never are).
    #[error("token algorithm is not allowed")]
    UnsupportedAlgorithm,
    /// The header carries a `crit` parameter; no extension is understood, so it is refused (RFC 7515 §4.1.11).
    #[error("token header has unsupported critical parameters")]
    UnsupportedCritical,
    /// `iss` is missing, malformed, or matches no configured issuer.
    #[error("token issuer is not trusted")]
    UntrustedIssuer,
    /// The issuer's key set has no key for the token's `kid` and algorithm.
    #[error("no matching signing key for the token")]
    UnknownKey,
    /// The issuer's keys could not be fetched (network, status, size or format): fail closed.
    #[error("signing keys of the issuer are unavailable")]
    KeysUnavailable,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `aud` (or `azp`, where allowed) contains none of the configured audiences.
    #[error("token audience is not accepted")]
    InvalidAudience,
    /// `typ` is not `Bearer` (a refresh or ID token presented as an access token).
    #[error("token is not an access token")]
    InvalidTokenType,
    /// A required claim is missing or has the wrong JSON type. Carries the claim's name from the configuration.
    #[error("required claim `{0}` is missing or invalid")]
    MissingClaim(String),
    /// The request's tenant header names another tenant than the token's issuer.
    #[error("tenant header does not match the token's tenant")]
    TenantMismatch,
    /// The token is valid but lacks a role, scope, organization or audience the resource requires.
    #[error("token lacks a required role, scope or organization")]
    InsufficientScope,
}

impl Error {
    /// Whether this error answers `403` (valid token, not enough privileges) rather than `401`.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Error::InsufficientScope | Error::TenantMismatch)
    }

    /// The RFC 6750 §3.1 error code, or `None` when the request carried no token.
    pub fn rfc6750_code(&self) -> Option<&'static str> {
        match self {
            Error::MissingToken => None,
            e if e.is_forbidden() => Some("insufficient_scope"),
            _ => Some("invalid_token"),
        }
    }

    /// The value of the `WWW-Authenticate` response header for this error.
    pub fn www_authenticate(&self) -> &'static str {
        match self.rfc6750_code() {
            None => "Bearer",
            Some("insufficient_scope") => "Bearer error=\"insufficient_scope\"",
            Some(_) => "Bearer error=\"invalid_token\"",
        }
    }

    /// The HTTP status code for this error: `401` or `403`.
    pub fn status_code(&self) -> u16 {
        if self.is_forbidden() {
            403
        } else {
            401
        }
    }
}

/// A [`crate::ValidatorBuilder`] setting that cannot work. Names the option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid guard configuration: {option}: {reason}")]
pub struct ConfigError {
    /// The builder method (option) at fault.
    pub option: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(option: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            option,
            reason: reason.into(),
        }
    }
}
