//! Whether the store found its database unreachable, or its disk full, while serving one
//! request: the store notes it where such a failure becomes a [`super::StoreError`], and the
//! HTTP layer that [`watch`]es the request answers `503` with `Retry-After` instead of a
//! `500`. A task-local flag, so one request's outage never relabels another's failure.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Why the database could not serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Unreachable or refusing connections.
    Unreachable,
    /// Its disk is full (SQLite's `SQLITE_FULL`, PostgreSQL's `53100`): writes fail, reads go on.
    Full,
}

tokio::task_local! {
    static SEEN: Cell<Option<Outage>>;
}

/// Runs `f`, returning its output and the outage a store call inside it met, if any.
pub async fn watch<F: Future>(f: F) -> (F::Output, Option<Outage>) {
    SEEN.scope(Cell::new(None), async {
        let out = f.await;
        let seen = SEEN.try_with(Cell::get).unwrap_or(None);
        (out, seen)
    })
    .await
}

/// Notes, for the request being served (if any), that the database met `outage`.
pub(crate) fn note(outage: Outage) {
    let _ = SEEN.try_with(|c| c.set(Some(outage)));
}

/// When, on the process's monotonic clock ([`since_start`]), a write last failed for a full
/// disk; zero for never.
static LAST_FULL: AtomicU64 = AtomicU64::new(0);

fn since_start() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Notes that a write failed for a full disk (see [`predates_disk_full`]).
pub(crate) fn note_disk_full() {
    let now = u64::try_from(since_start().as_micros()).unwrap_or(u64::MAX);
    LAST_FULL.store(now.max(1), Ordering::Release);
}

/// Whether a pooled connection of this `age` was open when a write last failed for a full
/// disk. SQLite may have rolled such a write's transaction back by itself, and then the
/// driver's own `ROLLBACK` fails and it believes the connection still in a transaction (or the
/// transaction stays open, holding the write lock or an old snapshot): such a connection is
/// closed rather than used again, which ends whatever it still holds.
pub(crate) fn predates_disk_full(age: Duration) -> bool {
    let last = LAST_FULL.load(Ordering::Acquire);
    if last == 0 {
        return false;
    }
    let opened = since_start().saturating_sub(age);
    u64::try_from(opened.as_micros()).unwrap_or(u64::MAX) <= last
}

/// Whether a database error means the database's disk (or its quota) is full.
pub fn disk_full(e: &sqlx::Error) -> bool {
    match e {
        // SQLite's primary result code SQLITE_FULL (13), and PostgreSQL's disk_full (53100).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == "13" || c == "53100"),
        _ => false,
    }
}

/// Whether a database error means "unreachable or refusing connections" rather than "this
/// statement failed": the pool timed out or was closed, the connection broke, or PostgreSQL
/// answered with a connection-class SQLSTATE (08xxx), an operator shutdown (57P0x), too many
/// connections (53300), or a login refusal (28xxx) or missing database (3D000).
pub fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08")
                || c.starts_with("57P0")
                || c.starts_with("28")
                || c == "53300"
                || c == "3D000"
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_note_is_seen_only_by_the_request_that_made_it() {
        let ((), seen) = watch(async { note(Outage::Unreachable) }).await;
        assert_eq!(seen, Some(Outage::Unreachable));
        let ((), seen) = watch(async { note(Outage::Full) }).await;
        assert_eq!(seen, Some(Outage::Full));
        let ((), seen) = watch(async {}).await;
        assert_eq!(seen, None);
        // Outside any request: nothing to note, and no panic.
        note(Outage::Unreachable);
        assert!(unreachable(&sqlx::Error::PoolTimedOut));
        assert!(!unreachable(&sqlx::Error::RowNotFound));
    }
}
