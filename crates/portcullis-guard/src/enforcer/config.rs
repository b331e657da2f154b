//! `policy-enforcer.json`: Keycloak's `PolicyEnforcerConfig`
//! (`core/src/main/java/org/keycloak/representations/adapters/config/PolicyEnforcerConfig.java`),
//! with its JSON field names.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ConfigError;

/// `enforcement-mode` of the whole enforcer or of one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnforcementMode {
    /// Every request needs a permission (the default); a path with no configuration is denied.
    #[default]
    Enforcing,
    /// Requests to a path with no configuration, or to a resource no permission mentions, pass.
    Permissive,
    /// No enforcement (a token is still required when the whole enforcer is disabled).
    Disabled,
}

/// `scopes-enforcement-mode` of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScopeEnforcementMode {
    /// Every scope of the method must be granted (the default).
    #[default]
    All,
    /// One of the method's scopes suffices.
    Any,
    /// The method passes even when its scopes are not granted.
    Disabled,
}

/// The policy enforcer's configuration, as Keycloak's `policy-enforcer.json`.
///
/// Unknown fields are refused (a misspelt `enforcement-mode` must not silently leave a path
/// enforcing nothing the author meant), as are the options the guard does not implement:
/// `claim-information-point` and `on-deny-redirect-to` (a browser redirect, not for APIs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEnforcerConfig {
    /// `enforcement-mode`; default `ENFORCING`.
    #[serde(rename = "enforcement-mode", default)]
    pub enforcement_mode: EnforcementMode,
    /// `paths`: the protected paths and the resources they stand for.
    #[serde(default)]
    pub paths: Vec<PathConfig>,
    /// `path-cache`: how many request paths, and for how long, the path look-ups are kept.
    #[serde(rename = "path-cache")]
    pub path_cache: Option<PathCacheConfig>,
    /// `lazy-load-paths`: find the resource of a request path on the server when it is first
    /// requested (by `matchingUri`) rather than at start-up.
    #[serde(rename = "lazy-load-paths", default)]
    pub lazy_load_paths: bool,
    /// `http-method-as-scope`: a method without a `methods` entry requires the scope named
    /// after the HTTP method (`GET`, `POST`, ...) instead of the path's `scopes`.
    #[serde(rename = "http-method-as-scope", default)]
    pub http_method_as_scope: bool,
    /// `user-managed-access` (`{}`): deny with a UMA permission ticket (401,
    /// `WWW-Authenticate: UMA ...`) and accept only RPTs, rather than asking for permissions.
    #[serde(rename = "user-managed-access")]
    pub user_managed_access: Option<Map<String, Value>>,
    /// Not supported: refused by [`PolicyEnforcerConfig::validate`].
    #[serde(rename = "on-deny-redirect-to")]
    pub on_deny_redirect_to: Option<String>,
    /// Not supported: refused by [`PolicyEnforcerConfig::validate`].
    #[serde(rename = "claim-information-point")]
    pub claim_information_point: Option<Value>,
    /// `realm`: the realm of the resource server.
    pub realm: Option<String>,
    /// `auth-server-url`: the server's base URL (`https://idp.example.com`, without `/realms`).
    #[serde(rename = "auth-server-url")]
    pub auth_server_url: Option<String>,
    /// `resource`: the resource server's client id.
    pub resource: Option<String>,
    /// `credentials`: `{"secret": "..."}` (client secret only).
    #[serde(default)]
    pub credentials: Map<String, Value>,
}

/// `path-cache`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathCacheConfig {
    /// `max-entries`; default 1000.
    #[serde(rename = "max-entries", default = "default_max_entries")]
    pub max_entries: u64,
    /// `lifespan` in milliseconds; default 30000.
    #[serde(default = "default_lifespan")]
    pub lifespan: u64,
}

fn default_max_entries() -> u64 {
    1000
}

fn default_lifespan() -> u64 {
    30_000
}

/// One entry of `paths`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// `name`: the resource's name on the server; without it the resource is found by `path`
    /// among the resources' URIs.
    pub name: Option<String>,
    /// `type`: informational.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `path`: the request path, with `{param}`, a trailing `/*` or a `/*.ext` suffix.
    pub path: String,
    /// `methods`: scopes per HTTP method.
    #[serde(default)]
    pub methods: Vec<MethodConfig>,
    /// `scopes`: required by methods without a `methods` entry (one suffices).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `id`: the resource's id; found on the server from `name` or `path` when absent.
    pub id: Option<String>,
    /// `enforcement-mode` of this path; default `ENFORCING`.
    #[serde(rename = "enforcement-mode", default)]
    pub enforcement_mode: EnforcementMode,
    /// Not supported: refused by [`PolicyEnforcerConfig::validate`].
    #[serde(rename = "claim-information-point")]
    pub claim_information_point: Option<Value>,
}

/// One entry of a path's `methods`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// `method`: `GET`, `POST`, ... (compared exactly, as Keycloak does).
    pub method: String,
    /// `scopes`: the scopes the method requires.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `scopes-enforcement-mode`; default `ALL`.
    #[serde(rename = "scopes-enforcement-mode", default)]
    pub scopes_enforcement_mode: ScopeEnforcementMode,
}

impl PolicyEnforcerConfig {
    /// Parses `policy-enforcer.json`. The error names the field at fault.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let config: PolicyEnforcerConfig = serde_json::from_str(json)
            .map_err(|e| ConfigError::new("policy-enforcer.json", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what parsing cannot: required fields, unsupported options, path syntax.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.claim_information_point.is_some()
            || self
                .paths
                .iter()
                .any(|p| p.claim_information_point.is_some())
        {
            return Err(ConfigError::new(
                "claim-information-point",
                "claim information points are not supported by portcullis-guard",
            ));
        }
        if self.on_deny_redirect_to.is_some() {
            return Err(ConfigError::new(
                "on-deny-redirect-to",
                "redirects on denial are for browser applications; the guard answers 403",
            ));
        }
        for (name, value) in [
            ("realm", &self.realm),
            ("auth-server-url", &self.auth_server_url),
            ("resource", &self.resource),
        ] {
            if value.as_deref().is_none_or(str::is_empty) {
                return Err(ConfigError::new(name, "required"));
            }
        }
        match self.credentials.get("secret") {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => {
                return Err(ConfigError::new(
                    "credentials",
                    "a client secret (`{\"secret\": \"...\"}`) is required",
                ))
            }
        }
        if let Some(other) = self.credentials.keys().find(|k| *k != "secret") {
            return Err(ConfigError::new(
                "credentials",
                format!("`{other}` is not supported (only `secret`)"),
            ));
        }
        if self.path_cache.as_ref().is_some_and(|c| c.max_entries == 0) {
            return Err(ConfigError::new(
                "path-cache",
                "max-entries must be at least 1",
            ));
        }
        for p in &self.paths {
            if !p.path.starts_with('/') {
                return Err(ConfigError::new(
                    "paths",
                    format!("path `{}` must start with `/`", p.path),
                ));
            }
            if let Some(why) = template_error(&p.path) {
                return Err(ConfigError::new(
                    "paths",
                    format!("path `{}`: {why}", p.path),
                ));
            }
            if p.methods.iter().any(|m| m.method.is_empty()) {
                return Err(ConfigError::new(
                    "paths",
                    format!("path `{}`: a method entry without `method`", p.path),
                ));
            }
        }
        Ok(())
    }
}

/// Keycloak's `PathMatcher.validateTemplate`: an error for a malformed path template.
fn template_error(uri: &str) -> Option<&'static str> {
    let mut in_brace = false;
    let mut empty = true;
    for c in uri.chars() {
        match c {
            '{' if in_brace => return Some("nested '{'"),
            '{' => {
                in_brace = true;
                empty = true;
            }
            '}' if !in_brace || empty => return Some("unexpected '}' or empty parameter name"),
            '}' => in_brace = false,
            '/' if in_brace => return Some("parameter name contains '/'"),
            _ if in_brace => empty = false,
            _ => {}
        }
    }
    if in_brace {
        return Some("missing closing '}'");
    }
    if let Some(ix) = uri.find('*') {
        let trailing = uri.ends_with("/*") && ix == uri.len() - 1;
        let rest = &uri[ix + 1..];
        let suffix = ix > 0
            && uri.as_bytes()[ix - 1] == b'/'
            && rest.len() >= 2
            && rest.starts_with('.')
            && !rest.contains(['*', '/']);
        if !trailing && !suffix {
            return Some(
                "wildcard '*' is only supported as trailing '/*' or as a suffix pattern '/*.ext'",
            );
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const BASE: &str = r#""realm": "r", "auth-server-url": "http://localhost:8080", "resource": "api", "credentials": {"secret": "s"}"#;

    fn parse(rest: &str) -> Result<PolicyEnforcerConfig, ConfigError> {
        PolicyEnforcerConfig::from_json(&format!("{{{BASE}{rest}}}"))
    }

    #[test]
    fn keycloak_field_names() {
        let c = parse(
            r#", "enforcement-mode": "PERMISSIVE", "http-method-as-scope": true, "lazy-load-paths": true,
                "path-cache": {"max-entries": 5, "lifespan": 1000}, "user-managed-access": {},
                "paths": [{"name": "event", "path": "/events/*", "enforcement-mode": "DISABLED",
                           "methods": [{"method": "GET", "scopes": ["event:read"], "scopes-enforcement-mode": "ANY"}]}]"#,
        )
        .unwrap();
        assert_eq!(c.enforcement_mode, EnforcementMode::Permissive);
        assert!(c.http_method_as_scope && c.lazy_load_paths && c.user_managed_access.is_some());
        assert_eq!(c.path_cache.unwrap().max_entries, 5);
        let p = &c.paths[0];
        assert_eq!(p.enforcement_mode, EnforcementMode::Disabled);
        assert_eq!(
            p.methods[0].scopes_enforcement_mode,
            ScopeEnforcementMode::Any
        );
        let d = parse(r#", "paths": [{"path": "/x", "methods": [{"method": "GET"}]}]"#).unwrap();
        assert_eq!(d.enforcement_mode, EnforcementMode::Enforcing);
        assert_eq!(
            d.paths[0].methods[0].scopes_enforcement_mode,
            ScopeEnforcementMode::All
        );
    }

    #[test]
    fn unsupported_unknown_and_missing_fields_are_refused() {
        let opt = |r: Result<PolicyEnforcerConfig, ConfigError>| r.unwrap_err().option;
        assert_eq!(
            opt(parse(r#", "claim-information-point": {"claims": {}}"#)),
            "claim-information-point"
        );
        assert_eq!(
            opt(parse(
                r#", "paths": [{"path": "/x", "claim-information-point": {}}]"#
            )),
            "claim-information-point"
        );
        assert_eq!(
            opt(parse(r#", "on-deny-redirect-to": "/denied""#)),
            "on-deny-redirect-to"
        );
        let e = parse(r#", "enforcment-mode": "DISABLED""#).unwrap_err();
        assert!(e.reason.contains("enforcment-mode"), "{e}");
        assert!(parse(r#", "enforcement-mode": "OFF""#).is_err());
        assert_eq!(
            opt(PolicyEnforcerConfig::from_json(
                r#"{"realm": "r", "resource": "a", "credentials": {"secret": "s"}}"#
            )),
            "auth-server-url"
        );
        assert_eq!(
            opt(PolicyEnforcerConfig::from_json(
                r#"{"realm": "r", "auth-server-url": "http://x", "resource": "a"}"#
            )),
            "credentials"
        );
        assert_eq!(opt(parse(r#", "paths": [{"path": "events"}]"#)), "paths");
        assert_eq!(opt(parse(r#", "paths": [{"path": "/e/{id"}]"#)), "paths");
        assert_eq!(opt(parse(r#", "paths": [{"path": "/e/*/x"}]"#)), "paths");
        assert!(parse(r#", "paths": [{"path": "/e/*.css"}, {"path": "/e/{id}/*"}]"#).is_ok());
    }
}
