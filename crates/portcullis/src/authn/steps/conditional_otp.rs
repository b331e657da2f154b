//! `auth-conditional-otp-form` (Keycloak's `ConditionalOtpFormAuthenticator`): the OTP form
//! (`super::otp`), shown or skipped by its authenticator config. The first condition that
//! votes decides, in Keycloak's order: the user attribute named by `otpControlAttribute`
//! (`skip`/`force`), the roles `skipOtpRole` then `forceOtpRole`, a request header matching
//! `noOtpRequiredForHeaderPattern` then `forceOtpForHeaderPattern`, then `defaultOtpOutcome`
//! (`skip`/`force`); when nothing votes, the form is shown.
//!
//! A user without OTP credential: [`otp_required`] (Keycloak's `isOTPRequired`, for this
//! execution's config) says whether CONFIGURE_TOTP is added to the login.

use axum::http::HeaderMap;
use indexmap::IndexMap;
use serde_json::Value;

/// `OTP_CONTROL_USER_ATTRIBUTE`.
pub const OTP_CONTROL_ATTRIBUTE: &str = "otpControlAttribute";
/// `SKIP_OTP_ROLE`.
pub const SKIP_OTP_ROLE: &str = "skipOtpRole";
/// `FORCE_OTP_ROLE`.
pub const FORCE_OTP_ROLE: &str = "forceOtpRole";
/// `SKIP_OTP_FOR_HTTP_HEADER`.
pub const SKIP_FOR_HEADER: &str = "noOtpRequiredForHeaderPattern";
/// `FORCE_OTP_FOR_HTTP_HEADER`.
pub const FORCE_FOR_HEADER: &str = "forceOtpForHeaderPattern";
/// `DEFAULT_OTP_OUTCOME`.
pub const DEFAULT_OUTCOME: &str = "defaultOtpOutcome";

/// One condition's vote (`OtpDecision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// `SKIP_OTP`.
    Skip,
    /// `SHOW_OTP`.
    Show,
    /// `ABSTAIN`.
    Abstain,
}

/// What the decision needs to know about the user and the request.
pub struct Subject<'a> {
    /// The user's attribute values by name.
    pub attribute: &'a dyn Fn(&str) -> Option<String>,
    /// Whether the user has a role (`realm-role` or `client.role`, as Keycloak's
    /// `getRoleFromString` reads it).
    pub has_role: &'a dyn Fn(&str) -> bool,
    /// The request's headers.
    pub headers: &'a HeaderMap,
}

type Config = IndexMap<String, Value>;

fn get<'c>(config: &'c Config, key: &str) -> Option<&'c str> {
    config.get(key).and_then(Value::as_str)
}

fn skip_or_force(v: &str) -> Vote {
    match v {
        "skip" => Vote::Skip,
        "force" => Vote::Show,
        _ => Vote::Abstain,
    }
}

fn attribute_vote(config: &Config, s: &Subject<'_>) -> Vote {
    let Some(name) = get(config, OTP_CONTROL_ATTRIBUTE) else {
        return Vote::Abstain;
    };
    (s.attribute)(name).map_or(Vote::Abstain, |v| skip_or_force(v.trim()))
}

fn role_vote(config: &Config, s: &Subject<'_>) -> Vote {
    let has = |key| get(config, key).is_some_and(|r| (s.has_role)(r));
    if has(SKIP_OTP_ROLE) {
        Vote::Skip
    } else if has(FORCE_OTP_ROLE) {
        Vote::Show
    } else {
        Vote::Abstain
    }
}

/// `containsMatchingRequestHeader`: some `Name: value` of the request matches the whole
/// pattern (Java's `Pattern.DOTALL | Pattern.CASE_INSENSITIVE`, `matches()`). A pattern that
/// does not compile matches nothing (Keycloak fails the request on it).
fn header_matches(headers: &HeaderMap, pattern: Option<&str>) -> bool {
    let Some(p) = pattern else {
        return false;
    };
    let Ok(re) = regex::Regex::new(&format!("(?si)^(?:{p})$")) else {
        tracing::warn!("an auth-conditional-otp-form header pattern does not compile");
        return false;
    };
    headers.iter().any(|(name, value)| {
        value
            .to_str()
            .is_ok_and(|v| re.is_match(&format!("{}: {}", name.as_str().trim(), v.trim())))
    })
}

fn header_vote(config: &Config, s: &Subject<'_>) -> Vote {
    if header_matches(s.headers, get(config, SKIP_FOR_HEADER)) {
        Vote::Skip
    } else if header_matches(s.headers, get(config, FORCE_FOR_HEADER)) {
        Vote::Show
    } else {
        Vote::Abstain
    }
}

fn default_vote(config: &Config) -> Vote {
    get(config, DEFAULT_OUTCOME).map_or(Vote::Abstain, skip_or_force)
}

/// `authenticate`: whether the OTP form is shown (`false`: the step succeeds without it).
pub fn show_form(config: Option<&Config>, s: &Subject<'_>) -> bool {
    let Some(config) = config else {
        return true;
    };
    let votes = [
        attribute_vote(config, s),
        role_vote(config, s),
        header_vote(config, s),
        default_vote(config),
    ];
    votes.into_iter().find(|v| *v != Vote::Abstain) != Some(Vote::Skip)
}

/// `isOTPRequired` (for this execution's config): whether a user without OTP credential must
/// set one up. Unlike [`show_form`], a `skip` vote does not stop a later `force` vote, as in
/// Keycloak.
pub fn otp_required(config: Option<&Config>, s: &Subject<'_>) -> bool {
    let Some(config) = config else {
        return true;
    };
    let (a, r, h, d) = (
        attribute_vote(config, s),
        role_vote(config, s),
        header_vote(config, s),
        default_vote(config),
    );
    if [a, r, h].contains(&Vote::Show) {
        return true;
    }
    if get(config, DEFAULT_OUTCOME) == Some("force") && config.len() <= 1 {
        return true;
    }
    [a, r, h].iter().all(|v| *v == Vote::Abstain) && d != Vote::Skip
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn cfg(v: Value) -> Config {
        serde_json::from_value(v).unwrap()
    }

    fn decide(config: &Config, roles: &[&str], attr: Option<&str>, header: Option<&str>) -> bool {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert("x-trusted", HeaderValue::from_str(h).unwrap());
        }
        let attribute = |_: &str| attr.map(str::to_string);
        let has_role = |r: &str| roles.contains(&r);
        show_form(
            Some(config),
            &Subject {
                attribute: &attribute,
                has_role: &has_role,
                headers: &headers,
            },
        )
    }

    #[test]
    fn first_vote_decides_in_keycloaks_order() {
        let c = cfg(json!({
            "otpControlAttribute": "otp_auth", "skipOtpRole": "trusted", "forceOtpRole": "admin",
            "noOtpRequiredForHeaderPattern": "X-Trusted: yes", "defaultOtpOutcome": "skip"
        }));
        assert!(!decide(&c, &[], None, None), "default skip");
        assert!(decide(&c, &["admin"], None, None), "role force");
        assert!(
            !decide(&c, &["admin", "trusted"], None, None),
            "skip role first"
        );
        assert!(
            decide(&c, &["trusted"], Some(" force "), None),
            "attribute first"
        );
        assert!(
            !decide(&c, &[], None, Some("YES")),
            "header, case-insensitive"
        );
        assert!(
            decide(&c, &["admin"], None, Some("yes")),
            "role before header"
        );
        assert!(
            decide(&cfg(json!({})), &[], None, None),
            "nothing votes: shown"
        );
        assert!(decide(
            &cfg(json!({"noOtpRequiredForHeaderPattern": "("})),
            &[],
            None,
            Some("x")
        ));
    }

    #[test]
    fn setup_is_required_unless_skipped() {
        let headers = HeaderMap::new();
        let no_attr = |_: &str| None;
        let admin = |r: &str| r == "admin";
        let s = Subject {
            attribute: &no_attr,
            has_role: &admin,
            headers: &headers,
        };
        let c = |v| cfg(v);
        assert!(otp_required(
            Some(&c(json!({"defaultOtpOutcome": "force"}))),
            &s
        ));
        assert!(!otp_required(
            Some(&c(json!({"defaultOtpOutcome": "skip"}))),
            &s
        ));
        assert!(otp_required(
            Some(&c(
                json!({"forceOtpRole": "admin", "defaultOtpOutcome": "skip"})
            )),
            &s
        ));
        assert!(!otp_required(Some(&c(json!({"skipOtpRole": "admin"}))), &s));
        assert!(otp_required(Some(&c(json!({"skipOtpRole": "other"}))), &s));
    }
}
