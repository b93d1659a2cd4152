//! Finding items by a field's values (`Target::find_by`, for `match:` of
//! docs/two-way.md): products by their main `sku` through `GET
//! /catalog/products?sku:in=` (a value holding a comma, which the list
//! cannot carry, through `sku=`); categories of the default tree by
//! `name` through `GET /catalog/trees/categories?name=` (one request a
//! value: the API has no list filter for names, and categories are few).
//! Each item comes with its ownership marker.

use mapsync_core::current::TargetItem;
use mapsync_core::Entity;
use serde_json::Value;

use super::read::{category_item, product_item};
use super::{BigCommerceTarget, Tally};
use crate::error::BcError;

/// SKUs of one `sku:in` request (the URL stays short).
const SKUS_PER_REQUEST: usize = 50;

/// What a product listing needs for a reduced item and its SKU.
const FIELDS: &str = "name,is_visible,custom_url,date_modified,sku";

impl BigCommerceTarget {
    /// The items of `entity` whose `field` equals one of `values`: (the
    /// value, the item). Other entities and fields find nothing.
    pub(crate) async fn find_by_field(
        &self,
        tally: &mut Tally<'_>,
        entity: Entity,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, BcError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        match (entity, field) {
            (Entity::Product, "sku") => self.products_by_sku(tally, values).await,
            (Entity::Category, "name") => self.categories_by_name(tally, values).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Categories of the default tree whose name equals one of `values`.
    async fn categories_by_name(
        &self,
        tally: &mut Tally<'_>,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, BcError> {
        let tree = self.tree_id(tally).await?;
        let mut rows: Vec<(String, Value)> = Vec::new();
        for v in values {
            let list = tally
                .get_all(
                    "/catalog/trees/categories",
                    &[("tree_id:in", tree.to_string()), ("name", v.clone())],
                )
                .await?;
            rows.extend(
                list.into_iter()
                    .filter(|c| c.get("name").and_then(Value::as_str) == Some(v.as_str()))
                    .map(|c| (v.clone(), c)),
            );
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let markers = self.markers(tally, "categories").await?;
        Ok(rows
            .iter()
            .filter_map(|(v, c)| Some((v.clone(), category_item(c, &markers)?)))
            .collect())
    }

    /// Products whose main SKU equals one of `values`.
    async fn products_by_sku(
        &self,
        tally: &mut Tally<'_>,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, BcError> {
        let (listable, single): (Vec<&String>, Vec<&String>) =
            values.iter().partition(|v| !v.contains(','));
        let mut rows: Vec<Value> = Vec::new();
        for chunk in listable.chunks(SKUS_PER_REQUEST) {
            let list = chunk
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(",");
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
