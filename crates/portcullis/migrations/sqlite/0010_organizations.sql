-- Keycloak 26 organizations as rows, so that members are added and removed without
-- rewriting the realm document. Names and aliases are unique per realm; a domain belongs to
-- one organization of the realm (kept lower-case); an identity provider (by alias, from the
-- realm's `identityProviders`) is linked to at most one organization. Deleting a realm, an
-- organization or a user removes what hangs on it.
CREATE TABLE organization (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    description TEXT,
    redirect_url TEXT,
    UNIQUE (realm_id, name),
    UNIQUE (realm_id, alias)
);

CREATE TABLE organization_attribute (
    organization_id TEXT NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    PRIMARY KEY (organization_id, ordinal)
);
CREATE INDEX organization_attribute_value ON organization_attribute (name, value);

CREATE TABLE organization_domain (
    organization_id TEXT NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    realm_id TEXT NOT NULL,
    name TEXT NOT NULL,
    verified BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, name),
    UNIQUE (realm_id, name)
);

CREATE TABLE organization_member (
    organization_id TEXT NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES user_entity(id) ON DELETE CASCADE,
    membership_type TEXT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_member_user ON organization_member (user_id);

CREATE TABLE organization_idp (
    organization_id TEXT NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    realm_id TEXT NOT NULL,
    alias TEXT NOT NULL,
    PRIMARY KEY (organization_id, alias),
    UNIQUE (realm_id, alias)
);
