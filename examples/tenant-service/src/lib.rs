//! The tenant service of seed 001 (prompts 5.5–5.8), in Rust: realm-per-tenant provisioning
//! through the Portcullis (Keycloak) Admin API.
//!
//! * [`api`]: the axum routes behind `portcullis-guard` (issuers `…/realms/platform` and
//!   `…/realms/tenant-*`), and the `X-Tenant-Id` rule;
//! * [`service`]: creating tenants and users, audited and authorized, undone on failure;
//! * [`policy`]: the authorization hook and its default allow-list;
//! * [`template`]: the realm a tenant gets; [`slug`]: tenant ids and realm names;
//! * [`portcullis`]: the Admin API client; [`store`]: PostgreSQL (metadata, audit ledger);
//! * [`seed`]: the idempotent `seed-demo` command; [`config`]: the environment.

pub mod api;
pub mod config;
pub mod error;
pub mod policy;
pub mod portcullis;
pub mod seed;
pub mod service;
pub mod slug;
pub mod store;
pub mod template;

use std::sync::Arc;

use portcullis_guard::Validator;

use crate::config::Config;
use crate::policy::{AllowList, Policy, PLATFORM_REALM};
use crate::portcullis::PortcullisAdmin;
use crate::service::Tenants;
use crate::store::Store;

/// The trusted issuers: the platform realm (operators) and every `tenant-*` realm, with
/// `tenant-services` as the required audience.
pub fn validator(config: &Config) -> Result<Validator, portcullis_guard::ConfigError> {
    let base = config.issuer_base.trim_end_matches('/');
    Validator::builder()
        .issuer(format!("{base}/realms/{PLATFORM_REALM}"))
        .issuer(format!("{base}/realms/{}*", slug::REALM_PREFIX))
        .audience(template::TENANT_SERVICES)
        // The X-Tenant-Id rule is the service's (tenant id = slug, not realm name): api.rs.
        .tenant_header(None)
        .insecure_allow_http_issuer(config.insecure_allow_http_issuer)
        .build()
}

/// Everything the service runs on, built from the configuration.
pub async fn build(
    config: &Config,
    policy: Option<Arc<dyn Policy>>,
) -> Result<(Arc<Tenants>, Arc<Validator>), Box<dyn std::error::Error + Send + Sync>> {
    let store = Store::connect(&config.database_url, config.database_schema.as_deref()).await?;
    let admin = Arc::new(PortcullisAdmin::new(
        &config.portcullis_url,
        config.admin_credentials.clone(),
    ));
    let tenants = Arc::new(Tenants {
        store,
        admin,
        policy: policy.unwrap_or_else(|| Arc::new(AllowList::default())),
        issuer_base: config.issuer_base.clone(),
    });
    Ok((tenants, Arc::new(validator(config)?)))
}
