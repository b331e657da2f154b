-- Logins in progress and unredeemed codes are held in the server's memory on SQLite
-- (`store::flows::LoginMemory`), as Keycloak holds them in its caches: the rows an earlier
-- version wrote here are read by nothing and swept by nothing, so they go. The empty tables
-- stay, for the statements both backends share (a realm's deletion).
DELETE FROM auth_session;
DELETE FROM auth_code;
