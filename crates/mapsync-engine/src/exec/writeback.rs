//! Write-back to the source (mapping-format.md §3.3; seed 004 task #11,
//! "Update Perfion"): after each item, its SyncID, SyncDate and SyncMsg go
//! back to the source through the source's [`SourceWrite`].
//!
//! The ledger writer marks each outcome's write-back pending in the same
//! transaction as the outcome and hands the outcome to this worker
//! ([`WritebackSender`]); the worker sends them in batches of the source's
//! size, a few calls in flight, and clears the marks of what the source
//! took. What fails stays marked: the next run sends those first
//! ([`resend_pending`]), with the ledger's values of then, until they are
//! taken. A failed write-back never touches the ledger's record of the
//! item, and the report counts it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc;

use mapsync_core::source::{Entity, SourceWrite, WriteBack, WritebackFields};
use mapsync_state::{Change, LedgerUpdate};
use mapsync_statedb::StateDb;

/// Write-back calls in flight.
const IN_FLIGHT: usize = 4;
/// Pending write-backs read from the state store at a time.
const PAGE: u32 = 1000;

/// What a run's write-backs did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WritebackReport {
    /// Items whose values the source took.
    pub sent: u64,
    /// Items whose write-back failed (sent again by the next run).
    pub failed: u64,
    /// Write-backs still pending after the run.
    pub pending: u64,
    /// HTTP requests the write-backs cost.
    pub requests: u64,
}

/// Counters shared by the worker and the resend.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
}

/// Where the write-backs of a run go: the source's write side, the field
/// names per entity, and the state store that keeps the pending marks.
#[derive(Clone)]
pub struct Writeback {
    source: Arc<dyn SourceWrite>,
    fields: Arc<BTreeMap<Entity, WritebackFields>>,
    store: StateDb,
    channel: String,
    counters: Arc<Counters>,
    written: WrittenBack,
}

/// Items whose SyncID, SyncDate and SyncMsg already went to the source
/// with their pulled values (two-way, `exec::Pulls`): their outcome's
/// write-back mark is cleared without a request.
#[derive(Debug, Clone, Default)]
pub struct WrittenBack(Arc<std::sync::Mutex<BTreeSet<(Entity, String)>>>);

impl WrittenBack {
    /// Notes that `key`'s values are in the source as of its outcome.
    pub fn insert(&self, entity: Entity, key: &str) {
        if let Ok(mut set) = self.0.lock() {
            set.insert((entity, key.to_string()));
        }
    }

    /// Whether `key` was noted (and forgets it).
    fn take(&self, entity: Entity, key: &str) -> bool {
        self.0
            .lock()
            .map(|mut set| set.remove(&(entity, key.to_string())))
            .unwrap_or(false)
    }
}

impl std::fmt::Debug for Writeback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writeback")
            .field("entities", &self.fields.keys().collect::<Vec<_>>())
            .field("channel", &self.channel)
            .finish()
    }
}

impl Writeback {
    /// Write-backs to `source` for the entities of `fields` that name a
    /// field and that the source has a request for; `None` when none has.
    pub fn new(
        source: Arc<dyn SourceWrite>,
        fields: BTreeMap<Entity, WritebackFields>,
        store: StateDb,
        channel: &str,
    ) -> Option<Writeback> {
        let fields: BTreeMap<Entity, WritebackFields> = fields
            .into_iter()
            .filter(|(e, f)| f.any() && source.writes_back(*e))
            .collect();
        (!fields.is_empty()).then(|| Writeback {
            source,
            fields: Arc::new(fields),
            store,
            channel: channel.to_owned(),
            counters: Arc::default(),
            written: WrittenBack::default(),
        })
    }

    /// Where the executor notes the items whose write-back went with
    /// their pulled values.
    pub fn written(&self) -> WrittenBack {
        self.written.clone()
    }

    /// Clears the marks of items whose values reached the source already
    /// (with their pulls): no request.
    async fn already_sent(&self, entity: Entity, keys: Vec<String>) {
        self.counters
            .sent
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        if let Err(e) = self
            .store
            .writebacks_done(&self.channel, entity, keys)
            .await
        {
            tracing::warn!(error = %e, "cannot clear write-back marks");
        }
    }

    /// Sends `items` of `entity` (one batch of the source's size at most)
    /// and clears the marks of those taken.
    async fn send(&self, entity: Entity, items: Vec<WriteBack>) {
        let Some(fields) = self.fields.get(&entity) else {
            return;
        };
        let result = self.source.write_back(entity, fields, &items).await;
        self.counters
            .requests
            .fetch_add(u64::from(result.requests), Ordering::Relaxed);
        let mut done = Vec::new();
        for (item, outcome) in
            items
                .into_iter()
                .zip(result.items.into_iter().chain(std::iter::repeat_with(|| {
                    Err("the source gave no answer for this item".to_string())
                })))
        {
            match outcome {
                Ok(()) => done.push(item.key),
                Err(message) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(entity = entity.as_str(), key = %item.key, error = %message, "write-back failed; the next run sends it again");
                }
            }
        }
        self.counters
            .sent
            .fetch_add(done.len() as u64, Ordering::Relaxed);
        if done.is_empty() {
            return;
        }
        if let Err(e) = self
            .store
            .writebacks_done(&self.channel, entity, done)
            .await
        {
            // The values reached the source; only the mark stays, so they
            // are sent once more next run.
            tracing::warn!(error = %e, "cannot clear write-back marks");
        }
    }

    /// Starts the worker; outcomes go to it through the returned sender
    /// (given to the ledger writer). Must be called inside a Tokio runtime.
    pub fn start(&self) -> (WritebackSender, WritebackWorker) {
        let (tx, rx) = mpsc::unbounded_channel::<Queued>();
        let this = self.clone();
        let join = tokio::spawn(async move { this.run(rx).await });
        (
            WritebackSender {
                tx,
                entities: Arc::new(self.fields.keys().copied().collect()),
                written: self.written.clone(),
            },
            WritebackWorker { join },
        )
    }

    /// The worker: takes what has queued up, cuts it into batches per
    /// entity, sends a few at a time.
    async fn run(&self, mut rx: mpsc::UnboundedReceiver<Queued>) {
        let size = self.source.batch_size().max(1);
        let mut queued: Vec<(Entity, WriteBack)> = Vec::new();
        let mut sent: BTreeMap<Entity, Vec<String>> = BTreeMap::new();
        let mut take = |q: Queued, queued: &mut Vec<(Entity, WriteBack)>| match q {
            Queued::Send(e, w) => queued.push((e, w)),
            Queued::Sent(e, key) => sent.entry(e).or_default().push(key),
        };
        loop {
            match rx.recv().await {
                Some(item) => take(item, &mut queued),
                None => break,
            }
            while queued.len() < size * IN_FLIGHT {
                match rx.try_recv() {
                    Ok(item) => take(item, &mut queued),
                    Err(_) => break,
                }
            }
            self.send_all(std::mem::take(&mut queued), size).await;
        }
        for (entity, keys) in sent {
            self.already_sent(entity, keys).await;
        }
    }

    async fn send_all(&self, items: Vec<(Entity, WriteBack)>, size: usize) {
        let mut by_entity: BTreeMap<Entity, Vec<WriteBack>> = BTreeMap::new();
        for (e, w) in items {
            by_entity.entry(e).or_default().push(w);
        }
        let mut batches = Vec::new();
        for (e, items) in by_entity {
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                batches.push((e, items.by_ref().take(size).collect::<Vec<_>>()));
            }
        }
        stream::iter(batches)
            .for_each_concurrent(IN_FLIGHT, |(e, b)| self.send(e, b))
            .await;
    }

    /// The report's figures, with what is still pending.
    pub async fn report(&self) -> WritebackReport {
        let pending = self
            .store
            .pending_writeback_count(&self.channel)
            .await
            .unwrap_or_default();
        WritebackReport {
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            pending,
            requests: self.counters.requests.load(Ordering::Relaxed),
        }
    }
}

/// What the worker is handed: a write-back to send, or the key of an item
/// whose values reached the source already (its mark is only cleared).
#[derive(Debug)]
enum Queued {
    Send(Entity, WriteBack),
    Sent(Entity, String),
}

/// Hands item outcomes to the write-back worker.
#[derive(Debug, Clone)]
pub struct WritebackSender {
    tx: mpsc::UnboundedSender<Queued>,
    entities: Arc<BTreeSet<Entity>>,
    written: WrittenBack,
}

impl WritebackSender {
    /// The entities whose outcomes are written back.
    pub fn entities(&self) -> Arc<BTreeSet<Entity>> {
        self.entities.clone()
    }

    /// Queues the write-back of one outcome (a success or failure of an
    /// entity written back; deletions are not).
    pub fn outcome(&self, update: &LedgerUpdate) {
        if !self.entities.contains(&update.entity) {
            return;
        }
        let item = match &update.change {
            Change::Success { .. } | Change::Wrote { .. }
                if self.written.take(update.entity, &update.key) =>
            {
                let _ = self
                    .tx
                    .send(Queued::Sent(update.entity, update.key.clone()));
                return;
            }
            Change::Success {
                target_id, date, ..
            }
            | Change::Wrote {
                target_id, date, ..
            } => WriteBack {
                key: update.key.clone(),
                sync_id: Some(target_id.clone()),
                sync_date: date.format(&Rfc3339).ok(),
                sync_msg: String::new(),
                values: Default::default(),
            },
            Change::Failure { target_id, message } => WriteBack {
                key: update.key.clone(),
                sync_id: target_id.clone(),
                sync_date: None,
                sync_msg: message.clone(),
                values: Default::default(),
            },
            Change::Forget => return,
        };
        let _ = self.tx.send(Queued::Send(update.entity, item));
    }
}

/// The running worker; [`WritebackWorker::finish`] waits until everything
/// queued is sent (drop every sender first).
#[derive(Debug)]
pub struct WritebackWorker {
    join: tokio::task::JoinHandle<()>,
}

impl WritebackWorker {
    /// Waits for the queued write-backs.
    pub async fn finish(self) {
        if let Err(e) = self.join.await {
            tracing::warn!(error = %e, "the write-back worker stopped");
        }
    }
}

/// Sends the write-backs an earlier run left pending, with the ledger's
/// values of now (SyncID = the target id, SyncDate = the last successful
/// sync, SyncMsg = the last failure or empty). Returns how many it sent.
pub async fn resend_pending(w: &Writeback) -> u64 {
    let size = w.source.batch_size().max(1);
    let mut sent = 0;
    for entity in w.fields.keys().copied().collect::<Vec<_>>() {
        let mut after: Option<String> = None;
        loop {
            let page = match w
                .store
                .pending_writebacks(&w.channel, entity, after.as_deref(), PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read pending write-backs");
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            after = Some(last.0.clone());
            let n = page.len() as u32;
            let items: Vec<(Entity, WriteBack)> = page
                .into_iter()
                .map(|(key, row)| {
                    (
                        entity,
                        WriteBack {
                            key,
                            sync_id: row.target_id.map(String::from),
                            sync_date: row.sync_date.and_then(|d| d.format(&Rfc3339).ok()),
                            sync_msg: row.message.map(String::from).unwrap_or_default(),
                            values: Default::default(),
                        },
                    )
                })
                .collect();
            sent += items.len() as u64;
            tracing::info!(
                entity = entity.as_str(),
                items = items.len(),
                "sending write-backs an earlier run left pending"
            );
            w.send_all(items, size).await;
            if n < PAGE {
                break;
            }
        }
    }
    sent
}
