-- Integrations and the Access Keys that reach them: the same tables as in
-- PostgreSQL. STRICT tables, so that a value of the wrong type is refused.
--
-- Times are UTC text, 'YYYY-MM-DD HH:MM:SS.SSSSSS' as keygate writes them,
-- which sorts in time order and which SQLite's date functions read. An
-- operator may write what datetime('now') or strftime() return, with a
-- 'T' separator, fractional seconds and a 'Z' or '+HH:MM' suffix if they
-- like: the checks below refuse anything else, such as a bare number.

CREATE TABLE keygate_integrations (
    id         TEXT NOT NULL PRIMARY KEY,
    base_url   TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND julianday(created_at) IS NOT NULL)
) STRICT;

CREATE TABLE keygate_keys (
    id             TEXT NOT NULL PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES keygate_integrations (id),
    name           TEXT NOT NULL,
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash       BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND julianday(created_at) IS NOT NULL),
    expires_at     TEXT
        CHECK (expires_at IS NULL OR (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND julianday(expires_at) IS NOT NULL)),
    revoked_at     TEXT
        CHECK (revoked_at IS NULL OR (revoked_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND julianday(revoked_at) IS NOT NULL)),
    last_used_at   TEXT
        CHECK (last_used_at IS NULL OR (last_used_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND julianday(last_used_at) IS NOT NULL))
) STRICT;

-- Listing the keys of one integration, in creation order.
CREATE INDEX keygate_keys_integration_id_idx ON keygate_keys (integration_id, created_at, id);
