//! `mapsync sync` and `mapsync apply`: arguments, logging (stderr and a
//! daily log file under `.mapsync/logs/`), the progress bar and the run
//! report's human and JSON views.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use owo_colors::OwoColorize;

use super::{render, Format};
use crate::config::profile::Profile;
use crate::exec::report::{RunReport, Status};
use crate::exec::run::{RunError, SyncOptions};
use crate::exec::Progress;
use crate::plan::document::Entity;

/// Options of `mapsync sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The profile to sync.
    #[arg(long)]
    pub profile: String,
    /// Output format of the run report.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Sync only these item keys.
    #[arg(long, value_name = "KEY", num_args = 1..)]
    pub only: Vec<String>,
    /// Ignore change detection: update every item of the update list.
    #[arg(long)]
    pub force: bool,
    /// Allow more deletions than `max_deletes`.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Read every record, even where the source reads incrementally (`since:`).
    #[arg(long)]
    pub full: bool,
    /// More log output on stderr (-v info, -vv debug with request ids).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Options of `mapsync apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A plan saved with `mapsync plan --out FILE`.
    pub file: PathBuf,
    /// Output format of the run report.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Allow more deletions than `max_deletes`.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// More log output on stderr (-v info, -vv debug with request ids).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Logs to stderr (warnings, or more with `-v` / `RUST_LOG`) and to a daily
/// file `.mapsync/logs/mapsync.log.YYYY-MM-DD` (info, or `MAPSYNC_LOG`).
/// The returned guard flushes the file when dropped.
pub(super) fn init_logging(
    project_dir: &Path,
    verbose: u8,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Layer};
    let stderr_level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // The CLI prints a run's fatal error itself; its log line goes to the file.
    let stderr_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{stderr_level},mapsync::cli=off")));
    let stderr = fmt::layer()
        .with_writer(|| BarSafeStderr)
        .with_ansi(super::render::color_stderr())
        .with_target(false)
        .with_filter(stderr_filter);
    let dir = project_dir.join(".mapsync").join("logs");
    let file = std::fs::create_dir_all(&dir)
        .ok()
        .and_then(|()| {
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("mapsync.log")
                .build(&dir)
                .ok()
        })
        .map(tracing_appender::non_blocking);
    match file {
        Some((writer, guard)) => {
            let file_filter =
                EnvFilter::try_from_env("MAPSYNC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
            let layer = fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(file_filter);
            let _ = tracing_subscriber::registry()
                .with(stderr)
                .with(layer)
                .try_init();
            Some(guard)
        }
        None => {
            let _ = tracing_subscriber::registry().with(stderr).try_init();
            None
        }
    }
}

/// The progress bar of this process, if one is shown: log lines on
/// stderr are written with the bar hidden, so they do not tear it.
pub(super) static BAR: std::sync::OnceLock<ProgressBar> = std::sync::OnceLock::new();

/// stderr, written around the progress bar.
struct BarSafeStderr;

impl std::io::Write for BarSafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BAR.get() {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A progress bar on stderr when it is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Bar {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {bar:30} {pos}/{len} items  {per_sec}  eta {eta}  {msg}",
        ) {
            bar.set_style(style);
        }
        let _ = BAR.set(bar.clone());
        Bar(Some(bar))
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
        }
    }
    fn item_done(&self, entity: Entity, key: Option<&str>, ok: bool) {
        if let Some(b) = &self.0 {
            b.inc(1);
            if !ok {
                b.set_message(format!(
                    "last failure: {} {}",
                    entity.as_str(),
                    key.unwrap_or("?")
                ));
            }
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// The first Ctrl-C asks the run to stop after the items in flight (they
/// finish and are recorded); a second one ends the process at once.
fn stop_on_ctrl_c(runtime: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the items in flight (Ctrl-C again to quit at once; the next run resumes either way)");
            flag.store(true, Ordering::Relaxed);
            if tokio::signal::ctrl_c().await.is_ok() {
                crate::state::tmp::remove_own_files();
                std::process::exit(130);
            }
        }
    });
    stop
}

/// `mapsync sync`.
pub fn sync(project: Option<&Path>, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let profile = super::load_profile(project, &args.profile)?;
    let _guard = init_logging(&profile.project_dir, args.verbose);
    let _tmp = super::tmp_session(project, false)?;
    let options = SyncOptions {
        only: args.only,
        force: args.force,
        allow_mass_delete: args.allow_mass_delete,
        full: args.full,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let stop = stop_on_ctrl_c(&runtime);
    let bar = Bar::new();
    let result = runtime.block_on(crate::exec::run::sync(&profile, &options, &bar, &stop));
    bar.finish();
    finish(result, args.format, &profile)
}

/// `mapsync apply FILE`.
pub fn apply(project: Option<&Path>, args: ApplyArgs) -> anyhow::Result<ExitCode> {
    // Logging and the temporary folder first: the plan's documents are
    // spooled there.
    let project_file = super::project_file(project)?;
    let _guard = init_logging(
        project_file.parent().unwrap_or(Path::new(".")),
        args.verbose,
    );
    let _tmp = super::tmp_session(project, false)?;
    let reader = std::fs::File::open(&args.file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the plan file {}: {e}; make one with `mapsync plan --profile P --out FILE`",
            args.file.display()
        )
    })?;
    // Streamed: the documents go to a spool file, not into memory.
    let (plan, documents) = crate::plan::spool::read_plan_file(reader).map_err(|e| match e {
        crate::plan::spool::PlanFileError::Json(e) => anyhow::anyhow!(
            "{} is not a mapsync plan file: {e}; make one with `mapsync plan --profile P --out FILE`",
            args.file.display()
        ),
        crate::plan::spool::PlanFileError::Spool(e) => anyhow::Error::new(e).context(format!(
            "cannot spool the documents of the plan file {}",
            args.file.display()
        )),
    })?;
    if plan.format_version != crate::plan::reconcile::FORMAT_VERSION {
        anyhow::bail!(
            "{} has plan format version {}, this mapsync reads version {}; make a new plan",
            args.file.display(),
            plan.format_version,
            crate::plan::reconcile::FORMAT_VERSION
        );
    }
    let profile = super::load_profile(project, &plan.profile)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let stop = stop_on_ctrl_c(&runtime);
    let bar = Bar::new();
    let result = runtime.block_on(crate::exec::run::apply(
        &profile,
        plan,
        crate::exec::Documents::Spool(documents),
        args.allow_mass_delete,
        &bar,
        &stop,
    ));
    bar.finish();
    finish(result, args.format, &profile)
}

fn finish(
    result: Result<RunReport, RunError>,
    format: Format,
    profile: &Profile,
) -> anyhow::Result<ExitCode> {
    let report = match result {
        Ok(r) => r,
        Err(RunError::Plan(crate::engine::PlanError::Mapping(diags))) => {
            super::print_diagnostics(&diags);
            anyhow::bail!("the mapping set has errors");
        }
        Err(e) => {
            tracing::error!(profile = %profile.name, error = %e, "run stopped");
            return Err(e.into());
        }
    };
    tracing::info!(
        profile = %report.profile,
        created = report.summary.created,
        updated = report.summary.updated,
        deleted = report.summary.deleted,
        deactivated = report.summary.deactivated,
        failed = report.summary.failed,
        invalid = report.summary.invalid,
        requests = report.requests.total,
        "run finished"
    );
    match format {
        Format::Json => super::emit_json(&report)?,
        Format::Human => out!("{}", human(&report, render::color_stdout())),
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// The run report for people: one line per changed or failed item, then
/// the counts and the requests.
pub fn human(r: &RunReport, color: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for i in &r.items {
        let key = i.key.as_deref().unwrap_or("-");
        let what = format!("{} {} {}", i.action.as_str(), i.entity.as_str(), key);
        match i.status {
            Status::Ok => {
                let line = format!("  ok      {what}");
                let _ = writeln!(
                    s,
                    "{}",
                    if color {
                        line.green().to_string()
                    } else {
                        line
                    }
                );
            }
            Status::Failed => {
                let line = format!(
                    "  FAILED  {what}: {}",
                    i.message.as_deref().unwrap_or("failed")
                );
                let _ = writeln!(s, "{}", if color { line.red().to_string() } else { line });
            }
        }
    }
    if r.items.is_empty() {
        let _ = writeln!(s, "No changes: the store already matches the source.");
    }
    let m = &r.summary;
    let _ = writeln!(
        s,
        "{}Sync of profile {}: {} created, {} updated, {} deleted, {} deactivated, {} unchanged, {} skipped, {} invalid, {} failed.",
        if r.items.is_empty() { "" } else { "\n" },
        r.profile,
        m.created,
        m.updated,
        m.deleted,
        m.deactivated,
        m.unchanged,
        m.skipped,
        m.invalid,
        m.failed
    );
    if m.drift > 0 {
        let _ = writeln!(
            s,
            "Drift: {} field(s) edited in the store since mapsync wrote them (settings.on_drift says what was done; see each item).",
            m.drift
        );
    }
    if m.pulled > 0 || m.held > 0 {
        let _ = writeln!(
            s,
            "Two-way: {} field(s) written back to the source; {} item(s) held by a conflict (see each item; `mapsync resolve` picks a side).",
            m.pulled, m.held
        );
    }
    let q = &r.requests;
    // A store without cost units (BigCommerce counts requests) says none.
    let cost = if q.cost > 0 {
        format!(", cost {}", q.cost)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "Requests: {} ({} throttled, {} retried){cost}.",
        q.total, q.throttled, q.retried
    );
    s
}
