//! Two-way sync by field (issue 16, docs/two-way.md) through the real
//! binary: `validate` checks `direction:` / `conflict:` / `updated_at:`
//! against the profile's source (a `rest` source can be written, a file
//! cannot). Syncing both ways is `two_way_e2e`.

use std::path::Path;

use crate::project::copy_dir;
use crate::support::{command_in, output};

/// A project on `mappings/two-way` reading `source` (a YAML value) into
/// the embedded store kept in `store.json`.
fn project(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("mappings/two-way"), &dir.path().join("mapping"));
    std::fs::write(dir.path().join("catalog.json"), "{\"products\": []}\n").unwrap();
    let text = format!(
        "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {source}\n    target: {{ type: sandbox, state: store.json }}\n    state: sqlite:.mapsync/state.db\n"
    );
    std::fs::write(dir.path().join("mapsync.yaml"), text).unwrap();
    dir
}

/// The emulated PIM's API as a `rest` source with write-back (nothing
/// listens there: nothing is read before planning stops).
const REST: &str = "\n      type: rest\n      base_url: http://127.0.0.1:9\n      entities:\n        product:\n          list: { path: /products, records: data }\n      writeback:\n        product: { method: PATCH, path: \"/products/{{ key }}\" }";

#[test]
fn two_way_fields_need_a_source_that_can_be_written() {
    let rest = project(REST);
    let (code, out, err) = output(&mut command_in(rest.path(), &["validate"]));
    assert_eq!(code, 0, "{out}{err}");

    let file = project("{ type: file, path: catalog.json }");
    let (code, out, err) = output(&mut command_in(
        file.path(),
        &["validate", "--format", "json"],
    ));
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found: Vec<(String, u64)> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "two-way::source-not-writable")
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    // One per field flowing `to_source` or `both`, at its `direction:`.
    let lines: Vec<u64> = found.iter().map(|(_, l)| *l).collect();
    assert_eq!(lines, [21, 22, 23, 24], "{out}");
    assert!(
        found.iter().all(|(f, _)| f.ends_with("mapping.yaml")),
        "{out}"
    );
}
