//! Every path the server serves: used by the router and by discovery, so they cannot drift.

/// Realm info: `GET /realms/{realm}`.
pub const REALM: &str = "/realms/{realm}";
/// OIDC discovery document.
pub const DISCOVERY: &str = "/realms/{realm}/.well-known/openid-configuration";
/// UMA 2.0 discovery document.
pub const UMA_DISCOVERY: &str = "/realms/{realm}/.well-known/uma2-configuration";
/// Authorization Services' Protection API base (advertised by UMA discovery).
pub const AUTHZ_PROTECTION: &str = "/realms/{realm}/authz/protection";
/// JWKS.
pub const CERTS: &str = "/realms/{realm}/protocol/openid-connect/certs";
/// Authorization endpoint.
pub const AUTH: &str = "/realms/{realm}/protocol/openid-connect/auth";
/// Pushed authorization requests (RFC 9126).
pub const PAR: &str = "/realms/{realm}/protocol/openid-connect/ext/par/request";
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
/// Session-status iframe (discovery's `check_session_iframe`), framed by keycloak-js.
pub const LOGIN_STATUS_IFRAME: &str =
    "/realms/{realm}/protocol/openid-connect/login-status-iframe.html";
/// The iframe's check that a client allows an origin.
pub const LOGIN_STATUS_IFRAME_INIT: &str =
    "/realms/{realm}/protocol/openid-connect/login-status-iframe.html/init";
/// keycloak-js' third-party cookie check, step 1.
pub const THIRD_PARTY_COOKIES_STEP1: &str =
    "/realms/{realm}/protocol/openid-connect/3p-cookies/step1.html";
/// keycloak-js' third-party cookie check, step 2.
pub const THIRD_PARTY_COOKIES_STEP2: &str =
    "/realms/{realm}/protocol/openid-connect/3p-cookies/step2.html";
/// Account REST API (`account/`): the user's own profile.
pub const ACCOUNT: &str = "/realms/{realm}/account";
/// Account REST API under a version (`v1`).
pub const ACCOUNT_VERSIONED: &str = "/realms/{realm}/account/{version}";
/// Any path under the account API (its CORS preflight).
pub const ACCOUNT_ANY: &str = "/realms/{realm}/account/{*rest}";
/// Target of the login form.
pub const LOGIN_ACTION: &str = "/realms/{realm}/login-actions/authenticate";
/// Keycloak's action-token endpoint (the links of the e-mails).
pub const ACTION_TOKEN: &str = "/realms/{realm}/login-actions/action-token";
/// Target of the required-action (update password) form.
pub const REQUIRED_ACTION: &str = "/realms/{realm}/login-actions/required-action";
/// The registration page (`GET`, the login page's "Register" link) and its form (`POST`).
pub const LOGIN_REGISTRATION: &str = "/realms/{realm}/login-actions/registration";
/// Target of the first broker login's pages (Keycloak's `LoginActionsService
/// .FIRST_BROKER_LOGIN_PATH`).
pub const FIRST_BROKER_LOGIN: &str = "/realms/{realm}/login-actions/first-broker-login";
/// Target of the consent form.
pub const CONSENT_ACTION: &str = "/realms/{realm}/login-actions/consent";
/// The login page's link to an identity provider (Keycloak's `IdentityBrokerService
/// .performLogin`): starts the login there.
pub const BROKER_LOGIN: &str = "/realms/{realm}/broker/{alias}/login";
/// Where an identity provider redirects back to (`IdentityBrokerService.getEndpoint`).
pub const BROKER_ENDPOINT: &str = "/realms/{realm}/broker/{alias}/endpoint";
/// The "Forgot Password?" flow (Keycloak's `LoginActionsService.resetCredentials`).
pub const RESET_CREDENTIALS: &str = "/realms/{realm}/login-actions/reset-credentials";
/// Target of the logout confirmation form.
pub const LOGOUT_CONFIRM: &str = "/realms/{realm}/protocol/openid-connect/logout/logout-confirm";
/// Device authorization endpoint (RFC 8628 §3.1), Keycloak's path.
pub const DEVICE_AUTH: &str = "/realms/{realm}/protocol/openid-connect/auth/device";
/// The same endpoint under the spelling some walkthroughs use.
pub const DEVICE_AUTH_ALIAS: &str = "/realms/{realm}/protocol/openid-connect/device/auth";
/// Device verification page (RFC 8628 §3.3), `verification_uri`.
pub const DEVICE: &str = "/realms/{realm}/device";
/// Target of the device consent form.
pub const DEVICE_CONSENT: &str = "/realms/{realm}/device/consent";
/// CIBA backchannel authentication endpoint (discovery's `backchannel_authentication_endpoint`),
/// Keycloak's extension path.
pub const CIBA_AUTH: &str = "/realms/{realm}/protocol/openid-connect/ext/ciba/auth";
/// CIBA authentication channel callback: the authentication device's answer.
pub const CIBA_CALLBACK: &str = "/realms/{realm}/protocol/openid-connect/ext/ciba/auth/callback";
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
/// The test suites' clock (`start-dev --testing-clock=true` only; Keycloak's test-suite
/// provider path).
pub const TESTING_TIME_OFFSET: &str = "/realms/{realm}/testing/time-offset";
/// Keycloak's test-suite provider: run the expired-events sweep now.
pub const TESTING_CLEAR_EXPIRED_EVENTS: &str = "/realms/{realm}/testing/clear-expired-events";

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

/// A percent-decoded path segment (`+` stays `+`, as in a path).
pub fn decode_segment(s: &str) -> String {
    let q = format!("v={}", s.replace('+', "%2B"));
    url::form_urlencoded::parse(q.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

// Admin REST API (`admin/`; Keycloak's `/admin/realms`). Each resource module serves its own.

/// `GET` `POST` (`admin/realms.rs`).
pub const ADMIN_REALMS: &str = "/admin/realms";
/// `GET` `PUT` `DELETE` (`admin/realms.rs`).
pub const ADMIN_REALM: &str = "/admin/realms/{realm}";
/// Sends a test e-mail with the posted SMTP settings.
pub const ADMIN_REALM_TEST_SMTP: &str = "/admin/realms/{realm}/testSMTPConnection";
/// `GET` `DELETE` (`admin/events.rs`): login events.
pub const ADMIN_EVENTS: &str = "/admin/realms/{realm}/events";
/// `GET` `PUT` (`admin/events.rs`): `RealmEventsConfigRepresentation`.
pub const ADMIN_EVENTS_CONFIG: &str = "/admin/realms/{realm}/events/config";
/// `GET` `DELETE` (`admin/events.rs`): admin events.
pub const ADMIN_ADMIN_EVENTS: &str = "/admin/realms/{realm}/admin-events";
/// `GET` (`admin/realms.rs`).
pub const ADMIN_KEYS: &str = "/admin/realms/{realm}/keys";
/// `POST` (`admin/realms.rs`): drops the fetched client key sets.
pub const ADMIN_CLEAR_KEYS_CACHE: &str = "/admin/realms/{realm}/clear-keys-cache";
/// `POST` (`admin/realms.rs`): reloads every realm snapshot from the store.
pub const ADMIN_CLEAR_REALM_CACHE: &str = "/admin/realms/{realm}/clear-realm-cache";
/// `POST` (`admin/realms.rs`): drops the store's user and session read caches.
pub const ADMIN_CLEAR_USER_CACHE: &str = "/admin/realms/{realm}/clear-user-cache";
/// `GET` (`admin/server_info.rs`).
pub const ADMIN_SERVER_INFO: &str = "/admin/serverinfo";
/// Identity providers of a realm (`IdentityProvidersResource`, `admin/identity_providers.rs`).
pub const ADMIN_IDPS: &str = "/admin/realms/{realm}/identity-provider/instances";
/// One identity provider, by alias or internal id.
pub const ADMIN_IDP: &str = "/admin/realms/{realm}/identity-provider/instances/{alias}";
/// The mappers of an identity provider.
pub const ADMIN_IDP_MAPPERS: &str =
    "/admin/realms/{realm}/identity-provider/instances/{alias}/mappers";
/// One mapper of an identity provider.
pub const ADMIN_IDP_MAPPER: &str =
    "/admin/realms/{realm}/identity-provider/instances/{alias}/mappers/{id}";
/// `GET` `POST` (`admin/components.rs`).
pub const ADMIN_COMPONENTS: &str = "/admin/realms/{realm}/components";
/// `GET` `PUT` `DELETE` (`admin/components.rs`).
pub const ADMIN_COMPONENT: &str = "/admin/realms/{realm}/components/{id}";
/// `POST` (`admin/realms.rs`).
pub const ADMIN_PARTIAL_EXPORT: &str = "/admin/realms/{realm}/partial-export";
/// `POST` (`admin/realms.rs`).
pub const ADMIN_PARTIAL_IMPORT: &str = "/admin/realms/{realm}/partialImport";
/// `authentication/flows`.
pub const ADMIN_AUTH_FLOWS: &str = "/admin/realms/{realm}/authentication/flows";
/// One flow by id (`{id}`); the sub-paths below name a flow by alias in the same place.
pub const ADMIN_AUTH_FLOW: &str = "/admin/realms/{realm}/authentication/flows/{id}";
/// Copy a flow (by alias).
pub const ADMIN_AUTH_FLOW_COPY: &str = "/admin/realms/{realm}/authentication/flows/{id}/copy";
/// A flow's executions (by alias).
pub const ADMIN_AUTH_FLOW_EXECUTIONS: &str =
    "/admin/realms/{realm}/authentication/flows/{id}/executions";
/// Add an execution to a flow (by alias).
pub const ADMIN_AUTH_FLOW_EXECUTIONS_EXECUTION: &str =
    "/admin/realms/{realm}/authentication/flows/{id}/executions/execution";
/// Add a sub-flow to a flow (by alias).
pub const ADMIN_AUTH_FLOW_EXECUTIONS_FLOW: &str =
    "/admin/realms/{realm}/authentication/flows/{id}/executions/flow";
/// `authentication/executions`.
pub const ADMIN_AUTH_EXECUTIONS: &str = "/admin/realms/{realm}/authentication/executions";
/// One execution.
pub const ADMIN_AUTH_EXECUTION: &str = "/admin/realms/{realm}/authentication/executions/{id}";
/// Raise an execution's priority.
pub const ADMIN_AUTH_EXECUTION_RAISE_PRIORITY: &str =
    "/admin/realms/{realm}/authentication/executions/{id}/raise-priority";
/// Lower an execution's priority.
pub const ADMIN_AUTH_EXECUTION_LOWER_PRIORITY: &str =
    "/admin/realms/{realm}/authentication/executions/{id}/lower-priority";
/// An execution's new config.
pub const ADMIN_AUTH_EXECUTION_CONFIG: &str =
    "/admin/realms/{realm}/authentication/executions/{id}/config";
/// An execution's config by id.
pub const ADMIN_AUTH_EXECUTION_CONFIG_ID: &str =
    "/admin/realms/{realm}/authentication/executions/{id}/config/{config}";
/// `authentication/config`.
pub const ADMIN_AUTH_CONFIGS: &str = "/admin/realms/{realm}/authentication/config";
/// One authenticator config.
pub const ADMIN_AUTH_CONFIG: &str = "/admin/realms/{realm}/authentication/config/{id}";
/// An authenticator's config description.
pub const ADMIN_AUTH_CONFIG_DESCRIPTION: &str =
    "/admin/realms/{realm}/authentication/config-description/{id}";
/// Authenticator providers.
pub const ADMIN_AUTH_AUTHENTICATOR_PROVIDERS: &str =
    "/admin/realms/{realm}/authentication/authenticator-providers";
/// Client authenticator providers.
pub const ADMIN_AUTH_CLIENT_AUTHENTICATOR_PROVIDERS: &str =
    "/admin/realms/{realm}/authentication/client-authenticator-providers";
/// Form action providers.
pub const ADMIN_AUTH_FORM_ACTION_PROVIDERS: &str =
    "/admin/realms/{realm}/authentication/form-action-providers";
/// Form providers.
pub const ADMIN_AUTH_FORM_PROVIDERS: &str = "/admin/realms/{realm}/authentication/form-providers";
/// Client authenticators' per-client settings.
pub const ADMIN_AUTH_PER_CLIENT_CONFIG_DESCRIPTION: &str =
    "/admin/realms/{realm}/authentication/per-client-config-description";
/// Required actions.
pub const ADMIN_AUTH_REQUIRED_ACTIONS: &str =
    "/admin/realms/{realm}/authentication/required-actions";
/// One required action by alias.
pub const ADMIN_AUTH_REQUIRED_ACTION: &str =
    "/admin/realms/{realm}/authentication/required-actions/{id}";
/// Raise a required action's priority.
pub const ADMIN_AUTH_REQUIRED_ACTION_RAISE_PRIORITY: &str =
    "/admin/realms/{realm}/authentication/required-actions/{id}/raise-priority";
/// Lower a required action's priority.
pub const ADMIN_AUTH_REQUIRED_ACTION_LOWER_PRIORITY: &str =
    "/admin/realms/{realm}/authentication/required-actions/{id}/lower-priority";
/// Built-in required actions not registered.
pub const ADMIN_AUTH_UNREGISTERED_REQUIRED_ACTIONS: &str =
    "/admin/realms/{realm}/authentication/unregistered-required-actions";
/// Register a required action.
pub const ADMIN_AUTH_REGISTER_REQUIRED_ACTION: &str =
    "/admin/realms/{realm}/authentication/register-required-action";
/// `GET` (`admin/client_scopes.rs`).
pub const ADMIN_DEFAULT_DEFAULT_CLIENT_SCOPES: &str =
    "/admin/realms/{realm}/default-default-client-scopes";
/// `PUT` `DELETE` (`admin/client_scopes.rs`).
pub const ADMIN_DEFAULT_DEFAULT_CLIENT_SCOPE: &str =
    "/admin/realms/{realm}/default-default-client-scopes/{scope}";
/// `GET` (`admin/client_scopes.rs`).
pub const ADMIN_DEFAULT_OPTIONAL_CLIENT_SCOPES: &str =
    "/admin/realms/{realm}/default-optional-client-scopes";
/// `PUT` `DELETE` (`admin/client_scopes.rs`).
pub const ADMIN_DEFAULT_OPTIONAL_CLIENT_SCOPE: &str =
    "/admin/realms/{realm}/default-optional-client-scopes/{scope}";
/// `GET` `POST` (`admin/client_scopes.rs`).
pub const ADMIN_CLIENT_SCOPES: &str = "/admin/realms/{realm}/client-scopes";
/// `GET` `PUT` `DELETE` (`admin/client_scopes.rs`).
pub const ADMIN_CLIENT_SCOPE: &str = "/admin/realms/{realm}/client-scopes/{scope}";
/// `GET` `POST` (`admin/client_scopes.rs`).
pub const ADMIN_CLIENT_SCOPE_PROTOCOL_MAPPERS_MODELS: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/protocol-mappers/models";
/// `GET` `PUT` `DELETE` (`admin/client_scopes.rs`).
pub const ADMIN_CLIENT_SCOPE_PROTOCOL_MAPPERS_MODEL: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/protocol-mappers/models/{mapper}";
/// `GET` (`admin/scope_mappings.rs`).
pub const ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/scope-mappings";
/// `GET` `POST` `DELETE` (`admin/scope_mappings.rs`).
pub const ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/scope-mappings/realm";
/// `GET` (`admin/scope_mappings.rs`).
pub const ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM_AVAILABLE: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/scope-mappings/realm/available";
/// `GET` (`admin/scope_mappings.rs`).
pub const ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_REALM_COMPOSITE: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/scope-mappings/realm/composite";
/// `GET` `POST` `DELETE` (`admin/scope_mappings.rs`).
pub const ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/scope-mappings/clients/{client}";
/// `GET` (`admin/scope_mappings.rs`).
pub const ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT_AVAILABLE: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/scope-mappings/clients/{client}/available";
/// `GET` (`admin/scope_mappings.rs`).
pub const ADMIN_CLIENT_SCOPE_SCOPE_MAPPINGS_CLIENT_COMPOSITE: &str =
    "/admin/realms/{realm}/client-scopes/{scope}/scope-mappings/clients/{client}/composite";
/// `GET` `POST` (`admin/initial_access.rs`).
pub const ADMIN_CLIENTS_INITIAL_ACCESS: &str = "/admin/realms/{realm}/clients-initial-access";
/// `DELETE` (`admin/initial_access.rs`).
pub const ADMIN_CLIENTS_INITIAL_ACCESS_TOKEN: &str =
    "/admin/realms/{realm}/clients-initial-access/{id}";
/// `GET` `POST` (`admin/clients.rs`).
pub const ADMIN_CLIENTS: &str = "/admin/realms/{realm}/clients";
/// `GET` `PUT` `DELETE` (`admin/clients.rs`).
pub const ADMIN_CLIENT: &str = "/admin/realms/{realm}/clients/{id}";
/// `GET` `PUT` (`admin/authz`): a client's resource server.
pub const ADMIN_AUTHZ: &str = "/admin/realms/{realm}/clients/{id}/authz/resource-server";
/// `GET` (`admin/authz`): the export form.
pub const ADMIN_AUTHZ_SETTINGS: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/settings";
/// `POST` (`admin/authz`).
pub const ADMIN_AUTHZ_IMPORT: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/import";
/// `GET` `POST` (`admin/authz`).
pub const ADMIN_AUTHZ_RESOURCES: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/resource";
/// `GET` (`admin/authz`).
pub const ADMIN_AUTHZ_RESOURCE_SEARCH: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/resource/search";
/// `GET` `PUT` `DELETE` (`admin/authz`).
pub const ADMIN_AUTHZ_RESOURCE: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/resource/{rid}";
/// `GET` (`admin/authz`): `scopes`, `permissions`, `attributes`.
pub const ADMIN_AUTHZ_RESOURCE_SUB: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/resource/{rid}/{sub}";
/// `GET` `POST` (`admin/authz`).
pub const ADMIN_AUTHZ_SCOPES: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/scope";
/// `GET` (`admin/authz`).
pub const ADMIN_AUTHZ_SCOPE_SEARCH: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/scope/search";
/// `GET` `PUT` `DELETE` (`admin/authz`).
pub const ADMIN_AUTHZ_SCOPE: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/scope/{rid}";
/// `GET` (`admin/authz`): `resources`, `permissions`.
pub const ADMIN_AUTHZ_SCOPE_SUB: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/scope/{rid}/{sub}";
/// `GET` `POST` (`admin/authz`): policies, or permissions (`{family}`).
pub const ADMIN_AUTHZ_POLICIES: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/{family}";
/// `GET` (`admin/authz`).
pub const ADMIN_AUTHZ_POLICY_SEARCH: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/{family}/search";
/// `GET` (`admin/authz`).
pub const ADMIN_AUTHZ_POLICY_PROVIDERS: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/{family}/providers";
/// `POST` (`admin/authz_evaluate`): the evaluation tool.
pub const ADMIN_AUTHZ_POLICY_EVALUATE: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/policy/evaluate";
/// `GET` `POST` `PUT` `DELETE` (`admin/authz`): a policy by id, or a type.
pub const ADMIN_AUTHZ_POLICY: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/{family}/{a}";
/// `GET` `PUT` `DELETE` (`admin/authz`): a typed policy, or a policy's associations.
pub const ADMIN_AUTHZ_POLICY_SUB: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/{family}/{a}/{b}";
/// `GET` (`admin/authz`): a typed policy's associations.
pub const ADMIN_AUTHZ_POLICY_SUB2: &str =
    "/admin/realms/{realm}/clients/{id}/authz/resource-server/{family}/{a}/{b}/{c}";
/// `GET` `POST` (`admin/clients.rs`).
pub const ADMIN_CLIENT_CLIENT_SECRET: &str = "/admin/realms/{realm}/clients/{id}/client-secret";
/// `GET` (`admin/client_sessions.rs`).
pub const ADMIN_CLIENT_USER_SESSIONS: &str = "/admin/realms/{realm}/clients/{id}/user-sessions";
/// `GET` (`admin/client_sessions.rs`).
pub const ADMIN_CLIENT_OFFLINE_SESSIONS: &str =
    "/admin/realms/{realm}/clients/{id}/offline-sessions";
/// `GET` (`admin/client_sessions.rs`).
pub const ADMIN_CLIENT_SESSION_COUNT: &str = "/admin/realms/{realm}/clients/{id}/session-count";
/// `GET` (`admin/client_sessions.rs`).
pub const ADMIN_CLIENT_OFFLINE_SESSION_COUNT: &str =
    "/admin/realms/{realm}/clients/{id}/offline-session-count";
/// `GET` (`admin/client_sessions.rs`).
pub const ADMIN_CLIENT_SESSION_STATS: &str = "/admin/realms/{realm}/client-session-stats";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SERVICE_ACCOUNT_USER: &str =
    "/admin/realms/{realm}/clients/{id}/service-account-user";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_INSTALLATION_PROVIDER: &str =
    "/admin/realms/{realm}/clients/{id}/installation/providers/{provider}";
/// `GET` `POST` (`admin/clients.rs`).
pub const ADMIN_CLIENT_PROTOCOL_MAPPERS_MODELS: &str =
    "/admin/realms/{realm}/clients/{id}/protocol-mappers/models";
/// `POST` (`admin/clients.rs`).
pub const ADMIN_CLIENT_PROTOCOL_MAPPERS_ADD_MODELS: &str =
    "/admin/realms/{realm}/clients/{id}/protocol-mappers/add-models";
/// `GET` `PUT` `DELETE` (`admin/clients.rs`).
pub const ADMIN_CLIENT_PROTOCOL_MAPPERS_MODEL: &str =
    "/admin/realms/{realm}/clients/{id}/protocol-mappers/models/{mapper}";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_DEFAULT_CLIENT_SCOPES: &str =
    "/admin/realms/{realm}/clients/{id}/default-client-scopes";
/// `PUT` `DELETE` (`admin/clients.rs`).
pub const ADMIN_CLIENT_DEFAULT_CLIENT_SCOPE: &str =
    "/admin/realms/{realm}/clients/{id}/default-client-scopes/{scope}";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_OPTIONAL_CLIENT_SCOPES: &str =
    "/admin/realms/{realm}/clients/{id}/optional-client-scopes";
/// `PUT` `DELETE` (`admin/clients.rs`).
pub const ADMIN_CLIENT_OPTIONAL_CLIENT_SCOPE: &str =
    "/admin/realms/{realm}/clients/{id}/optional-client-scopes/{scope}";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SCOPE_MAPPINGS: &str = "/admin/realms/{realm}/clients/{id}/scope-mappings";
/// `GET` `POST` `DELETE` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SCOPE_MAPPINGS_REALM: &str =
    "/admin/realms/{realm}/clients/{id}/scope-mappings/realm";
/// `GET` `POST` `DELETE` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SCOPE_MAPPINGS_CLIENT: &str =
    "/admin/realms/{realm}/clients/{id}/scope-mappings/clients/{owner}";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SCOPE_MAPPINGS_REALM_AVAILABLE: &str =
    "/admin/realms/{realm}/clients/{id}/scope-mappings/realm/available";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SCOPE_MAPPINGS_REALM_COMPOSITE: &str =
    "/admin/realms/{realm}/clients/{id}/scope-mappings/realm/composite";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SCOPE_MAPPINGS_CLIENT_AVAILABLE: &str =
    "/admin/realms/{realm}/clients/{id}/scope-mappings/clients/{owner}/available";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_SCOPE_MAPPINGS_CLIENT_COMPOSITE: &str =
    "/admin/realms/{realm}/clients/{id}/scope-mappings/clients/{owner}/composite";
/// `GET` (`admin/certificates.rs`).
pub const ADMIN_CLIENT_CERTIFICATE: &str = "/admin/realms/{realm}/clients/{id}/certificates/{attr}";
/// `POST` (`admin/certificates.rs`).
pub const ADMIN_CLIENT_CERTIFICATE_GENERATE: &str =
    "/admin/realms/{realm}/clients/{id}/certificates/{attr}/generate";
/// `POST` (`admin/certificates.rs`).
pub const ADMIN_CLIENT_CERTIFICATE_UPLOAD: &str =
    "/admin/realms/{realm}/clients/{id}/certificates/{attr}/upload";
/// `POST` (`admin/certificates.rs`).
pub const ADMIN_CLIENT_CERTIFICATE_UPLOAD_CERTIFICATE: &str =
    "/admin/realms/{realm}/clients/{id}/certificates/{attr}/upload-certificate";
/// `POST` (`admin/certificates.rs`).
pub const ADMIN_CLIENT_CERTIFICATE_DOWNLOAD: &str =
    "/admin/realms/{realm}/clients/{id}/certificates/{attr}/download";
/// `GET` (`admin/clients.rs`).
pub const ADMIN_CLIENT_EVALUATE_SCOPES_GENERATE_EXAMPLE_ACCESS_TOKEN: &str =
    "/admin/realms/{realm}/clients/{id}/evaluate-scopes/generate-example-access-token";
/// `GET` `POST` (`admin/roles.rs`).
pub const ADMIN_CLIENT_ROLES: &str = "/admin/realms/{realm}/clients/{id}/roles";
/// `GET` `PUT` `DELETE` (`admin/roles.rs`).
pub const ADMIN_CLIENT_ROLE: &str = "/admin/realms/{realm}/clients/{id}/roles/{role}";
/// `GET` `POST` `DELETE` (`admin/roles.rs`).
pub const ADMIN_CLIENT_ROLE_COMPOSITES: &str =
    "/admin/realms/{realm}/clients/{id}/roles/{role}/composites";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_CLIENT_ROLE_USERS: &str = "/admin/realms/{realm}/clients/{id}/roles/{role}/users";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_CLIENT_ROLE_GROUPS: &str = "/admin/realms/{realm}/clients/{id}/roles/{role}/groups";
/// `GET` `POST` (`admin/roles.rs`).
pub const ADMIN_ROLES: &str = "/admin/realms/{realm}/roles";
/// `GET` `PUT` `DELETE` (`admin/roles.rs`).
pub const ADMIN_ROLE: &str = "/admin/realms/{realm}/roles/{role}";
/// `GET` `POST` `DELETE` (`admin/roles.rs`).
pub const ADMIN_ROLE_COMPOSITES: &str = "/admin/realms/{realm}/roles/{role}/composites";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_ROLE_COMPOSITES_REALM: &str = "/admin/realms/{realm}/roles/{role}/composites/realm";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_ROLE_COMPOSITES_CLIENT: &str =
    "/admin/realms/{realm}/roles/{role}/composites/clients/{client}";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_ROLE_BY_ID_COMPOSITES_REALM: &str =
    "/admin/realms/{realm}/roles-by-id/{id}/composites/realm";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_ROLE_BY_ID_COMPOSITES_CLIENT: &str =
    "/admin/realms/{realm}/roles-by-id/{id}/composites/clients/{client}";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_ROLE_USERS: &str = "/admin/realms/{realm}/roles/{role}/users";
/// `GET` (`admin/roles.rs`).
pub const ADMIN_ROLE_GROUPS: &str = "/admin/realms/{realm}/roles/{role}/groups";
/// `GET` `PUT` `DELETE` (`admin/roles.rs`).
pub const ADMIN_ROLE_BY_ID: &str = "/admin/realms/{realm}/roles-by-id/{id}";
/// `GET` `POST` `DELETE` (`admin/roles.rs`).
pub const ADMIN_ROLE_BY_ID_COMPOSITES: &str = "/admin/realms/{realm}/roles-by-id/{id}/composites";
/// `GET` `POST` (`admin/users.rs`).
pub const ADMIN_USERS: &str = "/admin/realms/{realm}/users";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USERS_COUNT: &str = "/admin/realms/{realm}/users/count";
/// `GET` `PUT` `DELETE` (`admin/users.rs`).
pub const ADMIN_USER: &str = "/admin/realms/{realm}/users/{id}";
/// `GET` `PUT` (`admin/user_profile.rs`): the realm's `UPConfig`.
pub const ADMIN_USER_PROFILE: &str = "/admin/realms/{realm}/users/profile";
/// `GET` (`admin/user_profile.rs`).
pub const ADMIN_USER_PROFILE_METADATA: &str = "/admin/realms/{realm}/users/profile/metadata";
/// `PUT` (`admin/users.rs`).
pub const ADMIN_USER_RESET_PASSWORD: &str = "/admin/realms/{realm}/users/{id}/reset-password";
/// `PUT` (`admin/users.rs`).
pub const ADMIN_USER_EXECUTE_ACTIONS_EMAIL: &str =
    "/admin/realms/{realm}/users/{id}/execute-actions-email";
/// `PUT` (`admin/users.rs`).
pub const ADMIN_USER_SEND_VERIFY_EMAIL: &str = "/admin/realms/{realm}/users/{id}/send-verify-email";
/// `PUT` (`admin/users.rs`): Keycloak's deprecated `execute-actions-email` of `UPDATE_PASSWORD`.
pub const ADMIN_USER_RESET_PASSWORD_EMAIL: &str =
    "/admin/realms/{realm}/users/{id}/reset-password-email";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_CREDENTIALS: &str = "/admin/realms/{realm}/users/{id}/credentials";
/// `DELETE` (`admin/users.rs`).
pub const ADMIN_USER_CREDENTIAL: &str = "/admin/realms/{realm}/users/{id}/credentials/{cred}";
/// `PUT` (`admin/users.rs`): a `text/plain` label.
pub const ADMIN_USER_CREDENTIAL_LABEL: &str =
    "/admin/realms/{realm}/users/{id}/credentials/{cred}/userLabel";
/// `POST` (`admin/users.rs`).
pub const ADMIN_USER_CREDENTIAL_MOVE_FIRST: &str =
    "/admin/realms/{realm}/users/{id}/credentials/{cred}/moveToFirst";
/// `POST` (`admin/users.rs`).
pub const ADMIN_USER_CREDENTIAL_MOVE_AFTER: &str =
    "/admin/realms/{realm}/users/{id}/credentials/{cred}/moveAfter/{previous}";
/// `PUT` (`admin/users.rs`).
pub const ADMIN_USER_DISABLE_CREDENTIAL_TYPES: &str =
    "/admin/realms/{realm}/users/{id}/disable-credential-types";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_STORAGE_CREDENTIAL_TYPES: &str =
    "/admin/realms/{realm}/users/{id}/configured-user-storage-credential-types";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_SESSIONS: &str = "/admin/realms/{realm}/users/{id}/sessions";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_OFFLINE_SESSIONS_OF_CLIENT: &str =
    "/admin/realms/{realm}/users/{id}/offline-sessions/{client}";
/// `GET` `DELETE` (`admin/attack_detection.rs`).
pub const ADMIN_BRUTE_FORCE_USER: &str =
    "/admin/realms/{realm}/attack-detection/brute-force/users/{id}";
/// `DELETE` (`admin/attack_detection.rs`).
pub const ADMIN_BRUTE_FORCE_USERS: &str =
    "/admin/realms/{realm}/attack-detection/brute-force/users";
/// `GET` (`admin/consents.rs`).
pub const ADMIN_USER_CONSENTS: &str = "/admin/realms/{realm}/users/{id}/consents";
/// `DELETE` (`admin/consents.rs`).
pub const ADMIN_USER_CONSENT: &str = "/admin/realms/{realm}/users/{id}/consents/{client}";
/// `POST` (`admin/users.rs`).
pub const ADMIN_USER_LOGOUT: &str = "/admin/realms/{realm}/users/{id}/logout";
/// `POST` (`admin/impersonation.rs`).
pub const ADMIN_USER_IMPERSONATION: &str = "/admin/realms/{realm}/users/{id}/impersonation";
/// `DELETE` (`admin/users.rs`).
pub const ADMIN_SESSION: &str = "/admin/realms/{realm}/sessions/{session}";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_FEDERATED_IDENTITY: &str =
    "/admin/realms/{realm}/users/{id}/federated-identity";
/// `POST` `DELETE` (`admin/users.rs`).
pub const ADMIN_USER_FEDERATED_IDENTITY_PROVIDER: &str =
    "/admin/realms/{realm}/users/{id}/federated-identity/{provider}";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_GROUPS: &str = "/admin/realms/{realm}/users/{id}/groups";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_GROUPS_COUNT: &str = "/admin/realms/{realm}/users/{id}/groups/count";
/// `PUT` `DELETE` (`admin/users.rs`).
pub const ADMIN_USER_GROUP: &str = "/admin/realms/{realm}/users/{id}/groups/{group}";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_ROLE_MAPPINGS: &str = "/admin/realms/{realm}/users/{id}/role-mappings";
/// `GET` `POST` `DELETE` (`admin/users.rs`).
pub const ADMIN_USER_ROLE_MAPPINGS_REALM: &str =
    "/admin/realms/{realm}/users/{id}/role-mappings/realm";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_ROLE_MAPPINGS_REALM_COMPOSITE: &str =
    "/admin/realms/{realm}/users/{id}/role-mappings/realm/composite";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_ROLE_MAPPINGS_REALM_AVAILABLE: &str =
    "/admin/realms/{realm}/users/{id}/role-mappings/realm/available";
/// `GET` `POST` `DELETE` (`admin/users.rs`).
pub const ADMIN_USER_ROLE_MAPPINGS_CLIENT: &str =
    "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_ROLE_MAPPINGS_CLIENT_COMPOSITE: &str =
    "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}/composite";
/// `GET` (`admin/users.rs`).
pub const ADMIN_USER_ROLE_MAPPINGS_CLIENT_AVAILABLE: &str =
    "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}/available";
/// `GET` `POST` (`admin/organizations.rs`).
pub const ADMIN_ORGS: &str = "/admin/realms/{realm}/organizations";
/// `GET` (`admin/organizations.rs`).
pub const ADMIN_ORGS_COUNT: &str = "/admin/realms/{realm}/organizations/count";
/// `GET` (`admin/organizations.rs`).
pub const ADMIN_ORGS_OF_MEMBER: &str =
    "/admin/realms/{realm}/organizations/members/{member}/organizations";
/// `GET` `PUT` `DELETE` (`admin/organizations.rs`).
pub const ADMIN_ORG: &str = "/admin/realms/{realm}/organizations/{org}";
/// `GET` `POST` (`admin/organizations.rs`).
pub const ADMIN_ORG_MEMBERS: &str = "/admin/realms/{realm}/organizations/{org}/members";
/// `POST` (`admin/org_invitations.rs`): invite by e-mail.
pub const ADMIN_ORG_INVITE_USER: &str =
    "/admin/realms/{realm}/organizations/{org}/members/invite-user";
/// `POST` (`admin/org_invitations.rs`): invite a user of the realm by id.
pub const ADMIN_ORG_INVITE_EXISTING_USER: &str =
    "/admin/realms/{realm}/organizations/{org}/members/invite-existing-user";
/// `GET` (`admin/org_invitations.rs`): the invitations sent (Keycloak 26.5).
pub const ADMIN_ORG_INVITATIONS: &str = "/admin/realms/{realm}/organizations/{org}/invitations";
/// `GET` `DELETE` (`admin/org_invitations.rs`).
pub const ADMIN_ORG_INVITATION: &str =
    "/admin/realms/{realm}/organizations/{org}/invitations/{invitation}";
/// `POST` (`admin/org_invitations.rs`): send again (a new invitation replaces it).
pub const ADMIN_ORG_INVITATION_RESEND: &str =
    "/admin/realms/{realm}/organizations/{org}/invitations/{invitation}/resend";
/// Keycloak's registration endpoint: an authorization request that starts on the registration
/// page (also the link of an invitation for someone without an account).
pub const REGISTRATIONS: &str = "/realms/{realm}/protocol/openid-connect/registrations";
/// `GET` (`admin/organizations.rs`).
pub const ADMIN_ORG_MEMBERS_COUNT: &str = "/admin/realms/{realm}/organizations/{org}/members/count";
/// `GET` `DELETE` (`admin/organizations.rs`).
pub const ADMIN_ORG_MEMBER: &str = "/admin/realms/{realm}/organizations/{org}/members/{member}";
/// `GET` (`admin/organizations.rs`).
pub const ADMIN_ORG_MEMBER_ORGS: &str =
    "/admin/realms/{realm}/organizations/{org}/members/{member}/organizations";
/// `GET` `POST` (`admin/organizations.rs`).
pub const ADMIN_ORG_IDPS: &str = "/admin/realms/{realm}/organizations/{org}/identity-providers";
/// `GET` `DELETE` (`admin/organizations.rs`).
pub const ADMIN_ORG_IDP: &str =
    "/admin/realms/{realm}/organizations/{org}/identity-providers/{alias}";
/// `GET` `POST` (`admin/groups.rs`).
pub const ADMIN_GROUPS: &str = "/admin/realms/{realm}/groups";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUPS_COUNT: &str = "/admin/realms/{realm}/groups/count";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUP_BY_PATH: &str = "/admin/realms/{realm}/group-by-path/{*path}";
/// `GET` `PUT` `DELETE` (`admin/groups.rs`).
pub const ADMIN_GROUP: &str = "/admin/realms/{realm}/groups/{id}";
/// `GET` `POST` (`admin/groups.rs`).
pub const ADMIN_GROUP_CHILDREN: &str = "/admin/realms/{realm}/groups/{id}/children";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUP_MEMBERS: &str = "/admin/realms/{realm}/groups/{id}/members";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUP_ROLE_MAPPINGS: &str = "/admin/realms/{realm}/groups/{id}/role-mappings";
/// `GET` `POST` `DELETE` (`admin/groups.rs`).
pub const ADMIN_GROUP_ROLE_MAPPINGS_REALM: &str =
    "/admin/realms/{realm}/groups/{id}/role-mappings/realm";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUP_ROLE_MAPPINGS_REALM_COMPOSITE: &str =
    "/admin/realms/{realm}/groups/{id}/role-mappings/realm/composite";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUP_ROLE_MAPPINGS_REALM_AVAILABLE: &str =
    "/admin/realms/{realm}/groups/{id}/role-mappings/realm/available";
/// `GET` `POST` `DELETE` (`admin/groups.rs`).
pub const ADMIN_GROUP_ROLE_MAPPINGS_CLIENT: &str =
    "/admin/realms/{realm}/groups/{id}/role-mappings/clients/{client}";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUP_ROLE_MAPPINGS_CLIENT_COMPOSITE: &str =
    "/admin/realms/{realm}/groups/{id}/role-mappings/clients/{client}/composite";
/// `GET` (`admin/groups.rs`).
pub const ADMIN_GROUP_ROLE_MAPPINGS_CLIENT_AVAILABLE: &str =
    "/admin/realms/{realm}/groups/{id}/role-mappings/clients/{client}/available";
