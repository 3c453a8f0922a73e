-- Usage events uploaded by devices, deduplicated on (device, sequence). Rejected events
-- are kept with their reason (and acknowledged), so a device never resends them and an
-- operator can see what was refused; totals leave them out.
ALTER TABLE devices ADD COLUMN usage_acked INTEGER NOT NULL DEFAULT 0;

CREATE TABLE usage_events (
    tenant_id   TEXT    NOT NULL,
    device_id   TEXT    NOT NULL REFERENCES devices (id),
    seq         INTEGER NOT NULL,
    meter       TEXT    NOT NULL,
    quantity    INTEGER NOT NULL,
    unit        TEXT,
    camera_id   TEXT,
    occurred_at TEXT    NOT NULL,
    received_at TEXT    NOT NULL,
    attributes  TEXT,
    rejection   TEXT,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX usage_events_tenant_time ON usage_events (tenant_id, occurred_at);
