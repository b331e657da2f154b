//! Master's per-realm admin clients (`<realm>-realm`) over HTTP: implied by the realm list
//! rather than stored in master's document, they are still listed by master's Admin API with
//! their roles, grant a master user the administration of one realm, refuse to be changed,
//! take their role mappings with them when the realm is deleted, and come back in master's
//! export; a Keycloak master file that lists them imports.

use serde_json::{json, Value};

use crate::support::*;

async fn admin_client(server: &TestServer, token: &str, realm: &str) -> Value {
    let (status, list, _) = call(
        server,
        "GET",
        &format!("/admin/realms/master/clients?clientId={realm}-realm"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].clone()
}

async fn create_realm(server: &TestServer, token: &str, name: &str) {
    let (status, body, _) = call(
        server,
        "POST",
        "/admin/realms",
        Some(token),
        Some(json!({"realm": name, "enabled": true})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn status_of(server: &TestServer, token: &str, method: &str, path: &str) -> u16 {
    call(server, method, path, Some(token), None).await.0
}

/// Creates master user `name` with password `<name>-pw`; its id.
async fn master_user(server: &TestServer, token: &str, name: &str) -> String {
    let (status, body, headers) = call(
        server,
        "POST",
        "/admin/realms/master/users",
        Some(token),
        Some(json!({"username": name, "enabled": true,
                    "credentials": [{"type": "password", "value": format!("{name}-pw"), "temporary": false}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_realms_admin_client_is_listed_granted_protected_and_cleaned_up() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[]).await;
    let admin = admin_token(&server).await;
    create_realm(&server, &admin, "acme").await;
    create_realm(&server, &admin, "beta").await;

    // Listed by master's Admin API, as Keycloak's master has it.
    let acme = admin_client(&server, &admin, "acme").await;
    assert_eq!(acme["name"], "acme Realm");
    assert_eq!(acme["bearerOnly"], true);
    let acme_id = acme["id"].as_str().unwrap().to_string();
    let (status, got, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/master/clients/{acme_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!((status, &got["clientId"]), (200, &json!("acme-realm")));
    let (_, roles, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/master/clients/{acme_id}/roles"),
        Some(&admin),
        None,
    )
    .await;
    let roles = roles.as_array().unwrap().clone();
    assert_eq!(roles.len(), 18, "{roles:?}");
    let role = |name: &str| {
        roles
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {roles:?}"))
            .clone()
    };
    let (_, composites, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/master/clients/{acme_id}/roles/view-users/composites"),
        Some(&admin),
        None,
    )
    .await;
    let mut names: Vec<&str> = composites
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["query-groups", "query-users"]);

    // A master user who holds acme-realm's roles administers acme, and only acme.
    let ops_id = master_user(&server, &admin, "ops").await;
    let mappings = format!("/admin/realms/master/users/{ops_id}/role-mappings/clients/{acme_id}");
    let (status, body, _) = call(
        &server,
        "POST",
        &mappings,
        Some(&admin),
        Some(json!([role("view-users"), role("manage-users")])),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, all, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/master/users/{ops_id}/role-mappings"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(all["clientMappings"]["acme-realm"]["id"], json!(acme_id));
    let ops = admin_cli_token(&server, "master", "ops", "ops-pw").await;
    assert_eq!(
        status_of(&server, &ops, "GET", "/admin/realms/acme/users").await,
        200
    );
    assert_eq!(
        status_of(&server, &ops, "GET", "/admin/realms/beta/users").await,
        403
    );
    assert_eq!(
        status_of(&server, &ops, "GET", "/admin/realms/acme/clients").await,
        403
    );

    // The admin client is the server's: changes, deletion and its name are refused.
    let mut changed = acme.clone();
    changed["description"] = json!("mine now");
    let (status, body, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/master/clients/{acme_id}"),
        Some(&admin),
        Some(changed),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("admin client of realm acme"),
        "{body}"
    );
    let (status, body, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/master/clients/{acme_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body, _) = call(
        &server,
        "POST",
        &format!("/admin/realms/master/clients/{acme_id}/roles"),
        Some(&admin),
        Some(json!({"name": "extra"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/realms/master/clients",
        Some(&admin),
        Some(json!({"clientId": "zeta-realm"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("reserved"), "{body}");
    assert_eq!(
        admin_client(&server, &admin, "acme").await,
        acme,
        "unchanged"
    );

    // Deleting acme takes ops's mappings to acme-realm with it: a new acme is not ops's.
    assert_eq!(
        status_of(&server, &admin, "DELETE", "/admin/realms/acme").await,
        204
    );
    let (_, all, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/master/users/{ops_id}/role-mappings"),
        Some(&admin),
        None,
    )
    .await;
    assert!(
        all.get("clientMappings")
            .is_none_or(|m| m.get("acme-realm").is_none()),
        "{all}"
    );
    create_realm(&server, &admin, "acme").await;
    let ops = admin_cli_token(&server, "master", "ops", "ops-pw").await;
    assert_eq!(
        status_of(&server, &ops, "GET", "/admin/realms/acme/users").await,
        403
    );
    let new_acme = admin_client(&server, &admin, "acme").await;
    assert_ne!(
        new_acme["id"],
        json!(acme_id),
        "a new realm, a new admin client"
    );

    // Master's export lists them as Keycloak's does.
    drop(server);
    let master = data.export("master");
    let clients: Vec<&str> = master["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clientId"].as_str().unwrap())
        .collect();
    assert!(
        clients.contains(&"acme-realm") && clients.contains(&"beta-realm"),
        "{clients:?}"
    );
    assert!(
        master["roles"]["client"]["beta-realm"]
            .as_array()
            .unwrap()
            .len()
            == 18
    );
}

/// A Keycloak export of master lists every realm's admin client: it imports, and a master user
/// mapped to one of their roles administers that realm.
#[tokio::test]
async fn a_keycloak_master_file_with_admin_clients_imports() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let tenant = json!({"realm": "tenant", "users": [{"username": "someone", "enabled": true}]});
    let master = json!({
        "realm": "master",
        "clients": [{"clientId": "tenant-realm", "name": "tenant Realm", "bearerOnly": true,
                     "attributes": {"realm_client": "true"}}],
        "roles": {"client": {"tenant-realm": [{"name": "view-users", "composite": true,
                    "composites": {"client": {"tenant-realm": ["query-users", "query-groups"]}}},
                    {"name": "query-users"}, {"name": "query-groups"}]}},
        "users": [{"username": "admin", "enabled": true,
                   "credentials": [{"type": "password", "value": "admin"}],
                   "realmRoles": ["admin"]},
                  {"username": "viewer", "enabled": true,
                   "credentials": [{"type": "password", "value": "viewer-pw"}],
                   "clientRoles": {"tenant-realm": ["view-users"]}}]
    });
    // As `kc.sh import` would, into an empty store (a running server's --import-realm
    // skips master, which it bootstrapped).
    for (name, realm) in [("master", &master), ("tenant", &tenant)] {
        let file = data.dir.path().join(format!("{name}.json"));
        std::fs::write(&file, realm.to_string()).unwrap();
        let out = data.cli("import", &["--file", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let viewer = admin_cli_token(&server, "master", "viewer", "viewer-pw").await;
    let (status, users, _) = call(
        &server,
        "GET",
        "/admin/realms/tenant/users",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users[0]["username"], "someone");
    assert_eq!(
        status_of(&server, &viewer, "PUT", "/admin/realms/tenant").await,
        403
    );
    let admin = admin_token(&server).await;
    let listed = admin_client(&server, &admin, "tenant").await;
    assert_eq!(listed["name"], "tenant Realm");
    // The file's copy was taken out: the listed one is the server's, with all 18 roles, and
    // master's other clients can be changed.
    let (_, roles, _) = call(
        &server,
        "GET",
        &format!(
            "/admin/realms/master/clients/{}/roles",
            listed["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(roles.as_array().unwrap().len(), 18, "{roles}");
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/realms/master/clients",
        Some(&admin),
        Some(json!({"clientId": "tool"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// `grantPermissionsToRealmCreator`: a master user with `create-realm` only administers the
/// realms it creates (every admin role but `impersonation`), and no other realm.
#[tokio::test]
async fn a_creator_without_admin_administers_the_realm_it_created() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[]).await;
    let admin = admin_token(&server).await;
    create_realm(&server, &admin, "other").await;
    let maker_id = master_user(&server, &admin, "maker").await;
    let (_, role, _) = call(
        &server,
        "GET",
        "/admin/realms/master/roles/create-realm",
        Some(&admin),
        None,
    )
    .await;
    let (status, body, _) = call(
        &server,
        "POST",
        &format!("/admin/realms/master/users/{maker_id}/role-mappings/realm"),
        Some(&admin),
        Some(json!([role])),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    let maker = admin_cli_token(&server, "master", "maker", "maker-pw").await;
    create_realm(&server, &maker, "made").await;
    // The new realm's admin roles, on the creator's own mappings.
    let made = admin_client(&server, &admin, "made").await;
    let (_, held, _) = call(
        &server,
        "GET",
        &format!(
            "/admin/realms/master/users/{maker_id}/role-mappings/clients/{}",
            made["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    let mut names: Vec<&str> = held
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 17, "{names:?}");
    assert!(names.contains(&"manage-realm") && !names.contains(&"impersonation"));
    // So the creator manages it (roles are read at every call: the same token works) ...
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/realms/made/users",
        Some(&maker),
        Some(json!({"username": "first", "enabled": true})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        status_of(&server, &maker, "GET", "/admin/realms/made/users").await,
        200
    );
    // ... and nothing else.
    assert_eq!(
        status_of(&server, &maker, "GET", "/admin/realms/other/users").await,
        403
    );
    assert_eq!(
        status_of(&server, &maker, "GET", "/admin/realms/master/users").await,
        403
    );
    // The administrator (master `admin`) gets no mappings: its role covers every realm.
    let (_, admins, _) = call(
        &server,
        "GET",
        "/admin/realms/master/users?username=admin&exact=true",
        Some(&admin),
        None,
    )
    .await;
    let admin_id = admins[0]["id"].as_str().unwrap();
    let (_, mappings, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/master/users/{admin_id}/role-mappings"),
        Some(&admin),
        None,
    )
    .await;
    assert!(mappings.get("clientMappings").is_none(), "{mappings}");
}
