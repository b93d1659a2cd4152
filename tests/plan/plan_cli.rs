//! `mapsync plan` through the binary: the demo profile against its
//! embedded sandbox, on a copy of the project in a temporary directory.
//! The JSON plan is pinned (golden plan) with its clock and serial masked.

use crate::project::demo_project as project;
use std::path::Path;
use std::process::Command;

fn mapsync(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .arg("--project")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_plan_against_a_fresh_sandbox_creates_everything() {
    let dir = project();
    let (code, stdout, stderr) = mapsync(
        dir.path(),
        &["plan", "--profile", "demo", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let mut plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["summary"]["create"], 11);
    for c in plan["changes"].as_array().unwrap() {
        let rule = c["rule"].as_str().unwrap();
        assert!(
            rule == "category.create.new" || rule == "product.create.new",
            "{rule}"
        );
    }
    plan["created_at"] = "<created_at>".into();
    plan["target_serial"] = "<serial>".into();
    insta::assert_json_snapshot!("demo_plan", plan);
}

#[test]
fn detailed_exitcode_explain_and_plan_file() {
    let dir = project();
    let (code, _, stderr) = mapsync(
        dir.path(),
        &["plan", "--profile", "demo", "--detailed-exitcode"],
    );
    assert_eq!(code, 2, "{stderr}");
    let (code, stdout, _) = mapsync(
        dir.path(),
        &["plan", "--profile", "demo", "--explain", "P-1003"],
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("product.create.new"), "{stdout}");
    assert!(stdout.contains("product.create.no-permission"), "{stdout}");
    let out = dir.path().join("plan.json");
    let (code, stdout, _) = mapsync(
        dir.path(),
        &["plan", "--profile", "demo", "--out", out.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("Saved the plan"));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file["documents"].as_array().unwrap().len(), 11);
    let (code, _, stderr) = mapsync(dir.path(), &["plan", "--profile", "nope"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no profile `nope`"), "{stderr}");
}

#[test]
fn mapping_tests_of_the_project_pass() {
    let dir = project();
    let (code, stdout, _) = mapsync(dir.path(), &["test"]);
    assert_eq!(code, 0, "{stdout}");
    // The tests of each mapping set of the project's profiles: one each of
    // demo, demo-bigcommerce (twice used), pim-demo and rest-store, three
    // of bigcommerce-to-shopify; a mapping set is tested once.
    assert!(stdout.ends_with("7 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn two_way_mapping_tests_state_pulls_and_conflicts() {
    // The shipped tests of `mappings/two-way`: pulls, pushes, a held
    // conflict and a resolve choice, each stated in `two_way.expect`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = root.join("mappings/two-way");
    let (code, stdout, stderr) = mapsync(root, &["test", set.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.ends_with("6 passed, 0 failed\n"), "{stdout}");

    // A wrong expectation says what the run would do instead, and why.
    let dir = tempfile::tempdir().unwrap();
    crate::project::copy_dir(&set, dir.path());
    let tests = dir.path().join("90-tests.yaml");
    let text = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(
        &tests,
        text.replace(
            "expect: { vendor: hold }",
            "expect: { vendor: push, title: pull }",
        ),
    )
    .unwrap();
    let (code, stdout, _) = mapsync(root, &["test", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "two_way.vendor: expected push, got hold (conflict: source \"Acme Corp\", target \"Acme Inc\")"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("two_way.title: not a two-way field of `product` (two-way fields: tags, product_type, vendor, metafields[custom.material])"),
        "{stdout}"
    );
    assert!(stdout.ends_with("5 passed, 1 failed\n"), "{stdout}");
}
