//! The schema of the state database as an ordered list of SQL migrations.
//! `PRAGMA user_version` holds how many have been applied; `PRAGMA
//! application_id` marks the file as a mapsync database. Migrations are
//! append-only: never edit a released one, add the next.

/// `PRAGMA application_id` of mapsync state databases ("msyn").
pub const APPLICATION_ID: i32 = 0x6D73_796E;

/// The migrations, in order; migration `i` takes the schema from version
/// `i` to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the ledger and the run journal.
    r#"
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
    "#,
    // 2: lookups by target id (deletes, SyncID checks) and recent runs.
    r#"
    CREATE INDEX ledger_by_target ON ledger (channel, entity, target_id)
        WHERE target_id IS NOT NULL;
    CREATE INDEX runs_by_profile ON runs (profile, id);
    "#,
    // 3: files uploaded to a target by content hash (embedded images are
    // uploaded once) and batch writes submitted to a target and not yet
    // recorded (a killed run takes their results instead of resubmitting).
    r#"
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
    "#,
    // 4: write-backs to the source not yet acknowledged (sent again until
    // they are), and whether a run read its source in full (incremental
    // reads need the last full read and the last successful run).
    r#"
    CREATE TABLE writebacks (
        channel TEXT NOT NULL,
        entity  TEXT NOT NULL,
        key     TEXT NOT NULL,
        PRIMARY KEY (channel, entity, key)
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN full_read INTEGER NOT NULL DEFAULT 1;
    "#,
    // 5: what `mapsync run` keeps of a run beyond its counts: requests,
    // throttled answers, the failed items with their SyncMsg, a fatal
    // error (JSON; `/api/runs`, `mapsync runs`, the status page).
    r#"
    ALTER TABLE runs ADD COLUMN report TEXT;
    "#,
    // 6: the image round trip's publish progress: each manifest line's
    // action once done (a killed publish resumes after the last one).
    r#"
    CREATE TABLE image_publish (
        channel TEXT NOT NULL,
        item    TEXT NOT NULL,
        outcome TEXT NOT NULL,
        done_at TEXT NOT NULL,
        PRIMARY KEY (channel, item)
    ) WITHOUT ROWID;
    "#,
    // 7: the hash of each field mapsync last wrote to an item (`key:hash`
    // pairs by diff path, `fields.rs`): drift, a field someone changed in
    // the target since, is seen against it.
    r#"
    ALTER TABLE ledger ADD COLUMN fields TEXT;
    "#,
    // 8: the choices of `mapsync resolve` for fields flowing both ways
    // with `conflict: manual` (`resolutions.rs`): the side taken, when,
    // and the hashes of the two values it was made for, when known.
    r#"
    CREATE TABLE resolutions (
        channel     TEXT NOT NULL,
        entity      TEXT NOT NULL,
        key         TEXT NOT NULL,
        field       TEXT NOT NULL,
        take        TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        source_hash TEXT,
        target_hash TEXT,
        PRIMARY KEY (channel, entity, key, field)
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this binary writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;
