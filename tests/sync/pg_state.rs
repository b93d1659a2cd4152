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

use std::process::Command;
use std::time::Duration;

use mapsync::plan::document::Entity;
use mapsync::sandbox::SandboxConfig;
use mapsync::statedb::StatePool;
use serde_json::Value;

use crate::store_view::delta;
use crate::support::{
    big_catalog, report_of, sigkill, spawn_quiet, with_settings, with_writeback, Env,
    DEMO_SETTINGS as DEMO,
};

/// A sandbox (answering after 3 ms) and a project whose profile `e2e`
/// syncs the demo mapping from `catalog.json` with the state store
/// `state`.
fn new_env(state: &str, settings: &str) -> Env {
    let config = SandboxConfig {
        latency: Duration::from_millis(3),
        ..SandboxConfig::default()
    };
    build(state, settings, config, "")
}

/// As [`new_env`], with the store's `config` and `target` (e.g.
/// `, bulk_import_threshold: 50`) added to the target's options. The
/// binary runs without `PGPASSWORD`.
fn build(state: &str, settings: &str, config: SandboxConfig, target: &str) -> Env {
    let mut env = Env::build(config, with_settings(settings), target, state);
    env.unset = &["PGPASSWORD"];
    env
}

/// What only these tests read of the state store.
impl Env {
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

#[test]
fn a_sync_with_postgres_state_records_there_and_a_second_run_writes_nothing() {
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_sync") else {
        return;
    };
    let env = new_env(&url, DEMO);
    let (code, stdout, stderr) = env.run(&["validate"]);
    assert_eq!(
        code, 0,
        "validate accepts a postgres:// state: {stdout}{stderr}"
    );

    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 11, "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    // The ledger is in PostgreSQL, and no SQLite file was made.
    assert_eq!(env.ledger_rows(Entity::Category), 3);
    assert_eq!(env.ledger_rows(Entity::Product), 8);
    assert!(!env.dir.path().join(".mapsync/state.db").exists());
    let store = env.snapshot();

    env.assert_demo_resync_writes_nothing();
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
    let clean = new_env(&clean_url, settings);
    clean.set_catalog(&big_catalog(120));
    assert_eq!(clean.sync(&[]).0, 0);
    let expected = clean.snapshot();

    let env = new_env(&url, settings);
    env.set_catalog(&big_catalog(120));
    let mut killed_midway = 0;
    for kill_after in [300u64, 700, 1200] {
        let mut child = env.spawn_sync();
        std::thread::sleep(Duration::from_millis(kill_after));
        if child.try_wait().unwrap().is_none() {
            killed_midway += 1;
        }
        sigkill(&mut child);
    }
    let recorded = env.ledger_rows(Entity::Product);
    let created = env.writes().get("productSet").copied().unwrap_or(0);
    println!(
        "killed {killed_midway} runs midway; {recorded} products recorded, {created} productSet calls before the resume"
    );
    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    // The store of a clean run: every product once (a duplicate would be
    // a product more in the snapshot).
    assert_eq!(env.snapshot(), expected);
    assert_eq!(env.ledger_rows(Entity::Product), 120);
    // And nothing left to do.
    let (_, report) = env.sync(&[]);
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
    let pg = new_env(&url, DEMO);
    let sqlite = new_env("sqlite:.mapsync/state.db", DEMO);
    // Fresh: everything to create.
    let (a, b) = (plan_of(&pg), plan_of(&sqlite));
    assert_eq!(a, b, "the plans of a fresh state differ");
    assert!(
        a["changes"].as_array().is_some_and(|c| !c.is_empty()),
        "{a:#}"
    );

    assert_eq!(pg.sync(&[]).0, 0);
    assert_eq!(sqlite.sync(&[]).0, 0);
    // Figures (printed): a sync with nothing to do, the process included.
    for (name, env) in [("postgres", &pg), ("sqlite", &sqlite)] {
        let mut took: Vec<f64> = (0..3)
            .map(|_| {
                let t = std::time::Instant::now();
                let (code, report) = env.sync(&[]);
                assert_eq!(code, 0, "{report:#}");
                assert_eq!(report["summary"]["unchanged"], 10, "{report:#}");
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        took.sort_by(f64::total_cmp);
        println!("a sync with nothing to do, state on {name}: {took:.0?} ms");
    }
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
    let env = new_env(
        &format!(
            "postgres://mapsync@127.0.0.1:{port}/mapsync?password_env=PG_TEST_PW&connect_timeout=2"
        ),
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
        // The server's answer, at once (not the pool's timeout).
        assert!(stderr.contains("Connection refused"), "{stderr}");
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "{stderr}"
        );
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

#[test]
fn images_publish_records_its_lines_in_postgres() {
    use crate::images_support::{sha256, Images, Mixed, Project, SMALL};
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_images") else {
        return;
    };
    let rt = crate::images_support::runtime();
    let sandbox = rt
        .block_on(mapsync::sandbox::start(SandboxConfig::default()))
        .unwrap();
    let images = Images::start(&rt, SMALL);
    let project = Project::shopify(&sandbox.url(), &["PGPASSWORD"]);
    let file = project.path("mapsync.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("sqlite:.mapsync/state.db", &url)).unwrap();
    crate::images_support::seed_shopify(&rt, &sandbox.url(), &images, SMALL);
    let writes = || -> u64 {
        let url = format!("{}/__sandbox/stats", sandbox.url());
        let stats: Value =
            rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        [
            "productUpdate",
            "fileUpdate",
            "stagedUploadsCreate",
            "productSet",
        ]
        .iter()
        .map(|k| stats["by_operation"][k].as_u64().unwrap_or(0))
        .sum()
    };

    let mixed = Mixed::write(&project);
    let (_, after) = mixed.publish(&project, writes);
    assert!(
        !project.path(".mapsync/state.db").exists(),
        "no SQLite file"
    );

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

#[test]
fn apply_run_and_runs_use_the_postgres_state() {
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_apply_run") else {
        return;
    };
    let env = new_env(&url, DEMO);
    // `plan --out` then `apply`: the run's outcomes go to PostgreSQL.
    let report = env.apply(&env.save_plan());
    assert_eq!(report["summary"]["created"], 11, "{report:#}");
    assert_eq!(env.ledger_rows(Entity::Product), 8);

    // `run --once` (the sync manager, its runs on threads of their own):
    // nothing to write, and its report kept with the run it journaled.
    let project = std::fs::read_to_string(env.dir.path().join("mapsync.yaml")).unwrap();
    std::fs::write(
        env.dir.path().join("mapsync.yaml"),
        format!("{project}    schedule: {{ every: 1h }}\n"),
    )
    .unwrap();
    let before = env.writes();
    let (code, stdout, stderr) = env.run(&["run", "--once"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(delta(&before, &env.writes()).is_empty(), "the run wrote");
    assert!(!env.dir.path().join(".mapsync/state.db").exists());
    let runs = env.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["summary"]["unchanged"], 10, "{runs:#?}");
    assert!(
        runs[0]["report"].is_object(),
        "the manager's report: {runs:#?}"
    );
    // `runs` without a profile lists the PostgreSQL store's runs too.
    let (code, stdout, stderr) = env.run(&["runs", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let all: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(all["runs"].as_array().map(Vec::len), Some(2), "{all:#}");
}

#[test]
fn validate_refuses_a_password_in_the_state_url_without_printing_it() {
    let env = new_env(
        "postgres://mapsync:Hunter2-secret@db.internal/mapsync",
        DEMO,
    );
    for format in ["human", "json"] {
        let (code, stdout, stderr) = env.run(&["validate", "--format", format]);
        assert_eq!(code, 1, "{stdout}{stderr}");
        let all = format!("{stdout}{stderr}");
        assert!(all.contains("project::state-url"), "{all}");
        assert!(!all.contains("Hunter2"), "{all}");
    }
    // And a sync stops before anything, without printing it either.
    let before = env.writes();
    let (code, stdout, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_ne!(code, 0);
    assert!(!format!("{stdout}{stderr}").contains("Hunter2"), "{stderr}");
    assert!(delta(&before, &env.writes()).is_empty());
}

/// The batch journal on PostgreSQL: a run killed while its bulk import
/// runs leaves the import's handle in the `batches` table; the next run
/// takes its results from there, submits nothing again and duplicates
/// nothing.
#[test]
fn a_run_killed_during_a_bulk_import_on_postgres_resumes_without_duplicates() {
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_bulk") else {
        return;
    };
    let config = SandboxConfig {
        bulk_line_delay: Duration::from_millis(15),
        ..SandboxConfig::default()
    };
    let env = build(
        &url,
        "  sync: [add, update, deactivate]\n",
        config,
        ", bulk_import_threshold: 50",
    );
    env.set_catalog(&big_catalog(120));
    let mut child = env.spawn_sync();
    env.wait_for_running_bulk_import();
    sigkill(&mut child);
    assert_eq!(env.bulk_mutations()[0]["status"], "RUNNING");
    // The import's handle is in PostgreSQL.
    let pool = StatePool::for_url(&env.state, env.dir.path(), 0).unwrap();
    let pending = env.rt.block_on(async {
        let db = pool.take().unwrap();
        db.pending_batches("e2e").await.unwrap()
    });
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].lines.len(), 120);

    let (code, report) = env.sync(&[]);
    assert_eq!(code, 0, "{report:#}");
    let ops = env.bulk_mutations();
    assert_eq!(ops.len(), 1, "one import in all: {ops:#?}");
    assert_eq!(ops[0]["status"], "COMPLETED");
    assert_eq!(env.writes().get("productSet"), None, "{:?}", env.writes());
    let store = env.snapshot();
    assert_eq!(store["products"].as_object().unwrap().len(), 120);
    assert_eq!(env.ledger_rows(Entity::Product), 120);
    let pending = env.rt.block_on(async {
        let db = pool.take().unwrap();
        db.pending_batches("e2e").await.unwrap()
    });
    assert!(pending.is_empty(), "{pending:?}");
    let (_, report) = env.sync(&[]);
    assert_eq!(report["summary"]["unchanged"], 123, "{report:#}");
}

/// The sync manager with its state on PostgreSQL: its runs (on run
/// workers with runtimes of their own) share one pool, `/api/runs` reads
/// the journal from there, `status` answers, and a trigger runs again with
/// nothing to write.
#[test]
fn the_sync_manager_runs_and_reads_its_journal_on_postgres() {
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_manager") else {
        return;
    };
    let env = new_env(&url, DEMO);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let project = std::fs::read_to_string(env.dir.path().join("mapsync.yaml")).unwrap();
    let project = project.replacen(
        "mapsync: 1\n",
        &format!("mapsync: 1\nrun:\n  listen: 127.0.0.1:{port}\n"),
        1,
    );
    std::fs::write(
        env.dir.path().join("mapsync.yaml"),
        format!("{project}    schedule: {{ every: 1h }}\n"),
    )
    .unwrap();
    let mut manager = spawn_quiet(&mut env.command(&["run"]));
    let api = |path: &str| -> Option<Value> {
        let url = format!("http://127.0.0.1:{port}{path}");
        env.rt.block_on(async {
            let r = reqwest::get(url).await.ok()?;
            r.json().await.ok()
        })
    };
    let runs_now = |n: usize| {
        let started = std::time::Instant::now();
        loop {
            if let Some(v) = api("/api/runs?profile=e2e") {
                let runs = v["runs"].as_array().cloned().unwrap_or_default();
                if runs.len() >= n && runs.iter().all(|r| r["report"].is_object()) {
                    return runs;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{n} runs never journaled"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let runs = runs_now(1);
    assert_eq!(runs[0]["summary"]["created"], 11, "{runs:#?}");
    assert_eq!(env.ledger_rows(Entity::Product), 8);
    let (code, stdout, stderr) = env.run(&["status", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // A manual run: nothing to write, journaled in PostgreSQL too.
    let before = env.writes();
    let triggered = env.rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/api/profiles/e2e/sync"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert!(
        matches!(triggered, Ok(202)),
        "trigger: {triggered:?} (see crates/mapsync-run/src/http.rs)"
    );
    let runs = runs_now(2);
    assert_eq!(runs[0]["summary"]["unchanged"], 10, "{runs:#?}");
    assert!(
        delta(&before, &env.writes()).is_empty(),
        "the second run wrote"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &manager.id().to_string()])
        .status();
    let status = manager.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!env.dir.path().join(".mapsync/state.db").exists());
}

/// Write-backs with the state on PostgreSQL: the ledger writer marks each
/// outcome's write-back pending in its transaction, the worker clears the
/// marks the PIM took, a run killed while it writes back leaves the rest
/// pending there, and the next run sends them first. Ends with every PIM
/// record carrying its store id, nothing pending, and a run after that
/// sending nothing.
#[test]
fn write_backs_killed_midway_on_postgres_are_sent_by_the_next_run() {
    use mapsync::sandbox::pim::{self, PimConfig};
    let Some(url) = mapsync_pgtest::database_blocking("pg_state_writeback") else {
        return;
    };
    const N: usize = 60;
    let mut catalog = big_catalog(N);
    for list in ["categories", "products"] {
        for r in catalog[list].as_array_mut().unwrap() {
            for f in ["ShopifyId", "ShopifySyncDate", "ShopifySyncMsg"] {
                r[f] = "".into();
            }
            r["LastUpdated"] = "2020-01-15T09:00:00Z".into();
        }
    }
    let env = build(
        &url,
        "  sync: [add, update, deactivate]\n  concurrency: 4\n  chunk_size: 10\n",
        SandboxConfig {
            restore_rate: Some(5000.0),
            ..SandboxConfig::default()
        },
        "",
    );
    let pim = env
        .rt
        .block_on(pim::start(PimConfig {
            catalog: Some(catalog),
            latency: Duration::from_millis(15),
            ..PimConfig::default()
        }))
        .unwrap();
    // The demo mapping with `writeback:` on both entities, from the PIM.
    let mapping = env.dir.path().join("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(&mapping, with_writeback(text)).unwrap();
    let project = format!(
        r#"mapsync: 1
profiles:
  e2e:
    mapping: mapping
    state: {url}
    source:
      type: rest
      base_url: "{pim}"
      auth: {{ oauth2: {{ token_url: /oauth/token, client_id: mapsync, client_secret: "${{PIM_SECRET}}" }} }}
      timeout: 5s
      retries: 3
      backoff: 10ms
      entities:
        category:
          list: {{ path: /categories, records: data }}
          paging: {{ style: page, page: page, size: per_page, max: 100 }}
        product:
          list: {{ path: /products, records: data, query: {{ include: images, per_page: 100 }} }}
          paging: {{ style: cursor, cursor: meta.next_cursor, param: cursor }}
      writeback:
        category: {{ path: "/categories/{{{{ key }}}}" }}
        product: {{ path: "/products/{{{{ key }}}}" }}
    target: {{ type: shopify, url: "{store}", token: "${{E2E_TOKEN}}" }}
"#,
        pim = pim.url(),
        store = env.url(),
    );
    std::fs::write(env.dir.path().join("mapsync.yaml"), project).unwrap();
    let sync = |args: &[&str]| {
        let mut c = env.command(args);
        c.env("PIM_SECRET", "secret");
        c
    };

    // Killed once 20 write-backs reached the PIM.
    let mut child = spawn_quiet(&mut sync(&["sync", "--profile", "e2e", "--format", "json"]));
    let started = std::time::Instant::now();
    while pim.writebacks().count < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no write-back reached the PIM"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        std::thread::sleep(Duration::from_millis(5));
    }
    sigkill(&mut child);
    let pool = StatePool::for_url(&url, env.dir.path(), 0).unwrap();
    let pending = || {
        env.rt.block_on(async {
            let db = pool.take().unwrap();
            db.pending_writeback_count("e2e").await.unwrap()
        })
    };
    let left = pending();
    println!("killed with {left} write-backs pending in PostgreSQL");

    let (code, report) = report_of(&mut sync(&["sync", "--profile", "e2e", "--format", "json"]));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["writeback"]["failed"], 0, "{report:#}");
    assert_eq!(report["writeback"]["pending"], 0, "{report:#}");
    assert_eq!(pending(), 0);
    // Every record of the PIM has its store id, a date and no message.
    let snapshot = pim.snapshot();
    for list in ["categories", "products"] {
        for r in crate::store_view::values(&snapshot[list]) {
            let id = r["ShopifyId"].as_str().unwrap_or_default();
            assert!(id.starts_with("gid://shopify/"), "{r}");
            assert_ne!(r["ShopifySyncDate"], "", "{r}");
            assert_eq!(r["ShopifySyncMsg"], "", "{r}");
        }
    }
    assert_eq!(env.ledger_rows(Entity::Product), N);
    assert_eq!(
        env.snapshot()["products"].as_object().unwrap().len(),
        N,
        "every product once"
    );
    // Nothing left: no write-back sent.
    let sent = pim.writebacks().count;
    let (_, report) = report_of(&mut sync(&["sync", "--profile", "e2e", "--format", "json"]));
    assert_eq!(report["writeback"]["sent"], 0, "{report:#}");
    assert_eq!(pim.writebacks().count, sent);
    let _ = env.rt.block_on(pim.shutdown());
}
