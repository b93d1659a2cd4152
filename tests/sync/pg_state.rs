//! The state store on PostgreSQL through the real binary (issue 17,
//! docs/scale.md): `state: postgres://...` against a throwaway PostgreSQL
//! cluster started by the test process (`mapsync-pgtest`: initdb and
//! postgres on loopback, a database per test) and the emulated store
//! served on loopback. Without PostgreSQL binaries each test prints
//! `SKIPPED <test>: <reason>` and returns.
//!
//! What is checked: a sync records its items in PostgreSQL (ledger rows,
//! the run journal) and a second run writes nothing; a run SIGKILLed
//! midway and resumed ends with the store of a clean run (nothing created
//! twice); `plan --format json` is the same plan on PostgreSQL as on
//! SQLite; `images publish` records its lines there; an unreachable
//! server and a missing password variable are diagnostics with their
//! codes, never showing the password.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use mapsync::plan::document::Entity;
use mapsync::statedb::StatePool;
use serde_json::Value;

use crate::project::copy_dir;
use crate::store_view::{delta, normalized};

/// Root fields that change the store.
const WRITES: &[&str] = &[
    "productSet",
    "productUpdate",
    "productDelete",
    "collectionCreate",
    "collectionUpdate",
    "collectionDelete",
    "collectionAddProducts",
    "collectionRemoveProducts",
    "metafieldsSet",
    "metafieldsDelete",
    "inventorySetQuantities",
    "publishablePublish",
    "publishableUnpublish",
];

/// A sandbox and a project whose profile `e2e` syncs the demo mapping
/// from `catalog.json` with the state store `state`.
struct Env {
    rt: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    dir: tempfile::TempDir,
    state: String,
}

impl Env {
    fn new(state: &str, settings: &str) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = rt
            .block_on(sandbox::start(SandboxConfig {
                latency: Duration::from_millis(3),
                ..SandboxConfig::default()
            }))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(Path::new("mappings/demo"), &dir.path().join("mapping"));
        let mapping = dir.path().join("mapping/mapping.yaml");
        let text = std::fs::read_to_string(&mapping).unwrap();
        let text = text.replace(
            "settings:\n  sync: [add, update, deactivate]\n  max_deletes: 50%\n",
            &format!("settings:\n{settings}"),
        );
        std::fs::write(&mapping, text).unwrap();
        std::fs::copy("examples/catalog.json", dir.path().join("catalog.json")).unwrap();
        let env = Env {
            rt,
            sandbox: Some(sandbox),
            dir,
            state: state.to_owned(),
        };
        env.write_project(state);
        env
    }

    fn write_project(&self, state: &str) {
        let project = format!(
            "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: {state}\n",
            self.url()
        );
        std::fs::write(self.dir.path().join("mapsync.yaml"), project).unwrap();
    }

    fn url(&self) -> String {
        self.sandbox.as_ref().unwrap().url()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mapsync"));
        c.arg("--project")
            .arg(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("E2E_TOKEN", "e2e-token")
            .env_remove("PGPASSWORD")
            .env_remove("RUST_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `sync --format json`: exit code and the run report.
    fn sync(&self) -> (i32, Value) {
        let (code, stdout, stderr) = self.run(&["sync", "--profile", "e2e", "--format", "json"]);
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("no report ({e}); exit {code}; stderr: {stderr}"));
        (code, report)
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    fn snapshot(&self) -> Value {
        normalized(&self.get("/__sandbox/snapshot"))
    }

    /// Write calls per root field since the sandbox started.
    fn writes(&self) -> BTreeMap<String, u64> {
        let stats = self.get("/__sandbox/stats");
        stats["by_operation"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| WRITES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }

    fn set_catalog(&self, v: &Value) {
        std::fs::write(
            self.dir.path().join("catalog.json"),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }

    /// The ledger rows of `entity` in the profile's state store, read
    /// through the state API.
    fn ledger_rows(&self, entity: Entity) -> usize {
        let pool = StatePool::for_url(&self.state, self.dir.path(), 0).unwrap();
        self.rt.block_on(async {
            let db = pool.take().unwrap();
            db.load("e2e", entity).await.unwrap().len()
        })
    }

    /// The runs the profile's state store journaled, newest first.
    fn runs(&self) -> Vec<Value> {
        let (code, stdout, stderr) = self.run(&["runs", "--profile", "e2e", "--format", "json"]);
        assert_eq!(code, 0, "{stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        v["runs"].as_array().unwrap().clone()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

const DEMO: &str = "  sync: [add, update, deactivate]\n  max_deletes: 50%\n";

/// A catalog of `n` products with 3 variants each, in 3 categories.
fn big_catalog(n: usize) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let variants: Vec<Value> = ["S", "M", "L"]
                .iter()
                .enumerate()
                .map(|(j, size)| {
                    serde_json::json!({"Sku": format!("K-{i}-{size}"), "Color": "Blue", "Size": size,
                        "Price": format!("{}.00", 10 + i % 50), "Position": j + 1, "Stock": (i + j) % 9})
                })
                .collect();
            serde_json::json!({"ItemNo": format!("K-{i}"), "Name": format!("Item {i}"),
                "Description": "Generated", "Material": "Wool", "Group": "Knit",
                "Tags": "knit", "Published": true,
                "Categories": [format!("C-{}", i % 3)], "Variants": variants})
        })
        .collect();
    let categories: Vec<Value> = (0..3)
        .map(|c| serde_json::json!({"CategoryId": format!("C-{c}"), "Name": format!("Category {c}"), "Active": true}))
        .collect();
    serde_json::json!({"categories": categories, "products": products})
}

#[test]
fn a_sync_with_postgres_state_records_there_and_a_second_run_writes_nothing() {
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_sync") else {
        return;
    };
    let env = Env::new(&url, DEMO);
    let (code, stdout, stderr) = env.run(&["validate"]);
    assert_eq!(code, 0, "validate accepts a postgres:// state: {stdout}{stderr}");

    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 11, "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    // The ledger is in PostgreSQL, and no SQLite file was made.
    assert_eq!(env.ledger_rows(Entity::Category), 3);
    assert_eq!(env.ledger_rows(Entity::Product), 8);
    assert!(!env.dir.path().join(".mapsync/state.db").exists());
    let store = env.snapshot();

    let before = env.writes();
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["unchanged"], 10, "{report:#}");
    assert_eq!(report["summary"]["skipped"], 1, "{report:#}");
    assert!(delta(&before, &env.writes()).is_empty(), "the second run wrote");
    assert_eq!(env.snapshot(), store);

    // Both runs are journaled, newest first, with their counts.
    let runs = env.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["status"], "ok");
    assert_eq!(runs[1]["summary"]["created"], 11, "{runs:#?}");
}

#[test]
fn a_run_killed_midway_on_postgres_resumes_without_creating_anything_twice() {
    let Some(clean_url) = mapsync_pgtest::database_blocking("pg_state_clean") else {
        return;
    };
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_killed") else {
        return;
    };
    let settings = "  sync: [add, update, deactivate]\n  concurrency: 4\n  chunk_size: 10\n";
    let clean = Env::new(&clean_url, settings);
    clean.set_catalog(&big_catalog(120));
    assert_eq!(clean.sync().0, 0);
    let expected = clean.snapshot();

    let env = Env::new(&url, settings);
    env.set_catalog(&big_catalog(120));
    let mut killed_midway = 0;
    for kill_after in [300u64, 700, 1200] {
        let mut child = env
            .command(&["sync", "--profile", "e2e", "--format", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(kill_after));
        // SIGKILL: no cleanup, no flush.
        if child.try_wait().unwrap().is_none() {
            killed_midway += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let recorded = env.ledger_rows(Entity::Product);
    let created = env.writes().get("productSet").copied().unwrap_or(0);
    println!(
        "killed {killed_midway} runs midway; {recorded} products recorded, {created} productSet calls before the resume"
    );
    let (code, report) = env.sync();
    assert_eq!(code, 0, "{report:#}");
    // The store of a clean run: every product once (a duplicate would be
    // a product more in the snapshot).
    assert_eq!(env.snapshot(), expected);
    assert_eq!(env.ledger_rows(Entity::Product), 120);
    // And nothing left to do.
    let (_, report) = env.sync();
    assert_eq!(report["summary"]["unchanged"], 123, "{report:#}");
}

/// A plan without what differs between two runs of the same inputs: its
/// creation instant.
fn plan_of(env: &Env) -> Value {
    let (code, stdout, stderr) = env.run(&["plan", "--profile", "e2e", "--format", "json"]);
    assert!(code == 0 || code == 2, "exit {code}: {stderr}");
    let mut plan: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no plan ({e}): {stdout} {stderr}"));
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in ["created_at", "duration_ms", "seconds"] {
                    m.remove(k);
                }
                m.values_mut().for_each(scrub);
            }
            Value::Array(a) => a.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut plan);
    plan
}

#[test]
fn plan_is_the_same_on_postgres_as_on_sqlite() {
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_plan") else {
        return;
    };
    // One store, synced once with the state on PostgreSQL; the same
    // ledger is then made on SQLite by a sync of the same inputs into a
    // second store (ids are the store's: compared through the plan's
    // keys and actions only where they differ).
    let pg = Env::new(&url, DEMO);
    let sqlite = Env::new("sqlite:.mapsync/state.db", DEMO);
    // Fresh: everything to create.
    let (a, b) = (plan_of(&pg), plan_of(&sqlite));
    assert_eq!(a, b, "the plans of a fresh state differ");
    assert!(a["changes"].as_array().is_some_and(|c| !c.is_empty()), "{a:#}");

    assert_eq!(pg.sync().0, 0);
    assert_eq!(sqlite.sync().0, 0);
    // The same change on both sides: a price and a removed product.
    for env in [&pg, &sqlite] {
        let text = std::fs::read_to_string(env.dir.path().join("catalog.json")).unwrap();
        let mut catalog: Value = serde_json::from_str(&text).unwrap();
        catalog["products"][0]["Variants"][0]["Price"] = "99.00".into();
        catalog["products"].as_array_mut().unwrap().pop();
        env.set_catalog(&catalog);
    }
    let (a, b) = (plan_of(&pg), plan_of(&sqlite));
    let actions = |p: &Value| -> Vec<(String, String)> {
        p["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["action"].as_str().unwrap_or("").to_owned(),
                    c["key"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(actions(&a), actions(&b), "{a:#}\n{b:#}");
    assert_eq!(a["summary"], b["summary"]);
    assert!(
        actions(&a).iter().any(|(action, _)| action == "update"),
        "{a:#}"
    );
}

#[test]
fn an_unreachable_server_and_a_missing_password_are_diagnostics_without_the_password() {
    // A closed port on loopback: nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::new(
        &format!("postgres://mapsync@127.0.0.1:{port}/mapsync?password_env=PG_TEST_PW&connect_timeout=2"),
        DEMO,
    );
    // The variable is not set: run::env, naming it.
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("run::env"), "{stderr}");
    assert!(stderr.contains("PG_TEST_PW"), "{stderr}");
    let before = env.writes();

    // Set, but nothing answers: run::state-unreachable, no password shown.
    let secret = "s3cret-Pa55word";
    for args in [
        &["sync", "--profile", "e2e"][..],
        &["plan", "--profile", "e2e"][..],
    ] {
        let out = env
            .command(args)
            .env("PG_TEST_PW", secret)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("run::state-unreachable"), "{stderr}");
        assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
        assert!(!stderr.contains(secret) && !stdout.contains(secret), "{stderr}");
    }
    // Nothing was written to the store.
    assert!(delta(&before, &env.writes()).is_empty());
    // No password in the logs either.
    let logs = env.dir.path().join(".mapsync/logs");
    if let Ok(files) = std::fs::read_dir(&logs) {
        for f in files.flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap_or_default();
            assert!(!text.contains(secret), "{}", f.path().display());
        }
    }
}

/// Products P-0..P-7 with two images each (as `images_cli`'s seed, without
/// the variant image link): what `images pull` finds.
fn seed_images(rt: &tokio::runtime::Runtime, store: &str, images: &crate::images_support::Images) {
    use crate::images_support::{product_images, SMALL};
    for i in 0..SMALL.products {
        let files: Vec<Value> = product_images(SMALL, i)
            .into_iter()
            .map(|(name, alt)| {
                let url = images.url_of(&name);
                match alt {
                    Some(alt) => serde_json::json!({"originalSource": url, "alt": alt, "contentType": "IMAGE"}),
                    None => serde_json::json!({"originalSource": url, "contentType": "IMAGE"}),
                }
            })
            .collect();
        let input = serde_json::json!({
            "title": format!("Product {i}"),
            "productOptions": [{"name": "Size", "values": [{"name": "S"}]}],
            "variants": [{"optionValues": [{"optionName": "Size", "name": "S"}], "price": "10.00", "sku": format!("P-{i}-S")}],
            "files": files,
            "metafields": [{"namespace": "mapsync", "key": "key", "type": "single_line_text_field", "value": format!("P-{i}")}],
        });
        let body = serde_json::json!({
            "query": "mutation($i: ProductSetInput!) { productSet(input: $i, synchronous: true) { product { id } userErrors { field message } } }",
            "variables": { "i": input },
        });
        let url = format!("{store}/admin/api/2026-04/graphql.json");
        let answer: Value = loop {
            let answer: Value = rt.block_on(async {
                reqwest::Client::new()
                    .post(&url)
                    .header("X-Shopify-Access-Token", "e2e-token")
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap()
            });
            if answer["errors"][0]["extensions"]["code"] != "THROTTLED" {
                break answer;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        assert_eq!(answer["data"]["productSet"]["userErrors"], serde_json::json!([]), "{answer}");
    }
}

#[test]
fn images_publish_records_its_lines_in_postgres() {
    use crate::images_support::{sha256, Images, Mixed, Project, SMALL};
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_images") else {
        return;
    };
    let rt = crate::images_support::runtime();
    let sandbox = rt.block_on(sandbox::start(SandboxConfig::default())).unwrap();
    let images = Images::start(&rt, SMALL);
    let project = Project::new(
        "mappings/demo",
        &format!(
            "    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n",
            sandbox.url()
        ),
        vec![("E2E_TOKEN", "e2e-token".into())],
        &["PGPASSWORD"],
    );
    let file = project.path("mapsync.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("sqlite:.mapsync/state.db", &url)).unwrap();
    seed_images(&rt, &sandbox.url(), &images);
    let writes = || -> u64 {
        let url = format!("{}/__sandbox/stats", sandbox.url());
        let stats: Value =
            rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        ["productUpdate", "fileUpdate", "stagedUploadsCreate", "productSet"]
            .iter()
            .map(|k| stats["by_operation"][k].as_u64().unwrap_or(0))
            .sum()
    };

    let mixed = Mixed::write(&project);
    let (_, after) = mixed.publish(&project, writes);
    assert!(!project.path(".mapsync/state.db").exists(), "no SQLite file");

    // Each finished line is in PostgreSQL, under the publish's keys.
    let pool = StatePool::for_url(&url, project.path(".").as_path(), 0).unwrap();
    let db = pool.take().unwrap();
    let overwrite = format!(
        "overwrite|{}|{}",
        mixed.p0_2.as_str().unwrap(),
        sha256(&mixed.overwritten)
    );
    let append = format!("add|P-1|{}", sha256(&mixed.appended));
    let (o, a) = rt.block_on(async {
        (
            db.image_published("img", &overwrite).await.unwrap(),
            db.image_published("img", &append).await.unwrap(),
        )
    });
    assert_eq!(o.as_deref(), Some("overwritten"));
    assert_eq!(a.as_deref(), Some("appended"));

    // Published again: the overwrite is known done from the state store
    // and nothing is written.
    let (code, log) = project.publish(&mixed.path, &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 0, "{log}");
    assert_eq!(writes(), after);
    let from_state = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("by an earlier publish"))
        })
        .count();
    assert!(from_state >= 1, "{log:#}");
    rt.block_on(sandbox.shutdown()).unwrap();
}
