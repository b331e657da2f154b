-- RFC 8628 device authorizations. The device code is a bearer secret: only its SHA-256 is
-- kept. The user code is looked up by value, so it is kept normalized (upper case, no dash),
-- unique per realm. `status` moves pending -> approved | denied, approved -> redeemed, each
-- step one conditional UPDATE so that two nodes cannot both decide or both redeem.
CREATE TABLE device_code (
    device_code_hash TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_code TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    poll_interval BIGINT NOT NULL,
    last_poll BIGINT NOT NULL,
    status TEXT NOT NULL,
    session_id TEXT,
    user_id TEXT,
    UNIQUE (realm_id, user_code)
);
