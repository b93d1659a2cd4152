//! The executor: turns a [`Plan`] into changes in the target, item by item,
//! in the order of mapping-format.md §4 — categories, then products (related
//! only to categories known on both sides), deletions last. Items go in
//! chunks of `chunk_size` with at most `concurrency` in flight; the full
//! state of the next chunk's updates is read while the current chunk runs.
//! One failing item never stops the others: its error becomes its SyncMsg
//! (ledger) and its report entry. Every outcome goes to the ledger as soon
//! as the item finishes ([`ledger`]), so a killed run resumes where it
//! stopped.
//!
//! The executor decides nothing the plan did not decide, and does I/O only
//! through the target's [`TargetWrite`] and the ledger writer.

pub mod batch;
pub mod ledger;
pub mod report;
pub mod run;
pub mod writeback;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream::{self, StreamExt};
use time::OffsetDateTime;

pub use ledger::LedgerWriter;
use mapsync_core::current::Current;
use mapsync_core::diff::FieldHashes;
use mapsync_core::document::MetafieldDescription;
use mapsync_core::source::Entity;
use mapsync_core::target::{ErrorKind, TargetError, TargetWrite, Uploads, WriteContext, Written};
use mapsync_plan::reconcile::{Action, Change, MassDelete, Plan, PlannedDocument};
use mapsync_plan::spool::DocumentSpool;
use mapsync_state::{Change as LedgerChange, LedgerUpdate};
pub use report::{ItemReport, RunSummary, Status};

/// Why a run stopped before or while changing the target.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// `max_deletes` exceeded and `--allow-mass-delete` not given.
    #[error("{}", mass_delete_message(.0))]
    MassDelete(Vec<MassDelete>),
    /// Metafield definitions could not be prepared (nothing was changed).
    #[error("cannot prepare the metafield definitions of {entity}s (needed for `@description` values): {message}; nothing was changed. Check that the access token may write metafield definitions, or remove the `@description` mappings")]
    Definitions {
        /// Which entity's definitions.
        entity: &'static str,
        /// The target's error.
        message: String,
    },
    /// Interrupted (Ctrl-C): the items in flight finished and were recorded,
    /// no new one started.
    #[error("interrupted after {done} of {total} changes; every finished item is recorded, run again to resume")]
    Interrupted {
        /// Changes done (or failed) before the stop.
        done: usize,
        /// Changes planned.
        total: usize,
    },
    /// The ledger writer stopped (a failed commit); the run stops so that no
    /// change goes unrecorded.
    #[error("the state store stopped recording outcomes; the run was stopped (see the error that follows)")]
    LedgerStopped,
    /// A batch import's handle could not be written to or removed from the
    /// state store.
    #[error("state store (batch imports): {0}")]
    Journal(#[source] mapsync_state::StateError),
}

fn mass_delete_message(m: &[MassDelete]) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|m| {
            format!(
                "{} of {} {} items would be deleted or deactivated, above max_deletes ({}, at most {})",
                m.planned,
                m.target_items,
                m.entity.as_str(),
                m.limit,
                m.allowed
            )
        })
        .collect();
    format!(
        "{}; nothing was changed. Check the source, or pass --allow-mass-delete",
        parts.join("; ")
    )
}

/// How the executor runs (from the mapping set's settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    /// Items per chunk.
    pub chunk_size: usize,
    /// Items in flight.
    pub concurrency: usize,
    /// KeepExistingVariantData.
    pub keep_existing_variant_data: bool,
    /// SyncKeepDeletedMetafields of categories.
    pub keep_deleted_category_metafields: bool,
    /// SyncKeepDeletedMetafields of products.
    pub keep_deleted_product_metafields: bool,
    /// `--allow-mass-delete`.
    pub allow_mass_delete: bool,
}

/// Progress of a run, for a progress bar (the CLI's) or nothing.
pub trait Progress: Send + Sync {
    /// The number of items with a change to make.
    fn start(&self, total: u64);
    /// One item finished.
    fn item_done(&self, entity: Entity, key: Option<&str>, ok: bool);
    /// The run is over.
    fn finish(&self);
}

/// No progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn item_done(&self, _: Entity, _: Option<&str>, _: bool) {}
    fn finish(&self) {}
}

/// Documents of a plan's create and update changes, in plan order.
#[derive(Debug)]
pub enum Documents {
    /// In memory (a plan file).
    Memory(Vec<PlannedDocument>),
    /// On disk, read one at a time (a fresh plan).
    Spool(DocumentSpool),
}

/// The wanted metafield definitions: (entity, namespace, key) → the
/// description, with the type the documents' values of it have.
type Definitions = BTreeMap<(Entity, String, String), (MetafieldDescription, Option<String>)>;

/// What the definitions step reads of a spooled document: the rest of it
/// is skipped, not built.
#[derive(serde::Deserialize)]
struct DefinitionsOf {
    document: DefinitionsDoc,
}

#[derive(serde::Deserialize)]
struct DefinitionsDoc {
    entity: Entity,
    #[serde(default)]
    metafield_descriptions: Vec<MetafieldDescription>,
    #[serde(default)]
    metafields: Vec<MetafieldType>,
}

#[derive(serde::Deserialize)]
struct MetafieldType {
    namespace: String,
    key: String,
    #[serde(rename = "type")]
    ty: String,
}

impl Documents {
    /// The metafield definitions the documents want, in one pass. A
    /// spooled document is read only for its descriptions and metafield
    /// types; one that cannot be read is left to its item, which fails
    /// with the reason.
    fn definitions(&self) -> Definitions {
        /// A metafield's namespace, key and type, however it was read.
        trait Typed {
            fn parts(&self) -> (&str, &str, &str);
        }
        impl Typed for mapsync_core::document::MetafieldValue {
            fn parts(&self) -> (&str, &str, &str) {
                (&self.namespace, &self.key, &self.ty)
            }
        }
        impl Typed for MetafieldType {
            fn parts(&self) -> (&str, &str, &str) {
                (&self.namespace, &self.key, &self.ty)
            }
        }
        /// Adds one document's descriptions, typed from its metafields.
        fn add<T: Typed>(
            wanted: &mut Definitions,
            entity: Entity,
            descriptions: &[MetafieldDescription],
            metafields: &[T],
        ) {
            for m in descriptions {
                let slot = wanted
                    .entry((entity, m.namespace.clone(), m.key.clone()))
                    .or_insert_with(|| (m.clone(), None));
                if slot.1.is_none() {
                    slot.1 = metafields
                        .iter()
                        .map(Typed::parts)
                        .find(|(ns, key, _)| *ns == m.namespace && *key == m.key)
                        .map(|(_, _, ty)| ty.to_string());
                }
            }
        }
        let mut wanted = Definitions::new();
        match self {
            Documents::Memory(v) => {
                for d in v.iter().map(|d| &d.document) {
                    add(
                        &mut wanted,
                        d.entity,
                        &d.metafield_descriptions,
                        &d.metafields,
                    );
                }
            }
            Documents::Spool(s) => {
                let mut it = s.iter();
                while let Some(line) = it.next_raw() {
                    let Ok(line) = line else { continue };
                    let Ok(DefinitionsOf { document: d }) = serde_json::from_slice(&line) else {
                        continue;
                    };
                    add(
                        &mut wanted,
                        d.entity,
                        &d.metafield_descriptions,
                        &d.metafields,
                    );
                }
            }
        }
        wanted
    }

    /// The documents in plan order.
    fn iter(&self) -> Box<dyn Iterator<Item = Result<PlannedDocument, String>> + '_> {
        match self {
            Documents::Memory(v) => Box::new(v.iter().cloned().map(Ok)),
            Documents::Spool(s) => Box::new(
                s.iter()
                    .map(|r| r.map_err(|e| format!("cannot read the planned document: {e}"))),
            ),
        }
    }
}

/// What one run applies.
#[derive(Debug)]
pub struct Job<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// Documents of the plan's create and update changes, in plan order.
    pub documents: Documents,
    /// Reference location name → target location id.
    pub locations: BTreeMap<String, String>,
    /// How to run.
    pub options: ExecOptions,
    /// Where batch imports are journaled; without it, every item takes the
    /// per-item path.
    pub journal: Option<batch::BatchJournal>,
    /// Files already uploaded to the target (the state store's upload
    /// cache), handed to the connector in the write context.
    pub uploads: Uploads,
    /// Drift seen while applying: `sync` with `on_drift: overwrite` plans
    /// without reading the target's current state (the executor reads it
    /// anyway, right before writing), so the executor compares that state
    /// with the field hashes of the ledger. `None`: the plan says it all
    /// (`plan` read the state; `keep` and `fail` need it before writing).
    pub watch: Option<DriftWatch>,
    /// Where the values of two-way fields pulled from the target go: the
    /// source's write side. `None` when the source cannot be written (a
    /// plan with a pull then fails those items).
    pub pulls: Option<Pulls>,
}

/// The source's write side, for pulls (docs/two-way.md).
#[derive(Clone)]
pub struct Pulls {
    /// The source's write side.
    pub source: std::sync::Arc<dyn mapsync_core::source::SourceWrite>,
    /// The write-back fields per entity (SyncID, SyncDate, SyncMsg go in
    /// the same request as the pulled values).
    pub fields: BTreeMap<Entity, mapsync_core::source::WritebackFields>,
    /// Where an item written back with its pulls is noted, so that its
    /// outcome's write-back sends nothing more.
    pub written: Option<writeback::WrittenBack>,
}

impl std::fmt::Debug for Pulls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pulls")
            .field("entities", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Pulls {
    /// Writes the values `c` pulls, as `doc` holds them, to the source
    /// (one request for the item), before its outcome is recorded: a run
    /// stopped in between finds both sides equal next time, never the
    /// synced value moved without the source holding it.
    async fn write(
        &self,
        c: &Change,
        doc: &mapsync_core::document::Document,
        target_id: &str,
    ) -> Result<u32, ItemError> {
        let pulled: Vec<&mapsync_plan::reconcile::TwoWayEntry> = c.pulls().collect();
        let paths: Vec<String> = pulled.iter().map(|e| e.field.clone()).collect();
        let values = mapsync_core::diff::document_values(doc, &paths);
        let item = mapsync_core::source::WriteBack {
            key: doc.key.clone(),
            sync_id: Some(target_id.to_string()),
            sync_date: OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .ok(),
            sync_msg: String::new(),
            values: pulled
                .iter()
                .map(|e| {
                    let v = values.get(&e.field).cloned().unwrap_or_default();
                    (e.source_path.clone(), v)
                })
                .collect(),
        };
        let fields = self.fields.get(&c.entity).cloned().unwrap_or_default();
        let r = self
            .source
            .write_back(c.entity, &fields, std::slice::from_ref(&item))
            .await;
        match r.items.into_iter().next() {
            Some(Ok(())) => {
                if let Some(w) = &self.written {
                    w.insert(c.entity, &item.key);
                }
                Ok(r.requests)
            }
            Some(Err(m)) => Err(ItemError::new(
                ErrorKind::Failed,
                format!("the target's values of {} could not be written to the source: {m}; the next run tries again", paths.join(", ")),
            )),
            None => Err(ItemError::new(
                ErrorKind::OutcomeUnknown,
                format!("the source gave no answer for the pulled values of {}; the next run tries again", paths.join(", ")),
            )),
        }
    }
}

/// Where the field hashes of the items being updated come from (see
/// [`Job::watch`]).
#[derive(Debug)]
pub struct DriftWatch {
    /// The state store.
    pub state: mapsync_statedb::StateDb,
    /// The profile's channel.
    pub channel: String,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Counts.
    pub summary: RunSummary,
    /// Items that had a change to make, failed or were invalid.
    pub items: Vec<ItemReport>,
}

/// One item's work, ready to run.
struct Work<'a> {
    change: &'a Change,
    doc: Result<PlannedDocument, String>,
}

/// Apply `job` to `target`, recording every outcome with `ledger`. When
/// `stop` becomes true (Ctrl-C), no new chunk or deletion starts; the items
/// in flight finish and are recorded, then [`ExecError::Interrupted`].
pub async fn execute(
    target: &dyn TargetWrite,
    job: Job<'_>,
    ledger: &LedgerWriter,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<Outcome, ExecError> {
    let plan = job.plan;
    if !plan.mass_delete.is_empty() && !job.options.allow_mass_delete {
        return Err(ExecError::MassDelete(plan.mass_delete.clone()));
    }
    prepare_definitions(target, &job.documents).await?;

    let mut out = Outcome::default();
    let total = plan.changes.iter().filter(|c| c.action.is_change()).count();
    progress.start(total as u64);
    record_unchanged(plan, ledger, &mut out)?;
    out.summary.drift = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Update)
        .map(|c| c.drift.len())
        .sum();

    // Create and update changes with their documents, in plan order
    // (categories first), read one at a time.
    let category_upserts = plan
        .changes
        .iter()
        .filter(|c| is_upsert(c) && c.entity == Entity::Category)
        .count();
    let mut upserts = upsert_work(plan, &job.documents);

    // Categories.
    let base = WriteContext {
        locations: job.locations.clone(),
        categories: BTreeMap::new(),
        keep_existing_variant_data: job.options.keep_existing_variant_data,
        keep_deleted_metafields: job.options.keep_deleted_category_metafields,
        uploads: job.uploads.clone(),
    };
    let mut category_ids = known_category_ids(plan);
    let running = Running {
        ledger,
        progress,
        stop,
        watch: job.watch.as_ref(),
        pulls: job.pulls.as_ref(),
    };
    let work = upserts.by_ref().take(category_upserts);
    match target.capabilities().category_parent {
        // Categories nest: parents first, each wave knowing the ids of the
        // waves before it.
        Some(parent) => {
            for wave in parent_waves(work.collect(), parent) {
                let ctx = WriteContext {
                    categories: category_ids.clone(),
                    ..base.clone()
                };
                let done =
                    run_upserts(target, wave.into_iter(), &ctx, &job.options, &running).await?;
                for item in done {
                    if let (Status::Ok, Some(k), Some(id)) =
                        (item.status, &item.key, &item.target_id)
                    {
                        category_ids.insert(k.clone(), id.clone());
                    }
                    record(&mut out, item);
                }
            }
        }
        None => {
            let done = run_upserts(target, work, &base, &job.options, &running).await?;
            for item in done {
                if let (Status::Ok, Some(k), Some(id)) = (item.status, &item.key, &item.target_id) {
                    category_ids.insert(k.clone(), id.clone());
                }
                record(&mut out, item);
            }
        }
    }

    // Products, related only to categories known on both sides.
    let ctx = WriteContext {
        categories: category_ids,
        keep_deleted_metafields: job.options.keep_deleted_product_metafields,
        ..base
    };
    let product_upserts = plan
        .changes
        .iter()
        .filter(|c| is_upsert(c) && c.entity == Entity::Product)
        .count();
    let batch = target
        .batch()
        .filter(|b| product_upserts > 0 && product_upserts >= b.threshold());
    match (batch, &job.journal) {
        (Some(batch), Some(journal)) => {
            tracing::info!(
                items = product_upserts,
                threshold = batch.threshold(),
                "product creates and updates go through batch imports"
            );
            let cx = batch::Recording {
                ledger,
                journal,
                progress,
                stop,
            };
            // An item whose drift is kept or fails goes on its own after
            // the batch: a batch line writes the whole document.
            let held = std::cell::RefCell::new(Vec::new());
            let batched = upserts.filter_map(|w| {
                if w.change.drift_held() || w.change.pulls().next().is_some() {
                    held.borrow_mut().push(w);
                    None
                } else {
                    Some(w)
                }
            });
            let done = batch::run_batched(
                target,
                batch,
                Entity::Product,
                batched,
                &ctx,
                &job.options,
                &cx,
            )
            .await?;
            for item in done {
                record(&mut out, item);
            }
            let held = held.into_inner().into_iter();
            let opts = &job.options;
            for item in run_upserts(target, held, &ctx, opts, &running).await? {
                record(&mut out, item);
            }
        }
        _ => {
            for item in run_upserts(target, upserts, &ctx, &job.options, &running).await? {
                record(&mut out, item);
            }
        }
    }

    // Deletions last: products, then categories.
    let concurrency = job.options.concurrency.max(1);
    for entity in [Entity::Product, Entity::Category] {
        let removals = plan
            .changes
            .iter()
            .filter(|c| {
                c.entity == entity && matches!(c.action, Action::Delete | Action::Deactivate)
            })
            .take_while(|_| !stop.load(Ordering::Relaxed));
        let results: Vec<Result<ItemReport, ExecError>> = stream::iter(removals)
            .map(|c| async move {
                let item = remove_one(target, c).await;
                finish_item(ledger, progress, c, item)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for r in results {
            record(&mut out, r?);
        }
    }
    progress.finish();
    if stop.load(Ordering::Relaxed) {
        let done = out.items.iter().filter(|i| i.action.is_change()).count();
        if done < total {
            tracing::warn!(done, total, "run interrupted");
            return Err(ExecError::Interrupted { done, total });
        }
    }
    Ok(out)
}

/// Metafield definitions first: a failure here is a configuration problem
/// and stops the run before any item changes. One pass over the documents
/// collects each description with the type its values have.
async fn prepare_definitions(
    target: &dyn TargetWrite,
    documents: &Documents,
) -> Result<(), ExecError> {
    let wanted = documents.definitions();
    for entity in [Entity::Category, Entity::Product] {
        let list: Vec<(MetafieldDescription, Option<String>)> = wanted
            .iter()
            .filter(|((e, _, _), _)| *e == entity)
            .map(|(_, v)| v.clone())
            .collect();
        if list.is_empty() {
            continue;
        }
        target
            .ensure_definitions(entity, &list)
            .await
            .map_err(|e| ExecError::Definitions {
                entity: entity.as_str(),
                message: e.to_string(),
            })?;
    }
    Ok(())
}

/// Items without a change: counted, and invalid ones explained (in the
/// report and, as SyncMsg, in the ledger).
fn record_unchanged(
    plan: &Plan,
    ledger: &LedgerWriter,
    out: &mut Outcome,
) -> Result<(), ExecError> {
    for c in plan.changes.iter().filter(|c| !c.action.is_change()) {
        if c.action != Action::Invalid {
            out.summary.add(c.action, Status::Ok);
            continue;
        }
        out.summary.invalid += 1;
        if c.two_way
            .iter()
            .any(|e| e.action == mapsync_core::two_way::Action::Hold)
        {
            out.summary.held += 1;
        }
        let message = c
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let message = if message.is_empty() {
            c.reason.to_string()
        } else {
            message
        };
        if let Some(key) = &c.key {
            let failure = LedgerChange::Failure {
                target_id: None,
                message: message.clone(),
            };
            send(ledger, c.entity, key, failure)?;
        }
        out.items.push(ItemReport {
            entity: c.entity,
            key: c.key.clone(),
            action: c.action,
            status: Status::Failed,
            target_id: c.target_id.clone(),
            message: Some(message),
            error: None,
            requests: 0,
            drift: 0,
            pulled: 0,
        });
    }
    Ok(())
}

fn is_upsert(c: &Change) -> bool {
    matches!(c.action, Action::Create | Action::Update)
}

/// The create and update changes, each with its document (read lazily, in
/// plan order) or why it has none.
fn upsert_work<'a>(
    plan: &'a Plan,
    documents: &'a Documents,
) -> impl Iterator<Item = Work<'a>> + 'a {
    let missing = std::iter::repeat_with(|| {
        Err("the plan has fewer documents than changes; make a new plan".to_string())
    });
    plan.changes
        .iter()
        .filter(|c| is_upsert(c))
        .zip(documents.iter().chain(missing))
        .map(|(change, doc)| Work {
            change,
            doc: doc.and_then(|d| {
                if d.document.entity == change.entity
                    && change.key.as_deref() == Some(d.document.key.as_str())
                {
                    Ok(d)
                } else {
                    Err(format!(
                        "the plan's documents are out of order (found {} `{}`); make a new plan",
                        d.document.entity.as_str(),
                        d.document.key
                    ))
                }
            }),
        })
}

/// Category work in waves for a target whose categories nest: an item
/// whose `parent` field names another key of `work` comes in a wave after
/// that key's. Items whose parent is not among them (a root, or a category
/// already in the target) form the first wave; items caught in a parent
/// cycle come last, in plan order (the target refuses or roots them).
/// Plan order is kept inside each wave.
fn parent_waves<'a>(work: Vec<Work<'a>>, parent: &str) -> Vec<Vec<Work<'a>>> {
    let parent_of = |w: &Work<'_>| -> Option<String> {
        let doc = &w.doc.as_ref().ok()?.document;
        let p = match doc.fields.get(parent)? {
            serde_json::Value::String(s) => s.trim().to_owned(),
            serde_json::Value::Null => return None,
            v => v.to_string(),
        };
        (!p.is_empty() && p != doc.key).then_some(p)
    };
    let keys: std::collections::BTreeSet<String> =
        work.iter().filter_map(|w| w.change.key.clone()).collect();
    let mut pending: Vec<(Option<String>, Work<'a>)> = work
        .into_iter()
        .map(|w| (parent_of(&w).filter(|p| keys.contains(p)), w))
        .collect();
    let mut placed = std::collections::BTreeSet::new();
    let mut waves = Vec::new();
    while !pending.is_empty() {
        let (ready, rest): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(p, _)| p.as_ref().is_none_or(|p| placed.contains(p)));
        if ready.is_empty() {
            // A cycle: what is left goes as one last wave.
            waves.push(rest.into_iter().map(|(_, w)| w).collect());
            break;
        }
        let wave: Vec<Work<'a>> = ready.into_iter().map(|(_, w)| w).collect();
        placed.extend(wave.iter().filter_map(|w| w.change.key.clone()));
        waves.push(wave);
        pending = rest;
    }
    waves
}

/// Categories already in the target that stay there (not deleted,
/// deactivated, invalid or deselected), by key: products may join them.
fn known_category_ids(plan: &Plan) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.entity == Entity::Category) {
        if let (Some(k), Some(id)) = (&c.key, &c.target_id) {
            if !matches!(
                c.action,
                Action::Delete | Action::Deactivate | Action::Invalid
            ) && c.rule != "category.update.deselected"
            {
                ids.insert(k.clone(), id.clone());
            }
        }
    }
    ids
}

fn record(out: &mut Outcome, item: ItemReport) {
    out.summary.add(item.action, item.status);
    out.summary.drift += item.drift;
    out.summary.pulled += item.pulled;
    out.items.push(item);
}

fn send(
    ledger: &LedgerWriter,
    entity: Entity,
    key: &str,
    change: LedgerChange,
) -> Result<(), ExecError> {
    if ledger.send(LedgerUpdate {
        entity,
        key: key.to_string(),
        change,
    }) {
        Ok(())
    } else {
        Err(ExecError::LedgerStopped)
    }
}

/// The result of one item's target call(s), before it is recorded.
struct Done {
    written: Result<Written, ItemError>,
    hash: Option<String>,
    /// Drift written over, seen while applying ([`Job::watch`]).
    drift: Vec<String>,
}

/// Creates and updates of one entity, chunk by chunk; the full state of
/// the next chunk's updates is read while the current chunk runs.
async fn run_upserts<'a>(
    target: &dyn TargetWrite,
    work: impl Iterator<Item = Work<'a>>,
    ctx: &WriteContext,
    options: &ExecOptions,
    running: &Running<'_>,
) -> Result<Vec<ItemReport>, ExecError> {
    let concurrency = options.concurrency.max(1);
    let mut reports = Vec::new();
    let mut loaded = loaded_chunks(
        target,
        work,
        options.chunk_size,
        running.stop,
        running.watch,
    );
    while let Some((chunk, current)) = loaded.next().await {
        let cx = ChunkCx {
            target,
            ctx,
            concurrency,
            ledger: running.ledger,
            progress: running.progress,
            pulls: running.pulls,
        };
        reports.extend(run_chunk(&cx, chunk, &current).await?);
    }
    Ok(reports)
}

/// Where a run's outcomes go, when it stops, and where drift is watched.
struct Running<'c> {
    ledger: &'c LedgerWriter,
    progress: &'c dyn Progress,
    stop: &'c AtomicBool,
    watch: Option<&'c DriftWatch>,
    pulls: Option<&'c Pulls>,
}

/// `work` cut into chunks of `chunk_size` as they are needed, each with the
/// current state of its updates; two chunks are read ahead of the one
/// that runs (only those hold their documents). No new chunk after `stop`.
fn loaded_chunks<'a, 't>(
    target: &'t dyn TargetWrite,
    work: impl Iterator<Item = Work<'a>> + 't,
    chunk_size: usize,
    stop: &'t AtomicBool,
    watch: Option<&'t DriftWatch>,
) -> impl futures::Stream<Item = (Vec<Work<'a>>, Loaded)> + 't
where
    'a: 't,
{
    let chunk_size = chunk_size.max(1);
    let mut work = work.peekable();
    let chunks = std::iter::from_fn(move || {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        work.peek()?;
        Some(work.by_ref().take(chunk_size).collect::<Vec<Work<'a>>>())
    });
    stream::iter(chunks)
        .map(move |chunk| async move {
            let mut current = read_current(target, &chunk).await;
            if let (Loaded::Items(_, watched), Some(watch)) = (&mut current, watch) {
                *watched = watched_hashes(watch, &chunk).await;
            }
            (chunk, current)
        })
        .buffered(2)
}

/// What running a chunk's items one by one needs.
struct ChunkCx<'c> {
    target: &'c dyn TargetWrite,
    ctx: &'c WriteContext,
    concurrency: usize,
    ledger: &'c LedgerWriter,
    progress: &'c dyn Progress,
    pulls: Option<&'c Pulls>,
}

/// Writes an item's pulled values to the source (see [`Pulls::write`]).
async fn pull(
    pulls: Option<&Pulls>,
    c: &Change,
    doc: &mapsync_core::document::Document,
    target_id: &str,
) -> Result<u32, ItemError> {
    match pulls {
        Some(p) => p.write(c, doc, target_id).await,
        None => Err(ItemError::new(
            ErrorKind::Config,
            "the plan pulls values from the target, but the profile's source cannot be written: give the source a `writeback:` request for this entity (docs/rest.md), or map the field `direction: to_target`",
        )),
    }
}

/// One chunk's creates and updates, one call per item, `concurrency` in
/// flight; each outcome recorded as it finishes.
async fn run_chunk(
    cx: &ChunkCx<'_>,
    chunk: Vec<Work<'_>>,
    current: &Loaded,
) -> Result<Vec<ItemReport>, ExecError> {
    let ChunkCx {
        target,
        ctx,
        concurrency,
        ledger,
        progress,
        pulls,
    } = *cx;
    let results: Vec<Result<ItemReport, ExecError>> = stream::iter(chunk)
        .map(|w| async move {
            let (mut done, drift, taken) = upsert_one(target, &w, current, ctx).await;
            let rules = target.capabilities().compare;
            let mut hash = w.doc.as_ref().ok().map(|d| d.hash.clone());
            // The hash of each field written: drift is seen against them.
            let mut fields = w
                .doc
                .as_ref()
                .ok()
                .map(|d| mapsync_core::diff::written_hashes(&d.document, &rules));
            if let (Ok(written), Some(doc)) = (&mut done, &taken) {
                // Two-way pulls: the source takes the target's values, and
                // the item is recorded as the document it now compiles to.
                match pull(pulls, w.change, doc, &written.target_id).await {
                    Ok(requests) => {
                        written.requests += requests;
                        hash = Some(mapsync_plan::compile::document_hash(doc));
                        let mut written_fields = mapsync_core::diff::written_hashes(doc, &rules);
                        for e in w.change.pulls() {
                            written_fields
                                .entry(mapsync_core::diff::field_key(&e.field))
                                .or_insert_with(|| {
                                    mapsync_core::diff::field_hash(&serde_json::Value::Null)
                                });
                        }
                        fields = Some(written_fields);
                    }
                    Err(e) => done = Err(e),
                }
            }
            let item = Done {
                written: done,
                hash,
                drift,
            };
            finish_upsert_with(ledger, progress, w.change, item, fields)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Why one item failed, with the kind of failure the target reported
/// (refused input, transient, gone, outcome unknown...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The item's SyncMsg.
    pub message: String,
}

impl ItemError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> ItemError {
        ItemError {
            kind,
            message: message.into(),
        }
    }
}

impl From<TargetError> for ItemError {
    fn from(e: TargetError) -> ItemError {
        ItemError::new(e.kind, e.to_string())
    }
}

/// The target's current state of a chunk's update items, or why it could
/// not be read (every update of the chunk then fails with that message).
enum Loaded {
    /// By target id; and the field hashes of the ledger by item key, for
    /// the items whose drift is watched ([`Job::watch`]).
    Items(HashMap<String, Current>, HashMap<String, FieldHashes>),
    Failed(ItemError),
    None,
}

async fn read_current(target: &dyn TargetWrite, chunk: &[Work<'_>]) -> Loaded {
    let ids: Vec<String> = chunk
        .iter()
        .filter(|w| w.change.action == Action::Update)
        .filter_map(|w| w.change.target_id.clone())
        .collect();
    let Some(first) = chunk.first() else {
        return Loaded::None;
    };
    if ids.is_empty() {
        return Loaded::None;
    }
    match target.read_current(first.change.entity, &ids).await {
        Ok(v) => Loaded::Items(
            v.into_iter().map(|c| (c.id.clone(), c)).collect(),
            HashMap::new(),
        ),
        Err(e) => Loaded::Failed(ItemError::new(
            e.kind,
            format!("cannot read the current state: {e}"),
        )),
    }
}

/// The field hashes the ledger holds for the chunk's updates whose plan
/// says nothing of drift. A state store that cannot answer costs the
/// watch, not the items: they are written as planned.
async fn watched_hashes(watch: &DriftWatch, chunk: &[Work<'_>]) -> HashMap<String, FieldHashes> {
    let Some(first) = chunk.first() else {
        return HashMap::new();
    };
    let keys: Vec<String> = chunk
        .iter()
        .filter(|w| w.change.action == Action::Update && w.change.drift.is_empty())
        .filter_map(|w| w.change.key.clone())
        .collect();
    if keys.is_empty() {
        return HashMap::new();
    }
    match watch
        .state
        .field_hashes(&watch.channel, first.change.entity, keys)
        .await
    {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the field hashes of the ledger: drift is not watched for these items");
            HashMap::new()
        }
    }
}

/// Drift an update is about to write over, seen against the state read
/// before writing ([`Job::watch`]): described for the item's message.
fn seen_drift(
    target: &dyn TargetWrite,
    c: &Change,
    doc: &mapsync_core::document::Document,
    cur: &Current,
    watched: &HashMap<String, FieldHashes>,
) -> Vec<String> {
    let Some(stored) = c.key.as_ref().and_then(|k| watched.get(k)) else {
        return Vec::new();
    };
    let rules = target.capabilities().compare;
    mapsync_core::diff::drift(doc, cur, &rules, stored)
        .into_iter()
        .filter(|d| !c.two_way.iter().any(|e| e.field == d.field))
        .map(|d| {
            let entry = mapsync_plan::reconcile::DriftEntry {
                field: d.field,
                store: d.store,
                new: d.new,
                on_drift: mapsync_core::diff::OnDrift::Overwrite,
            };
            format!("drift: {}; {}", entry.describe(), entry.outcome())
        })
        .collect()
}

/// One create or update; with the drift it wrote over, when watched
/// ([`Job::watch`]), and the document as written when two-way fields
/// took the target's values (pulls, docs/two-way.md).
async fn upsert_one(
    target: &dyn TargetWrite,
    w: &Work<'_>,
    current: &Loaded,
    ctx: &WriteContext,
) -> (
    Result<Written, ItemError>,
    Vec<String>,
    Option<mapsync_core::document::Document>,
) {
    let c = w.change;
    let doc = match w.doc.as_ref() {
        Ok(d) => d,
        Err(m) => {
            return (
                Err(ItemError::new(ErrorKind::Failed, m.clone())),
                Vec::new(),
                None,
            )
        }
    };
    let published = doc.control.published;
    if c.action == Action::Create {
        let r = target.create(&doc.document, published, ctx).await;
        return (r.map_err(ItemError::from), Vec::new(), None);
    }
    let id = c.target_id.as_deref().unwrap_or_default();
    // Drift (settings.on_drift): `fail` writes nothing, `keep` leaves the
    // drifted fields as the store has them.
    if c.drift_fails() {
        let code = mapsync_core::diag::codes::RECONCILE_DRIFT.name;
        let e = ItemError::new(ErrorKind::Failed, format!("{code}: {}", c.drift_message()));
        return (Err(e), Vec::new(), None);
    }
    match current {
        Loaded::Failed(e) => (Err(e.clone()), Vec::new(), None),
        Loaded::Items(map, watched) => match map.get(id) {
            Some(cur) => {
                let kept = c.kept_fields();
                let taken = c.taken_fields();
                if kept.is_empty() && taken.is_empty() {
                    let seen = seen_drift(target, c, &doc.document, cur, watched);
                    let r = target.update(cur, &doc.document, published, ctx).await;
                    return (r.map_err(ItemError::from), seen, None);
                }
                let rules = target.capabilities().compare;
                let kept_doc = mapsync_core::diff::keep_current(&doc.document, cur, &rules, &kept);
                if taken.is_empty() {
                    let r = target.update(cur, &kept_doc, published, ctx).await;
                    return (r.map_err(ItemError::from), Vec::new(), None);
                }
                let taken_doc = mapsync_core::diff::take_target(&kept_doc, cur, &rules, &taken);
                let r = target.update(cur, &taken_doc, published, ctx).await;
                (r.map_err(ItemError::from), Vec::new(), Some(taken_doc))
            }
            None => (Err(gone(id)), Vec::new(), None),
        },
        Loaded::None => (Err(gone(id)), Vec::new(), None),
    }
}

/// An update whose item is no longer in the target.
fn gone(id: &str) -> ItemError {
    ItemError::new(
        ErrorKind::Gone,
        format!(
            "{id} is no longer in the target (deleted since the plan was made); the next run creates it again"
        ),
    )
}

fn finish_upsert(
    ledger: &LedgerWriter,
    progress: &dyn Progress,
    c: &Change,
    done: Done,
) -> Result<ItemReport, ExecError> {
    finish_upsert_with(ledger, progress, c, done, None)
}

/// [`finish_upsert`], recording the hash of each field written when
/// `fields` has them.
fn finish_upsert_with(
    ledger: &LedgerWriter,
    progress: &dyn Progress,
    c: &Change,
    done: Done,
    fields: Option<mapsync_core::diff::FieldHashes>,
) -> Result<ItemReport, ExecError> {
    let now = OffsetDateTime::now_utc();
    let finished = match done.written {
        Ok(w) => {
            if let Some(key) = &c.key {
                send(
                    ledger,
                    c.entity,
                    key,
                    match fields {
                        Some(fields) => LedgerChange::Wrote {
                            target_id: w.target_id.clone(),
                            hash: done.hash.unwrap_or_default(),
                            date: now,
                            fields,
                        },
                        None => LedgerChange::Success {
                            target_id: w.target_id.clone(),
                            hash: done.hash.unwrap_or_default(),
                            date: now,
                        },
                    },
                )?;
            }
            let note = w
                .adopted
                .then(|| "created; the answer was lost and the item was found again by its ownership marker".to_string())
                .or_else(|| {
                    let drift: Vec<String> = c
                        .drift
                        .iter()
                        .map(|d| format!("drift: {}; {}", d.describe(), d.outcome()))
                        .chain(done.drift.iter().cloned())
                        .collect();
                    (!drift.is_empty()).then(|| drift.join("; "))
                });
            Finished {
                status: Status::Ok,
                target_id: Some(w.target_id),
                message: note,
                kind: None,
                requests: w.requests,
                drift: done.drift.len(),
            }
        }
        Err(e) => {
            if let Some(key) = &c.key {
                send(
                    ledger,
                    c.entity,
                    key,
                    LedgerChange::Failure {
                        target_id: c.target_id.clone(),
                        message: e.message.clone(),
                    },
                )?;
            }
            Finished::failed(c, e)
        }
    };
    Ok(item_done(progress, c, finished))
}

/// How one item ended.
struct Finished {
    status: Status,
    target_id: Option<String>,
    message: Option<String>,
    kind: Option<ErrorKind>,
    requests: u32,
    /// Drifted fields written over, seen while applying.
    drift: usize,
}

impl Finished {
    fn failed(c: &Change, e: ItemError) -> Finished {
        Finished {
            status: Status::Failed,
            target_id: c.target_id.clone(),
            message: Some(e.message),
            kind: Some(e.kind),
            requests: 0,
            drift: 0,
        }
    }
}

/// Log, count and report one finished item.
fn item_done(progress: &dyn Progress, c: &Change, f: Finished) -> ItemReport {
    log_item(c, &f);
    progress.item_done(c.entity, c.key.as_deref(), f.status == Status::Ok);
    ItemReport {
        entity: c.entity,
        key: c.key.clone(),
        action: c.action,
        status: f.status,
        target_id: f.target_id,
        message: f.message,
        error: f.kind,
        requests: f.requests,
        drift: f.drift,
        pulled: if f.status == Status::Ok {
            c.pulls().count()
        } else {
            0
        },
    }
}

async fn remove_one(target: &dyn TargetWrite, c: &Change) -> Result<Written, ItemError> {
    let Some(id) = c.target_id.as_deref() else {
        return Err(ItemError::new(
            ErrorKind::Failed,
            "the plan has no target id for this item; make a new plan",
        ));
    };
    let r = if c.action == Action::Delete {
        target.delete(c.entity, id).await
    } else {
        target.deactivate(c.entity, id).await
    };
    Ok(r?)
}

fn finish_item(
    ledger: &LedgerWriter,
    progress: &dyn Progress,
    c: &Change,
    r: Result<Written, ItemError>,
) -> Result<ItemReport, ExecError> {
    if let Some(key) = &c.key {
        let change = match (&r, c.action) {
            (Ok(_), Action::Delete) => LedgerChange::Forget,
            // Still in the target, unpublished: remembered with no hash so
            // that a record selected again is updated.
            (Ok(w), _) => LedgerChange::Success {
                target_id: w.target_id.clone(),
                hash: String::new(),
                date: OffsetDateTime::now_utc(),
            },
            (Err(e), _) => LedgerChange::Failure {
                target_id: c.target_id.clone(),
                message: e.message.clone(),
            },
        };
        send(ledger, c.entity, key, change)?;
    }
    let finished = match r {
        Ok(w) => Finished {
            status: Status::Ok,
            target_id: c.target_id.clone(),
            message: None,
            kind: None,
            requests: w.requests,
            drift: 0,
        },
        Err(e) => Finished::failed(c, e),
    };
    Ok(item_done(progress, c, finished))
}

/// One line per finished item: info when done, a warning when it failed.
fn log_item(c: &Change, f: &Finished) {
    let entity = c.entity.as_str();
    let key = c.key.as_deref().unwrap_or("-");
    let action = c.action.as_str();
    let target_id = f.target_id.as_deref().unwrap_or("-");
    let requests = f.requests;
    match f.status {
        Status::Ok => tracing::info!(entity, key, action, target_id, requests, "item synced"),
        Status::Failed => tracing::warn!(
            entity,
            key,
            action,
            target_id,
            kind = f.kind.map(ErrorKind::as_str).unwrap_or(""),
            message = f.message.as_deref().unwrap_or(""),
            "item failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_core::document::Document;
    use mapsync_plan::reconcile::PlannedDocument;

    fn change(key: &str) -> Change {
        Change {
            entity: Entity::Category,
            key: Some(key.into()),
            target_id: None,
            action: Action::Create,
            rule: "category.create".into(),
            reason: "".into(),
            diff: Vec::new(),
            diagnostics: Vec::new(),
            drift: Vec::new(),
            two_way: Vec::new(),
        }
    }

    fn doc(key: &str, parent: Option<&str>) -> Result<PlannedDocument, String> {
        let mut fields = BTreeMap::new();
        if let Some(p) = parent {
            fields.insert("parent".to_string(), serde_json::json!(p));
        }
        Ok(PlannedDocument {
            hash: String::new(),
            control: Default::default(),
            document: Document {
                entity: Entity::Category,
                key: key.into(),
                fields,
                metafields: Vec::new(),
                metafield_descriptions: Vec::new(),
                images: Vec::new(),
                options: Vec::new(),
                variants: Vec::new(),
                categories: Vec::new(),
            },
        })
    }

    /// (key, parent) in plan order → keys per wave.
    fn waves(items: &[(&str, Option<&str>)]) -> Vec<Vec<String>> {
        let changes: Vec<Change> = items.iter().map(|(k, _)| change(k)).collect();
        let work = changes
            .iter()
            .zip(items)
            .map(|(c, (k, p))| Work {
                change: c,
                doc: doc(k, *p),
            })
            .collect();
        parent_waves(work, "parent")
            .into_iter()
            .map(|w| w.iter().map(|w| w.change.key.clone().unwrap()).collect())
            .collect()
    }

    #[test]
    fn parents_come_before_their_children() {
        assert_eq!(
            waves(&[
                ("shirts", Some("men")),
                ("men", Some("clothes")),
                ("clothes", None),
                ("shoes", Some("in-store")), // parent already in the target
                ("hats", Some("")),
            ]),
            vec![
                vec!["clothes".to_string(), "shoes".into(), "hats".into()],
                vec!["men".into()],
                vec!["shirts".into()],
            ]
        );
    }

    #[test]
    fn a_parent_cycle_goes_last_and_ends() {
        assert_eq!(
            waves(&[
                ("a", Some("b")),
                ("b", Some("a")),
                ("c", None),
                ("d", Some("d"))
            ]),
            vec![
                vec!["c".to_string(), "d".into()],
                vec!["a".into(), "b".into()]
            ]
        );
    }
}
