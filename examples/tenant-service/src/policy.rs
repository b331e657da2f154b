//! The authorization hook: every provisioning call asks a [`Policy`] before doing anything.
//!
//! Seed 001 has a separate policy-service; here the hook is a trait, so a deployment can put a
//! remote policy engine behind it. [`AllowList`] is the default: a fixed table of which realm
//! roles may do which action, and on which tenant.

use async_trait::async_trait;
use serde::Serialize;

use crate::slug;

/// The realm of platform operators (`realms/platform-realm.json`).
pub const PLATFORM_REALM: &str = "platform";
/// The realm role of platform operators.
pub const PLATFORM_ADMIN: &str = "platform_admin";

/// Who is asking, as the validated token says.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    /// `sub` of the token.
    pub sub: String,
    /// `preferred_username`, when present (service accounts carry `service-account-<client>`).
    pub username: Option<String>,
    /// The realm of the token's issuer.
    pub realm: String,
    /// The tenant the issuer's realm belongs to (`tenant-<slug>` → `<slug>`), if any.
    pub tenant: Option<String>,
    /// Realm roles (`realm_access.roles`).
    pub roles: Vec<String>,
}

impl Principal {
    /// From a token validated by `portcullis-guard`: the realm is the issuer's, never a header's.
    pub fn from_actor(actor: &portcullis_guard::Actor) -> Principal {
        let realm = actor.tenant.clone().unwrap_or_default();
        Principal {
            sub: actor.sub.clone(),
            username: actor.preferred_username.clone(),
            tenant: slug::tenant_of_realm(&realm).map(str::to_owned),
            realm,
            roles: actor.realm_roles.clone(),
        }
    }

    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// An operator of the platform.
    pub fn is_platform_admin(&self) -> bool {
        self.realm == PLATFORM_REALM && self.has_role(PLATFORM_ADMIN)
    }
}

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    /// `POST /tenants`.
    #[serde(rename = "tenant.create")]
    TenantCreate,
    /// `GET /tenants/{id}`.
    #[serde(rename = "tenant.read")]
    TenantRead,
    /// `POST /tenants/{id}/users`.
    #[serde(rename = "user.create")]
    UserCreate,
}

impl Action {
    /// The name in audit records (`tenant.create`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::TenantCreate => "tenant.create",
            Action::TenantRead => "tenant.read",
            Action::UserCreate => "user.create",
        }
    }
}

/// The answer, with a reason that goes to the audit ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Allowed or not.
    pub allow: bool,
    /// Why.
    pub reason: String,
}

impl Decision {
    fn allow(reason: impl Into<String>) -> Decision {
        Decision {
            allow: true,
            reason: reason.into(),
        }
    }
    fn deny(reason: impl Into<String>) -> Decision {
        Decision {
            allow: false,
            reason: reason.into(),
        }
    }
}

/// The authorization hook. `tenant` is the tenant the action targets (`None` for creating one).
#[async_trait]
pub trait Policy: Send + Sync {
    /// Decides; must fail closed (deny) when it cannot decide.
    async fn decide(&self, who: &Principal, action: Action, tenant: Option<&str>) -> Decision;
}

/// One row of the allow-list: holders of `role` in realm `realm` may do `action`; when
/// `own_tenant_only`, only on the tenant their token's issuer belongs to.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The action.
    pub action: Action,
    /// The realm the token must come from (`platform`), or `None` for any tenant realm.
    pub realm: Option<String>,
    /// The realm role required.
    pub role: String,
    /// Only on the caller's own tenant.
    pub own_tenant_only: bool,
}

/// The default policy: a fixed allow-list, deny otherwise.
#[derive(Debug, Clone)]
pub struct AllowList {
    rules: Vec<Rule>,
}

impl AllowList {
    /// An allow-list of these rules.
    pub fn new(rules: Vec<Rule>) -> AllowList {
        AllowList { rules }
    }
}

impl Default for AllowList {
    /// Platform operators (`platform` realm, `platform_admin`) may do everything; a tenant's
    /// `tenant_admin` may create users in and read its own tenant; its `auditor` may read it.
    fn default() -> AllowList {
        let platform = |action| Rule {
            action,
            realm: Some(PLATFORM_REALM.into()),
            role: PLATFORM_ADMIN.into(),
            own_tenant_only: false,
        };
        let tenant = |action, role: &str| Rule {
            action,
            realm: None,
            role: role.into(),
            own_tenant_only: true,
        };
        AllowList::new(vec![
            platform(Action::TenantCreate),
            platform(Action::TenantRead),
            platform(Action::UserCreate),
            tenant(Action::UserCreate, "tenant_admin"),
            tenant(Action::TenantRead, "tenant_admin"),
            tenant(Action::TenantRead, "auditor"),
        ])
    }
}

impl AllowList {
    /// The decision, as a plain function.
    pub fn evaluate(&self, who: &Principal, action: Action, tenant: Option<&str>) -> Decision {
        for rule in self.rules.iter().filter(|r| r.action == action) {
            let realm_ok = match &rule.realm {
                Some(realm) => &who.realm == realm,
                None => who.tenant.is_some(),
            };
            if !realm_ok || !who.has_role(&rule.role) {
                continue;
            }
            if rule.own_tenant_only && (tenant.is_none() || who.tenant.as_deref() != tenant) {
                continue;
            }
            return Decision::allow(format!(
                "role {} of realm {} may {}",
                rule.role,
                who.realm,
                action.as_str()
            ));
        }
        Decision::deny(format!(
            "no rule lets realm {} with roles {:?} {}{}",
            who.realm,
            who.roles,
            action.as_str(),
            tenant
                .map(|t| format!(" on tenant {t}"))
                .unwrap_or_default()
        ))
    }
}

#[async_trait]
impl Policy for AllowList {
    async fn decide(&self, who: &Principal, action: Action, tenant: Option<&str>) -> Decision {
        self.evaluate(who, action, tenant)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn who(realm: &str, roles: &[&str]) -> Principal {
        Principal {
            sub: "s".into(),
            username: None,
            realm: realm.into(),
            tenant: slug::tenant_of_realm(realm).map(str::to_owned),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn platform_admin_may_everything() {
        let p = AllowList::default();
        let op = who("platform", &["platform_admin"]);
        assert!(p.evaluate(&op, Action::TenantCreate, None).allow);
        assert!(p.evaluate(&op, Action::UserCreate, Some("a")).allow);
        assert!(
            !p.evaluate(&who("platform", &[]), Action::TenantCreate, None)
                .allow
        );
        // The role name alone is not enough: it must come from the platform realm.
        assert!(
            !p.evaluate(
                &who("tenant-a", &["platform_admin"]),
                Action::TenantCreate,
                None
            )
            .allow
        );
    }

    #[test]
    fn tenant_admin_only_on_own_tenant() {
        let p = AllowList::default();
        let admin = who("tenant-a", &["tenant_admin"]);
        assert!(p.evaluate(&admin, Action::UserCreate, Some("a")).allow);
        assert!(!p.evaluate(&admin, Action::UserCreate, Some("b")).allow);
        assert!(!p.evaluate(&admin, Action::TenantCreate, None).allow);
        let officer = who("tenant-a", &["officer"]);
        assert!(!p.evaluate(&officer, Action::UserCreate, Some("a")).allow);
        let auditor = who("tenant-a", &["auditor"]);
        assert!(p.evaluate(&auditor, Action::TenantRead, Some("a")).allow);
        assert!(!p.evaluate(&auditor, Action::TenantRead, Some("b")).allow);
    }
}
