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
