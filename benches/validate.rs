//! Benchmark: validating a 2,000-line mapping set (target: under 100 ms).
//! Run with `cargo bench --bench validate`.

use std::fmt::Write as _;

use criterion::{criterion_group, criterion_main, Criterion};
use mapsync::config;
use mapsync::diag::{Diagnostics, SourceFile};

/// A mapping set of about `lines` lines using every kind of target.
pub fn big_mapping(lines: usize) -> String {
    let mut s = String::from(
        "mapsync: 1\nsettings:\n  sync: [add, update]\nlocations:\n  CPH: { name: Copenhagen }\n  BER: { name: Berlin }\nentities:\n  category:\n    key: Id\n    map:\n      title: Name\n  product:\n    key: ItemNo\n    images:\n      - { from: Images, kind: url }\n    map:\n      title: Name\n      body_html: \"{{ Description }}<p>{{ Material | default('n/a') }}</p>\"\n",
    );
    let mut n = 0;
    while s.lines().count() < lines / 2 {
        let _ = writeln!(
            s,
            "      \"Metafield|custom|field_{n}|number_integer\": Specs.Value{n}"
        );
        let _ = writeln!(
            s,
            "      \"Metafield|custom|text_{n}|single_line_text_field\": \"'Fixed {n}'\""
        );
        n += 1;
    }
    s.push_str("    variants:\n      from: Variants\n      map:\n        sku: Sku\n        price: Price\n        Quantity_CPH: StockCph\n        Quantity_BER: StockBer\n        \"Option|Color\": Color\n");
    while s.lines().count() < lines {
        let _ = writeln!(
            s,
            "        \"Metafield|variant|field_{n}|number_decimal\": Specs[{n}].Value"
        );
        n += 1;
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = big_mapping(2000);
    assert!(text.lines().count() >= 2000);
    c.bench_function("validate 2000-line mapping set", |b| {
        b.iter(|| {
            let mut diags = Diagnostics::new();
            let parsed = config::parse_yaml(SourceFile::new("big.yaml", text.clone()), &mut diags);
            let files = config::merge_parts("big.yaml".into(), vec![parsed], &mut diags);
            mapsync::check::check_mapping_files(&files, &mapsync::registry(), &mut diags);
            assert!(!diags.has_errors());
            diags
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
