//! Admin events for every Admin API write, recorded in one place: the request-context layer
//! notes a `POST`/`PUT`/`DELETE` under `/admin/realms/{realm}/` before the handler runs (and
//! keeps its body when the realm may want it), and after a successful answer records what
//! Keycloak's `AdminEventBuilder` would: the operation, the resource type and path (the
//! created resource's path, from `Location`, for a create), the caller (recorded by
//! `admin::auth::authenticate`) and, with `adminEventsDetailsEnabled`, the representation.
//!
//! The operation and resource type come from the path ([`classify`]), as Keycloak's resources
//! set them: `PUT users/{id}/groups/{g}` is a `CREATE` of `GROUP_MEMBERSHIP`,
//! `PUT users/{id}/reset-password` an `ACTION` on `USER`, and so on.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::context::RequestContext;
use super::{AdminEvent, Envelope};
use crate::http::paths::decode_segment;
use crate::AppState;

/// Last path segments that make a write an `ACTION`.
const ACTIONS: &[&str] = &[
    "reset-password",
    "reset-password-email",
    "execute-actions-email",
    "send-verify-email",
    "logout",
    "logout-all",
    "push-revocation",
    "client-secret",
    "registration-access-token",
    "disable-credential-types",
    "partialImport",
    "impersonation",
    "clear-realm-cache",
    "clear-user-cache",
    "clear-keys-cache",
    "generate",
    "generate-and-download",
    "upload",
    "upload-certificate",
    "moveAfter",
    "moveToFirst",
    "test-nodes-available",
];

/// The operation and resource type of a successful write at `rel` (the path below
/// `/admin/realms/{realm}/`, empty for the realm itself).
pub fn classify(method: &Method, rel: &str) -> (&'static str, &'static str) {
    let segs: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    let last = segs.last().copied().unwrap_or_default();
    let has = |s: &str| segs.contains(&s);
    let resource = match segs.first().copied().unwrap_or_default() {
        ""
        | "events"
        | "partialImport"
        | "logout-all"
        | "push-revocation"
        | "localization"
        | "client-policies"
        | "users-management-permissions" => "REALM",
        "default-groups" => "GROUP",
        "users" | "groups" if has("role-mappings") => {
            if has("clients") {
                "CLIENT_ROLE_MAPPING"
            } else {
                "REALM_ROLE_MAPPING"
            }
        }
        "users" if segs.get(2) == Some(&"groups") => "GROUP_MEMBERSHIP",
        "users" => "USER",
        "groups" => "GROUP",
        "clients" | "client-scopes" | "client-templates" if has("protocol-mappers") => {
            "PROTOCOL_MAPPER"
        }
        "clients" | "client-scopes" if has("scope-mappings") => {
            if has("clients") {
                "CLIENT_SCOPE_MAPPING"
            } else {
                "REALM_SCOPE_MAPPING"
            }
        }
        "clients" if has("default-client-scopes") || has("optional-client-scopes") => {
            "CLIENT_SCOPE_CLIENT_MAPPING"
        }
        "clients" if has("roles") => "CLIENT_ROLE",
        "clients" if has("authz") => "AUTHORIZATION_RESOURCE_SERVER",
        "clients" => "CLIENT",
        "client-scopes" | "default-default-client-scopes" | "default-optional-client-scopes" => {
            "CLIENT_SCOPE"
        }
        "roles" | "roles-by-id" => "REALM_ROLE",
        "components" => "COMPONENT",
        "clients-initial-access" => "CLIENT_INITIAL_ACCESS_MODEL",
        "identity-provider" if has("mappers") => "IDENTITY_PROVIDER_MAPPER",
        "identity-provider" => "IDENTITY_PROVIDER",
        "authentication" if has("required-actions") => "REQUIRED_ACTION",
        "authentication" if has("config") => "AUTHENTICATOR_CONFIG",
        "authentication" if has("executions") => "AUTH_EXECUTION",
        "authentication" => "AUTH_FLOW",
        "sessions" => "USER_SESSION",
        "attack-detection" => "USER_LOGIN_FAILURE",
        "organizations" if has("members") => "ORGANIZATION_MEMBERSHIP",
        "organizations" => "ORGANIZATION",
        _ => "REALM",
    };
    let operation = if ACTIONS.contains(&last) {
        "ACTION"
    } else if *method == Method::DELETE {
        "DELETE"
    } else if *method == Method::POST {
        "CREATE"
    } else if resource == "GROUP_MEMBERSHIP" || resource == "CLIENT_SCOPE_CLIENT_MAPPING" {
        // Joining a group and adding a default scope are `PUT`s that Keycloak records as
        // creations (`UserResource.joinGroup`, `ClientResource.addDefaultClientScope`).
        "CREATE"
    } else {
        "UPDATE"
    };
    (operation, resource)
}

/// An Admin API write seen before its handler ran.
#[derive(Debug)]
pub struct Pending {
    realm: String,
    realm_id: String,
    method: Method,
    rel: String,
    was_enabled: bool,
    audit_only: bool,
    body: Option<Bytes>,
}

/// `(realm, rest)` of an Admin API path below a realm.
fn realm_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/admin/realms/")?;
    let (realm, rel) = rest.split_once('/').unwrap_or((rest, ""));
    (!realm.is_empty()).then(|| (decode_segment(realm), rel.trim_end_matches('/').to_string()))
}

impl Pending {
    /// Notes a write (keeping its body where the realm may record it) and gives the request
    /// back; the answer, when the body could not be read, is the error to send.
    pub async fn of(
        state: &AppState,
        req: Request,
    ) -> Result<(Option<Pending>, Request), Response> {
        let method = req.method().clone();
        if !(method == Method::POST || method == Method::PUT || method == Method::DELETE) {
            return Ok((None, req));
        }
        let Some((realm, rel)) = realm_path(req.uri().path()) else {
            return Ok((None, req));
        };
        // Clearing the events is not itself recorded (`RealmAdminResource.clearEvents` and
        // `clearAdminEvents` send no admin event); the audit trail records it all the same.
        let audit_only = rel == "events" || rel == "admin-events";
        if audit_only && !state.events.audit() {
            return Ok((None, req));
        }
        let Ok(Some(snap)) = state.realms.get(state.store.as_ref(), &realm).await else {
            return Ok((None, req));
        };
        let was_enabled = snap.settings.events.admin_enabled;
        // The representation is wanted only where the realm records admin events (or may
        // start to: the events configuration itself); other bodies are not touched.
        let wants_body =
            method != Method::DELETE && !audit_only && (was_enabled || rel == "events/config");
        let (req, body) = if wants_body {
            let (parts, body) = req.into_parts();
            // The limits layer already bounded the body.
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .map_err(|_| axum::http::StatusCode::BAD_REQUEST.into_response())?;
            (
                Request::from_parts(parts, Body::from(bytes.clone())),
                Some(bytes),
            )
        } else {
            (req, None)
        };
        Ok((
            Some(Pending {
                realm,
                realm_id: snap.id.clone(),
                method,
                rel,
                was_enabled,
                audit_only,
                body,
            }),
            req,
        ))
    }

    /// Records the admin event of a successful write.
    pub fn record(self, state: &AppState, ctx: &RequestContext, response: &Response) {
        if !response.status().is_success() {
            return;
        }
        let audit = state.events.audit();
        // A deleted realm has no events left to record into; its audit trail is kept and
        // records the deletion.
        let snap = state.realms.known_facts(&self.realm);
        let (store, jboss, details, realm_id, realm_name, audit_only) = match &snap {
            Some(snap) if !self.audit_only => {
                let settings = &snap.settings.events;
                (
                    self.was_enabled || settings.admin_enabled,
                    settings.jboss_logging() && state.events.logs(false),
                    settings.admin_details,
                    snap.id.clone(),
                    self.realm.clone(),
                    false,
                )
            }
            Some(snap) => (
                false,
                false,
                false,
                snap.id.clone(),
                self.realm.clone(),
                true,
            ),
            None => (false, false, false, self.realm_id, self.realm, true),
        };
        let (operation, resource) = classify(&self.method, &self.rel);
        if let (Some(c), false) = (state.events.counters(), audit_only) {
            c.admin(&realm_name, resource, operation);
        }
        // The server-wide JSON-lines output sees every realm; Loki the realms that name it.
        let listened = state.events.json()
            || snap
                .as_ref()
                .is_some_and(|s| state.events.to_loki(&s.settings.events));
        if !(store || jboss || audit || (!audit_only && listened)) {
            return;
        }
        // A create names what it created: the `Location` below the realm.
        let created = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| {
                let path = url::Url::parse(l)
                    .map(|u| u.path().to_string())
                    .unwrap_or(l.to_string());
                realm_path(&path).map(|(_, rel)| rel)
            });
        // A password reset carries the new password: Keycloak records it without a
        // representation (`UserResource.resetPassword`), and so does this.
        let details = details && !self.rel.ends_with("/reset-password");
        let path = created.clone().unwrap_or(self.rel);
        let representation = if details {
            self.body
                .filter(|b| !b.is_empty())
                .map(|b| with_id(&b, created.as_deref()))
        } else {
            None
        };
        let auth = ctx.admin.lock().ok().and_then(|a| a.clone());
        state.events.submit(Envelope::Admin {
            event: AdminEvent {
                // Time-ordered (v7), so stored events append to the id index instead of
                // landing at random places in it as the table grows.
                id: uuid::Uuid::now_v7().to_string(),
                time: crate::clock::now_millis(),
                realm_id,
                realm_name,
                operation_type: operation.into(),
                resource_type: resource.into(),
                resource_path: (!path.is_empty()).then_some(path),
                auth_realm_id: auth.as_ref().map(|a| a.realm_id.clone()),
                auth_client_id: auth.as_ref().and_then(|a| a.client_id.clone()),
                auth_user_id: auth.as_ref().map(|a| a.user_id.clone()),
                ip_address: ctx.ip.map(|i| i.to_string()),
                representation,
            },
            store,
            jboss,
            audit_only,
        });
    }
}

/// The request body as the event's representation; a created object gets the id it was given
/// (Keycloak records the stored representation, id included).
fn with_id(body: &[u8], created: Option<&str>) -> String {
    let text = String::from_utf8_lossy(body).into_owned();
    let id = created
        .and_then(|p| p.rsplit('/').next())
        .map(decode_segment);
    match (serde_json::from_str::<serde_json::Value>(&text), id) {
        (Ok(serde_json::Value::Object(mut o)), Some(id)) if !o.contains_key("id") => {
            o.insert("id".into(), serde_json::Value::String(id));
            serde_json::Value::Object(o).to_string()
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_classified_as_keycloak_records_them() {
        let c = |m: Method, p: &str| classify(&m, p);
        assert_eq!(c(Method::POST, "clients"), ("CREATE", "CLIENT"));
        assert_eq!(c(Method::PUT, "clients/x"), ("UPDATE", "CLIENT"));
        assert_eq!(c(Method::DELETE, "clients/x"), ("DELETE", "CLIENT"));
        assert_eq!(
            c(Method::POST, "clients/x/roles"),
            ("CREATE", "CLIENT_ROLE")
        );
        assert_eq!(c(Method::POST, "groups/p/children"), ("CREATE", "GROUP"));
        assert_eq!(
            c(Method::PUT, "users/u/groups/g"),
            ("CREATE", "GROUP_MEMBERSHIP")
        );
        assert_eq!(
            c(Method::POST, "users/u/role-mappings/realm"),
            ("CREATE", "REALM_ROLE_MAPPING")
        );
        assert_eq!(
            c(Method::DELETE, "users/u/role-mappings/clients/c"),
            ("DELETE", "CLIENT_ROLE_MAPPING")
        );
        assert_eq!(
            c(Method::PUT, "clients/c/default-client-scopes/s"),
            ("CREATE", "CLIENT_SCOPE_CLIENT_MAPPING")
        );
        assert_eq!(c(Method::PUT, "users/u/reset-password"), ("ACTION", "USER"));
        assert_eq!(c(Method::POST, "users/u/logout"), ("ACTION", "USER"));
        assert_eq!(c(Method::PUT, ""), ("UPDATE", "REALM"));
        assert_eq!(c(Method::PUT, "events/config"), ("UPDATE", "REALM"));
        assert_eq!(c(Method::POST, "components"), ("CREATE", "COMPONENT"));
        assert_eq!(
            c(Method::POST, "client-scopes/s/protocol-mappers/models"),
            ("CREATE", "PROTOCOL_MAPPER")
        );
        assert_eq!(
            c(Method::POST, "roles/r/composites"),
            ("CREATE", "REALM_ROLE")
        );
    }

    #[test]
    fn paths_and_representations() {
        assert_eq!(
            realm_path("/admin/realms/a%20b/users/1/"),
            Some(("a b".into(), "users/1".into()))
        );
        assert_eq!(realm_path("/admin/realms/r"), Some(("r".into(), "".into())));
        assert_eq!(realm_path("/admin/realms/"), None);
        assert_eq!(
            with_id(br#"{"clientId":"x"}"#, Some("clients/42")),
            r#"{"clientId":"x","id":"42"}"#
        );
        assert_eq!(with_id(b"[1]", Some("clients/42")), "[1]");
        assert_eq!(
            with_id(br#"{"id":"a"}"#, Some("clients/42")),
            r#"{"id":"a"}"#
        );
    }
}
