-- The change feed: every change to keys and integrations that matters for
-- authentication, written by triggers (so plain SQL counts as much as the
-- command line), in commit order, for the gateways to follow. NOTIFY only
-- wakes them: its payload is the new sequence, never a hash.

CREATE TABLE keygate_changes (
    seq            bigserial   NOT NULL,
    -- The key that changed, or NULL for an integration change or a
    -- TRUNCATE, after which followers drop their whole cache.
    key_id         text,
    -- SHA-256 of the changed key, as in keygate_keys.
    key_hash       bytea,
    integration_id text,
    op             text        NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT keygate_changes_pkey PRIMARY KEY (seq),
    CONSTRAINT keygate_changes_op_check CHECK (op IN ('insert', 'update', 'delete', 'truncate'))
);

-- Pruning finds the rows past the retention window by time.
CREATE INDEX keygate_changes_changed_at_idx ON keygate_changes (changed_at);

-- The sequence through which keygate_changes was pruned: a follower whose
-- last applied sequence is below it has missed changes and drops its
-- cache. One row.
CREATE TABLE keygate_changes_pruned (
    id  boolean NOT NULL DEFAULT true,
    seq bigint  NOT NULL DEFAULT 0,
    CONSTRAINT keygate_changes_pruned_pkey PRIMARY KEY (id),
    CONSTRAINT keygate_changes_pruned_one_row CHECK (id)
);
INSERT INTO keygate_changes_pruned DEFAULT VALUES;

-- keygate_feed_append records one change and wakes the followers.
--
-- Sequences are handed out in call order but transactions commit in any
-- order, so a follower reading "seq > last" could pass over a row whose
-- transaction commits late. The transaction-scoped advisory lock, taken
-- before nextval and held until commit, makes sequence order commit order:
-- a writer waits for the previous one to commit. Key writes are rare;
-- last_used_at updates never get here.
CREATE FUNCTION keygate_feed_append(p_key_id text, p_key_hash bytea, p_integration_id text, p_op text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    new_seq bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(30229394607928421); -- 'keygate' in ASCII
    INSERT INTO keygate_changes (key_id, key_hash, integration_id, op)
        VALUES (p_key_id, p_key_hash, p_integration_id, p_op)
        RETURNING seq INTO new_seq;
    PERFORM pg_notify('keygate_changes', new_seq::text);
END
$$;

CREATE FUNCTION keygate_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM keygate_feed_append(OLD.id, OLD.key_hash, OLD.integration_id, lower(TG_OP));
    END IF;
    -- An insert, or an update that gave the key another hash: the new
    -- hash may be cached as unknown.
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.key_hash IS DISTINCT FROM OLD.key_hash) THEN
        PERFORM keygate_feed_append(NEW.id, NEW.key_hash, NEW.integration_id, lower(TG_OP));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION keygate_integrations_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM keygate_feed_append(NULL, NULL, OLD.id, lower(TG_OP));
    RETURN NULL;
END
$$;

CREATE FUNCTION keygate_table_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM keygate_feed_append(NULL, NULL, NULL, 'truncate');
    RETURN NULL;
END
$$;

CREATE TRIGGER keygate_keys_insert_delete_feed
    AFTER INSERT OR DELETE ON keygate_keys
    FOR EACH ROW EXECUTE FUNCTION keygate_keys_changed();

-- Any column but last_used_at: the gateways may record use often, and
-- that changes nothing for authentication.
CREATE TRIGGER keygate_keys_update_feed
    AFTER UPDATE ON keygate_keys
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION keygate_keys_changed();

CREATE TRIGGER keygate_keys_truncate_feed
    AFTER TRUNCATE ON keygate_keys
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_table_truncated();

-- A new integration has no keys yet; what cached credentials hold of an
-- integration is its id and base URL.
CREATE TRIGGER keygate_integrations_update_feed
    AFTER UPDATE ON keygate_integrations
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.base_url IS DISTINCT FROM NEW.base_url)
    EXECUTE FUNCTION keygate_integrations_changed();

CREATE TRIGGER keygate_integrations_delete_feed
    AFTER DELETE ON keygate_integrations
    FOR EACH ROW EXECUTE FUNCTION keygate_integrations_changed();

CREATE TRIGGER keygate_integrations_truncate_feed
    AFTER TRUNCATE ON keygate_integrations
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_table_truncated();
