//! Realms beyond a node's snapshot cache (`--realm-cache-size`): read from the store on first
//! use, at most that many kept built, the least recently used dropped; every realm still
//! issues tokens, a change or a deletion of a realm not in memory takes effect, the realm list
//! names them all, and a restart serves them without building them first.

use serde_json::{json, Value};

use crate::support::*;

const REALMS: usize = 6;

async fn token(server: &TestServer, realm: &str) -> (u16, Value) {
    let (status, body, _) = post_form(
        &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
        Some(("svc", "svc-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    (status, body)
}

async fn metric(server: &TestServer, name: &str) -> u64 {
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
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not on /metrics: {text}"))
}

fn start(data: &Data) -> TestServer {
    TestServer::start(
        data,
        "start-dev",
        &[
            "--realm-cache-size",
            "2",
            "--metrics-enabled=true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap()
}

#[tokio::test]
async fn realms_beyond_the_cache_size_are_served_changed_listed_and_deleted() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start(&data);
    let admin = admin_token(&server).await;
    for i in 0..REALMS {
        let (s, body, _) = call(
            &server,
            "POST",
            "/admin/realms",
            Some(&admin),
            Some(json!({"realm": format!("t{i}"), "enabled": true,
                "clients": [{"clientId": "svc", "secret": "svc-secret", "publicClient": false,
                             "serviceAccountsEnabled": true}]})),
        )
        .await;
        assert_eq!(s, 201, "{body}");
    }
    // Twice round all of them: each round pushes the others out of a cache of two.
    for _ in 0..2 {
        for i in 0..REALMS {
            let (s, body) = token(&server, &format!("t{i}")).await;
            assert_eq!(s, 200, "t{i}: {body}");
            let claims = payload(body["access_token"].as_str().unwrap());
            assert!(claims["iss"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/realms/t{i}")));
        }
    }
    assert_eq!(
        metric(&server, "portcullis_realms").await,
        REALMS as u64 + 1
    );
    assert!(metric(&server, "portcullis_realms_built").await <= 2);

    // A change to a realm not in memory (t0 was used first): the Admin API reads it, and the
    // token endpoint sees the change.
    let (s, body, _) = call(
        &server,
        "PUT",
        "/admin/realms/t0",
        Some(&admin),
        Some(json!({"accessTokenLifespan": 123})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    for i in 1..REALMS {
        token(&server, &format!("t{i}")).await;
    }
    let (s, body) = token(&server, "t0").await;
    assert_eq!((s, &body["expires_in"]), (200, &json!(123)), "{body}");

    // The list names every realm, brief and full, built or not.
    let (s, brief, _) = call(
        &server,
        "GET",
        "/admin/realms?briefRepresentation=true",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{brief}");
    let names = |list: &Value| -> Vec<String> {
        let mut v: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["realm"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut expected: Vec<String> = (0..REALMS).map(|i| format!("t{i}")).collect();
    expected.push("master".into());
    expected.sort();
    assert_eq!(names(&brief), expected);
    assert!(brief
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["enabled"] == true));
    let (s, full, _) = call(&server, "GET", "/admin/realms", Some(&admin), None).await;
    assert_eq!(s, 200);
    assert_eq!(names(&full), expected);
    let t0 = full
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["realm"] == "t0")
        .unwrap();
    assert_eq!(t0["accessTokenLifespan"], 123);
    // Listing did not push the realms in use out.
    assert!(metric(&server, "portcullis_realms_built").await <= 2);

    // A realm not in memory deleted: gone everywhere.
    let (s, _, _) = call(&server, "DELETE", "/admin/realms/t1", Some(&admin), None).await;
    assert_eq!(s, 204);
    let gone = token(&server, "t1").await;
    assert_eq!(
        gone.1["error_description"], "Realm does not exist",
        "{gone:?}"
    );
    assert_eq!(gone, token(&server, "no-such-realm").await);
    let (s, body, _) = call(&server, "GET", "/admin/realms/t1", Some(&admin), None).await;
    assert_eq!(s, 404, "{body}");

    // A restart serves every realm again, built on first use.
    drop(server);
    let server = start(&data);
    assert_eq!(metric(&server, "portcullis_realms").await, REALMS as u64);
    assert_eq!(metric(&server, "portcullis_realms_built").await, 0);
    for i in (0..REALMS).filter(|i| *i != 1) {
        let (s, body) = token(&server, &format!("t{i}")).await;
        assert_eq!(s, 200, "t{i}: {body}");
    }
    assert_eq!(token(&server, "t1").await, gone);
    assert!(metric(&server, "portcullis_realms_built").await <= 2);
}
