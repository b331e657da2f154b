//! Resource limits against hostile or broken clients: header and body sizes, form fields,
//! connections, read timeouts and the rate limit of the credential endpoints. Names follow
//! Quarkus's `quarkus.http.limits.*` and `quarkus.http.read-timeout`, which Keycloak runs on.

use std::time::Duration;

use super::{ConfigError, Lookup};

/// The smallest accepted `http-limits-max-header-size`: a bearer token of the server's own
/// limit must fit, so that it gets the token size refusal rather than a bare 431.
pub const MIN_HEADER_SIZE: usize = 300 * 1024;

/// The resolved limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Request line and headers, bytes (`http-limits-max-header-size`).
    pub max_header_size: usize,
    /// Request body of the Admin API, bytes (`http-limits-max-body-size`).
    pub max_body_size: usize,
    /// Parameters of one form body (`http-limits-max-form-fields`).
    pub max_form_fields: usize,
    /// Open connections of the HTTP listener; `None` is unlimited.
    pub max_connections: Option<usize>,
    /// Time to send the headers, and again the body (`http-read-timeout`).
    pub read_timeout: Duration,
    /// Requests per minute per client address on the credential endpoints; 0 is off.
    pub rate_limit_per_ip: u32,
    /// Requests per minute per client id on the credential endpoints; 0 is off.
    pub rate_limit_per_client: u32,
}

impl Default for Limits {
    /// The production defaults, with the rate limits off (as `start-dev`).
    fn default() -> Self {
        Limits {
            max_header_size: 400 * 1024,
            max_body_size: 10 * 1024 * 1024,
            max_form_fields: 256,
            max_connections: Some(10_000),
            read_timeout: Duration::from_secs(60),
            rate_limit_per_ip: 0,
            rate_limit_per_client: 0,
        }
    }
}

/// Reads the limit options.
pub(super) fn limits(o: &Lookup<'_>) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let size = |name: &str, default: usize| -> Result<usize, ConfigError> {
        o.get(name).map_or(Ok(default), |v| {
            parse_size(&v).ok_or_else(|| {
                ConfigError(format!(
                    "invalid value for option '--{name}': '{v}' (expected a size in bytes, such as 10240, 20K or 10M)"
                ))
            })
        })
    };
    let count = |name: &str, default: u64| -> Result<u64, ConfigError> {
        o.get(name).map_or(Ok(default), |v| {
            v.trim().parse::<u64>().map_err(|_| {
                ConfigError(format!(
                    "invalid value for option '--{name}': '{v}' (expected a whole number)"
                ))
            })
        })
    };
    let max_header_size = size("http-limits-max-header-size", d.max_header_size)?;
    if max_header_size < MIN_HEADER_SIZE {
        return Err(ConfigError(format!(
            "invalid value for option '--http-limits-max-header-size': at least {}K, so that tokens of the server's own size limit fit",
            MIN_HEADER_SIZE / 1024
        )));
    }
    let max_body_size = size("http-limits-max-body-size", d.max_body_size)?;
    if max_body_size == 0 {
        return Err(ConfigError(
            "invalid value for option '--http-limits-max-body-size': must be more than 0".into(),
        ));
    }
    let max_form_fields = count("http-limits-max-form-fields", d.max_form_fields as u64)?;
    if max_form_fields == 0 {
        return Err(ConfigError(
            "invalid value for option '--http-limits-max-form-fields': must be more than 0".into(),
        ));
    }
    let max_connections = count("http-limits-max-connections", 10_000)?;
    let read_timeout = match o.get("http-read-timeout") {
        None => d.read_timeout,
        Some(v) => parse_duration(&v).filter(|t| !t.is_zero()).ok_or_else(|| {
            ConfigError(format!(
                "invalid value for option '--http-read-timeout': '{v}' (expected a duration such as 60s, 500ms or 2m)"
            ))
        })?,
    };
    let rate = |name: &str| -> Result<u32, ConfigError> {
        let n = count(name, 0)?;
        u32::try_from(n).map_err(|_| {
            ConfigError(format!(
                "invalid value for option '--{name}': '{n}' is too large"
            ))
        })
    };
    Ok(Limits {
        max_header_size,
        max_body_size,
        max_form_fields: usize::try_from(max_form_fields).unwrap_or(usize::MAX),
        max_connections: (max_connections > 0)
            .then(|| usize::try_from(max_connections).unwrap_or(usize::MAX)),
        read_timeout,
        rate_limit_per_ip: rate("http-rate-limit-per-ip")?,
        rate_limit_per_client: rate("http-rate-limit-per-client")?,
    })
}

/// A size as Quarkus's `MemorySize`: bytes, or a number with a K, M or G suffix (powers of 1024).
pub fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let (num, mult) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1024),
        (i, 'm' | 'M') => (&v[..i], 1024 * 1024),
        (i, 'g' | 'G') => (&v[..i], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mult)
}

/// A duration: `500ms`, `30s`, `2m`, `1h`, or a number of seconds.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim().to_ascii_lowercase();
    let (num, unit_ms) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = v.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (v.as_str(), 1_000)
    };
    let n = num.trim().parse::<u64>().ok()?;
    Some(Duration::from_millis(n.checked_mul(unit_ms)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_as_quarkus_writes_them() {
        assert_eq!(parse_size("10240"), Some(10240));
        assert_eq!(parse_size("20K"), Some(20 * 1024));
        assert_eq!(parse_size("10M"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("1g"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("15"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("soon"), None);
    }
}
