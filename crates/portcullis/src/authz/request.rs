//! The UMA grant's `permission` parameters (`RESOURCE#SCOPE1,SCOPE2`, `RESOURCE`, `#SCOPE`)
//! resolved against a compiled resource server into [`Asked`], with Keycloak's errors
//! (`AuthorizationTokenService.createPermissions`, `resolveRequestedScopes`,
//! `resolveResourcePermission`).

use super::evaluate::resolve_scopes;
use super::{Asked, ResourceServer};

/// How the resource part of `permission` names resources (`permission_resource_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceFormat {
    /// A resource id or name (the default), or a `resource-type:` form.
    Id,
    /// A URI among the resources' `uris`; with `matching` (`permission_resource_matching_uri`)
    /// patterns (`/*`, `{param}`) match too.
    Uri {
        /// Match URI patterns, not only equal URIs.
        matching: bool,
    },
}

/// A `permission` parameter Keycloak refuses (400), for the grant to render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// `invalid_resource`.
    #[error("Resource with id [{0}] does not exist.")]
    InvalidResource(String),
    /// `invalid_scope`; the scopes as Java prints a set (`[a, b]`).
    #[error("One of the given scopes [{}] is invalid", .0.join(", "))]
    InvalidScope(Vec<String>),
}

impl AskError {
    /// The OAuth `error` code.
    pub fn error(&self) -> &'static str {
        match self {
            AskError::InvalidResource(_) => "invalid_resource",
            AskError::InvalidScope(_) => "invalid_scope",
        }
    }
}

/// One parsed `permission` parameter (`AuthorizationRequest.addPermission` merges the scopes
/// of parameters naming the same resource).
struct Parsed {
    resource: String,
    scopes: Vec<String>,
}

fn parse(permissions: &[String]) -> Vec<Parsed> {
    let mut out: Vec<Parsed> = Vec::new();
    for p in permissions {
        // Java's `split("#")` then `split(",")`.
        let (resource, scopes) = match p.split_once('#') {
            Some((r, s)) => (
                r,
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            None => (p.as_str(), Vec::new()),
        };
        match out.iter_mut().find(|x| x.resource == resource) {
            Some(existing) => {
                for s in scopes {
                    if !existing.scopes.contains(&s) {
                        existing.scopes.push(s);
                    }
                }
            }
            None => out.push(Parsed {
                resource: resource.to_string(),
                scopes,
            }),
        }
    }
    out
}

/// Resolves the `permission` parameters of a UMA grant (names or ids, scopes by name) into
/// what to evaluate. `requester` is the identity's id (a name finds the requester's resource
/// and the server's); `scope` is the grant's `scope` parameter, whose names Keycloak adds to
/// every permission's scopes (unknown ones are dropped).
pub fn resolve_permissions(
    rs: &ResourceServer,
    requester: &str,
    permissions: &[String],
    scope: Option<&str>,
    format: ResourceFormat,
) -> Result<Vec<Asked>, AskError> {
    let mut out: Vec<Asked> = Vec::new();
    let mut any = false;
    for p in parse(permissions) {
        // resolveRequestedScopes: unknown names are dropped; all unknown is an error.
        let mut names = p.scopes.clone();
        for s in scope
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            if !names.iter().any(|n| n == s) {
                names.push(s.to_string());
            }
        }
        let mut scope_ids: Vec<String> = Vec::new();
        for n in &names {
            if let Some(id) = rs.scope_id_by_name(n) {
                if !scope_ids.iter().any(|x| x == id) {
                    scope_ids.push(id.to_string());
                }
            }
        }
        if !names.is_empty() && scope_ids.is_empty() {
            return Err(AskError::InvalidScope(p.scopes));
        }
        if p.resource.is_empty() {
            if !scope_ids.is_empty() {
                any = true;
                out.push(Asked::Scopes(scope_ids));
            }
            continue;
        }
        let candidates = resources(rs, requester, &p.resource, format);
        let asked_idx: Vec<usize> = scope_ids
            .iter()
            .filter_map(|id| rs.scope_by_id.get(id).copied())
            .collect();
        for r in candidates {
            // addPermission: a resource none of whose scopes was asked is not evaluated.
            if asked_idx.is_empty() || !resolve_scopes(rs, r, &asked_idx).is_empty() {
                any = true;
            }
            out.push(Asked::Resource {
                resource: rs.resources[r].id.clone(),
                scopes: scope_ids.clone(),
            });
        }
        if !any {
            return Err(AskError::InvalidResource(p.resource));
        }
    }
    Ok(out)
}

/// The resources a permission's resource part names.
fn resources(
    rs: &ResourceServer,
    requester: &str,
    name: &str,
    format: ResourceFormat,
) -> Vec<usize> {
    match format {
        ResourceFormat::Uri { matching } => {
            let exact = rs.resources_by_uri.get(name).cloned().unwrap_or_default();
            if !exact.is_empty() || !matching {
                return exact;
            }
            // The best matching pattern; every resource holding that URI.
            match rs.uri_matcher.matches(name) {
                Some((uri, _)) => rs.resources_by_uri.get(uri).cloned().unwrap_or_default(),
                None => Vec::new(),
            }
        }
        ResourceFormat::Id => {
            // A value with a '-' is tried as an id first (resolveResourcePermission).
            if name.contains('-') {
                if let Some(&r) = rs.resource_by_id.get(name) {
                    return vec![r];
                }
            }
            let of_type = |t: &str, keep: &dyn Fn(&str) -> bool| -> Vec<usize> {
                rs.resources_by_type
                    .get(t)
                    .map(|v| {
                        v.iter()
                            .copied()
                            .filter(|&r| keep(&rs.resources[r].owner))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            if let Some(t) = name.strip_prefix("resource-type:") {
                return of_type(t, &|o| o == rs.id);
            }
            if let Some(t) = name.strip_prefix("resource-type-any:") {
                return of_type(t, &|_| true);
            }
            if let Some(t) = name.strip_prefix("resource-type-instance:") {
                return of_type(t, &|o| o != rs.id);
            }
            if let Some(t) = name.strip_prefix("resource-type-owner:") {
                return of_type(t, &|o| o == requester);
            }
            // By name: the requester's resource, then the server's.
            let named = rs.resources_by_name.get(name).cloned().unwrap_or_default();
            let mut out: Vec<usize> = named
                .iter()
                .copied()
                .filter(|&r| rs.resources[r].owner == requester)
                .collect();
            for r in named {
                if rs.resources[r].owner == rs.id && !out.contains(&r) {
                    out.push(r);
                }
            }
            out
        }
    }
}
