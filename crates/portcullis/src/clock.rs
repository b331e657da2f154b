//! The server's clock: every "now" of the protocol logic is read here, so the logic itself
//! takes time as a parameter and unit tests pin it.
//!
//! Integration tests move it forward instead of sleeping: a server started by `start-dev
//! --testing-clock=true` serves `PUT /realms/{realm}/testing/time-offset` (see `testing.rs`),
//! as Keycloak's test-suite provider does. The offset is process-wide on purpose (every part of
//! the server must agree on the time) and stays 0 in any other server.

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds added to the system clock (test suites only).
static OFFSET: AtomicI64 = AtomicI64::new(0);

fn system() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    system().as_secs() as i64 + OFFSET.load(Ordering::Relaxed)
}

/// Milliseconds since the epoch (Keycloak's `createdTimestamp`, admin `start` fields).
pub fn now_millis() -> i64 {
    system().as_millis() as i64 + OFFSET.load(Ordering::Relaxed) * 1000
}

/// The offset in seconds.
pub fn offset() -> i64 {
    OFFSET.load(Ordering::Relaxed)
}

/// Moves the clock to `seconds` past the system time (only `testing.rs` calls this).
pub(crate) fn set_offset(seconds: i64) {
    OFFSET.store(seconds, Ordering::Relaxed);
}
