//! The `rest` source: catalog records from an HTTP API (a PIM), read page
//! by page, with incremental reads, a count endpoint and write-back of
//! SyncID / SyncDate / SyncMsg; and the `rest` target: a generic store
//! API's categories, products and images, read and written by configured
//! requests. Options and behaviour: `docs/rest.md`.
//!
//! * [`RestSource`] implements the core's [`Source`]: each
//!   [`Source::records_in`] starts a task that fills a bounded channel page
//!   by page, reading one page ahead (`read`); paging styles and their
//!   guards are in `paging`.
//! * [`RestWriter`] implements [`SourceWrite`] (`writeback`), with the
//!   sandboxed request templates of `template`.
//! * [`RestTarget`] implements the core's `Target` and `TargetWrite`
//!   (`target`: lists, creates adopted after a lost answer, updates only
//!   when a field differs, images per image), with its field table and
//!   capabilities in [`fields`].
//! * `http` holds the client: auth (bearer, header, basic, OAuth 2 client
//!   credentials), the rate ceiling, timeouts and retries.
//! * No secret reaches a message, a log line or a record's position
//!   (`redact`).

mod connector;
mod error;
pub mod fields;
mod http;
mod options;
mod paging;
mod read;
mod redact;
mod target;
mod template;
mod writeback;

use std::sync::Arc;

pub use connector::RestConnector;
pub use error::{RestError, RestErrorKind};
pub use fields::CAPABILITIES;
pub use options::{
    AuthOptions, BasicOptions, BatchOptions, ClientOptions, CountOptions, EntityOptions,
    GetOptions, ImageListOptions, ImagesOptions, ListOptions, OAuth2Options, PagingOptions,
    PerEntity, RequestOptions, RestOptions, SinceOptions, TargetEntityOptions, TargetListOptions,
    TargetOptions, UploadEncoding, UploadOptions, WritebackOptions,
};
pub use read::READ_BUFFER;
pub use redact::Redactor;
pub use target::{kind_of, RestTarget};
pub use writeback::RestWriter;

use mapsync_core::source::{
    Entity, Incremental, ReadScope, RecordStream, Source, SourceError, SourceWrite,
};

use crate::http::Http;
use crate::read::EntityReader;

/// A `rest` source: cheap to clone (the client and its token are shared).
#[derive(Debug, Clone)]
pub struct RestSource {
    http: Arc<Http>,
    category: Option<Arc<EntityReader>>,
    product: Option<Arc<EntityReader>>,
    writer: Option<Arc<RestWriter>>,
}

impl RestSource {
    /// A source from typed options.
    pub fn new(options: &RestOptions) -> Result<RestSource, RestError> {
        let redactor = Redactor::new(options.secrets().iter().map(|s| s.expose().to_string()));
        // An option may quote a secret in the wrong place: mask them all.
        RestSource::build(options, redactor.clone()).map_err(|e| RestError {
            message: redactor.text(&e.message),
            help: redactor.text(&e.help),
            ..e
        })
    }

    fn build(options: &RestOptions, redactor: Redactor) -> Result<RestSource, RestError> {
        let http = Arc::new(Http::new(&options.client(), redactor)?);
        let reader = |e: Entity| -> Result<Option<Arc<EntityReader>>, RestError> {
            options
                .entities
                .get(e)
                .map(|o| EntityReader::new(e, o, &http).map(Arc::new))
                .transpose()
        };
        let category = reader(Entity::Category)?;
        let product = reader(Entity::Product)?;
        let writer = RestWriter::new(http.clone(), &options.writeback)?.map(Arc::new);
        Ok(RestSource {
            http,
            category,
            product,
            writer,
        })
    }

    /// A source from a profile's `source:` value (`${ENV}` resolved).
    pub fn from_value(value: &serde_json::Value) -> Result<RestSource, RestError> {
        RestSource::new(&RestOptions::from_value(value)?)
    }

    fn reader(&self, entity: Entity) -> Option<&Arc<EntityReader>> {
        match entity {
            Entity::Category => self.category.as_ref(),
            Entity::Product => self.product.as_ref(),
        }
    }

    /// The entities this source lists.
    pub fn entities(&self) -> Vec<Entity> {
        Entity::ALL
            .into_iter()
            .filter(|e| self.reader(*e).is_some())
            .collect()
    }

    /// The number of records of `entity` within `scope`, from the entity's
    /// `count:` endpoint (`None` without one), e.g. for progress.
    pub async fn count(&self, entity: Entity, scope: ReadScope) -> Result<Option<u64>, RestError> {
        match self.reader(entity) {
            Some(r) => read::count_records(&self.http, r, scope).await,
            None => Ok(None),
        }
    }

    /// HTTP requests sent so far by this source and its clones (every
    /// attempt, token requests included).
    pub fn requests(&self) -> u64 {
        self.http.sent()
    }

    /// The write side, when `writeback:` is configured.
    pub fn writer(&self) -> Option<Arc<RestWriter>> {
        self.writer.clone()
    }
}

impl Source for RestSource {
    fn kind(&self) -> &'static str {
        "rest"
    }

    fn records(&self, entity: Entity) -> Result<RecordStream, SourceError> {
        self.records_in(entity, ReadScope::Full)
    }

    fn supports_writeback(&self) -> bool {
        self.writer.is_some()
    }

    fn incremental(&self, entity: Entity) -> Option<Incremental> {
        let since = self.reader(entity)?.since.as_ref()?;
        Some(Incremental {
            overlap: since.overlap,
            full_every: since.full_every,
        })
    }

    /// Starts reading in a task of the current Tokio runtime (or of a
    /// background runtime when called outside one); never blocks.
    fn records_in(&self, entity: Entity, scope: ReadScope) -> Result<RecordStream, SourceError> {
        let Some(reader) = self.reader(entity) else {
            return Ok(RecordStream::empty());
        };
        let scope = match (scope, &reader.since) {
            (ReadScope::Since(_), None) => ReadScope::Full,
            (s, _) => s,
        };
        Ok(read::stream(self.http.clone(), reader.clone(), scope))
    }

    fn writeback(&self) -> Option<Arc<dyn SourceWrite>> {
        self.writer.clone().map(|w| w as Arc<dyn SourceWrite>)
    }
}
