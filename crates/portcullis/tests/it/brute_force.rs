//! Brute-force detection over HTTP, as Keycloak 26 behaves: lockout after `failureFactor`
//! failures and growing waits, the lockout answered as a wrong password (even for the right
//! one), unlock after the wait (the test clock moves instead of the test sleeping), permanent
//! lockout, the attack-detection Admin API, and parallel guesses that cannot get past the
//! lockout. On SQLite and PostgreSQL.

use serde_json::{json, Value};

use crate::support::*;

/// A protected realm; `quickLoginCheckMilliSeconds` 0 so that fast test requests are never
/// "quick logins" (those have their own minimum wait, covered by the unit tests).
fn realm(extra: Value) -> Value {
    let mut r = json!({
        "realm": "bf",
        "bruteForceProtected": true,
        "failureFactor": 3,
        "waitIncrementSeconds": 60,
        "quickLoginCheckMilliSeconds": 0,
        "clients": [
            {"clientId": "cli", "publicClient": true, "directAccessGrantsEnabled": true},
            {"clientId": "spa", "publicClient": true, "redirectUris": ["http://localhost:3000/*"]}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}]},
            {"username": "bob", "firstName": "Bob", "lastName": "Tester", "email": "bob@example.com", "enabled": true, "credentials": [{"type": "password", "value": "bob-pw"}]}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// The failures counted on one node lock the user on another sharing the PostgreSQL database.
#[tokio::test]
async fn nodes_on_one_postgres_share_the_counters() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    write_realms(&data, &[realm(json!({}))]);
    let one = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    let two = TestServer::start(&data, "start-dev", &["--import-realm"], &[]).unwrap();
    assert_eq!(grant(&one, "alice", "nope").await.0, 401);
    assert_eq!(grant(&two, "alice", "nope").await.0, 401);
    assert_eq!(grant(&one, "alice", "nope").await.0, 401);
    assert_eq!(
        grant(&two, "alice", "alice-pw").await,
        (400, invalid_credentials())
    );
    let token = admin_token(&two).await;
    let alice = user_id(&two, &token, "alice").await;
    assert_eq!(status_of(&two, &token, &alice).await["numFailures"], 3);
    // Cleared on one node, let in on the other.
    let t1 = admin_token(&one).await;
    call(
        &one,
        "DELETE",
        "/admin/realms/bf/attack-detection/brute-force/users",
        Some(&t1),
        None,
    )
    .await;
    assert_eq!(grant(&two, "alice", "alice-pw").await.0, 200);
    data.cleanup().await;
}

async fn grant(server: &TestServer, user: &str, pw: &str) -> (u16, Value) {
    password_grant(server, "bf", "cli", None, user, pw, &[]).await
}

async fn user_id(server: &TestServer, token: &str, name: &str) -> String {
    let (_, users, _) = call(
        server,
        "GET",
        &format!("/admin/realms/bf/users?username={name}&exact=true"),
        Some(token),
        None,
    )
    .await;
    users[0]["id"].as_str().unwrap().to_string()
}

async fn status_of(server: &TestServer, token: &str, id: &str) -> Value {
    let (s, body, _) = call(
        server,
        "GET",
        &format!("/admin/realms/bf/attack-detection/brute-force/users/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body
}

fn invalid_credentials() -> Value {
    json!({"error": "invalid_grant", "error_description": "Invalid user credentials"})
}

#[tokio::test]
async fn password_grant_lockout_waits_and_unlock_sqlite() {
    password_grant_lockout_waits_and_unlock(Backend::Sqlite).await;
}

#[tokio::test]
async fn password_grant_lockout_waits_and_unlock_postgres() {
    password_grant_lockout_waits_and_unlock(Backend::Postgres).await;
}

async fn password_grant_lockout_waits_and_unlock(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with_clock(&data, &[realm(json!({}))]).await;
    let mut token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;

    // Two failures, then the right password: let in, and the failures are forgotten.
    for _ in 0..2 {
        assert_eq!(grant(&server, "alice", "nope").await.0, 401);
    }
    let st = status_of(&server, &token, &alice).await;
    assert_eq!(st["numFailures"], 2);
    assert_eq!(st["disabled"], false);
    assert_eq!(st["lastIPFailure"], "127.0.0.1");
    assert!(
        st["lastFailure"].as_i64().unwrap() > 1_600_000_000_000,
        "{st}"
    );
    assert_eq!(grant(&server, "alice", "alice-pw").await.0, 200);
    assert_eq!(status_of(&server, &token, &alice).await["numFailures"], 0);

    // failureFactor failures: locked for waitIncrementSeconds.
    for _ in 0..3 {
        let (s, body) = grant(&server, "alice", "nope").await;
        assert_eq!((s, body), (401, invalid_credentials()));
    }
    // The right password is refused with the unknown user's answer: the lockout is not
    // revealed, and the attempt is not counted.
    assert_eq!(
        grant(&server, "alice", "alice-pw").await,
        (400, invalid_credentials())
    );
    assert_eq!(
        grant(&server, "nobody", "alice-pw").await,
        (400, invalid_credentials())
    );
    assert_eq!(grant(&server, "alice", "nope").await.0, 400);
    let st = status_of(&server, &token, &alice).await;
    assert_eq!(st["numFailures"], 3, "{st}");
    assert_eq!(st["disabled"], true);
    assert_eq!(st["numTemporaryLockouts"], 1);
    let last = st["lastFailure"].as_i64().unwrap() / 1000;
    assert_eq!(st["failedLoginNotBefore"].as_i64().unwrap(), last + 60);
    // Keycloak's user representation shows the locked user as disabled.
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/bf/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(u["enabled"], false);
    // Other users are not affected.
    assert_eq!(grant(&server, "bob", "bob-pw").await.0, 200);

    // After the wait a failure locks again at once (MULTIPLE: 60 s per 3 failures, so 4/3 and
    // 5/3 wait 60 s, 6/3 waits 120 s).
    advance_clock(&server, 61).await;
    token = admin_token(&server).await;
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/bf/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(u["enabled"], true);
    assert_eq!(grant(&server, "alice", "nope").await.0, 401);
    let st = status_of(&server, &token, &alice).await;
    assert_eq!(st["numFailures"], 4);
    assert_eq!(st["numTemporaryLockouts"], 2);
    let last = st["lastFailure"].as_i64().unwrap() / 1000;
    assert_eq!(st["failedLoginNotBefore"].as_i64().unwrap(), last + 60);
    assert_eq!(grant(&server, "alice", "alice-pw").await.0, 400);
    advance_clock(&server, 122).await;
    assert_eq!(grant(&server, "alice", "nope").await.0, 401);
    advance_clock(&server, 183).await;
    token = admin_token(&server).await;
    assert_eq!(grant(&server, "alice", "nope").await.0, 401);
    let st = status_of(&server, &token, &alice).await;
    assert_eq!(st["numFailures"], 6);
    assert_eq!(st["numTemporaryLockouts"], 4);
    let last = st["lastFailure"].as_i64().unwrap() / 1000;
    assert_eq!(st["failedLoginNotBefore"].as_i64().unwrap(), last + 120);
    advance_clock(&server, 183 + 61).await;
    assert_eq!(
        grant(&server, "alice", "alice-pw").await.0,
        400,
        "still locked"
    );
    advance_clock(&server, 183 + 121).await;
    token = admin_token(&server).await;
    assert_eq!(
        grant(&server, "alice", "alice-pw").await.0,
        200,
        "the wait is over"
    );
    assert_eq!(status_of(&server, &token, &alice).await["numFailures"], 0);

    // The Admin API ends a lockout: one user, then all users.
    for user in ["alice", "bob"] {
        for _ in 0..3 {
            assert_eq!(grant(&server, user, "nope").await.0, 401);
        }
    }
    let bob = user_id(&server, &token, "bob").await;
    let (s, body, _) = call(
        &server,
        "DELETE",
        &format!("/admin/realms/bf/attack-detection/brute-force/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(
        status_of(&server, &token, &alice).await,
        json!({"disabled": false, "numFailures": 0, "numTemporaryLockouts": 0, "lastFailure": 0,
               "lastIPFailure": "n/a", "failedLoginNotBefore": 0})
    );
    assert_eq!(grant(&server, "alice", "alice-pw").await.0, 200);
    assert_eq!(grant(&server, "bob", "bob-pw").await.0, 400);
    let (s, _, _) = call(
        &server,
        "DELETE",
        "/admin/realms/bf/attack-detection/brute-force/users",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(status_of(&server, &token, &bob).await["numFailures"], 0);
    assert_eq!(grant(&server, "bob", "bob-pw").await.0, 200);
    // An unknown user id: Keycloak's defaults, not a 404.
    assert_eq!(
        status_of(&server, &token, "no-such-user").await["numFailures"],
        0
    );
    // Only administrators who may manage users clear failures.
    let (s, _, _) = call(
        &server,
        "DELETE",
        "/admin/realms/bf/attack-detection/brute-force/users",
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
    data.cleanup().await;
}

#[tokio::test]
async fn parallel_guesses_cannot_get_past_the_lockout_sqlite() {
    parallel_guesses_cannot_get_past_the_lockout(Backend::Sqlite).await;
}

#[tokio::test]
async fn parallel_guesses_cannot_get_past_the_lockout_postgres() {
    parallel_guesses_cannot_get_past_the_lockout(Backend::Postgres).await;
}

/// Rounds of 20 parallel wrong guesses until the user is locked: no more than failureFactor
/// passwords are ever checked (a checked wrong password is a 401; a guess refused unchecked,
/// because the user is locked or another guess of the user is being checked, is a 400), every
/// checked one is counted, and then parallel attempts with the right password are all refused.
async fn parallel_guesses_cannot_get_past_the_lockout(backend: Backend) {
    let Some(data) = Data::new(backend).await else {
        return;
    };
    let server = start_with(&data, &[realm(json!({"waitIncrementSeconds": 600}))]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;
    let server = std::sync::Arc::new(server);
    let burst = |pw: &'static str| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move { grant(&server, "alice", pw).await })
            })
            .collect();
        async move {
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        }
    };
    let mut checked = 0;
    for _ in 0..20 {
        for (s, body) in burst("nope").await {
            match s {
                401 => checked += 1,
                400 => assert_eq!(body, invalid_credentials()),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        if status_of(&server, &token, &alice).await["disabled"] == true {
            break;
        }
    }
    assert_eq!(checked, 3, "exactly failureFactor guesses were checked");
    let st = status_of(&server, &token, &alice).await;
    assert_eq!(
        st["numFailures"], 3,
        "every checked guess was counted: {st}"
    );
    assert_eq!(st["disabled"], true);
    for (s, body) in burst("alice-pw").await {
        assert_eq!(
            (s, body),
            (400, invalid_credentials()),
            "locked, whatever the password"
        );
    }
    data.cleanup().await;
}

#[tokio::test]
async fn permanent_lockout_disables_the_user_until_enabled() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(
        &data,
        &[realm(json!({"permanentLockout": true, "failureFactor": 2}))],
    )
    .await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;
    for _ in 0..2 {
        assert_eq!(grant(&server, "alice", "nope").await.0, 401);
    }
    // Disabled as Keycloak disables it, and refused as a wrong password (not "Account
    // disabled", which an administrator's disabling answers).
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/bf/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(u["enabled"], false);
    assert_eq!(
        u["attributes"]["disabledReason"],
        json!(["permanentLockout"])
    );
    assert_eq!(
        grant(&server, "alice", "alice-pw").await,
        (400, invalid_credentials())
    );
    let st = status_of(&server, &token, &alice).await;
    assert_eq!(st["disabled"], true);
    assert_eq!(st["failedLoginNotBefore"], json!(i64::MAX));
    // Clearing the failures does not enable the user...
    call(
        &server,
        "DELETE",
        &format!("/admin/realms/bf/attack-detection/brute-force/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(grant(&server, "alice", "alice-pw").await.0, 400);
    // ...enabling it does, and drops the reason.
    let (s, body, _) = call(
        &server,
        "PUT",
        &format!("/admin/realms/bf/users/{alice}"),
        Some(&token),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    let (_, u, _) = call(
        &server,
        "GET",
        &format!("/admin/realms/bf/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    assert!(u["attributes"].get("disabledReason").is_none(), "{u}");
    assert_eq!(grant(&server, "alice", "alice-pw").await.0, 200);
    // A user an administrator disabled keeps Keycloak's own answer.
    call(
        &server,
        "PUT",
        &format!("/admin/realms/bf/users/{alice}"),
        Some(&token),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        grant(&server, "alice", "alice-pw").await,
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Account disabled"})
        )
    );
}

#[tokio::test]
async fn login_form_lockout_looks_like_a_wrong_password() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm(json!({"failureFactor": 2}))]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;
    let auth = format!(
        "{}?client_id=spa&response_type=code&scope=openid&redirect_uri={}",
        server.url("/realms/bf/protocol/openid-connect/auth"),
        url::form_urlencoded::byte_serialize(b"http://localhost:3000/cb").collect::<String>()
    );
    let b = browser();
    // An empty password is refused without being counted (Keycloak's form).
    let (s, body, _) = login(&b, &server, &auth, "alice", "").await;
    assert_eq!(s, 200);
    assert!(body.contains("Invalid username or password."));
    assert_eq!(status_of(&server, &token, &alice).await["numFailures"], 0);
    for _ in 0..2 {
        let (s, body, _) = login(&b, &server, &auth, "alice", "nope").await;
        assert_eq!(s, 200);
        assert!(body.contains("Invalid username or password."));
    }
    let st = status_of(&server, &token, &alice).await;
    assert_eq!(st["numFailures"], 2);
    assert_eq!(st["disabled"], true);
    // The right password: the same page and message as a wrong one, no redirect.
    let (s, body, q) = login(&b, &server, &auth, "alice", "alice-pw").await;
    assert_eq!(s, 200);
    assert!(body.contains("Invalid username or password."), "{body}");
    assert!(q.is_empty());
    // The lockout is shared with the password grant.
    assert_eq!(grant(&server, "alice", "alice-pw").await.0, 400);
    call(
        &server,
        "DELETE",
        &format!("/admin/realms/bf/attack-detection/brute-force/users/{alice}"),
        Some(&token),
        None,
    )
    .await;
    let (s, location, q) = login(&b, &server, &auth, "alice", "alice-pw").await;
    assert_eq!(s, 302, "{location}");
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn an_unprotected_realm_counts_nothing() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm(json!({"bruteForceProtected": false}))]).await;
    let token = admin_token(&server).await;
    let alice = user_id(&server, &token, "alice").await;
    for _ in 0..5 {
        assert_eq!(grant(&server, "alice", "nope").await.0, 401);
    }
    assert_eq!(status_of(&server, &token, &alice).await["numFailures"], 0);
    assert_eq!(grant(&server, "alice", "alice-pw").await.0, 200);
    // Switching protection on through the Admin API takes effect at once.
    let (s, _, _) = call(
        &server,
        "PUT",
        "/admin/realms/bf",
        Some(&token),
        Some(json!({"bruteForceProtected": true})),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(grant(&server, "alice", "nope").await.0, 401);
    assert_eq!(status_of(&server, &token, &alice).await["numFailures"], 1);
}
