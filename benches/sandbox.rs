//! Throughput of the sandbox over real HTTP (a bench binary, not a test):
//! requests per second for `products(first: 50)` and for `productSet` with
//! 5 variants, plan unlimited, in-memory store, keep-alive clients in the
//! same process.
//!
//! `cargo bench --bench sandbox [-- SECONDS CLIENTS [SIZE...] [bulk=LINES]]`
//!
//! * no SIZE: the list and `productSet` rates on a store of 200 products;
//! * each SIZE (`0 100000 1000000`): a fresh store preloaded with SIZE
//!   products through `POST /__sandbox/seed`, then the rate of `productSet`
//!   creating products and of `productSet` updating preloaded ones (by
//!   handle) at that size — a write must not cost more as the store grows;
//! * `bulk=LINES`: a bulk import (`bulkOperationRunMutation`) of LINES
//!   `productSet` lines into the last store (or an empty one), in lines per
//!   second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mapsync::sandbox::model::{
    InventoryItem, InventoryLevel, InventoryPolicy, OptionValue, Product, ProductOption, Status,
    Store, Variant,
};
use mapsync::sandbox::{start, SandboxConfig, SandboxHandle, ShopPlan};
use serde_json::{json, Value};

const LIST: &str = "{ products(first: 50) { edges { cursor node { id handle title status updatedAt } } pageInfo { hasNextPage endCursor } } }";
const LIST_DEEP: &str = "{ products(first: 50) { edges { cursor node { id handle title status updatedAt variants(first: 5) { nodes { id sku price } } } } pageInfo { hasNextPage endCursor } } }";
const SET: &str = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { id variants(first: 5) { nodes { id } } } userErrors { field message } } }";
const SET_BY_HANDLE: &str = "mutation($h: String!, $i: ProductSetInput!) { productSet(identifier: {handle: $h}, input: $i) { product { id } userErrors { field message } } }";
const BULK_SET: &str = "mutation($input: ProductSetInput!) { productSet(input: $input) { product { id } userErrors { field message } } }";

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
        "{label:<48} {total:>7} requests in {elapsed:.2} s = {rate:>8.0} req/s ({clients} clients)"
    );
    rate
}

/// A preloaded product: one `Size` option, one variant stocked at the
/// shop's location, handle `seed-<n>`.
fn seeded(st: &mut Store, location: u64, n: u64) -> Product {
    let t = "2026-01-01T00:00:00Z".to_string();
    let id = st.alloc();
    let (option, value, variant, item, level) =
        (st.alloc(), st.alloc(), st.alloc(), st.alloc(), st.alloc());
    Product {
        id,
        handle: format!("seed-{n}"),
        title: format!("Seed {n}"),
        description_html: "<p>Seeded.</p>".into(),
        vendor: "Bench".into(),
        product_type: "Shirt".into(),
        tags: vec!["bench".into()],
        status: Status::Active,
        seo_title: None,
        seo_description: None,
        template_suffix: None,
        gift_card: false,
        options: vec![ProductOption {
            id: option,
            name: "Size".into(),
            values: vec![OptionValue {
                id: value,
                name: "M".into(),
            }],
        }],
        variants: vec![Variant {
            id: variant,
            sku: Some(format!("SEED-{n}")),
            barcode: None,
            price: "10.00".into(),
            compare_at_price: None,
            taxable: true,
            inventory_policy: InventoryPolicy::Deny,
            option_values: vec!["M".into()],
            media_ids: Vec::new(),
            metafields: Vec::new(),
            inventory_item: InventoryItem {
                id: item,
                tracked: true,
                cost: None,
                country_code_of_origin: None,
                harmonized_system_code: None,
                requires_shipping: true,
                province_code_of_origin: None,
                weight: None,
                levels: [(
                    location,
                    InventoryLevel {
                        id: level,
                        available: 5,
                        on_hand: 5,
                        updated_at: t.clone(),
                    },
                )]
                .into_iter()
                .collect(),
                created_at: t.clone(),
                updated_at: t.clone(),
            },
            created_at: t.clone(),
            updated_at: t.clone(),
        }],
        media: Vec::new(),
        metafields: Vec::new(),
        collections: Default::default(),
        created_at: t.clone(),
        updated_at: t,
    }
}

/// Replace the sandbox's store with one of `size` products.
async fn preload(sb: &SandboxHandle, size: u64) {
    let started = Instant::now();
    let mut st = Store::new();
    let location = st.primary_location().expect("a location");
    for n in 0..size {
        let p = seeded(&mut st, location, n);
        st.products.insert(p.id, Arc::new(p));
    }
    let body = serde_json::to_vec(&st).expect("store JSON");
    drop(st);
    let mb = body.len() as f64 / 1e6;
    let resp = reqwest::Client::new()
        .post(format!("{}/__sandbox/seed", sb.url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("seed");
    let v: Value = resp.json().await.expect("seed answer");
    assert_eq!(v["products"].as_u64(), Some(size), "{v}");
    println!(
        "preloaded {size} products ({mb:.0} MB of JSON) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn gql(client: &reqwest::Client, url: &str, query: &str, variables: Value) -> Value {
    let v: Value = client
        .post(url)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(v.get("errors").is_none(), "{v}");
    v["data"].clone()
}

/// A bulk import of `lines` `productSet` lines; prints lines per second.
async fn bulk_import(sb: &SandboxHandle, lines: u64) {
    let client = reqwest::Client::new();
    let url = sb.graphql_url();
    let stage = "mutation($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { stagedTargets { url parameters { name value } } userErrors { message } } }";
    let d = gql(
        &client,
        &url,
        stage,
        json!({"input": [{"resource": "BULK_MUTATION_VARIABLES", "filename": "v.jsonl",
                          "mimeType": "text/jsonl", "httpMethod": "POST"}]}),
    )
    .await;
    let target = &d["stagedUploadsCreate"]["stagedTargets"][0];
    let params: Vec<(String, String)> = target["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().expect("a parameter").to_string();
            (s("name"), s("value"))
        })
        .collect();
    let key = params
        .iter()
        .find(|(n, _)| n == "key")
        .map(|(_, v)| v.clone())
        .expect("key");
    let text: String = (0..lines)
        .map(|n| format!("{{\"input\":{{\"title\":\"Bulk {n}\",\"handle\":\"bulk-{n}\"}}}}\n"))
        .collect();
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in params {
        form = form.text(name, value);
    }
    let form = form.part(
        "file",
        reqwest::multipart::Part::bytes(text.into_bytes()).file_name("v.jsonl"),
    );
    let r = client
        .post(target["url"].as_str().expect("url"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert!(r.status().is_success(), "upload: {}", r.status());
    let run = "mutation($m: String!, $p: String!) { bulkOperationRunMutation(mutation: $m, stagedUploadPath: $p) { bulkOperation { id } userErrors { message } } }";
    let started = Instant::now();
    let d = gql(&client, &url, run, json!({"m": BULK_SET, "p": key})).await;
    let id = d["bulkOperationRunMutation"]["bulkOperation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("bulk operation: {d}"))
        .to_string();
    let poll = "query($id: ID!) { bulkOperation(id: $id) { status objectCount url } }";
    let result = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let d = gql(&client, &url, poll, json!({"id": id})).await;
        let op = d["bulkOperation"].clone();
        if op["status"] != "RUNNING" && op["status"] != "CREATED" {
            assert_eq!(op["status"], "COMPLETED", "{op}");
            break op["url"].as_str().expect("result url").to_string();
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let text = client
        .get(&result)
        .send()
        .await
        .expect("result")
        .text()
        .await
        .expect("result text");
    let created = text
        .lines()
        .filter(|l| l.contains("\"userErrors\":[]"))
        .count();
    assert_eq!(created as u64, lines, "every line creates its product");
    println!(
        "{:<48} {lines:>7} lines    in {secs:.2} s = {:>8.0} lines/s",
        "bulk import, productSet (create)",
        lines as f64 / secs
    );
}

/// `productSet` rates on a store preloaded with `size` products.
async fn at_size(sb: &SandboxHandle, size: u64, clients: usize, secs: f64) {
    preload(sb, size).await;
    let url = sb.graphql_url();
    run(
        &format!("productSet, 5 variants (create) at {size}"),
        &url,
        clients,
        secs,
        |w, n| json!({"query": SET, "variables": {"i": product(w, n)}}),
    )
    .await;
    if size > 0 {
        let clients_u = clients as u64;
        run(
            &format!("productSet by handle (update) at {size}"),
            &url,
            clients,
            secs,
            move |w, n| {
                // Spread over the store: worker w updates w, w + clients, ...
                let k = (w as u64 + n * clients_u).wrapping_mul(7919) % size;
                json!({"query": SET_BY_HANDLE, "variables": {"h": format!("seed-{k}"),
                    "i": {"title": format!("Updated {n}"), "handle": format!("seed-{k}")}}})
            },
        )
        .await;
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let clients: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    let mut sizes = Vec::new();
    let mut bulk = None;
    for a in args {
        match a.strip_prefix("bulk=") {
            Some(n) => bulk = Some(n.parse::<u64>().expect("bulk=LINES")),
            None => sizes.push(a.parse::<u64>().expect("a store size")),
        }
    }
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
        if sizes.is_empty() && bulk.is_none() {
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
        }
        for size in sizes {
            at_size(&sb, size, clients, secs).await;
        }
        if let Some(lines) = bulk {
            bulk_import(&sb, lines).await;
        }
        sb.shutdown().await.expect("shutdown");
    });
}
