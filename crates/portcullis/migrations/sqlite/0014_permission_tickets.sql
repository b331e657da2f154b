-- UMA permission tickets (Keycloak's `PermissionTicket`): a requester asked, or was given by
-- the owner, one scope (or, without a scope, the whole resource) of a resource of a resource
-- server. `granted_timestamp` is set when the owner or the resource server grants it; a
-- granted ticket is a permission of the requester in every later evaluation. Timestamps are
-- milliseconds, as Keycloak's. One ticket per (resource, scope, requester); deleting the
-- resource server or the resource removes its tickets.
CREATE TABLE authz_permission_ticket (
    realm_id TEXT NOT NULL,
    id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    requester TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    scope_id TEXT,
    policy_id TEXT,
    created_timestamp BIGINT NOT NULL,
    granted_timestamp BIGINT,
    PRIMARY KEY (realm_id, id),
    FOREIGN KEY (realm_id, server_id) REFERENCES authz_resource_server(realm_id, id) ON DELETE CASCADE,
    FOREIGN KEY (realm_id, resource_id) REFERENCES authz_resource(realm_id, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX authz_permission_ticket_unique
    ON authz_permission_ticket (realm_id, server_id, resource_id, COALESCE(scope_id, ''), requester);
