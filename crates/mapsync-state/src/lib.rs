//! The state store (ledger): what mapsync knows of each synced item, per
//! channel, entity and key — target id, hash of the document last synced,
//! sync date, last message (SyncMsg) and consecutive failures — plus a
//! journal of runs. SQLite (WAL) by default, at `sqlite:.mapsync/state.db`.
//!
//! This module stores and loads; it holds no business rules (it does not
//! decide whether an item needs a sync).
//!
//! # From async code
//!
//! [`Store`] is `Send` (not `Sync`): every call is a short blocking SQLite
//! call. The executor should either own it on one blocking thread, or share
//! it as a [`SharedStore`], whose `call` runs closures on Tokio's blocking
//! pool (`spawn_blocking`). Batch the outcomes of a chunk of items into one
//! [`Store::record_many`] call: one transaction per batch is what keeps the
//! ledger fast.

mod batches;
mod fields;
mod images;
pub mod migrations;
mod pool;
mod resolutions;
mod shared;
pub mod tmp;
mod uploads;
mod writebacks;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub use batches::{BatchLine, PendingBatch};
pub use pool::StorePool;
pub use resolutions::Resolution;
pub use shared::SharedStore;
pub use uploads::MAX_AGE as UPLOAD_MAX_AGE;

use mapsync_core::source::Entity;
use migrations::{APPLICATION_ID, LATEST, MIGRATIONS};

/// The state URL used when a profile has no `state:`.
pub const DEFAULT_URL: &str = "sqlite:.mapsync/state.db";

/// How long a call waits for another process's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the state store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The `state:` URL is not one mapsync can use.
    #[error("state URL `{url}`: {message}; {help}")]
    Url {
        /// The URL as written.
        url: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// The directory of the database cannot be created.
    #[error("cannot create the directory {path} for the state database: {error}; check the permissions or set `state:` to another place")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        error: std::io::Error,
    },
    /// Another process holds the database lock for longer than
    /// [`BUSY_TIMEOUT`].
    #[error("the state database {path} is locked by another process (waited {waited_ms} ms); wait for the other mapsync run to finish, or give this profile another `state:` file")]
    Locked {
        /// The database file.
        path: PathBuf,
        /// How long we waited.
        waited_ms: u128,
    },
    /// The file exists but is not a mapsync state database.
    #[error("{path} is not a mapsync state database ({reason}); point `state:` at another file, or move this one away")]
    NotMapsync {
        /// The database file.
        path: PathBuf,
        /// Why we think so.
        reason: String,
    },
    /// The database was written by a newer mapsync.
    #[error("the state database {path} has schema version {found}, but this mapsync knows versions up to {supported}; upgrade mapsync (or use another `state:` file)")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// What this binary knows.
        supported: u32,
    },
    /// The database cannot be written (read-only file or directory).
    #[error("the state database {path} is read-only; make it and its directory writable by the user running mapsync")]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// Any other SQLite failure.
    #[error("state database {path}: {action} failed: {error}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What we were doing.
        action: &'static str,
        /// SQLite's reason.
        error: rusqlite::Error,
    },
    /// A date cannot be written as RFC 3339.
    #[error("cannot store the date {date}: {error}")]
    Date {
        /// The date.
        date: String,
        /// Why.
        error: String,
    },
    /// A [`SharedStore`] call could not run (the blocking task panicked or
    /// the runtime is shutting down).
    #[error("state store task failed: {0}")]
    Task(String),
    /// The state database on a server (PostgreSQL, `mapsync-pgstate`)
    /// failed; `error` is that store's own error, whose message names the
    /// database by its redacted URL (never a password).
    #[error("{error}")]
    Server {
        /// What kind of failure, for the command's diagnostic code.
        kind: ServerFailure,
        /// The store's error.
        #[source]
        error: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// What kind of failure a state database on a server had
/// ([`StateError::Server`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFailure {
    /// The server cannot be reached, or refused the login.
    Unreachable,
    /// The environment variable that holds the password is not set.
    PasswordEnv,
    /// The URL cannot be used.
    Url,
    /// The database is not one this mapsync can use (another program's,
    /// or migrated by a newer mapsync).
    Schema,
    /// The server's disk is full.
    DiskFull,
    /// Any other failure of a statement.
    Other,
}

impl StateError {
    /// Whether the disk holding the state database (or the user's quota)
    /// is full: SQLite's `SQLITE_FULL`; `SQLITE_IOERR_SHMSIZE`, the WAL
    /// index that could not grow (how a full disk shows when the database
    /// is opened); or `ENOSPC` creating its folder.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StateError::Sqlite { error, .. } => matches!(
                error,
                rusqlite::Error::SqliteFailure(e, _)
                    if e.code == ErrorCode::DiskFull
                        || e.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE
            ),
            StateError::CreateDir { error, .. } => tmp::is_disk_full(error),
            StateError::Server { kind, .. } => *kind == ServerFailure::DiskFull,
            _ => false,
        }
    }
}

/// The ledger rows of one channel and entity, by key. Hashed with
/// foldhash (seeded per process): planning looks a million keys up.
pub type Ledger = HashMap<String, LedgerRow, foldhash::fast::RandomState>;

/// What the ledger knows of one item. Kept small: the planner loads
/// millions of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// The item's id in the target (SyncID), if it has one.
    pub target_id: Option<Box<str>>,
    /// [`mapsync_core::hash::content_hash`] of the document last synced.
    pub hash: Option<Box<str>>,
    /// When the item was last synced successfully (SyncDate).
    pub sync_date: Option<OffsetDateTime>,
    /// The last failure's message (SyncMsg); `None` after a success.
    pub message: Option<Box<str>>,
    /// Consecutive failures since the last success.
    pub attempts: u32,
}

/// One change to the ledger, for [`Store::record_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerUpdate {
    /// The item's entity.
    pub entity: Entity,
    /// The item's key (KeyField value).
    pub key: String,
    /// What happened.
    pub change: Change,
}

/// What happened to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Synced: the ledger takes the new id, hash and date; message and
    /// attempts are cleared, and so are the field hashes (what was written
    /// field by field is not known: no drift is seen until the next
    /// [`Change::Wrote`]).
    Success {
        /// The target id.
        target_id: String,
        /// Hash of the document synced.
        hash: String,
        /// The sync date.
        date: OffsetDateTime,
    },
    /// Synced, with the hash of each field written
    /// ([`mapsync_core::diff::written_hashes`]): as [`Change::Success`],
    /// and the ledger keeps the field hashes, against which drift is seen.
    Wrote {
        /// The target id.
        target_id: String,
        /// Hash of the document synced.
        hash: String,
        /// The sync date.
        date: OffsetDateTime,
        /// The hash of each field written, by diff path.
        fields: mapsync_core::diff::FieldHashes,
    },
    /// Failed (the field hashes are kept): the message is stored and attempts counted; the target id
    /// is kept when `None` (and set when known, e.g. created then failed).
    Failure {
        /// The target id if the item exists in the target.
        target_id: Option<String>,
        /// What went wrong (SyncMsg). Must not contain secrets.
        message: String,
    },
    /// The item was deleted from the target: its row goes.
    Forget,
}

/// The id of a run in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId(pub i64);

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (or the process died).
    Running,
    /// Every item succeeded.
    Ok,
    /// Finished, but some items failed or were invalid.
    Partial,
    /// Stopped by a fatal error.
    Failed,
}

impl RunStatus {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "ok" => RunStatus::Ok,
            "partial" => RunStatus::Partial,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Running,
        }
    }
}

/// One run in the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The profile that ran.
    pub profile: String,
    /// The channel it synced.
    pub channel: String,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// When it finished, if it did.
    pub finished_at: Option<OffsetDateTime>,
    /// How it ended.
    pub status: RunStatus,
    /// The run report's summary (counts), as given to [`Store::finish_run`].
    pub summary: Option<serde_json::Value>,
    /// What the sync manager kept of the run (requests, failed items, a
    /// fatal error), as given to [`Store::set_run_report`].
    pub report: Option<serde_json::Value>,
}

/// Where a state URL points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StateLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database: the URL as written (`postgres://` or
    /// `postgresql://`; it holds no password). `mapsync-pgstate` parses the
    /// rest when it connects; the engine reaches it through `mapsync-statedb`.
    Postgres(String),
}

/// Parses a `state:` URL; relative SQLite paths are taken from
/// `project_dir`. `sqlite:PATH` (also `sqlite://PATH`), or
/// `postgres://USER@HOST/DB?...` (also `postgresql://`).
pub fn parse_url(url: &str, project_dir: &Path) -> Result<StateLocation, StateError> {
    let bad = |message: &str, help: &str| StateError::Url {
        url: url.to_string(),
        message: message.to_string(),
        help: help.to_string(),
    };
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        if rest.is_empty() {
            return Err(bad(
                "the SQLite path is empty",
                "write `sqlite:.mapsync/state.db` (relative to the project directory)",
            ));
        }
        if rest == ":memory:" {
            return Err(bad(
                "an in-memory database would forget everything at exit",
                "use a file, e.g. `sqlite:.mapsync/state.db`",
            ));
        }
        let path = Path::new(rest);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            project_dir.join(path)
        };
        return Ok(StateLocation::Sqlite(path));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(StateLocation::Postgres(url.to_string()));
    }
    Err(bad(
        "unknown kind of state store",
        "use `sqlite:PATH`, e.g. `sqlite:.mapsync/state.db`, or `postgres://USER@HOST/DATABASE`",
    ))
}

/// The error of an SQLite-only API given a PostgreSQL URL.
pub(crate) fn not_sqlite(url: &str) -> StateError {
    StateError::Url {
        url: url.to_string(),
        message: "a PostgreSQL state store is not an SQLite file".to_string(),
        help: "open it through the state API (`mapsync_statedb::StatePool::for_url`)".to_string(),
    }
}

/// The SQLite state store. `Send`, not `Sync` (see the module docs).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    busy: Duration,
    /// The file it was opened on (see [`StorePool::take`]).
    file_id: Option<(u64, u64)>,
}

const LOAD_SQL: &str = "SELECT key, target_id, hash, sync_date, message, attempts \
     FROM ledger WHERE channel = ?1 AND entity = ?2";

const SUCCESS_SQL: &str = "INSERT INTO ledger \
     (channel, entity, key, target_id, hash, sync_date, message, attempts, updated_at, fields) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, ?7, ?8) \
     ON CONFLICT (channel, entity, key) DO UPDATE SET \
     target_id = excluded.target_id, hash = excluded.hash, sync_date = excluded.sync_date, \
     message = NULL, attempts = 0, updated_at = excluded.updated_at, fields = excluded.fields";

const FAILURE_SQL: &str = "INSERT INTO ledger \
     (channel, entity, key, target_id, hash, sync_date, message, attempts, updated_at) \
     VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5, 1, ?6) \
     ON CONFLICT (channel, entity, key) DO UPDATE SET \
     target_id = COALESCE(excluded.target_id, ledger.target_id), message = excluded.message, \
     attempts = ledger.attempts + 1, updated_at = excluded.updated_at";

const FORGET_SQL: &str = "DELETE FROM ledger WHERE channel = ?1 AND entity = ?2 AND key = ?3";

impl Store {
    /// Opens (creating if needed) the store a `state:` URL names.
    pub fn open_url(url: &str, project_dir: &Path) -> Result<Store, StateError> {
        match parse_url(url, project_dir)? {
            StateLocation::Sqlite(path) => Store::open(&path),
            StateLocation::Postgres(url) => Err(not_sqlite(&url)),
        }
    }

    /// Opens (creating if needed, with parent directories) an SQLite state
    /// database and migrates it to the latest schema.
    pub fn open(path: &Path) -> Result<Store, StateError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| StateError::CreateDir {
                path: parent.to_path_buf(),
                error,
            })?;
        }
        let path = path.to_path_buf();
        let conn =
            Connection::open(&path).map_err(|e| db_err(&path, BUSY_TIMEOUT, "opening", e))?;
        let mut store = Store {
            conn,
            path,
            busy: BUSY_TIMEOUT,
            file_id: None,
        };
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| db_err(&store.path, store.busy, "configuring", e))?;
        store.check_identity()?;
        // WAL lets `plan` read while a `sync` writes; NORMAL is durable
        // across application crashes (not power loss of the last commit).
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| db_err(&store.path, store.busy, "enabling WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %store.path.display(), mode = %mode, "state database is not in WAL mode");
        }
        store
            .conn
            // mmap: loading a million ledger rows reads the file through
            // the page cache instead of one read() per page.
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456;")
            .map_err(|e| db_err(&store.path, store.busy, "configuring", e))?;
        store.migrate()?;
        store.file_id = pool::file_id(&store.path);
        tracing::debug!(path = %store.path.display(), version = LATEST, "state database open");
        Ok(store)
    }

    /// How long calls wait for another process's lock (default
    /// [`BUSY_TIMEOUT`]) before failing with [`StateError::Locked`].
    pub fn set_busy_timeout(&mut self, wait: Duration) -> Result<(), StateError> {
        self.busy = wait;
        self.conn
            .busy_timeout(wait)
            .map_err(|e| db_err(&self.path, self.busy, "configuring", e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StateError> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_err(&self.path, self.busy, "reading the schema version", e))?;
        Ok(u32::try_from(v).unwrap_or(0))
    }

    fn check_identity(&self) -> Result<(), StateError> {
        let id: i32 = self
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| db_err(&self.path, self.busy, "reading the database header", e))?;
        if id != 0 && id != APPLICATION_ID {
            return Err(StateError::NotMapsync {
                path: self.path.clone(),
                reason: format!("its application id is {id:#x}"),
            });
        }
        Ok(())
    }

    /// Applies the missing migrations in one immediate transaction, so two
    /// processes opening a new database do not both migrate it.
    fn migrate(&mut self) -> Result<(), StateError> {
        let path = self.path.clone();
        let busy = self.busy;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| db_err(&path, busy, "starting the schema migration", e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_err(&path, busy, "reading the schema version", e))?;
        let id: i32 = tx
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| db_err(&path, busy, "reading the database header", e))?;
        if version > i64::from(LATEST) {
            return Err(StateError::TooNew {
                path,
                found: version,
                supported: LATEST,
            });
        }
        if id != APPLICATION_ID {
            let tables: i64 = tx
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| db_err(&path, busy, "reading the schema", e))?;
            if tables > 0 || version != 0 {
                return Err(StateError::NotMapsync {
                    path,
                    reason: "it holds tables of another program".into(),
                });
            }
        }
        let from = usize::try_from(version).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            tx.execute_batch(sql)
                .map_err(|e| db_err(&path, busy, "migrating the schema", e))?;
            tx.execute_batch(&format!(
                "PRAGMA user_version = {}; PRAGMA application_id = {APPLICATION_ID};",
                i + 1
            ))
            .map_err(|e| db_err(&path, busy, "migrating the schema", e))?;
            tracing::info!(path = %path.display(), version = i + 1, "migrated state database");
        }
        tx.commit()
            .map_err(|e| db_err(&path, busy, "committing the schema migration", e))
    }

    /// Every ledger row of `(channel, entity)`, by key.
    pub fn load(&self, channel: &str, entity: Entity) -> Result<Ledger, StateError> {
        let err = |e| db_err(&self.path, self.busy, "loading the ledger", e);
        let count: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM ledger WHERE channel = ?1 AND entity = ?2")
            .and_then(|mut st| st.query_row(params![channel, entity.as_str()], |r| r.get(0)))
            .map_err(err)?;
        let mut map = Ledger::with_capacity_and_hasher(
            usize::try_from(count).unwrap_or(0),
            Default::default(),
        );
        {
            let mut stmt = self.conn.prepare_cached(LOAD_SQL).map_err(err)?;
            let mut rows = stmt.query(params![channel, entity.as_str()]).map_err(err)?;
            while let Some(row) = rows.next().map_err(err)? {
                let key: String = row.get(0).map_err(err)?;
                let ledger_row = read_row(row, 1).map_err(err)?;
                map.insert(key, ledger_row);
            }
        }
        // The mapped file pages count as this process's memory while they
        // stay mapped: unmap them once the rows are read (the next load
        // maps the file again).
        if let Err(e) = self
            .conn
            .execute_batch("PRAGMA mmap_size = 0; PRAGMA mmap_size = 268435456;")
        {
            tracing::debug!(error = %e, "could not reset the ledger mapping");
        }
        Ok(map)
    }

    /// The ledger row of one item.
    pub fn get(
        &self,
        channel: &str,
        entity: Entity,
        key: &str,
    ) -> Result<Option<LedgerRow>, StateError> {
        self.conn
            .prepare_cached(
                "SELECT target_id, hash, sync_date, message, attempts FROM ledger \
                 WHERE channel = ?1 AND entity = ?2 AND key = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![channel, entity.as_str(), key], |r| read_row(r, 0))
                    .optional()
            })
            .map_err(|e| db_err(&self.path, self.busy, "reading the ledger", e))
    }

    /// The key and row of the item synced to `target_id`, if any.
    pub fn find_by_target(
        &self,
        channel: &str,
        entity: Entity,
        target_id: &str,
    ) -> Result<Option<(String, LedgerRow)>, StateError> {
        self.conn
            .prepare_cached(
                "SELECT key, target_id, hash, sync_date, message, attempts FROM ledger \
                 WHERE channel = ?1 AND entity = ?2 AND target_id = ?3 ORDER BY key LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![channel, entity.as_str(), target_id], |r| {
                    Ok((r.get(0)?, read_row(r, 1)?))
                })
                .optional()
            })
            .map_err(|e| db_err(&self.path, self.busy, "reading the ledger", e))
    }

    /// Records a successful sync of one item.
    pub fn record_success(
        &mut self,
        channel: &str,
        entity: Entity,
        key: &str,
        target_id: &str,
        hash: &str,
        date: OffsetDateTime,
    ) -> Result<(), StateError> {
        self.record_many(
            channel,
            &[LedgerUpdate {
                entity,
                key: key.to_string(),
                change: Change::Success {
                    target_id: target_id.to_string(),
                    hash: hash.to_string(),
                    date,
                },
            }],
        )
    }

    /// Records a failed sync of one item; keeps the known target id when
    /// `target_id` is `None`.
    pub fn record_failure(
        &mut self,
        channel: &str,
        entity: Entity,
        key: &str,
        target_id: Option<&str>,
        message: &str,
    ) -> Result<(), StateError> {
        self.record_many(
            channel,
            &[LedgerUpdate {
                entity,
                key: key.to_string(),
                change: Change::Failure {
                    target_id: target_id.map(str::to_string),
                    message: message.to_string(),
                },
            }],
        )
    }

    /// Removes the row of an item deleted from the target. Returns whether
    /// there was one.
    pub fn forget(&mut self, channel: &str, entity: Entity, key: &str) -> Result<bool, StateError> {
        let n = self
            .conn
            .prepare_cached(FORGET_SQL)
            .and_then(|mut s| s.execute(params![channel, entity.as_str(), key]))
            .map_err(|e| db_err(&self.path, self.busy, "updating the ledger", e))?;
        Ok(n > 0)
    }

    /// Applies many updates in one transaction: all or none.
    pub fn record_many(
        &mut self,
        channel: &str,
        updates: &[LedgerUpdate],
    ) -> Result<(), StateError> {
        self.record_many_with(channel, updates, None)
    }

    /// [`Store::record_many`], marking write-backs when `mark` says so.
    fn record_many_with(
        &mut self,
        channel: &str,
        updates: &[LedgerUpdate],
        mark: Option<&dyn Fn(Entity) -> bool>,
    ) -> Result<(), StateError> {
        let now = rfc3339(OffsetDateTime::now_utc())?;
        let path = self.path.clone();
        let busy = self.busy;
        let err = |e| db_err(&path, busy, "updating the ledger", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut success = tx.prepare_cached(SUCCESS_SQL).map_err(err)?;
            let mut failure = tx.prepare_cached(FAILURE_SQL).map_err(err)?;
            let mut forget = tx.prepare_cached(FORGET_SQL).map_err(err)?;
            for u in updates {
                let entity = u.entity.as_str();
                match &u.change {
                    Change::Success {
                        target_id,
                        hash,
                        date,
                    } => {
                        let date = rfc3339(*date)?;
                        let none: Option<String> = None;
                        success
                            .execute(params![
                                channel, entity, u.key, target_id, hash, date, now, none
                            ])
                            .map_err(err)?;
                    }
                    Change::Wrote {
                        target_id,
                        hash,
                        date,
                        fields,
                    } => {
                        let date = rfc3339(*date)?;
                        let fields = fields::to_text(fields);
                        success
                            .execute(params![
                                channel, entity, u.key, target_id, hash, date, now, fields
                            ])
                            .map_err(err)?;
                    }
                    Change::Failure { target_id, message } => {
                        failure
                            .execute(params![channel, entity, u.key, target_id, message, now])
                            .map_err(err)?;
                    }
                    Change::Forget => {
                        forget
                            .execute(params![channel, entity, u.key])
                            .map_err(err)?;
                    }
                }
                let marks =
                    !matches!(u.change, Change::Forget) && mark.is_some_and(|m| m(u.entity));
                if marks {
                    writebacks::mark(&tx, channel, u.entity, &u.key).map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)
    }

    /// Starts a run in the journal.
    pub fn begin_run(
        &mut self,
        profile: &str,
        channel: &str,
        started_at: OffsetDateTime,
    ) -> Result<RunId, StateError> {
        let started = rfc3339(started_at)?;
        self.conn
            .prepare_cached(
                "INSERT INTO runs (profile, channel, started_at, status) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    profile,
                    channel,
                    started,
                    RunStatus::Running.as_str()
                ])
            })
            .map_err(|e| db_err(&self.path, self.busy, "starting a run", e))?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Ends a run: its status and summary (the report's counts).
    pub fn finish_run(
        &mut self,
        run: RunId,
        finished_at: OffsetDateTime,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> Result<(), StateError> {
        let finished = rfc3339(finished_at)?;
        self.conn
            .prepare_cached(
                "UPDATE runs SET finished_at = ?2, status = ?3, summary = ?4 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    run.0,
                    finished,
                    status.as_str(),
                    summary.to_string()
                ])
            })
            .map_err(|e| db_err(&self.path, self.busy, "finishing a run", e))?;
        Ok(())
    }

    /// Forgets the runs of a profile beyond its newest `keep`, except the
    /// newest run that ended ok or partial and the newest such full read
    /// (incremental reads are decided from them, `read_history`). A
    /// manager syncing every 10 s journals 8,640 runs a day a profile:
    /// without this the journal grows forever. Returns the runs removed.
    pub fn prune_runs(&mut self, profile: &str, keep: usize) -> Result<usize, StateError> {
        // The id of the `keep`-th newest run: older ones go.
        let offset = i64::try_from(keep.max(1) - 1).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "DELETE FROM runs WHERE profile = ?1 \
                 AND id < (SELECT id FROM runs WHERE profile = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2) \
                 AND id IS NOT (SELECT max(id) FROM runs WHERE profile = ?1 AND status IN ('ok', 'partial')) \
                 AND id IS NOT (SELECT max(id) FROM runs WHERE profile = ?1 AND status IN ('ok', 'partial') AND full_read = 1)",
            )
            .and_then(|mut st| st.execute(params![profile, offset]))
            .map_err(|e| db_err(&self.path, self.busy, "pruning the run journal", e))
    }

    /// The id of the newest run of a profile, if any.
    pub fn last_run_id(&self, profile: &str) -> Result<Option<RunId>, StateError> {
        self.conn
            .query_row(
                "SELECT max(id) FROM runs WHERE profile = ?1",
                params![profile],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|id| id.map(RunId))
            .map_err(|e| db_err(&self.path, self.busy, "reading runs", e))
    }

    /// The id and start of the newest run of a profile, if any (what
    /// [`Self::recent_runs`] says of it, without reading its reports).
    pub fn last_run_started(
        &self,
        profile: &str,
    ) -> Result<Option<(RunId, OffsetDateTime)>, StateError> {
        let err = |e| db_err(&self.path, self.busy, "reading runs", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, started_at FROM runs WHERE profile = ?1 ORDER BY id DESC LIMIT 1",
            )
            .map_err(err)?;
        let mut rows = stmt.query(params![profile]).map_err(err)?;
        match rows.next().map_err(err)? {
            Some(row) => {
                let id: i64 = row.get(0).map_err(err)?;
                let started: String = row.get(1).map_err(err)?;
                Ok(Some((
                    RunId(id),
                    parse_date(&started).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                )))
            }
            None => Ok(None),
        }
    }

    /// Keeps the sync manager's view of a run (requests, failed items, a
    /// fatal error) with it.
    pub fn set_run_report(
        &mut self,
        run: RunId,
        report: &serde_json::Value,
    ) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE runs SET report = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![run.0, report.to_string()]))
            .map_err(|e| db_err(&self.path, self.busy, "recording a run report", e))?;
        Ok(())
    }

    /// Journals a run that stopped before it could journal itself (it could
    /// not connect or read): failed, with its report.
    pub fn record_failed_run(
        &mut self,
        profile: &str,
        channel: &str,
        started_at: OffsetDateTime,
        finished_at: OffsetDateTime,
        report: &serde_json::Value,
    ) -> Result<RunId, StateError> {
        let run = self.begin_run(profile, channel, started_at)?;
        self.finish_run(run, finished_at, RunStatus::Failed, &serde_json::json!({}))?;
        self.set_run_report(run, report)?;
        Ok(run)
    }

    /// The most recent runs of a profile, newest first.
    pub fn recent_runs(&self, profile: &str, limit: u32) -> Result<Vec<Run>, StateError> {
        let err = |e| db_err(&self.path, self.busy, "reading runs", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, profile, channel, started_at, finished_at, status, summary, report \
                 FROM runs WHERE profile = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![profile, limit], |r| {
                let started: String = r.get(3)?;
                let finished: Option<String> = r.get(4)?;
                let status: String = r.get(5)?;
                let summary: Option<String> = r.get(6)?;
                let report: Option<String> = r.get(7)?;
                Ok(Run {
                    id: RunId(r.get(0)?),
                    profile: r.get(1)?,
                    channel: r.get(2)?,
                    started_at: parse_date(&started).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    finished_at: finished.as_deref().and_then(parse_date),
                    status: RunStatus::parse(&status),
                    summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
                    report: report.and_then(|s| serde_json::from_str(&s).ok()),
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}

/// Reads `target_id, hash, sync_date, message, attempts` starting at column `at`.
fn read_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<LedgerRow> {
    let text = |i: usize| -> rusqlite::Result<Option<Box<str>>> {
        Ok(row.get_ref(at + i)?.as_str_or_null()?.map(Box::from))
    };
    let sync_date = match row.get_ref(at + 2)?.as_str_or_null()? {
        Some(s) => {
            let parsed = parse_date(s);
            if parsed.is_none() {
                tracing::warn!(date = %s, "ignoring an unreadable sync date in the ledger (the item will be synced)");
            }
            parsed
        }
        None => None,
    };
    let attempts: i64 = row.get(at + 4)?;
    Ok(LedgerRow {
        target_id: text(0)?,
        hash: text(1)?,
        sync_date,
        message: text(3)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

/// A date as the state store writes it (RFC 3339 in UTC, read without the
/// general parser when it has that exact form), or any RFC 3339 text. The
/// PostgreSQL store (`mapsync-pgstate`) keeps its dates in the same form
/// and reads them with this too.
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    parse_utc_fast(s.as_bytes()).or_else(|| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// The form this module writes, `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z`, parsed
/// without the general RFC 3339 parser (the planner loads a million rows).
/// Anything else returns `None` and goes to the general parser.
fn parse_utc_fast(b: &[u8]) -> Option<OffsetDateTime> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    let (head, rest) = (b.get(..19)?, b.get(19..)?);
    if head.get(4) != Some(&b'-')
        || head.get(7) != Some(&b'-')
        || head.get(10) != Some(&b'T')
        || head.get(13) != Some(&b':')
        || head.get(16) != Some(&b':')
    {
        return None;
    }
    let nanos = match rest {
        [b'Z'] => 0,
        [b'.', frac @ .., b'Z'] if (1..=9).contains(&frac.len()) => {
            num(frac)? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(num(head.get(0..4)?)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(head.get(5..7)?)?).ok()?).ok()?;
    let day = u8::try_from(num(head.get(8..10)?)?).ok()?;
    let hour = u8::try_from(num(head.get(11..13)?)?).ok()?;
    let minute = u8::try_from(num(head.get(14..16)?)?).ok()?;
    let second = u8::try_from(num(head.get(17..19)?)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let time = time::Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(date.with_time(time).assume_utc())
}

/// A date as RFC 3339 in UTC.
fn rfc3339(date: OffsetDateTime) -> Result<String, StateError> {
    date.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| StateError::Date {
            date: date.to_string(),
            error: e.to_string(),
        })
}

fn db_err(path: &Path, busy: Duration, action: &'static str, error: rusqlite::Error) -> StateError {
    let path = path.to_path_buf();
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StateError::Locked {
            path,
            waited_ms: busy.as_millis(),
        },
        Some(ErrorCode::NotADatabase) => StateError::NotMapsync {
            path,
            reason: "it is not an SQLite database".into(),
        },
        Some(ErrorCode::ReadOnly) => StateError::ReadOnly { path },
        _ => StateError::Sqlite {
            path,
            action,
            error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_date_parsing_agrees_with_the_general_parser() {
        for s in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.5Z",
            "2026-12-31T23:59:59.123456789Z",
            "1999-02-28T00:00:00.000100Z",
            "2024-02-29T12:00:00Z",
        ] {
            let general = OffsetDateTime::parse(s, &Rfc3339).unwrap();
            assert_eq!(parse_utc_fast(s.as_bytes()), Some(general), "{s}");
        }
        for s in [
            "2026-01-02T03:04:05+01:00",
            "2026-02-30T03:04:05Z",
            "2026-01-02 03:04:05Z",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05.1234567890Z",
            "2026-01-02T03:04:60Z",
            "20x6-01-02T03:04:05Z",
            "",
        ] {
            assert_eq!(parse_utc_fast(s.as_bytes()), None, "{s}");
        }
        // Offsets still parse, through the general parser.
        assert_eq!(
            parse_date("2026-01-02T04:04:05+01:00"),
            parse_date("2026-01-02T03:04:05Z")
        );
    }
}
