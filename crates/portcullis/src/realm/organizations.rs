//! Keycloak 26 organizations as tokens see them: the realm's organizations (rows of the
//! store, read with the snapshot) and its `organizationsEnabled` switch, indexed by alias once
//! per snapshot, and the organization client scope with its dynamic forms `organization`,
//! `organization:<alias>` and `organization:*`. A user's memberships are not part of the
//! snapshot: the token endpoint reads them from the store ([`Memberships`]) when a request
//! carries an organization scope.
//!
//! Mirrors `OrganizationScope` (which organizations each form yields),
//! `TokenManager.getRequestedClientScopes` / `isValidScope` (which forms a request may carry
//! and when a form is granted) and `OrganizationAdapter.isEnabled` (an organization counts
//! only while it and the realm's organizations are enabled), Keycloak 26.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::representation::{ClientRepresentation, ClientScopeRepresentation, RealmRepresentation};
use crate::store::OrganizationRow;

/// The mapper type that makes a client scope an organization scope.
pub const MEMBERSHIP_MAPPER: &str = "oidc-organization-membership-mapper";

/// `OIDCLoginProtocolFactory.ORGANIZATION`: requests naming more than one scope that starts
/// with it are refused (`TokenManager.isValidScope`).
const ORGANIZATION: &str = "organization";

pub use crate::model::Organization;

/// The ids of the organizations a user is a member of (read from the store per token).
pub type Memberships = [String];

/// What an organization scope asks for (`OrganizationScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgScope {
    /// `organization` (`ANY`): the user's organization when there is exactly one.
    Any,
    /// `organization:*` (`ALL`): every organization of the user.
    All,
    /// `organization:<alias>` (`SINGLE`): that organization, for its members; the index of
    /// the organization in the realm's list.
    Single(usize),
}

/// The dynamic forms of one organization scope, built on first use and kept for the life of
/// the snapshot (Keycloak's `ClientScopeDecorator`: the scope under the requested name).
#[derive(Debug, Default)]
struct Forms {
    /// Index of the scope in the realm's `clientScopes`.
    base: usize,
    /// `<scope>:` (an empty value is `ANY`, as in Keycloak).
    any: OnceLock<Box<ClientScopeRepresentation>>,
    /// `<scope>:*`.
    all: OnceLock<Box<ClientScopeRepresentation>>,
    /// `<scope>:<alias>`, by organization index.
    single: Vec<OnceLock<Box<ClientScopeRepresentation>>>,
}

/// The realm's organizations and organization scopes.
#[derive(Debug, Default)]
pub struct Organizations {
    /// The realm's `organizationsEnabled`.
    realm_enabled: bool,
    list: Vec<Organization>,
    by_alias: HashMap<String, usize>,
    /// Client scopes carrying the membership mapper, by name.
    scopes: HashMap<String, Forms>,
}

fn attributes_of(o: &OrganizationRow) -> Map<String, Value> {
    o.attributes
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::Array(v.iter().cloned().map(Value::String).collect()),
            )
        })
        .collect()
}

fn has_membership_mapper(s: &ClientScopeRepresentation) -> bool {
    s.protocol_mappers
        .iter()
        .flatten()
        .any(|m| m.get("protocolMapper").and_then(Value::as_str) == Some(MEMBERSHIP_MAPPER))
}

fn attached(client: &ClientRepresentation, name: &str) -> bool {
    client
        .default_client_scopes
        .iter()
        .chain(client.optional_client_scopes.iter())
        .flatten()
        .any(|n| n == name)
}

impl Organizations {
    /// Indexes the realm's organizations (the store's rows, in name order) and the realm's
    /// organization scopes.
    pub fn build(rep: &RealmRepresentation, orgs: &[OrganizationRow]) -> Self {
        let realm_enabled = rep.organizations_enabled.unwrap_or(false);
        let mut ix = Organizations {
            realm_enabled,
            ..Organizations::default()
        };
        for o in orgs {
            if ix.by_alias.contains_key(&o.alias) {
                continue;
            }
            let i = ix.list.len();
            ix.list.push(Organization {
                id: o.id.clone(),
                alias: o.alias.clone(),
                name: o.name.clone(),
                domains: o.domains.iter().map(|d| d.name.to_lowercase()).collect(),
                enabled: realm_enabled && o.enabled,
                attributes: attributes_of(o),
            });
            ix.by_alias.insert(o.alias.clone(), i);
        }
        for (base, s) in rep.client_scopes.iter().flatten().enumerate() {
            let Some(name) = s.name.as_deref() else {
                continue;
            };
            if s.protocol.as_deref().unwrap_or("openid-connect") == "openid-connect"
                && has_membership_mapper(s)
            {
                ix.scopes.insert(
                    name.to_string(),
                    Forms {
                        base,
                        single: (0..ix.list.len()).map(|_| OnceLock::new()).collect(),
                        ..Forms::default()
                    },
                );
            }
        }
        ix
    }

    /// The organizations, in the realm's order.
    pub fn list(&self) -> &[Organization] {
        &self.list
    }

    /// `Organizations.isEnabledAndOrganizationsPresent`: the realm enables organizations and
    /// has some (the organization login step runs only then).
    pub fn present(&self) -> bool {
        self.realm_enabled && !self.list.is_empty()
    }

    /// An organization by alias.
    pub fn by_alias(&self, alias: &str) -> Option<&Organization> {
        self.list.get(*self.by_alias.get(alias)?)
    }

    /// An organization by id.
    pub fn by_id(&self, id: &str) -> Option<&Organization> {
        self.list.iter().find(|o| o.id == id)
    }

    /// Whether `name` is a client scope with the membership mapper.
    pub fn is_org_scope(&self, name: &str) -> bool {
        self.scopes.contains_key(name)
    }

    /// The enabled organizations among `memberships`, in the realm's order.
    pub fn of_member<'a>(
        &'a self,
        memberships: &'a Memberships,
    ) -> impl Iterator<Item = (usize, &'a Organization)> + 'a {
        self.list
            .iter()
            .enumerate()
            .filter(move |(_, o)| o.enabled && memberships.contains(&o.id))
    }

    /// Whether the realm has organizations that a token could carry (enabled ones): the
    /// token endpoint reads the user's memberships only then.
    pub fn any_enabled(&self) -> bool {
        self.list.iter().any(|o| o.enabled)
    }

    /// The organization scope `name` stands for: the scope itself (`ANY`) or one of its
    /// dynamic forms (`OrganizationScope.valueOfScope`: the value after the last `:`). An
    /// alias that names no organization is not a form.
    pub fn parse(&self, name: &str) -> Option<OrgScope> {
        if self.scopes.contains_key(name) {
            return Some(OrgScope::Any);
        }
        let (base, value) = name.rsplit_once(':')?;
        if !self.scopes.contains_key(base) {
            return None;
        }
        match value {
            "*" => Some(OrgScope::All),
            "" => Some(OrgScope::Any),
            alias => self.by_alias.get(alias).map(|i| OrgScope::Single(*i)),
        }
    }

    /// Whether `name` is a dynamic form (`organization:<value>`) rather than the scope itself.
    pub fn is_dynamic(&self, name: &str) -> bool {
        !self.scopes.contains_key(name) && self.parse(name).is_some()
    }

    /// A requested `<scope>:<value>` as a client scope of `client`: the organization scope
    /// (attached to the client as default or optional scope) under the requested name. `None`
    /// when it is no such form, or names an unknown or disabled organization (then the
    /// request is `invalid_scope`, as `TokenManager.isValidScope` decides without a user).
    pub fn dynamic_scope<'a>(
        &'a self,
        rep: &'a RealmRepresentation,
        client: &ClientRepresentation,
        requested: &str,
    ) -> Option<&'a ClientScopeRepresentation> {
        let (base, value) = requested.rsplit_once(':')?;
        let forms = self.scopes.get(base)?;
        if !attached(client, base) {
            return None;
        }
        let slot = match value {
            "*" => &forms.all,
            "" => &forms.any,
            alias => {
                let i = *self.by_alias.get(alias)?;
                if !self.list.get(i)?.enabled {
                    return None;
                }
                forms.single.get(i)?
            }
        };
        let original = rep.client_scopes.as_ref()?.get(forms.base)?;
        let form = slot.get_or_init(|| {
            let mut s = original.clone();
            s.name = Some(requested.to_string());
            Box::new(s)
        });
        Some(form)
    }

    /// The name of the organization scope a dynamic form stands for (`organization` for
    /// `organization:acme`), so that the form shares the scope's role scope mappings.
    pub fn base_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        let (base, _) = name.rsplit_once(':')?;
        self.scopes.contains_key(base).then_some(base)
    }

    /// A default client scope the request replaces by one of its dynamic forms: Keycloak
    /// leaves out a default organization scope when `scope` contains `<its name>:`.
    pub fn replaced_by_dynamic(&self, scope_param: &str, name: &str) -> bool {
        self.scopes.contains_key(name) && scope_param.contains(&format!("{name}:"))
    }

    /// `TokenManager.isValidScope`: a request with more than one scope starting with
    /// `organization` is refused.
    pub fn too_many_requested(scope_param: &str) -> bool {
        scope_param
            .split(' ')
            .filter(|s| s.starts_with(ORGANIZATION))
            .collect::<HashSet<_>>()
            .len()
            > 1
    }

    /// The organization scope in effect among `scopes` (the first one; a request carries one).
    pub fn requested(&self, scopes: &[&ClientScopeRepresentation]) -> Option<OrgScope> {
        scopes
            .iter()
            .filter_map(|s| s.name.as_deref())
            .find_map(|n| self.parse(n))
    }

    /// The organizations `kind` yields for a member of `memberships`
    /// (`OrganizationScope.resolveOrganizations` without a selection made at login): `ANY` the
    /// only one, `ALL` every one, `SINGLE` the named one for its members; enabled
    /// organizations only.
    pub fn resolve<'a>(
        &'a self,
        memberships: &'a Memberships,
        kind: OrgScope,
    ) -> Vec<&'a Organization> {
        match kind {
            OrgScope::Any => {
                let mine: Vec<&Organization> =
                    self.of_member(memberships).map(|(_, o)| o).collect();
                if mine.len() == 1 {
                    mine
                } else {
                    Vec::new()
                }
            }
            OrgScope::All => self.of_member(memberships).map(|(_, o)| o).collect(),
            OrgScope::Single(i) => self
                .of_member(memberships)
                .filter(|(j, _)| *j == i)
                .map(|(_, o)| o)
                .collect(),
        }
    }

    /// The organizations the token of a member of `memberships` carries with `scopes`.
    pub fn for_token<'a>(
        &'a self,
        memberships: &'a Memberships,
        scopes: &[&ClientScopeRepresentation],
    ) -> Vec<&'a Organization> {
        match self.requested(scopes) {
            Some(kind) => self.resolve(memberships, kind),
            None => Vec::new(),
        }
    }

    /// The scopes granted to a member of `memberships`: a dynamic form that yields no organization for the
    /// user is dropped (`TokenManager.tryResolveDynamicClientScope`), so it is neither in the
    /// token's `scope` nor maps a claim. The organization scope requested by its own name
    /// stays, with or without a claim.
    pub fn granted<'a>(
        &self,
        memberships: &Memberships,
        scopes: &[&'a ClientScopeRepresentation],
    ) -> Vec<&'a ClientScopeRepresentation> {
        scopes
            .iter()
            .copied()
            .filter(|s| {
                let name = s.name.as_deref().unwrap_or_default();
                if !self.is_dynamic(name) {
                    return true;
                }
                self.parse(name)
                    .is_some_and(|kind| !self.resolve(memberships, kind).is_empty())
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn realm(enabled: bool) -> RealmRepresentation {
        serde_json::from_value(json!({
            "organizationsEnabled": enabled,
            "clientScopes": [
                {"name": "profile", "protocol": "openid-connect"},
                {"name": "organization", "protocol": "openid-connect", "protocolMappers": [
                    {"name": "organization", "protocol": "openid-connect", "protocolMapper": MEMBERSHIP_MAPPER, "config": {}}]}
            ],
            "clients": [{"clientId": "app", "defaultClientScopes": ["profile"], "optionalClientScopes": ["organization"]},
                        {"clientId": "plain", "defaultClientScopes": ["profile"]}]
        }))
        .unwrap()
    }

    fn org(id: &str, alias: &str, enabled: bool) -> OrganizationRow {
        OrganizationRow {
            id: id.into(),
            name: alias.into(),
            alias: alias.into(),
            enabled,
            ..Default::default()
        }
    }

    /// acme (1, with attributes), globex (2), off (3, disabled).
    fn orgs() -> Vec<OrganizationRow> {
        let mut acme = org("1", "acme", true);
        acme.attributes.insert("tier".into(), vec!["gold".into()]);
        vec![acme, org("2", "globex", true), org("3", "off", false)]
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn aliases(v: Vec<&Organization>) -> Vec<&str> {
        v.into_iter().map(|o| o.alias.as_str()).collect()
    }

    #[test]
    fn members_and_scope_forms_resolve_like_keycloak() {
        let rep = realm(true);
        let ix = Organizations::build(&rep, &orgs());
        assert_eq!(ix.list()[0].attributes["tier"], json!(["gold"]));
        assert!(ix.any_enabled());
        let acme = OrgScope::Single(0);
        assert_eq!(ix.parse("organization"), Some(OrgScope::Any));
        assert_eq!(ix.parse("organization:*"), Some(OrgScope::All));
        assert_eq!(ix.parse("organization:acme"), Some(acme));
        assert_eq!(ix.parse("organization:nope"), None);
        assert_eq!(ix.parse("profile:acme"), None);
        let (alice, bob, carol, dave) = (ids(&["1", "3"]), ids(&["1", "2"]), ids(&["3"]), ids(&[]));
        // Disabled organizations never count.
        assert_eq!(aliases(ix.resolve(&alice, OrgScope::Any)), ["acme"]);
        assert!(ix.resolve(&bob, OrgScope::Any).is_empty(), "two orgs");
        assert_eq!(aliases(ix.resolve(&bob, OrgScope::All)), ["acme", "globex"]);
        assert!(ix.resolve(&carol, OrgScope::All).is_empty());
        assert!(ix.resolve(&dave, OrgScope::Any).is_empty());
        assert_eq!(aliases(ix.resolve(&bob, acme)), ["acme"]);
        assert!(ix.resolve(&dave, acme).is_empty());
        // Memberships of organizations the snapshot does not know (deleted meanwhile) count
        // for nothing.
        assert!(ix.resolve(&ids(&["9"]), OrgScope::All).is_empty());
    }

    #[test]
    fn dynamic_forms_need_an_attached_scope_and_an_enabled_organization() {
        let rep = realm(true);
        let ix = Organizations::build(&rep, &orgs());
        let app = &rep.clients.as_ref().unwrap()[0];
        let plain = &rep.clients.as_ref().unwrap()[1];
        let s = ix.dynamic_scope(&rep, app, "organization:acme").unwrap();
        assert_eq!(s.name.as_deref(), Some("organization:acme"));
        assert!(has_membership_mapper(s));
        // The same form is built once per snapshot.
        assert!(std::ptr::eq(
            s,
            ix.dynamic_scope(&rep, app, "organization:acme").unwrap()
        ));
        assert!(ix.dynamic_scope(&rep, app, "organization:*").is_some());
        assert!(ix.dynamic_scope(&rep, app, "organization:off").is_none());
        assert!(ix.dynamic_scope(&rep, app, "organization:nope").is_none());
        assert!(ix.dynamic_scope(&rep, plain, "organization:acme").is_none());
        assert!(ix.dynamic_scope(&rep, app, "profile:acme").is_none());
        assert_eq!(ix.base_of("organization:acme"), Some("organization"));

        let all = ix.dynamic_scope(&rep, app, "organization:*").unwrap();
        let one = ix.dynamic_scope(&rep, app, "organization:acme").unwrap();
        let base = &rep.client_scopes.as_ref().unwrap()[1];
        let names = |v: Vec<&ClientScopeRepresentation>| -> Vec<String> {
            v.iter().map(|s| s.name.clone().unwrap()).collect()
        };
        assert_eq!(names(ix.granted(&[], &[base, all, one])), ["organization"]);
        assert_eq!(
            names(ix.granted(&ids(&["1"]), &[all, one])),
            ["organization:*", "organization:acme"]
        );
        assert_eq!(ix.requested(&[base]), Some(OrgScope::Any));
        assert_eq!(aliases(ix.for_token(&ids(&["1", "2"]), &[one])), ["acme"]);
    }

    #[test]
    fn disabled_organizations_feature_yields_nothing() {
        let rep = realm(false);
        let ix = Organizations::build(&rep, &orgs());
        assert!(!ix.any_enabled());
        let app = &rep.clients.as_ref().unwrap()[0];
        assert!(ix.resolve(&ids(&["1", "2"]), OrgScope::All).is_empty());
        assert!(ix.dynamic_scope(&rep, app, "organization:acme").is_none());
        assert!(ix.dynamic_scope(&rep, app, "organization:*").is_some());
    }

    #[test]
    fn several_organization_scopes_are_refused() {
        assert!(Organizations::too_many_requested(
            "openid organization organization:acme"
        ));
        assert!(Organizations::too_many_requested(
            "organization:a organization:*"
        ));
        assert!(!Organizations::too_many_requested(
            "openid organization organization"
        ));
        assert!(!Organizations::too_many_requested("openid organization:*"));
    }
}
