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
