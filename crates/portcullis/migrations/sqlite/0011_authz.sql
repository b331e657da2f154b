-- Authorization Services (Keycloak's resource servers): a client's settings and its
-- resources, scopes and policies (permissions are policies of the types `resource` and
-- `scope`, in one table as Keycloak keeps them). Each row holds its representation in the
-- stored form (ids, policy config as JSON-in-strings). The resource server's id is the
-- client's UUID (ids are unique per realm, so copies of one export
-- import into two realms); `version` is bumped by every write to the server or its rows (the policy
-- engine's cache keys on it). Names are unique per server (a resource's per owner). Deleting
-- a realm or a resource server removes what hangs on it.
CREATE TABLE authz_resource_server (
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    settings TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (realm_id, id)
);

CREATE TABLE authz_resource (
    realm_id TEXT NOT NULL,
    id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    representation TEXT NOT NULL,
    PRIMARY KEY (realm_id, id),
    FOREIGN KEY (realm_id, server_id) REFERENCES authz_resource_server(realm_id, id) ON DELETE CASCADE,
    UNIQUE (realm_id, server_id, owner, name)
);

CREATE TABLE authz_scope (
    realm_id TEXT NOT NULL,
    id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    representation TEXT NOT NULL,
    PRIMARY KEY (realm_id, id),
    FOREIGN KEY (realm_id, server_id) REFERENCES authz_resource_server(realm_id, id) ON DELETE CASCADE,
    UNIQUE (realm_id, server_id, name)
);

CREATE TABLE authz_policy (
    realm_id TEXT NOT NULL,
    id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    representation TEXT NOT NULL,
    PRIMARY KEY (realm_id, id),
    FOREIGN KEY (realm_id, server_id) REFERENCES authz_resource_server(realm_id, id) ON DELETE CASCADE,
    UNIQUE (realm_id, server_id, name)
);
