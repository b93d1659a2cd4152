//! The sync rules of mapping-format.md §4: source items (compiled documents
//! or invalid records), the channel's ledger rows and the target's reduced
//! items become a [`Plan`] in which every record and every considered target
//! item gets exactly one action and the name of the rule that chose it.
//! [`explain`] shows, for one item, every rule checked in order and why it
//! matched or not. This module is pure: no I/O, no clock (callers pass
//! `now`), no rendering (see `render`) and no field comparison (see `diff`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::document::{Control, Document, Entity};
use mapsync_config::check::model::{ChangeDetection, MaxDeletes, Ownership, Settings};
use mapsync_core::current::TargetItem;
use mapsync_core::diag::{Diagnostic, Severity};
use mapsync_core::diff::{self, DiffEntry};
use mapsync_state::{Ledger, LedgerRow};

/// The plan JSON's `format_version`.
pub const FORMAT_VERSION: u32 = 1;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A timestamp could not be formatted.
    #[error("cannot format a timestamp: {0}")]
    Time(#[from] time::error::Format),
}

/// One source record as the reconcile sees it.
#[derive(Debug, Clone)]
// Items are built once per record and moved into a Vec; boxing gains nothing.
#[allow(clippy::large_enum_variant)]
pub enum SourceItem {
    /// A record that compiled into a document.
    Compiled {
        /// KeyField value (empty = missing).
        key: String,
        /// The desired document.
        doc: Document,
        /// Control fields (select, mode, published, write-back values).
        control: Control,
        /// `hash::content_hash` of the document.
        hash: String,
    },
    /// A record that could not be compiled.
    Invalid {
        /// Its key, when it has one.
        key: Option<String>,
        /// Where it is in the source (e.g. `record 12`), for messages.
        position: String,
        /// Why it is invalid.
        diagnostics: Vec<Diagnostic>,
    },
}

/// How the rules see one source item: its key, and either its control
/// values and document hash (a compiled record) or why it is invalid. The
/// rules never look at the document itself, so an item may keep it
/// elsewhere (a spool) or not at all.
pub trait ItemView {
    /// The key as read (possibly blank).
    fn raw_key(&self) -> Option<&str>;
    /// Control values and document hash of a compiled record.
    fn compiled(&self) -> Option<(&Control, &str)>;
    /// Position and diagnostics of an invalid record.
    fn invalid(&self) -> Option<(&str, &[Diagnostic])>;
    /// Warnings of a compiled record (an image left out...): shown with
    /// its change, whatever the change.
    fn warnings(&self) -> &[Diagnostic] {
        &[]
    }
    /// The key, when it is not blank.
    fn key(&self) -> Option<&str> {
        self.raw_key().filter(|k| !k.trim().is_empty())
    }
}

impl ItemView for SourceItem {
    fn raw_key(&self) -> Option<&str> {
        match self {
            SourceItem::Compiled { key, .. } => Some(key.as_str()),
            SourceItem::Invalid { key, .. } => key.as_deref(),
        }
    }
    fn compiled(&self) -> Option<(&Control, &str)> {
        match self {
            SourceItem::Compiled { control, hash, .. } => Some((control, hash.as_str())),
            SourceItem::Invalid { .. } => None,
        }
    }
    fn invalid(&self) -> Option<(&str, &[Diagnostic])> {
        match self {
            SourceItem::Compiled { .. } => None,
            SourceItem::Invalid {
                position,
                diagnostics,
                ..
            } => Some((position.as_str(), diagnostics.as_slice())),
        }
    }
}

/// What the reconcile needs of one entity.
#[derive(Debug, Clone)]
pub struct EntityInput<I = SourceItem> {
    /// Which entity.
    pub entity: Entity,
    /// Source items in source order.
    pub items: Vec<I>,
    /// The channel's ledger rows of this entity, by key.
    pub ledger: Ledger,
    /// The target's items of this entity (products or custom collections).
    pub target: Vec<TargetItem>,
    /// The items are only the records changed since the last run (an
    /// incremental read): target items no record claims are not deleted
    /// (the read cannot see what is gone); those the ledger knows are
    /// `unchanged` (rule `<entity>.unchanged.not-read`), the others left
    /// out.
    pub partial: bool,
    /// What `match:` found in the target for the items that would
    /// otherwise be created (two-way.md): one hit links the item, two are
    /// a conflict. Empty without `match:`.
    pub matched: Matched,
}

/// The target items found by the `match:` identifier of the items that
/// would be created (no ledger row, no item with their marker).
#[derive(Debug, Clone, Default)]
pub struct Matched {
    /// The target field the values were looked up by (`sku`).
    pub field: String,
    /// Key → each hit: (the item's value, the target item's id).
    pub hits: HashMap<String, Vec<(String, String)>>,
}

/// Everything [`reconcile`] needs.
#[derive(Debug, Clone)]
pub struct ReconcileInput<I = SourceItem> {
    /// Profile name (goes into the plan).
    pub profile: String,
    /// Opaque value that changes when the target changes.
    pub target_serial: String,
    /// Typed settings of the mapping set.
    pub settings: Settings,
    /// The clock.
    pub now: OffsetDateTime,
    /// Categories first, then products (the order is kept).
    pub entities: Vec<EntityInput<I>>,
    /// `sync --force`: change detection is off, every item of the update
    /// list that reaches the `changed` rule is updated.
    pub force: bool,
}

/// An item's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Create in the target.
    Create,
    /// Update in the target.
    Update,
    /// Delete from the target.
    Delete,
    /// Unpublish (product: DRAFT).
    Deactivate,
    /// Leave alone (a rule says so).
    Skip,
    /// Nothing changed.
    Unchanged,
    /// The record is invalid.
    Invalid,
}

impl Action {
    /// The word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Deactivate => "deactivate",
            Action::Skip => "skip",
            Action::Unchanged => "unchanged",
            Action::Invalid => "invalid",
        }
    }

    /// Whether apply has to do something.
    pub fn is_change(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Delete | Action::Deactivate
        )
    }
}

/// A diagnostic as it goes into a plan (no file spans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDiagnostic {
    /// `error` / `warning`.
    pub severity: String,
    /// Stable code.
    pub code: String,
    /// Message.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl From<&Diagnostic> for PlanDiagnostic {
    fn from(d: &Diagnostic) -> Self {
        PlanDiagnostic {
            severity: match d.severity {
                Severity::Error => "error".into(),
                Severity::Warning => "warning".into(),
            },
            code: d.code.name.to_string(),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}

/// One item of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Which entity.
    pub entity: Entity,
    /// The record's key; for a target-only item its ownership marker, if any.
    pub key: Option<String>,
    /// The item's id in the target, if it has one.
    pub target_id: Option<String>,
    /// What will happen.
    pub action: Action,
    /// The rule that decided (mapping-format.md §4). Borrowed: a plan of
    /// a million items names a handful of rules.
    pub rule: Cow<'static, str>,
    /// The rule's reason in words (mostly one of a few fixed texts).
    pub reason: Cow<'static, str>,
    /// Field differences (filled for creates here, for updates by the caller
    /// with [`Plan::set_diff`] once the full target item is read).
    pub diff: Vec<DiffEntry>,
    /// Diagnostics (invalid items).
    pub diagnostics: Vec<PlanDiagnostic>,
    /// Fields edited in the target since mapsync wrote them, and what the
    /// sync does with each (`settings.on_drift`); filled by the caller
    /// once the full target item is read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
    /// The item's fields flowing `to_source` or `both`, classified three
    /// ways with what the run does with each (spec/two-way.md); filled by
    /// the caller from the ledger's field hashes and, when the target
    /// edited the item since its last sync, its current state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub two_way: Vec<TwoWayEntry>,
}

/// One two-way field of an item, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoWayEntry {
    /// The field's diff path.
    pub field: String,
    /// Its direction.
    pub direction: mapsync_core::two_way::Direction,
    /// What changed since the last sync.
    pub state: mapsync_core::two_way::FieldState,
    /// What the run does: `push` (`>`), `pull` (`<`), `hold` (`!`), `none`.
    pub action: mapsync_core::two_way::Action,
    /// The source's value.
    pub source: serde_json::Value,
    /// The target's value as read (null when the target did not change
    /// the item since its last sync and it was not read).
    pub target: serde_json::Value,
    /// Where in the record a pulled value is written.
    pub source_path: String,
    /// A `mapsync resolve` choice this run applies to the field's conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<mapsync_core::two_way::Side>,
    /// A metafield's type (to add its pulled value to the document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metafield_type: Option<String>,
    /// The entity's metafields declared before this one (`ns.key`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declared_before: Vec<String>,
}

impl TwoWayEntry {
    /// What the document's write takes from the target for this field.
    pub fn taken(&self) -> diff::Taken {
        diff::Taken {
            path: self.field.clone(),
            metafield_type: self.metafield_type.clone(),
            declared_before: self.declared_before.clone(),
        }
    }

    /// `vendor changed on both sides: source "Acme", target "ACME Inc."`.
    pub fn describe_conflict(&self) -> String {
        let target = if self.target.is_null() {
            "(as last synced)".to_string()
        } else {
            show_value(&self.target)
        };
        format!(
            "{} changed on both sides: source {}, target {}",
            self.field,
            show_value(&self.source),
            target
        )
    }
}

/// A value as the plan shows it: JSON, or `(empty)`.
pub(crate) fn show_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "(empty)".into(),
        other => other.to_string(),
    }
}

/// A field edited in the target since mapsync last wrote it (drift), as
/// the plan shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftEntry {
    /// The field's diff path.
    pub field: String,
    /// Its value in the store now.
    pub store: serde_json::Value,
    /// The value the source gives it now (what `overwrite` writes).
    pub new: serde_json::Value,
    /// What the sync does with it.
    pub on_drift: diff::OnDrift,
}

impl Change {
    /// The two-way fields whose target value goes back to the source.
    pub fn pulls(&self) -> impl Iterator<Item = &TwoWayEntry> {
        self.two_way
            .iter()
            .filter(|e| e.action == mapsync_core::two_way::Action::Pull)
    }

    /// The fields whose value the target keeps when the item is updated:
    /// those pulled (a field flowing `to_source` whose source value moved
    /// is pulled too: the target's value goes back over it).
    pub fn taken_fields(&self) -> Vec<diff::Taken> {
        self.pulls().map(TwoWayEntry::taken).collect()
    }

    /// Whether the sync fails this item for its drift (`on_drift: fail`).
    pub fn drift_fails(&self) -> bool {
        self.drift.iter().any(|d| d.on_drift == diff::OnDrift::Fail)
    }

    /// Whether the sync does more with this item's drift than write over
    /// it (`keep`, `fail`): it must then go on its own, not as a line of
    /// a batch import that writes the whole document.
    pub fn drift_held(&self) -> bool {
        self.drift
            .iter()
            .any(|d| d.on_drift != diff::OnDrift::Overwrite)
    }

    /// The fields the sync leaves as the store has them (`on_drift: keep`).
    pub fn kept_fields(&self) -> Vec<String> {
        self.drift
            .iter()
            .filter(|d| d.on_drift == diff::OnDrift::Keep)
            .map(|d| d.field.clone())
            .collect()
    }

    /// The message of an item failed for its drift (code
    /// `reconcile::drift`): each field with the store's value and the
    /// source's.
    pub fn drift_message(&self) -> String {
        let fields: Vec<String> = self.drift.iter().map(|d| d.describe()).collect();
        format!(
            "{}; nothing is written (settings.on_drift: fail)",
            fields.join("; ")
        )
    }
}

impl DriftEntry {
    /// `title edited in the store: "Tee (sale)" (the source has "Tee")`.
    pub fn describe(&self) -> String {
        format!(
            "{} edited in the store: {} (the source has {})",
            self.field,
            shown(&self.store),
            shown(&self.new)
        )
    }

    /// What the sync does, in words.
    pub fn outcome(&self) -> &'static str {
        match self.on_drift {
            diff::OnDrift::Overwrite => "the sync overwrites it",
            diff::OnDrift::Keep => "the sync keeps the store's value (settings.on_drift: keep)",
            diff::OnDrift::Fail => {
                "the item fails and nothing is written (settings.on_drift: fail)"
            }
        }
    }
}

/// A value as the plan shows it: text in quotes, others as JSON.
pub fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "(empty)".into(),
        other => other.to_string(),
    }
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Creates.
    pub create: usize,
    /// Updates.
    pub update: usize,
    /// Deletes.
    pub delete: usize,
    /// Deactivations.
    pub deactivate: usize,
    /// Unchanged items.
    pub unchanged: usize,
    /// Skipped items.
    pub skip: usize,
    /// Invalid records.
    pub invalid: usize,
}

impl Summary {
    fn add(&mut self, a: Action) {
        match a {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Delete => self.delete += 1,
            Action::Deactivate => self.deactivate += 1,
            Action::Skip => self.skip += 1,
            Action::Unchanged => self.unchanged += 1,
            Action::Invalid => self.invalid += 1,
        }
    }

    /// Whether anything would change in the target.
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.delete + self.deactivate > 0
    }
}

/// `max_deletes` exceeded: the CLI refuses the run unless
/// `--allow-mass-delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MassDelete {
    /// Which entity.
    pub entity: Entity,
    /// Deletes plus deactivations planned.
    pub planned: usize,
    /// The target's items of that entity.
    pub target_items: usize,
    /// The largest number allowed.
    pub allowed: usize,
    /// The setting as written (`10`, `10%`).
    pub limit: String,
}

/// The plan: what a sync would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Profile name.
    pub profile: String,
    /// RFC 3339.
    pub created_at: String,
    /// Opaque target serial.
    pub target_serial: String,
    /// Counts per action.
    pub summary: Summary,
    /// One per record and considered target item.
    pub changes: Vec<Change>,
    /// Plan-level errors: `max_deletes` exceeded (empty when fine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mass_delete: Vec<MassDelete>,
    /// How each entity's records were read, when a source can read
    /// incrementally (empty: every entity was read in full).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<EntityRead>,
}

/// How one entity's records were read for a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRead {
    /// Which entity.
    pub entity: Entity,
    /// `full` or `incremental`.
    pub read: ReadKind,
    /// For an incremental read: the instant sent to the source (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Why this kind of read.
    pub reason: String,
}

/// A full or an incremental read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadKind {
    /// Every record (sees deletions).
    Full,
    /// Only the records changed since an instant (never deletes).
    Incremental,
}

impl Plan {
    /// Recount [`Plan::summary`] from the changes.
    pub fn recount(&mut self) {
        let mut s = Summary::default();
        for c in &self.changes {
            s.add(c.action);
        }
        self.summary = s;
    }

    /// Set the field diff of one item; false when no such item.
    pub fn set_diff(&mut self, entity: Entity, key: &str, diff: Vec<DiffEntry>) -> bool {
        match self
            .changes
            .iter_mut()
            .find(|c| c.entity == entity && c.key.as_deref() == Some(key))
        {
            Some(c) => {
                c.diff = diff;
                true
            }
            None => false,
        }
    }
}

/// A document apply needs (create and update items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedDocument {
    /// The document hash (goes into the ledger after success).
    pub hash: String,
    /// Control fields (published, select, write-back values).
    pub control: Control,
    /// The desired document.
    pub document: Document,
}

/// A plan file: the plan plus what `apply` needs. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The plan as printed by `plan --format json`.
    #[serde(flatten)]
    pub plan: Plan,
    /// Documents of create and update items, in plan order.
    pub documents: Vec<PlannedDocument>,
}

/// One rule checked for an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// Rule name.
    pub rule: Cow<'static, str>,
    /// Whether its condition held.
    pub matched: bool,
    /// The condition's values.
    pub why: String,
}

/// `--explain KEY`: every rule checked for one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Which entity.
    pub entity: Entity,
    /// The key.
    pub key: Option<String>,
    /// `create`, `update`, `delete` or `invalid`: the list preparation chose.
    pub list: String,
    /// Rules in order, up to the one that decided.
    pub checks: Vec<RuleCheck>,
    /// The result.
    pub action: Action,
    /// The deciding rule.
    pub rule: String,
}

/// Apply the rules to every item: the plan (with the field diffs of
/// creates) and the documents of its create and update items, in plan
/// order.
pub fn reconcile(input: &ReconcileInput) -> Result<(Plan, Vec<PlannedDocument>), ReconcileError> {
    let (mut plan, refs) = decide(input)?;
    let mut documents = Vec::with_capacity(refs.len());
    for r in refs {
        let Some(SourceItem::Compiled {
            doc, control, hash, ..
        }) = input
            .entities
            .get(r.entity)
            .and_then(|e| e.items.get(r.item))
        else {
            continue;
        };
        if let Some(c) = plan.changes.get_mut(r.change) {
            if c.action == Action::Create {
                c.diff = diff::diff_create(doc);
            }
        }
        documents.push(PlannedDocument {
            hash: hash.clone(),
            control: control.clone(),
            document: doc.clone(),
        });
    }
    Ok((plan, documents))
}

/// Where the document of a create or update item is: the change's index in
/// [`Plan::changes`], and the item's entity and index in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocRef {
    /// Index in `plan.changes`.
    pub change: usize,
    /// Index in `input.entities`.
    pub entity: usize,
    /// Index in that entity's `items`.
    pub item: usize,
}

/// Apply the rules to every item without touching documents: the plan
/// (creates have no field diff yet) and, in plan order, where the document
/// of each create and update item is.
pub fn decide<I: ItemView>(
    input: &ReconcileInput<I>,
) -> Result<(Plan, Vec<DocRef>), ReconcileError> {
    let total: usize = input
        .entities
        .iter()
        .map(|e| e.items.len() + e.target.len())
        .sum();
    let mut changes = Vec::with_capacity(total);
    let mut refs = Vec::new();
    let mut mass = Vec::new();
    for (ei, e) in input.entities.iter().enumerate() {
        let mut sink = Sink {
            changes: &mut changes,
            refs: &mut refs,
            entity: ei,
            deletes: 0,
        };
        run_entity(&Judge::of(input, e.entity), e, None, Some(&mut sink));
        let planned = sink.deletes;
        if let Some(m) = max_deletes_exceeded(e.entity, e.target.len(), &input.settings, planned) {
            mass.push(m);
        }
    }
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        profile: input.profile.clone(),
        created_at: input
            .now
            .format(&time::format_description::well_known::Rfc3339)?,
        target_serial: input.target_serial.clone(),
        summary: Summary::default(),
        changes,
        mass_delete: mass,
        reads: Vec::new(),
    };
    plan.recount();
    Ok((plan, refs))
}

/// Every rule checked for the item with this key (a record's key, a target
/// item's marker or a target id), in the first entity that has it.
pub fn explain<I: ItemView>(input: &ReconcileInput<I>, key: &str) -> Option<Explanation> {
    input.entities.iter().find_map(|e| {
        run_entity(&Judge::of(input, e.entity), e, Some(key), None)
            .explained
            .into_iter()
            .next()
    })
}

/// Whether apply may need the document of a compiled item, judged before
/// the target is read: true when the item has no SyncID yet (it is
/// probably created), or when the update rules, with the target unknown,
/// would update it. Planning spools only these documents; an item that
/// turns out to need one anyway (its target item is gone, say) is compiled
/// again from the source.
pub fn may_need_document(
    entity: Entity,
    s: &Settings,
    now: OffsetDateTime,
    force: bool,
    control: &Control,
    hash: &str,
    row: Option<&LedgerRow>,
) -> bool {
    let has_id = control
        .sync_id
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty())
        || row
            .and_then(|r| r.target_id.as_deref())
            .is_some_and(|v| !v.is_empty());
    if !has_id {
        return true;
    }
    // Without a target item the rules can only lean towards an update
    // (`unpublished` needs the target to skip; `deselected` then skips).
    let judge = Judge {
        entity,
        settings: s,
        now,
        force,
    };
    let (_, action, _) = update_rules(&judge, false, control, hash, row, None);
    action == Action::Update
}

/// `max_deletes` for `planned` deletions and deactivations of an entity
/// whose target has `total` items: `Some` when the limit is exceeded.
/// Checked when planning and again when applying.
pub fn max_deletes_exceeded(
    entity: Entity,
    total: usize,
    s: &Settings,
    planned: usize,
) -> Option<MassDelete> {
    let limit = s.max_deletes?;
    let (allowed, text) = match limit {
        MaxDeletes::Count(n) => (usize::try_from(n).unwrap_or(usize::MAX), n.to_string()),
        MaxDeletes::Percent(p) => {
            let a = (total as f64 * p / 100.0).floor();
            (
                if a.is_finite() && a > 0.0 {
                    a as usize
                } else {
                    0
                },
                format!("{p}%"),
            )
        }
    };
    (planned > allowed).then_some(MassDelete {
        entity,
        planned,
        target_items: total,
        allowed,
        limit: text,
    })
}

/// Where the documents of the unchanged items with a target id are
/// (`plan --drift` reads those items too): change, entity and item
/// indices, as [`decide`]'s own refs.
pub fn unchanged_refs<I: ItemView>(plan: &Plan, input: &ReconcileInput<I>) -> Vec<DocRef> {
    let mut at: HashMap<(Entity, &str), (usize, usize)> = HashMap::new();
    for (ei, e) in input.entities.iter().enumerate() {
        for (ii, it) in e.items.iter().enumerate() {
            if let (Some(k), Some(_)) = (it.key(), it.compiled()) {
                at.entry((e.entity, k)).or_insert((ei, ii));
            }
        }
    }
    plan.changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action == Action::Unchanged && c.target_id.is_some())
        .filter_map(|(change, c)| {
            let (entity, item) = *at.get(&(c.entity, c.key.as_deref()?))?;
            Some(DocRef {
                change,
                entity,
                item,
            })
        })
        .collect()
}

/// Where the decisions of one entity go.
struct Sink<'a> {
    changes: &'a mut Vec<Change>,
    refs: &'a mut Vec<DocRef>,
    /// Index of the entity in the input.
    entity: usize,
    /// Deletes and deactivations so far.
    deletes: usize,
}

impl Sink<'_> {
    /// One decision; `document` is the index of the item whose document
    /// apply needs (create, update).
    fn push(&mut self, change: Change, document: Option<usize>) {
        if matches!(change.action, Action::Delete | Action::Deactivate) {
            self.deletes += 1;
        }
        if let Some(item) = document {
            self.refs.push(DocRef {
                change: self.changes.len(),
                entity: self.entity,
                item,
            });
        }
        self.changes.push(change);
    }
}

impl<'s> Judge<'s> {
    fn of<I>(input: &'s ReconcileInput<I>, entity: Entity) -> Judge<'s> {
        Judge {
            entity,
            settings: &input.settings,
            now: input.now,
            force: input.force,
        }
    }
}

struct EntityOutput {
    explained: Vec<Explanation>,
}

/// Preparation result of one source item.
enum Prepared {
    Invalid {
        rule: &'static str,
        reason: String,
        diags: Vec<PlanDiagnostic>,
    },
    Create,
    Update {
        target_id: String,
    },
}

// foldhash, not SipHash: these maps hold every item of the run.
type Map<'a, V> = HashMap<&'a str, V, foldhash::fast::RandomState>;

/// A map sized up front: growing a table of a million entries briefly
/// holds the old and the new one.
fn map<'a, V>(n: usize) -> Map<'a, V> {
    HashMap::with_capacity_and_hasher(n, Default::default())
}

/// What every item of a run is judged with.
#[derive(Debug, Clone, Copy)]
struct Judge<'s> {
    entity: Entity,
    settings: &'s Settings,
    now: OffsetDateTime,
    force: bool,
}

/// The lookups of one entity's run, built once.
struct Index<'a> {
    target_by_id: Map<'a, &'a TargetItem>,
    /// Occurrences of each key.
    key_count: Map<'a, usize>,
    /// Each item's SyncID (looked at three times: computed once).
    sync_ids: Vec<Option<&'a str>>,
    /// Occurrences of each SyncID among well-keyed compiled items.
    sid_count: Map<'a, usize>,
    /// Every id any record claims (even invalid ones): never an orphan.
    claimed: HashSet<&'a str, foldhash::fast::RandomState>,
    /// Values the target keeps unique in the store (pre-flight rules of
    /// scope run) given by more than one well-keyed compiled item, with
    /// those items. Empty for most runs.
    shared: Shared<'a>,
    /// Items linked by `match:` (index → the value that found the target
    /// item) and items whose match is a conflict (index → why). Empty
    /// without `match:`.
    linked: HashMap<usize, &'a str, foldhash::fast::RandomState>,
    conflicts: HashMap<usize, (String, PlanDiagnostic), foldhash::fast::RandomState>,
}

/// SyncID: the record's, else the ledger's, else the adopted item's.
fn sync_id<'a, I: ItemView>(
    it: &'a I,
    ledger: &'a Ledger,
    by_marker: &Map<'a, &'a str>,
) -> Option<&'a str> {
    let key = it.raw_key();
    let from_record = it
        .compiled()
        .and_then(|(control, _)| control.sync_id.as_deref())
        .filter(|v| !v.trim().is_empty());
    from_record
        .or_else(|| {
            key.and_then(|k| ledger.get(k))
                .and_then(|r| r.target_id.as_deref())
                .filter(|v| !v.is_empty())
        })
        .or_else(|| key.and_then(|k| by_marker.get(k)).copied())
}

impl<'a> Index<'a> {
    fn new<I: ItemView>(e: &'a EntityInput<I>) -> Index<'a> {
        let mut target_by_id: Map<&TargetItem> = map(e.target.len());
        target_by_id.extend(e.target.iter().map(|t| (t.id.as_str(), t)));
        let mut key_count: Map<usize> = map(e.items.len());
        for it in &e.items {
            if let Some(k) = it.key() {
                *key_count.entry(k).or_default() += 1;
            }
        }
        // Target items by ownership marker (the first one wins): an item
        // whose create was applied but never recorded (lost answer, killed
        // run) is found again by its key and adopted instead of created
        // twice.
        let mut by_marker: Map<&str> = map(e.target.len());
        for t in &e.target {
            if let Some(m) = t.marker.as_deref().filter(|m| !m.is_empty()) {
                by_marker.entry(m).or_insert(t.id.as_str());
            }
        }
        let mut sync_ids: Vec<Option<&str>> = e
            .items
            .iter()
            .map(|it| sync_id(it, &e.ledger, &by_marker))
            .collect();
        let (linked, conflicts) = link_matches(e, &key_count, &mut sync_ids, &target_by_id);
        let mut sid_count: Map<usize> = map(e.items.len());
        for (it, id) in e.items.iter().zip(&sync_ids) {
            if let (Some(_), Some(k), Some(id)) = (it.compiled(), it.key(), id) {
                if key_count.get(k).copied() == Some(1) {
                    *sid_count.entry(id).or_default() += 1;
                }
            }
        }
        let mut claimed: HashSet<&str, foldhash::fast::RandomState> =
            HashSet::with_capacity_and_hasher(e.items.len(), Default::default());
        claimed.extend(sync_ids.iter().flatten().copied());
        let shared = shared_values(&e.items, &key_count, &sync_ids, &target_by_id);
        Index {
            target_by_id,
            key_count,
            sync_ids,
            sid_count,
            claimed,
            shared,
            linked,
            conflicts,
        }
    }

    /// Sort one source item: invalid (no key, a shared key, a record that
    /// could not be mapped, a shared SyncID), an update of its target
    /// item, or a create.
    fn prepare<I: ItemView>(&self, en: &str, entity: Entity, index: usize, it: &I) -> Prepared {
        let key_str = it.key();
        match (it.invalid(), key_str) {
            (invalid, None) => {
                let (mut d, position): (Vec<PlanDiagnostic>, &str) = match invalid {
                    Some((position, diagnostics)) => {
                        (diagnostics.iter().map(Into::into).collect(), position)
                    }
                    None => (Vec::new(), "a record"),
                };
                d.push(key_missing_diag(en, position));
                Prepared::Invalid {
                    rule: rule_name(entity, "key.missing"),
                    reason: format!("{position} has no key"),
                    diags: d,
                }
            }
            (invalid, Some(k)) if self.key_count.get(k).copied().unwrap_or(0) > 1 => {
                let mut d: Vec<PlanDiagnostic> = match invalid {
                    Some((_, diagnostics)) => diagnostics.iter().map(Into::into).collect(),
                    None => Vec::new(),
                };
                let n = self.key_count.get(k).copied().unwrap_or(0);
                d.push(PlanDiagnostic {
                    severity: "error".into(),
                    code: format!("{en}.key.duplicate"),
                    message: format!(
                        "{n} {en} records share the key '{k}'; none of them is synced"
                    ),
                    help: Some("make the key field unique in the source".into()),
                });
                Prepared::Invalid {
                    rule: rule_name(entity, "key.duplicate"),
                    reason: format!("{n} records share the key '{k}'"),
                    diags: d,
                }
            }
            (Some((position, diagnostics)), Some(_)) => {
                let refused: Vec<&str> = diagnostics
                    .iter()
                    .filter(|d| d.code.name.starts_with("preflight::"))
                    .map(|d| d.code.name)
                    .collect();
                if refused.is_empty() {
                    Prepared::Invalid {
                        rule: rule_name(entity, "record.invalid"),
                        reason: format!("the record at {position} could not be mapped"),
                        diags: diagnostics.iter().map(Into::into).collect(),
                    }
                } else {
                    // Pre-flight: the record names itself in each of its
                    // refusals (file and line, where the source has lines).
                    let diags = diagnostics
                        .iter()
                        .map(|d| {
                            let mut p = PlanDiagnostic::from(d);
                            if d.code.name.starts_with("preflight::") {
                                p.message = format!("{position}: {}", p.message);
                            }
                            p
                        })
                        .collect();
                    Prepared::Invalid {
                        rule: rule_name(entity, "record.preflight"),
                        reason: format!(
                            "the record at {position} would be refused by the target ({}); nothing is sent for it",
                            refused.join(", ")
                        ),
                        diags,
                    }
                }
            }
            (None, Some(k)) if !self.refused_values(index, it).is_empty() => {
                let diags = self
                    .refused_values(index, it)
                    .into_iter()
                    .map(|(field, value, keys, holder)| {
                        PlanDiagnostic::from(&crate::preflight::unique_in_run(
                            field, value, entity, &keys, holder,
                        ))
                    })
                    .collect();
                Prepared::Invalid {
                    rule: rule_name(entity, "record.preflight"),
                    reason: format!(
                        "{en} '{k}' shares a value the target keeps unique with another record (preflight::unique-in-run); nothing is sent for it"
                    ),
                    diags,
                }
            }
            (None, Some(_)) if self.conflicts.contains_key(&index) => {
                let (reason, diag) = self.conflicts[&index].clone();
                Prepared::Invalid {
                    rule: rule_name(entity, "match.conflict"),
                    reason,
                    diags: vec![diag],
                }
            }
            (None, Some(_)) => match self.sync_ids.get(index).copied().flatten() {
                Some(id) if self.sid_count.get(id).copied().unwrap_or(0) > 1 => {
                    let n = self.sid_count.get(id).copied().unwrap_or(0);
                    Prepared::Invalid {
                        rule: rule_name(entity, "sync-id.duplicate"),
                        reason: format!("{n} records share the SyncID '{id}'"),
                        diags: vec![PlanDiagnostic {
                            severity: "error".into(),
                            code: format!("{en}.sync-id.duplicate"),
                            message: format!(
                                "{n} {en} records share the SyncID '{id}'; none of them is synced"
                            ),
                            help: Some(
                                "clear the wrong SyncID values in the source or the ledger".into(),
                            ),
                        }],
                    }
                }
                Some(id) if self.target_by_id.contains_key(id) => Prepared::Update {
                    target_id: id.to_string(),
                },
                _ => Prepared::Create,
            },
        }
    }
}

/// A value an item is refused for: (field, value, the keys of every item
/// giving it, the one that holds it in the target already, if one does).
type Refused<'a> = (&'a str, &'a str, Vec<&'a str>, Option<&'a str>);

/// Values the target keeps unique in the store given by several items of
/// the run: (field, value) → each item giving it (index, key, whether
/// the item is in the target already).
type Shared<'a> =
    HashMap<(&'a str, &'a str), Vec<(usize, &'a str, bool)>, foldhash::fast::RandomState>;

impl<'a> Index<'a> {
    /// The values this compiled item gives that other items of the run
    /// give too, where the target keeps them unique and would refuse this
    /// item's write: (field, value, the keys of every item giving it).
    /// When exactly one of those items is in the target already, it holds
    /// the value there, and only the others are refused.
    fn refused_values<I: ItemView>(&self, index: usize, it: &'a I) -> Vec<Refused<'a>> {
        let mut out = Vec::new();
        if self.shared.is_empty() {
            return out;
        }
        let Some((control, _)) = it.compiled() else {
            return out;
        };
        for (f, v) in &control.unique {
            let Some(sharers) = self.shared.get(&(f.as_str(), v.as_str())) else {
                continue;
            };
            let holders = sharers.iter().filter(|(_, _, held)| *held).count();
            let holds = sharers.iter().any(|(i, _, held)| *i == index && *held);
            if holders == 1 && holds {
                continue;
            }
            let holder = sharers
                .iter()
                .find(|(_, _, held)| *held)
                .filter(|_| holders == 1)
                .map(|(_, k, _)| *k);
            out.push((
                f.as_str(),
                v.as_str(),
                sharers.iter().map(|(_, k, _)| *k).collect(),
                holder,
            ));
        }
        out
    }
}

/// Items linked and conflicts of `match:`: index → the value that found
/// the target item, index → (reason, diagnostic). An item is linked when
/// it has no SyncID yet (no record, ledger or marker id), its identifier
/// found exactly one target item, no other item or ledger row claims that
/// target item and the item carries no other key's marker; its SyncID
/// becomes the found id. Everything else found is a conflict (never a
/// guess).
type Links<'a> = (
    HashMap<usize, &'a str, foldhash::fast::RandomState>,
    HashMap<usize, (String, PlanDiagnostic), foldhash::fast::RandomState>,
);

fn link_matches<'a, I: ItemView>(
    e: &'a EntityInput<I>,
    key_count: &Map<'a, usize>,
    sync_ids: &mut [Option<&'a str>],
    target_by_id: &Map<'a, &'a TargetItem>,
) -> Links<'a> {
    let mut linked: HashMap<usize, &str, foldhash::fast::RandomState> = HashMap::default();
    let mut conflicts: HashMap<usize, (String, PlanDiagnostic), foldhash::fast::RandomState> =
        HashMap::default();
    if e.matched.hits.is_empty() {
        return (linked, conflicts);
    }
    let en = e.entity.as_str();
    let field = e.matched.field.as_str();
    let conflict = |k: &str, reason: String, message: String, help: String| {
        (
            reason,
            PlanDiagnostic {
                severity: "error".into(),
                code: mapsync_core::diag::codes::RECONCILE_MATCH_CONFLICT.name.into(),
                message: format!("{en} '{k}': {message}; it is not synced"),
                help: Some(format!(
                    "{help} (or link the record yourself: its target id in the `writeback.sync_id` field)"
                )),
            },
        )
    };
    // Who holds each target id already: an item's SyncID or a ledger row.
    let mut holders: Map<'a, &'a str> = map(sync_ids.len());
    for (it, id) in e.items.iter().zip(sync_ids.iter()) {
        if let (Some(k), Some(id)) = (it.key(), id) {
            holders.entry(id).or_insert(k);
        }
    }
    for (k, row) in e.ledger.iter() {
        if let Some(id) = row.target_id.as_deref().filter(|v| !v.is_empty()) {
            holders.entry(id).or_insert(k.as_str());
        }
    }
    // Candidates: index → (value, id); ids wanted by several items.
    let mut wanted: Map<'a, usize> = map(e.matched.hits.len());
    let mut candidates = Vec::new();
    for (i, it) in e.items.iter().enumerate() {
        let (Some((control, _)), Some(k)) = (it.compiled(), it.key()) else {
            continue;
        };
        // A deselected record is never linked: it stays a skipped create,
        // and a store item mapsync did not make is never deleted for it.
        if key_count.get(k).copied() != Some(1)
            || sync_ids[i].is_some()
            || control.selected == Some(false)
        {
            continue;
        }
        let Some(hits) = e.matched.hits.get(k).filter(|h| !h.is_empty()) else {
            continue;
        };
        let mut ids: Vec<&str> = hits.iter().map(|(_, id)| id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() > 1 {
            let found = hits
                .iter()
                .map(|(v, id)| format!("{id} ({field}={v})"))
                .collect::<Vec<_>>()
                .join(", ");
            conflicts.insert(
                i,
                conflict(
                    k,
                    format!("match: {} target items have its {field}", ids.len()),
                    format!("match by {field} finds {} target items: {found}", ids.len()),
                    format!("keep one target item per `{field}` value"),
                ),
            );
            continue;
        }
        let (value, id) = (&hits[0].0, ids[0]);
        let marker = target_by_id
            .get(id)
            .and_then(|t| t.marker.as_deref())
            .filter(|m| !m.is_empty() && *m != k);
        if let Some(other) = holders.get(id).copied().filter(|h| *h != k).or(marker) {
            conflicts.insert(
                i,
                conflict(
                    k,
                    format!("match: {field}={value} finds {id}, linked to '{other}'"),
                    format!(
                        "match by {field}={value} finds {id}, which is linked to {en} '{other}' already"
                    ),
                    format!("correct `{field}` in the source or the target: {id} belongs to '{other}'"),
                ),
            );
            continue;
        }
        *wanted.entry(id).or_default() += 1;
        candidates.push((i, k, value.as_str(), id));
    }
    for (i, k, value, id) in candidates {
        let n = wanted.get(id).copied().unwrap_or(0);
        if n > 1 {
            conflicts.insert(
                i,
                conflict(
                    k,
                    format!("match: {n} records find {id}"),
                    format!(
                        "match by {field}={value} finds {id}, which {n} records of this run find"
                    ),
                    "give the identifier to one record only".to_string(),
                ),
            );
        } else if target_by_id.contains_key(id) {
            sync_ids[i] = Some(id);
            linked.insert(i, value);
        }
    }
    (linked, conflicts)
}

/// (field, value) pairs given by more than one well-keyed compiled item
/// (pre-flight rules of scope run), with those items.
fn shared_values<'a, I: ItemView>(
    items: &'a [I],
    key_count: &Map<'a, usize>,
    sync_ids: &[Option<&'a str>],
    target_by_id: &Map<'a, &'a TargetItem>,
) -> Shared<'a> {
    let mut all: Shared<'a> = HashMap::default();
    for (i, it) in items.iter().enumerate() {
        let (Some((control, _)), Some(k)) = (it.compiled(), it.key()) else {
            continue;
        };
        if control.unique.is_empty() || key_count.get(k).copied() != Some(1) {
            continue;
        }
        let held = sync_ids
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|id| target_by_id.contains_key(id));
        for (f, v) in &control.unique {
            all.entry((f.as_str(), v.as_str()))
                .or_default()
                .push((i, k, held));
        }
    }
    all.retain(|_, sharers| sharers.len() > 1);
    all
}

/// One item's decision: its change, the rules checked (when explained),
/// the list it was judged in and the item index whose document apply needs.
type Decided = (Change, Vec<RuleCheck>, &'static str, Option<usize>);

/// Decide one prepared item; `None` when it has nothing to decide (a
/// create or update without a compiled document).
fn decide_item<I: ItemView>(
    judge: &Judge<'_>,
    e: &EntityInput<I>,
    idx: &Index<'_>,
    (index, it): (usize, &I),
    prepared: Prepared,
    wanted: bool,
) -> Option<Decided> {
    let entity = judge.entity;
    let key = it.key().map(str::to_string);
    Some(match prepared {
        Prepared::Invalid {
            rule,
            reason,
            diags,
        } => {
            let checks = if wanted {
                vec![RuleCheck {
                    rule: Cow::Borrowed(rule),
                    matched: true,
                    why: reason.clone(),
                }]
            } else {
                Vec::new()
            };
            let change = Change {
                entity,
                key,
                target_id: None,
                action: Action::Invalid,
                rule: Cow::Borrowed(rule),
                reason: Cow::Owned(reason),
                diff: Vec::new(),
                diagnostics: diags,
                drift: Vec::new(),
                two_way: Vec::new(),
            };
            (change, checks, "invalid", None)
        }
        Prepared::Create => {
            let (control, _) = it.compiled()?;
            let (checks, action, rule) = create_rules(entity, judge.settings, control, wanted);
            let mut change = change_of(entity, key, None, action, rule, &checks, Vec::new());
            change
                .diagnostics
                .extend(it.warnings().iter().map(Into::into));
            (
                change,
                checks,
                "create",
                (action == Action::Create).then_some(index),
            )
        }
        Prepared::Update { target_id } => {
            let (control, hash) = it.compiled()?;
            let target = idx.target_by_id.get(target_id.as_str()).copied();
            let row = it.key().and_then(|k| e.ledger.get(k));
            let (mut checks, action, mut rule) =
                update_rules(judge, wanted, control, hash, row, target);
            let linked = idx.linked.get(&index).filter(|_| action == Action::Update);
            if let Some(value) = linked {
                rule = rule_name(entity, "update.linked");
                checks.push(RuleCheck {
                    rule: Cow::Borrowed(rule),
                    matched: true,
                    why: format!("match: {}={value} found {target_id}", e.matched.field),
                });
            }
            let mut change = change_of(
                entity,
                key,
                Some(target_id),
                action,
                rule,
                &checks,
                Vec::new(),
            );
            if let Some(value) = linked {
                change.reason = Cow::Owned(format!("linked by match {}={value}", e.matched.field));
            }
            change
                .diagnostics
                .extend(it.warnings().iter().map(Into::into));
            (
                change,
                checks,
                "update",
                (action == Action::Update).then_some(index),
            )
        }
    })
}

/// The delete list: target items no record claims.
fn delete_list<I: ItemView>(
    judge: &Judge<'_>,
    e: &EntityInput<I>,
    idx: &Index<'_>,
    want: Option<&str>,
    out: &mut EntityOutput,
    mut sink: Option<&mut Sink<'_>>,
) {
    let s = judge.settings;
    if e.partial {
        not_read_list(e, idx, want, sink);
        return;
    }
    for t in &e.target {
        if idx.claimed.contains(t.id.as_str()) {
            continue;
        }
        if s.ownership == Ownership::Managed && t.marker.is_none() {
            continue;
        }
        let wanted = want.is_some_and(|w| w == t.id || t.marker.as_deref() == Some(w));
        if want.is_some() && !wanted {
            continue;
        }
        let (checks, action, rule) = delete_rules(e.entity, s, t, wanted);
        if wanted {
            out.explained.push(Explanation {
                entity: e.entity,
                key: t.marker.clone(),
                list: "delete".into(),
                checks,
                action,
                rule: rule.to_string(),
            });
            continue;
        }
        let change = change_of(
            e.entity,
            t.marker.clone(),
            Some(t.id.clone()),
            action,
            rule,
            &checks,
            Vec::new(),
        );
        if let Some(sink) = sink.as_deref_mut() {
            sink.push(change, None);
        }
    }
}

/// An incremental read's target items no record claims: those the ledger
/// knows (by marker, else by target id) stay as they are (`unchanged`, so
/// that products still relate to categories not read this run); the
/// others are not considered.
fn not_read_list<I: ItemView>(
    e: &EntityInput<I>,
    idx: &Index<'_>,
    want: Option<&str>,
    mut sink: Option<&mut Sink<'_>>,
) {
    if want.is_some() {
        return;
    }
    let by_target: std::collections::HashMap<&str, &str, foldhash::fast::RandomState> = e
        .ledger
        .iter()
        .filter_map(|(k, r)| Some((r.target_id.as_deref()?, k.as_str())))
        .collect();
    for t in &e.target {
        if idx.claimed.contains(t.id.as_str()) {
            continue;
        }
        let key = match &t.marker {
            Some(k) if e.ledger.contains_key(k.as_str()) => Some(k.clone()),
            _ => by_target.get(t.id.as_str()).map(|k| k.to_string()),
        };
        let Some(key) = key else { continue };
        let change = change_of(
            e.entity,
            Some(key),
            Some(t.id.clone()),
            Action::Unchanged,
            rule_name(e.entity, "unchanged.not-read"),
            &[],
            Vec::new(),
        );
        if let Some(sink) = sink.as_deref_mut() {
            sink.push(change, None);
        }
    }
}

/// Decide every item of one entity: each source item (invalid, create or
/// update), then the target items no record claims (delete list). With
/// `want`, only that item is judged and explained; otherwise every change
/// goes to `sink`.
fn run_entity<I: ItemView>(
    judge: &Judge<'_>,
    e: &EntityInput<I>,
    want: Option<&str>,
    mut sink: Option<&mut Sink<'_>>,
) -> EntityOutput {
    let en = e.entity.as_str();
    let idx = Index::new(e);
    let mut out = EntityOutput {
        explained: Vec::new(),
    };
    for (index, it) in e.items.iter().enumerate() {
        let wanted = want.is_some_and(|w| it.key() == Some(w));
        if want.is_some() && !wanted {
            // `--explain`: only the wanted item's checks matter.
            continue;
        }
        let prepared = idx.prepare(en, e.entity, index, it);
        let Some((change, checks, list, document)) =
            decide_item(judge, e, &idx, (index, it), prepared, wanted)
        else {
            continue;
        };
        if wanted {
            out.explained.push(Explanation {
                entity: e.entity,
                key: change.key.clone(),
                list: list.into(),
                checks,
                action: change.action,
                rule: change.rule.to_string(),
            });
        } else if let Some(sink) = sink.as_deref_mut() {
            sink.push(change, document);
        }
    }
    delete_list(judge, e, &idx, want, &mut out, sink);
    out
}

fn key_missing_diag(en: &str, position: &str) -> PlanDiagnostic {
    PlanDiagnostic {
        severity: "error".into(),
        code: format!("{en}.key.missing"),
        message: format!("{position} has an empty key field; it is not synced"),
        help: Some("give every record a value in the entity's key field".into()),
    }
}

fn change_of(
    entity: Entity,
    key: Option<String>,
    target_id: Option<String>,
    action: Action,
    rule: &'static str,
    checks: &[RuleCheck],
    diff: Vec<DiffEntry>,
) -> Change {
    Change {
        entity,
        key,
        target_id,
        action,
        rule: Cow::Borrowed(rule),
        reason: reason_of(rule, checks),
        diff,
        diagnostics: Vec::new(),
        drift: Vec::new(),
        two_way: Vec::new(),
    }
}

fn reason_of(rule: &str, checks: &[RuleCheck]) -> Cow<'static, str> {
    let base = rule.split_once('.').map(|(_, r)| r).unwrap_or(rule);
    let text = match base {
        "create.no-permission" => "sync does not allow add",
        "create.no-update-flag" | "update.no-update-flag" => "the item's mode is NoUpdate",
        "create.deselected" => "the item is selected not to be used in the target",
        "create.new" => "a new item",
        "update.no-permission" => "sync does not allow update",
        "update.deselected" => {
            // The delete rule's reason decides.
            let decided = checks.iter().rev().find(|c| c.matched);
            return match decided {
                Some(c) if c.rule.ends_with("delete.orphan") => Cow::Borrowed(
                    "the item is selected not to be used in the target, so it is removed",
                ),
                Some(c) if c.rule != rule => Cow::Owned(format!(
                    "the item is selected not to be used in the target, but {}",
                    reason_of(&c.rule, &[])
                )),
                _ => Cow::Borrowed("the item is selected not to be used in the target"),
            };
        }
        "update.unpublished" => "unpublished in the source and in the target",
        "update.never-synced" => "never synced (SyncDate is empty)",
        "update.expired" => "the last sync is older than data_max_age",
        "update.changed" => "the mapped document differs from the one last synced",
        "update.up-to-date" => "up to date",
        "delete.no-permission" => "sync allows neither delete nor deactivate",
        "delete.already-inactive" => "already inactive in the target",
        "delete.orphan" => "no source record claims this target item",
        "update.linked" => "linked by match",
        "match.conflict" => "the match identifier finds no single target item",
        "unchanged.not-read" => {
            "not read: the incremental read returned only the records changed since the last run"
        }
        _ => "",
    };
    Cow::Borrowed(text)
}

fn rule_name(e: Entity, rest: &str) -> &'static str {
    macro_rules! names {
        ($($r:literal),*) => {
            match (e, rest) {
                $(
                    (Entity::Category, $r) => concat!("category.", $r),
                    (Entity::Product, $r) => concat!("product.", $r),
                )*
                _ => "unknown",
            }
        };
    }
    names!(
        "key.missing",
        "key.duplicate",
        "sync-id.duplicate",
        "record.invalid",
        "record.preflight",
        "create.no-permission",
        "create.no-update-flag",
        "create.deselected",
        "create.new",
        "update.no-permission",
        "update.no-update-flag",
        "update.deselected",
        "update.unpublished",
        "update.never-synced",
        "update.expired",
        "update.changed",
        "update.up-to-date",
        "delete.no-permission",
        "delete.already-inactive",
        "delete.orphan",
        "unchanged.not-read",
        "match.conflict",
        "update.linked"
    )
}

struct Rules {
    entity: Entity,
    checks: Vec<RuleCheck>,
    /// Keep every check with its reasons (`--explain`); otherwise only the
    /// checks that matched, without reasons (all a plan's reason needs).
    explain: bool,
}

impl Rules {
    fn new(entity: Entity, explain: bool) -> Rules {
        Rules {
            entity,
            checks: Vec::new(),
            explain,
        }
    }

    /// Record a check; returns whether it matched. `why` is only
    /// evaluated when explaining.
    fn check(&mut self, rest: &str, matched: bool, why: impl FnOnce() -> String) -> bool {
        if self.explain || matched {
            self.checks.push(RuleCheck {
                rule: Cow::Borrowed(rule_name(self.entity, rest)),
                matched,
                why: if self.explain { why() } else { String::new() },
            });
        }
        matched
    }
}

type Outcome = (Vec<RuleCheck>, Action, &'static str);

fn sync_words(s: &Settings) -> String {
    let f = s.sync;
    let mut w = Vec::new();
    for (on, name) in [
        (f.add, "add"),
        (f.update, "update"),
        (f.delete, "delete"),
        (f.deactivate, "deactivate"),
    ] {
        if on {
            w.push(name);
        }
    }
    format!("sync = [{}]", w.join(", "))
}

fn create_rules(e: Entity, s: &Settings, c: &Control, explain: bool) -> Outcome {
    let mut r = Rules::new(e, explain);
    if r.check("create.no-permission", !s.sync.add, || sync_words(s)) {
        return (r.checks, Action::Skip, rule_name(e, "create.no-permission"));
    }
    if e == Entity::Product
        && r.check("create.no-update-flag", c.no_update, || {
            format!("mode is NoUpdate = {}", c.no_update)
        })
    {
        return (
            r.checks,
            Action::Skip,
            rule_name(e, "create.no-update-flag"),
        );
    }
    if r.check("create.deselected", c.selected == Some(false), || {
        format!("select = {}", opt_bool(c.selected))
    }) {
        return (r.checks, Action::Skip, rule_name(e, "create.deselected"));
    }
    r.check("create.new", true, || "always".into());
    (r.checks, Action::Create, rule_name(e, "create.new"))
}

fn opt_bool(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "true",
        Some(false) => "false",
        None => "not mapped",
    }
}

/// The SyncDate the rules use, and where it came from.
fn sync_date(
    c: &Control,
    row: Option<&LedgerRow>,
    explain: bool,
) -> (Option<OffsetDateTime>, String) {
    if !explain {
        let date = if c.has_sync_date_field {
            c.sync_date
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .and_then(|v| {
                    OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
                })
        } else {
            row.and_then(|r| r.sync_date)
        };
        return (date, String::new());
    }
    if c.has_sync_date_field {
        match c
            .sync_date
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => (None, "SyncDate field is empty".into()),
            Some(v) => {
                match OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
                    Ok(t) => (Some(t), format!("SyncDate field = {v}")),
                    Err(_) => (
                        None,
                        format!("SyncDate field '{v}' is not a RFC 3339 date (taken as empty)"),
                    ),
                }
            }
        }
    } else {
        match row.and_then(|r| r.sync_date) {
            Some(t) => (Some(t), format!("ledger SyncDate = {}", fmt_time(t))),
            None => (None, "ledger has no SyncDate".into()),
        }
    }
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn update_rules(
    judge: &Judge<'_>,
    explain: bool,
    c: &Control,
    hash: &str,
    row: Option<&LedgerRow>,
    target: Option<&TargetItem>,
) -> Outcome {
    let Judge {
        entity: e,
        settings: s,
        now,
        force,
    } = *judge;
    let mut r = Rules::new(e, explain);
    if r.check("update.no-permission", !s.sync.update, || sync_words(s)) {
        return (r.checks, Action::Skip, rule_name(e, "update.no-permission"));
    }
    if e == Entity::Product
        && r.check("update.no-update-flag", c.no_update, || {
            format!("mode is NoUpdate = {}", c.no_update)
        })
    {
        return (
            r.checks,
            Action::Skip,
            rule_name(e, "update.no-update-flag"),
        );
    }
    if r.check("update.deselected", c.selected == Some(false), || {
        format!("select = {}", opt_bool(c.selected))
    }) {
        let Some(t) = target else {
            return (r.checks, Action::Skip, rule_name(e, "update.deselected"));
        };
        let (checks, action, _) = delete_rules(e, s, t, explain);
        r.checks.extend(checks);
        return (r.checks, action, rule_name(e, "update.deselected"));
    }
    let src_unpub = c.published == Some(false);
    let tgt_unpub = target.is_some_and(|t| !t.published);
    if r.check(
        "update.unpublished",
        src_unpub && tgt_unpub && !s.update_unpublished,
        || {
            format!(
                "published in source = {}, in target = {}, update_unpublished = {}",
                opt_bool(c.published),
                target
                    .map(|t| if t.published { "true" } else { "false" })
                    .unwrap_or("unknown"),
                s.update_unpublished
            )
        },
    ) {
        return (r.checks, Action::Skip, rule_name(e, "update.unpublished"));
    }
    let (date, date_why) = sync_date(c, row, explain);
    if r.check("update.never-synced", date.is_none(), || date_why.clone()) {
        return (
            r.checks,
            Action::Update,
            rule_name(e, "update.never-synced"),
        );
    }
    let max_age = s
        .data_max_age
        .map(|max| time::Duration::try_from(max).unwrap_or(time::Duration::MAX));
    let expired = matches!((max_age, date), (Some(max), Some(d)) if now - d > max);
    if r.check("update.expired", expired, || match (max_age, date) {
        (Some(max), Some(d)) => format!("{date_why}, age {}, data_max_age {max}", now - d),
        (None, _) => "data_max_age is not set".into(),
        (_, None) => date_why.clone(),
    }) {
        return (r.checks, Action::Update, rule_name(e, "update.expired"));
    }
    let last = row.and_then(|r| r.hash.as_deref());
    let changed = match s.change_detection {
        _ if force => true,
        ChangeDetection::SyncDate => false,
        ChangeDetection::Hash => last != Some(hash),
    };
    if r.check("update.changed", changed, || match s.change_detection {
        _ if force => "--force: change detection is off".to_string(),
        ChangeDetection::SyncDate => "change_detection = sync_date (rule off)".to_string(),
        ChangeDetection::Hash => format!(
            "document hash {} vs last synced {}",
            short(hash),
            last.map(short).unwrap_or("none")
        ),
    }) {
        return (r.checks, Action::Update, rule_name(e, "update.changed"));
    }
    r.check("update.up-to-date", true, || "always".into());
    (
        r.checks,
        Action::Unchanged,
        rule_name(e, "update.up-to-date"),
    )
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

fn delete_rules(e: Entity, s: &Settings, t: &TargetItem, explain: bool) -> Outcome {
    let mut r = Rules::new(e, explain);
    if r.check(
        "delete.no-permission",
        !s.sync.delete && !s.sync.deactivate,
        || sync_words(s),
    ) {
        return (r.checks, Action::Skip, rule_name(e, "delete.no-permission"));
    }
    if r.check(
        "delete.already-inactive",
        s.sync.deactivate && !t.published,
        || {
            format!(
                "deactivate = {}, published in target = {}",
                s.sync.deactivate, t.published
            )
        },
    ) {
        return (
            r.checks,
            Action::Skip,
            rule_name(e, "delete.already-inactive"),
        );
    }
    r.check("delete.orphan", true, || "always".into());
    let action = if s.sync.deactivate {
        Action::Deactivate
    } else {
        Action::Delete
    };
    (r.checks, action, rule_name(e, "delete.orphan"))
}

/// Group changes by entity, in plan order (used by rendering).
pub fn by_entity(plan: &Plan) -> BTreeMap<Entity, Vec<&Change>> {
    let mut m: BTreeMap<Entity, Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        m.entry(c.entity).or_default().push(c);
    }
    m
}
