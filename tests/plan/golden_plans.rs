//! Golden plans for the shipped mapping sets: `mapsync plan --format json`
//! through the binary against a fresh sandbox served on 127.0.0.1, pinned
//! with insta (clock and target serial masked). The demo set's golden plan
//! is in `tests/plan/plan_cli.rs`.

use crate::project::copy_dir;
use std::path::Path;
use std::process::Command;

use mapsync::sandbox::{self, SandboxConfig};

/// Plans `profile` (YAML of one profile whose target is `{url}`) against a
/// fresh sandbox with the extra `locations`; returns the masked plan JSON.
/// `edits`: (file below the copied mapping, text, replacement).
fn golden(
    mapping: &str,
    data: &[(&str, &str)],
    profile: &str,
    locations: &[&str],
    edits: &[(&str, &str, &str)],
) -> serde_json::Value {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt
        .block_on(sandbox::start(SandboxConfig::default()))
        .unwrap();
    let names: Vec<serde_json::Value> = locations
        .iter()
        .map(|n| serde_json::json!({"name": n}))
        .collect();
    let url = format!("{}/__sandbox/locations", sandbox.url());
    rt.block_on(async {
        reqwest::Client::new()
            .post(url)
            .json(&names)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(mapping);
    if from.is_dir() {
        copy_dir(from, &dir.path().join("mapping"));
    } else {
        std::fs::create_dir_all(dir.path().join("mapping")).unwrap();
        std::fs::copy(from, dir.path().join("mapping/mapping.yaml")).unwrap();
    }
    for (file, from, to) in edits {
        let path = dir.path().join("mapping").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }
    for (src, name) in data {
        std::fs::copy(src, dir.path().join(name)).unwrap();
    }
    let project = format!(
        "mapsync: 1\nprofiles:\n  golden:\n{}",
        profile.replace("{url}", &sandbox.url())
    );
    std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .arg("--project")
        .arg(dir.path())
        .args(["plan", "--profile", "golden", "--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    plan["created_at"] = "<created_at>".into();
    plan["target_serial"] = "<serial>".into();
    rt.block_on(sandbox.shutdown()).unwrap();
    plan
}

#[test]
fn minimal_mapping_with_the_product_csv() {
    let plan = golden(
        "mappings/minimal.yaml",
        &[("examples/products.csv", "products.csv")],
        "    mapping: mapping\n    source: { type: file, path: products.csv, entity: product, group_by: Handle }\n    target: { type: shopify, url: \"{url}\" }\n",
        &[],
        &[],
    );
    insta::assert_json_snapshot!("golden_minimal", plan);
}

#[test]
fn complete_pim_mapping() {
    let plan = golden(
        "mappings/pim-shopify",
        &[("tests/data/golden/pim-catalog.json", "catalog.json")],
        "    mapping: mapping\n    source: { type: file, path: catalog.json }\n    target: { type: shopify, url: \"{url}\" }\n",
        &["Copenhagen Warehouse", "Berlin"],
        // The sandbox numbers locations from 1001: BER is the third.
        &[(
            "00-settings.yaml",
            "gid://shopify/Location/2",
            "gid://shopify/Location/1003",
        )],
    );
    insta::assert_json_snapshot!("golden_pim_shopify", plan);
}
