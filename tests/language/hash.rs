//! Content hashes: pinned values (stable across machines and versions),
//! and properties: key order never matters, any leaf change does.

use mapsync::hash::{canonical_json, content_hash};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Pinned: changing these means every ledger hash changes, which makes
/// every item look changed on the next run. Do not update them lightly.
#[test]
fn known_hashes() {
    assert_eq!(
        content_hash(&json!({})),
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    let doc = json!({
        "title": "Shirt",
        "variants": [{"sku": "A1-S", "price": "10.00", "options": {"Size": "S", "Color": "Red"}}],
        "tags": ["a", "b"],
        "published": true,
        "weight": 1.5,
        "qty": -3,
        "note": null,
        "text": "línea\n\"quoted\"\u{1F600}"
    });
    assert_eq!(
        canonical_json(&doc),
        r#"{"note":null,"published":true,"qty":-3,"tags":["a","b"],"text":"línea\n\"quoted\"😀","title":"Shirt","variants":[{"options":{"Color":"Red","Size":"S"},"price":"10.00","sku":"A1-S"}],"weight":1.5}"#
    );
    assert_eq!(
        content_hash(&doc),
        "sha256:87630fd0539c1cb66ceea64b3119c1f95ff16a631e9b169ce23b3ac73515c4ab"
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The same document with every object's keys in an order given by `seed`.
fn permute(v: &Value, seed: &mut u64) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| permute(i, seed)).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Fisher-Yates with a small LCG: deterministic per seed.
            for i in (1..entries.len()).rev() {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let j = (*seed >> 33) as usize % (i + 1);
                entries.swap(i, j);
            }
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k.clone(), permute(v, seed));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The document rebuilt with every object's keys inserted in sorted order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

fn count_leaves(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(count_leaves).sum(),
        Value::Object(map) => map.values().map(count_leaves).sum(),
        _ => 1,
    }
}

/// Changes leaf number `n` (in document order) to a different value.
fn change_leaf(v: &mut Value, n: &mut usize) -> bool {
    match v {
        Value::Array(items) => items.iter_mut().any(|i| change_leaf(i, n)),
        Value::Object(map) => map.values_mut().any(|i| change_leaf(i, n)),
        leaf => {
            if *n > 0 {
                *n -= 1;
                return false;
            }
            *leaf = match leaf.take() {
                Value::Null => json!(0),
                Value::Bool(b) => json!(!b),
                Value::Number(x) => match x.as_i64() {
                    Some(i) => json!(i.wrapping_add(1)),
                    None => json!(x.as_f64().unwrap_or(0.0) + 1.0),
                },
                Value::String(s) => json!(format!("{s}x")),
                other => other,
            };
            true
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn key_order_never_changes_the_hash(doc in arb_json(), seed in any::<u64>()) {
        let mut seed = seed;
        let shuffled = permute(&doc, &mut seed);
        prop_assert_eq!(content_hash(&doc), content_hash(&shuffled));
    }

    #[test]
    fn changing_any_leaf_changes_the_hash(doc in arb_json(), pick in any::<usize>()) {
        let leaves = count_leaves(&doc);
        prop_assume!(leaves > 0);
        let mut changed = doc.clone();
        let mut n = pick % leaves;
        prop_assert!(change_leaf(&mut changed, &mut n));
        prop_assert_ne!(content_hash(&doc), content_hash(&changed));
    }

    #[test]
    fn canonical_form_is_serde_json_with_sorted_keys(doc in arb_json()) {
        let text = canonical_json(&doc);
        prop_assert!(serde_json::from_str::<Value>(&text).is_ok());
        prop_assert_eq!(text, serde_json::to_string(&sorted(&doc)).unwrap());
    }
}
