-- Realm documents that still embed `organizations` (written by a version from before they
-- became rows). Start-up moves them into rows and finds them here, without reading every realm
-- document (at 10,000 realms on PostgreSQL that read was 10,000 round trips). The store keeps
-- this table in step with every realm written.
CREATE TABLE realm_upgrade (realm_id TEXT PRIMARY KEY);
INSERT INTO realm_upgrade (realm_id) SELECT id FROM realm WHERE representation LIKE '%"organizations"%';
