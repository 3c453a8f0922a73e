-- The camera-days each per-camera growth pack was assigned: one `camera_day.<pack>`
-- event per camera holding the pack per UTC day, recorded exactly once (this table
-- makes it idempotent, as `camera_days` does for `camera_day`), so the invoice bills
-- the camera-days a pack was assigned.
CREATE TABLE IF NOT EXISTS camera_pack_days (
    camera_id TEXT NOT NULL,
    pack TEXT NOT NULL,
    day TEXT NOT NULL,
    PRIMARY KEY (camera_id, pack, day)
);
