ALTER TABLE keygate_integrations DROP COLUMN rotate_grace_seconds;
ALTER TABLE keygate_integrations DROP COLUMN rotate_every_seconds;
ALTER TABLE keygate_keys DROP COLUMN rotate_every_seconds;
ALTER TABLE keygate_keys DROP COLUMN exchange_only;
DROP TABLE keygate_signing_keys;
