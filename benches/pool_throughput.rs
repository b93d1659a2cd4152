//! Throughput of a pool of `mapsync run --worker` processes (issue 17's
//! benchmark; docs/scale.md "Measured"): 1, 2 and 4 workers, each taking
//! one run at a time (`MAPSYNC_WORKER_CONCURRENCY=1`), on 8 independent
//! emulated Shopify stores with rate limits (buckets of 1,000 points
//! refilled at 25 a second, 5 ms per answer), each store to fill with
//! `PRODUCTS` products of 3 variants from its own catalog. Measured: from
//! the workers' start to every store holding its catalog.
//!
//! A bench binary (not a test): `cargo bench --bench pool_throughput`
//! (the `mapsync` binary it starts: `MAPSYNC_BIN`, else target/release,
//! else target/debug). Needs PostgreSQL (as the tests: `mapsync-pgtest`);
//! says SKIPPED without one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

const STORES: usize = 8;
const PRODUCTS: usize = 120;

fn binary() -> PathBuf {
    if let Ok(b) = std::env::var("MAPSYNC_BIN") {
        return PathBuf::from(b);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for profile in ["release", "debug"] {
        let p = root.join("target").join(profile).join("mapsync");
        if p.exists() {
            return p;
        }
    }
    panic!("no mapsync binary: `cargo build -p mapsync --release` or set MAPSYNC_BIN");
}

fn catalog(store: usize) -> Value {
    let products: Vec<Value> = (0..PRODUCTS)
        .map(|i| {
            let variants: Vec<Value> = ["S", "M", "L"]
                .iter()
                .enumerate()
                .map(|(j, size)| json!({"Sku": format!("S{store}-{i}-{size}"), "Color": "Blue", "Size": size,
                    "Price": "10.00", "Position": j + 1, "Stock": 3}))
                .collect();
            json!({"ItemNo": format!("S{store}-{i}"), "Name": format!("Item {i}"), "Description": "Bench",
                "Material": "Wool", "Group": "Knit", "Tags": "knit", "Published": true,
                "Categories": ["C-0"], "Variants": variants})
        })
        .collect();
    json!({"categories": [{"CategoryId": "C-0", "Name": "Category", "Active": true}], "products": products})
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn products_in(rt: &tokio::runtime::Runtime, store: &SandboxHandle) -> usize {
    let url = format!("{}/__sandbox/snapshot", store.url());
    let v: Value = rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
    match &v["products"] {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    }
}

fn one(workers: usize, rt: &tokio::runtime::Runtime) -> Option<Duration> {
    let url = mapsync_pgtest::database_blocking(&format!("pool_bench_{workers}"))?;
    let stores: Vec<SandboxHandle> = (0..STORES)
        .map(|_| {
            rt.block_on(sandbox::start(SandboxConfig {
                bucket: Some(1000.0),
                restore_rate: Some(25.0),
                latency: Duration::from_millis(5),
                ..SandboxConfig::default()
            }))
            .unwrap()
        })
        .collect();
    let root = tempfile::tempdir().unwrap();
    let catalogs = root.path().join("catalogs");
    std::fs::create_dir_all(&catalogs).unwrap();
    for i in 0..STORES {
        std::fs::write(catalogs.join(format!("c{i}.json")), catalog(i).to_string()).unwrap();
    }
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/demo");
    let mut children = Vec::new();
    let started = Instant::now();
    for k in 0..workers {
        let dir = root.path().join(format!("w{k}"));
        copy_dir(&demo, &dir.join("mapping"));
        let mut profiles = String::new();
        for (i, s) in stores.iter().enumerate() {
            profiles.push_str(&format!(
                "  shop-{i}:\n    mapping: mapping\n    source: {{ type: file, path: \"{}\" }}\n    target: {{ type: shopify, url: \"{}\", token: t }}\n    state: {url}\n    schedule: {{ every: 1h }}\n",
                catalogs.join(format!("c{i}.json")).display(),
                s.url()
            ));
        }
        std::fs::write(
            dir.join("mapsync.yaml"),
            format!(
                "mapsync: 1\nrun:\n  listen: 127.0.0.1:{}\nprofiles:\n{profiles}",
                free_port()
            ),
        )
        .unwrap();
        let child = Command::new(binary())
            .arg("--project")
            .arg(&dir)
            .args(["run", "--worker"])
            .env("NO_COLOR", "1")
            .env("MAPSYNC_WORKER_CONCURRENCY", "1")
            .env("MAPSYNC_WORKER_POLL", "500ms")
            .env_remove("PGPASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        children.push(Killed(child));
    }
    loop {
        let done = stores.iter().all(|s| products_in(rt, s) >= PRODUCTS);
        if done {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            panic!("the stores did not fill in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let took = started.elapsed();
    drop(children);
    for s in stores {
        let _ = rt.block_on(s.shutdown());
    }
    Some(took)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("pool throughput: {STORES} stores × {PRODUCTS} products (3 variants), one run at a time per worker");
    let mut base = None;
    for workers in [1, 2, 4] {
        let Some(took) = one(workers, &rt) else {
            return;
        };
        let rate = (STORES * PRODUCTS) as f64 / took.as_secs_f64();
        let speedup = base.map_or(1.0, |b: f64| rate / b);
        base.get_or_insert(rate);
        println!(
            "{workers} worker(s): {:.1} s, {rate:.1} products/s, {speedup:.2}× one worker",
            took.as_secs_f64()
        );
    }
}
