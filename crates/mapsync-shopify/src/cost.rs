//! Calculated query cost of our documents, computed the way Shopify and the
//! sandbox do (object 1, scalar/enum 0, connection `2 + first × node`, lists
//! of objects × their size, mutation 10 + its payload object + selection), and the page/batch
//! sizes that keep every request at or below [`MAX_QUERY_COST`].
//! `tests/shopify/graphql_documents.rs` checks each formula against a cost walker
//! over the real schema. Pure arithmetic: no I/O, no knowledge of the client.

/// Shopify refuses a single query whose requested cost is above this.
pub const MAX_QUERY_COST: u32 = 1000;
/// Largest `first` Shopify accepts on a connection; also the `nodes(ids:)` cap.
pub const MAX_PAGE: u32 = 250;
/// Plain lists without a `first` argument are bounded by Shopify's limits:
/// at most three product options, so at most three selected options.
pub const MAX_OPTIONS: u32 = 3;

/// Page sizes of the full read. Larger pages mean fewer requests but a larger
/// requested cost (and so fewer products per batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullReadShape {
    pub variants_first: u32,
    pub media_first: u32,
    pub metafields_first: u32,
    pub collections_first: u32,
    pub variant_metafields_first: u32,
    pub levels_first: u32,
    /// Inventory quantity names read per level (`available`, `on_hand`, ...).
    pub quantity_names: Vec<String>,
    pub collection_metafields_first: u32,
}

impl Default for FullReadShape {
    fn default() -> Self {
        Self {
            variants_first: 10,
            media_first: 10,
            metafields_first: 25,
            collections_first: 10,
            variant_metafields_first: 10,
            levels_first: 5,
            quantity_names: vec!["available".to_owned()],
            collection_metafields_first: 25,
        }
    }
}

impl FullReadShape {
    /// The shape with `levels_first` sized to the shop's location count.
    pub fn for_locations(mut self, locations: usize) -> Self {
        self.levels_first = (locations.max(1) as u32).min(50);
        self
    }

    fn names(&self) -> u32 {
        self.quantity_names.len().max(1) as u32
    }
}

/// `ProductsReduced` / `bulk_products_reduced`.
pub fn products_reduced(first: u32) -> u32 {
    2 + first * 2
}

/// `CollectionsReduced`.
pub fn collections_reduced(first: u32) -> u32 {
    2 + first * 4
}

/// `ChangeToken`: two counts and two connections of one node.
pub fn change_token() -> u32 {
    1 + 1 + (2 + 1) + (2 + 1)
}

/// `VariantsBySku`: a variant, its product and the product's marker.
pub fn variants_by_sku(first: u32) -> u32 {
    2 + first * 3
}

/// `Locations`.
pub fn locations(first: u32) -> u32 {
    2 + first
}

/// `ProductByIdentifier`.
pub fn product_by_identifier() -> u32 {
    2
}

/// `CurrentBulkOperation`, `ShopInfo`.
pub fn single_object() -> u32 {
    1
}

/// `BulkOperationRunQuery`.
pub fn bulk_operation_run_query() -> u32 {
    13
}

/// One variant as `ProductsFull`, `ProductVariantsPage` and the bulk export
/// read it: the variant, selectedOptions, inventoryItem, unitCost,
/// measurement and weight.
pub const VARIANT_FULL: u32 = 8;

/// `ProductsFull`, per product id.
pub fn product_full_each(shape: &FullReadShape) -> u32 {
    13 + VARIANT_FULL * shape.variants_first
        + 3 * shape.media_first
        + shape.metafields_first
        + shape.collections_first
}

/// `ProductsFull` for `ids` products.
pub fn products_full(shape: &FullReadShape, ids: u32) -> u32 {
    ids * product_full_each(shape)
}

/// `VariantsDetail`, per variant id.
pub fn variant_detail_each(shape: &FullReadShape) -> u32 {
    6 + shape.levels_first * (2 + shape.names()) + shape.variant_metafields_first
}

/// `VariantsDetail` for `ids` variants.
pub fn variants_detail(shape: &FullReadShape, ids: u32) -> u32 {
    ids * variant_detail_each(shape)
}

/// `CollectionsFull`, per collection id.
pub fn collection_full_each(shape: &FullReadShape) -> u32 {
    7 + shape.collection_metafields_first
}

/// `CollectionsFull` for `ids` collections.
pub fn collections_full(shape: &FullReadShape, ids: u32) -> u32 {
    ids * collection_full_each(shape)
}

/// `ProductVariantsPage`.
pub fn product_variants_page(first: u32) -> u32 {
    3 + VARIANT_FULL * first
}

/// `ProductMediaPage`.
pub fn product_media_page(first: u32) -> u32 {
    3 + 3 * first
}

/// `ProductMediaStatus`.
pub fn product_media_status(first: u32) -> u32 {
    3 + 4 * first
}

/// `ProductCollectionsPage` and `MetafieldsPage`.
pub fn id_list_page(first: u32) -> u32 {
    3 + first
}

/// `InventoryLevelsPage`.
pub fn inventory_levels_page(shape: &FullReadShape, first: u32) -> u32 {
    3 + first * (2 + shape.names())
}

/// `ProductSet` returning `variants_first` variants.
pub fn product_set(variants_first: u32) -> u32 {
    16 + 5 * variants_first
}

/// How many ids of `each` cost fit in one request (at least 1, at most 250).
pub fn batch_size(each: u32) -> usize {
    (MAX_QUERY_COST / each.max(1)).clamp(1, MAX_PAGE) as usize
}

/// The largest `first` for a page whose cost is `fixed + first × per_node`.
pub fn page_size(fixed: u32, per_node: u32) -> u32 {
    (MAX_QUERY_COST.saturating_sub(fixed) / per_node.max(1)).clamp(1, MAX_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shape_fits_several_products_per_request() {
        let shape = FullReadShape::default();
        let batch = batch_size(product_full_each(&shape));
        assert!(batch >= 5, "{batch}");
        assert!(products_full(&shape, batch as u32) <= MAX_QUERY_COST);
        let vbatch = batch_size(variant_detail_each(&shape.clone().for_locations(3)));
        assert!(variants_detail(&shape.for_locations(3), vbatch as u32) <= MAX_QUERY_COST);
    }

    #[test]
    fn page_sizes_stay_under_the_cap() {
        assert_eq!(page_size(2, 2), 250);
        assert_eq!(page_size(3, VARIANT_FULL), 124);
        assert!(product_variants_page(page_size(3, VARIANT_FULL)) <= MAX_QUERY_COST);
        assert!(collections_reduced(page_size(2, 4)) <= MAX_QUERY_COST);
        assert!(collections_reduced(250) > MAX_QUERY_COST);
        assert!(products_reduced(250) <= MAX_QUERY_COST);
        assert_eq!(batch_size(5000), 1);
    }
}

/// `productSet`'s requested cost in 2026-04 for `input` (from 2025-10, as
/// its description in the schema says): `10 + 0.2 per variant + 0.6 per
/// variant file + 0.4 per variant metafield + 0.4 per product metafield +
/// 1.9 per product file`, rounded up, plus the payload selection
/// ([`product_set`] with one variant, less its flat 10). The limiter
/// reserves this before sending; the answer's actual cost replaces it.
pub fn product_set_input(input: &serde_json::Value) -> u32 {
    let list = |v: &serde_json::Value, key: &str| -> usize {
        v.get(key).and_then(|x| x.as_array()).map_or(0, Vec::len)
    };
    let variants = input
        .get("variants")
        .and_then(|v| v.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let variant_files = variants
        .iter()
        .filter(|v| v.get("file").is_some_and(|f| !f.is_null()))
        .count();
    let variant_metafields: usize = variants.iter().map(|v| list(v, "metafields")).sum();
    let tenths = 100
        + 2 * variants.len()
        + 6 * variant_files
        + 4 * variant_metafields
        + 4 * list(input, "metafields")
        + 19 * list(input, "files");
    u32::try_from(tenths.div_ceil(10)).unwrap_or(u32::MAX) + product_set(1) - 10
}

#[cfg(test)]
mod product_set_tests {
    use super::*;

    #[test]
    fn product_set_cost_follows_the_2026_04_formula() {
        let selection = product_set(1) - 10;
        assert_eq!(product_set_input(&serde_json::json!({})), 10 + selection);
        let input = serde_json::json!({
            "variants": [{"metafields": [{}, {}], "file": {}}, {}],
            "metafields": [{}, {}, {}],
            "files": [{}],
        });
        // 10 + 0.4 + 0.6 + 0.8 + 1.2 + 1.9 = 14.9, rounded up to 15.
        assert_eq!(product_set_input(&input), 15 + selection);
    }
}
