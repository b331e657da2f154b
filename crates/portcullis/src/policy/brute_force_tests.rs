//! Keycloak's brute-force algorithm, step by step with pinned times.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;

fn policy(fields: Value) -> Policy {
    let Value::Object(extra) = fields else {
        panic!("fields are an object")
    };
    Policy::of(&RealmRepresentation {
        extra,
        ..Default::default()
    })
}

/// Failures at the given times (ms) from the empty row: the row after each.
fn run(p: &Policy, times: &[i64]) -> Vec<LoginFailureRow> {
    let mut row = LoginFailureRow::default();
    let mut out = Vec::new();
    for t in times {
        row = next(p, &row, *t, Some("10.0.0.1"));
        out.push(row.clone());
    }
    out
}

const T0: i64 = 1_700_000_000_000;

#[test]
fn defaults_are_keycloaks() {
    let p = Policy::default();
    assert_eq!(
        p,
        Policy {
            protected: false,
            permanent_lockout: false,
            max_temporary_lockouts: 0,
            strategy: Strategy::Multiple,
            failure_factor: 30,
            wait_increment_seconds: 60,
            quick_login_check_milli_seconds: 1000,
            minimum_quick_login_wait_seconds: 60,
            max_failure_wait_seconds: 900,
            max_delta_time_seconds: 43200,
        }
    );
    // Jackson's coercions: strings for booleans and numbers.
    let p = policy(
        json!({"bruteForceProtected": "true", "failureFactor": "3", "bruteForceStrategy": "LINEAR"}),
    );
    assert!(p.protected);
    assert_eq!(p.failure_factor, 3);
    assert_eq!(p.strategy, Strategy::Linear);
    // A zero factor would divide by zero.
    assert_eq!(policy(json!({"failureFactor": 0})).failure_factor, 1);
}

#[test]
fn multiple_locks_every_failure_factor_failures() {
    let p =
        policy(json!({"bruteForceProtected": true, "failureFactor": 3, "waitIncrementSeconds": 5}));
    // Two seconds apart: never a quick login.
    let rows = run(
        &p,
        &[T0, T0 + 2000, T0 + 4000, T0 + 6000, T0 + 8000, T0 + 10_000],
    );
    assert_eq!(rows[0].num_failures, 1);
    assert_eq!(
        rows[1].failed_login_not_before, 0,
        "no wait before 3 failures"
    );
    assert_eq!(rows[2].failed_login_not_before, (T0 + 4000) / 1000 + 5);
    assert_eq!(rows[2].num_temporary_lockouts, 1);
    // The 4th and 5th: 4/3 = 1 increment again (Keycloak's integer division).
    assert_eq!(rows[3].failed_login_not_before, (T0 + 6000) / 1000 + 5);
    assert_eq!(rows[3].num_temporary_lockouts, 2);
    assert_eq!(rows[5].failed_login_not_before, (T0 + 10_000) / 1000 + 10);
    assert_eq!(rows[5].num_failures, 6);
    assert_eq!(rows[5].last_failure, T0 + 10_000);
    assert_eq!(rows[5].last_ip_failure.as_deref(), Some("10.0.0.1"));
}

#[test]
fn linear_grows_by_one_increment_per_failure_and_is_capped() {
    let p = policy(json!({
        "bruteForceProtected": true, "bruteForceStrategy": "LINEAR", "failureFactor": 2,
        "waitIncrementSeconds": 10, "maxFailureWaitSeconds": 25
    }));
    let rows = run(&p, &[T0, T0 + 5000, T0 + 10_000, T0 + 15_000]);
    assert_eq!(rows[0].failed_login_not_before, 0);
    assert_eq!(rows[1].failed_login_not_before, (T0 + 5000) / 1000 + 10);
    assert_eq!(rows[2].failed_login_not_before, (T0 + 10_000) / 1000 + 20);
    assert_eq!(
        rows[3].failed_login_not_before,
        (T0 + 15_000) / 1000 + 25,
        "capped"
    );
}

#[test]
fn quick_failures_wait_the_minimum_without_counting_a_lockout() {
    let p = policy(json!({"bruteForceProtected": true, "minimumQuickLoginWaitSeconds": 7}));
    let rows = run(&p, &[T0, T0 + 300]);
    assert_eq!(
        rows[0].failed_login_not_before, 0,
        "the first failure is never quick"
    );
    assert_eq!(rows[1].failed_login_not_before, (T0 + 300) / 1000 + 7);
    assert_eq!(rows[1].num_temporary_lockouts, 0);
}

#[test]
fn failures_older_than_max_delta_are_forgotten() {
    let p = policy(
        json!({"bruteForceProtected": true, "failureFactor": 2, "maxDeltaTimeSeconds": 60, "waitIncrementSeconds": 1}),
    );
    let rows = run(&p, &[T0, T0 + 61_000 + 1, T0 + 63_000]);
    assert_eq!(rows[1].num_failures, 1, "reset, then this failure");
    assert_eq!(rows[1].failed_login_not_before, 0);
    assert_eq!(rows[2].num_failures, 2);
    assert_eq!(rows[2].num_temporary_lockouts, 1);
}

#[test]
fn permanent_lockout_without_temporary_ones() {
    let p =
        policy(json!({"bruteForceProtected": true, "permanentLockout": true, "failureFactor": 3}));
    let rows = run(&p, &[T0, T0 + 2000, T0 + 4000]);
    assert!(rows.iter().all(|r| r.num_temporary_lockouts == 0));
    assert!(!locks_permanently(&p, &rows[1]));
    assert!(locks_permanently(&p, &rows[2]));
    // No reset however old the failures: they count until the user is disabled.
    let late = next(&p, &rows[1], T0 + 100 * 86_400_000, None);
    assert_eq!(late.num_failures, 3);
}

#[test]
fn permanent_lockout_after_max_temporary_lockouts() {
    let p = policy(json!({
        "bruteForceProtected": true, "permanentLockout": true, "maxTemporaryLockouts": 1,
        "failureFactor": 2, "waitIncrementSeconds": 1
    }));
    let rows = run(&p, &[T0, T0 + 5000, T0 + 10_000, T0 + 15_000]);
    assert_eq!(rows[1].num_temporary_lockouts, 1);
    assert!(rows[1].failed_login_not_before > 0);
    assert!(!locks_permanently(&p, &rows[1]));
    assert_eq!(rows[2].num_temporary_lockouts, 2);
    assert!(locks_permanently(&p, &rows[2]));
    // Past the allowed lockouts no new wait is set: the user is disabled instead.
    assert_eq!(
        rows[2].failed_login_not_before,
        rows[1].failed_login_not_before
    );
}

#[test]
fn lock_checks_the_permanent_lockout_first() {
    let p = policy(json!({"bruteForceProtected": true}));
    let mut user = UserRepresentation::default();
    let row = LoginFailureRow {
        num_failures: 30,
        failed_login_not_before: 1_000,
        ..Default::default()
    };
    assert_eq!(lock(&p, &user, Some(&row), 999), Some(Lock::Temporary));
    assert_eq!(lock(&p, &user, Some(&row), 1_000), None, "the wait is over");
    assert_eq!(lock(&p, &user, None, 0), None);
    user.enabled = Some(false);
    assert_eq!(
        lock(&p, &user, None, 0),
        None,
        "disabled by an administrator"
    );
    user.attributes = Some(
        [(
            DISABLED_REASON.to_string(),
            json!([DISABLED_BY_PERMANENT_LOCKOUT]),
        )]
        .into_iter()
        .collect(),
    );
    assert_eq!(lock(&p, &user, None, 0), Some(Lock::Permanent));
    assert_eq!(
        lock(&Policy::default(), &user, None, 0),
        None,
        "not protected"
    );
}

#[test]
fn status_is_keycloaks_map() {
    let p = policy(json!({"bruteForceProtected": true}));
    let empty = status(&p, None, None, 0);
    assert_eq!(
        Value::Object(empty),
        json!({"disabled": false, "numFailures": 0, "numTemporaryLockouts": 0, "lastFailure": 0,
               "lastIPFailure": "n/a", "failedLoginNotBefore": 0})
    );
    let row = LoginFailureRow {
        num_failures: 3,
        num_temporary_lockouts: 1,
        last_failure: T0,
        last_ip_failure: Some("127.0.0.1".into()),
        failed_login_not_before: T0 / 1000 + 60,
    };
    let user = UserRepresentation::default();
    let locked = status(&p, Some(&user), Some(&row), T0 / 1000);
    assert_eq!(
        Value::Object(locked),
        json!({"disabled": true, "numFailures": 3, "numTemporaryLockouts": 1, "lastFailure": T0,
               "lastIPFailure": "127.0.0.1", "failedLoginNotBefore": T0 / 1000 + 60})
    );
    let later = status(&p, Some(&user), Some(&row), T0 / 1000 + 60);
    assert_eq!(later["disabled"], json!(false));
    assert_eq!(later["failedLoginNotBefore"], json!(0));
    assert_eq!(later["numFailures"], json!(3));
    // Not protected: the defaults, whatever is stored.
    assert_eq!(
        status(&Policy::default(), Some(&user), Some(&row), 0)["numFailures"],
        json!(0)
    );
}

#[test]
fn one_login_of_a_user_at_a_time() {
    let in_flight = Arc::new(InFlight::default());
    let first = in_flight.enter("r", "u").expect("the first login");
    assert!(
        in_flight.enter("r", "u").is_none(),
        "a second waits its turn"
    );
    let other = in_flight.enter("r", "v");
    assert!(other.is_some(), "other users are not affected");
    drop(first);
    assert!(in_flight.enter("r", "u").is_some(), "the turn ended");
}
