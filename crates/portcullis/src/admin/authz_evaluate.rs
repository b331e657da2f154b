//! POST /admin/realms/{realm}/clients/{id}/authz/resource-server/policy/evaluate
//! Keycloak's `PolicyEvaluationService` and `PolicyEvaluationResponseBuilder`: evaluates what a
//! `PolicyEvaluationRequest` asks (`resources` with scopes, by id, type or scopes only;
//! everything when none) for a user (`userId`, an id or a username) or, without one, the
//! resource server's service account, with extra realm roles (`roleIds`), a client
//! (`clientId`, its UUID) and context attributes (`context.attributes`, comma-separated
//! values); answers the `PolicyEvaluationResponse`: `results` grouped by resource, each
//! permission with its associated policies and their outcomes, `status`, `entitlements` and
//! the `rpt` (the identity's token claims with `authorization`, unsigned, as Keycloak
//! returns the `AccessToken` object).

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::RealmAdmin;
use super::authz::{client, load, ViewAuthz};
use super::{AdminError, AdminResult};
use crate::authz::{self, fgap, Asked, Identity, PolicyTrace, ResourceServer, TargetTrace};
use crate::oidc::token::client_credentials::service_account_username;
use crate::oidc::token::uma_ticket;
use crate::AppState;

fn server_error() -> AdminError {
    AdminError::OAuth(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error".into(),
        "Error while evaluating permissions.".into(),
    )
}

fn bad(d: impl Into<String>) -> AdminError {
    AdminError::OAuth(StatusCode::BAD_REQUEST, "invalid_request".into(), d.into())
}

/// The `resources` of a request as what is asked (`createPermissions`): by `_id` (an unknown
/// one fails the evaluation, as Keycloak's does), by `type` (every resource of it), or
/// scopes only; scope names the server does not know are dropped.
pub fn asked_of(rs: &ResourceServer, resources: &[Value]) -> Result<Vec<Asked>, String> {
    let mut out = Vec::new();
    for r in resources {
        let scopes: Vec<String> = r
            .get("scopes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.get("name").and_then(Value::as_str).or_else(|| s.as_str()))
                    .filter_map(|n| rs.scope_id_by_name(n))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(id) = r.get("_id").and_then(Value::as_str) {
            let id = rs
                .resource_id(id)
                .ok_or_else(|| format!("Resource with id [{id}] does not exist."))?;
            out.push(Asked::Resource {
                resource: id.to_string(),
                scopes,
            });
        } else if let Some(t) = r.get("type").and_then(Value::as_str) {
            for id in rs.resource_ids_by_type(t) {
                out.push(Asked::Resource {
                    resource: id.to_string(),
                    scopes: scopes.clone(),
                });
            }
        } else if !scopes.is_empty() {
            out.push(Asked::Scopes(scopes));
        }
    }
    Ok(out)
}

fn scope_json((id, name): &(String, String)) -> Value {
    json!({"id": id, "name": name})
}

fn names_json(names: &[String]) -> Value {
    json!(names)
}

fn strategy(s: authz::DecisionStrategy) -> &'static str {
    match s {
        authz::DecisionStrategy::Unanimous => "UNANIMOUS",
        authz::DecisionStrategy::Affirmative => "AFFIRMATIVE",
        authz::DecisionStrategy::Consensus => "CONSENSUS",
    }
}

fn status(granted: bool) -> &'static str {
    if granted {
        "PERMIT"
    } else {
        "DENY"
    }
}

/// `PolicyResultRepresentation` (`toRepresentation(PolicyResult)`): the policy (id, name,
/// description, type, resources and scopes by name, decision strategy), its status, the
/// scopes of a denying policy, its associated policies. A resource permission lists the
/// resource's scopes.
pub fn policy_result_json(p: &PolicyTrace, resource_scopes: Option<&[String]>) -> Value {
    let scopes: Vec<String> = match (p.kind.as_str(), resource_scopes) {
        ("resource", Some(s)) => s.to_vec(),
        _ => p.scopes.clone(),
    };
    let mut policy = Map::new();
    policy.insert("id".into(), json!(p.id));
    policy.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        policy.insert("description".into(), json!(d));
    }
    policy.insert("type".into(), json!(p.kind));
    policy.insert("resources".into(), names_json(&p.resources));
    policy.insert("scopes".into(), names_json(&scopes));
    policy.insert("logic".into(), json!("POSITIVE"));
    policy.insert("decisionStrategy".into(), json!(strategy(p.strategy)));
    let mut o = Map::new();
    o.insert("policy".into(), Value::Object(policy));
    o.insert("status".into(), json!(status(p.granted)));
    o.insert(
        "associatedPolicies".into(),
        Value::Array(
            p.associated
                .iter()
                .map(|a| policy_result_json(a, None))
                .collect(),
        ),
    );
    if !p.granted {
        o.insert("scopes".into(), names_json(&scopes));
    }
    Value::Object(o)
}

fn scope_list(names: &[(String, String)]) -> String {
    let n: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    format!("[{}]", n.join(", "))
}

/// `PolicyEvaluationResponseBuilder.build`'s `results` and `status`: one result per
/// evaluated target, sorted by resource name, grouped by resource id (resource-less ones
/// together); a group is `PERMIT` when any of its results is, its `allowedScopes` then its
/// scopes, its name `<name> with scopes [..]` (or `Any Resource with Scopes [..]`).
pub fn results_json(traces: &[TargetTrace]) -> (Vec<Value>, &'static str) {
    let overall = if traces.iter().any(|t| t.granted.is_none()) {
        "DENY"
    } else {
        "PERMIT"
    };
    struct Group {
        id: Option<String>,
        name: String,
        scopes: Vec<(String, String)>,
        granted: bool,
        policies: Vec<Value>,
    }
    let mut rows: Vec<(String, &TargetTrace)> = traces
        .iter()
        .map(|t| {
            let name = match &t.resource {
                Some((_, n)) => n.clone(),
                None => format!("Any Resource with Scopes {}", scope_list(&t.scopes)),
            };
            (name, t)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut groups: Vec<Group> = Vec::new();
    for (name, t) in rows {
        let id = t.resource.as_ref().map(|(id, _)| id.clone());
        // `retainAll(grantedScopes)` on a granted result.
        let scopes = t.granted.clone().unwrap_or_else(|| t.scopes.clone());
        let policies: Vec<Value> = t
            .policies
            .iter()
            .map(|p| policy_result_json(p, Some(&t.resource_scopes)))
            .collect();
        let pos = groups.iter().position(|g| g.id == id);
        let g = match pos {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    id: id.clone(),
                    name: name.clone(),
                    scopes,
                    granted: false,
                    policies: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        g.granted |= t.granted.is_some();
        g.name = match &id {
            Some(_) if !g.scopes.is_empty() => {
                format!("{name} with scopes {}", scope_list(&g.scopes))
            }
            Some(_) => name,
            None => format!("Any Resource with Scopes {}", scope_list(&g.scopes)),
        };
        for p in policies {
            if !g.policies.contains(&p) {
                g.policies.push(p);
            }
        }
    }
    let out = groups
        .into_iter()
        .map(|g| {
            let mut resource = Map::new();
            if let Some(id) = &g.id {
                resource.insert("_id".into(), json!(id));
            }
            resource.insert("name".into(), json!(g.name));
            let scopes: Vec<Value> = g.scopes.iter().map(scope_json).collect();
            json!({
                "resource": resource,
                "scopes": scopes,
                "policies": g.policies,
                "status": status(g.granted),
                "allowedScopes": if g.granted { scopes.clone() } else { Vec::new() },
            })
        })
        .collect();
    (out, overall)
}

/// `POST .../policy/evaluate`.
pub async fn evaluate(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ViewAuthz>,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> AdminResult<Json<Value>> {
    let body: Value = super::body(&bytes)?;
    let Value::Object(req) = body else {
        return Err(bad("Invalid evaluation request"));
    };
    let l = load(&state, &snap, &id, Vec::new()).await?;
    let rs_client = client(&snap, &id)?;
    let rs = ResourceServer::compile(&l.server.representation()).map_err(|e| {
        tracing::error!(error = %e, "resource server does not compile");
        server_error()
    })?;
    let store = state.store.as_ref();
    let now = crate::clock::now();
    // The client: `clientId` is a client's UUID; else the resource server.
    let the_client = req
        .get("clientId")
        .and_then(Value::as_str)
        .and_then(|c| crate::realm::edit::client(&snap.rep, c))
        .unwrap_or(rs_client);
    let client_id = the_client.client_id.clone().unwrap_or_default();
    // The user, by id or username.
    let user_row = match req.get("userId").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => match store.user_by_id(&snap.id, u).await? {
            Some(r) => Some(r),
            None => store.user_by_username(&snap.id, &u.to_lowercase()).await?,
        },
        _ => None,
    };
    let mut identity = match &user_row {
        Some(row) => {
            let user = crate::users::parse_user(row)?;
            uma_ticket::identity(&snap, the_client, &user, &row.id, None, now)
        }
        None => {
            // `CloseableKeycloakIdentity.getId`: the client's service account.
            let sa = store
                .user_by_username(&snap.id, &service_account_username(&client_id))
                .await?
                .map(|r| r.id)
                .unwrap_or_default();
            let mut context = std::collections::BTreeMap::new();
            context.insert("kc.client.id".to_string(), vec![client_id.clone()]);
            context.insert("kc.realm.name".to_string(), vec![snap.name.clone()]);
            Identity {
                id: sa,
                client: the_client.id.clone(),
                context,
                time: now,
                ..Identity::default()
            }
        }
    };
    // `roleIds`: realm roles added to the token (by name; an id is taken as it is).
    let mut added_roles: Vec<String> = Vec::new();
    for r in req
        .get("roleIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        added_roles.push(r.to_string());
        let rid = snap
            .index
            .role_id(&crate::model::Role::Realm(r.to_string()))
            .map_or_else(|| r.to_string(), str::to_string);
        std::sync::Arc::make_mut(&mut identity.token_role_ids).insert(rid);
    }
    if let Some(Value::Object(attrs)) = req.get("context").and_then(|c| c.get("attributes")) {
        for (k, v) in attrs {
            if let Some(v) = v.as_str() {
                identity
                    .context
                    .insert(k.clone(), v.split(',').map(str::to_string).collect());
            }
        }
    }
    if rs.has_user_managed_resources() {
        identity.granted_tickets = store
            .permission_tickets(&snap.id, &rs.id)
            .await?
            .into_iter()
            .filter(|t| t.requester == identity.id && t.granted_timestamp.is_some())
            .map(|t| (t.resource_id, t.scope_id))
            .collect();
    }
    let resources: Vec<Value> = req
        .get("resources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let traces = if super::permissions::is_admin_permissions_client(&snap, &id) {
        admin_permissions_traces(
            &state,
            &snap,
            &rs,
            &identity,
            &req,
            &resources,
            user_row.is_some(),
        )
        .await?
    } else {
        let asked = asked_of(&rs, &resources).map_err(|e| {
            tracing::debug!(error = %e, "evaluation of an unknown resource");
            server_error()
        })?;
        let asked = if asked.is_empty() {
            vec![Asked::Everything]
        } else {
            asked
        };
        authz::evaluate_traced(&rs, &identity, &asked)
    };
    let (results, overall) = results_json(&traces);
    let permissions: Vec<Value> = traces
        .iter()
        .filter_map(|t| {
            let granted = t.granted.as_ref()?;
            let mut p = Map::new();
            if let Some((id, name)) = &t.resource {
                p.insert("rsid".into(), json!(id));
                p.insert("rsname".into(), json!(name));
            }
            if !granted.is_empty() {
                p.insert(
                    "scopes".into(),
                    json!(granted.iter().map(|(_, n)| n).collect::<Vec<_>>()),
                );
            }
            Some(Value::Object(p))
        })
        .collect();
    let mut seen = HashSet::new();
    let permissions: Vec<Value> = permissions
        .into_iter()
        .filter(|p| seen.insert(p.to_string()))
        .collect();
    let mut rpt = Map::new();
    if let Some(row) = &user_row {
        rpt.insert("sub".into(), json!(row.id));
        rpt.insert("preferred_username".into(), json!(row.username));
    }
    rpt.insert("azp".into(), json!(client_id));
    let rs_client_id = rs_client.client_id.clone().unwrap_or_default();
    rpt.insert("aud".into(), json!([rs_client_id]));
    if !added_roles.is_empty() {
        rpt.insert("realm_access".into(), json!({ "roles": added_roles }));
    }
    rpt.insert(
        "authorization".into(),
        json!({ "permissions": permissions }),
    );
    Ok(Json(json!({
        "results": results,
        "entitlements": false,
        "status": overall,
        "rpt": rpt,
    })))
}

/// The evaluation on the `admin-permissions` server: `resourceType`, a user and resources
/// named by their objects' ids are required (Keycloak's checks; it answers them with its
/// generic 500, here a 400 that names what is missing), and each object is decided as the
/// Admin API decides it (group memberships of a user included).
async fn admin_permissions_traces(
    state: &AppState,
    snap: &crate::realm::snapshot::RealmSnapshot,
    rs: &ResourceServer,
    identity: &Identity,
    req: &Map<String, Value>,
    resources: &[Value],
    has_user: bool,
) -> AdminResult<Vec<TargetTrace>> {
    if resources.is_empty() {
        return Err(bad("No resources provided"));
    }
    let kind = req
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(|t| fgap::SCHEMA.iter().find(|(k, _)| *k == t).map(|(k, _)| *k))
        .ok_or_else(|| bad("No resource type provided"))?;
    if !has_user {
        return Err(bad("No user provided"));
    }
    let mut out = Vec::new();
    for r in resources {
        let Some(name) = r
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let scopes: Vec<String> = r
            .get("scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Value::as_str).or_else(|| s.as_str()))
            .map(str::to_string)
            .collect();
        // A user's groups, nearest first, lend their members' permissions.
        let groups: Vec<Vec<String>> = if kind == fgap::USERS {
            match state.store.user_by_id(&snap.id, name).await? {
                Some(row) => crate::users::parse_user(&row)?
                    .groups
                    .iter()
                    .flatten()
                    .map(|path| {
                        uma_ticket::group_chain(&snap.rep, path)
                            .into_iter()
                            .rev()
                            .map(|g| g.id)
                            .collect()
                    })
                    .collect(),
                None => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let object = fgap::Object {
            kind,
            id: name,
            groups: &groups,
        };
        out.push(fgap::evaluate_object(rs, identity, object, &scopes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(name: &str, granted: bool) -> PolicyTrace {
        PolicyTrace {
            id: format!("{name}-id"),
            name: name.into(),
            kind: "scope".into(),
            description: None,
            strategy: authz::DecisionStrategy::Unanimous,
            granted,
            resources: Vec::new(),
            scopes: vec!["read".into()],
            associated: Vec::new(),
        }
    }

    #[test]
    fn results_group_by_resource_and_name_scopes() {
        let read = ("s1".to_string(), "read".to_string());
        let manage = ("s2".to_string(), "manage".to_string());
        let traces = vec![
            TargetTrace {
                resource: Some(("r2".into(), "order".into())),
                resource_scopes: vec!["read".into(), "manage".into()],
                scopes: vec![read.clone(), manage.clone()],
                granted: Some(vec![read.clone()]),
                policies: vec![trace("read-perm", true), trace("manage-perm", false)],
            },
            TargetTrace {
                resource: Some(("r1".into(), "event".into())),
                resource_scopes: vec!["manage".into()],
                scopes: vec![manage.clone()],
                granted: None,
                policies: vec![trace("manage-perm", false)],
            },
            TargetTrace {
                resource: None,
                resource_scopes: Vec::new(),
                scopes: vec![manage.clone()],
                granted: None,
                policies: Vec::new(),
            },
        ];
        let (results, status) = results_json(&traces);
        assert_eq!(status, "DENY");
        let names: Vec<&str> = results
            .iter()
            .map(|r| r["resource"]["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "Any Resource with Scopes [manage]",
                "event with scopes [manage]",
                "order with scopes [read]"
            ]
        );
        assert_eq!(results[2]["status"], "PERMIT");
        assert_eq!(
            results[2]["allowedScopes"],
            json!([{"id": "s1", "name": "read"}])
        );
        assert_eq!(results[1]["status"], "DENY");
        assert_eq!(results[1]["allowedScopes"], json!([]));
        assert_eq!(results[1]["resource"]["_id"], "r1");
        assert!(results[0]["resource"].get("_id").is_none());
        let denied = &results[2]["policies"][1];
        assert_eq!(denied["status"], "DENY");
        assert_eq!(denied["scopes"], json!(["read"]));
        assert!(results[2]["policies"][0].get("scopes").is_none());
    }
}
