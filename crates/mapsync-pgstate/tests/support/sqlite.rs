//! The SQLite store with `PgStore`'s async method names and arguments, so
//! one test body compiles against both.

use std::sync::Mutex;
use std::time::Duration;

use mapsync_core::source::Entity;
use mapsync_state::{
    BatchLine, Ledger, LedgerRow, LedgerUpdate, PendingBatch, Run, RunId, RunStatus, StateError,
    Store,
};
use time::OffsetDateTime;

/// `mapsync_state::Store`, behind a lock, with async methods.
#[derive(Debug)]
pub struct Sqlite {
    store: Mutex<Store>,
}

/// A new SQLite store in a temp folder (kept while the folder lives).
pub fn open() -> (tempfile::TempDir, Sqlite) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db")).unwrap();
    (
        dir,
        Sqlite {
            store: Mutex::new(store),
        },
    )
}

type R<T> = Result<T, StateError>;

impl Sqlite {
    fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store.lock().unwrap())
    }
    pub async fn close(&self) {}
    pub async fn load(&self, c: &str, e: Entity) -> R<Ledger> {
        self.with(|s| s.load(c, e))
    }
    pub async fn get(&self, c: &str, e: Entity, k: &str) -> R<Option<LedgerRow>> {
        self.with(|s| s.get(c, e, k))
    }
    pub async fn field_hashes(
        &self,
        c: &str,
        e: Entity,
        k: &[String],
    ) -> R<std::collections::HashMap<String, mapsync_core::diff::FieldHashes>> {
        self.with(|s| s.field_hashes(c, e, k))
    }
    pub async fn find_by_target(
        &self,
        c: &str,
        e: Entity,
        t: &str,
    ) -> R<Option<(String, LedgerRow)>> {
        self.with(|s| s.find_by_target(c, e, t))
    }
    pub async fn record_success(
        &self,
        c: &str,
        e: Entity,
        k: &str,
        t: &str,
        h: &str,
        d: OffsetDateTime,
    ) -> R<()> {
        self.with(|s| s.record_success(c, e, k, t, h, d))
    }
    pub async fn record_failure(
        &self,
        c: &str,
        e: Entity,
        k: &str,
        t: Option<&str>,
        m: &str,
    ) -> R<()> {
        self.with(|s| s.record_failure(c, e, k, t, m))
    }
    pub async fn forget(&self, c: &str, e: Entity, k: &str) -> R<bool> {
        self.with(|s| s.forget(c, e, k))
    }
    pub async fn record_many(&self, c: &str, u: &[LedgerUpdate]) -> R<()> {
        self.with(|s| s.record_many(c, u))
    }
    pub async fn record_many_marking(
        &self,
        c: &str,
        u: &[LedgerUpdate],
        mark: &(dyn Fn(Entity) -> bool + Sync),
    ) -> R<()> {
        self.with(|s| s.record_many_marking(c, u, &|e| mark(e)))
    }
    pub async fn begin_run(&self, p: &str, c: &str, at: OffsetDateTime) -> R<RunId> {
        self.with(|s| s.begin_run(p, c, at))
    }
    pub async fn finish_run(
        &self,
        r: RunId,
        at: OffsetDateTime,
        st: RunStatus,
        sum: &serde_json::Value,
    ) -> R<()> {
        self.with(|s| s.finish_run(r, at, st, sum))
    }
    pub async fn set_run_report(&self, r: RunId, rep: &serde_json::Value) -> R<()> {
        self.with(|s| s.set_run_report(r, rep))
    }
    pub async fn record_failed_run(
        &self,
        p: &str,
        c: &str,
        a: OffsetDateTime,
        b: OffsetDateTime,
        rep: &serde_json::Value,
    ) -> R<RunId> {
        self.with(|s| s.record_failed_run(p, c, a, b, rep))
    }
    pub async fn recent_runs(&self, p: &str, n: u32) -> R<Vec<Run>> {
        self.with(|s| s.recent_runs(p, n))
    }
    pub async fn last_run_id(&self, p: &str) -> R<Option<RunId>> {
        self.with(|s| s.last_run_id(p))
    }
    pub async fn last_run_started(&self, p: &str) -> R<Option<(RunId, OffsetDateTime)>> {
        self.with(|s| s.last_run_started(p))
    }
    pub async fn prune_runs(&self, p: &str, keep: usize) -> R<usize> {
        self.with(|s| s.prune_runs(p, keep))
    }
    pub async fn set_full_read(&self, r: RunId, full: bool) -> R<()> {
        self.with(|s| s.set_full_read(r, full))
    }
    pub async fn read_history(
        &self,
        p: &str,
    ) -> R<(Option<OffsetDateTime>, Option<OffsetDateTime>)> {
        self.with(|s| s.read_history(p))
    }
    pub async fn record_batch(
        &self,
        c: &str,
        h: &str,
        e: Entity,
        l: &[BatchLine],
        at: OffsetDateTime,
    ) -> R<()> {
        self.with(|s| s.record_batch(c, h, e, l, at))
    }
    pub async fn pending_batches(&self, c: &str) -> R<Vec<PendingBatch>> {
        self.with(|s| s.pending_batches(c))
    }
    pub async fn forget_batch(&self, c: &str, h: &str) -> R<bool> {
        self.with(|s| s.forget_batch(c, h))
    }
    pub async fn upload_location(&self, c: &str, h: &str, age: Duration) -> R<Option<String>> {
        self.with(|s| s.upload_location(c, h, age))
    }
    pub async fn record_upload(&self, c: &str, h: &str, l: &str, at: OffsetDateTime) -> R<()> {
        self.with(|s| s.record_upload(c, h, l, at))
    }
    pub async fn forget_upload(&self, c: &str, h: &str) -> R<()> {
        self.with(|s| s.forget_upload(c, h))
    }
    pub async fn prune_uploads(&self, c: &str, age: Duration) -> R<usize> {
        self.with(|s| s.prune_uploads(c, age))
    }
    pub async fn pending_writebacks(
        &self,
        c: &str,
        e: Entity,
        after: Option<&str>,
        n: u32,
    ) -> R<Vec<(String, LedgerRow)>> {
        self.with(|s| s.pending_writebacks(c, e, after, n))
    }
    pub async fn pending_writeback_count(&self, c: &str) -> R<u64> {
        self.with(|s| s.pending_writeback_count(c))
    }
    pub async fn writebacks_done(&self, c: &str, e: Entity, k: &[String]) -> R<()> {
        self.with(|s| s.writebacks_done(c, e, k))
    }
    pub async fn image_published(&self, c: &str, i: &str) -> R<Option<String>> {
        self.with(|s| s.image_published(c, i))
    }
    pub async fn record_image_published(
        &self,
        c: &str,
        i: &str,
        o: &str,
        at: OffsetDateTime,
    ) -> R<()> {
        self.with(|s| s.record_image_published(c, i, o, at))
    }
    pub async fn record_resolution(&self, c: &str, r: &mapsync_state::Resolution) -> R<()> {
        self.with(|s| s.record_resolution(c, r))
    }
    pub async fn resolutions(
        &self,
        c: &str,
        e: Entity,
        k: Option<&[String]>,
    ) -> R<Vec<mapsync_state::Resolution>> {
        self.with(|s| s.resolutions(c, e, k))
    }
    pub async fn clear_resolutions(&self, c: &str, r: &[mapsync_state::Resolution]) -> R<usize> {
        self.with(|s| s.clear_resolutions(c, r))
    }
}
