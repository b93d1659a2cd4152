-- Files uploaded by content hash, batch imports not yet recorded,
-- write-backs not yet acknowledged and the image publish progress:
-- SQLite's schema versions 3, 4 and 6.
CREATE TABLE uploads (
    channel     TEXT COLLATE "C" NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL,
    location    TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (channel, hash)
);

CREATE TABLE batches (
    channel      TEXT COLLATE "C" NOT NULL,
    handle       TEXT COLLATE "C" NOT NULL,
    entity       TEXT COLLATE "C" NOT NULL,
    -- One JSON entry per line, in line-number order.
    keys         TEXT NOT NULL,
    submitted_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (channel, handle)
);

CREATE TABLE writebacks (
    channel TEXT COLLATE "C" NOT NULL,
    entity  TEXT COLLATE "C" NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (channel, entity, key)
);

CREATE TABLE image_publish (
    channel TEXT COLLATE "C" NOT NULL,
    item    TEXT COLLATE "C" NOT NULL,
    outcome TEXT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (channel, item)
);
