//! The decision shared by the two polled grants, RFC 8628's device code and CIBA's
//! `auth_req_id` (Keycloak serves both from `OAuth2DeviceCodeModel` with the same checks in the
//! same order; only the descriptions differ).

use crate::http::oauth_error::OAuthError;
use crate::store::DeviceStatus;

/// Where a poll stands before any token is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Approved and ready to redeem.
    Approved,
    /// An error to answer.
    Error(OAuthError),
}

/// The descriptions of a grant's answers.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    /// `invalid_grant`: the code was issued to another client.
    pub not_holder: &'static str,
    /// `invalid_grant`: the code was redeemed already.
    pub used: &'static str,
    /// `expired_token`.
    pub expired: &'static str,
    /// `slow_down`.
    pub slow_down: &'static str,
    /// `access_denied`.
    pub denied: &'static str,
    /// `authorization_pending`.
    pub pending: &'static str,
}

/// What is known of a polled request.
#[derive(Debug, Clone, Copy)]
pub struct Polled {
    /// Where it stands.
    pub status: DeviceStatus,
    /// The polling client is the one it was issued to.
    pub holder: bool,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
}

/// Whether a poll of this request counts against the polling rate: only the holder's polls
/// of a live request that can still yield tokens.
pub fn counts(p: &Polled, now: i64) -> bool {
    p.holder && p.status != DeviceStatus::Redeemed && p.expires_at >= now
}

/// Keycloak's order of checks (`DeviceGrantType`, `CibaGrantType`): the client holding it,
/// expiry, polling rate (`rate_ok`, already recorded), then the user's decision.
pub fn decide(p: &Polled, now: i64, rate_ok: bool, t: &Texts) -> Poll {
    let with = |mut e: OAuthError, d: &str| {
        e.description = d.to_string();
        Poll::Error(e)
    };
    if !p.holder {
        return Poll::Error(OAuthError::invalid_grant(t.not_holder));
    }
    if p.status == DeviceStatus::Redeemed {
        return Poll::Error(OAuthError::invalid_grant(t.used));
    }
    if p.expires_at < now {
        return Poll::Error(OAuthError::expired_token(t.expired));
    }
    if !rate_ok {
        return with(OAuthError::slow_down(), t.slow_down);
    }
    match p.status {
        DeviceStatus::Denied => Poll::Error(OAuthError::access_denied(t.denied)),
        DeviceStatus::Approved => Poll::Approved,
        DeviceStatus::Pending | DeviceStatus::Redeemed => {
            with(OAuthError::authorization_pending(), t.pending)
        }
    }
}
