//! Keycloak 26 organizations as tokens see them: the realm's `organizations` (and its
//! `organizationsEnabled` switch), indexed by alias and by member user name once per snapshot,
//! and the organization client scope with its dynamic forms `organization`,
//! `organization:<alias>` and `organization:*`.
//!
//! Mirrors `OrganizationScope` (which organizations each form yields),
//! `TokenManager.getRequestedClientScopes` / `isValidScope` (which forms a request may carry
//! and when a form is granted) and `OrganizationAdapter.isEnabled` (an organization counts
//! only while it and the realm's organizations are enabled), Keycloak 26.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::representation::{ClientRepresentation, ClientScopeRepresentation, RealmRepresentation};

/// The mapper type that makes a client scope an organization scope.
pub const MEMBERSHIP_MAPPER: &str = "oidc-organization-membership-mapper";

/// `OIDCLoginProtocolFactory.ORGANIZATION`: requests naming more than one scope that starts
/// with it are refused (`TokenManager.isValidScope`).
const ORGANIZATION: &str = "organization";

pub use crate::model::Organization;

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
    list: Vec<Organization>,
    by_alias: HashMap<String, usize>,
    /// Lower-case user name to organization indexes.
    by_member: HashMap<String, Vec<usize>>,
    /// Client scopes carrying the membership mapper, by name.
    scopes: HashMap<String, Forms>,
}

fn attributes_of(v: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in v.and_then(Value::as_object).into_iter().flatten() {
        let list = match v {
            Value::Array(a) => a.iter().filter(|x| x.is_string()).cloned().collect(),
            Value::String(s) => vec![Value::String(s.clone())],
            _ => continue,
        };
        out.insert(k.clone(), Value::Array(list));
    }
    out
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
    /// Indexes `organizations`, their `members` and the realm's organization scopes.
    pub fn build(rep: &RealmRepresentation) -> Self {
        let realm_enabled = rep.organizations_enabled.unwrap_or(false);
        let mut ix = Organizations::default();
        for o in rep
            .extra
            .get("organizations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |k: &str| o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            let Some(alias) = text("alias").or_else(|| text("name")) else {
                continue;
            };
            if ix.by_alias.contains_key(alias) {
                continue;
            }
            let i = ix.list.len();
            ix.list.push(Organization {
                id: text("id").unwrap_or_default().to_string(),
                alias: alias.to_string(),
                enabled: realm_enabled && o.get("enabled").and_then(Value::as_bool) != Some(false),
                attributes: attributes_of(o.get("attributes")),
            });
            ix.by_alias.insert(alias.to_string(), i);
            for m in o
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(u) = m.get("username").and_then(Value::as_str) {
                    let orgs = ix.by_member.entry(u.to_lowercase()).or_default();
                    if !orgs.contains(&i) {
                        orgs.push(i);
                    }
                }
            }
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

    /// Whether `name` is a client scope with the membership mapper.
    pub fn is_org_scope(&self, name: &str) -> bool {
        self.scopes.contains_key(name)
    }

    /// The enabled organizations `username` is a member of, in the realm's order.
    pub fn of_member<'a>(
        &'a self,
        username: Option<&str>,
    ) -> impl Iterator<Item = (usize, &'a Organization)> + 'a {
        let found = username.and_then(|u| self.by_member.get(&u.to_lowercase()));
        found
            .into_iter()
            .flatten()
            .filter_map(|i| Some((*i, self.list.get(*i)?)))
            .filter(|(_, o)| o.enabled)
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

    /// The organizations `kind` yields for `username` (`OrganizationScope.resolveOrganizations`
    /// without a selection made at login): `ANY` the only one, `ALL` every one, `SINGLE` the
    /// named one for its members; enabled organizations only.
    pub fn resolve(&self, username: Option<&str>, kind: OrgScope) -> Vec<&Organization> {
        match kind {
            OrgScope::Any => {
                let mine: Vec<&Organization> = self.of_member(username).map(|(_, o)| o).collect();
                if mine.len() == 1 {
                    mine
                } else {
                    Vec::new()
                }
            }
            OrgScope::All => self.of_member(username).map(|(_, o)| o).collect(),
            OrgScope::Single(i) => self
                .of_member(username)
                .filter(|(j, _)| *j == i)
                .map(|(_, o)| o)
                .collect(),
        }
    }

    /// The organizations the token of `username` carries with `scopes`.
    pub fn for_token(
        &self,
        username: Option<&str>,
        scopes: &[&ClientScopeRepresentation],
    ) -> Vec<&Organization> {
        match self.requested(scopes) {
            Some(kind) => self.resolve(username, kind),
            None => Vec::new(),
        }
    }

    /// The scopes granted to `username`: a dynamic form that yields no organization for the
    /// user is dropped (`TokenManager.tryResolveDynamicClientScope`), so it is neither in the
    /// token's `scope` nor maps a claim. The organization scope requested by its own name
    /// stays, with or without a claim.
    pub fn granted<'a>(
        &self,
        username: Option<&str>,
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
                    .is_some_and(|kind| !self.resolve(username, kind).is_empty())
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
                        {"clientId": "plain", "defaultClientScopes": ["profile"]}],
            "organizations": [
                {"id": "1", "name": "Acme", "alias": "acme", "attributes": {"tier": ["gold"], "one": "x"},
                 "members": [{"username": "Alice"}, {"username": "bob"}]},
                {"id": "2", "name": "globex", "members": [{"username": "bob"}]},
                {"id": "3", "name": "Off", "alias": "off", "enabled": false, "members": [{"username": "carol"}, {"username": "alice"}]}
            ]
        }))
        .unwrap()
    }

    fn aliases(v: Vec<&Organization>) -> Vec<&str> {
        v.into_iter().map(|o| o.alias.as_str()).collect()
    }

    #[test]
    fn members_and_scope_forms_resolve_like_keycloak() {
        let rep = realm(true);
        let ix = Organizations::build(&rep);
        assert_eq!(ix.list()[1].alias, "globex", "alias defaults to the name");
        assert_eq!(ix.list()[0].attributes["one"], json!(["x"]));
        let acme = OrgScope::Single(0);
        assert_eq!(ix.parse("organization"), Some(OrgScope::Any));
        assert_eq!(ix.parse("organization:*"), Some(OrgScope::All));
        assert_eq!(ix.parse("organization:acme"), Some(acme));
        assert_eq!(ix.parse("organization:nope"), None);
        assert_eq!(ix.parse("profile:acme"), None);
        // Member names match case-insensitively; disabled organizations never count.
        assert_eq!(aliases(ix.resolve(Some("alice"), OrgScope::Any)), ["acme"]);
        assert!(
            ix.resolve(Some("bob"), OrgScope::Any).is_empty(),
            "two orgs"
        );
        assert_eq!(
            aliases(ix.resolve(Some("bob"), OrgScope::All)),
            ["acme", "globex"]
        );
        assert!(ix.resolve(Some("carol"), OrgScope::All).is_empty());
        assert!(ix.resolve(Some("dave"), OrgScope::Any).is_empty());
        assert_eq!(aliases(ix.resolve(Some("bob"), acme)), ["acme"]);
        assert!(ix.resolve(Some("dave"), acme).is_empty());
    }

    #[test]
    fn dynamic_forms_need_an_attached_scope_and_an_enabled_organization() {
        let rep = realm(true);
        let ix = Organizations::build(&rep);
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
        assert_eq!(
            names(ix.granted(Some("dave"), &[base, all, one])),
            ["organization"]
        );
        assert_eq!(
            names(ix.granted(Some("alice"), &[all, one])),
            ["organization:*", "organization:acme"]
        );
        assert_eq!(ix.requested(&[base]), Some(OrgScope::Any));
        assert_eq!(aliases(ix.for_token(Some("bob"), &[one])), ["acme"]);
    }

    #[test]
    fn disabled_organizations_feature_yields_nothing() {
        let rep = realm(false);
        let ix = Organizations::build(&rep);
        let app = &rep.clients.as_ref().unwrap()[0];
        assert!(ix.resolve(Some("bob"), OrgScope::All).is_empty());
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
