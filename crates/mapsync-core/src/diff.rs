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
    // A document without variants (a mapping with no `variants:`) leaves
    // the target's variants (its default one) alone.
    if doc.variants.is_empty() {
        return;
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

// ---------------------------------------------------------------------
// Field hashes and drift (spec/two-way.md, "Drift (one-way fields)").
// ---------------------------------------------------------------------

/// The hash of each field mapsync wrote to an item, by the [`field_key`]
/// of its diff path (`title`, `metafields[custom.material]`,
/// `variants[A1-S].price`...): what the state store keeps per item, so a
/// later read of the item tells which fields someone changed in the
/// target since. Short on purpose (8 hex digits each side, about 18 bytes
/// a field stored, [`encode_field_hashes`]): a product with a few
/// variants has some 70 fields, and a ledger a million products.
pub type FieldHashes = BTreeMap<String, String>;

/// The key of a diff path in [`FieldHashes`]: 8 hex digits of its
/// SHA-256. Two paths of one document with the same key are not watched
/// ([`written_hashes`] leaves both out), so a collision never shows as
/// drift.
pub fn field_key(path: &str) -> String {
    short(&Value::String(path.to_string()))
}

/// [`FieldHashes`] as the state store keeps them: `key:hash` pairs joined
/// with `,`, in key order.
pub fn encode_field_hashes(fields: &FieldHashes) -> String {
    let mut out = String::with_capacity(fields.len() * 18);
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push(':');
        out.push_str(v);
    }
    out
}

/// [`encode_field_hashes`] read back; `None` when the text is not that
/// form (then nothing is watched for the item until it is written again).
pub fn decode_field_hashes(text: &str) -> Option<FieldHashes> {
    if text.is_empty() {
        return Some(FieldHashes::new());
    }
    text.split(',')
        .map(|pair| {
            let (k, v) = pair.split_once(':')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// What a sync does with drift (`settings.on_drift`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDrift {
    /// Write the source's value over the store's (the default).
    #[default]
    Overwrite,
    /// Leave the field as the store has it; the item's other fields are
    /// still written.
    Keep,
    /// The item fails with a message naming the field, and nothing is
    /// written.
    Fail,
}

impl OnDrift {
    /// The word used in the mapping format and the plan.
    pub fn as_str(self) -> &'static str {
        match self {
            OnDrift::Overwrite => "overwrite",
            OnDrift::Keep => "keep",
            OnDrift::Fail => "fail",
        }
    }
}

/// A field whose value in the target is no longer the one mapsync last
/// wrote there: someone edited it in the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drifted {
    /// The diff path of the field.
    pub field: String,
    /// Its value in the target now.
    pub store: Value,
    /// The value the source now gives it (null: none).
    pub new: Value,
}

/// The hash of a field value as the diff compares it: empty values (null,
/// `""`, `[]`) alike, decimals as numbers (`50.00` = `50`), booleans and
/// `true`/`false` texts alike, sets sorted and deduplicated. Two values the
/// diff calls the same hash the same. 8 hex digits of SHA-256: a drift
/// missed once in four billion edits.
pub fn field_hash(v: &Value) -> String {
    short(&normalise(v))
}

fn short(normal: &Value) -> String {
    let full = crate::hash::content_hash(normal);
    full.get(crate::hash::PREFIX.len()..crate::hash::PREFIX.len() + 8)
        .unwrap_or(&full)
        .to_string()
}

/// A value in the form [`field_hash`] hashes.
fn normalise(v: &Value) -> Value {
    if is_empty(v) {
        return Value::Null;
    }
    match v {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => {
            let t = n.to_string();
            Value::String(canonical_decimal(&t).unwrap_or(t))
        }
        Value::String(s) => match canonical_decimal(s) {
            Some(d) => Value::String(d),
            None if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                Value::String(s.to_ascii_lowercase())
            }
            None => Value::String(s.clone()),
        },
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

/// A set field's value as [`normalise`] would give the sorted set.
fn normalise_set(v: &Value) -> Value {
    let set = tag_set(v);
    if set.is_empty() {
        Value::Null
    } else {
        Value::Array(set.into_iter().map(Value::String).collect())
    }
}

/// One field of a document that drift watches, with where its value sits
/// in the document and in the current item.
enum Slot<'d> {
    /// A plain field.
    Field(&'d str),
    /// A metafield the platform keeps as a plain field (index, field).
    MetafieldField(usize, &'static str),
    /// A metafield (index in the document's metafields).
    Metafield(usize),
    /// A product's images.
    Images,
    /// A category's image.
    Image,
    /// Whether a desired variant is in the target (variant index).
    Variant(usize),
    /// A variant's plain field (variant index, name).
    VariantField(usize, &'d str),
    /// A value the write fills in (variant index, field, value).
    Implied(usize, &'static str, &'static str),
    /// A variant's option value (variant index, option index).
    VariantOption(usize, usize),
    /// A variant's metafield (variant index, metafield index).
    VariantMetafield(usize, usize),
}

/// What drift watches of one document: every field the diff compares but
/// inventory quantities (stock moves with every sale: not an edit) and
/// category membership (a relation between items, not a field). A field
/// whose empty value the write leaves alone is not watched.
fn slots<'d>(doc: &'d Document, rules: &CompareRules) -> Vec<(String, Slot<'d>)> {
    let mut out = Vec::new();
    for (name, desired) in &doc.fields {
        if desired_for_compare(name, desired, rules).is_some() {
            out.push((name.clone(), Slot::Field(name.as_str())));
        }
    }
    for (i, m) in doc.metafields.iter().enumerate() {
        let path = mf_path(&m.namespace, &m.key);
        match rules.metafield_field(&m.namespace, &m.key) {
            Some(f) => out.push((path, Slot::MetafieldField(i, f))),
            None => out.push((path, Slot::Metafield(i))),
        }
    }
    if !doc.images.is_empty() {
        match doc.entity {
            crate::Entity::Product => out.push(("images".into(), Slot::Images)),
            crate::Entity::Category => out.push(("image".into(), Slot::Image)),
        }
    }
    for (vi, v) in doc.variants.iter().enumerate() {
        let prefix = format!("variants[{}]", v.key);
        out.push((prefix.clone(), Slot::Variant(vi)));
        for (name, desired) in &v.fields {
            if desired_for_compare(name, desired, rules).is_some() {
                out.push((format!("{prefix}.{name}"), Slot::VariantField(vi, name)));
            }
        }
        for (when, field, value) in rules.implied {
            if v.fields.get(*when).is_some_and(|w| !is_empty(w))
                && v.fields.get(*field).is_none_or(is_empty)
            {
                out.push((format!("{prefix}.{field}"), Slot::Implied(vi, field, value)));
            }
        }
        for (oi, (name, _)) in v.options.iter().enumerate() {
            out.push((
                format!("{prefix}.options.{name}"),
                Slot::VariantOption(vi, oi),
            ));
        }
        for (mi, m) in v.metafields.iter().enumerate() {
            out.push((
                format!("{prefix}.{}", mf_path(&m.namespace, &m.key)),
                Slot::VariantMetafield(vi, mi),
            ));
        }
    }
    out
}

impl Slot<'_> {
    /// The value the document gives the field, as the diff compares it.
    fn desired(&self, doc: &Document, rules: &CompareRules) -> Value {
        let text = |s: &str| Value::String(s.to_string());
        let variant = |vi: usize| doc.variants.get(vi);
        match *self {
            Slot::Field(name) => doc
                .fields
                .get(name)
                .and_then(|d| desired_for_compare(name, d, rules))
                .map(|d| compared(name, &d, rules))
                .unwrap_or(Value::Null),
            Slot::MetafieldField(i, _) | Slot::Metafield(i) => doc
                .metafields
                .get(i)
                .map(|m| text(&m.value))
                .unwrap_or(Value::Null),
            Slot::Images => strings(&doc.images.iter().map(image_src).collect::<Vec<_>>()),
            Slot::Image => opt(&doc.images.first().map(image_src)),
            Slot::Variant(vi) => variant(vi).map(|v| text(&v.key)).unwrap_or(Value::Null),
            Slot::VariantField(vi, name) => variant(vi)
                .and_then(|v| v.fields.get(name))
                .and_then(|d| desired_for_compare(name, d, rules))
                .unwrap_or(Value::Null),
            Slot::Implied(_, _, value) => text(value),
            Slot::VariantOption(vi, oi) => variant(vi)
                .and_then(|v| v.options.get(oi))
                .map(|(_, x)| text(x))
                .unwrap_or(Value::Null),
            Slot::VariantMetafield(vi, mi) => variant(vi)
                .and_then(|v| v.metafields.get(mi))
                .map(|m| text(&m.value))
                .unwrap_or(Value::Null),
        }
    }

    /// The field's value in the current item; `None` when the target's
    /// read does not hold it (then it is not watched).
    fn current(
        &self,
        doc: &Document,
        current: &Current,
        matches: &[Option<usize>],
        rules: &CompareRules,
    ) -> Option<Value> {
        let text = |s: &str| Value::String(s.to_string());
        let metafield = |list: &[CurrentMetafield], m: &MetafieldValue| {
            list.iter()
                .find(|c| c.namespace == m.namespace && c.key == m.key)
                .map(|c| text(&c.value))
                .unwrap_or(Value::Null)
        };
        let variant = |vi: usize| -> Option<&CurrentVariant> {
            matches
                .get(vi)
                .copied()
                .flatten()
                .and_then(|i| current.variants.get(i))
        };
        match *self {
            Slot::Field(name) => current.fields.get(name).map(|c| compared(name, c, rules)),
            Slot::MetafieldField(_, field) => current.fields.get(field).cloned(),
            Slot::Metafield(i) => doc
                .metafields
                .get(i)
                .map(|m| metafield(&current.metafields, m)),
            Slot::Images => Some(strings(&current.images)),
            Slot::Image => Some(opt(&current.images.first().cloned())),
            Slot::Variant(vi) => Some(match (variant(vi), doc.variants.get(vi)) {
                (Some(_), Some(v)) => text(&v.key),
                _ => Value::Null,
            }),
            Slot::VariantField(vi, name) => variant(vi)?.fields.get(name).cloned(),
            Slot::Implied(vi, field, _) => Some(
                variant(vi)?
                    .fields
                    .get(field)
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            Slot::VariantOption(vi, oi) => {
                let name = &doc.variants.get(vi)?.options.get(oi)?.0;
                Some(
                    variant(vi)?
                        .options
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, x)| text(x))
                        .unwrap_or(Value::Null),
                )
            }
            Slot::VariantMetafield(vi, mi) => {
                let m = doc.variants.get(vi)?.metafields.get(mi)?;
                Some(metafield(&variant(vi)?.metafields, m))
            }
        }
    }
}

/// A plain field's value as compared: a set sorted, an enum upper-cased.
fn compared(name: &str, v: &Value, rules: &CompareRules) -> Value {
    if rules.set_fields.contains(&name) {
        return normalise_set(v);
    }
    match v {
        Value::String(s) if rules.upper_case.contains(&name) => {
            Value::String(s.to_ascii_uppercase())
        }
        other => other.clone(),
    }
}

/// The hash of every watched field of `doc` as the write sends it: what
/// the state store keeps after a successful create or update.
pub fn written_hashes(doc: &Document, rules: &CompareRules) -> FieldHashes {
    let mut out = FieldHashes::new();
    let mut collided = std::collections::BTreeSet::new();
    for (path, slot) in slots(doc, rules) {
        let key = field_key(&path);
        let hash = field_hash(&slot.desired(doc, rules));
        if out.insert(key.clone(), hash).is_some() {
            collided.insert(key);
        }
    }
    for key in collided {
        out.remove(&key);
    }
    out
}

/// The hash of every watched field of `doc` as `current` holds it now;
/// fields the target's read does not hold are left out.
pub fn current_hashes(doc: &Document, current: &Current, rules: &CompareRules) -> FieldHashes {
    let matches = match_variants(doc, &current.variants);
    slots(doc, rules)
        .into_iter()
        .filter_map(|(path, slot)| {
            let v = slot.current(doc, current, &matches, rules)?;
            Some((field_key(&path), field_hash(&v)))
        })
        .collect()
}

/// The fields of `doc` someone changed in the target since mapsync wrote
/// them: those whose current value hashes otherwise than `stored` (what
/// mapsync last wrote) and than the document's value (a field edited to
/// what the source now says is no conflict). Fields `stored` does not
/// know, or the target's read does not hold, are never drift.
pub fn drift(
    doc: &Document,
    current: &Current,
    rules: &CompareRules,
    stored: &FieldHashes,
) -> Vec<Drifted> {
    let matches = match_variants(doc, &current.variants);
    let mut out = Vec::new();
    for (path, slot) in slots(doc, rules) {
        let Some(last) = stored.get(&field_key(&path)) else {
            continue;
        };
        let Some(now) = slot.current(doc, current, &matches, rules) else {
            continue;
        };
        let now_hash = field_hash(&now);
        if &now_hash == last {
            continue;
        }
        let new = slot.desired(doc, rules);
        if field_hash(&new) == now_hash {
            continue;
        }
        out.push(Drifted {
            field: path,
            store: now,
            new,
        });
    }
    out
}

/// One field of an item that flows other than `to_target`, classified
/// three ways (spec/two-way.md) and given its action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoWayField {
    /// The diff path of the field (`tags`, `metafields[custom.material]`).
    pub field: String,
    /// Its direction.
    pub direction: crate::two_way::Direction,
    /// What changed since the last sync.
    pub state: crate::two_way::FieldState,
    /// What the run does with it.
    pub action: crate::two_way::Action,
    /// The source's value (the document's).
    pub source: Value,
    /// The target's current value.
    pub target: Value,
}

/// Classify the two-way fields of `doc` (those `policies` names, by diff
/// path) from the hash of the value last synced (`synced`: the ledger's
/// field hashes — after a sync both sides agree, so the hash written is
/// the hash synced), the document's value and the target's, and decide
/// each one's action. `current`: the target's state as read; `None` when
/// the target did not change the item since its last sync (its
/// updated-at says so), so each field holds the value last synced — a
/// field with no synced hash is then left out (the caller reads such
/// items). A field the target's read does not hold is left out: nothing
/// can be said of it.
pub fn two_way(
    doc: &Document,
    current: Option<&Current>,
    rules: &CompareRules,
    synced: &FieldHashes,
    policies: &BTreeMap<String, crate::two_way::Policy>,
) -> Vec<TwoWayField> {
    if policies.is_empty() {
        return Vec::new();
    }
    let matches = current.map(|c| match_variants(doc, &c.variants));
    // The target's value and hash of a field: as read, or as last synced.
    let target_of = |path: &str, now: Option<Value>| -> Option<(Value, String)> {
        match current {
            Some(_) => {
                let v = now?;
                let h = field_hash(&v);
                Some((v, h))
            }
            None => Some((Value::Null, synced.get(&field_key(path))?.clone())),
        }
    };
    let mut out = Vec::new();
    for (path, slot) in slots(doc, rules) {
        let Some(policy) = policies.get(&path) else {
            continue;
        };
        let now = match (current, &matches) {
            (Some(c), Some(m)) => slot.current(doc, c, m, rules),
            _ => None,
        };
        let Some((target, target_hash)) = target_of(&path, now) else {
            continue;
        };
        let source = slot.desired(doc, rules);
        let state = crate::two_way::classify(
            synced.get(&field_key(&path)).map(String::as_str),
            &field_hash(&source),
            &target_hash,
        );
        out.push(TwoWayField {
            action: crate::two_way::decide(state, *policy),
            direction: policy.direction,
            field: path,
            state,
            source,
            target,
        });
    }
    // A field the source leaves empty is not in the document (the write
    // leaves it alone), yet its value in the target may have to come back
    // (a store-only field flowing `to_source`): an entity field or
    // metafield the target holds is classified with an empty source value.
    for (path, policy) in policies {
        if out.iter().any(|f| &f.field == path) {
            continue;
        }
        let now = current.and_then(|c| entity_value(c, path));
        let Some((target, target_hash)) = target_of(path, now) else {
            continue;
        };
        let source = Value::Null;
        let state = crate::two_way::classify(
            synced.get(&field_key(path)).map(String::as_str),
            &field_hash(&source),
            &target_hash,
        );
        out.push(TwoWayField {
            action: crate::two_way::decide(state, *policy),
            direction: policy.direction,
            field: path.clone(),
            state,
            source,
            target,
        });
    }
    out
}

/// An entity field's or metafield's value in `current`, by diff path
/// (`title`, `metafields[custom.material]`); `None` when the read does
/// not hold it (or for a variant's path).
fn entity_value(current: &Current, path: &str) -> Option<Value> {
    match metafield_name(path) {
        Some(name) => current
            .metafields
            .iter()
            .find(|m| same_metafield(m.namespace.as_str(), m.key.as_str(), name))
            .map(|m| Value::String(m.value.clone())),
        None if !path.contains('[') => current.fields.get(path).cloned(),
        None => None,
    }
}

/// `custom.material` of `metafields[custom.material]`.
fn metafield_name(path: &str) -> Option<&str> {
    path.strip_prefix("metafields[")?.strip_suffix(']')
}

fn same_metafield(namespace: &str, key: &str, name: &str) -> bool {
    name.split_once('.') == Some((namespace, key))
}

/// A two-way field whose value the write takes from the target (a pull,
/// or a field flowing `to_source`), with what adding it to a document
/// that lacks it needs (the source left it empty): a metafield's type,
/// and the metafields declared before it in the mapping (`ns.key`), so it
/// lands where compiling the record would put it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// The field's diff path.
    pub path: String,
    /// A metafield's type (`single_line_text_field`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metafield_type: Option<String>,
    /// The entity's metafields declared before this one, as `ns.key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declared_before: Vec<String>,
}

/// `doc` with the fields of `taken` as `current` holds them: what the
/// source holds once their values are pulled into it, and what the write
/// leaves alone. Unlike [`keep_current`], a field the document lacks (the
/// source left it empty) is added when the target has a value for it.
pub fn take_target(
    doc: &Document,
    current: &Current,
    rules: &CompareRules,
    taken: &[Taken],
) -> Document {
    let paths: Vec<String> = taken.iter().map(|t| t.path.clone()).collect();
    let mut out = keep_current(doc, current, rules, &paths);
    for t in taken {
        match metafield_name(&t.path) {
            Some(name) => {
                if out
                    .metafields
                    .iter()
                    .any(|m| same_metafield(&m.namespace, &m.key, name))
                {
                    continue;
                }
                let (Some(ty), Some(Value::String(value))) =
                    (&t.metafield_type, entity_value(current, &t.path))
                else {
                    continue;
                };
                let Some((namespace, key)) = name.split_once('.') else {
                    continue;
                };
                if value.trim().is_empty() {
                    continue;
                }
                let at = out
                    .metafields
                    .iter()
                    .filter(|m| {
                        t.declared_before
                            .contains(&format!("{}.{}", m.namespace, m.key))
                    })
                    .count();
                out.metafields.insert(
                    at.min(out.metafields.len()),
                    crate::document::MetafieldValue {
                        namespace: namespace.to_string(),
                        key: key.to_string(),
                        ty: ty.clone(),
                        value,
                    },
                );
            }
            None if !t.path.contains('[') => {
                if out.fields.contains_key(&t.path) {
                    continue;
                }
                if let Some(v) = current.fields.get(&t.path).filter(|v| !is_empty(v)) {
                    out.fields.insert(t.path.clone(), v.clone());
                }
            }
            None => {}
        }
    }
    out
}

/// The values of an entity's fields in `doc` by diff path, as a pull
/// writes them to the source (a metafield as its text, a field the
/// document lacks as null).
pub fn document_values(doc: &Document, paths: &[String]) -> BTreeMap<String, Value> {
    paths
        .iter()
        .map(|path| {
            let v = match metafield_name(path) {
                Some(name) => doc
                    .metafields
                    .iter()
                    .find(|m| same_metafield(&m.namespace, &m.key, name))
                    .map(|m| Value::String(m.value.clone())),
                None => doc.fields.get(path).cloned(),
            };
            (path.clone(), v.unwrap_or(Value::Null))
        })
        .collect()
}

/// `doc` with the fields at `paths` set to what `current` holds (the
/// `keep` answer to drift): the write then finds no difference there and
/// leaves them as the target has them. A product's images kept are left
/// out of the document (the write leaves images alone then); a variant
/// the target no longer has is left out.
pub fn keep_current(
    doc: &Document,
    current: &Current,
    rules: &CompareRules,
    paths: &[String],
) -> Document {
    let mut out = doc.clone();
    if paths.is_empty() {
        return out;
    }
    let matches = match_variants(doc, &current.variants);
    let mut drop_variants = Vec::new();
    let mut drop_metafields = Vec::new();
    let mut drop_variant_metafields = Vec::new();
    for (path, slot) in slots(doc, rules) {
        if !paths.contains(&path) {
            continue;
        }
        let now = slot.current(doc, current, &matches, rules);
        let as_text = |v: &Option<Value>| v.as_ref().and_then(text_of);
        match slot {
            Slot::Field(name) => {
                if let Some(v) = current.fields.get(name) {
                    out.fields.insert(name.to_string(), v.clone());
                }
            }
            Slot::MetafieldField(i, _) | Slot::Metafield(i) => match as_text(&now) {
                Some(t) => {
                    if let Some(m) = out.metafields.get_mut(i) {
                        m.value = t;
                    }
                }
                None => drop_metafields.push(i),
            },
            Slot::Images | Slot::Image => out.images.clear(),
            Slot::Variant(vi) => drop_variants.push(vi),
            Slot::VariantField(vi, name) => {
                let cur = matches
                    .get(vi)
                    .copied()
                    .flatten()
                    .and_then(|i| current.variants.get(i))
                    .and_then(|t| t.fields.get(name));
                if let (Some(v), Some(c)) = (out.variants.get_mut(vi), cur) {
                    v.fields.insert(name.to_string(), c.clone());
                }
            }
            Slot::Implied(vi, field, _) => {
                if let (Some(v), Some(c)) = (out.variants.get_mut(vi), now) {
                    v.fields.insert(field.to_string(), c);
                }
            }
            Slot::VariantOption(vi, oi) => {
                if let (Some(v), Some(t)) = (out.variants.get_mut(vi), as_text(&now)) {
                    if let Some(o) = v.options.get_mut(oi) {
                        o.1 = t;
                    }
                }
            }
            Slot::VariantMetafield(vi, mi) => match as_text(&now) {
                Some(t) => {
                    if let Some(m) = out
                        .variants
                        .get_mut(vi)
                        .and_then(|v| v.metafields.get_mut(mi))
                    {
                        m.value = t;
                    }
                }
                None => drop_variant_metafields.push((vi, mi)),
            },
        }
    }
    for (vi, mi) in drop_variant_metafields.into_iter().rev() {
        if let Some(v) = out.variants.get_mut(vi) {
            if mi < v.metafields.len() {
                v.metafields.remove(mi);
            }
        }
    }
    drop_metafields.sort_unstable();
    for i in drop_metafields.into_iter().rev() {
        if i < out.metafields.len() {
            out.metafields.remove(i);
        }
    }
    drop_variants.sort_unstable();
    for vi in drop_variants.into_iter().rev() {
        if vi < out.variants.len() {
            out.variants.remove(vi);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: CompareRules = CompareRules {
        set_fields: &["tags"],
        not_cleared: &["handle"],
        upper_case: &["status"],
        metafield_fields: &[("global", "title_tag", "seo.title")],
        implied: &[("weight", "weight_unit", "KILOGRAMS")],
    };

    /// A document from its JSON; `fields`, `metafields`, `images` and
    /// `variants` as in the spool.
    fn doc(v: serde_json::Value) -> Document {
        let mut base = json!({
            "entity": "product", "key": "A1", "fields": {}, "metafields": [],
            "metafield_descriptions": [], "images": [], "options": [], "variants": [],
            "categories": []
        });
        if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
            for (k, x) in o {
                b.insert(k.clone(), x.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    /// A current item: `fields`, `metafields` (`[ns, key, value]`),
    /// `images`, `variants` (`{sku, title, options: [[n, v]], fields}`).
    fn current(v: serde_json::Value) -> Current {
        let fields = serde_json::from_value(v["fields"].clone()).unwrap_or_default();
        let mf = |list: &serde_json::Value| -> Vec<CurrentMetafield> {
            list.as_array()
                .into_iter()
                .flatten()
                .map(|m| CurrentMetafield {
                    namespace: m[0].as_str().unwrap().into(),
                    key: m[1].as_str().unwrap().into(),
                    value: m[2].as_str().unwrap().into(),
                })
                .collect()
        };
        let variants = v["variants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| CurrentVariant {
                id: "v".into(),
                title: x["title"].as_str().unwrap_or_default().into(),
                sku: x["sku"].as_str().map(Into::into),
                options: serde_json::from_value(x["options"].clone()).unwrap_or_default(),
                fields: serde_json::from_value(x["fields"].clone()).unwrap_or_default(),
                quantities: serde_json::from_value(x["quantities"].clone()).unwrap_or_default(),
                metafields: mf(&x["metafields"]),
            })
            .collect();
        Current {
            entity: crate::Entity::Product,
            id: "p".into(),
            marker: None,
            fields,
            metafields: mf(&v["metafields"]),
            images: serde_json::from_value(v["images"].clone()).unwrap_or_default(),
            variants,
            categories: vec![],
            native: crate::current::Native::new(()),
        }
    }

    /// The round trip as data: what a document writes, the store as it
    /// reads it back untouched (its own spellings: sorted tags, decimals
    /// with zeros, enums upper-cased, booleans as text, the SEO metafield
    /// as a field...), and the store after a hand edit. Each case: the
    /// untouched store hashes as written, and the edited store drifts on
    /// exactly the paths given.
    #[test]
    fn written_values_read_back_hash_the_same_and_edits_drift() {
        let cases = [
            (
                "title, body, an emptied field, a field the read does not hold",
                json!({"fields": {"title": "Tee", "body_html": "<p>Soft</p>", "vendor": "", "seo.description": "x"}}),
                json!({"fields": {"title": "Tee", "body_html": "<p>Soft</p>", "vendor": null}}),
                json!({"fields": {"title": "Tee (sale)", "body_html": "<p>Soft</p>", "vendor": "Acme"}}),
                vec!["title", "vendor"],
            ),
            (
                "tags as a set",
                json!({"fields": {"tags": ["b", "a ", "a"]}}),
                json!({"fields": {"tags": ["a", "b"]}}),
                json!({"fields": {"tags": ["a", "b", "sale"]}}),
                vec!["tags"],
            ),
            (
                "an enum the write upper-cases, a boolean, a field not cleared",
                json!({"fields": {"status": "active", "gift_card": true, "handle": ""}}),
                json!({"fields": {"status": "ACTIVE", "gift_card": "TRUE", "handle": "tee"}}),
                json!({"fields": {"status": "DRAFT", "gift_card": "false", "handle": "tee-2"}}),
                vec!["gift_card", "status"],
            ),
            (
                "metafields, one of them a field of the store",
                json!({"metafields": [
                    {"namespace": "custom", "key": "material", "type": "single_line_text_field", "value": "Cotton"},
                    {"namespace": "global", "key": "title_tag", "type": "single_line_text_field", "value": "Tee | Acme"}]}),
                json!({"fields": {"seo.title": "Tee | Acme"}, "metafields": [["custom", "material", "Cotton"], ["mapsync", "key", "A1"]]}),
                json!({"fields": {"seo.title": "Tee!"}, "metafields": [["mapsync", "key", "A1"]]}),
                vec![
                    "metafields[custom.material]",
                    "metafields[global.title_tag]",
                ],
            ),
            (
                "images in order",
                json!({"images": [{"kind": "url", "src": "https://x/1.jpg"}, {"kind": "url", "src": "https://x/2.jpg"}]}),
                json!({"images": ["https://x/1.jpg", "https://x/2.jpg"]}),
                json!({"images": ["https://x/2.jpg", "https://x/1.jpg"]}),
                vec!["images"],
            ),
            (
                "variants: price as a number, an empty compare-at price, options, the implied unit, stock not watched",
                json!({"options": ["Size"], "variants": [{"key": "A1-S", "fields": {"sku": "A1-S", "price": "50.00", "compare_at_price": "", "weight": "1.5"},
                       "options": [["Size", "S"]], "quantities": {"MAIN": 3}, "metafields": []}]}),
                json!({"variants": [{"sku": "A1-S", "title": "S", "options": [["Size", "S"]],
                       "fields": {"sku": "A1-S", "price": "50", "compare_at_price": null, "weight": 1.5, "weight_unit": "KILOGRAMS"}, "quantities": {"gid://l/1": 1}}]}),
                json!({"variants": [{"sku": "A1-S", "title": "M", "options": [["Size", "M"]],
                       "fields": {"sku": "A1-S", "price": "45.00", "compare_at_price": "60", "weight": 1.5, "weight_unit": "GRAMS"}, "quantities": {"gid://l/1": 0}}]}),
                vec![
                    "variants[A1-S].compare_at_price",
                    "variants[A1-S].price",
                    "variants[A1-S].weight_unit",
                    "variants[A1-S].options.Size",
                ],
            ),
            (
                "a variant deleted in the store",
                json!({"variants": [{"key": "A1-S", "fields": {"sku": "A1-S"}, "options": [], "quantities": {}, "metafields": []}]}),
                json!({"variants": [{"sku": "A1-S", "title": "Default", "fields": {"sku": "A1-S"}}]}),
                json!({"variants": []}),
                vec!["variants[A1-S]"],
            ),
        ];
        for (name, d, untouched, edited, drifted) in cases {
            let d = doc(d);
            let written = written_hashes(&d, &RULES);
            let read = current_hashes(&d, &current(untouched.clone()), &RULES);
            for (path, hash) in &read {
                assert_eq!(
                    written.get(path),
                    Some(hash),
                    "{name}: {path} read back otherwise"
                );
            }
            assert!(
                drift(&d, &current(untouched), &RULES, &written).is_empty(),
                "{name}: drift without an edit"
            );
            let found: Vec<String> = drift(&d, &current(edited), &RULES, &written)
                .into_iter()
                .map(|x| x.field)
                .collect();
            assert_eq!(found, drifted, "{name}");
        }
        // Fields the store cannot read back are not watched at all.
        let d = doc(json!({"fields": {"seo.description": "x", "handle": ""}}));
        assert!(current_hashes(&d, &current(json!({})), &RULES).is_empty());
        assert!(!written_hashes(&d, &RULES).contains_key(&field_key("handle")));
        let written = written_hashes(
            &doc(json!({"fields": {"title": "Tee", "vendor": "Acme"}})),
            &RULES,
        );
        let text = encode_field_hashes(&written);
        assert_eq!(text.len(), 2 * 17 + 1, "{text}");
        assert_eq!(decode_field_hashes(&text), Some(written));
        assert_eq!(decode_field_hashes("x"), None);
    }

    /// An edit to the value the source now gives is no conflict; an edit
    /// the source does not know is, with both values.
    #[test]
    fn drift_names_the_store_value_and_the_new_one() {
        let d = doc(json!({"fields": {"title": "Tee v2"}}));
        let last = written_hashes(&doc(json!({"fields": {"title": "Tee"}})), &RULES);
        let now = current(json!({"fields": {"title": "Tee v2"}}));
        assert!(drift(&d, &now, &RULES, &last).is_empty());
        let now = current(json!({"fields": {"title": "Tee (sale)"}}));
        assert_eq!(
            drift(&d, &now, &RULES, &last),
            vec![Drifted {
                field: "title".into(),
                store: json!("Tee (sale)"),
                new: json!("Tee v2"),
            }]
        );
    }

    /// Two-way fields as data: (source value, target value, value last
    /// synced, policy) → state and action; tags compare as a set.
    #[test]
    fn two_way_fields_are_classified_against_the_last_synced_value() {
        use crate::two_way::{Action as A, Conflict, Direction, FieldState as S, Policy};
        let both = |conflict| Policy {
            direction: Direction::Both,
            conflict,
            ..Policy::default()
        };
        let to_source = Policy {
            direction: Direction::ToSource,
            ..Policy::default()
        };
        type Case = (
            &'static str,
            serde_json::Value,
            serde_json::Value,
            serde_json::Value,
            Policy,
            S,
            A,
        );
        let cases: Vec<Case> = vec![
            (
                "title",
                json!("Tee"),
                json!("Tee"),
                json!("Tee"),
                both(Conflict::SourceWins),
                S::Unchanged,
                A::None,
            ),
            (
                "title",
                json!("Tee 2"),
                json!("Tee"),
                json!("Tee"),
                both(Conflict::SourceWins),
                S::ChangedInSource,
                A::Push,
            ),
            (
                "title",
                json!("Tee"),
                json!("Tee (sale)"),
                json!("Tee"),
                both(Conflict::SourceWins),
                S::ChangedInTarget,
                A::Pull,
            ),
            (
                "title",
                json!("Tee 2"),
                json!("Tee 2"),
                json!("Tee"),
                both(Conflict::Manual),
                S::ChangedInBothSame,
                A::None,
            ),
            (
                "title",
                json!("Tee 2"),
                json!("Tee 3"),
                json!("Tee"),
                both(Conflict::SourceWins),
                S::Conflict,
                A::Push,
            ),
            (
                "title",
                json!("Tee 2"),
                json!("Tee 3"),
                json!("Tee"),
                both(Conflict::TargetWins),
                S::Conflict,
                A::Pull,
            ),
            (
                "title",
                json!("Tee 2"),
                json!("Tee 3"),
                json!("Tee"),
                both(Conflict::Manual),
                S::Conflict,
                A::Hold,
            ),
            (
                "tags",
                json!(["a", "b"]),
                json!(["b", "a"]),
                json!(["a", "b"]),
                both(Conflict::Manual),
                S::Unchanged,
                A::None,
            ),
            (
                "tags",
                json!(["a"]),
                json!(["a", "c"]),
                json!(["a"]),
                both(Conflict::Manual),
                S::ChangedInTarget,
                A::Pull,
            ),
            (
                "vendor",
                json!("Acme"),
                json!("Other"),
                json!("Acme"),
                to_source,
                S::ChangedInTarget,
                A::Pull,
            ),
            (
                "vendor",
                json!("Acme 2"),
                json!("Other"),
                json!("Other"),
                to_source,
                S::ChangedInSource,
                A::Pull,
            ),
        ];
        for (field, source, target, synced, policy, state, action) in cases {
            let d = doc(json!({"fields": {field: source.clone()}}));
            let last = written_hashes(&doc(json!({"fields": {field: synced}})), &RULES);
            let now = current(json!({"fields": {field: target.clone()}}));
            let policies = BTreeMap::from([(field.to_string(), policy)]);
            let got = two_way(&d, Some(&now), &RULES, &last, &policies);
            assert_eq!(got.len(), 1, "{field} {source} {target}");
            assert_eq!(
                (got[0].state, got[0].action),
                (state, action),
                "{field} {source} {target}"
            );
            // The values as each side holds them (a set as the diff
            // compares it: sorted).
            if field != "tags" {
                assert_eq!((&got[0].source, &got[0].target), (&source, &target));
            }
        }
        // Fields no policy names are not classified.
        let d = doc(json!({"fields": {"title": "A", "vendor": "B"}}));
        let now = current(json!({"fields": {"title": "X", "vendor": "Y"}}));
        let policies = BTreeMap::from([("vendor".to_string(), both(Conflict::SourceWins))]);
        let got = two_way(&d, Some(&now), &RULES, &FieldHashes::new(), &policies);
        assert_eq!(
            got.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            ["vendor"]
        );
        // Never synced and the sides differ: nobody can tell which moved.
        assert_eq!(got[0].state, S::Conflict);
        // A store-only field flowing to the source, empty there: pulled,
        // also as a metafield.
        let d = doc(json!({"fields": {"title": "A"}}));
        let now = current(json!({
            "fields": {"title": "A", "vendor": "Store Co"},
            "metafields": [["custom", "url", "https://shop/a"]]
        }));
        let policies = BTreeMap::from([
            ("vendor".to_string(), to_source),
            ("metafields[custom.url]".to_string(), to_source),
        ]);
        let got: Vec<(String, S, A, serde_json::Value)> =
            two_way(&d, Some(&now), &RULES, &FieldHashes::new(), &policies)
                .into_iter()
                .map(|f| (f.field, f.state, f.action, f.target))
                .collect();
        assert_eq!(
            got,
            [
                (
                    "metafields[custom.url]".to_string(),
                    S::Conflict,
                    A::Pull,
                    json!("https://shop/a")
                ),
                (
                    "vendor".to_string(),
                    S::Conflict,
                    A::Pull,
                    json!("Store Co")
                ),
            ]
        );
    }

    /// `keep`: the kept fields take the store's values, so the diff finds
    /// nothing to write there; the others still differ.
    #[test]
    fn keep_current_leaves_only_the_other_differences() {
        let d = doc(json!({
            "fields": {"title": "Tee", "tags": ["a"]},
            "metafields": [{"namespace": "custom", "key": "m", "type": "t", "value": "x"}],
            "images": [{"kind": "url", "src": "https://x/1.jpg"}],
            "variants": [{"key": "A1-S", "fields": {"sku": "A1-S", "price": "10"}, "options": [], "quantities": {}, "metafields": []}]
        }));
        let now = current(json!({
            "fields": {"title": "Tee (sale)", "tags": ["b"]},
            "metafields": [],
            "images": ["https://x/2.jpg"],
            "variants": [{"sku": "A1-S", "title": "Default", "fields": {"sku": "A1-S", "price": "12"}}]
        }));
        let all: Vec<String> = diff_item(&d, &now, &Default::default(), &RULES)
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            all,
            [
                "tags",
                "title",
                "metafields[custom.m]",
                "images",
                "variants[A1-S].price"
            ]
        );
        let kept = [
            "title".to_string(),
            "metafields[custom.m]".into(),
            "images".into(),
            "variants[A1-S].price".into(),
        ];
        let left: Vec<String> = diff_item(
            &keep_current(&d, &now, &RULES, &kept),
            &now,
            &Default::default(),
            &RULES,
        )
        .into_iter()
        .map(|e| e.path)
        .collect();
        assert_eq!(left, ["tags"]);
    }

    /// The target did not edit the item since its sync: each field holds
    /// the value last synced, so only the source can have moved; a field
    /// never synced cannot be classified unread (the caller reads it).
    #[test]
    fn two_way_fields_of_an_item_not_read_hold_the_synced_values() {
        use crate::two_way::{Action as A, Conflict, Direction, FieldState as S, Policy};
        let both = Policy {
            direction: Direction::Both,
            conflict: Conflict::Manual,
            ..Policy::default()
        };
        let to_source = Policy {
            direction: Direction::ToSource,
            ..Policy::default()
        };
        let synced = written_hashes(
            &doc(json!({"fields": {"tags": ["a"], "vendor": "Acme", "product_type": "Shirts"}})),
            &RULES,
        );
        let d = doc(
            json!({"fields": {"tags": ["a", "b"], "vendor": "Acme", "product_type": "Casual", "title": "T"}}),
        );
        let policies = BTreeMap::from([
            ("tags".to_string(), both),
            ("vendor".to_string(), both),
            ("product_type".to_string(), to_source),
            ("title".to_string(), both),
        ]);
        let got: Vec<(String, S, A)> = two_way(&d, None, &RULES, &synced, &policies)
            .into_iter()
            .map(|f| (f.field, f.state, f.action))
            .collect();
        assert_eq!(
            got,
            [
                // A push of the source's edit, never a hold: the target
                // holds the synced value.
                ("product_type".to_string(), S::ChangedInSource, A::Pull),
                ("tags".to_string(), S::ChangedInSource, A::Push),
                ("vendor".to_string(), S::Unchanged, A::None),
            ]
        );
    }

    /// What a pull writes: the target's values in the document, a field the
    /// document lacked added (a metafield where compiling the record would
    /// put it, by the metafields declared before it), and the values as the
    /// source gets them.
    #[test]
    fn take_target_puts_the_targets_values_where_the_record_will_have_them() {
        let mf = |key: &str, value: &str| json!({"namespace": "custom", "key": key, "type": "single_line_text_field", "value": value});
        let d = doc(json!({
            "fields": {"title": "Tee", "tags": ["a"]},
            "metafields": [mf("first", "1"), mf("third", "3")]
        }));
        let now = current(json!({
            "fields": {"title": "Tee", "tags": ["a", "sale"], "handle": "tee", "vendor": ""},
            "metafields": [["custom", "first", "1"], ["custom", "second", "two"], ["custom", "third", "3"]]
        }));
        let taken = [
            Taken {
                path: "tags".into(),
                ..Taken::default()
            },
            Taken {
                path: "handle".into(),
                ..Taken::default()
            },
            // Empty in the target: stays out of the document.
            Taken {
                path: "vendor".into(),
                ..Taken::default()
            },
            Taken {
                path: "metafields[custom.second]".into(),
                metafield_type: Some("single_line_text_field".into()),
                declared_before: vec!["custom.first".into()],
            },
        ];
        let out = take_target(&d, &now, &RULES, &taken);
        assert_eq!(out.fields["tags"], json!(["a", "sale"]));
        assert_eq!(out.fields["handle"], json!("tee"));
        assert!(!out.fields.contains_key("vendor"));
        let order: Vec<&str> = out.metafields.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(order, ["first", "second", "third"]);
        // Nothing left to write in the target for them.
        let left: Vec<String> = diff_item(&out, &now, &Default::default(), &RULES)
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let paths: Vec<String> = ["tags", "handle", "vendor", "metafields[custom.second]"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            document_values(&out, &paths),
            BTreeMap::from([
                ("handle".to_string(), json!("tee")),
                ("metafields[custom.second]".to_string(), json!("two")),
                ("tags".to_string(), json!(["a", "sale"])),
                ("vendor".to_string(), serde_json::Value::Null),
            ])
        );
    }
}
