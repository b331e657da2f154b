//! A small client of the Portcullis (Keycloak) Admin REST API: only the calls provisioning
//! needs. It authenticates with the client-credentials grant of a confidential client whose
//! service account may create realms, and keeps the access token until shortly before expiry.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// A failed Admin API call, by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// 409: the realm or user exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 400: Portcullis refused the representation (its `errorMessage`).
    #[error("rejected: {0}")]
    BadRequest(String),
    /// 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// Any other status, or no answer.
    #[error("admin API: {0}")]
    Upstream(String),
}

/// Where the service's Admin API credentials come from.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    /// The realm of the client (`master`: only master-realm accounts may create realms, as in
    /// Keycloak).
    pub realm: String,
    /// The client id.
    pub client_id: String,
    /// Its secret (kept in memory only).
    pub client_secret: String,
}

/// The Admin API client.
#[derive(Debug)]
pub struct PortcullisAdmin {
    http: reqwest::Client,
    base: String,
    creds: AdminCredentials,
    token: Mutex<Option<(String, Instant)>>,
}

fn message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            ["errorMessage", "error_description", "error"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
        })
        .unwrap_or_else(|| body.chars().take(300).collect())
}

fn seg(s: &str) -> String {
    // Realm names, ids and role names here are validated slugs or server-made ids; escape the
    // few characters that would change the path anyway.
    s.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
}

impl PortcullisAdmin {
    /// A client of the server at `base` (`http://localhost:8080`, no trailing slash).
    pub fn new(base: &str, creds: AdminCredentials) -> PortcullisAdmin {
        PortcullisAdmin {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            base: base.trim_end_matches('/').to_owned(),
            creds,
            token: Mutex::new(None),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn token(&self, fresh: bool) -> Result<String, AdminError> {
        let mut cached = self.token.lock().await;
        if let Some((t, until)) = cached.as_ref() {
            if !fresh && Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let url = format!(
            "{}/realms/{}/protocol/openid-connect/token",
            self.base,
            seg(&self.creds.realm)
        );
        let res = self
            .http
            .post(url)
            .basic_auth(&self.creds.client_id, Some(&self.creds.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| AdminError::Upstream(format!("token endpoint: {e}")))?;
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(AdminError::Upstream(format!(
                "client credentials of {} in realm {} refused ({status}): {}",
                self.creds.client_id,
                self.creds.realm,
                message(&body)
            )));
        }
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| AdminError::Upstream(format!("token response: {e}")))?;
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| AdminError::Upstream("token response without access_token".into()))?
            .to_owned();
        let ttl = v["expires_in"].as_u64().unwrap_or(60).saturating_sub(15);
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(ttl)));
        Ok(token)
    }

    /// One call; a 401 refreshes the token once.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, String), AdminError> {
        for attempt in 0..2 {
            let token = self.token(attempt > 0).await?;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = req
                .send()
                .await
                .map_err(|e| AdminError::Upstream(format!("{method} {path}: {e}")))?;
            let status = res.status();
            let headers = res.headers().clone();
            let text = res.text().await.unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                continue;
            }
            return match status {
                s if s.is_success() => Ok((s, headers, text)),
                StatusCode::CONFLICT => Err(AdminError::Conflict(message(&text))),
                StatusCode::BAD_REQUEST => Err(AdminError::BadRequest(message(&text))),
                StatusCode::NOT_FOUND => Err(AdminError::NotFound(message(&text))),
                s => Err(AdminError::Upstream(format!(
                    "{method} {path} answered {s}: {}",
                    message(&text)
                ))),
            };
        }
        Err(AdminError::Upstream(format!(
            "{method} {path}: unauthorized"
        )))
    }

    /// `POST /admin/realms` with a whole realm representation.
    pub async fn create_realm(&self, realm: &Value) -> Result<(), AdminError> {
        self.call(Method::POST, "/admin/realms", Some(realm))
            .await
            .map(|_| ())
    }

    /// `DELETE /admin/realms/{realm}`.
    pub async fn delete_realm(&self, realm: &str) -> Result<(), AdminError> {
        self.call(
            Method::DELETE,
            &format!("/admin/realms/{}", seg(realm)),
            None,
        )
        .await
        .map(|_| ())
    }

    /// `POST /admin/realms/{realm}/users`; the new user's id (from `Location`).
    pub async fn create_user(&self, realm: &str, user: &Value) -> Result<String, AdminError> {
        let (_, headers, _) = self
            .call(
                Method::POST,
                &format!("/admin/realms/{}/users", seg(realm)),
                Some(user),
            )
            .await?;
        headers
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| AdminError::Upstream("user created without a Location".into()))
    }

    /// The id of user `username` (exact match), if any.
    pub async fn find_user(
        &self,
        realm: &str,
        username: &str,
    ) -> Result<Option<String>, AdminError> {
        let q: String = username
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let (_, _, body) = self
            .call(
                Method::GET,
                &format!("/admin/realms/{}/users?exact=true&username={q}", seg(realm)),
                None,
            )
            .await?;
        let list: Value = serde_json::from_str(&body)
            .map_err(|e| AdminError::Upstream(format!("user list: {e}")))?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .find(|u| u["username"].as_str() == Some(username))
            .and_then(|u| u["id"].as_str())
            .map(str::to_owned))
    }

    /// `DELETE /admin/realms/{realm}/users/{id}`.
    pub async fn delete_user(&self, realm: &str, id: &str) -> Result<(), AdminError> {
        self.call(
            Method::DELETE,
            &format!("/admin/realms/{}/users/{}", seg(realm), seg(id)),
            None,
        )
        .await
        .map(|_| ())
    }

    /// Maps realm roles `roles` to user `id` (each role read first, as Keycloak's
    /// `role-mappings/realm` wants whole role representations).
    pub async fn add_realm_roles(
        &self,
        realm: &str,
        id: &str,
        roles: &[String],
    ) -> Result<(), AdminError> {
        if roles.is_empty() {
            return Ok(());
        }
        let mut reps = Vec::with_capacity(roles.len());
        for r in roles {
            let (_, _, body) = self
                .call(
                    Method::GET,
                    &format!("/admin/realms/{}/roles/{}", seg(realm), seg(r)),
                    None,
                )
                .await?;
            reps.push(
                serde_json::from_str::<Value>(&body)
                    .map_err(|e| AdminError::Upstream(format!("role {r}: {e}")))?,
            );
        }
        self.call(
            Method::POST,
            &format!(
                "/admin/realms/{}/users/{}/role-mappings/realm",
                seg(realm),
                seg(id)
            ),
            Some(&Value::Array(reps)),
        )
        .await
        .map(|_| ())
    }

    /// Adds user `id` to the group at `path` (`/departments/finance`).
    pub async fn join_group(&self, realm: &str, id: &str, path: &str) -> Result<(), AdminError> {
        let (_, _, body) = self
            .call(
                Method::GET,
                &format!("/admin/realms/{}/group-by-path{path}", seg(realm)),
                None,
            )
            .await?;
        let group: Value = serde_json::from_str(&body)
            .map_err(|e| AdminError::Upstream(format!("group {path}: {e}")))?;
        let gid = group["id"]
            .as_str()
            .ok_or_else(|| AdminError::Upstream(format!("group {path} without id")))?;
        self.call(
            Method::PUT,
            &format!(
                "/admin/realms/{}/users/{}/groups/{}",
                seg(realm),
                seg(id),
                seg(gid)
            ),
            None,
        )
        .await
        .map(|_| ())
    }

    /// `PUT .../reset-password` with a temporary password (which adds `UPDATE_PASSWORD`).
    pub async fn set_temporary_password(
        &self,
        realm: &str,
        id: &str,
        password: &str,
    ) -> Result<(), AdminError> {
        self.call(
            Method::PUT,
            &format!(
                "/admin/realms/{}/users/{}/reset-password",
                seg(realm),
                seg(id)
            ),
            Some(&json!({"type": "password", "value": password, "temporary": true})),
        )
        .await
        .map(|_| ())
    }
}
