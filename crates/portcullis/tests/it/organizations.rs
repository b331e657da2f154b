//! Keycloak 26 organizations in tokens: the built-in `organization` client scope with its
//! `oidc-organization-membership-mapper`, requested as `organization`, `organization:<alias>`
//! and `organization:*`, for users in no, one and two organizations; the mapper's claim
//! shapes (`addOrganizationId`, `addOrganizationAttributes`, `multivalued`, `jsonType.label`)
//! in the access token, ID token, userinfo and introspection, as Keycloak's
//! `OrganizationOIDCProtocolMapperTest` has them.

use serde_json::{json, Value};

use crate::support::*;

const ACME_ID: &str = "5f0c0a52-6f3e-4a43-9d55-2c5c7a1c0001";
const GLOBEX_ID: &str = "5f0c0a52-6f3e-4a43-9d55-2c5c7a1c0002";

fn org_realm(name: &str, enabled: bool) -> Value {
    let user = |u: &str| {
        json!({"username": u, "enabled": true, "firstName": u, "lastName": "Tester",
        "email": format!("{u}@example.com"), "credentials": [{"type": "password", "value": format!("{u}-pw")}]})
    };
    json!({
        "realm": name,
        "organizationsEnabled": enabled,
        "organizations": [
            {"id": ACME_ID, "name": "Acme Inc", "alias": "acme", "enabled": true,
             "attributes": {"tier": ["gold"], "region": ["eu", "us"]},
             "domains": [{"name": "acme.example", "verified": false}],
             "members": [{"username": "solo", "membershipType": "UNMANAGED"}, {"username": "duo"}]},
            {"id": GLOBEX_ID, "name": "globex", "enabled": true, "attributes": {"tier": ["silver"]},
             "members": [{"username": "duo"}, {"username": "service-account-app"}]},
            {"name": "Dormant", "alias": "dormant", "enabled": false,
             "members": [{"username": "solo"}, {"username": "dormie"}]}
        ],
        "clients": [
            {"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true, "serviceAccountsEnabled": true,
             "defaultClientScopes": ["basic", "profile", "roles"], "optionalClientScopes": ["organization", "offline_access"]},
            {"clientId": "plain", "publicClient": true, "directAccessGrantsEnabled": true,
             "defaultClientScopes": ["basic", "profile"], "optionalClientScopes": []}
        ],
        "users": [user("solo"), user("duo"), user("loner"), user("dormie")]
    })
}

struct Orgs {
    _data: Data,
    server: TestServer,
}

impl Orgs {
    async fn start() -> Orgs {
        let data = Data::new(Backend::Sqlite).await.unwrap();
        let server = start_with(
            &data,
            &[org_realm("orgs", true), org_realm("orgs-off", false)],
        )
        .await;
        Orgs {
            _data: data,
            server,
        }
    }

    fn token_url(&self, realm: &str) -> String {
        self.server
            .url(&format!("/realms/{realm}/protocol/openid-connect/token"))
    }

    /// Password grant of `user` at `client` with `scope` (none when empty).
    async fn password(&self, realm: &str, client: &str, user: &str, scope: &str) -> (u16, Value) {
        let pw = format!("{user}-pw");
        let scope: &[(&str, &str)] = if scope.is_empty() {
            &[]
        } else {
            &[("scope", scope)]
        };
        let secret = (client == "app").then_some("app-secret");
        password_grant(&self.server, realm, client, secret, user, &pw, scope).await
    }

    async fn ok(&self, user: &str, scope: &str) -> Value {
        let (s, body) = self.password("orgs", "app", user, scope).await;
        assert_eq!(s, 200, "{user} {scope}: {body}");
        body
    }

    async fn userinfo(&self, realm: &str, access: &str) -> Value {
        let r = client()
            .get(
                self.server
                    .url(&format!("/realms/{realm}/protocol/openid-connect/userinfo")),
            )
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn introspect(&self, realm: &str, token: &str) -> Value {
        let (s, body, _) = post_form(
            &self.server.url(&format!(
                "/realms/{realm}/protocol/openid-connect/token/introspect"
            )),
            Some(("app", "app-secret")),
            &[("token", token)],
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(body["active"], true, "{body}");
        body
    }

    /// Sets (or, with `None`, removes) keys of the `organization` scope's mapper config
    /// through the Admin API, as Keycloak's tests do.
    async fn set_mapper_config(&self, changes: &[(&str, Option<&str>)]) {
        let admin = admin_token(&self.server).await;
        let s = &self.server;
        let base = "/admin/realms/orgs/client-scopes";
        let (_, scopes, _) = call(s, "GET", base, Some(&admin), None).await;
        let scope_id = scopes
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "organization")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let models = format!("{base}/{scope_id}/protocol-mappers/models");
        let (_, mappers, _) = call(s, "GET", &models, Some(&admin), None).await;
        let mut mapper = mappers
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["protocolMapper"] == "oidc-organization-membership-mapper")
            .unwrap()
            .clone();
        let config = mapper["config"].as_object_mut().unwrap();
        for (k, v) in changes {
            match v {
                Some(v) => config.insert(k.to_string(), json!(v)),
                None => config.remove(*k),
            };
        }
        let id = mapper["id"].as_str().unwrap().to_string();
        let (status, body, _) = call(
            s,
            "PUT",
            &format!("{models}/{id}"),
            Some(&admin),
            Some(mapper),
        )
        .await;
        assert_eq!(status, 204, "{body}");
    }
}

fn scopes_of(body: &Value) -> Vec<String> {
    body["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect()
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn organization_scope_forms_yield_keycloaks_claims() {
    let o = Orgs::start().await;

    // One organization, `organization` (the built-in scope, optional on the client): the
    // list of aliases in the access token, ID token, userinfo and introspection. The built-in
    // mapper has no `userinfo.token.claim`: userinfo follows `id.token.claim`.
    let body = o.ok("solo", "openid organization").await;
    assert!(scopes_of(&body).contains(&"organization".to_string()));
    let access = payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["organization"], json!(["acme"]), "{access}");
    assert!(scopes_of(&access).contains(&"organization".to_string()));
    let id = payload(body["id_token"].as_str().unwrap());
    assert_eq!(id["organization"], json!(["acme"]));
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        o.userinfo("orgs", token).await["organization"],
        json!(["acme"])
    );
    assert_eq!(
        o.introspect("orgs", token).await["organization"],
        json!(["acme"])
    );

    // No organization, or two (non-browser grants have no organization selection): the
    // scope is granted, without a claim.
    for user in ["loner", "duo", "dormie"] {
        let body = o.ok(user, "openid organization").await;
        assert!(scopes_of(&body).contains(&"organization".to_string()));
        let access = payload(body["access_token"].as_str().unwrap());
        let id = payload(body["id_token"].as_str().unwrap());
        assert!(access.get("organization").is_none(), "{user}: {access}");
        assert!(id.get("organization").is_none(), "{user}");
    }

    // `organization:*`: every enabled organization of the user, the scope under that name.
    let body = o.ok("duo", "openid organization:*").await;
    let scopes = scopes_of(&body);
    assert!(scopes.contains(&"organization:*".to_string()), "{scopes:?}");
    assert!(!scopes.contains(&"organization".to_string()), "{scopes:?}");
    let access = payload(body["access_token"].as_str().unwrap());
    assert_eq!(sorted(&access["organization"]), ["acme", "globex"]);
    assert_eq!(access["scope"], body["scope"]);
    assert_eq!(
        sorted(&payload(body["id_token"].as_str().unwrap())["organization"]),
        ["acme", "globex"]
    );
    // A refresh keeps the scope and the claim.
    let (s, refreshed, _) = post_form(
        &o.token_url("orgs"),
        Some(("app", "app-secret")),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 200, "{refreshed}");
    assert!(scopes_of(&refreshed).contains(&"organization:*".to_string()));
    assert_eq!(
        sorted(&payload(refreshed["access_token"].as_str().unwrap())["organization"]),
        ["acme", "globex"]
    );
    // A disabled organization never counts.
    let access = payload(
        o.ok("solo", "organization:*").await["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(access["organization"], json!(["acme"]));

    // `organization:<alias>`: that organization for its members.
    let body = o.ok("duo", "openid organization:globex").await;
    assert!(scopes_of(&body).contains(&"organization:globex".to_string()));
    let access = payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["organization"], json!(["globex"]));
    assert_eq!(
        payload(body["id_token"].as_str().unwrap())["organization"],
        json!(["globex"])
    );
    assert_eq!(
        o.userinfo("orgs", body["access_token"].as_str().unwrap())
            .await["organization"],
        json!(["globex"])
    );

    // A dynamic form that yields nothing for the user is not granted: no scope, no claim.
    for (user, scope) in [
        ("loner", "openid organization:acme"),
        ("loner", "openid organization:*"),
        ("solo", "openid organization:globex"),
        ("dormie", "openid organization:*"),
    ] {
        let body = o.ok(user, scope).await;
        let scopes = scopes_of(&body);
        assert!(
            !scopes.iter().any(|s| s.starts_with("organization")),
            "{user} {scope}: {scopes:?}"
        );
        let access = payload(body["access_token"].as_str().unwrap());
        assert!(access.get("organization").is_none(), "{user} {scope}");
        assert!(scopes_of(&access).contains(&"openid".to_string()));
    }

    // Without the scope there is no claim.
    let body = o.ok("solo", "openid").await;
    assert!(!scopes_of(&body).contains(&"organization".to_string()));
    assert!(payload(body["access_token"].as_str().unwrap())
        .get("organization")
        .is_none());

    // Refused as Keycloak refuses them: an unknown or disabled organization, two
    // organization scopes, a client without the organization scope.
    for (client, scope) in [
        ("app", "organization:nope"),
        ("app", "organization:dormant"),
        ("app", "openid organization organization:acme"),
        ("app", "organization:acme organization:*"),
        ("plain", "organization:*"),
        ("plain", "organization"),
    ] {
        let (s, body) = o.password("orgs", client, "duo", scope).await;
        assert_eq!(s, 400, "{client} {scope}: {body}");
        assert_eq!(body["error"], "invalid_scope", "{client} {scope}");
    }

    // Client tokens: the service account's organizations.
    let (s, body, _) = post_form(
        &o.token_url("orgs"),
        Some(("app", "app-secret")),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "organization"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let access = payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["organization"], json!(["globex"]));
    assert!(scopes_of(&body).contains(&"organization".to_string()));
    let (s, body, _) = post_form(
        &o.token_url("orgs"),
        Some(("app", "app-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200);
    assert!(payload(body["access_token"].as_str().unwrap())
        .get("organization")
        .is_none());

    // `organizationsEnabled: false`: no organization counts; a named one is refused.
    let (s, body) = o
        .password("orgs-off", "app", "solo", "openid organization")
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(scopes_of(&body).contains(&"organization".to_string()));
    assert!(payload(body["access_token"].as_str().unwrap())
        .get("organization")
        .is_none());
    let (s, body) = o
        .password("orgs-off", "app", "duo", "openid organization:*")
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(!scopes_of(&body).contains(&"organization:*".to_string()));
    assert!(payload(body["access_token"].as_str().unwrap())
        .get("organization")
        .is_none());
    let (s, body) = o
        .password("orgs-off", "app", "solo", "organization:acme")
        .await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_scope")));
}

#[tokio::test]
async fn mapper_config_variants_shape_the_claim() {
    let o = Orgs::start().await;
    let claims = |body: &Value| {
        (
            payload(body["access_token"].as_str().unwrap())["organization"].clone(),
            payload(body["id_token"].as_str().unwrap())["organization"].clone(),
        )
    };

    // `addOrganizationId`: a map keyed by alias, whatever `jsonType.label` says.
    o.set_mapper_config(&[
        ("addOrganizationId", Some("true")),
        ("jsonType.label", Some("boolean")),
    ])
    .await;
    let body = o.ok("duo", "openid organization:*").await;
    let expected = json!({"acme": {"id": ACME_ID}, "globex": {"id": GLOBEX_ID}});
    assert_eq!(claims(&body), (expected.clone(), expected.clone()));
    assert_eq!(
        o.userinfo("orgs", body["access_token"].as_str().unwrap())
            .await["organization"],
        expected
    );

    // `addOrganizationAttributes` too: the attributes as lists beside the id.
    o.set_mapper_config(&[("addOrganizationAttributes", Some("true"))])
        .await;
    let body = o.ok("solo", "openid organization:acme").await;
    assert_eq!(
        claims(&body).0,
        json!({"acme": {"id": ACME_ID, "tier": ["gold"], "region": ["eu", "us"]}})
    );

    // Only attributes, JSON type: no id.
    o.set_mapper_config(&[
        ("addOrganizationId", Some("false")),
        ("jsonType.label", Some("JSON")),
    ])
    .await;
    let body = o.ok("duo", "openid organization:*").await;
    assert_eq!(
        claims(&body).0,
        json!({"acme": {"tier": ["gold"], "region": ["eu", "us"]}, "globex": {"tier": ["silver"]}})
    );

    // JSON type without the flags: aliases mapping to empty objects.
    o.set_mapper_config(&[("addOrganizationAttributes", Some("false"))])
        .await;
    let body = o.ok("solo", "openid organization").await;
    assert_eq!(claims(&body).0, json!({"acme": {}}));

    // Single-valued: one alias as a string.
    o.set_mapper_config(&[
        ("multivalued", Some("false")),
        ("jsonType.label", Some("String")),
    ])
    .await;
    let body = o.ok("duo", "openid organization:*").await;
    let (access, id) = claims(&body);
    assert!(
        access == json!("acme") || access == json!("globex"),
        "{access}"
    );
    assert_eq!(id, access);

    // Another claim name, in the access token (and so introspection) only.
    o.set_mapper_config(&[
        ("multivalued", Some("true")),
        ("claim.name", Some("tenant.orgs")),
        ("id.token.claim", Some("false")),
        ("userinfo.token.claim", Some("false")),
    ])
    .await;
    let body = o.ok("solo", "openid organization").await;
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(payload(token)["tenant"]["orgs"], json!(["acme"]));
    assert!(payload(token).get("organization").is_none());
    assert!(payload(body["id_token"].as_str().unwrap())
        .get("tenant")
        .is_none());
    assert!(o.userinfo("orgs", token).await.get("tenant").is_none());
    assert_eq!(
        o.introspect("orgs", token).await["tenant"]["orgs"],
        json!(["acme"])
    );
}
