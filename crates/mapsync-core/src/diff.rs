//! Field diffs: a desired [`Document`] against the target's [`Current`]
//! state (neutral, converted by the connector), as a list of [`DiffEntry`] with stable
//! paths (`title`, `seo.title`, `metafields[custom.material]`,
//! `variants[A1-S].price`, `variants[A1-S].options.Color`, `images`,
//! `collections`). Money and decimals compare as numbers; the platform's
//! own comparison rules come from the connector as [`CompareRules`]. Pure
//! functions: no I/O, no rule decisions (that is `reconcile`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::current::{CompareRules, Current, CurrentMetafield, CurrentVariant, MARKER_NAMESPACE};
use crate::document::{Document, Image, MetafieldValue, VariantDoc};
use crate::value::is_empty;

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

/// How an image compares: its URL, or `embedded:<content key>` (a
/// connector lists an uploaded embedded image the same way, see
/// [`crate::image`]).
fn image_src(i: &Image) -> String {
    match i.content_key() {
        Some(key) => crate::image::diff_value(&key),
        None => i.src.clone(),
    }
}

/// Metafields of an item: those the platform keeps as plain fields
/// ([`CompareRules::metafield_fields`], e.g. SEO title and description) are
/// compared with those fields; the others with the item's metafields.
fn diff_field_metafields_and_metafields(
    out: &mut Vec<DiffEntry>,
    desired: &[MetafieldValue],
    current: &Current,
    rules: &CompareRules,
) {
    let (as_fields, metafields): (Vec<&MetafieldValue>, Vec<&MetafieldValue>) = desired
        .iter()
        .partition(|m| rules.metafield_field(&m.namespace, &m.key).is_some());
    for m in as_fields {
        let now = rules
            .metafield_field(&m.namespace, &m.key)
            .and_then(|f| current.fields.get(f))
            .cloned()
            .unwrap_or(Value::Null);
        push_field(
            out,
            &mf_path(&m.namespace, &m.key),
            &Value::String(m.value.clone()),
            now,
        );
    }
    diff_metafields(out, "", &metafields, &current.metafields);
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
    crate::value::normalize_decimal(s)
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

/// The desired value as compared: `None` when it is not compared at all.
fn desired_for_compare(name: &str, desired: &Value, rules: &CompareRules) -> Option<Value> {
    if is_empty(desired) && rules.not_cleared.contains(&name) {
        return None;
    }
    Some(match desired {
        Value::String(s) if rules.upper_case.contains(&name) => {
            Value::String(s.to_ascii_uppercase())
        }
        other => other.clone(),
    })
}

fn diff_metafields(
    out: &mut Vec<DiffEntry>,
    prefix: &str,
    desired: &[&MetafieldValue],
    current: &[CurrentMetafield],
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

/// A desired document against the current item of the same entity:
/// products by [`diff_product`], categories by [`diff_category`].
pub fn diff_item(
    doc: &Document,
    current: &Current,
    locations: &LocationsByRefName,
    rules: &CompareRules,
) -> Vec<DiffEntry> {
    match doc.entity {
        crate::Entity::Product => diff_product(doc, current, locations, rules),
        crate::Entity::Category => diff_category(doc, current, rules),
    }
}

/// The plain fields of a document against the current item's.
fn diff_fields(out: &mut Vec<DiffEntry>, doc: &Document, current: &Current, rules: &CompareRules) {
    for (name, desired) in &doc.fields {
        match current.fields.get(name) {
            Some(cur) if rules.set_fields.contains(&name.as_str()) => {
                if tag_set(desired) != tag_set(cur) {
                    push_field(out, name, desired, cur.clone());
                }
            }
            Some(cur) => {
                if let Some(d) = desired_for_compare(name, desired, rules) {
                    push_field(out, name, &d, cur.clone());
                }
            }
            None => {
                tracing::debug!(field = %name, "field not compared: the target read does not hold it")
            }
        }
    }
}

/// Desired product vs the product in the target. Category membership is
/// compared by [`diff_product_collections`], which needs the category ids.
pub fn diff_product(
    doc: &Document,
    p: &Current,
    locations: &LocationsByRefName,
    rules: &CompareRules,
) -> Vec<DiffEntry> {
    let mut out = Vec::new();
    diff_fields(&mut out, doc, p, rules);
    diff_field_metafields_and_metafields(&mut out, &doc.metafields, p, rules);
    let desired_imgs: Vec<String> = doc.images.iter().map(image_src).collect();
    if !doc.images.is_empty() && desired_imgs != p.images {
        out.push(DiffEntry::change(
            "images",
            strings(&p.images),
            strings(&desired_imgs),
        ));
    }
    diff_variants(&mut out, doc, p, locations, rules);
    out
}

/// The product's collection membership: desired category keys resolved
/// through `collection_ids` (key → collection id) against the product's
/// collections. Categories unknown on either side are ignored (§4).
pub fn diff_product_collections(
    doc: &Document,
    p: &Current,
    collection_ids: &BTreeMap<String, String>,
) -> Vec<DiffEntry> {
    let mut desired: Vec<String> = doc
        .categories
        .iter()
        .filter_map(|k| collection_ids.get(k).cloned())
        .collect();
    let known: std::collections::HashSet<&String> = collection_ids.values().collect();
    let mut current: Vec<String> = p
        .categories
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
pub fn variant_matches(v: &VariantDoc, t: &CurrentVariant) -> bool {
    if let (Some(Value::String(sku)), Some(tsku)) = (v.fields.get("sku"), t.sku.as_ref()) {
        if !sku.is_empty() {
            return sku == tsku;
        }
    }
    let joined: Vec<&str> = t.options.iter().map(|(_, value)| value.as_str()).collect();
    t.title == v.key || joined.join(" / ") == v.key
}

/// For each desired variant of `doc`, the index of the current variant it
/// is (each current variant matched at most once, in order).
pub fn match_variants(doc: &Document, current: &[CurrentVariant]) -> Vec<Option<usize>> {
    let mut used = vec![false; current.len()];
    doc.variants
        .iter()
        .map(|v| {
            let found = current
                .iter()
                .enumerate()
                .find(|(i, t)| !used.get(*i).copied().unwrap_or(true) && variant_matches(v, t))
                .map(|(i, _)| i);
            if let Some(u) = found.and_then(|i| used.get_mut(i)) {
                *u = true;
            }
            found
        })
        .collect()
}

fn diff_variants(
    out: &mut Vec<DiffEntry>,
    doc: &Document,
    p: &Current,
    locs: &LocationsByRefName,
    rules: &CompareRules,
) {
    let matches = match_variants(doc, &p.variants);
    let mut used = vec![false; p.variants.len()];
    for (v, found) in doc.variants.iter().zip(matches) {
        let Some(t) = found.and_then(|i| p.variants.get(i)) else {
            out.push(DiffEntry::add(
                format!("variants[{}]", v.key),
                variant_value(v),
            ));
            continue;
        };
        if let Some(u) = found.and_then(|i| used.get_mut(i)) {
            *u = true;
        }
        let prefix = format!("variants[{}]", v.key);
        for (name, desired) in &v.fields {
            let Some(cur) = t.fields.get(name) else {
                continue;
            };
            if let Some(d) = desired_for_compare(name, desired, rules) {
                push_field(out, &format!("{prefix}.{name}"), &d, cur.clone());
            }
        }
        // A field the write fills in when another is set (a weight without
        // a unit is written in the default unit): compare that value too.
        for (when, field, value) in rules.implied {
            if v.fields.get(*when).is_some_and(|w| !is_empty(w))
                && v.fields.get(*field).is_none_or(is_empty)
            {
                let cur = t.fields.get(*field).cloned().unwrap_or(Value::Null);
                push_field(
                    out,
                    &format!("{prefix}.{field}"),
                    &Value::String((*value).into()),
                    cur,
                );
            }
        }
        for (name, value) in &v.options {
            let cur = t
                .options
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, x)| Value::String(x.clone()))
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
                .and_then(|id| t.quantities.get(id))
                .map(|n| Value::from(*n))
                .unwrap_or(Value::Null);
            push_field(
                out,
                &format!("{prefix}.quantities.{loc}"),
                &Value::from(*q),
                cur,
            );
        }
        let desired: Vec<&MetafieldValue> = v.metafields.iter().collect();
        diff_metafields(out, &format!("{prefix}."), &desired, &t.metafields);
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

/// Desired category vs the category in the target.
pub fn diff_category(doc: &Document, c: &Current, rules: &CompareRules) -> Vec<DiffEntry> {
    let mut out = Vec::new();
    diff_fields(&mut out, doc, c, rules);
    diff_field_metafields_and_metafields(&mut out, &doc.metafields, c, rules);
    let desired = doc.images.first().map(image_src);
    let current = c.images.first().cloned();
    if desired.is_some() && desired != current {
        push_field(&mut out, "image", &opt(&desired), opt(&current));
    }
    out
}
