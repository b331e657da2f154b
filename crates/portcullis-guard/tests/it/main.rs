//! Integration tests of portcullis-guard against a local issuer (`testing::TestIssuer`) that
//! serves discovery and JWKS on 127.0.0.1:0 and signs tokens with freshly generated keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod cache;
mod http;
mod validation;
