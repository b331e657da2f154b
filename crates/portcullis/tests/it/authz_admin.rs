//! Authorization Services' Admin API over HTTP (`/admin/realms/{r}/clients/{id}/authz/
//! resource-server`), on SQLite and PostgreSQL: switching a client on (Keycloak's defaults,
//! service account, `uma_protection`) and off; resources, scopes, policies of every type and
//! permissions created, listed, searched, updated and deleted with Keycloak's status codes and
//! bodies; bad references, cycles, uploaded scripts and invalid dates refused; strict bodies;
//! the export form, `/import`, realm import and export round trips of Keycloak's own exports;
//! the seed's four JSON files imported through the API.

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "shop";

fn realm_json() -> Value {
    json!({
        "realm": REALM,
        "roles": {"realm": [{"name": "TENANT_ADMIN"}, {"name": "TENANT_MEMBER"}]},
        "groups": [{"name": "staff", "subGroups": [{"name": "night"}]}],
        "clients": [
            {"clientId": "api", "secret": "api-secret", "serviceAccountsEnabled": true},
            {"clientId": "spa", "publicClient": true}
        ],
        "clientScopes": [{"name": "orders", "protocol": "openid-connect"}],
        "users": [{"username": "alice", "enabled": true}]
    })
}

struct Api<'a> {
    server: &'a TestServer,
    token: String,
}

impl Api<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (s, v, _) = call(self.server, method, path, Some(&self.token), body).await;
        (s, v)
    }
    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
        v
    }
    fn client(id: &str) -> String {
        format!("/admin/realms/{REALM}/clients/{id}")
    }
    fn rs(id: &str, rest: &str) -> String {
        format!("/admin/realms/{REALM}/clients/{id}/authz/resource-server{rest}")
    }
    /// Creates a client and answers its UUID.
    async fn create_client(&self, body: Value) -> String {
        let (s, v, h) = call(
            self.server,
            "POST",
            &format!("/admin/realms/{REALM}/clients"),
            Some(&self.token),
            Some(body),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let loc = h["location"].to_str().unwrap();
        loc.rsplit('/').next().unwrap().to_string()
    }
    async fn id_of(&self, client_id: &str) -> String {
        let v = self
            .ok(
                "GET",
                &format!("/admin/realms/{REALM}/clients?clientId={client_id}"),
                None,
            )
            .await;
        v[0]["id"].as_str().unwrap().to_string()
    }
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

const UNKNOWN_ERROR: &str = "For more on this error consult the server log.";

fn assert_unknown_error(s: u16, v: &Value) {
    assert_eq!(s, 500, "{v}");
    assert_eq!(
        v,
        &json!({"error": "unknown_error", "error_description": UNKNOWN_ERROR})
    );
}

async fn admin_flow(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[realm_json()]).await;
    let api = Api {
        server: &server,
        token: admin_token(&server).await,
    };

    // Switched on at creation: Keycloak's defaults, a service account with uma_protection.
    let id = api
        .create_client(
            json!({"clientId": "rs", "secret": "rs-secret", "authorizationServicesEnabled": true}),
        )
        .await;
    let c = api.ok("GET", &Api::client(&id), None).await;
    assert_eq!(c["authorizationServicesEnabled"], json!(true));
    assert_eq!(c["serviceAccountsEnabled"], json!(true));
    let settings = api.ok("GET", &Api::rs(&id, ""), None).await;
    assert_eq!(
        settings,
        json!({"id": id, "clientId": id, "name": "rs", "allowRemoteResourceManagement": true,
               "policyEnforcementMode": "ENFORCING", "decisionStrategy": "UNANIMOUS"})
    );
    let resources = api.ok("GET", &Api::rs(&id, "/resource"), None).await;
    assert_eq!(names(&resources), ["Default Resource"]);
    assert_eq!(resources[0]["type"], json!("urn:rs:resources:default"));
    assert_eq!(resources[0]["uris"], json!(["/*"]));
    assert_eq!(resources[0]["owner"], json!({"id": id, "name": "rs"}));
    let policies = api
        .ok("GET", &Api::rs(&id, "/policy?permission=false"), None)
        .await;
    assert_eq!(names(&policies), ["Default Policy"]);
    assert_eq!(policies[0]["type"], json!("js"));
    let default_policy = policies[0]["id"].as_str().unwrap().to_string();
    let perms = api.ok("GET", &Api::rs(&id, "/permission"), None).await;
    assert_eq!(names(&perms), ["Default Permission"]);
    assert_eq!(
        perms[0]["config"]["defaultResourceType"],
        json!("urn:rs:resources:default")
    );
    let assoc = api
        .ok(
            "GET",
            &Api::rs(
                &id,
                &format!(
                    "/policy/{}/associatedPolicies",
                    perms[0]["id"].as_str().unwrap()
                ),
            ),
            None,
        )
        .await;
    assert_eq!(assoc[0]["id"], json!(default_policy));
    let sa = api
        .ok(
            "GET",
            &format!("{}/service-account-user", Api::client(&id)),
            None,
        )
        .await;
    let mapped = api
        .ok(
            "GET",
            &format!(
                "/admin/realms/{REALM}/users/{}/role-mappings/clients/{id}",
                sa["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(names(&mapped), ["uma_protection"]);

    // A client without them: 404 as Keycloak's AuthorizationService answers; unknown client.
    let plain = api.id_of("api").await;
    let (s, v) = api.call("GET", &Api::rs(&plain, ""), None).await;
    assert_eq!((s, v["error"].clone()), (404, json!("HTTP 404 Not Found")));
    let (s, v) = api.call("GET", &Api::rs("nope", "/policy"), None).await;
    assert_eq!(
        (s, v["error"].clone()),
        (404, json!("Could not find client"))
    );
    // Public clients cannot have them (Keycloak fails with a bare 500).
    let (s, v, _) = call(
        &server,
        "POST",
        &format!("/admin/realms/{REALM}/clients"),
        Some(&api.token),
        Some(
            json!({"clientId": "pub", "publicClient": true, "authorizationServicesEnabled": true}),
        ),
    )
    .await;
    assert_unknown_error(s, &v);

    // Settings.
    let (s, _) = api
        .call("PUT", &Api::rs(&id, ""), Some(json!({"policyEnforcementMode": "PERMISSIVE", "decisionStrategy": "AFFIRMATIVE", "allowRemoteResourceManagement": false})))
        .await;
    assert_eq!(s, 204);
    let settings = api.ok("GET", &Api::rs(&id, ""), None).await;
    assert_eq!(settings["policyEnforcementMode"], json!("PERMISSIVE"));
    assert_eq!(settings["decisionStrategy"], json!("AFFIRMATIVE"));
    assert_eq!(settings["allowRemoteResourceManagement"], json!(false));
    let (s, v) = api
        .call(
            "PUT",
            &Api::rs(&id, ""),
            Some(json!({"policyEnforcementMode": "LAX"})),
        )
        .await;
    assert_eq!(s, 400, "{v}");

    // Scopes: created, the same name again updates (Keycloak's toModel), searched, listed.
    let (s, read) = api
        .call(
            "POST",
            &Api::rs(&id, "/scope"),
            Some(json!({"name": "read"})),
        )
        .await;
    assert_eq!(s, 201, "{read}");
    let (s, again) = api
        .call(
            "POST",
            &Api::rs(&id, "/scope"),
            Some(json!({"name": "read", "displayName": "Read"})),
        )
        .await;
    assert_eq!((s, again["id"].clone()), (201, read["id"].clone()));
    let read_id = read["id"].as_str().unwrap().to_string();
    api.ok(
        "POST",
        &Api::rs(&id, "/scope"),
        Some(json!({"name": "write"})),
    )
    .await;
    let found = api
        .ok("GET", &Api::rs(&id, "/scope/search?name=read"), None)
        .await;
    assert_eq!(found["displayName"], json!("Read"));
    let (s, v) = api
        .call("GET", &Api::rs(&id, "/scope/search?name=none"), None)
        .await;
    assert_eq!((s, v), (200, json!("")));
    assert_eq!(
        names(&api.ok("GET", &Api::rs(&id, "/scope?name=RE"), None).await),
        ["read"]
    );

    // Resources: scopes by name (a new one created), duplicate names refused, owner by name.
    let (s, doc) = api
        .call(
            "POST",
            &Api::rs(&id, "/resource"),
            Some(json!({"name": "doc", "type": "urn:doc", "uris": ["/docs/*"], "scopes": [{"name": "read"}, {"name": "share"}],
                        "attributes": {"k": ["v"]}})),
        )
        .await;
    assert_eq!(s, 201, "{doc}");
    let doc_id = doc["_id"].as_str().unwrap().to_string();
    let mut sc: Vec<String> = doc["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    sc.sort();
    assert_eq!(sc, ["read", "share"]);
    let (s, v) = api
        .call(
            "POST",
            &Api::rs(&id, "/resource"),
            Some(json!({"name": "doc"})),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(
        v,
        json!({"error": "invalid_request", "error_description": "Resource with name [doc] already exists."})
    );
    let (s, mine) = api
        .call(
            "POST",
            &Api::rs(&id, "/resource"),
            Some(json!({"name": "doc", "owner": "alice", "ownerManagedAccess": true})),
        )
        .await;
    assert_eq!(s, 201, "{mine}");
    assert_eq!(mine["owner"]["name"], json!("alice"));
    let (s, v) = api
        .call(
            "POST",
            &Api::rs(&id, "/resource"),
            Some(json!({"name": "x", "owner": "nobody"})),
        )
        .await;
    assert_unknown_error(s, &v);
    assert_eq!(
        api.ok("GET", &Api::rs(&id, "/resource?owner=alice"), None)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.ok("GET", &Api::rs(&id, "/resource?name=do&max=1"), None)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // `/docs/a` matches `/docs/*` and the default resource's `/*`: the best match only (as
    // python-keycloak's UMA test sees Keycloak answer); `/docs/*` itself one.
    assert_eq!(
        names(
            &api.ok(
                "GET",
                &Api::rs(&id, "/resource?uri=/docs/a&matchingUri=true"),
                None
            )
            .await
        ),
        ["doc"]
    );
    assert_eq!(
        names(
            &api.ok("GET", &Api::rs(&id, "/resource?uri=/docs/*"), None)
                .await
        ),
        ["doc"]
    );
    let hit = api
        .ok("GET", &Api::rs(&id, "/resource/search?name=doc"), None)
        .await;
    assert_eq!(hit["_id"], json!(doc_id));
    let (s, _) = api
        .call("GET", &Api::rs(&id, "/resource/search?name=zzz"), None)
        .await;
    assert_eq!(s, 204);
    let (s, v) = api
        .call(
            "PUT",
            &Api::rs(&id, &format!("/resource/{doc_id}")),
            Some(json!({"name": "doc", "displayName": "Documents", "scopes": [{"name": "read"}]})),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let got = api
        .ok("GET", &Api::rs(&id, &format!("/resource/{doc_id}")), None)
        .await;
    assert_eq!(got["displayName"], json!("Documents"));
    assert_eq!(
        api.ok(
            "GET",
            &Api::rs(&id, &format!("/resource/{doc_id}/scopes")),
            None
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        api.ok(
            "GET",
            &Api::rs(&id, &format!("/resource/{doc_id}/attributes")),
            None
        )
        .await,
        json!({"k": ["v"]})
    );
    for m in ["GET", "PUT", "DELETE"] {
        let body = (m == "PUT").then(|| json!({"name": "n"}));
        let (s, v) = api.call(m, &Api::rs(&id, "/resource/missing"), body).await;
        assert_eq!((s, v), (404, json!("")), "{m}");
    }
    // A scope a resource uses stays.
    let (s, v) = api
        .call("DELETE", &Api::rs(&id, &format!("/scope/{read_id}")), None)
        .await;
    assert_eq!(
        (s, v),
        (
            400,
            json!({"errorMessage": "Scopes can not be removed while associated with resources."})
        )
    );

    // Policies of every type, typed, references by name, stored as ids.
    let admin_role = api
        .ok(
            "GET",
            &format!("/admin/realms/{REALM}/roles/TENANT_ADMIN"),
            None,
        )
        .await;
    let (s, role) = api
        .call(
            "POST",
            &Api::rs(&id, "/policy/role"),
            Some(json!({"name": "admins", "roles": [{"id": "TENANT_ADMIN"}], "fetchRoles": true})),
        )
        .await;
    assert_eq!(s, 201, "{role}");
    assert_eq!(role["type"], json!("role"));
    assert_eq!(role["logic"], json!("POSITIVE"));
    assert_eq!(role["decisionStrategy"], json!("UNANIMOUS"));
    let role_id = role["id"].as_str().unwrap().to_string();
    let generic = api
        .ok("GET", &Api::rs(&id, &format!("/policy/{role_id}")), None)
        .await;
    let stored: Value = serde_json::from_str(generic["config"]["roles"].as_str().unwrap()).unwrap();
    assert_eq!(stored, json!([{"id": admin_role["id"], "required": false}]));
    let typed = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/policy/role/{role_id}")),
            None,
        )
        .await;
    assert_eq!(typed["roles"], stored);
    assert_eq!(typed["fetchRoles"], json!(true));
    let (s, v) = api
        .call(
            "POST",
            &Api::rs(&id, "/policy/role"),
            Some(json!({"name": "admins", "roles": [{"id": "TENANT_ADMIN"}]})),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(
        v,
        json!({"error": "Policy with name [admins] already exists", "error_description": "Conflicting policy"})
    );
    let creates = [
        ("user", json!({"name": "alice-only", "users": ["alice"]})),
        (
            "group",
            json!({"name": "staff", "groups": [{"path": "/staff/night", "extendChildren": true}], "groupsClaim": "groups"}),
        ),
        ("client", json!({"name": "from-api", "clients": ["api"]})),
        (
            "client-scope",
            json!({"name": "orders", "clientScopes": [{"id": "orders", "required": true}]}),
        ),
        (
            "time",
            json!({"name": "office", "hour": "9", "hourEnd": "17", "notBefore": "2024-01-01 00:00:00"}),
        ),
        (
            "regex",
            json!({"name": "mail", "targetClaim": "email", "pattern": ".*@shop$"}),
        ),
        (
            "aggregate",
            json!({"name": "both", "policies": ["admins", "alice-only"], "decisionStrategy": "AFFIRMATIVE"}),
        ),
    ];
    let mut ids = std::collections::HashMap::new();
    for (t, body) in creates {
        let (s, v) = api
            .call("POST", &Api::rs(&id, &format!("/policy/{t}")), Some(body))
            .await;
        assert_eq!(s, 201, "{t}: {v}");
        ids.insert(t, v["id"].as_str().unwrap().to_string());
    }
    let user_policy = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/policy/user/{}", ids["user"])),
            None,
        )
        .await;
    let alice = api
        .ok(
            "GET",
            &format!("/admin/realms/{REALM}/users?username=alice&exact=true"),
            None,
        )
        .await;
    assert_eq!(user_policy["users"], json!([alice[0]["id"]]));
    let group_policy = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/policy/group/{}", ids["group"])),
            None,
        )
        .await;
    assert_eq!(group_policy["groups"][0]["path"], json!("/staff/night"));
    assert_eq!(group_policy["groupsClaim"], json!("groups"));
    let client_policy = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/policy/client/{}", ids["client"])),
            None,
        )
        .await;
    assert_eq!(client_policy["clients"], json!([plain]));
    let time_policy = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/policy/time/{}", ids["time"])),
            None,
        )
        .await;
    assert_eq!(
        (
            time_policy["hour"].clone(),
            time_policy["notBefore"].clone()
        ),
        (json!("9"), json!("2024-01-01 00:00:00"))
    );
    let dependent = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/policy/{role_id}/dependentPolicies")),
            None,
        )
        .await;
    assert_eq!(names(&dependent), ["both"]);
    // Generic create (python-keycloak's form), config values JSON-in-strings.
    let (s, v) = api
        .call("POST", &Api::rs(&id, "/policy"), Some(json!({"name": "members", "type": "role", "config": {"roles": "[{\"id\":\"TENANT_MEMBER\",\"required\":false}]"}})))
        .await;
    assert_eq!(s, 201, "{v}");
    // Bad input: Keycloak's RuntimeExceptions (a bare 500), nothing written.
    let bad = [
        (
            "role",
            json!({"name": "b1", "roles": [{"id": "NO_SUCH_ROLE"}]}),
        ),
        ("user", json!({"name": "b2", "users": ["nobody"]})),
        (
            "group",
            json!({"name": "b3", "groups": [{"path": "/nope"}]}),
        ),
        ("client", json!({"name": "b4", "clients": ["nope"]})),
        ("time", json!({"name": "b5", "notBefore": "next tuesday"})),
        ("js", json!({"name": "b6", "code": "$evaluation.grant();"})),
        ("aggregate", json!({"name": "b7", "policies": ["nope"]})),
    ];
    for (t, body) in bad {
        let (s, v) = api
            .call("POST", &Api::rs(&id, &format!("/policy/{t}")), Some(body))
            .await;
        assert_unknown_error(s, &v);
    }
    let (s, v) = api
        .call(
            "POST",
            &Api::rs(&id, "/policy"),
            Some(json!({"name": "b8", "type": "js", "config": {"code": "$evaluation.grant();"}})),
        )
        .await;
    assert_unknown_error(s, &v);
    let all = api.ok("GET", &Api::rs(&id, "/policy?max=-1"), None).await;
    assert!(
        !names(&all)
            .iter()
            .any(|n| n.starts_with('b') && n.len() == 2),
        "{all}"
    );
    // A cycle through aggregates is refused at creation and at update.
    let (s, outer) = api
        .call(
            "POST",
            &Api::rs(&id, "/policy/aggregate"),
            Some(json!({"name": "outer", "policies": ["both"]})),
        )
        .await;
    assert_eq!(s, 201, "{outer}");
    let (s, v) = api
        .call(
            "PUT",
            &Api::rs(&id, &format!("/policy/aggregate/{}", ids["aggregate"])),
            Some(json!({"name": "both", "policies": ["admins", "outer"]})),
        )
        .await;
    assert_unknown_error(s, &v);
    let (s, v) = api
        .call("PUT", &Api::rs(&id, &format!("/policy/{}", ids["aggregate"])), Some(json!({"name": "both", "type": "aggregate", "config": {"applyPolicies": "[\"both\"]"}})))
        .await;
    assert_unknown_error(s, &v);
    // Strict bodies.
    let (s, v) = api
        .call(
            "POST",
            &Api::rs(&id, "/policy/role"),
            Some(json!({"name": "x", "roles": [], "bogus": 1})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("Unrecognized field \"bogus\" (class org.keycloak.representations.idm.authorization.RolePolicyRepresentation)"), "{v}");
    let (s, v) = api
        .call(
            "POST",
            &Api::rs(&id, "/resource"),
            Some(json!({"name": "x", "nope": true})),
        )
        .await;
    assert_eq!(s, 400, "{v}");

    // Permissions: by resource and by scope; unknown references refused; PUT answers 201.
    let (s, rp) = api
        .call(
            "POST",
            &Api::rs(&id, "/permission/resource"),
            Some(json!({"name": "doc-perm", "resources": [doc_id], "policies": ["admins"]})),
        )
        .await;
    assert_eq!(s, 201, "{rp}");
    assert_eq!(rp["resources"], json!([doc_id]));
    let rp_id = rp["id"].as_str().unwrap().to_string();
    let (s, sp) = api
        .call("POST", &Api::rs(&id, "/permission/scope"), Some(json!({"name": "read-perm", "scopes": ["read"], "policies": ["admins", "members"], "decisionStrategy": "AFFIRMATIVE"})))
        .await;
    assert_eq!(s, 201, "{sp}");
    for body in [
        json!({"name": "p1", "resources": ["nope"]}),
        json!({"name": "p2", "scopes": ["nope"], "resources": [doc_id]}),
        json!({"name": "p3", "resources": [doc_id], "policies": ["nope"]}),
    ] {
        let (s, v) = api
            .call("POST", &Api::rs(&id, "/permission/scope"), Some(body))
            .await;
        assert_unknown_error(s, &v);
    }
    let (s, v) = api
        .call(
            "PUT",
            &Api::rs(&id, &format!("/permission/resource/{rp_id}")),
            Some(json!({"id": rp_id, "name": "doc-perm", "type": "resource", "logic": "POSITIVE", "decisionStrategy": "UNANIMOUS",
                        "resources": [doc_id], "scopes": [], "policies": [role_id, ids["user"]]})),
        )
        .await;
    assert_eq!((s, v), (201, json!("")));
    let assoc = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/permission/{rp_id}/associatedPolicies")),
            None,
        )
        .await;
    assert_eq!(names(&assoc), ["admins", "alice-only"]);
    assert_eq!(
        names(
            &api.ok(
                "GET",
                &Api::rs(&id, &format!("/policy/{rp_id}/resources")),
                None
            )
            .await
        ),
        ["doc"]
    );
    let by_resource = api
        .ok("GET", &Api::rs(&id, "/policy?resource=doc"), None)
        .await;
    assert!(
        names(&by_resource).contains(&"doc-perm".to_string()),
        "{by_resource}"
    );
    assert!(
        names(&by_resource).contains(&"admins".to_string()),
        "{by_resource}"
    );
    let perms = api.ok("GET", &Api::rs(&id, "/permission"), None).await;
    assert_eq!(
        names(&perms),
        ["Default Permission", "doc-perm", "read-perm"]
    );
    let typed_list = api
        .ok("GET", &Api::rs(&id, "/policy/aggregate"), None)
        .await;
    assert_eq!(names(&typed_list), ["both", "outer"]);
    let found = api
        .ok("GET", &Api::rs(&id, "/policy/search?name=admins"), None)
        .await;
    assert_eq!(found["id"], json!(role_id));
    let providers = api
        .ok("GET", &Api::rs(&id, "/permission/providers"), None)
        .await;
    assert_eq!(names(&providers), ["Resource", "Scope"]);
    let providers = api
        .ok("GET", &Api::rs(&id, "/policy/providers"), None)
        .await;
    assert!(providers
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["type"] == json!("client-scope")));
    // Deleting a policy drops it from the permissions that applied it.
    let (s, _) = api
        .call(
            "DELETE",
            &Api::rs(&id, &format!("/policy/{}", ids["user"])),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, v) = api
        .call(
            "GET",
            &Api::rs(&id, &format!("/policy/{}", ids["user"])),
            None,
        )
        .await;
    assert_eq!((s, v), (404, json!("")));
    let assoc = api
        .ok(
            "GET",
            &Api::rs(&id, &format!("/permission/{rp_id}/associatedPolicies")),
            None,
        )
        .await;
    assert_eq!(names(&assoc), ["admins"]);
    // Deleting the resource deletes the permission left without resources.
    let (s, _) = api
        .call(
            "DELETE",
            &Api::rs(&id, &format!("/resource/{doc_id}")),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call("GET", &Api::rs(&id, &format!("/permission/{rp_id}")), None)
        .await;
    assert_eq!(s, 404);

    // Export form and /import into another client: the same export back.
    let exported = api.ok("GET", &Api::rs(&id, "/settings"), None).await;
    let scope_perm = exported["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == json!("read-perm"))
        .unwrap();
    assert_eq!(scope_perm["config"]["scopes"], json!("[\"read\"]"));
    assert_eq!(
        scope_perm["config"]["applyPolicies"],
        json!("[\"admins\",\"members\"]")
    );
    let role_export = exported["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == json!("admins"))
        .unwrap();
    assert_eq!(
        role_export["config"]["roles"],
        json!("[{\"id\":\"TENANT_ADMIN\",\"required\":false}]")
    );
    let other = api
        .create_client(
            json!({"clientId": "rs2", "secret": "s", "authorizationServicesEnabled": true}),
        )
        .await;
    let (s, v) = api
        .call("POST", &Api::rs(&other, "/import"), Some(exported.clone()))
        .await;
    assert_eq!(s, 204, "{v}");
    let again = api.ok("GET", &Api::rs(&other, "/settings"), None).await;
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        for list in ["resources", "policies", "scopes"] {
            for x in v[list].as_array_mut().unwrap() {
                let o = x.as_object_mut().unwrap();
                o.remove("_id");
                o.remove("id");
                if let Some(Value::String(t)) = o.get_mut("type") {
                    *t = t.replace("urn:rs2:", "urn:rs:");
                }
                if let Some(Value::Object(c)) = o.get_mut("config") {
                    if let Some(Value::String(t)) = c.get_mut("defaultResourceType") {
                        *t = t.replace("urn:rs2:", "urn:rs:");
                    }
                }
            }
            let arr = v[list].as_array_mut().unwrap();
            arr.sort_by_key(|x| {
                x["name"].as_str().unwrap_or_default().to_string() + x["owner"].to_string().as_str()
            });
        }
        v
    };
    assert_eq!(strip(&again), strip(&exported));

    // Switched off by an update: the resource server is gone; a client delete takes it too.
    let (s, _) = api
        .call(
            "PUT",
            &Api::client(&other),
            Some(json!({"authorizationServicesEnabled": false})),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api.call("GET", &Api::rs(&other, ""), None).await;
    assert_eq!(s, 404);
    assert!(api
        .ok("GET", &Api::client(&other), None)
        .await
        .get("authorizationServicesEnabled")
        .is_none());
    let (s, _) = api
        .call(
            "PUT",
            &Api::client(&other),
            Some(json!({"authorizationServicesEnabled": true})),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        names(&api.ok("GET", &Api::rs(&other, "/resource"), None).await),
        ["Default Resource"]
    );
    let (s, _) = api.call("DELETE", &Api::client(&id), None).await;
    assert_eq!(s, 204);
    let (s, v) = api.call("GET", &Api::rs(&id, ""), None).await;
    assert_eq!(
        (s, v["error"].clone()),
        (404, json!("Could not find client"))
    );

    drop(server);
    data.cleanup().await;
}

#[tokio::test]
async fn admin_api_sqlite() {
    admin_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn admin_api_postgres() {
    admin_flow(Backend::Postgres).await;
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(fixtures_root().join("keycloak-exports").join(name)).unwrap(),
    )
    .unwrap()
}

fn authz_client(realm: &Value) -> Value {
    realm["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c.get("authorizationSettings").is_some())
        .unwrap()
        .clone()
}

/// Keycloak's own exports with `authorizationSettings` import (`POST /admin/realms`) and
/// come back the same from `/settings`, `partial-export` and the export command.
#[tokio::test]
async fn keycloak_exports_round_trip() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[]).await;
    let token = admin_token(&server).await;
    for file in [
        "kc26.2.5-authz-policy-enforcer.json",
        "kc25.0.1-partial-groups-authz.json",
    ] {
        let realm = fixture(file);
        let name = realm["realm"].as_str().unwrap().to_string();
        let original = authz_client(&realm);
        let (s, v, _) = call(
            &server,
            "POST",
            "/admin/realms",
            Some(&token),
            Some(realm.clone()),
        )
        .await;
        assert_eq!(s, 201, "{file}: {v}");
        let (_, list, _) = call(
            &server,
            "GET",
            &format!(
                "/admin/realms/{name}/clients?clientId={}",
                original["clientId"].as_str().unwrap()
            ),
            Some(&token),
            None,
        )
        .await;
        let id = list[0]["id"].as_str().unwrap();
        assert_eq!(list[0]["authorizationServicesEnabled"], json!(true));
        let (s, settings, _) = call(
            &server,
            "GET",
            &format!("/admin/realms/{name}/clients/{id}/authz/resource-server/settings"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(settings, original["authorizationSettings"], "{file}");
        let (s, exported, _) = call(
            &server,
            "POST",
            &format!("/admin/realms/{name}/partial-export?exportClients=true"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(
            authz_client(&exported)["authorizationSettings"],
            original["authorizationSettings"],
            "{file}"
        );
    }
    drop(server);
    // The export command writes them too, and the file imports again.
    let exported = data.export("test");
    let original = authz_client(&fixture("kc26.2.5-authz-policy-enforcer.json"));
    assert_eq!(
        authz_client(&exported)["authorizationSettings"],
        original["authorizationSettings"]
    );
    let mut copy = exported.clone();
    copy["realm"] = json!("test-copy");
    copy.as_object_mut().unwrap().remove("id");
    // User ids are unique across realms: the copy's service account is made anew.
    copy.as_object_mut().unwrap().remove("users");
    let server = start_with(&data, &[]).await;
    let token = admin_token(&server).await;
    let (s, v, _) = call(&server, "POST", "/admin/realms", Some(&token), Some(copy)).await;
    assert_eq!(s, 201, "{v}");
    let (_, list, _) = call(
        &server,
        "GET",
        "/admin/realms/test-copy/clients?clientId=application",
        Some(&token),
        None,
    )
    .await;
    let id = list[0]["id"].as_str().unwrap();
    let (_, settings, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/test-copy/clients/{id}/authz/resource-server/settings"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(settings, original["authorizationSettings"]);
}

/// The seed's `client-configs/authorization/*.json` through the Admin API, as
/// `docs/authz-services.md` shows it: resources and scopes as they are, the role policies'
/// `roles` as Keycloak's role definitions, the scope permissions as they are.
#[tokio::test]
async fn seed_files_import() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm_json()]).await;
    let api = Api {
        server: &server,
        token: admin_token(&server).await,
    };
    let id = api
        .create_client(json!({"clientId": "event-platform-backend", "secret": "s", "authorizationServicesEnabled": true}))
        .await;
    let resources = json!([
      { "name": "event",  "type": "urn:resource:event"  },
      { "name": "ticket", "type": "urn:resource:ticket" },
      { "name": "order",  "type": "urn:resource:order"  }
    ]);
    let scopes = json!([
      { "name": "event:read" }, { "name": "event:manage" },
      { "name": "ticket:read" }, { "name": "ticket:manage" },
      { "name": "order:read" }, { "name": "order:manage" }
    ]);
    let policies = json!([
      { "name": "policy-tenant-admin", "type": "role", "config": { "roles": ["TENANT_ADMIN"] } },
      { "name": "policy-tenant-member", "type": "role", "config": { "roles": ["TENANT_MEMBER"] } }
    ]);
    let permissions = json!([
      { "name": "event-manage",  "type": "scope", "scopes": ["event:manage"],  "policies": ["policy-tenant-admin"] },
      { "name": "event-read",    "type": "scope", "scopes": ["event:read"],    "policies": ["policy-tenant-admin","policy-tenant-member"] },
      { "name": "ticket-manage", "type": "scope", "scopes": ["ticket:manage"], "policies": ["policy-tenant-admin"] },
      { "name": "ticket-read",   "type": "scope", "scopes": ["ticket:read"],   "policies": ["policy-tenant-admin","policy-tenant-member"] },
      { "name": "order-manage",  "type": "scope", "scopes": ["order:manage"],  "policies": ["policy-tenant-admin"] },
      { "name": "order-read",    "type": "scope", "scopes": ["order:read"],    "policies": ["policy-tenant-admin","policy-tenant-member"] }
    ]);
    for s in scopes.as_array().unwrap() {
        let (st, v) = api
            .call("POST", &Api::rs(&id, "/scope"), Some(s.clone()))
            .await;
        assert_eq!(st, 201, "{v}");
    }
    for r in resources.as_array().unwrap() {
        // Each resource with its own two scopes (`event` → `event:read`, `event:manage`).
        let mut r = r.clone();
        let n = r["name"].as_str().unwrap().to_string();
        r["scopes"] = json!([{"name": format!("{n}:read")}, {"name": format!("{n}:manage")}]);
        let (st, v) = api.call("POST", &Api::rs(&id, "/resource"), Some(r)).await;
        assert_eq!(st, 201, "{v}");
    }
    // As Keycloak reads a generic policy: `config.roles` is a JSON string of role definitions.
    for p in policies.as_array().unwrap() {
        let roles: Vec<Value> = p["config"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({"id": r, "required": false}))
            .collect();
        let body = json!({"name": p["name"], "type": "role", "config": {"roles": Value::Array(roles).to_string()}});
        let (st, v) = api.call("POST", &Api::rs(&id, "/policy"), Some(body)).await;
        assert_eq!(st, 201, "{v}");
    }
    // Keycloak refuses the file's own shape (a list where a string is declared).
    let (st, v) = api
        .call(
            "POST",
            &Api::rs(&id, "/policy"),
            Some(json!({"name": "raw", "type": "role", "config": {"roles": ["TENANT_ADMIN"]}})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    for p in permissions.as_array().unwrap() {
        let (st, v) = api
            .call("POST", &Api::rs(&id, "/permission/scope"), Some(p.clone()))
            .await;
        assert_eq!(st, 201, "{v}");
    }
    let exported = api.ok("GET", &Api::rs(&id, "/settings"), None).await;
    assert_eq!(
        names(&exported["resources"]),
        ["Default Resource", "event", "order", "ticket"]
    );
    let read = exported["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == json!("event-read"))
        .unwrap();
    assert_eq!(read["config"]["scopes"], json!("[\"event:read\"]"));
    assert_eq!(
        read["config"]["applyPolicies"],
        json!("[\"policy-tenant-admin\",\"policy-tenant-member\"]")
    );
    let member = exported["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == json!("policy-tenant-member"))
        .unwrap();
    assert_eq!(
        member["config"]["roles"],
        json!("[{\"id\":\"TENANT_MEMBER\",\"required\":false}]")
    );
}

/// `authorizationSettings` on the other ways in: a realm file at start-up, `POST /clients`
/// and `partialImport` (users resolved by name, the service account granted `uma_protection`).
#[tokio::test]
async fn settings_on_every_way_in() {
    let settings = authz_client(&fixture("kc26.2.5-authz-policy-enforcer.json"))
        ["authorizationSettings"]
        .clone();
    let mut realm = realm_json();
    realm["roles"]["realm"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "admin"}));
    realm["clients"].as_array_mut().unwrap().push(json!({
        "clientId": "filed", "secret": "s", "authorizationServicesEnabled": true, "authorizationSettings": settings
    }));
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm]).await;
    let api = Api {
        server: &server,
        token: admin_token(&server).await,
    };
    let filed = api.id_of("filed").await;
    assert_eq!(
        api.ok("GET", &Api::rs(&filed, "/settings"), None).await,
        settings
    );
    // The service account the import made has the role.
    let sa = api
        .ok(
            "GET",
            &format!("{}/service-account-user", Api::client(&filed)),
            None,
        )
        .await;
    let mapped = api
        .ok(
            "GET",
            &format!(
                "/admin/realms/{REALM}/users/{}/role-mappings/clients/{filed}",
                sa["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(names(&mapped), ["uma_protection"]);
    // The document keeps the flag, not the settings.
    let c = api.ok("GET", &Api::client(&filed), None).await;
    assert_eq!(c["authorizationServicesEnabled"], json!(true));
    assert!(c.get("authorizationSettings").is_none());

    // POST /clients with settings (a resource owned by a user, named by username).
    let mut with_owner = settings.clone();
    with_owner["resources"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "alice-doc", "owner": {"name": "alice"}}));
    let created = api
        .create_client(json!({"clientId": "posted", "secret": "s", "authorizationServicesEnabled": true, "authorizationSettings": with_owner}))
        .await;
    let back = api.ok("GET", &Api::rs(&created, "/settings"), None).await;
    assert_eq!(back["policies"], settings["policies"]);
    let alice_doc = back["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == json!("alice-doc"))
        .unwrap();
    assert_eq!(alice_doc["owner"], json!({"name": "alice"}));
    // Without the defaults: the settings given are all there is.
    assert_eq!(names(&back["resources"]), ["alice-doc", "tenant:1"]);

    // partialImport.
    let (s, v) = api
        .call(
            "POST",
            &format!("/admin/realms/{REALM}/partialImport"),
            Some(json!({"ifResourceExists": "FAIL", "clients": [
                {"clientId": "partial", "secret": "s", "authorizationServicesEnabled": true, "authorizationSettings": settings}
            ]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let partial = api.id_of("partial").await;
    assert_eq!(
        api.ok("GET", &Api::rs(&partial, "/settings"), None).await,
        settings
    );
    // A bad reference in the settings refuses the client as a whole.
    let mut bad = settings.clone();
    bad["policies"][1]["config"]["applyPolicies"] = json!("[\"missing\"]");
    let (s, v, _) = call(
        &server,
        "POST",
        &format!("/admin/realms/{REALM}/clients"),
        Some(&api.token),
        Some(json!({"clientId": "bad", "secret": "s", "authorizationServicesEnabled": true, "authorizationSettings": bad})),
    )
    .await;
    assert_unknown_error(s, &v);
    let (_, list, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId=bad"),
        Some(&api.token),
        None,
    )
    .await;
    assert_eq!(list, json!([]));
}
