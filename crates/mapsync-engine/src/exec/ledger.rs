//! The ledger writer of a run: item outcomes go through a channel to one
//! blocking thread that owns the [`Store`] and commits whatever has queued
//! up in one transaction (group commit). An item is final once its row is
//! committed; a run killed before that finds the item again through its
//! ownership marker (see `reconcile`), so nothing is created twice.

use tokio::sync::mpsc;

use mapsync_state::{LedgerUpdate, StateError, Store};

/// Sends item outcomes to the writer thread.
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
pub fn start(mut store: Store, channel: String) -> (LedgerWriter, LedgerHandle) {
    let (tx, mut rx) = mpsc::unbounded_channel::<LedgerUpdate>();
    let join = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(u) => batch.push(u),
                    Err(_) => break,
                }
            }
            store.record_many(&channel, &batch)?;
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
