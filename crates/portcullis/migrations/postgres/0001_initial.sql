-- Realms: the realm configuration (everything but users) as Keycloak's RealmRepresentation
-- JSON; version is bumped on every change so that nodes can reload their snapshot.
CREATE TABLE realm (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    representation TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Users: one row each, their UserRepresentation (with hashed credentials) as JSON.
CREATE TABLE user_entity (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    email TEXT,
    representation TEXT NOT NULL,
    UNIQUE (realm_id, username)
);
CREATE INDEX user_entity_email ON user_entity (realm_id, email);
