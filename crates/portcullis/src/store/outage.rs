//! Whether the store found its database unreachable while serving one request: the store
//! notes it where a connection-class failure becomes a [`super::StoreError`], and the HTTP
//! layer that [`watch`]es the request answers `503` with `Retry-After` instead of a `500`.
//! A task-local flag, so one request's outage never relabels another's failure.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static SEEN: Cell<bool>;
}

/// Runs `f`, returning its output and whether a store call inside it found the database
/// unreachable.
pub async fn watch<F: Future>(f: F) -> (F::Output, bool) {
    SEEN.scope(Cell::new(false), async {
        let out = f.await;
        let seen = SEEN.try_with(Cell::get).unwrap_or(false);
        (out, seen)
    })
    .await
}

/// Notes, for the request being served (if any), that the database was unreachable.
pub(crate) fn note() {
    let _ = SEEN.try_with(|c| c.set(true));
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
        let ((), seen) = watch(async { note() }).await;
        assert!(seen);
        let ((), seen) = watch(async {}).await;
        assert!(!seen);
        // Outside any request: nothing to note, and no panic.
        note();
        assert!(unreachable(&sqlx::Error::PoolTimedOut));
        assert!(!unreachable(&sqlx::Error::RowNotFound));
    }
}
