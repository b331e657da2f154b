//! What Keycloak gives every new realm, filled into a realm file where it is missing:
//! built-in clients with their roles, client scopes with their mappers, the default role,
//! authentication flows, required actions and registration policies, and the realm-level
//! setting defaults. The data lives in `defaults/new-realm.json` (a realm as Keycloak 26
//! exports it right after creation, `${realm}` for its name); the import semantics follow
//! `RealmManager.importRealm` / `DefaultExportImportManager` (see `defaults/NOTES.md`).

use serde_json::{json, Map, Value};

use crate::crypto::password;

use super::import::ImportError;

const NEW_REALM: &str = include_str!("defaults/new-realm.json");
const MASTER_EXTRAS: &str = include_str!("defaults/master-extras.json");

/// A new realm as Keycloak exports it (every field set; `realm` for its name): the JSON type
/// of each `RealmRepresentation` field.
pub fn realm_template() -> &'static Map<String, Value> {
    static TEMPLATE: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut t = template(NEW_REALM, "realm").unwrap_or_default();
        // Fields a new realm leaves unset, with their `RealmRepresentation` types.
        for (k, v) in [
            ("displayName", json!("")),
            ("displayNameHtml", json!("")),
            ("defaultLocale", json!("")),
            ("loginTheme", json!("")),
            ("accountTheme", json!("")),
            ("adminTheme", json!("")),
            ("emailTheme", json!("")),
            ("passwordPolicy", json!("")),
            ("keycloakVersion", json!("")),
            ("supportedLocales", json!([])),
            ("defaultGroups", json!([])),
            ("users", json!([])),
            ("organizations", json!([])),
            ("attributes", json!({})),
            ("localizationTexts", json!({})),
            ("eventsExpiration", json!(0)),
            ("userCacheEnabled", json!(true)),
            ("realmCacheEnabled", json!(true)),
        ] {
            t.entry(k).or_insert(v);
        }
        t
    })
}

/// `RealmRepresentation` fields a new realm has or a Keycloak export may carry besides them.
pub fn realm_fields() -> &'static std::collections::BTreeSet<String> {
    static FIELDS: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut set: std::collections::BTreeSet<String> =
            serde_json::from_str::<Map<String, Value>>(NEW_REALM)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
        set.extend(
            [
                "id",
                "realm",
                "displayName",
                "displayNameHtml",
                "users",
                "federatedUsers",
                "organizations",
                "keycloakVersion",
                "defaultLocale",
                "supportedLocales",
                "loginTheme",
                "accountTheme",
                "adminTheme",
                "emailTheme",
                "passwordPolicy",
                "eventsExpiration",
                "userCacheEnabled",
                "realmCacheEnabled",
                "defaultGroups",
                "defaultRoles",
                "userFederationProviders",
                "userFederationMappers",
                "social",
                "socialProviders",
                "updateProfileOnInitialSocialLogin",
                "applications",
                "oauthClients",
                "clientTemplates",
                "codeSecret",
                "privateKey",
                "publicKey",
                "certificate",
                "adminPermissionsClient",
                "protocolMappers",
                "applicationScopeMappings",
                "attributes",
                "clientPolicies",
                "clientProfiles",
                "localizationTexts",
            ]
            .map(String::from),
        );
        set
    })
}

/// The roles of `realm-management` (and, less `realm-admin`, of master's `<realm>-realm`).
pub const REALM_MANAGEMENT_ROLES: &[&str] = &[
    "create-client",
    "impersonation",
    "manage-authorization",
    "manage-clients",
    "manage-events",
    "manage-identity-providers",
    "manage-realm",
    "manage-users",
    "query-clients",
    "query-groups",
    "query-realms",
    "query-users",
    "view-authorization",
    "view-clients",
    "view-events",
    "view-identity-providers",
    "view-realm",
    "view-users",
];

fn template(text: &str, realm: &str) -> Result<Map<String, Value>, ImportError> {
    // The default role is named after the realm in lower case (`RealmManager.setupRealmDefaults`).
    let filled = text
        .replace(
            "default-roles-${realm}",
            &format!("default-roles-{}", json_escape(&realm.to_lowercase())),
        )
        .replace("${realm}", &json_escape(realm));
    match serde_json::from_str(&filled) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ImportError::at(
            "$",
            "internal error: the built-in realm template is invalid",
        )),
    }
}

/// The new realm's defaults for `realm`: the built-in document, parsed once per process, cloned
/// with the realm's name put in place of `${realm}` (a realm created through the Admin API
/// costs a clone rather than a parse of the whole document).
fn new_realm(realm: &str) -> Result<Map<String, Value>, ImportError> {
    static PARSED: std::sync::OnceLock<Option<Map<String, Value>>> = std::sync::OnceLock::new();
    let parsed = PARSED.get_or_init(|| serde_json::from_str(NEW_REALM).ok());
    let Some(parsed) = parsed else {
        return Err(ImportError::at(
            "$",
            "internal error: the built-in realm template is invalid",
        ));
    };
    let mut v = Value::Object(parsed.clone());
    put_realm_name(&mut v, realm, &realm.to_lowercase());
    match v {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// Replaces `${realm}` in every string (and member name) of `v` with the realm's name, as
/// [`template`] does on the text: the default role is named after the realm in lower case.
fn put_realm_name(v: &mut Value, realm: &str, lower: &str) {
    const NAME: &str = "${realm}";
    let fill = |s: &str| {
        s.replace("default-roles-${realm}", &format!("default-roles-{lower}"))
            .replace(NAME, realm)
    };
    match v {
        Value::String(s) if s.contains(NAME) => *s = fill(s),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|x| put_realm_name(x, realm, lower)),
        Value::Object(m) => {
            if m.keys().any(|k| k.contains(NAME)) {
                *m = std::mem::take(m)
                    .into_iter()
                    .map(|(k, v)| (if k.contains(NAME) { fill(&k) } else { k }, v))
                    .collect();
            }
            m.values_mut().for_each(|x| put_realm_name(x, realm, lower));
        }
        _ => {}
    }
}

/// Escapes a string for use inside a JSON string literal (without the quotes).
fn json_escape(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn array_mut<'a>(obj: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    obj.get_mut(key).and_then(Value::as_array_mut)
}

/// Adds the template's items of `key` whose `id_field` is not yet present.
fn add_missing_by(
    obj: &mut Map<String, Value>,
    tpl: &Map<String, Value>,
    key: &str,
    id_field: &str,
) -> Vec<String> {
    let Some(items) = tpl.get(key).and_then(Value::as_array) else {
        return Vec::new();
    };
    if !obj.contains_key(key) || obj.get(key).map(Value::is_null).unwrap_or(false) {
        obj.insert(key.to_string(), json!([]));
    }
    let mut added = Vec::new();
    if let Some(list) = array_mut(obj, key) {
        for item in items {
            let name = item
                .get(id_field)
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !list
                .iter()
                .any(|x| x.get(id_field).and_then(Value::as_str) == Some(name))
            {
                list.push(item.clone());
                added.push(name.to_string());
            }
        }
    }
    added
}

/// Completes a realm object in place with what Keycloak would have created.
pub fn complete(obj: &mut Map<String, Value>, realm: &str) -> Result<(), ImportError> {
    let mut tpl = new_realm(realm)?;
    if realm == super::MASTER {
        master_template(&mut tpl)?;
    }
    let had_scopes = obj
        .get("clientScopes")
        .map(|v| !v.is_null())
        .unwrap_or(false);
    let had_flows = obj
        .get("authenticationFlows")
        .map(|v| !v.is_null())
        .unwrap_or(false);
    add_realm_settings(obj, &tpl);
    let added_clients = add_builtin_clients(obj, &mut tpl);
    if !had_scopes {
        add_builtin_client_scopes(obj, &tpl);
    }
    if !had_flows {
        add_builtin_flows(obj, &tpl);
    }
    if !obj.contains_key("requiredActions") {
        if let Some(v) = tpl.get("requiredActions") {
            obj.insert("requiredActions".into(), v.clone());
        }
    }
    add_builtin_roles(obj, &tpl, &added_clients);
    prune_missing_client_composites(obj);
    if !obj.contains_key("defaultRole") {
        if let Some(v) = tpl.get("defaultRole") {
            obj.insert("defaultRole".into(), v.clone());
        }
    }
    add_builtin_scope_mappings(obj, &tpl, had_scopes, &added_clients);
    add_builtin_components(obj, &tpl);
    // Clients created by the import without scope lists get the realm's default scopes
    // (ClientManager / RealmManager.addDefaultClientScopes).
    let realm_obj = Value::Object(obj.clone());
    if let Some(clients) = array_mut(obj, "clients") {
        for c in clients.iter_mut().filter_map(Value::as_object_mut) {
            complete_client(&realm_obj, c);
        }
    }
    if realm == super::MASTER {
        complete_master(obj)?;
    }
    Ok(())
}

/// Realm-level settings: absent fields take Keycloak's defaults (the collections are
/// completed by the other `add_builtin_*` steps).
fn add_realm_settings(obj: &mut Map<String, Value>, tpl: &Map<String, Value>) {
    for (k, v) in tpl {
        if matches!(
            k.as_str(),
            "roles"
                | "clients"
                | "clientScopes"
                | "defaultDefaultClientScopes"
                | "defaultOptionalClientScopes"
                | "authenticationFlows"
                | "authenticatorConfig"
                | "requiredActions"
                | "components"
                | "scopeMappings"
                | "clientScopeMappings"
                | "defaultRole"
        ) {
            continue;
        }
        if !obj.contains_key(k) {
            obj.insert(k.clone(), v.clone());
        }
    }
}

/// Built-in clients (RealmManager.setupRealmAdminManagement, setupAccountManagement,
/// setupBrokerService, setupAdminConsole, setupAdminCli): added only when absent; returns
/// the clientIds added. `account-console` is created together with `account` only
/// (`RealmManager.setupAccountManagement`), so it is dropped from `tpl` when the file has
/// its own `account`.
fn add_builtin_clients(obj: &mut Map<String, Value>, tpl: &mut Map<String, Value>) -> Vec<String> {
    let has_account = obj
        .get("clients")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|c| c.get("clientId").and_then(Value::as_str) == Some("account"))
        });
    if has_account {
        if let Some(list) = tpl.get_mut("clients").and_then(Value::as_array_mut) {
            list.retain(|c| c.get("clientId").and_then(Value::as_str) != Some("account-console"));
        }
    }
    add_missing_by(obj, tpl, "clients", "clientId")
}

/// Client scopes: the built-in ones, for a file that has none
/// (DefaultExportImportManager: `if (rep.getClientScopes() == null) createDefaultClientScopes`).
fn add_builtin_client_scopes(obj: &mut Map<String, Value>, tpl: &Map<String, Value>) {
    for key in [
        "clientScopes",
        "defaultDefaultClientScopes",
        "defaultOptionalClientScopes",
    ] {
        if let Some(v) = tpl.get(key) {
            obj.insert(key.to_string(), v.clone());
        }
    }
}

/// Authentication flows, their configs and the realm's flow bindings, for a file that has
/// no flows.
fn add_builtin_flows(obj: &mut Map<String, Value>, tpl: &Map<String, Value>) {
    for key in [
        "authenticationFlows",
        "authenticatorConfig",
        "browserFlow",
        "registrationFlow",
        "directGrantFlow",
        "resetCredentialsFlow",
        "clientAuthenticationFlow",
        "dockerAuthenticationFlow",
        "firstBrokerLoginFlow",
    ] {
        if let Some(v) = tpl.get(key) {
            obj.insert(key.to_string(), v.clone());
        }
    }
}

/// Roles: offline_access, uma_authorization and the default role always exist; built-in
/// clients that were added bring their roles.
fn add_builtin_roles(
    obj: &mut Map<String, Value>,
    tpl: &Map<String, Value>,
    added_clients: &[String],
) {
    let roles = obj.entry("roles").or_insert_with(|| json!({}));
    if roles.is_null() {
        *roles = json!({});
    }
    if let (Some(roles), Some(tpl_roles)) = (
        roles.as_object_mut(),
        tpl.get("roles").and_then(Value::as_object),
    ) {
        add_missing_by(roles, tpl_roles, "realm", "name");
        if let Some(tpl_client) = tpl_roles.get("client").and_then(Value::as_object) {
            let client = roles.entry("client").or_insert_with(|| json!({}));
            if let Some(client) = client.as_object_mut() {
                for name in added_clients {
                    if let Some(r) = tpl_client.get(name) {
                        client.entry(name.clone()).or_insert_with(|| r.clone());
                    }
                }
            }
        }
    }
}

/// Scope mappings of the built-in clients and client scopes that were added.
fn add_builtin_scope_mappings(
    obj: &mut Map<String, Value>,
    tpl: &Map<String, Value>,
    had_scopes: bool,
    added_clients: &[String],
) {
    if !had_scopes {
        if let Some(v) = tpl.get("scopeMappings") {
            obj.entry("scopeMappings").or_insert_with(|| v.clone());
        }
    }
    if let Some(tpl_csm) = tpl.get("clientScopeMappings").and_then(Value::as_object) {
        let csm = obj
            .entry("clientScopeMappings")
            .or_insert_with(|| json!({}));
        if let Some(csm) = csm.as_object_mut() {
            for (owner, v) in tpl_csm {
                if added_clients.contains(owner) {
                    csm.entry(owner.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
}

/// Component types Keycloak creates (client registration policies, ...) when absent.
fn add_builtin_components(obj: &mut Map<String, Value>, tpl: &Map<String, Value>) {
    if let Some(tpl_components) = tpl.get("components").and_then(Value::as_object) {
        let comps = obj.entry("components").or_insert_with(|| json!({}));
        if let Some(comps) = comps.as_object_mut() {
            for (kind, v) in tpl_components {
                comps.entry(kind.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

/// The protocol mappers of the client scopes a new realm gets (`builtinProtocolMappers` of
/// the server info), each once by name.
pub fn builtin_protocol_mappers() -> Vec<Value> {
    let Ok(tpl) = template(NEW_REALM, "realm") else {
        return Vec::new();
    };
    let mut out: Vec<Value> = Vec::new();
    for scope in tpl
        .get("clientScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for m in scope
            .get("protocolMappers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if m.get("protocol").and_then(Value::as_str) != Some("openid-connect") {
                continue;
            }
            let name = m.get("name");
            if !out.iter().any(|o| o.get("name") == name) {
                let mut m = m.clone();
                if let Some(o) = m.as_object_mut() {
                    o.remove("id");
                }
                out.push(m);
            }
        }
    }
    out
}

/// The defaults `ClientManager.createClient` adds to a client created through the Admin API
/// (not by import or partial import): when the request names a protocol, Keycloak runs that
/// protocol's `setupClientDefaults` over the request (`OIDCLoginProtocolFactory`); a field
/// the request left out (or sent as `null`) gets the value below. Without a protocol nothing
/// is added and the import defaults of [`complete_client`] apply.
pub fn admin_create_defaults(c: &mut Map<String, Value>) {
    let given = |c: &Map<String, Value>, k: &str| c.get(k).is_some_and(|v| !v.is_null());
    if c.get("protocol").and_then(Value::as_str) != Some("openid-connect") {
        return;
    }
    let root = c.get("rootUrl").and_then(Value::as_str).map(str::to_string);
    let has_redirects = c
        .get("redirectUris")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    if let (Some(root), false) = (root.as_deref(), has_redirects) {
        let pattern = if root.ends_with('/') {
            format!("{root}*")
        } else {
            format!("{root}/*")
        };
        c.insert("redirectUris".into(), json!([pattern]));
        c.insert("webOrigins".into(), json!([origin_of(&pattern)]));
    }
    if !given(c, "bearerOnly") && !given(c, "publicClient") {
        c.insert("publicClient".into(), json!(true));
        c.remove("secret");
    }
    if !given(c, "bearerOnly") {
        c.insert("bearerOnly".into(), json!(false));
    }
    if !given(c, "adminUrl") {
        if let Some(root) = root.filter(|r| r != "${authAdminUrl}" && r != "${authBaseUrl}") {
            c.insert("adminUrl".into(), json!(root));
        }
    }
    if let Some(only) = c.get("directGrantsOnly").and_then(Value::as_bool) {
        c.insert("standardFlowEnabled".into(), json!(!only));
        c.insert("directAccessGrantsEnabled".into(), json!(only));
    } else {
        for k in ["standardFlowEnabled", "directAccessGrantsEnabled"] {
            if !given(c, k) {
                c.insert(k.into(), json!(true));
            }
        }
    }
    for (k, v) in [
        ("implicitFlowEnabled", false),
        ("publicClient", true),
        ("frontchannelLogout", false),
    ] {
        if !given(c, k) {
            c.insert(k.into(), json!(v));
        }
    }
    let attrs = c.entry("attributes").or_insert_with(|| json!({}));
    if attrs.is_null() {
        *attrs = json!({});
    }
    if let Some(attrs) = attrs.as_object_mut() {
        if attrs
            .get("backchannel.logout.url")
            .is_none_or(Value::is_null)
        {
            attrs.insert("backchannel.logout.session.required".into(), json!("true"));
            attrs.insert(
                "backchannel.logout.revoke.offline.tokens".into(),
                json!("false"),
            );
        }
    }
}

/// `UriUtils.getOrigin`: scheme, host and port of a URL.
fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{}{}", &url[..i + 3], &rest[..end])
        }
        None => url.to_string(),
    }
}

/// Fills a client created by import or through the Admin API with Keycloak's defaults: the
/// fields `RepresentationToModel.createClient` sets, and the realm's default and optional
/// client scopes of its protocol when it names neither list (giving either replaces both).
pub fn complete_client(realm: &Value, c: &mut Map<String, Value>) {
    let defaults = string_list(realm.get("defaultDefaultClientScopes"));
    let optional = string_list(realm.get("defaultOptionalClientScopes"));
    let scope_protocol = |name: &str| -> String {
        realm
            .get("clientScopes")
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
            })
            .and_then(|s| s.get("protocol").and_then(Value::as_str))
            .unwrap_or("openid-connect")
            .to_string()
    };
    let consent = c
        .get("consentRequired")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // `RepresentationToModel.createClient`: without web origins, those of the http(s)
    // redirect URIs.
    if c.get("webOrigins").is_none_or(Value::is_null) {
        let origins: std::collections::BTreeSet<String> = string_list(c.get("redirectUris"))
            .iter()
            .filter(|u| u.starts_with("http"))
            .map(|u| origin_of(u))
            .collect();
        if !origins.is_empty() {
            c.insert("webOrigins".into(), json!(origins));
        }
    }
    for (k, v) in CLIENT_DEFAULTS.iter() {
        if !c.contains_key(*k) {
            c.insert(k.to_string(), v.clone());
        }
    }
    c.entry("fullScopeAllowed").or_insert(json!(!consent));
    c.entry("nodeReRegistrationTimeout").or_insert(json!(-1));
    if let Some(attrs) = c.get_mut("attributes").and_then(Value::as_object_mut) {
        attrs
            .entry("post.logout.redirect.uris")
            .or_insert(json!("+"));
    }
    let protocol = c
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("openid-connect")
        .to_string();
    let matching = |list: &[String]| -> Value {
        json!(list
            .iter()
            .filter(|n| scope_protocol(n) == protocol)
            .collect::<Vec<_>>())
    };
    match (
        c.contains_key("defaultClientScopes"),
        c.contains_key("optionalClientScopes"),
    ) {
        (false, false) => {
            c.insert("defaultClientScopes".into(), matching(&defaults));
            c.insert("optionalClientScopes".into(), matching(&optional));
        }
        (true, false) => {
            c.insert("optionalClientScopes".into(), json!([]));
        }
        (false, true) => {
            c.insert("defaultClientScopes".into(), json!([]));
        }
        (true, true) => {}
    }
}

/// Field values a client created by import has when the file leaves them out
/// (`RepresentationToModel.createClient` and the `ClientModel` defaults).
static CLIENT_DEFAULTS: std::sync::LazyLock<Vec<(&'static str, Value)>> =
    std::sync::LazyLock::new(|| {
        vec![
            ("surrogateAuthRequired", json!(false)),
            ("enabled", json!(true)),
            ("alwaysDisplayInConsole", json!(false)),
            ("clientAuthenticatorType", json!("client-secret")),
            ("redirectUris", json!([])),
            ("webOrigins", json!([])),
            ("notBefore", json!(0)),
            ("bearerOnly", json!(false)),
            ("consentRequired", json!(false)),
            ("standardFlowEnabled", json!(true)),
            ("implicitFlowEnabled", json!(false)),
            ("directAccessGrantsEnabled", json!(false)),
            ("serviceAccountsEnabled", json!(false)),
            ("publicClient", json!(false)),
            ("protocol", json!("openid-connect")),
            ("attributes", json!({})),
        ]
    });

/// Built-in realm roles (the default role) name client roles of built-in clients; where the
/// file brought its own client of that id without those roles, the composite is left out, as
/// Keycloak only links roles that exist.
fn prune_missing_client_composites(obj: &mut Map<String, Value>) {
    let Some(roles) = obj.get_mut("roles").and_then(Value::as_object_mut) else {
        return;
    };
    let existing: Vec<(String, String)> = roles
        .get("client")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .flat_map(|(c, list)| {
                    list.as_array().into_iter().flatten().filter_map(move |r| {
                        Some((c.clone(), r.get("name")?.as_str()?.to_string()))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    for r in roles
        .get_mut("realm")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(client) = r
            .get_mut("composites")
            .and_then(|c| c.get_mut("client"))
            .and_then(Value::as_object_mut)
        {
            for (c, names) in client.iter_mut() {
                if let Some(list) = names.as_array_mut() {
                    list.retain(|n| {
                        existing
                            .iter()
                            .any(|(ec, en)| ec == c && Some(en.as_str()) == n.as_str())
                    });
                }
            }
            client.retain(|_, names| names.as_array().is_some_and(|l| !l.is_empty()));
        }
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Master's differences from a new realm (`master-extras.json`): field overrides, and no
/// `realm-management` client or Organization flows.
fn master_template(tpl: &mut Map<String, Value>) -> Result<(), ImportError> {
    let extras = template(MASTER_EXTRAS, super::MASTER)?;
    if let Some(overrides) = extras.get("overrides").and_then(Value::as_object) {
        for (k, v) in overrides {
            tpl.insert(k.clone(), v.clone());
        }
    }
    let omit = extras.get("omitFromNewRealm");
    let names = |key: &str| -> Vec<String> { string_list(omit.and_then(|o| o.get(key))) };
    let (clients, client_roles, flows) = (
        names("clients"),
        names("clientRoles"),
        names("authenticationFlows"),
    );
    if let Some(list) = tpl.get_mut("clients").and_then(Value::as_array_mut) {
        list.retain(|c| {
            !clients
                .iter()
                .any(|n| Some(n.as_str()) == c.get("clientId").and_then(Value::as_str))
        });
    }
    if let Some(map) = tpl
        .get_mut("roles")
        .and_then(|r| r.get_mut("client"))
        .and_then(Value::as_object_mut)
    {
        map.retain(|k, _| !client_roles.contains(k));
    }
    if let Some(list) = tpl
        .get_mut("authenticationFlows")
        .and_then(Value::as_array_mut)
    {
        list.retain(|f| {
            !flows
                .iter()
                .any(|n| Some(n.as_str()) == f.get("alias").and_then(Value::as_str))
        });
    }
    Ok(())
}

/// The master realm's additions: `admin` and `create-realm` roles, admin-specific clients,
/// the relaxed user profile.
fn complete_master(obj: &mut Map<String, Value>) -> Result<(), ImportError> {
    let extras = template(MASTER_EXTRAS, super::MASTER)?;
    if let Some(tpl_components) = extras.get("components").and_then(Value::as_object) {
        let comps = obj.entry("components").or_insert_with(|| json!({}));
        if let Some(comps) = comps.as_object_mut() {
            for (kind, v) in tpl_components {
                comps.entry(kind.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if let Some(roles) = obj.get_mut("roles").and_then(Value::as_object_mut) {
        if let Some(tpl_roles) = extras.get("roles").and_then(Value::as_object) {
            add_missing_by(roles, tpl_roles, "realm", "name");
        }
    }
    let added = add_missing_by(obj, &extras, "clients", "clientId");
    if let (Some(client_roles), Some(tpl)) = (
        obj.get_mut("roles")
            .and_then(|r| r.get_mut("client"))
            .and_then(Value::as_object_mut),
        extras
            .get("roles")
            .and_then(|r| r.get("client"))
            .and_then(Value::as_object),
    ) {
        for name in &added {
            if let Some(r) = tpl.get(name) {
                client_roles
                    .entry(name.clone())
                    .or_insert_with(|| r.clone());
            }
        }
    }
    Ok(())
}

/// A fresh master realm (before the bootstrap admin), with its own `master-realm` client (the
/// other realms' admin clients are implied: [`super::admin_clients`]).
pub fn master_realm_json() -> Value {
    // Master's own settings (display name, 60 s access tokens, ...) come from master-extras.json.
    let mut realm = json!({ "realm": super::MASTER, "enabled": true });
    if let Some(obj) = realm.as_object_mut() {
        add_admin_client_to(obj, super::MASTER);
    }
    realm
}

/// Adds the bootstrap administrator: a master user with the `admin` role and a password.
pub fn add_bootstrap_admin(
    realm: &mut Value,
    username: &str,
    password_plain: &str,
) -> Result<(), ImportError> {
    let hashed = password::hash(password_plain).map_err(|e| ImportError::at("users", e.0))?;
    let user = json!({
        "username": username.to_lowercase(),
        "enabled": true,
        "emailVerified": false,
        "createdTimestamp": now_millis(),
        "totp": false,
        "credentials": [{
            "type": "password",
            "createdDate": now_millis(),
            "secretData": hashed.secret_data,
            "credentialData": hashed.credential_data
        }],
        "disableableCredentialTypes": [],
        "requiredActions": [],
        "realmRoles": ["admin", format!("default-roles-{}", super::MASTER)],
        "attributes": { "is_temporary_admin": ["true"] },
        "notBefore": 0,
        "groups": []
    });
    if let Some(obj) = realm.as_object_mut() {
        obj.entry("users").or_insert_with(|| json!([]));
        if let Some(users) = array_mut(obj, "users") {
            users.push(user);
        }
    }
    Ok(())
}

use crate::clock::now_millis;

/// Adds master's `<realm>-realm` client (the cross-realm admin client) with its roles, and
/// makes master's `admin` role a composite of them. Returns false when it already exists.
fn add_admin_client_to(master: &mut Map<String, Value>, realm: &str) -> bool {
    let client_id = format!("{realm}-realm");
    let clients = master.entry("clients").or_insert_with(|| json!([]));
    let Some(clients) = clients.as_array_mut() else {
        return false;
    };
    if clients
        .iter()
        .any(|c| c.get("clientId").and_then(Value::as_str) == Some(client_id.as_str()))
    {
        return false;
    }
    clients.push(json!({
        "clientId": client_id,
        "name": format!("{realm} Realm"),
        "surrogateAuthRequired": false,
        "enabled": true,
        "alwaysDisplayInConsole": false,
        "clientAuthenticatorType": "client-secret",
        "redirectUris": [],
        "webOrigins": [],
        "notBefore": 0,
        "bearerOnly": true,
        "consentRequired": false,
        "standardFlowEnabled": true,
        "implicitFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": false,
        "publicClient": false,
        "frontchannelLogout": false,
        "attributes": {},
        "authenticationFlowBindingOverrides": {},
        "fullScopeAllowed": false,
        "nodeReRegistrationTimeout": 0,
        "defaultClientScopes": [],
        "optionalClientScopes": []
    }));
    let mut roles: Vec<Value> = REALM_MANAGEMENT_ROLES
        .iter()
        .map(|r| json!({"name": r, "description": format!("${{role_{r}}}"), "composite": false, "clientRole": true, "attributes": {}}))
        .collect();
    // Composites as in realm-management: view-users and view-clients include their query roles.
    for r in roles.iter_mut() {
        let composites = match r["name"].as_str() {
            Some("view-users") => Some(vec!["query-users", "query-groups"]),
            Some("view-clients") => Some(vec!["query-clients"]),
            _ => None,
        };
        if let Some(list) = composites {
            r["composite"] = json!(true);
            r["composites"] = json!({ "client": { client_id.clone(): list } });
        }
    }
    let all_roles = master.entry("roles").or_insert_with(|| json!({}));
    if let Some(all_roles) = all_roles.as_object_mut() {
        let client = all_roles.entry("client").or_insert_with(|| json!({}));
        if let Some(client) = client.as_object_mut() {
            client.insert(client_id.clone(), Value::Array(roles));
        }
        if let Some(admin) = all_roles
            .get_mut("realm")
            .and_then(Value::as_array_mut)
            .and_then(|l| {
                l.iter_mut()
                    .find(|r| r.get("name").and_then(Value::as_str) == Some("admin"))
            })
        {
            admin["composite"] = json!(true);
            let composites = admin
                .as_object_mut()
                .map(|a| a.entry("composites").or_insert_with(|| json!({})));
            if let Some(composites) = composites.and_then(Value::as_object_mut) {
                let client = composites.entry("client").or_insert_with(|| json!({}));
                if let Some(client) = client.as_object_mut() {
                    client.insert(client_id, json!(REALM_MANAGEMENT_ROLES));
                }
            }
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod parsed_once_tests {
    use super::*;

    #[test]
    fn the_parsed_template_equals_the_text_template() {
        for name in ["acme", "Tenant-00042", "caf\u{e9} \"quoted\" \\ back"] {
            assert_eq!(
                new_realm(name).unwrap(),
                template(NEW_REALM, name).unwrap(),
                "{name}"
            );
        }
        assert_eq!(
            new_realm("Acme").unwrap()["defaultRole"]["name"],
            "default-roles-acme"
        );
    }
}
