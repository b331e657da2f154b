//! `/admin/realms/{realm}/identity-provider/instances` (`IdentityProvidersResource`) and
//! `/instances/{alias}[/mappers[/{id}]]` (`IdentityProviderResource`): the identity providers
//! and their mappers held in the realm document's `identityProviders` and
//! `identityProviderMappers`. Brokering (logging in through them) is not built; this is the
//! configuration only.
//!
//! A provider linked to an organization is linked in the organizations' rows (see
//! `admin/organizations.rs`); reads add its `organizationId` from there, and this API never
//! changes a link (Keycloak's `Organizations.stripOrganizationId`), except that deleting the
//! provider removes its links.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing;
use axum::Json;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{ManageIdps, RealmAdmin, ViewIdps};
use super::jackson::{IDENTITY_PROVIDER, IDENTITY_PROVIDER_MAPPER};
use super::{created, edit_realm, new_id, no_content, representation, AdminError, AdminResult};
use super::{Paging, Shape};
use crate::http::paths;
use crate::representation::RealmRepresentation;
use crate::AppState;

const IDPS: &str = "identityProviders";
const MAPPERS: &str = "identityProviderMappers";

/// What Keycloak answers in place of a stored client secret
/// (`ComponentRepresentation.SECRET_VALUE`, `StripSecretsUtils`).
pub const MASKED: &str = "**********";

/// The `providerId`s of Keycloak 26's built-in identity provider factories (`IdentityProvider`
/// and `SocialIdentityProvider`); any other is refused as Keycloak refuses a provider it has no
/// factory for.
pub const PROVIDER_IDS: &[&str] = &[
    "oidc",
    "keycloak-oidc",
    "saml",
    "google",
    "github",
    "facebook",
    "gitlab",
    "bitbucket",
    "microsoft",
    "linkedin-openid-connect",
    "openshift-v3",
    "openshift-v4",
    "paypal",
    "stackoverflow",
    "instagram",
    "twitter",
];

/// Keycloak's `NotFoundException()` without a message.
fn no_idp() -> AdminError {
    AdminError::not_found("HTTP 404 Not Found")
}

/// `IdentityProviderResource`'s `NotFoundException("Model not found")` for a mapper.
fn no_mapper() -> AdminError {
    AdminError::not_found("Model not found")
}

fn alias_of(v: &Value) -> Option<&str> {
    v.get("alias").and_then(Value::as_str)
}

pub use crate::realm::identity_providers as idps;

/// The realm's identity provider mappers.
fn mappers(rep: &RealmRepresentation) -> &[Value] {
    rep.extra
        .get(MAPPERS)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn list_mut<'a>(rep: &'a mut RealmRepresentation, key: &str) -> AdminResult<&'a mut Vec<Value>> {
    let slot = rep
        .extra
        .entry(key.to_string())
        .or_insert_with(|| json!([]));
    if slot.is_null() {
        *slot = json!([]);
    }
    slot.as_array_mut().ok_or(AdminError::Internal)
}

/// `session.identityProviders().getByIdOrAlias`: by internal id, then by alias.
pub fn find<'a>(rep: &'a RealmRepresentation, key: &str) -> Option<&'a Value> {
    let all = idps(rep);
    all.iter()
        .find(|p| p.get("internalId").and_then(Value::as_str) == Some(key))
        .or_else(|| all.iter().find(|p| alias_of(p) == Some(key)))
}

/// `ReservedCharValidator.validateNoSpace`.
fn validate_alias(alias: &str) -> AdminResult<()> {
    if alias.chars().any(char::is_whitespace) {
        return Err(AdminError::bad("Empty Space not allowed."));
    }
    if let Some(c) = alias.chars().find(|c| matches!(c, '<' | '>' | '&' | '"')) {
        return Err(AdminError::bad(format!("Character '{c}' not allowed.")));
    }
    Ok(())
}

/// `RepresentationToModel.toModel` then `ModelToRepresentation.toRepresentation`: the stored
/// form of a provider, with every field Keycloak answers and its defaults. `organizationId` is
/// dropped (links are the organizations' business).
pub fn normalize(
    body: &Map<String, Value>,
    internal_id: &str,
    default_first_broker_flow: Option<&str>,
) -> AdminResult<Value> {
    let provider_id = body.get("providerId").and_then(Value::as_str);
    let provider_id = match provider_id {
        Some(p) if PROVIDER_IDS.contains(&p) => p,
        other => {
            return Err(AdminError::bad(format!(
                "Invalid identity provider id [{}]",
                other.unwrap_or("null")
            )))
        }
    };
    let alias = body
        .get("alias")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let flag = |k: &str, default: bool| body.get(k).and_then(Value::as_bool).unwrap_or(default);
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let mut out = Map::new();
    out.insert("alias".into(), json!(alias));
    if let Some(d) = text("displayName") {
        out.insert("displayName".into(), json!(d));
    }
    out.insert("internalId".into(), json!(internal_id));
    out.insert("providerId".into(), json!(provider_id));
    out.insert("enabled".into(), json!(flag("enabled", true)));
    out.insert(
        "updateProfileFirstLoginMode".into(),
        json!(text("updateProfileFirstLoginMode").unwrap_or_else(|| "on".into())),
    );
    for k in [
        "trustEmail",
        "storeToken",
        "addReadTokenRoleOnCreate",
        "authenticateByDefault",
        "linkOnly",
        "hideOnLogin",
    ] {
        out.insert(k.into(), json!(flag(k, false)));
    }
    let first = text("firstBrokerLoginFlowAlias")
        .filter(|s| !s.is_empty())
        .or_else(|| default_first_broker_flow.map(str::to_string));
    if let Some(f) = first {
        out.insert("firstBrokerLoginFlowAlias".into(), json!(f));
    }
    if let Some(f) = text("postBrokerLoginFlowAlias").filter(|s| !s.is_empty()) {
        out.insert("postBrokerLoginFlowAlias".into(), json!(f));
    }
    let config = body
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    out.insert("config".into(), Value::Object(config));
    Ok(Value::Object(out))
}

/// A provider as the Admin API answers it: secrets masked (`StripSecretsUtils`), with the
/// organization it is linked to.
pub fn to_answer(idp: &Value, org: Option<&str>) -> Value {
    let mut v = idp.clone();
    if let Some(o) = v.as_object_mut() {
        if let Some(cfg) = o.get_mut("config").and_then(Value::as_object_mut) {
            if cfg.contains_key("clientSecret") {
                cfg.insert("clientSecret".into(), json!(MASKED));
            }
        }
        if let Some(org) = org {
            o.insert("organizationId".into(), json!(org));
        }
    }
    v
}

/// `ModelToRepresentation.toBriefRepresentation`: no configuration.
fn brief(idp: &Value, org: Option<&str>) -> Value {
    let mut v = to_answer(idp, org);
    if let Some(o) = v.as_object_mut() {
        o.insert("config".into(), json!({}));
    }
    v
}

/// Keycloak's `search`: `"exact"`, `*contains*`, `prefix*` (the default), on the alias, case
/// insensitive.
pub fn matches_search(alias: &str, search: &str) -> bool {
    let alias = alias.to_lowercase();
    let s = search.trim().to_lowercase();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        return alias == s[1..s.len() - 1];
    }
    let (lead, rest) = match s.strip_prefix('*') {
        Some(r) => (true, r),
        None => (false, s.as_str()),
    };
    let core = rest.strip_suffix('*').unwrap_or(rest);
    if lead {
        alias.contains(core)
    } else {
        alias.starts_with(core)
    }
}

/// Query of `GET /instances`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    search: Option<String>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    brief_representation: Option<bool>,
    #[serde(default, deserialize_with = "super::flex_bool")]
    realm_only: Option<bool>,
    first: Option<i64>,
    max: Option<i64>,
}

async fn links(state: &AppState, realm_id: &str) -> AdminResult<Vec<(String, String)>> {
    Ok(state.store.identity_provider_links(realm_id).await?)
}

fn org_of<'a>(links: &'a [(String, String)], alias: &str) -> Option<&'a str> {
    links
        .iter()
        .find(|(a, _)| a == alias)
        .map(|(_, o)| o.as_str())
}

/// `GET /instances`: `search`, `briefRepresentation`, `realmOnly`, `first`, `max` (100 by
/// default).
pub async fn list(
    State(state): State<AppState>,
    RealmAdmin { snap, query, .. }: RealmAdmin<ViewIdps, ListQuery>,
) -> AdminResult<Json<Vec<Value>>> {
    let links = links(&state, &snap.id).await?;
    let search = query.search.as_deref().filter(|s| !s.trim().is_empty());
    let found: Vec<&Value> = idps(&snap.rep)
        .iter()
        .filter(|p| {
            let alias = alias_of(p).unwrap_or_default();
            search.is_none_or(|s| matches_search(alias, s))
                && (query.realm_only != Some(true) || org_of(&links, alias).is_none())
        })
        .collect();
    let page = Paging {
        first: query.first,
        max: query.max,
    }
    .apply(found, Some(100));
    let brief_rep = query.brief_representation == Some(true);
    Ok(Json(
        page.into_iter()
            .map(|p| {
                let org = org_of(&links, alias_of(p).unwrap_or_default());
                if brief_rep {
                    brief(p, org)
                } else {
                    to_answer(p, org)
                }
            })
            .collect(),
    ))
}

/// `POST /instances`: 201 with `Location: .../instances/{alias}`; 409 when the alias is taken.
pub async fn create(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageIdps>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let body: Map<String, Value> = representation(&bytes, &Shape::One(&IDENTITY_PROVIDER))?;
    let alias = body
        .get("alias")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    validate_alias(&alias)?;
    edit_realm(&state, &snap.name, |rep, _| {
        let flow = rep
            .extra
            .get("firstBrokerLoginFlow")
            .and_then(Value::as_str)
            .map(str::to_string);
        let idp = normalize(&body, &new_id(), flow.as_deref())?;
        if alias.is_empty() {
            return Err(AdminError::bad("Identity Provider alias is missing"));
        }
        if idps(rep)
            .iter()
            .any(|p| alias_of(p) == Some(alias.as_str()))
        {
            return Err(AdminError::Conflict(format!(
                "Identity Provider {alias} already exists"
            )));
        }
        list_mut(rep, IDPS)?.push(idp);
        Ok(())
    })
    .await?;
    Ok(created(&uri, &alias))
}

/// `GET /instances/{alias}`.
pub async fn get(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewIdps>,
    Path((_, key)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let idp = find(&snap.rep, &key).ok_or_else(no_idp)?;
    let links = links(&state, &snap.id).await?;
    let org = org_of(&links, alias_of(idp).unwrap_or_default());
    Ok(Json(to_answer(idp, org)))
}

/// `PUT /instances/{alias}`: the body replaces the provider (`updateIdpFromRep`); the alias
/// cannot change, the internal id is kept, and a masked `clientSecret` keeps the stored one.
pub async fn update(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageIdps>,
    Path((_, key)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let body: Map<String, Value> = representation(&bytes, &Shape::One(&IDENTITY_PROVIDER))?;
    edit_realm(&state, &snap.name, |rep, _| {
        let current = find(rep, &key).ok_or_else(no_idp)?.clone();
        let alias = alias_of(&current).unwrap_or_default().to_string();
        if let Some(a) = body.get("alias").and_then(Value::as_str) {
            if a != alias {
                return Err(AdminError::bad("Identity Provider alias cannot be changed"));
            }
        }
        let mut body = body.clone();
        body.insert("alias".into(), json!(alias));
        let internal_id = current
            .get("internalId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(new_id);
        let mut next = normalize(&body, &internal_id, None)?;
        if let Some(cfg) = next.get_mut("config").and_then(Value::as_object_mut) {
            if cfg.get("clientSecret").and_then(Value::as_str) == Some(MASKED) {
                match current.pointer("/config/clientSecret") {
                    Some(old) => cfg.insert("clientSecret".into(), old.clone()),
                    None => cfg.remove("clientSecret"),
                };
            }
        }
        let list = list_mut(rep, IDPS)?;
        if let Some(slot) = list
            .iter_mut()
            .find(|p| alias_of(p) == Some(alias.as_str()))
        {
            *slot = next;
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /instances/{alias}`: the provider, its mappers, and its organization links.
pub async fn delete(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageIdps>,
    Path((_, key)): Path<(String, String)>,
) -> AdminResult<Response> {
    let alias = find(&snap.rep, &key)
        .and_then(alias_of)
        .ok_or_else(no_idp)?
        .to_string();
    // Unlinked first: a provider created later under the same alias must not inherit a link.
    for (a, org) in links(&state, &snap.id).await? {
        if a == alias {
            state.store.unlink_identity_provider(&org, &alias).await?;
        }
    }
    edit_realm(&state, &snap.name, |rep, _| {
        if !idps(rep)
            .iter()
            .any(|p| alias_of(p) == Some(alias.as_str()))
        {
            return Err(no_idp());
        }
        list_mut(rep, IDPS)?.retain(|p| alias_of(p) != Some(alias.as_str()));
        list_mut(rep, MAPPERS)?
            .retain(|m| m.get("identityProviderAlias").and_then(Value::as_str) != Some(&alias));
        Ok(())
    })
    .await?;
    Ok(no_content())
}

fn mapper_of<'a>(rep: &'a RealmRepresentation, alias: &str, id: &str) -> Option<&'a Value> {
    mappers(rep).iter().find(|m| {
        m.get("id").and_then(Value::as_str) == Some(id)
            && m.get("identityProviderAlias").and_then(Value::as_str) == Some(alias)
    })
}

/// `ModelToRepresentation.toRepresentation(IdentityProviderMapperModel)`.
fn mapper_json(body: &Map<String, Value>, id: &str, alias: &str) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    if let Some(n) = body.get("name") {
        out.insert("name".into(), n.clone());
    }
    out.insert("identityProviderAlias".into(), json!(alias));
    if let Some(t) = body.get("identityProviderMapper") {
        out.insert("identityProviderMapper".into(), t.clone());
    }
    out.insert(
        "config".into(),
        body.get("config")
            .filter(|c| c.is_object())
            .cloned()
            .unwrap_or_else(|| json!({})),
    );
    Value::Object(out)
}

/// `GET /instances/{alias}/mappers`.
pub async fn list_mappers(
    RealmAdmin { snap, .. }: RealmAdmin<ViewIdps>,
    Path((_, key)): Path<(String, String)>,
) -> AdminResult<Json<Vec<Value>>> {
    let alias = find(&snap.rep, &key)
        .and_then(alias_of)
        .ok_or_else(no_idp)?;
    Ok(Json(
        mappers(&snap.rep)
            .iter()
            .filter(|m| m.get("identityProviderAlias").and_then(Value::as_str) == Some(alias))
            .cloned()
            .collect(),
    ))
}

/// `POST /instances/{alias}/mappers`: 201 with `Location: .../mappers/{id}`.
pub async fn add_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageIdps>,
    Path((_, key)): Path<(String, String)>,
    uri: Uri,
    bytes: Bytes,
) -> AdminResult<Response> {
    let alias = find(&snap.rep, &key)
        .and_then(alias_of)
        .ok_or_else(no_idp)?
        .to_string();
    let body: Map<String, Value> = representation(&bytes, &Shape::One(&IDENTITY_PROVIDER_MAPPER))?;
    let id = edit_realm(&state, &snap.name, |rep, _| {
        let provider_id = find(rep, &alias)
            .and_then(|p| p.get("providerId"))
            .and_then(Value::as_str)
            .ok_or_else(no_idp)?
            .to_string();
        let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
        let id = new_id();
        // The mapper's name is unique per provider in Keycloak's store; a clash (or no name)
        // is its "Failed to add mapper" 400.
        let clash = mappers(rep).iter().any(|m| {
            m.get("identityProviderAlias").and_then(Value::as_str) == Some(alias.as_str())
                && m.get("name").and_then(Value::as_str) == Some(name)
        });
        if name.is_empty() || clash {
            return Err(AdminError::bad(format!(
                "Failed to add mapper '{}' to identity provider [{provider_id}].",
                if name.is_empty() { "null" } else { name }
            )));
        }
        list_mut(rep, MAPPERS)?.push(mapper_json(&body, &id, &alias));
        Ok(id)
    })
    .await?;
    Ok(created(&uri, &id))
}

/// `GET /instances/{alias}/mappers/{id}`.
pub async fn get_mapper(
    RealmAdmin { snap, .. }: RealmAdmin<ViewIdps>,
    Path((_, key, id)): Path<(String, String, String)>,
) -> AdminResult<Json<Value>> {
    let alias = find(&snap.rep, &key)
        .and_then(alias_of)
        .ok_or_else(no_idp)?;
    Ok(Json(
        mapper_of(&snap.rep, alias, &id)
            .cloned()
            .ok_or_else(no_mapper)?,
    ))
}

/// `PUT /instances/{alias}/mappers/{id}`: the body replaces the mapper. Keycloak also takes
/// the body's `identityProviderAlias`, which can move the mapper to a provider that does not
/// exist; here the mapper stays with the provider of the path.
pub async fn update_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageIdps>,
    Path((_, key, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> AdminResult<Response> {
    let body: Map<String, Value> = representation(&bytes, &Shape::One(&IDENTITY_PROVIDER_MAPPER))?;
    edit_realm(&state, &snap.name, |rep, _| {
        let alias = find(rep, &key)
            .and_then(alias_of)
            .ok_or_else(no_idp)?
            .to_string();
        mapper_of(rep, &alias, &id).ok_or_else(no_mapper)?;
        let next = mapper_json(&body, &id, &alias);
        if let Some(slot) = list_mut(rep, MAPPERS)?
            .iter_mut()
            .find(|m| m.get("id").and_then(Value::as_str) == Some(id.as_str()))
        {
            *slot = next;
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `DELETE /instances/{alias}/mappers/{id}`.
pub async fn delete_mapper(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageIdps>,
    Path((_, key, id)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    edit_realm(&state, &snap.name, |rep, _| {
        let alias = find(rep, &key)
            .and_then(alias_of)
            .ok_or_else(no_idp)?
            .to_string();
        mapper_of(rep, &alias, &id).ok_or_else(no_mapper)?;
        list_mut(rep, MAPPERS)?.retain(|m| m.get("id").and_then(Value::as_str) != Some(&id));
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_IDPS, routing::get(list).post(create))
        .route(
            paths::ADMIN_IDP,
            routing::get(get).put(update).delete(delete),
        )
        .route(
            paths::ADMIN_IDP_MAPPERS,
            routing::get(list_mappers).post(add_mapper),
        )
        .route(
            paths::ADMIN_IDP_MAPPER,
            routing::get(get_mapper)
                .put(update_mapper)
                .delete(delete_mapper),
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn normalize_fills_keycloak_defaults_and_drops_organization() {
        let v = normalize(
            &body(
                json!({"alias": "gh", "providerId": "github", "organizationId": "o",
                          "config": {"clientId": "c"}}),
            ),
            "iid",
            Some("first broker login"),
        )
        .unwrap();
        assert_eq!(v["internalId"], "iid");
        assert_eq!(v["enabled"], true);
        assert_eq!(v["trustEmail"], false);
        assert_eq!(v["updateProfileFirstLoginMode"], "on");
        assert_eq!(v["firstBrokerLoginFlowAlias"], "first broker login");
        assert_eq!(v["config"]["clientId"], "c");
        assert!(v.get("organizationId").is_none());
    }

    #[test]
    fn unknown_provider_is_refused_with_keycloak_message() {
        let e = normalize(
            &body(json!({"alias": "x", "providerId": "nope"})),
            "i",
            None,
        );
        assert!(
            matches!(&e, Err(AdminError::BadRequest(m)) if m == "Invalid identity provider id [nope]"),
            "{e:?}"
        );
    }

    #[test]
    fn secret_is_masked_and_org_added() {
        let v = to_answer(
            &json!({"alias": "a", "config": {"clientSecret": "s", "clientId": "c"}}),
            Some("org"),
        );
        assert_eq!(v["config"]["clientSecret"], MASKED);
        assert_eq!(v["config"]["clientId"], "c");
        assert_eq!(v["organizationId"], "org");
    }

    #[test]
    fn search_forms() {
        assert!(matches_search("github", "git"));
        assert!(!matches_search("mygithub", "git"));
        assert!(matches_search("mygithub", "*git*"));
        assert!(matches_search("GitHub", "\"github\""));
        assert!(!matches_search("github2", "\"github\""));
    }

    #[test]
    fn alias_with_space_is_refused() {
        assert!(validate_alias("a b").is_err());
        assert!(validate_alias("a<b").is_err());
        assert!(validate_alias("github").is_ok());
    }
}
