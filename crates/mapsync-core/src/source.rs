//! The source port: what every source connector (the `file` source, later
//! `rest`...) hands the engine. Connectors are the only crates (with the
//! state store) that talk to the outside world; each one speaks to one
//! system behind these traits and never leaks its wire types upward.
//!
//! This file holds what all sources share: [`Record`] with its
//! [`Position`], the per-record [`InvalidRecord`], the [`Source`] trait and
//! the [`RecordStream`] every source hands out. Sources never decide what a
//! record *means* (keys, selection, sync rules): that is `reconcile`'s work.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

pub use crate::entity::Entity;

/// The fields of one source record, in source order.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// Where a record came from, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The source as users know it: a file path as configured, an URL...
    #[serde(serialize_with = "serialize_arc_str")]
    pub origin: Arc<str>,
    /// 1-based line where the record starts, when the source has lines.
    pub line: Option<u64>,
    /// 0-based index of the record among the entity's records in this
    /// source (malformed records count too).
    pub index: u64,
}

fn serialize_arc_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.origin),
            None => write!(f, "{} (record {})", self.origin, self.index + 1),
        }
    }
}

/// One record read from a source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Which entity it belongs to.
    pub entity: Entity,
    /// Where it was read.
    pub position: Position,
    /// Its fields. CSV cells are strings (an empty cell is `""`).
    pub fields: Fields,
}

/// A record the source could not read (bad NDJSON line, CSV row with the
/// wrong number of cells, a list element that is not an object...). The run
/// goes on; the planner reports the item as `invalid` with this message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{position}: {message}")]
pub struct InvalidRecord {
    /// Which entity was being read.
    pub entity: Entity,
    /// Where.
    pub position: Position,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

/// What a [`RecordStream`] yields when it has no record to give.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// One record is malformed; the stream goes on.
    #[error(transparent)]
    Invalid(Box<InvalidRecord>),
    /// The source broke (I/O error mid-file...); the stream ends after this.
    #[error(transparent)]
    Fatal(SourceError),
}

impl ReadError {
    /// Whether the stream ended with this error.
    pub fn is_fatal(&self) -> bool {
        matches!(self, ReadError::Fatal(_))
    }
}

/// One item of a [`RecordStream`].
pub type RecordItem = Result<Record, ReadError>;

/// A source-level error: the run cannot read this source at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The connector could not read its source (a file that cannot be
    /// opened, an API that refuses...); the message says what and how to
    /// fix it.
    #[error(transparent)]
    Connector(Box<dyn std::error::Error + Send + Sync>),
    /// The profile's `source:` is not something mapsync can read.
    #[error("invalid `source` in the profile: {message}; {help}")]
    Config {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
}

/// A source of catalog records.
///
/// Reading is pull-based: [`Source::records`] opens one entity and returns a
/// [`RecordStream`]. Problems that make the whole source unusable (missing
/// file, bad top-level shape, syntax error in a whole-document format) are
/// returned by `records` itself; problems of one record are items of the
/// stream ([`ReadError::Invalid`]).
///
/// `records` may block (the `file` source opens and, for JSON/YAML, reads the
/// file): from async code call it inside `tokio::task::spawn_blocking`. A
/// network source (e.g. the later `rest` source) returns a stream built with
/// [`RecordStream::from_channel`] that a task of its own fills page by page.
pub trait Source: Send + Sync {
    /// The source type as written in the profile (`file`, `rest`...).
    fn kind(&self) -> &'static str;

    /// Opens the records of `entity`. A source that holds no records of
    /// that entity returns an empty stream.
    fn records(&self, entity: Entity) -> Result<RecordStream, SourceError>;

    /// Whether SyncID / SyncDate / SyncMsg can be written back to this
    /// source (mapping-format.md §3.3). `file`: false.
    fn supports_writeback(&self) -> bool;

    /// How the source reads only the records of `entity` changed since an
    /// instant (the `since:` of a `rest` entity), if it can.
    fn incremental(&self, _entity: Entity) -> Option<Incremental> {
        None
    }

    /// Opens the records of `entity` within `scope`. A source that cannot
    /// read incrementally reads everything ([`Source::records`]).
    fn records_in(&self, entity: Entity, scope: ReadScope) -> Result<RecordStream, SourceError> {
        let _ = scope;
        self.records(entity)
    }

    /// The write-back side, when [`Source::supports_writeback`].
    fn writeback(&self) -> Option<std::sync::Arc<dyn SourceWrite>> {
        None
    }

    /// A text that changes whenever the records of `entity` may have
    /// changed (a file's identity, size and modification time), cheap to
    /// get; `None` when the source cannot tell without reading (a remote
    /// API). A caller that runs the same profile again and again (the
    /// sync manager) reuses the last plan when neither this, nor the
    /// target's [`crate::target::Target::change_token`], nor the ledger
    /// changed. Must never be equal for different contents.
    fn fingerprint(&self, _entity: Entity) -> Option<String> {
        None
    }
}

/// An entity's incremental reads, as its source configures them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incremental {
    /// Taken off the last run's start time, so that changes made while it
    /// read are read again (default 5 minutes).
    pub overlap: std::time::Duration,
    /// A full read at least this often (default 24 hours): only a full
    /// read sees deletions.
    pub full_every: std::time::Duration,
}

/// How much of an entity a read covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadScope {
    /// Every record.
    #[default]
    Full,
    /// Only records changed at or after this instant (the source sends it
    /// in its `since:` parameter; the engine has already taken the overlap
    /// off).
    Since(std::time::SystemTime),
}

/// The values written back to the source for one item after it was synced
/// (mapping-format.md §3.3; seed 004 task #11, "Update Perfion").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteBack {
    /// The item's key (KeyField value).
    pub key: String,
    /// SyncID: the item's id in the target (`None` when it has none, e.g.
    /// a create that failed).
    pub sync_id: Option<String>,
    /// SyncDate, RFC 3339 UTC, of the last successful sync (`None` when it
    /// never synced).
    pub sync_date: Option<String>,
    /// SyncMsg: why the last sync failed; empty after a success.
    pub sync_msg: String,
    /// Field values pulled from the target (two-way fields flowing to the
    /// source, docs/two-way.md), by the source path each is written to
    /// (the field's `from:`). Empty for a plain write-back.
    pub values: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The source fields the mapping's `writeback:` of an entity names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WritebackFields {
    /// Where SyncID goes.
    pub sync_id: Option<String>,
    /// Where SyncDate goes.
    pub sync_date: Option<String>,
    /// Where SyncMsg goes.
    pub sync_msg: Option<String>,
}

impl WritebackFields {
    /// Whether any field is named.
    pub fn any(&self) -> bool {
        self.sync_id.is_some() || self.sync_date.is_some() || self.sync_msg.is_some()
    }
}

/// What one write-back call did.
#[derive(Debug, Default)]
pub struct WrittenBack {
    /// Per item, in the order given: written, or why not (the message has
    /// no secret).
    pub items: Vec<Result<(), String>>,
    /// HTTP requests sent (every attempt).
    pub requests: u32,
}

/// The write side of a source: SyncID / SyncDate / SyncMsg back to each
/// item. The engine calls it after items finish, in batches of at most
/// [`SourceWrite::batch_size`] items of one entity, and keeps an item's
/// write-back pending in the state store until a call succeeds for it.
#[async_trait::async_trait]
pub trait SourceWrite: Send + Sync {
    /// Items one call takes (the `batch:` of `writeback:`; 1 without).
    fn batch_size(&self) -> usize;

    /// Whether `entity` has a write-back request configured.
    fn writes_back(&self, entity: Entity) -> bool;

    /// Writes `items` of `entity` back with the field names `fields`.
    async fn write_back(
        &self,
        entity: Entity,
        fields: &WritebackFields,
        items: &[WriteBack],
    ) -> WrittenBack;
}

/// A stream of records of one entity, with bounded memory.
///
/// Two shapes behind one type: a blocking iterator (files: the reading
/// happens on the thread that pulls), or a bounded channel that some task
/// fills (network sources). Pull with [`RecordStream::next_item`] from async
/// code, or iterate from blocking code. After a fatal error the stream ends.
pub struct RecordStream {
    inner: Inner,
}

type BoxIter = Box<dyn Iterator<Item = RecordItem> + Send>;

/// Raw records, as [`RecordStream::into_raw`] gives them.
pub type RawRecords = Box<dyn Iterator<Item = RawRecord> + Send>;

/// A record as read, perhaps not parsed yet. Parsing is most of the cost
/// of reading NDJSON, so a pipeline can read raw records on one thread and
/// [`RawRecord::parse`] them on its workers (see [`RecordStream::into_raw`]).
pub struct RawRecord(Raw);

enum Raw {
    Item(RecordItem),
    Pending(Box<dyn PendingRecord>),
}

/// A record read but not parsed yet (an NDJSON line): parsing it gives the
/// same item the stream would have given.
pub trait PendingRecord: Send {
    /// Parse, on whichever thread takes it.
    fn parse(self: Box<Self>) -> RecordItem;
}

impl RawRecord {
    /// An item already parsed (or an error).
    pub fn item(item: RecordItem) -> RawRecord {
        RawRecord(Raw::Item(item))
    }

    /// A record to parse later.
    pub fn pending(record: Box<dyn PendingRecord>) -> RawRecord {
        RawRecord(Raw::Pending(record))
    }

    /// The record, or why it is not one: the same item the stream would
    /// have given.
    pub fn parse(self) -> RecordItem {
        match self.0 {
            Raw::Item(item) => item,
            Raw::Pending(record) => record.parse(),
        }
    }
}

enum Inner {
    Iter(BoxIter),
    Raw(RawRecords),
    Channel(tokio::sync::mpsc::Receiver<RecordItem>),
    Done,
}

/// How many items an async stream buffers between the reading thread and
/// the consumer.
pub const STREAM_BUFFER: usize = 256;

impl RecordStream {
    /// A stream that reads on the consumer's thread.
    pub fn from_blocking<I>(iter: I) -> RecordStream
    where
        I: Iterator<Item = RecordItem> + Send + 'static,
    {
        RecordStream {
            inner: Inner::Iter(Box::new(iter)),
        }
    }

    /// A stream that reads raw records on the consumer's thread and parses
    /// them as they are pulled, unless the consumer takes them raw
    /// ([`RecordStream::into_raw`]).
    pub fn from_raw<I>(iter: I) -> RecordStream
    where
        I: Iterator<Item = RawRecord> + Send + 'static,
    {
        RecordStream {
            inner: Inner::Raw(Box::new(iter)),
        }
    }

    /// The records unparsed where the source can defer parsing (NDJSON),
    /// so the consumer can parse them on other threads with
    /// [`RawRecord::parse`]; otherwise the items as they come. Blocking,
    /// like iterating.
    pub fn into_raw(self) -> RawRecords {
        match self.inner {
            Inner::Raw(iter) => iter,
            inner => Box::new(RecordStream { inner }.map(RawRecord::item)),
        }
    }

    /// A stream that some other task fills (use [`STREAM_BUFFER`] as the
    /// channel's capacity unless you know better).
    pub fn from_channel(rx: tokio::sync::mpsc::Receiver<RecordItem>) -> RecordStream {
        RecordStream {
            inner: Inner::Channel(rx),
        }
    }

    /// A stream with no records.
    pub fn empty() -> RecordStream {
        RecordStream { inner: Inner::Done }
    }

    /// The next item, from async code. An iterator stream is moved to a
    /// blocking thread (`spawn_blocking`) on the first call, which then
    /// feeds a bounded channel; so this never blocks the runtime. Must be
    /// called inside a Tokio runtime.
    pub async fn next_item(&mut self) -> Option<RecordItem> {
        if matches!(self.inner, Inner::Iter(_) | Inner::Raw(_)) {
            let iter: BoxIter = match std::mem::replace(&mut self.inner, Inner::Done) {
                Inner::Iter(iter) => iter,
                Inner::Raw(raw) => Box::new(raw.map(RawRecord::parse)),
                _ => return None,
            };
            let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
            tokio::task::spawn_blocking(move || {
                for item in iter {
                    if tx.blocking_send(item).is_err() {
                        break; // the consumer is gone
                    }
                }
            });
            self.inner = Inner::Channel(rx);
        }
        let item = match &mut self.inner {
            Inner::Channel(rx) => rx.recv().await,
            _ => None,
        };
        self.fuse(item)
    }

    fn fuse(&mut self, item: Option<RecordItem>) -> Option<RecordItem> {
        match &item {
            None | Some(Err(ReadError::Fatal(_))) => self.inner = Inner::Done,
            _ => {}
        }
        item
    }
}

/// Blocking iteration. For a channel stream this uses `blocking_recv`, so
/// do not iterate a channel stream on an async runtime thread.
impl Iterator for RecordStream {
    type Item = RecordItem;

    fn next(&mut self) -> Option<RecordItem> {
        let item = match &mut self.inner {
            Inner::Iter(iter) => iter.next(),
            Inner::Raw(raw) => raw.next().map(RawRecord::parse),
            Inner::Channel(rx) => rx.blocking_recv(),
            Inner::Done => None,
        };
        self.fuse(item)
    }
}

impl fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.inner {
            Inner::Iter(_) => "iterator",
            Inner::Raw(_) => "raw",
            Inner::Channel(_) => "channel",
            Inner::Done => "done",
        };
        f.debug_struct("RecordStream")
            .field("state", &state)
            .finish()
    }
}
