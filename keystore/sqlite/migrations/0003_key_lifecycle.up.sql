-- Soft deletion: a deleted key is gone from listings and refused like a
-- revoked one, but its row stays for the record. The change feed's update
-- trigger must see the new column, so it is made again with it.
ALTER TABLE keygate_keys ADD COLUMN deleted_at TEXT
    CHECK (deleted_at IS NULL OR (deleted_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
        AND julianday(deleted_at) IS NOT NULL));

DROP TRIGGER keygate_keys_update_feed;

-- Any column but last_used_at: the gateways may record use often, and
-- that changes nothing for authentication. A column added to keygate_keys
-- must be added here too. An update that gives the key another hash
-- records the new hash as well: it may be cached as unknown.
CREATE TRIGGER keygate_keys_update_feed AFTER UPDATE ON keygate_keys
WHEN OLD.id IS NOT NEW.id
    OR OLD.integration_id IS NOT NEW.integration_id
    OR OLD.name IS NOT NEW.name
    OR OLD.key_hash IS NOT NEW.key_hash
    OR OLD.created_at IS NOT NEW.created_at
    OR OLD.expires_at IS NOT NEW.expires_at
    OR OLD.revoked_at IS NOT NEW.revoked_at
    OR OLD.deleted_at IS NOT NEW.deleted_at
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (OLD.id, OLD.key_hash, OLD.integration_id, 'update');
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        SELECT NEW.id, NEW.key_hash, NEW.integration_id, 'update'
        WHERE NEW.key_hash IS NOT OLD.key_hash;
END;
