//! The cut between the workspace's crates, checked on their manifests:
//! the emulated store shares no code with mapsync (it plays the platform),
//! and the core, the planner and the configuration depend on no connector.

use std::collections::BTreeSet;
use std::path::Path;

/// The `mapsync-*` crates a crate's manifest depends on (normal and dev
/// dependencies).
fn mapsync_deps(krate: &str) -> BTreeSet<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.ends_with("dependencies]");
            continue;
        }
        if in_deps && line.starts_with("mapsync-") {
            if let Some(name) = line.split(['=', '.', ' ']).next() {
                out.insert(name.to_string());
            }
        }
    }
    out
}

const CONNECTORS: &[&str] = &["mapsync-file", "mapsync-shopify", "mapsync-sandbox"];

#[test]
fn the_emulated_store_depends_on_no_mapsync_crate() {
    assert_eq!(mapsync_deps("mapsync-sandbox"), BTreeSet::new());
}

#[test]
fn core_plan_state_and_config_depend_on_no_connector() {
    for krate in [
        "mapsync-core",
        "mapsync-syntax",
        "mapsync-config",
        "mapsync-plan",
        "mapsync-state",
    ] {
        let deps = mapsync_deps(krate);
        for c in CONNECTORS {
            assert!(!deps.contains(*c), "{krate} depends on {c}");
        }
    }
    // The manifests are read at all: the planner needs the core.
    assert!(mapsync_deps("mapsync-plan").contains("mapsync-core"));
}

#[test]
fn the_core_depends_on_no_other_mapsync_crate() {
    assert_eq!(mapsync_deps("mapsync-core"), BTreeSet::new());
}

#[test]
fn connectors_depend_on_no_engine_or_planner() {
    for krate in ["mapsync-file", "mapsync-shopify"] {
        let deps = mapsync_deps(krate);
        for upper in ["mapsync-engine", "mapsync-plan", "mapsync-state"] {
            assert!(!deps.contains(upper), "{krate} depends on {upper}");
        }
    }
}
