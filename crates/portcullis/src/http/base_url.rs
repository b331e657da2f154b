//! The public base URL (`https://auth.example.com`) of a request: fixed by `--hostname`, or
//! taken from the request (and trusted proxy headers) when the configuration allows it.

use axum::http::{HeaderMap, Uri};

use crate::config::{Hostname, ProxyHeaders};

/// Whether pages under `base` are a secure context (W3C Secure Contexts §3.2, Keycloak's
/// `SecureContextResolver`): HTTPS, or a loopback host over HTTP (`localhost`, `*.localhost`,
/// `127.0.0.0/8`, `[::1]`). Browsers keep `Secure` cookies for these, so Keycloak's cookies are
/// `Secure; SameSite=None` there and `SameSite=Lax` elsewhere.
pub fn is_secure_context(base: &str) -> bool {
    let Ok(u) = url::Url::parse(base) else {
        return false;
    };
    match u.scheme() {
        "https" => true,
        "http" => match u.host() {
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// How to compute the base URL; built once from the configuration.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    /// `--hostname`.
    pub hostname: Hostname,
    /// Trusted proxy headers.
    pub proxy: Option<ProxyHeaders>,
    /// Scheme of the listener (`http` or `https`).
    pub scheme: &'static str,
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

fn first(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .split(',')
        .next()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `proto`, `host` of an RFC 7239 `Forwarded` header's first element.
fn forwarded(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let Some(v) = first(headers, "forwarded") else {
        return (None, None);
    };
    let (mut proto, mut host) = (None, None);
    for pair in v.split(';') {
        if let Some((k, val)) = pair.split_once('=') {
            let val = val.trim().trim_matches('"').to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "proto" => proto = Some(val),
                "host" => host = Some(val),
                _ => {}
            }
        }
    }
    (proto, host)
}

impl BaseUrl {
    /// The base URL for this request, or `None` when the request's host is unusable.
    pub fn of(&self, headers: &HeaderMap, uri: &Uri) -> Option<String> {
        if let Hostname::Url(u) = &self.hostname {
            return Some(u.clone());
        }
        let (mut scheme, mut host) = (self.scheme.to_string(), None::<String>);
        match self.proxy {
            Some(ProxyHeaders::XForwarded) => {
                if let Some(p) = first(headers, "x-forwarded-proto") {
                    scheme = p;
                }
                host = first(headers, "x-forwarded-host");
                if let (Some(h), Some(port)) = (&host, first(headers, "x-forwarded-port")) {
                    if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) {
                        host = Some(format!("{h}:{port}"));
                    }
                }
            }
            Some(ProxyHeaders::Forwarded) => {
                let (p, h) = forwarded(headers);
                if let Some(p) = p {
                    scheme = p;
                }
                host = h;
            }
            None => {}
        }
        if !matches!(scheme.as_str(), "http" | "https") {
            return None;
        }
        let host = host
            .or_else(|| {
                headers
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string)
            })
            .or_else(|| uri.authority().map(|a| a.to_string()))?;
        if !valid_host(&host) {
            return None;
        }
        let host = match &self.hostname {
            // Host name fixed; scheme and port from the request.
            Hostname::Host(name) => match host
                .rsplit_once(':')
                .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
            {
                Some((_, port)) => format!("{name}:{port}"),
                None => name.clone(),
            },
            _ => host,
        };
        let host = match (
            scheme.as_str(),
            host.strip_suffix(":443"),
            host.strip_suffix(":80"),
        ) {
            ("https", Some(h), _) => h.to_string(),
            ("http", _, Some(h)) => h.to_string(),
            _ => host,
        };
        Some(format!("{scheme}://{host}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn base_url_rules() {
        let uri: Uri = "/x".parse().unwrap();
        let dev = BaseUrl {
            hostname: Hostname::FromRequest,
            proxy: None,
            scheme: "http",
        };
        assert_eq!(
            dev.of(&headers(&[("host", "localhost:8080")]), &uri)
                .unwrap(),
            "http://localhost:8080"
        );
        // Proxy headers are ignored unless trusted.
        assert_eq!(
            dev.of(
                &headers(&[("host", "a:1"), ("x-forwarded-host", "evil")]),
                &uri
            )
            .unwrap(),
            "http://a:1"
        );
        assert!(dev.of(&headers(&[("host", "bad host/")]), &uri).is_none());
        let proxied = BaseUrl {
            hostname: Hostname::FromRequest,
            proxy: Some(ProxyHeaders::XForwarded),
            scheme: "http",
        };
        assert_eq!(
            proxied
                .of(
                    &headers(&[
                        ("host", "a:1"),
                        ("x-forwarded-host", "auth.example.com"),
                        ("x-forwarded-proto", "https")
                    ]),
                    &uri
                )
                .unwrap(),
            "https://auth.example.com"
        );
        let fwd = BaseUrl {
            hostname: Hostname::FromRequest,
            proxy: Some(ProxyHeaders::Forwarded),
            scheme: "http",
        };
        assert_eq!(
            fwd.of(
                &headers(&[
                    ("host", "a:1"),
                    ("forwarded", "for=1.2.3.4;proto=https;host=id.example.org")
                ]),
                &uri
            )
            .unwrap(),
            "https://id.example.org"
        );
        let fixed = BaseUrl {
            hostname: Hostname::Url("https://sso.example.com".into()),
            proxy: None,
            scheme: "http",
        };
        assert_eq!(
            fixed.of(&headers(&[("host", "evil")]), &uri).unwrap(),
            "https://sso.example.com"
        );
        let host_only = BaseUrl {
            hostname: Hostname::Host("sso.example.com".into()),
            proxy: None,
            scheme: "https",
        };
        assert_eq!(
            host_only
                .of(&headers(&[("host", "10.0.0.1:8443")]), &uri)
                .unwrap(),
            "https://sso.example.com:8443"
        );
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod secure_context_tests {
    use super::is_secure_context;

    #[test]
    fn https_and_loopback_hosts_are_secure_contexts() {
        for yes in [
            "https://sso.example",
            "http://localhost:8080",
            "http://app.localhost",
            "http://127.0.0.1:1",
            "http://127.8.9.10",
            "http://[::1]:8080",
        ] {
            assert!(is_secure_context(yes), "{yes}");
        }
        for no in [
            "http://sso.example",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "ftp://localhost",
            "garbage",
        ] {
            assert!(!is_secure_context(no), "{no}");
        }
    }
}
