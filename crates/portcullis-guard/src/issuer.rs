//! Trusted issuers: exact issuer URLs and realm patterns (`https://idp/realms/tenant-*`).
//!
//! The token's `iss` is compared as a string, byte for byte, against the configured form; the
//! configured form is checked to be canonical once, at start-up. No URL normalization is ever
//! applied to a token's `iss`, so `..`, `%2e`, an upper-case scheme, a default port, userinfo,
//! a query or a trailing slash simply fail to match.

use std::net::IpAddr;

use crate::error::ConfigError;

/// Longest realm name accepted in an issuer (Keycloak stores realm names in a 255-character column).
const MAX_REALM_LEN: usize = 255;

/// One configured issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIssuer {
    /// Exactly this issuer URL, e.g. `https://idp.example.com/realms/acme`.
    Exact(String),
    /// Any realm whose name starts with `prefix` (and has at least one more character) under `base`,
    /// e.g. `https://idp.example.com/realms/tenant-*`.
    RealmPattern {
        /// The issuer up to and including `/realms/`, e.g. `https://idp.example.com/realms/`.
        base: String,
        /// The realm-name prefix before `*`, e.g. `tenant-` (may be empty).
        prefix: String,
    },
}

/// An issuer that matched the configuration, ready for key lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MatchedIssuer<'a> {
    /// The token's `iss`, identical to a configured issuer or an instance of a pattern.
    pub(crate) iss: &'a str,
    /// The realm name: the last path segment after `/realms/`, if there is one.
    pub(crate) tenant: Option<&'a str>,
}

impl TrustedIssuer {
    /// Parses a configured issuer: a pattern if it ends in `*`, an exact URL otherwise.
    ///
    /// The URL must be canonical (what a WHATWG URL parser would print back), use `https`
    /// (or `http` to a loopback host, or any host when `allow_http` is set), and carry no
    /// userinfo, query, fragment or percent-encoding.
    pub fn parse(configured: &str, allow_http: bool) -> Result<Self, ConfigError> {
        const OPT: &str = "issuer";
        if let Some(pattern) = configured.strip_suffix('*') {
            let Some(idx) = pattern.rfind("/realms/") else {
                return Err(ConfigError::new(
                    OPT,
                    format!("pattern `{configured}` must look like `https://host/realms/prefix*`"),
                ));
            };
            let base = &pattern[..idx + "/realms/".len()];
            let prefix = &pattern[idx + "/realms/".len()..];
            if !prefix.bytes().all(is_realm_byte) {
                return Err(ConfigError::new(
                    OPT,
                    format!("pattern `{configured}`: the realm prefix may only hold letters, digits, `-`, `_` and `.`"),
                ));
            }
            // Check the canonical form on a sample instance of the pattern.
            check_url(&format!("{base}{prefix}x"), configured, allow_http)?;
            Ok(TrustedIssuer::RealmPattern {
                base: base.to_owned(),
                prefix: prefix.to_owned(),
            })
        } else {
            if configured.contains('*') {
                return Err(ConfigError::new(
                    OPT,
                    format!("`{configured}`: `*` is only allowed at the end of a realm pattern"),
                ));
            }
            check_url(configured, configured, allow_http)?;
            Ok(TrustedIssuer::Exact(configured.to_owned()))
        }
    }

    /// Whether `iss` (untrusted, from the token) is this issuer or an instance of this pattern.
    pub(crate) fn matches<'a>(&self, iss: &'a str) -> Option<MatchedIssuer<'a>> {
        match self {
            TrustedIssuer::Exact(exact) => (exact == iss).then(|| MatchedIssuer {
                iss,
                tenant: realm_of(iss),
            }),
            TrustedIssuer::RealmPattern { base, prefix } => {
                let realm = iss.strip_prefix(base.as_str())?;
                let rest = realm.strip_prefix(prefix.as_str())?;
                (!rest.is_empty() && is_realm_name(realm)).then_some(MatchedIssuer {
                    iss,
                    tenant: Some(realm),
                })
            }
        }
    }
}

/// Finds the first configured issuer that `iss` matches.
pub(crate) fn route<'a>(issuers: &[TrustedIssuer], iss: &'a str) -> Option<MatchedIssuer<'a>> {
    issuers.iter().find_map(|i| i.matches(iss))
}

/// The realm name of an issuer URL: what follows the last `/realms/`, if it is a realm name.
pub(crate) fn realm_of(iss: &str) -> Option<&str> {
    // A realm name holds no `/`, so the last `/realms/` can only be followed by one if it ends
    // at the last `/`.
    let (before, realm) = iss.rsplit_once('/')?;
    (before.ends_with("/realms") && is_realm_name(realm)).then_some(realm)
}

fn is_realm_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Letters, digits, `-`, `_` and `.`, at most 255 bytes, and neither `.` nor `..`.
pub(crate) fn is_realm_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_REALM_LEN
        && name != "."
        && name != ".."
        && name.bytes().all(is_realm_byte)
}

/// Whether an `http` URL to this host is acceptable without `insecure_allow_http_issuer`.
pub(crate) fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

fn check_url(url_str: &str, configured: &str, allow_http: bool) -> Result<(), ConfigError> {
    const OPT: &str = "issuer";
    let bad = |why: &str| ConfigError::new(OPT, format!("`{configured}`: {why}"));
    if url_str.contains('%') {
        return Err(bad("percent-encoding is not allowed"));
    }
    let url = url::Url::parse(url_str).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if url.as_str() != url_str {
        return Err(bad(&format!(
            "not in canonical form (lower-case scheme and host, no default port, no dot segments); \
             the issuer claim would read `{}`",
            url.as_str()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("userinfo is not allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("query and fragment are not allowed"));
    }
    let Some(host) = url.host() else {
        return Err(bad("a host is required"));
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback_host(&host) => Ok(()),
        "http" => Err(bad(
            "http is only allowed for loopback hosts; use https (or insecure_allow_http_issuer)",
        )),
        _ => Err(bad("the scheme must be https or http")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const PATTERN: &str = "http://localhost:8080/realms/tenant-*";

    fn pattern() -> TrustedIssuer {
        TrustedIssuer::parse(PATTERN, false).unwrap()
    }

    #[test]
    fn pattern_parses_into_base_and_prefix() {
        assert_eq!(
            pattern(),
            TrustedIssuer::RealmPattern {
                base: "http://localhost:8080/realms/".into(),
                prefix: "tenant-".into()
            }
        );
    }

    #[test]
    fn pattern_accept_reject_table() {
        let p = pattern();
        let table: &[(&str, Option<&str>)] = &[
            ("http://localhost:8080/realms/tenant-a", Some("tenant-a")),
            (
                "http://localhost:8080/realms/tenant-A_b.c-9",
                Some("tenant-A_b.c-9"),
            ),
            ("http://localhost:8080/realms/tenant-..", Some("tenant-..")),
            // the prefix alone is not a tenant
            ("http://localhost:8080/realms/tenant-", None),
            ("http://localhost:8080/realms/other", None),
            ("http://localhost:8080/realms/Tenant-a", None),
            // dot segments, encodings, extra path
            ("http://localhost:8080/realms/tenant-a/../x", None),
            ("http://localhost:8080/realms/tenant-a/..", None),
            ("http://localhost:8080/realms/../realms/tenant-a", None),
            ("http://localhost:8080/realms/./tenant-a", None),
            ("http://localhost:8080/realms/tenant-%2e%2e", None),
            ("http://localhost:8080/realms/tenant-a%2F..%2Fx", None),
            ("http://localhost:8080/realms/%74enant-a", None),
            ("http://localhost:8080/realms/tenant-a/", None),
            ("http://localhost:8080/realms/tenant-a/protocol", None),
            ("http://localhost:8080/realms/tenant-a?x=1", None),
            ("http://localhost:8080/realms/tenant-a#f", None),
            ("http://localhost:8080/realms/tenant-a ", None),
            ("http://localhost:8080/realms/tenant-a\n", None),
            ("http://localhost:8080/realms/tenant-\u{e9}", None),
            ("http://localhost:8080/realms/tenant-a\\x", None),
            // other origin
            ("http://localhost:8081/realms/tenant-a", None),
            ("http://localhost/realms/tenant-a", None),
            ("https://localhost:8080/realms/tenant-a", None),
            ("HTTP://localhost:8080/realms/tenant-a", None),
            ("http://LOCALHOST:8080/realms/tenant-a", None),
            ("http://127.0.0.1:8080/realms/tenant-a", None),
            ("http://evil@localhost:8080/realms/tenant-a", None),
            ("http://localhost:8080@evil.example/realms/tenant-a", None),
            ("http://localhost:8080.evil.example/realms/tenant-a", None),
            ("http://localhost:8080//realms/tenant-a", None),
            ("http://localhost:8080/x/realms/tenant-a", None),
            ("//localhost:8080/realms/tenant-a", None),
            ("", None),
        ];
        for (iss, want) in table {
            let got = p.matches(iss).and_then(|m| m.tenant);
            assert_eq!(got, *want, "iss {iss:?}");
        }
    }

    #[test]
    fn overlong_realm_is_rejected() {
        let p = pattern();
        let long = format!("http://localhost:8080/realms/tenant-{}", "a".repeat(300));
        assert!(p.matches(&long).is_none());
    }

    #[test]
    fn exact_issuer_matches_byte_for_byte() {
        let e = TrustedIssuer::parse("https://idp.example.com/realms/acme", false).unwrap();
        let m = e.matches("https://idp.example.com/realms/acme").unwrap();
        assert_eq!(m.tenant, Some("acme"));
        for bad in [
            "https://idp.example.com/realms/acme/",
            "https://idp.example.com/realms/acme2",
            "https://IDP.example.com/realms/acme",
            "https://idp.example.com:443/realms/acme",
            "https://idp.example.com/realms/x/../acme",
            "https://idp.example.com/realms/%61cme",
        ] {
            assert!(e.matches(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn exact_issuer_without_realm_has_no_tenant() {
        let e = TrustedIssuer::parse("https://login.example.com/", false).unwrap();
        assert_eq!(
            e.matches("https://login.example.com/").unwrap().tenant,
            None
        );
    }

    #[test]
    fn configuration_rejects_non_canonical_and_unsafe_urls() {
        for bad in [
            "http://idp.example.com/realms/acme", // http to a non-loopback host
            "HTTPS://idp.example.com/realms/acme",
            "https://IDP.example.com/realms/acme",
            "https://idp.example.com:443/realms/acme",
            "https://idp.example.com/realms/x/../acme",
            "https://idp.example.com/realms/%61cme",
            "https://user@idp.example.com/realms/acme",
            "https://idp.example.com/realms/acme?x",
            "https://idp.example.com/realms/acme#x",
            "https://idp.example.com",
            "ftp://idp.example.com/realms/acme",
            "not a url",
            "https://idp.example.com/realms/*/x",
            "https://idp.example.com/tenant-*",
            "https://idp.example.com/realms/ten/ant-*",
            "https://idp.example.com/realms/ten%41-*",
            "HTTP://localhost:8080/realms/tenant-*",
            "http://localhost:80/realms/tenant-*",
        ] {
            assert!(
                TrustedIssuer::parse(bad, false).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn http_is_for_loopback_unless_insecure() {
        for ok in [
            "http://localhost:8080/realms/a",
            "http://127.0.0.1:8080/realms/a",
            "http://127.1.2.3/realms/a",
            "http://[::1]:8080/realms/a",
            "http://localhost:8080/realms/tenant-*",
        ] {
            assert!(TrustedIssuer::parse(ok, false).is_ok(), "{ok}");
        }
        assert!(TrustedIssuer::parse("http://keycloak:8080/realms/a", false).is_err());
        assert!(TrustedIssuer::parse("http://keycloak:8080/realms/a", true).is_ok());
        assert!(TrustedIssuer::parse("http://keycloak:8080/realms/t-*", true).is_ok());
    }

    #[test]
    fn realm_names() {
        assert!(is_realm_name("acme"));
        assert!(is_realm_name("a.b-c_d"));
        for bad in ["", ".", "..", "a/b", "a b", "a%2e", "ä"] {
            assert!(!is_realm_name(bad), "{bad}");
        }
    }

    #[test]
    fn realm_of_is_what_follows_the_last_realms_segment() {
        fn by_search(iss: &str) -> Option<&str> {
            let idx = iss.rfind("/realms/")?;
            let realm = &iss[idx + "/realms/".len()..];
            is_realm_name(realm).then_some(realm)
        }
        for (iss, realm) in [
            ("https://idp.example.com/realms/acme", Some("acme")),
            (
                "https://idp.example.com/auth/realms/a.b-c_d",
                Some("a.b-c_d"),
            ),
            ("https://idp.example.com/realms/realms/x", Some("x")),
            ("https://idp.example.com/realms/acme/", None),
            ("https://idp.example.com/realms/acme/x", None),
            ("https://idp.example.com/realms/", None),
            ("https://idp.example.com/realms/..", None),
            ("https://idp.example.com/xrealms/acme", None),
            ("https://idp.example.com/realmsacme", None),
            ("https://idp.example.com/realms", None),
            ("/realms/acme", Some("acme")),
            ("realms/acme", None),
            ("acme", None),
            ("", None),
        ] {
            assert_eq!(realm_of(iss), realm, "{iss}");
            assert_eq!(by_search(iss), realm, "{iss}");
        }
    }

    #[test]
    fn route_uses_first_match() {
        let issuers = vec![
            TrustedIssuer::parse("https://idp.example.com/realms/acme", false).unwrap(),
            TrustedIssuer::parse("https://idp.example.com/realms/t-*", false).unwrap(),
        ];
        assert!(route(&issuers, "https://idp.example.com/realms/acme").is_some());
        assert_eq!(
            route(&issuers, "https://idp.example.com/realms/t-1").and_then(|m| m.tenant),
            Some("t-1")
        );
        assert!(route(&issuers, "https://idp.example.com/realms/other").is_none());
    }
}
