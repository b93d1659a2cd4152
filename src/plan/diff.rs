//! Field diffs: a desired [`Document`] against the target's current
//! [`Product`] or [`Collection`], as a list of [`DiffEntry`] with stable
//! paths (`title`, `seo.title`, `metafields[custom.material]`,
//! `variants[A1-S].price`, `variants[A1-S].options.Color`, `images`,
//! `collections`). Money and decimals compare as numbers. Pure functions:
//! no I/O, no rule decisions (that is `reconcile`).

use std::collections::BTreeMap;

use super::compile::is_empty;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::{Document, Image, MetafieldValue, VariantDoc};
use crate::connectors::shopify::model::{
    Collection, Media, Metafield, Product, Variant, MARKER_NAMESPACE,
};
use crate::connectors::shopify::version::DEFAULT_WEIGHT_UNIT;

/// Target location id by reference location name (`CPH` → `gid://...`).
pub type LocationsByRefName = BTreeMap<String, String>;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffOp {
    /// Only desired.
    Add,
    /// Only in the target.
    Remove,
    /// Both, different.
    Change,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffEntry {
    /// Stable path.
    pub path: String,
    /// Add, remove or change.
    pub op: DiffOp,
    /// Current value (null for add).
    pub before: Value,
    /// Desired value (null for remove).
    pub after: Value,
}

impl DiffEntry {
    fn add(path: impl Into<String>, after: Value) -> DiffEntry {
        DiffEntry {
            path: path.into(),
            op: DiffOp::Add,
            before: Value::Null,
            after,
        }
    }
    fn remove(path: impl Into<String>, before: Value) -> DiffEntry {
        DiffEntry {
            path: path.into(),
            op: DiffOp::Remove,
            before,
            after: Value::Null,
        }
    }
    fn change(path: impl Into<String>, before: Value, after: Value) -> DiffEntry {
        DiffEntry {
            path: path.into(),
            op: DiffOp::Change,
            before,
            after,
        }
    }
}

/// For a create: every field of the document as `add`.
pub fn diff_create(doc: &Document) -> Vec<DiffEntry> {
    let mut out = Vec::new();
    for (k, v) in &doc.fields {
        if !is_empty(v) {
            out.push(DiffEntry::add(k.clone(), v.clone()));
        }
    }
    for m in &doc.metafields {
        out.push(DiffEntry::add(
            mf_path(&m.namespace, &m.key),
            Value::String(m.value.clone()),
        ));
    }
    if !doc.images.is_empty() {
        out.push(DiffEntry::add("images", images_value(&doc.images)));
    }
    for v in &doc.variants {
        out.push(DiffEntry::add(
            format!("variants[{}]", v.key),
            variant_value(v),
        ));
    }
    if !doc.categories.is_empty() {
        out.push(DiffEntry::add("collections", strings(&doc.categories)));
    }
    out
}

fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

fn variant_value(v: &VariantDoc) -> Value {
    let mut m = serde_json::Map::new();
    for (k, val) in &v.fields {
        m.insert(k.clone(), val.clone());
    }
    if !v.options.is_empty() {
        let o: serde_json::Map<String, Value> = v
            .options
            .iter()
            .map(|(n, x)| (n.clone(), Value::String(x.clone())))
            .collect();
        m.insert("options".into(), Value::Object(o));
    }
    for (loc, q) in &v.quantities {
        m.insert(format!("quantities.{loc}"), Value::from(*q));
    }
    Value::Object(m)
}

fn images_value(images: &[Image]) -> Value {
    Value::Array(images.iter().map(|i| Value::String(image_src(i))).collect())
}

fn image_src(i: &Image) -> String {
    match i.kind {
        super::document::ImageKindName::Embedded => {
            format!(
                "embedded:{}",
                crate::hash::content_hash(&Value::String(i.src.clone()))
            )
        }
        _ => i.src.clone(),
    }
}

/// Which SEO field a metafield sets, if it is one of the SEO metafields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeoField {
    /// `global.title_tag`.
    Title,
    /// `global.description_tag`.
    Description,
}

/// `Metafield|global|title_tag` and `Metafield|global|description_tag` set
/// the SEO title and description (any letter case).
pub fn seo_field(namespace: &str, key: &str) -> Option<SeoField> {
    if !namespace.eq_ignore_ascii_case("global") {
        return None;
    }
    if key.eq_ignore_ascii_case("title_tag") {
        Some(SeoField::Title)
    } else if key.eq_ignore_ascii_case("description_tag") {
        Some(SeoField::Description)
    } else {
        None
    }
}

/// Metafields of a product or collection: `global.title_tag` /
/// `global.description_tag` are the SEO fields in Shopify (mapping-format.md
/// §5) and are compared with those; the others with the item's metafields.
fn diff_seo_and_metafields(
    out: &mut Vec<DiffEntry>,
    desired: &[MetafieldValue],
    seo: &crate::connectors::shopify::model::Seo,
    current: &[Metafield],
) {
    let (seo_values, metafields): (Vec<MetafieldValue>, Vec<MetafieldValue>) = desired
        .iter()
        .cloned()
        .partition(|m| seo_field(&m.namespace, &m.key).is_some());
    for m in &seo_values {
        let now = match seo_field(&m.namespace, &m.key) {
            Some(SeoField::Title) => opt(&seo.title),
            _ => opt(&seo.description),
        };
        push_field(
            out,
            &mf_path(&m.namespace, &m.key),
            &Value::String(m.value.clone()),
            now,
        );
    }
    diff_metafields(out, "", &metafields, current);
}

fn tag_set(v: &Value) -> std::collections::BTreeSet<String> {
    let list: Vec<String> = match v {
        Value::Array(a) => a.iter().filter_map(text_of).collect(),
        other => text_of(other).into_iter().collect(),
    };
    list.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn mf_path(ns: &str, key: &str) -> String {
    format!("metafields[{ns}.{key}]")
}

/// A decimal in canonical form (`50.00` → `50`, `012.5` → `12.5`), or
/// `None` when the text is not a plain decimal.
pub fn canonical_decimal(s: &str) -> Option<String> {
    super::compile::normalize_decimal(s)
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Whether a desired value equals a current one: decimals as numbers,
/// null equal to empty.
fn same(desired: &Value, current: &Value) -> bool {
    if is_empty(desired) && is_empty(current) {
        return true;
    }
    match (desired, current) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Bool(a), other) | (other, Value::Bool(a)) => {
            text_of(other).is_some_and(|t| t.eq_ignore_ascii_case(&a.to_string()))
        }
        _ => match (text_of(desired), text_of(current)) {
            (Some(a), Some(b)) => {
                a == b
                    || matches!((canonical_decimal(&a), canonical_decimal(&b)), (Some(x), Some(y)) if x == y)
            }
            _ => false,
        },
    }
}

fn push_field(out: &mut Vec<DiffEntry>, path: &str, desired: &Value, current: Value) {
    if same(desired, &current) {
        return;
    }
    if is_empty(&current) {
        out.push(DiffEntry::add(path, desired.clone()));
    } else if is_empty(desired) {
        out.push(DiffEntry::remove(path, current));
    } else {
        out.push(DiffEntry::change(path, current, desired.clone()));
    }
}

fn opt(s: &Option<String>) -> Value {
    s.clone().map(Value::String).unwrap_or(Value::Null)
}

fn product_field(p: &Product, name: &str) -> Option<Value> {
    Some(match name {
        "title" => Value::String(p.title.clone()),
        "handle" => Value::String(p.handle.clone()),
        "body_html" | "description_html" => Value::String(p.body_html.clone()),
        "vendor" => Value::String(p.vendor.clone()),
        "product_type" => Value::String(p.product_type.clone()),
        "tags" => strings(&p.tags),
        "status" => Value::String(p.status.clone()),
        "seo.title" => opt(&p.seo.title),
        "seo.description" => opt(&p.seo.description),
        "template_suffix" => opt(&p.template_suffix),
        "gift_card" => Value::Bool(p.gift_card),
        _ => return None,
    })
}

/// Fields the write leaves alone when their desired value is empty (it
/// does not clear them), so an empty desired value is no difference.
const NOT_CLEARED: &[&str] = &[
    "gift_card",
    "taxable",
    "inventory_policy",
    "inventory_item.requires_shipping",
    "inventory_item.province_code_of_origin",
    "inventory_item.weight",
    "inventory_item.weight_unit",
];

/// Enum fields: compared without regard to case (the write upper-cases).
const ENUMS: &[&str] = &[
    "inventory_policy",
    "inventory_item.weight_unit",
    "inventory_item.province_code_of_origin",
];

/// The desired value as compared: `None` when it is not compared at all.
fn desired_for_compare(name: &str, desired: &Value) -> Option<Value> {
    if is_empty(desired) && NOT_CLEARED.contains(&name) {
        return None;
    }
    Some(match desired {
        Value::String(s) if ENUMS.contains(&name) => Value::String(s.to_ascii_uppercase()),
        other => other.clone(),
    })
}

fn diff_metafields(
    out: &mut Vec<DiffEntry>,
    prefix: &str,
    desired: &[MetafieldValue],
    current: &[Metafield],
) {
    for m in desired {
        let path = format!("{prefix}{}", mf_path(&m.namespace, &m.key));
        let cur = current
            .iter()
            .find(|c| c.namespace == m.namespace && c.key == m.key)
            .map(|c| Value::String(c.value.clone()))
            .unwrap_or(Value::Null);
        push_field(out, &path, &Value::String(m.value.clone()), cur);
    }
    // Metafields are managed only when the mapping uses them.
    if desired.is_empty() {
        return;
    }
    for c in current {
        if c.namespace == MARKER_NAMESPACE {
            continue;
        }
        if !desired
            .iter()
            .any(|m| m.namespace == c.namespace && m.key == c.key)
        {
            out.push(DiffEntry::remove(
                format!("{prefix}{}", mf_path(&c.namespace, &c.key)),
                Value::String(c.value.clone()),
            ));
        }
    }
}

fn media_src(m: &Media) -> Option<String> {
    if m.content_type != "IMAGE" {
        return None;
    }
    m.original_source.clone().or_else(|| m.url.clone())
}

/// Desired product vs the product in the target. Collections are compared
/// by [`diff_product_collections`], which needs the category ids.
pub fn diff_product(doc: &Document, p: &Product, locations: &LocationsByRefName) -> Vec<DiffEntry> {
    let mut out = Vec::new();
    for (name, desired) in &doc.fields {
        match product_field(p, name) {
            // Shopify keeps tags sorted and deduplicated: a set.
            Some(cur) if name == "tags" => {
                if tag_set(desired) != tag_set(&cur) {
                    push_field(&mut out, name, desired, cur);
                }
            }
            Some(cur) => {
                if let Some(d) = desired_for_compare(name, desired) {
                    push_field(&mut out, name, &d, cur);
                }
            }
            None => {
                tracing::debug!(field = %name, "field not compared: the target read does not hold it")
            }
        }
    }
    diff_seo_and_metafields(&mut out, &doc.metafields, &p.seo, &p.metafields);
    let desired_imgs: Vec<String> = doc.images.iter().map(image_src).collect();
    let current_imgs: Vec<String> = p.media.iter().filter_map(media_src).collect();
    if !doc.images.is_empty() && desired_imgs != current_imgs {
        out.push(DiffEntry::change(
            "images",
            strings(&current_imgs),
            strings(&desired_imgs),
        ));
    }
    diff_variants(&mut out, doc, p, locations);
    out
}

/// The product's collection membership: desired category keys resolved
/// through `collection_ids` (key → collection id) against the product's
/// collections. Categories unknown on either side are ignored (§4).
pub fn diff_product_collections(
    doc: &Document,
    p: &Product,
    collection_ids: &BTreeMap<String, String>,
) -> Vec<DiffEntry> {
    let mut desired: Vec<String> = doc
        .categories
        .iter()
        .filter_map(|k| collection_ids.get(k).cloned())
        .collect();
    let known: std::collections::HashSet<&String> = collection_ids.values().collect();
    let mut current: Vec<String> = p
        .collections
        .iter()
        .filter(|c| known.contains(c))
        .cloned()
        .collect();
    desired.sort();
    desired.dedup();
    current.sort();
    if desired == current {
        return Vec::new();
    }
    vec![DiffEntry::change(
        "collections",
        strings(&current),
        strings(&desired),
    )]
}

/// Whether desired variant `v` is current variant `t`: by SKU when both
/// have one, else by the title or the option values joined with ` / `.
pub fn variant_matches(v: &VariantDoc, t: &Variant) -> bool {
    if let (Some(Value::String(sku)), Some(tsku)) = (v.fields.get("sku"), t.sku.as_ref()) {
        if !sku.is_empty() {
            return sku == tsku;
        }
    }
    let joined: Vec<&str> = t
        .selected_options
        .iter()
        .map(|o| o.value.as_str())
        .collect();
    t.title == v.key || joined.join(" / ") == v.key
}

fn variant_field(t: &Variant, name: &str) -> Option<Value> {
    let inv = t.inventory_item.as_ref();
    Some(match name {
        "sku" => opt(&t.sku),
        "price" => Value::String(t.price.clone()),
        "compare_at_price" => opt(&t.compare_at_price),
        "barcode" => opt(&t.barcode),
        "inventory_item.cost" => inv
            .and_then(|i| i.unit_cost.as_ref())
            .map(|m| Value::String(m.amount.clone()))
            .unwrap_or(Value::Null),
        "inventory_item.tracked" => inv.map(|i| Value::Bool(i.tracked)).unwrap_or(Value::Null),
        "inventory_item.country_code_of_origin" => inv
            .map(|i| opt(&i.country_code_of_origin))
            .unwrap_or(Value::Null),
        "inventory_item.harmonized_system_code" => inv
            .map(|i| opt(&i.harmonized_system_code))
            .unwrap_or(Value::Null),
        "taxable" => Value::Bool(t.taxable),
        "inventory_policy" => Value::String(t.inventory_policy.clone()),
        "inventory_item.requires_shipping" => inv
            .map(|i| Value::Bool(i.requires_shipping))
            .unwrap_or(Value::Null),
        "inventory_item.province_code_of_origin" => inv
            .map(|i| opt(&i.province_code_of_origin))
            .unwrap_or(Value::Null),
        "inventory_item.weight" => inv
            .and_then(|i| i.weight.as_ref())
            .map(|w| Value::String(w.value.clone()))
            .unwrap_or(Value::Null),
        "inventory_item.weight_unit" => inv
            .and_then(|i| i.weight.as_ref())
            .map(|w| Value::String(w.unit.clone()))
            .unwrap_or(Value::Null),
        _ => return None,
    })
}

fn diff_variants(out: &mut Vec<DiffEntry>, doc: &Document, p: &Product, locs: &LocationsByRefName) {
    let mut used = vec![false; p.variants.len()];
    for v in &doc.variants {
        let found = p
            .variants
            .iter()
            .enumerate()
            .find(|(i, t)| !used.get(*i).copied().unwrap_or(true) && variant_matches(v, t));
        let Some((i, t)) = found else {
            out.push(DiffEntry::add(
                format!("variants[{}]", v.key),
                variant_value(v),
            ));
            continue;
        };
        if let Some(u) = used.get_mut(i) {
            *u = true;
        }
        let prefix = format!("variants[{}]", v.key);
        for (name, desired) in &v.fields {
            let Some(cur) = variant_field(t, name) else {
                continue;
            };
            if let Some(d) = desired_for_compare(name, desired) {
                push_field(out, &format!("{prefix}.{name}"), &d, cur);
            }
        }
        // A weight without a unit is written in the default unit: compare
        // that unit too, so a weight is a decimal with its unit.
        if v.fields
            .get("inventory_item.weight")
            .is_some_and(|w| !is_empty(w))
            && v.fields
                .get("inventory_item.weight_unit")
                .is_none_or(is_empty)
        {
            let cur = variant_field(t, "inventory_item.weight_unit").unwrap_or(Value::Null);
            push_field(
                out,
                &format!("{prefix}.inventory_item.weight_unit"),
                &Value::String(DEFAULT_WEIGHT_UNIT.into()),
                cur,
            );
        }
        for (name, value) in &v.options {
            let cur = t
                .selected_options
                .iter()
                .find(|o| &o.name == name)
                .map(|o| Value::String(o.value.clone()))
                .unwrap_or(Value::Null);
            push_field(
                out,
                &format!("{prefix}.options.{name}"),
                &Value::String(value.clone()),
                cur,
            );
        }
        for (loc, q) in &v.quantities {
            let cur = locs
                .get(loc)
                .and_then(|id| t.inventory_levels.iter().find(|l| &l.location_id == id))
                .and_then(|l| l.quantities.get("available"))
                .map(|n| Value::from(*n))
                .unwrap_or(Value::Null);
            push_field(
                out,
                &format!("{prefix}.quantities.{loc}"),
                &Value::from(*q),
                cur,
            );
        }
        diff_metafields(out, &format!("{prefix}."), &v.metafields, &t.metafields);
    }
    for (t, u) in p.variants.iter().zip(used) {
        if !u {
            let key = t
                .sku
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| t.title.clone());
            out.push(DiffEntry::remove(
                format!("variants[{key}]"),
                Value::String(t.id.clone()),
            ));
        }
    }
}

/// Desired category vs the custom collection in the target.
pub fn diff_collection(doc: &Document, c: &Collection) -> Vec<DiffEntry> {
    let mut out = Vec::new();
    for (name, desired) in &doc.fields {
        let cur = match name.as_str() {
            "title" => Value::String(c.title.clone()),
            "handle" => Value::String(c.handle.clone()),
            "body_html" | "description_html" => Value::String(c.description_html.clone()),
            "sort_order" => Value::String(c.sort_order.clone()),
            "template_suffix" => opt(&c.template_suffix),
            "seo.title" => opt(&c.seo.title),
            "seo.description" => opt(&c.seo.description),
            _ => {
                tracing::debug!(field = %name, "field not compared: the target read does not hold it");
                continue;
            }
        };
        push_field(&mut out, name, desired, cur);
    }
    diff_seo_and_metafields(&mut out, &doc.metafields, &c.seo, &c.metafields);
    let desired = doc.images.first().map(image_src);
    let current = c.image.as_ref().map(|i| i.url.clone());
    if desired.is_some() && desired != current {
        push_field(&mut out, "image", &opt(&desired), opt(&current));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::shopify::model::{InventoryItem, Seo, Weight};
    use serde_json::json;

    fn current() -> Product {
        Product {
            id: "gid://shopify/Product/1".into(),
            handle: "card".into(),
            title: "Card".into(),
            body_html: String::new(),
            vendor: String::new(),
            product_type: String::new(),
            tags: vec![],
            status: "ACTIVE".into(),
            template_suffix: Some("gift".into()),
            gift_card: true,
            updated_at: None,
            seo: Seo::default(),
            options: vec![],
            variants: vec![Variant {
                id: "gid://shopify/ProductVariant/2".into(),
                title: "Default Title".into(),
                position: Some(1),
                sku: Some("C-1".into()),
                price: "25.00".into(),
                compare_at_price: None,
                barcode: None,
                taxable: false,
                inventory_policy: "CONTINUE".into(),
                selected_options: vec![],
                inventory_item: Some(InventoryItem {
                    id: "gid://shopify/InventoryItem/3".into(),
                    sku: Some("C-1".into()),
                    unit_cost: None,
                    tracked: true,
                    country_code_of_origin: None,
                    harmonized_system_code: None,
                    requires_shipping: false,
                    province_code_of_origin: Some("ON".into()),
                    weight: Some(Weight {
                        value: "0.2".into(),
                        unit: "KILOGRAMS".into(),
                    }),
                }),
                inventory_levels: vec![],
                metafields: vec![],
            }],
            media: vec![],
            metafields: vec![],
            collections: vec![],
        }
    }

    fn doc(fields: Value, variant: Value) -> Document {
        serde_json::from_value(json!({
            "entity": "product", "key": "C", "fields": fields,
            "metafields": [], "metafield_descriptions": [], "images": [], "options": [],
            "categories": [],
            "variants": [{"key": "C-1", "fields": variant, "options": [], "quantities": {},
                          "metafields": []}]
        }))
        .unwrap()
    }

    fn paths(d: &Document) -> Vec<String> {
        diff_product(d, &current(), &LocationsByRefName::new())
            .into_iter()
            .map(|e| e.path)
            .collect()
    }

    #[test]
    fn read_back_fields_equal_in_another_spelling_are_no_change() {
        let d = doc(
            json!({"template_suffix": "gift", "gift_card": true}),
            json!({"sku": "C-1", "price": "25", "taxable": false, "inventory_policy": "continue",
                   "inventory_item.requires_shipping": false,
                   "inventory_item.province_code_of_origin": "on",
                   "inventory_item.weight": "0.20"}),
        );
        assert_eq!(paths(&d), Vec::<String>::new());
    }

    #[test]
    fn empty_values_of_fields_the_write_does_not_clear_are_no_change() {
        let d = doc(
            json!({"gift_card": null}),
            json!({"sku": "C-1", "taxable": null, "inventory_policy": "",
                   "inventory_item.weight": null, "inventory_item.weight_unit": ""}),
        );
        assert_eq!(paths(&d), Vec::<String>::new());
    }

    #[test]
    fn each_read_back_field_that_differs_is_a_change() {
        let d = doc(
            json!({"template_suffix": "", "gift_card": false}),
            json!({"sku": "C-1", "taxable": true, "inventory_policy": "DENY",
                   "inventory_item.requires_shipping": true,
                   "inventory_item.province_code_of_origin": "QC",
                   "inventory_item.weight": "200", "inventory_item.weight_unit": "GRAMS"}),
        );
        let v = "variants[C-1]";
        let mut want = vec![
            "template_suffix".to_string(),
            "gift_card".into(),
            format!("{v}.taxable"),
            format!("{v}.inventory_policy"),
            format!("{v}.inventory_item.requires_shipping"),
            format!("{v}.inventory_item.province_code_of_origin"),
            format!("{v}.inventory_item.weight"),
            format!("{v}.inventory_item.weight_unit"),
        ];
        let mut got = paths(&d);
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn a_weight_without_unit_is_compared_in_the_default_unit() {
        let d = doc(
            json!({}),
            json!({"sku": "C-1", "inventory_item.weight": "0.2"}),
        );
        assert_eq!(paths(&d), Vec::<String>::new());
        let mut grams = current();
        if let Some(Some(item)) = grams
            .variants
            .first_mut()
            .map(|v| v.inventory_item.as_mut())
        {
            item.weight = Some(Weight {
                value: "0.2".into(),
                unit: "GRAMS".into(),
            });
        }
        let entries = diff_product(&d, &grams, &LocationsByRefName::new());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "variants[C-1].inventory_item.weight_unit");
        assert_eq!(entries[0].before, json!("GRAMS"));
        assert_eq!(entries[0].after, json!("KILOGRAMS"));
    }
}
