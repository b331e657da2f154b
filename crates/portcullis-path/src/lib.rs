//! Keycloak's path matching (`common/src/main/java/org/keycloak/common/util/PathMatcher.java`):
//! exact paths, a trailing `/*`, a suffix `/*.ext` and `{param}` templates, the most specific
//! match winning. `portcullis-guard`'s policy enforcer (`PathConfigMatcher`) finds a request's
//! `paths` entry with it, and the server matches resource URIs with it
//! (`permission_resource_matching_uri`, the resource lists' `matchingUri`). A crate of its own,
//! without dependencies, so that neither of the two pulls in the other.

/// Entries (a URI pattern and what it stands for) to match a request path against.
#[derive(Debug, Clone)]
pub struct PathMatcher<T> {
    entries: Vec<(String, T)>,
}

impl<T> PathMatcher<T> {
    /// A matcher over these entries, tried in order.
    pub fn new(entries: Vec<(String, T)>) -> Self {
        PathMatcher { entries }
    }

    /// The entry matching `target` best (`PathMatcher.matches`): an exact or template match
    /// first, then a suffix pattern, then the longest `/*` pattern.
    pub fn matches(&self, target: &str) -> Option<&(String, T)> {
        let normalized = normalize_uri(target)?;
        let mut pattern_count = 0usize;
        let mut brackets_count = 0usize;
        let mut matching_path: Option<usize> = None;
        let mut matching_any: Option<(usize, String)> = None;
        let mut matching_suffix: Option<usize> = None;

        for (i, (expected, _)) in self.entries.iter().enumerate() {
            if expected.is_empty() {
                continue;
            }
            let mut matching: Option<String> = None;
            if exact_match(expected, &normalized) {
                matching = Some(expected.clone());
            }
            if expected.contains('{') {
                if let Some(template) = build_uri_from_template(expected, &normalized) {
                    let length = java_split(expected, '/').len();
                    let brackets = java_split(expected, '{').len();
                    if exact_match(&template, &normalized)
                        && (pattern_count == 0
                            || length > pattern_count
                            || brackets < brackets_count)
                    {
                        matching = Some(template);
                        pattern_count = length;
                        brackets_count = brackets;
                    }
                }
            }
            let Some(matching) = matching else {
                continue;
            };
            let mut path = expected.as_str();
            if let Some(ix) = path.find("/*") {
                path = &path[..ix];
            }
            if let Some(ix) = path.find('{') {
                path = &path[..ix];
            }
            let path = if path.is_empty() { "/" } else { path };
            if matching == normalized || path == normalized {
                if pattern_count == 0 {
                    return self.entries.get(i);
                }
                matching_path = Some(i);
            }
            if expected.ends_with('*') {
                let replace = match &matching_any {
                    None => true,
                    Some((j, _)) => {
                        java_split(&self.entries[*j].0, '/').len()
                            < java_split(&matching, '/').len()
                    }
                };
                if replace {
                    matching_any = Some((i, matching));
                }
            } else if let Some(ix) = expected.find("*.") {
                if normalized.ends_with(&expected[ix + 1..]) {
                    matching_suffix = Some(i);
                }
            }
        }
        matching_path
            .or(matching_suffix)
            .or(matching_any.map(|(i, _)| i))
            .and_then(|i| self.entries.get(i))
    }
}

/// Java's `String.split(String)` on one character: trailing empty strings removed.
fn java_split(s: &str, c: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(c).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        parts.clear();
    }
    parts
}

fn exact_match(expected: &str, target: &str) -> bool {
    if target == expected {
        return true;
    }
    if let Some(root) = expected.strip_suffix('*') {
        if target.starts_with(root) {
            return true;
        }
        return !root.is_empty() && target == &root[..root.len() - 1];
    }
    if let Some(ix) = expected.find("/*.") {
        return target.ends_with(&expected[ix + 2..]);
    }
    false
}

/// `PathMatcher.buildUriFromTemplate`: the template with its parameters replaced by the
/// target's segments, or `None` when the target cannot fill it.
pub fn build_uri_from_template(template: &str, target: &str) -> Option<String> {
    let mut uri: Vec<char> = template.chars().collect();
    let mut expected = template;
    let pattern_start = expected.find('{')?;
    if let Some(e) = expected.strip_suffix("/*") {
        expected = e;
    }
    let target_chars: Vec<char> = target.chars().collect();
    if pattern_start >= target_chars.len() {
        return None;
    }
    if java_split(expected, '/').len() > java_split(target, '/').len() {
        return None;
    }
    let expected_chars: Vec<char> = expected.chars().collect();
    if expected_chars.get(..pattern_start) != target_chars.get(..pattern_start) {
        return None;
    }
    let total = target_chars.len();
    let mut last = pattern_start;
    let params_str: String = target_chars[pattern_start..].iter().collect();
    let params = java_split(&params_str, '/');
    let mut param_index = 0usize;
    let mut last_pattern = 0usize;
    let find = |hay: &[char], needle: char, from: usize| -> Option<usize> {
        hay.iter()
            .skip(from)
            .position(|c| *c == needle)
            .map(|p| p + from)
    };
    let mut i = pattern_start;
    while i < expected_chars.len() {
        if last >= total {
            break;
        }
        let c = expected_chars[i];
        if c == '{' || c == '*' {
            let upper = if c == '*' { params.len() } else { param_index };
            let mut k = param_index;
            while k <= upper {
                if k == params.len() {
                    break;
                }
                let value: Vec<char> = params[k].chars().collect();
                if last + value.len() > total {
                    return None;
                }
                last += value.len();
                if c == '{' {
                    let open = find(&uri, '{', last_pattern)?;
                    let close = find(&uri, '}', last_pattern)?;
                    if close < open || uri[open + 1..close].contains(&'/') {
                        return None;
                    }
                    uri.splice(open..=close, value.iter().copied());
                }
                if value.last() == Some(&'}') {
                    let s: String = uri.iter().collect();
                    let v: String = value.iter().collect();
                    if let Some(at) = s.find(&v) {
                        last_pattern = s[..at].chars().count() + value.len();
                    }
                }
                if c == '*' && last < total {
                    last += 1;
                }
                k += 1;
            }
            if c == '{' {
                match find(&expected_chars, '}', i) {
                    Some(close) => i = close,
                    None => break,
                }
            }
        } else {
            if c == '/' {
                param_index += 1;
            }
            last += 1;
        }
        i += 1;
    }
    Some(uri.into_iter().collect())
}

/// `PathMatcher.normalizeUri`: query and fragment dropped, a `scheme://authority` prefix
/// kept, matrix parameters dropped, `//` collapsed, dot segments resolved, percent-decoded,
/// a trailing `/` dropped. `None` for what cannot be a path.
pub fn normalize_uri(uri: &str) -> Option<String> {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    let uri = &uri[..end];
    let (prefix, path) = match uri.find("://") {
        Some(ix)
            if !uri[..ix].is_empty()
                && uri[..ix]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && uri[..ix].starts_with(|c: char| c.is_ascii_alphabetic()) =>
        {
            let rest = &uri[ix + 3..];
            let auth_end = rest.find('/').unwrap_or(rest.len());
            if auth_end == 0 {
                return None;
            }
            (&uri[..ix + 3 + auth_end], &rest[auth_end..])
        }
        _ => ("", uri),
    };
    let mut p = clean(path);
    p = percent_decode(&p)?;
    p = clean(&p);
    if p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    Some(format!("{prefix}{p}"))
}

/// Matrix parameters dropped, `//` collapsed, dot segments resolved.
fn clean(path: &str) -> String {
    let mut stripped = String::with_capacity(path.len());
    let mut in_matrix = false;
    for c in path.chars() {
        match c {
            ';' => in_matrix = true,
            '/' => {
                in_matrix = false;
                stripped.push(c);
            }
            c if !in_matrix => stripped.push(c),
            _ => {}
        }
    }
    while stripped.contains("//") {
        stripped = stripped.replace("//", "/");
    }
    let absolute = stripped.starts_with('/');
    let trailing = stripped.ends_with('/') || stripped.ends_with("/.") || stripped.ends_with("/..");
    let mut out: Vec<&str> = Vec::new();
    for seg in stripped.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !absolute {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let mut s = out.join("/");
    if absolute {
        s.insert(0, '/');
    }
    if trailing && !s.ends_with('/') {
        s.push('/');
    }
    s
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn matcher(paths: &[&'static str]) -> PathMatcher<&'static str> {
        PathMatcher::new(paths.iter().map(|p| (p.to_string(), *p)).collect())
    }

    #[test]
    fn exact_paths_win_over_wildcards() {
        let m = matcher(&["/*", "/events", "/events/*"]);
        assert_eq!(m.matches("/events").map(|(_, v)| v), Some(&"/events"));
        // As in Keycloak, `/events/*` also matches `/events` exactly; of two exact matches the
        // first configured wins.
        let m = matcher(&["/*", "/events/*", "/events"]);
        assert_eq!(m.matches("/events").map(|(_, v)| v), Some(&"/events/*"));
        assert_eq!(m.matches("/events/1").map(|(_, v)| v), Some(&"/events/*"));
        assert_eq!(m.matches("/orders").map(|(_, v)| v), Some(&"/*"));
    }

    #[test]
    fn the_longest_wildcard_wins() {
        let m = matcher(&["/api/*", "/api/v1/*", "/*"]);
        assert_eq!(
            m.matches("/api/v1/things/3").map(|(_, v)| v),
            Some(&"/api/v1/*")
        );
        assert_eq!(m.matches("/api/v2").map(|(_, v)| v), Some(&"/api/*"));
        // `/api/*` also covers `/api` itself (Keycloak's `exactMatch`).
        assert_eq!(m.matches("/api").map(|(_, v)| v), Some(&"/api/*"));
        assert_eq!(
            m.matches("/apix").map(|(_, v)| v),
            Some(&"/*"),
            "`/api/*` is no plain prefix"
        );
    }

    #[test]
    fn templates_match_one_segment_per_parameter() {
        let m = matcher(&["/events/{id}", "/events/{id}/tickets/{ticket}", "/events"]);
        assert_eq!(
            m.matches("/events/42").map(|(_, v)| v),
            Some(&"/events/{id}")
        );
        assert_eq!(
            m.matches("/events/42/tickets/7").map(|(_, v)| v),
            Some(&"/events/{id}/tickets/{ticket}")
        );
        assert_eq!(m.matches("/events").map(|(_, v)| v), Some(&"/events"));
        assert_eq!(m.matches("/events/42/other").map(|(_, v)| v), None);
        assert_eq!(m.matches("/orders/42").map(|(_, v)| v), None);
    }

    #[test]
    fn the_more_specific_template_wins() {
        let m = matcher(&["/{a}/{b}", "/events/{id}"]);
        assert_eq!(
            m.matches("/events/9").map(|(_, v)| v),
            Some(&"/events/{id}")
        );
        let m = matcher(&["/events/{id}", "/{a}/{b}"]);
        assert_eq!(
            m.matches("/events/9").map(|(_, v)| v),
            Some(&"/events/{id}")
        );
    }

    #[test]
    fn a_template_with_a_trailing_wildcard_covers_sub_paths() {
        let m = matcher(&["/events/{id}/*", "/events/*"]);
        assert_eq!(
            m.matches("/events/3/tickets").map(|(_, v)| v),
            Some(&"/events/{id}/*")
        );
    }

    #[test]
    fn suffix_patterns() {
        let m = matcher(&["/static/*.css", "/*"]);
        assert_eq!(
            m.matches("/static/site.css").map(|(_, v)| v),
            Some(&"/static/*.css")
        );
        assert_eq!(m.matches("/static/site.js").map(|(_, v)| v), Some(&"/*"));
    }

    #[test]
    fn paths_are_normalized_before_matching() {
        let m = matcher(&["/admin", "/public/*"]);
        for bypass in [
            "/public/../admin",
            "/public/%2e%2e/admin",
            "/admin/",
            "//admin",
            "/admin;jsessionid=1",
            "/%61dmin",
            "/admin?x=/public/a",
        ] {
            assert_eq!(
                m.matches(bypass).map(|(_, v)| v),
                Some(&"/admin"),
                "{bypass}"
            );
        }
        assert_eq!(
            normalize_uri("/a/%zz"),
            None,
            "bad percent-encoding matches nothing"
        );
    }
}
