//! The `rest` source against the emulated PIM over HTTP on loopback (a
//! bench binary, not a test: it prints figures and asserts no time).
//!
//! `cargo bench --bench rest_source [-- PRODUCTS [WRITEBACKS] [ROUNDS]]`
//! (defaults 100000, 10000, 3).
//!
//! The PIM (`mapsync_sandbox::pim`, in process, in memory, static bearer
//! token) is seeded with PRODUCTS synthetic products
//! (`support::product`: 5 variants, three images, ~1.9 KB of JSON each).
//!
//! * **Reads**: every product through `mapsync_rest::RestSource`
//!   (`records_in(product, Full)`, pulled with `next_item` as the engine
//!   does), pages of 100 with `include=images`, in each paging style
//!   (`page`, `offset`, `cursor`, `link`, `next_url`), in records per
//!   second (the best of ROUNDS);
//! * **the floor**, per style: a plain `reqwest` client walking the same
//!   pages the same way (page counter, offset, `meta.next_cursor`, the
//!   `Link` header, `links.next`) one after the other and parsing each with
//!   `serde_json::from_slice::<Value>`, records per second; the source's
//!   ratio to it. The source reads one page ahead, so it may beat a floor
//!   that does not;
//! * **write-back**: WRITEBACKS items through `SourceWrite::write_back`,
//!   the engine's way (calls of `batch_size()` items, 4 calls in flight):
//!   one request per item, then with `batch: { size: 100 }` (the PIM's
//!   `PATCH /products`), in requests per item and items per second.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mapsync::sandbox::pim::{self, PimConfig};
use mapsync_core::source::{Entity, ReadScope, Source, SourceWrite, WriteBack, WritebackFields};
use mapsync_rest::RestSource;
use serde_json::{json, Value};

const TOKEN: &str = "bench-token";
const PAGE: usize = 100;
/// Write-back calls in flight, as the engine's worker.
const IN_FLIGHT: usize = 4;

/// The paging styles, with the query and `paging:` of each.
fn styles() -> Vec<(&'static str, Value, Value)> {
    let sized = json!({"include": "images", "per_page": PAGE});
    let plain = json!({"include": "images"});
    vec![
        (
            "page",
            plain.clone(),
            json!({"style": "page", "page": "page", "size": "per_page", "max": PAGE}),
        ),
        (
            "offset",
            plain,
            json!({"style": "offset", "offset": "offset", "limit": "limit", "max": PAGE}),
        ),
        (
            "cursor",
            sized.clone(),
            json!({"style": "cursor", "cursor": "meta.next_cursor", "param": "cursor"}),
        ),
        ("link", sized.clone(), json!({"style": "link"})),
        (
            "next_url",
            sized,
            json!({"style": "next_url", "next": "links.next"}),
        ),
    ]
}

fn source(base: &str, query: &Value, paging: &Value, writeback: Value) -> RestSource {
    RestSource::from_value(&json!({
        "type": "rest",
        "base_url": base,
        "auth": {"bearer": TOKEN},
        "entities": {"product": {
            "list": {"path": "/products", "records": "data", "query": query},
            "paging": paging,
        }},
        "writeback": writeback,
    }))
    .expect("a rest source")
}

/// Reads every product through the source; (records, seconds).
async fn read_source(source: &RestSource) -> (u64, f64) {
    let started = Instant::now();
    let mut stream = source
        .records_in(Entity::Product, ReadScope::Full)
        .expect("records");
    let mut n = 0u64;
    while let Some(item) = stream.next_item().await {
        let record = item.expect("a record");
        std::hint::black_box(&record);
        n += 1;
    }
    (n, started.elapsed().as_secs_f64())
}

/// The floor: a plain client walking the pages of `style` as the source
/// does (its own counter, `meta.next_cursor`, the `Link` header,
/// `links.next`), one after the other, each parsed into a `Value`;
/// (records, seconds).
async fn read_floor(client: &reqwest::Client, base: &str, style: &str) -> (u64, f64) {
    let list = format!("{base}/products");
    let first = match style {
        "page" => format!("{list}?include=images&page=1&per_page={PAGE}"),
        "offset" => format!("{list}?include=images&offset=0&limit={PAGE}"),
        _ => format!("{list}?include=images&per_page={PAGE}"),
    };
    let started = Instant::now();
    let (mut n, mut pages) = (0u64, 1u64);
    let mut url = Some(first);
    while let Some(u) = url.take() {
        let answer = client
            .get(&u)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("a page")
            .error_for_status()
            .expect("200");
        let link = answer
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|h| h.to_str().ok())
            .filter(|h| h.contains("rel=\"next\""))
            .and_then(|h| h.split_once('<'))
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(target, _)| target.to_string());
        let body = answer.bytes().await.expect("a body");
        let v: Value = serde_json::from_slice(&body).expect("JSON");
        let records = v["data"].as_array().map_or(0, Vec::len);
        n += records as u64;
        let full = records == PAGE;
        url = match style {
            "page" => full.then(|| {
                pages += 1;
                format!("{list}?include=images&page={pages}&per_page={PAGE}")
            }),
            "offset" => full.then(|| format!("{list}?include=images&offset={n}&limit={PAGE}")),
            "cursor" => v["meta"]["next_cursor"].as_str().map(|c| {
                reqwest::Url::parse_with_params(
                    &list,
                    &[("include", "images"), ("per_page", "100"), ("cursor", c)],
                )
                .expect("a URL")
                .to_string()
            }),
            "link" => link,
            _ => v["links"]["next"].as_str().map(str::to_string),
        };
        std::hint::black_box(&v);
    }
    (n, started.elapsed().as_secs_f64())
}

/// `items` write-backs the engine's way; (requests, failures, seconds).
async fn write_back(writer: Arc<dyn SourceWrite>, items: Vec<WriteBack>) -> (u64, u64, f64) {
    let fields = WritebackFields {
        sync_id: Some("ShopifyId".into()),
        sync_date: Some("ShopifySyncDate".into()),
        sync_msg: Some("ShopifySyncMsg".into()),
    };
    let size = writer.batch_size().max(1);
    let mut calls = items.chunks(size).map(<[WriteBack]>::to_vec);
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    let mut results: Vec<(u64, u64)> = Vec::new();
    loop {
        while running.len() < IN_FLIGHT {
            let Some(call) = calls.next() else { break };
            let (writer, fields) = (writer.clone(), fields.clone());
            running.spawn(async move {
                let out = writer.write_back(Entity::Product, &fields, &call).await;
                let failed = out.items.iter().filter(|r| r.is_err()).count() as u64;
                (u64::from(out.requests), failed)
            });
        }
        match running.join_next().await {
            Some(r) => results.push(r.expect("a write-back call")),
            None => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let requests = results.iter().map(|r| r.0).sum();
    let failed = results.iter().map(|r| r.1).sum();
    (requests, failed, secs)
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(|a| a.parse::<u64>().expect("PRODUCTS [WRITEBACKS] [ROUNDS]"));
    let products = args.next().unwrap_or(100_000);
    let writebacks = args.next().unwrap_or(10_000).min(products);
    let rounds = args.next().unwrap_or(3).max(1);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let started = Instant::now();
        let mut rng = support::Lcg::new(42);
        let list: Vec<Value> = (0..products)
            .map(|i| support::product(i, &mut rng))
            .collect();
        let bytes: usize = list
            .iter()
            .map(|p| serde_json::to_vec(p).map_or(0, |v| v.len()))
            .sum();
        let pim = pim::start(PimConfig {
            catalog: Some(json!({"products": list})),
            token: Some(TOKEN.into()),
            ..PimConfig::default()
        })
        .await
        .expect("the PIM");
        let base = pim.url();
        eprintln!(
            "PIM seeded with {products} products ({:.1} MB of JSON) in {:.1?}",
            bytes as f64 / 1e6,
            started.elapsed()
        );

        // Each style: the floor, then the source; the best of `rounds`.
        let client = reqwest::Client::new();
        println!("reads ({products} products, pages of {PAGE}, include=images, best of {rounds}):");
        for (style, query, paging) in styles() {
            let mut floor = 0.0f64;
            for _ in 0..rounds {
                let (n, secs) = read_floor(&client, &base, style).await;
                assert_eq!(n, products, "the floor read every product");
                floor = floor.max(n as f64 / secs);
            }
            let src = source(&base, &query, &paging, json!({}));
            let mut best = 0.0f64;
            for _ in 0..rounds {
                let (n, secs) = read_source(&src).await;
                assert_eq!(n, products, "{style} read every product");
                best = best.max(n as f64 / secs);
            }
            println!(
                "  {style:<9} floor {floor:>8.0} records/s   RestSource {best:>8.0} records/s   {:.2}x the floor   ({} requests per read)",
                best / floor,
                src.requests() / rounds
            );
        }

        // Write-back: one request per item, then batches of 100.
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("a date");
        let items: Vec<WriteBack> = (0..writebacks)
            .map(|i| WriteBack {
                key: format!("P{i:07}"),
                sync_id: Some(format!("gid://shopify/Product/{}", i + 1)),
                sync_date: Some(now.clone()),
                sync_msg: String::new(),
                values: Default::default(),
            })
            .collect();
        let (query, paging) = (json!({}), json!({"style": "none"}));
        let single = json!({"product": {"method": "PATCH", "path": "/products/{{ key }}"}});
        let batched = json!({"product": {
            "method": "PATCH",
            "path": "/products/{{ key }}",
            "batch": {
                "size": 100,
                "path": "/products",
                "results": "results",
                "item": {"key": "{{ key }}", "fields": {
                    "ShopifyId": "{{ sync_id }}",
                    "ShopifySyncDate": "{{ sync_date }}",
                    "ShopifySyncMsg": "{{ sync_msg }}",
                }},
            },
        }});
        println!("write-back ({writebacks} items, {IN_FLIGHT} calls in flight):");
        for (name, wb) in [("one per item", single), ("batches of 100", batched)] {
            let src = source(&base, &query, &paging, wb);
            let writer = src.writeback().expect("a write side");
            let before = pim.writebacks().count;
            let (requests, failed, secs) = write_back(writer, items.clone()).await;
            assert_eq!(failed, 0, "{name}: every write-back taken");
            assert_eq!(pim.writebacks().count - before, writebacks);
            println!(
                "  {:<28} {:>10.0} items/s  {:.3} requests/item  ({requests} requests, {:.2?})",
                name,
                writebacks as f64 / secs,
                requests as f64 / writebacks as f64,
                Duration::from_secs_f64(secs)
            );
        }
        pim.shutdown().await.expect("shutdown");
    });
}
