//! Admin REST API through HTTP: permission boundaries between realms for every resource
//! family, Keycloak's error bodies, all-or-nothing writes, and a change on one node seen by a
//! second node sharing PostgreSQL. (python-keycloak and @keycloak/keycloak-admin-client cover
//! the resources themselves in `compat/`.)

use serde_json::{json, Value};

use crate::support::*;

fn tenant(name: &str) -> Value {
    json!({
        "realm": name,
        "enabled": true,
        "passwordPolicy": "length(10)",
        "roles": {"realm": [{"name": "member"}]},
        "groups": [{"name": "staff"}],
        "clients": [{"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true}],
        "users": [
            {"username": "boss", "enabled": true, "email": "boss@example.com", "firstName": "B", "lastName": "Oss",
             "credentials": [{"type": "password", "value": "boss-password"}],
             "clientRoles": {"realm-management": ["realm-admin"]}},
            {"username": "viewer", "enabled": true, "email": "viewer@example.com", "firstName": "V", "lastName": "Iewer",
             "credentials": [{"type": "password", "value": "viewer-password"}],
             "clientRoles": {"realm-management": ["view-users"]}},
            {"username": "manager", "enabled": true, "email": "manager@example.com", "firstName": "M", "lastName": "Anager",
             "credentials": [{"type": "password", "value": "manager-password"}],
             "clientRoles": {"realm-management": ["manage-users"]}},
            {"username": "nobody", "enabled": true, "email": "nobody@example.com", "firstName": "N", "lastName": "Obody",
             "credentials": [{"type": "password", "value": "nobody-password"}]}
        ]
    })
}

/// A server with the `tenant` realms named, and the master administrator's token.
async fn tenants(names: &[&str]) -> (Data, TestServer, String) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let realms: Vec<Value> = names.iter().map(|n| tenant(n)).collect();
    let s = start_with(&data, &realms).await;
    let master = admin_token(&s).await;
    (data, s, master)
}

/// The id of the first element that a GET of `path` lists.
async fn first_id(s: &TestServer, token: &str, path: &str) -> String {
    let (status, list, _) = call(s, "GET", path, Some(token), None).await;
    assert_eq!(status, 200, "{path}: {list}");
    list[0]["id"].as_str().unwrap().to_string()
}

/// Read paths of every resource family of a realm.
fn family_paths(realm: &str, client_uuid: &str, user_id: &str, group_id: &str) -> Vec<String> {
    vec![
        format!("/admin/realms/{realm}"),
        format!("/admin/realms/{realm}/users"),
        format!("/admin/realms/{realm}/users/count"),
        format!("/admin/realms/{realm}/users/{user_id}"),
        format!("/admin/realms/{realm}/users/{user_id}/role-mappings"),
        format!("/admin/realms/{realm}/clients"),
        format!("/admin/realms/{realm}/clients/{client_uuid}"),
        format!("/admin/realms/{realm}/clients/{client_uuid}/client-secret"),
        format!("/admin/realms/{realm}/roles"),
        format!("/admin/realms/{realm}/roles/member"),
        format!("/admin/realms/{realm}/groups"),
        format!("/admin/realms/{realm}/groups/{group_id}"),
        format!("/admin/realms/{realm}/client-scopes"),
        format!("/admin/realms/{realm}/default-default-client-scopes"),
        format!("/admin/realms/{realm}/clients-initial-access"),
        format!("/admin/realms/{realm}/keys"),
    ]
}

/// Every resource family of its own realm is open to a realm admin; the other realm's are
/// closed, for reading and writing, and its realm list shows only its own realm.
#[tokio::test]
async fn a_realm_admin_cannot_reach_another_realm() {
    let (data, s, master) = tenants(&["tenant-a", "tenant-b"]).await;
    let boss_a = admin_cli_token(&s, "tenant-a", "boss", "boss-password").await;

    // Ids in both realms, looked up by the master admin.
    let mut ids = Vec::new();
    for realm in ["tenant-a", "tenant-b"] {
        let (_, clients, _) = call(
            &s,
            "GET",
            &format!("/admin/realms/{realm}/clients?clientId=app"),
            Some(&master),
            None,
        )
        .await;
        let (_, users, _) = call(
            &s,
            "GET",
            &format!("/admin/realms/{realm}/users?username=boss&exact=true"),
            Some(&master),
            None,
        )
        .await;
        let (_, groups, _) = call(
            &s,
            "GET",
            &format!("/admin/realms/{realm}/groups"),
            Some(&master),
            None,
        )
        .await;
        ids.push((
            clients[0]["id"].as_str().unwrap().to_string(),
            users[0]["id"].as_str().unwrap().to_string(),
            groups[0]["id"].as_str().unwrap().to_string(),
        ));
    }
    let (ca, ua, ga) = &ids[0];
    let (cb, ub, gb) = &ids[1];

    for path in family_paths("tenant-a", ca, ua, ga) {
        let (status, body, _) = call(&s, "GET", &path, Some(&boss_a), None).await;
        assert_eq!(status, 200, "own realm {path}: {body}");
    }
    for path in family_paths("tenant-b", cb, ub, gb) {
        let (status, body, _) = call(&s, "GET", &path, Some(&boss_a), None).await;
        assert_eq!(status, 403, "other realm {path}: {body}");
        assert_eq!(body["error"], "HTTP 403 Forbidden", "{path}");
    }
    // Writes to the other realm are refused, and nothing changes there.
    let writes = [
        (
            "POST",
            "/admin/realms/tenant-b/users".to_string(),
            Some(json!({"username": "intruder"})),
        ),
        (
            "PUT",
            format!("/admin/realms/tenant-b/users/{ub}"),
            Some(json!({"firstName": "Hacked"})),
        ),
        ("DELETE", format!("/admin/realms/tenant-b/users/{ub}"), None),
        (
            "POST",
            "/admin/realms/tenant-b/clients".to_string(),
            Some(json!({"clientId": "evil"})),
        ),
        (
            "POST",
            format!("/admin/realms/tenant-b/clients/{cb}/client-secret"),
            None,
        ),
        (
            "DELETE",
            format!("/admin/realms/tenant-b/groups/{gb}"),
            None,
        ),
        (
            "POST",
            "/admin/realms/tenant-b/roles".to_string(),
            Some(json!({"name": "evil"})),
        ),
        (
            "PUT",
            "/admin/realms/tenant-b".to_string(),
            Some(json!({"enabled": false})),
        ),
        ("DELETE", "/admin/realms/tenant-b".to_string(), None),
        (
            "POST",
            "/admin/realms".to_string(),
            Some(json!({"realm": "evil"})),
        ),
    ];
    for (method, path, body) in writes {
        let (status, resp, _) = call(&s, method, &path, Some(&boss_a), body).await;
        assert_eq!(status, 403, "{method} {path}: {resp}");
    }
    let (_, user_b, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/tenant-b/users/{ub}"),
        Some(&master),
        None,
    )
    .await;
    assert_eq!(user_b["firstName"], "B");
    let (_, secret_b, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/tenant-b/clients/{cb}/client-secret"),
        Some(&master),
        None,
    )
    .await;
    assert_eq!(secret_b["value"], "app-secret");
    let (_, realms, _) = call(&s, "GET", "/admin/realms", Some(&boss_a), None).await;
    let names: Vec<&str> = realms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["realm"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tenant-a"], "a realm admin lists only its realm");

    data.cleanup().await;
}

#[tokio::test]
async fn narrower_roles_and_callers_without_roles_are_refused() {
    let (data, s, master) = tenants(&["tenant-a"]).await;
    let ua = first_id(
        &s,
        &master,
        "/admin/realms/tenant-a/users?username=boss&exact=true",
    )
    .await;
    // Narrower roles: view-users reads users but cannot change them or see clients.
    let viewer = admin_cli_token(&s, "tenant-a", "viewer", "viewer-password").await;
    assert_eq!(
        call(
            &s,
            "GET",
            "/admin/realms/tenant-a/users",
            Some(&viewer),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &s,
            "PUT",
            &format!("/admin/realms/tenant-a/users/{ua}"),
            Some(&viewer),
            Some(json!({"firstName": "x"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/admin/realms/tenant-a/clients",
            Some(&viewer),
            None
        )
        .await
        .0,
        403
    );
    let nobody = admin_cli_token(&s, "tenant-a", "nobody", "nobody-password").await;
    assert_eq!(
        call(
            &s,
            "GET",
            "/admin/realms/tenant-a/users",
            Some(&nobody),
            None
        )
        .await
        .0,
        403
    );
    // A caller that may see no realm gets 403 for the realm list, as in Keycloak (not `[]`):
    // a tenant user without roles, and a master user without roles.
    assert_eq!(
        call(&s, "GET", "/admin/realms", Some(&nobody), None)
            .await
            .0,
        403
    );
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/master/users",
        Some(&master),
        Some(json!({"username": "plain", "firstName": "Plain", "lastName": "Tester", "email": "plain@example.com", "enabled": true,
            "credentials": [{"type": "password", "value": "plain-password", "temporary": false}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let plain = admin_cli_token(&s, "master", "plain", "plain-password").await;
    assert_eq!(
        call(&s, "GET", "/admin/realms", Some(&plain), None).await.0,
        403
    );
    let (status, realms, _) = call(&s, "GET", "/admin/realms", Some(&viewer), None).await;
    assert_eq!(status, 200, "{realms}");
    assert_eq!(realms.as_array().map(Vec::len), Some(1), "{realms}");
    data.cleanup().await;
}

#[tokio::test]
async fn manage_users_cannot_grant_administrative_roles() {
    let (data, s, master) = tenants(&["tenant-a"]).await;
    // manage-users may map ordinary roles, but not administrative roles it does not hold.
    let manager = admin_cli_token(&s, "tenant-a", "manager", "manager-password").await;
    let (_, me, _) = call(
        &s,
        "GET",
        "/admin/realms/tenant-a/users?username=manager&exact=true",
        Some(&master),
        None,
    )
    .await;
    let me = me[0]["id"].as_str().unwrap().to_string();
    let (_, member, _) = call(
        &s,
        "GET",
        "/admin/realms/tenant-a/roles/member",
        Some(&manager),
        None,
    )
    .await;
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("/admin/realms/tenant-a/users/{me}/role-mappings/realm"),
        Some(&manager),
        Some(json!([member])),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, rm, _) = call(
        &s,
        "GET",
        "/admin/realms/tenant-a/clients?clientId=realm-management",
        Some(&master),
        None,
    )
    .await;
    let rm_id = rm[0]["id"].as_str().unwrap().to_string();
    let (_, admin_role, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/tenant-a/clients/{rm_id}/roles/realm-admin"),
        Some(&master),
        None,
    )
    .await;
    let (status, _, _) = call(
        &s,
        "POST",
        &format!("/admin/realms/tenant-a/users/{me}/role-mappings/clients/{rm_id}"),
        Some(&manager),
        Some(json!([admin_role.clone()])),
    )
    .await;
    assert_eq!(status, 403, "manage-users must not grant realm-admin");
    let (status, _, _) = call(
        &s,
        "POST",
        "/admin/realms/tenant-a/roles/member/composites",
        Some(&manager),
        Some(json!([admin_role])),
    )
    .await;
    assert_eq!(status, 403, "nor smuggle it in through a composite");
    // ... nor through a group created with role mappings in its body (they are ignored).
    let (status, _, headers) = call(
        &s,
        "POST",
        "/admin/realms/tenant-a/groups",
        Some(&manager),
        Some(json!({"name": "sneaky", "clientRoles": {"realm-management": ["realm-admin"]}})),
    )
    .await;
    assert_eq!(status, 201);
    let gid = headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        call(
            &s,
            "PUT",
            &format!("/admin/realms/tenant-a/users/{me}/groups/{gid}"),
            Some(&manager),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/admin/realms/tenant-a/clients",
            Some(&manager),
            None
        )
        .await
        .0,
        403,
        "still no realm-admin"
    );
    let (_, mine, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/tenant-a/users/{me}/role-mappings/clients/{rm_id}"),
        Some(&master),
        None,
    )
    .await;
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "still only manage-users: {mine}"
    );
    data.cleanup().await;
}

#[tokio::test]
async fn missing_and_forged_tokens_are_unauthorized() {
    let (data, s, _master) = tenants(&["tenant-a"]).await;
    let boss_a = admin_cli_token(&s, "tenant-a", "boss", "boss-password").await;
    // No token, a forged one, one of a realm that does not exist: 401.
    let (status, _, headers) = call(&s, "GET", "/admin/realms/tenant-a/users", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let mut forged = boss_a.clone();
    forged.pop();
    assert_eq!(
        call(
            &s,
            "GET",
            "/admin/realms/tenant-a/users",
            Some(&forged),
            None
        )
        .await
        .0,
        401
    );
    data.cleanup().await;
}

#[tokio::test]
async fn a_revoked_admin_role_stops_working_at_once() {
    let (data, s, master) = tenants(&["tenant-a"]).await;
    let boss_a = admin_cli_token(&s, "tenant-a", "boss", "boss-password").await;
    // A revoked role stops working at once (roles are read live, not from the token).
    let (_, boss, _) = call(
        &s,
        "GET",
        "/admin/realms/tenant-a/users?username=boss&exact=true",
        Some(&master),
        None,
    )
    .await;
    let boss_id = boss[0]["id"].as_str().unwrap();
    let (_, rm, _) = call(
        &s,
        "GET",
        "/admin/realms/tenant-a/clients?clientId=realm-management",
        Some(&master),
        None,
    )
    .await;
    let rm_id = rm[0]["id"].as_str().unwrap();
    let (_, roles, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/tenant-a/users/{boss_id}/role-mappings/clients/{rm_id}"),
        Some(&master),
        None,
    )
    .await;
    let (status, body, _) = call(
        &s,
        "DELETE",
        &format!("/admin/realms/tenant-a/users/{boss_id}/role-mappings/clients/{rm_id}"),
        Some(&master),
        Some(roles),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        call(
            &s,
            "GET",
            "/admin/realms/tenant-a/users",
            Some(&boss_a),
            None
        )
        .await
        .0,
        403
    );
    data.cleanup().await;
}

#[tokio::test]
async fn error_bodies_and_all_or_nothing_writes() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[tenant("errs")]).await;
    let t = admin_token(&s).await;
    let t = Some(t.as_str());

    // Keycloak's bodies.
    let (status, body, _) = call(&s, "GET", "/admin/realms/none/users", t, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("Realm not found."))
    );
    let (status, body, _) = call(&s, "GET", "/admin/realms/errs/users/nope", t, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("User not found"))
    );
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/clients",
        t,
        Some(json!({"clientId": "app"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (409, json!({"errorMessage": "Client app already exists"}))
    );
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/users",
        t,
        Some(json!({"username": "BOSS"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"errorMessage": "User exists with same username"})
        )
    );
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/roles",
        t,
        Some(json!({"name": "member"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"errorMessage": "Role with name member already exists"})
        )
    );
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/groups",
        t,
        Some(json!({"name": "staff"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"errorMessage": "Top level group named 'staff' already exists."})
        )
    );
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/users",
        t,
        Some(json!({"username": 5})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errorMessage"].as_str().unwrap().contains("username"),
        "{body}"
    );

    // A create that fails leaves nothing behind.
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/clients",
        t,
        Some(json!({"clientId": "bad", "redirectUris": ["not a uri"]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("redirectUris"),
        "{body}"
    );
    let (_, list, _) = call(
        &s,
        "GET",
        "/admin/realms/errs/clients?clientId=bad",
        t,
        None,
    )
    .await;
    assert_eq!(list, json!([]));
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/users",
        t,
        Some(json!({"username": "weak", "firstName": "Weak", "lastName": "Tester", "email": "weak@example.com", "credentials": [{"type": "password", "value": "short"}]})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "invalidPasswordMinLengthMessage", "error_description": "Invalid password: minimum length 10."})
        )
    );
    let (_, count, _) = call(
        &s,
        "GET",
        "/admin/realms/errs/users/count?username=weak",
        t,
        None,
    )
    .await;
    assert_eq!(count, json!(0));
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms",
        t,
        Some(
            json!({"realm": "half", "users": [{"username": "u", "realmRoles": ["missing-role"]}]}),
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(call(&s, "GET", "/admin/realms/half", t, None).await.0, 404);
    // A partial import that fails (FAIL on an existing user) writes none of its other parts.
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/partialImport",
        t,
        Some(json!({
            "ifResourceExists": "FAIL",
            "clients": [{"clientId": "new-one"}],
            "users": [{"username": "boss"}]
        })),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (_, list, _) = call(
        &s,
        "GET",
        "/admin/realms/errs/clients?clientId=new-one",
        t,
        None,
    )
    .await;
    assert_eq!(list, json!([]));
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/partialImport",
        t,
        Some(json!({
            "ifResourceExists": "SKIP",
            "clients": [{"clientId": "new-one"}],
            "users": [{"username": "boss"}, {"username": "fresh", "enabled": true}]
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["added"].as_u64(), body["skipped"].as_u64()),
        (Some(2), Some(1)),
        "{body}"
    );

    // Secrets are masked in a partial export.
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/errs/partial-export?exportClients=true",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let app = body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == "app")
        .unwrap();
    assert_eq!(app["secret"], "**********");
    assert!(body.get("users").is_none());
    data.cleanup().await;
}

#[tokio::test]
async fn a_change_on_one_node_reaches_the_other_through_postgres() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    std::fs::write(
        data.import_dir().join("r.json"),
        tenant("shared").to_string(),
    )
    .unwrap();
    let args = ["--import-realm", "--hostname", "http://portcullis.test"];
    let one = TestServer::start(&data, "start-dev", &args, &[]).unwrap();
    let two = TestServer::start(&data, "start-dev", &args, &[]).unwrap();
    let t = admin_token(&one).await;
    let (status, body, headers) = call(
        &one,
        "POST",
        "/admin/realms/shared/clients",
        Some(&t),
        Some(json!({"clientId": "late", "secret": "late-secret", "serviceAccountsEnabled": true})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(headers["location"]
        .to_str()
        .unwrap()
        .contains("/admin/realms/shared/clients/"));
    // The second node hears of the change (the realm table's notification) and reads that
    // realm again; wait for it, generously.
    let started = std::time::Instant::now();
    let mut seen = false;
    while started.elapsed() < std::time::Duration::from_secs(10) {
        let (status, _, _) = post_form(
            &two.url("/realms/shared/protocol/openid-connect/token"),
            Some(("late", "late-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        if status == 200 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "node two never saw the new client");
    eprintln!("node two saw the change after {:?}", started.elapsed());
    // A token issued by node one administers through node two (same issuer).
    let (status, list, _) = call(
        &two,
        "GET",
        "/admin/realms/shared/clients?clientId=late",
        Some(&t),
        None,
    )
    .await;
    assert_eq!((status, list[0]["clientId"].as_str()), (200, Some("late")));

    // A realm created on node one is served by node two, and gone there once deleted.
    let (status, body, _) = call(
        &one,
        "POST",
        "/admin/realms",
        Some(&t),
        Some(json!({"realm": "fresh", "enabled": true})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Node one uses it first, so its keys exist (generated at first use) before node two looks.
    let (status, _) = get_json(&one.url("/realms/fresh/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    let discovery = two.url("/realms/fresh/.well-known/openid-configuration");
    let served = |want: u16| {
        let url = discovery.clone();
        async move {
            let started = std::time::Instant::now();
            while started.elapsed() < std::time::Duration::from_secs(10) {
                if get_json(&url).await.0 == want {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            None
        }
    };
    let after = served(200).await.expect("node two serves the new realm");
    eprintln!("node two served the new realm after {after:?}");
    let (status, _, _) = call(&one, "DELETE", "/admin/realms/fresh", Some(&t), None).await;
    assert_eq!(status, 204);
    let after = served(404)
        .await
        .expect("node two forgets the deleted realm");
    eprintln!("node two dropped the deleted realm after {after:?}");
    data.cleanup().await;
}

async fn active(s: &TestServer, realm: &str, token: &str) -> bool {
    let (status, body, _) = post_form(
        &s.url(&format!(
            "/realms/{realm}/protocol/openid-connect/token/introspect"
        )),
        Some(("app", "app-secret")),
        &[("token", token)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["active"].as_bool().unwrap()
}

async fn user_token(s: &TestServer, realm: &str) -> String {
    let (status, body) = password_grant(
        s,
        realm,
        "app",
        Some("app-secret"),
        "boss",
        "boss-password",
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn rotating_the_signing_key_through_components() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[tenant("rot")]).await;
    let t = admin_token(&s).await;
    let t = Some(t.as_str());
    let old_token = user_token(&s, "rot").await;
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    let (_, keys, _) = call(&s, "GET", "/admin/realms/rot/keys", t, None).await;
    assert_eq!(keys["active"]["RS256"], old_kid.as_str());
    let old_component = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old_kid.as_str())
        .unwrap()["providerId"]
        .as_str()
        .unwrap()
        .to_string();

    // A new generated RSA key with a higher priority takes over signing.
    let (_, realm, _) = call(&s, "GET", "/admin/realms/rot", t, None).await;
    let (status, body, headers) = call(&s, "POST", "/admin/realms/rot/components", t, Some(json!({
        "name": "rsa-rotated", "providerId": "rsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
        "parentId": realm["id"], "config": {"priority": ["200"]}
    }))).await;
    assert_eq!(status, 201, "{body}");
    let new_component = headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (_, listed, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/rot/components/{new_component}"),
        t,
        None,
    )
    .await;
    assert_eq!(
        listed["config"]["privateKey"],
        json!(["**********"]),
        "private keys are never shown"
    );
    let new_token = user_token(&s, "rot").await;
    let new_kid = jsonwebtoken::decode_header(&new_token)
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(new_kid, old_kid);
    let (_, certs) =
        crate::support::get_json(&s.url("/realms/rot/protocol/openid-connect/certs")).await;
    let kids: Vec<&str> = certs["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    assert!(
        active(&s, "rot", &old_token).await,
        "tokens of the old key stay valid"
    );

    // Passive: verifies, no longer signs.
    let (status, body, _) = call(
        &s,
        "PUT",
        &format!("/admin/realms/rot/components/{old_component}"),
        t,
        Some(json!({"config": {"active": ["false"], "privateKey": ["**********"]}})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, keys, _) = call(&s, "GET", "/admin/realms/rot/keys", t, None).await;
    let old = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old_kid.as_str())
        .unwrap();
    assert_eq!(old["status"], "PASSIVE");
    assert!(active(&s, "rot", &old_token).await);

    // Removed: the old key's tokens stop working; the new key's still work.
    let (status, _, _) = call(
        &s,
        "DELETE",
        &format!("/admin/realms/rot/components/{old_component}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(!active(&s, "rot", &old_token).await);
    assert!(active(&s, "rot", &new_token).await);
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/rot/components",
        t,
        Some(json!({"providerId": "nonsense", "providerType": "org.keycloak.keys.KeyProvider"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    data.cleanup().await;
}

#[tokio::test]
async fn sessions_logout_and_example_token() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(&data, &[tenant("ses")]).await;
    let t = admin_token(&s).await;
    let t = Some(t.as_str());
    let user_access = user_token(&s, "ses").await;
    let (_, boss, _) = call(
        &s,
        "GET",
        "/admin/realms/ses/users?username=boss&exact=True",
        t,
        None,
    )
    .await;
    assert_eq!(
        boss.as_array().unwrap().len(),
        1,
        "python-keycloak's True parses: {boss}"
    );
    let boss_id = boss[0]["id"].as_str().unwrap().to_string();
    let (status, sessions, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/ses/users/{boss_id}/sessions"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions[0]["username"], "boss");
    // `clients` maps the client's id (UUID) to its clientId, as Keycloak's representation.
    let client_uuid = |client_id: &'static str| {
        let s = &s;
        async move {
            let (_, list, _) = call(
                s,
                "GET",
                &format!("/admin/realms/ses/clients?clientId={client_id}"),
                t,
                None,
            )
            .await;
            list[0]["id"].as_str().unwrap().to_string()
        }
    };
    let app = client_uuid("app").await;
    assert_eq!(sessions[0]["clients"], json!({ app.clone(): "app" }));
    // Offline sessions are listed per client: the one holding `app`, none for another client.
    // (Imported users hold no default roles, as in Keycloak: offline_access is granted here.)
    let (_, offline_role, _) =
        call(&s, "GET", "/admin/realms/ses/roles/offline_access", t, None).await;
    let (status, body, _) = call(
        &s,
        "POST",
        &format!("/admin/realms/ses/users/{boss_id}/role-mappings/realm"),
        t,
        Some(json!([offline_role])),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body, _) = post_form(
        &s.url("/realms/ses/protocol/openid-connect/token"),
        Some(("app", "app-secret")),
        &[
            ("grant_type", "password"),
            ("username", "boss"),
            ("password", "boss-password"),
            ("scope", "offline_access"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["refresh_expires_in"],
        json!(0),
        "an offline token: {body}"
    );
    let (status, offline, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/ses/users/{boss_id}/offline-sessions/{app}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{offline}");
    assert_eq!(offline.as_array().map(Vec::len), Some(1), "{offline}");
    assert_eq!(offline[0]["clients"], json!({ app.clone(): "app" }));
    let admin_cli = client_uuid("admin-cli").await;
    let (_, none, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/ses/users/{boss_id}/offline-sessions/{admin_cli}"),
        t,
        None,
    )
    .await;
    assert_eq!(none, json!([]));
    assert!(active(&s, "ses", &user_access).await);
    let (status, _, _) = call(
        &s,
        "POST",
        &format!("/admin/realms/ses/users/{boss_id}/logout"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, sessions, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/ses/users/{boss_id}/sessions"),
        t,
        None,
    )
    .await;
    assert_eq!(sessions, json!([]));
    assert!(
        !active(&s, "ses", &user_access).await,
        "logout ends the session's tokens"
    );

    // The claims a client would get for a user, without issuing anything.
    let (_, app, _) = call(&s, "GET", "/admin/realms/ses/clients?clientId=app", t, None).await;
    let app_id = app[0]["id"].as_str().unwrap();
    let (status, claims, _) = call(&s, "GET", &format!("/admin/realms/ses/clients/{app_id}/evaluate-scopes/generate-example-access-token?userId={boss_id}&scope=openid"), t, None).await;
    assert_eq!(status, 200, "{claims}");
    assert_eq!(claims["preferred_username"], "boss");
    assert_eq!(claims["azp"], "app");
    assert!(claims["scope"].as_str().unwrap().contains("openid"));
    let (_, sessions, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/ses/users/{boss_id}/sessions"),
        t,
        None,
    )
    .await;
    assert_eq!(sessions, json!([]), "no session was created");
    data.cleanup().await;
}

#[tokio::test]
async fn search_pages_and_client_composites_sqlite() {
    search_pages_and_client_composites(Backend::Sqlite).await;
}

#[tokio::test]
async fn search_pages_and_client_composites_postgres() {
    search_pages_and_client_composites(Backend::Postgres).await;
}

async fn search_pages_and_client_composites(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let mut realm = tenant("pages");
    let users = realm["users"].as_array_mut().unwrap();
    for i in (1..=30).rev() {
        users.push(json!({"username": format!("ann{i:02}"), "enabled": i != 7, "email": format!("x{i:02}@ann.test"), "lastName": "Zed"}));
    }
    realm["clients"]
        .as_array_mut()
        .unwrap()
        .push(json!({"clientId": "ann-robot", "secret": "s", "serviceAccountsEnabled": true}));
    realm["roles"]["realm"] =
        json!([{"name": "member", "composites": {"client": {"app": ["app-read"]}}}]);
    realm["roles"]["client"] = json!({"app": [{"name": "app-read"}]});
    let s = start_with(&data, &[realm]).await;
    let t = admin_token(&s).await;
    let t = Some(t.as_str());
    let names = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (_, page, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/users?search=ann&first=0&max=10",
        t,
        None,
    )
    .await;
    assert_eq!(
        names(&page),
        (1..=10).map(|i| format!("ann{i:02}")).collect::<Vec<_>>()
    );
    let (_, page, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/users?search=ann&first=25&max=10",
        t,
        None,
    )
    .await;
    assert_eq!(
        names(&page),
        (26..=30).map(|i| format!("ann{i:02}")).collect::<Vec<_>>()
    );
    // The service account `service-account-ann-robot` matches the prefix but is left out.
    let (_, count, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/users/count?search=ann",
        t,
        None,
    )
    .await;
    assert_eq!(count, json!(30));
    let (_, page, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/users?search=x0&max=3",
        t,
        None,
    )
    .await;
    assert_eq!(
        names(&page),
        ["ann01", "ann02", "ann03"],
        "e-mail prefix, ordered by user name"
    );
    let (_, page, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/users?search=ann&enabled=false",
        t,
        None,
    )
    .await;
    assert_eq!(names(&page), ["ann07"]);
    let (_, page, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/users?search=zed&max=2",
        t,
        None,
    )
    .await;
    assert_eq!(names(&page), ["ann01", "ann02"], "last-name prefix");
    let (_, page, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/users?search=ann%20zed&max=50",
        t,
        None,
    )
    .await;
    assert_eq!(
        page.as_array().unwrap().len(),
        30,
        "words must all match: 'ann' (user name) and 'zed' (last name)"
    );

    let (_, app, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/clients?clientId=app",
        t,
        None,
    )
    .await;
    let app_id = app[0]["id"].as_str().unwrap();
    let (status, roles, _) = call(
        &s,
        "GET",
        &format!("/admin/realms/pages/roles/member/composites/clients/{app_id}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{roles}");
    assert_eq!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["app-read"]
    );
    let (_, realm_only, _) = call(
        &s,
        "GET",
        "/admin/realms/pages/roles/member/composites/realm",
        t,
        None,
    )
    .await;
    assert_eq!(realm_only, json!([]));
    data.cleanup().await;
}
