//! The cut between the workspace's crates, checked on their manifests:
//! the emulated store shares no code with mapsync (it plays the platform),
//! the core, the planner and the configuration depend on no connector, and
//! the engine, planner and checks name no platform.

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

const CONNECTORS: &[&str] = &[
    "mapsync-file",
    "mapsync-shopify",
    "mapsync-sandbox",
    "mapsync-rest",
    "mapsync-bigcommerce",
];

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
        "mapsync-run",
        "mapsync-images",
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
    for krate in [
        "mapsync-file",
        "mapsync-shopify",
        "mapsync-rest",
        "mapsync-bigcommerce",
    ] {
        let deps = mapsync_deps(krate);
        for upper in ["mapsync-engine", "mapsync-plan", "mapsync-state"] {
            assert!(!deps.contains(upper), "{krate} depends on {upper}");
        }
    }
}

/// Every `.rs` file under `dir` (relative to the workspace root).
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

const PLATFORMS: &[&str] = &["shopify", "bigcommerce"];

/// The engine, the executor, the planner and the checks know connectors
/// only through the registry and the core's ports: no platform is named in
/// their sources (code, comments and messages) or their manifests.
#[test]
fn engine_planner_and_checks_name_no_platform() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        "crates/mapsync-engine/src",
        "crates/mapsync-plan/src",
        "crates/mapsync-config/src/check",
        "crates/mapsync-run/src",
        "crates/mapsync-images/src",
    ];
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() >= 10, "the sources are read: {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_ascii_lowercase();
            if PLATFORMS.iter().any(|p| lower.contains(p)) {
                found.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    for krate in [
        "mapsync-engine",
        "mapsync-plan",
        "mapsync-config",
        "mapsync-run",
        "mapsync-images",
    ] {
        let manifest = root.join("crates").join(krate).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap()
            .to_ascii_lowercase();
        for p in PLATFORMS {
            if text.contains(p) {
                found.push(format!("{} names {p}", manifest.display()));
            }
        }
        for c in CONNECTORS {
            assert!(!mapsync_deps(krate).contains(*c), "{krate} depends on {c}");
        }
    }
    assert!(found.is_empty(), "platform names:\n{}", found.join("\n"));
}
