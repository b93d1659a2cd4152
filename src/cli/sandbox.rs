//! `mapsync sandbox ...`: command-line front of the emulated store.
//! Owned by the sandbox work; the parent `cli` module only dispatches here.

use std::process::ExitCode;

/// Subcommands of `mapsync sandbox`.
#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Start the emulated Shopify store and serve it until interrupted.
    Serve(ServeArgs),
}

/// Options of `mapsync sandbox serve` (see docs/sandbox.md).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to bind; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: String,
}

/// Run a `mapsync sandbox` subcommand.
pub fn run(cmd: SandboxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SandboxCommand::Serve(_args) => anyhow::bail!("the sandbox is not built yet"),
    }
}
