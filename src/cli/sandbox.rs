//! `mapsync sandbox ...`: command-line front of the emulated store.
//! Owned by the sandbox work; the parent `cli` module only dispatches here.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::sandbox::{self, SandboxConfig, ShopPlan};

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
    pub addr: SocketAddr,
    /// Persist the store in this JSON file (written atomically); in memory without it.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Require this X-Shopify-Access-Token (401 otherwise).
    #[arg(long, env = "MAPSYNC_SANDBOX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Plan whose rate limits apply.
    #[arg(long, default_value = "standard", value_parser = ["standard", "advanced", "plus", "enterprise", "unlimited"])]
    pub plan: String,
    /// Bucket size in cost points (overrides the plan's).
    #[arg(long)]
    pub bucket: Option<f64>,
    /// Points restored per second (overrides the plan's).
    #[arg(long)]
    pub restore_rate: Option<f64>,
    /// Added latency per GraphQL answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of GraphQL requests that get a fault (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Fault kinds: throttle,5xx,timeout,reset.
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Seed of the fault generator (runs repeat for a seed).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Delay of the `timeout` fault in milliseconds (for tests).
    #[arg(long, default_value_t = 60_000, hide = true)]
    pub fault_timeout_ms: u64,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<SandboxConfig> {
        Ok(SandboxConfig {
            addr: self.addr,
            state: self.state.clone(),
            token: self.token.clone().filter(|t| !t.is_empty()),
            plan: self.plan.parse::<ShopPlan>()?,
            bucket: self.bucket,
            restore_rate: self.restore_rate,
            latency: Duration::from_millis(self.latency_ms),
            fault_rate: self.fault_rate,
            faults: sandbox::parse_faults(&self.faults)?,
            seed: self.seed,
            fault_timeout: Duration::from_millis(self.fault_timeout_ms),
            ..SandboxConfig::default()
        })
    }
}

/// Run a `mapsync sandbox` subcommand.
pub fn run(cmd: SandboxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SandboxCommand::Serve(args) => serve(&args),
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(super::render::color_stderr())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let config = args.config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let handle = sandbox::start(config).await?;
        // A closed stdout (the parent stopped reading) must not stop the server.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on {}", handle.url());
        let _ = writeln!(out, "graphql endpoint {}", handle.graphql_url());
        let _ = out.flush();
        wait_for_signal().await;
        handle.shutdown().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
