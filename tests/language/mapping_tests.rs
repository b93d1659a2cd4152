//! The shipped mapping sets' `tests:` pass, and a wrong expectation fails
//! with a readable difference.

use std::path::Path;

use mapsync::check::load_mapping;
use mapsync::plan::testing::{run_tests, subset_differences};
use serde_json::json;

fn run(path: &str) -> Vec<mapsync::plan::testing::TestOutcome> {
    let (set, _files, diags) = load_mapping(Path::new(path), &mapsync::registry()).unwrap();
    assert!(!diags.has_errors(), "{path} does not validate: {diags:?}");
    assert!(!set.tests.is_empty(), "{path} has no tests");
    run_tests(&set)
}

/// Every test of a shipped mapping set passes.
fn check_shipped(dir: &str) {
    let outcomes = run(dir);
    assert!(!outcomes.is_empty(), "{dir} has no tests");
    for t in outcomes {
        assert!(
            t.passed,
            "{dir}: test '{}' failed: {:#?}\nactual: {:#?}",
            t.name, t.differences, t.actual
        );
    }
}

#[test]
fn demo_mapping_passes_its_tests() {
    check_shipped("mappings/demo");
}

#[test]
fn pim_shopify_mapping_passes_its_tests() {
    check_shipped("mappings/pim-shopify");
}

#[test]
fn rest_store_mapping_passes_its_tests() {
    check_shipped("mappings/rest-store");
}

#[test]
fn a_wrong_expectation_fails_with_the_path_of_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    std::fs::write(
        &file,
        r#"mapsync: 1
entities:
  product:
    key: ItemNo
    map: { title: Name }
    variants:
      from: Variants
      key: Sku
      map: { sku: Sku, price: Price, "Option|Color": Color }
tests:
  - name: wrong price
    entity: product
    input: { ItemNo: A1, Name: Shirt, Variants: [ { Sku: A1-S, Color: Red, Price: "12" } ] }
    expect: { title: Shirt, variants: [ { sku: A1-S, price: "10", options: { Color: Red } } ] }
  - name: right price, written with decimals
    entity: product
    input: { ItemNo: A1, Name: Shirt, Variants: [ { Sku: A1-S, Color: Red, Price: "12" } ] }
    expect: { variants: [ { price: "12.00" } ] }
  - name: invalid input fails
    entity: product
    input: { ItemNo: A1, Name: Shirt, Variants: [ { Sku: A1-S, Color: Red, Price: "twelve" } ] }
    expect: { title: Shirt }
"#,
    )
    .unwrap();
    let out = run(file.to_str().unwrap());
    assert_eq!(out.len(), 3);
    assert!(!out[0].passed);
    assert_eq!(
        out[0].differences,
        vec![r#"variants[0].price: expected "10", got "12""#.to_string()]
    );
    assert!(out[1].passed, "{:?}", out[1].differences);
    assert!(!out[2].passed);
    assert!(
        out[2].differences[0].contains("record::value"),
        "{:?}",
        out[2].differences
    );
}

#[test]
fn subset_rules() {
    let actual =
        json!({"title": "T", "tags": ["a", "b"], "variants": [{"sku": "S", "price": "19.9"}]});
    assert!(subset_differences(&json!({"title": "T"}), &actual).is_empty());
    assert!(subset_differences(&json!({"variants": [{"price": 19.90}]}), &actual).is_empty());
    assert!(subset_differences(&json!({"missing": null}), &actual).is_empty());
    assert_eq!(
        subset_differences(&json!({"tags": ["a"]}), &actual),
        vec![r#"tags: expected 1 item(s), got 2: ["a","b"]"#.to_string()]
    );
    assert_eq!(
        subset_differences(&json!({"vendor": "Acme"}), &actual),
        vec![r#"vendor: expected "Acme", but it is missing"#.to_string()]
    );
}
