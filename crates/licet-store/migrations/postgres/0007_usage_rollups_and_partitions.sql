-- Usage storage that scales with time.
--
-- 1. Hourly rollups: accepted usage summed per subscription, meter, UTC hour, device
--    and camera ('' for none), and the invoice that claimed it ('' while unclaimed).
--    Moved in the transaction that stores the events, by what was actually stored.
--    Invoices, late usage, charts and totals read these, never the detail, so the
--    detail can be dropped without changing any of them.
CREATE TABLE usage_rollups (
    tenant_id       TEXT   NOT NULL,
    subscription_id TEXT   NOT NULL REFERENCES subscriptions (id),
    meter           TEXT   NOT NULL,
    hour            TEXT   NOT NULL,
    device_id       TEXT   NOT NULL,
    camera_id       TEXT   NOT NULL,
    invoiced_in     TEXT   NOT NULL,
    quantity        BIGINT NOT NULL,
    cost_minor      BIGINT NOT NULL,
    events          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, meter, hour, device_id, camera_id, invoiced_in)
);
CREATE INDEX usage_rollups_subscription_hour ON usage_rollups (subscription_id, hour);
CREATE INDEX usage_rollups_tenant_hour ON usage_rollups (tenant_id, hour);

INSERT INTO usage_rollups (tenant_id, subscription_id, meter, hour, device_id, camera_id, invoiced_in,
                           quantity, cost_minor, events)
SELECT tenant_id, subscription_id, meter, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24'),
       coalesce(device_id, ''), coalesce(camera_id, ''), coalesce(invoiced_in, ''),
       LEAST(sum(quantity), 9223372036854775807)::BIGINT,
       GREATEST(LEAST(coalesce(sum(cost_minor), 0), 9223372036854775807), -9223372036854775807)::BIGINT,
       count(*)
FROM usage_records
WHERE rejection IS NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- 2. Back-end events are deduplicated on their own key table (tenant, source, id), so
--    the detail needs no unique index without its partition key.
CREATE TABLE usage_event_keys (
    tenant_id TEXT NOT NULL,
    source    TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, source, event_id)
);
INSERT INTO usage_event_keys (tenant_id, source, event_id)
SELECT tenant_id, source, event_id FROM usage_records WHERE source IS NOT NULL;

-- 3. The detail, partitioned by the month the event occurred (UTC), one table
--    `usage_records_YYYY_MM` per month, created when its first event arrives; retention
--    is dropping a month's table. A device event is deduplicated on (device, sequence,
--    time): a resent event carries its time, and every event at or below the device's
--    acknowledged sequence is a replay and is not stored at all. The detail is written
--    only by ingestion, which has just read the device and subscription, and is read
--    only for the acknowledgement, so it carries no foreign keys and no time indexes.
ALTER TABLE usage_records RENAME TO usage_records_unpartitioned;
DROP INDEX usage_records_device_seq;
DROP INDEX usage_records_source_id;
DROP INDEX usage_records_tenant_time;
DROP INDEX usage_records_subscription_time;
CREATE TABLE usage_records (
    tenant_id       TEXT        NOT NULL,
    subscription_id TEXT        NOT NULL,
    device_id       TEXT,
    seq             BIGINT,
    source          TEXT,
    event_id        TEXT,
    meter           TEXT        NOT NULL,
    quantity        BIGINT      NOT NULL,
    unit            TEXT,
    camera_id       TEXT,
    resource_id     TEXT,
    cost_minor      BIGINT,
    occurred_at     TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    attributes      TEXT,
    rejection       TEXT,
    invoiced_in     TEXT,
    CHECK ((device_id IS NOT NULL AND seq IS NOT NULL) OR (source IS NOT NULL AND event_id IS NOT NULL))
) PARTITION BY RANGE (occurred_at);
CREATE UNIQUE INDEX usage_records_device_seq ON usage_records (device_id, seq, occurred_at)
    WHERE device_id IS NOT NULL;

DO $$
DECLARE
    month DATE;
BEGIN
    FOR month IN
        SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::DATE
        FROM usage_records_unpartitioned
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF usage_records FOR VALUES FROM (%L) TO (%L)',
            'usage_records_' || to_char(month, 'YYYY_MM'),
            to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char(month + INTERVAL '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
    END LOOP;
END $$;

INSERT INTO usage_records SELECT * FROM usage_records_unpartitioned;
DROP TABLE usage_records_unpartitioned;
