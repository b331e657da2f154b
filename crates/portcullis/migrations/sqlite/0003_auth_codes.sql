-- Pending browser logins (the authorization request while the login page is shown).
CREATE TABLE auth_session (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Authorization codes, by SHA-256 of the code; `used` stays set after redemption so that a
-- replay can be detected and the session it produced ended.
CREATE TABLE auth_code (
    code_hash TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL
);
