//! `init --from-csv` reads user files: inference never panics, on any
//! bytes or any header, and what it writes is YAML whose comments never
//! swallow a value (every generated mapping parses as a mapping set).

use std::path::Path;

use mapsync::cli::init::{infer, TargetKind};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = infer(&bytes, Path::new("x.csv"), TargetKind::Shopify);
        let _ = infer(&bytes, Path::new("x.tsv"), TargetKind::Bigcommerce);
    }

    #[test]
    fn any_header_gives_a_mapping_that_loads(
        columns in proptest::collection::vec(
            prop_oneof![
                Just("Handle".to_string()), Just("Title".to_string()), Just("SKU".to_string()),
                Just("Variant SKU".to_string()), Just("Price".to_string()), Just("Color".to_string()),
                Just("Option1 Name".to_string()), Just("Option1 Value".to_string()),
                Just("Image Src".to_string()), Just("Qty".to_string()), Just("id".to_string()),
                "[ -~]{0,12}",
            ],
            1..10,
        ),
        values in proptest::collection::vec("[ -~]{0,8}", 0..10),
    ) {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let header: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let row: Vec<String> = (0..columns.len())
            .map(|i| quote(values.get(i).map(String::as_str).unwrap_or("")))
            .collect();
        let text = format!("{}\n{}\n", header.join(","), row.join(","));
        for target in [TargetKind::Shopify, TargetKind::Bigcommerce] {
            if let Ok(inferred) = infer(text.as_bytes(), Path::new("x.csv"), target) {
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("mapping.yaml");
                std::fs::write(&file, &inferred.mapping).unwrap();
                let diags = mapsync::check::validate(&[file], dir.path(), &mapsync::registry())
                    .expect("readable");
                let codes: Vec<&str> = diags.iter().map(|d| d.code.name).collect();
                prop_assert!(
                    !codes.iter().any(|c| c.starts_with("yaml::") || c.starts_with("schema::") || c.starts_with("source::") || c.starts_with("target::")),
                    "{codes:?}\n{}", inferred.mapping
                );
            }
        }
    }
}
