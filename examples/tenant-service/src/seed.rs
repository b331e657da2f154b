//! `tenant-service seed-demo`: creates tenant `demo` (realm `tenant-demo`) and one user per
//! role, unless they exist. Safe to rerun.
//!
//! It acts as the platform: a client-credentials token of the `platform` realm's
//! `platform-services` client, validated by the service's own guard, goes through the same
//! policy and audit as a `POST /tenants` would.

use portcullis_guard::Validator;
use uuid::Uuid;

use crate::error::ApiError;
use crate::policy::{Principal, PLATFORM_REALM};
use crate::service::{new_secret, CreateTenant, CreateUser, Tenants};
use crate::slug;
use crate::template::TENANT_ROLES;

/// The demo tenant.
pub const DEMO: &str = "demo";
/// Its department.
pub const DEMO_DEPARTMENT: &str = "operations";

/// The user name of the demo user holding `role`: `demo-tenant-admin`, `demo-officer`, ...
pub fn demo_username(role: &str) -> String {
    format!("demo-{}", role.replace('_', "-"))
}

/// What a run did, for the login instructions.
#[derive(Debug, Default)]
pub struct SeedReport {
    /// Whether the tenant was created by this run (then `services_secret` is its only showing).
    pub tenant_created: bool,
    /// The `tenant-services` secret, when created now.
    pub services_secret: Option<String>,
    /// Users created now, with their temporary passwords.
    pub users_created: Vec<(String, String)>,
    /// Users that were there already.
    pub users_existing: Vec<String>,
}

/// A client-credentials token of the platform realm.
pub async fn platform_token(
    portcullis_url: &str,
    client_id: &str,
    secret: &str,
) -> Result<String, String> {
    let res = reqwest::Client::new()
        .post(format!(
            "{portcullis_url}/realms/{PLATFORM_REALM}/protocol/openid-connect/token"
        ))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map_err(|e| format!("platform token: {e}"))?;
    let status = res.status();
    let body: serde_json::Value = res
        .json()
        .await
        .map_err(|e| format!("platform token: {e}"))?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("platform token refused ({status}): {body}"))
}

/// Seeds the demo tenant as the holder of `platform_token`.
pub async fn seed_demo(
    tenants: &Tenants,
    validator: &Validator,
    platform_token: &str,
) -> Result<SeedReport, ApiError> {
    let actor = validator
        .validate(platform_token)
        .await
        .map_err(|e| ApiError::Forbidden(format!("the platform token was refused: {e}")))?;
    let who = Principal::from_actor(&actor);
    let mut report = SeedReport::default();
    if tenants.store.tenant(DEMO).await?.is_none() {
        let (_, body) = tenants
            .create_tenant(
                Uuid::new_v4(),
                &who,
                &CreateTenant {
                    slug: DEMO.into(),
                    display_name: Some("Demo tenant".into()),
                    departments: vec![DEMO_DEPARTMENT.into()],
                    redirect_uris: None,
                },
            )
            .await?;
        report.tenant_created = true;
        report.services_secret = body["clients"]["tenant-services"]["clientSecret"]
            .as_str()
            .map(str::to_owned);
    }
    let realm = slug::realm_of(DEMO);
    for role in TENANT_ROLES {
        let username = demo_username(role);
        let exists = tenants
            .admin
            .find_user(&realm, &username)
            .await
            .map_err(|e| ApiError::Upstream(e.to_string()))?;
        if exists.is_some() {
            report.users_existing.push(username);
            continue;
        }
        let password = new_secret()[..20].to_owned();
        tenants
            .create_user(
                Uuid::new_v4(),
                &who,
                DEMO,
                &CreateUser {
                    username: username.clone(),
                    email: Some(format!("{username}@demo.example")),
                    first_name: Some("Demo".into()),
                    last_name: Some(role.replace('_', " ")),
                    roles: vec![role.to_owned()],
                    department_id: Some(DEMO_DEPARTMENT.into()),
                    temporary_password: Some(password.clone()),
                },
            )
            .await?;
        report.users_created.push((username, password));
    }
    Ok(report)
}

/// The login instructions `seed-demo` prints (temporary passwords of users created now only).
pub fn instructions(report: &SeedReport, portcullis_url: &str) -> String {
    let realm = slug::realm_of(DEMO);
    let mut out = String::new();
    out.push_str(&format!(
        "tenant {DEMO} (realm {realm}): {}\n",
        if report.tenant_created {
            "created"
        } else {
            "already there"
        }
    ));
    if let Some(s) = &report.services_secret {
        out.push_str(&format!(
            "tenant-services client secret (shown once, not stored by the service): {s}\n"
        ));
    }
    for (u, p) in &report.users_created {
        out.push_str(&format!("created user {u} with temporary password {p}\n"));
    }
    for u in &report.users_existing {
        out.push_str(&format!("user {u} already exists (password unchanged)\n"));
    }
    out.push_str(&format!(
        "log in: {portcullis_url}/realms/{realm}/account (client admin-console); \
         the first login asks for a new password\n"
    ));
    out
}
