//! `mapsync images pull` / `publish` end to end on BigCommerce: the real
//! binary against the emulated BigCommerce store (served on 127.0.0.1,
//! started here, every request recorded and checked against the OpenAPI
//! files), whose products' images the store fetched from a local HTTP
//! server started here too (no network). Seeded through the store's API
//! as a sync leaves it: images by URL (one shared by several products,
//! one file under two URLs), a variant's image the file of one of them,
//! the marker and the recorded sources (`mapsync` metafields). Checked
//! through the store's counters, the hashes of the files it keeps, and by
//! pulling it again.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::Duration;

use mapsync::sandbox::bigcommerce::{self as bc, BcConfig, BcHandle};
use serde_json::{json, Value};

use crate::images_support::{
    append_first_overwrite_second, assert_file_named_by_hash, edit, entries, manifest, of,
    outcomes, png, product_images, sha256, write_manifest, Edit, Images, Project, Shape, PRODUCTS,
    SHARING, SMALL,
};

const TOKEN: &str = "e2e-bc-images-token";

pub(crate) struct Env {
    rt: tokio::runtime::Runtime,
    store: Option<BcHandle>,
    images: Images,
    project: Project,
    /// Requests of the seeding (recorded before the test's).
    seeded: usize,
}

impl Deref for Env {
    type Target = Project;
    fn deref(&self) -> &Project {
        &self.project
    }
}

impl Env {
    pub(crate) fn new(config: BcConfig, shape: Shape) -> Env {
        let rt = crate::images_support::runtime();
        let store = rt.block_on(bc::start(config)).unwrap();
        let images = Images::start(&rt, shape);
        let project = Project::new(
            "mappings/demo-bigcommerce",
            &format!(
                "    target: {{ type: bigcommerce, url: \"{}\", store_hash: sandbox, token: \"${{E2E_BC_TOKEN}}\" }}\n",
                store.url()
            ),
            vec![("E2E_BC_TOKEN", TOKEN.into())],
            &["MAPSYNC_LOG"],
        );
        let mut env = Env {
            rt,
            store: Some(store),
            images,
            project,
            seeded: 0,
        };
        env.seed(shape);
        env.seeded = env.store().requests().len();
        env
    }

    pub(crate) fn store(&self) -> &BcHandle {
        self.store.as_ref().unwrap()
    }

    /// One API request to the store (`data` of the answer).
    fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.store().api_url());
        self.rt.block_on(async {
            let mut req = reqwest::Client::new()
                .request(method, url)
                .header("X-Auth-Token", TOKEN);
            if !body.is_null() {
                req = req.json(&body);
            }
            let resp = loop {
                let r = req.try_clone().unwrap().send().await.unwrap();
                if r.status() != reqwest::StatusCode::TOO_MANY_REQUESTS {
                    break r;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {v}");
            v["data"].clone()
        })
    }

    /// Products P-0.. with two images each (the first with alt text and
    /// the thumbnail, the second also the image of variant P-i-S), the
    /// shared image on the first four (or one of 20 on each), p0-1's bytes
    /// under another URL on P-5, and the `mapsync` metafields a sync
    /// leaves (the marker, the images' sources).
    fn seed(&self, shape: Shape) {
        for i in 0..shape.products {
            let sources: Vec<(String, String)> = product_images(shape, i)
                .into_iter()
                .map(|(name, alt)| (self.images.url_of(&name), alt.unwrap_or_default()))
                .collect();
            let images: Vec<Value> = sources
                .iter()
                .enumerate()
                .map(|(n, (url, alt))| {
                    json!({"image_url": url, "sort_order": n, "is_thumbnail": n == 0, "description": alt})
                })
                .collect();
            let p = self.api(
                reqwest::Method::POST,
                "/catalog/products",
                json!({
                    "name": format!("Product {i}"), "type": "physical", "weight": 1, "price": 10,
                    "images": images,
                    "variants": [
                        {"sku": format!("P-{i}-S"), "option_values": [{"option_display_name": "Size", "label": "S"}]},
                        {"sku": format!("P-{i}-M"), "option_values": [{"option_display_name": "Size", "label": "M"}]},
                    ],
                }),
            );
            let pid = p["id"].as_u64().unwrap();
            let full = self.api(
                reqwest::Method::GET,
                &format!("/catalog/products/{pid}?include=images,variants"),
                Value::Null,
            );
            let small = full["variants"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["sku"] == format!("P-{i}-S"))
                .and_then(|v| v["id"].as_u64())
                .unwrap();
            let second = self.images.url_of(&format!("p{i}-2.png"));
            self.api(
                reqwest::Method::POST,
                &format!("/catalog/products/{pid}/variants/{small}/image"),
                json!({"image_url": second}),
            );
            let mut recorded = serde_json::Map::new();
            let mut imgs: Vec<&Value> = full["images"].as_array().unwrap().iter().collect();
            imgs.sort_by_key(|i| i["sort_order"].as_i64());
            for (img, (url, _)) in imgs.iter().zip(&sources) {
                recorded.insert(img["id"].to_string(), json!(url));
            }
            recorded.insert(format!("variant:{small}"), json!(second));
            for (key, value) in [
                ("key", format!("P-{i}")),
                ("images", Value::Object(recorded).to_string()),
            ] {
                self.api(
                    reqwest::Method::POST,
                    &format!("/catalog/products/{pid}/metafields"),
                    json!({"namespace": "mapsync", "key": key, "value": value, "permission_set": "read"}),
                );
            }
        }
    }

    /// Requests that change the store (every method but GET), in all.
    pub(crate) fn writes(&self) -> u64 {
        self.store()
            .stats()
            .by_route
            .iter()
            .filter(|(route, _)| !route.starts_with("GET "))
            .map(|(_, by_status)| by_status.values().sum::<u64>())
            .sum()
    }

    /// The files the store keeps, by the SHA-256 of their bytes: how many.
    fn arrived(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for f in self.store().snapshot()["files"]
            .as_object()
            .unwrap()
            .values()
        {
            *out.entry(f["sha256"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        out
    }

    /// Uploads (multipart requests) recorded.
    fn uploads(&self) -> usize {
        self.store()
            .requests()
            .iter()
            .skip(self.seeded)
            .filter(|r| r.multipart)
            .count()
    }

    /// Every recorded request is one the OpenAPI files describe.
    fn assert_requests_valid(&self) {
        let spec = bc::openapi::Spec::bundled().unwrap();
        for r in self.store().requests() {
            if let Err(problems) = spec.check_request(&r.method, &r.path, r.body.as_ref()) {
                panic!("{} {}: {problems:?}", r.method, r.path);
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

pub(crate) fn config() -> BcConfig {
    BcConfig {
        token: Some(TOKEN.into()),
        quota: Some(100_000),
        record_requests: true,
        ..BcConfig::default()
    }
}

#[test]
fn pull_downloads_each_distinct_file_once_and_marks_duplicates() {
    let env = Env::new(config(), SMALL);
    let (code, summary) = env.pull("pulled");
    assert_eq!(code, 0, "{summary}");
    let images = PRODUCTS * 2 + SHARING + 1;
    assert_eq!(summary["products"], PRODUCTS);
    assert_eq!(summary["images"], images);
    // The shared image (a copy per product in the store) is downloaded
    // once; `again.png` (p0-1's bytes from another URL) once more.
    let files = PRODUCTS * 2 + 2;
    assert_eq!(summary["downloaded"], files, "{summary}");
    assert_eq!(summary["distinct"], files - 1);
    assert_eq!(summary["duplicates"], (SHARING - 1) + 1);
    assert_eq!(summary["failed"], json!([]));
    assert_eq!(
        summary["bytes_downloaded"],
        summary["bytes_distinct"].as_u64().unwrap() + png("p0-1", 0).len() as u64
    );

    let lines = manifest(&env.path("pulled/manifest.ndjson"));
    assert_eq!(lines.len(), images);
    let p0 = of(&lines, "P-0");
    assert_eq!(p0.len(), 3);
    assert_eq!(p0[0]["alt"], "Front 0");
    assert_eq!(p0[0]["sku"], "P-0-S");
    assert_eq!(p0[0]["variants"], json!([]));
    assert_eq!(p0[1]["variants"], json!(["P-0-S"]));
    assert_eq!(p0[1]["alt"], Value::Null);
    for l in &lines {
        assert_file_named_by_hash(&env.path("pulled"), l);
        assert!(l["source_url"]
            .as_str()
            .unwrap()
            .contains("/product_images/"));
    }
    let shared = sha256(&png("shared", 0));
    let sharing: Vec<&Value> = lines.iter().filter(|l| l["sha256"] == shared).collect();
    assert_eq!(sharing.len(), SHARING);
    assert_eq!(sharing[0]["duplicate_of"], Value::Null);
    for l in &sharing[1..] {
        assert_eq!(l["duplicate_of"], sharing[0]["image_id"]);
    }

    // A second pull downloads nothing.
    let (code, again) = env.pull("pulled");
    assert_eq!(code, 0);
    assert_eq!(again["downloaded"], 0, "{again}");
    assert_eq!(again["reused"], files);
    // Listing: the metafields and one page of products per pull.
    let reads: Vec<String> = env
        .store()
        .requests()
        .iter()
        .skip(env.seeded)
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap()))
        .collect();
    assert_eq!(reads.len(), 4, "{reads:?}");
    env.assert_requests_valid();
}

#[test]
fn publish_a_mixed_manifest_then_again_writes_nothing() {
    let env = Env::new(config(), SMALL);
    let (code, _) = env.pull("pulled");
    assert_eq!(code, 0);
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    std::fs::create_dir_all(env.path("pulled/edited")).unwrap();
    let edited = png("p0-2 retouched", 0);
    let added = png("p1 detail", 0);
    std::fs::write(env.path("pulled/edited/p0-2.png"), &edited).unwrap();
    std::fs::write(env.path("pulled/edited/p1-detail.png"), &added).unwrap();
    let before_lines = lines.clone();
    let id = |key: &str, n: usize| of(&before_lines, key)[n]["image_id"].clone();
    let (p0_2, p1_1, p2_1, p3_1) = (id("P-0", 1), id("P-1", 0), id("P-2", 0), id("P-3", 0));
    // The variant's image.
    edit(&mut lines, &p0_2, Edit::Overwrite("edited/p0-2.png"));
    edit(&mut lines, &p1_1, Edit::Append("edited/p1-detail.png"));
    // The pulled file, to two other products.
    edit(&mut lines, &p2_1, Edit::Copy(&["P-6", "P-7"]));
    // Identical to the store's: no request.
    edit(&mut lines, &p3_1, Edit::Identical);
    write_manifest(&path, &lines);

    let writes = env.writes();
    let (code, plan) = env.publish(&path, &["--dry-run"]);
    assert_eq!(code, 0, "{plan}");
    assert_eq!(plan["written"], 0);
    assert_eq!(env.writes(), writes, "a dry run writes nothing");
    let outcomes: Vec<String> = outcomes(&plan).into_iter().map(|(_, o)| o).collect();
    assert_eq!(
        outcomes,
        [
            "would_overwrite",
            "would_append",
            "would_append",
            "would_append",
            "unchanged"
        ]
    );

    let uploads = env.uploads();
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 4, "{log}");
    assert_eq!(log["failed"], 0);
    let unchanged = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["image_id"] == p3_1)
        .unwrap();
    assert_eq!(unchanged["outcome"], "unchanged");
    assert_eq!(unchanged["requests"], 0);
    // Uploads: the overwrite's file (the product image and the variant's),
    // the append's, the copied file once for two products.
    assert_eq!(env.uploads() - uploads, 4);
    let arrived = env.arrived();
    assert_eq!(arrived.get(&sha256(&edited)), Some(&2));
    assert_eq!(arrived.get(&sha256(&added)), Some(&1));

    let (after, now) = env.pull_lines("after");
    let p0 = of(&now, "P-0");
    assert_eq!(p0.len(), 3);
    assert_eq!(p0[0]["sha256"], before_lines[0]["sha256"]);
    assert_eq!(p0[0]["alt"], "Front 0");
    assert_eq!(p0[1]["sha256"], sha256(&edited), "overwritten in place");
    assert_eq!(p0[1]["variants"], json!(["P-0-S"]), "the variant follows");
    assert_eq!(p0[1]["position"], 2);
    let p1 = of(&now, "P-1");
    assert_eq!(p1.len(), 4);
    assert_eq!(p1[3]["sha256"], sha256(&added));
    assert_eq!(p1[3]["alt"], Value::Null);
    let copied = of(&before_lines, "P-2")[0]["sha256"].clone();
    for key in ["P-6", "P-7"] {
        let p = of(&now, key);
        assert_eq!(p.len(), 3, "{key}");
        assert_eq!(p[2]["sha256"], copied, "{key}");
        assert_eq!(p[2]["alt"], "Front 2", "{key}");
    }
    // The copies (one file, its name carrying its hash) downloaded once.
    assert_eq!(after["images"], 21 + 1 + 2);
    assert_eq!(after["downloaded"], PRODUCTS * 2 + 2 + 2, "{after}");
    for key in ["P-2", "P-3", "P-4", "P-5"] {
        let was: Vec<&Value> = of(&before_lines, key)
            .iter()
            .map(|l| &l["sha256"])
            .collect();
        let is: Vec<&Value> = of(&now, key).iter().map(|l| &l["sha256"]).collect();
        assert_eq!(was, is, "{key} unchanged");
    }

    // Again: nothing written (state store), then again without it.
    let writes = env.writes();
    env.publish_writes_nothing(&path);
    assert_eq!(env.writes(), writes);
    std::fs::remove_dir_all(env.path(".mapsync")).unwrap();
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(log["written"], 0, "{log}");
    assert_eq!(
        env.writes(),
        writes,
        "no image multiplied without the state store"
    );
    // Without the state store the overwritten image is not found by its
    // id (BigCommerce gave the new file a new one), but the product shows
    // the file at the line's position: the line is done, not gone.
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["failed"], 0, "{log}");
    let again = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["image_id"] == p0_2)
        .expect("the overwritten image's line");
    assert_eq!(again["outcome"], "unchanged", "{again}");
    env.assert_requests_valid();
}

/// A publish killed (SIGKILL) midway, then run again: every image ends
/// published exactly once — no append made twice, every overwrite done.
#[test]
fn a_publish_killed_midway_resumes_without_an_image_twice() {
    let env = Env::new(
        BcConfig {
            latency: Duration::from_millis(40),
            ..config()
        },
        SMALL,
    );
    let (code, _) = env.pull("pulled");
    assert_eq!(code, 0);
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    let pulled = lines.clone();
    let expect = append_first_overwrite_second(
        &env.path("pulled"),
        &mut lines,
        0..PRODUCTS,
        |key| png(&format!("{key} added"), 0),
        |key| png(&format!("{key} edited"), 0),
    );
    write_manifest(&path, &lines);
    let before = env.writes();
    env.publish_killed_at(&path, || env.writes(), before + 6, Duration::from_millis(5));
    let killed_at = env.writes() - before;
    // Per product: the append, the overwrite's add, its variant, the delete.
    let all = 4 * PRODUCTS as u64;
    assert!(killed_at < all, "killed too late: {killed_at}");

    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    assert!(
        env.writes() - before <= all + 1,
        "{} writes",
        env.writes() - before
    );

    let (_, now) = env.pull_lines("after");
    for (key, (added, edited)) in &expect {
        let was = of(&pulled, key);
        let is = of(&now, key);
        assert_eq!(is.len(), was.len() + 1, "{key}: one image added, once");
        let count = |h: &str| is.iter().filter(|l| l["sha256"] == h).count();
        assert_eq!(count(added), 1, "{key}");
        assert_eq!(count(edited), 1, "{key}");
        assert_eq!(is[1]["sha256"], edited.as_str(), "{key}");
        assert_eq!(is[1]["variants"], json!([format!("{key}-S")]), "{key}");
        assert_eq!(is.last().unwrap()["sha256"], added.as_str(), "{key}");
    }
    let after = env.writes();
    env.publish_writes_nothing(&path);
    assert_eq!(env.writes(), after);
    env.assert_requests_valid();
}

#[test]
fn pull_only_and_since_narrow_the_products() {
    let env = Env::new(config(), SMALL);
    let out = env.path("only");
    let (code, summary) = env.pull_with(&out, &["--only", "P-1", "P-2"]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["products"], 2);
    let lines = manifest(&out.join("manifest.ndjson"));
    assert!(lines
        .iter()
        .all(|l| l["product_key"] == "P-1" || l["product_key"] == "P-2"));
    assert_eq!(of(&lines, "P-1")[1]["variants"], json!(["P-1-S"]));
    for (since, products) in [("2000-01-01", PRODUCTS), ("2999-01-01", 0)] {
        let out = env.path(&format!("since-{since}"));
        let (code, summary) = env.pull_with(&out, &["--since", since]);
        assert_eq!(code, 0, "{summary}");
        assert_eq!(summary["products"], products, "--since {since}");
    }
    env.assert_requests_valid();
}

/// The scale: 200 products, 600 images (each product shows one of
/// 20 shared images): each distinct file downloaded once; a manifest of
/// 20 overwrites (variants' images), 20 appends, 20 copies, 20 identical
/// files and the rest skipped leaves every product as the actions say;
/// then zero writes.
#[test]
fn round_trip_of_200_products_and_600_images() {
    let env = Env::new(
        config(),
        Shape {
            products: 200,
            grouped: true,
            size: 2_000,
        },
    );
    let (code, summary) = env.pull("pulled");
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["products"], 200);
    assert_eq!(summary["images"], 600);
    assert_eq!(summary["downloaded"], 420, "{summary}");
    assert_eq!(summary["distinct"], 420);
    assert_eq!(summary["bytes_downloaded"], summary["bytes_distinct"]);
    assert_eq!(summary["duplicates"], 180);

    let path = env.path("pulled/manifest.ndjson");
    let pulled = manifest(&path);
    let mut lines = pulled.clone();
    std::fs::create_dir_all(env.path("pulled/edited")).unwrap();
    let id = |key: &str, n: usize| of(&pulled, key)[n]["image_id"].clone();
    let mut edits = BTreeMap::new();
    for i in 0..20 {
        let (over, add, copy, to, same) = (i, 20 + i, 40 + i, 60 + i, 80 + i);
        let edited = png(&format!("P-{over} edited"), 2_000);
        let added = png(&format!("P-{add} added"), 2_000);
        std::fs::write(env.path(&format!("pulled/edited/{over}.png")), &edited).unwrap();
        std::fs::write(env.path(&format!("pulled/edited/{add}.png")), &added).unwrap();
        edits.insert(over, sha256(&edited));
        edits.insert(add, sha256(&added));
        let (o, a, c, s) = (
            id(&format!("P-{over}"), 1),
            id(&format!("P-{add}"), 0),
            id(&format!("P-{copy}"), 0),
            id(&format!("P-{same}"), 0),
        );
        edit(
            &mut lines,
            &o,
            Edit::Overwrite(&format!("edited/{over}.png")),
        );
        edit(&mut lines, &a, Edit::Append(&format!("edited/{add}.png")));
        edit(&mut lines, &c, Edit::Copy(&[&format!("P-{to}")]));
        edit(&mut lines, &s, Edit::Identical);
    }
    write_manifest(&path, &lines);
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 60, "{log}");
    let unchanged = entries(&log, "unchanged").len();
    assert_eq!(unchanged, 20);

    let (_, now) = env.pull_lines("after");
    let shas = |lines: &[Value], key: &str| -> Vec<Value> {
        of(lines, key).iter().map(|l| l["sha256"].clone()).collect()
    };
    for i in 0..200 {
        let key = format!("P-{i}");
        let (was, is) = (shas(&pulled, &key), shas(&now, &key));
        match i {
            0..20 => {
                assert_eq!(is.len(), 3, "{key}");
                assert_eq!(is[0], was[0], "{key}");
                assert_eq!(is[1], json!(edits[&i]), "{key}");
                assert_eq!(is[2], was[2], "{key}");
                assert_eq!(of(&now, &key)[1]["variants"], json!([format!("{key}-S")]));
            }
            20..40 => {
                assert_eq!(is[..3], was[..], "{key}");
                assert_eq!(is[3..], [json!(edits[&i])], "{key}");
            }
            60..80 => {
                let from = shas(&pulled, &format!("P-{}", i - 20));
                assert_eq!(is[..3], was[..], "{key}");
                assert_eq!(is[3..], [from[0].clone()], "{key}");
                assert_eq!(of(&now, &key)[3]["alt"], format!("Front {}", i - 20));
            }
            _ => assert_eq!(is, was, "{key}"),
        }
    }
    let writes = env.writes();
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 0);
    assert_eq!(env.writes(), writes);
}

/// Not a test: the BigCommerce figures of docs/images.md (`cargo test
/// --test sync images_bigcommerce::figures -- --ignored --nocapture`).
/// 200 products, 600 images (each product shows one of 20 shared images),
/// 20 KB files; the store's quota 150 requests per 3 s window (the share
/// of a Standard plan's 150 per 30 s, ten times faster): images per
/// second pulled and published, requests per image, bytes downloaded
/// against the distinct bytes in the store.
#[test]
#[ignore]
fn figures() {
    let env = Env::new(
        BcConfig {
            quota: Some(150),
            window: Duration::from_secs(3),
            ..config()
        },
        Shape {
            products: 200,
            grouped: true,
            size: 20_000,
        },
    );
    let stats = |env: &Env| env.store().stats();
    let before = stats(&env).requests;
    let started = std::time::Instant::now();
    let (code, summary) = env.pull("pulled");
    let pull_time = started.elapsed();
    assert_eq!(code, 0, "{summary}");
    let pull_requests = stats(&env).requests - before;
    let images = summary["images"].as_u64().unwrap();
    let ratio =
        summary["bytes_downloaded"].as_f64().unwrap() / summary["bytes_distinct"].as_f64().unwrap();
    println!(
        "pull: {images} images of {} products in {:.1} s = {:.1} images/s; {pull_requests} API requests; {} files downloaded, {} distinct; bytes downloaded / distinct bytes = {ratio:.3}",
        summary["products"],
        pull_time.as_secs_f64(),
        images as f64 / pull_time.as_secs_f64(),
        summary["downloaded"],
        summary["distinct"],
    );

    // 100 products: the variant's image overwritten, a new file appended.
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    append_first_overwrite_second(
        &env.path("pulled"),
        &mut lines,
        0..100,
        |key| png(&format!("{key} added"), 20_000),
        |key| png(&format!("{key} edited"), 20_000),
    );
    write_manifest(&path, &lines);
    let before = stats(&env);
    let started = std::time::Instant::now();
    let (code, log) = env.publish(&path, &[]);
    let publish_time = started.elapsed();
    assert_eq!(code, 0, "{log}");
    let after = stats(&env);
    let written = log["written"].as_u64().unwrap();
    assert_eq!(written, 200);
    println!(
        "publish: {written} images (100 overwrites of a variant's image, 100 appends) in {:.1} s = {:.1} images/s; {} API requests ({:.1} per image), {} throttled (429), at most {} in one window of 150",
        publish_time.as_secs_f64(),
        written as f64 / publish_time.as_secs_f64(),
        after.requests - before.requests,
        (after.requests - before.requests) as f64 / written as f64,
        after.throttled - before.throttled,
        after.max_in_window,
    );
    let started = std::time::Instant::now();
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 0);
    println!(
        "publish again: 0 writes, {} API requests, {:.2} s",
        stats(&env).requests - after.requests,
        started.elapsed().as_secs_f64()
    );
}
