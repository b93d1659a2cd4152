//! Properties of the compiler: arbitrary JSON records never panic it, and
//! document hashes ignore field order and number spelling of decimals.

use std::path::Path;

use mapsync::check::load_mapping;
use mapsync::check::model::{Entity, MappingSet};
use mapsync::plan::compile::{document_hash, Compiler};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn pim() -> MappingSet {
    let (set, _, diags) =
        load_mapping(Path::new("mappings/pim-shopify"), &mapsync::registry()).unwrap();
    assert!(!diags.has_errors());
    set
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("yes"),
            Just("12.50"),
            Just("a, b"),
            Just("https://x.example/a.jpg")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("Sku".to_string()),
                    Just("Price".to_string()),
                    Just("Color".to_string()),
                    Just("Position".to_string()),
                    Just("StockCph".to_string()),
                    Just("Url".to_string()),
                    "[A-Za-z]{1,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const NAMES: &[&str] = &[
    "ItemNo",
    "CategoryId",
    "Name",
    "Handle",
    "Description",
    "Material",
    "Group",
    "Tags",
    "Size",
    "Care",
    "Specs",
    "LaunchDate",
    "Documents",
    "SeoTitle",
    "Images",
    "PackShot",
    "_Media",
    "OptName1",
    "OptName2",
    "Variants",
    "Categories",
    "SyncProduct",
    "SyncType",
    "Published",
    "ShopifyId",
    "ShopifySyncDate",
];

fn arb_record() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((prop::sample::select(NAMES), arb_json()), 0..16)
        .prop_map(|kv| kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_records_never_panic(rec in arb_record()) {
        let set = pim();
        for kind in [Entity::Category, Entity::Product] {
            let c = Compiler::new(&set, kind).unwrap();
            if let Ok(out) = c.compile(&rec) {
                prop_assert!(out.document.images.len() <= 250);
                prop_assert!(out.document.options.len() <= 3);
                let h = document_hash(&out.document);
                prop_assert!(h.starts_with("sha256:") && h.len() == 71);
            }
        }
    }
}

#[test]
fn hash_ignores_field_order_and_decimal_spelling() {
    let set = pim();
    let c = Compiler::new(&set, Entity::Product).unwrap();
    let a = json!({"ItemNo": "A1", "Name": "Shirt", "Description": "d", "OptName1": "Color",
        "Variants": [{"Sku": "S", "Color": "Red", "Price": "50.00", "Cost": 12.5}]});
    let b = json!({"Variants": [{"Cost": "12.50", "Price": 50, "Color": "Red", "Sku": "S"}],
        "OptName1": "Color", "Description": "d", "Name": "Shirt", "ItemNo": "A1"});
    let da = c.compile(a.as_object().unwrap()).unwrap().document;
    let db = c.compile(b.as_object().unwrap()).unwrap().document;
    assert_eq!(da, db);
    assert_eq!(document_hash(&da), document_hash(&db));
    let changed = json!({"ItemNo": "A1", "Name": "Shirt", "Description": "d", "OptName1": "Color",
        "Variants": [{"Sku": "S", "Color": "Red", "Price": "50.01", "Cost": 12.5}]});
    let dc = c.compile(changed.as_object().unwrap()).unwrap().document;
    assert_ne!(document_hash(&da), document_hash(&dc));
}
