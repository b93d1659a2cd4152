//! Throughput of the sandbox over real HTTP (a bench binary, not a test):
//! requests per second for `products(first: 50)` and for `productSet` with
//! 5 variants, plan unlimited, in-memory store, keep-alive clients in the
//! same process. `cargo bench --bench sandbox [-- SECONDS CLIENTS]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mapsync::sandbox::{start, SandboxConfig, ShopPlan};
use serde_json::{json, Value};

const LIST: &str = "{ products(first: 50) { edges { cursor node { id handle title status updatedAt } } pageInfo { hasNextPage endCursor } } }";
const LIST_DEEP: &str = "{ products(first: 50) { edges { cursor node { id handle title status updatedAt variants(first: 5) { nodes { id sku price } } } } pageInfo { hasNextPage endCursor } } }";
const SET: &str = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { id variants(first: 5) { nodes { id } } } userErrors { field message } } }";

fn product(worker: usize, n: u64) -> Value {
    let sizes = ["XS", "S", "M", "L", "XL"];
    json!({
        "title": format!("Bench {worker}-{n}"),
        "productOptions": [{"name": "Size", "values": sizes.iter().map(|s| json!({"name": s})).collect::<Vec<_>>()}],
        "variants": sizes.iter().enumerate().map(|(i, s)| json!({
            "optionValues": [{"optionName": "Size", "name": s}],
            "price": format!("{}.00", 10 + i), "sku": format!("B-{worker}-{n}-{s}")
        })).collect::<Vec<_>>(),
        "metafields": [{"namespace": "mapsync", "key": "key", "type": "single_line_text_field", "value": format!("{worker}-{n}")}]
    })
}

async fn run<F>(label: &str, url: &str, clients: usize, secs: f64, body: F) -> f64
where
    F: Fn(usize, u64) -> Value + Send + Sync + 'static,
{
    let body = Arc::new(body);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..clients {
        let client = reqwest::Client::new();
        let url = url.to_string();
        let body = body.clone();
        let done = done.clone();
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let resp = client
                    .post(&url)
                    .json(&body(w, n))
                    .send()
                    .await
                    .expect("request");
                assert!(resp.status().is_success());
                let v: Value = resp.json().await.expect("json");
                assert!(v.get("errors").is_none(), "{v}");
                n += 1;
            }
            done.fetch_add(n, Ordering::Relaxed);
        });
    }
    let started = Instant::now();
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let total = done.load(Ordering::Relaxed);
    let rate = total as f64 / elapsed;
    println!(
        "{label:<40} {total:>7} requests in {elapsed:.2} s = {rate:>8.0} req/s ({clients} clients)"
    );
    rate
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let clients: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sb = start(SandboxConfig {
            plan: ShopPlan::Unlimited,
            ..Default::default()
        })
        .await
        .expect("sandbox");
        let url = sb.graphql_url();
        // Warm-up and data: 200 products with 5 variants each.
        let client = reqwest::Client::new();
        for n in 0..200 {
            client
                .post(&url)
                .json(&json!({"query": SET, "variables": {"i": product(999, n)}}))
                .send()
                .await
                .expect("seed");
        }
        run(
            "products(first: 50)",
            &url,
            clients,
            secs,
            |_, _| json!({"query": LIST}),
        )
        .await;
        run(
            "products(first: 50) + variants(first: 5)",
            &url,
            clients,
            secs,
            |_, _| json!({"query": LIST_DEEP}),
        )
        .await;
        run(
            "productSet, 5 variants (create)",
            &url,
            clients,
            secs,
            |w, n| json!({"query": SET, "variables": {"i": product(w, n)}}),
        )
        .await;
        sb.shutdown().await.expect("shutdown");
    });
}
