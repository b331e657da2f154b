//! The identity-provider Admin API of Keycloak 26, `/admin/realms/{realm}/identity-provider`,
//! over HTTP: create (201 + Location, 409 on a taken alias, 400 on an unknown provider id or a
//! field Keycloak's representation lacks), list (search, brief, paging), get with the client
//! secret masked, update keeping the secret when the mask is sent back, mappers CRUD, and
//! delete taking the provider's mappers and organization links along.

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "brokered";

fn path(rest: &str) -> String {
    format!("/admin/realms/{REALM}/identity-provider/instances{rest}")
}

#[tokio::test]
async fn identity_providers_admin_api_sqlite() {
    identity_providers_admin_api(Backend::Sqlite).await;
}

#[tokio::test]
async fn identity_providers_admin_api_postgres() {
    identity_providers_admin_api(Backend::Postgres).await;
}

async fn identity_providers_admin_api(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(
        &data,
        &[json!({"realm": REALM, "enabled": true, "organizationsEnabled": true})],
    )
    .await;
    let token = admin_token(&server).await;
    let api = |method: &'static str, rest: String, body: Option<Value>| {
        let server = &server;
        let token = token.clone();
        async move { call(server, method, &path(&rest), Some(&token), body).await }
    };

    // No token: 401.
    let (s, _, _) = call(&server, "GET", &path(""), None, None).await;
    assert_eq!(s, 401);

    // Create.
    let (s, v, h) = api(
        "POST",
        String::new(),
        Some(json!({"alias": "github", "providerId": "github",
                    "config": {"clientId": "cid", "clientSecret": "top-secret"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let location = h["location"].to_str().unwrap();
    assert!(location.ends_with(&path("/github")), "{location}");

    // Duplicate alias: Keycloak's 409.
    let (s, v, _) = api(
        "POST",
        String::new(),
        Some(json!({"alias": "github", "providerId": "oidc"})),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(
        v,
        json!({"errorMessage": "Identity Provider github already exists"})
    );

    // Unknown provider id: 400 with Keycloak's message; nothing written.
    let (s, v, _) = api(
        "POST",
        String::new(),
        Some(json!({"alias": "something", "providerId": "does-not-exist"})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!({"errorMessage": "Invalid identity provider id [does-not-exist]"})
    );
    // A field IdentityProviderRepresentation lacks: refused as Jackson refuses it.
    let (s, _, _) = api(
        "POST",
        String::new(),
        Some(json!({"alias": "other", "providerId": "oidc", "bogus": 1})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, v, _) = api(
        "POST",
        String::new(),
        Some(json!({"alias": "corp-oidc", "providerId": "oidc", "displayName": "Corp"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    // List: both, in creation order, secrets masked; search and brief.
    let (s, list, _) = api("GET", String::new(), None).await;
    assert_eq!(s, 200);
    let aliases: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alias"].as_str().unwrap())
        .collect();
    assert_eq!(aliases, ["github", "corp-oidc"]);
    assert_eq!(list[0]["config"]["clientSecret"], "**********");
    let (_, found, _) = api("GET", "?search=corp".into(), None).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["alias"], "corp-oidc");
    let (_, found, _) = api("GET", "?search=*oid*".into(), None).await;
    assert_eq!(found[0]["alias"], "corp-oidc");
    let (_, found, _) = api("GET", "?briefRepresentation=true&max=1".into(), None).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["config"], json!({}));

    // Get: Keycloak's fields and defaults, the secret masked.
    let (s, idp, _) = api("GET", "/github".into(), None).await;
    assert_eq!(s, 200);
    assert_eq!(idp["providerId"], "github");
    assert_eq!(idp["enabled"], true);
    assert_eq!(idp["firstBrokerLoginFlowAlias"], "first broker login");
    assert_eq!(idp["config"]["clientId"], "cid");
    assert_eq!(idp["config"]["clientSecret"], "**********");
    let internal_id = idp["internalId"].as_str().unwrap().to_string();
    let (s, by_id, _) = api("GET", format!("/{internal_id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(by_id["alias"], "github");
    let (s, v, _) = api("GET", "/does-not-exist".into(), None).await;
    assert_eq!(s, 404);
    assert_eq!(v["error"], "HTTP 404 Not Found");

    // Update with the masked secret sent back: the stored secret stays (the export shows it
    // masked too, so read the stored document through a realm file export).
    let mut changed = idp.clone();
    changed["trustEmail"] = json!(true);
    changed["config"]["clientId"] = json!("cid2");
    let (s, v, _) = api("PUT", "/github".into(), Some(changed.clone())).await;
    assert_eq!(s, 204, "{v}");
    let (_, idp, _) = api("GET", "/github".into(), None).await;
    assert_eq!(idp["trustEmail"], true);
    assert_eq!(idp["config"]["clientId"], "cid2");
    assert_eq!(idp["internalId"], internal_id.as_str());
    let mut renamed = changed.clone();
    renamed["alias"] = json!("gh");
    let (s, v, _) = api("PUT", "/github".into(), Some(renamed)).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["errorMessage"],
        "Identity Provider alias cannot be changed"
    );
    let (s, _, _) = api("PUT", "/nope".into(), Some(changed.clone())).await;
    assert_eq!(s, 404);

    // Mappers.
    let mapper = json!({"name": "m1", "identityProviderAlias": "github",
                        "identityProviderMapper": "hardcoded-attribute-idp-mapper",
                        "config": {"attribute": "a", "attribute.value": "v", "syncMode": "INHERIT"}});
    let (s, v, h) = api("POST", "/github/mappers".into(), Some(mapper.clone())).await;
    assert_eq!(s, 201, "{v}");
    let loc = h["location"].to_str().unwrap().to_string();
    let mapper_id = loc.rsplit('/').next().unwrap().to_string();
    assert!(loc.ends_with(&path(&format!("/github/mappers/{mapper_id}"))));
    let (s, _, _) = api("POST", "/does-not-exist/mappers".into(), Some(json!({}))).await;
    assert_eq!(s, 404);
    let (s, v, _) = api("POST", "/github/mappers".into(), Some(mapper.clone())).await;
    assert_eq!(s, 400, "same name twice: {v}");
    let (_, ms, _) = api("GET", "/github/mappers".into(), None).await;
    assert_eq!(ms.as_array().unwrap().len(), 1);
    assert_eq!(ms[0]["id"], mapper_id.as_str());
    assert_eq!(ms[0]["config"]["attribute"], "a");
    let (_, ms2, _) = api("GET", "/corp-oidc/mappers".into(), None).await;
    assert_eq!(ms2, json!([]));
    let mut m = ms[0].clone();
    m["config"]["attribute.value"] = json!("w");
    let (s, _, _) = api("PUT", format!("/github/mappers/{mapper_id}"), Some(m)).await;
    assert_eq!(s, 204);
    let (s, got, _) = api("GET", format!("/github/mappers/{mapper_id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(got["config"]["attribute.value"], "w");
    let (s, v, _) = api("GET", "/github/mappers/nope".into(), None).await;
    assert_eq!((s, v["error"].clone()), (404, json!("Model not found")));
    let (s, v, _) = api(
        "POST",
        "/github/mappers".into(),
        Some(json!({"name": "m2", "identityProviderMapper": "x", "unknownField": true})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, _, _) = api(
        "POST",
        "/github/mappers".into(),
        Some(json!({"name": "m2", "identityProviderMapper": "hardcoded-role-idp-mapper"})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, ms, _) = api("GET", "/github/mappers".into(), None).await;
    let m2 = ms
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "m2")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _, _) = api("DELETE", format!("/github/mappers/{m2}"), None).await;
    assert_eq!(s, 204);
    let (s, _, _) = api("DELETE", format!("/github/mappers/{m2}"), None).await;
    assert_eq!(s, 404);

    // Linked to an organization: reads show organizationId; realmOnly leaves it out.
    let (s, _, h) = call(
        &server,
        "POST",
        &format!("/admin/realms/{REALM}/organizations"),
        Some(&token),
        Some(json!({"name": "Org", "alias": "org", "domains": [{"name": "org.example"}]})),
    )
    .await;
    assert_eq!(s, 201);
    let org_id = h["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = client()
        .post(server.url(&format!(
            "/admin/realms/{REALM}/organizations/{org_id}/identity-providers"
        )))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("github")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (_, idp, _) = api("GET", "/github".into(), None).await;
    assert_eq!(idp["organizationId"], org_id.as_str());
    let (_, only, _) = api("GET", "?realmOnly=true".into(), None).await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["alias"], "corp-oidc");
    // Updating through this API keeps the link.
    let (s, _, _) = api("PUT", "/github".into(), Some(idp.clone())).await;
    assert_eq!(s, 204);
    let (_, idp, _) = api("GET", "/github".into(), None).await;
    assert_eq!(idp["organizationId"], org_id.as_str());

    // The stored secret survived the masked round trips.
    let stored = data.export(REALM);
    let gh = stored["identityProviders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["alias"] == "github")
        .unwrap();
    assert_eq!(gh["config"]["clientSecret"], "top-secret");
    assert_eq!(gh["config"]["clientId"], "cid2");

    // Delete: the provider, its mappers, its organization link.
    let (s, _, _) = api("DELETE", "/github".into(), None).await;
    assert_eq!(s, 204);
    let (s, _, _) = api("GET", "/github".into(), None).await;
    assert_eq!(s, 404);
    let (s, _, _) = api("GET", "/github/mappers".into(), None).await;
    assert_eq!(s, 404);
    let (s, _, _) = api("DELETE", "/github".into(), None).await;
    assert_eq!(s, 404);
    let (_, org_idps, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/organizations/{org_id}/identity-providers"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(org_idps, json!([]));
    // Recreated under the same alias: no mappers, no link inherited.
    let (s, _, _) = api(
        "POST",
        String::new(),
        Some(json!({"alias": "github", "providerId": "github"})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, ms, _) = api("GET", "/github/mappers".into(), None).await;
    assert_eq!(ms, json!([]));
    let (_, idp, _) = api("GET", "/github".into(), None).await;
    assert!(idp.get("organizationId").is_none(), "{idp}");
    data.cleanup().await;
}

/// A user's links to identity providers (`UserResource`'s `federated-identity`): added with
/// 204, a second link to the same provider 409, listed only while the realm has the provider
/// (a link to an unknown provider is kept but not listed, as Keycloak's), removed with 204 and
/// then 404 `Link not found`; an unknown user is 404 `User not found`.
#[tokio::test]
async fn user_links_to_identity_providers() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let s = start_with(
        &data,
        &[json!({"realm": "fed", "enabled": true, "users": [{"username": "ann", "enabled": true}]})],
    )
    .await;
    let t = admin_token(&s).await;
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms/fed/identity-provider/instances",
        Some(&t),
        Some(json!({"alias": "github", "providerId": "github",
                    "config": {"clientId": "gh", "clientSecret": "gh-secret"}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, users, _) = call(
        &s,
        "GET",
        "/admin/realms/fed/users?username=ann",
        Some(&t),
        None,
    )
    .await;
    let ann = users[0]["id"].as_str().unwrap().to_string();
    let link =
        |provider: &str| format!("/admin/realms/fed/users/{ann}/federated-identity/{provider}");
    let body = json!({"identityProvider": "github", "userId": "gh-42", "userName": "ann-gh"});
    for provider in ["github", "gitlab"] {
        let (status, out, _) =
            call(&s, "POST", &link(provider), Some(&t), Some(body.clone())).await;
        assert_eq!(status, 204, "{provider}: {out}");
    }
    let (status, out, _) = call(&s, "POST", &link("github"), Some(&t), Some(body.clone())).await;
    assert_eq!(
        (status, out["errorMessage"].as_str()),
        (409, Some("User is already linked with provider"))
    );
    let (status, out, _) = call(
        &s,
        "POST",
        &link("github"),
        Some(&t),
        Some(json!({"bogus": 1})),
    )
    .await;
    assert_eq!(status, 400, "{out}");
    let list_path = format!("/admin/realms/fed/users/{ann}/federated-identity");
    let (status, list, _) = call(&s, "GET", &list_path, Some(&t), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!([{"identityProvider": "github", "userId": "gh-42", "userName": "ann-gh"}])
    );
    let (status, out, _) = call(
        &s,
        "POST",
        "/admin/realms/fed/users/no-such-user/federated-identity/github",
        Some(&t),
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (status, out["error"].as_str()),
        (404, Some("User not found"))
    );
    for provider in ["github", "gitlab"] {
        let (status, _, _) = call(&s, "DELETE", &link(provider), Some(&t), None).await;
        assert_eq!(status, 204, "{provider}");
    }
    let (status, out, _) = call(&s, "DELETE", &link("github"), Some(&t), None).await;
    assert_eq!(
        (status, out["error"].as_str()),
        (404, Some("Link not found"))
    );
    let (_, list, _) = call(&s, "GET", &list_path, Some(&t), None).await;
    assert_eq!(list, json!([]));
    data.cleanup().await;
}
