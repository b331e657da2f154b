//! Reading a realm's events and admin events as an admin would.

use std::time::Duration;

use serde_json::Value;

use super::{call, TestServer};

/// The events at `path` (`/admin/realms/{realm}/events` or `.../admin-events`) for `query`,
/// once at least `n` are there (the writer is asynchronous).
pub async fn events_at_least(
    server: &TestServer,
    token: &str,
    path: &str,
    query: &str,
    n: usize,
) -> Vec<Value> {
    for _ in 0..100 {
        let (s, body, _) = call(server, "GET", &format!("{path}{query}"), Some(token), None).await;
        assert_eq!(s, 200, "{body}");
        let list = body.as_array().cloned().unwrap_or_default();
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} events at {path}{query}");
}
