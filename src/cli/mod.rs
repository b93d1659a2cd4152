//! The command line: clap commands, rendering and exit codes. The only
//! module that prints to stdout, and the only one that uses `anyhow`.

/// Print to stdout; a closed pipe (`mapsync plan | head`) ends quietly.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::emit(&format!($($t)*)) };
}
/// `out!` with a newline.
macro_rules! outln {
    ($($t:tt)*) => { $crate::cli::emit(&format!("{}\n", format!($($t)*))) };
}

pub mod explain;
pub mod failure;
pub mod images;
pub mod init;
pub mod render;
pub mod resolve;
pub mod run;
pub mod sandbox;
pub mod shell;
pub mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mapsync: declarative catalog sync from PIMs and files to Shopify and BigCommerce.
#[derive(Debug, Parser)]
#[command(name = "mapsync", version = shell::VERSION, about, long_about = None)]
pub struct Cli {
    /// Directory holding mapsync.yaml (default: the current directory, then its parents).
    #[arg(long, global = true)]
    pub project: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable text, coloured on a terminal.
    #[default]
    Human,
    /// Exactly one JSON document on stdout.
    Json,
}

/// The commands of mapsync.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check project and mapping files offline.
    Validate(ValidateArgs),
    /// Dry run: show what a sync would do, item by item.
    Plan(PlanArgs),
    /// Plan and apply in one go.
    Sync(sync::SyncArgs),
    /// Apply a plan saved with `plan --out FILE` (refused when stale).
    Apply(sync::ApplyArgs),
    /// The sync manager: syncs on schedule, forever, with health, metrics and a status page.
    Run(run::RunArgs),
    /// Past runs from the state store.
    Runs(run::RunsArgs),
    /// What a running manager (`mapsync run`) is doing.
    Status(run::StatusArgs),
    /// Settle a `conflict: manual` field of an item: keep the source's or the target's value.
    Resolve(resolve::ResolveArgs),
    /// Run the `tests:` of mapping sets.
    Test(TestArgs),
    /// Print a JSON Schema (project or mapping).
    Schema(SchemaArgs),
    /// The emulated stores (Shopify, a PIM, BigCommerce).
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// The image round trip: pull every product image, publish edited images back.
    #[command(subcommand)]
    Images(images::ImagesCommand),
    /// Write a starter project: project file, mapping set, sample data, CI recipe.
    Init(init::InitArgs),
    /// The long explanation of a diagnostic code, with an example and the fix.
    Explain(explain::ExplainArgs),
    /// Print shell completions (bash, elvish, fish, powershell, zsh).
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff), or write one per command into a directory.
    Man(shell::ManArgs),
}

/// Options of `mapsync validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Project files, mapping files or mapping directories (default: the project).
    pub paths: Vec<PathBuf>,
    /// Output format: `sarif` (SARIF 2.1.0, for code scanning) and `github`
    /// (workflow annotations) put the diagnostics on the changed lines in CI.
    #[arg(long, value_enum, default_value_t)]
    pub format: render::ValidateFormat,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Options of `mapsync plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The profile to plan.
    #[arg(long)]
    pub profile: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Save the plan (with what `apply` needs) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Show every rule checked for one item key, and why.
    #[arg(long, value_name = "KEY")]
    pub explain: Option<String>,
    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also list skipped and unchanged items.
    #[arg(long, short)]
    pub verbose: bool,
    /// Read every record, even where the source reads incrementally (`since:`).
    #[arg(long)]
    pub full: bool,
    /// Look for drift (fields edited in the store since mapsync wrote them)
    /// on every synced item, not only those being updated: reads each one.
    #[arg(long)]
    pub drift: bool,
}

/// Options of `mapsync test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Mapping files or directories (default: every profile's mapping set).
    pub paths: Vec<PathBuf>,
}

/// Options of `mapsync schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum, default_value = "mapping")]
    pub which: crate::schema::Which,
}

/// Entry point of the binary: parse arguments, run, map errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprint!("{}", failure::render(&err, render::color_stderr()));
            ExitCode::from(1)
        }
    }
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate(cli.project.as_deref(), args),
        Command::Plan(args) => plan(cli.project.as_deref(), args),
        Command::Sync(args) => sync::sync(cli.project.as_deref(), args),
        Command::Apply(args) => sync::apply(cli.project.as_deref(), args),
        Command::Run(args) => run::run(cli.project.as_deref(), args),
        Command::Runs(args) => run::runs(cli.project.as_deref(), args),
        Command::Status(args) => run::status(cli.project.as_deref(), args),
        Command::Resolve(args) => resolve::resolve(cli.project.as_deref(), args),
        Command::Test(args) => test(cli.project.as_deref(), args),
        Command::Images(command) => images::images(cli.project.as_deref(), command),
        Command::Schema(args) => {
            outln!("{}", crate::schema::text(args.which));
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox(cmd) => sandbox::run(cmd),
        Command::Init(args) => init::init(cli.project.as_deref(), args),
        Command::Explain(args) => explain::explain(args),
        Command::Completions(args) => shell::completions(args),
        Command::Man(args) => shell::man(args),
    }
}

fn validate(project: Option<&std::path::Path>, args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let start = match project {
        Some(p) => p.to_path_buf(),
        None => std::env::current_dir()?,
    };
    let diags = crate::check::validate(&args.paths, &start, &crate::registry())?;
    let failing_warnings = args.deny_warnings && diags.warnings() > 0;
    let valid = !(diags.has_errors() || failing_warnings);
    render::print_validate(&diags, valid, args.format, &start);
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn project_file(project: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    let start = match project {
        Some(p) => p.to_path_buf(),
        None => std::env::current_dir()?,
    };
    Ok(crate::config::find_project(&start)?)
}

/// The project's temporary folder for this command (`tmp_dir:`, default
/// `.mapsync/tmp`; docs/sync.md): what processes that are gone left there
/// is removed and logged (so set logging up first), this process's
/// temporary files go there, and they are removed when the session drops.
/// With `ctrl_c`, a Ctrl-C removes them and ends the process (exit 130);
/// `sync` and `apply` stop gently instead and drop the session.
pub(crate) fn tmp_session(
    project: Option<&std::path::Path>,
    ctrl_c: bool,
) -> anyhow::Result<crate::state::tmp::Session> {
    let file = project_file(project)?;
    let dir = crate::config::tmp_dir(&file);
    let project_dir = file.parent().unwrap_or(std::path::Path::new("."));
    if ctrl_c {
        // Listening before the first file is made: no Ctrl-C falls between.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut interrupt = {
            let _in = rt.enter();
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?
        };
        std::thread::spawn(move || {
            if rt.block_on(interrupt.recv()).is_some() {
                crate::state::tmp::remove_own_files();
                std::process::exit(130);
            }
        });
    }
    let (session, _removed) = crate::state::tmp::Session::start(&dir, project_dir)
        .map_err(|e| anyhow::Error::new(e).context("cannot use the project's temporary folder"))?;
    Ok(session)
}

fn print_diagnostics(diags: &crate::diag::Diagnostics) {
    for d in diags.iter() {
        eprintln!(
            "{}",
            render::diagnostic_hinted(d, render::color_stderr(), 100)
        );
    }
}

/// Load a profile of the project, printing the project file's diagnostics.
fn load_profile(
    project: Option<&std::path::Path>,
    name: &str,
) -> anyhow::Result<crate::config::profile::Profile> {
    use crate::config::profile::{self, ProfileError};
    let file = project_file(project)?;
    match profile::load(&file, name, |n| std::env::var(n).ok(), &crate::registry()) {
        Ok(p) => Ok(p),
        Err(ProfileError::Invalid(diags)) => {
            print_diagnostics(&diags);
            anyhow::bail!("the project file has errors");
        }
        Err(e) => Err(e.into()),
    }
}

fn plan(project: Option<&std::path::Path>, args: PlanArgs) -> anyhow::Result<ExitCode> {
    use crate::plan::render as plan_render;
    let profile = load_profile(project, &args.profile)?;
    let _log = sync::init_logging(&profile.project_dir, 0);
    let _tmp = tmp_session(project, true)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let now = time::OffsetDateTime::now_utc();
    let planned = match runtime.block_on(crate::engine::plan_spooled_with(
        &profile,
        now,
        &crate::engine::PlanOptions {
            full: args.full,
            drift: args.drift,
            ..Default::default()
        },
    )) {
        Ok(p) => p,
        Err(crate::engine::PlanError::Mapping(diags)) => {
            print_diagnostics(&diags);
            anyhow::bail!("the mapping set has errors");
        }
        Err(e) => return Err(e.into()),
    };
    let options = plan_render::RenderOptions {
        color: render::color_stdout(),
        verbose: args.verbose,
    };
    if let Some(key) = &args.explain {
        let Some(e) = crate::plan::reconcile::explain(&planned.input, key) else {
            anyhow::bail!("no item with key `{key}` in the source or the target");
        };
        match args.format {
            Format::Json => outln!("{}", serde_json::to_string_pretty(&e)?),
            Format::Human => out!("{}", plan_render::explanation(&e, options)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    render::plan_outputs(
        &planned,
        matches!(args.format, Format::Json),
        options,
        args.out.as_deref(),
    )?;
    if !planned.plan.mass_delete.is_empty() {
        for m in &planned.plan.mass_delete {
            eprintln!(
                "error: the plan deletes {} {} items of {}, above max_deletes ({}); a sync would refuse it without --allow-mass-delete",
                m.planned,
                m.entity.as_str(),
                m.target_items,
                m.limit
            );
        }
    }
    let code = if args.detailed_exitcode {
        plan_render::detailed_exit_code(&planned.plan)
    } else {
        0
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn test(project: Option<&std::path::Path>, args: TestArgs) -> anyhow::Result<ExitCode> {
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        let file = project_file(project)?;
        let mut diags = crate::diag::Diagnostics::new();
        let project = crate::config::load_project(&file, &mut diags)?;
        let mut out = Vec::new();
        if let Some(profiles) = project
            .parsed
            .root
            .as_ref()
            .and_then(|r| r.get("profiles"))
            .and_then(|p| p.as_map())
        {
            for (_, p) in profiles {
                if let Some(m) = p.get("mapping").and_then(|m| m.as_str()) {
                    let path = project.dir.join(m);
                    if !out.contains(&path) {
                        out.push(path);
                    }
                }
            }
        }
        out
    } else {
        args.paths
    };
    let (mut passed, mut failed) = (0, 0);
    for path in paths {
        let (set, _, diags) = crate::check::load_mapping(&path, &crate::registry())?;
        if diags.has_errors() {
            print_diagnostics(&diags);
            anyhow::bail!("{} has errors; fix them before testing", path.display());
        }
        for t in crate::plan::testing::run_tests(&set) {
            if t.passed {
                passed += 1;
                outln!("ok     {} :: {}", path.display(), t.name);
            } else {
                failed += 1;
                outln!("FAILED {} :: {}", path.display(), t.name);
                for d in &t.differences {
                    outln!("         {d}");
                }
                for d in &t.diagnostics {
                    outln!("         {}: {}", d.code.name, d.message);
                }
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Write to stdout; exit quietly when the reader has gone away.
/// Writes `value` as pretty JSON and a newline to stdout, streamed (a run
/// report of a million items is not built as one string first).
pub fn emit_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            crate::state::tmp::remove_own_files();
            std::process::exit(0)
        }
        Err(e) => Err(e.into()),
        Ok(()) => Ok(()),
    }
}

pub fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            crate::state::tmp::remove_own_files();
            std::process::exit(0);
        }
    }
}
