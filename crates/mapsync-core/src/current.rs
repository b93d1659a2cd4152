//! The current state of target items in the neutral shape the diff
//! compares with desired documents, and what a target can be asked on its
//! read side besides: its locations and the reduced catalog.
//!
//! A connector converts its wire model into these values; the platform's
//! rules for comparing them (which fields are sets, which enums compare
//! without case, which metafields are really fields, default units) travel
//! with them as [`CompareRules`] from the connector's capabilities.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::Entity;

/// Namespace and key of the ownership marker metafield every item mapsync
/// creates carries; its value is the source item's key. Metafields in this
/// namespace are mapsync's own and never compared.
pub const MARKER_NAMESPACE: &str = "mapsync";
/// Key of the ownership marker (see [`MARKER_NAMESPACE`]).
pub const MARKER_KEY: &str = "key";

/// A store location (inventory quantities are per location).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreLocation {
    /// The target's id.
    pub id: String,
    /// Its name, matched by `locations:` entries.
    pub name: String,
    /// Whether it is active.
    pub active: bool,
}

/// What the reduced read knows about one target item: enough to sort
/// source records into create / update / delete lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetItem {
    /// The target's id.
    pub id: String,
    /// The handle (URL slug), matched by `match_by: handle`.
    pub handle: String,
    /// Its title.
    pub title: String,
    /// Visible to buyers.
    pub published: bool,
    /// The platform's status word, when it has one (products: `ACTIVE`,
    /// `DRAFT`, `ARCHIVED`); `None` for items without one.
    pub status: Option<String>,
    /// The ownership marker: the source key of the item mapsync created;
    /// `None` if mapsync does not own it.
    pub marker: Option<String>,
    /// When the target last changed it.
    pub updated_at: Option<String>,
}

/// Every item of the target, reduced, by entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// Products.
    pub products: Vec<TargetItem>,
    /// Categories.
    pub categories: Vec<TargetItem>,
}

impl Catalog {
    /// The items of one entity.
    pub fn items(&self, entity: Entity) -> &[TargetItem] {
        match entity {
            Entity::Category => &self.categories,
            Entity::Product => &self.products,
        }
    }
}

/// One metafield (or custom field) of a current item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentMetafield {
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// The value as text (JSON text for JSON types).
    pub value: String,
}

/// One variant of a current product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentVariant {
    /// The target's id of the variant.
    pub id: String,
    /// Its title (option values joined with ` / ` on most platforms).
    pub title: String,
    /// Its SKU, when it has one.
    pub sku: Option<String>,
    /// Option values by option name, in option order.
    pub options: Vec<(String, String)>,
    /// Plain fields by the field table's names (`price`,
    /// `inventory_item.cost`, ...), as the store holds them.
    pub fields: BTreeMap<String, Value>,
    /// Available quantity by target location id.
    pub quantities: BTreeMap<String, i64>,
    /// Variant metafields.
    pub metafields: Vec<CurrentMetafield>,
}

/// The connector's own full view of an item, carried beside the neutral
/// one for its write side (ids of media, variants, inventory items...).
/// Nothing outside the connector looks inside.
#[derive(Clone)]
pub struct Native(pub Arc<dyn Any + Send + Sync>);

impl Native {
    /// Wrap a connector's value.
    pub fn new<T: Any + Send + Sync>(value: T) -> Native {
        Native(Arc::new(value))
    }

    /// The connector's value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Native {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Native(..)")
    }
}

/// The full current state of one target item, neutral.
#[derive(Debug, Clone)]
pub struct Current {
    /// Which entity.
    pub entity: Entity,
    /// The target's id.
    pub id: String,
    /// The ownership marker, when mapsync created it.
    pub marker: Option<String>,
    /// Plain fields by the field table's names (`title`, `tags`,
    /// `seo.title`...), as the store holds them. A field the read does not
    /// hold is absent, and then not compared.
    pub fields: BTreeMap<String, Value>,
    /// Metafields, the marker included.
    pub metafields: Vec<CurrentMetafield>,
    /// Image sources in order (the URL each image was created from where
    /// the store kept it, else its URL); an uploaded embedded image as
    /// `embedded:<content key>` (see [`crate::image::key_in_url`]). Images
    /// the store failed to process are not listed (so they are sent again).
    pub images: Vec<String>,
    /// Variants in the store's order (products).
    pub variants: Vec<CurrentVariant>,
    /// Target ids of the categories the item belongs to (products).
    pub categories: Vec<String>,
    /// The connector's own view, for its write side.
    pub native: Native,
}

/// How a target's values compare with desired ones: the platform's rules,
/// declared by its connector (`Capabilities::compare`), applied by the
/// neutral diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareRules {
    /// Fields the store keeps as a set (sorted, deduplicated, trimmed):
    /// compared as sets.
    pub set_fields: &'static [&'static str],
    /// Fields the write leaves alone when their desired value is empty:
    /// an empty desired value is no difference.
    pub not_cleared: &'static [&'static str],
    /// Enum fields the write upper-cases: compared without regard to case.
    pub upper_case: &'static [&'static str],
    /// Metafields that are plain fields of the platform, by
    /// `(namespace, key, field)`, matched without regard to case: the
    /// desired metafield is compared with the field.
    pub metafield_fields: &'static [(&'static str, &'static str, &'static str)],
    /// `(when, field, value)`: when `when` is set and `field` is not, the
    /// write uses `value`, so that is compared (a weight's default unit).
    pub implied: &'static [(&'static str, &'static str, &'static str)],
}

impl Default for CompareRules {
    fn default() -> Self {
        CompareRules::PLAIN
    }
}

impl CompareRules {
    /// No platform rule: every field compared as it is.
    pub const PLAIN: CompareRules = CompareRules {
        set_fields: &[],
        not_cleared: &[],
        upper_case: &[],
        metafield_fields: &[],
        implied: &[],
    };

    /// The field a metafield stands for, if it is one of
    /// [`CompareRules::metafield_fields`].
    pub fn metafield_field(&self, namespace: &str, key: &str) -> Option<&'static str> {
        self.metafield_fields
            .iter()
            .find(|(ns, k, _)| ns.eq_ignore_ascii_case(namespace) && k.eq_ignore_ascii_case(key))
            .map(|(_, _, field)| *field)
    }
}
