-- Keycloak's login events (EVENT_ENTITY) and admin events (ADMIN_EVENT_ENTITY). Written in
-- batches by the events writer, read by the Admin API listings (newest first by default, so
-- both are indexed by realm and time), removed per realm by the sweep once older than the
-- realm's `eventsExpiration`. `details` is a JSON object of strings; `representation` the JSON
-- text of the admin request (only with `adminEventsDetailsEnabled`).
CREATE TABLE event_entity (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    event_time BIGINT NOT NULL,
    type TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    session_id TEXT,
    ip_address TEXT,
    error TEXT,
    details TEXT
);
CREATE INDEX event_entity_realm_time ON event_entity (realm_id, event_time);

CREATE TABLE admin_event_entity (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    event_time BIGINT NOT NULL,
    operation_type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_path TEXT,
    auth_realm_id TEXT,
    auth_client_id TEXT,
    auth_user_id TEXT,
    ip_address TEXT,
    representation TEXT,
    error TEXT
);
CREATE INDEX admin_event_entity_realm_time ON admin_event_entity (realm_id, event_time);
