//! HTTP plumbing: the router, paths, base URL, error bodies, request ids, limits.

pub mod base_url;
pub mod cors;
pub mod error;
pub mod limits;
pub mod linger;
pub mod oauth_error;
pub mod outbound;
pub mod paths;
pub mod rate_limit;
pub mod remote;
pub mod request_id;
pub mod router;
pub mod token_size;
pub mod unavailable;
