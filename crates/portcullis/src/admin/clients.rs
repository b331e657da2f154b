//! `/admin/realms/{realm}/clients`: CRUD, secret, service-account user, adapter
//! installation, protocol mappers, client scopes, scope mappings and an example access token.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{
    Caller, CreateClient, Family, ManageClient, Need, QueryClients, RealmAdmin, ViewClient,
    ViewUsers,
};
use super::permissions::Fgap;
use super::role_mappings::{self as rm, ScopeTarget};
use super::view;
use super::{
    created, edit_realm, no_content, representation, AdminError, AdminResult, Paging, Shape,
};
use crate::authz::fgap::CLIENTS;
use crate::crypto::random_alphanumeric;
use crate::http::paths;
use crate::realm::authz as az;
use crate::realm::{admin_clients, edit, MASTER};
use crate::representation::{ClientRepresentation, RealmRepresentation, UserRepresentation};
use crate::AppState;

fn not_found() -> AdminError {
    AdminError::not_found("Could not find client")
}

/// The client JSON the Admin API answers, with Keycloak's `access` map of what the caller
/// may do with it (`ClientPermissions.getAccess`; `configure` is `manage` with fine-grained
/// permissions v2).
fn client_json(
    c: &ClientRepresentation,
    realm: &str,
    caller: &Caller,
    perms: Option<&Fgap>,
) -> AdminResult<Value> {
    let id = c.id.as_deref().unwrap_or_default();
    let may = |need, scope| caller.can(realm, need) || perms.is_some_and(|f| f.client(id, scope));
    let view = may(Need::View(Family::Clients), "view");
    let manage = may(Need::Manage(Family::Clients), "manage");
    let mut v = super::to_json(c)?;
    if let Some(o) = v.as_object_mut() {
        // The client-registration token's hash stays inside.
        o.remove("registrationAccessToken");
        o.insert(
            "access".into(),
            json!({"view": view, "configure": manage, "manage": manage}),
        );
    }
    Ok(v)
}

/// Query of `GET /clients`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    client_id: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    search: Option<bool>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    viewable_only: Option<bool>,
    first: Option<i64>,
    max: Option<i64>,
}

/// `GET /clients`: the clients the caller may view (`ClientsResource.getClients`): all with
/// `view-clients` or `view` of all clients, else those its fine-grained permissions let it
/// view, paged after filtering. `viewableOnly` changes nothing, as in Keycloak 26, which lists
/// no client the caller may not view.
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query: q,
        ..
    }: RealmAdmin<QueryClients, ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let _ = q.viewable_only;
    let perms = Fgap::of(&state, &snap, &caller).await?;
    let view_all = caller.can(&snap.name, Need::View(Family::Clients))
        || perms.as_ref().is_some_and(|f| f.all(CLIENTS, "view"));
    let mut out = Vec::new();
    for c in snap.rep.clients.iter().flatten() {
        let cid = c.client_id.as_deref().unwrap_or_default();
        if let Some(wanted) = &q.client_id {
            let hit = if q.search == Some(true) {
                cid.to_lowercase().contains(&wanted.to_lowercase())
            } else {
                cid == wanted
            };
            if !hit {
                continue;
            }
        }
        let id = c.id.as_deref().unwrap_or_default();
        if view_all || perms.as_ref().is_some_and(|f| f.client(id, "view")) {
            out.push(client_json(c, &snap.name, &caller, perms.as_ref())?);
        }
    }
    Ok(Json(
        Paging {
            first: q.first,
            max: q.max,
        }
        .apply(out, None),
    ))
}

/// `POST /clients`. With `authorizationServicesEnabled` the client gets its resource server
/// in the same transaction (the `authorizationSettings` given, else Keycloak's defaults),
/// a service account and the `uma_protection` role (`ClientsResource.createClient`).
pub async fn create(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<CreateClient>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let mut v: Value = representation(&bytes, &Shape::One(&super::jackson::CLIENT))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(AdminError::bad("expected a client object"));
    };
    crate::realm::defaults::admin_create_defaults(obj);
    let settings = obj.remove("authorizationSettings");
    let authz = az::truthy(obj.get("authorizationServicesEnabled"));
    if authz {
        if az::truthy(obj.get("publicClient")) || az::truthy(obj.get("bearerOnly")) {
            // Keycloak fails with a bare 500 (`RuntimeException: Only confidential clients are
            // allowed to set authorization settings`).
            tracing::warn!("authorization services refused for a public or bearer-only client");
            return Err(AdminError::Internal);
        }
        obj.insert("serviceAccountsEnabled".into(), json!(true));
        obj.insert("authorizationServicesEnabled".into(), json!(true));
    }
    let users = match &settings {
        Some(s) if authz => {
            super::authz::user_dir(state.store.as_ref(), &snap.id, az::user_refs(s)).await?
        }
        _ => az::UserDir::default(),
    };
    let (id, client_id) = edit_realm(&state, &snap.name, |rep, writes| {
        let c = edit::prepare_new(rep, v.clone())?;
        let id = c.id.clone().unwrap_or_default();
        let client_id = c.client_id.clone().unwrap_or_default();
        edit::add_client(rep, writes, c)?;
        if authz {
            switch_on(rep, writes, &id, &client_id, settings.as_ref(), &users)?;
        }
        Ok((id, client_id))
    })
    .await?;
    if authz {
        grant_uma_to_service_account(&state, &snap.id, &client_id).await?;
    }
    Ok(created(&uri, &id))
}

/// Switches Authorization Services on for a client inside a realm edit: the `uma_protection`
/// role, the user mapping of a service account created in the same edit, the resource server.
pub(crate) fn switch_on(
    rep: &mut RealmRepresentation,
    writes: &mut Vec<crate::store::Write>,
    id: &str,
    client_id: &str,
    settings: Option<&Value>,
    users: &az::UserDir,
) -> AdminResult<()> {
    az::ensure_uma_role(rep, client_id, id);
    for w in writes.iter_mut() {
        if let crate::store::Write::InsertUsers { users, .. } = w {
            for u in users.iter_mut() {
                if u.username == format!("service-account-{}", client_id.to_lowercase()) {
                    if let Some(next) = az::grant_uma(&u.representation, client_id) {
                        u.representation = next;
                    }
                }
            }
        }
    }
    let dir = az::Dir { realm: rep, users };
    let server = az::switched_on(dir, id, client_id, settings.and_then(Value::as_object))?;
    writes.push(crate::store::Write::PutResourceServer {
        realm_id: rep.id.clone().unwrap_or_default(),
        server: server.to_rows(),
    });
    Ok(())
}

/// `authorizationServicesEnabled` of a client in the realm document: `true`, or absent (as
/// Keycloak's representation of a client without a resource server).
fn set_flag(rep: &mut RealmRepresentation, id: &str, on: bool) {
    if let Some(c) = edit::client_mut(rep, id) {
        if on {
            c.extra
                .insert("authorizationServicesEnabled".into(), json!(true));
        } else {
            c.extra.remove("authorizationServicesEnabled");
        }
    }
}

/// Grants `uma_protection` to a client's service-account user that lacks it.
async fn grant_uma_to_service_account(
    state: &AppState,
    realm_id: &str,
    client_id: &str,
) -> AdminResult<()> {
    if let Some(mut u) =
        edit::service_account_user(state.store.as_ref(), realm_id, client_id).await?
    {
        if let Some(next) = az::grant_uma(&u.representation, client_id) {
            u.representation = next;
            state.store.update_user(realm_id, &u).await?;
        }
    }
    Ok(())
}

/// `GET /clients/{id}`.
pub async fn get(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<ViewClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let c = edit::client(&snap.rep, &id).ok_or_else(not_found)?;
    let perms = Fgap::of(&state, &snap, &caller).await?;
    Ok(Json(client_json(c, &snap.name, &caller, perms.as_ref())?))
}

/// `PUT /clients/{id}`: fields present replace the stored ones. Authorization Services
/// follow `authorizationServicesEnabled` as Keycloak's `ClientResource.update` does: `true`
/// switches them on (with the defaults when the client had none), anything else, an absent
/// flag too, switches them off and deletes the resource server; public and bearer-only
/// clients have them off.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let mut patch: Map<String, Value> =
        representation(&bytes, &Shape::One(&super::jackson::CLIENT))?;
    patch.remove("authorizationSettings");
    let had_server = state.store.resource_server(&snap.id, &id).await?.is_some();
    let current = edit::client(&snap.rep, &id).ok_or_else(not_found)?.clone();
    let public = patch
        .get("publicClient")
        .map(|v| az::truthy(Some(v)))
        .unwrap_or(current.public_client == Some(true));
    let bearer = patch
        .get("bearerOnly")
        .map(|v| az::truthy(Some(v)))
        .unwrap_or(current.bearer_only == Some(true));
    let want = az::truthy(patch.get("authorizationServicesEnabled")) && !public && !bearer;
    patch.remove("authorizationServicesEnabled");
    if want {
        patch.insert("serviceAccountsEnabled".into(), json!(true));
    }
    let users = az::UserDir::default();
    let renamed = edit_realm(&state, &snap.name, |rep, writes| {
        let renamed = edit::update_client(rep, writes, &id, &patch)?;
        set_flag(rep, &id, want);
        let client_id = edit::client(rep, &id)
            .and_then(|c| c.client_id.clone())
            .unwrap_or_default();
        if want && !had_server {
            switch_on(rep, writes, &id, &client_id, None, &users)?;
        } else if want {
            az::ensure_uma_role(rep, &client_id, &id);
        } else if had_server {
            writes.push(crate::store::Write::DeleteResourceServer {
                realm_id: rep.id.clone().unwrap_or_default(),
                id: id.clone(),
            });
        }
        Ok(renamed)
    })
    .await;
    let renamed = match renamed {
        // The service-account user already exists (it was kept when the flag was turned off).
        Err(AdminError::Conflict(m)) if m.starts_with("duplicate user") => {
            let r = update_without_sa(&state, &snap.name, &id, &patch, want, had_server).await;
            if want {
                let client_id = state
                    .realms
                    .get(state.store.as_ref(), &snap.name)
                    .await?
                    .and_then(|s| edit::client(&s.rep, &id).and_then(|c| c.client_id.clone()))
                    .unwrap_or_default();
                grant_uma_to_service_account(&state, &snap.id, &client_id).await?;
            }
            return r;
        }
        other => other?,
    };
    if let Some((old, new)) = &renamed {
        rename_client_in_users(&state, &snap.id, old, new).await?;
    }
    if want {
        let client_id = renamed
            .map(|(_, n)| n)
            .or(current.client_id)
            .unwrap_or_default();
        grant_uma_to_service_account(&state, &snap.id, &client_id).await?;
    }
    Ok(no_content())
}

async fn update_without_sa(
    state: &AppState,
    realm: &str,
    id: &str,
    patch: &Map<String, Value>,
    want: bool,
    had_server: bool,
) -> AdminResult<Response> {
    let users = az::UserDir::default();
    edit_realm(state, realm, |rep, writes| {
        let c = edit::client_mut(rep, id).ok_or_else(not_found)?;
        *c = edit::merge(&*c, patch, &["id", "access", "clientId"])?;
        let client_id = c.client_id.clone().unwrap_or_default();
        set_flag(rep, id, want);
        if want && !had_server {
            switch_on(rep, writes, id, &client_id, None, &users)?;
        } else if !want && had_server {
            writes.push(crate::store::Write::DeleteResourceServer {
                realm_id: rep.id.clone().unwrap_or_default(),
                id: id.to_string(),
            });
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// Carries a `clientId` rename over to users' client-role mappings.
async fn rename_client_in_users(
    state: &AppState,
    realm_id: &str,
    old: &str,
    new: &str,
) -> AdminResult<()> {
    for mut row in state.store.users(realm_id).await? {
        let mut u: UserRepresentation =
            serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
        let mut changed = false;
        if let Some(m) = u.client_roles.as_mut() {
            if let Some(v) = m.shift_remove(old) {
                m.insert(new.to_string(), v);
                changed = true;
            }
        }
        if u.service_account_client_id.as_deref() == Some(old) {
            u.service_account_client_id = Some(new.to_string());
            changed = true;
        }
        if changed {
            row.representation = serde_json::to_string(&u).map_err(|_| AdminError::Internal)?;
            state.store.update_user(realm_id, &row).await?;
        }
    }
    Ok(())
}

/// `DELETE /clients/{id}`: with its roles, references and service-account user.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let client_id = edit::client(&snap.rep, &id)
        .ok_or_else(not_found)?
        .client_id
        .clone()
        .unwrap_or_default();
    // The realm's admin permissions live in this one (`ClientResource.deleteClient`).
    if super::permissions::is_admin_permissions_client(&snap, &id) {
        return Err(AdminError::bad("Not supported for this client."));
    }
    // Master's admin client of an existing realm goes only with its realm.
    if let Some(realm) = admin_clients::target(&client_id)
        .filter(|r| snap.name == MASTER && state.realms.contains(r))
    {
        return Err(AdminError::bad(admin_clients::unchangeable(
            &client_id, realm,
        )));
    }
    edit_realm(&state, &snap.name, |rep, writes| {
        edit::client(rep, &id).ok_or_else(not_found)?;
        edit::remove_client(rep, &client_id);
        writes.push(crate::store::Write::DeleteResourceServer {
            realm_id: rep.id.clone().unwrap_or_default(),
            id: id.clone(),
        });
        Ok(())
    })
    .await?;
    if let Some(u) = edit::service_account_user(state.store.as_ref(), &snap.id, &client_id).await? {
        crate::users::delete_user(state.store.as_ref(), &snap, &u.id).await?;
    }
    // The client and its roles leave the fine-grained admin permissions.
    let role_ids: Vec<String> = snap
        .rep
        .roles
        .as_ref()
        .and_then(|r| r.client.as_ref())
        .and_then(|m| m.get(&client_id))
        .into_iter()
        .flatten()
        .filter_map(|r| r.id.clone())
        .collect();
    for object in std::iter::once(id).chain(role_ids) {
        crate::realm::authz::forget_admin_object(
            state.store.as_ref(),
            &snap.rep,
            &snap.id,
            &object,
        )
        .await?;
    }
    Ok(no_content())
}

/// `GET /clients/{id}/client-secret`.
pub async fn secret(
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let c = edit::client(&snap.rep, &id).ok_or_else(not_found)?;
    Ok(Json(json!({"type": "secret", "value": c.secret})))
}

/// `POST /clients/{id}/client-secret`: a new secret; the old one stops working at once.
pub async fn regenerate_secret(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let secret = edit_realm(&state, &snap.name, |rep, _| {
        let c = edit::client_mut(rep, &id).ok_or_else(not_found)?;
        let s = random_alphanumeric(32);
        c.secret = Some(s.clone());
        Ok(s)
    })
    .await?;
    Ok(Json(json!({"type": "secret", "value": secret})))
}

/// `GET /clients/{id}/service-account-user`.
pub async fn service_account_user(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUsers>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let c = edit::client(&snap.rep, &id).ok_or_else(not_found)?;
    if c.service_accounts_enabled != Some(true) {
        // `ClientResource.getServiceAccountUser`: a JAX-RS `BadRequestException`.
        return Err(AdminError::Plain(format!(
            "Service account not enabled for the client '{}'",
            c.client_id.as_deref().unwrap_or_default()
        )));
    }
    let row = edit::service_account_user(
        state.store.as_ref(),
        &snap.id,
        c.client_id.as_deref().unwrap_or_default(),
    )
    .await?
    .ok_or_else(|| AdminError::not_found("Could not find service account user"))?;
    let u: UserRepresentation =
        serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
    Ok(Json(view::user_json(&u, false)))
}

/// `GET /clients/{id}/installation/providers/keycloak-oidc-keycloak-json`.
pub async fn installation(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    headers: HeaderMap,
    uri: Uri,
    Path((_, id, provider)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let c = edit::client(&snap.rep, &id).ok_or_else(not_found)?;
    if provider != "keycloak-oidc-keycloak-json" {
        return Err(AdminError::not_found("Unknown Provider"));
    }
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::bad("invalid host"))?;
    Ok(Json(edit::installation_json(&snap, c, &base)))
}

// Protocol mappers (shared with client scopes through `edit::mapper_*`).

/// `GET /clients/{id}/protocol-mappers/models`.
pub async fn mappers(
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    Ok(Json(edit::mappers_of(
        &edit::client(&snap.rep, &id)
            .ok_or_else(not_found)?
            .protocol_mappers,
    )))
}

/// `POST /clients/{id}/protocol-mappers/models`.
pub async fn add_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    uri: Uri,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let m: Value = representation(&bytes, &Shape::One(&super::jackson::PROTOCOL_MAPPER))?;
    let mid = edit_realm(&state, &snap.name, |rep, _| {
        let c = edit::client_mut(rep, &id).ok_or_else(not_found)?;
        Ok(edit::mapper_add(&mut c.protocol_mappers, m.clone())?)
    })
    .await?;
    Ok(created(&uri, &mid))
}

/// `POST /clients/{id}/protocol-mappers/add-models`.
pub async fn add_mappers(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let list: Vec<Value> = representation(&bytes, &Shape::Many(&super::jackson::PROTOCOL_MAPPER))?;
    edit_realm(&state, &snap.name, |rep, _| {
        let c = edit::client_mut(rep, &id).ok_or_else(not_found)?;
        for m in &list {
            edit::mapper_add(&mut c.protocol_mappers, m.clone())?;
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /clients/{id}/protocol-mappers/models/{mapper}`.
pub async fn get_mapper(
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    Ok(Json(edit::mapper_get(
        &edit::client(&snap.rep, &id)
            .ok_or_else(not_found)?
            .protocol_mappers,
        &mid,
    )?))
}

/// `PUT /clients/{id}/protocol-mappers/models/{mapper}`.
pub async fn update_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id, mid)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let m: Value = representation(&bytes, &Shape::One(&super::jackson::PROTOCOL_MAPPER))?;
    edit_realm(&state, &snap.name, |rep, _| {
        let c = edit::client_mut(rep, &id).ok_or_else(not_found)?;
        Ok(edit::mapper_update(
            &mut c.protocol_mappers,
            &mid,
            m.clone(),
        )?)
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /clients/{id}/protocol-mappers/models/{mapper}`.
pub async fn delete_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id, mid)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    edit_realm(&state, &snap.name, |rep, _| {
        let c = edit::client_mut(rep, &id).ok_or_else(not_found)?;
        Ok(edit::mapper_delete(&mut c.protocol_mappers, &mid)?)
    })
    .await?;
    Ok(no_content())
}

// Client scopes of a client.

/// `GET /clients/{id}/default-client-scopes` (`DEFAULT`) or `/optional-client-scopes`.
pub async fn scopes<const DEFAULT: bool>(
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let c = edit::client(&snap.rep, &id).ok_or_else(not_found)?;
    let names = if DEFAULT {
        &c.default_client_scopes
    } else {
        &c.optional_client_scopes
    };
    Ok(Json(view::scope_refs(
        &snap.rep,
        names.as_deref().unwrap_or_default(),
    )))
}

/// `PUT` (`ADD`) or `DELETE` `/clients/{id}/default-client-scopes/{scope}` (`DEFAULT`) or
/// `/optional-client-scopes/{scope}`.
pub async fn change_scope<const DEFAULT: bool, const ADD: bool>(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id, scope_id)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    edit_realm(&state, &snap.name, |rep, _| {
        let name = rep
            .client_scopes
            .iter()
            .flatten()
            .find(|s| s.id.as_deref() == Some(scope_id.as_str()))
            .and_then(|s| s.name.clone())
            .ok_or_else(|| AdminError::not_found("Client scope not found"))?;
        let c = edit::client_mut(rep, &id).ok_or_else(not_found)?;
        let (this, other) = if DEFAULT {
            (&mut c.default_client_scopes, &mut c.optional_client_scopes)
        } else {
            (&mut c.optional_client_scopes, &mut c.default_client_scopes)
        };
        if ADD {
            if other.as_ref().is_some_and(|l| l.contains(&name)) {
                return Err(AdminError::Conflict(format!(
                    "Client scope {name} is already linked to the client"
                )));
            }
            let list = this.get_or_insert_with(Vec::new);
            if !list.contains(&name) {
                list.push(name);
            }
        } else if let Some(list) = this.as_mut() {
            list.retain(|n| *n != name);
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

// Scope mappings of a client: roles allowed into its tokens when `fullScopeAllowed` is off.

/// Clients as holders of scope mappings (`/clients/{id}/scope-mappings`).
#[derive(Debug)]
pub struct Clients;

impl rm::ScopeHolder for Clients {
    type View = ViewClient;
    type Manage = ManageClient;
    fn target(rep: &RealmRepresentation, id: &str) -> AdminResult<ScopeTarget> {
        rm::client_id(rep, id, "Could not find client").map(ScopeTarget::Client)
    }
}

/// Query of `evaluate-scopes/generate-example-access-token`.
#[derive(Debug, Deserialize)]
pub struct ExampleQuery {
    scope: Option<String>,
    #[serde(rename = "userId")]
    user_id: Option<String>,
}

/// `GET /clients/{id}/evaluate-scopes/generate-example-access-token`: the claims of the access
/// token this client would get for the user with these scopes (nothing is signed or stored).
pub async fn example_access_token(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query: q,
        ..
    }: RealmAdmin<ViewClient, ExampleQuery>,
    headers: HeaderMap,
    uri: Uri,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    caller.require(&snap.name, Need::View(Family::Users))?;
    let client = edit::client(&snap.rep, &id).ok_or_else(not_found)?;
    let user_id = q
        .user_id
        .ok_or_else(|| AdminError::bad("No userId provided"))?;
    let row = state
        .store
        .user_by_id(&snap.id, &user_id)
        .await?
        .ok_or_else(|| AdminError::not_found("No user found"))?;
    let user: UserRepresentation =
        serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)?;
    let (scopes, openid) = crate::tokens::resolve_scopes(&snap, client, q.scope.as_deref())
        .map_err(|e| AdminError::bad(e.description))?;
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::bad("invalid host"))?;
    let issuer = paths::url(&base, paths::REALM, &snap.name);
    let notes = Map::new();
    let memberships =
        crate::tokens::memberships(state.store.as_ref(), &snap, &row.id, &scopes, None).await?;
    let req = crate::tokens::TokenRequest {
        snap: &snap,
        issuer: &issuer,
        client,
        user_id: &row.id,
        user: &user,
        sid: None,
        notes: &notes,
        scopes: &scopes,
        memberships: &memberships,
        openid,
        nonce: None,
        now: crate::clock::now(),
        acr: "1",
    };
    let issued = crate::tokens::issue(&req).map_err(|_| AdminError::Internal)?;
    let claims = crate::crypto::jws::parse(&issued.access_token)
        .map_err(|_| AdminError::Internal)?
        .claims;
    Ok(Json(Value::Object(claims)))
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_CLIENTS, routing::get(list).post(create))
        .route(
            paths::ADMIN_CLIENT,
            routing::get(get).put(update).delete(delete),
        )
        .route(
            paths::ADMIN_CLIENT_CLIENT_SECRET,
            routing::get(secret).post(regenerate_secret),
        )
        .route(
            paths::ADMIN_CLIENT_SERVICE_ACCOUNT_USER,
            routing::get(service_account_user),
        )
        .route(
            paths::ADMIN_CLIENT_INSTALLATION_PROVIDER,
            routing::get(installation),
        )
        .route(
            paths::ADMIN_CLIENT_PROTOCOL_MAPPERS_MODELS,
            routing::get(mappers).post(add_mapper),
        )
        .route(
            paths::ADMIN_CLIENT_PROTOCOL_MAPPERS_ADD_MODELS,
            routing::post(add_mappers),
        )
        .route(
            paths::ADMIN_CLIENT_PROTOCOL_MAPPERS_MODEL,
            routing::get(get_mapper)
                .put(update_mapper)
                .delete(delete_mapper),
        )
        .route(
            paths::ADMIN_CLIENT_DEFAULT_CLIENT_SCOPES,
            routing::get(scopes::<true>),
        )
        .route(
            paths::ADMIN_CLIENT_DEFAULT_CLIENT_SCOPE,
            routing::put(change_scope::<true, true>).delete(change_scope::<true, false>),
        )
        .route(
            paths::ADMIN_CLIENT_OPTIONAL_CLIENT_SCOPES,
            routing::get(scopes::<false>),
        )
        .route(
            paths::ADMIN_CLIENT_OPTIONAL_CLIENT_SCOPE,
            routing::put(change_scope::<false, true>).delete(change_scope::<false, false>),
        )
        .merge(rm::routes_of::<rm::ScopeMapped<Clients>>(
            rm::MappingPaths {
                all: paths::ADMIN_CLIENT_SCOPE_MAPPINGS,
                realm: paths::ADMIN_CLIENT_SCOPE_MAPPINGS_REALM,
                realm_composite: paths::ADMIN_CLIENT_SCOPE_MAPPINGS_REALM_COMPOSITE,
                realm_available: paths::ADMIN_CLIENT_SCOPE_MAPPINGS_REALM_AVAILABLE,
                client: paths::ADMIN_CLIENT_SCOPE_MAPPINGS_CLIENT,
                client_composite: paths::ADMIN_CLIENT_SCOPE_MAPPINGS_CLIENT_COMPOSITE,
                client_available: paths::ADMIN_CLIENT_SCOPE_MAPPINGS_CLIENT_AVAILABLE,
            },
        ))
        .route(
            paths::ADMIN_CLIENT_EVALUATE_SCOPES_GENERATE_EXAMPLE_ACCESS_TOKEN,
            routing::get(example_access_token),
        )
}
