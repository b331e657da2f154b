//! `/metrics` on the management port, read with a Prometheus text-format parser (the whole
//! exposition must parse): Keycloak 26's names and labels (`http_server_requests_seconds`
//! histogram by route template, `keycloak_user_events_total` with its tags), the business
//! metrics, the pool and process gauges, and labels that never carry a user or a raw path.

use std::collections::BTreeMap;

use openmetrics_parser::{PrometheusType, PrometheusValue};
use serde_json::{json, Value};

use crate::support::*;

/// One parsed series: family, labels, value (a histogram's count).
#[derive(Debug)]
struct Series {
    family: String,
    kind: PrometheusType,
    labels: BTreeMap<String, String>,
    value: f64,
    /// A histogram's buckets (upper bound, cumulative count).
    buckets: Vec<(f64, f64)>,
}

fn parse(text: &str) -> Vec<Series> {
    let exposition = openmetrics_parser::prometheus::parse_prometheus(text)
        .unwrap_or_else(|e| panic!("not Prometheus text format: {e:?}\n{text}"));
    let mut out = Vec::new();
    for (name, family) in &exposition.families {
        let names = family.get_label_names().to_vec();
        for s in family.iter_samples() {
            let set = s.get_labelset().unwrap();
            let labels: BTreeMap<String, String> = names
                .iter()
                .cloned()
                .zip(set.iter_values().cloned())
                .collect();
            let (value, buckets) = match &s.value {
                PrometheusValue::Counter(c) => (c.value.as_f64(), vec![]),
                PrometheusValue::Gauge(g) | PrometheusValue::Unknown(g) => (g.as_f64(), vec![]),
                PrometheusValue::Histogram(h) => (
                    h.count.unwrap_or(0) as f64,
                    h.buckets
                        .iter()
                        .map(|b| (b.upper_bound, b.count.as_f64()))
                        .collect(),
                ),
                PrometheusValue::Summary(s) => (s.count.unwrap_or(0) as f64, vec![]),
            };
            out.push(Series {
                family: name.clone(),
                kind: family.family_type.clone(),
                labels,
                value,
                buckets,
            });
        }
    }
    out
}

/// The value of the one series of `family` whose labels are exactly `labels`.
fn value(all: &[Series], family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.iter()
        .find(|s| s.family == family && s.labels == want)
        .map(|s| s.value)
}

fn realm() -> Value {
    json!({
        "realm": "me",
        "clients": [
            {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": true,
             "redirectUris": ["https://app.example.com/cb"]},
            {"clientId": "backend", "secret": "backend-secret", "serviceAccountsEnabled": true,
             "standardFlowEnabled": false}
        ],
        "users": [
            {"username": "alice", "firstName": "Alice", "lastName": "Tester", "email": "alice@example.com", "enabled": true,
             "credentials": [{"type": "password", "value": "alice-pw"}]}
        ]
    })
}

async fn scrape(server: &TestServer) -> (String, Vec<Series>) {
    let mgmt = server.management.clone().unwrap();
    let r = client()
        .get(format!("{mgmt}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let series = parse(&text);
    (text, series)
}

async fn traffic(server: &TestServer) -> String {
    let token = server.url("/realms/me/protocol/openid-connect/token");
    let pw = |p: &'static str| {
        let token = token.clone();
        async move {
            post_form(
                &token,
                Some(("web", "web-secret")),
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", p),
                ],
            )
            .await
            .0
        }
    };
    assert_eq!(pw("alice-pw").await, 200);
    assert_eq!(pw("wrong").await, 401);
    let (s, _, _) = post_form(
        &token,
        Some(("backend", "backend-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200);
    let admin = admin_token(server).await;
    let (s, _, _) = call(
        server,
        "POST",
        "/admin/realms/me/users",
        Some(&admin),
        Some(json!({"username": "bob", "enabled": true})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = get_json(&server.url("/no/such/path/alice")).await;
    assert_eq!(s, 404);
    let (_, users, _) = call(
        server,
        "GET",
        "/admin/realms/me/users?username=alice&exact=true",
        Some(&admin),
        None,
    )
    .await;
    users[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn metrics_carry_keycloaks_names_and_bounded_labels() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data, &[realm()]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--metrics-enabled=true",
            "--http-management-port",
            "0",
            "--event-metrics-user-enabled=true",
            "--event-metrics-user-tags=realm,idp,clientId",
            "--metrics-realm-labels=true",
        ],
        &[],
    )
    .unwrap();
    let alice = traffic(&server).await;
    let (text, all) = scrape(&server).await;

    // Keycloak's user event counter, with every tag.
    let ev = |client: &str, error: &str, event: &str| {
        value(
            &all,
            "keycloak_user_events_total",
            &[
                ("client_id", client),
                ("error", error),
                ("event", event),
                ("idp", ""),
                ("realm", "me"),
            ],
        )
    };
    assert_eq!(ev("web", "", "login"), Some(1.0), "{text}");
    assert_eq!(ev("web", "invalid_user_credentials", "login"), Some(1.0));
    assert_eq!(ev("backend", "", "client_login"), Some(1.0));
    // The business metrics, with the realm label asked for.
    let logins = |client: &str, result: &str| {
        value(
            &all,
            "keycloak_logins_total",
            &[("client_id", client), ("realm", "me"), ("result", result)],
        )
    };
    assert_eq!(logins("web", "success"), Some(1.0));
    assert_eq!(logins("web", "error"), Some(1.0));
    assert_eq!(
        value(
            &all,
            "keycloak_token_issued_total",
            &[("realm", "me"), ("token_type", "access")]
        ),
        Some(2.0),
        "the password grant and client credentials"
    );
    assert!(value(
        &all,
        "keycloak_token_issued_total",
        &[("realm", "me"), ("token_type", "refresh")]
    )
    .is_some());
    assert_eq!(
        value(
            &all,
            "keycloak_admin_events_total",
            &[
                ("operation", "CREATE"),
                ("realm", "me"),
                ("resource_type", "USER")
            ]
        ),
        Some(1.0)
    );
    assert!(
        value(&all, "keycloak_sessions_active", &[("realm", "me")]).unwrap_or(0.0) >= 1.0,
        "alice's session"
    );
    assert_eq!(
        value(
            &all,
            "keycloak_user_registrations_total",
            &[("realm", "me")]
        ),
        Some(0.0),
        "every realm's counter starts at 0"
    );
    // Requests: a histogram by route template; no route is `UNKNOWN`.
    let token = all
        .iter()
        .find(|s| {
            s.family == "http_server_requests_seconds"
                && s.labels.get("uri").map(String::as_str)
                    == Some("/realms/{realm}/protocol/openid-connect/token")
                && s.labels.get("status").map(String::as_str) == Some("200")
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(token.kind, PrometheusType::Histogram);
    assert_eq!(token.labels["method"], "POST");
    assert_eq!(token.labels["outcome"], "SUCCESS");
    assert!(token.value >= 2.0);
    assert_eq!(
        token.buckets.last().map(|b| b.1),
        Some(token.value),
        "+Inf holds all"
    );
    assert!(all
        .iter()
        .any(|s| s.family == "http_server_requests_seconds"
            && s.labels.get("uri").map(String::as_str) == Some("UNKNOWN")
            && s.labels.get("status").map(String::as_str) == Some("404")
            && s.labels.get("outcome").map(String::as_str) == Some("CLIENT_ERROR")));
    // Process and pool.
    for g in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_threads",
    ] {
        assert!(value(&all, g, &[]).unwrap_or(0.0) > 0.0, "{g}");
    }
    assert!(
        value(&all, "agroal_max_used_count", &[("datasource", "default")]).unwrap_or(0.0) >= 1.0
    );
    let waits = all
        .iter()
        .find(|s| s.family == "portcullis_store_write_wait_seconds")
        .unwrap_or_else(|| panic!("SQLite's write waits: {text}"));
    assert_eq!(waits.kind, PrometheusType::Histogram);
    assert!(waits.value >= 1.0, "the logins wrote");
    assert_eq!(waits.buckets.last().map(|b| b.1), Some(waits.value));
    store_latency_is_there(&text, &all);
    // Bounded labels: no user, no raw path.
    for s in &all {
        for (k, v) in &s.labels {
            assert!(
                !v.contains(&alice) && !v.contains("alice") && !v.contains("/realms/me/"),
                "{} {k}={v}",
                s.family
            );
        }
    }
}

/// The store's latency histogram (`portcullis_store_query_seconds{operation}`) after the token
/// requests: one series per store method called, labelled with the method's name only, each a
/// well-formed histogram.
fn store_latency_is_there(text: &str, all: &[Series]) {
    let store: Vec<&Series> = all
        .iter()
        .filter(|s| s.family == "portcullis_store_query_seconds")
        .collect();
    let ops: Vec<&str> = store
        .iter()
        .map(|s| s.labels.get("operation").map(String::as_str).unwrap_or(""))
        .collect();
    assert!(ops.len() >= 3, "store operations timed: {ops:?}\n{text}");
    for s in &store {
        assert_eq!(s.kind, PrometheusType::Histogram);
        assert_eq!(s.labels.len(), 1, "only `operation`: {:?}", s.labels);
        let op = &s.labels["operation"];
        assert!(
            !op.is_empty() && op.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "a store method's name: {op}"
        );
        assert!(s.value >= 1.0, "{op}");
        assert_eq!(s.buckets.last().map(|b| b.1), Some(s.value), "{op}");
        assert!(s.buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{op}");
    }
    // The password grant looked the user up and stored a session.
    for op in ["user_by_username", "create_session"] {
        assert!(ops.contains(&op), "{op} timed: {ops:?}");
    }
}

#[tokio::test]
async fn without_options_no_realm_label_and_no_user_event_counter() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(&data, &[realm()]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--metrics-enabled=true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap();
    traffic(&server).await;
    let (text, all) = scrape(&server).await;
    assert!(
        !all.iter().any(|s| s.family == "keycloak_user_events_total"),
        "behind --event-metrics-user-enabled: {text}"
    );
    assert_eq!(
        value(
            &all,
            "keycloak_logins_total",
            &[("client_id", "web"), ("result", "success")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(value(&all, "keycloak_sessions_active", &[]).unwrap_or(0.0) >= 1.0);
    assert_eq!(
        value(&all, "keycloak_user_registrations_total", &[]),
        Some(0.0)
    );
    for s in all.iter().filter(|s| s.family.starts_with("keycloak_")) {
        assert!(!s.labels.contains_key("realm"), "{}", s.family);
    }
}

#[tokio::test]
async fn a_bad_event_metrics_tag_is_refused_at_start() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let err = TestServer::start(
        &data,
        "start-dev",
        &["--event-metrics-user-tags=realm,user"],
        &[],
    )
    .err()
    .unwrap();
    assert!(
        err.contains("invalid value for option 'event-metrics-user-tags': 'user'"),
        "{err}"
    );
}

/// On PostgreSQL: the same exposition parses, sessions are counted from the shared database,
/// and there is no single-writer wait (PostgreSQL's writers run at once).
#[tokio::test]
async fn metrics_on_postgresql() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    write_realms(&data, &[realm()]);
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--metrics-enabled=true",
            "--http-management-port",
            "0",
        ],
        &[],
    )
    .unwrap();
    traffic(&server).await;
    let (text, all) = scrape(&server).await;
    assert!(
        value(&all, "keycloak_sessions_active", &[]).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        value(&all, "agroal_max_used_count", &[("datasource", "default")]).unwrap_or(0.0) >= 1.0
    );
    assert!(!all
        .iter()
        .any(|s| s.family == "portcullis_store_write_wait_seconds"));
    store_latency_is_there(&text, &all);
    drop(server);
    data.cleanup().await;
}
