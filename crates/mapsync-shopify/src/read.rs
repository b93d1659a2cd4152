//! The read side of the `shopify` target ([`ShopifyTarget`]): locations, the
//! reduced read (paged with `first: 250` and cursors, or a bulk export above
//! a configurable item count), the full read of given ids (`nodes(ids:)` in
//! batches sized so each request costs at most 1000 points, then overflow
//! pages and variant details), and lookups by marker or handle. It must not
//! write anything nor decide what to change.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use tracing::{debug, info};

use super::bulk::{self, BulkNode, BulkOptions};
use super::client::ShopifyClient;
use super::cost::{self, FullReadShape};
use super::documents::{self, Document};
use super::error::ShopifyError;
use super::model::{self, Catalog, Collection, Location, Product, TargetItem};
use super::wire;
use mapsync_core::target::ReadHint;

/// Paging or bulk for the reduced read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Bulk when the hint says at least `bulk_threshold` items, else paging.
    #[default]
    Auto,
    Paginate,
    Bulk,
}

/// Tuning of the read side.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub shape: FullReadShape,
    pub mode: ReadMode,
    /// Expected item count from which [`ReadMode::Auto`] uses a bulk export.
    pub bulk_threshold: usize,
    pub bulk: BulkOptions,
    /// Product creates and updates of one run from which they go through a
    /// bulk import (`bulkOperationRunMutation`); 0: never.
    pub bulk_import_threshold: usize,
    /// Lines of one bulk import file (at most
    /// [`crate::bulk_write::MAX_LINES`]; files are also cut at
    /// [`crate::bulk_write::MAX_BYTES`]).
    pub bulk_import_file_lines: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            shape: FullReadShape::default(),
            mode: ReadMode::Auto,
            bulk_threshold: 5000,
            bulk: BulkOptions::default(),
            bulk_import_threshold: crate::bulk_write::DEFAULT_THRESHOLD,
            bulk_import_file_lines: crate::bulk_write::MAX_LINES,
        }
    }
}

/// The `shopify` target's read side. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ShopifyTarget {
    client: ShopifyClient,
    options: Arc<ReadOptions>,
    locations: Arc<OnceCell<Vec<Location>>>,
    /// Whether products can be upserted by the ownership marker
    /// (`productSet(identifier: {customId})`): a `mapsync.key` definition
    /// with unique values exists or was created. Decided on first create.
    pub(crate) marker_upsert: Arc<OnceCell<bool>>,
    /// Bulk imports this process started: a running import found after a
    /// lost submit is only taken as that submit's when it is not one of
    /// these (the previous file may still be running).
    pub(crate) bulk_submitted: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

#[derive(Deserialize)]
struct ProductByIdentifierData {
    #[serde(rename = "productByIdentifier")]
    product: Option<wire::ReducedProduct>,
}

impl ShopifyTarget {
    pub fn new(client: ShopifyClient, options: ReadOptions) -> Self {
        Self {
            client,
            options: Arc::new(options),
            locations: Arc::new(OnceCell::new()),
            marker_upsert: Arc::new(OnceCell::new()),
            bulk_submitted: Arc::default(),
        }
    }

    pub fn client(&self) -> &ShopifyClient {
        &self.client
    }

    /// The tuning this target was made with.
    pub fn read_options(&self) -> &ReadOptions {
        &self.options
    }

    /// One page of a connection found at `pointer` in the answer's data
    /// (`/products`, `/node/variants`); a `null` there is an empty page.
    async fn page<T: DeserializeOwned>(
        &self,
        doc: &Document,
        variables: Value,
        cost: u32,
        pointer: &str,
    ) -> Result<wire::Connection<T>, ShopifyError> {
        let answer = self.client.execute::<Value>(doc, variables, cost).await?;
        match answer.data.pointer(pointer) {
            None | Some(Value::Null) => Ok(wire::Connection::default()),
            Some(value) => {
                T::deserialize_connection(value.clone()).map_err(|e| ShopifyError::Decode {
                    operation: doc.name,
                    request_id: answer.request_id.clone(),
                    message: format!("{pointer}: {e}"),
                })
            }
        }
    }

    /// Every node of a connection, following cursors from `after`.
    pub(crate) async fn all_pages<T: DeserializeOwned>(
        &self,
        doc: &Document,
        variables: Value,
        first: u32,
        cost: u32,
        pointer: &str,
        mut after: Option<String>,
    ) -> Result<Vec<T>, ShopifyError> {
        let mut nodes = Vec::new();
        let mut pages = 0u32;
        loop {
            let mut vars = variables.clone();
            vars["first"] = json!(first);
            vars["after"] = json!(after);
            let page: wire::Connection<T> = self.page(doc, vars, cost, pointer).await?;
            pages += 1;
            after = page.next_cursor();
            nodes.extend(page.into_nodes());
            if after.is_none() {
                break;
            }
        }
        debug!(
            operation = doc.name,
            pages,
            nodes = nodes.len(),
            "read all pages"
        );
        Ok(nodes)
    }

    async fn cached_locations(&self) -> Result<&Vec<Location>, ShopifyError> {
        self.locations
            .get_or_try_init(|| async {
                let first = cost::page_size(2, 1);
                let all: Vec<wire::Location> = self
                    .all_pages(
                        &documents::LOCATIONS,
                        json!({}),
                        first,
                        cost::locations(first),
                        "/locations",
                        None,
                    )
                    .await?;
                Ok(all
                    .into_iter()
                    .map(Location::from)
                    .filter(|l| l.active)
                    .collect())
            })
            .await
    }

    fn use_bulk(&self, expected: Option<usize>) -> bool {
        match self.options.mode {
            ReadMode::Paginate => false,
            ReadMode::Bulk => true,
            ReadMode::Auto => expected.is_some_and(|n| n >= self.options.bulk_threshold),
        }
    }

    /// Every product, reduced.
    pub async fn products_reduced(&self, bulk: bool) -> Result<Vec<TargetItem>, ShopifyError> {
        let rows: Vec<wire::ReducedProduct> = if bulk {
            let nodes = bulk::run_bulk_query(
                &self.client,
                &documents::BULK_PRODUCTS_REDUCED,
                &self.options.bulk,
            )
            .await?;
            from_bulk(nodes, documents::BULK_PRODUCTS_REDUCED.name)?
        } else {
            let first = cost::page_size(2, 2);
            self.all_pages(
                &documents::PRODUCTS_REDUCED,
                json!({"query": null}),
                first,
                cost::products_reduced(first),
                "/products",
                None,
            )
            .await?
        };
        Ok(rows.into_iter().map(TargetItem::from).collect())
    }

    /// Every custom collection, reduced.
    pub async fn collections_reduced(&self, bulk: bool) -> Result<Vec<TargetItem>, ShopifyError> {
        let rows = if bulk {
            let nodes = bulk::run_bulk_query(
                &self.client,
                &documents::BULK_COLLECTIONS_REDUCED,
                &self.options.bulk,
            )
            .await?;
            from_bulk(nodes, documents::BULK_COLLECTIONS_REDUCED.name)?
        } else {
            self.collections_query("collection_type:custom").await?
        };
        Ok(rows
            .into_iter()
            .filter(wire::ReducedCollection::is_custom)
            .map(TargetItem::from)
            .collect())
    }

    pub(crate) async fn collections_query(
        &self,
        query: &str,
    ) -> Result<Vec<wire::ReducedCollection>, ShopifyError> {
        let first = cost::page_size(2, 4);
        self.all_pages(
            &documents::COLLECTIONS_REDUCED,
            json!({ "query": query }),
            first,
            cost::collections_reduced(first),
            "/collections",
            None,
        )
        .await
    }

    async fn product_by_identifier(
        &self,
        identifier: Value,
    ) -> Result<Option<TargetItem>, ShopifyError> {
        let answer = self
            .client
            .execute::<ProductByIdentifierData>(
                &documents::PRODUCT_BY_IDENTIFIER,
                json!({ "identifier": identifier }),
                cost::product_by_identifier(),
            )
            .await?;
        Ok(answer.data.product.map(TargetItem::from))
    }

    /// Full read of products (see [`Target::read_products`]).
    async fn products_full(&self, ids: &[String]) -> Result<Vec<Product>, ShopifyError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let locations = self.cached_locations().await?.len();
        let shape = self.options.shape.clone().for_locations(locations);
        let batch = cost::batch_size(cost::product_full_each(&shape));
        let mut tasks = tokio::task::JoinSet::new();
        for (n, chunk) in ids.chunks(batch).enumerate() {
            let this = self.clone();
            let shape = shape.clone();
            let chunk = chunk.to_vec();
            tasks.spawn(async move { (n, this.products_batch(&shape, chunk).await) });
        }
        let mut batches = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (n, result) =
                joined.map_err(|e| ShopifyError::Config(format!("read task failed: {e}")))?;
            batches.push((n, result?));
        }
        batches.sort_by_key(|(n, _)| *n);
        let mut products: Vec<Product> = batches.into_iter().flat_map(|(_, p)| p).collect();
        self.fill_variant_details(&shape, &mut products).await?;
        info!(
            requested = ids.len(),
            found = products.len(),
            "full product read"
        );
        Ok(products)
    }

    async fn products_batch(
        &self,
        shape: &FullReadShape,
        ids: Vec<String>,
    ) -> Result<Vec<Product>, ShopifyError> {
        let count = ids.len() as u32;
        let answer = self
            .client
            .execute::<NodesData>(
                &documents::PRODUCTS_FULL,
                json!({
                    "ids": ids,
                    "variantsFirst": shape.variants_first,
                    "mediaFirst": shape.media_first,
                    "metafieldsFirst": shape.metafields_first,
                    "collectionsFirst": shape.collections_first,
                }),
                cost::products_full(shape, count),
            )
            .await?;
        let mut products = Vec::new();
        for node in answer.data.nodes.into_iter().flatten() {
            if node.get("id").is_none() {
                continue; // not a product
            }
            let wire: wire::Product =
                serde_json::from_value(node).map_err(|e| ShopifyError::Decode {
                    operation: documents::PRODUCTS_FULL.name,
                    request_id: answer.request_id.clone(),
                    message: e.to_string(),
                })?;
            let (mut product, overflow) = wire.into_model();
            self.product_overflow(&mut product, overflow).await?;
            products.push(product);
        }
        Ok(products)
    }

    async fn product_overflow(
        &self,
        product: &mut Product,
        overflow: wire::ProductOverflow,
    ) -> Result<(), ShopifyError> {
        let id = json!({ "id": product.id });
        if let Some(after) = overflow.variants {
            let first = cost::page_size(3, cost::VARIANT_FULL);
            let more: Vec<wire::Variant> = self
                .all_pages(
                    &documents::PRODUCT_VARIANTS_PAGE,
                    id.clone(),
                    first,
                    cost::product_variants_page(first),
                    "/node/variants",
                    Some(after),
                )
                .await?;
            product.variants.extend(more.into_iter().map(Into::into));
        }
        if let Some(after) = overflow.media {
            let first = cost::page_size(3, 3);
            let more: Vec<wire::Media> = self
                .all_pages(
                    &documents::PRODUCT_MEDIA_PAGE,
                    id.clone(),
                    first,
                    cost::product_media_page(first),
                    "/node/media",
                    Some(after),
                )
                .await?;
            product.media.extend(more.into_iter().map(Into::into));
        }
        if let Some(after) = overflow.metafields {
            product
                .metafields
                .extend(self.more_metafields(&product.id, after).await?);
        }
        if let Some(after) = overflow.collections {
            let first = cost::page_size(3, 1);
            let more: Vec<wire::Id> = self
                .all_pages(
                    &documents::PRODUCT_COLLECTIONS_PAGE,
                    id,
                    first,
                    cost::id_list_page(first),
                    "/node/collections",
                    Some(after),
                )
                .await?;
            product.collections.extend(more.into_iter().map(|c| c.id));
        }
        Ok(())
    }

    async fn more_metafields(
        &self,
        owner: &str,
        after: String,
    ) -> Result<Vec<model::Metafield>, ShopifyError> {
        let first = cost::page_size(3, 1);
        let more: Vec<wire::Metafield> = self
            .all_pages(
                &documents::METAFIELDS_PAGE,
                json!({ "id": owner }),
                first,
                cost::id_list_page(first),
                "/node/metafields",
                Some(after),
            )
            .await?;
        Ok(more.into_iter().map(Into::into).collect())
    }

    /// Phase 2: inventory levels and metafields of every variant.
    async fn fill_variant_details(
        &self,
        shape: &FullReadShape,
        products: &mut [Product],
    ) -> Result<(), ShopifyError> {
        let ids: Vec<String> = products
            .iter()
            .flat_map(|p| p.variants.iter().map(|v| v.id.clone()))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let batch = cost::batch_size(cost::variant_detail_each(shape));
        let mut details: HashMap<String, wire::VariantDetail> = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in ids.chunks(batch) {
            let this = self.clone();
            let shape = shape.clone();
            let chunk = chunk.to_vec();
            tasks.spawn(async move { this.variant_details_batch(&shape, chunk).await });
        }
        while let Some(joined) = tasks.join_next().await {
            let found =
                joined.map_err(|e| ShopifyError::Config(format!("read task failed: {e}")))??;
            details.extend(found.into_iter().map(|d| (d.id.clone(), d)));
        }
        for variant in products.iter_mut().flat_map(|p| p.variants.iter_mut()) {
            let Some(detail) = details.remove(&variant.id) else {
                continue;
            };
            let more_metafields = detail.metafields.next_cursor();
            variant.metafields = detail
                .metafields
                .into_nodes()
                .into_iter()
                .map(Into::into)
                .collect();
            if let Some(after) = more_metafields {
                variant
                    .metafields
                    .extend(self.more_metafields(&variant.id, after).await?);
            }
            if let Some(item) = detail.inventory_item {
                let more_levels = item.inventory_levels.next_cursor();
                variant.inventory_levels = item
                    .inventory_levels
                    .into_nodes()
                    .into_iter()
                    .map(Into::into)
                    .collect();
                if let Some(after) = more_levels {
                    let first = cost::page_size(3, 2 + shape.quantity_names.len().max(1) as u32);
                    let more: Vec<wire::Level> = self
                        .all_pages(
                            &documents::INVENTORY_LEVELS_PAGE,
                            json!({ "id": item.id, "quantityNames": shape.quantity_names }),
                            first,
                            cost::inventory_levels_page(shape, first),
                            "/node/inventoryLevels",
                            Some(after),
                        )
                        .await?;
                    variant
                        .inventory_levels
                        .extend(more.into_iter().map(Into::into));
                }
            }
        }
        Ok(())
    }

    async fn variant_details_batch(
        &self,
        shape: &FullReadShape,
        ids: Vec<String>,
    ) -> Result<Vec<wire::VariantDetail>, ShopifyError> {
        let count = ids.len() as u32;
        let answer = self
            .client
            .execute::<NodesData>(
                &documents::VARIANTS_DETAIL,
                json!({
                    "ids": ids,
                    "levelsFirst": shape.levels_first,
                    "quantityNames": shape.quantity_names,
                    "metafieldsFirst": shape.variant_metafields_first,
                }),
                cost::variants_detail(shape, count),
            )
            .await?;
        decode_nodes(
            answer.data.nodes,
            documents::VARIANTS_DETAIL.name,
            &answer.request_id,
        )
    }

    async fn collections_full(&self, ids: &[String]) -> Result<Vec<Collection>, ShopifyError> {
        let shape = &self.options.shape;
        let batch = cost::batch_size(cost::collection_full_each(shape));
        let mut collections = Vec::new();
        for chunk in ids.chunks(batch) {
            let answer = self
                .client
                .execute::<NodesData>(
                    &documents::COLLECTIONS_FULL,
                    json!({ "ids": chunk, "metafieldsFirst": shape.collection_metafields_first }),
                    cost::collections_full(shape, chunk.len() as u32),
                )
                .await?;
            let wires: Vec<wire::Collection> = decode_nodes(
                answer.data.nodes,
                documents::COLLECTIONS_FULL.name,
                &answer.request_id,
            )?;
            for wire in wires {
                let (mut collection, more) = wire.into_model();
                if let Some(after) = more {
                    collection
                        .metafields
                        .extend(self.more_metafields(&collection.id, after).await?);
                }
                collections.push(collection);
            }
        }
        Ok(collections)
    }
}

/// Turns the trees of a `bulk_products_full` export into products: children
/// are sorted into variants, media, metafields and collections by the type
/// in their global id. Inventory levels and variant metafields are not in
/// the export (five-connection limit); [`ShopifyTarget::all_products_bulk`]
/// adds them with `VariantsDetail`.
pub fn products_from_bulk(nodes: Vec<BulkNode>) -> Result<Vec<Product>, ShopifyError> {
    let label = documents::BULK_PRODUCTS_FULL.name;
    let bad = |e: serde_json::Error| ShopifyError::Bulk {
        id: String::new(),
        message: format!("{label}: {e}"),
    };
    let mut products = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut variants = Vec::new();
        let mut media = Vec::new();
        let mut metafields = Vec::new();
        let mut collections = Vec::new();
        for child in node.children {
            let kind = child.gid_type().unwrap_or_default().to_owned();
            let value = Value::Object(child.value);
            match kind.as_str() {
                "ProductVariant" => {
                    variants.push(serde_json::from_value::<wire::Variant>(value).map_err(bad)?)
                }
                "Metafield" => {
                    metafields.push(serde_json::from_value::<wire::Metafield>(value).map_err(bad)?)
                }
                "Collection" => {
                    collections.push(serde_json::from_value::<wire::Id>(value).map_err(bad)?)
                }
                "MediaImage" | "Video" | "ExternalVideo" | "Model3d" => {
                    media.push(serde_json::from_value::<wire::Media>(value).map_err(bad)?)
                }
                other => {
                    return Err(ShopifyError::Bulk {
                        id: String::new(),
                        message: format!("{label}: unexpected child type `{other}`"),
                    })
                }
            }
        }
        let mut wire: wire::Product =
            serde_json::from_value(Value::Object(node.value)).map_err(bad)?;
        wire.variants = wire::Connection::from_nodes(variants);
        wire.media = wire::Connection::from_nodes(media);
        wire.metafields = wire::Connection::from_nodes(metafields);
        wire.collections = wire::Connection::from_nodes(collections);
        products.push(wire.into_model().0);
    }
    Ok(products)
}

impl ShopifyTarget {
    /// Every product, full, through one bulk export plus `VariantsDetail`
    /// batches: the cheap way to read a whole large catalog.
    pub async fn all_products_bulk(&self) -> Result<Vec<Product>, ShopifyError> {
        let nodes = bulk::run_bulk_query(
            &self.client,
            &documents::BULK_PRODUCTS_FULL,
            &self.options.bulk,
        )
        .await?;
        let mut products = products_from_bulk(nodes)?;
        let locations = self.cached_locations().await?.len();
        let shape = self.options.shape.clone().for_locations(locations);
        self.fill_variant_details(&shape, &mut products).await?;
        Ok(products)
    }
}

#[derive(Deserialize)]
struct NodesData {
    #[serde(default)]
    nodes: Vec<Option<Value>>,
}

/// Decodes `nodes(ids:)` entries that matched the fragment (have an `id`).
fn decode_nodes<T: DeserializeOwned>(
    nodes: Vec<Option<Value>>,
    operation: &'static str,
    request_id: &str,
) -> Result<Vec<T>, ShopifyError> {
    nodes
        .into_iter()
        .flatten()
        .filter(|n| n.get("id").is_some())
        .map(|n| {
            serde_json::from_value(n).map_err(|e| ShopifyError::Decode {
                operation,
                request_id: request_id.to_owned(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Decodes the root objects of a bulk export.
fn from_bulk<T: DeserializeOwned>(
    nodes: Vec<BulkNode>,
    label: &'static str,
) -> Result<Vec<T>, ShopifyError> {
    nodes
        .into_iter()
        .map(|n| {
            serde_json::from_value(Value::Object(n.value)).map_err(|e| ShopifyError::Bulk {
                id: String::new(),
                message: format!("{label}: {e}"),
            })
        })
        .collect()
}

/// Serde for a connection value (a helper trait so `page` stays generic).
trait ConnectionDecode: Sized {
    fn deserialize_connection(value: Value) -> Result<wire::Connection<Self>, serde_json::Error>;
}

impl<T: DeserializeOwned> ConnectionDecode for T {
    fn deserialize_connection(value: Value) -> Result<wire::Connection<Self>, serde_json::Error> {
        serde_json::from_value(value)
    }
}

/// Quotes a value for Shopify's search syntax.
pub(crate) fn search_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The read side with Shopify's own types and errors; the engine's port
/// (`mapsync_core::target::Target`) is implemented over these in `port.rs`.
impl ShopifyTarget {
    pub async fn locations(&self) -> Result<Vec<Location>, ShopifyError> {
        Ok(self.cached_locations().await?.clone())
    }

    pub async fn read_reduced(&self, hint: ReadHint) -> Result<Catalog, ShopifyError> {
        // Collections first: products relate only to known categories.
        let collections = self
            .collections_reduced(self.use_bulk(hint.expected_categories))
            .await?;
        let products = self
            .products_reduced(self.use_bulk(hint.expected_products))
            .await?;
        info!(
            products = products.len(),
            collections = collections.len(),
            "reduced read"
        );
        Ok(Catalog {
            products,
            categories: collections,
        })
    }

    pub async fn read_products(&self, ids: &[String]) -> Result<Vec<Product>, ShopifyError> {
        self.products_full(ids).await
    }

    pub async fn read_collections(&self, ids: &[String]) -> Result<Vec<Collection>, ShopifyError> {
        self.collections_full(ids).await
    }

    pub async fn find_product_by_marker(
        &self,
        key: &str,
    ) -> Result<Option<TargetItem>, ShopifyError> {
        self.product_by_identifier(json!({
            "customId": {
                "namespace": model::MARKER_NAMESPACE,
                "key": model::MARKER_KEY,
                "value": key,
            }
        }))
        .await
    }

    pub async fn find_product_by_handle(
        &self,
        handle: &str,
    ) -> Result<Option<TargetItem>, ShopifyError> {
        self.product_by_identifier(json!({ "handle": handle }))
            .await
    }

    pub async fn find_collection_by_marker(
        &self,
        key: &str,
    ) -> Result<Option<TargetItem>, ShopifyError> {
        // 2025-01 has no collectionByIdentifier: scan the (few) custom collections.
        Ok(self
            .collections_reduced(false)
            .await?
            .into_iter()
            .find(|c| c.marker.as_deref() == Some(key)))
    }

    pub async fn find_collection_by_handle(
        &self,
        handle: &str,
    ) -> Result<Option<TargetItem>, ShopifyError> {
        // The search narrows the scan; the exact comparison decides.
        Ok(self
            .collections_query(&format!("handle:{}", search_value(handle)))
            .await?
            .into_iter()
            .filter(wire::ReducedCollection::is_custom)
            .map(TargetItem::from)
            .find(|c| c.handle == handle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_values_are_quoted() {
        assert_eq!(search_value("a'b"), r"'a\'b'");
    }
}
