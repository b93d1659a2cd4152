//! The BigCommerce image port (`ImageStore`) against the emulated store,
//! started in-process: the listing (positions, alt text, variant links,
//! keys), products by key, downloads, overwrite (added at the old image's
//! place, the variant re-linked, the old one deleted), append (uploaded
//! once, then taken by URL), a lost answer and a killed overwrite finished
//! without a second image. Every request the port sent is checked against
//! BigCommerce's OpenAPI files.

use std::collections::BTreeMap;
use std::sync::Arc;

use mapsync_bigcommerce::{BcClient, BigCommerceTarget, FilePart};
use mapsync_core::image::ImageFormat;
use mapsync_core::images::{ImageFile, ImageFilter, ImageStore, ProductImages};
use mapsync_core::target::{Target, UploadCache, Uploads};
use mapsync_sandbox::bigcommerce::faults::Scripted;
use mapsync_sandbox::bigcommerce::openapi::Spec;
use mapsync_sandbox::bigcommerce::{BcFault, BcFaultKind, BcHandle};
use serde_json::{json, Value};
use sha2::Digest;

mod support;
use support::{client, store};

/// Every recorded request is one the OpenAPI files describe.
fn assert_requests_valid(h: &BcHandle) {
    let spec = Spec::bundled().expect("the bundled OpenAPI files");
    for r in h.requests() {
        if let Err(problems) = spec.check_request(&r.method, &r.path, r.body.as_ref()) {
            panic!("{} {}: {problems:?}\n{:#?}", r.method, r.path, r.body);
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A PNG-signed file with `tag` as its content.
fn file(tag: &str) -> ImageFile {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    ImageFile {
        sha256: sha256(&bytes),
        bytes,
        format: ImageFormat::Png,
    }
}

/// The upload cache, in memory.
#[derive(Default)]
struct Cache(std::sync::Mutex<BTreeMap<String, String>>);

#[async_trait::async_trait]
impl UploadCache for Cache {
    async fn lookup(&self, key: &str) -> Option<String> {
        self.0.lock().ok()?.get(key).cloned()
    }
    async fn record(&self, key: &str, location: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key.into(), location.into());
        }
    }
    async fn forget(&self, key: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(key);
        }
    }
}

/// Requests the store answered since `before` (by route).
fn routes_since(h: &BcHandle, before: usize) -> Vec<String> {
    h.requests()
        .into_iter()
        .skip(before)
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or("").to_string();
            let path: Vec<String> = path
                .split('/')
                .map(|s| {
                    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
                        "#".into()
                    } else {
                        s.into()
                    }
                })
                .collect();
            format!(
                "{} {}{}",
                r.method,
                path.join("/"),
                if r.multipart { " (upload)" } else { "" }
            )
        })
        .collect()
}

async fn post(c: &BcClient, path: &str, body: Value) -> Value {
    c.post(path, &body).await.expect(path).body["data"].clone()
}

/// Three products: `P-1` (marker; two images, the second also its
/// variant `P-1-S`'s image; the first the thumbnail with alt text), `P-2`
/// (marker; one image, the one of P-1's first image's file too) and one
/// without marker (`/plain-mug/`, one image). Images by `*.example.com`
/// URL (the store makes a stand-in PNG per URL). Their ids.
async fn seed(c: &BcClient) -> (u64, u64, u64) {
    let img = |name: &str| format!("https://img.example.com/{name}");
    let p1 = post(
        c,
        "/catalog/products",
        json!({
            "name": "Trail Shoe", "type": "physical", "weight": 1, "price": 90,
            "images": [
                {"image_url": img("p1-front.png"), "sort_order": 0, "is_thumbnail": true, "description": "Front"},
                {"image_url": img("p1-red.png"), "sort_order": 1},
            ],
            "variants": [
                {"sku": "P-1-S", "option_values": [{"option_display_name": "Size", "label": "S"}]},
                {"sku": "P-1-M", "option_values": [{"option_display_name": "Size", "label": "M"}]},
            ],
        }),
    )
    .await;
    let p1_id = p1["id"].as_u64().expect("id");
    let variants = c
        .get::<Value>(&format!("/catalog/products/{p1_id}/variants"), &[])
        .await
        .expect("variants");
    let small = variants["data"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["sku"] == "P-1-S")
        .and_then(|v| v["id"].as_u64())
        .expect("P-1-S");
    c.post(
        &format!("/catalog/products/{p1_id}/variants/{small}/image"),
        &json!({"image_url": img("p1-red.png")}),
    )
    .await
    .expect("variant image");
    let p2 = post(
        c,
        "/catalog/products",
        json!({
            "name": "Road Shoe", "type": "physical", "weight": 1, "price": 80, "sku": "P-2",
            "images": [{"image_url": img("p1-front.png"), "is_thumbnail": true}],
        }),
    )
    .await;
    let p2_id = p2["id"].as_u64().expect("id");
    let p3 = post(
        c,
        "/catalog/products",
        json!({
            "name": "Plain Mug", "type": "physical", "weight": 1, "price": 8,
            "custom_url": {"url": "/plain-mug/", "is_customized": true},
            "images": [{"image_url": img("mug.png")}],
        }),
    )
    .await;
    for (id, key) in [(p1_id, "P-1"), (p2_id, "P-2")] {
        post(
            c,
            &format!("/catalog/products/{id}/metafields"),
            json!({"namespace": "mapsync", "key": "key", "value": key, "permission_set": "read"}),
        )
        .await;
    }
    (p1_id, p2_id, p3["id"].as_u64().expect("id"))
}

async fn listing(target: &BigCommerceTarget) -> Vec<ProductImages> {
    let page = target
        .list(&ImageFilter::default(), None)
        .await
        .expect("listing");
    assert_eq!(page.next, None);
    page.products
}

#[tokio::test]
async fn the_listing_gives_images_in_order_with_alt_text_variant_links_and_keys() {
    let h = store().await;
    let c = client(&h);
    let (p1, p2, p3) = seed(&c).await;
    let target = BigCommerceTarget::new(c.clone());
    let store: &dyn ImageStore = target.images().expect("an image port");
    let before = h.requests().len();
    let products = listing(&target).await;
    assert_eq!(
        routes_since(&h, before),
        ["GET /catalog/products/metafields", "GET /catalog/products"],
        "one listing of the markers, one page of products"
    );
    assert_eq!(products.len(), 3);
    let one = &products[0];
    assert_eq!(
        (one.product_id.as_str(), one.key.as_str()),
        (p1.to_string().as_str(), "P-1")
    );
    assert_eq!(one.sku.as_deref(), Some("P-1-S"));
    assert_eq!(one.images.len(), 2);
    assert_eq!(one.images[0].position, 1);
    assert_eq!(one.images[0].alt.as_deref(), Some("Front"));
    assert_eq!(one.images[0].variants, Vec::<String>::new());
    assert_eq!(one.images[1].position, 2);
    assert_eq!(one.images[1].alt, None);
    assert_eq!(one.images[1].variants, ["P-1-S"]);
    assert_eq!(one.images[1].content_type.as_deref(), Some("image/png"));
    assert_eq!(products[1].key, "P-2");
    assert_eq!(products[1].product_id, p2.to_string());
    assert_eq!(products[2].key, "plain-mug", "no marker: the custom URL");
    assert_eq!(products[2].product_id, p3.to_string());

    // The file, downloaded without the token: the bytes the store keeps.
    let url = one.images[0].download_url.clone().expect("a URL");
    assert!(url.contains("/product_images/"), "{url}");
    let bytes = store.download(&url).await.expect("download");
    let snapshot = h.snapshot();
    let hashes: Vec<&str> = snapshot["files"]
        .as_object()
        .expect("files")
        .values()
        .filter_map(|f| f["sha256"].as_str())
        .collect();
    assert!(hashes.contains(&sha256(&bytes).as_str()));
    // P-2's image has the same URL source: the same bytes.
    let again = store
        .download(products[1].images[0].download_url.as_deref().expect("url"))
        .await
        .expect("download");
    assert_eq!(bytes, again);
    assert!(store.download(&format!("{url}-missing")).await.is_err());

    // By key: the marker, else the custom URL (with or without slashes).
    let before = h.requests().len();
    let found = store.product("P-1").await.expect("read").expect("P-1");
    assert_eq!(&found, one);
    assert_eq!(
        routes_since(&h, before),
        ["GET /catalog/products/#"],
        "the markers are kept from the listing"
    );
    let mug = store.product("plain-mug").await.expect("read");
    assert_eq!(mug.as_ref(), Some(&products[2]));
    assert_eq!(
        store.product("/plain-mug/").await.expect("read").as_ref(),
        Some(&products[2])
    );
    assert_eq!(store.product("P-404").await.expect("read"), None);

    // Modified since a date to come: nothing.
    let page = store
        .list(
            &ImageFilter {
                since: Some("2999-01-01T00:00:00Z".into()),
            },
            None,
        )
        .await
        .expect("listing");
    assert!(page.products.is_empty());
    assert_requests_valid(&h);
}

#[tokio::test]
async fn an_overwrite_adds_at_the_same_place_relinks_the_variant_then_deletes_the_old_one() {
    let h = store().await;
    let c = client(&h);
    let (p1, _, _) = seed(&c).await;
    let target = BigCommerceTarget::new(c.clone());
    let uploads = Uploads::new(Arc::new(Cache::default()));
    let product = target.product("P-1").await.expect("read").expect("P-1");
    let (front, red) = (product.images[0].clone(), product.images[1].clone());

    // The first image (the thumbnail, with alt text).
    let edited = file("front, retouched");
    let before = h.requests().len();
    let written = target
        .overwrite(&product.product_id, &front, &edited, &uploads)
        .await
        .expect("overwrite");
    assert_eq!(
        routes_since(&h, before),
        [
            "POST /catalog/products/#/images (upload)",
            "DELETE /catalog/products/#/images/#",
        ],
        "the product as just read: no read of its own"
    );
    assert_eq!(written.requests, 2);
    let new_front = written.image_id.expect("the new id");
    assert_ne!(new_front, front.id);

    // The variant's image.
    let red_edit = file("red, retouched");
    let before = h.requests().len();
    let written = target
        .overwrite(&product.product_id, &red, &red_edit, &uploads)
        .await
        .expect("overwrite");
    assert_eq!(
        routes_since(&h, before),
        [
            "GET /catalog/products/#",
            "POST /catalog/products/#/images (upload)",
            "POST /catalog/products/#/variants/#/image (upload)",
            "DELETE /catalog/products/#/images/#",
        ]
    );
    let new_red = written.image_id.expect("the new id");

    let now = target.product("P-1").await.expect("read").expect("P-1");
    assert_eq!(now.images.len(), 2);
    assert_eq!(now.images[0].id, new_front);
    assert_eq!(now.images[0].position, 1);
    assert_eq!(now.images[0].alt.as_deref(), Some("Front"));
    assert_eq!(now.images[0].published_hash(), Some(edited.sha256.as_str()));
    assert_eq!(now.images[1].id, new_red);
    assert_eq!(now.images[1].variants, ["P-1-S"]);
    assert_eq!(
        now.images[1].published_hash(),
        Some(red_edit.sha256.as_str())
    );
    let raw = c
        .get::<Value>(&format!("/catalog/products/{p1}/images"), &[])
        .await
        .expect("images");
    let thumb: Vec<String> = raw["data"]
        .as_array()
        .expect("images")
        .iter()
        .filter(|i| i["is_thumbnail"] == true)
        .map(|i| i["id"].to_string())
        .collect();
    assert_eq!(thumb, [new_front], "the thumbnail stays the first");
    // The bytes that arrived.
    let snapshot = h.snapshot();
    let arrived: Vec<&str> = snapshot["files"]
        .as_object()
        .expect("files")
        .values()
        .filter_map(|f| f["sha256"].as_str())
        .collect();
    assert!(arrived.contains(&edited.sha256.as_str()));
    assert_eq!(
        arrived
            .iter()
            .filter(|h| **h == red_edit.sha256.as_str())
            .count(),
        2,
        "the product image and the variant's"
    );

    // Overwriting it again with the same file: nothing sent.
    let before = h.requests().len();
    target
        .overwrite(&product.product_id, &now.images[0], &edited, &uploads)
        .await
        .expect("overwrite");
    assert_eq!(routes_since(&h, before), Vec::<String>::new());
    // Not right after a read of the product: read first.
    target
        .overwrite(&product.product_id, &now.images[0], &edited, &uploads)
        .await
        .expect("overwrite");
    assert_eq!(routes_since(&h, before), ["GET /catalog/products/#"]);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn an_appended_file_is_uploaded_once_then_taken_by_url() {
    let h = store().await;
    let c = client(&h);
    seed(&c).await;
    let target = BigCommerceTarget::new(c.clone());
    let cache = Arc::new(Cache::default());
    let uploads = Uploads::new(cache.clone());
    let products = listing(&target).await;
    let added = file("a new detail");
    let before = h.requests().len();
    let one = target
        .append(&products[0], &added, Some("Detail"), &uploads)
        .await
        .expect("append");
    assert_eq!(one.requests, 1);
    let two = target
        .append(&products[2], &added, None, &uploads)
        .await
        .expect("copy");
    assert_eq!(two.requests, 1);
    assert_eq!(
        routes_since(&h, before),
        [
            "POST /catalog/products/#/images (upload)",
            "POST /catalog/products/#/images",
        ],
        "the second product takes the first upload's URL"
    );
    let p1 = target.product("P-1").await.expect("read").expect("P-1");
    let last = p1.images.last().expect("images");
    assert_eq!(last.position, 3);
    assert_eq!(last.alt.as_deref(), Some("Detail"));
    assert_eq!(last.published_hash(), Some(added.sha256.as_str()));
    let mug = target
        .product("plain-mug")
        .await
        .expect("read")
        .expect("mug");
    assert_eq!(mug.images.len(), 2);
    assert_eq!(mug.images[1].published_hash(), Some(added.sha256.as_str()));
    // Deleted, then appended again: the cached URL is gone with it.
    target
        .delete(&p1.product_id, &last.id)
        .await
        .expect("delete");
    target
        .delete(&p1.product_id, &last.id)
        .await
        .expect("deleted twice is deleted");
    target
        .delete(&mug.product_id, &mug.images[1].id)
        .await
        .expect("delete");
    let p1 = target.product("P-1").await.expect("read").expect("P-1");
    assert_eq!(p1.images.len(), 2);
    let before = h.requests().len();
    target
        .append(&p1, &added, None, &uploads)
        .await
        .expect("append");
    assert_eq!(
        routes_since(&h, before),
        [
            "POST /catalog/products/#/images",
            "POST /catalog/products/#/images (upload)",
        ],
        "the remembered URL refused, the file is uploaded again"
    );
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_lost_answer_and_a_killed_overwrite_leave_one_image() {
    let h = store().await;
    let c = client(&h);
    let (p1, _, _) = seed(&c).await;
    let target = BigCommerceTarget::new(c.clone());
    let uploads = Uploads::new(Arc::new(Cache::default()));
    let product = target.product("P-1").await.expect("read").expect("P-1");

    // The store makes the image but the answer is lost: found, not resent.
    h.script_faults([Scripted {
        fault: Some(BcFault {
            kind: BcFaultKind::Lost,
            after: true,
            status: 500,
        }),
        route: Some("POST /catalog/products/{product_id}/images".into()),
    }]);
    let added = file("appended, answer lost");
    let written = target
        .append(&product, &added, None, &uploads)
        .await
        .expect("found after the lost answer");
    assert!(written.image_id.is_some());
    let now = target.product("P-1").await.expect("read").expect("P-1");
    assert_eq!(now.images.len(), 3);
    assert_eq!(
        now.images
            .iter()
            .filter(|i| i.published_hash() == Some(added.sha256.as_str()))
            .count(),
        1
    );

    // An overwrite killed after its add: the new file is at the old
    // image's place; the overwrite run again only deletes the old one.
    let edited = file("front, retouched");
    let front = now.images[0].clone();
    c.post_multipart(
        &format!("/catalog/products/{p1}/images"),
        &[("sort_order", "0".into()), ("description", "Front".into())],
        &FilePart {
            field: "image_file".into(),
            file_name: edited.name(),
            mime: "image/png".into(),
            bytes: edited.bytes.clone(),
        },
    )
    .await
    .expect("the killed overwrite's add");
    // The resumed publish reads the product, then overwrites.
    target.product("P-1").await.expect("read").expect("P-1");
    let before = h.requests().len();
    target
        .overwrite(&product.product_id, &front, &edited, &uploads)
        .await
        .expect("overwrite");
    assert_eq!(
        routes_since(&h, before),
        ["DELETE /catalog/products/#/images/#"]
    );
    let after = target.product("P-1").await.expect("read").expect("P-1");
    assert_eq!(after.images.len(), 3);
    assert_eq!(
        after.images[0].published_hash(),
        Some(edited.sha256.as_str())
    );
    assert_eq!(after.images[0].alt.as_deref(), Some("Front"));
    // The old image gone: overwriting it again is refused as gone.
    let e = target
        .overwrite(&product.product_id, &front, &edited, &uploads)
        .await
        .expect_err("gone");
    assert_eq!(e.kind, mapsync_core::target::ErrorKind::Gone);
    assert_requests_valid(&h);
}
