//! The `shopify` target: Shopify Admin GraphQL API, for real shops and for the
//! sandbox (which speaks the same wire protocol). It owns the HTTP client
//! (cost-aware rate limiting, retries), the GraphQL documents in `graphql/`,
//! and the read side: locations, the reduced read of every product and custom
//! collection (paginated or bulk), and the full read of given ids. It must not
//! leak wire types upward (callers get [`model`] types) nor decide what to
//! change: that is `reconcile`'s and `exec`'s job.

pub mod cost;
pub mod documents;
pub mod version;

pub use version::{ApiVersion, DEFAULT_API_VERSION};

pub mod client;
pub mod config;
pub mod connector;
pub mod error;
pub mod fields;
pub mod images;
pub mod input;
pub mod limiter;
pub mod retry;

pub use client::{GraphqlResponse, QueryCost, ShopifyClient, StatsSnapshot};
pub use config::{AccessToken, BucketLimits, ClientConfig, ShopLocation, ShopPlan};
pub use error::{ShopifyError, TransportKind};
pub mod bulk;
pub mod bulk_write;
mod find;
pub mod model;
pub mod neutral;
mod port;
pub mod read;
mod token;
pub use connector::ShopifyConnector;
pub use port::CAPABILITIES;
mod media;
mod upload;
mod wire;
mod write;

pub use mapsync_core::target::{
    ReadHint, Target, TargetWrite, UploadCache, Uploads, WriteContext, Written,
};
pub use read::{products_from_bulk, ReadMode, ReadOptions, ShopifyTarget};
pub use upload::{StagedFile, StagedResource};
