//! `mapsync sync` and `mapsync apply` end to end: the real binary against a
//! sandbox store served over HTTP on 127.0.0.1 (started here, in process),
//! on a copy of the demo project in a temporary directory. The store is
//! checked through the sandbox's control endpoints: its request counters
//! per operation and its snapshot.

use crate::project::copy_dir;
use crate::store_view::{delta, normalized};
use crate::support::{big_catalog, sigkill, Env};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mapsync::sandbox::{FaultKind, SandboxConfig};
use serde_json::Value;

/// The test's own step: a stock change and a fault.
impl Env {
    /// The source's stock of P-1001's second variant becomes 42, and
    /// `fault` is scripted for the store's next matching request.
    fn stock_change_with_fault(&self, fault: Value) {
        let mut catalog = self.catalog();
        catalog["products"][0]["Variants"][1]["Stock"] = 42.into();
        self.set_catalog(&catalog);
        let url = format!("{}/__sandbox/faults", self.url());
        self.rt.block_on(async {
            let r = reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!([fault]))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        });
    }
}

fn items<'a>(report: &'a Value, status: &str) -> Vec<&'a Value> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == status)
        .collect()
}

#[test]
fn first_sync_creates_everything_and_a_second_writes_nothing() {
    let env = Env::demo();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["profile"], "e2e");
    assert_eq!(report["summary"]["created"], 11, "{report:#}");
    assert_eq!(report["summary"]["failed"], 0);
    assert!(items(&report, "failed").is_empty());
    let store = normalized(&env.get("/__sandbox/snapshot"));
    assert_eq!(store["collections"].as_object().unwrap().len(), 3);
    assert_eq!(store["products"].as_object().unwrap().len(), 8);
    let shirt = &store["products"]["P-1001"];
    assert_eq!(shirt["status"], "ACTIVE");
    assert_eq!(shirt["collections"], serde_json::json!(["\"shirts\""]));
    assert_eq!(shirt["seo_title"], "Oxford Shirt | Acme");
    insta::assert_json_snapshot!("sync_demo_store", store);
    // The mapping's one `@description`, found in the spooled documents,
    // and the ownership marker's (unique values: creates are upserts).
    assert_eq!(
        env.writes().get("metafieldDefinitionCreate").copied(),
        Some(2)
    );

    env.assert_demo_resync_writes_nothing();
    assert_eq!(normalized(&env.get("/__sandbox/snapshot")), store);
}

#[test]
fn one_changed_field_makes_only_the_calls_it_needs() {
    let env = Env::demo();
    assert_eq!(env.sync(&[]).0, 0);
    // A price.
    let mut catalog = env.catalog();
    catalog["products"][0]["Variants"][1]["Price"] = "31.50".into();
    env.set_catalog(&catalog);
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("productSet".to_string(), 1)])
    );
    // A quantity.
    catalog["products"][0]["Variants"][1]["Stock"] = 42.into();
    env.set_catalog(&catalog);
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("inventorySetQuantities".to_string(), 1)])
    );
    let store = normalized(&env.get("/__sandbox/snapshot"));
    let v = &store["products"]["P-1001"]["variants"][1];
    assert_eq!(v["price"], "31.50");
    assert_eq!(v["available"], serde_json::json!([42]));
}

#[test]
fn a_removed_product_is_deactivated_or_deleted_as_the_mapping_says() {
    // The demo mapping deactivates.
    let env = Env::demo();
    assert_eq!(env.sync(&[]).0, 0);
    let mut catalog = env.catalog();
    let gone = catalog["products"].as_array_mut().unwrap().remove(0);
    env.set_catalog(&catalog);
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["deactivated"], 1, "{report:#}");
    let store = normalized(&env.get("/__sandbox/snapshot"));
    assert_eq!(
        store["products"][gone["ItemNo"].as_str().unwrap()]["status"],
        "DRAFT"
    );
    // Deactivated once: the next run skips it.
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0);
    assert_eq!(report["summary"]["deactivated"], 0, "{report:#}");

    // A mapping that deletes.
    let env = Env::new(SandboxConfig::default(), "  sync: [add, update, delete]\n");
    assert_eq!(env.sync(&[]).0, 0);
    let mut catalog = env.catalog();
    catalog["products"].as_array_mut().unwrap().remove(0);
    env.set_catalog(&catalog);
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["deleted"], 1, "{report:#}");
    let store = normalized(&env.get("/__sandbox/snapshot"));
    assert_eq!(store["products"].as_object().unwrap().len(), 7);
}

#[test]
fn max_deletes_stops_a_mass_delete_before_any_change() {
    let env = Env::demo();
    assert_eq!(env.sync(&[]).0, 0);
    let mut catalog = env.catalog();
    catalog["products"].as_array_mut().unwrap().truncate(2);
    env.set_catalog(&catalog);
    let before = env.writes();
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("max_deletes"), "{stderr}");
    assert!(stderr.contains("--allow-mass-delete"), "{stderr}");
    assert!(delta(&before, &env.writes()).is_empty());
    let (code, report) = env.sync(&["--allow-mass-delete"]);
    assert_eq!(code, 0, "{report:#}");
    // Six left the source; one of them was never published (already
    // inactive, skipped), five are unpublished now.
    assert_eq!(report["summary"]["deactivated"], 5, "{report:#}");
    assert_eq!(report["summary"]["skipped"], 1, "{report:#}");
}

#[test]
fn invalid_records_are_reported_and_the_run_exits_3() {
    let env = Env::demo();
    let mut catalog = env.catalog();
    catalog["products"][2]["Variants"][0]["Price"] = "lots".into();
    env.set_catalog(&catalog);
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(report["summary"]["invalid"], 1, "{report:#}");
    assert_eq!(report["summary"]["created"], 10, "{report:#}");
    let bad = items(&report, "failed");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["action"], "invalid");
    assert!(
        bad[0]["message"].as_str().unwrap().contains("lots"),
        "{report:#}"
    );
}

#[test]
fn apply_runs_a_saved_plan_and_refuses_a_stale_one() {
    let env = Env::demo();
    let plan = env.save_plan();
    let plan_arg = plan.as_str();
    let report = env.apply(plan_arg);
    assert_eq!(report["summary"]["created"], 11, "{report:#}");
    // The same plan again: the target has changed since it was made.
    let before = env.writes();
    let (code, _, stderr) = env.run(&["apply", plan_arg]);
    assert_eq!(code, 1);
    assert!(stderr.contains("stale"), "{stderr}");
    assert!(delta(&before, &env.writes()).is_empty());
}

fn fault_settings() -> &'static str {
    "  sync: [add, update, deactivate]\n  timeout: 1s\n  retries: 4\n  concurrency: 4\n"
}

#[test]
fn with_ten_percent_faults_every_item_ends_synced_or_explained_and_none_is_duplicated() {
    let clean = Env::new(SandboxConfig::default(), fault_settings());
    assert_eq!(clean.sync(&[]).0, 0);
    let expected = normalized(&clean.get("/__sandbox/snapshot"));

    let faulty = Env::new(
        SandboxConfig {
            fault_rate: 0.10,
            faults: vec![
                FaultKind::Throttle,
                FaultKind::Http5xx,
                FaultKind::Timeout,
                FaultKind::Reset,
            ],
            seed: 7,
            fault_timeout: Duration::from_secs(2),
            ..SandboxConfig::default()
        },
        fault_settings(),
    );
    let (code, report) = faulty.sync(&[]);
    assert!(code == 0 || code == 3, "{report:#}");
    for i in report["items"].as_array().unwrap() {
        if i["status"] == "failed" {
            assert!(
                i["message"].as_str().is_some_and(|m| !m.is_empty()),
                "a failed item without a message: {i}"
            );
        }
    }
    let s = &report["summary"];
    let done = s["created"].as_u64().unwrap() + s["failed"].as_u64().unwrap();
    assert_eq!(done, 11, "every item is accounted for: {report:#}");
    // `normalized` panics on two items with one key: no duplicates.
    let _ = normalized(&faulty.get("/__sandbox/snapshot"));
    // Runs until everything is synced end where a clean run ends.
    for _ in 0..5 {
        if faulty.sync(&[]).0 == 0 {
            break;
        }
    }
    assert_eq!(normalized(&faulty.get("/__sandbox/snapshot")), expected);
}

#[test]
fn a_run_killed_at_any_point_resumes_to_the_store_of_a_clean_run() {
    let settings = "  sync: [add, update, deactivate]\n  concurrency: 4\n  chunk_size: 10\n";
    let slow = || SandboxConfig {
        latency: Duration::from_millis(5),
        ..SandboxConfig::default()
    };
    let clean = Env::new(slow(), settings);
    clean.set_catalog(&big_catalog(120));
    assert_eq!(clean.sync(&[]).0, 0);
    let expected = normalized(&clean.get("/__sandbox/snapshot"));

    let env = Env::new(slow(), settings);
    env.set_catalog(&big_catalog(120));
    // Kill at a few points of the first runs, then resume.
    for kill_after in [150u64, 400, 700] {
        let mut child = env
            .command(&["sync", "--profile", "e2e", "--format", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(kill_after));
        // SIGKILL: no cleanup, no flush.
        let _ = child.kill();
        let _ = child.wait();
        let _ = normalized(&env.get("/__sandbox/snapshot"));
    }
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(normalized(&env.get("/__sandbox/snapshot")), expected);
    // And nothing left to do.
    let (_, report) = env.sync(&[]);
    assert_eq!(report["summary"]["unchanged"], 123, "{report:#}");
}

/// Above the threshold, the products go through one bulk import, and the
/// store ends as a per-item run leaves it.
#[test]
fn products_above_the_bulk_threshold_go_through_one_bulk_import() {
    let settings = "  sync: [add, update, deactivate]\n";
    let clean = Env::new(SandboxConfig::default(), settings);
    clean.set_catalog(&big_catalog(120));
    assert_eq!(clean.sync(&[]).0, 0);
    let expected = normalized(&clean.get("/__sandbox/snapshot"));

    let env = Env::with_target(
        SandboxConfig::default(),
        settings,
        ", bulk_import_threshold: 50",
    );
    env.set_catalog(&big_catalog(120));
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 123, "{report:#}");
    let ops = env.bulk_mutations();
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(ops[0]["status"], "COMPLETED");
    // No product went through a per-item productSet.
    assert_eq!(env.writes().get("productSet"), None, "{:?}", env.writes());
    assert_eq!(normalized(&env.get("/__sandbox/snapshot")), expected);
    // The ledger has every product: nothing left to do.
    let (_, report) = env.sync(&[]);
    assert_eq!(report["summary"]["unchanged"], 123, "{report:#}");
    // A changed price on 60 products, one of them with an image the store
    // refuses; a changed stock alone on another (a compare-and-swap: the
    // per-item path): 59 + 1 updates, one failure with the store's message.
    let mut catalog = big_catalog(120);
    let products = catalog["products"].as_array_mut().unwrap();
    for p in products.iter_mut().take(60) {
        for v in p["Variants"].as_array_mut().unwrap() {
            v["Price"] = "99.50".into();
        }
    }
    products[0]["Images"] =
        serde_json::json!(["https://cdn.example.com/__sandbox/staged/gone/a.png"]);
    products[100]["Variants"][0]["Stock"] = 77.into();
    env.set_catalog(&catalog);
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(report["summary"]["updated"], 60, "{report:#}");
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
    let failed = items(&report, "failed");
    assert_eq!(failed[0]["key"], "K-0");
    let message = failed[0]["message"].as_str().unwrap();
    assert!(
        message.contains("Invalid image source url value provided."),
        "{message}"
    );
    assert_eq!(env.bulk_mutations().len(), 2);
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("inventorySetQuantities".to_string(), 1)])
    );
    // The failure is the item's SyncMsg: the next run sends it again.
    let (_, report) = env.sync(&[]);
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
    assert_eq!(report["summary"]["unchanged"], 122, "{report:#}");
}

/// A run bigger than one file: its imports follow each other (the next
/// file filled and staged while one runs, submitted when it ends), every
/// line is recorded once, and the store ends as a per-item run leaves it.
#[test]
fn a_run_of_several_bulk_files_records_every_line_once() {
    let settings = "  sync: [add, update, deactivate]\n";
    let clean = Env::new(SandboxConfig::default(), settings);
    clean.set_catalog(&big_catalog(120));
    assert_eq!(clean.sync(&[]).0, 0);
    let expected = normalized(&clean.get("/__sandbox/snapshot"));

    let config = SandboxConfig {
        bulk_line_delay: Duration::from_millis(2),
        ..SandboxConfig::default()
    };
    let env = Env::with_target(
        config,
        settings,
        ", bulk_import_threshold: 50, bulk_import_file_lines: 25",
    );
    env.set_catalog(&big_catalog(120));
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 123, "{report:#}");
    let ops = env.bulk_mutations();
    // 120 products in files of 25 lines.
    assert_eq!(ops.len(), 5, "{ops:#?}");
    assert!(ops.iter().all(|op| op["status"] == "COMPLETED"), "{ops:#?}");
    let lines: u64 = ops
        .iter()
        .map(|op| op["objectCount"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(lines, 120, "{ops:#?}");
    assert_eq!(env.writes().get("productSet"), None, "{:?}", env.writes());
    assert_eq!(normalized(&env.get("/__sandbox/snapshot")), expected);
    let (_, report) = env.sync(&[]);
    assert_eq!(report["summary"]["unchanged"], 123, "{report:#}");
}

/// A run killed (SIGKILL) while its bulk import runs in the store: the next
/// run takes that import's results instead of submitting again, and every
/// product is in the store exactly once.
#[test]
fn a_run_killed_during_a_bulk_import_resumes_without_duplicates() {
    let settings = "  sync: [add, update, deactivate]\n";
    let config = SandboxConfig {
        bulk_line_delay: Duration::from_millis(15),
        ..SandboxConfig::default()
    };
    let env = Env::with_target(config, settings, ", bulk_import_threshold: 50");
    env.set_catalog(&big_catalog(120));
    let mut child = env.spawn_sync();
    // Wait until the import runs and has applied some lines, then kill.
    env.wait_for_running_bulk_import();
    sigkill(&mut child);
    assert_eq!(env.bulk_mutations()[0]["status"], "RUNNING");

    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    // One import in all: the resumed run waited for it and took its results.
    let ops = env.bulk_mutations();
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(ops[0]["status"], "COMPLETED");
    // The 120 products were recorded from the import; only the categories
    // (made before the kill or now) and nothing else was written.
    assert_eq!(env.writes().get("productSet"), None, "{:?}", env.writes());
    let store = normalized(&env.get("/__sandbox/snapshot"));
    let products = store["products"].as_object().unwrap();
    assert_eq!(products.len(), 120, "every product exactly once");
    let (_, report) = env.sync(&[]);
    assert_eq!(report["summary"]["unchanged"], 123, "{report:#}");
}

/// The README's first command, twice, on a copy of the project: the demo
/// profile syncs `examples/` into the embedded sandbox; the second run has
/// nothing to write.
#[test]
fn readme_first_command_twice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("mapsync.yaml", dir.path().join("mapsync.yaml")).unwrap();
    copy_dir(Path::new("mappings"), &dir.path().join("mappings"));
    copy_dir(Path::new("examples"), &dir.path().join("examples"));
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .arg("--project")
            .arg(dir.path())
            .args(["sync", "--profile", "demo"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, first) = run();
    assert_eq!(code, Some(0), "{first}");
    assert!(first.contains("11 created"), "{first}");
    let (code, second) = run();
    assert_eq!(code, Some(0), "{second}");
    assert!(second.contains("No changes"), "{second}");
    assert!(
        second.contains("0 created, 0 updated, 0 deleted, 0 deactivated"),
        "{second}"
    );
    // The embedded sandbox persisted its store and the daily log exists.
    assert!(dir.path().join(".mapsync/sandbox.json").exists());
    let logs: Vec<_> = std::fs::read_dir(dir.path().join(".mapsync/logs"))
        .unwrap()
        .collect();
    assert_eq!(logs.len(), 1);
}

/// Someone edits a product in the store: the ledger's hash still matches
/// the source, so a normal sync leaves it; `--force` compares every item
/// with the store and repairs only what drifted. `--only` limits a run to
/// the given keys.
#[test]
fn force_repairs_drift_and_only_limits_the_run() {
    let env = Env::demo();
    assert_eq!(env.sync(&[]).0, 0);
    env.edit_title("P-1002", "Edited by hand");
    let (_, report) = env.sync(&[]);
    assert_eq!(report["summary"]["updated"], 0, "{report:#}");

    let before = env.writes();
    let (code, report) = env.sync(&["--force", "--only", "P-1002", "P-1001"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 2, "{report:#}");
    assert_eq!(report["items"].as_array().unwrap().len(), 2, "{report:#}");
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("productSet".to_string(), 1)]),
        "only the drifted product is written"
    );
    let store = normalized(&env.get("/__sandbox/snapshot"));
    assert_eq!(store["products"]["P-1002"]["title"], "Linen Shirt");
}

/// After a sync, `plan` diffs updates against the store's current state:
/// only the changed field shows, tags in another order and the SEO title
/// (a metafield in the mapping, a field in Shopify) are not differences.
#[test]
fn plan_after_a_sync_shows_only_the_changed_fields() {
    let env = Env::demo();
    assert_eq!(env.sync(&[]).0, 0);
    let mut catalog = env.catalog();
    catalog["products"][0]["Variants"][1]["Price"] = "31.50".into();
    catalog["products"][0]["Tags"] = "shirts,cotton".into();
    catalog["products"][1]["Name"] = "Linen Shirt, washed".into();
    env.set_catalog(&catalog);
    let (code, stdout, stderr) = env.run(&[
        "plan",
        "--profile",
        "e2e",
        "--format",
        "json",
        "--detailed-exitcode",
    ]);
    assert_eq!(code, 2, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let updates: Vec<Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "update")
        .map(|c| serde_json::json!({"key": c["key"], "rule": c["rule"], "diff": c["diff"]}))
        .collect();
    insta::assert_json_snapshot!("plan_after_sync_updates", updates);
}

/// Ctrl-C (SIGINT) stops a run after the items in flight: what finished is
/// recorded, the run exits 1 and says so, and the next run completes it.
#[test]
fn ctrl_c_stops_after_the_items_in_flight_and_the_next_run_resumes() {
    let settings = "  sync: [add, update, deactivate]\n  concurrency: 2\n  chunk_size: 5\n";
    let env = Env::new(
        SandboxConfig {
            latency: Duration::from_millis(20),
            ..SandboxConfig::default()
        },
        settings,
    );
    env.set_catalog(&big_catalog(120));
    let child = env
        .command(&["sync", "--profile", "e2e", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once products are being written (about 2.4 s of work).
    let started = std::time::Instant::now();
    while env.writes().get("productSet").copied().unwrap_or(0) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The shell's builtin `kill`: no procps needed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted after"), "{stderr}");
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    let s = &report["summary"];
    assert!(s["created"].as_u64().unwrap() > 0, "{report:#}");
    assert!(
        s["unchanged"].as_u64().unwrap() > 0,
        "the first run did part of the work: {report:#}"
    );
    let store = normalized(&env.get("/__sandbox/snapshot"));
    assert_eq!(store["products"].as_object().unwrap().len(), 120);
}

#[test]
fn an_inventory_write_whose_answer_is_lost_is_sent_again_and_applied_once() {
    let env = Env::demo();
    assert_eq!(env.sync(&[]).0, 0);
    // The store applies the next inventorySetQuantities, then the
    // connection drops before the answer.
    env.stock_change_with_fault(
        serde_json::json!({"kind": "reset", "after": true, "operation": "inventorySetQuantities"}),
    );
    let replays_before = env.get("/__sandbox/stats")["idempotent_replays"]
        .as_u64()
        .unwrap_or(0);
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    // Sent twice with the same idempotency key; the second got the first
    // answer back and changed nothing.
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("inventorySetQuantities".to_string(), 2)])
    );
    let stats = env.get("/__sandbox/stats");
    assert_eq!(
        stats["idempotent_replays"].as_u64().unwrap() - replays_before,
        1
    );
    let store = normalized(&env.get("/__sandbox/snapshot"));
    assert_eq!(
        store["products"]["P-1001"]["variants"][1]["available"],
        serde_json::json!([42])
    );
    // Nothing left to do.
    let before = env.writes();
    assert_eq!(env.sync(&[]).0, 0);
    assert_eq!(delta(&before, &env.writes()), BTreeMap::new());
}

#[test]
fn a_quantity_changed_in_the_store_during_the_run_is_read_again_then_set() {
    let env = Env::demo();
    assert_eq!(env.sync(&[]).0, 0);
    // Someone changes the stock between mapsync's read and its write.
    env.stock_change_with_fault(
        serde_json::json!({"kind": "concurrent", "operation": "inventorySetQuantities"}),
    );
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    // The compare-and-swap failed (stale), the level was read again and
    // set once more against the fresh quantity: the source's 42 holds.
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("inventorySetQuantities".to_string(), 2)])
    );
    let store = normalized(&env.get("/__sandbox/snapshot"));
    assert_eq!(
        store["products"]["P-1001"]["variants"][1]["available"],
        serde_json::json!([42])
    );
}

/// Usage rights (two-way.md): asset objects whose rights do not name the
/// profile's channel are never sent; one whose expiry passes between two
/// runs leaves the store on the second, though the source did not change.
#[test]
fn an_image_whose_rights_expire_leaves_the_store_on_the_next_run() {
    use time::format_description::well_known::Rfc3339;
    let env = Env::demo();
    let mapping = env.path("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    assert!(text.contains("      - { from: Images, kind: url }"));
    std::fs::write(
        &mapping,
        text.replace(
            "      - { from: Images, kind: url }",
            "      - { from: Assets, url: Url, expires: ExpiresAt, channels: Channels }",
        ),
    )
    .unwrap();
    let img = |n: &str| format!("https://cdn.example.com/img/P-1001-{n}.jpg");
    let soon = (time::OffsetDateTime::now_utc() + Duration::from_secs(4))
        .format(&Rfc3339)
        .unwrap();
    let mut catalog = env.catalog();
    catalog["products"][0]["Assets"] = serde_json::json!([
        { "Url": img("1"), "Channels": ["e2e", "wholesale"] },
        { "Url": img("2"), "ExpiresAt": soon },
        { "Url": img("us"), "Channels": "shop-us" },
        { "Url": img("old"), "ExpiresAt": "2020-01-31" },
    ]);
    env.set_catalog(&catalog);
    let media =
        || normalized(&env.get("/__sandbox/snapshot"))["products"]["P-1001"]["media"].clone();

    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(media(), serde_json::json!([img("1"), img("2")]));
    // The plan of the same moment says why two images are left out.
    let (code, plan, stderr) = env.run(&["plan", "--profile", "e2e", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let text = plan.to_string();
    assert!(
        text.contains(
            "P-1001-us.jpg` is left out: it is licensed for shop-us and not for channel `e2e`"
        ),
        "{plan:#}"
    );
    assert!(
        text.contains("P-1001-old.jpg` is left out: its usage rights expired 2020-01-31"),
        "{plan:#}"
    );
    // The human view shows the unchanged product for its warnings' sake.
    let (code, human, _) = env.run(&["plan", "--profile", "e2e"]);
    assert_eq!(code, 0, "{human}");
    assert!(
        human.contains("warning record::image-left-out: image `https://cdn.example.com/img/P-1001-us.jpg` is left out"),
        "{human}"
    );

    // The second image's rights run out: the next run removes it.
    std::thread::sleep(Duration::from_secs(5));
    let before = env.writes();
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(media(), serde_json::json!([img("1")]));
    assert!(!delta(&before, &env.writes()).is_empty());
}
