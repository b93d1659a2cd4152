//! Synthetic catalog data for benchmarks: products shaped like a PIM export
//! (5 variants, metafield-ish fields, images), generated deterministically.

#![allow(dead_code)]

use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{json, Value};

/// A small deterministic generator (no dependency on rand's versions).
pub struct Lcg(u64);

impl Lcg {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "cotton", "linen", "classic", "slim", "organic", "summer", "winter", "soft", "durable",
    "premium", "casual", "sport", "recycled", "wool", "denim", "light",
];
const COLORS: &[&str] = &["Red", "Blue", "Black", "White", "Green"];
const SIZES: &[&str] = &["XS", "S", "M", "L", "XL"];

fn words(rng: &mut Lcg, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Product number `i`.
pub fn product(i: u64, rng: &mut Lcg) -> Value {
    let item = format!("P{i:07}");
    let variants: Vec<Value> = (0..5)
        .map(|v| {
            json!({
                "Sku": format!("{item}-{v}"),
                "Position": v + 1,
                "Color": COLORS[rng.below(5) as usize],
                "Size": SIZES[v],
                "Price": format!("{}.{:02}", 10 + rng.below(190), rng.below(100)),
                "OldPrice": if rng.below(3) == 0 { Value::from(format!("{}.00", 200 + rng.below(50))) } else { Value::Null },
                "EAN": format!("57{:011}", rng.below(100_000_000_000)),
                "StockCph": rng.below(500),
                "StockBer": rng.below(500),
                "Cost": format!("{}.{:02}", 5 + rng.below(50), rng.below(100)),
                "Batch": rng.below(10_000),
                "VariantImages": [format!("https://cdn.example.com/{item}/{v}.jpg")],
            })
        })
        .collect();
    json!({
        "ItemNo": item,
        "Name": format!("{} shirt {i}", words(rng, 2)),
        "Handle": format!("shirt-{i}"),
        "Description": format!("<p>{}</p>", words(rng, 30)),
        "Material": words(rng, 1),
        "Care": words(rng, 6),
        "SeoTitle": format!("Buy the {} shirt", words(rng, 2)),
        "Size": "M",
        "Tags": format!("{},{},{}", words(rng, 1), words(rng, 1), words(rng, 1)),
        "Categories": [format!("C{}", rng.below(200)), format!("C{}", rng.below(200))],
        "Published": rng.below(10) != 0,
        "SyncProduct": true,
        "SyncType": "",
        "OptName1": "Color",
        "OptName2": "Size",
        "Images": [
            format!("https://cdn.example.com/{item}/main.jpg"),
            format!("https://cdn.example.com/{item}/side.jpg"),
            format!("https://cdn.example.com/{item}/back.jpg"),
        ],
        "Variants": variants,
    })
}

/// Writes `n` products as NDJSON to `path`; returns the file's size in bytes.
pub fn write_products_ndjson(path: &Path, n: u64) -> u64 {
    let file = std::fs::File::create(path).expect("create bench data");
    let mut out = BufWriter::new(file);
    let mut rng = Lcg::new(42);
    for i in 0..n {
        serde_json::to_writer(&mut out, &product(i, &mut rng)).expect("write");
        out.write_all(b"\n").expect("write");
    }
    out.flush().expect("flush");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The catalog of the sync benchmarks (`benches/sync.rs`,
/// `benches/bigcommerce.rs`): `n` products of 5 variants (price `price`,
/// the first location's stock `q1`, 2..5 at the others), 10 metafield
/// values and 2 of 4 categories each.
pub fn catalog(n: usize, price: &str, q1: i64) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let variants: Vec<Value> = ["XS", "S", "M", "L", "XL"]
                .iter()
                .enumerate()
                .map(|(j, size)| {
                    json!({"Sku": format!("B-{i}-{size}"), "Size": size, "Price": price,
                           "Position": j + 1, "Q1": q1, "Q2": 2, "Q3": 3, "Q4": 4, "Q5": 5})
                })
                .collect();
            json!({"ItemNo": format!("B-{i}"), "Name": format!("Bench product {i}"),
                   "Description": "<p>Generated for the sync benchmark</p>", "Brand": "Acme",
                   "M1": "one", "M2": "two", "M3": "three", "M4": "four", "M5": "five",
                   "M6": i, "M7": 7, "M8": "8.5", "M9": true, "M10": "ten\nlines",
                   "Categories": [format!("C-{}", i % 4), format!("C-{}", (i + 1) % 4)],
                   "Variants": variants})
        })
        .collect();
    let categories: Vec<Value> = (0..4)
        .map(|c| json!({"CategoryId": format!("C-{c}"), "Name": format!("Category {c}")}))
        .collect();
    json!({"categories": categories, "products": products})
}
