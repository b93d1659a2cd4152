//! The emulated PIM as a store API (the `rest` target's server) over real
//! HTTP: records created with an assigned key, updated, deleted,
//! deactivated (a `PATCH`), found by a field filter; faults aimed at the
//! store's writes.

mod pim_common;

use mapsync_sandbox::pim::PimConfig;
use pim_common::{config, get, send, start};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn store() -> PimConfig {
    PimConfig {
        category_key: "id".into(),
        product_key: "id".into(),
        ..config(json!({"categories": [{"id": 1, "title": "Shoes", "external_id": "C1"}]}))
    }
}

#[tokio::test]
async fn records_are_created_updated_deactivated_and_deleted() {
    let pim = start(store()).await;
    let base = pim.url();

    // Created with the next free key, the body kept as given.
    let body = json!({"title": "Boot", "external_id": "P1", "price": 12.5, "active": true});
    let (status, v) = send(Method::POST, &format!("{base}/products"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["data"]["id"], 2, "after the category's key 1: {v}");
    assert_eq!(v["data"]["price"], 12.5);
    let (status, v) = send(
        Method::POST,
        &format!("{base}/products"),
        json!({"title": "Sandal", "external_id": "P2"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(v["data"]["id"], 3);
    // A key taken is a conflict.
    let (status, v) = send(Method::POST, &format!("{base}/products"), json!({"id": 3})).await;
    assert_eq!(
        (status, v["error"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );

    // Found again by the key mapsync keeps.
    let (status, _, v) = get(&format!("{base}/products?filter%5Bexternal_id%5D=P2")).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["data"][0]["id"], 3);
    assert_eq!(v["meta"]["total"], 1);
    let (_, _, v) = get(&format!("{base}/products/count?filter[external_id]=P9")).await;
    assert_eq!(v["count"], 0);

    // Updated: fields replaced, a null removes one; an unknown key is 404.
    let (status, v) = send(
        Method::PUT,
        &format!("{base}/products/2"),
        json!({"title": "Boot II", "price": null}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["title"], "Boot II");
    assert!(v["data"].get("price").is_none());
    let (status, _) = send(Method::PUT, &format!("{base}/products/99"), json!({})).await;
    assert_eq!(status, 404);

    // Deactivated by a PATCH.
    let (status, v) = send(
        Method::PATCH,
        &format!("{base}/products/2"),
        json!({"active": false}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (_, _, v) = get(&format!("{base}/products?filter[active]=false")).await;
    assert_eq!(v["data"][0]["id"], 2);

    // Deleted; a second delete is 404.
    let (status, _) = send(Method::DELETE, &format!("{base}/products/2"), Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(Method::DELETE, &format!("{base}/products/2"), Value::Null).await;
    assert_eq!(status, 404);

    // Categories the same way.
    let (status, v) = send(
        Method::POST,
        &format!("{base}/categories"),
        json!({"title": "Hats", "external_id": "C2"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = v["data"]["id"].clone();
    assert_eq!(id, 4);
    let (status, _) = send(
        Method::PUT,
        &format!("{base}/categories/4"),
        json!({"title": "Caps"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(Method::DELETE, &format!("{base}/categories/1"), Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let snap = pim.snapshot();
    assert_eq!(snap["categories"].as_array().unwrap().len(), 1);
    assert_eq!(snap["categories"][0]["title"], "Caps");
    assert_eq!(snap["products"].as_array().unwrap().len(), 1);
    let s = pim.stats();
    assert_eq!(s.count("POST /products", "201"), 2);
    assert_eq!(s.count("PUT /products/{key}", "200"), 1);
    assert_eq!(s.count("DELETE /products/{key}", "204"), 1);
}

#[tokio::test]
async fn a_reset_after_a_create_loses_only_the_answer() {
    let pim = start(store()).await;
    let base = pim.url();
    let (status, _) = send(
        Method::POST,
        &format!("{base}/__sandbox/faults"),
        json!([{"kind": "reset", "after": true, "route": "store"}]),
    )
    .await;
    assert_eq!(status, 200);
    let r = pim_common::client()
        .post(format!("{base}/products"))
        .bearer_auth(pim_common::TOKEN)
        .json(&json!({"title": "Boot", "external_id": "P1"}))
        .send()
        .await;
    assert!(r.is_err(), "the connection is dropped");
    // The product is there all the same.
    let (_, _, v) = get(&format!("{base}/products?filter[external_id]=P1")).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(pim.stats().count("POST /products", "reset"), 1);
}
