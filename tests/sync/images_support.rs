//! What the image round-trip tests share (`images_cli`, `images_bigcommerce`,
//! `images_rest`): the local image server the stores fetch from, the PNG
//! files, the project folder and the `mapsync` binary run in it, the
//! manifests and the edits the tests make to them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};

/// Products seeded.
pub(crate) const PRODUCTS: usize = 8;
/// Products that also show the shared image.
pub(crate) const SHARING: usize = 4;
/// Shared images of a grouped store.
pub(crate) const GROUPS: usize = 20;

/// The store a test seeds: how many products, whether every product
/// shows one of [`GROUPS`] shared images (else the first [`SHARING`]
/// share one, and P-5 shows p0-1's bytes under another URL), and the size
/// of each file.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub products: usize,
    pub grouped: bool,
    pub size: usize,
}

pub(crate) const SMALL: Shape = Shape {
    products: PRODUCTS,
    grouped: false,
    size: 0,
};

/// A PNG-signed file with `tag` as its content, padded to `size` bytes.
pub(crate) fn png(tag: &str, size: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(tag.as_bytes());
    if b.len() < size {
        b.resize(size, b'.');
    }
    b
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    mapsync_images::sha256_hex(bytes)
}

pub(crate) use crate::support::runtime;

/// The images of product `i` of a store of `shape`, in order: the file
/// name on the image server and the alt text. Two images each (the first
/// with alt text), then the shared image on the first [`SHARING`] (or one
/// of [`GROUPS`] on each), and p0-1's bytes under another URL on P-5.
pub(crate) fn product_images(shape: Shape, i: usize) -> Vec<(String, Option<String>)> {
    let mut list = vec![
        (format!("p{i}-1.png"), Some(format!("Front {i}"))),
        (format!("p{i}-2.png"), None),
    ];
    if shape.grouped {
        list.push((format!("shared-{}.png", i % GROUPS), None));
    } else if i < SHARING {
        list.push(("shared.png".into(), None));
    }
    if i == 5 && !shape.grouped {
        list.push(("again.png".into(), None));
    }
    list
}

type Files = Arc<Mutex<BTreeMap<String, (Vec<u8>, u64)>>>;

/// The image server: files by name, and how often each was fetched.
pub(crate) struct Images {
    pub url: String,
    files: Files,
}

impl Images {
    /// Serves, on 127.0.0.1, the files of a store of `shape`.
    pub(crate) fn start(rt: &tokio::runtime::Runtime, shape: Shape) -> Images {
        let files: Files = Arc::default();
        {
            let mut f = files.lock().unwrap();
            for i in 0..shape.products {
                for n in 1..=2 {
                    let tag = format!("p{i}-{n}");
                    f.insert(format!("{tag}.png"), (png(&tag, shape.size), 0));
                }
            }
            f.insert("shared.png".into(), (png("shared", shape.size), 0));
            for g in 0..GROUPS {
                let tag = format!("shared-{g}");
                f.insert(format!("{tag}.png"), (png(&tag, shape.size), 0));
            }
            // The bytes of p0-1 under another name: a duplicate by content.
            f.insert("again.png".into(), (png("p0-1", shape.size), 0));
        }
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/img/{name}", axum::routing::get(serve_file))
            .with_state(files.clone());
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Images { url, files }
    }

    /// The URL of file `name`.
    pub(crate) fn url_of(&self, name: &str) -> String {
        format!("{}/img/{name}", self.url)
    }

    /// Fetches per file, of the files fetched at all.
    pub(crate) fn hits(&self) -> BTreeMap<String, u64> {
        self.files
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(k, (_, n))| (k.clone(), *n))
            .collect()
    }
}

async fn serve_file(
    State(files): State<Files>,
    UrlPath(name): UrlPath<String>,
) -> impl IntoResponse {
    let mut files = files.lock().unwrap();
    match files.get_mut(&name) {
        Some((bytes, hits)) => {
            *hits += 1;
            (
                StatusCode::OK,
                [("content-type", "image/png")],
                bytes.clone(),
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Products P-0..P-n of `shape` in the emulated Shopify store at `store`,
/// with their [`product_images`] served by `images`: two images each (the
/// second linked to variant P-i-S, the first with alt text), and what
/// `shape` shares.
pub(crate) fn seed_shopify(
    rt: &tokio::runtime::Runtime,
    store: &str,
    images: &Images,
    shape: Shape,
) {
    let url = format!("{store}/admin/api/2026-04/graphql.json");
    for i in 0..shape.products {
        let files: Vec<Value> = product_images(shape, i)
            .into_iter()
            .map(|(name, alt)| {
                let url = images.url_of(&name);
                match alt {
                    Some(alt) => {
                        json!({"originalSource": url, "alt": alt, "contentType": "IMAGE"})
                    }
                    None => json!({"originalSource": url, "contentType": "IMAGE"}),
                }
            })
            .collect();
        let input = json!({
            "title": format!("Product {i}"),
            "productOptions": [{"name": "Size", "values": [{"name": "S"}, {"name": "M"}]}],
            "variants": [
                {"optionValues": [{"optionName": "Size", "name": "S"}], "price": "10.00", "sku": format!("P-{i}-S"),
                 "file": {"originalSource": images.url_of(&format!("p{i}-2.png")), "contentType": "IMAGE"}},
                {"optionValues": [{"optionName": "Size", "name": "M"}], "price": "10.00", "sku": format!("P-{i}-M")},
            ],
            "files": files,
            "metafields": [{"namespace": "mapsync", "key": "key", "type": "single_line_text_field", "value": format!("P-{i}")}],
        });
        let body = json!({
            "query": "mutation($i: ProductSetInput!) { productSet(input: $i, synchronous: true) { product { id } userErrors { field message } } }",
            "variables": { "i": input },
        });
        // Seeding many products meets the store's rate limit: wait.
        let answer = loop {
            let answer = crate::support::graphql_post(rt, &url, &body);
            if answer["errors"][0]["extensions"]["code"] != "THROTTLED" {
                break answer;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        assert_eq!(
            answer["data"]["productSet"]["userErrors"],
            json!([]),
            "{answer}"
        );
    }
}

/// A project folder with profile `img` (an empty file source, the
/// mapping copied from `mapping`, `target` the profile's target lines)
/// and the `mapsync` binary run in it with `vars` set and `removed` unset.
pub(crate) struct Project {
    dir: tempfile::TempDir,
    vars: Vec<(&'static str, String)>,
    removed: &'static [&'static str],
}

impl Project {
    /// A project whose profile `img` has the demo mapping and the emulated
    /// Shopify store at `store` as its target, run with `removed` unset.
    pub(crate) fn shopify(store: &str, removed: &'static [&'static str]) -> Project {
        Project::new(
            "mappings/demo",
            &format!(
                "    target: {{ type: shopify, url: \"{store}\", token: \"${{E2E_TOKEN}}\" }}\n"
            ),
            vec![("E2E_TOKEN", "e2e-token".into())],
            removed,
        )
    }

    pub(crate) fn new(
        mapping: &str,
        target: &str,
        vars: Vec<(&'static str, String)>,
        removed: &'static [&'static str],
    ) -> Project {
        let dir = tempfile::tempdir().unwrap();
        crate::project::copy_dir(Path::new(mapping), &dir.path().join("mapping"));
        std::fs::write(dir.path().join("catalog.json"), r#"{"products": []}"#).unwrap();
        let project = format!(
            "mapsync: 1\nprofiles:\n  img:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n{target}    state: sqlite:.mapsync/state.db\n"
        );
        std::fs::write(dir.path().join("mapsync.yaml"), project).unwrap();
        Project { dir, vars, removed }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mapsync"));
        c.arg("--project")
            .arg(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1");
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c.env_remove("RUST_LOG");
        for k in self.removed {
            c.env_remove(k);
        }
        c
    }

    /// Runs mapsync with `--format json`: exit code and the JSON it printed.
    pub(crate) fn run_json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.command(&all).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON ({e}); exit {:?}; stdout: {stdout}; stderr: {stderr}",
                out.status
            )
        });
        (out.status.code().unwrap_or(-1), value)
    }

    pub(crate) fn pull(&self, dir: &str) -> (i32, Value) {
        self.pull_with(&self.path(dir), &[])
    }

    /// `images pull --out DIR` and `extra` (e.g. `--only` or `--since`).
    pub(crate) fn pull_with(&self, out: &Path, extra: &[&str]) -> (i32, Value) {
        let mut args = vec![
            "images",
            "pull",
            "--profile",
            "img",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.run_json(&args)
    }

    /// `images publish MANIFEST`, not run yet (no `--format json`).
    pub(crate) fn publish_command(&self, manifest: &Path) -> Command {
        self.command(&publish_args(manifest))
    }

    pub(crate) fn publish(&self, manifest: &Path, extra: &[&str]) -> (i32, Value) {
        let mut args = publish_args(manifest);
        args.extend_from_slice(extra);
        self.run_json(&args)
    }

    /// Publishes `manifest` and checks it wrote nothing: exit 0, no
    /// line written.
    pub(crate) fn publish_writes_nothing(&self, manifest: &Path) {
        let (code, log) = self.publish(manifest, &[]);
        assert_eq!(code, 0, "{log}");
        assert_eq!(log["written"], 0, "{log}");
    }

    /// Starts a publish of `manifest` and kills it (SIGKILL) once
    /// `writes()` reached `at` (or it ended first), polling every `poll`.
    pub(crate) fn publish_killed_at(
        &self,
        manifest: &Path,
        writes: impl Fn() -> u64,
        at: u64,
        poll: Duration,
    ) {
        let mut child = self
            .publish_command(manifest)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while writes() < at {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the publish never wrote"
            );
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(poll);
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Pulls into `dir` (exit 0): the summary and the manifest's lines.
    pub(crate) fn pull_lines(&self, dir: &str) -> (Value, Vec<Value>) {
        let (code, summary) = self.pull(dir);
        assert_eq!(code, 0, "{summary}");
        (summary, manifest(&self.path(dir).join("manifest.ndjson")))
    }
}

fn publish_args(manifest: &Path) -> Vec<&str> {
    vec![
        "images",
        "publish",
        "--profile",
        "img",
        manifest.to_str().unwrap(),
    ]
}

pub(crate) fn manifest(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn write_manifest(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The lines of product `key`, by position.
pub(crate) fn of<'a>(lines: &'a [Value], key: &str) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = lines.iter().filter(|l| l["product_key"] == key).collect();
    v.sort_by_key(|l| l["position"].as_u64());
    v
}

/// The image ids of product `key`, by position.
pub(crate) fn ids(lines: &[Value], key: &str) -> Vec<Value> {
    of(lines, key)
        .iter()
        .map(|l| l["image_id"].clone())
        .collect()
}

/// A pulled line's file: under files/, named by its SHA-256, whose bytes
/// (in `pulled`) have that hash.
pub(crate) fn assert_file_named_by_hash(pulled: &Path, l: &Value) -> Vec<u8> {
    let file = l["file"].as_str().unwrap();
    let sha = l["sha256"].as_str().unwrap();
    assert_eq!(file, format!("files/{}/{sha}.png", &sha[..2]));
    let bytes = std::fs::read(pulled.join(file)).unwrap();
    assert_eq!(sha256(&bytes), sha);
    bytes
}

/// The entries of a publish log whose outcome is `outcome`.
pub(crate) fn entries<'a>(log: &'a Value, outcome: &str) -> Vec<&'a Value> {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == outcome)
        .collect()
}

/// (target, outcome) of each entry of a publish log not skipped.
pub(crate) fn outcomes(log: &Value) -> Vec<(String, String)> {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] != "skipped")
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Owned pairs, to compare with [`outcomes`].
pub(crate) fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Per product P-i of `products`: its first image appended a new file
/// (`edited/P-i-new.png`, `new(key)`), its second overwritten
/// (`edited/P-i-2.png`, `edited(key)`), both written under `pulled`.
/// The SHA-256 of the new and of the edited file, by product key.
pub(crate) fn append_first_overwrite_second(
    pulled: &Path,
    lines: &mut [Value],
    products: std::ops::Range<usize>,
    new: impl Fn(&str) -> Vec<u8>,
    edited: impl Fn(&str) -> Vec<u8>,
) -> BTreeMap<String, (String, String)> {
    std::fs::create_dir_all(pulled.join("edited")).unwrap();
    let mut expect = BTreeMap::new();
    for i in products {
        let key = format!("P-{i}");
        let ids = ids(lines, &key);
        let new = new(&key);
        let edited = edited(&key);
        std::fs::write(pulled.join(format!("edited/{key}-new.png")), &new).unwrap();
        std::fs::write(pulled.join(format!("edited/{key}-2.png")), &edited).unwrap();
        edit(
            lines,
            &ids[0],
            Edit::Append(&format!("edited/{key}-new.png")),
        );
        edit(
            lines,
            &ids[1],
            Edit::Overwrite(&format!("edited/{key}-2.png")),
        );
        expect.insert(key, (sha256(&new), sha256(&edited)));
    }
    expect
}

/// What a test makes a manifest line do.
pub(crate) enum Edit<'a> {
    /// Overwrite the image with this file (relative to the manifest).
    Overwrite(&'a str),
    /// Append this file to the product.
    Append(&'a str),
    /// Copy the pulled file to these products.
    Copy(&'a [&'a str]),
    /// Overwrite the image with the pulled file itself (identical).
    Identical,
}

/// Sets the action of the line of image `id` (there is one).
pub(crate) fn edit(lines: &mut [Value], id: &Value, edit: Edit) {
    let l = lines
        .iter_mut()
        .find(|l| &l["image_id"] == id)
        .unwrap_or_else(|| panic!("no line of image {id}"));
    match edit {
        Edit::Overwrite(file) => {
            l["action"] = json!("overwrite");
            l["edited_file"] = json!(file);
        }
        Edit::Append(file) => {
            l["action"] = json!("append");
            l["edited_file"] = json!(file);
        }
        Edit::Copy(to) => {
            l["action"] = json!("copy");
            l["copy_to"] = json!(to);
        }
        Edit::Identical => {
            l["action"] = json!("overwrite");
            l["edited_file"] = l["file"].clone();
        }
    }
}

/// The mixed manifest the Shopify and `rest` tests publish, written over
/// the pull in `pulled/`: P-0's second image overwritten, a new file
/// appended to P-1, P-2's first image copied to P-3 and P-4, P-5's first
/// image overwritten with the pulled file itself (no request).
pub(crate) struct Mixed {
    pub path: PathBuf,
    /// The lines as pulled (but for the actions).
    pub lines: Vec<Value>,
    /// P-0's second image.
    pub p0_2: Value,
    pub overwritten: Vec<u8>,
    pub appended: Vec<u8>,
}

impl Mixed {
    pub(crate) fn write(project: &Project) -> Mixed {
        let (code, _) = project.pull("pulled");
        assert_eq!(code, 0);
        let path = project.path("pulled/manifest.ndjson");
        let mut lines = manifest(&path);
        let id_of =
            |lines: &[Value], key: &str, pos: usize| of(lines, key)[pos]["image_id"].clone();
        let p0_2 = id_of(&lines, "P-0", 1);
        let p1_1 = id_of(&lines, "P-1", 0);
        let p2_1 = id_of(&lines, "P-2", 0);
        let p5_1 = id_of(&lines, "P-5", 0);
        std::fs::create_dir_all(project.path("pulled/edited")).unwrap();
        let overwritten = png("p0-2 edited", 0);
        let appended = png("p1 new angle", 0);
        std::fs::write(project.path("pulled/edited/p0-2.png"), &overwritten).unwrap();
        std::fs::write(project.path("pulled/edited/p1-new.png"), &appended).unwrap();
        edit(&mut lines, &p0_2, Edit::Overwrite("edited/p0-2.png"));
        edit(&mut lines, &p1_1, Edit::Append("edited/p1-new.png"));
        edit(&mut lines, &p2_1, Edit::Copy(&["P-3", "P-4"]));
        // Identical to what the store holds: no request.
        edit(&mut lines, &p5_1, Edit::Identical);
        write_manifest(&path, &lines);
        Mixed {
            path,
            lines,
            p0_2,
            overwritten,
            appended,
        }
    }

    /// Publishes the manifest: a dry run first (no write, each line's
    /// outcome), then for real (4 lines written, none failed). The store's
    /// `writes()` before and after.
    pub(crate) fn publish<T: PartialEq + std::fmt::Debug>(
        &self,
        project: &Project,
        writes: impl Fn() -> T,
    ) -> (T, T) {
        let before = writes();

        // Dry run: each image's action, no write.
        let (code, plan) = project.publish(&self.path, &["--dry-run"]);
        assert_eq!(code, 0, "{plan}");
        assert_eq!(writes(), before);
        self.assert_plan(&plan);

        // Publish.
        let (code, log) = project.publish(&self.path, &[]);
        assert_eq!(code, 0, "{log}");
        assert_eq!(log["written"], 4, "{log}");
        assert_eq!(log["failed"], 0);
        (before, writes())
    }

    /// The same manifest again writes nothing (`writes()` stays `after`),
    /// even without the state store: the store shows the published files.
    pub(crate) fn assert_again_writes_nothing<T: PartialEq + std::fmt::Debug>(
        &self,
        project: &Project,
        writes: impl Fn() -> T,
        after: &T,
    ) {
        project.publish_writes_nothing(&self.path);
        assert_eq!(&writes(), after);
        std::fs::remove_file(project.path(".mapsync/state.db")).unwrap();
        project.publish_writes_nothing(&self.path);
        assert_eq!(&writes(), after);
    }

    /// Pulled again into the same folder, after the publish: the actions
    /// of images the store still holds unchanged are kept (P-1's append,
    /// P-2's copy, P-5's identical overwrite), the overwritten image's is
    /// reset to skip (its bytes changed) and the earlier manifest is kept
    /// beside the new one.
    pub(crate) fn assert_pull_again_keeps_actions(&self, project: &Project) {
        let earlier = std::fs::read_to_string(&self.path).unwrap();
        let (code, summary) = project.pull("pulled");
        assert_eq!(code, 0, "{summary}");
        assert_eq!(summary["kept_actions"], 3, "{summary}");
        assert_eq!(summary["reset_actions"], 1, "{summary}");
        let previous = self.path.with_file_name("manifest.previous.ndjson");
        assert_eq!(std::fs::read_to_string(previous).unwrap(), earlier);
        let now = manifest(&self.path);
        let action = |key: &str, pos: usize| {
            let l = &of(&now, key)[pos];
            (
                l["action"].as_str().unwrap().to_owned(),
                l["edited_file"].clone(),
                l["copy_to"].clone(),
            )
        };
        assert_eq!(action("P-0", 1), ("skip".into(), Value::Null, json!([])));
        assert_eq!(
            action("P-1", 0),
            ("append".into(), json!("edited/p1-new.png"), json!([]))
        );
        assert_eq!(
            action("P-2", 0),
            ("copy".into(), Value::Null, json!(["P-3", "P-4"]))
        );
        assert_eq!(action("P-5", 0).0, "overwrite");
    }

    /// The dry run's outcome of each line not skipped.
    fn assert_plan(&self, plan: &Value) {
        assert_eq!(
            outcomes(plan),
            pairs(&[
                ("P-0", "would_overwrite"),
                ("P-1", "would_append"),
                ("P-3", "would_append"),
                ("P-4", "would_append"),
                ("P-5", "unchanged"),
            ])
        );
    }

    /// The store, pulled again after the publish (`now`), ends as the
    /// actions say.
    pub(crate) fn assert_published(&self, now: &[Value]) {
        let lines = &self.lines;
        let p0 = of(now, "P-0");
        assert_eq!(p0.len(), 3);
        assert_eq!(p0[1]["image_id"], self.p0_2, "same image, same place");
        assert_eq!(p0[1]["sha256"], sha256(&self.overwritten));
        assert_eq!(p0[0]["alt"], "Front 0");
        let p1 = of(now, "P-1");
        assert_eq!(p1.len(), 4);
        assert_eq!(p1[3]["sha256"], sha256(&self.appended));
        assert_eq!(p1[0]["sha256"], of(lines, "P-1")[0]["sha256"]);
        let copied = &of(lines, "P-2")[0]["sha256"];
        for key in ["P-3", "P-4"] {
            let p = of(now, key);
            let was = of(lines, key).len();
            assert_eq!(p.len(), was + 1, "{key}");
            assert_eq!(&p[was]["sha256"], copied, "{key}");
            assert_eq!(p[was]["alt"], "Front 2", "a copy keeps the alt text");
        }
        assert_eq!(of(now, "P-2").len(), 3);
        // P-5 unchanged: same images, same bytes.
        for l in of(lines, "P-5") {
            let n = now.iter().find(|n| n["image_id"] == l["image_id"]).unwrap();
            assert_eq!(n["sha256"], l["sha256"]);
        }
    }
}

/// A first pull of the small store whose image server serves each URL
/// (`hits`) once: the summary's counts.
pub(crate) fn assert_pull_summary(summary: &Value, hits: &BTreeMap<String, u64>) {
    let images = PRODUCTS * 2 + SHARING + 1;
    assert_eq!(summary["products"], PRODUCTS);
    assert_eq!(summary["images"], images);
    // Each URL once: the shared image is fetched once for four products.
    assert!(hits.values().all(|&n| n == 1), "{hits:?}");
    assert_eq!(summary["downloaded"], hits.len());
    // Distinct by content: `again.png` has p0-1's bytes.
    assert_eq!(summary["distinct"], hits.len() - 1);
    assert_eq!(summary["duplicates"], (SHARING - 1) + 1);
    assert_eq!(summary["failed"], json!([]));
}

/// The pulled lines of the small store mark the duplicates: the shared
/// image's lines but the first, and `again.png` (p0-1's bytes).
pub(crate) fn assert_duplicates_marked(lines: &[Value]) {
    let p0 = of(lines, "P-0");
    let first_shared = p0[2]["image_id"].clone();
    for l in lines {
        if l["source_url"].as_str().unwrap().ends_with("/shared.png") {
            if l["image_id"] == first_shared {
                assert_eq!(l["duplicate_of"], Value::Null);
            } else {
                assert_eq!(l["duplicate_of"], first_shared);
            }
        }
    }
    let again = lines
        .iter()
        .find(|l| l["source_url"].as_str().unwrap().ends_with("/again.png"))
        .unwrap();
    assert_eq!(again["duplicate_of"], p0[0]["image_id"]);
}
