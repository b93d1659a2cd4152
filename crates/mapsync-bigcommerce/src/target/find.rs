//! Finding items by a field's values (`Target::find_by`, for `match:` of
//! docs/two-way.md): products by their main `sku` through `GET
//! /catalog/products?sku:in=` (a value holding a comma, which the list
//! cannot carry, through `sku=`), each with its ownership marker.

use mapsync_core::current::TargetItem;
use mapsync_core::Entity;
use serde_json::Value;

use super::read::product_item;
use super::{BigCommerceTarget, Tally};
use crate::error::BcError;

/// SKUs of one `sku:in` request (the URL stays short).
const SKUS_PER_REQUEST: usize = 50;

/// What a product listing needs for a reduced item and its SKU.
const FIELDS: &str = "name,is_visible,custom_url,date_modified,sku";

impl BigCommerceTarget {
    /// The products whose main SKU equals one of `values`: (the value, the
    /// item). Other entities and fields find nothing.
    pub(crate) async fn find_by_field(
        &self,
        tally: &mut Tally<'_>,
        entity: Entity,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, BcError> {
        if (entity, field) != (Entity::Product, "sku") || values.is_empty() {
            return Ok(Vec::new());
        }
        let (listable, single): (Vec<&String>, Vec<&String>) =
            values.iter().partition(|v| !v.contains(','));
        let mut rows: Vec<Value> = Vec::new();
        for chunk in listable.chunks(SKUS_PER_REQUEST) {
            let list = chunk.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(",");
            rows.extend(
                tally
                    .get_all(
                        "/catalog/products",
                        &[("sku:in", list), ("include_fields", FIELDS.to_string())],
                    )
                    .await?,
            );
        }
        for v in single {
            rows.extend(
                tally
                    .get_all(
                        "/catalog/products",
                        &[("sku", v.clone()), ("include_fields", FIELDS.to_string())],
                    )
                    .await?,
            );
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let markers = self.markers(tally, "products").await?;
        let mut out: Vec<(String, TargetItem)> = Vec::new();
        for p in &rows {
            let Some(sku) = p.get("sku").and_then(Value::as_str) else {
                continue;
            };
            let Some(value) = values.iter().find(|v| v.as_str() == sku) else {
                continue;
            };
            let Some(item) = product_item(p, &markers) else {
                continue;
            };
            if !out.iter().any(|(v, i)| v == value && i.id == item.id) {
                out.push((value.clone(), item));
            }
        }
        Ok(out)
    }
}
