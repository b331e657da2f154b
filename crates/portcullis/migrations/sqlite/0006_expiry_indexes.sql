-- Expired rows are swept by `expires_at`: without an index each sweep read the whole table,
-- and the tables of short-lived rows grow with traffic (used codes are kept an hour after
-- they expire, to recognise a replay).
CREATE INDEX auth_session_expires ON auth_session (expires_at);
CREATE INDEX auth_code_expires ON auth_code (expires_at);
CREATE INDEX revoked_token_expires ON revoked_token (expires_at);
CREATE INDEX device_code_expires ON device_code (expires_at);
