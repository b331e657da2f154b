//! The options of the event listeners (`crate::events`): the `jboss-logging` levels and where
//! the JSON-lines listener writes.

/// A `success-level` / `error-level` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info`.
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
}

impl Level {
    /// Reads a level name (Keycloak's JBoss level names, any case; `fatal` is `error`).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" | "fatal" => Level::Error,
            _ => return None,
        })
    }
}

/// Where the JSON-lines listener writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonOutput {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(std::path::PathBuf),
}

impl JsonOutput {
    /// `stdout`, or a file path.
    pub fn parse(v: &str) -> JsonOutput {
        if v == "stdout" || v == "-" {
            JsonOutput::Stdout
        } else {
            JsonOutput::File(v.into())
        }
    }
}

/// The Loki push listener's settings (`--events-loki-*`; see `crate::events::loki`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiConfig {
    /// The push URL (`.../loki/api/v1/push`).
    pub url: String,
    /// The `job` label.
    pub job: String,
    /// Lines held while waiting for Loki.
    pub buffer: usize,
}

impl LokiConfig {
    /// The push URL for a Loki base URL: `/loki/api/v1/push` added unless already there.
    pub fn push_url(base: &str) -> String {
        let base = base.trim_end_matches('/');
        if base.ends_with("/loki/api/v1/push") {
            base.to_string()
        } else {
            format!("{base}/loki/api/v1/push")
        }
    }
}

/// The metrics derived from events (`/metrics`): Keycloak's `keycloak_user_events_total`
/// (`--event-metrics-user-*`) and whether the business metrics carry a `realm` label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventMetrics {
    /// `--event-metrics-user-enabled`.
    pub user_enabled: bool,
    /// `--event-metrics-user-tags` has `realm` (the default).
    pub tag_realm: bool,
    /// ... has `idp`.
    pub tag_idp: bool,
    /// ... has `clientId`.
    pub tag_client_id: bool,
    /// `--event-metrics-user-events`: lower-case types without `_error`; empty: all.
    pub events: Vec<String>,
    /// `--metrics-realm-labels`: a `realm` label on the business metrics.
    pub realm_labels: bool,
}

impl EventMetrics {
    /// Reads `--event-metrics-user-tags` (`realm,idp,clientId`); the bad tag otherwise.
    pub fn with_tags(mut self, tags: &str) -> Result<Self, String> {
        self.tag_realm = false;
        for t in tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match t {
                "realm" => self.tag_realm = true,
                "idp" => self.tag_idp = true,
                "clientId" => self.tag_client_id = true,
                other => return Err(other.to_string()),
            }
        }
        Ok(self)
    }

    /// Reads `--event-metrics-user-events` (`login,logout,...`, any case).
    pub fn with_events(mut self, events: &str) -> Self {
        self.events = events
            .split(',')
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_outputs() {
        assert_eq!(Level::parse("DEBUG"), Some(Level::Debug));
        assert_eq!(Level::parse("warn"), Some(Level::Warn));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(JsonOutput::parse("stdout"), JsonOutput::Stdout);
        assert_eq!(
            JsonOutput::parse("/var/log/e.jsonl"),
            JsonOutput::File("/var/log/e.jsonl".into())
        );
    }
}
