//! A throwaway PostgreSQL cluster for the tests: `initdb` into a temp
//! folder, `postgres` on a free loopback port (and a socket in the
//! folder), a database per test, all stopped and removed when the test
//! process ends. As root, the server runs as `nobody` (PostgreSQL refuses
//! to run as root). No PostgreSQL found or started: `skip` says why.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Its folder (data, socket, log); removed on drop.
    pub dir: PathBuf,
    /// The loopback port.
    pub port: u16,
    server: std::sync::Mutex<Option<std::process::Child>>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The cluster of this test process, started on first use; `Err` says
/// why there is none.
pub fn cluster() -> Result<&'static Cluster, String> {
    CLUSTER
        .get_or_init(|| start(false))
        .as_ref()
        .map_err(Clone::clone)
}

/// The folder holding `initdb` and `postgres`: `MAPSYNC_PG_BIN` when set
/// (e.g. to try the skipping path: a folder without them), else PATH, else
/// the newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MAPSYNC_PG_BIN") {
        let dir = PathBuf::from(dir);
        return (dir.join("initdb").is_file() && dir.join("postgres").is_file()).then_some(dir);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    });
    on_path.or_else(|| {
        let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").is_file().then_some((v, bin))
            })
            .collect();
        dirs.sort();
        dirs.pop().map(|(_, d)| d)
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args...`, as `nobody` when we are root.
fn command(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Starts a cluster; `durable`: with PostgreSQL's default `fsync` and
/// `synchronous_commit` (benchmarks), else without (tests).
pub fn start(durable: bool) -> Result<Cluster, String> {
    let bin = bin_dir().ok_or(
        "no PostgreSQL server binaries (initdb, postgres) in MAPSYNC_PG_BIN, on PATH or under \
         /usr/lib/postgresql/*/bin; install Debian's `postgresql` package (.ci/run does)",
    )?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("mapsync-pg-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp folder: {e}"))?
        .keep();
    let mut cluster = Cluster {
        dir: dir.clone(),
        port: 0,
        server: std::sync::Mutex::new(None),
    };
    if root {
        let ok = Command::new("chown")
            .args(["nobody:nogroup"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err(format!(
                "running as root, and cannot give {} to `nobody` for PostgreSQL",
                dir.display()
            ));
        }
    }
    let data = dir.join("data");
    let initdb = |locale: &[&str]| {
        command(&bin.join("initdb"), root)
            .current_dir(&dir)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .args(locale)
            .arg("-D")
            .arg(&data)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                let how = if root {
                    " (as `nobody` through setpriv)"
                } else {
                    ""
                };
                format!("cannot run initdb{how}: {e}")
            })
    };
    // A linguistic default collation (ICU, English), as production
    // databases have: the store must not depend on it (keys compare as
    // bytes). Without ICU, the machine's locale.
    let mut out = initdb(&[
        "--locale-provider=icu",
        "--icu-locale=en-US",
        "--locale=C.UTF-8",
    ])?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&data);
        out = initdb(&[])?;
    }
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let port = free_port()?;
    cluster.port = port;
    let log = std::fs::File::create(dir.join("postgres.log"))
        .map_err(|e| format!("cannot create the server log: {e}"))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot create the server log: {e}"))?;
    let child = command(&bin.join("postgres"), root)
        .current_dir(&dir)
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&dir)
        .args(["-p", &port.to_string()])
        // Loopback only.
        .args(["-c", "listen_addresses=127.0.0.1"])
        // A throwaway cluster for tests needs no durability.
        .args(if durable {
            &[][..]
        } else {
            &[
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ][..]
        })
        .args(["-c", "max_connections=200"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    watchdog(&dir, child.id());
    cluster.server = std::sync::Mutex::new(Some(child));
    // Ready when postmaster.pid says so (its 8th line).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        if status.lines().nth(7).map(str::trim) == Some("ready") {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
            return Err(format!(
                "postgres did not become ready in 30 s: {}",
                log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(cluster)
}

/// Stops the server and removes its folder once this test process is
/// gone (statics are never dropped): a small shell loop.
fn watchdog(dir: &Path, server: u32) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         kill -INT {server} 2>/dev/null; \
         for i in $(seq 1 100); do kill -0 {server} 2>/dev/null || break; sleep 0.1; done; \
         rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

impl Cluster {
    /// The URL of database `db` as the superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database, named after `test`.
    pub async fn create_db(&self, test: &str) -> Result<String, String> {
        use sqlx::Connection;
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let name: String = format!("t{n}_{test}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .map_err(|e| format!("cannot connect to the test cluster: {e}"))?;
        // `name` is ASCII letters, digits and `_` only (made just above).
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("cannot create database {name}: {e}"))?;
        let _ = conn.close().await;
        Ok(self.url(&name))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let server = self.server.get_mut().map(Option::take).unwrap_or(None);
        if let Some(mut child) = server {
            // SIGINT: PostgreSQL's fast shutdown.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The URL of a new, empty database of this process's cluster (started
/// on first use), for a test that is not async; `None` after printing
/// `SKIPPED <test>: <reason>` when there is no PostgreSQL to start.
/// Panics when the cluster runs but the database cannot be made.
pub fn database_blocking(test: &str) -> Option<String> {
    let cluster = match cluster() {
        Ok(c) => c,
        Err(reason) => {
            println!("SKIPPED {test}: {reason}");
            return None;
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match rt.block_on(cluster.create_db(test)) {
        Ok(url) => Some(url),
        Err(e) => panic!("{e}"),
    }
}
