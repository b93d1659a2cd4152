//! The `rest` target's image port ([`ImageStore`]) against the emulated
//! store (the PIM sandbox, product key `id`), its images served by a
//! local HTTP server: products listed page by page with their images in
//! order (alt text, keys), a product found by its key, downloads; a file
//! uploaded once (`images.upload`, multipart or raw) however many writes
//! use it, overwritten in place (same id, position, alt), appended,
//! deleted; a remembered upload the store refuses is uploaded again; and
//! what a target without `images.upload` says.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use mapsync_core::image::ImageFormat;
use mapsync_core::images::{ImageFile, ImageFilter, ImageStore, ProductImages};
use mapsync_core::target::{ErrorKind, Target, UploadCache, Uploads};
use mapsync_rest::RestTarget;
use mapsync_sandbox::pim::{self, PimConfig, PimHandle};
use serde_json::{json, Value};
use sha2::Digest;

const TOKEN: &str = "store-token";

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn png(tag: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(tag.as_bytes());
    b
}

fn file(tag: &str) -> ImageFile {
    let bytes = png(tag);
    ImageFile {
        sha256: sha256(&bytes),
        format: ImageFormat::Png,
        bytes,
    }
}

type Files = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

/// Serves `/img/{name}` from `files`.
async fn image_server(files: Files) -> String {
    async fn serve(
        State(files): State<Files>,
        Path(name): Path<String>,
    ) -> axum::response::Response {
        match files.lock().unwrap().get(&name) {
            Some(b) => ([("content-type", "image/png")], b.clone()).into_response(),
            None => axum::http::StatusCode::NOT_FOUND.into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/img/{name}", axum::routing::get(serve))
        .with_state(files);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// An upload cache in memory.
#[derive(Default)]
struct Memory(Mutex<BTreeMap<String, String>>);

#[async_trait]
impl UploadCache for Memory {
    async fn lookup(&self, key: &str) -> Option<String> {
        self.0.lock().unwrap().get(key).cloned()
    }
    async fn record(&self, key: &str, location: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(key.to_owned(), location.to_owned());
    }
    async fn forget(&self, key: &str) {
        self.0.lock().unwrap().remove(key);
    }
}

struct Env {
    pim: PimHandle,
    images: String,
}

/// Three products (`P-1`..`P-3`, ids 101..103), two images each, the
/// first with alt text; `P-3` shows `P-1`'s first image too; and product
/// 104 without marker nor images.
async fn env() -> Env {
    let files: Files = Arc::default();
    for i in 1..=3 {
        for n in 1..=2 {
            let tag = format!("p{i}-{n}");
            files
                .lock()
                .unwrap()
                .insert(format!("{tag}.png"), png(&tag));
        }
    }
    let images = image_server(files).await;
    let img = |name: &str| format!("{images}/img/{name}");
    let products: Vec<Value> = (1..=3)
        .map(|i| {
            let mut list = vec![
                json!({"url": img(&format!("p{i}-1.png")), "alt": format!("Front {i}")}),
                json!({"url": img(&format!("p{i}-2.png"))}),
            ];
            if i == 3 {
                list.push(json!({"url": img("p1-1.png")}));
            }
            json!({"id": format!("10{i}"), "external_id": format!("P-{i}"), "title": format!("Product {i}"), "Images": list})
        })
        .collect();
    // A product without marker: known by its id.
    let mut products = products;
    products.push(json!({"id": "104", "title": "Unmarked"}));
    let pim = pim::start(PimConfig {
        token: Some(TOKEN.into()),
        category_key: "id".into(),
        product_key: "id".into(),
        catalog: Some(json!({"categories": [], "products": products})),
        ..PimConfig::default()
    })
    .await
    .expect("the store starts");
    Env { pim, images }
}

fn options(url: &str, upload: Option<Value>) -> Value {
    let mut images = json!({
        "list": { "path": "/products/{{ product_id }}/images", "records": "data", "id": "id", "url": "url", "position": "position", "alt": "alt" },
        "add": { "method": "POST", "path": "/products/{{ product_id }}/images" },
        "overwrite": { "method": "PUT", "path": "/images/{{ image_id }}" },
        "delete": { "method": "DELETE", "path": "/images/{{ image_id }}" }
    });
    if let Some(u) = upload {
        images["upload"] = u;
    }
    json!({
        "type": "rest",
        "base_url": url,
        "auth": { "bearer": TOKEN },
        "timeout": "5s",
        "backoff": "1ms",
        "retries": 2,
        "entities": {
            "product": {
                "list": { "path": "/products", "records": "data", "id": "id", "key": "external_id", "key_param": "filter[external_id]" },
                "paging": { "style": "page", "page": "page", "size": "per_page", "max": 2 },
                "create": { "method": "POST", "path": "/products", "id": "data.id" },
                "update": { "method": "PUT", "path": "/products/{{ id }}" }
            }
        },
        "images": images
    })
}

fn multipart() -> Value {
    json!({ "path": "/files", "url": "data.url" })
}

fn target(url: &str, upload: Option<Value>) -> RestTarget {
    RestTarget::from_value(&options(url, upload)).unwrap_or_else(|e| panic!("options: {e}"))
}

fn port(t: &RestTarget) -> &dyn ImageStore {
    t.images()
        .expect("a target with `images` has the image port")
}

async fn all(store: &dyn ImageStore) -> Vec<ProductImages> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .list(&ImageFilter::default(), cursor.as_deref())
            .await
            .unwrap();
        pages += 1;
        out.extend(page.products);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 10, "the listing does not end");
    }
    out
}

fn taken(pim: &PimHandle, route: &str) -> u64 {
    let s = pim.stats();
    s.by_route
        .get(route)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with('2'))
                .map(|(_, v)| v)
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn products_are_listed_page_by_page_with_their_images_in_order() {
    let env = env().await;
    let t = target(&env.pim.url(), None);
    let store = port(&t);
    let products = all(store).await;
    let keys: Vec<&str> = products.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["P-1", "P-2", "P-3", "104"]);
    assert!(products[3].images.is_empty());
    let p1 = &products[0];
    assert_eq!(p1.product_id, "101");
    assert_eq!(p1.images.len(), 2);
    assert_eq!(p1.images[0].position, 1);
    assert_eq!(p1.images[1].position, 2);
    assert_eq!(p1.images[0].alt.as_deref(), Some("Front 1"));
    assert_eq!(p1.images[1].alt, None);
    let url = p1.images[0].download_url.clone().unwrap();
    assert_eq!(p1.images[0].source_url.as_deref(), Some(url.as_str()));
    assert_eq!(url, format!("{}/img/p1-1.png", env.images));
    assert_eq!(products[2].images.len(), 3);
    assert_eq!(
        products[2].images[2].download_url.as_deref(),
        Some(url.as_str())
    );

    // Downloads: another server, no credentials needed.
    assert_eq!(store.download(&url).await.unwrap(), png("p1-1"));
    let e = store
        .download(&format!("{}/img/none.png", env.images))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Gone);

    // By key.
    let p2 = store.product("P-2").await.unwrap().unwrap();
    assert_eq!(p2.product_id, "102");
    assert_eq!(p2.images.len(), 2);
    assert_eq!(store.product("P-9").await.unwrap(), None);
    let unmarked = store.product("104").await.unwrap().unwrap();
    assert_eq!(unmarked.key, "104");
    // An id is not a key when the product has a marker.
    assert_eq!(store.product("101").await.unwrap(), None);
}

#[tokio::test]
async fn a_file_is_uploaded_once_then_overwrites_appends_and_deletes() {
    let env = env().await;
    let t = target(&env.pim.url(), Some(multipart()));
    let store = port(&t);
    let uploads = Uploads::new(Arc::new(Memory::default()));
    let edited = file("p1-1 edited");
    let p1 = store.product("P-1").await.unwrap().unwrap();
    let first = p1.images[0].clone();

    // Overwrite in place: same id, position and alt; the file's URL.
    let w = store
        .overwrite(&p1.product_id, &first, &edited, &uploads)
        .await
        .unwrap();
    assert_eq!(w.image_id.as_deref(), Some(first.id.as_str()));
    assert_eq!(w.requests, 2, "the upload and the overwrite");
    let files = env.pim.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].sha256, edited.sha256, "the bytes arrived whole");
    assert_eq!(files[0].name, edited.name());
    let after = store.product("P-1").await.unwrap().unwrap();
    assert_eq!(after.images.len(), 2);
    let now = &after.images[0];
    assert_eq!(now.id, first.id);
    assert_eq!(now.position, 1);
    assert_eq!(now.alt.as_deref(), Some("Front 1"));
    assert_eq!(now.published_hash(), Some(edited.sha256.as_str()));
    let url = now.download_url.clone().unwrap();
    assert_eq!(store.download(&url).await.unwrap(), edited.bytes);

    // Appended to two products: uploaded once.
    for key in ["P-2", "P-3"] {
        let p = store.product(key).await.unwrap().unwrap();
        let n = p.images.len();
        let w = store
            .append(&p, &edited, Some("Back"), &uploads)
            .await
            .unwrap();
        assert_eq!(w.requests, 1, "the add only");
        let p = store.product(key).await.unwrap().unwrap();
        assert_eq!(p.images.len(), n + 1);
        let last = p.images.last().unwrap();
        assert_eq!(last.position as usize, n + 1);
        assert_eq!(last.alt.as_deref(), Some("Back"));
        assert_eq!(last.download_url.as_deref(), Some(url.as_str()));
    }
    assert_eq!(env.pim.files().len(), 1);
    assert_eq!(taken(&env.pim, "POST /files"), 1);

    // Deleted; deleting again is deleted too.
    let p2 = store.product("P-2").await.unwrap().unwrap();
    let gone = p2.images.last().unwrap().id.clone();
    store.delete(&p2.product_id, &gone).await.unwrap();
    store.delete(&p2.product_id, &gone).await.unwrap();
    let p2 = store.product("P-2").await.unwrap().unwrap();
    assert_eq!(p2.images.len(), 2);
    assert!(p2.images.iter().all(|i| i.id != gone));
}

#[tokio::test]
async fn raw_uploads_and_a_refused_remembered_upload() {
    let env = env().await;
    let raw = json!({ "method": "PUT", "path": "/files/{{ name }}", "encoding": "raw", "url": "data.url" });
    let t = target(&env.pim.url(), Some(raw));
    let store = port(&t);
    let memory = Arc::new(Memory::default());
    let uploads = Uploads::new(memory.clone());
    let f = file("raw");
    // The cache remembers a URL the store refuses: uploaded again.
    memory
        .record(&mapsync_core::images::upload_key(&f.sha256), "gone")
        .await;
    let p1 = store.product("P-1").await.unwrap().unwrap();
    let w = store.append(&p1, &f, None, &uploads).await.unwrap();
    assert_eq!(w.requests, 3, "the refused add, the upload, the add");
    assert_eq!(taken(&env.pim, "PUT /files/{name}"), 1);
    let files = env.pim.files();
    assert_eq!(files[0].sha256, f.sha256);
    let p1 = store.product("P-1").await.unwrap().unwrap();
    assert_eq!(p1.images[2].published_hash(), Some(f.sha256.as_str()));
    assert_eq!(
        memory
            .lookup(&mapsync_core::images::upload_key(&f.sha256))
            .await
            .as_deref(),
        p1.images[2].download_url.as_deref()
    );
}

#[tokio::test]
async fn without_upload_a_file_cannot_be_published() {
    let env = env().await;
    let t = target(&env.pim.url(), None);
    let store = port(&t);
    let p1 = store.product("P-1").await.unwrap().unwrap();
    let e = store
        .append(&p1, &file("x"), None, &Uploads::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.to_string().contains("images.upload"), "{e}");
    // Without `images` at all: no image port.
    let mut o = options(&env.pim.url(), None);
    o.as_object_mut().unwrap().remove("images");
    let t = RestTarget::from_value(&o).unwrap();
    assert!(t.images().is_none());
    // Options that cannot work.
    let mut o = options(
        &env.pim.url(),
        Some(json!({"path": "/files", "method": "DELETE"})),
    );
    assert!(RestTarget::from_value(&o).is_err());
    o["images"]["upload"] = json!({"path": "/files", "encoding": "base64"});
    assert!(RestTarget::from_value(&o).is_err());
}

async fn script(pim: &PimHandle, faults: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/__sandbox/faults", pim.url()))
        .bearer_auth(TOKEN)
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn lost_answers_multiply_neither_files_nor_images() {
    let env = env().await;
    let t = target(&env.pim.url(), Some(multipart()));
    let store = port(&t);
    let uploads = Uploads::new(Arc::new(Memory::default()));
    let f = file("lost");
    // The store keeps the file, then drops the connection: sent again,
    // one file. Then the add is taken and its answer lost: the images are
    // listed again and the image is found, not added twice.
    script(
        &env.pim,
        json!([
            {"kind": "reset", "after": true, "route": "POST /files"},
            {"kind": "reset", "after": true, "route": "POST /products/{key}/images"}
        ]),
    )
    .await;
    let p1 = store.product("P-1").await.unwrap().unwrap();
    store.append(&p1, &f, None, &uploads).await.unwrap();
    assert_eq!(taken(&env.pim, "POST /files"), 1);
    assert_eq!(env.pim.stats().count("POST /files", "reset"), 1);
    assert_eq!(env.pim.files().len(), 1);
    let p1 = store.product("P-1").await.unwrap().unwrap();
    assert_eq!(p1.images.len(), 3);
    assert_eq!(
        p1.images
            .iter()
            .filter(|i| i.published_hash() == Some(f.sha256.as_str()))
            .count(),
        1
    );
}
