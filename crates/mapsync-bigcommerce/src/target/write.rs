//! The write side: creates (adopting one whose answer was lost), updates
//! that send only what differs, metafields, images and stock.

use std::collections::BTreeMap;

use mapsync_core::current::{Current, MARKER_KEY, MARKER_NAMESPACE};
use mapsync_core::diff::{diff_product_collections, match_variants};
use mapsync_core::document::{Document, Image, ImageKind, VariantDoc};
use mapsync_core::target::{ErrorKind, TargetError, WriteContext};
use mapsync_core::Entity;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::neutral::{
    put_field, recorded_sources, variant_image_key, wire, NativeCategory, NativeMetafield,
    NativeProduct, BASE_ON_PRODUCT, CATEGORY_PLAIN, PRODUCT_PLAIN, VARIANT_PLAIN,
};
use super::{
    answer_error, id_of, parse_id, refused, text_of, BigCommerceTarget, Tally, IMAGES_KEY,
};
use crate::batch::VARIANT_BATCH;
use crate::client::FilePart;
use crate::error::BcError;
use crate::fields::{CAPABILITIES, CUSTOM_FIELD_PREFIX, METAFIELD_BATCH};

/// Items of one `PUT /inventory/adjustments/absolute`.
pub const INVENTORY_BATCH: usize = 2000;

/// The item at `index` of a tree API answer (`{data: [...]}`: 201, 200,
/// or 207 with the failed items' errors keyed by index), or its error.
pub(crate) fn tree_item(a: &crate::client::Answer, index: usize) -> Result<Value, TargetError> {
    let sent = vec![json!({}); index + 1];
    match crate::batch::read_batch(&sent, a.status, &a.body)
        .into_iter()
        .nth(index)
    {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e.into()),
        None => Err(answer_error(
            "the category tree API's answer lists no category",
        )),
    }
}

/// Whether a desired value equals the store's: decimals as numbers,
/// booleans as words, empty equal to empty.
fn same(desired: &Value, current: Option<&Value>) -> bool {
    let current = current.unwrap_or(&Value::Null);
    let empty = |v: &Value| mapsync_core::value::is_empty(v);
    if empty(desired) && empty(current) {
        return true;
    }
    let (a, b) = (text_of(desired), text_of(current));
    if a == b || a.eq_ignore_ascii_case(&b) && matches!(desired, Value::Bool(_)) {
        return true;
    }
    if let (Some(x), Some(y)) = (
        mapsync_core::value::normalize_decimal(&a),
        mapsync_core::value::normalize_decimal(&b),
    ) {
        return x == y;
    }
    match (desired, current) {
        (Value::Bool(d), other) | (other, Value::Bool(d)) => {
            mapsync_core::fields::parse_bool(&text_of(other)) == Some(*d)
        }
        _ => false,
    }
}

fn doc_error(e: String) -> TargetError {
    refused(e)
}

/// The desired metafields of one owner: `(namespace, key, value)`.
type Desired = Vec<(String, String, String)>;

/// Metafield writes of one resource kind, in batches.
#[derive(Default)]
struct MetafieldWrites {
    create: Vec<Value>,
    update: Vec<Value>,
    delete: Vec<Value>,
}

impl MetafieldWrites {
    /// What brings `current` to `desired` for owner `resource_id`;
    /// `remove_others`: metafields of other namespaces than mapsync's that
    /// are not desired are deleted.
    fn plan(
        &mut self,
        resource_id: u64,
        desired: &Desired,
        current: &[NativeMetafield],
        remove_others: bool,
        permission: &str,
    ) {
        for (ns, key, value) in desired {
            match current.iter().find(|m| &m.namespace == ns && &m.key == key) {
                Some(m) if &m.value == value => {}
                Some(m) => self.update.push(json!({
                    "id": m.id, "resource_id": resource_id, "namespace": ns, "key": key,
                    "value": value, "permission_set": permission,
                })),
                None => self.create.push(json!({
                    "resource_id": resource_id, "namespace": ns, "key": key,
                    "value": value, "permission_set": permission,
                })),
            }
        }
        if remove_others {
            for m in current {
                if m.namespace != MARKER_NAMESPACE
                    && !desired
                        .iter()
                        .any(|(ns, key, _)| ns == &m.namespace && key == &m.key)
                {
                    self.delete.push(json!(m.id));
                }
            }
        }
    }

    /// Sends them (`resource`: `products`, `variants`, `categories`).
    async fn send(self, tally: &mut Tally<'_>, resource: &str) -> Result<(), TargetError> {
        let path = format!("/catalog/{resource}/metafields");
        for (method, items) in [
            (Method::POST, self.create),
            (Method::PUT, self.update),
            (Method::DELETE, self.delete),
        ] {
            for chunk in items.chunks(METAFIELD_BATCH) {
                let body = Value::Array(chunk.to_vec());
                let r = tally
                    .run(
                        tally
                            .client
                            .exchange(method.clone(), &path, &[], Some(&body)),
                    )
                    .await;
                let (body, err) = match r {
                    Ok(a) => (a.body, None),
                    Err((e, body)) => (body, Some(e)),
                };
                let messages: Vec<String> = body
                    .get("errors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        crate::error::readable(
                            e.get("status").and_then(Value::as_u64).unwrap_or(422) as u16,
                            e,
                        )
                    })
                    .collect();
                if !messages.is_empty() {
                    return Err(TargetError::new(
                        err.as_ref()
                            .map(BcError::kind)
                            .unwrap_or(ErrorKind::Refused),
                        super::TargetFailure::Refused(format!(
                            "metafields not saved: {}",
                            messages.join("; ")
                        )),
                    ));
                }
                if let Some(e) = err {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}

fn desired_metafields(list: &[mapsync_core::document::MetafieldValue]) -> Desired {
    list.iter()
        .map(|m| (m.namespace.clone(), m.key.clone(), m.value.clone()))
        .collect()
}

/// What an image compares as: `embedded:<key>` or its URL.
fn image_source(i: &Image) -> String {
    match i.content_key() {
        Some(key) => mapsync_core::image::diff_value(&key),
        None => i.src.clone(),
    }
}

/// The multipart file of an embedded image, named by its content key.
fn embedded_file(i: &Image) -> Result<FilePart, TargetError> {
    let key = mapsync_core::image::content_key(&i.src);
    let (format, bytes) = mapsync_core::image::image(&i.src)
        .map_err(|e| refused(format!("an embedded image {e}")))?;
    Ok(FilePart {
        field: "image_file".into(),
        file_name: mapsync_core::image::upload_name(&key, format),
        mime: format.mime().into(),
        bytes,
    })
}

/// Whether a product document has options (else its one variant is the
/// product's base variant).
fn has_options(doc: &Document) -> bool {
    !doc.options.is_empty() || doc.variants.iter().any(|v| !v.options.is_empty())
}

/// The URL of a variant's own image (`images:` entries naming the
/// variant; an embedded one is the product's only).
fn variant_image<'d>(doc: &'d Document, v: &VariantDoc) -> Option<&'d str> {
    doc.images
        .iter()
        .find(|i| i.variant.as_deref() == Some(v.key.as_str()) && i.kind != ImageKind::Embedded)
        .map(|i| i.src.as_str())
}

fn option_values(v: &VariantDoc) -> Value {
    Value::Array(
        v.options
            .iter()
            .map(|(name, label)| json!({"option_display_name": name, "label": label}))
            .collect(),
    )
}

/// The variant of an answer's list that is `v` (by SKU, else by its
/// option values).
fn answer_variant<'a>(list: &'a [Value], v: &VariantDoc) -> Option<&'a Value> {
    let sku = v.fields.get("sku").map(text_of).filter(|s| !s.is_empty());
    list.iter().find(|x| match &sku {
        Some(s) => x.get("sku").and_then(Value::as_str) == Some(s.as_str()),
        None => {
            let labels: Vec<(String, String)> = x
                .get("option_values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    Some((
                        o.get("option_display_name")?.as_str()?.to_string(),
                        o.get("label")?.as_str()?.to_string(),
                    ))
                })
                .collect();
            v.options.iter().all(|o| labels.contains(o)) && !v.options.is_empty()
        }
    })
}

impl BigCommerceTarget {
    // ------------------------------------------------------------ products

    /// The fields of a product create body.
    async fn product_body(
        &self,
        tally: &mut Tally<'_>,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
        cached: &BTreeMap<usize, String>,
    ) -> Result<Map<String, Value>, TargetError> {
        let options = has_options(doc);
        let mut body = Map::new();
        for (name, v) in &doc.fields {
            if PRODUCT_PLAIN.contains(&name.as_str()) || name == "custom_url" {
                put_field(&mut body, name, v, false).map_err(doc_error)?;
            }
        }
        if !options {
            if let Some(v0) = doc.variants.first() {
                for name in BASE_ON_PRODUCT {
                    if let Some(x) = v0.fields.get(*name) {
                        put_field(&mut body, name, x, false).map_err(doc_error)?;
                    }
                }
            }
        }
        body.entry("type").or_insert_with(|| json!("physical"));
        body.entry("weight").or_insert_with(|| json!(0));
        if !body.contains_key("price") {
            let first = doc.variants.iter().find_map(|v| {
                v.fields
                    .get("price")
                    .and_then(|p| wire("price", p).ok().flatten())
            });
            body.insert("price".into(), first.unwrap_or(json!(0)));
        }
        if let Some(p) = published {
            body.insert("is_visible".into(), json!(p));
        }
        if let Some(b) = doc
            .fields
            .get("brand")
            .map(text_of)
            .filter(|b| !b.trim().is_empty())
        {
            let id = self.brand_id(tally, b.trim()).await?;
            body.insert("brand_id".into(), json!(id));
        }
        let custom: Vec<Value> = doc
            .fields
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix(CUSTOM_FIELD_PREFIX)?;
                let value = text_of(v);
                (!value.is_empty()).then(|| json!({"name": name, "value": value}))
            })
            .collect();
        if !custom.is_empty() {
            body.insert("custom_fields".into(), Value::Array(custom));
        }
        let cats: Vec<Value> = doc
            .categories
            .iter()
            .filter_map(|k| ctx.categories.get(k).and_then(|id| id.parse::<u64>().ok()))
            .map(|id| json!(id))
            .collect();
        if !cats.is_empty() {
            body.insert("categories".into(), Value::Array(cats));
        }
        let stocked = doc.variants.iter().any(|v| !v.quantities.is_empty());
        if stocked && !body.contains_key("inventory_tracking") {
            body.insert(
                "inventory_tracking".into(),
                json!(if options { "variant" } else { "product" }),
            );
        }
        if options {
            let mut variants = Vec::new();
            for v in &doc.variants {
                let mut m = Map::new();
                for name in VARIANT_PLAIN {
                    if let Some(x) = v.fields.get(*name) {
                        put_field(&mut m, name, x, false).map_err(doc_error)?;
                    }
                }
                m.insert("option_values".into(), option_values(v));
                if let Some(url) = variant_image(doc, v) {
                    m.insert("image_url".into(), json!(url));
                }
                variants.push(Value::Object(m));
            }
            body.insert("variants".into(), Value::Array(variants));
        }
        // URL images, and embedded ones uploaded before (by their URL).
        let images: Vec<Value> = doc
            .images
            .iter()
            .enumerate()
            .filter_map(|(n, i)| match i.kind {
                ImageKind::Embedded => cached.get(&n).map(|url| (n, url.as_str(), i)),
                _ => Some((n, i.src.as_str(), i)),
            })
            .map(|(n, url, i)| {
                let mut m = json!({"image_url": url, "is_thumbnail": n == 0, "sort_order": n});
                if let Some(alt) = &i.alt {
                    m["description"] = json!(alt);
                }
                m
            })
            .collect();
        if !images.is_empty() {
            body.insert("images".into(), Value::Array(images));
        }
        Ok(body)
    }

    /// Creates a product: one `POST /catalog/products` with what the API
    /// takes inline, then the embedded images, the metafields (the marker
    /// among them) and the stock. A create whose answer was lost is found
    /// again (by marker, SKU or name) and brought to the document.
    pub(crate) async fn create_product(
        &self,
        tally: &mut Tally<'_>,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<(u64, bool), TargetError> {
        // Embedded images uploaded before (for another product) go by
        // their URL, in the create itself.
        let mut cached = BTreeMap::new();
        for (n, img) in doc.images.iter().enumerate() {
            if let Some(key) = img.content_key() {
                if let Some(url) = ctx.uploads.lookup(&key).await {
                    cached.insert(n, url);
                }
            }
        }
        let body = Value::Object(
            self.product_body(tally, doc, published, ctx, &cached)
                .await?,
        );
        let mut sent = tally
            .send(Method::POST, "/catalog/products", Some(&body))
            .await;
        if let Err(BcError::Invalid { message }) = &sent {
            if !cached.is_empty() && message.contains("image_url") {
                // An earlier upload the store no longer has: forget it and
                // upload the file.
                for img in &doc.images {
                    if let Some(key) = img.content_key() {
                        ctx.uploads.forget(&key).await;
                    }
                }
                cached.clear();
                let body = Value::Object(
                    self.product_body(tally, doc, published, ctx, &cached)
                        .await?,
                );
                sent = tally
                    .send(Method::POST, "/catalog/products", Some(&body))
                    .await;
            }
        }
        let answer = match sent {
            Ok(a) => a,
            // The answer was lost (the product may exist), or the name or
            // SKU is taken (perhaps by this very product, made by a run
            // killed before it could mark it): a product this create made
            // is adopted, never made twice.
            Err(e)
                if e.kind() == ErrorKind::OutcomeUnknown
                    || matches!(e, BcError::Conflict { .. }) =>
            {
                let strict = matches!(e, BcError::Conflict { .. });
                let Some(current) = self.lost_product(tally, doc, strict).await? else {
                    return Err(e.into());
                };
                let id = parse_id(&current.id)?;
                tracing::info!(key = %doc.key, id, "a product this create made before is adopted");
                if let Err(e) = self
                    .update_product_inner(tally, &current, doc, published, ctx, true)
                    .await
                {
                    self.complete_product(tally, id, doc, published, ctx, e)
                        .await?;
                }
                return Ok((id, true));
            }
            Err(e) => return Err(e.into()),
        };
        let data = answer
            .body
            .get("data")
            .cloned()
            .ok_or_else(|| answer_error("the created product is not in the answer"))?;
        let id = data
            .get("id")
            .and_then(id_of)
            .ok_or_else(|| answer_error("the created product has no id"))?;
        if let Err(e) = self
            .finish_product(tally, id, &data, doc, ctx, &cached)
            .await
        {
            self.complete_product(tally, id, doc, published, ctx, e)
                .await?;
        }
        Ok((id, false))
    }

    /// After a write of a create failed with `error`: when it failed for
    /// now (or its answer was lost), the product is made; it is brought to
    /// the document from what the store holds, once (the marker first).
    /// Otherwise, or when that fails too, `error`.
    async fn complete_product(
        &self,
        tally: &mut Tally<'_>,
        id: u64,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
        error: TargetError,
    ) -> Result<(), TargetError> {
        if !matches!(error.kind, ErrorKind::Transient | ErrorKind::OutcomeUnknown) {
            return Err(error);
        }
        tracing::debug!(key = %doc.key, id, %error, "completing a created product");
        let current = match self.current_products(tally, &[id]).await {
            Ok(c) => c,
            Err(_) => return Err(error),
        };
        let Some(current) = current.first() else {
            return Err(error);
        };
        self.update_product_inner(tally, current, doc, published, ctx, true)
            .await
            .map_err(|_| error)
    }

    /// What a product create sends after the product itself: the marker
    /// (first: a product this create made is then found again whatever
    /// fails next) with the mapped metafields and the images' sources, the
    /// embedded images, the base variant's `purchasing_disabled`, the
    /// variants' metafields, the stock.
    async fn finish_product(
        &self,
        tally: &mut Tally<'_>,
        id: u64,
        data: &Value,
        doc: &Document,
        ctx: &WriteContext,
        cached: &BTreeMap<usize, String>,
    ) -> Result<(), TargetError> {
        // Which answer image is which URL image (by sort order).
        let mut sources = BTreeMap::new();
        for img in data
            .get("images")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(iid), Some(sort)) = (
                img.get("id").and_then(id_of),
                img.get("sort_order").and_then(Value::as_u64),
            ) else {
                continue;
            };
            if let Some(i) = doc.images.get(sort as usize) {
                if i.kind != ImageKind::Embedded {
                    sources.insert(iid.to_string(), i.src.clone());
                }
            }
        }
        let variants: Vec<Value> = data
            .get("variants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let options = has_options(doc);
        if options {
            for v in &doc.variants {
                let vid = answer_variant(&variants, v)
                    .and_then(|x| x.get("id"))
                    .and_then(id_of);
                if let (Some(url), Some(vid)) = (variant_image(doc, v), vid) {
                    sources.insert(variant_image_key(vid), url.to_string());
                }
            }
        }
        let mut desired = vec![(MARKER_NAMESPACE.into(), MARKER_KEY.into(), doc.key.clone())];
        if !sources.is_empty() {
            desired.push((
                MARKER_NAMESPACE.into(),
                IMAGES_KEY.into(),
                serde_json::to_string(&sources).unwrap_or_default(),
            ));
        }
        desired.extend(desired_metafields(&doc.metafields));
        let mut mf = MetafieldWrites::default();
        mf.plan(id, &desired, &[], false, &self.permission);
        mf.send(tally, "products").await?;
        // Embedded images, at their place in the seed's order.
        for (n, img) in doc.images.iter().enumerate() {
            if img.kind == ImageKind::Embedded && !cached.contains_key(&n) {
                self.upload_image(tally, id, img, n, ctx).await?;
            }
        }
        let disabled = doc.variants.first().is_some_and(|v| {
            v.fields
                .get("purchasing_disabled")
                .is_some_and(|x| wire("purchasing_disabled", x) == Ok(Some(json!(true))))
        });
        if !options && disabled {
            // A product without options keeps this on its base variant.
            let base = data
                .get("base_variant_id")
                .and_then(id_of)
                .or_else(|| variants.first().and_then(|v| v.get("id")).and_then(id_of));
            if let Some(vid) = base {
                tally
                    .send(
                        Method::PUT,
                        "/catalog/variants",
                        Some(&json!([{"id": vid, "purchasing_disabled": true}])),
                    )
                    .await?;
            }
        }
        let mut vmf = MetafieldWrites::default();
        let mut stock = Vec::new();
        for v in &doc.variants {
            let found = if options {
                answer_variant(&variants, v)
            } else {
                variants.first()
            };
            let Some(vid) = found.and_then(|x| x.get("id")).and_then(id_of) else {
                continue;
            };
            if !v.metafields.is_empty() {
                vmf.plan(
                    vid,
                    &desired_metafields(&v.metafields),
                    &[],
                    false,
                    &self.permission,
                );
            }
            for (loc, q) in &v.quantities {
                let lid = location(ctx, loc)?;
                stock.push(json!({"location_id": lid, "variant_id": vid, "quantity": q}));
            }
        }
        vmf.send(tally, "variants").await?;
        self.adjust(tally, stock).await?;
        Ok(())
    }

    /// After a create whose answer was lost, or that the store refused as
    /// a duplicate: the product an earlier attempt of this create made, if
    /// any — by marker, else by SKU (or name) when no other key owns it.
    /// `strict` (a duplicate): only a product without a marker whose name
    /// and SKU are the document's, indistinguishable from one this create
    /// made.
    async fn lost_product(
        &self,
        tally: &mut Tally<'_>,
        doc: &Document,
        strict: bool,
    ) -> Result<Option<Current>, TargetError> {
        let sku = doc
            .fields
            .get("sku")
            .or_else(|| doc.variants.first().and_then(|v| v.fields.get("sku")))
            .map(text_of)
            .filter(|s| !s.is_empty());
        let name = doc
            .fields
            .get("name")
            .map(text_of)
            .filter(|s| !s.is_empty());
        let id = match self
            .item_by_marker(tally, Entity::Product, &doc.key)
            .await?
        {
            Some(item) => item.id.parse().ok(),
            None => {
                let query = match (&sku, &name) {
                    (Some(s), _) => ("sku", s.clone()),
                    (None, Some(n)) => ("name", n.clone()),
                    (None, None) => return Ok(None),
                };
                let found = tally
                    .get(
                        "/catalog/products",
                        &[query, ("include_fields", "name".to_string())],
                    )
                    .await?;
                found
                    .get("data")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|p| p.get("id"))
                    .and_then(id_of)
            }
        };
        let Some(id) = id else {
            return Ok(None);
        };
        let Some(current) = self
            .current_products(tally, &[id])
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        // Owned by another key: not this create's.
        if current.marker.as_deref().is_some_and(|k| k != doc.key) {
            return Ok(None);
        }
        if strict {
            let same_name =
                name.is_some_and(|n| current.fields.get("name").map(text_of) == Some(n));
            let same_sku = match &sku {
                Some(s) => {
                    current
                        .variants
                        .iter()
                        .any(|v| v.sku.as_deref() == Some(s.as_str()))
                        || current.fields.get("sku").map(text_of).as_deref() == Some(s.as_str())
                }
                None => true,
            };
            if current.marker.is_none() && !(same_name && same_sku) {
                return Ok(None);
            }
        }
        Ok(Some(current))
    }

    /// Uploads an embedded image as `image_file` at position `n`; the
    /// image's id.
    async fn upload_image(
        &self,
        tally: &mut Tally<'_>,
        product: u64,
        img: &Image,
        n: usize,
        ctx: &WriteContext,
    ) -> Result<u64, TargetError> {
        let file = embedded_file(img)?;
        let key = mapsync_core::image::content_key(&img.src);
        let mut fields = vec![
            ("is_thumbnail", (n == 0).to_string()),
            ("sort_order", n.to_string()),
        ];
        if let Some(alt) = &img.alt {
            fields.push(("description", alt.clone()));
        }
        let a = tally
            .upload(
                &format!("/catalog/products/{product}/images"),
                &fields,
                &file,
            )
            .await?;
        let data = a.body.get("data");
        // Where the store serves it: another product takes it by URL.
        if let Some(url) = data
            .and_then(|d| d.get("url_zoom"))
            .and_then(Value::as_str)
            .filter(|u| mapsync_core::image::key_in_url(u) == Some(key.as_str()))
        {
            ctx.uploads.record(&key, url).await;
        }
        data.and_then(|d| d.get("id"))
            .and_then(id_of)
            .ok_or_else(|| answer_error("the uploaded image has no id"))
    }

    /// Adds an image by URL at position `n`; the image's id.
    async fn add_image(
        &self,
        tally: &mut Tally<'_>,
        product: u64,
        img: &Image,
        n: usize,
    ) -> Result<u64, TargetError> {
        let mut body = json!({"image_url": img.src, "is_thumbnail": n == 0, "sort_order": n});
        if let Some(alt) = &img.alt {
            body["description"] = json!(alt);
        }
        let a = tally
            .send(
                Method::POST,
                &format!("/catalog/products/{product}/images"),
                Some(&body),
            )
            .await?;
        a.body
            .get("data")
            .and_then(|d| d.get("id"))
            .and_then(id_of)
            .ok_or_else(|| answer_error("the added image has no id"))
    }

    /// One `PUT /inventory/adjustments/absolute` per 2000 items.
    async fn adjust(&self, tally: &mut Tally<'_>, items: Vec<Value>) -> Result<(), TargetError> {
        for chunk in items.chunks(INVENTORY_BATCH) {
            let body = json!({"reason": "mapsync", "items": chunk});
            tally
                .send(Method::PUT, "/inventory/adjustments/absolute", Some(&body))
                .await?;
        }
        Ok(())
    }

    /// Brings a product to `doc`, sending only what differs.
    pub(crate) async fn update_product(
        &self,
        tally: &mut Tally<'_>,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<(), TargetError> {
        self.update_product_inner(tally, current, doc, published, ctx, false)
            .await
    }

    async fn update_product_inner(
        &self,
        tally: &mut Tally<'_>,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
        ensure_marker: bool,
    ) -> Result<(), TargetError> {
        let native: &NativeProduct = current.native.get().ok_or_else(|| {
            answer_error(format!(
                "product {} was not read by this target",
                current.id
            ))
        })?;
        let id = native.id;
        let rules = CAPABILITIES.compare;
        // The sources mapsync recorded (`mapsync.images`), kept up to date
        // by the writes below and written back when they changed.
        let mut sources = recorded_sources(&native.metafields);
        let recorded_before = sources.clone();
        let options = has_options(doc);
        let mut body = Map::new();
        // Product fields.
        for (name, v) in &doc.fields {
            let n = name.as_str();
            if !(PRODUCT_PLAIN.contains(&n) || n == "custom_url") {
                continue;
            }
            if mapsync_core::value::is_empty(v) && rules.not_cleared.contains(&n) {
                continue;
            }
            let desired = match v {
                Value::String(s) if rules.upper_case.contains(&n) => {
                    Value::String(s.to_ascii_uppercase())
                }
                other => other.clone(),
            };
            if !same(&desired, current.fields.get(n)) {
                put_field(&mut body, n, v, true).map_err(doc_error)?;
            }
        }
        // The base variant of a product without options.
        let v0 = (!options).then(|| doc.variants.first()).flatten();
        let base = current.variants.first();
        if let Some(v0) = v0 {
            for name in BASE_ON_PRODUCT {
                if let Some(x) = v0.fields.get(*name) {
                    if !same(x, current.fields.get(*name)) {
                        put_field(&mut body, name, x, true).map_err(doc_error)?;
                    }
                }
            }
        }
        if let Some(b) = doc.fields.get("brand") {
            let want = text_of(b);
            let now = current.fields.get("brand").map(text_of).unwrap_or_default();
            if !want.trim().eq_ignore_ascii_case(now.trim()) {
                let bid = if want.trim().is_empty() {
                    0
                } else {
                    self.brand_id(tally, want.trim()).await?
                };
                if bid != native.brand_id {
                    body.insert("brand_id".into(), json!(bid));
                }
            }
        }
        if let Some(p) = published {
            if p != native.visible {
                body.insert("is_visible".into(), json!(p));
            } else {
                body.remove("is_visible");
            }
        }
        // Custom fields: changed or new ones in the product's body, emptied
        // ones deleted.
        let mut custom = Vec::new();
        let mut custom_gone = Vec::new();
        for (k, v) in &doc.fields {
            let Some(name) = k.strip_prefix(CUSTOM_FIELD_PREFIX) else {
                continue;
            };
            let want = text_of(v);
            let have = native.custom_fields.iter().find(|(_, n, _)| n == name);
            match (have, want.is_empty()) {
                (Some((_, _, value)), false) if *value == want => {}
                (Some((cid, _, _)), false) => {
                    custom.push(json!({"id": cid, "name": name, "value": want}))
                }
                (None, false) => custom.push(json!({"name": name, "value": want})),
                (Some((cid, _, _)), true) => custom_gone.push(*cid),
                (None, true) => {}
            }
        }
        if !custom.is_empty() {
            body.insert("custom_fields".into(), Value::Array(custom));
        }
        // Categories (only those known on both sides are managed).
        if !diff_product_collections(doc, current, &ctx.categories).is_empty() {
            let known: std::collections::BTreeSet<&String> = ctx.categories.values().collect();
            let mut ids: Vec<u64> = doc
                .categories
                .iter()
                .filter_map(|k| ctx.categories.get(k).and_then(|i| i.parse().ok()))
                .collect();
            ids.extend(
                native
                    .categories
                    .iter()
                    .filter(|c| !known.contains(&c.to_string()))
                    .copied(),
            );
            ids.sort_unstable();
            ids.dedup();
            body.insert("categories".into(), json!(ids));
        }
        let stocked = doc.variants.iter().any(|v| !v.quantities.is_empty());
        if stocked
            && !doc.fields.contains_key("inventory_tracking")
            && current
                .fields
                .get("inventory_tracking")
                .is_some_and(|t| text_of(t).eq_ignore_ascii_case("none"))
        {
            body.insert(
                "inventory_tracking".into(),
                json!(if options { "variant" } else { "product" }),
            );
        }
        if !body.is_empty() {
            tally
                .send(
                    Method::PUT,
                    &format!("/catalog/products/{id}"),
                    Some(&Value::Object(body)),
                )
                .await?;
        }
        for cid in custom_gone {
            let r = tally
                .delete(&format!("/catalog/products/{id}/custom-fields/{cid}"), &[])
                .await;
            if let Err(e) = r {
                if !matches!(e, BcError::NotFound { .. }) {
                    return Err(e.into());
                }
            }
        }

        // Variants: desired variant → its id in the store.
        let mut ids: Vec<Option<u64>> = vec![None; doc.variants.len()];
        let mut variant_updates = Vec::new();
        if options {
            let matches = match_variants(doc, &current.variants);
            let mut used = vec![false; current.variants.len()];
            for (i, (v, m)) in doc.variants.iter().zip(&matches).enumerate() {
                let Some(ix) = *m else { continue };
                if let Some(u) = used.get_mut(ix) {
                    *u = true;
                }
                let Some(cv) = current.variants.get(ix) else {
                    continue;
                };
                let vid: u64 = cv.id.parse().unwrap_or(0);
                ids[i] = Some(vid);
                let mut item = Map::new();
                for name in VARIANT_PLAIN {
                    if let Some(x) = v.fields.get(*name) {
                        if !same(x, cv.fields.get(*name)) {
                            put_field(&mut item, name, x, true).map_err(doc_error)?;
                        }
                    }
                }
                let opts_differ = v.options.len() != cv.options.len()
                    || v.options
                        .iter()
                        .any(|(n, l)| !cv.options.iter().any(|(cn, cl)| cn == n && cl == l));
                if opts_differ {
                    item.insert("option_values".into(), option_values(v));
                }
                if let Some(url) = variant_image(doc, v) {
                    let key = variant_image_key(vid);
                    if sources.get(&key).map(String::as_str) != Some(url) {
                        item.insert("image_url".into(), json!(url));
                        sources.insert(key, url.to_string());
                    }
                }
                if !item.is_empty() {
                    item.insert("id".into(), json!(vid));
                    variant_updates.push(Value::Object(item));
                }
            }
            // New variants.
            for (i, (v, m)) in doc.variants.iter().zip(&matches).enumerate() {
                if m.is_some() {
                    continue;
                }
                let mut b = Map::new();
                for name in VARIANT_PLAIN {
                    if let Some(x) = v.fields.get(*name) {
                        put_field(&mut b, name, x, false).map_err(doc_error)?;
                    }
                }
                b.insert("option_values".into(), option_values(v));
                let image = variant_image(doc, v);
                if let Some(url) = image {
                    b.insert("image_url".into(), json!(url));
                }
                let a = tally
                    .send(
                        Method::POST,
                        &format!("/catalog/products/{id}/variants"),
                        Some(&Value::Object(b)),
                    )
                    .await?;
                ids[i] = a.body.get("data").and_then(|d| d.get("id")).and_then(id_of);
                if let (Some(url), Some(vid)) = (image, ids[i]) {
                    sources.insert(variant_image_key(vid), url.to_string());
                }
            }
            // Variants no longer desired.
            if !ctx.keep_existing_variant_data {
                for (cv, u) in current.variants.iter().zip(&used) {
                    if *u {
                        continue;
                    }
                    let r = tally
                        .delete(&format!("/catalog/products/{id}/variants/{}", cv.id), &[])
                        .await;
                    if let Ok(vid) = cv.id.parse::<u64>() {
                        sources.remove(&variant_image_key(vid));
                    }
                    if let Err(e) = r {
                        if !matches!(e, BcError::NotFound { .. }) {
                            return Err(e.into());
                        }
                    }
                }
            }
        } else if let (Some(v0), Some(base)) = (v0, base) {
            let vid: u64 = base.id.parse().unwrap_or(0);
            ids[0] = Some(vid);
            if let Some(x) = v0.fields.get("purchasing_disabled") {
                if !same(x, base.fields.get("purchasing_disabled")) {
                    let mut item = Map::new();
                    put_field(&mut item, "purchasing_disabled", x, true).map_err(doc_error)?;
                    item.insert("id".into(), json!(vid));
                    variant_updates.push(Value::Object(item));
                }
            }
        }
        if !variant_updates.is_empty() {
            let results = tally
                .run(
                    self.client
                        .put_batch("/catalog/variants", &variant_updates, VARIANT_BATCH),
                )
                .await;
            if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
                return Err(e.into());
            }
        }
        // Options no variant uses any more.
        if options && !ctx.keep_existing_variant_data {
            let wanted: std::collections::BTreeSet<&str> = doc
                .options
                .iter()
                .map(String::as_str)
                .chain(
                    doc.variants
                        .iter()
                        .flat_map(|v| v.options.iter().map(|(n, _)| n.as_str())),
                )
                .collect();
            let unused: std::collections::BTreeSet<u64> = native
                .variants
                .iter()
                .flat_map(|v| v.option_values.iter())
                .filter(|o| !wanted.contains(o.option.as_str()))
                .map(|o| o.option_id)
                .collect();
            for oid in unused {
                let r = tally
                    .delete(&format!("/catalog/products/{id}/options/{oid}"), &[])
                    .await;
                if let Err(e) = r {
                    if !matches!(e, BcError::NotFound { .. }) {
                        return Err(e.into());
                    }
                }
            }
        }

        // Images (managed when the document has some).
        let desired_imgs: Vec<String> = doc.images.iter().map(image_source).collect();
        let current_imgs: Vec<&str> = native.images.iter().map(|i| i.source.as_str()).collect();
        if !doc.images.is_empty()
            && desired_imgs
                .iter()
                .map(String::as_str)
                .ne(current_imgs.iter().copied())
        {
            let mut used = vec![false; native.images.len()];
            let mut placed = Vec::new();
            for (n, (img, src)) in doc.images.iter().zip(&desired_imgs).enumerate() {
                let kept = native
                    .images
                    .iter()
                    .enumerate()
                    .find(|(k, i)| !used[*k] && &i.source == src);
                match kept {
                    Some((k, i)) => {
                        used[k] = true;
                        if i.sort_order != n as i64 || i.thumbnail != (n == 0) {
                            placed.push((i.id, n));
                        }
                    }
                    None => {
                        let cached = match img.content_key() {
                            Some(key) => ctx.uploads.lookup(&key).await,
                            None => None,
                        };
                        let iid = if let Some(url) = cached {
                            let by_url = Image {
                                src: url,
                                ..img.clone()
                            };
                            match self.add_image(tally, id, &by_url, n).await {
                                Ok(iid) => iid,
                                Err(e) if e.kind == ErrorKind::Refused => {
                                    if let Some(key) = img.content_key() {
                                        ctx.uploads.forget(&key).await;
                                    }
                                    self.upload_image(tally, id, img, n, ctx).await?
                                }
                                Err(e) => return Err(e),
                            }
                        } else if img.kind == ImageKind::Embedded {
                            self.upload_image(tally, id, img, n, ctx).await?
                        } else {
                            let iid = self.add_image(tally, id, img, n).await?;
                            sources.insert(iid.to_string(), img.src.clone());
                            iid
                        };
                        let _ = iid;
                    }
                }
            }
            for (k, i) in native.images.iter().enumerate() {
                if used[k] {
                    continue;
                }
                let r = tally
                    .delete(&format!("/catalog/products/{id}/images/{}", i.id), &[])
                    .await;
                if let Err(e) = r {
                    if !matches!(e, BcError::NotFound { .. }) {
                        return Err(e.into());
                    }
                }
                sources.remove(&i.id.to_string());
            }
            for (iid, n) in placed {
                tally
                    .send(
                        Method::PUT,
                        &format!("/catalog/products/{id}/images/{iid}"),
                        Some(&json!({"sort_order": n, "is_thumbnail": n == 0})),
                    )
                    .await?;
            }
        }

        // Product metafields (mapsync's own among them).
        let mut desired = desired_metafields(&doc.metafields);
        let remove_others = !ctx.keep_deleted_metafields && !doc.metafields.is_empty();
        if ensure_marker || current.marker.is_none() {
            desired.push((MARKER_NAMESPACE.into(), MARKER_KEY.into(), doc.key.clone()));
        }
        if sources != recorded_before {
            desired.push((
                MARKER_NAMESPACE.into(),
                IMAGES_KEY.into(),
                serde_json::to_string(&sources).unwrap_or_default(),
            ));
        }
        let mut mf = MetafieldWrites::default();
        mf.plan(
            id,
            &desired,
            &native.metafields,
            remove_others,
            &self.permission,
        );
        mf.send(tally, "products").await?;

        // Variant metafields and stock.
        let mut vmf = MetafieldWrites::default();
        let mut stock = Vec::new();
        for (v, vid) in doc.variants.iter().zip(&ids) {
            let Some(vid) = vid else { continue };
            let nv = native.variants.iter().find(|x| x.id == *vid);
            let cv = current.variants.iter().find(|x| x.id == vid.to_string());
            let have: &[NativeMetafield] = nv.map(|x| x.metafields.as_slice()).unwrap_or(&[]);
            let remove = !ctx.keep_deleted_metafields && !v.metafields.is_empty();
            vmf.plan(
                *vid,
                &desired_metafields(&v.metafields),
                have,
                remove,
                &self.permission,
            );
            for (loc, q) in &v.quantities {
                let lid = location(ctx, loc)?;
                let now = cv.and_then(|c| c.quantities.get(&lid.to_string())).copied();
                if now != Some(*q) {
                    stock.push(json!({"location_id": lid, "variant_id": vid, "quantity": q}));
                }
            }
        }
        vmf.send(tally, "variants").await?;
        self.adjust(tally, stock).await?;
        Ok(())
    }

    // ------------------------------------------------------------ categories

    /// The parent id of a category document: `Some(0)` at the root, `None`
    /// when it names none.
    fn parent_of(doc: &Document, ctx: &WriteContext) -> Result<Option<u64>, TargetError> {
        let Some(p) = doc.fields.get("parent") else {
            return Ok(None);
        };
        let key = text_of(p);
        if key.trim().is_empty() {
            return Ok(Some(0));
        }
        match ctx.categories.get(key.trim()).and_then(|i| i.parse().ok()) {
            Some(id) => Ok(Some(id)),
            None => Err(refused(format!(
                "the parent category '{}' is not in the store (it failed or is not synced)",
                key.trim()
            ))),
        }
    }

    fn category_body(
        doc: &Document,
        current: Option<&Current>,
        clear: bool,
    ) -> Result<Map<String, Value>, TargetError> {
        let mut body = Map::new();
        for (name, v) in &doc.fields {
            let n = name.as_str();
            if !CATEGORY_PLAIN.contains(&n) && n != "custom_url" {
                continue;
            }
            if let Some(c) = current {
                if same(v, c.fields.get(n)) {
                    continue;
                }
            }
            if n == "custom_url" {
                let path = text_of(v);
                if !path.trim().is_empty() {
                    body.insert("url".into(), json!({"path": path, "is_customized": true}));
                }
                continue;
            }
            put_field(&mut body, n, v, clear).map_err(doc_error)?;
        }
        if !doc.fields.contains_key("image_url") {
            if let Some(img) = doc.images.first() {
                if img.kind == ImageKind::Embedded {
                    return Err(refused(
                        "a category image is given by URL (`image_url`); embedded data cannot be uploaded to a category",
                    ));
                }
                let now = current.and_then(|c| c.images.first());
                if now != Some(&img.src) {
                    body.insert("image_url".into(), json!(img.src));
                }
            }
        }
        Ok(body)
    }

    /// Creates a category in the default tree, then its metafields (the
    /// marker among them).
    pub(crate) async fn create_category(
        &self,
        tally: &mut Tally<'_>,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<(u64, bool), TargetError> {
        let tree = self.tree_id(tally).await?;
        let parent = Self::parent_of(doc, ctx)?.unwrap_or(0);
        let mut body = Self::category_body(doc, None, false)?;
        body.insert("tree_id".into(), json!(tree));
        body.insert("parent_id".into(), json!(parent));
        if let Some(p) = published {
            body.insert("is_visible".into(), json!(p));
        }
        let name = body.get("name").map(text_of).unwrap_or_default();
        let list = Value::Array(vec![Value::Object(body)]);
        let sent = tally
            .send(Method::POST, "/catalog/trees/categories", Some(&list))
            .await;
        // A 207 whose one item failed is that item's refusal.
        let sent = match sent {
            Ok(a) => tree_item(&a, 0).map_err(|e| BcError::Item {
                status: 422,
                field: None,
                message: e.to_string(),
            }),
            Err(e) => Err(e),
        };
        let id = match sent {
            Ok(item) => item
                .get("category_id")
                .and_then(id_of)
                .ok_or_else(|| answer_error("the created category has no id"))?,
            // The answer was lost, or the name is taken under this parent
            // (perhaps by this very category, made by a run killed before
            // it could mark it): adopted, never made twice.
            Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown | ErrorKind::Refused) => {
                let found = self.lost_category(tally, doc, &name, parent, tree).await?;
                let Some(id) = found else {
                    return Err(e.into());
                };
                tracing::info!(key = %doc.key, id, "a category this create made before is adopted");
                let current = self.current_categories(tally, &[id]).await?;
                let current = current
                    .first()
                    .ok_or_else(|| answer_error(format!("category {id} vanished")))?;
                self.update_category(tally, current, doc, published, ctx)
                    .await?;
                return Ok((id, true));
            }
            Err(e) => return Err(e.into()),
        };
        let mut desired = vec![(MARKER_NAMESPACE.into(), MARKER_KEY.into(), doc.key.clone())];
        desired.extend(desired_metafields(&doc.metafields));
        let mut mf = MetafieldWrites::default();
        mf.plan(id, &desired, &[], false, &self.permission);
        mf.send(tally, "categories").await?;
        Ok((id, false))
    }

    async fn lost_category(
        &self,
        tally: &mut Tally<'_>,
        doc: &Document,
        name: &str,
        parent: u64,
        tree: u64,
    ) -> Result<Option<u64>, TargetError> {
        if let Some(item) = self
            .item_by_marker(tally, Entity::Category, &doc.key)
            .await?
        {
            return Ok(item.id.parse().ok());
        }
        if name.is_empty() {
            return Ok(None);
        }
        let list = tally
            .get_all(
                "/catalog/trees/categories",
                &[
                    ("name", name.to_string()),
                    ("parent_id:in", parent.to_string()),
                    ("tree_id:in", tree.to_string()),
                ],
            )
            .await?;
        let Some(id) = list
            .first()
            .and_then(|c| c.get("category_id"))
            .and_then(id_of)
        else {
            return Ok(None);
        };
        let markers = self.markers(tally, "categories").await?;
        if markers.get(&id).is_some_and(|k| k != &doc.key) {
            return Ok(None);
        }
        Ok(Some(id))
    }

    /// Brings a category to `doc`: one `PUT /catalog/trees/categories` with
    /// the fields that differ, then its metafields.
    pub(crate) async fn update_category(
        &self,
        tally: &mut Tally<'_>,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<(), TargetError> {
        let native: &NativeCategory = current.native.get().ok_or_else(|| {
            answer_error(format!(
                "category {} was not read by this target",
                current.id
            ))
        })?;
        let mut body = Self::category_body(doc, Some(current), true)?;
        if let Some(parent) = Self::parent_of(doc, ctx)? {
            if parent != native.parent_id {
                body.insert("parent_id".into(), json!(parent));
            }
        }
        match published {
            Some(p) if p != native.visible => {
                body.insert("is_visible".into(), json!(p));
            }
            Some(_) => {
                body.remove("is_visible");
            }
            None => {}
        }
        if !body.is_empty() {
            body.insert("category_id".into(), json!(native.id));
            let a = tally
                .send(
                    Method::PUT,
                    "/catalog/trees/categories",
                    Some(&Value::Array(vec![Value::Object(body)])),
                )
                .await?;
            tree_item(&a, 0)?;
        }
        let mut desired = desired_metafields(&doc.metafields);
        if current.marker.is_none() {
            desired.push((MARKER_NAMESPACE.into(), MARKER_KEY.into(), doc.key.clone()));
        }
        let remove_others = !ctx.keep_deleted_metafields && !doc.metafields.is_empty();
        let mut mf = MetafieldWrites::default();
        mf.plan(
            native.id,
            &desired,
            &native.metafields,
            remove_others,
            &self.permission,
        );
        mf.send(tally, "categories").await?;
        Ok(())
    }
}

/// The store's location id of reference location `name`.
fn location(ctx: &WriteContext, name: &str) -> Result<u64, TargetError> {
    ctx.locations
        .get(name)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            refused(format!(
                "location `{name}` is not one of the store's (see `locations:`)"
            ))
        })
}
