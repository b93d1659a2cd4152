//! PROVISIONAL: the write side of the `shopify` target is being built on the
//! `write` branch; until it lands every write fails with a clear message.

use super::error::ShopifyError;
use super::model::{Collection, Product};
use super::read::ShopifyTarget;
use super::target::{TargetWrite, WriteContext, Written};
use crate::plan::document::{Document, EntityKindName, MetafieldDescription};

fn missing() -> ShopifyError {
    ShopifyError::Config("the shopify write side is not built yet".into())
}

impl TargetWrite for ShopifyTarget {
    async fn ensure_metafield_definitions(
        &self,
        _: EntityKindName,
        _: &[MetafieldDescription],
    ) -> Result<u32, ShopifyError> {
        Err(missing())
    }
    async fn create(
        &self,
        _: &Document,
        _: Option<bool>,
        _: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        Err(missing())
    }
    async fn update_product(
        &self,
        _: &Product,
        _: &Document,
        _: Option<bool>,
        _: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        Err(missing())
    }
    async fn update_collection(
        &self,
        _: &Collection,
        _: &Document,
        _: Option<bool>,
        _: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        Err(missing())
    }
    async fn delete(&self, _: EntityKindName, _: &str) -> Result<Written, ShopifyError> {
        Err(missing())
    }
    async fn deactivate(&self, _: EntityKindName, _: &str) -> Result<Written, ShopifyError> {
        Err(missing())
    }
}
