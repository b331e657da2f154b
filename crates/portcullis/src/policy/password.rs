//! Keycloak's password policy (`passwordPolicy`: `length(12) and digits(1) and notUsername`):
//! parsed once, checked when a password is set. Messages follow Keycloak's English texts.

use std::sync::Arc;

use super::blacklist::{Blacklist, Blacklists};
use crate::crypto::password;
use crate::representation::{CredentialRepresentation, UserRepresentation};

/// One rule of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `length(n)`, default 8.
    Length(usize),
    /// `maxLength(n)`, default 64.
    MaxLength(usize),
    /// `digits(n)`.
    Digits(usize),
    /// `lowerCase(n)`.
    LowerCase(usize),
    /// `upperCase(n)`.
    UpperCase(usize),
    /// `specialChars(n)`.
    SpecialChars(usize),
    /// `notUsername`.
    NotUsername,
    /// `notEmail`.
    NotEmail,
    /// `notContainsUsername`.
    NotContainsUsername,
    /// `regexPattern(re)`: the whole password matches (Java's `Matcher.matches`).
    RegexPattern(String),
    /// `passwordHistory(n)`, default 3: not the current password nor one of the n-1 before.
    History(usize),
    /// `passwordBlacklist(file)`: the password, lower-cased, is not a line of the file.
    /// `list` is filled by [`resolve`]; an unresolved rule refuses every password.
    Blacklist {
        /// File name in the blacklists directory.
        name: String,
        /// The loaded list.
        list: Option<Arc<Blacklist>>,
    },
    /// Rules that do not constrain a new password's text here (hashing, history, ...).
    Other(String),
}

/// Parses Keycloak's policy string; unknown or malformed rules are an error naming them.
pub fn parse(policy: &str) -> Result<Vec<Rule>, String> {
    let mut out = Vec::new();
    for part in policy
        .split(" and ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (name, arg) = match part.split_once('(') {
            Some((n, rest)) => (
                n.trim(),
                Some(
                    rest.strip_suffix(')')
                        .ok_or_else(|| format!("malformed password policy rule '{part}'"))?
                        .trim(),
                ),
            ),
            None => (part, None),
        };
        let num = |default: usize| -> Result<usize, String> {
            match arg {
                None | Some("") => Ok(default),
                Some(a) => a
                    .parse()
                    .map_err(|_| format!("invalid value for password policy '{name}': '{a}'")),
            }
        };
        out.push(match name {
            "length" => Rule::Length(num(8)?),
            "maxLength" => Rule::MaxLength(num(64)?),
            "digits" => Rule::Digits(num(1)?),
            "lowerCase" => Rule::LowerCase(num(1)?),
            "upperCase" => Rule::UpperCase(num(1)?),
            "specialChars" => Rule::SpecialChars(num(1)?),
            "notUsername" => Rule::NotUsername,
            "notEmail" => Rule::NotEmail,
            "notContainsUsername" => Rule::NotContainsUsername,
            "passwordHistory" => Rule::History(num(3)?),
            "regexPattern" => {
                let re = arg.filter(|a| !a.is_empty()).ok_or_else(|| {
                    "Invalid config for regexPattern: Config required".to_string()
                })?;
                full_match(re).map_err(|_| {
                    "Invalid config for regexPattern: Not a valid regular expression".to_string()
                })?;
                Rule::RegexPattern(re.to_string())
            }
            // Keycloak: without a config the policy checks nothing; an empty name is refused
            // when the list is resolved.
            "passwordBlacklist" => match arg {
                Some(name) => Rule::Blacklist {
                    name: name.to_string(),
                    list: None,
                },
                None => Rule::Other(name.to_string()),
            },
            "hashIterations"
            | "hashAlgorithm"
            | "forceExpiredPasswordChange"
            | "maxAuthAge"
            | "passwordAge" => Rule::Other(name.to_string()),
            other => return Err(format!("unknown password policy '{other}'")),
        });
    }
    Ok(out)
}

/// Loads the lists the rules name (`passwordBlacklist`), each once per process. The error
/// names the rule: `Invalid config for passwordBlacklist: Password blacklist x.txt not found!`.
pub async fn resolve(mut rules: Vec<Rule>, lists: &Blacklists) -> Result<Vec<Rule>, String> {
    for r in rules.iter_mut() {
        if let Rule::Blacklist { name, list } = r {
            if list.is_none() {
                *list = Some(
                    lists
                        .resolve(name)
                        .await
                        .map_err(|e| format!("Invalid config for passwordBlacklist: {e}"))?,
                );
            }
        }
    }
    Ok(rules)
}

/// [`parse`] and [`resolve`]: the rules of a realm's policy, ready to check passwords.
pub async fn parse_resolved(policy: &str, lists: &Blacklists) -> Result<Vec<Rule>, String> {
    resolve(parse(policy)?, lists).await
}

fn full_match(re: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{re})$"))
}

/// Checks a new password; the error is the first rule it breaks, in Keycloak's words.
pub fn check(
    rules: &[Rule],
    password: &str,
    username: &str,
    email: Option<&str>,
) -> Result<(), String> {
    let count = |f: fn(char) -> bool| password.chars().filter(|c| f(*c)).count();
    for r in rules {
        match r {
            Rule::Length(n) if password.chars().count() < *n => {
                return Err(format!("Invalid password: minimum length {n}."))
            }
            Rule::MaxLength(n) if password.chars().count() > *n => {
                return Err(format!("Invalid password: maximum length {n}."))
            }
            Rule::Digits(n) if count(|c| c.is_ascii_digit()) < *n => {
                return Err(format!(
                    "Invalid password: must contain at least {n} numerical digits."
                ))
            }
            Rule::LowerCase(n) if count(char::is_lowercase) < *n => {
                return Err(format!(
                    "Invalid password: must contain at least {n} lower case characters."
                ))
            }
            Rule::UpperCase(n) if count(char::is_uppercase) < *n => {
                return Err(format!(
                    "Invalid password: must contain at least {n} upper case characters."
                ))
            }
            Rule::SpecialChars(n) if count(|c| !c.is_alphanumeric()) < *n => {
                return Err(format!(
                    "Invalid password: must contain at least {n} special characters."
                ))
            }
            Rule::NotUsername if password.eq_ignore_ascii_case(username) => {
                return Err("Invalid password: must not be equal to the username.".into())
            }
            Rule::NotEmail if email.is_some_and(|e| password.eq_ignore_ascii_case(e)) => {
                return Err("Invalid password: must not be equal to the email.".into())
            }
            Rule::NotContainsUsername
                if !username.is_empty()
                    && password.to_lowercase().contains(&username.to_lowercase()) =>
            {
                return Err("Invalid password: Can not contain the username.".into())
            }
            Rule::RegexPattern(re) if !full_match(re).is_ok_and(|r| r.is_match(password)) => {
                return Err("Invalid password: fails to match regex pattern(s).".into())
            }
            Rule::Blacklist { list, .. } => match list {
                Some(l) if l.contains(password) => {
                    return Err("Invalid password: password is blacklisted.".into())
                }
                Some(_) => {}
                // Fail closed: a list that was never loaded cannot vouch for a password.
                None => {
                    return Err(
                        "Invalid password: new password doesn't match password policies.".into(),
                    )
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// Credential type of superseded passwords kept for `passwordHistory`.
pub const HISTORY: &str = "password-history";

/// Why a new password was not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A policy rule, in Keycloak's words.
    Policy(String),
    /// Hashing failed.
    Internal,
}

fn created(c: &CredentialRepresentation) -> i64 {
    c.created_date.unwrap_or(0)
}

/// Replaces a user's password under the realm's rules: the text rules, then `passwordHistory`
/// (the new password may be neither the current one nor one of the n-1 before it, each checked
/// against its hash); the current password then joins the history, of which n-1 are kept.
/// Hashing runs off the async workers.
pub async fn replace_password(
    user: &mut UserRepresentation,
    new: &str,
    rules: &[Rule],
    now_ms: i64,
) -> Result<(), Refused> {
    let username = user.username.clone().unwrap_or_default();
    check(rules, new, &username, user.email.as_deref()).map_err(Refused::Policy)?;
    let depth = rules
        .iter()
        .find_map(|r| match r {
            Rule::History(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(0);
    let creds = user.credentials.clone().unwrap_or_default();
    let mut history: Vec<CredentialRepresentation> = creds
        .iter()
        .filter(|c| c.kind.as_deref() == Some(HISTORY))
        .cloned()
        .collect();
    history.sort_by_key(|c| std::cmp::Reverse(created(c)));
    let current: Vec<CredentialRepresentation> = creds
        .iter()
        .filter(|c| c.kind.as_deref().unwrap_or("password") == "password")
        .cloned()
        .collect();
    if depth > 0 {
        let recent: Vec<(String, String)> = current
            .iter()
            .chain(history.iter())
            .take(depth)
            .filter_map(|c| Some((c.secret_data.clone()?, c.credential_data.clone()?)))
            .collect();
        let candidate = new.to_string();
        let reused = password::off_thread(move || {
            recent
                .iter()
                .any(|(sd, cd)| password::verify(&candidate, sd, cd).unwrap_or(false))
        })
        .await
        .map_err(|_| Refused::Internal)?;
        if reused {
            return Err(Refused::Policy(format!(
                "Invalid password: must not be equal to any of last {depth} passwords."
            )));
        }
    }
    let candidate = new.to_string();
    let hashed = password::off_thread(move || password::hash(&candidate))
        .await
        .map_err(|_| Refused::Internal)?
        .map_err(|_| Refused::Internal)?;
    let mut next: Vec<CredentialRepresentation> = creds
        .into_iter()
        .filter(|c| {
            let k = c.kind.as_deref().unwrap_or("password");
            k != "password" && k != HISTORY
        })
        .collect();
    if depth > 1 {
        let mut kept: Vec<CredentialRepresentation> = current
            .into_iter()
            .map(|mut c| {
                c.kind = Some(HISTORY.into());
                c
            })
            .chain(history)
            .collect();
        kept.truncate(depth - 1);
        next.extend(kept);
    }
    let c = CredentialRepresentation {
        id: Some(uuid::Uuid::new_v4().to_string()),
        kind: Some("password".into()),
        secret_data: Some(hashed.secret_data),
        credential_data: Some(hashed.credential_data),
        created_date: Some(now_ms),
        ..Default::default()
    };
    next.push(c);
    user.credentials = Some(next);
    Ok(())
}

/// Keycloak's message key of a policy failure text (the `error` of the Admin API's 400).
pub fn message_key(text: &str) -> &'static str {
    const KEYS: &[(&str, &str)] = &[
        ("minimum length", "invalidPasswordMinLengthMessage"),
        ("maximum length", "invalidPasswordMaxLengthMessage"),
        ("numerical digits", "invalidPasswordMinDigitsMessage"),
        ("lower case", "invalidPasswordMinLowerCaseCharsMessage"),
        ("upper case", "invalidPasswordMinUpperCaseCharsMessage"),
        (
            "special characters",
            "invalidPasswordMinSpecialCharsMessage",
        ),
        ("equal to the username", "invalidPasswordNotUsernameMessage"),
        ("equal to the email", "invalidPasswordNotEmailMessage"),
        (
            "contain the username",
            "invalidPasswordNotContainsUsernameMessage",
        ),
        ("regex pattern", "invalidPasswordRegexPatternMessage"),
        ("any of last", "invalidPasswordHistoryMessage"),
        (
            "password is blacklisted",
            "invalidPasswordBlacklistedMessage",
        ),
    ];
    KEYS.iter()
        .find(|(needle, _)| text.contains(needle))
        .map(|(_, k)| *k)
        .unwrap_or("invalidPasswordGenericMessage")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn seed_003_policy() {
        let rules = parse("length(12) and digits(1) and upperCase(1) and specialChars(1) and notUsername and passwordHistory(24)").unwrap();
        assert_eq!(
            check(&rules, "Short1!", "alice", None).unwrap_err(),
            "Invalid password: minimum length 12."
        );
        assert!(check(&rules, "longenough12!", "alice", None)
            .unwrap_err()
            .contains("upper case"));
        assert!(check(&rules, "Longenough12", "alice", None)
            .unwrap_err()
            .contains("special"));
        assert!(check(&rules, "Longenough!!", "alice", None)
            .unwrap_err()
            .contains("digits"));
        check(&rules, "Longenough12!", "alice", None).unwrap();
        let not_user = parse("notUsername").unwrap();
        assert!(check(&not_user, "Alice", "alice", None).is_err());
        assert!(parse("lenght(3)").unwrap_err().contains("lenght"));
        assert!(parse("length(x)").is_err());
    }

    #[test]
    fn regex_and_username_rules() {
        let rules = parse("regexPattern([a-z]+[0-9]+) and notContainsUsername").unwrap();
        assert!(check(&rules, "abc123", "bob", None).is_ok());
        assert_eq!(
            check(&rules, "abc123x", "bob", None).unwrap_err(),
            "Invalid password: fails to match regex pattern(s).",
            "the whole password must match, as Java's matches()"
        );
        assert_eq!(
            check(&rules, "xbob1", "Bob", None).unwrap_err(),
            "Invalid password: Can not contain the username."
        );
        assert!(parse("regexPattern([)")
            .unwrap_err()
            .contains("Not a valid regular expression"));
        assert!(parse("regexPattern")
            .unwrap_err()
            .contains("Config required"));
        assert_eq!(
            message_key("Invalid password: fails to match regex pattern(s)."),
            "invalidPasswordRegexPatternMessage"
        );
    }

    #[tokio::test]
    async fn blacklist_rule_checks_the_loaded_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("common.txt"), "Summer2024!\nletmein\n").unwrap();
        let lists = Blacklists::new(dir.path().to_path_buf());
        let rules = parse_resolved("length(6) and passwordBlacklist(common.txt)", &lists)
            .await
            .unwrap();
        let refused = check(&rules, "SUMMER2024!", "ann", None).unwrap_err();
        assert_eq!(refused, "Invalid password: password is blacklisted.");
        assert_eq!(message_key(&refused), "invalidPasswordBlacklistedMessage");
        check(&rules, "Winter2024!", "ann", None).unwrap();
        // Rules apply in order: the length rule answers first.
        assert!(check(&rules, "let", "ann", None)
            .unwrap_err()
            .contains("minimum length"));
        assert_eq!(
            parse_resolved("passwordBlacklist(nope.txt)", &lists)
                .await
                .unwrap_err(),
            "Invalid config for passwordBlacklist: Password blacklist nope.txt not found!"
        );
        // Without a file name the rule checks nothing (Keycloak's parseConfig(null)).
        let bare = parse_resolved("passwordBlacklist", &lists).await.unwrap();
        check(&bare, "letmein", "ann", None).unwrap();
        // Parsed but never resolved: every password is refused.
        let unresolved = parse("passwordBlacklist(common.txt)").unwrap();
        assert!(check(&unresolved, "anything-at-all", "ann", None).is_err());
    }

    #[tokio::test]
    async fn history_refuses_the_current_and_recent_passwords_and_keeps_n_minus_one() {
        let rules = parse("passwordHistory(2)").unwrap();
        let mut u = UserRepresentation {
            username: Some("ann".into()),
            ..Default::default()
        };
        replace_password(&mut u, "first-pass", &rules, 1)
            .await
            .unwrap();
        replace_password(&mut u, "second-pass", &rules, 2)
            .await
            .unwrap();
        let kinds: Vec<_> = u
            .credentials
            .iter()
            .flatten()
            .map(|c| c.kind.clone().unwrap())
            .collect();
        assert_eq!(kinds, ["password-history", "password"]);
        for reused in ["second-pass", "first-pass"] {
            assert_eq!(
                replace_password(&mut u, reused, &rules, 3)
                    .await
                    .unwrap_err(),
                Refused::Policy(
                    "Invalid password: must not be equal to any of last 2 passwords.".into()
                )
            );
        }
        replace_password(&mut u, "third-pass", &rules, 4)
            .await
            .unwrap();
        // "first-pass" fell out of the history (n-1 = 1 kept: "second-pass").
        assert_eq!(u.credentials.as_ref().unwrap().len(), 2);
        replace_password(&mut u, "first-pass", &rules, 5)
            .await
            .unwrap();
        // Without the rule, nothing is kept.
        replace_password(&mut u, "fourth-pass", &[], 6)
            .await
            .unwrap();
        assert_eq!(u.credentials.as_ref().unwrap().len(), 1);
    }
}
