//! Drift (spec/two-way.md "Drift (one-way fields)", docs/two-way.md): a
//! field edited in the store since mapsync wrote it is shown in the plan,
//! counted in the report, and overwritten, kept or failed as
//! `settings.on_drift` says; a second run then writes nothing. The real
//! binary against the emulated Shopify store, served on loopback.

use crate::store_view::{delta, marker, values};
use crate::support::{Env, SQLITE};
use std::collections::BTreeMap;

use mapsync::sandbox::SandboxConfig;
use serde_json::{json, Value};

/// The demo project against a fresh sandbox, `on_drift` set when given,
/// `target` added to the profile's target options, on the state store
/// `state`.
fn build(on_drift: Option<&str>, target: &str, state: &str) -> Env {
    let setting = on_drift
        .map(|d| format!("  on_drift: {d}\n"))
        .unwrap_or_default();
    let edit = |text: String| {
        text.replace(
            "  max_deletes: 50%\n",
            &format!("  max_deletes: 50%\n{setting}"),
        )
    };
    Env::build(SandboxConfig::default(), edit, target, state)
}

/// [`build`] on SQLite.
fn with_target(on_drift: Option<&str>, target: &str) -> Env {
    build(on_drift, target, SQLITE)
}

/// [`with_target`] without target options.
fn new_env(on_drift: Option<&str>) -> Env {
    with_target(on_drift, "")
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
    drifted_env_with(on_drift, "")
}

/// [`drifted_env`] on a [`with_target`].
fn drifted_env_with(on_drift: Option<&str>, target: &str) -> Env {
    let env = with_target(on_drift, target);
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    env.edit_title("P-1002", "Linen Shirt (sale)");
    env.edit_catalog(|c| c["products"][1]["Variants"][0]["Price"] = "44.00".into());
    env
}

/// The second run after any drift outcome writes nothing.
fn second_run_writes_nothing(env: &Env) -> Value {
    let before = env.writes();
    let (_, report) = env.sync(&[]);
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
    eprintln!("{text}");
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

    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(report["summary"]["drift"], 1, "{report:#}");
    let item = &report["items"][0];
    assert!(
        item["message"]
            .as_str()
            .unwrap_or_default()
            .contains("title edited in the store"),
        "{report:#}"
    );
    let store = env.snapshot();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "44.00");
    let report = second_run_writes_nothing(&env);
    assert!(report["summary"].get("drift").is_none(), "{report:#}");
}

#[test]
fn on_drift_keep_leaves_the_store_value_and_keeps_keeping() {
    let env = drifted_env(Some("keep"));
    let text = env.plan_text(&[]);
    eprintln!("{text}");
    assert!(
        text.contains("the sync keeps the store's value (settings.on_drift: keep)"),
        "{text}"
    );
    // The kept title is no difference to write.
    assert!(!text.contains("~ title:"), "{text}");
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(report["summary"]["drift"], 1, "{report:#}");
    // The price is written, the title is not.
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("productSet".to_string(), 1)])
    );
    let store = env.snapshot();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "44.00");
    second_run_writes_nothing(&env);

    // Another change of the source: the kept title is kept again.
    env.edit_catalog(|c| c["products"][1]["Variants"][0]["Price"] = "45.00".into());
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["drift"], 1, "{report:#}");
    let store = env.snapshot();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "45.00");
    second_run_writes_nothing(&env);

    // Only the drifted field changed in the source: nothing is left to
    // write.
    env.edit_catalog(|c| c["products"][1]["Name"] = "Linen Shirt, washed".into());
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert!(delta(&before, &env.writes()).is_empty(), "{report:#}");
    assert_eq!(
        env.snapshot()["products"]["P-1002"]["title"],
        "Linen Shirt (sale)"
    );
    second_run_writes_nothing(&env);
}

#[test]
fn on_drift_fail_fails_the_item_and_writes_nothing() {
    let env = drifted_env(Some("fail"));
    let text = env.plan_text(&[]);
    eprintln!("{text}");
    assert!(
        text.contains("the item fails and nothing is written (settings.on_drift: fail)")
            && text.contains("error reconcile::drift: title edited in the store"),
        "{text}"
    );
    let plan = env.plan_json(&[]);
    let c = change(&plan, "P-1002");
    assert_eq!(c["drift"][0]["on_drift"], "fail");
    assert_eq!(c["diagnostics"][0]["code"], "reconcile::drift", "{c:#}");
    let before = env.writes();
    let (code, report) = env.sync(&[]);
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
    let store = env.snapshot();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    // The next run fails it again, still without a write; the human
    // report counts the drift.
    let before = env.writes();
    let (code, stdout, _) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("Drift: 1 field(s) edited in the store since mapsync wrote them"),
        "{stdout}"
    );
    assert!(delta(&before, &env.writes()).is_empty(), "{stdout}");
}

/// Every field kind the demo fixtures write (title, body, vendor, type,
/// tags as a set, a metafield, the SEO title kept as a field, images,
/// variant SKU, price, compare-at price, options, tracking; a category's
/// title, body and image) reads back with the hash it was written with:
/// no edit, no drift, on any item.
#[test]
fn no_edit_no_drift_and_plan_drift_finds_an_unchanged_item() {
    let env = new_env(None);
    assert_eq!(env.sync(&[]).0, 0);
    let plan = env.plan_json(&["--drift"]);
    assert!(drifted(&plan).is_empty(), "{plan:#}");
    // A source change, no edit: an update without drift.
    env.edit_catalog(|c| c["products"][1]["Variants"][0]["Price"] = "44.00".into());
    let plan = env.plan_json(&[]);
    assert_eq!(change(&plan, "P-1002")["action"], "update");
    assert!(drifted(&plan).is_empty(), "{plan:#}");
    let (code, report) = env.sync(&[]);
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
    assert!(
        text.contains(r#"drift: title edited in the store: "Edited by hand" (the source has "Flannel Shirt"); the record did not change, so the sync leaves it (`sync --force` would apply on_drift: overwrite)"#),
        "{text}"
    );
    assert!(text.contains("Drift: 1 field(s) of 1 item(s)"), "{text}");
}

/// Requests of a sync updating one item: with the field hashes in the
/// ledger (drift is looked for) and without them (the run of a ledger
/// written before field hashes existed). With `on_drift: overwrite` (the
/// default) drift costs no request: the executor compares the state it
/// reads before writing anyway.
#[test]
fn requests_per_updated_item_with_and_without_field_hashes() {
    let env = new_env(None);
    assert_eq!(env.sync(&[]).0, 0);
    let requests = |price: &str| {
        env.edit_catalog(|c| c["products"][1]["Variants"][0]["Price"] = price.into());
        let before = env.get("/__sandbox/stats");
        let (code, report) = env.sync(&[]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(report["summary"]["updated"], 1, "{report:#}");
        let after = env.get("/__sandbox/stats");
        let count = |s: &Value| -> BTreeMap<String, u64> {
            s["by_operation"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect()
        };
        eprintln!("{price}: {:?}", delta(&count(&before), &count(&after)));
        after["requests"].as_u64().unwrap() - before["requests"].as_u64().unwrap()
    };
    let with_hashes = requests("44.00");
    let db = rusqlite::Connection::open(env.dir.path().join(".mapsync/state.db")).unwrap();
    let (avg, max): (f64, i64) = db
        .query_row(
            "SELECT avg(length(fields)), max(length(fields)) FROM ledger WHERE entity = 'product'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    eprintln!("field hashes per product: {avg:.0} bytes on average, {max} at most");
    db.execute_batch("UPDATE ledger SET fields = NULL").unwrap();
    let without = requests("45.00");
    eprintln!("requests of a sync updating one product: {without} without field hashes, {with_hashes} with them");
    assert_eq!(with_hashes, without, "drift is seen in the executor's read");
}

/// A mapping with every field kind the Shopify field table has (text,
/// handle, a boolean, tags split from text, SEO fields and the SEO
/// metafields, metafields of several types, images; variant price and
/// compare-at price, barcode, booleans, an enum, option, cost, weight with
/// its implied unit, origin, HS code, a variant metafield) and a
/// category with its sort order and image.
const ALL_KINDS: &str = r#"mapsync: 1
name: kinds
settings:
  sync: [add, update, deactivate]
locations:
  MAIN: { name: "Shop location" }
entities:
  category:
    key: CategoryId
    map:
      title: Name
      body_html: Description
      sort_order: "'ALPHA_ASC'"
      "Metafield|global|title_tag": SeoTitle
    images:
      - { from: Image, kind: url }
  product:
    key: ItemNo
    published: Published
    categories: Categories
    map:
      title: Name
      handle: Handle
      body_html: "<p>{{ Description }}</p>"
      vendor: "'Acme'"
      product_type: { from: Group, default: "Misc" }
      tags: { from: Tags, transform: ['split(",")'] }
      gift_card: false
      template_suffix: { value: "pim" }
      seo.description: { template: "{{ Name }} by Acme" }
      "Metafield|custom|material|single_line_text_field": Material
      "Metafield|custom|care|multi_line_text_field": Care
      "Metafield|custom|weight_kg|number_decimal": WeightKg
      "Metafield|custom|launch|date": LaunchDate
      "Metafield|custom|organic|boolean": Organic
      "Metafield|global|title_tag": SeoTitle
    images:
      - { from: Images, kind: url }
    variants:
      from: Variants
      key: Sku
      map:
        sku: Sku
        price: Price
        compare_at_price: OldPrice
        barcode: EAN
        taxable: true
        inventory_policy: "'deny'"
        "Option|Size": Size
        Quantity_MAIN: Stock
        inventory_item.cost: Cost
        inventory_item.tracked: "'true'"
        inventory_item.requires_shipping: true
        inventory_item.weight: Weight
        inventory_item.country_code_of_origin: "'DK'"
        inventory_item.harmonized_system_code: HsCode
        "Metafield|custom|batch|number_integer": Batch
"#;

#[test]
fn every_field_kind_reads_back_as_written_and_each_edit_drifts() {
    let env = new_env(None);
    std::fs::write(env.dir.path().join("mapping/mapping.yaml"), ALL_KINDS).unwrap();
    let catalog = json!({
        "categories": [
            {"CategoryId": "shirts", "Name": "Shirts", "Description": "All shirts", "SeoTitle": "Shirts | Acme",
             "Image": "https://cdn.example.com/shirts.jpg"}
        ],
        "products": [{
            "ItemNo": "K-1", "Name": "Kind Tee", "Handle": "kind-tee", "Description": "Soft", "Published": true,
            "Categories": ["shirts"], "Group": "", "Tags": "b, a,a ,c", "Material": "Cotton",
            "Care": "Wash cold\nHang dry", "WeightKg": "0.250", "LaunchDate": "2026-03-01", "Organic": "true",
            "SeoTitle": "Kind Tee | Acme",
            "Images": ["https://cdn.example.com/k1-front.jpg", "https://cdn.example.com/k1-back.jpg"],
            "Variants": [
                {"Sku": "K-1-S", "Price": "20.00", "OldPrice": "25.5", "EAN": "5701234567890", "Size": "S",
                 "Stock": 4, "Cost": "7.10", "Weight": "0.3", "HsCode": "610910", "Batch": "0042"},
                {"Sku": "K-1-M", "Price": "20", "OldPrice": "", "EAN": "", "Size": "M",
                 "Stock": 0, "Cost": "7", "Weight": "1", "HsCode": "610910", "Batch": "7"}
            ]
        }]
    });
    std::fs::write(
        env.dir.path().join("catalog.json"),
        serde_json::to_string_pretty(&catalog).unwrap(),
    )
    .unwrap();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 2, "{report:#}");
    let plan = env.plan_json(&["--drift"]);
    assert!(drifted(&plan).is_empty(), "drift without an edit: {plan:#}");
    assert_eq!(plan["summary"]["unchanged"], 2, "{plan:#}");

    // Hand edits of a set, a variant's price and a metafield.
    let snapshot = env.get("/__sandbox/snapshot");
    let product = values(&snapshot["products"])
        .into_iter()
        .find(|p| marker(p).as_deref() == Some("K-1"))
        .cloned()
        .unwrap();
    let id = format!("gid://shopify/Product/{}", product["id"].as_u64().unwrap());
    let call = |query: &str, variables: Value| env.graphql(query, variables);
    let edited = call(
        "mutation($input: ProductUpdateInput!) { productUpdate(product: $input) { product { tags } userErrors { message } } }",
        json!({"input": {"id": id, "tags": ["a", "b", "c", "sale"]}}),
    );
    assert!(
        edited["data"]["productUpdate"]["userErrors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{edited}"
    );
    let edited = call(
        "mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { userErrors { message } } }",
        json!({"m": [{"ownerId": id, "namespace": "custom", "key": "material", "type": "single_line_text_field", "value": "Linen"}]}),
    );
    assert!(
        edited["data"]["metafieldsSet"]["userErrors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{edited}"
    );
    let plan = env.plan_json(&["--drift"]);
    let c = change(&plan, "K-1");
    let fields: Vec<&str> = c["drift"]
        .as_array()
        .unwrap_or_else(|| panic!("no drift: {c:#}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["tags", "metafields[custom.material]"], "{c:#}");
    assert_eq!(c["drift"][1]["store"], "Linen");
    assert_eq!(c["drift"][1]["new"], "Cotton");
}

/// Above the bulk-import threshold updates go as lines of one import, which
/// write whole documents: an item whose drift is kept or fails goes on its
/// own instead, and still keeps (or fails).
#[test]
fn a_kept_or_failing_item_leaves_the_bulk_import() {
    for on_drift in ["keep", "fail"] {
        // The first sync item by item (a batch import records no field
        // hashes), the next above the threshold.
        let env = drifted_env(Some(on_drift));
        let project = env.dir.path().join("mapsync.yaml");
        let text = std::fs::read_to_string(&project).unwrap();
        let text = text.replace(" }\n    state:", ", bulk_import_threshold: 2 }\n    state:");
        assert!(text.contains("bulk_import_threshold"), "{text}");
        std::fs::write(&project, text).unwrap();
        // A second product changes too: two updates, the threshold.
        env.edit_catalog(|c| c["products"][0]["Variants"][1]["Price"] = "31.50".into());
        let before = env.writes();
        let lines = || env.get("/__sandbox/stats")["bulk_lines"].as_u64().unwrap();
        let lines_before = lines();
        let (_, report) = env.sync(&[]);
        assert_eq!(
            lines() - lines_before,
            1,
            "P-1001 as a bulk line: {report:#}"
        );
        let store = env.snapshot();
        assert_eq!(
            store["products"]["P-1002"]["title"], "Linen Shirt (sale)",
            "{on_drift}: {report:#}"
        );
        assert_eq!(store["products"]["P-1001"]["variants"][1]["price"], "31.50");
        let written = delta(&before, &env.writes());
        match on_drift {
            "keep" => {
                assert_eq!(report["summary"]["updated"], 2, "{report:#}");
                assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "44.00");
            }
            _ => {
                assert_eq!(report["summary"]["failed"], 1, "{report:#}");
                assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "34.00");
            }
        }
        // P-1002 on its own: one `productSet` when kept, nothing when it
        // fails.
        let expected = match on_drift {
            "keep" => BTreeMap::from([("productSet".to_string(), 1)]),
            _ => BTreeMap::new(),
        };
        assert_eq!(written, expected, "{on_drift}");
        second_run_writes_nothing_or_fails_again(&env, on_drift);
    }
}

/// [`second_run_writes_nothing`], or for `fail` the same failure again
/// without a write.
fn second_run_writes_nothing_or_fails_again(env: &Env, on_drift: &str) {
    if on_drift != "fail" {
        second_run_writes_nothing(env);
        return;
    }
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 3, "{report:#}");
    assert!(delta(&before, &env.writes()).is_empty(), "{report:#}");
}

/// A saved plan carries its drift and what to do with it: `apply` keeps
/// what the plan says it keeps.
#[test]
fn apply_does_what_the_saved_plan_says_of_drift() {
    let env = drifted_env(Some("keep"));
    let file = env.save_plan();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(change(&saved, "P-1002")["drift"][0]["on_drift"], "keep");
    let (code, stdout, stderr) = env.run(&["apply", &file, "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let store = env.snapshot();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "44.00");
    second_run_writes_nothing(&env);
}

/// The field hashes live in a PostgreSQL state store too: drift kept there,
/// then a second run with no write.
#[test]
fn drift_on_a_postgres_state_store() {
    let Some(url) = mapsync_pgtest::database_blocking("drift_keep") else {
        return;
    };
    let env = build(Some("keep"), "", &url);
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    env.edit_title("P-1002", "Linen Shirt (sale)");
    env.edit_catalog(|c| c["products"][1]["Variants"][0]["Price"] = "44.00".into());
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["drift"], 1, "{report:#}");
    let store = env.snapshot();
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt (sale)");
    assert_eq!(store["products"]["P-1002"]["variants"][0]["price"], "44.00");
    second_run_writes_nothing(&env);
    assert_eq!(drifted(&env.plan_json(&["--drift"])).len(), 1);
}
