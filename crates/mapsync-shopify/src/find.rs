//! Finding items by a field's values (`Target::find_by`, for `match:` of
//! docs/two-way.md): products by a variant's `sku` through
//! `productVariants(query:)`, products and custom collections by `handle`
//! through `products(query:)` / `collections(query:)`. The values of one
//! request are OR-ed in Shopify's search syntax; the search only narrows,
//! the exact comparison of the field decides.

use serde::Deserialize;
use serde_json::json;
use tracing::debug;

use crate::cost;
use crate::documents;
use crate::error::ShopifyError;
use crate::model::TargetItem;
use crate::read::{search_value, ShopifyTarget};
use crate::wire;
use mapsync_core::Entity;

/// Values OR-ed into one search (Shopify bounds the length of a query).
const VALUES_PER_SEARCH: usize = 25;

#[derive(Debug, Deserialize)]
struct SkuNode {
    #[serde(default)]
    sku: Option<String>,
    product: wire::ReducedProduct,
}

/// `field:'a' OR field:'b' ...`.
fn search(field: &str, values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("{field}:{}", search_value(v)))
        .collect::<Vec<_>>()
        .join(" OR ")
}

impl ShopifyTarget {
    /// The items of `entity` whose `field` equals one of `values`: (the
    /// value, the item), an item once per value it has. Fields:
    /// `Capabilities::matchable` of `port.rs`; any other finds nothing.
    pub async fn find_by_field(
        &self,
        entity: Entity,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, ShopifyError> {
        let mut out = Vec::new();
        for chunk in values.chunks(VALUES_PER_SEARCH) {
            let query = search(field, chunk);
            match (entity, field) {
                (Entity::Product, "sku") => {
                    let first = cost::page_size(2, 3);
                    let nodes: Vec<SkuNode> = self
                        .all_pages(
                            &documents::VARIANTS_BY_SKU,
                            json!({ "query": query }),
                            first,
                            cost::variants_by_sku(first),
                            "/productVariants",
                            None,
                        )
                        .await?;
                    for n in nodes {
                        let Some(sku) = n.sku else { continue };
                        if let Some(v) = chunk.iter().find(|v| **v == sku) {
                            let item = TargetItem::from(n.product);
                            if !out
                                .iter()
                                .any(|(ov, o): &(String, TargetItem)| *ov == *v && o.id == item.id)
                            {
                                out.push((v.clone(), item));
                            }
                        }
                    }
                }
                (Entity::Product, "handle") => {
                    let first = cost::page_size(2, 2);
                    let rows: Vec<wire::ReducedProduct> = self
                        .all_pages(
                            &documents::PRODUCTS_REDUCED,
                            json!({ "query": query }),
                            first,
                            cost::products_reduced(first),
                            "/products",
                            None,
                        )
                        .await?;
                    for item in rows.into_iter().map(TargetItem::from) {
                        if let Some(v) = chunk.iter().find(|v| **v == item.handle) {
                            out.push((v.clone(), item));
                        }
                    }
                }
                (Entity::Category, "handle") => {
                    let rows = self.collections_query(&query).await?;
                    for item in rows
                        .into_iter()
                        .filter(wire::ReducedCollection::is_custom)
                        .map(TargetItem::from)
                    {
                        if let Some(v) = chunk.iter().find(|v| **v == item.handle) {
                            out.push((v.clone(), item));
                        }
                    }
                }
                _ => return Ok(Vec::new()),
            }
        }
        debug!(
            entity = entity.as_str(),
            field,
            values = values.len(),
            found = out.len(),
            "found by field"
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_or_ed_and_quoted() {
        assert_eq!(
            search("sku", &["A-1".into(), "it's".into()]),
            r"sku:'A-1' OR sku:'it\'s'"
        );
    }
}
