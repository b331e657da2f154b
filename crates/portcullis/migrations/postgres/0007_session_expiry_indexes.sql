-- The periodic sweep of expired sessions looks them up by last use and by start, per realm.
CREATE INDEX user_session_last_refresh ON user_session (realm_id, last_refresh);
CREATE INDEX user_session_created ON user_session (realm_id, created_at);
