//! `mapsync images pull` / `publish` / `plan`: the image round trip
//! (`mapsync-images`) over the profile's target, reached through its
//! connector's image port. Renders the summary and the publish log; exit
//! 0, or 3 when some images failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use mapsync_core::images::ImageStore;
use mapsync_core::target::{ErrorKind, TargetError};
use mapsync_images::publish::{Outcome, PublishOptions, PublishReport};
use mapsync_images::pull::{PullOptions, PullSummary};
use mapsync_images::{ImagesError, Progress};

use super::{render, Format};

/// Exit code when some images failed.
const SOME_FAILED: u8 = 3;

/// The image round trip.
#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Download every product image of the profile's target into a folder, with a manifest.
    Pull(PullArgs),
    /// Publish a manifest's actions (overwrite, append, skip, copy) to the profile's target.
    Publish(PublishArgs),
    /// What `publish` would do, image by image, without a write (`publish --dry-run`).
    Plan(PublishArgs),
}

/// Options of `mapsync images pull`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// The profile whose target is read.
    #[arg(long)]
    pub profile: String,
    /// The folder (files/ and manifest.ndjson).
    #[arg(long)]
    pub out: PathBuf,
    /// Only these product keys.
    #[arg(long, num_args = 1..)]
    pub only: Vec<String>,
    /// Only products updated since this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_parser = since_value)]
    pub since: Option<String>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Options of `mapsync images publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The profile whose target is written.
    #[arg(long)]
    pub profile: String,
    /// The manifest (DIR/manifest.ndjson).
    pub manifest: PathBuf,
    /// Print what would happen, image by image, without a write.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the log.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Runs an `images` command.
pub fn images(project: Option<&Path>, command: ImagesCommand) -> anyhow::Result<ExitCode> {
    match command {
        ImagesCommand::Pull(args) => pull(project, args),
        ImagesCommand::Publish(args) => publish(project, args),
        ImagesCommand::Plan(mut args) => {
            args.dry_run = true;
            publish(project, args)
        }
    }
}

/// A progress bar on stderr when it is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(what: &str) -> Bar {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{{spinner}} {{bar:30}} {{pos}}/{{len}} {what}  {{per_sec}}  eta {{eta}}  {{msg}}"
        )) {
            bar.set_style(style);
        }
        let _ = super::sync::BAR.set(bar.clone());
        Bar(Some(bar))
    }
}

impl Progress for Bar {
    fn listed(&self, products: u64) {
        if let Some(b) = &self.0 {
            b.set_message(format!("listing: {products} products"));
            b.tick();
        }
    }
    fn start(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_message("");
            b.set_length(total);
        }
    }
    fn step(&self, failed: Option<&str>) {
        if let Some(b) = &self.0 {
            b.inc(1);
            if let Some(what) = failed {
                b.set_message(format!("last failure: {what}"));
            }
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A fatal error of the round trip, keeping a target failure's kind (its
/// diagnostic code).
fn fatal(e: ImagesError) -> anyhow::Error {
    match e {
        ImagesError::Target(t) => t.into(),
        ImagesError::State(s) => s.into(),
        ImagesError::Unsupported(kind) => TargetError::new(
            ErrorKind::Config,
            format!(
                "the `{kind}` target has no image round trip yet (today: `shopify`, `sandbox`, `bigcommerce`, `bigcommerce-sandbox`, and `rest` with `images:`)"
            ),
        )
        .into(),
        other => other.into(),
    }
}

/// Runs `work` on the image port of the profile's target (connected
/// for it, closed after), a progress bar on stderr counting `what`; an
/// error as [`fatal`].
fn round_trip<T>(
    profile: &crate::config::profile::Profile,
    what: &str,
    work: impl AsyncFnOnce(&dyn ImageStore, &crate::engine::Connected, &Bar) -> Result<T, ImagesError>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Runtime::new()?;
    let bar = Bar::new(what);
    let result: Result<T, ImagesError> = runtime.block_on(async {
        let conn = crate::engine::connect(profile).await.map_err(|e| match e {
            crate::engine::EngineError::Target(t) => ImagesError::Target(t),
            other => ImagesError::Target(TargetError::new(ErrorKind::Failed, other.to_string())),
        })?;
        let result = match conn.target.images() {
            Some(store) => work(store, &conn, &bar).await,
            None => Err(ImagesError::Unsupported(
                conn.target.capabilities().kind.to_owned(),
            )),
        };
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %e, "the target connection did not close cleanly");
        }
        result
    });
    bar.finish();
    result.map_err(fatal)
}

/// Exit 0 when nothing failed, else [`SOME_FAILED`].
fn exit_code(all_ok: bool) -> ExitCode {
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(SOME_FAILED)
    }
}

fn pull(project: Option<&Path>, args: PullArgs) -> anyhow::Result<ExitCode> {
    let profile = super::load_profile(project, &args.profile)?;
    let _guard = super::sync::init_logging(&profile.project_dir, args.verbose);
    let _tmp = super::tmp_session(project, true)?;
    let options = PullOptions {
        out: args.out.clone(),
        only: args.only.clone(),
        since: args.since.clone(),
    };
    let summary: PullSummary = round_trip(&profile, "images", async |store, _, bar| {
        mapsync_images::pull::pull(store, &options, bar).await
    })?;
    tracing::info!(
        profile = %profile.name,
        products = summary.products,
        images = summary.images,
        distinct = summary.distinct,
        duplicates = summary.duplicates,
        downloaded = summary.downloaded,
        bytes = summary.bytes_downloaded,
        failed = summary.failed.len(),
        "images pulled"
    );
    match args.format {
        Format::Json => super::emit_json(&summary)?,
        Format::Human => out!("{}", human_pull(&summary)),
    }
    Ok(exit_code(summary.failed.is_empty()))
}

fn human_pull(s: &PullSummary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for f in &s.failed {
        let _ = writeln!(
            out,
            "  FAILED  {} image {}: {}",
            f.product_key, f.image_id, f.message
        );
    }
    let _ = writeln!(
        out,
        "Pulled {} images of {} products into {}: {} distinct files ({} bytes), {} duplicates; {} downloaded ({} bytes), {} already there; {} failed.",
        s.images,
        s.products,
        s.manifest.display(),
        s.distinct,
        s.bytes_distinct,
        s.duplicates,
        s.downloaded,
        s.bytes_downloaded,
        s.reused,
        s.failed.len()
    );
    if s.kept_actions > 0 || s.reset_actions > 0 {
        let _ = writeln!(
            out,
            "Kept the actions of {} images from the earlier manifest; reset {} to skip (their image changed or is gone{}).",
            s.kept_actions,
            s.reset_actions,
            if s.reset_actions > 0 {
                format!("; the earlier manifest is {}", mapsync_images::pull::PREVIOUS)
            } else {
                String::new()
            }
        );
    }
    out
}

fn publish(project: Option<&Path>, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let profile = super::load_profile(project, &args.profile)?;
    let _guard = super::sync::init_logging(&profile.project_dir, args.verbose);
    let _tmp = super::tmp_session(project, true)?;
    let options = PublishOptions {
        manifest: args.manifest.clone(),
        dry_run: args.dry_run,
        channel: profile.channel.clone(),
    };
    let state = crate::engine::open_state(&profile)?;
    let report: PublishReport = round_trip(&profile, "lines", async |store, conn, bar| {
        let before = conn.target.request_stats().requests;
        let published = mapsync_images::publish::publish(store, Some(&state), &options, bar).await;
        state.close().await;
        published.map(|mut report| {
            // Every request the client sent (reads and retries included).
            let sent = conn.target.request_stats().requests - before;
            report.requests = report.requests.max(sent);
            report
        })
    })?;
    tracing::info!(
        profile = %profile.name,
        dry_run = report.dry_run,
        written = report.written,
        failed = report.failed,
        requests = report.requests,
        "images published"
    );
    match args.format {
        Format::Json => super::emit_json(&report)?,
        Format::Human => out!("{}", human_publish(&report, render::color_stdout())),
    }
    Ok(exit_code(report.failed == 0))
}

fn human_publish(r: &PublishReport, color: bool) -> String {
    use owo_colors::OwoColorize as _;
    use std::fmt::Write as _;
    let mut out = String::new();
    for e in &r.entries {
        if e.outcome == Outcome::Skipped {
            continue;
        }
        let word = match e.outcome {
            Outcome::Skipped => "skip",
            Outcome::Unchanged => "same",
            Outcome::Done => "done",
            Outcome::Overwritten => "ok",
            Outcome::Appended => "ok",
            Outcome::WouldOverwrite => "would",
            Outcome::WouldAppend => "would",
            Outcome::Failed => "FAILED",
        };
        let what = match e.outcome {
            Outcome::WouldAppend | Outcome::Appended if e.action.as_str() == "copy" => {
                format!(
                    "copy line {} ({} {}) to {}",
                    e.line, e.product_key, e.image_id, e.target
                )
            }
            _ => format!(
                "{} line {} ({} {})",
                e.action.as_str(),
                e.line,
                e.product_key,
                e.image_id
            ),
        };
        let note = e
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let line = format!("  {word:<7} {what}{note}");
        let line = match (color, e.outcome) {
            (true, Outcome::Failed) => line.red().to_string(),
            (true, Outcome::Overwritten | Outcome::Appended) => line.green().to_string(),
            _ => line,
        };
        let _ = writeln!(out, "{line}");
    }
    let count = |o: Outcome| r.entries.iter().filter(|e| e.outcome == o).count();
    if r.dry_run {
        let _ = writeln!(
            out,
            "Dry run: {} to overwrite, {} to add, {} unchanged, {} already done, {} skipped, {} failed; nothing was written.",
            count(Outcome::WouldOverwrite),
            count(Outcome::WouldAppend),
            count(Outcome::Unchanged),
            count(Outcome::Done),
            count(Outcome::Skipped),
            count(Outcome::Failed)
        );
    } else {
        let _ = writeln!(
            out,
            "Published: {} overwritten, {} added, {} unchanged, {} already done, {} skipped, {} failed; {} requests.",
            count(Outcome::Overwritten),
            count(Outcome::Appended),
            count(Outcome::Unchanged),
            count(Outcome::Done),
            count(Outcome::Skipped),
            count(Outcome::Failed),
            r.requests
        );
    }
    out
}

/// `--since`, checked here for every store (the stores take it as given).
fn since_value(text: &str) -> Result<String, String> {
    match mapsync_core::value::parse_instant(text) {
        Some(_) => Ok(text.trim().to_owned()),
        None => Err(format!(
            "`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 time; write e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
        )),
    }
}
