//! The UMA grant (`urn:ietf:params:oauth:grant-type:uma-ticket`) over HTTP, on SQLite and
//! PostgreSQL: seed 000's resource server imported through the Admin API, a `TENANT_MEMBER`
//! allowed `event:read` and denied `event:manage`, a `TENANT_ADMIN` allowed both, as a
//! decision, as the permission list and as an RPT; bad inputs with Keycloak's errors; UMA
//! discovery.

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "events";
const RS: &str = "event-platform-backend";

fn realm_json() -> Value {
    json!({
        "realm": REALM,
        "eventsEnabled": true,
        "roles": {"realm": [{"name": "TENANT_ADMIN"}, {"name": "TENANT_MEMBER"}]},
        "clients": [
            {"clientId": "spa", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "worker", "secret": "worker-secret", "serviceAccountsEnabled": true}
        ],
        "users": [
            {"username": "member", "firstName": "Member", "lastName": "Tester", "email": "member@example.com", "enabled": true, "realmRoles": ["TENANT_MEMBER"],
             "credentials": [{"type": "password", "value": "member-pw"}]},
            {"username": "boss", "firstName": "Boss", "lastName": "Tester", "email": "boss@example.com", "enabled": true, "realmRoles": ["TENANT_ADMIN"],
             "credentials": [{"type": "password", "value": "boss-pw"}]}
        ]
    })
}

fn token_url(server: &TestServer) -> String {
    server.url(&format!("/realms/{REALM}/protocol/openid-connect/token"))
}

async fn admin_call(server: &TestServer, token: &str, method: &str, path: &str, body: Value) {
    let (s, v, _) = call(server, method, path, Some(token), Some(body)).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
}

/// A server with seed 000's resource server (section 2's JSON files), imported through the
/// Admin API, the `*-read` permissions `AFFIRMATIVE`.
async fn seeded(backend: Backend) -> Option<(Data, TestServer)> {
    let data = Data::new(backend).await?;
    let server = start_with_clock(&data, &[realm_json()]).await;
    let admin = admin_token(&server).await;
    let (s, v, h) = call(
        &server,
        "POST",
        &format!("/admin/realms/{REALM}/clients"),
        Some(&admin),
        Some(json!({"clientId": RS, "secret": "rs-secret", "authorizationServicesEnabled": true})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = h["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let rs = |rest: &str| format!("/admin/realms/{REALM}/clients/{id}/authz/resource-server{rest}");
    for n in ["event", "ticket", "order"] {
        for s in ["read", "manage"] {
            admin_call(
                &server,
                &admin,
                "POST",
                &rs("/scope"),
                json!({"name": format!("{n}:{s}")}),
            )
            .await;
        }
    }
    for n in ["event", "ticket", "order"] {
        admin_call(
            &server,
            &admin,
            "POST",
            &rs("/resource"),
            json!({"name": n, "type": format!("urn:resource:{n}"),
                   "scopes": [{"name": format!("{n}:read")}, {"name": format!("{n}:manage")}]}),
        )
        .await;
    }
    for (name, role) in [
        ("policy-tenant-admin", "TENANT_ADMIN"),
        ("policy-tenant-member", "TENANT_MEMBER"),
    ] {
        let roles = json!([{"id": role, "required": false}]).to_string();
        admin_call(
            &server,
            &admin,
            "POST",
            &rs("/policy"),
            json!({"name": name, "type": "role", "config": {"roles": roles}}),
        )
        .await;
    }
    for n in ["event", "ticket", "order"] {
        admin_call(
            &server,
            &admin,
            "POST",
            &rs("/permission/scope"),
            json!({"name": format!("{n}-manage"), "scopes": [format!("{n}:manage")],
                   "policies": ["policy-tenant-admin"]}),
        )
        .await;
        admin_call(
            &server,
            &admin,
            "POST",
            &rs("/permission/scope"),
            json!({"name": format!("{n}-read"), "scopes": [format!("{n}:read")],
                   "policies": ["policy-tenant-admin", "policy-tenant-member"],
                   "decisionStrategy": "AFFIRMATIVE"}),
        )
        .await;
    }
    Some((data, server))
}

async fn user_token(server: &TestServer, user: &str) -> String {
    let (s, v) = password_grant(server, REALM, "spa", None, user, &format!("{user}-pw"), &[]).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

/// A UMA grant with a bearer token: status and body.
async fn uma(server: &TestServer, bearer: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("grant_type", "urn:ietf:params:oauth:grant-type:uma-ticket")];
    all.extend_from_slice(form);
    let r = client()
        .post(token_url(server))
        .bearer_auth(bearer)
        .form(&all)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Replaces the policies of seed 000's `event-manage` permission through the Admin API.
async fn set_event_manage_policies(server: &TestServer, admin: &str, policies: &[&str]) {
    let (_, list, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId={RS}"),
        Some(admin),
        None,
    )
    .await;
    let id = list[0]["id"].as_str().unwrap();
    let base = format!("/admin/realms/{REALM}/clients/{id}/authz/resource-server");
    let (_, perm, _) = call(
        server,
        "GET",
        &format!("{base}/permission?name=event-manage"),
        Some(admin),
        None,
    )
    .await;
    let perm_id = perm[0]["id"].as_str().unwrap();
    admin_call(
        server,
        admin,
        "PUT",
        &format!("{base}/permission/scope/{perm_id}"),
        json!({"id": perm_id, "name": "event-manage", "scopes": ["event:manage"],
               "policies": policies, "decisionStrategy": "AFFIRMATIVE"}),
    )
    .await;
}

fn scopes_of(perms: &Value, resource: &str) -> Vec<String> {
    let mut out: Vec<String> = perms
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["rsname"] == json!(resource))
        .flat_map(|p| p["scopes"].as_array().cloned().unwrap_or_default())
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

async fn seed_case(backend: Backend) {
    let Some((data, server)) = seeded(backend).await else {
        return;
    };
    let member = user_token(&server, "member").await;
    let boss = user_token(&server, "boss").await;
    let denied = json!({"error": "access_denied", "error_description": "not_authorized"});

    // Decision mode.
    for (token, scope, granted) in [
        (&member, "event#event:read", true),
        (&member, "event#event:manage", false),
        (&boss, "event#event:read", true),
        (&boss, "event#event:manage", true),
    ] {
        let (s, v) = uma(
            &server,
            token,
            &[
                ("audience", RS),
                ("permission", scope),
                ("response_mode", "decision"),
            ],
        )
        .await;
        if granted {
            assert_eq!((s, &v), (200, &json!({"result": true})), "{scope}");
        } else {
            assert_eq!((s, &v), (403, &denied), "{scope}");
        }
    }

    // Permissions mode: a member asking for both gets only `event:read`.
    let both = [
        ("audience", RS),
        ("permission", "event#event:read"),
        ("permission", "event#event:manage"),
        ("response_mode", "permissions"),
    ];
    let (s, v) = uma(&server, &member, &both).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(scopes_of(&v, "event"), ["event:read"]);
    assert!(v[0]["rsid"].is_string(), "{v}");
    let (s, v) = uma(&server, &boss, &both).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(scopes_of(&v, "event"), ["event:manage", "event:read"]);
    // Without names.
    let (_, v) = uma(
        &server,
        &boss,
        &[
            ("audience", RS),
            ("permission", "event#event:read"),
            ("response_mode", "permissions"),
            ("response_include_resource_name", "false"),
        ],
    )
    .await;
    assert!(v[0].get("rsname").is_none(), "{v}");
    // Everything, limited to one resource.
    let (s, v) = uma(
        &server,
        &member,
        &[("audience", RS), ("response_mode", "permissions")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(scopes_of(&v, "order"), ["order:read"]);
    assert_eq!(scopes_of(&v, "ticket"), ["ticket:read"]);
    let (_, v) = uma(
        &server,
        &member,
        &[
            ("audience", RS),
            ("response_mode", "permissions"),
            ("response_permissions_limit", "1"),
        ],
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");

    // The RPT.
    let (s, v) = uma(&server, &member, &both[..3]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], json!("Bearer"));
    // Keycloak's `AuthorizationResponse`: `upgraded`, no `scope`, no ID token.
    assert_eq!(v["upgraded"], json!(false));
    assert!(
        v.get("scope").is_none() && v.get("id_token").is_none(),
        "{v}"
    );
    let rpt = v["access_token"].as_str().unwrap();
    let claims = payload(rpt);
    let perms = &claims["authorization"]["permissions"];
    assert_eq!(scopes_of(perms, "event"), ["event:read"]);
    let aud = match &claims["aud"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("aud {other}"),
    };
    assert!(aud.contains(&RS.to_string()), "{claims}");
    assert_eq!(claims["azp"], json!("spa"));
    // Signed by the realm: the userinfo endpoint takes it.
    let (s, _, _) = call(
        &server,
        "GET",
        &format!("/realms/{REALM}/protocol/openid-connect/userinfo"),
        Some(rpt),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // RPT introspection by the resource server (`token_type_hint=requesting_party_token`).
    let introspect = server.url(&format!(
        "/realms/{REALM}/protocol/openid-connect/token/introspect"
    ));
    let (s, v, _) = post_form(
        &introspect,
        Some((RS, "rs-secret")),
        &[
            ("token", rpt),
            ("token_type_hint", "requesting_party_token"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], json!(true));
    assert_eq!(v["typ"], json!("Bearer"));
    assert_eq!(v["jti"], claims["jti"]);
    assert_eq!(v["exp"], claims["exp"]);
    let p = &v["permissions"][0];
    assert_eq!(p["rsname"], json!("event"));
    assert_eq!(p["resource_id"], p["rsid"]);
    assert_eq!(p["resource_scopes"], json!(["event:read"]));
    assert_eq!(p["scopes"], json!(["event:read"]));
    assert!(
        v.get("sub").is_none() && v.get("realm_access").is_none(),
        "{v}"
    );
    // A forged RPT is inactive.
    let forged = format!("{}AAAA", &rpt[..rpt.len() - 4]);
    let (_, v, _) = post_form(
        &introspect,
        Some((RS, "rs-secret")),
        &[
            ("token", &forged),
            ("token_type_hint", "requesting_party_token"),
        ],
    )
    .await;
    assert_eq!(v, json!({"active": false}));
    // A plain access token, not an RPT: active, without permissions (as Keycloak).
    let (s, v, _) = post_form(
        &introspect,
        Some(("spa-nope", "x")),
        &[
            ("token", &member),
            ("token_type_hint", "requesting_party_token"),
        ],
    )
    .await;
    assert_eq!(s, 401, "{v}");
    let (_, v, _) = post_form(
        &introspect,
        Some(("worker", "worker-secret")),
        &[
            ("token", &member),
            ("token_type_hint", "requesting_party_token"),
        ],
    )
    .await;
    // Not its audience: inactive.
    assert_eq!(v, json!({"active": false}));

    let (s, v) = uma(&server, &boss, &both[..3]).await;
    assert_eq!(s, 200, "{v}");
    let perms = &payload(v["access_token"].as_str().unwrap())["authorization"]["permissions"];
    assert_eq!(scopes_of(perms, "event"), ["event:manage", "event:read"]);

    // The service account of an authenticated client, without a bearer token: no tenant role.
    let (s, v, _) = post_form(
        &token_url(&server),
        Some(("worker", "worker-secret")),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:uma-ticket"),
            ("audience", RS),
            ("permission", "event#event:read"),
            ("response_mode", "decision"),
        ],
    )
    .await;
    assert_eq!((s, v), (403, denied.clone()));
    // The resource server's own service account gets the default resource (Keycloak's
    // `Default Permission`), as permissions and as an RPT.
    let (s, v, _) = post_form(
        &token_url(&server),
        Some((RS, "rs-secret")),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:uma-ticket"),
            ("audience", RS),
            ("permission", "Default Resource"),
            ("response_mode", "permissions"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["rsname"], json!("Default Resource"));
    let (s, v, _) = post_form(
        &token_url(&server),
        Some((RS, "rs-secret")),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:uma-ticket"),
            ("audience", RS),
            ("permission", "Default Resource"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let claims = payload(v["access_token"].as_str().unwrap());
    assert_eq!(claims["azp"], json!(RS));
    assert_eq!(
        claims["authorization"]["permissions"][0]["rsname"],
        json!("Default Resource")
    );

    // A change is seen at once (the compiled server is cached by version).
    let admin = admin_token(&server).await;
    set_event_manage_policies(
        &server,
        &admin,
        &["policy-tenant-admin", "policy-tenant-member"],
    )
    .await;
    let (s, v) = uma(
        &server,
        &member,
        &[
            ("audience", RS),
            ("permission", "event#event:manage"),
            ("response_mode", "decision"),
        ],
    )
    .await;
    assert_eq!((s, v), (200, json!({"result": true})));

    // `PERMISSION_TOKEN` events (errors are not stored by default, as Keycloak).
    let (_, events, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/events?type=PERMISSION_TOKEN"),
        Some(&admin),
        None,
    )
    .await;
    let events = events.as_array().unwrap();
    let spa = events
        .iter()
        .find(|e| e["clientId"] == json!("spa"))
        .expect("an event of spa");
    assert_eq!(
        spa["details"]["grant_type"],
        json!("urn:ietf:params:oauth:grant-type:uma-ticket")
    );
    assert!(events.iter().any(|e| e["clientId"] == json!(RS)));
    data.cleanup().await;
}

#[tokio::test]
async fn seed_case_sqlite() {
    seed_case(Backend::Sqlite).await;
}

#[tokio::test]
async fn seed_case_postgres() {
    seed_case(Backend::Postgres).await;
}

/// A bad request: its form, and the status, `error` and `error_description` expected.
type Case = (
    Vec<(&'static str, &'static str)>,
    u16,
    &'static str,
    &'static str,
);

/// Bad inputs, each with Keycloak's status and body.
#[tokio::test]
async fn bad_inputs() {
    let Some((data, server)) = seeded(Backend::Sqlite).await else {
        return;
    };
    let member = user_token(&server, "member").await;
    let cases: Vec<Case> = vec![
        (
            vec![("audience", RS), ("permission", "nope#event:read")],
            400,
            "invalid_resource",
            "Resource with id [nope] does not exist.",
        ),
        (
            vec![("audience", RS), ("permission", "event#nope")],
            400,
            "invalid_scope",
            "One of the given scopes [nope] is invalid",
        ),
        (
            vec![("permission", "event#event:read")],
            400,
            "invalid_request",
            "You must provide the issuedFor",
        ),
        (
            vec![("audience", "nobody"), ("permission", "event#event:read")],
            400,
            "invalid_request",
            "Unknown resource server id.",
        ),
        (
            vec![("audience", "spa"), ("permission", "event#event:read")],
            400,
            "invalid_request",
            "Client does not support permissions",
        ),
        (
            vec![("audience", RS), ("response_mode", "rpt")],
            400,
            "invalid_request",
            "Invalid response_mode",
        ),
        (
            vec![("audience", RS), ("ticket", "abc")],
            403,
            "invalid_ticket",
            "Ticket verification failed",
        ),
        (
            vec![("audience", RS), ("claim_token", "e30")],
            403,
            "invalid_grant",
            "Public clients are not allowed to send claims",
        ),
        (
            vec![("audience", RS), ("audience", RS)],
            400,
            "invalid_request",
            "duplicated parameter: audience",
        ),
    ];
    for (form, status, error, description) in cases {
        let (s, v) = uma(&server, &member, &form).await;
        assert_eq!(
            (s, &v),
            (
                status,
                &json!({"error": error, "error_description": description})
            ),
            "{form:?}"
        );
    }
    // A forged bearer token: the member's with another signature.
    let mut parts: Vec<&str> = member.split('.').collect();
    let forged_sig = "AAAA".repeat(20);
    parts[2] = &forged_sig;
    let forged = parts.join(".");
    let (s, v) = uma(
        &server,
        &forged,
        &[("audience", RS), ("permission", "event#event:read")],
    )
    .await;
    assert_eq!(
        (s, v),
        (
            401,
            json!({"error": "invalid_grant", "error_description": "Invalid bearer token"})
        )
    );
    data.cleanup().await;
}

/// `GET /realms/{r}/.well-known/uma2-configuration`: Keycloak's `UmaConfiguration` fields.
#[tokio::test]
async fn uma_discovery() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm_json()]).await;
    let (s, v) =
        get_json(&server.url(&format!("/realms/{REALM}/.well-known/uma2-configuration"))).await;
    assert_eq!(s, 200, "{v}");
    let base = server.url(&format!("/realms/{REALM}"));
    assert_eq!(v["issuer"], json!(base));
    assert_eq!(
        v["token_endpoint"],
        json!(format!("{base}/protocol/openid-connect/token"))
    );
    assert_eq!(
        v["resource_registration_endpoint"],
        json!(format!("{base}/authz/protection/resource_set"))
    );
    assert_eq!(
        v["permission_endpoint"],
        json!(format!("{base}/authz/protection/permission"))
    );
    assert_eq!(
        v["policy_endpoint"],
        json!(format!("{base}/authz/protection/uma-policy"))
    );
    assert!(v["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("urn:ietf:params:oauth:grant-type:uma-ticket")));
    for f in [
        "jwks_uri",
        "introspection_endpoint",
        "end_session_endpoint",
        "scopes_supported",
    ] {
        assert!(!v[f].is_null(), "{f}: {v}");
    }
    // Not OIDC-only fields.
    assert!(v.get("userinfo_endpoint").is_none(), "{v}");
    let (s, _) = get_json(&server.url("/realms/nope/.well-known/uma2-configuration")).await;
    assert_eq!(s, 404);
    data.cleanup().await;
}

/// `rpt`: a previous RPT's permissions are evaluated again with the ones asked
/// (`AuthorizationTokenService.createPermissions`), `upgraded` says whether all are kept; a
/// forged RPT is refused (`invalid_rpt`), an expired one or an access token that is no RPT
/// contributes nothing.
async fn rpt_upgrade(backend: Backend) {
    let Some((data, server)) = seeded(backend).await else {
        return;
    };
    let member = user_token(&server, "member").await;
    let (s, v) = uma(
        &server,
        &member,
        &[("audience", RS), ("permission", "event#event:read")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["upgraded"], json!(false));
    let first = v["access_token"].as_str().unwrap().to_string();

    // Upgrade: the new RPT holds the old permission and the new one.
    let (s, v) = uma(
        &server,
        &member,
        &[
            ("audience", RS),
            ("permission", "ticket#ticket:read"),
            ("rpt", &first),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["upgraded"], json!(true), "{v}");
    let perms = &jwt::payload(v["access_token"].as_str().unwrap())["authorization"]["permissions"];
    assert_eq!(scopes_of(perms, "event"), ["event:read"], "{perms}");
    assert_eq!(scopes_of(perms, "ticket"), ["ticket:read"], "{perms}");
    assert_eq!(perms.as_array().unwrap().len(), 2, "{perms}");

    // The RPT alone: only its permissions are evaluated, not everything.
    let (s, v) = uma(
        &server,
        &member,
        &[
            ("audience", RS),
            ("rpt", &first),
            ("response_mode", "permissions"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(scopes_of(&v, "event"), ["event:read"]);

    // Permissions are evaluated again, not copied: the admin's RPT with event:manage does not
    // give the member event:manage.
    let boss = user_token(&server, "boss").await;
    let (s, v) = uma(
        &server,
        &boss,
        &[("audience", RS), ("permission", "event#event:manage")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let boss_rpt = v["access_token"].as_str().unwrap().to_string();
    let (s, v) = uma(
        &server,
        &member,
        &[
            ("audience", RS),
            ("permission", "event#event:read"),
            ("rpt", &boss_rpt),
            ("response_mode", "permissions"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(scopes_of(&v, "event"), ["event:read"], "{v}");
    let (s, v) = uma(&server, &member, &[("audience", RS), ("rpt", &boss_rpt)]).await;
    assert_eq!(
        (s, v),
        (
            403,
            json!({"error": "access_denied", "error_description": "not_authorized"})
        )
    );

    // A forged RPT: Keycloak's `invalid_rpt`.
    let mut parts: Vec<&str> = first.split('.').collect();
    let forged_sig = "AAAA".repeat(20);
    parts[2] = &forged_sig;
    let forged = parts.join(".");
    for bad in [forged.as_str(), "not-a-jwt"] {
        let (s, v) = uma(
            &server,
            &member,
            &[
                ("audience", RS),
                ("permission", "event#event:read"),
                ("rpt", bad),
            ],
        )
        .await;
        assert_eq!(
            (s, v),
            (
                403,
                json!({"error": "invalid_rpt", "error_description": "RPT signature is invalid"})
            )
        );
    }
    // An access token that is no RPT carries no permission: alone it is denied.
    let (s, v) = uma(&server, &member, &[("audience", RS), ("rpt", &member)]).await;
    assert_eq!(
        (s, v),
        (
            403,
            json!({"error": "access_denied", "error_description": "not_authorized"})
        )
    );

    // An expired RPT contributes nothing.
    advance_clock(&server, 3600).await;
    let member = user_token(&server, "member").await;
    let (s, v) = uma(&server, &member, &[("audience", RS), ("rpt", &first)]).await;
    assert_eq!(
        (s, v),
        (
            403,
            json!({"error": "access_denied", "error_description": "not_authorized"})
        )
    );
    let (s, v) = uma(
        &server,
        &member,
        &[
            ("audience", RS),
            ("permission", "ticket#ticket:read"),
            ("rpt", &first),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["upgraded"], json!(false), "{v}");
    let perms = &jwt::payload(v["access_token"].as_str().unwrap())["authorization"]["permissions"];
    assert_eq!(perms.as_array().unwrap().len(), 1, "{perms}");
    data.cleanup().await;
}

#[tokio::test]
async fn rpt_upgrade_sqlite() {
    rpt_upgrade(Backend::Sqlite).await;
}

#[tokio::test]
async fn rpt_upgrade_postgres() {
    rpt_upgrade(Backend::Postgres).await;
}

/// `POST .../policy/evaluate` (the admin evaluation tool): Keycloak's
/// `PolicyEvaluationResponse` for seed 000's resource server.
#[tokio::test]
async fn admin_policy_evaluate() {
    let Some((data, server)) = seeded(Backend::Sqlite).await else {
        return;
    };
    let admin = admin_token(&server).await;
    let (s, clients, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId={RS}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let id = clients[0]["id"].as_str().unwrap().to_string();
    let rs = |rest: &str| format!("/admin/realms/{REALM}/clients/{id}/authz/resource-server{rest}");
    let (s, found, _) = call(
        &server,
        "GET",
        &rs("/resource?name=event"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{found}");
    let event = found[0]["_id"].as_str().unwrap().to_string();
    let evaluate = |body: Value| {
        let (server, admin, path) = (&server, &admin, rs("/policy/evaluate"));
        async move {
            let (s, v, _) = call(server, "POST", &path, Some(admin), Some(body)).await;
            (s, v)
        }
    };
    let both =
        json!([{"_id": event, "scopes": [{"name": "event:read"}, {"name": "event:manage"}]}]);

    // The member: read permitted, manage denied, with the reasons.
    let (s, v) =
        evaluate(json!({"userId": "member", "resources": both, "context": {"attributes": {}}}))
            .await;
    assert_eq!(s, 200, "{v}");
    // A result is PERMIT once any of its scopes is granted (`grantPermission`).
    assert_eq!(v["status"], "PERMIT", "{v}");
    assert_eq!(v["entitlements"], json!(false));
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{v}");
    let r = &results[0];
    assert_eq!(r["resource"]["_id"], json!(event));
    assert_eq!(r["resource"]["name"], "event with scopes [event:read]");
    assert_eq!(r["status"], "PERMIT");
    assert_eq!(r["allowedScopes"][0]["name"], "event:read");
    assert_eq!(r["allowedScopes"].as_array().unwrap().len(), 1);
    let policy = |name: &str| {
        r["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["policy"]["name"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {r}"))
    };
    let read = policy("event-read");
    assert_eq!(read["status"], "PERMIT");
    assert_eq!(read["policy"]["type"], "scope");
    assert_eq!(read["policy"]["decisionStrategy"], "AFFIRMATIVE");
    assert_eq!(read["policy"]["scopes"], json!(["event:read"]));
    let assoc: Vec<(String, String)> = read["associatedPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["policy"]["name"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        assoc.contains(&("policy-tenant-member".into(), "PERMIT".into())),
        "{assoc:?}"
    );
    assert!(
        assoc.contains(&("policy-tenant-admin".into(), "DENY".into())),
        "{assoc:?}"
    );
    let manage = policy("event-manage");
    assert_eq!(manage["status"], "DENY");
    assert_eq!(manage["scopes"], json!(["event:manage"]));
    assert_eq!(manage["associatedPolicies"][0]["policy"]["type"], "role");
    let perms = &v["rpt"]["authorization"]["permissions"];
    assert_eq!(scopes_of(perms, "event"), ["event:read"], "{v}");
    assert_eq!(v["rpt"]["aud"], json!([RS]));

    // The admin: everything permitted.
    let (s, v) = evaluate(json!({"userId": "boss", "resources": both})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "PERMIT", "{v}");
    assert_eq!(
        v["results"][0]["allowedScopes"].as_array().unwrap().len(),
        2
    );
    // No user, a realm role given: as the admin.
    let (s, v) = evaluate(json!({"roleIds": ["TENANT_ADMIN"], "resources": both})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "PERMIT", "{v}");
    // No user, no role: denied.
    let (s, v) = evaluate(json!({"resources": both})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "DENY", "{v}");
    assert_eq!(v["results"][0]["status"], "DENY");
    assert_eq!(v["results"][0]["allowedScopes"], json!([]));
    // By scope only, and everything when no resource is named.
    let (s, v) =
        evaluate(json!({"userId": "member", "resources": [{"scopes": [{"name": "order:read"}]}]}))
            .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["results"][0]["resource"]["name"],
        "order with scopes [order:read]"
    );
    let (s, v) = evaluate(json!({"userId": "member", "resources": []})).await;
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resource"]["name"].as_str().unwrap())
        .collect();
    for n in [
        "event with scopes [event:read]",
        "order with scopes [order:read]",
        "ticket with scopes [ticket:read]",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    // An unknown resource: Keycloak's failure.
    let (s, v) = evaluate(json!({"userId": "member", "resources": [{"_id": "nope"}]})).await;
    assert_eq!(
        (s, v),
        (
            500,
            json!({"error": "server_error", "error_description": "Error while evaluating permissions."})
        )
    );
    // Not a JSON object.
    let (s, _) = evaluate(json!([1])).await;
    assert_eq!(s, 400);
    data.cleanup().await;
}

/// A UMA grant authenticated as a confidential client (no bearer token).
async fn uma_as(server: &TestServer, client: (&str, &str), form: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("grant_type", "urn:ietf:params:oauth:grant-type:uma-ticket")];
    all.extend_from_slice(form);
    let (s, v, _) = post_form(&token_url(server), Some(client), &all).await;
    (s, v)
}

fn b64url(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Pushed claims (`claim_token`): a JSON object of claims reaches the evaluation context,
/// where a regex policy with `targetContextAttributes` reads it; an ID token pushed by an
/// authenticated client is the identity asking; Keycloak's errors for bad claim tokens.
async fn claim_tokens(backend: Backend) {
    let Some((data, server)) = seeded(backend).await else {
        return;
    };
    let admin = admin_token(&server).await;
    let (_, clients, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/{REALM}/clients?clientId={RS}"),
        Some(&admin),
        None,
    )
    .await;
    let id = clients[0]["id"].as_str().unwrap().to_string();
    let rs = |rest: &str| format!("/admin/realms/{REALM}/clients/{id}/authz/resource-server{rest}");
    admin_call(
        &server,
        &admin,
        "POST",
        &rs("/scope"),
        json!({"name": "report:read"}),
    )
    .await;
    admin_call(
        &server,
        &admin,
        "POST",
        &rs("/resource"),
        json!({"name": "report", "scopes": [{"name": "report:read"}]}),
    )
    .await;
    admin_call(&server, &admin, "POST", &rs("/policy/regex"),
        json!({"name": "org-acme", "targetClaim": "organization", "pattern": "^acme$", "targetContextAttributes": true})).await;
    admin_call(
        &server,
        &admin,
        "POST",
        &rs("/permission/scope"),
        json!({"name": "report-read", "scopes": ["report:read"], "policies": ["org-acme"]}),
    )
    .await;
    admin_call(
        &server,
        &admin,
        "POST",
        &format!("/admin/realms/{REALM}/clients"),
        json!({"clientId": "portal", "secret": "portal-secret", "directAccessGrantsEnabled": true}),
    )
    .await;
    let worker = ("worker", "worker-secret");
    let ask = |claims: Option<String>, format: Option<&'static str>| {
        let server = &server;
        async move {
            let mut form = vec![
                ("audience", RS),
                ("permission", "report#report:read"),
                ("response_mode", "decision"),
            ];
            if let Some(c) = &claims {
                form.push(("claim_token", c.as_str()));
            }
            if let Some(f) = format {
                form.push(("claim_token_format", f));
            }
            uma_as(server, worker, &form).await
        }
    };
    const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
    let denied = json!({"error": "access_denied", "error_description": "not_authorized"});
    assert_eq!(
        ask(Some(b64url(&json!({"organization": ["acme"]}))), Some(JWT)).await,
        (200, json!({"result": true}))
    );
    assert_eq!(
        ask(Some(b64url(&json!({"organization": "acme"}))), Some(JWT)).await,
        (200, json!({"result": true}))
    );
    assert_eq!(
        ask(Some(b64url(&json!({"organization": ["other"]}))), Some(JWT)).await,
        (403, denied.clone())
    );
    assert_eq!(ask(None, None).await, (403, denied.clone()));
    assert_eq!(
        ask(Some("not base64 json!".into()), Some(JWT)).await,
        (
            400,
            json!({"error": "invalid_request", "error_description": "Invalid claims"})
        )
    );
    assert_eq!(
        ask(Some(b64url(&json!({}))), Some("urn:x")).await,
        (
            400,
            json!({"error": "invalid_request", "error_description": "Claim token format [urn:x] not supported"})
        )
    );
    assert_eq!(
        ask(None, Some(JWT)).await,
        (
            400,
            json!({"error": "invalid_request", "error_description": "Claim token can not be null"})
        )
    );
    // The pushed claims go into every permission of the RPT (and of `permissions` mode).
    let claims = b64url(&json!({"organization": "acme", "device": ["d1", "d2"]}));
    let expected = json!({"organization": ["acme"], "device": ["d1", "d2"]});
    let with_claims = [
        ("audience", RS),
        ("permission", "report#report:read"),
        ("claim_token", claims.as_str()),
        ("claim_token_format", JWT),
    ];
    let (s, v) = uma_as(&server, worker, &with_claims).await;
    assert_eq!(s, 200, "{v}");
    let perms = &payload(v["access_token"].as_str().unwrap())["authorization"]["permissions"];
    assert_eq!(perms.as_array().unwrap().len(), 1, "{perms}");
    assert_eq!(perms[0]["rsname"], "report");
    assert_eq!(perms[0]["claims"], expected, "{perms}");
    let mut listed = with_claims.to_vec();
    listed.push(("response_mode", "permissions"));
    let (s, v) = uma_as(&server, worker, &listed).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["claims"], expected, "{v}");
    // Without pushed claims a permission has no `claims` member (`NON_EMPTY`).
    let (s, v) = uma(
        &server,
        &user_token(&server, "member").await,
        &[
            ("audience", RS),
            ("permission", "event#event:read"),
            ("response_mode", "permissions"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v[0].get("claims").is_none(), "{v}");

    // A ticket's claims, pushed by the resource server through the Protection API, reach
    // the evaluation context and the RPT's permissions.
    let (s, pat, _) = post_form(
        &token_url(&server),
        Some((RS, "rs-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{pat}");
    let pat = pat["access_token"].as_str().unwrap().to_string();
    let (_, found, _) = call(
        &server,
        "GET",
        &format!("/realms/{REALM}/authz/protection/resource_set?name=report&exactName=true"),
        Some(&pat),
        None,
    )
    .await;
    let report = found[0].as_str().unwrap().to_string();
    let ticket_for = |org: &'static str| {
        let (server, pat, report) = (&server, &pat, &report);
        async move {
            let (s, v, _) = call(
                server,
                "POST",
                &format!("/realms/{REALM}/authz/protection/permission"),
                Some(pat),
                Some(
                    json!([{"resource_id": report, "resource_scopes": ["report:read"],
                             "claims": {"organization": [org]}}]),
                ),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            v["ticket"].as_str().unwrap().to_string()
        }
    };
    let ticket = ticket_for("acme").await;
    let (s, v) = uma_as(&server, worker, &[("ticket", ticket.as_str())]).await;
    assert_eq!(s, 200, "{v}");
    let perms = &payload(v["access_token"].as_str().unwrap())["authorization"]["permissions"];
    assert_eq!(perms[0]["rsid"], report.as_str(), "{perms}");
    assert_eq!(
        perms[0]["claims"],
        json!({"organization": ["acme"]}),
        "{perms}"
    );
    let ticket = ticket_for("other").await;
    let (s, _) = uma_as(
        &server,
        worker,
        &[("ticket", ticket.as_str()), ("submit_request", "false")],
    )
    .await;
    assert_eq!(s, 403);
    // `pct` is taken and unused, as in Keycloak.
    let (s, _) = uma_as(
        &server,
        worker,
        &[
            ("audience", RS),
            ("permission", "event#event:read"),
            ("pct", "x"),
        ],
    )
    .await;
    assert_eq!(s, 403);

    // An ID token (the default format) pushed by the client it was issued to: the member asks.
    let (s, v, _) = post_form(
        &token_url(&server),
        Some(("portal", "portal-secret")),
        &[
            ("grant_type", "password"),
            ("username", "member"),
            ("password", "member-pw"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let id_token = v["id_token"].as_str().unwrap().to_string();
    let portal = ("portal", "portal-secret");
    let decide = |perm: &'static str, client: (&'static str, &'static str), token: String| {
        let server = &server;
        async move {
            uma_as(
                server,
                client,
                &[
                    ("audience", RS),
                    ("permission", perm),
                    ("response_mode", "decision"),
                    ("claim_token", &token),
                ],
            )
            .await
        }
    };
    assert_eq!(
        decide("event#event:read", portal, id_token.clone()).await,
        (200, json!({"result": true}))
    );
    assert_eq!(
        decide("event#event:manage", portal, id_token.clone()).await,
        (403, denied)
    );
    assert_eq!(
        decide("event#event:read", worker, id_token.clone()).await,
        (
            400,
            json!({"error": "invalid_claim_token", "error_description": "Token issued to a different client"})
        )
    );
    let mut parts: Vec<String> = id_token.split('.').map(str::to_string).collect();
    parts[2] = "AAAA".repeat(20);
    assert_eq!(
        decide("event#event:read", portal, parts.join(".")).await,
        (
            400,
            json!({"error": "unauthorized_client", "error_description": "Invalid signature"})
        )
    );
    data.cleanup().await;
}

#[tokio::test]
async fn claim_tokens_sqlite() {
    claim_tokens(Backend::Sqlite).await;
}

#[tokio::test]
async fn claim_tokens_postgres() {
    claim_tokens(Backend::Postgres).await;
}

/// Each node keeps the resource servers it decided with in memory; a policy changed through
/// another node is decided with on this one at once (PostgreSQL: the change is announced).
#[tokio::test]
async fn a_permission_changed_on_another_node_decides_at_once_postgres() {
    let Some((data, a)) = seeded(Backend::Postgres).await else {
        return;
    };
    let b = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let member = user_token(&a, "member").await;
    let ask = [
        ("audience", RS),
        ("permission", "event#event:manage"),
        ("response_mode", "decision"),
    ];
    // Node A decides (and keeps the resource server).
    let (s, _) = uma(&a, &member, &ask).await;
    assert_eq!(s, 403);
    // Node B lets members manage events.
    let admin = admin_token(&b).await;
    set_event_manage_policies(&b, &admin, &["policy-tenant-admin", "policy-tenant-member"]).await;
    // Node A decides with the change (the notification travels asynchronously: a moment).
    let mut decided = (0, Value::Null);
    for _ in 0..40 {
        decided = uma(&a, &member, &ask).await;
        if decided.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(decided, (200, json!({"result": true})));
    // And back: node B deletes the permission's member policy again; node A follows.
    set_event_manage_policies(&b, &admin, &["policy-tenant-admin"]).await;
    for _ in 0..40 {
        decided = uma(&a, &member, &ask).await;
        if decided.0 == 403 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(decided.0, 403, "{}", decided.1);
}
