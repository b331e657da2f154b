//! Integration tests: the real `portcullis` binary over HTTP and its CLI, on SQLite and on
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod acr;
mod admin;
mod admin_roles_certs;
mod admin_strict;
mod audit;
mod authentication_admin;
mod authorize;
mod authz_admin;
mod backchannel;
mod brute_force;
mod ciba;
mod cli;
mod client_jwt;
mod client_sessions;
mod cors_account;
mod credentials_admin;
mod device;
mod discovery;
mod docs_examples;
mod email;
mod events;
mod exchange;
mod full_disk;
mod fuzz_corpus;
mod guard;
mod identity_providers;
mod implicit;
mod lightweight;
mod limits;
mod metrics;
mod mfa;
mod openidconnect_rp;
mod organizations;
mod organizations_admin;
mod outage;
mod par;
mod password_blacklist;
mod properties;
mod protection;
mod realm_files;
mod registration;
mod required_actions;
mod secrets;
mod security;
mod store;
mod telemetry;
mod token;
mod uma;
mod user_profile;
mod walkthroughs;
mod webauthn;
