//! The emulated PIM: a REST catalog API (categories, products, images)
//! with OAuth 2.0 client credentials and bearer auth, five paging styles,
//! `updated_since`, counts, write-back by `PATCH` (single and batch), seeded
//! and scripted faults, `/__sandbox/` control endpoints and atomic
//! persistence. It plays the PIM for the `rest` connector and shares no
//! code with it. See docs/sandbox.md, "The PIM".
//!
//! In-process use: [`start`] a [`PimConfig`], talk HTTP to
//! [`PimHandle::url`], then [`PimHandle::shutdown`].

mod auth;
pub mod faults;
mod files;
mod http;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::faults::{parse_pim_faults, PimFault, PimFaultKind};
pub use self::files::{PimFile, MAX_FILE_BYTES};
use self::store::{Keys, PimStore};
pub use self::store::{
    WritebackEntry, WritebackLog, DEFAULT_PER_PAGE, MAX_BATCH, MAX_IMAGES, MAX_PER_PAGE,
    MAX_RECORDS,
};
use crate::runtime::lock;
use crate::SandboxError;

/// How to run an emulated PIM.
#[derive(Clone)]
pub struct PimConfig {
    /// Address to bind (loopback, port 0 = any free port, by default).
    pub addr: SocketAddr,
    /// State file; `None` keeps the PIM in memory. An existing state file
    /// wins over the seed.
    pub state: Option<PathBuf>,
    /// A catalog file to seed a new PIM with (`{"categories": [...],
    /// "products": [...]}`).
    pub seed_file: Option<PathBuf>,
    /// A catalog to seed a new PIM with (tests); not with `seed_file`.
    pub catalog: Option<Value>,
    /// A static bearer token accepted besides the issued ones.
    pub token: Option<String>,
    /// Client credentials of `POST /oauth/token`.
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of an issued token.
    pub token_ttl: Duration,
    /// Key field of categories.
    pub category_key: String,
    /// Key field of products.
    pub product_key: String,
    /// Added latency per API answer.
    pub latency: Duration,
    /// Share of API requests that get a fault (0..=1).
    pub fault_rate: f64,
    /// Fault kinds to draw from.
    pub faults: Vec<PimFaultKind>,
    /// Seed of the fault generator.
    pub fault_seed: u64,
    /// Delay of the `timeout` fault (60 s by default).
    pub fault_timeout: Duration,
    /// `Retry-After` of a random `429`, in seconds.
    pub retry_after: u64,
    /// A fixed clock for `LastUpdated` (`None`: the system clock); moved
    /// with `POST /__sandbox/clock`.
    pub clock: Option<OffsetDateTime>,
    /// The most records (categories and products) a seed may have.
    pub max_records: usize,
}

impl Default for PimConfig {
    fn default() -> Self {
        PimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state: None,
            seed_file: None,
            catalog: None,
            token: None,
            client_id: "mapsync".into(),
            client_secret: "secret".into(),
            token_ttl: Duration::from_secs(3600),
            category_key: "CategoryId".into(),
            product_key: "ItemNo".into(),
            latency: Duration::ZERO,
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_seed: 0,
            fault_timeout: Duration::from_secs(60),
            retry_after: 1,
            clock: None,
            max_records: MAX_RECORDS,
        }
    }
}

impl std::fmt::Debug for PimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PimConfig")
            .field("addr", &self.addr)
            .field("state", &self.state)
            .field("seed_file", &self.seed_file)
            .field("catalog", &self.catalog.as_ref().map(|_| "<catalog>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("token_ttl", &self.token_ttl)
            .field("category_key", &self.category_key)
            .field("product_key", &self.product_key)
            .field("latency", &self.latency)
            .field("fault_rate", &self.fault_rate)
            .field("faults", &self.faults)
            .field("fault_seed", &self.fault_seed)
            .field("fault_timeout", &self.fault_timeout)
            .field("retry_after", &self.retry_after)
            .field("clock", &self.clock)
            .field("max_records", &self.max_records)
            .finish()
    }
}

impl PimConfig {
    fn check(&self) -> Result<(), SandboxError> {
        let bad = |m: &str| Err(SandboxError::Config(m.into()));
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return bad("--fault-rate must be between 0 and 1");
        }
        if self.fault_rate > 0.0 && self.faults.is_empty() {
            return bad("--fault-rate needs --faults");
        }
        if self.seed_file.is_some() && self.catalog.is_some() {
            return bad("a PIM is seeded from a file or a catalog, not both");
        }
        if self.token_ttl.is_zero() {
            return bad("the token lifetime must be positive");
        }
        if self.client_id.is_empty() || self.client_secret.is_empty() {
            return bad("the client id and secret must not be empty");
        }
        if self.category_key.trim().is_empty() || self.product_key.trim().is_empty() {
            return bad("the key fields must not be empty");
        }
        if self.max_records > MAX_RECORDS {
            return bad("a PIM sandbox holds at most 2,000,000 records");
        }
        Ok(())
    }

    fn keys(&self) -> Keys {
        Keys {
            category: self.category_key.clone(),
            product: self.product_key.clone(),
        }
    }
}

/// The PIM's clock: the system clock moved by an offset, or a fixed time;
/// times are whole seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    fixed: Option<OffsetDateTime>,
    offset: time::Duration,
}

impl Clock {
    pub(crate) fn now(&self) -> OffsetDateTime {
        let t = self
            .fixed
            .unwrap_or_else(|| OffsetDateTime::now_utc() + self.offset);
        t.replace_nanosecond(0).unwrap_or(t)
    }
}

/// Counters of `GET /__sandbox/stats`.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct PimStats {
    /// API requests (control endpoints not counted).
    pub requests: u64,
    /// Requests by route (`GET /products`) and answered status (`200`,
    /// `429`, ...; `reset` for a dropped connection).
    pub by_route: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    /// Write-backs applied (every item of a batch counts), from the log.
    pub writebacks: u64,
    /// Tokens issued by `POST /oauth/token`.
    pub tokens_issued: u64,
    /// Faults served.
    pub faults: u64,
    /// Faults served by kind (`5xx`, `timeout`, `reset`, `429`).
    pub faults_by_kind: std::collections::BTreeMap<String, u64>,
}

impl PimStats {
    /// Requests to `route` answered with `status`.
    pub fn count(&self, route: &str, status: &str) -> u64 {
        self.by_route
            .get(route)
            .and_then(|m| m.get(status))
            .copied()
            .unwrap_or(0)
    }
}

/// What the handlers share.
pub(crate) struct Pim {
    pub config: PimConfig,
    pub store: Arc<Mutex<PimStore>>,
    pub tokens: Mutex<auth::Tokens>,
    pub faults: Mutex<faults::Faults>,
    pub stats: Mutex<PimStats>,
    pub clock: Mutex<Clock>,
    /// Files uploaded (`POST /files`, `PUT /files/{name}`), in memory.
    pub(crate) files: Mutex<files::Files>,
    /// The store version on disk.
    persisted: tokio::sync::Mutex<u64>,
    pub base_url: String,
}

impl Pim {
    pub(crate) fn now(&self) -> OffsetDateTime {
        lock(&self.clock).now()
    }

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
                (serde_json::to_vec(&st.state_json()), st.version)
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

/// A running PIM.
pub struct PimHandle {
    url: String,
    addr: SocketAddr,
    pim: Arc<Pim>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PimHandle")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PimHandle {
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token endpoint, `{url}/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.url)
    }

    /// The counters (as `GET /__sandbox/stats`).
    pub fn stats(&self) -> PimStats {
        http::stats_of(&self.pim)
    }

    /// Every write-back taken (as `GET /__sandbox/writebacks`).
    pub fn writebacks(&self) -> WritebackLog {
        lock(&self.pim.store).writebacks.clone()
    }

    /// The files uploaded, in order (as `GET /__sandbox/files`): each
    /// with the SHA-256 of the bytes that arrived.
    pub fn files(&self) -> Vec<PimFile> {
        lock(&self.pim.files).all()
    }

    /// The catalog as stored (as `GET /__sandbox/snapshot`).
    pub fn snapshot(&self) -> Value {
        lock(&self.pim.store).snapshot()
    }

    /// Stop serving (open requests get a short grace period) and write the
    /// state file a last time.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        let _ = self.stop.send(true);
        if let Some(t) = self.server.take() {
            let _ = t.await;
        }
        self.pim.persist().await
    }
}

impl Drop for PimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The first store: the state file when it exists, else the seed (or an
/// empty PIM). `true` when it is not on disk yet.
fn initial_store(
    config: &PimConfig,
    now: OffsetDateTime,
) -> Result<(PimStore, bool), SandboxError> {
    let keys = config.keys();
    if let Some(path) = &config.state {
        match std::fs::read(path) {
            Ok(bytes) => {
                let err = |message: String| SandboxError::State {
                    path: path.clone(),
                    message,
                };
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
                let st = PimStore::from_catalog(&v, &keys, now, config.max_records).map_err(err)?;
                return Ok((st, false));
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
    let seed = match (&config.catalog, &config.seed_file) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(path)) => {
            let bytes = std::fs::read(path)
                .map_err(|e| SandboxError::Config(format!("seed file {}: {e}", path.display())))?;
            Some(
                serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                    SandboxError::Config(format!("seed file {}: {e}", path.display()))
                })?,
            )
        }
        (None, None) => None,
    };
    match seed {
        Some(v) => {
            let st = PimStore::from_catalog(&v, &keys, now, config.max_records).map_err(|e| {
                let from = config
                    .seed_file
                    .as_ref()
                    .map(|p| format!("seed file {}", p.display()))
                    .unwrap_or_else(|| "seed catalog".into());
                SandboxError::Config(format!("{from}: {e}"))
            })?;
            Ok((st, true))
        }
        None => Ok((PimStore::empty(&keys), true)),
    }
}

/// Start an emulated PIM on its own tasks of the current tokio runtime.
pub async fn start(config: PimConfig) -> Result<PimHandle, SandboxError> {
    config.check()?;
    let clock = Clock {
        fixed: config.clock,
        offset: time::Duration::ZERO,
    };
    let (mut store, fresh) = initial_store(&config, clock.now())?;
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
    let faults = faults::Faults::new(
        config.fault_rate,
        config.faults.clone(),
        config.fault_seed,
        config.retry_after,
    );
    let pim = Arc::new(Pim {
        store: Arc::new(Mutex::new(store)),
        tokens: Mutex::new(auth::Tokens::default()),
        faults: Mutex::new(faults),
        stats: Mutex::new(PimStats::default()),
        clock: Mutex::new(clock),
        files: Mutex::default(),
        persisted: tokio::sync::Mutex::new(0),
        base_url: url.clone(),
        config,
    });
    // A new state file holds the seed from the start.
    pim.persist().await?;
    let (stop, stop_rx) = watch::channel(false);
    let router = http::router(pim.clone());
    let server = tokio::spawn(crate::server::serve(
        listener,
        router,
        stop_rx,
        Duration::from_secs(2),
    ));
    tracing::info!(%addr, "PIM sandbox listening");
    Ok(PimHandle {
        url,
        addr,
        pim,
        stop,
        server: Some(server),
    })
}
