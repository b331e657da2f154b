//! Integration tests of portcullis-guard against a local issuer (`testing::TestIssuer`) that
//! serves discovery and JWKS on 127.0.0.1:0 and signs tokens with freshly generated keys; the
//! policy enforcer's tests (`enforcer.rs`) run against a real Portcullis process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod cache;
mod enforcer;
mod http;
mod validation;
