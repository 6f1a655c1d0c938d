-- Soft deletion: a deleted key is gone from listings and refused like a
-- revoked one, but its row stays for the record. The change feed's update
-- trigger compares every column but last_used_at, so setting deleted_at
-- invalidates the key in every gateway's cache.
ALTER TABLE keygate_keys ADD COLUMN deleted_at timestamptz;
