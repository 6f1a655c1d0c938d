-- The audit trail of management actions, as the portal and the admin API
-- show it. keygate only ever appends to it; it never holds a key. Times
-- as in 0001.
CREATE TABLE keygate_audit (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at             TEXT    NOT NULL
        CHECK (at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND julianday(at) IS NOT NULL),
    actor          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    key_id         TEXT,
    integration_id TEXT,
    details        TEXT CHECK (details IS NULL OR json_valid(details))
) STRICT;
CREATE INDEX keygate_audit_key_id_idx ON keygate_audit (key_id, id);
CREATE INDEX keygate_audit_integration_id_idx ON keygate_audit (integration_id, id);
CREATE INDEX keygate_audit_actor_idx ON keygate_audit (actor, id);

-- Requests per key per time bucket, added by the gateways' batched
-- last-used flush and pruned by it after the retention (7 days). A key
-- removed for good takes its counts with it.
CREATE TABLE keygate_key_usage (
    key_id   TEXT    NOT NULL REFERENCES keygate_keys (id) ON DELETE CASCADE,
    bucket   TEXT    NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (key_id, bucket)
) STRICT;
CREATE INDEX keygate_key_usage_bucket_idx ON keygate_key_usage (bucket);
