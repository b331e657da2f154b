-- Columns for the Admin API's user search (Keycloak's GET /users): lower-case first and last
-- names, the enabled flag and whether the user is a client's service account, each derived
-- from the representation on every write. Prefix searches are range scans on these indexes,
-- so the searched columns compare byte-wise (COLLATE "C"), as SQLite's do.
ALTER TABLE user_entity ALTER COLUMN username TYPE TEXT COLLATE "C";
ALTER TABLE user_entity ALTER COLUMN email TYPE TEXT COLLATE "C";
ALTER TABLE user_entity ADD COLUMN first_name TEXT COLLATE "C";
ALTER TABLE user_entity ADD COLUMN last_name TEXT COLLATE "C";
ALTER TABLE user_entity ADD COLUMN enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE user_entity ADD COLUMN service_account BIGINT NOT NULL DEFAULT 0;
UPDATE user_entity SET
    first_name = lower(representation::jsonb ->> 'firstName'),
    last_name = lower(representation::jsonb ->> 'lastName'),
    enabled = CASE WHEN representation::jsonb ->> 'enabled' = 'false' THEN 0 ELSE 1 END,
    service_account = CASE WHEN representation::jsonb ->> 'serviceAccountClientId' IS NULL THEN 0 ELSE 1 END;
CREATE INDEX user_entity_first_name ON user_entity (realm_id, first_name);
CREATE INDEX user_entity_last_name ON user_entity (realm_id, last_name);

-- Initial access tokens for client registration (Admin API clients-initial-access).
CREATE TABLE initial_access (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expiration BIGINT NOT NULL,
    count BIGINT NOT NULL,
    remaining BIGINT NOT NULL
);
CREATE INDEX initial_access_realm ON initial_access (realm_id);
