//! `mapsync run --worker`: the pool of workers sharing their runs through
//! PostgreSQL (docs/scale.md), on graphile_worker's Rust port.
//!
//! * Each scheduled firing of a profile is one job ([`RunJob`], task
//!   [`TASK`]) in the queue database (the profiles' PostgreSQL state
//!   database). Its **named queue is the profile's store**
//!   ([`store_queue`]): graphile_worker runs the jobs of one queue one at
//!   a time across every worker, so runs that share a store's rate limit
//!   never overlap, in one process or across machines.
//! * Every worker computes the schedules itself (`config::schedule`, cron
//!   with time zones) from the **shared run journal** (the last finished
//!   run of the profile in the state database), and enqueues with the
//!   profile's `job_key` in `unsafe_dedupe` mode: while a job of the
//!   profile is queued or running, N workers' enqueues are one job. A job
//!   whose firing a finished run already covers is completed without a
//!   run (the check is race-free: the profile's jobs are serialised by
//!   their queue).
//! * Dead workers: graphile_worker's heartbeats (`_private_workers`) and
//!   sweep give a dead worker's jobs (and its queue locks) back after
//!   `sweep_threshold`; the next worker runs the profile again, and the
//!   run resumes from the ledger and the ownership markers.
//! * The handler hands the run to the manager's run workers (the run
//!   future is not `Send`) and returns — completing the job — only once
//!   the run is journaled.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use mapsync_config::profile::Profile;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row as _;

/// The graphile_worker task of a profile's run.
pub const TASK: &str = "mapsync_run";

/// The schema graphile_worker keeps its tables in (in the queue database;
/// the status queries name it literally).
pub const SCHEMA: &str = "graphile_worker";

/// The stable code of `--worker`'s refusals (docs/diagnostics.md).
pub const CODE: &str = "run::worker-queue";

/// Why `mapsync run --worker` cannot start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WorkerError {
    /// A profile keeps its state in SQLite.
    #[error("`mapsync run --worker` needs the profiles' state in PostgreSQL: profile `{profile}` keeps it in SQLite (`{state}`)")]
    #[diagnostic(
        code("run::worker-queue"),
        help("the pool's workers share their state and their job queue through one PostgreSQL database: give every profile `state: postgres://USER@HOST/DB?password_env=VAR` (docs/scale.md), or run without `--worker`")
    )]
    SqliteState {
        /// The profile.
        profile: String,
        /// Its `state:` (an SQLite location: no secret).
        state: String,
    },
    /// Profiles name different PostgreSQL databases.
    #[error("`mapsync run --worker` needs one PostgreSQL database for the pool's queue: profile `{first}` keeps its state in {first_url} and profile `{second}` in {second_url}")]
    #[diagnostic(
        code("run::worker-queue"),
        help("the job queue lives in the profiles' state database: give the profiles run by the pool the same `state:` database (rows are per channel, runs per profile), or run one pool per database with `--profile`")
    )]
    SeveralDatabases {
        /// A profile.
        first: String,
        /// Its database, redacted.
        first_url: String,
        /// Another profile.
        second: String,
        /// Its database, redacted.
        second_url: String,
    },
    /// No profile to run.
    #[error("`mapsync run --worker`: no profile to run (none has a `schedule:`, and none was named with `--profile`)")]
    #[diagnostic(
        code("run::worker-queue"),
        help("give profiles a `schedule:` (or name them with `--profile`)")
    )]
    NoProfiles,
    /// A profile cannot be used (its `${ENV}` is not set, ...).
    #[error("`mapsync run --worker`: profile `{profile}` cannot be used: {message}")]
    #[diagnostic(
        code("run::worker-queue"),
        help("a worker must know every profile's state database before it joins the pool; fix the profile (`mapsync validate`)")
    )]
    Profile {
        /// The profile.
        profile: String,
        /// Why.
        message: String,
    },
    /// A `MAPSYNC_WORKER_*` setting is malformed.
    #[error("`{name}` = `{value}`: {message}")]
    #[diagnostic(
        code("run::worker-queue"),
        help("durations are a number and a unit: `500ms`, `10s`, `5m`, `1h`; `MAPSYNC_WORKER_CONCURRENCY` a number of runs from 1 to 4 (docs/scale.md, \"Dead workers: the recovery timings\")")
    )]
    Setting {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// The queue database cannot be used.
    #[error("the pool's queue database {url}: {message}")]
    #[diagnostic(
        code("run::worker-queue"),
        help("check that PostgreSQL runs at the host and port of the profiles' `state:` URL, that the user may create a schema there (`graphile_worker`) and that the password is in the environment (`password_env=NAME`)")
    )]
    Queue {
        /// The database, redacted.
        url: String,
        /// What failed (never the password).
        message: String,
    },
}

/// The timings of the pool (environment variables, docs/scale.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `MAPSYNC_WORKER_HEARTBEAT`: how often a worker says it is alive.
    pub heartbeat: Duration,
    /// `MAPSYNC_WORKER_SWEEP_INTERVAL`: how often a worker looks for dead ones.
    pub sweep_interval: Duration,
    /// `MAPSYNC_WORKER_SWEEP_THRESHOLD`: silence after which a worker is dead
    /// and its jobs go back to the queue.
    pub sweep_threshold: Duration,
    /// `MAPSYNC_WORKER_RECOVERY_DELAY`: wait before a recovered job runs again.
    pub recovery_delay: Duration,
    /// `MAPSYNC_WORKER_POLL`: how often a worker looks for jobs (besides
    /// PostgreSQL's notifications) and, while a profile's job is queued or
    /// running, whether it finished.
    pub poll: Duration,
    /// `MAPSYNC_WORKER_CONCURRENCY`: runs this worker takes at once (1 to
    /// [`crate::manager::MAX_CONCURRENT_RUNS`]).
    pub concurrency: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            heartbeat: Duration::from_secs(10),
            sweep_interval: Duration::from_secs(15),
            sweep_threshold: Duration::from_secs(60),
            recovery_delay: Duration::from_secs(2),
            poll: Duration::from_secs(2),
            concurrency: crate::manager::MAX_CONCURRENT_RUNS,
        }
    }
}

/// `500ms`, `10s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
        _ => None,
    }
}

impl WorkerSettings {
    /// The settings from `MAPSYNC_WORKER_*` (read through `get`).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<WorkerSettings, WorkerError> {
        let mut s = WorkerSettings::default();
        for (name, slot) in [
            ("MAPSYNC_WORKER_HEARTBEAT", &mut s.heartbeat),
            ("MAPSYNC_WORKER_SWEEP_INTERVAL", &mut s.sweep_interval),
            ("MAPSYNC_WORKER_SWEEP_THRESHOLD", &mut s.sweep_threshold),
            ("MAPSYNC_WORKER_RECOVERY_DELAY", &mut s.recovery_delay),
            ("MAPSYNC_WORKER_POLL", &mut s.poll),
        ] {
            if let Some(value) = get(name) {
                *slot = parse_duration(&value).ok_or_else(|| WorkerError::Setting {
                    name,
                    value: value.clone(),
                    message: "not a duration".into(),
                })?;
            }
        }
        if let Some(value) = get("MAPSYNC_WORKER_CONCURRENCY") {
            let max = crate::manager::MAX_CONCURRENT_RUNS;
            s.concurrency = value
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| WorkerError::Setting {
                    name: "MAPSYNC_WORKER_CONCURRENCY",
                    value: value.clone(),
                    message: format!("a number of runs from 1 to {max}"),
                })?;
        }
        let positive = [
            ("MAPSYNC_WORKER_HEARTBEAT", s.heartbeat),
            ("MAPSYNC_WORKER_SWEEP_INTERVAL", s.sweep_interval),
            ("MAPSYNC_WORKER_POLL", s.poll),
        ];
        for (name, d) in positive {
            if d < Duration::from_millis(100) {
                return Err(WorkerError::Setting {
                    name,
                    value: format!("{d:?}"),
                    message: "must be at least 100ms".into(),
                });
            }
        }
        if s.sweep_threshold < s.heartbeat * 2 {
            return Err(WorkerError::Setting {
                name: "MAPSYNC_WORKER_SWEEP_THRESHOLD",
                value: format!("{:?}", s.sweep_threshold),
                message: format!(
                    "must be at least twice the heartbeat ({:?}): a live worker would be taken for dead",
                    s.heartbeat
                ),
            });
        }
        Ok(s)
    }
}

/// The queue database of `profiles` (name, profile or why it cannot be
/// used): the one PostgreSQL state database they all name (its URL as
/// written; it holds no password).
pub fn queue_database<'a>(
    profiles: impl IntoIterator<Item = (&'a str, Result<&'a Profile, String>)>,
) -> Result<String, WorkerError> {
    let mut found: Option<(String, String, String)> = None;
    for (name, profile) in profiles {
        let p = profile.map_err(|message| WorkerError::Profile {
            profile: name.to_string(),
            message,
        })?;
        let location = mapsync_state::parse_url(&p.state, &p.project_dir).map_err(|e| {
            WorkerError::Profile {
                profile: name.to_string(),
                message: e.to_string(),
            }
        })?;
        let url = match location {
            mapsync_state::StateLocation::Sqlite(path) => {
                return Err(WorkerError::SqliteState {
                    profile: name.to_string(),
                    state: path.display().to_string(),
                })
            }
            mapsync_state::StateLocation::Postgres(url) => url,
        };
        let key = database_key(&url).map_err(|message| WorkerError::Profile {
            profile: name.to_string(),
            message,
        })?;
        match &found {
            None => found = Some((name.to_string(), url, key)),
            Some((first, first_url, first_key)) if *first_key != key => {
                return Err(WorkerError::SeveralDatabases {
                    first: first.clone(),
                    first_url: mapsync_pgstate::redact_raw(first_url),
                    second: name.to_string(),
                    second_url: mapsync_pgstate::redact_raw(&url),
                })
            }
            Some(_) => {}
        }
    }
    found.map(|(_, url, _)| url).ok_or(WorkerError::NoProfiles)
}

/// What makes two URLs the same database: user, host, port, database and
/// the socket directory (not `application_name` or pool sizes).
fn database_key(url: &str) -> Result<String, String> {
    let u = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let socket = u
        .query_pairs()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let search_path = u
        .query_pairs()
        .find(|(k, _)| k == "options")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    Ok(format!(
        "{}@{}:{}/{}?{socket}&{search_path}",
        u.username(),
        u.host_str().unwrap_or_default(),
        u.port().unwrap_or(5432),
        u.path().trim_start_matches('/'),
    ))
}

/// The options of a target that name its store, in the order they are
/// looked for: the store's API URL (`url`), the `rest` connector's
/// `base_url`, a shop or store hash, the embedded store's
/// state file.
const STORE_KEYS: &[&str] = &[
    "url",
    "base_url",
    "api_url",
    "shop",
    "store_hash",
    "store",
    "state",
    "path",
    "dir",
];

/// The named queue of a profile's runs: its store — the target's type and
/// the option that names the store (the same identity the connectors key
/// their shared rate limiter by: the API URL, `base_url`), without
/// credentials or query. Profiles writing to one store share the queue,
/// so their runs never overlap in the pool.
pub fn store_queue(p: &Profile) -> String {
    let values = p.target.options.values();
    let ident = STORE_KEYS.iter().find_map(|k| {
        values
            .get(*k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    });
    let ident = match ident {
        Some(s) => store_ident(s, &p.project_dir),
        // Nothing names the store: the profile is its own.
        None => format!("profile/{}", p.name),
    };
    let name = format!("store:{}:{ident}", p.target.type_name());
    if name.len() <= 120 {
        return name;
    }
    // graphile_worker's queue names are at most 128 bytes.
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let mut cut = 100;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{:016x}", &name[..cut], h.finish())
}

fn store_ident(s: &str, project_dir: &std::path::Path) -> String {
    let s = s.trim();
    if let Ok(u) = url::Url::parse(s) {
        if let Some(host) = u.host_str() {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            return format!(
                "{}://{host}{port}{}",
                u.scheme(),
                u.path().trim_end_matches('/')
            );
        }
        if u.scheme() != "c" && u.scheme().len() > 1 {
            return format!("{}:{}", u.scheme(), u.path());
        }
    }
    let path = std::path::Path::new(s);
    if path.is_absolute() || s.contains('/') || s.contains('.') {
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            project_dir.join(path)
        };
        return full.display().to_string();
    }
    s.to_string()
}

/// A profile's run as a job (its payload).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunJob {
    /// The profile.
    pub profile: String,
    /// The firing it runs (Unix milliseconds): a finished run that
    /// started at or after it covers it.
    pub due_ms: i64,
    /// Asked for (`POST /api/profiles/P/sync`): runs whatever the journal says.
    #[serde(default)]
    pub manual: bool,
}

/// The job key of a profile's scheduled runs (one queued or running at a
/// time in the pool).
pub fn job_key(profile: &str, manual: bool) -> String {
    if manual {
        format!("mapsync:run:{profile}:manual")
    } else {
        format!("mapsync:run:{profile}")
    }
}

/// Unix milliseconds of `t`.
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// One worker of the pool, as its heartbeat row says.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRow {
    /// graphile_worker's id (`graphile_worker_…`).
    pub id: String,
    /// Whether it is this process.
    pub this: bool,
    /// Its last heartbeat (RFC 3339).
    pub last_heartbeat_at: String,
    /// When it joined (RFC 3339).
    pub started_at: String,
    /// Silent for longer than the sweep threshold (its jobs are about to go back).
    pub stale: bool,
    /// The jobs it holds.
    pub jobs: Vec<JobRow>,
}

/// A job a worker holds (a run in progress).
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    /// The job's id.
    pub id: i64,
    /// The profile it runs.
    pub profile: String,
    /// Its queue (the store).
    pub queue: String,
    /// Since when it is held (RFC 3339).
    pub locked_at: String,
    /// Which attempt (more than 1: it was recovered or released before).
    pub attempts: i16,
}

/// A queue and its jobs.
#[derive(Debug, Clone, Serialize)]
pub struct QueueRow {
    /// The queue (a store).
    pub queue: String,
    /// Jobs waiting (not held by a worker).
    pub waiting: i64,
    /// Jobs held by a worker.
    pub running: i64,
}

/// The pool as the queue database shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Snapshot {
    /// When it was read (RFC 3339).
    pub at: String,
    /// The workers, newest heartbeat first.
    pub workers: Vec<WorkerRow>,
    /// Every queue with jobs, by name.
    pub queues: Vec<QueueRow>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// This process's membership of the pool: the queue's client, its
/// settings, the last snapshot of the pool.
pub struct Pool {
    /// graphile_worker's client (adds jobs).
    pub utils: graphile_worker::WorkerUtils,
    /// The queue database's connections (shared with the worker).
    pub pg: sqlx::PgPool,
    /// The queue database, redacted.
    pub url: String,
    /// The timings.
    pub settings: WorkerSettings,
    /// This worker's id.
    pub worker_id: String,
    snapshot: Mutex<Snapshot>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("url", &self.url)
            .field("worker_id", &self.worker_id)
            .finish()
    }
}

impl Pool {
    /// A pool member over graphile_worker's client.
    pub fn new(
        utils: graphile_worker::WorkerUtils,
        pg: sqlx::PgPool,
        url: String,
        settings: WorkerSettings,
        worker_id: String,
    ) -> Pool {
        Pool {
            utils,
            pg,
            url,
            settings,
            worker_id,
            snapshot: Mutex::new(Snapshot::default()),
        }
    }

    /// Enqueues a run of `job.profile` on `queue`; false when a job with
    /// its key was queued or running already (nothing added).
    pub async fn enqueue(&self, job: &RunJob, queue: &str) -> Result<bool, String> {
        let spec = graphile_worker::JobSpec {
            queue_name: Some(queue.to_string()),
            job_key: Some(job_key(&job.profile, job.manual)),
            job_key_mode: Some(graphile_worker::JobKeyMode::UnsafeDedupe),
            // A run that fails is journaled and retried by the schedule's
            // backoff (the job completes); a job fails only when released
            // by a stopping worker or when its run could not be handed on.
            max_attempts: Some(25),
            ..Default::default()
        };
        let payload = serde_json::to_value(job).map_err(|e| e.to_string())?;
        let added = self
            .utils
            .add_raw_job(TASK, payload.clone(), spec)
            .await
            .map_err(|e| format!("cannot add the job to the queue: {e}"))?;
        // `unsafe_dedupe` hands back the job that holds the key.
        Ok(added.payload() == &payload)
    }

    /// The last snapshot read.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the pool from graphile_worker's tables.
    pub async fn refresh(&self) -> Snapshot {
        let snapshot = match self.read().await {
            Ok(s) => s,
            Err(e) => Snapshot {
                at: now_rfc3339(),
                error: Some(format!("cannot read the pool from {}: {e}", self.url)),
                ..self.snapshot()
            },
        };
        *self
            .snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = snapshot.clone();
        snapshot
    }

    async fn read(&self) -> Result<Snapshot, sqlx::Error> {
        let workers = sqlx::query(
            "SELECT id, last_heartbeat_at::text AS hb, started_at::text AS st, \
             (now() - last_heartbeat_at) > make_interval(secs => $1) AS stale \
             FROM graphile_worker._private_workers ORDER BY last_heartbeat_at DESC, id",
        )
        .bind(self.settings.sweep_threshold.as_secs_f64())
        .fetch_all(&self.pg)
        .await?;
        let jobs = sqlx::query(
            "SELECT j.id, j.locked_by, j.locked_at::text AS locked_at, j.attempts, \
             j.payload->>'profile' AS profile, coalesce(q.queue_name, '') AS queue \
             FROM graphile_worker._private_jobs j \
             JOIN graphile_worker._private_tasks t ON t.id = j.task_id \
             LEFT JOIN graphile_worker._private_job_queues q ON q.id = j.job_queue_id \
             WHERE t.identifier = $1 AND j.locked_by IS NOT NULL ORDER BY j.id",
        )
        .bind(TASK)
        .fetch_all(&self.pg)
        .await?;
        let queues = sqlx::query(
            "SELECT coalesce(q.queue_name, '') AS queue, \
             count(*) FILTER (WHERE j.locked_by IS NULL AND j.attempts < j.max_attempts) AS waiting, \
             count(*) FILTER (WHERE j.locked_by IS NOT NULL) AS running \
             FROM graphile_worker._private_jobs j \
             JOIN graphile_worker._private_tasks t ON t.id = j.task_id \
             LEFT JOIN graphile_worker._private_job_queues q ON q.id = j.job_queue_id \
             WHERE t.identifier = $1 GROUP BY 1 ORDER BY 1"
        )
        .bind(TASK)
        .fetch_all(&self.pg)
        .await?;
        let mut held: BTreeMap<String, Vec<JobRow>> = BTreeMap::new();
        for r in jobs {
            let by: Option<String> = r.try_get("locked_by")?;
            held.entry(by.unwrap_or_default())
                .or_default()
                .push(JobRow {
                    id: r.try_get("id")?,
                    profile: r
                        .try_get::<Option<String>, _>("profile")?
                        .unwrap_or_default(),
                    queue: r.try_get("queue")?,
                    locked_at: r
                        .try_get::<Option<String>, _>("locked_at")?
                        .unwrap_or_default(),
                    attempts: r.try_get("attempts")?,
                });
        }
        let mut out = Vec::new();
        for r in workers {
            let id: String = r.try_get("id")?;
            out.push(WorkerRow {
                this: id == self.worker_id,
                jobs: held.remove(&id).unwrap_or_default(),
                last_heartbeat_at: r.try_get("hb")?,
                started_at: r.try_get("st")?,
                stale: r.try_get::<Option<bool>, _>("stale")?.unwrap_or(false),
                id,
            });
        }
        // Jobs held by a worker without a heartbeat row (swept, or one
        // that never registered): shown, so that no run is hidden.
        for (id, jobs) in held {
            out.push(WorkerRow {
                this: false,
                last_heartbeat_at: String::new(),
                started_at: String::new(),
                stale: true,
                id,
                jobs,
            });
        }
        let queues = queues
            .into_iter()
            .map(|r| {
                Ok(QueueRow {
                    queue: r.try_get("queue")?,
                    waiting: r.try_get("waiting")?,
                    running: r.try_get("running")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Snapshot {
            at: now_rfc3339(),
            workers: out,
            queues,
            error: None,
        })
    }

    /// The pool for `/api/status`.
    pub fn status_json(&self) -> Value {
        let s = self.snapshot();
        json!({
            "queue_database": self.url,
            "worker_id": self.worker_id,
            "heartbeat_seconds": self.settings.heartbeat.as_secs_f64(),
            "sweep_threshold_seconds": self.settings.sweep_threshold.as_secs_f64(),
            "read_at": s.at,
            "error": s.error,
            "workers": s.workers,
            "queues": s.queues,
        })
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The manager, handed to the task handler through graphile_worker's
/// extensions.
#[derive(Clone)]
pub struct Manager(pub std::sync::Arc<crate::manager::Shared>);

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Manager")
    }
}

impl graphile_worker::TaskHandler for RunJob {
    const IDENTIFIER: &'static str = TASK;

    async fn run(
        self,
        ctx: graphile_worker::WorkerContext,
    ) -> impl graphile_worker::IntoTaskHandlerResult {
        let Some(manager) = ctx.get_ext::<Manager>().cloned() else {
            return Err("the worker has no manager".to_string());
        };
        let attempts = *ctx.job().attempts();
        manager.0.run_job(self, attempts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_settings_from_the_environment() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            WorkerSettings::from_env(env(&[])).unwrap(),
            WorkerSettings::default()
        );
        let s = WorkerSettings::from_env(env(&[
            ("MAPSYNC_WORKER_HEARTBEAT", "1s"),
            ("MAPSYNC_WORKER_SWEEP_THRESHOLD", "3s"),
        ]))
        .unwrap();
        assert_eq!(s.heartbeat, Duration::from_secs(1));
        assert_eq!(s.sweep_threshold, Duration::from_secs(3));
        let e =
            WorkerSettings::from_env(env(&[("MAPSYNC_WORKER_SWEEP_THRESHOLD", "5s")])).unwrap_err();
        assert!(e.to_string().contains("twice the heartbeat"), "{e}");
        let e = WorkerSettings::from_env(env(&[("MAPSYNC_WORKER_POLL", "soon")])).unwrap_err();
        assert!(e.to_string().contains("MAPSYNC_WORKER_POLL"), "{e}");
    }

    #[test]
    fn same_database_whatever_the_pool_parameters() {
        let a = database_key("postgres://m@db:5432/x?password_env=A&max_connections=8").unwrap();
        let b = database_key("postgresql://m@db/x?application_name=w").unwrap();
        assert_eq!(a, b);
        let c = database_key("postgres://m@db/y").unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn store_identities_drop_credentials_and_queries() {
        let dir = std::path::Path::new("/p");
        assert_eq!(
            store_ident("https://user:secret@shop.example.com/admin/api/?x=1", dir),
            "https://shop.example.com/admin/api"
        );
        assert_eq!(
            store_ident("http://127.0.0.1:4000/", dir),
            "http://127.0.0.1:4000"
        );
        assert_eq!(
            store_ident(".mapsync/store.db", dir),
            "/p/.mapsync/store.db"
        );
        assert_eq!(store_ident("abc123", dir), "abc123");
    }
}
