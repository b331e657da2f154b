//! Organizations between Keycloak's JSON (`OrganizationRepresentation`) and the store's rows:
//! the checks Keycloak makes on the way in (name, alias, domains, redirect URL) and the shape
//! it answers with, shared by the Admin API, realm import and realm export. Plain functions.
//!
//! Mirrors `OrganizationsResource.create`, `OrganizationResource.update`,
//! `JpaOrganizationProvider.create`, `OrganizationAdapter.setAlias` / `setDomains`,
//! `Organizations.validateDomain`, `OrganizationsValidation.validateUrl`,
//! `ReservedCharValidator.validateNoSpace` and `ModelToRepresentation.toRepresentation`
//! (Keycloak 26).

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::store::{OrganizationDomain, OrganizationRow};

/// Why an organization representation is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgInputError {
    /// `ErrorResponse.error(msg, 400)`: `{"errorMessage": msg}`.
    Invalid(String),
    /// A JAX-RS `BadRequestException(msg)` (`ReservedCharException`): `{"error": msg}`.
    Reserved(String),
}

impl OrgInputError {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            OrgInputError::Invalid(m) | OrgInputError::Reserved(m) => m,
        }
    }
}

/// `OrganizationRepresentation` as a request or a realm file carries it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationRepresentation {
    /// `id` (kept by realm import; the Admin API mints its own).
    pub id: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `alias`.
    pub alias: Option<String>,
    /// `enabled` (true when absent, as the Java field's default).
    pub enabled: Option<bool>,
    /// `description`.
    pub description: Option<String>,
    /// `redirectUrl`.
    pub redirect_url: Option<String>,
    /// `attributes`: name to values (a single string is one value).
    #[serde(default, deserialize_with = "attributes")]
    pub attributes: Option<IndexMap<String, Vec<String>>>,
    /// `domains`.
    pub domains: Option<Vec<Option<DomainRepresentation>>>,
    /// `members` (realm files): `MemberRepresentation`s, by `username`.
    pub members: Option<Vec<Value>>,
    /// `identityProviders` (realm files): by `alias`.
    pub identity_providers: Option<Vec<Value>>,
}

/// `OrganizationDomainRepresentation`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainRepresentation {
    /// `name`.
    pub name: Option<String>,
    /// `verified`.
    pub verified: Option<bool>,
}

fn attributes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<IndexMap<String, Vec<String>>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Values {
        Many(Vec<String>),
        One(String),
    }
    let m: Option<IndexMap<String, Option<Values>>> = Option::deserialize(d)?;
    Ok(m.map(|m| {
        m.into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Some(Values::Many(v)) => v,
                    Some(Values::One(s)) => vec![s],
                    None => Vec::new(),
                };
                (k, v)
            })
            .collect()
    }))
}

/// `ReservedCharValidator.validateNoSpace`: no white space, none of RFC 3986's reserved
/// characters (and `\`).
pub fn validate_no_space(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_whitespace) {
        return Err("Empty Space not allowed.".into());
    }
    if let Some(c) = s.chars().find(|c| {
        matches!(
            c,
            ':' | '/'
                | '?'
                | '#'
                | '@'
                | '!'
                | '$'
                | '&'
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | ';'
                | '='
                | '['
                | ']'
                | '\\'
        )
    }) {
        return Err(format!("Character '{c}' not allowed."));
    }
    Ok(())
}

/// One label of a domain name (`EmailValidationUtil`'s domain part): letters or digits,
/// hyphens inside, at most 63 characters.
fn valid_label(l: &str) -> bool {
    let n = l.chars().count();
    (1..=63).contains(&n)
        && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// `Organizations.validateDomain`: a domain as the part after `@` of an e-mail address, or a
/// wildcard `*.` before one of at least two labels.
pub fn validate_domain(raw: &str) -> Result<(), String> {
    let invalid = || format!("Invalid domain format: {raw}");
    let domain = if raw.contains("*.") {
        if raw == "*." {
            return Err(format!("Wildcard domain must specify a base domain: {raw}"));
        }
        let Some(base) = raw.strip_prefix("*.") else {
            return Err("Wildcard domain must start with the wildcard".into());
        };
        if base.contains('*') {
            return Err(format!("Multiple wildcards are not allowed: {raw}"));
        }
        if base.split('.').count() < 2 {
            return Err(format!(
                "Domain must have at least 2 parts (e.g. 'example.com'): {base}"
            ));
        }
        base
    } else {
        raw
    };
    if domain.trim().is_empty() || domain.len() > 255 || !domain.split('.').all(valid_label) {
        return Err(invalid());
    }
    Ok(())
}

/// `OrganizationsValidation.validateUrl` (`BuiltinValidators.uriValidator`): empty or an
/// absolute `http`/`https` URL.
pub fn validate_redirect_url(url: Option<&str>) -> Result<(), String> {
    match url.filter(|u| !u.is_empty()) {
        None => Ok(()),
        Some(u) => match url::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.has_host() => Ok(()),
            _ => Err("Organization redirect URL is not valid.".into()),
        },
    }
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// The domains of a representation (`RepresentationToModel.toModel`: blank names skipped),
/// validated and lower-cased; a domain given twice is kept once.
fn domains(rep: &OrganizationRepresentation) -> Result<Vec<OrganizationDomain>, OrgInputError> {
    let mut out: Vec<OrganizationDomain> = Vec::new();
    for d in rep.domains.iter().flatten().flatten() {
        let Some(name) = d.name.as_deref().filter(|n| !n.trim().is_empty()) else {
            continue;
        };
        validate_domain(name).map_err(OrgInputError::Invalid)?;
        let name = name.to_lowercase();
        let verified = d.verified.unwrap_or(false);
        match out.iter_mut().find(|o| o.name == name) {
            Some(o) => o.verified = verified,
            None => out.push(OrganizationDomain { name, verified }),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A new organization from a create request (or a realm file), with id `id`: the name is
/// required, the alias defaults to it, and both are checked.
pub fn new_row(
    rep: &OrganizationRepresentation,
    id: String,
) -> Result<OrganizationRow, OrgInputError> {
    // `OrganizationsResource.create` checks an explicit alias before anything else.
    let explicit = rep.alias.as_deref().filter(|a| !a.trim().is_empty());
    if let Some(a) = explicit {
        validate_no_space(a).map_err(OrgInputError::Reserved)?;
    }
    validate_redirect_url(rep.redirect_url.as_deref()).map_err(OrgInputError::Invalid)?;
    let name = rep
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| OrgInputError::Invalid("Name can not be null".into()))?;
    let alias = match explicit {
        Some(a) => a.to_string(),
        None => {
            // Measured on Keycloak 26.7: the name's reserved character, named.
            validate_no_space(name).map_err(|m| {
                OrgInputError::Invalid(format!("Name cannot be used as alias: {m}"))
            })?;
            name.to_string()
        }
    };
    Ok(OrganizationRow {
        id,
        name: name.to_string(),
        alias,
        enabled: rep.enabled.unwrap_or(true),
        description: rep.description.clone(),
        redirect_url: rep.redirect_url.clone().filter(|u| !u.is_empty()),
        attributes: rep.attributes.clone().unwrap_or_default(),
        domains: domains(rep)?,
    })
}

/// An organization after an update request (`PUT /organizations/{id}`): every field is
/// replaced (absent ones cleared, `enabled` back to true) but `attributes`, which absent keeps
/// the stored ones (the second value says whether they are replaced). The alias cannot change
/// (absent, it is the name, which must then equal the stored alias).
pub fn updated_row(
    rep: &OrganizationRepresentation,
    current: &OrganizationRow,
) -> Result<(OrganizationRow, bool), OrgInputError> {
    validate_redirect_url(rep.redirect_url.as_deref()).map_err(OrgInputError::Invalid)?;
    let name = rep.name.clone().unwrap_or_default();
    let alias = if blank(rep.alias.as_deref()) {
        name.clone()
    } else {
        rep.alias.clone().unwrap_or_default()
    };
    if alias != current.alias {
        return Err(OrgInputError::Invalid("Cannot change the alias".into()));
    }
    if name.trim().is_empty() {
        return Err(OrgInputError::Invalid("Name can not be null".into()));
    }
    let replace_attributes = rep.attributes.is_some();
    Ok((
        OrganizationRow {
            id: current.id.clone(),
            name,
            alias,
            enabled: rep.enabled.unwrap_or(true),
            description: rep.description.clone(),
            redirect_url: rep.redirect_url.clone().filter(|u| !u.is_empty()),
            attributes: rep
                .attributes
                .clone()
                .unwrap_or_else(|| current.attributes.clone()),
            domains: domains(rep)?,
        },
        replace_attributes,
    ))
}

/// The representation Keycloak answers with (`ModelToRepresentation.toRepresentation`):
/// `id, name, alias, enabled, description?, redirectUrl?, attributes (not brief), domains?`.
pub fn to_json(o: &OrganizationRow, brief: bool) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(o.id));
    v.insert("name".into(), json!(o.name));
    v.insert("alias".into(), json!(o.alias));
    v.insert("enabled".into(), json!(o.enabled));
    if let Some(d) = &o.description {
        v.insert("description".into(), json!(d));
    }
    if let Some(u) = &o.redirect_url {
        v.insert("redirectUrl".into(), json!(u));
    }
    if !brief {
        v.insert("attributes".into(), json!(o.attributes));
    }
    if !o.domains.is_empty() {
        let domains: Vec<Value> = o
            .domains
            .iter()
            .map(|d| json!({"name": d.name, "verified": d.verified}))
            .collect();
        v.insert("domains".into(), Value::Array(domains));
    }
    Value::Object(v)
}

/// An identity provider inside an exported organization, as Keycloak 26 writes it: a new
/// `IdentityProviderRepresentation` with the alias and the Java defaults (checked against a
/// Keycloak 26.1.2 export).
fn idp_reference(alias: &str) -> Value {
    json!({
        "alias": alias,
        "enabled": true,
        "updateProfileFirstLoginMode": "on",
        "trustEmail": false,
        "storeToken": false,
        "addReadTokenRoleOnCreate": false,
        "authenticateByDefault": false,
        "linkOnly": false,
        "hideOnLogin": false,
        "config": {}
    })
}

/// Puts a realm's organizations into its exported representation in Keycloak's shape
/// (`ExportUtils`): `organizations` with their `identityProviders` (by alias) and, when
/// `members` is given (users are exported too), their `members` by user name.
pub fn export_into(
    realm: &mut Value,
    orgs: &[OrganizationRow],
    links: &[(String, String)],
    members: Option<&[(String, String, crate::store::MembershipType)]>,
) {
    let Some(obj) = realm.as_object_mut() else {
        return;
    };
    if orgs.is_empty() {
        return;
    }
    let list: Vec<Value> = orgs
        .iter()
        .map(|o| {
            let mut v = to_json(o, false);
            let idps: Vec<Value> = links
                .iter()
                .filter(|(_, org)| *org == o.id)
                .map(|(alias, _)| idp_reference(alias))
                .collect();
            if let Some(m) = v.as_object_mut() {
                if !idps.is_empty() {
                    m.insert("identityProviders".into(), Value::Array(idps));
                }
                if let Some(members) = members {
                    let mine: Vec<Value> = members
                        .iter()
                        .filter(|(org, _, _)| *org == o.id)
                        .map(|(_, u, k)| json!({"username": u, "membershipType": k.as_str()}))
                        .collect();
                    m.insert("members".into(), Value::Array(mine));
                }
            }
            v
        })
        .collect();
    obj.insert("organizations".into(), Value::Array(list));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn rep(v: Value) -> OrganizationRepresentation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_alias_defaults_to_the_name_and_both_are_checked() {
        let r = new_row(&rep(json!({"name": "UPPER.dot"})), "1".into()).unwrap();
        assert_eq!((r.alias.as_str(), r.enabled), ("UPPER.dot", true));
        assert_eq!(
            new_row(&rep(json!({"name": "with/slash"})), "1".into()),
            Err(OrgInputError::Invalid(
                "Name cannot be used as alias: Character '/' not allowed.".into()
            ))
        );
        assert_eq!(
            new_row(&rep(json!({"name": "a b"})), "1".into()),
            Err(OrgInputError::Invalid(
                "Name cannot be used as alias: Empty Space not allowed.".into()
            ))
        );
        assert_eq!(
            new_row(&rep(json!({"name": "ok", "alias": "a:b"})), "1".into()),
            Err(OrgInputError::Reserved("Character ':' not allowed.".into()))
        );
        for body in [json!({}), json!({"name": ""}), json!({"name": "  "})] {
            assert_eq!(
                new_row(&rep(body), "1".into()),
                Err(OrgInputError::Invalid("Name can not be null".into()))
            );
        }
        // A name with a space is fine when an alias is given.
        let r = new_row(
            &rep(json!({"name": "Acme Inc", "alias": "acme"})),
            "1".into(),
        )
        .unwrap();
        assert_eq!(r.alias, "acme");
    }

    #[test]
    fn domains_are_checked_lower_cased_and_blank_ones_skipped() {
        let r = new_row(
            &rep(
                json!({"name": "o", "domains": [{"name": "B.example"}, {"name": ""}, null,
                {"name": "a.example", "verified": true}, {"name": "b.example", "verified": true}]}),
            ),
            "1".into(),
        )
        .unwrap();
        let names: Vec<(&str, bool)> = r
            .domains
            .iter()
            .map(|d| (d.name.as_str(), d.verified))
            .collect();
        assert_eq!(names, [("a.example", true), ("b.example", true)]);
        for bad in [
            "exa mple.com",
            "-a.com",
            "a..com",
            "a_b.com",
            "*.com",
            "a.*.com",
        ] {
            assert!(validate_domain(bad).is_err(), "{bad}");
        }
        for good in [
            "localhost",
            "org1.com",
            "xn--bcher-kva.example",
            "*.acme.com",
            "bücher.de",
        ] {
            assert!(validate_domain(good).is_ok(), "{good}");
        }
        assert_eq!(
            validate_domain("a b.com"),
            Err("Invalid domain format: a b.com".into())
        );
    }

    #[test]
    fn an_update_replaces_but_the_alias_and_absent_attributes() {
        let mut current = new_row(
            &rep(json!({"name": "Acme", "alias": "acme", "description": "d",
                "attributes": {"k": ["v"]}, "domains": [{"name": "acme.com"}]})),
            "1".into(),
        )
        .unwrap();
        current.enabled = false;
        let (next, replace) =
            updated_row(&rep(json!({"name": "Acme 2", "alias": "acme"})), &current).unwrap();
        assert!(!replace);
        assert_eq!(next.attributes, current.attributes);
        assert_eq!((next.enabled, next.description.as_deref()), (true, None));
        assert!(next.domains.is_empty());
        assert_eq!(
            updated_row(&rep(json!({"name": "Acme 2"})), &current),
            Err(OrgInputError::Invalid("Cannot change the alias".into()))
        );
        assert_eq!(
            updated_row(&rep(json!({"name": "Acme", "alias": "other"})), &current),
            Err(OrgInputError::Invalid("Cannot change the alias".into()))
        );
        let (next, replace) = updated_row(
            &rep(json!({"name": "x", "alias": "acme", "attributes": {}})),
            &current,
        )
        .unwrap();
        assert!(replace && next.attributes.is_empty());
        assert_eq!(
            updated_row(
                &rep(json!({"name": "x", "alias": "acme", "redirectUrl": "not a url"})),
                &current
            ),
            Err(OrgInputError::Invalid(
                "Organization redirect URL is not valid.".into()
            ))
        );
    }

    #[test]
    fn the_answer_has_keycloaks_shape() {
        let r = new_row(
            &rep(json!({"name": "o", "attributes": {"k": "v"}, "domains": [{"name": "o.com"}]})),
            "1".into(),
        )
        .unwrap();
        assert_eq!(
            to_json(&r, false),
            json!({"id": "1", "name": "o", "alias": "o", "enabled": true, "attributes": {"k": ["v"]},
                   "domains": [{"name": "o.com", "verified": false}]})
        );
        let mut bare = r.clone();
        bare.domains.clear();
        let brief = to_json(&bare, true);
        assert!(brief.get("attributes").is_none() && brief.get("domains").is_none());
    }
}
