//! Every path the server serves: used by the router and by discovery, so they cannot drift.

/// Realm info: `GET /realms/{realm}`.
pub const REALM: &str = "/realms/{realm}";
/// OIDC discovery document.
pub const DISCOVERY: &str = "/realms/{realm}/.well-known/openid-configuration";
/// JWKS.
pub const CERTS: &str = "/realms/{realm}/protocol/openid-connect/certs";
/// Authorization endpoint.
pub const AUTH: &str = "/realms/{realm}/protocol/openid-connect/auth";
/// Token endpoint.
pub const TOKEN: &str = "/realms/{realm}/protocol/openid-connect/token";
/// Userinfo.
pub const USERINFO: &str = "/realms/{realm}/protocol/openid-connect/userinfo";
/// Token introspection (RFC 7662).
pub const INTROSPECT: &str = "/realms/{realm}/protocol/openid-connect/token/introspect";
/// Token revocation (RFC 7009).
pub const REVOKE: &str = "/realms/{realm}/protocol/openid-connect/revoke";
/// Logout.
pub const LOGOUT: &str = "/realms/{realm}/protocol/openid-connect/logout";
/// Device authorization endpoint (RFC 8628 §3.1), Keycloak's path.
pub const DEVICE_AUTH: &str = "/realms/{realm}/protocol/openid-connect/auth/device";
/// The same endpoint under the spelling some walkthroughs use.
pub const DEVICE_AUTH_ALIAS: &str = "/realms/{realm}/protocol/openid-connect/device/auth";
/// Device verification page (RFC 8628 §3.3), `verification_uri`.
pub const DEVICE: &str = "/realms/{realm}/device";
/// Target of the device consent form.
pub const DEVICE_CONSENT: &str = "/realms/{realm}/device/consent";
/// Client registration, Keycloak's `ClientRepresentation` provider.
pub const REGISTRATION_DEFAULT: &str = "/realms/{realm}/clients-registrations/default";
/// One client of the default provider.
pub const REGISTRATION_DEFAULT_CLIENT: &str =
    "/realms/{realm}/clients-registrations/default/{client_id}";
/// Client registration, RFC 7591 (discovery's `registration_endpoint`).
pub const REGISTRATION_OIDC: &str = "/realms/{realm}/clients-registrations/openid-connect";
/// One client, RFC 7592 (`registration_client_uri`).
pub const REGISTRATION_OIDC_CLIENT: &str =
    "/realms/{realm}/clients-registrations/openid-connect/{client_id}";
/// A client's keycloak.json.
pub const REGISTRATION_INSTALL: &str = "/realms/{realm}/clients-registrations/install/{client_id}";
/// Liveness.
pub const HEALTH_LIVE: &str = "/health/live";
/// Readiness (checks the store).
pub const HEALTH_READY: &str = "/health/ready";
/// Prometheus metrics (management port).
pub const METRICS: &str = "/metrics";
/// Aggregate health.
pub const HEALTH: &str = "/health";

/// Fills the `{realm}` segment of a path under `base` (`https://host`).
pub fn url(base: &str, path: &str, realm: &str) -> String {
    format!("{base}{}", path.replace("{realm}", &encode_segment(realm)))
}

/// Percent-encodes a path segment.
pub fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
