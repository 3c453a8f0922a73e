-- The schema of the first release, which had no schema version: every statement is
-- IF NOT EXISTS, so a database that release wrote is adopted as version 1 unchanged.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS license (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    armored   TEXT NOT NULL,
    sequence  INTEGER NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cameras (
    camera_id           TEXT PRIMARY KEY,
    name                TEXT,
    first_registered_at TEXT NOT NULL,
    registered          INTEGER NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quota_usage (
    feature TEXT NOT NULL,
    period  TEXT NOT NULL,
    used    INTEGER NOT NULL,
    PRIMARY KEY (feature, period)
);
CREATE TABLE IF NOT EXISTS usage_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    unit        TEXT,
    camera_id   TEXT,
    occurred_at TEXT NOT NULL,
    attributes  TEXT
);
CREATE TABLE IF NOT EXISTS camera_days (
    camera_id TEXT NOT NULL,
    day       TEXT NOT NULL,
    PRIMARY KEY (camera_id, day)
);
