//! The tamper-evident audit log: per realm, a chain of records, each carrying the realm's
//! running sequence number, the event as canonical JSON, the previous record's hash and its
//! own ([`chain_hash`]). Appended in batches by the events writer (`crate::events::audit`),
//! read page by page by `portcullis audit verify` and `audit export`.
//!
//! Appending locks the realm's chain head (`audit_head`) with an upsert `... RETURNING` inside
//! the batch's transaction: on PostgreSQL a row lock that a second node waits on, on SQLite
//! the single writer gate. The sequence therefore never forks, and `(realm_id, seq)` is the
//! primary key besides.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreError;

/// The previous hash of a realm's first record: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record's hash: lower-case hex SHA-256 of
/// `prev_hash + "\n" + realm_id + "\n" + seq (decimal) + "\n" + event` (UTF-8).
/// `docs/audit.md` states the same definition for auditors.
pub fn chain_hash(prev_hash: &str, realm_id: &str, seq: i64, event: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(prev_hash.as_bytes());
    ctx.update(b"\n");
    ctx.update(realm_id.as_bytes());
    ctx.update(b"\n");
    ctx.update(seq.to_string().as_bytes());
    ctx.update(b"\n");
    ctx.update(event.as_bytes());
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Realm id (the chain).
    pub realm_id: String,
    /// Realm name, kept with the chain head for the command line.
    pub realm_name: String,
    /// Milliseconds since the epoch.
    pub time: i64,
    /// The event as canonical JSON.
    pub event: String,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Realm id.
    pub realm_id: String,
    /// Position in the realm's chain, from 1.
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub time: i64,
    /// The event as canonical JSON.
    pub event: String,
    /// The previous record's hash ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This record's hash ([`chain_hash`]).
    pub hash: String,
}

/// A realm's chain head: its last sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// Realm id.
    pub realm_id: String,
    /// Realm name at the last append.
    pub realm_name: String,
    /// Last sequence number (the number of records).
    pub seq: i64,
    /// Last record's hash.
    pub hash: String,
}

/// Numbers and hashes `entries` after a head at `(seq, hash)`: the records to insert.
pub(crate) fn chain(
    realm_id: &str,
    mut seq: i64,
    mut hash: String,
    entries: &[&AuditEntry],
) -> Vec<AuditRecord> {
    entries
        .iter()
        .map(|e| {
            seq += 1;
            let h = chain_hash(&hash, realm_id, seq, &e.event);
            AuditRecord {
                realm_id: realm_id.to_string(),
                seq,
                time: e.time,
                event: e.event.clone(),
                prev_hash: std::mem::replace(&mut hash, h.clone()),
                hash: h,
            }
        })
        .collect()
}

/// `entries` by realm id, in realm id order (the order heads are locked in, so two nodes
/// never wait on each other in a cycle).
pub(crate) fn by_realm(entries: &[AuditEntry]) -> BTreeMap<&str, Vec<&AuditEntry>> {
    let mut m: BTreeMap<&str, Vec<&AuditEntry>> = BTreeMap::new();
    for e in entries {
        m.entry(e.realm_id.as_str()).or_default().push(e);
    }
    m
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `entries` (in order, per realm) to their realms' chains, in one transaction.
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// Every chain head, by realm name.
    async fn audit_heads(&self) -> Result<Vec<AuditHead>, StoreError>;
    /// A realm's records with a sequence number above `after`, at most `limit`, in order.
    async fn audit_records(
        &self,
        realm_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Stamps [`AuditStore`] for a SQL store (see `sql.rs`).
macro_rules! impl_audit {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AuditStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn append_audit(&self, entries: &[$crate::store::AuditEntry]) -> Result<(), $crate::store::StoreError> {
                if entries.is_empty() {
                    return Ok(());
                }
                let _gate = self.gate.enter().await?;
                let mut tx = self.pool.begin().await?;
                for (realm_id, list) in $crate::store::audit::by_realm(entries) {
                    let name = list.last().map(|e| e.realm_name.as_str()).unwrap_or_default();
                    // Creates the head of a realm's first append and locks it until commit, in
                    // one statement (PostgreSQL waits here for another node's append to the same
                    // realm, then reads the head it left).
                    let (seq, hash): (i64, String) = sqlx::query_as("INSERT INTO audit_head (realm_id, realm_name, seq, hash) VALUES ($1, $2, 0, $3) ON CONFLICT (realm_id) DO UPDATE SET realm_name = excluded.realm_name RETURNING seq, hash")
                        .bind(realm_id).bind(name).bind($crate::store::audit::GENESIS)
                        .fetch_one(&mut *tx).await?;
                    let records = $crate::store::audit::chain(realm_id, seq, hash, &list);
                    for chunk in records.chunks($crate::store::events::ROWS_PER_INSERT) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO audit_log (realm_id, seq, event_time, event, prev_hash, hash) ");
                        qb.push_values(chunk, |mut b, r| {
                            b.push_bind(&r.realm_id).push_bind(r.seq).push_bind(r.time).push_bind(&r.event).push_bind(&r.prev_hash).push_bind(&r.hash);
                        });
                        qb.build().execute(&mut *tx).await?;
                    }
                    if let Some(last) = records.last() {
                        sqlx::query("UPDATE audit_head SET seq = $2, hash = $3 WHERE realm_id = $1")
                            .bind(realm_id).bind(last.seq).bind(&last.hash)
                            .execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn audit_heads(&self) -> Result<Vec<$crate::store::AuditHead>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64, String)> = sqlx::query_as("SELECT realm_id, realm_name, seq, hash FROM audit_head ORDER BY realm_name, realm_id")
                    .fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(realm_id, realm_name, seq, hash)| $crate::store::AuditHead { realm_id, realm_name, seq, hash }).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn audit_records(&self, realm_id: &str, after: i64, limit: i64) -> Result<Vec<$crate::store::AuditRecord>, $crate::store::StoreError> {
                let rows: Vec<(String, i64, i64, String, String, String)> = sqlx::query_as("SELECT realm_id, seq, event_time, event, prev_hash, hash FROM audit_log WHERE realm_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                    .bind(realm_id).bind(after).bind(limit)
                    .fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(realm_id, seq, time, event, prev_hash, hash)| $crate::store::AuditRecord { realm_id, seq, time, event, prev_hash, hash }).collect())
            }
        }
    };
}

pub(crate) use impl_audit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_chain_from_the_head() {
        // Known answer: sha256("0…0\nr1\n1\n{}").
        let h = chain_hash(GENESIS, "r1", 1, "{}");
        assert_eq!(
            h,
            "486c1a0580755bb7b66d710fc606b1d9a0c575a070cb5dcdeeea8fd26671d8d6"
        );
        assert_ne!(h, chain_hash(GENESIS, "r2", 1, "{}"), "the realm is hashed");
        assert_ne!(
            h,
            chain_hash(GENESIS, "r1", 2, "{}"),
            "the sequence is hashed"
        );
        let e = |ev: &str| AuditEntry {
            realm_id: "r1".into(),
            realm_name: "one".into(),
            time: 5,
            event: ev.into(),
        };
        let (a, b) = (e("{\"a\":1}"), e("{\"b\":2}"));
        let recs = chain("r1", 0, GENESIS.into(), &[&a, &b]);
        assert_eq!(recs[0].seq, 1);
        assert_eq!(recs[0].prev_hash, GENESIS);
        assert_eq!(recs[1].prev_hash, recs[0].hash);
        assert_eq!(
            recs[1].hash,
            chain_hash(&recs[0].hash, "r1", 2, "{\"b\":2}")
        );
        let more = chain("r1", 2, recs[1].hash.clone(), &[&a]);
        assert_eq!(more[0].seq, 3);
        assert_eq!(more[0].prev_hash, recs[1].hash);
    }
}
