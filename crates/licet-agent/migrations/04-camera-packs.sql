-- Growth packs bought per camera, and the cameras they are assigned to: a check for a
-- camera allows a pack's features only on the cameras that hold the pack. Removing a
-- camera frees its packs.
CREATE TABLE IF NOT EXISTS camera_packs (
    camera_id TEXT NOT NULL,
    pack TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (camera_id, pack)
);
CREATE INDEX IF NOT EXISTS camera_packs_by_pack ON camera_packs (pack);
