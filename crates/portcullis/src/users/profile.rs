//! The declarative user profile (Keycloak 24+, always on in 26): the realm's `UPConfig`, stored
//! as Keycloak stores it (the component `declarative-user-profile` of type
//! `org.keycloak.userprofile.UserProfileProvider`, config key `kc.user.profile.config`), its
//! validation when an administrator replaces it, the validation of a user written through the
//! Admin API against it, and the metadata the admin console reads.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::representation::{ComponentRepresentation, RealmRepresentation, UserRepresentation};

/// The component type the configuration is stored under.
pub const PROVIDER_TYPE: &str = "org.keycloak.userprofile.UserProfileProvider";
/// The component's provider id.
pub const PROVIDER_ID: &str = "declarative-user-profile";
/// The component's config key holding the JSON text.
pub const CONFIG_KEY: &str = "kc.user.profile.config";

/// The attributes held in top-level fields of a `UserRepresentation`.
pub const ROOT_ATTRIBUTES: [&str; 4] = ["username", "email", "firstName", "lastName"];

/// Attributes the server itself writes (brute force's `disabledReason`): shown to
/// administrators whatever the policy, never written through the Admin API.
const SYSTEM_ATTRIBUTES: &[&str] = &["disabledReason"];

/// Keycloak's built-in configuration (`keycloak-default-user-profile.json` of Keycloak 26).
const DEFAULT_CONFIG: &str = r#"{"attributes":[
 {"name":"username","displayName":"${username}","validations":{"length":{"min":3,"max":255},"username-prohibited-characters":{},"up-username-not-idn-homograph":{}},"permissions":{"view":["admin","user"],"edit":["admin","user"]},"multivalued":false},
 {"name":"email","displayName":"${email}","validations":{"email":{},"length":{"max":255}},"required":{"roles":["user"]},"permissions":{"view":["admin","user"],"edit":["admin","user"]},"multivalued":false},
 {"name":"firstName","displayName":"${firstName}","validations":{"length":{"max":255},"person-name-prohibited-characters":{}},"required":{"roles":["user"]},"permissions":{"view":["admin","user"],"edit":["admin","user"]},"multivalued":false},
 {"name":"lastName","displayName":"${lastName}","validations":{"length":{"max":255},"person-name-prohibited-characters":{}},"required":{"roles":["user"]},"permissions":{"view":["admin","user"],"edit":["admin","user"]},"multivalued":false}],
 "groups":[{"name":"user-metadata","displayHeader":"User metadata","displayDescription":"Attributes, which refer to user metadata"}]}"#;

/// The validators Keycloak 26 ships (`Validators` of the server and the user-profile module).
const VALIDATORS: &[&str] = &[
    "length",
    "email",
    "pattern",
    "person-name-prohibited-characters",
    "username-prohibited-characters",
    "up-username-not-idn-homograph",
    "options",
    "uri",
    "integer",
    "double",
    "local-date",
    "iso-date",
    "multivalued",
    "not-blank",
    "not-empty",
];

/// `UPConfig`. Unknown fields are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpConfig {
    /// Attributes; a configuration without them is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<UpAttribute>>,
    /// Attribute groups.
    #[serde(default)]
    pub groups: Vec<UpGroup>,
    /// `ENABLED`, `ADMIN_VIEW` or `ADMIN_EDIT`; absent: unmanaged attributes are not available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmanaged_attribute_policy: Option<UnmanagedPolicy>,
    /// Fields kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `UPConfig.UnmanagedAttributePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnmanagedPolicy {
    /// Available in every context.
    Enabled,
    /// Administrators see them, nobody edits them.
    AdminView,
    /// Administrators see and edit them.
    AdminEdit,
}

/// `UPAttribute`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpAttribute {
    /// Attribute name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Display name (a message key like `${email}` or text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Validator id → its configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validations: Option<IndexMap<String, Map<String, Value>>>,
    /// UI annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Map<String, Value>>,
    /// When the attribute is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<UpRoles>,
    /// Who views and edits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<UpPermissions>,
    /// The scopes that enable it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<UpRoles>,
    /// Its group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Several values allowed.
    #[serde(default)]
    pub multivalued: bool,
    /// Fields kept as given (`defaultValue`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `UPAttributeRequired` / `UPAttributeSelector`: roles and scopes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpRoles {
    /// Pseudo-roles `admin` and `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Client scope names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// `UPAttributePermissions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpPermissions {
    /// Who sees the attribute.
    #[serde(default)]
    pub view: Vec<String>,
    /// Who edits it.
    #[serde(default)]
    pub edit: Vec<String>,
}

/// `UPGroup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpGroup {
    /// Group name (mandatory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields kept as given (`displayHeader`, `displayDescription`, `annotations`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Keycloak's built-in configuration.
pub fn default_config() -> UpConfig {
    serde_json::from_str(DEFAULT_CONFIG).unwrap_or_default()
}

/// The realm's configuration as [`config_of`] reads it, read once per realm snapshot: a
/// login validates the user against it at every step that shows or checks the profile.
pub fn config_for(snap: &crate::realm::snapshot::RealmSnapshot) -> std::sync::Arc<UpConfig> {
    snap.derived(config_of)
}

/// The realm's configuration: the stored component's, else Keycloak's default. A stored text
/// that does not parse counts as the default (it cannot be stored through the Admin API).
pub fn config_of(rep: &RealmRepresentation) -> UpConfig {
    stored_text(rep)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_else(default_config)
}

fn stored_text(rep: &RealmRepresentation) -> Option<&str> {
    rep.components
        .as_ref()?
        .get(PROVIDER_TYPE)?
        .iter()
        .find(|c| c.provider_id.as_deref() == Some(PROVIDER_ID))?
        .config_value(CONFIG_KEY)
}

/// Stores `config` in the realm document, creating the component when the realm has none.
pub fn store_config(
    rep: &mut RealmRepresentation,
    config: &UpConfig,
    new_id: impl FnOnce() -> String,
) {
    let text = serde_json::to_string(config).unwrap_or_default();
    let list = rep
        .components
        .get_or_insert_with(IndexMap::new)
        .entry(PROVIDER_TYPE.to_string())
        .or_default();
    if let Some(c) = list
        .iter_mut()
        .find(|c| c.provider_id.as_deref() == Some(PROVIDER_ID))
    {
        c.config
            .get_or_insert_with(IndexMap::new)
            .insert(CONFIG_KEY.into(), vec![text]);
        return;
    }
    let mut config_map = IndexMap::new();
    config_map.insert(CONFIG_KEY.to_string(), vec![text]);
    list.push(ComponentRepresentation {
        id: Some(new_id()),
        provider_id: Some(PROVIDER_ID.into()),
        config: Some(config_map),
        ..Default::default()
    });
}

fn valid_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Keycloak's `UPConfigUtils.validate` (and the provider's own checks): the error texts an
/// administrator gets back, empty when the configuration may be stored. `scopes` are the
/// realm's client scope names.
pub fn validate_config(config: &UpConfig, scopes: &[&str]) -> Vec<String> {
    let Some(attributes) = &config.attributes else {
        return vec![
            "UserProfile configuration without 'attributes' section is not allowed".into(),
        ];
    };
    let mut errors = Vec::new();
    let groups: Vec<&str> = config
        .groups
        .iter()
        .filter_map(|g| g.name.as_deref())
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for a in attributes {
        let name = a.name.as_deref().unwrap_or_default();
        if name.trim().is_empty() {
            errors.push("Attribute configuration without 'name' is not allowed".into());
        } else if seen.contains(&name) {
            errors.push(format!(
                "Attribute configuration already exists with 'name':'{name}'"
            ));
        } else {
            seen.push(name);
            if !valid_attribute_name(name) {
                errors.push(format!("Invalid attribute name (only letters, numbers and '.' '_' '-' special characters allowed): {name}'"));
            }
        }
        for (id, cfg) in a.validations.iter().flatten() {
            if id.trim().is_empty() {
                errors.push(format!(
                    "Validation without validator id is defined for attribute '{name}'"
                ));
            } else if !VALIDATORS.contains(&id.as_str()) {
                errors.push(format!(
                    "Validator '{id}' defined for attribute '{name}' doesn't exist"
                ));
            } else if let Err(e) = validator_config(id, cfg) {
                errors.push(format!(
                    "Validator '{id}' defined for attribute '{name}' has incorrect configuration: {e}"
                ));
            }
        }
        let mut roles = |list: Option<&Vec<String>>, field: &str| {
            for r in list.into_iter().flatten() {
                if r != "admin" && r != "user" {
                    errors.push(format!("'{field}' configuration for attribute '{name}' contains unsupported role '{r}'"));
                }
            }
        };
        if let Some(p) = &a.permissions {
            roles(Some(&p.view), "permissions.view");
            roles(Some(&p.edit), "permissions.edit");
        }
        if let Some(r) = &a.required {
            roles(r.roles.as_ref(), "required.roles");
        }
        for (field, sel) in [
            ("required.scopes", &a.required),
            ("selector.scopes", &a.selector),
        ] {
            for s in sel.iter().flat_map(|s| s.scopes.iter().flatten()) {
                if !scopes.contains(&s.as_str()) {
                    errors.push(format!("'{field}' configuration for attribute '{name}' contains unsupported scope '{s}'"));
                }
            }
        }
        if let Some(g) = &a.group {
            if !groups.contains(&g.as_str()) {
                errors.push(format!("Attribute '{name}' references unknown group '{g}'"));
            }
        }
        if let Some(ann) = &a.annotations {
            if ann.get("inputOptions").is_some_and(|v| !v.is_array()) {
                errors.push(format!("Annotation 'inputOptions' configured for attribute '{name}' must be an array of values!'"));
            }
            if ann.get("inputOptionLabels").is_some_and(|v| !v.is_object()) {
                errors.push(format!("Annotation 'inputOptionLabels' configured for attribute '{name}' must be an object!'"));
            }
        }
    }
    for root in ["username", "email"] {
        if !seen.contains(&root) {
            errors.push(format!("The attribute '{root}' can not be removed"));
        }
    }
    let unnamed = config.groups.iter().filter(|g| g.name.is_none()).count();
    if unnamed > 0 {
        errors.push(format!(
            "Name is mandatory for groups, found {unnamed} group(s) without name."
        ));
    }
    errors
}

/// An integer from a validator config value (a number or a numeric string, as Keycloak's
/// `ValidatorConfig.getInt` reads it).
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A validator's `validateConfig`: the first problem, named as Keycloak names it.
fn validator_config(id: &str, cfg: &Map<String, Value>) -> Result<(), String> {
    match id {
        "length" | "integer" | "multivalued" => {
            let (min, max) = (cfg.get("min"), cfg.get("max"));
            if id != "integer" && min.is_none() && max.is_none() {
                return Err("error-validator-config-missing-value".into());
            }
            for v in [min, max].into_iter().flatten() {
                if int_of(v).is_none() {
                    return Err("error-invalid-number".into());
                }
            }
            if let (Some(a), Some(b)) = (min.and_then(int_of), max.and_then(int_of)) {
                if a > b {
                    return Err("error-validator-config-invalid-value".into());
                }
            }
            Ok(())
        }
        "double" => {
            for v in [cfg.get("min"), cfg.get("max")].into_iter().flatten() {
                if float_of(v).is_none() {
                    return Err("error-invalid-number".into());
                }
            }
            Ok(())
        }
        "pattern" => match cfg.get("pattern").and_then(Value::as_str) {
            Some(p) if regex::Regex::new(p).is_ok() => Ok(()),
            _ => Err("error-validator-config-invalid-value".into()),
        },
        "options" => match cfg.get("options") {
            Some(Value::Array(_)) => Ok(()),
            _ => Err("error-validator-config-missing-value".into()),
        },
        _ => Ok(()),
    }
}

/// One validation error of a user write: Keycloak's `ErrorRepresentation` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The attribute.
    pub field: String,
    /// The message key.
    pub message: String,
    /// Parameters, the attribute name first.
    pub params: Vec<Value>,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>, mut params: Vec<Value>) -> Self {
        params.insert(0, json!(field));
        FieldError {
            field: field.into(),
            message: message.into(),
            params,
        }
    }

    /// The JSON entry.
    pub fn to_json(&self) -> Value {
        json!({"field": self.field, "errorMessage": self.message, "params": self.params})
    }
}

/// The Admin API's body for `errors` (`ErrorResponse.errors`): one error flat, several wrapped.
pub fn errors_body(errors: &[FieldError]) -> Value {
    match errors {
        [one] => one.to_json(),
        many => json!({"errors": many.iter().map(FieldError::to_json).collect::<Vec<_>>()}),
    }
}

/// The values of attribute `name` of a user: a root field, or the attribute's list.
pub fn values_of(u: &UserRepresentation, name: &str) -> Vec<String> {
    let root = match name {
        "username" => Some(&u.username),
        "email" => Some(&u.email),
        "firstName" => Some(&u.first_name),
        "lastName" => Some(&u.last_name),
        _ => None,
    };
    if let Some(v) = root {
        return v.iter().cloned().collect();
    }
    match u.attributes.as_ref().and_then(|a| a.get(name)) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.to_string()],
    }
}

fn person_name_ok(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control()
            || "<>&\"$%!#?§;*~/\\|^=[]{}()".contains(c)
            || matches!(c, '\u{000B}' | '\u{0085}' | '\u{2028}' | '\u{2029}')
    })
}

fn username_chars_ok(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control() || c.is_whitespace() || "<>&\"'$%!#?§,;:*~/\\|^=[]{}()`".contains(c)
    })
}

/// Keycloak's `EmailValidator`: a local part of at most `max-local-length` (64) characters and
/// a domain, without spaces.
fn email_ok(s: &str, max_local: usize) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.chars().count() <= max_local
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !s.chars().any(char::is_whitespace)
        && !local.contains('@')
}

fn uri_ok(s: &str, cfg: &Map<String, Value>) -> Result<(), &'static str> {
    let Ok(u) = url::Url::parse(s) else {
        return Err("error-invalid-uri");
    };
    let schemes: Vec<String> = match cfg.get("allowedSchemes") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => vec!["http".into(), "https".into()],
    };
    if !schemes.iter().any(|x| x == u.scheme()) {
        return Err("error-invalid-uri-scheme");
    }
    if cfg.get("allowFragment") == Some(&json!(false)) && u.fragment().is_some() {
        return Err("error-invalid-uri-fragment");
    }
    Ok(())
}

/// `yyyy-MM-dd`, a real day (Keycloak's `IsoDateValidator`, `DateTimeFormatter.ISO_DATE`
/// without an offset).
fn iso_date_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Runs validator `id` on one value of attribute `name`; Keycloak's validators ignore empty
/// values (the required check reports those).
fn run_validator(
    name: &str,
    id: &str,
    cfg: &Map<String, Value>,
    value: &str,
    out: &mut Vec<FieldError>,
) {
    let custom = |default: &str| {
        cfg.get("error-message")
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    if value.is_empty() && id != "not-blank" && id != "not-empty" {
        return;
    }
    match id {
        "length" => {
            let trimmed = if cfg.get("trim-disabled") == Some(&json!(true))
                || cfg.get("trim-disabled") == Some(&json!("true"))
            {
                value
            } else {
                value.trim()
            };
            let len = trimmed.chars().count() as i64;
            let min = cfg.get("min").and_then(int_of);
            let max = cfg.get("max").and_then(int_of);
            let key = match (min.is_some(), max.is_some()) {
                (true, false) => "error-invalid-length-too-short",
                (false, true) => "error-invalid-length-too-long",
                _ => "error-invalid-length",
            };
            if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
                out.push(FieldError::new(name, key, vec![json!(min), json!(max)]));
            }
        }
        "email" => {
            let max_local = cfg
                .get("max-local-length")
                .and_then(int_of)
                .unwrap_or(64)
                .max(0) as usize;
            if !email_ok(value, max_local) {
                out.push(FieldError::new(
                    name,
                    "error-invalid-email",
                    vec![json!(value)],
                ));
            }
        }
        "pattern" => {
            let p = cfg.get("pattern").and_then(Value::as_str).unwrap_or("");
            // Java's `Matcher.matches`: the whole value.
            let ok = regex::Regex::new(&format!("^(?:{p})$")).is_ok_and(|r| r.is_match(value));
            if !ok {
                out.push(FieldError::new(
                    name,
                    custom("error-pattern-no-match"),
                    vec![json!(p)],
                ));
            }
        }
        "person-name-prohibited-characters" if !person_name_ok(value) => {
            out.push(FieldError::new(
                name,
                custom("error-person-name-invalid-character"),
                vec![json!(value)],
            ));
        }
        "username-prohibited-characters" if !username_chars_ok(value) => {
            out.push(FieldError::new(
                name,
                custom("error-username-invalid-character"),
                vec![json!(value)],
            ));
        }
        // A user name that is not plain ASCII could imitate another one (Keycloak compares the
        // name with its IDN form; here only ASCII names pass).
        "up-username-not-idn-homograph" if !value.is_ascii() => {
            out.push(FieldError::new(
                name,
                custom("error-username-invalid-character"),
                vec![json!(value)],
            ));
        }
        "options" => {
            let allowed = cfg.get("options").and_then(Value::as_array);
            if !allowed.is_some_and(|a| a.iter().any(|o| o.as_str() == Some(value))) {
                out.push(FieldError::new(
                    name,
                    "error-invalid-value",
                    vec![json!(value)],
                ));
            }
        }
        "integer" | "double" => {
            let n = if id == "integer" {
                value.trim().parse::<i64>().ok().map(|n| n as f64)
            } else {
                value.trim().parse::<f64>().ok().filter(|f| f.is_finite())
            };
            let Some(n) = n else {
                out.push(FieldError::new(name, "error-invalid-number", vec![]));
                return;
            };
            let min = cfg.get("min").and_then(float_of);
            let max = cfg.get("max").and_then(float_of);
            let key = match (min.is_some(), max.is_some()) {
                (true, false) => "error-number-out-of-range-too-small",
                (false, true) => "error-number-out-of-range-too-big",
                _ => "error-number-out-of-range",
            };
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                out.push(FieldError::new(
                    name,
                    key,
                    vec![
                        cfg.get("min").cloned().unwrap_or(Value::Null),
                        cfg.get("max").cloned().unwrap_or(Value::Null),
                    ],
                ));
            }
        }
        "iso-date" if !iso_date_ok(value) => {
            out.push(FieldError::new(
                name,
                "error-invalid-date",
                vec![json!(value)],
            ));
        }
        "uri" => {
            if let Err(key) = uri_ok(value, cfg) {
                out.push(FieldError::new(name, key, vec![json!(value)]));
            }
        }
        "not-blank" if value.trim().is_empty() => {
            out.push(FieldError::new(name, "error-invalid-blank", vec![]));
        }
        _ => {}
    }
}

/// Who is writing the user: the Admin API (`USER_API`) or the user in a login (the update-
/// and verify-profile pages, registration: Keycloak's contexts that can be an authentication
/// flow's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context<'a> {
    /// An administrator.
    Admin,
    /// The user, in a login that asked for these client scopes (the client's default scopes
    /// and the optional ones its `scope` named).
    Login(&'a [String]),
}

impl Context<'_> {
    fn role(self) -> &'static str {
        match self {
            Context::Admin => "admin",
            Context::Login(_) => "user",
        }
    }

    /// `requestedScopePredicate`: the login asked for one of `scopes` (never outside a login).
    fn requested(self, scopes: &[String]) -> bool {
        match self {
            Context::Admin => false,
            Context::Login(asked) => scopes.iter().any(|s| asked.contains(s)),
        }
    }
}

impl UpAttribute {
    /// `DeclarativeUserProfileProvider.decorateUserProfileForCache`'s `required`: always
    /// without roles and scopes; for the context's role; and with scopes, only in a login that
    /// asked for one of them (whatever the roles).
    fn is_required(&self, ctx: Context<'_>) -> bool {
        let Some(r) = &self.required else {
            return false;
        };
        let roles = r.roles.as_deref().unwrap_or_default();
        let scopes = r.scopes.as_deref().unwrap_or_default();
        if !scopes.is_empty() {
            return ctx.requested(scopes);
        }
        roles.is_empty() || roles.iter().any(|x| x == ctx.role())
    }

    /// The attribute is part of the profile in `ctx`: a `selector` with scopes enables it in a
    /// login only when one of them is asked for (`username` and `email` always are).
    pub fn selected(&self, ctx: Context<'_>) -> bool {
        let name = self.name.as_deref().unwrap_or_default();
        let scopes = self
            .selector
            .as_ref()
            .and_then(|s| s.scopes.as_deref())
            .unwrap_or_default();
        if scopes.is_empty() || name == "username" || name == "email" {
            return true;
        }
        match ctx {
            Context::Admin => true,
            Context::Login(_) => ctx.requested(scopes),
        }
    }

    fn can_edit(&self, ctx: Context<'_>) -> bool {
        self.permissions
            .as_ref()
            .is_some_and(|p| p.edit.iter().any(|x| x == ctx.role()))
    }

    fn can_view(&self, ctx: Context<'_>) -> bool {
        self.can_edit(ctx)
            || self
                .permissions
                .as_ref()
                .is_some_and(|p| p.view.iter().any(|x| x == ctx.role()))
    }
}

impl UpConfig {
    /// The managed attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&UpAttribute> {
        self.attributes
            .iter()
            .flatten()
            .find(|a| a.name.as_deref() == Some(name))
    }

    /// Whether an attribute not in the configuration is visible to `ctx`.
    pub fn unmanaged_visible(&self, ctx: Context<'_>) -> bool {
        match self.unmanaged_attribute_policy {
            Some(UnmanagedPolicy::Enabled) => true,
            Some(UnmanagedPolicy::AdminView | UnmanagedPolicy::AdminEdit) => ctx == Context::Admin,
            None => false,
        }
    }

    /// Whether an attribute not in the configuration may be written by `ctx`.
    pub fn unmanaged_editable(&self, ctx: Context<'_>) -> bool {
        match self.unmanaged_attribute_policy {
            Some(UnmanagedPolicy::Enabled) => true,
            Some(UnmanagedPolicy::AdminEdit) => ctx == Context::Admin,
            _ => false,
        }
    }
}

/// Validates the user `next` written by `ctx` (`before`: the stored user on an update) and
/// fixes what Keycloak silently fixes: unmanaged attributes the writer may not edit keep their
/// stored values (or are dropped on create). Returns the validation errors, in the order of
/// the configuration's attributes.
pub fn validate_user(
    config: &UpConfig,
    ctx: Context<'_>,
    next: &mut UserRepresentation,
    before: Option<&UserRepresentation>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // Unmanaged attributes the writer may not edit keep their stored values.
    if !config.unmanaged_editable(ctx) {
        let managed = |k: &str| config.attribute(k).is_some();
        let old: IndexMap<String, Value> = before
            .and_then(|b| b.attributes.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !managed(k))
            .collect();
        let mut attrs: IndexMap<String, Value> = next
            .attributes
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| managed(k))
            .collect();
        attrs.extend(old);
        next.attributes = (!attrs.is_empty()).then_some(attrs);
    }
    for a in config
        .attributes
        .iter()
        .flatten()
        .filter(|a| a.selected(ctx))
    {
        let Some(name) = a.name.as_deref() else {
            continue;
        };
        let values = values_of(next, name);
        if before.is_some() && !a.can_edit(ctx) && name != "username" && name != "email" {
            let old = before.map(|b| values_of(b, name)).unwrap_or_default();
            if old != values {
                errors.push(FieldError::new(
                    name,
                    "error-user-attribute-read-only",
                    vec![],
                ));
                continue;
            }
        }
        let present: Vec<&String> = values.iter().filter(|v| !v.trim().is_empty()).collect();
        if present.is_empty() {
            if a.is_required(ctx) {
                errors.push(FieldError::new(
                    name,
                    "error-user-attribute-required",
                    vec![],
                ));
            }
            continue;
        }
        if !a.multivalued && values.len() > 1 {
            errors.push(FieldError::new(
                name,
                "error-invalid-multivalued-size",
                vec![json!(0), json!(1)],
            ));
            continue;
        }
        for (id, cfg) in a.validations.iter().flatten() {
            if id == "multivalued" {
                let (min, max) = (
                    cfg.get("min").and_then(int_of),
                    cfg.get("max").and_then(int_of),
                );
                let n = values.len() as i64;
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    errors.push(FieldError::new(
                        name,
                        "error-invalid-multivalued-size",
                        vec![json!(min), json!(max)],
                    ));
                }
                continue;
            }
            let before_len = errors.len();
            for v in &values {
                run_validator(name, id, cfg, v, &mut errors);
                if errors.len() > before_len {
                    break;
                }
            }
        }
    }
    errors
}

/// The attributes of `u` that `ctx` may see (Keycloak's `UserProfile.toRepresentation`):
/// unmanaged ones only under a policy that shows them, managed ones by their view permission.
pub fn visible_attributes(config: &UpConfig, ctx: Context<'_>, u: &mut UserRepresentation) {
    let Some(attrs) = u.attributes.take() else {
        return;
    };
    let kept: IndexMap<String, Value> = attrs
        .into_iter()
        .filter(|(k, _)| match config.attribute(k) {
            Some(a) => a.can_view(ctx),
            None => SYSTEM_ATTRIBUTES.contains(&k.as_str()) || config.unmanaged_visible(ctx),
        })
        .collect();
    u.attributes = (!kept.is_empty()).then_some(kept);
}

/// `UserProfileMetadata` for `ctx`: the attributes it may see with their validators, and the
/// groups (`GET /users/profile/metadata`, `userProfileMetadata=true`).
pub fn metadata(config: &UpConfig, ctx: Context<'_>) -> Value {
    let attributes: Vec<Value> = config
        .attributes
        .iter()
        .flatten()
        .filter(|a| a.can_view(ctx))
        .map(|a| {
            let name = a.name.clone().unwrap_or_default();
            let mut m = json!({
                "name": name,
                "displayName": a.display_name.clone().unwrap_or_default(),
                "required": a.is_required(ctx),
                "readOnly": !a.can_edit(ctx),
                "validators": a.validations.clone().unwrap_or_default(),
                "multivalued": a.multivalued,
            });
            if let Some(ann) = &a.annotations {
                m["annotations"] = json!(ann);
            }
            if let Some(g) = &a.group {
                m["group"] = json!(g);
            }
            if let Some(d) = a.extra.get("defaultValue") {
                m["defaultValue"] = d.clone();
            }
            m
        })
        .collect();
    let groups: Vec<Value> = config
        .groups
        .iter()
        .map(|g| {
            let mut m = g.extra.clone();
            m.insert("name".into(), json!(g.name));
            Value::Object(m)
        })
        .collect();
    json!({"attributes": attributes, "groups": groups})
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn user(v: Value) -> UserRepresentation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_default_configuration_is_valid_and_round_trips() {
        let c = default_config();
        assert_eq!(c.attributes.as_ref().unwrap().len(), 4);
        assert!(validate_config(&c, &[]).is_empty());
        let text = serde_json::to_string(&c).unwrap();
        let back: UpConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn a_configuration_is_refused_with_keycloaks_messages() {
        let c: UpConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            validate_config(&c, &[]),
            ["UserProfile configuration without 'attributes' section is not allowed"]
        );
        let c: UpConfig = serde_json::from_value(json!({"attributes": [
            {"name": "username"}, {"name": "bad name!"}, {"name": "username"},
            {"name": "x", "validations": {"nope": {}}, "permissions": {"view": ["root"]}, "group": "g"},
        ]}))
        .unwrap();
        let errors = validate_config(&c, &[]);
        assert!(errors
            .contains(&"Attribute configuration already exists with 'name':'username'".into()));
        assert!(errors
            .iter()
            .any(|e| e.starts_with("Invalid attribute name")));
        assert!(errors.contains(&"Validator 'nope' defined for attribute 'x' doesn't exist".into()));
        assert!(errors.contains(
            &"'permissions.view' configuration for attribute 'x' contains unsupported role 'root'"
                .into()
        ));
        assert!(errors.contains(&"Attribute 'x' references unknown group 'g'".into()));
        assert!(errors.contains(&"The attribute 'email' can not be removed".into()));
    }

    #[test]
    fn scope_bound_attributes_count_only_in_a_login_that_asks_for_the_scope() {
        let c: UpConfig = serde_json::from_value(json!({"attributes": [
            {"name": "username"}, {"name": "email"},
            {"name": "phone", "required": {"scopes": ["phone"]},
             "permissions": {"edit": ["admin", "user"], "view": ["admin", "user"]}},
            {"name": "badge", "required": {"roles": ["user"], "scopes": ["staff"]},
             "selector": {"scopes": ["staff"]},
             "permissions": {"edit": ["admin", "user"], "view": ["admin", "user"]},
             "validations": {"length": {"min": 3, "max": 5}}},
        ]}))
        .unwrap();
        let fields = |ctx| {
            let mut u = user(
                json!({"username": "bob", "email": "bob@example.com", "attributes": {"badge": ["x"]}}),
            );
            validate_user(&c, ctx, &mut u, None)
                .into_iter()
                .map(|e| format!("{}:{}", e.field, e.message))
                .collect::<Vec<_>>()
        };
        let asked = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        assert!(fields(Context::Admin).contains(&"badge:error-invalid-length".to_string()));
        assert!(!fields(Context::Admin)
            .iter()
            .any(|f| f.starts_with("phone")));
        let none = asked(&["profile"]);
        assert!(
            fields(Context::Login(&none)).is_empty(),
            "neither scope asked"
        );
        let phone = asked(&["profile", "phone"]);
        assert_eq!(
            fields(Context::Login(&phone)),
            ["phone:error-user-attribute-required"]
        );
        let staff = asked(&["staff"]);
        assert_eq!(
            fields(Context::Login(&staff)),
            ["badge:error-invalid-length"]
        );
        assert!(c
            .attribute("badge")
            .unwrap()
            .selected(Context::Login(&staff)));
        assert!(!c
            .attribute("badge")
            .unwrap()
            .selected(Context::Login(&phone)));
    }

    #[test]
    fn the_default_profile_validates_admin_writes_as_keycloak() {
        let c = default_config();
        let mut u =
            user(json!({"username": "alice", "email": "not-an-email", "firstName": "A<b>"}));
        let errors = validate_user(&c, Context::Admin, &mut u, None);
        let keys: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            keys,
            ["error-invalid-email", "error-person-name-invalid-character"]
        );
        assert_eq!(errors[0].params, [json!("email"), json!("not-an-email")]);
        // Names and e-mail are required of the user, not of an administrator.
        let mut u = user(json!({"username": "bob"}));
        assert!(validate_user(&c, Context::Admin, &mut u, None).is_empty());
        let mut u = user(json!({"username": "bob"}));
        let errors = validate_user(&c, Context::Login(&[]), &mut u, None);
        assert_eq!(errors.len(), 3);
        assert!(errors
            .iter()
            .all(|e| e.message == "error-user-attribute-required"));
        let mut u = user(json!({"username": "x".repeat(256)}));
        let e = &validate_user(&c, Context::Admin, &mut u, None)[0];
        assert_eq!(e.message, "error-invalid-length");
        assert_eq!(e.params, [json!("username"), json!(3), json!(255)]);
    }

    #[test]
    fn unmanaged_attributes_follow_the_policy() {
        let mut c = default_config();
        let before = user(json!({"username": "a", "attributes": {"dept": ["x"]}}));
        let mut next =
            user(json!({"username": "a", "attributes": {"dept": ["y"], "other": ["z"]}}));
        validate_user(&c, Context::Admin, &mut next, Some(&before));
        assert_eq!(
            next.attributes.as_ref().unwrap().get("dept"),
            Some(&json!(["x"]))
        );
        assert!(next.attributes.as_ref().unwrap().get("other").is_none());
        let mut shown = before.clone();
        visible_attributes(&c, Context::Admin, &mut shown);
        assert!(shown.attributes.is_none());
        c.unmanaged_attribute_policy = Some(UnmanagedPolicy::Enabled);
        let mut next = user(json!({"username": "a", "attributes": {"dept": ["y"]}}));
        validate_user(&c, Context::Admin, &mut next, Some(&before));
        assert_eq!(
            next.attributes.as_ref().unwrap().get("dept"),
            Some(&json!(["y"]))
        );
    }

    #[test]
    fn declared_attributes_are_validated_and_read_only_ones_kept() {
        let c: UpConfig = serde_json::from_value(json!({"attributes": [
            {"name": "username"}, {"name": "email"},
            {"name": "dept", "required": {}, "permissions": {"view": ["admin"], "edit": ["admin"]},
             "validations": {"options": {"options": ["a", "b"]}}},
            {"name": "badge", "permissions": {"view": ["admin"], "edit": []}},
            {"name": "age", "validations": {"integer": {"min": 18}}, "permissions": {"edit": ["admin"]}},
        ]}))
        .unwrap();
        let mut u = user(json!({"username": "a", "attributes": {"dept": ["c"], "age": ["12"]}}));
        let errors = validate_user(&c, Context::Admin, &mut u, None);
        let keys: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            keys,
            ["error-invalid-value", "error-number-out-of-range-too-small"]
        );
        let mut u = user(json!({"username": "a"}));
        assert_eq!(
            validate_user(&c, Context::Admin, &mut u, None)[0].message,
            "error-user-attribute-required"
        );
        let before = user(json!({"username": "a", "attributes": {"dept": ["a"], "badge": ["1"]}}));
        let mut next =
            user(json!({"username": "a", "attributes": {"dept": ["a"], "badge": ["2"]}}));
        let errors = validate_user(&c, Context::Admin, &mut next, Some(&before));
        assert_eq!(errors[0].message, "error-user-attribute-read-only");
        assert_eq!(errors_body(&errors)["field"], "badge");
    }
}
