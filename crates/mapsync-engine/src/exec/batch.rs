//! The batch path of the executor: above the target's threshold, creates
//! and updates of one entity go through the target's batch import
//! ([`BatchWrite`], e.g. a platform's bulk mutations) instead of one call per
//! item. Items are turned into lines chunk by chunk (the current state of
//! a chunk's updates read ahead, as on the per-item path); a file full of
//! lines is submitted, its handle written to the state store, its end
//! awaited and every line's outcome recorded like a single write's (ledger,
//! SyncMsg, report); then the handle is forgotten. Items a line cannot
//! carry take the per-item path with their chunk.
//!
//! A run killed between submit and recording leaves the handle in the
//! state store: the next run ([`recover`]) waits for that batch and records
//! its results before planning, so nothing is submitted twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream::{self, StreamExt};
use time::OffsetDateTime;

use super::ledger::LedgerWriter;
use super::{
    finish_upsert, loaded_chunks, run_chunk, ChunkCx, Done, ExecError, ExecOptions, ItemError,
    ItemReport, Loaded, Progress, Work,
};
use mapsync_core::source::Entity;
use mapsync_core::target::{BatchOutcome, BatchWrite, ErrorKind, TargetWrite, WriteContext};
use mapsync_plan::reconcile::{Action, Change};
use mapsync_state::{BatchLine, Change as LedgerChange, LedgerUpdate, StateError};
use mapsync_statedb::StateDb;

/// Where batch handles are kept between submit and recording.
#[derive(Debug, Clone)]
pub struct BatchJournal {
    /// The state store (its own connection; the ledger writer has another).
    pub store: StateDb,
    /// The profile's channel.
    pub channel: String,
}

/// A line waiting in the file being filled: its change (the document is
/// in the line, not kept) and what the ledger takes on success.
struct Pending<'a> {
    change: &'a Change,
    line: BatchLine,
}

/// The file being filled.
#[derive(Default)]
struct Filling<'a> {
    bytes: Vec<u8>,
    lines: Vec<Pending<'a>>,
}

/// Runs `work` (creates and updates of `entity`) through `batch`; the
/// items a line cannot carry take the per-item path chunk by chunk, as
/// their chunk is read (so no more than a chunk of documents is held).
/// Returns the report of every item.
///
/// Files overlap: while one import runs, the next file is filled and
/// submitted (a target that runs one import at a time holds the submit
/// until the running one ends). At most [`FILES_IN_FLIGHT`] files are
/// submitted and not yet recorded, and a file is filled only while fewer
/// are: the memory held is one file's bytes plus the lines of those in
/// flight.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_batched<'a>(
    target: &dyn TargetWrite,
    batch: &dyn BatchWrite,
    entity: Entity,
    work: impl Iterator<Item = Work<'a>>,
    ctx: &WriteContext,
    options: &ExecOptions,
    cx: &Recording<'_>,
) -> Result<Vec<ItemReport>, ExecError> {
    let producer = Producer {
        // Lines write whole documents: drift is not watched on this path.
        loaded: Box::pin(loaded_chunks(
            target,
            work,
            options.chunk_size,
            cx.stop,
            None,
        )),
        filling: Filling::default(),
        out: VecDeque::new(),
        done: false,
    };
    let fill = Fill {
        target,
        batch,
        ctx,
        concurrency: options.concurrency.max(1),
        cx,
    };
    let fill = &fill;
    let mut outputs = Box::pin(
        stream::unfold(producer, move |mut p| async move {
            match p.next(fill).await {
                Ok(Some(out)) => Some((Ok(out), p)),
                Ok(None) => None,
                Err(e) => {
                    p.done = true;
                    Some((Err(e), p))
                }
            }
        })
        .map(|out| async move {
            match out? {
                Output::Reports(r) => Ok(r),
                Output::File(f) => flush(batch, entity, f, cx).await,
            }
        })
        .buffered(FILES_IN_FLIGHT),
    );
    let mut reports = Vec::new();
    while let Some(r) = outputs.next().await {
        reports.extend(r?);
    }
    Ok(reports)
}

/// How many files may be submitted and not yet recorded at once: one
/// running, the next staged and waiting for it.
const FILES_IN_FLIGHT: usize = 2;

/// What filling files needs.
struct Fill<'f> {
    target: &'f dyn TargetWrite,
    batch: &'f dyn BatchWrite,
    ctx: &'f WriteContext,
    concurrency: usize,
    cx: &'f Recording<'f>,
}

/// What the producer hands on: reports of items done without the batch
/// (failed lines, the per-item path), or a full file to submit.
enum Output<'a> {
    Reports(Vec<ItemReport>),
    File(Filling<'a>),
}

/// Reads chunks and fills files.
struct Producer<'a, S> {
    loaded: std::pin::Pin<Box<S>>,
    filling: Filling<'a>,
    out: VecDeque<Output<'a>>,
    done: bool,
}

impl<'a, S> Producer<'a, S>
where
    S: futures::Stream<Item = (Vec<Work<'a>>, Loaded)>,
{
    /// The next output: a full file or the reports of a chunk; `None` at
    /// the end (the last file is submitted unless the run is stopping).
    async fn next(&mut self, fill: &Fill<'_>) -> Result<Option<Output<'a>>, ExecError> {
        loop {
            if let Some(out) = self.out.pop_front() {
                return Ok(Some(out));
            }
            if self.done {
                return Ok(None);
            }
            let Some((chunk, current)) = self.loaded.next().await else {
                self.done = true;
                if !self.filling.lines.is_empty() && !fill.cx.stop.load(Ordering::Relaxed) {
                    return Ok(Some(Output::File(std::mem::take(&mut self.filling))));
                }
                return Ok(None);
            };
            self.chunk(fill, chunk, &current).await?;
        }
    }

    /// Turns a chunk into lines of the file being filled (handing on the
    /// file when full), runs the items a line cannot carry one by one.
    async fn chunk(
        &mut self,
        fill: &Fill<'_>,
        chunk: Vec<Work<'a>>,
        current: &Loaded,
    ) -> Result<(), ExecError> {
        let (batch, ctx, cx) = (fill.batch, fill.ctx, fill.cx);
        let lines: Vec<(Work<'a>, LineResult)> = stream::iter(chunk)
            .map(|w| async move {
                let line = line_of(batch, &w, current, ctx).await;
                (w, line)
            })
            .buffered(fill.concurrency)
            .collect()
            .await;
        let mut per_item = Vec::new();
        let mut reports = Vec::new();
        for (w, line) in lines {
            match line {
                Ok(Some(bytes)) => {
                    let filling = &mut self.filling;
                    let full = filling.lines.len() + 1 > batch.max_lines()
                        || filling.bytes.len() + bytes.len() + 1 > batch.max_bytes();
                    if full && !filling.lines.is_empty() {
                        self.out
                            .push_back(Output::File(std::mem::take(&mut self.filling)));
                    }
                    let filling = &mut self.filling;
                    if filling.bytes.capacity() == 0 {
                        // Filled to at most this: no copy as it grows.
                        filling.bytes.reserve(batch.max_bytes());
                    }
                    filling.bytes.extend_from_slice(&bytes);
                    filling.bytes.push(b'\n');
                    let doc = w.doc.as_ref().ok();
                    let line = BatchLine {
                        key: w.change.key.clone().unwrap_or_default(),
                        hash: doc.map(|d| d.hash.clone()).unwrap_or_default(),
                        action: w.change.action.as_str().to_owned(),
                        target_id: w.change.target_id.clone(),
                    };
                    filling.lines.push(Pending {
                        change: w.change,
                        line,
                    });
                }
                Ok(None) => per_item.push(w),
                Err(e) => {
                    let done = Done {
                        written: Err(e),
                        hash: None,
                        drift: Vec::new(),
                    };
                    reports.push(finish_upsert(cx.ledger, cx.progress, w.change, done)?);
                }
            }
        }
        if !per_item.is_empty() {
            let chunk_cx = ChunkCx {
                target: fill.target,
                ctx,
                concurrency: fill.concurrency,
                ledger: cx.ledger,
                progress: cx.progress,
                pulls: None,
            };
            reports.extend(run_chunk(&chunk_cx, per_item, current).await?);
        }
        if !reports.is_empty() {
            self.out.push_back(Output::Reports(reports));
        }
        Ok(())
    }
}

/// A batch line, `None` for the per-item path, or why the item failed.
type LineResult = Result<Option<Vec<u8>>, ItemError>;

/// What recording outcomes needs.
pub(super) struct Recording<'r> {
    pub ledger: &'r LedgerWriter,
    pub journal: &'r BatchJournal,
    pub progress: &'r dyn Progress,
    pub stop: &'r AtomicBool,
}

/// The line of one item, `None` for the per-item path.
async fn line_of(
    batch: &dyn BatchWrite,
    w: &Work<'_>,
    current: &Loaded,
    ctx: &WriteContext,
) -> LineResult {
    let doc = w
        .doc
        .as_ref()
        .map_err(|m| ItemError::new(ErrorKind::Failed, m.clone()))?;
    let published = doc.control.published;
    if w.change.action == Action::Create {
        return Ok(batch.line(&doc.document, None, published, ctx).await?);
    }
    let id = w.change.target_id.as_deref().unwrap_or_default();
    match current {
        Loaded::Failed(e) => Err(e.clone()),
        Loaded::Items(map, _) => match map.get(id) {
            Some(cur) => Ok(batch.line(&doc.document, Some(cur), published, ctx).await?),
            None => Err(super::gone(id)),
        },
        Loaded::None => Err(super::gone(id)),
    }
}

/// Submits one file, records its handle, waits for it and records every
/// line's outcome; forgets the handle once all are sent to the ledger.
async fn flush(
    batch: &dyn BatchWrite,
    entity: Entity,
    file: Filling<'_>,
    cx: &Recording<'_>,
) -> Result<Vec<ItemReport>, ExecError> {
    let Filling { bytes, lines } = file;
    let count = lines.len();
    tracing::info!(
        entity = entity.as_str(),
        lines = count,
        bytes = bytes.len(),
        "submitting a batch import"
    );
    let fail_all = |lines: Vec<Pending<'_>>, e: ItemError| -> Result<Vec<ItemReport>, ExecError> {
        lines
            .into_iter()
            .map(|p| {
                let done = Done {
                    written: Err(e.clone()),
                    hash: None,
                    drift: Vec::new(),
                };
                finish_upsert(cx.ledger, cx.progress, p.change, done)
            })
            .collect()
    };
    let handle = match batch.submit(entity, bytes).await {
        Ok(h) => h,
        Err(e) => {
            let e = ItemError::new(e.kind, format!("the batch import was not started: {e}"));
            return fail_all(lines, e);
        }
    };
    let journal_lines: Vec<BatchLine> = lines.iter().map(|p| p.line.clone()).collect();
    cx.journal
        .store
        .record_batch(
            &cx.journal.channel,
            &handle,
            entity,
            journal_lines,
            OffsetDateTime::now_utc(),
        )
        .await
        .map_err(ExecError::Journal)?;
    let outcome = match batch
        .wait(&handle, &|done| {
            tracing::debug!(batch = %handle, done, of = count, "batch import running");
        })
        .await
    {
        Ok(o) => o,
        Err(e) => {
            // The batch may still end well: its handle stays in the state
            // store and the next run records its results.
            let e = ItemError::new(
                e.kind,
                format!(
                    "cannot follow the batch import {handle}: {e}; the next run takes its results"
                ),
            );
            return fail_all(lines, e);
        }
    };
    let mut outcome = outcome;
    let mut reports = Vec::with_capacity(count);
    for (n, p) in lines.into_iter().enumerate() {
        let written =
            line_outcome(&mut outcome, n).map(|target_id| mapsync_core::target::Written {
                target_id,
                requests: 0,
                adopted: false,
            });
        let done = Done {
            written,
            hash: Some(p.line.hash),
            drift: Vec::new(),
        };
        reports.push(finish_upsert(cx.ledger, cx.progress, p.change, done)?);
    }
    cx.journal
        .store
        .forget_batch(&cx.journal.channel, &handle)
        .await
        .map_err(ExecError::Journal)?;
    let failed = reports
        .iter()
        .filter(|r| r.status == super::Status::Failed)
        .count();
    tracing::info!(batch = %handle, lines = count, failed, "batch import recorded");
    Ok(reports)
}

/// The outcome of line `n`: the target id, or why it failed (a line the
/// batch did not apply fails with why the batch ended).
fn line_outcome(outcome: &mut BatchOutcome, n: usize) -> Result<String, ItemError> {
    match outcome.lines.remove(&n) {
        Some(Ok(id)) => Ok(id),
        Some(Err(e)) => Err(ItemError::from(e)),
        None => Err(ItemError::new(
            ErrorKind::Failed,
            match &outcome.ended {
                Some(why) => format!("not applied: {why}; the next run sends it again"),
                None => "the batch import has no result for this item; the next run sends it again"
                    .to_string(),
            },
        )),
    }
}

/// Before a run reads the target: takes the results of batches an earlier
/// run submitted and did not record (killed, or the wait gave up), then
/// waits for any batch still running on the platform (one this process
/// did not submit), so that the plan sees the target as those batches
/// left it and nothing is submitted twice. Returns how many items it
/// recorded.
pub async fn recover(
    target: &dyn TargetWrite,
    store: &StateDb,
    channel: &str,
) -> Result<usize, RecoverError> {
    let Some(batch) = target.batch() else {
        return Ok(0);
    };
    let pending = store.pending_batches(channel).await?;
    let mut recorded = 0;
    for p in pending {
        tracing::info!(batch = %p.handle, lines = p.lines.len(), submitted_at = %p.submitted_at, "taking the results of a batch import an earlier run submitted");
        let mut outcome = match batch.wait(&p.handle, &|_| {}).await {
            Ok(o) => o,
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::Transient
                        | ErrorKind::Denied
                        | ErrorKind::Config
                        | ErrorKind::OutcomeUnknown
                ) =>
            {
                return Err(RecoverError::Target {
                    handle: p.handle.clone(),
                    message: e.to_string(),
                });
            }
            Err(e) => {
                // Gone or failed for good: its items are found again by
                // their ownership markers.
                tracing::warn!(batch = %p.handle, error = %e, "the batch import of an earlier run has no results to take; its items are planned again");
                BatchOutcome::default()
            }
        };
        let now = OffsetDateTime::now_utc();
        // Lines the batch did not apply are not recorded: they are planned
        // again.
        let mut updates = Vec::new();
        for (n, line) in p.lines.iter().enumerate() {
            if !outcome.lines.contains_key(&n) {
                continue;
            }
            let change = match line_outcome(&mut outcome, n) {
                Ok(target_id) => LedgerChange::Success {
                    target_id,
                    hash: line.hash.clone(),
                    date: now,
                },
                Err(e) => LedgerChange::Failure {
                    target_id: line.target_id.clone(),
                    message: e.message,
                },
            };
            updates.push(LedgerUpdate {
                entity: p.entity,
                key: line.key.clone(),
                change,
            });
        }
        recorded += updates.len();
        store.record_many(channel, updates).await?;
        store.forget_batch(channel, &p.handle).await?;
    }
    if let Some(running) = batch.running().await.map_err(|e| RecoverError::Target {
        handle: String::new(),
        message: e.to_string(),
    })? {
        tracing::info!(batch = %running, "a batch import is running in the target; waiting for it to end before reading");
        if let Err(e) = batch.wait(&running, &|_| {}).await {
            tracing::warn!(batch = %running, error = %e, "could not follow the running batch import");
        }
    }
    Ok(recorded)
}

/// Why the results of an earlier run's batch could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The state store failed.
    #[error("state store: {0}")]
    State(#[from] StateError),
    /// The target could not be asked.
    #[error("cannot take the results of the batch import {handle} an earlier run submitted: {message}; nothing was changed, run again when the store answers")]
    Target {
        /// The batch.
        handle: String,
        /// The target's error.
        message: String,
    },
}
