-- The tamper-evident audit log (docs/audit.md): per realm, a hash chain of the security-relevant
-- events. `audit_log` holds the records (the realm's running sequence number from 1, the event
-- as canonical JSON, the previous record's hash and the record's own hash, SHA-256 in hex);
-- `audit_head` the realm's last sequence number and hash. An appender locks the realm's head
-- row (an UPDATE ... RETURNING on it: a row lock on PostgreSQL, SQLite's single writer) before
-- numbering, so several nodes on one database never fork a chain, and the head lets `audit
-- verify` notice records cut from the end. No foreign key to `realm`: a deleted realm's trail
-- is kept.
CREATE TABLE audit_head (
    realm_id TEXT PRIMARY KEY,
    realm_name TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_log (
    realm_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event_time BIGINT NOT NULL,
    event TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (realm_id, seq)
);
