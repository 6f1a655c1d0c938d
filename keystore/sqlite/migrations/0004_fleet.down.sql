DROP TABLE IF EXISTS keygate_gateways;
