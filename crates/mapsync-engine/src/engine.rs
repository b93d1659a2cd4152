//! Orchestration of a run: opens what a profile names (source, state
//! store, target — each through the connector its `type:` chose) and
//! reads the inputs of planning. All I/O here goes through the connectors
//! and `state`; the decisions are made by `plan`. Names no platform.

use std::path::Path;

use mapsync_config::check::model::MappingSet;
use mapsync_config::connector::{ClientSettings, Connection};
use mapsync_config::profile::{Endpoint, Profile};
use mapsync_core::source::{
    self as connectors, Entity, RawRecord, ReadError, ReadScope, Record, RecordItem, SourceError,
};
use mapsync_core::target::{TargetError, TargetWrite};
use mapsync_plan::spool::{DocumentSpool, SpoolError, SpoolRef, SpoolWriter, SpooledItem};
use std::sync::Arc;

/// Why a run could not start or read its inputs (the seed's critical
/// errors: nothing is changed after one of these).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The source could not be opened or read.
    #[error("source: {0}")]
    Source(#[from] SourceError),
    /// The target could not be reached or read.
    #[error("target: {0}")]
    Target(#[from] TargetError),
    /// A blocking task failed.
    #[error("internal: {0}")]
    Join(String),
}

/// A connected target (see [`Connection`]).
pub type Connected = Connection;

/// Connect to the profile's target with the default client settings.
pub async fn connect(profile: &Profile) -> Result<Connected, EngineError> {
    connect_with(profile, None).await
}

/// Connect to the profile's target through its connector; `settings`
/// (the mapping set's timeout, retries and requests in flight) tune the
/// client.
pub async fn connect_with(
    profile: &Profile,
    settings: Option<&mapsync_config::check::model::Settings>,
) -> Result<Connected, EngineError> {
    let target = &profile.target;
    let kind = target.connector.capabilities().map(|c| c.kind);
    let settings = settings.map(|s| ClientSettings {
        timeout: s.timeout,
        retries: s.retries,
        concurrency: s.concurrency,
        target: kind
            .and_then(|k| s.target.get(k))
            .cloned()
            .unwrap_or_default(),
    });
    Ok(target
        .connector
        .connect(&target.options, settings.as_ref())
        .await?)
}

/// How each entity is read this run (entities not listed: in full).
pub type Scopes = Vec<(Entity, ReadScope)>;

/// The read of `entity` in `scopes`.
pub fn scope_of(scopes: &Scopes, entity: Entity) -> ReadScope {
    scopes
        .iter()
        .find(|(e, _)| *e == entity)
        .map(|(_, s)| *s)
        .unwrap_or_default()
}

/// Opens a profile's source through its connector.
pub fn open_source(source: &Endpoint) -> Result<Box<dyn connectors::Source>, SourceError> {
    source.connector.open_source(&source.options)
}

/// Records of one entity, and the records that could not be read.
#[derive(Debug, Default)]
pub struct SourceRecords {
    /// Well-formed records, in source order.
    pub records: Vec<Record>,
    /// Malformed records: where and why (they become `invalid` items).
    pub invalid: Vec<connectors::InvalidRecord>,
}

/// Read every record of an entity from the profile's source.
pub async fn read_source(profile: &Profile, entity: Entity) -> Result<SourceRecords, EngineError> {
    let endpoint = profile.source.clone();
    let mut stream = tokio::task::spawn_blocking(move || {
        let source = open_source(&endpoint)?;
        source.records(entity)
    })
    .await
    .map_err(|e| EngineError::Join(e.to_string()))??;
    let mut out = SourceRecords::default();
    while let Some(item) = stream.next_item().await {
        match item {
            Ok(r) => out.records.push(r),
            Err(ReadError::Invalid(bad)) => out.invalid.push(*bad),
            Err(ReadError::Fatal(e)) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The documents of the create and update items of a decided plan, in
/// plan order (`refs` from `reconcile::decide`): those the first pass
/// spooled, and those it did not keep compiled again from the source.
/// Blocking.
pub fn spool_documents(
    source: &Endpoint,
    scopes: &Scopes,
    set: &std::sync::Arc<mapsync_config::check::model::MappingSet>,
    run: &mapsync_plan::compile::RunContext,
    input: &mut mapsync_plan::reconcile::ReconcileInput<SpooledItem>,
    refs: &[mapsync_plan::reconcile::DocRef],
    mut spool: SpoolWriter,
) -> Result<DocumentSpool, PlanError> {
    let mut missing: Vec<(usize, usize)> = refs
        .iter()
        .filter(|r| {
            matches!(
                input
                    .entities
                    .get(r.entity)
                    .and_then(|e| e.items.get(r.item)),
                Some(SpooledItem::Compiled { spooled: None, .. })
            )
        })
        .map(|r| (r.entity, r.item))
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        tracing::debug!(
            count = missing.len(),
            "compiling records again for their documents"
        );
        for (ei, e) in input.entities.iter_mut().enumerate() {
            let wanted: Vec<usize> = missing.iter().filter(|m| m.0 == ei).map(|m| m.1).collect();
            if wanted.is_empty() {
                continue;
            }
            let job = RecompileJob {
                source: source.clone(),
                scope: scope_of(scopes, e.entity),
                set: set.clone(),
                run: run.clone(),
                kind: match e.entity {
                    Entity::Category => Entity::Category,
                    Entity::Product => Entity::Product,
                },
                wanted,
                items: std::mem::take(&mut e.items),
            };
            let (items, back) = job.run(spool)?;
            e.items = items;
            spool = back;
        }
    }
    let spool_refs: Vec<SpoolRef> = refs
        .iter()
        .filter_map(|r| match input.entities.get(r.entity)?.items.get(r.item)? {
            SpooledItem::Compiled { spooled, .. } => *spooled,
            SpooledItem::Invalid { .. } => None,
        })
        .collect();
    if spool_refs.len() != refs.len() {
        return Err(PlanError::Spool(SpoolError::Missing(refs.len() as u64)));
    }
    Ok(spool.finish(spool_refs)?)
}

/// Records are handed from the reading thread to the compiling one in
/// chunks of this many.
const CHUNK: usize = 256;

/// An entity whose ledger has at most this many items (and at least one)
/// is compiled on the planning thread alone (see `CompileJob::run_inline`).
const INLINE_AT_MOST: usize = 2_000;

/// Stream the records of an entity from a source on a thread of their own
/// (reading and parsing overlap with compiling), in chunks through a
/// bounded channel, and call `each` for every item in source order.
fn stream_records(
    source: &Endpoint,
    entity: Entity,
    scope: ReadScope,
    mut each: impl FnMut(&RecordItem) -> Result<(), PlanError>,
) -> Result<(), PlanError> {
    let source = open_source(source).map_err(EngineError::from)?;
    let stream = source
        .records_in(entity, scope)
        .map_err(EngineError::from)?;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RecordItem>>(4);
        // Records go back to the reader to be freed where they were
        // allocated: freeing across threads is slow with the system
        // allocator, and fragments its arenas.
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<RecordItem>>();
        let reader = scope.spawn(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            for item in stream {
                chunk.push(item);
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if tx.send(full).is_err() {
                        return;
                    }
                    while let Ok(done) = back_rx.try_recv() {
                        drop(done);
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.send(chunk);
            }
            drop(tx);
            while let Ok(done) = back_rx.recv() {
                drop(done);
            }
        });
        let mut result = Ok(());
        for mut chunk in rx.iter() {
            if let Some(i) = chunk
                .iter()
                .position(|it| matches!(it, Err(ReadError::Fatal(_))))
            {
                // The source broke: the items before it, then its error.
                for item in chunk.get(..i).unwrap_or_default() {
                    each(item)?;
                }
                if let Err(ReadError::Fatal(e)) = chunk.swap_remove(i) {
                    return Err(EngineError::from(e).into());
                }
            }
            for item in &chunk {
                result = each(item);
                if result.is_err() {
                    break;
                }
            }
            if result.is_err() {
                break;
            }
            let _ = back_tx.send(chunk);
        }
        // Dropping the receiver stops the reader at its next send.
        drop(rx);
        drop(back_tx);
        if reader.join().is_err() {
            return Err(EngineError::Join("the source reader panicked".into()).into());
        }
        result
    })
}

/// Compiling the records of one entity as they stream in.
#[derive(Debug)]
pub struct CompileJob {
    /// The profile's source.
    pub source: Endpoint,
    /// The checked mapping set.
    pub set: std::sync::Arc<mapsync_config::check::model::MappingSet>,
    /// Which entity.
    pub kind: mapsync_config::check::model::Entity,
    /// The channel's ledger rows of the entity (to judge which documents
    /// apply may need).
    pub ledger: mapsync_state::Ledger,
    /// The clock.
    pub now: time::OffsetDateTime,
    /// The run's instant and channel, for the compiler.
    pub run: mapsync_plan::compile::RunContext,
    /// `--force`.
    pub force: bool,
    /// Every record, or only those changed since an instant.
    pub scope: ReadScope,
}

/// What a compile worker makes of one source item.
enum Compiled {
    /// A compiled record; its document as a spool line when apply may
    /// need it.
    Item {
        key: String,
        control: mapsync_core::document::Control,
        hash: String,
        document: Option<Result<Vec<u8>, serde_json::Error>>,
        /// The compiler's warnings (an image left out...).
        warnings: Vec<mapsync_core::diag::Diagnostic>,
    },
    /// A record that did not compile, or could not be read.
    Invalid(SpooledItem),
    /// A record the source could not read (goes after the others).
    Unreadable(SpooledItem),
}

impl CompileJob {
    /// Compile every record, hash its document and spool the documents
    /// apply may need; returns the items in plan order (records in source
    /// order, then records that could not be read) and the spool.
    ///
    /// One thread reads and parses; `workers` threads (one per core, at
    /// most 4) compile and hash chunks of records; this thread puts the
    /// results back in source order and writes the spool.
    pub fn run(
        &self,
        mut spool: SpoolWriter,
    ) -> Result<(Vec<SpooledItem>, SpoolWriter), PlanError> {
        use mapsync_plan::compile::Compiler;
        if Compiler::new(&self.set, self.kind).is_err() {
            return Ok((Vec::new(), spool));
        }
        let entity = match self.kind {
            mapsync_config::check::model::Entity::Category => Entity::Category,
            mapsync_config::check::model::Entity::Product => Entity::Product,
        };
        let workers = std::env::var("MAPSYNC_COMPILE_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
            .clamp(1, 4);
        let source = open_source(&self.source).map_err(EngineError::from)?;
        let stream = source
            .records_in(entity, self.scope)
            .map_err(EngineError::from)?
            .into_raw();
        // Synced before, with few items: on this thread.
        if !self.ledger.is_empty() && self.ledger.len() <= INLINE_AT_MOST {
            return self.run_inline(stream, spool);
        }
        let mut items = Vec::new();
        let mut unreadable = Vec::new();
        std::thread::scope(|scope| -> Result<(), PlanError> {
            let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Chunk>(workers * 2);
            let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
            // Bounded, so compiled documents cannot pile up when the spool
            // is written slower than records compile. The collector drains
            // it into `pending` while it waits for the next chunk in order,
            // so a full channel never blocks the chunk it waits for.
            let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Done>(workers * 2);
            let reader = scope.spawn(move || read_chunks(stream, &work_tx));
            let mut pool = Vec::new();
            for _ in 0..workers {
                let work_rx = work_rx.clone();
                let done_tx = done_tx.clone();
                pool.push(scope.spawn(move || self.compile_chunks(&work_rx, &done_tx)));
            }
            drop(done_tx);
            let mut result = collect_in_order(&done_rx, &mut spool, &mut items, &mut unreadable);
            // Dropping the receivers stops the reader and the workers.
            drop(done_rx);
            drop(work_rx);
            let mut panicked = reader.join().is_err();
            for w in pool {
                panicked |= w.join().is_err();
            }
            if panicked && result.is_ok() {
                result = Err(EngineError::Join("a compile thread panicked".into()).into());
            }
            result
        })?;
        items.extend(unreadable);
        Ok((items, spool))
    }

    /// A compile thread: compile and hash the chunks it takes until the
    /// reader is done or the collector gone.
    fn compile_chunks(
        &self,
        work_rx: &std::sync::Mutex<std::sync::mpsc::Receiver<Chunk>>,
        done_tx: &std::sync::mpsc::SyncSender<Done>,
    ) {
        let Ok(compiler) = mapsync_plan::compile::Compiler::new(&self.set, self.kind)
            .map(|c| c.in_run(self.run.clone()))
        else {
            return;
        };
        loop {
            let next = match work_rx.lock() {
                Ok(rx) => rx.recv(),
                Err(_) => return,
            };
            let Ok((seq, chunk)) = next else { return };
            let (out, fatal) = self.compile_chunk(&compiler, chunk);
            if done_tx.send((seq, out, fatal)).is_err() {
                return;
            }
        }
    }

    /// Parse, compile and hash a chunk of records; stops at a fatal read
    /// error, returned with what came before it.
    fn compile_chunk(
        &self,
        compiler: &mapsync_plan::compile::Compiler<'_>,
        chunk: Vec<RawRecord>,
    ) -> (Vec<Compiled>, Option<SourceError>) {
        let mut out = Vec::with_capacity(chunk.len());
        for raw in chunk {
            match raw.parse() {
                Ok(r) => out.push(self.compile_one(compiler, &r)),
                Err(ReadError::Invalid(bad)) => out.push(Compiled::Unreadable(malformed(&bad))),
                Err(ReadError::Fatal(e)) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    /// [`Self::run`] on this thread alone, a chunk at a time: for a small
    /// entity, where starting the reading and compiling threads costs more
    /// than they save (the sync manager's runs with nothing to change).
    fn run_inline(
        &self,
        stream: impl Iterator<Item = RawRecord>,
        mut spool: SpoolWriter,
    ) -> Result<(Vec<SpooledItem>, SpoolWriter), PlanError> {
        let compiler = match mapsync_plan::compile::Compiler::new(&self.set, self.kind) {
            Ok(c) => c.in_run(self.run.clone()),
            Err(_) => return Ok((Vec::new(), spool)),
        };
        let mut items = Vec::new();
        let mut unreadable = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut stream = stream.fuse();
        loop {
            chunk.extend(stream.by_ref().take(CHUNK));
            if chunk.is_empty() {
                break;
            }
            let (out, fatal) = self.compile_chunk(&compiler, std::mem::take(&mut chunk));
            collect_chunk(out, fatal, &mut spool, &mut items, &mut unreadable)?;
        }
        items.extend(unreadable);
        Ok((items, spool))
    }

    /// Compile one record.
    fn compile_one(&self, compiler: &mapsync_plan::compile::Compiler<'_>, r: &Record) -> Compiled {
        match compiler.compile(&r.fields) {
            Ok(c) => {
                let (hash, text) = mapsync_plan::compile::document_hash_and_text(&c.document);
                let row = self.ledger.get(c.document.key.as_str());
                let keep = mapsync_plan::reconcile::may_need_document(
                    self.kind,
                    &self.set.settings,
                    self.now,
                    self.force,
                    &c.control,
                    &hash,
                    row,
                );
                // Serialised here, so the document is freed on the thread
                // that made it.
                let document = keep.then(|| SpoolWriter::line(&hash, &c.control, &text));
                let key = c.document.key;
                Compiled::Item {
                    key,
                    control: c.control,
                    hash,
                    document,
                    warnings: c.warnings,
                }
            }
            Err(diagnostics) => Compiled::Invalid(SpooledItem::Invalid {
                key: record_key(&self.set, self.kind, &r.fields),
                position: r.position.to_string(),
                diagnostics,
            }),
        }
    }
}

/// A record the source could not read, as an invalid item.
/// A numbered chunk of raw records.
type Chunk = (u64, Vec<RawRecord>);
/// A compiled chunk, and the error that ended it, if any.
type Done = (u64, Vec<Compiled>, Option<SourceError>);

/// The reader thread: it only reads; records are parsed (NDJSON) and
/// freed on the compile threads.
fn read_chunks(
    stream: impl Iterator<Item = RawRecord>,
    work_tx: &std::sync::mpsc::SyncSender<Chunk>,
) {
    let mut seq = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK);
    for item in stream {
        chunk.push(item);
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            if work_tx.send((seq, full)).is_err() {
                return;
            }
            seq += 1;
        }
    }
    if !chunk.is_empty() {
        let _ = work_tx.send((seq, chunk));
    }
}

/// Put compiled chunks back in source order: items (their documents
/// written to the spool) and unreadable records apart.
fn collect_in_order(
    done_rx: &std::sync::mpsc::Receiver<Done>,
    spool: &mut SpoolWriter,
    items: &mut Vec<SpooledItem>,
    unreadable: &mut Vec<SpooledItem>,
) -> Result<(), PlanError> {
    let mut pending = std::collections::BTreeMap::new();
    let mut next = 0u64;
    for done in done_rx.iter() {
        pending.insert(done.0, done);
        while let Some((_, out, fatal)) = pending.remove(&next) {
            next += 1;
            collect_chunk(out, fatal, spool, items, unreadable)?;
        }
    }
    Ok(())
}

/// One compiled chunk, the next in source order, into `items` (its
/// documents written to the spool) and `unreadable`.
fn collect_chunk(
    out: Vec<Compiled>,
    fatal: Option<SourceError>,
    spool: &mut SpoolWriter,
    items: &mut Vec<SpooledItem>,
    unreadable: &mut Vec<SpooledItem>,
) -> Result<(), PlanError> {
    for c in out {
        match c {
            Compiled::Item {
                key,
                control,
                hash,
                document,
                warnings,
            } => {
                let spooled = match document {
                    Some(line) => Some(
                        line.map_err(|e| SpoolError::Json {
                            path: std::path::PathBuf::new(),
                            source: e,
                        })
                        .and_then(|l| spool.push_line(&l))?,
                    ),
                    None => None,
                };
                // Copied on this thread: what stays for the whole
                // run is then not scattered among the workers'
                // short-lived allocations.
                items.push(SpooledItem::Compiled {
                    key: key.as_str().to_owned(),
                    control: control.clone(),
                    hash: hash.as_str().to_owned(),
                    spooled,
                    warnings: (!warnings.is_empty()).then(|| Box::new(warnings)),
                });
            }
            Compiled::Invalid(item) => items.push(item),
            Compiled::Unreadable(item) => unreadable.push(item),
        }
    }
    if let Some(e) = fatal {
        return Err(EngineError::from(e).into());
    }
    Ok(())
}

fn malformed(bad: &connectors::InvalidRecord) -> SpooledItem {
    SpooledItem::Invalid {
        key: None,
        position: bad.position.to_string(),
        diagnostics: vec![mapsync_core::diag::Diagnostic::error(
            mapsync_core::diag::codes::RECORD_MALFORMED,
            format!("{}: {}", bad.position, bad.message),
        )
        .help(bad.help.clone())],
    }
}

/// Compiling some records again for the documents the first pass did not
/// keep.
struct RecompileJob {
    source: Endpoint,
    /// The read the first pass made.
    scope: ReadScope,
    set: std::sync::Arc<mapsync_config::check::model::MappingSet>,
    /// The run's instant and channel, as the first pass compiled with.
    run: mapsync_plan::compile::RunContext,
    kind: Entity,
    /// Item indices, sorted.
    wanted: Vec<usize>,
    items: Vec<SpooledItem>,
}

impl RecompileJob {
    fn run(mut self, mut spool: SpoolWriter) -> Result<(Vec<SpooledItem>, SpoolWriter), PlanError> {
        use mapsync_plan::compile::{document_hash, Compiler};
        let entity = match self.kind {
            mapsync_config::check::model::Entity::Category => Entity::Category,
            mapsync_config::check::model::Entity::Product => Entity::Product,
        };
        let compiler = Compiler::new(&self.set, self.kind)
            .map_err(|e| PlanError::SourceChanged {
                position: e.to_string(),
            })?
            .in_run(self.run.clone());
        let mut index = 0usize;
        let mut next = 0usize;
        let items = &mut self.items;
        let wanted = &self.wanted;
        stream_records(&self.source, entity, self.scope, |item| {
            let Ok(r) = item else { return Ok(()) };
            let i = index;
            index += 1;
            if wanted.get(next) != Some(&i) {
                return Ok(());
            }
            next += 1;
            let changed = || PlanError::SourceChanged {
                position: r.position.to_string(),
            };
            let Ok(c) = compiler.compile(&r.fields) else {
                return Err(changed());
            };
            let hash = document_hash(&c.document);
            match items.get_mut(i) {
                Some(SpooledItem::Compiled {
                    key,
                    hash: h,
                    control,
                    spooled,
                    ..
                }) if *key == c.document.key && *h == hash => {
                    *spooled = Some(spool.push(&hash, control, &c.document)?);
                    Ok(())
                }
                _ => Err(changed()),
            }
        })?;
        if next != self.wanted.len() {
            return Err(PlanError::SourceChanged {
                position: format!("record {}", index + 1),
            });
        }
        Ok((self.items, spool))
    }
}

/// Open the profile's state store (an SQLite file now; a PostgreSQL
/// database on first use).
pub fn open_state(
    profile: &Profile,
) -> Result<mapsync_statedb::StateDb, mapsync_state::StateError> {
    mapsync_statedb::StateDb::open_url(&profile.state, Path::new(&profile.project_dir))
}

/// The connections to the profile's state store; an SQLite one keeps at
/// most `max_idle` between uses (opens nothing yet).
pub fn state_pool(
    profile: &Profile,
    max_idle: usize,
) -> Result<mapsync_statedb::StatePool, mapsync_state::StateError> {
    mapsync_statedb::StatePool::for_url(&profile.state, Path::new(&profile.project_dir), max_idle)
}

/// Why planning stopped before producing a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Reading or connecting failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The mapping set has errors (render the diagnostics).
    #[error("the mapping set has errors; run `mapsync validate` for details")]
    Mapping(mapsync_core::diag::Diagnostics),
    /// The mapping set could not be read.
    #[error(transparent)]
    Config(#[from] mapsync_config::ConfigError),
    /// The state store failed.
    #[error("state store: {0}")]
    State(#[from] mapsync_state::StateError),
    /// A reference location is not in the target.
    #[error("reference location `{name}` ({wanted}) is not a location of the target; the target has: {have}. Fix `locations:` in the mapping set, or add the location to the store")]
    Location {
        /// Name in `locations:`.
        name: String,
        /// How it is matched.
        wanted: String,
        /// The target's locations.
        have: String,
    },
    /// The rules could not be applied.
    #[error(transparent)]
    Reconcile(#[from] mapsync_plan::reconcile::ReconcileError),
    /// The document spool failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// A record compiled differently when read again for its document.
    #[error("the source changed while planning ({position} is no longer the same record); run the plan again")]
    SourceChanged {
        /// Where.
        position: String,
    },
}

/// Options of a plan made for `sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--force`: change detection off.
    pub force: bool,
    /// Skip the field diffs of updates (a full read of every updated item):
    /// `sync` does not show them, and the executor reads each chunk's
    /// current state itself, right before writing.
    pub skip_update_diffs: bool,
    /// `--full`: read every record even where the source can read
    /// incrementally.
    pub full: bool,
    /// `plan --drift`: look for drift on every item the ledger holds field
    /// hashes of, not only on those being updated (a read of each).
    pub drift: bool,
    /// The profile's last plan with nothing to do, reused while its inputs
    /// are unchanged (the sync manager's runs; see [`crate::memo`]).
    pub memo: Option<crate::memo::PlanMemo>,
}

/// A plan and the documents `apply` needs, all in memory.
#[derive(Debug)]
pub struct Planned {
    /// The plan (with the field diffs of creates and updates).
    pub plan: mapsync_plan::reconcile::Plan,
    /// Documents of the items to create or update, in plan order.
    pub documents: Vec<mapsync_plan::reconcile::PlannedDocument>,
    /// The reconcile input, kept for `--explain` (no documents).
    pub input: mapsync_plan::reconcile::ReconcileInput<SpooledItem>,
    /// Mapping warnings.
    pub warnings: mapsync_core::diag::Diagnostics,
}

/// A plan whose documents stay on disk: what `plan` streams into its
/// outputs. Creates carry no field diff here (render them from the
/// documents, see `plan::render::PlanOutput`); updates do.
#[derive(Debug)]
pub struct SpooledPlan {
    /// The plan.
    pub plan: mapsync_plan::reconcile::Plan,
    /// Documents of the create and update changes, in plan order.
    pub documents: DocumentSpool,
    /// The reconcile input, kept for `--explain` (no documents).
    pub input: mapsync_plan::reconcile::ReconcileInput<SpooledItem>,
    /// Mapping warnings.
    pub warnings: mapsync_core::diag::Diagnostics,
    /// The target location id of each reference location, as read while
    /// planning (`sync` applies with them instead of reading them again).
    pub locations: mapsync_plan::diff::LocationsByRefName,
}

impl SpooledPlan {
    /// Everything in memory: documents read back, create diffs filled.
    pub fn into_planned(self) -> Result<Planned, PlanError> {
        use mapsync_plan::reconcile::Action;
        let SpooledPlan {
            mut plan,
            documents,
            input,
            warnings,
            locations: _,
        } = self;
        let docs: Vec<mapsync_plan::reconcile::PlannedDocument> =
            documents.iter().collect::<Result<_, _>>()?;
        let mut it = docs.iter();
        for c in plan
            .changes
            .iter_mut()
            .filter(|c| matches!(c.action, Action::Create | Action::Update))
        {
            let Some(d) = it.next() else { break };
            if c.action == Action::Create {
                c.diff = mapsync_plan::diff::diff_create(&d.document);
            }
        }
        Ok(Planned {
            plan,
            documents: docs,
            input,
            warnings,
        })
    }
}

/// Dry run: read source, ledger and target (read-only) and decide.
pub async fn plan(profile: &Profile, now: time::OffsetDateTime) -> Result<Planned, PlanError> {
    plan_spooled(profile, now).await?.into_planned()
}

/// [`plan`] with the documents left on disk (for large catalogs: `plan`
/// streams its outputs from this).
pub async fn plan_spooled(
    profile: &Profile,
    now: time::OffsetDateTime,
) -> Result<SpooledPlan, PlanError> {
    plan_spooled_with(profile, now, &PlanOptions::default()).await
}

/// [`plan_spooled`] with options (`--full`).
pub async fn plan_spooled_with(
    profile: &Profile,
    now: time::OffsetDateTime,
    options: &PlanOptions,
) -> Result<SpooledPlan, PlanError> {
    let connected = connect(profile).await?;
    let result = plan_spooled_on(profile, &connected, now, options, None).await;
    connected.close().await.map_err(EngineError::from)?;
    result
}

/// Update diffs are computed against this many full target items at once.
const DIFF_BATCH: usize = 250;

/// [`plan_spooled`] on a target that is already connected. Records are
/// compiled as they stream from the source; only what the rules need is
/// kept per item, and the documents apply may need go to a spool file.
/// `mapping` is the profile's mapping set when the caller has loaded and
/// checked it already (its warnings are then the caller's to show);
/// otherwise it is loaded here.
pub async fn plan_spooled_on(
    profile: &Profile,
    connected: &Connected,
    now: time::OffsetDateTime,
    options: &PlanOptions,
    mapping: Option<Arc<MappingSet>>,
) -> Result<SpooledPlan, PlanError> {
    let states = state_pool(profile, 0)?;
    let planned = plan_spooled_in(profile, connected, now, options, mapping, &states).await;
    states.close().await;
    planned
}

/// [`plan_spooled_on`] with the state store's connections taken from
/// `states` (and given back): the sync manager keeps them between runs.
pub async fn plan_spooled_in(
    profile: &Profile,
    connected: &Connected,
    now: time::OffsetDateTime,
    options: &PlanOptions,
    mapping: Option<Arc<MappingSet>>,
    states: &mapsync_statedb::StatePool,
) -> Result<SpooledPlan, PlanError> {
    use mapsync_plan::reconcile::{self, Action, EntityInput, ReconcileInput};

    let (set, warnings) = match mapping {
        Some(set) => (set, mapsync_core::diag::Diagnostics::default()),
        None => {
            let (set, _files, warnings) =
                mapsync_config::check::load_mapping(&profile.mapping, &profile.registry)?;
            if warnings.has_errors() {
                return Err(PlanError::Mapping(warnings));
            }
            (Arc::new(set), warnings)
        }
    };
    let two_way = crate::two_way::TwoWayFields::of(&set);
    let target = &connected.target;
    let store = states.take()?;
    let mut ledgers = Vec::new();
    for entity in [Entity::Category, Entity::Product] {
        let mapped = match entity {
            Entity::Category => set.category.is_some(),
            Entity::Product => set.product.is_some(),
        };
        if mapped {
            ledgers.push((entity, store.load(&profile.channel, entity).await?));
        }
    }
    let (scopes, reads) =
        decide_reads(profile, &store, &ledgers, options.full, now, &two_way).await?;
    // A `mapsync resolve` choice changes what a two-way plan holds: part of
    // the memo's key.
    let resolved = match &options.memo {
        Some(m) if m.wants_key() && !two_way.is_empty() => {
            crate::two_way::resolutions_digest(&store, &profile.channel, &two_way).await?
        }
        _ => String::new(),
    };
    // Back before the long part: another run may use it meanwhile.
    states.give(store);
    let memo_key = match &options.memo {
        Some(m) if m.wants_key() => {
            let inputs = MemoInputs {
                scopes: &scopes,
                ledgers: &ledgers,
                resolved: &resolved,
            };
            memo_key(profile, &set, &inputs, target.as_ref(), options).await
        }
        _ => None,
    };
    if let (Some(memo), Some(key)) = (&options.memo, memo_key) {
        if let Some(plan) = memo.get(key) {
            return reused(plan, profile, &set, now);
        }
    }
    let locations = target.locations().await.map_err(EngineError::from)?;
    let by_ref = resolve_locations(&set, &locations)?;
    let run = mapsync_plan::compile::RunContext {
        now: Some(now),
        channel: Some(profile.channel.clone()),
    };
    let inputs = Inputs {
        source: &profile.source,
        set: &set,
        now,
        run: run.clone(),
        force: options.force,
        scopes: &scopes,
    };
    let (compiled, spool, mut catalog) =
        compile_and_read(&inputs, target.as_ref(), ledgers).await?;
    let serial = target_serial(&catalog);
    let mut entities = Vec::new();
    for (entity, items, ledger) in compiled {
        let target_items = match entity {
            Entity::Category => std::mem::take(&mut catalog.categories),
            Entity::Product => std::mem::take(&mut catalog.products),
        };
        entities.push(EntityInput {
            entity,
            items,
            ledger,
            target: target_items,
            partial: !matches!(scope_of(&scopes, entity), ReadScope::Full),
            matched: Default::default(),
        });
    }
    crate::matching::find_matches(&set, target.as_ref(), &mut entities).await?;
    let mut input = ReconcileInput {
        profile: profile.name.clone(),
        target_serial: serial,
        settings: set.settings.clone(),
        now,
        entities,
        force: options.force,
    };
    let (mut plan, refs) = reconcile::decide(&input)?;
    plan.reads = reads;

    // `--drift`: the documents of unchanged items too, after the others.
    let extra = if options.drift {
        let unchanged = reconcile::unchanged_refs(&plan, &input);
        with_field_hashes(&plan, unchanged, states, &profile.channel).await?
    } else {
        Vec::new()
    };
    // Two-way fields: the unchanged items the target may have edited too.
    let candidates = crate::two_way::candidates(
        &plan,
        &input,
        &two_way,
        states,
        &profile.channel,
        options.full,
    )
    .await?;
    let two_way_extra: Vec<reconcile::DocRef> = candidates
        .unchanged_refs(&plan, &input)
        .into_iter()
        .filter(|r| !extra.iter().any(|e| e.change == r.change))
        .collect();
    let refs: Vec<reconcile::DocRef> = refs
        .into_iter()
        .chain(extra.iter().copied())
        .chain(two_way_extra)
        .collect();
    let doc_changes: Vec<usize> = refs.iter().map(|r| r.change).collect();
    let (input, mut documents) = {
        let source = profile.source.clone();
        let set = set.clone();
        tokio::task::spawn_blocking(move || {
            let docs = spool_documents(&source, &scopes, &set, &run, &mut input, &refs, spool)?;
            Ok::<_, PlanError>((input, docs))
        })
        .await
        .map_err(|e| EngineError::Join(e.to_string()))??
    };
    let drift = DriftCheck {
        states,
        channel: &profile.channel,
        on_drift: set.settings.on_drift,
        diffs: !options.skip_update_diffs,
        two_way: &two_way,
    };
    attach_update_diffs(
        &mut plan,
        &documents,
        target.as_ref(),
        &by_ref,
        &drift,
        &extra,
    )
    .await?;
    crate::two_way::classify(
        &mut plan,
        &documents,
        &doc_changes,
        target.as_ref(),
        &two_way,
        &candidates,
    )
    .await?;
    // The documents of the create and update changes, in plan order (the
    // unchanged items' read for drift or two-way fields go, an update held
    // by a conflict goes, an item with a pull comes in).
    let at: std::collections::HashMap<usize, usize> = doc_changes
        .iter()
        .enumerate()
        .rev()
        .map(|(d, c)| (*c, d))
        .collect();
    let order: Vec<usize> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.action, Action::Create | Action::Update))
        .filter_map(|(i, _)| at.get(&i).copied())
        .collect();
    documents.select(&order);
    plan.recount();
    // Kept once two-way fields have had their say: a pull is a change.
    if let Some(memo) = &options.memo {
        memo.keep(memo_key, &plan);
    }
    Ok(SpooledPlan {
        plan,
        documents,
        input,
        warnings,
        locations: by_ref,
    })
}

/// The key of a plan's inputs for [`crate::memo`], when the plan may be
/// reused: not forced, read in full, independent of the instant, and both
/// the source and the target can tell whether they changed.
async fn memo_key(
    profile: &Profile,
    set: &Arc<MappingSet>,
    inputs: &MemoInputs<'_>,
    target: &dyn TargetWrite,
    options: &PlanOptions,
) -> Option<u64> {
    let MemoInputs {
        scopes,
        ledgers,
        resolved,
    } = *inputs;
    if options.force || options.full || !scopes.is_empty() || crate::memo::depends_on_time(set) {
        return None;
    }
    let source = open_source(&profile.source).ok()?;
    let fingerprints = ledgers
        .iter()
        .map(|(entity, _)| Some((*entity, source.fingerprint(*entity)?)))
        .collect::<Option<Vec<_>>>()?;
    let token = match target.change_token().await {
        Ok(t) => t?,
        Err(e) => {
            // The read that follows meets the same trouble and says so.
            tracing::debug!("no change token: {e}");
            return None;
        }
    };
    Some(crate::memo::key(
        set,
        &profile.channel,
        &fingerprints,
        ledgers,
        &format!("{token}|{resolved}"),
    ))
}

/// What a plan's memo key covers besides the source and the target.
struct MemoInputs<'a> {
    scopes: &'a Scopes,
    ledgers: &'a [(Entity, mapsync_state::Ledger)],
    /// The recorded `resolve` choices (see [`crate::two_way::resolutions_digest`]).
    resolved: &'a str,
}

/// The kept plan as this run's: nothing changed since it was made.
fn reused(
    mut plan: mapsync_plan::reconcile::Plan,
    profile: &Profile,
    set: &MappingSet,
    now: time::OffsetDateTime,
) -> Result<SpooledPlan, PlanError> {
    plan.created_at = now
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(mapsync_plan::reconcile::ReconcileError::from)?;
    tracing::debug!(
        items = plan.changes.len(),
        "nothing changed since the last plan (source, target and ledger): reused it"
    );
    Ok(SpooledPlan {
        input: mapsync_plan::reconcile::ReconcileInput {
            profile: profile.name.clone(),
            target_serial: plan.target_serial.clone(),
            settings: set.settings.clone(),
            now,
            entities: Vec::new(),
            force: false,
        },
        plan,
        documents: DocumentSpool::default(),
        warnings: mapsync_core::diag::Diagnostics::default(),
        locations: Default::default(),
    })
}

/// What compiling the records of a run needs.
struct Inputs<'a> {
    source: &'a Endpoint,
    set: &'a Arc<MappingSet>,
    now: time::OffsetDateTime,
    /// The run's instant and channel, for the compiler.
    run: mapsync_plan::compile::RunContext,
    force: bool,
    scopes: &'a Scopes,
}

/// Full or incremental, per mapped entity whose source can read
/// incrementally (connectors.md §2, `since:`): a full read on the first
/// run, with `--full`, and when the last full read is `full_every` old;
/// otherwise the records changed since the last finished run started,
/// less the overlap.
async fn decide_reads(
    profile: &Profile,
    store: &mapsync_statedb::StateDb,
    ledgers: &[(Entity, mapsync_state::Ledger)],
    full: bool,
    now: time::OffsetDateTime,
    two_way: &crate::two_way::TwoWayFields,
) -> Result<(Scopes, Vec<mapsync_plan::reconcile::EntityRead>), PlanError> {
    use mapsync_plan::reconcile::{EntityRead, ReadKind};
    use time::format_description::well_known::Rfc3339;
    let source = open_source(&profile.source).map_err(EngineError::from)?;
    let (last_run, last_full) = store.read_history(&profile.name).await?;
    let mut scopes = Vec::new();
    let mut reads = Vec::new();
    for (entity, _) in ledgers {
        let Some(inc) = source.incremental(*entity) else {
            continue;
        };
        let stamp = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        let full_read = |reason: String| EntityRead {
            entity: *entity,
            read: ReadKind::Full,
            since: None,
            reason,
        };
        let every = time::Duration::try_from(inc.full_every).unwrap_or(time::Duration::MAX);
        let overlap = time::Duration::try_from(inc.overlap).unwrap_or(time::Duration::ZERO);
        let read = match (last_run, last_full) {
            _ if full => full_read("--full".into()),
            // Every record's two-way fields are compared with the target.
            _ if two_way.has(*entity) => full_read(
                "the entity has two-way fields: each record is compared with the target".into(),
            ),
            (None, _) | (_, None) => full_read("no earlier run read it in full".into()),
            (_, Some(f)) if now - f >= every => full_read(format!(
                "the last full read ({}) is older than full_every",
                stamp(f)
            )),
            (Some(run), Some(f)) => {
                let since = run - overlap;
                scopes.push((
                    *entity,
                    ReadScope::Since(std::time::SystemTime::from(since)),
                ));
                EntityRead {
                    entity: *entity,
                    read: ReadKind::Incremental,
                    since: Some(stamp(since)),
                    reason: format!(
                        "the last run started at {}, less the overlap; the last full read was at {}",
                        stamp(run),
                        stamp(f)
                    ),
                }
            }
        };
        reads.push(read);
    }
    Ok((scopes, reads))
}

/// Items of one entity compiled against its ledger.
type CompiledEntity = (Entity, Vec<SpooledItem>, mapsync_state::Ledger);

/// Compile every mapped entity's records (on a blocking thread) and read
/// the target's reduced catalog. The ledger knows how many items the
/// target holds once something was synced: then the target is read while
/// the records compile (reading waits on the network, compiling on the
/// CPU). On a first sync the source's count decides between paging and a
/// bulk export, so the target is read after compiling.
async fn compile_and_read(
    inputs: &Inputs<'_>,
    target: &dyn TargetWrite,
    ledgers: Vec<(Entity, mapsync_state::Ledger)>,
) -> Result<
    (
        Vec<CompiledEntity>,
        SpoolWriter,
        mapsync_core::current::Catalog,
    ),
    PlanError,
> {
    use mapsync_core::target::ReadHint;
    // Items expected per entity, as the target read's hint.
    fn hint(counts: impl Iterator<Item = (Entity, usize)> + Clone) -> ReadHint {
        let of = |kind| counts.clone().find(|c| c.0 == kind).map(|c| c.1);
        ReadHint {
            expected_products: of(Entity::Product),
            expected_categories: of(Entity::Category),
        }
    }
    let synced_before = !ledgers.is_empty() && ledgers.iter().all(|l| !l.1.is_empty());
    let ledger_hint = hint(ledgers.iter().map(|l| (l.0, l.1.len())));
    let spool = SpoolWriter::create()?;
    let compile = {
        let source = inputs.source.clone();
        let set = inputs.set.clone();
        let (now, force) = (inputs.now, inputs.force);
        let run = inputs.run.clone();
        let scopes = inputs.scopes.clone();
        tokio::task::spawn_blocking(move || {
            let mut spool = spool;
            let mut compiled = Vec::new();
            for (kind, ledger) in ledgers {
                let job = CompileJob {
                    source: source.clone(),
                    set: set.clone(),
                    kind,
                    ledger,
                    now,
                    run: run.clone(),
                    force,
                    scope: scope_of(&scopes, kind),
                };
                let (items, back) = job.run(spool)?;
                spool = back;
                compiled.push((kind, items, job.ledger));
            }
            Ok::<_, PlanError>((compiled, spool))
        })
    };
    let compile = async {
        compile
            .await
            .map_err(|e| PlanError::from(EngineError::Join(e.to_string())))?
    };
    let read = |hint| async move {
        target
            .read_catalog(hint)
            .await
            .map_err(|e| PlanError::from(EngineError::from(e)))
    };
    let ((compiled, spool), catalog) = if synced_before {
        tokio::try_join!(compile, read(ledger_hint))?
    } else {
        let (compiled, spool) = compile.await?;
        let source_hint = hint(compiled.iter().map(|c| (c.0, c.1.len())));
        ((compiled, spool), read(source_hint).await?)
    };
    Ok((compiled, spool, catalog))
}

/// What update diffs and drift need besides the plan and its documents.
struct DriftCheck<'a> {
    /// The state store, for the field hashes of the ledger.
    states: &'a mapsync_statedb::StatePool,
    /// The profile's channel.
    channel: &'a str,
    /// `settings.on_drift`.
    on_drift: mapsync_core::diff::OnDrift,
    /// Whether updates get their field diffs (`plan`; `sync` reads only
    /// the items that have field hashes, for their drift).
    diffs: bool,
    /// The two-way fields: no drift on them.
    two_way: &'a crate::two_way::TwoWayFields,
}

/// One item whose current state is read: change index, target id, key.
type Read = (usize, String, Option<String>);

/// Field diffs of updates against the target's full current state, and
/// drift (spec/two-way.md): each field whose current value hashes
/// otherwise than the one mapsync last wrote there, a batch of items at a
/// time, put on their changes. `extra`: the unchanged items whose
/// documents follow the create and update ones (`plan --drift`).
async fn attach_update_diffs(
    plan: &mut mapsync_plan::reconcile::Plan,
    documents: &DocumentSpool,
    target: &dyn TargetWrite,
    by_ref: &mapsync_plan::diff::LocationsByRefName,
    check: &DriftCheck<'_>,
    extra: &[mapsync_plan::reconcile::DocRef],
) -> Result<(), PlanError> {
    use mapsync_plan::reconcile::Action;
    // `sync` writing over drift reads nothing here: the executor reads
    // each update's state before writing anyway, and sees the drift there
    // (`exec::Job::watch`).
    if !check.diffs && check.on_drift == mapsync_core::diff::OnDrift::Overwrite && extra.is_empty()
    {
        return Ok(());
    }
    let category_ids: std::collections::BTreeMap<String, String> = plan
        .changes
        .iter()
        .filter(|c| c.entity == Entity::Category)
        .filter_map(|c| Some((c.key.clone()?, c.target_id.clone()?)))
        .collect();
    // What to read for each document, None for creates.
    let read = |i: usize, c: &mapsync_plan::reconcile::Change| {
        c.target_id.clone().map(|id| (i, id, c.key.clone()))
    };
    let mut work: Vec<Option<Read>> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.action, Action::Create | Action::Update))
        .map(|(i, c)| (c.action == Action::Update).then(|| read(i, c)).flatten())
        .collect();
    let updates = work.len();
    work.extend(
        extra
            .iter()
            .map(|r| plan.changes.get(r.change).and_then(|c| read(r.change, c))),
    );
    if !work.iter().any(Option::is_some) {
        return Ok(());
    }
    let stored = stored_field_hashes(plan, &work, check).await?;
    let mut found = Vec::new();
    let mut batch: Vec<Batched> = Vec::new();
    for (n, (w, doc)) in work.into_iter().zip(documents.iter()).enumerate() {
        let Some((i, id, key)) = w else { continue };
        let doc = doc?.document;
        let hashes = key
            .as_ref()
            .and_then(|k| stored.get(&(doc.entity, k.clone())))
            .cloned();
        let diff = check.diffs && n < updates;
        if !diff && hashes.is_none() {
            continue;
        }
        if batch.last().is_some_and(|b| b.doc.entity != doc.entity) || batch.len() >= DIFF_BATCH {
            found.extend(update_diffs(target, by_ref, &category_ids, &batch).await?);
            batch.clear();
        }
        batch.push(Batched {
            change: i,
            id,
            doc,
            hashes,
            diff,
        });
    }
    found.extend(update_diffs(target, by_ref, &category_ids, &batch).await?);
    for (i, d, drifted) in found {
        let Some(c) = plan.changes.get_mut(i) else {
            continue;
        };
        if let Some(d) = d {
            c.diff = d;
        }
        let two_way = check.two_way.paths(c.entity);
        c.drift = drifted
            .into_iter()
            .filter(|d| !two_way.contains(&d.field))
            .map(|d| mapsync_plan::reconcile::DriftEntry {
                field: d.field,
                store: d.store,
                new: d.new,
                on_drift: check.on_drift,
            })
            .collect();
        // What `keep` leaves alone is not written: not a difference.
        let kept = c.kept_fields();
        c.diff.retain(|d| !kept.contains(&d.path));
        if c.drift_fails() && c.action == Action::Update {
            c.diagnostics.push(mapsync_plan::reconcile::PlanDiagnostic {
                severity: "error".into(),
                code: mapsync_core::diag::codes::RECONCILE_DRIFT.name.into(),
                message: c.drift_message(),
                help: Some(
                    "edit the field back in the store, or set `settings.on_drift` to `overwrite` (the source wins) or `keep` (the store's value stays)".into(),
                ),
            });
        }
    }
    Ok(())
}

/// The items of `refs` the ledger has field hashes of (`plan --drift`
/// compiles and reads only those).
async fn with_field_hashes(
    plan: &mapsync_plan::reconcile::Plan,
    refs: Vec<mapsync_plan::reconcile::DocRef>,
    states: &mapsync_statedb::StatePool,
    channel: &str,
) -> Result<Vec<mapsync_plan::reconcile::DocRef>, PlanError> {
    let key_of = |r: &mapsync_plan::reconcile::DocRef| {
        let c = plan.changes.get(r.change)?;
        Some((c.entity, c.key.clone()?))
    };
    let mut keys: std::collections::BTreeMap<Entity, Vec<String>> = Default::default();
    for (entity, key) in refs.iter().filter_map(key_of) {
        keys.entry(entity).or_default().push(key);
    }
    let store = states.take()?;
    let mut hashed = std::collections::HashSet::new();
    let mut result = Ok(());
    for (entity, keys) in keys {
        match store.field_hashes(channel, entity, keys).await {
            Ok(found) => hashed.extend(found.into_keys().map(|k| (entity, k))),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    states.give(store);
    result?;
    Ok(refs
        .into_iter()
        .filter(|r| key_of(r).is_some_and(|k| hashed.contains(&k)))
        .collect())
}

/// The ledger's field hashes of the items of `work`, by entity and key.
async fn stored_field_hashes(
    plan: &mapsync_plan::reconcile::Plan,
    work: &[Option<Read>],
    check: &DriftCheck<'_>,
) -> Result<std::collections::HashMap<(Entity, String), mapsync_core::diff::FieldHashes>, PlanError>
{
    let mut keys: std::collections::BTreeMap<Entity, Vec<String>> = Default::default();
    for (i, _, key) in work.iter().flatten() {
        if let (Some(c), Some(k)) = (plan.changes.get(*i), key) {
            keys.entry(c.entity).or_default().push(k.clone());
        }
    }
    let store = check.states.take()?;
    let mut out = std::collections::HashMap::new();
    let mut result = Ok(());
    for (entity, keys) in keys {
        match store.field_hashes(check.channel, entity, keys).await {
            Ok(found) => out.extend(found.into_iter().map(|(k, f)| ((entity, k), f))),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    check.states.give(store);
    result?;
    Ok(out)
}

/// One item of a batch read for its diff and drift.
struct Batched {
    /// Its change's index.
    change: usize,
    /// Its target id.
    id: String,
    /// Its desired document.
    doc: mapsync_core::document::Document,
    /// The field hashes mapsync last wrote, when the ledger has them.
    hashes: Option<mapsync_core::diff::FieldHashes>,
    /// Whether its change gets the field diff.
    diff: bool,
}

/// What reading one item found: change index, its field diff when asked
/// for, its drift.
type Found = (
    usize,
    Option<Vec<mapsync_plan::diff::DiffEntry>>,
    Vec<mapsync_core::diff::Drifted>,
);

/// Field diffs and drift of a batch of items of one entity against the
/// target's full current state.
async fn update_diffs(
    target: &dyn TargetWrite,
    by_ref: &mapsync_plan::diff::LocationsByRefName,
    category_ids: &std::collections::BTreeMap<String, String>,
    batch: &[Batched],
) -> Result<Vec<Found>, PlanError> {
    let Some(first) = batch.first() else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = batch.iter().map(|b| b.id.clone()).collect();
    // Target id → position in the batch, built once: lookups stay linear.
    let by_id: std::collections::HashMap<&str, usize> = batch
        .iter()
        .enumerate()
        .map(|(n, b)| (b.id.as_str(), n))
        .collect();
    let rules = target.capabilities().compare;
    let mut out = Vec::new();
    for current in target
        .read_current(first.doc.entity, &ids)
        .await
        .map_err(EngineError::from)?
    {
        let Some(b) = by_id.get(current.id.as_str()).and_then(|n| batch.get(*n)) else {
            continue;
        };
        let doc = &b.doc;
        let diff = b.diff.then(|| {
            let mut d = mapsync_plan::diff::diff_item(doc, &current, by_ref, &rules);
            if doc.entity == Entity::Product {
                d.extend(mapsync_plan::diff::diff_product_collections(
                    doc,
                    &current,
                    category_ids,
                ));
            }
            d
        });
        let drifted = b
            .hashes
            .as_ref()
            .map(|h| mapsync_core::diff::drift(doc, &current, &rules, h))
            .unwrap_or_default();
        out.push((b.change, diff, drifted));
    }
    Ok(out)
}

/// The target location id of every reference location of the mapping set,
/// or which one the target lacks.
pub fn resolve_locations(
    set: &mapsync_config::check::model::MappingSet,
    locations: &[mapsync_core::current::StoreLocation],
) -> Result<mapsync_plan::diff::LocationsByRefName, PlanError> {
    use mapsync_config::check::model::LocationRef;
    let mut by_ref = mapsync_plan::diff::LocationsByRefName::new();
    for (name, r) in &set.locations {
        let found = locations.iter().find(|l| match r {
            LocationRef::Name(n) => &l.name == n,
            LocationRef::Id(id) => &l.id == id,
        });
        match found {
            Some(l) => {
                by_ref.insert(name.clone(), l.id.clone());
            }
            None => {
                return Err(PlanError::Location {
                    name: name.clone(),
                    wanted: match r {
                        LocationRef::Name(n) => format!("named \"{n}\""),
                        LocationRef::Id(id) => id.clone(),
                    },
                    have: locations
                        .iter()
                        .map(|l| format!("\"{}\" ({})", l.name, l.id))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    Ok(by_ref)
}

/// An opaque value that changes when the target's items change.
pub fn target_serial(catalog: &mapsync_core::current::Catalog) -> String {
    let view: Vec<(&str, Option<&str>, bool)> = catalog
        .categories
        .iter()
        .chain(&catalog.products)
        .map(|i| (i.id.as_str(), i.updated_at.as_deref(), i.published))
        .collect();
    mapsync_core::hash::content_hash(&serde_json::json!(view))
}

/// The key of a record that failed to compile, when it has one.
fn record_key(
    set: &mapsync_config::check::model::MappingSet,
    kind: Entity,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let entity = match kind {
        Entity::Category => set.category.as_ref()?,
        Entity::Product => set.product.as_ref()?,
    };
    let v = mapsync_plan::compile::resolve(&entity.key, fields)?;
    match v.as_ref() {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
