-- Each source of usage has its own dedup key, and a row of the other source has NULLs
-- there: a device event needs no entry in the back-end key's index, nor a back-end
-- event in the device key's. Partial unique indexes save one index write per stored
-- event (a fleet's uploads are most of the server's database work).
DROP INDEX usage_records_source_id;
CREATE UNIQUE INDEX usage_records_source_id ON usage_records (tenant_id, source, event_id)
    WHERE source IS NOT NULL;
DROP INDEX usage_records_device_seq;
CREATE UNIQUE INDEX usage_records_device_seq ON usage_records (device_id, seq)
    WHERE device_id IS NOT NULL;
