//! The sandbox over real HTTP: paging through 1,000 products, cost
//! arithmetic, the leaky bucket running dry and recovering, persistence
//! across a restart, every fault kind (also targeted at an operation), the
//! token, control endpoints with the idempotent replay counter, and bulk
//! operations; the staged upload endpoint.

use std::time::Duration;

use mapsync::sandbox::runtime::Faults;
use mapsync::sandbox::{FaultKind, SandboxConfig, ShopPlan};
use serde_json::{json, Value};

use crate::sandbox_support::{simple_product, start, start_default, Sb, PRODUCT_SET};

const SET_SMALL: &str = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { id } userErrors { field } } }";

async fn create(sb: &Sb, input: Value) -> String {
    let d = sb.data(SET_SMALL, json!({"i": input})).await;
    assert_eq!(d["productSet"]["userErrors"], json!([]), "{d}");
    d["productSet"]["product"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn status(v: &Value) -> &Value {
    &v["extensions"]["cost"]["throttleStatus"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_1000_products() {
    let sb = start(SandboxConfig {
        plan: ShopPlan::Unlimited,
        ..Default::default()
    })
    .await;
    let sb = std::sync::Arc::new(sb);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let sb = sb.clone();
        tasks.spawn(async move {
            for i in (w..1000).step_by(8) {
                create(&sb, json!({"title": format!("P-{i:04}"), "status": if i % 2 == 0 { "ACTIVE" } else { "DRAFT" }})).await;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let q = "query($after: String) { products(first: 250, after: $after) { edges { cursor node { id title } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut after = Value::Null;
    let mut ids = Vec::new();
    let mut titles = std::collections::BTreeSet::new();
    let mut pages = 0;
    loop {
        let d = sb.data(q, json!({"after": after})).await;
        let conn = &d["products"];
        pages += 1;
        for e in conn["edges"].as_array().unwrap() {
            let id = e["node"]["id"].as_str().unwrap();
            ids.push(id.rsplit('/').next().unwrap().parse::<u64>().unwrap());
            titles.insert(e["node"]["title"].as_str().unwrap().to_string());
        }
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], json!(pages > 1));
        if conn["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 4);
    assert_eq!(ids.len(), 1000);
    assert_eq!(titles.len(), 1000);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids ascend and never repeat"
    );

    // Filtered and reversed paging.
    let q = "query($after: String) { products(first: 100, after: $after, query: \"status:draft\", sortKey: TITLE, reverse: true) { nodes { title status } pageInfo { hasNextPage endCursor } } }";
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let d = sb.data(q, json!({"after": after})).await;
        for n in d["products"]["nodes"].as_array().unwrap() {
            assert_eq!(n["status"], "DRAFT");
            seen.push(n["title"].as_str().unwrap().to_string());
        }
        if d["products"]["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = d["products"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 500);
    assert_eq!(seen.first().map(String::as_str), Some("P-0999"));
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
    let d = sb
        .data(
            "{ productsCount(query: \"status:active\") { count precision } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["productsCount"],
        json!({"count": 500, "precision": "EXACT"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_arithmetic() {
    let sb = start(SandboxConfig {
        bucket: Some(1000.0),
        restore_rate: Some(1.0),
        ..Default::default()
    })
    .await;
    for t in ["A", "B", "C"] {
        create(&sb, simple_product(t, 2)).await;
    }
    // A mutation: 10 + product (1) + userErrors (1) requested; nothing in userErrors.
    let r = sb.gql(SET_SMALL, json!({"i": {"title": "D"}})).await;
    assert_eq!(r["extensions"]["cost"]["requestedQueryCost"], 12);
    assert_eq!(r["extensions"]["cost"]["actualQueryCost"], 11);
    let before = status(&r)["currentlyAvailable"].as_f64().unwrap();

    // A connection: 2 + first × node; a nested connection inside the node.
    let q = "{ products(first: 10) { edges { node { id title variants(first: 5) { nodes { id sku } } } } pageInfo { hasNextPage } } }";
    let r = sb.gql(q, json!({})).await;
    let cost = &r["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 2 + 10 * (1 + 2 + 5));
    // 4 products returned: A-C have 2 variants, D has its default variant.
    assert_eq!(cost["actualQueryCost"], 2 + 3 * (1 + 2 + 2) + (1 + 2 + 1));
    let after = status(&r)["currentlyAvailable"].as_f64().unwrap();
    let spent = before - after;
    assert!(
        (19.0..=21.0).contains(&spent),
        "charged the actual cost: spent {spent}"
    );
    assert_eq!(status(&r)["maximumAvailable"], 1000.0);
    assert_eq!(status(&r)["restoreRate"], 1.0);

    // Variables and fragments count too.
    let q = "query($n: Int!) { products(first: $n) { ...P } } fragment P on ProductConnection { nodes { id options { name } } }";
    let r = sb.gql(q, json!({"n": 7})).await;
    assert_eq!(
        r["extensions"]["cost"]["requestedQueryCost"],
        2 + 7 * (1 + 1)
    );

    // Above 1000 requested points the query is refused and nothing is charged.
    let q = "{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }";
    let r = sb.gql(q, json!({})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED");
    assert_eq!(
        r["extensions"]["cost"]["requestedQueryCost"],
        2 + 250 * (1 + 2 + 250)
    );
    assert_eq!(r["extensions"]["cost"]["actualQueryCost"], Value::Null);
    assert!(r.get("data").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_runs_the_bucket_dry_and_recovers_at_the_restore_rate() {
    let sb = start(SandboxConfig {
        bucket: Some(50.0),
        restore_rate: Some(10.0),
        ..Default::default()
    })
    .await;
    sb.post("/__sandbox/seed", seed_with_products(10)).await;
    let q = "{ products(first: 10) { nodes { id } } }";
    let mut throttled = None;
    for i in 0..6 {
        let r = sb.gql(q, json!({})).await;
        if r.get("errors").is_some() {
            throttled = Some((i, r));
            break;
        }
        assert_eq!(r["extensions"]["cost"]["actualQueryCost"], 12);
    }
    let (i, r) = throttled.expect("the bucket runs dry");
    assert_eq!(i, 4, "50 points pay for four queries of 12");
    assert_eq!(r["errors"][0]["message"], "Throttled");
    assert_eq!(r["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(r["extensions"]["cost"]["requestedQueryCost"], 12);
    assert_eq!(r["extensions"]["cost"]["actualQueryCost"], Value::Null);
    let dry = status(&r)["currentlyAvailable"].as_f64().unwrap();
    assert!(dry < 12.0);

    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = sb.gql("{ shop { id } }", json!({})).await;
    let now = status(&r)["currentlyAvailable"].as_f64().unwrap();
    let gained = now + 1.0 - dry;
    assert!(
        (4.0..=8.0).contains(&gained),
        "about 6 points restored in 0.6 s at 10/s, got {gained}"
    );

    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = sb.gql(q, json!({})).await;
    assert!(r.get("errors").is_none(), "recovered: {r}");
    let stats = sb.get("/__sandbox/stats").await;
    assert_eq!(stats["throttled"], 1);
}

fn seed_with_products(n: usize) -> Value {
    let mut store = mapsync::sandbox::model::Store::new();
    for i in 0..n {
        let id = store.alloc();
        let product = json!({
            "id": id, "handle": format!("p-{i}"), "title": format!("P {i}"), "description_html": "",
            "vendor": "", "product_type": "", "tags": [], "status": "ACTIVE", "seo_title": null,
            "seo_description": null, "template_suffix": null, "options": [], "variants": [], "media": [],
            "metafields": [], "collections": [], "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"
        });
        store.products.insert(
            id,
            std::sync::Arc::new(serde_json::from_value(product).unwrap()),
        );
    }
    serde_json::to_value(&store).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_and_is_durable_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("store.json");
    let config = SandboxConfig {
        state: Some(state.clone()),
        ..Default::default()
    };
    let sb = start(config.clone()).await;
    let loc = sb
        .post("/__sandbox/locations", json!([{"name": "Depot"}]))
        .await;
    let pid = create(&sb, simple_product("Kept", 3)).await;
    // Answered, so already on disk (no shutdown yet).
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let n = pid.rsplit('/').next().unwrap();
    assert_eq!(on_disk["products"][n]["title"], "Kept");
    let c = sb
        .data(
            "mutation($p: [ID!]) { collectionCreate(input: {title: \"Kept\", products: $p}) { collection { id } } }",
            json!({"p": [pid]}),
        )
        .await;
    let cid = c["collectionCreate"]["collection"]["id"].clone();
    sb.handle.shutdown().await.unwrap();

    let sb = start(config).await;
    let q = "query($id: ID!, $c: ID!) { product(id: $id) { handle variants(first: 5) { nodes { sku } } collections(first: 2) { nodes { id } } } collection(id: $c) { title } locations(first: 5) { nodes { id name } } }";
    let d = sb.data(q, json!({"id": pid, "c": cid})).await;
    assert_eq!(d["product"]["handle"], "kept");
    assert_eq!(
        d["product"]["variants"]["nodes"].as_array().unwrap().len(),
        3
    );
    assert_eq!(d["product"]["collections"]["nodes"][0]["id"], cid);
    assert_eq!(d["collection"]["title"], "Kept");
    assert!(d["locations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["id"] == loc[0]["id"]));
    // New ids never collide with restored ones; handles stay unique.
    let d = sb
        .data(PRODUCT_SET, json!({"input": {"title": "Kept"}}))
        .await;
    let new_id = d["productSet"]["product"]["id"].as_str().unwrap();
    assert_eq!(d["productSet"]["product"]["handle"], "kept-1");
    let num = |s: &str| s.rsplit('/').next().unwrap().parse::<u64>().unwrap();
    assert!(num(new_id) > num(&pid));
    sb.handle.shutdown().await.unwrap();
}

/// Replay the sandbox's seeded draws to know which requests were applied.
fn draws(kind: FaultKind, seed: u64, n: usize) -> Vec<bool> {
    let mut f = Faults::new(1.0, vec![kind], seed);
    (0..n).map(|_| f.draw().unwrap().after).collect()
}

async fn product_count(sb: &Sb) -> usize {
    sb.get("/__sandbox/snapshot").await["products"]
        .as_object()
        .unwrap()
        .len()
}

fn faulty(kind: FaultKind, seed: u64) -> SandboxConfig {
    SandboxConfig {
        fault_rate: 1.0,
        faults: vec![kind],
        seed,
        fault_timeout: Duration::from_millis(300),
        ..Default::default()
    }
}

fn set_body(title: &str) -> Value {
    json!({"query": SET_SMALL, "variables": {"i": {"title": title}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_throttle_and_5xx_change_nothing() {
    let sb = start(faulty(FaultKind::Throttle, 1)).await;
    let r = sb.gql(SET_SMALL, json!({"i": {"title": "x"}})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(product_count(&sb).await, 0);

    let sb = start(faulty(FaultKind::Http5xx, 2)).await;
    for i in 0..5 {
        let resp = sb
            .client
            .post(sb.handle.graphql_url())
            .json(&set_body(&format!("t{i}")))
            .send()
            .await
            .unwrap();
        assert!(
            [500, 502, 503].contains(&resp.status().as_u16()),
            "{}",
            resp.status()
        );
    }
    assert_eq!(product_count(&sb).await, 0);
    let stats = sb.get("/__sandbox/stats").await;
    assert_eq!(stats["faults"], 5);
    assert_eq!(stats["requests"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_timeout_may_apply_the_mutation_and_lose_the_answer() {
    let seed = 11;
    let sb = start(faulty(FaultKind::Timeout, seed)).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let n = 6;
    for i in 0..n {
        let r = client
            .post(sb.handle.graphql_url())
            .json(&set_body(&format!("t{i}")))
            .send()
            .await;
        assert!(r.is_err_and(|e| e.is_timeout()), "request {i} times out");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let expected = draws(FaultKind::Timeout, seed, n);
    assert!(
        expected.contains(&true) && expected.contains(&false),
        "seed covers both cases"
    );
    let applied = expected.iter().filter(|a| **a).count();
    assert_eq!(product_count(&sb).await, applied);
    // A patient client gets an answer after the delay: 504 before, 200 after applying.
    let resp = sb
        .client
        .post(sb.handle.graphql_url())
        .json(&set_body("late"))
        .send()
        .await
        .unwrap();
    let after = draws(FaultKind::Timeout, seed, n + 1)[n];
    assert_eq!(resp.status().as_u16(), if after { 200 } else { 504 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_reset_closes_the_connection_after_or_before_applying() {
    let seed = 5;
    let sb = start(faulty(FaultKind::Reset, seed)).await;
    let n = 6;
    for i in 0..n {
        let client = reqwest::Client::new();
        let r = client
            .post(sb.handle.graphql_url())
            .json(&set_body(&format!("r{i}")))
            .send()
            .await;
        let e = r.expect_err("connection closed without an answer");
        assert!(!e.is_timeout(), "{e}");
    }
    let expected = draws(FaultKind::Reset, seed, n);
    assert!(
        expected.contains(&true) && expected.contains(&false),
        "seed covers both cases"
    );
    assert_eq!(
        product_count(&sb).await,
        expected.iter().filter(|a| **a).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_required_when_set() {
    let sb = start(SandboxConfig {
        token: Some("shpat_test".into()),
        ..Default::default()
    })
    .await;
    let resp = sb
        .client
        .post(sb.handle.graphql_url())
        .header("X-Shopify-Access-Token", "wrong")
        .json(&json!({"query": "{ shop { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body = resp.text().await.unwrap();
    assert!(!body.contains("shpat_test"));
    let d = sb.data("{ shop { name } }", json!({})).await;
    assert_eq!(d["shop"]["name"], "mapsync sandbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints() {
    let sb = start_default().await;
    create(&sb, simple_product("S", 2)).await;
    sb.gql(
        "{ products(first: 5) { nodes { id } } shop { id } }",
        json!({}),
    )
    .await;
    let stats = sb.get("/__sandbox/stats").await;
    assert_eq!(stats["requests"], 2);
    assert_eq!(
        stats["by_operation"],
        json!({"productSet": 1, "products": 1, "shop": 1})
    );
    assert!(stats["cost"].as_u64().unwrap() > 10);
    assert_eq!(stats["throttled"], 0);

    let snap = sb.get("/__sandbox/snapshot").await;
    assert_eq!(snap["products"].as_object().unwrap().len(), 1);
    let other = start_default().await;
    let seeded = other.post("/__sandbox/seed", snap.clone()).await;
    assert_eq!(seeded["products"], 1);
    let d = other
        .data(
            "{ products(first: 5) { nodes { handle variants(first: 5) { nodes { sku } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["products"]["nodes"][0]["handle"], "s");
    assert_eq!(other.get("/__sandbox/snapshot").await, snap);

    sb.post("/__sandbox/locations", json!([{"name": "Second"}]))
        .await;
    sb.post("/__sandbox/reset", json!({})).await;
    let d = sb
        .data(
            "{ products(first: 5) { nodes { id } } locations(first: 5) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["products"]["nodes"], json!([]));
    assert_eq!(
        d["locations"]["nodes"],
        json!([{"name": "Second"}, {"name": "Shop location"}])
    );
    let bad = sb
        .client
        .post(format!("{}/__sandbox/seed", sb.handle.url()))
        .body("{\"not\": \"a store\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_query_serves_jsonl_with_parent_ids() {
    let sb = start_default().await;
    let mut ids = Vec::new();
    for t in ["A", "B", "C"] {
        ids.push(create(&sb, simple_product(t, 2)).await);
    }
    let q = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } } }";
    let inner =
        "{ products { edges { node { id title variants { edges { node { id sku } } } } } } }";
    let d = sb.data(q, json!({"q": inner})).await;
    assert_eq!(d["bulkOperationRunQuery"]["userErrors"], json!([]));
    let op_id = d["bulkOperationRunQuery"]["bulkOperation"]["id"].clone();
    let mut op = Value::Null;
    for _ in 0..100 {
        let d = sb
            .data(
                "{ currentBulkOperation { id status url objectCount rootObjectCount errorCode } }",
                json!({}),
            )
            .await;
        op = d["currentBulkOperation"].clone();
        if op["status"] == "COMPLETED" || op["status"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(op["id"], op_id);
    assert_eq!(op["status"], "COMPLETED", "{op}");
    assert_eq!(op["objectCount"], "9");
    assert_eq!(op["rootObjectCount"], "3");
    let text = sb
        .client
        .get(op["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 9);
    let products: Vec<&Value> = rows
        .iter()
        .filter(|r| r.get("__parentId").is_none())
        .collect();
    assert_eq!(
        products
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ids
    );
    for r in rows.iter().filter(|r| r.get("__parentId").is_some()) {
        assert!(r["id"]
            .as_str()
            .unwrap()
            .starts_with("gid://shopify/ProductVariant/"));
        assert!(ids.contains(&r["__parentId"].as_str().unwrap().to_string()));
    }
    let bad = sb
        .data(
            q,
            json!({"q": "mutation { productDelete(input: {id: \"x\"}) { deletedProductId } }"}),
        )
        .await;
    assert_eq!(
        bad["bulkOperationRunQuery"]["userErrors"][0]["code"],
        "INVALID"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_limits_variants_and_media() {
    let sb = start(SandboxConfig {
        plan: ShopPlan::Unlimited,
        ..Default::default()
    })
    .await;
    // 2048 variants with three options is allowed; 2049 is not.
    let mk = |n: usize| {
        let a: Vec<Value> = (0..16).map(|i| json!({"name": format!("a{i}")})).collect();
        let b: Vec<Value> = (0..16).map(|i| json!({"name": format!("b{i}")})).collect();
        let c: Vec<Value> = (0..9).map(|i| json!({"name": format!("c{i}")})).collect();
        let variants: Vec<Value> = (0..n)
            .map(|k| {
                json!({"optionValues": [
                    {"optionName": "A", "name": format!("a{}", k % 16)},
                    {"optionName": "B", "name": format!("b{}", (k / 16) % 16)},
                    {"optionName": "C", "name": format!("c{}", k / 256)}]})
            })
            .collect();
        json!({"title": "Big", "productOptions": [{"name": "A", "values": a}, {"name": "B", "values": b}, {"name": "C", "values": c}], "variants": variants})
    };
    let q = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { variantsCount { count } } userErrors { field code } } }";
    let d = sb.data(q, json!({"i": mk(2048)})).await;
    assert_eq!(d["productSet"]["product"]["variantsCount"]["count"], 2048);
    let d = sb.data(q, json!({"i": mk(2049)})).await;
    assert_eq!(
        d["productSet"]["userErrors"],
        json!([{"field": ["input", "variants"], "code": "VARIANTS_OVER_LIMIT"}])
    );

    let files = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"originalSource": format!("https://img.example.com/{i}.jpg"), "contentType": "IMAGE"}))
            .collect()
    };
    let q = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { mediaCount { count } } userErrors { field code } } }";
    let d = sb
        .data(q, json!({"i": {"title": "Pics", "files": files(250)}}))
        .await;
    assert_eq!(d["productSet"]["product"]["mediaCount"]["count"], 250);
    let d = sb
        .data(q, json!({"i": {"title": "Pics", "files": files(251)}}))
        .await;
    assert_eq!(
        d["productSet"]["userErrors"][0]["field"],
        json!(["input", "files"])
    );
}

const SET_QUANTITY: &str = "mutation($i: InventorySetQuantitiesInput!, $k: String!) { inventorySetQuantities(input: $i) @idempotent(key: $k) { inventoryAdjustmentGroup { id changes { delta quantityAfterChange } } userErrors { field code } } }";

/// The inventory item and location of a new one-variant product.
async fn stocked_item(sb: &Sb) -> (String, String) {
    sb.data(
        "mutation { productSet(input: {title: \"Counted\"}) { userErrors { field } } }",
        Value::Null,
    )
    .await;
    let d = sb
        .data(
            "{ location { id } products(first: 1) { nodes { variants(first: 1) { nodes { inventoryItem { id } } } } } }",
            Value::Null,
        )
        .await;
    (
        d["products"]["nodes"][0]["variants"]["nodes"][0]["inventoryItem"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
        d["location"]["id"].as_str().unwrap().to_string(),
    )
}

fn set_quantity(item: &str, loc: &str, key: &str, from: i64, to: i64) -> Value {
    json!({"k": key, "i": {"name": "available", "reason": "correction",
        "quantities": [{"inventoryItemId": item, "locationId": loc, "quantity": to, "changeFromQuantity": from}]}})
}

async fn available(sb: &Sb, item: &str) -> i64 {
    let d = sb
        .data(
            "query($i: ID!) { inventoryItem(id: $i) { variant { inventoryQuantity } } }",
            json!({"i": item}),
        )
        .await;
    d["inventoryItem"]["variant"]["inventoryQuantity"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_write_whose_answer_was_lost_is_applied_once_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        state: Some(dir.path().join("store.json")),
        ..Default::default()
    };
    let sb = start(config.clone()).await;
    let (item, loc) = stocked_item(&sb).await;
    // The change is applied, then the connection drops without an answer.
    sb.post(
        "/__sandbox/faults",
        json!([{"kind": "reset", "after": true}]),
    )
    .await;
    let lost = reqwest::Client::new()
        .post(sb.handle.graphql_url())
        .json(&json!({"query": SET_QUANTITY, "variables": set_quantity(&item, &loc, "k-1", 0, 5)}))
        .send()
        .await;
    assert!(lost.is_err(), "the answer is lost");
    assert_eq!(available(&sb, &item).await, 5);
    sb.handle.shutdown().await.unwrap();

    // A restarted store still knows the key: the retry gets the first
    // answer (not a stale compare-and-swap) and changes nothing.
    let sb = start(config).await;
    let retry = sb
        .data(SET_QUANTITY, set_quantity(&item, &loc, "k-1", 0, 5))
        .await;
    let group = &retry["inventorySetQuantities"]["inventoryAdjustmentGroup"];
    assert_eq!(retry["inventorySetQuantities"]["userErrors"], json!([]));
    assert_eq!(
        group["changes"],
        json!([{"delta": 5, "quantityAfterChange": 5}])
    );
    let again = sb
        .data(SET_QUANTITY, set_quantity(&item, &loc, "k-1", 0, 5))
        .await;
    assert_eq!(
        again["inventorySetQuantities"]["inventoryAdjustmentGroup"]["id"],
        group["id"]
    );
    assert_eq!(available(&sb, &item).await, 5);
    // Without the key the same write is a stale compare-and-swap.
    let fresh = sb
        .data(SET_QUANTITY, set_quantity(&item, &loc, "k-2", 0, 5))
        .await;
    assert_eq!(
        fresh["inventorySetQuantities"]["userErrors"][0]["code"],
        "CHANGE_FROM_QUANTITY_STALE"
    );
    sb.handle.shutdown().await.unwrap();
}

const ACTIVATE: &str = "mutation($item: ID!, $loc: ID!, $k: String!) { inventoryActivate(inventoryItemId: $item, locationId: $loc, available: 3) @idempotent(key: $k) { inventoryLevel { id } userErrors { field message } } }";

/// A scripted fault naming an operation lets other requests through and
/// strikes the next request of that operation; the retry with the same key
/// is answered from the first answer, which the stats count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_targeted_at_an_operation_and_the_replay_counter() {
    let sb = start_default().await;
    let (item, loc) = stocked_item(&sb).await;
    let before = sb.get("/__sandbox/stats").await;
    assert_eq!(before["idempotent_replays"], 0);
    assert_eq!(before["faults"], 0);
    let r = sb
        .post(
            "/__sandbox/faults",
            json!([{"kind": "reset", "after": true, "operation": "inventorySetQuantities"}]),
        )
        .await;
    assert_eq!(r["scripted"], 1);
    // Requests of other operations pass through the waiting fault.
    create(&sb, json!({"title": "Untouched"})).await;
    sb.data("{ shop { name } }", Value::Null).await;
    // The targeted operation: applied, then the connection drops.
    let lost = sb
        .client
        .post(sb.handle.graphql_url())
        .json(
            &json!({"query": SET_QUANTITY, "variables": set_quantity(&item, &loc, "lost-1", 0, 5)}),
        )
        .send()
        .await;
    assert!(lost.is_err(), "the answer is lost");
    assert_eq!(available(&sb, &item).await, 5);
    // The fault is used up; the retry gets the first answer, applied once.
    let retry = sb
        .data(SET_QUANTITY, set_quantity(&item, &loc, "lost-1", 0, 5))
        .await;
    assert_eq!(retry["inventorySetQuantities"]["userErrors"], json!([]));
    assert_eq!(
        retry["inventorySetQuantities"]["inventoryAdjustmentGroup"]["changes"],
        json!([{"delta": 5, "quantityAfterChange": 5}])
    );
    assert_eq!(available(&sb, &item).await, 5);
    let stats = sb.get("/__sandbox/stats").await;
    assert_eq!(stats["faults"], 1);
    assert_eq!(stats["idempotent_replays"], 1);
    assert_eq!(stats["by_operation"]["inventorySetQuantities"], 2);

    // Positional and targeted faults mixed: each request takes the first
    // that applies to it.
    let wh = sb
        .post("/__sandbox/locations", json!([{"name": "Warehouse"}]))
        .await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    sb.post(
        "/__sandbox/faults",
        json!([{"kind": "5xx", "status": 503, "operation": "inventoryActivate"}, {"kind": "throttle"}]),
    )
    .await;
    let throttled = sb.gql("{ shop { name } }", Value::Null).await;
    assert_eq!(throttled["errors"][0]["extensions"]["code"], "THROTTLED");
    let vars = json!({"item": item, "loc": wh, "k": "activate-1"});
    let refused = sb
        .client
        .post(sb.handle.graphql_url())
        .json(&json!({"query": ACTIVATE, "variables": vars}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    for _ in 0..2 {
        let d = sb.data(ACTIVATE, vars.clone()).await;
        assert_eq!(d["inventoryActivate"]["userErrors"], json!([]));
    }
    let stats = sb.get("/__sandbox/stats").await;
    assert_eq!(stats["faults"], 3);
    assert_eq!(stats["idempotent_replays"], 2);
    assert_eq!(stats["by_operation"]["inventoryActivate"], 2);

    // A fault naming no operation of the schema is refused.
    let bad = sb
        .client
        .post(format!("{}/__sandbox/faults", sb.handle.url()))
        .json(&json!([{"kind": "reset", "operation": "inventorySetQuantity"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    sb.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_2026_04_and_2025_01_are_both_answered() {
    let sb = start_default().await;
    let post = |version: &str, body: Value| {
        sb.client
            .post(sb.handle.graphql_url_for(version))
            .json(&body)
            .send()
    };
    assert!(sb.handle.graphql_url().contains("/admin/api/2026-04/"));
    for (asked, served) in [
        ("2026-04", "2026-04"),
        ("2025-01", "2025-01"),
        ("2025-10", "2025-01"),
        ("2026-07", "2026-04"),
        ("unstable", "2026-04"),
    ] {
        let r = post(asked, json!({"query": "{ shop { name } }"}))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-shopify-api-version"], served, "{asked}");
    }
    // The shapes differ: 2025-01 takes compareQuantity, 2026-04 refuses it.
    let (item, loc) = stocked_item(&sb).await;
    let old = json!({"query": "mutation($i: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $i) { userErrors { code } } }",
        "variables": {"i": {"name": "available", "reason": "correction",
            "quantities": [{"inventoryItemId": item, "locationId": loc, "quantity": 2, "compareQuantity": 0}]}}});
    let v: Value = post("2025-01", old.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["inventorySetQuantities"]["userErrors"], json!([]));
    let v: Value = post("2026-04", old).await.unwrap().json().await.unwrap();
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("compareQuantity"));
    assert_eq!(available(&sb, &item).await, 2);
    // One store behind both.
    let v = sb
        .gql_at(
            "2025-01",
            "{ products(first: 5) { nodes { title } } }",
            Value::Null,
        )
        .await;
    assert_eq!(
        v["data"]["products"]["nodes"],
        json!([{"title": "Counted"}])
    );
}

const STAGE: &str = "mutation($i: [StagedUploadInput!]!) { stagedUploadsCreate(input: $i) { stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } } }";

/// One staged target of `input`.
async fn stage(sb: &Sb, input: Value) -> Value {
    let d = sb.data(STAGE, json!({"i": [input]})).await;
    assert_eq!(d["stagedUploadsCreate"]["userErrors"], json!([]), "{d}");
    d["stagedUploadsCreate"]["stagedTargets"][0].clone()
}

/// A POST form with the target's parameters (`success_action_status`
/// replaced when given) and `file`: its content type and body.
fn form(target: &Value, status: Option<&str>, bytes: &[u8]) -> (String, Vec<u8>) {
    let fields: Vec<(String, String)> = target["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_string();
            let value = match (name.as_str(), status) {
                ("success_action_status", Some(s)) => s.to_string(),
                _ => p["value"].as_str().unwrap().to_string(),
            };
            (name, value)
        })
        .collect();
    crate::sandbox_support::multipart(&fields, bytes)
}

fn pixel() -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sandbox");
    std::fs::read(dir.join("pixel.png")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_upload_endpoint_takes_forms_and_bodies_without_the_token_and_persists_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        state: Some(dir.path().join("store.json")),
        token: Some("shpat_x".into()),
        ..Default::default()
    };
    let sb = start(config.clone()).await;
    let http = reqwest::Client::new();
    let post = stage(
        &sb,
        json!({"resource": "IMAGE", "filename": "a.png", "mimeType": "image/png", "httpMethod": "POST"}),
    )
    .await;
    let url = post["url"].as_str().unwrap();
    let resource = post["resourceUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/__sandbox/staged/", sb.handle.url())));
    assert!(resource.starts_with(url) && resource.ends_with("/a.png"));
    // A 201 answer names the file, as the real targets' XML does; no token needed.
    let (content_type, body) = form(&post, None, &pixel());
    let r = http
        .post(url)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&format!("<Location>{resource}</Location>")),
        "{body}"
    );
    let (content_type, body) = form(&post, Some("204"), &pixel());
    let r = http
        .post(url)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let got = http.get(&resource).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().to_vec(), pixel());

    // PUT: raw body, 200; fileSize checked; too large refused; unknown 404.
    let put = stage(
        &sb,
        json!({"resource": "FILE", "filename": "b.txt", "mimeType": "text/plain", "fileSize": "5"}),
    )
    .await;
    let put_url = put["url"].as_str().unwrap();
    let send = |body: Vec<u8>| http.put(put_url).body(body).send();
    assert_eq!(send(b"1234".to_vec()).await.unwrap().status(), 400);
    // Refused as soon as the body passes the limit: a 413, or (the store
    // closing the connection first) a request cut off while sending.
    // On a client of its own: the connection the store cuts off must not
    // go back to the pool the next requests take theirs from.
    let oversized = reqwest::Client::new()
        .put(put_url)
        .body(vec![0; 21 * 1024 * 1024])
        .send();
    match oversized.await {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert_eq!(send(b"12345".to_vec()).await.unwrap().status(), 200);
    let wrong_type = http
        .put(put_url)
        .header("Content-Type", "image/png")
        .body(b"12345".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 403);
    let unknown = format!("{}/__sandbox/staged/feedface", sb.handle.url());
    let r = http.put(&unknown).body(b"x".to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 404);
    sb.handle.shutdown().await.unwrap();

    // The files survive a restart (on another port: the token names the file).
    let sb = start(config).await;
    let d = sb
        .data(
            "mutation($i: ProductSetInput!) { productSet(input: $i) { product { media(first: 1) { nodes { status } } } userErrors { message } } }",
            json!({"i": {"title": "After restart", "files": [{"originalSource": resource, "contentType": "IMAGE"}]}}),
        )
        .await;
    assert_eq!(d["productSet"]["userErrors"], json!([]), "{d}");
    assert_eq!(
        d["productSet"]["product"]["media"]["nodes"][0]["status"],
        "UPLOADED"
    );
    let token_and_name = resource.split("/__sandbox/staged/").nth(1).unwrap();
    let again = format!("{}/__sandbox/staged/{token_and_name}", sb.handle.url());
    let got = http.get(&again).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), pixel());
    sb.handle.shutdown().await.unwrap();
}
