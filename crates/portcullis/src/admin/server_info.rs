//! `GET /admin/serverinfo`: Keycloak's `ServerInfoRepresentation` (`ServerInfoAdminResource`),
//! filled with what this server really supports: the protocol mapper types it applies, the
//! password policies it enforces, the key providers it runs, the algorithms it signs and
//! verifies with, the event listeners it offers (`providers.eventsListener`). Java-only parts
//! (`memoryInfo`, `themes`, the other `providers`, SPI details) are absent or empty; see
//! `docs/admin-api.md`.

use axum::Json;
use serde_json::{json, Value};

use super::auth::{Caller, Need};
use super::AdminResult;

/// `(id, display type, category)` of each OIDC protocol mapper type `mappers` applies.
const MAPPER_TYPES: &[(&str, &str, &str)] = &[
    (
        "oidc-usermodel-property-mapper",
        "User Property",
        "Token mapper",
    ),
    (
        "oidc-usermodel-attribute-mapper",
        "User Attribute",
        "Token mapper",
    ),
    ("oidc-full-name-mapper", "User's full name", "Token mapper"),
    (
        "oidc-usermodel-realm-role-mapper",
        "User Realm Role",
        "Token mapper",
    ),
    (
        "oidc-usermodel-client-role-mapper",
        "User Client Role",
        "Token mapper",
    ),
    (
        "oidc-group-membership-mapper",
        "Group Membership",
        "Token mapper",
    ),
    (
        "oidc-hardcoded-claim-mapper",
        "Hardcoded claim",
        "Token mapper",
    ),
    ("oidc-audience-mapper", "Audience", "Token mapper"),
    ("oidc-sub-mapper", "Subject (sub)", "Token mapper"),
    (
        "oidc-allowed-origins-mapper",
        "Allowed Web Origins",
        "Token mapper",
    ),
    (
        "oidc-acr-mapper",
        "Authentication Context Class Reference (ACR)",
        "Token mapper",
    ),
    (
        "oidc-amr-mapper",
        "Authentication Method Reference (AMR)",
        "Token mapper",
    ),
    (
        "oidc-usersessionmodel-note-mapper",
        "User Session Note",
        "Token mapper",
    ),
    ("oidc-address-mapper", "User Address", "Token mapper"),
    (
        "oidc-organization-membership-mapper",
        "Organization Membership",
        "Token mapper",
    ),
    (
        "oidc-audience-resolve-mapper",
        "Audience Resolve",
        "Token mapper",
    ),
    (
        "oidc-hardcoded-role-mapper",
        "Hardcoded Role",
        "Role Mapper",
    ),
    ("oidc-role-name-mapper", "Role Name Mapper", "Role Mapper"),
];

/// `(id, display name, config type, default value, multiple)` of a password policy type.
type PolicyType = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    bool,
);

/// The password policies `policy::password` enforces.
const PASSWORD_POLICIES: &[PolicyType] = &[
    ("length", "Minimum length", Some("int"), Some("8"), false),
    (
        "maxLength",
        "Maximum length",
        Some("int"),
        Some("64"),
        false,
    ),
    ("digits", "Digits", Some("int"), Some("1"), false),
    (
        "lowerCase",
        "Lowercase characters",
        Some("int"),
        Some("1"),
        false,
    ),
    (
        "upperCase",
        "Uppercase characters",
        Some("int"),
        Some("1"),
        false,
    ),
    (
        "specialChars",
        "Special characters",
        Some("int"),
        Some("1"),
        false,
    ),
    ("notUsername", "Not username", None, None, false),
    ("notEmail", "Not email", None, None, false),
    (
        "notContainsUsername",
        "Not contains username",
        None,
        None,
        false,
    ),
    (
        "passwordHistory",
        "Not recently used",
        Some("int"),
        Some("3"),
        false,
    ),
    (
        "regexPattern",
        "Regular expression",
        Some("String"),
        None,
        true,
    ),
    (
        "passwordBlacklist",
        "Password blacklist",
        Some("String"),
        None,
        false,
    ),
];

/// Key providers (`org.keycloak.keys.KeyProvider` components) this server runs.
const KEY_PROVIDERS: &[&str] = &[
    "rsa-generated",
    "rsa-enc-generated",
    "rsa",
    "rsa-enc",
    "ecdsa-generated",
    "eddsa-generated",
    "hmac-generated",
    "aes-generated",
];

/// The representation; `listeners` are the event listener ids this server runs (realm and
/// global ones), listed as Keycloak lists its `eventsListener` providers (the admin console
/// offers them in a realm's event settings).
pub fn server_info(listeners: &[&str]) -> Value {
    let listener_providers: serde_json::Map<String, Value> = listeners
        .iter()
        .map(|id| (id.to_string(), json!({"order": 0})))
        .collect();
    let mapper_types: Vec<Value> = MAPPER_TYPES
        .iter()
        .enumerate()
        .map(|(i, (id, name, category))| {
            json!({"id": id, "name": name, "category": category, "helpText": "",
                   "priority": i, "properties": []})
        })
        .collect();
    let policies: Vec<Value> = PASSWORD_POLICIES
        .iter()
        .map(|(id, name, config, default, multiple)| {
            json!({"id": id, "displayName": name, "configType": config,
                   "defaultValue": default, "multipleSupported": multiple})
        })
        .collect();
    let key_providers: Vec<Value> = KEY_PROVIDERS
        .iter()
        .map(|id| json!({"id": id, "helpText": "", "properties": [], "metadata": {}}))
        .collect();
    let now = crate::clock::now_millis();
    json!({
        "systemInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "serverTime": now.to_string(),
            "osName": std::env::consts::OS,
            "osArchitecture": std::env::consts::ARCH,
        },
        "profileInfo": {
            "name": "community",
            "disabledFeatures": [],
            "previewFeatures": [],
            "experimentalFeatures": [],
        },
        "features": [],
        "themes": {},
        "providers": {
            "eventsListener": {"internal": true, "providers": listener_providers},
        },
        "protocolMapperTypes": {"openid-connect": mapper_types},
        "builtinProtocolMappers": {
            "openid-connect": crate::realm::defaults::builtin_protocol_mappers(),
        },
        "clientInstallations": {"openid-connect": [{
            "id": "keycloak-oidc-keycloak-json",
            "protocol": "openid-connect",
            "downloadOnly": false,
            "displayType": "Keycloak OIDC JSON",
            "helpText": "keycloak.json file used by the Keycloak OIDC client adapter to configure clients.",
            "filename": "keycloak.json",
            "mediaType": "application/json",
        }]},
        "componentTypes": {crate::crypto::keys::KEY_PROVIDER_TYPE: key_providers},
        "passwordPolicies": policies,
        "enums": {"sslRequired": ["ALL", "EXTERNAL", "NONE"]},
        "cryptoInfo": {
            "cryptoProvider": "aws-lc-rs",
            "supportedKeystoreTypes": [],
            "clientSignatureSymmetricAlgorithms": ["HS256", "HS384", "HS512"],
            "clientSignatureAsymmetricAlgorithms":
                ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"],
        },
    })
}

/// Handler: any caller holding an admin role (`AdminPermissions.realms(...).isAdmin()`).
pub async fn get(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    caller: Caller,
) -> AdminResult<Json<Value>> {
    caller.require(&caller.realm, Need::Any)?;
    let mut listeners = state.events.realm_listeners();
    listeners.extend(state.events.global_listeners());
    Ok(Json(server_info(&listeners)))
}
