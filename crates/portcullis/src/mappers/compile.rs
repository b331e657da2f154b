//! Reading a `ProtocolMapperRepresentation` into a [`Mapper`], once per realm snapshot.

use serde_json::Value;

use super::claims::{self, ClaimName, JsonType};
use super::organization::Membership;
use super::roles::{ClientRoles, Groups, RealmRoles};
use super::{Mapper, Rule, Targets};

/// A mapper's `config`: string values by key (anything else counts as absent).
#[derive(Clone, Copy)]
pub(super) struct Config<'a>(Option<&'a Value>);

impl<'a> Config<'a> {
    /// The value of `key`.
    pub(super) fn get(self, key: &str) -> Option<&'a str> {
        self.0?.get(key)?.as_str()
    }

    /// The value of `key`, owned.
    pub(super) fn text(self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    /// The value of `key`, when not empty.
    pub(super) fn non_empty(self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// Whether `key` is `true`, `default` when absent.
    pub(super) fn flag(self, key: &str, default: bool) -> bool {
        self.get(key).map(|v| v == "true").unwrap_or(default)
    }

    /// Whether `key` is `true` in any case.
    pub(super) fn truthy(self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// `claim.name`, or `default` when absent or empty.
    pub(super) fn claim_name(self, default: &str) -> ClaimName {
        ClaimName::of(
            self.get("claim.name")
                .filter(|c| !c.is_empty())
                .unwrap_or(default),
        )
    }

    /// `jsonType.label`.
    pub(super) fn json_type(self) -> JsonType {
        JsonType::of(self.get("jsonType.label"))
    }
}

impl Targets {
    /// `access.token.claim` and `id.token.claim` (default false); `userinfo.token.claim`
    /// follows the ID token and `introspection.token.claim` the access token when absent;
    /// `lightweight.claim` (default false) for lightweight access tokens.
    fn of(c: Config<'_>) -> Self {
        let access = c.flag("access.token.claim", false);
        let id = c.flag("id.token.claim", false);
        Targets([
            access,
            id,
            c.flag("userinfo.token.claim", id),
            c.flag("introspection.token.claim", access),
            c.flag("lightweight.claim", false),
        ])
    }
}

impl Rule {
    /// The rule of the `protocolMapper` id `id`, an OIDC mapper.
    fn of(id: &str, c: Config<'_>) -> Self {
        match id {
            "oidc-usermodel-property-mapper" => Rule::Property(claims::Property::of(c)),
            "oidc-usermodel-attribute-mapper" => Rule::Attribute(claims::Attribute::of(c)),
            "oidc-full-name-mapper" => Rule::FullName,
            "oidc-usermodel-realm-role-mapper" => Rule::RealmRole(RealmRoles::of(c)),
            "oidc-usermodel-client-role-mapper" => Rule::ClientRole(ClientRoles::of(c)),
            "oidc-group-membership-mapper" => Rule::Group(Groups::of(c)),
            "oidc-hardcoded-claim-mapper" => Rule::HardcodedClaim(claims::Hardcoded::of(c)),
            "oidc-audience-mapper" => Rule::Audience {
                audiences: ["included.client.audience", "included.custom.audience"]
                    .into_iter()
                    .filter_map(|k| c.non_empty(k))
                    .collect(),
            },
            "oidc-sub-mapper" => Rule::Sub,
            "oidc-allowed-origins-mapper" => Rule::AllowedOrigins,
            "oidc-acr-mapper" => Rule::Acr,
            "oidc-amr-mapper" => Rule::Amr,
            "oidc-usersessionmodel-note-mapper" => Rule::SessionNote(claims::SessionNote::of(c)),
            "oidc-address-mapper" => Rule::Address,
            "oidc-organization-membership-mapper" => Rule::Organization(Membership::of(c)),
            "oidc-audience-resolve-mapper" => Rule::AudienceResolve,
            "oidc-hardcoded-role-mapper" => Rule::HardcodedRole {
                role: c.non_empty("role"),
            },
            "oidc-role-name-mapper" => Rule::RoleName {
                role: c.non_empty("role"),
                new_role_name: c.non_empty("new.role.name"),
            },
            other => Rule::Other(other.to_string()),
        }
    }
}

impl Mapper {
    /// Reads a mapper's configuration. Another protocol's mapper (`protocol` other than
    /// `openid-connect`, the default) writes nothing, whatever its type.
    pub fn compile(mapper: &Value) -> Self {
        let c = Config(mapper.get("config"));
        let id = mapper
            .get("protocolMapper")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let oidc = mapper
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("openid-connect")
            == "openid-connect";
        let mut targets = Targets::of(c);
        // `AcrProtocolMapper` is no `UserInfoTokenMapper`: whatever its configuration says,
        // `acr` never reaches the userinfo response.
        // Nor is `AmrProtocolMapper`.
        if id == "oidc-acr-mapper" || id == "oidc-amr-mapper" {
            targets.0[super::Target::Userinfo as usize] = false;
        }
        Mapper {
            targets,
            rule: if oidc {
                Rule::of(id, c)
            } else {
                Rule::Other(id.to_string())
            },
        }
    }
}

/// Reads each mapper of a `protocolMappers` list.
pub fn compile_all(list: Option<&Vec<Value>>) -> Vec<Mapper> {
    list.into_iter().flatten().map(Mapper::compile).collect()
}
