//! `mapsync init`: a starter project validates without a warning, passes
//! its tests and syncs into the embedded store; `--from-csv` on the CSVs of
//! tests/data/init (each with its `.expect.json`: the products the store
//! must hold afterwards, by key, with their variants and images); a
//! project that exists is refused without a byte changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{mapsync, root};

/// validate (JSON, --deny-warnings), test, sync: all pass.
fn validate_test_sync(dir: &Path) -> Value {
    let (code, out, err) = mapsync(dir, &["validate", "--format", "json", "--deny-warnings"]);
    assert_eq!(code, 0, "validate: {out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true, "{out}");
    assert_eq!(v["summary"]["warnings"], 0, "{out}");
    let (code, out, err) = mapsync(dir, &["test"]);
    assert_eq!(code, 0, "test: {out}{err}");
    assert!(out.contains(" 0 failed"), "{out}");
    assert!(
        !out.starts_with("0 passed"),
        "the starter mapping set has a test: {out}"
    );
    let (code, out, err) = mapsync(dir, &["sync", "--profile", "sandbox", "--format", "json"]);
    assert_eq!(code, 0, "sync: {out}{err}");
    serde_json::from_str(&out).unwrap()
}

/// A product as the test compares it: title, variant SKUs, image URLs.
#[derive(Debug, PartialEq, Eq)]
struct Product {
    title: String,
    variants: Vec<String>,
    images: Vec<String>,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The value of the ownership marker `mapsync.key` in a list of metafields.
fn marker(metafields: &Value) -> String {
    metafields
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["namespace"] == "mapsync" && m["key"] == "key")
        .map(|m| text(&m["value"]))
        .expect("every created product carries the marker")
}

/// The products of the embedded Shopify store, by key, from its persisted state.
fn shopify_store(dir: &Path) -> BTreeMap<String, Product> {
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".mapsync/sandbox.json")).unwrap())
            .unwrap();
    let mut out = BTreeMap::new();
    for p in state["products"].as_object().unwrap().values() {
        out.insert(
            marker(&p["metafields"]),
            Product {
                title: text(&p["title"]),
                variants: p["variants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| text(&v["sku"]))
                    .collect(),
                images: p["media"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| text(&m["original_source"]))
                    .collect(),
            },
        );
    }
    out
}

/// The products of the embedded BigCommerce store, by key.
fn bigcommerce_store(dir: &Path) -> BTreeMap<String, Product> {
    let path = dir.join(".mapsync/bigcommerce-sandbox.json");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for p in state["products"].as_object().unwrap().values() {
        let mut images: Vec<&Value> = p["images"].as_array().unwrap().iter().collect();
        images.sort_by_key(|i| i["sort_order"].as_i64());
        out.insert(
            marker(&p["metafields"]),
            Product {
                title: text(&p["fields"]["name"]),
                variants: p["variants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| text(&v["sku"]))
                    .collect(),
                images: images.iter().map(|i| text(&i["source_url"])).collect(),
            },
        );
    }
    out
}

fn expected(csv: &Path) -> BTreeMap<String, Product> {
    let path = csv.with_extension("expect.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["products"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, p)| {
            let list = |f: &str| p[f].as_array().unwrap().iter().map(text).collect();
            (
                k.clone(),
                Product {
                    title: text(&p["title"]),
                    variants: list("variants"),
                    images: list("images"),
                },
            )
        })
        .collect()
}

fn csv_cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/data/init"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "tests/data/init has the CSV cases");
    cases
}

#[test]
fn init_in_an_empty_directory_validates_tests_and_syncs_into_the_shopify_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = mapsync(tmp.path(), &["init"]);
    assert_eq!(code, 0, "{out}{err}");
    for f in [
        "mapsync.yaml",
        "mappings/catalog/mapping.yaml",
        "data/catalog.json",
        ".gitignore",
        ".github/workflows/mapsync.yml",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f} written");
    }
    let gitignore = std::fs::read_to_string(tmp.path().join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == ".mapsync/"), "{gitignore}");
    let report = validate_test_sync(tmp.path());
    assert_eq!(report["summary"]["created"], 5, "{report}");
    assert_eq!(report["summary"]["failed"], 0, "{report}");
    let store = shopify_store(tmp.path());
    assert_eq!(store.len(), 3);
    assert_eq!(
        store["TEE-1"].variants,
        ["TEE-1-WHT-S", "TEE-1-WHT-M", "TEE-1-BLK-M"]
    );
    assert_eq!(store["TEE-1"].images.len(), 2);
    // A second sync finds nothing to do.
    let (code, out, _) = mapsync(
        tmp.path(),
        &["sync", "--profile", "sandbox", "--format", "json"],
    );
    assert_eq!(code, 0);
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["summary"]["created"], 0, "{again}");
    assert_eq!(again["summary"]["updated"], 0, "{again}");
}

#[test]
fn init_for_bigcommerce_syncs_into_the_bigcommerce_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let (code, out, err) = mapsync(tmp.path(), &["init", "shop", "--target", "bigcommerce"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cd shop"), "{out}");
    let report = validate_test_sync(&dir);
    assert_eq!(report["summary"]["created"], 5, "{report}");
    let store = bigcommerce_store(&dir);
    assert_eq!(store.len(), 3);
    assert_eq!(store["MUG-1"].variants, ["MUG-1-SND"]);
}

#[test]
fn init_from_csv_creates_one_product_per_handle_with_its_variants_and_images() {
    for csv in csv_cases() {
        let tmp = tempfile::tempdir().unwrap();
        let (code, out, err) = mapsync(tmp.path(), &["init", "--from-csv", csv.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {out}{err}", csv.display());
        let name = csv.file_name().unwrap().to_str().unwrap();
        let copied = std::fs::read(tmp.path().join("data").join(name)).unwrap();
        assert_eq!(
            copied,
            std::fs::read(&csv).unwrap(),
            "the CSV is copied as it is"
        );
        let report = validate_test_sync(tmp.path());
        let want = expected(&csv);
        assert_eq!(
            report["summary"]["created"],
            want.len(),
            "{}: {report}",
            csv.display()
        );
        assert_eq!(shopify_store(tmp.path()), want, "{}", csv.display());
    }
}

#[test]
fn init_from_csv_for_bigcommerce_creates_the_same_products() {
    for csv in csv_cases() {
        let tmp = tempfile::tempdir().unwrap();
        let (code, out, err) = mapsync(
            tmp.path(),
            &[
                "init",
                "--target",
                "bigcommerce",
                "--from-csv",
                csv.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{}: {out}{err}", csv.display());
        validate_test_sync(tmp.path());
        assert_eq!(
            bigcommerce_store(tmp.path()),
            expected(&csv),
            "{}",
            csv.display()
        );
    }
}

#[test]
fn every_inferred_mapping_line_says_what_it_guessed() {
    for csv in csv_cases() {
        let tmp = tempfile::tempdir().unwrap();
        let (code, _, err) = mapsync(tmp.path(), &["init", "--from-csv", csv.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let mapping =
            std::fs::read_to_string(tmp.path().join("mappings/catalog/mapping.yaml")).unwrap();
        let entities =
            &mapping[mapping.find("entities:").unwrap()..mapping.find("tests:").unwrap()];
        for line in entities.lines() {
            let t = line.trim();
            // Section keys (`map:`, `variants:`, ...) guess nothing.
            if t.ends_with(':') || t == "from: _rows" || t.starts_with('#') {
                continue;
            }
            assert!(
                line.contains("# guessed"),
                "{}: `{line}` has no comment",
                csv.display()
            );
        }
    }
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn init_in_a_project_that_exists_refuses_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(mapsync(tmp.path(), &["init"]).0, 0);
    std::fs::write(
        tmp.path().join("mapsync.yaml"),
        "# mine\nmapsync: 1\nprofiles: {}\n",
    )
    .unwrap();
    std::fs::remove_file(tmp.path().join(".gitignore")).unwrap();
    let before = files(tmp.path());
    for args in [
        vec!["init"],
        vec!["init", "--target", "bigcommerce"],
        vec!["init", "."],
    ] {
        let (code, out, err) = mapsync(tmp.path(), &args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains("init::exists"), "{err}");
        assert!(err.contains("mapsync.yaml"), "names the files: {err}");
        assert!(err.contains("mapsync explain init::exists"), "{err}");
        assert_eq!(files(tmp.path()), before, "{args:?} changed nothing");
    }
    // --from-csv too: its copy of the CSV is not written either.
    let csv = root().join("tests/data/init/shopify-minimal.csv");
    let (code, _, err) = mapsync(tmp.path(), &["init", "--from-csv", csv.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(files(tmp.path()), before);
    // One existing file of the starter project is enough to refuse.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join(".github/workflows")).unwrap();
    std::fs::write(
        other.path().join(".github/workflows/mapsync.yml"),
        "name: mine\n",
    )
    .unwrap();
    let before = files(other.path());
    let (code, _, err) = mapsync(other.path(), &["init"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(files(other.path()), before);
}

#[test]
fn a_csv_without_a_key_column_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("export.csv");
    std::fs::write(&csv, "Colour;Comment\nRed;nice\n").unwrap();
    let (code, _, err) = mapsync(tmp.path(), &["init", "new", "--from-csv", "export.csv"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("init::csv"), "{err}");
    assert!(!tmp.path().join("new").exists(), "nothing written");
    let (code, _, err) = mapsync(tmp.path(), &["init", "new", "--from-csv", "absent.csv"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("init::csv") && err.contains("absent.csv"),
        "{err}"
    );
}

#[test]
fn a_csv_inside_the_project_is_read_where_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("exports")).unwrap();
    std::fs::copy(
        root().join("tests/data/init/shopify-minimal.csv"),
        tmp.path().join("exports/products.csv"),
    )
    .unwrap();
    let (code, out, err) = mapsync(tmp.path(), &["init", "--from-csv", "exports/products.csv"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!tmp.path().join("data").exists(), "no copy: {out}");
    let project = std::fs::read_to_string(tmp.path().join("mapsync.yaml")).unwrap();
    assert!(
        project.contains("path: \"exports/products.csv\""),
        "{project}"
    );
    validate_test_sync(tmp.path());
    assert_eq!(shopify_store(tmp.path()).len(), 2);
}
