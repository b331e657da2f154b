//! Portcullis: an identity and access management server that speaks Keycloak's language.
//!
//! [`app`] builds the HTTP application from an [`AppState`]; [`server`] starts listeners;
//! the `portcullis` binary is a thin CLI over both.

pub mod account;
pub mod action_token;
pub mod admin;
pub mod authn;
pub mod authz;
pub mod broker;
pub mod client_registration;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod email;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod http;
#[cfg(test)]
mod layers;
pub mod mappers;
pub mod metrics;
pub mod model;
pub mod oidc;
pub mod policy;
pub mod realm;
pub mod representation;
pub mod server;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::http::{HeaderMap, Uri};

use crate::config::Config;
use crate::http::base_url::BaseUrl;
use crate::http::error::HttpError;
use crate::realm::snapshot::{RealmCache, RealmSnapshot};
use crate::store::Store;

/// What every handler can reach: one shared [`Shared`] (axum clones the state for every
/// request and layer, so a clone is one reference count, not one per field).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state around `shared`.
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of the state.
pub struct Shared {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Realm snapshots.
    pub realms: Arc<RealmCache>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Base URL rules.
    pub base: Arc<BaseUrl>,
    /// Request metrics (`/metrics`).
    pub metrics: Arc<metrics::Metrics>,
    /// Client for requests the server sends (back-channel logout).
    pub outbound: reqwest::Client,
    /// Logins in progress on this node, one per user at a time (brute-force detection).
    pub logins_in_flight: Arc<crate::policy::brute_force::InFlight>,
    /// The event queue (login and admin events).
    pub events: Arc<events::Events>,
    /// The e-mail queue (mails leave from a background task).
    pub email: email::Outbox,
}

impl AppState {
    /// The snapshot of an enabled realm with its keys, or Keycloak's 404. The realm's keys are
    /// generated here when nothing used them before ([`realm::lazy_keys`]).
    pub async fn realm(&self, name: &str) -> Result<Arc<RealmSnapshot>, HttpError> {
        let snap = self.realm_as_cached(name).await?;
        self.realms
            .with_keys(self.store.as_ref(), snap)
            .await
            .map_err(|e| {
                tracing::error!(realm = %name, error = %e, "the realm's keys could not be generated");
                HttpError::internal()
            })
    }

    /// The cached snapshot of an enabled realm (its keys possibly not generated yet: for what
    /// reads no key), or Keycloak's 404.
    pub async fn realm_as_cached(&self, name: &str) -> Result<Arc<RealmSnapshot>, HttpError> {
        self.realms
            .get(self.store.as_ref(), name)
            .await
            .map_err(|e| {
                tracing::error!(realm = %name, error = %e, "the realm could not be read");
                HttpError::internal()
            })?
            .filter(|r| r.enabled)
            .ok_or_else(HttpError::realm_not_found)
    }

    /// The public base URL of a request.
    pub fn base_url(&self, headers: &HeaderMap, uri: &Uri) -> Result<String, HttpError> {
        self.base.of(headers, uri).ok_or(HttpError {
            status: axum::http::StatusCode::BAD_REQUEST,
            error: "invalid host",
        })
    }
}

/// The application router (the seam for in-process tests).
pub fn app(state: AppState) -> axum::Router {
    http::router::router(state)
}
