//! [`verify`] against a reference implementation of Keycloak's rules, written from
//! `RedirectUtils.verifyRedirectUri` / `matchesRedirects` / `lowerCaseHostname` (Keycloak 26,
//! `services/src/main/java/org/keycloak/protocol/oidc/utils/RedirectUtils.java`) line by
//! line, plus the one rule Portcullis adds on purpose (a wildcard must not let the host
//! change), on generated clients and requested URIs.

#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;

use super::verify;
use crate::representation::ClientRepresentation;

/// `lowerCaseHostname`: `indexOf('/', 7)`, lower-case what comes before.
fn kc_lower_case_hostname(uri: &str) -> String {
    match uri.get(7..).and_then(|rest| rest.find('/')) {
        Some(i) => format!("{}{}", uri[..7 + i].to_lowercase(), &uri[7 + i..]),
        None => uri.to_lowercase(),
    }
}

/// `matchesRedirects`, with Portcullis' host rule on the prefix branch.
fn kc_matches(valid: &[String], redirect: &str) -> bool {
    for v in valid {
        if v.ends_with('*') && !v.contains('?') {
            let r = redirect.split('?').next().unwrap();
            let mut length = v.len() - 1;
            let prefix = &v[..length];
            if r.starts_with(prefix) && host_fixed(prefix) {
                return true;
            }
            if length > 1 && prefix.as_bytes()[length - 1] == b'/' {
                length -= 1;
            }
            if v[..length] == *r {
                return true;
            }
        } else if v == redirect {
            return true;
        }
    }
    false
}

/// Portcullis only: a wildcard prefix reaches past the authority (`https://app.example/*`, not
/// `https://app.example*`, which Keycloak lets match `https://app.example.evil`), or is `*`.
fn host_fixed(prefix: &str) -> bool {
    prefix.is_empty()
        || prefix.ends_with('/')
        || prefix
            .find("://")
            .is_some_and(|i| prefix[i + 3..].contains('/'))
}

/// `verifyRedirectUri` for a requested URI (no decoding needed: the generated URIs carry no
/// percent-encoding, dot segment, user-info, fragment or response parameter, which the
/// unit tests cover), relative registrations resolved against the root URL.
fn keycloak(root: &str, registered: &[String], requested: &str) -> Option<String> {
    let valid: Vec<String> = registered
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| {
            if v.starts_with('/') {
                format!("{root}{v}")
            } else {
                v.clone()
            }
        })
        .collect();
    if valid.is_empty() {
        return None;
    }
    let r = kc_lower_case_hostname(requested);
    kc_matches(&valid, &r).then_some(r)
}

fn registered() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "https://app.example/cb",
        "https://app.example/app/*",
        "https://app.example/app*",
        "https://app.example/*",
        "https://app.example*",
        "https://app.example/cb?x=1",
        "https://app.example/cb?x=1*",
        "http://app.example/cb",
        "http://localhost:3000/*",
        "/cb",
        "/app/*",
        "/*",
        "*",
        "",
    ])
    .prop_map(str::to_string)
}

fn requested() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["https", "http", "HTTPS", "HTTP"]),
        prop::sample::select(vec![
            "app.example",
            "APP.Example",
            "root.example",
            "app.example.evil",
            "localhost:3000",
        ]),
        prop::sample::select(vec![
            "", "/", "/cb", "/cb/", "/app", "/app/", "/app/x", "/appx", "/x/app",
        ]),
        prop::sample::select(vec!["", "?x=1", "?y=2&z"]),
    )
        .prop_map(|(s, h, p, q)| format!("{s}://{h}{p}{q}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn verify_follows_keycloak(
        root in prop::sample::select(vec!["https://app.example", "https://root.example"]),
        uris in prop::collection::vec(registered(), 0..4),
        req in requested(),
    ) {
        let client = ClientRepresentation {
            root_url: Some(root.to_string()),
            redirect_uris: Some(uris.clone()),
            ..Default::default()
        };
        prop_assert_eq!(verify(&client, Some(&req)), keycloak(root, &uris, &req));
    }

}
