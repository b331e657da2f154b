//! Redirect URI validation with Keycloak's rules (`RedirectUtils.verifyRedirectUri`): exact
//! match, or a registered URI ending in `*` matching by prefix; registered URIs starting with
//! `/` are relative to the client's `rootUrl`. Nothing is redirected to before this passes.
//!
//! As Keycloak 26 (`RedirectUtils.containsForbiddenOidcParameters`, `areWildcardsAllowed`):
//! - a requested URI whose query already carries an authorization-response parameter
//!   ([`FORBIDDEN_PARAMS`]: `code`, `state`, `error`, ...) is refused, whatever is registered
//!   (HTTP parameter pollution: the client would read the attacker's values first);
//! - a wildcard matches only a URI without user-info whose path has no dot segment (`..` or
//!   `.`), looked for after percent-decoding (`%2e%2e`, double-encoded `%252e%252e`), with `/`,
//!   `\` and their encodings as separators and `;` path parameters (`..;`) or control
//!   characters cut off: a browser or a proxy resolving those would leave the prefix.

use crate::representation::ClientRepresentation;

/// Query parameters of an authorization response that a requested redirect URI may not carry
/// (Keycloak's `RedirectUtils.FORBIDDEN_OIDC_PARAMS`), compared decoded and case-insensitively.
pub const FORBIDDEN_PARAMS: &[&str] = &[
    "code",
    "id_token",
    "access_token",
    "token_type",
    "expires_in",
    "state",
    "iss",
    "error",
    "error_description",
    "session_state",
    "response",
    "kc_action",
    "kc_action_status",
];

/// How many rounds of percent-decoding a path gets; one still encoded after them is refused
/// (Keycloak's `MAX_DECODING_COUNT`).
const MAX_DECODING_ROUNDS: usize = 5;

/// One round of percent-decoding (`+` stays `+`: this is a path, not a form).
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(((h << 4) | l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// The path of a URI as sent: from the end of the authority to `?` or `#` (the whole
/// scheme-specific part of a URI without an authority, e.g. `app:/cb`).
fn raw_path(uri: &str) -> &str {
    let before_query = uri.split(['?', '#']).next().unwrap_or_default();
    match before_query.find("://") {
        Some(i) => {
            let rest = &before_query[i + 3..];
            rest.find(['/', '\\']).map_or("", |j| &rest[j..])
        }
        None => before_query,
    }
}

/// Whether a (decoded) path has a `.` or `..` segment: separators `/` and `\`, a segment's
/// `;` parameters and surrounding control characters or spaces ignored (`..;`, `..%00`).
fn path_has_dot_segment(path: &[u8]) -> bool {
    path.split(|b| *b == b'/' || *b == b'\\').any(|segment| {
        let name = segment.split(|b| *b == b';').next().unwrap_or_default();
        let trimmed = name
            .iter()
            .position(|b| !b.is_ascii_control() && !b.is_ascii_whitespace())
            .map_or(&[][..], |start| {
                let end = name
                    .iter()
                    .rposition(|b| !b.is_ascii_control() && !b.is_ascii_whitespace())
                    .unwrap_or(start);
                &name[start..=end]
            });
        trimmed == b"." || trimmed == b".."
    })
}

/// Whether the path of `uri` has a dot segment as sent or after any round of percent-decoding
/// (`%2e%2e`, `%252e%252e`, `%2f`-separated); a path still encoded after
/// [`MAX_DECODING_ROUNDS`] counts as one.
pub fn has_dot_segment(uri: &str) -> bool {
    let mut path = raw_path(uri).as_bytes().to_vec();
    for _ in 0..MAX_DECODING_ROUNDS {
        if path_has_dot_segment(&path) {
            return true;
        }
        let decoded = percent_decode(&path);
        if decoded == path {
            return false;
        }
        path = decoded;
    }
    true
}

/// Whether the query of `uri` carries one of the [`FORBIDDEN_PARAMS`].
pub fn has_response_params(uri: &str) -> bool {
    let before_fragment = uri.split('#').next().unwrap_or_default();
    let Some((_, query)) = before_fragment.split_once('?') else {
        return false;
    };
    url::form_urlencoded::parse(query.as_bytes())
        .any(|(name, _)| FORBIDDEN_PARAMS.contains(&name.to_ascii_lowercase().as_str()))
}

/// Keycloak's `RedirectUtils.lowerCaseHostname`, as it is: everything before the first `/`
/// from the eighth character on is lower-cased. For `http://host/…` that is the scheme and
/// the host; for `https://` the `/` found is the second one of `//`, so only `https:/` is.
fn lower_case_hostname(uri: &str) -> String {
    match uri.as_bytes().iter().skip(7).position(|b| *b == b'/') {
        Some(i) => format!("{}{}", uri[..7 + i].to_lowercase(), &uri[7 + i..]),
        None => uri.to_lowercase(),
    }
}

/// The URI to redirect to, or `None` when `requested` is not registered (or malformed).
/// Without `requested`, the single registered URI is used, cut before a `/*` wildcard
/// (Keycloak's `getSingleValidRedirectUri`); a wildcard elsewhere makes it unusable.
pub fn verify(client: &ClientRepresentation, requested: Option<&str>) -> Option<String> {
    verify_at(client, requested, None)
}

/// [`verify`], the client's `rootUrl` `${authBaseUrl}` standing for the server's `base` URL
/// (Keycloak's `RedirectUtils.resolveValidRedirects`: the built-in `account` client's
/// redirect URIs are relative to it).
pub fn verify_at(
    client: &ClientRepresentation,
    requested: Option<&str>,
    base: Option<&str>,
) -> Option<String> {
    let root = match (client.root_url.as_deref(), base) {
        (Some("${authBaseUrl}"), Some(b)) => b,
        (r, _) => r.unwrap_or_default(),
    }
    .trim_end_matches('/');
    let registered: Vec<String> = client
        .redirect_uris
        .iter()
        .flatten()
        .filter(|u| !u.is_empty())
        .map(|u| {
            if u.starts_with('/') {
                format!("{root}{u}")
            } else {
                u.clone()
            }
        })
        .collect();
    let Some(requested) = requested else {
        let [only] = registered.as_slice() else {
            return None;
        };
        let wildcard_host = only
            .split_once("://")
            .is_some_and(|(_, rest)| rest.split('/').next().unwrap_or_default().contains('*'));
        if wildcard_host {
            return None;
        }
        let cut = only.find("/*").map_or(only.as_str(), |i| &only[..i]);
        return (!cut.contains('*') && !cut.is_empty()).then(|| cut.to_string());
    };
    let requested = lower_case_hostname(requested);
    let requested = requested.as_str();
    let parsed = url::Url::parse(requested).ok()?;
    if parsed.fragment().is_some()
        || matches!(parsed.scheme(), "javascript" | "data")
        || requested.chars().any(char::is_whitespace)
        || has_response_params(requested)
    {
        return None;
    }
    // Keycloak's `areWildcardsAllowed`: a wildcard never matches a URI with user-info or a dot
    // segment in its path, whatever the encoding.
    let wildcards_allowed =
        parsed.username().is_empty() && parsed.password().is_none() && !has_dot_segment(requested);
    for r in &registered {
        if r == requested {
            return Some(requested.to_string());
        }
        // Keycloak's `matchesRedirects`: a registered URI ending in `*` is a wildcard unless it
        // has a query (then it is compared as is); the query of the requested URI is not
        // compared; `…/path/*` also matches `…/path` itself.
        if let Some(prefix) = r.strip_suffix('*').filter(|p| !p.contains('?')) {
            let without_query = requested.split('?').next().unwrap_or_default();
            let bare = match prefix.strip_suffix('/') {
                Some(p) if prefix.len() > 1 => p,
                _ => prefix,
            };
            if wildcards_allowed && !prefix.is_empty() && bare == without_query {
                return Some(requested.to_string());
            }
            if wildcards_allowed && requested.starts_with(prefix) && !prefix.is_empty() {
                // A wildcard must not let the host change: the prefix has to reach past the
                // authority (e.g. `https://app.example.com/*`).
                let authority_end = prefix
                    .find("://")
                    .map(|i| i + 3)
                    .and_then(|i| prefix[i..].find('/').map(|j| i + j));
                if authority_end.is_some() || prefix.ends_with('/') {
                    return Some(requested.to_string());
                }
            }
            if prefix.is_empty() {
                // A bare `*` allows any URI (Keycloak allows it; never use it in production).
                return Some(requested.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod properties;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn client(uris: &[&str], root: Option<&str>) -> ClientRepresentation {
        ClientRepresentation {
            redirect_uris: Some(uris.iter().map(|s| s.to_string()).collect()),
            root_url: root.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn keycloak_redirect_rules() {
        let c = client(
            &[
                "https://app.example.com/cb",
                "https://spa.example.com/*",
                "/relative/*",
            ],
            Some("https://root.example.com"),
        );
        assert!(verify(&c, Some("https://app.example.com/cb")).is_some());
        for bad in [
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb/",
            "https://app.example.com:8443/cb",
            "http://app.example.com/cb",
            "https://evil.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://spa.example.com.evil.com/x",
            "https://spa.example.com/../x",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(verify(&c, Some(bad)).is_none(), "{bad}");
        }
        assert!(verify(&c, Some("https://spa.example.com/any/path?q=1")).is_some());
        assert!(verify(&c, Some("https://root.example.com/relative/cb")).is_some());
        assert!(
            verify(&c, None).is_none(),
            "several registered: redirect_uri is required"
        );
        assert_eq!(
            verify(&client(&["https://one.example.com/cb"], None), None).as_deref(),
            Some("https://one.example.com/cb")
        );
        // `getSingleValidRedirectUri`: cut before `/*`; a wildcard host is no address.
        assert_eq!(
            verify(&client(&["https://one.example.com/app/*"], None), None).as_deref(),
            Some("https://one.example.com/app")
        );
        assert_eq!(
            verify(&client(&["https://*.example.com/cb"], None), None),
            None
        );
        let account = client(&["/realms/r/account/*"], Some("${authBaseUrl}"));
        assert_eq!(
            verify_at(&account, None, Some("http://kc.example")).as_deref(),
            Some("http://kc.example/realms/r/account")
        );
    }

    #[test]
    fn encoded_dot_segments_never_pass_a_wildcard() {
        let c = client(&["https://app.example/app/*"], None);
        assert!(verify(&c, Some("https://app.example/app/cb")).is_some());
        assert!(verify(&c, Some("https://app.example/app/a.b/..c/cb")).is_some());
        for bad in [
            "https://app.example/app/../admin",
            "https://app.example/app/./cb",
            "https://app.example/app/%2e%2e/admin",
            "https://app.example/app/%2E%2E/admin",
            "https://app.example/app/.%2e/admin",
            "https://app.example/app/%252e%252e/admin",
            "https://app.example/app/%25252e%25252e/admin",
            "https://app.example/app%2f..%2fadmin",
            "https://app.example/app/..%5cadmin",
            "https://app.example/app/..\\admin",
            "https://app.example/app/..;/admin",
            "https://app.example/app/..;x=1/admin",
            "https://app.example/app/%2e%2e%3b/admin",
            "https://app.example/app/..%00/admin",
            "https://app.example/app/..",
            "https://app.example/app/%2e%2e?next=1",
        ] {
            assert!(verify(&c, Some(bad)).is_none(), "{bad}");
        }
        // Still encoded after five rounds of decoding: refused.
        assert!(has_dot_segment("https://a.example/%25252525252e"));
        assert!(!has_dot_segment("https://a.example/x%2520y"));
        // User-info never passes a wildcard either.
        assert!(verify(&c, Some("https://user@app.example/app/cb")).is_none());
        // An exact registration is compared as is, dot segments and all.
        let exact = client(&["https://app.example/a/../b"], None);
        assert!(verify(&exact, Some("https://app.example/a/../b")).is_some());
    }

    #[test]
    fn authorization_response_parameters_in_the_query_are_refused() {
        let c = client(
            &["https://app.example/app/*", "https://app.example/cb?code=x"],
            None,
        );
        assert!(verify(&c, Some("https://app.example/app/cb?tab=2")).is_some());
        for bad in [
            "https://app.example/app/cb?code=attacker",
            "https://app.example/app/cb?x=1&state=attacker",
            "https://app.example/app/cb?ERROR=access_denied",
            "https://app.example/app/cb?error_description=x",
            "https://app.example/app/cb?%73tate=encoded-name",
            "https://app.example/app/cb?iss=https://evil.example",
            "https://app.example/app/cb?session_state=1",
            "https://app.example/app/cb?id_token=x",
            "https://app.example/app/cb?access_token=x",
            "https://app.example/app/cb?token_type=x",
            "https://app.example/app/cb?expires_in=1",
            "https://app.example/app/cb?response=x",
            "https://app.example/app/cb?kc_action=x",
            "https://app.example/app/cb?kc_action_status=x",
            // Refused even when registered exactly (Keycloak checks before matching).
            "https://app.example/cb?code=x",
        ] {
            assert!(verify(&c, Some(bad)).is_none(), "{bad}");
        }
        assert!(!has_response_params(
            "https://app.example/cb?codes=1&stately=2"
        ));
        assert!(!has_response_params("https://app.example/cb"));
    }
}
