//! The JSON Schemas and the loader agree: `mapsync schema` prints the
//! shipped files, every key the schemas allow is used by a shipped example
//! that the whole validator accepts, and every key the examples use is in
//! the schemas.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mapsync::config::yaml::{Kind, Node};
use mapsync::diag::{Diagnostics, Severity};
use serde_json::Value;

fn schema_keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            m.values().for_each(|x| schema_keys(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| schema_keys(x, out)),
        _ => {}
    }
}

/// Keys of the example, skipping free-form mappings (their keys are data:
/// also a connector's headers, query parameters and request templates).
fn example_keys(n: &Node, out: &mut BTreeSet<String>) {
    const FREE: &[&str] = &[
        "map",
        "locations",
        "input",
        "expect",
        "profiles",
        "headers",
        "query",
        "body",
        "item",
    ];
    match &n.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                let key = k.scalar_text().unwrap_or_default();
                out.insert(key.clone());
                if key == "two_way" {
                    // A mapping test's values by field: data, not keys.
                    for (kk, _) in v.as_map().into_iter().flatten() {
                        out.insert(kk.scalar_text().unwrap_or_default());
                    }
                } else if FREE.contains(&key.as_str()) {
                    if let Some(inner) = v.as_map() {
                        for (_, vv) in inner {
                            if key != "input" && key != "expect" {
                                example_keys(vv, out);
                            }
                        }
                    }
                } else {
                    example_keys(v, out);
                }
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| example_keys(i, out)),
        _ => {}
    }
}

/// The keys `schema_files` allow (a project file's schema with the options
/// schemas of the connectors) against the keys `examples` use.
fn check_both_ways(schema_files: &[&str], examples: &[&str]) {
    let schema_file = schema_files.join(" + ");
    let mut allowed = BTreeSet::new();
    for file in schema_files {
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        schema_keys(&schema, &mut allowed);
    }
    let mut used = BTreeSet::new();
    for ex in examples {
        let paths = [PathBuf::from(ex)];
        let diags = mapsync::check::validate(&paths, Path::new("."), &mapsync::registry()).unwrap();
        let errors: Vec<&str> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.code.name)
            .collect();
        assert!(errors.is_empty(), "{ex}: {errors:?}");
        let files = if Path::new(ex).is_dir() {
            mapsync::config::mapping_dir_files(Path::new(ex)).unwrap()
        } else {
            vec![PathBuf::from(ex)]
        };
        for f in files {
            let parsed = mapsync::config::read_yaml(&f, &mut Diagnostics::new()).unwrap();
            example_keys(&parsed.root.unwrap(), &mut used);
        }
    }
    let unused: Vec<_> = allowed.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "{schema_file}: keys no example exercises: {unused:?}"
    );
    let unknown: Vec<_> = used.difference(&allowed).collect();
    assert!(
        unknown.is_empty(),
        "examples use keys the schema lacks: {unknown:?}"
    );
}

#[test]
fn mapping_schema_and_complete_mapping_set_agree() {
    check_both_ways(
        &["schemas/mapping.schema.json"],
        &["mappings/pim-shopify", "mappings/two-way"],
    );
}

#[test]
fn project_schema_and_examples_agree() {
    check_both_ways(
        &[
            "schemas/project.schema.json",
            "crates/mapsync-file/schema/source.schema.json",
            "crates/mapsync-rest/schema/source.schema.json",
            "crates/mapsync-rest/schema/target.schema.json",
            "crates/mapsync-shopify/schema/target.schema.json",
            "src/connectors/sandbox.schema.json",
            "crates/mapsync-bigcommerce/schema/source.schema.json",
            "crates/mapsync-bigcommerce/schema/target.schema.json",
            "src/connectors/bigcommerce-sandbox.schema.json",
        ],
        &[
            "mapsync.yaml",
            "tests/data/validate/support/project-all-keys.yaml",
        ],
    );
}

#[test]
fn schema_command_prints_the_shipped_files() {
    for (which, file) in [
        (
            mapsync::schema::Which::Mapping,
            "schemas/mapping.schema.json",
        ),
        (
            mapsync::schema::Which::Project,
            "schemas/project.schema.json",
        ),
    ] {
        assert_eq!(
            mapsync::schema::text(which),
            std::fs::read_to_string(file).unwrap()
        );
    }
}
