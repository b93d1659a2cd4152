-- The choices of `mapsync resolve` (SQLite's schema version 8): for a
-- field flowing both ways with `conflict: manual`, the side a person
-- picked per channel, entity, item key and field (its diff path), when it
-- was recorded (RFC 3339 text in UTC, as every date here) and the field
-- hashes of the two values it was made for, when known. A choice replaces
-- an earlier one for the same field; a run clears those it applied.
CREATE TABLE resolutions (
    channel     TEXT COLLATE "C" NOT NULL,
    entity      TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    field       TEXT COLLATE "C" NOT NULL,
    take        TEXT NOT NULL,
    recorded_at TEXT COLLATE "C" NOT NULL,
    source_hash TEXT,
    target_hash TEXT,
    PRIMARY KEY (channel, entity, key, field)
);
