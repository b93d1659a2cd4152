//! The state API: one async handle ([`StateDb`]) over the two state
//! stores, with a named method per operation, and the connections of one
//! database ([`StatePool`]) that a run takes its handles from.
//!
//! * **SQLite** (`sqlite:PATH`, `mapsync-state`): a [`StateDb`] is one
//!   connection ([`SharedStore`]) whose calls run one at a time, on the
//!   calling thread when its runtime is a current-thread one (a command's,
//!   a manager's run worker's) and else on Tokio's blocking pool (and the
//!   ledger writer's batches always there); the [`StatePool`] keeps idle
//!   connections between runs ([`StorePool`]), as the engine always did.
//! * **PostgreSQL** (`postgres://...`, `mapsync-pgstate`): a [`StateDb`] is
//!   a clone of one [`PgState`], a `sqlx` pool shared by every handle of
//!   the database, connected (and migrated, under the migration lock) on
//!   first use. Its statements run on the runtime the pool was made on
//!   (the one the pool was created in, else the first that used it): the
//!   sync manager runs its runs on threads with runtimes of their own, and
//!   a connection's socket belongs to the runtime that opened it.
//!
//! The engine, the image round trip and the sync manager only call these
//! methods; neither SQL nor a store's concrete type appears in them. Both
//! stores give the same values (`mapsync-state`'s types) and the same
//! error type ([`StateError`]; a PostgreSQL failure is its `Server`
//! variant, with its kind).

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::runtime::Handle;

use mapsync_core::source::Entity;
use mapsync_pgstate::{PgStateError, PgStore, PgUrl};
pub use mapsync_state::{
    BatchLine, Change, Ledger, LedgerRow, LedgerUpdate, PendingBatch, Resolution, Run, RunId,
    RunStatus, ServerFailure, SharedStore, StateError, StateLocation, Store, StorePool,
    UPLOAD_MAX_AGE,
};

/// The connections of one state database: take a [`StateDb`] for a while,
/// give it back when done. Cloning shares them.
#[derive(Debug, Clone)]
pub enum StatePool {
    /// An SQLite file: idle connections kept between uses.
    Sqlite(StorePool),
    /// A PostgreSQL database: one pool, shared by every handle.
    Postgres(PgState),
}

impl StatePool {
    /// The connections of the database a `state:` URL names (relative
    /// SQLite paths from `project_dir`); an SQLite pool keeps at most
    /// `max_idle` idle connections. Opens nothing yet (a PostgreSQL URL is
    /// parsed, so a malformed one is refused here).
    pub fn for_url(
        url: &str,
        project_dir: &Path,
        max_idle: usize,
    ) -> Result<StatePool, StateError> {
        StatePool::for_location(&mapsync_state::parse_url(url, project_dir)?, max_idle)
    }

    /// [`Self::for_url`] for a URL parsed already.
    pub fn for_location(
        location: &StateLocation,
        max_idle: usize,
    ) -> Result<StatePool, StateError> {
        match location {
            StateLocation::Sqlite(path) => Ok(StatePool::Sqlite(StorePool::new(path, max_idle))),
            StateLocation::Postgres(url) => Ok(StatePool::Postgres(PgState::new(url)?)),
        }
    }

    /// A handle to the database: an idle SQLite connection (or a new one,
    /// opened and migrated now), or the PostgreSQL pool.
    pub fn take(&self) -> Result<StateDb, StateError> {
        match self {
            StatePool::Sqlite(pool) => Ok(StateDb::Sqlite(SharedStore::new(pool.take()?))),
            StatePool::Postgres(pg) => Ok(StateDb::Postgres(pg.clone())),
        }
    }

    /// Gives a handle back. An SQLite connection is kept for a later
    /// [`Self::take`] when this was its last handle (see
    /// [`StorePool::give`]); a PostgreSQL handle needs nothing.
    pub fn give(&self, db: StateDb) {
        if let (StatePool::Sqlite(pool), StateDb::Sqlite(shared)) = (self, db) {
            if let Some(store) = shared.into_inner() {
                pool.give(store);
            }
        }
    }

    /// The database, for messages: the SQLite file, or the redacted URL.
    pub fn describe(&self) -> String {
        match self {
            StatePool::Sqlite(pool) => pool.path().display().to_string(),
            StatePool::Postgres(pg) => pg.url().to_string(),
        }
    }

    /// Whether the database exists already (a PostgreSQL one is assumed
    /// to: it is the server's).
    pub fn exists(&self) -> bool {
        match self {
            StatePool::Sqlite(pool) => pool.path().exists(),
            StatePool::Postgres(_) => true,
        }
    }

    /// Connects (and migrates) now when the database is on a server and
    /// has not been yet, so that its failure comes before anything else
    /// of a command; nothing for SQLite (a connection opens when taken).
    pub async fn connect(&self) -> Result<(), StateError> {
        match self {
            StatePool::Sqlite(_) => Ok(()),
            StatePool::Postgres(pg) => pg.connect().await,
        }
    }

    /// Closes what is open and not idle-kept for a later use: the
    /// PostgreSQL pool's connections (each says goodbye to the server,
    /// which otherwise logs a lost connection). SQLite connections close
    /// when dropped. For a command at its end; a later use connects again.
    pub async fn close(&self) {
        if let StatePool::Postgres(pg) = self {
            pg.close().await;
        }
    }

    /// The runs of `profile`, newest first, from a thread that may block
    /// (not a runtime's worker): SQLite on this thread, PostgreSQL on the
    /// pool's runtime (or, with none yet, a runtime of this call's own).
    pub fn recent_runs_blocking(&self, profile: &str, limit: u32) -> Result<Vec<Run>, StateError> {
        match self {
            StatePool::Sqlite(pool) => pool.with(|s| s.recent_runs(profile, limit)),
            StatePool::Postgres(pg) => {
                let profile = profile.to_owned();
                pg.block_on(move |s| async move { s.recent_runs(&profile, limit).await })
            }
        }
    }
}

/// The PostgreSQL state database of a URL: connected and migrated on first
/// use, then shared by every clone (see the module docs for the runtime
/// its statements run on). `Debug` shows only the redacted URL.
#[derive(Clone)]
pub struct PgState {
    inner: Arc<PgInner>,
}

struct PgInner {
    /// The URL as written (it holds no password: such URLs are refused).
    raw: String,
    /// The URL for messages.
    shown: String,
    /// The runtime the pool lives on.
    home: OnceLock<Handle>,
    /// The connected store.
    store: tokio::sync::OnceCell<PgStore>,
}

impl std::fmt::Debug for PgState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgState")
            .field("url", &self.inner.shown)
            .finish()
    }
}

impl PgState {
    /// The database of a `postgres://` URL (parsed now, connected on first
    /// use). Its runtime is the current one, if any.
    pub fn new(url: &str) -> Result<PgState, StateError> {
        let parsed = PgUrl::parse(url)?;
        let home = OnceLock::new();
        if let Ok(h) = Handle::try_current() {
            let _ = home.set(h);
        }
        Ok(PgState {
            inner: Arc::new(PgInner {
                raw: url.to_owned(),
                shown: parsed.redacted(),
                home,
                store: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The URL without secrets.
    pub fn url(&self) -> &str {
        &self.inner.shown
    }

    /// Connects and migrates now (the first call does; later ones find the
    /// pool): a command that wants its state database's failure before
    /// anything else calls it first.
    pub async fn connect(&self) -> Result<(), StateError> {
        self.with(|_| async { Ok(()) }).await
    }

    /// Closes the pool's connections, if it connected (on its runtime).
    pub async fn close(&self) {
        let Some(home) = self.inner.home.get().cloned() else {
            return;
        };
        let inner = self.inner.clone();
        let _ = home
            .spawn(async move {
                if let Some(store) = inner.store.get() {
                    store.close().await;
                }
            })
            .await;
    }

    /// Runs `f` with the connected store on the pool's runtime.
    async fn with<T, F, Fut>(&self, f: F) -> Result<T, StateError>
    where
        F: FnOnce(PgStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, PgStateError>> + Send + 'static,
        T: Send + 'static,
    {
        let home = match self.inner.home.get() {
            Some(h) => h.clone(),
            None => {
                let current = Handle::try_current().map_err(|e| StateError::Task(e.to_string()))?;
                self.inner.home.get_or_init(|| current).clone()
            }
        };
        let inner = self.inner.clone();
        home.spawn(async move {
            let store = inner
                .store
                .get_or_try_init(|| PgStore::connect(&inner.raw))
                .await?
                .clone();
            f(store).await
        })
        .await
        .map_err(|e| StateError::Task(e.to_string()))?
        .map_err(StateError::from)
    }

    /// [`Self::with`] from a thread that may block.
    fn block_on<T, F, Fut>(&self, f: F) -> Result<T, StateError>
    where
        F: FnOnce(PgStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, PgStateError>> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(home) = self.inner.home.get() {
            return home.block_on(self.with(f));
        }
        // No runtime holds the pool: connect for this call only.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StateError::Task(e.to_string()))?;
        let url = self.inner.raw.clone();
        rt.block_on(async move {
            let store = PgStore::connect(&url).await?;
            let result = f(store.clone()).await;
            store.close().await;
            result
        })
        .map_err(StateError::from)
    }
}

/// One handle to the state database, for async code: a named method per
/// operation of the state store. Cloning shares the connection (SQLite)
/// or the pool (PostgreSQL).
#[derive(Debug, Clone)]
pub enum StateDb {
    /// One SQLite connection (calls: see the `dispatch!` macro).
    Sqlite(SharedStore),
    /// The PostgreSQL pool.
    Postgres(PgState),
}

/// Whether this thread's runtime is a current-thread one (the sync
/// manager's run workers, a command's runtime): its thread may block, and
/// a short SQLite call runs on it rather than on the blocking pool, whose
/// threads would otherwise stay alive between a manager's runs (issue 13:
/// three threads, 2.7 MB, for nothing). The ledger writer's batches
/// ([`StateDb::record_many`]) still go to the blocking pool, so that a
/// run's requests go on while a batch commits.
fn may_block_here() -> bool {
    Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}

/// The same call on either store: `$call` is an expression over `$s`, the
/// store (`&mut Store`, or a `PgStore` whose call is awaited); the
/// captured values are moved in. SQLite calls run on this thread when it
/// may block ([`may_block_here`]), else on the blocking pool.
macro_rules! dispatch {
    ($self:ident, |$s:ident| $call:expr) => {
        match $self {
            StateDb::Sqlite(shared) if may_block_here() => shared.call_here(move |$s| $call),
            StateDb::Sqlite(shared) => shared.call(move |$s| $call).await,
            StateDb::Postgres(pg) => pg.with(move |$s| async move { $call.await }).await,
        }
    };
}

impl StateDb {
    /// A handle over one SQLite connection.
    pub fn sqlite(store: Store) -> StateDb {
        StateDb::Sqlite(SharedStore::new(store))
    }

    /// The handle of a profile's `state:` URL (relative SQLite paths from
    /// `project_dir`): an SQLite file opened (and migrated) now, or the
    /// PostgreSQL database, connected on first use.
    pub fn open_url(url: &str, project_dir: &Path) -> Result<StateDb, StateError> {
        match mapsync_state::parse_url(url, project_dir)? {
            StateLocation::Sqlite(path) => Ok(StateDb::sqlite(Store::open(&path)?)),
            StateLocation::Postgres(url) => Ok(StateDb::Postgres(PgState::new(&url)?)),
        }
    }

    /// Connects now when the database is on a server (an SQLite handle is
    /// open already): its failure comes before anything else.
    pub async fn connect(&self) -> Result<(), StateError> {
        match self {
            StateDb::Sqlite(_) => Ok(()),
            StateDb::Postgres(pg) => pg.connect().await,
        }
    }

    /// Closes the PostgreSQL pool's connections (see [`StatePool::close`]);
    /// nothing for SQLite (closed when the last handle goes).
    pub async fn close(&self) {
        if let StateDb::Postgres(pg) = self {
            pg.close().await;
        }
    }

    // ----- the ledger -----

    /// The ledger rows of `channel` and `entity`, by key.
    pub async fn load(&self, channel: &str, entity: Entity) -> Result<Ledger, StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.load(&channel, entity))
    }

    /// What the ledger knows of one item.
    pub async fn get(
        &self,
        channel: &str,
        entity: Entity,
        key: &str,
    ) -> Result<Option<LedgerRow>, StateError> {
        let (channel, key) = (channel.to_owned(), key.to_owned());
        dispatch!(self, |s| s.get(&channel, entity, &key))
    }

    /// The hash of each field mapsync last wrote to the items of `keys`
    /// that have them, by key (drift; `mapsync-state`'s `fields`).
    pub async fn field_hashes(
        &self,
        channel: &str,
        entity: Entity,
        keys: Vec<String>,
    ) -> Result<std::collections::HashMap<String, mapsync_core::diff::FieldHashes>, StateError>
    {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.field_hashes(&channel, entity, &keys))
    }

    /// Applies `updates` in order, in one transaction; gives them back
    /// (for what follows their commit).
    pub async fn record_many(
        &self,
        channel: &str,
        updates: Vec<LedgerUpdate>,
    ) -> Result<Vec<LedgerUpdate>, StateError> {
        let channel = channel.to_owned();
        match self {
            StateDb::Sqlite(shared) => {
                shared
                    .call(move |s| s.record_many(&channel, &updates).map(|()| updates))
                    .await
            }
            StateDb::Postgres(pg) => {
                pg.with(move |s| async move {
                    s.record_many(&channel, &updates).await.map(|()| updates)
                })
                .await
            }
        }
    }

    /// [`Self::record_many`], marking the write-back of each success or
    /// failure of an entity in `marked` pending in the same transaction.
    pub async fn record_many_marking(
        &self,
        channel: &str,
        updates: Vec<LedgerUpdate>,
        marked: Arc<BTreeSet<Entity>>,
    ) -> Result<Vec<LedgerUpdate>, StateError> {
        let channel = channel.to_owned();
        match self {
            StateDb::Sqlite(shared) => {
                shared
                    .call(move |s| {
                        s.record_many_marking(&channel, &updates, &|e| marked.contains(&e))
                            .map(|()| updates)
                    })
                    .await
            }
            StateDb::Postgres(pg) => {
                pg.with(move |s| async move {
                    s.record_many_marking(&channel, &updates, &|e| marked.contains(&e))
                        .await
                        .map(|()| updates)
                })
                .await
            }
        }
    }

    // ----- the run journal -----

    /// Journals a run that starts.
    pub async fn begin_run(
        &self,
        profile: &str,
        channel: &str,
        started_at: OffsetDateTime,
    ) -> Result<RunId, StateError> {
        let (profile, channel) = (profile.to_owned(), channel.to_owned());
        dispatch!(self, |s| s.begin_run(&profile, &channel, started_at))
    }

    /// Whether the run read every entity in full (incremental reads).
    pub async fn set_full_read(&self, run: RunId, full: bool) -> Result<(), StateError> {
        dispatch!(self, |s| s.set_full_read(run, full))
    }

    /// Journals the end of a run.
    pub async fn finish_run(
        &self,
        run: RunId,
        finished_at: OffsetDateTime,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> Result<(), StateError> {
        let summary = summary.clone();
        dispatch!(self, |s| s.finish_run(run, finished_at, status, &summary))
    }

    /// Keeps the `keep` newest runs of `profile` (and the last ok and last
    /// full read ones); returns how many were removed.
    pub async fn prune_runs(&self, profile: &str, keep: usize) -> Result<usize, StateError> {
        let profile = profile.to_owned();
        dispatch!(self, |s| s.prune_runs(&profile, keep))
    }

    /// The newest run of `profile`.
    pub async fn last_run_id(&self, profile: &str) -> Result<Option<RunId>, StateError> {
        let profile = profile.to_owned();
        dispatch!(self, |s| s.last_run_id(&profile))
    }

    /// The newest run of `profile` and when it started.
    pub async fn last_run_started(
        &self,
        profile: &str,
    ) -> Result<Option<(RunId, OffsetDateTime)>, StateError> {
        let profile = profile.to_owned();
        dispatch!(self, |s| s.last_run_started(&profile))
    }

    /// Keeps the sync manager's report with a run.
    pub async fn set_run_report(
        &self,
        run: RunId,
        report: &serde_json::Value,
    ) -> Result<(), StateError> {
        let report = report.clone();
        dispatch!(self, |s| s.set_run_report(run, &report))
    }

    /// Journals a run that stopped before the engine journaled it.
    pub async fn record_failed_run(
        &self,
        profile: &str,
        channel: &str,
        started_at: OffsetDateTime,
        finished_at: OffsetDateTime,
        report: &serde_json::Value,
    ) -> Result<RunId, StateError> {
        let (profile, channel, report) = (profile.to_owned(), channel.to_owned(), report.clone());
        dispatch!(self, |s| s.record_failed_run(
            &profile,
            &channel,
            started_at,
            finished_at,
            &report
        ))
    }

    /// The `limit` newest runs of `profile`.
    pub async fn recent_runs(&self, profile: &str, limit: u32) -> Result<Vec<Run>, StateError> {
        let profile = profile.to_owned();
        dispatch!(self, |s| s.recent_runs(&profile, limit))
    }

    /// When the last finished run of `profile` started, and the last one
    /// that read in full.
    pub async fn read_history(
        &self,
        profile: &str,
    ) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), StateError> {
        let profile = profile.to_owned();
        dispatch!(self, |s| s.read_history(&profile))
    }

    // ----- batch imports -----

    /// Records a batch import submitted, with its lines.
    pub async fn record_batch(
        &self,
        channel: &str,
        handle: &str,
        entity: Entity,
        lines: Vec<BatchLine>,
        at: OffsetDateTime,
    ) -> Result<(), StateError> {
        let (channel, handle) = (channel.to_owned(), handle.to_owned());
        dispatch!(self, |s| s
            .record_batch(&channel, &handle, entity, &lines, at))
    }

    /// The batch imports of `channel` submitted and not yet recorded.
    pub async fn pending_batches(&self, channel: &str) -> Result<Vec<PendingBatch>, StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.pending_batches(&channel))
    }

    /// Forgets a batch import whose outcomes are in the ledger.
    pub async fn forget_batch(&self, channel: &str, handle: &str) -> Result<bool, StateError> {
        let (channel, handle) = (channel.to_owned(), handle.to_owned());
        dispatch!(self, |s| s.forget_batch(&channel, &handle))
    }

    // ----- write-backs -----

    /// Up to `limit` pending write-backs of `channel` and `entity` with
    /// keys after `after`, in key order, with their ledger rows.
    pub async fn pending_writebacks(
        &self,
        channel: &str,
        entity: Entity,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, LedgerRow)>, StateError> {
        let (channel, after) = (channel.to_owned(), after.map(str::to_owned));
        dispatch!(self, |s| s.pending_writebacks(
            &channel,
            entity,
            after.as_deref(),
            limit
        ))
    }

    /// How many write-backs of `channel` are pending.
    pub async fn pending_writeback_count(&self, channel: &str) -> Result<u64, StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.pending_writeback_count(&channel))
    }

    /// Clears the write-back marks of `keys` (the source took them).
    pub async fn writebacks_done(
        &self,
        channel: &str,
        entity: Entity,
        keys: Vec<String>,
    ) -> Result<(), StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.writebacks_done(&channel, entity, &keys))
    }

    // ----- uploads -----

    /// Where the file of content key `hash` was uploaded, unless older
    /// than `max_age`.
    pub async fn upload_location(
        &self,
        channel: &str,
        hash: &str,
        max_age: Duration,
    ) -> Result<Option<String>, StateError> {
        let (channel, hash) = (channel.to_owned(), hash.to_owned());
        dispatch!(self, |s| s.upload_location(&channel, &hash, max_age))
    }

    /// Records an upload.
    pub async fn record_upload(
        &self,
        channel: &str,
        hash: &str,
        location: &str,
        at: OffsetDateTime,
    ) -> Result<(), StateError> {
        let (channel, hash, location) = (channel.to_owned(), hash.to_owned(), location.to_owned());
        dispatch!(self, |s| s.record_upload(&channel, &hash, &location, at))
    }

    /// Forgets an upload (the target no longer has it).
    pub async fn forget_upload(&self, channel: &str, hash: &str) -> Result<(), StateError> {
        let (channel, hash) = (channel.to_owned(), hash.to_owned());
        dispatch!(self, |s| s.forget_upload(&channel, &hash))
    }

    /// Removes uploads older than `max_age`; returns how many.
    pub async fn prune_uploads(
        &self,
        channel: &str,
        max_age: Duration,
    ) -> Result<usize, StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.prune_uploads(&channel, max_age))
    }

    // ----- the image round trip -----

    /// The outcome recorded for a publish line, if any.
    pub async fn image_published(
        &self,
        channel: &str,
        item: &str,
    ) -> Result<Option<String>, StateError> {
        let (channel, item) = (channel.to_owned(), item.to_owned());
        dispatch!(self, |s| s.image_published(&channel, &item))
    }

    /// Records a publish line's outcome.
    pub async fn record_image_published(
        &self,
        channel: &str,
        item: &str,
        outcome: &str,
        at: OffsetDateTime,
    ) -> Result<(), StateError> {
        let (channel, item, outcome) = (channel.to_owned(), item.to_owned(), outcome.to_owned());
        dispatch!(self, |s| s
            .record_image_published(&channel, &item, &outcome, at))
    }

    // ----- `mapsync resolve` choices -----

    /// Records a `mapsync resolve` choice for `channel`, replacing an
    /// earlier one for the same entity, key and field.
    pub async fn record_resolution(
        &self,
        channel: &str,
        choice: Resolution,
    ) -> Result<(), StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.record_resolution(&channel, &choice))
    }

    /// The `mapsync resolve` choices of `channel` and `entity` not yet
    /// cleared: of the items of `keys`, or of every item when `None`; in
    /// key, then field order.
    pub async fn resolutions(
        &self,
        channel: &str,
        entity: Entity,
        keys: Option<Vec<String>>,
    ) -> Result<Vec<Resolution>, StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.resolutions(&channel, entity, keys.as_deref()))
    }

    /// Clears the choices a run applied (each still as read; one recorded
    /// again since stays); returns how many went.
    pub async fn clear_resolutions(
        &self,
        channel: &str,
        applied: Vec<Resolution>,
    ) -> Result<usize, StateError> {
        let channel = channel.to_owned();
        dispatch!(self, |s| s.clear_resolutions(&channel, &applied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_sqlite_connection_goes_back_to_its_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("state.db").display());
        let pool = StatePool::for_url(&url, dir.path(), 1).unwrap();
        let db = pool.take().unwrap();
        let started = OffsetDateTime::now_utc();
        let run = db.begin_run("p", "c", started).await.unwrap();
        let copy = db.clone();
        pool.give(db);
        let StatePool::Sqlite(inner) = &pool else {
            panic!("sqlite")
        };
        assert_eq!(inner.idle(), 0, "a handle is still out");
        pool.give(copy);
        assert_eq!(inner.idle(), 1);
        let db = pool.take().unwrap();
        assert_eq!(inner.idle(), 0);
        assert_eq!(db.last_run_id("p").await.unwrap(), Some(run));
        assert_eq!(pool.recent_runs_blocking("p", 5).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn resolve_choices_go_through_the_handle() {
        use mapsync_core::two_way::Side;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("state.db").display());
        let db = StateDb::open_url(&url, dir.path()).unwrap();
        let choice = Resolution {
            entity: Entity::Product,
            key: "A".into(),
            field: "vendor".into(),
            take: Side::Target,
            recorded_at: OffsetDateTime::now_utc(),
            source_hash: None,
            target_hash: None,
        };
        db.record_resolution("c", choice.clone()).await.unwrap();
        let got = db
            .resolutions("c", Entity::Product, Some(vec!["A".into()]))
            .await
            .unwrap();
        assert_eq!(got, vec![choice]);
        assert_eq!(db.clear_resolutions("c", got).await.unwrap(), 1);
        assert!(db
            .resolutions("c", Entity::Product, None)
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_postgres_url_is_parsed_without_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let pool = StatePool::for_url("postgres://sync@db.invalid/mapsync", dir.path(), 1).unwrap();
        assert_eq!(pool.describe(), "postgres://sync@db.invalid/mapsync");
        let err = StatePool::for_url("postgres://sync:secret@db/x", dir.path(), 1).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(matches!(
            err,
            StateError::Server {
                kind: ServerFailure::Url,
                ..
            }
        ));
    }
}
