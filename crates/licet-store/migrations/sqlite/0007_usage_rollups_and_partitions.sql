-- Usage storage that scales with time (the PostgreSQL migration says more).
--
-- Hourly rollups: accepted usage summed per subscription, meter, UTC hour, device and
-- camera ('' for none), and the invoice that claimed it ('' while unclaimed), moved in
-- the transaction that stores the events. Invoices, late usage, charts and totals read
-- these, never the detail, so the detail can be deleted without changing any of them.
CREATE TABLE usage_rollups (
    tenant_id       TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id),
    meter           TEXT    NOT NULL,
    hour            TEXT    NOT NULL,
    device_id       TEXT    NOT NULL,
    camera_id       TEXT    NOT NULL,
    invoiced_in     TEXT    NOT NULL,
    quantity        INTEGER NOT NULL,
    cost_minor      INTEGER NOT NULL,
    events          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, meter, hour, device_id, camera_id, invoiced_in)
);
CREATE INDEX usage_rollups_subscription_hour ON usage_rollups (subscription_id, hour);
CREATE INDEX usage_rollups_tenant_hour ON usage_rollups (tenant_id, hour);

INSERT INTO usage_rollups (tenant_id, subscription_id, meter, hour, device_id, camera_id, invoiced_in,
                           quantity, cost_minor, events)
SELECT tenant_id, subscription_id, meter, substr(occurred_at, 1, 13),
       coalesce(device_id, ''), coalesce(camera_id, ''), coalesce(invoiced_in, ''),
       CAST(total(quantity) AS INTEGER), CAST(total(cost_minor) AS INTEGER), count(*)
FROM usage_records
WHERE rejection IS NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Back-end events are deduplicated on their own key table, as on PostgreSQL.
CREATE TABLE usage_event_keys (
    tenant_id TEXT NOT NULL,
    source    TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, source, event_id)
);
INSERT INTO usage_event_keys (tenant_id, source, event_id)
SELECT tenant_id, source, event_id FROM usage_records WHERE source IS NOT NULL;
DROP INDEX usage_records_source_id;
-- The detail is not partitioned on SQLite (it has no partitions); retention deletes a
-- month's rows. Nothing reads it by time any more.
DROP INDEX usage_records_tenant_time;
DROP INDEX usage_records_subscription_time;
