//! Keycloak's OIDC protocol mappers: each turns user, session and role data into claims of
//! the access token, ID token, userinfo or introspection response, driven by the mapper's
//! `config` (`claim.name`, `jsonType.label`, `multivalued`, `access.token.claim`, ...).
//!
//! A mapper is read once, when the realm snapshot is built (`compile`), into a [`Mapper`]:
//! the targets it writes into and a rule per kind carrying only that kind's configuration.
//! The kinds live by family: user data and fixed claims in `claims`, roles and groups in
//! `roles`, audiences in `audience`, organizations in `organization`.

mod audience;
mod claims;
mod compile;
mod organization;
mod roles;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::model::{Organization, Role};
use crate::representation::UserRepresentation;

pub use audience::{add_audience, resolve_audience};
pub use claims::{claim_path, set_claim, set_claim_path};
pub use compile::compile_all;
pub use organization::organization_claim;

/// Where a claim is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The access token.
    Access = 0,
    /// The ID token.
    Id,
    /// The userinfo response.
    Userinfo,
    /// The introspection response.
    Introspection,
    /// A lightweight access token (the client attribute
    /// `client.use.lightweight.access.token.enabled`): only mappers with `lightweight.claim`
    /// write to it (`OIDCAttributeMapperHelper.includeInLightweightAccessToken`).
    LightweightAccess,
}

/// What mappers read.
#[derive(Debug)]
pub struct Input<'a> {
    /// User id.
    pub user_id: &'a str,
    /// The user.
    pub user: &'a UserRepresentation,
    /// Requesting clientId.
    pub client_id: &'a str,
    /// Effective roles in the token's scope.
    pub roles: &'a BTreeSet<Role>,
    /// The user's group paths.
    pub groups: &'a [String],
    /// Session notes (`AUTH_TIME`, ...).
    pub notes: &'a Map<String, Value>,
    /// The client's allowed web origins.
    pub web_origins: &'a [String],
    /// Authentication context class.
    pub acr: &'a str,
    /// Authentication method references (`oidc-amr-mapper`).
    pub amr: &'a [String],
    /// The organizations the token's organization scope yields for the user (see
    /// `realm::organizations`), for `oidc-organization-membership-mapper`.
    pub organizations: &'a [&'a Organization],
}

/// The mapper types this engine runs (`protocolMapper`): the discriminant of a [`Mapper`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `oidc-usermodel-property-mapper`.
    Property,
    /// `oidc-usermodel-attribute-mapper`.
    Attribute,
    /// `oidc-full-name-mapper`.
    FullName,
    /// `oidc-usermodel-realm-role-mapper`.
    RealmRole,
    /// `oidc-usermodel-client-role-mapper`.
    ClientRole,
    /// `oidc-group-membership-mapper`.
    Group,
    /// `oidc-hardcoded-claim-mapper`.
    HardcodedClaim,
    /// `oidc-audience-mapper`.
    Audience,
    /// `oidc-sub-mapper`.
    Sub,
    /// `oidc-allowed-origins-mapper`.
    AllowedOrigins,
    /// `oidc-acr-mapper`.
    Acr,
    /// `oidc-amr-mapper`.
    Amr,
    /// `oidc-usersessionmodel-note-mapper`.
    SessionNote,
    /// `oidc-address-mapper`.
    Address,
    /// `oidc-organization-membership-mapper`.
    Organization,
    /// `oidc-audience-resolve-mapper`: runs after the others (see [`resolve_audience`]).
    AudienceResolve,
    /// `oidc-hardcoded-role-mapper`: changes the roles, not the claims.
    HardcodedRole,
    /// `oidc-role-name-mapper`: changes the roles, not the claims.
    RoleName,
    /// Another type, or another protocol's mapper: writes nothing.
    Other,
}

/// Whether a mapper writes into the access token, ID token, userinfo and introspection
/// response, in [`Target`] order, with Keycloak's fall-backs applied
/// (`OIDCAttributeMapperHelper.includeInIntrospection` / `includeInUserInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Targets([bool; 5]);

impl Targets {
    fn contains(self, target: Target) -> bool {
        self.0[target as usize]
    }
}

/// A protocol mapper (`ProtocolMapperRepresentation`) with its `config` read once, when the
/// realm snapshot is built: issuing a token reads no JSON configuration.
#[derive(Debug, Clone)]
pub struct Mapper {
    targets: Targets,
    rule: Rule,
}

/// What a mapper does, with the configuration its kind reads.
#[derive(Debug, Clone)]
enum Rule {
    /// `oidc-usermodel-property-mapper`.
    Property(claims::Property),
    /// `oidc-usermodel-attribute-mapper`.
    Attribute(claims::Attribute),
    /// `oidc-full-name-mapper`: `name`.
    FullName,
    /// `oidc-usermodel-realm-role-mapper`.
    RealmRole(roles::RealmRoles),
    /// `oidc-usermodel-client-role-mapper`.
    ClientRole(roles::ClientRoles),
    /// `oidc-group-membership-mapper`.
    Group(roles::Groups),
    /// `oidc-hardcoded-claim-mapper`.
    HardcodedClaim(claims::Hardcoded),
    /// `oidc-audience-mapper`: `included.client.audience` and `included.custom.audience`,
    /// those not empty.
    Audience { audiences: Vec<String> },
    /// `oidc-sub-mapper`: `sub`.
    Sub,
    /// `oidc-allowed-origins-mapper`: `allowed-origins`.
    AllowedOrigins,
    /// `oidc-acr-mapper`: `acr`.
    Acr,
    /// `oidc-amr-mapper`: `amr`.
    Amr,
    /// `oidc-usersessionmodel-note-mapper`.
    SessionNote(claims::SessionNote),
    /// `oidc-address-mapper`: `address`.
    Address,
    /// `oidc-organization-membership-mapper`.
    Organization(organization::Membership),
    /// `oidc-audience-resolve-mapper`: applied by the caller after the others.
    AudienceResolve,
    /// `oidc-hardcoded-role-mapper`: `role`, when not empty.
    HardcodedRole { role: Option<String> },
    /// `oidc-role-name-mapper`: `role` and `new.role.name`, when not empty.
    RoleName {
        role: Option<String>,
        new_role_name: Option<String>,
    },
    /// Another type (the `protocolMapper` id), or another protocol's mapper. The id is only
    /// shown (`Debug`), never matched.
    Other(#[allow(dead_code)] String),
}

impl Mapper {
    /// The mapper's type.
    pub fn kind(&self) -> Kind {
        match &self.rule {
            Rule::Property(_) => Kind::Property,
            Rule::Attribute(_) => Kind::Attribute,
            Rule::FullName => Kind::FullName,
            Rule::RealmRole(_) => Kind::RealmRole,
            Rule::ClientRole(_) => Kind::ClientRole,
            Rule::Group(_) => Kind::Group,
            Rule::HardcodedClaim(_) => Kind::HardcodedClaim,
            Rule::Audience { .. } => Kind::Audience,
            Rule::Sub => Kind::Sub,
            Rule::AllowedOrigins => Kind::AllowedOrigins,
            Rule::Acr => Kind::Acr,
            Rule::Amr => Kind::Amr,
            Rule::SessionNote(_) => Kind::SessionNote,
            Rule::Address => Kind::Address,
            Rule::Organization(_) => Kind::Organization,
            Rule::AudienceResolve => Kind::AudienceResolve,
            Rule::HardcodedRole { .. } => Kind::HardcodedRole,
            Rule::RoleName { .. } => Kind::RoleName,
            Rule::Other(_) => Kind::Other,
        }
    }

    /// Whether it writes into `target`.
    pub fn writes(&self, target: Target) -> bool {
        self.targets.contains(target)
    }

    /// `role` of `oidc-hardcoded-role-mapper` and `oidc-role-name-mapper`.
    pub fn role(&self) -> Option<&str> {
        match &self.rule {
            Rule::HardcodedRole { role } | Rule::RoleName { role, .. } => role.as_deref(),
            _ => None,
        }
    }

    /// `new.role.name` of `oidc-role-name-mapper`.
    pub fn new_role_name(&self) -> Option<&str> {
        match &self.rule {
            Rule::RoleName { new_role_name, .. } => new_role_name.as_deref(),
            _ => None,
        }
    }

    /// Writes the mapper's claims for `target`.
    pub fn apply(&self, target: Target, input: &Input<'_>, claims: &mut Map<String, Value>) {
        if !self.writes(target) {
            return;
        }
        match &self.rule {
            Rule::Property(m) => m.apply(input.user, input.user_id, claims),
            Rule::Attribute(m) => m.apply(input.user, claims),
            Rule::FullName => claims::full_name(input.user, claims),
            Rule::RealmRole(m) => m.apply(input.roles, claims),
            Rule::ClientRole(m) => m.apply(input.roles, claims),
            Rule::Group(m) => m.apply(input.groups, claims),
            Rule::HardcodedClaim(m) => m.apply(claims),
            Rule::Audience { audiences } => add_audience(claims, audiences.clone()),
            Rule::Sub => {
                claims.insert("sub".into(), json!(input.user_id));
            }
            Rule::AllowedOrigins => {
                if !input.web_origins.is_empty() {
                    claims.insert("allowed-origins".into(), json!(input.web_origins));
                }
            }
            Rule::Acr => {
                claims.insert("acr".into(), json!(input.acr));
            }
            // `AmrProtocolMapper`: the list, even when empty.
            Rule::Amr => {
                claims.insert("amr".into(), json!(input.amr));
            }
            Rule::SessionNote(m) => m.apply(input.notes, claims),
            Rule::Address => claims::address(input.user, claims),
            Rule::Organization(m) => m.apply(input.organizations, claims),
            // Runs after the role mappers (`audience_resolve` has Keycloak's highest
            // priority): every client the token carries roles of, except the requesting
            // client. The role mappers change roles, not claims.
            Rule::AudienceResolve
            | Rule::HardcodedRole { .. }
            | Rule::RoleName { .. }
            | Rule::Other(_) => {}
        }
    }
}
