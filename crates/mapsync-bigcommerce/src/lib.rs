//! The BigCommerce connector (issue 14; contract in docs/bigcommerce.md):
//! the REST Management API v3 client (authentication, pacing on the
//! store's request quota, retries, paging, batches, errors with their
//! kind), the `bigcommerce` target with its field table and capabilities,
//! and the connector the registry knows by `type: bigcommerce`.

pub mod batch;
pub mod client;
pub mod connector;
pub mod error;
pub mod fields;
pub mod images;
pub mod source;
pub mod target;

pub use batch::{ItemResult, PRODUCT_BATCH, VARIANT_BATCH};
pub use client::{
    Answer, BcClient, BcConfig, ClientStats, FilePart, RateHeaders, MAX_PAGES, PAGE_LIMIT,
};
pub use connector::BigCommerceConnector;
pub use error::BcError;
pub use fields::{CAPABILITIES, FIELDS};
pub use target::BigCommerceTarget;
