//! Every request `mapsync sync` sends to a Shopify store is valid against
//! the real Admin API schema of the version it speaks: the document (as
//! apollo-compiler validates it) and its variables (as a server coerces
//! them). The requests are recorded by a proxy between the binary and an
//! emulated store, over a create run, an update run (prices, quantities,
//! a product unpublished, one gone) and a run with nothing to do.

use std::path::Path;
use std::process::Command;

use mapsync::sandbox::{self, SandboxConfig};
use serde_json::Value;

use crate::project::copy_dir;
use crate::recording_proxy;
use crate::shopify_schema::{schema_of, validate_document_for, validate_variables};

/// The API version mapsync speaks by default.
const VERSION: &str = mapsync::connectors::shopify::DEFAULT_API_VERSION;

fn sync(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .arg("--project")
        .arg(dir)
        .args(["sync", "--profile", "e2e", "--format", "json"])
        .env("NO_COLOR", "1")
        .env("E2E_TOKEN", "e2e-token")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
}

#[test]
fn every_request_of_a_sync_is_valid_against_the_real_schema() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = rt
        .block_on(sandbox::start(SandboxConfig::default()))
        .unwrap();
    let proxy = rt.block_on(recording_proxy::start(&store.url()));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("mappings/demo"), &dir.path().join("mapping"));
    let catalog = dir.path().join("catalog.json");
    std::fs::copy("examples/catalog.json", &catalog).unwrap();
    let project = format!(
        "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n",
        proxy.url
    );
    std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();

    sync(dir.path());
    // A price and a quantity change (one productSet), a quantity alone
    // (inventorySetQuantities), one product is unpublished, one is gone.
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&catalog).unwrap()).unwrap();
    let products = doc["products"].as_array_mut().unwrap();
    products[0]["Variants"][0]["Price"] = "31.00".into();
    products[0]["Variants"][1]["Stock"] = 42.into();
    products[2]["Variants"][0]["Stock"] = 17.into();
    products[1]["Published"] = false.into();
    products.pop();
    std::fs::write(&catalog, serde_json::to_string(&doc).unwrap()).unwrap();
    sync(dir.path());
    sync(dir.path());

    let bodies = proxy.bodies();
    assert!(
        bodies.len() > 20,
        "requests were recorded: {}",
        bodies.len()
    );
    let schema = schema_of(VERSION);
    let mut failures = Vec::new();
    let mut operations = std::collections::BTreeSet::new();
    for (i, body) in bodies.iter().enumerate() {
        let query = body["query"].as_str().unwrap_or_default();
        let doc = match validate_document_for(VERSION, query, &format!("request {i}")) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("request {i}: {e}"));
                continue;
            }
        };
        if let Some(op) = doc.operations.iter().next() {
            operations.insert(op.name.as_ref().map(|n| n.to_string()).unwrap_or_default());
        }
        if let Err(e) = validate_variables(schema, &doc, &body["variables"]) {
            failures.push(format!("request {i} ({query:.60}…):\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The runs exercised the write paths.
    for op in ["ProductSet", "CollectionCreate", "InventorySetQuantities"] {
        assert!(operations.contains(op), "{op} not sent: {operations:?}");
    }
    rt.block_on(store.shutdown()).unwrap();
}
