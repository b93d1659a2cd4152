//! Helpers of the PIM sandbox tests (`pim_*.rs`): a generated catalog, a
//! started PIM, an HTTP client with the static token.

#![allow(dead_code)]

use mapsync_sandbox::pim::{self, PimConfig, PimHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The static bearer token of the tests.
pub const TOKEN: &str = "test-token";

/// A catalog of `n` products (`P-00000`...) and three categories. The
/// first half of the products changed on 2026-01-01, the rest on
/// 2026-03-01; even products have two images.
pub fn catalog(n: usize) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let mut p = json!({
                "ItemNo": format!("P-{i:05}"),
                "Name": format!("Product {i}"),
                "Description": "A product.",
                "Categories": [format!("C-{}", i % 3)],
                "Variants": [{"Sku": format!("P-{i:05}-S"), "Price": "10.00"}],
                "ShopifyId": "",
                "ShopifySyncDate": "",
                "ShopifySyncMsg": "",
                "LastUpdated": if i < n / 2 { "2026-01-01T00:00:00Z" } else { "2026-03-01T00:00:00Z" },
            });
            if i % 2 == 0 {
                p["Images"] = json!([
                    format!("https://img.example/{i}-1.jpg"),
                    format!("https://img.example/{i}-2.jpg"),
                ]);
            }
            p
        })
        .collect();
    let categories: Vec<Value> = (0..3)
        .map(|i| json!({"CategoryId": format!("C-{i}"), "Name": format!("Category {i}"), "LastUpdated": "2026-01-01T00:00:00Z"}))
        .collect();
    json!({"categories": categories, "products": products})
}

/// A PIM on loopback with the static token and `catalog`.
pub fn config(catalog: Value) -> PimConfig {
    PimConfig {
        token: Some(TOKEN.into()),
        catalog: Some(catalog),
        ..PimConfig::default()
    }
}

pub async fn start(config: PimConfig) -> PimHandle {
    pim::start(config).await.expect("PIM starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap()
}

/// GET with the static token: status, headers, JSON body (`null` when
/// there is none).
pub async fn get(url: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = client().get(url).bearer_auth(TOKEN).send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// A request with a JSON body and the static token.
pub async fn send(method: reqwest::Method, url: &str, body: Value) -> (StatusCode, Value) {
    let r = client()
        .request(method, url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

/// The keys of a list answer.
pub fn keys(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {body}"))
        .iter()
        .map(|r| r["ItemNo"].as_str().unwrap().to_string())
        .collect()
}
