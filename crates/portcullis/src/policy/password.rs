//! Keycloak's password policy (`passwordPolicy`: `length(12) and digits(1) and notUsername`):
//! parsed once, checked when a password is set. Messages follow Keycloak's English texts.

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
            "hashIterations"
            | "hashAlgorithm"
            | "passwordHistory"
            | "forceExpiredPasswordChange"
            | "passwordBlacklist"
            | "regexPattern"
            | "notContainsUsername"
            | "maxAuthAge"
            | "passwordAge" => Rule::Other(name.to_string()),
            other => return Err(format!("unknown password policy '{other}'")),
        });
    }
    Ok(out)
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
            _ => {}
        }
    }
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
}
