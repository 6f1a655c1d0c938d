DROP TABLE IF EXISTS keygate_key_usage;
DROP TABLE IF EXISTS keygate_audit;
