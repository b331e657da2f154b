//! Realm import: Keycloak's `RealmRepresentation` JSON in, a validated realm out, ready to
//! be written in one transaction. Errors name the JSON path of the bad field.

use serde_json::Value;
use uuid::Uuid;

use crate::crypto::keys::{self, Generate, KeyComponent, KEY_PROVIDER_TYPE};
use crate::crypto::password;
use crate::representation::{ComponentRepresentation, RealmRepresentation, UserRepresentation};
use crate::store::{MembershipType, NewOrganization, UserRow};

use super::{defaults, lazy_keys, validate};

/// An invalid realm file: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ImportError {
    /// JSON path (`clients[2].redirectUris[0]`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ImportError {
    /// An error at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ImportError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A realm ready to store.
#[derive(Debug)]
pub struct PreparedRealm {
    /// Realm id.
    pub id: String,
    /// Realm name.
    pub name: String,
    /// Representation without users (JSON).
    pub representation: String,
    /// Users.
    pub users: Vec<UserRow>,
    /// Organizations (rows of their own, out of the representation).
    pub organizations: Vec<NewOrganization>,
    /// The resource servers of the clients with Authorization Services on (rows of their
    /// own, out of the clients' `authorizationSettings`).
    pub resource_servers: Vec<crate::store::NewResourceServer>,
    /// References Keycloak tolerates and ignores (logged by the caller).
    pub warnings: Vec<String>,
}

fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// Parses a realm file's bytes: a realm object, or an array of them (`kc.sh export --file`
/// of several realms).
pub fn parse_file(bytes: &[u8]) -> Result<Vec<Value>, ImportError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ImportError::at(
            "$",
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    match v {
        Value::Object(_) => Ok(vec![v]),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_object() {
                    return Err(ImportError::at(format!("[{i}]"), "expected a realm object"));
                }
            }
            Ok(items)
        }
        _ => Err(ImportError::at("$", "expected a realm object")),
    }
}

/// Validates and completes one realm.
pub fn prepare(mut value: Value) -> Result<PreparedRealm, ImportError> {
    let obj = value
        .as_object_mut()
        .ok_or_else(|| ImportError::at("$", "expected a realm object"))?;
    let name = match obj.get("realm") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ImportError::at("realm", "must be a string")),
        None => return Err(ImportError::at("realm", "the realm name is required")),
    };
    validate::realm_name(&name).map_err(|m| ImportError::at("realm", m))?;
    defaults::complete(obj, &name)?;
    super::admin_permissions::add_for_import(obj);
    let mut rep: RealmRepresentation = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        ImportError::at(
            if path == "." { "$".to_string() } else { path },
            e.inner().to_string(),
        )
    })?;
    if name == super::MASTER {
        // The other realms' admin clients are implied, not stored (a Keycloak export of
        // master lists them).
        super::admin_clients::strip(&mut rep);
    }
    let settings = authz_clients(&mut rep);
    add_service_account_users(&mut rep, &name);
    assign_ids(&mut rep);
    for (client_id, _) in &settings {
        let uuid = rep
            .clients
            .iter()
            .flatten()
            .find(|c| c.client_id.as_deref() == Some(client_id.as_str()))
            .and_then(|c| c.id.clone())
            .unwrap_or_default();
        super::authz::ensure_uma_role(&mut rep, client_id, &uuid);
    }
    let warnings = validate::references(&rep)?;
    regenerate_masked_keys(&mut rep, &name)?;
    ensure_keys(&mut rep, &name)?;
    let users = rep.users.take().unwrap_or_default();
    let mut users = users
        .into_iter()
        .enumerate()
        .map(|(i, u)| user_row(u, i))
        .collect::<Result<Vec<_>, _>>()?;
    let organizations = organizations(&mut rep, &users)?;
    let resource_servers = resource_servers(&rep, &mut users, settings)?;
    let id = rep.id.clone().unwrap_or_default();
    let representation =
        serde_json::to_string(&rep).map_err(|e| ImportError::at("$", e.to_string()))?;
    Ok(PreparedRealm {
        id,
        name,
        representation,
        users,
        organizations,
        resource_servers,
        warnings,
    })
}

/// The clients with `authorizationServicesEnabled`: made confidential with a service account
/// (`RepresentationToModel.importAuthorizationSettings`), their `authorizationSettings` taken
/// out of the representation (rows of their own): `(clientId, settings)`.
fn authz_clients(rep: &mut RealmRepresentation) -> Vec<(String, Option<Value>)> {
    let mut out = Vec::new();
    for c in rep.clients.iter_mut().flatten() {
        let settings = c.extra.remove("authorizationSettings");
        if !super::authz::enabled(c) {
            continue;
        }
        c.service_accounts_enabled = Some(true);
        c.public_client = Some(false);
        c.bearer_only = Some(false);
        out.push((c.client_id.clone().unwrap_or_default(), settings));
    }
    out
}

/// The resource servers of the switched-on clients: their settings imported (names resolved
/// against the realm and its users), or Keycloak's defaults; the service accounts get
/// `uma_protection`.
fn resource_servers(
    rep: &RealmRepresentation,
    users: &mut [UserRow],
    settings: Vec<(String, Option<Value>)>,
) -> Result<Vec<crate::store::NewResourceServer>, ImportError> {
    let mut dir = super::authz::UserDir::default();
    for u in users.iter() {
        dir.add(&u.id, &u.username);
    }
    let mut out = Vec::new();
    for (client_id, s) in settings {
        let Some((i, c)) = rep
            .clients
            .iter()
            .flatten()
            .enumerate()
            .find(|(_, c)| c.client_id.as_deref() == Some(client_id.as_str()))
        else {
            continue;
        };
        let uuid = c.id.clone().unwrap_or_default();
        let d = super::authz::Dir {
            realm: rep,
            users: &dir,
        };
        let server =
            super::authz::switched_on(d, &uuid, &client_id, s.as_ref().and_then(Value::as_object))
                .map_err(|e| {
                    ImportError::at(
                        format!("clients[{i}].authorizationSettings"),
                        match e {
                            super::authz::AuthzError::Runtime(m)
                            | super::authz::AuthzError::BadRequest(m)
                            | super::authz::AuthzError::Invalid(m)
                            | super::authz::AuthzError::OAuth(_, _, m) => m,
                        },
                    )
                })?;
        let sa = format!("service-account-{}", client_id.to_lowercase());
        for u in users.iter_mut().filter(|u| u.username == sa) {
            if let Some(next) = super::authz::grant_uma(&u.representation, &client_id) {
                u.representation = next;
            }
        }
        out.push(server.to_rows());
    }
    Ok(out)
}

/// Takes the realm's `organizations` out of the representation (they are rows of their own):
/// members by user name (`DefaultExportImportManager.importOrganizations`; a member the file
/// does not list was a warning of [`validate::references`] and is left out), identity
/// providers by alias, from the organization's `identityProviders` and from the
/// `organizationId` of the realm's `identityProviders` (as Keycloak 26 exports them), which
/// the links replace in the stored representation.
pub(crate) fn organizations(
    rep: &mut RealmRepresentation,
    users: &[UserRow],
) -> Result<Vec<NewOrganization>, ImportError> {
    let list = match rep.extra.shift_remove("organizations") {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    let mut idp_links: Vec<(String, String)> = Vec::new();
    let mut idp_aliases: Vec<String> = Vec::new();
    if let Some(Value::Array(idps)) = rep.extra.get_mut("identityProviders") {
        for idp in idps.iter_mut().filter_map(Value::as_object_mut) {
            let alias = idp.get("alias").and_then(Value::as_str).map(str::to_string);
            if let Some(alias) = &alias {
                idp_aliases.push(alias.clone());
            }
            if let (Some(Value::String(org)), Some(alias)) = (idp.remove("organizationId"), alias) {
                idp_links.push((org, alias));
            }
        }
    }
    let mut out: Vec<NewOrganization> = Vec::new();
    for (i, o) in list.into_iter().enumerate() {
        let here = format!("organizations[{i}]");
        let org: super::org_rows::OrganizationRepresentation =
            serde_json::from_value(o).map_err(|e| ImportError::at(&here, e.to_string()))?;
        let id = org.id.clone().unwrap_or_else(new_id);
        let row = super::org_rows::new_row(&org, id)
            .map_err(|e| ImportError::at(&here, e.message().to_string()))?;
        let mut members = Vec::new();
        for m in org.members.iter().flatten() {
            let Some(name) = m.get("username").and_then(Value::as_str) else {
                continue;
            };
            let name = name.to_lowercase();
            let Some(u) = users.iter().find(|u| u.username == name) else {
                continue;
            };
            let kind = m
                .get("membershipType")
                .and_then(Value::as_str)
                .and_then(MembershipType::parse)
                .unwrap_or(MembershipType::Unmanaged);
            members.push((u.id.clone(), kind));
        }
        let mut identity_providers: Vec<String> = Vec::new();
        let named = org
            .identity_providers
            .iter()
            .flatten()
            .filter_map(|p| p.get("alias").and_then(Value::as_str).map(str::to_string));
        let linked = idp_links
            .iter()
            .filter(|(o, _)| *o == row.id)
            .map(|(_, a)| a.clone());
        for (j, alias) in named.chain(linked).enumerate() {
            if !idp_aliases.contains(&alias) {
                return Err(ImportError::at(
                    format!("{here}.identityProviders[{j}]"),
                    format!("identity provider '{alias}' is not in the realm's identityProviders"),
                ));
            }
            if !identity_providers.contains(&alias) {
                identity_providers.push(alias);
            }
        }
        out.push(NewOrganization {
            row,
            members,
            identity_providers,
        });
    }
    Ok(out)
}

/// Clients with `serviceAccountsEnabled` get their service-account user when the file has
/// none, with the default role (`RealmManager.setupClientServiceAccountsAndAuthorizationOnImport`).
fn add_service_account_users(rep: &mut RealmRepresentation, realm: &str) {
    let wanted: Vec<String> = rep
        .clients
        .iter()
        .flatten()
        .filter(|c| c.service_accounts_enabled == Some(true) && c.public_client != Some(true))
        .filter_map(|c| c.client_id.clone())
        .collect();
    let users = rep.users.get_or_insert_with(Vec::new);
    let default_role = rep
        .default_role
        .as_ref()
        .and_then(|r| r.name.clone())
        .unwrap_or_else(|| format!("default-roles-{}", realm.to_lowercase()));
    for client_id in wanted {
        let username = format!("service-account-{}", client_id.to_lowercase());
        if users.iter().any(|u| {
            u.service_account_client_id.as_deref() == Some(client_id.as_str())
                || u.username.as_deref().map(str::to_lowercase).as_deref()
                    == Some(username.as_str())
        }) {
            continue;
        }
        let u = UserRepresentation {
            username: Some(username),
            enabled: Some(true),
            service_account_client_id: Some(client_id),
            realm_roles: Some(vec![default_role.clone()]),
            email_verified: Some(false),
            created_timestamp: Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0),
            ),
            not_before: Some(0),
            ..Default::default()
        };
        users.push(u);
    }
}

/// Gives every object that Keycloak identifies by id an id, and roles their container.
/// Every protocol mapper has an id in Keycloak (the Admin API addresses mappers by it); the
/// built-in scopes and hand-written files often have none.
fn mapper_ids(mappers: &mut Option<Vec<serde_json::Value>>) {
    if let Some(list) = mappers {
        for m in list.iter_mut().filter_map(serde_json::Value::as_object_mut) {
            if !m.get("id").is_some_and(serde_json::Value::is_string) {
                m.insert("id".into(), new_id().into());
            }
        }
    }
}

fn assign_ids(rep: &mut RealmRepresentation) {
    let realm_id = rep.id.get_or_insert_with(new_id).clone();
    for c in rep.clients.iter_mut().flatten() {
        c.id.get_or_insert_with(new_id);
        // Keycloak generates a secret for a confidential client created without one
        // (`KeycloakModelUtils.generateSecret`: 32 alphanumeric characters).
        let bearer_only = c.bearer_only == Some(true);
        let authenticator = c
            .client_authenticator_type
            .as_deref()
            .unwrap_or("client-secret");
        if c.public_client != Some(true)
            && !bearer_only
            && c.secret.is_none()
            && matches!(authenticator, "client-secret" | "client-secret-jwt")
        {
            c.secret = Some(crate::crypto::random_alphanumeric(32));
        }
    }
    for s in rep.client_scopes.iter_mut().flatten() {
        s.id.get_or_insert_with(new_id);
        mapper_ids(&mut s.protocol_mappers);
    }
    for c in rep.clients.iter_mut().flatten() {
        mapper_ids(&mut c.protocol_mappers);
    }
    // Organizations: an id, and the alias Keycloak defaults to the name.
    if let Some(serde_json::Value::Array(orgs)) = rep.extra.get_mut("organizations") {
        for o in orgs.iter_mut().filter_map(serde_json::Value::as_object_mut) {
            if !o.get("id").is_some_and(serde_json::Value::is_string) {
                o.insert("id".into(), new_id().into());
            }
            let blank = o
                .get("alias")
                .and_then(serde_json::Value::as_str)
                .is_none_or(|a| a.trim().is_empty());
            if let (true, Some(name)) = (blank, o.get("name").cloned()) {
                o.insert("alias".into(), name);
            }
        }
    }
    let client_ids: Vec<(String, String)> = rep
        .clients
        .iter()
        .flatten()
        .filter_map(|c| Some((c.client_id.clone()?, c.id.clone()?)))
        .collect();
    if let Some(roles) = rep.roles.as_mut() {
        for r in roles.realm.iter_mut().flatten() {
            r.id.get_or_insert_with(new_id);
            r.client_role.get_or_insert(false);
            r.container_id.get_or_insert_with(|| realm_id.clone());
        }
        for (client, list) in roles.client.iter_mut().flatten() {
            let container = client_ids
                .iter()
                .find(|(c, _)| c == client)
                .map(|(_, id)| id.clone());
            for r in list {
                r.id.get_or_insert_with(new_id);
                r.client_role.get_or_insert(true);
                if let Some(container) = &container {
                    r.container_id.get_or_insert_with(|| container.clone());
                }
            }
        }
    }
    if let Some(default_role) = rep.default_role.as_mut() {
        let id = rep
            .roles
            .as_ref()
            .and_then(|r| r.realm.as_ref())
            .and_then(|list| list.iter().find(|r| r.name == default_role.name))
            .and_then(|r| r.id.clone());
        if let Some(id) = id {
            default_role.id.get_or_insert(id);
        }
        default_role.client_role.get_or_insert(false);
        default_role
            .container_id
            .get_or_insert_with(|| realm_id.clone());
    }
    fn groups(list: &mut [crate::representation::GroupRepresentation], parent: &str) {
        for g in list {
            g.id.get_or_insert_with(new_id);
            let path = format!("{parent}/{}", g.name.as_deref().unwrap_or_default());
            g.path.get_or_insert_with(|| path.clone());
            if let Some(subs) = g.sub_groups.as_mut() {
                groups(subs, &path);
            }
        }
    }
    if let Some(list) = rep.groups.as_mut() {
        groups(list, "");
    }
    for u in rep.users.iter_mut().flatten() {
        u.id.get_or_insert_with(new_id);
        if let Some(name) = u.username.as_mut() {
            *name = name.to_lowercase();
        }
        for c in u.credentials.iter_mut().flatten() {
            c.id.get_or_insert_with(new_id);
        }
    }
    for list in rep.components.iter_mut().flat_map(|m| m.values_mut()) {
        for c in list {
            c.id.get_or_insert_with(new_id);
        }
    }
}

fn component_to_key(c: &ComponentRepresentation) -> KeyComponent {
    KeyComponent {
        id: c.id.clone().unwrap_or_default(),
        name: c.name.clone().unwrap_or_default(),
        provider_id: c.provider_id.clone().unwrap_or_default(),
        config: c.config.clone().unwrap_or_default().into_iter().collect(),
    }
}

/// The realm's usable asymmetric keys; an unusable key is an error naming its component.
pub fn realm_keys(rep: &RealmRepresentation) -> Result<Vec<keys::RealmKey>, ImportError> {
    let mut out = Vec::new();
    if let Some(list) = rep
        .components
        .as_ref()
        .and_then(|m| m.get(KEY_PROVIDER_TYPE))
    {
        for (i, c) in list.iter().enumerate() {
            let key = keys::load(&component_to_key(c)).map_err(|e| {
                ImportError::at(
                    format!("components[\"{KEY_PROVIDER_TYPE}\"][{i}].config"),
                    e.0,
                )
            })?;
            out.extend(key);
        }
    }
    Ok(out)
}

/// A generated key provider whose key material is absent or masked (a realm exported with
/// its secrets hidden, `**********`) gets new key material in the same component, keeping its
/// id, name and settings: Keycloak's generated providers do this in `validateConfiguration`
/// when a component is imported (`GeneratedRsaKeyProviderFactory`, `GeneratedEcdsa...`,
/// `GeneratedHmac...`, `GeneratedAes...`). The RSA keys are generated at their first use
/// ([`super::lazy_keys`]): their masked material (and the certificate and `kid` of the key it
/// hid) is dropped here, which leaves the component pending. A provider whose key is given
/// (`rsa`) keeps the error of its unusable key.
fn regenerate_masked_keys(rep: &mut RealmRepresentation, realm: &str) -> Result<(), ImportError> {
    let Some(list) = rep
        .components
        .as_mut()
        .and_then(|m| m.get_mut(KEY_PROVIDER_TYPE))
    else {
        return Ok(());
    };
    for (i, c) in list.iter_mut().enumerate() {
        // Providers and algorithms this server does not generate are kept as they are.
        let Some(kind) = lazy_keys::missing(c) else {
            continue;
        };
        if lazy_keys::deferred(kind) {
            if let Some(config) = c.config.as_mut() {
                for k in [lazy_keys::material_key(kind), "certificate", "kid"] {
                    config.shift_remove(k);
                }
            }
            continue;
        }
        lazy_keys::fill_one(c, kind, realm)
            .map_err(|e| ImportError::at(format!("components[\"{KEY_PROVIDER_TYPE}\"][{i}]"), e))?;
    }
    Ok(())
}

/// Generates what Keycloak generates for a realm without usable keys: an RS256 signing key
/// (and one for a different `defaultSignatureAlgorithm`), an RSA-OAEP encryption key, and
/// HS512 and AES secrets.
fn ensure_keys(rep: &mut RealmRepresentation, realm: &str) -> Result<(), ImportError> {
    let existing = realm_keys(rep)?;
    let providers: Vec<String> = rep
        .components
        .as_ref()
        .and_then(|m| m.get(KEY_PROVIDER_TYPE))
        .map(|l| l.iter().filter_map(|c| c.provider_id.clone()).collect())
        .unwrap_or_default();
    let has = |alg: &str| {
        existing.iter().any(|k| k.active && k.alg == alg) || lazy_keys::pending_for(rep, alg)
    };
    let mut wanted = Vec::new();
    if !has("RS256") {
        wanted.push(Generate::RsaSig("RS256"));
    }
    match rep.default_signature_algorithm.as_deref() {
        Some(alg @ ("PS256" | "PS384" | "PS512" | "RS384" | "RS512")) if !has(alg) => {
            let alg: &'static str = match alg {
                "PS256" => "PS256",
                "PS384" => "PS384",
                "PS512" => "PS512",
                "RS384" => "RS384",
                _ => "RS512",
            };
            wanted.push(Generate::RsaSig(alg));
        }
        Some("ES256") if !has("ES256") => wanted.push(Generate::Es256),
        Some("EdDSA") if !has("EdDSA") => wanted.push(Generate::EdDsa),
        Some(alg @ ("RS256" | "ES256" | "EdDSA" | "PS256" | "PS384" | "PS512" | "RS384" | "RS512" | "HS256" | "HS384" | "HS512")) => {
            let _ = alg;
        }
        Some(other) => {
            return Err(ImportError::at(
                "defaultSignatureAlgorithm",
                format!("unsupported algorithm '{other}' (RS256, RS384, RS512, PS256, PS384, PS512, ES256, EdDSA)"),
            ))
        }
        None => {}
    }
    if !existing.iter().any(|k| k.alg == "RSA-OAEP")
        && !providers.iter().any(|p| p.starts_with("rsa-enc"))
    {
        wanted.push(Generate::RsaEnc);
    }
    if !providers.iter().any(|p| p == "hmac-generated") {
        wanted.push(Generate::HmacHs512);
    }
    if !providers.iter().any(|p| p == "aes-generated") {
        wanted.push(Generate::Aes);
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let list = rep
        .components
        .get_or_insert_with(Default::default)
        .entry(KEY_PROVIDER_TYPE.to_string())
        .or_default();
    for kind in wanted {
        // The RSA keys are generated at their first use (`lazy_keys`).
        if lazy_keys::deferred(kind) {
            list.push(lazy_keys::placeholder(kind, new_id()));
            continue;
        }
        let k = keys::generate(kind, realm, new_id())
            .map_err(|e| ImportError::at("components", e.0))?;
        list.push(ComponentRepresentation {
            id: Some(k.id),
            name: Some(k.name),
            provider_id: Some(k.provider_id),
            sub_type: None,
            config: Some(k.config.into_iter().collect()),
            parent_id: None,
            extra: serde_json::Map::from_iter([(
                "subComponents".to_string(),
                serde_json::json!({}),
            )]),
        });
    }
    Ok(())
}

/// Hashes plaintext passwords (Keycloak never stores them) and turns a temporary password
/// into the `UPDATE_PASSWORD` required action, then makes the stored row.
fn user_row(mut u: UserRepresentation, index: usize) -> Result<UserRow, ImportError> {
    let path = |rest: &str| format!("users[{index}]{rest}");
    for (j, c) in u.credentials.iter_mut().flatten().enumerate() {
        let cpath = path(&format!(".credentials[{j}]"));
        if let Some(value) = c.value.take() {
            if c.kind.as_deref().unwrap_or("password") != "password" {
                return Err(ImportError::at(
                    format!("{cpath}.value"),
                    "plaintext values are only accepted for password credentials",
                ));
            }
            let h = password::hash(&value).map_err(|e| ImportError::at(&cpath, e.0))?;
            c.kind.get_or_insert_with(|| "password".into());
            c.secret_data = Some(h.secret_data);
            c.credential_data = Some(h.credential_data);
            if c.temporary.take() == Some(true) {
                let actions = u.required_actions.get_or_insert_with(Vec::new);
                if !actions.iter().any(|a| a == "UPDATE_PASSWORD") {
                    actions.push("UPDATE_PASSWORD".into());
                }
            }
        } else if c.kind.as_deref() == Some("password") {
            match (&c.secret_data, &c.credential_data) {
                (Some(sd), Some(cd)) => {
                    password::check_supported(sd, cd).map_err(|e| ImportError::at(&cpath, e.0))?;
                }
                _ => {
                    return Err(ImportError::at(
                        &cpath,
                        "a password credential needs either value or secretData and credentialData",
                    ))
                }
            }
        }
    }
    let username = u
        .username
        .clone()
        .ok_or_else(|| ImportError::at(path(".username"), "username is required"))?;
    let representation =
        serde_json::to_string(&u).map_err(|e| ImportError::at(path(""), e.to_string()))?;
    Ok(UserRow {
        id: u.id.clone().unwrap_or_default(),
        username,
        email: u.email.clone().map(|e| e.to_lowercase()),
        representation,
    })
}
