//! Authorization Services' decision core: a resource server compiled from its stored
//! representation ([`ResourceServer::compile`]), the requester as the caller resolved it
//! ([`Identity`]), and the evaluation of what it asks ([`evaluate`], [`decision`]) with
//! Keycloak's semantics (`DefaultPolicyEvaluator`, `DecisionPermissionCollector`, the
//! `*PolicyProvider`s of `authz/policy/common`).
//!
//! Pure: no store, no clock, no HTTP. The UMA grant resolves the caller's token into an
//! [`Identity`], parses its `permission` parameters with [`resolve_permissions`] and maps a
//! [`AskError`] to its OAuth error; the admin side calls [`aggregate_cycle`] before it saves
//! a policy. `docs/authz-evaluation.md` lists the rules and where they differ from Keycloak.

mod compile;
mod evaluate;
pub mod fgap;
mod policy;
mod request;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

pub use compile::{aggregate_cycle, CompileError};
pub use evaluate::{
    decision, evaluate, evaluate_request, evaluate_traced, PolicyTrace, Request, TargetTrace,
};
// Keycloak's `PathMatcher`, shared with the guard's policy enforcer.
pub use portcullis_path::{normalize_uri, PathMatcher};
pub use request::{resolve_permissions, AskError, ResourceFormat};

/// `PolicyEnforcementMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnforcementMode {
    /// A resource or scope no permission covers is denied (the default).
    Enforcing,
    /// A resource or scope no permission covers is granted.
    Permissive,
    /// Everything asked is granted, nothing is evaluated.
    Disabled,
}

/// `DecisionStrategy`, of a permission, an aggregate policy or the resource server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionStrategy {
    /// Every associated policy must permit (the default).
    Unanimous,
    /// One permitting policy is enough.
    Affirmative,
    /// More policies permit than deny.
    Consensus,
}

/// `Logic`: a `NEGATIVE` policy's outcome is inverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logic {
    /// As evaluated (the default).
    Positive,
    /// Inverted.
    Negative,
}

/// A compiled resource server: its settings, resources, scopes and policies, indexed the way
/// Keycloak's policy store queries them. Built once per change, shared by every request.
#[derive(Debug, Clone)]
pub struct ResourceServer {
    /// The resource server's id (the client's UUID); owner of the server's own resources.
    pub id: String,
    /// `policyEnforcementMode`.
    pub enforcement: EnforcementMode,
    /// `decisionStrategy` (how permissions combine).
    pub strategy: DecisionStrategy,
    pub(crate) resources: Vec<Resource>,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) policies: Vec<Policy>,
    pub(crate) resource_by_id: HashMap<String, usize>,
    /// Resources by name (a name is unique per owner, so several owners may share one).
    pub(crate) resources_by_name: HashMap<String, Vec<usize>>,
    pub(crate) resources_by_type: HashMap<String, Vec<usize>>,
    /// Resources by each of their `uris`, exactly.
    pub(crate) resources_by_uri: HashMap<String, Vec<usize>>,
    /// Every resource URI, for pattern matching (`matchingUri`).
    pub(crate) uri_matcher: PathMatcher<usize>,
    pub(crate) scope_by_id: HashMap<String, usize>,
    pub(crate) scope_by_name: HashMap<String, usize>,
    /// Per scope: the resources that have it.
    pub(crate) resources_by_scope: Vec<Vec<usize>>,
    /// Per resource: every permission naming it (`findPolicyIdByResource`).
    pub(crate) perms_by_resource: Vec<Vec<usize>>,
    /// Per scope: the permissions naming it and no resource nor resource type
    /// (`findPolicyIdByNullResourceScope`).
    pub(crate) perms_by_scope: Vec<Vec<usize>>,
    /// Permissions by `defaultResourceType` (`findPolicyIdByResourceType`).
    pub(crate) perms_by_type: HashMap<String, Vec<usize>>,
}

/// A compiled resource.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub kind: Option<String>,
    pub uris: Vec<String>,
    pub scopes: Vec<usize>,
    /// `ownerManagedAccess`.
    pub owner_managed: bool,
}

/// A compiled scope.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub id: String,
    pub name: String,
}

/// A compiled policy or permission.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    /// Id (empty for the rules compiled out of a `uma` policy).
    pub id: String,
    /// `type`.
    pub kind: String,
    pub description: Option<String>,
    pub name: String,
    pub logic: Logic,
    pub strategy: DecisionStrategy,
    pub rule: policy::Rule,
    /// Associated policies (`applyPolicies`).
    pub associated: Vec<usize>,
    /// Resources a permission names.
    pub resources: Vec<usize>,
    /// Scopes a permission names.
    pub scopes: Vec<usize>,
    /// `defaultResourceType` of a typed permission.
    pub resource_type: Option<String>,
}

impl ResourceServer {
    /// A resource's id by its id, or `None`.
    pub fn resource_id(&self, id: &str) -> Option<&str> {
        self.resource_by_id
            .get(id)
            .map(|&i| self.resources[i].id.as_str())
    }

    /// A scope's id by its name, or `None`.
    pub fn scope_id_by_name(&self, name: &str) -> Option<&str> {
        self.scope_by_name
            .get(name)
            .map(|&i| self.scopes[i].id.as_str())
    }

    /// The ids of the resources of a `type` (any owner).
    pub fn resource_ids_by_type(&self, kind: &str) -> Vec<&str> {
        self.resources_by_type
            .get(kind)
            .map(|v| v.iter().map(|&i| self.resources[i].id.as_str()).collect())
            .unwrap_or_default()
    }

    /// The ids of the resources with this name (any owner).
    pub fn resource_ids_by_name(&self, name: &str) -> Vec<&str> {
        self.resources_by_name
            .get(name)
            .map(|v| v.iter().map(|&i| self.resources[i].id.as_str()).collect())
            .unwrap_or_default()
    }

    /// Whether a resource is owner-managed and owned by a user (not the server): the only
    /// resources permission tickets apply to.
    pub fn has_user_managed_resources(&self) -> bool {
        self.resources
            .iter()
            .any(|r| r.owner_managed && r.owner != self.id)
    }

    /// `PermissionTicketAwareDecisionResultCollector.onComplete` (`submit_request`): for
    /// each permission of a ticket (a resource id or name and scope names), when the resource
    /// is owner-managed and owned by a user other than the requester, the tickets to request:
    /// (resource id, owner, scope id) per asked scope (all the resource's scopes when none is
    /// asked; no scope when it has none). Unknown resources and scopes are skipped.
    pub fn ticket_requests(
        &self,
        requester: &str,
        permissions: &[(String, Vec<String>)],
    ) -> Vec<(String, String, Option<String>)> {
        let mut out = Vec::new();
        for (resource, names) in permissions {
            let found = self.resource_by_id.get(resource).copied().or_else(|| {
                self.resources_by_name.get(resource).and_then(|v| {
                    v.iter()
                        .copied()
                        .find(|&i| self.resources[i].owner == requester)
                })
            });
            let Some(r) = found else { continue };
            let res = &self.resources[r];
            if !res.owner_managed || res.owner == requester || res.owner == self.id {
                continue;
            }
            let scopes: Vec<Option<String>> = if names.is_empty() {
                res.scopes
                    .iter()
                    .map(|&s| Some(self.scopes[s].id.clone()))
                    .collect()
            } else {
                names
                    .iter()
                    .filter_map(|n| {
                        self.scope_by_name
                            .get(n)
                            .or_else(|| self.scope_by_id.get(n))
                            .map(|&s| Some(self.scopes[s].id.clone()))
                    })
                    .collect()
            };
            let scopes = if scopes.is_empty() && names.is_empty() {
                vec![None]
            } else {
                scopes
            };
            for s in scopes {
                let t = (res.id.clone(), res.owner.clone(), s);
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// The number of resources, scopes and policies (permissions included).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.resources.len(), self.scopes.len(), self.policies.len())
    }
}

/// A group the requester belongs to, as the caller resolved it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRef {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// Group path (`/parent/child`).
    pub path: String,
}

/// Role ids of an [`Identity`], shared: a client with the full scope puts every role of the
/// user into its tokens, so the token's set and the user's are one.
pub type RoleIds = std::sync::Arc<HashSet<String, foldhash::fast::RandomState>>;

/// What the caller resolved about the requester (Keycloak's `KeycloakIdentity` and
/// `EvaluationContext`). Role, group, client and client-scope references are ids, as the
/// stored policies hold them.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `KeycloakIdentity.getId()`: the user's id (the service-account user's for a client
    /// token), or the resource server's id when its own service account asks.
    pub id: String,
    /// Ids of the roles (realm and client) the token grants (`realm_access`,
    /// `resource_access`), composites expanded as the token carries them.
    pub token_role_ids: RoleIds,
    /// Ids of the user's effective roles (for role policies with `fetchRoles`); `None` when
    /// the identity is no user.
    pub user_role_ids: Option<RoleIds>,
    /// The groups the user is a direct member of.
    pub groups: Vec<GroupRef>,
    /// The ancestors of those groups (for `extendChildren`).
    pub ancestor_groups: Vec<GroupRef>,
    /// UUID of the client the token was issued to (`azp`).
    pub client: Option<String>,
    /// Ids of the client scopes named in the token's `scope` claim.
    pub client_scope_ids: HashSet<String>,
    /// The token's claims (regex policies, the group policy's `groupsClaim`).
    pub claims: serde_json::Map<String, Value>,
    /// Context attributes (`kc.client.id`, `kc.realm.name`, pushed claims ...) for regex
    /// policies with `targetContextAttributes`.
    pub context: BTreeMap<String, Vec<String>>,
    /// The evaluation time, seconds since the epoch (time policies read it in UTC).
    pub time: i64,
    /// Granted permission tickets of this requester: (resource id, scope id; none for the
    /// whole resource). Keycloak evaluates them as permissions on owner-managed resources.
    pub granted_tickets: Vec<(String, Option<String>)>,
}

/// What a request asks for, resolved to ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A resource (id) and the scope ids asked of it (none: all its scopes).
    Resource {
        /// Resource id.
        resource: String,
        /// Scope ids.
        scopes: Vec<String>,
    },
    /// Scopes without a resource (`#scope`): every resource having one of them.
    Scopes(Vec<String>),
    /// Everything the requester may access (an entitlement without `permission`).
    Everything,
}

/// A granted permission, as Keycloak's `Permission` (`rsid`, `rsname`, `scopes`, `claims`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// Resource id (absent when only scopes were granted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsid: Option<String>,
    /// Resource name (absent with `response_include_resource_name=false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsname: Option<String>,
    /// Granted scope names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The request's pushed claims (a ticket's `claims`, or a JWT-format `claim_token`), each
    /// a list of strings, as `ResourcePermission` carries them into the RPT; the evaluator
    /// leaves this empty and the UMA grant fills it.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, Value>,
}
