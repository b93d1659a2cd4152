//! `mapsync images pull` / `publish` end to end: the real binary against
//! the emulated Shopify store (served on 127.0.0.1, started here), whose
//! products' images come from a local HTTP server started here too (no
//! network). The store is seeded with `productSet` (images by URL, one
//! shared by several products, one variant linked to an image), checked
//! through its request counters and by pulling it again (each image's
//! bytes, hashed, are what arrived).

use std::collections::BTreeMap;
use std::ops::Deref;

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

use crate::images_support::{
    append_first_overwrite_second, assert_duplicates_marked, assert_file_named_by_hash,
    assert_pull_summary, edit, entries, ids, manifest, of, png as padded, seed_shopify, sha256,
    write_manifest, Edit, Images, Mixed, Project, Shape, GROUPS, PRODUCTS, SHARING, SMALL,
};

/// Root fields that change the store (or upload to it).
const WRITES: &[&str] = &[
    "productSet",
    "productUpdate",
    "fileUpdate",
    "stagedUploadsCreate",
];

/// A PNG-signed file with `tag` as its content.
fn png(tag: &str) -> Vec<u8> {
    padded(tag, 0)
}

struct Env {
    rt: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    images: Images,
    project: Project,
}

impl Deref for Env {
    type Target = Project;
    fn deref(&self) -> &Project {
        &self.project
    }
}

impl Env {
    fn new() -> Env {
        Env::with(SandboxConfig::default())
    }

    fn with(config: SandboxConfig) -> Env {
        Env::shaped(config, SMALL)
    }

    fn shaped(config: SandboxConfig, shape: Shape) -> Env {
        let rt = crate::images_support::runtime();
        let sandbox = rt.block_on(sandbox::start(config)).unwrap();
        let images = Images::start(&rt, shape);
        let project = Project::shopify(&sandbox.url(), &[]);
        let env = Env {
            rt,
            sandbox: Some(sandbox),
            images,
            project,
        };
        env.seed(shape);
        env
    }

    fn url(&self) -> String {
        self.sandbox.as_ref().unwrap().url()
    }

    /// Products P-0..P-7: two images each (the second linked to variant
    /// P-i-S, the first with alt text), the shared image on the first
    /// four, and p0-1's bytes under another URL on P-5.
    fn seed(&self, shape: Shape) {
        seed_shopify(&self.rt, &self.url(), &self.images, shape);
    }

    /// The store's media made from uploaded files, by the SHA-256 of the
    /// bytes that arrived: how many.
    fn arrived(&self) -> BTreeMap<String, usize> {
        let url = format!("{}/__sandbox/snapshot", self.url());
        let snapshot: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        fn walk(v: &Value, out: &mut BTreeMap<String, usize>) {
            match v {
                Value::Object(m) => {
                    if let (Some(Value::String(h)), Some(_)) =
                        (m.get("sha256"), m.get("original_source"))
                    {
                        *out.entry(h.clone()).or_default() += 1;
                    }
                    m.values().for_each(|x| walk(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut out = BTreeMap::new();
        walk(&snapshot, &mut out);
        out
    }

    /// Write calls per root field since the sandbox started.
    fn writes(&self) -> BTreeMap<String, u64> {
        let url = format!("{}/__sandbox/stats", self.url());
        let stats: Value = self
            .rt
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        stats["by_operation"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| WRITES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

#[test]
fn pull_downloads_each_distinct_file_once_and_marks_duplicates() {
    let env = Env::new();
    let (code, summary) = env.pull("pulled");
    assert_eq!(code, 0, "{summary}");
    let images = PRODUCTS * 2 + SHARING + 1;
    let hits = env.images.hits();
    assert_pull_summary(&summary, &hits);

    let lines = manifest(&env.path("pulled/manifest.ndjson"));
    assert_eq!(lines.len(), images);
    let p0 = of(&lines, "P-0");
    assert_eq!(p0.len(), 3);
    assert_eq!(p0[0]["alt"], "Front 0");
    assert_eq!(p0[0]["sku"], "P-0-S");
    assert_eq!(p0[1]["variants"], json!(["P-0-S"]));
    assert_eq!(p0[0]["action"], "skip");
    assert_eq!(p0[0]["copy_to"], json!([]));
    for l in &lines {
        let bytes = assert_file_named_by_hash(&env.path("pulled"), l);
        assert_eq!(l["bytes"], bytes.len());
        assert_eq!(l["content_type"], "image/png");
    }
    assert_duplicates_marked(&lines);
    let again = lines
        .iter()
        .find(|l| l["source_url"].as_str().unwrap().ends_with("/again.png"))
        .unwrap();
    assert_eq!(again["sha256"], p0[0]["sha256"]);

    // Resumable: a second pull downloads nothing.
    let (code, summary) = env.pull("pulled");
    assert_eq!(code, 0);
    assert_eq!(summary["downloaded"], 0);
    assert_eq!(summary["reused"], hits.len());
    assert_eq!(env.images.hits(), hits);
    assert_eq!(manifest(&env.path("pulled/manifest.ndjson")), lines);
}

#[test]
fn publish_a_mixed_manifest_then_again_writes_nothing() {
    let env = Env::new();
    let mixed = Mixed::write(&env);
    let Mixed {
        lines,
        overwritten,
        appended,
        ..
    } = &mixed;
    let (before, after) = mixed.publish(&env, || env.writes());
    let delta = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    assert_eq!(delta("fileUpdate"), 1, "{after:?}");
    assert_eq!(delta("productUpdate"), 3, "{after:?}");
    // The copy's file is uploaded once for its two products.
    assert_eq!(delta("stagedUploadsCreate"), 3, "{after:?}");
    assert_eq!(delta("productSet"), 0);

    // The store ends as the actions say: pulled again, byte for byte.
    let (_, now) = env.pull_lines("after");
    mixed.assert_published(&now);
    assert_eq!(of(&now, "P-0")[1]["variants"], json!(["P-0-S"]));
    let copied = &of(lines, "P-2")[0]["sha256"];

    // What arrived, as the store keeps it: the hash of each uploaded file.
    let arrived = env.arrived();
    assert_eq!(arrived.get(&sha256(overwritten)), Some(&1), "{arrived:?}");
    assert_eq!(arrived.get(&sha256(appended)), Some(&1), "{arrived:?}");
    assert_eq!(
        arrived.get(copied.as_str().unwrap()),
        Some(&2),
        "{arrived:?}"
    );
    assert_eq!(arrived.values().sum::<usize>(), 4, "{arrived:?}");

    // The same manifest again: zero writes, even without the state store
    // (the store shows the published files).
    mixed.assert_again_writes_nothing(&env, || env.writes(), &after);
    mixed.assert_pull_again_keeps_actions(&env);
}

#[test]
fn a_missing_edited_file_fails_its_line_with_exit_3() {
    let env = Env::new();
    let (code, _) = env.pull("pulled");
    assert_eq!(code, 0);
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    lines[0]["action"] = json!("overwrite");
    lines[0]["edited_file"] = json!("edited/missing.png");
    lines[1]["action"] = json!("copy");
    lines[1]["copy_to"] = json!(["NO-SUCH-PRODUCT"]);
    write_manifest(&path, &lines);
    let before = env.writes();
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 3, "{log}");
    assert_eq!(log["failed"], 2, "{log}");
    let messages: Vec<&str> = entries(&log, "failed")
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(messages[0].contains("edited/missing.png"), "{messages:?}");
    assert!(messages[1].contains("NO-SUCH-PRODUCT"), "{messages:?}");
    assert_eq!(env.writes(), before);

    // The human log: one line per failed image, then the counts.
    let out = env.publish_command(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAILED  overwrite line 1") && text.contains("edited/missing.png"),
        "{text}"
    );
    assert!(
        text.contains("Published: 0 overwritten, 0 added, 0 unchanged, 0 already done,"),
        "{text}"
    );
    assert!(text.contains(" 2 failed;"), "{text}");
}

/// A publish killed (SIGKILL) midway, then run again: every image ends
/// published exactly once — no append made twice, every overwrite done.
#[test]
fn a_publish_killed_midway_resumes_without_an_image_twice() {
    let env = Env::with(SandboxConfig {
        latency: std::time::Duration::from_millis(40),
        ..SandboxConfig::default()
    });
    let (code, _) = env.pull("pulled");
    assert_eq!(code, 0);
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    let expect = append_first_overwrite_second(
        &env.path("pulled"),
        &mut lines,
        0..PRODUCTS,
        |key| png(&format!("{key} added")),
        |key| png(&format!("{key} edited")),
    );
    write_manifest(&path, &lines);
    let before = env.writes();
    let count = |w: &BTreeMap<String, u64>| {
        w.get("productUpdate").copied().unwrap_or(0) + w.get("fileUpdate").copied().unwrap_or(0)
    };
    env.publish_killed_at(
        &path,
        || count(&env.writes()),
        count(&before) + 5,
        std::time::Duration::from_millis(10),
    );
    let killed_at = count(&env.writes()) - count(&before);
    assert!(
        killed_at < 2 * PRODUCTS as u64,
        "killed too late: {killed_at}"
    );

    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    // Together, the killed and the resumed publish wrote each image once
    // (an image written just before the kill may be found in the store).
    assert!(count(&env.writes()) - count(&before) <= 2 * PRODUCTS as u64 + 1);

    let (_, now) = env.pull_lines("after");
    for (key, (added, edited)) in &expect {
        let was = of(&lines, key);
        let is = of(&now, key);
        assert_eq!(is.len(), was.len() + 1, "{key}: one image added, once");
        let added_count = is.iter().filter(|l| l["sha256"] == added.as_str()).count();
        assert_eq!(added_count, 1, "{key}");
        assert_eq!(is[1]["image_id"], was[1]["image_id"], "{key}");
        assert_eq!(is[1]["sha256"], edited.as_str(), "{key}");
        assert_eq!(is[1]["variants"], json!([format!("{key}-S")]), "{key}");
    }
    let after = env.writes();
    env.publish_writes_nothing(&path);
    assert_eq!(env.writes(), after);
}

/// Not a test: the figures of docs/images.md (`cargo test --test sync
/// images_cli::figures -- --ignored --nocapture`). 200 products, 600
/// images (every product shows one of 20 shared images), 20 KB files, the
/// sandbox at a standard plan's rate limit: images per second pulled and
/// published, bytes downloaded against the distinct bytes in the store.
#[test]
#[ignore]
fn figures() {
    let shape = Shape {
        products: 200,
        grouped: true,
        size: 20_000,
    };
    let env = Env::shaped(SandboxConfig::default(), shape);
    let started = std::time::Instant::now();
    let (code, summary) = env.pull("pulled");
    let pull = started.elapsed();
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["images"], 600);
    let hits = env.images.hits();
    assert!(hits.values().all(|&n| n == 1));
    println!(
        "pull: {} images of {} products in {:.2} s = {:.0} images/s; {} distinct files; bytes downloaded / distinct bytes = {:.3}; {} listing requests",
        summary["images"],
        summary["products"],
        pull.as_secs_f64(),
        600.0 / pull.as_secs_f64(),
        summary["distinct"],
        summary["bytes_downloaded"].as_f64().unwrap() / summary["bytes_distinct"].as_f64().unwrap(),
        summary["list_requests"],
    );
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    std::fs::create_dir_all(env.path("pulled/edited")).unwrap();
    let mut overwrites = 0;
    let mut appends = 0;
    for (n, l) in lines.iter_mut().enumerate() {
        if n % 6 == 0 {
            let name = format!("edited/{n}.png");
            std::fs::write(
                env.path("pulled").join(&name),
                padded(&format!("edit {n}"), 20_000),
            )
            .unwrap();
            l["action"] = json!("overwrite");
            l["edited_file"] = json!(name);
            overwrites += 1;
        } else if n % 6 == 1 {
            let name = format!("edited/{n}.png");
            std::fs::write(
                env.path("pulled").join(&name),
                padded(&format!("add {n}"), 20_000),
            )
            .unwrap();
            l["action"] = json!("append");
            l["edited_file"] = json!(name);
            appends += 1;
        }
    }
    write_manifest(&path, &lines);
    let started = std::time::Instant::now();
    let (code, log) = env.publish(&path, &[]);
    let publish = started.elapsed();
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], overwrites + appends);
    println!(
        "publish: {overwrites} overwrites + {appends} appends in {:.2} s = {:.1} images/s; {} requests",
        publish.as_secs_f64(),
        f64::from(overwrites + appends) / publish.as_secs_f64(),
        log["requests"],
    );
    let started = std::time::Instant::now();
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0);
    assert_eq!(log["written"], 0);
    println!(
        "publish again: 0 writes in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn pull_only_and_since_narrow_the_products() {
    let env = Env::new();
    let out = env.path("only");
    let (code, summary) = env.pull_with(&out, &["--only", "P-1", "P-2"]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["products"], 2);
    let lines = manifest(&out.join("manifest.ndjson"));
    assert!(lines
        .iter()
        .all(|l| l["product_key"] == "P-1" || l["product_key"] == "P-2"));
    for (since, products) in [("2000-01-01", PRODUCTS), ("2999-01-01", 0)] {
        let out = env.path(&format!("since-{since}"));
        let (code, summary) = env.pull_with(&out, &["--since", since]);
        assert_eq!(code, 0, "{summary}");
        assert_eq!(summary["products"], products, "--since {since}");
    }
}

/// Every request of a pull and a publish is valid against the real Admin
/// API schema: documents and variables, as recorded by a proxy between the
/// binary and the store.
#[test]
fn every_request_of_pull_and_publish_is_valid_against_the_real_schema() {
    use crate::shopify_schema::{schema_of, validate_document_for, validate_variables};
    let version = mapsync::connectors::shopify::DEFAULT_API_VERSION;
    let env = Env::new();
    let proxy = env.rt.block_on(crate::recording_proxy::start(&env.url()));
    let project = env.path("mapsync.yaml");
    let text = std::fs::read_to_string(&project)
        .unwrap()
        .replace(&env.url(), &proxy.url);
    std::fs::write(&project, text).unwrap();

    let (code, _) = env.pull("pulled");
    assert_eq!(code, 0);
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    std::fs::write(env.path("pulled/edit.png"), png("edit")).unwrap();
    lines[0]["action"] = json!("overwrite");
    lines[0]["edited_file"] = json!("edit.png");
    lines[3]["action"] = json!("append");
    lines[3]["edited_file"] = json!("edit.png");
    lines[5]["action"] = json!("copy");
    lines[5]["copy_to"] = json!(["P-7"]);
    write_manifest(&path, &lines);
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 3, "{log}");

    let schema = schema_of(version);
    let mut failures = Vec::new();
    let mut operations = std::collections::BTreeSet::new();
    for (i, body) in proxy.bodies().iter().enumerate() {
        let query = body["query"].as_str().unwrap_or_default();
        let doc = match validate_document_for(version, query, &format!("request {i}")) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("request {i}: {e}"));
                continue;
            }
        };
        if let Some(op) = doc.operations.iter().next() {
            operations.insert(op.name.as_ref().map(|n| n.to_string()).unwrap_or_default());
        }
        if let Err(e) = validate_variables(schema, &doc, &body["variables"]) {
            failures.push(format!("request {i} ({query:.60}…):\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for op in [
        "ProductImagesPage",
        "ProductByIdentifier",
        "ProductImages",
        "StagedUploadsCreate",
        "FileUpdate",
        "ProductAppendMedia",
        "ProductMediaStatus",
    ] {
        assert!(operations.contains(op), "{op} not sent: {operations:?}");
    }
}

/// The scale: 200 products, 600 images (every product shows one of
/// 20 shared images), a Plus store. Each distinct file is downloaded once
/// (bytes downloaded = distinct bytes); a manifest mixing overwrite,
/// append, copy, an identical file and skip leaves the store exactly as
/// the actions say; publishing it again writes nothing.
#[test]
fn round_trip_of_200_products_and_600_images() {
    let shape = Shape {
        products: 200,
        grouped: true,
        size: 2_000,
    };
    let env = Env::shaped(
        SandboxConfig {
            plan: sandbox::ShopPlan::Plus,
            ..SandboxConfig::default()
        },
        shape,
    );
    let project = env.path("mapsync.yaml");
    let text = std::fs::read_to_string(&project).unwrap().replace(
        "token: \"${E2E_TOKEN}\" }",
        "token: \"${E2E_TOKEN}\", plan: plus }",
    );
    std::fs::write(&project, text).unwrap();

    let started = std::time::Instant::now();
    let (code, summary) = env.pull("pulled");
    let pull = started.elapsed();
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["products"], 200);
    assert_eq!(summary["images"], 600);
    assert_eq!(summary["distinct"], 400 + GROUPS);
    assert_eq!(summary["duplicates"], 200 - GROUPS);
    assert_eq!(summary["bytes_downloaded"], summary["bytes_distinct"]);
    let hits = env.images.hits();
    assert_eq!(hits.len(), 400 + GROUPS);
    assert!(hits.values().all(|&n| n == 1), "{hits:?}");

    let path = env.path("pulled/manifest.ndjson");
    let lines = manifest(&path);
    let mut edited = lines.clone();
    std::fs::create_dir_all(env.path("pulled/edited")).unwrap();
    // Per product i: i % 10 == 0 overwrite its variant's image, 1 append,
    // 2 copy its first image to the next product, 3 overwrite with the
    // pulled file itself; the others skip.
    let mut want: BTreeMap<String, (usize, Option<String>)> = BTreeMap::new();
    for i in 0..200 {
        let key = format!("P-{i}");
        let ids = ids(&lines, &key);
        match i % 10 {
            0 => {
                let name = format!("edited/{key}-2.png");
                let bytes = padded(&format!("{key} retouched"), 2_000);
                std::fs::write(env.path("pulled").join(&name), &bytes).unwrap();
                edit(&mut edited, &ids[1], Edit::Overwrite(&name));
                want.insert(key.clone(), (0, Some(sha256(&bytes))));
            }
            1 => {
                let name = format!("edited/{key}-new.png");
                let bytes = padded(&format!("{key} new angle"), 2_000);
                std::fs::write(env.path("pulled").join(&name), &bytes).unwrap();
                edit(&mut edited, &ids[0], Edit::Append(&name));
                want.insert(key.clone(), (1, Some(sha256(&bytes))));
            }
            2 => {
                edit(&mut edited, &ids[0], Edit::Copy(&[&format!("P-{}", i + 1)]));
            }
            3 => {
                edit(&mut edited, &ids[0], Edit::Identical);
            }
            _ => {}
        }
    }
    write_manifest(&path, &edited);
    let before = env.writes();
    let started = std::time::Instant::now();
    let (code, log) = env.publish(&path, &[]);
    let publish = started.elapsed();
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 60, "{log}");
    let after = env.writes();
    let delta = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    assert_eq!((delta("fileUpdate"), delta("productUpdate")), (20, 40));
    assert_eq!(delta("stagedUploadsCreate"), 60);
    println!(
        "plus store: pull of 600 images in {:.1} s, publish of 60 in {:.1} s",
        pull.as_secs_f64(),
        publish.as_secs_f64()
    );

    let (_, now) = env.pull_lines("after");
    for i in 0..200 {
        let key = format!("P-{i}");
        let (was, is) = (of(&lines, &key), of(&now, &key));
        match (i % 10, want.get(&key)) {
            (0, Some((_, Some(h)))) => {
                assert_eq!(is.len(), 3, "{key}");
                assert_eq!(is[1]["image_id"], was[1]["image_id"], "{key}");
                assert_eq!(is[1]["sha256"], h.as_str(), "{key}");
                assert_eq!(is[1]["variants"], json!([format!("{key}-S")]), "{key}");
            }
            (1, Some((_, Some(h)))) => {
                assert_eq!(is.len(), 4, "{key}");
                assert_eq!(is[3]["sha256"], h.as_str(), "{key}");
            }
            (3, _) => {
                // Received P-2's copy (i - 1 has i % 10 == 2).
                assert_eq!(is.len(), 4, "{key}");
                assert_eq!(
                    is[3]["sha256"],
                    of(&lines, &format!("P-{}", i - 1))[0]["sha256"]
                );
                assert_eq!(
                    is[0]["sha256"], was[0]["sha256"],
                    "{key}: identical, untouched"
                );
            }
            _ => {
                let shas = |v: &[&Value]| v.iter().map(|l| l["sha256"].clone()).collect::<Vec<_>>();
                assert_eq!(shas(&is), shas(&was), "{key}");
            }
        }
    }

    env.publish_writes_nothing(&path);
    assert_eq!(env.writes(), after);
}
