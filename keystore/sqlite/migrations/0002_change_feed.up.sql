-- The change feed, as in PostgreSQL: every change to keys and integrations
-- that matters for authentication, written by triggers (so plain SQL counts
-- as much as the command line), for the gateways to follow. SQLite has no
-- NOTIFY: gateways poll the newest sequence.
--
-- SQLite runs one write transaction at a time, so sequence order is commit
-- order without any lock of ours. AUTOINCREMENT keeps a sequence from ever
-- being handed out twice, even once every row has been pruned.

CREATE TABLE keygate_changes (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The key that changed, or NULL for an integration change, after
    -- which followers drop their whole cache.
    key_id         TEXT,
    -- SHA-256 of the changed key, as in keygate_keys.
    key_hash       BLOB,
    integration_id TEXT,
    op             TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    changed_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
) STRICT;

-- Pruning finds the rows past the retention window by time.
CREATE INDEX keygate_changes_changed_at_idx ON keygate_changes (changed_at);

-- The sequence through which keygate_changes was pruned: a follower whose
-- last applied sequence is below it has missed changes and drops its
-- cache. One row.
CREATE TABLE keygate_changes_pruned (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO keygate_changes_pruned (id) VALUES (1);

CREATE TRIGGER keygate_keys_insert_feed AFTER INSERT ON keygate_keys
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (NEW.id, NEW.key_hash, NEW.integration_id, 'insert');
END;

CREATE TRIGGER keygate_keys_delete_feed AFTER DELETE ON keygate_keys
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (OLD.id, OLD.key_hash, OLD.integration_id, 'delete');
END;

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
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (OLD.id, OLD.key_hash, OLD.integration_id, 'update');
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        SELECT NEW.id, NEW.key_hash, NEW.integration_id, 'update'
        WHERE NEW.key_hash IS NOT OLD.key_hash;
END;

-- A new integration has no keys yet; what cached credentials hold of an
-- integration is its id and base URL.
CREATE TRIGGER keygate_integrations_update_feed AFTER UPDATE ON keygate_integrations
WHEN OLD.id IS NOT NEW.id OR OLD.base_url IS NOT NEW.base_url
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (NULL, NULL, OLD.id, 'update');
END;

CREATE TRIGGER keygate_integrations_delete_feed AFTER DELETE ON keygate_integrations
BEGIN
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (NULL, NULL, OLD.id, 'delete');
END;
