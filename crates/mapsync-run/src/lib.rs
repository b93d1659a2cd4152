//! `mapsync run`: the sync manager that runs forever (docs/run.md).
//!
//! * [`manager`]: one task per scheduled profile, runs that never overlap,
//!   backoff after a failed run, configuration reloads (every
//!   `config_check`, on a file change, on SIGHUP) that keep the running
//!   configuration when the new one has errors, graceful shutdown.
//! * [`metrics`]: the Prometheus metrics (`prometheus-client`).
//! * [`http`]: `/healthz`, `/readyz`, `/metrics`, `/api/*`, the status page
//!   ([`page`]).
//! * [`logs`]: daily log files, text or JSON lines, `keep_days` cleanup.
//! * [`pool`]: `mapsync run --worker`, runs as jobs of a pool of workers in
//!   PostgreSQL (graphile_worker: a queue per store, heartbeat recovery).
//!
//! A run is what `mapsync sync --profile P` does (`exec::run::sync_with`),
//! handed what the manager keeps between runs: the profile's checked
//! mapping set and the state database's open connections. This crate
//! names no platform and depends on no connector: the binary hands it the
//! [`Registry`].

pub mod http;
pub mod logs;
pub mod manager;
pub mod metrics;
pub mod page;
pub mod pool;

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mapsync_config::connector::Registry;
use mapsync_config::profile::ProfileError;

pub use manager::{Loaded, Options, Outcome, Shared};

/// Why `mapsync run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The project could not be loaded or has errors.
    #[error(transparent)]
    Project(#[from] ProfileError),
    /// The endpoints' address could not be bound.
    #[error("cannot listen on {addr}: {source}; change `run.listen` or stop what uses the port")]
    Listen {
        /// `run.listen`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Signals or the runtime could not be set up.
    #[error("cannot start: {0}")]
    Io(#[from] std::io::Error),
    /// The project's temporary folder (`tmp_dir:`) cannot be used.
    #[error("cannot use the project's temporary folder: {0}")]
    Tmp(#[from] mapsync_state::tmp::TmpError),
    /// `--worker` cannot join the pool.
    #[error(transparent)]
    Worker(#[from] pool::WorkerError),
}

/// Runs the manager until SIGTERM/SIGINT (or, with `once`, runs each due
/// profile once). Returns the exit code: 0, or with `once` 3 when a run had
/// failed items and 1 when one failed.
pub fn run(
    options: Options,
    registry: Registry,
    once: bool,
    stderr_level: &str,
) -> Result<u8, StartError> {
    // C code's allocations (the bundled SQLite's page caches and
    // statements; Rust's go to mimalloc) in one glibc arena: by default
    // each thread that calls `malloc` may get an arena of its own, which
    // keeps its freed pages; at rest they held about 1 MB more (issue 13,
    // docs/run.md "Measured"). SQLite calls are short and few here.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: sets a malloc parameter before this command starts threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    // One worker thread: this runtime only schedules the profiles, serves
    // the status page and hands runs to the run workers (each a thread of
    // its own); a second worker (one per core by default) and its
    // allocator heap only added memory at rest (issue 13).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let worker = options.worker;
    let shared = Shared::new(options, registry);
    let loaded = shared.load()?;
    // `--worker`: the queue database (the profiles' one PostgreSQL state
    // database) and the timings, checked before anything starts.
    let queue = if worker {
        let only = &shared.options.only;
        let profiles = loaded
            .project
            .profiles
            .iter()
            .filter(|(name, _, schedule)| {
                if only.is_empty() {
                    schedule.is_some()
                } else {
                    only.contains(name)
                }
            })
            .map(|(name, p, _)| (name.as_str(), p.as_ref().map_err(|e| e.to_string())));
        let url = pool::queue_database(profiles)?;
        let settings = pool::WorkerSettings::from_env(|n| std::env::var(n).ok())?;
        Some((url, settings))
    } else {
        None
    };
    let settings = loaded.project.run.clone();
    let _guard = logs::init(
        &shared.log_dir(&settings),
        settings.log_format,
        stderr_level,
    );
    // The project's temporary folder: what processes that are gone left
    // there goes now (logged); the runs' spools are made there and this
    // process's files go with the session.
    let project_dir = shared
        .options
        .project_file
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let (_tmp, _) = mapsync_state::tmp::Session::start(
        &mapsync_config::tmp_dir(&shared.options.project_file),
        &project_dir,
    )?;
    let code = runtime.block_on(async move {
        *shared_settings(&shared) = settings.clone();
        *shared
            .started_with
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(settings.clone());
        shared.cleanup_logs();
        shared.metrics.reload(true);
        if once {
            shared.apply_without_tasks(loaded);
            let outcome = shared.run_once().await;
            return Ok(match outcome {
                Outcome::Ok => 0,
                Outcome::Partial => 3,
                Outcome::Failed => 1,
            });
        }
        if let Some((url, worker_settings)) = queue {
            join_pool(&shared, &url, worker_settings).await?;
        }
        serve(shared, loaded, settings.listen).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// `--worker`: connects to the queue database, installs or upgrades
/// graphile_worker's schema there (under its own lock: workers starting
/// together are safe) and sets up this process's worker.
async fn join_pool(
    shared: &Arc<Shared>,
    url: &str,
    settings: pool::WorkerSettings,
) -> Result<(), StartError> {
    let shown = mapsync_pgstate::redact_raw(url);
    let queue_error = |message: String| pool::WorkerError::Queue {
        url: shown.clone(),
        message,
    };
    let mut parsed = mapsync_pgstate::PgUrl::parse(url).map_err(|e| queue_error(e.to_string()))?;
    // The worker's connections: its job fetches and completions, its
    // notification listener, heartbeats and sweeps, the status reads.
    parsed.max_connections = parsed
        .max_connections
        .max(manager::MAX_CONCURRENT_RUNS as u32 + 6);
    let store = mapsync_pgstate::PgStore::connect_url(&parsed)
        .await
        .map_err(|e| queue_error(e.to_string()))?;
    let pg = store.pool().clone();
    let worker = graphile_worker::WorkerOptions::default()
        .schema(pool::SCHEMA)
        .pg_pool(pg.clone())
        .concurrency(settings.concurrency)
        .poll_interval(settings.poll)
        .define_job::<pool::RunJob>()
        .add_extension(pool::Manager(shared.clone()))
        // mapsync's own signal handling: the first SIGTERM lets the run in
        // flight finish its items, then the job is released.
        .listen_os_shutdown_signals(false)
        .shutdown_grace_period(Duration::from_secs(24 * 3600))
        .shutdown_interrupted_job_retry_delay(Duration::from_secs(1))
        .heartbeat_interval(settings.heartbeat)
        .sweep_interval(settings.sweep_interval)
        .sweep_threshold(settings.sweep_threshold)
        .recovery_delay(settings.recovery_delay)
        .init()
        .await
        .map_err(|e| queue_error(format!("the job queue could not start: {e}")))?;
    let worker = Arc::new(worker);
    let member = Arc::new(pool::Pool::new(
        worker.create_utils(),
        pg,
        shown.clone(),
        settings,
        worker.worker_id().clone(),
    ));
    tracing::info!(
        queue_database = %shown,
        worker_id = %member.worker_id,
        heartbeat = ?member.settings.heartbeat,
        sweep_threshold = ?member.settings.sweep_threshold,
        "joined the pool of workers"
    );
    shared.set_pool(member, worker);
    Ok(())
}

fn shared_settings(s: &Shared) -> std::sync::MutexGuard<'_, mapsync_config::schedule::RunSettings> {
    s.settings
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn serve(
    shared: Arc<Shared>,
    loaded: manager::Loaded,
    listen: SocketAddr,
) -> Result<u8, StartError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(listen);
    let app = http::router(shared.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the status server stopped: {e}");
        }
    });
    tracing::info!(
        "mapsync run: status page on http://{addr}/ (metrics on /metrics), {} profile(s)",
        loaded.project.profiles.len()
    );
    let files = loaded.project.files.clone();
    shared.apply(loaded);
    if let Some(pool) = shared.pool() {
        // The worker takes jobs once the profiles are known.
        if let Some(worker) = shared.pool_worker() {
            let stopping = shared.clone();
            let handle = tokio::spawn(async move {
                if let Err(e) = worker.run().await {
                    if !stopping
                        .shutting_down
                        .load(std::sync::atomic::Ordering::SeqCst)
                    {
                        // Nothing would take this process's jobs any more:
                        // exit for the supervisor to restart it (its held
                        // jobs come back to the pool after the sweep).
                        tracing::error!("the pool's worker stopped: {e}; exiting");
                        eprintln!("the pool's worker stopped: {e}; exiting");
                        mapsync_state::tmp::remove_own_files();
                        std::process::exit(1);
                    }
                    tracing::error!("the pool's worker stopped: {e}");
                }
            });
            shared.keep_task(handle);
        }
        tokio::spawn(shared.clone().pool_refresh_task(pool));
    }
    tokio::spawn(shared.clone().reload_task(files));
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reading the configuration again");
                shared.request_reload();
            }
        }
    }
    tracing::info!("stopping: the runs in progress finish their items in flight (a second signal quits at once; the next start resumes either way)");
    shared.begin_shutdown();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("second signal: quitting at once (everything recorded so far stays recorded)");
        mapsync_state::tmp::remove_own_files();
        std::process::exit(130);
    });
    shared.join().await;
    tracing::info!("stopped");
    Ok(0)
}

/// A plain HTTP/1.0 GET to a manager's endpoint (`mapsync status`): the
/// status code and the body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer")
        })?;
    Ok((code, body.to_string()))
}
