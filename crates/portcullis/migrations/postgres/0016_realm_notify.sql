-- Every change to a realm row (created, updated, deleted: through the Admin API, an import, a
-- key generated at first use, an organization write bumping its version) is announced on this
-- schema's change channel, so that each node reloads that realm alone instead of polling every
-- realm's version.
CREATE OR REPLACE FUNCTION portcullis_realm_changed() RETURNS trigger AS $$
DECLARE
    channel text := left('portcullis_changes_' || TG_TABLE_SCHEMA, 63);
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify(channel, 'realm:' || OLD.name);
    ELSE
        PERFORM pg_notify(channel, 'realm:' || NEW.name);
        IF TG_OP = 'UPDATE' AND OLD.name IS DISTINCT FROM NEW.name THEN
            PERFORM pg_notify(channel, 'realm:' || OLD.name);
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER realm_changed AFTER INSERT OR UPDATE OR DELETE ON realm
    FOR EACH ROW EXECUTE FUNCTION portcullis_realm_changed();
