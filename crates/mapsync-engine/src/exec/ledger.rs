//! The ledger writer of a run: item outcomes go through a channel to one
//! task that holds the run's state handle ([`StateDb`]) and commits
//! whatever has queued up in one transaction (group commit). An item is
//! final once its row is committed; a run killed before that finds the
//! item again through its ownership marker (see `reconcile`), so nothing
//! is created twice.

use tokio::sync::mpsc;

use mapsync_state::{LedgerUpdate, StateError};
use mapsync_statedb::StateDb;

/// Sends item outcomes to the writer task (which hands those of
/// entities whose source takes write-backs to the write-back worker once
/// they are committed).
#[derive(Debug, Clone)]
pub struct LedgerWriter {
    tx: mpsc::UnboundedSender<LedgerUpdate>,
}

/// The writer task; [`LedgerHandle::finish`] flushes and returns the handle.
#[derive(Debug)]
pub struct LedgerHandle {
    join: tokio::task::JoinHandle<Result<StateDb, StateError>>,
}

/// Most updates committed in one transaction.
pub const MAX_BATCH: usize = 512;

/// Starts the writer for `channel`. Must be called inside a Tokio runtime.
pub fn start(store: StateDb, channel: String) -> (LedgerWriter, LedgerHandle) {
    start_with(store, channel, None)
}

/// [`start`], with write-backs: each success or failure of an entity the
/// sender takes is marked pending in the same transaction as its outcome,
/// and handed to the write-back worker once that transaction committed —
/// never before, or the worker could clear the mark before it exists and
/// leave it pending for good.
pub fn start_with(
    store: StateDb,
    channel: String,
    writeback: Option<super::writeback::WritebackSender>,
) -> (LedgerWriter, LedgerHandle) {
    let (tx, mut rx) = mpsc::unbounded_channel::<LedgerUpdate>();
    let marked = writeback.as_ref().map(|w| w.entities());
    let join = tokio::spawn(async move {
        // Dropped with the task: the worker ends after the last outcome.
        let writeback = writeback;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(u) => batch.push(u),
                    Err(_) => break,
                }
            }
            let updates = std::mem::take(&mut batch);
            batch = match (&marked, &writeback) {
                (Some(entities), Some(w)) => {
                    let done = store
                        .record_many_marking(&channel, updates, entities.clone())
                        .await?;
                    for update in &done {
                        w.outcome(update);
                    }
                    done
                }
                _ => store.record_many(&channel, updates).await?,
            };
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
    /// [`LedgerWriter`] first) and returns the state handle.
    pub async fn finish(self) -> Result<StateDb, StateError> {
        match self.join.await {
            Ok(Ok(store)) => Ok(store),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(StateError::Task(e.to_string())),
        }
    }
}
