//! Bench binary: `mapsync sync` against a sandbox over HTTP (loopback).
//!
//! 1. Requests per product for a product with 5 variants x 5 locations x
//!    10 metafields x 2 collections: on create, on update (one price and one
//!    quantity changed per product) and with nothing changed; beside the
//!    seed's request formula for the same product (its "Product Update"
//!    table, about 40).
//! 2. Throughput against a `--plan standard` sandbox (bucket 2000, restore
//!    100 points/s) as a fraction of the ceiling: restore rate / cost per
//!    product in steady state, plus the bucket's initial burst over the run.
//!
//! 3. With `bulk`: creates of N products (default 10,000) through the
//!    per-item path and through bulk imports, points and requests per
//!    product.
//!
//! `cargo bench --bench sync -- [PRODUCTS_FOR_REQUESTS] [PRODUCTS_FOR_THROUGHPUT]`
//! (defaults 50 and 400); `cargo bench --bench sync -- bulk [N]`.

use std::path::Path;
use std::time::Instant;

use mapsync::exec::run::{sync, SyncOptions};
use mapsync::exec::NoProgress;
use mapsync::sandbox::{self, SandboxConfig, SandboxHandle, ShopPlan};
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;
use support::catalog;

struct Bench {
    rt: tokio::runtime::Runtime,
    sandbox: SandboxHandle,
    dir: tempfile::TempDir,
}

impl Bench {
    fn new(config: SandboxConfig) -> Bench {
        Bench::with_target(config, "plan: standard")
    }

    /// A sandbox with `config` and a profile whose target has `target`
    /// options besides its type and URL.
    fn with_target(config: SandboxConfig, target: &str) -> Bench {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let sandbox = rt.block_on(sandbox::start(config)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            "benches/data/sync/mapping.yaml",
            dir.path().join("mapping.yaml"),
        )
        .unwrap();
        let project = format!(
            "mapsync: 1\nprofiles:\n  bench:\n    mapping: mapping.yaml\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{}\", {target} }}\n    state: sqlite:.mapsync/state.db\n",
            sandbox.url()
        );
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        let b = Bench { rt, sandbox, dir };
        let url = format!("{}/__sandbox/locations", b.sandbox.url());
        b.rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .json(&json!([{"name": "Warehouse 2"}, {"name": "Warehouse 3"}, {"name": "Warehouse 4"}, {"name": "Warehouse 5"}]))
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        });
        b
    }

    fn write_catalog(&self, v: &Value) {
        std::fs::write(
            self.dir.path().join("catalog.json"),
            serde_json::to_vec(v).unwrap(),
        )
        .unwrap();
    }

    fn stats(&self) -> Value {
        let url = format!("{}/__sandbox/stats", self.sandbox.url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// One sync; (report, seconds, sandbox requests by root field during it).
    fn sync(&self) -> (mapsync::exec::report::RunReport, f64, Value) {
        let file = self.dir.path().join("mapsync.yaml");
        let profile =
            mapsync::config::profile::load(&file, "bench", |_| None, &mapsync::registry())
                .expect("bench profile");
        let before = self.stats();
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
        let after = self.stats();
        let mut ops = serde_json::Map::new();
        if let (Some(a), Some(b)) = (
            after["by_operation"].as_object(),
            before["by_operation"].as_object(),
        ) {
            for (k, v) in a {
                let d = v.as_u64().unwrap_or(0) - b.get(k).and_then(Value::as_u64).unwrap_or(0);
                if d > 0 {
                    ops.insert(k.clone(), d.into());
                }
            }
        }
        (report, secs, Value::Object(ops))
    }
}

const WRITES: &[&str] = &[
    "productSet",
    "productUpdate",
    "productDelete",
    "collectionCreate",
    "collectionUpdate",
    "collectionDelete",
    "metafieldsSet",
    "metafieldsDelete",
    "inventorySetQuantities",
];

/// Product write calls per product.
fn product_writes(ops: &Value, n: usize) -> f64 {
    let writes: u64 = ops
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| WRITES.contains(&k.as_str()) && !k.starts_with("collection"))
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum();
    writes as f64 / n as f64
}

fn requests(n: usize) {
    let b = Bench::new(SandboxConfig {
        plan: ShopPlan::Unlimited,
        ..SandboxConfig::default()
    });
    // Seed formula (004, "Product Update"), Shopify API requests only, for
    // 5 variants, 5 locations, 10 metafields, 2 collections:
    // update = #1 metafields 1 + #4 data 1 + #5 images 1 + #6 collects 1
    //        + #7 inventory items 5 + #8 levels 5 x (5 + 1) = 39;
    // create = #4 1 + #5 1 + #7 5 + #8 30 + #9 collects 2 = 39.
    let seed = 39.0;
    println!("requests per product ({n} products, 5 variants x 5 locations x 10 metafields x 2 collections)");
    for (phase, cat) in [
        ("create", catalog(n, "10.00", 1)),
        ("update: 1 price + 1 quantity", catalog(n, "12.00", 9)),
        ("update: price only", catalog(n, "13.00", 9)),
        ("nothing changed", catalog(n, "13.00", 9)),
    ] {
        b.write_catalog(&cat);
        let (report, secs, ops) = b.sync();
        assert_eq!(report.summary.failed, 0, "{:?}", report.items);
        let total = report.requests.total as f64 / n as f64;
        let writes = product_writes(&ops, n);
        println!(
            "  {phase:32} {total:5.2} requests/product (all, reads included), {writes:5.2} product writes/product; seed {seed}: {:.1}x fewer; {secs:.2} s; {ops}",
            seed / total.max(0.01)
        );
    }
}

fn throughput(n: usize) {
    let b = Bench::new(SandboxConfig {
        plan: ShopPlan::Standard,
        ..SandboxConfig::default()
    });
    b.write_catalog(&catalog(n, "10.00", 1));
    let (report, secs, _) = b.sync();
    let cost = report.requests.cost as f64;
    let per_product = cost / n as f64;
    let restore = 100.0;
    let bucket = 2000.0;
    let steady_ceiling = restore / per_product;
    let achieved = n as f64 / secs;
    // What the store could have served over this run: the full bucket at
    // the start plus what it restored meanwhile.
    let available = bucket + restore * secs;
    println!(
        "throughput against --plan standard ({n} products created, failed {})",
        report.summary.failed
    );
    println!(
        "  {achieved:.2} products/s; cost {per_product:.1} points/product; steady ceiling {steady_ceiling:.2} products/s",
    );
    println!(
        "  points used / points available over the run: {cost:.0} / {available:.0} = {:.1}% of the ceiling; throttled answers {}, retries {}",
        100.0 * cost / available,
        report.requests.throttled,
        report.requests.retried
    );
}

/// Creates of `n` products through the per-item path and through bulk
/// imports: points and requests per product. The per-item path runs
/// against `--plan unlimited` (its points per product do not depend on the
/// plan; against `standard` it is held to 100 points/s, see `throughput`),
/// the bulk path against `--plan standard`.
fn bulk_vs_per_item(n: usize) {
    println!("{n} products created (5 variants x 5 locations x 10 metafields x 2 collections)");
    let cat = catalog(n, "10.00", 1);
    for (label, plan, target) in [
        (
            "per-item (plan unlimited)",
            ShopPlan::Unlimited,
            "plan: unlimited, bulk_import_threshold: 0",
        ),
        (
            "bulk import (plan standard)",
            ShopPlan::Standard,
            "plan: standard, bulk_import_threshold: 1",
        ),
    ] {
        let b = Bench::with_target(
            SandboxConfig {
                plan,
                ..SandboxConfig::default()
            },
            target,
        );
        b.write_catalog(&cat);
        let (report, secs, ops) = b.sync();
        assert_eq!(report.summary.failed, 0, "{:?}", report.items.first());
        let stats = b.stats();
        println!(
            "  {label:28} {:7.3} requests/product, {:7.2} points/product (client-side cost), {:6.1} products/s, {secs:.1} s; throttled {}; bulk lines {}; {ops}",
            report.requests.total as f64 / n as f64,
            report.requests.cost as f64 / n as f64,
            n as f64 / secs,
            report.requests.throttled,
            stats["bulk_lines"],
        );
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !Path::new("benches/data/sync/mapping.yaml").exists() {
        eprintln!("run from the project root (cargo bench --bench sync)");
        std::process::exit(2);
    }
    if argv.iter().any(|a| a == "bulk") {
        let n = argv.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
        bulk_vs_per_item(n);
        return;
    }
    let args: Vec<usize> = argv.iter().filter_map(|a| a.parse().ok()).collect();
    requests(args.first().copied().unwrap_or(50));
    throughput(args.get(1).copied().unwrap_or(400));
}
