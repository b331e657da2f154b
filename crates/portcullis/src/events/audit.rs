//! The tamper-evident audit trail (beyond Keycloak): admin events and the security-relevant
//! login events, appended by the events writer to a per-realm hash chain in the store
//! (`store::audit`), and the checks behind `portcullis audit verify` and `audit export`.
//!
//! What is chained does not depend on the realm's `eventsEnabled` / `adminEventsEnabled`: a
//! realm administrator cannot switch the trail off (the server's `--audit-enabled` does).
//! Each event is kept as canonical JSON ([`canonical`]): keys sorted by their UTF-8 bytes, no
//! white space, absent values left out, strings escaped as JSON requires (`serde_json`'s
//! escapes). `docs/audit.md` gives the whole definition.

use std::io::Write;

use serde_json::{Map, Value};

use super::{AdminEvent, Event};
use crate::store::audit::{chain_hash, AuditHead, AuditRecord, GENESIS};
use crate::store::{AuditEntry, Store};

/// Login event types chained with their `_ERROR` twins: logins, credential changes and
/// resets, lockouts, account and consent changes, identity links, token exchange,
/// impersonation and client registration.
const AUDITED: &[&str] = &[
    "LOGIN",
    "REGISTER",
    "UPDATE_PASSWORD",
    "RESET_PASSWORD",
    "SEND_RESET_PASSWORD",
    "UPDATE_CREDENTIAL",
    "REMOVE_CREDENTIAL",
    "UPDATE_TOTP",
    "REMOVE_TOTP",
    "UPDATE_EMAIL",
    "EXECUTE_ACTIONS",
    "USER_DISABLED_BY_PERMANENT_LOCKOUT",
    "USER_DISABLED_BY_TEMPORARY_LOCKOUT",
    "TOKEN_EXCHANGE",
    "IMPERSONATE",
    "DELETE_ACCOUNT",
    "GRANT_CONSENT",
    "UPDATE_CONSENT",
    "REVOKE_GRANT",
    "FEDERATED_IDENTITY_LINK",
    "REMOVE_FEDERATED_IDENTITY",
    "IDENTITY_PROVIDER_LOGIN",
    "IDENTITY_PROVIDER_FIRST_LOGIN",
    "CLIENT_REGISTER",
    "CLIENT_UPDATE",
    "CLIENT_DELETE",
];

/// Whether a login event of type `kind` (with `_ERROR` on failures) is chained. Successful
/// `CLIENT_LOGIN`s (every client-credentials token) are not, their failures are.
pub fn audited(kind: &str) -> bool {
    match kind.strip_suffix("_ERROR") {
        Some(base) => audited_base(base, true),
        None => audited_base(kind, false),
    }
}

/// [`audited`] of the base type `base`, failed or not.
pub fn audited_base(base: &str, error: bool) -> bool {
    (error && base == "CLIENT_LOGIN") || AUDITED.contains(&base)
}

/// `v` as canonical JSON: object keys sorted by their UTF-8 bytes, no white space.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(*k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn put(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), Value::String(v.clone()));
    }
}

/// The chained form of a login event.
pub fn user_entry(e: &Event) -> AuditEntry {
    let mut m = Map::new();
    m.insert("category".into(), "USER".into());
    m.insert("id".into(), e.id.clone().into());
    m.insert("time".into(), e.time.into());
    m.insert("type".into(), e.kind.clone().into());
    m.insert("realmId".into(), e.realm_id.clone().into());
    m.insert("realmName".into(), e.realm_name.clone().into());
    put(&mut m, "clientId", &e.client_id);
    put(&mut m, "userId", &e.user_id);
    put(&mut m, "sessionId", &e.session_id);
    put(&mut m, "ipAddress", &e.ip_address);
    put(&mut m, "error", &e.error);
    if !e.details.is_empty() {
        let d: Map<String, Value> = e
            .details
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("details".into(), Value::Object(d));
    }
    AuditEntry {
        realm_id: e.realm_id.clone(),
        realm_name: e.realm_name.clone(),
        time: e.time,
        event: canonical(&Value::Object(m)),
    }
}

/// The chained form of an admin event. The representation (a request body, which may hold
/// a password) is not chained; its SHA-256 is, so a stored admin event can be matched.
pub fn admin_entry(e: &AdminEvent) -> AuditEntry {
    let mut m = Map::new();
    m.insert("category".into(), "ADMIN".into());
    m.insert("id".into(), e.id.clone().into());
    m.insert("time".into(), e.time.into());
    m.insert("realmId".into(), e.realm_id.clone().into());
    m.insert("realmName".into(), e.realm_name.clone().into());
    m.insert("operationType".into(), e.operation_type.clone().into());
    m.insert("resourceType".into(), e.resource_type.clone().into());
    put(&mut m, "resourcePath", &e.resource_path);
    let mut auth = Map::new();
    put(&mut auth, "realmId", &e.auth_realm_id);
    put(&mut auth, "clientId", &e.auth_client_id);
    put(&mut auth, "userId", &e.auth_user_id);
    put(&mut auth, "ipAddress", &e.ip_address);
    m.insert("authDetails".into(), Value::Object(auth));
    if let Some(r) = &e.representation {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, r.as_bytes());
        let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        m.insert("representationSha256".into(), hex.into());
    }
    AuditEntry {
        realm_id: e.realm_id.clone(),
        realm_name: e.realm_name.clone(),
        time: e.time,
        event: canonical(&Value::Object(m)),
    }
}

/// Records read per page by `verify` and `export`.
const PAGE: i64 = 1000;

/// The outcome of checking one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record checks out.
    Ok {
        /// Realm name.
        realm: String,
        /// Records checked.
        records: i64,
    },
    /// The first broken record.
    Broken {
        /// Realm name.
        realm: String,
        /// Its sequence number.
        seq: i64,
        /// What did not match.
        what: String,
    },
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Ok { realm, records } => write!(f, "ok: {realm} {records} records"),
            Verdict::Broken { realm, seq, what } => {
                write!(f, "broken: {realm} sequence {seq}: {what}")
            }
        }
    }
}

/// Walks a chain: feed records in sequence order, then [`Walk::finish`] with the head.
#[derive(Debug)]
pub struct Walk {
    realm: String,
    realm_id: String,
    seq: i64,
    hash: String,
}

impl Walk {
    /// A walk of `head`'s chain from its start.
    pub fn new(head: &AuditHead) -> Self {
        Walk {
            realm: head.realm_name.clone(),
            realm_id: head.realm_id.clone(),
            seq: 0,
            hash: GENESIS.to_string(),
        }
    }

    fn broken(&self, seq: i64, what: String) -> Verdict {
        Verdict::Broken {
            realm: self.realm.clone(),
            seq,
            what,
        }
    }

    /// Checks the next record; the verdict when it is broken.
    pub fn step(&mut self, r: &AuditRecord) -> Result<(), Verdict> {
        let expected = self.seq + 1;
        if r.seq != expected {
            return Err(self.broken(
                expected,
                format!("record missing (the next stored record is {})", r.seq),
            ));
        }
        if r.prev_hash != self.hash {
            return Err(self.broken(
                r.seq,
                format!(
                    "prev_hash {} does not match the hash of record {} ({})",
                    r.prev_hash, self.seq, self.hash
                ),
            ));
        }
        let h = chain_hash(&r.prev_hash, &self.realm_id, r.seq, &r.event);
        if r.hash != h {
            return Err(self.broken(
                r.seq,
                format!("hash {} does not match the record's contents ({h})", r.hash),
            ));
        }
        self.seq = r.seq;
        self.hash = h;
        Ok(())
    }

    /// The verdict once every record was fed, against the chain head.
    pub fn finish(self, head: &AuditHead) -> Verdict {
        if head.seq > self.seq {
            return self.broken(
                self.seq + 1,
                format!(
                    "record missing (the chain head counts {} records, {} are stored)",
                    head.seq, self.seq
                ),
            );
        }
        if head.seq < self.seq {
            return self.broken(
                head.seq + 1,
                format!(
                    "record past the chain head (the head counts {} records)",
                    head.seq
                ),
            );
        }
        if head.hash != self.hash {
            return self.broken(
                self.seq,
                format!(
                    "the chain head's hash {} is not the last record's ({})",
                    head.hash, self.hash
                ),
            );
        }
        Verdict::Ok {
            realm: self.realm,
            records: self.seq,
        }
    }
}

/// The chains to look at: all, or the one of realm `name` (by the name the chain was last
/// written under, or the realm's current id). A realm that exists but has no record yet
/// gets an empty head; an unknown name is an error.
async fn heads(store: &dyn Store, name: Option<&str>) -> anyhow::Result<Vec<AuditHead>> {
    let all = store.audit_heads().await?;
    let Some(name) = name else {
        return Ok(all);
    };
    let realm = store.realm_by_name(name).await?;
    let id = realm.as_ref().map(|r| r.id.clone());
    let found: Vec<AuditHead> = all
        .into_iter()
        .filter(|h| h.realm_name == name || Some(&h.realm_id) == id.as_ref())
        .collect();
    if !found.is_empty() {
        return Ok(found);
    }
    match id {
        Some(realm_id) => Ok(vec![AuditHead {
            realm_id,
            realm_name: name.to_string(),
            seq: 0,
            hash: GENESIS.to_string(),
        }]),
        None => anyhow::bail!("realm '{name}' has no audit trail and does not exist"),
    }
}

/// Checks every chain (or realm `name`'s): one verdict per chain.
pub async fn verify(store: &dyn Store, name: Option<&str>) -> anyhow::Result<Vec<Verdict>> {
    let mut out = Vec::new();
    for head in heads(store, name).await? {
        let mut walk = Walk::new(&head);
        let mut broken = None;
        'pages: loop {
            let page = store.audit_records(&head.realm_id, walk.seq, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for r in &page {
                if let Err(v) = walk.step(r) {
                    broken = Some(v);
                    break 'pages;
                }
            }
        }
        out.push(broken.unwrap_or_else(|| walk.finish(&head)));
    }
    Ok(out)
}

/// Writes every chain's records (or realm `name`'s) as JSON lines: `realmId`, `realm`,
/// `seq`, `time`, `prevHash`, `hash` and `event` (the exact chained text). How many.
pub async fn export(
    store: &dyn Store,
    name: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut n = 0;
    for head in heads(store, name).await? {
        let mut after = 0;
        loop {
            let page = store.audit_records(&head.realm_id, after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            for r in &page {
                let line = serde_json::json!({
                    "realmId": r.realm_id,
                    "realm": head.realm_name,
                    "seq": r.seq,
                    "time": r.time,
                    "prevHash": r.prev_hash,
                    "hash": r.hash,
                    "event": r.event,
                });
                writeln!(out, "{line}")?;
                n += 1;
            }
        }
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::audit::chain;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_and_has_no_space() {
        let v = json!({"b": 1, "a": {"z": "x\ny", "é": null, "B": [true, "\u{2028}"]}});
        assert_eq!(
            canonical(&v),
            "{\"a\":{\"B\":[true,\"\u{2028}\"],\"z\":\"x\\ny\",\"é\":null},\"b\":1}"
        );
    }

    #[test]
    fn security_events_are_audited() {
        assert!(audited("LOGIN") && audited("LOGIN_ERROR"));
        assert!(audited("CLIENT_LOGIN_ERROR") && !audited("CLIENT_LOGIN"));
        assert!(audited("TOKEN_EXCHANGE") && audited("CLIENT_REGISTER"));
        assert!(!audited("REFRESH_TOKEN") && !audited("CODE_TO_TOKEN"));
    }

    fn entry(ev: &str) -> AuditEntry {
        AuditEntry {
            realm_id: "r1".into(),
            realm_name: "one".into(),
            time: 1,
            event: ev.into(),
        }
    }

    fn head(recs: &[AuditRecord]) -> AuditHead {
        AuditHead {
            realm_id: "r1".into(),
            realm_name: "one".into(),
            seq: recs.last().map(|r| r.seq).unwrap_or(0),
            hash: recs
                .last()
                .map(|r| r.hash.clone())
                .unwrap_or(GENESIS.into()),
        }
    }

    fn walk(head: &AuditHead, recs: &[AuditRecord]) -> Verdict {
        let mut w = Walk::new(head);
        for r in recs {
            if let Err(v) = w.step(r) {
                return v;
            }
        }
        w.finish(head)
    }

    fn broken_at(v: &Verdict) -> i64 {
        match v {
            Verdict::Broken { seq, .. } => *seq,
            Verdict::Ok { .. } => 0,
        }
    }

    #[test]
    fn the_walk_names_the_first_broken_record() {
        let es: Vec<AuditEntry> = (0..4).map(|i| entry(&format!("{{\"n\":{i}}}"))).collect();
        let refs: Vec<&AuditEntry> = es.iter().collect();
        let recs = chain("r1", 0, GENESIS.into(), &refs);
        let h = head(&recs);
        assert_eq!(
            walk(&h, &recs).to_string(),
            "ok: one 4 records",
            "an intact chain"
        );
        // An edited event.
        let mut edited = recs.clone();
        edited[1].event = "{\"n\":9}".into();
        let v = walk(&h, &edited);
        assert_eq!(broken_at(&v), 2, "{v}");
        assert!(v.to_string().contains("contents"), "{v}");
        // An edited event with a recomputed hash breaks the next link.
        edited[1].hash = chain_hash(&edited[1].prev_hash, "r1", 2, &edited[1].event);
        assert_eq!(broken_at(&walk(&h, &edited)), 3);
        // A deleted record.
        let mut gone = recs.clone();
        gone.remove(2);
        let v = walk(&h, &gone);
        assert_eq!(broken_at(&v), 3, "{v}");
        assert!(v.to_string().contains("missing"));
        // The last record cut off.
        let v = walk(&h, &recs[..3]);
        assert_eq!(broken_at(&v), 4, "{v}");
        // An empty chain is fine.
        assert_eq!(walk(&head(&[]), &[]).to_string(), "ok: one 0 records");
    }
}
