//! The HTTP client for requests the server itself sends (back-channel logout to relying
//! parties): rustls over aws-lc-rs with the Mozilla roots, short timeouts, no redirects
//! followed (as Keycloak's Apache client does not follow them for a POST).

use std::time::Duration;

/// Time allowed to connect, and for a whole request (Keycloak's default socket timeout of its
/// outgoing HTTP client is 5 seconds).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the client. The process's rustls provider is aws-lc-rs (installed here if nothing
/// was installed before), so no second crypto library is linked in.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The body of a response, refused when it is larger than `max` bytes (announced or read).
pub async fn body_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let too_large = || format!("response larger than {max} bytes");
    if resp.content_length().is_some_and(|l| l > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the response failed: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
