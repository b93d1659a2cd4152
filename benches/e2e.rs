//! Bench binary: end to end `mapsync sync` of N products (default 100,000;
//! `cargo bench --bench e2e -- 1000000`) from an NDJSON file into an
//! emulated store served with `--plan unlimited`, each its own process (the
//! release `mapsync` binary), beside what the emulated store alone applies
//! on the same machine in the same run: concurrent keep-alive clients
//! sending `productSet` for the same kind of product straight to a fresh
//! store for a few seconds (as `benches/sandbox.rs`). Prints products/s of
//! both and their ratio, and the peak resident memory (VmHWM, polled) of
//! the mapsync process per product. `per-item` as an argument also runs
//! the sync with bulk imports off.

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const SET: &str = "mutation($identifier: ProductSetIdentifiers, $i: ProductSetInput!) { productSet(identifier: $identifier, input: $i, synchronous: true) { product { id } userErrors { field message } } }";

/// A store process; killed on drop.
struct Store {
    child: Child,
    url: String,
}

impl Store {
    fn start(bin: &str) -> Store {
        let mut child = Command::new(bin)
            .args([
                "sandbox",
                "serve",
                "--plan",
                "unlimited",
                "--addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sandbox");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_string();
        Store { child, url }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `productSet` input mapsync builds for product `i` of the generator,
/// approximately: 5 variants with 2 options, 3 files, 2 metafields and the
/// marker, a quantity per variant at the first location.
fn set_input(record: &Value) -> Value {
    let variants: Vec<Value> = record["Variants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            json!({
                "optionValues": [{"optionName": "Color", "name": v["Color"]}, {"optionName": "Size", "name": v["Size"]}],
                "price": v["Price"], "sku": v["Sku"], "barcode": v["EAN"],
                "inventoryItem": {"tracked": true},
                "inventoryQuantities": [{"locationId": "gid://shopify/Location/1", "name": "available", "quantity": v["StockCph"]}],
            })
        })
        .collect();
    let colors: Vec<Value> = {
        let mut c: Vec<String> = record["Variants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["Color"].as_str().map(str::to_string))
            .collect();
        c.dedup();
        let mut seen = std::collections::BTreeSet::new();
        c.retain(|x| seen.insert(x.clone()));
        c.into_iter().map(|n| json!({"name": n})).collect()
    };
    let sizes: Vec<Value> = ["XS", "S", "M", "L", "XL"]
        .iter()
        .map(|s| json!({"name": s}))
        .collect();
    let files: Vec<Value> = record["Images"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| json!({"originalSource": u, "contentType": "IMAGE"}))
        .collect();
    json!({
        "title": record["Name"], "handle": record["Handle"], "descriptionHtml": record["Description"],
        "vendor": "Acme", "status": "ACTIVE",
        "productOptions": [
            {"name": "Color", "position": 1, "values": colors},
            {"name": "Size", "position": 2, "values": sizes},
        ],
        "variants": variants,
        "files": files,
        "metafields": [
            {"namespace": "custom", "key": "care", "type": "multi_line_text_field", "value": record["Care"]},
            {"namespace": "custom", "key": "material", "type": "single_line_text_field", "value": record["Material"]},
            {"namespace": "mapsync", "key": "key", "type": "single_line_text_field", "value": record["ItemNo"]},
        ],
    })
}

/// Products per second the store alone applies over HTTP.
fn store_alone(bin: &str, secs: f64, clients: usize) -> f64 {
    let store = Store::start(bin);
    let url = format!("{}/admin/api/2026-04/graphql.json", store.url);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..clients {
            let (url, done) = (url.clone(), done.clone());
            tasks.spawn(async move {
                let client = reqwest::Client::new();
                let mut rng = support::Lcg::new(w as u64);
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let i = (w as u64) * 10_000_000 + n;
                    let record = support::product(i, &mut rng);
                    let body = json!({"query": SET, "variables": {"i": set_input(&record)}});
                    let r = client.post(&url).json(&body).send().await.expect("send");
                    assert!(r.status().is_success());
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        done.load(Ordering::Relaxed) as f64 / secs
    })
}

/// VmHWM of a process, KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// One `mapsync sync` of the project in `dir`: seconds, peak KiB, report.
fn sync(bin: &str, dir: &Path) -> (f64, u64, Value) {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("--project")
        .arg(dir)
        .args(["sync", "--profile", "bench", "--format", "json"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mapsync");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).expect("read");
        s
    });
    let mut peak = 0;
    loop {
        if let Some(k) = peak_kib(pid) {
            peak = peak.max(k);
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = start.elapsed().as_secs_f64();
    let out = reader.join().expect("reader");
    let report: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    (secs, peak, report)
}

fn project(dir: &Path, url: &str, extra: &str) {
    std::fs::copy("benches/data/e2e/mapping.yaml", dir.join("mapping.yaml")).expect("mapping");
    let text = format!(
        "mapsync: 1\nprofiles:\n  bench:\n    mapping: mapping.yaml\n    source: {{ type: file, path: products.ndjson, entity: product }}\n    target: {{ type: shopify, url: \"{url}\", plan: unlimited{extra} }}\n    state: sqlite:.mapsync/state.db\n"
    );
    std::fs::write(dir.join("mapsync.yaml"), text).expect("project");
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = argv.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let per_item = argv.iter().any(|a| a == "per-item");
    // `logs`: print each run's log file (its phases with timestamps).
    let show_logs = argv.iter().any(|a| a == "logs");
    if !Path::new("benches/data/e2e/mapping.yaml").exists() {
        eprintln!("run from the project root (cargo bench --bench e2e)");
        std::process::exit(2);
    }
    // `gen=PATH`: only write the NDJSON of `n` products to PATH (to profile
    // a sync by hand).
    if let Some(path) = argv.iter().find_map(|a| a.strip_prefix("gen=")) {
        let bytes = support::write_products_ndjson(Path::new(path), n);
        println!("wrote {n} products ({bytes} bytes) to {path}");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_mapsync");
    let data = tempfile::tempdir().expect("tempdir");
    let file = data.path().join("products.ndjson");
    let bytes = support::write_products_ndjson(&file, n);
    println!(
        "e2e sync of {n} products ({:.0} MB NDJSON, 5 variants, 3 images, 2 metafields each) into --plan unlimited",
        bytes as f64 / 1e6
    );
    let alone = store_alone(bin, 10.0, 8);
    println!("  store alone (productSet over HTTP, 8 clients, 10 s): {alone:8.0} products/s");
    let mut runs = vec![("bulk imports (default)", "")];
    if per_item {
        runs.push((
            "per-item (bulk_import_threshold: 0)",
            ", bulk_import_threshold: 0",
        ));
    }
    for (label, extra) in runs {
        let store = Store::start(bin);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::hard_link(&file, dir.path().join("products.ndjson"))
            .or_else(|_| std::fs::copy(&file, dir.path().join("products.ndjson")).map(|_| ()))
            .expect("data");
        project(dir.path(), &store.url, extra);
        let (secs, peak, report) = sync(bin, dir.path());
        let created = report["summary"]["created"].as_u64().unwrap_or(0);
        let failed = report["summary"]["failed"].as_u64().unwrap_or(0);
        let rate = n as f64 / secs;
        println!(
            "  mapsync sync, {label:36} {rate:8.0} products/s ({secs:.1} s; created {created}, failed {failed}); {:.2}x the store alone; peak RSS {:.0} MB = {:.0} bytes/product; requests {}",
            rate / alone,
            peak as f64 / 1024.0,
            peak as f64 * 1024.0 / n as f64,
            report["requests"]["total"],
        );
        if show_logs {
            let logs = dir.path().join(".mapsync").join("logs");
            for entry in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
                print!(
                    "{}",
                    std::fs::read_to_string(entry.path()).unwrap_or_default()
                );
            }
        }
    }
}
