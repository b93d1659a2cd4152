//! The `shopify` target's write side: the input builders as snapshots of
//! the documents in tests/data/write/, and every write through real HTTP
//! against the in-process sandbox on 127.0.0.1, counting requests with the
//! sandbox's `/__sandbox/stats`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mapsync::connectors::shopify::input;
use mapsync::connectors::shopify::model::Product;
use mapsync::connectors::shopify::{
    AccessToken, ClientConfig, ReadOptions, ShopLocation, ShopifyClient, ShopifyError,
    ShopifyTarget, UploadCache, Uploads, WriteContext, Written,
};
use mapsync::plan::document::{Document, Entity, MetafieldDescription};
use mapsync::sandbox::{self, SandboxConfig, SandboxHandle, ShopPlan};
use serde_json::{json, Value};

fn data(name: &str) -> Document {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/write")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const REF_LOCATIONS: [&str; 5] = ["CPH", "AAR", "ODE", "OSL", "STO"];

/// A context with made-up ids, for the pure builders.
fn fixed_ctx() -> WriteContext {
    WriteContext {
        locations: REF_LOCATIONS
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), format!("gid://shopify/Location/{}", i + 1)))
            .collect(),
        categories: [
            ("shirts", "gid://shopify/Collection/11"),
            ("summer", "gid://shopify/Collection/12"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    }
}

#[test]
fn product_set_inputs_of_the_data_documents() {
    for name in ["product_5x5x10", "product_gift_card"] {
        let doc = data(&format!("{name}.json"));
        let value = input::product_create(&doc, None, &fixed_ctx()).unwrap();
        insta::assert_json_snapshot!(format!("product_set_create__{name}"), value);
    }
    let unpublished =
        input::product_create(&data("product_gift_card.json"), Some(false), &fixed_ctx()).unwrap();
    assert_eq!(unpublished["status"], "DRAFT");
}

#[test]
fn collection_inputs_of_the_data_documents() {
    let value = input::collection_create(&data("category_shirts.json")).unwrap();
    insta::assert_json_snapshot!("collection_create__category_shirts", value);
}

#[test]
fn embedded_images_not_uploaded_are_refused_with_their_position() {
    let e = input::product_create(&data("product_embedded_image.json"), None, &fixed_ctx())
        .unwrap_err();
    insta::assert_snapshot!("embedded_image_error", e.to_string());
}

// ---- over HTTP -----------------------------------------------------------

struct Shop {
    handle: SandboxHandle,
    http: reqwest::Client,
    target: ShopifyTarget,
    ctx: WriteContext,
}

async fn shop_with(config: SandboxConfig, timeout: Duration) -> Shop {
    let handle = sandbox::start(SandboxConfig {
        plan: ShopPlan::Unlimited,
        ..config
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let added: Value = http
        .post(format!("{}/__sandbox/locations", handle.url()))
        .json(&json!([{"name": "Aarhus"}, {"name": "Odense"}, {"name": "Oslo"}, {"name": "Stockholm"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(added.as_array().unwrap().len(), 4);
    let mut cfg = ClientConfig::new(
        ShopLocation::url(&handle.url()).unwrap(),
        AccessToken::new("shpat_test"),
    );
    cfg.timeout = timeout;
    cfg.backoff_base = Duration::from_millis(5);
    let target = ShopifyTarget::new(ShopifyClient::new(cfg).unwrap(), ReadOptions::default());
    let mut locations = target.locations().await.unwrap();
    locations.sort_by_key(|l| l.id.rsplit('/').next().unwrap().parse::<u64>().unwrap());
    let ctx = WriteContext {
        locations: REF_LOCATIONS
            .iter()
            .zip(&locations)
            .map(|(r, l)| (r.to_string(), l.id.clone()))
            .collect(),
        ..Default::default()
    };
    Shop {
        handle,
        http,
        target,
        ctx,
    }
}

async fn shop() -> Shop {
    shop_with(SandboxConfig::default(), Duration::from_secs(10)).await
}

impl Shop {
    async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/__sandbox/stats", self.handle.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn requests(&self) -> u64 {
        self.stats().await["requests"].as_u64().unwrap()
    }

    async fn ops(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.stats().await["by_operation"].clone()).unwrap()
    }

    /// Updates `current` to `desired`: what the write reports, and the
    /// operations the store saw meanwhile.
    async fn update_counted(
        &self,
        current: &Product,
        desired: &Document,
        ctx: &WriteContext,
    ) -> (Written, BTreeMap<String, u64>) {
        let before = self.ops().await;
        let w = self
            .target
            .update_product(current, desired, None, ctx)
            .await
            .unwrap();
        (w, delta(&before, &self.ops().await))
    }

    async fn script_faults(&self, faults: Value) {
        let r = self
            .http
            .post(format!("{}/__sandbox/faults", self.handle.url()))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn product_count(&self) -> usize {
        let snap: Value = self
            .http
            .get(format!("{}/__sandbox/snapshot", self.handle.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        snap["products"].as_object().unwrap().len()
    }

    async fn product(&self, id: &str) -> Product {
        let mut found = self.target.read_products(&[id.to_string()]).await.unwrap();
        assert_eq!(found.len(), 1, "{id} is there");
        found.remove(0)
    }

    /// Creates both categories and returns a product context knowing them.
    async fn with_categories(&self) -> WriteContext {
        let mut ctx = self.ctx.clone();
        for name in ["category_shirts.json", "category_summer.json"] {
            let doc = data(name);
            let w = self.target.create(&doc, None, &ctx).await.unwrap();
            assert_eq!(w.requests, 1);
            ctx.categories.insert(doc.key.clone(), w.target_id);
        }
        ctx
    }
}

/// Difference of the counters per operation.
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn ops(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn available(p: &Product, sku: &str, location: &str) -> Option<i64> {
    p.variants
        .iter()
        .find(|v| v.sku.as_deref() == Some(sku))?
        .inventory_levels
        .iter()
        .find(|l| l.location_id == location)?
        .quantities
        .get("available")
        .copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5x5x10_product_is_created_in_one_request_and_updated_with_only_what_changed() {
    let shop = shop().await;
    let ctx = shop.with_categories().await;
    let doc = data("product_5x5x10.json");

    let before = shop.ops().await;
    let w = shop.target.create(&doc, None, &ctx).await.unwrap();
    // One productSet; the first create of a run also looks up the
    // ownership marker's definition and makes it (unique values).
    assert_eq!(
        delta(&before, &shop.ops().await),
        ops(&[
            ("metafieldDefinitionCreate", 1),
            ("metafieldDefinitions", 1),
            ("productSet", 1)
        ])
    );
    assert_eq!((w.requests, w.adopted), (3, false));

    let p = shop.product(&w.target_id).await;
    assert_eq!(p.title, "Linen shirt");
    assert_eq!(p.status, "ACTIVE");
    assert_eq!(p.seo.title.as_deref(), Some("Linen shirt | Nordlys"));
    assert_eq!(p.seo.description.as_deref(), Some("A soft linen shirt"));
    assert_eq!(p.marker(), Some("P-100"));
    assert_eq!(p.metafields.len(), 11, "10 metafields and the marker");
    assert!(!p
        .metafields
        .iter()
        .any(|m| m.namespace == "global" && m.key == "title_tag"));
    let mut cols = p.collections.clone();
    cols.sort();
    let mut want: Vec<String> = ctx.categories.values().cloned().collect();
    want.sort();
    assert_eq!(cols, want);
    assert_eq!(p.variants.len(), 5);
    for (i, size) in ["XS", "S", "M", "L", "XL"].iter().enumerate() {
        let sku = format!("P-100-{size}");
        for (j, loc) in REF_LOCATIONS.iter().enumerate() {
            assert_eq!(
                available(&p, &sku, &ctx.locations[*loc]),
                Some(((i + 1) * 10 + j) as i64),
                "{sku} at {loc}"
            );
        }
    }
    let xs = p
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some("P-100-XS"))
        .unwrap();
    assert_eq!(xs.metafields.len(), 1);
    assert_eq!(
        xs.inventory_item
            .as_ref()
            .unwrap()
            .harmonized_system_code
            .as_deref(),
        Some("620520")
    );
    let sources: Vec<_> = p
        .media
        .iter()
        .filter_map(|m| m.original_source.clone())
        .collect();
    assert_eq!(
        sources,
        [
            "https://cdn.example.com/p100/front.jpg",
            "https://cdn.example.com/p100/back.jpg",
            "https://cdn.example.com/p100/xl.jpg"
        ]
    );

    // Nothing changed: nothing sent.
    let (w, seen) = shop.update_counted(&p, &doc, &ctx).await;
    assert_eq!(w.requests, 0);
    assert_eq!(seen, ops(&[]));

    // Only a price: one productSet; variant, inventory item and media ids survive.
    let mut changed = doc.clone();
    changed.variants[2]
        .fields
        .insert("price".into(), json!("99"));
    let (w, seen) = shop.update_counted(&p, &changed, &ctx).await;
    assert_eq!(w.requests, 1);
    assert_eq!(seen, ops(&[("productSet", 1)]));
    let after = shop.product(&p.id).await;
    let ids = |p: &Product| {
        (
            p.variants
                .iter()
                .map(|v| (v.id.clone(), v.inventory_item.as_ref().unwrap().id.clone()))
                .collect::<Vec<_>>(),
            p.media.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(ids(&after), ids(&p));
    assert_eq!(after.variants[2].price, "99.00");
    assert_eq!(after.metafields.len(), 11);
    assert_eq!(
        available(&after, "P-100-M", &ctx.locations["STO"]),
        Some(34)
    );

    // Only a quantity: one inventorySetQuantities.
    let mut changed2 = changed.clone();
    changed2.variants[4].quantities.insert("OSL".into(), 7);
    let (w, seen) = shop.update_counted(&after, &changed2, &ctx).await;
    assert_eq!(w.requests, 1);
    assert_eq!(seen, ops(&[("inventorySetQuantities", 1)]));
    let after2 = shop.product(&p.id).await;
    assert_eq!(
        available(&after2, "P-100-XL", &ctx.locations["OSL"]),
        Some(7)
    );
    assert_eq!(
        available(&after2, "P-100-XL", &ctx.locations["STO"]),
        Some(54)
    );

    // A price and a quantity: one productSet, the quantity rides in it
    // (2026-04); unpublishing goes with it too.
    let mut changed3 = changed2.clone();
    changed3.variants[0]
        .fields
        .insert("price".into(), json!("10"));
    changed3.variants[0].quantities.insert("CPH".into(), 0);
    let w = shop
        .target
        .update_product(&after2, &changed3, Some(false), &ctx)
        .await
        .unwrap();
    assert_eq!(w.requests, 1);
    let after3 = shop.product(&p.id).await;
    assert_eq!(after3.status, "DRAFT");
    assert_eq!(
        available(&after3, "P-100-XS", &ctx.locations["CPH"]),
        Some(0)
    );
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_flags_protect_variants_and_metafields_from_list_replacement() {
    let shop = shop().await;
    let ctx = shop.with_categories().await;
    let doc = data("product_5x5x10.json");
    let w = shop.target.create(&doc, None, &ctx).await.unwrap();
    let p = shop.product(&w.target_id).await;

    // The document drops variant XL and metafield attr_00.
    let mut smaller = doc.clone();
    smaller.variants.pop();
    smaller.metafields.remove(0);
    smaller.images.pop();

    let keep = WriteContext {
        keep_existing_variant_data: true,
        keep_deleted_metafields: true,
        ..ctx.clone()
    };
    let before = shop.requests().await;
    let w = shop
        .target
        .update_product(&p, &smaller, None, &keep)
        .await
        .unwrap();
    // Only the dropped image changes the product.
    assert_eq!(w.requests, 1);
    assert_eq!(shop.requests().await - before, 1);
    let kept = shop.product(&p.id).await;
    assert_eq!(kept.variants.len(), 5, "XL kept");
    let xl = kept
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some("P-100-XL"))
        .unwrap();
    assert_eq!(xl.id, p.variants[4].id);
    assert_eq!(
        available(&kept, "P-100-XL", &ctx.locations["CPH"]),
        Some(50)
    );
    assert!(kept
        .metafields
        .iter()
        .any(|m| m.namespace == "custom" && m.key == "attr_00"));
    assert_eq!(kept.media.len(), 2);

    // Without the flags, list replacement removes them.
    let w = shop
        .target
        .update_product(&kept, &smaller, None, &ctx)
        .await
        .unwrap();
    assert_eq!(w.requests, 1);
    let replaced = shop.product(&p.id).await;
    assert_eq!(replaced.variants.len(), 4);
    assert!(!replaced
        .metafields
        .iter()
        .any(|m| m.namespace == "custom" && m.key == "attr_00"));
    assert_eq!(replaced.marker(), Some("P-100"));
    assert_eq!(replaced.metafields.len(), 10);
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gift_card_product_without_options_and_its_untouched_metafields() {
    let shop = shop().await;
    let doc = data("product_gift_card.json");
    let w = shop
        .target
        .create(&doc, Some(false), &shop.ctx)
        .await
        .unwrap();
    assert_eq!(
        w.requests, 3,
        "the marker's definition (lookup, create), the productSet"
    );
    let p = shop.product(&w.target_id).await;
    assert_eq!(p.status, "DRAFT");
    assert_eq!(p.variants.len(), 1);
    assert_eq!(p.variants[0].price, "25.00");
    assert_eq!(p.marker(), Some("P-200"));
    // A metafield set by someone else stays: the document has no metafields.
    shop.http
        .post(shop.handle.graphql_url())
        .json(&json!({"query": "mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { userErrors { message } } }",
            "variables": {"m": [{"ownerId": p.id, "namespace": "other", "key": "note", "type": "single_line_text_field", "value": "x"}]}}))
        .send()
        .await
        .unwrap();
    let p = shop.product(&p.id).await;
    let mut renamed = doc.clone();
    renamed.fields.insert("title".into(), json!("Gift card 2"));
    let w = shop
        .target
        .update_product(&p, &renamed, Some(false), &shop.ctx)
        .await
        .unwrap();
    assert_eq!(w.requests, 1);
    let p2 = shop.product(&p.id).await;
    assert_eq!(p2.title, "Gift card 2");
    assert_eq!(p2.metafields.len(), 2, "marker and other.note");
    assert_eq!(p2.variants[0].id, p.variants[0].id);
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_update_delete_metafields_unpublish_and_delete() {
    let shop = shop().await;
    let doc = data("category_shirts.json");
    let w = shop.target.create(&doc, None, &shop.ctx).await.unwrap();
    let c = shop
        .target
        .read_collections(std::slice::from_ref(&w.target_id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c.marker(), Some("shirts"));
    assert_eq!(c.seo.title.as_deref(), Some("Shirts | Nordlys"));
    assert_eq!(c.sort_order, "BEST_SELLING");
    assert!(c.published);

    // Unchanged: nothing sent.
    let u = shop
        .target
        .update_collection(&c, &doc, None, &shop.ctx)
        .await
        .unwrap();
    assert_eq!(u.requests, 0);

    // A metafield removed: kept with the flag (nothing sent), deleted without.
    let mut less = doc.clone();
    less.metafields.remove(1);
    let keep = WriteContext {
        keep_deleted_metafields: true,
        ..shop.ctx.clone()
    };
    let u = shop
        .target
        .update_collection(&c, &less, None, &keep)
        .await
        .unwrap();
    assert_eq!(u.requests, 0);
    let before = shop.ops().await;
    let u = shop
        .target
        .update_collection(&c, &less, None, &shop.ctx)
        .await
        .unwrap();
    assert_eq!(u.requests, 1);
    assert_eq!(
        delta(&before, &shop.ops().await),
        ops(&[("metafieldsDelete", 1)])
    );

    // A title change and unpublishing.
    let c = shop
        .target
        .read_collections(std::slice::from_ref(&w.target_id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c.metafields.len(), 2);
    less.fields.insert("title".into(), json!("Shirts & tops"));
    let before = shop.ops().await;
    shop.target
        .update_collection(&c, &less, Some(false), &shop.ctx)
        .await
        .unwrap();
    assert_eq!(
        delta(&before, &shop.ops().await),
        ops(&[
            ("collectionUpdate", 1),
            ("publications", 1),
            ("publishableUnpublish", 1)
        ])
    );
    let c = shop
        .target
        .read_collections(std::slice::from_ref(&w.target_id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c.title, "Shirts & tops");
    assert!(!c.published);

    // Deactivate (already unpublished is fine), delete, delete again.
    let d = shop
        .target
        .deactivate(Entity::Category, &c.id)
        .await
        .unwrap();
    assert_eq!(d.requests, 2);
    shop.target.delete(Entity::Category, &c.id).await.unwrap();
    let again = shop.target.delete(Entity::Category, &c.id).await.unwrap();
    assert_eq!(again.requests, 1);
    assert!(shop
        .target
        .read_collections(std::slice::from_ref(&c.id))
        .await
        .unwrap()
        .is_empty());
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_deactivated_and_deleted_and_a_gone_id_counts_as_deleted() {
    let shop = shop().await;
    let w = shop
        .target
        .create(&data("product_gift_card.json"), None, &shop.ctx)
        .await
        .unwrap();
    let d = shop
        .target
        .deactivate(Entity::Product, &w.target_id)
        .await
        .unwrap();
    assert_eq!(d.requests, 1);
    assert_eq!(shop.product(&w.target_id).await.status, "DRAFT");
    let del = shop
        .target
        .delete(Entity::Product, &w.target_id)
        .await
        .unwrap();
    assert_eq!(del.requests, 1);
    assert_eq!(shop.product_count().await, 0);
    shop.target
        .delete(Entity::Product, &w.target_id)
        .await
        .unwrap();
    shop.handle.shutdown().await.unwrap();
}

/// Creates a first product, so the marker's definition exists and the
/// next requests are the ones a test scripts faults for.
async fn first_product(shop: &Shop) {
    let mut first = data("product_gift_card.json");
    first.key = "P-FIRST".into();
    first.fields.insert("handle".into(), json!("p-first"));
    shop.target.create(&first, None, &shop.ctx).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_lost_is_sent_again_and_never_duplicated() {
    let shop = shop().await;
    first_product(&shop).await;
    let doc = data("product_gift_card.json");

    // Applied, then the connection is reset: the upsert on the marker is
    // sent again and updates the product it made.
    shop.script_faults(json!([{"kind": "reset", "after": true}]))
        .await;
    let w = shop.target.create(&doc, None, &shop.ctx).await.unwrap();
    assert_eq!(w.requests, 2, "the productSet, sent twice");
    assert_eq!(shop.product_count().await, 2);
    assert_eq!(shop.product(&w.target_id).await.marker(), Some("P-200"));

    // Reset before applying: sent again once, created once.
    let mut other = doc.clone();
    other.key = "P-201".into();
    shop.script_faults(json!([{"kind": "reset", "after": false}]))
        .await;
    let w2 = shop.target.create(&other, None, &shop.ctx).await.unwrap();
    assert!(!w2.adopted);
    assert_eq!(w2.requests, 2, "productSet, productSet");
    assert_eq!(shop.product_count().await, 3);

    // Collections too.
    shop.script_faults(json!([{"kind": "reset", "after": true}]))
        .await;
    let c = shop
        .target
        .create(&data("category_summer.json"), None, &shop.ctx)
        .await
        .unwrap();
    assert!(c.adopted);
    let all = shop.target.read_reduced(Default::default()).await.unwrap();
    assert_eq!(all.categories.len(), 1);
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_times_out_after_applying_is_not_duplicated() {
    let shop = shop_with(
        SandboxConfig {
            fault_timeout: Duration::from_millis(1500),
            ..Default::default()
        },
        Duration::from_millis(400),
    )
    .await;
    first_product(&shop).await;
    shop.script_faults(json!([{"kind": "timeout", "after": true}]))
        .await;
    let w = shop
        .target
        .create(&data("product_gift_card.json"), None, &shop.ctx)
        .await
        .unwrap();
    assert_eq!(shop.product_count().await, 2);
    assert_eq!(shop.product(&w.target_id).await.marker(), Some("P-200"));
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_come_back_as_user_errors_and_are_not_retried() {
    let shop = shop().await;
    let mut doc = data("product_gift_card.json");
    doc.metafields
        .push(mapsync::plan::document::MetafieldValue {
            namespace: "custom".into(),
            key: "count".into(),
            ty: "number_integer".into(),
            value: "many".into(),
        });
    let before = shop.requests().await;
    let e = shop.target.create(&doc, None, &shop.ctx).await.unwrap_err();
    assert!(matches!(e, ShopifyError::UserErrors { .. }), "{e}");
    assert!(e.to_string().contains("metafields"), "{e}");
    assert_eq!(
        shop.requests().await - before,
        3,
        "the marker's definition (lookup, create), then the productSet once"
    );
    assert_eq!(shop.product_count().await, 0);

    // A document that cannot be sent is refused without a request.
    let mut bad = data("product_embedded_image.json");
    bad.images[0].src = "not base64!".into();
    let e = shop.target.create(&bad, None, &shop.ctx).await.unwrap_err();
    assert!(e.to_string().contains("is not valid base64"), "{e}");
    assert_eq!(shop.requests().await - before, 3, "nothing more was sent");
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metafield_definitions_are_created_and_their_descriptions_updated() {
    let shop = shop().await;
    let d = MetafieldDescription {
        namespace: "custom".into(),
        key: "banner".into(),
        description: "Text over the banner".into(),
    };
    let n = shop
        .target
        .ensure_metafield_definitions_typed(
            Entity::Category,
            &[(d.clone(), Some("single_line_text_field".into()))],
        )
        .await
        .unwrap();
    assert_eq!(n, 2, "lookup and create");
    // Same description: only the lookup.
    let n = shop
        .target
        .ensure_metafield_definitions(Entity::Category, &[(d.clone(), None)])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let changed = MetafieldDescription {
        description: "Shown over the banner".into(),
        ..d
    };
    let n = shop
        .target
        .ensure_metafield_definitions(Entity::Category, &[(changed, None)])
        .await
        .unwrap();
    assert_eq!(n, 2, "lookup and update");
    let r: Value = shop
        .http
        .post(shop.handle.graphql_url())
        .json(&json!({"query": "{ metafieldDefinitions(ownerType: COLLECTION, first: 5) { nodes { key description type { name } } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["data"]["metafieldDefinitions"]["nodes"],
        json!([{"key": "banner", "description": "Shown over the banner", "type": {"name": "single_line_text_field"}}])
    );
    shop.handle.shutdown().await.unwrap();
}

/// The gift card document with every field the full read used to miss, and
/// a stocked quantity.
fn read_back_doc() -> Document {
    let mut doc = data("product_gift_card.json");
    doc.key = "P-300".into();
    let v = &mut doc.variants[0];
    v.fields
        .insert("inventory_item.province_code_of_origin".into(), json!("ON"));
    v.fields
        .insert("inventory_item.country_code_of_origin".into(), json!("CA"));
    v.quantities.insert("CPH".into(), 5);
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_once_unreadable_are_read_back_and_only_a_change_sends_the_product() {
    let shop = shop().await;
    let doc = read_back_doc();
    let w = shop.target.create(&doc, None, &shop.ctx).await.unwrap();
    let p = shop.product(&w.target_id).await;
    assert_eq!(p.template_suffix.as_deref(), Some("gift"));
    assert!(p.gift_card);
    let v = &p.variants[0];
    assert!(!v.taxable);
    assert_eq!(v.inventory_policy, "CONTINUE");
    let item = v.inventory_item.as_ref().unwrap();
    assert!(!item.requires_shipping);
    assert_eq!(item.province_code_of_origin.as_deref(), Some("ON"));
    let weight = item.weight.as_ref().unwrap();
    assert_eq!(
        (weight.value.as_str(), weight.unit.as_str()),
        ("0.2", "KILOGRAMS")
    );
    let cph = &shop.ctx.locations["CPH"];
    assert_eq!(p.variants[0].inventory_levels.len(), 1);
    assert_eq!(
        p.variants[0].inventory_levels[0]
            .quantities
            .get("available"),
        Some(&5)
    );
    assert_eq!(&p.variants[0].inventory_levels[0].location_id, cph);

    // Same document (enums in another case, the weight in another form): nothing sent.
    let mut same = doc.clone();
    same.variants[0]
        .fields
        .insert("inventory_policy".into(), json!("continue"));
    same.variants[0]
        .fields
        .insert("inventory_item.weight".into(), json!("0.20"));
    let update = input::product_update(&p, &same, None, &shop.ctx).unwrap();
    assert!(update.product_set.is_none(), "{:?}", update.reasons);
    let (w, seen) = shop.update_counted(&p, &same, &shop.ctx).await;
    assert_eq!(w.requests, 0);
    assert_eq!(seen, ops(&[]));

    // Only a quantity: one inventorySetQuantities, no productSet.
    let mut quantity = doc.clone();
    quantity.variants[0].quantities.insert("CPH".into(), 9);
    let (w, seen) = shop.update_counted(&p, &quantity, &shop.ctx).await;
    assert_eq!(w.requests, 1);
    assert_eq!(seen, ops(&[("inventorySetQuantities", 1)]));
    let mut p = shop.product(&p.id).await;
    assert_eq!(
        p.variants[0].inventory_levels[0]
            .quantities
            .get("available"),
        Some(&9)
    );

    // Each field changed on its own: one productSet, and it reads back.
    let changes: [(&str, bool, Value); 7] = [
        ("template_suffix", false, json!("gift-alt")),
        ("gift_card", false, json!(false)),
        ("taxable", true, json!(true)),
        ("inventory_policy", true, json!("DENY")),
        ("inventory_item.requires_shipping", true, json!(true)),
        ("inventory_item.weight", true, json!("1.25")),
        ("inventory_item.weight_unit", true, json!("GRAMS")),
    ];
    let mut desired = quantity.clone();
    for (field, on_variant, value) in changes {
        if on_variant {
            desired.variants[0].fields.insert(field.into(), value);
        } else {
            desired.fields.insert(field.into(), value);
        }
        let update = input::product_update(&p, &desired, None, &shop.ctx).unwrap();
        assert!(update.quantities.is_empty(), "{field}");
        assert!(
            update.reasons.iter().any(|r| r.ends_with(field)),
            "{field}: {:?}",
            update.reasons
        );
        let (w, seen) = shop.update_counted(&p, &desired, &shop.ctx).await;
        assert_eq!(w.requests, 1, "{field}");
        assert_eq!(seen, ops(&[("productSet", 1)]), "{field}");
        p = shop.product(&p.id).await;
        // Now in the shop: the same document sends nothing.
        let again = input::product_update(&p, &desired, None, &shop.ctx).unwrap();
        assert!(
            again.product_set.is_none() && again.quantities.is_empty(),
            "{field} read back: {:?}",
            again.reasons
        );
    }
    assert_eq!(p.template_suffix.as_deref(), Some("gift-alt"));
    let v = &p.variants[0];
    assert!(v.taxable);
    assert_eq!(v.inventory_policy, "DENY");
    let item = v.inventory_item.as_ref().unwrap();
    assert!(item.requires_shipping);
    let weight = item.weight.as_ref().unwrap();
    assert_eq!(
        (weight.value.as_str(), weight.unit.as_str()),
        ("1.25", "GRAMS")
    );
    shop.handle.shutdown().await.unwrap();
}

impl Shop {
    /// Someone else sets a quantity in the store (an order, a person).
    async fn set_quantity_elsewhere(&self, item: &str, location: &str, quantity: i64) {
        let body = json!({
            "query": "mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) @idempotent(key: \"elsewhere\") { userErrors { message code } } }",
            "variables": {"input": {"name": "available", "reason": "correction", "quantities": [
                {"inventoryItemId": item, "locationId": location, "quantity": quantity, "changeFromQuantity": null}
            ]}}
        });
        let answer: Value = self
            .http
            .post(self.handle.graphql_url())
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let errors = &answer["data"]["inventorySetQuantities"]["userErrors"];
        assert_eq!(errors, &json!([]), "{answer}");
    }
}

/// The update of `doc` whose only change is `quantity` at CPH for its first
/// variant, against a read made before someone else set `elsewhere` there.
async fn update_after_a_concurrent_change(
    elsewhere: i64,
    quantity: i64,
) -> (BTreeMap<String, u64>, Option<i64>) {
    let shop = shop().await;
    let ctx = shop.with_categories().await;
    let doc = data("product_5x5x10.json");
    let w = shop.target.create(&doc, None, &ctx).await.unwrap();
    let read = shop.product(&w.target_id).await;
    let sku = doc.variants[0].key.clone();
    let cph = ctx.locations["CPH"].clone();
    let item = read
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some(sku.as_str()))
        .and_then(|v| v.inventory_item.as_ref())
        .unwrap()
        .id
        .clone();
    shop.set_quantity_elsewhere(&item, &cph, elsewhere).await;
    let mut desired = doc.clone();
    desired.variants[0]
        .quantities
        .insert("CPH".into(), quantity);
    let (_, ops) = shop.update_counted(&read, &desired, &ctx).await;
    let now = available(&shop.product(&w.target_id).await, &sku, &cph);
    shop.handle.shutdown().await.unwrap();
    (ops, now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quantity_changed_since_the_read_is_read_again_then_set() {
    // Stale: the level is read again, and set against the fresh quantity.
    let (ops_seen, now) = update_after_a_concurrent_change(4, 77).await;
    assert_eq!(
        ops_seen,
        ops(&[("inventoryItem", 1), ("inventorySetQuantities", 2)])
    );
    assert_eq!(now, Some(77));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quantity_that_already_holds_the_wanted_value_is_left_alone() {
    let (ops_seen, now) = update_after_a_concurrent_change(77, 77).await;
    assert_eq!(
        ops_seen,
        ops(&[("inventoryItem", 1), ("inventorySetQuantities", 1)])
    );
    assert_eq!(now, Some(77));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quantity_where_a_variant_is_not_stocked_stocks_it_with_inventory_activate() {
    let shop = shop().await;
    let ctx = shop.with_categories().await;
    let mut doc = data("product_5x5x10.json");
    doc.variants[0].quantities.remove("OSL");
    let w = shop.target.create(&doc, None, &ctx).await.unwrap();
    let read = shop.product(&w.target_id).await;
    let sku = doc.variants[0].key.clone();
    let osl = ctx.locations["OSL"].clone();
    assert_eq!(available(&read, &sku, &osl), None, "not stocked at OSL");

    let mut desired = doc.clone();
    desired.variants[0].quantities.insert("OSL".into(), 8);
    let (w2, seen) = shop.update_counted(&read, &desired, &ctx).await;
    assert_eq!(seen, ops(&[("inventoryActivate", 1)]));
    assert_eq!(w2.requests, 1);
    assert_eq!(
        available(&shop.product(&w.target_id).await, &sku, &osl),
        Some(8)
    );
    shop.handle.shutdown().await.unwrap();
}

/// The smallest valid PNG: 1×1, one transparent pixel.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_image_becomes_the_media_of_a_product() {
    use mapsync::connectors::shopify::StagedResource;
    let shop = shop().await;
    let mut requests = 0;
    let staged = shop
        .target
        .stage_file(
            StagedResource::Image,
            "logo.png",
            "image/png",
            PNG_1X1.to_vec(),
            &mut requests,
        )
        .await
        .unwrap();
    assert_eq!(requests, 2, "stagedUploadsCreate and the upload");
    // The store takes the resource URL as a file's source.
    let answer: Value = shop
        .http
        .post(shop.handle.graphql_url())
        .json(&json!({
            "query": "mutation($input: ProductSetInput!) { productSet(input: $input, synchronous: true) { product { id media(first: 5) { nodes { status } } } userErrors { field message } } }",
            "variables": {"input": {"title": "Staged", "files": [
                {"originalSource": staged.resource_url.unwrap(), "contentType": "IMAGE", "alt": "logo"}
            ]}}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"]["productSet"]["userErrors"],
        json!([]),
        "{answer}"
    );
    let media = &answer["data"]["productSet"]["product"]["media"]["nodes"];
    assert_eq!(media.as_array().map(Vec::len), Some(1), "{answer}");
    shop.handle.shutdown().await.unwrap();
}

// ---- embedded images ---------------------------------------------------------

/// An upload cache in memory (the engine's is the state store).
#[derive(Default)]
struct MemoryUploads(std::sync::Mutex<BTreeMap<String, String>>);

#[async_trait::async_trait]
impl UploadCache for MemoryUploads {
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

impl MemoryUploads {
    fn get(&self, key: &str) -> Option<String> {
        self.0.lock().unwrap().get(key).cloned()
    }
}

/// The shop's context with an upload cache in memory.
fn with_uploads(shop: &Shop) -> (WriteContext, std::sync::Arc<MemoryUploads>) {
    let cache = std::sync::Arc::new(MemoryUploads::default());
    let ctx = WriteContext {
        uploads: Uploads::new(cache.clone()),
        ..shop.ctx.clone()
    };
    (ctx, cache)
}

/// `product_embedded_image.json` (one embedded 1×1 PNG, alt `Mug`) and
/// its image's content key.
fn embedded_doc() -> (Document, String) {
    let doc = data("product_embedded_image.json");
    let key = doc.images[0].content_key().unwrap();
    (doc, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_image_is_uploaded_once_and_its_media_followed_until_ready() {
    let shop = shop().await;
    let (ctx, cache) = with_uploads(&shop);
    let (doc, key) = embedded_doc();

    let before = shop.ops().await;
    let w = shop.target.create(&doc, None, &ctx).await.unwrap();
    // The marker's definition (lookup, create), the staged upload, the
    // productSet, then the media's state read until READY (the sandbox
    // moves UPLOADED → PROCESSING → READY one read at a time).
    assert_eq!(
        delta(&before, &shop.ops().await),
        ops(&[
            ("metafieldDefinitionCreate", 1),
            ("metafieldDefinitions", 1),
            ("product", 3),
            ("productSet", 1),
            ("stagedUploadsCreate", 1),
        ])
    );
    assert_eq!(
        w.requests, 8,
        "2 + stagedUploadsCreate + upload + productSet + 3 reads"
    );
    let url = cache.get(&key).expect("the upload is recorded");
    assert!(url.ends_with(&format!("/mapsync-{key}.png")), "{url}");

    let p = shop.product(&w.target_id).await;
    assert_eq!(p.media.len(), 1);
    assert_eq!(p.media[0].status.as_deref(), Some("READY"));
    assert_eq!(p.media[0].alt.as_deref(), Some("Mug"));
    assert_eq!(p.media[0].original_source.as_deref(), Some(url.as_str()));
    // The store's media is the embedded image: no change, nothing to upload.
    let view = mapsync::connectors::shopify::neutral::product(p.clone());
    assert_eq!(view.images, vec![format!("embedded:{key}")]);
    assert!(input::missing_embedded(&doc, Some(&p)).is_empty());
    let plan = input::product_update(&p, &doc, None, &ctx).unwrap();
    assert!(
        !plan.reasons.iter().any(|r| r == "images"),
        "{:?}",
        plan.reasons
    );

    // A change elsewhere keeps the media (by id), nothing is uploaded.
    let mut renamed = doc.clone();
    renamed
        .fields
        .insert("title".into(), json!("Logo mug, large"));
    let (_, seen) = shop.update_counted(&p, &renamed, &ctx).await;
    assert_eq!(seen, ops(&[("productSet", 1)]));
    let p = shop.product(&w.target_id).await;
    assert_eq!(p.media.len(), 1);
    assert_eq!(p.media[0].original_source.as_deref(), Some(url.as_str()));

    // Another product with the same image takes the upload from the cache.
    let mut other = doc.clone();
    other.key = "P-301".into();
    other.fields.insert("title".into(), json!("Second mug"));
    let before = shop.ops().await;
    let w2 = shop.target.create(&other, None, &ctx).await.unwrap();
    assert_eq!(
        delta(&before, &shop.ops().await),
        ops(&[("product", 3), ("productSet", 1)])
    );
    assert_eq!(w2.requests, 4);
    let p2 = shop.product(&w2.target_id).await;
    assert_eq!(p2.media[0].status.as_deref(), Some("READY"));
    assert_eq!(p2.media[0].original_source.as_deref(), Some(url.as_str()));
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_image_the_store_fails_to_process_fails_the_item_with_the_stores_reason() {
    use mapsync::connectors::shopify::StagedResource;
    let shop = shop().await;
    let (ctx, cache) = with_uploads(&shop);
    let (doc, key) = embedded_doc();
    // The cache names a staged file whose bytes the store cannot process
    // (what a corrupt image looks like to mapsync: the store says so).
    let mut n = 0;
    let bad = shop
        .target
        .stage_file(
            StagedResource::Image,
            &format!("mapsync-{key}.png"),
            "image/png",
            b"not an image".to_vec(),
            &mut n,
        )
        .await
        .unwrap()
        .resource_url
        .unwrap();
    cache.record(&key, &bad).await;

    let e = shop.target.create(&doc, None, &ctx).await.unwrap_err();
    assert_eq!(e.kind().as_str(), "refused");
    assert_eq!(
        e.to_string(),
        "ProductSet: refused: image 1 (alt `Mug`) failed in the store: Image could not be processed. The file is not a PNG, JPEG, GIF or WEBP image. (IMAGE_PROCESSING_FAILURE)"
    );
    assert_eq!(cache.get(&key), None, "the failed upload is forgotten");

    // The product was made, with its failed media, which does not count as
    // the image: the next write uploads it again and it becomes READY.
    let all = shop.target.read_reduced(Default::default()).await.unwrap();
    let id = all.products[0].id.clone();
    let p = shop.product(&id).await;
    assert_eq!(p.media[0].status.as_deref(), Some("FAILED"));
    assert_eq!(input::missing_embedded(&doc, Some(&p)).len(), 1);
    let (w, seen) = shop.update_counted(&p, &doc, &ctx).await;
    assert_eq!(
        seen,
        ops(&[
            ("product", 3),
            ("productSet", 1),
            ("stagedUploadsCreate", 1)
        ])
    );
    assert_eq!(w.requests, 6);
    let p = shop.product(&id).await;
    assert_eq!(p.media.len(), 1, "the failed media is replaced");
    assert_eq!(p.media[0].status.as_deref(), Some("READY"));
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_upload_the_store_no_longer_has_is_uploaded_again() {
    let shop = shop().await;
    let (ctx, cache) = with_uploads(&shop);
    let (doc, key) = embedded_doc();
    let gone = format!(
        "{}/__sandbox/staged/dropped/mapsync-{key}.png",
        shop.handle.url()
    );
    cache.record(&key, &gone).await;
    let before = shop.ops().await;
    let w = shop.target.create(&doc, None, &ctx).await.unwrap();
    let seen = delta(&before, &shop.ops().await);
    assert_eq!(
        seen["productSet"], 2,
        "refused, then sent with a new upload"
    );
    assert_eq!(seen["stagedUploadsCreate"], 1);
    let fresh = cache.get(&key).unwrap();
    assert_ne!(fresh, gone);
    let p = shop.product(&w.target_id).await;
    assert_eq!(p.media[0].original_source.as_deref(), Some(fresh.as_str()));
    assert_eq!(p.media[0].status.as_deref(), Some("READY"));
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_data_that_is_no_image_is_refused_before_any_request() {
    let shop = shop().await;
    let (ctx, cache) = with_uploads(&shop);
    let (mut doc, _) = embedded_doc();
    doc.images.push(doc.images[0].clone());
    doc.images[1].src = "aGVsbG8gd29ybGQ=".into();
    doc.images[1].alt = Some("Back".into());
    let before = shop.requests().await;
    let e = shop.target.create(&doc, None, &ctx).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "StagedUploadsCreate: refused: not sent: image 2 (alt `Back`) is embedded data that is not a PNG, JPEG, GIF or WEBP image (its bytes start with 68 65 6c 6c 6f 20 77 6f)"
    );
    assert_eq!(shop.requests().await, before, "nothing was sent");
    assert!(cache.0.lock().unwrap().is_empty());
    shop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_categorys_embedded_image_is_uploaded_once() {
    let shop = shop().await;
    let (ctx, cache) = with_uploads(&shop);
    let (product, key) = embedded_doc();
    let mut doc = data("category_summer.json");
    doc.images = product.images.clone();
    let before = shop.ops().await;
    let w = shop.target.create(&doc, None, &ctx).await.unwrap();
    assert_eq!(
        delta(&before, &shop.ops().await),
        ops(&[("collectionCreate", 1), ("stagedUploadsCreate", 1)])
    );
    assert_eq!(w.requests, 3);
    let url = cache.get(&format!("collection-image:{key}")).unwrap();
    let c = shop
        .target
        .read_collections(std::slice::from_ref(&w.target_id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c.image.as_ref().map(|i| i.url.as_str()), Some(url.as_str()));
    let view = mapsync::connectors::shopify::neutral::collection(c.clone());
    assert_eq!(view.images, vec![format!("embedded:{key}")]);
    // A change elsewhere leaves the image alone.
    let mut renamed = doc.clone();
    renamed.fields.insert("title".into(), json!("Summer sale"));
    let plan = input::collection_update(&c, &renamed, None, &ctx).unwrap();
    let update = plan.update.expect("the title changed");
    assert!(update.get("image").is_none(), "{update}");
    assert!(input::collection_missing_embedded(&renamed, Some(&c)).is_none());
    shop.handle.shutdown().await.unwrap();
}
