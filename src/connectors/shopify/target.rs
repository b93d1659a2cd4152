//! The `Target` trait: what the engine asks of a target system on the read
//! side. It lives here until a second target exists; then the lead moves it
//! up to `connectors`. It must not mention GraphQL or HTTP.

use std::future::Future;

use super::model::{Collection, Location, Product, ReducedCatalog, ReducedItem};

/// How many items the caller expects, to choose between paging and a bulk
/// export (e.g. the number of source records or of ledger entries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadHint {
    pub expected_products: Option<usize>,
    pub expected_collections: Option<usize>,
}

/// The read side of a target.
pub trait Target: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every active location.
    fn locations(&self) -> impl Future<Output = Result<Vec<Location>, Self::Error>> + Send;

    /// Every product and custom collection, reduced (seed task #2).
    fn read_reduced(
        &self,
        hint: ReadHint,
    ) -> impl Future<Output = Result<ReducedCatalog, Self::Error>> + Send;

    /// Full current state of the given products; ids not found are absent.
    fn read_products(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Product>, Self::Error>> + Send;

    /// Full current state of the given collections; ids not found are absent.
    fn read_collections(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Collection>, Self::Error>> + Send;

    /// The product whose ownership marker is `key` (adopting a create whose
    /// answer was lost).
    fn find_product_by_marker(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ReducedItem>, Self::Error>> + Send;

    fn find_product_by_handle(
        &self,
        handle: &str,
    ) -> impl Future<Output = Result<Option<ReducedItem>, Self::Error>> + Send;

    fn find_collection_by_marker(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ReducedItem>, Self::Error>> + Send;

    fn find_collection_by_handle(
        &self,
        handle: &str,
    ) -> impl Future<Output = Result<Option<ReducedItem>, Self::Error>> + Send;
}

/// Where a document's references are in the target, for one entity in one
/// run. Built by the executor from the target's locations and the category
/// items known on both sides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteContext {
    /// Reference location name (`CPH`, from `locations:`) → location id.
    pub locations: std::collections::BTreeMap<String, String>,
    /// Category key → collection id, for categories known on both sides
    /// (products relate only to those, mapping-format.md §4).
    pub collections: std::collections::BTreeMap<String, String>,
    /// KeepExistingVariantData: variants and variant fields the document
    /// does not set are kept as they are in the target.
    pub keep_existing_variant_data: bool,
    /// SyncKeepDeletedMetafields of this entity: metafields the document no
    /// longer has stay in the target.
    pub keep_deleted_metafields: bool,
}

/// A write that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The item's id in the target.
    pub target_id: String,
    /// HTTP requests this item cost (every attempt, reads included).
    pub requests: u32,
    /// A create whose answer was lost and whose item was found again by its
    /// ownership marker (nothing was created twice).
    pub adopted: bool,
}

/// The write side of a target. Every method is one item's whole change:
/// it either succeeds or returns an error whose text is the item's SyncMsg
/// (`ShopifyError::UserErrors` when the store refused the input; those are
/// never retried).
pub trait TargetWrite: Target {
    /// Creates the metafield definitions that carry `@description` values
    /// (owner: products or collections), each with the type its values have
    /// in the documents (a definition needs one; `None` when no document
    /// has a value, and then only an existing definition is updated);
    /// existing definitions get their description updated. Returns the
    /// requests sent.
    fn ensure_metafield_definitions(
        &self,
        entity: crate::plan::document::EntityKindName,
        descriptions: &[(crate::plan::document::MetafieldDescription, Option<String>)],
    ) -> impl Future<Output = Result<u32, Self::Error>> + Send;

    /// Creates a product or custom collection from `doc`, with the ownership
    /// marker `mapsync.key` = `doc.key`. `published: Some(false)` creates it
    /// unpublished (product: DRAFT). Idempotent: when the answer is lost
    /// after the request left (outcome unknown), the item is looked up by
    /// its marker and adopted instead of created again.
    fn create(
        &self,
        doc: &crate::plan::document::Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<Written, Self::Error>> + Send;

    /// Brings an existing product to `doc`, given its full current state
    /// (variant, media and metafield ids are reused: nothing is re-uploaded,
    /// inventory items are kept). Sends only what differs where the API
    /// allows (quantities only when they changed).
    fn update_product(
        &self,
        current: &Product,
        doc: &crate::plan::document::Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<Written, Self::Error>> + Send;

    /// Brings an existing custom collection to `doc`.
    fn update_collection(
        &self,
        current: &Collection,
        doc: &crate::plan::document::Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<Written, Self::Error>> + Send;

    /// Deletes a product or custom collection. An id that is already gone
    /// counts as deleted.
    fn delete(
        &self,
        entity: crate::plan::document::EntityKindName,
        target_id: &str,
    ) -> impl Future<Output = Result<Written, Self::Error>> + Send;

    /// Unpublishes a product (status DRAFT) or custom collection.
    fn deactivate(
        &self,
        entity: crate::plan::document::EntityKindName,
        target_id: &str,
    ) -> impl Future<Output = Result<Written, Self::Error>> + Send;
}
