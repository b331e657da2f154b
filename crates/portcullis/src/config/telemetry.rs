//! The OpenTelemetry tracing options, named as Keycloak's (`TracingOptions.java`):
//! `tracing-enabled`, `tracing-endpoint`, `tracing-protocol`, `tracing-sampler-ratio`,
//! `tracing-service-name`.

use super::ConfigError;

/// How spans leave the server (`tracing-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (Keycloak's default).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (`POST {endpoint}/v1/traces`).
    HttpProtobuf,
}

/// Tracing, when `tracing-enabled` is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// `tracing-endpoint` (`http://localhost:4317`).
    pub endpoint: String,
    /// `tracing-protocol` (`grpc`).
    pub protocol: Protocol,
    /// `tracing-sampler-ratio` in [0, 1] (1.0).
    pub sampler_ratio: f64,
    /// `tracing-service-name` (`keycloak`, as Keycloak's default, so dashboards keep working).
    pub service_name: String,
}

impl Tracing {
    /// The URL spans are sent to: for `http/protobuf`, the endpoint with the OTLP traces path
    /// `/v1/traces` added unless it already ends with it; for gRPC, the endpoint as given.
    pub fn export_url(&self) -> String {
        match self.protocol {
            Protocol::Grpc => self.endpoint.clone(),
            Protocol::HttpProtobuf => {
                let base = self.endpoint.trim_end_matches('/');
                if base.ends_with("/v1/traces") {
                    base.to_string()
                } else {
                    format!("{base}/v1/traces")
                }
            }
        }
    }
}

/// Reads the options; `None` when tracing is off (then no exporter exists).
pub fn tracing(
    enabled: bool,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Tracing>, ConfigError> {
    if !enabled {
        return Ok(None);
    }
    let endpoint = get("tracing-endpoint").unwrap_or_else(|| "http://localhost:4317".into());
    match url::Url::parse(&endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(ConfigError(format!(
                "invalid value for option 'tracing-endpoint': '{endpoint}' (an http:// or https:// URL)"
            )))
        }
    }
    let protocol = match get("tracing-protocol").as_deref().map(str::trim) {
        None | Some("grpc") => Protocol::Grpc,
        Some("http/protobuf") => Protocol::HttpProtobuf,
        Some(other) => {
            return Err(ConfigError(format!(
                "invalid value for option 'tracing-protocol': '{other}' (grpc or http/protobuf)"
            )))
        }
    };
    let sampler_ratio = match get("tracing-sampler-ratio") {
        None => 1.0,
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| {
                ConfigError(format!(
                    "invalid value for option 'tracing-sampler-ratio': '{v}' (a number from 0 to 1)"
                ))
            })?,
    };
    Ok(Some(Tracing {
        endpoint,
        protocol,
        sampler_ratio,
        service_name: get("tracing-service-name")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "keycloak".into()),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<Tracing>, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tracing(true, &|k| {
            pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_follow_keycloak_and_bad_values_name_the_option() {
        assert_eq!(tracing(false, &|_| None).unwrap(), None);
        let t = read(&[]).unwrap().unwrap();
        assert_eq!(t.endpoint, "http://localhost:4317");
        assert_eq!(t.protocol, Protocol::Grpc);
        assert_eq!(t.sampler_ratio, 1.0);
        assert_eq!(t.service_name, "keycloak");
        assert_eq!(t.export_url(), "http://localhost:4317");
        let t = read(&[
            ("tracing-protocol", "http/protobuf"),
            ("tracing-endpoint", "http://c:4318/"),
            ("tracing-sampler-ratio", "0.25"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(t.export_url(), "http://c:4318/v1/traces");
        assert_eq!(t.sampler_ratio, 0.25);
        for (k, v) in [
            ("tracing-protocol", "http/json"),
            ("tracing-sampler-ratio", "1.5"),
            ("tracing-sampler-ratio", "half"),
            ("tracing-endpoint", "localhost:4317"),
        ] {
            let e = read(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
    }
}
