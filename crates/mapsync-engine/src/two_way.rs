//! Two-way fields while planning (spec/two-way.md, docs/two-way.md):
//! which items' two-way fields must be looked at in the target, reading
//! them (a batch of items a request), the three-way classification of each
//! field against the ledger's field hashes, and the plan's changes
//! decided by it (pulls, holds). Decisions are `mapsync_plan::two_way`'s
//! and `mapsync_core::two_way`'s; this module does the reads.
//!
//! An item is read only when the target may have changed it since its last
//! sync: its updated-at (the reduced read's) is later than the ledger's
//! SyncDate (to the second; a target without updated-at is always read), a
//! field flowing `to_source` has no synced value yet (a value the store
//! made itself, such as a handle), the ledger has no field hashes for it,
//! or `--full`. Otherwise each field holds the value last synced, and only
//! the source side can have moved: classified without a request.

use std::collections::{BTreeMap, HashMap};

use mapsync_config::check::model::MappingSet;
use mapsync_core::diff::FieldHashes;
use mapsync_core::target::TargetWrite;
use mapsync_core::two_way::{Direction, Side};
use mapsync_core::Entity;
use mapsync_plan::reconcile::{self, Plan, ReconcileInput};
use mapsync_plan::spool::SpooledItem;
use mapsync_plan::two_way::TwoWaySpec;

use crate::engine::{EngineError, PlanError};

/// Items read at once.
const READ_BATCH: usize = 250;

/// The two-way fields of each entity that has some.
#[derive(Debug, Default)]
pub struct TwoWayFields {
    by_entity: BTreeMap<Entity, Vec<TwoWaySpec>>,
}

impl TwoWayFields {
    /// The mapping set's.
    pub fn of(set: &MappingSet) -> TwoWayFields {
        let by_entity = [&set.category, &set.product]
            .into_iter()
            .flatten()
            .map(|e| (e.kind, mapsync_plan::two_way::specs(e)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        TwoWayFields { by_entity }
    }

    /// Whether no entity has one.
    pub fn is_empty(&self) -> bool {
        self.by_entity.is_empty()
    }

    /// Whether `entity` has one.
    pub fn has(&self, entity: Entity) -> bool {
        self.by_entity.contains_key(&entity)
    }

    /// The diff paths of an entity's two-way fields (drift is not looked
    /// for on them: a target edit there is a change to carry, not drift).
    pub fn paths(&self, entity: Entity) -> Vec<String> {
        self.by_entity
            .get(&entity)
            .map(|s| s.iter().map(|s| s.path.clone()).collect())
            .unwrap_or_default()
    }
}

/// One item whose two-way fields are classified.
#[derive(Debug)]
pub struct Candidate {
    /// Read its current state first.
    read: bool,
    /// The ledger's field hashes (the values last synced).
    hashes: FieldHashes,
    /// `mapsync resolve` choices by diff path.
    resolved: BTreeMap<String, Side>,
    /// The target's updated-at (reduced read).
    target_updated: Option<String>,
}

/// The items of a plan whose two-way fields are classified, by change
/// index.
#[derive(Debug, Default)]
pub struct Candidates {
    items: BTreeMap<usize, Candidate>,
}

impl Candidates {
    /// The unchanged items among them to compile documents for: those to
    /// read (an unchanged item not read has nothing to carry).
    pub fn unchanged_refs(
        &self,
        plan: &Plan,
        input: &ReconcileInput<SpooledItem>,
    ) -> Vec<reconcile::DocRef> {
        reconcile::unchanged_refs(plan, input)
            .into_iter()
            .filter(|r| self.items.get(&r.change).is_some_and(|c| c.read))
            .collect()
    }
}

/// The `mapsync resolve` choices recorded for the two-way entities, as a
/// text that changes whenever one is recorded or cleared (part of the
/// sync manager's plan memo key: a choice releases a held item).
pub async fn resolutions_digest(
    store: &mapsync_statedb::StateDb,
    channel: &str,
    fields: &TwoWayFields,
) -> Result<String, PlanError> {
    let mut out = String::new();
    for entity in fields.by_entity.keys() {
        for r in store.resolutions(channel, *entity, None).await? {
            out.push_str(&format!(
                "{}:{}:{}:{}:{};",
                entity.as_str(),
                r.key,
                r.field,
                r.take.as_str(),
                r.recorded_at.unix_timestamp_nanos()
            ));
        }
    }
    Ok(out)
}

/// Seconds since 1970 of an RFC 3339 instant.
fn seconds(text: &str) -> Option<i64> {
    mapsync_plan::two_way::seconds(text)
}

/// The items of entities with two-way fields that exist on both sides
/// (updates and unchanged items), with what classifying them needs from
/// the state store.
pub async fn candidates(
    plan: &Plan,
    input: &ReconcileInput<SpooledItem>,
    fields: &TwoWayFields,
    states: &mapsync_statedb::StatePool,
    channel: &str,
    full: bool,
) -> Result<Candidates, PlanError> {
    use reconcile::Action as A;
    let mut out = Candidates::default();
    if fields.is_empty() {
        return Ok(out);
    }
    let store = states.take()?;
    let result = async {
        for e in &input.entities {
            let Some(specs) = fields.by_entity.get(&e.entity) else {
                continue;
            };
            let updated: HashMap<&str, Option<&str>> = e
                .target
                .iter()
                .map(|t| (t.id.as_str(), t.updated_at.as_deref()))
                .collect();
            let picked: Vec<(usize, String, String)> = plan
                .changes
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.entity == e.entity && matches!(c.action, A::Update | A::Unchanged)
                })
                .filter_map(|(i, c)| Some((i, c.key.clone()?, c.target_id.clone()?)))
                .collect();
            if picked.is_empty() {
                continue;
            }
            let keys: Vec<String> = picked.iter().map(|p| p.1.clone()).collect();
            let mut hashes = store.field_hashes(channel, e.entity, keys.clone()).await?;
            let mut resolved: HashMap<String, BTreeMap<String, Side>> = HashMap::new();
            for r in store.resolutions(channel, e.entity, Some(keys)).await? {
                resolved.entry(r.key).or_default().insert(r.field, r.take);
            }
            for (i, key, id) in picked {
                let target_updated = updated.get(id.as_str()).copied().flatten();
                let synced = e.ledger.get(&key).and_then(|r| r.sync_date);
                let item_hashes = hashes.remove(&key);
                let edited = match (target_updated.and_then(seconds), synced) {
                    (Some(t), Some(s)) => t > s.unix_timestamp(),
                    _ => true,
                };
                let unsynced = |h: &FieldHashes| {
                    specs.iter().any(|s| {
                        s.policy.direction == Direction::ToSource
                            && !h.contains_key(&mapsync_core::diff::field_key(&s.path))
                    })
                };
                let read = full
                    || edited
                    || item_hashes
                        .as_ref()
                        .is_none_or(|h| h.is_empty() || unsynced(h));
                out.items.insert(
                    i,
                    Candidate {
                        read,
                        hashes: item_hashes.unwrap_or_default(),
                        resolved: resolved.remove(&key).unwrap_or_default(),
                        target_updated: target_updated.map(str::to_string),
                    },
                );
            }
        }
        Ok::<_, PlanError>(())
    }
    .await;
    states.give(store);
    result?;
    Ok(out)
}

/// Classifies the candidates' two-way fields and decides their changes.
/// `documents` are the spooled documents and `doc_changes` the change
/// index of each, in order; the target is read for the candidates that
/// need it, a batch at a time.
pub async fn classify(
    plan: &mut Plan,
    documents: &mapsync_plan::spool::DocumentSpool,
    doc_changes: &[usize],
    target: &dyn TargetWrite,
    fields: &TwoWayFields,
    candidates: &Candidates,
) -> Result<(), PlanError> {
    let rules = target.capabilities().compare;
    let mut batch: Vec<(usize, String, mapsync_plan::reconcile::PlannedDocument)> = Vec::new();
    let mut decided: Vec<(usize, Vec<mapsync_core::diff::TwoWayField>)> = Vec::new();
    let policies_of = |i: usize, doc: &mapsync_plan::reconcile::PlannedDocument| {
        let c = candidates.items.get(&i)?;
        let specs = fields.by_entity.get(&doc.document.entity)?;
        let newest = mapsync_plan::two_way::newest_side(
            doc.control.updated_at.as_deref(),
            c.target_updated.as_deref(),
        );
        Some(mapsync_plan::two_way::policies(specs, newest, &c.resolved))
    };
    let flush = |batch: &mut Vec<(usize, String, mapsync_plan::reconcile::PlannedDocument)>| {
        let batch = std::mem::take(batch);
        async move {
            let Some(first) = batch.first() else {
                return Ok::<_, PlanError>(Vec::new());
            };
            let ids: Vec<String> = batch.iter().map(|b| b.1.clone()).collect();
            let read = target
                .read_current(first.2.document.entity, &ids)
                .await
                .map_err(EngineError::from)?;
            let by_id: HashMap<&str, &mapsync_core::current::Current> =
                read.iter().map(|c| (c.id.as_str(), c)).collect();
            let mut out = Vec::new();
            for (i, id, doc) in &batch {
                let (Some(cur), Some(c), Some(p)) = (
                    by_id.get(id.as_str()),
                    candidates.items.get(i),
                    policies_of(*i, doc),
                ) else {
                    continue;
                };
                let found =
                    mapsync_core::diff::two_way(&doc.document, Some(cur), &rules, &c.hashes, &p);
                out.push((*i, found));
            }
            Ok(out)
        }
    };
    for (doc, i) in documents.iter().zip(doc_changes.iter().copied()) {
        let Some(c) = candidates.items.get(&i) else {
            continue;
        };
        let doc = doc.map_err(PlanError::from)?;
        let Some(id) = plan.changes.get(i).and_then(|ch| ch.target_id.clone()) else {
            continue;
        };
        if c.read {
            if batch
                .last()
                .is_some_and(|b| b.2.document.entity != doc.document.entity)
                || batch.len() >= READ_BATCH
            {
                decided.extend(flush(&mut batch).await?);
            }
            batch.push((i, id, doc));
            continue;
        }
        if let Some(p) = policies_of(i, &doc) {
            let found = mapsync_core::diff::two_way(&doc.document, None, &rules, &c.hashes, &p);
            decided.push((i, found));
        }
    }
    decided.extend(flush(&mut batch).await?);
    for (i, mut found) in decided {
        let Some(change) = plan.changes.get_mut(i) else {
            continue;
        };
        let Some(specs) = fields.by_entity.get(&change.entity) else {
            continue;
        };
        let Some(c) = candidates.items.get(&i) else {
            continue;
        };
        mapsync_plan::two_way::settle(&mut found, &c.hashes);
        let policies = mapsync_plan::two_way::policies(specs, None, &c.resolved);
        mapsync_plan::two_way::attach(change, found, specs, &policies);
        // What is pulled stays in the target: no diff line pushes it.
        let taken: Vec<String> = change.pulls().map(|e| e.field.clone()).collect();
        change.diff.retain(|d| !taken.contains(&d.path));
    }
    Ok(())
}
