//! The authenticated caller, built from a verified Keycloak access token.
//!
//! Claim layout as Keycloak writes it: `realm_access.roles`, `resource_access.<client>.roles`,
//! `scope` (space-separated), `groups`, `organization` (Keycloak 26 organization membership
//! mapper, as a list of aliases or as a map of alias to `{ "id": .., attributes.. }`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::claims::{Claim, Known};
use crate::error::Error;

/// An organization the caller belongs to, from Keycloak's `organization` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Organization {
    /// The organization's alias (the key or the list entry in the claim).
    pub name: String,
    /// The organization's id, when the mapper adds it (`"addOrganizationId"`).
    pub id: Option<String>,
    /// Other attributes the mapper adds (`"addOrganizationAttributes"`), without `id`.
    pub attributes: Map<String, Value>,
}

/// The caller of a request: who (`sub`), in which tenant, with which roles, scopes and
/// organizations. Produced only from a token whose signature and claims were verified.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Actor {
    /// `sub`: the user's (or service account's) id.
    pub sub: String,
    /// `iss`: the issuer that signed the token.
    pub issuer: String,
    /// The realm name from `iss` (the segment after `/realms/`): the tenant.
    pub tenant: Option<String>,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `realm_access.roles`.
    pub realm_roles: Vec<String>,
    /// `resource_access.<client>.roles`, by client id.
    pub client_roles: BTreeMap<String, Vec<String>>,
    /// `scope`, split on spaces.
    pub scopes: Vec<String>,
    /// `groups` (group paths, e.g. `/staff/admins`, with Keycloak's group membership mapper).
    pub groups: Vec<String>,
    /// `organization`, in either of Keycloak's shapes.
    pub organizations: Vec<Organization>,
    /// A top-level `org_id` claim, where a mapper adds one.
    pub org_id: Option<String>,
    /// `azp`: the client the token was issued to.
    pub azp: Option<String>,
    /// `sid`: the SSO session id.
    pub sid: Option<String>,
    /// `aud`, as a list.
    pub audience: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: i64,
    /// Every claim of the token, as verified: a JSON object (`Deref<Target = Map>`), parsed
    /// from the token on first use.
    pub claims: Claims,
}

/// Every claim of a verified token, as a JSON object.
///
/// Dereferences to a [`serde_json::Map`] (`actor.claims.get("email")`). The guard reads the
/// claims it checks and the [`Actor`] fields straight from the token; this full map is only
/// built, once, when something reads it, so requests that never look at it do not pay for it.
/// The payload was validated as a JSON object when the token was, so building it cannot fail.
#[derive(Clone, Default)]
pub struct Claims {
    /// The verified JSON payload; empty when built from a map.
    payload: Vec<u8>,
    map: OnceLock<Map<String, Value>>,
}

impl Claims {
    /// The verified payload bytes, parsed on first use.
    pub(crate) fn from_payload(payload: Vec<u8>) -> Claims {
        Claims {
            payload,
            map: OnceLock::new(),
        }
    }

    /// The claims as a map, by value.
    pub fn into_map(self) -> Map<String, Value> {
        let Claims { payload, map } = self;
        map.into_inner().unwrap_or_else(|| parse_claims(&payload))
    }
}

/// A payload that [`crate::claims::Known::scan`] accepted parses; should it ever not, the view is
/// empty rather than a panic (the checks and the actor's fields do not depend on it).
fn parse_claims(payload: &[u8]) -> Map<String, Value> {
    serde_json::from_slice(payload).unwrap_or_else(|e| {
        tracing::error!(error = %e, "verified token payload does not parse as a map");
        Map::new()
    })
}

impl std::ops::Deref for Claims {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| parse_claims(&self.payload))
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Claims {
        Claims {
            payload: Vec::new(),
            map: OnceLock::from(map),
        }
    }
}

impl From<Claims> for Map<String, Value> {
    fn from(claims: Claims) -> Map<String, Value> {
        claims.into_map()
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Claims) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl serde::Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

fn into_string(v: Option<Claim>) -> Option<String> {
    match v {
        Some(Claim::String(s)) => Some(s),
        _ => None,
    }
}

/// The strings of a JSON array; anything else gives an empty list.
fn into_strings(v: Option<Claim>) -> Vec<String> {
    match v {
        Some(Claim::Strings(list)) => list,
        _ => Vec::new(),
    }
}

/// Parses Keycloak's `organization` claim: `["acme"]`, `{"acme": {"id": "..", ..}}` or `"acme"`.
pub(crate) fn organizations(v: Option<&Claim>) -> Vec<Organization> {
    let plain = |name: &str| Organization {
        name: name.to_owned(),
        id: None,
        attributes: Map::new(),
    };
    match v {
        Some(Claim::String(s)) => vec![plain(s)],
        Some(Claim::Strings(a)) => a.iter().map(|s| plain(s)).collect(),
        Some(Claim::Object(m)) => m
            .iter()
            .map(|(name, details)| {
                let mut attributes = match details {
                    Value::Object(d) => d.clone(),
                    _ => Map::new(),
                };
                let id = match attributes.remove("id") {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                };
                Organization {
                    name: name.clone(),
                    id,
                    attributes,
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Actor {
    /// Builds an actor from claims that were **already verified** (signature, issuer, time,
    /// audience). [`crate::Validator::validate`] calls this; it is public for tests of code
    /// that consumes an `Actor`. Fails only if `sub` is missing.
    pub fn from_verified_claims(claims: Map<String, Value>) -> Result<Actor, Error> {
        let known = Known::from_map(&claims, &[]);
        let tenant = known
            .iss
            .as_ref()
            .and_then(Claim::as_str)
            .and_then(crate::issuer::realm_of)
            .map(str::to_owned);
        Actor::from_known(known, tenant, Claims::from(claims))
    }

    /// Builds an actor out of the claims scanned from a verified payload, moving their strings.
    /// `tenant` is the realm of `iss`, already known to the caller.
    pub(crate) fn from_known(
        known: Known,
        tenant: Option<String>,
        claims: Claims,
    ) -> Result<Actor, Error> {
        let sub = into_string(known.sub)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::MissingClaim("sub".into()))?;
        let scopes = match &known.scope {
            Some(Claim::String(s)) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let org_id = match known.org_id {
            Some(Claim::String(s)) => Some(s),
            Some(Claim::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let expires_at = match &known.exp {
            Some(Claim::Number(n)) => n.as_i64().unwrap_or(0),
            _ => 0,
        };
        Ok(Actor {
            sub,
            issuer: into_string(known.iss).unwrap_or_default(),
            tenant,
            preferred_username: into_string(known.preferred_username),
            email: into_string(known.email),
            realm_roles: known.realm_roles,
            client_roles: known.client_roles,
            scopes,
            groups: into_strings(known.groups),
            organizations: organizations(known.organization.as_ref()),
            org_id,
            azp: into_string(known.azp),
            sid: into_string(known.sid),
            audience: match known.aud {
                Some(Claim::String(s)) => vec![s],
                other => into_strings(other),
            },
            expires_at,
            claims,
        })
    }

    /// Whether `realm_access.roles` contains `role`.
    pub fn has_realm_role(&self, role: &str) -> bool {
        self.realm_roles.iter().any(|r| r == role)
    }

    /// Whether `resource_access.<client>.roles` contains `role`.
    pub fn has_client_role(&self, client: &str, role: &str) -> bool {
        self.client_roles
            .get(client)
            .is_some_and(|roles| roles.iter().any(|r| r == role))
    }

    /// Whether `scope` contains `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the caller is a member of the organization with this alias.
    pub fn in_org(&self, name: &str) -> bool {
        self.organizations.iter().any(|o| o.name == name)
    }

    /// Whether `aud` contains `audience`.
    pub fn has_audience(&self, audience: &str) -> bool {
        self.audience.iter().any(|a| a == audience)
    }

    /// The organization with this alias, if the caller is a member.
    pub fn organization(&self, name: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.name == name)
    }

    /// `Ok` if [`Actor::has_realm_role`], else [`Error::InsufficientScope`] (403).
    pub fn require_realm_role(&self, role: &str) -> Result<(), Error> {
        ok_or_forbidden(self.has_realm_role(role))
    }

    /// `Ok` if [`Actor::has_client_role`], else [`Error::InsufficientScope`] (403).
    pub fn require_client_role(&self, client: &str, role: &str) -> Result<(), Error> {
        ok_or_forbidden(self.has_client_role(client, role))
    }

    /// `Ok` if [`Actor::has_scope`], else [`Error::InsufficientScope`] (403).
    pub fn require_scope(&self, scope: &str) -> Result<(), Error> {
        ok_or_forbidden(self.has_scope(scope))
    }

    /// `Ok` if [`Actor::in_org`], else [`Error::InsufficientScope`] (403).
    pub fn require_org(&self, name: &str) -> Result<(), Error> {
        ok_or_forbidden(self.in_org(name))
    }

    /// `Ok` if [`Actor::has_audience`], else [`Error::InsufficientScope`] (403).
    pub fn require_audience(&self, audience: &str) -> Result<(), Error> {
        ok_or_forbidden(self.has_audience(audience))
    }
}

fn ok_or_forbidden(ok: bool) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::InsufficientScope)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actor(v: Value) -> Actor {
        let Value::Object(m) = v else { panic!() };
        Actor::from_verified_claims(m).unwrap()
    }

    #[test]
    fn keycloak_access_token_layout() {
        let a = actor(json!({
            "iss": "https://idp/realms/tenant-a", "sub": "u1", "exp": 10,
            "preferred_username": "alice", "email": "a@x",
            "realm_access": {"roles": ["offline_access", "admin"]},
            "resource_access": {"api": {"roles": ["read", "write"]}, "account": {"roles": ["view-profile"]}},
            "scope": "openid  profile email", "groups": ["/staff"], "azp": "web", "sid": "s1",
            "aud": "api", "org_id": "o-1",
        }));
        assert_eq!(a.tenant.as_deref(), Some("tenant-a"));
        assert_eq!(a.preferred_username.as_deref(), Some("alice"));
        assert_eq!(a.email.as_deref(), Some("a@x"));
        assert!(a.has_realm_role("admin") && !a.has_realm_role("root"));
        assert!(a.has_client_role("api", "write"));
        assert!(!a.has_client_role("account", "write"));
        assert!(!a.has_client_role("nope", "read"));
        assert_eq!(a.scopes, vec!["openid", "profile", "email"]);
        assert!(a.has_scope("email") && !a.has_scope("openid profile"));
        assert_eq!(a.groups, vec!["/staff"]);
        assert_eq!(a.azp.as_deref(), Some("web"));
        assert_eq!(a.sid.as_deref(), Some("s1"));
        assert_eq!(a.org_id.as_deref(), Some("o-1"));
        assert!(a.has_audience("api"));
        assert_eq!(a.expires_at, 10);
        assert_eq!(a.require_realm_role("admin"), Ok(()));
        assert_eq!(a.require_realm_role("root"), Err(Error::InsufficientScope));
        assert_eq!(
            a.require_client_role("api", "x"),
            Err(Error::InsufficientScope)
        );
        assert_eq!(a.require_scope("email"), Ok(()));
        assert_eq!(a.require_org("acme"), Err(Error::InsufficientScope));
    }

    #[test]
    fn missing_or_odd_claims_give_empty_values() {
        let a = actor(
            json!({"sub": "u", "realm_access": {"roles": "admin"}, "resource_access": [],
                              "scope": 5, "groups": "g", "org_id": 42}),
        );
        assert!(a.realm_roles.is_empty() && a.client_roles.is_empty());
        assert!(a.scopes.is_empty() && a.groups.is_empty() && a.organizations.is_empty());
        assert_eq!(a.org_id.as_deref(), Some("42"));
        assert_eq!(a.tenant, None);
        let Value::Object(m) = json!({"iss": "x"}) else {
            panic!()
        };
        assert_eq!(
            Actor::from_verified_claims(m),
            Err(Error::MissingClaim("sub".into()))
        );
    }

    #[test]
    fn claims_view_is_the_payload_as_a_map() {
        let payload = br#"{"sub":"u","x":{"y":[1,"z",null]},"n":1.5}"#.to_vec();
        let expected: Map<String, Value> = serde_json::from_slice(&payload).unwrap();
        let c = Claims::from_payload(payload);
        assert_eq!(*c, expected);
        assert_eq!(c.get("x"), expected.get("x"));
        assert_eq!(c.clone().into_map(), expected);
        assert_eq!(Claims::from(expected.clone()), c);
        assert_eq!(format!("{c:?}"), format!("{expected:?}"));
        assert_eq!(serde_json::to_value(&c).unwrap(), Value::Object(expected));
    }

    #[test]
    fn organization_as_list() {
        let orgs = organizations(Some(&Claim::from_value(json!(["acme", "globex", 3]))));
        assert_eq!(orgs.len(), 2);
        assert_eq!(orgs[0].name, "acme");
        assert_eq!(orgs[0].id, None);
        assert!(orgs[0].attributes.is_empty());
    }

    #[test]
    fn organization_as_map_with_id_and_attributes() {
        let a = actor(json!({"sub": "u", "organization": {
            "acme": {"id": "42f1", "region": ["eu"], "tier": "gold"},
            "globex": {},
            "initech": null,
            "hooli": {"id": 7},
        }}));
        assert!(a.in_org("acme") && a.in_org("globex") && a.in_org("initech"));
        assert!(!a.in_org("42f1"));
        let acme = a.organization("acme").unwrap();
        assert_eq!(acme.id.as_deref(), Some("42f1"));
        assert_eq!(acme.attributes.get("region"), Some(&json!(["eu"])));
        assert_eq!(acme.attributes.get("tier"), Some(&json!("gold")));
        assert!(!acme.attributes.contains_key("id"));
        assert_eq!(a.organization("globex").unwrap().id, None);
        // a non-string id is not an id, and is not kept as an attribute either
        let hooli = a.organization("hooli").unwrap();
        assert_eq!(hooli.id, None);
        assert!(hooli.attributes.is_empty());
    }

    #[test]
    fn organization_as_single_string_and_garbage() {
        assert_eq!(
            organizations(Some(&Claim::from_value(json!("acme"))))[0].name,
            "acme"
        );
        assert!(organizations(Some(&Claim::from_value(json!(12)))).is_empty());
        assert!(organizations(None).is_empty());
    }
}
