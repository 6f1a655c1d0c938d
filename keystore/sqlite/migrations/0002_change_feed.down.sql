DROP TRIGGER IF EXISTS keygate_integrations_delete_feed;
DROP TRIGGER IF EXISTS keygate_integrations_update_feed;
DROP TRIGGER IF EXISTS keygate_keys_update_feed;
DROP TRIGGER IF EXISTS keygate_keys_delete_feed;
DROP TRIGGER IF EXISTS keygate_keys_insert_feed;
DROP TABLE IF EXISTS keygate_changes_pruned;
DROP TABLE IF EXISTS keygate_changes;
