//! Server configuration, resolved once at start-up from flags, Keycloak's `KC_*`
//! environment variables and defaults (in that order of precedence), and validated with
//! messages that name the option.

pub mod events;
pub mod limits;
pub mod options;
pub mod secrets;
pub mod telemetry;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::crypto::Secret;
use options::{spec, OPTIONS};

/// `start` (production) or `start-dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `start-dev`: HTTP, embedded store, relaxed hostname, admin/admin bootstrap.
    Dev,
    /// `start`: refuses unsafe configurations.
    Production,
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Database {
    /// Embedded SQLite file (`KC_DB=dev-file`).
    Sqlite {
        /// Database file.
        path: PathBuf,
    },
    /// PostgreSQL (`KC_DB=postgres`).
    Postgres {
        /// `postgres://` connection URL (may carry credentials: never logged).
        url: Secret,
        /// Schema to use, created if missing.
        schema: Option<String>,
        /// Pool size.
        max_connections: u32,
    },
}

/// How the public base URL is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hostname {
    /// A full URL: the base is fixed.
    Url(String),
    /// Only a host name: scheme and port come from the request.
    Host(String),
    /// Dev mode or hostname-strict=false without hostname: everything from the request.
    FromRequest,
}

/// Which proxy headers to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeaders {
    /// RFC 7239 `Forwarded`.
    Forwarded,
    /// `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Port`.
    XForwarded,
}

/// PEM files for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// The resolved configuration of one server process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Production or development.
    pub mode: Mode,
    /// Storage.
    pub db: Database,
    /// Data directory (SQLite file, `import/`).
    pub data_dir: PathBuf,
    /// Serve plain HTTP.
    pub http_enabled: bool,
    /// Listen address.
    pub http_host: String,
    /// HTTP port.
    pub http_port: u16,
    /// HTTPS port.
    pub https_port: u16,
    /// HTTPS key material.
    pub tls: Option<TlsFiles>,
    /// Management port (health, metrics).
    pub management_port: u16,
    /// Public base URL resolution.
    pub hostname: Hostname,
    /// Trusted proxy headers.
    pub proxy_headers: Option<ProxyHeaders>,
    /// Health endpoints.
    pub health_enabled: bool,
    /// Metrics endpoint.
    pub metrics_enabled: bool,
    /// The test suites' clock endpoint (`start-dev` only).
    pub testing_clock: bool,
    /// First administrator, used only on an empty store.
    pub bootstrap_admin: Option<(String, Secret)>,
    /// Tracing filter.
    pub log_level: String,
    /// Directory of password blacklist files (`passwordBlacklist(<file>)`).
    pub password_blacklists_dir: PathBuf,
    /// Least time between two fetches of one client `jwks.url` (Keycloak's
    /// `minTimeBetweenRequests`).
    pub public_key_min_time_between_requests: std::time::Duration,
    /// CIBA's authentication channel (Keycloak's `ciba-http-auth-channel` provider's
    /// `httpAuthenticationChannelUri`), an `http(s)://` URL.
    pub ciba_auth_channel_uri: Option<String>,
    /// How many realm snapshots a node keeps built (`realm-cache-size`): the others are read
    /// from the store on first use and the least recently used are dropped.
    pub realm_cache_size: usize,
    /// Limits against hostile or broken clients (sizes, connections, timeouts, rate).
    pub limits: limits::Limits,
    /// `jboss-logging` level of successful events.
    pub events_success_level: events::Level,
    /// `jboss-logging` level of failed events.
    pub events_error_level: events::Level,
    /// The JSON-lines event output, if on.
    pub events_json_output: Option<events::JsonOutput>,
    /// Capacity of the event queue.
    pub events_queue_size: usize,
    /// The Loki push listener, if on (`--events-loki-url`).
    pub events_loki: Option<events::LokiConfig>,
    /// The audit trail (`--audit-enabled`).
    pub audit_enabled: bool,
    /// Event metrics and realm labels of `/metrics`.
    pub event_metrics: events::EventMetrics,
    /// OpenTelemetry traces over OTLP (`--tracing-enabled`); none when off.
    pub tracing: Option<telemetry::Tracing>,
    /// Seals secrets at rest with the key-encryption key, if one is configured.
    pub sealer: std::sync::Arc<crate::crypto::seal::Sealer>,
    /// Keycloak's features this server acts on (`--features`, `--features-disabled`).
    pub features: Features,
}

/// The Keycloak features (`org.keycloak.common.Profile.Feature`) that change what this server
/// does, as `--features` / `--features-disabled` set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// `update-email` (`UPDATE_EMAIL("Update Email Action", Type.DEFAULT)`: preview in
    /// 26.0–26.3, supported and on by default since 26.4.0): the `UPDATE_EMAIL` required action.
    pub update_email: bool,
    /// Named features this server does not act on (reported at start-up).
    pub ignored: Vec<String>,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            update_email: true,
            ignored: Vec::new(),
        }
    }
}

/// The feature names of a `--features` list (`name` or `name:v1`, comma-separated).
fn feature_list(v: Option<String>) -> Vec<String> {
    v.unwrap_or_default()
        .split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .map(|f| match f.split_once(':') {
            Some((name, _version)) => name.to_string(),
            None => f,
        })
        .collect()
}

/// `--features` / `--features-disabled`: a feature in both lists is refused, as Keycloak
/// refuses it; names this server does not act on are accepted and reported.
fn features(o: &Lookup<'_>) -> Result<Features, ConfigError> {
    let on = feature_list(o.get("features"));
    let off = feature_list(o.get("features-disabled"));
    if let Some(both) = on.iter().find(|f| off.contains(f)) {
        return Err(ConfigError(format!(
            "invalid value for options '--features' and '--features-disabled': feature '{both}' is both enabled and disabled"
        )));
    }
    let mut out = Features::default();
    for f in on.iter().chain(&off) {
        if f != "update-email" && !out.ignored.contains(f) {
            out.ignored.push(f.clone());
        }
    }
    if off.iter().any(|f| f == "update-email") {
        out.update_email = false;
    }
    Ok(out)
}

/// A configuration error: names the option.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Raw option values as given on the command line (`name -> value`).
pub type Flags = HashMap<String, String>;

/// Looks up one option: flag, then its environment variables, then the mode's default.
fn raw(
    name: &str,
    mode: Mode,
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    if let Some(v) = flags.get(name) {
        return Some(v.clone());
    }
    let s = spec(name)?;
    for var in s.env {
        if let Some(v) = env(var) {
            return Some(v);
        }
    }
    match mode {
        Mode::Dev => s.dev_default.or(s.default).map(str::to_string),
        Mode::Production => s.default.map(str::to_string),
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError(format!(
            "invalid value for option '--{name}': '{v}' (expected true or false)"
        ))),
    }
}

fn parse_port(name: &str, v: &str) -> Result<u16, ConfigError> {
    v.trim().parse::<u16>().map_err(|_| {
        ConfigError(format!(
            "invalid value for option '--{name}': '{v}' (expected a port number 0-65535)"
        ))
    })
}

/// Turns Keycloak's JDBC URL (`jdbc:postgresql://host:port/db?...`) into a `postgres://` URL;
/// `postgres://` and `postgresql://` URLs pass through.
pub fn normalize_pg_url(url: &str) -> Result<String, ConfigError> {
    let u = url.trim();
    let rest = if let Some(r) = u.strip_prefix("jdbc:postgresql://") {
        r
    } else if let Some(r) = u.strip_prefix("postgresql://") {
        r
    } else if let Some(r) = u.strip_prefix("postgres://") {
        r
    } else {
        return Err(ConfigError(format!(
            "invalid value for option '--db-url': expected jdbc:postgresql://host:port/database or postgres://..., got '{}'",
            redact_url(u)
        )));
    };
    Ok(format!("postgres://{rest}"))
}

/// Hides a password in a URL for error messages.
fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => u.to_string(),
    }
}

/// Option lookup for one resolution: flag, environment, then the mode's default; an empty
/// value counts as unset.
struct Lookup<'a> {
    mode: Mode,
    flags: &'a Flags,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Lookup<'_> {
    /// The option's value, if set and not empty.
    fn get(&self, name: &str) -> Option<String> {
        raw(name, self.mode, self.flags, self.env).filter(|v| !v.is_empty())
    }

    /// A boolean option; unset is `false`.
    fn get_bool(&self, name: &str) -> Result<bool, ConfigError> {
        self.get(name)
            .map(|v| parse_bool(name, &v))
            .unwrap_or(Ok(false))
    }
}

/// The Loki push listener's options; none without `events-loki-url`.
fn loki(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<events::LokiConfig>, ConfigError> {
    let Some(base) = get("events-loki-url") else {
        return Ok(None);
    };
    match url::Url::parse(&base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(ConfigError(format!(
                "invalid value for option 'events-loki-url': '{base}' (an http:// or https:// URL)"
            )))
        }
    }
    let buffer = positive(
        "events-loki-buffer-size",
        get("events-loki-buffer-size"),
        10_000,
    )?;
    Ok(Some(events::LokiConfig {
        url: events::LokiConfig::push_url(&base),
        job: get("events-loki-job")
            .filter(|j| !j.trim().is_empty())
            .unwrap_or_else(|| "keycloak".into()),
        buffer,
    }))
}

/// A `jboss-logging` level option.
fn event_level(
    name: &str,
    v: Option<String>,
    default: events::Level,
) -> Result<events::Level, ConfigError> {
    match v {
        None => Ok(default),
        Some(v) => events::Level::parse(&v).ok_or_else(|| {
            ConfigError(format!(
                "invalid value for option '{name}': '{v}' (trace, debug, info, warn or error)"
            ))
        }),
    }
}

impl Config {
    /// Resolves and validates the configuration.
    pub fn resolve(
        mode: Mode,
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let o = Lookup { mode, flags, env };
        let get = |name: &str| o.get(name);
        let get_bool = |name: &str| o.get_bool(name);
        let data_dir = PathBuf::from(get("data-dir").unwrap_or_else(|| "data".into()));
        let db = database(&o, &data_dir)?;
        let http_enabled = get_bool("http-enabled")?;
        let tls = tls_files(&o)?;
        let hostname_strict = get_bool("hostname-strict")?;
        let hostname = hostname(&o)?;
        let proxy_headers = proxy_headers(&o)?;
        let bootstrap_admin = bootstrap_admin(&o)?;

        let config = Config {
            mode,
            db,
            data_dir: data_dir.clone(),
            http_enabled,
            http_host: get("http-host").unwrap_or_else(|| "0.0.0.0".into()),
            http_port: parse_port(
                "http-port",
                &get("http-port").unwrap_or_else(|| "8080".into()),
            )?,
            https_port: parse_port(
                "https-port",
                &get("https-port").unwrap_or_else(|| "8443".into()),
            )?,
            tls,
            management_port: parse_port(
                "http-management-port",
                &get("http-management-port").unwrap_or_else(|| "9000".into()),
            )?,
            hostname,
            proxy_headers,
            health_enabled: get_bool("health-enabled")?,
            metrics_enabled: get_bool("metrics-enabled")?,
            testing_clock: get_bool("testing-clock")?,
            bootstrap_admin,
            log_level: get("log-level").unwrap_or_else(|| "info".into()),
            password_blacklists_dir: get(
                "spi-password-policy--password-blacklist--blacklists-path",
            )
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("password-blacklists")),
            public_key_min_time_between_requests: public_key_min_time_between_requests(&o)?,
            ciba_auth_channel_uri: ciba_auth_channel_uri(&o)?,
            limits: limits::limits(&o)?,
            events_success_level: event_level(
                "spi-events-listener--jboss-logging--success-level",
                get("spi-events-listener--jboss-logging--success-level"),
                events::Level::Debug,
            )?,
            events_error_level: event_level(
                "spi-events-listener--jboss-logging--error-level",
                get("spi-events-listener--jboss-logging--error-level"),
                events::Level::Warn,
            )?,
            events_json_output: get("events-json-output").map(|v| events::JsonOutput::parse(&v)),
            events_queue_size: positive("events-queue-size", get("events-queue-size"), 10_000)?,
            realm_cache_size: positive("realm-cache-size", get("realm-cache-size"), 256)?,
            audit_enabled: get_bool("audit-enabled")?,
            events_loki: loki(&get)?,
            tracing: telemetry::tracing(get_bool("tracing-enabled")?, &get)?,
            event_metrics: events::EventMetrics {
                user_enabled: get_bool("event-metrics-user-enabled")?,
                realm_labels: get_bool("metrics-realm-labels")?,
                ..Default::default()
            }
            .with_tags(&get("event-metrics-user-tags").unwrap_or_else(|| "realm".into()))
            .map_err(|t| {
                ConfigError(format!(
                    "invalid value for option 'event-metrics-user-tags': '{t}' (realm, idp, clientId)"
                ))
            })?
            .with_events(&get("event-metrics-user-events").unwrap_or_default()),
            sealer: secrets::sealer(&o)?,
            features: features(&o)?,
        };
        if mode == Mode::Production {
            config.check_production(hostname_strict)?;
        }
        Ok(config)
    }

    /// The refusals of production mode, with Keycloak's wording where it has one.
    fn check_production(&self, hostname_strict: bool) -> Result<(), ConfigError> {
        if hostname_strict && self.hostname == Hostname::FromRequest {
            return Err(ConfigError(
                "hostname is not configured; either configure hostname (--hostname / KC_HOSTNAME), or set hostname-strict to false"
                    .into(),
            ));
        }
        if self.testing_clock {
            return Err(ConfigError(
                "option '--testing-clock' is for test suites and only accepted by start-dev".into(),
            ));
        }
        if self.tls.is_none() && !self.http_enabled {
            return Err(ConfigError(
                "Key material not provided to setup HTTPS. Please configure your keys/certificates (--https-certificate-file, --https-certificate-key-file), or enable HTTP with --http-enabled=true behind a TLS-terminating proxy (--proxy-headers), or start the server in development mode (start-dev)."
                    .into(),
            ));
        }
        Ok(())
    }

    /// Tracing filter directive from Keycloak's `level[,category:level]` syntax.
    pub fn tracing_filter(&self) -> String {
        let root = self
            .log_level
            .split(',')
            .find(|p| !p.contains(':'))
            .unwrap_or("info")
            .trim()
            .to_ascii_lowercase();
        let level = match root.as_str() {
            "fatal" | "error" => "error",
            "warn" | "warning" => "warn",
            "debug" => "debug",
            "trace" | "all" => "trace",
            "off" => "off",
            _ => "info",
        };
        format!("{level},sqlx=warn,hyper=warn,tower_http=warn")
    }
}

/// `db`: the embedded SQLite file (`dev-file`, the default) or PostgreSQL.
fn database(o: &Lookup<'_>, data_dir: &Path) -> Result<Database, ConfigError> {
    Ok(match o.get("db").as_deref().unwrap_or("dev-file") {
        "dev-file" => {
            let path = match o.get("db-url") {
                Some(u) => PathBuf::from(
                    u.strip_prefix("sqlite://")
                        .or_else(|| u.strip_prefix("sqlite:"))
                        .unwrap_or(&u),
                ),
                None => data_dir.join("portcullis.db"),
            };
            Database::Sqlite { path }
        }
        "postgres" => postgres(o)?,
        other => {
            return Err(ConfigError(format!(
                "invalid value for option '--db': '{other}' (supported: dev-file, postgres)"
            )))
        }
    })
}

/// PostgreSQL: the connection URL with its credentials, the pool size and the schema.
fn postgres(o: &Lookup<'_>) -> Result<Database, ConfigError> {
    let get = |name: &str| o.get(name);
    let mut url = postgres_url(o)?;
    if let Some(user) = get("db-username") {
        url.set_username(&user)
            .map_err(|_| ConfigError("invalid value for option '--db-username'".into()))?;
    }
    if let Some(pw) = get("db-password") {
        url.set_password(Some(&pw))
            .map_err(|_| ConfigError("invalid value for option '--db-password'".into()))?;
    }
    let max_connections = get("db-pool-max-size")
        .unwrap_or_else(|| "20".into())
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ConfigError(
                "invalid value for option '--db-pool-max-size': expected a positive number".into(),
            )
        })?;
    let schema = get("db-schema");
    if let Some(s) = &schema {
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConfigError(format!(
                "invalid value for option '--db-schema': '{s}' (letters, digits and _ only)"
            )));
        }
    }
    Ok(Database::Postgres {
        url: Secret::new(url.to_string()),
        schema,
        max_connections,
    })
}

/// The PostgreSQL URL from `db-url`, or else from `db-url-host`, `-port` and `-database`.
fn postgres_url(o: &Lookup<'_>) -> Result<url::Url, ConfigError> {
    let get = |name: &str| o.get(name);
    Ok(match get("db-url") {
        Some(u) => url::Url::parse(&normalize_pg_url(&u)?)
            .map_err(|e| ConfigError(format!("invalid value for option '--db-url': {e}")))?,
        None => {
            let host = get("db-url-host").unwrap_or_else(|| "localhost".into());
            let port = get("db-url-port").unwrap_or_else(|| "5432".into());
            parse_port("db-url-port", &port)?;
            let database = get("db-url-database").unwrap_or_else(|| "keycloak".into());
            url::Url::parse(&format!("postgres://{host}:{port}/{database}")).map_err(|e| {
                ConfigError(format!("invalid value for option '--db-url-host': {e}"))
            })?
        }
    })
}

/// HTTPS key material: both files or neither.
fn tls_files(o: &Lookup<'_>) -> Result<Option<TlsFiles>, ConfigError> {
    match (o.get("https-certificate-file"), o.get("https-certificate-key-file")) {
        (Some(c), Some(k)) => Ok(Some(TlsFiles {
            cert: c.into(),
            key: k.into(),
        })),
        (None, None) => Ok(None),
        _ => Err(ConfigError(
            "both '--https-certificate-file' and '--https-certificate-key-file' must be set for HTTPS"
                .into(),
        )),
    }
}

/// `hostname`: a full http(s) URL, a bare host name, or unset (taken from the request).
fn hostname(o: &Lookup<'_>) -> Result<Hostname, ConfigError> {
    Ok(match o.get("hostname") {
        Some(h) if h.contains("://") => {
            let u = url::Url::parse(&h).map_err(|e| {
                ConfigError(format!("invalid value for option '--hostname': '{h}': {e}"))
            })?;
            if !matches!(u.scheme(), "http" | "https")
                || u.host_str().is_none()
                || u.query().is_some()
                || u.fragment().is_some()
            {
                return Err(ConfigError(format!(
                    "invalid value for option '--hostname': '{h}' (expected http(s)://host[:port][/path])"
                )));
            }
            Hostname::Url(h.trim_end_matches('/').to_string())
        }
        Some(h) => {
            if h.is_empty()
                || !h
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
            {
                return Err(ConfigError(format!(
                    "invalid value for option '--hostname': '{h}'"
                )));
            }
            Hostname::Host(h)
        }
        None => Hostname::FromRequest,
    })
}

/// `proxy-headers`: which forwarding headers to trust, if any.
fn proxy_headers(o: &Lookup<'_>) -> Result<Option<ProxyHeaders>, ConfigError> {
    match o.get("proxy-headers").as_deref() {
        None => Ok(None),
        Some("forwarded") => Ok(Some(ProxyHeaders::Forwarded)),
        Some("xforwarded") => Ok(Some(ProxyHeaders::XForwarded)),
        Some(other) => Err(ConfigError(format!(
            "invalid value for option '--proxy-headers': '{other}' (expected forwarded or xforwarded)"
        ))),
    }
}

/// The first administrator: the user name defaults to `admin`; `start-dev` without either
/// option gets admin/admin.
fn bootstrap_admin(o: &Lookup<'_>) -> Result<Option<(String, Secret)>, ConfigError> {
    match (
        o.get("bootstrap-admin-username"),
        o.get("bootstrap-admin-password"),
    ) {
        (Some(u), Some(p)) => Ok(Some((u, Secret::new(p)))),
        (None, Some(p)) => Ok(Some(("admin".to_string(), Secret::new(p)))),
        (Some(_), None) => Err(ConfigError(
            "'--bootstrap-admin-username' is set but '--bootstrap-admin-password' (KC_BOOTSTRAP_ADMIN_PASSWORD) is not"
                .into(),
        )),
        (None, None) if o.mode == Mode::Dev => Ok(Some((
            "admin".to_string(),
            Secret::new("admin".to_string()),
        ))),
        (None, None) => Ok(None),
    }
}

/// Least time between two fetches of one client's `jwks.url`, in seconds (default 10).
/// A positive number option (`default` when unset).
fn positive(name: &str, value: Option<String>, default: usize) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ConfigError(format!(
                    "invalid value for option '{name}': '{v}' (a positive number)"
                ))
            }),
    }
}

fn public_key_min_time_between_requests(
    o: &Lookup<'_>,
) -> Result<std::time::Duration, ConfigError> {
    let name = "spi-public-key-storage--infinispan--min-time-between-requests";
    let v = o.get(name).unwrap_or_else(|| "10".into());
    Ok(std::time::Duration::from_secs(
        v.trim().parse::<u64>().map_err(|_| {
            ConfigError(format!(
                "invalid value for option '--{name}': '{v}' (expected a number of seconds)"
            ))
        })?,
    ))
}

/// CIBA's authentication channel URI: checked at start-up (Keycloak checks the scheme on each
/// request and answers 503 when it is wrong; a typo is better found before the first login).
fn ciba_auth_channel_uri(o: &Lookup<'_>) -> Result<Option<String>, ConfigError> {
    let name = "spi-ciba-auth-channel--ciba-http-auth-channel--http-authentication-channel-uri";
    let Some(v) = o.get(name) else {
        return Ok(None);
    };
    match url::Url::parse(&v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(Some(v)),
        _ => Err(ConfigError(format!(
            "invalid value for option '--{name}': '{v}' (expected an http:// or https:// URL)"
        ))),
    }
}

/// Names of all options, for building the CLI.
pub fn option_names() -> impl Iterator<Item = &'static str> {
    OPTIONS.iter().map(|o| o.name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn update_email_is_on_by_default_and_turned_off_by_features_disabled() {
        let none = Config::resolve(Mode::Dev, &Flags::new(), &env_of(&[])).unwrap();
        assert!(none.features.update_email);
        let env = env_of(&[("KC_FEATURES", "update-email:v1,token-exchange")]);
        let on = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap();
        assert!(on.features.update_email);
        assert_eq!(on.features.ignored, vec!["token-exchange".to_string()]);
        let env = env_of(&[("KC_FEATURES_DISABLED", "Update-Email")]);
        let off = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap();
        assert!(!off.features.update_email);
        let env = env_of(&[
            ("KC_FEATURES", "update-email"),
            ("KC_FEATURES_DISABLED", "update-email"),
        ]);
        let both = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap_err();
        assert!(
            both.0
                .contains("'update-email' is both enabled and disabled"),
            "{both}"
        );
    }

    #[test]
    fn jdbc_urls_are_accepted() {
        assert_eq!(
            normalize_pg_url("jdbc:postgresql://db:5432/keycloak").unwrap(),
            "postgres://db:5432/keycloak"
        );
        assert!(normalize_pg_url("mysql://x").is_err());
    }

    #[test]
    fn env_builds_postgres_url_with_credentials() {
        let env = env_of(&[
            ("KC_DB", "postgres"),
            ("KC_DB_URL_HOST", "pg"),
            ("KC_DB_URL_DATABASE", "kc"),
            ("KC_DB_USERNAME", "kcuser"),
            ("KC_DB_PASSWORD", "pw"),
        ]);
        let c = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap();
        match c.db {
            Database::Postgres { url, .. } => {
                assert_eq!(url.expose(), "postgres://kcuser:pw@pg:5432/kc")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn production_refuses_without_hostname_or_tls() {
        let env = env_of(&[("KC_BOOTSTRAP_ADMIN_PASSWORD", "x")]);
        let e = Config::resolve(Mode::Production, &Flags::new(), &env).unwrap_err();
        assert!(e.0.contains("hostname is not configured"), "{e}");
        let env = env_of(&[("KC_HOSTNAME", "auth.example.com")]);
        let e = Config::resolve(Mode::Production, &Flags::new(), &env).unwrap_err();
        assert!(e.0.contains("Key material not provided"), "{e}");
        let env = env_of(&[
            ("KC_HOSTNAME", "https://auth.example.com"),
            ("KC_HTTP_ENABLED", "true"),
            ("KC_PROXY_HEADERS", "xforwarded"),
        ]);
        let c = Config::resolve(Mode::Production, &Flags::new(), &env).unwrap();
        assert_eq!(c.hostname, Hostname::Url("https://auth.example.com".into()));
        assert!(c.bootstrap_admin.is_none());
    }

    #[test]
    fn the_testing_clock_is_for_development_mode_only() {
        let env = env_of(&[
            ("KC_HOSTNAME", "https://auth.example.com"),
            ("KC_HTTP_ENABLED", "true"),
            ("PORTCULLIS_TESTING_CLOCK", "true"),
        ]);
        let e = Config::resolve(Mode::Production, &Flags::new(), &env).unwrap_err();
        assert!(e.0.contains("--testing-clock"), "{e}");
        assert!(
            Config::resolve(Mode::Dev, &Flags::new(), &env)
                .unwrap()
                .testing_clock
        );
        let off = Config::resolve(Mode::Dev, &Flags::new(), &env_of(&[])).unwrap();
        assert!(!off.testing_clock, "off unless asked for");
    }

    #[test]
    fn the_rate_limit_is_on_in_production_and_off_in_development() {
        let env = env_of(&[
            ("KC_HOSTNAME", "https://auth.example.com"),
            ("KC_HTTP_ENABLED", "true"),
        ]);
        let prod = Config::resolve(Mode::Production, &Flags::new(), &env).unwrap();
        assert_eq!(prod.limits.rate_limit_per_ip, 600);
        assert_eq!(prod.limits.rate_limit_per_client, 3000);
        assert_eq!(prod.limits.max_body_size, 10 * 1024 * 1024);
        let dev = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap();
        assert_eq!(dev.limits.rate_limit_per_ip, 0);
        assert_eq!(dev.limits.rate_limit_per_client, 0);
        let env = env_of(&[("QUARKUS_HTTP_LIMITS_MAX_HEADER_SIZE", "20K")]);
        let e = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap_err();
        assert!(e.0.contains("--http-limits-max-header-size"), "{e}");
        let env = env_of(&[("QUARKUS_HTTP_READ_TIMEOUT", "0s")]);
        let e = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap_err();
        assert!(e.0.contains("--http-read-timeout"), "{e}");
    }

    #[test]
    fn flags_win_over_env_and_legacy_admin_vars_work() {
        let env = env_of(&[
            ("KC_HTTP_PORT", "1"),
            ("KEYCLOAK_ADMIN", "root"),
            ("KEYCLOAK_ADMIN_PASSWORD", "pw"),
        ]);
        let mut flags = Flags::new();
        flags.insert("http-port".into(), "2".into());
        let c = Config::resolve(Mode::Dev, &flags, &env).unwrap();
        assert_eq!(c.http_port, 2);
        let (u, p) = c.bootstrap_admin.unwrap();
        assert_eq!((u.as_str(), p.expose()), ("root", "pw"));
    }

    #[test]
    fn bad_values_name_the_option() {
        let env = env_of(&[("KC_HEALTH_ENABLED", "yes")]);
        let e = Config::resolve(Mode::Dev, &Flags::new(), &env).unwrap_err();
        assert!(e.0.contains("--health-enabled"), "{e}");
    }
}
