//! The UMA Protection API (`/realms/{r}/authz/protection`) over HTTP: resource sets with a
//! PAT, permission tickets and the UMA grant taking them, user-managed permissions
//! (`uma-policy`); bad inputs with Keycloak's errors (no token, a token of a client that is
//! not a resource server, a token without `uma_protection`, another resource server's PAT,
//! unknown ids, duplicate names, forged, foreign and expired tickets).

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "shop";

fn realm_json(name: &str) -> Value {
    let users: Vec<Value> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| {
            json!({
                "username": u, "enabled": true, "firstName": u, "lastName": "Tester",
                "email": format!("{u}@example.com"),
                "credentials": [{"type": "password", "value": format!("{u}-pw")}]
            })
        })
        .collect();
    json!({
        "realm": name,
        "clients": [
            {"clientId": "spa", "publicClient": true, "directAccessGrantsEnabled": true}
        ],
        "users": users
    })
}

fn token_url(server: &TestServer, realm: &str) -> String {
    server.url(&format!("/realms/{realm}/protocol/openid-connect/token"))
}

fn ps(realm: &str, rest: &str) -> String {
    format!("/realms/{realm}/authz/protection{rest}")
}

/// Creates a confidential client with Authorization Services on (password grant allowed).
async fn resource_server(server: &TestServer, admin: &str, realm: &str, client_id: &str) {
    let (s, v, _) = call(
        server,
        "POST",
        &format!("/admin/realms/{realm}/clients"),
        Some(admin),
        Some(
            json!({"clientId": client_id, "secret": format!("{client_id}-secret"),
                    "authorizationServicesEnabled": true, "serviceAccountsEnabled": true,
                    "directAccessGrantsEnabled": true}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

/// A client-credentials token of a resource server (its PAT).
async fn pat_token(server: &TestServer, realm: &str, client_id: &str) -> String {
    let secret = format!("{client_id}-secret");
    let (s, v, _) = post_form(
        &token_url(server, realm),
        Some((client_id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

/// A user's password-grant token at a client (`spa`, or a resource server with its secret).
async fn user_token(server: &TestServer, client_id: &str, user: &str) -> String {
    let secret = format!("{client_id}-secret");
    let secret = (client_id != "spa").then_some(secret.as_str());
    let pw = format!("{user}-pw");
    let (s, v) = password_grant(server, REALM, client_id, secret, user, &pw, &[]).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

/// A UMA grant: with a bearer token, or authenticated as `client` when `bearer` is `None`.
async fn uma(
    server: &TestServer,
    bearer: Option<&str>,
    client: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut all = vec![("grant_type", "urn:ietf:params:oauth:grant-type:uma-ticket")];
    all.extend_from_slice(form);
    let mut req = crate::support::client()
        .post(token_url(server, REALM))
        .form(&all);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some((u, p)) = client {
        req = req.basic_auth(u, Some(p));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn oauth(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

async fn ticket(server: &TestServer, pat: &str, body: Value) -> String {
    let (s, v, _) = call(
        server,
        "POST",
        &ps(REALM, "/permission"),
        Some(pat),
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["ticket"].as_str().unwrap().to_string()
}

async fn setup(backend: Backend) -> Option<(Data, TestServer)> {
    let data = Data::new(backend).await?;
    let server = start_with_clock(&data, &[realm_json(REALM), realm_json("other")]).await;
    let admin = admin_token(&server).await;
    resource_server(&server, &admin, REALM, "store").await;
    resource_server(&server, &admin, REALM, "billing").await;
    resource_server(&server, &admin, "other", "store").await;
    Some((data, server))
}

async fn resource_sets(backend: Backend) {
    let Some((data, server)) = setup(backend).await else {
        return;
    };
    let pat = pat_token(&server, REALM, "store").await;
    let (s, created, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&pat),
        Some(
            json!({"name": "doc", "type": "urn:doc", "uris": ["/docs/*"],
                    "resource_scopes": ["read", {"name": "write"}], "icon_uri": "/i.png"}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["_id"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "doc");
    assert_eq!(created["type"], "urn:doc");
    assert_eq!(created["icon_uri"], "/i.png");
    assert_eq!(created["uris"], json!(["/docs/*"]));
    assert_eq!(created["ownerManagedAccess"], false);
    let mut names: Vec<&str> = created["resource_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["read", "write"]);
    // The owner is the resource server (its service account's token).
    let (_, rep, _) = call(
        &server,
        "GET",
        &ps(REALM, &format!("/resource_set/{id}")),
        Some(&pat),
        None,
    )
    .await;
    assert_eq!(rep["_id"], json!(id));
    assert_eq!(rep["owner"]["id"], created["owner"]["id"]);

    // Same name, same owner: Keycloak's 409.
    let (s, v, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&pat),
        Some(json!({"name": "doc"})),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            409,
            oauth(
                "invalid_request",
                "Resource with name [doc] already exists."
            )
        )
    );

    // Queries answer ids; `deep=true` whole resources.
    let list = |q: &'static str| {
        let server = &server;
        let pat = &pat;
        async move {
            let (s, v, _) = call(
                server,
                "GET",
                &ps(REALM, &format!("/resource_set{q}")),
                Some(pat),
                None,
            )
            .await;
            assert_eq!(s, 200, "{q}: {v}");
            v
        }
    };
    assert_eq!(list("?name=doc&exactName=true").await, json!([id]));
    assert_eq!(list("?name=DO").await, json!([id]));
    assert_eq!(list("?name=do&exactName=true").await, json!([]));
    assert_eq!(list("?scope=write").await, json!([id]));
    assert_eq!(list("?type=urn:doc").await, json!([id]));
    assert_eq!(list("?uri=/docs/a").await, json!([]));
    assert_eq!(list("?uri=/docs/a&matchingUri=true").await, json!([id]));
    assert_eq!(list("?owner=alice").await, json!([]));
    assert_eq!(list("?owner=store").await.as_array().unwrap().len(), 2);
    assert_eq!(list("?max=1").await.as_array().unwrap().len(), 1);
    assert_eq!(list("?first=5").await, json!([]));
    let deep = list("?name=doc&deep=true").await;
    assert_eq!(deep[0]["name"], "doc");
    assert_eq!(deep[0]["_id"], json!(id));

    // Update (204), then read it back.
    let (s, _, _) = call(
        &server,
        "PUT",
        &ps(REALM, &format!("/resource_set/{id}")),
        Some(&pat),
        Some(json!({"name": "document", "resource_scopes": ["read"]})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, rep, _) = call(
        &server,
        "GET",
        &ps(REALM, &format!("/resource_set/{id}")),
        Some(&pat),
        None,
    )
    .await;
    assert_eq!(rep["name"], "document");
    assert_eq!(rep["resource_scopes"].as_array().unwrap().len(), 1);
    // An unknown field is refused as Jackson refuses it.
    let (s, v, _) = call(
        &server,
        "PUT",
        &ps(REALM, &format!("/resource_set/{id}")),
        Some(&pat),
        Some(json!({"wrong": "payload"})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(v.to_string().contains("Unrecognized field"), "{v}");

    // Another resource server's PAT does not see the resource.
    let billing = pat_of(&server, "billing").await;
    for method in ["GET", "PUT", "DELETE"] {
        let (s, v, _) = call(
            &server,
            method,
            &ps(REALM, &format!("/resource_set/{id}")),
            Some(&billing),
            (method == "PUT").then(|| json!({"name": "x"})),
        )
        .await;
        assert_eq!((s, v), (404, json!("")), "{method}");
    }

    // Delete (204), then it is gone (404 without a body).
    let path = ps(REALM, &format!("/resource_set/{id}"));
    let (s, _, _) = call(&server, "DELETE", &path, Some(&pat), None).await;
    assert_eq!(s, 204);
    let (s, v, _) = call(&server, "GET", &path, Some(&pat), None).await;
    assert_eq!((s, v), (404, json!("")));
    let (s, _, _) = call(&server, "DELETE", &path, Some(&pat), None).await;
    assert_eq!(s, 404);
    data.cleanup().await;
}

async fn pat_of(server: &TestServer, client_id: &str) -> String {
    pat_token(server, REALM, client_id).await
}

#[tokio::test]
async fn resource_sets_sqlite() {
    resource_sets(Backend::Sqlite).await;
}

#[tokio::test]
async fn resource_sets_postgres() {
    resource_sets(Backend::Postgres).await;
}

/// Who may call: no token, a client that is no resource server, a token without
/// `uma_protection`, a token of another realm.
#[tokio::test]
async fn protection_callers() {
    let Some((data, server)) = setup(Backend::Sqlite).await else {
        return;
    };
    let path = ps(REALM, "/resource_set");
    let (s, v, _) = call(&server, "GET", &path, None, None).await;
    assert_eq!(
        (s, v),
        (
            403,
            oauth(
                "invalid_bearer_token",
                "Could not obtain bearer access_token from request."
            )
        )
    );
    let spa = user_token(&server, "spa", "alice").await;
    let (s, v, _) = call(&server, "GET", &path, Some(&spa), None).await;
    assert_eq!(
        (s, v),
        (
            403,
            oauth(
                "invalid_clientId",
                "Client application [spa] is not registered as a resource server."
            )
        )
    );
    let alice = user_token(&server, "store", "alice").await;
    let (s, v, _) = call(&server, "GET", &path, Some(&alice), None).await;
    assert_eq!(
        (s, v),
        (
            403,
            oauth("invalid_scope", "Requires uma_protection scope.")
        )
    );
    let foreign = pat_token(&server, "other", "store").await;
    let (s, _, _) = call(&server, "GET", &path, Some(&foreign), None).await;
    assert_eq!(s, 403);
    // The PAT itself works.
    let pat = pat_of(&server, "store").await;
    let (s, v, _) = call(&server, "GET", &path, Some(&pat), None).await;
    assert_eq!(s, 200, "{v}");
    data.cleanup().await;
}

/// Permission tickets: created for resources and scopes by id or name, refused for unknown
/// ones; the UMA grant decides on the ticket's permissions; forged, foreign and expired
/// tickets are refused.
#[tokio::test]
async fn permission_tickets() {
    let Some((data, server)) = setup(Backend::Sqlite).await else {
        return;
    };
    let pat = pat_of(&server, "store").await;
    let (s, album, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&pat),
        Some(
            json!({"name": "album", "owner": "alice", "ownerManagedAccess": true,
                    "resource_scopes": ["view", "edit"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{album}");
    let album_id = album["_id"].as_str().unwrap().to_string();
    assert_eq!(album["owner"]["id"].as_str().unwrap().len(), 36);

    // Bad requests.
    for (body, error, description) in [
        (
            json!([]),
            "invalid_permission_request",
            "Invalid permission request.",
        ),
        (
            json!([{"resource_id": "nope"}]),
            "invalid_resource_id",
            "Resource set with id [nope] does not exists in this server.",
        ),
        (
            json!([{"resource_id": album_id, "resource_scopes": ["delete"]}]),
            "invalid_scope",
            "Scope [delete] is invalid",
        ),
        (
            json!([{}]),
            "invalid_resource_id",
            "Resource id or name not provided.",
        ),
    ] {
        let (s, v, _) = call(
            &server,
            "POST",
            &ps(REALM, "/permission"),
            Some(&pat),
            Some(body.clone()),
        )
        .await;
        assert_eq!((s, v), (400, oauth(error, description)), "{body}");
    }

    // Alice shares `view` with bob through a user-managed permission.
    let alice = user_token(&server, "store", "alice").await;
    let (s, policy, _) = call(
        &server,
        "POST",
        &ps(REALM, &format!("/uma-policy/{album_id}")),
        Some(&alice),
        Some(json!({"name": "bob-views", "scopes": ["view"], "users": ["bob"]})),
    )
    .await;
    assert_eq!(s, 200, "{policy}");
    assert_eq!(policy["type"], "uma");
    assert_eq!(policy["users"], json!(["bob"]));
    assert_eq!(policy["scopes"], json!(["view"]));

    let t = ticket(
        &server,
        &pat,
        json!([{"resource_id": album_id, "resource_scopes": ["view"]}]),
    )
    .await;
    let bob = user_token(&server, "spa", "bob").await;
    let (s, v) = uma(&server, Some(&bob), None, &[("ticket", &t)]).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["access_token"].is_string());
    let (s, v) = uma(
        &server,
        Some(&bob),
        None,
        &[("ticket", &t), ("response_mode", "decision")],
    )
    .await;
    assert_eq!((s, v), (200, json!({"result": true})));
    // Carol has no permission.
    let carol = user_token(&server, "spa", "carol").await;
    // With a ticket, `submit_request` defaults to true: Keycloak answers `request_submitted`.
    let (s, v) = uma(&server, Some(&carol), None, &[("ticket", &t)]).await;
    assert_eq!((s, v), (403, oauth("access_denied", "request_submitted")));
    let (s, v) = uma(
        &server,
        Some(&carol),
        None,
        &[("ticket", &t), ("submit_request", "false")],
    )
    .await;
    assert_eq!((s, v), (403, oauth("access_denied", "not_authorized")));
    // `edit` is not shared.
    let t_edit = ticket(
        &server,
        &pat,
        json!({"resource_id": album_id, "resource_scopes": ["edit"]}),
    )
    .await;
    let (s, v) = uma(&server, Some(&bob), None, &[("ticket", &t_edit)]).await;
    assert_eq!((s, v), (403, oauth("access_denied", "request_submitted")));

    // A ticket whose signature is not the realm's.
    let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
    parts[2] = "AAAA".repeat(20);
    let forged = parts.join(".");
    let (s, v) = uma(&server, Some(&bob), None, &[("ticket", &forged)]).await;
    assert_eq!(
        (s, v),
        (403, oauth("invalid_ticket", "Ticket verification failed"))
    );
    let (s, v) = uma(&server, Some(&bob), None, &[("ticket", "abc")]).await;
    assert_eq!(
        (s, v),
        (403, oauth("invalid_ticket", "Ticket verification failed"))
    );
    // A ticket of another realm.
    let other_pat = pat_token(&server, "other", "store").await;
    let (s, other, _) = call(
        &server,
        "POST",
        &ps("other", "/resource_set"),
        Some(&other_pat),
        Some(json!({"name": "album"})),
    )
    .await;
    assert_eq!(s, 201, "{other}");
    let (s, v, _) = call(
        &server,
        "POST",
        &ps("other", "/permission"),
        Some(&other_pat),
        Some(json!([{"resource_id": other["_id"]}])),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let foreign = v["ticket"].as_str().unwrap().to_string();
    let (s, v) = uma(&server, Some(&bob), None, &[("ticket", &foreign)]).await;
    assert_eq!(
        (s, v),
        (403, oauth("invalid_ticket", "Ticket verification failed"))
    );
    // A ticket of another resource server, presented for this one.
    let billing = pat_of(&server, "billing").await;
    let (s, v, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&billing),
        Some(json!({"name": "invoice"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let t_billing = ticket(&server, &billing, json!([{"resource_id": v["_id"]}])).await;
    let (s, v) = uma(
        &server,
        Some(&bob),
        None,
        &[("ticket", &t_billing), ("audience", "store")],
    )
    .await;
    assert_eq!(
        (s, v),
        (403, oauth("invalid_ticket", "Invalid permission ticket."))
    );
    // An expired ticket (it lives as long as the PAT that asked for it).
    advance_clock(&server, 3600).await;
    let (s, v) = uma(
        &server,
        None,
        Some(("store", "store-secret")),
        &[("ticket", &t)],
    )
    .await;
    assert_eq!(
        (s, v),
        (403, oauth("invalid_ticket", "Invalid permission ticket."))
    );
    advance_clock(&server, 0).await;
    data.cleanup().await;
}

/// User-managed permissions: create, query, read, update, delete by the resource owner;
/// refused for others, for resources not owner-managed, for unknown ids; a role, a group and
/// a client grant as Keycloak's associated policies do.
#[tokio::test]
async fn uma_policies() {
    let Some((data, server)) = setup(Backend::Sqlite).await else {
        return;
    };
    let admin = admin_token(&server).await;
    let (s, v, _) = call(
        &server,
        "POST",
        &format!("/admin/realms/{REALM}/roles"),
        Some(&admin),
        Some(json!({"name": "friends"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let pat = pat_of(&server, "store").await;
    let mk = |name: &'static str, oma: bool| {
        let server = &server;
        let pat = &pat;
        async move {
            let (s, v, _) = call(
                server,
                "POST",
                &ps(REALM, "/resource_set"),
                Some(pat),
                Some(json!({"name": name, "ownerManagedAccess": oma,
                            "resource_scopes": ["read", "write"]})),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            v["_id"].as_str().unwrap().to_string()
        }
    };
    let rid = mk("photos", true).await;
    let plain = mk("plain", false).await;
    let base = ps(REALM, "/uma-policy");

    // The PAT's identity owns the resources.
    let (s, v, _) = call(
        &server,
        "POST",
        &format!("{base}/{rid}"),
        Some(&pat),
        Some(
            json!({"name": "friends-read", "description": "d", "scopes": ["read"],
                    "roles": ["friends"], "clients": ["spa"]}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let pid = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["roles"], json!(["friends"]));
    assert_eq!(v["clients"], json!(["spa"]));
    assert_eq!(v["description"], "d");
    // All of the resource's scopes when none are named.
    let (s, v, _) = call(
        &server,
        "POST",
        &format!("{base}/{rid}"),
        Some(&pat),
        Some(json!({"name": "carol-all", "users": ["carol"]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let mut scopes: Vec<String> = serde_json::from_value(v["scopes"].clone()).unwrap();
    scopes.sort();
    assert_eq!(scopes, ["read", "write"]);

    // Refusals.
    for (path, body, status, error, description) in [
        (
            format!("{base}/{rid}"),
            json!({"name": "x", "id": "given"}),
            400,
            "invalid_request",
            "Newly created uma policies should not have an id".to_string(),
        ),
        (
            format!("{base}/nope"),
            json!({"name": "x"}),
            400,
            "invalid_request",
            "Resource [nope] cannot be found".to_string(),
        ),
        (
            format!("{base}/{plain}"),
            json!({"name": "x"}),
            400,
            "invalid_request",
            "Only resources with owner managed accessed can have policies".to_string(),
        ),
        (
            format!("{base}/{rid}"),
            json!({"name": "x", "scopes": ["delete"]}),
            400,
            "invalid_request",
            format!("Some of the scopes [delete] are not valid for resource [{rid}]"),
        ),
        (
            format!("{base}/{rid}"),
            json!({"name": "friends-read"}),
            409,
            "invalid_request",
            "Policy with name [friends-read] already exists".to_string(),
        ),
        (
            format!("{base}/{rid}"),
            json!({"name": "js", "condition": "$evaluation.grant();"}),
            400,
            "invalid_request",
            "Script upload is disabled".to_string(),
        ),
    ] {
        let (s, v, _) = call(&server, "POST", &path, Some(&pat), Some(body.clone())).await;
        assert_eq!((s, v), (status, oauth(error, &description)), "{body}");
    }
    // Alice does not own the resource.
    let alice = user_token(&server, "store", "alice").await;
    let (s, v, _) = call(&server, "GET", &format!("{base}/{pid}"), Some(&alice), None).await;
    assert_eq!(
        (s, v),
        (
            400,
            oauth(
                "invalid_request",
                &format!("Only resource owner can access policies for resource [{rid}]")
            )
        )
    );
    let (s, v, _) = call(&server, "GET", &base, Some(&alice), None).await;
    assert_eq!((s, v), (200, json!([])));

    // Queries.
    let q = |query: &'static str| {
        let server = &server;
        let pat = &pat;
        let base = base.clone();
        async move {
            let (s, v, _) = call(server, "GET", &format!("{base}{query}"), Some(pat), None).await;
            assert_eq!(s, 200, "{v}");
            v.as_array().unwrap().len()
        }
    };
    assert_eq!(q("").await, 2);
    assert_eq!(q("?name=friends").await, 1);
    assert_eq!(q("?scope=write").await, 1);
    assert_eq!(q("?resource=photos").await, 2);
    assert_eq!(q("?resource=plain").await, 0);
    assert_eq!(q("?first=1").await, 1);
    assert_eq!(q("?max=0").await, 0);

    // The admin API's policy list leaves user-managed permissions out.
    let (_, clients, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId=store"),
        Some(&admin),
        None,
    )
    .await;
    let cid = clients[0]["id"].as_str().unwrap();
    let (_, list, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients/{cid}/authz/resource-server/policy"),
        Some(&admin),
        None,
    )
    .await;
    assert!(
        list.as_array().unwrap().iter().all(|p| p["type"] != "uma"),
        "{list}"
    );

    // Decisions: nobody but carol gets `write`; bob (neither the role nor, through the
    // resource server, the client) gets nothing.
    let decide = |token: String, perm: &'static str| {
        let server = &server;
        async move {
            uma(
                server,
                Some(&token),
                None,
                &[
                    ("audience", "store"),
                    ("permission", perm),
                    ("response_mode", "decision"),
                ],
            )
            .await
        }
    };
    let bob_spa = user_token(&server, "spa", "bob").await;
    assert_eq!(decide(bob_spa, "photos#write").await.0, 403);
    let bob_store = user_token(&server, "store", "bob").await;
    assert_eq!(decide(bob_store, "photos#read").await.0, 403);
    let carol = user_token(&server, "store", "carol").await;
    assert_eq!(
        decide(carol.clone(), "photos#write").await,
        (200, json!({"result": true}))
    );

    // Update (201 without a body): clients dropped, a user added.
    let (s, v, _) = call(
        &server,
        "PUT",
        &format!("{base}/{pid}"),
        Some(&pat),
        Some(
            json!({"id": pid, "name": "friends-read", "scopes": ["read"],
                    "roles": ["friends"], "clients": [], "users": ["alice"]}),
        ),
    )
    .await;
    assert_eq!((s, v), (201, json!("")));
    let (_, v, _) = call(&server, "GET", &format!("{base}/{pid}"), Some(&pat), None).await;
    assert_eq!(v["users"], json!(["alice"]));
    assert!(v.get("clients").is_none(), "{v}");
    let (s, v, _) = call(
        &server,
        "PUT",
        &format!("{base}/{pid}"),
        Some(&pat),
        Some(json!({"name": "friends-read", "resources": [plain]})),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            400,
            oauth(
                "invalid_request",
                "Uma permission resource cannot be changed"
            )
        )
    );

    // Delete: 204, then Keycloak's 404.
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("{base}/{pid}"),
        Some(&pat),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, v, _) = call(
        &server,
        "DELETE",
        &format!("{base}/{pid}"),
        Some(&pat),
        None,
    )
    .await;
    assert_eq!(
        (s, v),
        (
            404,
            oauth(
                "invalid_request",
                &format!("Policy with [{pid}] does not exist")
            )
        )
    );
    // Deleting the resource takes its permissions.
    let (s, _, _) = call(
        &server,
        "DELETE",
        &ps(REALM, &format!("/resource_set/{rid}")),
        Some(&pat),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(q("").await, 0);
    assert!(carol.len() > 10);
    data.cleanup().await;
}

/// `GET/POST/PUT/DELETE .../permission/ticket` and the UMA grant's `submit_request`: a
/// denied requester's tickets, the owner granting one, the grant then allowing that scope.
async fn stored_tickets(backend: Backend) {
    let Some((data, server)) = setup(backend).await else {
        return;
    };
    let pat = pat_of(&server, "store").await;
    let (s, album, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&pat),
        Some(
            json!({"name": "album", "owner": "alice", "ownerManagedAccess": true,
                    "resource_scopes": ["view", "edit"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{album}");
    let album_id = album["_id"].as_str().unwrap().to_string();
    let alice_id = album["owner"]["id"].as_str().unwrap().to_string();
    let scope_id = |name: &str| {
        album["resource_scopes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == json!(name))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (view, edit) = (scope_id("view"), scope_id("edit"));
    let base = ps(REALM, "/permission/ticket");
    let list = |q: &str| {
        let path = format!("{base}{q}");
        let server = &server;
        let pat = pat.clone();
        async move {
            let (s, v, _) = call(server, "GET", &path, Some(&pat), None).await;
            assert_eq!(s, 200, "{path}: {v}");
            v.as_array().unwrap().clone()
        }
    };
    assert!(list("").await.is_empty());

    // Carol is denied with a ticket: one ticket per asked scope, 403 request_submitted.
    let t = ticket(
        &server,
        &pat,
        json!([{"resource_id": album_id, "resource_scopes": ["view", "edit"]}]),
    )
    .await;
    let carol = user_token(&server, "spa", "carol").await;
    for _ in 0..2 {
        let (s, v) = uma(&server, Some(&carol), None, &[("ticket", &t)]).await;
        assert_eq!((s, v), (403, oauth("access_denied", "request_submitted")));
    }
    let all = list("").await;
    assert_eq!(all.len(), 2, "{all:?}");
    let carol_id = all[0]["requester"].as_str().unwrap().to_string();
    for t in &all {
        assert_eq!(t["owner"], json!(alice_id));
        assert_eq!(t["resource"], json!(album_id));
        assert_eq!(t["granted"], json!(false));
        assert!(t.get("resourceName").is_none(), "{t}");
    }
    let mut scopes: Vec<&str> = all.iter().map(|t| t["scope"].as_str().unwrap()).collect();
    scopes.sort();
    let mut want = vec![view.as_str(), edit.as_str()];
    want.sort();
    assert_eq!(scopes, want);
    // Names, filters, paging.
    let named = list("?returnNames=true&scopeId=view").await;
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0]["scope"], json!(view));
    assert_eq!(named[0]["scopeName"], "view");
    assert_eq!(named[0]["resourceName"], "album");
    assert_eq!(named[0]["requesterName"], "carol");
    assert_eq!(named[0]["ownerName"], "alice");
    assert_eq!(list(&format!("?scopeId={edit}")).await.len(), 1);
    assert_eq!(list("?requester=carol").await.len(), 2);
    assert_eq!(list(&format!("?requester={carol_id}")).await.len(), 2);
    assert_eq!(list("?requester=bob").await.len(), 0);
    assert_eq!(list("?owner=alice").await.len(), 2);
    assert_eq!(list(&format!("?resourceId={album_id}")).await.len(), 2);
    assert_eq!(list("?resourceId=nope").await.len(), 0);
    assert_eq!(list("?granted=true").await.len(), 0);
    assert_eq!(list("?granted=false").await.len(), 2);
    assert_eq!(list("?max=1").await.len(), 1);
    assert_eq!(list("?first=1").await.len(), 1);
    // submit_request=false records nothing.
    let (s, v) = uma(
        &server,
        Some(&carol),
        None,
        &[("ticket", &t), ("submit_request", "false")],
    )
    .await;
    assert_eq!((s, v), (403, oauth("access_denied", "not_authorized")));
    assert_eq!(list("").await.len(), 2);

    // Alice (a token of the resource server's client) grants `view`.
    let view_ticket = list(&format!("?scopeId={view}")).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = user_token(&server, "store", "alice").await;
    let (s, v, _) = call(
        &server,
        "PUT",
        &base,
        Some(&alice),
        Some(json!({"id": view_ticket, "granted": true})),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let granted = list("?granted=true").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["scope"], json!(view));
    // The granted ticket is carol's permission: view, not edit.
    let (s, v) = uma(
        &server,
        Some(&carol),
        None,
        &[("ticket", &t), ("response_mode", "permissions")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!([{"rsid": album_id, "rsname": "album", "scopes": ["view"]}])
    );
    let (s, v) = uma(
        &server,
        Some(&carol),
        None,
        &[
            ("audience", "store"),
            ("permission", &format!("{album_id}#edit")),
            ("submit_request", "false"),
        ],
    )
    .await;
    assert_eq!((s, v), (403, oauth("access_denied", "not_authorized")));
    // Not bob's.
    let bob = user_token(&server, "spa", "bob").await;
    let (s, v) = uma(
        &server,
        Some(&bob),
        None,
        &[("ticket", &t), ("submit_request", "false")],
    )
    .await;
    assert_eq!((s, v), (403, oauth("access_denied", "not_authorized")));

    // `granted: false` deletes the ticket (here by the resource server).
    let edit_ticket = list(&format!("?scopeId={edit}")).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v, _) = call(
        &server,
        "PUT",
        &base,
        Some(&pat),
        Some(json!({"id": edit_ticket, "granted": false})),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(list("").await.len(), 1);

    // The owner creates a granted ticket for bob.
    let (s, v, _) = call(
        &server,
        "POST",
        &base,
        Some(&alice),
        Some(
            json!({"resource": album_id, "scopeName": "edit", "requesterName": "bob",
                    "granted": true}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["granted"], json!(true));
    assert_eq!(v["owner"], json!(alice_id));
    assert_eq!(v["scope"], json!(edit));
    let bob_ticket = v["id"].as_str().unwrap().to_string();
    let (s, v) = uma(
        &server,
        Some(&bob),
        None,
        &[
            ("audience", "store"),
            ("permission", &format!("{album_id}#edit")),
            ("response_mode", "decision"),
        ],
    )
    .await;
    assert_eq!((s, v), (200, json!({"result": true})));

    // Bad input, each with Keycloak's body.
    let (s, other, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&pat),
        Some(json!({"name": "other", "resource_scopes": ["share"]})),
    )
    .await;
    assert_eq!(s, 201, "{other}");
    let cases: Vec<(&str, Value, u16, &str, String)> = vec![
        (
            "alice",
            json!({"resource": album_id, "scopeName": "edit", "requesterName": "bob"}),
            400,
            "invalid_permission",
            "Permission already exists".into(),
        ),
        (
            "alice",
            json!({"id": "x", "resource": album_id, "scopeName": "edit", "requesterName": "bob"}),
            400,
            "invalid_permission",
            "created permissions should not have id".into(),
        ),
        (
            "alice",
            json!({"scopeName": "edit", "requesterName": "bob"}),
            400,
            "invalid_permission",
            "created permissions should have resource".into(),
        ),
        (
            "alice",
            json!({"resource": album_id, "requesterName": "bob"}),
            400,
            "invalid_permission",
            "created permissions should have scope or scopeName".into(),
        ),
        (
            "alice",
            json!({"resource": "nope", "scopeName": "edit", "requesterName": "bob"}),
            400,
            "invalid_resource_id",
            "Resource set with id [nope] does not exists in this server.".into(),
        ),
        (
            "alice",
            json!({"resource": album_id, "scopeName": "nope", "requesterName": "bob"}),
            400,
            "invalid_scope",
            "Scope [nope] is invalid".into(),
        ),
        (
            "alice",
            json!({"resource": album_id, "scope": "nope", "requesterName": "bob"}),
            400,
            "invalid_scope",
            "Scope [nope] is invalid".into(),
        ),
        (
            "alice",
            json!({"resource": album_id, "scopeName": "share", "requesterName": "bob"}),
            400,
            "invalid_resource_id",
            format!("Resource set with id [{album_id}] does not have Scope [share]"),
        ),
        (
            "alice",
            json!({"resource": album_id, "scopeName": "view", "requesterName": "nobody"}),
            400,
            "invalid_permission",
            "Requester does not exists in this server as user.".into(),
        ),
        (
            "pat",
            json!({"resource": album_id, "scopeName": "view", "requesterName": "bob"}),
            403,
            "not_authorised",
            format!("permissions for [{album_id}] can be only created by the owner"),
        ),
    ];
    for (who, body, status, error, description) in cases {
        let token = if who == "pat" { &pat } else { &alice };
        let (s, v, _) = call(&server, "POST", &base, Some(token), Some(body.clone())).await;
        assert_eq!((s, v), (status, oauth(error, &description)), "{body}");
    }
    // Another resource server's PAT does not see nor change this server's tickets.
    let billing = pat_of(&server, "billing").await;
    let (s, v, _) = call(&server, "GET", &base, Some(&billing), None).await;
    assert_eq!((s, v), (200, json!([])));
    let (s, v, _) = call(
        &server,
        "PUT",
        &base,
        Some(&billing),
        Some(json!({"id": bob_ticket, "granted": true})),
    )
    .await;
    assert_eq!((s, v), (400, oauth("invalid_request", "invalid_ticket")));
    let (s, v, _) = call(
        &server,
        "DELETE",
        &format!("{base}/{bob_ticket}"),
        Some(&billing),
        None,
    )
    .await;
    assert_eq!((s, v), (400, oauth("invalid_request", "invalid_ticket")));
    // A token of a client that is no resource server.
    let (s, v, _) = call(&server, "GET", &base, Some(&carol), None).await;
    assert_eq!(
        (s, v),
        (
            403,
            oauth(
                "invalid_clientId",
                "Client application [spa] is not registered as a resource server."
            )
        )
    );
    // Only the owner, the requester or the resource server deletes; carol is none of them.
    let carol_rs = user_token(&server, "store", "carol").await;
    let (s, v, _) = call(
        &server,
        "DELETE",
        &format!("{base}/{bob_ticket}"),
        Some(&carol_rs),
        None,
    )
    .await;
    assert_eq!(
        (s, v),
        (
            403,
            oauth(
                "not_authorised",
                &format!(
                    "permissions for [{album_id}] can be deleted only by the owner, the requester, or the resource server"
                )
            )
        )
    );
    let (s, v, _) = call(
        &server,
        "PUT",
        &base,
        Some(&carol_rs),
        Some(json!({"id": bob_ticket, "granted": false, "resource": album_id})),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            403,
            oauth(
                "not_authorised",
                &format!(
                    "permissions for [{album_id}] can be updated only by the owner or by the resource server"
                )
            )
        )
    );
    let bob_rs = user_token(&server, "store", "bob").await;
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("{base}/{bob_ticket}"),
        Some(&bob_rs),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert!(list("?requester=bob").await.is_empty());
    // Deleting the resource removes its tickets.
    let (s, _, _) = call(
        &server,
        "DELETE",
        &ps(REALM, &format!("/resource_set/{album_id}")),
        Some(&pat),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert!(list("").await.is_empty());
    data.cleanup().await;
}

#[tokio::test]
async fn stored_tickets_sqlite() {
    stored_tickets(Backend::Sqlite).await;
}

#[tokio::test]
async fn stored_tickets_postgres() {
    stored_tickets(Backend::Postgres).await;
}

/// `/realms/{r}/account/v1/resources{rest}` with a user's token.
async fn account(
    server: &TestServer,
    token: &str,
    method: &str,
    rest: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let path = format!("/realms/{REALM}/account/v1/resources{rest}");
    call(server, method, &path, Some(token), body).await
}

async fn user_id(server: &TestServer, admin: &str, name: &str) -> String {
    let (s, v, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{REALM}/users?username={name}&exact=true"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v[0]["id"].as_str().unwrap().to_string()
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| match x {
            Value::String(s) => s.clone(),
            o => o["name"].as_str().unwrap().to_string(),
        })
        .collect();
    out.sort();
    out
}

/// The permission-request flow end to end: a requester's denied UMA grant submits a request,
/// the owner sees it in the account API's `resources` endpoints and grants part of it, the
/// requester's next grant succeeds for that part only; the other endpoints' shapes, paging
/// and errors. Then deleting users and switching a resource server off take their tickets,
/// resources and `user` policy entries along (Keycloak's `UserSynchronizer`).
async fn account_resources(backend: Backend) {
    let Some((data, server)) = setup(backend).await else {
        return;
    };
    let pat = pat_of(&server, "store").await;
    let mut ids = Vec::new();
    for (name, scopes) in [
        ("album", json!(["view", "edit"])),
        ("notes", json!(["view"])),
    ] {
        let (s, v, _) = call(
            &server,
            "POST",
            &ps(REALM, "/resource_set"),
            Some(&pat),
            Some(
                json!({"name": name, "owner": "alice", "ownerManagedAccess": true,
                        "uris": [format!("/{name}")], "resource_scopes": scopes}),
            ),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["_id"].as_str().unwrap().to_string());
    }
    let (album, notes) = (ids[0].clone(), ids[1].clone());
    // The account roles (`manage-account`, `view-profile`) come with the realm's default roles,
    // which users of an imported realm hold only when the file says so.
    let admin = admin_token(&server).await;
    let (s, role, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/roles/default-roles-{REALM}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{role}");
    for name in ["alice", "bob", "carol"] {
        let id = user_id(&server, &admin, name).await;
        let path = format!("/admin/realms/{REALM}/users/{id}/role-mappings/realm");
        let (s, v, _) = call(&server, "POST", &path, Some(&admin), Some(json!([role]))).await;
        assert_eq!(s, 204, "{v}");
    }
    let alice = user_token(&server, "spa", "alice").await;
    let carol = user_token(&server, "spa", "carol").await;
    let bob = user_token(&server, "spa", "bob").await;

    // Carol asks and is told her request was submitted.
    let t = ticket(
        &server,
        &pat,
        json!([{"resource_id": album, "resource_scopes": ["view", "edit"]}]),
    )
    .await;
    let (s, v) = uma(&server, Some(&carol), None, &[("ticket", &t)]).await;
    assert_eq!((s, v), (403, oauth("access_denied", "request_submitted")));
    let (s, pending, _) = account(&server, &carol, "GET", "/pending-requests", None).await;
    assert_eq!(s, 200, "{pending}");
    assert_eq!(pending.as_array().unwrap().len(), 2, "{pending}");
    for p in pending.as_array().unwrap() {
        assert_eq!(p["_id"], json!(album));
        assert_eq!(p["name"], "album");
        assert_eq!(p["client"], json!({"clientId": "store"}));
        assert_eq!(p["scopes"].as_array().unwrap().len(), 1, "{p}");
    }
    assert_eq!(
        sorted(&json!([pending[0]["scopes"][0], pending[1]["scopes"][0]])),
        ["edit", "view"]
    );

    // Alice's resources: by name, with their scopes and client; paging with Links.
    let (s, mine, _) = account(&server, &alice, "GET", "", None).await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");
    assert_eq!(mine[0]["_id"], json!(album));
    assert_eq!(mine[0]["uris"], json!(["/album"]));
    assert_eq!(sorted(&mine[0]["scopes"]), ["edit", "view"]);
    assert_eq!(mine[1]["name"], "notes");
    let (s, v, h) = account(&server, &alice, "GET", "?first=0&max=1", None).await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let links: Vec<&str> = h
        .get_all("link")
        .iter()
        .map(|l| l.to_str().unwrap())
        .collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(
        links[0].ends_with("/account/v1/resources?first=1&max=1>; rel=\"next\""),
        "{links:?}"
    );
    let (_, v, h) = account(&server, &alice, "GET", "?first=1&max=1", None).await;
    assert_eq!(v[0]["name"], "notes");
    let links: Vec<&str> = h
        .get_all("link")
        .iter()
        .map(|l| l.to_str().unwrap())
        .collect();
    assert!(
        links.len() == 1 && links[0].contains("first=0&max=1>; rel=\"prev\""),
        "{links:?}"
    );
    let (_, v, _) = account(&server, &alice, "GET", "?name=ALB", None).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    let (_, v, _) = account(&server, &bob, "GET", "", None).await;
    assert_eq!(v, json!([]));
    // Unversioned, with a JSON Accept, as the account console asks.
    let r = crate::support::client()
        .get(server.url(&format!("/realms/{REALM}/account/resources/{album}")))
        .bearer_auth(&alice)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let one: Value = r.json().await.unwrap();
    assert_eq!(one["name"], "album");

    // The owner sees carol's request and grants `view` only.
    let (s, reqs, _) = account(
        &server,
        &alice,
        "GET",
        &format!("/{album}/permissions/requests"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{reqs}");
    assert_eq!(reqs.as_array().unwrap().len(), 1, "{reqs}");
    assert_eq!(reqs[0]["username"], "carol");
    assert_eq!(sorted(&reqs[0]["scopes"]), ["edit", "view"]);
    let perms = format!("/{album}/permissions");
    let (s, v, _) = account(
        &server,
        &alice,
        "PUT",
        &perms,
        Some(json!([{"username": "carol", "scopes": ["view"]}])),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (_, v, _) = account(&server, &carol, "GET", "/pending-requests", None).await;
    assert_eq!(v, json!([]), "granted `view`, `edit` dropped");
    let (s, v) = uma(
        &server,
        Some(&carol),
        None,
        &[("ticket", &t), ("response_mode", "permissions")],
    )
    .await;
    assert_eq!(
        (s, v),
        (
            200,
            json!([{"rsid": album, "rsname": "album", "scopes": ["view"]}])
        )
    );
    let (_, v, _) = account(&server, &alice, "GET", &perms, None).await;
    assert_eq!(
        v,
        json!([{"username": "carol", "firstName": "carol", "lastName": "Tester", "email": "carol@example.com", "scopes": ["view"]}])
    );
    // Her grant re-submitted the scope still denied (`edit`), as Keycloak's ticket-aware
    // collector does with `submit_request` (default true).
    let (_, v, _) = account(
        &server,
        &alice,
        "GET",
        &format!("/{album}/permissions/requests"),
        None,
    )
    .await;
    assert_eq!(
        v,
        json!([{"username": "carol", "firstName": "carol", "lastName": "Tester", "email": "carol@example.com", "scopes": ["edit"]}])
    );
    let (_, v, _) = account(&server, &carol, "GET", "/pending-requests", None).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["scopes"], json!([{"name": "edit"}]));
    let (_, v, _) = account(&server, &carol, "GET", "/shared-with-me", None).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["_id"], json!(album));
    assert_eq!(v[0]["scopes"], json!([{"name": "view"}]));
    let (_, v, _) = account(&server, &alice, "GET", "/shared-with-others", None).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        v[0]["permissions"],
        json!([{"username": "carol", "firstName": "carol", "lastName": "Tester", "email": "carol@example.com", "scopes": ["view"]}])
    );
    assert_eq!(v[0]["scopes"], json!([]));
    // The owner shares `edit` with bob directly: bob is allowed at once.
    let (s, _, _) = account(
        &server,
        &alice,
        "PUT",
        &perms,
        Some(json!([{"username": "bob", "scopes": ["edit"]}])),
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = uma(
        &server,
        Some(&bob),
        None,
        &[
            ("audience", "store"),
            ("permission", &format!("{album}#edit")),
            ("response_mode", "decision"),
        ],
    )
    .await;
    assert_eq!((s, v), (200, json!({"result": true})));
    // The user to share with, by name or e-mail; 204 when unknown.
    let (s, v, _) = account(
        &server,
        &alice,
        "GET",
        &format!("/{album}/user?value=bob"),
        None,
    )
    .await;
    assert_eq!((s, v["username"].clone()), (200, json!("bob")));
    let (s, _, _) = account(
        &server,
        &alice,
        "GET",
        &format!("/{album}/user?value=nobody"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    // Errors, with Keycloak's bodies.
    let (s, v, _) = account(&server, &bob, "GET", &format!("/{album}"), None).await;
    assert_eq!((s, v), (400, json!({"error": "invalid_resource"})));
    let (s, v, _) = account(&server, &alice, "GET", "/nope", None).await;
    assert_eq!((s, v), (404, json!({"error": "resource_not_found"})));
    let (s, v, _) = account(&server, &alice, "PUT", &perms, Some(json!([]))).await;
    assert_eq!((s, v), (400, json!({"error": "invalid_permissions"})));
    let (s, v, _) = account(
        &server,
        &alice,
        "PUT",
        &perms,
        Some(json!([{"username": "nobody", "scopes": ["view"]}])),
    )
    .await;
    assert_eq!((s, v), (404, json!({"error": "nobody"})));
    let (s, _, _) = call(
        &server,
        "GET",
        &format!("/realms/{REALM}/account/v1/resources"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);

    // Deleting users: alice's resources, the tickets she owns or asked for, and her place in
    // `user` policies go.
    let (s, clients, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId=store"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let rs = format!(
        "/admin/realms/{REALM}/clients/{}/authz/resource-server",
        clients[0]["id"].as_str().unwrap()
    );
    for (name, users) in [
        ("alice-and-bob", json!(["alice", "bob"])),
        ("alice-only", json!(["alice"])),
    ] {
        let (s, v, _) = call(
            &server,
            "POST",
            &format!("{rs}/policy/user"),
            Some(&admin),
            Some(json!({"name": name, "users": users})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, doc, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&pat),
        Some(json!({"name": "doc", "resource_scopes": ["view"]})),
    )
    .await;
    assert_eq!(s, 201, "{doc}");
    let (s, v, _) = call(&server, "POST", &ps(REALM, "/permission/ticket"), Some(&pat),
        Some(json!({"resource": doc["_id"], "scopeName": "view", "requesterName": "carol", "granted": true}))).await;
    assert_eq!(s, 200, "{v}");
    let tickets = |q: &'static str| {
        let (server, pat) = (&server, pat.clone());
        async move {
            let (s, v, _) = call(
                server,
                "GET",
                &ps(REALM, &format!("/permission/ticket{q}")),
                Some(&pat),
                None,
            )
            .await;
            assert_eq!(s, 200, "{v}");
            v.as_array().unwrap().len()
        }
    };
    assert_eq!(tickets("").await, 4);
    let (alice_id, carol_id) = (
        user_id(&server, &admin, "alice").await,
        user_id(&server, &admin, "carol").await,
    );
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/{REALM}/users/{alice_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        tickets("").await,
        1,
        "only the resource server's ticket for carol is left"
    );
    for id in [&album, &notes] {
        let (s, _, _) = call(
            &server,
            "GET",
            &ps(REALM, &format!("/resource_set/{id}")),
            Some(&pat),
            None,
        )
        .await;
        assert_eq!(s, 404, "alice's resource {id} is gone");
    }
    let (s, v, _) = call(
        &server,
        "GET",
        &format!("{rs}/policy?type=user"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&"alice-and-bob") && !names.contains(&"alice-only"),
        "{names:?}"
    );
    let kept = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "alice-and-bob")
        .unwrap();
    let (s, typed, _) = call(
        &server,
        "GET",
        &format!("{rs}/policy/user/{}", kept["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(typed["users"].as_array().unwrap().len(), 1, "{typed}");
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/{REALM}/users/{carol_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(tickets("").await, 0, "carol's ticket as requester is gone");

    // Switching a resource server off removes its tickets: none when it is switched on again.
    let billing = pat_of(&server, "billing").await;
    let (s, r, _) = call(
        &server,
        "POST",
        &ps(REALM, "/resource_set"),
        Some(&billing),
        Some(json!({"name": "invoice", "resource_scopes": ["pay"]})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let (s, v, _) = call(&server, "POST", &ps(REALM, "/permission/ticket"), Some(&billing),
        Some(json!({"resource": r["_id"], "scopeName": "pay", "requesterName": "bob", "granted": true}))).await;
    assert_eq!(s, 200, "{v}");
    let (_, clients, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId=billing"),
        Some(&admin),
        None,
    )
    .await;
    let client = format!(
        "/admin/realms/{REALM}/clients/{}",
        clients[0]["id"].as_str().unwrap()
    );
    for on in [false, true] {
        let (s, v, _) = call(
            &server,
            "PUT",
            &client,
            Some(&admin),
            Some(json!({"clientId": "billing", "authorizationServicesEnabled": on})),
        )
        .await;
        assert_eq!(s, 204, "{v}");
    }
    let billing = pat_of(&server, "billing").await;
    let (s, v, _) = call(
        &server,
        "GET",
        &ps(REALM, "/permission/ticket"),
        Some(&billing),
        None,
    )
    .await;
    assert_eq!((s, v), (200, json!([])));
    data.cleanup().await;
}

#[tokio::test]
async fn account_resources_sqlite() {
    account_resources(Backend::Sqlite).await;
}

#[tokio::test]
async fn account_resources_postgres() {
    account_resources(Backend::Postgres).await;
}
