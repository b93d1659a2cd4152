//! `mapsync validate` as data: every shipped mapping set is valid, every
//! case under tests/data/validate/invalid is rejected with the expected
//! code at the expected line and column (in both output formats), and its
//! rendered diagnostics are pinned as insta snapshots.

use std::path::{Path, PathBuf};

use mapsync::check;
use mapsync::cli::render;
use mapsync::diag::{Diagnostics, Severity};

fn validate(paths: &[&str]) -> Diagnostics {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    check::validate(&paths, Path::new("."), &mapsync::registry()).expect("files readable")
}

#[test]
fn shipped_mapping_sets_and_project_are_valid_without_warnings() {
    for set in [
        "mappings/pim-shopify",
        "mappings/minimal.yaml",
        "mappings/demo",
        "mappings/rest-store",
        "mappings/two-way",
        "mapsync.yaml",
    ] {
        let diags = validate(&[set]);
        let rendered: Vec<String> = diags
            .iter()
            .map(|d| render::diagnostic(d, false, 100))
            .collect();
        assert!(diags.is_empty(), "{set}:\n{}", rendered.join("\n"));
    }
}

#[test]
fn validate_without_paths_finds_the_project() {
    let diags = check::validate(&[], Path::new("mappings/demo"), &mapsync::registry())
        .expect("project found in a parent");
    assert!(diags.is_empty());
}

struct Expect {
    code: String,
    file: Option<String>,
    line: usize,
    column: usize,
}

fn expectation(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let header = text.lines().next().unwrap();
    let rest = header.strip_prefix("# expect: ").unwrap_or_else(|| {
        panic!(
            "{}: first line must be `# expect: CODE [FILE] LINE:COL`",
            path.display()
        )
    });
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let (file, pos) = match parts.as_slice() {
        [_, pos] => (None, *pos),
        [_, file, pos] => (Some(file.to_string()), *pos),
        _ => panic!("bad header in {}", path.display()),
    };
    let (line, column) = pos.split_once(':').unwrap();
    Expect {
        code: parts[0].to_string(),
        file,
        line: line.parse().unwrap(),
        column: column.parse().unwrap(),
    }
}

#[test]
fn invalid_cases() {
    let failures = std::cell::RefCell::new(Vec::new());
    insta::glob!("../data", "validate/invalid/*.yaml", |path| {
        let rel = path
            .strip_prefix(std::env::current_dir().unwrap())
            .unwrap()
            .to_path_buf();
        let expect = expectation(&rel);
        let rel_s = rel.display().to_string();
        let diags = validate(&[&rel_s]);
        let file = expect.file.clone().unwrap_or_else(|| rel_s.clone());
        let hit = diags.iter().find(|d| {
            d.code.name == expect.code
                && d.location.as_ref().map(|l| l.file.name.as_str()) == Some(file.as_str())
                && d.line_cols().map(|(l, c, _, _)| (l, c)) == Some((expect.line, expect.column))
        });
        let all: Vec<String> = diags
            .iter()
            .map(|d| format!("{} {:?}", d.code.name, d.line_cols()))
            .collect();
        let Some(hit) = hit else {
            failures.borrow_mut().push(format!(
                "{rel_s}: expected {} at {file}:{}:{}, got {all:?}",
                expect.code, expect.line, expect.column
            ));
            return;
        };
        let is_warning_case = rel_s.contains("/warn-");
        if is_warning_case {
            assert_eq!(hit.severity, Severity::Warning, "{rel_s}");
            assert_eq!(diags.errors(), 0, "{rel_s}: {all:?}");
        } else {
            assert_eq!(hit.severity, Severity::Error, "{rel_s}");
        }
        // The JSON format carries the same code and position.
        let valid = !diags.has_errors();
        let json: serde_json::Value =
            serde_json::from_str(&render::validate_json(&diags, valid)).unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["valid"], valid);
        assert_eq!(json["summary"]["errors"], diags.errors());
        let found = json["diagnostics"].as_array().unwrap().iter().any(|d| {
            d["code"] == expect.code.as_str()
                && d["file"] == file.as_str()
                && d["line"] == expect.line
                && d["column"] == expect.column
                && d["help"].is_string()
        });
        if !found {
            failures.borrow_mut().push(format!(
                "{rel_s}: JSON lacks the expected diagnostic with help"
            ));
        }
        // The human rendering is pinned.
        let text: String = diags
            .iter()
            .map(|d| render::diagnostic(d, false, 80))
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(text);
    });
    let failures = failures.into_inner();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_covers_at_least_forty_error_codes() {
    let mut codes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir("tests/data/validate/invalid").unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("warn-")
        {
            continue;
        }
        codes.insert(expectation(&p).code);
    }
    assert!(
        codes.len() >= 40,
        "only {} distinct error codes: {codes:?}",
        codes.len()
    );
}

#[test]
fn every_code_is_documented_once() {
    let doc = std::fs::read_to_string("docs/diagnostics.md").unwrap();
    for code in mapsync::diag::codes::ALL {
        let needle = format!("`{}`", code.name);
        assert_eq!(
            doc.matches(&needle).count(),
            1,
            "docs/diagnostics.md must list {} exactly once",
            code.name
        );
    }
    let listed = doc.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(
        listed,
        mapsync::diag::codes::ALL.len(),
        "docs list codes the registry lacks"
    );
}
