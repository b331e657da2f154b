//! Provisioning: what `POST /tenants` and `POST /tenants/{id}/users` do, independent of HTTP.
//!
//! Every call is audited (`REQUEST`, then `AUTHZ_DECISION`, then what it created) and asks the
//! [`Policy`] first. Failing to write the ledger fails the call: nothing is provisioned
//! unaudited. A call that fails half way undoes what it made in Portcullis (the realm, the
//! user), so a retry starts clean.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::policy::{Action, Policy, Principal};
use crate::portcullis::{AdminError, PortcullisAdmin};
use crate::slug;
use crate::store::{AuditRecord, Store, StoreError, Tenant};
use crate::template::{self, TenantRealm, ADMIN_CONSOLE, TENANT_ROLES, TENANT_SERVICES};

/// `POST /tenants` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    /// The tenant id; the realm is `tenant-<slug>`.
    pub slug: String,
    /// Shown on the login page (default: the slug).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Departments: groups `/departments/<dept>`.
    #[serde(default)]
    pub departments: Vec<String>,
    /// Redirect URIs of `admin-console` (default `http://localhost:3000/*`).
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
}

/// `POST /tenants/{id}/users` body. There is no password field that is stored: a temporary
/// password, when given, goes to Portcullis and the user must change it at first login.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    /// The user name.
    pub username: String,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Realm roles, among `tenant_admin`, `officer`, `supervisor`, `auditor`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A department of the tenant: sets `department_id` and joins `/departments/<dept>`.
    #[serde(default)]
    pub department_id: Option<String>,
    /// A temporary password (the user must replace it: `UPDATE_PASSWORD`).
    #[serde(default)]
    pub temporary_password: Option<String>,
}

/// The provisioning service.
pub struct Tenants {
    /// Tenant metadata and the ledger.
    pub store: Store,
    /// The Admin API.
    pub admin: Arc<PortcullisAdmin>,
    /// The authorization hook.
    pub policy: Arc<dyn Policy>,
    /// The base of issuers as tokens carry them (`http://localhost:8080`).
    pub issuer_base: String,
}

/// The request an audit record belongs to.
struct Call<'a> {
    request_id: Uuid,
    who: &'a Principal,
    action: Action,
    tenant: Option<&'a str>,
}

/// A secret of 244 random bits (two version-4 UUIDs from a CSPRNG), hex.
pub fn new_secret() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

impl Tenants {
    async fn audit(
        &self,
        at: &Call<'_>,
        event_type: &'static str,
        decision: Option<&'static str>,
        detail: Value,
    ) -> Result<(), ApiError> {
        let record = AuditRecord {
            request_id: at.request_id,
            event_type,
            actor: at.who.sub.clone(),
            actor_realm: Some(at.who.realm.clone()),
            action: at.action.as_str(),
            tenant_id: at.tenant.map(str::to_owned),
            decision,
            detail,
        };
        tracing::info!(target: "audit", request_id = %at.request_id, event_type, actor = %at.who.sub,
            actor_realm = %at.who.realm, action = at.action.as_str(), tenant = at.tenant.unwrap_or(""),
            decision = decision.unwrap_or(""), detail = %record.detail);
        self.store.audit(&record).await.map_err(ApiError::from)
    }

    /// `REQUEST`, the policy's decision and `AUTHZ_DECISION`; `Forbidden` when denied.
    async fn authorize(
        &self,
        request_id: Uuid,
        who: &Principal,
        action: Action,
        tenant: Option<&str>,
        request: Value,
    ) -> Result<(), ApiError> {
        let at = Call {
            request_id,
            who,
            action,
            tenant,
        };
        self.audit(&at, "REQUEST", None, request).await?;
        let decision = self.policy.decide(who, action, tenant).await;
        let verdict = if decision.allow { "ALLOW" } else { "DENY" };
        self.audit(
            &at,
            "AUTHZ_DECISION",
            Some(verdict),
            json!({"reason": decision.reason}),
        )
        .await?;
        if decision.allow {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} is not allowed: {}",
                action.as_str(),
                decision.reason
            )))
        }
    }

    /// The issuer of a realm's tokens.
    pub fn issuer_of(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.issuer_base.trim_end_matches('/'))
    }

    /// Creates a tenant: its realm (one Admin API call) and its metadata row. Returns the body
    /// of the `201`, which holds the `tenant-services` secret: the only time it is shown.
    pub async fn create_tenant(
        &self,
        request_id: Uuid,
        who: &Principal,
        req: &CreateTenant,
    ) -> Result<(Tenant, Value), ApiError> {
        let tenant_hint = slug::validate_slug(&req.slug)
            .ok()
            .map(|_| req.slug.as_str());
        self.authorize(
            request_id,
            who,
            Action::TenantCreate,
            tenant_hint,
            json!({"slug": req.slug, "departments": req.departments}),
        )
        .await?;
        slug::validate_slug(&req.slug).map_err(|e| {
            ApiError::BadRequest(format!("invalid tenant slug {:?}: {e}", req.slug))
        })?;
        let mut departments = req.departments.clone();
        for d in &departments {
            slug::validate_department(d).map_err(ApiError::BadRequest)?;
        }
        departments.sort();
        departments.dedup();
        let display_name = req.display_name.clone().unwrap_or_else(|| req.slug.clone());
        if display_name.trim().is_empty() || display_name.len() > 255 {
            return Err(ApiError::BadRequest(
                "displayName must hold 1 to 255 characters".into(),
            ));
        }
        let redirect_uris = req
            .redirect_uris
            .clone()
            .unwrap_or_else(|| vec!["http://localhost:3000/*".into()]);
        let tenant_id = req.slug.as_str();
        if self.store.tenant(tenant_id).await?.is_some() {
            return Err(ApiError::Conflict(format!(
                "tenant {tenant_id:?} already exists"
            )));
        }
        let realm = slug::realm_of(tenant_id);
        let secret = new_secret();
        let rep = template::realm_representation(&TenantRealm {
            realm: &realm,
            display_name: &display_name,
            departments: &departments,
            redirect_uris: &redirect_uris,
            services_secret: &secret,
        });
        self.admin.create_realm(&rep).await.map_err(|e| match e {
            AdminError::Conflict(_) => ApiError::Conflict(format!(
                "realm {realm:?} already exists in Portcullis; tenant {tenant_id:?} is taken"
            )),
            AdminError::BadRequest(m) => {
                ApiError::BadRequest(format!("Portcullis refused realm {realm:?}: {m}"))
            }
            other => ApiError::Upstream(format!("creating realm {realm:?}: {other}")),
        })?;
        // From here on the realm is ours: any failure deletes it again.
        let issuer = self.issuer_of(&realm);
        let created = AuditRecord {
            request_id,
            event_type: "TENANT_CREATED",
            actor: who.sub.clone(),
            actor_realm: Some(who.realm.clone()),
            action: Action::TenantCreate.as_str(),
            tenant_id: Some(tenant_id.to_owned()),
            decision: None,
            detail: json!({"realm": realm, "departments": departments,
                "clients": [ADMIN_CONSOLE, TENANT_SERVICES], "roles": TENANT_ROLES}),
        };
        let tenant = match self
            .store
            .insert_tenant(tenant_id, &realm, &issuer, &created)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                self.roll_back_realm(request_id, who, tenant_id, &realm, &e.to_string())
                    .await;
                return Err(match e {
                    StoreError::Duplicate => {
                        ApiError::Conflict(format!("tenant {tenant_id:?} already exists"))
                    }
                    other => ApiError::from(other),
                });
            }
        };
        tracing::info!(target: "audit", request_id = %request_id, event_type = "TENANT_CREATED",
            actor = %who.sub, tenant = tenant_id, realm = %realm);
        let body = json!({
            "tenantId": tenant.tenant_id,
            "realmName": tenant.realm_name,
            "issuerUrl": tenant.issuer_url,
            "createdAt": tenant.created_at,
            "roles": TENANT_ROLES,
            "groups": departments.iter().map(|d| format!("/departments/{d}")).collect::<Vec<_>>(),
            "clients": {
                ADMIN_CONSOLE: {"clientId": ADMIN_CONSOLE, "publicClient": true},
                TENANT_SERVICES: {
                    "clientId": TENANT_SERVICES,
                    "publicClient": false,
                    "clientSecret": secret,
                    "note": "shown once: the tenant service does not keep it; store it in your secret manager"
                }
            }
        });
        Ok((tenant, body))
    }

    async fn roll_back_realm(
        &self,
        request_id: Uuid,
        who: &Principal,
        tenant_id: &str,
        realm: &str,
        why: &str,
    ) {
        let deleted = self.admin.delete_realm(realm).await;
        if let Err(e) = &deleted {
            tracing::error!(%realm, error = %e, "could not delete the realm of a failed tenant creation");
        }
        let _ = self
            .audit(
                &Call {
                    request_id,
                    who,
                    action: Action::TenantCreate,
                    tenant: Some(tenant_id),
                },
                "TENANT_ROLLED_BACK",
                None,
                json!({"realm": realm, "reason": why, "realmDeleted": deleted.is_ok()}),
            )
            .await;
    }

    /// A tenant's metadata.
    pub async fn get_tenant(
        &self,
        request_id: Uuid,
        who: &Principal,
        tenant_id: &str,
    ) -> Result<Tenant, ApiError> {
        self.authorize(
            request_id,
            who,
            Action::TenantRead,
            Some(tenant_id),
            json!({}),
        )
        .await?;
        self.store
            .tenant(tenant_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant_id:?} does not exist")))
    }

    /// Creates a user in a tenant's realm with roles, `UPDATE_PASSWORD` and optionally a
    /// department and a temporary password. Returns the body of the `201`.
    pub async fn create_user(
        &self,
        request_id: Uuid,
        who: &Principal,
        tenant_id: &str,
        req: &CreateUser,
    ) -> Result<Value, ApiError> {
        self.authorize(
            request_id,
            who,
            Action::UserCreate,
            Some(tenant_id),
            json!({"username": req.username, "roles": req.roles, "departmentId": req.department_id}),
        )
        .await?;
        let tenant =
            self.store.tenant(tenant_id).await?.ok_or_else(|| {
                ApiError::NotFound(format!("tenant {tenant_id:?} does not exist"))
            })?;
        if req.username.trim().is_empty() {
            return Err(ApiError::BadRequest("username must not be empty".into()));
        }
        let mut roles = req.roles.clone();
        if let Some(bad) = roles.iter().find(|r| !TENANT_ROLES.contains(&r.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "unknown role {bad:?}; roles are {}",
                TENANT_ROLES.join(", ")
            )));
        }
        roles.sort();
        roles.dedup();
        if let Some(d) = &req.department_id {
            slug::validate_department(d).map_err(ApiError::BadRequest)?;
        }
        if req.temporary_password.as_deref() == Some("") {
            return Err(ApiError::BadRequest(
                "temporaryPassword must not be empty when given".into(),
            ));
        }
        let realm = &tenant.realm_name;
        let mut rep = json!({
            "username": req.username,
            "enabled": true,
            "requiredActions": ["UPDATE_PASSWORD"],
        });
        for (k, v) in [
            ("email", &req.email),
            ("firstName", &req.first_name),
            ("lastName", &req.last_name),
        ] {
            if let Some(v) = v {
                rep[k] = json!(v);
            }
        }
        if let Some(d) = &req.department_id {
            rep["attributes"] = json!({ template::DEPARTMENT_ATTRIBUTE: [d] });
        }
        let id = self
            .admin
            .create_user(realm, &rep)
            .await
            .map_err(|e| match e {
                AdminError::Conflict(m) => ApiError::Conflict(format!(
                    "user {:?} cannot be created in tenant {tenant_id:?}: {m}",
                    req.username
                )),
                AdminError::BadRequest(m) => {
                    ApiError::BadRequest(format!("Portcullis refused user {:?}: {m}", req.username))
                }
                other => ApiError::Upstream(format!("creating user: {other}")),
            })?;
        // From here on the user is ours: any failure deletes it again.
        let rest = async {
            self.admin
                .add_realm_roles(realm, &id, &roles)
                .await
                .map_err(|e| ApiError::Upstream(format!("assigning roles: {e}")))?;
            if let Some(d) = &req.department_id {
                let path = format!("/departments/{d}");
                self.admin
                    .join_group(realm, &id, &path)
                    .await
                    .map_err(|e| match e {
                        AdminError::NotFound(_) => ApiError::BadRequest(format!(
                            "department {d:?} does not exist in tenant {tenant_id:?} (no group {path})"
                        )),
                        other => ApiError::Upstream(format!("joining {path}: {other}")),
                    })?;
            }
            if let Some(p) = &req.temporary_password {
                self.admin
                    .set_temporary_password(realm, &id, p)
                    .await
                    .map_err(|e| match e {
                        AdminError::BadRequest(m) => {
                            ApiError::BadRequest(format!("temporaryPassword refused: {m}"))
                        }
                        other => ApiError::Upstream(format!("setting the password: {other}")),
                    })?;
            }
            self.audit(
                &Call {
                    request_id,
                    who,
                    action: Action::UserCreate,
                    tenant: Some(tenant_id),
                },
                "USER_CREATED",
                None,
                json!({"userId": id, "username": req.username, "roles": roles,
                    "departmentId": req.department_id}),
            )
            .await
        }
        .await;
        if let Err(e) = rest {
            if let Err(d) = self.admin.delete_user(realm, &id).await {
                tracing::error!(%realm, user = %id, error = %d, "could not delete a half-created user");
            }
            return Err(e);
        }
        Ok(json!({
            "id": id,
            "tenantId": tenant_id,
            "username": req.username,
            "roles": roles,
            "departmentId": req.department_id,
            "requiredActions": ["UPDATE_PASSWORD"],
        }))
    }
}
