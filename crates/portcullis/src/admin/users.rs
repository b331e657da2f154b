//! `/admin/realms/{realm}/users`: search, count, CRUD, passwords, credentials, sessions,
//! groups and role mappings.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{
    Caller, CheckedLater, Family, ManageUser, ManageUsers, MapUserRoles, Need, RealmAdmin,
    SearchUsers, ViewUser,
};
use super::permissions;
use super::role_mappings::{self as rm, Available, Composite, Direct, Holders, Mode, Op};
use super::view::{self, user_json};
use super::{
    body, created, new_id, no_content, now_millis, representation, AdminError, AdminResult, Shape,
};
use crate::http::paths;
use crate::realm::edit;
use crate::realm::snapshot::RealmSnapshot;
use crate::representation::{CredentialRepresentation, UserRepresentation};
use crate::store::{Match, UserCondition, UserField, UserQuery, UserRow};
use crate::users::profile::{self, Context};
use crate::AppState;

/// Keycloak's default page size (`Constants.DEFAULT_MAX_RESULTS`).
const DEFAULT_MAX: i64 = 100;

fn not_found() -> AdminError {
    AdminError::not_found("User not found")
}

fn parse(row: &UserRow) -> AdminResult<UserRepresentation> {
    serde_json::from_str(&row.representation).map_err(|_| AdminError::Internal)
}

fn to_row(u: &UserRepresentation) -> AdminResult<UserRow> {
    Ok(UserRow {
        id: u.id.clone().unwrap_or_default(),
        username: u.username.clone().unwrap_or_default(),
        email: u.email.clone().map(|e| e.to_lowercase()),
        representation: serde_json::to_string(u).map_err(|_| AdminError::Internal)?,
    })
}

pub(super) async fn load(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
) -> AdminResult<(UserRow, UserRepresentation)> {
    let row = state
        .store
        .user_by_id(&snap.id, id)
        .await?
        .ok_or_else(not_found)?;
    let u = parse(&row)?;
    Ok((row, u))
}

/// The 409 of a user write: a taken user name, or a provider identity linked to another user
/// (the store's `federated_identity` key).
fn conflict(message: String) -> AdminError {
    if message.contains("is linked to another user") {
        AdminError::Conflict(message)
    } else {
        AdminError::Conflict("User exists with same username".into())
    }
}

pub(super) async fn save(
    state: &AppState,
    snap: &RealmSnapshot,
    u: &UserRepresentation,
) -> AdminResult<()> {
    state
        .store
        .update_user(&snap.id, &to_row(u)?)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Unique(m) => conflict(m),
            other => other.into(),
        })
}

/// Sets a user's password under the realm's policy (rules, history), replacing the old one;
/// a temporary password adds the `UPDATE_PASSWORD` required action.
async fn set_password(
    snap: &RealmSnapshot,
    u: &mut UserRepresentation,
    value: &str,
    temporary: bool,
) -> AdminResult<()> {
    use crate::policy::password::{message_key, parse_resolved, replace_password, Refused};
    let policy = snap.rep.password_policy.as_deref().unwrap_or_default();
    let rules = parse_resolved(policy, &snap.blacklists)
        .await
        .map_err(|e| {
            tracing::error!(realm = %snap.name, error = %e, "the realm's password policy cannot be applied");
            AdminError::Internal
        })?;
    replace_password(u, value, &rules, now_millis())
        .await
        .map_err(|e| match e {
            Refused::Policy(t) => AdminError::Policy(message_key(&t).into(), t),
            Refused::Internal => AdminError::Internal,
        })?;
    let actions = u.required_actions.get_or_insert_with(Vec::new);
    actions.retain(|a| a != "UPDATE_PASSWORD");
    if temporary {
        actions.push("UPDATE_PASSWORD".into());
    }
    Ok(())
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else {
        return false;
    };
    !local.is_empty() && !domain.is_empty() && !e.chars().any(char::is_whitespace)
}

fn username_of(snap: &RealmSnapshot, u: &UserRepresentation) -> AdminResult<String> {
    let username = u
        .username
        .clone()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let email_as_username = snap.settings.registration_email_as_username;
    match username {
        Some(n) => Ok(n),
        None if email_as_username && u.email.is_some() => {
            Ok(u.email.clone().unwrap_or_default().to_lowercase())
        }
        None => Err(AdminError::bad("User name is missing")),
    }
}

fn parse_new(v: &Value) -> AdminResult<UserRepresentation> {
    body(&serde_json::to_vec(v).map_err(|_| AdminError::Internal)?)
}

/// A new user from a create request: Keycloak's checks (user name and e-mail not taken) and
/// defaults, see [`new_user_unchecked`].
pub async fn new_user(state: &AppState, snap: &RealmSnapshot, v: &Value) -> AdminResult<UserRow> {
    let u = parse_new(v)?;
    let username = username_of(snap, &u)?;
    if state
        .store
        .user_by_username(&snap.id, &username)
        .await?
        .is_some()
    {
        return Err(AdminError::Conflict(
            "User exists with same username".into(),
        ));
    }
    let duplicates = snap.settings.duplicate_emails_allowed;
    if let Some(e) = u.email.as_deref().filter(|e| !e.is_empty()) {
        if !duplicates
            && !state
                .store
                .users_by_email(&snap.id, &e.to_lowercase())
                .await?
                .is_empty()
        {
            return Err(AdminError::Conflict("User exists with same email".into()));
        }
    }
    let mut u = u;
    u.username = Some(username);
    checked_by_profile(snap, &mut u, None)?;
    // The body as checked: unmanaged attributes the profile does not let an administrator
    // write are gone.
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        match &u.attributes {
            Some(a) => o.insert("attributes".into(), json!(a)),
            None => o.remove("attributes"),
        };
    }
    new_user_unchecked(state, snap, &v).await
}

/// Validates a user written through the Admin API against the realm's user profile
/// (Keycloak's `UserProfile.validate` in the `USER_API` context); the errors are Keycloak's
/// field errors.
fn checked_by_profile(
    snap: &RealmSnapshot,
    u: &mut UserRepresentation,
    before: Option<&UserRepresentation>,
) -> AdminResult<()> {
    let config = profile::config_of(&snap.rep);
    let errors = profile::validate_user(&config, Context::Admin, u, before);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Fields(profile::errors_body(&errors)))
    }
}

/// A user as an administrator sees it: attributes filtered by the realm's user profile.
fn profiled(snap: &RealmSnapshot, mut u: UserRepresentation) -> UserRepresentation {
    profile::visible_attributes(&profile::config_of(&snap.rep), Context::Admin, &mut u);
    u
}

/// A new user with Keycloak's defaults: lower-case user name, disabled unless `enabled`, the
/// realm's default role, groups by path, hashed credentials checked against the password
/// policy. Role mappings in the body are ignored, as Keycloak ignores them.
pub async fn new_user_unchecked(
    _state: &AppState,
    snap: &RealmSnapshot,
    v: &Value,
) -> AdminResult<UserRow> {
    let mut u = parse_new(v)?;
    let username = username_of(snap, &u)?;
    if let Some(e) = &u.email {
        if !e.is_empty() && !valid_email(e) {
            return Err(AdminError::bad("invalidEmailMessage"));
        }
    }
    u.username = Some(username.clone());
    u.id = Some(
        u.id.clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(new_id),
    );
    u.enabled = Some(u.enabled.unwrap_or(false));
    u.created_timestamp = Some(now_millis());
    u.email_verified.get_or_insert(false);
    u.not_before.get_or_insert(0);
    u.client_roles = None;
    u.service_account_client_id = None;
    let default_role = snap.rep.default_role.as_ref().and_then(|r| r.name.clone());
    u.realm_roles = Some(default_role.into_iter().collect());
    if let Some(groups) = &u.groups {
        for p in groups {
            if edit::group_by_path(&snap.rep, p).is_none() {
                return Err(AdminError::bad(format!("Group {p} not found")));
            }
        }
    }
    let creds = u.credentials.take().unwrap_or_default();
    for c in creds {
        if c.kind.as_deref().unwrap_or("password") != "password" {
            continue;
        }
        if let Some(value) = c.value {
            set_password(snap, &mut u, &value, c.temporary == Some(true)).await?;
        }
    }
    to_row(&u)
}

/// Query of `GET /users` and `GET /users/count`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    search: Option<String>,
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    exact: Option<bool>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    email_verified: Option<bool>,
    q: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
    first: Option<i64>,
    max: Option<i64>,
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One term of `search`: `"exact"`, `prefix` (the default), or a pattern with `*`.
fn search_term(term: &str) -> Match {
    let t = term.to_lowercase();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        return Match::Exact(t[1..t.len() - 1].to_string());
    }
    let body = t.strip_suffix('*').unwrap_or(&t);
    if !body.contains('*') {
        return Match::Prefix(body.to_string());
    }
    let mut pattern = like_escape(&t).replace('*', "%");
    if !pattern.ends_with('%') {
        pattern.push('%');
    }
    Match::Like(pattern)
}

/// Keycloak's user search as a store query.
pub fn user_query(q: &SearchQuery) -> UserQuery {
    let mut conditions = Vec::new();
    const ALL: [UserField; 4] = [
        UserField::Username,
        UserField::Email,
        UserField::FirstName,
        UserField::LastName,
    ];
    if let Some(s) = q
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "*")
    {
        for term in s.split_whitespace() {
            conditions.push(UserCondition {
                fields: ALL.to_vec(),
                matches: search_term(term),
            });
        }
    }
    let exact = q.exact == Some(true);
    for (field, value) in [
        (UserField::Username, &q.username),
        (UserField::Email, &q.email),
        (UserField::FirstName, &q.first_name),
        (UserField::LastName, &q.last_name),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            let v = v.to_lowercase();
            let matches = if exact {
                Match::Exact(v)
            } else {
                Match::Like(format!("%{}%", like_escape(&v)))
            };
            conditions.push(UserCondition {
                fields: vec![field],
                matches,
            });
        }
    }
    UserQuery {
        conditions,
        enabled: q.enabled,
        include_service_accounts: false,
        first: q.first.unwrap_or(0).max(0),
        max: match q.max {
            Some(m) if m >= 0 => m,
            Some(_) => i64::MAX,
            None => DEFAULT_MAX,
        },
    }
}

/// `q=key:value key2:value2` attribute conditions.
pub(crate) fn attribute_filter(q: &SearchQuery) -> Vec<(String, String)> {
    q.q.as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn matches_extra(
    u: &UserRepresentation,
    attrs: &[(String, String)],
    email_verified: Option<bool>,
) -> bool {
    if let Some(ev) = email_verified {
        if u.email_verified.unwrap_or(false) != ev {
            return false;
        }
    }
    attrs.iter().all(|(k, v)| {
        u.attributes
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(Value::as_array)
            .is_some_and(|vals| vals.iter().any(|x| x.as_str() == Some(v.as_str())))
    })
}

async fn search(
    state: &AppState,
    snap: &RealmSnapshot,
    q: &SearchQuery,
) -> AdminResult<Vec<UserRepresentation>> {
    let attrs = attribute_filter(q);
    if let Some(id) = q
        .search
        .as_deref()
        .and_then(|s| s.trim().strip_prefix("id:"))
    {
        let row = state.store.user_by_id(&snap.id, id.trim()).await?;
        return row.map(|r| parse(&r)).into_iter().collect();
    }
    let mut sq = user_query(q);
    if attrs.is_empty() && q.email_verified.is_none() {
        return state
            .store
            .search_users(&snap.id, &sq)
            .await?
            .iter()
            .map(parse)
            .collect();
    }
    // Attribute and e-mail-verified filters are applied here, then the page.
    let (first, max) = (sq.first as usize, sq.max);
    sq.first = 0;
    sq.max = i64::MAX;
    let mut out = Vec::new();
    for row in state.store.search_users(&snap.id, &sq).await? {
        let u = parse(&row)?;
        if matches_extra(&u, &attrs, q.email_verified) {
            out.push(u);
        }
    }
    Ok(out
        .into_iter()
        .skip(first)
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .collect())
}

/// `GET /users`.
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query: q,
        ..
    }: RealmAdmin<SearchUsers, SearchQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    if let Some(fgap) = fine_grained(&state, &snap, &caller).await? {
        let brief = q.brief_representation == Some(true);
        let (first, max) = (q.first, q.max);
        let visible = visible_users(&state, &snap, &fgap, q).await?;
        let page = super::Paging { first, max }.apply(visible, Some(DEFAULT_MAX));
        return Ok(Json(
            page.into_iter()
                .map(|u| {
                    let id = u.id.clone().unwrap_or_default();
                    let manage = fgap.user(&snap, &id, &u, "manage");
                    let mut v = user_json(&profiled(&snap, u), brief);
                    v["access"] = json!({ "manage": manage });
                    v
                })
                .collect(),
        ));
    }
    // A caller that may search but not view users gets brief ones; fine-grained `view` of all
    // users counts as viewing.
    let views = caller.can(&snap.name, Need::View(Family::Users))
        || permissions::Fgap::of(&state, &snap, &caller)
            .await?
            .is_some_and(|f| f.all_users("view"));
    let brief = q.brief_representation == Some(true) || !views;
    let users = search(&state, &snap, &q).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| user_json(&profiled(&snap, u), brief))
            .collect(),
    ))
}

/// The caller's fine-grained permissions when they decide which users it sees: a caller of
/// the realm itself that may search users but not view them all by its roles, in a realm
/// with fine-grained admin permissions, unless they let it view every user.
async fn fine_grained(
    state: &AppState,
    snap: &RealmSnapshot,
    caller: &Caller,
) -> AdminResult<Option<permissions::Fgap>> {
    if caller.can(&snap.name, Need::View(Family::Users)) {
        return Ok(None);
    }
    Ok(permissions::Fgap::of(state, snap, caller)
        .await?
        .filter(|f| !f.all_users("view")))
}

/// The users a search finds that the caller may view, every page of it.
async fn visible_users(
    state: &AppState,
    snap: &RealmSnapshot,
    fgap: &permissions::Fgap,
    q: SearchQuery,
) -> AdminResult<Vec<UserRepresentation>> {
    let all = SearchQuery {
        first: None,
        max: Some(-1),
        ..q
    };
    Ok(search(state, snap, &all)
        .await?
        .into_iter()
        .filter(|u| fgap.user(snap, u.id.as_deref().unwrap_or_default(), u, "view"))
        .collect())
}

/// `GET /users/count`.
pub async fn count(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query: q,
        ..
    }: RealmAdmin<SearchUsers, SearchQuery>,
) -> AdminResult<Json<i64>> {
    if let Some(fgap) = fine_grained(&state, &snap, &caller).await? {
        return Ok(Json(
            visible_users(&state, &snap, &fgap, q).await?.len() as i64
        ));
    }
    if attribute_filter(&q).is_empty() && q.email_verified.is_none() {
        return Ok(Json(
            state.store.count_users(&snap.id, &user_query(&q)).await?,
        ));
    }
    let all = SearchQuery {
        first: None,
        max: Some(-1),
        ..q
    };
    Ok(Json(search(&state, &snap, &all).await?.len() as i64))
}

/// `POST /users`: `manage-users`, else, with fine-grained admin permissions, `manage` of all
/// users, or a new member of groups the caller may `manage-members` and `manage-membership`
/// of (Keycloak's `canCreateGroupMembers`).
pub async fn create(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let v: Value = representation(&bytes, &Shape::One(&super::jackson::USER))?;
    if !v.is_object() {
        return Err(AdminError::bad("expected a user object"));
    }
    if !caller.can(&snap.name, Need::Manage(Family::Users)) {
        let fgap = permissions::Fgap::of(&state, &snap, &caller).await?;
        if !fgap.is_some_and(|f| f.all_users("manage") || creates_group_member(&snap, &f, &v)) {
            return Err(AdminError::Forbidden);
        }
    }
    let row = new_user(&state, &snap, &v).await?;
    state
        .store
        .insert_user(&snap.id, &row)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Unique(m) => conflict(m),
            other => other.into(),
        })?;
    Ok(created(&uri, &row.id))
}

/// Whether the new user `v` joins groups (those of its `groups` that exist; at least one) of
/// which `fgap` gives both `manage-members` and `manage-membership`.
fn creates_group_member(snap: &RealmSnapshot, fgap: &permissions::Fgap, v: &Value) -> bool {
    let ids: Vec<&str> = v
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|path| edit::group_by_path(&snap.rep, path))
        .filter_map(|g| g.id.as_deref())
        .collect();
    !ids.is_empty()
        && ids
            .iter()
            .all(|id| fgap.group(id, "manage-members") && fgap.group(id, "manage-membership"))
}

/// `GET /users/{id}`.
pub async fn get(
    State(state): State<AppState>,
    RealmAdmin {
        snap,
        caller,
        query,
        ..
    }: RealmAdmin<CheckedLater, GetQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let (_, u, fgap) = permissions::require_user(&state, &snap, &caller, &id, "view").await?;
    let access = fgap.map(|f| f.user_access(&snap, &id, &u));
    let mut u = profiled(&snap, u);
    // Keycloak's `UserResource.getUser`: a user in a brute-force lockout shows as disabled.
    if crate::authn::brute_force::temporarily_disabled_now(&state, &snap, &id).await? {
        u.enabled = Some(false);
    }
    let mut v = user_json(&u, false);
    if let Some(access) = access {
        v["access"] = access;
    }
    if query.user_profile_metadata == Some(true) {
        v["userProfileMetadata"] =
            profile::metadata(&profile::config_of(&snap.rep), Context::Admin);
    }
    Ok(Json(v))
}

/// Query of `GET /users/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetQuery {
    #[serde(default, deserialize_with = "super::flex_bool")]
    user_profile_metadata: Option<bool>,
}

/// `PUT /users/{id}`: fields present replace the stored ones.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let patch: Map<String, Value> = representation(&bytes, &Shape::One(&super::jackson::USER))?;
    let (_, u) = load(&state, &snap, &id).await?;
    let mut v = serde_json::to_value(&u).map_err(|_| AdminError::Internal)?;
    let Some(o) = v.as_object_mut() else {
        return Err(AdminError::Internal);
    };
    for (k, val) in &patch {
        match k.as_str() {
            "username" => {
                let new = val
                    .as_str()
                    .map(|s| s.trim().to_lowercase())
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| AdminError::bad("User name is missing"))?;
                if Some(new.as_str()) != u.username.as_deref() {
                    if !snap.settings.edit_username_allowed {
                        return Err(AdminError::bad("error-user-attribute-read-only"));
                    }
                    if state
                        .store
                        .user_by_username(&snap.id, &new)
                        .await?
                        .is_some()
                    {
                        return Err(AdminError::Conflict(
                            "User exists with same username".into(),
                        ));
                    }
                }
                o.insert(k.clone(), json!(new));
            }
            "email" => {
                let e = val.as_str().unwrap_or_default();
                let dup_ok = snap.settings.duplicate_emails_allowed;
                if !e.is_empty()
                    && !dup_ok
                    && state
                        .store
                        .users_by_email(&snap.id, &e.to_lowercase())
                        .await?
                        .iter()
                        .any(|r| r.id != id)
                {
                    return Err(AdminError::Conflict("User exists with same email".into()));
                }
                o.insert(k.clone(), val.clone());
            }
            // Ids, credentials, memberships and role mappings have endpoints of their own.
            "id"
            | "credentials"
            | "realmRoles"
            | "clientRoles"
            | "groups"
            | "access"
            | "createdTimestamp"
            | "serviceAccountClientId"
            | "federatedIdentities" => {}
            _ => {
                o.insert(k.clone(), val.clone());
            }
        }
    }
    let mut next: UserRepresentation = serde_path_to_error::deserialize(&v)
        .map_err(|e| AdminError::bad(format!("{}: {}", e.path(), e.inner())))?;
    checked_by_profile(&snap, &mut next, Some(&u))?;
    if patch.get("enabled") == Some(&Value::Bool(true)) {
        // Enabling a user ends its brute-force lockout (`UserResource.updateUser`).
        crate::authn::brute_force::on_enabled_by_admin(&state, &snap, &id, &u, &mut next).await?;
    }
    save(&state, &snap, &next).await?;
    Ok(no_content())
}

/// `DELETE /users/{id}`: with the user's sessions.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    if !crate::users::delete_user(state.store.as_ref(), &snap, &id).await? {
        return Err(not_found());
    }
    Ok(no_content())
}

/// `PUT /users/{id}/reset-password`: `{"type": "password", "value": "...", "temporary": true}`.
pub async fn reset_password(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let cred: CredentialRepresentation =
        representation(&bytes, &Shape::One(&super::jackson::CREDENTIAL))?;
    let (_, mut u) = load(&state, &snap, &id).await?;
    let value = cred
        .value
        .ok_or_else(|| AdminError::Plain("No password provided".into()))?;
    if value.is_empty() {
        return Err(AdminError::Plain("Empty password not allowed".into()));
    }
    set_password(&snap, &mut u, &value, cred.temporary.unwrap_or(true)).await?;
    save(&state, &snap, &u).await?;
    Ok(no_content())
}

/// The query of `execute-actions-email` and `send-verify-email`.
#[derive(Debug, Default, Deserialize)]
pub struct EmailQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    lifespan: Option<i64>,
}

/// What `execute-actions-email` and `send-verify-email` check first, in Keycloak's order
/// (`UserResource`): the user's e-mail and enabled flag, then the client (`account` unless
/// given; `Client id missing` for a redirect without one) and the redirect URI.
fn email_target(
    snap: &RealmSnapshot,
    u: &UserRepresentation,
    q: &EmailQuery,
) -> AdminResult<(String, String)> {
    let email = u.email.clone().filter(|e| !e.is_empty());
    let email = email.ok_or_else(|| AdminError::bad("User email missing"))?;
    if u.enabled != Some(true) {
        return Err(AdminError::bad("User is disabled"));
    }
    if q.redirect_uri.is_some() && q.client_id.is_none() {
        return Err(AdminError::bad("Client id missing"));
    }
    let client_id = q.client_id.clone().unwrap_or_else(|| "account".into());
    let client = snap
        .index
        .client(&snap.rep, &client_id)
        .ok_or_else(|| AdminError::bad("Client doesn't exist"))?;
    if client.enabled == Some(false) {
        return Err(AdminError::bad("Client is not enabled"));
    }
    if let Some(r) = &q.redirect_uri {
        if crate::oidc::redirect::verify(client, Some(r)).is_none() {
            return Err(AdminError::bad("Invalid redirect uri."));
        }
    }
    Ok((email, client_id))
}

/// Whether the realm has `alias` among its (enabled) required actions.
fn known_action(snap: &RealmSnapshot, alias: &str) -> bool {
    snap.rep
        .extra
        .get("requiredActions")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|a| {
                a.get("alias").and_then(Value::as_str) == Some(alias)
                    && a.get("enabled").and_then(Value::as_bool) != Some(false)
            })
        })
}

/// An action token of `kind` for the user's `email`, valid `lifespan` seconds from now.
fn user_token(
    user_id: &str,
    email: &str,
    client_id: &str,
    kind: crate::action_token::Kind,
    redirect_uri: Option<String>,
    lifespan: i64,
) -> crate::action_token::ActionToken {
    let now = crate::clock::now();
    let mut t =
        crate::action_token::ActionToken::new(kind, Some(user_id), client_id, now, now + lifespan);
    t.email = Some(email.to_string());
    t.redirect_uri = redirect_uri;
    t
}

/// The signed token's link.
fn action_link(
    snap: &RealmSnapshot,
    base: &str,
    t: &crate::action_token::ActionToken,
) -> AdminResult<String> {
    let key = snap.hmac_keys.first().ok_or(AdminError::Internal)?;
    let issuer = paths::url(base, paths::REALM, &snap.name);
    Ok(crate::action_token::link(base, snap, &t.sign(key, &issuer)))
}

/// `PUT /users/{id}/execute-actions-email?client_id=&redirect_uri=&lifespan=`, body: the
/// required actions. Mints an `execute-actions` token and queues Keycloak's mail; 204.
pub async fn execute_actions_email(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ManageUser, EmailQuery>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let (_, u) = load(&state, &snap, &id).await?;
    let actions: Vec<String> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        body(&bytes)?
    };
    send_actions(&state, &snap, (&id, &u), (&headers, &uri), &query, actions).await
}

/// `PUT /users/{id}/reset-password-email?client_id=&redirect_uri=` (deprecated in Keycloak,
/// `UserResource.resetPasswordEmail`): `execute-actions-email` with `["UPDATE_PASSWORD"]`
/// and the realm's admin lifespan.
pub async fn reset_password_email(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ManageUser, EmailQuery>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let query = EmailQuery {
        lifespan: None,
        ..query
    };
    let (_, u) = load(&state, &snap, &id).await?;
    let actions = vec!["UPDATE_PASSWORD".to_string()];
    send_actions(&state, &snap, (&id, &u), (&headers, &uri), &query, actions).await
}

/// Mints an `execute-actions` token for `actions` and queues Keycloak's mail; 204.
async fn send_actions(
    state: &AppState,
    snap: &RealmSnapshot,
    (id, u): (&str, &UserRepresentation),
    (headers, uri): (&HeaderMap, &Uri),
    query: &EmailQuery,
    actions: Vec<String>,
) -> AdminResult<Response> {
    let (email, client_id) = email_target(snap, u, query)?;
    if !actions.iter().all(|a| known_action(snap, a)) {
        return Err(AdminError::bad("Provided invalid required actions"));
    }
    let lifespan = query
        .lifespan
        .unwrap_or_else(|| crate::action_token::admin_lifespan(snap));
    let base = state
        .base_url(headers, uri)
        .map_err(|_| AdminError::Internal)?;
    let t = user_token(
        id,
        &email,
        &client_id,
        crate::action_token::Kind::ExecuteActions(actions.clone()),
        query.redirect_uri.clone(),
        lifespan,
    );
    let link = action_link(snap, &base, &t)?;
    let mail = crate::email::templates::execute_actions(
        &email,
        &super::email::realm_name(snap),
        &link,
        lifespan,
        &actions,
    );
    super::email::queue(state, snap, mail).map_err(|e| {
        AdminError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to send execute actions email: {e}"),
        )
    })?;
    Ok(no_content())
}

/// `PUT /users/{id}/send-verify-email?client_id=&redirect_uri=&lifespan=`: mints a
/// `verify-email` token and queues Keycloak's mail; 204.
pub async fn send_verify_email(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ManageUser, EmailQuery>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let (_, u) = load(&state, &snap, &id).await?;
    let (email, client_id) = email_target(&snap, &u, &query)?;
    let lifespan = query.lifespan.unwrap_or_else(|| {
        crate::action_token::user_lifespan(&snap, crate::action_token::token::VERIFY_EMAIL)
    });
    let base = state
        .base_url(&headers, &uri)
        .map_err(|_| AdminError::Internal)?;
    let t = user_token(
        &id,
        &email,
        &client_id,
        crate::action_token::Kind::VerifyEmail,
        query.redirect_uri.clone(),
        lifespan,
    );
    let link = action_link(&snap, &base, &t)?;
    let mail = crate::email::templates::verify_email(
        &email,
        &super::email::realm_name(&snap),
        &link,
        lifespan,
    );
    super::email::queue(&state, &snap, mail).map_err(|e| {
        tracing::warn!(realm = %snap.name, error = %e, "failed to send the verify e-mail");
        AdminError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed to send verify email".into(),
        )
    })?;
    Ok(no_content())
}

/// `GET /users/{id}/credentials`: metadata, never the hash.
pub async fn credentials(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUser>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let (_, u) = load(&state, &snap, &id).await?;
    let out = u
        .credentials
        .iter()
        .flatten()
        .map(|c| {
            let mut v = json!({"id": c.id, "type": c.kind, "credentialData": c.credential_data});
            if let Some(d) = c.created_date {
                v["createdDate"] = json!(d);
            }
            for k in ["userLabel", "priority"] {
                if let Some(x) = c.extra.get(k) {
                    v[k] = x.clone();
                }
            }
            v
        })
        .collect();
    Ok(Json(out))
}

/// `DELETE /users/{id}/credentials/{cred}`.
pub async fn delete_credential(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id, cred)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let (mut u, at) = with_credential(&state, &snap, &id, &cred).await?;
    if let Some(list) = u.credentials.as_mut() {
        list.remove(at);
    }
    save(&state, &snap, &u).await?;
    Ok(no_content())
}

/// The stored credential `cred` of user `id`, with the user; Keycloak's 404 otherwise.
async fn with_credential(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    cred: &str,
) -> AdminResult<(UserRepresentation, usize)> {
    let (_, u) = load(state, snap, id).await?;
    let at = u
        .credentials
        .iter()
        .flatten()
        .position(|c| c.id.as_deref() == Some(cred))
        .ok_or_else(|| AdminError::not_found("Credential not found"))?;
    Ok((u, at))
}

/// `PUT /users/{id}/credentials/{cred}/userLabel` (a `text/plain` body): names a credential.
pub async fn credential_label(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id, cred)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let (mut u, at) = with_credential(&state, &snap, &id, &cred).await?;
    let label = String::from_utf8(bytes.to_vec())
        .map_err(|_| AdminError::bad("Credential label must be UTF-8 text"))?;
    if label.trim().is_empty() {
        return Err(AdminError::OAuth(
            StatusCode::BAD_REQUEST,
            "missingCredentialLabel".into(),
            "Credential label must not be empty".into(),
        ));
    }
    if let Some(c) = u.credentials.as_mut().and_then(|l| l.get_mut(at)) {
        c.extra.insert("userLabel".into(), json!(label));
    }
    save(&state, &snap, &u).await?;
    Ok(no_content())
}

/// `POST /users/{id}/credentials/{cred}/moveToFirst`.
pub async fn move_credential_first(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id, cred)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    move_credential(&state, &snap, &id, &cred, None).await
}

/// `POST /users/{id}/credentials/{cred}/moveAfter/{previous}`.
pub async fn move_credential_after(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id, cred, previous)): Path<(String, String, String, String)>,
) -> AdminResult<Response> {
    move_credential(&state, &snap, &id, &cred, Some(&previous)).await
}

/// Moves credential `cred` first, or right after `previous` (the order in which a login
/// offers them).
async fn move_credential(
    state: &AppState,
    snap: &RealmSnapshot,
    id: &str,
    cred: &str,
    previous: Option<&str>,
) -> AdminResult<Response> {
    let (mut u, at) = with_credential(state, snap, id, cred).await?;
    let list = u.credentials.get_or_insert_with(Vec::new);
    let moved = list.remove(at);
    let to = match previous {
        None => 0,
        Some(prev) => {
            let Some(p) = list.iter().position(|c| c.id.as_deref() == Some(prev)) else {
                return Err(AdminError::bad(format!(
                    "Not found credential with id [{prev}] of user [{}]",
                    u.username.clone().unwrap_or_default()
                )));
            };
            p + 1
        }
    };
    list.insert(to, moved);
    save(state, snap, &u).await?;
    Ok(no_content())
}

/// `PUT /users/{id}/disable-credential-types` (a JSON list of types): removes the user's
/// credentials of those types, as Keycloak's credential providers do; a password is never
/// disabled this way.
pub async fn disable_credential_types(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let types: Option<Vec<String>> = body(&bytes)?;
    let (_, mut u) = load(&state, &snap, &id).await?;
    let types = types.unwrap_or_default();
    let list = u.credentials.get_or_insert_with(Vec::new);
    let before = list.len();
    list.retain(|c| {
        let kind = c.kind.as_deref().unwrap_or("password");
        kind == "password" || !types.iter().any(|t| t == kind)
    });
    if list.len() != before {
        save(&state, &snap, &u).await?;
    }
    Ok(no_content())
}

/// `GET /users/{id}/configured-user-storage-credential-types`: credential types a user
/// federation provider keeps for the user; always empty, as for Keycloak's local users.
pub async fn storage_credential_types(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUser>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<String>>> {
    load(&state, &snap, &id).await?;
    Ok(Json(Vec::new()))
}

/// `GET /users/{id}/sessions`: online sessions.
pub async fn sessions(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUser>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let (row, _) = load(&state, &snap, &id).await?;
    let list = state.store.user_sessions(&snap.id, &id).await?;
    let clients = state.store.user_session_clients(&snap.id, &id).await?;
    Ok(Json(
        list.iter()
            .filter(|s| !s.offline)
            .map(|s| view::session_json(&snap, s, &row.username, &clients))
            .collect(),
    ))
}

/// `GET /users/{id}/offline-sessions/{client}`: the offline sessions that hold that client,
/// `lastAccess` from its client session (Keycloak's `toUserSessionRepresentation`).
pub async fn offline_sessions(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUser>,
    Path((_, id, client)): Path<(String, String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let client_id = edit::client(&snap.rep, &client)
        .ok_or_else(|| AdminError::not_found("Client not found"))?
        .client_id
        .clone()
        .unwrap_or_default();
    let (row, _) = load(&state, &snap, &id).await?;
    let list = state.store.user_sessions(&snap.id, &id).await?;
    let clients = state.store.user_session_clients(&snap.id, &id).await?;
    Ok(Json(
        list.iter()
            .filter(|s| s.offline)
            .filter_map(|s| {
                let at = clients
                    .iter()
                    .find(|c| c.session_id == s.id && c.client_id == client_id)?
                    .updated_at;
                let mut rep = view::session_json(&snap, s, &row.username, &clients);
                rep["lastAccess"] = json!(at * 1000);
                Some(rep)
            })
            .collect(),
    ))
}

/// The realm's issuer as seen by this request (the `iss` of back-channel logout tokens).
pub(super) fn issuer(
    state: &AppState,
    snap: &RealmSnapshot,
    headers: &HeaderMap,
    uri: &Uri,
) -> AdminResult<String> {
    let base = state
        .base_url(headers, uri)
        .map_err(|_| AdminError::bad("invalid host"))?;
    Ok(crate::http::paths::url(
        &base,
        crate::http::paths::REALM,
        &snap.name,
    ))
}

/// `POST /users/{id}/logout`: ends every session of the user; their clients get back-channel
/// logout tokens (`UserResource.logout` → `AuthenticationManager.backchannelLogout`).
pub async fn logout(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    load(&state, &snap, &id).await?;
    let iss = issuer(&state, &snap, &headers, &uri)?;
    crate::sessions::logout::end_user_sessions(
        state.store.as_ref(),
        &state.outbound,
        &snap,
        &iss,
        &id,
    )
    .await?;
    Ok(no_content())
}

/// Query of `DELETE /sessions/{session}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionQuery {
    #[serde(default, deserialize_with = "super::flex_bool")]
    is_offline: Option<bool>,
}

/// `DELETE /admin/realms/{realm}/sessions/{session}?isOffline=`: ends one session (online
/// unless `isOffline=true`); its clients get back-channel logout tokens
/// (`RealmAdminResource.deleteSession`). Keycloak's 404 text is spelt `Sesssion not found`.
pub async fn delete_session(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ManageUsers, SessionQuery>,
    Path((_, sid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> AdminResult<Response> {
    let gone = || AdminError::not_found("Sesssion not found");
    let session = state.store.session(&sid).await?.ok_or_else(gone)?;
    if session.realm_id != snap.id || session.offline != q.is_offline.unwrap_or(false) {
        return Err(gone());
    }
    let iss = issuer(&state, &snap, &headers, &uri)?;
    if crate::sessions::logout::end_session(
        state.store.as_ref(),
        &state.outbound,
        &snap,
        &iss,
        &sid,
    )
    .await?
    .is_none()
    {
        return Err(gone());
    }
    Ok(no_content())
}

/// `GET /users/{id}/federated-identity`.
pub async fn federated_identity(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUser>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let (_, u) = load(&state, &snap, &id).await?;
    // Links to providers the realm no longer has are kept but not listed, as Keycloak's
    // `UserResource.getFederatedIdentity` filters them by the realm's identity providers.
    let providers: Vec<&str> = super::identity_providers::idps(&snap.rep)
        .iter()
        .filter_map(|p| p["alias"].as_str())
        .collect();
    let links: Vec<Value> = u
        .federated_identities
        .unwrap_or_default()
        .into_iter()
        .filter(|l| {
            l["identityProvider"]
                .as_str()
                .is_some_and(|p| providers.contains(&p))
        })
        .collect();
    Ok(Json(json!(links)))
}

/// `POST /users/{id}/federated-identity/{provider}` (`FederatedIdentityRepresentation`): links
/// the user to an account at the provider; 409 when a link to it exists (Keycloak's
/// `UserResource.addFederatedIdentity`, which does not check that the provider exists).
pub async fn add_federated_identity(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id, provider)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let link: Map<String, Value> =
        representation(&bytes, &Shape::One(&super::jackson::FEDERATED_IDENTITY))?;
    let (_, mut u) = load(&state, &snap, &id).await?;
    let links = u.federated_identities.get_or_insert_with(Vec::new);
    if links
        .iter()
        .any(|l| l["identityProvider"] == provider.as_str())
    {
        return Err(AdminError::Conflict(
            "User is already linked with provider".into(),
        ));
    }
    links.push(json!({
        "identityProvider": provider,
        "userId": link.get("userId").cloned().unwrap_or(Value::Null),
        "userName": link.get("userName").cloned().unwrap_or(Value::Null),
    }));
    save(&state, &snap, &u).await?;
    Ok(no_content())
}

/// `DELETE /users/{id}/federated-identity/{provider}`: 404 `Link not found` without one.
pub async fn remove_federated_identity(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageUser>,
    Path((_, id, provider)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let (_, mut u) = load(&state, &snap, &id).await?;
    let links = u.federated_identities.get_or_insert_with(Vec::new);
    let before = links.len();
    links.retain(|l| l["identityProvider"] != provider.as_str());
    if links.len() == before {
        return Err(AdminError::not_found("Link not found"));
    }
    save(&state, &snap, &u).await?;
    Ok(no_content())
}

/// Query of `GET /users/{id}/groups`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupsQuery {
    search: Option<String>,
    first: Option<i64>,
    max: Option<i64>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
}

fn user_groups<'a>(
    snap: &'a RealmSnapshot,
    u: &UserRepresentation,
) -> Vec<&'a crate::representation::GroupRepresentation> {
    u.groups
        .iter()
        .flatten()
        .filter_map(|p| edit::group_by_path(&snap.rep, p))
        .collect()
}

/// `GET /users/{id}/groups`.
pub async fn groups(
    State(state): State<AppState>,
    RealmAdmin { snap, query: q, .. }: RealmAdmin<ViewUser, GroupsQuery>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let (_, u) = load(&state, &snap, &id).await?;
    let needle = q.search.as_deref().map(str::to_lowercase);
    let out: Vec<Value> = user_groups(&snap, &u)
        .into_iter()
        .filter(|g| {
            needle.as_deref().is_none_or(|n| {
                g.name
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(n)
            })
        })
        .map(|g| {
            if q.brief_representation == Some(false) {
                view::group_full(g)
            } else {
                view::group_brief(g)
            }
        })
        .collect();
    Ok(Json(
        super::Paging {
            first: q.first,
            max: q.max,
        }
        .apply(out, None),
    ))
}

/// `GET /users/{id}/groups/count`.
pub async fn groups_count(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewUser>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let (_, u) = load(&state, &snap, &id).await?;
    Ok(Json(json!({"count": user_groups(&snap, &u).len()})))
}

/// `PUT` (`JOIN`) or `DELETE` `/users/{id}/groups/{group}`: `manage-users`, else, with
/// fine-grained admin permissions, `manage-group-membership` of the user and
/// `manage-membership` of the group, checked in Keycloak's order (the user, then the group).
pub async fn membership<const JOIN: bool>(
    State(state): State<AppState>,
    RealmAdmin { snap, caller, .. }: RealmAdmin<CheckedLater>,
    Path((_, id, group)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let by_role = caller.can(&snap.name, Need::Manage(Family::Users));
    let (mut u, fgap) = if by_role {
        (load(&state, &snap, &id).await?.1, None)
    } else {
        let (_, u, fgap) =
            permissions::require_user(&state, &snap, &caller, &id, "manage-group-membership")
                .await?;
        (u, fgap)
    };
    let path = edit::group(&snap.rep, &group)
        .and_then(|g| g.path.clone())
        .ok_or_else(|| AdminError::not_found("Group not found"))?;
    if !by_role && !fgap.is_some_and(|f| f.group(&group, "manage-membership")) {
        return Err(AdminError::Forbidden);
    }
    let list = u.groups.get_or_insert_with(Vec::new);
    let had = list.contains(&path);
    if JOIN && !had {
        list.push(path);
    } else if !JOIN && had {
        list.retain(|p| *p != path);
    } else {
        return Ok(no_content());
    }
    save(&state, &snap, &u).await?;
    Ok(no_content())
}

// Role mappings.

/// Users as holders of role mappings (`/users/{id}/role-mappings`).
#[derive(Debug)]
pub struct Users;

impl Holders for Users {
    type View = ViewUser;
    type Manage = MapUserRoles;

    async fn all(state: &AppState, snap: &RealmSnapshot, id: &str) -> AdminResult<Value> {
        let (_, u) = load(state, snap, id).await?;
        Ok(rm::all_json(snap, &u))
    }

    async fn list(
        state: &AppState,
        snap: &RealmSnapshot,
        id: &str,
        client: Option<&str>,
        mode: Mode,
        brief: bool,
    ) -> AdminResult<Vec<Value>> {
        let container = rm::container(&snap.rep, client, "Client not found")?;
        let (_, u) = load(state, snap, id).await?;
        Ok(rm::listed_as(snap, &u, &container, mode, brief))
    }

    async fn change(
        state: &AppState,
        snap: &RealmSnapshot,
        caller: &Caller,
        id: &str,
        client: Option<&str>,
        bytes: &[u8],
        op: Op,
    ) -> AdminResult<()> {
        let container = rm::container(&snap.rep, client, "Client not found")?;
        let list: Vec<Value> = representation(bytes, &Shape::Many(&super::jackson::ROLE))?;
        let (_, mut u) = load(state, snap, id).await?;
        let roles = rm::resolve_granted(&snap.rep, caller, &snap.name, &list, &container, op)?;
        // Let in by `map-roles` of the user (fine-grained permissions): each role must be one
        // the caller may map (`RoleMapperResource` asks `requireMapRole` per role, both ways).
        if !caller.can(&snap.name, Need::Manage(Family::Users)) {
            let fgap = permissions::Fgap::of(state, snap, caller)
                .await?
                .ok_or(AdminError::Forbidden)?;
            if !roles.iter().all(|r| fgap.may_map(&snap.rep, r)) {
                return Err(AdminError::Forbidden);
            }
        }
        rm::apply(&mut u, &roles, op);
        save(state, snap, &u).await
    }
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_USERS, routing::get(list).post(create))
        .route(paths::ADMIN_USERS_COUNT, routing::get(count))
        .route(
            paths::ADMIN_USER,
            routing::get(get).put(update).delete(delete),
        )
        .route(
            paths::ADMIN_USER_RESET_PASSWORD,
            routing::put(reset_password),
        )
        .route(
            paths::ADMIN_USER_EXECUTE_ACTIONS_EMAIL,
            routing::put(execute_actions_email),
        )
        .route(
            paths::ADMIN_USER_SEND_VERIFY_EMAIL,
            routing::put(send_verify_email),
        )
        .route(
            paths::ADMIN_USER_RESET_PASSWORD_EMAIL,
            routing::put(reset_password_email),
        )
        .route(paths::ADMIN_USER_CREDENTIALS, routing::get(credentials))
        .route(
            paths::ADMIN_USER_CREDENTIAL_LABEL,
            routing::put(credential_label),
        )
        .route(
            paths::ADMIN_USER_CREDENTIAL_MOVE_FIRST,
            routing::post(move_credential_first),
        )
        .route(
            paths::ADMIN_USER_CREDENTIAL_MOVE_AFTER,
            routing::post(move_credential_after),
        )
        .route(
            paths::ADMIN_USER_DISABLE_CREDENTIAL_TYPES,
            routing::put(disable_credential_types),
        )
        .route(
            paths::ADMIN_USER_STORAGE_CREDENTIAL_TYPES,
            routing::get(storage_credential_types),
        )
        .route(
            paths::ADMIN_USER_CREDENTIAL,
            routing::delete(delete_credential),
        )
        .route(paths::ADMIN_USER_SESSIONS, routing::get(sessions))
        .route(
            paths::ADMIN_USER_OFFLINE_SESSIONS_OF_CLIENT,
            routing::get(offline_sessions),
        )
        .route(paths::ADMIN_USER_LOGOUT, routing::post(logout))
        .route(paths::ADMIN_SESSION, routing::delete(delete_session))
        .route(
            paths::ADMIN_USER_FEDERATED_IDENTITY,
            routing::get(federated_identity),
        )
        .route(
            paths::ADMIN_USER_FEDERATED_IDENTITY_PROVIDER,
            routing::post(add_federated_identity).delete(remove_federated_identity),
        )
        .route(paths::ADMIN_USER_GROUPS, routing::get(groups))
        .route(paths::ADMIN_USER_GROUPS_COUNT, routing::get(groups_count))
        .route(
            paths::ADMIN_USER_GROUP,
            routing::put(membership::<true>).delete(membership::<false>),
        )
        .route(
            paths::ADMIN_USER_ROLE_MAPPINGS,
            routing::get(rm::all::<Users>),
        )
        .route(
            paths::ADMIN_USER_ROLE_MAPPINGS_REALM,
            routing::get(rm::realm_list::<Users, Direct>)
                .post(rm::realm_change::<Users, true>)
                .delete(rm::realm_change::<Users, false>),
        )
        .route(
            paths::ADMIN_USER_ROLE_MAPPINGS_REALM_COMPOSITE,
            routing::get(rm::realm_list::<Users, Composite>),
        )
        .route(
            paths::ADMIN_USER_ROLE_MAPPINGS_REALM_AVAILABLE,
            routing::get(rm::realm_list::<Users, Available>),
        )
        .route(
            paths::ADMIN_USER_ROLE_MAPPINGS_CLIENT,
            routing::get(rm::client_list::<Users, Direct>)
                .post(rm::client_change::<Users, true>)
                .delete(rm::client_change::<Users, false>),
        )
        .route(
            paths::ADMIN_USER_ROLE_MAPPINGS_CLIENT_COMPOSITE,
            routing::get(rm::client_list::<Users, Composite>),
        )
        .route(
            paths::ADMIN_USER_ROLE_MAPPINGS_CLIENT_AVAILABLE,
            routing::get(rm::client_list::<Users, Available>),
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_follow_keycloak() {
        assert_eq!(search_term("Ali"), Match::Prefix("ali".into()));
        assert_eq!(search_term("ali*"), Match::Prefix("ali".into()));
        assert_eq!(search_term("\"Alice\""), Match::Exact("alice".into()));
        assert_eq!(search_term("*lic*"), Match::Like("%lic%".into()));
        assert_eq!(search_term("a_b*c"), Match::Like("a\\_b%c%".into()));
    }

    #[test]
    fn field_parameters_are_infix_unless_exact() {
        let q = SearchQuery {
            username: Some("Li".into()),
            ..Default::default()
        };
        assert_eq!(
            user_query(&q).conditions[0].matches,
            Match::Like("%li%".into())
        );
        let q = SearchQuery {
            username: Some("Li".into()),
            exact: Some(true),
            ..Default::default()
        };
        assert_eq!(
            user_query(&q).conditions[0].matches,
            Match::Exact("li".into())
        );
        assert_eq!(user_query(&q).max, 100);
    }
}
