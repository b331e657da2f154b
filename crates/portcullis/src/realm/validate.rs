//! Checks that a realm is consistent before anything is written: unique client ids, role,
//! scope, group and client references that resolve, well-formed redirect URIs. Each error
//! names the JSON path of the offending field.

use std::collections::{HashMap, HashSet};

use crate::representation::{GroupRepresentation, RealmRepresentation};

use super::import::ImportError;

/// A realm name Keycloak would accept in a URL path segment.
pub fn realm_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("the realm name must not be empty".into());
    }
    if name.len() > 255 {
        return Err("the realm name is longer than 255 characters".into());
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '/' | '\\' | '?' | '#' | '%'))
    {
        return Err(format!("the realm name '{name}' contains a character that is not allowed in a URL (/, \\, ?, #, % or a control character)"));
    }
    if name == "." || name == ".." {
        return Err(format!("the realm name '{name}' is not allowed"));
    }
    Ok(())
}

/// A redirect URI as Keycloak accepts it: `*`, `+`, a path relative to the root URL, or an
/// absolute URI (optionally ending in the `*` wildcard). `javascript:` and `data:` are refused.
pub fn redirect_uri(uri: &str) -> Result<(), String> {
    // Keycloak keeps (and ignores when matching) empty entries; real exports contain them.
    if uri.is_empty() || uri == "*" || uri == "+" || uri == "-" {
        return Ok(());
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("malformed redirect URI '{uri}'"));
    }
    let base = uri.strip_suffix('*').unwrap_or(uri);
    if base.starts_with('/') {
        return url::Url::parse("http://relative.invalid")
            .and_then(|b| b.join(base))
            .map(|_| ())
            .map_err(|e| format!("malformed redirect URI '{uri}': {e}"));
    }
    let parsed =
        url::Url::parse(base).map_err(|e| format!("malformed redirect URI '{uri}': {e}"))?;
    if matches!(parsed.scheme(), "javascript" | "data") {
        return Err(format!(
            "redirect URI '{uri}' uses the forbidden scheme '{}'",
            parsed.scheme()
        ));
    }
    if parsed.fragment().is_some() {
        return Err(format!("redirect URI '{uri}' must not contain a fragment"));
    }
    Ok(())
}

/// Role names of each client, by clientId.
type ClientRoles<'a> = HashMap<&'a str, HashSet<&'a str>>;

struct Index<'a> {
    realm_roles: HashSet<&'a str>,
    client_roles: ClientRoles<'a>,
    clients: HashSet<&'a str>,
    scopes: HashSet<&'a str>,
    group_paths: HashSet<String>,
    /// Master's document: the per-realm admin clients' roles exist by rule.
    master: bool,
}

fn err(path: String, msg: String) -> ImportError {
    ImportError::at(path, msg)
}

impl<'a> Index<'a> {
    fn realm_role(&self, path: String, name: &str) -> Result<(), ImportError> {
        if self.realm_roles.contains(name) {
            Ok(())
        } else {
            Err(err(path, format!("realm role '{name}' does not exist")))
        }
    }
    fn client_role(&self, path: String, client: &str, name: &str) -> Result<(), ImportError> {
        match self.client_roles.get(client) {
            Some(roles) if roles.contains(name) => Ok(()),
            // Master's per-realm admin clients are implied (`admin_clients`).
            None if self.master && super::admin_clients::is_role(client, name) => Ok(()),
            _ if !self.clients.contains(client) => {
                Err(err(path, format!("client '{client}' does not exist")))
            }
            _ => Err(err(
                path,
                format!("client role '{client}/{name}' does not exist"),
            )),
        }
    }
    fn client_role_map(
        &self,
        path: &str,
        map: Option<&indexmap::IndexMap<String, Vec<String>>>,
    ) -> Result<(), ImportError> {
        for (client, roles) in map.into_iter().flatten() {
            for (k, r) in roles.iter().enumerate() {
                self.client_role(format!("{path}.{client}[{k}]"), client, r)?;
            }
        }
        Ok(())
    }
    /// Keycloak ignores a client-scope reference that does not resolve, with a warning
    /// (`RepresentationToModel.addClientScopeToClient`, `DefaultExportImportManager.importRealm`:
    /// "Referenced client scope '%s' doesn't exist. Ignoring"); so do we, keeping the name.
    fn scope(&self, path: String, name: &str, warnings: &mut Vec<String>) {
        if !self.scopes.contains(name) {
            warnings.push(format!(
                "{path}: referenced client scope '{name}' does not exist; ignoring it"
            ));
        }
    }
}

fn collect_groups(
    list: &[GroupRepresentation],
    parent: &str,
    path: &str,
    out: &mut HashSet<String>,
) -> Result<(), ImportError> {
    let mut seen = HashSet::new();
    for (i, g) in list.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let name = g
            .name
            .as_deref()
            .ok_or_else(|| err(format!("{here}.name"), "group name is required".into()))?;
        if !seen.insert(name) {
            return Err(err(
                format!("{here}.name"),
                format!(
                    "duplicate group '{name}' under '{}'",
                    if parent.is_empty() { "/" } else { parent }
                ),
            ));
        }
        let full = format!("{parent}/{name}");
        if let Some(subs) = &g.sub_groups {
            collect_groups(subs, &full, &format!("{here}.subGroups"), out)?;
        }
        out.insert(full);
    }
    Ok(())
}

fn check_groups(
    ix: &Index<'_>,
    list: &[GroupRepresentation],
    path: &str,
) -> Result<(), ImportError> {
    for (i, g) in list.iter().enumerate() {
        let here = format!("{path}[{i}]");
        for (k, r) in g.realm_roles.iter().flatten().enumerate() {
            ix.realm_role(format!("{here}.realmRoles[{k}]"), r)?;
        }
        ix.client_role_map(&format!("{here}.clientRoles"), g.client_roles.as_ref())?;
        if let Some(subs) = &g.sub_groups {
            check_groups(ix, subs, &format!("{here}.subGroups"))?;
        }
    }
    Ok(())
}

/// Every cross-reference in the realm resolves; returns warnings for the references
/// Keycloak tolerates (client scopes).
pub fn references(rep: &RealmRepresentation) -> Result<Vec<String>, ImportError> {
    let mut warnings = Vec::new();
    let ix = index(rep)?;
    role_composites(&ix, rep)?;
    if let Some(name) = rep.default_role.as_ref().and_then(|r| r.name.as_deref()) {
        ix.realm_role("defaultRole.name".into(), name)?;
    }
    check_groups(&ix, rep.groups.as_deref().unwrap_or_default(), "groups")?;
    client_scope_references(&ix, rep, &mut warnings);
    scope_mappings(&ix, rep)?;
    organizations(rep, &mut warnings)?;
    users(&ix, rep)?;
    // The flows must be runnable: known providers, existing sub-flows, configs and bindings.
    crate::model::flows::compile(rep).map_err(|e| err(e.path, e.message))?;
    Ok(warnings)
}

/// Collects the names the realm defines (clients, client scopes, roles, group paths),
/// refusing missing and duplicate names, in that order.
fn index(rep: &RealmRepresentation) -> Result<Index<'_>, ImportError> {
    let clients = index_clients(rep)?;
    let scopes = index_client_scopes(rep)?;
    let (realm_roles, client_roles) = index_roles(rep, &clients)?;
    let mut group_paths = HashSet::new();
    collect_groups(
        rep.groups.as_deref().unwrap_or_default(),
        "",
        "groups",
        &mut group_paths,
    )?;
    Ok(Index {
        realm_roles,
        client_roles,
        clients,
        scopes,
        group_paths,
        master: rep.realm.as_deref() == Some(super::MASTER),
    })
}

/// Client ids: present and unique, with well-formed redirect URIs.
fn index_clients(rep: &RealmRepresentation) -> Result<HashSet<&str>, ImportError> {
    let mut clients = HashSet::new();
    for (i, c) in rep.clients.iter().flatten().enumerate() {
        let id = c.client_id.as_deref().ok_or_else(|| {
            err(
                format!("clients[{i}].clientId"),
                "clientId is required".into(),
            )
        })?;
        if !clients.insert(id) {
            return Err(err(
                format!("clients[{i}].clientId"),
                format!("duplicate clientId '{id}'"),
            ));
        }
        for (j, uri) in c.redirect_uris.iter().flatten().enumerate() {
            redirect_uri(uri).map_err(|m| err(format!("clients[{i}].redirectUris[{j}]"), m))?;
        }
    }
    Ok(clients)
}

/// Client scope names: present and unique.
fn index_client_scopes(rep: &RealmRepresentation) -> Result<HashSet<&str>, ImportError> {
    let mut scopes = HashSet::new();
    for (i, s) in rep.client_scopes.iter().flatten().enumerate() {
        let name = s
            .name
            .as_deref()
            .ok_or_else(|| err(format!("clientScopes[{i}].name"), "name is required".into()))?;
        if !scopes.insert(name) {
            return Err(err(
                format!("clientScopes[{i}].name"),
                format!("duplicate client scope '{name}'"),
            ));
        }
    }
    Ok(scopes)
}

/// Realm and client role names, present and unique; client roles belong to a known client.
fn index_roles<'a>(
    rep: &'a RealmRepresentation,
    clients: &HashSet<&str>,
) -> Result<(HashSet<&'a str>, ClientRoles<'a>), ImportError> {
    let mut realm_roles = HashSet::new();
    let mut client_roles: ClientRoles<'a> = HashMap::new();
    if let Some(roles) = &rep.roles {
        for (i, r) in roles.realm.iter().flatten().enumerate() {
            let name = r.name.as_deref().ok_or_else(|| {
                err(
                    format!("roles.realm[{i}].name"),
                    "role name is required".into(),
                )
            })?;
            if !realm_roles.insert(name) {
                return Err(err(
                    format!("roles.realm[{i}].name"),
                    format!("duplicate realm role '{name}'"),
                ));
            }
        }
        for (client, list) in roles.client.iter().flatten() {
            if !clients.contains(client.as_str()) {
                return Err(err(
                    format!("roles.client.{client}"),
                    format!("client '{client}' does not exist"),
                ));
            }
            let set = client_roles.entry(client.as_str()).or_default();
            for (i, r) in list.iter().enumerate() {
                let name = r.name.as_deref().ok_or_else(|| {
                    err(
                        format!("roles.client.{client}[{i}].name"),
                        "role name is required".into(),
                    )
                })?;
                if !set.insert(name) {
                    return Err(err(
                        format!("roles.client.{client}[{i}].name"),
                        format!("duplicate role '{name}' of client '{client}'"),
                    ));
                }
            }
        }
    }
    Ok((realm_roles, client_roles))
}

/// The composites of realm and client roles name existing roles.
fn role_composites(ix: &Index<'_>, rep: &RealmRepresentation) -> Result<(), ImportError> {
    if let Some(roles) = &rep.roles {
        let composite_check = |path: String,
                               r: &crate::representation::RoleRepresentation|
         -> Result<(), ImportError> {
            if let Some(c) = &r.composites {
                for (k, name) in c.realm.iter().flatten().enumerate() {
                    ix.realm_role(format!("{path}.composites.realm[{k}]"), name)?;
                }
                ix.client_role_map(&format!("{path}.composites.client"), c.client.as_ref())?;
            }
            Ok(())
        };
        for (i, r) in roles.realm.iter().flatten().enumerate() {
            composite_check(format!("roles.realm[{i}]"), r)?;
        }
        for (client, list) in roles.client.iter().flatten() {
            for (i, r) in list.iter().enumerate() {
                composite_check(format!("roles.client.{client}[{i}]"), r)?;
            }
        }
    }
    Ok(())
}

/// Client-scope references of clients and of the realm's default lists: warnings only.
fn client_scope_references(ix: &Index<'_>, rep: &RealmRepresentation, warnings: &mut Vec<String>) {
    for (i, c) in rep.clients.iter().flatten().enumerate() {
        for (j, s) in c.default_client_scopes.iter().flatten().enumerate() {
            ix.scope(
                format!("clients[{i}].defaultClientScopes[{j}]"),
                s,
                warnings,
            );
        }
        for (j, s) in c.optional_client_scopes.iter().flatten().enumerate() {
            ix.scope(
                format!("clients[{i}].optionalClientScopes[{j}]"),
                s,
                warnings,
            );
        }
    }
    for (j, s) in rep
        .default_default_client_scopes
        .iter()
        .flatten()
        .enumerate()
    {
        ix.scope(format!("defaultDefaultClientScopes[{j}]"), s, warnings);
    }
    for (j, s) in rep
        .default_optional_client_scopes
        .iter()
        .flatten()
        .enumerate()
    {
        ix.scope(format!("defaultOptionalClientScopes[{j}]"), s, warnings);
    }
}

/// `scopeMappings` and `clientScopeMappings`: the target client or client scope exists, and
/// so do the mapped realm roles (resp. the owner's client roles).
fn scope_mappings(ix: &Index<'_>, rep: &RealmRepresentation) -> Result<(), ImportError> {
    let mapping_target = |path: String,
                          m: &crate::representation::ScopeMappingRepresentation|
     -> Result<(), ImportError> {
        match (&m.client, &m.client_scope) {
            (Some(c), _) if !ix.clients.contains(c.as_str()) => Err(err(
                format!("{path}.client"),
                format!("client '{c}' does not exist"),
            )),
            (None, Some(s)) if !ix.scopes.contains(s.as_str()) => Err(err(
                format!("{path}.clientScope"),
                format!("client scope '{s}' does not exist"),
            )),
            _ => Ok(()),
        }
    };
    for (i, m) in rep.scope_mappings.iter().flatten().enumerate() {
        mapping_target(format!("scopeMappings[{i}]"), m)?;
        for (k, r) in m.roles.iter().flatten().enumerate() {
            ix.realm_role(format!("scopeMappings[{i}].roles[{k}]"), r)?;
        }
    }
    for (owner, list) in rep.client_scope_mappings.iter().flatten() {
        for (i, m) in list.iter().enumerate() {
            mapping_target(format!("clientScopeMappings.{owner}[{i}]"), m)?;
            for (k, r) in m.roles.iter().flatten().enumerate() {
                ix.client_role(
                    format!("clientScopeMappings.{owner}[{i}].roles[{k}]"),
                    owner,
                    r,
                )?;
            }
        }
    }
    Ok(())
}

/// Users: a unique username (case-insensitively), existing roles and groups, and an existing
/// client for a service account.
fn users(ix: &Index<'_>, rep: &RealmRepresentation) -> Result<(), ImportError> {
    let mut usernames = HashSet::new();
    for (i, u) in rep.users.iter().flatten().enumerate() {
        let here = format!("users[{i}]");
        let name = u
            .username
            .as_deref()
            .ok_or_else(|| err(format!("{here}.username"), "username is required".into()))?;
        if !usernames.insert(name.to_lowercase()) {
            return Err(err(
                format!("{here}.username"),
                format!("duplicate username '{name}'"),
            ));
        }
        for (k, r) in u.realm_roles.iter().flatten().enumerate() {
            ix.realm_role(format!("{here}.realmRoles[{k}]"), r)?;
        }
        ix.client_role_map(&format!("{here}.clientRoles"), u.client_roles.as_ref())?;
        for (k, g) in u.groups.iter().flatten().enumerate() {
            let path = if g.starts_with('/') {
                g.clone()
            } else {
                format!("/{g}")
            };
            if !ix.group_paths.contains(&path) {
                return Err(err(
                    format!("{here}.groups[{k}]"),
                    format!("group '{g}' does not exist"),
                ));
            }
        }
        if let Some(c) = &u.service_account_client_id {
            if !ix.clients.contains(c.as_str()) {
                return Err(err(
                    format!("{here}.serviceAccountClientId"),
                    format!("client '{c}' does not exist"),
                ));
            }
        }
    }
    Ok(())
}

/// `organizations` (Keycloak 26 `OrganizationRepresentation`): objects with a `name`, names
/// and aliases (the alias defaults to the name) unique, `attributes` lists of strings,
/// `members` naming users by `username`. A member the realm file does not list as a user is a
/// warning, as the users may come from another file.
fn organizations(rep: &RealmRepresentation, warnings: &mut Vec<String>) -> Result<(), ImportError> {
    use serde_json::Value;
    let list = match rep.extra.get("organizations") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(err("organizations".into(), "must be an array".into())),
    };
    let users: Option<HashSet<String>> = rep.users.as_ref().map(|u| {
        u.iter()
            .filter_map(|u| u.username.as_deref().map(str::to_lowercase))
            .collect()
    });
    let mut names = HashSet::new();
    let mut aliases = HashSet::new();
    for (i, o) in list.iter().enumerate() {
        let here = format!("organizations[{i}]");
        let o = o
            .as_object()
            .ok_or_else(|| err(here.clone(), "expected an organization object".into()))?;
        let text = |key: &str| -> Result<Option<&str>, ImportError> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(err(format!("{here}.{key}"), "must be a string".into())),
            }
        };
        text("id")?;
        let name = text("name")?
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| err(format!("{here}.name"), "name is required".into()))?;
        if !names.insert(name) {
            return Err(err(
                format!("{here}.name"),
                format!("duplicate organization name '{name}'"),
            ));
        }
        let alias = text("alias")?
            .filter(|a| !a.trim().is_empty())
            .unwrap_or(name);
        if !aliases.insert(alias) {
            return Err(err(
                format!("{here}.alias"),
                format!("duplicate organization alias '{alias}'"),
            ));
        }
        if !matches!(o.get("enabled"), None | Some(Value::Null | Value::Bool(_))) {
            return Err(err(format!("{here}.enabled"), "must be a boolean".into()));
        }
        match o.get("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(attrs)) => {
                for (k, v) in attrs {
                    let ok = match v {
                        Value::String(_) => true,
                        Value::Array(values) => values.iter().all(Value::is_string),
                        _ => false,
                    };
                    if !ok {
                        return Err(err(
                            format!("{here}.attributes.{k}"),
                            "must be a list of strings".into(),
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(err(
                    format!("{here}.attributes"),
                    "must be an object".into(),
                ))
            }
        }
        let members = match o.get("members") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(m)) => m,
            Some(_) => return Err(err(format!("{here}.members"), "must be an array".into())),
        };
        for (k, m) in members.iter().enumerate() {
            let username = m
                .get("username")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    err(
                        format!("{here}.members[{k}].username"),
                        "username is required".into(),
                    )
                })?;
            if users
                .as_ref()
                .is_some_and(|u| !u.contains(&username.to_lowercase()))
            {
                warnings.push(format!(
                    "{here}.members[{k}]: user '{username}' is not in the realm file"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for ok in [
            "*",
            "+",
            "/app/*",
            "https://app.example.com/cb",
            "https://app.example.com/*",
            "myapp://callback",
            "http://localhost:3000/*",
        ] {
            redirect_uri(ok).unwrap();
        }
        for bad in [
            "not a uri",
            "javascript:alert(1)",
            "https://a.example.com/cb#frag",
            "https://exa mple.com",
            "noscheme",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn realm_names() {
        realm_name("tenant-a").unwrap();
        realm_name("CX-Central").unwrap();
        for bad in ["", " ", "a/b", "..", "a%2f"] {
            assert!(realm_name(bad).is_err(), "{bad}");
        }
    }

    fn rep(json: serde_json::Value) -> RealmRepresentation {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn unresolved_references_name_their_path() {
        let cases = [
            (
                serde_json::json!({"clients":[{"clientId":"a"},{"clientId":"a"}]}),
                "clients[1].clientId",
            ),
            (
                serde_json::json!({"users":[{"username":"u","realmRoles":["nope"]}]}),
                "users[0].realmRoles[0]",
            ),
            (
                serde_json::json!({"users":[{"username":"u","groups":["/missing"]}]}),
                "users[0].groups[0]",
            ),
            (
                serde_json::json!({"scopeMappings":[{"clientScope":"x","roles":[]}]}),
                "scopeMappings[0].clientScope",
            ),
            (
                serde_json::json!({"roles":{"realm":[{"name":"r","composites":{"client":{"a":["x"]}}}]}}),
                "roles.realm[0].composites.client.a[0]",
            ),
            (
                serde_json::json!({"clients":[{"clientId":"a","redirectUris":["ok://x","bad uri"]}]}),
                "clients[0].redirectUris[1]",
            ),
            (
                serde_json::json!({"groups":[{"name":"g","subGroups":[{"name":"s","realmRoles":["r"]}]}]}),
                "groups[0].subGroups[0].realmRoles[0]",
            ),
        ];
        for (json, path) in cases {
            let e = references(&rep(json)).unwrap_err();
            assert_eq!(e.path, path, "{e}");
        }
    }

    #[test]
    fn resolved_references_pass() {
        let r = rep(serde_json::json!({
            "roles": {"realm": [{"name": "r"}], "client": {"a": [{"name": "x"}]}},
            "clients": [{"clientId": "a", "redirectUris": ["/cb"]}],
            "groups": [{"name": "g", "subGroups": [{"name": "s", "realmRoles": ["r"], "clientRoles": {"a": ["x"]}}]}],
            "users": [{"username": "u", "groups": ["/g/s"], "realmRoles": ["r"], "clientRoles": {"a": ["x"]}}]
        }));
        assert!(references(&r).unwrap().is_empty());
    }

    #[test]
    fn unknown_client_scopes_are_tolerated_with_a_warning_like_keycloak() {
        let r = rep(serde_json::json!({"clients":[{"clientId":"a","defaultClientScopes":["x"]}]}));
        let w = references(&r).unwrap();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("clients[0].defaultClientScopes[0]"),
            "{w:?}"
        );
    }

    #[test]
    fn organizations_are_checked() {
        let ok = rep(serde_json::json!({
            "users": [{"username": "alice"}],
            "organizations": [
                {"name": "Acme", "alias": "acme", "attributes": {"tier": ["gold"]}, "members": [{"username": "Alice"}]},
                {"name": "globex", "members": [{"username": "ghost", "membershipType": "MANAGED"}]}
            ]
        }));
        let w = references(&ok).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("organizations[1].members[0]") && w[0].contains("ghost"));
        for (json, path) in [
            (serde_json::json!({"organizations": {}}), "organizations"),
            (
                serde_json::json!({"organizations": [{"alias": "a"}]}),
                "organizations[0].name",
            ),
            (
                serde_json::json!({"organizations": [{"name": "a"}, {"name": "b", "alias": "a"}]}),
                "organizations[1].alias",
            ),
            (
                serde_json::json!({"organizations": [{"name": "a"}, {"name": "a", "alias": "b"}]}),
                "organizations[1].name",
            ),
            (
                serde_json::json!({"organizations": [{"name": "a", "attributes": {"k": [1]}}]}),
                "organizations[0].attributes.k",
            ),
            (
                serde_json::json!({"organizations": [{"name": "a", "members": [{}]}]}),
                "organizations[0].members[0].username",
            ),
            (
                serde_json::json!({"organizations": [{"name": "a", "enabled": "yes"}]}),
                "organizations[0].enabled",
            ),
        ] {
            let e = references(&rep(json)).unwrap_err();
            assert_eq!(e.path, path, "{e}");
        }
    }
}
