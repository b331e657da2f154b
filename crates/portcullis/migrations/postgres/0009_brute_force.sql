-- Brute-force detection: a user's failed logins (Keycloak's `UserLoginFailureModel`), shared by
-- every node on one database. A row exists only while a user has failures: a successful login
-- of a user without one writes nothing. `last_failure` is in milliseconds,
-- `failed_login_not_before` in seconds, as Keycloak keeps them. Deleting the user (or its realm)
-- deletes the row.
CREATE TABLE login_failure (
    realm_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES user_entity(id) ON DELETE CASCADE,
    num_failures BIGINT NOT NULL,
    num_temporary_lockouts BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    last_ip_failure TEXT,
    failed_login_not_before BIGINT NOT NULL,
    PRIMARY KEY (realm_id, user_id)
);
CREATE INDEX login_failure_user ON login_failure (user_id);
