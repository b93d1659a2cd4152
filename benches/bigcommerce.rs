//! Bench binary: `mapsync sync` into the emulated BigCommerce store over
//! HTTP (loopback), in process.
//!
//! 1. Requests per product for the product of the Shopify benchmark
//!    (`benches/sync.rs`): 5 variants x 5 locations x 10 metafields x 2
//!    categories, on create, on update (one price and one quantity changed
//!    per product; the price alone) and with nothing changed.
//! 2. Throughput against the store's request quota (`--quota`, default
//!    150 a window as Standard and Plus plans): the requests the run sent
//!    as a share of what the quota allowed over the run (aim: at least
//!    90%, no failed item, no 429).
//!
//! `cargo bench --bench bigcommerce -- [PRODUCTS_FOR_REQUESTS]
//! [PRODUCTS_FOR_THROUGHPUT] [WINDOW_SECONDS]` (defaults 50, 120 and 30:
//! BigCommerce's window; a shorter one gives the same share sooner).

use std::time::{Duration, Instant};

use mapsync::exec::run::{sync, SyncOptions};
use mapsync::exec::NoProgress;
use mapsync::sandbox::bigcommerce::{self as bc, BcConfig, BcHandle};
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;
use support::catalog;

const TOKEN: &str = "bench-token";

struct Bench {
    rt: tokio::runtime::Runtime,
    store: BcHandle,
    dir: tempfile::TempDir,
}

impl Bench {
    fn new(config: BcConfig) -> Bench {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = rt
            .block_on(bc::start(BcConfig {
                token: Some(TOKEN.into()),
                ..config
            }))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            "benches/data/bigcommerce/mapping.yaml",
            dir.path().join("mapping.yaml"),
        )
        .unwrap();
        let project = format!(
            "mapsync: 1\nprofiles:\n  bench:\n    mapping: mapping.yaml\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: bigcommerce, url: \"{}\", store_hash: sandbox, token: \"{TOKEN}\" }}\n    state: sqlite:.mapsync/state.db\n",
            store.url()
        );
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        // Four more locations (the store has its default one).
        let url = format!("{}/inventory/locations", store.api_url());
        rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .header("X-Auth-Token", TOKEN)
                .json(&json!((2..=5).map(|i| json!({"label": format!("Warehouse {i}"), "code": format!("W{i}"), "type_id": "PHYSICAL", "enabled": true, "storefront_visibility": false, "address": {"address1": "1 Main St", "city": "Austin", "zip": "78701", "email": "w@example.com", "geo_coordinates": {"latitude": 30.27, "longitude": -97.74}, "country_code": "US"}})).collect::<Vec<_>>()))
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        });
        Bench { rt, store, dir }
    }

    fn write_catalog(&self, v: &Value) {
        std::fs::write(
            self.dir.path().join("catalog.json"),
            serde_json::to_vec(v).unwrap(),
        )
        .unwrap();
    }

    /// One sync; (report, seconds, requests by route during it).
    fn sync(&self) -> (mapsync::exec::report::RunReport, f64, Value) {
        let file = self.dir.path().join("mapsync.yaml");
        let profile =
            mapsync::config::profile::load(&file, "bench", |_| None, &mapsync::registry())
                .expect("bench profile");
        let before = self.store.stats().by_route;
        let start = Instant::now();
        let report = self
            .rt
            .block_on(sync(
                &profile,
                &SyncOptions::default(),
                &NoProgress,
                &std::sync::atomic::AtomicBool::new(false),
            ))
            .expect("sync");
        let secs = start.elapsed().as_secs_f64();
        let mut routes = serde_json::Map::new();
        for (route, by_status) in self.store.stats().by_route {
            let total: u64 = by_status.values().sum();
            let was: u64 = before.get(&route).map(|m| m.values().sum()).unwrap_or(0);
            if total > was {
                routes.insert(route, (total - was).into());
            }
        }
        (report, secs, Value::Object(routes))
    }
}

/// Requests of `routes` that change the store.
fn writes(routes: &Value) -> u64 {
    routes
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum()
}

fn requests(n: usize) {
    let b = Bench::new(BcConfig {
        quota: Some(1_000_000),
        ..BcConfig::default()
    });
    println!(
        "requests per product ({n} products, 5 variants x 5 locations x 10 metafields x 2 categories)"
    );
    for (phase, cat) in [
        ("create", catalog(n, "10.00", 1)),
        ("update: 1 price + 1 quantity", catalog(n, "12.00", 9)),
        ("update: price only", catalog(n, "13.00", 9)),
        ("nothing changed", catalog(n, "13.00", 9)),
    ] {
        b.write_catalog(&cat);
        let (report, secs, routes) = b.sync();
        assert_eq!(report.summary.failed, 0, "{:?}", report.items.first());
        let total = report.requests.total as f64 / n as f64;
        let w = writes(&routes) as f64 / n as f64;
        println!(
            "  {phase:30} {total:5.2} requests/product (reads included), {w:5.2} writes/product; {secs:.2} s; {routes}"
        );
    }
}

fn throughput(n: usize, window: Duration) {
    let quota = 150u32;
    let b = Bench::new(BcConfig {
        quota: Some(quota),
        window,
        ..BcConfig::default()
    });
    b.write_catalog(&catalog(n, "10.00", 1));
    let (report, secs, _) = b.sync();
    let stats = b.store.stats();
    let allowed = quota as f64 * (secs / window.as_secs_f64()).ceil();
    println!(
        "throughput against a quota of {quota} per {} s window ({n} products created, failed {})",
        window.as_secs(),
        report.summary.failed
    );
    println!(
        "  {:.2} products/s, {} requests in {secs:.1} s = {:.1}% of the quota over the run's windows; most in one window {}; 429 answers {}",
        n as f64 / secs,
        stats.requests,
        100.0 * stats.requests as f64 / allowed,
        stats.max_in_window,
        stats.throttled
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let arg = |i: usize, default: u64| -> u64 {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    requests(arg(0, 50) as usize);
    throughput(arg(1, 120) as usize, Duration::from_secs(arg(2, 30)));
}
