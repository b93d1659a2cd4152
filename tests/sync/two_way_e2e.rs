//! Two-way sync end to end (issue 16, docs/two-way.md): the real binary
//! between the emulated PIM (a `rest` source that can be written, in
//! process over loopback) and the emulated Shopify store (in process),
//! on the shipped `mappings/two-way` mapping: `title` and `body_html`
//! flow to the store, `tags` both ways (`newest`), `product_type` back to
//! the PIM, `vendor` both ways (`manual`), the material metafield both
//! ways (`target_wins`). Edits are made by hand on each side through the
//! sides' own APIs (the store's GraphQL, the PIM's edit endpoint), and
//! checked through them.
//!
//! Both sides stamp edits to the second (the store's `updatedAt`, the
//! PIM's `LastUpdated`): a test waits a little over a second between a
//! sync and an edit it wants seen as later.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mapsync::sandbox::pim::{self, PimConfig, PimHandle};
use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

use crate::project::copy_dir;
use crate::store_view::{marker, values};
use crate::support::{
    command_in, graphql_post, output, report_of, runtime, sigkill, spawn_quiet, writes_in,
};

/// The PIM's static token.
const TOKEN: &str = "two-way-token";

/// A product of the PIM's catalog.
fn product(key: &str, name: &str, tags: &str, brand: &str, material: &str) -> Value {
    json!({
        "ItemNo": key,
        "Name": name,
        "Description": format!("{name}, made to last."),
        "Tags": tags,
        "Group": "Shirts",
        "Brand": brand,
        "Material": material,
        "ShopifyId": "",
        "ShopifySyncDate": "",
        "ShopifySyncMsg": "",
        "LastUpdated": "2026-01-15T09:00:00Z"
    })
}

struct TwoWay {
    rt: tokio::runtime::Runtime,
    pim: Option<PimHandle>,
    store: Option<SandboxHandle>,
    dir: tempfile::TempDir,
}

impl Drop for TwoWay {
    fn drop(&mut self) {
        let (pim, store) = (self.pim.take(), self.store.take());
        self.rt.block_on(async move {
            if let Some(p) = pim {
                let _ = p.shutdown().await;
            }
            if let Some(s) = store {
                let _ = s.shutdown().await;
            }
        });
    }
}

impl TwoWay {
    /// The two sides, the PIM seeded with `products`, and the project.
    fn new(products: Vec<Value>, store: SandboxConfig) -> TwoWay {
        let rt = runtime();
        let pim = rt
            .block_on(pim::start(PimConfig {
                catalog: Some(json!({ "categories": [], "products": products })),
                token: Some(TOKEN.into()),
                ..PimConfig::default()
            }))
            .unwrap();
        let store = rt.block_on(sandbox::start(store)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(Path::new("mappings/two-way"), &dir.path().join("mapping"));
        let text = format!(
            r#"mapsync: 1
profiles:
  e2e:
    mapping: mapping
    source:
      type: rest
      base_url: "{pim}"
      auth: {{ bearer: "${{PIM_TOKEN}}" }}
      timeout: 5s
      entities:
        product:
          list: {{ path: /products, records: data, query: {{ per_page: 100 }} }}
          paging: {{ style: cursor, cursor: meta.next_cursor, param: cursor }}
      writeback:
        product: {{ method: PATCH, path: "/products/{{{{ key }}}}" }}
    target: {{ type: shopify, url: "{store}", token: "${{E2E_TOKEN}}" }}
    state: sqlite:.mapsync/state.db
"#,
            pim = pim.url(),
            store = store.url()
        );
        std::fs::write(dir.path().join("mapsync.yaml"), text).unwrap();
        TwoWay {
            rt,
            pim: Some(pim),
            store: Some(store),
            dir,
        }
    }

    fn pim(&self) -> &PimHandle {
        self.pim.as_ref().unwrap()
    }

    fn store(&self) -> &SandboxHandle {
        self.store.as_ref().unwrap()
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = command_in(self.dir.path(), args);
        c.env("E2E_TOKEN", "e2e-token").env("PIM_TOKEN", TOKEN);
        c
    }

    /// `sync --format json`: the run report (exit 0 or 2, items failed).
    fn sync(&self) -> Value {
        let (code, report) =
            report_of(&mut self.command(&["sync", "--profile", "e2e", "--format", "json"]));
        // 2: items failed, 3: invalid items (a held one).
        assert!(
            (0..=3).contains(&code) && code != 1,
            "exit {code}: {report:#}"
        );
        report
    }

    fn plan(&self) -> Value {
        let (code, out, err) =
            output(&mut self.command(&["plan", "--profile", "e2e", "--format", "json"]));
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }

    fn plan_text(&self) -> String {
        let (code, out, err) = output(&mut self.command(&["plan", "--profile", "e2e"]));
        assert_eq!(code, 0, "{err}");
        out
    }

    /// Writes the store took since it started, per root field.
    fn store_writes(&self) -> BTreeMap<String, u64> {
        let url = format!("{}/__sandbox/stats", self.store().url());
        let stats: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        let calls = stats["by_operation"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        writes_in(&calls)
    }

    /// Requests the store answered since it started.
    fn store_requests(&self) -> u64 {
        let url = format!("{}/__sandbox/stats", self.store().url());
        let stats: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        stats["requests"].as_u64().unwrap()
    }

    /// Write-backs the PIM took (each `PATCH` of a record).
    fn pim_writes(&self) -> u64 {
        self.pim().stats().count("PATCH /products/{key}", "200")
    }

    /// Requests the PIM answered.
    fn pim_requests(&self) -> u64 {
        self.pim().stats().requests
    }

    /// The PIM's record.
    fn record(&self, key: &str) -> Value {
        let url = format!("{}/products/{key}", self.pim().url());
        self.rt.block_on(async {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            let v: Value = r.json().await.unwrap();
            v["data"].clone()
        })
    }

    /// A PIM user edits a record (its `LastUpdated` moves to now).
    fn edit_pim(&self, key: &str, fields: Value) {
        edit_record(&self.rt, self.pim(), TOKEN, key, fields);
    }

    /// The store's product with the marker `key`.
    fn product(&self, key: &str) -> Value {
        let url = format!("{}/__sandbox/snapshot", self.store().url());
        let snapshot: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        values(&snapshot["products"])
            .into_iter()
            .find(|p| marker(p).as_deref() == Some(key))
            .cloned()
            .unwrap_or_else(|| panic!("no product {key} in the store"))
    }

    fn gid(&self, key: &str) -> String {
        format!(
            "gid://shopify/Product/{}",
            self.product(key)["id"].as_u64().unwrap()
        )
    }

    fn graphql(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let answer = graphql_post(&self.rt, &self.store().graphql_url(), &body);
        assert!(answer.get("errors").is_none(), "{answer}");
        answer
    }

    /// A merchant edits the product in the store: `input` of
    /// `productUpdate`, and the material metafield when given.
    fn edit_store(&self, key: &str, mut input: Value, material: Option<&str>) {
        let id = self.gid(key);
        input["id"] = json!(id);
        let a = self.graphql(
            "mutation($input: ProductUpdateInput!) { productUpdate(product: $input) { userErrors { message } } }",
            json!({ "input": input }),
        );
        assert_eq!(a["data"]["productUpdate"]["userErrors"], json!([]), "{a}");
        if let Some(m) = material {
            let a = self.graphql(
                "mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { userErrors { message } } }",
                json!({"m": [{"ownerId": id, "namespace": "custom", "key": "material", "type": "single_line_text_field", "value": m}]}),
            );
            assert_eq!(a["data"]["metafieldsSet"]["userErrors"], json!([]), "{a}");
        }
    }

    /// The store's material metafield of `key`.
    fn material(&self, key: &str) -> Value {
        self.product(key)["metafields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["namespace"] == "custom" && m["key"] == "material")
            .map(|m| m["value"].clone())
            .unwrap_or(Value::Null)
    }
}

/// A user of a PIM-kind API edits a product record (its `LastUpdated`
/// moves to now).
fn edit_record(
    rt: &tokio::runtime::Runtime,
    side: &PimHandle,
    token: &str,
    key: &str,
    fields: Value,
) {
    let url = format!("{}/__sandbox/products/{key}", side.url());
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .json(&fields)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    });
}

/// Tags as a list, from the PIM's text (`a,b`) or list, or the store's.
fn tags(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s.split(',').map(|t| t.trim().to_string()).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Waits until the clocks of both sides (to the second) have moved on.
fn next_second() {
    std::thread::sleep(Duration::from_millis(1100));
}

/// The plan's change of `key`.
fn change<'p>(plan: &'p Value, key: &str) -> &'p Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no change {key}: {plan:#}"))
}

/// The actions of a change's two-way fields, by field (`none` left out).
fn actions(change: &Value) -> BTreeMap<String, String> {
    change["two_way"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|e| e["action"] != "none")
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn catalog() -> Vec<Value> {
    vec![
        product("P-1", "Oxford Shirt", "cotton,shirts", "Acme", "Cotton"),
        product("P-2", "Linen Shirt", "linen,shirts", "Acme", "Linen"),
        product("P-3", "Flannel Shirt", "flannel,shirts", "Acme", "Wool"),
        product("P-4", "Polo", "pique,shirts", "Acme", "Pique"),
    ]
}

/// A second run after `what` writes nothing on either side.
fn assert_quiet(w: &TwoWay, what: &str) -> (u64, u64) {
    let (store, pim) = (w.store_writes(), w.pim_writes());
    let (store_requests, pim_requests) = (w.store_requests(), w.pim_requests());
    let report = w.sync();
    assert_eq!(report["summary"]["updated"], 0, "{what}: {report:#}");
    assert_eq!(report["summary"]["created"], 0, "{what}: {report:#}");
    assert_eq!(
        w.store_writes(),
        store,
        "{what}: store writes on a quiet run"
    );
    assert_eq!(w.pim_writes(), pim, "{what}: PIM writes on a quiet run");
    (
        w.store_requests() - store_requests,
        w.pim_requests() - pim_requests,
    )
}

#[test]
fn an_edit_on_one_side_flows_to_the_other_and_the_next_run_writes_nothing() {
    let w = TwoWay::new(catalog(), SandboxConfig::default());
    let report = w.sync();
    assert_eq!(report["summary"]["created"], 4, "{report:#}");
    // Nothing edited: a run reads both sides and writes nothing, with no
    // read of any item (the store's reduced read says none was edited).
    let (store_quiet, pim_quiet) = assert_quiet(&w, "after the first sync");

    next_second();
    // The merchant edits tags, product type and material of P-1 in the
    // store; a PIM user edits tags and brand of P-2.
    w.edit_store(
        "P-1",
        json!({"tags": ["cotton", "sale", "shirts"], "productType": "Casual"}),
        Some("Organic Cotton"),
    );
    w.edit_pim(
        "P-2",
        json!({"Tags": "linen,shirts,summer", "Brand": "Linen Co"}),
    );

    let plan = w.plan();
    let p1 = change(&plan, "P-1");
    assert_eq!(p1["action"], "update", "{p1:#}");
    assert_eq!(p1["rule"], "product.update.pulled", "{p1:#}");
    assert_eq!(
        actions(p1),
        map(&[
            ("metafields[custom.material]", "pull"),
            ("product_type", "pull"),
            ("tags", "pull")
        ]),
        "{p1:#}"
    );
    let p2 = change(&plan, "P-2");
    assert_eq!(p2["action"], "update", "{p2:#}");
    assert_eq!(
        actions(p2),
        map(&[("tags", "push"), ("vendor", "push")]),
        "{p2:#}"
    );
    assert_eq!(change(&plan, "P-3")["action"], "unchanged");
    let text = w.plan_text();
    assert!(
        text.contains("< tags: \"cotton,shirts\" -> [\"cotton\",\"sale\",\"shirts\"]")
            || text.contains("< tags: [\"cotton\",\"shirts\"] -> [\"cotton\",\"sale\",\"shirts\"]"),
        "{text}"
    );
    assert!(
        text.contains("Two-way: 3 field(s) of 1 item(s) to write back to the source"),
        "{text}"
    );

    let (store_before, pim_before) = (w.store_requests(), w.pim_requests());
    let routes_before = w.pim().stats().by_route;
    let report = w.sync();
    let routes_after = w.pim().stats().by_route;
    assert_eq!(report["summary"]["updated"], 2, "{report:#}");
    assert_eq!(report["summary"]["pulled"], 3, "{report:#}");
    let (store_edit_run, pim_edit_run) = (
        w.store_requests() - store_before,
        w.pim_requests() - pim_before,
    );
    // The PIM holds the store's values; its own edits reached the store.
    let r1 = w.record("P-1");
    assert_eq!(tags(&r1["Tags"]), ["cotton", "sale", "shirts"], "{r1:#}");
    assert_eq!(r1["Group"], "Casual", "{r1:#}");
    assert_eq!(r1["Material"], "Organic Cotton", "{r1:#}");
    assert_eq!(r1["ShopifySyncMsg"], "", "{r1:#}");
    let s2 = w.product("P-2");
    assert_eq!(s2["tags"], json!(["linen", "shirts", "summer"]), "{s2:#}");
    assert_eq!(s2["vendor"], "Linen Co", "{s2:#}");
    // The store kept its edits.
    let s1 = w.product("P-1");
    assert_eq!(s1["product_type"], "Casual");
    assert_eq!(w.material("P-1"), "Organic Cotton");

    assert_quiet(&w, "after the pulls and pushes");
    eprintln!(
        "requests: quiet run store {store_quiet} + PIM {pim_quiet}; one field edited on each side: store {store_edit_run} + PIM {pim_edit_run} ({routes_before:?} -> {routes_after:?})"
    );
    // The PIM: its page read twice (planning reads the records again for
    // the documents of the items that change), one request with P-1's
    // pulled values and its SyncID/SyncDate (no second write-back), one
    // write-back of P-2's.
    assert_eq!(pim_edit_run, 4, "{routes_before:?} -> {routes_after:?}");
}

#[test]
fn edits_on_both_sides_follow_each_policy_and_resolve_releases_a_held_item() {
    let w = TwoWay::new(catalog(), SandboxConfig::default());
    assert_eq!(w.sync()["summary"]["created"], 4);

    next_second();
    // P-3: the PIM edits its tags first, the store later: the store is newest.
    w.edit_pim("P-3", json!({"Tags": "pim-3"}));
    next_second();
    w.edit_store("P-1", json!({"tags": ["store-1"]}), Some("Store material"));
    w.edit_store("P-3", json!({"tags": ["store-3"]}), None);
    w.edit_store("P-4", json!({"vendor": "Store Vendor"}), None);
    next_second();
    // P-1: the PIM edits tags and material after the store: tags go to
    // the store (newest: the PIM), material comes back (target_wins).
    w.edit_pim("P-1", json!({"Tags": "pim-1", "Material": "PIM material"}));
    // P-4: the vendor on both sides, `manual`: held.
    w.edit_pim("P-4", json!({"Brand": "PIM Vendor"}));

    let plan = w.plan();
    assert_eq!(
        actions(change(&plan, "P-1")),
        map(&[("metafields[custom.material]", "pull"), ("tags", "push")]),
        "{plan:#}"
    );
    assert_eq!(
        actions(change(&plan, "P-3")),
        map(&[("tags", "pull")]),
        "{plan:#}"
    );
    let p4 = change(&plan, "P-4");
    assert_eq!(p4["action"], "invalid", "{p4:#}");
    assert_eq!(p4["rule"], "product.two-way.held", "{p4:#}");
    assert_eq!(actions(p4), map(&[("vendor", "hold")]), "{p4:#}");
    assert_eq!(p4["diagnostics"][0]["code"], "two-way::conflict", "{p4:#}");
    let text = w.plan_text();
    assert!(
        text.contains("! vendor: source \"PIM Vendor\", target \"Store Vendor\""),
        "{text}"
    );

    let report = w.sync();
    assert_eq!(report["summary"]["updated"], 2, "{report:#}");
    assert_eq!(report["summary"]["held"], 1, "{report:#}");
    assert_eq!(report["summary"]["invalid"], 1, "{report:#}");
    assert_eq!(w.product("P-1")["tags"], json!(["pim-1"]));
    assert_eq!(w.record("P-1")["Material"], "Store material");
    assert_eq!(w.material("P-1"), "Store material");
    assert_eq!(tags(&w.record("P-3")["Tags"]), ["store-3"]);
    assert_eq!(w.product("P-3")["tags"], json!(["store-3"]));
    // Held: neither side written, the reason in the PIM's SyncMsg.
    assert_eq!(w.product("P-4")["vendor"], "Store Vendor");
    let r4 = w.record("P-4");
    assert_eq!(r4["Brand"], "PIM Vendor");
    let msg = r4["ShopifySyncMsg"].as_str().unwrap();
    assert!(msg.contains("vendor changed on both sides"), "{msg}");

    // Still held on the next run, until a person picks a side.
    let report = w.sync();
    assert_eq!(report["summary"]["held"], 1, "{report:#}");
    let (code, out, err) = output(&mut w.command(&[
        "resolve",
        "P-4",
        "vendor",
        "--take",
        "target",
        "--profile",
        "e2e",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let plan = w.plan();
    let p4 = change(&plan, "P-4");
    assert_eq!(actions(p4), map(&[("vendor", "pull")]), "{p4:#}");
    assert_eq!(
        p4["two_way"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == "vendor")
            .unwrap()["resolved"],
        "target"
    );
    let report = w.sync();
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(report["summary"]["pulled"], 1, "{report:#}");
    let r4 = w.record("P-4");
    assert_eq!(r4["Brand"], "Store Vendor", "{r4:#}");
    assert_eq!(r4["ShopifySyncMsg"], "", "{r4:#}");
    assert_quiet(&w, "after the resolve");
    // The choice was applied, then cleared: a new conflict is held again.
    next_second();
    w.edit_store("P-4", json!({"vendor": "Store Vendor 2"}), None);
    w.edit_pim("P-4", json!({"Brand": "PIM Vendor 2"}));
    assert_eq!(change(&w.plan(), "P-4")["action"], "invalid");
}

#[test]
fn sigkill_during_a_two_way_run_loses_no_edit_of_either_side() {
    // Many items, a slow store: the run is killed while it writes.
    let products: Vec<Value> = (0..40)
        .map(|i| {
            product(
                &format!("K-{i:02}"),
                &format!("Shirt {i}"),
                "a,b",
                "Acme",
                "Cotton",
            )
        })
        .collect();
    let w = TwoWay::new(
        products,
        SandboxConfig {
            latency: Duration::from_millis(150),
            restore_rate: Some(5000.0),
            ..SandboxConfig::default()
        },
    );
    assert_eq!(w.sync()["summary"]["created"], 40);
    next_second();
    // Even items edited in the store (tags), odd ones in the PIM (tags).
    for i in 0..40 {
        let key = format!("K-{i:02}");
        if i % 2 == 0 {
            w.edit_store(&key, json!({"tags": [format!("store-{i}")]}), None);
        } else {
            w.edit_pim(&key, json!({"Tags": format!("pim-{i}")}));
        }
    }
    let (store_before, pim_before) = (w.store_writes(), w.pim_writes());
    let mut child = spawn_quiet(&mut w.command(&["sync", "--profile", "e2e", "--format", "json"]));
    // Killed once it has written on either side, before it is done.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while w.store_writes() == store_before && w.pim_writes() == pim_before {
        assert!(
            std::time::Instant::now() < deadline,
            "the run wrote nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    sigkill(&mut child);
    // The next run carries what is left; none undoes an edit.
    let report = w.sync();
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    // The kill came before the end (what it wrote but did not record is
    // seen again, and found equal on both sides).
    let left = report["summary"]["updated"].as_u64().unwrap();
    assert!(left > 0, "the kill came mid-run: {report:#}");
    for i in 0..40 {
        let key = format!("K-{i:02}");
        let want = if i % 2 == 0 {
            format!("store-{i}")
        } else {
            format!("pim-{i}")
        };
        assert_eq!(
            tags(&w.record(&key)["Tags"]),
            vec![want.as_str()],
            "{key} in the PIM"
        );
        assert_eq!(
            tags(&w.product(&key)["tags"]),
            vec![want.as_str()],
            "{key} in the store"
        );
    }
    assert_quiet(&w, "after the recovery");
}

/// The worked example of docs/two-way.md (`examples/pim-dam`): a PIM and a
/// DAM (two emulated PIM-kind APIs keyed by SKU) and the embedded store.
struct PimDam {
    rt: tokio::runtime::Runtime,
    pim: Option<PimHandle>,
    dam: Option<PimHandle>,
    dir: tempfile::TempDir,
}

impl Drop for PimDam {
    fn drop(&mut self) {
        let (pim, dam) = (self.pim.take(), self.dam.take());
        self.rt.block_on(async move {
            for h in [pim, dam].into_iter().flatten() {
                let _ = h.shutdown().await;
            }
        });
    }
}

impl PimDam {
    fn new() -> PimDam {
        let rt = runtime();
        let example = Path::new("examples/pim-dam");
        let start = |seed: &str, token: &str| {
            rt.block_on(pim::start(PimConfig {
                seed_file: Some(example.join(seed)),
                product_key: "Sku".into(),
                token: Some(token.into()),
                ..PimConfig::default()
            }))
            .unwrap()
        };
        let pim = start("pim.json", "pim-token");
        let dam = start("dam.json", "dam-token");
        let dir = tempfile::tempdir().unwrap();
        for f in ["pim-dam.yaml", "pim-store.yaml"] {
            std::fs::copy(example.join(f), dir.path().join(f)).unwrap();
        }
        // The shipped project, on the ports the test's sides listen on.
        let project = std::fs::read_to_string(example.join("mapsync.yaml"))
            .unwrap()
            .replace("http://127.0.0.1:8711", &pim.url())
            .replace("http://127.0.0.1:8712", &dam.url());
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        PimDam {
            rt,
            pim: Some(pim),
            dam: Some(dam),
            dir,
        }
    }

    fn sync(&self, profile: &str) -> Value {
        let mut c = command_in(
            self.dir.path(),
            &["sync", "--profile", profile, "--format", "json"],
        );
        c.env("PIM_TOKEN", "pim-token")
            .env("DAM_TOKEN", "dam-token");
        let (code, report) = report_of(&mut c);
        assert_eq!(code, 0, "{profile}: {report:#}");
        report
    }

    fn record(&self, side: &PimHandle, token: &str, key: &str) -> Value {
        let url = format!("{}/products/{key}", side.url());
        self.rt.block_on(async {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let v: Value = r.json().await.unwrap();
            v["data"].clone()
        })
    }

    fn pim_record(&self, key: &str) -> Value {
        self.record(self.pim.as_ref().unwrap(), "pim-token", key)
    }

    fn dam_record(&self, key: &str) -> Value {
        self.record(self.dam.as_ref().unwrap(), "dam-token", key)
    }

    /// A DAM user edits an asset record.
    fn edit_dam(&self, key: &str, fields: Value) {
        edit_record(
            &self.rt,
            self.dam.as_ref().unwrap(),
            "dam-token",
            key,
            fields,
        );
    }

    /// The embedded store's product of `key` (its state file).
    fn store_product(&self, key: &str) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join(".mapsync/store.json")).unwrap();
        let store: Value = serde_json::from_str(&text).unwrap();
        values(&store["products"])
            .into_iter()
            .find(|p| marker(p).as_deref() == Some(key))
            .cloned()
            .unwrap_or_else(|| panic!("no product {key} in the store"))
    }
}

/// The image URLs of a store product, in order.
fn image_urls(product: &Value) -> Vec<String> {
    product["media"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            m["original_source"]
                .as_str()
                .or(m["src"].as_str())
                .or(m["url"].as_str())
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn the_pim_dam_example_keeps_both_aligned_and_the_store_gets_only_licensed_images() {
    let w = PimDam::new();
    // PIM → DAM: the asset records the DAM holds are linked by SKU (never
    // created again), the one it lacks is created; their images and
    // rights come back into the PIM.
    let report = w.sync("pim-dam");
    assert_eq!(report["summary"]["created"], 1, "{report:#}");
    assert_eq!(report["summary"]["updated"], 2, "{report:#}");
    assert_eq!(report["summary"]["pulled"], 2, "{report:#}");
    assert_eq!(w.dam_record("TEE-1")["Title"], "Linen Tee");
    assert_eq!(w.dam_record("CAP-1")["Title"], "Canvas Cap");
    let assets = &w.pim_record("TEE-1")["Assets"];
    assert_eq!(assets.as_array().map(Vec::len), Some(2), "{assets:#}");
    assert_eq!(w.sync("pim-dam")["summary"]["unchanged"], 3);

    // PIM → store: only the images licensed for `shop-eu` and in date.
    let report = w.sync("pim-store");
    assert_eq!(report["summary"]["created"], 3, "{report:#}");
    let urls = |key: &str| image_urls(&w.store_product(key));
    assert_eq!(
        urls("TEE-1"),
        [
            "https://dam.example/tee-1-front.jpg",
            "https://dam.example/tee-1-back.jpg"
        ]
    );
    // tee-2-us.jpg is licensed for shop-us; tee-2-old.jpg expired.
    assert!(urls("TEE-2").is_empty(), "{:?}", urls("TEE-2"));
    // The handles the store gave the products come back into the PIM.
    let report = w.sync("pim-store");
    assert_eq!(report["summary"]["pulled"], 6, "{report:#}");
    assert_eq!(w.pim_record("TEE-1")["ShopHandle"], "linen-tee");
    assert_eq!(w.pim_record("CAP-1")["ShopHandle"], "canvas-cap");
    assert_eq!(
        w.pim_record("TEE-1")["ShopUrl"],
        "https://mapsync-sandbox.myshopify.com/products/linen-tee"
    );
    let report = w.sync("pim-store");
    assert_eq!(report["summary"]["unchanged"], 3, "{report:#}");
    assert_eq!(report["summary"]["updated"], 0, "{report:#}");

    // The DAM ends the back image's rights: the PIM learns it, and the
    // image leaves the store on the next run; nothing else changes.
    next_second();
    let mut assets = w.dam_record("TEE-1")["Assets"].clone();
    assets[1]["ExpiresAt"] = json!("2020-01-01");
    w.edit_dam("TEE-1", json!({ "Assets": assets }));
    let report = w.sync("pim-dam");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(
        w.pim_record("TEE-1")["Assets"][1]["ExpiresAt"],
        "2020-01-01"
    );
    let report = w.sync("pim-store");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(report["summary"]["unchanged"], 2, "{report:#}");
    assert_eq!(urls("TEE-1"), ["https://dam.example/tee-1-front.jpg"]);
    assert_eq!(w.sync("pim-store")["summary"]["updated"], 0);
    assert_eq!(w.sync("pim-dam")["summary"]["updated"], 0);
}

#[test]
fn a_saved_two_way_plan_applies_its_pulls_and_pushes() {
    let w = TwoWay::new(catalog(), SandboxConfig::default());
    assert_eq!(w.sync()["summary"]["created"], 4);
    next_second();
    w.edit_store("P-1", json!({"tags": ["cotton", "sale", "shirts"]}), None);
    w.edit_pim("P-2", json!({"Tags": "linen,summer"}));
    let file = w.dir.path().join("plan.json");
    let (code, out, err) =
        output(&mut w.command(&["plan", "--profile", "e2e", "--out", file.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}{err}");
    let (code, report) =
        report_of(&mut w.command(&["apply", file.to_str().unwrap(), "--format", "json"]));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["pulled"], 1, "{report:#}");
    assert_eq!(tags(&w.record("P-1")["Tags"]), ["cotton", "sale", "shirts"]);
    assert_eq!(tags(&w.product("P-2")["tags"]), ["linen", "summer"]);
    assert_quiet(&w, "after the saved plan");
}
