//! The `bigcommerce` target: categories through the category trees API,
//! products with their variants, options, images, custom fields,
//! metafields and inventory, the ownership marker as a metafield
//! (`mapsync` / `key`), and the core's ports over them.
//!
//! * `read`: the reduced catalog, the full current state of items (in
//!   batches: products by `id:in` with their sub-resources, metafields by
//!   `resource_id:in`, stock by `product_id:in`), converted to the neutral
//!   `Current` (`neutral`).
//! * `token`: the change token, a few small requests covering the
//!   reduced read (the sync manager reuses a plan while it holds).
//! * `write`: creates (one `POST` carrying what the API takes inline, then
//!   metafields, uploads and stock), updates that send only what differs,
//!   deletes and deactivations, adopting a create whose answer was lost.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mapsync_core::current::{Catalog, Current, StoreLocation, TargetItem};
use mapsync_core::document::{Document, MetafieldDescription};
use mapsync_core::target::{
    Capabilities, ErrorKind, ReadHint, RequestStats, Target, TargetError, TargetWrite,
    WriteContext, Written,
};
use mapsync_core::Entity;
use reqwest::Method;
use serde_json::Value;

use crate::client::{Answer, BcClient, FilePart};
use crate::error::BcError;
use crate::fields::CAPABILITIES;

mod find;
mod neutral;
mod read;
mod token;
mod write;

/// The `permission_set` of the metafields mapsync writes when the mapping
/// names none.
pub const DEFAULT_METAFIELD_PERMISSION: &str = "read";

/// The metafield (namespace [`mapsync_core::current::MARKER_NAMESPACE`])
/// holding, for a product, the source each of its images was created
/// from (`{"<image id>": "<URL>"}`): BigCommerce keeps no image's source
/// URL, so without it an image could not be compared with the desired one.
pub const IMAGES_KEY: &str = "images";

impl From<BcError> for TargetError {
    fn from(e: BcError) -> Self {
        TargetError::new(e.kind(), e)
    }
}

/// A failure of the target that is not one request's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetFailure {
    /// The store's answer lacks what the write needs.
    #[error("unexpected answer: {0}")]
    Answer(String),
    /// The document cannot be written as it is.
    #[error("{0}")]
    Refused(String),
}

fn answer_error(what: impl Into<String>) -> TargetError {
    TargetError::new(ErrorKind::Failed, TargetFailure::Answer(what.into()))
}

fn refused(what: impl Into<String>) -> TargetError {
    TargetError::new(ErrorKind::Refused, TargetFailure::Refused(what.into()))
}

/// The BigCommerce target.
pub struct BigCommerceTarget {
    client: BcClient,
    /// Brand id → name, read once, completed by the brands this target
    /// creates.
    brands: tokio::sync::Mutex<Option<BTreeMap<u64, String>>>,
    /// The category tree written to (the store's default).
    tree: tokio::sync::OnceCell<u64>,
    /// `permission_set` of the metafields written.
    permission: String,
    /// What the image port keeps between calls (`crate::images`).
    pub(crate) image_memo: crate::images::Memo,
}

impl std::fmt::Debug for BigCommerceTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigCommerceTarget")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl BigCommerceTarget {
    /// A target over `client` (no request is sent).
    pub fn new(client: BcClient) -> BigCommerceTarget {
        BigCommerceTarget {
            client,
            brands: tokio::sync::Mutex::new(None),
            tree: tokio::sync::OnceCell::new(),
            permission: DEFAULT_METAFIELD_PERMISSION.into(),
            image_memo: crate::images::Memo::default(),
        }
    }

    /// The same target writing metafields with another `permission_set`
    /// (`app_only`, `read`, `write`, `read_and_sf_access`,
    /// `write_and_sf_access`).
    pub fn with_metafield_permission(mut self, permission: impl Into<String>) -> Self {
        self.permission = permission.into();
        self
    }

    /// The client.
    pub fn client(&self) -> &BcClient {
        &self.client
    }
}

/// The requests of one item's write: every attempt the client makes for
/// it (retries included), counted through the client's per-task counter
/// ([`crate::client::count_attempts`]), so items written at the same time
/// on one client are counted apart.
pub(crate) struct Tally<'a> {
    client: &'a BcClient,
    attempts: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl<'a> Tally<'a> {
    fn new(client: &'a BcClient) -> Self {
        Tally {
            client,
            attempts: Default::default(),
        }
    }

    /// Requests so far.
    fn n(&self) -> u32 {
        self.attempts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` (requests of the client) counting its attempts.
    async fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        crate::client::count_attempts(self.attempts.clone(), f).await
    }

    async fn get(&mut self, path: &str, query: &[(&str, String)]) -> Result<Value, BcError> {
        self.run(self.client.get(path, query)).await
    }

    async fn get_all(
        &mut self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, BcError> {
        self.run(self.client.get_all(path, query)).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, BcError> {
        self.run(self.client.send(method, path, &[], body)).await
    }

    async fn delete(&mut self, path: &str, query: &[(&str, String)]) -> Result<Answer, BcError> {
        self.run(self.client.delete(path, query)).await
    }

    async fn upload(
        &mut self,
        path: &str,
        fields: &[(&str, String)],
        file: &FilePart,
    ) -> Result<Answer, BcError> {
        self.run(self.client.post_multipart(path, fields, file))
            .await
    }
}

#[async_trait]
impl Target for BigCommerceTarget {
    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    fn request_stats(&self) -> RequestStats {
        let s = self.client.stats();
        RequestStats {
            requests: s.requests,
            throttled: s.throttled,
            retried: s.retried,
            cost: 0,
        }
    }

    /// The image round trip (`crate::images`).
    fn images(&self) -> Option<&dyn mapsync_core::images::ImageStore> {
        Some(self)
    }

    async fn locations(&self) -> Result<Vec<StoreLocation>, TargetError> {
        Ok(self.read_locations().await?)
    }

    /// Counts, the newest change and the small listings of the reduced
    /// read (`token`); `None` while a part of it cannot be covered.
    async fn change_token(&self) -> Result<Option<String>, TargetError> {
        Ok(self.catalog_token().await?)
    }

    async fn read_catalog(&self, _hint: ReadHint) -> Result<Catalog, TargetError> {
        Ok(Catalog {
            products: self.catalog_products().await?,
            categories: self.catalog_categories().await?,
        })
    }

    async fn read_current(
        &self,
        entity: Entity,
        ids: &[String],
    ) -> Result<Vec<Current>, TargetError> {
        let ids: Vec<u64> = ids.iter().filter_map(|i| i.trim().parse().ok()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tally = Tally::new(&self.client);
        Ok(match entity {
            Entity::Product => self.current_products(&mut tally, &ids).await?,
            Entity::Category => self.current_categories(&mut tally, &ids).await?,
        })
    }

    async fn find_by_marker(
        &self,
        entity: Entity,
        key: &str,
    ) -> Result<Option<TargetItem>, TargetError> {
        let mut tally = Tally::new(&self.client);
        Ok(self.item_by_marker(&mut tally, entity, key).await?)
    }

    async fn find_by_handle(
        &self,
        entity: Entity,
        handle: &str,
    ) -> Result<Option<TargetItem>, TargetError> {
        let items = match entity {
            Entity::Product => self.catalog_products().await?,
            Entity::Category => self.catalog_categories().await?,
        };
        let want = handle.trim().trim_matches('/');
        Ok(items
            .into_iter()
            .find(|i| i.handle.trim().trim_matches('/') == want))
    }

    async fn find_by(
        &self,
        entity: Entity,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, TargetError> {
        let mut tally = Tally::new(&self.client);
        Ok(self
            .find_by_field(&mut tally, entity, field, values)
            .await?)
    }
}

#[async_trait]
impl TargetWrite for BigCommerceTarget {
    /// BigCommerce metafields have no definitions: nothing to do.
    async fn ensure_definitions(
        &self,
        _entity: Entity,
        _descriptions: &[(MetafieldDescription, Option<String>)],
    ) -> Result<u32, TargetError> {
        Ok(0)
    }

    async fn create(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError> {
        let mut tally = Tally::new(&self.client);
        let r = match doc.entity {
            Entity::Product => self.create_product(&mut tally, doc, published, ctx).await,
            Entity::Category => self.create_category(&mut tally, doc, published, ctx).await,
        };
        r.map(|(id, adopted)| Written {
            target_id: id.to_string(),
            requests: tally.n(),
            adopted,
        })
    }

    async fn update(
        &self,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError> {
        let mut tally = Tally::new(&self.client);
        match doc.entity {
            Entity::Product => {
                self.update_product(&mut tally, current, doc, published, ctx)
                    .await?
            }
            Entity::Category => {
                self.update_category(&mut tally, current, doc, published, ctx)
                    .await?
            }
        }
        Ok(Written {
            target_id: current.id.clone(),
            requests: tally.n(),
            adopted: false,
        })
    }

    async fn delete(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError> {
        let mut tally = Tally::new(&self.client);
        let id = parse_id(target_id)?;
        let r = match entity {
            Entity::Product => tally.delete(&format!("/catalog/products/{id}"), &[]).await,
            Entity::Category => {
                tally
                    .delete(
                        "/catalog/trees/categories",
                        &[("category_id:in", id.to_string())],
                    )
                    .await
            }
        };
        match r {
            Ok(_) | Err(BcError::NotFound { .. }) => Ok(Written {
                target_id: target_id.to_string(),
                requests: tally.n(),
                adopted: false,
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn deactivate(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError> {
        let mut tally = Tally::new(&self.client);
        let id = parse_id(target_id)?;
        match entity {
            Entity::Product => {
                tally
                    .send(
                        Method::PUT,
                        &format!("/catalog/products/{id}"),
                        Some(&serde_json::json!({"is_visible": false})),
                    )
                    .await?;
            }
            Entity::Category => {
                let body = serde_json::json!([{"category_id": id, "is_visible": false}]);
                let a = tally
                    .send(Method::PUT, "/catalog/trees/categories", Some(&body))
                    .await?;
                write::tree_item(&a, 0)?;
            }
        }
        Ok(Written {
            target_id: target_id.to_string(),
            requests: tally.n(),
            adopted: false,
        })
    }
}

fn parse_id(id: &str) -> Result<u64, TargetError> {
    id.trim()
        .parse()
        .map_err(|_| refused(format!("'{id}' is not a BigCommerce id")))
}

/// A JSON value as an id.
fn id_of(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A JSON value as text (`null` → empty).
fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
