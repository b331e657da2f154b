//! Domain types the logic works on, below the realm snapshot and the protocol families:
//! what a role is, what an organization is, the realm's and each client's settings (worked out
//! once per realm snapshot). Validated and typed; no JSON lookups by key.

use serde_json::{Map, Value};

/// A role: realm role, or client role of a `clientId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Realm role by name.
    Realm(String),
    /// Client role: (clientId, name).
    Client(String, String),
}

/// One organization of the realm.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    /// Its id.
    pub id: String,
    /// Its alias (the name when the file has none, as Keycloak defaults it).
    pub alias: String,
    /// Its name (shown on the login pages).
    pub name: String,
    /// Its internet domains, lower-case (`*.example.com` for a domain and its subdomains).
    pub domains: Vec<String>,
    /// Enabled, and the realm has `organizationsEnabled`.
    pub enabled: bool,
    /// `attributes`: name to list of values.
    pub attributes: Map<String, Value>,
}

pub mod flows;
mod settings;

pub use settings::{ClientSettings, EventSettings, RealmSettings, SessionLifespans, JBOSS_LOGGING};
