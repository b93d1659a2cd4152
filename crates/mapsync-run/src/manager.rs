//! The sync manager: one task per scheduled profile, a reload task, the
//! shared state the HTTP endpoints read.
//!
//! * A profile's task sleeps until its next run (at once on start), runs
//!   what `mapsync sync --profile P` runs, journals it, and computes the
//!   next run: the schedule's after a run that ended (ok or partial), a
//!   backoff after one that failed (2 s, doubling, at most the interval;
//!   at most 10 minutes for a manual profile, whose failed run is retried
//!   too).
//! * Runs of one profile never overlap (a per-profile async mutex; a
//!   request while one runs is refused).
//! * Reloads re-load and re-check the whole project; one with errors is
//!   refused and the running configuration stays. A configuration taken
//!   keeps each profile's checked mapping set for its runs; the state
//!   databases' connections are kept across runs ([`StatePool`]: idle
//!   SQLite connections, or one PostgreSQL pool per database).
//! * Shutdown sets the engine's stop flag: items in flight finish and are
//!   recorded, no new run starts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::Notify;

use mapsync_config::check::model::MappingSet;
use mapsync_config::connector::Registry;
use mapsync_config::profile::{self, LoadedProject, Profile, ProfileError};
use mapsync_config::schedule::{RunSettings, Schedule};
use mapsync_core::diag::{Diagnostics, Severity};
use mapsync_engine::exec::report::{RunReport, Status};
use mapsync_engine::exec::run::{Kept, RunError, SyncOptions};
use mapsync_engine::exec::NoProgress;
use mapsync_statedb::StatePool;

use crate::metrics::Metrics;

/// At most this many failed items are kept with a run.
pub const FAILED_ITEMS_KEPT: usize = 50;

/// First wait after a failed run; doubles, capped at the interval.
const BACKOFF_BASE: Duration = Duration::from_secs(2);

/// At most this many runs at once (the others wait their turn): twenty
/// profiles on one schedule would otherwise hold twenty runs' memory at
/// the same moment.
pub const MAX_CONCURRENT_RUNS: usize = 4;

/// Threads that runs execute on (each runs several at once: their
/// requests are futures, planning uses the blocking pool).
const RUN_WORKERS: usize = 2;

/// How often the files of the configuration are looked at for changes.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// What `mapsync run` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project file.
    pub project_file: PathBuf,
    /// `--profile`: only these profiles (and these even without a
    /// `schedule:`, as manual ones); empty: every profile with a schedule.
    pub only: Vec<String>,
    /// `--worker`: scheduled runs become jobs of the pool in PostgreSQL
    /// ([`crate::pool`]).
    pub worker: bool,
}

/// How a profile's runs are going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for its next run.
    Idle,
    /// A run is in progress.
    Running,
}

/// The last run as the manager saw it.
#[derive(Debug, Clone)]
pub struct LastRun {
    /// The summary kept in the journal (`report` of `/api/runs`).
    pub report: Value,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// When it ended.
    pub finished_at: OffsetDateTime,
}

/// One profile the manager runs.
pub struct Slot {
    /// Its name.
    pub name: String,
    cfg: Mutex<SlotConfig>,
    run_lock: tokio::sync::Mutex<()>,
    wake: Notify,
    status: Mutex<SlotStatus>,
}

#[derive(Clone)]
struct SlotConfig {
    profile: Result<Profile, String>,
    schedule: Schedule,
    /// The profile's mapping set, checked when its copy was made: every
    /// run uses it until a reload is taken (the copy never changes).
    mapping: Option<Arc<MappingSet>>,
    /// The profile's last plan with nothing to do, reused by its runs while
    /// nothing it was made from changed; a reload makes a new one.
    memo: mapsync_engine::memo::PlanMemo,
}

/// A configuration loaded and checked by [`Shared::load`], to hand to
/// [`Shared::apply`].
pub struct Loaded {
    /// The project.
    pub project: LoadedProject,
    /// Each profile's mapping set, by profile name (profiles whose mapping
    /// files are the same share one).
    mappings: BTreeMap<String, Arc<MappingSet>>,
}

struct SlotStatus {
    state: State,
    next_run: Option<SystemTime>,
    run_now: bool,
    removed: bool,
    failures: u32,
    last: Option<LastRun>,
}

/// A reload that was refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// When.
    pub at: OffsetDateTime,
    /// Why, in one line.
    pub reason: String,
    /// Every diagnostic.
    pub diagnostics: Vec<Value>,
}

/// What the manager shares with its tasks and the HTTP endpoints.
pub struct Shared {
    /// How it was started.
    pub options: Options,
    registry: Registry,
    /// The metrics.
    pub metrics: Metrics,
    /// The `run:` settings of the configuration in force.
    pub settings: Mutex<RunSettings>,
    /// The `run:` settings the manager started with: `listen` and `logs`
    /// keep these until a restart.
    pub started_with: Mutex<Option<RunSettings>>,
    /// Whether a configuration was ever loaded.
    pub loaded: AtomicBool,
    /// The last refused reload, until a reload is taken.
    pub refused: Mutex<Option<Refusal>>,
    slots: Mutex<BTreeMap<String, Arc<Slot>>>,
    /// Set on the first SIGTERM/SIGINT: no new run starts.
    pub shutting_down: AtomicBool,
    /// The engine's stop flag: items in flight finish, then the run stops.
    pub stop: Arc<AtomicBool>,
    shutdown: Notify,
    reload_now: Notify,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    started: SystemTime,
    generation: std::sync::atomic::AtomicU64,
    run_permits: tokio::sync::Semaphore,
    pool: RunPool,
    stores: Mutex<StorePools>,
    /// `--worker`: this process's membership of the pool, once joined.
    queue: std::sync::OnceLock<Arc<crate::pool::Pool>>,
    /// `--worker`: graphile_worker's worker (asked to stop on shutdown).
    queue_worker: Mutex<Option<Arc<graphile_worker::Worker>>>,
}

/// The manager's connections to state databases, by SQLite file or
/// PostgreSQL URL: its runs and its own journal writes take them from
/// here and give them back, so a run opens none (opening parses the
/// schema and checks the migrations, otherwise the most of what an idle
/// run costs). Profiles sharing a database share its connections (one
/// `sqlx` pool per PostgreSQL database).
type StorePools = std::collections::HashMap<mapsync_state::StateLocation, StatePool>;

/// Connections kept open per state database between uses. A run holds one
/// only while it reads the ledger and while it applies (and records), so
/// two serve the usual four runs at once; another is opened (and closed)
/// when more are needed at the same moment (a run that writes takes up to
/// three more: batches, uploads, write-backs). Each open connection keeps
/// SQLite's page cache: four held 4 MB more than two at rest.
const IDLE_STATE_CONNECTIONS: usize = 2;

/// How long a run worker's idle blocking thread waits for more work
/// before it ends: longer than the schedules a manager usually runs.
const RUN_BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Why a manual run could not start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TriggerError {
    /// No profile of that name is run by this manager.
    #[error("no profile `{0}` in this manager")]
    Unknown(String),
    /// One is running.
    #[error("a run of `{0}` is in progress")]
    Running(String),
    /// The manager is stopping.
    #[error("the manager is shutting down")]
    ShuttingDown,
    /// `--worker`: the job could not be added to the pool's queue.
    #[error("{0}")]
    Queue(String),
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn system_rfc3339(t: SystemTime) -> String {
    rfc3339(OffsetDateTime::from(t))
}

/// Diagnostics as JSON values (file, line, column, code, message, help).
pub fn diagnostics_json(diags: &Diagnostics) -> Vec<Value> {
    diags
        .iter()
        .map(|d| {
            let (file, line, col) = match (&d.location, d.line_cols()) {
                (Some(l), Some((line, col, _, _))) => (Some(l.file.name.clone()), Some(line), Some(col)),
                _ => (None, None, None),
            };
            json!({
                "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "code": d.code.name,
                "message": d.message,
                "file": file,
                "line": line,
                "column": col,
                "label": d.label,
                "help": d.help,
            })
        })
        .collect()
}

/// One diagnostic in one line, for the log.
pub fn diagnostic_line(d: &Value) -> String {
    let at = match (d["file"].as_str(), d["line"].as_u64(), d["column"].as_u64()) {
        (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}: "),
        _ => String::new(),
    };
    let help = d["help"]
        .as_str()
        .map(|h| format!(" (help: {h})"))
        .unwrap_or_default();
    format!(
        "{at}{}[{}]: {}{help}",
        d["severity"].as_str().unwrap_or("error"),
        d["code"].as_str().unwrap_or(""),
        d["message"].as_str().unwrap_or("")
    )
}

fn backoff(failures: u32, cap: Option<Duration>) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let wait = BACKOFF_BASE.saturating_mul(1u32 << exp);
    match cap {
        Some(c) => wait.min(c.max(Duration::from_secs(1))),
        None => wait.min(Duration::from_secs(600)),
    }
}

impl Shared {
    /// A manager for `options`, with the connectors of `registry`.
    pub fn new(options: Options, registry: Registry) -> Arc<Shared> {
        let worker = options.worker;
        Arc::new(Shared {
            options,
            registry,
            metrics: Metrics::with_pool(worker),
            settings: Mutex::new(RunSettings::default()),
            started_with: Mutex::new(None),
            loaded: AtomicBool::new(false),
            refused: Mutex::new(None),
            slots: Mutex::new(BTreeMap::new()),
            shutting_down: AtomicBool::new(false),
            stop: Arc::new(AtomicBool::new(false)),
            shutdown: Notify::new(),
            reload_now: Notify::new(),
            tasks: Mutex::new(Vec::new()),
            started: SystemTime::now(),
            generation: std::sync::atomic::AtomicU64::new(0),
            run_permits: tokio::sync::Semaphore::new(MAX_CONCURRENT_RUNS),
            pool: RunPool::new(RUN_WORKERS),
            stores: Mutex::new(StorePools::new()),
            queue: std::sync::OnceLock::new(),
            queue_worker: Mutex::new(None),
        })
    }

    /// Loads and checks the project, and keeps a copy of each profile's
    /// mapping set that its runs read until the next reload is taken: a
    /// mapping file saved broken is refused like a broken project file,
    /// and the runs go on with the copy (blocking: call from a blocking
    /// thread).
    pub fn load(&self) -> Result<Loaded, ProfileError> {
        let mut loaded = profile::load_all(
            &self.options.project_file,
            |n| std::env::var(n).ok(),
            &self.registry,
        )?;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut mappings = BTreeMap::new();
        // Mapping sets by the content of their files: twenty profiles with
        // one mapping hold one checked set.
        let mut by_content: Vec<(Vec<u8>, Arc<MappingSet>)> = Vec::new();
        for (name, resolved, _) in &mut loaded.profiles {
            if let Ok(p) = resolved {
                let set = snapshot_mapping(p, generation, &self.registry, &mut by_content)?;
                mappings.insert(name.clone(), set);
            }
        }
        Ok(Loaded {
            project: loaded,
            mappings,
        })
    }

    /// The profiles run by this manager, by name.
    pub fn slots(&self) -> Vec<Arc<Slot>> {
        lock(&self.slots).values().cloned().collect()
    }

    /// Takes a loaded configuration: new profiles start (their first run
    /// at once), changed ones take it from their next run, removed ones stop.
    pub fn apply(self: &Arc<Self>, loaded: Loaded) {
        self.apply_inner(loaded, true);
    }

    /// As [`Self::apply`], starting no task (`--once`).
    pub fn apply_without_tasks(self: &Arc<Self>, loaded: Loaded) {
        self.apply_inner(loaded, false);
    }

    fn apply_inner(self: &Arc<Self>, loaded: Loaded, spawn: bool) {
        let Loaded {
            project: loaded,
            mut mappings,
        } = loaded;
        let before = std::mem::replace(&mut *lock(&self.settings), loaded.run.clone());
        let pending = self.restart_needed();
        let changed_now = before.listen != loaded.run.listen
            || before.log_dir != loaded.run.log_dir
            || before.log_format != loaded.run.log_format;
        if changed_now && !pending.is_empty() {
            tracing::warn!(
                "run.{} changed: taken at the next start of `mapsync run` (restart it); until then the manager keeps what it started with",
                pending.join(", run.")
            );
        }
        self.loaded.store(true, Ordering::SeqCst);
        *lock(&self.refused) = None;
        let mut wanted = BTreeMap::new();
        for (name, resolved, schedule) in loaded.profiles {
            let named = self.options.only.contains(&name);
            let schedule = match (schedule, named) {
                (Some(s), _) => s,
                (None, true) => Schedule::Manual,
                (None, false) => continue,
            };
            if !self.options.only.is_empty() && !named {
                continue;
            }
            let mapping = mappings.remove(&name);
            wanted.insert(
                name,
                SlotConfig {
                    profile: resolved,
                    schedule,
                    mapping,
                    memo: Default::default(),
                },
            );
        }
        let mut slots = lock(&self.slots);
        for (name, slot) in slots.iter() {
            if !wanted.contains_key(name) {
                lock(&slot.status).removed = true;
                slot.wake.notify_one();
                tracing::info!(profile = %name, "profile removed from the configuration; it stops after its run in progress");
            }
        }
        slots.retain(|n, _| wanted.contains_key(n));
        for (name, cfg) in wanted {
            if let Some(slot) = slots.get(&name) {
                let changed_schedule = {
                    let mut c = lock(&slot.cfg);
                    let changed = c.schedule.describe() != cfg.schedule.describe();
                    *c = cfg.clone();
                    changed
                };
                if changed_schedule {
                    let mut st = lock(&slot.status);
                    st.next_run = match &cfg.schedule {
                        Schedule::Manual => None,
                        s => s.next_after(SystemTime::now()),
                    };
                    drop(st);
                    slot.wake.notify_one();
                }
                continue;
            }
            self.metrics.touch(&name);
            let next_run = match cfg.schedule {
                Schedule::Manual => None,
                _ => Some(SystemTime::now()),
            };
            let slot = Arc::new(Slot {
                name: name.clone(),
                cfg: Mutex::new(cfg),
                run_lock: tokio::sync::Mutex::new(()),
                wake: Notify::new(),
                status: Mutex::new(SlotStatus {
                    state: State::Idle,
                    next_run,
                    run_now: false,
                    removed: false,
                    failures: 0,
                    last: None,
                }),
            });
            slots.insert(name, slot.clone());
            if !spawn {
                continue;
            }
            let shared = self.clone();
            let handle = match self.queue.get().cloned() {
                Some(pool) => tokio::spawn(async move { shared.pool_task(slot, pool).await }),
                None => tokio::spawn(async move { shared.profile_task(slot).await }),
            };
            lock(&self.tasks).push(handle);
        }
    }

    /// Keeps the running configuration and says why a new one was refused.
    pub fn refuse(&self, reason: String, diagnostics: Vec<Value>) {
        tracing::error!("the configuration was not reloaded: {reason}; the running one stays");
        for d in &diagnostics {
            tracing::error!("{}", diagnostic_line(d));
        }
        *lock(&self.refused) = Some(Refusal {
            at: OffsetDateTime::now_utc(),
            reason,
            diagnostics,
        });
    }

    /// Reloads the configuration (blocking work on a blocking thread);
    /// the files to watch when it was taken.
    pub async fn reload(self: &Arc<Self>, why: &str) -> Option<Vec<PathBuf>> {
        let me = self.clone();
        let loaded = tokio::task::spawn_blocking(move || me.load()).await;
        match loaded {
            Ok(Ok(l)) => {
                for d in diagnostics_json(&l.project.diagnostics) {
                    tracing::warn!("{}", diagnostic_line(&d));
                }
                tracing::info!(
                    reason = why,
                    profiles = l.project.profiles.len(),
                    "configuration loaded"
                );
                let files = l.project.files.clone();
                self.apply(l);
                self.metrics.reload(true);
                Some(files)
            }
            Ok(Err(ProfileError::Invalid(diags))) => {
                self.refuse(
                    format!(
                        "{} has {} error(s)",
                        self.options.project_file.display(),
                        diags.errors()
                    ),
                    diagnostics_json(&diags),
                );
                self.metrics.reload(false);
                None
            }
            Ok(Err(e)) => {
                self.refuse(e.to_string(), Vec::new());
                self.metrics.reload(false);
                None
            }
            Err(e) => {
                self.refuse(format!("the reload stopped: {e}"), Vec::new());
                self.metrics.reload(false);
                None
            }
        }
    }

    /// Asks for a reload now (SIGHUP).
    pub fn request_reload(&self) {
        self.reload_now.notify_one();
    }

    /// The reload loop: every `config_check`, when a file changes, on request.
    pub async fn reload_task(self: Arc<Self>, mut files: Vec<PathBuf>) {
        let mut seen = mtimes(&files);
        let mut last_check = Instant::now();
        let mut last_cleanup = Instant::now();
        loop {
            let check_every = lock(&self.settings).config_check;
            let requested = tokio::select! {
                () = tokio::time::sleep(WATCH_EVERY) => false,
                () = self.reload_now.notified() => true,
                () = self.shutdown.notified() => return,
            };
            if self.shutting_down.load(Ordering::SeqCst) {
                return;
            }
            if last_cleanup.elapsed() >= Duration::from_secs(3600) {
                last_cleanup = Instant::now();
                self.cleanup_logs();
            }
            let now = mtimes(&files);
            let why = if requested {
                "SIGHUP"
            } else if now != seen {
                "a file changed"
            } else if last_check.elapsed() >= check_every {
                "config_check"
            } else {
                continue;
            };
            seen = now;
            last_check = Instant::now();
            if let Some(f) = self.reload(why).await {
                files = f;
                seen = mtimes(&files);
            }
        }
    }

    /// The `run:` settings of the configuration in force that differ from
    /// those the manager started with and wait for a restart (`listen`,
    /// `logs.dir`, `logs.format`).
    pub fn restart_needed(&self) -> Vec<&'static str> {
        let Some(start) = lock(&self.started_with).clone() else {
            return Vec::new();
        };
        let now = lock(&self.settings).clone();
        let mut out = Vec::new();
        if now.listen != start.listen {
            out.push("listen");
        }
        if now.log_dir != start.log_dir {
            out.push("logs.dir");
        }
        if now.log_format != start.log_format {
            out.push("logs.format");
        }
        out
    }

    /// Removes log files older than `keep_days` (of the configuration in
    /// force) from the directory the logs are written to.
    pub fn cleanup_logs(&self) {
        let s = lock(&self.settings).clone();
        let written = lock(&self.started_with).clone();
        let dir = self.log_dir(written.as_ref().unwrap_or(&s));
        let removed = crate::logs::cleanup(&dir, s.keep_days, OffsetDateTime::now_utc().date());
        if removed > 0 {
            tracing::info!(removed, "old log files removed");
        }
    }

    /// The log directory of `s` (relative to the project directory).
    pub fn log_dir(&self, s: &RunSettings) -> PathBuf {
        let base = self
            .options
            .project_file
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        base.join(&s.log_dir)
    }

    /// Starts a run of `name` now.
    pub fn trigger(&self, name: &str) -> Result<(), TriggerError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(TriggerError::ShuttingDown);
        }
        let slot = lock(&self.slots)
            .get(name)
            .cloned()
            .ok_or_else(|| TriggerError::Unknown(name.to_string()))?;
        let mut st = lock(&slot.status);
        if st.state == State::Running || st.run_now {
            return Err(TriggerError::Running(name.to_string()));
        }
        st.run_now = true;
        drop(st);
        slot.wake.notify_one();
        Ok(())
    }

    /// First SIGTERM/SIGINT: no new run, items in flight finish.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
        // The pool's worker takes no new job; the one in flight ends with
        // its run (released to the pool: another worker resumes it).
        if let Some(w) = lock(&self.queue_worker).as_ref() {
            w.request_shutdown();
        }
        for s in self.slots() {
            s.wake.notify_one();
        }
    }

    /// Waits for every profile's task to end (after [`Self::begin_shutdown`]).
    pub async fn join(&self) {
        loop {
            let tasks: Vec<_> = std::mem::take(&mut *lock(&self.tasks));
            if tasks.is_empty() {
                return;
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }

    async fn profile_task(self: Arc<Self>, slot: Arc<Slot>) {
        loop {
            if self.shutting_down.load(Ordering::SeqCst) || lock(&slot.status).removed {
                return;
            }
            let (due, run_now) = {
                let st = lock(&slot.status);
                (st.next_run, st.run_now)
            };
            let now = SystemTime::now();
            let is_due = run_now || due.is_some_and(|d| d <= now);
            if !is_due {
                let wait = due.and_then(|d| d.duration_since(now).ok());
                match wait {
                    Some(w) => {
                        tokio::select! {
                            () = tokio::time::sleep(w) => {}
                            () = slot.wake.notified() => {}
                        }
                    }
                    None => slot.wake.notified().await,
                }
                continue;
            }
            self.run_slot(&slot).await;
        }
    }

    /// One run of a slot (skipped when one is in progress).
    async fn run_slot(self: &Arc<Self>, slot: &Arc<Slot>) -> Option<Outcome> {
        let Ok(_guard) = slot.run_lock.try_lock() else {
            return None;
        };
        let cfg = lock(&slot.cfg).clone();
        {
            let mut st = lock(&slot.status);
            st.state = State::Running;
            st.run_now = false;
        }
        self.metrics.set_running(&slot.name, true);
        let started = OffsetDateTime::now_utc();
        let started_sys = SystemTime::now();
        let clock = Instant::now();
        let run_id = format!(
            "{}-{}",
            slot.name,
            started.unix_timestamp_nanos() / 1_000_000
        );
        let span = tracing::info_span!("run", profile = %slot.name, run_id = %run_id);
        let (report, error) = match &cfg.profile {
            Err(e) => (None, Some(e.clone())),
            Ok(profile) => {
                let _permit = self.run_permits.acquire().await;
                tracing::info!(parent: &span, "run started");
                let states = self.store_pool(profile);
                let kept = Kept {
                    state: states.clone().ok(),
                    mapping: cfg.mapping.clone(),
                    memo: Some(cfg.memo.clone()),
                };
                let journal = JournalRow {
                    states,
                    profile: profile.name.clone(),
                    channel: profile.channel.clone(),
                    started,
                    clock,
                    run_id: run_id.clone(),
                };
                let result = self
                    .pool
                    .sync(
                        profile.clone(),
                        kept,
                        journal,
                        self.stop.clone(),
                        span.clone(),
                    )
                    .await;
                match result {
                    Ok(r) => (Some(r), None),
                    Err(e) => (None, Some(e)),
                }
            }
        };
        let elapsed = clock.elapsed();
        let finished = OffsetDateTime::now_utc();
        let summary = summary_json(report.as_ref(), error.as_deref(), elapsed, &run_id);
        let target = cfg
            .profile
            .as_ref()
            .map(|p| p.target.type_name())
            .unwrap_or("none");
        self.metrics.record_run(
            &slot.name,
            target,
            report.as_ref(),
            elapsed.as_secs_f64(),
            finished.unix_timestamp() as f64 + f64::from(finished.millisecond()) / 1000.0,
        );
        self.metrics.set_running(&slot.name, false);
        let outcome = match (&report, &error) {
            (Some(r), _) => {
                let failed: Vec<_> = r
                    .items
                    .iter()
                    .filter(|i| i.status == Status::Failed)
                    .collect();
                for i in failed.iter().take(FAILED_ITEMS_KEPT) {
                    tracing::warn!(parent: &span, item = i.key.as_deref().unwrap_or("-"), "{} {} failed: {}", i.action.as_str(), i.entity.as_str(), i.message.as_deref().unwrap_or("failed"));
                }
                tracing::info!(
                    parent: &span,
                    created = r.summary.created,
                    updated = r.summary.updated,
                    deleted = r.summary.deleted,
                    deactivated = r.summary.deactivated,
                    unchanged = r.summary.unchanged,
                    failed = r.summary.failed,
                    invalid = r.summary.invalid,
                    requests = r.requests.total,
                    throttled = r.requests.throttled,
                    seconds = elapsed.as_secs_f64(),
                    "run finished"
                );
                if r.exit_code() == 0 {
                    Outcome::Ok
                } else {
                    Outcome::Partial
                }
            }
            (None, e) => {
                tracing::error!(parent: &span, "run failed: {}", e.as_deref().unwrap_or("unknown error"));
                Outcome::Failed
            }
        };
        let mut st = lock(&slot.status);
        st.state = State::Idle;
        st.last = Some(LastRun {
            report: summary,
            started_at: started,
            finished_at: finished,
        });
        let now = SystemTime::now();
        st.next_run = if outcome == Outcome::Failed {
            // A manual profile's failed run too: it was asked for, and runs
            // that fail are tried again (../shared/spec/run.md), until one
            // ends; at most every 10 minutes, having no interval.
            st.failures += 1;
            let wait = backoff(st.failures, cfg.schedule.interval(now));
            tracing::info!(parent: &span, retry_in = ?wait, failures = st.failures, "the run will be tried again");
            Some(now + wait)
        } else {
            st.failures = 0;
            cfg.schedule.next_after(started_sys)
        };
        Some(outcome)
    }

    /// The connections to `p`'s state database, made on first use (a
    /// PostgreSQL pool connects at its first statement, on the runtime of
    /// this call: the manager's).
    fn store_pool(&self, p: &Profile) -> Result<StatePool, String> {
        let location =
            mapsync_state::parse_url(&p.state, &p.project_dir).map_err(|e| e.to_string())?;
        let mut pools = lock(&self.stores);
        if let Some(pool) = pools.get(&location) {
            return Ok(pool.clone());
        }
        let pool = StatePool::for_location(&location, IDLE_STATE_CONNECTIONS)
            .map_err(|e| e.to_string())?;
        pools.insert(location, pool.clone());
        Ok(pool)
    }

    /// `--worker`: joins the pool (before the configuration is applied:
    /// the profiles' tasks then enqueue jobs instead of running).
    pub fn set_pool(&self, pool: Arc<crate::pool::Pool>, worker: Arc<graphile_worker::Worker>) {
        let _ = self.queue.set(pool);
        *lock(&self.queue_worker) = Some(worker);
    }

    /// `--worker`: graphile_worker's worker.
    pub fn pool_worker(&self) -> Option<Arc<graphile_worker::Worker>> {
        lock(&self.queue_worker).clone()
    }

    /// Keeps a task that [`Self::join`] waits for.
    pub fn keep_task(&self, handle: tokio::task::JoinHandle<()>) {
        lock(&self.tasks).push(handle);
    }

    /// `--worker`: this process's membership of the pool.
    pub fn pool(&self) -> Option<Arc<crate::pool::Pool>> {
        self.queue.get().cloned()
    }

    /// `--worker`: reads the pool every `poll` (at least every 2 s) for
    /// the status page and `/metrics`, until shutdown.
    pub async fn pool_refresh_task(self: Arc<Self>, pool: Arc<crate::pool::Pool>) {
        let every = pool.settings.poll.min(Duration::from_secs(2));
        loop {
            let snapshot = pool.refresh().await;
            self.metrics.set_pool(&snapshot);
            if self.shutting_down.load(Ordering::SeqCst) {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.shutdown.notified() => return,
            }
        }
    }

    /// `--worker`: a profile's task enqueues its runs as jobs of the pool
    /// when they are due by the shared run journal; any worker runs them
    /// ([`Self::run_job`]).
    async fn pool_task(self: Arc<Self>, slot: Arc<Slot>, pool: Arc<crate::pool::Pool>) {
        loop {
            if self.shutting_down.load(Ordering::SeqCst) || lock(&slot.status).removed {
                return;
            }
            let cfg = lock(&slot.cfg).clone();
            let profile = match &cfg.profile {
                Ok(p) => p.clone(),
                Err(_) => {
                    // A profile that cannot be used (a missing `${ENV}`)
                    // fails on this worker, with the manager's backoff:
                    // no job for a run that cannot start anywhere.
                    let due = lock(&slot.status).next_run;
                    let now = SystemTime::now();
                    match due {
                        Some(d) if d <= now => {
                            self.run_slot(&slot).await;
                        }
                        Some(d) => self.pause(&slot, d.duration_since(now).ok()).await,
                        None => self.pause(&slot, None).await,
                    }
                    continue;
                }
            };
            let due = match self.pool_due(&profile, &cfg.schedule).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(profile = %slot.name, "cannot read the run journal to schedule the profile: {e}");
                    self.pause(&slot, Some(pool.settings.poll.max(Duration::from_secs(2))))
                        .await;
                    continue;
                }
            };
            lock(&slot.status).next_run = due;
            let now = SystemTime::now();
            match due {
                None => {
                    self.pause(&slot, None).await;
                    continue;
                }
                Some(d) if d > now => {
                    self.pause(&slot, d.duration_since(now).ok()).await;
                    continue;
                }
                Some(d) => {
                    let job = crate::pool::RunJob {
                        profile: slot.name.clone(),
                        due_ms: crate::pool::unix_ms(d),
                        manual: false,
                    };
                    let queue = crate::pool::store_queue(&profile);
                    match pool.enqueue(&job, &queue).await {
                        Ok(true) => {
                            tracing::info!(profile = %slot.name, queue = %queue, "run queued in the pool")
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(profile = %slot.name, "{e}"),
                    }
                    // Queued or running somewhere: look again when the
                    // journal may say it finished.
                    self.pause(&slot, Some(pool.settings.poll)).await;
                }
            }
        }
    }

    /// Waits `wait` (forever: `None`), or until the slot is woken or the
    /// manager stops.
    async fn pause(&self, slot: &Slot, wait: Option<Duration>) {
        match wait {
            Some(w) => {
                tokio::select! {
                    () = tokio::time::sleep(w) => {}
                    () = slot.wake.notified() => {}
                    () = self.shutdown.notified() => {}
                }
            }
            None => {
                tokio::select! {
                    () = slot.wake.notified() => {}
                    () = self.shutdown.notified() => {}
                }
            }
        }
    }

    /// The finished runs of `p` in the shared journal, newest first.
    async fn finished_runs(&self, p: &Profile) -> Result<Vec<mapsync_state::Run>, String> {
        let states = self.store_pool(p)?;
        let db = states.take().map_err(|e| e.to_string())?;
        let runs = db.recent_runs(&p.name, 20).await;
        if runs.is_ok() {
            states.give(db);
        }
        let runs = runs.map_err(|e| e.to_string())?;
        Ok(runs
            .into_iter()
            .filter(|r| r.finished_at.is_some() && r.status != mapsync_state::RunStatus::Running)
            .collect())
    }

    /// When `p` is next due in the pool, by the shared run journal: at
    /// once when it never finished a run; the schedule's next firing after
    /// the start of its last finished run; after a failed one, the
    /// manager's backoff from its end. `None`: only when asked.
    async fn pool_due(
        &self,
        p: &Profile,
        schedule: &Schedule,
    ) -> Result<Option<SystemTime>, String> {
        let runs = self.finished_runs(p).await?;
        let now = SystemTime::now();
        let Some(last) = runs.first() else {
            return Ok(match schedule {
                Schedule::Manual => None,
                _ => Some(now),
            });
        };
        if last.status == mapsync_state::RunStatus::Failed {
            let failures = runs
                .iter()
                .take_while(|r| r.status == mapsync_state::RunStatus::Failed)
                .count();
            let ended: SystemTime = last.finished_at.unwrap_or(last.started_at).into();
            let wait = backoff(
                u32::try_from(failures).unwrap_or(u32::MAX),
                schedule.interval(now),
            );
            return Ok(Some(ended + wait));
        }
        Ok(schedule.next_after(last.started_at.into()))
    }

    /// `--worker`: the task handler's run of a job. Completes (returns
    /// `Ok`) once the run is journaled, or at once when a finished run
    /// already covers the job's firing; fails — graphile_worker releases
    /// the job, another worker resumes it — when this worker stops
    /// meanwhile.
    pub async fn run_job(
        self: &Arc<Self>,
        job: crate::pool::RunJob,
        attempts: i16,
    ) -> Result<(), String> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err("this worker is stopping: the job goes back to the pool".into());
        }
        let Some(slot) = lock(&self.slots).get(&job.profile).cloned() else {
            tracing::warn!(profile = %job.profile, "a job of the pool names a profile this worker does not run (the workers' configurations differ); the job is dropped");
            return Ok(());
        };
        // A first attempt of a scheduled firing that a finished run covers
        // (another worker enqueued it late) is done already. Jobs of one
        // profile are serialised by their queue: this check does not race.
        if !job.manual && attempts <= 1 {
            let profile = lock(&slot.cfg).profile.clone();
            if let Ok(p) = profile {
                match self.finished_runs(&p).await {
                    Ok(runs) => {
                        let covered = runs.first().is_some_and(|r| {
                            (r.started_at.unix_timestamp_nanos() / 1_000_000) as i64 >= job.due_ms
                        });
                        if covered {
                            tracing::debug!(profile = %job.profile, "a finished run covers this firing");
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(format!("cannot read the run journal: {e}")),
                }
            }
        }
        tracing::info!(profile = %job.profile, attempts, manual = job.manual, "running a job of the pool");
        match self.run_slot(&slot).await {
            None => Err(format!("a run of `{}` is in progress on this worker", job.profile)),
            Some(_) if self.shutting_down.load(Ordering::SeqCst) => Err(
                "this worker stopped during the run: the job goes back to the pool and the next worker resumes from the ledger".into(),
            ),
            Some(_) => Ok(()),
        }
    }

    /// `--worker`: `POST /api/profiles/{name}/sync` enqueues a run.
    pub async fn trigger_pool(&self, name: &str) -> Result<(), TriggerError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(TriggerError::ShuttingDown);
        }
        let pool = self.pool().ok_or(TriggerError::ShuttingDown)?;
        let slot = lock(&self.slots)
            .get(name)
            .cloned()
            .ok_or_else(|| TriggerError::Unknown(name.to_string()))?;
        let profile = lock(&slot.cfg).profile.clone();
        let Ok(profile) = profile else {
            // Fails on this worker, as without the pool.
            return self.trigger(name);
        };
        let job = crate::pool::RunJob {
            profile: name.to_string(),
            due_ms: crate::pool::unix_ms(SystemTime::now()),
            manual: true,
        };
        match pool
            .enqueue(&job, &crate::pool::store_queue(&profile))
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(TriggerError::Running(name.to_string())),
            Err(e) => Err(TriggerError::Queue(e)),
        }
    }

    /// `--once`: runs each due profile once, concurrently; the worst outcome.
    pub async fn run_once(self: &Arc<Self>) -> Outcome {
        let mut handles = Vec::new();
        for slot in self.slots() {
            let manual = matches!(lock(&slot.cfg).schedule, Schedule::Manual);
            if manual && !self.options.only.contains(&slot.name) {
                continue;
            }
            let me = self.clone();
            handles.push(tokio::spawn(async move { me.run_slot(&slot).await }));
        }
        let mut worst = Outcome::Ok;
        for h in handles {
            if let Ok(Some(o)) = h.await {
                worst = worst.max(o);
            }
        }
        worst
    }

    /// `/api/status`.
    pub fn status_json(&self) -> Value {
        let profiles: Vec<Value> = self
            .slots()
            .iter()
            .map(|s| {
                let cfg = lock(&s.cfg).clone();
                let st = lock(&s.status);
                let (channel, target) = match &cfg.profile {
                    Ok(p) => (Some(p.channel.clone()), Some(p.target.type_name())),
                    Err(_) => (None, None),
                };
                json!({
                    "name": s.name,
                    "schedule": cfg.schedule.describe(),
                    "state": match st.state { State::Idle => "idle", State::Running => "running" },
                    "next_run": st.next_run.map(system_rfc3339),
                    "consecutive_failures": st.failures,
                    "channel": channel,
                    "target": target,
                    "error": cfg.profile.as_ref().err(),
                    "last_run": st.last.as_ref().map(|l| json!({
                        "started_at": rfc3339(l.started_at),
                        "finished_at": rfc3339(l.finished_at),
                        "report": l.report,
                    })),
                })
            })
            .collect();
        let refused = lock(&self.refused).clone();
        let settings = lock(&self.settings).clone();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "project": self.options.project_file.display().to_string(),
            "started_at": system_rfc3339(self.started),
            "shutting_down": self.shutting_down.load(Ordering::SeqCst),
            "config_check": mapsync_config::schedule::human_duration(settings.config_check),
            "restart_needed": self.restart_needed(),
            "profiles": profiles,
            "mode": if self.queue.get().is_some() { "worker" } else { "single" },
            "pool": self.queue.get().map(|p| p.status_json()),
            "config": match refused {
                None => json!({ "status": "ok" }),
                Some(r) => json!({
                    "status": "refused",
                    "at": rfc3339(r.at),
                    "reason": r.reason,
                    "diagnostics": r.diagnostics,
                }),
            },
        })
    }

    /// Past runs of one profile (or every profile), newest first, from the
    /// state stores (blocking).
    pub fn runs_json(&self, profile: Option<&str>, limit: u32) -> Result<Vec<Value>, String> {
        let slots: Vec<(String, Profile)> = self
            .slots()
            .iter()
            .filter(|s| profile.is_none_or(|p| p == s.name))
            .filter_map(|s| {
                lock(&s.cfg)
                    .profile
                    .clone()
                    .ok()
                    .map(|p| (s.name.clone(), p))
            })
            .collect();
        if let Some(p) = profile {
            if slots.is_empty() {
                return Err(format!("no profile `{p}` in this manager"));
            }
        }
        let mut out = Vec::new();
        for (_, p) in slots {
            let states = self.store_pool(&p)?;
            out.extend(runs_from(&states, &p.name, limit)?);
        }
        out.sort_by(|a, b| b["started_at"].as_str().cmp(&a["started_at"].as_str()));
        out.truncate(limit as usize);
        Ok(out)
    }

    /// Whether a valid configuration is loaded and the manager is not stopping.
    pub fn ready(&self) -> Result<(), String> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err("shutting down".into());
        }
        if !self.loaded.load(Ordering::SeqCst) {
            return Err("no valid configuration loaded".into());
        }
        if let Some(r) = &*lock(&self.refused) {
            return Err(format!(
                "the last configuration reload was refused ({}); running with the previous one",
                r.reason
            ));
        }
        Ok(())
    }
}

/// How a run ended, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Every item succeeded.
    Ok,
    /// Some items failed or were invalid.
    Partial,
    /// The run stopped.
    Failed,
}

/// The runs of one profile as JSON (blocking; not on a runtime's worker).
pub fn runs_of(p: &Profile, limit: u32) -> Result<Vec<Value>, String> {
    let states = mapsync_engine::engine::state_pool(p, 0).map_err(|e| e.to_string())?;
    runs_from(&states, &p.name, limit)
}

/// The runs of one profile in `states` as JSON (blocking; not on a
/// runtime's worker).
fn runs_from(states: &StatePool, profile: &str, limit: u32) -> Result<Vec<Value>, String> {
    let runs = states
        .recent_runs_blocking(profile, limit)
        .map_err(|e| e.to_string())?;
    Ok(runs
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id.0,
                "profile": r.profile,
                "channel": r.channel,
                "started_at": rfc3339(r.started_at),
                "finished_at": r.finished_at.map(rfc3339),
                "status": r.status,
                "summary": r.summary,
                "report": r.report,
            })
        })
        .collect())
}

/// What a run worker needs to journal a run once it ends (see [`journal`]).
struct JournalRow {
    /// The connections to the profile's state database (or why there are
    /// none).
    states: Result<StatePool, String>,
    /// The profile's name and channel.
    profile: String,
    channel: String,
    /// When the run started.
    started: OffsetDateTime,
    /// Since the run started (the summary's duration).
    clock: Instant,
    /// The run's id in the logs and the summary.
    run_id: String,
}

/// Keeps the run's report with its journal row (the engine journaled the
/// run), or journals a run that stopped before it could. Called on the run
/// worker that ran it: there its SQLite calls run on the worker's own
/// thread (a current-thread runtime), where on the manager's runtime they
/// would go to its blocking pool, whose threads every schedule's runs then
/// kept alive (issue 13: three threads held for the journal alone). Only a
/// run whose job did not end (a worker gone, a run that panicked) is
/// journaled from the manager's runtime ([`RunPool::sync`]).
async fn journal(row: &JournalRow, finished: OffsetDateTime, summary: &Value) {
    let result = async {
        let states = row.states.as_ref().map_err(Clone::clone)?;
        let store = states.take().map_err(|e| e.to_string())?;
        // The engine's row of this run: the profile's newest, begun
        // after this run started (runs of a profile never overlap).
        let done = match store.last_run_started(&row.profile).await {
            Ok(Some((id, run_started))) if run_started >= row.started => {
                store.set_run_report(id, summary).await
            }
            Ok(_) => store
                .record_failed_run(&row.profile, &row.channel, row.started, finished, summary)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        // A connection whose call failed is closed (as `StorePool::with`).
        if done.is_ok() {
            states.give(store);
        }
        done.map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!("the run's report could not be journaled: {e}");
    }
}

/// A run, handed to a worker thread: it makes the run's future there.
type Job = Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + Send>;

/// The threads runs execute on. The engine's run future is not `Send`
/// (its document spool holds a boxed iterator), so it cannot be a task of
/// the manager's runtime: each worker is a thread with a single-threaded
/// runtime and a `LocalSet`, kept for the process's life (its blocking
/// pool stays warm; no thread is made per run).
struct RunPool {
    workers: Vec<tokio::sync::mpsc::UnboundedSender<Job>>,
    next: std::sync::atomic::AtomicUsize,
}

impl RunPool {
    fn new(n: usize) -> RunPool {
        let workers = (0..n.max(1))
            .map(|i| {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
                let spawned = std::thread::Builder::new()
                    .name(format!("mapsync-runs-{i}"))
                    .spawn(move || {
                        let rt = match tokio::runtime::Builder::new_current_thread()
                            .thread_name("mapsync-runs-blocking")
                            // Kept across the runs of a short schedule:
                            // ending them after 2 s (to free them between
                            // runs) cost more CPU and no memory (issue 13,
                            // docs/run.md "Measured").
                            .thread_keep_alive(RUN_BLOCKING_KEEP_ALIVE)
                            .enable_all()
                            .build()
                        {
                            Ok(rt) => rt,
                            Err(e) => {
                                tracing::error!("cannot start a run worker: {e}");
                                return;
                            }
                        };
                        let local = tokio::task::LocalSet::new();
                        local.block_on(&rt, async move {
                            while let Some(job) = rx.recv().await {
                                tokio::task::spawn_local(job());
                            }
                        });
                    });
                if let Err(e) = spawned {
                    tracing::error!("cannot start a run worker: {e}");
                }
                tx
            })
            .collect();
        RunPool {
            workers,
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Runs `exec::run::sync` for `profile` on a worker, and journals it
    /// there.
    async fn sync(
        &self,
        profile: Profile,
        kept: Kept,
        row: JournalRow,
        stop: Arc<AtomicBool>,
        span: tracing::Span,
    ) -> Result<RunReport, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let row = Arc::new(row);
        let job_row = row.clone();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                use tracing::Instrument;
                let r = mapsync_engine::exec::run::sync_with(
                    &profile,
                    &SyncOptions::default(),
                    &NoProgress,
                    &stop,
                    &kept,
                )
                .instrument(span)
                .await
                .map_err(|e| run_error_text(&e));
                let summary = summary_json(
                    r.as_ref().ok(),
                    r.as_ref().err().map(String::as_str),
                    job_row.clock.elapsed(),
                    &job_row.run_id,
                );
                journal(&job_row, OffsetDateTime::now_utc(), &summary).await;
                let _ = tx.send(r);
            })
        });
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        let ended = match self.workers[i].send(job) {
            Ok(()) => rx.await.map_err(|_| "the run stopped".to_string()),
            Err(_) => Err("the run workers stopped".to_string()),
        };
        match ended {
            Ok(r) => r,
            // The job did not journal the run: it is journaled here.
            Err(e) => {
                let summary = summary_json(None, Some(&e), row.clock.elapsed(), &row.run_id);
                journal(&row, OffsetDateTime::now_utc(), &summary).await;
                Err(e)
            }
        }
    }
}

fn run_error_text(e: &RunError) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = c.source();
    }
    s
}

/// What the journal keeps of a run beyond its counts.
fn summary_json(
    report: Option<&RunReport>,
    error: Option<&str>,
    elapsed: Duration,
    run_id: &str,
) -> Value {
    match report {
        Some(r) => {
            let failed: Vec<Value> = r
                .items
                .iter()
                .filter(|i| i.status == Status::Failed)
                .take(FAILED_ITEMS_KEPT)
                .map(|i| {
                    json!({
                        "entity": i.entity.as_str(),
                        "key": i.key,
                        "action": i.action.as_str(),
                        "message": i.message,
                        "error": i.error,
                    })
                })
                .collect();
            json!({
                "run_id": run_id,
                "outcome": if r.exit_code() == 0 { "ok" } else { "partial" },
                "seconds": elapsed.as_secs_f64(),
                "summary": r.summary,
                "requests": r.requests,
                "items": r.items.len(),
                "failed_items": failed,
            })
        }
        None => json!({
            "run_id": run_id,
            "outcome": "failed",
            "seconds": elapsed.as_secs_f64(),
            "error": error,
            "items": 0,
            "failed_items": [],
        }),
    }
}

/// Copies the profile's mapping set to
/// `.mapsync/run/mappings/PROFILE/GENERATION/` and points the profile at
/// the copy, checked again (a file saved between the check and the copy
/// refuses the reload); returns the checked set, the one of `seen` when
/// a set with the same files was checked already. Older copies than the
/// previous two are removed.
fn snapshot_mapping(
    p: &mut Profile,
    generation: u64,
    registry: &Registry,
    seen: &mut Vec<(Vec<u8>, Arc<MappingSet>)>,
) -> Result<Arc<MappingSet>, ProfileError> {
    let io = |path: &std::path::Path, source: std::io::Error| {
        ProfileError::Config(mapsync_config::ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let base = p
        .project_dir
        .join(".mapsync")
        .join("run")
        .join("mappings")
        .join(&p.name);
    let dest = base.join(generation.to_string());
    let src = p.mapping.clone();
    let name = src
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "mapping".into());
    let copy = dest.join(&name);
    // A copy left by an earlier process under the same generation goes.
    let _ = std::fs::remove_dir_all(&dest);
    // What was copied, names and bytes: the key of the checked set.
    let mut content = Vec::new();
    let mut keep = |name: &std::ffi::OsStr, bytes: &[u8]| {
        content.extend_from_slice(name.as_encoded_bytes());
        content.push(0);
        content.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        content.extend_from_slice(bytes);
    };
    if src.is_dir() {
        std::fs::create_dir_all(&copy).map_err(|e| io(&copy, e))?;
        for f in mapsync_config::mapping_dir_files(&src)? {
            let file_name = f.file_name().unwrap_or_default();
            let to = copy.join(file_name);
            let bytes = std::fs::read(&f).map_err(|e| io(&f, e))?;
            std::fs::write(&to, &bytes).map_err(|e| io(&to, e))?;
            keep(file_name, &bytes);
        }
    } else {
        std::fs::create_dir_all(&dest).map_err(|e| io(&dest, e))?;
        let bytes = std::fs::read(&src).map_err(|e| io(&src, e))?;
        std::fs::write(&copy, &bytes).map_err(|e| io(&copy, e))?;
        keep(&name, &bytes);
    }
    let set = match seen.iter().find(|(c, _)| *c == content) {
        Some((_, set)) => set.clone(),
        None => {
            let (set, _, diags) = mapsync_config::check::load_mapping(&copy, registry)?;
            if diags.has_errors() {
                let _ = std::fs::remove_dir_all(&dest);
                return Err(ProfileError::Invalid(diags));
            }
            let set = Arc::new(set);
            seen.push((content, set.clone()));
            set
        }
    };
    p.mapping = copy;
    if let Ok(entries) = std::fs::read_dir(&base) {
        for e in entries.flatten() {
            let old = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|g| g > generation || g + 2 < generation);
            if old {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(set)
}

fn mtimes(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager_with(
        profiles: Vec<(String, Result<Profile, String>, Option<Schedule>)>,
    ) -> Arc<Shared> {
        let shared = Shared::new(
            Options {
                project_file: PathBuf::from("mapsync.yaml"),
                only: Vec::new(),
                worker: false,
            },
            Registry::new(),
        );
        shared.apply_without_tasks(Loaded {
            project: LoadedProject {
                file: PathBuf::from("mapsync.yaml"),
                profiles,
                run: RunSettings::default(),
                diagnostics: Diagnostics::default(),
                files: Vec::new(),
            },
            mappings: BTreeMap::new(),
        });
        shared
    }

    #[tokio::test]
    async fn a_manual_profile_whose_run_failed_is_tried_again_with_backoff() {
        let shared = manager_with(vec![(
            "m".into(),
            Err("`${TOKEN}` is not set".into()),
            Some(Schedule::Manual),
        )]);
        let slot = shared.slots().remove(0);
        assert_eq!(lock(&slot.status).next_run, None, "waits to be asked");
        let before = SystemTime::now();
        assert_eq!(shared.run_slot(&slot).await, Some(Outcome::Failed));
        let next = lock(&slot.status).next_run.expect("a retry");
        let wait = next.duration_since(before).unwrap_or_default();
        assert!(
            wait >= BACKOFF_BASE && wait <= BACKOFF_BASE + Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(lock(&slot.status).failures, 1);
    }

    #[tokio::test]
    async fn listen_and_logs_changed_by_a_reload_wait_for_a_restart() {
        let shared = manager_with(Vec::new());
        *lock(&shared.started_with) = Some(RunSettings::default());
        assert!(shared.restart_needed().is_empty());
        let changed = RunSettings {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9999)),
            keep_days: 3,
            ..RunSettings::default()
        };
        *lock(&shared.settings) = changed;
        assert_eq!(shared.restart_needed(), ["listen"]);
        assert_eq!(shared.status_json()["restart_needed"][0], "listen");
    }

    #[test]
    fn backoff_doubles_and_is_capped_at_the_interval() {
        let cap = Some(Duration::from_secs(10));
        let waits: Vec<u64> = (1..=5).map(|f| backoff(f, cap).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 10, 10]);
        assert_eq!(backoff(40, None), Duration::from_secs(600));
    }
}
