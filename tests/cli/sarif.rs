//! The CI outputs of `validate`: `--format sarif` (SARIF 2.1.0: its shape
//! pinned as an insta snapshot, and checked against the rules code
//! scanning applies) and `--format github` (workflow commands).

use serde_json::Value;

use super::{mapsync, root};

const CASE: &str = "tests/data/cli/sarif/mapping.yaml";

fn sarif() -> Value {
    let (code, out, err) = mapsync(root(), &["validate", CASE, "--format", "sarif"]);
    assert_eq!(code, 1, "invalid: {err}");
    serde_json::from_str(&out).expect("one JSON document")
}

#[test]
fn sarif_output_has_the_shape_of_sarif_2_1_0() {
    let mut doc = sarif();
    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(
        doc["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "mapsync");
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{doc:#}");
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "ruleIndex points at its rule");
        assert!(["error", "warning"].contains(&r["level"].as_str().unwrap()));
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"], CASE,
            "relative to the checkout"
        );
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        let region = &loc["region"];
        for k in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(region[k].as_u64().unwrap() >= 1, "{k} is 1-based");
        }
    }
    // Each rule's help is the code's explanation.
    for rule in rules {
        let code = rule["id"].as_str().unwrap();
        let e = mapsync::cli::explain::explanation(code).unwrap();
        assert_eq!(rule["help"]["text"], e.text.as_str());
        assert_eq!(rule["help"]["markdown"], e.text.as_str());
    }
    // The snapshot pins the shape; the explanations and the version have
    // their own checks.
    doc["runs"][0]["tool"]["driver"]["version"] = "[version]".into();
    doc["runs"][0]["tool"]["driver"]["semanticVersion"] = "[version]".into();
    for rule in doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array_mut()
        .unwrap()
    {
        rule["help"] = "[explanation of docs/diagnostics.md]".into();
        rule["fullDescription"] = "[its first line]".into();
    }
    insta::assert_json_snapshot!("validate_sarif", doc);
}

#[test]
fn a_valid_project_gives_a_sarif_log_without_results() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(mapsync(tmp.path(), &["init"]).0, 0);
    let (code, out, err) = mapsync(
        tmp.path(),
        &["validate", "--format", "sarif", "--deny-warnings"],
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn github_format_annotates_the_lines() {
    let (code, out, _) = mapsync(root(), &["validate", CASE, "--format", "github"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("validate_github", out);
    for line in out.lines().filter(|l| l.starts_with("::")) {
        assert!(
            line.starts_with("::error file=") || line.starts_with("::warning file="),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
}
