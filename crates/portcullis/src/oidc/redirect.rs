//! Redirect URI validation with Keycloak's rules (`RedirectUtils.verifyRedirectUri`): exact
//! match, or a registered URI ending in `*` matching by prefix; registered URIs starting with
//! `/` are relative to the client's `rootUrl`. Nothing is redirected to before this passes.

use crate::representation::ClientRepresentation;

/// The URI to redirect to, or `None` when `requested` is not registered (or malformed).
/// Without `requested`, the single registered non-wildcard URI is used, as Keycloak does.
pub fn verify(client: &ClientRepresentation, requested: Option<&str>) -> Option<String> {
    let root = client
        .root_url
        .as_deref()
        .unwrap_or_default()
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
        return match registered.as_slice() {
            [only] if !only.contains('*') => Some(only.clone()),
            _ => None,
        };
    };
    let parsed = url::Url::parse(requested).ok()?;
    if parsed.fragment().is_some()
        || matches!(parsed.scheme(), "javascript" | "data")
        || requested.chars().any(char::is_whitespace)
    {
        return None;
    }
    // Keycloak rejects dot segments in the path of a redirect URI matched by wildcard.
    let has_dot_segments = requested
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .split('/')
        .any(|seg| seg == ".." || seg == ".");
    for r in &registered {
        if r == requested {
            return Some(requested.to_string());
        }
        if let Some(prefix) = r.strip_suffix('*') {
            if !has_dot_segments && requested.starts_with(prefix) && !prefix.is_empty() {
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
    }
}
