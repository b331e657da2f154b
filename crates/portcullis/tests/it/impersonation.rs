//! Impersonation (`POST /admin/realms/{realm}/users/{id}/impersonation`) over HTTP: the
//! browser that calls it holds a real SSO session of the user afterwards (a `prompt=none`
//! login gets a code whose tokens are the user's), the event records who impersonated,
//! an administrator of the realm leaves its own session, and only the `impersonation` role
//! or the fine-grained `impersonate` permission lets it in.

use serde_json::{json, Value};

use crate::support::*;

const REALM: &str = "acme";
const CB: &str = "http://localhost:9/cb";

fn realm() -> Value {
    let user = |u: &str, groups: &[&str], roles: &[&str]| {
        json!({"username": u, "email": format!("{u}@acme.example"), "firstName": u,
               "lastName": "Tester", "enabled": true, "groups": groups,
               "clientRoles": {"realm-management": roles},
               "credentials": [{"type": "password", "value": format!("{u}-pw")}]})
    };
    json!({
        "realm": REALM, "enabled": true, "eventsEnabled": true,
        "groups": [{"name": "music"}],
        "clients": [{"clientId": "app", "publicClient": true, "redirectUris": [CB]}],
        "users": [
            user("alice", &["/music"], &[]),
            user("carol", &[], &[]),
            user("helper", &[], &["manage-users"]),
            user("imp", &[], &["impersonation", "view-users"]),
            user("music-admin", &[], &[]),
        ]
    })
}

async fn user_ids(server: &TestServer, admin: &str) -> Value {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{REALM}/users"),
        Some(admin),
        None,
    )
    .await;
    let mut m = serde_json::Map::new();
    for u in users.as_array().unwrap() {
        m.insert(u["username"].as_str().unwrap().into(), u["id"].clone());
    }
    Value::Object(m)
}

/// Impersonates `user` with `token` from browser `b`: status and body.
async fn impersonate(
    server: &TestServer,
    b: &reqwest::Client,
    token: &str,
    user: &Value,
) -> (u16, Value) {
    let url = server.url(&format!(
        "/admin/realms/{REALM}/users/{}/impersonation",
        user.as_str().unwrap()
    ));
    let r = b.post(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The username whose tokens a `prompt=none` login of browser `b` gets.
async fn who_logs_in(server: &TestServer, b: &reqwest::Client) -> Option<String> {
    let auth = server.url(&format!(
        "/realms/{REALM}/protocol/openid-connect/auth?client_id=app&response_type=code&scope=openid&prompt=none&redirect_uri={CB}"
    ));
    let r = b.get(auth).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let code = query_of(&location).get("code")?.clone();
    let (s, tokens, _) = post_form(
        &server.url(&format!("/realms/{REALM}/protocol/openid-connect/token")),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "app"),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    payload(tokens["id_token"].as_str().unwrap())["preferred_username"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn an_impersonating_browser_holds_the_users_session() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let server = start_with(&data, &[realm()]).await;
    let admin = admin_token(&server).await;
    let users = user_ids(&server, &admin).await;

    // The master administrator impersonates alice: another realm, so nothing of its own ends.
    let b = browser();
    assert_eq!(who_logs_in(&server, &b).await, None, "no session before");
    let (s, body) = impersonate(&server, &b, &admin, &users["alice"]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["sameRealm"], false);
    assert_eq!(
        body["redirect"],
        server.url(&format!("/realms/{REALM}/account"))
    );
    assert_eq!(who_logs_in(&server, &b).await.as_deref(), Some("alice"));
    let (_, sessions, _) = call(
        &server,
        "GET",
        &format!(
            "/admin/realms/{REALM}/users/{}/sessions",
            users["alice"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    let events = events_at_least(
        &server,
        &admin,
        &format!("/admin/realms/{REALM}/events"),
        "?type=IMPERSONATE",
        1,
    )
    .await;
    assert_eq!(events[0]["userId"], users["alice"]);
    assert_eq!(events[0]["details"]["impersonator"], "admin");
    assert_eq!(events[0]["details"]["impersonator_realm"], "master");

    // `manage-users` is not enough; an unknown user is 404 to who may impersonate.
    let helper = admin_cli_token(&server, REALM, "helper", "helper-pw").await;
    assert_eq!(
        impersonate(&server, &browser(), &helper, &users["carol"])
            .await
            .0,
        403
    );
    assert_eq!(
        impersonate(&server, &browser(), &admin, &json!("no-such-user"))
            .await
            .0,
        404
    );

    // An administrator of the realm itself leaves its own session first.
    let imp = admin_cli_token(&server, REALM, "imp", "imp-pw").await;
    let imp_sessions = |token: String| {
        let (server, imp_id) = (&server, users["imp"].as_str().unwrap().to_string());
        async move {
            let (_, list, _) = call(
                server,
                "GET",
                &format!("/admin/realms/{REALM}/users/{imp_id}/sessions"),
                Some(&token),
                None,
            )
            .await;
            list.as_array().unwrap().len()
        }
    };
    assert_eq!(imp_sessions(admin.clone()).await, 1);
    let b2 = browser();
    let (s, body) = impersonate(&server, &b2, &imp, &users["carol"]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["sameRealm"], true);
    assert_eq!(imp_sessions(admin.clone()).await, 0);
    assert_eq!(who_logs_in(&server, &b2).await.as_deref(), Some("carol"));
}

#[tokio::test]
async fn a_delegate_impersonates_only_the_members_it_may() {
    let Some(data) = Data::new(Backend::Sqlite).await else {
        return;
    };
    let mut r = realm();
    r["adminPermissionsEnabled"] = json!(true);
    let server = start_with(&data, &[r]).await;
    let admin = admin_token(&server).await;
    let users = user_ids(&server, &admin).await;
    let base = format!("/admin/realms/{REALM}");
    let rs = admin_permissions_server(&server, &admin, REALM).await;
    let (_, music, _) = call(
        &server,
        "GET",
        &format!("{base}/group-by-path/music"),
        Some(&admin),
        None,
    )
    .await;
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    assert_eq!(
        impersonate(&server, &browser(), &delegate, &users["alice"])
            .await
            .0,
        403
    );
    write_permission(
        &server,
        &admin,
        &rs,
        json!({"name": "delegate", "users": [users["music-admin"]]}),
    )
    .await;
    write_permission(
        &server,
        &admin,
        &rs,
        json!({"name": "music", "resourceType": "Groups", "resources": [music["id"]],
               "scopes": ["impersonate-members"], "policies": ["delegate"]}),
    )
    .await;
    let b = browser();
    let (s, body) = impersonate(&server, &b, &delegate, &users["alice"]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(who_logs_in(&server, &b).await.as_deref(), Some("alice"));
    // Its own session ended with it (same realm): that token is done; a new one is refused
    // carol, who is not a music member.
    assert_eq!(
        impersonate(&server, &browser(), &delegate, &users["carol"])
            .await
            .0,
        401
    );
    let delegate = admin_cli_token(&server, REALM, "music-admin", "music-admin-pw").await;
    assert_eq!(
        impersonate(&server, &browser(), &delegate, &users["carol"])
            .await
            .0,
        403
    );
}
