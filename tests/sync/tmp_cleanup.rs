//! Nothing left behind (issue 19, docs/sync.md "Temporary files"): the
//! real binary against a sandbox store over HTTP. Runs killed with SIGKILL
//! at random points leave their files in the project's temporary folder;
//! the next run removes them (and logs it) but never a file of a running
//! process or of another project; Ctrl-C, clean and error exits remove the
//! run's own files; a full disk (a small tmpfs, where this machine lets
//! the test mount one) stops a run with `run::disk-full` and a ledger
//! that the next run carries on from.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use mapsync::state::tmp::{owner_of, Owner, TmpDir};
use serde_json::Value;

use crate::project::copy_dir;
use crate::store_view::normalized;

struct Env {
    rt: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    dir: tempfile::TempDir,
}

impl Env {
    /// A slow sandbox (so that runs can be caught midway; 10 ms an
    /// answer) and a project
    /// whose profile `e2e` syncs the demo mapping from `catalog.json`;
    /// `head` goes before `profiles:` (e.g. `tmp_dir:`), `state` is the
    /// profile's `state:`.
    fn new(head: &str, state: &str) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = rt
            .block_on(sandbox::start(SandboxConfig {
                latency: Duration::from_millis(10),
                // A bucket no run of these tests drains: no waits for it.
                bucket: Some(100_000.0),
                restore_rate: Some(100_000.0),
                ..SandboxConfig::default()
            }))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(Path::new("mappings/demo"), &dir.path().join("mapping"));
        let mapping = dir.path().join("mapping/mapping.yaml");
        let text = std::fs::read_to_string(&mapping).unwrap().replace(
            "settings:\n  sync: [add, update, deactivate]\n  max_deletes: 50%\n",
            "settings:\n  sync: [add, update, deactivate]\n  concurrency: 4\n  chunk_size: 10\n",
        );
        std::fs::write(&mapping, text).unwrap();
        let project = format!(
            "mapsync: 1\n{head}profiles:\n  e2e:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: {state}\n",
            sandbox.url()
        );
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        let env = Env {
            rt,
            sandbox: Some(sandbox),
            dir,
        };
        env.set_catalog(&catalog(60, "Item", 0));
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mapsync"));
        c.arg("--project")
            .arg(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("E2E_TOKEN", "e2e-token")
            .env_remove("RUST_LOG")
            .env_remove("MAPSYNC_LOG");
        c
    }

    /// Runs mapsync; exit code, stdout, stderr.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts mapsync with its output discarded (or stderr to `stderr`).
    fn spawn(&self, args: &[&str], stderr: Option<&Path>) -> Child {
        let err = match stderr {
            Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
            None => Stdio::null(),
        };
        self.command(args)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap()
    }

    fn set_catalog(&self, v: &Value) {
        std::fs::write(self.path("catalog.json"), serde_json::to_vec(v).unwrap()).unwrap();
    }

    fn snapshot(&self) -> Value {
        let url = format!(
            "{}/__sandbox/snapshot",
            self.sandbox.as_ref().unwrap().url()
        );
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

/// `n` products with 3 variants each in 3 categories, named `name i`, each
/// with a description of `pad` bytes.
fn catalog(n: usize, name: &str, pad: usize) -> Value {
    let description = format!("Generated. {}", "x".repeat(pad));
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let variants: Vec<Value> = ["S", "M", "L"]
                .iter()
                .enumerate()
                .map(|(j, size)| {
                    serde_json::json!({"Sku": format!("T-{i}-{size}"), "Color": "Blue", "Size": size,
                        "Price": format!("{}.00", 10 + i % 50), "Position": j + 1, "Stock": (i + j) % 9})
                })
                .collect();
            serde_json::json!({"ItemNo": format!("T-{i}"), "Name": format!("{name} {i}"),
                "Description": description, "Material": "Wool", "Group": "Knit",
                "Tags": "knit", "Published": true,
                "Categories": [format!("C-{}", i % 3)], "Variants": variants})
        })
        .collect();
    let categories: Vec<Value> = (0..3)
        .map(|c| serde_json::json!({"CategoryId": format!("C-{c}"), "Name": format!("Category {c}"), "Active": true}))
        .collect();
    serde_json::json!({"categories": categories, "products": products})
}

/// The files of the temporary folder named by mapsync, with their owners.
fn tmp_files(dir: &Path) -> Vec<(String, Owner)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, Owner)> = entries
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| owner_of(&n).map(|o| (n, o)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Waits until `child` has a file in `dir` besides its lock (its spool:
/// true) or has exited (false).
fn wait_for_own_file(child: &mut Child, dir: &Path) -> bool {
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if tmp_files(dir)
            .iter()
            .any(|(n, o)| o.pid == pid && !n.ends_with(".lock"))
        {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("mapsync (pid {pid}) neither made a temporary file nor ended in 20 s");
}

/// SIGINT, as Ctrl-C sends it (the shell's builtin `kill`).
fn ctrl_c(child: &Child) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A small pseudo-random generator for the kill points; the seed is
/// printed so that a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn runs_killed_at_random_points_leave_files_the_next_run_removes() {
    let env = Env::new("", "sqlite:.mapsync/state.db");
    let tmp = env.path(".mapsync/tmp");
    let seed = std::env::var("TMP_CLEANUP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("kill points from TMP_CLEANUP_SEED={seed}");
    let mut rng = Lcg(seed);
    let mut killed = BTreeSet::new();
    let mut left = BTreeSet::new();
    // Random points (startup, planning, applying), then one kill once the
    // run's spool exists, so that at least one run leaves a file.
    for round in 0..4 {
        let mut child = env.spawn(&["sync", "--profile", "e2e"], None);
        killed.insert(child.id());
        if round < 3 {
            // A run of this catalog takes about 400 ms.
            let ms = 10 + rng.next() % 400;
            eprintln!("round {round}: SIGKILL after {ms} ms");
            std::thread::sleep(Duration::from_millis(ms));
        } else {
            assert!(wait_for_own_file(&mut child, &tmp), "the run made no spool");
        }
        child.kill().unwrap();
        let _ = child.wait();
        for (name, owner) in tmp_files(&tmp) {
            assert!(
                killed.contains(&owner.pid),
                "{name} belongs to no run of this test"
            );
            left.insert(name);
        }
    }
    assert!(!left.is_empty(), "no killed run left a file");
    let still_there: Vec<String> = tmp_files(&tmp).into_iter().map(|(n, _)| n).collect();
    assert!(!still_there.is_empty());

    // Beside them: a file of a process that runs (this test), one of a
    // gone process whose pid was reused (this pid, another start time),
    // one of another project sharing the folder, and a file mapsync did
    // not name.
    let me = Owner::current();
    let ours = TmpDir::open(&tmp, env.dir.path()).unwrap();
    let (live, _) = ours.create("spool.ndjson").unwrap();
    let live_name = live
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let recycled = ours.name_of(
        Owner {
            pid: me.pid,
            start: me.start + 1,
        },
        7,
        "spool.ndjson",
    );
    std::fs::write(tmp.join(&recycled), "stale").unwrap();
    let other_project = tempfile::tempdir().unwrap();
    let foreign = TmpDir::open(&tmp, other_project.path()).unwrap().name_of(
        Owner {
            pid: 4_000_000,
            start: 1,
        },
        1,
        "spool.ndjson",
    );
    std::fs::write(tmp.join(&foreign), "another project's").unwrap();
    std::fs::write(tmp.join("notes.txt"), "not mapsync's").unwrap();

    // The next run: once it has a file of its own, every other file is
    // of a running process or of another project; at its end, none of
    // its own is left.
    let log = env.path("next-run.stderr");
    let mut child = env.spawn(&["sync", "--profile", "e2e", "-v"], Some(&log));
    let pid = child.id();
    let mut saw_own = false;
    let status = loop {
        let files = tmp_files(&tmp);
        // Its spool (made after the cleanup at start; its lock file is
        // made just before).
        if files
            .iter()
            .any(|(n, o)| o.pid == pid && !n.ends_with(".lock"))
        {
            saw_own = true;
            for (name, owner) in &files {
                assert!(
                    owner.pid == pid || *owner == me || *name == foreign,
                    "{name} is still there while the next run (pid {pid}) runs: {files:?}"
                );
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        saw_own,
        "the next run was never seen with a file of its own"
    );
    for name in still_there.iter().chain([&recycled]) {
        assert!(
            stderr.contains(name.as_str()) && stderr.contains("removed a temporary file"),
            "the removal of {name} is not logged: {stderr}"
        );
    }
    // (This test's own lock file, `…-0.lock`, stays while it runs.)
    let data_files = || -> Vec<String> {
        tmp_files(&tmp)
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| !n.ends_with(".lock"))
            .collect()
    };
    let mut want = vec![live_name, foreign.clone()];
    want.sort();
    assert_eq!(
        data_files(),
        want,
        "only the running process's and the other project's files stay"
    );
    assert!(tmp.join("notes.txt").exists());
    drop(live);
    drop(ours);
    assert_eq!(data_files(), vec![foreign.clone()]);
    assert_eq!(
        tmp_files(&tmp).len(),
        1,
        "no lock file of this test is left"
    );
    // The store ends as a clean run leaves it: every item, once.
    let store = normalized(&env.snapshot());
    assert_eq!(store["products"].as_object().unwrap().len(), 60);
}

#[test]
fn ctrl_c_clean_and_error_exits_remove_the_runs_own_files() {
    let env = Env::new("", "sqlite:.mapsync/state.db");
    let tmp = env.path(".mapsync/tmp");
    let nothing_left = |what: &str| {
        let files = tmp_files(&tmp);
        assert!(files.is_empty(), "{what} left {files:?}");
    };

    // A clean exit: the plan file is written in the folder, then moved.
    let plan = env.path("plan.json");
    let plan = plan.to_str().unwrap();
    let (code, _, stderr) = env.run(&["plan", "--profile", "e2e", "--out", plan]);
    assert_eq!(code, 0, "{stderr}");
    assert!(env.path("plan.json").exists());
    assert!(!env.path("plan.tmp").exists());
    nothing_left("plan --out");

    // Ctrl-C while planning ends `plan` at once, its files gone.
    let mut child = env.spawn(&["plan", "--profile", "e2e"], None);
    if wait_for_own_file(&mut child, &tmp) {
        ctrl_c(&child);
        let status = child.wait().unwrap();
        assert!(matches!(status.code(), Some(130 | 0)), "{status:?}");
    } else {
        eprintln!("plan ended before its spool was seen; Ctrl-C not sent");
    }
    nothing_left("plan stopped with Ctrl-C");

    // Ctrl-C during a sync: the items in flight finish, the run stops.
    let mut child = env.spawn(&["sync", "--profile", "e2e"], None);
    assert!(
        wait_for_own_file(&mut child, &tmp),
        "the sync made no spool"
    );
    ctrl_c(&child);
    let status = child.wait().unwrap();
    assert!(matches!(status.code(), Some(1 | 0)), "{status:?}");
    nothing_left("sync stopped with Ctrl-C");

    // A clean sync.
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 0, "{stderr}");
    nothing_left("sync");

    // An error exit after spooling: the saved plan is stale now.
    let (code, _, stderr) = env.run(&["apply", plan]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("run::plan-stale"), "{stderr}");
    nothing_left("a stale apply");

    // `mapsync run` cleans at start too (it logs at info on stderr).
    let gone = TmpDir::open(&tmp, env.dir.path()).unwrap().name_of(
        Owner {
            pid: 4_000_001,
            start: 3,
        },
        2,
        "spool.ndjson",
    );
    std::fs::write(tmp.join(&gone), "left by a killed manager").unwrap();
    let (code, _, stderr) = env.run(&["run", "--once", "--profile", "e2e"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&gone), "the removal is logged: {stderr}");
    nothing_left("run --once");
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` at `at`, or says why it cannot.
    fn tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`mount -t tmpfs` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Fills the filesystem of `dir` but `leave` bytes with a file; returns it.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0xa5u8; 16 * 1024];
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
    path
}

/// The ledger's product rows: key → hash of the document last synced.
fn ledger_hashes(db: &Path) -> std::collections::BTreeMap<String, String> {
    let db = rusqlite::Connection::open(db).unwrap();
    let mut q = db
        .prepare("SELECT key, hash FROM ledger WHERE entity = 'product' AND hash IS NOT NULL")
        .unwrap();
    let rows = q
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

/// A tmpfs at `at`, or `None` after saying why the test is skipped.
fn small_disk(at: &Path, size: &str) -> Option<Mount> {
    match Mount::tmpfs(at, size) {
        Ok(m) => Some(m),
        Err(why) => {
            eprintln!(
                "SKIPPED: a full disk needs a small filesystem, and this machine does not let the test mount one ({why}); run as root (or with CAP_SYS_ADMIN) to test it"
            );
            None
        }
    }
}

#[test]
fn a_full_disk_while_spooling_stops_the_run_before_any_change() {
    let env = Env::new("tmp_dir: small/tmp\n", "sqlite:.mapsync/state.db");
    let Some(_mount) = small_disk(&env.path("small"), "1m") else {
        return;
    };
    // Documents of ~4 KB: the spool needs far more than is left.
    env.set_catalog(&catalog(60, "Item", 4000));
    std::fs::create_dir_all(env.path("small/tmp")).unwrap();
    let filler = fill(&env.path("small"), 24 * 1024);
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("run::disk-full"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        stderr.contains("tmp_dir"),
        "the help names the folder: {stderr}"
    );
    let store = env.snapshot();
    assert_eq!(
        normalized(&store)["products"].as_object().unwrap().len(),
        0,
        "nothing was changed"
    );
    assert!(tmp_files(&env.path("small/tmp")).is_empty());
    // With room again, the run goes through.
    std::fs::remove_file(filler).unwrap();
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(tmp_files(&env.path("small/tmp")).is_empty());
}

#[test]
fn a_full_disk_under_the_state_store_stops_the_run_with_an_intact_ledger() {
    let env = Env::new("", "sqlite:small/state.db");
    let Some(_mount) = small_disk(&env.path("small"), "2m") else {
        return;
    };
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 0, "{stderr}");
    // Every product changes. A disk with no room at all: the state store
    // cannot even be opened for writing, and nothing changes.
    env.set_catalog(&catalog(60, "Renamed", 0));
    let before = normalized(&env.snapshot());
    let hashes = ledger_hashes(&env.path("small/state.db"));
    assert_eq!(hashes.len(), 60);
    let filler = fill(&env.path("small"), 0);
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("run::disk-full"), "{stderr}");
    assert_eq!(normalized(&env.snapshot()), before, "nothing was changed");
    // Room for a few commits: the disk fills while the run records the
    // items.
    std::fs::remove_file(&filler).unwrap();
    let filler = fill(&env.path("small"), 160 * 1024);
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("run::disk-full"), "{stderr}");
    assert!(stderr.contains("state"), "{stderr}");
    let middle = normalized(&env.snapshot());
    let renamed = |store: &Value| {
        store["products"]
            .as_object()
            .unwrap()
            .values()
            .filter(|p| {
                p["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Renamed"))
            })
            .count()
    };
    eprintln!(
        "the disk filled after {} of 60 products were renamed",
        renamed(&middle)
    );
    assert_eq!(renamed(&before), 0);
    // With room again: the ledger is whole, and every product it records
    // as renamed is renamed in the store (what it says was done, was).
    std::fs::remove_file(filler).unwrap();
    let db = rusqlite::Connection::open(env.path("small/state.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(db);
    let recorded: Vec<String> = ledger_hashes(&env.path("small/state.db"))
        .into_iter()
        .filter(|(k, h)| hashes.get(k) != Some(h))
        .map(|(k, _)| k)
        .collect();
    eprintln!("the ledger recorded {} of them", recorded.len());
    assert!(
        !recorded.is_empty(),
        "the items done before the disk filled are recorded"
    );
    // What is not recorded is at most the chunk in flight (chunk_size 10)
    // when the disk filled; the next run finds those by their marker.
    assert!(renamed(&middle) - recorded.len() <= 10);
    for key in &recorded {
        let title = middle["products"][key]["title"].as_str().unwrap_or("");
        assert!(
            title.starts_with("Renamed"),
            "{key} is recorded but not renamed: {title}"
        );
    }
    // The next run carries on: every product renamed, none twice, then
    // nothing left to do.
    let (code, _, stderr) = env.run(&["sync", "--profile", "e2e"]);
    assert_eq!(code, 0, "{stderr}");
    let after = normalized(&env.snapshot());
    assert_eq!(after["products"].as_object().unwrap().len(), 60);
    assert_eq!(renamed(&after), 60);
    let (code, stdout, stderr) = env.run(&["sync", "--profile", "e2e", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["unchanged"], 63, "{report:#}");
}
