//! The target's change token (`Target::change_token`) against the emulated
//! BigCommerce store: the same while nothing changes, another after a
//! product is created, edited or deleted, a marker edited or a category
//! renamed through the store's API (not through the target); none while
//! the last product change is too recent to be told apart from another in
//! the same second. Every request is one the OpenAPI files describe.

use std::time::{Duration, Instant};

use mapsync_bigcommerce::{BcClient, BigCommerceTarget};
use mapsync_core::target::Target;
use mapsync_sandbox::bigcommerce::openapi::Spec;
use mapsync_sandbox::bigcommerce::BcHandle;
use serde_json::{json, Value};

mod support;
use support::{client, store};

async fn post(c: &BcClient, path: &str, body: Value) -> Value {
    c.post(path, &body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
        .body["data"]
        .clone()
}

async fn put(c: &BcClient, path: &str, body: Value) {
    c.put(path, &body)
        .await
        .unwrap_or_else(|e| panic!("PUT {path}: {e}"));
}

/// The token once it is given (the last change settled), and how many
/// tokens came back `None` first.
async fn settled(target: &BigCommerceTarget) -> (String, u32) {
    let start = Instant::now();
    let mut unsettled = 0;
    loop {
        match target.change_token().await.expect("a token's requests") {
            Some(t) => return (t, unsettled),
            None => unsettled += 1,
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no token after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Requests the store received so far.
fn received(h: &BcHandle) -> usize {
    h.requests().len()
}

fn assert_requests_valid(h: &BcHandle) {
    let spec = Spec::bundled().expect("the bundled OpenAPI files");
    for r in h.requests() {
        if let Err(problems) = spec.check_request(&r.method, &r.path, r.body.as_ref()) {
            panic!("{} {}: {problems:?}", r.method, r.path);
        }
    }
}

#[tokio::test]
async fn the_token_stays_while_nothing_changes_and_moves_with_each_change() {
    let h = store().await;
    let c = client(&h);
    let target = BigCommerceTarget::new(client(&h));

    // An empty store: products, their markers and the categories (none: no
    // trees nor category markers asked).
    let before = received(&h);
    let empty = target.change_token().await.expect("token").expect("some");
    assert_eq!(received(&h) - before, 3, "{:#?}", &h.requests()[before..]);

    let shoes = post(
        &c,
        "/catalog/trees/categories",
        json!([{"name": "Shoes", "parent_id": 0, "tree_id": 1}]),
    )
    .await[0]["category_id"]
        .as_u64()
        .expect("a category id");
    let with_category = target.change_token().await.expect("token").expect("some");
    assert_ne!(with_category, empty, "a category added");

    // A product added.
    let p = post(
        &c,
        "/catalog/products",
        json!({"name": "Trail Shoe", "type": "physical", "weight": 1, "price": 10}),
    )
    .await["id"]
        .as_u64()
        .expect("a product id");
    let (created, unsettled) = settled(&target).await;
    assert!(unsettled > 0, "a change of this second gives no token");
    assert_ne!(created, with_category, "a product added");

    // Nothing changes: the same token, with 5 requests (products, product
    // markers, categories, trees, category markers).
    let before = received(&h);
    let again = target.change_token().await.expect("token").expect("some");
    assert_eq!(again, created);
    assert_eq!(received(&h) - before, 5, "{:#?}", &h.requests()[before..]);
    assert_eq!(
        target.change_token().await.expect("token").as_deref(),
        Some(created.as_str())
    );

    // A marker added, then its value edited (neither moves the product's
    // `date_modified`).
    let marker = post(
        &c,
        &format!("/catalog/products/{p}/metafields"),
        json!({"namespace": "mapsync", "key": "key", "value": "P-1", "permission_set": "read"}),
    )
    .await["id"]
        .as_u64()
        .expect("a metafield id");
    let marked = target.change_token().await.expect("token").expect("some");
    assert_ne!(marked, created, "a marker added");
    put(
        &c,
        &format!("/catalog/products/{p}/metafields/{marker}"),
        json!({"namespace": "mapsync", "key": "key", "value": "P-2", "permission_set": "read"}),
    )
    .await;
    let remarked = target.change_token().await.expect("token").expect("some");
    assert_ne!(remarked, marked, "a marker edited");

    // A category renamed (categories have no date).
    put(
        &c,
        "/catalog/trees/categories",
        json!([{"category_id": shoes, "name": "Footwear"}]),
    )
    .await;
    let renamed = target.change_token().await.expect("token").expect("some");
    assert_ne!(renamed, remarked, "a category renamed");

    // The product edited.
    put(
        &c,
        &format!("/catalog/products/{p}"),
        json!({"name": "Trail Shoe II"}),
    )
    .await;
    let (edited, unsettled) = settled(&target).await;
    assert!(unsettled > 0);
    assert_ne!(edited, renamed, "a product edited");

    // Another product added, then the first one deleted: the count is the
    // edited one's again, the newest change is not.
    post(
        &c,
        "/catalog/products",
        json!({"name": "Road Shoe", "type": "physical", "weight": 1, "price": 10}),
    )
    .await;
    let (two, _) = settled(&target).await;
    assert_ne!(two, edited, "a product added");
    c.delete(&format!("/catalog/products/{p}"), &[])
        .await
        .expect("deleted");
    let deleted = target.change_token().await.expect("token").expect("some");
    assert_ne!(deleted, two, "a product deleted");
    assert_ne!(deleted, edited, "one product added and one deleted");
    assert_eq!(
        target.change_token().await.expect("token").as_deref(),
        Some(deleted.as_str())
    );
    assert_requests_valid(&h);
}

/// Every date of a snapshot set to `at` (a store whose changes are old).
fn dated(v: &mut Value, at: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if (k == "date_modified" || k == "date_created") && x.is_string() {
                    *x = Value::from(at);
                } else {
                    dated(x, at);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| dated(x, at)),
        _ => {}
    }
}

#[tokio::test]
async fn with_more_than_a_page_of_markers_the_recently_modified_ones_are_the_token() {
    // 251 products with their markers, made a day ago: a store seeded with
    // them (dates moved back).
    let first = mapsync_sandbox::bigcommerce::start(mapsync_sandbox::bigcommerce::BcConfig {
        token: Some(support::TOKEN.into()),
        // 502 requests without waiting for quota windows.
        quota: Some(100_000),
        ..Default::default()
    })
    .await
    .expect("the store starts");
    let c = client(&first);
    for i in 0..251 {
        let id = post(
            &c,
            "/catalog/products",
            json!({"name": format!("Item {i}"), "type": "physical", "weight": 1, "price": 10}),
        )
        .await["id"]
            .as_u64()
            .expect("a product id");
        post(
            &c,
            &format!("/catalog/products/{id}/metafields"),
            json!({"namespace": "mapsync", "key": "key", "value": format!("P-{i}"), "permission_set": "read"}),
        )
        .await;
    }
    let mut seed = first.snapshot();
    dated(&mut seed, "2026-01-01T00:00:00+00:00");
    let h = mapsync_sandbox::bigcommerce::start(mapsync_sandbox::bigcommerce::BcConfig {
        record_requests: true,
        token: Some(support::TOKEN.into()),
        seed: Some(seed),
        quota: Some(100_000),
        ..Default::default()
    })
    .await
    .expect("the seeded store starts");
    let c = client(&h);
    let target = BigCommerceTarget::new(client(&h));

    // Products, the markers' first page, the markers modified lately.
    let before = received(&h);
    let token = target.change_token().await.expect("token").expect("some");
    assert_eq!(received(&h) - before, 4, "{:#?}", &h.requests()[before..]);
    assert!(h.requests()[before..]
        .iter()
        .any(|r| r.path.contains("date_modified%3Amin=") || r.path.contains("date_modified:min=")));
    assert_eq!(
        target.change_token().await.expect("token").as_deref(),
        Some(token.as_str())
    );

    // An old marker's value edited in place: its product's date stays.
    let markers: Value = c
        .get(
            "/catalog/products/metafields",
            &[
                ("namespace", "mapsync".to_string()),
                ("limit", "1".to_string()),
            ],
        )
        .await
        .expect("markers");
    let m = &markers["data"][0];
    let (mid, pid) = (
        m["id"].as_u64().unwrap(),
        m["resource_id"].as_u64().unwrap(),
    );
    put(
        &c,
        &format!("/catalog/products/{pid}/metafields/{mid}"),
        json!({"namespace": "mapsync", "key": "key", "value": "P-other", "permission_set": "read"}),
    )
    .await;
    let edited = target.change_token().await.expect("token").expect("some");
    assert_ne!(edited, token, "an old marker edited");

    // Another old marker deleted.
    let markers: Value = c
        .get(
            "/catalog/products/metafields",
            &[
                ("namespace", "mapsync".to_string()),
                ("direction", "desc".to_string()),
                ("limit", "1".to_string()),
            ],
        )
        .await
        .expect("markers");
    let m = &markers["data"][0];
    let (mid, pid) = (
        m["id"].as_u64().unwrap(),
        m["resource_id"].as_u64().unwrap(),
    );
    c.delete(&format!("/catalog/products/{pid}/metafields/{mid}"), &[])
        .await
        .expect("deleted");
    let deleted = target.change_token().await.expect("token").expect("some");
    assert_ne!(deleted, edited, "an old marker deleted");
    assert_requests_valid(&h);
}
