ALTER TABLE keygate_keys DROP COLUMN IF EXISTS deleted_at;
