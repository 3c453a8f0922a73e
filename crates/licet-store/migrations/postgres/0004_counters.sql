-- Running totals of accepted usage per subscription, meter and UTC day, moved in the
-- transaction that stores the usage (a replayed event stores nothing and moves
-- nothing). Quota status reads at most a period's days of these instead of the
-- period's events, so a heartbeat costs the same on the 1st and the 31st. `camera_day`
-- is counted per distinct camera, not summed, and has no counter. `tenant_id` leads
-- the key, so the table can later be sharded by tenant.
-- Each total is split over 16 `shard` rows (by device, or by event id), so the many
-- devices of one subscription do not all queue on one row lock; a reader sums them.
CREATE TABLE usage_counters (
    tenant_id       TEXT   NOT NULL,
    subscription_id TEXT   NOT NULL REFERENCES subscriptions (id),
    meter           TEXT   NOT NULL,
    day             TEXT   NOT NULL,
    shard           SMALLINT NOT NULL,
    quantity        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, meter, day, shard)
);

INSERT INTO usage_counters (tenant_id, subscription_id, meter, day, shard, quantity)
SELECT tenant_id, subscription_id, meter, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 0,
       LEAST(sum(quantity), 9223372036854775807)::BIGINT
FROM usage_records
WHERE rejection IS NULL AND meter <> 'camera_day'
GROUP BY tenant_id, subscription_id, meter, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD');

-- The device limit as a counter: activation takes a slot with one conditional
-- UPDATE (`… WHERE active_devices < max`), deactivation gives it back, instead of
-- counting devices under a lock on the subscription.
ALTER TABLE subscriptions ADD COLUMN active_devices BIGINT NOT NULL DEFAULT 0;
UPDATE subscriptions SET active_devices =
    (SELECT count(*) FROM devices d WHERE d.subscription_id = subscriptions.id AND d.status = 'active');
