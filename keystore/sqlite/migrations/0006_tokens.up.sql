-- Short-lived access tokens and automatic rolling: the same tables and
-- columns as in PostgreSQL.
--
-- The signing keys of access tokens, created by the gateways themselves.
-- generation is unique: of the gateways that see the newest key due at
-- once, exactly one stores the next. private_key is the Ed25519 seed
-- behind a form byte: 0 plain, 1 sealed with AES-256-GCM under the
-- gateways' signing_key_secret.
CREATE TABLE keygate_signing_keys (
    kid          TEXT    NOT NULL PRIMARY KEY,
    generation   INTEGER NOT NULL UNIQUE,
    public_key   BLOB    NOT NULL CHECK (length(public_key) = 32),
    private_key  BLOB    NOT NULL,
    created_at   TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*' AND julianday(created_at) IS NOT NULL),
    -- No token is signed with the key from sign_until on; its tokens have
    -- all expired by verify_until, and the key is pruned after that.
    sign_until   TEXT    NOT NULL CHECK (sign_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*' AND julianday(sign_until) IS NOT NULL),
    verify_until TEXT    NOT NULL CHECK (verify_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*' AND julianday(verify_until) IS NOT NULL),
    CHECK (created_at < sign_until AND sign_until <= verify_until)
) STRICT;

-- An exchange-only key is refused at the edge and works only at the token
-- endpoint. 0 or 1.
ALTER TABLE keygate_keys ADD COLUMN exchange_only INTEGER NOT NULL DEFAULT 0 CHECK (exchange_only IN (0, 1));

-- How often a key is to be rolled, in seconds; NULL: the integration's
-- default, if any.
ALTER TABLE keygate_keys ADD COLUMN rotate_every_seconds INTEGER CHECK (rotate_every_seconds > 0);

-- An integration's default rotation period for its keys, and the grace
-- the old key keeps when a calling system rolls its own key.
ALTER TABLE keygate_integrations ADD COLUMN rotate_every_seconds INTEGER CHECK (rotate_every_seconds > 0);
ALTER TABLE keygate_integrations ADD COLUMN rotate_grace_seconds INTEGER CHECK (rotate_grace_seconds >= 0);

-- The change feed's update trigger names the columns that matter for
-- authentication: exchange_only is one of them (rotate_every_seconds is
-- not), so the trigger is made again with it.
DROP TRIGGER keygate_keys_update_feed;
CREATE TRIGGER keygate_keys_update_feed AFTER UPDATE ON keygate_keys
WHEN OLD.id IS NOT NEW.id
    OR OLD.integration_id IS NOT NEW.integration_id
    OR OLD.name IS NOT NEW.name
    OR OLD.key_hash IS NOT NEW.key_hash
    OR OLD.created_at IS NOT NEW.created_at
    OR OLD.expires_at IS NOT NEW.expires_at
    OR OLD.revoked_at IS NOT NEW.revoked_at
    OR OLD.deleted_at IS NOT NEW.deleted_at
    OR OLD.exchange_only IS NOT NEW.exchange_only
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (OLD.id, OLD.key_hash, OLD.integration_id, 'update');
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        SELECT NEW.id, NEW.key_hash, NEW.integration_id, 'update'
        WHERE NEW.key_hash IS NOT OLD.key_hash;
END;
