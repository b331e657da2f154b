//! `/admin/realms/{realm}/authentication`: flows, executions, authenticator configs, provider
//! descriptions and required actions (Keycloak's `AuthenticationManagementResource`).
//!
//! Everything is stored in the realm document ([`AuthDoc`], `requiredActions`) in Keycloak's
//! export shape, so a change shows in the realm export. The pure operations on the document
//! are in [`ops`]; the handlers here read the body, check the caller and run one of them in a
//! realm edit.

pub mod ops;
pub mod providers;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::auth::{Caller, ManageRealm, NeedMarker, RealmAdmin, ViewRealm};
use super::jackson::{self, Rep};
use super::{body, created, edit_realm, no_content, AdminError, AdminResult, Shape};
use crate::http::paths;
use crate::representation::authentication::{self as doc, AuthDoc, DocError};
use crate::representation::RealmRepresentation;
use crate::AppState;
use providers::Kind;

/// `requireViewAuthenticationFlows`: the realm's viewers, or `query-clients`.
#[derive(Debug)]
pub struct ViewFlows;

impl NeedMarker for ViewFlows {
    fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
        one_of(
            caller,
            realm,
            &["view-realm", "manage-realm", "query-clients"],
        )
    }
}

/// `requireViewRequiredActions`: the realm's viewers, or `query-users`.
#[derive(Debug)]
pub struct ViewRequiredActions;

impl NeedMarker for ViewRequiredActions {
    fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
        one_of(
            caller,
            realm,
            &["view-realm", "manage-realm", "query-users"],
        )
    }
}

/// `requireViewClientAuthenticatorProviders`: the realm's viewers, or a clients role.
#[derive(Debug)]
pub struct ViewClientAuthenticators;

impl NeedMarker for ViewClientAuthenticators {
    fn check(caller: &Caller, realm: &str) -> AdminResult<()> {
        one_of(
            caller,
            realm,
            &[
                "view-realm",
                "manage-realm",
                "query-clients",
                "view-clients",
                "manage-clients",
            ],
        )
    }
}

fn one_of(caller: &Caller, realm: &str, roles: &[&str]) -> AdminResult<()> {
    if roles.iter().any(|r| caller.has(realm, r)) {
        Ok(())
    } else {
        Err(AdminError::Forbidden)
    }
}

fn unreadable(e: DocError) -> AdminError {
    tracing::error!(error = %e, "admin: stored authentication configuration is invalid");
    AdminError::Internal
}

fn read_doc(rep: &RealmRepresentation) -> AdminResult<AuthDoc> {
    AuthDoc::read(rep).map_err(unreadable)
}

/// A realm edit of the flows and configs.
async fn edit_doc<T>(
    state: &AppState,
    realm: &str,
    mut f: impl FnMut(&mut AuthDoc, &mut RealmRepresentation) -> AdminResult<T>,
) -> AdminResult<T> {
    edit_realm(state, realm, |rep, _| {
        let mut d = read_doc(rep)?;
        let out = f(&mut d, rep)?;
        d.write(rep).map_err(unreadable)?;
        Ok(out)
    })
    .await
}

/// A realm edit of the required actions.
async fn edit_actions<T>(
    state: &AppState,
    realm: &str,
    mut f: impl FnMut(&mut Vec<doc::RequiredActionProviderRepresentation>) -> AdminResult<T>,
) -> AdminResult<T> {
    edit_realm(state, realm, |rep, _| {
        let mut list = doc::required_actions(rep).map_err(unreadable)?;
        let out = f(&mut list)?;
        list.sort_by(ops::action_order);
        doc::set_required_actions(rep, &list).map_err(unreadable)?;
        Ok(out)
    })
    .await
}

/// A JSON object body read as Jackson reads `rep` (unknown fields refused with
/// `Unrecognized field`, wrong shapes with Jackson's message).
fn strict_body(bytes: &[u8], rep: &'static Rep) -> AdminResult<Map<String, Value>> {
    super::representation(bytes, &Shape::One(rep))
}

/// `Location` of `/admin/realms/{realm}/authentication/<kind>/<id>`, from a request path under
/// `authentication` (Keycloak strips the request's own sub-path and appends the new object's).
fn created_under_authentication(uri: &Uri, kind: &str, id: &str) -> Response {
    let path = uri.path();
    let base = path
        .find("/authentication/")
        .map(|i| &path[..i + "/authentication".len()])
        .unwrap_or(path);
    let target: Uri = format!("{base}/{kind}")
        .parse()
        .unwrap_or_else(|_| uri.clone());
    created(&target, id)
}

// ---------------------------------------------------------------------------------------
// Providers.

/// `GET /authentication/authenticator-providers`.
pub async fn authenticator_providers(_: RealmAdmin<ViewRealm>) -> Json<Vec<Value>> {
    Json(providers::listing(Kind::Authenticator))
}

/// `GET /authentication/client-authenticator-providers`.
pub async fn client_authenticator_providers(
    _: RealmAdmin<ViewClientAuthenticators>,
) -> Json<Vec<Value>> {
    Json(providers::listing(Kind::Client))
}

/// `GET /authentication/form-action-providers`.
pub async fn form_action_providers(_: RealmAdmin<ViewRealm>) -> Json<Vec<Value>> {
    Json(providers::listing(Kind::FormAction))
}

/// `GET /authentication/form-providers`.
pub async fn form_providers(_: RealmAdmin<ViewRealm>) -> Json<Vec<Value>> {
    Json(providers::listing(Kind::Form))
}

/// `GET /authentication/per-client-config-description`: the per-client settings of each client
/// authenticator (none of those Portcullis knows has any but `federated-jwt`).
pub async fn per_client_config_description(_: RealmAdmin<ViewClientAuthenticators>) -> Json<Value> {
    let mut out = Map::new();
    for p in providers::PROVIDERS
        .iter()
        .filter(|p| p.kind == Kind::Client)
    {
        let props: Vec<Value> = if p.id == "federated-jwt" {
            vec![
                providers::Prop(
                    "jwt.credential.issuer",
                    "Identity provider",
                    "Issuer of the client assertion",
                    "String",
                    None,
                )
                .to_json(),
                providers::Prop(
                    "jwt.credential.sub",
                    "Federated subject",
                    "External clientId (subject)",
                    "String",
                    None,
                )
                .to_json(),
            ]
        } else {
            Vec::new()
        };
        out.insert(p.id.to_string(), Value::Array(props));
    }
    Json(Value::Object(out))
}

/// `GET /authentication/config-description/{providerId}`.
pub async fn config_description(
    _: RealmAdmin<ViewRealm>,
    Path((_, provider)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let p = providers::configurable_factory(&provider)
        .ok_or_else(|| AdminError::not_found("Could not find authenticator provider"))?;
    Ok(Json(json!({
        "providerId": p.id,
        "name": p.display,
        "helpText": p.help,
        "properties": p.properties.iter().map(providers::Prop::to_json).collect::<Vec<_>>(),
    })))
}

// ---------------------------------------------------------------------------------------
// Flows.

/// `GET /authentication/flows`: the top-level flows but `saml ecp`.
pub async fn list_flows(
    RealmAdmin { snap, .. }: RealmAdmin<ViewFlows>,
) -> AdminResult<Json<Vec<Value>>> {
    let d = read_doc(&snap.rep)?;
    Ok(Json(
        d.flows
            .iter()
            .filter(|f| f.top_level == Some(true) && f.alias.as_deref() != Some("saml ecp"))
            .map(ops::flow_json)
            .collect(),
    ))
}

/// `GET /authentication/flows/{id}`.
pub async fn get_flow(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let d = read_doc(&snap.rep)?;
    let f = d.flow(&id).ok_or_else(ops::no_flow_with_id)?;
    Ok(Json(ops::flow_json(f)))
}

/// `POST /authentication/flows`.
pub async fn create_flow(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::AUTHENTICATION_FLOW)?;
    let rep = ops::flow_body(obj)?;
    let id = edit_doc(&state, &snap.name, |d, _| ops::create_flow(d, rep.clone())).await?;
    Ok(created(&uri, &id))
}

/// `PUT /authentication/flows/{id}`.
pub async fn update_flow(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::AUTHENTICATION_FLOW)?;
    let rep = ops::flow_body(obj)?;
    edit_doc(&state, &snap.name, |d, realm| {
        ops::update_flow(d, realm, &id, &rep)
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /authentication/flows/{id}`.
pub async fn delete_flow(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_doc(&state, &snap.name, |d, realm| {
        ops::delete_flow(d, realm, &id)
    })
    .await?;
    Ok(no_content())
}

/// `POST /authentication/flows/{alias}/copy` with `{"newName": ...}`.
pub async fn copy_flow(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, alias)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let data = ops::string_map(body(&bytes)?)?;
    let new_name = data.get("newName").cloned();
    let id = edit_doc(&state, &snap.name, |d, _| {
        ops::copy_flow(d, &alias, new_name.as_deref())
    })
    .await?;
    Ok(created(&uri, &id))
}

// ---------------------------------------------------------------------------------------
// Executions.

/// `GET /authentication/flows/{alias}/executions`: the flow's executions and, below each
/// sub-flow, the sub-flow's (`AuthenticationExecutionInfoRepresentation`, depth-first).
pub async fn list_executions(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
    Path((_, alias)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let d = read_doc(&snap.rep)?;
    Ok(Json(ops::execution_infos(&d, &alias)?))
}

/// `PUT /authentication/flows/{alias}/executions`: an execution's requirement and priority,
/// or a sub-flow's alias and description.
pub async fn update_executions(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, alias)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::AUTHENTICATION_EXECUTION_INFO)?;
    let info = ops::info_body(&obj)?;
    edit_doc(&state, &snap.name, |d, realm| {
        ops::update_execution(d, realm, &alias, &info)
    })
    .await?;
    Ok(no_content())
}

/// `POST /authentication/flows/{alias}/executions/execution` with `{"provider": ...}`.
pub async fn add_execution_to_flow(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, alias)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    add_to_flow(
        &state,
        &snap.name,
        &alias,
        &uri,
        &bytes,
        "executions",
        ops::add_execution_to_flow,
    )
    .await
}

/// Adds what `op` makes from a map body to flow `alias`; 201 with its `Location` under `kind`.
async fn add_to_flow(
    state: &AppState,
    realm: &str,
    alias: &str,
    uri: &Uri,
    bytes: &[u8],
    kind: &str,
    op: fn(&mut AuthDoc, &str, &Map<String, Value>) -> AdminResult<String>,
) -> AdminResult<Response> {
    let data: Map<String, Value> = body(bytes)?;
    let id = edit_doc(state, realm, |d, _| op(d, alias, &data)).await?;
    Ok(created_under_authentication(uri, kind, &id))
}

/// `POST /authentication/flows/{alias}/executions/flow` with `{"alias", "type", "provider",
/// "description"}`: a new sub-flow and the execution that runs it.
pub async fn add_subflow(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, alias)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    add_to_flow(
        &state,
        &snap.name,
        &alias,
        &uri,
        &bytes,
        "flows",
        ops::add_subflow,
    )
    .await
}

/// `POST /authentication/executions` (`AuthenticationExecutionRepresentation`).
pub async fn add_execution(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::AUTHENTICATION_EXECUTION)?;
    let id = edit_doc(&state, &snap.name, |d, _| ops::add_execution(d, &obj)).await?;
    Ok(created(&uri, &id))
}

/// `GET /authentication/executions/{id}`.
pub async fn get_execution(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let d = read_doc(&snap.rep)?;
    Ok(Json(ops::execution_json(&d, &id)?))
}

/// `DELETE /authentication/executions/{id}`.
pub async fn delete_execution(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_doc(&state, &snap.name, |d, realm| {
        ops::delete_execution(d, realm, &id)
    })
    .await?;
    Ok(no_content())
}

/// `POST /authentication/executions/{id}/raise-priority` (`UP`) or `lower-priority`.
pub async fn move_execution<const UP: bool>(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_doc(&state, &snap.name, |d, _| ops::move_execution(d, &id, UP)).await?;
    Ok(no_content())
}

/// `POST /authentication/executions/{id}/config`: a new config, linked to the execution.
pub async fn add_execution_config(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::AUTHENTICATOR_CONFIG)?;
    let cfg = ops::config_body(obj)?;
    let cid = edit_doc(&state, &snap.name, |d, _| {
        ops::add_execution_config(d, &id, cfg.clone())
    })
    .await?;
    Ok(created(&uri, &cid))
}

/// `GET /authentication/executions/{id}/config/{config}` (deprecated by Keycloak).
pub async fn get_execution_config(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
    Path((_, _, cid)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let d = read_doc(&snap.rep)?;
    Ok(Json(ops::config_json(&d, &cid)?))
}

// ---------------------------------------------------------------------------------------
// Authenticator configs.

/// `POST /authentication/config` (deprecated by Keycloak): a config linked to nothing.
pub async fn create_config(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::AUTHENTICATOR_CONFIG)?;
    let cfg = ops::config_body(obj)?;
    let id = edit_doc(&state, &snap.name, |d, _| ops::add_config(d, cfg.clone())).await?;
    Ok(created(&uri, &id))
}

/// `GET /authentication/config/{id}`.
pub async fn get_config(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let d = read_doc(&snap.rep)?;
    Ok(Json(ops::config_json(&d, &id)?))
}

/// `PUT /authentication/config/{id}`.
pub async fn update_config(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::AUTHENTICATOR_CONFIG)?;
    let cfg = ops::config_body(obj)?;
    edit_doc(&state, &snap.name, |d, _| ops::update_config(d, &id, &cfg)).await?;
    Ok(no_content())
}

/// `DELETE /authentication/config/{id}`: executions using it lose it.
pub async fn delete_config(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_doc(&state, &snap.name, |d, _| ops::delete_config(d, &id)).await?;
    Ok(no_content())
}

// ---------------------------------------------------------------------------------------
// Required actions.

/// `GET /authentication/required-actions`.
pub async fn list_required_actions(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRequiredActions>,
) -> AdminResult<Json<Vec<Value>>> {
    let list = doc::required_actions(&snap.rep).map_err(unreadable)?;
    Ok(Json(list.iter().map(ops::action_json).collect()))
}

/// `GET /authentication/required-actions/{alias}`.
pub async fn get_required_action(
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
    Path((_, alias)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let list = doc::required_actions(&snap.rep).map_err(unreadable)?;
    let a = list
        .iter()
        .find(|a| a.alias.as_deref() == Some(alias.as_str()))
        .ok_or_else(|| AdminError::not_found("Failed to find required action"))?;
    Ok(Json(ops::action_json(a)))
}

/// `PUT /authentication/required-actions/{alias}`.
pub async fn update_required_action(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, alias)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let obj = strict_body(&bytes, &jackson::REQUIRED_ACTION_PROVIDER)?;
    let rep = ops::action_body(obj)?;
    edit_actions(&state, &snap.name, |list| {
        ops::update_action(list, &alias, &rep)
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /authentication/required-actions/{alias}`.
pub async fn delete_required_action(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, alias)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_actions(&state, &snap.name, |list| {
        let before = list.len();
        list.retain(|a| a.alias.as_deref() != Some(alias.as_str()));
        if list.len() == before {
            return Err(ops::no_action());
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `POST /authentication/required-actions/{alias}/raise-priority` (`UP`) or `lower-priority`.
pub async fn move_required_action<const UP: bool>(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    Path((_, alias)): Path<(String, String)>,
) -> AdminResult<Response> {
    edit_actions(&state, &snap.name, |list| {
        ops::move_action(list, &alias, UP)
    })
    .await?;
    Ok(no_content())
}

/// Whether this server offers the built-in action `id`: `UPDATE_EMAIL` only with the
/// `update-email` feature (`UpdateEmail.isSupported`).
fn available(state: &AppState, id: &str) -> bool {
    id != "UPDATE_EMAIL" || state.config.features.update_email
}

/// `GET /authentication/unregistered-required-actions`: Keycloak's built-in actions the realm
/// has not registered (and this server offers).
pub async fn unregistered_required_actions(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewRealm>,
) -> AdminResult<Json<Vec<Value>>> {
    let list = doc::required_actions(&snap.rep).map_err(unreadable)?;
    Ok(Json(
        providers::REQUIRED_ACTIONS
            .iter()
            .filter(|(id, _)| available(&state, id))
            .filter(|(id, _)| !list.iter().any(|a| a.provider_id.as_deref() == Some(*id)))
            .map(|(id, name)| json!({"name": name, "providerId": id}))
            .collect(),
    ))
}

/// `POST /authentication/register-required-action` with `{"providerId", "name"}`.
pub async fn register_required_action(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageRealm>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let data = ops::string_map(body(&bytes)?)?;
    if data
        .get("providerId")
        .is_some_and(|p| !available(&state, p))
    {
        return Err(AdminError::Plain(
            "Required Action Provider with given providerId not found".into(),
        ));
    }
    edit_actions(&state, &snap.name, |list| ops::register_action(list, &data)).await?;
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::ADMIN_AUTH_AUTHENTICATOR_PROVIDERS,
            get(authenticator_providers),
        )
        .route(
            paths::ADMIN_AUTH_CLIENT_AUTHENTICATOR_PROVIDERS,
            get(client_authenticator_providers),
        )
        .route(
            paths::ADMIN_AUTH_FORM_ACTION_PROVIDERS,
            get(form_action_providers),
        )
        .route(paths::ADMIN_AUTH_FORM_PROVIDERS, get(form_providers))
        .route(
            paths::ADMIN_AUTH_PER_CLIENT_CONFIG_DESCRIPTION,
            get(per_client_config_description),
        )
        .route(
            paths::ADMIN_AUTH_CONFIG_DESCRIPTION,
            get(config_description),
        )
        .route(paths::ADMIN_AUTH_FLOWS, get(list_flows).post(create_flow))
        .route(
            paths::ADMIN_AUTH_FLOW,
            get(get_flow).put(update_flow).delete(delete_flow),
        )
        .route(paths::ADMIN_AUTH_FLOW_COPY, post(copy_flow))
        .route(
            paths::ADMIN_AUTH_FLOW_EXECUTIONS,
            get(list_executions).put(update_executions),
        )
        .route(
            paths::ADMIN_AUTH_FLOW_EXECUTIONS_EXECUTION,
            post(add_execution_to_flow),
        )
        .route(paths::ADMIN_AUTH_FLOW_EXECUTIONS_FLOW, post(add_subflow))
        .route(paths::ADMIN_AUTH_EXECUTIONS, post(add_execution))
        .route(
            paths::ADMIN_AUTH_EXECUTION,
            get(get_execution).delete(delete_execution),
        )
        .route(
            paths::ADMIN_AUTH_EXECUTION_RAISE_PRIORITY,
            post(move_execution::<true>),
        )
        .route(
            paths::ADMIN_AUTH_EXECUTION_LOWER_PRIORITY,
            post(move_execution::<false>),
        )
        .route(
            paths::ADMIN_AUTH_EXECUTION_CONFIG,
            post(add_execution_config),
        )
        .route(
            paths::ADMIN_AUTH_EXECUTION_CONFIG_ID,
            get(get_execution_config),
        )
        .route(paths::ADMIN_AUTH_CONFIGS, post(create_config))
        .route(
            paths::ADMIN_AUTH_CONFIG,
            get(get_config).put(update_config).delete(delete_config),
        )
        .route(
            paths::ADMIN_AUTH_REQUIRED_ACTIONS,
            get(list_required_actions),
        )
        .route(
            paths::ADMIN_AUTH_REQUIRED_ACTION,
            get(get_required_action)
                .put(update_required_action)
                .delete(delete_required_action),
        )
        .route(
            paths::ADMIN_AUTH_REQUIRED_ACTION_RAISE_PRIORITY,
            post(move_required_action::<true>),
        )
        .route(
            paths::ADMIN_AUTH_REQUIRED_ACTION_LOWER_PRIORITY,
            post(move_required_action::<false>),
        )
        .route(
            paths::ADMIN_AUTH_UNREGISTERED_REQUIRED_ACTIONS,
            get(unregistered_required_actions),
        )
        .route(
            paths::ADMIN_AUTH_REGISTER_REQUIRED_ACTION,
            post(register_required_action),
        )
}
