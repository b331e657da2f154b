//! Login events and admin events over HTTP: what the flows record, the Admin API listings with
//! Keycloak's filters and bad-input answers, the events configuration, the listeners' output
//! (JSON lines, `jboss-logging`) and that a realm with events off stores nothing. Events are
//! stored by a background writer, so the tests wait for them to appear.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

const REDIRECT: &str = "https://app.example.com/cb";

fn ev_realm(name: &str, events_enabled: bool) -> Value {
    json!({
        "realm": name,
        "eventsEnabled": events_enabled,
        "clients": [
            {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": true,
             "redirectUris": [REDIRECT]},
            {"clientId": "backend", "secret": "backend-secret", "serviceAccountsEnabled": true,
             "standardFlowEnabled": false}
        ],
        "users": [
            {"username": "alice", "email": "alice@example.com", "firstName": "Alice", "lastName": "L",
             "enabled": true, "emailVerified": true,
             "credentials": [{"type": "password", "value": "alice-pw"}]}
        ]
    })
}

fn token_url(server: &TestServer, realm: &str) -> String {
    server.url(&format!("/realms/{realm}/protocol/openid-connect/token"))
}

async fn web_grant(server: &TestServer, realm: &str, user: &str, pw: &str) -> (u16, Value) {
    password_grant(server, realm, "web", Some("web-secret"), user, pw, &[]).await
}

fn of_type<'a>(list: &'a [Value], t: &str) -> Vec<&'a Value> {
    list.iter().filter(|e| e["type"] == t).collect()
}

async fn user_id(server: &TestServer, token: &str, realm: &str, name: &str) -> String {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{realm}/users?username={name}&exact=true"),
        Some(token),
        None,
    )
    .await;
    users[0]["id"].as_str().unwrap().to_string()
}

async fn put_config(server: &TestServer, token: &str, realm: &str, body: Value) -> (u16, Value) {
    let (s, b, _) = call(
        server,
        "PUT",
        &format!("/admin/realms/{realm}/events/config"),
        Some(token),
        Some(body),
    )
    .await;
    (s, b)
}

async fn login_flows_record_keycloaks_events(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[ev_realm("ev", true)]).await;
    let admin = admin_token(&server).await;
    let alice = user_id(&server, &admin, "ev", "alice").await;
    let events = "/admin/realms/ev/events";

    // Password grant: a wrong password, an unknown user, then a success.
    assert_eq!(web_grant(&server, "ev", "alice", "nope").await.0, 401);
    assert_eq!(web_grant(&server, "ev", "nobody", "x").await.0, 400);
    let (s, tokens) = web_grant(&server, "ev", "alice", "alice-pw").await;
    assert_eq!(s, 200);
    // Client credentials: a success and a wrong secret.
    let (s, _, _) = post_form(
        &token_url(&server, "ev"),
        Some(("backend", "backend-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = post_form(
        &token_url(&server, "ev"),
        Some(("backend", "wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 401);

    let list = events_at_least(&server, &admin, events, "", 5).await;
    let err = of_type(&list, "LOGIN_ERROR");
    assert_eq!(err.len(), 2, "{list:?}");
    let wrong_pw = err
        .iter()
        .find(|e| e["error"] == "invalid_user_credentials")
        .unwrap();
    assert_eq!(wrong_pw["userId"], alice);
    assert_eq!(wrong_pw["clientId"], "web");
    assert_eq!(wrong_pw["ipAddress"], "127.0.0.1");
    assert_eq!(wrong_pw["details"]["username"], "alice");
    assert_eq!(wrong_pw["details"]["auth_method"], "oauth_credentials");
    let unknown = err.iter().find(|e| e["error"] == "user_not_found").unwrap();
    assert!(
        unknown.get("userId").is_none(),
        "no user resolved: {unknown}"
    );
    assert_eq!(unknown["details"]["username"], "nobody");
    let logins = of_type(&list, "LOGIN");
    assert_eq!(logins.len(), 1);
    let pw_login = logins[0];
    assert_eq!(pw_login["userId"], alice);
    assert_eq!(pw_login["sessionId"], tokens["session_state"]);
    assert_eq!(pw_login["details"]["grant_type"], "password");
    assert_eq!(pw_login["details"]["client_auth_method"], "client-secret");
    assert!(pw_login["details"]["token_id"].is_string());
    assert_eq!(pw_login["details"]["refresh_token_type"], "Refresh");
    assert!(pw_login.get("error").is_none());
    assert!(pw_login["time"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(pw_login["id"].is_string());
    let client_login = of_type(&list, "CLIENT_LOGIN");
    assert_eq!(client_login.len(), 1);
    assert_eq!(
        client_login[0]["details"]["username"],
        "service-account-backend"
    );
    let client_err = of_type(&list, "CLIENT_LOGIN_ERROR");
    assert_eq!(client_err.len(), 1);
    assert_eq!(client_err[0]["error"], "invalid_client_credentials");
    assert_eq!(client_err[0]["clientId"], "backend");

    // REFRESH_TOKEN is not stored by default; listed in enabledEventTypes, it is.
    let refresh = |rt: String| {
        let server = &server;
        async move {
            post_form(
                &token_url(server, "ev"),
                Some(("web", "web-secret")),
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await
        }
    };
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let (s, refreshed, _) = refresh(rt).await;
    assert_eq!(s, 200);
    let (s, _) = put_config(
        &server,
        &admin,
        "ev",
        json!({"eventsEnabled": true, "enabledEventTypes": ["REFRESH_TOKEN", "REFRESH_TOKEN_ERROR", "LOGOUT", "CODE_TO_TOKEN", "CODE_TO_TOKEN_ERROR", "LOGIN", "LOGIN_ERROR"]}),
    )
    .await;
    assert_eq!(s, 204);
    let rt2 = refreshed["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(refresh(rt2.clone()).await.0, 200);
    assert_eq!(refresh("garbage".into()).await.0, 400);
    let list = events_at_least(
        &server,
        &admin,
        events,
        "?type=REFRESH_TOKEN&type=REFRESH_TOKEN_ERROR",
        2,
    )
    .await;
    assert_eq!(list.len(), 2, "the first refresh was not stored: {list:?}");
    let ok = of_type(&list, "REFRESH_TOKEN")[0];
    assert_eq!(ok["userId"], alice);
    assert_eq!(ok["details"]["refresh_token_type"], "Refresh");
    assert!(ok["details"]["updated_refresh_token_id"].is_string());
    assert_eq!(
        of_type(&list, "REFRESH_TOKEN_ERROR")[0]["error"],
        "invalid_token"
    );

    // Logout with the refresh token.
    let (s, _, _) = post_form(
        &server.url("/realms/ev/protocol/openid-connect/logout"),
        Some(("web", "web-secret")),
        &[("refresh_token", &rt2)],
    )
    .await;
    assert_eq!(s, 204);
    let list = events_at_least(&server, &admin, events, "?type=LOGOUT", 1).await;
    assert_eq!(list[0]["sessionId"], tokens["session_state"]);
    assert_eq!(list[0]["userId"], alice);

    // The browser: a wrong password, then the login and the code's redemption.
    let b = browser();
    let auth = server.url(&format!(
        "/realms/ev/protocol/openid-connect/auth?client_id=web&response_type=code&scope=openid&redirect_uri={}",
        url_encode(REDIRECT)
    ));
    let (_, html) = get_page(&b, &auth).await;
    let (s, _) = submit(
        &b,
        &server,
        &html,
        &[("username", "alice"), ("password", "bad")],
    )
    .await;
    assert_eq!(s, 200);
    let (s, location, params) = login(&b, &server, &auth, "alice", "alice-pw").await;
    assert_eq!(s, 302, "{location}");
    let (s, code_tokens, _) = post_form(
        &token_url(&server, "ev"),
        Some(("web", "web-secret")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = post_form(
        &token_url(&server, "ev"),
        Some(("web", "web-secret")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(s, 400);
    let list = events_at_least(&server, &admin, events, "?type=CODE_TO_TOKEN_ERROR", 1).await;
    assert_eq!(list[0]["error"], "invalid_code");
    let list = events_at_least(&server, &admin, events, "?type=CODE_TO_TOKEN", 1).await;
    let sid = code_tokens["session_state"].as_str().unwrap();
    assert_eq!(list[0]["sessionId"], sid);
    assert_eq!(list[0]["details"]["code_id"], sid);
    assert_eq!(list[0]["details"]["grant_type"], "authorization_code");
    let list = events_at_least(&server, &admin, events, "?type=LOGIN&client=web", 2).await;
    let browser_login = list
        .iter()
        .find(|e| e["details"]["auth_method"] == "openid-connect")
        .unwrap();
    assert_eq!(browser_login["sessionId"], sid);
    assert_eq!(browser_login["details"]["code_id"], sid);
    assert_eq!(browser_login["details"]["redirect_uri"], REDIRECT);
    assert_eq!(browser_login["details"]["consent"], "no_consent_required");
    assert_eq!(browser_login["details"]["username"], "alice");
    let list = events_at_least(&server, &admin, events, "?type=LOGIN_ERROR", 3).await;
    assert!(list
        .iter()
        .any(|e| e["details"]["auth_method"] == "openid-connect"
            && e["error"] == "invalid_user_credentials"));

    // Filters and paging.
    let all = events_at_least(&server, &admin, events, "?max=-1", 10).await;
    let times: Vec<i64> = all.iter().map(|e| e["time"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let asc = events_at_least(&server, &admin, events, "?max=-1&direction=asc", all.len()).await;
    assert_eq!(asc.first(), all.last());
    let page = events_at_least(&server, &admin, events, "?first=1&max=2", 2).await;
    assert_eq!(page.len(), 2);
    assert_eq!(page[0], all[1]);
    let neg = events_at_least(&server, &admin, events, "?first=-3&max=-1", all.len()).await;
    assert_eq!(
        neg.len(),
        all.len(),
        "negative paging: from the start, no limit"
    );
    let (_, by_user, _) = call(
        &server,
        "GET",
        &format!("{events}?user={alice}&max=-1"),
        Some(&admin),
        None,
    )
    .await;
    assert!(by_user
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["userId"] == alice));
    assert!(!by_user.as_array().unwrap().is_empty());
    let (_, by_client, _) = call(
        &server,
        "GET",
        &format!("{events}?client=backend"),
        Some(&admin),
        None,
    )
    .await;
    assert!(by_client
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["clientId"] == "backend"));
    let (_, other_ip, _) = call(
        &server,
        "GET",
        &format!("{events}?ipAddress=10.9.9.9"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(other_ip, json!([]));
    let (_, future, _) = call(
        &server,
        "GET",
        &format!("{events}?dateFrom=2999-01-01"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(future, json!([]));
    let (_, past, _) = call(
        &server,
        "GET",
        &format!("{events}?dateTo=2000-01-01"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(past, json!([]));
    let (_, today, _) = call(
        &server,
        "GET",
        &format!("{events}?dateFrom=2000-01-01&max=-1"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(today.as_array().unwrap().len(), all.len());

    // Deleting clears the realm's events.
    let (s, _, _) = call(&server, "DELETE", events, Some(&admin), None).await;
    assert_eq!(s, 204);
    let (_, none, _) = call(&server, "GET", events, Some(&admin), None).await;
    assert_eq!(none, json!([]));
    data.cleanup().await;
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn login_flows_record_keycloaks_events_sqlite() {
    login_flows_record_keycloaks_events(Backend::Sqlite).await;
}

#[tokio::test]
async fn login_flows_record_keycloaks_events_postgres() {
    login_flows_record_keycloaks_events(Backend::Postgres).await;
}

#[tokio::test]
async fn a_realm_with_events_off_stores_nothing() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[ev_realm("quiet", false), ev_realm("loud", true)]).await;
    let admin = admin_token(&server).await;
    assert_eq!(web_grant(&server, "quiet", "alice", "nope").await.0, 401);
    assert_eq!(
        web_grant(&server, "quiet", "alice", "alice-pw").await.0,
        200
    );
    // The writer is one queue: once the later event of the other realm is stored, the
    // earlier ones have been handled.
    assert_eq!(web_grant(&server, "loud", "alice", "alice-pw").await.0, 200);
    events_at_least(&server, &admin, "/admin/realms/loud/events", "", 1).await;
    let (s, quiet, _) = call(
        &server,
        "GET",
        "/admin/realms/quiet/events",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(quiet, json!([]));
    let (_, admin_events, _) = call(
        &server,
        "GET",
        "/admin/realms/quiet/admin-events",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(admin_events, json!([]));
}

#[tokio::test]
async fn admin_writes_record_admin_events_with_and_without_details() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[ev_realm("adm", false)]).await;
    let admin = admin_token(&server).await;
    let list_path = "/admin/realms/adm/admin-events";
    // Off: nothing is recorded.
    let (s, _, _) = call(
        &server,
        "POST",
        "/admin/realms/adm/roles",
        Some(&admin),
        Some(json!({"name": "before"})),
    )
    .await;
    assert_eq!(s, 201);
    // Switching on records the switch itself.
    assert_eq!(
        put_config(&server, &admin, "adm", json!({"adminEventsEnabled": true}))
            .await
            .0,
        204
    );
    let (s, _, headers) = call(
        &server,
        "POST",
        "/admin/realms/adm/clients",
        Some(&admin),
        Some(json!({"clientId": "made"})),
    )
    .await;
    assert_eq!(s, 201);
    let location = headers["location"].to_str().unwrap().to_string();
    let client_uuid = location.rsplit('/').next().unwrap().to_string();
    let list = events_at_least(&server, &admin, list_path, "", 2).await;
    assert_eq!(
        list.len(),
        2,
        "the role created while off is not recorded: {list:?}"
    );
    let create = &list[0];
    assert_eq!(create["operationType"], "CREATE");
    assert_eq!(create["resourceType"], "CLIENT");
    assert_eq!(create["resourcePath"], format!("clients/{client_uuid}"));
    assert!(create.get("representation").is_none(), "details are off");
    let (_, realms, _) = call(&server, "GET", "/admin/realms/master", Some(&admin), None).await;
    let (_, adm, _) = call(&server, "GET", "/admin/realms/adm", Some(&admin), None).await;
    assert_eq!(create["realmId"], adm["id"]);
    assert_eq!(create["authDetails"]["realmId"], realms["id"]);
    let master_admin = user_id(&server, &admin, "master", "admin").await;
    assert_eq!(create["authDetails"]["userId"], master_admin);
    assert_eq!(create["authDetails"]["ipAddress"], "127.0.0.1");
    let (_, cli, _) = call(
        &server,
        "GET",
        "/admin/realms/master/clients?clientId=admin-cli",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(create["authDetails"]["clientId"], cli[0]["id"]);
    assert_eq!(list[1]["resourcePath"], "events/config");
    assert_eq!(list[1]["resourceType"], "REALM");
    assert_eq!(list[1]["operationType"], "UPDATE");

    // With details: the representation, as a JSON string.
    assert_eq!(
        put_config(
            &server,
            &admin,
            "adm",
            json!({"adminEventsEnabled": true, "adminEventsDetailsEnabled": true})
        )
        .await
        .0,
        204
    );
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/adm/clients/{client_uuid}"),
        Some(&admin),
        Some(json!({"clientId": "made", "description": "d"})),
    )
    .await;
    assert_eq!(s, 204);
    let alice = user_id(&server, &admin, "adm", "alice").await;
    let (s, _, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/adm/users/{alice}/reset-password"),
        Some(&admin),
        Some(json!({"type": "password", "value": "n3w-Passw0rd", "temporary": false})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/adm/clients/{client_uuid}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let list = events_at_least(&server, &admin, list_path, "", 6).await;
    let update = list
        .iter()
        .find(|e| e["operationType"] == "UPDATE" && e["resourceType"] == "CLIENT")
        .unwrap();
    let rep: Value = serde_json::from_str(update["representation"].as_str().unwrap()).unwrap();
    assert_eq!(rep["description"], "d");
    let action = list
        .iter()
        .find(|e| e["operationType"] == "ACTION")
        .unwrap();
    assert_eq!(
        action["resourcePath"],
        format!("users/{alice}/reset-password")
    );
    assert_eq!(action["resourceType"], "USER");
    assert!(list
        .iter()
        .any(|e| e["operationType"] == "DELETE"
            && e["resourcePath"] == format!("clients/{client_uuid}")));
    // A failed write records nothing.
    let (s, _, _) = call(
        &server,
        "POST",
        "/admin/realms/adm/clients",
        Some(&admin),
        Some(json!({"clientId": "made"})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _, _) = call(
        &server,
        "POST",
        "/admin/realms/adm/clients",
        Some(&admin),
        Some(json!({"clientId": "made"})),
    )
    .await;
    assert_eq!(s, 409);

    // Filters.
    let q = |query: &str| {
        let server = &server;
        let admin = admin.clone();
        let query = query.to_string();
        async move {
            let (s, b, _) = call(
                server,
                "GET",
                &format!("{list_path}{query}"),
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(s, 200, "{query}: {b}");
            b.as_array().unwrap().clone()
        }
    };
    let created = events_at_least(&server, &admin, list_path, "?operationTypes=CREATE", 2).await;
    assert!(created.iter().all(|e| e["operationType"] == "CREATE"));
    assert_eq!(
        q("?operationTypes=CREATE&operationTypes=DELETE")
            .await
            .len(),
        created.len() + 1
    );
    assert!(q("?resourceTypes=USER")
        .await
        .iter()
        .all(|e| e["resourceType"] == "USER"));
    assert_eq!(q(&format!("?resourcePath=users/{alice}/*")).await.len(), 1);
    assert_eq!(q("?resourcePath=clients/*").await.len(), created.len() + 2);
    assert_eq!(q("?authUser=nobody").await.len(), 0);
    assert!(
        !q(&format!("?authUser={master_admin}&authIpAddress=127.0.0.1"))
            .await
            .is_empty()
    );
    assert_eq!(q("?authRealm=elsewhere").await.len(), 0);
    assert_eq!(
        q("?max=1&direction=asc").await[0]["resourcePath"],
        "events/config"
    );
    // Clearing.
    let (s, _, _) = call(&server, "DELETE", list_path, Some(&admin), None).await;
    assert_eq!(s, 204);
    assert_eq!(q("").await.len(), 0);
}

#[tokio::test]
async fn events_config_round_trips_and_bad_input_gets_keycloaks_answers() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[ev_realm("cfg", false)]).await;
    let admin = admin_token(&server).await;
    let path = "/admin/realms/cfg/events/config";
    let (s, c, _) = call(&server, "GET", path, Some(&admin), None).await;
    assert_eq!(s, 200);
    assert_eq!(c["eventsEnabled"], false);
    assert_eq!(c["eventsListeners"], json!(["jboss-logging"]));
    assert_eq!(c["adminEventsEnabled"], false);
    assert!(c.get("eventsExpiration").is_none());
    let types = c["enabledEventTypes"].as_array().unwrap();
    assert!(types.contains(&json!("LOGIN")) && types.contains(&json!("LOGIN_ERROR")));
    assert!(
        !types.contains(&json!("REFRESH_TOKEN")),
        "not saved by default"
    );

    let full = json!({"eventsEnabled": true, "eventsExpiration": 3600, "eventsListeners": ["jboss-logging"],
        "enabledEventTypes": ["LOGIN", "LOGOUT"], "adminEventsEnabled": true, "adminEventsDetailsEnabled": true});
    assert_eq!(
        put_config(&server, &admin, "cfg", full.clone()).await.0,
        204
    );
    let (_, c, _) = call(&server, "GET", path, Some(&admin), None).await;
    assert_eq!(c, full);
    // The realm representation carries the same settings.
    let (_, rep, _) = call(&server, "GET", "/admin/realms/cfg", Some(&admin), None).await;
    assert_eq!(rep["eventsExpiration"], 3600);
    assert_eq!(rep["enabledEventTypes"], json!(["LOGIN", "LOGOUT"]));
    // `{}` turns events off and drops the expiration; the rest is kept.
    assert_eq!(put_config(&server, &admin, "cfg", json!({})).await.0, 204);
    let (_, c, _) = call(&server, "GET", path, Some(&admin), None).await;
    assert_eq!(c["eventsEnabled"], false);
    assert!(c.get("eventsExpiration").is_none());
    assert_eq!(c["adminEventsEnabled"], true);
    assert_eq!(c["enabledEventTypes"], json!(["LOGIN", "LOGOUT"]));

    // Refused bodies change nothing.
    let (s, b) = put_config(&server, &admin, "cfg", json!({"bad": "conf"})).await;
    assert_eq!(s, 400);
    assert!(
        b["error"].as_str().unwrap().contains("Unrecognized field"),
        "{b}"
    );
    let (s, b) = put_config(
        &server,
        &admin,
        "cfg",
        json!({"eventsEnabled": true, "eventsListeners": ["nope"]}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "Unknown event listener");
    // Listeners this server does not run are unknown (no `--events-loki-url`, no JSON-lines
    // output here), as Keycloak answers for a provider id without a factory; the server
    // information lists only the one it runs.
    for l in ["loki", "json-lines"] {
        let (s, b) = put_config(
            &server,
            &admin,
            "cfg",
            json!({"eventsEnabled": true, "eventsListeners": ["jboss-logging", l]}),
        )
        .await;
        assert_eq!(s, 400, "{l}");
        assert_eq!(b["error"], "Unknown event listener", "{l}");
    }
    let (_, info, _) = call(&server, "GET", "/admin/serverinfo", Some(&admin), None).await;
    assert_eq!(
        info["providers"]["eventsListener"]["providers"],
        json!({"jboss-logging": {"order": 0}})
    );
    let (s, _) = put_config(&server, &admin, "cfg", json!({"eventsEnabled": {"x": 1}})).await;
    assert_eq!(s, 400);
    let (_, c, _) = call(&server, "GET", path, Some(&admin), None).await;
    assert_eq!(c["eventsEnabled"], false, "nothing was half-written");
    // An unknown event type is stored, as Keycloak does.
    assert_eq!(
        put_config(
            &server,
            &admin,
            "cfg",
            json!({"enabledEventTypes": ["NOT_A_TYPE"]})
        )
        .await
        .0,
        204
    );

    // Listings: Keycloak's answers to bad parameters.
    for (query, status, error) in [
        (
            "?dateFrom=x",
            400,
            "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp",
        ),
        (
            "?dateFrom=2020-1-1",
            400,
            "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp",
        ),
        (
            "?dateTo=-1",
            400,
            "Invalid value for 'dateTo', expected format is yyyy-MM-dd or an Epoch timestamp",
        ),
        (
            "?direction=DESC",
            400,
            "Invalid value for sortDirection, expected value is asc or desc",
        ),
        ("?type=NOPE", 500, "unknown_error"),
        ("?first=abc", 404, "HTTP 404 Not Found"),
        ("?max=1.5", 404, "HTTP 404 Not Found"),
    ] {
        let (s, b, _) = call(
            &server,
            "GET",
            &format!("/admin/realms/cfg/events{query}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(
            (s, b["error"].as_str().unwrap_or_default()),
            (status, error),
            "{query}"
        );
    }
    for (query, status) in [
        ("?operationTypes=create", 500),
        ("?resourceTypes=NOPE", 500),
        ("?dateTo=2020-13-01", 400),
        ("?first=-1&max=-1", 200),
    ] {
        let (s, _, _) = call(
            &server,
            "GET",
            &format!("/admin/realms/cfg/admin-events{query}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(s, status, "{query}");
    }
    // Unknown realm, no token.
    let (s, _, _) = call(
        &server,
        "GET",
        "/admin/realms/none/events",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = call(&server, "GET", path, None, None).await;
    assert_eq!(s, 401);
    // A realm-management role other than view-events / manage-events is refused.
    let (s, _, _) = call(&server, "POST", "/admin/realms/cfg/users", Some(&admin), Some(json!({
        "username": "viewer", "enabled": true, "email": "v@example.com", "firstName": "V", "lastName": "V",
        "credentials": [{"type": "password", "value": "viewer-pw"}]}))).await;
    assert_eq!(s, 201);
    let viewer = user_id(&server, &admin, "cfg", "viewer").await;
    let (_, rm, _) = call(
        &server,
        "GET",
        "/admin/realms/cfg/clients?clientId=realm-management",
        Some(&admin),
        None,
    )
    .await;
    let rm = rm[0]["id"].as_str().unwrap();
    for role in ["view-realm", "view-events"] {
        let (_, r, _) = call(
            &server,
            "GET",
            &format!("/admin/realms/cfg/clients/{rm}/roles/{role}"),
            Some(&admin),
            None,
        )
        .await;
        let (s, _, _) = call(
            &server,
            "POST",
            &format!("/admin/realms/cfg/users/{viewer}/role-mappings/clients/{rm}"),
            Some(&admin),
            Some(json!([r])),
        )
        .await;
        assert_eq!(s, 204);
        let token = admin_cli_token(&server, "cfg", "viewer", "viewer-pw").await;
        let (read, _, _) = call(&server, "GET", path, Some(&token), None).await;
        let (write, _, _) = call(
            &server,
            "DELETE",
            "/admin/realms/cfg/events",
            Some(&token),
            None,
        )
        .await;
        if role == "view-realm" {
            assert_eq!((read, write), (403, 403));
        } else {
            assert_eq!((read, write), (200, 403));
        }
    }
}

#[tokio::test]
async fn listeners_write_json_lines_and_jboss_lines_without_log_injection() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data, &[ev_realm("lis", false)]);
    let out = data.dir.path().join("events.jsonl");
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--events-json-output",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap();
    let evil = "mallory\"\n2026-01-01 WARN [org.keycloak.events] type=\"LOGIN\", userId=\"admin\"\r\u{1b}[2K";
    assert_eq!(web_grant(&server, "lis", evil, "x").await.0, 400);
    let long = "u".repeat(5000);
    assert_eq!(web_grant(&server, "lis", &long, "x").await.0, 400);
    assert_eq!(web_grant(&server, "lis", "alice", "alice-pw").await.0, 200);
    let mut lines = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        lines = text.lines().map(String::from).collect();
        if lines.iter().any(|l| l.contains("\"event_type\":\"LOGIN\"")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // Each event is exactly one line, and the value reads back as it was sent.
    let errors: Vec<&Value> = parsed
        .iter()
        .filter(|e| e["event_type"] == "LOGIN_ERROR")
        .collect();
    assert_eq!(errors.len(), 2, "{lines:?}");
    assert_eq!(errors[0]["username"], evil);
    assert_eq!(errors[0]["success"], false);
    assert_eq!(errors[0]["realm"], "lis");
    assert_eq!(errors[0]["client_id"], "web");
    assert_eq!(errors[0]["ip_address"], "127.0.0.1");
    assert_eq!(errors[0]["details"]["error"], "user_not_found");
    assert_eq!(
        errors[1]["username"].as_str().unwrap().len(),
        2048,
        "long values are cut"
    );
    let ok = parsed.iter().find(|e| e["event_type"] == "LOGIN").unwrap();
    assert_eq!(ok["success"], true);
    assert!(ok["user_id"].is_string() && ok["session_id"].is_string());
    assert!(ok["timestamp"].as_str().unwrap().ends_with('Z'));
    // The realm logs no events to the JSON file unless they happen: realm events off still
    // reach the listeners (Keycloak's listeners see every event).
    let (_, stored, _) = call(
        &server,
        "GET",
        "/admin/realms/lis/events",
        Some(&admin_token(&server).await),
        None,
    )
    .await;
    assert_eq!(stored, json!([]));

    // jboss-logging: failures at `warn` (shown at the default log level), escaped.
    let logs = server.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("type=\"LOGIN_ERROR\"") && l.contains("mallory"))
        .unwrap_or_else(|| panic!("no LOGIN_ERROR line in {logs}"));
    assert!(line.contains(r#"username="mallory\"\n2026-01-01 WARN [org.keycloak.events] type=\"LOGIN\", userId=\"admin\"\r\u001b[2K""#), "{line}");
    assert!(line.contains("error=\"user_not_found\""));
    assert!(
        !logs.contains("\u{1b}[2K"),
        "no raw control characters in the log"
    );
    assert!(
        !logs.lines().any(|l| l.starts_with("2026-01-01 WARN")),
        "no forged line"
    );
}

/// A brute-force lockout is recorded as Keycloak records it: the refused attempt is a
/// `LOGIN_ERROR` with `user_temporarily_disabled`, while the client sees a wrong password.
#[tokio::test]
async fn a_lockout_is_recorded_as_user_temporarily_disabled() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let mut realm = ev_realm("lock", true);
    realm["bruteForceProtected"] = json!(true);
    realm["failureFactor"] = json!(2);
    let server = start_with(&data, &[realm]).await;
    let token = admin_token(&server).await;
    for _ in 0..2 {
        assert_eq!(web_grant(&server, "lock", "alice", "wrong").await.0, 401);
    }
    // Locked: the right password gets the unknown user's answer.
    let (status, body) = web_grant(&server, "lock", "alice", "alice-pw").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let list = events_at_least(
        &server,
        &token,
        "/admin/realms/lock/events",
        "?type=LOGIN_ERROR",
        3,
    )
    .await;
    let errors: Vec<&str> = list.iter().filter_map(|e| e["error"].as_str()).collect();
    assert_eq!(
        errors
            .iter()
            .filter(|e| **e == "invalid_user_credentials")
            .count(),
        2,
        "{list:?}"
    );
    assert_eq!(
        errors
            .iter()
            .filter(|e| **e == "user_temporarily_disabled")
            .count(),
        1,
        "{list:?}"
    );
    data.cleanup().await;
}

/// The admin events of `realm` (at most 100, newest first).
async fn admin_events_of(server: &TestServer, token: &str, realm: &str) -> Vec<Value> {
    let (s, body, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{realm}/admin-events"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

/// Runs the expired-events sweep now (Keycloak's test-suite `clear-expired-events`).
async fn clear_expired(server: &TestServer) {
    let r = client()
        .get(server.url("/realms/master/testing/clear-expired-events"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// Keycloak 24+'s realm attribute `adminEventsExpiration` (seconds) expires admin events and
/// `eventsExpiration` login events, each on its own clock, when the sweep runs.
async fn the_sweep_expires_login_and_admin_events_on_their_own_clocks(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let mut realm = ev_realm("exp", true);
    realm["eventsExpiration"] = json!(120);
    realm["adminEventsEnabled"] = json!(true);
    let server = start_with_clock(&data, &[realm]).await;
    let admin = admin_token(&server).await;
    // Set through the Admin API as the admin console does: a realm attribute, a string.
    let (s, body, _) = call(
        &server,
        "PUT",
        "/admin/realms/exp",
        Some(&admin),
        Some(json!({"attributes": {"adminEventsExpiration": "60"}})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (_, rep, _) = call(&server, "GET", "/admin/realms/exp", Some(&admin), None).await;
    assert_eq!(rep["attributes"]["adminEventsExpiration"], "60");
    // Keycloak's RealmEventsConfigRepresentation does not carry it.
    let (_, config, _) = call(
        &server,
        "GET",
        "/admin/realms/exp/events/config",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(config["eventsExpiration"], 120);
    assert!(config.get("adminEventsExpiration").is_none(), "{config}");

    assert_eq!(web_grant(&server, "exp", "alice", "alice-pw").await.0, 200);
    events_at_least(&server, &admin, "/admin/realms/exp/events", "", 1).await;
    events_at_least(&server, &admin, "/admin/realms/exp/admin-events", "", 1).await;
    // Nothing is old yet: the sweep keeps both.
    clear_expired(&server).await;
    assert_eq!(admin_events_of(&server, &admin, "exp").await.len(), 1);

    // 90 s on: the admin event (60 s) is gone, the login event (120 s) stays.
    advance_clock(&server, 90).await;
    let admin = admin_token(&server).await;
    clear_expired(&server).await;
    assert_eq!(
        admin_events_of(&server, &admin, "exp").await,
        Vec::<Value>::new()
    );
    let logins = events_at_least(&server, &admin, "/admin/realms/exp/events", "", 1).await;
    assert_eq!(of_type(&logins, "LOGIN").len(), 1, "{logins:?}");
    // A fresh admin event is kept by the same sweep.
    let (s, _, _) = call(
        &server,
        "PUT",
        "/admin/realms/exp",
        Some(&admin),
        Some(json!({"displayName": "Expiring"})),
    )
    .await;
    assert_eq!(s, 204);
    events_at_least(&server, &admin, "/admin/realms/exp/admin-events", "", 1).await;
    clear_expired(&server).await;
    assert_eq!(admin_events_of(&server, &admin, "exp").await.len(), 1);

    // 130 s on: the login event is past its 120 s; the admin event of 90 s is 40 s old.
    advance_clock(&server, 130).await;
    let admin = admin_token(&server).await;
    clear_expired(&server).await;
    let (_, logins, _) = call(
        &server,
        "GET",
        "/admin/realms/exp/events",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        of_type(logins.as_array().unwrap(), "LOGIN").len(),
        0,
        "{logins}"
    );
    let left = admin_events_of(&server, &admin, "exp").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["operationType"], "UPDATE");

    // An attribute that is not a positive number keeps admin events for good.
    let (s, _, _) = call(
        &server,
        "PUT",
        "/admin/realms/exp",
        Some(&admin),
        Some(json!({"attributes": {"adminEventsExpiration": "soon"}})),
    )
    .await;
    assert_eq!(s, 204);
    advance_clock(&server, 1000).await;
    let admin = admin_token(&server).await;
    clear_expired(&server).await;
    assert_eq!(admin_events_of(&server, &admin, "exp").await.len(), 2);
}

#[tokio::test]
async fn the_sweep_expires_login_and_admin_events_on_their_own_clocks_sqlite() {
    the_sweep_expires_login_and_admin_events_on_their_own_clocks(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_sweep_expires_login_and_admin_events_on_their_own_clocks_postgres() {
    the_sweep_expires_login_and_admin_events_on_their_own_clocks(Backend::Postgres).await;
}

type Pushed = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// A Loki stand-in: keeps every push body.
async fn loki_receiver() -> (String, Pushed) {
    async fn push(
        axum::extract::State(got): axum::extract::State<Pushed>,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::http::StatusCode {
        got.lock().unwrap().push(body);
        axum::http::StatusCode::NO_CONTENT
    }
    let got: Pushed = Default::default();
    let app = axum::Router::new()
        .route("/loki/api/v1/push", axum::routing::post(push))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

/// Every (labels, line) pushed so far.
fn pushed_lines(got: &Pushed) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    for body in got.lock().unwrap().iter() {
        for s in body["streams"].as_array().cloned().unwrap_or_default() {
            for v in s["values"].as_array().cloned().unwrap_or_default() {
                assert!(v[0].as_str().unwrap().parse::<i64>().is_ok(), "{v}");
                let line: Value = serde_json::from_str(v[1].as_str().unwrap()).unwrap();
                out.push((s["stream"].clone(), line));
            }
        }
    }
    out
}

/// A counter of `/metrics` on the management port.
async fn counter(server: &TestServer, name: &str) -> u64 {
    let mgmt = server.management.clone().unwrap();
    let text = client()
        .get(format!("{mgmt}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{name} not on /metrics")) as u64
}

/// A realm that names `loki` in `eventsListeners` (Keycloak's way of turning a listener on).
fn loki_realm(name: &str) -> Value {
    let mut r = ev_realm(name, false);
    r["eventsListeners"] = json!(["jboss-logging", "loki"]);
    r
}

#[tokio::test]
async fn the_loki_listener_pushes_labelled_lines_and_never_holds_a_login() {
    let (loki, got) = loki_receiver().await;
    let data = Data::new(Backend::Sqlite).await.unwrap();
    // `lk` names `loki`, `quiet` does not: only `lk`'s events reach Loki.
    write_realms(&data, &[loki_realm("lk"), ev_realm("quiet", false)]);
    let json_out = data.dir.path().join("events.jsonl");
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--events-loki-url",
            &loki,
            "--events-json-output",
            json_out.to_str().unwrap(),
            "--metrics-enabled=true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap();
    for realm in ["quiet", "lk"] {
        assert_eq!(web_grant(&server, realm, "alice", "nope").await.0, 401);
        assert_eq!(web_grant(&server, realm, "alice", "alice-pw").await.0, 200);
    }
    let admin = admin_token(&server).await;
    for realm in ["quiet", "lk"] {
        let (s, _, _) = call(
            &server,
            "PUT",
            &format!("/admin/realms/{realm}"),
            Some(&admin),
            Some(json!({"displayName": "Loki"})),
        )
        .await;
        assert_eq!(s, 204);
    }
    let mut lines = Vec::new();
    for _ in 0..200 {
        lines = pushed_lines(&got);
        if lines
            .iter()
            .any(|(l, _)| l["event_type"] == "ADMIN_UPDATE" && l["realm"] == "lk")
            && lines
                .iter()
                .any(|(l, _)| l["event_type"] == "LOGIN" && l["realm"] == "lk")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (labels, line) = lines
        .iter()
        .find(|(l, _)| l["event_type"] == "LOGIN_ERROR" && l["realm"] == "lk")
        .unwrap_or_else(|| panic!("no LOGIN_ERROR pushed: {lines:?}"));
    assert_eq!(
        labels,
        &json!({"job": "keycloak", "realm": "lk", "event_type": "LOGIN_ERROR",
                "success": "false", "client_id": "web"})
    );
    assert_eq!(line["username"], "alice");
    assert_eq!(line["success"], false);
    assert_eq!(line["details"]["error"], "invalid_user_credentials");
    let (labels, line) = lines
        .iter()
        .find(|(l, _)| l["event_type"] == "LOGIN" && l["realm"] == "lk")
        .unwrap();
    assert_eq!(labels["success"], "true");
    let user = line["user_id"].as_str().unwrap();
    // No label carries a user id, a username or an address.
    for (l, _) in &lines {
        for v in l.as_object().unwrap().values() {
            assert!(v != user && v != "alice" && v != "127.0.0.1", "{l}");
        }
    }
    let (labels, _) = lines
        .iter()
        .find(|(l, _)| l["event_type"] == "ADMIN_UPDATE" && l["realm"] == "lk")
        .unwrap();
    assert_eq!(labels["resource_type"], "REALM");
    // The realm that does not name `loki` pushed nothing, though the server-wide JSON-lines
    // output saw its events (so they were queued and reached the writer).
    assert!(
        !lines.iter().any(|(l, _)| l["realm"] == "quiet"),
        "{lines:?}"
    );
    let mut json_lines = String::new();
    for _ in 0..100 {
        json_lines = std::fs::read_to_string(&json_out).unwrap_or_default();
        if json_lines.contains(r#""realm":"quiet""#) && json_lines.contains("ADMIN_UPDATE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(json_lines.contains(r#""realm":"quiet""#), "{json_lines}");
    assert!(counter(&server, "portcullis_events_loki_sent_total").await >= 3);
    assert_eq!(
        counter(&server, "portcullis_events_loki_dropped_total").await,
        0
    );

    // Here the server runs Loki and the JSON-lines output: both are listed as providers; a
    // realm may turn `loki` on through the Admin API, never the global JSON-lines output.
    let (_, info, _) = call(&server, "GET", "/admin/serverinfo", Some(&admin), None).await;
    let providers = &info["providers"]["eventsListener"]["providers"];
    for id in ["jboss-logging", "loki", "json-lines"] {
        assert!(providers.get(id).is_some(), "{id}: {providers}");
    }
    let (s, body) = put_config(
        &server,
        &admin,
        "quiet",
        json!({"eventsListeners": ["json-lines"]}),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["error"],
        "Global event listeners not allowed in realm specific configuration"
    );
    let (s, body) = put_config(
        &server,
        &admin,
        "quiet",
        json!({"eventsListeners": ["loki"]}),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(
        web_grant(&server, "quiet", "alice", "alice-pw").await.0,
        200
    );
    for _ in 0..200 {
        if pushed_lines(&got)
            .iter()
            .any(|(l, _)| l["realm"] == "quiet" && l["event_type"] == "LOGIN")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the realm that turned `loki` on pushed nothing");
}

#[tokio::test]
async fn logins_go_on_while_loki_is_down_and_the_counters_show_it() {
    // A port nothing listens on.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data, &[loki_realm("lkd")]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--events-loki-url",
            &down,
            "--events-loki-buffer-size",
            "1",
            "--metrics-enabled=true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap();
    for _ in 0..6 {
        assert_eq!(web_grant(&server, "lkd", "alice", "alice-pw").await.0, 200);
        assert_eq!(web_grant(&server, "lkd", "alice", "nope").await.0, 401);
    }
    let mut counts = (0, 0);
    for _ in 0..200 {
        counts = (
            counter(&server, "portcullis_events_loki_retries_total").await,
            counter(&server, "portcullis_events_loki_dropped_total").await,
        );
        if counts.0 > 0 && counts.1 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        counts.0 > 0 && counts.1 > 0,
        "retries and drops: {counts:?}"
    );
    assert_eq!(
        counter(&server, "portcullis_events_loki_sent_total").await,
        0
    );
}

/// A realm where the credential flows and the brute-force detector have something to report:
/// a user who must change the password, one who must set up OTP, and a lockout policy of one
/// temporary lockout (after each failure, 1 s), then a permanent one.
fn audited_flows_realm() -> Value {
    json!({
        "realm": "flows",
        "eventsEnabled": true,
        "bruteForceProtected": true,
        "permanentLockout": true,
        "maxTemporaryLockouts": 1,
        "failureFactor": 1,
        "waitIncrementSeconds": 1,
        "clients": [
            {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": true,
             "redirectUris": [REDIRECT]},
            {"clientId": "tv", "publicClient": true, "standardFlowEnabled": false,
             "attributes": {"oauth2.device.authorization.grant.enabled": "true"}}
        ],
        "users": [
            {"username": "pat", "firstName": "Pat", "lastName": "Tester", "email": "pat@example.com", "enabled": true, "requiredActions": ["UPDATE_PASSWORD"],
             "credentials": [{"type": "password", "value": "pat-pw"}]},
            {"username": "tom", "firstName": "Tom", "lastName": "Tester", "email": "tom@example.com", "enabled": true, "requiredActions": ["CONFIGURE_TOTP"],
             "credentials": [{"type": "password", "value": "tom-pw"}]},
            {"username": "max", "firstName": "Max", "lastName": "Tester", "email": "max@example.com", "enabled": true,
             "credentials": [{"type": "password", "value": "max-pw"}]}
        ]
    })
}

/// Each event type a flow reports as Keycloak's code does, read back through
/// `GET /admin/realms/{r}/events?type=...`: the device flow's `OAUTH2_DEVICE_VERIFY_USER_CODE`
/// (and its `_ERROR` twin), the required actions' `UPDATE_PASSWORD` (with
/// `UPDATE_CREDENTIAL`, and both `_ERROR` twins for a mismatched confirmation), `UPDATE_TOTP`
/// beside `UPDATE_CREDENTIAL`, and the brute-force detector's
/// `USER_DISABLED_BY_TEMPORARY_LOCKOUT` and `USER_DISABLED_BY_PERMANENT_LOCKOUT`.
#[tokio::test]
async fn credential_and_lockout_flows_record_keycloaks_events() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[audited_flows_realm()]).await;
    let admin = admin_token(&server).await;
    let auth = server.url(
        "/realms/flows/protocol/openid-connect/auth?client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&scope=openid&state=s",
    );

    // UPDATE_PASSWORD at login: a mismatched confirmation, then a new password.
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth, "pat", "pat-pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("password-new"), "{page}");
    let r = post_page(
        &b,
        &server,
        &page,
        &[("password-new", "new-pw-1"), ("password-confirm", "other")],
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let r = post_page(
        &b,
        &server,
        &r.1,
        &[
            ("password-new", "new-pw-1"),
            ("password-confirm", "new-pw-1"),
        ],
    )
    .await;
    assert_eq!(r.0, 302, "{}", r.1);

    // CONFIGURE_TOTP at login.
    let b = browser();
    let (status, page, _) = login(&b, &server, &auth, "tom", "tom-pw").await;
    assert_eq!(status, 200, "{page}");
    let shown = page
        .split("id=\"kc-totp-secret-key\"")
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap()
        .trim()
        .to_string();
    let secret = portcullis::users::otp::base32_decode(&shown).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code =
        portcullis::users::otp::totp(portcullis::users::otp::Algorithm::Sha1, &secret, now, 30, 6);
    let r = post_page(
        &b,
        &server,
        &page,
        &[("totp", &code), ("userLabel", "Phone")],
    )
    .await;
    assert_eq!(r.0, 302, "{}", r.1);

    // Brute force: the first failure locks for a second (a temporary lockout); the next one,
    // after the wait, is past `maxTemporaryLockouts` and disables the user.
    let grant = |pw: &'static str| {
        let url = token_url(&server, "flows");
        async move {
            post_form(
                &url,
                Some(("web", "web-secret")),
                &[
                    ("grant_type", "password"),
                    ("username", "max"),
                    ("password", pw),
                ],
            )
            .await
            .0
        }
    };
    assert_eq!(grant("wrong").await, 401);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(grant("wrong").await, 401);

    // The device flow's user code: a wrong one, then the right one.
    let (status, d, _) = post_form(
        &server.url("/realms/flows/protocol/openid-connect/auth/device"),
        None,
        &[("client_id", "tv"), ("scope", "openid profile")],
    )
    .await;
    assert_eq!(status, 200, "{d}");
    let b = browser();
    let (status, page) = get_page(&b, &server.url("/realms/flows/device")).await;
    assert_eq!(status, 200, "{page}");
    let r = post_page(&b, &server, &page, &[("device_user_code", "ZZZZ-ZZZZ")]).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let r = post_page(
        &b,
        &server,
        &r.1,
        &[("device_user_code", d["user_code"].as_str().unwrap())],
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let verified = events_at_least(
        &server,
        &admin,
        "/admin/realms/flows/events",
        "?type=OAUTH2_DEVICE_VERIFY_USER_CODE",
        1,
    )
    .await;
    assert_eq!(verified[0]["clientId"], "tv");
    assert!(
        verified[0]["details"]["scope"]
            .as_str()
            .unwrap_or_default()
            .contains("profile"),
        "{verified:?}"
    );
    let refused = events_at_least(
        &server,
        &admin,
        "/admin/realms/flows/events",
        "?type=OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR",
        1,
    )
    .await;
    assert_eq!(refused[0]["error"], "invalid_oauth2_user_code");

    let pat = user_id(&server, &admin, "flows", "pat").await;
    let tom = user_id(&server, &admin, "flows", "tom").await;
    let max = user_id(&server, &admin, "flows", "max").await;
    let events = "/admin/realms/flows/events";
    // (type, user, error, details that must be there)
    let expected: Vec<(&str, &str, Option<&str>, Value)> = vec![
        (
            "UPDATE_PASSWORD",
            &pat,
            None,
            json!({"credential_type": "password", "username": "pat"}),
        ),
        (
            "UPDATE_PASSWORD_ERROR",
            &pat,
            Some("password_confirm_error"),
            json!({"credential_type": "password"}),
        ),
        (
            "UPDATE_CREDENTIAL",
            &pat,
            None,
            json!({"credential_type": "password"}),
        ),
        (
            "UPDATE_CREDENTIAL_ERROR",
            &pat,
            Some("password_confirm_error"),
            json!({"credential_type": "password"}),
        ),
        (
            "UPDATE_TOTP",
            &tom,
            None,
            json!({"credential_type": "otp", "username": "tom"}),
        ),
        (
            "UPDATE_CREDENTIAL",
            &tom,
            None,
            json!({"credential_type": "otp"}),
        ),
        (
            "USER_DISABLED_BY_TEMPORARY_LOCKOUT",
            &max,
            None,
            json!({"reason": "brute_force_attack detected", "num_failures": "1"}),
        ),
        (
            "USER_DISABLED_BY_PERMANENT_LOCKOUT",
            &max,
            None,
            json!({"reason": "brute_force_attack detected", "num_failures": "2"}),
        ),
    ];
    for (kind, user, error, details) in expected {
        let list = events_at_least(
            &server,
            &admin,
            events,
            &format!("?type={kind}&user={user}"),
            1,
        )
        .await;
        assert_eq!(list.len(), 1, "{kind}: {list:?}");
        let e = &list[0];
        assert_eq!(e["type"], kind);
        assert_eq!(e["userId"], *user, "{kind}");
        match error {
            Some(err) => assert_eq!(e["error"], err, "{kind}"),
            None => assert!(e.get("error").is_none(), "{kind}: {e}"),
        }
        for (k, v) in details.as_object().unwrap() {
            assert_eq!(&e["details"][k], v, "{kind}.{k}: {e}");
        }
        if kind == "USER_DISABLED_BY_TEMPORARY_LOCKOUT" {
            let nb = e["details"]["not_before"].as_str().unwrap_or_default();
            assert!(
                nb.len() >= 16 && nb.as_bytes()[10] == b'T',
                "LocalDateTime: {nb}"
            );
        }
        if kind.starts_with("USER_DISABLED") {
            assert!(e.get("clientId").is_none(), "no client: {e}");
        }
    }
    // The permanently locked user is disabled.
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/flows/users/{max}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(u["enabled"], false);
}
