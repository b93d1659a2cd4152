//! `Target::find_by` of the `shopify` target (for `match:`, docs/two-way.md)
//! against the emulated store: products by a variant's SKU and by handle,
//! custom collections by handle, many values per search; only exact values
//! are hits (the search narrows, the comparison decides).

use mapsync::connectors::shopify::{
    AccessToken, ClientConfig, ReadOptions, ShopLocation, ShopifyClient, ShopifyTarget, Target,
};
use mapsync::plan::document::Entity;
use serde_json::json;

use crate::sandbox_support::{simple_product, start_default, PRODUCT_SET};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn items_are_found_by_sku_and_handle_in_few_searches() {
    let sb = start_default().await;
    let mut ids = Vec::new();
    for title in ["Tee", "Tee Long", "Cap"] {
        let d = sb
            .data(PRODUCT_SET, json!({ "input": simple_product(title, 2) }))
            .await;
        ids.push(
            d["productSet"]["product"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    sb.data(
        "mutation { collectionCreate(input: {title: \"Summer Sale\"}) { collection { id } } }",
        json!({}),
    )
    .await;
    let config = ClientConfig::new(
        ShopLocation::url(&sb.handle.url()).unwrap(),
        AccessToken::new("shpat_test"),
    );
    let target = ShopifyTarget::new(ShopifyClient::new(config).unwrap(), ReadOptions::default());
    let stats = || sb.get("/__sandbox/stats");

    // `Tee-1` is a SKU of Tee; `Tee` alone is no SKU (Tee Long's `Tee
    // Long-0` starts with it); 30 values take two searches of 25.
    let mut values = strings(&["Tee-1", "Cap-0", "Cap-1", "Tee", "none"]);
    values.extend((0..25).map(|i| format!("X-{i}")));
    let before = stats().await["by_operation"]["productVariants"]
        .as_u64()
        .unwrap_or(0);
    let mut hits: Vec<(String, String)> = target
        .find_by(Entity::Product, "sku", &values)
        .await
        .unwrap()
        .into_iter()
        .map(|(v, t)| (v, t.id))
        .collect();
    hits.sort();
    assert_eq!(
        hits,
        vec![
            ("Cap-0".to_string(), ids[2].clone()),
            ("Cap-1".to_string(), ids[2].clone()),
            ("Tee-1".to_string(), ids[0].clone()),
        ]
    );
    let after = stats().await["by_operation"]["productVariants"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(after - before, 2, "30 values, 25 a search");

    let hits = target
        .find_by(
            Entity::Product,
            "handle",
            &strings(&["tee-long", "tee-lon"]),
        )
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0].0.as_str(), hits[0].1.id.as_str()),
        ("tee-long", ids[1].as_str())
    );
    assert_eq!(hits[0].1.title, "Tee Long");

    let hits = target
        .find_by(
            Entity::Category,
            "handle",
            &strings(&["summer-sale", "winter"]),
        )
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].1.title, "Summer Sale");

    // A field the target cannot search finds nothing.
    let hits = target
        .find_by(Entity::Product, "vendor", &strings(&["Acme"]))
        .await
        .unwrap();
    assert!(hits.is_empty());
    sb.handle.shutdown().await.ok();
}
