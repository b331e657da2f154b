-- When a client's part in a session started (Keycloak's `AuthenticatedClientSessionModel.getStarted`):
-- a client session ends alone (a replayed authorization code detaches it) and may start again
-- later in the same SSO session; tokens issued before its start are refused. Rows from before
-- this column count as started at 0.
ALTER TABLE client_session ADD COLUMN started_at BIGINT NOT NULL DEFAULT 0;
