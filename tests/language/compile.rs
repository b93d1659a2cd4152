//! The compiler as data: each directory of tests/data/compile holds a
//! `mapping.yaml`, a `record.json` (`{"entity": "product", "fields": {...}}`)
//! (and optionally `"run": {"now", "channel"}`, the run it compiles for)
//! and an `expected.json`: either `{"document", "control", "hash",
//! "warnings": [codes]}` for a valid record or `{"errors": [{code,
//! message}]}` for an invalid one. `MAPSYNC_BLESS=1` rewrites the expected
//! files (review the diff!).

use std::path::Path;

use mapsync::check::load_mapping;
use mapsync::check::model::Entity;
use mapsync::diag::Severity;
use mapsync::plan::compile::{document_hash, Compiler, RunContext};
use serde_json::{json, Value};

fn outcome(dir: &Path) -> Value {
    let (set, _files, diags) =
        load_mapping(&dir.join("mapping.yaml"), &mapsync::registry()).unwrap();
    assert!(
        !diags.has_errors(),
        "{}: mapping does not validate: {:#?}",
        dir.display(),
        diags.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("record.json")).unwrap()).unwrap();
    let kind = match record["entity"].as_str() {
        Some("category") => Entity::Category,
        _ => Entity::Product,
    };
    // `"run": {"now", "channel"}`: the run the record compiles for.
    let run = RunContext {
        now: record["run"]["now"].as_str().map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
        }),
        channel: record["run"]["channel"].as_str().map(str::to_owned),
    };
    let compiler = Compiler::new(&set, kind).unwrap().in_run(run);
    let fields = record["fields"].as_object().unwrap();
    let diag_json =
        |d: &mapsync::diag::Diagnostic| json!({"code": d.code.name, "message": d.message});
    match compiler.compile(fields) {
        Ok(c) => json!({
            "document": c.document,
            "control": c.control,
            "hash": document_hash(&c.document),
            "warnings": c.warnings.iter().map(diag_json).collect::<Vec<_>>(),
        }),
        Err(diags) => {
            assert!(diags.iter().any(|d| d.severity == Severity::Error));
            json!({ "errors": diags.iter().map(diag_json).collect::<Vec<_>>() })
        }
    }
}

#[test]
fn compile_cases() {
    let bless = std::env::var_os("MAPSYNC_BLESS").is_some();
    let mut dirs: Vec<_> = std::fs::read_dir("tests/data/compile")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 8,
        "expected the compile cases, found {dirs:?}"
    );
    let mut failures = Vec::new();
    for dir in dirs {
        let got = outcome(&dir);
        let path = dir.join("expected.json");
        if bless {
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if expected != got {
            failures.push(format!(
                "{}:\nexpected {}\n     got {}",
                dir.display(),
                serde_json::to_string_pretty(&expected).unwrap(),
                serde_json::to_string_pretty(&got).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
