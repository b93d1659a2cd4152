//! `match:` (two-way.md, "Matching by a shared identifier"): before the
//! rules decide, the items that would be created — no ledger row with a
//! target id, no SyncID in the record, no target item carrying their key
//! as ownership marker — are looked up in the target by their identifier,
//! in batches, through [`Target::find_by`]. What is found goes to the
//! reconcile ([`EntityInput::matched`]), which links an item found once
//! and reports one found twice as a conflict. Only would-be creates cost
//! requests: once linked, an item is found by the ledger and its marker,
//! so the next run sends no lookup.

use std::collections::{HashMap, HashSet};

use mapsync_config::check::model::MappingSet;
use mapsync_core::current::TargetItem;
use mapsync_core::target::Target;
use mapsync_core::Entity;
use mapsync_plan::reconcile::{EntityInput, ItemView, Matched};

use crate::engine::{EngineError, PlanError};

/// Values one [`Target::find_by`] call is given (the connector splits
/// them further as its API needs).
const BATCH: usize = 250;

/// Fills [`EntityInput::matched`] of every entity whose mapping has
/// `match:`, and adds the target items found that the reduced catalog
/// lacks (read between the two) to the entity's target items.
pub(crate) async fn find_matches<I: ItemView>(
    set: &MappingSet,
    target: &dyn Target,
    entities: &mut [EntityInput<I>],
) -> Result<(), PlanError> {
    for e in entities.iter_mut() {
        let mapping = match e.entity {
            Entity::Category => set.category.as_ref(),
            Entity::Product => set.product.as_ref(),
        };
        let Some(spec) = mapping.and_then(|m| m.matching.as_ref()) else {
            continue;
        };
        let wanted = would_be_created(e);
        let mut values: Vec<&str> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for (_, vals) in &wanted {
            for v in vals.iter() {
                if seen.insert(v.as_str()) {
                    values.push(v.as_str());
                }
            }
        }
        if values.is_empty() {
            continue;
        }
        let mut found: HashMap<String, Vec<TargetItem>> = HashMap::new();
        for chunk in values.chunks(BATCH) {
            let chunk: Vec<String> = chunk.iter().map(|v| v.to_string()).collect();
            let hits = target
                .find_by(e.entity, &spec.target, &chunk)
                .await
                .map_err(EngineError::from)?;
            for (value, item) in hits {
                let list = found.entry(value).or_default();
                if !list.iter().any(|t| t.id == item.id) {
                    list.push(item);
                }
            }
        }
        tracing::info!(
            entity = e.entity.as_str(),
            field = spec.target.as_str(),
            values = values.len(),
            found = found.len(),
            "match: looked up the items that would be created"
        );
        let mut matched = Matched {
            field: spec.target.clone(),
            hits: HashMap::new(),
        };
        for (key, vals) in wanted {
            let hits: Vec<(String, String)> = vals
                .iter()
                .flat_map(|v| {
                    found
                        .get(v.as_str())
                        .into_iter()
                        .flatten()
                        .map(move |t| (v.clone(), t.id.clone()))
                })
                .collect();
            if !hits.is_empty() {
                matched.hits.insert(key, hits);
            }
        }
        let known: HashSet<String> = e.target.iter().map(|t| t.id.clone()).collect();
        let mut added: HashSet<String> = HashSet::new();
        for item in found.into_values().flatten() {
            if !known.contains(&item.id) && added.insert(item.id.clone()) {
                e.target.push(item);
            }
        }
        e.matched = matched;
    }
    Ok(())
}

/// The well-keyed compiled items with match values and no target item
/// yet, selected for the target: (key, values). A deselected record is
/// not looked up (it is never linked, so no store item is deleted for it).
fn would_be_created<I: ItemView>(e: &EntityInput<I>) -> Vec<(String, Vec<String>)> {
    let markers: HashSet<&str> = e
        .target
        .iter()
        .filter_map(|t| t.marker.as_deref())
        .filter(|m| !m.is_empty())
        .collect();
    e.items
        .iter()
        .filter_map(|it| {
            let (control, _) = it.compiled()?;
            let key = it.key()?;
            if control.matches.is_empty()
                || control.selected == Some(false)
                || control
                    .sync_id
                    .as_deref()
                    .is_some_and(|v| !v.trim().is_empty())
                || e.ledger
                    .get(key)
                    .and_then(|r| r.target_id.as_deref())
                    .is_some_and(|v| !v.is_empty())
                || markers.contains(key)
            {
                return None;
            }
            Some((key.to_string(), control.matches.clone()))
        })
        .collect()
}
