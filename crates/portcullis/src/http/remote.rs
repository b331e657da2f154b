//! The address of the client that sent a request: the connection's peer, or, behind a proxy
//! whose headers are trusted (`--proxy-headers`), the first hop the proxy names.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::ProxyHeaders;
use crate::AppState;

/// The caller's address: the connection's, or the first hop of the trusted proxy header.
pub fn remote_addr(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<IpAddr> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|s| s.trim().to_string())
    };
    let forwarded = match state.config.proxy_headers {
        Some(ProxyHeaders::XForwarded) => header("x-forwarded-for"),
        Some(ProxyHeaders::Forwarded) => header("forwarded").and_then(|v| {
            v.split(';').find_map(|p| {
                let (k, val) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| val.trim().trim_matches('"').to_string())
            })
        }),
        None => None,
    };
    if let Some(f) = forwarded {
        let f = f.trim_start_matches('[');
        let host = f.split(']').next().unwrap_or(f);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(ip);
        }
        if let Ok(sa) = f.parse::<SocketAddr>() {
            return Some(sa.ip());
        }
    }
    peer.map(|p| p.ip())
}
