//! Claim checks after the signature has been verified: time (RFC 7519 §4.1.4–4.1.6),
//! issuer, audience, Keycloak's `typ` and required claims. Pure functions of the claims,
//! the rules and the time.

use serde_json::{Map, Value};

use crate::error::Error;

/// The claim rules of a [`crate::Validator`].
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) leeway_secs: i64,
    /// Accepted audiences; empty only when the audience check is disabled.
    pub(crate) audiences: Vec<String>,
    pub(crate) check_audience: bool,
    pub(crate) accept_azp_as_audience: bool,
    /// Keycloak's `typ` claim; `None` disables the check.
    pub(crate) expected_typ: Option<String>,
    pub(crate) required_claims: Vec<String>,
}

/// The claims the guard reads, found in one pass over the payload instead of one hash lookup
/// per claim. JSON object keys are unique in a [`Map`] (a repeated key keeps its last value),
/// so each field is exactly what `claims.get(name)` would return.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Known<'a> {
    pub(crate) iss: Option<&'a Value>,
    pub(crate) sub: Option<&'a Value>,
    pub(crate) aud: Option<&'a Value>,
    pub(crate) exp: Option<&'a Value>,
    pub(crate) nbf: Option<&'a Value>,
    pub(crate) iat: Option<&'a Value>,
    pub(crate) typ: Option<&'a Value>,
    pub(crate) azp: Option<&'a Value>,
    pub(crate) sid: Option<&'a Value>,
    pub(crate) scope: Option<&'a Value>,
    pub(crate) email: Option<&'a Value>,
    pub(crate) preferred_username: Option<&'a Value>,
    pub(crate) realm_access: Option<&'a Value>,
    pub(crate) resource_access: Option<&'a Value>,
    pub(crate) groups: Option<&'a Value>,
    pub(crate) organization: Option<&'a Value>,
    pub(crate) org_id: Option<&'a Value>,
}

impl<'a> Known<'a> {
    pub(crate) fn scan(claims: &'a Map<String, Value>) -> Known<'a> {
        let mut k = Known::default();
        for (name, value) in claims {
            let slot = match name.as_str() {
                "iss" => &mut k.iss,
                "sub" => &mut k.sub,
                "aud" => &mut k.aud,
                "exp" => &mut k.exp,
                "nbf" => &mut k.nbf,
                "iat" => &mut k.iat,
                "typ" => &mut k.typ,
                "azp" => &mut k.azp,
                "sid" => &mut k.sid,
                "scope" => &mut k.scope,
                "email" => &mut k.email,
                "preferred_username" => &mut k.preferred_username,
                "realm_access" => &mut k.realm_access,
                "resource_access" => &mut k.resource_access,
                "groups" => &mut k.groups,
                "organization" => &mut k.organization,
                "org_id" => &mut k.org_id,
                _ => continue,
            };
            *slot = Some(value);
        }
        k
    }
}

/// A NumericDate (RFC 7519 §2): integer or fractional seconds; fractions are truncated.
fn numeric_date(value: Option<&Value>, name: &str) -> Result<Option<i64>, Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| Error::MissingClaim(name.to_owned())),
        Some(_) => Err(Error::MissingClaim(name.to_owned())),
    }
}

/// The `aud` claim as a list (a single string or an array of strings).
pub(crate) fn audience(aud: Option<&Value>) -> Vec<String> {
    match aud {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
pub(crate) fn check(
    claims: &Map<String, Value>,
    expected_iss: &str,
    rules: &ClaimRules,
    now: i64,
) -> Result<(), Error> {
    check_known(&Known::scan(claims), claims, expected_iss, rules, now)
}

/// The checks, on claims already scanned (`known`) out of `claims`.
pub(crate) fn check_known(
    known: &Known<'_>,
    claims: &Map<String, Value>,
    expected_iss: &str,
    rules: &ClaimRules,
    now: i64,
) -> Result<(), Error> {
    let leeway = rules.leeway_secs;

    // Time: exp is required; nbf and iat are checked when present.
    let exp = numeric_date(known.exp, "exp")?.ok_or_else(|| Error::MissingClaim("exp".into()))?;
    if now >= exp.saturating_add(leeway) {
        return Err(Error::Expired);
    }
    if let Some(nbf) = numeric_date(known.nbf, "nbf")? {
        if nbf > now.saturating_add(leeway) {
            return Err(Error::NotYetValid);
        }
    }
    if let Some(iat) = numeric_date(known.iat, "iat")? {
        if iat > now.saturating_add(leeway) {
            return Err(Error::IssuedInFuture);
        }
    }

    // Issuer: the routing already matched it; check again on the verified claims.
    if known.iss.and_then(Value::as_str) != Some(expected_iss) {
        return Err(Error::UntrustedIssuer);
    }

    if rules.check_audience {
        let aud_ok = match known.aud {
            Some(Value::String(s)) => rules.audiences.iter().any(|a| a == s),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|s| rules.audiences.iter().any(|a| a == s)),
            _ => false,
        };
        let azp_ok = rules.accept_azp_as_audience
            && known
                .azp
                .and_then(Value::as_str)
                .is_some_and(|azp| rules.audiences.iter().any(|a| a == azp));
        if !aud_ok && !azp_ok {
            return Err(Error::InvalidAudience);
        }
    }

    // Keycloak marks access tokens `"typ": "Bearer"`; refresh tokens say `Refresh`, ID tokens `ID`,
    // logout tokens `Logout` (org.keycloak.util.TokenUtil.TOKEN_TYPE_*).
    if let Some(typ) = &rules.expected_typ {
        if known.typ.and_then(Value::as_str) != Some(typ.as_str()) {
            return Err(Error::InvalidTokenType);
        }
    }

    match known.sub {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(Error::MissingClaim("sub".into())),
    }
    for name in &rules.required_claims {
        match claims.get(name) {
            None | Some(Value::Null) => return Err(Error::MissingClaim(name.clone())),
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const ISS: &str = "https://idp.example.com/realms/acme";

    fn rules() -> ClaimRules {
        ClaimRules {
            leeway_secs: 30,
            audiences: vec!["api".into()],
            check_audience: true,
            accept_azp_as_audience: false,
            expected_typ: Some("Bearer".into()),
            required_claims: vec![],
        }
    }

    fn claims(over: Value) -> Map<String, Value> {
        let mut base = json!({
            "iss": ISS, "sub": "u1", "aud": ["account", "api"], "typ": "Bearer",
            "exp": NOW + 300, "iat": NOW, "nbf": NOW, "azp": "web",
        });
        let (Value::Object(b), Value::Object(o)) = (&mut base, over) else {
            panic!()
        };
        for (k, v) in o {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
        b.clone()
    }

    fn run(over: Value) -> Result<(), Error> {
        check(&claims(over), ISS, &rules(), NOW)
    }

    #[test]
    fn valid_claims_pass() {
        assert_eq!(run(json!({})), Ok(()));
        assert_eq!(run(json!({"aud": "api"})), Ok(()));
        assert_eq!(run(json!({"nbf": null, "iat": null})), Ok(()));
        assert_eq!(run(json!({"exp": (NOW + 10) as f64 + 0.5})), Ok(()));
    }

    #[test]
    fn time_checks_respect_leeway() {
        assert_eq!(run(json!({"exp": NOW - 29})), Ok(()));
        assert_eq!(run(json!({"exp": NOW - 30})), Err(Error::Expired));
        assert_eq!(run(json!({"exp": NOW - 3600})), Err(Error::Expired));
        assert_eq!(
            run(json!({"exp": null})),
            Err(Error::MissingClaim("exp".into()))
        );
        assert_eq!(
            run(json!({"exp": "tomorrow"})),
            Err(Error::MissingClaim("exp".into()))
        );
        assert_eq!(run(json!({"nbf": NOW + 30})), Ok(()));
        assert_eq!(run(json!({"nbf": NOW + 31})), Err(Error::NotYetValid));
        assert_eq!(run(json!({"iat": NOW + 30})), Ok(()));
        assert_eq!(run(json!({"iat": NOW + 31})), Err(Error::IssuedInFuture));
        assert_eq!(
            run(json!({"iat": "x"})),
            Err(Error::MissingClaim("iat".into()))
        );
        assert_eq!(run(json!({"exp": i64::MAX})), Ok(()));
    }

    #[test]
    fn issuer_must_match_exactly() {
        assert_eq!(
            run(json!({"iss": format!("{ISS}/")})),
            Err(Error::UntrustedIssuer)
        );
        assert_eq!(run(json!({"iss": null})), Err(Error::UntrustedIssuer));
    }

    #[test]
    fn audience_and_azp() {
        assert_eq!(run(json!({"aud": "account"})), Err(Error::InvalidAudience));
        assert_eq!(run(json!({"aud": ["x", 1]})), Err(Error::InvalidAudience));
        assert_eq!(run(json!({"aud": null})), Err(Error::InvalidAudience));
        // azp counts only when enabled
        let c = claims(json!({"aud": null, "azp": "api"}));
        assert_eq!(check(&c, ISS, &rules(), NOW), Err(Error::InvalidAudience));
        let r = ClaimRules {
            accept_azp_as_audience: true,
            ..rules()
        };
        assert_eq!(check(&c, ISS, &r, NOW), Ok(()));
        let r = ClaimRules {
            check_audience: false,
            audiences: vec![],
            ..rules()
        };
        assert_eq!(check(&c, ISS, &r, NOW), Ok(()));
    }

    #[test]
    fn keycloak_typ() {
        for typ in ["Refresh", "ID", "Logout", "bearer", "Offline"] {
            assert_eq!(
                run(json!({ "typ": typ })),
                Err(Error::InvalidTokenType),
                "{typ}"
            );
        }
        assert_eq!(run(json!({"typ": null})), Err(Error::InvalidTokenType));
        let r = ClaimRules {
            expected_typ: None,
            ..rules()
        };
        assert_eq!(check(&claims(json!({"typ": "ID"})), ISS, &r, NOW), Ok(()));
    }

    #[test]
    fn sub_and_required_claims() {
        assert_eq!(
            run(json!({"sub": null})),
            Err(Error::MissingClaim("sub".into()))
        );
        assert_eq!(
            run(json!({"sub": ""})),
            Err(Error::MissingClaim("sub".into()))
        );
        assert_eq!(
            run(json!({"sub": 7})),
            Err(Error::MissingClaim("sub".into()))
        );
        let r = ClaimRules {
            required_claims: vec!["org_id".into()],
            ..rules()
        };
        assert_eq!(
            check(&claims(json!({})), ISS, &r, NOW),
            Err(Error::MissingClaim("org_id".into()))
        );
        assert_eq!(
            check(&claims(json!({"org_id": "o1"})), ISS, &r, NOW),
            Ok(())
        );
    }

    #[test]
    fn scan_finds_what_get_finds() {
        let c = claims(json!({"groups": ["/g"], "org_id": "o", "other": 1}));
        let k = Known::scan(&c);
        for (name, found) in [
            ("iss", k.iss),
            ("sub", k.sub),
            ("aud", k.aud),
            ("exp", k.exp),
            ("nbf", k.nbf),
            ("iat", k.iat),
            ("typ", k.typ),
            ("azp", k.azp),
            ("sid", k.sid),
            ("scope", k.scope),
            ("email", k.email),
            ("preferred_username", k.preferred_username),
            ("realm_access", k.realm_access),
            ("resource_access", k.resource_access),
            ("groups", k.groups),
            ("organization", k.organization),
            ("org_id", k.org_id),
        ] {
            assert_eq!(found, c.get(name), "{name}");
        }
        // The last of repeated keys wins, as in the map.
        let dup: Map<String, Value> =
            serde_json::from_str(r#"{"sub": "first", "sub": "second"}"#).unwrap();
        assert_eq!(Known::scan(&dup).sub, Some(&json!("second")));
    }

    #[test]
    fn audience_list() {
        assert_eq!(audience(Some(&json!("a"))), vec!["a"]);
        assert_eq!(audience(Some(&json!(["a", 2, "b"]))), vec!["a", "b"]);
        assert!(audience(None).is_empty());
        assert!(audience(Some(&json!({"a": 1}))).is_empty());
    }
}
