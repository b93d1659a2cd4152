//! The emulated BigCommerce store: the part of the REST Management API v3
//! (catalog, category trees, brands, inventory, locations) a sync
//! connector uses, at `/stores/{store_hash}/v3/...`, with `X-Auth-Token`,
//! the store-wide request quota per 30 s window and its `X-Rate-Limit-*`
//! headers, BigCommerce's business rules (`store`), images fetched from
//! their `image_url` or uploaded multipart, seeded and scripted faults,
//! `/__sandbox/` control endpoints and atomic persistence. It plays
//! BigCommerce for the BigCommerce connector and shares no code with it.
//! See docs/sandbox.md, "The emulated BigCommerce store".
//!
//! In-process use: [`start`] a [`BcConfig`], talk HTTP to
//! [`BcHandle::api_url`], then [`BcHandle::shutdown`]. [`openapi::Spec`]
//! checks requests and answers against BigCommerce's published OpenAPI
//! files.

pub mod faults;
mod http;
pub mod openapi;
pub mod quota;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::faults::{parse_bc_faults, BcFault, BcFaultKind};
pub use self::http::routes;
use self::store::Store;
use crate::runtime::lock;
use crate::SandboxError;

/// BigCommerce plans and their request quota per 30 s window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BcPlan {
    /// 150 requests per window.
    #[default]
    Standard,
    /// 150 requests per window.
    Plus,
    /// 450 requests per window.
    Pro,
    /// "As the store says": 1500 here unless `quota` is set.
    Enterprise,
}

impl BcPlan {
    /// Requests per window.
    pub fn quota(self) -> u32 {
        match self {
            BcPlan::Standard | BcPlan::Plus => 150,
            BcPlan::Pro => 450,
            BcPlan::Enterprise => 1500,
        }
    }
}

impl FromStr for BcPlan {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "standard" => BcPlan::Standard,
            "plus" => BcPlan::Plus,
            "pro" => BcPlan::Pro,
            "enterprise" => BcPlan::Enterprise,
            other => {
                return Err(SandboxError::Config(format!(
                    "unknown BigCommerce plan '{other}' (standard, plus, pro, enterprise)"
                )))
            }
        })
    }
}

/// How to run an emulated BigCommerce store.
#[derive(Clone)]
pub struct BcConfig {
    /// Address to bind (loopback, port 0 = any free port, by default).
    pub addr: SocketAddr,
    /// State file; `None` keeps the store in memory. An existing state
    /// file wins over `seed`.
    pub state: Option<PathBuf>,
    /// The store hash of the API path (`/stores/{store_hash}/v3`).
    pub store_hash: String,
    /// The `X-Auth-Token` required; `None` accepts any non-empty token
    /// (a missing one is still 401).
    pub token: Option<String>,
    /// Plan (the quota per window).
    pub plan: BcPlan,
    /// Requests per window overriding the plan's.
    pub quota: Option<u32>,
    /// The quota window (30 s).
    pub window: Duration,
    /// Added latency per API answer.
    pub latency: Duration,
    /// Share of API requests that get a fault (0..=1).
    pub fault_rate: f64,
    /// Fault kinds to draw from.
    pub faults: Vec<BcFaultKind>,
    /// Seed of the fault generator.
    pub fault_seed: u64,
    /// Delay of the `timeout` fault (60 s by default).
    pub fault_timeout: Duration,
    /// A snapshot to start a new store from (as `GET /__sandbox/snapshot`).
    pub seed: Option<Value>,
    /// How long fetching an `image_url` may take.
    pub image_fetch_timeout: Duration,
    /// Keep every authenticated API request (method, path with its query,
    /// JSON body) for `GET /__sandbox/requests` and [`BcHandle::requests`]:
    /// a test checks each against the OpenAPI files.
    pub record_requests: bool,
}

impl Default for BcConfig {
    fn default() -> Self {
        BcConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state: None,
            store_hash: "sandbox".into(),
            token: None,
            plan: BcPlan::Standard,
            quota: None,
            window: Duration::from_secs(30),
            latency: Duration::ZERO,
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_seed: 0,
            fault_timeout: Duration::from_secs(60),
            seed: None,
            image_fetch_timeout: Duration::from_secs(20),
            record_requests: false,
        }
    }
}

impl std::fmt::Debug for BcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcConfig")
            .field("addr", &self.addr)
            .field("state", &self.state)
            .field("store_hash", &self.store_hash)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("plan", &self.plan)
            .field("quota", &self.quota)
            .field("window", &self.window)
            .field("latency", &self.latency)
            .field("fault_rate", &self.fault_rate)
            .field("faults", &self.faults)
            .field("fault_seed", &self.fault_seed)
            .field("fault_timeout", &self.fault_timeout)
            .field("seed", &self.seed.as_ref().map(|_| "<snapshot>"))
            .field("image_fetch_timeout", &self.image_fetch_timeout)
            .field("record_requests", &self.record_requests)
            .finish()
    }
}

impl BcConfig {
    fn check(&self) -> Result<(), SandboxError> {
        let bad = |m: &str| Err(SandboxError::Config(m.into()));
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return bad("--fault-rate must be between 0 and 1");
        }
        if self.fault_rate > 0.0 && self.faults.is_empty() {
            return bad("--fault-rate needs --faults");
        }
        if self.store_hash.is_empty()
            || !self
                .store_hash
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("--store-hash must be letters, digits, '-' or '_'");
        }
        if self.quota == Some(0) {
            return bad("--quota must be at least 1");
        }
        if self.window.is_zero() {
            return bad("the quota window must be positive");
        }
        Ok(())
    }

    /// Requests per window.
    pub fn quota(&self) -> u32 {
        self.quota.unwrap_or_else(|| self.plan.quota())
    }
}

/// Counters of `GET /__sandbox/stats`.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct BcStats {
    /// API requests (control endpoints and image files not counted).
    pub requests: u64,
    /// Requests refused with 429 because the window's quota was used up.
    pub throttled: u64,
    /// Requests refused with 401.
    pub unauthorized: u64,
    /// Requests by route (`GET /catalog/products`) and answered status
    /// (`200`, `429`, ...; `reset` for a dropped connection).
    pub by_route: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    /// Faults served.
    pub faults: u64,
    /// Faults served by kind (`5xx`, `429`, `timeout`, `reset`, `lost`).
    pub faults_by_kind: std::collections::BTreeMap<String, u64>,
    /// Requests per window allowed.
    pub quota: u32,
    /// The most requests taken in one window so far.
    pub max_in_window: u32,
}

impl BcStats {
    /// Requests to `route` answered with `status`.
    pub fn count(&self, route: &str, status: &str) -> u64 {
        self.by_route
            .get(route)
            .and_then(|m| m.get(status))
            .copied()
            .unwrap_or(0)
    }

    /// Requests to `route`, whatever the answer.
    pub fn route_total(&self, route: &str) -> u64 {
        self.by_route
            .get(route)
            .map(|m| m.values().sum())
            .unwrap_or(0)
    }
}

/// One request kept by `record_requests`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordedRequest {
    /// Upper-case method.
    pub method: String,
    /// The path below `/stores/{store_hash}/v3`, with its query as sent.
    pub path: String,
    /// The JSON body; `None` without one, or for a multipart form.
    pub body: Option<Value>,
    /// A `multipart/form-data` body (an upload).
    pub multipart: bool,
    /// The body was there but not JSON.
    pub invalid_json: bool,
}

/// The most requests `record_requests` keeps (the first ones).
pub const MAX_RECORDED: usize = 200_000;

/// What the handlers share.
pub(crate) struct Bc {
    pub config: BcConfig,
    pub store: Arc<Mutex<Store>>,
    pub quota: Mutex<quota::Quota>,
    pub faults: Mutex<faults::Faults>,
    pub stats: Mutex<BcStats>,
    pub base_url: String,
    pub http: reqwest::Client,
    pub recorded: Mutex<Vec<RecordedRequest>>,
    /// The store version on disk.
    persisted: tokio::sync::Mutex<u64>,
}

impl Bc {
    /// Write the store to the state file if it changed since the last
    /// write; returns once every change made before the call is on disk.
    pub(crate) async fn persist(&self) -> Result<(), SandboxError> {
        let Some(path) = self.config.state.clone() else {
            return Ok(());
        };
        let wanted = lock(&self.store).version;
        let mut done = self.persisted.lock().await;
        if *done >= wanted {
            return Ok(());
        }
        let store = self.store.clone();
        let p = path.clone();
        let version = tokio::task::spawn_blocking(move || {
            let (bytes, version) = {
                let st = lock(&store);
                (serde_json::to_vec(&*st), st.version)
            };
            let bytes = bytes.map_err(|e| SandboxError::State {
                path: p.clone(),
                message: e.to_string(),
            })?;
            crate::persist::write_atomic(&p, &bytes)?;
            Ok::<_, SandboxError>(version)
        })
        .await
        .map_err(|e| SandboxError::State {
            path,
            message: e.to_string(),
        })??;
        *done = version;
        Ok(())
    }
}

/// A running emulated BigCommerce store.
pub struct BcHandle {
    url: String,
    addr: SocketAddr,
    bc: Arc<Bc>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for BcHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcHandle")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl BcHandle {
    /// Base URL, e.g. `http://127.0.0.1:PORT` (the `url:` of a profile).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The API base, `{url}/stores/{store_hash}/v3`.
    pub fn api_url(&self) -> String {
        format!("{}/stores/{}/v3", self.url, self.bc.config.store_hash)
    }

    /// The store hash.
    pub fn store_hash(&self) -> String {
        self.bc.config.store_hash.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters (as `GET /__sandbox/stats`).
    pub fn stats(&self) -> BcStats {
        http::stats_of(&self.bc)
    }

    /// The store as JSON (as `GET /__sandbox/snapshot`).
    pub fn snapshot(&self) -> Value {
        serde_json::to_value(&*lock(&self.bc.store)).unwrap_or(Value::Null)
    }

    /// The requests kept with `record_requests` (as `GET /__sandbox/requests`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.bc.recorded).clone()
    }

    /// Queue scripted faults (as `POST /__sandbox/faults`).
    pub fn script_faults(&self, faults: impl IntoIterator<Item = faults::Scripted>) {
        lock(&self.bc.faults).script(faults);
    }

    /// Stop serving (open requests get a short grace period) and write the
    /// state file a last time.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        let _ = self.stop.send(true);
        if let Some(t) = self.server.take() {
            let _ = t.await;
        }
        self.bc.persist().await
    }
}

impl Drop for BcHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn initial_store(config: &BcConfig) -> Result<(Store, bool), SandboxError> {
    if let Some(path) = &config.state {
        match std::fs::read(path) {
            Ok(bytes) => {
                let err = |message: String| SandboxError::State {
                    path: path.clone(),
                    message,
                };
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
                return Ok((Store::from_json(v).map_err(err)?, false));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(SandboxError::State {
                    path: path.clone(),
                    message: e.to_string(),
                })
            }
        }
    }
    match &config.seed {
        Some(v) => Ok((
            Store::from_json(v.clone())
                .map_err(|e| SandboxError::Config(format!("seed snapshot: {e}")))?,
            true,
        )),
        None => Ok((Store::new(), true)),
    }
}

/// Start an emulated BigCommerce store on its own tasks of the current
/// tokio runtime.
pub async fn start(config: BcConfig) -> Result<BcHandle, SandboxError> {
    config.check()?;
    let (mut store, fresh) = initial_store(&config)?;
    if fresh {
        store.version = 1;
    }
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
    let url = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .timeout(config.image_fetch_timeout)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| SandboxError::Config(format!("HTTP client: {e}")))?;
    let bc = Arc::new(Bc {
        store: Arc::new(Mutex::new(store)),
        quota: Mutex::new(quota::Quota::new(config.quota(), config.window)),
        faults: Mutex::new(faults::Faults::new(
            config.fault_rate,
            config.faults.clone(),
            config.fault_seed,
        )),
        stats: Mutex::new(BcStats {
            quota: config.quota(),
            ..BcStats::default()
        }),
        base_url: url.clone(),
        http,
        recorded: Mutex::new(Vec::new()),
        persisted: tokio::sync::Mutex::new(0),
        config,
    });
    // A new state file holds the first store from the start.
    bc.persist().await?;
    let (stop, stop_rx) = watch::channel(false);
    let router = http::router(bc.clone());
    let server = tokio::spawn(crate::server::serve(
        listener,
        router,
        stop_rx,
        Duration::from_secs(2),
    ));
    tracing::info!(%addr, "BigCommerce sandbox listening");
    Ok(BcHandle {
        url,
        addr,
        bc,
        stop,
        server: Some(server),
    })
}
