-- The fleet: one row per gateway instance following the change feed,
-- written by the instance itself when it applies changes and on its
-- heartbeat, never on the request path. No trigger of the change feed
-- watches this table. Each write NOTIFYs keygate_gateways with the
-- applied sequence, for confirmations to wait on without polling.
CREATE TABLE keygate_gateways (
    -- Random, made by the instance at start.
    instance_id  text        NOT NULL,
    hostname     text        NOT NULL,
    version      text        NOT NULL,
    started_at   timestamptz NOT NULL,
    -- How long the instance trusts its cache after its feed was last
    -- healthy: past last_seen_at + stale_ttl_ms (+ a margin) it is stale,
    -- and refuses what it cannot re-read.
    stale_ttl_ms bigint      NOT NULL,
    -- The last feed sequence the instance applied.
    applied_seq  bigint      NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT keygate_gateways_pkey PRIMARY KEY (instance_id),
    CONSTRAINT keygate_gateways_stale_ttl_check CHECK (stale_ttl_ms >= 0)
);
