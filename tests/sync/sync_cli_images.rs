//! Embedded (base64) images end to end: the real binary against a sandbox
//! served over HTTP on 127.0.0.1, through a proxy that records every
//! GraphQL request (each is validated against the real 2026-04 schema).
//! The project is tests/data/sync/embedded_images: five products — two
//! sharing one PNG, one without an image, one GIF, one whose data is no
//! image. An embedded image is uploaded once (staged upload, then the
//! media followed until READY) and never again: not on the next run, nor
//! after the state store is lost (the file name carries the content key).
//! A medium the store fails to process fails its item with the store's
//! reason; the next run uploads it again.

use std::collections::BTreeMap;
use std::path::Path;

use mapsync::plan::document::{Image, ImageKind};
use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

use crate::project::copy_dir;
use crate::recording_proxy::{self, Recorder};
use crate::shopify_schema::{schema_of, validate_document_for, validate_variables};
use crate::support::{command_in, report_of, runtime};

const DATA: &str = "tests/data/sync/embedded_images";

struct Env {
    rt: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    proxy: Recorder,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let rt = runtime();
        let sandbox = rt
            .block_on(sandbox::start(SandboxConfig::default()))
            .unwrap();
        let proxy = rt.block_on(recording_proxy::start(&sandbox.url()));
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(DATA).join("mapping"),
            &dir.path().join("mapping"),
        );
        std::fs::copy(
            Path::new(DATA).join("catalog.json"),
            dir.path().join("catalog.json"),
        )
        .unwrap();
        let project = format!(
            "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {{ type: shopify, url: \"{}\", token: \"${{E2E_TOKEN}}\" }}\n    state: sqlite:.mapsync/state.db\n",
            proxy.url
        );
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        Env {
            rt,
            sandbox: Some(sandbox),
            proxy,
            dir,
        }
    }

    fn sandbox(&self) -> &SandboxHandle {
        self.sandbox.as_ref().unwrap()
    }

    /// `sync --format json`: exit code and the run report.
    fn sync(&self) -> (i32, Value) {
        report_of(
            command_in(
                self.dir.path(),
                &["sync", "--profile", "e2e", "--format", "json"],
            )
            .env("E2E_TOKEN", "e2e-token"),
        )
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.sandbox().url());
        self.rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// Calls per GraphQL root field since the sandbox started.
    fn ops(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.get("/__sandbox/stats")["by_operation"].clone()).unwrap()
    }

    /// The store's products by marker: title and each medium's file name
    /// and status.
    fn products(&self) -> BTreeMap<String, Value> {
        let snap = self.get("/__sandbox/snapshot");
        let mut out = BTreeMap::new();
        for p in values(&snap["products"]) {
            let key = values(&p["metafields"])
                .into_iter()
                .find(|m| m["namespace"] == "mapsync" && m["key"] == "key")
                .and_then(|m| m["value"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let media: Vec<Value> = values(&p["media"])
                .into_iter()
                .map(|m| {
                    let source = m["original_source"].as_str().unwrap_or_default();
                    json!({
                        "file": source.rsplit('/').next().unwrap_or_default(),
                        "status": m["status"],
                        "alt": m["alt"],
                    })
                })
                .collect();
            out.insert(key, json!({ "title": p["title"], "media": media }));
        }
        out
    }

    /// Stages `bytes` as `filename` in the store (as a client would, with a
    /// PUT target); returns the resourceUrl.
    fn stage(&self, filename: &str, bytes: &[u8]) -> String {
        let graphql = self.sandbox().graphql_url();
        let bytes = bytes.to_vec();
        let filename = filename.to_owned();
        self.rt.block_on(async move {
            let http = reqwest::Client::new();
            let answer: Value = http
                .post(graphql)
                .header("X-Shopify-Access-Token", "e2e-token")
                .json(&json!({
                    "query": "mutation($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { stagedTargets { url resourceUrl } userErrors { message } } }",
                    "variables": {"input": [{"resource": "IMAGE", "filename": filename,
                        "mimeType": "image/gif", "httpMethod": "PUT"}]},
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let target = &answer["data"]["stagedUploadsCreate"]["stagedTargets"][0];
            let put = http
                .put(target["url"].as_str().unwrap())
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success(), "{answer}");
            target["resourceUrl"].as_str().unwrap().to_owned()
        })
    }

    /// Every recorded request is valid against the real schema.
    fn assert_requests_valid(&self) {
        let version = mapsync::connectors::shopify::DEFAULT_API_VERSION;
        let schema = schema_of(version);
        let mut failures = Vec::new();
        for (i, body) in self.proxy.bodies().iter().enumerate() {
            let query = body["query"].as_str().unwrap_or_default();
            match validate_document_for(version, query, &format!("request {i}")) {
                Ok(doc) => {
                    if let Err(e) = validate_variables(schema, &doc, &body["variables"]) {
                        failures.push(format!("request {i} ({query:.60}…):\n{e}"));
                    }
                }
                Err(e) => failures.push(format!("request {i}: {e}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

fn values(v: &Value) -> Vec<&Value> {
    match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// The report's item of `key`.
fn item<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap_or_else(|| panic!("no item {key}: {report:#}"))
}

/// The content key of embedded data.
fn content_key(data: &str) -> String {
    Image {
        kind: ImageKind::Embedded,
        src: data.into(),
        alt: None,
        variant: None,
    }
    .content_key()
    .unwrap()
}

#[test]
fn an_embedded_image_is_uploaded_once_and_not_again_on_the_next_run() {
    let env = Env::new();
    let catalog: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(DATA).join("catalog.json")).unwrap(),
    )
    .unwrap();
    let png_key = content_key(catalog["products"][0]["Photo"].as_str().unwrap());
    let gif_key = content_key(catalog["products"][3]["Photo"].as_str().unwrap());

    // E-4's GIF is in the run's uploads already, but as a file the store
    // cannot process (as if the bytes were corrupt): its media fails.
    let broken = env.stage(&format!("mapsync-{gif_key}.gif"), b"GIF? no");
    {
        let mut state =
            mapsync::state::Store::open(&env.dir.path().join(".mapsync/state.db")).unwrap();
        state
            .record_upload("e2e", &gif_key, &broken, time::OffsetDateTime::now_utc())
            .unwrap();
    }

    let before = env.ops();
    let (code, report) = env.sync();
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(report["summary"]["created"], 3, "{report:#}");
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
    assert_eq!(report["summary"]["invalid"], 1, "{report:#}");
    let seen = delta(&before, &env.ops());
    // One upload: E-1 and E-2 share their PNG; E-4 took the cached file.
    assert_eq!(seen["stagedUploadsCreate"], 1, "{seen:?}");
    assert_eq!(seen["productSet"], 4, "{seen:?}");

    // Data that is no image: refused when the record compiles, by position
    // and alt, nothing sent.
    let e5 = item(&report, "E-5");
    assert_eq!(e5["action"], "invalid");
    assert_eq!(
        e5["message"],
        "product 'E-5': image 1 (alt 'Broken') is embedded data that is not a PNG, JPEG, GIF or WEBP image (its bytes start with 68 65 6c 6c 6f 20 77 6f)"
    );
    // The medium the store could not process: the item fails with its reason.
    let e4 = item(&report, "E-4");
    assert_eq!(e4["status"], "failed", "{report:#}");
    assert_eq!(e4["error"], "refused");
    assert_eq!(
        e4["message"],
        "ProductSet: refused: image 1 (alt `Pixel`) failed in the store: Image could not be processed. The file is not a PNG, JPEG, GIF or WEBP image. (IMAGE_PROCESSING_FAILURE)"
    );

    let store = env.products();
    let png = format!("mapsync-{png_key}.png");
    for (key, alt) in [("E-1", "Mug"), ("E-2", "Cup")] {
        assert_eq!(
            store[key]["media"],
            json!([{"file": png, "status": "READY", "alt": alt}]),
            "{key}"
        );
    }
    assert_eq!(store["E-3"]["media"], json!([]));
    assert_eq!(
        store["E-4"]["media"],
        json!([{"file": format!("mapsync-{gif_key}.gif"), "status": "FAILED", "alt": "Pixel"}])
    );
    assert!(!store.contains_key("E-5"));

    // The next run uploads E-4's image again (its failed upload was
    // forgotten), and nothing else.
    let before = env.ops();
    let (code, report) = env.sync();
    assert_eq!(code, 3, "E-5 stays invalid: {report:#}");
    assert_eq!(report["summary"]["updated"], 1, "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    let seen = delta(&before, &env.ops());
    assert_eq!(seen["stagedUploadsCreate"], 1, "{seen:?}");
    assert_eq!(seen["productSet"], 1, "{seen:?}");
    assert_eq!(item(&report, "E-4")["action"], "update");
    let store = env.products();
    assert_eq!(store["E-4"]["media"][0]["status"], "READY");

    // Then nothing is uploaded or written.
    let before = env.ops();
    let (_, report) = env.sync();
    assert_eq!(report["summary"]["unchanged"], 4, "{report:#}");
    let seen = delta(&before, &env.ops());
    assert!(!seen.contains_key("stagedUploadsCreate"), "{seen:?}");
    assert!(!seen.contains_key("productSet"), "{seen:?}");

    // Nor after the state store is lost: the store's media carry the
    // images' content keys.
    std::fs::remove_dir_all(env.dir.path().join(".mapsync")).unwrap();
    let before = env.ops();
    let (_, report) = env.sync();
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    let seen = delta(&before, &env.ops());
    assert!(!seen.contains_key("stagedUploadsCreate"), "{seen:?}");
    assert!(!seen.contains_key("productSet"), "{seen:?}");
    assert_eq!(env.products(), store);

    env.assert_requests_valid();
}
