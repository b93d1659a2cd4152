//! `match:` end to end against the emulated BigCommerce store (docs/two-way.md,
//! "Matching by a shared identifier"): the store already holds products
//! made through its own API, whose main SKU is a source record's item
//! number; the demo BigCommerce mapping gets `match: { source: ItemNo,
//! target: sku }`. The store records every request, so the lookups
//! (`GET /catalog/products?sku:in=...`) are counted apart from the reads.

use crate::support::{command_in, demo_dir, report_of, runtime, write_profile, SQLITE};

use mapsync::sandbox::bigcommerce::{self as bc, BcConfig, BcHandle};
use serde_json::{json, Value};

const TOKEN: &str = "e2e-bc-token";

struct Env {
    rt: tokio::runtime::Runtime,
    store: Option<BcHandle>,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let rt = runtime();
        let config = BcConfig {
            token: Some(TOKEN.into()),
            quota: Some(100_000),
            record_requests: true,
            ..BcConfig::default()
        };
        let store = rt.block_on(bc::start(config)).unwrap();
        let edit = |text: String| {
            let text = text
                .replace(
                    "  product:\n    key: ItemNo\n",
                    "  product:\n    key: ItemNo\n    match: { source: ItemNo, target: sku }\n",
                )
                .replace(
                    "  category:\n    key: CategoryId\n",
                    "  category:\n    key: CategoryId\n    match: Name\n",
                );
            assert!(text.contains("match:"));
            text
        };
        let dir = demo_dir("mappings/demo-bigcommerce", edit);
        let target = format!(
            "{{ type: bigcommerce, url: \"{}\", store_hash: sandbox, token: \"${{E2E_BC_TOKEN}}\" }}",
            store.url(),
        );
        write_profile(dir.path(), &target, SQLITE);
        Env {
            rt,
            store: Some(store),
            dir,
        }
    }

    fn store(&self) -> &BcHandle {
        self.store.as_ref().unwrap()
    }

    fn sync(&self) -> (i32, Value) {
        report_of(
            command_in(
                self.dir.path(),
                &["sync", "--profile", "e2e", "--format", "json"],
            )
            .env("E2E_BC_TOKEN", TOKEN)
            .env_remove("MAPSYNC_LOG"),
        )
    }

    /// A product made through the store's API, as another tool would.
    fn seed_product(&self, name: &str, sku: &str) -> String {
        let url = format!("{}/catalog/products", self.store().api_url());
        let body = json!({"name": name, "type": "physical", "weight": 1, "price": 5, "sku": sku});
        let answer: Value = self.rt.block_on(async {
            let r = reqwest::Client::new()
                .post(url)
                .header("X-Auth-Token", TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json().await.unwrap()
        });
        answer["data"]["id"].to_string()
    }

    /// A category of the default tree made through the store's API.
    fn seed_category(&self, name: &str) -> String {
        let api = self.store().api_url();
        let client = reqwest::Client::new();
        let answer: Value = self.rt.block_on(async {
            let trees: Value = client
                .get(format!("{api}/catalog/trees"))
                .header("X-Auth-Token", TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let tree = trees["data"][0]["id"].clone();
            let r = client
                .post(format!("{api}/catalog/trees/categories"))
                .header("X-Auth-Token", TOKEN)
                .json(&json!([{"name": name, "parent_id": 0, "tree_id": tree}]))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json().await.unwrap()
        });
        answer["data"][0]["category_id"].to_string()
    }

    /// Requests sent so far: (lookups by SKU, writes).
    fn counts(&self) -> (usize, usize) {
        let all = self.store().requests();
        let finds = all
            .iter()
            .filter(|r| {
                r.method == "GET" && (r.path.contains("sku:in") || r.path.contains("sku%3Ain"))
            })
            .count();
        let writes = all.iter().filter(|r| r.method != "GET").count();
        (finds, writes)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

fn marker_of(snapshot: &Value, id: &str) -> Option<String> {
    let n: u64 = id.parse().ok()?;
    let is = |p: &&Value| p["id"].as_u64() == Some(n);
    let p = match &snapshot["products"] {
        Value::Object(m) => m.get(id).or_else(|| m.values().find(is)),
        Value::Array(a) => a.iter().find(is),
        _ => None,
    }?;
    let mfs: Vec<&Value> = match &p["metafields"] {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    };
    mfs.into_iter()
        .find(|m| m["namespace"] == "mapsync" && m["key"] == "key")
        .and_then(|m| m["value"].as_str().map(str::to_string))
}

fn count(snapshot: &Value) -> usize {
    match &snapshot["products"] {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    }
}

#[test]
fn products_the_store_holds_by_sku_are_linked_and_the_next_run_looks_up_nothing() {
    let env = Env::new();
    let oxford = env.seed_product("Old Oxford", "P-1001");
    let linen = env.seed_product("Old Linen", "P-1002");
    let shirts = env.seed_category("Shirts");
    let (finds0, _) = env.counts();

    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    // 2 categories and 6 products created; the category found by its
    // name and the 2 products found by SKU updated.
    assert_eq!(report["summary"]["created"], 8, "{report:#}");
    assert_eq!(report["summary"]["updated"], 3, "{report:#}");
    let linked = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "C-SHIRTS")
        .unwrap();
    assert_eq!(linked["action"], "update", "{linked:#}");
    assert_eq!(linked["target_id"], shirts.as_str(), "{linked:#}");
    let (finds1, writes1) = env.counts();
    // The 8 would-be creates' SKUs in one request.
    assert_eq!(finds1 - finds0, 1);
    let snapshot = env.store().snapshot();
    assert_eq!(count(&snapshot), 8, "nothing was created twice");
    let categories = match &snapshot["categories"] {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        other => panic!("{other}"),
    };
    assert_eq!(categories, 3, "the seeded category was linked, not doubled");
    assert_eq!(marker_of(&snapshot, &oxford).as_deref(), Some("P-1001"));
    assert_eq!(marker_of(&snapshot, &linen).as_deref(), Some("P-1002"));

    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 0, "{report:#}");
    let (finds2, writes2) = env.counts();
    assert_eq!(finds2, finds1, "the second run looked up");
    assert_eq!(writes2, writes1, "the second run wrote");
}
