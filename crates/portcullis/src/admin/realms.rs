//! `/admin/realms` and `/admin/realms/{realm}`: list, create, read, partial update, delete;
//! keys; partial export and import.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Json;
use axum::Router;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{Caller, CheckedLater, Family, ManageRealm, Need, RealmAdmin, ViewRealm};
use super::{created, edit_realm, no_content, representation, AdminError, AdminResult, Shape};
use crate::crypto::b64;
use crate::crypto::keys::KeyUse;
use crate::http::paths;
use crate::realm::edit;
use crate::realm::snapshot::RealmSnapshot;
use crate::realm::{self, admin_clients, IfExists, RealmError, MASTER};
use crate::representation::UserRepresentation;
use crate::store::{UserRow, Write};
use crate::AppState;

/// Fields of the stored realm that have endpoints of their own and are not part of
/// `GET /admin/realms/{realm}`.
const OWN_ENDPOINTS: &[&str] = &[
    "users",
    "clients",
    "roles",
    "groups",
    "clientScopes",
    "components",
    "scopeMappings",
    "clientScopeMappings",
    "defaultDefaultClientScopes",
    "defaultOptionalClientScopes",
    "authenticationFlows",
    "authenticatorConfig",
    "requiredActions",
    "federatedUsers",
];

fn realm_json(snap: &RealmSnapshot) -> AdminResult<Value> {
    let mut v = super::to_json(&snap.rep)?;
    if let Some(o) = v.as_object_mut() {
        for k in OWN_ENDPOINTS {
            o.remove(*k);
        }
    }
    Ok(v)
}

/// Query of `GET /admin/realms`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

/// `GET /admin/realms`: the realms the caller administers (brief where it may not view them).
/// Brief entries come from what the realm cache knows of each realm; full ones are built one
/// realm at a time while the body is sent (without keeping the realms not in use), so the
/// list costs the memory of one realm, not of all.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> AdminResult<Response> {
    // (name, full representation?)
    let listed: Vec<(String, bool)> = state
        .realms
        .names()
        .into_iter()
        .filter(|name| caller.realm == MASTER || caller.realm == *name)
        .filter_map(|name| {
            let full = q.brief_representation != Some(true)
                && caller.can(&name, Need::View(Family::Realm));
            (full || caller.can(&name, Need::Any)).then_some((name, full))
        })
        .collect();
    // Keycloak's `RealmsAdminResource.getRealms`: a caller that may see no realm at all (a
    // master user without administrative roles too) gets 403, not an empty list.
    if listed.is_empty() {
        return Err(AdminError::Forbidden);
    }
    let entries = futures::stream::iter(listed).then(move |(name, full)| {
        let state = state.clone();
        async move { list_entry(&state, &name, full).await }
    });
    let body = futures::stream::once(async { Ok(Bytes::from_static(b"[")) })
        .chain(
            entries
                .filter_map(|entry| async move { entry })
                .enumerate()
                .map(|(i, entry)| {
                    let mut out = if i == 0 { Vec::new() } else { b",".to_vec() };
                    out.extend_from_slice(&entry);
                    Ok::<_, std::convert::Infallible>(Bytes::from(out))
                }),
        )
        .chain(futures::stream::once(async {
            Ok(Bytes::from_static(b"]"))
        }));
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// One realm of `GET /admin/realms`, serialized; `None` for a realm removed meanwhile or
/// unreadable (logged: the list is already being sent).
async fn list_entry(state: &AppState, name: &str, full: bool) -> Option<Vec<u8>> {
    let store = state.store.as_ref();
    let value = if full {
        match state.realms.read(store, name).await {
            Ok(Some(snap)) => realm_json(&snap).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(realm = %name, error = %e, "realm left out of the realm list");
                None
            }
        }
    } else {
        match state.realms.facts(store, name).await {
            Ok(Some(f)) => Some(json!({"id": f.id, "realm": name, "enabled": f.enabled})),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(realm = %name, error = %e, "realm left out of the realm list");
                None
            }
        }
    };
    value.and_then(|v| serde_json::to_vec(&v).ok())
}

/// `POST /admin/realms`: a full realm representation (clients, users, roles, groups ...).
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    if !caller.can_create_realm() {
        return Err(AdminError::Forbidden);
    }
    let value: Value = representation(&bytes, &Shape::One(&super::jackson::REALM))?;
    // `RealmsAdminResource.importRealm`: a missing or blank name, before anything else.
    let blank = value
        .get("realm")
        .and_then(Value::as_str)
        .is_none_or(|n| n.trim().is_empty());
    if value
        .get("realm")
        .is_none_or(|r| r.is_null() || r.is_string())
        && blank
    {
        return Err(AdminError::bad("Realm name cannot be empty"));
    }
    // A creator without master's `admin` gets the new realm's admin roles in the realm's own
    // transaction.
    let creator = if caller.is_master_admin() {
        None
    } else {
        creator_row(&state, &caller).await?
    };
    let (name, _) = realm::import_with(
        state.store.as_ref(),
        state.realms.blacklists(),
        value,
        IfExists::Fail,
        |name| {
            creator
                .map(|c| grant_to_creator(c, name))
                .into_iter()
                .collect()
        },
    )
    .await
    .map_err(|e| match e {
        RealmError::Invalid(e) => AdminError::bad(e.to_string()),
        RealmError::Conflict(_) => {
            AdminError::Conflict("Conflict detected. See logs for details".into())
        }
        RealmError::NotFound(m) => AdminError::NotFound(m),
        RealmError::Store(e) => e.into(),
    })?;
    // Only the new realm is read again (master's `<realm>-realm` client is implied), noted
    // in the realm cache with what the realm list reads of it, not built until used.
    let store = state.store.as_ref();
    state.realms.refresh(store, &name).await?;
    state.realms.facts(store, &name).await?;
    Ok(created(&uri, &name))
}

/// The creating caller's own row in master with its document, when it is a master user.
async fn creator_row(
    state: &AppState,
    caller: &Caller,
) -> AdminResult<Option<(String, UserRow, UserRepresentation)>> {
    let master = state
        .realm(MASTER)
        .await
        .map_err(|_| AdminError::Internal)?;
    let Some(row) = state.store.user_by_id(&master.id, &caller.user_id).await? else {
        return Ok(None);
    };
    let u: UserRepresentation =
        serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
    Ok(Some((master.id.clone(), row, u)))
}

/// `RealmsAdminResource.grantPermissionsToRealmCreator`: a creator without master's `admin`
/// role (`create-realm` only) gets the new realm's admin roles (`AdminRoles.ALL_REALM_ROLES`:
/// every role of master's `<realm>-realm` client but `impersonation`), so it can administer
/// what it created; the write goes in the creation's transaction, as in Keycloak.
fn grant_to_creator(
    (master_id, mut row, mut u): (String, UserRow, UserRepresentation),
    name: &str,
) -> Write {
    let held = u
        .client_roles
        .get_or_insert_with(Default::default)
        .entry(admin_clients::client_id(name))
        .or_default();
    for role in admin_clients::creator_roles() {
        if !held.iter().any(|r| r == role) {
            held.push(role.to_string());
        }
    }
    if let Ok(json) = serde_json::to_string(&u) {
        row.representation = json;
    }
    Write::UpdateUser {
        realm_id: master_id,
        user: row,
    }
}

/// `GET /admin/realms/{realm}`.
pub async fn get(RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>) -> AdminResult<Json<Value>> {
    Ok(Json(realm_json(&snap)?))
}

/// `PUT /admin/realms/{realm}`: fields present replace the stored ones; absent ones stay.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let mut patch: Map<String, Value> =
        representation(&bytes, &Shape::One(&super::jackson::REALM))?;
    super::coerce_types(
        &mut patch,
        crate::realm::defaults::realm_template(),
        "RealmRepresentation",
    )?;
    if let Some(new_name) = patch.get("realm").and_then(Value::as_str) {
        if new_name != snap.name {
            return Err(AdminError::bad(
                "Renaming a realm is not supported; export it and import it under the new name",
            ));
        }
    }
    // A blacklist file the policy names must exist (and is loaded now, once).
    if let Some(p) = patch.get("passwordPolicy").and_then(Value::as_str) {
        crate::policy::password::parse_resolved(p, state.realms.blacklists())
            .await
            .map_err(AdminError::bad)?;
    }
    edit_realm(&state, &snap.name, |rep, writes| {
        let mut skip = OWN_ENDPOINTS.to_vec();
        // Organizations are rows of their own: a realm update leaves them alone, as Keycloak's
        // `RepresentationToModel.updateRealm` does. The admin-permissions client's link is
        // the server's to set.
        skip.extend(["id", "realm", "organizations", "adminPermissionsClient"]);
        *rep = edit::merge(&*rep, &patch, &skip)?;
        if let Some(p) = rep.password_policy.as_deref() {
            crate::policy::password::parse(p).map_err(AdminError::bad)?;
        }
        super::permissions::ensure_client(rep, writes)
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /admin/realms/{realm}`: the realm with its users and sessions, and master's
/// role mappings to its `<realm>-realm` client.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
) -> AdminResult<Response> {
    if snap.name == MASTER {
        return Err(AdminError::bad("Can't delete master realm"));
    }
    if !caller.has(&snap.name, "manage-realm") {
        return Err(AdminError::Forbidden);
    }
    let id = snap.id.clone();
    let name = snap.name.clone();
    let admin_client = admin_clients::client_id(&name);
    // Master's role mappings to the realm's admin client go first (a realm created later
    // under the same name must not inherit them): users, then groups and composites with the
    // realm itself. Stopped in between, the realm stays and only those mappings are gone.
    let master = state
        .realm(MASTER)
        .await
        .map_err(|_| AdminError::Internal)?;
    for mut row in state.store.users(&master.id).await? {
        let mut u: UserRepresentation =
            serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
        if u.client_roles
            .as_mut()
            .and_then(|m| m.shift_remove(&admin_client))
            .is_some()
        {
            row.representation = serde_json::to_string(&u).map_err(|_| AdminError::Internal)?;
            state.store.update_user(&master.id, &row).await?;
        }
    }
    edit_realm(&state, MASTER, |master, writes| {
        edit::remove_client(master, &admin_client);
        writes.push(Write::DeleteRealm { id: id.clone() });
        Ok(())
    })
    .await?;
    state.realms.remove(&name);
    Ok(no_content())
}

/// `GET /admin/realms/{realm}/keys`: `KeysMetadataRepresentation` (`KeyResource`): every key
/// of the realm's key providers, highest priority first, and per algorithm the `kid` of the
/// first active one. The secret keys (`hmac-generated`: `OCT` `HS512`, `aes-generated`: `OCT`
/// `AES`) are listed without their secret, as Keycloak lists them.
pub async fn keys(RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>) -> AdminResult<Json<Value>> {
    // (active, priority, algorithm, kid, entry)
    let mut all: Vec<(bool, i64, String, String, Value)> = Vec::new();
    for k in snap.keys.iter() {
        let kty = k.jwk.get("kty").and_then(Value::as_str).unwrap_or("RSA");
        let mut entry = json!({
            "providerId": k.component_id,
            "providerPriority": k.priority,
            "kid": k.kid,
            "status": if k.active { "ACTIVE" } else { "PASSIVE" },
            "type": kty,
            "algorithm": k.alg,
            "publicKey": b64(&k.spki),
            "use": if k.key_use == KeyUse::Sig { "SIG" } else { "ENC" },
        });
        if let Some(cert) = k
            .jwk
            .get("x5c")
            .and_then(|c| c.get(0))
            .and_then(Value::as_str)
        {
            entry["certificate"] = json!(cert);
        }
        all.push((k.active, k.priority, k.alg.clone(), k.kid.clone(), entry));
    }
    for k in crate::realm::snapshot::secret_key_configs(&snap.rep) {
        let (active, priority, alg, kid) = (k.active, k.priority, k.alg.to_string(), k.kid);
        let key_use = if alg == "AES" { "ENC" } else { "SIG" };
        let entry = json!({
            "providerId": k.component.id,
            "providerPriority": priority,
            "kid": kid,
            "status": if active { "ACTIVE" } else { "PASSIVE" },
            "type": "OCT",
            "algorithm": alg,
            "use": key_use,
        });
        all.push((active, priority, alg, kid.to_string(), entry));
    }
    all.sort_by_key(|k| std::cmp::Reverse(k.1));
    let mut active = Map::new();
    for (is_active, _, alg, kid, _) in &all {
        if *is_active && !active.contains_key(alg) {
            active.insert(alg.clone(), json!(kid));
        }
    }
    let keys: Vec<Value> = all.into_iter().map(|k| k.4).collect();
    Ok(Json(json!({"active": active, "keys": keys})))
}

/// `POST /admin/realms/{realm}/clear-keys-cache` (`RealmAdminResource.clearKeysCache`):
/// the key sets fetched from clients' `jwks.url` are dropped and fetched again when next used.
pub async fn clear_keys_cache(
    State(state): State<AppState>,
    _: RealmAdmin<ManageRealm>,
) -> AdminResult<Response> {
    state.realms.client_keys().clear();
    Ok(no_content())
}

/// `POST /admin/realms/{realm}/clear-realm-cache` (`clearRealmCache`, which clears the whole
/// realm cache): every realm snapshot is rebuilt from the store.
pub async fn clear_realm_cache(
    State(state): State<AppState>,
    _: RealmAdmin<ManageRealm>,
) -> AdminResult<Response> {
    state.realms.load_all(state.store.as_ref()).await?;
    Ok(no_content())
}

/// `POST /admin/realms/{realm}/clear-user-cache` (`clearUserCache`): the store's read caches
/// of users and sessions are dropped.
pub async fn clear_user_cache(
    State(state): State<AppState>,
    _: RealmAdmin<ManageRealm>,
) -> AdminResult<Response> {
    state.store.clear_user_cache().await;
    Ok(no_content())
}

/// Query of `partial-export`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    #[serde(default, deserialize_with = "super::flex_bool")]
    export_clients: Option<bool>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    export_groups_and_roles: Option<bool>,
}

const MASKED: &str = "**********";

/// `POST /admin/realms/{realm}/partial-export`: the realm without users, clients and groups
/// and roles unless asked for, secrets masked as Keycloak masks them.
pub async fn partial_export(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ManageRealm, ExportQuery>,
) -> AdminResult<Json<Value>> {
    let mut v = super::to_json(&snap.rep)?;
    // Organizations (rows of their own) with their identity providers; without members, as
    // users are not exported here.
    let orgs = state.store.organizations(&snap.id).await?;
    let links = state.store.identity_provider_links(&snap.id).await?;
    crate::realm::org_rows::export_into(&mut v, &orgs, &links, None);
    crate::realm::authz::export_into(state.store.as_ref(), &snap.id, &snap.rep, &mut v).await?;
    let Some(o) = v.as_object_mut() else {
        return Err(AdminError::Internal);
    };
    o.remove("users");
    crate::representation::authentication::strip_for_export(o);
    if q.export_clients != Some(true) {
        o.remove("clients");
        if let Some(roles) = o.get_mut("roles").and_then(Value::as_object_mut) {
            roles.remove("client");
        }
    }
    if q.export_groups_and_roles != Some(true) {
        o.remove("groups");
        o.remove("roles");
        o.remove("defaultRole");
    }
    if let Some(clients) = o.get_mut("clients").and_then(Value::as_array_mut) {
        for c in clients {
            if c.get("secret").is_some() {
                c["secret"] = json!(MASKED);
            }
            if let Some(o) = c.as_object_mut() {
                o.remove("registrationAccessToken");
            }
        }
    }
    if let Some(idps) = o.get_mut("identityProviders").and_then(Value::as_array_mut) {
        for idp in idps {
            if let Some(cfg) = idp.get_mut("config").and_then(Value::as_object_mut) {
                if cfg.contains_key("clientSecret") {
                    cfg.insert("clientSecret".into(), json!(MASKED));
                }
            }
        }
    }
    if let Some(smtp) = o.get_mut("smtpServer").and_then(Value::as_object_mut) {
        if smtp.contains_key("password") {
            smtp.insert("password".into(), json!(MASKED));
        }
    }
    if let Some(comps) = o.get_mut("components").and_then(Value::as_object_mut) {
        for list in comps.values_mut().filter_map(Value::as_array_mut) {
            for c in list {
                if let Some(cfg) = c.get_mut("config").and_then(Value::as_object_mut) {
                    for k in ["privateKey", "secret", "keystorePassword", "keyPassword"] {
                        if cfg.contains_key(k) {
                            cfg.insert(k.into(), json!([MASKED]));
                        }
                    }
                }
            }
        }
    }
    Ok(Json(v))
}

/// `POST /admin/realms/{realm}/partialImport`: clients, realm and client roles, groups and
/// users, each FAIL/SKIP/OVERWRITE when it exists (`PartialImportResults`).
pub async fn partial_import(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<ManageRealm>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let req: Map<String, Value> =
        representation(&bytes, &Shape::One(&super::jackson::PARTIAL_IMPORT))?;
    let policy = match req.get("ifResourceExists").and_then(Value::as_str) {
        None | Some("FAIL") => IfExists::Fail,
        Some("SKIP") => IfExists::Skip,
        Some("OVERWRITE") => IfExists::Overwrite,
        Some(other) => {
            return Err(AdminError::bad(format!(
                "ifResourceExists: unknown policy '{other}' (FAIL, SKIP, OVERWRITE)"
            )))
        }
    };
    let results = super::partial_import::run(&state, &caller, &snap, &req, policy).await?;
    Ok((StatusCode::OK, Json(results)).into_response())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_REALMS, routing::get(list).post(create))
        .route(
            paths::ADMIN_REALM,
            routing::get(get).put(update).delete(delete),
        )
        .route(paths::ADMIN_KEYS, routing::get(keys))
        .route(
            paths::ADMIN_CLEAR_KEYS_CACHE,
            routing::post(clear_keys_cache),
        )
        .route(
            paths::ADMIN_CLEAR_REALM_CACHE,
            routing::post(clear_realm_cache),
        )
        .route(
            paths::ADMIN_CLEAR_USER_CACHE,
            routing::post(clear_user_cache),
        )
        .route(
            paths::ADMIN_SERVER_INFO,
            routing::get(super::server_info::get),
        )
        .route(paths::ADMIN_PARTIAL_EXPORT, routing::post(partial_export))
        .route(paths::ADMIN_PARTIAL_IMPORT, routing::post(partial_import))
}
