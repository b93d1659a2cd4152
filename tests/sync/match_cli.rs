//! `match:` end to end (docs/two-way.md, "Matching by a shared
//! identifier"): the real binary against an emulated Shopify store served
//! on 127.0.0.1 that already holds products made through the store's own
//! API (not by mapsync), with the SKUs of some source records. The demo
//! mapping gets `match: Variants[*].Sku` on its products. The store's
//! request counters per root field tell what each run sent.

use crate::store_view::{delta, marker, values};
use crate::support::{writes_in, Env, SQLITE};
use std::collections::BTreeMap;

use mapsync::sandbox::SandboxConfig;
use serde_json::{json, Value};

/// The lookup `match:` sends for products by SKU.
const FIND: &str = "productVariants";

/// A sandbox and a project whose profile `e2e` syncs the demo mapping,
/// with `match_line` added to its product entity, from `catalog.json`.
fn new_env(match_line: &str) -> Env {
    let edit = |text: String| {
        let text = text.replace(
            "  product:\n    key: ItemNo\n",
            &format!("  product:\n    key: ItemNo\n{match_line}"),
        );
        assert!(text.contains(match_line));
        text
    };
    Env::build(SandboxConfig::default(), edit, "", SQLITE)
}

/// What only these tests do with the store.
impl Env {
    /// A product made through the store's API, as another tool would: no
    /// ownership marker, one variant per SKU. Returns its id.
    fn seed_product(&self, title: &str, skus: &[&str]) -> String {
        let variants: Vec<Value> = skus
            .iter()
            .map(|s| json!({"optionValues": [{"optionName": "Title", "name": s}], "price": "5.00", "sku": s}))
            .collect();
        let values: Vec<Value> = skus.iter().map(|s| json!({ "name": s })).collect();
        let input = json!({
            "title": title,
            "productOptions": [{"name": "Title", "values": values}],
            "variants": variants,
        });
        let answer = self.graphql(
            "mutation($i: ProductSetInput!) { productSet(input: $i, synchronous: true) { product { id } userErrors { field message } } }",
            json!({ "i": input }),
        );
        assert_eq!(
            answer["data"]["productSet"]["userErrors"],
            json!([]),
            "{answer}"
        );
        answer["data"]["productSet"]["product"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The store's products by id.
    fn products(&self) -> BTreeMap<String, Value> {
        let snap = self.get("/__sandbox/snapshot");
        values(&snap["products"])
            .into_iter()
            .map(|p| (gid(&p["id"]), p.clone()))
            .collect()
    }
}

/// A snapshot id (a number or a gid) as a product gid.
fn gid(v: &Value) -> String {
    match v {
        Value::String(s) if s.starts_with("gid://") => s.clone(),
        Value::String(s) => format!("gid://shopify/Product/{s}"),
        other => format!("gid://shopify/Product/{other}"),
    }
}

fn report_items<'a>(report: &'a Value, key: &str) -> Vec<&'a Value> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["key"] == key)
        .collect()
}

#[test]
fn products_the_store_holds_by_sku_are_linked_not_created_and_a_second_run_sends_nothing() {
    let env = new_env("    match: Variants[*].Sku\n");
    // Two products another tool made, with SKUs of P-1001 and P-1002.
    let oxford = env.seed_product("Old Oxford", &["P-1001-RED-S", "P-1001-BLU-M"]);
    let linen = env.seed_product("Old Linen", &["P-1002-GRE-L"]);
    let before = env.calls();

    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    // 3 categories and 6 products created; the 2 found by SKU updated.
    assert_eq!(report["summary"]["created"], 9, "{report:#}");
    assert_eq!(report["summary"]["updated"], 2, "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    for (key, id) in [("P-1001", &oxford), ("P-1002", &linen)] {
        let item = report_items(&report, key);
        assert_eq!(item.len(), 1, "{report:#}");
        assert_eq!(item[0]["action"], "update", "{report:#}");
        assert_eq!(item[0]["target_id"], id.as_str(), "{report:#}");
    }
    let first = delta(&before, &env.calls());
    // The lookup: the 8 products' 69 SKUs, in searches of 25 values
    // (Shopify bounds a query's length): 3 requests.
    assert_eq!(first.get(FIND).copied(), Some(3), "{first:?}");
    // One productSet per product: 6 creates and 2 updates.
    assert_eq!(first.get("productSet").copied(), Some(8), "{first:?}");
    let products = env.products();
    assert_eq!(products.len(), 8, "nothing was created twice");
    assert_eq!(marker(&products[&oxford]).as_deref(), Some("P-1001"));
    assert_eq!(marker(&products[&linen]).as_deref(), Some("P-1002"));
    assert_eq!(products[&oxford]["title"], "Oxford Shirt");

    // The second run: found by the ledger, nothing looked up or written.
    let before = env.calls();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 0, "{report:#}");
    let second = delta(&before, &env.calls());
    assert_eq!(second.get(FIND), None, "{second:?}");
    assert!(writes_in(&second).is_empty(), "{second:?}");

    // The plan says why: linked by the match.
    let (code, stdout, stderr) = {
        let env2 = &env;
        std::fs::remove_file(env2.dir.path().join(".mapsync/state.db")).ok();
        env2.run(&["plan", "--profile", "e2e", "--format", "json"])
    };
    // With the ledger gone, the markers written by the first run find
    // the linked products again: nothing is created.
    assert!(code == 0 || code == 2, "{code} {stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] != "create"),
        "{plan:#}"
    );
}

#[test]
fn the_plan_says_an_item_is_linked_by_its_identifier() {
    let env = new_env("    match: { source: \"Variants[*].Sku\", target: sku }\n");
    let oxford = env.seed_product("Old Oxford", &["P-1001-RED-S"]);
    let (code, stdout, stderr) = env.run(&["plan", "--profile", "e2e", "--format", "json"]);
    assert!(code == 0 || code == 2, "{code} {stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let change = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "P-1001")
        .unwrap();
    assert_eq!(change["action"], "update", "{change:#}");
    assert_eq!(change["target_id"], oxford.as_str(), "{change:#}");
    assert_eq!(change["rule"], "product.update.linked", "{change:#}");
    assert_eq!(change["reason"], "linked by match sku=P-1001-RED-S");
    let (_, human, _) = env.run(&["plan", "--profile", "e2e"]);
    assert!(
        human.contains("linked by match sku=P-1001-RED-S"),
        "{human}"
    );
    // `apply` runs that plan: the item is linked, not created.
    let report = env.apply(&env.save_plan());
    assert_eq!(report["summary"]["created"], 10, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    let products = env.products();
    assert_eq!(products.len(), 8);
    assert_eq!(marker(&products[&oxford]).as_deref(), Some("P-1001"));
}

#[test]
fn two_store_products_with_one_sku_make_that_item_invalid_and_the_rest_sync() {
    let env = new_env("    match: Variants[*].Sku\n");
    let a = env.seed_product("Flannel A", &["P-1003-RED-S"]);
    let b = env.seed_product("Flannel B", &["P-1003-RED-S"]);
    let (code, report) = env.sync(&[]);
    // Invalid items make the run exit 3; every other item is synced.
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(report["summary"]["invalid"], 1, "{report:#}");
    assert_eq!(report["summary"]["created"], 10, "{report:#}");
    let item = report_items(&report, "P-1003");
    assert_eq!(item.len(), 1, "{report:#}");
    assert_eq!(item[0]["action"], "invalid", "{report:#}");
    let message = item[0]["message"].as_str().unwrap();
    assert!(
        message.contains("reconcile::match-conflict") || message.contains("sku"),
        "{message}"
    );
    assert!(message.contains(&a) && message.contains(&b), "{message}");
    // Neither store product was touched nor a third made.
    let products = env.products();
    assert_eq!(products.len(), 9, "7 created and the 2 seeded");
    assert_eq!(marker(&products[&a]), None);
    assert_eq!(marker(&products[&b]), None);
    assert_eq!(products[&a]["title"], "Flannel A");
}

/// The lookups `match:` sends are valid against the real Admin schema:
/// document and variables, as recorded by a proxy between the binary and
/// the emulated store (as `requests_valid` does for the other requests).
#[test]
fn the_lookups_are_valid_against_the_real_schema() {
    use crate::recording_proxy;
    use crate::shopify_schema::{schema_of, validate_document_for, validate_variables};
    const VERSION: &str = mapsync::connectors::shopify::DEFAULT_API_VERSION;

    let env = new_env("    match: Variants[*].Sku\n");
    env.seed_product("Old Oxford", &["P-1001-RED-S"]);
    let proxy = env.rt.block_on(recording_proxy::start(&env.url()));
    let project = env.dir.path().join("mapsync.yaml");
    let text = std::fs::read_to_string(&project)
        .unwrap()
        .replace(&env.url(), &proxy.url);
    std::fs::write(&project, text).unwrap();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");

    let schema = schema_of(VERSION);
    let mut lookups = 0;
    let mut searched = String::new();
    let mut failures = Vec::new();
    for (i, body) in proxy.bodies().iter().enumerate() {
        let query = body["query"].as_str().unwrap_or_default();
        let doc = match validate_document_for(VERSION, query, &format!("request {i}")) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("request {i}: {e}"));
                continue;
            }
        };
        let name = doc
            .operations
            .iter()
            .next()
            .and_then(|op| op.name.as_ref().map(|n| n.to_string()));
        if name.as_deref() == Some("VariantsBySku") {
            lookups += 1;
            let q = body["variables"]["query"].as_str().unwrap_or_default();
            assert!(
                q.split(" OR ")
                    .all(|t| t.starts_with("sku:'") && t.ends_with('\'')),
                "{q}"
            );
            searched.push_str(q);
        }
        if let Err(e) = validate_variables(schema, &doc, &body["variables"]) {
            failures.push(format!("request {i} ({query:.60}…):\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(lookups, 3, "69 SKUs, 25 a search");
    assert!(searched.contains("sku:'P-1001-RED-S'"), "{searched}");
}
