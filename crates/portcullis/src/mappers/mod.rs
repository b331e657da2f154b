//! Keycloak's OIDC protocol mappers: each turns user, session and role data into claims of
//! the access token, ID token, userinfo or introspection response, driven by the mapper's
//! `config` (`claim.name`, `jsonType.label`, `multivalued`, `access.token.claim`, ...).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::realm::index::Role;
use crate::realm::organizations::Organization;
use crate::representation::UserRepresentation;

/// Where a claim is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The access token.
    Access = 0,
    /// The ID token.
    Id,
    /// The userinfo response.
    Userinfo,
    /// The introspection response.
    Introspection,
}

/// What mappers read.
#[derive(Debug)]
pub struct Input<'a> {
    /// User id.
    pub user_id: &'a str,
    /// The user.
    pub user: &'a UserRepresentation,
    /// Requesting clientId.
    pub client_id: &'a str,
    /// Effective roles in the token's scope.
    pub roles: &'a BTreeSet<Role>,
    /// The user's group paths.
    pub groups: &'a [String],
    /// Session notes (`AUTH_TIME`, ...).
    pub notes: &'a Map<String, Value>,
    /// The client's allowed web origins.
    pub web_origins: &'a [String],
    /// Authentication context class.
    pub acr: &'a str,
    /// The organizations the token's organization scope yields for the user (see
    /// `realm::organizations`), for `oidc-organization-membership-mapper`.
    pub organizations: &'a [&'a Organization],
}

fn cfg<'a>(mapper: &'a Value, key: &str) -> Option<&'a str> {
    mapper.get("config")?.get(key)?.as_str()
}

fn flag(mapper: &Value, key: &str, default: bool) -> bool {
    cfg(mapper, key).map(|v| v == "true").unwrap_or(default)
}

/// Splits a claim name on unescaped dots (`a.b` nests, `a\.b` is one name).
pub fn claim_path(name: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('.');
                }
            }
            '.' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// Sets a (possibly nested) claim; arrays are merged when both sides are arrays.
pub fn set_claim(claims: &mut Map<String, Value>, name: &str, value: Value) {
    set_claim_path(claims, &claim_path(name), value);
}

/// [`set_claim`] with the name already split by [`claim_path`].
pub fn set_claim_path(claims: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = claims;
    for p in parents {
        let entry = cur.entry(p.clone()).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        let Some(next) = entry.as_object_mut() else {
            return;
        };
        cur = next;
    }
    match (cur.get_mut(last), value) {
        (Some(Value::Array(existing)), Value::Array(new)) => {
            for v in new {
                if !existing.contains(&v) {
                    existing.push(v);
                }
            }
        }
        (_, v) => {
            cur.insert(last.clone(), v);
        }
    }
}

/// The user's property by Keycloak's `UserModel` name.
fn property(user: &UserRepresentation, user_id: &str, name: &str) -> Option<Value> {
    match name {
        "username" => user.username.clone().map(Value::from),
        "email" => user.email.clone().map(Value::from),
        "id" => Some(json!(user_id)),
        // Keycloak's model defaults when the representation leaves them out.
        "emailVerified" => Some(user.extra.get(name).cloned().unwrap_or(json!(false))),
        "enabled" => Some(json!(user.enabled.unwrap_or(true))),
        _ => user.extra.get(name).cloned(),
    }
}

fn attribute(user: &UserRepresentation, name: &str) -> Vec<String> {
    // With the declarative user profile (Keycloak 24+), the built-in fields are attributes too.
    if matches!(name, "username" | "email" | "firstName" | "lastName") {
        return match property(user, "", name) {
            Some(Value::String(s)) => vec![s],
            _ => Vec::new(),
        };
    }
    match user.extra.get("attributes").and_then(|a| a.get(name)) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn role_names<'r>(
    roles: &'r BTreeSet<Role>,
    keep: impl FnMut(&'r Role) -> Option<&'r str>,
) -> Vec<Value> {
    roles.iter().filter_map(keep).map(Value::from).collect()
}

/// The mapper types this engine runs (`protocolMapper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `oidc-usermodel-property-mapper`.
    Property,
    /// `oidc-usermodel-attribute-mapper`.
    Attribute,
    /// `oidc-full-name-mapper`.
    FullName,
    /// `oidc-usermodel-realm-role-mapper`.
    RealmRole,
    /// `oidc-usermodel-client-role-mapper`.
    ClientRole,
    /// `oidc-group-membership-mapper`.
    Group,
    /// `oidc-hardcoded-claim-mapper`.
    HardcodedClaim,
    /// `oidc-audience-mapper`.
    Audience,
    /// `oidc-sub-mapper`.
    Sub,
    /// `oidc-allowed-origins-mapper`.
    AllowedOrigins,
    /// `oidc-acr-mapper`.
    Acr,
    /// `oidc-usersessionmodel-note-mapper`.
    SessionNote,
    /// `oidc-address-mapper`.
    Address,
    /// `oidc-organization-membership-mapper`.
    Organization,
    /// `oidc-audience-resolve-mapper`: runs after the others (see [`resolve_audience`]).
    AudienceResolve,
    /// `oidc-hardcoded-role-mapper`: changes the roles, not the claims.
    HardcodedRole,
    /// `oidc-role-name-mapper`: changes the roles, not the claims.
    RoleName,
    /// Another type, or another protocol's mapper: writes nothing.
    Other,
}

impl Kind {
    fn of(name: &str) -> Self {
        match name {
            "oidc-usermodel-property-mapper" => Kind::Property,
            "oidc-usermodel-attribute-mapper" => Kind::Attribute,
            "oidc-full-name-mapper" => Kind::FullName,
            "oidc-usermodel-realm-role-mapper" => Kind::RealmRole,
            "oidc-usermodel-client-role-mapper" => Kind::ClientRole,
            "oidc-group-membership-mapper" => Kind::Group,
            "oidc-hardcoded-claim-mapper" => Kind::HardcodedClaim,
            "oidc-audience-mapper" => Kind::Audience,
            "oidc-sub-mapper" => Kind::Sub,
            "oidc-allowed-origins-mapper" => Kind::AllowedOrigins,
            "oidc-acr-mapper" => Kind::Acr,
            "oidc-usersessionmodel-note-mapper" => Kind::SessionNote,
            "oidc-address-mapper" => Kind::Address,
            "oidc-organization-membership-mapper" => Kind::Organization,
            "oidc-audience-resolve-mapper" => Kind::AudienceResolve,
            "oidc-hardcoded-role-mapper" => Kind::HardcodedRole,
            "oidc-role-name-mapper" => Kind::RoleName,
            _ => Kind::Other,
        }
    }
}

/// A protocol mapper (`ProtocolMapperRepresentation`) with its `config` read once, when the
/// realm snapshot is built: issuing a token reads no JSON configuration.
#[derive(Debug, Clone)]
pub struct Mapper {
    kind: Kind,
    /// Whether it writes into the access token, ID token, userinfo and introspection
    /// response, in [`Target`] order, with Keycloak's fall-backs applied
    /// (`OIDCAttributeMapperHelper.includeInIntrospection` / `includeInUserInfo`).
    targets: [bool; 4],
    /// The split claim name, with the type's default; `None` when the mapper writes no claim.
    path: Option<Vec<String>>,
    /// The claim name of a client-role mapper (with its default), `${client_id}` not yet
    /// filled in.
    claim_template: String,
    /// `user.attribute`.
    user_attribute: Option<String>,
    /// `jsonType.label` as written.
    json_type: Option<String>,
    /// `multivalued` as written.
    multivalued: Option<String>,
    /// `usermodel.realmRoleMapping.rolePrefix` / `usermodel.clientRoleMapping.rolePrefix`.
    role_prefix: String,
    /// `usermodel.clientRoleMapping.clientId`, when not empty.
    only_client: Option<String>,
    /// `full.path` (default true).
    full_path: bool,
    /// `claim.value`.
    claim_value: Option<String>,
    /// `included.client.audience` and `included.custom.audience`, when not empty.
    audiences: Vec<String>,
    /// `user.session.note`.
    session_note: Option<String>,
    /// `addOrganizationId` / `addOrganizationAttributes` (case-insensitive `true`).
    add_organization_id: bool,
    add_organization_attributes: bool,
    /// `role` and `new.role.name` of the role mappers, when not empty.
    role: Option<String>,
    new_role_name: Option<String>,
}

impl Mapper {
    /// Reads a mapper's configuration.
    pub fn compile(mapper: &Value) -> Self {
        let oidc = mapper
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("openid-connect")
            == "openid-connect";
        let kind = if oidc {
            Kind::of(
                mapper
                    .get("protocolMapper")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
        } else {
            Kind::Other
        };
        let text = |k: &str| cfg(mapper, k).map(str::to_string);
        let non_empty = |k: &str| cfg(mapper, k).filter(|v| !v.is_empty()).map(str::to_string);
        let truthy = |k: &str| cfg(mapper, k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let access = flag(mapper, "access.token.claim", false);
        let id = flag(mapper, "id.token.claim", false);
        let claim = cfg(mapper, "claim.name");
        let named = |default: &str| {
            let name = claim.filter(|c| !c.is_empty()).unwrap_or(default);
            (!name.is_empty()).then(|| claim_path(name))
        };
        let path = match kind {
            Kind::RealmRole => named("realm_access.roles"),
            // Filled in per client from `claim_template`.
            Kind::ClientRole => None,
            Kind::Group => named("groups"),
            // `OrganizationMembershipMapper`: the claim name defaults to `organization`, and
            // an empty one writes nothing.
            Kind::Organization => {
                let name = claim.unwrap_or("organization");
                (!name.is_empty()).then(|| claim_path(name))
            }
            _ => named(""),
        };
        let prefix_key = if kind == Kind::ClientRole {
            "usermodel.clientRoleMapping.rolePrefix"
        } else {
            "usermodel.realmRoleMapping.rolePrefix"
        };
        Mapper {
            kind,
            targets: [
                access,
                id,
                flag(mapper, "userinfo.token.claim", id),
                flag(mapper, "introspection.token.claim", access),
            ],
            path,
            claim_template: claim
                .filter(|c| !c.is_empty())
                .unwrap_or("resource_access.${client_id}.roles")
                .to_string(),
            user_attribute: text("user.attribute"),
            json_type: text("jsonType.label"),
            multivalued: text("multivalued"),
            role_prefix: text(prefix_key).unwrap_or_default(),
            only_client: non_empty("usermodel.clientRoleMapping.clientId"),
            full_path: flag(mapper, "full.path", true),
            claim_value: text("claim.value"),
            audiences: ["included.client.audience", "included.custom.audience"]
                .into_iter()
                .filter_map(non_empty)
                .collect(),
            session_note: text("user.session.note"),
            add_organization_id: truthy("addOrganizationId"),
            add_organization_attributes: truthy("addOrganizationAttributes"),
            role: non_empty("role"),
            new_role_name: non_empty("new.role.name"),
        }
    }

    /// The mapper's type.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether it writes into `target`.
    pub fn writes(&self, target: Target) -> bool {
        self.targets[target as usize]
    }

    /// `role` of `oidc-hardcoded-role-mapper` and `oidc-role-name-mapper`.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// `new.role.name` of `oidc-role-name-mapper`.
    pub fn new_role_name(&self) -> Option<&str> {
        self.new_role_name.as_deref()
    }

    fn is_multivalued(&self) -> bool {
        self.multivalued.as_deref() == Some("true")
    }

    /// Converts a string value to the mapper's `jsonType.label`.
    fn typed(&self, v: &str) -> Value {
        match self.json_type.as_deref().unwrap_or("String") {
            "boolean" => json!(v.eq_ignore_ascii_case("true")),
            "long" | "int" => v.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            "JSON" => serde_json::from_str(v).unwrap_or(Value::Null),
            _ => json!(v),
        }
    }

    fn set(&self, claims: &mut Map<String, Value>, value: Value) {
        if let Some(path) = &self.path {
            set_claim_path(claims, path, value);
        }
    }

    /// Writes the mapper's claims for `target`.
    pub fn apply(&self, target: Target, input: &Input<'_>, claims: &mut Map<String, Value>) {
        if !self.writes(target) {
            return;
        }
        match self.kind {
            Kind::Property => {
                if let Some(v) = self
                    .user_attribute
                    .as_deref()
                    .and_then(|a| property(input.user, input.user_id, a))
                {
                    let v = match v {
                        Value::String(s) => self.typed(&s),
                        Value::Bool(b) if self.json_type.as_deref() == Some("String") => {
                            json!(b.to_string())
                        }
                        other => other,
                    };
                    if !v.is_null() {
                        self.set(claims, v);
                    }
                }
            }
            Kind::Attribute => {
                let Some(attr) = self.user_attribute.as_deref() else {
                    return;
                };
                let mut values: Vec<Value> = attribute(input.user, attr)
                    .iter()
                    .map(|v| self.typed(v))
                    .filter(|v| !v.is_null())
                    .collect();
                if values.is_empty() {
                    return;
                }
                let v = if self.is_multivalued() {
                    Value::Array(values)
                } else {
                    values.swap_remove(0)
                };
                self.set(claims, v);
            }
            Kind::FullName => {
                let part = |k: &str| {
                    input
                        .user
                        .extra
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                };
                let name = format!("{} {}", part("firstName"), part("lastName"))
                    .trim()
                    .to_string();
                if !name.is_empty() {
                    claims.insert("name".into(), json!(name));
                }
            }
            Kind::RealmRole => {
                let prefix = &self.role_prefix;
                let names: Vec<Value> = role_names(input.roles, |r| match r {
                    Role::Realm(n) => Some(n.as_str()),
                    _ => None,
                })
                .into_iter()
                .map(|v| json!(format!("{prefix}{}", v.as_str().unwrap_or_default())))
                .collect();
                if !names.is_empty() {
                    self.set(claims, Value::Array(names));
                }
            }
            Kind::ClientRole => {
                let only = self.only_client.as_deref();
                let prefix = &self.role_prefix;
                let clients: BTreeSet<&str> = input
                    .roles
                    .iter()
                    .filter_map(|r| match r {
                        Role::Client(c, _) if only.is_none_or(|o| o == c) => Some(c.as_str()),
                        _ => None,
                    })
                    .collect();
                for c in clients {
                    let names: Vec<Value> = role_names(input.roles, |r| match r {
                        Role::Client(rc, n) if rc == c => Some(n.as_str()),
                        _ => None,
                    })
                    .into_iter()
                    .map(|v| json!(format!("{prefix}{}", v.as_str().unwrap_or_default())))
                    .collect();
                    // The client id is one path segment even if it contains dots (filled in
                    // escaped before the name is split, as Keycloak does).
                    set_claim(
                        claims,
                        &self
                            .claim_template
                            .replace("${client_id}", &c.replace('.', "\\.")),
                        Value::Array(names),
                    );
                }
            }
            Kind::Group => {
                let groups: Vec<Value> = input
                    .groups
                    .iter()
                    .map(|g| {
                        if self.full_path {
                            json!(g)
                        } else {
                            json!(g.rsplit('/').next().unwrap_or(g))
                        }
                    })
                    .collect();
                self.set(claims, Value::Array(groups));
            }
            Kind::HardcodedClaim => {
                if let Some(v) = self.claim_value.as_deref() {
                    let v = self.typed(v);
                    if !v.is_null() {
                        self.set(claims, v);
                    }
                }
            }
            Kind::Audience => add_audience(claims, self.audiences.clone()),
            Kind::Sub => {
                claims.insert("sub".into(), json!(input.user_id));
            }
            Kind::AllowedOrigins if !input.web_origins.is_empty() => {
                claims.insert("allowed-origins".into(), json!(input.web_origins));
            }
            Kind::Acr => {
                claims.insert("acr".into(), json!(input.acr));
            }
            Kind::SessionNote => {
                if let Some(v) = self
                    .session_note
                    .as_deref()
                    .and_then(|note| input.notes.get(note))
                {
                    let v = match v {
                        Value::String(s) => self.typed(s),
                        other => other.clone(),
                    };
                    if !v.is_null() {
                        self.set(claims, v);
                    }
                }
            }
            Kind::Address => {
                let mut address = Map::new();
                for (claim_key, attr) in [
                    ("street_address", "street"),
                    ("locality", "locality"),
                    ("region", "region"),
                    ("postal_code", "postal_code"),
                    ("country", "country"),
                    ("formatted", "formatted"),
                ] {
                    if let Some(v) = attribute(input.user, attr).into_iter().next() {
                        address.insert(claim_key.into(), json!(v));
                    }
                }
                if !address.is_empty() {
                    claims.insert("address".into(), Value::Object(address));
                }
            }
            Kind::Organization => {
                if let Some(v) = organization_claim(self, input.organizations) {
                    self.set(claims, v);
                }
            }
            // Runs after the role mappers (`audience_resolve` has Keycloak's highest
            // priority): every client the token carries roles of, except the requesting
            // client. The role mappers change roles, not claims.
            Kind::AudienceResolve
            | Kind::HardcodedRole
            | Kind::RoleName
            | Kind::AllowedOrigins
            | Kind::Other => {}
        }
    }
}

/// Reads each mapper of a `protocolMappers` list.
pub fn compile_all(list: Option<&Value>) -> Vec<Mapper> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(Mapper::compile)
        .collect()
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
pub fn organization_claim(mapper: &Mapper, orgs: &[&Organization]) -> Option<Value> {
    let first = orgs.first()?;
    let multivalued_set = mapper.is_multivalued();
    let add_id = multivalued_set && mapper.add_organization_id;
    let add_attributes = multivalued_set && mapper.add_organization_attributes;
    if mapper.multivalued.is_some() && !multivalued_set {
        return Some(json!(first.alias));
    }
    if add_id || add_attributes || mapper.json_type.as_deref() == Some("JSON") {
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

/// Adds audiences to `aud` (a string when single, an array otherwise, as Keycloak writes it).
pub fn add_audience(claims: &mut Map<String, Value>, add: Vec<String>) {
    let mut list: Vec<String> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    for a in add {
        if !list.contains(&a) {
            list.push(a);
        }
    }
    match list.len() {
        0 => {}
        1 => {
            claims.insert("aud".into(), json!(list[0]));
        }
        _ => {
            claims.insert("aud".into(), json!(list));
        }
    }
}

/// `oidc-audience-resolve-mapper`: the clients whose roles the token carries.
pub fn resolve_audience(claims: &mut Map<String, Value>, client_id: &str) {
    let clients: Vec<String> = claims
        .get("resource_access")
        .and_then(Value::as_object)
        .map(|m| m.keys().filter(|k| *k != client_id).cloned().collect())
        .unwrap_or_default();
    add_audience(claims, clients);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn claim_names_nest_and_escape() {
        assert_eq!(claim_path("a.b"), vec!["a", "b"]);
        assert_eq!(claim_path(r"a\.b.c"), vec!["a.b", "c"]);
        let mut m = Map::new();
        set_claim(&mut m, "resource_access.my\\.app.roles", json!(["x"]));
        set_claim(&mut m, "resource_access.my\\.app.roles", json!(["y", "x"]));
        assert_eq!(m["resource_access"]["my.app"]["roles"], json!(["x", "y"]));
    }

    fn user() -> UserRepresentation {
        serde_json::from_value(json!({"username": "alice", "email": "a@example.com", "firstName": "Alice", "lastName": "Liddell", "emailVerified": true, "attributes": {"dept": ["eng", "ops"], "level": ["3"]}})).unwrap()
    }

    #[test]
    fn mappers_produce_keycloak_claims() {
        let u = user();
        let roles: BTreeSet<Role> = [
            Role::Realm("user".into()),
            Role::Client("api".into(), "read".into()),
            Role::Client("app".into(), "own".into()),
            Role::Client("my.svc".into(), "call".into()),
        ]
        .into();
        let notes = Map::from_iter([("AUTH_TIME".to_string(), json!("1700000000"))]);
        let input = Input {
            user_id: "u-1",
            user: &u,
            client_id: "app",
            roles: &roles,
            groups: &["/staff/admins".to_string()],
            notes: &notes,
            web_origins: &[],
            acr: "1",
            organizations: &[],
        };
        let m = |kind: &str, config: Value| json!({"protocol": "openid-connect", "protocolMapper": kind, "config": config});
        let mappers = [
            m(
                "oidc-usermodel-property-mapper",
                json!({"user.attribute": "username", "claim.name": "preferred_username", "jsonType.label": "String", "access.token.claim": "true"}),
            ),
            m(
                "oidc-usermodel-property-mapper",
                json!({"user.attribute": "emailVerified", "claim.name": "email_verified", "jsonType.label": "boolean", "access.token.claim": "true"}),
            ),
            m(
                "oidc-usermodel-attribute-mapper",
                json!({"user.attribute": "dept", "claim.name": "org.dept", "multivalued": "true", "access.token.claim": "true"}),
            ),
            m(
                "oidc-usermodel-attribute-mapper",
                json!({"user.attribute": "level", "claim.name": "level", "jsonType.label": "long", "access.token.claim": "true"}),
            ),
            m(
                "oidc-full-name-mapper",
                json!({"access.token.claim": "true"}),
            ),
            m(
                "oidc-usermodel-realm-role-mapper",
                json!({"claim.name": "realm_access.roles", "multivalued": "true", "access.token.claim": "true"}),
            ),
            m(
                "oidc-usermodel-client-role-mapper",
                json!({"claim.name": "resource_access.${client_id}.roles", "multivalued": "true", "access.token.claim": "true"}),
            ),
            m(
                "oidc-group-membership-mapper",
                json!({"claim.name": "groups", "full.path": "false", "access.token.claim": "true"}),
            ),
            m(
                "oidc-hardcoded-claim-mapper",
                json!({"claim.name": "tier", "claim.value": "{\"a\":1}", "jsonType.label": "JSON", "access.token.claim": "true"}),
            ),
            m(
                "oidc-usersessionmodel-note-mapper",
                json!({"user.session.note": "AUTH_TIME", "claim.name": "auth_time", "jsonType.label": "long", "access.token.claim": "true"}),
            ),
            m("oidc-sub-mapper", json!({"access.token.claim": "true"})),
            m(
                "oidc-audience-mapper",
                json!({"included.custom.audience": "https://api.example.com", "access.token.claim": "true"}),
            ),
            m(
                "oidc-usermodel-property-mapper",
                json!({"user.attribute": "email", "claim.name": "email", "access.token.claim": "false", "id.token.claim": "true"}),
            ),
        ];
        let mut claims = Map::new();
        for mapper in &mappers {
            Mapper::compile(mapper).apply(Target::Access, &input, &mut claims);
        }
        resolve_audience(&mut claims, "app");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["org"]["dept"], json!(["eng", "ops"]));
        assert_eq!(claims["level"], 3);
        assert_eq!(claims["name"], "Alice Liddell");
        assert_eq!(claims["realm_access"]["roles"], json!(["user"]));
        assert_eq!(claims["resource_access"]["api"]["roles"], json!(["read"]));
        assert_eq!(claims["resource_access"]["app"]["roles"], json!(["own"]));
        assert_eq!(
            claims["resource_access"]["my.svc"]["roles"],
            json!(["call"]),
            "a dotted client id stays one claim segment"
        );
        assert_eq!(claims["groups"], json!(["admins"]));
        assert_eq!(claims["tier"], json!({"a": 1}));
        assert_eq!(claims["auth_time"], 1700000000);
        assert_eq!(claims["sub"], "u-1");
        assert_eq!(
            claims["aud"],
            json!(["https://api.example.com", "api", "my.svc"]),
            "custom audience plus resolved, not the client itself"
        );
        assert!(
            claims.get("email").is_none(),
            "email only in the ID token here"
        );
    }

    fn orgs() -> Vec<Organization> {
        let attrs = json!({"tier": ["gold"], "region": ["eu", "us"]});
        vec![
            Organization {
                id: "id-acme".into(),
                alias: "acme".into(),
                enabled: true,
                attributes: attrs.as_object().cloned().unwrap(),
            },
            Organization {
                id: "id-globex".into(),
                alias: "globex".into(),
                enabled: true,
                attributes: Map::new(),
            },
        ]
    }

    #[test]
    fn organization_claim_shapes_follow_the_mapper_config() {
        let list = orgs();
        let two: Vec<&Organization> = list.iter().collect();
        let claim = |config: Value| {
            organization_claim(
                &Mapper::compile(
                    &json!({"protocolMapper": "oidc-organization-membership-mapper", "config": config}),
                ),
                &two,
            )
        };
        // The built-in mapper: multivalued String, a list of aliases.
        assert_eq!(
            claim(json!({"multivalued": "true", "jsonType.label": "String"})),
            Some(json!(["acme", "globex"]))
        );
        assert_eq!(
            claim(json!({"multivalued": "true", "jsonType.label": "JSON"})),
            Some(json!({"acme": {}, "globex": {}}))
        );
        // Either flag forces the object form, whatever the JSON type says.
        assert_eq!(
            claim(
                json!({"multivalued": "true", "jsonType.label": "boolean", "addOrganizationId": "true"})
            ),
            Some(json!({"acme": {"id": "id-acme"}, "globex": {"id": "id-globex"}}))
        );
        assert_eq!(
            claim(json!({"multivalued": "true", "addOrganizationAttributes": "TRUE"})),
            Some(json!({"acme": {"tier": ["gold"], "region": ["eu", "us"]}, "globex": {}}))
        );
        assert_eq!(
            claim(
                json!({"multivalued": "true", "addOrganizationAttributes": "true", "addOrganizationId": "true"})
            ),
            Some(
                json!({"acme": {"id": "id-acme", "tier": ["gold"], "region": ["eu", "us"]}, "globex": {"id": "id-globex"}})
            )
        );
        // Single-valued: the first alias; the flags are turned off.
        assert_eq!(
            claim(json!({"multivalued": "false", "addOrganizationId": "true"})),
            Some(json!("acme"))
        );
        // Without `multivalued` Keycloak drops the flags, then defaults to a list.
        assert_eq!(
            claim(json!({"addOrganizationId": "true"})),
            Some(json!(["acme", "globex"]))
        );
        assert_eq!(
            organization_claim(
                &Mapper::compile(&json!({"config": {"multivalued": "true"}})),
                &[]
            ),
            None
        );
    }

    #[test]
    fn organization_mapper_writes_its_claim_for_its_targets() {
        let u = user();
        let roles = BTreeSet::new();
        let notes = Map::new();
        let list = orgs();
        let one = [&list[0]];
        let input = Input {
            user_id: "u-1",
            user: &u,
            client_id: "app",
            roles: &roles,
            groups: &[],
            notes: &notes,
            web_origins: &[],
            acr: "1",
            organizations: &one,
        };
        // The `organization` scope's mapper of a new realm (no `userinfo.token.claim`).
        let builtin = json!({"protocol": "openid-connect", "protocolMapper": "oidc-organization-membership-mapper",
            "config": {"id.token.claim": "true", "introspection.token.claim": "true", "access.token.claim": "true",
                       "claim.name": "organization", "jsonType.label": "String", "multivalued": "true"}});
        for target in [
            Target::Access,
            Target::Id,
            Target::Userinfo,
            Target::Introspection,
        ] {
            let mut claims = Map::new();
            Mapper::compile(&builtin).apply(target, &input, &mut claims);
            assert_eq!(claims["organization"], json!(["acme"]), "{target:?}");
        }
        let custom = json!({"protocolMapper": "oidc-organization-membership-mapper",
            "config": {"access.token.claim": "true", "id.token.claim": "false", "userinfo.token.claim": "false",
                       "claim.name": "tenant.orgs", "multivalued": "true", "addOrganizationId": "true"}});
        let mut claims = Map::new();
        Mapper::compile(&custom).apply(Target::Access, &input, &mut claims);
        assert_eq!(claims["tenant"]["orgs"], json!({"acme": {"id": "id-acme"}}));
        for target in [Target::Id, Target::Userinfo] {
            let mut claims = Map::new();
            Mapper::compile(&custom).apply(target, &input, &mut claims);
            assert!(claims.is_empty(), "{target:?}");
        }
        let mut claims = Map::new();
        Mapper::compile(&custom).apply(Target::Introspection, &input, &mut claims);
        assert!(
            claims.contains_key("tenant"),
            "introspection follows the access token"
        );
        // No organization, no claim.
        let none = Input {
            organizations: &[],
            ..input
        };
        let mut claims = Map::new();
        Mapper::compile(&builtin).apply(Target::Access, &none, &mut claims);
        assert!(claims.is_empty());
    }
}
