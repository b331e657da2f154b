//! The `acr` and `amr` claims: what the login performed, as Keycloak's `AcrProtocolMapper`
//! (with `AcrUtils`) and `AmrProtocolMapper` (with `AmrUtils`) write them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::model::flows::{Flows, Step};
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::ClientRepresentation;

/// Keycloak's user session note `AUTHENTICATORS_COMPLETED`: a JSON object of the executions
/// that completed in the login (execution id -> time in seconds), as a string.
pub const AUTHENTICATORS_COMPLETED: &str = "AUTHENTICATORS_COMPLETED";

/// Keycloak's `Constants.AUTHENTICATION_EXECUTION_REFERENCE_VALUE`.
const REFERENCE_VALUE: &str = "default.reference.value";
/// Keycloak's `Constants.AUTHENTICATION_EXECUTION_REFERENCE_MAX_AGE`.
const REFERENCE_MAX_AGE: &str = "default.reference.maxAge";
/// Keycloak's `Constants.ACR_LOA_MAP` (client and realm attribute).
pub const ACR_LOA_MAP: &str = "acr.loa.map";
/// Keycloak's `Constants.MINIMUM_ACR_VALUE` (client attribute).
pub const MINIMUM_ACR_VALUE: &str = "minimum.acr.value";
/// Keycloak's user session note `Constants.LOA_MAP`: the levels authenticated in the session
/// (a JSON object level -> time in seconds, as a string).
pub const LOA_MAP_NOTE: &str = "loa-map";

/// An `acr.loa.map` attribute value (a JSON object of acr -> level, as a string); an invalid
/// one is no map, as Keycloak reads it (it logs a warning).
fn parse_map(v: Option<&Value>) -> BTreeMap<String, i64> {
    let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return BTreeMap::new();
    };
    serde_json::from_str::<Map<String, Value>>(s)
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| {
                    let level = v
                        .as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))?;
                    Some((k, level))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `AcrUtils.getAcrLoaMap(client)`: the client's `acr.loa.map`, else the realm's.
pub fn acr_loa_map(snap: &RealmSnapshot, client: &ClientRepresentation) -> BTreeMap<String, i64> {
    let own = parse_map(client.attributes.as_ref().and_then(|a| a.get(ACR_LOA_MAP)));
    if !own.is_empty() {
        return own;
    }
    let realm: Option<IndexMap<String, Value>> = snap
        .rep
        .extra
        .get("attributes")
        .and_then(|a| serde_json::from_value(a.clone()).ok());
    parse_map(realm.as_ref().and_then(|a| a.get(ACR_LOA_MAP)))
}

/// The `acr` values of the `claims` parameter's `id_token.acr` (`value` or `values`), only
/// the essential ones when `essential_only` (`AcrUtils.getAcrValues`).
pub fn claims_acr(claims: Option<&str>, essential_only: bool) -> Vec<String> {
    let Some(acr) = claims
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|c| c.get("id_token")?.get("acr").cloned())
    else {
        return Vec::new();
    };
    if essential_only && acr.get("essential").and_then(Value::as_bool) != Some(true) {
        return Vec::new();
    }
    if let Some(values) = acr.get("values").and_then(Value::as_array) {
        return values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
    }
    acr.get("value")
        .and_then(Value::as_str)
        .map(|v| vec![v.to_string()])
        .unwrap_or_default()
}

/// The values the client asked for: the `acr_values` parameter and the `claims` parameter's
/// `acr`, else the client's `default.acr.values`, raised to the client's `minimum.acr.value`
/// (`AcrUtils.getAcrValues`).
pub fn requested_acr(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    claims: Option<&str>,
    acr_values: Option<&str>,
) -> Vec<String> {
    let values = asked_acr(client, claims, acr_values);
    enforce_minimum(values, client, &acr_loa_map(snap, client))
}

/// The level of an acr value: its `acr.loa.map` entry, or the value itself as a number.
pub fn level_of(acr: &str, map: &BTreeMap<String, i64>) -> Option<i64> {
    map.get(acr).copied().or_else(|| acr.parse().ok())
}

/// `AcrUtils.enforceMinimumAcr`: with a client `minimum.acr.value`, the values below it are
/// dropped, and the minimum stands for the request when none is left. A value of no known
/// level cannot be compared and is dropped too.
pub fn enforce_minimum(
    values: Vec<String>,
    client: &ClientRepresentation,
    map: &BTreeMap<String, i64>,
) -> Vec<String> {
    let Some(min) = client
        .attributes
        .as_ref()
        .and_then(|a| a.get(MINIMUM_ACR_VALUE))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
    else {
        return values;
    };
    let Some(min_level) = level_of(min, map) else {
        return values;
    };
    let kept: Vec<String> = values
        .into_iter()
        .filter(|v| level_of(v, map).is_some_and(|l| l >= min_level))
        .collect();
    if kept.is_empty() {
        vec![min.to_string()]
    } else {
        kept
    }
}

/// Why an authorization request's acr cannot be served: Keycloak's error page
/// `Invalid parameter: claims` (`AuthorizationEndpoint.updateAuthenticationSession`), with the
/// event's `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAcr;

/// The level of authentication an authorization request asks for, and whether it is forced
/// (`AuthorizationEndpoint.updateAuthenticationSession`): the essential `acr` values of
/// `claims` force their lowest level, and one that is not mapped nor a number, or that the
/// client's `minimum.acr.value` would change, is an error; otherwise the lowest level of the
/// requested values (`acr_values`, `claims`, the client's defaults, raised to its minimum),
/// an unknown value counting as level `0`. `None`: nothing asked.
pub fn requested_level(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    claims: Option<&str>,
    acr_values: Option<&str>,
) -> Result<(Option<i64>, bool), InvalidAcr> {
    let map = acr_loa_map(snap, client);
    let essential = claims_acr(claims, true);
    let (values, force) = if essential.is_empty() {
        (requested_acr(snap, client, claims, acr_values), false)
    } else {
        if enforce_minimum(essential.clone(), client, &map) != essential {
            return Err(InvalidAcr);
        }
        (essential, true)
    };
    let mut levels = Vec::with_capacity(values.len());
    for v in &values {
        match level_of(v, &map) {
            Some(l) => levels.push(l),
            None if force => return Err(InvalidAcr),
            None => levels.push(0),
        }
    }
    Ok((levels.into_iter().min(), force))
}

/// The values of the request itself, else the client's `default.acr.values`.
fn asked_acr(
    client: &ClientRepresentation,
    claims: Option<&str>,
    acr_values: Option<&str>,
) -> Vec<String> {
    let mut out: Vec<String> = acr_values
        .map(|a| {
            a.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    out.extend(claims_acr(claims, false));
    if out.is_empty() {
        if let Some(d) = client
            .attributes
            .as_ref()
            .and_then(|a| a.get("default.acr.values"))
            .and_then(Value::as_str)
        {
            out = d
                .split("##")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
    }
    out
}

/// `AcrUtils.mapLoaToAcr`: of `values`, the one of the highest level at most `loa` (a value
/// the map lacks may be a level itself); none when the map or the values are empty.
pub fn map_loa_to_acr<'v>(
    loa: i64,
    map: &BTreeMap<String, i64>,
    values: impl IntoIterator<Item = &'v String>,
) -> Option<String> {
    if map.is_empty() {
        return None;
    }
    let mut best: Option<(&String, i64)> = None;
    for v in values {
        let Some(level) = map.get(v).copied().or_else(|| v.parse().ok()) else {
            continue;
        };
        if loa >= level && best.is_none_or(|(_, b)| level > b) {
            best = Some((v, level));
        }
    }
    best.map(|(v, _)| v.clone())
}

/// The login's `acr` for a client (`AcrProtocolMapper.getAcr`): without a level of
/// authentication (`loa`, from `conditional-level-of-authentication`), `0` after a login the
/// SSO cookie alone answered and `1` otherwise; then mapped to an acr value through the
/// `acr.loa.map`: the essential values of `claims` first, then the requested ones, then the
/// map's own; else the level as a number.
pub fn acr(
    snap: &RealmSnapshot,
    client: &ClientRepresentation,
    loa: Option<i64>,
    sso: bool,
    claims: Option<&str>,
    acr_values: Option<&str>,
) -> String {
    let loa = match loa {
        Some(l) if l >= 0 => l,
        _ => i64::from(!sso),
    };
    let map = acr_loa_map(snap, client);
    map_loa_to_acr(loa, &map, &claims_acr(claims, true))
        .or_else(|| map_loa_to_acr(loa, &map, &requested_acr(snap, client, claims, acr_values)))
        .or_else(|| map_loa_to_acr(loa, &map, map.keys()))
        .unwrap_or_else(|| loa.to_string())
}

/// The `amr` values (`AmrUtils.getAuthenticationExecutionReferences`): for each execution in
/// the session note [`AUTHENTICATORS_COMPLETED`], its authenticator config's
/// `default.reference.value`, while `completed + default.reference.maxAge` (absent: 0) is not
/// before `now`.
pub fn amr(flows: &Flows, notes: &Map<String, Value>, now: i64) -> Vec<String> {
    let Some(done) = notes
        .get(AUTHENTICATORS_COMPLETED)
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<BTreeMap<String, i64>>(s).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (execution, at) in done {
        let Some(a) = flows
            .flows
            .iter()
            .flat_map(|f| f.executions.iter())
            .find(|e| e.id == execution)
            .and_then(|e| match &e.step {
                Step::Authenticator(a) => Some(a),
                Step::Flow(_) => None,
            })
        else {
            continue;
        };
        let Some(value) = a.setting(REFERENCE_VALUE).filter(|v| !v.is_empty()) else {
            continue;
        };
        let Ok(max_age) = a.setting(REFERENCE_MAX_AGE).unwrap_or("0").parse::<i64>() else {
            continue;
        };
        if at + max_age >= now {
            out.push(value.to_string());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn loa_maps_to_the_highest_value_reached() {
        let map: BTreeMap<String, i64> = [("silver".to_string(), 1), ("gold".to_string(), 2)]
            .into_iter()
            .collect();
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            map_loa_to_acr(2, &map, &want(&["silver", "gold"])).as_deref(),
            Some("gold")
        );
        assert_eq!(
            map_loa_to_acr(1, &map, &want(&["gold", "silver"])).as_deref(),
            Some("silver")
        );
        assert_eq!(map_loa_to_acr(0, &map, &want(&["gold", "silver"])), None);
        assert_eq!(
            map_loa_to_acr(3, &map, &want(&["3"])).as_deref(),
            Some("3"),
            "a number is a level of its own"
        );
        assert_eq!(map_loa_to_acr(2, &BTreeMap::new(), &want(&["1"])), None);
    }

    #[test]
    fn claims_parameter_acr() {
        let c = r#"{"id_token":{"acr":{"essential":true,"values":["gold","silver"]}}}"#;
        assert_eq!(claims_acr(Some(c), true), vec!["gold", "silver"]);
        let c = r#"{"id_token":{"acr":{"value":"gold"}}}"#;
        assert!(claims_acr(Some(c), true).is_empty());
        assert_eq!(claims_acr(Some(c), false), vec!["gold"]);
        assert!(claims_acr(Some("not json"), false).is_empty());
    }
}
