//! Benchmarks of the `shopify` target's client side: JSONL bulk assembly of
//! a large export, and request throughput of `ShopifyClient` (limiter,
//! retries bookkeeping, JSON decode) against a local axum shop on 127.0.0.1.
//! Run: `cargo bench --bench shopify_client`.

#[path = "../tests/common/shopify_server.rs"]
mod shopify_server;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mapsync::connectors::shopify::bulk::assemble;
use mapsync::connectors::shopify::documents;
use mapsync::connectors::shopify::{AccessToken, ClientConfig, ShopLocation, ShopifyClient};
use serde_json::{json, Value};
use shopify_server::{ok, Reply, TestShop};

fn jsonl(products: usize) -> String {
    let mut out = String::new();
    for p in 0..products {
        out.push_str(&json!({"id": format!("gid://shopify/Product/{p}"), "handle": format!("p-{p}"), "title": "T", "status": "ACTIVE"}).to_string());
        out.push('\n');
        for v in 0..3 {
            out.push_str(&json!({"id": format!("gid://shopify/ProductVariant/{p}{v}"), "sku": "S", "price": "1.00",
                "__parentId": format!("gid://shopify/Product/{p}")}).to_string());
            out.push('\n');
        }
    }
    out
}

fn bench_assemble(c: &mut Criterion) {
    let text = jsonl(10_000);
    let mut group = c.benchmark_group("bulk");
    group.throughput(Throughput::Elements(40_000));
    group.bench_function("assemble_10k_products_30k_variants", |b| {
        b.iter(|| assemble(&text).unwrap().len())
    });
    group.finish();
}

fn bench_requests(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let shop = rt.block_on(TestShop::start(|_, _| {
        Reply::Json(ok(
            json!({"shop": {"name": "x", "myshopifyDomain": "x", "currencyCode": "EUR"}}),
        ))
    }));
    let mut config = ClientConfig::new(
        ShopLocation::url(&shop.url()).unwrap(),
        AccessToken::new("t"),
    );
    config.bucket = None;
    config.timeout = Duration::from_secs(10);
    let client = ShopifyClient::new(config).unwrap();
    let mut group = c.benchmark_group("client");
    group.throughput(Throughput::Elements(200));
    group.sample_size(10);
    group.bench_function("200_requests_concurrency_20", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..200 {
                    let client = client.clone();
                    set.spawn(async move {
                        client
                            .execute::<Value>(&documents::SHOP_INFO, json!({}), 1)
                            .await
                            .unwrap()
                    });
                }
                while set.join_next().await.is_some() {}
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_assemble, bench_requests);
criterion_main!(benches);
