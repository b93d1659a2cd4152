//! Field diffs: documents from `tests/data/reconcile/diff/*.json` against
//! target products built here (the read model is not deserialisable), with
//! the diff snapshotted and its key properties asserted.

use std::collections::BTreeMap;

use mapsync::connectors::shopify::model::{
    InventoryLevel, Media, Metafield, Product, SelectedOption, Seo, Variant,
};
use mapsync::connectors::shopify::neutral;
use mapsync::plan::diff::{self, DiffOp, LocationsByRefName};
use mapsync::plan::document::Document;
use mapsync::plan::render;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    #[allow(dead_code)]
    description: String,
    locations: LocationsByRefName,
    document: Document,
    collection_ids: BTreeMap<String, String>,
}

fn load(name: &str) -> Case {
    let p = format!(
        "{}/tests/data/reconcile/diff/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn mf(ns: &str, key: &str, value: &str) -> Metafield {
    Metafield {
        id: None,
        namespace: ns.into(),
        key: key.into(),
        kind: "single_line_text_field".into(),
        value: value.into(),
    }
}

fn variant(
    id: &str,
    sku: &str,
    price: &str,
    compare: Option<&str>,
    opts: &[(&str, &str)],
) -> Variant {
    Variant {
        id: id.into(),
        title: opts.iter().map(|o| o.1).collect::<Vec<_>>().join(" / "),
        position: None,
        sku: Some(sku.into()),
        price: price.into(),
        compare_at_price: compare.map(Into::into),
        barcode: None,
        taxable: true,
        inventory_policy: "DENY".into(),
        selected_options: opts
            .iter()
            .map(|(n, v)| SelectedOption {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
        inventory_item: None,
        inventory_levels: vec![],
        metafields: vec![],
    }
}

fn product(title: &str, variants: Vec<Variant>, metafields: Vec<Metafield>) -> Product {
    Product {
        id: "gid://shopify/Product/7".into(),
        handle: "h".into(),
        title: title.into(),
        body_html: String::new(),
        vendor: "Acme".into(),
        product_type: String::new(),
        tags: vec!["a".into(), "b".into()],
        status: "ACTIVE".into(),
        template_suffix: None,
        gift_card: false,
        online_store_url: None,
        updated_at: None,
        seo: Seo::default(),
        options: vec![],
        variants,
        media: vec![],
        metafields,
        collections: vec![],
    }
}

/// The diff of a document against a Shopify product, through the
/// connector's conversion and comparison rules.
fn shopify_diff(
    doc: &mapsync::plan::document::Document,
    p: &Product,
    locations: &LocationsByRefName,
) -> Vec<diff::DiffEntry> {
    diff::diff_product(
        doc,
        &neutral::product(p.clone()),
        locations,
        &neutral::COMPARE_RULES,
    )
}

#[test]
fn product_with_variant_changes() {
    let case = load("product-variants");
    let mut s = variant(
        "v1",
        "A1-S",
        "10.00",
        Some("50.00"),
        &[("Color", "Red"), ("Size", "S")],
    );
    s.inventory_levels = vec![InventoryLevel {
        location_id: "gid://shopify/Location/1".into(),
        quantities: [("available".to_string(), 3)].into(),
    }];
    let mut p = product(
        "Shirt",
        vec![s, variant("v2", "A1-M", "10.00", None, &[])],
        vec![
            mf("custom", "material", "cotton"),
            mf("custom", "old", "x"),
            mf("mapsync", "key", "A1"),
        ],
    );
    p.media = vec![Media {
        id: "m1".into(),
        alt: None,
        content_type: "IMAGE".into(),
        url: Some("https://cdn/x.jpg".into()),
        original_source: Some("https://img.example/a.jpg".into()),
        status: Some("READY".into()),
    }];
    p.collections = vec!["gid://shopify/Collection/1".into()];
    let d = shopify_diff(&case.document, &p, &case.locations);
    let paths: Vec<(&str, DiffOp)> = d.iter().map(|e| (e.path.as_str(), e.op)).collect();
    assert!(paths.contains(&("title", DiffOp::Change)));
    assert!(paths.contains(&("seo.title", DiffOp::Add)));
    assert!(paths.contains(&("metafields[custom.material]", DiffOp::Change)));
    assert!(paths.contains(&("metafields[custom.old]", DiffOp::Remove)));
    assert!(paths.contains(&("variants[A1-S].price", DiffOp::Change)));
    assert!(paths.contains(&("variants[A1-S].options.Color", DiffOp::Change)));
    assert!(paths.contains(&("variants[A1-S].quantities.CPH", DiffOp::Change)));
    assert!(paths.contains(&("variants[A1-L]", DiffOp::Add)));
    assert!(paths.contains(&("variants[A1-M]", DiffOp::Remove)));
    // 50 == 50.00, equal tags, the mapsync marker and equal images are no change.
    for p in [
        "variants[A1-S].compare_at_price",
        "tags",
        "vendor",
        "images",
        "metafields[mapsync.key]",
    ] {
        assert!(!paths.iter().any(|(x, _)| *x == p), "{p} must not differ");
    }
    let c = diff::diff_product_collections(
        &case.document,
        &neutral::product(p.clone()),
        &case.collection_ids,
    );
    assert_eq!(
        c.len(),
        1,
        "no categories in the document: leave the known collection"
    );
    doc_check(&c[0].after, &[]);
    let mut doc = case.document.clone();
    doc.categories = vec!["shirts".into(), "sale".into(), "unknown".into()];
    let c =
        diff::diff_product_collections(&doc, &neutral::product(p.clone()), &case.collection_ids);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].path, "collections");
    doc_check(
        &c[0].after,
        &["gid://shopify/Collection/1", "gid://shopify/Collection/2"],
    );
    insta::assert_json_snapshot!("diff-product-variants", d);
}

#[test]
fn equal_product_has_no_diff() {
    let case = load("product-equal");
    let mut p = product(
        "Mug",
        vec![variant("v", "B1", "7.50", None, &[])],
        vec![mf("other", "kept", "x")],
    );
    p.tags = vec![];
    let d = shopify_diff(&case.document, &p, &case.locations);
    assert_eq!(d, vec![]);
}

#[test]
fn create_lists_document_fields_as_add() {
    let case = load("product-variants");
    let d = diff::diff_create(&case.document);
    assert!(d.iter().all(|e| e.op == DiffOp::Add && e.before.is_null()));
    assert!(d.iter().any(|e| e.path == "variants[A1-S]"));
    insta::assert_json_snapshot!("diff-create", d);
}

#[test]
fn canonical_decimals() {
    for (a, b) in [
        ("50", "50.00"),
        ("012.50", "12.5"),
        ("-0.0", "0"),
        ("+3", "3.000"),
    ] {
        assert_eq!(
            diff::canonical_decimal(a),
            diff::canonical_decimal(b),
            "{a} vs {b}"
        );
    }
    assert_eq!(diff::canonical_decimal("abc"), None);
    assert_ne!(
        diff::canonical_decimal("1.5"),
        diff::canonical_decimal("15")
    );
}

#[test]
fn human_view_and_exit_code() {
    let case = load("product-variants");
    let p = product("Shirt", vec![], vec![]);
    let mut plan = mapsync::plan::reconcile::Plan {
        format_version: 1,
        profile: "demo".into(),
        created_at: "2026-01-10T00:00:00Z".into(),
        target_serial: "s".into(),
        summary: Default::default(),
        changes: vec![],
        mass_delete: vec![],
        reads: vec![],
    };
    assert_eq!(render::detailed_exit_code(&plan), 0);
    plan.changes.push(mapsync::plan::reconcile::Change {
        entity: mapsync::plan::document::Entity::Product,
        key: Some("A1".into()),
        target_id: Some(p.id.clone()),
        action: mapsync::plan::reconcile::Action::Update,
        rule: "product.update.changed".into(),
        reason: "the mapped document differs from the one last synced".into(),
        diff: vec![],
        diagnostics: vec![],
        drift: vec![],
        two_way: vec![],
    });
    assert!(plan.set_diff(
        case.document.entity,
        "A1",
        shopify_diff(&case.document, &p, &case.locations)
    ));
    plan.recount();
    assert_eq!(render::detailed_exit_code(&plan), 2);
    insta::assert_snapshot!(
        "human-update",
        render::human(&plan, render::RenderOptions::default())
    );
    let colored = render::human(
        &plan,
        render::RenderOptions {
            color: true,
            verbose: false,
        },
    );
    assert!(colored.contains("\x1b["));
    let back: mapsync::plan::reconcile::Plan =
        serde_json::from_str(&render::json(&plan).unwrap()).unwrap();
    assert_eq!(back, plan);
}

fn doc_check(v: &serde_json::Value, want: &[&str]) {
    let got: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(got, want);
}
