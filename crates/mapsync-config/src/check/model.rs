//! The checked mapping set: what the planner compiles. Every path is
//! parsed, every target classified, every setting typed. Values keep their
//! location so record-time diagnostics can point back at the mapping.

pub use mapsync_core::document::ImageKind;
pub use mapsync_core::two_way::{Conflict, Direction};
pub use mapsync_core::Entity;
use std::time::Duration;

use indexmap::IndexMap;

use super::fields::{Context, FieldType};
use crate::metafield;
use mapsync_core::diag::Span;
use mapsync_syntax::SourcePath;

/// A checked mapping set.
#[derive(Debug, Clone, Default)]
pub struct MappingSet {
    /// Its name (`name:`), if given.
    pub name: Option<String>,
    /// The target kind it is written for (`target:`; by default the
    /// first target connector's kind).
    pub target: String,
    /// That target's limits on one item (options, images...).
    pub limits: mapsync_core::target::Limits,
    /// That target's pre-flight rules (what it refuses), checked on each
    /// compiled document.
    pub rules: &'static [mapsync_core::rules::Rule],
    /// How that target's values compare (sets, upper-cased enums...): the
    /// mapping tests' two-way expectations classify with them.
    pub compare: mapsync_core::current::CompareRules,
    /// Typed settings with defaults applied.
    pub settings: Settings,
    /// Reference locations by name.
    pub locations: IndexMap<String, LocationRef>,
    /// The category entity, if mapped.
    pub category: Option<EntityMapping>,
    /// The product entity, if mapped.
    pub product: Option<EntityMapping>,
    /// Mapping unit tests.
    pub tests: Vec<TestCase>,
}

/// Which operations a sync may perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncFlags {
    /// Create new items.
    pub add: bool,
    /// Update existing items.
    pub update: bool,
    /// Delete orphans.
    pub delete: bool,
    /// Deactivate orphans (wins over delete).
    pub deactivate: bool,
}

impl Default for SyncFlags {
    fn default() -> Self {
        SyncFlags {
            add: true,
            update: true,
            delete: false,
            deactivate: false,
        }
    }
}

/// How updates are detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChangeDetection {
    /// The mapped document's hash differs from the last synced one.
    #[default]
    Hash,
    /// The seed's exact rules (SyncDate and data_max_age only).
    SyncDate,
}

/// Which target items a sync may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ownership {
    /// Only items mapsync created.
    #[default]
    Managed,
    /// Any item.
    All,
}

/// The delete limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDeletes {
    /// At most this many.
    Count(u64),
    /// At most this percentage of the target's items.
    Percent(f64),
}

/// Typed settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// SyncType.
    pub sync: SyncFlags,
    /// Change detection.
    pub change_detection: ChangeDetection,
    /// DataMaxAgeInMin.
    pub data_max_age: Option<Duration>,
    /// UpdateUnpublishedItems.
    pub update_unpublished: bool,
    /// KeepExistingVariantData.
    pub keep_existing_variant_data: bool,
    /// Ownership.
    pub ownership: Ownership,
    /// Delete limit.
    pub max_deletes: Option<MaxDeletes>,
    /// Chunk size.
    pub chunk_size: usize,
    /// Items in flight.
    pub concurrency: usize,
    /// Retries per request.
    pub retries: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Metafield name rules.
    pub metafield_rules: metafield::Rules,
    /// What a sync does with a field edited in the target since mapsync
    /// wrote it (`on_drift`).
    pub on_drift: mapsync_core::diff::OnDrift,
    /// Settings of one kind of target (`settings.<kind>`): option → text
    /// value, by target kind, handed to that kind's connector
    /// (`ClientSettings::target`).
    pub target: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sync: SyncFlags::default(),
            change_detection: ChangeDetection::Hash,
            data_max_age: None,
            update_unpublished: false,
            keep_existing_variant_data: false,
            ownership: Ownership::Managed,
            max_deletes: None,
            chunk_size: 25,
            concurrency: 20,
            retries: 3,
            timeout: Duration::from_secs(30),
            metafield_rules: metafield::Rules::Current,
            on_drift: mapsync_core::diff::OnDrift::Overwrite,
            target: Default::default(),
        }
    }
}

/// A reference location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationRef {
    /// Matched by the target location's name.
    Name(String),
    /// Matched by the target location's id.
    Id(String),
}

/// A checked entity mapping.
#[derive(Debug, Clone)]
pub struct EntityMapping {
    /// Which entity.
    pub kind: Entity,
    /// KeyField.
    pub key: SourcePath,
    /// Select field (false = not used in the target).
    pub select: Option<SourcePath>,
    /// Per-item mode field (`NoUpdate`), products only.
    pub mode: Option<SourcePath>,
    /// Published field.
    pub published: Option<SourcePath>,
    /// Category keys of a product.
    pub categories: Option<SourcePath>,
    /// SyncKeepDeletedMetafields.
    pub keep_deleted_metafields: bool,
    /// Write-back fields.
    pub writeback: Writeback,
    /// Field mappings in declaration order.
    pub fields: Vec<FieldMapping>,
    /// Image specs in declaration order.
    pub images: Vec<ImageSpec>,
    /// Paths naming `Option|1..3`.
    pub option_names: Vec<SourcePath>,
    /// Variants, products only.
    pub variants: Option<Variants>,
    /// `match:`: the shared identifier an item without a ledger row is
    /// looked up by in the target before it is created (two-way.md).
    pub matching: Option<MatchSpec>,
    /// `updated_at:`: where each side keeps when an item was last edited,
    /// for `conflict: newest` (two-way.md).
    pub updated_at: Option<UpdatedAt>,
}

impl EntityMapping {
    /// Whether any field of the entity (or of its variants) flows other
    /// than `to_target`.
    pub fn has_two_way(&self) -> bool {
        self.fields
            .iter()
            .chain(self.variants.iter().flat_map(|v| v.fields.iter()))
            .any(|f| f.direction.is_two_way())
    }
}

/// A checked `updated_at: { source: PATH, target: FIELD }`.
#[derive(Debug, Clone)]
pub struct UpdatedAt {
    /// Where the record keeps when it was last edited.
    pub source: SourcePath,
    /// The target item's field holding when it was last edited.
    pub target: String,
    /// The `updated_at:` value in the mapping file.
    pub location: Option<Span>,
}

/// A checked `match:`: the source path and the target field it equals.
#[derive(Debug, Clone)]
pub struct MatchSpec {
    /// Where the identifier is in the record (a `[*]` path gives several).
    pub source: SourcePath,
    /// The target field (one of the connector's `Capabilities::matchable`).
    pub target: String,
    /// The `match:` value in the mapping file.
    pub location: Option<Span>,
}

/// Where SyncID / SyncDate / SyncMsg live in the source.
#[derive(Debug, Clone, Default)]
pub struct Writeback {
    /// SyncID.
    pub sync_id: Option<SourcePath>,
    /// SyncDate.
    pub sync_date: Option<SourcePath>,
    /// SyncMsg.
    pub sync_msg: Option<SourcePath>,
}

impl Writeback {
    /// Whether any write-back field is declared.
    pub fn any(&self) -> bool {
        self.sync_id.is_some() || self.sync_date.is_some() || self.sync_msg.is_some()
    }
}

/// The variants of a product.
#[derive(Debug, Clone)]
pub struct Variants {
    /// The list field.
    pub from: SourcePath,
    /// Keep only elements where this is non-empty.
    pub filter: Option<SourcePath>,
    /// Variant key (default: option values joined).
    pub key: Option<SourcePath>,
    /// Ordering.
    pub position: Option<SourcePath>,
    /// SyncAllImages.
    pub sync_all_images: bool,
    /// Field mappings.
    pub fields: Vec<FieldMapping>,
    /// Image specs.
    pub images: Vec<ImageSpec>,
}

/// One `map:` entry.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    /// What is written.
    pub target: TargetSpec,
    /// Where the value comes from.
    pub value: ValueSpec,
    /// The entry's key in the mapping file.
    pub location: Option<Span>,
    /// Which way the field flows (`direction:` of the long form).
    pub direction: Direction,
    /// What decides a change on both sides (`conflict:`).
    pub conflict: Conflict,
    /// The `direction:` value in the mapping file, when given.
    pub direction_at: Option<Span>,
    /// The `conflict:` value in the mapping file, when given.
    pub conflict_at: Option<Span>,
}

/// A classified target.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetSpec {
    /// A plain field with its type.
    Field {
        /// Dotted name.
        name: String,
        /// Value type.
        ty: FieldType,
    },
    /// A metafield value.
    Metafield {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// Resolved type.
        ty: metafield::Type,
    },
    /// A metafield definition's description.
    MetafieldDescription {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
    },
    /// Quantity at a reference location.
    Quantity {
        /// Span name.
        location: String,
    },
    /// A variant option.
    Option(OptionName),
}

/// An option's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionName {
    /// Named in the mapping.
    Named(String),
    /// Position 1..=3, named per record by `option_names`.
    Index(usize),
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueSource {
    /// A path into the record.
    Path(SourcePath),
    /// A literal (string, number or boolean).
    Literal(serde_json::Value),
    /// A minijinja template.
    Template(String),
}

/// A value: its source, a default and transforms.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSpec {
    /// Source.
    pub source: ValueSource,
    /// Used when the source is empty.
    pub default: Option<serde_json::Value>,
    /// Applied in order.
    pub transforms: Vec<Transform>,
}

/// A value transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// Trim whitespace.
    Trim,
    /// Lower-case.
    Lower,
    /// Upper-case.
    Upper,
    /// Split a string into a list.
    Split(String),
}

/// One `images:` entry.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Where the image(s) come from.
    pub from: SourcePath,
    /// Kind.
    pub kind: ImageKind,
    /// Alt text path.
    pub alt: Option<SourcePath>,
    /// Usage rights of asset objects (two-way.md): where each element of
    /// `from` keeps its URL, expiry and channels.
    pub rights: ImageRights,
}

/// Paths inside each asset object of an `images:` entry whose `from` is a
/// list of objects (`{ from: Assets, url: Url, expires: ExpiresAt,
/// channels: Channels }`). All empty: the elements are the images.
#[derive(Debug, Clone, Default)]
pub struct ImageRights {
    /// The image's URL (or data) in the object (default: `url` or `src`).
    pub url: Option<SourcePath>,
    /// When the usage rights end (RFC 3339 or `YYYY-MM-DD`): an image
    /// past it is left out, so the next run removes it from the target.
    pub expires: Option<SourcePath>,
    /// The channels the image is licensed for (a list, or a text split at
    /// commas): an image whose list does not name the profile's channel is
    /// not sent there.
    pub channels: Option<SourcePath>,
}

impl ImageRights {
    /// Whether any rights path is declared.
    pub fn any(&self) -> bool {
        self.url.is_some() || self.expires.is_some() || self.channels.is_some()
    }
}

/// A mapping unit test.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Name.
    pub name: String,
    /// Entity.
    pub entity: Entity,
    /// Input record.
    pub input: serde_json::Value,
    /// Expected document (a subset).
    pub expect: serde_json::Value,
    /// `two_way:`: the values last synced and the target's, and the
    /// expected action of each two-way field (docs/mapping-tests.md).
    pub two_way: Option<serde_json::Value>,
    /// Where the test is.
    pub location: Option<Span>,
}

impl Context {
    /// The entity a context belongs to.
    pub fn entity(self) -> Entity {
        match self {
            Context::Category => Entity::Category,
            Context::Product | Context::Variant => Entity::Product,
        }
    }
}
