//! The store as a user sees it, for comparing stores in end-to-end tests:
//! the sandbox snapshot without ids and clocks, and write counters.

use std::collections::BTreeMap;

use serde_json::Value;

pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

pub fn values(v: &Value) -> Vec<&Value> {
    match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

pub fn marker(item: &Value) -> Option<String> {
    values(&item["metafields"])
        .into_iter()
        .find(|m| m["namespace"] == "mapsync" && m["key"] == "key")
        .and_then(|m| m["value"].as_str().map(str::to_string))
}

/// The store without ids and clocks: products and collections by marker,
/// with what a sync sets. Two stores that a user cannot tell apart compare
/// equal.
pub fn normalized(snapshot: &Value) -> Value {
    let mut collections = BTreeMap::new();
    let mut handle_of = BTreeMap::new();
    for c in values(&snapshot["collections"]) {
        handle_of.insert(c["id"].to_string(), c["handle"].clone());
        let key = marker(c).unwrap_or_else(|| format!("unowned {}", c["handle"]));
        let prev = collections.insert(
            key.clone(),
            serde_json::json!({
                "handle": c["handle"], "title": c["title"],
                "description_html": c["description_html"],
                "image": c["image"]["url"],
            }),
        );
        assert!(prev.is_none(), "two collections carry the key {key}");
    }
    let mut products = BTreeMap::new();
    for p in values(&snapshot["products"]) {
        let key = marker(p).unwrap_or_else(|| format!("unowned {}", p["handle"]));
        let mut cols: Vec<String> = values(&p["collections"])
            .into_iter()
            .map(|id| {
                handle_of
                    .get(&id.to_string())
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            })
            .collect();
        cols.sort();
        let variants: Vec<Value> = values(&p["variants"])
            .into_iter()
            .map(|v| {
                let levels: Vec<Value> = values(&v["inventory_item"]["levels"])
                    .into_iter()
                    .map(|l| l["available"].clone())
                    .collect();
                serde_json::json!({
                    "sku": v["sku"], "price": v["price"],
                    "compare_at_price": v["compare_at_price"],
                    "options": v["option_values"], "available": levels,
                    "tracked": v["inventory_item"]["tracked"],
                })
            })
            .collect();
        let mut metafields: Vec<String> = values(&p["metafields"])
            .into_iter()
            .map(|m| format!("{}.{}={}", m["namespace"], m["key"], m["value"]))
            .collect();
        metafields.sort();
        let media: Vec<Value> = values(&p["media"])
            .into_iter()
            .map(|m| m["original_source"].clone())
            .collect();
        let prev = products.insert(
            key.clone(),
            serde_json::json!({
                "handle": p["handle"], "title": p["title"], "status": p["status"],
                "body": p["description_html"], "vendor": p["vendor"], "tags": p["tags"],
                "seo_title": p["seo_title"], "variants": variants,
                "metafields": metafields, "media": media, "collections": cols,
            }),
        );
        assert!(prev.is_none(), "two products carry the key {key}");
    }
    serde_json::json!({ "collections": collections, "products": products })
}
