//! `sync` and `apply` end to end: connect, plan (or load a saved plan and
//! refuse it when the target changed since), execute, journal the run and
//! build the run report. Failures before the first change (configuration,
//! initial reads, a stale plan, `max_deletes`) are fatal and change nothing.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::report::{Requests, RunReport, FORMAT_VERSION};
use super::{Documents, ExecError, ExecOptions, Job, Progress};
use crate::engine::{self, Connected, EngineError, PlanError, PlanOptions};
use mapsync_config::check::model::MappingSet;
use mapsync_config::profile::Profile;
use mapsync_core::document::Entity;
use mapsync_core::target::ReadHint;
use mapsync_plan::reconcile::{self, Action, Plan};
use mapsync_state::{RunStatus, StateError};
use mapsync_statedb::StatePool;

/// Why a run stopped (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Planning failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Connecting or reading failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The executor stopped.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The state store failed.
    #[error("state store: {0}")]
    State(#[from] StateError),
    /// The saved plan was made against a target that has changed since.
    #[error("the plan is stale: the target changed since it was made at {created_at}; nothing was changed. Make a new plan with `mapsync plan --profile {profile} --out FILE` and review it")]
    Stale {
        /// When the plan was made.
        created_at: String,
        /// Its profile.
        profile: String,
    },
    /// An earlier run's batch import could not be taken.
    #[error(transparent)]
    Recover(#[from] super::batch::RecoverError),
    /// A timestamp could not be formatted.
    #[error("cannot format a timestamp: {0}")]
    Time(#[from] time::error::Format),
}

/// Options of `mapsync sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `--only KEY...`: only these keys (empty: every item).
    pub only: Vec<String>,
    /// `--force`: ignore change detection.
    pub force: bool,
    /// `--allow-mass-delete`.
    pub allow_mass_delete: bool,
    /// `--full`: read every record even where the source reads
    /// incrementally.
    pub full: bool,
}

/// What a caller that runs a profile again and again (the sync manager)
/// keeps between its runs and hands to each, so that a run with nothing
/// to change opens and parses nothing it had already. The default keeps
/// nothing: the run opens its state connections and loads its mapping set
/// itself (as `mapsync sync`).
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// Connections to the profile's state store (SQLite connections kept
    /// idle, or the PostgreSQL pool): the run takes them from here and
    /// gives them back.
    pub state: Option<StatePool>,
    /// The profile's mapping set, loaded and checked (it must be the one
    /// `profile.mapping` names).
    pub mapping: Option<Arc<MappingSet>>,
    /// The profile's last plan with nothing to do (see [`crate::memo`]):
    /// kept with the mapping set, made new with it.
    pub memo: Option<crate::memo::PlanMemo>,
}

/// `mapsync sync`: plan and apply in one go.
pub async fn sync(
    profile: &Profile,
    options: &SyncOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<RunReport, RunError> {
    sync_with(profile, options, progress, stop, &Kept::default()).await
}

/// [`sync`] with what the caller keeps between runs.
pub async fn sync_with(
    profile: &Profile,
    options: &SyncOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
    kept: &Kept,
) -> Result<RunReport, RunError> {
    let started = OffsetDateTime::now_utc();
    // Loaded once: for the client's settings, planning and applying.
    let set = match &kept.mapping {
        Some(set) => set.clone(),
        None => Arc::new(load_set(profile)?),
    };
    // One connection serves the run's steps one after the other.
    let states = match &kept.state {
        Some(pool) => pool.clone(),
        None => engine::state_pool(profile, 1)?,
    };
    // A state database on a server that cannot be reached stops the run
    // before the target is asked anything.
    states.connect().await?;
    let connected = engine::connect_with(profile, Some(&set.settings)).await?;
    let result = async {
        recover_batches(&connected, &states, &profile.channel).await?;
        let planned = engine::plan_spooled_in(
            profile,
            &connected,
            started,
            &PlanOptions {
                force: options.force,
                skip_update_diffs: true,
                full: options.full,
                memo: kept.memo.clone(),
                drift: false,
            },
            Some(set.clone()),
            &states,
        )
        .await?;
        let mut plan = planned.plan;
        let mut documents = planned.documents;
        tracing::info!(
            items = plan.changes.len(),
            seconds = (OffsetDateTime::now_utc() - started).as_seconds_f64(),
            "planned"
        );
        if !options.only.is_empty() {
            let only: HashSet<&str> = options.only.iter().map(String::as_str).collect();
            let wanted = |c: &mapsync_plan::reconcile::Change| {
                c.key.as_deref().is_some_and(|k| only.contains(k))
            };
            // Documents follow the create and update changes in plan order.
            let keep: Vec<bool> = plan
                .changes
                .iter()
                .filter(|c| matches!(c.action, Action::Create | Action::Update))
                .map(wanted)
                .collect();
            documents.retain_indices(|i| keep.get(i).copied().unwrap_or(false));
            plan.changes.retain(wanted);
            plan.mass_delete.clear();
            plan.recount();
        }
        let documents = Documents::Spool(documents);
        let cx = Applying {
            profile,
            set: &set,
            connected: &connected,
            states: &states,
            locations: Some(planned.locations),
            started,
            allow_mass_delete: options.allow_mass_delete,
            progress,
            stop,
            watch_drift: true,
        };
        apply_planned(&cx, &plan, documents).await
    }
    .await;
    if kept.state.is_none() {
        states.close().await;
    }
    connected.close().await.map_err(EngineError::from)?;
    result
}

/// `mapsync apply FILE`: apply a saved plan exactly, unless the target
/// changed since it was made.
pub async fn apply(
    profile: &Profile,
    plan: Plan,
    documents: Documents,
    allow_mass_delete: bool,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<RunReport, RunError> {
    let started = OffsetDateTime::now_utc();
    let set = load_set(profile)?;
    let states = engine::state_pool(profile, 1)?;
    states.connect().await?;
    let connected = engine::connect_with(profile, Some(&set.settings)).await?;
    let result = async {
        recover_batches(&connected, &states, &profile.channel).await?;
        let catalog = connected
            .target
            .read_catalog(ReadHint::default())
            .await
            .map_err(EngineError::from)?;
        if engine::target_serial(&catalog) != plan.target_serial {
            return Err(RunError::Stale {
                created_at: plan.created_at.clone(),
                profile: plan.profile.clone(),
            });
        }
        let mut plan = plan;
        // max_deletes again, against the target as it is now.
        plan.mass_delete = [
            (Entity::Category, catalog.categories.len()),
            (Entity::Product, catalog.products.len()),
        ]
        .into_iter()
        .filter_map(|(entity, total)| {
            let planned = plan
                .changes
                .iter()
                .filter(|c| {
                    c.entity == entity && matches!(c.action, Action::Delete | Action::Deactivate)
                })
                .count();
            reconcile::max_deletes_exceeded(entity, total, &set.settings, planned)
        })
        .collect();
        let cx = Applying {
            profile,
            set: &set,
            connected: &connected,
            states: &states,
            locations: None,
            started,
            allow_mass_delete,
            progress,
            stop,
            watch_drift: false,
        };
        apply_planned(&cx, &plan, documents).await
    }
    .await;
    states.close().await;
    connected.close().await.map_err(EngineError::from)?;
    result
}

/// Takes the results of batch imports an earlier run submitted and did not
/// record, before the target is read (see [`super::batch::recover`]).
async fn recover_batches(
    connected: &Connected,
    states: &StatePool,
    channel: &str,
) -> Result<(), RunError> {
    if connected.target.batch().is_none() {
        return Ok(());
    }
    let store = states.take()?;
    let recorded = super::batch::recover(connected.target.as_ref(), &store, channel).await?;
    states.give(store);
    if recorded > 0 {
        tracing::info!(
            items = recorded,
            "recorded the outcomes of an earlier run's batch import"
        );
    }
    Ok(())
}

/// The run's write-backs: when the source takes them and the mapping
/// names write-back fields for an entity it has a request for.
fn writeback_of(
    profile: &Profile,
    set: &MappingSet,
    states: &StatePool,
) -> Result<Option<super::writeback::Writeback>, RunError> {
    let Some(super::Pulls {
        source: writer,
        fields: by_entity,
        ..
    }) = pulls_of(profile, set)?
    else {
        return Ok(None);
    };
    let store = states.take()?;
    Ok(super::writeback::Writeback::new(
        writer,
        by_entity,
        store,
        &profile.channel,
    ))
}

/// The `mapsync resolve` choices this run applied (an item done whose
/// plan decided a conflict by one) are cleared: the field's next conflict
/// is a new one, for a person to look at again. A failure here is logged:
/// the choice stays and applies again.
async fn clear_applied_resolutions(
    store: &mapsync_statedb::StateDb,
    channel: &str,
    plan: &Plan,
    outcome: &super::Outcome,
) {
    use std::collections::{BTreeMap, BTreeSet};
    let done: BTreeSet<(Entity, &str)> = outcome
        .items
        .iter()
        .filter(|i| i.status == super::Status::Ok)
        .filter_map(|i| Some((i.entity, i.key.as_deref()?)))
        .collect();
    let mut applied: BTreeMap<Entity, BTreeSet<(String, String)>> = BTreeMap::new();
    for c in &plan.changes {
        let Some(key) = c.key.as_deref() else {
            continue;
        };
        if !done.contains(&(c.entity, key)) {
            continue;
        }
        for e in c.two_way.iter().filter(|e| e.resolved.is_some()) {
            applied
                .entry(c.entity)
                .or_default()
                .insert((key.to_string(), e.field.clone()));
        }
    }
    for (entity, fields) in applied {
        let keys: Vec<String> = fields.iter().map(|f| f.0.clone()).collect();
        let found = match store.resolutions(channel, entity, Some(keys)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the applied resolve choices; they apply again");
                continue;
            }
        };
        let clear: Vec<_> = found
            .into_iter()
            .filter(|r| fields.contains(&(r.key.clone(), r.field.clone())))
            .collect();
        if let Err(e) = store.clear_resolutions(channel, clear).await {
            tracing::warn!(error = %e, "cannot clear the applied resolve choices; they apply again");
        }
    }
}

/// The source's write side with the write-back fields of each entity,
/// when the source can be written.
fn pulls_of(profile: &Profile, set: &MappingSet) -> Result<Option<super::Pulls>, RunError> {
    let source = engine::open_source(&profile.source).map_err(EngineError::from)?;
    let Some(writer) = source.writeback() else {
        return Ok(None);
    };
    let fields = |e: &Option<mapsync_config::check::model::EntityMapping>| {
        let w = e.as_ref().map(|e| &e.writeback);
        let name = |p: Option<&mapsync_syntax::SourcePath>| p.map(|p| p.display());
        mapsync_core::source::WritebackFields {
            sync_id: name(w.and_then(|w| w.sync_id.as_ref())),
            sync_date: name(w.and_then(|w| w.sync_date.as_ref())),
            sync_msg: name(w.and_then(|w| w.sync_msg.as_ref())),
        }
    };
    let fields = [
        (Entity::Category, fields(&set.category)),
        (Entity::Product, fields(&set.product)),
    ]
    .into_iter()
    .collect();
    Ok(Some(super::Pulls {
        source: writer,
        fields,
        written: None,
    }))
}

fn load_set(profile: &Profile) -> Result<MappingSet, RunError> {
    let (set, _files, diags) =
        mapsync_config::check::load_mapping(&profile.mapping, &profile.registry)
            .map_err(PlanError::from)?;
    if diags.has_errors() {
        return Err(PlanError::Mapping(diags).into());
    }
    Ok(set)
}

/// What applying a plan runs with.
struct Applying<'a> {
    profile: &'a Profile,
    set: &'a MappingSet,
    connected: &'a Connected,
    /// Where the run's state connections come from.
    states: &'a StatePool,
    /// The reference locations resolved while planning; read again when
    /// `None` (a saved plan).
    locations: Option<mapsync_plan::diff::LocationsByRefName>,
    started: OffsetDateTime,
    allow_mass_delete: bool,
    progress: &'a dyn Progress,
    stop: &'a AtomicBool,
    /// Whether the executor looks for drift itself (`sync`: its plan did
    /// not read the updates' state; `apply`: the saved plan did).
    watch_drift: bool,
}

async fn apply_planned(
    cx: &Applying<'_>,
    plan: &Plan,
    documents: Documents,
) -> Result<RunReport, RunError> {
    let Applying {
        profile,
        set,
        connected,
        states,
        ref locations,
        started,
        allow_mass_delete,
        progress,
        stop,
        watch_drift,
    } = *cx;
    let target = &connected.target;
    let locations = match locations {
        Some(l) => l.clone(),
        None => {
            let read = target.locations().await.map_err(EngineError::from)?;
            engine::resolve_locations(set, &read)?
        }
    };
    let keep = |e: &Option<mapsync_config::check::model::EntityMapping>| {
        e.as_ref().is_some_and(|e| e.keep_deleted_metafields)
    };
    let options = ExecOptions {
        chunk_size: set.settings.chunk_size,
        concurrency: set.settings.concurrency,
        keep_existing_variant_data: set.settings.keep_existing_variant_data,
        keep_deleted_category_metafields: keep(&set.category),
        keep_deleted_product_metafields: keep(&set.product),
        allow_mass_delete,
    };
    let store = states.take()?;
    // The batch journal and the upload cache serve creates and updates
    // only: a run with none (the usual scheduled run of `mapsync run`)
    // opens no connection for them.
    let writes = plan
        .changes
        .iter()
        .any(|c| matches!(c.action, Action::Create | Action::Update));
    let updates = plan.changes.iter().any(|c| c.action == Action::Update);
    let journal = match target.batch() {
        Some(_) if writes => Some(super::batch::BatchJournal {
            store: states.take()?,
            channel: profile.channel.clone(),
        }),
        _ => None,
    };
    let run = store
        .begin_run(&profile.name, &profile.channel, started)
        .await?;
    let full_read = plan
        .reads
        .iter()
        .all(|r| r.read == mapsync_plan::reconcile::ReadKind::Full);
    store.set_full_read(run, full_read).await?;
    let writeback = writeback_of(profile, set, states)?;
    if let Some(w) = &writeback {
        super::writeback::resend_pending(w).await;
    }
    let worker = writeback.as_ref().map(|w| w.start());
    let (sender, worker) = match worker {
        Some((s, w)) => (Some(s), Some(w)),
        None => (None, None),
    };
    let (writer, handle) = super::ledger::start_with(store, profile.channel.clone(), sender);
    let job = Job {
        plan,
        documents,
        locations,
        options,
        journal,
        uploads: if writes {
            crate::uploads::StateUploads::open(states.take()?, &profile.channel)
                .await
                .into_uploads()
        } else {
            mapsync_core::target::Uploads::default()
        },
        watch: match set.settings.on_drift {
            mapsync_core::diff::OnDrift::Overwrite if watch_drift && updates => {
                Some(super::DriftWatch {
                    state: states.take()?,
                    channel: profile.channel.clone(),
                })
            }
            _ => None,
        },
        pulls: if plan.changes.iter().any(|c| c.pulls().next().is_some()) {
            pulls_of(profile, set)?.map(|p| super::Pulls {
                written: writeback.as_ref().map(|w| w.written()),
                ..p
            })
        } else {
            None
        },
    };
    let outcome = super::execute(target.as_ref(), job, &writer, progress, stop).await;
    drop(writer);
    let store = handle.finish().await;
    if let Some(worker) = worker {
        worker.finish().await;
    }
    let writeback_report = match &writeback {
        Some(w) => Some(w.report().await),
        None => None,
    };
    let finished = OffsetDateTime::now_utc();
    let store = match store {
        Ok(s) => s,
        Err(e) => {
            // The writer stopped: journal the run as failed if we can.
            if let Ok(s) = states.take() {
                let _ = s
                    .finish_run(run, finished, RunStatus::Failed, &serde_json::json!({}))
                    .await;
            }
            return Err(e.into());
        }
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            store
                .finish_run(run, finished, RunStatus::Failed, &serde_json::json!({}))
                .await?;
            return Err(e.into());
        }
    };
    clear_applied_resolutions(&store, &profile.channel, plan, &outcome).await;
    let stats = target.request_stats();
    let report = RunReport {
        format_version: FORMAT_VERSION,
        profile: profile.name.clone(),
        started_at: started.format(&Rfc3339)?,
        finished_at: finished.format(&Rfc3339)?,
        summary: outcome.summary,
        requests: Requests {
            total: stats.requests,
            throttled: stats.throttled,
            retried: stats.retried,
            cost: stats.cost,
        },
        items: outcome.items,
        writeback: writeback_report,
    };
    let status = if report.exit_code() == 0 {
        RunStatus::Ok
    } else {
        RunStatus::Partial
    };
    store
        .finish_run(
            run,
            finished,
            status,
            &serde_json::to_value(report.summary).unwrap_or_default(),
        )
        .await?;
    if let Err(e) = store.prune_runs(&profile.name, RUNS_KEPT).await {
        tracing::warn!(error = %e, "the run journal could not be pruned");
    }
    states.give(store);
    Ok(report)
}

/// Runs of a profile the journal keeps (`mapsync runs`, the status page),
/// besides the last ok and last full read ones (`Store::prune_runs`).
pub const RUNS_KEPT: usize = 1000;
