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

pub mod failure;
pub mod images;
pub mod render;
pub mod run;
pub mod sandbox;
pub mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mapsync: declarative catalog sync from PIMs and files to Shopify and BigCommerce.
#[derive(Debug, Parser)]
#[command(name = "mapsync", version, about, long_about = None)]
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
}

/// Options of `mapsync validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Project files, mapping files or mapping directories (default: the project).
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
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
        Command::Test(args) => test(cli.project.as_deref(), args),
        Command::Images(command) => images::images(cli.project.as_deref(), command),
        Command::Schema(args) => {
            outln!("{}", crate::schema::text(args.which));
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox(cmd) => sandbox::run(cmd),
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
    match args.format {
        Format::Json => outln!("{}", render::validate_json(&diags, valid)),
        Format::Human => out!(
            "{}",
            render::validate_human(&diags, valid, render::color_stdout())
        ),
    }
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

fn print_diagnostics(diags: &crate::diag::Diagnostics) {
    for d in diags.iter() {
        eprintln!("{}", render::diagnostic(d, render::color_stderr(), 100));
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
    let runtime = tokio::runtime::Runtime::new()?;
    let now = time::OffsetDateTime::now_utc();
    let planned = match runtime.block_on(crate::engine::plan_spooled_with(
        &profile,
        now,
        &crate::engine::PlanOptions {
            full: args.full,
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
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
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
            std::process::exit(0);
        }
    }
}
