-- SSO sessions (online and offline), shared by every node.
CREATE TABLE user_session (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    offline BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_refresh BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX user_session_user ON user_session (realm_id, user_id);

-- Per-client state of a session: the current refresh token for rotation.
CREATE TABLE client_session (
    session_id TEXT NOT NULL REFERENCES user_session(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    refresh_token_id TEXT,
    refresh_use_count BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

-- Revoked access tokens (RFC 7009), kept until they would have expired.
CREATE TABLE revoked_token (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
