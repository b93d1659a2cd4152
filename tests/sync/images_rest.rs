//! `mapsync images pull` / `publish` end to end on a `rest` target: the
//! real binary against the emulated store (the PIM sandbox with product
//! key `id`, in process, on 127.0.0.1), whose products' images come from
//! a local HTTP server started here too. Edited files reach the store by
//! the target's `images.upload` (a multipart `POST /files`, answered with
//! the URL the store serves the file at), then `images.add` /
//! `images.overwrite` send that URL. Checked through the store's request
//! counters, the hashes of the files that arrived, and by pulling it
//! again.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::Duration;

use mapsync::sandbox::pim::{self, PimConfig, PimHandle};
use serde_json::{json, Value};

use crate::images_support::{
    append_first_overwrite_second, assert_duplicates_marked, assert_file_named_by_hash,
    assert_pull_summary, entries, manifest, of, png as padded, product_images, sha256,
    write_manifest, Images, Mixed, Project, Shape, PRODUCTS, SHARING, SMALL,
};

const TOKEN: &str = "store-token";

/// Requests that change the store (or upload to it).
const WRITES: &[&str] = &[
    "POST /products/{key}/images",
    "PUT /images/{id}",
    "DELETE /images/{id}",
    "POST /files",
];

/// A PNG-signed file with `tag` as its content.
fn png(tag: &str) -> Vec<u8> {
    padded(tag, 0)
}

struct Env {
    rt: tokio::runtime::Runtime,
    pim: Option<PimHandle>,
    images: Images,
    project: Project,
}

impl Deref for Env {
    type Target = Project;
    fn deref(&self) -> &Project {
        &self.project
    }
}

/// The `rest` target on the PIM: products by page of 3, images with alt
/// text, uploads as multipart forms.
fn target(url: &str) -> String {
    format!(
        r#"    target:
      type: rest
      base_url: "{url}"
      auth: {{ bearer: "${{STORE_TOKEN}}" }}
      timeout: 5s
      backoff: 10ms
      entities:
        product:
          list: {{ path: /products, records: data, id: id, key: external_id, key_param: "filter[external_id]" }}
          paging: {{ style: page, page: page, size: per_page, max: 3 }}
          get: {{ path: "/products/{{{{ id }}}}", record: data }}
          create: {{ method: POST, path: /products, id: data.id }}
          update: {{ method: PUT, path: "/products/{{{{ id }}}}" }}
          since: {{ param: updated_since, field: LastUpdated }}
      images:
        list: {{ path: "/products/{{{{ product_id }}}}/images", records: data, id: id, url: url, position: position, alt: alt }}
        add: {{ method: POST, path: "/products/{{{{ product_id }}}}/images" }}
        overwrite: {{ method: PUT, path: "/images/{{{{ image_id }}}}" }}
        delete: {{ method: DELETE, path: "/images/{{{{ image_id }}}}" }}
        upload: {{ method: POST, path: /files, encoding: multipart, field: file, url: data.url }}
"#
    )
}

impl Env {
    fn new() -> Env {
        Env::shaped(SMALL, Duration::ZERO)
    }

    /// A store of `shape` answering each request after `latency`.
    fn shaped(shape: Shape, latency: Duration) -> Env {
        let rt = crate::images_support::runtime();
        let images = Images::start(&rt, shape);
        // P-0..P-7 (ids 100..107): two images each (the first with alt
        // text), the shared image on the first four, p0-1's bytes under
        // another URL on P-5 (grouped: one of the shared images each).
        let products: Vec<Value> = (0..shape.products)
            .map(|i| {
                let list: Vec<Value> = product_images(shape, i)
                    .into_iter()
                    .map(|(name, alt)| match alt {
                        Some(alt) => json!({"url": images.url_of(&name), "alt": alt}),
                        None => json!({"url": images.url_of(&name)}),
                    })
                    .collect();
                json!({"id": format!("10{i}"), "external_id": format!("P-{i}"), "title": format!("Product {i}"), "Images": list})
            })
            .collect();
        let pim = rt
            .block_on(pim::start(PimConfig {
                token: Some(TOKEN.into()),
                category_key: "id".into(),
                product_key: "id".into(),
                catalog: Some(json!({"categories": [], "products": products})),
                latency,
                ..PimConfig::default()
            }))
            .unwrap();
        let project = Project::new(
            "mappings/rest-store",
            &target(&pim.url()),
            vec![("STORE_TOKEN", TOKEN.into())],
            &[],
        );
        Env {
            rt,
            pim: Some(pim),
            images,
            project,
        }
    }

    fn pim(&self) -> &PimHandle {
        self.pim.as_ref().unwrap()
    }

    /// Writes (and uploads) the store answered, by route.
    fn writes(&self) -> BTreeMap<String, u64> {
        let stats = self.pim().stats();
        WRITES
            .iter()
            .map(|r| {
                let n = stats
                    .by_route
                    .get(*r)
                    .map(|m| m.values().sum())
                    .unwrap_or(0);
                (r.to_string(), n)
            })
            .collect()
    }

    /// The files uploaded to the store, by the SHA-256 of the bytes that
    /// arrived: how many.
    fn arrived(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for f in self.pim().files() {
            *out.entry(f.sha256).or_default() += 1;
        }
        out
    }

    /// The URLs of product `id`'s images in the store, in order.
    fn urls(&self, id: &str) -> Vec<String> {
        let snap = self.pim().snapshot();
        let p = snap["products"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("no product {id}: {snap}"));
        p["Images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["url"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(p) = self.pim.take() {
            let _ = self.rt.block_on(p.shutdown());
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
    assert_eq!(hits.len(), PRODUCTS * 2 + 2);

    let lines = manifest(&env.path("pulled/manifest.ndjson"));
    assert_eq!(lines.len(), images);
    let p0 = of(&lines, "P-0");
    assert_eq!(p0.len(), 3);
    assert_eq!(p0[0]["product_id"], "100");
    assert_eq!(p0[0]["alt"], "Front 0");
    assert_eq!(p0[1]["alt"], Value::Null);
    assert_eq!(p0[0]["action"], "skip");
    for l in &lines {
        assert_file_named_by_hash(&env.path("pulled"), l);
    }
    assert_duplicates_marked(&lines);

    // Resumable: a second pull downloads nothing.
    let (code, summary) = env.pull("pulled");
    assert_eq!(code, 0);
    assert_eq!(summary["downloaded"], 0);
    assert_eq!(env.images.hits(), hits);
    assert_eq!(manifest(&env.path("pulled/manifest.ndjson")), lines);
    // A pull writes nothing.
    assert!(env.writes().values().all(|&n| n == 0), "{:?}", env.writes());
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
    let delta = |k: &str| after[k] - before[k];
    assert_eq!(delta("PUT /images/{id}"), 1, "{after:?}");
    assert_eq!(delta("POST /products/{key}/images"), 3, "{after:?}");
    assert_eq!(delta("DELETE /images/{id}"), 0, "{after:?}");
    // The copy's file is uploaded once for its two products.
    assert_eq!(delta("POST /files"), 3, "{after:?}");

    // What arrived, as the store keeps it: the hash of each uploaded file.
    let copied = of(lines, "P-2")[0]["sha256"].as_str().unwrap().to_owned();
    let arrived = env.arrived();
    let want: BTreeMap<String, usize> = [sha256(overwritten), sha256(appended), copied.clone()]
        .into_iter()
        .map(|h| (h, 1))
        .collect();
    assert_eq!(arrived, want);

    // The store ends as the actions say: pulled again, byte for byte.
    let (_, now) = env.pull_lines("after");
    mixed.assert_published(&now);
    assert!(env.urls("100")[1].contains(&format!("mapsync-img-{}", sha256(overwritten))));
    assert_eq!(
        of(&now, "P-1")[3]["alt"],
        Value::Null,
        "an append has no alt text"
    );

    // The same manifest again: zero writes, even without the state store
    // (the store shows the published files: their names, with the hash,
    // are in the images' URLs).
    mixed.assert_again_writes_nothing(&env, || env.writes(), &after);
    mixed.assert_pull_again_keeps_actions(&env);
}

/// `--since` reaches the store as `updated_since` (the target's
/// `entities.product.since`): a date before the catalog lists every
/// product, one after it none, at the cost of one listing request.
#[test]
fn pull_since_narrows_the_products() {
    let env = Env::new();
    for (since, products) in [("2000-01-01", PRODUCTS), ("2999-01-01T00:00:00Z", 0)] {
        let out = env.path(&format!("since-{}", &since[..4]));
        let (code, summary) = env.pull_with(&out, &["--since", since]);
        assert_eq!(code, 0, "{summary}");
        assert_eq!(summary["products"], products, "--since {since}: {summary}");
    }
    let out = env.path("since-bad");
    let args = [
        "images",
        "pull",
        "--profile",
        "img",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = env
        .command(&[&args[..], &["--since", "yesterday"]].concat())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_ne!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("`yesterday` is not a date"), "{stderr}");
}

#[test]
fn without_an_upload_request_each_edited_file_fails_with_exit_3() {
    let env = Env::new();
    let project = std::fs::read_to_string(env.path("mapsync.yaml")).unwrap();
    let project: String = project
        .lines()
        .filter(|l| !l.trim_start().starts_with("upload:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(env.path("mapsync.yaml"), project).unwrap();
    let (code, _) = env.pull("pulled");
    assert_eq!(code, 0);
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    std::fs::create_dir_all(env.path("pulled/edited")).unwrap();
    std::fs::write(env.path("pulled/edited/new.png"), png("new")).unwrap();
    lines[0]["action"] = json!("append");
    lines[0]["edited_file"] = json!("edited/new.png");
    write_manifest(&path, &lines);
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 3, "{log}");
    assert_eq!(log["failed"], 1, "{log}");
    let failed = entries(&log, "failed")[0];
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("images.upload"),
        "{failed}"
    );
    assert!(env.writes().values().all(|&n| n == 0));
}

/// A publish killed (SIGKILL) midway, then run again: every image ends
/// published exactly once — no append made twice, every overwrite done.
#[test]
fn a_publish_killed_midway_resumes_without_an_image_twice() {
    let env = Env::shaped(SMALL, Duration::from_millis(40));
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
    let count =
        |w: &BTreeMap<String, u64>| w["POST /products/{key}/images"] + w["PUT /images/{id}"];
    let before = count(&env.writes());
    env.publish_killed_at(
        &path,
        || count(&env.writes()),
        before + 5,
        Duration::from_millis(5),
    );
    let killed_at = count(&env.writes()) - before;
    assert!(
        killed_at < 2 * PRODUCTS as u64,
        "killed too late: {killed_at}"
    );

    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    // Together, the killed and the resumed publish wrote each image once
    // (one in flight at the kill may be sent again: an overwrite is the
    // same URL again, an append is found in the store by its file name).
    assert!(count(&env.writes()) - before <= 2 * PRODUCTS as u64 + 4);

    let (_, now) = env.pull_lines("after");
    for (key, (added, edited)) in &expect {
        let was = of(&lines, key);
        let is = of(&now, key);
        assert_eq!(is.len(), was.len() + 1, "{key}: one image added, once");
        let added_count = is.iter().filter(|l| l["sha256"] == added.as_str()).count();
        assert_eq!(added_count, 1, "{key}");
        assert_eq!(is[1]["image_id"], was[1]["image_id"], "{key}");
        assert_eq!(is[1]["sha256"], edited.as_str(), "{key}");
    }
    let after = env.writes();
    env.publish_writes_nothing(&path);
    assert_eq!(env.writes(), after);
}

/// Not a test: a measurement (docs/images.md, "On a `rest` target"). The
/// issue's store: 200 products, 600 images, 420 distinct files of 20 KB;
/// pull, publish 100 overwrites and 100 appends, publish again.
#[test]
#[ignore]
fn figures() {
    let env = Env::shaped(
        Shape {
            products: 200,
            grouped: true,
            size: 20_000,
        },
        Duration::ZERO,
    );
    let requests = || env.pim().stats().requests;
    let started = std::time::Instant::now();
    let (code, summary) = env.pull("pulled");
    let pull = started.elapsed();
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["images"], 600);
    assert!(env.images.hits().values().all(|&n| n == 1));
    println!(
        "pull: {} images of {} products in {:.2} s = {:.0} images/s; {} distinct files; bytes downloaded / distinct bytes = {:.3}; {} API requests",
        summary["images"],
        summary["products"],
        pull.as_secs_f64(),
        600.0 / pull.as_secs_f64(),
        summary["distinct"],
        summary["bytes_downloaded"].as_f64().unwrap() / summary["bytes_distinct"].as_f64().unwrap(),
        requests(),
    );
    let path = env.path("pulled/manifest.ndjson");
    let mut lines = manifest(&path);
    std::fs::create_dir_all(env.path("pulled/edited")).unwrap();
    let (mut overwrites, mut appends) = (0, 0);
    for (n, l) in lines.iter_mut().enumerate() {
        let action = match n % 6 {
            0 => "overwrite",
            1 => "append",
            _ => continue,
        };
        let name = format!("edited/{n}.png");
        std::fs::write(
            env.path("pulled").join(&name),
            padded(&format!("{action} {n}"), 20_000),
        )
        .unwrap();
        l["action"] = json!(action);
        l["edited_file"] = json!(name);
        if action == "overwrite" {
            overwrites += 1;
        } else {
            appends += 1;
        }
    }
    write_manifest(&path, &lines);
    let before = requests();
    let started = std::time::Instant::now();
    let (code, log) = env.publish(&path, &[]);
    let publish = started.elapsed();
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], overwrites + appends);
    let spent = requests() - before;
    println!(
        "publish: {overwrites} overwrites + {appends} appends in {:.2} s = {:.1} images/s; {spent} API requests ({:.2} per image)",
        publish.as_secs_f64(),
        f64::from(overwrites + appends) / publish.as_secs_f64(),
        spent as f64 / f64::from(overwrites + appends),
    );
    let writes = env.writes();
    let started = std::time::Instant::now();
    let before = requests();
    let (code, log) = env.publish(&path, &[]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(log["written"], 0);
    assert_eq!(env.writes(), writes);
    println!(
        "publish again: 0 writes, {} API requests, {:.2} s",
        requests() - before,
        started.elapsed().as_secs_f64()
    );
}
