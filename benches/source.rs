//! Throughput of the `file` source and of the ledger.
//!
//! * `ndjson_100k/file_source`: 100,000 synthetic products (5 variants,
//!   metafield-ish fields, images) read through `FileSource`, vs
//!   `ndjson_100k/floor_from_str`: the same file read line by line and
//!   parsed with plain `serde_json::from_str::<Value>` (the floor).
//! * `csv_group_by_100k_rows`: a Shopify-style CSV, 20,000 products of 5
//!   rows each, through `group_by`.
//! * `ledger_load_1m`: loading 1,000,000 ledger rows of one channel/entity.
//!
//! Run: `cargo bench --bench source` (criterion prints records/s).

mod support;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mapsync::connectors::file::FileSource;
use mapsync::connectors::Entity;
use mapsync::state::{Change, LedgerUpdate, Store};
use serde_json::{json, Value};

const PRODUCTS: u64 = 100_000;

fn ndjson(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("products.ndjson");
    let bytes = support::write_products_ndjson(&path, PRODUCTS);
    eprintln!(
        "ndjson_100k: {} products, {:.1} MB",
        PRODUCTS,
        bytes as f64 / 1e6
    );
    let source = FileSource::from_value(
        &json!({"path": "products.ndjson", "entity": "product"}),
        dir.path(),
    )
    .expect("source");

    let mut group = c.benchmark_group("ndjson_100k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PRODUCTS));
    group.bench_function("file_source", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for item in source.open(Entity::Product).expect("open") {
                let record = item.expect("record");
                n += record.fields.len() as u64;
                black_box(record);
            }
            n
        })
    });
    group.bench_function("floor_from_str", |b| {
        b.iter(|| {
            let reader =
                BufReader::with_capacity(64 * 1024, std::fs::File::open(&path).expect("open"));
            let mut n = 0u64;
            for line in reader.lines() {
                let line = line.expect("line");
                let value: Value = serde_json::from_str(&line).expect("json");
                n += value.as_object().map_or(0, |o| o.len()) as u64;
                black_box(value);
            }
            n
        })
    });
    group.finish();
}

fn csv_group_by(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("products.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(
        out,
        "Handle,Title,Body,Variant SKU,Option1 Value,Variant Price,Image Src"
    )
    .expect("w");
    let groups = 20_000u64;
    for g in 0..groups {
        for r in 0..5 {
            let title = if r == 0 { "Cotton shirt" } else { "" };
            writeln!(
                out,
                "shirt-{g},{title},\"<p>Soft, light cotton</p>\",S{g}-{r},Size {r},{}.95,https://cdn.example.com/{g}/{r}.jpg",
                10 + r
            )
            .expect("w");
        }
    }
    drop(out);
    let source = FileSource::from_value(
        &json!({"path": "products.csv", "entity": "product", "group_by": "Handle"}),
        dir.path(),
    )
    .expect("source");
    let mut group = c.benchmark_group("csv_group_by_100k_rows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(groups * 5));
    group.bench_function("file_source", |b| {
        b.iter(|| {
            let mut n = 0;
            for item in source.open(Entity::Product).expect("open") {
                n += 1;
                black_box(item.expect("record"));
            }
            assert_eq!(n, groups);
            n
        })
    });
    group.finish();
}

fn ledger_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("state.db")).expect("store");
    let rows = 1_000_000u64;
    let date = time::OffsetDateTime::now_utc();
    let start = std::time::Instant::now();
    for chunk in 0..(rows / 10_000) {
        let updates: Vec<LedgerUpdate> = (0..10_000)
            .map(|i| {
                let n = chunk * 10_000 + i;
                LedgerUpdate {
                    entity: Entity::Product,
                    key: format!("P{n:07}"),
                    change: Change::Success {
                        target_id: format!("gid://shopify/Product/{}", 7_000_000_000 + n),
                        hash: mapsync::hash::content_hash(&json!(n)),
                        date,
                    },
                }
            })
            .collect();
        store.record_many("bench", &updates).expect("record_many");
    }
    eprintln!(
        "ledger: wrote {rows} rows with record_many (10,000 per transaction) in {:.2?}",
        start.elapsed()
    );
    let mut group = c.benchmark_group("ledger_load_1m");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows));
    group.bench_function("load", |b| {
        b.iter(|| {
            let map = store.load("bench", Entity::Product).expect("load");
            assert_eq!(map.len() as u64, rows);
            map.len()
        })
    });
    group.finish();
}

criterion_group!(benches, ndjson, csv_group_by, ledger_load);
criterion_main!(benches);
