//! Benchmark: compiling 100,000 synthetic products (5 variants each) with
//! the shipped pim-shopify mapping set; criterion reports records/s as
//! element throughput. Also the document hash alone. Run with
//! `cargo bench --bench compile`.

mod support;

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mapsync::check::load_mapping;
use mapsync::check::model::Entity;
use mapsync::plan::compile::{document_hash, Compiler};
use serde_json::{Map, Value};

const RECORDS: usize = 100_000;
/// Distinct products generated; the run cycles through them.
const DISTINCT: u64 = 10_000;

fn records() -> Vec<Map<String, Value>> {
    let mut rng = support::Lcg::new(7);
    (0..DISTINCT)
        .map(|i| match support::product(i, &mut rng) {
            Value::Object(m) => m,
            _ => Map::new(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (set, _, diags) = load_mapping(Path::new("mappings/pim-shopify"), &mapsync::registry())
        .expect("pim-shopify loads");
    assert!(!diags.has_errors(), "pim-shopify validates");
    let compiler = Compiler::new(&set, Entity::Product).expect("product is mapped");
    let recs = records();
    let valid = recs.iter().filter(|r| compiler.compile(r).is_ok()).count();
    assert_eq!(valid, recs.len(), "every synthetic product compiles");

    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("pim_shopify_100k_products_5_variants", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for r in recs.iter().cycle().take(RECORDS) {
                if compiler.compile(r).is_ok() {
                    ok += 1;
                }
            }
            ok
        })
    });
    g.bench_function("compile_and_hash_100k", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in recs.iter().cycle().take(RECORDS) {
                if let Ok(out) = compiler.compile(r) {
                    n += document_hash(&out.document).len();
                }
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
