DROP TRIGGER IF EXISTS keygate_keys_update_feed;
ALTER TABLE keygate_integrations DROP COLUMN rotate_grace_seconds;
ALTER TABLE keygate_integrations DROP COLUMN rotate_every_seconds;
ALTER TABLE keygate_keys DROP COLUMN rotate_every_seconds;
ALTER TABLE keygate_keys DROP COLUMN exchange_only;
DROP TABLE keygate_signing_keys;
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
