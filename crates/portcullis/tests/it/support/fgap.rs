//! Fine-grained admin permissions in tests: a realm's `admin-permissions` resource server, and
//! policies and permissions the master administrator writes on it.

use serde_json::Value;

use super::{call, TestServer};

/// The `.../authz/resource-server` path of `realm`'s `admin-permissions` client.
pub async fn admin_permissions_server(server: &TestServer, admin: &str, realm: &str) -> String {
    let base = format!("/admin/realms/{realm}");
    let (status, rep, _) = call(server, "GET", &base, Some(admin), None).await;
    assert_eq!(status, 200, "{rep}");
    format!(
        "{base}/clients/{}/authz/resource-server",
        rep["adminPermissionsClient"]["id"]
            .as_str()
            .expect("the realm has its admin-permissions client")
    )
}

/// Writes on resource server `rs` a scope permission (a body with `resourceType`) or else a
/// user policy; asserts 201.
pub async fn write_permission(server: &TestServer, admin: &str, rs: &str, body: Value) {
    let path = if body.get("resourceType").is_some() {
        "permission/scope"
    } else {
        "policy/user"
    };
    let (status, answer, _) = call(
        server,
        "POST",
        &format!("{rs}/{path}"),
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
}
