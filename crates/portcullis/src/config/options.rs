//! The one table of server options: name, CLI flag, Keycloak environment variable, default,
//! whether the value is secret, and help text. Parsing, `--help`, the start-up report of
//! ignored `KC_*` variables and `docs/configuration.md` all come from [`OPTIONS`].

/// One configurable option.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// Keycloak's option name, used as the long CLI flag (`--db-url`).
    pub name: &'static str,
    /// Environment variables that set it, in order of precedence.
    pub env: &'static [&'static str],
    /// Default in production mode (`start`).
    pub default: Option<&'static str>,
    /// Default in development mode (`start-dev`), when it differs.
    pub dev_default: Option<&'static str>,
    /// Never printed or logged.
    pub secret: bool,
    /// `--help` and documentation text.
    pub help: &'static str,
}

const fn opt(
    name: &'static str,
    env: &'static [&'static str],
    default: Option<&'static str>,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        env,
        default,
        dev_default: None,
        secret: false,
        help,
    }
}

const fn secret(mut o: OptionSpec) -> OptionSpec {
    o.secret = true;
    o
}

const fn dev(mut o: OptionSpec, dev_default: &'static str) -> OptionSpec {
    o.dev_default = Some(dev_default);
    o
}

/// Every option the server reads.
pub const OPTIONS: &[OptionSpec] = &[
    opt("db", &["KC_DB"], Some("dev-file"), "Database vendor: `dev-file` (embedded SQLite) or `postgres`."),
    opt("db-url", &["KC_DB_URL"], None, "Database URL: `postgres://user@host:port/db`, `jdbc:postgresql://host:port/db`, or a SQLite file path / `sqlite:` URL for dev-file."),
    opt("db-url-host", &["KC_DB_URL_HOST"], None, "PostgreSQL host, when no db-url is given."),
    opt("db-url-port", &["KC_DB_URL_PORT"], None, "PostgreSQL port, when no db-url is given."),
    opt("db-url-database", &["KC_DB_URL_DATABASE"], None, "PostgreSQL database name, when no db-url is given."),
    opt("db-schema", &["KC_DB_SCHEMA"], None, "PostgreSQL schema to use (created if missing)."),
    opt("db-username", &["KC_DB_USERNAME"], None, "Database user name."),
    secret(opt("db-password", &["KC_DB_PASSWORD"], None, "Database password.")),
    opt("db-pool-max-size", &["KC_DB_POOL_MAX_SIZE"], Some("20"), "Maximum number of database connections."),
    opt("data-dir", &["PORTCULLIS_DATA_DIR"], Some("data"), "Directory for the embedded database file and the `import` directory."),
    opt("http-enabled", &["KC_HTTP_ENABLED"], Some("false"), "Serve plain HTTP.").dev_default_true(),
    opt("http-host", &["KC_HTTP_HOST"], Some("0.0.0.0"), "Address to listen on."),
    opt("http-port", &["KC_HTTP_PORT"], Some("8080"), "HTTP port (0 picks a free port)."),
    opt("https-port", &["KC_HTTPS_PORT"], Some("8443"), "HTTPS port (0 picks a free port)."),
    opt("https-certificate-file", &["KC_HTTPS_CERTIFICATE_FILE"], None, "PEM certificate chain for HTTPS."),
    opt("https-certificate-key-file", &["KC_HTTPS_CERTIFICATE_KEY_FILE"], None, "PEM private key for HTTPS."),
    opt("http-management-port", &["KC_HTTP_MANAGEMENT_PORT"], Some("9000"), "Port of the management interface (health, metrics); 0 picks a free port."),
    opt("hostname", &["KC_HOSTNAME"], None, "Public address: a full URL (`https://auth.example.com`) or a host name. Required by `start` unless hostname-strict is false."),
    dev(opt("hostname-strict", &["KC_HOSTNAME_STRICT"], Some("true"), "Require `hostname`; when false the base URL comes from the request."), "false"),
    opt("proxy-headers", &["KC_PROXY_HEADERS"], None, "Trust proxy headers: `forwarded` or `xforwarded`."),
    opt("health-enabled", &["KC_HEALTH_ENABLED"], Some("false"), "Serve /health/live and /health/ready."),
    opt("metrics-enabled", &["KC_METRICS_ENABLED"], Some("false"), "Serve /metrics."),
    opt("bootstrap-admin-username", &["KC_BOOTSTRAP_ADMIN_USERNAME", "KEYCLOAK_ADMIN"], None, "User name of the master realm's first administrator (used only on an empty store)."),
    secret(opt("bootstrap-admin-password", &["KC_BOOTSTRAP_ADMIN_PASSWORD", "KEYCLOAK_ADMIN_PASSWORD"], None, "Password of the first administrator (used only on an empty store).")),
    opt("spi-password-policy--password-blacklist--blacklists-path", &["KC_SPI_PASSWORD_POLICY__PASSWORD_BLACKLIST__BLACKLISTS_PATH", "KC_SPI_PASSWORD_POLICY_PASSWORD_BLACKLIST_BLACKLISTS_PATH"], None, "Directory of the password blacklist files named by `passwordBlacklist(<file>)` policies; default `<data-dir>/password-blacklists`."),
    opt("spi-public-key-storage--infinispan--min-time-between-requests", &["KC_SPI_PUBLIC_KEY_STORAGE__INFINISPAN__MIN_TIME_BETWEEN_REQUESTS", "KC_SPI_PUBLIC_KEY_STORAGE_INFINISPAN_MIN_TIME_BETWEEN_REQUESTS"], Some("10"), "Seconds between two fetches of a client's `jwks.url` when an assertion names an unknown `kid`; also how long a failed fetch is remembered."),
    opt("spi-ciba-auth-channel--ciba-http-auth-channel--http-authentication-channel-uri", &["KC_SPI_CIBA_AUTH_CHANNEL__CIBA_HTTP_AUTH_CHANNEL__HTTP_AUTHENTICATION_CHANNEL_URI", "KC_SPI_CIBA_AUTH_CHANNEL_CIBA_HTTP_AUTH_CHANNEL_HTTP_AUTHENTICATION_CHANNEL_URI"], None, "CIBA: the authentication channel (an `http://` or `https://` URI) the server POSTs each backchannel authentication request to, with a bearer token the channel presents at the callback (see `docs/ciba.md`). Unset: CIBA requests are answered 503, as Keycloak answers them without a channel."),
    opt("http-limits-max-header-size", &["QUARKUS_HTTP_LIMITS_MAX_HEADER_SIZE"], Some("400K"), "Largest request line and headers together (bytes, or with a K/M suffix). Past it: 431 with a protocol error, or, far past it (more than the read buffer holds), a bare 431; the connection is closed either way. At least 300K, so a bearer token of the server's own limit (256 KiB) fits and gets its own 431 naming the token limit."),
    opt("http-limits-max-body-size", &["QUARKUS_HTTP_LIMITS_MAX_BODY_SIZE"], Some("10M"), "Largest request body of the Admin API (realm imports), bytes or with a K/M suffix. The other endpoints (protocol, login, account, client registration) take at most 1M, or this value when smaller. Larger bodies get 413."),
    opt("http-limits-max-form-fields", &["QUARKUS_HTTP_LIMITS_MAX_FORM_FIELDS"], Some("256"), "Most parameters in one form body; more get 400 `invalid_request`."),
    opt("http-limits-max-connections", &["QUARKUS_HTTP_LIMITS_MAX_CONNECTIONS"], Some("10000"), "Most open connections of each listener (HTTP, HTTPS); past it an HTTP connection gets 503 with `Retry-After` and is closed, an HTTPS one is closed before the handshake. 0 means no limit."),
    opt("http-read-timeout", &["QUARKUS_HTTP_READ_TIMEOUT"], Some("60s"), "Time a client has to send a request's headers, and again its body (`30s`, `500ms`, `2m`, or seconds). A client past it is disconnected (headers) or answered 408 (body): slow clients cannot hold the server."),
    dev(opt("http-rate-limit-per-ip", &["PORTCULLIS_HTTP_RATE_LIMIT_PER_IP"], Some("600"), "Requests per minute one client address may send to the token, login (`login-actions`), CIBA and client registration endpoints (a token bucket: bursts up to the number, refilled evenly). Past it: 429 with `Retry-After`. 0 turns it off. Behind a proxy set `--proxy-headers`, or every caller shares the proxy's address."), "0"),
    dev(opt("http-rate-limit-per-client", &["PORTCULLIS_HTTP_RATE_LIMIT_PER_CLIENT"], Some("3000"), "Requests per minute to the same endpoints naming one client (`client_id` in the form, the query or HTTP basic authentication), across all addresses. Past it: 429 with `Retry-After`. 0 turns it off."), "0"),
    opt("testing-clock", &["PORTCULLIS_TESTING_CLOCK"], Some("false"), "Development mode only, for test suites: serve `PUT /realms/{realm}/testing/time-offset` to move the server's clock forward and `GET /realms/{realm}/testing/clear-expired-events` to run the expired-events sweep now (as Keycloak's test-suite provider). Refused by `start`."),
    opt("spi-events-listener--jboss-logging--success-level", &["KC_SPI_EVENTS_LISTENER__JBOSS_LOGGING__SUCCESS_LEVEL", "KC_SPI_EVENTS_LISTENER_JBOSS_LOGGING_SUCCESS_LEVEL"], Some("debug"), "Log level of successful events for the `jboss-logging` listener (category `org.keycloak.events`): trace, debug, info, warn, error."),
    opt("spi-events-listener--jboss-logging--error-level", &["KC_SPI_EVENTS_LISTENER__JBOSS_LOGGING__ERROR_LEVEL", "KC_SPI_EVENTS_LISTENER_JBOSS_LOGGING_ERROR_LEVEL"], Some("warn"), "Log level of failed events (`*_ERROR`) for the `jboss-logging` listener."),
    opt("events-json-output", &["PORTCULLIS_EVENTS_JSON_OUTPUT"], None, "Write every login and admin event of every realm as one JSON line (timestamp, event_type, realm, user_id, username, ip_address, client_id, session_id, success, details) to `stdout` or to this file (appended), for Promtail or another log shipper. Off when unset."),
    opt("events-queue-size", &["PORTCULLIS_EVENTS_QUEUE_SIZE"], Some("10000"), "Events waiting to be logged and stored at most; past it new events are dropped (counted in `portcullis_events_dropped_total`, warned about) and the request goes on."),
    opt("events-loki-url", &["PORTCULLIS_EVENTS_LOKI_URL"], None, "Offer the event listener `loki`: push every login and admin event of the realms naming `loki` in `eventsListeners` as a JSON line (the `--events-json-output` format) to Loki at this base URL (`/loki/api/v1/push` is added), with the labels `job`, `realm`, `event_type`, `success` and `client_id` (admin events: `event_type` `ADMIN_CREATE`, `ADMIN_UPDATE`, ... and `resource_type`). Batched, retried with backoff, never delaying a request; counters on /metrics. Off when unset."),
    opt("events-loki-job", &["PORTCULLIS_EVENTS_LOKI_JOB"], Some("keycloak"), "The `job` label of the lines pushed to Loki."),
    opt("events-loki-buffer-size", &["PORTCULLIS_EVENTS_LOKI_BUFFER_SIZE"], Some("10000"), "Lines held while Loki is slow or down; beyond it lines are dropped and counted in `portcullis_events_loki_dropped_total`."),
    opt("audit-enabled", &["PORTCULLIS_AUDIT_ENABLED"], Some("true"), "Append admin events and the security-relevant login events (logins and their failures, lockouts, credential, consent and identity-link changes, token exchange, client registration) of every realm to the tamper-evident audit trail, whatever the realm's event settings (see docs/audit.md; `portcullis audit verify`)."),
    opt("tracing-enabled", &["KC_TRACING_ENABLED"], Some("false"), "Export OpenTelemetry traces over OTLP: a span per request (`request`, joining the caller's trace from a W3C `traceparent` header) with the store and token signing as child spans. Off: no exporter."),
    opt("tracing-endpoint", &["KC_TRACING_ENDPOINT"], Some("http://localhost:4317"), "OTLP endpoint for traces; with `http/protobuf`, `/v1/traces` is added to it."),
    opt("tracing-protocol", &["KC_TRACING_PROTOCOL"], Some("grpc"), "OTLP protocol: `grpc` or `http/protobuf`."),
    opt("tracing-sampler-ratio", &["KC_TRACING_SAMPLER_RATIO"], Some("1.0"), "Probability in [0, 1] that a trace started here is sampled; a request with a `traceparent` follows the caller's sampled flag."),
    opt("tracing-service-name", &["KC_TRACING_SERVICE_NAME"], Some("keycloak"), "OpenTelemetry `service.name` of the exported spans."),
    opt("event-metrics-user-enabled", &["KC_EVENT_METRICS_USER_ENABLED"], Some("false"), "Count login events in `keycloak_user_events_total` on /metrics (needs `--metrics-enabled=true`)."),
    opt("event-metrics-user-tags", &["KC_EVENT_METRICS_USER_TAGS"], Some("realm"), "Labels of `keycloak_user_events_total` besides `event` and `error`: a comma-separated list of `realm`, `idp`, `clientId`."),
    opt("event-metrics-user-events", &["KC_EVENT_METRICS_USER_EVENTS"], None, "Event types counted in `keycloak_user_events_total` (comma-separated, lower case without `_error`, e.g. `login,logout`); all when unset."),
    opt("realm-cache-size", &["PORTCULLIS_REALM_CACHE_SIZE"], Some("256"), "Realm snapshots a node keeps built in memory (about 350 KB each for a small realm); other realms are read from the store on first use and the least recently used are dropped, so memory does not grow with idle realms."),
    opt("metrics-realm-labels", &["PORTCULLIS_METRICS_REALM_LABELS"], Some("false"), "Add a `realm` label to the business metrics (`keycloak_logins_total`, `keycloak_sessions_active`, `keycloak_token_issued_total`, `keycloak_user_registrations_total`, `keycloak_admin_events_total`); one series per realm."),
    opt("secrets-kek-file", &["PORTCULLIS_SECRETS_KEK_FILE"], None, "File holding the key-encryption key (32 bytes as base64 or 64 hex digits, e.g. `openssl rand -base64 32`) that seals client secrets, identity-provider secrets, the SMTP password, OTP seeds and realm private keys in the store (AES-256-GCM; see docs/secrets.md). Unset (and no `secrets-kek` or vault file): secrets are stored in clear, as Keycloak stores them, with a warning at start."),
    secret(opt("secrets-kek", &["PORTCULLIS_SECRETS_KEK"], None, "The key-encryption key itself (base64 or hex), instead of `secrets-kek-file`; meant for the environment variable.")),
    opt("secrets-kek-accept-files", &["PORTCULLIS_SECRETS_KEK_ACCEPT_FILES"], None, "Comma-separated files of further key-encryption keys that open sealed secrets but never seal: the previous key during a rotation (`portcullis secrets rotate-kek`)."),
    opt("vault-dir", &["KC_VAULT_DIR"], None, "Keycloak's file vault directory. Portcullis reads one file from it: `master_portcullis-kek`, the key-encryption key, when neither `secrets-kek-file` nor `secrets-kek` is set (`${vault.*}` references in realm settings are not resolved)."),
    opt("features", &["KC_FEATURES"], None, "Comma-separated Keycloak features to enable (`update-email`, also as `update-email:v1`). Portcullis acts on `update-email` only, which is on by default as in Keycloak 26.4+ (supported since 26.4.0); other names are accepted and ignored, with a warning."),
    opt("features-disabled", &["KC_FEATURES_DISABLED"], None, "Comma-separated Keycloak features to disable: `update-email` turns the `UPDATE_EMAIL` required action off (it is then neither run at login nor offered by `unregistered-required-actions`, and `kc_action=UPDATE_EMAIL` answers `kc_action_status=error`)."),
    opt("log-level", &["KC_LOG_LEVEL"], Some("info"), "Log level: error, warn, info, debug, trace (Keycloak's `level,category:level` form is accepted; categories are ignored)."),
];

impl OptionSpec {
    const fn dev_default_true(self) -> Self {
        dev(self, "true")
    }
}

/// Keycloak environment variables that are not options but are read elsewhere, so they are
/// never reported as ignored.
pub const KNOWN_ENV: &[&str] = &[];

/// Finds an option by name.
pub fn spec(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// `KC_*` variables in `vars` that no option reads: reported once at start-up as ignored.
pub fn ignored_kc_vars<'a>(vars: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = vars
        .into_iter()
        .filter(|k| k.starts_with("KC_"))
        .filter(|k| !OPTIONS.iter().any(|o| o.env.contains(k)) && !KNOWN_ENV.contains(k))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Markdown table of every option, for `docs/configuration.md`.
pub fn markdown_table() -> String {
    let mut s = String::from("| option (flag) | environment | default (start / start-dev) | description |\n|---|---|---|---|\n");
    for o in OPTIONS {
        let default = match (o.default, o.dev_default) {
            (d, Some(dd)) => format!("{} / {}", d.unwrap_or("-"), dd),
            (Some(d), None) => d.to_string(),
            (None, None) => "-".to_string(),
        };
        let env: Vec<String> = o.env.iter().map(|e| format!("`{e}`")).collect();
        s.push_str(&format!(
            "| `--{}` | {} | {} | {}{} |\n",
            o.name,
            env.join(", "),
            default,
            o.help,
            if o.secret {
                " (secret: never logged)"
            } else {
                ""
            }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kc_vars_are_reported_known_ones_are_not() {
        let ignored = ignored_kc_vars([
            "KC_DB",
            "KC_FEATURES",
            "KC_CACHE",
            "PATH",
            "KEYCLOAK_ADMIN",
            "KC_SPI_X",
        ]);
        assert_eq!(ignored, vec!["KC_CACHE", "KC_SPI_X"]);
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in OPTIONS.iter().enumerate() {
            assert!(
                OPTIONS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }
}

#[cfg(test)]
mod doc_tests {
    /// `docs/configuration.md` carries the generated table. Regenerate it with
    /// `PORTCULLIS_WRITE_DOCS=1 cargo test -p portcullis --lib doc_tests`.
    #[test]
    fn configuration_doc_lists_every_option() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        let table = super::markdown_table();
        if std::env::var("PORTCULLIS_WRITE_DOCS").is_ok() && doc.contains("OPTIONS_TABLE") {
            let _ = std::fs::write(path, doc.replace("OPTIONS_TABLE", table.trim_end()));
            return;
        }
        assert!(
            doc.contains(table.trim_end()),
            "docs/configuration.md is out of date with the options table"
        );
    }
}
