//! The Admin API of Keycloak 26 organizations, `/admin/realms/{realm}/organizations`, over
//! HTTP on SQLite and PostgreSQL: the switch, create/get/list/search/count/update/delete with
//! Keycloak's shapes and error bodies, members (raw user id bodies), linked identity
//! providers, the token claim following membership changes made here, export, and what user,
//! organization and realm deletes take along.

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "tenants";

fn realm_json(name: &str, enabled: bool, idp: &str) -> Value {
    let user = |u: &str| {
        json!({"username": u, "email": format!("{u}@{u}.example"), "firstName": u.to_uppercase(), "lastName": "Tester", "enabled": true,
               "credentials": [{"type": "password", "value": format!("{u}-pw")}]})
    };
    json!({
        "realm": name,
        "organizationsEnabled": enabled,
        "identityProviders": [
            {"alias": idp, "providerId": "oidc", "enabled": true,
             "config": {"clientId": "broker", "clientSecret": "s3cret"}}
        ],
        "clients": [
            {"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true,
             "defaultClientScopes": ["basic", "profile"], "optionalClientScopes": ["organization"]}
        ],
        "users": [user("alice"), user("bob"), user("managed")],
        "organizations": [
            {"name": "Imported", "alias": "imported",
             "members": [{"username": "managed", "membershipType": "MANAGED"}, {"username": "bob"}]}
        ]
    })
}

struct Api<'a> {
    server: &'a TestServer,
    token: String,
}

impl Api<'_> {
    fn path(rest: &str) -> String {
        format!("/admin/realms/{REALM}/organizations{rest}")
    }

    async fn call(&self, method: &str, rest: &str, body: Option<Value>) -> (u16, Value, HeaderMap) {
        call(
            self.server,
            method,
            &Self::path(rest),
            Some(&self.token),
            body,
        )
        .await
    }

    async fn get(&self, rest: &str) -> Value {
        let (s, v, _) = self.call("GET", rest, None).await;
        assert_eq!(s, 200, "GET {rest}: {v}");
        v
    }

    /// A request with a raw text body (as python-keycloak sends a user id or an alias).
    async fn raw(&self, method: &str, rest: &str, body: &str) -> (u16, Value, HeaderMap) {
        let r = client()
            .request(method.parse().unwrap(), self.server.url(&Self::path(rest)))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }

    /// Creates an organization: its id from `Location`.
    async fn create(&self, body: Value) -> String {
        let (s, v, h) = self.call("POST", "", Some(body.clone())).await;
        assert_eq!(s, 201, "{body}: {v}");
        assert_eq!(v, json!(""), "no body");
        let loc = h["location"].to_str().unwrap().to_string();
        assert!(loc.contains(&Self::path("/")), "{loc}");
        loc.rsplit('/').next().unwrap().to_string()
    }

    async fn error(&self, method: &str, rest: &str, body: Option<Value>) -> (u16, Value) {
        let (s, v, _) = self.call(method, rest, body).await;
        (s, v)
    }

    async fn count(&self) -> i64 {
        self.get("/count").await.as_i64().unwrap()
    }
}

fn msg(m: &str) -> Value {
    json!({ "errorMessage": m })
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect()
}

async fn user_id(api: &Api<'_>, username: &str) -> String {
    let (_, users, _) = call(
        api.server,
        "GET",
        &format!("/admin/realms/{REALM}/users?username={username}&exact=true"),
        Some(&api.token),
        None,
    )
    .await;
    users[0]["id"].as_str().unwrap().to_string()
}

/// The `organization` claim of alice's token with `scope`, and its `scope`.
async fn claim(server: &TestServer, user: &str, scope: &str) -> (u16, Value) {
    let pw = format!("{user}-pw");
    let (s, body) = password_grant(
        server,
        REALM,
        "app",
        Some("app-secret"),
        user,
        &pw,
        &[("scope", scope)],
    )
    .await;
    if s != 200 {
        return (s, body);
    }
    (
        s,
        payload(body["access_token"].as_str().unwrap())["organization"].clone(),
    )
}

#[tokio::test]
async fn organizations_admin_api_sqlite() {
    organizations_admin_api(Backend::Sqlite).await;
}

#[tokio::test]
async fn organizations_admin_api_postgres() {
    organizations_admin_api(Backend::Postgres).await;
}

async fn organizations_admin_api(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(
        &data,
        &[
            realm_json(REALM, false, "github"),
            realm_json("elsewhere", true, "foreign"),
        ],
    )
    .await;
    let api = Api {
        server: &server,
        token: admin_token(&server).await,
    };

    // Switched off: every path answers Keycloak's 404, after the token is checked.
    let off = (404, msg("Organizations not enabled for this realm."));
    assert_eq!(api.error("GET", "", None).await, off);
    assert_eq!(api.error("POST", "", Some(json!({"name": "x"}))).await, off);
    assert_eq!(api.error("GET", "/count", None).await, off);
    assert_eq!(api.error("GET", "/some-id/members", None).await, off);
    assert_eq!(
        api.error("GET", "/members/some-id/organizations", None)
            .await,
        off
    );
    let (s, _, _) = call(&server, "GET", &Api::path(""), None, None).await;
    assert_eq!(s, 401);
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}"),
        Some(&api.token),
        Some(json!({"organizationsEnabled": true})),
    )
    .await;
    assert_eq!(s, 204);

    // The imported organization is there, with its members from the realm file.
    let listed = api.get("").await;
    assert_eq!(names(&listed), ["Imported"]);
    let imported = listed[0]["id"].as_str().unwrap().to_string();
    let members = api.get(&format!("/{imported}/members")).await;
    let kinds: Vec<(&str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap(),
                m["membershipType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("bob", "UNMANAGED"), ("managed", "MANAGED")]);

    // Create: 201 with Location, the alias and id Keycloak would give.
    let acme = api
        .create(json!({"id": "11111111-2222-3333-4444-555555555555", "name": "Acme Inc", "alias": "acme",
            "description": "d", "redirectUrl": "https://acme.example/welcome",
            "attributes": {"tier": ["gold"], "region": ["eu", "us"]},
            "domains": [{"name": "Acme.com"}, {"name": ""}]}))
        .await;
    assert_ne!(
        acme, "11111111-2222-3333-4444-555555555555",
        "the body's id is not used"
    );
    assert_eq!(
        api.get(&format!("/{acme}")).await,
        json!({"id": acme, "name": "Acme Inc", "alias": "acme", "enabled": true, "description": "d",
               "redirectUrl": "https://acme.example/welcome",
               "attributes": {"tier": ["gold"], "region": ["eu", "us"]},
               "domains": [{"name": "acme.com", "verified": false}]})
    );
    let globex = api
        .create(json!({"name": "globex", "domains": [{"name": "globex.com", "verified": true}]}))
        .await;
    assert_eq!(api.get(&format!("/{globex}")).await["alias"], "globex");

    // Bad input: Keycloak's status and body, and nothing written.
    let cases: Vec<(Value, u16, Value)> = vec![
        (json!({}), 400, msg("Name can not be null")),
        (json!({"name": "  "}), 400, msg("Name can not be null")),
        (
            json!({"name": "a b"}),
            400,
            msg("Name cannot be used as alias: Empty Space not allowed."),
        ),
        (
            json!({"name": "with/slash"}),
            400,
            msg("Name cannot be used as alias: Character '/' not allowed."),
        ),
        (
            json!({"name": "ok", "alias": "a#b"}),
            400,
            json!({"error": "Character '#' not allowed.", "error_description": "For more on this error consult the server log."}),
        ),
        (
            json!({"name": "Acme Inc", "alias": "acme2"}),
            409,
            msg("A organization with the same name already exists."),
        ),
        (
            json!({"name": "Other", "alias": "acme"}),
            409,
            msg("A organization with the same alias already exists"),
        ),
        (
            json!({"name": "d2", "domains": [{"name": "ACME.com"}]}),
            400,
            msg(&format!(
                "Domain acme.com is already linked to organization Acme Inc in realm {REALM}"
            )),
        ),
        (
            json!({"name": "d3", "domains": [{"name": "bad domain"}]}),
            400,
            msg("Invalid domain format: bad domain"),
        ),
        (
            json!({"name": "d4", "redirectUrl": "nope"}),
            400,
            msg("Organization redirect URL is not valid."),
        ),
    ];
    for (body, status, expected) in cases {
        assert_eq!(
            api.error("POST", "", Some(body.clone())).await,
            (status, expected),
            "{body}"
        );
    }
    let (s, v, _) = api
        .call("POST", "", Some(json!({"name": "x", "bogus": 1})))
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("Unrecognized field \"bogus\""),
        "{v}"
    );
    assert_eq!(
        api.raw("POST", "", "").await.0,
        400,
        "no body: Organization cannot be null."
    );
    assert_eq!(
        api.raw("POST", "", "").await.1,
        msg("Organization cannot be null.")
    );
    let (s, v, _) = api.raw("POST", "", "{").await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(api.count().await, 3, "nothing half-written");

    // Lists: brief by default (no attributes), ordered by name byte-wise, paged, searched
    // by name or domain, attribute queries.
    let all = api.get("").await;
    assert_eq!(names(&all), ["Acme Inc", "Imported", "globex"]);
    assert!(all[0].get("attributes").is_none());
    assert_eq!(
        all[0]["domains"],
        json!([{"name": "acme.com", "verified": false}])
    );
    assert_eq!(
        api.get("?briefRepresentation=false").await[0]["attributes"]["tier"],
        json!(["gold"])
    );
    for (query, expected) in [
        ("?search=glob", vec!["globex"]),
        ("?search=ACME", vec!["Acme Inc"]),
        ("?search=acme.com", vec!["Acme Inc"]),
        ("?search=Acme&exact=true", vec![]),
        ("?search=Acme%20Inc&exact=true", vec!["Acme Inc"]),
        ("?search=globex.com&exact=true", vec!["globex"]),
        ("?q=tier:gold", vec!["Acme Inc"]),
        ("?q=region:us%20tier:gold", vec!["Acme Inc"]),
        ("?q=tier:silver", vec![]),
        ("?q=alias:globex", vec!["globex"]),
        ("?first=1&max=1", vec!["Imported"]),
        ("?first=-1&max=-1", vec!["Acme Inc", "Imported", "globex"]),
    ] {
        assert_eq!(names(&api.get(query).await), expected, "{query}");
    }
    assert_eq!(api.get("/count?search=glob").await, json!(1));
    assert_eq!(api.get("/count?q=tier:gold").await, json!(1));

    // Update: replaces (domains too), keeps absent attributes, never changes the alias.
    let (s, v, _) = api
        .call(
            "PUT",
            &format!("/{acme}"),
            Some(json!({"name": "Acme Corp", "alias": "acme", "domains": [{"name": "acme.org"}]})),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let after = api.get(&format!("/{acme}")).await;
    assert_eq!(
        after,
        json!({"id": acme, "name": "Acme Corp", "alias": "acme", "enabled": true,
               "attributes": {"tier": ["gold"], "region": ["eu", "us"]},
               "domains": [{"name": "acme.org", "verified": false}]})
    );
    for (body, status, expected) in [
        (
            json!({"name": "Acme Corp"}),
            400,
            msg("Cannot change the alias"),
        ),
        (
            json!({"name": "Acme Corp", "alias": "acme-2"}),
            400,
            msg("Cannot change the alias"),
        ),
        (
            json!({"name": "globex", "alias": "acme"}),
            409,
            msg("A organization with the same name already exists."),
        ),
        (
            json!({"name": "Acme Corp", "alias": "acme", "domains": [{"name": "globex.com"}]}),
            400,
            msg(&format!(
                "Domain globex.com is already linked to organization globex in realm {REALM}"
            )),
        ),
    ] {
        assert_eq!(
            api.error("PUT", &format!("/{acme}"), Some(body.clone()))
                .await,
            (status, expected),
            "{body}"
        );
    }
    assert_eq!(api.get(&format!("/{acme}")).await, after, "unchanged");
    assert_eq!(
        api.error("PUT", "/missing", Some(json!({"name": "x"})))
            .await,
        (404, msg("Organization not found."))
    );
    assert_eq!(
        api.error("GET", "/missing", None).await,
        (404, msg("Organization not found."))
    );
    // The domain given up is free again.
    api.create(json!({"name": "Reuse", "domains": [{"name": "acme.com"}]}))
        .await;

    // Members: the raw user id, quoted or not; 201 without a body.
    let alice = user_id(&api, "alice").await;
    let bob = user_id(&api, "bob").await;
    let (s, v, h) = api
        .raw("POST", &format!("/{acme}/members"), &format!("\"{alice}\""))
        .await;
    assert_eq!((s, v), (201, json!("")));
    assert!(h["location"]
        .to_str()
        .unwrap()
        .ends_with(&format!("/{acme}/members/{alice}")));
    let (s, _, _) = api
        .raw("POST", &format!("/{acme}/members"), &format!(" {bob}\n"))
        .await;
    assert_eq!(s, 201);
    let (s, v, _) = api
        .raw("POST", &format!("/{acme}/members"), &format!("\"{alice}\""))
        .await;
    assert_eq!(
        (s, v),
        (409, msg("User is already a member of the organization."))
    );
    let (s, v, _) = api
        .raw("POST", &format!("/{acme}/members"), "\"no-such-user\"")
        .await;
    assert_eq!((s, v), (400, msg("User does not exist")));
    // A user of another realm is no user here.
    let (_, others, _) = call(
        &server,
        "GET",
        "/admin/realms/elsewhere/users?username=alice&exact=true",
        Some(&api.token),
        None,
    )
    .await;
    let foreign = others[0]["id"].as_str().unwrap();
    let (s, v, _) = api.raw("POST", &format!("/{acme}/members"), foreign).await;
    assert_eq!((s, v), (400, msg("User does not exist")));

    let listed = api.get(&format!("/{acme}/members")).await;
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (
                m["username"].as_str().unwrap(),
                m["membershipType"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("alice", "UNMANAGED"), ("bob", "UNMANAGED")]
    );
    assert_eq!(listed[0]["email"], "alice@alice.example");
    assert_eq!(api.get(&format!("/{acme}/members/count")).await, json!(2));
    for (query, expected) in [
        ("?search=ALI", vec!["alice"]),
        ("?search=bob.example", vec!["bob"]),
        ("?search=ali&exact=true", vec![]),
        ("?search=alice&exact=true", vec!["alice"]),
        ("?membershipType=managed", vec![]),
        ("?membershipType=UNMANAGED&first=1&max=1", vec!["bob"]),
        ("?first=-1&max=-1&search=", vec!["alice", "bob"]),
    ] {
        let got: Vec<String> = api
            .get(&format!("/{acme}/members{query}"))
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["username"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, expected, "{query}");
    }
    assert_eq!(
        api.get(&format!("/{acme}/members/{alice}")).await["username"],
        "alice"
    );
    let not_found = json!({"error": "HTTP 404 Not Found", "error_description": "For more on this error consult the server log."});
    assert_eq!(
        api.error("GET", &format!("/{acme}/members/{foreign}"), None)
            .await,
        (404, not_found.clone())
    );
    // A member's organizations, at both paths.
    assert_eq!(
        names(&api.get(&format!("/members/{bob}/organizations")).await),
        ["Acme Corp", "Imported"]
    );
    let mine = api
        .get(&format!(
            "/{acme}/members/{alice}/organizations?briefRepresentation=false"
        ))
        .await;
    assert_eq!(names(&mine), ["Acme Corp"]);
    assert_eq!(mine[0]["attributes"]["tier"], json!(["gold"]));
    assert_eq!(
        api.error("GET", "/members/nobody/organizations", None)
            .await,
        (404, not_found.clone())
    );

    // Tokens follow the memberships made here.
    assert_eq!(
        claim(&server, "alice", "openid organization").await,
        (200, json!(["acme"]))
    );
    assert_eq!(
        claim(&server, "bob", "openid organization:*").await.1,
        json!(["acme", "imported"])
    );
    let (s, _, _) = api
        .call("DELETE", &format!("/{acme}/members/{alice}"), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        api.error("DELETE", &format!("/{acme}/members/{alice}"), None)
            .await,
        (404, not_found)
    );
    assert_eq!(
        claim(&server, "alice", "openid organization").await,
        (200, Value::Null)
    );
    assert_eq!(api.get(&format!("/{acme}/members/count")).await, json!(1));

    // Identity providers of the realm, linked by raw alias.
    let idps = format!("/{acme}/identity-providers");
    let (s, v, _) = api.raw("POST", &idps, "\"github\"").await;
    assert_eq!(s, 204, "{v}");
    let (s, v, _) = api.raw("POST", &idps, "github").await;
    assert_eq!(
        (s, v),
        (
            409,
            msg("Identity provider already associated to the organization")
        )
    );
    let (s, v, _) = api
        .raw("POST", &format!("/{globex}/identity-providers"), "github")
        .await;
    assert_eq!(
        (s, v),
        (
            400,
            msg("Identity provider already associated with a different organization")
        )
    );
    for other in ["nope", "foreign"] {
        let (s, v, _) = api.raw("POST", &idps, other).await;
        assert_eq!(
            (s, v),
            (400, msg("Identity provider not found with the given alias")),
            "{other}"
        );
    }
    let linked = api.get(&idps).await;
    assert_eq!(linked.as_array().unwrap().len(), 1);
    assert_eq!(linked[0]["alias"], "github");
    assert_eq!(linked[0]["organizationId"], json!(acme));
    assert_eq!(linked[0]["config"]["clientSecret"], "**********");
    assert_eq!(api.get(&format!("{idps}/github")).await["alias"], "github");
    assert_eq!(
        api.error("GET", &format!("/{globex}/identity-providers/github"), None)
            .await,
        (
            404,
            msg("Identity provider not associated with the organization")
        )
    );
    assert_eq!(
        api.error(
            "DELETE",
            &format!("/{globex}/identity-providers/github"),
            None
        )
        .await,
        (404, msg("Identity provider not found with the given alias"))
    );

    // Partial export: the organizations in Keycloak's shape.
    let (s, export, _) = call(
        &server,
        "POST",
        &format!("/admin/realms/{REALM}/partial-export"),
        Some(&api.token),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let exported = export["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["alias"] == "acme")
        .unwrap()
        .clone();
    assert_eq!(exported["identityProviders"][0]["alias"], "github");
    assert_eq!(exported["attributes"]["tier"], json!(["gold"]));
    assert!(exported.get("members").is_none(), "no users, no members");
    assert!(
        export["identityProviders"][0]
            .get("organizationId")
            .is_none(),
        "the realm's providers are exported as Keycloak 26.1 does, without organizationId"
    );
    let (s, _, _) = api.call("DELETE", &format!("{idps}/github"), None).await;
    assert_eq!(s, 204);
    assert_eq!(api.get(&idps).await, json!([]));
    let (s, _, _) = api.raw("POST", &idps, "github").await;
    assert_eq!(s, 204, "linked again");

    // A realm update never touches the organizations.
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/{REALM}"),
        Some(&api.token),
        Some(json!({"organizations": [], "displayName": "Tenants"})),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(api.count().await, 4);

    // Deleting a user ends their memberships; removing a MANAGED member deletes the user.
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/{REALM}/users/{bob}"),
        Some(&api.token),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(api.get(&format!("/{acme}/members/count")).await, json!(0));
    let managed = user_id(&api, "managed").await;
    let (s, _, _) = api
        .call("DELETE", &format!("/{imported}/members/{managed}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/users/{managed}"),
        Some(&api.token),
        None,
    )
    .await;
    assert_eq!(s, 404, "a managed member goes with its membership");

    // Delete: the organization with its links; the token scope naming it is refused now.
    let (s, _, _) = api.raw("POST", &format!("/{acme}/members"), &alice).await;
    assert_eq!(s, 201);
    assert_eq!(
        claim(&server, "alice", "openid organization:acme").await,
        (200, json!(["acme"]))
    );
    let (s, _, _) = api.call("DELETE", &format!("/{acme}"), None).await;
    assert_eq!(s, 204);
    assert_eq!(
        api.error("DELETE", &format!("/{acme}"), None).await,
        (404, msg("Organization not found."))
    );
    assert_eq!(
        claim(&server, "alice", "openid organization:acme").await.0,
        400
    );
    assert!(api.get(&format!("/members/{alice}/organizations")).await == json!([]));
    assert_eq!(names(&api.get("").await), ["Imported", "Reuse", "globex"]);
    let (s, _, _) = api
        .raw("POST", &format!("/{globex}/identity-providers"), "github")
        .await;
    assert_eq!(s, 204, "the provider is free again");

    // A full export carries organizations with members by user name; a realm delete
    // removes them from the store.
    let (s, _, _) = api.raw("POST", &format!("/{globex}/members"), &alice).await;
    assert_eq!(s, 201);
    drop(server);
    let full = data.export(REALM);
    let g = full["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["alias"] == "globex")
        .unwrap()
        .clone();
    assert_eq!(
        g["members"],
        json!([{"username": "alice", "membershipType": "UNMANAGED"}])
    );
    assert_eq!(g["identityProviders"][0]["alias"], "github");
    assert_eq!(
        g["domains"],
        json!([{"name": "globex.com", "verified": true}])
    );

    let server = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let token = admin_token(&server).await;
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/{REALM}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 204);
    drop(server);
    let store: Box<dyn portcullis::store::Store> = match backend {
        Backend::Sqlite => Box::new(
            portcullis::store::SqliteStore::open(&data.dir.path().join("portcullis.db"))
                .await
                .unwrap(),
        ),
        Backend::Postgres => Box::new(
            portcullis::store::PostgresStore::connect(&pg_url(), data.schema.as_deref(), 1)
                .await
                .unwrap(),
        ),
    };
    let left: Vec<String> = store
        .all_organizations()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, o)| o.alias)
        .collect();
    assert_eq!(
        left,
        ["imported"],
        "only the other realm's organization is left"
    );
    data.cleanup().await;
}

/// The realm file is the other way in: organizations, members and links of an exported
/// realm come back when it is imported, and a bad organization refuses the whole file.
#[tokio::test]
async fn organizations_round_trip_through_realm_files() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut realm = realm_json(REALM, true, "github");
    realm["organizations"][0]["identityProviders"] = json!([{"alias": "github"}]);
    realm["organizations"][0]["domains"] = json!([{"name": "imported.example"}]);
    let server = start_with(&data, &[realm]).await;
    let api = Api {
        server: &server,
        token: admin_token(&server).await,
    };
    let id = api.get("").await[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.get(&format!("/{id}/identity-providers")).await[0]["alias"],
        "github"
    );
    drop(server);
    let exported = data.export(REALM);
    assert_eq!(
        exported["organizations"][0]["identityProviders"][0]["alias"],
        "github"
    );

    // Into a fresh store under another name: the same organizations, members and links.
    let data2 = Data::new(Backend::Sqlite).await.unwrap();
    let mut copy = exported.clone();
    copy["realm"] = json!("copy");
    copy.as_object_mut().unwrap().remove("id");
    let server = start_with(&data2, &[copy]).await;
    let token = admin_token(&server).await;
    let (_, orgs, _) = call(
        &server,
        "GET",
        "/admin/realms/copy/organizations?briefRepresentation=false",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(orgs[0]["alias"], "imported");
    assert_eq!(
        orgs[0]["domains"],
        json!([{"name": "imported.example", "verified": false}])
    );
    let (_, members, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/copy/organizations/{id}/members"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(members.as_array().map(Vec::len), Some(2), "{members}");
    let (_, idps, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/copy/organizations/{id}/identity-providers"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(idps[0]["alias"], "github");

    // A realm file naming an identity provider it does not have is refused whole.
    let (s, v, _) = call(
        &server,
        "POST",
        "/admin/realms",
        Some(&token),
        Some(json!({"realm": "broken", "organizations": [{"name": "o", "identityProviders": [{"alias": "ghost"}]}]})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, _, _) = call(&server, "GET", "/admin/realms/broken", Some(&token), None).await;
    assert_eq!(s, 404, "nothing of it was created");
}

/// A store written by an earlier version keeps organizations inside the realm document: at
/// start they move into their own rows, and the API and tokens see them.
#[tokio::test]
async fn organizations_inside_an_older_realm_document_move_to_rows_at_start() {
    use portcullis::store::{RealmStore, SqliteStore, StoredRealm, Write};
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut legacy = realm_json(REALM, true, "github");
    let orgs = legacy["organizations"].take();
    let prepared = portcullis::realm::import::prepare(legacy).unwrap();
    let mut rep: Value = serde_json::from_str(&prepared.representation).unwrap();
    rep["organizations"] = orgs;
    {
        let store = SqliteStore::open(&data.dir.path().join("portcullis.db"))
            .await
            .unwrap();
        store
            .apply(vec![
                Write::InsertRealm(StoredRealm {
                    id: prepared.id.clone(),
                    name: REALM.into(),
                    version: 1,
                    representation: rep.to_string(),
                }),
                Write::InsertUsers {
                    realm_id: prepared.id.clone(),
                    users: prepared.users,
                },
            ])
            .await
            .unwrap();
    }
    let server = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let api = Api {
        server: &server,
        token: admin_token(&server).await,
    };
    let listed = api.get("").await;
    assert_eq!(names(&listed), ["Imported"]);
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(api.get(&format!("/{id}/members/count")).await, json!(2));
    assert_eq!(
        claim(&server, "bob", "openid organization").await,
        (200, json!(["imported"]))
    );
    let (_, realm, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}"),
        Some(&api.token),
        None,
    )
    .await;
    assert!(realm.get("organizations").is_none(), "out of the document");
}
