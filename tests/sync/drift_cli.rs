//! Drift (spec/two-way.md "Drift (one-way fields)", docs/two-way.md): a
//! field edited in the store since mapsync wrote it is shown in the plan,
//! counted in the report, and overwritten, kept or failed as
//! `settings.on_drift` says; a second run then writes nothing. The real
//! binary against the emulated Shopify store, served on loopback.

use crate::project::copy_dir;
use crate::store_view::{delta, marker, normalized, values};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

/// Root fields that change the store.
const WRITES: &[&str] = &[
    "productSet",
    "productUpdate",
    "productDelete",
    "collectionCreate",
    "collectionUpdate",
    "collectionDelete",
    "collectionAddProducts",
    "collectionRemoveProducts",
    "metafieldsSet",
    "metafieldsDelete",
    "metafieldDefinitionCreate",
    "metafieldDefinitionUpdate",
    "inventorySetQuantities",
    "publishablePublish",
    "publishableUnpublish",
];

struct Env {
    rt: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    dir: tempfile::TempDir,
}

impl Env {
    /// The demo project against a fresh sandbox, `on_drift` set when given.
    fn new(on_drift: Option<&str>) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = rt.block_on(sandbox::start(SandboxConfig::default())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(Path::new("mappings/demo"), &dir.path().join("mapping"));
        let mapping = dir.path().join("mapping/mapping.yaml");
        let text = std::fs::read_to_string(&mapping).unwrap();
        let setting = on_drift
            .map(|d| format!("  on_drift: {d}\n"))
            .unwrap_or_default();
        let text = text.replace(
            "  max_deletes: 50%\n",
            &format!("  max_deletes: 50%\n{setting}"),
        );
        std::fs::write(&mapping, text).unwrap();
        std::fs::copy("examples/catalog.json", dir.path().join("catalog.json")).unwrap();
        let project = format!(
            "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: sqlite:.mapsync/state.db\n",
            sandbox.url()
        );
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        Env {
            rt,
            sandbox: Some(sandbox),
            dir,
        }
    }

    fn url(&self) -> String {
        self.sandbox.as_ref().unwrap().url()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .arg("--project")
            .arg(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("E2E_TOKEN", "e2e-token")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `sync --format json`: exit code and the run report.
    fn sync(&self) -> (i32, Value) {
        let (code, stdout, stderr) = self.run(&["sync", "--profile", "e2e", "--format", "json"]);
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("no report ({e}); exit {code}; stderr: {stderr}"));
        (code, report)
    }

    /// `plan` (human), with `extra` arguments.
    fn plan_text(&self, extra: &[&str]) -> String {
        let mut args = vec!["plan", "--profile", "e2e"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(&args);
        assert_eq!(code, 0, "{stderr}");
        stdout
    }

    /// `plan --format json`, with `extra` arguments.
    fn plan_json(&self, extra: &[&str]) -> Value {
        let mut args = vec!["plan", "--profile", "e2e", "--format", "json"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(&args);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    fn writes(&self) -> BTreeMap<String, u64> {
        self.get("/__sandbox/stats")["by_operation"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| WRITES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }

    fn store(&self) -> Value {
        normalized(&self.get("/__sandbox/snapshot"))
    }

    /// Edits a product's title in the store by hand, through its API.
    fn edit_title(&self, key: &str, title: &str) {
        let snapshot = self.get("/__sandbox/snapshot");
        let id = values(&snapshot["products"])
            .into_iter()
            .find(|p| marker(p).as_deref() == Some(key))
            .and_then(|p| p["id"].as_u64())
            .unwrap();
        let graphql = self.sandbox.as_ref().unwrap().graphql_url();
        let edited: Value = self.rt.block_on(async {
            reqwest::Client::new()
                .post(graphql)
                .json(&json!({
                    "query": "mutation($input: ProductUpdateInput!) { productUpdate(product: $input) { product { title } userErrors { message } } }",
                    "variables": {"input": {"id": format!("gid://shopify/Product/{id}"), "title": title}}
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        assert_eq!(edited["data"]["productUpdate"]["product"]["title"], title, "{edited}");
    }

    /// Changes a source field of the catalog's product `i`.
    fn set_source(&self, f: impl FnOnce(&mut Value)) {
        let path = self.dir.path().join("catalog.json");
        let mut catalog: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut catalog);
        std::fs::write(&path, serde_json::to_string_pretty(&catalog).unwrap()).unwrap();
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

/// The change of `key` in a JSON plan.
fn change<'a>(plan: &'a Value, key: &str) -> &'a Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key && c["entity"] == "product")
        .unwrap_or_else(|| panic!("no change for {key}: {plan:#}"))
}

/// Every change of a plan that has drift.
fn drifted(plan: &Value) -> Vec<&Value> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("drift").is_some())
        .collect()
}

/// The common start: a first sync, then P-1002's title edited in the
/// store by hand and its second variant's price changed in the source.
fn drifted_env(on_drift: Option<&str>) -> Env {
    let env = Env::new(on_drift);
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    env.edit_title("P-1002", "Linen Shirt (sale)");
    env.set_source(|c| c["products"][1]["Variants"][0]["Price"] = "44.00".into());
    env
}

/// The second run after any drift outcome writes nothing.
fn second_run_writes_nothing(env: &Env) -> Value {
    let before = env.writes();
    let (_, report) = env.sync();
    assert!(
        delta(&before, &env.writes()).is_empty(),
        "the second run wrote: {report:#}"
    );
    assert_eq!(report["summary"]["updated"], 0, "{report:#}");
    report
}

#[test]
fn drift_is_shown_then_overwritten_by_default() {
    let env = drifted_env(None);
    let text = env.plan_text(&[]);
    assert!(
        text.contains(r#"drift: title edited in the store: "Linen Shirt (sale)" (the source has "Linen Shirt"); the sync overwrites it"#),
        "{text}"
    );
    let plan = env.plan_json(&[]);
    let c = change(&plan, "P-1002");
    assert_eq!(c["action"], "update");
    assert_eq!(
        c["drift"],
        json!([{"field": "title", "store": "Linen Shirt (sale)", "new": "Linen Shirt", "on_drift": "overwrite"}])
    );
    assert_eq!(drifted(&plan).len(), 1, "{plan:#}");

    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(report["summary"]["drift"], 1, "{report:#}");
    let item = &report["items"][0];
    assert!(
        item["message"].as_str().unwrap_or_default().contains("title edited in the store"),
        "{report:#}"
    );
    let store = env.store();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "44.00");
    let report = second_run_writes_nothing(&env);
    assert!(report["summary"].get("drift").is_none(), "{report:#}");
}

#[test]
fn on_drift_keep_leaves_the_store_value_and_keeps_keeping() {
    let env = drifted_env(Some("keep"));
    let text = env.plan_text(&[]);
    assert!(
        text.contains("the sync keeps the store's value (settings.on_drift: keep)"),
        "{text}"
    );
    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(report["summary"]["drift"], 1, "{report:#}");
    // The price is written, the title is not.
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("productSet".to_string(), 1)])
    );
    let store = env.store();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "44.00");
    second_run_writes_nothing(&env);

    // Another change of the source: the kept title is kept again.
    env.set_source(|c| c["products"][1]["Variants"][0]["Price"] = "45.00".into());
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["drift"], 1, "{report:#}");
    let store = env.store();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "45.00");
    second_run_writes_nothing(&env);

    // Only the drifted field changed in the source: nothing is left to
    // write.
    env.set_source(|c| c["products"][1]["Name"] = "Linen Shirt, washed".into());
    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert!(delta(&before, &env.writes()).is_empty(), "{report:#}");
    assert_eq!(env.store()["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    second_run_writes_nothing(&env);
}

#[test]
fn on_drift_fail_fails_the_item_and_writes_nothing() {
    let env = drifted_env(Some("fail"));
    let plan = env.plan_json(&[]);
    let c = change(&plan, "P-1002");
    assert_eq!(c["drift"][0]["on_drift"], "fail");
    assert_eq!(c["diagnostics"][0]["code"], "reconcile::drift", "{c:#}");
    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
    let item = &report["items"][0];
    assert_eq!(item["key"], "P-1002");
    assert_eq!(item["status"], "failed");
    let message = item["message"].as_str().unwrap();
    assert!(
        message.starts_with(r#"reconcile::drift: title edited in the store: "Linen Shirt (sale)""#),
        "{message}"
    );
    assert!(delta(&before, &env.writes()).is_empty(), "{report:#}");
    let store = env.store();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    // The next run fails it again, still without a write.
    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 3, "{report:#}");
    assert!(delta(&before, &env.writes()).is_empty(), "{report:#}");
}

/// Every field kind the demo fixtures write (title, body, vendor, type,
/// tags as a set, a metafield, the SEO title kept as a field, images,
/// variant SKU, price, compare-at price, options, tracking; a category's
/// title, body and image) reads back with the hash it was written with:
/// no edit, no drift, on any item.
#[test]
fn no_edit_no_drift_and_plan_drift_finds_an_unchanged_item() {
    let env = Env::new(None);
    assert_eq!(env.sync().0, 0);
    let plan = env.plan_json(&["--drift"]);
    assert!(drifted(&plan).is_empty(), "{plan:#}");
    // A source change, no edit: an update without drift.
    env.set_source(|c| c["products"][1]["Variants"][0]["Price"] = "44.00".into());
    let plan = env.plan_json(&[]);
    assert_eq!(change(&plan, "P-1002")["action"], "update");
    assert!(drifted(&plan).is_empty(), "{plan:#}");
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert!(report["summary"].get("drift").is_none(), "{report:#}");
    assert!(drifted(&env.plan_json(&["--drift"])).is_empty());

    // An edit of an item whose source did not change: only `--drift`
    // sees it.
    env.edit_title("P-1003", "Edited by hand");
    assert!(drifted(&env.plan_json(&[])).is_empty());
    let plan = env.plan_json(&["--drift"]);
    let c = change(&plan, "P-1003");
    assert_eq!(c["action"], "unchanged");
    assert_eq!(c["drift"][0]["field"], "title", "{c:#}");
    assert_eq!(c["drift"][0]["store"], "Edited by hand");
    assert_eq!(drifted(&plan).len(), 1, "{plan:#}");
    let text = env.plan_text(&["--drift"]);
    assert!(text.contains(r#"drift: title edited in the store: "Edited by hand""#), "{text}");
    assert!(text.contains("Drift: 1 field(s) of 1 item(s)"), "{text}");
}

/// Requests of a sync updating one item: with the field hashes in the
/// ledger (drift is looked for, one batched read of the updated items
/// while planning) and without them (the run of a ledger written before
/// field hashes existed).
#[test]
fn requests_per_updated_item_with_and_without_field_hashes() {
    let env = Env::new(None);
    assert_eq!(env.sync().0, 0);
    let requests = |price: &str| {
        env.set_source(|c| c["products"][1]["Variants"][0]["Price"] = price.into());
        let before = env.get("/__sandbox/stats")["requests"].as_u64().unwrap();
        let (code, report) = env.sync();
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(report["summary"]["updated"], 1, "{report:#}");
        env.get("/__sandbox/stats")["requests"].as_u64().unwrap() - before
    };
    let with_hashes = requests("44.00");
    let db = rusqlite::Connection::open(env.dir.path().join(".mapsync/state.db")).unwrap();
    db.execute_batch("UPDATE ledger SET fields = NULL").unwrap();
    let without = requests("45.00");
    eprintln!("requests of a sync updating one product: {without} without field hashes, {with_hashes} with them");
    assert_eq!(with_hashes, without + 1, "one batched read of the updated items");
}
