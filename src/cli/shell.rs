//! The shell's side of the binary: `--version` with the commit,
//! `mapsync completions SHELL` (clap_complete) and `mapsync man`
//! (clap_mangen), both generated from the clap command tree, so a new
//! command or flag is in them without another edit.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// What `mapsync --version` prints after the name: the package version and
/// the commit it was built from (build.rs; `unknown commit` without git).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MAPSYNC_COMMIT"), ")");

/// Options of `mapsync completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Options of `mapsync man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `mapsync.1` and one page per command (`mapsync-sync.1`, ...)
    /// into this directory instead of printing `mapsync.1`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The completion script of one shell, as bytes.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "mapsync", &mut out);
    out
}

/// `mapsync completions SHELL`.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    super::emit(&String::from_utf8_lossy(&completion_script(args.shell)));
    Ok(ExitCode::SUCCESS)
}

/// The man page of `mapsync` (roff).
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::Cli::command()).render(&mut out)?;
    Ok(out)
}

/// `mapsync man [--out DIR]`.
pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    match args.out {
        None => super::emit(&String::from_utf8_lossy(&man_page()?)),
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(super::Cli::command(), &dir).map_err(|e| {
                anyhow::anyhow!("cannot write the man pages into {}: {e}", dir.display())
            })?;
            outln!("wrote the man pages into {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
