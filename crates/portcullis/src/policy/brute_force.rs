//! Brute-force detection: Keycloak's realm fields (`bruteForceProtected`, `permanentLockout`,
//! `maxTemporaryLockouts`, `bruteForceStrategy`, `failureFactor`, `waitIncrementSeconds`,
//! `quickLoginCheckMilliSeconds`, `minimumQuickLoginWaitSeconds`, `maxFailureWaitSeconds`,
//! `maxDeltaTimeSeconds`) and its algorithm (`DefaultBruteForceProtector` and
//! `DefaultBlockingBruteForceProtector` of Keycloak 26), applied to the login form and the
//! password grant.
//!
//! - The lock is checked before the password, and a locked user is refused with the same answer
//!   as a wrong password (Keycloak's `accountTemporarilyDisabledMessage` is "Invalid username or
//!   password."), even when the password is right.
//! - Failures are counted per user in the store ([`crate::store::LoginFailureStore`]), one
//!   atomic statement per failure, so all nodes on one PostgreSQL share them and concurrent
//!   failures are never lost. A successful login writes only when the user had failures.
//! - As Keycloak's blocking protector, a node runs one login attempt of a user at a time: a
//!   second attempt that arrives while the first is checked is refused as locked ([`InFlight`]),
//!   so parallel guesses cannot all be checked before the first failure is counted.
//!
//! This module is the algorithm, free of I/O; `authn::brute_force` applies it to a login
//! attempt (reads and writes the store, disables a user).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::representation::{RealmRepresentation, UserRepresentation};
use crate::store::{FailureRule, LoginFailureRow};

/// The user attribute Keycloak sets on a user it disables (`UserModel.DISABLED_REASON`).
pub const DISABLED_REASON: &str = "disabledReason";
/// Its value for a permanent lockout (`BruteForceProtector.DISABLED_BY_PERMANENT_LOCKOUT`).
pub const DISABLED_BY_PERMANENT_LOCKOUT: &str = "permanentLockout";

/// How the wait grows with the failures (`bruteForceStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `waitIncrementSeconds * (failures / failureFactor)`: a lockout every `failureFactor`
    /// failures (Keycloak's default).
    Multiple,
    /// `waitIncrementSeconds * (1 + failures - failureFactor)`: a lockout on every failure from
    /// the `failureFactor`-th on.
    Linear,
}

/// A realm's brute-force settings, with Keycloak's defaults for absent fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `bruteForceProtected` (false).
    pub protected: bool,
    /// `permanentLockout` (false).
    pub permanent_lockout: bool,
    /// `maxTemporaryLockouts` (0).
    pub max_temporary_lockouts: i64,
    /// `bruteForceStrategy` (`MULTIPLE`).
    pub strategy: Strategy,
    /// `failureFactor` (30; at least 1 here, as a divisor).
    pub failure_factor: i64,
    /// `waitIncrementSeconds` (60).
    pub wait_increment_seconds: i64,
    /// `quickLoginCheckMilliSeconds` (1000).
    pub quick_login_check_milli_seconds: i64,
    /// `minimumQuickLoginWaitSeconds` (60).
    pub minimum_quick_login_wait_seconds: i64,
    /// `maxFailureWaitSeconds` (900).
    pub max_failure_wait_seconds: i64,
    /// `maxDeltaTimeSeconds` (43200).
    pub max_delta_time_seconds: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::of(&RealmRepresentation::default())
    }
}

impl Policy {
    /// The settings of a realm (the fields are kept in the representation's `extra`; values
    /// are read as Jackson reads them: `"true"` and `"30"` count).
    pub fn of(rep: &RealmRepresentation) -> Self {
        let field = |name: &str| rep.extra.get(name);
        let flag = |name: &str| match field(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
            _ => false,
        };
        let int = |name: &str, default: i64| match field(name) {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .unwrap_or(default),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
            _ => default,
        };
        let strategy = match field("bruteForceStrategy").and_then(Value::as_str) {
            Some(s) if s.eq_ignore_ascii_case("LINEAR") => Strategy::Linear,
            _ => Strategy::Multiple,
        };
        Policy {
            protected: flag("bruteForceProtected"),
            permanent_lockout: flag("permanentLockout"),
            max_temporary_lockouts: int("maxTemporaryLockouts", 0),
            strategy,
            // Keycloak divides by it (an exception for 0); here 0 or less counts as 1.
            failure_factor: int("failureFactor", 30).max(1),
            wait_increment_seconds: int("waitIncrementSeconds", 60),
            quick_login_check_milli_seconds: int("quickLoginCheckMilliSeconds", 1000),
            minimum_quick_login_wait_seconds: int("minimumQuickLoginWaitSeconds", 60),
            max_failure_wait_seconds: int("maxFailureWaitSeconds", 900),
            max_delta_time_seconds: int("maxDeltaTimeSeconds", 43200),
        }
    }

    /// Whether failures lead to temporary lockouts: not in the "permanent lockout only" mode
    /// (`permanentLockout` with `maxTemporaryLockouts` 0), where they count until the user is
    /// disabled.
    fn temporary_lockouts(&self) -> bool {
        !(self.permanent_lockout && self.max_temporary_lockouts == 0)
    }

    /// The parameters `$5`..`$14` of the store's failure statement
    /// (`store::login_failures::failure_update_sql`).
    /// What the store's failure statement needs for a failure at `now_ms` from `ip`.
    pub fn failure_rule(&self, now_ms: i64, ip: Option<&str>) -> FailureRule {
        FailureRule {
            parameters: self.sql_parameters(),
            first: next(self, &LoginFailureRow::default(), now_ms, ip),
        }
    }

    pub(crate) fn sql_parameters(&self) -> [i64; 10] {
        [
            i64::from(self.temporary_lockouts()),
            self.max_delta_time_seconds.saturating_mul(1000),
            i64::from(self.strategy == Strategy::Linear),
            self.wait_increment_seconds,
            self.failure_factor,
            self.quick_login_check_milli_seconds,
            self.minimum_quick_login_wait_seconds,
            self.max_failure_wait_seconds,
            i64::from(self.permanent_lockout),
            self.max_temporary_lockouts,
        ]
    }
}

/// The failures after one more at `now_ms` from `ip`: Keycloak's
/// `DefaultBruteForceProtector.failure`. The store runs the same as one SQL statement; this is
/// the reference (and gives a first failure's row).
pub fn next(
    policy: &Policy,
    prev: &LoginFailureRow,
    now_ms: i64,
    ip: Option<&str>,
) -> LoginFailureRow {
    let last = prev.last_failure;
    let delta = if last > 0 { now_ms - last } else { 0 };
    let mut row = prev.clone();
    row.last_ip_failure = ip.map(str::to_string);
    row.last_failure = now_ms;
    let temporary = policy.temporary_lockouts();
    if temporary && delta > 0 && delta > policy.max_delta_time_seconds.saturating_mul(1000) {
        // Keycloak's `clearFailures` (which here keeps this failure's time and address).
        row.num_failures = 0;
        row.num_temporary_lockouts = 0;
        row.failed_login_not_before = 0;
    }
    row.num_failures += 1;
    let mut wait = if !temporary {
        0
    } else {
        match policy.strategy {
            Strategy::Multiple => {
                policy.wait_increment_seconds * (row.num_failures / policy.failure_factor)
            }
            Strategy::Linear => {
                policy.wait_increment_seconds * (1 + row.num_failures - policy.failure_factor)
            }
        }
    };
    let mut quick = false;
    if wait <= 0 && last > 0 && delta < policy.quick_login_check_milli_seconds {
        wait = policy.minimum_quick_login_wait_seconds;
        quick = true;
    }
    if wait > 0 {
        if temporary {
            wait = wait.min(policy.max_failure_wait_seconds);
        }
        if !quick {
            row.num_temporary_lockouts += 1;
        }
        if quick
            || !policy.permanent_lockout
            || row.num_temporary_lockouts <= policy.max_temporary_lockouts
        {
            row.failed_login_not_before = now_ms / 1000 + wait;
        }
    }
    row
}

/// Whether the failures in `row` disable the user for good (Keycloak's `permanentUserLockOut`
/// condition).
pub fn locks_permanently(policy: &Policy, row: &LoginFailureRow) -> bool {
    policy.permanent_lockout
        && (row.num_temporary_lockouts > policy.max_temporary_lockouts
            || (policy.max_temporary_lockouts == 0 && row.num_failures >= policy.failure_factor))
}

/// Whether logins are refused at `now` (seconds) for a while (`isTemporarilyDisabled`).
pub fn temporarily_disabled(row: Option<&LoginFailureRow>, now: i64) -> bool {
    row.is_some_and(|r| now < r.failed_login_not_before)
}

/// Whether the user was disabled by a permanent lockout (and not re-enabled since).
pub fn disabled_by_permanent_lockout(user: &UserRepresentation) -> bool {
    user.enabled == Some(false)
        && user
            .attributes
            .as_ref()
            .and_then(|a| a.get(DISABLED_REASON))
            .and_then(|v| match v {
                Value::Array(items) => items.first().and_then(Value::as_str),
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            == Some(DISABLED_BY_PERMANENT_LOCKOUT)
}

/// Keycloak's `isPermanentlyLockedOut`: disabled by a permanent lockout, or failures enough
/// for one (a lockout being written meanwhile).
pub fn permanently_locked_out(
    policy: &Policy,
    user: &UserRepresentation,
    row: Option<&LoginFailureRow>,
) -> bool {
    disabled_by_permanent_lockout(user)
        || (policy.permanent_lockout
            && row.is_some_and(|r| r.num_temporary_lockouts > policy.max_temporary_lockouts))
}

/// Why a login is refused before its credentials are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// `user_temporarily_disabled`: the wait after failures, or another login of the user in
    /// progress.
    Temporary,
    /// `user_disabled`: locked out for good.
    Permanent,
}

impl Lock {
    /// The `error` of the login event Keycloak records for a refused attempt.
    pub fn event_error(self) -> &'static str {
        match self {
            Lock::Temporary => "user_temporarily_disabled",
            Lock::Permanent => "user_disabled",
        }
    }
}

/// Keycloak's `AuthenticatorUtils.getDisabledByBruteForceEventError`.
pub fn lock(
    policy: &Policy,
    user: &UserRepresentation,
    row: Option<&LoginFailureRow>,
    now: i64,
) -> Option<Lock> {
    if !policy.protected {
        None
    } else if permanently_locked_out(policy, user, row) {
        Some(Lock::Permanent)
    } else if temporarily_disabled(row, now) {
        Some(Lock::Temporary)
    } else {
        None
    }
}

/// `GET /admin/realms/{realm}/attack-detection/brute-force/users/{id}`: Keycloak's
/// `AttackDetectionResource.bruteForceUserStatus` map.
pub fn status(
    policy: &Policy,
    user: Option<&UserRepresentation>,
    row: Option<&LoginFailureRow>,
    now: i64,
) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("disabled".into(), json!(false));
    data.insert("numFailures".into(), json!(0));
    data.insert("numTemporaryLockouts".into(), json!(0));
    data.insert("lastFailure".into(), json!(0));
    data.insert("lastIPFailure".into(), json!("n/a"));
    data.insert("failedLoginNotBefore".into(), json!(0));
    let (true, Some(row)) = (policy.protected, row) else {
        return data;
    };
    let temporarily = temporarily_disabled(Some(row), now);
    let disabled = match user {
        Some(u) => temporarily || permanently_locked_out(policy, u, Some(row)),
        None => temporarily,
    };
    if disabled {
        data.insert("disabled".into(), json!(true));
        let not_before = if temporarily {
            row.failed_login_not_before
        } else {
            i64::MAX
        };
        data.insert("failedLoginNotBefore".into(), json!(not_before));
    }
    data.insert("numFailures".into(), json!(row.num_failures));
    data.insert(
        "numTemporaryLockouts".into(),
        json!(row.num_temporary_lockouts),
    );
    data.insert("lastFailure".into(), json!(row.last_failure));
    data.insert("lastIPFailure".into(), json!(row.last_ip_failure));
    data
}

/// The logins in progress on this node, by realm and user (Keycloak's
/// `DefaultBlockingBruteForceProtector.loginAttempts`).
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<(String, String)>>);

impl InFlight {
    /// Takes the user's turn, or `None` while another login of the user is in progress.
    pub fn enter(self: &Arc<Self>, realm_id: &str, user_id: &str) -> Option<Turn> {
        let key = (realm_id.to_string(), user_id.to_string());
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(key.clone()).then(|| Turn {
            owner: Arc::clone(self),
            key,
        })
    }
}

/// A user's turn at logging in on this node; ends when dropped.
#[derive(Debug)]
pub struct Turn {
    owner: Arc<InFlight>,
    key: (String, String),
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut set = self.owner.0.lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.key);
    }
}

#[cfg(test)]
#[path = "brute_force_tests.rs"]
mod tests;
