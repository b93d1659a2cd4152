//! The target port: what the engine asks of a target system, read side
//! ([`Target`]) and write side ([`TargetWrite`]), with what each connector
//! declares of itself ([`Capabilities`]) and the kind every failure keeps
//! up to the executor, the report and the retry policy ([`TargetError`]).
//!
//! The traits are dyn-compatible: a registry hands out `Box<dyn
//! TargetWrite>` by the profile's `type:`. They speak the neutral model of
//! [`crate::current`] and [`crate::document`]; no wire type crosses them.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::current::{Catalog, CompareRules, Current, StoreLocation, TargetItem};
use crate::document::{Document, MetafieldDescription};
use crate::Entity;

/// What a connector declares of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The `type:` it is registered under.
    pub kind: &'static str,
    /// The entities it syncs.
    pub entities: &'static [Entity],
    /// The platform's limits on one item.
    pub limits: Limits,
    /// How its values compare with desired ones.
    pub compare: CompareRules,
    /// The fields a mapping may write (`validate` checks `map:` keys
    /// against it; the compiler coerces values with its types).
    pub fields: &'static crate::fields::FieldTable,
    /// Whether created items carry mapsync's ownership marker (so a lost
    /// create is adopted, never made twice).
    pub marks_ownership: bool,
    /// The category field that names a category's parent by its key, when
    /// categories nest in the target: the executor then writes parents
    /// before their children and hands each write the ids of the
    /// categories known so far ([`WriteContext::categories`]).
    pub category_parent: Option<&'static str>,
    /// What the target refuses, checked on every desired document before
    /// anything is sent (`preflight`, docs/preflight.md); the limits
    /// above are read by the rules that name them.
    pub rules: &'static [crate::rules::Rule],
    /// The fields [`Target::find_by`] can find items of an entity by
    /// (`match:` of a mapping set names one of them, two-way.md): empty
    /// when the target cannot search, and `validate` then refuses `match:`.
    pub matchable: &'static [(Entity, &'static str)],
}

impl Capabilities {
    /// The fields items of `entity` can be found by ([`Target::find_by`]).
    pub fn matchable_fields(&self, entity: Entity) -> impl Iterator<Item = &'static str> + '_ {
        self.matchable
            .iter()
            .filter(move |(e, _)| *e == entity)
            .map(|(_, f)| *f)
    }
}

/// Limits of one item in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Options of a product.
    pub options: usize,
    /// Variants of a product.
    pub variants: usize,
    /// Images of a product.
    pub images: usize,
    /// Metafields one write may set (a connector splits longer lists).
    pub metafields_per_write: usize,
    /// Items one batched write takes (1 when the API has no batch).
    pub write_batch: usize,
}

impl Limits {
    /// No limit (a mapping set whose target kind is unknown).
    pub const UNLIMITED: Limits = Limits {
        options: usize::MAX,
        variants: usize::MAX,
        images: usize::MAX,
        metafields_per_write: usize::MAX,
        write_batch: 1,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::UNLIMITED
    }
}

/// How many items the caller expects, to choose between paging and a bulk
/// export (e.g. the number of source records or of ledger entries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadHint {
    /// Products expected.
    pub expected_products: Option<usize>,
    /// Categories expected.
    pub expected_categories: Option<usize>,
}

/// What kind of failure a [`TargetError`] is: what the executor, the
/// report and the retry policy do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The store refused the input (validation errors): retrying the same
    /// input fails again; the message says what to fix.
    Refused,
    /// The store could not be reached or answered with a temporary failure
    /// after the client's retries: the next run tries again.
    Transient,
    /// The item is gone from the store.
    Gone,
    /// A write may or may not have happened (the answer was lost).
    OutcomeUnknown,
    /// The connector's configuration is wrong (address, token, version).
    Config,
    /// The store refused the credentials (e.g. HTTP 401/403): nothing will
    /// work until the token or its access scopes are fixed.
    Denied,
    /// Anything else the connector could not do.
    Failed,
}

impl ErrorKind {
    /// The word used in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::Transient => "transient",
            ErrorKind::Gone => "gone",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::Config => "config",
            ErrorKind::Denied => "denied",
            ErrorKind::Failed => "failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target's failure, with its kind and the connector's own error.
#[derive(Debug)]
pub struct TargetError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The connector's error; its text is the item's SyncMsg.
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl TargetError {
    /// A failure of `kind`.
    pub fn new(
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        TargetError {
            kind,
            source: source.into(),
        }
    }
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for TargetError {
    // The source's text is this error's text: not repeated as a cause.
}

/// The read side of a target.
#[async_trait]
pub trait Target: Send + Sync {
    /// What the connector declares of itself.
    fn capabilities(&self) -> &Capabilities;

    /// Every active location.
    async fn locations(&self) -> Result<Vec<StoreLocation>, TargetError>;

    /// Every item of every entity, reduced (seed task #2).
    async fn read_catalog(&self, hint: ReadHint) -> Result<Catalog, TargetError>;

    /// Full current state of the given items; ids not found are absent.
    async fn read_current(
        &self,
        entity: Entity,
        ids: &[String],
    ) -> Result<Vec<Current>, TargetError>;

    /// The item whose ownership marker is `key` (adopting a create whose
    /// answer was lost).
    async fn find_by_marker(
        &self,
        entity: Entity,
        key: &str,
    ) -> Result<Option<TargetItem>, TargetError>;

    /// The item with this handle.
    async fn find_by_handle(
        &self,
        entity: Entity,
        handle: &str,
    ) -> Result<Option<TargetItem>, TargetError>;

    /// A short text that changes whenever the items the reduced read
    /// ([`Target::read_catalog`]) would return may have changed — items
    /// added, removed or edited in the store —, got with one cheap request;
    /// `None` (the default) when the connector cannot tell. It lets the
    /// sync manager skip the read of a run with nothing to do (see
    /// [`crate::source::Source::fingerprint`]): a token equal to the last
    /// run's must mean the same catalog.
    async fn change_token(&self) -> Result<Option<String>, TargetError> {
        Ok(None)
    }

    /// The items of `entity` whose `field` (one of
    /// [`Capabilities::matchable`]) equals one of `values`, exactly: each
    /// hit as (the value it has, the item). An item with several of the
    /// values comes once per value; a value no item has is absent. The
    /// connector batches the values into as few requests as its API
    /// allows. A target that cannot search finds nothing.
    async fn find_by(
        &self,
        entity: Entity,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, TargetItem)>, TargetError> {
        let _ = (entity, field, values);
        Ok(Vec::new())
    }

    /// What the connector's client has sent so far (for the run report).
    fn request_stats(&self) -> RequestStats {
        RequestStats::default()
    }

    /// The store's product images, read and written image by image (the
    /// image round trip), when the connector has them.
    fn images(&self) -> Option<&dyn crate::images::ImageStore> {
        None
    }
}

/// Requests a connector sent, for the run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests sent (every attempt).
    pub requests: u64,
    /// Answers that said "slow down" (throttled, HTTP 429).
    pub throttled: u64,
    /// Attempts that were a retry.
    pub retried: u64,
    /// The platform's cost units spent, where it counts them.
    pub cost: u64,
}

/// Where a document's references are in the target, for one entity in one
/// run. Built by the executor from the target's locations and the category
/// items known on both sides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteContext {
    /// Reference location name (`CPH`, from `locations:`) → location id.
    pub locations: BTreeMap<String, String>,
    /// Category key → category id, for categories known on both sides
    /// (products relate only to those, mapping-format.md §4). For category
    /// writes of a target with [`Capabilities::category_parent`], also the
    /// categories created or updated earlier in the run (parents first).
    pub categories: BTreeMap<String, String>,
    /// KeepExistingVariantData: variants and variant fields the document
    /// does not set are kept as they are in the target.
    pub keep_existing_variant_data: bool,
    /// SyncKeepDeletedMetafields of this entity: metafields the document no
    /// longer has stay in the target.
    pub keep_deleted_metafields: bool,
    /// Files already uploaded to the target, by content key (none when the
    /// run has no state store).
    pub uploads: Uploads,
}

/// The files a connector uploaded to its target, by content key (e.g. an
/// embedded image's [`crate::image::content_key`]), so that the same file
/// is uploaded once: for several items of a run, and by a run resumed
/// after being killed between an upload and the write that uses it. The
/// engine implements it over the state store; a connector consults it
/// before uploading and records each upload. Failures of the store are the
/// implementation's to log: a lookup that fails finds nothing.
#[async_trait]
pub trait UploadCache: Send + Sync {
    /// Where the file with content `key` was uploaded (what the target
    /// takes as the file's source), when it was recently enough that the
    /// target still has it.
    async fn lookup(&self, key: &str) -> Option<String>;

    /// Remembers that the file with content `key` is at `location`.
    async fn record(&self, key: &str, location: &str);

    /// Forgets `key` (the target no longer takes its location).
    async fn forget(&self, key: &str);
}

/// A [`WriteContext`]'s upload cache, if the run has one, and the keys
/// being uploaded right now: a connector holds [`Uploads::claim`] of a key
/// from its lookup to its record, so items in flight that share a file
/// upload it once. Clones share both. Two contexts are equal when they
/// share the same cache (or both have none).
#[derive(Clone, Default)]
pub struct Uploads {
    cache: Option<std::sync::Arc<dyn UploadCache>>,
    busy:
        std::sync::Arc<std::sync::Mutex<BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>>,
}

impl Uploads {
    /// A context with `cache`.
    pub fn new(cache: std::sync::Arc<dyn UploadCache>) -> Uploads {
        Uploads {
            cache: Some(cache),
            busy: Default::default(),
        }
    }

    /// Whether there is a cache.
    pub fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    /// Waits until no other holder uploads `key`, and holds it until the
    /// guard is dropped.
    pub async fn claim(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            busy.entry(key.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Where `key` was uploaded, if the cache knows it.
    pub async fn lookup(&self, key: &str) -> Option<String> {
        match &self.cache {
            Some(c) => c.lookup(key).await,
            None => None,
        }
    }

    /// Remembers an upload (nothing without a cache).
    pub async fn record(&self, key: &str, location: &str) {
        if let Some(c) = &self.cache {
            c.record(key, location).await;
        }
    }

    /// Forgets an upload (nothing without a cache).
    pub async fn forget(&self, key: &str) {
        if let Some(c) = &self.cache {
            c.forget(key).await;
        }
    }
}

impl fmt::Debug for Uploads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.cache.is_some() {
            "Uploads(cache)"
        } else {
            "Uploads(none)"
        })
    }
}

impl PartialEq for Uploads {
    fn eq(&self, other: &Self) -> bool {
        match (&self.cache, &other.cache) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for Uploads {}

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
/// it either succeeds or returns an error whose kind says what happened
/// and whose text is the item's SyncMsg.
#[async_trait]
pub trait TargetWrite: Target {
    /// Creates or updates the definitions that carry `@description`
    /// values, each with the type its values have in the documents (`None`
    /// when no document has a value: then only an existing definition is
    /// updated). Returns the requests sent.
    async fn ensure_definitions(
        &self,
        entity: Entity,
        descriptions: &[(MetafieldDescription, Option<String>)],
    ) -> Result<u32, TargetError>;

    /// Creates an item from `doc`, marked as mapsync's with `doc.key`.
    /// `published: Some(false)` creates it unpublished. Idempotent: when
    /// the answer is lost after the request left, the item is looked up by
    /// its marker and adopted instead of created again.
    async fn create(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError>;

    /// Brings an existing item to `doc`, given its full current state
    /// (ids are reused: nothing is re-uploaded). Sends only what differs
    /// where the API allows.
    async fn update(
        &self,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError>;

    /// Deletes an item. An id that is already gone counts as deleted.
    async fn delete(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError>;

    /// Unpublishes an item.
    async fn deactivate(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError>;

    /// The platform's batch import, when it has one and it is enabled
    /// (see [`BatchWrite`]).
    fn batch(&self) -> Option<&dyn BatchWrite> {
        None
    }
}

/// A platform's batch import (e.g. Shopify's bulk mutations): many items'
/// writes in one file that the platform applies on its own, outside the
/// request rate limit, reporting an outcome per line. The executor takes
/// this path for large runs; it records the batch's handle in the state
/// store between [`BatchWrite::submit`] and the recording of its outcomes,
/// so a run killed in between takes the results instead of submitting the
/// items again.
#[async_trait]
pub trait BatchWrite: Send + Sync {
    /// From how many creates and updates of one entity the batch path is
    /// taken (the per-item path stays for smaller runs).
    fn threshold(&self) -> usize;

    /// Most lines one batch takes.
    fn max_lines(&self) -> usize;

    /// Most bytes of lines one batch takes.
    fn max_bytes(&self) -> usize;

    /// The batch line (one JSON object, no newline) of a create (`current`
    /// is `None`) or an update, or `None` when the item needs what a batch
    /// line cannot do and must take the per-item path. May send requests
    /// (e.g. uploads the line refers to); an error fails the item.
    async fn line(
        &self,
        doc: &Document,
        current: Option<&Current>,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Option<Vec<u8>>, TargetError>;

    /// Submits the lines (JSONL, one line per item, in order) of `entity`;
    /// returns the platform's handle of the batch.
    async fn submit(&self, entity: Entity, lines: Vec<u8>) -> Result<String, TargetError>;

    /// Waits until the batch `handle` has ended and returns the outcome of
    /// each line by line number (lines the platform did not apply are
    /// absent). `progress` is told how many lines are done as that grows.
    async fn wait(
        &self,
        handle: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<BatchOutcome, TargetError>;

    /// A batch running on the platform now that this process did not
    /// submit (a killed run's, or another tool's): its handle, to wait for
    /// before reading the target.
    async fn running(&self) -> Result<Option<String>, TargetError>;
}

/// The outcome of a batch: per line number, the item's id in the target or
/// why that line failed.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Line number (0-based) → outcome.
    pub lines: BTreeMap<usize, Result<String, TargetError>>,
    /// Why lines are missing (the batch failed or was canceled), if it says.
    pub ended: Option<String>,
}
