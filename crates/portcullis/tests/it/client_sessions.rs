//! The sessions of a client through the Admin API (`user-sessions`, `offline-sessions`,
//! `session-count`, `offline-session-count`) and the realm's `client-session-stats`, as
//! Keycloak's `ClientResource` and `RealmAdminResource` answer them.

use serde_json::{json, Value};

use crate::support::*;

async fn grant(s: &TestServer, client: &str, user: &str, scope: Option<&str>) {
    let scope: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
    let secret = format!("{client}-secret");
    let (status, body) =
        password_grant(s, "ses", client, Some(&secret), user, "pw-of-user", &scope).await;
    assert_eq!(status, 200, "{body}");
}

async fn get(s: &TestServer, t: &str, path: &str) -> (u16, Value) {
    let (status, body, _) =
        call(s, "GET", &format!("/admin/realms/ses{path}"), Some(t), None).await;
    (status, body)
}

async fn sessions_of_clients(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let user = |name: &str| {
        json!({"username": name, "enabled": true, "realmRoles": ["offline_access"],
               "firstName": name, "lastName": "Tester", "email": format!("{name}@example.com"),
               "credentials": [{"type": "password", "value": "pw-of-user"}]})
    };
    let client = |id: &str| json!({"clientId": id, "secret": format!("{id}-secret"), "directAccessGrantsEnabled": true});
    let s = start_with(
        &data,
        &[json!({"realm": "ses", "enabled": true,
                 "clients": [client("web"), client("other"), client("idle")],
                 "users": [user("alice"), user("bob")]})],
    )
    .await;
    let t = admin_token(&s).await;
    grant(&s, "web", "alice", None).await;
    grant(&s, "web", "bob", None).await;
    grant(&s, "other", "alice", None).await;
    grant(&s, "web", "bob", Some("offline_access")).await;
    let (_, clients) = get(&s, &t, "/clients").await;
    let id = |client_id: &str| {
        clients
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["clientId"] == client_id)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (web, other, idle) = (id("web"), id("other"), id("idle"));

    let (status, list) = get(&s, &t, &format!("/clients/{web}/user-sessions")).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    let mut names: Vec<&str> = list
        .iter()
        .map(|s| s["username"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["alice", "bob"]);
    for session in list {
        assert_eq!(
            session["clients"],
            json!({ web.clone(): "web" }),
            "{session}"
        );
        assert!(session["start"].as_i64().unwrap() > 0);
    }
    let (_, page) = get(
        &s,
        &t,
        &format!("/clients/{web}/user-sessions?first=1&max=1"),
    )
    .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_ne!(page[0]["id"], list[0]["id"], "the second session");
    let (_, list) = get(&s, &t, &format!("/clients/{other}/user-sessions")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["username"], "alice");
    let (_, list) = get(&s, &t, &format!("/clients/{idle}/user-sessions")).await;
    assert_eq!(list, json!([]));

    let (_, offline) = get(&s, &t, &format!("/clients/{web}/offline-sessions")).await;
    assert_eq!(offline.as_array().unwrap().len(), 1, "{offline}");
    assert_eq!(offline[0]["username"], "bob");
    for (path, n) in [
        (format!("/clients/{web}/session-count"), 2),
        (format!("/clients/{web}/offline-session-count"), 1),
        (format!("/clients/{other}/session-count"), 1),
        (format!("/clients/{other}/offline-session-count"), 0),
        (format!("/clients/{idle}/session-count"), 0),
    ] {
        assert_eq!(
            get(&s, &t, &path).await,
            (200, json!({ "count": n })),
            "{path}"
        );
    }

    let (status, stats) = get(&s, &t, "/client-session-stats").await;
    assert_eq!(status, 200);
    let mut stats = stats.as_array().unwrap().clone();
    stats.sort_by_key(|e| e["clientId"].as_str().unwrap().to_string());
    assert_eq!(
        stats,
        [
            json!({"id": other, "clientId": "other", "active": "1", "offline": "0"}),
            json!({"id": web, "clientId": "web", "active": "2", "offline": "1"}),
        ]
    );

    let (status, body) = get(&s, &t, "/clients/no-such-client/user-sessions").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("Could not find client"))
    );
    drop(s);
    data.cleanup().await;
}

#[tokio::test]
async fn a_clients_sessions_and_the_realms_session_stats_sqlite() {
    sessions_of_clients(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_clients_sessions_and_the_realms_session_stats_postgres() {
    sessions_of_clients(Backend::Postgres).await;
}
