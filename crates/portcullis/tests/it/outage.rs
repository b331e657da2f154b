//! PostgreSQL going away under a running server and coming back: requests that need the
//! database answer `503` with `Retry-After` within the pool's bounded wait (never a hang, never
//! a bare 500), requests served from the cached realm (discovery, JWKS) keep answering,
//! readiness turns DOWN, and everything recovers by itself when the database returns. The
//! outage is real: the server's own PostgreSQL role is refused logins and its connections are
//! terminated (`ALTER ROLE .. NOLOGIN` + `pg_terminate_backend`), then allowed again.

use serde_json::json;
use sqlx::PgPool;

use crate::support::*;

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

/// Drops the test's role. The killed server's backends may still be ending and other tests
/// may be changing the catalog at the same moment, so a refusal is retried; a role that
/// still cannot go is left behind with a warning (it holds nothing once its schema is gone),
/// as cleanup is not what this test proves.
async fn drop_role(pool: &PgPool, role: &str) {
    let mut last = String::new();
    for _ in 0..20 {
        let dropped = async {
            sqlx::query(&format!("DROP OWNED BY {role}"))
                .execute(pool)
                .await?;
            sqlx::query(&format!("DROP ROLE {role}"))
                .execute(pool)
                .await
        };
        match dropped.await {
            Ok(_) => return,
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    eprintln!("warning: role {role} left behind: {last}");
}

/// `url` with its user replaced by `role`.
fn with_user(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map(|(_, h)| h).unwrap_or(rest);
    format!("{scheme}://{role}@{host}")
}

async fn cut(pool: &PgPool, role: &str) {
    exec(pool, &format!("ALTER ROLE {role} NOLOGIN")).await;
    exec(
        pool,
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"),
    )
    .await;
}

#[tokio::test]
async fn a_database_outage_answers_503_and_the_server_recovers_by_itself() {
    let Some(mut data) = Data::new(Backend::Postgres).await else {
        return;
    };
    let role = format!("it_role_{}", uuid::Uuid::new_v4().simple());
    let pool = PgPool::connect(&pg_url()).await.unwrap();
    exec(&pool, &format!("CREATE ROLE {role} LOGIN")).await;
    exec(
        &pool,
        &format!("DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO {role}', current_database()); END $$"),
    )
    .await;
    data.db_url = Some(with_user(&pg_url(), &role));
    write_realms(
        &data,
        &[json!({
            "realm": "shop", "enabled": true,
            "clients": [{"clientId": "svc", "secret": "svc-secret", "publicClient": false,
                         "serviceAccountsEnabled": true, "standardFlowEnabled": false}],
        })],
    );
    let s = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--health-enabled",
            "true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap();
    let token_url = s.url("/realms/shop/protocol/openid-connect/token");
    let grant = || async {
        post_form(
            &token_url,
            Some(("svc", "svc-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await
    };
    let admin = admin_token(&s).await;
    let users = || async { call(&s, "GET", "/admin/realms/shop/users", Some(&admin), None).await };
    let ready = format!("{}/health/ready", s.management.clone().unwrap());
    assert_eq!(grant().await.0, 200);
    assert_eq!(users().await.0, 200);
    assert_eq!(get_json(&ready).await.0, 200);

    cut(&pool, &role).await;

    // Needs the database: 503 with Retry-After and a body that says why.
    let (status, body, headers) = users().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    // The grant reads only the service-account user and its roles, which the node caches
    // while it listens for other nodes' changes. It serves them until its listener learns that
    // its connection is gone (at once on an idle machine, later on a busy one); from then on
    // the grant needs the database.
    let mut answer = grant().await;
    for _ in 0..100 {
        if answer.0 != 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = grant().await;
    }
    let (status, body, headers) = answer;
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers["retry-after"], "5");
    // Served from the cached realm: still answering.
    let (status, _) = get_json(&s.url("/realms/shop/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    let (status, jwks) = get_json(&s.url("/realms/shop/protocol/openid-connect/certs")).await;
    assert_eq!(status, 200);
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
    // Not ready while the database is away.
    let (status, health) = get_json(&ready).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("DOWN")),
        "{health}"
    );

    // The database comes back: the same process serves again, no restart.
    exec(&pool, &format!("ALTER ROLE {role} LOGIN")).await;
    let mut recovered = false;
    for _ in 0..100 {
        if grant().await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "the token endpoint recovered");
    assert_eq!(users().await.0, 200);
    assert_eq!(get_json(&ready).await.0, 200);

    drop(s);
    data.cleanup().await;
    drop_role(&pool, &role).await;
    pool.close().await;
}
