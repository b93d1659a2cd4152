//! `mapsync explain`: every code of `diag::codes::ALL` has a section in
//! docs/diagnostics.md with a failing example and its fix, in the order of
//! the registry; the whole-file examples (`# mapping.yaml`,
//! `# mapsync.yaml`) are validated: the failing one reports its code, the
//! fix validates without an error or a warning. Rendered diagnostics end
//! with the hint to run `mapsync explain CODE`.

use std::path::{Path, PathBuf};

use mapsync::cli::explain;
use mapsync::diag::codes;

use super::{mapsync, root};

/// A section's examples: (fence info, body) after `Fails` and after `Fix`.
struct Examples {
    fails: (String, String),
    fix: (String, String),
}

fn examples(code: &str, text: &str) -> Examples {
    let mut fails = None;
    let mut fix = None;
    let mut want: Option<&str> = None;
    let mut fence: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some((info, body)) = fence.as_mut() {
            if line.starts_with("```") {
                let block = (info.clone(), body.clone());
                match want.take() {
                    Some("fails") if fails.is_none() => fails = Some(block),
                    Some("fix") if fix.is_none() => fix = Some(block),
                    _ => {}
                }
                fence = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if let Some(info) = line.strip_prefix("```") {
            fence = Some((info.trim().to_string(), String::new()));
        } else if line.starts_with("Fails") {
            want = Some("fails");
        } else if line.starts_with("Fix") {
            want = Some("fix");
        }
    }
    assert!(fence.is_none(), "{code}: a code block is not closed");
    Examples {
        fails: fails.unwrap_or_else(|| panic!("{code}: no `Fails:` with a code block")),
        fix: fix.unwrap_or_else(|| panic!("{code}: no `Fix:` with a code block")),
    }
}

#[test]
fn every_code_has_an_explanation_with_a_failing_example_and_its_fix() {
    let sections = explain::sections();
    let named: Vec<&str> = sections.iter().map(|s| s.code.as_str()).collect();
    let all: Vec<&str> = codes::ALL.iter().map(|c| c.name).collect();
    let missing: Vec<&&str> = all.iter().filter(|c| !named.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "docs/diagnostics.md, `## Explanations`, needs a `### CODE` section (meaning, `Fails:` and `Fix:` blocks) for {missing:?}"
    );
    let unknown: Vec<&&str> = named.iter().filter(|c| !all.contains(c)).collect();
    assert!(
        unknown.is_empty(),
        "sections for codes the registry lacks: {unknown:?}"
    );
    assert_eq!(named, all, "the sections follow the order of codes::ALL");
    for s in &sections {
        let e = examples(&s.code, &s.text);
        assert!(
            !e.fails.1.trim().is_empty() && !e.fix.1.trim().is_empty(),
            "{}",
            s.code
        );
        let first = s.text.lines().next().unwrap_or_default();
        assert!(
            !first.is_empty() && !first.starts_with("Fails"),
            "{}: the section starts with what the code means",
            s.code
        );
    }
}

/// Write a whole-file example where it validates: a project example next
/// to a valid mapping set and data files.
fn example_dir(body: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let first = body.lines().next()?.trim();
    let tmp = tempfile::tempdir().unwrap();
    let file = match first {
        "# mapping.yaml" => tmp.path().join("mapping.yaml"),
        "# mapsync.yaml" => {
            std::fs::write(
                tmp.path().join("mapping.yaml"),
                "mapsync: 1\nentities:\n  product:\n    key: ItemNo\n    map:\n      title: Name\n",
            )
            .unwrap();
            std::fs::write(tmp.path().join("data.json"), "{\"products\": []}\n").unwrap();
            std::fs::write(tmp.path().join("data.csv"), "ItemNo,Name\nA1,Shirt\n").unwrap();
            tmp.path().join("mapsync.yaml")
        }
        _ => return None,
    };
    std::fs::write(&file, body).unwrap();
    Some((tmp, file))
}

fn validate(file: &Path) -> Vec<(String, mapsync::diag::Severity)> {
    mapsync::check::validate(
        &[file.to_path_buf()],
        file.parent().unwrap(),
        &mapsync::registry(),
    )
    .expect("readable")
    .iter()
    .map(|d| (d.code.name.to_string(), d.severity))
    .collect()
}

#[test]
fn whole_file_examples_fail_with_their_code_and_their_fix_is_clean() {
    let mut checked = 0;
    for s in explain::sections() {
        let e = examples(&s.code, &s.text);
        let Some((_fails_dir, fails)) = example_dir(&e.fails.1) else {
            continue;
        };
        let found = validate(&fails);
        assert!(
            found.iter().any(|(c, _)| *c == s.code),
            "{}: the failing example reports {found:?}",
            s.code
        );
        let (_fix_dir, fix) = example_dir(&e.fix.1)
            .unwrap_or_else(|| panic!("{}: the fix is a whole file too", s.code));
        let found = validate(&fix);
        assert!(
            found.is_empty(),
            "{}: the fix still reports {found:?}",
            s.code
        );
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} examples are checked");
}

#[test]
fn explain_prints_every_code_and_refuses_an_unknown_one() {
    let dir = root();
    for c in codes::ALL {
        let (code, out, err) = mapsync(dir, &["explain", c.name]);
        assert_eq!(code, 0, "{}: {err}", c.name);
        assert!(
            out.starts_with(&format!("{}: {}\n", c.name, c.summary)),
            "{out}"
        );
        assert!(out.contains("Fails") && out.contains("Fix"), "{out}");
        assert!(
            !out.contains("```"),
            "fences are dropped for the terminal: {out}"
        );
    }
    let (code, out, _) = mapsync(dir, &["explain"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), codes::ALL.len());
    let (code, out, err) = mapsync(dir, &["explain", "metafield::namespace-lenght"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("explain::unknown-code"), "{err}");
    assert!(
        err.contains("did you mean `metafield::namespace-length`?"),
        "{err}"
    );
}

#[test]
fn rendered_diagnostics_end_with_the_explain_hint() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("tests/data/cli/sarif/mapping.yaml"),
        tmp.path().join("mapping.yaml"),
    )
    .unwrap();
    let (code, out, _) = mapsync(tmp.path(), &["validate", "mapping.yaml"]);
    assert_eq!(code, 1, "{out}");
    let json = mapsync(
        tmp.path(),
        &["validate", "mapping.yaml", "--format", "json"],
    )
    .1;
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let codes: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.len() >= 2, "{out}");
    // Each diagnostic: its code line, ..., then the hint as its last line.
    let blocks: Vec<&str> = out
        .split("\n\n")
        .filter(|b| b.contains('×') || b.contains('⚠'))
        .collect();
    let hints: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("explain:"))
        .collect();
    assert_eq!(hints.len(), codes.len(), "{out}");
    for (hint, code) in hints.iter().zip(&codes) {
        assert_eq!(
            hint.trim(),
            format!("explain: `mapsync explain {code}` shows a failing example and its fix"),
            "{out}"
        );
    }
    assert!(!blocks.is_empty(), "{out}");
}
