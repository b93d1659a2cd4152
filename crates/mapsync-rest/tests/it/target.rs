//! The `rest` target against the emulated store (the PIM sandbox with its
//! store routes, keys assigned by the store): categories and products
//! created, updated only when they differ, deactivated and deleted; the key
//! stored where the store keeps it, and a create whose answer was lost
//! adopted by it; images one request per image that changed; failures by
//! kind.

use std::collections::BTreeMap;

use mapsync_core::current::Current;
use mapsync_core::document::{Document, Image, ImageKind};
use mapsync_core::target::{ErrorKind, ReadHint, Target, TargetWrite, WriteContext};
use mapsync_core::Entity;
use mapsync_rest::RestTarget;
use mapsync_sandbox::pim::{self, PimConfig, PimHandle};
use serde_json::{json, Value};

const TOKEN: &str = "store-token";

async fn store() -> PimHandle {
    pim::start(PimConfig {
        token: Some(TOKEN.into()),
        category_key: "id".into(),
        product_key: "id".into(),
        ..PimConfig::default()
    })
    .await
    .expect("the store starts")
}

/// The options of connectors.md §3, on the emulated store.
fn options(url: &str) -> Value {
    json!({
        "type": "rest",
        "base_url": url,
        "auth": { "bearer": TOKEN },
        "timeout": "5s",
        "backoff": "1ms",
        "retries": 2,
        "entities": {
            "category": {
                "list": { "path": "/categories", "records": "data", "id": "id", "key": "external_id" },
                "paging": { "style": "page", "page": "page", "size": "per_page", "max": 100 },
                "create": { "method": "POST", "path": "/categories", "id": "data.id" },
                "update": { "method": "PUT", "path": "/categories/{{ id }}" },
                "delete": { "method": "DELETE", "path": "/categories/{{ id }}" }
            },
            "product": {
                "list": {
                    "path": "/products", "records": "data", "id": "id", "key": "external_id",
                    "published": "active", "key_param": "filter[external_id]"
                },
                "paging": { "style": "page", "page": "page", "size": "per_page", "max": 2 },
                "get": { "path": "/products/{{ id }}", "record": "data" },
                "create": { "method": "POST", "path": "/products", "id": "data.id" },
                "update": { "method": "PUT", "path": "/products/{{ id }}" },
                "delete": { "method": "DELETE", "path": "/products/{{ id }}" },
                "deactivate": { "method": "PATCH", "path": "/products/{{ id }}", "body": { "active": false } },
                "categories": "category_ids"
            }
        },
        "images": {
            "list": { "path": "/products/{{ product_id }}/images", "records": "data", "id": "id", "url": "url", "position": "position" },
            "add": { "method": "POST", "path": "/products/{{ product_id }}/images", "body": { "url": "{{ url }}", "position": "{{ position }}" } },
            "overwrite": { "method": "PUT", "path": "/images/{{ image_id }}", "body": { "url": "{{ url }}", "position": "{{ position }}" } },
            "delete": { "method": "DELETE", "path": "/images/{{ image_id }}" }
        }
    })
}

fn target(url: &str) -> RestTarget {
    RestTarget::from_value(&options(url)).unwrap_or_else(|e| panic!("options: {e}"))
}

fn doc(entity: Entity, key: &str, fields: Value, images: &[&str]) -> Document {
    let fields: BTreeMap<String, Value> = serde_json::from_value(fields).unwrap();
    Document {
        entity,
        key: key.into(),
        fields,
        metafields: Vec::new(),
        metafield_descriptions: Vec::new(),
        images: images
            .iter()
            .map(|u| Image {
                kind: ImageKind::Url,
                src: u.to_string(),
                alt: None,
                variant: None,
            })
            .collect(),
        options: Vec::new(),
        variants: Vec::new(),
        categories: Vec::new(),
    }
}

async fn current(t: &RestTarget, entity: Entity, id: &str) -> Current {
    let mut c = t.read_current(entity, &[id.to_string()]).await.unwrap();
    assert_eq!(c.len(), 1, "{id} is in the store");
    c.remove(0)
}

/// Requests the store took on `route`, by any status.
fn taken(pim: &PimHandle, route: &str) -> u64 {
    pim.stats()
        .by_route
        .get(route)
        .map(|m| m.values().sum())
        .unwrap_or(0)
}

fn product<'a>(snap: &'a Value, id: &str) -> &'a Value {
    snap["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| mapsync_rest_id(&p["id"]) == id)
        .unwrap_or_else(|| panic!("no product {id} in {snap}"))
}

#[tokio::test]
async fn items_are_created_updated_deactivated_and_deleted() {
    let pim = store().await;
    let t = target(&pim.url());
    assert_eq!(t.capabilities().kind, "rest");
    let ctx = WriteContext::default();

    // A category, then a product in it, unpublished.
    let cat = t
        .create(
            &doc(Entity::Category, "C1", json!({"title": "Shoes"}), &[]),
            None,
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!((cat.requests, cat.adopted), (1, false));
    let mut ctx = WriteContext::default();
    ctx.categories.insert("C1".into(), cat.target_id.clone());
    let mut boot = doc(
        Entity::Product,
        "P1",
        json!({"title": "Boot", "price": 49.5, "seo.title": "Boots"}),
        &[],
    );
    boot.categories = vec!["C1".into(), "C-unknown".into()];
    let p = t.create(&boot, Some(false), &ctx).await.unwrap();
    assert_eq!(p.requests, 1);
    let snap = pim.snapshot();
    let stored = product(&snap, &p.target_id);
    assert_eq!(stored["external_id"], "P1", "the key is kept: {stored}");
    assert_eq!(stored["title"], "Boot");
    assert_eq!(stored["price"], 49.5, "a number stays a number");
    assert_eq!(
        stored["seo"],
        json!({"title": "Boots"}),
        "a dotted name nests"
    );
    assert_eq!(stored["active"], false);
    assert_eq!(stored["category_ids"], json!([cat.target_id]));

    // The catalog: ids, markers, published.
    let c = t.read_catalog(ReadHint::default()).await.unwrap();
    assert_eq!(c.categories.len(), 1);
    assert_eq!(c.categories[0].marker.as_deref(), Some("C1"));
    assert_eq!(c.categories[0].title, "Shoes");
    assert_eq!(c.products[0].id, p.target_id);
    assert_eq!(c.products[0].marker.as_deref(), Some("P1"));
    assert!(!c.products[0].published);
    let found = t.find_by_marker(Entity::Product, "P1").await.unwrap();
    assert_eq!(found.map(|i| i.id), Some(p.target_id.clone()));
    assert_eq!(t.find_by_marker(Entity::Product, "P9").await.unwrap(), None);
    assert_eq!(
        t.find_by_handle(Entity::Product, "boot").await.unwrap(),
        None
    );
    assert!(t.locations().await.unwrap().is_empty());

    // The same document again: nothing is sent.
    let cur = current(&t, Entity::Product, &p.target_id).await;
    assert_eq!(cur.marker.as_deref(), Some("P1"));
    assert_eq!(cur.categories, vec![cat.target_id.clone()]);
    let puts = taken(&pim, "PUT /products/{key}");
    let w = t.update(&cur, &boot, Some(false), &ctx).await.unwrap();
    assert_eq!(w.requests, 0);
    assert_eq!(taken(&pim, "PUT /products/{key}"), puts);

    // One field changed: one update; published now.
    let mut boot2 = boot.clone();
    boot2.fields.insert("title".into(), json!("Boot II"));
    let w = t.update(&cur, &boot2, Some(true), &ctx).await.unwrap();
    assert_eq!(w.requests, 1);
    let snap = pim.snapshot();
    assert_eq!(product(&snap, &p.target_id)["title"], "Boot II");
    assert_eq!(product(&snap, &p.target_id)["active"], true);
    // A field the item lacks is sent too.
    let cur = current(&t, Entity::Product, &p.target_id).await;
    boot2.fields.insert("vendor".into(), json!("Acme"));
    let w = t.update(&cur, &boot2, Some(true), &ctx).await.unwrap();
    assert_eq!(w.requests, 1);
    assert_eq!(product(&pim.snapshot(), &p.target_id)["vendor"], "Acme");

    // Deactivated: reads as unpublished.
    let w = t.deactivate(Entity::Product, &p.target_id).await.unwrap();
    assert_eq!(w.requests, 1);
    let c = t.read_catalog(ReadHint::default()).await.unwrap();
    assert!(!c.products[0].published);

    // Deleted; deleting again counts as deleted; deactivating is gone.
    t.delete(Entity::Product, &p.target_id).await.unwrap();
    t.delete(Entity::Product, &p.target_id).await.unwrap();
    assert!(pim.snapshot()["products"].as_array().unwrap().is_empty());
    let e = t
        .deactivate(Entity::Product, &p.target_id)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Gone, "{e}");
    let e = t
        .update(
            &cur,
            &doc(Entity::Product, "P1", json!({"title": "X"}), &[]),
            None,
            &ctx,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Gone, "{e}");
    assert!(t
        .read_current(Entity::Product, std::slice::from_ref(&p.target_id))
        .await
        .unwrap()
        .is_empty());
    // Categories have no deactivate request here.
    let e = t
        .deactivate(Entity::Category, &cat.target_id)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(
        e.to_string().contains("entities.category.deactivate"),
        "{e}"
    );
    t.delete(Entity::Category, &cat.target_id).await.unwrap();
    assert!(t.request_stats().requests > 10);
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
async fn a_create_whose_answer_is_lost_is_adopted_by_its_key() {
    let pim = store().await;
    let t = target(&pim.url());
    let ctx = WriteContext::default();
    // The store creates the product, then drops the connection.
    script(
        &pim,
        json!([{"kind": "reset", "after": true, "route": "POST /products"}]),
    )
    .await;
    let w = t
        .create(
            &doc(Entity::Product, "P1", json!({"title": "Boot"}), &[]),
            Some(true),
            &ctx,
        )
        .await
        .unwrap();
    assert!(w.adopted, "{w:?}");
    assert_eq!(pim.snapshot()["products"].as_array().unwrap().len(), 1);
    assert_eq!(taken(&pim, "POST /products"), 1, "sent once");
    // Found with the key filter: one request.
    assert_eq!(w.requests, 2);

    // A 5xx after the create (the categories have no key filter: the list
    // is read), and a 5xx before it (not created: sent again).
    script(
        &pim,
        json!([
            {"kind": "5xx", "after": true, "route": "POST /categories"},
            {"kind": "5xx", "route": "POST /categories"}
        ]),
    )
    .await;
    let c1 = t
        .create(
            &doc(Entity::Category, "C1", json!({"title": "A"}), &[]),
            None,
            &ctx,
        )
        .await
        .unwrap();
    assert!(c1.adopted);
    let c2 = t
        .create(
            &doc(Entity::Category, "C2", json!({"title": "B"}), &[]),
            None,
            &ctx,
        )
        .await
        .unwrap();
    assert!(!c2.adopted);
    assert_ne!(c1.target_id, c2.target_id);
    assert_eq!(pim.snapshot()["categories"].as_array().unwrap().len(), 2);
    assert_eq!(taken(&pim, "POST /categories"), 3);
    assert_eq!(pim.stats().count("POST /categories", "201"), 1);
}

#[tokio::test]
async fn images_cost_one_request_per_image_that_changed() {
    let pim = store().await;
    let t = target(&pim.url());
    let ctx = WriteContext::default();
    let urls = [
        "https://img.example/1.jpg",
        "https://img.example/2.jpg",
        "https://img.example/3.jpg",
    ];
    let d = doc(Entity::Product, "P1", json!({"title": "Boot"}), &urls);
    let w = t.create(&d, None, &ctx).await.unwrap();
    assert_eq!(w.requests, 4, "the product and three images");
    let cur = current(&t, Entity::Product, &w.target_id).await;
    assert_eq!(cur.images, urls);

    // Unchanged: nothing.
    let n = pim.stats().requests;
    let u = t.update(&cur, &d, None, &ctx).await.unwrap();
    assert_eq!(u.requests, 0);
    assert_eq!(pim.stats().requests, n);

    // The second changed, the third gone, a fourth new: one overwrite, one
    // delete, one add — and no update of the product.
    let urls2 = ["https://img.example/1.jpg", "https://img.example/2b.jpg"];
    let d2 = doc(Entity::Product, "P1", json!({"title": "Boot"}), &urls2);
    let u = t.update(&cur, &d2, None, &ctx).await.unwrap();
    assert_eq!(u.requests, 2);
    assert_eq!(taken(&pim, "PUT /images/{id}"), 1);
    assert_eq!(taken(&pim, "DELETE /images/{id}"), 1);
    assert_eq!(taken(&pim, "PUT /products/{key}"), 0);
    let cur = current(&t, Entity::Product, &w.target_id).await;
    assert_eq!(cur.images, urls2);
    let urls3 = [urls2[0], urls2[1], "https://img.example/4.jpg"];
    let d3 = doc(Entity::Product, "P1", json!({"title": "Boot"}), &urls3);
    let u = t.update(&cur, &d3, None, &ctx).await.unwrap();
    assert_eq!(u.requests, 1);
    assert_eq!(taken(&pim, "POST /products/{key}/images"), 4);
    assert_eq!(
        current(&t, Entity::Product, &w.target_id).await.images,
        urls3
    );

    // An image add whose answer is lost is not added twice.
    let cur = current(&t, Entity::Product, &w.target_id).await;
    script(
        &pim,
        json!([{"kind": "reset", "after": true, "route": "images"}]),
    )
    .await;
    let urls4 = [urls3[0], urls3[1], urls3[2], "https://img.example/5.jpg"];
    let d4 = doc(Entity::Product, "P1", json!({"title": "Boot"}), &urls4);
    t.update(&cur, &d4, None, &ctx).await.unwrap();
    assert_eq!(
        current(&t, Entity::Product, &w.target_id).await.images,
        urls4
    );
    assert_eq!(taken(&pim, "POST /products/{key}/images"), 5);

    // Embedded data is refused before anything is sent.
    let mut e = d4.clone();
    e.images[0].kind = ImageKind::Embedded;
    let err = t.create(&e, None, &ctx).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused, "{err}");
}

#[tokio::test]
async fn failures_keep_their_kind() {
    let pim = store().await;
    let ctx = WriteContext::default();

    // 401: denied.
    let mut o = options(&pim.url());
    o["auth"]["bearer"] = json!("wrong");
    let bad = RestTarget::from_value(&o).unwrap();
    let e = bad.read_catalog(ReadHint::default()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied, "{e}");
    assert!(!e.to_string().contains("store-token"), "{e}");

    let t = target(&pim.url());
    // 4xx: refused, with the store's message.
    let d = doc(
        Entity::Product,
        "P1",
        json!({"title": "Boot", "LastUpdated": "yesterday"}),
        &[],
    );
    let e = t.create(&d, None, &ctx).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e}");
    assert!(
        e.to_string()
            .contains("LastUpdated is maintained by the PIM"),
        "{e}"
    );
    assert!(e.to_string().contains("HTTP 422"), "{e}");

    // 5xx after the retries: transient (the create is looked up each time).
    script(
        &pim,
        json!([
            {"kind": "5xx", "route": "POST /products"},
            {"kind": "5xx", "route": "POST /products"},
            {"kind": "5xx", "route": "POST /products"}
        ]),
    )
    .await;
    let d = doc(Entity::Product, "P2", json!({"title": "Boot"}), &[]);
    let e = t.create(&d, None, &ctx).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
    assert!(pim.snapshot()["products"].as_array().unwrap().is_empty());

    // Options that cannot work: config.
    let mut o = options(&pim.url());
    o["entities"]["product"]["update"]["path"] = json!("/products/{{ id");
    let e = RestTarget::from_value(&o).unwrap_err();
    assert!(e.message.contains("does not parse"), "{e}");
    let mut o = options(&pim.url());
    o["entities"]["product"]["list"]["colour"] = json!("x");
    let e = RestTarget::from_value(&o).unwrap_err();
    assert!(e.message.contains("colour"), "{e}");
    let mut o = options(&pim.url());
    o["base_url"] = json!("not a url");
    assert!(RestTarget::from_value(&o).is_err());
}

/// An id as the target reads it (a number as its digits).
fn mapsync_rest_id(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
