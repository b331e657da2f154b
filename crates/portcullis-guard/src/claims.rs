//! Claim checks after the signature has been verified: time (RFC 7519 §4.1.4–4.1.6),
//! issuer, audience, Keycloak's `typ` and required claims. Pure functions of the claims,
//! the rules and the time.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de;
use serde_json::{Map, Number, Value};

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

/// The value of a claim the guard reads, in the forms its readers tell apart: a string, a
/// number, the strings of an array (every reader of an array claim skips its other elements),
/// an object (whole: `organization` reads one), `null`, or something else (a boolean). A third
/// of the size of a [`Value`], which the scan moves around.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Claim {
    Null,
    String(String),
    Number(Number),
    /// An array: its string elements.
    Strings(Vec<String>),
    Object(Box<Map<String, Value>>),
    /// `true` or `false`.
    Other,
}

impl Claim {
    pub(crate) fn from_value(value: Value) -> Claim {
        match value {
            Value::Null => Claim::Null,
            Value::Bool(_) => Claim::Other,
            Value::Number(n) => Claim::Number(n),
            Value::String(s) => Claim::String(s),
            Value::Array(list) => Claim::Strings(
                list.into_iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
            Value::Object(map) => Claim::Object(Box::new(map)),
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Claim::String(s) => Some(s),
            _ => None,
        }
    }
}

/// The claims the guard reads, taken out of the payload in one pass: these are parsed into
/// values, every other claim is only checked to be valid JSON (exactly as `serde_json::Value`
/// would parse it: same grammar, number range and nesting limit, so the lazily parsed
/// [`crate::Claims`] view of the same payload cannot fail), without allocating.
///
/// Keycloak's role claims are read straight into role lists, without building their nested
/// objects: `realm_access.roles` and `resource_access.<client>.roles` (see [`RoleHolder`]).
///
/// A repeated key keeps its last value, as in a [`Map`], at every level.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Known {
    pub(crate) iss: Option<Claim>,
    pub(crate) sub: Option<Claim>,
    pub(crate) aud: Option<Claim>,
    pub(crate) exp: Option<Claim>,
    pub(crate) nbf: Option<Claim>,
    pub(crate) iat: Option<Claim>,
    pub(crate) typ: Option<Claim>,
    pub(crate) azp: Option<Claim>,
    pub(crate) sid: Option<Claim>,
    pub(crate) scope: Option<Claim>,
    pub(crate) email: Option<Claim>,
    pub(crate) preferred_username: Option<Claim>,
    /// `realm_access.roles`, read as [`RoleHolder`] does.
    pub(crate) realm_roles: Vec<String>,
    /// `resource_access`: for each client (key) its `roles`, read as [`RoleHolder`] does. A
    /// `resource_access` that is not an object gives no clients.
    pub(crate) client_roles: BTreeMap<String, Vec<String>>,
    pub(crate) groups: Option<Claim>,
    pub(crate) organization: Option<Claim>,
    pub(crate) org_id: Option<Claim>,
    /// The first configured required claim that is absent or `null`.
    pub(crate) missing_required: Option<usize>,
}

impl Known {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Claim>> {
        Some(match name {
            "iss" => &mut self.iss,
            "sub" => &mut self.sub,
            "aud" => &mut self.aud,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "typ" => &mut self.typ,
            "azp" => &mut self.azp,
            "sid" => &mut self.sid,
            "scope" => &mut self.scope,
            "email" => &mut self.email,
            "preferred_username" => &mut self.preferred_username,
            "groups" => &mut self.groups,
            "organization" => &mut self.organization,
            "org_id" => &mut self.org_id,
            _ => return None,
        })
    }

    /// Reads a JWT payload: a JSON object, else an error.
    pub(crate) fn scan(payload: &[u8], required: &[String]) -> Result<Known, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(payload);
        let known = de::DeserializeSeed::deserialize(ScanSeed { required }, &mut de)?;
        de.end()?;
        Ok(known)
    }

    /// The same, from claims already in a map (values are cloned).
    pub(crate) fn from_map(claims: &Map<String, Value>, required: &[String]) -> Known {
        let mut known = Known::default();
        for (name, value) in claims {
            match name.as_str() {
                "realm_access" => known.realm_roles = roles_in(value),
                "resource_access" => known.client_roles = client_roles_in(value),
                _ => {
                    if let Some(slot) = known.slot(name) {
                        *slot = Some(Claim::from_value(value.clone()));
                    }
                }
            }
        }
        known.missing_required = required
            .iter()
            .position(|r| claims.get(r).is_none_or(Value::is_null));
        known
    }
}

struct ScanSeed<'r> {
    required: &'r [String],
}

impl<'de> de::DeserializeSeed<'de> for ScanSeed<'_> {
    type Value = Known;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Known, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> de::Visitor<'de> for ScanSeed<'_> {
    type Value = Known;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Known, A::Error> {
        let mut known = Known::default();
        // Whether each required claim is present and not null, by its last occurrence.
        let mut present = vec![false; self.required.len()];
        while let Some(Key(name)) = map.next_key()? {
            let is_null = match &*name {
                "realm_access" => {
                    let (roles, is_null) = map.next_value_seed(RoleHolder)?;
                    known.realm_roles = roles;
                    is_null
                }
                "resource_access" => {
                    let (clients, is_null) = map.next_value_seed(ClientRoles)?;
                    known.client_roles = clients;
                    is_null
                }
                _ => match known.slot(&name) {
                    Some(slot) => {
                        let value: Value = map.next_value()?;
                        let is_null = value.is_null();
                        *slot = Some(Claim::from_value(value));
                        is_null
                    }
                    None => map.next_value_seed(Validate)?,
                },
            };
            for (i, r) in self.required.iter().enumerate() {
                if *r == *name {
                    present[i] = !is_null;
                }
            }
        }
        known.missing_required = present.iter().position(|p| !p);
        Ok(known)
    }
}

/// An object key, borrowed from the payload unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The `visit_*` methods for the scalars a visitor accepts without keeping them (strings
/// apart): `$null` for `null`, `$other` for booleans and numbers. Together with `visit_str`,
/// `visit_seq` and `visit_map` this covers every value `deserialize_any` can produce, so such a
/// visitor accepts exactly what `serde_json::Value` accepts.
macro_rules! scalars {
    ($other:expr, $null:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    };
}

/// Accepts any JSON value through the same `deserialize_any` path as `serde_json::Value`
/// (hence the same errors), keeping nothing. Yields whether the value was `null`.
struct Validate;

impl<'de> de::DeserializeSeed<'de> for Validate {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for Validate {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(false, true);
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element_seed(Validate)?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_key_seed(Validate)?.is_some() {
            map.next_value_seed(Validate)?;
        }
        Ok(false)
    }
}

/// An object that may carry Keycloak's `roles` list: `realm_access`, or one client's entry of
/// `resource_access`. Yields the strings of `roles` (other elements skipped) and whether the
/// value was `null`. Anything else (not an object, no `roles`, `roles` not a list) gives no
/// roles; it is still validated like any other claim. Exactly what [`roles_in`] reads from a
/// parsed value.
struct RoleHolder;

impl<'de> de::DeserializeSeed<'de> for RoleHolder {
    type Value = (Vec<String>, bool);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for RoleHolder {
    type Value = (Vec<String>, bool);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!((Vec::new(), false), (Vec::new(), true));
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok((Vec::new(), false))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        de::Visitor::visit_seq(Validate, seq)?;
        Ok((Vec::new(), false))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut roles = Vec::new();
        while let Some(Key(name)) = map.next_key()? {
            if name == "roles" {
                roles = map.next_value_seed(Strings)?;
            } else {
                map.next_value_seed(Validate)?;
            }
        }
        Ok((roles, false))
    }
}

/// `resource_access`: each client's [`RoleHolder`], by client id, and whether the value was
/// `null`. Not an object: no clients. Exactly what [`client_roles_in`] reads.
struct ClientRoles;

impl<'de> de::DeserializeSeed<'de> for ClientRoles {
    type Value = (BTreeMap<String, Vec<String>>, bool);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for ClientRoles {
    type Value = (BTreeMap<String, Vec<String>>, bool);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!((BTreeMap::new(), false), (BTreeMap::new(), true));
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok((BTreeMap::new(), false))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        de::Visitor::visit_seq(Validate, seq)?;
        Ok((BTreeMap::new(), false))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut clients = BTreeMap::new();
        while let Some(Key(client)) = map.next_key()? {
            let (roles, _) = map.next_value_seed(RoleHolder)?;
            clients.insert(client.into_owned(), roles);
        }
        Ok((clients, false))
    }
}

/// The strings of a list; anything that is not a list gives none.
struct Strings;

impl<'de> de::DeserializeSeed<'de> for Strings {
    type Value = Vec<String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for Strings {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Vec::new(), Vec::new());
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut strings = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(s) = seq.next_element_seed(StringOrSkip)? {
            strings.extend(s);
        }
        Ok(strings)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Vec<String>, A::Error> {
        de::Visitor::visit_map(Validate, map)?;
        Ok(Vec::new())
    }
}

/// A string, or `None` for any other (validated) value.
struct StringOrSkip;

impl<'de> de::DeserializeSeed<'de> for StringOrSkip {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for StringOrSkip {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(None, None);
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Option<String>, A::Error> {
        de::Visitor::visit_seq(Validate, seq)?;
        Ok(None)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Option<String>, A::Error> {
        de::Visitor::visit_map(Validate, map)?;
        Ok(None)
    }
}

/// `realm_access` (or one client's entry of `resource_access`) as a parsed value: the strings
/// of its `roles` list, as [`RoleHolder`] reads them from a payload.
fn roles_in(holder: &Value) -> Vec<String> {
    match holder.get("roles") {
        Some(Value::Array(roles)) => roles
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `resource_access` as a parsed value, as [`ClientRoles`] reads it from a payload.
fn client_roles_in(value: &Value) -> BTreeMap<String, Vec<String>> {
    match value {
        Value::Object(clients) => clients
            .iter()
            .map(|(client, holder)| (client.clone(), roles_in(holder)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A NumericDate (RFC 7519 §2): integer or fractional seconds; fractions are truncated.
fn numeric_date(value: Option<&Claim>, name: &str) -> Result<Option<i64>, Error> {
    match value {
        None | Some(Claim::Null) => Ok(None),
        Some(Claim::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| Error::MissingClaim(name.to_owned())),
        Some(_) => Err(Error::MissingClaim(name.to_owned())),
    }
}

/// The checks of a map of claims (tests), through the same scan as a real payload.
#[cfg(test)]
pub(crate) fn check(
    claims: &Map<String, Value>,
    expected_iss: &str,
    rules: &ClaimRules,
    now: i64,
) -> Result<(), Error> {
    let payload = serde_json::to_vec(claims).map_err(|_| Error::Malformed)?;
    let known = Known::scan(&payload, &rules.required_claims).map_err(|_| Error::Malformed)?;
    check_known(&known, expected_iss, rules, now)
}

/// The checks, on the claims scanned out of the payload.
pub(crate) fn check_known(
    known: &Known,
    expected_iss: &str,
    rules: &ClaimRules,
    now: i64,
) -> Result<(), Error> {
    let leeway = rules.leeway_secs;

    // Time: exp is required; nbf and iat are checked when present.
    let exp = numeric_date(known.exp.as_ref(), "exp")?
        .ok_or_else(|| Error::MissingClaim("exp".into()))?;
    if now >= exp.saturating_add(leeway) {
        return Err(Error::Expired);
    }
    if let Some(nbf) = numeric_date(known.nbf.as_ref(), "nbf")? {
        if nbf > now.saturating_add(leeway) {
            return Err(Error::NotYetValid);
        }
    }
    if let Some(iat) = numeric_date(known.iat.as_ref(), "iat")? {
        if iat > now.saturating_add(leeway) {
            return Err(Error::IssuedInFuture);
        }
    }

    // Issuer: the routing already matched it; check again on the verified claims.
    if known.iss.as_ref().and_then(Claim::as_str) != Some(expected_iss) {
        return Err(Error::UntrustedIssuer);
    }

    if rules.check_audience {
        let aud_ok = match &known.aud {
            Some(Claim::String(s)) => rules.audiences.iter().any(|a| a == s),
            Some(Claim::Strings(list)) => {
                list.iter().any(|s| rules.audiences.iter().any(|a| a == s))
            }
            _ => false,
        };
        let azp_ok = rules.accept_azp_as_audience
            && known
                .azp
                .as_ref()
                .and_then(Claim::as_str)
                .is_some_and(|azp| rules.audiences.iter().any(|a| a == azp));
        if !aud_ok && !azp_ok {
            return Err(Error::InvalidAudience);
        }
    }

    // Keycloak marks access tokens `"typ": "Bearer"`; refresh tokens say `Refresh`, ID tokens `ID`,
    // logout tokens `Logout` (org.keycloak.util.TokenUtil.TOKEN_TYPE_*).
    if let Some(typ) = &rules.expected_typ {
        if known.typ.as_ref().and_then(Claim::as_str) != Some(typ.as_str()) {
            return Err(Error::InvalidTokenType);
        }
    }

    match &known.sub {
        Some(Claim::String(s)) if !s.is_empty() => {}
        _ => return Err(Error::MissingClaim("sub".into())),
    }
    if let Some(i) = known.missing_required {
        let name = rules.required_claims.get(i).cloned().unwrap_or_default();
        return Err(Error::MissingClaim(name));
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
        let c = claims(json!({
            "groups": ["/g"], "org_id": "o", "other": {"x": [1, null]},
            "realm_access": {"roles": ["user"]}, "resource_access": {"api": {"roles": ["read"]}},
        }));
        let payload = serde_json::to_vec(&c).unwrap();
        let scanned = Known::scan(&payload, &[]).unwrap();
        let k = Known::from_map(&c, &[]);
        for (name, found, from_map) in [
            ("iss", &scanned.iss, &k.iss),
            ("sub", &scanned.sub, &k.sub),
            ("aud", &scanned.aud, &k.aud),
            ("exp", &scanned.exp, &k.exp),
            ("nbf", &scanned.nbf, &k.nbf),
            ("iat", &scanned.iat, &k.iat),
            ("typ", &scanned.typ, &k.typ),
            ("azp", &scanned.azp, &k.azp),
            ("sid", &scanned.sid, &k.sid),
            ("scope", &scanned.scope, &k.scope),
            ("email", &scanned.email, &k.email),
            (
                "preferred_username",
                &scanned.preferred_username,
                &k.preferred_username,
            ),
            ("groups", &scanned.groups, &k.groups),
            ("organization", &scanned.organization, &k.organization),
            ("org_id", &scanned.org_id, &k.org_id),
        ] {
            let expected = c.get(name).cloned().map(Claim::from_value);
            assert_eq!(*found, expected, "{name}");
            assert_eq!(*from_map, expected, "{name}");
        }
        assert_eq!(scanned.realm_roles, vec!["user"]);
        assert_eq!(k.realm_roles, scanned.realm_roles);
        assert_eq!(scanned.client_roles.len(), 1);
        assert_eq!(k.client_roles, scanned.client_roles);
        // The last of repeated keys wins, as in a map; escaped keys are still recognized.
        let dup = br#"{"sub": "first", "s\u0075b": "second", "x": 1, "x": null}"#;
        let req = ["x".to_owned(), "sub".to_owned()];
        let k = Known::scan(dup, &req).unwrap();
        assert_eq!(k.sub, Some(Claim::String("second".into())));
        assert_eq!(k.missing_required, Some(0));
        let map: Map<String, Value> = serde_json::from_slice(dup).unwrap();
        assert_eq!(Known::from_map(&map, &req).missing_required, Some(0));
    }

    #[test]
    fn scan_accepts_exactly_what_a_map_accepts() {
        let deep = |n: usize| format!(r#"{{"x":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
        // `n` levels of nesting in all, the role-list levels included.
        let deep_in = |claim: &str, n: usize| {
            let (open, close) = match claim {
                "realm_access" => (r#"{"roles":"#, "}"),
                _ => (r#"{"api":{"roles":"#, "}}"),
            };
            let lists = n - open.matches('{').count();
            format!(
                r#"{{"{claim}":{open}{}"r"{}{close}}}"#,
                "[".repeat(lists),
                "]".repeat(lists)
            )
        };
        for payload in [
            r#"{"a": 1e400}"#.to_owned(),
            r#"{"a": -1e400}"#.to_owned(),
            r#"{"a": [1, 2,]}"#.to_owned(),
            r#"{"a": "\ud800"}"#.to_owned(),
            r#"{"a": tru}"#.to_owned(),
            r#"{"a": 1} x"#.to_owned(),
            r#"[1]"#.to_owned(),
            r#""s""#.to_owned(),
            deep(126),
            deep(127),
            deep(200),
            r#"{"a": {"b": [1.5, -0, 1e10, "\u00e9", null, true, {}]}, "sub": "u"}"#.to_owned(),
            // Inside the role claims, read by their own visitors.
            r#"{"realm_access": {"roles": ["a", 1e400]}}"#.to_owned(),
            r#"{"realm_access": {"roles": ["a",]}}"#.to_owned(),
            r#"{"realm_access": {"roles": ["\ud800"]}}"#.to_owned(),
            r#"{"realm_access": {"r\ud800": 1}}"#.to_owned(),
            r#"{"realm_access": {"x": tru}}"#.to_owned(),
            r#"{"realm_access": [1, {"roles": fals}]}"#.to_owned(),
            r#"{"resource_access": {"api": {"roles": ["a" "b"]}}}"#.to_owned(),
            r#"{"resource_access": {"api": [-]}}"#.to_owned(),
            r#"{"resource_access": {"api": {"roles": ["a"]}, }}"#.to_owned(),
            r#"{"resource_access": [1, 2, {"a": 1e400}]}"#.to_owned(),
            deep_in("realm_access", 126),
            deep_in("realm_access", 127),
            deep_in("resource_access", 126),
            deep_in("resource_access", 127),
            r#"{"realm_access": {"roles": ["a", {"b": [null, 1.5]}, ["c"]]}, "resource_access": {"x": 1}}"#.to_owned(),
        ] {
            let as_map = serde_json::from_str::<Map<String, Value>>(&payload).is_ok();
            let scanned = Known::scan(payload.as_bytes(), &[]).is_ok();
            assert_eq!(scanned, as_map, "{payload}");
        }
        // Invalid UTF-8 inside a claim the guard does not read is refused too.
        assert!(Known::scan(b"{\"a\": \"\xff\"}", &[]).is_err());
        assert!(serde_json::from_slice::<Map<String, Value>>(b"{\"a\": \"\xff\"}").is_err());
    }

    /// What the scan and the map path read from the role claims of a raw payload; the two must
    /// agree.
    fn roles(payload: &str) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
        let scanned = Known::scan(payload.as_bytes(), &[]).unwrap();
        let map: Map<String, Value> = serde_json::from_str(payload).unwrap();
        let k = Known::from_map(&map, &[]);
        assert_eq!(scanned.realm_roles, k.realm_roles, "{payload}");
        assert_eq!(scanned.client_roles, k.client_roles, "{payload}");
        (scanned.realm_roles, scanned.client_roles)
    }

    fn clients(v: Value) -> BTreeMap<String, Vec<String>> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn role_claims_in_keycloak_shape() {
        let (realm, by_client) = roles(
            r#"{"realm_access": {"roles": ["offline_access", "admin"]},
                "resource_access": {"api": {"roles": ["read", "write"]},
                                    "account": {"roles": ["view-profile"], "x": {"roles": ["no"]}}}}"#,
        );
        assert_eq!(realm, vec!["offline_access", "admin"]);
        assert_eq!(
            by_client,
            clients(json!({"api": ["read", "write"], "account": ["view-profile"]}))
        );
        // Escaped keys and strings are decoded.
        let (realm, by_client) = roles(
            r#"{"realm_\u0061ccess": {"r\u006fles": ["\u00e9t\u00e9"]},
                "resource_access": {"\u0061pi": {"roles": ["a\"b"]}}}"#,
        );
        assert_eq!(realm, vec!["été"]);
        assert_eq!(by_client, clients(json!({"api": ["a\"b"]})));
    }

    #[test]
    fn role_claims_missing_or_of_other_types_give_no_roles() {
        for payload in [
            r#"{}"#,
            r#"{"realm_access": null, "resource_access": null}"#,
            r#"{"realm_access": {}, "resource_access": {}}"#,
            r#"{"realm_access": {"roles": "admin"}, "resource_access": []}"#,
            r#"{"realm_access": {"roles": {"0": "admin"}}, "resource_access": "api"}"#,
            r#"{"realm_access": {"roles": null}, "resource_access": 7}"#,
            r#"{"realm_access": ["admin"], "resource_access": true}"#,
            r#"{"realm_access": "admin", "resource_access": [{"api": {"roles": ["a"]}}]}"#,
            r#"{"realm_access": {"role": ["admin"], "Roles": ["admin"]}}"#,
            r#"{"other": {"realm_access": {"roles": ["admin"]}}}"#,
        ] {
            let (realm, by_client) = roles(payload);
            assert!(realm.is_empty(), "{payload}");
            assert!(by_client.is_empty(), "{payload}");
        }
        // A client whose entry is not an object, or has no list, is there with no roles.
        let (_, by_client) = roles(
            r#"{"resource_access": {"a": null, "b": 1, "c": ["r"], "d": {"roles": "r"}, "e": {}}}"#,
        );
        assert_eq!(
            by_client,
            clients(json!({"a": [], "b": [], "c": [], "d": [], "e": []}))
        );
        // Elements that are not strings are skipped.
        let (realm, by_client) = roles(
            r#"{"realm_access": {"roles": [1, "a", null, {"b": "c"}, ["d"], true, "e"]},
                "resource_access": {"api": {"roles": [["x"], "y"]}}}"#,
        );
        assert_eq!(realm, vec!["a", "e"]);
        assert_eq!(by_client, clients(json!({"api": ["y"]})));
    }

    #[test]
    fn role_claims_repeated_keys_keep_the_last() {
        let (realm, by_client) = roles(
            r#"{"realm_access": {"roles": ["first"]}, "realm_access": {"roles": ["second"]},
                "resource_access": {"api": {"roles": ["a"]}}, "resource_access": {"web": {}}}"#,
        );
        assert_eq!(realm, vec!["second"]);
        assert_eq!(by_client, clients(json!({"web": []})));
        let (realm, by_client) = roles(
            r#"{"realm_access": {"roles": ["first"], "roles": 5},
                "resource_access": {"api": {"roles": ["a"]}, "api": {"roles": ["b"], "roles": ["c"]}}}"#,
        );
        assert!(realm.is_empty());
        assert_eq!(by_client, clients(json!({"api": ["c"]})));
        let (realm, _) = roles(r#"{"realm_access": {"roles": ["a"]}, "realm_access": null}"#);
        assert!(realm.is_empty());
    }

    #[test]
    fn role_claims_count_as_required_claims() {
        let req = ["realm_access".to_owned(), "resource_access".to_owned()];
        for (payload, missing) in [
            (r#"{"realm_access": {}, "resource_access": 1}"#, None),
            (r#"{"realm_access": {"roles": []}}"#, Some(1)),
            (r#"{"realm_access": null, "resource_access": {}}"#, Some(0)),
            (
                r#"{"resource_access": {}, "realm_access": "x", "realm_access": null}"#,
                Some(0),
            ),
            (
                r#"{"realm_access": null, "realm_access": [], "resource_access": {}}"#,
                None,
            ),
        ] {
            let scanned = Known::scan(payload.as_bytes(), &req).unwrap();
            assert_eq!(scanned.missing_required, missing, "{payload}");
            let map: Map<String, Value> = serde_json::from_str(payload).unwrap();
            assert_eq!(
                Known::from_map(&map, &req).missing_required,
                missing,
                "{payload}"
            );
        }
    }
}
