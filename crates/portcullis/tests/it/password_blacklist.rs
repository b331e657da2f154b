//! `passwordBlacklist(<file>)`: files in the blacklists directory (`<data-dir>/password-blacklists`
//! unless `--spi-password-policy--password-blacklist--blacklists-path` says otherwise), checked
//! lower-cased when the Admin API sets a password; a policy naming a missing file is refused.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn blacklisted_passwords_are_refused_and_missing_files_too() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let lists = data.dir.path().join("password-blacklists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(
        lists.join("common.txt"),
        "Password123\nletmein\ncorrecthorse\n",
    )
    .unwrap();
    let realm = json!({"realm": "bl", "passwordPolicy": "length(6) and passwordBlacklist(common.txt)",
        "users": [{"username": "ann", "enabled": true}]});
    std::fs::write(data.import_dir().join("bl.json"), realm.to_string()).unwrap();
    let server = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    let t = admin_token(&server).await;
    let (_, users, _) = call(
        &server,
        "GET",
        "/admin/realms/bl/users?username=ann&exact=true",
        Some(&t),
        None,
    )
    .await;
    let id = users[0]["id"].as_str().unwrap().to_string();
    let reset = format!("/admin/realms/bl/users/{id}/reset-password");

    // Case-insensitive match, Keycloak's error body.
    let (s, body, _) = call(
        &server,
        "PUT",
        &reset,
        Some(&t),
        Some(json!({"type": "password", "value": "PASSWORD123", "temporary": false})),
    )
    .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"error": "invalidPasswordBlacklistedMessage", "error_description": "Invalid password: password is blacklisted."})
        )
    );
    let (s, body, _) = call(
        &server,
        "PUT",
        &reset,
        Some(&t),
        Some(json!({"type": "password", "value": "not-on-the-list", "temporary": false})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (s, body, _) = post_form(
        &server.url("/realms/bl/protocol/openid-connect/token"),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "ann"),
            ("password", "not-on-the-list"),
        ],
    )
    .await;
    assert_ne!(s, 401, "the accepted password was set: {body}");
    // Creating a user with a blacklisted password is refused the same way.
    let (s, body, _) = call(
        &server,
        "POST",
        "/admin/realms/bl/users",
        Some(&t),
        Some(json!({"username": "bob", "firstName": "Bob", "lastName": "Tester", "email": "bob@example.com", "credentials": [{"type": "password", "value": "LetMeIn"}]})),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalidPasswordBlacklistedMessage")),
        "{body}"
    );

    // A policy naming a file that is not there: the update is refused, the policy unchanged.
    let (s, body, _) = call(
        &server,
        "PUT",
        "/admin/realms/bl",
        Some(&t),
        Some(json!({"passwordPolicy": "passwordBlacklist(nope.txt)"})),
    )
    .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"errorMessage": "Invalid config for passwordBlacklist: Password blacklist nope.txt not found!"})
        )
    );
    let (_, rep, _) = call(&server, "GET", "/admin/realms/bl", Some(&t), None).await;
    assert_eq!(
        rep["passwordPolicy"],
        "length(6) and passwordBlacklist(common.txt)"
    );
    let (s, body, _) = call(
        &server,
        "PUT",
        "/admin/realms/bl",
        Some(&t),
        Some(json!({"passwordPolicy": "passwordBlacklist(../bl.json)"})),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    // So is a new realm (Admin API import) naming it.
    let (s, body, _) = call(
        &server,
        "POST",
        "/admin/realms",
        Some(&t),
        Some(json!({"realm": "bl2", "passwordPolicy": "passwordBlacklist(nope.txt)"})),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Password blacklist nope.txt not found!"),
        "{body}"
    );
    let (s, _, _) = call(&server, "GET", "/admin/realms/bl2", Some(&t), None).await;
    assert_eq!(s, 404);
    // A file added later can be named.
    std::fs::write(lists.join("nope.txt"), "hunter2\n").unwrap();
    let (s, body, _) = call(
        &server,
        "PUT",
        "/admin/realms/bl",
        Some(&t),
        Some(json!({"passwordPolicy": "passwordBlacklist(nope.txt)"})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (s, body, _) = call(
        &server,
        "PUT",
        &reset,
        Some(&t),
        Some(json!({"type": "password", "value": "Hunter2", "temporary": false})),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalidPasswordBlacklistedMessage")),
        "{body}"
    );
}

#[tokio::test]
async fn the_blacklists_directory_is_an_option_and_startup_import_checks_it() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let elsewhere = data.dir.path().join("lists-elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("mine.txt"), "qwerty\n").unwrap();
    let realm = json!({"realm": "opt", "passwordPolicy": "passwordBlacklist(mine.txt)"});
    std::fs::write(data.import_dir().join("opt.json"), realm.to_string()).unwrap();
    // In the default directory the file does not exist: the import (and start-up) fails,
    // naming the file.
    let err = TestServer::start(&data, "start-dev", &["--import-realm"], &[])
        .err()
        .unwrap();
    assert!(
        err.contains("Password blacklist mine.txt not found!"),
        "{err}"
    );
    // With the directory set (here by Keycloak's environment variable), it starts.
    let dir = elsewhere.display().to_string();
    let server = TestServer::start(
        &data,
        "start-dev",
        &["--import-realm"],
        &[(
            "KC_SPI_PASSWORD_POLICY__PASSWORD_BLACKLIST__BLACKLISTS_PATH",
            dir.as_str(),
        )],
    )
    .unwrap();
    let t = admin_token(&server).await;
    let (s, body, _) = call(
        &server,
        "POST",
        "/admin/realms/opt/users",
        Some(&t),
        Some(
            json!({"username": "quinn", "firstName": "Quinn", "lastName": "Tester", "email": "quinn@example.com", "credentials": [{"type": "password", "value": "QWERTY"}]}),
        ),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalidPasswordBlacklistedMessage")),
        "{body}"
    );
}
