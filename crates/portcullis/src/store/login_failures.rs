//! Brute-force detection's counters (Keycloak's `UserLoginFailureModel`): one row per user
//! with failed logins, shared by every node on one database.
//!
//! A failure is recorded by ONE statement, an upsert whose `SET` clause computes the next
//! state from the stored row (Keycloak's `DefaultBruteForceProtector.failure`, transcribed as
//! SQL expressions over the old row's columns): the database applies concurrent failures one
//! after the other, so none is lost and none reads a stale count, on any node. The same
//! algorithm in Rust (`policy::brute_force::next`) gives the row of a first failure (the
//! `INSERT` part, [`FailureRule::first`]) and is the reference the store tests compare this SQL
//! with.

use async_trait::async_trait;

use super::StoreError;

/// A user's failed logins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginFailureRow {
    /// Failures counted (reset after `maxDeltaTimeSeconds` without one).
    pub num_failures: i64,
    /// Temporary lockouts so far (counted towards `maxTemporaryLockouts`).
    pub num_temporary_lockouts: i64,
    /// The last failure, milliseconds since the epoch.
    pub last_failure: i64,
    /// The address of the last failure.
    pub last_ip_failure: Option<String>,
    /// Logins are refused before this time, seconds since the epoch.
    pub failed_login_not_before: i64,
}

/// A realm's brute-force settings as the failure statement takes them (built by
/// `policy::brute_force::Policy::failure_rule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRule {
    /// Parameters `$5` to `$14` of [`failure_update_sql`].
    pub parameters: [i64; 10],
    /// The row of a user's first failure.
    pub first: LoginFailureRow,
}

/// Brute-force detection's counters.
#[async_trait]
pub trait LoginFailureStore: Send + Sync {
    /// A user's failures, if any are recorded.
    async fn login_failure(
        &self,
        realm_id: &str,
        user_id: &str,
    ) -> Result<Option<LoginFailureRow>, StoreError>;
    /// Records a failed login at `now_ms` from `ip` under `rule`, atomically (one statement),
    /// and returns the user's failures after it.
    async fn record_login_failure(
        &self,
        realm_id: &str,
        user_id: &str,
        now_ms: i64,
        ip: Option<&str>,
        rule: &FailureRule,
    ) -> Result<LoginFailureRow, StoreError>;
    /// Forgets a user's failures; false when there were none.
    async fn clear_login_failure(&self, realm_id: &str, user_id: &str) -> Result<bool, StoreError>;
    /// Forgets the failures of every user of a realm; how many users had some.
    async fn clear_login_failures(&self, realm_id: &str) -> Result<u64, StoreError>;
}

/// The `SET` clause of a recorded failure: Keycloak's `DefaultBruteForceProtector.failure`
/// over the stored row (`login_failure.*`, the values before the statement). Parameters: `$3`
/// now (ms), `$4` address, `$5` 1 unless the realm locks permanently without temporary
/// lockouts, `$6` `maxDeltaTimeSeconds` in ms, `$7` 1 for `LINEAR`, `$8`
/// `waitIncrementSeconds`, `$9` `failureFactor` (at least 1), `$10`
/// `quickLoginCheckMilliSeconds`, `$11` `minimumQuickLoginWaitSeconds`, `$12`
/// `maxFailureWaitSeconds`, `$13` 1 for `permanentLockout`, `$14` `maxTemporaryLockouts`.
pub(crate) fn failure_update_sql() -> String {
    let o = "login_failure.";
    // The failures are forgotten when the last one is older than `maxDeltaTimeSeconds`.
    let reset = format!(
        "($5 = 1 AND {o}last_failure > 0 AND $3 - {o}last_failure > 0 AND $3 - {o}last_failure > $6)"
    );
    let n = format!("(CASE WHEN {reset} THEN 1 ELSE {o}num_failures + 1 END)");
    let wait = format!(
        "(CASE WHEN $5 = 0 THEN 0 WHEN $7 = 1 THEN $8 * (1 + {n} - $9) ELSE $8 * ({n} / $9) END)"
    );
    let quick = format!("({wait} <= 0 AND {o}last_failure > 0 AND $3 - {o}last_failure < $10)");
    let wait_or_quick =
        format!("(CASE WHEN {wait} > 0 THEN {wait} WHEN {quick} THEN $11 ELSE 0 END)");
    let capped =
        format!("(CASE WHEN $5 = 1 AND {wait_or_quick} > $12 THEN $12 ELSE {wait_or_quick} END)");
    let lockouts = format!(
        "((CASE WHEN {reset} THEN 0 ELSE {o}num_temporary_lockouts END) + (CASE WHEN {wait} > 0 THEN 1 ELSE 0 END))"
    );
    let not_before = format!(
        "(CASE WHEN {wait_or_quick} > 0 AND ({quick} OR $13 = 0 OR {lockouts} <= $14) THEN $3 / 1000 + {capped} WHEN {reset} THEN 0 ELSE {o}failed_login_not_before END)"
    );
    format!(
        "INSERT INTO login_failure (realm_id, user_id, num_failures, num_temporary_lockouts, last_failure, last_ip_failure, failed_login_not_before) \
         VALUES ($1, $2, $15, $16, $3, $4, $17) \
         ON CONFLICT (realm_id, user_id) DO UPDATE SET \
         num_failures = {n}, num_temporary_lockouts = {lockouts}, last_failure = $3, last_ip_failure = $4, failed_login_not_before = {not_before} \
         RETURNING num_failures, num_temporary_lockouts, last_failure, last_ip_failure, failed_login_not_before"
    )
}

/// A `login_failure` row as read.
pub(crate) type LoginFailureTuple = (i64, i64, i64, Option<String>, i64);

/// The row type from a read tuple.
pub(crate) fn login_failure_row(t: LoginFailureTuple) -> LoginFailureRow {
    let (num_failures, num_temporary_lockouts, last_failure, last_ip_failure, not_before) = t;
    LoginFailureRow {
        num_failures,
        num_temporary_lockouts,
        last_failure,
        last_ip_failure,
        failed_login_not_before: not_before,
    }
}

/// Stamps [`LoginFailureStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_login_failures {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::LoginFailureStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn login_failure(
                &self,
                realm_id: &str,
                user_id: &str,
            ) -> Result<Option<$crate::store::LoginFailureRow>, $crate::store::StoreError> {
                let row: Option<$crate::store::login_failures::LoginFailureTuple> = sqlx::query_as(
                    "SELECT num_failures, num_temporary_lockouts, last_failure, last_ip_failure, failed_login_not_before FROM login_failure WHERE realm_id = $1 AND user_id = $2",
                )
                .bind(realm_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map($crate::store::login_failures::login_failure_row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn record_login_failure(
                &self,
                realm_id: &str,
                user_id: &str,
                now_ms: i64,
                ip: Option<&str>,
                rule: &$crate::store::FailureRule,
            ) -> Result<$crate::store::LoginFailureRow, $crate::store::StoreError> {
                let first = &rule.first;
                let p = rule.parameters;
                let sql = $crate::store::login_failures::failure_update_sql();
                let _gate = self.gate.enter().await?;
                let row: $crate::store::login_failures::LoginFailureTuple = sqlx::query_as(&sql)
                    .bind(realm_id)
                    .bind(user_id)
                    .bind(now_ms)
                    .bind(ip)
                    .bind(p[0])
                    .bind(p[1])
                    .bind(p[2])
                    .bind(p[3])
                    .bind(p[4])
                    .bind(p[5])
                    .bind(p[6])
                    .bind(p[7])
                    .bind(p[8])
                    .bind(p[9])
                    .bind(first.num_failures)
                    .bind(first.num_temporary_lockouts)
                    .bind(first.failed_login_not_before)
                    .fetch_one(&self.pool)
                    .await?;
                Ok($crate::store::login_failures::login_failure_row(row))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn clear_login_failure(
                &self,
                realm_id: &str,
                user_id: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM login_failure WHERE realm_id = $1 AND user_id = $2")
                    .bind(realm_id)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn clear_login_failures(&self, realm_id: &str) -> Result<u64, $crate::store::StoreError> {
                let _gate = self.gate.enter().await?;
                let done = sqlx::query("DELETE FROM login_failure WHERE realm_id = $1")
                    .bind(realm_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_login_failures;
