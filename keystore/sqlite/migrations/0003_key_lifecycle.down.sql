DROP TRIGGER IF EXISTS keygate_keys_update_feed;
ALTER TABLE keygate_keys DROP COLUMN deleted_at;
CREATE TRIGGER keygate_keys_update_feed AFTER UPDATE ON keygate_keys
WHEN OLD.id IS NOT NEW.id
    OR OLD.integration_id IS NOT NEW.integration_id
    OR OLD.name IS NOT NEW.name
    OR OLD.key_hash IS NOT NEW.key_hash
    OR OLD.created_at IS NOT NEW.created_at
    OR OLD.expires_at IS NOT NEW.expires_at
    OR OLD.revoked_at IS NOT NEW.revoked_at
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (OLD.id, OLD.key_hash, OLD.integration_id, 'update');
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        SELECT NEW.id, NEW.key_hash, NEW.integration_id, 'update'
        WHERE NEW.key_hash IS NOT OLD.key_hash;
END;
