//! Pure builders from a desired [`Document`] (and, for updates, the target's
//! current [`Product`] / [`Collection`]) to the GraphQL input values the
//! write side sends: `ProductSetInput`, `CollectionInput`, the quantities of
//! `inventorySetQuantities` and the metafields to delete. No I/O, no client:
//! everything here is unit-testable and snapshot-tested. It must not decide
//! *whether* an item changes (the plan did) beyond skipping calls whose
//! content already matches the target.
//!
//! Field names follow src/check/fields.rs (`body_html`, `inventory_item.cost`,
//! ...); values are already coerced by `compile` (decimals as strings,
//! booleans as booleans, lists as arrays of strings).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::model::{Collection, Metafield, Product, Variant, MARKER_KEY, MARKER_NAMESPACE};
use super::version;
use crate::neutral::{self, COMPARE_RULES};
use mapsync_core::current::CurrentVariant;
use mapsync_core::diff::{self, DiffEntry};
use mapsync_core::document::{Document, Image, MetafieldValue, VariantDoc};
use mapsync_core::target::WriteContext;

/// Why a document cannot be turned into an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The store's answer has no inventory item for a matched variant.
    #[error("variant `{variant}` has no inventory item in the store's answer, so its quantities cannot be set; run again (the next read gets it)")]
    NoInventoryItem { variant: String },
    /// An embedded image whose data is not an image the store takes
    /// (caught before anything is sent).
    #[error("image {position} ({}) is embedded data that {reason}", describe(.alt))]
    EmbeddedData {
        /// 1-based position in the document's images.
        position: usize,
        alt: Option<String>,
        /// Why ([`mapsync_core::image::DataError`]).
        reason: String,
    },
    /// An embedded image that is not on the item and has no uploaded
    /// source (the caller did not stage it, see [`EmbeddedSources`]).
    #[error("image {position} ({}) is embedded data that was not uploaded to the store", describe(.alt))]
    EmbeddedNotStaged {
        /// 1-based position in the document's images.
        position: usize,
        alt: Option<String>,
    },
    /// A quantity for a reference location the target does not have.
    #[error("variant `{variant}`: quantity for location `{location}`, which is not mapped to a location of the shop (check `locations:`)")]
    UnknownLocation { variant: String, location: String },
    /// A quantity outside Shopify's 32-bit range.
    #[error("variant `{variant}`: quantity {quantity} at `{location}` is out of range")]
    QuantityRange {
        variant: String,
        location: String,
        quantity: i64,
    },
    /// A weight that is not a number.
    #[error("variant `{variant}`: inventory_item.weight `{value}` is not a number")]
    BadWeight { variant: String, value: String },
    /// An image that belongs to a variant the document does not have.
    #[error("image {position} belongs to variant `{variant}`, which the product does not have")]
    UnknownImageVariant { position: usize, variant: String },
}

fn describe(alt: &Option<String>) -> String {
    match alt {
        Some(a) if !a.is_empty() => format!("alt `{a}`"),
        _ => "no alt text".into(),
    }
}

/// Metafields that set SEO fields instead of being stored (§5).
fn is_seo_metafield(namespace: &str, key: &str) -> bool {
    COMPARE_RULES.metafield_field(namespace, key).is_some()
}

fn is_marker(namespace: &str, key: &str) -> bool {
    namespace == MARKER_NAMESPACE && key == MARKER_KEY
}

/// Whether a coerced value is empty (null, blank text, empty list).
fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The ownership marker as a `MetafieldInput`.
pub fn marker_input(key: &str) -> Value {
    json!({
        "namespace": MARKER_NAMESPACE,
        "key": MARKER_KEY,
        "type": version::MARKER_TYPE,
        "value": key,
    })
}

fn metafield_input(m: &MetafieldValue) -> Value {
    json!({ "namespace": m.namespace, "key": m.key, "type": m.ty, "value": m.value })
}

fn current_metafield_input(m: &Metafield) -> Value {
    json!({ "namespace": m.namespace, "key": m.key, "type": m.kind, "value": m.value })
}

/// The SEO title and description a document asks for: `seo.*` fields win
/// over the `global.title_tag` / `global.description_tag` metafields.
fn desired_seo(doc: &Document) -> (Option<String>, Option<String>) {
    let from_mf = |which: &str| {
        doc.metafields
            .iter()
            .find(|m| COMPARE_RULES.metafield_field(&m.namespace, &m.key) == Some(which))
            .map(|m| m.value.clone())
    };
    let from_field = |name: &str| doc.fields.get(name).filter(|v| !empty(v)).and_then(text);
    (
        from_field("seo.title").or_else(|| from_mf("seo.title")),
        from_field("seo.description").or_else(|| from_mf("seo.description")),
    )
}

/// Product status from the `published` control field: `Some(false)` →
/// DRAFT, otherwise ACTIVE.
pub fn status_for(published: Option<bool>) -> &'static str {
    if published == Some(false) {
        "DRAFT"
    } else {
        "ACTIVE"
    }
}

/// Product-level scalar fields into `input`. `clear`: empty values are sent
/// as clearing values (update) instead of being left out (create).
fn product_scalars(doc: &Document, input: &mut Map<String, Value>, clear: bool) {
    for (name, value) in &doc.fields {
        let key = match name.as_str() {
            "title" => "title",
            "handle" => "handle",
            "body_html" | "description_html" => "descriptionHtml",
            "vendor" => "vendor",
            "product_type" => "productType",
            "tags" => "tags",
            "template_suffix" => "templateSuffix",
            "gift_card" => "giftCard",
            _ => continue, // seo.* below; unknown names were refused by `check`
        };
        if empty(value) {
            // A product keeps its title and handle; the rest can be blanked.
            if clear && !matches!(key, "title" | "handle" | "giftCard") {
                input.insert(
                    key.into(),
                    if key == "tags" { json!([]) } else { json!("") },
                );
            }
            continue;
        }
        let v = match (key, value) {
            ("tags", Value::Array(_)) => value.clone(),
            ("tags", other) => json!(text(other).map(|t| vec![t]).unwrap_or_default()),
            ("giftCard", Value::Bool(_)) => value.clone(),
            (_, other) => match text(other) {
                Some(t) => Value::String(t),
                None => continue,
            },
        };
        input.insert(key.into(), v);
    }
    let (title, description) = desired_seo(doc);
    let wants_seo = doc.fields.contains_key("seo.title")
        || doc.fields.contains_key("seo.description")
        || title.is_some()
        || description.is_some();
    if wants_seo {
        let mut seo = Map::new();
        if let Some(t) = title {
            seo.insert("title".into(), json!(t));
        } else if clear {
            seo.insert("title".into(), json!(""));
        }
        if let Some(d) = description {
            seo.insert("description".into(), json!(d));
        } else if clear {
            seo.insert("description".into(), json!(""));
        }
        input.insert("seo".into(), Value::Object(seo));
    }
}

/// A variant's own fields (not ids, options or quantities).
fn variant_fields(v: &VariantDoc, clear: bool) -> Result<Map<String, Value>, InputError> {
    let mut out = Map::new();
    let mut item = Map::new();
    let mut weight: Option<f64> = None;
    let mut weight_unit: Option<String> = None;
    for (name, value) in &v.fields {
        if empty(value) {
            if clear {
                match name.as_str() {
                    "barcode" => {
                        out.insert("barcode".into(), json!(""));
                    }
                    "compare_at_price" => {
                        out.insert("compareAtPrice".into(), Value::Null);
                    }
                    "inventory_item.harmonized_system_code" => {
                        item.insert("harmonizedSystemCode".into(), json!(""));
                    }
                    _ => {}
                }
            }
            continue;
        }
        let t = text(value);
        match name.as_str() {
            "sku" => {
                out.insert("sku".into(), json!(t));
            }
            "price" => {
                out.insert("price".into(), json!(t));
            }
            "compare_at_price" => {
                out.insert("compareAtPrice".into(), json!(t));
            }
            "barcode" => {
                out.insert("barcode".into(), json!(t));
            }
            "taxable" => {
                out.insert("taxable".into(), json!(value.as_bool()));
            }
            "inventory_policy" => {
                out.insert(
                    "inventoryPolicy".into(),
                    json!(t.map(|s| s.to_ascii_uppercase())),
                );
            }
            "inventory_item.cost" => {
                item.insert("cost".into(), json!(t));
            }
            "inventory_item.tracked" => {
                item.insert("tracked".into(), json!(value.as_bool()));
            }
            "inventory_item.requires_shipping" => {
                item.insert("requiresShipping".into(), json!(value.as_bool()));
            }
            "inventory_item.country_code_of_origin" => {
                item.insert(
                    "countryCodeOfOrigin".into(),
                    json!(t.map(|s| s.to_ascii_uppercase())),
                );
            }
            "inventory_item.province_code_of_origin" => {
                item.insert("provinceCodeOfOrigin".into(), json!(t));
            }
            "inventory_item.harmonized_system_code" => {
                item.insert("harmonizedSystemCode".into(), json!(t));
            }
            "inventory_item.weight" => {
                let raw = t.unwrap_or_default();
                weight = Some(
                    raw.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|w| w.is_finite())
                        .ok_or_else(|| InputError::BadWeight {
                            variant: v.key.clone(),
                            value: raw.clone(),
                        })?,
                );
            }
            "inventory_item.weight_unit" => weight_unit = t.map(|s| s.to_ascii_uppercase()),
            _ => {}
        }
    }
    if let Some(w) = weight {
        let unit = weight_unit.unwrap_or_else(|| version::DEFAULT_WEIGHT_UNIT.to_string());
        version::put_variant_weight(&mut out, &mut item, w, &unit);
    }
    if !item.is_empty() {
        out.insert("inventoryItem".into(), Value::Object(item));
    }
    Ok(out)
}

/// `inventoryQuantities` of a variant: one `available` quantity per
/// reference location, in location-name order.
fn variant_quantities(
    v: &VariantDoc,
    ctx: &WriteContext,
    only: Option<&BTreeSet<String>>,
) -> Result<Vec<Value>, InputError> {
    let mut out = Vec::new();
    for (loc, q) in &v.quantities {
        if only.is_some_and(|o| !o.contains(loc)) {
            continue;
        }
        let id = ctx
            .locations
            .get(loc)
            .ok_or_else(|| InputError::UnknownLocation {
                variant: v.key.clone(),
                location: loc.clone(),
            })?;
        let quantity = i32::try_from(*q).map_err(|_| InputError::QuantityRange {
            variant: v.key.clone(),
            location: loc.clone(),
            quantity: *q,
        })?;
        out.push(json!({
            "locationId": id,
            "name": version::QUANTITY_NAME,
            "quantity": quantity,
        }));
    }
    Ok(out)
}

/// Option names of the product and the option values of each variant. A
/// document without options gets Shopify's `Title` / `Default Title`.
fn option_values(doc: &Document, v: &VariantDoc) -> Vec<Value> {
    if doc.options.is_empty() {
        return vec![json!({
            "optionName": version::DEFAULT_OPTION_NAME,
            "name": version::DEFAULT_OPTION_VALUE,
        })];
    }
    doc.options
        .iter()
        .map(|name| {
            let value = v
                .options
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, x)| x.clone())
                .unwrap_or_default();
            json!({ "optionName": name, "name": value })
        })
        .collect()
}

/// `productOptions` from the option values used by `variants` (each a list
/// of `{optionName, name}`), in the document's option order and the
/// variants' value order.
fn product_options(doc: &Document, variants: &[Value]) -> Vec<Value> {
    let names: Vec<String> = if doc.options.is_empty() {
        vec![version::DEFAULT_OPTION_NAME.to_string()]
    } else {
        doc.options.clone()
    };
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut values: Vec<String> = Vec::new();
            for v in variants {
                for ov in v["optionValues"].as_array().into_iter().flatten() {
                    if ov["optionName"].as_str() == Some(name) {
                        if let Some(val) = ov["name"].as_str() {
                            if !values.iter().any(|x| x == val) {
                                values.push(val.to_string());
                            }
                        }
                    }
                }
            }
            json!({
                "name": name,
                "position": i + 1,
                "values": values.into_iter().map(|n| json!({ "name": n })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// Where the embedded images of a write are: by content key
/// ([`Image::content_key`]), the source the store takes for a new file (a
/// staged upload's `resourceUrl`). Images already on the item need none.
pub type EmbeddedSources = BTreeMap<String, String>;

/// An image's identity in the input (its URL, or `embedded:<key>`) and
/// the source a new file takes (the URL, or the embedded image's staged
/// source when it has one).
fn image_source<'a>(
    i: &'a Image,
    sources: &'a EmbeddedSources,
) -> (String, Option<&'a str>, Option<String>) {
    match i.content_key() {
        Some(key) => {
            let src = sources.get(&key).map(String::as_str);
            (mapsync_core::image::diff_value(&key), src, Some(key))
        }
        None => (i.src.trim().to_string(), Some(i.src.trim()), None),
    }
}

fn not_staged(i: &Image, position: usize) -> InputError {
    InputError::EmbeddedNotStaged {
        position,
        alt: i.alt.clone(),
    }
}

/// Whether media `m` shows image `src` (a URL) or the embedded image `key`.
fn media_shows(m: &super::model::Media, src: Option<&str>, key: Option<&str>) -> bool {
    if m.content_type != "IMAGE" || m.failed() {
        return false;
    }
    match key {
        Some(k) => m.embedded_key() == Some(k),
        None => src.is_some() && (m.original_source.as_deref() == src || m.url.as_deref() == src),
    }
}

/// `files` of the product in the document's order (reusing the id of media
/// whose source is already there — for an embedded image, whose file
/// carries its content key — except media the store failed to process) and
/// the file of each variant by variant key. An embedded image not on the
/// product takes its source from `sources`.
#[allow(clippy::type_complexity)]
fn files(
    doc: &Document,
    current: Option<&Product>,
    sources: &EmbeddedSources,
) -> Result<(Vec<Value>, BTreeMap<String, Value>), InputError> {
    let mut out = Vec::new();
    let mut by_variant = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (n, img) in doc.images.iter().enumerate() {
        let (identity, src, key) = image_source(img, sources);
        let existing =
            current.and_then(|p| p.media.iter().find(|m| media_shows(m, src, key.as_deref())));
        let src = match (existing, src) {
            (Some(_), _) => "",
            (None, Some(src)) => src,
            (None, None) => return Err(not_staged(img, n + 1)),
        };
        let file = match existing {
            Some(m) => {
                let mut f = json!({ "id": m.id });
                if img.alt.is_some() && img.alt != m.alt {
                    f["alt"] = json!(img.alt);
                }
                f
            }
            None => {
                let mut f = json!({ "originalSource": src, "contentType": "IMAGE" });
                if let Some(alt) = &img.alt {
                    f["alt"] = json!(alt);
                }
                f
            }
        };
        if let Some(vk) = &img.variant {
            if !doc.variants.iter().any(|v| &v.key == vk) {
                return Err(InputError::UnknownImageVariant {
                    position: n + 1,
                    variant: vk.clone(),
                });
            }
            // A variant shows one image: its first.
            by_variant
                .entry(vk.clone())
                .or_insert_with(|| match existing {
                    Some(m) => json!({ "id": m.id }),
                    None => json!({ "originalSource": src, "contentType": "IMAGE" }),
                });
        }
        // The same source twice is one medium.
        if seen.insert(identity) {
            out.push(file);
        }
    }
    Ok((out, by_variant))
}

/// The embedded images of `doc` that `current` does not show yet (by
/// content key, first position and alt): what a write must upload. Images
/// the store failed to process count as missing.
pub fn missing_embedded(doc: &Document, current: Option<&Product>) -> Vec<EmbeddedImage> {
    let mut out: Vec<EmbeddedImage> = Vec::new();
    for (n, img) in doc.images.iter().enumerate() {
        let Some(key) = img.content_key() else {
            continue;
        };
        if out.iter().any(|e| e.key == key) {
            continue;
        }
        let shown =
            current.is_some_and(|p| p.media.iter().any(|m| media_shows(m, None, Some(&key))));
        if !shown {
            out.push(EmbeddedImage {
                key,
                position: n + 1,
                alt: img.alt.clone(),
                data: img.src.clone(),
            });
        }
    }
    out
}

/// An embedded image a write needs in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedImage {
    /// Its content key.
    pub key: String,
    /// 1-based position of its first occurrence in the document's images.
    pub position: usize,
    /// Its alt text.
    pub alt: Option<String>,
    /// The base64 data.
    pub data: String,
}

impl EmbeddedImage {
    /// The bytes and format, or why they are no image the store takes.
    pub fn decode(&self) -> Result<(mapsync_core::image::ImageFormat, Vec<u8>), InputError> {
        mapsync_core::image::image(&self.data).map_err(|e| InputError::EmbeddedData {
            position: self.position,
            alt: self.alt.clone(),
            reason: e.to_string(),
        })
    }

    /// How it is named in messages: `image 2 (alt `logo`)`.
    pub fn describe(&self) -> String {
        format!("image {} ({})", self.position, describe(&self.alt))
    }
}

/// For each document variant, the index of its current variant, if any
/// (each current variant matched at most once, in document order). A lone
/// variant without options matches the lone default variant.
pub fn match_variants(doc: &Document, current: &[CurrentVariant]) -> Vec<Option<usize>> {
    let mut out = diff::match_variants(doc, current);
    if doc.options.is_empty()
        && doc.variants.len() == 1
        && current.len() == 1
        && out.first() == Some(&None)
    {
        out = vec![Some(0)];
    }
    out
}

/// The `ProductSetInput` that creates `doc`: every field, options, variants
/// with inventory item and quantities, metafields with the ownership
/// marker, files and collections.
pub fn product_create(
    doc: &Document,
    published: Option<bool>,
    ctx: &WriteContext,
) -> Result<Value, InputError> {
    product_create_with(doc, published, ctx, &EmbeddedSources::new())
}

/// [`product_create`] with the staged sources of its embedded images.
pub fn product_create_with(
    doc: &Document,
    published: Option<bool>,
    ctx: &WriteContext,
    sources: &EmbeddedSources,
) -> Result<Value, InputError> {
    let mut input = Map::new();
    product_scalars(doc, &mut input, false);
    input.insert("status".into(), json!(status_for(published)));
    let (files, variant_files) = files(doc, None, sources)?;
    if !doc.variants.is_empty() {
        let mut variants = Vec::with_capacity(doc.variants.len());
        for v in &doc.variants {
            let mut vi = variant_fields(v, false)?;
            vi.insert("optionValues".into(), json!(option_values(doc, v)));
            let qs = variant_quantities(v, ctx, None)?;
            if !qs.is_empty() {
                vi.insert("inventoryQuantities".into(), json!(qs));
            }
            if !v.metafields.is_empty() {
                vi.insert(
                    "metafields".into(),
                    json!(v.metafields.iter().map(metafield_input).collect::<Vec<_>>()),
                );
            }
            if let Some(f) = variant_files.get(&v.key) {
                vi.insert("file".into(), f.clone());
            }
            variants.push(Value::Object(vi));
        }
        input.insert(
            "productOptions".into(),
            json!(product_options(doc, &variants)),
        );
        input.insert("variants".into(), json!(variants));
    }
    let mut mfs: Vec<Value> = doc
        .metafields
        .iter()
        .filter(|m| !is_seo_metafield(&m.namespace, &m.key) && !is_marker(&m.namespace, &m.key))
        .map(metafield_input)
        .collect();
    mfs.push(marker_input(&doc.key));
    input.insert("metafields".into(), json!(mfs));
    if !files.is_empty() {
        input.insert("files".into(), json!(files));
    }
    let collections = desired_collections(doc, ctx);
    if !collections.is_empty() {
        input.insert("collections".into(), json!(collections));
    }
    Ok(Value::Object(input))
}

fn desired_collections(doc: &Document, ctx: &WriteContext) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in &doc.categories {
        if let Some(id) = ctx.categories.get(k) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
    }
    out
}

/// One absolute quantity for `inventorySetQuantities`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuantityChange {
    pub inventory_item_id: String,
    pub location_id: String,
    pub quantity: i32,
    /// The quantity the store had when it was read: the compare-and-swap
    /// value (`changeFromQuantity`); `None` skips the check.
    pub change_from: Option<i64>,
}

/// What an update of a product needs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProductUpdate {
    /// The `productSet` input, when anything but stocked quantities differs.
    pub product_set: Option<Value>,
    /// Quantities that differ at locations where the variant is stocked.
    pub quantities: Vec<QuantityChange>,
    /// Levels to stock (`inventoryActivate`): an existing variant with a
    /// quantity at a location where it is not stocked yet. `change_from`
    /// is `None`.
    pub activations: Vec<QuantityChange>,
    /// Why the `productSet` is sent (diff paths), for the debug log.
    pub reasons: Vec<String>,
}

fn is_quantity_path(path: &str) -> bool {
    path.starts_with("variants[") && path.contains("].quantities.")
}

/// Per document variant index, the reference locations whose quantity the
/// `productSet` carries (for an existing variant: stocked levels only).
type InProductSet = BTreeMap<usize, BTreeSet<String>>;

/// What an update compares: current product, document, variant matches, write context.
struct UpdateScope<'a> {
    current: &'a Product,
    doc: &'a Document,
    matches: &'a [Option<usize>],
    ctx: &'a WriteContext,
}

impl UpdateScope<'_> {
    /// The document variant and reference location of a quantity change.
    fn locate(&self, c: &QuantityChange) -> Option<(usize, String)> {
        let loc = self
            .ctx
            .locations
            .iter()
            .find(|(_, id)| **id == c.location_id)
            .map(|(name, _)| name.clone())?;
        let di = self.matches.iter().enumerate().find_map(|(di, m)| {
            let t = self.current.variants.get((*m)?)?;
            let item = t.inventory_item.as_ref()?;
            (item.id == c.inventory_item_id).then_some(di)
        })?;
        Some((di, loc))
    }
}

/// The changes that bring `current` to `doc`: `diff_product` (and the
/// collection diff) decide what differs; the SEO metafields are compared
/// with the SEO fields; quantities of stocked levels go to
/// `inventorySetQuantities`, everything else makes one `productSet` that
/// reuses variant, media and option ids.
pub fn product_update(
    current: &Product,
    doc: &Document,
    published: Option<bool>,
    ctx: &WriteContext,
) -> Result<ProductUpdate, InputError> {
    product_update_with(current, doc, published, ctx, &EmbeddedSources::new())
}

/// [`product_update`] with the staged sources of the embedded images the
/// product does not show yet ([`missing_embedded`]).
pub fn product_update_with(
    current: &Product,
    doc: &Document,
    published: Option<bool>,
    ctx: &WriteContext,
    sources: &EmbeddedSources,
) -> Result<ProductUpdate, InputError> {
    let view = neutral::product(current.clone());
    let matches = match_variants(doc, &view.variants);
    let scope = UpdateScope {
        current,
        doc,
        matches: &matches,
        ctx,
    };
    let mut entries: Vec<DiffEntry> =
        diff::diff_product(doc, &view, &ctx.locations, &COMPARE_RULES);
    entries.extend(diff::diff_product_collections(doc, &view, &ctx.categories));
    let desired_status = published.map(|p| status_for(Some(p)));
    let mut reasons = scalar_reasons(current, doc, desired_status);
    let (quantities, activations) = stocked_quantities(&scope)?;
    let mut in_set = InProductSet::new();
    add_diff_reasons(&mut reasons, &entries, ctx);
    if reasons.is_empty() {
        return Ok(ProductUpdate {
            product_set: None,
            quantities,
            activations,
            reasons,
        });
    }

    // A productSet is sent anyway: stocked quantities that differ ride in
    // it (one write instead of two; 2026-04 sets quantities of existing
    // variants at stocked locations).
    let mut quantities = quantities;
    for c in std::mem::take(&mut quantities) {
        let Some((di, loc)) = scope.locate(&c) else {
            quantities.push(c);
            continue;
        };
        reasons.push(format!(
            "variants[{}].quantities.{loc}",
            doc.variants[di].key
        ));
        in_set.entry(di).or_default().insert(loc);
    }
    let mut input = Map::new();
    product_scalars(doc, &mut input, true);
    if let Some(s) = desired_status {
        input.insert("status".into(), json!(s));
    }
    let (files, variant_files) = files(doc, Some(current), sources)?;
    if !doc.images.is_empty() {
        input.insert("files".into(), json!(files));
    }
    if !doc.variants.is_empty() {
        let variants = update_variants(&scope, &mut in_set, &variant_files)?;
        input.insert(
            "productOptions".into(),
            json!(product_options(doc, &variants)),
        );
        input.insert("variants".into(), json!(variants));
    }
    if let Some(mfs) = product_metafields(doc, current, ctx.keep_deleted_metafields) {
        input.insert("metafields".into(), json!(mfs));
    }
    let collection_change = !diff::diff_product_collections(doc, &view, &ctx.categories).is_empty();
    if collection_change {
        input.insert(
            "collections".into(),
            json!(update_collections(doc, current, ctx)),
        );
    }
    Ok(ProductUpdate {
        product_set: Some(Value::Object(input)),
        quantities,
        activations,
        reasons,
    })
}

/// Reasons from the SEO fields, the status and the ownership marker.
fn scalar_reasons(current: &Product, doc: &Document, desired_status: Option<&str>) -> Vec<String> {
    let mut reasons: Vec<String> = Vec::new();
    let (seo_title, seo_description) = desired_seo(doc);
    if seo_title.is_some() && seo_title != current.seo.title {
        reasons.push("seo.title".into());
    }
    if seo_description.is_some() && seo_description != current.seo.description {
        reasons.push("seo.description".into());
    }
    if let Some(s) = desired_status {
        if s != current.status {
            reasons.push("status".into());
        }
    }
    if current.marker() != Some(doc.key.as_str()) {
        reasons.push(format!("metafields[{MARKER_NAMESPACE}.{MARKER_KEY}]"));
    }
    reasons
}

/// Quantity changes of stocked levels, and the levels to stock
/// (`inventoryActivate`) where a matched variant is not stocked yet.
fn stocked_quantities(
    scope: &UpdateScope,
) -> Result<(Vec<QuantityChange>, Vec<QuantityChange>), InputError> {
    let mut quantities = Vec::new();
    let mut activations = Vec::new();
    for (di, v) in scope.doc.variants.iter().enumerate() {
        let Some(ti) = scope.matches.get(di).copied().flatten() else {
            continue;
        };
        let Some(t) = scope.current.variants.get(ti) else {
            continue;
        };
        for (loc, q) in &v.quantities {
            let location_id =
                scope
                    .ctx
                    .locations
                    .get(loc)
                    .ok_or_else(|| InputError::UnknownLocation {
                        variant: v.key.clone(),
                        location: loc.clone(),
                    })?;
            let quantity = i32::try_from(*q).map_err(|_| InputError::QuantityRange {
                variant: v.key.clone(),
                location: loc.clone(),
                quantity: *q,
            })?;
            let level = t
                .inventory_levels
                .iter()
                .find(|l| &l.location_id == location_id);
            match (level, &t.inventory_item) {
                (Some(l), Some(item)) => {
                    let now = l.quantities.get(version::QUANTITY_NAME);
                    if now != Some(q) {
                        quantities.push(QuantityChange {
                            inventory_item_id: item.id.clone(),
                            location_id: location_id.clone(),
                            quantity,
                            change_from: now.copied(),
                        });
                    }
                }
                (None, Some(item)) => activations.push(QuantityChange {
                    inventory_item_id: item.id.clone(),
                    location_id: location_id.clone(),
                    quantity,
                    change_from: None,
                }),
                (_, None) => {
                    return Err(InputError::NoInventoryItem {
                        variant: v.key.clone(),
                    })
                }
            }
        }
    }
    Ok((quantities, activations))
}

/// Adds the diff's non-quantity paths to `reasons`, minus removals the context keeps, deduped.
fn add_diff_reasons(reasons: &mut Vec<String>, entries: &[DiffEntry], ctx: &WriteContext) {
    reasons.extend(
        entries
            .iter()
            .filter(|e| !is_quantity_path(&e.path))
            .map(|e| e.path.clone()),
    );
    // A kept variant no longer in the document is not a change.
    if ctx.keep_existing_variant_data {
        let removed: Vec<String> = entries
            .iter()
            .filter(|e| e.op == diff::DiffOp::Remove && e.path.starts_with("variants["))
            .filter(|e| !e.path.contains("]."))
            .map(|e| e.path.clone())
            .collect();
        reasons.retain(|r| !removed.contains(r));
    }
    if ctx.keep_deleted_metafields {
        let removed: Vec<String> = entries
            .iter()
            .filter(|e| e.op == diff::DiffOp::Remove && e.path.contains("metafields["))
            .map(|e| e.path.clone())
            .collect();
        reasons.retain(|r| !removed.contains(r));
    }
    reasons.dedup();
}

/// The update's `variants`: the document's, then the unmatched current ones when kept.
fn update_variants(
    scope: &UpdateScope,
    in_set: &mut InProductSet,
    variant_files: &BTreeMap<String, Value>,
) -> Result<Vec<Value>, InputError> {
    let mut variants = Vec::new();
    let mut matched: BTreeSet<usize> = BTreeSet::new();
    for (di, v) in scope.doc.variants.iter().enumerate() {
        let t = scope
            .matches
            .get(di)
            .copied()
            .flatten()
            .and_then(|i| scope.current.variants.get(i).map(|t| (i, t)));
        let vi = update_variant(scope, di, v, t, in_set, variant_files)?;
        if let Some((i, _)) = t {
            matched.insert(i);
        }
        variants.push(Value::Object(vi));
    }
    if scope.ctx.keep_existing_variant_data {
        for (i, t) in scope.current.variants.iter().enumerate() {
            if matched.contains(&i) {
                continue;
            }
            let ovs: Vec<Value> = t
                .selected_options
                .iter()
                .map(|o| json!({ "optionName": o.name, "name": o.value }))
                .collect();
            variants.push(json!({ "id": t.id, "optionValues": ovs }));
        }
    }
    Ok(variants)
}

/// The `productSet` variant for document variant `di`, reusing its match `t` (index, variant).
fn update_variant(
    scope: &UpdateScope,
    di: usize,
    v: &VariantDoc,
    t: Option<(usize, &Variant)>,
    in_set: &mut InProductSet,
    variant_files: &BTreeMap<String, Value>,
) -> Result<Map<String, Value>, InputError> {
    let ctx = scope.ctx;
    let mut vi = variant_fields(v, !ctx.keep_existing_variant_data)?;
    vi.insert("optionValues".into(), json!(option_values(scope.doc, v)));
    match t {
        Some((_, t)) => {
            vi.insert("id".into(), json!(t.id));
            let qs = variant_quantities(v, ctx, Some(&in_set.remove(&di).unwrap_or_default()))?;
            if !qs.is_empty() {
                vi.insert("inventoryQuantities".into(), json!(qs));
            }
        }
        None => {
            let qs = variant_quantities(v, ctx, None)?;
            if !qs.is_empty() {
                vi.insert("inventoryQuantities".into(), json!(qs));
            }
        }
    }
    if !v.metafields.is_empty() {
        let mut mfs: Vec<Value> = v.metafields.iter().map(metafield_input).collect();
        if ctx.keep_deleted_metafields {
            if let Some((_, t)) = t {
                mfs.extend(
                    t.metafields
                        .iter()
                        .filter(|c| {
                            !v.metafields
                                .iter()
                                .any(|m| m.namespace == c.namespace && m.key == c.key)
                        })
                        .map(current_metafield_input),
                );
            }
        }
        vi.insert("metafields".into(), json!(mfs));
    }
    if let Some(f) = variant_files.get(&v.key) {
        vi.insert("file".into(), f.clone());
    }
    Ok(vi)
}

/// The update's `collections`: the wanted ones plus the memberships mapsync does not manage.
fn update_collections(doc: &Document, current: &Product, ctx: &WriteContext) -> Vec<String> {
    let wanted = desired_collections(doc, ctx);
    // Memberships mapsync does not manage (collections unknown to the
    // mapping) are kept.
    let known: BTreeSet<&String> = ctx.categories.values().collect();
    let mut all = wanted;
    for c in &current.collections {
        if !known.contains(c) && !all.contains(c) {
            all.push(c.clone());
        }
    }
    all
}

/// The `metafields` list of an update's `productSet` (which replaces the
/// list): `None` leaves them alone (the document has none and the marker is
/// there), else the desired ones, the marker, and with `keep_deleted` the
/// current ones the document no longer has.
fn product_metafields(doc: &Document, current: &Product, keep_deleted: bool) -> Option<Vec<Value>> {
    let desired: Vec<&MetafieldValue> = doc
        .metafields
        .iter()
        .filter(|m| !is_seo_metafield(&m.namespace, &m.key) && !is_marker(&m.namespace, &m.key))
        .collect();
    let marker_ok = current.marker() == Some(doc.key.as_str());
    if doc.metafields.is_empty() {
        if marker_ok {
            return None;
        }
        // Only the marker is missing: keep everything else.
        let mut out: Vec<Value> = current
            .metafields
            .iter()
            .filter(|c| !is_marker(&c.namespace, &c.key))
            .map(current_metafield_input)
            .collect();
        out.push(marker_input(&doc.key));
        return Some(out);
    }
    let mut out: Vec<Value> = desired.iter().map(|m| metafield_input(m)).collect();
    if keep_deleted {
        out.extend(
            current
                .metafields
                .iter()
                .filter(|c| !is_marker(&c.namespace, &c.key))
                .filter(|c| {
                    !desired
                        .iter()
                        .any(|m| m.namespace == c.namespace && m.key == c.key)
                })
                .map(current_metafield_input),
        );
    }
    out.push(marker_input(&doc.key));
    Some(out)
}

/// The `inventorySetQuantities` input for `changes`: each quantity with
/// the store's quantity as read (`changeFromQuantity`, a compare-and-swap).
pub fn set_quantities_input(changes: &[QuantityChange]) -> Value {
    json!({
        "name": version::QUANTITY_NAME,
        "reason": version::QUANTITY_REASON,
        "quantities": changes.iter().map(|c| json!({
            "inventoryItemId": c.inventory_item_id,
            "locationId": c.location_id,
            "quantity": c.quantity,
            "changeFromQuantity": c.change_from,
        })).collect::<Vec<_>>(),
    })
}

/// The idempotency key of one `inventoryActivate` call (item, location,
/// quantity): a stocking sent again is applied once.
pub fn activation_idempotency_key(c: &QuantityChange) -> String {
    let part = json!(["activate", c.inventory_item_id, c.location_id, c.quantity]);
    format!("mapsync-act-{}", mapsync_core::hash::content_hash(&part))
}

/// The idempotency key of one `inventorySetQuantities` call: derived from
/// the changes (items, locations, from and to quantities), so the same
/// write sent again — a retry after a lost answer, a resumed run — is
/// applied once, and a different write never shares a key.
pub fn quantities_idempotency_key(changes: &[QuantityChange]) -> String {
    let parts: Vec<Value> = changes
        .iter()
        .map(|c| {
            json!([
                c.inventory_item_id,
                c.location_id,
                c.change_from,
                c.quantity
            ])
        })
        .collect();
    format!(
        "mapsync-qty-{}",
        mapsync_core::hash::content_hash(&Value::Array(parts))
    )
}

/// Collection-level fields into `input`.
fn collection_scalars(doc: &Document, input: &mut Map<String, Value>, clear: bool) {
    for (name, value) in &doc.fields {
        let key = match name.as_str() {
            "title" => "title",
            "handle" => "handle",
            "body_html" | "description_html" => "descriptionHtml",
            "sort_order" => "sortOrder",
            "template_suffix" => "templateSuffix",
            _ => continue,
        };
        if empty(value) {
            if clear && matches!(key, "descriptionHtml" | "templateSuffix") {
                input.insert(key.into(), json!(""));
            }
            continue;
        }
        if let Some(t) = text(value) {
            let t = if key == "sortOrder" {
                t.to_ascii_uppercase()
            } else {
                t
            };
            input.insert(key.into(), json!(t));
        }
    }
    let (title, description) = desired_seo(doc);
    if title.is_some() || description.is_some() {
        let mut seo = Map::new();
        if let Some(t) = title {
            seo.insert("title".into(), json!(t));
        }
        if let Some(d) = description {
            seo.insert("description".into(), json!(d));
        }
        input.insert("seo".into(), Value::Object(seo));
    }
}

/// The `image` of a collection: its first image (an embedded one from
/// `sources`).
fn collection_image(
    doc: &Document,
    sources: &EmbeddedSources,
) -> Result<Option<Value>, InputError> {
    match doc.images.first() {
        None => Ok(None),
        Some(img) => {
            let (_, src, _) = image_source(img, sources);
            let src = src.ok_or_else(|| not_staged(img, 1))?;
            let mut v = json!({ "src": src });
            if let Some(alt) = &img.alt {
                v["altText"] = json!(alt);
            }
            Ok(Some(v))
        }
    }
}

/// Whether the collection's image is the document's first image (for an
/// embedded one: its file carries the content key).
fn collection_shows(doc: &Document, current: Option<&Collection>) -> bool {
    let (Some(img), Some(c)) = (doc.images.first(), current.and_then(|c| c.image.as_ref())) else {
        return false;
    };
    match img.content_key() {
        Some(k) => mapsync_core::image::key_in_url(&c.url) == Some(k.as_str()),
        None => img.src.trim() == c.url,
    }
}

/// The embedded image of a collection (its first image) when the
/// collection does not show it yet: what a write must upload.
pub fn collection_missing_embedded(
    doc: &Document,
    current: Option<&Collection>,
) -> Option<EmbeddedImage> {
    let img = doc.images.first()?;
    let key = img.content_key()?;
    (!collection_shows(doc, current)).then(|| EmbeddedImage {
        key,
        position: 1,
        alt: img.alt.clone(),
        data: img.src.clone(),
    })
}

/// The `CollectionInput` that creates `doc` (image = the first image,
/// metafields + the ownership marker).
pub fn collection_create(doc: &Document) -> Result<Value, InputError> {
    collection_create_with(doc, &EmbeddedSources::new())
}

/// [`collection_create`] with the staged source of an embedded image.
pub fn collection_create_with(
    doc: &Document,
    sources: &EmbeddedSources,
) -> Result<Value, InputError> {
    let mut input = Map::new();
    collection_scalars(doc, &mut input, false);
    if let Some(img) = collection_image(doc, sources)? {
        input.insert("image".into(), img);
    }
    let mut mfs: Vec<Value> = doc
        .metafields
        .iter()
        .filter(|m| !is_seo_metafield(&m.namespace, &m.key) && !is_marker(&m.namespace, &m.key))
        .map(metafield_input)
        .collect();
    mfs.push(marker_input(&doc.key));
    input.insert("metafields".into(), json!(mfs));
    Ok(Value::Object(input))
}

/// What an update of a collection needs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CollectionUpdate {
    /// The `collectionUpdate` input, when a field, the image or a metafield differs.
    pub update: Option<Value>,
    /// `MetafieldIdentifierInput`s of metafields to delete.
    pub delete_metafields: Vec<Value>,
    /// `Some(true)`: publish, `Some(false)`: unpublish.
    pub publish: Option<bool>,
}

/// The changes that bring collection `current` to `doc` (`diff_collection`
/// decides; `collectionUpdate` upserts metafields, so removed ones are
/// deleted separately unless `keep_deleted_metafields`).
pub fn collection_update(
    current: &Collection,
    doc: &Document,
    published: Option<bool>,
    ctx: &WriteContext,
) -> Result<CollectionUpdate, InputError> {
    collection_update_with(current, doc, published, ctx, &EmbeddedSources::new())
}

/// [`collection_update`] with the staged source of an embedded image the
/// collection does not show yet ([`collection_missing_embedded`]).
pub fn collection_update_with(
    current: &Collection,
    doc: &Document,
    published: Option<bool>,
    ctx: &WriteContext,
    sources: &EmbeddedSources,
) -> Result<CollectionUpdate, InputError> {
    let entries = diff::diff_category(doc, &neutral::collection(current.clone()), &COMPARE_RULES);
    let mut delete_metafields = Vec::new();
    let mut send = false;
    for e in &entries {
        let seo_mf = e.path.eq_ignore_ascii_case("metafields[global.title_tag]")
            || e.path
                .eq_ignore_ascii_case("metafields[global.description_tag]");
        if seo_mf {
            continue;
        }
        if e.op == diff::DiffOp::Remove && e.path.starts_with("metafields[") {
            if !ctx.keep_deleted_metafields {
                if let Some(m) = current
                    .metafields
                    .iter()
                    .find(|m| e.path == format!("metafields[{}.{}]", m.namespace, m.key))
                {
                    delete_metafields.push(json!({
                        "ownerId": current.id,
                        "namespace": m.namespace,
                        "key": m.key,
                    }));
                }
            }
            continue;
        }
        send = true;
    }
    let (seo_title, seo_description) = desired_seo(doc);
    if (seo_title.is_some() && seo_title != current.seo.title)
        || (seo_description.is_some() && seo_description != current.seo.description)
    {
        send = true;
    }
    if current.marker() != Some(doc.key.as_str()) {
        send = true;
    }
    let publish = match published {
        Some(p) if p != current.published => Some(p),
        _ => None,
    };
    let update = if send {
        let mut input = Map::new();
        input.insert("id".into(), json!(current.id));
        collection_scalars(doc, &mut input, true);
        if !collection_shows(doc, Some(current)) {
            if let Some(img) = collection_image(doc, sources)? {
                input.insert("image".into(), img);
            }
        }
        let mut mfs: Vec<Value> = doc
            .metafields
            .iter()
            .filter(|m| !is_seo_metafield(&m.namespace, &m.key) && !is_marker(&m.namespace, &m.key))
            .map(metafield_input)
            .collect();
        mfs.push(marker_input(&doc.key));
        input.insert("metafields".into(), json!(mfs));
        Some(Value::Object(input))
    } else {
        None
    };
    Ok(CollectionUpdate {
        update,
        delete_metafields,
        publish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Document {
        serde_json::from_str(json).unwrap()
    }

    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    fn with_embedded(src: &str) -> Document {
        doc(&format!(
            r#"{{"entity":"product","key":"A","fields":{{"title":"T"}},"metafields":[],
            "metafield_descriptions":[],"images":[{{"kind":"url","src":"https://x/a.png"}},
            {{"kind":"embedded","src":"{src}","alt":"logo"}},{{"kind":"embedded","src":"{src}"}}],
            "options":[],"variants":[],"categories":[]}}"#
        ))
    }

    fn media(id: &str, source: &str, status: &str) -> super::super::model::Media {
        super::super::model::Media {
            id: id.into(),
            alt: None,
            content_type: "IMAGE".into(),
            url: None,
            original_source: Some(source.into()),
            status: Some(status.into()),
        }
    }

    fn sample_product() -> Product {
        Product {
            id: "gid://shopify/Product/1".into(),
            handle: "t".into(),
            title: "T".into(),
            body_html: String::new(),
            vendor: String::new(),
            product_type: String::new(),
            tags: Vec::new(),
            status: "ACTIVE".into(),
            template_suffix: None,
            gift_card: false,
            online_store_url: None,
            updated_at: None,
            seo: Default::default(),
            options: Vec::new(),
            variants: Vec::new(),
            media: Vec::new(),
            metafields: Vec::new(),
            collections: Vec::new(),
        }
    }

    #[test]
    fn embedded_images_take_their_staged_source_or_the_media_that_carries_their_key() {
        let d = with_embedded(PNG);
        let key = d.images[1].content_key().unwrap();
        // Not staged: refused by position, before anything is sent.
        let e = product_create(&d, None, &WriteContext::default()).unwrap_err();
        assert_eq!(
            e,
            InputError::EmbeddedNotStaged {
                position: 2,
                alt: Some("logo".into())
            }
        );
        assert!(e.to_string().contains("image 2 (alt `logo`)"), "{e}");
        let missing = missing_embedded(&d, None);
        assert_eq!(missing.len(), 1, "the same data twice is one upload");
        assert_eq!(
            (missing[0].key.as_str(), missing[0].position),
            (key.as_str(), 2)
        );
        assert_eq!(
            missing[0].decode().unwrap().0,
            mapsync_core::image::ImageFormat::Png
        );

        // Staged: a new file from the staged source, once.
        let staged = format!("https://up.example/t/mapsync-{key}.png");
        let sources: EmbeddedSources = [(key.clone(), staged.clone())].into();
        let input = product_create_with(&d, None, &WriteContext::default(), &sources).unwrap();
        assert_eq!(
            input["files"],
            json!([
                {"originalSource": "https://x/a.png", "contentType": "IMAGE"},
                {"originalSource": staged, "contentType": "IMAGE", "alt": "logo"},
            ])
        );

        // On the product: its media is reused, nothing is missing; a
        // failed one is not (it is given again).
        let mut p = sample_product();
        p.media = vec![
            media("m1", "https://x/a.png", "READY"),
            media(
                "m2",
                &format!("https://cdn/files/mapsync-{key}_1.png?v=2"),
                "PROCESSING",
            ),
        ];
        assert!(missing_embedded(&d, Some(&p)).is_empty());
        let view = neutral::product(p.clone());
        assert_eq!(
            view.images,
            vec!["https://x/a.png".to_string(), format!("embedded:{key}")]
        );
        p.media[1].status = Some("FAILED".into());
        assert_eq!(missing_embedded(&d, Some(&p)).len(), 1);
        assert_eq!(
            neutral::product(p).images,
            vec!["https://x/a.png".to_string()]
        );
    }

    #[test]
    fn embedded_data_that_is_no_image_is_named_by_position_and_alt() {
        let d = with_embedded("aGVsbG8gd29ybGQ=");
        let e = missing_embedded(&d, None)[0].decode().unwrap_err();
        assert_eq!(
            e.to_string(),
            "image 2 (alt `logo`) is embedded data that is not a PNG, JPEG, GIF or WEBP image (its bytes start with 68 65 6c 6c 6f 20 77 6f)"
        );
    }

    #[test]
    fn unknown_location_is_an_error() {
        let d = doc(
            r#"{"entity":"product","key":"A","fields":{"title":"T"},"metafields":[],
            "metafield_descriptions":[],"images":[],"options":[],"categories":[],
            "variants":[{"key":"A","fields":{"sku":"A"},"options":[],"quantities":{"OSL":3},"metafields":[]}]}"#,
        );
        let e = product_create(&d, None, &WriteContext::default()).unwrap_err();
        assert!(matches!(e, InputError::UnknownLocation { .. }), "{e}");
    }

    #[test]
    fn status_follows_published() {
        assert_eq!(status_for(Some(false)), "DRAFT");
        assert_eq!(status_for(Some(true)), "ACTIVE");
        assert_eq!(status_for(None), "ACTIVE");
    }
}
