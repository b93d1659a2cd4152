//! The harness the end-to-end tests share: the emulated Shopify store and
//! a project on a copy of the demo mapping in a temporary directory, the
//! real `mapsync` binary run in it, the store read through its control
//! endpoints (`/__sandbox/stats`, `/__sandbox/snapshot`) and called by hand
//! through its GraphQL API, and the kill (SIGKILL) of a running binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

use crate::project::copy_dir;
use crate::store_view::{delta, marker, normalized, values};

/// Root fields that change the store.
pub(crate) const WRITES: &[&str] = &[
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
    "metafieldDefinitionCreate",
    "metafieldDefinitionUpdate",
    "inventorySetQuantities",
    "publishablePublish",
    "publishableUnpublish",
];

/// The demo mapping's settings.
pub(crate) const DEMO_SETTINGS: &str = "  sync: [add, update, deactivate]\n  max_deletes: 50%\n";

/// The state store of a project unless a test says otherwise.
pub(crate) const SQLITE: &str = "sqlite:.mapsync/state.db";

/// The runtime of a test's servers.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A demo mapping's text with its settings replaced by `settings`.
pub(crate) fn with_settings(settings: &str) -> impl FnOnce(String) -> String + '_ {
    move |text| {
        text.replace(
            &format!("settings:\n{DEMO_SETTINGS}"),
            &format!("settings:\n{settings}"),
        )
    }
}

/// A demo mapping's text with `writeback:` (the store id, date and
/// message fields of the PIM's records) on both its entities.
pub(crate) fn with_writeback(text: String) -> String {
    let writeback = "    writeback:\n      sync_id: ShopifyId\n      sync_date: ShopifySyncDate\n      sync_msg: ShopifySyncMsg\n";
    let text = text
        .replace(
            "    published: Active\n",
            &format!("    published: Active\n{writeback}"),
        )
        .replace(
            "    published: Published\n",
            &format!("    published: Published\n{writeback}"),
        );
    assert_eq!(text.matches("writeback:").count(), 2, "{text}");
    text
}

/// The calls of `calls` to root fields that change the store.
pub(crate) fn writes_in(calls: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    calls
        .iter()
        .filter(|(k, _)| WRITES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// A copy of the mapping folder `mapping` (its `mapping.yaml` passed
/// through `edit`) and of `examples/catalog.json` in a temporary directory.
pub(crate) fn demo_dir(mapping: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(mapping), &dir.path().join("mapping"));
    let path = dir.path().join("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
    std::fs::copy("examples/catalog.json", dir.path().join("catalog.json")).unwrap();
    dir
}

/// `mapsync.yaml` in `dir`: the profile `e2e` syncs `mapping` from
/// `catalog.json` into `target` (a YAML value) with the state store
/// `state`.
pub(crate) fn write_profile(dir: &Path, target: &str, state: &str) {
    let project = format!(
        "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {target}\n    state: {state}\n"
    );
    std::fs::write(dir.join("mapsync.yaml"), project).unwrap();
}

/// The binary on the project `dir` with `args`, without colours or a
/// `RUST_LOG` of the test's; not run yet.
pub(crate) fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mapsync"));
    c.arg("--project")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    c
}

/// Exit code, stdout and stderr of `command`, run to its end.
pub(crate) fn output(command: &mut Command) -> (i32, String, String) {
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `command` (a `sync --format json`) run to its end: exit code and the
/// run report.
pub(crate) fn report_of(command: &mut Command) -> (i32, Value) {
    let (code, stdout, stderr) = output(command);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no report ({e}); exit {code}; stderr: {stderr}"));
    (code, report)
}

/// `command` started with its output thrown away.
pub(crate) fn spawn_quiet(command: &mut Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// SIGKILL: no cleanup, no flush.
pub(crate) fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A GraphQL request sent by hand, with the token the tests' projects
/// use, to the Shopify endpoint `url`: its answer.
pub(crate) fn graphql_post(rt: &tokio::runtime::Runtime, url: &str, body: &Value) -> Value {
    rt.block_on(async {
        reqwest::Client::new()
            .post(url)
            .header("X-Shopify-Access-Token", "e2e-token")
            .json(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

/// A catalog of `n` products with 3 variants each, in 3 categories.
pub(crate) fn big_catalog(n: usize) -> Value {
    generated_catalog(n, "K", None)
}

/// A catalog of `n` products (`{prefix}-0`…) with 3 variants each in 3
/// categories; a `version` changes prices and descriptions (names, which
/// make the create-only handles, stay), so that each version has
/// something to write.
pub(crate) fn generated_catalog(n: usize, prefix: &str, version: Option<u32>) -> Value {
    let bump = version.unwrap_or(0) as usize;
    let description = match version {
        Some(v) => format!("Generated v{v}"),
        None => "Generated".to_string(),
    };
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let variants: Vec<Value> = ["S", "M", "L"]
                .iter()
                .enumerate()
                .map(|(j, size)| {
                    json!({"Sku": format!("{prefix}-{i}-{size}"), "Color": "Blue", "Size": size,
                        "Price": format!("{}.00", 10 + i % 50 + bump), "Position": j + 1, "Stock": (i + j) % 9})
                })
                .collect();
            json!({"ItemNo": format!("{prefix}-{i}"), "Name": format!("Item {i}"),
                "Description": description, "Material": "Wool", "Group": "Knit",
                "Tags": "knit", "Published": true,
                "Categories": [format!("C-{}", i % 3)], "Variants": variants})
        })
        .collect();
    let categories: Vec<Value> = (0..3)
        .map(|c| json!({"CategoryId": format!("C-{c}"), "Name": format!("Category {c}"), "Active": true}))
        .collect();
    json!({"categories": categories, "products": products})
}

/// A port free on loopback now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sandbox and a project whose profile `e2e` syncs the demo mapping
/// from `catalog.json` into it.
pub(crate) struct Env {
    pub(crate) rt: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    pub(crate) dir: tempfile::TempDir,
    /// The profile's state store.
    pub(crate) state: String,
    /// Variables removed from the binary's environment.
    pub(crate) unset: &'static [&'static str],
}

impl Env {
    /// A sandbox with `config` and the demo project with `settings` as the
    /// mapping's settings.
    pub(crate) fn new(config: SandboxConfig, settings: &str) -> Env {
        Env::with_target(config, settings, "")
    }

    /// As [`Env::new`], with `target` (e.g. `, bulk_import_threshold: 50`)
    /// added to the profile's target options.
    pub(crate) fn with_target(config: SandboxConfig, settings: &str, target: &str) -> Env {
        Env::build(config, with_settings(settings), target, SQLITE)
    }

    /// The demo project as it is, against a default sandbox.
    pub(crate) fn demo() -> Env {
        Env::new(SandboxConfig::default(), DEMO_SETTINGS)
    }

    /// A sandbox with `config` and the demo project: its `mapping.yaml`
    /// passed through `edit`, `target` added to the profile's target
    /// options, the state store `state`.
    pub(crate) fn build(
        config: SandboxConfig,
        edit: impl FnOnce(String) -> String,
        target: &str,
        state: &str,
    ) -> Env {
        let rt = runtime();
        let sandbox = rt.block_on(sandbox::start(config)).unwrap();
        let dir = demo_dir("mappings/demo", edit);
        let target = format!(
            "{{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\"{target} }}",
            sandbox.url()
        );
        write_profile(dir.path(), &target, state);
        Env {
            rt,
            sandbox: Some(sandbox),
            dir,
            state: state.to_owned(),
            unset: &[],
        }
    }

    pub(crate) fn sandbox(&self) -> &SandboxHandle {
        self.sandbox.as_ref().unwrap()
    }

    pub(crate) fn url(&self) -> String {
        self.sandbox().url()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary in the project, not run yet.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = command_in(self.dir.path(), args);
        c.env("E2E_TOKEN", "e2e-token");
        for k in self.unset {
            c.env_remove(k);
        }
        c
    }

    /// Runs mapsync; exit code, stdout, stderr.
    pub(crate) fn run(&self, args: &[&str]) -> (i32, String, String) {
        output(&mut self.command(args))
    }

    /// `sync --format json` and `extra`: exit code and the run report.
    pub(crate) fn sync(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["sync", "--profile", "e2e", "--format", "json"];
        args.extend_from_slice(extra);
        report_of(&mut self.command(&args))
    }

    /// A `sync --format json` started with its output thrown away.
    pub(crate) fn spawn_sync(&self) -> Child {
        spawn_quiet(&mut self.command(&["sync", "--profile", "e2e", "--format", "json"]))
    }

    /// `plan` (human), with `extra` arguments; exit 0.
    pub(crate) fn plan_text(&self, extra: &[&str]) -> String {
        let mut args = vec!["plan", "--profile", "e2e"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(&args);
        assert_eq!(code, 0, "{stderr}");
        stdout
    }

    /// `plan --format json`, with `extra` arguments; exit 0.
    pub(crate) fn plan_json(&self, extra: &[&str]) -> Value {
        let mut args = vec!["plan", "--profile", "e2e", "--format", "json"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(&args);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    }

    /// `plan --out plan.json` (exit 0): the saved plan's path.
    pub(crate) fn save_plan(&self) -> String {
        let file = self.path("plan.json").to_str().unwrap().to_owned();
        let (code, _, stderr) = self.run(&["plan", "--profile", "e2e", "--out", &file]);
        assert_eq!(code, 0, "{stderr}");
        file
    }

    /// `apply FILE --format json` (exit 0): the run report.
    pub(crate) fn apply(&self, file: &str) -> Value {
        let (code, stdout, stderr) = self.run(&["apply", file, "--format", "json"]);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    }

    /// A GET of the sandbox, as JSON.
    pub(crate) fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// Calls per root field since the sandbox started.
    pub(crate) fn calls(&self) -> BTreeMap<String, u64> {
        self.get("/__sandbox/stats")["by_operation"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }

    /// Write calls per root field since the sandbox started.
    pub(crate) fn writes(&self) -> BTreeMap<String, u64> {
        writes_in(&self.calls())
    }

    /// The store as a user sees it ([`normalized`]).
    pub(crate) fn snapshot(&self) -> Value {
        normalized(&self.get("/__sandbox/snapshot"))
    }

    /// A GraphQL request sent to the store by hand ([`graphql_post`]):
    /// its answer.
    pub(crate) fn graphql_body(&self, body: &Value) -> Value {
        graphql_post(&self.rt, &self.sandbox().graphql_url(), body)
    }

    /// [`Env::graphql_body`] of `query` and its `variables`.
    pub(crate) fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_body(&json!({ "query": query, "variables": variables }))
    }

    /// Edits the title of the product with the marker `key` in the store
    /// by hand, through its API.
    pub(crate) fn edit_title(&self, key: &str, title: &str) {
        let snapshot = self.get("/__sandbox/snapshot");
        let id = values(&snapshot["products"])
            .into_iter()
            .find(|p| marker(p).as_deref() == Some(key))
            .and_then(|p| p["id"].as_u64())
            .unwrap();
        let edited = self.graphql(
            "mutation($input: ProductUpdateInput!) { productUpdate(product: $input) { product { title } userErrors { message } } }",
            json!({"input": {"id": format!("gid://shopify/Product/{id}"), "title": title}}),
        );
        assert_eq!(
            edited["data"]["productUpdate"]["product"]["title"], title,
            "{edited}"
        );
    }

    pub(crate) fn catalog(&self) -> Value {
        let text = std::fs::read_to_string(self.path("catalog.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub(crate) fn set_catalog(&self, v: &Value) {
        std::fs::write(
            self.path("catalog.json"),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }

    /// Changes the catalog with `f`.
    pub(crate) fn edit_catalog(&self, f: impl FnOnce(&mut Value)) {
        let mut catalog = self.catalog();
        f(&mut catalog);
        self.set_catalog(&catalog);
    }

    /// A second sync of the demo catalog: exit 0, nothing written.
    pub(crate) fn assert_demo_resync_writes_nothing(&self) {
        let before = self.writes();
        let (code, report) = self.sync(&[]);
        assert_eq!(code, 0, "{report:#}");
        // The unpublished product is skipped (update_unpublished: false).
        assert_eq!(report["summary"]["unchanged"], 10, "{report:#}");
        assert_eq!(report["summary"]["skipped"], 1, "{report:#}");
        assert!(
            delta(&before, &self.writes()).is_empty(),
            "the second run wrote"
        );
    }

    /// The bulk mutation operations of the store, newest first (status,
    /// line count), through its GraphQL API.
    pub(crate) fn bulk_mutations(&self) -> Vec<Value> {
        let query = "{ bulkOperations(first: 10, query: \"operation_type:mutation\") { nodes { id status objectCount } } }";
        let answer = self.graphql_body(&json!({ "query": query }));
        answer["data"]["bulkOperations"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no bulk operations: {answer:#}"))
    }

    /// Waits (60 s at most) until the store's newest bulk import runs and
    /// has applied more than 10 lines.
    pub(crate) fn wait_for_running_bulk_import(&self) {
        let started = Instant::now();
        loop {
            let ops = self.bulk_mutations();
            let running = ops.first().is_some_and(|op| {
                op["status"] == "RUNNING"
                    && op["objectCount"]
                        .as_str()
                        .and_then(|n| n.parse::<u64>().ok())
                        > Some(10)
            });
            if running {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the bulk import never ran: {ops:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

/// A running `mapsync run` (a manager, or a pool's worker), killed when
/// dropped: its child process, the port of its HTTP endpoints and the
/// file its stderr goes to.
pub(crate) struct RunProcess {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) stderr: PathBuf,
}

impl Drop for RunProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunProcess {
    /// Sends signal `sig` (`-TERM`, `-HUP`...) to the process.
    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// The exit code once the process ends (within `timeout`; -1 for a
    /// signal); `what` names it in the failure.
    pub(crate) fn wait_exit(&mut self, timeout: Duration, what: &str) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < timeout, "{what} did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit code (within `timeout`).
    pub(crate) fn terminate(&mut self, timeout: Duration) -> i32 {
        self.signal("-TERM");
        self.wait_exit(timeout, "the process, after SIGTERM,")
    }

    /// GET on the process's endpoints: status code and body.
    pub(crate) fn get(&self, path: &str) -> Option<(u16, String)> {
        mapsync_run::http_get(
            std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            path,
            Duration::from_secs(5),
        )
        .ok()
    }

    /// What the process wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}
