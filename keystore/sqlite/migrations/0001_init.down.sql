DROP TABLE IF EXISTS keygate_keys;
DROP TABLE IF EXISTS keygate_integrations;
