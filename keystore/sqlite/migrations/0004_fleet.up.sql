-- The fleet, as in PostgreSQL: one row per gateway instance following the
-- change feed, written by the instance itself when it applies changes and
-- on its heartbeat, never on the request path. No trigger of the change
-- feed watches this table. Times are UTC 'YYYY-MM-DD HH:MM:SS.SSS'.
CREATE TABLE keygate_gateways (
    instance_id  TEXT    NOT NULL PRIMARY KEY,
    hostname     TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    -- How long the instance trusts its cache after its feed was last
    -- healthy: past last_seen_at + stale_ttl_ms (+ a margin) it is stale.
    stale_ttl_ms INTEGER NOT NULL CHECK (stale_ttl_ms >= 0),
    applied_seq  INTEGER NOT NULL,
    last_seen_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
) STRICT;
