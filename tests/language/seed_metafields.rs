//! The seed's metafield-name table, as data: each row's targets are mapped
//! in one product entity; the first one's resolved type and the codes
//! reported are compared with the row.

use mapsync::check::model::TargetSpec;
use mapsync::config;
use mapsync::diag::{Diagnostics, SourceFile};

#[test]
fn seed_metafield_table() {
    let table = std::fs::read_to_string("tests/data/validate/seed-metafields.txt").unwrap();
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let [targets, ty, codes] = cols.as_slice() else {
            panic!("bad row: {line}")
        };
        let mut yaml = String::from(
            "mapsync: 1\nentities:\n  product:\n    key: K\n    map:\n      title: T\n",
        );
        for (i, t) in targets.split(" + ").enumerate() {
            yaml.push_str(&format!("      \"{t}\": F{i}\n"));
        }
        let mut diags = Diagnostics::new();
        let parsed = config::parse_yaml(SourceFile::new("row.yaml", yaml), &mut diags);
        let files = config::merge_parts("row.yaml".into(), vec![parsed], &mut diags);
        let set = mapsync::check::check_mapping_files(&files, &mapsync::registry(), &mut diags);
        let got: Vec<&str> = diags.iter().map(|d| d.code.name).collect();
        let want: Vec<&str> = if *codes == "-" {
            vec![]
        } else {
            codes.split(' ').collect()
        };
        assert_eq!(got, want, "row: {line}");
        let first = set
            .product
            .unwrap()
            .fields
            .into_iter()
            .find_map(|f| match f.target {
                TargetSpec::Metafield { ty, .. } => Some(ty.type_name()),
                _ => None,
            });
        assert_eq!(first.as_deref(), Some(*ty), "row: {line}");
        rows += 1;
    }
    assert!(rows >= 7);
}
