//! The store model of the sandbox: shop, locations, products (options,
//! variants with inventory items and levels, media, metafields, collection
//! membership), custom collections, metafield definitions. Plain data with
//! serde, so a snapshot is the store. It owns ids (`gid://shopify/<Type>/<n>`)
//! and the derived indexes; it must not know about GraphQL or HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use imbl::{OrdMap, Vector};
use serde::{Deserialize, Serialize};

pub use crate::catalog::Products;

/// The whole store. Cheap to clone, whatever its size: every collection
/// that grows with the catalog is a persistent map (`imbl`) of entities
/// behind `Arc`s, so a clone shares everything and a change copies the
/// path to what it changes (O(log n)). A mutation works on a draft copy
/// and publishes it when it succeeds; the snapshot before stays as it was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Store {
    /// Next numeric id handed out (one counter for every type).
    pub next_id: u64,
    /// The shop itself.
    pub shop: Shop,
    /// Locations by id.
    pub locations: OrdMap<u64, Location>,
    /// Products by id (with the index of their variants, inventory items
    /// and media).
    pub products: Products,
    /// Custom collections by id.
    #[serde(with = "arc_map")]
    pub collections: OrdMap<u64, Arc<Collection>>,
    /// Metafield definitions by id.
    pub metafield_definitions: OrdMap<u64, MetafieldDefinition>,
    /// First answers of idempotent mutations (absent from older state files).
    #[serde(default, with = "arc_value")]
    pub idempotency: Arc<IdempotencyLog>,
    /// Staged upload targets and their files (absent from older state files).
    #[serde(default, with = "arc_value")]
    pub staged: Arc<crate::staged::Staged>,
    /// Bulk mutations and their results, as of their last checkpoint
    /// (absent from older state files).
    #[serde(default, with = "arc_value")]
    pub bulk: Arc<crate::bulkops::BulkLog>,
    /// Product handle → product id (derived; rebuilt on load).
    #[serde(skip)]
    pub product_handles: imbl::HashMap<Arc<str>, u64>,
    /// Collection handle → collection id (derived; rebuilt on load).
    #[serde(skip)]
    pub collection_handles: imbl::HashMap<Arc<str>, u64>,
    /// Owner of each value of a metafield definition with unique values
    /// (derived; rebuilt on load). An entry may be stale (its owner changed
    /// the value since): readers check the owner still holds it.
    #[serde(skip)]
    pub unique_index: imbl::HashMap<UniqueKey, String>,
}

/// (owner type, namespace, key, value) of a metafield whose definition has
/// unique values.
pub type UniqueKey = (String, String, String, String);

/// Serde for maps of shared entities (serde's `rc` feature is off): the
/// JSON of a map of id → entity.
mod arc_map {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use imbl::OrdMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        m: &OrdMap<u64, Arc<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, &**v)))
    }

    pub fn deserialize<'de, T: Deserialize<'de> + Clone, D: Deserializer<'de>>(
        d: D,
    ) -> Result<OrdMap<u64, Arc<T>>, D::Error> {
        let m: BTreeMap<u64, T> = BTreeMap::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// Serde for a shared value (serde's `rc` feature is off).
mod arc_value {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
        (**v).serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<T>, D::Error> {
        T::deserialize(d).map(Arc::new)
    }
}

/// Serde for a queue of shared values.
pub(crate) mod arc_deque {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        q: &VecDeque<Arc<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(q.iter().map(|v| &**v))
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<VecDeque<Arc<T>>, D::Error> {
        let v: Vec<T> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(Arc::new).collect())
    }
}

/// The shop.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shop {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub myshopify_domain: String,
    pub currency_code: String,
    pub created_at: String,
    #[serde(default)]
    pub metafields: Vec<Metafield>,
}

/// A location holding inventory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Location {
    pub id: u64,
    pub name: String,
    pub is_active: bool,
    pub created_at: String,
}

/// Product status as Shopify has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Active,
    Archived,
    Draft,
}

/// What a variant does when out of stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InventoryPolicy {
    Deny,
    Continue,
}

/// A product.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    pub handle: String,
    pub title: String,
    pub description_html: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    pub status: Status,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub template_suffix: Option<String>,
    /// Whether the product is a gift card.
    #[serde(default)]
    pub gift_card: bool,
    pub options: Vec<ProductOption>,
    pub variants: Vec<Variant>,
    pub media: Vec<Media>,
    pub metafields: Vec<Metafield>,
    /// Ids of the collections the product belongs to (mirror of `Collection::products`).
    pub collections: BTreeSet<u64>,
    pub created_at: String,
    pub updated_at: String,
}

/// A product option (at most 3 per product).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductOption {
    pub id: u64,
    pub name: String,
    pub values: Vec<OptionValue>,
}

/// One value of an option.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionValue {
    pub id: u64,
    pub name: String,
}

/// A variant; `option_values` runs parallel to the product's options.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variant {
    pub id: u64,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price: String,
    pub compare_at_price: Option<String>,
    pub taxable: bool,
    pub inventory_policy: InventoryPolicy,
    pub option_values: Vec<String>,
    /// Media of the product attached to this variant.
    pub media_ids: Vec<u64>,
    pub metafields: Vec<Metafield>,
    pub inventory_item: InventoryItem,
    pub created_at: String,
    pub updated_at: String,
}

/// The inventory item of a variant, with its levels per location.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InventoryItem {
    pub id: u64,
    pub tracked: bool,
    pub cost: Option<String>,
    pub country_code_of_origin: Option<String>,
    pub harmonized_system_code: Option<String>,
    pub requires_shipping: bool,
    /// Province or state of origin (`provinceCodeOfOrigin`).
    #[serde(default)]
    pub province_code_of_origin: Option<String>,
    /// Weight value and unit (`measurement.weight`).
    #[serde(default)]
    pub weight: Option<(f64, String)>,
    /// Location id → level.
    pub levels: BTreeMap<u64, InventoryLevel>,
    pub created_at: String,
    pub updated_at: String,
}

/// Quantities of one item at one location.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InventoryLevel {
    pub id: u64,
    pub available: i64,
    pub on_hand: i64,
    pub updated_at: String,
}

/// A media item of a product (images only are processed; others are kept).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Media {
    pub id: u64,
    pub alt: Option<String>,
    pub original_source: String,
    pub content_type: String,
    pub created_at: String,
    /// Processing state (media of older state files and of URL sources are ready).
    #[serde(default)]
    pub status: MediaState,
    /// Why processing fails: shown once the media is `FAILED`.
    #[serde(default)]
    pub failure: Option<MediaFailure>,
    /// SHA-256 (hex) of the bytes a staged upload gave it (what arrived;
    /// in the snapshot, for tests). `None` for a URL source, which the
    /// store does not fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Shopify's `MediaStatus`, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MediaState {
    Uploaded,
    Processing,
    #[default]
    Ready,
    Failed,
}

impl MediaState {
    /// The state after one more read: UPLOADED → PROCESSING → READY, or
    /// FAILED when processing fails; READY and FAILED stay.
    pub fn next(self, fails: bool) -> MediaState {
        match self {
            MediaState::Uploaded => MediaState::Processing,
            MediaState::Processing if fails => MediaState::Failed,
            MediaState::Processing => MediaState::Ready,
            done => done,
        }
    }
}

/// A media processing error (Shopify's `MediaError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFailure {
    /// A `MediaErrorCode` name.
    pub code: String,
    pub message: String,
    pub details: Option<String>,
}

/// A metafield of any owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metafield {
    pub id: u64,
    pub namespace: String,
    pub key: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub value: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The image of a collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    pub id: u64,
    pub url: String,
    pub alt: Option<String>,
}

/// A custom collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collection {
    pub id: u64,
    pub handle: String,
    pub title: String,
    pub description_html: String,
    pub sort_order: String,
    pub template_suffix: Option<String>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub image: Option<Image>,
    pub metafields: Vec<Metafield>,
    /// Member product ids in collection order (persistent: adding a member
    /// to a large collection copies O(log n)). A product is a member
    /// exactly when its `collections` has the collection.
    pub products: Vector<u64>,
    /// Published on the online store (custom collections are, when created).
    #[serde(default = "published_default")]
    pub published: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A metafield definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetafieldDefinition {
    pub id: u64,
    pub namespace: String,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub owner_type: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub pinned_position: Option<i32>,
    /// The `uniqueValues` capability: no two owners share a value.
    #[serde(default)]
    pub unique_values: bool,
}

impl MetafieldDefinition {
    /// Whether values are unique per owner type (the capability, always on
    /// for the `id` type).
    pub fn has_unique_values(&self) -> bool {
        self.unique_values || self.type_name == "id"
    }
}

/// How many idempotency keys the store remembers (the oldest go first).
pub const IDEMPOTENCY_KEYS_KEPT: usize = 10_000;

/// The first answer to a mutation sent with `@idempotent(key:)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotentAnswer {
    pub key: String,
    /// The mutation's root field (`inventorySetQuantities`).
    pub mutation: String,
    /// Digest of the mutation's arguments: a key sent again with other
    /// arguments is refused.
    pub fingerprint: String,
    /// The answer, as the GraphQL layer recorded it.
    pub answer: serde_json::Value,
    pub created_at: String,
}

/// The answers of idempotent mutations by key, oldest first, at most
/// [`IDEMPOTENCY_KEYS_KEPT`]. Persistent (a clone shares everything), with
/// an index by key; the JSON is `{"entries": [...]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "IdempotencyEntries")]
pub struct IdempotencyLog {
    entries: Vector<Arc<IdempotentAnswer>>,
    /// Key → its latest answer in `entries`.
    by_key: imbl::HashMap<String, Arc<IdempotentAnswer>>,
}

/// The serde form of [`IdempotencyLog`].
#[derive(Deserialize)]
struct IdempotencyEntries {
    #[serde(default)]
    entries: Vec<IdempotentAnswer>,
}

impl From<IdempotencyEntries> for IdempotencyLog {
    fn from(e: IdempotencyEntries) -> Self {
        let mut log = IdempotencyLog::default();
        for a in e.entries {
            log.remember(a);
        }
        log
    }
}

impl Serialize for IdempotencyLog {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Entries<'a>(&'a Vector<Arc<IdempotentAnswer>>);
        impl Serialize for Entries<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|e| &**e))
            }
        }
        let mut st = s.serialize_struct("IdempotencyLog", 1)?;
        st.serialize_field("entries", &Entries(&self.entries))?;
        st.end()
    }
}

impl IdempotencyLog {
    /// The answer remembered for `key`, if any.
    pub fn find(&self, key: &str) -> Option<&IdempotentAnswer> {
        self.by_key.get(key).map(|e| &**e)
    }

    /// Remember an answer, dropping the oldest beyond the bound.
    pub fn remember(&mut self, answer: IdempotentAnswer) {
        let answer = Arc::new(answer);
        self.by_key.insert(answer.key.clone(), answer.clone());
        self.entries.push_back(answer);
        while self.entries.len() > IDEMPOTENCY_KEYS_KEPT {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            if self
                .by_key
                .get(&old.key)
                .is_some_and(|e| Arc::ptr_eq(e, &old))
            {
                self.by_key.remove(&old.key);
            }
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a global id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Product(u64),
    Variant { product: u64, variant: u64 },
    InventoryItem { product: u64, variant: u64 },
    Media { product: u64, media: u64 },
    Collection(u64),
    Location(u64),
    MetafieldDefinition(u64),
    Shop,
}

/// Format a Shopify global id.
pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// Parse `gid://shopify/<Type>/<n>` (a `?query` suffix is ignored).
pub fn parse_gid(gid: &str) -> Option<(&str, u64)> {
    let rest = gid.strip_prefix("gid://shopify/")?;
    let (kind, num) = rest.split_once('/')?;
    let num = num.split('?').next().unwrap_or(num);
    Some((kind, num.parse().ok()?))
}

/// The current time as Shopify prints it (`2025-01-31T12:00:00Z`).
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Store {
    /// A new shop with one location, `Shop location`, as Shopify creates it.
    pub fn new() -> Self {
        let now = now();
        let mut store = Store {
            next_id: 1001,
            shop: Shop {
                id: 1,
                name: "mapsync sandbox".into(),
                email: "sandbox@example.com".into(),
                myshopify_domain: "mapsync-sandbox.myshopify.com".into(),
                currency_code: "USD".into(),
                created_at: now.clone(),
                metafields: Vec::new(),
            },
            locations: OrdMap::new(),
            products: Products::default(),
            collections: OrdMap::new(),
            metafield_definitions: OrdMap::new(),
            idempotency: Arc::default(),
            staged: Arc::default(),
            bulk: Arc::default(),
            product_handles: imbl::HashMap::new(),
            collection_handles: imbl::HashMap::new(),
            unique_index: imbl::HashMap::new(),
        };
        store.add_location("Shop location");
        store
    }

    /// Hand out a fresh numeric id.
    pub fn alloc(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Add an active location; returns its id.
    pub fn add_location(&mut self, name: &str) -> u64 {
        let id = self.alloc();
        self.locations.insert(
            id,
            Location {
                id,
                name: name.to_string(),
                is_active: true,
                created_at: now(),
            },
        );
        id
    }

    /// The primary (first) location.
    pub fn primary_location(&self) -> Option<u64> {
        self.locations.keys().next().copied()
    }

    /// Empty the catalog; shop and locations stay.
    pub fn clear_catalog(&mut self) {
        self.products.clear();
        self.collections.clear();
        self.metafield_definitions.clear();
        self.idempotency = Arc::default();
        self.staged = Arc::default();
        self.product_handles.clear();
        self.collection_handles.clear();
        self.unique_index = imbl::HashMap::new();
    }

    /// Rebuild derived indexes (after deserializing) and fix the id counter.
    pub fn reindex(&mut self) {
        self.products.settle();
        self.product_handles = self
            .products
            .values()
            .map(|p| (Arc::from(p.handle.as_str()), p.id))
            .collect();
        self.collection_handles = self
            .collections
            .values()
            .map(|c| (Arc::from(c.handle.as_str()), c.id))
            .collect();
        let max = self.max_id();
        if self.next_id <= max {
            self.next_id = max + 1;
        }
        self.rebuild_unique_index();
    }

    /// Every owner of metafields of an owner type, with its global id.
    pub fn metafield_owners(&self, owner_type: &str) -> Vec<(String, &[Metafield])> {
        match owner_type {
            "PRODUCT" => self
                .products
                .values()
                .map(|p| (gid("Product", p.id), p.metafields.as_slice()))
                .collect(),
            "PRODUCTVARIANT" => self
                .products
                .values()
                .flat_map(|p| p.variants.iter())
                .map(|v| (gid("ProductVariant", v.id), v.metafields.as_slice()))
                .collect(),
            "COLLECTION" => self
                .collections
                .values()
                .map(|c| (gid("Collection", c.id), c.metafields.as_slice()))
                .collect(),
            "SHOP" => vec![(gid("Shop", self.shop.id), self.shop.metafields.as_slice())],
            _ => Vec::new(),
        }
    }

    /// The values of a definition's metafields with their owners.
    pub fn definition_values(&self, d: &MetafieldDefinition) -> Vec<(String, String)> {
        self.metafield_owners(&d.owner_type)
            .into_iter()
            .flat_map(|(owner, list)| {
                list.iter()
                    .filter(|m| m.namespace == d.namespace && m.key == d.key)
                    .map(move |m| (owner.clone(), m.value.clone()))
            })
            .collect()
    }

    /// Rebuild [`Store::unique_index`] from the metafields.
    pub fn rebuild_unique_index(&mut self) {
        let mut index = imbl::HashMap::new();
        for d in self
            .metafield_definitions
            .values()
            .filter(|d| d.has_unique_values())
        {
            for (owner, value) in self.definition_values(d) {
                let key = (
                    d.owner_type.clone(),
                    d.namespace.clone(),
                    d.key.clone(),
                    value,
                );
                index.insert(key, owner);
            }
        }
        self.unique_index = index;
    }

    fn max_id(&self) -> u64 {
        let mut max = self.shop.id;
        let mut see = |id: u64| max = max.max(id);
        self.locations.keys().for_each(|&id| see(id));
        self.metafield_definitions.keys().for_each(|&id| see(id));
        for p in self.products.values() {
            see(p.id);
            p.options.iter().for_each(|o| {
                see(o.id);
                o.values.iter().for_each(|v| see(v.id));
            });
            p.media.iter().for_each(|m| see(m.id));
            p.metafields.iter().for_each(|m| see(m.id));
            for v in &p.variants {
                see(v.id);
                see(v.inventory_item.id);
                v.inventory_item.levels.values().for_each(|l| see(l.id));
                v.metafields.iter().for_each(|m| see(m.id));
            }
        }
        for c in self.collections.values() {
            see(c.id);
            c.metafields.iter().for_each(|m| see(m.id));
            if let Some(i) = &c.image {
                see(i.id);
            }
        }
        max
    }

    /// Resolve a global id to what it names, if it exists.
    pub fn find(&self, gid: &str) -> Option<Found> {
        let (kind, n) = parse_gid(gid)?;
        match kind {
            "Product" => self.products.contains_key(&n).then_some(Found::Product(n)),
            "Collection" => self
                .collections
                .contains_key(&n)
                .then_some(Found::Collection(n)),
            "Location" => self
                .locations
                .contains_key(&n)
                .then_some(Found::Location(n)),
            "MetafieldDefinition" => self
                .metafield_definitions
                .contains_key(&n)
                .then_some(Found::MetafieldDefinition(n)),
            "Shop" => (n == self.shop.id).then_some(Found::Shop),
            "ProductVariant" => {
                let p = self.products.get(&self.products.owner_of_part(n)?)?;
                p.variants
                    .iter()
                    .any(|v| v.id == n)
                    .then_some(Found::Variant {
                        product: p.id,
                        variant: n,
                    })
            }
            "InventoryItem" => {
                let p = self.products.get(&self.products.owner_of_part(n)?)?;
                p.variants
                    .iter()
                    .find(|v| v.inventory_item.id == n)
                    .map(|v| Found::InventoryItem {
                        product: p.id,
                        variant: v.id,
                    })
            }
            "MediaImage" | "Video" | "ExternalVideo" | "Model3d" => {
                let p = self.products.get(&self.products.owner_of_part(n)?)?;
                p.media.iter().any(|m| m.id == n).then_some(Found::Media {
                    product: p.id,
                    media: n,
                })
            }
            _ => None,
        }
    }

    /// Find a product by a metafield value (`customId` identifiers): through
    /// the index of unique values when the metafield's definition has them,
    /// else by a scan.
    pub fn product_by_metafield(&self, namespace: &str, key: &str, value: &str) -> Option<u64> {
        if crate::unique::unique_definition(self, "PRODUCT", namespace, key).is_some() {
            return crate::unique::owner_of(self, "PRODUCT", namespace, key, value).and_then(
                |owner| match self.find(&owner)? {
                    Found::Product(p) => Some(p),
                    _ => None,
                },
            );
        }
        self.products.values().find_map(|p| {
            p.metafields
                .iter()
                .any(|m| m.namespace == namespace && m.key == key && m.value == value)
                .then_some(p.id)
        })
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Product {
    /// The variant title: option values joined by ` / `.
    pub fn variant_title(&self, v: &Variant) -> String {
        if self.has_only_default_variant() {
            return "Default Title".into();
        }
        v.option_values.join(" / ")
    }

    /// True when the product has the single `Title: Default Title` variant.
    pub fn has_only_default_variant(&self) -> bool {
        self.variants.len() == 1
            && self.options.len() == 1
            && self
                .options
                .first()
                .is_some_and(|o| o.name == "Title" && o.values.len() == 1)
            && self.variants.first().is_some_and(|v| {
                v.option_values.first().map(String::as_str) == Some("Default Title")
            })
    }
}

fn published_default() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gid_round_trip() {
        assert_eq!(gid("Product", 7), "gid://shopify/Product/7");
        assert_eq!(parse_gid("gid://shopify/Product/7"), Some(("Product", 7)));
        assert_eq!(
            parse_gid("gid://shopify/InventoryLevel/9?inventory_item_id=3"),
            Some(("InventoryLevel", 9))
        );
        assert_eq!(parse_gid("gid://other/Product/7"), None);
        assert_eq!(parse_gid("gid://shopify/Product/x"), None);
    }

    #[test]
    fn new_store_has_one_location() {
        let s = Store::new();
        let names: Vec<_> = s.locations.values().map(|l| l.name.as_str()).collect();
        assert_eq!(names, vec!["Shop location"]);
    }

    #[test]
    fn idempotency_log_is_bounded() {
        let mut log = IdempotencyLog::default();
        for i in 0..IDEMPOTENCY_KEYS_KEPT + 3 {
            log.remember(IdempotentAnswer {
                key: format!("k{i}"),
                mutation: "m".into(),
                fingerprint: String::new(),
                answer: serde_json::Value::Null,
                created_at: String::new(),
            });
        }
        assert_eq!(log.len(), IDEMPOTENCY_KEYS_KEPT);
        assert!(log.find("k0").is_none() && log.find("k2").is_none());
        assert!(log.find("k3").is_some());
        assert!(log
            .find(&format!("k{}", IDEMPOTENCY_KEYS_KEPT + 2))
            .is_some());
    }
}
