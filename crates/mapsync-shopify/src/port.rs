//! The engine's ports (`mapsync_core::target`) over the Shopify target:
//! wire-shaped model values become the neutral current state
//! ([`crate::neutral`]), Shopify errors keep their kind
//! ([`ShopifyError::kind`](crate::ShopifyError::kind)).

use async_trait::async_trait;
use mapsync_core::current::{Catalog, Current, StoreLocation, TargetItem};
use mapsync_core::document::{Document, MetafieldDescription};
use mapsync_core::rules::{Format, On, Rule};
use mapsync_core::target::{
    BatchOutcome, BatchWrite, Capabilities, Limits, ReadHint, RequestStats, Target, TargetError,
    TargetWrite, WriteContext, Written,
};
use mapsync_core::Entity;

use crate::model::{Collection, Product};
use crate::neutral::{self, COMPARE_RULES};
use crate::read::ShopifyTarget;

/// What the Shopify connector declares.
pub const CAPABILITIES: Capabilities = Capabilities {
    kind: "shopify",
    entities: &[Entity::Category, Entity::Product],
    limits: Limits {
        options: 3,
        variants: 2048,
        images: 250,
        // `metafieldsSet`: "a maximum of 25 metafields to be set at a time".
        metafields_per_write: 25,
        write_batch: 1,
    },
    compare: COMPARE_RULES,
    fields: &crate::fields::FIELDS,
    marks_ownership: true,
    // Categories do not nest.
    category_parent: None,
    rules: RULES,
    // `productVariants(query: "sku:…")`, `products(query: "handle:…")`,
    // `collections(query: "handle:…")`.
    matchable: &[
        (Entity::Product, "sku"),
        (Entity::Product, "handle"),
        (Entity::Category, "handle"),
    ],
};

/// What Shopify refuses, checked before anything is sent (docs/preflight.md
/// maps each `userErrors` code of the emulated store to one of these, or
/// says why only the store can know).
pub const RULES: &[Rule] = &[
    // `productSet`: "The variant 'Default Title' already exists." (INVALID_VARIANT).
    Rule::VariantsByOptions,
    // "Can only specify a maximum of 2048 variants" (VARIANTS_OVER_LIMIT).
    Rule::VariantCount,
    // "Title can't be blank" (INVALID_PRODUCT; `collectionCreate`).
    Rule::Required {
        on: On::Product,
        field: "title",
    },
    Rule::Required {
        on: On::Category,
        field: "title",
    },
    // "Weight must be greater than or equal to 0" (INVALID_INPUT).
    Rule::Decimal {
        on: On::Variant,
        field: "inventory_item.weight",
        min: Some(0),
        max: None,
        scale: None,
    },
    // Money: not negative, Shopify keeps cents.
    Rule::Decimal {
        on: On::Variant,
        field: "price",
        min: Some(0),
        max: Some(1_000_000_000_000_000),
        scale: None,
    },
    Rule::Decimal {
        on: On::Variant,
        field: "compare_at_price",
        min: Some(0),
        max: Some(1_000_000_000_000_000),
        scale: None,
    },
    Rule::Decimal {
        on: On::Variant,
        field: "inventory_item.cost",
        min: Some(0),
        max: Some(1_000_000_000_000_000),
        scale: None,
    },
    Rule::Format {
        on: On::Product,
        field: "handle",
        format: Format::Handle,
    },
    Rule::Format {
        on: On::Category,
        field: "handle",
        format: Format::Handle,
    },
    // `inventorySetQuantities`: INVALID_QUANTITY_TOO_HIGH / _TOO_LOW.
    Rule::Quantity {
        min: -1_000_000_000,
        max: 1_000_000_000,
    },
    // INVALID_METAFIELD / metafieldsSet INVALID_VALUE.
    Rule::MetafieldValues,
    Rule::ImageSources,
    // `stagedUploadsCreate`: "File size must be at most 20971520 bytes."
    Rule::ImageBytes {
        max: 20 * 1024 * 1024,
    },
];

fn native_of<'a, T: 'static>(current: &'a Current, what: &str) -> Result<&'a T, TargetError> {
    current.native.get::<T>().ok_or_else(|| {
        TargetError::new(
            mapsync_core::target::ErrorKind::Failed,
            format!(
                "internal: the current state of {} {} was not read by the shopify target; report this bug with the command you ran",
                what, current.id
            ),
        )
    })
}

#[async_trait]
impl Target for ShopifyTarget {
    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    fn request_stats(&self) -> RequestStats {
        let s = self.client().stats();
        RequestStats {
            requests: s.requests,
            throttled: s.throttled,
            retried: s.retried,
            cost: s.actual_cost,
        }
    }

    async fn locations(&self) -> Result<Vec<StoreLocation>, TargetError> {
        Ok(ShopifyTarget::locations(self).await?)
    }

    fn images(&self) -> Option<&dyn mapsync_core::images::ImageStore> {
        Some(self)
    }

    async fn read_catalog(&self, hint: ReadHint) -> Result<Catalog, TargetError> {
        Ok(self.read_reduced(hint).await?)
    }

    async fn change_token(&self) -> Result<Option<String>, TargetError> {
        Ok(ShopifyTarget::change_token(self).await?)
    }

    async fn read_current(
        &self,
        entity: Entity,
        ids: &[String],
    ) -> Result<Vec<Current>, TargetError> {
        Ok(match entity {
            Entity::Product => self
                .read_products(ids)
                .await?
                .into_iter()
                .map(neutral::product)
                .collect(),
            Entity::Category => self
                .read_collections(ids)
                .await?
                .into_iter()
                .map(neutral::collection)
                .collect(),
        })
    }

    async fn find_by_marker(
        &self,
        entity: Entity,
        key: &str,
    ) -> Result<Option<TargetItem>, TargetError> {
        Ok(match entity {
            Entity::Product => self.find_product_by_marker(key).await?,
            Entity::Category => self.find_collection_by_marker(key).await?,
        })
    }

    async fn find_by_handle(
        &self,
        entity: Entity,
        handle: &str,
    ) -> Result<Option<TargetItem>, TargetError> {
        Ok(match entity {
            Entity::Product => self.find_product_by_handle(handle).await?,
            Entity::Category => self.find_collection_by_handle(handle).await?,
        })
    }

    async fn find_by(
        &self,
        entity: Entity,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, TargetError> {
        Ok(self.find_by_field(entity, field, values).await?)
    }
}

#[async_trait]
impl TargetWrite for ShopifyTarget {
    async fn ensure_definitions(
        &self,
        entity: Entity,
        descriptions: &[(MetafieldDescription, Option<String>)],
    ) -> Result<u32, TargetError> {
        Ok(self
            .ensure_metafield_definitions(entity, descriptions)
            .await?)
    }

    async fn create(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError> {
        Ok(ShopifyTarget::create(self, doc, published, ctx).await?)
    }

    async fn update(
        &self,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError> {
        Ok(match current.entity {
            Entity::Product => {
                let p: &Product = native_of(current, "product")?;
                self.update_product(p, doc, published, ctx).await?
            }
            Entity::Category => {
                let c: &Collection = native_of(current, "collection")?;
                self.update_collection(c, doc, published, ctx).await?
            }
        })
    }

    async fn delete(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError> {
        Ok(ShopifyTarget::delete(self, entity, target_id).await?)
    }

    async fn deactivate(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError> {
        Ok(ShopifyTarget::deactivate(self, entity, target_id).await?)
    }

    fn batch(&self) -> Option<&dyn BatchWrite> {
        (self.read_options().bulk_import_threshold > 0).then_some(self as &dyn BatchWrite)
    }
}

/// Bulk imports of products (`bulkOperationRunMutation`, [`crate::bulk_write`]).
#[async_trait]
impl BatchWrite for ShopifyTarget {
    fn threshold(&self) -> usize {
        self.read_options().bulk_import_threshold
    }

    fn max_lines(&self) -> usize {
        self.read_options().bulk_import_file_lines
    }

    fn max_bytes(&self) -> usize {
        crate::bulk_write::MAX_BYTES
    }

    async fn line(
        &self,
        doc: &Document,
        current: Option<&Current>,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Option<Vec<u8>>, TargetError> {
        let product = match current {
            Some(c) if c.entity == Entity::Product => Some(native_of::<Product>(c, "product")?),
            Some(_) => return Ok(None),
            None => None,
        };
        Ok(self.bulk_line(doc, product, published, ctx).await?)
    }

    async fn submit(&self, entity: Entity, lines: Vec<u8>) -> Result<String, TargetError> {
        if entity != Entity::Product {
            return Err(TargetError::new(
                mapsync_core::target::ErrorKind::Failed,
                "internal: the shopify target imports only products in bulk",
            ));
        }
        Ok(self.bulk_submit(lines).await?)
    }

    async fn wait(
        &self,
        handle: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<BatchOutcome, TargetError> {
        Ok(self.bulk_wait(handle, progress).await?)
    }

    async fn running(&self) -> Result<Option<String>, TargetError> {
        Ok(self.bulk_running().await?)
    }
}
