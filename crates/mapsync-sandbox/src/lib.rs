//! The sandbox: a stateful emulation of the slice of Shopify's Admin GraphQL
//! API (2026-04, and 2025-01 for older clients) that mapsync uses — store model, GraphQL schema with
//! Shopify's names and rules, calculated cost and leaky bucket, seeded
//! faults, control endpoints, bulk operations, atomic persistence. It plays
//! Shopify: it must not import anything from `crate::connectors` nor share
//! code with the `shopify` connector's client side. See docs/sandbox.md.
//!
//! In-process use: [`start`] a [`SandboxConfig`], talk HTTP to
//! [`SandboxHandle::graphql_url`], then [`SandboxHandle::shutdown`].
//!
//! The crate also holds an emulated PIM, a REST catalog API for the `rest`
//! connector ([`pim`]: [`pim::start`] a [`pim::PimConfig`]); it shares the
//! accept loop and the atomic writes, nothing of the Shopify model.
//!
//! And an emulated BigCommerce store, the REST Management API v3 for the
//! BigCommerce connector ([`bigcommerce`]: [`bigcommerce::start`] a
//! [`bigcommerce::BcConfig`]), with a checker of requests and answers
//! against BigCommerce's OpenAPI files ([`bigcommerce::openapi::Spec`]).

pub mod bigcommerce;
mod bulk;
pub mod bulkops;
mod catalog;
pub mod cost;
pub mod gql;
pub mod model;
pub mod ops;
mod persist;
pub mod pim;
pub mod runtime;
mod script;
pub mod search;
mod server;
pub mod staged;
pub mod unique;
mod upload;
pub mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::server::{API_VERSION, LEGACY_API_VERSION};

/// Errors of the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The state file could not be read or written.
    #[error("sandbox state file {}: {message}", path.display())]
    State { path: PathBuf, message: String },
    /// A configuration value is invalid.
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
}

/// Shopify plans and their rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShopPlan {
    /// Bucket 2000, restore 100/s.
    #[default]
    Standard,
    /// Bucket 4000, restore 200/s.
    Advanced,
    /// Bucket 20000, restore 1000/s.
    Plus,
    /// Bucket 40000, restore 2000/s.
    Enterprise,
    /// Never throttles (benchmarks).
    Unlimited,
}

impl FromStr for ShopPlan {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "standard" => ShopPlan::Standard,
            "advanced" => ShopPlan::Advanced,
            "plus" => ShopPlan::Plus,
            "enterprise" => ShopPlan::Enterprise,
            "unlimited" => ShopPlan::Unlimited,
            other => {
                return Err(SandboxError::Config(format!(
                    "unknown plan '{other}' (standard, advanced, plus, enterprise, unlimited)"
                )))
            }
        })
    }
}

/// Kinds of injected faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `THROTTLED` regardless of the bucket.
    Throttle,
    /// HTTP 500, 502 or 503.
    Http5xx,
    /// Answer only after the timeout delay (60 s by default).
    Timeout,
    /// Close the connection without answering.
    Reset,
    /// Someone else changes the stock first: every quantity an
    /// `inventorySetQuantities` request names goes up by one just before
    /// the request is applied (for tests of compare-and-swap). Scripted
    /// only, aimed with `"operation": "inventorySetQuantities"`.
    Concurrent,
}

impl FromStr for FaultKind {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "throttle" => FaultKind::Throttle,
            "5xx" => FaultKind::Http5xx,
            "timeout" => FaultKind::Timeout,
            "reset" => FaultKind::Reset,
            "concurrent" => FaultKind::Concurrent,
            other => {
                return Err(SandboxError::Config(format!(
                    "unknown fault '{other}' (throttle, 5xx, timeout, reset, concurrent)"
                )))
            }
        })
    }
}

/// Parse a comma-separated fault list (`throttle,5xx,timeout,reset`).
pub fn parse_faults(list: &str) -> Result<Vec<FaultKind>, SandboxError> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(FaultKind::from_str)
        .collect()
}

/// How to run a sandbox.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Address to bind (loopback, port 0 = any free port, by default).
    pub addr: SocketAddr,
    /// State file; `None` keeps the store in memory.
    pub state: Option<PathBuf>,
    /// Required `X-Shopify-Access-Token`, if any.
    pub token: Option<String>,
    /// ShopPlan (rate limits).
    pub plan: ShopPlan,
    /// Bucket size overriding the plan's.
    pub bucket: Option<f64>,
    /// Restore rate (points per second) overriding the plan's.
    pub restore_rate: Option<f64>,
    /// Added latency per GraphQL answer.
    pub latency: Duration,
    /// Share of GraphQL requests that get a fault (0..=1).
    pub fault_rate: f64,
    /// Fault kinds to draw from.
    pub faults: Vec<FaultKind>,
    /// Seed of the fault generator.
    pub seed: u64,
    /// Delay of the `timeout` fault (60 s by default).
    pub fault_timeout: Duration,
    /// Pause before each line of a bulk mutation (zero by default): makes
    /// a bulk import observably slow, for tests that stop a client while
    /// the operation runs.
    pub bulk_line_delay: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state: None,
            token: None,
            plan: ShopPlan::Standard,
            bucket: None,
            restore_rate: None,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            faults: Vec::new(),
            seed: 0,
            fault_timeout: Duration::from_secs(60),
            bulk_line_delay: Duration::ZERO,
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("addr", &self.addr)
            .field("state", &self.state)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("plan", &self.plan)
            .field("bucket", &self.bucket)
            .field("restore_rate", &self.restore_rate)
            .field("latency", &self.latency)
            .field("fault_rate", &self.fault_rate)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("fault_timeout", &self.fault_timeout)
            .field("bulk_line_delay", &self.bulk_line_delay)
            .finish()
    }
}

impl SandboxConfig {
    fn check(&self) -> Result<(), SandboxError> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(SandboxError::Config(
                "--fault-rate must be between 0 and 1".into(),
            ));
        }
        if self.fault_rate > 0.0 && self.faults.is_empty() {
            return Err(SandboxError::Config("--fault-rate needs --faults".into()));
        }
        for (name, v) in [
            ("--bucket", self.bucket),
            ("--restore-rate", self.restore_rate),
        ] {
            if v.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                return Err(SandboxError::Config(format!(
                    "{name} must be a positive number"
                )));
            }
        }
        Ok(())
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct SandboxHandle {
    url: String,
    addr: SocketAddr,
    core: Arc<runtime::Core>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    bulk: Option<JoinHandle<()>>,
}

impl SandboxHandle {
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The GraphQL endpoint: `{url}/admin/api/2026-04/graphql.json`.
    pub fn graphql_url(&self) -> String {
        self.graphql_url_for(API_VERSION)
    }

    /// The GraphQL endpoint of an API version (`2025-01` is still answered).
    pub fn graphql_url_for(&self, version: &str) -> String {
        format!("{}/admin/api/{version}/graphql.json", self.url)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop serving (open requests get a short grace period) and write the
    /// state file a last time.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        let _ = self.stop.send(true);
        if let Some(t) = self.server.take() {
            let _ = t.await;
        }
        if let Some(t) = self.bulk.take() {
            let _ = t.await;
        }
        self.core.persist().await
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Start a sandbox on its own tasks of the current tokio runtime.
pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    config.check()?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: config.addr,
        source,
    })?;
    let (bulk_tx, mut bulk_rx) = tokio::sync::mpsc::unbounded_channel();
    let core = Arc::new(runtime::Core::new(config, bulk_tx)?);
    let url = format!("http://{addr}");
    let _ = core.base_url.set(url.clone());
    let schema = gql::build(core.clone());
    let legacy = gql::build_legacy(core.clone());
    let types = Arc::new(cost::TypeMap::from_introspection(
        &gql::introspection::introspect(&gql::build_detached()).await,
    ));
    let (stop, stop_rx) = watch::channel(false);

    // Each bulk operation runs on its own task (a bulk query may run while
    // a bulk mutation does); on shutdown, bulk mutations stop between two
    // lines and every task is awaited.
    let bulk = {
        let core = core.clone();
        let schema = schema.clone();
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let mut jobs = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    job = bulk_rx.recv() => match job {
                        Some(id) => {
                            jobs.spawn(bulk::run(core.clone(), schema.clone(), id, stop_rx.clone()));
                        }
                        None => break,
                    },
                    _ = stop_rx.changed() => break,
                    Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
                }
            }
            while jobs.join_next().await.is_some() {}
        })
    };
    let app = Arc::new(server::App {
        core: core.clone(),
        schema,
        legacy,
        types,
    });
    let router = server::router(app);
    let server = tokio::spawn(server::serve(
        listener,
        router,
        stop_rx,
        Duration::from_secs(2),
    ));
    tracing::info!(%addr, "sandbox listening");
    Ok(SandboxHandle {
        url,
        addr,
        core,
        stop,
        server: Some(server),
        bulk: Some(bulk),
    })
}
