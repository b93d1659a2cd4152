//! The read side against a local fake shop (axum on 127.0.0.1) that answers
//! our documents from `tests/data/shopify_client/store.json` with real cursor
//! pagination: 600 products across pages, the full read with overflow pages
//! and variant details, lookups, and a bulk export assembled from JSONL.
//! Expected results are files beside the data (`UPDATE_EXPECT=1` rewrites them).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mapsync::connectors::shopify::bulk::{assemble, BulkOptions};
use mapsync::connectors::shopify::cost::FullReadShape;
use mapsync::connectors::shopify::{
    products_from_bulk, AccessToken, ClientConfig, ReadHint, ReadMode, ReadOptions, ShopLocation,
    ShopifyClient, ShopifyTarget,
};
use serde_json::{json, Value};

use crate::shopify_server::{Reply, Seen, TestShop};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/shopify_client")
}

/// Compares `actual` with the expected JSON file (writes it when missing or
/// when UPDATE_EXPECT is set).
fn check_expected(name: &str, actual: &impl serde::Serialize) {
    let path = data_dir().join(name);
    let actual = serde_json::to_value(actual).unwrap();
    if std::env::var_os("UPDATE_EXPECT").is_some() || !path.exists() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(actual, expected, "differs from {}", path.display());
}

fn target(shop: &TestShop, options: ReadOptions) -> ShopifyTarget {
    let mut config = ClientConfig::new(
        ShopLocation::url(&shop.url()).unwrap(),
        AccessToken::new("shpat_test"),
    );
    config.backoff_base = Duration::from_millis(5);
    ShopifyTarget::new(ShopifyClient::new(config).unwrap(), options)
}

fn answer(data: Value) -> Reply {
    Reply::Json(json!({
        "data": data,
        "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": 5,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990.0, "restoreRate": 100.0}}}
    }))
}

/// A Relay connection page over `items`; cursors are indexes.
fn connection(items: &[Value], vars: &Value, first_key: &str) -> Value {
    let first = vars[first_key].as_u64().expect("first") as usize;
    assert!((1..=250).contains(&first), "first = {first}");
    let start = vars["after"]
        .as_str()
        .map(|a| a.parse::<usize>().unwrap() + 1)
        .unwrap_or(0)
        .min(items.len());
    let end = (start + first).min(items.len());
    let edges: Vec<Value> = items[start..end]
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"cursor": (start + i).to_string(), "node": n}))
        .collect();
    json!({
        "edges": edges,
        "pageInfo": {"hasNextPage": end < items.len(),
                      "endCursor": if end > start { Some((end - 1).to_string()) } else { None }}
    })
}

fn marker(metafields: &Value) -> Value {
    metafields
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["namespace"] == "mapsync" && m["key"] == "key")
        .map(|m| json!({"value": m["value"]}))
        .unwrap_or(Value::Null)
}

/// The fake shop over store.json.
struct Store {
    data: Value,
}

impl Store {
    fn load() -> Self {
        let text = std::fs::read_to_string(data_dir().join("store.json")).unwrap();
        Self {
            data: serde_json::from_str(&text).unwrap(),
        }
    }

    fn products(&self) -> &Vec<Value> {
        self.data["products"].as_array().unwrap()
    }

    fn collections(&self) -> &Vec<Value> {
        self.data["collections"].as_array().unwrap()
    }

    fn variants(&self) -> impl Iterator<Item = &Value> {
        self.products()
            .iter()
            .flat_map(|p| p["variants"].as_array().unwrap().iter())
    }

    fn variant_core(v: &Value) -> Value {
        let mut v = v.clone();
        let o = v.as_object_mut().unwrap();
        o.remove("levels");
        o.remove("metafields");
        v
    }

    fn levels(v: &Value, names: &Value) -> Vec<Value> {
        v["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let quantities: Vec<Value> = names
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|n| {
                        l.get(n.as_str().unwrap())
                            .map(|q| json!({"name": n, "quantity": q}))
                    })
                    .collect();
                json!({"location": {"id": l["location"]}, "quantities": quantities})
            })
            .collect()
    }

    fn collection_ids(p: &Value) -> Vec<Value> {
        p["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| json!({"id": id}))
            .collect()
    }

    fn product_full(p: &Value, vars: &Value) -> Value {
        let mut out = p.clone();
        let o = out.as_object_mut().unwrap();
        let variants: Vec<Value> = p["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(Self::variant_core)
            .collect();
        o.insert(
            "variants".into(),
            connection(&variants, vars, "variantsFirst"),
        );
        o.insert(
            "media".into(),
            connection(p["media"].as_array().unwrap(), vars, "mediaFirst"),
        );
        o.insert(
            "metafields".into(),
            connection(p["metafields"].as_array().unwrap(), vars, "metafieldsFirst"),
        );
        o.insert(
            "collections".into(),
            connection(&Self::collection_ids(p), vars, "collectionsFirst"),
        );
        out
    }

    fn collection_reduced(c: &Value) -> Value {
        json!({
            "id": c["id"], "handle": c["handle"], "title": c["title"], "updatedAt": c["updatedAt"],
            "ruleSet": c["ruleSet"],
            "resourcePublicationsCount": {"count": c["published"]},
            "marker": marker(&c["metafields"]),
        })
    }

    fn answer(&self, seen: &Seen) -> Reply {
        let vars = &seen.variables;
        let op = seen.operation.as_deref().unwrap_or("");
        if let Some(ids) = vars["ids"].as_array() {
            assert!(ids.len() <= 250, "{op}: {} ids", ids.len());
        }
        let data = match op {
            "Locations" => {
                json!({"locations": connection(self.data["locations"].as_array().unwrap(), vars, "first")})
            }
            "ProductsReduced" => {
                let rows: Vec<Value> = self
                    .products()
                    .iter()
                    .map(|p| json!({"id": p["id"], "handle": p["handle"], "title": p["title"],
                        "status": p["status"], "updatedAt": p["updatedAt"], "marker": marker(&p["metafields"])}))
                    .collect();
                json!({"products": connection(&rows, vars, "first")})
            }
            "CollectionsReduced" => {
                let query = vars["query"].as_str().unwrap_or("");
                let rows: Vec<Value> = self
                    .collections()
                    .iter()
                    .filter(|c| match query.strip_prefix("handle:") {
                        Some(h) => h.trim_matches('\'') == c["handle"],
                        None => true,
                    })
                    .map(Self::collection_reduced)
                    .collect();
                json!({"collections": connection(&rows, vars, "first")})
            }
            "ProductByIdentifier" => {
                let ident = &vars["identifier"];
                let found = self.products().iter().find(|p| {
                    if let Some(h) = ident["handle"].as_str() {
                        return p["handle"] == h;
                    }
                    marker(&p["metafields"])["value"] == ident["customId"]["value"]
                });
                json!({"productByIdentifier": found.map(|p| json!({"id": p["id"], "handle": p["handle"],
                    "title": p["title"], "status": p["status"], "updatedAt": p["updatedAt"],
                    "marker": marker(&p["metafields"])}))})
            }
            "ProductsFull" => {
                let nodes: Vec<Value> = vars["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|id| {
                        self.products()
                            .iter()
                            .find(|p| &p["id"] == id)
                            .map(|p| Self::product_full(p, vars))
                            .unwrap_or(Value::Null)
                    })
                    .collect();
                json!({"nodes": nodes})
            }
            "VariantsDetail" => {
                let nodes: Vec<Value> = vars["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|id| {
                        let v = self.variants().find(|v| &v["id"] == id).unwrap();
                        json!({
                            "id": v["id"],
                            "inventoryItem": {
                                "id": v["inventoryItem"]["id"],
                                "inventoryLevels": connection(&Self::levels(v, &vars["quantityNames"]), vars, "levelsFirst"),
                            },
                            "metafields": connection(v["metafields"].as_array().unwrap(), vars, "metafieldsFirst"),
                        })
                    })
                    .collect();
                json!({"nodes": nodes})
            }
            "CollectionsFull" => {
                let nodes: Vec<Value> = vars["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(
                        |id| match self.collections().iter().find(|c| &c["id"] == id) {
                            Some(c) => {
                                let mut out = c.clone();
                                let o = out.as_object_mut().unwrap();
                                o.insert(
                                    "resourcePublicationsCount".into(),
                                    json!({"count": c["published"]}),
                                );
                                o.insert(
                                    "metafields".into(),
                                    connection(
                                        c["metafields"].as_array().unwrap(),
                                        vars,
                                        "metafieldsFirst",
                                    ),
                                );
                                out
                            }
                            None => Value::Null,
                        },
                    )
                    .collect();
                json!({"nodes": nodes})
            }
            "ProductVariantsPage" | "ProductMediaPage" | "ProductCollectionsPage" => {
                let p = self
                    .products()
                    .iter()
                    .find(|p| p["id"] == vars["id"])
                    .unwrap();
                let (field, items): (&str, Vec<Value>) = match op {
                    "ProductVariantsPage" => (
                        "variants",
                        p["variants"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(Self::variant_core)
                            .collect(),
                    ),
                    "ProductMediaPage" => ("media", p["media"].as_array().unwrap().clone()),
                    _ => ("collections", Self::collection_ids(p)),
                };
                json!({"node": {field: connection(&items, vars, "first")}})
            }
            "MetafieldsPage" => {
                let owner = self
                    .products()
                    .iter()
                    .chain(self.collections().iter())
                    .chain(self.variants())
                    .find(|o| o["id"] == vars["id"])
                    .unwrap();
                json!({"node": {"metafields": connection(owner["metafields"].as_array().unwrap(), vars, "first")}})
            }
            "InventoryLevelsPage" => {
                let v = self
                    .variants()
                    .find(|v| v["inventoryItem"]["id"] == vars["id"])
                    .unwrap();
                json!({"node": {"inventoryLevels": connection(&Self::levels(v, &vars["quantityNames"]), vars, "first")}})
            }
            other => panic!("unexpected operation {other}"),
        };
        answer(data)
    }
}

#[tokio::test]
async fn reduced_read_pages_through_600_products() {
    let products: Vec<Value> = (0..600)
        .map(|i| {
            json!({"id": format!("gid://shopify/Product/{i}"), "handle": format!("p-{i}"),
                "title": format!("P {i}"), "status": if i % 3 == 0 { "DRAFT" } else { "ACTIVE" },
                "updatedAt": "2025-01-01T00:00:00Z",
                "marker": if i % 2 == 0 { json!({"value": format!("KEY-{i}")}) } else { Value::Null }})
        })
        .collect();
    let shop = TestShop::start(move |seen: &Seen, _| match seen.operation.as_deref() {
        Some("ProductsReduced") => {
            answer(json!({"products": connection(&products, &seen.variables, "first")}))
        }
        Some("CollectionsReduced") => {
            answer(json!({"collections": connection(&[], &seen.variables, "first")}))
        }
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let t = target(&shop, ReadOptions::default());
    let catalog = t.read_reduced(ReadHint::default()).await.unwrap();
    assert_eq!(catalog.products.len(), 600);
    for (i, p) in catalog.products.iter().enumerate() {
        assert_eq!(p.id, format!("gid://shopify/Product/{i}"));
        assert_eq!(p.published, i % 3 != 0);
        assert_eq!(p.marker, (i % 2 == 0).then(|| format!("KEY-{i}")));
    }
    assert_eq!(shop.count_op("ProductsReduced"), 3);
    let firsts: Vec<u64> = shop
        .seen()
        .iter()
        .filter(|s| s.operation.as_deref() == Some("ProductsReduced"))
        .map(|s| s.variables["first"].as_u64().unwrap())
        .collect();
    assert_eq!(firsts, vec![250, 250, 250]);
}

fn small_shape() -> FullReadShape {
    FullReadShape {
        variants_first: 2,
        media_first: 1,
        metafields_first: 1,
        collections_first: 1,
        variant_metafields_first: 1,
        levels_first: 1,
        quantity_names: vec!["available".into()],
        collection_metafields_first: 1,
    }
}

async fn store_shop() -> TestShop {
    let store = Arc::new(Store::load());
    TestShop::start(move |seen: &Seen, _| store.answer(seen)).await
}

#[tokio::test]
async fn full_read_follows_every_overflowing_connection() {
    let shop = store_shop().await;
    let options = ReadOptions {
        shape: small_shape(),
        ..ReadOptions::default()
    };
    let t = target(&shop, options);
    let ids: Vec<String> = vec![
        "gid://shopify/Product/1".into(),
        "gid://shopify/Product/404".into(),
        "gid://shopify/Product/2".into(),
    ];
    let products = t.read_products(&ids).await.unwrap();
    assert_eq!(products.len(), 2, "the unknown id is absent");
    assert_eq!(products[0].marker(), Some("MUG-1"));
    assert_eq!(products[0].variants.len(), 4);
    check_expected("expected_products_full.json", &products);
    // every overflow document was needed with this small shape
    for op in [
        "ProductVariantsPage",
        "ProductMediaPage",
        "ProductCollectionsPage",
        "MetafieldsPage",
        "InventoryLevelsPage",
        "VariantsDetail",
    ] {
        assert!(shop.count_op(op) > 0, "{op} was not used");
    }

    // The default shape reads the same state without overflow pages.
    let shop2 = store_shop().await;
    let t2 = target(&shop2, ReadOptions::default());
    let again = t2.read_products(&ids).await.unwrap();
    assert_eq!(again, products);
    assert_eq!(shop2.count_op("ProductsFull"), 1);
    assert_eq!(shop2.count_op("ProductVariantsPage"), 0);
}

#[tokio::test]
async fn collections_locations_and_lookups() {
    let shop = store_shop().await;
    let t = target(
        &shop,
        ReadOptions {
            shape: small_shape(),
            ..ReadOptions::default()
        },
    );
    let locations = t.locations().await.unwrap();
    assert_eq!(locations.len(), 2, "inactive location left out");
    let catalog = t.read_reduced(ReadHint::default()).await.unwrap();
    check_expected("expected_reduced.json", &catalog);
    let ids: Vec<String> = catalog.categories.iter().map(|c| c.id.clone()).collect();
    let collections = t.read_collections(&ids).await.unwrap();
    check_expected("expected_collections_full.json", &collections);

    let by_marker = t.find_product_by_marker("MUG-1").await.unwrap().unwrap();
    assert_eq!(by_marker.id, "gid://shopify/Product/1");
    assert!(t.find_product_by_marker("NOPE").await.unwrap().is_none());
    assert_eq!(
        t.find_product_by_handle("plate").await.unwrap().unwrap().id,
        "gid://shopify/Product/2"
    );
    assert_eq!(
        t.find_collection_by_marker("CAT-1")
            .await
            .unwrap()
            .unwrap()
            .handle,
        "cups"
    );
    assert_eq!(
        t.find_collection_by_handle("plates")
            .await
            .unwrap()
            .unwrap()
            .id,
        "gid://shopify/Collection/12"
    );
    assert!(
        t.find_collection_by_handle("sale").await.unwrap().is_none(),
        "smart collections are not ours"
    );
}

#[test]
fn bulk_jsonl_assembles_into_products() {
    let text = std::fs::read_to_string(data_dir().join("bulk_products_full.jsonl")).unwrap();
    let nodes = assemble(&text).unwrap();
    assert_eq!(nodes.len(), 2);
    let products = products_from_bulk(nodes).unwrap();
    assert_eq!(
        products[0].collections.len(),
        2,
        "a child after another root still finds its parent"
    );
    check_expected("expected_bulk_products.json", &products);
}

#[tokio::test]
async fn bulk_reduced_read_runs_polls_and_downloads() {
    let store = Arc::new(Store::load());
    let file_url: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let polls = Arc::new(Mutex::new(0u32));
    let (u, p) = (file_url.clone(), polls.clone());
    let shop = TestShop::start(move |seen: &Seen, _| match seen.operation.as_deref() {
        Some("BulkOperationRunQuery") => {
            assert!(seen.variables["query"].as_str().unwrap().contains("products"));
            answer(json!({"bulkOperationRunQuery": {"bulkOperation": {"id": "gid://shopify/BulkOperation/7", "status": "CREATED"}, "userErrors": []}}))
        }
        Some("CurrentBulkOperation") => {
            let mut n = p.lock().unwrap();
            *n += 1;
            let done = *n >= 2;
            answer(json!({"currentBulkOperation": {
                "id": "gid://shopify/BulkOperation/7",
                "status": if done { "COMPLETED" } else { "RUNNING" },
                "errorCode": null, "objectCount": "2", "rootObjectCount": "2",
                "url": if done { u.lock().unwrap().clone() } else { None },
                "partialDataUrl": null}}))
        }
        _ => store.answer(seen),
    })
    .await;
    let lines = Store::load()
        .products()
        .iter()
        .map(|p| {
            json!({"id": p["id"], "handle": p["handle"], "title": p["title"], "status": p["status"],
                "updatedAt": p["updatedAt"], "marker": marker(&p["metafields"])})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    *file_url.lock().unwrap() = Some(shop.put_file("products.jsonl", lines));
    let options = ReadOptions {
        mode: ReadMode::Auto,
        bulk_threshold: 1000,
        bulk: BulkOptions {
            poll_interval: Duration::from_millis(10),
            poll_max: Duration::from_millis(20),
            timeout: Duration::from_secs(20),
        },
        ..ReadOptions::default()
    };
    let t = target(&shop, options);
    let catalog = t
        .read_reduced(ReadHint {
            expected_products: Some(50_000),
            expected_categories: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(catalog.products.len(), 2);
    assert_eq!(catalog.products[0].marker.as_deref(), Some("MUG-1"));
    assert_eq!(
        catalog.categories.len(),
        2,
        "collections were paged (few expected)"
    );
    assert_eq!(shop.count_op("ProductsReduced"), 0);
    assert_eq!(shop.count_op("BulkOperationRunQuery"), 1);
    assert_eq!(*polls.lock().unwrap(), 2);
}
