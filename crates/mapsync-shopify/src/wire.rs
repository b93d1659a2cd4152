//! GraphQL answer shapes (serde) of our read documents and their conversion
//! into [`super::model`] values. Private to the connector: nothing here may
//! appear in a public signature.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::model;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Edge<T> {
    pub node: T,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection<T> {
    #[serde(default = "Vec::new")]
    pub edges: Vec<Edge<T>>,
    #[serde(default)]
    pub page_info: Option<PageInfo>,
}

impl<T> Connection<T> {
    pub fn next_cursor(&self) -> Option<String> {
        self.page_info
            .as_ref()
            .filter(|p| p.has_next_page)
            .and_then(|p| p.end_cursor.clone())
    }

    pub fn from_nodes(nodes: Vec<T>) -> Self {
        Self {
            edges: nodes.into_iter().map(|node| Edge { node }).collect(),
            page_info: None,
        }
    }

    pub fn into_nodes(self) -> Vec<T> {
        self.edges.into_iter().map(|e| e.node).collect()
    }
}

impl<T> Default for Connection<T> {
    fn default() -> Self {
        Self {
            edges: Vec::new(),
            page_info: None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Value {
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CountOf {
    pub count: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location {
    pub id: String,
    pub name: String,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
}

impl From<Location> for model::Location {
    fn from(l: Location) -> Self {
        Self {
            id: l.id,
            name: l.name,
            active: l.is_active,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReducedProduct {
    pub id: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub marker: Option<Value>,
}

impl From<ReducedProduct> for model::TargetItem {
    fn from(p: ReducedProduct) -> Self {
        Self {
            published: p.status == "ACTIVE",
            id: p.id,
            handle: p.handle,
            title: p.title,
            status: Some(p.status),
            marker: p.marker.map(|m| m.value),
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReducedCollection {
    pub id: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub rule_set: Option<serde_json::Value>,
    #[serde(default)]
    pub resource_publications_count: Option<CountOf>,
    #[serde(default)]
    pub marker: Option<Value>,
}

impl ReducedCollection {
    /// Smart collections (with a rule set) are not custom collections.
    pub fn is_custom(&self) -> bool {
        self.rule_set
            .as_ref()
            .is_none_or(serde_json::Value::is_null)
    }
}

impl From<ReducedCollection> for model::TargetItem {
    fn from(c: ReducedCollection) -> Self {
        Self {
            published: c.resource_publications_count.is_some_and(|n| n.count > 0),
            id: c.id,
            handle: c.handle,
            title: c.title,
            status: None,
            marker: c.marker.map(|m| m.value),
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Seo {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl From<Seo> for model::Seo {
    fn from(s: Seo) -> Self {
        Self {
            title: s.title,
            description: s.description,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProductOption {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Money {
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InventoryItem {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub tracked: bool,
    #[serde(default)]
    pub country_code_of_origin: Option<String>,
    #[serde(default)]
    pub harmonized_system_code: Option<String>,
    #[serde(default)]
    pub unit_cost: Option<Money>,
    #[serde(default = "yes")]
    pub requires_shipping: bool,
    #[serde(default)]
    pub province_code_of_origin: Option<String>,
    #[serde(default)]
    pub measurement: Option<Measurement>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Measurement {
    #[serde(default)]
    pub weight: Option<Weight>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Weight {
    pub value: serde_json::Number,
    pub unit: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Variant {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub compare_at_price: Option<String>,
    #[serde(default)]
    pub barcode: Option<String>,
    #[serde(default = "yes")]
    pub taxable: bool,
    #[serde(default)]
    pub inventory_policy: String,
    #[serde(default)]
    pub selected_options: Vec<NameValue>,
    #[serde(default)]
    pub inventory_item: Option<InventoryItem>,
}

impl From<Variant> for model::Variant {
    fn from(v: Variant) -> Self {
        Self {
            id: v.id,
            title: v.title,
            position: v.position,
            sku: v.sku,
            price: v.price,
            compare_at_price: v.compare_at_price,
            barcode: v.barcode,
            taxable: v.taxable,
            inventory_policy: v.inventory_policy,
            selected_options: v
                .selected_options
                .into_iter()
                .map(|o| model::SelectedOption {
                    name: o.name,
                    value: o.value,
                })
                .collect(),
            inventory_item: v.inventory_item.map(|i| model::InventoryItem {
                id: i.id,
                sku: i.sku,
                unit_cost: i.unit_cost.map(|m| model::Money {
                    amount: m.amount,
                    currency_code: m.currency_code,
                }),
                tracked: i.tracked,
                country_code_of_origin: i.country_code_of_origin,
                harmonized_system_code: i.harmonized_system_code,
                requires_shipping: i.requires_shipping,
                province_code_of_origin: i.province_code_of_origin,
                weight: i.measurement.and_then(|m| m.weight).map(|w| model::Weight {
                    value: w.value.to_string(),
                    unit: w.unit,
                }),
            }),
            inventory_levels: Vec::new(),
            metafields: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Url {
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Media {
    pub id: String,
    #[serde(default)]
    pub alt: Option<String>,
    #[serde(default)]
    pub media_content_type: String,
    #[serde(default)]
    pub image: Option<Url>,
    #[serde(default)]
    pub original_source: Option<Url>,
    #[serde(default)]
    pub status: Option<String>,
}

impl From<Media> for model::Media {
    fn from(m: Media) -> Self {
        Self {
            id: m.id,
            alt: m.alt,
            content_type: m.media_content_type,
            url: m.image.and_then(|u| u.url),
            original_source: m.original_source.and_then(|u| u.url),
            status: m.status,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Metafield {
    #[serde(default)]
    pub id: Option<String>,
    pub namespace: String,
    pub key: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub value: String,
}

impl From<Metafield> for model::Metafield {
    fn from(m: Metafield) -> Self {
        Self {
            id: m.id,
            namespace: m.namespace,
            key: m.key,
            kind: m.kind,
            value: m.value,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Id {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Product {
    pub id: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description_html: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub product_type: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub template_suffix: Option<String>,
    #[serde(default)]
    pub is_gift_card: bool,
    #[serde(default)]
    pub online_store_url: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub seo: Option<Seo>,
    #[serde(default)]
    pub options: Vec<ProductOption>,
    #[serde(default)]
    pub variants: Connection<Variant>,
    #[serde(default)]
    pub media: Connection<Media>,
    #[serde(default)]
    pub metafields: Connection<Metafield>,
    #[serde(default)]
    pub collections: Connection<Id>,
}

/// Cursors of a product's connections that have more pages.
#[derive(Debug, Default)]
pub(crate) struct ProductOverflow {
    pub variants: Option<String>,
    pub media: Option<String>,
    pub metafields: Option<String>,
    pub collections: Option<String>,
}

impl Product {
    pub fn into_model(self) -> (model::Product, ProductOverflow) {
        let overflow = ProductOverflow {
            variants: self.variants.next_cursor(),
            media: self.media.next_cursor(),
            metafields: self.metafields.next_cursor(),
            collections: self.collections.next_cursor(),
        };
        let product = model::Product {
            id: self.id,
            handle: self.handle,
            title: self.title,
            body_html: self.description_html,
            vendor: self.vendor,
            product_type: self.product_type,
            tags: self.tags,
            status: self.status,
            template_suffix: self.template_suffix,
            gift_card: self.is_gift_card,
            online_store_url: self.online_store_url,
            updated_at: self.updated_at,
            seo: self.seo.unwrap_or_default().into(),
            options: self
                .options
                .into_iter()
                .map(|o| model::ProductOption {
                    name: o.name,
                    values: o.values,
                })
                .collect(),
            variants: self
                .variants
                .into_nodes()
                .into_iter()
                .map(Into::into)
                .collect(),
            media: self
                .media
                .into_nodes()
                .into_iter()
                .map(Into::into)
                .collect(),
            metafields: self
                .metafields
                .into_nodes()
                .into_iter()
                .map(Into::into)
                .collect(),
            collections: self
                .collections
                .into_nodes()
                .into_iter()
                .map(|c| c.id)
                .collect(),
        };
        (product, overflow)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Quantity {
    pub name: String,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Level {
    pub location: Id,
    #[serde(default)]
    pub quantities: Vec<Quantity>,
}

impl From<Level> for model::InventoryLevel {
    fn from(l: Level) -> Self {
        Self {
            location_id: l.location.id,
            quantities: l
                .quantities
                .into_iter()
                .map(|q| (q.name, q.quantity))
                .collect::<BTreeMap<_, _>>(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DetailItem {
    pub id: String,
    #[serde(default)]
    pub inventory_levels: Connection<Level>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VariantDetail {
    pub id: String,
    #[serde(default)]
    pub inventory_item: Option<DetailItem>,
    #[serde(default)]
    pub metafields: Connection<Metafield>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Image {
    #[serde(default)]
    pub id: Option<String>,
    pub url: String,
    #[serde(default, rename = "altText")]
    pub alt_text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Collection {
    pub id: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description_html: String,
    #[serde(default)]
    pub sort_order: String,
    #[serde(default)]
    pub template_suffix: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub seo: Option<Seo>,
    #[serde(default)]
    pub image: Option<Image>,
    #[serde(default)]
    pub rule_set: Option<serde_json::Value>,
    #[serde(default)]
    pub resource_publications_count: Option<CountOf>,
    #[serde(default)]
    pub metafields: Connection<Metafield>,
}

impl Collection {
    pub fn into_model(self) -> (model::Collection, Option<String>) {
        let more = self.metafields.next_cursor();
        let collection = model::Collection {
            smart: self.rule_set.as_ref().is_some_and(|r| !r.is_null()),
            published: self
                .resource_publications_count
                .is_some_and(|n| n.count > 0),
            id: self.id,
            handle: self.handle,
            title: self.title,
            description_html: self.description_html,
            sort_order: self.sort_order,
            template_suffix: self.template_suffix,
            updated_at: self.updated_at,
            seo: self.seo.unwrap_or_default().into(),
            image: self.image.map(|i| model::Image {
                id: i.id,
                url: i.url,
                alt: i.alt_text,
            }),
            metafields: self
                .metafields
                .into_nodes()
                .into_iter()
                .map(Into::into)
                .collect(),
        };
        (collection, more)
    }
}
