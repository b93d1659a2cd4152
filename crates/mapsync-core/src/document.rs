//! The desired document: what one source record should look like in the
//! target, independent of the target's API. Produced by `compile`,
//! hashed for change detection, compared field by field with the target's
//! current state by `reconcile`, and turned into API calls by the executor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::entity::Entity;

/// A desired category (custom collection) or product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Which entity.
    pub entity: Entity,
    /// The record's key (KeyField value, as text).
    pub key: String,
    /// Plain fields by dotted name (`title`, `seo.title`, `tags` as a list),
    /// values already coerced to the field's type (decimals normalised,
    /// booleans as booleans, lists as arrays of strings).
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Metafield values in declaration order.
    pub metafields: Vec<MetafieldValue>,
    /// Metafield definition descriptions (`@description`).
    pub metafield_descriptions: Vec<MetafieldDescription>,
    /// Images in the seed's order (see mapping-format.md §5).
    pub images: Vec<Image>,
    /// Option names in order (at most 3), products only.
    pub options: Vec<String>,
    /// Variants ordered by position, products only.
    pub variants: Vec<VariantDoc>,
    /// Category keys this product belongs to (deduplicated, source order).
    pub categories: Vec<String>,
}

/// One metafield value, checked against its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetafieldValue {
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// Shopify type name, e.g. `number_integer`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The value as Shopify takes it (text; JSON text for JSON types).
    pub value: String,
}

/// A metafield definition's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetafieldDescription {
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// The description.
    pub description: String,
}

/// One image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// How the image was given.
    pub kind: ImageKind,
    /// A URL, or for `embedded` the base64 data.
    pub src: String,
    /// Alt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// The key of the variant this image belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Image kinds, serialised as words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// A URL.
    Url,
    /// Base64 data.
    Embedded,
    /// A field value (a URL).
    Field,
    /// An attachment (a URL).
    Attachment,
}

/// A desired variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantDoc {
    /// Variant key (the `key:` path, else option values joined with ` / `).
    pub key: String,
    /// Plain fields (`sku`, `price`, `inventory_item.cost`, ...), coerced.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Option values by option name, in the product's option order.
    pub options: Vec<(String, String)>,
    /// Quantities by reference location name (`Quantity_<RefLoc>`).
    pub quantities: BTreeMap<String, i64>,
    /// Variant metafields.
    pub metafields: Vec<MetafieldValue>,
}

/// What the reconcile needs of a record besides its document: the
/// control fields read through the entity's `select`, `mode`, `published`
/// and write-back paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Control {
    /// `select` field: `Some(false)` = not used in the target.
    pub selected: Option<bool>,
    /// `mode` field equals `NoUpdate`.
    pub no_update: bool,
    /// `published` field.
    pub published: Option<bool>,
    /// SyncID from the record's write-back field (non-empty only).
    pub sync_id: Option<String>,
    /// Whether the mapping declares a SyncDate field.
    pub has_sync_date_field: bool,
    /// SyncDate from the record's write-back field (RFC 3339), if set.
    pub sync_date: Option<String>,
    /// Values the target keeps unique across the store, as (`field`,
    /// value) pairs (`variant.sku`, `product.name`...): what the
    /// pre-flight rules of scope run compare between items. Empty unless
    /// the target declares such a rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<(String, String)>,
    /// The record's values of the entity's `match:` path (two-way.md,
    /// trimmed, non-empty, each once): an item with no ledger row and no
    /// marked target item is looked up in the target by them and linked
    /// instead of created. Empty without `match:`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    /// The record's value of the entity's `updated_at.source` path (when
    /// it was last edited in the source), for `conflict: newest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl Document {
    /// Write the document's canonical form (see `crate::hash`) straight
    /// into `out`, with no `serde_json::Value` in between. Equal, byte for
    /// byte, to the canonical form of `serde_json::to_value(self)`: object
    /// keys in byte order, optional image fields omitted when absent.
    pub fn write_canonical(&self, out: &mut crate::hash::Canonical) {
        // Keys sorted: categories, entity, fields, images, key,
        // metafield_descriptions, metafields, options, variants.
        out.byte(b'{');
        out.key("categories");
        out.strings(&self.categories);
        out.byte(b',');
        out.key("entity");
        out.str(self.entity.as_str());
        out.byte(b',');
        out.key("fields");
        value_map(&self.fields, out);
        out.byte(b',');
        out.key("images");
        list(&self.images, out, |img, out| {
            // alt, kind, src, variant
            out.byte(b'{');
            if let Some(alt) = &img.alt {
                out.key("alt");
                out.str(alt);
                out.byte(b',');
            }
            out.key("kind");
            out.str(img.kind.as_str());
            out.byte(b',');
            out.key("src");
            out.str(&img.src);
            if let Some(v) = &img.variant {
                out.byte(b',');
                out.key("variant");
                out.str(v);
            }
            out.byte(b'}');
        });
        out.byte(b',');
        out.key("key");
        out.str(&self.key);
        out.byte(b',');
        out.key("metafield_descriptions");
        list(&self.metafield_descriptions, out, |d, out| {
            text_object(
                &[
                    ("description", &d.description),
                    ("key", &d.key),
                    ("namespace", &d.namespace),
                ],
                out,
            );
        });
        out.byte(b',');
        out.key("metafields");
        metafields(&self.metafields, out);
        out.byte(b',');
        out.key("options");
        out.strings(&self.options);
        out.byte(b',');
        out.key("variants");
        list(&self.variants, out, |v, out| {
            // fields, key, metafields, options, quantities
            out.byte(b'{');
            out.key("fields");
            value_map(&v.fields, out);
            out.byte(b',');
            out.key("key");
            out.str(&v.key);
            out.byte(b',');
            out.key("metafields");
            metafields(&v.metafields, out);
            out.byte(b',');
            out.key("options");
            list(&v.options, out, |(name, value), out| {
                out.byte(b'[');
                out.str(name);
                out.byte(b',');
                out.str(value);
                out.byte(b']');
            });
            out.byte(b',');
            out.key("quantities");
            // A `String` map is in byte order.
            object(&v.quantities, out, |q, out| out.int(*q));
            out.byte(b'}');
        });
        out.byte(b'}');
    }
}

/// A canonical array: `item` writes each element.
fn list<T>(
    items: &[T],
    out: &mut crate::hash::Canonical,
    item: impl Fn(&T, &mut crate::hash::Canonical),
) {
    out.byte(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.byte(b',');
        }
        item(x, out);
    }
    out.byte(b']');
}

/// A canonical object: `entries` must be in byte order of the keys;
/// `value` writes each value.
fn object<K: AsRef<str>, V>(
    entries: impl IntoIterator<Item = (K, V)>,
    out: &mut crate::hash::Canonical,
    value: impl Fn(V, &mut crate::hash::Canonical),
) {
    out.byte(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.byte(b',');
        }
        out.key(k.as_ref());
        value(v, out);
    }
    out.byte(b'}');
}

/// An object of text values; `fields` must be in byte order of the keys.
fn text_object(fields: &[(&str, &str)], out: &mut crate::hash::Canonical) {
    object(fields.iter().copied(), out, |v, out| out.str(v));
}

/// A `BTreeMap<String, Value>` as a canonical object: a `String` map is
/// already in byte order.
fn value_map(m: &BTreeMap<String, serde_json::Value>, out: &mut crate::hash::Canonical) {
    object(m, out, |v, out| out.value(v));
}

/// Metafield values: key, namespace, type, value.
fn metafields(items: &[MetafieldValue], out: &mut crate::hash::Canonical) {
    list(items, out, |m, out| {
        text_object(
            &[
                ("key", &m.key),
                ("namespace", &m.namespace),
                ("type", &m.ty),
                ("value", &m.value),
            ],
            out,
        );
    });
}

impl Image {
    /// The content key of an `embedded` image ([`crate::image::content_key`]
    /// of its data): what the diff compares, what its upload is named and
    /// remembered by. `None` for images given by URL.
    pub fn content_key(&self) -> Option<String> {
        (self.kind == ImageKind::Embedded).then(|| crate::image::content_key(&self.src))
    }
}

impl ImageKind {
    /// The word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Url => "url",
            ImageKind::Embedded => "embedded",
            ImageKind::Field => "field",
            ImageKind::Attachment => "attachment",
        }
    }
}
