//! `mapsync sandbox ...`: command-line front of the emulated stores
//! (`--kind shopify`, the default, `--kind pim` and `--kind bigcommerce`).
//! Owned by the sandbox work; the parent `cli` module only dispatches here.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::sandbox::bigcommerce::{self, BcConfig, BcPlan};
use crate::sandbox::pim::{self, PimConfig};
use crate::sandbox::{self, SandboxConfig, ShopPlan};

/// Subcommands of `mapsync sandbox`.
#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Start an emulated store (Shopify by default, a PIM, or BigCommerce) and serve it until interrupted.
    Serve(Box<ServeArgs>),
}

/// Options of `mapsync sandbox serve` (see docs/sandbox.md).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// What to emulate: the Shopify Admin GraphQL API, a PIM's REST API, or
    /// BigCommerce's REST Management API v3.
    #[arg(long, default_value = "shopify", value_parser = ["shopify", "pim", "bigcommerce"])]
    pub kind: String,
    /// Address to bind; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Port to bind on loopback (instead of --addr).
    #[arg(long, conflicts_with = "addr")]
    pub port: Option<u16>,
    /// Persist the store in this JSON file (written atomically); in memory without it.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Require this token: X-Shopify-Access-Token (shopify), X-Auth-Token
    /// (bigcommerce; without it any token is accepted), or accept it as a
    /// static bearer token besides the OAuth ones (pim).
    #[arg(long, env = "MAPSYNC_SANDBOX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Plan whose rate limits apply (default standard): standard, advanced,
    /// plus, enterprise, unlimited (shopify); standard, plus, pro, enterprise (bigcommerce).
    #[arg(long, value_parser = ["standard", "advanced", "plus", "pro", "enterprise", "unlimited"])]
    pub plan: Option<String>,
    /// Store hash of the API path /stores/{hash}/v3 (bigcommerce; default sandbox).
    #[arg(long)]
    pub store_hash: Option<String>,
    /// Requests per 30 s window, overriding the plan's (bigcommerce).
    #[arg(long)]
    pub quota: Option<u32>,
    /// Keep every API request for GET /__sandbox/requests (bigcommerce; for tests).
    #[arg(long)]
    pub record_requests: bool,
    /// Bucket size in cost points (overrides the plan's).
    #[arg(long)]
    pub bucket: Option<f64>,
    /// Points restored per second (overrides the plan's).
    #[arg(long)]
    pub restore_rate: Option<f64>,
    /// Added latency per answer (GraphQL, or PIM API), in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests (GraphQL, or PIM API) that get a fault (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Fault kinds: throttle,5xx,timeout,reset (shopify); 5xx,timeout,reset,429 (pim);
    /// 5xx,429,timeout,reset,lost (bigcommerce).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Seed of the fault generator (runs repeat for a seed).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Delay of the `timeout` fault in milliseconds (for tests).
    #[arg(long, default_value_t = 60_000, hide = true)]
    pub fault_timeout_ms: u64,
    /// Seed a new PIM with this catalog ({"categories": [...], "products": [...]}) (pim),
    /// or a new BigCommerce store with a snapshot of GET /__sandbox/snapshot (bigcommerce).
    #[arg(long)]
    pub seed_file: Option<PathBuf>,
    /// OAuth client id of POST /oauth/token (pim; default mapsync).
    #[arg(long)]
    pub client_id: Option<String>,
    /// OAuth client secret of POST /oauth/token (pim; default secret; ignored by shopify).
    #[arg(long, env = "MAPSYNC_PIM_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Lifetime of an issued access token, in seconds (pim; default 3600).
    #[arg(long)]
    pub token_ttl: Option<u64>,
    /// Key field of categories (pim; default CategoryId).
    #[arg(long)]
    pub category_key: Option<String>,
    /// Key field of products (pim; default ItemNo).
    #[arg(long)]
    pub product_key: Option<String>,
    /// Retry-After of a random 429, in seconds (pim; default 1).
    #[arg(long)]
    pub retry_after: Option<u64>,
}

impl ServeArgs {
    /// The address to bind: `--port` on loopback, else `--addr`.
    fn bind(&self) -> SocketAddr {
        match self.port {
            Some(p) => SocketAddr::from(([127, 0, 0, 1], p)),
            None => self.addr,
        }
    }

    /// Refuse the flags of the other kind.
    fn only_for(&self, kind: &str, flags: &[(&str, bool)]) -> anyhow::Result<()> {
        if let Some((name, _)) = flags.iter().find(|(_, given)| *given) {
            anyhow::bail!("{name} applies to --kind {kind} only");
        }
        Ok(())
    }

    fn config(&self) -> anyhow::Result<SandboxConfig> {
        self.only_for(
            "pim",
            &[
                ("--seed-file", self.seed_file.is_some()),
                ("--client-id", self.client_id.is_some()),
                ("--token-ttl", self.token_ttl.is_some()),
                ("--category-key", self.category_key.is_some()),
                ("--product-key", self.product_key.is_some()),
                ("--retry-after", self.retry_after.is_some()),
            ],
        )?;
        self.only_for(
            "bigcommerce",
            &[
                ("--store-hash", self.store_hash.is_some()),
                ("--quota", self.quota.is_some()),
                ("--record-requests", self.record_requests),
            ],
        )?;
        if self.plan.as_deref() == Some("pro") {
            anyhow::bail!("--plan pro applies to --kind bigcommerce only");
        }
        Ok(SandboxConfig {
            addr: self.bind(),
            state: self.state.clone(),
            token: self.token.clone().filter(|t| !t.is_empty()),
            plan: self
                .plan
                .as_deref()
                .unwrap_or("standard")
                .parse::<ShopPlan>()?,
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

    fn pim_config(&self) -> anyhow::Result<PimConfig> {
        self.only_for(
            "shopify",
            &[
                ("--plan", self.plan.is_some()),
                ("--bucket", self.bucket.is_some()),
                ("--restore-rate", self.restore_rate.is_some()),
                ("--store-hash", self.store_hash.is_some()),
                ("--quota", self.quota.is_some()),
                ("--record-requests", self.record_requests),
            ],
        )?;
        let d = PimConfig::default();
        if self.token_ttl == Some(0) {
            anyhow::bail!("--token-ttl must be at least 1 second");
        }
        Ok(PimConfig {
            addr: self.bind(),
            state: self.state.clone(),
            seed_file: self.seed_file.clone(),
            token: self.token.clone().filter(|t| !t.is_empty()),
            client_id: self.client_id.clone().unwrap_or(d.client_id),
            client_secret: self.client_secret.clone().unwrap_or(d.client_secret),
            token_ttl: self
                .token_ttl
                .map(Duration::from_secs)
                .unwrap_or(d.token_ttl),
            category_key: self.category_key.clone().unwrap_or(d.category_key),
            product_key: self.product_key.clone().unwrap_or(d.product_key),
            latency: Duration::from_millis(self.latency_ms),
            fault_rate: self.fault_rate,
            faults: pim::parse_pim_faults(&self.faults)?,
            fault_seed: self.seed,
            fault_timeout: Duration::from_millis(self.fault_timeout_ms),
            retry_after: self.retry_after.unwrap_or(d.retry_after),
            ..d
        })
    }

    fn bc_config(&self) -> anyhow::Result<BcConfig> {
        self.only_for(
            "shopify",
            &[
                ("--bucket", self.bucket.is_some()),
                ("--restore-rate", self.restore_rate.is_some()),
            ],
        )?;
        self.only_for(
            "pim",
            &[
                ("--client-id", self.client_id.is_some()),
                ("--token-ttl", self.token_ttl.is_some()),
                ("--category-key", self.category_key.is_some()),
                ("--product-key", self.product_key.is_some()),
                ("--retry-after", self.retry_after.is_some()),
            ],
        )?;
        let d = BcConfig::default();
        let seed = match &self.seed_file {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Some(
                    serde_json::from_slice(&bytes)
                        .with_context(|| format!("{} is not JSON", path.display()))?,
                )
            }
            None => None,
        };
        Ok(BcConfig {
            addr: self.bind(),
            state: self.state.clone(),
            store_hash: self.store_hash.clone().unwrap_or(d.store_hash.clone()),
            token: self.token.clone().filter(|t| !t.is_empty()),
            plan: self
                .plan
                .as_deref()
                .unwrap_or("standard")
                .parse::<BcPlan>()?,
            quota: self.quota,
            latency: Duration::from_millis(self.latency_ms),
            fault_rate: self.fault_rate,
            faults: bigcommerce::parse_bc_faults(&self.faults)?,
            fault_seed: self.seed,
            fault_timeout: Duration::from_millis(self.fault_timeout_ms),
            seed,
            record_requests: self.record_requests,
            ..d
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
    match args.kind.as_str() {
        "pim" => serve_pim(args),
        "bigcommerce" => serve_bigcommerce(args),
        _ => serve_shopify(args),
    }
}

fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(super::render::color_stderr())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn serve_shopify(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let config = args.config()?;
    let rt = runtime()?;
    rt.block_on(async move {
        let handle = sandbox::start(config).await?;
        announce(&handle.url(), "graphql endpoint", &handle.graphql_url());
        wait_for_signal().await;
        handle.shutdown().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn serve_pim(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let config = args.pim_config()?;
    let rt = runtime()?;
    rt.block_on(async move {
        let handle = pim::start(config).await?;
        announce(&handle.url(), "token endpoint", &handle.token_url());
        wait_for_signal().await;
        handle.shutdown().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn serve_bigcommerce(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let config = args.bc_config()?;
    let rt = runtime()?;
    rt.block_on(async move {
        let handle = bigcommerce::start(config).await?;
        announce(&handle.url(), "api endpoint", &handle.api_url());
        wait_for_signal().await;
        handle.shutdown().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The first lines of `sandbox serve` on stdout: where it listens (tests
/// and scripts read them). A closed stdout (the parent stopped reading)
/// must not stop the server.
fn announce(url: &str, what: &str, endpoint: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {url}");
    let _ = writeln!(out, "{what} {endpoint}");
    let _ = out.flush();
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn args(list: &[&str]) -> ServeArgs {
        let mut all = vec!["serve"];
        all.extend_from_slice(list);
        Cli::try_parse_from(all).expect("the flags parse").serve
    }

    #[test]
    fn bigcommerce_flags_make_its_config() {
        let a = args(&[
            "--kind",
            "bigcommerce",
            "--port",
            "8098",
            "--store-hash",
            "abc123",
            "--plan",
            "pro",
            "--quota",
            "90",
            "--faults",
            "5xx,lost",
            "--fault-rate",
            "0.1",
            "--seed",
            "4",
        ]);
        let c = a.bc_config().unwrap();
        assert_eq!(c.addr, SocketAddr::from(([127, 0, 0, 1], 8098)));
        assert_eq!(c.store_hash, "abc123");
        assert_eq!(c.plan, BcPlan::Pro);
        assert_eq!(c.quota(), 90);
        assert_eq!(c.faults.len(), 2);
        assert_eq!(c.fault_seed, 4);
        let d = args(&["--kind", "bigcommerce"]).bc_config().unwrap();
        assert!(d.addr.ip().is_loopback());
        assert_eq!((d.store_hash.as_str(), d.quota()), ("sandbox", 150));
        // Flags of other kinds are refused, and kinds' plans are their own.
        assert!(args(&["--kind", "bigcommerce", "--bucket", "5"])
            .bc_config()
            .is_err());
        assert!(args(&["--kind", "bigcommerce", "--client-id", "x"])
            .bc_config()
            .is_err());
        assert!(args(&["--kind", "bigcommerce", "--plan", "advanced"])
            .bc_config()
            .is_err());
        assert!(
            args(&["--kind", "bigcommerce", "--faults", "throttle,nope"])
                .bc_config()
                .is_err()
        );
        assert!(args(&["--plan", "pro"]).config().is_err());
        assert!(args(&["--store-hash", "x"]).config().is_err());
        assert!(args(&["--kind", "pim", "--quota", "5"])
            .pim_config()
            .is_err());
        assert!(Cli::try_parse_from(["serve", "--port", "1", "--addr", "127.0.0.1:2"]).is_err());
    }
}
