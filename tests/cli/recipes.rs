//! The CI recipes, run where they can be: every `mapsync` command of
//! `.pre-commit-hooks.yaml`, of this repository's workflow, of the workflow
//! `init` writes and of the GitHub and GitLab recipes of docs/ci.md passes
//! on a starter project; the workflow `init` writes is the one docs/ci.md
//! shows.

use std::path::Path;

use serde_json::Value;

use super::{mapsync, root};

fn yaml(text: &str, what: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A starter project to run the recipes in.
fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(mapsync(tmp.path(), &["init"]).0, 0);
    tmp
}

/// The mapsync commands of a shell line (installs and `command -v` left
/// out), each without its redirection and `|| true`.
fn mapsync_commands(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for part in line.split("||").flat_map(|p| p.split("&&")) {
        let part = part.split('>').next().unwrap_or_default().trim();
        if let Some(rest) = part.strip_prefix("mapsync ") {
            out.push(rest.split_whitespace().map(str::to_string).collect());
        }
    }
    out
}

fn run_all(dir: &Path, lines: &[String], what: &str) -> usize {
    let mut ran = 0;
    for line in lines {
        for args in mapsync_commands(line) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, err) = mapsync(dir, &args);
            assert_eq!(code, 0, "{what}: `mapsync {}`: {out}{err}", args.join(" "));
            ran += 1;
        }
    }
    ran
}

/// The `run:` lines of a workflow's steps.
fn workflow_runs(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for job in doc["jobs"].as_object().unwrap().values() {
        for step in job["steps"].as_array().unwrap() {
            if let Some(run) = step["run"].as_str() {
                out.extend(run.lines().map(str::to_string));
            }
        }
    }
    out
}

/// The fenced block after the heading `heading` of docs/ci.md.
fn ci_doc_block(heading: &str) -> String {
    let doc = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    let at = doc
        .find(heading)
        .unwrap_or_else(|| panic!("docs/ci.md has {heading}"));
    let rest = &doc[at..];
    let start = rest.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = rest[start..].find("```").unwrap();
    rest[start..start + end].to_string()
}

#[test]
fn pre_commit_hooks_run() {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks = yaml(&text, ".pre-commit-hooks.yaml");
    let hooks = hooks.as_array().expect("a list of hooks");
    let ids: Vec<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    for id in ["mapsync-validate", "mapsync-test"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let dir = project();
    for h in hooks {
        for key in ["id", "name", "entry", "language", "files"] {
            assert!(h[key].is_string(), "{key} of {h}");
        }
        assert!(["rust", "system"].contains(&h["language"].as_str().unwrap()));
        assert_eq!(h["pass_filenames"], false, "the whole project is checked");
        let entry = h["entry"].as_str().unwrap().to_string();
        assert_eq!(run_all(dir.path(), &[entry], "pre-commit"), 1);
    }
}

#[test]
fn workflows_run_on_a_starter_project() {
    let dir = project();
    let written =
        std::fs::read_to_string(dir.path().join(".github/workflows/mapsync.yml")).unwrap();
    let own = std::fs::read_to_string(root().join(".github/workflows/mapsync.yml")).unwrap();
    for (what, text) in [
        ("init's workflow", written.clone()),
        ("this repository's workflow", own),
    ] {
        let doc = yaml(&text, what);
        let runs = workflow_runs(&doc);
        assert!(
            run_all(dir.path(), &runs, what) >= 4,
            "{what}: validate (3 formats) and test"
        );
        let all = runs.join("\n");
        assert!(
            all.contains("mapsync validate --format json --deny-warnings"),
            "{what}"
        );
        assert!(all.contains("mapsync test"), "{what}");
    }
    // docs/ci.md shows the workflow `init` writes.
    let body: String = written
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(ci_doc_block("## GitHub Actions"), body);
}

#[test]
fn gitlab_job_runs_on_a_starter_project() {
    let doc = yaml(&ci_doc_block("## GitLab CI"), "docs/ci.md GitLab job");
    let job = &doc["mapsync"];
    let lines: Vec<String> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .chain(job["after_script"].as_array().unwrap())
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let dir = project();
    assert_eq!(run_all(dir.path(), &lines, "GitLab job"), 3);
    assert!(lines
        .iter()
        .any(|l| l.contains("mapsync validate --format json --deny-warnings")));
    assert!(lines.iter().any(|l| l.trim() == "mapsync test"));
}
