//! The `rest` source end to end (issue 12): the real binary reads an
//! emulated PIM (`mapsync_sandbox::pim`, in process, over HTTP on
//! loopback), syncs into an emulated Shopify store (also in process) and
//! writes SyncID / SyncDate / SyncMsg back to the PIM. Checked through the
//! two sandboxes: the PIM's counters, write-back log and records; the
//! store's write counters and snapshot.
//!
//! The project is a copy of the demo mapping with `writeback:` on both
//! entities, and one profile per paging style (`page`, `offset`, `cursor`,
//! `link`, `next_url`) on one channel and state store, a `bearer` profile
//! (cursor paging, bearer auth) and a `file` profile (`catalog.json`).

use crate::project::copy_dir;
use crate::store_view::{delta, marker, normalized, values};
use crate::support::{with_settings, with_writeback};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mapsync::sandbox::pim::{self, PimConfig, PimHandle};
use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

/// The paging styles of the `rest` source; each is a profile.
const STYLES: [&str; 5] = ["page", "offset", "cursor", "link", "next_url"];

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
    "metafieldDefinitionCreate",
    "metafieldDefinitionUpdate",
    "inventorySetQuantities",
    "inventoryActivate",
    "publishablePublish",
    "publishableUnpublish",
    "stagedUploadsCreate",
    "bulkOperationRunMutation",
];

/// An image URL the store refuses (a staged upload that does not exist):
/// the product's write fails with the store's message.
const REFUSED_IMAGE: &str = "https://cdn.example.com/__sandbox/staged/gone/a.png";
const REFUSED_MESSAGE: &str = "Invalid image source url value provided.";

/// A time before every run: seeded records are older than any incremental
/// read's instant.
const SEEDED_AT: &str = "2020-01-15T09:00:00Z";

/// How a test's project is set up.
struct Setup {
    /// The PIM's catalog.
    catalog: Value,
    /// The PIM (its `catalog` is set from the field above).
    pim: PimConfig,
    /// The store.
    store: SandboxConfig,
    /// The mapping's `settings:` lines.
    settings: &'static str,
    /// Lines added to every `rest` source (six spaces in).
    source: &'static str,
    /// Products written back in batches of 100 (else one request each).
    batch: bool,
    /// The environment of every run.
    env: Vec<(&'static str, String)>,
}

impl Setup {
    fn new(catalog: Value) -> Setup {
        Setup {
            catalog,
            pim: PimConfig::default(),
            // The store's cost bucket refills fast: a run right after
            // another does not wait for the points the first one spent
            // (these tests are about the PIM side; sync_cli covers the
            // store's throttling).
            store: SandboxConfig {
                restore_rate: Some(5000.0),
                ..SandboxConfig::default()
            },
            settings: "  sync: [add, update, deactivate]\n  max_deletes: 50%\n",
            source: "      timeout: 5s\n      retries: 3\n      backoff: 10ms\n",
            batch: false,
            env: vec![
                ("PIM_SECRET", "secret".to_string()),
                ("PIM_TOKEN", "unused".to_string()),
            ],
        }
    }
}

struct Env {
    rt: tokio::runtime::Runtime,
    pim: Option<PimHandle>,
    store: Option<SandboxHandle>,
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    /// The PIM's static token (its control endpoints need one then).
    pim_token: Option<String>,
}

/// The mapping: the demo's, with `writeback:` on both entities.
fn write_mapping(dir: &Path, settings: &str) {
    copy_dir(Path::new("mappings/demo"), &dir.join("mapping"));
    let path = dir.join("mapping/mapping.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, with_writeback(with_settings(settings)(text))).unwrap();
}

/// The project: a profile per paging style, `bearer` and `file`.
fn project(pim: &str, store: &str, setup: &Setup) -> String {
    let oauth = r#"{ oauth2: { token_url: /oauth/token, client_id: mapsync, client_secret: "${PIM_SECRET}" } }"#;
    let bearer = r#"{ bearer: "${PIM_TOKEN}" }"#;
    // The PIM pages by at most 100; `page` and `offset` send the size
    // themselves, the others take it from the query.
    let paging = |style: &str| match style {
        "page" => ("", "{ style: page, page: page, size: per_page, max: 100 }"),
        "offset" => (
            "",
            "{ style: offset, offset: offset, limit: limit, max: 100 }",
        ),
        "cursor" => (
            ", per_page: 100",
            "{ style: cursor, cursor: meta.next_cursor, param: cursor }",
        ),
        "link" => (", per_page: 100", "{ style: link }"),
        "next_url" => (", per_page: 100", "{ style: next_url, next: links.next }"),
        _ => unreachable!(),
    };
    let product_writeback = if setup.batch {
        // The PIM's batch form: `[{key, fields}]`, with only the values the
        // run has (no SyncID after a failed create, no SyncDate for a
        // failure), as the single request's default body.
        r#"{ path: "/products/{{ key }}", batch: { size: 100, path: /products, results: results, item: '{"key": {{ key }}, "fields": {"ShopifySyncMsg": {{ sync_msg }}{% if sync_id %}, "ShopifyId": {{ sync_id }}{% endif %}{% if sync_date %}, "ShopifySyncDate": {{ sync_date }}{% endif %}}}' } }"#
    } else {
        r#"{ path: "/products/{{ key }}" }"#
    };
    let profile = |name: &str, style: &str, auth: &str| {
        let (query, paging) = paging(style);
        format!(
            r#"  {name}:
    mapping: mapping
    channel: pim
    state: sqlite:.mapsync/state.db
    source:
      type: rest
      base_url: "{pim}"
      auth: {auth}
{source}      entities:
        category:
          list: {{ path: /categories, records: data }}
          paging: {{ style: page, page: page, size: per_page, max: 100 }}
        product:
          list: {{ path: /products, records: data, query: {{ include: images{query} }} }}
          paging: {paging}
          since: {{ param: updated_since, field: LastUpdated }}
      writeback:
        category: {{ path: "/categories/{{{{ key }}}}" }}
        product: {product_writeback}
    target: {{ type: shopify, url: "{store}", token: "${{E2E_TOKEN}}" }}
"#,
            source = setup.source,
        )
    };
    let mut text = String::from("mapsync: 1\nprofiles:\n");
    for style in STYLES {
        text.push_str(&profile(style, style, oauth));
    }
    text.push_str(&profile("bearer", "cursor", bearer));
    text.push_str(&format!(
        "  file:\n    mapping: mapping\n    channel: file\n    state: sqlite:.mapsync/file.db\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{store}\", token: \"${{E2E_TOKEN}}\" }}\n"
    ));
    text
}

impl Env {
    fn new(setup: Setup) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let pim_token = setup.pim.token.clone();
        let pim = rt
            .block_on(pim::start(PimConfig {
                catalog: Some(setup.catalog.clone()),
                ..setup.pim.clone()
            }))
            .unwrap();
        let store = rt.block_on(sandbox::start(setup.store.clone())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_mapping(dir.path(), setup.settings);
        std::fs::write(
            dir.path().join("mapsync.yaml"),
            project(&pim.url(), &store.url(), &setup),
        )
        .unwrap();
        Env {
            rt,
            pim: Some(pim),
            store: Some(store),
            dir,
            env: setup.env,
            pim_token,
        }
    }

    fn pim(&self) -> &PimHandle {
        self.pim.as_ref().unwrap()
    }

    fn store_url(&self) -> String {
        self.store.as_ref().unwrap().url()
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
        for (k, v) in &self.env {
            c.env(k, v);
        }
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

    /// `sync --profile P --format json`: exit code and the run report.
    fn sync(&self, profile: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["sync", "--profile", profile, "--format", "json"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(&args);
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("no report ({e}); exit {code}; stderr: {stderr}"));
        (code, report)
    }

    /// `plan --profile P --format json`: the plan.
    fn plan(&self, profile: &str, extra: &[&str]) -> Value {
        let mut args = vec!["plan", "--profile", profile, "--format", "json"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(&args);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("no plan ({e}); stderr: {stderr}"))
    }

    fn http(&self, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
        let token = self.pim_token.clone();
        self.rt.block_on(async move {
            let mut r = reqwest::Client::new().request(method, url);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            if let Some(b) = body {
                r = r.json(&b);
            }
            let r = r.send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{status}: {v}");
            v
        })
    }

    /// The store's snapshot.
    fn store_snapshot(&self) -> Value {
        let url = format!("{}/__sandbox/snapshot", self.store_url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// Write calls per root field since the store started.
    fn writes(&self) -> BTreeMap<String, u64> {
        let url = format!("{}/__sandbox/stats", self.store_url());
        let stats: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        let mut out: BTreeMap<String, u64> = stats["by_operation"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| WRITES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        if let Some(n) = stats["bulk_lines"].as_u64().filter(|n| *n > 0) {
            out.insert("bulk_lines".into(), n);
        }
        out
    }

    /// A PIM user edits a product (its `LastUpdated` moves to now).
    fn edit_product(&self, key: &str, fields: Value) {
        let url = format!("{}/__sandbox/products/{key}", self.pim().url());
        self.http(reqwest::Method::POST, url, Some(fields));
    }

    /// Queues scripted faults of the PIM.
    fn pim_faults(&self, faults: Value) {
        let url = format!("{}/__sandbox/faults", self.pim().url());
        let v = self.http(reqwest::Method::POST, url, Some(faults));
        assert!(v["scripted"].as_u64().unwrap() > 0, "{v}");
    }

    /// Scripted faults not taken yet.
    fn pim_faults_pending(&self) -> u64 {
        let url = format!("{}/__sandbox/faults", self.pim().url());
        self.http(reqwest::Method::DELETE, url, None)["cleared"]
            .as_u64()
            .unwrap()
    }

    /// Pages of products the PIM served (`GET /products` answered 200).
    fn product_pages(&self) -> u64 {
        self.pim().stats().count("GET /products", "200")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
        if let Some(p) = self.pim.take() {
            let _ = self.rt.block_on(p.shutdown());
        }
    }
}

/// The store's ids by entity and key (`gid://shopify/...`), from its
/// snapshot's ownership markers.
fn store_ids(snapshot: &Value) -> BTreeMap<(&'static str, String), String> {
    let mut ids = BTreeMap::new();
    for (entity, list, kind) in [
        ("category", "collections", "Collection"),
        ("product", "products", "Product"),
    ] {
        for item in values(&snapshot[list]) {
            if let Some(key) = marker(item) {
                let id = format!("gid://shopify/{kind}/{}", item["id"]);
                assert!(
                    ids.insert((entity, key.clone()), id).is_none(),
                    "two {list} carry the key {key}"
                );
            }
        }
    }
    ids
}

/// Every PIM record has its write-back right: SyncID = the id of the
/// store's item with its key, a SyncDate and an empty SyncMsg — except the
/// keys of `failed`, whose SyncMsg holds the given text and whose SyncID
/// and SyncDate are as the seed left them (never synced). Returns the
/// number of records checked.
fn assert_written_back(env: &Env, failed: &BTreeMap<&str, &str>) -> usize {
    let ids = store_ids(&env.store_snapshot());
    let pim = env.pim().snapshot();
    let mut checked = 0;
    for (entity, list, key_field) in [
        ("category", "categories", "CategoryId"),
        ("product", "products", "ItemNo"),
    ] {
        for r in values(&pim[list]) {
            let key = r[key_field].as_str().unwrap().to_string();
            checked += 1;
            if let Some(text) = failed.get(key.as_str()) {
                let msg = r["ShopifySyncMsg"].as_str().unwrap_or_default();
                assert!(msg.contains(text), "{entity} {key}: SyncMsg {msg:?}");
                assert!(
                    !ids.contains_key(&(entity, key.clone())),
                    "{entity} {key} is in the store"
                );
                assert_eq!(r["ShopifyId"], "", "{entity} {key}: {r}");
                assert_eq!(r["ShopifySyncDate"], "", "{entity} {key}: {r}");
                continue;
            }
            let id = ids
                .get(&(entity, key.clone()))
                .unwrap_or_else(|| panic!("{entity} {key} is not in the store"));
            assert_eq!(r["ShopifyId"], id.as_str(), "{entity} {key}: {r}");
            let date = r["ShopifySyncDate"].as_str().unwrap_or_default();
            assert!(
                time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{entity} {key}: SyncDate {date:?}"
            );
            assert_eq!(r["ShopifySyncMsg"], "", "{entity} {key}: {r}");
        }
    }
    checked
}

/// `n` products with 3 variants each in 3 categories (as
/// `sync_cli::big_catalog`), with the PIM's write-back fields empty and a
/// `LastUpdated` before every run; every 100th product has two images, listed
/// out of their positions' order.
fn big_catalog(n: usize) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let variants: Vec<Value> = ["S", "M", "L"]
                .iter()
                .enumerate()
                .map(|(j, size)| {
                    json!({"Sku": format!("K-{i}-{size}"), "Color": "Blue", "Size": size,
                        "Price": format!("{}.00", 10 + i % 50), "Position": j + 1, "Stock": (i + j) % 9})
                })
                .collect();
            let mut p = json!({"ItemNo": format!("K-{i}"), "Name": format!("Item {i}"),
                "Description": "Generated", "Material": "Wool", "Group": "Knit",
                "Tags": "knit", "Published": true,
                "Categories": [format!("C-{}", i % 3)], "Variants": variants,
                "ShopifyId": "", "ShopifySyncDate": "", "ShopifySyncMsg": "",
                "LastUpdated": SEEDED_AT});
            if i % 100 == 0 {
                p["Images"] = json!([
                    {"url": format!("https://cdn.example.com/K-{i}/b.jpg"), "position": 2},
                    {"url": format!("https://cdn.example.com/K-{i}/a.jpg"), "position": 1},
                ]);
            }
            p
        })
        .collect();
    let categories: Vec<Value> = (0..3)
        .map(|c| {
            json!({"CategoryId": format!("C-{c}"), "Name": format!("Category {c}"), "Active": true,
                "ShopifyId": "", "ShopifySyncDate": "", "ShopifySyncMsg": "", "LastUpdated": SEEDED_AT})
        })
        .collect();
    json!({"categories": categories, "products": products})
}

fn product_changes<'a>(plan: &'a Value, action: &str) -> Vec<&'a Value> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "product" && c["action"] == action)
        .collect()
}

fn product_read(plan: &Value) -> &Value {
    plan["reads"]
        .as_array()
        .unwrap_or_else(|| panic!("no reads in the plan: {}", plan["summary"]))
        .iter()
        .find(|r| r["entity"] == "product")
        .unwrap()
}

fn items<'a>(report: &'a Value, status: &str) -> Vec<&'a Value> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == status)
        .collect()
}

/// 5,000 products: every paging style reads them all (a plan of 5,000
/// creates each, in the pages the PIM serves); one sync creates them (one
/// bulk import) and writes every item back in batches, the product the
/// store refuses with its message; the next run reads incrementally: only
/// the 3 products edited in the PIM are read, written and written back;
/// `--full` reads everything again and writes only the refused product.
#[test]
fn five_thousand_products_in_every_paging_style_synced_written_back_then_read_incrementally() {
    const N: usize = 5000;
    let mut catalog = big_catalog(N);
    catalog["products"][7]["Images"] = json!([REFUSED_IMAGE]);
    let mut setup = Setup::new(catalog);
    setup.batch = true;
    let env = Env::new(setup);

    for style in STYLES {
        let pages = env.product_pages();
        let plan = env.plan(style, &[]);
        let served = env.product_pages() - pages;
        let s = &plan["summary"];
        assert_eq!(s["create"], N + 3, "{style}: {s}");
        assert_eq!(s["invalid"], 0, "{style}: {s}");
        let keys: BTreeSet<&str> = product_changes(&plan, "create")
            .iter()
            .map(|c| c["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), N, "{style}: every product once");
        // 50 pages of 100; `page` and `offset` stop on a short page, so
        // they ask for the empty 51st.
        let expected = if matches!(style, "page" | "offset") {
            51
        } else {
            50
        };
        assert_eq!(served, expected, "{style}");
        assert_eq!(product_read(&plan)["read"], "full", "{style}");
    }

    let (code, report) = env.sync("cursor", &[]);
    assert_eq!(code, 3, "{}", report["summary"]);
    assert_eq!(report["summary"]["created"], N + 2, "{}", report["summary"]);
    assert_eq!(report["summary"]["failed"], 1, "{}", report["summary"]);
    let failed = items(&report, "failed");
    assert_eq!(failed[0]["key"], "K-7");
    let wb = &report["writeback"];
    assert_eq!(wb["sent"], N + 3, "{wb}");
    assert_eq!(wb["failed"], 0, "{wb}");
    assert_eq!(wb["pending"], 0, "{wb}");
    // 50 batches of products and 3 categories one by one, give or take
    // the batches cut short when outcomes arrive slowly.
    let requests = wb["requests"].as_u64().unwrap();
    assert!((53..=120).contains(&requests), "{wb}");
    let writes = env.writes();
    assert_eq!(
        writes.get("bulkOperationRunMutation"),
        Some(&1),
        "{writes:?}"
    );
    let store = normalized(&env.store_snapshot());
    assert_eq!(store["products"].as_object().unwrap().len(), N - 1);
    assert_eq!(
        store["products"]["K-100"]["media"],
        json!([
            "https://cdn.example.com/K-100/a.jpg",
            "https://cdn.example.com/K-100/b.jpg"
        ]),
        "images in the PIM's order"
    );
    let checked = assert_written_back(&env, &BTreeMap::from([("K-7", REFUSED_MESSAGE)]));
    assert_eq!(checked, N + 3);
    let log = env.pim().writebacks();
    assert_eq!(log.count, N as u64 + 3, "each item written back once");

    // Incremental: the last run finished, so the next reads what changed
    // since it started (less the overlap): nothing yet.
    let pages = env.product_pages();
    let plan = env.plan("cursor", &[]);
    let read = product_read(&plan);
    assert_eq!(read["read"], "incremental", "{read}");
    assert!(read["since"].is_string(), "{read}");
    assert_eq!(env.product_pages() - pages, 1, "one empty page");
    assert_eq!(plan["summary"]["create"], 0, "{}", plan["summary"]);
    assert_eq!(plan["summary"]["update"], 0, "{}", plan["summary"]);

    // Three products edited in the PIM: read, written and written back,
    // and only they.
    env.edit_product("K-10", json!({"Name": "Item ten, renamed"}));
    env.edit_product("K-2000", json!({"Tags": "knit,sale"}));
    env.edit_product(
        "K-4999",
        json!({"Variants": [{"Sku": "K-4999-S", "Color": "Blue", "Size": "S", "Price": "77.00", "Position": 1, "Stock": 5}]}),
    );
    let pages = env.product_pages();
    let before = env.writes();
    let (code, report) = env.sync("cursor", &[]);
    // K-7, which the store refused, is in no record read: not tried again
    // (until a full read or an edit in the PIM), not counted.
    assert_eq!(code, 0, "{}", report["summary"]);
    assert_eq!(env.product_pages() - pages, 1, "the 3 changed in one page");
    assert_eq!(report["summary"]["updated"], 3, "{}", report["summary"]);
    assert_eq!(report["summary"]["created"], 0, "{}", report["summary"]);
    let mut keys: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] != "unchanged")
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["K-10", "K-2000", "K-4999"], "{report:#}");
    // One productSet each (3 is below the bulk threshold); K-4999's new
    // stock rides in its productSet.
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("productSet".to_string(), 3)])
    );
    let wb = &report["writeback"];
    assert_eq!(wb["sent"], 3, "{wb}");
    assert_eq!(wb["pending"], 0, "{wb}");
    let log = env.pim().writebacks();
    assert_eq!(log.count, N as u64 + 6);
    for key in ["K-10", "K-2000", "K-4999"] {
        assert_eq!(log.products[key].count, 2, "{key}");
    }
    let store = normalized(&env.store_snapshot());
    assert_eq!(store["products"]["K-10"]["title"], "Item ten, renamed");
    assert_eq!(
        store["products"]["K-4999"]["variants"],
        json!([{"sku": "K-4999-S", "price": "77.00", "compare_at_price": null,
            "options": ["Blue", "S"], "available": [5], "tracked": true}])
    );
    assert_written_back(&env, &BTreeMap::from([("K-7", REFUSED_MESSAGE)]));

    // `--full` reads everything again (50 pages, the plan says why);
    // nothing to write but the product the store refused, tried again and
    // refused again, its SyncMsg sent again.
    let plan = env.plan("cursor", &["--full"]);
    let read = product_read(&plan);
    assert_eq!(
        (&read["read"], &read["reason"]),
        (&json!("full"), &json!("--full"))
    );
    let pages = env.product_pages();
    let before = env.writes();
    let (code, report) = env.sync("cursor", &["--full"]);
    assert_eq!(code, 3, "{}", report["summary"]);
    assert_eq!(env.product_pages() - pages, 50);
    let s = &report["summary"];
    assert_eq!(s["unchanged"], N + 2, "{s}");
    assert_eq!(s["failed"], 1, "{s}");
    assert_eq!(items(&report, "failed")[0]["key"], "K-7");
    assert_eq!(
        delta(&before, &env.writes()),
        BTreeMap::from([("productSet".to_string(), 1)])
    );
    assert_eq!(report["writeback"]["sent"], 1, "{}", report["writeback"]);
    assert_eq!(env.pim().writebacks().products["K-7"].count, 2);
    assert_written_back(&env, &BTreeMap::from([("K-7", REFUSED_MESSAGE)]));
}

/// When to kill a run: what, and whether it has happened.
type KillPoint = (&'static str, fn(&Env) -> bool);

/// A run killed (SIGKILL) at a few points — while it writes the store,
/// while it writes back to the PIM — then resumed: every product is in
/// the store exactly once, every item's write-back in the PIM is right,
/// nothing is left pending, and the run after that has nothing to do.
#[test]
fn a_run_killed_mid_way_resumes_with_every_item_written_back_and_none_created_twice() {
    const N: usize = 120;
    let mut setup = Setup::new(big_catalog(N));
    setup.settings = "  sync: [add, update, deactivate]\n  concurrency: 4\n  chunk_size: 10\n";
    setup.store.latency = Duration::from_millis(10);
    setup.pim.latency = Duration::from_millis(3);
    let env = Env::new(setup);
    // Kill points: while the store is written (the first run), while the
    // PIM is written back to (the second, which first resends what the
    // first left pending), and later in the store's writes (the third).
    fn product_sets(env: &Env) -> u64 {
        env.writes().get("productSet").copied().unwrap_or(0)
    }
    let kills: [KillPoint; 3] = [
        ("20 products written", |e| product_sets(e) >= 20),
        ("60 write-backs", |e| e.pim().writebacks().count >= 60),
        ("80 products written", |e| product_sets(e) >= 80),
    ];
    for (what, reached) in kills {
        let mut child = env
            .command(&["sync", "--profile", "cursor", "--format", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !reached(&env) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never reached: {what}"
            );
            assert!(child.try_wait().unwrap().is_none(), "ended before: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
        // SIGKILL: no cleanup, no flush.
        let _ = child.kill();
        let _ = child.wait();
        let _ = normalized(&env.store_snapshot());
    }
    let created = normalized(&env.store_snapshot())["products"]
        .as_object()
        .unwrap()
        .len();
    assert!(created < N, "the kills came too late: {created}");

    let (code, report) = env.sync("cursor", &[]);
    assert_eq!(code, 0, "{report:#}");
    let wb = &report["writeback"];
    assert_eq!(wb["failed"], 0, "{wb}");
    assert_eq!(wb["pending"], 0, "{wb}");
    let store = normalized(&env.store_snapshot());
    assert_eq!(store["products"].as_object().unwrap().len(), N);
    assert_eq!(store["collections"].as_object().unwrap().len(), 3);
    assert_eq!(assert_written_back(&env, &BTreeMap::new()), N + 3);
    // Nothing left: no store write, no write-back.
    let before = env.writes();
    let sent = env.pim().writebacks().count;
    let (code, report) = env.sync("cursor", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["summary"]["unchanged"],
        N + 3,
        "{}",
        report["summary"]
    );
    assert!(delta(&before, &env.writes()).is_empty());
    assert_eq!(report["writeback"]["sent"], 0, "{}", report["writeback"]);
    assert_eq!(env.pim().writebacks().count, sent);
}

/// Faults of the PIM within the retry budget — 5xx, 429, timeouts and
/// resets on the product reads and on the write-backs, before and after
/// the PIM applied them — leave every item with the right SyncID, SyncDate
/// and SyncMsg (the store's refusal and an invalid record with their
/// message). A write-back that fails beyond the budget stays pending and
/// the next run sends it first.
#[test]
fn pim_faults_within_the_retry_budget_leave_every_item_right_and_a_failed_write_back_is_sent_next_run(
) {
    const N: usize = 30;
    let mut catalog = big_catalog(N);
    catalog["products"][3]["Images"] = json!([REFUSED_IMAGE]);
    catalog["products"][5]["Variants"][0]["Price"] = json!("lots");
    let mut setup = Setup::new(catalog);
    // 8 attempts: more than the faults of one route, should they all strike
    // one request (the write-backs of invalid records go first, alone).
    setup.source = "      timeout: 1s\n      retries: 7\n      backoff: 10ms\n";
    setup.pim.fault_timeout = Duration::from_secs(3);
    let env = Env::new(setup);
    env.pim_faults(json!([
        // The first page of products: four failures, then it is served.
        {"kind": "5xx", "status": 503, "route": "GET /products"},
        {"kind": "429", "retry_after": 0, "route": "GET /products"},
        {"kind": "timeout", "route": "GET /products"},
        {"kind": "reset", "route": "GET /products"},
        // Write-backs refused, and applied with the answer lost.
        {"kind": "5xx", "route": "writeback"},
        {"kind": "reset", "after": true, "route": "writeback"},
        {"kind": "timeout", "after": true, "route": "writeback"},
        {"kind": "429", "retry_after": 0, "route": "writeback"},
        {"kind": "5xx", "status": 502, "after": true, "route": "writeback"},
        {"kind": "timeout", "route": "writeback"},
        {"kind": "reset", "route": "writeback"},
    ]));
    let (code, report) = env.sync("cursor", &[]);
    assert_eq!(code, 3, "{report:#}");
    let s = &report["summary"];
    assert_eq!(s["created"], N + 1, "{s}");
    assert_eq!(s["failed"], 1, "{s}");
    assert_eq!(s["invalid"], 1, "{s}");
    let wb = &report["writeback"];
    assert_eq!(wb["sent"], N + 3, "{wb}");
    assert_eq!(wb["failed"], 0, "{wb}");
    assert_eq!(wb["pending"], 0, "{wb}");
    assert_eq!(env.pim_faults_pending(), 0, "every fault struck");
    let stats = env.pim().stats();
    assert_eq!(
        stats.faults_by_kind,
        BTreeMap::from([
            ("5xx".to_string(), 3),
            ("429".to_string(), 2),
            ("timeout".to_string(), 3),
            ("reset".to_string(), 3),
        ])
    );
    let failed = BTreeMap::from([("K-3", REFUSED_MESSAGE), ("K-5", "lots")]);
    assert_eq!(assert_written_back(&env, &failed), N + 3);
    // The three answers lost after the PIM applied a write-back made it
    // apply that one twice (the same values: idempotent).
    let log = env.pim().writebacks();
    assert_eq!(log.count, N as u64 + 3 + 3);

    // Beyond the budget (8 attempts, 8 failures): the write-back of the
    // one product changed stays pending, its SyncDate in the PIM the old one.
    env.edit_product("K-9", json!({"Name": "Item nine, renamed"}));
    let old = env.pim().writebacks().products["K-9"].clone();
    env.pim_faults(json!(vec![
        json!({"kind": "5xx", "route": "PATCH /products/{key}"});
        8
    ]));
    let patches = |status: &str| env.pim().stats().count("PATCH /products/{key}", status);
    let refused = patches("500");
    let (code, report) = env.sync("cursor", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{}", report["summary"]);
    let wb = &report["writeback"];
    assert_eq!(
        (&wb["sent"], &wb["failed"], &wb["pending"]),
        (&json!(0), &json!(1), &json!(1)),
        "{wb}"
    );
    // 8 attempts (and the write side's token request).
    assert!(wb["requests"].as_u64().unwrap() >= 8, "{wb}");
    assert_eq!(patches("500") - refused, 8);
    assert_eq!(env.pim().writebacks().products["K-9"], old);
    // The next run, with nothing changed, sends it.
    let ok = patches("200");
    let (code, report) = env.sync("cursor", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["updated"], 0, "{}", report["summary"]);
    let wb = &report["writeback"];
    assert_eq!(
        (&wb["sent"], &wb["failed"], &wb["pending"]),
        (&json!(1), &json!(0), &json!(0)),
        "{wb}"
    );
    assert_eq!(patches("200") - ok, 1);
    let now = env.pim().writebacks().products["K-9"].clone();
    assert_eq!(now.count, old.count + 1);
    assert_ne!(
        now.fields["ShopifySyncDate"], old.fields["ShopifySyncDate"],
        "the date of the update"
    );
    assert_written_back(&env, &failed);
    let store = normalized(&env.store_snapshot());
    assert_eq!(store["products"]["K-9"]["title"], "Item nine, renamed");
}

/// A PIM that fails while the run reads it — the third page of products,
/// beyond the retry budget — stops the run (exit 1, the source's error)
/// before any change: no store write, no write-back. The next run reads
/// everything.
#[test]
fn a_pim_that_fails_the_initial_read_stops_the_run_before_any_change() {
    let mut setup = Setup::new(big_catalog(250));
    setup.source = "      timeout: 1s\n      retries: 2\n      backoff: 10ms\n";
    let env = Env::new(setup);
    let page = |kind: &str| json!({"kind": kind, "status": 503, "route": "GET /products"});
    env.pim_faults(json!([
        page("none"),
        page("none"),
        page("5xx"),
        page("5xx"),
        page("5xx")
    ]));
    let (code, stdout, stderr) = env.run(&["sync", "--profile", "cursor", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("after 3 attempts"), "{stderr}");
    assert!(stderr.contains("/products"), "{stderr}");
    assert_eq!(env.pim_faults_pending(), 0);
    assert_eq!(env.writes(), BTreeMap::new(), "the store was written");
    assert_eq!(env.pim().writebacks().count, 0, "a write-back was sent");
    assert_eq!(
        normalized(&env.store_snapshot()),
        json!({"collections": {}, "products": {}})
    );
    // The failed run read nothing in full: the next reads everything.
    let plan = env.plan("cursor", &[]);
    assert_eq!(product_read(&plan)["read"], "full");
    assert_eq!(plan["summary"]["create"], 253, "{}", plan["summary"]);
}

/// The demo catalog synced from the PIM (products with their images as
/// the PIM gives them, `include=images`) and from a file export of the
/// PIM's records, and from the file the PIM's catalog was made from
/// (`examples/catalog.json`, images as plain URLs): three stores a user
/// cannot tell apart.
#[test]
fn the_same_catalog_from_the_pim_and_from_a_file_export_gives_the_same_store() {
    let catalog: Value =
        serde_json::from_str(&std::fs::read_to_string("examples/pim-catalog.json").unwrap())
            .unwrap();
    let from_pim = Env::new(Setup::new(catalog.clone()));
    // The export: every record as the PIM holds it (with `LastUpdated`,
    // images with ids and positions, the empty write-back fields).
    let export = from_pim.pim().snapshot();
    let (code, report) = from_pim.sync("page", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["created"], 11, "{}", report["summary"]);
    assert_eq!(assert_written_back(&from_pim, &BTreeMap::new()), 11);
    let expected = normalized(&from_pim.store_snapshot());
    assert_eq!(expected["products"].as_object().unwrap().len(), 8);
    let shirt = &expected["products"]["P-1001"]["media"];
    assert_eq!(shirt.as_array().unwrap().len(), 2, "{shirt}");

    for file in [export, examples_catalog()] {
        let from_file = Env::new(Setup::new(catalog.clone()));
        std::fs::write(
            from_file.path("catalog.json"),
            serde_json::to_vec_pretty(&file).unwrap(),
        )
        .unwrap();
        let (code, report) = from_file.sync("file", &[]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(report["summary"]["created"], 11, "{}", report["summary"]);
        assert!(report["writeback"].is_null(), "{}", report["writeback"]);
        assert_eq!(normalized(&from_file.store_snapshot()), expected);
        assert_eq!(from_file.pim().writebacks().count, 0);
    }
}

fn examples_catalog() -> Value {
    serde_json::from_str(&std::fs::read_to_string("examples/catalog.json").unwrap()).unwrap()
}

/// Canary secrets — the OAuth client secret and a bearer token, each from
/// `${ENV}`, and a wrong one of each — never appear in what mapsync
/// writes: stdout and stderr (debug logs on), the run report, the plan
/// file, the daily log file, the state database, or any other file of
/// the project; also when the PIM fails a read and a write-back, and
/// when it refuses the credentials.
#[test]
fn canary_secrets_never_reach_output_logs_plans_reports_or_the_state_store() {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let secret = format!("canary-secret-{nonce}");
    let token = format!("canary-token-{nonce}");
    let wrong_secret = format!("canary-wrong-secret-{nonce}");
    let wrong_token = format!("canary-wrong-token-{nonce}");
    let canaries = [&secret, &token, &wrong_secret, &wrong_token];
    let mut setup = Setup::new(big_catalog(20));
    setup.pim.client_secret = secret.clone();
    setup.pim.token = Some(token.clone());
    setup.env = vec![
        ("PIM_SECRET", secret.clone()),
        ("PIM_TOKEN", token.clone()),
        ("MAPSYNC_LOG", "trace".to_string()),
    ];
    setup.source = "      timeout: 5s\n      retries: 1\n      backoff: 10ms\n";
    let env = Env::new(setup);
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut run = |what: &str, args: &[&str], overrides: &[(&str, &str)]| {
        let mut c = env.command(args);
        for (k, v) in overrides {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        outputs.push((format!("{what} stdout"), stdout.clone()));
        outputs.push((format!("{what} stderr"), stderr.clone()));
        (code, stdout, stderr)
    };
    // A read retried and write-backs failed: their errors are logged.
    let mut faults = vec![json!({"kind": "5xx", "route": "GET /products"})];
    faults.extend(vec![
        json!({"kind": "5xx", "route": "PATCH /products/{key}"});
        30
    ]);
    env.pim_faults(Value::Array(faults));
    let (code, stdout, stderr) = run(
        "oauth sync",
        &["sync", "--profile", "cursor", "--format", "json", "-vv"],
        &[("RUST_LOG", "trace")],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["writeback"]["failed"].as_u64().unwrap() > 0,
        "{}",
        report["writeback"]
    );
    assert!(stderr.contains("write-back failed"), "{stderr}");
    env.pim_faults_pending();
    // A plan file through the bearer profile, with one change.
    env.edit_product("K-1", json!({"Name": "Item one, renamed"}));
    let plan = env.path("plan.json");
    let (code, _, stderr) = run(
        "bearer plan",
        &[
            "plan",
            "--profile",
            "bearer",
            "--out",
            plan.to_str().unwrap(),
        ],
        &[("RUST_LOG", "trace")],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(
        "bearer apply",
        &["apply", plan.to_str().unwrap(), "--format", "json", "-vv"],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    // Refused credentials: the token endpoint, then the API.
    let (code, _, stderr) = run(
        "wrong secret",
        &["sync", "--profile", "cursor", "-vv"],
        &[("PIM_SECRET", &wrong_secret)],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    let (code, _, stderr) = run(
        "wrong token",
        &["plan", "--profile", "bearer"],
        &[("PIM_TOKEN", &wrong_token), ("RUST_LOG", "trace")],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");

    for (what, text) in &outputs {
        for c in canaries {
            assert!(!text.contains(c.as_str()), "{what} holds a secret:\n{text}");
        }
    }
    // Every file of the project: the plan, the logs, the state database
    // (and its WAL), the mapping.
    let mut files = Vec::new();
    let mut dirs = vec![env.dir.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(env.dir.path())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert!(names.iter().any(|n| n == "plan.json"), "{names:?}");
    assert!(names.iter().any(|n| n == ".mapsync/state.db"), "{names:?}");
    let log = files
        .iter()
        .find(|f| f.starts_with(env.path(".mapsync/logs")))
        .unwrap_or_else(|| panic!("no log file: {names:?}"));
    let log_text = std::fs::read_to_string(log).unwrap();
    assert!(log_text.contains("write-back failed"), "{log_text}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for c in canaries {
            assert!(
                !bytes.windows(c.len()).any(|w| w == c.as_bytes()),
                "{} holds a secret",
                f.display()
            );
        }
    }
}
