//! The ledger writer of a run: item outcomes go through a channel to one
//! blocking thread that owns the [`Store`] and commits whatever has queued
//! up in one transaction (group commit). An item is final once its row is
//! committed; a run killed before that finds the item again through its
//! ownership marker (see `reconcile`), so nothing is created twice.

use tokio::sync::mpsc;

use mapsync_state::{LedgerUpdate, StateError, Store};

/// Sends item outcomes to the writer thread (which hands those of
/// entities whose source takes write-backs to the write-back worker once
/// they are committed).
#[derive(Debug, Clone)]
pub struct LedgerWriter {
    tx: mpsc::UnboundedSender<LedgerUpdate>,
}

/// The writer thread; [`LedgerHandle::finish`] flushes and returns the store.
#[derive(Debug)]
pub struct LedgerHandle {
    join: tokio::task::JoinHandle<Result<Store, StateError>>,
}

/// Most updates committed in one transaction.
const MAX_BATCH: usize = 512;

/// Starts the writer for `channel`. Must be called inside a Tokio runtime.
pub fn start(store: Store, channel: String) -> (LedgerWriter, LedgerHandle) {
    start_with(store, channel, None)
}

/// [`start`], with write-backs: each success or failure of an entity the
/// sender takes is marked pending in the same transaction as its outcome,
/// and handed to the write-back worker once that transaction committed —
/// never before, or the worker could clear the mark before it exists and
/// leave it pending for good.
pub fn start_with(
    mut store: Store,
    channel: String,
    writeback: Option<super::writeback::WritebackSender>,
) -> (LedgerWriter, LedgerHandle) {
    let (tx, mut rx) = mpsc::unbounded_channel::<LedgerUpdate>();
    let marked = writeback.as_ref().map(|w| w.entities());
    let join = tokio::task::spawn_blocking(move || {
        // Dropped with the thread: the worker ends after the last outcome.
        let writeback = writeback;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(u) => batch.push(u),
                    Err(_) => break,
                }
            }
            match (&marked, &writeback) {
                (Some(entities), Some(w)) => {
                    store.record_many_marking(&channel, &batch, &|e| entities.contains(&e))?;
                    for update in &batch {
                        w.outcome(update);
                    }
                }
                _ => store.record_many(&channel, &batch)?,
            }
            batch.clear();
        }
        Ok(store)
    });
    (LedgerWriter { tx }, LedgerHandle { join })
}

impl LedgerWriter {
    /// Queues one outcome; `false` when the writer has stopped (a failed
    /// commit, reported by [`LedgerHandle::finish`]).
    pub fn send(&self, update: LedgerUpdate) -> bool {
        self.tx.send(update).is_ok()
    }
}

impl LedgerHandle {
    /// Waits until every queued outcome is committed (drop every
    /// [`LedgerWriter`] first) and returns the store.
    pub async fn finish(self) -> Result<Store, StateError> {
        match self.join.await {
            Ok(Ok(store)) => Ok(store),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(StateError::Task(e.to_string())),
        }
    }
}
