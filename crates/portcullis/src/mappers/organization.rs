//! `oidc-organization-membership-mapper`: the organizations the token's scope yields.

use serde_json::{json, Map, Value};

use super::claims::{ClaimName, JsonType};
use super::compile::Config;
use super::{Mapper, Rule};
use crate::model::Organization;

/// The configuration of `oidc-organization-membership-mapper`.
#[derive(Debug, Clone)]
pub(super) struct Membership {
    /// `claim.name`: default `organization`; an empty one writes nothing.
    path: ClaimName,
    /// `multivalued` as written: `None` when absent, else whether it is `true`.
    multivalued: Option<bool>,
    /// `jsonType.label`.
    json_type: JsonType,
    /// `addOrganizationId` / `addOrganizationAttributes` (case-insensitive `true`).
    add_id: bool,
    add_attributes: bool,
}

impl Membership {
    pub(super) fn of(c: Config<'_>) -> Self {
        Membership {
            path: ClaimName::of(c.get("claim.name").unwrap_or("organization")),
            multivalued: c.get("multivalued").map(|v| v == "true"),
            json_type: c.json_type(),
            add_id: c.truthy("addOrganizationId"),
            add_attributes: c.truthy("addOrganizationAttributes"),
        }
    }

    pub(super) fn apply(&self, orgs: &[&Organization], claims: &mut Map<String, Value>) {
        if let Some(v) = self.claim(orgs) {
            self.path.set(claims, v);
        }
    }

    /// See [`organization_claim`].
    fn claim(&self, orgs: &[&Organization]) -> Option<Value> {
        let first = orgs.first()?;
        let multivalued = self.multivalued == Some(true);
        let add_id = multivalued && self.add_id;
        let add_attributes = multivalued && self.add_attributes;
        if self.multivalued == Some(false) {
            return Some(json!(first.alias));
        }
        if add_id || add_attributes || self.json_type == JsonType::Json {
            let mut out = Map::new();
            for o in orgs {
                let mut entry = Map::new();
                if add_id {
                    entry.insert("id".into(), json!(o.id));
                }
                if add_attributes {
                    // Attributes go in after the id, as Keycloak's `putAll` does.
                    entry.extend(o.attributes.clone());
                }
                out.insert(o.alias.clone(), Value::Object(entry));
            }
            return Some(Value::Object(out));
        }
        Some(Value::Array(orgs.iter().map(|o| json!(o.alias)).collect()))
    }
}

/// The value of `oidc-organization-membership-mapper` for `orgs` (Keycloak 26
/// `OrganizationMembershipMapper.getEffectiveModel` + `resolveValue`):
/// - `multivalued` false: the first organization's alias, a string;
/// - otherwise a list of aliases, or with `jsonType.label` `JSON` an object keyed by alias whose
///   values hold `id` (`addOrganizationId`) and the organization's attributes as lists
///   (`addOrganizationAttributes`); either flag forces the object form.
///
/// Keycloak reads `multivalued` before defaulting it to true, so a mapper without the key
/// ignores both flags yet still writes a list. A JSON type on a single value (which Keycloak
/// cannot convert and fails the request with) writes the alias.
///
/// `None` without an organization, or when `mapper` is of another kind.
pub fn organization_claim(mapper: &Mapper, orgs: &[&Organization]) -> Option<Value> {
    match &mapper.rule {
        Rule::Organization(m) => m.claim(orgs),
        _ => None,
    }
}
