//! Client registration policies: the realm's components of type
//! `org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy`, run for the
//! `anonymous` or the `authenticated` sub type (Keycloak's `ClientRegistrationPolicyManager`
//! and `policy/impl/*`). Plain functions over the realm representation, the request and the
//! caller's address; the handlers resolve DNS names beforehand.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::representation::{ClientRepresentation, ComponentRepresentation, RealmRepresentation};

/// The component type of client registration policies.
pub const POLICY_TYPE: &str =
    "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy";

/// How a registration request was authorized (`RegistrationAuth`): selects the policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationAuth {
    /// No token.
    Anonymous,
    /// An initial access token or a bearer token with `create-client` / `manage-clients`.
    Authenticated,
}

impl RegistrationAuth {
    /// The component `subType`.
    pub fn key(self) -> &'static str {
        match self {
            RegistrationAuth::Anonymous => "anonymous",
            RegistrationAuth::Authenticated => "authenticated",
        }
    }

    /// Parses a `subType` (anything but `anonymous` is authenticated, as `RegistrationAuth.fromString`).
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("anonymous") {
            RegistrationAuth::Anonymous
        } else {
            RegistrationAuth::Authenticated
        }
    }
}

/// What the caller is doing.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Creating a client from this (request) representation.
    Register(&'a Map<String, Value>),
    /// Replacing `current` with this (request) representation.
    Update(&'a Map<String, Value>, &'a ClientRepresentation),
    /// Reading a client.
    View,
    /// Deleting a client.
    Delete,
}

/// Where the request comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The caller's address.
    pub remote: Option<IpAddr>,
    /// The addresses the trusted host names resolve to.
    pub resolved: HashMap<String, Vec<IpAddr>>,
}

/// A policy said no: `Policy '<name>' rejected request to client-registration service.
/// Details: <detail>` (`ClientRegistrationPolicyException.getMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The component's name; `None` when the policy type is unknown.
    pub policy: Option<String>,
    /// What is wrong.
    pub detail: String,
}

impl Rejection {
    /// Keycloak's message.
    pub fn message(&self) -> String {
        match &self.policy {
            Some(p) => format!(
                "Policy '{p}' rejected request to client-registration service. Details: {}",
                self.detail
            ),
            None => self.detail.clone(),
        }
    }
}

/// The policies of a sub type, in the realm's order.
pub fn policies(
    realm: &RealmRepresentation,
    auth: RegistrationAuth,
) -> Vec<&ComponentRepresentation> {
    realm
        .components
        .as_ref()
        .and_then(|m| m.get(POLICY_TYPE))
        .into_iter()
        .flatten()
        .filter(|c| c.sub_type.as_deref() == Some(auth.key()))
        .collect()
}

fn list(c: &ComponentRepresentation, key: &str) -> Vec<String> {
    c.config
        .as_ref()
        .and_then(|m| m.get(key))
        .cloned()
        .unwrap_or_default()
}

/// `componentModel.get(key, default)` for a boolean.
fn flag(c: &ComponentRepresentation, key: &str, default: bool) -> bool {
    c.config
        .as_ref()
        .and_then(|m| m.get(key))
        .and_then(|v| v.first())
        .map(|v| v.trim().eq_ignore_ascii_case("true"))
        .unwrap_or(default)
}

/// The trusted host names of the `trusted-hosts` policies of a sub type that are not IP
/// literals or wildcards: what the handler resolves before calling [`before`].
pub fn names_to_resolve(realm: &RealmRepresentation, auth: RegistrationAuth) -> Vec<String> {
    policies(realm, auth)
        .into_iter()
        .filter(|c| c.provider_id.as_deref() == Some("trusted-hosts"))
        .flat_map(|c| list(c, "trusted-hosts"))
        .filter(|h| !h.starts_with("*.") && h.parse::<IpAddr>().is_err())
        .collect()
}

/// Runs the `before*` hooks of the policies of `auth` (`ClientRegistrationPolicyManager`).
pub fn before(
    realm: &RealmRepresentation,
    auth: RegistrationAuth,
    op: Op<'_>,
    origin: &Origin,
) -> Result<(), Rejection> {
    for c in policies(realm, auth) {
        let provider = c.provider_id.as_deref().unwrap_or_default();
        let reject = |detail: String| Rejection {
            policy: Some(c.name.clone().unwrap_or_default()),
            detail,
        };
        let result = match provider {
            "trusted-hosts" => trusted_hosts(c, op, origin),
            "consent-required" => keep_flag(op, Flag::ConsentRequired, true, false)
                .map_err(|_| "Not permitted to update consentRequired to false".to_string()),
            "scope" => keep_flag(op, Flag::FullScopeAllowed, false, true)
                .map_err(|_| "Not permitted to enable fullScopeAllowed".to_string()),
            "client-disabled" => keep_flag(op, Flag::Enabled, false, true)
                .map_err(|_| "Not permitted to enable client".to_string()),
            "max-clients" => max_clients(c, realm, op),
            "allowed-protocol-mappers" => protocol_mappers(c, op),
            "allowed-client-templates" => client_scopes(c, realm, op),
            // CORS of the registration endpoint: nothing to check here.
            "registration-web-origins" => Ok(()),
            other => {
                return Err(Rejection {
                    policy: None,
                    detail: format!("Policy of type '{other}' not found"),
                })
            }
        };
        result.map_err(reject)?;
    }
    Ok(())
}

/// The `afterRegister` hooks: consent required, full scope off, client disabled, and no
/// protocol mapper of a type the policy does not allow.
pub fn after_register(
    realm: &RealmRepresentation,
    auth: RegistrationAuth,
    client: &mut ClientRepresentation,
) {
    for c in policies(realm, auth) {
        match c.provider_id.as_deref().unwrap_or_default() {
            "consent-required" => client.consent_required = Some(true),
            "scope" => client.full_scope_allowed = Some(false),
            "client-disabled" => client.enabled = Some(false),
            "allowed-protocol-mappers" => {
                let allowed = list(c, "allowed-protocol-mapper-types");
                if let Some(l) = client.protocol_mappers.as_mut() {
                    l.retain(|m| {
                        m.get("protocolMapper")
                            .and_then(Value::as_str)
                            .is_some_and(|t| allowed.iter().any(|a| a == t))
                    });
                }
            }
            _ => {}
        }
    }
}

/// A client flag a policy guards.
#[derive(Debug, Clone, Copy)]
enum Flag {
    ConsentRequired,
    FullScopeAllowed,
    Enabled,
}

impl Flag {
    /// The field's name in a request, and its value (with Keycloak's default) in a client.
    fn of(self, c: &ClientRepresentation) -> (&'static str, bool) {
        match self {
            Flag::ConsentRequired => ("consentRequired", c.consent_required.unwrap_or(false)),
            Flag::FullScopeAllowed => ("fullScopeAllowed", c.full_scope_allowed.unwrap_or(true)),
            Flag::Enabled => ("enabled", c.enabled.unwrap_or(true)),
        }
    }
}

/// Consent required, full scope disabled, client disabled: on update, the flag may not move
/// from `from` to `to` (an absent field changes nothing).
fn keep_flag(op: Op<'_>, flag: Flag, from: bool, to: bool) -> Result<(), ()> {
    let Op::Update(req, current) = op else {
        return Ok(());
    };
    let (key, old) = flag.of(current);
    let Some(new) = req.get(key).and_then(Value::as_bool) else {
        return Ok(());
    };
    if old == from && new == to {
        Err(())
    } else {
        Ok(())
    }
}

fn max_clients(
    c: &ComponentRepresentation,
    realm: &RealmRepresentation,
    op: Op<'_>,
) -> Result<(), String> {
    if !matches!(op, Op::Register(_)) {
        return Ok(());
    }
    let max: usize = list(c, "max-clients")
        .first()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(200);
    let count = realm.clients.as_ref().map_or(0, Vec::len);
    if count >= max {
        return Err(format!("It's allowed to have max {max} clients per realm"));
    }
    Ok(())
}

fn protocol_mappers(c: &ComponentRepresentation, op: Op<'_>) -> Result<(), String> {
    let (req, current) = match op {
        Op::Register(r) => (r, None),
        Op::Update(r, cur) => (r, Some(cur)),
        _ => return Ok(()),
    };
    let Some(mappers) = req.get("protocolMappers").and_then(Value::as_array) else {
        return Ok(());
    };
    let allowed = list(c, "allowed-protocol-mapper-types");
    for m in mappers {
        let kind = m
            .get("protocolMapper")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if allowed.iter().any(|a| a == kind) {
            continue;
        }
        let Some(current) = current else {
            return Err("ProtocolMapper type not allowed".into());
        };
        // An existing mapper sent back unchanged may stay.
        let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Missing id for mapper named '{name}'"))?;
        let existing = current
            .protocol_mappers
            .as_ref()
            .and_then(|l| {
                l.iter()
                    .find(|x| x.get("id").and_then(Value::as_str) == Some(id))
            })
            .ok_or_else(|| format!("No existing mapper model found for id '{id}'"))?;
        if existing.get("config") != m.get("config") {
            return Err("ProtocolMapper type not allowed".into());
        }
    }
    Ok(())
}

fn names(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

fn client_scopes(
    c: &ComponentRepresentation,
    realm: &RealmRepresentation,
    op: Op<'_>,
) -> Result<(), String> {
    let (req, current) = match op {
        Op::Register(r) => (r, None),
        Op::Update(r, cur) => (r, Some(cur)),
        _ => return Ok(()),
    };
    let realm_json = serde_json::to_value(realm).unwrap_or(Value::Null);
    let allowed = |default: bool| -> Vec<String> {
        let mut out = list(c, "allowed-client-scopes");
        if flag(c, "allow-default-scopes", true) {
            let key = if default {
                "defaultDefaultClientScopes"
            } else {
                "defaultOptionalClientScopes"
            };
            out.extend(names(realm_json.get(key)).unwrap_or_default());
        }
        out
    };
    for (key, default) in [
        ("defaultClientScopes", true),
        ("optionalClientScopes", false),
    ] {
        let Some(mut requested) = names(req.get(key)) else {
            continue;
        };
        // Scopes the client already has may stay.
        if let Some(cur) = current {
            let had = if default {
                &cur.default_client_scopes
            } else {
                &cur.optional_client_scopes
            };
            requested.retain(|s| !had.iter().flatten().any(|h| h == s));
        }
        let ok = allowed(default);
        if requested.iter().any(|s| !ok.contains(s)) {
            return Err("Not permitted to use specified clientScope".into());
        }
    }
    Ok(())
}

fn trusted_domain(host: &str, trusted: &str) -> bool {
    match trusted.strip_prefix("*.") {
        Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
        None => host == trusted,
    }
}

/// `TrustedHostClientRegistrationPolicy.verifyHost`: the caller's address is one of the
/// trusted hosts (IP literals, or names resolved beforehand), or it is a loopback address and
/// `localhost` is trusted. Keycloak also accepts a caller whose reverse DNS name falls in a
/// trusted domain; Portcullis does no reverse lookups.
fn host_trusted(trusted: &[String], origin: &Origin) -> bool {
    let Some(remote) = origin.remote else {
        return false;
    };
    let remote = match remote {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(remote, IpAddr::V4),
        v4 => v4,
    };
    for t in trusted.iter().filter(|t| !t.starts_with("*.")) {
        if t.parse::<IpAddr>().ok() == Some(remote) {
            return true;
        }
        if origin
            .resolved
            .get(t)
            .is_some_and(|ips| ips.contains(&remote))
        {
            return true;
        }
    }
    remote.is_loopback() && trusted.iter().any(|t| trusted_domain("localhost", t))
}

fn host_of(u: &str) -> Option<String> {
    url::Url::parse(u)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
}

fn check_uri(u: &str, trusted: &[String], what: &str) -> Result<(), String> {
    if url::Url::parse(u).is_err() {
        return Err(format!("{what} is malformed"));
    }
    let ok = host_of(u).is_some_and(|h| trusted.iter().any(|t| trusted_domain(&h, t)));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} doesn't match any trusted host or trusted domain"
        ))
    }
}

fn trusted_hosts(c: &ComponentRepresentation, op: Op<'_>, origin: &Origin) -> Result<(), String> {
    let trusted = list(c, "trusted-hosts");
    if flag(c, "host-sending-registration-request-must-match", true)
        && !host_trusted(&trusted, origin)
    {
        return Err("Host not trusted.".into());
    }
    let req = match op {
        Op::Register(r) | Op::Update(r, _) => r,
        _ => return Ok(()),
    };
    if !flag(c, "client-uris-must-match", true) {
        return Ok(());
    }
    let s = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_string);
    let root = s("rootUrl");
    let absolute = |rel: Option<String>| -> Option<String> {
        let rel = rel?;
        if !rel.starts_with('/') {
            Some(rel)
        } else {
            root.as_ref()
                .filter(|r| !r.is_empty())
                .map(|r| format!("{r}{rel}"))
        }
    };
    let base = absolute(s("baseUrl"));
    let admin = absolute(s("adminUrl"));
    for u in [&root, &base, &admin].into_iter().flatten() {
        check_uri(u, &trusted, "URL")?;
    }
    for r in names(req.get("redirectUris")).unwrap_or_default() {
        if let Some(u) = absolute(Some(r)) {
            check_uri(&u, &trusted, "URI")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    fn realm(policies: Value) -> RealmRepresentation {
        serde_json::from_value(json!({
            "realm": "r",
            "clients": [{"clientId": "a"}, {"clientId": "b"}],
            "defaultDefaultClientScopes": ["profile", "email"],
            "defaultOptionalClientScopes": ["address"],
            "components": {POLICY_TYPE: policies}
        }))
        .unwrap()
    }

    fn req(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn local() -> Origin {
        Origin {
            remote: Some("127.0.0.1".parse().unwrap()),
            resolved: HashMap::new(),
        }
    }

    fn trusted(hosts: &[&str]) -> Value {
        json!([{"name": "Trusted Hosts", "providerId": "trusted-hosts", "subType": "anonymous",
                "config": {"trusted-hosts": hosts, "host-sending-registration-request-must-match": ["true"], "client-uris-must-match": ["true"]}}])
    }

    #[test]
    fn trusted_hosts_refuse_unknown_callers_and_foreign_uris() {
        let anon = RegistrationAuth::Anonymous;
        let r = realm(trusted(&[]));
        let body = req(json!({"redirectUris": ["http://localhost:3000/*"]}));
        let e = before(&r, anon, Op::Register(&body), &local()).unwrap_err();
        assert_eq!(
            e.message(),
            "Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."
        );

        let r = realm(trusted(&["localhost", "*.example.com"]));
        before(&r, anon, Op::Register(&body), &local()).unwrap();
        let ok = req(
            json!({"redirectUris": ["https://app.example.com/cb", "/rel"], "rootUrl": "https://example.com"}),
        );
        before(&r, anon, Op::Register(&ok), &local()).unwrap();
        let bad = req(json!({"redirectUris": ["https://evil.test/cb"]}));
        assert_eq!(
            before(&r, anon, Op::Register(&bad), &local())
                .unwrap_err()
                .detail,
            "URI doesn't match any trusted host or trusted domain"
        );
        let bad = req(json!({"baseUrl": "https://evil.test/"}));
        assert_eq!(
            before(&r, anon, Op::Register(&bad), &local())
                .unwrap_err()
                .detail,
            "URL doesn't match any trusted host or trusted domain"
        );
        // Another caller: not trusted unless its address is listed or resolved.
        let far = Origin {
            remote: Some("10.1.2.3".parse().unwrap()),
            resolved: HashMap::new(),
        };
        assert!(before(&r, anon, Op::View, &far).is_err());
        let resolved = Origin {
            remote: Some("10.1.2.3".parse().unwrap()),
            resolved: [("ci.internal".to_string(), vec!["10.1.2.3".parse().unwrap()])].into(),
        };
        let r = realm(trusted(&["ci.internal"]));
        before(&r, anon, Op::Delete, &resolved).unwrap();
        // The authenticated policies do not include it.
        before(
            &r,
            RegistrationAuth::Authenticated,
            Op::Register(&bad),
            &far,
        )
        .unwrap();
    }

    #[test]
    fn mappers_and_scopes_are_limited() {
        let auth = RegistrationAuth::Authenticated;
        let r = realm(json!([
            {"name": "Allowed Protocol Mapper Types", "providerId": "allowed-protocol-mappers", "subType": "authenticated",
             "config": {"allowed-protocol-mapper-types": ["oidc-full-name-mapper"]}},
            {"name": "Allowed Client Scopes", "providerId": "allowed-client-templates", "subType": "authenticated",
             "config": {"allow-default-scopes": ["true"]}}
        ]));
        let o = Origin::default();
        let fine = req(
            json!({"protocolMappers": [{"name": "n", "protocolMapper": "oidc-full-name-mapper"}],
                              "defaultClientScopes": ["profile"], "optionalClientScopes": ["address"]}),
        );
        before(&r, auth, Op::Register(&fine), &o).unwrap();
        let hardcoded = req(
            json!({"protocolMappers": [{"name": "admin", "protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "realm-management.realm-admin"}}]}),
        );
        let e = before(&r, auth, Op::Register(&hardcoded), &o).unwrap_err();
        assert_eq!(
            e.message(),
            "Policy 'Allowed Protocol Mapper Types' rejected request to client-registration service. Details: ProtocolMapper type not allowed"
        );
        let scope = req(json!({"optionalClientScopes": ["profile"]}));
        assert_eq!(
            before(&r, auth, Op::Register(&scope), &o)
                .unwrap_err()
                .detail,
            "Not permitted to use specified clientScope"
        );
        // On update, what the client already has may stay; a disallowed mapper must be the
        // existing one, unchanged.
        let current: ClientRepresentation = serde_json::from_value(json!({
            "clientId": "a", "optionalClientScopes": ["profile"],
            "protocolMappers": [{"id": "m1", "name": "admin", "protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "x"}}]
        })).unwrap();
        before(&r, auth, Op::Update(&scope, &current), &o).unwrap();
        let same = req(
            json!({"protocolMappers": [{"id": "m1", "name": "admin", "protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "x"}}]}),
        );
        before(&r, auth, Op::Update(&same, &current), &o).unwrap();
        let changed = req(
            json!({"protocolMappers": [{"id": "m1", "name": "admin", "protocolMapper": "oidc-hardcoded-role-mapper", "config": {"role": "y"}}]}),
        );
        assert!(before(&r, auth, Op::Update(&changed, &current), &o).is_err());
        assert_eq!(
            before(&r, auth, Op::Update(&hardcoded, &current), &o)
                .unwrap_err()
                .detail,
            "Missing id for mapper named 'admin'"
        );
    }

    #[test]
    fn flags_max_clients_and_after_register() {
        let anon = RegistrationAuth::Anonymous;
        let r = realm(json!([
            {"name": "Consent Required", "providerId": "consent-required", "subType": "anonymous", "config": {}},
            {"name": "Full Scope Disabled", "providerId": "scope", "subType": "anonymous", "config": {}},
            {"name": "Client Disabled", "providerId": "client-disabled", "subType": "anonymous", "config": {}},
            {"name": "Max Clients Limit", "providerId": "max-clients", "subType": "anonymous", "config": {"max-clients": ["2"]}},
            {"name": "Allowed Protocol Mapper Types", "providerId": "allowed-protocol-mappers", "subType": "anonymous", "config": {"allowed-protocol-mapper-types": []}}
        ]));
        let o = Origin::default();
        let body = req(json!({}));
        assert_eq!(
            before(&r, anon, Op::Register(&body), &o).unwrap_err().message(),
            "Policy 'Max Clients Limit' rejected request to client-registration service. Details: It's allowed to have max 2 clients per realm"
        );
        let mut c: ClientRepresentation =
            serde_json::from_value(json!({"clientId": "c", "fullScopeAllowed": true,
            "protocolMappers": [{"name": "x", "protocolMapper": "oidc-hardcoded-role-mapper"}]}))
            .unwrap();
        after_register(&r, anon, &mut c);
        assert_eq!(c.consent_required, Some(true));
        assert_eq!(c.full_scope_allowed, Some(false));
        assert_eq!(c.enabled, Some(false));
        assert_eq!(c.protocol_mappers, Some(vec![]));
        for (body, detail) in [
            (
                json!({"consentRequired": false}),
                "Not permitted to update consentRequired to false",
            ),
            (
                json!({"fullScopeAllowed": true}),
                "Not permitted to enable fullScopeAllowed",
            ),
            (json!({"enabled": true}), "Not permitted to enable client"),
        ] {
            let body = req(body);
            assert_eq!(
                before(&r, anon, Op::Update(&body, &c), &o)
                    .unwrap_err()
                    .detail,
                detail
            );
        }
        let unknown = realm(json!([{"name": "X", "providerId": "nope", "subType": "anonymous"}]));
        assert_eq!(
            before(&unknown, anon, Op::View, &o).unwrap_err().message(),
            "Policy of type 'nope' not found"
        );
    }
}
