//! `mapsync run` end to end: the real binary with schedules of seconds,
//! against sandbox stores served over HTTP on 127.0.0.1 (started here, in
//! process), on copies of the demo project in temporary directories. The
//! manager is watched through its own endpoints (`/api/status`,
//! `/api/runs`, `/metrics`, `/readyz`) and the store through the
//! sandbox's counters and snapshot.

use crate::project::copy_dir;
use crate::store_view::normalized;
use crate::support::{free_port, RunProcess};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::Value;

/// A catalog of `n` products (keys `{prefix}-N`) with 3 variants each, in
/// 3 categories (`{prefix}C-N`).
fn catalog(prefix: &str, n: usize) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let variants: Vec<Value> = ["S", "M", "L"]
                .iter()
                .enumerate()
                .map(|(j, size)| {
                    serde_json::json!({"Sku": format!("{prefix}-{i}-{size}"), "Color": "Blue", "Size": size,
                        "Price": format!("{}.00", 10 + i % 50), "Position": j + 1, "Stock": (i + j) % 9})
                })
                .collect();
            serde_json::json!({"ItemNo": format!("{prefix}-{i}"), "Name": format!("Item {i}"),
                "Description": "Generated", "Material": "Wool", "Group": "Knit",
                "Tags": "knit", "Published": true,
                "Categories": [format!("{prefix}C-{}", i % 3)], "Variants": variants})
        })
        .collect();
    let categories: Vec<Value> = (0..3)
        .map(|c| serde_json::json!({"CategoryId": format!("{prefix}C-{c}"), "Name": format!("Category {prefix} {c}"), "Active": true}))
        .collect();
    serde_json::json!({"categories": categories, "products": products})
}

/// A project directory with the demo mapping and its catalog, one sandbox
/// store, and the manager's port.
struct Project {
    rt: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Project {
    fn new(config: SandboxConfig) -> Project {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = rt.block_on(sandbox::start(config)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(Path::new("mappings/demo"), &dir.path().join("mapping"));
        std::fs::copy("examples/catalog.json", dir.path().join("catalog.json")).unwrap();
        Project {
            rt,
            sandbox: Some(sandbox),
            dir,
            port: free_port(),
        }
    }

    fn store_url(&self) -> String {
        self.sandbox.as_ref().unwrap().url()
    }

    /// Writes `mapsync.yaml`: a `run:` section on this project's port and
    /// `profiles` (YAML, indented by 2).
    fn write_project(&self, profiles: &str) {
        let text = format!(
            "mapsync: 1\nrun:\n  listen: 127.0.0.1:{}\n  config_check: 1m\n  logs: {{ format: json }}\nprofiles:\n{profiles}",
            self.port
        );
        std::fs::write(self.dir.path().join("mapsync.yaml"), text).unwrap();
    }

    /// One profile `e2e` syncing `catalog.json` to the sandbox.
    fn profile(&self, name: &str, catalog: &str, schedule: &str) -> String {
        format!(
            "  {name}:\n    mapping: mapping\n    source: {{ type: file, path: {catalog} }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: sqlite:.mapsync/{name}.db\n    schedule: {schedule}\n",
            self.store_url()
        )
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mapsync"));
        c.arg("--project")
            .arg(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("E2E_TOKEN", "e2e-token")
            .env_remove("RUST_LOG")
            // The log file with the store client's debug lines (request ids).
            .env("MAPSYNC_LOG", "info,mapsync_shopify=debug");
        c
    }

    fn start(&self, args: &[&str]) -> Manager {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let child = self
            .command(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.path("manager.stderr")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let m = Manager {
            child,
            port: self.port,
            stderr: self.path("manager.stderr"),
        };
        m.wait_for("the manager to answer", Duration::from_secs(20), || {
            m.get("/healthz").map(|(c, _)| c == 200).unwrap_or(false)
        });
        m
    }

    fn store(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.store_url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    fn set_catalog(&self, file: &str, v: &Value) {
        std::fs::write(self.path(file), serde_json::to_string_pretty(v).unwrap()).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

/// A running `mapsync run` (`support::RunProcess`).
type Manager = RunProcess;

impl Manager {
    fn json(&self, path: &str) -> Value {
        let (code, body) = self
            .get(path)
            .unwrap_or_else(|| panic!("{path}: no answer"));
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn runs(&self, profile: &str) -> Vec<Value> {
        self.json(&format!("/api/runs?profile={profile}&limit=100"))["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Finished runs of a profile (with the manager's report), oldest first.
    fn finished_runs(&self, profile: &str) -> Vec<Value> {
        let mut r: Vec<Value> = self
            .runs(profile)
            .into_iter()
            .filter(|r| r["report"].is_object())
            .collect();
        r.reverse();
        r
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting for {what}; stderr:\n{}",
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        );
    }
}

/// Sample lines of a Prometheus text exposition, parsed: `name{labels}`
/// → value. Panics on a line that is not a comment or a sample.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut families = 0;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let words: Vec<&str> = rest.split_whitespace().collect();
            assert!(
                matches!(words.first(), Some(&("HELP" | "TYPE" | "UNIT" | "EOF"))),
                "not a metadata line: {line}"
            );
            if words.first() == Some(&"TYPE") {
                assert!(
                    matches!(
                        words.get(2),
                        Some(&("counter" | "gauge" | "histogram" | "summary" | "unknown"))
                    ),
                    "{line}"
                );
                families += 1;
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "bad labels in {line}");
            for pair in series[name_end + 1..series.len() - 1].split("\",") {
                let (k, v) = pair
                    .split_once("=\"")
                    .unwrap_or_else(|| panic!("bad label in {line}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                let _ = v;
            }
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        out.insert(series.to_string(), v);
    }
    assert!(families >= 5, "too few metric families:\n{text}");
    out
}

fn sum(metrics: &BTreeMap<String, f64>, prefix: &str, must: &[&str]) -> f64 {
    metrics
        .iter()
        .filter(|(k, _)| k.starts_with(prefix) && must.iter().all(|m| k.contains(m)))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn the_first_sync_runs_at_once_then_on_schedule_and_metrics_match_the_reports() {
    let p = Project::new(SandboxConfig::default());
    p.write_project(&p.profile("e2e", "catalog.json", "{ every: 2s }"));
    let started = Instant::now();
    let m = p.start(&[]);
    m.wait_for("the first run", Duration::from_secs(20), || {
        !m.finished_runs("e2e").is_empty()
    });
    // At once: not after the interval.
    let first = &m.finished_runs("e2e")[0];
    assert_eq!(first["report"]["outcome"], "ok", "{first:#}");
    assert_eq!(first["report"]["summary"]["created"], 11, "{first:#}");
    assert!(started.elapsed() < Duration::from_secs(15));
    m.wait_for("three runs", Duration::from_secs(30), || {
        m.finished_runs("e2e").len() >= 3
    });
    let runs = m.finished_runs("e2e");
    // Then on schedule: a start every 2 s (not back to back, not slower).
    let starts: Vec<time::OffsetDateTime> = runs
        .iter()
        .map(|r| {
            time::OffsetDateTime::parse(
                r["started_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    for w in starts.windows(2) {
        let gap = (w[1] - w[0]).as_seconds_f64();
        assert!((1.5..4.5).contains(&gap), "runs {gap} s apart: {starts:?}");
    }
    assert_eq!(
        runs[1]["report"]["summary"]["unchanged"], 10,
        "{:#}",
        runs[1]
    );
    // The status: the profile, its schedule and next run.
    let status = m.json("/api/status");
    let prof = &status["profiles"][0];
    assert_eq!(prof["name"], "e2e");
    assert_eq!(prof["schedule"], "every 2s");
    assert!(prof["next_run"].is_string(), "{status:#}");
    assert_eq!(status["config"]["status"], "ok");
    assert_eq!(m.get("/readyz").unwrap().0, 200);
    // `mapsync status` asks the manager.
    let out = p.command(&["status", "--format", "json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["profiles"][0]["name"], "e2e");
    // A manual run; a second while it runs (or is asked) is refused.
    let post = |path: &str| -> u16 {
        let url = format!("http://127.0.0.1:{}{path}", p.port);
        p.rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let a = post("/api/profiles/e2e/sync");
    let b = post("/api/profiles/e2e/sync");
    assert_eq!(a, 202);
    assert_eq!(b, 409);
    assert_eq!(post("/api/profiles/nope/sync"), 404);
    // The metrics parse, and their counters are the reports' sums (read
    // between runs: no run in progress).
    m.wait_for("an idle moment", Duration::from_secs(10), || {
        m.json("/api/status")["profiles"][0]["state"] == "idle"
    });
    let (code, text) = m.get("/metrics").unwrap();
    let runs = m.finished_runs("e2e");
    let (code2, text2) = m.get("/metrics").unwrap();
    assert_eq!((code, code2), (200, 200));
    // Retry if a run ended between the two reads.
    let metrics = parse_metrics(if text == text2 { &text } else { &text2 });
    let runs = if text == text2 {
        runs
    } else {
        m.finished_runs("e2e")
    };
    assert_eq!(
        sum(&metrics, "mapsync_runs_total{", &["profile=\"e2e\""]) as usize,
        runs.len(),
        "{text}"
    );
    assert_eq!(
        sum(&metrics, "mapsync_runs_total{", &["outcome=\"ok\""]) as usize,
        runs.iter()
            .filter(|r| r["report"]["outcome"] == "ok")
            .count()
    );
    let items: u64 = runs
        .iter()
        .map(|r| r["report"]["items"].as_u64().unwrap())
        .sum();
    assert_eq!(sum(&metrics, "mapsync_items_total{", &[]) as u64, items);
    assert_eq!(
        sum(
            &metrics,
            "mapsync_items_total{",
            &["entity=\"product\"", "action=\"create\""]
        ) as u64,
        8
    );
    let requests: u64 = runs
        .iter()
        .map(|r| r["report"]["requests"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sum(&metrics, "mapsync_requests_total{", &["target=\"shopify\""]) as u64,
        requests
    );
    assert_eq!(
        metrics["mapsync_run_duration_seconds_count{profile=\"e2e\"}"] as usize,
        runs.len()
    );
    assert_eq!(metrics["mapsync_running{profile=\"e2e\"}"], 0.0);
    assert!(metrics["mapsync_last_success_timestamp_seconds{profile=\"e2e\"}"] > 1.0e9);
    assert_eq!(metrics["mapsync_config_reloads_total{outcome=\"ok\"}"], 1.0);
    // The JSON log: one object a line with run.md's fields.
    let logs: Vec<_> = std::fs::read_dir(p.path(".mapsync/logs"))
        .unwrap()
        .collect();
    assert_eq!(logs.len(), 1);
    let log = std::fs::read_to_string(logs[0].as_ref().unwrap().path()).unwrap();
    let finished = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("run finished"))
        })
        .unwrap_or_else(|| panic!("no `run finished` line:\n{log}"));
    for key in [
        "timestamp",
        "level",
        "profile",
        "run_id",
        "item",
        "request_id",
        "message",
    ] {
        assert!(finished.get(key).is_some(), "{key} missing: {finished}");
    }
    assert_eq!(finished["profile"], "e2e");
    // Request ids at debug level, inside the run's span.
    let request = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["request_id"].is_string())
        .unwrap_or_else(|| panic!("no line with a request id:\n{log}"));
    assert_eq!(request["level"], "DEBUG");
    assert_eq!(request["profile"], "e2e");
    assert!(finished["run_id"]
        .as_str()
        .is_some_and(|r| r.starts_with("e2e-")));
    // No secret anywhere: the token is not in the API, the page, the
    // metrics or the log.
    for (what, text) in [
        ("/api/status", m.get("/api/status").unwrap().1),
        ("/api/runs", m.get("/api/runs").unwrap().1),
        ("/", m.get("/").unwrap().1),
        ("/metrics", m.get("/metrics").unwrap().1),
        ("the log", log.clone()),
    ] {
        assert!(!text.contains("e2e-token"), "{what} shows the token");
    }
    // SIGHUP reads the configuration again (no file changed).
    m.signal("-HUP");
    m.wait_for("the reload on SIGHUP", Duration::from_secs(10), || {
        parse_metrics(&m.get("/metrics").unwrap().1)["mapsync_config_reloads_total{outcome=\"ok\"}"]
            == 2.0
    });
    // `mapsync runs` lists them from the state store.
    let out = p
        .command(&["runs", "--profile", "e2e", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed["runs"].as_array().unwrap().len() >= 3);
}

#[test]
fn a_mapping_change_applies_from_the_next_run_and_a_broken_configuration_is_refused() {
    let p = Project::new(SandboxConfig::default());
    p.write_project(&p.profile("e2e", "catalog.json", "{ every: 2s }"));
    let m = p.start(&[]);
    m.wait_for("the first run", Duration::from_secs(20), || {
        !m.finished_runs("e2e").is_empty()
    });
    // A mapping change: every product's vendor.
    let mapping = p.path("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(
        &mapping,
        text.replace("vendor: \"'Acme'\"", "vendor: \"'Acme Reloaded'\""),
    )
    .unwrap();
    m.wait_for("a run updating the vendor", Duration::from_secs(20), || {
        m.finished_runs("e2e")
            .iter()
            .any(|r| r["report"]["summary"]["updated"].as_u64().unwrap_or(0) >= 7)
    });
    assert!(p
        .store("/__sandbox/snapshot")
        .to_string()
        .contains("Acme Reloaded"));
    // A broken project file (a cron pattern that does not parse) is
    // refused: the running configuration stays and syncs go on with it.
    let good = std::fs::read_to_string(p.path("mapsync.yaml")).unwrap();
    std::fs::write(
        p.path("mapsync.yaml"),
        good.replace(
            "schedule: { every: 2s }",
            "schedule: { cron: \"0 */2 * *\" }",
        ),
    )
    .unwrap();
    m.wait_for("the refusal", Duration::from_secs(20), || {
        m.json("/api/status")["config"]["status"] == "refused"
    });
    let status = m.json("/api/status");
    let diags = status["config"]["diagnostics"].as_array().unwrap();
    assert_eq!(diags[0]["code"], "schedule::cron", "{status:#}");
    assert_eq!(diags[0]["line"], 12, "{status:#}");
    let (code, body) = m.get("/readyz").unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("refused"), "{body}");
    assert!(m.get("/").unwrap().1.contains("schedule::cron"));
    let before = m.finished_runs("e2e").len();
    m.wait_for(
        "two more runs on the old configuration",
        Duration::from_secs(20),
        || m.finished_runs("e2e").len() >= before + 2,
    );
    assert_eq!(m.json("/api/status")["profiles"][0]["schedule"], "every 2s");
    // Every diagnostic is logged.
    let logs = std::fs::read_dir(p.path(".mapsync/logs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let log = std::fs::read_to_string(logs).unwrap();
    assert!(log.contains("schedule::cron"), "{log}");
    let metrics = parse_metrics(&m.get("/metrics").unwrap().1);
    assert!(metrics["mapsync_config_reloads_total{outcome=\"refused\"}"] >= 1.0);
    // The next good file is taken.
    std::fs::write(
        p.path("mapsync.yaml"),
        good.replace("every: 2s", "every: 3s"),
    )
    .unwrap();
    m.wait_for("the good file", Duration::from_secs(20), || {
        m.json("/api/status")["profiles"][0]["schedule"] == "every 3s"
    });
    assert_eq!(m.get("/readyz").unwrap().0, 200);
    assert_eq!(m.json("/api/status")["config"]["status"], "ok");
    // A mapping file saved broken is refused too, and the runs go on with
    // the mapping set of the running configuration.
    let mapping_text = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(
        &mapping,
        mapping_text.replace("product_type: Group", "product_type: Group[x"),
    )
    .unwrap();
    m.wait_for(
        "the refusal of the mapping",
        Duration::from_secs(20),
        || m.json("/api/status")["config"]["status"] == "refused",
    );
    let status = m.json("/api/status");
    assert_eq!(
        status["config"]["diagnostics"][0]["code"], "source::syntax",
        "{status:#}"
    );
    let before = m.finished_runs("e2e").len();
    m.wait_for("a run on the old mapping", Duration::from_secs(20), || {
        m.finished_runs("e2e").len() > before
    });
    let last = m.finished_runs("e2e").pop().unwrap();
    assert_eq!(last["report"]["outcome"], "ok", "{last:#}");
    assert_eq!(last["report"]["summary"]["unchanged"], 10, "{last:#}");
}

#[test]
fn a_store_that_is_down_makes_failed_runs_that_are_retried_until_it_is_back() {
    // The store's port, with nothing on it yet.
    let store_port = free_port();
    let p = Project::new(SandboxConfig::default());
    let profile = format!(
        "  e2e:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"http://127.0.0.1:{store_port}\", token: \"${{E2E_TOKEN}}\" }}\n    state: sqlite:.mapsync/e2e.db\n    schedule: {{ every: 2s }}\n"
    );
    p.write_project(&profile);
    let m = p.start(&[]);
    m.wait_for("two failed runs", Duration::from_secs(60), || {
        m.finished_runs("e2e")
            .iter()
            .filter(|r| r["report"]["outcome"] == "failed")
            .count()
            >= 2
    });
    let runs = m.finished_runs("e2e");
    assert!(
        runs[0]["report"]["error"].as_str().is_some(),
        "{:#}",
        runs[0]
    );
    assert_eq!(runs[0]["status"], "failed");
    let status = m.json("/api/status");
    assert!(
        status["profiles"][0]["consecutive_failures"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert_eq!(m.get("/healthz").unwrap().0, 200);
    let metrics = parse_metrics(&m.get("/metrics").unwrap().1);
    assert!(metrics["mapsync_runs_total{profile=\"e2e\",outcome=\"failed\"}"] >= 2.0);
    // The store comes up on that port: the next retry syncs.
    let store =
        p.rt.block_on(sandbox::start(SandboxConfig {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], store_port)),
            ..SandboxConfig::default()
        }))
        .unwrap();
    m.wait_for("a run that syncs", Duration::from_secs(30), || {
        m.finished_runs("e2e")
            .iter()
            .any(|r| r["report"]["outcome"] == "ok")
    });
    let ok = m
        .finished_runs("e2e")
        .into_iter()
        .find(|r| r["report"]["outcome"] == "ok")
        .unwrap();
    assert_eq!(ok["report"]["summary"]["created"], 11, "{ok:#}");
    assert_eq!(
        m.json("/api/status")["profiles"][0]["consecutive_failures"],
        0
    );
    let _ = p.rt.block_on(store.shutdown());
}

#[test]
fn sigterm_mid_run_then_a_restart_ends_with_the_store_of_a_clean_run() {
    let slow = || SandboxConfig {
        latency: Duration::from_millis(25),
        ..SandboxConfig::default()
    };
    // The store a clean run leaves.
    let clean = Project::new(slow());
    clean.set_catalog("catalog.json", &catalog("K", 120));
    clean.write_project(&clean.profile("e2e", "catalog.json", "{ every: 1h }"));
    let out = clean.command(&["run", "--once"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = normalized(&clean.store("/__sandbox/snapshot"));

    let p = Project::new(slow());
    p.set_catalog("catalog.json", &catalog("K", 120));
    p.write_project(&p.profile("e2e", "catalog.json", "{ every: 1h }"));
    let mut m = p.start(&[]);
    m.wait_for("products being created", Duration::from_secs(30), || {
        p.store("/__sandbox/stats")["by_operation"]["productSet"]
            .as_u64()
            .unwrap_or(0)
            >= 20
    });
    let code = m.terminate(Duration::from_secs(30));
    assert_eq!(code, 0, "{}", m.stderr());
    assert!(m.stderr().contains("stopping"), "{}", m.stderr());
    let created_then = p.store("/__sandbox/stats")["by_operation"]["productSet"]
        .as_u64()
        .unwrap();
    assert!(
        created_then < 120,
        "the run was not interrupted: {created_then}"
    );
    // The interrupted run is journaled with what it did.
    let out = p.command(&["runs", "--format", "json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1, "{listed:#}");
    // A restart resumes: nothing done is done again.
    let out = p.command(&["run", "--once"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(normalized(&p.store("/__sandbox/snapshot")), expected);
    // Each product was written once: the items in flight at SIGTERM
    // finished and were recorded, none was sent again.
    let products = p.store("/__sandbox/stats")["by_operation"]["productSet"]
        .as_u64()
        .unwrap();
    assert_eq!(products, 120, "a product was written twice");
}

#[test]
fn a_second_signal_quits_at_once() {
    let p = Project::new(SandboxConfig {
        latency: Duration::from_millis(200),
        ..SandboxConfig::default()
    });
    p.set_catalog("catalog.json", &catalog("K", 60));
    p.write_project(&p.profile("e2e", "catalog.json", "{ every: 1h }"));
    let mut m = p.start(&[]);
    m.wait_for("products being created", Duration::from_secs(30), || {
        p.store("/__sandbox/stats")["by_operation"]["productSet"]
            .as_u64()
            .unwrap_or(0)
            >= 2
    });
    m.signal("-TERM");
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let code = m.terminate(Duration::from_secs(10));
    assert_eq!(code, 130, "{}", m.stderr());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(m.stderr().contains("second signal"), "{}", m.stderr());
}

#[test]
fn two_profiles_on_one_store_share_its_rate_limit() {
    // A bucket of 1,000 points refilled at 50 a second.
    let p = Project::new(SandboxConfig {
        bucket: Some(1000.0),
        restore_rate: Some(50.0),
        ..SandboxConfig::default()
    });
    p.set_catalog("a.json", &catalog("A", 60));
    p.set_catalog("b.json", &catalog("B", 60));
    // Each profile owns its keys; without `deactivate` neither touches the
    // other's items (the ownership marker does not name the channel).
    let mapping = p.path("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(
        &mapping,
        text.replace("sync: [add, update, deactivate]", "sync: [add, update]")
            .replace("max_deletes: 50%", "max_deletes: 50%\n  concurrency: 8"),
    )
    .unwrap();
    p.write_project(&format!(
        "{}{}",
        p.profile("a", "a.json", "{ every: 1h }"),
        p.profile("b", "b.json", "{ every: 1h }")
    ));
    let out = p.command(&["run", "--once"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = p.store("/__sandbox/stats");
    assert_eq!(stats["throttled"], 0, "{stats:#}");
    assert_eq!(stats["by_operation"]["productSet"], 120, "{stats:#}");
    // Both ran, concurrently, against the one bucket.
    let out = p.command(&["runs", "--format", "json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = listed["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{listed:#}");
    for r in runs {
        assert_eq!(r["report"]["summary"]["created"], 63, "{r:#}");
        assert_eq!(r["report"]["requests"]["throttled"], 0, "{r:#}");
    }
}

/// The status page in a real headless browser (Chromium from Debian's
/// packages; `.ci/run` installs it): the profiles and a failed item's
/// message are in the rendered DOM, and a screenshot is kept in
/// `target/test-artifacts/status-page.png`.
#[test]
fn the_status_page_renders_in_a_headless_browser() {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new("which")
                .arg(b)
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("SKIPPED the_status_page_renders_in_a_headless_browser: no chromium, chromium-browser or google-chrome on PATH (.ci/run installs Debian's chromium)");
        return;
    };
    let p = Project::new(SandboxConfig::default());
    // A product whose image the store refuses: a failed item with its SyncMsg.
    let mut cat: Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("catalog.json")).unwrap()).unwrap();
    cat["products"][0]["Images"] =
        serde_json::json!(["https://cdn.example.com/__sandbox/staged/gone/a.png"]);
    p.set_catalog("catalog.json", &cat);
    p.set_catalog("second.json", &catalog("S", 3));
    // Two profiles on one store: neither deactivates the other's items.
    let mapping = p.path("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(
        &mapping,
        text.replace("sync: [add, update, deactivate]", "sync: [add, update]"),
    )
    .unwrap();
    p.write_project(&format!(
        "{}{}",
        p.profile("shop-eu", "catalog.json", "{ every: 1h }"),
        p.profile(
            "shop-us",
            "second.json",
            "{ cron: \"0 3 * * *\", timezone: America/New_York }"
        )
    ));
    let m = p.start(&[]);
    // (Both first runs may race to create the store's metafield
    // definition; the loser fails and is retried 2 s later.)
    let partial = |name: &str| {
        m.finished_runs(name)
            .into_iter()
            .find(|r| r["report"]["outcome"] == "partial")
    };
    let ok = |name: &str| {
        m.finished_runs(name)
            .iter()
            .any(|r| r["report"]["outcome"] == "ok")
    };
    m.wait_for(
        "a run with a failed item, and one without",
        Duration::from_secs(40),
        || partial("shop-eu").is_some() && ok("shop-us"),
    );
    let run = &partial("shop-eu").unwrap();
    let message = run["report"]["failed_items"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no failed item: {run:#}"))
        .to_string();
    assert!(message.contains("Invalid image source url"), "{message}");
    let url = format!("http://127.0.0.1:{}/", p.port);
    let profile_dir = tempfile::tempdir().unwrap();
    let base = |c: &mut Command| {
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.path().display()));
    };
    let mut dump = Command::new(browser);
    base(&mut dump);
    let out = dump.args(["--dump-dom", &url]).output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !dom.is_empty(),
        "{browser}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("shop-eu") && dom.contains("shop-us"), "{dom}");
    assert!(dom.contains("cron 0 3 * * * (America/New_York)"), "{dom}");
    let escaped = mapsync_run::page::esc(&message);
    assert!(
        dom.contains(&message) || dom.contains(&escaped),
        "{message} not in {dom}"
    );
    assert!(dom.contains("<svg"), "{dom}");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let mut cap = Command::new(browser);
    base(&mut cap);
    let out = cap
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1280,900", "--hide-scrollbars", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

/// A GraphQL call to the project's store, as a merchant's app would make.
fn store_gql(p: &Project, query: &str) -> Value {
    let url = format!("{}/admin/api/2026-04/graphql.json", p.store_url());
    p.rt.block_on(async {
        reqwest::Client::new()
            .post(url)
            .header("X-Shopify-Access-Token", "e2e-token")
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

/// A run with nothing to do asks the store two questions (is a batch
/// import running? has anything changed?) and reuses the last plan; a product deleted in the store by
/// hand, or a source file edited, makes the next run plan in full again.
#[test]
fn a_run_with_nothing_to_do_reuses_the_last_plan_until_the_store_or_the_source_changes() {
    let p = Project::new(SandboxConfig::default());
    p.write_project(&p.profile("e2e", "catalog.json", "{ every: 1s }"));
    let m = p.start(&[]);
    let reused = |r: &Value| {
        r["report"]["summary"]["unchanged"] == 10 && r["report"]["requests"]["total"] == 2
    };
    m.wait_for(
        "a run that reuses its plan",
        Duration::from_secs(40),
        || m.finished_runs("e2e").iter().any(reused),
    );
    let runs = m.finished_runs("e2e");
    // Before it, a run with nothing to do that planned in full: the
    // locations, the products and the collections read besides.
    let full = runs
        .iter()
        .find(|r| r["report"]["summary"]["unchanged"] == 10)
        .unwrap();
    assert!(
        full["report"]["requests"]["total"].as_u64().unwrap() >= 4,
        "{full:#}"
    );
    // A product deleted in the store by hand: created again.
    let first = store_gql(&p, "{ products(first: 1) { nodes { id } } }");
    let id = first["data"]["products"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = store_gql(
        &p,
        &format!("mutation {{ productDelete(input: {{id: \"{id}\"}}) {{ deletedProductId }} }}"),
    );
    assert_eq!(
        deleted["data"]["productDelete"]["deletedProductId"], id,
        "{deleted:#}"
    );
    let before = m.finished_runs("e2e").len();
    m.wait_for("the product created again", Duration::from_secs(40), || {
        m.finished_runs("e2e")[before..]
            .iter()
            .any(|r| r["report"]["summary"]["created"] == 1)
    });
    // Reused again once things settle; then a source edit is seen.
    let before = m.finished_runs("e2e").len();
    m.wait_for(
        "a run that reuses its plan",
        Duration::from_secs(40),
        || m.finished_runs("e2e")[before..].iter().any(reused),
    );
    let mut catalog: Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("catalog.json")).unwrap()).unwrap();
    catalog["products"][0]["Name"] = Value::from("Renamed by the source");
    p.set_catalog("catalog.json", &catalog);
    let before = m.finished_runs("e2e").len();
    m.wait_for("the source edit synced", Duration::from_secs(40), || {
        m.finished_runs("e2e")[before..]
            .iter()
            .any(|r| r["report"]["summary"]["updated"] == 1)
    });
    assert!(p
        .store("/__sandbox/snapshot")
        .to_string()
        .contains("Renamed by the source"));
}
