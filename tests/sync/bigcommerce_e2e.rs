//! The `bigcommerce` target (and source) end to end (issue 14): the real
//! binary against the emulated BigCommerce store served over HTTP on
//! 127.0.0.1 (started here, in process), on a project in a temporary
//! directory. The store is checked through its counters (requests per
//! route and status, the most requests in one quota window) and its
//! snapshot, normalized so that two stores a user cannot tell apart
//! compare equal.

use crate::project::copy_dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mapsync::sandbox::bigcommerce::{self as bc, BcConfig, BcFaultKind, BcHandle};
use serde_json::{json, Value};

const TOKEN: &str = "e2e-bc-token";

struct Env {
    rt: tokio::runtime::Runtime,
    store: Option<BcHandle>,
    dir: tempfile::TempDir,
}

/// How a test's project is set up.
struct Setup {
    /// The emulated store.
    store: BcConfig,
    /// The mapping set (a directory under `mappings/`).
    mapping: &'static str,
    /// The source block of the `e2e` profile.
    source: String,
    /// Lines replacing the mapping's `settings:` block (none: as shipped).
    settings: Option<&'static str>,
    /// Options added to the target block (e.g. `, timeout: 2s`).
    target: &'static str,
}

impl Setup {
    /// The demo catalog into the store with the demo's BigCommerce mapping.
    fn demo(store: BcConfig) -> Setup {
        Setup {
            store,
            mapping: "demo-bigcommerce",
            source: "{ type: file, path: catalog.json }".into(),
            settings: None,
            target: "",
        }
    }
}

fn store_config() -> BcConfig {
    BcConfig {
        token: Some(TOKEN.into()),
        // A window the runs do not wait for, unless a test sets one.
        quota: Some(100_000),
        ..BcConfig::default()
    }
}

impl Env {
    fn new(setup: Setup) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let store = rt.block_on(bc::start(setup.store)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new("mappings").join(setup.mapping),
            &dir.path().join("mapping"),
        );
        if let Some(settings) = setup.settings {
            let path = dir.path().join("mapping/mapping.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            let start = text.find("settings:\n").expect("a settings block");
            let end = start
                + text[start..]
                    .find("\nlocations:")
                    .or_else(|| text[start..].find("\nentities:"))
                    .unwrap();
            let text = format!(
                "{}settings:\n{settings}{}",
                &text[..start],
                &text[end + 1..]
            );
            std::fs::write(&path, text).unwrap();
        }
        std::fs::copy("examples/catalog.json", dir.path().join("catalog.json")).unwrap();
        std::fs::copy(
            "examples/shopify-export.csv",
            dir.path().join("shopify-export.csv"),
        )
        .unwrap();
        let project = format!(
            "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {}\n    target: {{ type: bigcommerce, url: \"{}\", store_hash: sandbox, token: \"${{E2E_BC_TOKEN}}\"{} }}\n    state: sqlite:.mapsync/state.db\n",
            setup.source,
            store.url(),
            setup.target,
        );
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        Env {
            rt,
            store: Some(store),
            dir,
        }
    }

    fn store(&self) -> &BcHandle {
        self.store.as_ref().unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mapsync"));
        c.arg("--project")
            .arg(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("E2E_BC_TOKEN", TOKEN)
            .env_remove("RUST_LOG")
            .env_remove("MAPSYNC_LOG");
        c
    }

    /// `sync --format json`: exit code and the run report.
    fn sync(&self) -> (i32, Value) {
        let out = self
            .command(&["sync", "--profile", "e2e", "--format", "json"])
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "no report ({e}); exit {code}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, report)
    }

    /// Requests that change the store (every method but GET), by route,
    /// since it started.
    fn writes(&self) -> BTreeMap<String, u64> {
        self.store()
            .stats()
            .by_route
            .into_iter()
            .filter(|(route, _)| !route.starts_with("GET "))
            .map(|(route, by_status)| (route, by_status.values().sum()))
            .collect()
    }

    fn catalog(&self) -> Value {
        let text = std::fs::read_to_string(self.path("catalog.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn set_catalog(&self, v: &Value) {
        std::fs::write(
            self.path("catalog.json"),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }

    fn snapshot(&self) -> Value {
        normalized(&self.store().snapshot())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

fn marker(item: &Value) -> Option<String> {
    list(&item["metafields"])
        .into_iter()
        .find(|m| m["namespace"] == "mapsync" && m["key"] == "key")
        .and_then(|m| m["value"].as_str().map(str::to_string))
}

/// The BigCommerce store without ids and clocks: categories and products
/// by their ownership marker, with what a sync sets. Panics when two items
/// carry one marker (a duplicate).
fn normalized(snapshot: &Value) -> Value {
    let mut category_key = BTreeMap::new();
    for c in list(&snapshot["categories"]) {
        category_key.insert(
            c["id"].to_string(),
            marker(c).unwrap_or_else(|| format!("unowned {}", c["name"])),
        );
    }
    let brand_name: BTreeMap<String, Value> = list(&snapshot["brands"])
        .into_iter()
        .map(|b| (b["id"].to_string(), b["name"].clone()))
        .collect();
    let files: BTreeMap<String, Value> = snapshot["files"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, f)| (k.clone(), f["sha256"].clone()))
                .collect()
        })
        .unwrap_or_default();
    let metafields = |item: &Value| -> Value {
        let mut m: Vec<Value> = list(&item["metafields"])
            .into_iter()
            .map(|m| {
                // mapsync's record of image sources is keyed by image ids.
                let value = if m["namespace"] == "mapsync" && m["key"] == "images" {
                    let ids: Value = serde_json::from_str(m["value"].as_str().unwrap_or(""))
                        .unwrap_or(Value::Null);
                    let mut urls: Vec<Value> = list(&ids).into_iter().cloned().collect();
                    urls.sort_by_key(|v| v.to_string());
                    Value::Array(urls)
                } else {
                    m["value"].clone()
                };
                json!([m["namespace"], m["key"], value, m["permission_set"]])
            })
            .collect();
        m.sort_by_key(|v| v.to_string());
        Value::Array(m)
    };
    let mut categories = BTreeMap::new();
    for c in list(&snapshot["categories"]) {
        let key = category_key[&c["id"].to_string()].clone();
        let parent = category_key
            .get(&c["parent_id"].to_string())
            .cloned()
            .map(Value::String)
            .unwrap_or(Value::Null);
        let mut fields = c["fields"].clone();
        if let Some(o) = fields.as_object_mut() {
            // The image file's name carries ids.
            if let Some(url) = o.remove("image_url") {
                o.insert(
                    "has_image".into(),
                    json!(url.as_str().is_some_and(|u| !u.is_empty())),
                );
            }
        }
        let prev = categories.insert(
            key.clone(),
            json!({"name": c["name"], "fields": fields, "parent": parent, "metafields": metafields(c)}),
        );
        assert!(prev.is_none(), "two categories carry the key {key}");
    }
    let mut products = BTreeMap::new();
    for p in list(&snapshot["products"]) {
        let key = marker(p).unwrap_or_else(|| format!("unowned {}", p["fields"]["name"]));
        let mut fields = p["fields"].clone();
        if let Some(o) = fields.as_object_mut() {
            if let Some(cats) = o.remove("categories") {
                let mut keys: Vec<String> = list(&cats)
                    .into_iter()
                    .map(|id| {
                        category_key
                            .get(&id.to_string())
                            .cloned()
                            .unwrap_or_else(|| format!("id {id}"))
                    })
                    .collect();
                keys.sort();
                o.insert("categories".into(), json!(keys));
            }
            if let Some(b) = o.remove("brand_id") {
                o.insert(
                    "brand".into(),
                    brand_name.get(&b.to_string()).cloned().unwrap_or(b),
                );
            }
        }
        // Option and value ids → display name and label.
        let mut label = BTreeMap::new();
        let options: Vec<Value> = list(&p["options"])
            .into_iter()
            .map(|o| {
                let values: Vec<Value> = list(&o["values"])
                    .into_iter()
                    .map(|v| {
                        label.insert(
                            (o["id"].to_string(), v["id"].to_string()),
                            json!([o["display_name"], v["label"]]),
                        );
                        v["label"].clone()
                    })
                    .collect();
                json!([o["display_name"], o["type"], values])
            })
            .collect();
        let variants: Vec<Value> = list(&p["variants"])
            .into_iter()
            .map(|v| {
                let option_values: Vec<Value> = list(&v["option_values"])
                    .into_iter()
                    .map(|pair| {
                        label
                            .get(&(pair[0].to_string(), pair[1].to_string()))
                            .cloned()
                            .unwrap_or(Value::Null)
                    })
                    .collect();
                // No stock record at a location is a stock of 0 there.
                let inventory: Vec<Value> = v["inventory"]
                    .as_object()
                    .map(|m| {
                        m.values()
                            .filter(|q| q.as_i64() != Some(0))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let mut fields = v["fields"].clone();
                if let Some(o) = fields.as_object_mut() {
                    if let Some(url) = o.remove("image_url") {
                        o.insert(
                            "has_image".into(),
                            json!(url.as_str().is_some_and(|u| !u.is_empty())),
                        );
                    }
                }
                json!({"sku": v["sku"], "fields": fields, "option_values": option_values,
                       "inventory": inventory, "metafields": metafields(v)})
            })
            .collect();
        let images: Vec<Value> = list(&p["images"])
            .into_iter()
            .map(|i| {
                json!([
                    i["sort_order"],
                    i["is_thumbnail"],
                    i["description"],
                    files
                        .get(i["image_file"].as_str().unwrap_or(""))
                        .cloned()
                        .unwrap_or(Value::Null)
                ])
            })
            .collect();
        let custom: BTreeMap<String, Value> = list(&p["custom_fields"])
            .into_iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").to_string(),
                    c["value"].clone(),
                )
            })
            .collect();
        let prev = products.insert(
            key.clone(),
            json!({"fields": fields, "variants": variants, "images": images,
                   "custom_fields": custom, "options": options, "metafields": metafields(p)}),
        );
        assert!(prev.is_none(), "two products carry the key {key}");
    }
    json!({"categories": categories, "products": products})
}

/// Products and categories in a report's summary, created.
fn created(report: &Value) -> u64 {
    report["summary"]["created"].as_u64().unwrap_or(0)
}

#[test]
fn first_sync_creates_the_next_writes_nothing_and_one_price_is_one_request() {
    let env = Env::new(Setup::demo(store_config()));
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    let catalog = env.catalog();
    let items = catalog["products"].as_array().unwrap().len()
        + catalog["categories"].as_array().unwrap().len();
    assert_eq!(created(&report) as usize, items, "{report:#}");
    let first = env.snapshot();
    assert_eq!(
        first["products"].as_object().unwrap().len(),
        catalog["products"].as_array().unwrap().len()
    );

    // Nothing changed: nothing written.
    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    // P-1006 is unpublished in the file and in the store: skipped.
    assert_eq!(
        report["summary"]["unchanged"].as_u64().unwrap() as usize,
        items - 1
    );
    assert_eq!(report["summary"]["skipped"], 1, "{report:#}");
    assert_eq!(delta(&before, &env.writes()), BTreeMap::new());

    // One variant's price: one request.
    let mut catalog = catalog;
    catalog["products"][0]["Variants"][1]["Price"] = json!("31.50");
    env.set_catalog(&catalog);
    let requests = env.store().stats().requests;
    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    let writes = delta(&before, &env.writes());
    assert_eq!(writes.values().sum::<u64>(), 1, "{writes:?}");
    let reads = env.store().stats().requests - requests - 1;
    eprintln!("a price change: 1 write, {reads} reads in the run");
    let after = env.snapshot();
    let key = catalog["products"][0]["ItemNo"].as_str().unwrap();
    let variant = &after["products"][key]["variants"][1];
    assert_eq!(
        variant["fields"]["price"].as_f64(),
        Some(31.5),
        "{variant:#}"
    );
}

/// Quota windows of 2 s instead of 30 s (the logic is the same; the test
/// is 15 times shorter): 150 requests a window are never exceeded while
/// the run keeps the store busy over several windows, and no request is
/// refused with 429.
#[test]
fn a_quota_of_150_a_window_is_used_and_never_exceeded() {
    let env = Env::new(Setup::demo(BcConfig {
        quota: Some(150),
        window: Duration::from_secs(2),
        ..store_config()
    }));
    env.set_catalog(&big_catalog(160));
    let started = std::time::Instant::now();
    let (code, report) = env.sync();
    let took = started.elapsed();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(created(&report), 163, "{report:#}");
    let stats = env.store().stats();
    assert_eq!(stats.throttled, 0, "no 429: {stats:?}");
    assert!(stats.max_in_window <= 150, "{stats:?}");
    assert!(
        stats.requests > 300,
        "the run spans several windows: {} requests",
        stats.requests
    );
    let windows = took.as_secs_f64() / 2.0;
    eprintln!(
        "{} requests in {took:?} = {:.0}% of the quota ({} windows), at most {} in one window",
        stats.requests,
        100.0 * stats.requests as f64 / (150.0 * windows.ceil()),
        windows.ceil(),
        stats.max_in_window
    );
}

/// A catalog of `n` products with 3 variants each, in 3 categories.
fn big_catalog(n: usize) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let variants: Vec<Value> = ["S", "M", "L"]
                .iter()
                .enumerate()
                .map(|(j, size)| {
                    json!({"Sku": format!("K-{i}-{size}"), "Color": "Blue", "Size": size,
                        "Price": format!("{}.00", 10 + i % 50), "Position": j + 1, "Stock": (i + j) % 9})
                })
                .collect();
            json!({"ItemNo": format!("K-{i}"), "Name": format!("Item {i}"),
                "Description": "Generated", "Material": "Wool", "Group": "Knit",
                "Tags": "knit", "Published": true,
                "Images": [format!("https://cdn.example.com/k/{i}.jpg")],
                "Categories": [format!("C-{}", i % 3)], "Variants": variants})
        })
        .collect();
    let categories: Vec<Value> = (0..3)
        .map(|c| json!({"CategoryId": format!("C-{c}"), "Name": format!("Category {c}"), "Active": true}))
        .collect();
    json!({"categories": categories, "products": products})
}

fn fault_settings() -> &'static str {
    "  sync: [add, update, deactivate]\n  retries: 4\n  concurrency: 4\n  chunk_size: 10\n"
}

/// 10% of requests fail (5xx, 429 without headers, a reset before the
/// request is read, a change made and its answer lost), and runs are
/// killed (SIGKILL) at several points: after the runs that follow, every
/// product is in the store exactly once, as a clean run leaves it.
#[test]
fn with_faults_and_kills_every_product_ends_exactly_once() {
    let clean = Env::new(Setup {
        settings: Some(fault_settings()),
        ..Setup::demo(store_config())
    });
    clean.set_catalog(&big_catalog(80));
    assert_eq!(clean.sync().0, 0);
    let expected = clean.snapshot();

    let env = Env::new(Setup {
        settings: Some(fault_settings()),
        ..Setup::demo(BcConfig {
            fault_rate: 0.10,
            faults: vec![
                BcFaultKind::Http5xx,
                BcFaultKind::TooManyRequests,
                BcFaultKind::Reset,
                BcFaultKind::Lost,
            ],
            fault_seed: 11,
            latency: Duration::from_millis(3),
            ..store_config()
        })
    });
    env.set_catalog(&big_catalog(80));
    let mut partial = Vec::new();
    for kill_after in [300u64, 700, 1200] {
        let mut child = env
            .command(&["sync", "--profile", "e2e", "--format", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(kill_after));
        // SIGKILL: no cleanup, no flush.
        let _ = child.kill();
        let _ = child.wait();
        // No duplicate at any point.
        let products = env.snapshot()["products"].as_object().unwrap().len();
        eprintln!("killed after {kill_after} ms: {products} products in the store");
        partial.push(products);
    }
    assert!(
        partial.iter().any(|&n| n > 0 && n < 80),
        "a run was killed midway: {partial:?}"
    );
    let mut last = Value::Null;
    for _ in 0..6 {
        let started = std::time::Instant::now();
        let (code, report) = env.sync();
        eprintln!(
            "run: exit {code} in {:?}: {}",
            started.elapsed(),
            report["summary"]
        );
        for i in report["items"].as_array().unwrap() {
            if i["status"] == "failed" {
                assert!(
                    i["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "a failed item without a message: {i}"
                );
            }
        }
        last = report;
        if code == 0 {
            break;
        }
    }
    assert_same(&env.snapshot(), &expected, &last);
    assert!(env.store().stats().faults > 0, "faults were served");
}

/// A product CSV in Shopify's export format syncs into the emulated
/// BigCommerce store with its mapping set (the Shopify side is in
/// `shopify_csv_syncs_into_the_emulated_shopify_store`).
#[test]
fn a_shopify_export_csv_syncs_into_bigcommerce() {
    let env = Env::new(Setup {
        mapping: "shopify-csv-bigcommerce",
        source: "{ type: file, path: shopify-export.csv, entity: product, group_by: Handle }"
            .into(),
        // The mapping's BigCommerce settings reach the connector.
        settings: Some(
            "  sync: [add, update, deactivate]\n  bigcommerce: { metafield_permission: write }\n",
        ),
        ..Setup::demo(store_config())
    });
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(created(&report), 4, "{report:#}");
    let s = env.snapshot();
    let shirt = &s["products"]["linen-shirt"];
    assert_eq!(shirt["fields"]["name"], "Linen Shirt");
    assert!(shirt["fields"]["description"]
        .as_str()
        .unwrap()
        .starts_with("<p>A <strong>light</strong> linen shirt, cut loose.</p>"));
    assert_eq!(shirt["fields"]["brand"], "Northwind");
    assert_eq!(shirt["variants"].as_array().unwrap().len(), 4);
    assert_eq!(shirt["images"].as_array().unwrap().len(), 3);
    assert_eq!(
        shirt["images"][0][1], true,
        "the first image is the thumbnail"
    );
    assert_eq!(shirt["custom_fields"]["Type"], "Shirts");
    let marker = shirt["metafields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m[0] == "mapsync" && m[1] == "key")
        .expect("the marker");
    assert_eq!(
        marker[3], "write",
        "settings.bigcommerce.metafield_permission"
    );
    let tote = &s["products"]["canvas-tote"];
    assert_eq!(tote["variants"].as_array().unwrap().len(), 2);
    assert_eq!(tote["images"].as_array().unwrap().len(), 3);
    let socks = &s["products"]["trail-socks"];
    assert_eq!(socks["fields"]["is_visible"], false, "Published FALSE");
    assert_eq!(socks["variants"].as_array().unwrap().len(), 3);
    // Again: nothing to do.
    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    // Unpublished in the file and in the store: skipped (product.update.unpublished).
    assert_eq!(report["summary"]["unchanged"], 3, "{report:#}");
    assert_eq!(report["summary"]["skipped"], 1, "{report:#}");
    assert_eq!(delta(&before, &env.writes()), BTreeMap::new());
}

/// The same Shopify-format CSV into the emulated Shopify store with
/// `mappings/shopify-csv`: one mapping set per target, one file.
#[test]
fn shopify_csv_syncs_into_the_emulated_shopify_store() {
    use mapsync::sandbox::{self as shopify, SandboxConfig};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = rt
        .block_on(shopify::start(SandboxConfig::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        Path::new("mappings/shopify-csv"),
        &dir.path().join("mapping"),
    );
    std::fs::copy(
        "examples/shopify-export.csv",
        dir.path().join("shopify-export.csv"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mapsync.yaml"),
        format!(
            "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {{ type: file, path: shopify-export.csv, entity: product, group_by: Handle }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: sqlite:.mapsync/state.db\n",
            store.url()
        ),
    )
    .unwrap();
    let sync = || {
        let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .arg("--project")
            .arg(dir.path())
            .args(["sync", "--profile", "e2e", "--format", "json"])
            .env("NO_COLOR", "1")
            .env("E2E_TOKEN", "e2e-token")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code().unwrap_or(-1), report)
    };
    let (code, report) = sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(created(&report), 4, "{report:#}");
    let snapshot: Value = rt.block_on(async {
        reqwest::get(format!("{}/__sandbox/snapshot", store.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let products = list(&snapshot["products"]);
    let shirt = products
        .iter()
        .find(|p| p["handle"] == "linen-shirt")
        .expect("the linen shirt");
    assert_eq!(shirt["title"], "Linen Shirt");
    assert!(shirt["description_html"]
        .as_str()
        .unwrap()
        .contains("<li>100% linen</li>"));
    assert_eq!(list(&shirt["variants"]).len(), 4);
    assert_eq!(list(&shirt["media"]).len(), 3, "{shirt:#}");
    let (code, report) = sync();
    assert_eq!(code, 0, "{report:#}");
    // Unpublished in the file and in the store: skipped (product.update.unpublished).
    assert_eq!(report["summary"]["unchanged"], 3, "{report:#}");
    assert_eq!(report["summary"]["skipped"], 1, "{report:#}");
    rt.block_on(store.shutdown()).unwrap();
}

/// Two normalized stores are equal; otherwise the items that differ, each
/// side shown, and `context`.
fn assert_same(actual: &Value, expected: &Value, context: &Value) {
    if actual == expected {
        return;
    }
    let mut problems = Vec::new();
    for entity in ["categories", "products"] {
        let (a, e) = (&actual[entity], &expected[entity]);
        let keys: std::collections::BTreeSet<&String> = a
            .as_object()
            .into_iter()
            .flatten()
            .chain(e.as_object().into_iter().flatten())
            .map(|(k, _)| k)
            .collect();
        for k in keys {
            if a.get(k) != e.get(k) {
                problems.push(format!(
                    "{entity} {k}:\n  actual:   {}\n  expected: {}",
                    a.get(k).map(Value::to_string).unwrap_or("-".into()),
                    e.get(k).map(Value::to_string).unwrap_or("-".into())
                ));
            }
        }
    }
    panic!(
        "the stores differ in {} items:\n{}\nlast report: {context:#}",
        problems.len(),
        problems.join("\n")
    );
}

/// The demo catalog synced into BigCommerce, then migrated to Shopify with
/// the `bigcommerce` source and `mappings/bigcommerce-to-shopify`: every
/// product arrives with its title, variants (SKUs, option values, prices)
/// and images in order; a second migration changes nothing.
#[test]
fn a_bigcommerce_catalog_migrates_to_shopify() {
    use mapsync::sandbox::{self as shopify, SandboxConfig};
    let env = Env::new(Setup::demo(store_config()));
    assert_eq!(env.sync().0, 0);
    let shop = env
        .rt
        .block_on(shopify::start(SandboxConfig::default()))
        .unwrap();
    copy_dir(
        Path::new("mappings/bigcommerce-to-shopify"),
        &env.path("migration"),
    );
    let project = std::fs::read_to_string(env.path("mapsync.yaml")).unwrap();
    std::fs::write(
        env.path("mapsync.yaml"),
        format!(
            "{project}  migrate:\n    mapping: migration\n    source: {{ type: bigcommerce, url: \"{}\", store_hash: sandbox, token: \"${{E2E_BC_TOKEN}}\" }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: sqlite:.mapsync/migrate.db\n    channel: migrate\n",
            env.store().url(),
            shop.url()
        ),
    )
    .unwrap();
    let migrate = || {
        let out = env
            .command(&["sync", "--profile", "migrate", "--format", "json"])
            .env("E2E_TOKEN", "e2e-token")
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code().unwrap_or(-1), report)
    };
    let (code, report) = migrate();
    assert_eq!(code, 0, "{report:#}");
    let catalog = env.catalog();
    let snapshot: Value = env.rt.block_on(async {
        reqwest::get(format!("{}/__sandbox/snapshot", shop.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let shopify_products = list(&snapshot["products"]);
    assert_eq!(
        shopify_products.len(),
        catalog["products"].as_array().unwrap().len()
    );
    for p in catalog["products"].as_array().unwrap() {
        let title = p["Name"].as_str().unwrap();
        let s = shopify_products
            .iter()
            .find(|s| s["title"] == title)
            .unwrap_or_else(|| panic!("{title} is not in Shopify"));
        // Variants: SKU, option values, price.
        let mut want: Vec<(String, Vec<String>, f64)> = list(&p["Variants"])
            .into_iter()
            .map(|v| {
                (
                    v["Sku"].as_str().unwrap().to_string(),
                    vec![
                        v["Color"].as_str().unwrap_or("").to_string(),
                        v["Size"].as_str().unwrap_or("").to_string(),
                    ]
                    .into_iter()
                    .filter(|x| !x.is_empty())
                    .collect(),
                    v["Price"].as_str().unwrap().parse::<f64>().unwrap(),
                )
            })
            .collect();
        let mut got: Vec<(String, Vec<String>, f64)> = list(&s["variants"])
            .into_iter()
            .map(|v| {
                (
                    v["sku"].as_str().unwrap_or("").to_string(),
                    list(&v["option_values"])
                        .into_iter()
                        .map(|o| o.as_str().unwrap_or("").to_string())
                        .collect(),
                    v["price"]
                        .as_str()
                        .and_then(|x| x.parse::<f64>().ok())
                        .or_else(|| v["price"].as_f64())
                        .unwrap_or(f64::NAN),
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want, "{title}: {s:#}");
        // Images: as many, in order (BigCommerce's file names keep the
        // source's last segment).
        let want_images: Vec<String> = list(&p["Images"])
            .into_iter()
            .map(|u| u.as_str().unwrap().rsplit('/').next().unwrap().to_string())
            .collect();
        let got_images: Vec<String> = list(&s["media"])
            .into_iter()
            .map(|m| m["original_source"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(
            got_images.len(),
            want_images.len(),
            "{title}: {got_images:?}"
        );
        for (g, w) in got_images.iter().zip(&want_images) {
            assert!(g.ends_with(w), "{title}: image {g} is not {w}");
        }
    }
    let (code, report) = migrate();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 0, "{report:#}");
    env.rt.block_on(shop.shutdown()).unwrap();
}

/// `mapsync run` on the `e2e` profile with a 1 s schedule, killed when
/// dropped.
struct RunningManager {
    child: std::process::Child,
    port: u16,
    stderr: PathBuf,
}

impl Drop for RunningManager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningManager {
    fn start(env: &Env) -> RunningManager {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The project `Env` wrote, with a `run:` section and a schedule.
        let text = std::fs::read_to_string(env.path("mapsync.yaml")).unwrap();
        let text = text.replacen(
            "profiles:\n",
            &format!("run:\n  listen: 127.0.0.1:{port}\n  config_check: 1m\nprofiles:\n"),
            1,
        );
        std::fs::write(
            env.path("mapsync.yaml"),
            format!("{text}    schedule: {{ every: 1s }}\n"),
        )
        .unwrap();
        let stderr = env.path("manager.stderr");
        let child = env
            .command(&["run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let m = RunningManager {
            child,
            port,
            stderr,
        };
        m.wait_for("the manager to answer", Duration::from_secs(20), || {
            m.get("/healthz").is_some_and(|(c, _)| c == 200)
        });
        m
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        mapsync_run::http_get(
            std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            path,
            Duration::from_secs(5),
        )
        .ok()
    }

    /// The finished runs of `e2e` (with the manager's report), oldest first.
    fn finished_runs(&self) -> Vec<Value> {
        let Some((200, body)) = self.get("/api/runs?profile=e2e&limit=100") else {
            return Vec::new();
        };
        let v: Value = serde_json::from_str(&body).unwrap();
        let mut runs: Vec<Value> = v["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["report"].is_object())
            .collect();
        runs.reverse();
        runs
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting for {what}; stderr:\n{}",
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        );
    }
}

fn requests_of(run: &Value) -> u64 {
    run["report"]["requests"]["total"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// The change token's requests on a store with categories: the products'
/// count and newest change, the product markers, the categories, the trees
/// and the category markers (`mapsync_bigcommerce::target::token`).
const TOKEN_REQUESTS: u64 = 5;

#[test]
fn a_scheduled_run_with_nothing_to_do_reuses_its_plan_until_the_store_changes() {
    let env = Env::new(Setup::demo(BcConfig {
        record_requests: true,
        ..store_config()
    }));
    let catalog = env.catalog();
    let items = (catalog["products"].as_array().unwrap().len()
        + catalog["categories"].as_array().unwrap().len()) as u64;
    let m = RunningManager::start(&env);
    let nothing_to_do = |r: &Value| {
        let s = &r["report"]["summary"];
        s["created"] == 0 && s["updated"] == 0 && s["failed"] == 0 && s["deleted"] == 0
    };
    // The first run creates; then runs with nothing to do plan in full
    // until the last change is 5 s old, and reuse their plan after.
    m.wait_for(
        "a run that reuses its plan",
        Duration::from_secs(60),
        || {
            m.finished_runs()
                .iter()
                .any(|r| nothing_to_do(r) && requests_of(r) == TOKEN_REQUESTS)
        },
    );
    let runs = m.finished_runs();
    assert_eq!(
        runs[0]["report"]["summary"]["created"].as_u64(),
        Some(items),
        "{:#}",
        runs[0]
    );
    let full = runs
        .iter()
        .skip(1)
        .find(|r| nothing_to_do(r))
        .expect("a run with nothing to do");
    let reused = runs
        .iter()
        .rev()
        .find(|r| nothing_to_do(r))
        .expect("a reused run");
    eprintln!(
        "requests of a run with nothing to do: planned in full {}, reused {}",
        requests_of(full),
        requests_of(reused)
    );
    // The full read: the locations, the products, their markers, the trees,
    // the categories and their markers (one page each here).
    assert!(requests_of(full) >= 6, "{full:#}");
    assert_eq!(requests_of(reused), TOKEN_REQUESTS, "{reused:#}");
    assert_eq!(
        reused["report"]["summary"]["unchanged"], full["report"]["summary"]["unchanged"],
        "{reused:#}"
    );

    // A product deleted in the store by hand: created again by a later run.
    let api = env.store().api_url();
    let id = env.rt.block_on(async {
        let http = reqwest::Client::new();
        let list: Value = http
            .get(format!("{api}/catalog/products?limit=1"))
            .header("X-Auth-Token", TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = list["data"][0]["id"].as_u64().expect("a product");
        let r = http
            .delete(format!("{api}/catalog/products/{id}"))
            .header("X-Auth-Token", TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "delete: {}", r.status());
        id
    });
    let before = m.finished_runs().len();
    m.wait_for("the product created again", Duration::from_secs(40), || {
        m.finished_runs()
            .get(before..)
            .is_some_and(|r| r.iter().any(|r| r["report"]["summary"]["created"] == 1))
    });
    let products = env.store().snapshot()["products"].clone();
    assert_eq!(
        list(&products).len(),
        catalog["products"].as_array().unwrap().len(),
        "product {id} deleted by hand is back"
    );
    // And reused again once the new product's change is 5 s old.
    let before = m.finished_runs().len();
    m.wait_for(
        "a run that reuses its plan again",
        Duration::from_secs(40),
        || {
            m.finished_runs().get(before..).is_some_and(|r| {
                r.iter()
                    .any(|r| nothing_to_do(r) && requests_of(r) == TOKEN_REQUESTS)
            })
        },
    );
    // Every request (the tokens' among them) is one the OpenAPI files
    // describe.
    let spec = bc::openapi::Spec::bundled().unwrap();
    for r in env.store().requests() {
        if let Err(problems) = spec.check_request(&r.method, &r.path, r.body.as_ref()) {
            panic!("{} {}: {problems:?}", r.method, r.path);
        }
    }
}
