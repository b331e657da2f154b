//! Fine-grained admin permissions (Keycloak 26.2+'s FGAP v2) over HTTP: a realm switches them
//! on, its `admin-permissions` client takes a permission on group `music`, and the group's
//! delegated administrator then reads and changes music's members and nobody else, through
//! every user endpoint it has; what the schema refuses is refused. A realm imported switched on
//! has the client from the start.

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "label";

fn realm() -> Value {
    let user = |u: &str, groups: &[&str]| {
        json!({"username": u, "email": format!("{u}@label.example"), "firstName": u, "lastName": "Tester",
               "enabled": true, "groups": groups,
               "credentials": [{"type": "password", "value": format!("{u}-pw")}]})
    };
    let mut admin = user("music-admin", &[]);
    admin["clientRoles"] = json!({"realm-management": ["query-users"]});
    json!({
        "realm": REALM,
        "groups": [{"name": "music", "subGroups": [{"name": "strings"}]}, {"name": "film"}],
        "users": [user("alice", &["/music"]), user("bob", &["/music/strings"]),
                  user("carol", &["/film"]), user("dave", &[]), admin]
    })
}

async fn ids(server: &TestServer, token: &str) -> (Value, Value) {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{REALM}/users?max=-1"),
        Some(token),
        None,
    )
    .await;
    let (_, groups, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{REALM}/groups"),
        Some(token),
        None,
    )
    .await;
    let by_name = |list: &Value, key: &str| -> Value {
        let mut m = serde_json::Map::new();
        for x in list.as_array().unwrap() {
            m.insert(x[key].as_str().unwrap().to_string(), x["id"].clone());
        }
        Value::Object(m)
    };
    (by_name(&users, "username"), by_name(&groups, "name"))
}

fn names(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_group_admin_manages_the_groups_members_and_nobody_else() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let admin = admin_token(&server).await;
    let (users, groups) = ids(&server, &admin).await;
    let uid = |n: &str| users[n].as_str().unwrap().to_string();
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let users_path = format!("/admin/realms/{REALM}/users");
    let get = |path: String| {
        let (server, delegate) = (&server, delegate.clone());
        async move { call(server, "GET", &path, Some(&delegate), None).await }
    };

    // Before: `query-users` lists (every user, briefly, as without permissions) but reads
    // and changes no one.
    let (s, _, _) = get(format!("{users_path}/{}", uid("alice"))).await;
    assert_eq!(s, 403);

    // Switching on creates the admin-permissions client, linked from the realm.
    let (s, body, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}"),
        Some(&admin),
        Some(json!({"adminPermissionsEnabled": true})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (_, rep, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(rep["adminPermissionsEnabled"], true);
    assert_eq!(
        rep["adminPermissionsClient"]["clientId"],
        "admin-permissions"
    );
    let apc = rep["adminPermissionsClient"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rs = format!("/admin/realms/{REALM}/clients/{apc}/authz/resource-server");
    let (_, resources, _) = call(
        &server,
        "GET",
        &format!("{rs}/resource"),
        Some(&admin),
        None,
    )
    .await;
    let mut types: Vec<&str> = resources
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["Clients", "Groups", "Organizations", "Roles", "Users"]
    );
    // Its resources and scopes are the schema's: none is created by hand.
    for (path, body) in [
        ("resource", json!({"name": "extra"})),
        ("scope", json!({"name": "extra"})),
    ] {
        let (s, answer, _) = call(
            &server,
            "POST",
            &format!("{rs}/{path}"),
            Some(&admin),
            Some(body),
        )
        .await;
        assert_eq!(
            (s, answer["errorMessage"].as_str()),
            (400, Some("Not supported for this client.")),
            "{path}"
        );
    }
    // The server shows the schema it follows.
    let (_, server_rep, _) = call(&server, "GET", &rs, Some(&admin), None).await;
    let schema = &server_rep["authorizationSchema"]["resourceTypes"];
    assert_eq!(
        schema["Users"]["scopeAliases"]["view"],
        json!(["view-members"])
    );
    assert_eq!(schema["Users"]["groupType"], "Groups");
    assert_eq!(
        schema["Roles"]["scopes"],
        json!(["map-role", "map-role-client-scope", "map-role-composite"])
    );
    // Switching on again (any realm update) keeps the one client.
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}"),
        Some(&admin),
        Some(json!({"adminPermissionsEnabled": true, "displayName": "Label"})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, clients, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId=admin-permissions"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(clients.as_array().unwrap().len(), 1);
    let (s, body, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/{REALM}/clients/{apc}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        (s, body["errorMessage"].as_str()),
        (400, Some("Not supported for this client."))
    );

    // What the schema refuses, each with its message, and nothing written.
    let music = groups["music"].as_str().unwrap().to_string();
    let (s, _, _) = call(
        &server,
        "POST",
        &format!("{rs}/policy/user"),
        Some(&admin),
        Some(json!({"name": "music-admins", "users": [uid("music-admin")]})),
    )
    .await;
    assert_eq!(s, 201);
    let refused = [
        (
            json!({"name": "x", "resourceType": "Groups", "resources": [music], "scopes": ["view-members"], "policies": ["music-admins"]}),
            "permission/resource",
            "Policy type not supported by feature",
        ),
        (
            json!({"name": "x", "resources": [music], "scopes": ["view-members"], "policies": ["music-admins"]}),
            "permission/scope",
            "Resource type not provided.",
        ),
        (
            json!({"name": "x", "resourceType": "Groups", "resources": [music], "policies": ["music-admins"]}),
            "permission/scope",
            "Scopes not provided.",
        ),
        (
            json!({"name": "x", "resourceType": "Groups", "resources": [music], "scopes": ["map-roles"], "policies": ["music-admins"]}),
            "permission/scope",
            "Scope map-roles was not found for resource type Groups.",
        ),
        (
            json!({"name": "x", "resourceType": "Groups", "resources": [music], "scopes": ["write"], "policies": ["music-admins"]}),
            "permission/scope",
            "Scope [write] does not exist.",
        ),
        (
            json!({"name": "x", "resourceType": "Groups", "resources": ["no-such-group"], "scopes": ["view-members"], "policies": ["music-admins"]}),
            "permission/scope",
            "Resource [no-such-group] does not exist for type [Groups]",
        ),
    ];
    for (body, path, message) in refused {
        let (s, answer, _) = call(
            &server,
            "POST",
            &format!("{rs}/{path}"),
            Some(&admin),
            Some(body),
        )
        .await;
        assert_eq!(s, 400, "{path}: {answer}");
        assert!(answer.to_string().contains(message), "{answer}");
    }
    let (_, perms, _) = call(
        &server,
        "GET",
        &format!("{rs}/permission"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(perms, json!([]));

    // The permission: music's members, to view and manage, for the music admin.
    let (s, body, _) = call(
        &server,
        "POST",
        &format!("{rs}/permission/scope"),
        Some(&admin),
        Some(
            json!({"name": "music members", "resourceType": "Groups", "resources": [music],
                    "scopes": ["view-members", "manage-members"], "policies": ["music-admins"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{body}");

    // The evaluation tool answers as the Admin API decides: alice (music) may be viewed and
    // managed by the music admin, carol (film) not; it needs a resource type.
    let evaluate = |body: Value| {
        let (server, admin, rs) = (&server, admin.clone(), rs.clone());
        async move {
            call(
                server,
                "POST",
                &format!("{rs}/policy/evaluate"),
                Some(&admin),
                Some(body),
            )
            .await
        }
    };
    let ask = |user: &str| {
        json!({"resourceType": "Users", "userId": uid("music-admin"),
               "resources": [{"name": uid(user)}], "entitlements": false,
               "context": {"attributes": {}}})
    };
    let (s, answer, _) = evaluate(ask("alice")).await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(answer["status"], "PERMIT", "{answer}");
    let allowed: Vec<&str> = answer["results"][0]["allowedScopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        allowed.contains(&"view") && allowed.contains(&"manage"),
        "{answer}"
    );
    assert!(!allowed.contains(&"impersonate"), "{answer}");
    assert_eq!(
        answer["results"][0]["policies"][0]["policy"]["name"],
        "music members"
    );
    let (_, answer, _) = evaluate(ask("carol")).await;
    assert_eq!(answer["status"], "DENY", "{answer}");
    let mut no_type = ask("alice");
    no_type.as_object_mut().unwrap().remove("resourceType");
    let (s, answer, _) = evaluate(no_type).await;
    assert_eq!(
        (s, answer["error_description"].as_str()),
        (400, Some("No resource type provided"))
    );

    // Lists and counts hold music's members (bob through the subgroup) and no one else.
    let (s, list, _) = get(users_path.clone()).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(names(&list), ["alice", "bob"]);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["access"] == json!({"manage": true})));
    let (_, list, _) = get(format!("{users_path}?search=carol")).await;
    assert_eq!(list, json!([]));
    let (_, list, _) = get(format!("{users_path}?first=1&max=5")).await;
    assert_eq!(names(&list), ["bob"]);
    let (_, count, _) = get(format!("{users_path}/count")).await;
    assert_eq!(count, 2);

    // One user: a member is read (with what the caller may do), anyone else is 403, an
    // unknown id 404.
    let (s, alice, _) = get(format!("{users_path}/{}", uid("alice"))).await;
    assert_eq!(s, 200);
    assert_eq!(alice["access"]["view"], true);
    assert_eq!(alice["access"]["manage"], true);
    assert_eq!(alice["access"]["mapRoles"], false);
    assert_eq!(alice["access"]["impersonate"], false);
    for other in ["carol", "dave", "music-admin"] {
        let (s, _, _) = get(format!("{users_path}/{}", uid(other))).await;
        assert_eq!(s, 403, "{other}");
    }
    let (s, _, _) = get(format!("{users_path}/00000000-0000-0000-0000-000000000000")).await;
    assert_eq!(s, 404);

    // Changes: music's members only; a refused change writes nothing.
    for (who, status) in [("bob", 204), ("carol", 403), ("music-admin", 403)] {
        let (s, _, _) = call(
            &server,
            "PUT",
            &format!("{users_path}/{}", uid(who)),
            Some(&delegate),
            Some(json!({"firstName": "Changed"})),
        )
        .await;
        assert_eq!(s, status, "{who}");
        let (_, rep, _) = call(
            &server,
            "GET",
            &format!("{users_path}/{}", uid(who)),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(rep["firstName"] == "Changed", status == 204, "{who}");
    }
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("{users_path}/{}", uid("carol")),
        Some(&delegate),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("{users_path}/{}", uid("alice")),
        Some(&delegate),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = call(
        &server,
        "GET",
        &format!("{users_path}/{}", uid("alice")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 404);

    // The user's sub-resources follow: reading needs `view`, changing `manage`.
    for (who, status) in [("bob", 200), ("carol", 403)] {
        for sub in ["credentials", "sessions", "federated-identity", "consents"] {
            let (s, _, _) = get(format!("{users_path}/{}/{sub}", uid(who))).await;
            assert_eq!(s, status, "{who} {sub}");
        }
    }
    for (who, status) in [("bob", 204), ("carol", 403)] {
        let (s, body, _) = call(
            &server,
            "PUT",
            &format!("{users_path}/{}/reset-password", uid(who)),
            Some(&delegate),
            Some(json!({"type": "password", "value": "a-new-pw-1", "temporary": false})),
        )
        .await;
        assert_eq!(s, status, "{who}: {body}");
        let (s, _, _) = call(
            &server,
            "POST",
            &format!("{users_path}/{}/logout", uid(who)),
            Some(&delegate),
            None,
        )
        .await;
        assert_eq!(s, status, "{who}");
    }
    // Only bob's password changed.
    let (s, _) = password_grant(&server, REALM, "admin-cli", None, "bob", "a-new-pw-1", &[]).await;
    assert_eq!(s, 200);
    let (s, _) = password_grant(&server, REALM, "admin-cli", None, "carol", "carol-pw", &[]).await;
    assert_eq!(s, 200);
    // Reading a member's groups and role mappings is viewing the member.
    for (who, status) in [("bob", 200), ("carol", 403)] {
        let (s, _, _) = get(format!("{users_path}/{}/groups", uid(who))).await;
        assert_eq!(s, status, "{who}");
        let (s, _, _) = get(format!("{users_path}/{}/role-mappings", uid(who))).await;
        assert_eq!(s, status, "{who}");
    }

    // Switched off: the permissions stay but no longer count.
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}"),
        Some(&admin),
        Some(json!({"adminPermissionsEnabled": false})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = get(format!("{users_path}/{}", uid("bob"))).await;
    assert_eq!(s, 403);
    let (_, perms, _) = call(
        &server,
        "GET",
        &format!("{rs}/permission"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(perms.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn scopes_are_independent_and_a_permission_of_another_admin_denies() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    // Imported switched on: the import creates the client.
    r["adminPermissionsEnabled"] = json!(true);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let (users, _) = ids(&server, &admin).await;
    let uid = |n: &str| users[n].as_str().unwrap().to_string();
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}"),
        Some(&admin),
        Some(json!({"adminPermissionsEnabled": true})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, rep, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}"),
        Some(&admin),
        None,
    )
    .await;
    let (_, clients, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId=admin-permissions"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(clients.as_array().unwrap().len(), 1);
    assert_eq!(clients[0]["id"], rep["adminPermissionsClient"]["id"]);
    let rs = format!(
        "/admin/realms/{REALM}/clients/{}/authz/resource-server",
        rep["adminPermissionsClient"]["id"].as_str().unwrap()
    );
    for (name, who) in [("delegate", "music-admin"), ("someone-else", "dave")] {
        let (s, _, _) = call(
            &server,
            "POST",
            &format!("{rs}/policy/user"),
            Some(&admin),
            Some(json!({"name": name, "users": [uid(who)]})),
        )
        .await;
        assert_eq!(s, 201);
    }
    // `manage` of every user, by username: no `view` comes with it.
    let (s, body, _) = call(&server, "POST", &format!("{rs}/permission/scope"), Some(&admin),
        Some(json!({"name": "manage all", "resourceType": "Users", "scopes": ["manage"], "policies": ["delegate"]}))).await;
    assert_eq!(s, 201, "{body}");
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let carol = format!("/admin/realms/{REALM}/users/{}", uid("carol"));
    let (s, _, _) = call(&server, "GET", &carol, Some(&delegate), None).await;
    assert_eq!(s, 403);
    let (s, _, _) = call(
        &server,
        "PUT",
        &carol,
        Some(&delegate),
        Some(json!({"lastName": "M"})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, list, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users"),
        Some(&delegate),
        None,
    )
    .await;
    assert_eq!(list, json!([]));
    // A permission bound to carol whose policy names someone else is a denial for the
    // delegate: carol alone can no longer be changed.
    let (s, _, _) = call(&server, "POST", &format!("{rs}/permission/scope"), Some(&admin),
        Some(json!({"name": "carol for dave", "resourceType": "Users", "resources": ["carol"], "scopes": ["manage"], "policies": ["someone-else"]}))).await;
    assert_eq!(s, 201);
    let (s, _, _) = call(
        &server,
        "PUT",
        &carol,
        Some(&delegate),
        Some(json!({"lastName": "N"})),
    )
    .await;
    assert_eq!(s, 403);
    let bob = format!("/admin/realms/{REALM}/users/{}", uid("bob"));
    let (s, _, _) = call(
        &server,
        "PUT",
        &bob,
        Some(&delegate),
        Some(json!({"lastName": "N"})),
    )
    .await;
    assert_eq!(s, 204);
    // A master administrator keeps its roles' rights whatever the permissions say.
    let (s, _, _) = call(
        &server,
        "PUT",
        &carol,
        Some(&admin),
        Some(json!({"lastName": "O"})),
    )
    .await;
    assert_eq!(s, 204);
}

/// Groups and membership through permissions (`GroupPermissionsV2`, `UserResource.joinGroup`):
/// the music admin reads music (not film), lists music's members, moves users in and out of
/// music only with `manage-group-membership` of the user *and* `manage-membership` of the
/// group, and reads a user's groups with `view` of that user; `view` of all users stands in
/// for `query-users` (`UserPermissionsV2.canQuery`).
#[tokio::test]
async fn a_group_admin_reads_its_group_and_moves_members_in_and_out() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["adminPermissionsEnabled"] = json!(true);
    // This delegate holds no Admin API role at all.
    r["users"][4]["clientRoles"] = json!({});
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let (users, groups) = ids(&server, &admin).await;
    let uid = |n: &str| users[n].as_str().unwrap().to_string();
    let gid = |n: &str| groups[n].as_str().unwrap().to_string();
    let rs = admin_permissions_server(&server, &admin, REALM).await;
    let post = |body: Value| write_permission(&server, &admin, &rs, body);
    post(json!({"name": "delegate", "users": [uid("music-admin")]})).await;
    post(
        json!({"name": "music", "resourceType": "Groups", "resources": [gid("music")],
        "scopes": ["view", "view-members", "manage-membership"], "policies": ["delegate"]}),
    )
    .await;
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let base = format!("/admin/realms/{REALM}");
    let status = |method: &'static str, path: String| {
        let (server, delegate) = (&server, delegate.clone());
        async move { call(server, method, &path, Some(&delegate), None).await }
    };

    // No `query-groups` and no `view` of all groups: no group list.
    assert_eq!(status("GET", format!("{base}/groups")).await.0, 403);
    assert_eq!(status("GET", format!("{base}/groups/count")).await.0, 403);
    // Nor may it probe paths: an unknown one is 403 too.
    assert_eq!(
        status("GET", format!("{base}/group-by-path/nowhere"))
            .await
            .0,
        403
    );
    assert_eq!(
        status("GET", format!("{base}/group-by-path/music")).await.0,
        200
    );

    // The group: music yes, film no, an unknown id 404 before any check.
    let (s, g, _) = status("GET", format!("{base}/groups/{}", gid("music"))).await;
    assert_eq!((s, g["name"].as_str()), (200, Some("music")), "{g}");
    assert_eq!(
        status("GET", format!("{base}/groups/{}", gid("film")))
            .await
            .0,
        403
    );
    let (s, body, _) = status("GET", format!("{base}/groups/no-such-group")).await;
    assert_eq!(s, 404, "{body}");
    // `view` does not give `manage`.
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("{base}/groups/{}", gid("music")),
        Some(&delegate),
        Some(json!({"name": "music", "attributes": {"x": ["y"]}})),
    )
    .await;
    assert_eq!(s, 403);

    // The members: music's (direct: alice), not film's.
    let (s, members, _) = status("GET", format!("{base}/groups/{}/members", gid("music"))).await;
    assert_eq!(s, 200, "{members}");
    assert_eq!(names(&members), ["alice"]);
    assert_eq!(
        status("GET", format!("{base}/groups/{}/members", gid("film")))
            .await
            .0,
        403
    );
    // A member's groups (view of alice comes from music's view-members); carol's are not.
    let (s, list, _) = status("GET", format!("{base}/users/{}/groups", uid("alice"))).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["path"], "/music");
    assert_eq!(
        status("GET", format!("{base}/users/{}/groups", uid("carol")))
            .await
            .0,
        403
    );

    // Adding dave to music needs manage-group-membership of dave too: refused, unchanged.
    let join = |user: String, group: String, method: &'static str| {
        let (server, delegate) = (&server, delegate.clone());
        async move {
            call(
                server,
                method,
                &format!("/admin/realms/{REALM}/users/{user}/groups/{group}"),
                Some(&delegate),
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(join(uid("dave"), gid("music"), "PUT").await, 403);
    post(json!({"name": "memberships", "resourceType": "Users",
        "scopes": ["manage-group-membership"], "policies": ["delegate"]}))
    .await;
    // Now music yes, film no (no manage-membership there), an unknown group 404.
    assert_eq!(join(uid("dave"), gid("film"), "PUT").await, 403);
    assert_eq!(join(uid("dave"), "no-such".into(), "PUT").await, 404);
    assert_eq!(join(uid("dave"), gid("music"), "PUT").await, 204);
    let (_, members, _) = call(
        &server,
        "GET",
        &format!("{base}/groups/{}/members", gid("music")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(names(&members), ["alice", "dave"]);
    let (_, film, _) = call(
        &server,
        "GET",
        &format!("{base}/groups/{}/members", gid("film")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(names(&film), ["carol"]);
    // Out of film: refused; out of music: done.
    assert_eq!(join(uid("carol"), gid("film"), "DELETE").await, 403);
    assert_eq!(join(uid("dave"), gid("music"), "DELETE").await, 204);
    let (_, members, _) = call(
        &server,
        "GET",
        &format!("{base}/groups/{}/members", gid("music")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(names(&members), ["alice"]);

    // A new user into music: needs manage-members and manage-membership of every group it
    // joins; without groups, or into film too, refused and nothing created.
    let create = |body: Value| {
        let (server, delegate) = (&server, delegate.clone());
        async move {
            call(
                server,
                "POST",
                &format!("/admin/realms/{REALM}/users"),
                Some(&delegate),
                Some(body),
            )
            .await
            .0
        }
    };
    let newcomer = json!({"username": "erin", "enabled": true, "groups": ["/music"]});
    assert_eq!(create(newcomer.clone()).await, 403, "no manage-members yet");
    post(json!({"name": "music members", "resourceType": "Groups",
        "resources": [gid("music")], "scopes": ["manage-members"], "policies": ["delegate"]}))
    .await;
    assert_eq!(
        create(json!({"username": "erin", "enabled": true})).await,
        403
    );
    assert_eq!(
        create(json!({"username": "erin", "enabled": true, "groups": ["/music", "/film"]})).await,
        403
    );
    let (_, none, _) = call(
        &server,
        "GET",
        &format!("{base}/users?username=erin&exact=true"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(none, json!([]));
    assert_eq!(create(newcomer).await, 201);
    let (_, members, _) = call(
        &server,
        "GET",
        &format!("{base}/groups/{}/members", gid("music")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(names(&members), ["alice", "erin"]);

    // Listing users: no query-users role, so 403 ...
    assert_eq!(status("GET", format!("{base}/users")).await.0, 403);
    assert_eq!(status("GET", format!("{base}/users/count")).await.0, 403);
    // ... until `view` of all users stands in for it: every user, in full.
    post(json!({"name": "view all", "resourceType": "Users", "scopes": ["view"], "policies": ["delegate"]}),
    )
    .await;
    let (s, list, _) = status("GET", format!("{base}/users")).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(
        names(&list),
        ["alice", "bob", "carol", "dave", "erin", "music-admin"]
    );
    let (_, full, _) = call(&server, "GET", &format!("{base}/users"), Some(&admin), None).await;
    assert_eq!(
        list, full,
        "the representation an administrator with view-users gets"
    );
    let (s, n, _) = status("GET", format!("{base}/users/count")).await;
    assert_eq!((s, n), (200, json!(6)));
}

/// Role mappings through permissions (`UserPermissionsV2.canMapRoles`, `RolePermissionsV2
/// .canMapRole`): `map-roles` of the user lets the request in, and each role must be mappable
/// by `map-role` of the role, or `map-roles` of its client; administrative roles never are.
#[tokio::test]
async fn a_delegate_maps_only_the_roles_it_may_map_to_users_it_may_map() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["adminPermissionsEnabled"] = json!(true);
    r["users"][4]["clientRoles"] = json!({});
    r["roles"] = json!({"realm": [{"name": "reader"}, {"name": "boss"}],
                        "client": {"app": [{"name": "editor"}]}});
    r["clients"] = json!([{"clientId": "app", "publicClient": true}]);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let (users, _) = ids(&server, &admin).await;
    let uid = |n: &str| users[n].as_str().unwrap().to_string();
    let base = format!("/admin/realms/{REALM}");
    let get = |path: String| {
        let (server, admin) = (&server, admin.clone());
        async move { call(server, "GET", &path, Some(&admin), None).await.1 }
    };
    let rep = get(base.clone()).await;
    let rs = format!(
        "{base}/clients/{}/authz/resource-server",
        rep["adminPermissionsClient"]["id"].as_str().unwrap()
    );
    let reader = get(format!("{base}/roles/reader")).await;
    let reader_id = reader["id"].as_str().unwrap().to_string();
    let boss = get(format!("{base}/roles/boss")).await;
    let app = get(format!("{base}/clients?clientId=app")).await[0].clone();
    let app_id = app["id"].as_str().unwrap().to_string();
    let editor = get(format!("{base}/clients/{app_id}/roles/editor")).await;
    let rm_client = get(format!("{base}/clients?clientId=realm-management")).await[0].clone();
    let rm_id = rm_client["id"].as_str().unwrap().to_string();
    let view_users = get(format!("{base}/clients/{rm_id}/roles/view-users")).await;
    let post = |body: Value| write_permission(&server, &admin, &rs, body);
    post(json!({"name": "delegate", "users": [uid("music-admin")]})).await;
    post(json!({"name": "reader", "resourceType": "Roles",
        "resources": [reader["id"]], "scopes": ["map-role"], "policies": ["delegate"]}))
    .await;
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let map = |method: &'static str, path: String, roles: Value| {
        let (server, delegate) = (&server, delegate.clone());
        async move {
            call(server, method, &path, Some(&delegate), Some(roles))
                .await
                .0
        }
    };
    let alice_realm = format!("{base}/users/{}/role-mappings/realm", uid("alice"));
    let realm_roles_of_alice = || {
        let (server, admin, path) = (&server, admin.clone(), alice_realm.clone());
        async move {
            let (_, list, _) = call(server, "GET", &path, Some(&admin), None).await;
            let mut names: Vec<String> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .filter(|n| !n.starts_with("default-roles"))
                .collect();
            names.sort();
            names
        }
    };

    // No map-roles of alice yet: refused, even for a role it may map.
    assert_eq!(
        map("POST", alice_realm.clone(), json!([reader.clone()])).await,
        403
    );
    post(json!({"name": "map users", "resourceType": "Users",
        "scopes": ["map-roles"], "policies": ["delegate"]}))
    .await;
    assert_eq!(
        map("POST", alice_realm.clone(), json!([reader.clone()])).await,
        204
    );
    assert_eq!(realm_roles_of_alice().await, ["reader"]);
    // A role without map-role, alone or with one it may map: refused, nothing changed.
    assert_eq!(
        map("POST", alice_realm.clone(), json!([boss.clone()])).await,
        403
    );
    assert_eq!(
        map(
            "POST",
            alice_realm.clone(),
            json!([boss.clone(), reader.clone()])
        )
        .await,
        403
    );
    assert_eq!(realm_roles_of_alice().await, ["reader"]);
    // An administrative role: never, whatever the permissions.
    post(json!({"name": "rm roles", "resourceType": "Clients",
        "resources": [rm_id], "scopes": ["map-roles"], "policies": ["delegate"]}))
    .await;
    let alice_rm = format!(
        "{base}/users/{}/role-mappings/clients/{rm_id}",
        uid("alice")
    );
    assert_eq!(map("POST", alice_rm, json!([view_users])).await, 403);
    // A client's role: with map-roles of the client.
    let alice_app = format!(
        "{base}/users/{}/role-mappings/clients/{app_id}",
        uid("alice")
    );
    assert_eq!(
        map("POST", alice_app.clone(), json!([editor.clone()])).await,
        403
    );
    post(json!({"name": "app roles", "resourceType": "Clients",
        "resources": [app_id], "scopes": ["map-roles"], "policies": ["delegate"]}))
    .await;
    assert_eq!(map("POST", alice_app.clone(), json!([editor])).await, 204);
    let (_, held, _) = call(&server, "GET", &alice_app, Some(&admin), None).await;
    assert_eq!(held[0]["name"], "editor");
    // Removing asks the same: reader yes, boss (given by the administrator) no.
    let (s, _, _) = call(
        &server,
        "POST",
        &alice_realm,
        Some(&admin),
        Some(json!([boss.clone()])),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(map("DELETE", alice_realm.clone(), json!([boss])).await, 403);
    assert_eq!(
        map("DELETE", alice_realm.clone(), json!([reader.clone()])).await,
        204
    );
    assert_eq!(realm_roles_of_alice().await, ["boss"]);

    // A group's mappings: manage of the group lets the change in, the roles are checked the
    // same way; film (no permission) stays as it was.
    let (_, groups) = ids(&server, &admin).await;
    let music_realm = format!(
        "{base}/groups/{}/role-mappings/realm",
        groups["music"].as_str().unwrap()
    );
    assert_eq!(
        map("POST", music_realm.clone(), json!([reader.clone()])).await,
        403
    );
    post(json!({"name": "music group", "resourceType": "Groups",
        "resources": [groups["music"]], "scopes": ["manage"], "policies": ["delegate"]}))
    .await;
    assert_eq!(
        map("POST", music_realm.clone(), json!([boss.clone()])).await,
        403
    );
    assert_eq!(
        map("POST", music_realm.clone(), json!([reader.clone()])).await,
        204
    );
    let (_, held, _) = call(&server, "GET", &music_realm, Some(&admin), None).await;
    assert_eq!(held[0]["name"], "reader", "{held}");
    let film_realm = format!(
        "{base}/groups/{}/role-mappings/realm",
        groups["film"].as_str().unwrap()
    );
    assert_eq!(map("POST", film_realm.clone(), json!([reader])).await, 403);
    let (_, held, _) = call(&server, "GET", &film_realm, Some(&admin), None).await;
    assert_eq!(held, json!([]));

    // Deleted objects leave the permissions (`removeResourceObject`): a permission bound to
    // the object alone goes, one bound to others too loses it.
    post(json!({"name": "alice only", "resourceType": "Users",
        "resources": [uid("alice")], "scopes": ["view"], "policies": ["delegate"]}))
    .await;
    post(json!({"name": "alice and bob", "resourceType": "Users",
        "resources": [uid("alice"), uid("bob")], "scopes": ["view"], "policies": ["delegate"]}))
    .await;
    for path in [
        format!("{base}/users/{}", uid("alice")),
        format!("{base}/groups/{}", groups["music"].as_str().unwrap()),
        format!("{base}/roles/boss"),
        format!("{base}/roles-by-id/{}", reader_id),
        format!("{base}/clients/{app_id}"),
    ] {
        let (s, _, _) = call(&server, "DELETE", &path, Some(&admin), None).await;
        assert_eq!(s, 204, "{path}");
    }
    let perms = get(format!("{rs}/permission")).await;
    let mut names: Vec<&str> = perms
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alice and bob", "map users", "rm roles"]);
    let kept = perms
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "alice and bob")
        .unwrap();
    let resources = get(format!(
        "{rs}/policy/{}/resources",
        kept["id"].as_str().unwrap()
    ))
    .await;
    let left: Vec<&str> = resources
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(left, [uid("bob")], "{resources}");
}

#[tokio::test]
async fn a_client_admin_reads_and_changes_its_client_and_no_other() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["adminPermissionsEnabled"] = json!(true);
    r["users"][4]["clientRoles"] = json!({"realm-management": ["query-clients"]});
    r["clients"] = json!([
        {"clientId": "music-app", "secret": "music-secret", "publicClient": false},
        {"clientId": "film-app", "secret": "film-secret", "publicClient": false},
    ]);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let base = format!("/admin/realms/{REALM}");
    let (users, _) = ids(&server, &admin).await;
    let as_admin = |method: &'static str, path: String, body: Option<Value>| {
        let (server, admin) = (&server, admin.clone());
        async move { call(server, method, &path, Some(&admin), body).await }
    };
    let rs = admin_permissions_server(&server, &admin, REALM).await;
    let client_id = |name: &'static str| {
        let as_admin = &as_admin;
        let base = base.clone();
        async move {
            let list = as_admin("GET", format!("{base}/clients?clientId={name}"), None)
                .await
                .1;
            list[0]["id"].as_str().unwrap().to_string()
        }
    };
    let (music, film) = (client_id("music-app").await, client_id("film-app").await);
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let as_delegate = |method: &'static str, path: String, body: Option<Value>| {
        let (server, delegate) = (&server, delegate.clone());
        async move {
            let (s, b, _) = call(server, method, &path, Some(&delegate), body).await;
            (s, b)
        }
    };
    let listed = |list: &Value| -> Vec<String> {
        let mut v: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["clientId"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };

    // `query-clients` alone lists no client (Keycloak 26 lists only what one may view) and
    // reads none.
    let (s, list) = as_delegate("GET", format!("{base}/clients"), None).await;
    assert_eq!((s, list), (200, json!([])));
    let (s, _) = as_delegate("GET", format!("{base}/clients/{music}"), None).await;
    assert_eq!(s, 403);

    // A permission on music-app (named by its clientId) to view and manage it.
    let permit = |body: Value| write_permission(&server, &admin, &rs, body);
    permit(json!({"name": "delegate", "users": [users["music-admin"]]})).await;
    permit(
        json!({"name": "music-app", "resourceType": "Clients", "resources": ["music-app"],
                  "scopes": ["view", "manage"], "policies": ["delegate"]}),
    )
    .await;

    // The list holds music-app only, with what the delegate may do with it.
    let (s, list) = as_delegate("GET", format!("{base}/clients"), None).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(listed(&list), ["music-app"]);
    assert_eq!(
        list[0]["access"],
        json!({"view": true, "configure": true, "manage": true})
    );
    let (_, list) = as_delegate("GET", format!("{base}/clients?clientId=film-app"), None).await;
    assert_eq!(list, json!([]));

    // music-app: read, its secret read, changed; film-app: 403 on each; an unknown id 404
    // (the delegate may list clients), not 403.
    let (s, c) = as_delegate("GET", format!("{base}/clients/{music}"), None).await;
    assert_eq!((s, c["clientId"].as_str()), (200, Some("music-app")));
    let (s, secret) =
        as_delegate("GET", format!("{base}/clients/{music}/client-secret"), None).await;
    assert_eq!((s, secret["value"].as_str()), (200, Some("music-secret")));
    let (s, b) = as_delegate(
        "PUT",
        format!("{base}/clients/{music}"),
        Some(json!({"description": "Music's app"})),
    )
    .await;
    assert_eq!(s, 204, "{b}");
    let (_, c, _) = as_admin("GET", format!("{base}/clients/{music}"), None).await;
    assert_eq!(c["description"], "Music's app");
    for (method, path, body) in [
        ("GET", format!("{base}/clients/{film}"), None),
        ("GET", format!("{base}/clients/{film}/client-secret"), None),
        ("POST", format!("{base}/clients/{film}/client-secret"), None),
        (
            "PUT",
            format!("{base}/clients/{film}"),
            Some(json!({"description": "taken"})),
        ),
        ("DELETE", format!("{base}/clients/{film}"), None),
        (
            "POST",
            format!("{base}/clients"),
            Some(json!({"clientId": "new-app"})),
        ),
    ] {
        let (s, b) = as_delegate(method, path.clone(), body).await;
        assert_eq!(s, 403, "{method} {path}: {b}");
    }
    let (_, c, _) = as_admin("GET", format!("{base}/clients/{film}"), None).await;
    assert!(c.get("description").is_none(), "{c}");
    let (s, b) = as_delegate("GET", format!("{base}/clients/no-such-client"), None).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (404, Some("Could not find client"))
    );

    // `view` of all clients: every client listed and read, film-app without `manage`, and
    // still not changed.
    permit(
        json!({"name": "all clients", "resourceType": "Clients", "scopes": ["view"],
                  "policies": ["delegate"]}),
    )
    .await;
    let (_, list) = as_delegate("GET", format!("{base}/clients"), None).await;
    assert!(listed(&list).contains(&"film-app".to_string()), "{list}");
    let film_listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == "film-app")
        .unwrap();
    assert_eq!(
        film_listed["access"],
        json!({"view": true, "configure": false, "manage": false})
    );
    let (s, _) = as_delegate("GET", format!("{base}/clients/{film}"), None).await;
    assert_eq!(s, 200);
    let (s, _) = as_delegate(
        "PUT",
        format!("{base}/clients/{film}"),
        Some(json!({"description": "taken"})),
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn the_group_list_holds_the_groups_a_delegate_may_view() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["adminPermissionsEnabled"] = json!(true);
    r["users"][4]["clientRoles"] = json!({"realm-management": ["query-groups"]});
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let base = format!("/admin/realms/{REALM}");
    let (users, _) = ids(&server, &admin).await;
    let rs = admin_permissions_server(&server, &admin, REALM).await;
    let (_, strings, _) = call(
        &server,
        "GET",
        &format!("{base}/group-by-path/music/strings"),
        Some(&admin),
        None,
    )
    .await;
    let (_, film, _) = call(
        &server,
        "GET",
        &format!("{base}/group-by-path/film"),
        Some(&admin),
        None,
    )
    .await;
    let post = |body: Value| write_permission(&server, &admin, &rs, body);
    post(json!({"name": "delegate", "users": [users["music-admin"]]})).await;
    post(
        json!({"name": "two groups", "resourceType": "Groups", "resources": [film["id"], strings["id"]],
               "scopes": ["view"], "policies": ["delegate"]}))
    .await;
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let get = |path: String| {
        let (server, delegate) = (&server, delegate.clone());
        async move {
            let (s, b, _) = call(server, "GET", &path, Some(&delegate), None).await;
            assert_eq!(s, 200, "{path}: {b}");
            b
        }
    };
    let top = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    };

    // Top level: film, not music (only its subgroup may be viewed); a search finds strings
    // under its parent, which gives the path.
    assert_eq!(top(&get(format!("{base}/groups")).await), ["film"]);
    assert_eq!(get(format!("{base}/groups/count")).await["count"], 1);
    let found = get(format!("{base}/groups?search=str")).await;
    assert_eq!(top(&found), ["music"]);
    assert_eq!(found[0]["subGroups"][0]["name"], "strings");
    assert_eq!(get(format!("{base}/groups?search=music")).await, json!([]));
    // By path: strings yes, music no, an unknown path 404 first.
    assert_eq!(
        get(format!("{base}/group-by-path/music/strings")).await["id"],
        strings["id"]
    );
    for (path, status) in [("music", 403), ("nowhere", 404)] {
        let (s, _, _) = call(
            &server,
            "GET",
            &format!("{base}/group-by-path/{path}"),
            Some(&delegate),
            None,
        )
        .await;
        assert_eq!(s, status, "{path}");
    }

    // `view` of all groups: every group.
    post(
        json!({"name": "all groups", "resourceType": "Groups", "scopes": ["view"],
               "policies": ["delegate"]}),
    )
    .await;
    assert_eq!(top(&get(format!("{base}/groups")).await), ["film", "music"]);
    assert_eq!(get(format!("{base}/groups/count")).await["count"], 2);
}

#[tokio::test]
async fn a_client_admin_manages_its_clients_roles_and_composes_only_what_it_may() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["adminPermissionsEnabled"] = json!(true);
    r["users"][4]["clientRoles"] = json!({});
    r["roles"] = json!({"realm": [{"name": "reader"}],
                        "client": {"app": [{"name": "editor"}], "other": [{"name": "boss"}]}});
    r["clients"] = json!([{"clientId": "app", "publicClient": true},
                          {"clientId": "other", "publicClient": true}]);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let base = format!("/admin/realms/{REALM}");
    let (users, _) = ids(&server, &admin).await;
    let as_admin = |method: &'static str, path: String, body: Option<Value>| {
        let (server, admin) = (&server, admin.clone());
        async move { call(server, method, &path, Some(&admin), body).await.1 }
    };
    let rs = admin_permissions_server(&server, &admin, REALM).await;
    let client = |name: &'static str| {
        let (as_admin, base) = (&as_admin, base.clone());
        async move {
            as_admin("GET", format!("{base}/clients?clientId={name}"), None).await[0]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (app, other, rm) = (
        client("app").await,
        client("other").await,
        client("realm-management").await,
    );
    let editor = as_admin("GET", format!("{base}/clients/{app}/roles/editor"), None).await;
    let reader = as_admin("GET", format!("{base}/roles/reader"), None).await;
    let view_users = as_admin("GET", format!("{base}/clients/{rm}/roles/view-users"), None).await;
    let permit = |body: Value| write_permission(&server, &admin, &rs, body);
    permit(json!({"name": "delegate", "users": [users["music-admin"]]})).await;
    permit(
        json!({"name": "app", "resourceType": "Clients", "resources": [app],
                  "scopes": ["view", "manage"], "policies": ["delegate"]}),
    )
    .await;
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let send = |method: &'static str, path: String, body: Option<Value>| {
        let (server, delegate) = (&server, delegate.clone());
        async move {
            let (s, b, _) = call(server, method, &path, Some(&delegate), body).await;
            (s, b)
        }
    };

    // `manage` of app: its roles are created, changed and deleted; other's and the realm's
    // are not.
    let (s, b) = send(
        "POST",
        format!("{base}/clients/{app}/roles"),
        Some(json!({"name": "viewer"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = send(
        "PUT",
        format!("{base}/clients/{app}/roles/viewer"),
        Some(json!({"name": "viewer", "description": "reads"})),
    )
    .await;
    assert_eq!(s, 204, "{b}");
    for (method, path, body) in [
        (
            "POST",
            format!("{base}/clients/{other}/roles"),
            Some(json!({"name": "x"})),
        ),
        ("POST", format!("{base}/roles"), Some(json!({"name": "x"}))),
        (
            "PUT",
            format!("{base}/clients/{other}/roles/boss"),
            Some(json!({"name": "boss", "description": "taken"})),
        ),
        ("DELETE", format!("{base}/roles/reader"), None),
        (
            "DELETE",
            format!("{base}/roles-by-id/{}", reader["id"].as_str().unwrap()),
            None,
        ),
    ] {
        let (s, b) = send(method, path.clone(), body).await;
        assert_eq!(s, 403, "{method} {path}: {b}");
    }

    // Composites: each member needs `map-roles-composite` of its client or
    // `map-role-composite` of itself; an administrative role never.
    let compose = |members: Value| {
        let send = &send;
        let path = format!("{base}/clients/{app}/roles/viewer/composites");
        async move { send("POST", path, Some(members)).await.0 }
    };
    assert_eq!(compose(json!([editor])).await, 403);
    permit(
        json!({"name": "app composites", "resourceType": "Clients", "resources": [app],
                  "scopes": ["map-roles-composite"], "policies": ["delegate"]}),
    )
    .await;
    assert_eq!(compose(json!([editor])).await, 204);
    assert_eq!(compose(json!([reader])).await, 403);
    permit(
        json!({"name": "reader composite", "resourceType": "Roles", "resources": [reader["id"]],
                  "scopes": ["map-role-composite"], "policies": ["delegate"]}),
    )
    .await;
    assert_eq!(compose(json!([reader])).await, 204);
    permit(
        json!({"name": "view-users composite", "resourceType": "Roles",
                  "resources": [view_users["id"]], "scopes": ["map-role-composite"],
                  "policies": ["delegate"]}),
    )
    .await;
    assert_eq!(compose(json!([view_users])).await, 403);
    let composites = as_admin(
        "GET",
        format!("{base}/clients/{app}/roles/viewer/composites"),
        None,
    )
    .await;
    let mut got: Vec<&str> = composites
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ["editor", "reader"]);

    // Scope mappings: `manage` of the client, and each role `map-role-client-scope` (or
    // its client's `map-roles-client-scope`).
    let scope = |client: String| {
        let send = &send;
        let path = format!("{base}/clients/{client}/scope-mappings/realm");
        let reader = reader.clone();
        async move { send("POST", path, Some(json!([reader]))).await.0 }
    };
    assert_eq!(scope(app.clone()).await, 403);
    permit(
        json!({"name": "reader scope", "resourceType": "Roles", "resources": [reader["id"]],
                  "scopes": ["map-role-client-scope"], "policies": ["delegate"]}),
    )
    .await;
    assert_eq!(scope(other.clone()).await, 403);
    assert_eq!(scope(app.clone()).await, 204);
    let (s, mappings) = send("GET", format!("{base}/clients/{app}/scope-mappings"), None).await;
    assert_eq!(s, 200, "{mappings}");
    assert_eq!(mappings["realmMappings"][0]["name"], "reader");

    let (s, _) = send("DELETE", format!("{base}/clients/{app}/roles/viewer"), None).await;
    assert_eq!(s, 204);
    let (s, _, _) = call(
        &server,
        "GET",
        &format!("{base}/clients/{app}/roles/viewer"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn an_organization_admin_reads_and_changes_its_organization_and_no_other() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["adminPermissionsEnabled"] = json!(true);
    r["organizationsEnabled"] = json!(true);
    r["users"][4]["clientRoles"] = json!({});
    r["organizations"] = json!([
        {"name": "Music", "alias": "music", "domains": [{"name": "music.example"}],
         "members": [{"username": "alice"}]},
        {"name": "Film", "alias": "film", "domains": [{"name": "film.example"}],
         "members": [{"username": "carol"}]},
    ]);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let base = format!("/admin/realms/{REALM}");
    let orgs = format!("{base}/organizations");
    let (users, _) = ids(&server, &admin).await;
    let rs = admin_permissions_server(&server, &admin, REALM).await;
    let (_, all, _) = call(&server, "GET", &orgs, Some(&admin), None).await;
    let org_id = |alias: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|o| o["alias"] == alias)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (music, film) = (org_id("music"), org_id("film"));
    // The realm defines Keycloak 26.7's `query-organizations`; the delegate holds it.
    let (_, rm, _) = call(
        &server,
        "GET",
        &format!("{base}/clients?clientId=realm-management"),
        Some(&admin),
        None,
    )
    .await;
    let rm = rm[0]["id"].as_str().unwrap().to_string();
    let (s, b, _) = call(
        &server,
        "POST",
        &format!("{base}/clients/{rm}/roles"),
        Some(&admin),
        Some(json!({"name": "query-organizations"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (_, role, _) = call(
        &server,
        "GET",
        &format!("{base}/clients/{rm}/roles/query-organizations"),
        Some(&admin),
        None,
    )
    .await;
    let (s, b, _) = call(
        &server,
        "POST",
        &format!(
            "{base}/users/{}/role-mappings/clients/{rm}",
            users["music-admin"].as_str().unwrap()
        ),
        Some(&admin),
        Some(json!([role])),
    )
    .await;
    assert_eq!(s, 204, "{b}");
    let permit = |body: Value| write_permission(&server, &admin, &rs, body);
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    let send = |method: &'static str, path: String, body: Option<Value>| {
        let (server, delegate) = (&server, delegate.clone());
        async move {
            let (s, b, _) = call(server, method, &path, Some(&delegate), body).await;
            (s, b)
        }
    };
    let aliases = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|o| o["alias"].as_str().unwrap().to_string())
            .collect()
    };

    // `query-organizations` alone: the list and count hold nothing it may view.
    let (s, list) = send("GET", orgs.clone(), None).await;
    assert_eq!((s, list), (200, json!([])));
    assert_eq!(send("GET", format!("{orgs}/count"), None).await.1, 0);

    // `view` and `manage` of music.
    permit(json!({"name": "delegate", "users": [users["music-admin"]]})).await;
    permit(
        json!({"name": "music org", "resourceType": "Organizations", "resources": [music],
               "scopes": ["view", "manage"], "policies": ["delegate"]}),
    )
    .await;
    let (s, list) = send("GET", orgs.clone(), None).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(aliases(&list), ["music"]);
    assert_eq!(send("GET", format!("{orgs}/count"), None).await.1, 1);
    let (s, o) = send("GET", format!("{orgs}/{music}"), None).await;
    assert_eq!((s, o["alias"].as_str()), (200, Some("music")));
    let (s, members) = send("GET", format!("{orgs}/{music}/members"), None).await;
    assert_eq!(s, 200, "{members}");
    assert_eq!(names(&members), ["alice"]);
    let (s, b) = send(
        "POST",
        format!("{orgs}/{music}/members"),
        Some(json!(users["dave"])),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (_, members) = send("GET", format!("{orgs}/{music}/members"), None).await;
    assert_eq!(names(&members), ["alice", "dave"]);

    // film, a new organization, an unknown id: refused (404 for the unknown one, as the
    // delegate may list organizations).
    for (method, path, body) in [
        ("GET", format!("{orgs}/{film}"), None),
        ("GET", format!("{orgs}/{film}/members"), None),
        (
            "POST",
            format!("{orgs}/{film}/members"),
            Some(json!(users["dave"])),
        ),
        ("DELETE", format!("{orgs}/{film}"), None),
        (
            "POST",
            orgs.clone(),
            Some(json!({"name": "Books", "domains": [{"name": "books.example"}]})),
        ),
    ] {
        let (s, b) = send(method, path.clone(), body).await;
        assert_eq!(s, 403, "{method} {path}: {b}");
    }
    let (s, b) = send("GET", format!("{orgs}/no-such-org"), None).await;
    assert_eq!(
        (s, b["errorMessage"].as_str()),
        (404, Some("Organization not found."))
    );
    let (_, film_members, _) = call(
        &server,
        "GET",
        &format!("{orgs}/{film}/members"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(names(&film_members), ["carol"]);

    // The type's resource was made for the first permission on all organizations.
    permit(
        json!({"name": "all orgs", "resourceType": "Organizations", "scopes": ["view"],
               "policies": ["delegate"]}),
    )
    .await;
    let (_, list) = send("GET", orgs.clone(), None).await;
    assert_eq!(aliases(&list), ["film", "music"]);
    assert_eq!(send("GET", format!("{orgs}/{film}"), None).await.0, 200);
    assert_eq!(send("DELETE", format!("{orgs}/{film}"), None).await.0, 403);

    // Deleting music takes its permission along (it named music alone).
    let (s, _) = send("DELETE", format!("{orgs}/{music}"), None).await;
    assert_eq!(s, 204);
    let (_, perms, _) = call(
        &server,
        "GET",
        &format!("{rs}/permission"),
        Some(&admin),
        None,
    )
    .await;
    let left: Vec<&str> = perms
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["all orgs"]);
}
