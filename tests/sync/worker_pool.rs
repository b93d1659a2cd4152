//! `mapsync run --worker` (issue 17, docs/scale.md): a pool of workers
//! sharing their runs through a real PostgreSQL (a throwaway cluster of
//! `mapsync-pgtest`; without PostgreSQL binaries the pool test prints
//! `SKIPPED <test>: <reason>` and returns).
//!
//! Three workers, each on its own copy of the project (as on three
//! machines: same profiles, same state database, sources at one absolute
//! path), twelve profiles on twelve emulated stores with small rate
//! limits; one worker is SIGKILLed at random moments (a seeded RNG, the
//! seed printed; `MAPSYNC_TEST_SEED=N` replays it) and restarted, while
//! the catalogs change twice. At the end every store is as a clean run of
//! the final catalog leaves it (no product twice, no change lost), no
//! store answered THROTTLED, the run journal shows no two runs of a store
//! at once, and the pool shows on `/api/status` and `/metrics`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use mapsync::statedb::StatePool;
use serde_json::Value;

use crate::project::copy_dir;
use crate::store_view::normalized;
use crate::support::{free_port, generated_catalog, RunProcess};

const STORES: usize = 12;
const WORKERS: usize = 3;

/// A small deterministic generator (xorshift64*): the kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Milliseconds in `lo..hi`.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// A catalog of `n` products (`P-0`…); `version` gives each one
/// something to write ([`generated_catalog`]).
fn catalog(n: usize, version: u32) -> Value {
    generated_catalog(n, "P", Some(version))
}

/// A running `mapsync run --worker` (`support::RunProcess`).
type Worker = RunProcess;

/// The pool's world: the stores, the shared catalogs, the workers'
/// project copies.
struct World {
    rt: tokio::runtime::Runtime,
    stores: Vec<SandboxHandle>,
    root: tempfile::TempDir,
    url: String,
    ports: Vec<u16>,
}

impl World {
    fn catalog_path(&self, i: usize) -> PathBuf {
        self.root
            .path()
            .join("catalogs")
            .join(format!("catalog-{i}.json"))
    }

    fn set_catalogs(&self, v: &Value) {
        for i in 0..STORES {
            // Written then renamed: a run never reads half a file.
            let path = self.catalog_path(i);
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_string_pretty(v).unwrap()).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
    }

    fn worker_dir(&self, k: usize) -> PathBuf {
        self.root.path().join(format!("worker-{k}"))
    }

    /// Worker `k`'s copy of the project: the demo mapping, twelve
    /// profiles every 2 s, its own port.
    fn write_project(&self, k: usize) {
        let dir = self.worker_dir(k);
        copy_dir(Path::new("mappings/demo"), &dir.join("mapping"));
        // One write at a time: a run spends most of its time applying,
        // where a kill leaves an unfinished run in the journal.
        let mapping = dir.join("mapping/mapping.yaml");
        let text = std::fs::read_to_string(&mapping).unwrap();
        assert!(text.contains("max_deletes: 50%"), "{text}");
        std::fs::write(
            &mapping,
            text.replace("max_deletes: 50%", "max_deletes: 50%\n  concurrency: 1"),
        )
        .unwrap();
        let mut profiles = String::new();
        for (i, s) in self.stores.iter().enumerate() {
            profiles.push_str(&format!(
                "  shop-{i}:\n    mapping: mapping\n    source: {{ type: file, path: \"{}\" }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: {}\n    schedule: {{ every: 2s }}\n",
                self.catalog_path(i).display(),
                s.url(),
                self.url,
            ));
        }
        let text = format!(
            "mapsync: 1\nrun:\n  listen: 127.0.0.1:{}\n  config_check: 10m\n  logs: {{ format: json }}\nprofiles:\n{profiles}",
            self.ports[k]
        );
        std::fs::write(dir.join("mapsync.yaml"), text).unwrap();
    }

    fn start(&self, k: usize, n: u32) -> Worker {
        let dir = self.worker_dir(k);
        let stderr = dir.join(format!("worker-{n}.stderr"));
        let child = Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .arg("--project")
            .arg(&dir)
            .args(["run", "--worker"])
            .env("NO_COLOR", "1")
            .env("E2E_TOKEN", "e2e-token")
            .env_remove("RUST_LOG")
            .env_remove("PGPASSWORD")
            .env("MAPSYNC_WORKER_HEARTBEAT", "500ms")
            .env("MAPSYNC_WORKER_SWEEP_INTERVAL", "500ms")
            .env("MAPSYNC_WORKER_SWEEP_THRESHOLD", "2s")
            .env("MAPSYNC_WORKER_RECOVERY_DELAY", "0ms")
            .env("MAPSYNC_WORKER_POLL", "500ms")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .unwrap();
        let w = Worker {
            child,
            port: self.ports[k],
            stderr,
        };
        let start = Instant::now();
        while w.get("/healthz").map(|(c, _)| c) != Some(200) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "worker {k} did not answer; stderr:\n{}",
                w.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        w
    }

    fn store_get(&self, i: usize, path: &str) -> Value {
        let url = format!("{}{path}", self.stores[i].url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }
}

/// The store a clean run of `catalog` leaves: a fresh store synced once
/// by `mapsync sync` with its state in SQLite.
fn clean_store(rt: &tokio::runtime::Runtime, catalog: &Value) -> Value {
    let store = rt
        .block_on(sandbox::start(SandboxConfig::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("mappings/demo"), &dir.path().join("mapping"));
    std::fs::write(dir.path().join("catalog.json"), catalog.to_string()).unwrap();
    std::fs::write(
        dir.path().join("mapsync.yaml"),
        format!(
            "mapsync: 1\nprofiles:\n  clean:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: sqlite:.mapsync/state.db\n",
            store.url()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .arg("--project")
        .arg(dir.path())
        .args(["sync", "--profile", "clean"])
        .env("NO_COLOR", "1")
        .env("E2E_TOKEN", "e2e-token")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("{}/__sandbox/snapshot", store.url());
    let snapshot: Value =
        rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
    let _ = rt.block_on(store.shutdown());
    normalized(&snapshot)
}

/// `name value` lines of a Prometheus exposition.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn three_workers_share_twelve_stores_and_a_killed_worker_loses_nothing() {
    let Some(url) = mapsync_pgtest::database_blocking("worker_pool") else {
        return;
    };
    let seed = std::env::var("MAPSYNC_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("worker pool test: seed {seed} (MAPSYNC_TEST_SEED={seed} replays the kill moments)");
    let mut rng = Rng(seed);
    let rt = crate::support::runtime();
    // Small buckets (1,000 points, 100 a second): two runs on one store
    // at once, each with its own limiter, would run it dry (THROTTLED);
    // 10 ms per answer makes a run last long enough to be killed midway.
    let stores: Vec<SandboxHandle> = (0..STORES)
        .map(|_| {
            rt.block_on(sandbox::start(SandboxConfig {
                bucket: Some(1000.0),
                restore_rate: Some(100.0),
                latency: Duration::from_millis(10),
                ..SandboxConfig::default()
            }))
            .unwrap()
        })
        .collect();
    let world = World {
        rt,
        stores,
        root: tempfile::tempdir().unwrap(),
        url: url.clone(),
        ports: (0..WORKERS).map(|_| free_port()).collect(),
    };
    std::fs::create_dir_all(world.root.path().join("catalogs")).unwrap();
    // A new catalog version before each kill (prices change, a product
    // is added): the killed worker is caught writing.
    let versions: Vec<Value> = (1..=8).map(|v| catalog(5 + v as usize, v)).collect();
    world.set_catalogs(&versions[0]);
    for k in 0..WORKERS {
        world.write_project(k);
    }
    let expected = clean_store(&world.rt, versions.last().unwrap());

    let began = Instant::now();
    let mut workers: Vec<Worker> = (0..WORKERS).map(|k| world.start(k, 0)).collect();
    // The chaos: worker 0 SIGKILLed at random moments while it holds a
    // run (its status says a profile is running), and restarted.
    let mut kills = Vec::new();
    let mut killed_running = 0;
    for (n, version) in versions.iter().enumerate().skip(1) {
        std::thread::sleep(rng.millis(300, 1500));
        world.set_catalogs(version);
        let wait = Instant::now();
        let mut running = false;
        while wait.elapsed() < Duration::from_secs(4) && !running {
            running = workers[0]
                .get("/api/status")
                .and_then(|(_, b)| serde_json::from_str::<Value>(&b).ok())
                .is_some_and(|s| {
                    s["profiles"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["state"] == "running")
                });
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(rng.millis(100, 600));
        let w = &mut workers[0];
        let last = n + 1 == versions.len();
        let how = if last {
            // The last time a SIGTERM: the run in flight finishes its
            // items, its job goes back to the pool, exit 0.
            let code = w.terminate(Duration::from_secs(20));
            assert_eq!(code, 0, "{}", w.stderr());
            "SIGTERMed (exit 0)"
        } else {
            let _ = w.child.kill();
            let _ = w.child.wait();
            kills.push(SystemTime::now());
            killed_running += usize::from(running);
            "SIGKILLed"
        };
        println!(
            "{:>5.1} s: catalogs at version {}, worker 0 {how}{}",
            began.elapsed().as_secs_f64(),
            n + 1,
            if running { " holding a run" } else { "" }
        );
        std::thread::sleep(rng.millis(200, 1500));
        workers[0] = world.start(0, n as u32);
    }

    // Every store converges to the clean run's store.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut pending: Vec<usize> = (0..STORES).collect();
    while !pending.is_empty() {
        pending.retain(|&i| normalized(&world.store_get(i, "/__sandbox/snapshot")) != expected);
        if pending.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let got = normalized(&world.store_get(pending[0], "/__sandbox/snapshot"));
            panic!(
                "stores {pending:?} never reached the clean run's catalog; store {}:\n{}\nexpected:\n{}\nworker 1's stderr:\n{}",
                pending[0],
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&expected).unwrap(),
                workers[1].stderr()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    println!(
        "{:>5.1} s: every store as a clean run leaves it ({} kills of worker 0, {killed_running} while it held a run)",
        began.elapsed().as_secs_f64(),
        kills.len()
    );

    // The pool on any worker's status and metrics: three live workers
    // (the killed ones' rows swept), no job left waiting.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = workers[1].get("/api/status").expect("status");
        assert_eq!(code, 200, "{body}");
        let status: Value = serde_json::from_str(&body).unwrap();
        let pool = &status["pool"];
        assert_eq!(status["mode"], "worker", "{status:#}");
        let live = pool["workers"].as_array().map_or(0, Vec::len);
        let (_, metrics) = workers[2].get("/metrics").expect("metrics");
        let gauge = metric(&metrics, "mapsync_pool_workers");
        // One job at most per queue (store), waiting or running: three
        // workers computing the same schedules enqueue one job.
        for q in pool["queues"].as_array().into_iter().flatten() {
            let held = q["waiting"].as_i64().unwrap_or(0) + q["running"].as_i64().unwrap_or(0);
            assert!(held <= 1, "{pool:#}");
        }
        if live == WORKERS && gauge == Some(WORKERS as f64) {
            assert!(
                pool["workers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["this"] == true),
                "{pool:#}"
            );
            assert!(metrics.contains("mapsync_pool_queue_depth"), "{metrics}");
            let (_, page) = workers[0].get("/").expect("page");
            assert!(page.contains(r#"id="pool""#), "{page}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pool never showed {WORKERS} workers: {pool:#}\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // A manual run through any worker is a job of the pool.
    let trigger = format!(
        "http://127.0.0.1:{}/api/profiles/shop-3/sync",
        workers[1].port
    );
    let (code, body) = world.rt.block_on(async {
        let r = reqwest::Client::new().post(trigger).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(code, 202, "{body}");
    assert!(body.contains(r#""queued":"shop-3""#), "{body}");

    // SIGTERM: each worker finishes what it holds and exits 0.
    for w in &workers {
        w.signal("-TERM");
    }
    for (k, w) in workers.iter_mut().enumerate() {
        let code = w.wait_exit(
            Duration::from_secs(20),
            &format!("worker {k}, after SIGTERM,"),
        );
        assert_eq!(code, 0, "worker {k}: {}", w.stderr());
    }

    // No store answered THROTTLED: runs sharing a store never overlapped.
    for i in 0..STORES {
        let stats = world.store_get(i, "/__sandbox/stats");
        assert_eq!(stats["throttled"], 0, "store {i}: {stats:#}");
    }
    // The journal: per profile (one per store), finished runs never
    // overlap, and a run a kill cut (never finished) started before that
    // kill and before the next run started.
    let states = StatePool::for_url(&url, world.root.path(), 0).unwrap();
    let mut finished_total = 0;
    let mut cut = 0;
    let mut interrupted = 0;
    for i in 0..STORES {
        let profile = format!("shop-{i}");
        let mut runs = world.rt.block_on(async {
            let db = states.take().unwrap();
            db.recent_runs(&profile, 10_000).await.unwrap()
        });
        runs.reverse();
        assert!(!runs.is_empty(), "{profile} never ran");
        for pair in runs.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            match a.finished_at {
                Some(end) => {
                    assert!(
                        end <= b.started_at,
                        "{profile}: run {} ({} – {end}) overlaps run {} (from {})",
                        a.id.0,
                        a.started_at,
                        b.id.0,
                        b.started_at
                    );
                }
                None => {
                    let start: SystemTime = a.started_at.into();
                    let next: SystemTime = b.started_at.into();
                    let killed = kills.iter().any(|k| *k >= start && *k <= next);
                    assert!(
                        killed,
                        "{profile}: run {} never finished and no kill explains it",
                        a.id.0
                    );
                    cut += 1;
                }
            }
            // A run fails only when a SIGTERM interrupts it (its job
            // goes back to the pool).
            if a.status.as_str() == "failed" {
                let error = a.report.as_ref().map(|r| r["error"].to_string());
                assert!(
                    error.as_deref().is_some_and(|e| e.contains("interrupted")),
                    "{profile}: {:#?}",
                    a.report
                );
                interrupted += 1;
            }
        }
        finished_total += runs.iter().filter(|r| r.finished_at.is_some()).count();
    }
    println!(
        "{finished_total} runs finished on {STORES} stores, {cut} cut by a kill and {interrupted} by a SIGTERM, resumed by the pool; {:.1} s in all",
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn run_worker_refuses_sqlite_state_and_several_databases() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("mappings/demo"), &dir.path().join("mapping"));
    std::fs::copy("examples/catalog.json", dir.path().join("catalog.json")).unwrap();
    let write = |states: [&str; 2]| {
        let mut text = String::from("mapsync: 1\nprofiles:\n");
        for (i, s) in states.iter().enumerate() {
            text.push_str(&format!(
                "  p{i}:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"http://127.0.0.1:9/\", token: t }}\n    state: {s}\n    schedule: {{ every: 1h }}\n"
            ));
        }
        std::fs::write(dir.path().join("mapsync.yaml"), text).unwrap();
    };
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .arg("--project")
            .arg(dir.path())
            .args(["run", "--worker"])
            .env("NO_COLOR", "1")
            .env("SECRET_DB_PASSWORD", "s3cr3t-canary")
            .output()
            .unwrap();
        // The report's lines, joined (it wraps at 100 columns).
        let text = String::from_utf8_lossy(&out.stderr)
            .split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ");
        (out.status.code(), text)
    };
    write([
        "postgres://m@127.0.0.1:9/a?password_env=SECRET_DB_PASSWORD",
        "sqlite:.mapsync/state.db",
    ]);
    let (code, stderr) = run();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("run::worker-queue"), "{stderr}");
    assert!(
        stderr.contains("profile `p1` keeps it in SQLite"),
        "{stderr}"
    );
    assert!(
        stderr.contains("postgres://"),
        "the help says what to use: {stderr}"
    );

    write([
        "postgres://m@127.0.0.1:9/a?password_env=SECRET_DB_PASSWORD",
        "postgres://m@127.0.0.1:9/b?password_env=SECRET_DB_PASSWORD",
    ]);
    let (code, stderr) = run();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("run::worker-queue"), "{stderr}");
    assert!(stderr.contains("one PostgreSQL database"), "{stderr}");
    assert!(stderr.contains("127.0.0.1:9/b"), "{stderr}");
    assert!(!stderr.contains("s3cr3t-canary"), "{stderr}");
    // Nothing was started: no log, no state file.
    assert!(!dir.path().join(".mapsync/state.db").exists());
}
