-- On SQLite, logins in progress and unredeemed codes moved into the server's memory and its
-- tables were emptied. PostgreSQL keeps them in `auth_session` and `auth_code`, so that any
-- node serves any step of a login: nothing changes here. (Both backends keep the same list of
-- migrations.)
SELECT 1;
