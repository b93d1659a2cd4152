//! BigCommerce's model to the neutral current state (and the target's own
//! view of an item, kept beside it for the write side), and desired values
//! to the API's.

use std::collections::BTreeMap;

use mapsync_core::current::{
    Current, CurrentMetafield, CurrentVariant, Native, MARKER_KEY, MARKER_NAMESPACE,
};
use mapsync_core::Entity;
use serde_json::{json, Map, Value};

use super::{id_of, text_of, IMAGES_KEY};
use crate::fields::{enum_word, CUSTOM_FIELD_PREFIX, ENUM_FIELDS};

/// Product fields the table and the API name alike.
pub(crate) const PRODUCT_PLAIN: &[&str] = &[
    "name",
    "type",
    "sku",
    "price",
    "sale_price",
    "retail_price",
    "cost_price",
    "weight",
    "width",
    "height",
    "depth",
    "description",
    "is_visible",
    "availability",
    "condition",
    "upc",
    "mpn",
    "gtin",
    "search_keywords",
    "page_title",
    "meta_description",
    "inventory_tracking",
];

/// Variant fields (table and API alike).
pub(crate) const VARIANT_PLAIN: &[&str] = &[
    "sku",
    "price",
    "sale_price",
    "cost_price",
    "weight",
    "upc",
    "mpn",
    "gtin",
    "purchasing_disabled",
];

/// Variant fields a product without options keeps on the product.
pub(crate) const BASE_ON_PRODUCT: &[&str] = &[
    "sku",
    "price",
    "sale_price",
    "cost_price",
    "weight",
    "upc",
    "mpn",
    "gtin",
];

/// Category fields (table and API alike).
pub(crate) const CATEGORY_PLAIN: &[&str] = &[
    "name",
    "description",
    "is_visible",
    "sort_order",
    "page_title",
    "meta_description",
    "image_url",
];

const DECIMALS: &[&str] = &[
    "price",
    "sale_price",
    "retail_price",
    "cost_price",
    "weight",
    "width",
    "height",
    "depth",
];

/// One metafield as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeMetafield {
    pub id: u64,
    pub namespace: String,
    pub key: String,
    pub value: String,
}

impl NativeMetafield {
    pub fn from_json(v: &Value) -> Option<(u64, NativeMetafield)> {
        Some((
            v.get("resource_id").and_then(id_of)?,
            NativeMetafield {
                id: v.get("id").and_then(id_of)?,
                namespace: v.get("namespace")?.as_str()?.to_string(),
                key: v.get("key")?.as_str()?.to_string(),
                value: v.get("value").map(text_of).unwrap_or_default(),
            },
        ))
    }

    fn neutral(&self) -> CurrentMetafield {
        CurrentMetafield {
            namespace: self.namespace.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
        }
    }
}

/// One option value of a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionValueRef {
    pub option_id: u64,
    pub option: String,
    pub value_id: u64,
    pub label: String,
}

/// One variant as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeVariant {
    pub id: u64,
    pub sku: String,
    pub option_values: Vec<OptionValueRef>,
    pub metafields: Vec<NativeMetafield>,
}

/// One product image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeImage {
    pub id: u64,
    /// What it compares as: its source URL, or `embedded:<key>`.
    pub source: String,
    pub sort_order: i64,
    pub thumbnail: bool,
}

/// A product as the write side needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeProduct {
    pub id: u64,
    /// No options: the base variant's fields are the product's.
    pub simple: bool,
    pub base_variant: Option<u64>,
    pub variants: Vec<NativeVariant>,
    pub images: Vec<NativeImage>,
    /// `(id, name, value)`.
    pub custom_fields: Vec<(u64, String, String)>,
    pub metafields: Vec<NativeMetafield>,
    pub visible: bool,
    pub categories: Vec<u64>,
    pub brand_id: u64,
}

/// A category as the write side needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeCategory {
    pub id: u64,
    pub parent_id: u64,
    pub visible: bool,
    pub metafields: Vec<NativeMetafield>,
}

/// An enum read back upper-cased (see `COMPARE_RULES`).
fn read_field(name: &str, v: &Value) -> Value {
    match v {
        Value::String(s) if ENUM_FIELDS.contains(&name) => Value::String(s.to_ascii_uppercase()),
        other => other.clone(),
    }
}

fn marker_of(mfs: &[NativeMetafield]) -> Option<String> {
    mfs.iter()
        .find(|m| m.namespace == MARKER_NAMESPACE && m.key == MARKER_KEY)
        .map(|m| m.value.clone())
}

/// What mapsync recorded on a product (`mapsync.images`): the source of
/// each image by image id, and of each variant's image by
/// [`variant_image_key`].
pub(crate) fn recorded_sources(mfs: &[NativeMetafield]) -> BTreeMap<String, String> {
    mfs.iter()
        .find(|m| m.namespace == MARKER_NAMESPACE && m.key == IMAGES_KEY)
        .and_then(|m| serde_json::from_str::<BTreeMap<String, String>>(&m.value).ok())
        .unwrap_or_default()
}

/// The key of a variant's image in the recorded sources.
pub(crate) fn variant_image_key(variant: u64) -> String {
    format!("variant:{variant}")
}

/// The image sources mapsync recorded on a product, by image id.
pub(crate) fn image_sources(mfs: &[NativeMetafield]) -> BTreeMap<u64, String> {
    recorded_sources(mfs)
        .into_iter()
        .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
        .collect()
}

/// What an image of the store compares as.
fn image_source(img: &Value, recorded: &BTreeMap<u64, String>) -> String {
    let id = img.get("id").and_then(id_of).unwrap_or(0);
    let file = img.get("image_file").and_then(Value::as_str).unwrap_or("");
    let url = img.get("url_zoom").and_then(Value::as_str).unwrap_or("");
    if let Some(key) =
        mapsync_core::image::key_in_url(file).or_else(|| mapsync_core::image::key_in_url(url))
    {
        return mapsync_core::image::diff_value(key);
    }
    match recorded.get(&id) {
        Some(src) => src.clone(),
        None if !url.is_empty() => url.to_string(),
        None => file.to_string(),
    }
}

/// A product of `GET /catalog/products?include=variants,images,custom_fields`
/// with its metafields, its variants' metafields, the stock of each variant
/// by location, and the store's brands.
pub(crate) fn product_current(
    p: &Value,
    metafields: Vec<NativeMetafield>,
    variant_metafields: &BTreeMap<u64, Vec<NativeMetafield>>,
    stock: &BTreeMap<u64, BTreeMap<String, i64>>,
    brands: &BTreeMap<u64, String>,
) -> Option<Current> {
    let id = p.get("id").and_then(id_of)?;
    let mut fields = BTreeMap::new();
    for name in PRODUCT_PLAIN {
        if let Some(v) = p.get(*name) {
            fields.insert(name.to_string(), read_field(name, v));
        }
    }
    if let Some(url) = p.get("custom_url").and_then(|u| u.get("url")) {
        fields.insert("custom_url".into(), url.clone());
    }
    let brand_id = p.get("brand_id").and_then(id_of).unwrap_or(0);
    fields.insert(
        "brand".into(),
        Value::String(brands.get(&brand_id).cloned().unwrap_or_default()),
    );
    let mut custom_fields = Vec::new();
    for c in p
        .get("custom_fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(cid), Some(name)) = (
            c.get("id").and_then(id_of),
            c.get("name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let value = c.get("value").map(text_of).unwrap_or_default();
        fields.insert(
            format!("{CUSTOM_FIELD_PREFIX}{name}"),
            Value::String(value.clone()),
        );
        custom_fields.push((cid, name.to_string(), value));
    }
    let recorded = image_sources(&metafields);
    let mut images: Vec<NativeImage> = p
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            Some(NativeImage {
                id: i.get("id").and_then(id_of)?,
                source: image_source(i, &recorded),
                sort_order: i.get("sort_order").and_then(Value::as_i64).unwrap_or(0),
                thumbnail: i
                    .get("is_thumbnail")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect();
    images.sort_by_key(|i| (i.sort_order, i.id));
    let raw_variants: Vec<&Value> = p
        .get("variants")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut variants = Vec::new();
    let mut neutral_variants = Vec::new();
    let simple = raw_variants.iter().all(|v| {
        v.get("option_values")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty())
    });
    for v in &raw_variants {
        let Some(vid) = v.get("id").and_then(id_of) else {
            continue;
        };
        let option_values: Vec<OptionValueRef> = v
            .get("option_values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| {
                Some(OptionValueRef {
                    option_id: o.get("option_id").and_then(id_of)?,
                    option: o.get("option_display_name")?.as_str()?.to_string(),
                    value_id: o.get("id").and_then(id_of)?,
                    label: o.get("label")?.as_str()?.to_string(),
                })
            })
            .collect();
        let mfs = variant_metafields.get(&vid).cloned().unwrap_or_default();
        let mut vf = BTreeMap::new();
        for name in VARIANT_PLAIN {
            let source = if simple && BASE_ON_PRODUCT.contains(name) {
                p.get(*name)
            } else {
                v.get(*name)
            };
            if let Some(x) = source {
                vf.insert(name.to_string(), x.clone());
            }
        }
        let sku = if simple {
            p.get("sku").and_then(Value::as_str)
        } else {
            v.get("sku").and_then(Value::as_str)
        }
        .unwrap_or("")
        .to_string();
        let title = option_values
            .iter()
            .map(|o| o.label.as_str())
            .collect::<Vec<_>>()
            .join(" / ");
        neutral_variants.push(CurrentVariant {
            id: vid.to_string(),
            title,
            sku: Some(sku.clone()).filter(|s| !s.is_empty()),
            options: option_values
                .iter()
                .map(|o| (o.option.clone(), o.label.clone()))
                .collect(),
            fields: vf,
            quantities: stock.get(&vid).cloned().unwrap_or_default(),
            metafields: mfs.iter().map(NativeMetafield::neutral).collect(),
        });
        variants.push(NativeVariant {
            id: vid,
            sku,
            option_values,
            metafields: mfs,
        });
    }
    let categories: Vec<u64> = p
        .get("categories")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(id_of)
        .collect();
    let visible = p.get("is_visible").and_then(Value::as_bool).unwrap_or(true);
    let native = NativeProduct {
        id,
        simple,
        base_variant: p
            .get("base_variant_id")
            .and_then(id_of)
            .or_else(|| simple.then(|| variants.first().map(|v| v.id)).flatten()),
        variants,
        images: images.clone(),
        custom_fields,
        metafields: metafields.clone(),
        visible,
        categories: categories.clone(),
        brand_id,
    };
    Some(Current {
        entity: Entity::Product,
        id: id.to_string(),
        marker: marker_of(&metafields),
        fields,
        metafields: metafields.iter().map(NativeMetafield::neutral).collect(),
        images: images.into_iter().map(|i| i.source).collect(),
        variants: neutral_variants,
        categories: categories.iter().map(u64::to_string).collect(),
        native: Native::new(native),
    })
}

/// A category of the tree API with its metafields; `keys` gives the key of
/// each marked category (the parent is compared by key).
pub(crate) fn category_current(
    c: &Value,
    metafields: Vec<NativeMetafield>,
    keys: &BTreeMap<u64, String>,
) -> Option<Current> {
    let id = c.get("category_id").and_then(id_of)?;
    let mut fields = BTreeMap::new();
    for name in CATEGORY_PLAIN {
        if let Some(v) = c.get(*name) {
            fields.insert(name.to_string(), v.clone());
        }
    }
    if let Some(path) = c.get("url").and_then(|u| u.get("path")) {
        fields.insert("custom_url".into(), path.clone());
    }
    let parent_id = c.get("parent_id").and_then(id_of).unwrap_or(0);
    let parent = match parent_id {
        0 => String::new(),
        p => keys.get(&p).cloned().unwrap_or_else(|| p.to_string()),
    };
    fields.insert("parent".into(), Value::String(parent));
    let image = c
        .get("image_url")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let visible = c.get("is_visible").and_then(Value::as_bool).unwrap_or(true);
    Some(Current {
        entity: Entity::Category,
        id: id.to_string(),
        marker: marker_of(&metafields),
        fields,
        metafields: metafields.iter().map(NativeMetafield::neutral).collect(),
        images: image.into_iter().collect(),
        variants: Vec::new(),
        categories: Vec::new(),
        native: Native::new(NativeCategory {
            id,
            parent_id,
            visible,
            metafields,
        }),
    })
}

/// A JSON number from a decimal given as text or number (`12.50` → 12.5,
/// `3` → 3).
pub(crate) fn number(v: &Value) -> Option<Value> {
    let text = match v {
        Value::Number(n) => return Some(Value::Number(n.clone())),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    if let Ok(i) = text.parse::<i64>() {
        return Some(json!(i));
    }
    let f: f64 = text.parse().ok().filter(|f: &f64| f.is_finite())?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Some(json!(f as i64));
    }
    serde_json::Number::from_f64(f).map(Value::Number)
}

fn is_empty(v: &Value) -> bool {
    mapsync_core::value::is_empty(v)
}

/// A desired value of field `name` as the API takes it; `Ok(None)` for an
/// empty value (the caller decides whether that clears the field).
pub(crate) fn wire(name: &str, v: &Value) -> Result<Option<Value>, String> {
    if is_empty(v) {
        return Ok(None);
    }
    let bad = |what: &str| format!("`{name}`: '{}' is not {what}", text_of(v));
    Ok(Some(match name {
        n if DECIMALS.contains(&n) => number(v).ok_or_else(|| bad("a number"))?,
        "sort_order" => match number(v) {
            Some(n) if n.is_i64() || n.is_u64() => n,
            _ => return Err(bad("a whole number")),
        },
        "is_visible" | "purchasing_disabled" => match v {
            Value::Bool(b) => Value::Bool(*b),
            other => Value::Bool(
                mapsync_core::fields::parse_bool(&text_of(other))
                    .ok_or_else(|| bad("a boolean"))?,
            ),
        },
        n if ENUM_FIELDS.contains(&n) => Value::String(enum_word(n, &text_of(v))),
        "custom_url" => json!({"url": text_of(v), "is_customized": true}),
        _ => Value::String(text_of(v)),
    }))
}

/// The value a field is cleared with (an empty desired value of a field
/// the store holds), or `None` when it is left alone.
pub(crate) fn cleared(name: &str) -> Option<Value> {
    match name {
        n if DECIMALS.contains(&n) => Some(json!(0)),
        "sort_order" => Some(json!(0)),
        "is_visible" | "purchasing_disabled" | "custom_url" => None,
        n if ENUM_FIELDS.contains(&n) => None,
        _ => Some(Value::String(String::new())),
    }
}

/// Put `name`'s desired value into `body` (empty values only when
/// `clear`).
pub(crate) fn put_field(
    body: &mut Map<String, Value>,
    name: &str,
    v: &Value,
    clear: bool,
) -> Result<(), String> {
    match wire(name, v)? {
        Some(w) => {
            body.insert(name.to_string(), w);
        }
        None if clear => {
            if let Some(c) = cleared(name) {
                body.insert(name.to_string(), c);
            }
        }
        None => {}
    }
    Ok(())
}
