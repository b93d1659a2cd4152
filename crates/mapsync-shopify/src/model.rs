//! The current state of a shop as the rest of mapsync sees it: plain typed
//! values with no GraphQL shapes (no edges, cursors or wire names). The read
//! side fills them; `reconcile` compares them with desired documents. This
//! module must not do I/O or know how the values were fetched.

use std::collections::BTreeMap;

use serde::Serialize;

pub use mapsync_core::current::{
    Catalog, StoreLocation as Location, TargetItem, MARKER_KEY, MARKER_NAMESPACE,
};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Seo {
    pub title: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectedOption {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    /// Decimal as Shopify writes it (`"12.50"`).
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metafield {
    pub id: Option<String>,
    pub namespace: String,
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryItem {
    pub id: String,
    pub sku: Option<String>,
    pub unit_cost: Option<Money>,
    pub tracked: bool,
    pub country_code_of_origin: Option<String>,
    pub harmonized_system_code: Option<String>,
    pub requires_shipping: bool,
    pub province_code_of_origin: Option<String>,
    /// `measurement.weight`, when the item has one.
    pub weight: Option<Weight>,
}

/// A weight as Shopify stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Weight {
    /// Decimal text of the value as Shopify answered it (`"1.5"`).
    pub value: String,
    /// `GRAMS`, `KILOGRAMS`, `OUNCES` or `POUNDS`.
    pub unit: String,
}

/// Quantities of one inventory item at one location, by quantity name
/// (`available`, `on_hand`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryLevel {
    pub location_id: String,
    pub quantities: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub id: String,
    pub title: String,
    pub position: Option<i64>,
    pub sku: Option<String>,
    pub price: String,
    pub compare_at_price: Option<String>,
    pub barcode: Option<String>,
    pub taxable: bool,
    /// `DENY` or `CONTINUE`.
    pub inventory_policy: String,
    pub selected_options: Vec<SelectedOption>,
    pub inventory_item: Option<InventoryItem>,
    pub inventory_levels: Vec<InventoryLevel>,
    pub metafields: Vec<Metafield>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Media {
    pub id: String,
    pub alt: Option<String>,
    /// `IMAGE`, `VIDEO`, `EXTERNAL_VIDEO`, `MODEL_3D`.
    pub content_type: String,
    /// The image's URL (CDN), when it is an image that finished processing.
    pub url: Option<String>,
    /// The URL it was created from, when Shopify kept it.
    pub original_source: Option<String>,
    /// `UPLOADED`, `PROCESSING`, `READY` or `FAILED`, when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Media {
    /// Whether the store failed to process it (it is not shown, and a
    /// write gives its source again).
    pub fn failed(&self) -> bool {
        self.status.as_deref() == Some("FAILED")
    }

    /// The content key of the embedded image it was uploaded from, if it
    /// was (`mapsync-<key>.<ext>`, see [`mapsync_core::image`]).
    pub fn embedded_key(&self) -> Option<&str> {
        [self.original_source.as_deref(), self.url.as_deref()]
            .into_iter()
            .flatten()
            .find_map(mapsync_core::image::key_in_url)
    }
}

/// The full current state of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: String,
    pub handle: String,
    pub title: String,
    pub body_html: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    pub status: String,
    pub template_suffix: Option<String>,
    pub gift_card: bool,
    /// Its page in the online store, while published there.
    pub online_store_url: Option<String>,
    pub updated_at: Option<String>,
    pub seo: Seo,
    pub options: Vec<ProductOption>,
    pub variants: Vec<Variant>,
    pub media: Vec<Media>,
    pub metafields: Vec<Metafield>,
    /// Ids of the collections the product belongs to.
    pub collections: Vec<String>,
}

impl Product {
    /// The ownership marker, from the metafields.
    pub fn marker(&self) -> Option<&str> {
        marker_of(&self.metafields)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub id: Option<String>,
    pub url: String,
    pub alt: Option<String>,
}

/// The full current state of one custom collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    pub id: String,
    pub handle: String,
    pub title: String,
    pub description_html: String,
    pub sort_order: String,
    pub template_suffix: Option<String>,
    pub updated_at: Option<String>,
    pub published: bool,
    /// A smart collection (has rules); mapsync only manages custom ones.
    pub smart: bool,
    pub seo: Seo,
    pub image: Option<Image>,
    pub metafields: Vec<Metafield>,
}

impl Collection {
    pub fn marker(&self) -> Option<&str> {
        marker_of(&self.metafields)
    }
}

fn marker_of(metafields: &[Metafield]) -> Option<&str> {
    metafields
        .iter()
        .find(|m| m.namespace == MARKER_NAMESPACE && m.key == MARKER_KEY)
        .map(|m| m.value.as_str())
}
