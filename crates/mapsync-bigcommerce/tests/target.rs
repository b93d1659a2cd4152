//! The `bigcommerce` target against the emulated BigCommerce store,
//! started in-process: creates, updates that send only what differs, a
//! lost create adopted, a duplicate refused, an embedded image uploaded
//! once. Every request the target sent is checked against BigCommerce's
//! OpenAPI files.

use std::collections::BTreeMap;

use mapsync_bigcommerce::{BigCommerceTarget, CAPABILITIES};
use mapsync_core::current::Current;
use mapsync_core::document::{Document, Image, ImageKind, MetafieldValue, VariantDoc};
use mapsync_core::target::{ErrorKind, ReadHint, Target, TargetWrite, WriteContext};
use mapsync_core::Entity;
use mapsync_sandbox::bigcommerce::faults::Scripted;
use mapsync_sandbox::bigcommerce::openapi::Spec;
use mapsync_sandbox::bigcommerce::{BcFault, BcFaultKind, BcHandle};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;
use support::{client, store};

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// Serves the same PNG at any path over loopback (the emulated store
/// fetches `image_url`s); its base URL.
async fn image_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let bytes = mapsync_core::image::decode(PNG).expect("png");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&bytes).await;
            });
        }
    });
    format!("http://{addr}")
}

/// Every recorded request is one the OpenAPI files describe.
fn assert_requests_valid(h: &BcHandle) {
    let spec = Spec::bundled().expect("the bundled OpenAPI files");
    for r in h.requests() {
        if let Err(problems) = spec.check_request(&r.method, &r.path, r.body.as_ref()) {
            panic!("{} {}: {problems:?}\n{:#?}", r.method, r.path, r.body);
        }
    }
}

fn doc(entity: Entity, key: &str, fields: Value) -> Document {
    Document {
        entity,
        key: key.into(),
        fields: fields
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        metafields: Vec::new(),
        metafield_descriptions: Vec::new(),
        images: Vec::new(),
        options: Vec::new(),
        variants: Vec::new(),
        categories: Vec::new(),
    }
}

fn metafield(ns: &str, key: &str, value: &str) -> MetafieldValue {
    MetafieldValue {
        namespace: ns.into(),
        key: key.into(),
        ty: "single_line_text_field".into(),
        value: value.into(),
    }
}

fn variant(key: &str, fields: Value, color: &str, quantities: &[(&str, i64)]) -> VariantDoc {
    VariantDoc {
        key: key.into(),
        fields: fields
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        options: vec![("Color".into(), color.into())],
        quantities: quantities
            .iter()
            .map(|(l, q)| (l.to_string(), *q))
            .collect(),
        metafields: vec![metafield("specs", "shade", &format!("{color} shade"))],
    }
}

fn url_image(base: &str, name: &str) -> Image {
    Image {
        kind: ImageKind::Url,
        src: format!("{base}/{name}"),
        alt: None,
        variant: None,
    }
}

/// A product with options, variants (stock at two locations, metafields),
/// URL images, custom fields, metafields and a category.
fn full_product(images: &str) -> Document {
    let mut d = doc(
        Entity::Product,
        "P-1",
        json!({
            "name": "Trail Shoe", "type": "physical", "description": "<p>Light</p>",
            "brand": "Acme", "weight": "1.50", "condition": "new",
            "custom_fields.Material": "Mesh", "custom_fields.Sole": "Rubber",
            "page_title": "Trail Shoe | Acme",
        }),
    );
    d.metafields = vec![metafield("specs", "fit", "narrow")];
    d.images = vec![
        url_image(images, "front.png"),
        url_image(images, "side.png"),
        // The red variant's own image (also one of the product's).
        Image {
            variant: Some("TS-RED".into()),
            ..url_image(images, "red.png")
        },
    ];
    d.options = vec!["Color".into()];
    d.variants = vec![
        variant(
            "TS-RED",
            json!({"sku": "TS-RED", "price": "89.90", "sale_price": "79.00"}),
            "Red",
            &[("CPH", 5), ("AAR", 2)],
        ),
        variant(
            "TS-BLUE",
            json!({"sku": "TS-BLUE", "price": "89.90", "purchasing_disabled": true}),
            "Blue",
            &[("CPH", 0), ("AAR", 7)],
        ),
    ];
    d.categories = vec!["shoes".into()];
    d
}

/// A product without options: its one variant is the base variant.
fn simple_product(key: &str, name: &str, sku: &str) -> Document {
    let mut d = doc(Entity::Product, key, json!({"name": name}));
    d.variants = vec![VariantDoc {
        key: sku.into(),
        fields: [
            ("sku".to_string(), json!(sku)),
            ("price".to_string(), json!("12.50")),
        ]
        .into_iter()
        .collect(),
        options: Vec::new(),
        quantities: [("CPH".to_string(), 3)].into_iter().collect(),
        metafields: Vec::new(),
    }];
    d
}

/// The store with a second location; the context that names both.
async fn setup(h: &BcHandle, target: &BigCommerceTarget) -> WriteContext {
    client(h)
        .post(
            "/inventory/locations",
            &json!([{"label": "Aarhus", "code": "AAR"}]),
        )
        .await
        .expect("a second location");
    let locations = target.locations().await.expect("locations");
    let id = |name: &str| {
        locations
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.id.clone())
            .expect("location")
    };
    WriteContext {
        locations: [
            ("CPH".to_string(), id("Default location")),
            ("AAR".to_string(), id("Aarhus")),
        ]
        .into_iter()
        .collect(),
        ..WriteContext::default()
    }
}

async fn current(target: &BigCommerceTarget, entity: Entity, id: &str) -> Current {
    target
        .read_current(entity, &[id.to_string()])
        .await
        .expect("read")
        .into_iter()
        .next()
        .expect("the item")
}

/// Requests the store answered since `before` (by route).
fn routes_since(h: &BcHandle, before: usize) -> Vec<String> {
    h.requests()
        .into_iter()
        .skip(before)
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap_or("")))
        .collect()
}

#[tokio::test]
async fn a_category_tree_and_a_full_product_are_created_and_read_back_equal() {
    let h = store().await;
    let images = image_server().await;
    let target = BigCommerceTarget::new(client(&h));
    let mut ctx = setup(&h, &target).await;

    // Parents first: the executor hands each write the ids known so far.
    let mut root = doc(
        Entity::Category,
        "apparel",
        json!({"name": "Apparel", "description": "All of it", "sort_order": "2"}),
    );
    root.metafields = vec![metafield("seo", "boost", "1")];
    let root_id = target
        .create(&root, Some(true), &ctx)
        .await
        .expect("root created")
        .target_id;
    ctx.categories.insert("apparel".into(), root_id.clone());
    let child = doc(
        Entity::Category,
        "shoes",
        json!({"name": "Shoes", "parent": "apparel", "custom_url": "/apparel/shoes/"}),
    );
    let w = target
        .create(&child, None, &ctx)
        .await
        .expect("child created");
    assert_eq!(w.requests, 2, "the category, then its metafields");
    ctx.categories.insert("shoes".into(), w.target_id.clone());
    let c = current(&target, Entity::Category, &w.target_id).await;
    assert_eq!(c.marker.as_deref(), Some("shoes"));
    assert_eq!(c.fields["parent"], json!("apparel"));
    let rules = CAPABILITIES.compare;
    assert_eq!(
        mapsync_core::diff::diff_item(&child, &c, &ctx.locations, &rules),
        vec![]
    );

    let p = full_product(&images);
    let before = h.requests().len();
    let w = target.create(&p, Some(true), &ctx).await.expect("created");
    let sent = routes_since(&h, before);
    // Brands read once and Acme created, the product, its metafields, its
    // variants' metafields, the stock at both locations.
    assert_eq!(
        sent,
        vec![
            "GET /catalog/brands",
            "POST /catalog/brands",
            "POST /catalog/products",
            "POST /catalog/products/metafields",
            "POST /catalog/variants/metafields",
            "PUT /inventory/adjustments/absolute",
        ]
    );
    assert_eq!(w.requests as usize, sent.len());
    assert!(!w.adopted);

    let cur = current(&target, Entity::Product, &w.target_id).await;
    assert_eq!(cur.marker.as_deref(), Some("P-1"));
    assert_eq!(
        cur.images,
        vec![
            format!("{images}/front.png"),
            format!("{images}/side.png"),
            format!("{images}/red.png")
        ]
    );
    assert_eq!(cur.categories, vec![ctx.categories["shoes"].clone()]);
    assert_eq!(cur.fields["brand"], json!("Acme"));
    assert_eq!(cur.fields["custom_fields.Material"], json!("Mesh"));
    let red = cur
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some("TS-RED"))
        .expect("red");
    assert_eq!(red.options, vec![("Color".to_string(), "Red".to_string())]);
    assert_eq!(red.quantities[&ctx.locations["CPH"]], 5);
    assert_eq!(red.quantities[&ctx.locations["AAR"]], 2);
    let raw: Value = client(&h)
        .get(
            &format!("/catalog/products/{}/variants/{}", w.target_id, red.id),
            &[],
        )
        .await
        .expect("variant");
    assert_eq!(raw["data"]["image_url"], json!(format!("{images}/red.png")));
    assert_eq!(
        mapsync_core::diff::diff_item(&p, &cur, &ctx.locations, &rules),
        vec![],
        "what was written reads back equal"
    );
    assert!(mapsync_core::diff::diff_product_collections(&p, &cur, &ctx.categories).is_empty());

    // The reduced catalog knows both by their markers.
    let catalog = target
        .read_catalog(ReadHint::default())
        .await
        .expect("catalog");
    assert_eq!(catalog.products.len(), 1);
    assert_eq!(catalog.products[0].marker.as_deref(), Some("P-1"));
    let mut keys: Vec<_> = catalog
        .categories
        .iter()
        .filter_map(|c| c.marker.clone())
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["apparel", "shoes"]);
    let found = target
        .find_by_marker(Entity::Product, "P-1")
        .await
        .expect("found")
        .expect("some");
    assert_eq!(found.id, w.target_id);
    let by_handle = target
        .find_by_handle(Entity::Category, "/apparel/shoes/")
        .await
        .expect("found")
        .expect("some");
    assert_eq!(by_handle.marker.as_deref(), Some("shoes"));
    assert_requests_valid(&h);
}

/// One change to a created product, and the requests its update costs.
struct Case {
    name: &'static str,
    change: fn(&mut Document),
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "nothing changed",
        change: |_| {},
        expect: &[],
    },
    Case {
        name: "one variant's price",
        change: |d| {
            d.variants[0].fields.insert("price".into(), json!("99.00"));
        },
        expect: &["PUT /catalog/variants"],
    },
    Case {
        name: "a product field and a custom field",
        change: |d| {
            d.fields.insert("page_title".into(), json!("New title"));
            d.fields
                .insert("custom_fields.Sole".into(), json!("Vibram"));
        },
        expect: &["PUT /catalog/products/{id}"],
    },
    Case {
        name: "one quantity",
        change: |d| {
            d.variants[1].quantities.insert("AAR".into(), 8);
        },
        expect: &["PUT /inventory/adjustments/absolute"],
    },
    Case {
        name: "a product metafield",
        change: |d| {
            d.metafields[0].value = "wide".into();
        },
        expect: &["PUT /catalog/products/metafields"],
    },
    Case {
        name: "a variant metafield",
        change: |d| {
            d.variants[1].metafields[0].value = "deep blue".into();
        },
        expect: &["PUT /catalog/variants/metafields"],
    },
    Case {
        name: "an image replaced",
        change: |d| {
            let base = d.images[1]
                .src
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_default();
            d.images[1].src = format!("{base}/back.png");
        },
        expect: &[
            "POST /catalog/products/{id}/images",
            "DELETE /catalog/products/{id}/images/{id}",
            "PUT /catalog/products/metafields",
        ],
    },
    Case {
        name: "a new variant",
        change: |d| {
            d.variants.push(variant(
                "TS-GREEN",
                json!({"sku": "TS-GREEN", "price": "89.90"}),
                "Green",
                &[],
            ));
        },
        expect: &[
            "POST /catalog/products/{id}/variants",
            "POST /catalog/variants/metafields",
        ],
    },
    Case {
        name: "a metafield no longer mapped, another mapped",
        change: |d| {
            d.metafields = vec![metafield("specs", "drop", "8mm")];
        },
        expect: &[
            "POST /catalog/products/metafields",
            "DELETE /catalog/products/metafields",
        ],
    },
    Case {
        name: "a custom field emptied",
        change: |d| {
            d.fields.insert("custom_fields.Sole".into(), json!(""));
        },
        expect: &["DELETE /catalog/products/{id}/custom-fields/{id}"],
    },
    Case {
        name: "a new brand",
        change: |d| {
            d.fields.insert("brand".into(), json!("Zenith"));
        },
        expect: &["POST /catalog/brands", "PUT /catalog/products/{id}"],
    },
    Case {
        name: "a variant's image changed",
        change: |d| {
            let base = d.images[2]
                .src
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_default();
            d.images[2].src = format!("{base}/red-2.png");
        },
        expect: &[
            "PUT /catalog/variants",
            "POST /catalog/products/{id}/images",
            "DELETE /catalog/products/{id}/images/{id}",
            "PUT /catalog/products/metafields",
        ],
    },
    Case {
        name: "images reordered",
        change: |d| {
            d.images.swap(0, 1);
        },
        expect: &[
            "PUT /catalog/products/{id}/images/{id}",
            "PUT /catalog/products/{id}/images/{id}",
        ],
    },
    Case {
        name: "a variant removed",
        change: |d| {
            d.variants.pop();
        },
        expect: &["DELETE /catalog/products/{id}/variants/{id}"],
    },
];

/// `/catalog/products/12/images/34` → `/catalog/products/{id}/images/{id}`.
fn template(route: &str) -> String {
    route
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn an_update_sends_only_what_differs() {
    let images = image_server().await;
    for case in CASES {
        let h = store().await;
        let target = BigCommerceTarget::new(client(&h));
        let mut ctx = setup(&h, &target).await;
        let cat = doc(Entity::Category, "shoes", json!({"name": "Shoes"}));
        let cid = target
            .create(&cat, None, &ctx)
            .await
            .expect("category")
            .target_id;
        ctx.categories.insert("shoes".into(), cid);
        let mut p = full_product(&images);
        let id = target
            .create(&p, Some(true), &ctx)
            .await
            .expect("created")
            .target_id;
        (case.change)(&mut p);
        let cur = current(&target, Entity::Product, &id).await;
        let before = h.requests().len();
        let w = target
            .update(&cur, &p, Some(true), &ctx)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let sent: Vec<String> = routes_since(&h, before)
            .iter()
            .map(|r| template(r))
            .collect();
        assert_eq!(sent, case.expect, "{}", case.name);
        assert_eq!(w.requests as usize, sent.len(), "{}", case.name);
        // The store now holds the document.
        let after = current(&target, Entity::Product, &id).await;
        assert_eq!(
            mapsync_core::diff::diff_item(&p, &after, &ctx.locations, &CAPABILITIES.compare),
            vec![],
            "{}",
            case.name
        );
        assert_requests_valid(&h);
        h.shutdown().await.expect("shutdown");
    }
}

#[tokio::test]
async fn one_changed_price_of_a_simple_product_costs_one_request() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    let mut p = simple_product("S-1", "Mug", "MUG-1");
    let w = target.create(&p, None, &ctx).await.expect("created");
    // The product (sku, price and stock tracking inline), its marker, its stock.
    assert_eq!(w.requests, 3);
    let cur = current(&target, Entity::Product, &w.target_id).await;
    assert_eq!(cur.variants.len(), 1);
    assert_eq!(cur.variants[0].quantities[&ctx.locations["CPH"]], 3);
    let unchanged = target.update(&cur, &p, None, &ctx).await.expect("update");
    assert_eq!(unchanged.requests, 0);
    p.variants[0].fields.insert("price".into(), json!("14"));
    let before = h.requests().len();
    let w = target.update(&cur, &p, None, &ctx).await.expect("update");
    assert_eq!(w.requests, 1);
    assert_eq!(
        routes_since(&h, before)
            .iter()
            .map(|r| template(r))
            .collect::<Vec<_>>(),
        vec!["PUT /catalog/products/{id}"]
    );
    let after = current(&target, Entity::Product, &w.target_id).await;
    assert_eq!(after.fields["price"], json!(14));
    // A retry counts: the item's requests are every attempt.
    h.script_faults([Scripted {
        fault: Some(BcFault {
            kind: BcFaultKind::Http5xx,
            after: false,
            status: 503,
        }),
        route: Some("PUT /catalog/products/{product_id}".into()),
    }]);
    p.variants[0].fields.insert("price".into(), json!("15"));
    let w = target.update(&after, &p, None, &ctx).await.expect("update");
    assert_eq!(w.requests, 2, "one 503, then the write");
    // Deactivate, then delete.
    target
        .deactivate(Entity::Product, &w.target_id)
        .await
        .expect("deactivated");
    let after = current(&target, Entity::Product, &w.target_id).await;
    assert_eq!(after.fields["is_visible"], json!(false));
    target
        .delete(Entity::Product, &w.target_id)
        .await
        .expect("deleted");
    target
        .delete(Entity::Product, &w.target_id)
        .await
        .expect("deleting what is gone is no error");
    assert!(target
        .read_current(Entity::Product, std::slice::from_ref(&w.target_id))
        .await
        .expect("read")
        .is_empty());
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_lost_create_is_adopted_not_made_twice() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    for (entity, route) in [
        (Entity::Product, "POST /catalog/products"),
        (Entity::Category, "POST /catalog/trees/categories"),
    ] {
        // The store makes the item, then the answer is lost.
        h.script_faults([Scripted {
            fault: Some(BcFault {
                kind: BcFaultKind::Lost,
                after: true,
                status: 500,
            }),
            route: Some(route.into()),
        }]);
        let d = match entity {
            Entity::Product => simple_product("LOST-1", "Lost mug", "LOST-SKU"),
            Entity::Category => doc(Entity::Category, "lost-cat", json!({"name": "Lost"})),
        };
        let w = target.create(&d, None, &ctx).await.expect("adopted");
        assert!(w.adopted, "{route}");
        assert_eq!(h.stats().route_total(route), 1, "{route}: sent once");
        let cur = current(&target, entity, &w.target_id).await;
        assert_eq!(
            cur.marker.as_deref(),
            Some(d.key.as_str()),
            "{route}: marked"
        );
        assert_eq!(
            mapsync_core::diff::diff_item(&d, &cur, &ctx.locations, &CAPABILITIES.compare),
            vec![],
            "{route}: brought to the document"
        );
    }
    let catalog = target
        .read_catalog(ReadHint::default())
        .await
        .expect("catalog");
    assert_eq!(catalog.products.len(), 1);
    assert_eq!(catalog.categories.len(), 1);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_duplicate_name_is_refused_naming_the_field() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    target
        .create(&simple_product("A", "Same name", "SKU-A"), None, &ctx)
        .await
        .expect("first");
    let cases = [
        (simple_product("B", "Same name", "SKU-B"), "name"),
        (simple_product("C", "Other name", "SKU-A"), "sku"),
    ];
    for (d, field) in cases {
        let e = target
            .create(&d, None, &ctx)
            .await
            .expect_err("a duplicate");
        assert_eq!(e.kind, ErrorKind::Refused, "{e}");
        assert!(
            e.to_string().contains(&format!("conflict on {field}")),
            "{field}: {e}"
        );
    }
    assert_eq!(
        h.stats().count("POST /catalog/products", "409"),
        2,
        "not retried"
    );
    assert_requests_valid(&h);
}

#[tokio::test]
async fn an_embedded_image_is_uploaded_once_and_read_back_by_its_key() {
    let h = store().await;
    let images = image_server().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    let mut p = simple_product("E-1", "Poster", "POSTER-1");
    p.images = vec![
        Image {
            kind: ImageKind::Embedded,
            src: PNG.into(),
            alt: Some("front".into()),
            variant: None,
        },
        url_image(&images, "back.png"),
    ];
    let before = h.requests().len();
    let w = target.create(&p, None, &ctx).await.expect("created");
    let sent = routes_since(&h, before);
    assert_eq!(
        sent.iter().filter(|r| r.ends_with("/images")).count(),
        1,
        "one upload: {sent:?}"
    );
    let cur = current(&target, Entity::Product, &w.target_id).await;
    let key = mapsync_core::image::content_key(PNG);
    assert_eq!(
        cur.images,
        vec![format!("embedded:{key}"), format!("{images}/back.png")]
    );
    let again = target.update(&cur, &p, None, &ctx).await.expect("update");
    assert_eq!(again.requests, 0, "not uploaded again");
    // Swapped: reordered in place, nothing uploaded.
    p.images.swap(0, 1);
    let before = h.requests().len();
    target.update(&cur, &p, None, &ctx).await.expect("update");
    let sent = routes_since(&h, before);
    assert!(sent.iter().all(|r| r.starts_with("PUT")), "{sent:?}");
    let after = current(&target, Entity::Product, &w.target_id).await;
    assert_eq!(
        after.images,
        vec![format!("{images}/back.png"), format!("embedded:{key}")]
    );
    let multipart = h.requests().iter().filter(|r| r.multipart).count();
    assert_eq!(multipart, 1);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_category_moves_to_another_parent_with_one_request() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let mut ctx = setup(&h, &target).await;
    let mut ids = BTreeMap::new();
    for (key, name, parent) in [("a", "A", ""), ("b", "B", ""), ("c", "C", "a")] {
        let d = doc(
            Entity::Category,
            key,
            json!({"name": name, "parent": parent}),
        );
        let id = target
            .create(&d, None, &ctx)
            .await
            .expect("created")
            .target_id;
        ctx.categories.insert(key.into(), id.clone());
        ids.insert(key, id);
    }
    let moved = doc(Entity::Category, "c", json!({"name": "C", "parent": "b"}));
    let cur = current(&target, Entity::Category, &ids["c"]).await;
    assert_eq!(cur.fields["parent"], json!("a"));
    let w = target
        .update(&cur, &moved, None, &ctx)
        .await
        .expect("moved");
    assert_eq!(w.requests, 1);
    let cur = current(&target, Entity::Category, &ids["c"]).await;
    assert_eq!(cur.fields["parent"], json!("b"));
    let unchanged = target.update(&cur, &moved, None, &ctx).await.expect("same");
    assert_eq!(unchanged.requests, 0);
    // Deactivated, then deleted with its children.
    target
        .deactivate(Entity::Category, &ids["b"])
        .await
        .expect("deactivated");
    let cur = current(&target, Entity::Category, &ids["b"]).await;
    assert_eq!(cur.fields["is_visible"], json!(false));
    let w = target
        .delete(Entity::Category, &ids["b"])
        .await
        .expect("deleted");
    assert_eq!(w.requests, 1);
    let left = target
        .read_current(Entity::Category, &[ids["b"].clone(), ids["c"].clone()])
        .await
        .expect("read");
    assert!(left.is_empty(), "its child went too");
    // A parent the store does not have fails the child, not the run.
    let orphan = doc(
        Entity::Category,
        "d",
        json!({"name": "D", "parent": "nope"}),
    );
    let e = target
        .create(&orphan, None, &ctx)
        .await
        .expect_err("no parent");
    assert_eq!(e.kind, ErrorKind::Refused);
    assert_requests_valid(&h);
}

/// The state store's upload cache, in memory.
#[derive(Default)]
struct Cache(std::sync::Mutex<BTreeMap<String, String>>);

#[async_trait::async_trait]
impl mapsync_core::target::UploadCache for Cache {
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

#[tokio::test]
async fn an_uploaded_image_is_taken_by_url_for_the_next_product() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let mut ctx = setup(&h, &target).await;
    let cache = std::sync::Arc::new(Cache::default());
    ctx.uploads = mapsync_core::target::Uploads::new(cache.clone());
    let key = mapsync_core::image::content_key(PNG);
    let with_image = |k: &str, name: &str, sku: &str| {
        let mut p = simple_product(k, name, sku);
        p.images = vec![Image {
            kind: ImageKind::Embedded,
            src: PNG.into(),
            alt: None,
            variant: None,
        }];
        p
    };
    let first = target
        .create(&with_image("U-1", "One", "U1"), None, &ctx)
        .await
        .expect("first");
    assert!(
        cache.0.lock().expect("cache").contains_key(&key),
        "recorded"
    );
    let second = target
        .create(&with_image("U-2", "Two", "U2"), None, &ctx)
        .await
        .expect("second");
    assert_eq!(
        h.requests().iter().filter(|r| r.multipart).count(),
        1,
        "the second product takes the first upload's URL"
    );
    let cur = current(&target, Entity::Product, &second.target_id).await;
    assert_eq!(cur.images, vec![format!("embedded:{key}")]);
    // The first product (and its file) gone: the next create uploads again.
    target
        .delete(Entity::Product, &first.target_id)
        .await
        .expect("deleted");
    target
        .delete(Entity::Product, &second.target_id)
        .await
        .expect("deleted");
    let third = target
        .create(&with_image("U-3", "Three", "U3"), None, &ctx)
        .await
        .expect("third");
    assert_eq!(h.requests().iter().filter(|r| r.multipart).count(), 2);
    let cur = current(&target, Entity::Product, &third.target_id).await;
    assert_eq!(cur.images, vec![format!("embedded:{key}")]);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn metafields_are_read_per_product_when_the_store_has_many() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    let mut ids = Vec::new();
    for n in 0..2 {
        let mut p = simple_product(&format!("M-{n}"), &format!("Many {n}"), &format!("M{n}"));
        p.metafields = (0..150)
            .map(|i| metafield("bulk", &format!("k{i}"), &format!("v{i}")))
            .collect();
        let w = target.create(&p, None, &ctx).await.expect("created");
        ids.push((w.target_id, p));
    }
    // 302 metafields in the store: reading them all (2 pages) costs more
    // than one product's own listing.
    let before = h.requests().len();
    let cur = current(&target, Entity::Product, &ids[0].0).await;
    let sent: Vec<String> = routes_since(&h, before)
        .iter()
        .map(|r| template(r))
        .collect();
    assert!(
        sent.contains(&"GET /catalog/products/{id}/metafields".to_string()),
        "{sent:?}"
    );
    assert_eq!(cur.metafields.len(), 151);
    assert_eq!(
        mapsync_core::diff::diff_item(&ids[0].1, &cur, &ctx.locations, &CAPABILITIES.compare),
        vec![]
    );
    assert_requests_valid(&h);
}

#[tokio::test]
async fn an_option_no_variant_uses_any_more_is_deleted() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    let mut p = doc(Entity::Product, "O-1", json!({"name": "Cap"}));
    p.options = vec!["Color".into(), "Size".into()];
    for (sku, color) in [("CAP-R", "Red"), ("CAP-B", "Blue")] {
        let mut v = variant(sku, json!({"sku": sku, "price": "10"}), color, &[]);
        v.options.push(("Size".into(), "One".into()));
        v.metafields.clear();
        p.variants.push(v);
    }
    let id = target
        .create(&p, None, &ctx)
        .await
        .expect("created")
        .target_id;
    p.options.pop();
    for v in &mut p.variants {
        v.options.pop();
    }
    let cur = current(&target, Entity::Product, &id).await;
    let before = h.requests().len();
    let w = target.update(&cur, &p, None, &ctx).await.expect("updated");
    let sent: Vec<String> = routes_since(&h, before)
        .iter()
        .map(|r| template(r))
        .collect();
    assert_eq!(
        sent,
        vec![
            "PUT /catalog/variants",
            "DELETE /catalog/products/{id}/options/{id}"
        ]
    );
    assert_eq!(w.requests, 2);
    let options: Value = client(&h)
        .get(&format!("/catalog/products/{id}/options"), &[])
        .await
        .expect("options");
    let names: Vec<&str> = options["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["display_name"].as_str())
        .collect();
    assert_eq!(names, vec!["Color"]);
    let after = current(&target, Entity::Product, &id).await;
    assert_eq!(
        mapsync_core::diff::diff_item(&p, &after, &ctx.locations, &CAPABILITIES.compare),
        vec![]
    );
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_twin_left_unmarked_by_a_killed_run_is_adopted_not_refused() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    // A run killed between the product's create and its marker.
    client(&h)
        .post(
            "/catalog/products",
            &json!({"name": "Twin", "type": "physical", "weight": 0, "price": 1, "sku": "TWIN"}),
        )
        .await
        .expect("made");
    client(&h)
        .post(
            "/catalog/trees/categories",
            &json!([{"name": "Twins", "tree_id": 1, "parent_id": 0}]),
        )
        .await
        .expect("made");
    let p = simple_product("T-1", "Twin", "TWIN");
    let w = target.create(&p, None, &ctx).await.expect("adopted");
    assert!(w.adopted);
    let cur = current(&target, Entity::Product, &w.target_id).await;
    assert_eq!(cur.marker.as_deref(), Some("T-1"));
    assert_eq!(
        mapsync_core::diff::diff_item(&p, &cur, &ctx.locations, &CAPABILITIES.compare),
        vec![]
    );
    let c = doc(
        Entity::Category,
        "twins",
        json!({"name": "Twins", "description": "Two"}),
    );
    let w = target.create(&c, None, &ctx).await.expect("adopted");
    assert!(w.adopted);
    let cur = current(&target, Entity::Category, &w.target_id).await;
    assert_eq!(cur.marker.as_deref(), Some("twins"));
    assert_eq!(
        mapsync_core::diff::diff_item(&c, &cur, &ctx.locations, &CAPABILITIES.compare),
        vec![]
    );
    // Owned by another key, or another SKU: still a duplicate.
    for (key, name, sku) in [("T-2", "Twin", "TWIN"), ("T-3", "Twin", "OTHER")] {
        let e = target
            .create(&simple_product(key, name, sku), None, &ctx)
            .await
            .expect_err("a duplicate");
        assert_eq!(e.kind, ErrorKind::Refused, "{key}: {e}");
    }
    assert_eq!(
        target
            .read_catalog(ReadHint::default())
            .await
            .expect("catalog")
            .products
            .len(),
        1
    );
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_create_whose_follow_up_failed_is_completed_from_the_store() {
    let h = store().await;
    let target = BigCommerceTarget::new(client(&h));
    let ctx = setup(&h, &target).await;
    // The marker's POST answered 500 (not applied; a POST is not resent).
    h.script_faults([Scripted {
        fault: Some(BcFault {
            kind: BcFaultKind::Http5xx,
            after: false,
            status: 500,
        }),
        route: Some("POST /catalog/products/metafields".into()),
    }]);
    let mut p = simple_product("F-1", "Follow-up", "FU-1");
    p.metafields = vec![metafield("specs", "fit", "narrow")];
    let w = target.create(&p, None, &ctx).await.expect("completed");
    assert!(!w.adopted);
    let cur = current(&target, Entity::Product, &w.target_id).await;
    assert_eq!(cur.marker.as_deref(), Some("F-1"));
    assert_eq!(
        mapsync_core::diff::diff_item(&p, &cur, &ctx.locations, &CAPABILITIES.compare),
        vec![]
    );
    assert_eq!(h.stats().route_total("POST /catalog/products"), 1);
    assert_requests_valid(&h);
}
