-- Short-lived access tokens and automatic rolling.
--
-- The signing keys of access tokens, shared by every gateway of the
-- database and created by the gateways themselves. generation is unique:
-- of the gateways that see the newest key due at once, exactly one stores
-- the next. private_key is the Ed25519 seed behind a form byte: 0 plain,
-- 1 sealed with AES-256-GCM under the gateways' signing_key_secret.
CREATE TABLE keygate_signing_keys (
    kid          text        NOT NULL,
    generation   bigint      NOT NULL,
    public_key   bytea       NOT NULL,
    private_key  bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    -- No token is signed with the key from sign_until on; its tokens have
    -- all expired by verify_until, and the key is pruned after that.
    sign_until   timestamptz NOT NULL,
    verify_until timestamptz NOT NULL,
    CONSTRAINT keygate_signing_keys_pkey PRIMARY KEY (kid),
    CONSTRAINT keygate_signing_keys_generation_key UNIQUE (generation),
    CONSTRAINT keygate_signing_keys_public_key_check CHECK (octet_length(public_key) = 32),
    CONSTRAINT keygate_signing_keys_times_check CHECK (created_at < sign_until AND sign_until <= verify_until)
);

-- An exchange-only key is refused at the edge and works only at the token
-- endpoint. The change feed's update trigger compares every column but
-- last_used_at, so changing it invalidates the key in every cache.
ALTER TABLE keygate_keys ADD COLUMN exchange_only boolean NOT NULL DEFAULT false;

-- How often a key is to be rolled, in seconds; NULL: the integration's
-- default, if any.
ALTER TABLE keygate_keys ADD COLUMN rotate_every_seconds bigint
    CONSTRAINT keygate_keys_rotate_every_check CHECK (rotate_every_seconds > 0);

-- An integration's default rotation period for its keys, and the grace
-- the old key keeps when a calling system rolls its own key.
ALTER TABLE keygate_integrations ADD COLUMN rotate_every_seconds bigint
    CONSTRAINT keygate_integrations_rotate_every_check CHECK (rotate_every_seconds > 0);
ALTER TABLE keygate_integrations ADD COLUMN rotate_grace_seconds bigint
    CONSTRAINT keygate_integrations_rotate_grace_check CHECK (rotate_grace_seconds >= 0);
