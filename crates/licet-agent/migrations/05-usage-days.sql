-- Usage recorded per meter and UTC day, kept after the events are uploaded: what the
-- products' screens show of a period (bbVision's usage summary). The server's count is
-- the bill; this is the device's own account.
CREATE TABLE IF NOT EXISTS usage_days (
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (kind, day)
);
