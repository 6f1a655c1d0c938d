-- The audit trail of management actions, as the portal and the admin API
-- show it. keygate only ever appends to it; it never holds a key.
CREATE TABLE keygate_audit (
    id             bigserial   NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    actor          text        NOT NULL,
    action         text        NOT NULL,
    key_id         text,
    integration_id text,
    details        jsonb,
    CONSTRAINT keygate_audit_pkey PRIMARY KEY (id)
);
CREATE INDEX keygate_audit_key_id_idx ON keygate_audit (key_id, id);
CREATE INDEX keygate_audit_integration_id_idx ON keygate_audit (integration_id, id);
CREATE INDEX keygate_audit_actor_idx ON keygate_audit (actor, id);

-- Requests per key per time bucket, added by the gateways' batched
-- last-used flush and pruned by it after the retention (7 days). A key
-- removed for good takes its counts with it.
CREATE TABLE keygate_key_usage (
    key_id   text        NOT NULL,
    bucket   timestamptz NOT NULL,
    requests bigint      NOT NULL,
    CONSTRAINT keygate_key_usage_pkey PRIMARY KEY (key_id, bucket),
    CONSTRAINT keygate_key_usage_key_id_fkey FOREIGN KEY (key_id)
        REFERENCES keygate_keys (id) ON DELETE CASCADE
);
CREATE INDEX keygate_key_usage_bucket_idx ON keygate_key_usage (bucket);
