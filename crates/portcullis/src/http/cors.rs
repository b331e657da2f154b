//! CORS as Keycloak answers it (`services/cors/DefaultCors.java`, `Cors.java`,
//! `protocol/oidc/utils/WebOriginsUtils.java`): the exact `Origin` echoed with
//! `Access-Control-Allow-Credentials`, only when the origin is allowed; a disallowed origin gets
//! no CORS header at all (the request itself is still answered). Preflight `OPTIONS` answers
//! every origin (Keycloak's preflight does not check it; the real request does).
//!
//! The pure part (which origins a client allows, which headers a response gets) is here; the
//! per-endpoint middlewares that find the client of a token, userinfo or logout request are in
//! `layers`.

pub mod layers;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

use crate::representation::ClientRepresentation;

/// `Cors.DEFAULT_ALLOW_METHODS`.
pub const DEFAULT_ALLOW_METHODS: &str = "GET, HEAD, OPTIONS";
/// `Cors.DEFAULT_ALLOW_HEADERS`.
pub const DEFAULT_ALLOW_HEADERS: &str = "Origin, Accept, X-Requested-With, Content-Type, \
     Access-Control-Request-Method, Access-Control-Request-Headers, DPoP";
/// `Cors.DEFAULT_MAX_AGE` (one hour).
pub const DEFAULT_MAX_AGE: u32 = 3600;
/// The wildcard web origin.
pub const WILDCARD: &str = "*";
/// The web origin meaning "the origins of the redirect URIs".
pub const INCLUDE_REDIRECTS: &str = "+";

/// Which origins a response may be shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// Any origin (`allowAllOrigins()`).
    All,
    /// These origins; `*` among them allows any.
    Origins(Vec<String>),
}

impl Allowed {
    /// Whether `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Allowed::All => true,
            Allowed::Origins(list) => list.iter().any(|o| o == WILDCARD || o == origin),
        }
    }
}

/// What a response's CORS headers are built from (Keycloak's `Cors` builder).
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Allowed origins; `None` (no client known yet) answers no origin.
    pub allowed: Option<Allowed>,
    /// `Access-Control-Allow-Methods` of a preflight; `None` = `GET, HEAD, OPTIONS`.
    pub methods: Option<&'static str>,
    /// `Access-Control-Expose-Headers` of an actual response.
    pub exposed: Option<&'static str>,
    /// `.auth()`: credentials allowed, and `Authorization` among the preflight's headers.
    pub auth: bool,
    /// A preflight answer.
    pub preflight: bool,
}

impl Cors {
    /// The preflight answer of an endpoint taking credentials (`Cors.builder().auth().preflight()`).
    pub fn preflight(methods: Option<&'static str>) -> Self {
        Cors {
            allowed: None,
            methods,
            exposed: None,
            auth: true,
            preflight: true,
        }
    }

    /// The actual response of the token, userinfo and logout endpoints
    /// (`.auth().allowedMethods(..).exposedHeaders(ACCESS_CONTROL_ALLOW_METHODS)`).
    pub fn protocol(allowed: Option<Allowed>) -> Self {
        Cors {
            allowed,
            methods: None,
            exposed: Some("Access-Control-Allow-Methods"),
            auth: true,
            preflight: false,
        }
    }

    /// The CORS headers for a request from `origin` (none without an `Origin`, or for an origin
    /// that is not allowed on an actual request).
    pub fn headers(&self, origin: Option<&str>) -> Vec<(HeaderName, String)> {
        use axum::http::header as h;
        let Some(origin) = origin else {
            return Vec::new();
        };
        if !self.preflight && !self.allowed.as_ref().is_some_and(|a| a.allows(origin)) {
            return Vec::new();
        }
        let mut out = vec![(h::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_string())];
        if self.preflight {
            out.push((
                h::ACCESS_CONTROL_ALLOW_METHODS,
                self.methods.unwrap_or(DEFAULT_ALLOW_METHODS).to_string(),
            ));
        } else if let Some(e) = self.exposed {
            out.push((h::ACCESS_CONTROL_EXPOSE_HEADERS, e.to_string()));
        }
        out.push((h::ACCESS_CONTROL_ALLOW_CREDENTIALS, self.auth.to_string()));
        if self.preflight {
            let headers = if self.auth {
                format!("{DEFAULT_ALLOW_HEADERS}, Authorization")
            } else {
                DEFAULT_ALLOW_HEADERS.to_string()
            };
            out.push((h::ACCESS_CONTROL_ALLOW_HEADERS, headers));
            out.push((h::ACCESS_CONTROL_MAX_AGE, DEFAULT_MAX_AGE.to_string()));
        }
        out
    }

    /// Adds the headers for the request's `Origin` to a response.
    pub fn apply(&self, request: &HeaderMap, response: &mut Response) {
        for (name, value) in self.headers(origin(request)) {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, v);
            }
        }
    }
}

/// The request's `Origin` header, when it is one readable value.
pub fn origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::ORIGIN)?
        .to_str()
        .ok()
        .filter(|o| !o.is_empty())
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return None;
    }
    let o = u.origin().ascii_serialization();
    (o != "null").then_some(o)
}

/// The web origins a client allows (`WebOriginsUtils.resolveValidWebOrigins`): its
/// `webOrigins`, with `+` replaced by the origins of its http(s) redirect URIs. Relative redirect
/// URIs are resolved against the client's `rootUrl` (`${authBaseUrl}` meaning the server), or
/// against the server when it has none, as `RedirectUtils.resolveValidRedirects` does;
/// `server_base` is the server's base URL when known.
pub fn web_origins(client: &ClientRepresentation, server_base: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let push = |o: String, out: &mut Vec<String>| {
        if !out.contains(&o) {
            out.push(o);
        }
    };
    for o in client.web_origins.iter().flatten() {
        if o != INCLUDE_REDIRECTS {
            push(o.clone(), &mut out);
            continue;
        }
        let root = client
            .root_url
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| match server_base {
                Some(b) => r.replace("${authBaseUrl}", b).replace("${authAdminUrl}", b),
                None => r.to_string(),
            })
            .or_else(|| server_base.map(str::to_string));
        for uri in client.redirect_uris.iter().flatten() {
            let absolute = if uri.starts_with('/') {
                match &root {
                    Some(r) => format!("{}{uri}", r.trim_end_matches('/')),
                    None => continue,
                }
            } else {
                uri.clone()
            };
            if let Some(origin) = origin_of(absolute.trim_end_matches('*')) {
                push(origin, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(web: &[&str], redirects: &[&str], root: Option<&str>) -> ClientRepresentation {
        ClientRepresentation {
            web_origins: Some(web.iter().map(|s| s.to_string()).collect()),
            redirect_uris: Some(redirects.iter().map(|s| s.to_string()).collect()),
            root_url: root.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn plus_means_the_origins_of_the_redirect_uris() {
        let c = client(
            &["+", "https://extra.example"],
            &[
                "http://localhost:3000/*",
                "https://app.example/cb",
                "/relative/*",
                "com.example.app:/cb",
                "*",
            ],
            Some("https://root.example"),
        );
        assert_eq!(
            web_origins(&c, None),
            vec![
                "http://localhost:3000",
                "https://app.example",
                "https://root.example",
                "https://extra.example"
            ]
        );
    }

    #[test]
    fn relative_redirects_without_root_use_the_server() {
        let c = client(&["+"], &["/realms/r/account/*"], None);
        assert_eq!(
            web_origins(&c, Some("https://sso.example:8443")),
            vec!["https://sso.example:8443"]
        );
        assert!(web_origins(&c, None).is_empty());
        let c = client(&["+"], &["/cb"], Some("${authBaseUrl}"));
        assert_eq!(web_origins(&c, Some("http://h:1")), vec!["http://h:1"]);
    }

    #[test]
    fn actual_response_headers_only_for_allowed_origins() {
        let cors = Cors::protocol(Some(Allowed::Origins(vec!["http://a".into()])));
        let h = cors.headers(Some("http://a"));
        let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "access-control-allow-origin",
                "access-control-expose-headers",
                "access-control-allow-credentials"
            ]
        );
        assert_eq!(h[0].1, "http://a");
        assert_eq!(h[2].1, "true");
        assert!(cors.headers(Some("http://b")).is_empty());
        assert!(cors.headers(None).is_empty());
        assert!(Cors::protocol(None).headers(Some("http://a")).is_empty());
        let any = Cors::protocol(Some(Allowed::Origins(vec!["*".into()])));
        assert_eq!(any.headers(Some("http://z"))[0].1, "http://z");
    }

    #[test]
    fn preflight_answers_any_origin_with_methods_headers_and_max_age() {
        let h = Cors::preflight(Some("POST, OPTIONS")).headers(Some("http://x"));
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k.as_str() == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("access-control-allow-origin"), Some("http://x"));
        assert_eq!(get("access-control-allow-methods"), Some("POST, OPTIONS"));
        assert_eq!(get("access-control-allow-credentials"), Some("true"));
        assert!(
            get("access-control-allow-headers").is_some_and(|v| v.ends_with("DPoP, Authorization"))
        );
        assert_eq!(get("access-control-max-age"), Some("3600"));
        assert_eq!(get("access-control-expose-headers"), None);
    }
}
