//! The BigCommerce connector (issue 14; contract in docs/bigcommerce.md).
//! So far the REST Management API v3 client: authentication, pacing on
//! the store's request quota, retries, paging, batches and errors with
//! their kind. The target, the source and the field table come next.

pub mod batch;
pub mod client;
pub mod error;

pub use batch::{ItemResult, PRODUCT_BATCH, VARIANT_BATCH};
pub use client::{Answer, BcClient, BcConfig, RateHeaders, MAX_PAGES, PAGE_LIMIT};
pub use error::BcError;
