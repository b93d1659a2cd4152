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
