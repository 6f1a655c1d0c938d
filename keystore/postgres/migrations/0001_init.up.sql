-- Integrations and the Access Keys that reach them. Constraint names are
-- spelled out: the store maps violations of them to its errors.

CREATE TABLE keygate_integrations (
    id         text        NOT NULL,
    base_url   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT keygate_integrations_pkey PRIMARY KEY (id)
);

CREATE TABLE keygate_keys (
    id             text        NOT NULL,
    integration_id text        NOT NULL,
    name           text        NOT NULL,
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash       bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    CONSTRAINT keygate_keys_pkey PRIMARY KEY (id),
    CONSTRAINT keygate_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT keygate_keys_key_hash_check CHECK (octet_length(key_hash) = 32),
    CONSTRAINT keygate_keys_integration_id_fkey FOREIGN KEY (integration_id)
        REFERENCES keygate_integrations (id)
);

-- Listing the keys of one integration, in creation order.
CREATE INDEX keygate_keys_integration_id_idx ON keygate_keys (integration_id, created_at, id);
