//! The emulated BigCommerce store's catalog: products with options,
//! option values, variants, images, custom fields and metafields; brands;
//! category trees and categories; locations and inventory per location;
//! BigCommerce's business rules (unique names and SKUs, 600 SKUs a
//! product, 250 values an option, one thumbnail). Every operation takes
//! the request's JSON and answers `(status, body)` or an [`ApiError`] (the
//! v3 error body). Must not speak HTTP: `http` does.
//!
//! This module holds the model, the field tables and checks, the renders
//! of answers and paging; the operations are in `products`, `variants`
//! (with options), `images`, `metafields`, `catalog` (brands, category
//! trees) and `inventory` (with locations).

mod catalog;
mod images;
mod inventory;
mod metafields;
mod products;
mod variants;

pub use self::metafields::{MetafieldResource, Owner, MAX_METAFIELD_BATCH};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Most SKUs (variants) a product may have.
pub const MAX_VARIANTS: usize = 600;
/// Most values an option may have.
pub const MAX_OPTION_VALUES: usize = 250;
/// Most items of `PUT /catalog/products`.
pub const MAX_PRODUCT_BATCH: usize = 10;
/// Most items of `PUT /catalog/variants`.
pub const MAX_VARIANT_BATCH: usize = 50;
/// Most items of `PUT /inventory/adjustments/absolute`.
pub const MAX_INVENTORY_ITEMS: usize = 2000;
/// Most metafields a resource may have.
pub const MAX_METAFIELDS: usize = 250;
/// Most images a product may have.
pub const MAX_IMAGES: usize = 1000;
/// Largest page (`limit`).
pub const MAX_LIMIT: usize = 250;
/// Page size without `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest image file.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

const ERROR_TYPE: &str =
    "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";

/// A refusal: BigCommerce's v3 error body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub title: String,
    /// `field` (or `index.field` in batches) → message.
    pub errors: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: u16, title: impl Into<String>) -> Self {
        ApiError {
            status,
            title: title.into(),
            errors: Map::new(),
        }
    }

    /// With one `field: message` pair.
    pub fn field(
        status: u16,
        title: impl Into<String>,
        field: &str,
        msg: impl Into<String>,
    ) -> Self {
        let mut e = ApiError::new(status, title);
        e.errors.insert(field.into(), Value::String(msg.into()));
        e
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, format!("The requested {what} was not found."))
    }

    pub fn invalid(field: &str, msg: impl Into<String>) -> Self {
        ApiError::field(422, "JSON data is missing or invalid", field, msg)
    }

    pub fn body(&self) -> Value {
        json!({
            "status": self.status,
            "title": self.title,
            "type": ERROR_TYPE,
            "errors": self.errors,
        })
    }
}

type R<T> = Result<T, ApiError>;

/// What renders need besides the store: the base URL of image files and
/// the time of the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub base: String,
    pub now: String,
}

// ------------------------------------------------------------------ model

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metafield {
    pub id: u64,
    pub namespace: String,
    pub key: String,
    pub value: String,
    pub permission_set: String,
    #[serde(default)]
    pub description: String,
    pub date_created: String,
    pub date_modified: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OptionValue {
    pub id: u64,
    pub label: String,
    pub sort_order: i64,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub value_data: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductOption {
    pub id: u64,
    pub display_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub sort_order: i64,
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Variant {
    pub id: u64,
    pub sku_id: u64,
    pub sku: String,
    /// Writable fields other than `sku` and `option_values`.
    pub fields: Map<String, Value>,
    /// `(option id, value id)` pairs; empty for the base variant.
    pub option_values: Vec<(u64, u64)>,
    #[serde(default)]
    pub metafields: Vec<Metafield>,
    /// Stock per location id.
    #[serde(default)]
    pub inventory: BTreeMap<u64, i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Image {
    pub id: u64,
    /// The file's path below `/product_images/`.
    pub image_file: String,
    pub is_thumbnail: bool,
    pub sort_order: i64,
    pub description: String,
    /// Where it was fetched from (empty for an upload).
    #[serde(default)]
    pub source_url: String,
    pub date_modified: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomField {
    pub id: u64,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Product {
    pub id: u64,
    /// Writable scalar fields (`name`, `sku`, `price`, `categories`, ...).
    pub fields: Map<String, Value>,
    pub options: Vec<ProductOption>,
    pub variants: Vec<Variant>,
    pub images: Vec<Image>,
    pub custom_fields: Vec<CustomField>,
    pub metafields: Vec<Metafield>,
    pub date_created: String,
    pub date_modified: String,
}

impl Product {
    fn name(&self) -> &str {
        self.fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    fn sku(&self) -> &str {
        self.fields.get("sku").and_then(Value::as_str).unwrap_or("")
    }
    /// Every SKU the product holds (its own and its variants').
    fn skus(&self) -> BTreeSet<String> {
        std::iter::once(self.sku().to_string())
            .chain(self.variants.iter().map(|v| v.sku.clone()))
            .filter(|s| !s.is_empty())
            .collect()
    }
    fn is_simple(&self) -> bool {
        self.variants.iter().all(|v| v.option_values.is_empty())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Brand {
    pub id: u64,
    pub name: String,
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub metafields: Vec<Metafield>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tree {
    pub id: u64,
    pub name: String,
    pub channels: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Category {
    pub id: u64,
    pub uuid: String,
    pub tree_id: u64,
    pub parent_id: u64,
    pub name: String,
    /// Writable fields other than the ones above.
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub metafields: Vec<Metafield>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Location {
    pub id: u64,
    pub code: String,
    pub label: String,
    pub enabled: bool,
    pub fields: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// An image file the store serves at `/product_images/{path}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageFile {
    pub content_type: String,
    /// Base64 of the bytes (state files are JSON).
    pub data: String,
    pub sha256: String,
}

/// The whole store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Store {
    /// Last id given, per kind.
    pub ids: BTreeMap<String, u64>,
    /// Persistent maps: a write works on a copy of the store (all or
    /// nothing), which costs O(1) for these two, the large ones.
    pub products: imbl::OrdMap<u64, Product>,
    pub brands: BTreeMap<u64, Brand>,
    pub trees: BTreeMap<u64, Tree>,
    pub categories: BTreeMap<u64, Category>,
    pub locations: BTreeMap<u64, Location>,
    pub files: imbl::OrdMap<String, ImageFile>,
    /// Inventory adjustments applied.
    #[serde(default)]
    pub transactions: u64,
    /// Bumped by every change (persistence).
    #[serde(skip)]
    pub version: u64,
}

fn now_str() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
        .replace('Z', "+00:00")
}

/// The time stamp of a change.
pub fn timestamp() -> String {
    now_str()
}

impl Store {
    /// A new store: the default category tree and location, as a new
    /// BigCommerce store has them.
    pub fn new() -> Store {
        let mut s = Store {
            ids: BTreeMap::new(),
            products: imbl::OrdMap::new(),
            brands: BTreeMap::new(),
            trees: BTreeMap::new(),
            categories: BTreeMap::new(),
            locations: BTreeMap::new(),
            files: imbl::OrdMap::new(),
            transactions: 0,
            version: 0,
        };
        s.add_defaults();
        s
    }

    fn add_defaults(&mut self) {
        if self.trees.is_empty() {
            let id = self.next("tree");
            self.trees.insert(
                id,
                Tree {
                    id,
                    name: "Default".into(),
                    channels: vec![1],
                },
            );
        }
        if self.locations.is_empty() {
            let id = self.next("location");
            let t = now_str();
            self.locations.insert(
                id,
                Location {
                    id,
                    code: "BC-LOCATION-1".into(),
                    label: "Default location".into(),
                    enabled: true,
                    fields: Map::new(),
                    created_at: t.clone(),
                    updated_at: t,
                },
            );
        }
    }

    /// Empty the catalog; the default tree and location come back.
    pub fn reset(&mut self) {
        let version = self.version;
        *self = Store::new();
        self.version = version + 1;
    }

    /// A store from a snapshot (state file, seed).
    pub fn from_json(v: Value) -> Result<Store, String> {
        let mut s: Store = serde_json::from_value(v).map_err(|e| e.to_string())?;
        s.add_defaults();
        Ok(s)
    }

    pub fn next(&mut self, kind: &str) -> u64 {
        let n = self.ids.entry(kind.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    fn changed(&mut self) {
        self.version += 1;
    }

    fn product(&self, id: u64) -> R<&Product> {
        self.products
            .get(&id)
            .ok_or_else(|| ApiError::not_found("product"))
    }

    fn product_mut(&mut self, id: u64) -> R<&mut Product> {
        self.products
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("product"))
    }

    /// The product owning a SKU, if another than `except`.
    fn sku_owner(&self, sku: &str, except: Option<u64>) -> Option<u64> {
        if sku.is_empty() {
            return None;
        }
        self.products
            .values()
            .filter(|p| Some(p.id) != except)
            .find(|p| p.sku() == sku || p.variants.iter().any(|v| v.sku == sku))
            .map(|p| p.id)
    }

    fn name_owner(&self, name: &str, except: Option<u64>) -> Option<u64> {
        let n = name.trim().to_lowercase();
        self.products
            .values()
            .filter(|p| Some(p.id) != except)
            .find(|p| p.name().trim().to_lowercase() == n)
            .map(|p| p.id)
    }

    fn url_owner(&self, url: &str, except: Option<u64>) -> Option<u64> {
        self.products
            .values()
            .filter(|p| Some(p.id) != except)
            .find(|p| {
                p.fields
                    .get("custom_url")
                    .and_then(|u| u.get("url"))
                    .and_then(Value::as_str)
                    == Some(url)
            })
            .map(|p| p.id)
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

// ------------------------------------------------------------------ fields

#[derive(Clone, Copy)]
enum Kind {
    Str(usize),
    /// A number ≥ 0.
    Num,
    /// Any number.
    AnyNum,
    NullNum,
    Int,
    NullInt,
    Bool,
    IntList,
    StrList,
    OneOf(&'static [&'static str]),
    Url,
    NullStr,
}

const BIG: usize = 65_535;

const PRODUCT_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Str(250)),
    ("type", Kind::OneOf(&["physical", "digital"])),
    ("sku", Kind::Str(255)),
    ("description", Kind::Str(1 << 24)),
    ("weight", Kind::Num),
    ("width", Kind::Num),
    ("depth", Kind::Num),
    ("height", Kind::Num),
    ("price", Kind::Num),
    ("cost_price", Kind::Num),
    ("retail_price", Kind::Num),
    ("sale_price", Kind::Num),
    ("map_price", Kind::AnyNum),
    ("tax_class_id", Kind::Int),
    ("product_tax_code", Kind::Str(255)),
    ("categories", Kind::IntList),
    ("brand_id", Kind::Int),
    ("inventory_level", Kind::Int),
    ("inventory_warning_level", Kind::Int),
    (
        "inventory_tracking",
        Kind::OneOf(&["none", "product", "variant"]),
    ),
    ("fixed_cost_shipping_price", Kind::Num),
    ("is_free_shipping", Kind::Bool),
    ("is_visible", Kind::Bool),
    ("is_featured", Kind::Bool),
    ("related_products", Kind::IntList),
    ("warranty", Kind::Str(BIG)),
    ("bin_picking_number", Kind::Str(255)),
    ("layout_file", Kind::Str(500)),
    ("upc", Kind::Str(14)),
    ("mpn", Kind::Str(255)),
    ("gtin", Kind::Str(14)),
    ("search_keywords", Kind::Str(BIG)),
    (
        "availability",
        Kind::OneOf(&["available", "disabled", "preorder"]),
    ),
    ("availability_description", Kind::Str(255)),
    (
        "gift_wrapping_options_type",
        Kind::OneOf(&["any", "none", "list"]),
    ),
    ("gift_wrapping_options_list", Kind::IntList),
    ("sort_order", Kind::Int),
    ("condition", Kind::OneOf(&["New", "Used", "Refurbished"])),
    ("is_condition_shown", Kind::Bool),
    ("order_quantity_minimum", Kind::Int),
    ("order_quantity_maximum", Kind::Int),
    ("page_title", Kind::Str(255)),
    ("meta_keywords", Kind::StrList),
    ("meta_description", Kind::Str(BIG)),
    ("preorder_release_date", Kind::NullStr),
    ("preorder_message", Kind::Str(255)),
    ("is_preorder_only", Kind::Bool),
    ("is_price_hidden", Kind::Bool),
    ("price_hidden_label", Kind::Str(200)),
    ("custom_url", Kind::Url),
    (
        "open_graph_type",
        Kind::OneOf(&[
            "product", "album", "book", "drink", "food", "game", "movie", "song", "tv_show",
        ]),
    ),
    ("open_graph_title", Kind::Str(BIG)),
    ("open_graph_description", Kind::Str(BIG)),
    ("open_graph_use_meta_description", Kind::Bool),
    ("open_graph_use_product_name", Kind::Bool),
    ("open_graph_use_image", Kind::Bool),
];

/// Fields of a product that are not stored as given.
const PRODUCT_SPECIAL: &[&str] = &[
    "id",
    "variants",
    "images",
    "custom_fields",
    "brand_name",
    "videos",
    "bulk_pricing_rules",
    "date_created",
    "date_modified",
    "calculated_price",
    "base_variant_id",
    "option_set_id",
    "option_set_display",
    "reviews_rating_sum",
    "reviews_count",
    "total_sold",
    "view_count",
    "date_last_imported",
    "channels",
];

const VARIANT_FIELDS: &[(&str, Kind)] = &[
    ("cost_price", Kind::NullNum),
    ("price", Kind::NullNum),
    ("sale_price", Kind::NullNum),
    ("retail_price", Kind::NullNum),
    ("map_price", Kind::NullNum),
    ("weight", Kind::NullNum),
    ("width", Kind::NullNum),
    ("height", Kind::NullNum),
    ("depth", Kind::NullNum),
    ("is_free_shipping", Kind::Bool),
    ("fixed_cost_shipping_price", Kind::NullNum),
    ("purchasing_disabled", Kind::Bool),
    ("purchasing_disabled_message", Kind::Str(255)),
    ("image_url", Kind::Str(BIG)),
    ("upc", Kind::Str(14)),
    ("inventory_level", Kind::NullInt),
    ("inventory_warning_level", Kind::NullInt),
    ("bin_picking_number", Kind::Str(255)),
    ("mpn", Kind::Str(255)),
    ("gtin", Kind::Str(14)),
];

const VARIANT_SPECIAL: &[&str] = &[
    "id",
    "product_id",
    "sku",
    "sku_id",
    "option_values",
    "calculated_price",
    "calculated_weight",
];

fn check_kind(field: &str, kind: Kind, v: &Value) -> R<Value> {
    let bad = |m: &str| Err(ApiError::invalid(field, m.to_string()));
    match kind {
        Kind::Str(max) => match v {
            Value::String(s) if s.chars().count() <= max => Ok(v.clone()),
            Value::String(_) => bad(&format!("must be at most {max} characters")),
            _ => bad("must be a string"),
        },
        Kind::NullStr => match v {
            Value::String(_) | Value::Null => Ok(v.clone()),
            _ => bad("must be a string or null"),
        },
        Kind::Num | Kind::AnyNum | Kind::NullNum => match v {
            Value::Null if matches!(kind, Kind::NullNum) => Ok(Value::Null),
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                if !matches!(kind, Kind::AnyNum) && f < 0.0 {
                    bad("must not be negative")
                } else if f > 9_999_999_999.0 {
                    bad("is too large")
                } else {
                    Ok(v.clone())
                }
            }
            _ => bad("must be a number"),
        },
        Kind::Int | Kind::NullInt => match v {
            Value::Null if matches!(kind, Kind::NullInt) => Ok(Value::Null),
            Value::Number(n) if n.is_i64() => {
                let i = n.as_i64().unwrap_or(0);
                if !(i32::MIN as i64..=i32::MAX as i64).contains(&i) {
                    bad("is out of range")
                } else {
                    Ok(v.clone())
                }
            }
            _ => bad("must be an integer"),
        },
        Kind::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => bad("must be a boolean"),
        },
        Kind::IntList => match v {
            Value::Array(a) if a.iter().all(|x| x.as_u64().is_some()) => {
                if a.len() > 1000 {
                    bad("has more than 1000 items")
                } else {
                    Ok(v.clone())
                }
            }
            _ => bad("must be an array of positive integers"),
        },
        Kind::StrList => match v {
            Value::Array(a) if a.iter().all(Value::is_string) => Ok(v.clone()),
            _ => bad("must be an array of strings"),
        },
        Kind::OneOf(allowed) => match v.as_str() {
            Some(s) if allowed.contains(&s) => Ok(v.clone()),
            _ => bad(&format!("must be one of {}", allowed.join(", "))),
        },
        Kind::Url => match v {
            Value::Object(m) => {
                let url = m.get("url").and_then(Value::as_str).unwrap_or("");
                if url.is_empty() || !url.starts_with('/') || url.len() > 255 {
                    return Err(ApiError::invalid(
                        "custom_url.url",
                        "must be a path starting with '/', at most 255 characters",
                    ));
                }
                let custom = m
                    .get("is_customized")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                Ok(json!({"url": url, "is_customized": custom}))
            }
            _ => bad("must be an object with url and is_customized"),
        },
    }
}

/// Check and copy the known fields of `input` into `into`; unknown fields
/// are refused, read-only ones ignored.
fn apply_fields(
    into: &mut Map<String, Value>,
    input: &Map<String, Value>,
    table: &[(&str, Kind)],
    special: &[&str],
) -> R<()> {
    let mut err = ApiError::new(422, "JSON data is missing or invalid");
    let mut staged = Vec::new();
    for (k, v) in input {
        if special.contains(&k.as_str()) {
            continue;
        }
        match table.iter().find(|(n, _)| n == k) {
            Some((_, kind)) => match check_kind(k, *kind, v) {
                Ok(v) => staged.push((k.clone(), v)),
                Err(e) => err.errors.extend(e.errors),
            },
            None => {
                err.errors
                    .insert(k.clone(), json!("is not a field of this resource"));
            }
        }
    }
    if !err.errors.is_empty() {
        return Err(err);
    }
    into.extend(staged);
    Ok(())
}

fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_matches('-');
    if s.is_empty() {
        "product".into()
    } else {
        s.to_string()
    }
}

fn id_of(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn obj(v: &Value, what: &str) -> R<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        _ => Err(ApiError::new(
            422,
            format!("The request body must be a JSON object ({what})"),
        )),
    }
}

fn arr<'a>(v: &'a Value, what: &str) -> R<&'a Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(ApiError::new(
            422,
            format!("The request body must be a JSON array ({what})"),
        )),
    }
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

// ------------------------------------------------------------------ renders

/// A product's fields as a new BigCommerce product has them.
static PRODUCT_DEFAULTS: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(|| {
    serde_json::from_str(
        r#"{
            "name": "", "type": "physical", "sku": "", "description": "",
            "weight": 0, "width": 0, "depth": 0, "height": 0,
            "price": 0, "cost_price": 0, "retail_price": 0, "sale_price": 0, "map_price": 0,
            "tax_class_id": 0, "product_tax_code": "", "categories": [], "brand_id": 0,
            "inventory_warning_level": 0, "inventory_tracking": "none",
            "fixed_cost_shipping_price": 0, "is_free_shipping": false, "is_visible": true,
            "is_featured": false, "related_products": [], "warranty": "",
            "bin_picking_number": "", "layout_file": "", "upc": "", "mpn": "", "gtin": "",
            "search_keywords": "", "availability": "available", "availability_description": "",
            "gift_wrapping_options_type": "any", "gift_wrapping_options_list": [],
            "sort_order": 0, "condition": "New", "is_condition_shown": false,
            "order_quantity_minimum": 0, "order_quantity_maximum": 0, "page_title": "",
            "meta_keywords": [], "meta_description": "", "preorder_release_date": null,
            "preorder_message": "", "is_preorder_only": false, "is_price_hidden": false,
            "price_hidden_label": "", "open_graph_type": "product", "open_graph_title": "",
            "open_graph_description": "", "open_graph_use_meta_description": true,
            "open_graph_use_product_name": true, "open_graph_use_image": true
        }"#,
    )
    .unwrap_or_default()
});

fn money(v: Option<&Value>) -> Value {
    v.cloned().filter(|v| v.is_number()).unwrap_or(json!(0))
}

impl Store {
    fn variant_json(&self, p: &Product, v: &Variant) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(v.id));
        m.insert("product_id".into(), json!(p.id));
        m.insert("sku".into(), json!(v.sku));
        m.insert("sku_id".into(), json!(v.sku_id));
        for (k, _) in VARIANT_FIELDS {
            let d = match *k {
                "is_free_shipping" | "purchasing_disabled" => json!(false),
                "purchasing_disabled_message"
                | "image_url"
                | "upc"
                | "mpn"
                | "gtin"
                | "bin_picking_number" => json!(""),
                "inventory_level" | "inventory_warning_level" => json!(0),
                _ => Value::Null,
            };
            // An unset price or dimension is left out (some of the files'
            // answer schemas do not allow null there).
            match v.fields.get(*k).cloned().unwrap_or(d) {
                Value::Null => {}
                x => {
                    m.insert(k.to_string(), x);
                }
            }
        }
        m.insert(
            "inventory_level".into(),
            json!(v.inventory.values().sum::<i64>()),
        );
        let price = v
            .fields
            .get("sale_price")
            .filter(|x| x.as_f64().is_some_and(|f| f > 0.0))
            .or_else(|| v.fields.get("price").filter(|x| x.is_number()))
            .cloned()
            .unwrap_or_else(|| money(p.fields.get("price")));
        m.insert("calculated_price".into(), price);
        let weight = v
            .fields
            .get("weight")
            .filter(|x| x.is_number())
            .cloned()
            .unwrap_or_else(|| money(p.fields.get("weight")));
        m.insert("calculated_weight".into(), weight);
        let ovs: Vec<Value> = v
            .option_values
            .iter()
            .filter_map(|(o, val)| {
                let opt = p.options.iter().find(|x| x.id == *o)?;
                let ov = opt.values.iter().find(|x| x.id == *val)?;
                Some(json!({"id": ov.id, "label": ov.label, "option_id": opt.id,
                    "option_display_name": opt.display_name}))
            })
            .collect();
        m.insert("option_values".into(), Value::Array(ovs));
        Value::Object(m)
    }

    fn option_json(p: &Product, o: &ProductOption) -> Value {
        json!({
            "id": o.id,
            "product_id": p.id,
            "display_name": o.display_name,
            "type": o.kind,
            "sort_order": o.sort_order,
            "config": {},
            "option_values": o.values.iter().map(Self::option_value_json).collect::<Vec<_>>(),
        })
    }

    fn option_value_json(v: &OptionValue) -> Value {
        let mut j = json!({"id": v.id, "label": v.label, "sort_order": v.sort_order,
            "is_default": v.is_default});
        if let Some(d) = &v.value_data {
            j["value_data"] = d.clone();
        }
        j
    }

    fn image_json(ctx: &Ctx, p: &Product, i: &Image) -> Value {
        let url = format!("{}/product_images/{}", ctx.base, i.image_file);
        json!({
            "id": i.id,
            "product_id": p.id,
            "is_thumbnail": i.is_thumbnail,
            "sort_order": i.sort_order,
            "description": i.description,
            "image_file": i.image_file,
            "url_zoom": url,
            "url_standard": url,
            "url_thumbnail": url,
            "url_tiny": url,
            "date_modified": i.date_modified,
        })
    }

    fn metafield_json(m: &Metafield, resource_type: &str, resource_id: u64) -> Value {
        let mut j = json!({
            "id": m.id,
            "namespace": m.namespace,
            "key": m.key,
            "value": m.value,
            "permission_set": m.permission_set,
            "description": m.description,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "date_created": m.date_created,
            "date_modified": m.date_modified,
            "owner_client_id": "mapsync-sandbox",
        });
        // An empty description is left out (the files want 1 character or more).
        if m.description.is_empty() {
            if let Some(o) = j.as_object_mut() {
                o.remove("description");
            }
        }
        j
    }

    /// A product as `GET /catalog/products/{id}` gives it, with the
    /// sub-resources `include` names.
    pub fn product_json(&self, ctx: &Ctx, p: &Product, include: &[String]) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(p.id));
        for (k, v) in PRODUCT_DEFAULTS.iter() {
            let v = p.fields.get(k).cloned().unwrap_or_else(|| v.clone());
            m.insert(k.clone(), v);
        }
        let url = p.fields.get("custom_url").cloned().unwrap_or_else(
            || json!({"url": format!("/{}/", slug(p.name())), "is_customized": false}),
        );
        m.insert("custom_url".into(), url);
        let level: i64 = p.variants.iter().flat_map(|v| v.inventory.values()).sum();
        m.insert("inventory_level".into(), json!(level));
        let price = p
            .fields
            .get("sale_price")
            .filter(|x| x.as_f64().is_some_and(|f| f > 0.0))
            .cloned()
            .unwrap_or_else(|| money(p.fields.get("price")));
        m.insert("calculated_price".into(), price);
        if p.is_simple() {
            if let Some(v) = p.variants.first() {
                m.insert("base_variant_id".into(), json!(v.id));
            }
        }
        for k in [
            "reviews_rating_sum",
            "reviews_count",
            "total_sold",
            "view_count",
        ] {
            m.insert(k.into(), json!(0));
        }
        m.insert("date_created".into(), json!(p.date_created));
        m.insert("date_modified".into(), json!(p.date_modified));
        for inc in include {
            match inc.as_str() {
                "variants" => {
                    let vs: Vec<Value> =
                        p.variants.iter().map(|v| self.variant_json(p, v)).collect();
                    m.insert("variants".into(), Value::Array(vs));
                }
                "images" => {
                    let is: Vec<Value> = sorted_images(p)
                        .into_iter()
                        .map(|i| Self::image_json(ctx, p, i))
                        .collect();
                    m.insert("images".into(), Value::Array(is));
                }
                "primary_image" => {
                    if let Some(i) = p.images.iter().find(|i| i.is_thumbnail) {
                        m.insert("primary_image".into(), Self::image_json(ctx, p, i));
                    }
                }
                "custom_fields" => {
                    let cf: Vec<Value> = p
                        .custom_fields
                        .iter()
                        .map(|c| json!({"id": c.id, "name": c.name, "value": c.value}))
                        .collect();
                    m.insert("custom_fields".into(), Value::Array(cf));
                }
                "options" => {
                    let os: Vec<Value> =
                        p.options.iter().map(|o| Self::option_json(p, o)).collect();
                    m.insert("options".into(), Value::Array(os));
                }
                "modifiers" | "videos" | "bulk_pricing_rules" | "parent_relations" => {
                    m.insert(inc.clone(), json!([]));
                }
                _ => {}
            }
        }
        Value::Object(m)
    }
}

fn sorted_images(p: &Product) -> Vec<&Image> {
    let mut v: Vec<&Image> = p.images.iter().collect();
    v.sort_by_key(|i| (i.sort_order, i.id));
    v
}

/// `include=a,b` of a query.
pub fn includes(q: &[(String, String)]) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == "include")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

/// `include_fields` / `exclude_fields` of a query applied to a product
/// (its `id` and the sub-resources of `include` always stay).
fn select_fields(mut v: Value, q: &[(String, String)]) -> Value {
    let list = |k: &str| -> Option<Vec<String>> {
        query(q, k).map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
    };
    let keep = list("include_fields");
    let drop = list("exclude_fields");
    let subs = includes(q);
    if let Value::Object(m) = &mut v {
        // "The ID and the specified fields will be returned" (a tree's
        // category's ID is its `category_id`).
        m.retain(|k, _| {
            k == "id"
                || k == "category_id"
                || subs.iter().any(|s| s == k)
                || (keep.as_ref().is_none_or(|l| l.contains(k))
                    && drop.as_ref().is_none_or(|l| !l.contains(k)))
        });
    }
    v
}

fn query<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

fn id_list(q: &[(String, String)], k: &str) -> R<Option<BTreeSet<u64>>> {
    match query(q, k) {
        None => Ok(None),
        Some(s) => s
            .split(',')
            .filter(|x| !x.is_empty())
            .map(|x| {
                x.trim().parse::<u64>().map_err(|_| {
                    ApiError::field(422, "Invalid filter", k, format!("'{x}' is not an id"))
                })
            })
            .collect::<R<BTreeSet<u64>>>()
            .map(Some),
    }
}

fn num_param(q: &[(String, String)], k: &str) -> R<Option<u64>> {
    match query(q, k) {
        None => Ok(None),
        Some(s) => s.trim().parse::<u64>().map(Some).map_err(|_| {
            ApiError::field(422, "Invalid filter", k, format!("'{s}' is not a number"))
        }),
    }
}

/// A time as BigCommerce's filters take it: RFC 3339, a date, or Unix seconds.
fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if let Ok(n) = s.parse::<i64>() {
        return time::OffsetDateTime::from_unix_timestamp(n).ok();
    }
    // `2024-05-14T09:34:00` (the metafield filters' example): UTC.
    if let Ok(t) = time::PrimitiveDateTime::parse(
        s,
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    ) {
        return Some(t.assume_utc());
    }
    let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc())
}

fn time_param(q: &[(String, String)], k: &str) -> R<Option<time::OffsetDateTime>> {
    match query(q, k) {
        None => Ok(None),
        Some(s) => parse_time(s.trim()).map(Some).ok_or_else(|| {
            ApiError::field(422, "Invalid filter", k, format!("'{s}' is not a date"))
        }),
    }
}

/// `page` and `limit` of a query: (page ≥ 1, limit 1..=250).
pub fn paging(q: &[(String, String)]) -> R<(usize, usize)> {
    let page = num_param(q, "page")?.unwrap_or(1).max(1) as usize;
    let limit = num_param(q, "limit")?.unwrap_or(DEFAULT_LIMIT as u64) as usize;
    let limit = limit.clamp(1, MAX_LIMIT);
    Ok((page, limit))
}

/// One page of `items` with BigCommerce's `meta.pagination`.
pub fn page_of(items: Vec<Value>, q: &[(String, String)]) -> R<Value> {
    let (page, limit) = paging(q)?;
    let total = items.len();
    let pages = total.div_ceil(limit);
    let data: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .collect();
    let mut links = json!({"current": format!("?page={page}&limit={limit}")});
    if page > 1 {
        links["previous"] = json!(format!("?page={}&limit={limit}", page - 1));
    }
    if page < pages {
        links["next"] = json!(format!("?page={}&limit={limit}", page + 1));
    }
    Ok(json!({
        "data": data.clone(),
        "meta": {"pagination": {
            "total": total, "count": data.len(), "per_page": limit,
            "current_page": page, "total_pages": pages, "links": links,
        }}
    }))
}

fn one(v: Value) -> Value {
    json!({"data": v, "meta": {}})
}

fn image_file_name(id: u64, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = if clean.is_empty() {
        "image".to_string()
    } else {
        clean
    };
    format!(
        "{}/{id}/{}",
        clean.chars().next().unwrap_or('i').to_ascii_lowercase(),
        clean
    )
}

/// Files fetched for the `image_url`s of a product body, by URL (or why not).
pub type Files = std::collections::HashMap<String, Result<Upload, ApiError>>;

/// The `image_url`s of new images in a product body (or a batch of them).
pub fn image_urls(body: &Value) -> Vec<String> {
    let items: Vec<&Value> = match body {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(Value::Array(imgs)) = item.get("images") {
            for i in imgs {
                if let Some(u) = i.get("image_url").and_then(Value::as_str) {
                    if !u.is_empty() && !out.iter().any(|x| x == u) {
                        out.push(u.to_string());
                    }
                }
            }
        }
    }
    out
}

/// A fetched or uploaded file: its name and bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The content type of image bytes, or `None` when they are no image.
pub fn image_type(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0x89, b'P', b'N', b'G']) {
        Some("image/png")
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"GIF8") {
        Some("image/gif")
    } else if b.len() > 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_defaults_parse() {
        assert!(PRODUCT_DEFAULTS.len() > 50);
        for (k, _) in PRODUCT_FIELDS {
            assert!(
                PRODUCT_DEFAULTS.contains_key(*k) || ["custom_url", "inventory_level"].contains(k),
                "{k} has no default"
            );
        }
    }
}
