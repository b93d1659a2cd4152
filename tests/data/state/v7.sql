-- A state database as mapsync wrote it at schema version 7 (before the
-- `mapsync resolve` choices of version 8), with a few rows.
CREATE TABLE ledger (
    channel    TEXT NOT NULL,
    entity     TEXT NOT NULL,
    key        TEXT NOT NULL,
    target_id  TEXT,
    hash       TEXT,
    sync_date  TEXT,
    message    TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, entity, key)
) WITHOUT ROWID;
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    profile     TEXT NOT NULL,
    channel     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    summary     TEXT
);
CREATE INDEX ledger_by_target ON ledger (channel, entity, target_id)
    WHERE target_id IS NOT NULL;
CREATE INDEX runs_by_profile ON runs (profile, id);
CREATE TABLE uploads (
    channel      TEXT NOT NULL,
    hash         TEXT NOT NULL,
    location     TEXT NOT NULL,
    uploaded_at  TEXT NOT NULL,
    PRIMARY KEY (channel, hash)
) WITHOUT ROWID;
CREATE TABLE batches (
    channel      TEXT NOT NULL,
    handle       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    keys         TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (channel, handle)
) WITHOUT ROWID;
CREATE TABLE writebacks (
    channel TEXT NOT NULL,
    entity  TEXT NOT NULL,
    key     TEXT NOT NULL,
    PRIMARY KEY (channel, entity, key)
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN full_read INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN report TEXT;
CREATE TABLE image_publish (
    channel TEXT NOT NULL,
    item    TEXT NOT NULL,
    outcome TEXT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (channel, item)
) WITHOUT ROWID;
ALTER TABLE ledger ADD COLUMN fields TEXT;
INSERT INTO ledger VALUES ('eu', 'product', 'A1', 'gid://shopify/Product/1', 'sha256:aa', '2026-01-02T03:04:05Z', NULL, 0, '2026-01-02T03:04:05Z', 'title:0a1b2c3d4e5f6a7b,vendor:1122334455667788');
INSERT INTO ledger VALUES ('eu', 'product', 'A2', 'gid://shopify/Product/2', NULL, NULL, 'price must be a number', 2, '2026-01-02T03:04:06Z', NULL);
INSERT INTO ledger VALUES ('eu', 'category', 'C1', 'gid://shopify/Collection/9', 'sha256:cc', '2026-01-01T00:00:00Z', NULL, 0, '2026-01-01T00:00:00Z', NULL);
INSERT INTO ledger VALUES ('us', 'product', 'A1', 'gid://shopify/Product/77', 'sha256:dd', '2026-01-03T00:00:00Z', NULL, 0, '2026-01-03T00:00:00Z', NULL);
INSERT INTO runs VALUES (1, 'shop-eu', 'eu', '2026-01-02T03:00:00Z', '2026-01-02T03:05:00Z', 'partial', '{"created":1,"failed":1}', 1, NULL);
PRAGMA application_id = 1836284270;
PRAGMA user_version = 7;
