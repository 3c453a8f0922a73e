-- Usage from three sources in one table: agents (deduplicated on device + sequence),
-- CloudEvents from vendor back-ends (on tenant + source + id) and BrinkByte's batch
-- route (on tenant + a digest of the event). Each event is booked to a subscription at
-- ingestion; `invoiced_in` is set once, by the invoice that claims it, so an event that
-- arrives after its month was invoiced is claimed by the next invoice as late usage.
-- SQLite keeps `occurred_at` as fixed-width UTC text (`YYYY-MM-DDTHH:MM:SS.ffffffZ`),
-- so text order is time order and buckets are prefixes.
CREATE TABLE usage_records (
    tenant_id       TEXT        NOT NULL,
    subscription_id TEXT        NOT NULL REFERENCES subscriptions (id),
    device_id       TEXT        REFERENCES devices (id),
    seq             INTEGER,
    source          TEXT,
    event_id        TEXT,
    meter           TEXT        NOT NULL,
    quantity        INTEGER     NOT NULL,
    unit            TEXT,
    camera_id       TEXT,
    resource_id     TEXT,
    cost_minor      INTEGER,
    occurred_at     TEXT        NOT NULL,
    received_at     TEXT        NOT NULL,
    attributes      TEXT,
    rejection       TEXT,
    invoiced_in     TEXT,
    CHECK ((device_id IS NOT NULL AND seq IS NOT NULL) OR (source IS NOT NULL AND event_id IS NOT NULL))
);
CREATE UNIQUE INDEX usage_records_device_seq ON usage_records (device_id, seq);
CREATE UNIQUE INDEX usage_records_source_id ON usage_records (tenant_id, source, event_id);
CREATE INDEX usage_records_tenant_time ON usage_records (tenant_id, occurred_at);
CREATE INDEX usage_records_subscription_time ON usage_records (subscription_id, occurred_at);

INSERT INTO usage_records (tenant_id, subscription_id, device_id, seq, meter, quantity, unit, camera_id,
                           occurred_at, received_at, attributes, rejection)
SELECT u.tenant_id, d.subscription_id, u.device_id, u.seq, u.meter, u.quantity, u.unit, u.camera_id,
       strftime('%Y-%m-%dT%H:%M:%f000Z', u.occurred_at), u.received_at, u.attributes, u.rejection
FROM usage_events u JOIN devices d ON d.id = u.device_id;
DROP TABLE usage_events;

-- An issued invoice: the month it bills, and the document as it was issued.
CREATE TABLE invoices (
    subscription_id TEXT        NOT NULL REFERENCES subscriptions (id),
    period          TEXT        NOT NULL,
    tenant_id       TEXT        NOT NULL,
    issued_at       TEXT        NOT NULL,
    document        TEXT,
    PRIMARY KEY (subscription_id, period)
);

-- Devices remember when they left, so a month bills the devices it had.
ALTER TABLE devices ADD COLUMN deactivated_at TEXT       ;
