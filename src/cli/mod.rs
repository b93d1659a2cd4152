//! The command line: clap commands, rendering and exit codes. The only
//! module that prints to stdout, and the only one that uses `anyhow`.

pub mod render;
pub mod sandbox;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mapsync: declarative catalog sync from PIMs and files to Shopify.
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
    /// Print a JSON Schema (project or mapping).
    Schema(SchemaArgs),
    /// The emulated Shopify store.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
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
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate(cli.project.as_deref(), args),
        Command::Schema(args) => {
            println!("{}", crate::schema::text(args.which));
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
    let diags = crate::check::validate(&args.paths, &start)?;
    let failing_warnings = args.deny_warnings && diags.warnings() > 0;
    let valid = !(diags.has_errors() || failing_warnings);
    match args.format {
        Format::Json => println!("{}", render::validate_json(&diags, valid)),
        Format::Human => print!(
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
