//! Bench binary: `mapsync run` at rest. 20 profiles on 10-second schedules
//! with nothing to change (each its own small catalog, all into one
//! emulated store served by `mapsync sandbox serve`, each its own process
//! of the bench's `mapsync` binary). After every profile's first run, the
//! manager's CPU time (utime + stime of `/proc/PID/stat`, every thread) and
//! memory (VmRSS now, VmHWM peak) are measured over a duration (default 60
//! s; `cargo bench --bench run_idle -- 600` for ten minutes). Then, a few
//! times, the time from a change to a source file to the store showing it.
//! Aim (issue 13): under 1% of a core and under 50 MB. `RUN_IDLE_BIN=PATH`
//! measures another `mapsync` binary (e.g. a copy of an earlier build).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Profiles (`RUN_IDLE_PROFILES` to change).
fn profiles() -> usize {
    std::env::var("RUN_IDLE_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// CPU seconds (user + system) of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat: 12 and 13 after `)`.
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    (ticks(11) + ticks(12)) / hz
}

/// A `/proc/PID/status` field in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The demo catalog with every key and name prefixed by `p`.
fn catalog(p: &str) -> Value {
    let text = std::fs::read_to_string("examples/catalog.json").expect("examples/catalog.json");
    let mut v: Value = serde_json::from_str(&text).expect("json");
    for c in v["categories"].as_array_mut().into_iter().flatten() {
        c["CategoryId"] = format!("{p}-{}", c["CategoryId"].as_str().unwrap_or("")).into();
        c["Name"] = format!("{p} {}", c["Name"].as_str().unwrap_or("")).into();
    }
    for pr in v["products"].as_array_mut().into_iter().flatten() {
        pr["ItemNo"] = format!("{p}-{}", pr["ItemNo"].as_str().unwrap_or("")).into();
        pr["Name"] = format!("{p} {}", pr["Name"].as_str().unwrap_or("")).into();
        if let Some(cs) = pr["Categories"].as_array_mut() {
            for c in cs {
                *c = format!("{p}-{}", c.as_str().unwrap_or("")).into();
            }
        }
        for va in pr["Variants"].as_array_mut().into_iter().flatten() {
            va["Sku"] = format!("{p}-{}", va["Sku"].as_str().unwrap_or("")).into();
        }
    }
    v
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    if !Path::new("examples/catalog.json").exists() {
        eprintln!("run from the project root (cargo bench --bench run_idle)");
        std::process::exit(2);
    }
    // `RUN_IDLE_BIN`: another build of `mapsync` (to compare two builds
    // in the same quiet moment of the machine).
    let bin_env = std::env::var("RUN_IDLE_BIN").ok();
    let bin = bin_env.as_deref().unwrap_or(env!("CARGO_BIN_EXE_mapsync"));
    let mut store = Command::new(bin)
        .args([
            "sandbox",
            "serve",
            "--plan",
            "unlimited",
            "--addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the sandbox");
    let mut line = String::new();
    BufReader::new(store.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let _store_guard = Proc(store);
    let store_url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    let store_port: u16 = store_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = |from: &str, to: &Path| {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read_dir").flatten() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    };
    copy("mappings/demo", &dir.path().join("mapping"));
    // Twenty profiles in one store: none deactivates the others' items
    // (the ownership marker does not name the channel; docs/run.md).
    let mapping = dir.path().join("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&mapping).expect("mapping");
    std::fs::write(
        &mapping,
        text.replace("sync: [add, update, deactivate]", "sync: [add, update]"),
    )
    .expect("write");
    let port = free_port();
    let mut project =
        format!("mapsync: 1\nrun:\n  listen: 127.0.0.1:{port}\n  config_check: 10m\nprofiles:\n");
    let n_profiles = profiles();
    for i in 0..n_profiles {
        let name = format!("p{i:02}");
        std::fs::write(
            dir.path().join(format!("{name}.json")),
            serde_json::to_string_pretty(&catalog(&name)).expect("json"),
        )
        .expect("write");
        project.push_str(&format!(
            "  {name}:\n    mapping: mapping\n    source: {{ type: file, path: {name}.json }}\n    target: {{ type: shopify, url: \"{store_url}\", token: \"${{BENCH_TOKEN}}\" }}\n    state: sqlite:.mapsync/state.db\n    schedule: {{ every: 10s }}\n"
        ));
    }
    std::fs::write(dir.path().join("mapsync.yaml"), project).expect("write");
    let manager = Command::new(bin)
        .arg("--project")
        .arg(dir.path())
        .arg("run")
        .env("BENCH_TOKEN", "bench")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mapsync run");
    let pid = manager.id();
    let _manager_guard = Proc(manager);
    // Every profile's first run (the creates), then one run with nothing to do.
    let start = Instant::now();
    loop {
        let runs_ok = http_get(port, "/api/status")
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .map(|s| {
                s["profiles"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| {
                                p["last_run"]["report"]["outcome"] == "ok"
                                    && p["last_run"]["report"]["items"] == 0
                            })
                            .count()
                    })
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        if runs_ok == n_profiles {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the profiles did not settle"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "mapsync run, {n_profiles} profiles every 10 s, nothing to change (settled after {:.1} s); measuring {seconds} s (manager pid {pid})",
        start.elapsed().as_secs_f64()
    );
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    let mut peak_rss = 0;
    while t0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(500));
        peak_rss = peak_rss.max(status_kb(pid, "VmRSS:"));
    }
    let cpu = cpu_seconds(pid) - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "  CPU: {cpu:.2} s over {wall:.0} s = {:.2}% of one core",
        100.0 * cpu / wall
    );
    println!(
        "  memory: RSS {:.1} MB now, {:.1} MB the highest sampled, VmHWM {:.1} MB (peak since start, incl. the first runs)",
        status_kb(pid, "VmRSS:") as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        status_kb(pid, "VmHWM:") as f64 / 1024.0
    );
    // From a source change to the store showing it.
    let mut latencies = Vec::new();
    for (n, price) in ["901.11", "902.22", "903.33"].iter().enumerate() {
        let file = dir.path().join("p00.json");
        let mut cat = catalog("p00");
        cat["products"][0]["Variants"][0]["Price"] = (*price).into();
        // A different moment of the 10 s cycle each time.
        std::thread::sleep(Duration::from_millis(1700 * (n as u64 + 1)));
        std::fs::write(&file, serde_json::to_string_pretty(&cat).expect("json")).expect("write");
        let t = Instant::now();
        loop {
            let shows =
                http_get(store_port, "/__sandbox/snapshot").is_some_and(|s| s.contains(price));
            if shows {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the change never reached the store"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        latencies.push(t.elapsed().as_secs_f64());
    }
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    println!(
        "  source change to store: {} s (mean {mean:.1} s; the next scheduled run picks it up: at most the 10 s interval plus one run)",
        latencies.iter().map(|l| format!("{l:.1}")).collect::<Vec<_>>().join(", ")
    );
}
